/* Tests for buf: arrays grow to what is asked and keep what they held;
 * strings keep their offsets as the pool moves; sizes past 32 bits are
 * refused, not wrapped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void test_grow_keeps_contents(void **state)
{
	(void)state;
	int *a = NULL;
	uint32_t cap = 0;
	for (uint32_t n = 0; n < 1000; n++) {
		void *p = a;
		assert_int_equal(buf_grow(&p, &cap, n + 1, sizeof(*a)), 0);
		a = p;
		assert_true(cap >= n + 1);
		a[n] = (int)n * 7;
	}
	for (uint32_t n = 0; n < 1000; n++)
		assert_int_equal(a[n], (int)n * 7);
	/* Doubling: a thousand elements took a few reallocations. */
	assert_int_equal(cap, 1024);
	free(a);
}

static void test_grow_with_room_is_a_no_op(void **state)
{
	(void)state;
	void *p = NULL;
	uint32_t cap = 0;
	assert_int_equal(buf_grow(&p, &cap, 10, 8), 0);
	void *was = p;
	uint32_t had = cap;
	assert_int_equal(buf_grow(&p, &cap, had, 8), 0);
	assert_ptr_equal(p, was);
	assert_int_equal(cap, had);
	free(p);
}

static void test_grow_refuses_past_32_bits(void **state)
{
	(void)state;
	void *p = NULL;
	uint32_t cap = 0;
	assert_int_equal(buf_grow(&p, &cap, 4, 1), 0);
	void *was = p;
	assert_int_equal(buf_grow(&p, &cap, UINT32_MAX, 1), -1);
	assert_ptr_equal(p, was);
	assert_int_equal(cap, 16);
	/* Elements so large the bytes would not fit a size_t: 2^20 of them
	 * would wrap to 1 MiB. */
	assert_int_equal(buf_grow(&p, &cap, 1u << 20, (SIZE_MAX >> 20) + 2), -1);
	assert_int_equal(cap, 16);
	free(p);
}

static void test_strings_keep_their_offsets(void **state)
{
	(void)state;
	struct buf_strs b = { 0 };
	uint32_t off[500];
	char s[32];
	for (int i = 0; i < 500; i++) {
		int n = snprintf(s, sizeof(s), "word %d", i);
		assert_int_equal(buf_strs_add(&b, s, (size_t)n, &off[i]), 0);
	}
	for (int i = 0; i < 500; i++) {
		snprintf(s, sizeof(s), "word %d", i);
		assert_string_equal(b.s + off[i], s);
	}
	/* A string is copied up to n, not to a NUL, and gets one of its own. */
	uint32_t o;
	assert_int_equal(buf_strs_add(&b, "solar panel", 5, &o), 0);
	assert_string_equal(b.s + o, "solar");
	assert_int_equal(buf_strs_add(&b, "", 0, &o), 0);
	assert_string_equal(b.s + o, "");
	assert_int_equal(b.len, o + 1);
	free(b.s);
}

static void test_strings_refuse_past_32_bits(void **state)
{
	(void)state;
	/* A pool this full is never allocated here: the size is refused
	 * before any memory is touched. */
	struct buf_strs b = { .s = NULL, .len = UINT32_MAX - 4, .cap = 0 };
	uint32_t o = 123;
	assert_int_equal(buf_strs_add(&b, "abcd", 4, &o), -1);
	assert_int_equal(b.len, UINT32_MAX - 4);
	assert_null(b.s);
	assert_int_equal(o, 123);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_keeps_contents),
		cmocka_unit_test(test_grow_with_room_is_a_no_op),
		cmocka_unit_test(test_grow_refuses_past_32_bits),
		cmocka_unit_test(test_strings_keep_their_offsets),
		cmocka_unit_test(test_strings_refuse_past_32_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
