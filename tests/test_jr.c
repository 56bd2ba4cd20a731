/* Tests for jr: the frames it reads and those it leaves to json-c, from a
 * fixture table; every value it reads is checked against json-c's parse
 * of the same text, for the table and for many texts mutated from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jr.h"
#include "report.h"

static const char *const names[] = { "type", "id", "text", "session", "lang", "a", "b", "c" };
#define NNAMES (sizeof(names) / sizeof(names[0]))

static json_tokener *tok;

static int setup(void **state)
{
	(void)state;
	tok = report_tokener_new(REPORT_MAX_DEPTH);
	return tok ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_tokener_free(tok);
	return 0;
}

/* Reads in[0..n) with jr, a scratch buffer of n bytes as the server
 * gives it. Returns jr_flat's result. */
static int read_flat(const char *in, size_t n, struct jr_val v[NNAMES], char *scratch)
{
	return jr_flat(in, n, names, v, NNAMES, scratch, n);
}

/* Fails unless json-c accepts in[0..n) and holds what jr read in v. */
static void agree_with_jsonc(const char *in, size_t n, const struct jr_val v[NNAMES])
{
	const char *why;
	json_object *o = report_parse_object_tok(tok, in, n, &why, NULL);
	if (!o)
		fail_msg("jr read what json-c refuses (%s): %.*s", why, (int)n, in);
	for (size_t i = 0; i < NNAMES; i++) {
		json_object *x = NULL;
		enum jr_kind want = JR_ABSENT;
		if (json_object_object_get_ex(o, names[i], &x))
			want = json_object_is_type(x, json_type_null)	? JR_NULL :
			       json_object_is_type(x, json_type_string) ? JR_STRING :
			       json_object_is_type(x, json_type_int)	? JR_INT :
									  JR_OTHER;
		if (v[i].kind != want)
			fail_msg("\"%s\" of %.*s: jr kind %d, json-c %d", names[i], (int)n, in,
				 v[i].kind, want);
		if (want == JR_STRING &&
		    (v[i].len != (size_t)json_object_get_string_len(x) ||
		     memcmp(v[i].s, json_object_get_string(x), v[i].len) != 0))
			fail_msg("\"%s\" of %.*s: jr \"%.*s\", json-c \"%s\"", names[i], (int)n, in,
				 (int)v[i].len, v[i].s, json_object_get_string(x));
		if (want == JR_INT) {
			char digits[32];
			snprintf(digits, sizeof(digits), "%.*s", (int)v[i].len, v[i].s);
			if (strtoll(digits, NULL, 10) != json_object_get_int64(x))
				fail_msg("\"%s\" of %.*s: jr %s, json-c %lld", names[i], (int)n, in,
					 digits, (long long)json_object_get_int64(x));
		}
	}
	json_object_put(o);
}

static void test_fixture_cases(void **state)
{
	(void)state;
	FILE *f = fopen(FIXTURE_DIR "/jr_cases.txt", "r");
	assert_non_null(f);
	char line[1024], scratch[1024];
	int cases = 0;
	while (fgets(line, sizeof(line), f)) {
		char *bar = strstr(line, " | ");
		if (line[0] == '#' || !bar)
			continue;
		*bar = '\0';
		char *in = bar + 3;
		size_t n = strcspn(in, "\n");
		bool want_read = strcmp(line, "read") == 0;
		bool want_refused = strcmp(line, "refused") == 0;
		assert_true(want_read || want_refused || strcmp(line, "declined") == 0);
		struct jr_val v[NNAMES];
		int rc = read_flat(in, n, v, scratch);
		if ((rc == 0) != want_read)
			fail_msg("%.*s: jr_flat %d, want %s", (int)n, in, rc, line);
		if (rc == 0)
			agree_with_jsonc(in, n, v);
		if (want_refused) {
			const char *why = NULL;
			json_object *o = report_parse_object_tok(tok, in, n, &why, NULL);
			if (o)
				fail_msg("%.*s: the server's json-c parse takes it", (int)n, in);
		}
		cases++;
	}
	fclose(f);
	assert_true(cases >= 40);
}

/* What a frame's members read as: plain strings in place, escaped ones
 * unescaped into the scratch buffer, integers as written. */
static void test_values(void **state)
{
	(void)state;
	const char *in = "{\"type\":\"message\",\"id\":-12,\"text\":\"a\\\"b\\nc\",\"b\":true}";
	char scratch[128];
	struct jr_val v[NNAMES];
	assert_int_equal(jr_flat(in, strlen(in), names, v, NNAMES, scratch, sizeof(scratch)), 0);
	assert_int_equal(v[0].kind, JR_STRING);
	assert_ptr_equal(v[0].s, in + 9);
	assert_int_equal(v[0].len, 7);
	assert_int_equal(v[1].kind, JR_INT);
	assert_int_equal(v[1].len, 3);
	assert_memory_equal(v[1].s, "-12", 3);
	assert_int_equal(v[2].kind, JR_STRING);
	assert_ptr_equal(v[2].s, scratch);
	assert_int_equal(v[2].len, 5);
	assert_memory_equal(v[2].s, "a\"b\nc", 5);
	assert_int_equal(v[3].kind, JR_ABSENT);
	assert_null(v[3].s);
	assert_int_equal(v[6].kind, JR_OTHER);
	assert_int_equal(v[6].len, 4);
	assert_memory_equal(v[6].s, "true", 4);
}

/* Raw control characters may separate tokens as white space (tab, line
 * feed, carriage return) but never stand in a string; a NUL is nothing. */
static void test_raw_control_characters(void **state)
{
	(void)state;
	char scratch[64];
	struct jr_val v[NNAMES];
	const char ws[] = "\t{\r\n\"a\":\t1 }\n";
	assert_int_equal(jr_flat(ws, sizeof(ws) - 1, names, v, NNAMES, scratch, sizeof(scratch)), 0);
	const char *bad[] = { "{\"a\":\"x\ty\"}", "{\"a\":\"x\\n\ny\"}", "{\"a\x01\":1}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(jr_flat(bad[i], strlen(bad[i]), names, v, NNAMES, scratch,
					 sizeof(scratch)), -1);
	const char nul[] = "{\"a\":1}\0";
	assert_int_equal(jr_flat(nul, sizeof(nul) - 1, names, v, NNAMES, scratch, sizeof(scratch)),
			 -1);
	const char nul_in[] = "{\"a\":\"x\0y\"}";
	assert_int_equal(jr_flat(nul_in, sizeof(nul_in) - 1, names, v, NNAMES, scratch,
				 sizeof(scratch)), -1);
}

/* A scratch buffer too small for the escaped strings declines the frame
 * rather than writing past it. */
static void test_scratch_too_small(void **state)
{
	(void)state;
	const char *in = "{\"a\":\"xyz\\n\",\"b\":\"\\t\"}";
	char scratch[8];
	memset(scratch, '#', sizeof(scratch));
	struct jr_val v[NNAMES];
	assert_int_equal(jr_flat(in, strlen(in), names, v, NNAMES, scratch, 5), 0);
	memset(scratch, '#', sizeof(scratch));
	assert_int_equal(jr_flat(in, strlen(in), names, v, NNAMES, scratch, 4), -1);
	assert_int_equal(jr_flat(in, strlen(in), names, v, NNAMES, scratch, 3), -1);
	assert_int_equal(scratch[4], '#');
	const char *bare = "{\"a\":\"\\t\"}";
	assert_int_equal(jr_flat(bare, strlen(bare), names, v, NNAMES, NULL, 0), -1);
}

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Texts mutated from the frames jr reads (bytes replaced, inserted,
 * removed, from the characters JSON's syntax turns on): whatever jr
 * reads, json-c reads the same. Seeded, so a failure repeats. */
static void test_mutations_agree_with_jsonc(void **state)
{
	(void)state;
	static const char *seeds[] = {
		"{\"type\":\"message\",\"id\":\"m-1\",\"text\":\"Flytter 1. mars\"}",
		"{\"type\":\"message\",\"id\":42,\"text\":\"a \\\"b\\\" \\\\ c\\n\"}",
		"{\"type\":\"hello\",\"session\":null,\"lang\":\"de\",\"a\":true,\"b\":-0}",
		"{ \"c\" : false , \"text\" : \"\" }",
	};
	static const char alphabet[] = "{}[]\":,\\ \t\n-+.0123456789eEtrufalsnbx/";
	uint64_t rnd = 0x9e3779b97f4a7c15ULL;
	char buf[256], scratch[256];
	int read = 0, declined = 0;
	for (int iter = 0; iter < 200000; iter++) {
		const char *seed = seeds[iter % (sizeof(seeds) / sizeof(seeds[0]))];
		size_t n = strlen(seed);
		memcpy(buf, seed, n);
		for (int edits = 1 + (int)(next_rand(&rnd) % 3); edits > 0; edits--) {
			size_t at = n ? (size_t)(next_rand(&rnd) % n) : 0;
			char c = alphabet[next_rand(&rnd) % (sizeof(alphabet) - 1)];
			switch (next_rand(&rnd) % 3) {
			case 0:
				if (n)
					buf[at] = c;
				break;
			case 1:
				if (n + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, n - at);
					buf[at] = c;
					n++;
				}
				break;
			default:
				if (n) {
					memmove(buf + at, buf + at + 1, n - at - 1);
					n--;
				}
			}
		}
		struct jr_val v[NNAMES];
		if (read_flat(buf, n, v, scratch) == 0) {
			agree_with_jsonc(buf, n, v);
			read++;
		} else {
			declined++;
		}
	}
	/* Both ways are taken often, or the test proves little. */
	assert_true(read > 10000);
	assert_true(declined > 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_cases),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_raw_control_characters),
		cmocka_unit_test(test_scratch_too_small),
		cmocka_unit_test(test_mutations_agree_with_jsonc),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
