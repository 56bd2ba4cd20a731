/* Tests for log: the timestamp every log line, ticket and profile link
 * carries is what gmtime_r and strftime write, across the calendar's edges,
 * and times outside the supported years are held at its ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* What the C library writes for t, with milliseconds when ms >= 0. */
static void reference(time_t t, long ms, char *out, size_t cap)
{
	struct tm tm;
	char when[32];
	assert_non_null(gmtime_r(&t, &tm));
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms >= 0)
		snprintf(out, cap, "%s.%03ldZ", when, ms);
	else
		snprintf(out, cap, "%sZ", when);
}

static void check(time_t t, long nsec)
{
	struct timespec ts = { .tv_sec = t, .tv_nsec = nsec };
	char want[64], got[LOG_UTC_MAX];
	reference(t, nsec / 1000000, want, sizeof(want));
	assert_int_equal(log_utc(got, &ts, true), 24);
	assert_string_equal(got, want);
	reference(t, -1, want, sizeof(want));
	assert_int_equal(log_utc(got, &ts, false), 20);
	assert_string_equal(got, want);
}

static void test_edges_of_days_months_and_years(void **state)
{
	(void)state;
	const time_t ts[] = {
		0,            /* 1970-01-01T00:00:00 */
		-1,           /* 1969-12-31T23:59:59: before the epoch */
		-86400,       /* 1969-12-31T00:00:00 */
		-2208988800,  /* 1900-01-01T00:00:00, the first supported */
		951782400,    /* 2000-02-29 */
		951868799,    /* 2000-02-29T23:59:59 */
		4107542400,   /* 2100-03-01, no 29 February before it */
		1795651199,   /* 2026-11-26T23:59:59 */
		253402300799, /* 9999-12-31T23:59:59, the last supported */
	};
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		check(ts[i], 0);
		check(ts[i], 999999999);
		check(ts[i], 1000000);
	}
}

/* Every few days and hours from 1900 to 9999. */
static void test_sweep(void **state)
{
	(void)state;
	for (time_t t = -2208988800; t < 253402300799; t += 86400 * 53 + 3607)
		check(t, (long)((t % 1000 + 1000) % 1000) * 1000000 + 12345);
}

static void test_outside_the_supported_years(void **state)
{
	(void)state;
	char got[LOG_UTC_MAX];
	struct timespec before = { .tv_sec = -2208988801, .tv_nsec = 500000000 };
	log_utc(got, &before, true);
	assert_string_equal(got, "1900-01-01T00:00:00.000Z");
	struct timespec after = { .tv_sec = 253402300800, .tv_nsec = 0 };
	log_utc(got, &after, true);
	assert_string_equal(got, "9999-12-31T23:59:59.999Z");
	struct timespec far = { .tv_sec = INT64_MAX, .tv_nsec = 0 };
	log_utc(got, &far, false);
	assert_string_equal(got, "9999-12-31T23:59:59Z");
	struct timespec early = { .tv_sec = INT64_MIN, .tv_nsec = 0 };
	log_utc(got, &early, false);
	assert_string_equal(got, "1900-01-01T00:00:00Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges_of_days_months_and_years),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_outside_the_supported_years),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
