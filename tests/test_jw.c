/* Tests for jw: what it writes is JSON that json-c reads back to the same
 * text, whatever the bytes; and a buffer too small is reported, never
 * overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jw.h"

static void test_members_and_arrays(void **state)
{
	(void)state;
	char buf[256];
	struct jw w;
	jw_init(&w, buf, sizeof(buf));
	jw_raw(&w, "{", 1);
	jw_key(&w, "n");
	jw_int(&w, -42);
	jw_key(&w, "ok");
	jw_bool(&w, true);
	jw_key(&w, "list");
	jw_raw(&w, "[", 1);
	for (int i = 0; i < 3; i++) {
		jw_item(&w, i == 0);
		jw_int(&w, i);
	}
	jw_raw(&w, "]", 1);
	jw_key(&w, "s");
	jw_cstr(&w, "x");
	jw_raw(&w, "}", 1);
	assert_false(w.full);
	assert_string_equal(buf, "{\"n\":-42,\"ok\":true,\"list\":[0,1,2],\"s\":\"x\"}");
	assert_int_equal(w.len, strlen(buf));
}

/* Every byte below 0x20, quotes, backslashes and UTF-8 survive a round
 * trip through json-c, and the short escapes are used where JSON has
 * them. */
static void test_string_escapes_round_trip(void **state)
{
	(void)state;
	char text[64];
	size_t n = 0;
	for (int c = 1; c < 0x20; c++)
		text[n++] = (char)c;
	memcpy(text + n, "\"\\/ æøå €", 14);
	n += 14;
	char buf[512];
	struct jw w;
	jw_init(&w, buf, sizeof(buf));
	jw_str(&w, text, n);
	assert_false(w.full);
	assert_non_null(strstr(buf, "\\n"));
	assert_non_null(strstr(buf, "\\t"));
	assert_non_null(strstr(buf, "\\u001f"));
	assert_non_null(strstr(buf, "\\\"\\\\/"));
	json_object *o = json_tokener_parse(buf);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_string));
	assert_int_equal(json_object_get_string_len(o), n);
	assert_memory_equal(json_object_get_string(o), text, n);
	json_object_put(o);
}

/* A NUL inside the text is a character like any other. */
static void test_string_with_nul(void **state)
{
	(void)state;
	char buf[32];
	struct jw w;
	jw_init(&w, buf, sizeof(buf));
	jw_str(&w, "a\0b", 3);
	assert_string_equal(buf, "\"a\\u0000b\"");
}

/* The byte-by-byte rule: what JSON must escape, and how. */
static size_t escape_ref(const unsigned char *text, size_t len, char *out)
{
	size_t n = 0;
	out[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char b = text[i];
		const char *short_ = b == '"' ? "\\\"" : b == '\\' ? "\\\\" : b == '\n' ? "\\n"
				   : b == '\t' ? "\\t" : b == '\r' ? "\\r" : b == '\b' ? "\\b"
				   : b == '\f' ? "\\f" : NULL;
		if (short_)
			n += (size_t)sprintf(out + n, "%s", short_);
		else if (b < 0x20)
			n += (size_t)sprintf(out + n, "\\u%04x", b);
		else
			out[n++] = (char)b;
	}
	out[n++] = '"';
	out[n] = '\0';
	return n;
}

static void check_escapes(const unsigned char *text, size_t len)
{
	char want[128], got[128];
	escape_ref(text, len, want);
	struct jw w;
	jw_init(&w, got, sizeof(got));
	jw_str(&w, (const char *)text, len);
	assert_false(w.full);
	assert_string_equal(got, want);
}

/* The string is read a word at a time: every byte value, alone or next to
 * one that must be escaped, is written as the byte-by-byte rule says at
 * every offset and every length around a word's edge. */
static void test_string_escapes_at_every_offset(void **state)
{
	(void)state;
	static const unsigned char specials[] = { '"', '\\', '\n', 0x01, 0x1f };
	for (int c = 0; c < 0x100; c++)
		for (size_t len = 1; len <= 19; len++)
			for (size_t at = 0; at < len; at++) {
				unsigned char text[20];
				memset(text, 'a', len);
				text[at] = (unsigned char)c;
				check_escapes(text, len);
				for (size_t k = 0; k < sizeof(specials); k++)
					for (size_t at2 = at + 1; at2 < len; at2++) {
						text[at2] = specials[k];
						check_escapes(text, len);
						text[at2] = 'a';
					}
			}
}

/* jw_int writes what "%lld" writes, the extremes included. */
static void test_int_as_printf(void **state)
{
	(void)state;
	long long vs[] = { 0, 1, -1, 9, 10, -10, 99, 100, 4096, -65535, 1234567890123LL,
			   LLONG_MAX, LLONG_MIN, LLONG_MIN + 1 };
	for (size_t k = 0; k < sizeof(vs) / sizeof(vs[0]); k++) {
		char want[32], got[32];
		snprintf(want, sizeof(want), "%lld", vs[k]);
		struct jw w;
		jw_init(&w, got, sizeof(got));
		jw_int(&w, vs[k]);
		assert_false(w.full);
		assert_string_equal(got, want);
	}
}

/* jw_fixed3 writes what "%.3f" writes: for scores (1 - e^-x, the
 * scorer's form), for a sweep of fractions, and for whole numbers. */
static void test_fixed3_as_printf(void **state)
{
	(void)state;
	for (int i = -2000; i <= 20000; i++) {
		/* i / 16.0 hits exact ties: both round them to even. */
		double vs[] = { i / 997.0, 1 - exp(-i / 1000.0), i, i / 16.0 };
		for (size_t k = 0; k < sizeof(vs) / sizeof(vs[0]); k++) {
			char want[64], got[64];
			snprintf(want, sizeof(want), "%.3f", vs[k]);
			struct jw w;
			jw_init(&w, got, sizeof(got));
			jw_fixed3(&w, vs[k]);
			assert_false(w.full);
			assert_string_equal(got, want);
		}
	}
}

/* Too small: marked full, nothing past the end, and what was written
 * stays a NUL-terminated string (its content is not to be used). */
static void test_full_buffer(void **state)
{
	(void)state;
	char buf[16];
	memset(buf, 'X', sizeof(buf));
	struct jw w;
	jw_init(&w, buf, 8);
	jw_cstr(&w, "abc");
	assert_false(w.full);
	jw_cstr(&w, "defgh");
	assert_true(w.full);
	jw_raw(&w, "y", 1); /* ignored once full, even though it would fit */
	assert_true(strlen(buf) < 8);
	assert_memory_equal(buf, "\"abc\"", 5);
	for (size_t i = 8; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'X');

	jw_init(&w, buf, 0);
	assert_true(w.full);
	jw_raw(&w, "z", 1);
	assert_int_equal(w.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members_and_arrays),
		cmocka_unit_test(test_string_escapes_round_trip),
		cmocka_unit_test(test_string_with_nul),
		cmocka_unit_test(test_string_escapes_at_every_offset),
		cmocka_unit_test(test_int_as_printf),
		cmocka_unit_test(test_fixed3_as_printf),
		cmocka_unit_test(test_full_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
