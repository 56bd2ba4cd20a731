/* Tests for ld: a loading error names the file and the line, and never
 * writes past the caller's buffer; ld_gets reads whole lines, counts
 * them, and refuses what fgets would cut or split without a word. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
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

/* A file of len bytes of text, read back by ld_gets. */
static FILE *file_of(const char *text, size_t len)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	rewind(f);
	return f;
}

static void test_gets_lines(void **state)
{
	(void)state;
	char err[128], buf[8];
	struct ld_pos p = { .file = "en.txt", .err = err, .errlen = sizeof(err) };
	FILE *f = file_of("ab\n\nlast", 8);
	assert_int_equal(ld_gets(&p, f, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "ab");
	/* An empty line is a line. */
	assert_int_equal(ld_gets(&p, f, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "");
	/* The last line needs no newline. */
	assert_int_equal(ld_gets(&p, f, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "last");
	assert_int_equal(p.line, 3);
	assert_int_equal(ld_gets(&p, f, buf, sizeof(buf)), 0);
	assert_int_equal(p.line, 3);
	fclose(f);
}

static void test_gets_refuses_nul_and_long_lines(void **state)
{
	(void)state;
	char err[128], buf[8];
	struct ld_pos p = { .file = "en.txt", .err = err, .errlen = sizeof(err) };
	/* fgets would take "ab" and a line end for a line too long. */
	FILE *f = file_of("ok\nab\0cd\n", 9);
	assert_int_equal(ld_gets(&p, f, buf, sizeof(buf)), 1);
	assert_int_equal(ld_gets(&p, f, buf, sizeof(buf)), -1);
	assert_string_equal(err, "en.txt:2: a NUL byte at column 3");
	fclose(f);

	/* Eight bytes of text do not fit buf: seven do, with or without a
	 * newline after them. */
	p.line = 0;
	f = file_of("12345678\n", 9);
	assert_int_equal(ld_gets(&p, f, buf, sizeof(buf)), -1);
	assert_string_equal(err, "en.txt:1: line longer than 7 bytes");
	fclose(f);
	p.line = 0;
	f = file_of("1234567\n1234567", 15);
	assert_int_equal(ld_gets(&p, f, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "1234567");
	assert_int_equal(ld_gets(&p, f, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "1234567");
	assert_int_equal(ld_gets(&p, f, buf, sizeof(buf)), 0);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_file_and_line),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_gets_lines),
		cmocka_unit_test(test_gets_refuses_nul_and_long_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
