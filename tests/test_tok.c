/* Tests for tok: normalisation and word boundaries from a fixture table,
 * then the limits and flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tok.h"

static void test_fixture_cases(void **state)
{
	(void)state;
	FILE *f = fopen(FIXTURE_DIR "/tok_cases.txt", "r");
	assert_non_null(f);
	struct tok_buf b;
	assert_int_equal(tok_buf_init(&b, 4096), 0);
	char line[1024];
	int cases = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		char *bar = strstr(line, " | ");
		if (!bar)
			continue;
		*bar = '\0';
		char *want = bar + 3;
		want[strcspn(want, "\n")] = '\0';
		size_t len = tu_unescape(line);
		int rc = tok_run(&b, line, len);
		if (want[0] == '!') {
			int err = strcmp(want, "!utf8") == 0 ? -TOK_EUTF8 :
				  strcmp(want, "!nul") == 0 ? -TOK_ENUL : 0;
			if (!err || rc != err)
				fail_msg("\"%s\": expected %s, got %d", line, want, rc);
			assert_int_equal(b.n, 0);
		} else {
			if (rc != 0 || strcmp(b.norm, want) != 0)
				fail_msg("\"%s\": got rc %d \"%s\", want \"%s\"", line, rc, b.norm, want);
		}
		cases++;
	}
	fclose(f);
	tok_buf_free(&b);
	assert_true(cases >= 20);
}

static void test_spans_point_into_original(void **state)
{
	(void)state;
	struct tok_buf b;
	assert_int_equal(tok_buf_init(&b, 4096), 0);
	const char *text = "Wir ziehen am 1. März in die Hauptstraße 5";
	assert_int_equal(tok_run(&b, text, strlen(text)), 0);
	assert_int_equal(b.n, 10);
	assert_memory_equal(text + b.v[5].off, "März", b.v[5].len);
	assert_memory_equal(tok_norm(&b, 5), "marz", 4);
	assert_int_equal(b.v[5].nlen, 4);
	assert_int_equal(b.v[5].nchars, 4);
	assert_true(b.v[0].flags & TOK_F_CAP);
	assert_false(b.v[1].flags & TOK_F_CAP);
	assert_true(b.v[1].flags & TOK_F_SPACE);
	assert_false(b.v[1].flags & TOK_F_LINE);
	assert_int_equal(b.v[3].kind, TOK_NUM);
	assert_int_equal(b.v[4].kind, TOK_PUNCT);
	assert_int_equal(b.v[9].kind, TOK_NUM);
	tok_buf_free(&b);
}

/* A letter anywhere makes a word ("12b" is a house number with its letter,
 * "sun2000" an inverter), digits alone a number; slots and scoring tell
 * them apart by kind, and typo reading by the count of characters. */
static void test_kinds(void **state)
{
	(void)state;
	struct tok_buf b;
	assert_int_equal(tok_buf_init(&b, 4096), 0);
	const char *text = "12B SUN2000 2027 1,5 Grüße";
	assert_int_equal(tok_run(&b, text, strlen(text)), 0);
	assert_int_equal(b.n, 5);
	static const uint8_t kind[] = { TOK_WORD, TOK_WORD, TOK_NUM, TOK_NUM, TOK_WORD };
	static const uint16_t nchars[] = { 3, 7, 4, 3, 6 };
	for (uint32_t i = 0; i < b.n; i++) {
		assert_int_equal(b.v[i].kind, kind[i]);
		assert_int_equal(b.v[i].nchars, nchars[i]);
	}
	assert_string_equal(b.norm, "12b sun2000 2027 1,5 grusse");
	tok_buf_free(&b);
}

/* Slots read a line break as the end of a signature's sign-off line or
 * of a city: "Oslo\nTlf" is no city of two words. */
static void test_line_break_flag(void **state)
{
	(void)state;
	struct tok_buf b;
	assert_int_equal(tok_buf_init(&b, 4096), 0);
	const char *text = "Oslo \r\nTlf 5,\tMvh\u2028Kari";
	assert_int_equal(tok_run(&b, text, strlen(text)), 0);
	assert_int_equal(b.n, 6);
	assert_false(b.v[0].flags & TOK_F_LINE);
	assert_true(b.v[1].flags & TOK_F_LINE);
	assert_false(b.v[2].flags & TOK_F_LINE);
	assert_false(b.v[4].flags & TOK_F_LINE);
	assert_true(b.v[4].flags & TOK_F_SPACE);
	assert_true(b.v[5].flags & TOK_F_LINE);
	tok_buf_free(&b);
}

static void test_limit(void **state)
{
	(void)state;
	struct tok_buf b;
	assert_int_equal(tok_buf_init(&b, 16), 0);
	assert_int_equal(tok_run(&b, "0123456789abcdef", 16), 0);
	assert_int_equal(tok_run(&b, "0123456789abcdefg", 17), -TOK_ETOOLONG);
	assert_int_equal(b.n, 0);
	tok_buf_free(&b);
}

/* Ligatures and wide forms grow under NFKC; a message made of them must be
 * refused cleanly rather than overflow the normalised buffer. */
static void test_expansion_is_bounded(void **state)
{
	(void)state;
	struct tok_buf b;
	assert_int_equal(tok_buf_init(&b, 4096), 0);
	/* U+FDFA expands to 18 code points under compatibility mapping. */
	char text[4096];
	size_t n = 0;
	while (n + 3 <= sizeof(text)) {
		memcpy(text + n, "\xef\xb7\xba", 3);
		n += 3;
	}
	int rc = tok_run(&b, text, n);
	assert_true(rc == 0 || rc == -TOK_ENOSPACE);
	assert_true(b.nlen < b.ncap);
	tok_buf_free(&b);
}

static void test_fold(void **state)
{
	(void)state;
	char out[64];
	const char *addr = "Hauptstraße 5, Berlin";
	assert_int_equal(tok_fold(addr, strlen(addr), out, sizeof(out)),
			 (int)strlen("hauptstrasse 5 berlin"));
	assert_string_equal(out, "hauptstrasse 5 berlin");
	assert_int_equal(tok_fold("\xff", 1, out, sizeof(out)), -TOK_EUTF8);
	assert_int_equal(tok_fold("a long sentence", 15, out, 4), -TOK_ENOSPACE);
	assert_string_equal(tok_strerror(-TOK_EUTF8), "the text is not valid UTF-8");
	assert_string_equal(tok_strerror(-TOK_ENUL), "the text holds U+0000");
}

/* tok_utf8_fit cuts only between characters. */
static void test_utf8_fit(void **state)
{
	(void)state;
	const char *s = "a\xc3\xa6\xe2\x82\xac"; /* a, æ (2 bytes), € (3 bytes) */
	static const size_t want[] = { 0, 1, 1, 3, 3, 3, 6, 6 };
	for (size_t room = 0; room < sizeof(want) / sizeof(want[0]); room++)
		assert_int_equal(tok_utf8_fit(s, 6, room), want[room]);
	assert_int_equal(tok_utf8_fit(s, 3, 2), 1);
	assert_int_equal(tok_utf8_fit("", 0, 0), 0);
}

/* "F.13" is a code's number; "Fr.13.", "F. 13" and "F.1" (a number of
 * one letter's dot with a space) are not. */
static void test_code_dot(void **state)
{
	(void)state;
	struct tok_buf b;
	assert_int_equal(tok_buf_init(&b, 4096), 0);
	static const struct { const char *text; uint32_t i; bool code; } cases[] = {
		{ "Feil F.13 igjen", 3, true }, /* feil f . 13 igjen */
		{ "am Fr.13.3.", 3, false },    /* am fr . 13.3 . */
		{ "F. 13", 2, false },
		{ "F .13", 2, false },
		{ "F.13", 0, false },
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		assert_int_equal(tok_run(&b, cases[k].text, strlen(cases[k].text)), 0);
		if (tok_code_dot(&b, cases[k].i) != cases[k].code)
			fail_msg("\"%s\" token %u", cases[k].text, cases[k].i);
	}
	tok_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_cases),
		cmocka_unit_test(test_spans_point_into_original),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_line_break_flag),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_expansion_is_bounded),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_utf8_fit),
		cmocka_unit_test(test_code_dot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
