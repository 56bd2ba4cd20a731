/* Tests for ld: a loading error names the file and the line, and never
 * writes past the caller's buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ld.h"

static void test_names_file_and_line(void **state)
{
	(void)state;
	char err[128];
	struct ld_pos p = { .file = "en.txt", .line = 7, .err = err, .errlen = sizeof(err) };
	assert_int_equal(ld_fail(&p, "unknown key [%s] (%d)", "greting", 3), -1);
	assert_string_equal(err, "en.txt:7: unknown key [greting] (3)");
}

static void test_small_buffer(void **state)
{
	(void)state;
	char err[12];
	memset(err, 'X', sizeof(err));
	struct ld_pos p = { .file = "rules.txt", .line = 120, .err = err, .errlen = 8 };
	assert_int_equal(ld_fail(&p, "%s", "a long sentence about what went wrong"), -1);
	assert_string_equal(err, "rules.t");
	assert_int_equal(err[8], 'X');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_file_and_line),
		cmocka_unit_test(test_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
