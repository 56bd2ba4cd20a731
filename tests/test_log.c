/* Tests for log: the timestamp every log line, ticket and profile link
 * carries is what gmtime_r and strftime write, across the calendar's edges,
 * and times outside the supported years are held at its ends; the log
 * writer keeps lines whole and in order, and a stderr that stalls blocks
 * no one who logs: what the ring cannot hold is dropped and counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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


/* Points fd 2 at fd; returns a copy of the old fd 2 to put back. */
static int stderr_to(int fd)
{
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	return saved;
}

static void stderr_back(int saved)
{
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
}

/* Checks that text is whole lines, each either {"ts":...,"event":"n",
 * "i":k} with k rising (by one each when contiguous), a log_dropped line
 * or one the test wrote ("event":"pad"), and that the kept and the
 * dropped add up to total. Returns the lines kept. */
static int check_lines(char *text, int total, bool contiguous)
{
	static const char n_at[] = "\"event\":\"n\",\"i\":";
	static const char d_at[] = "\"event\":\"log_dropped\",\"lines\":";
	int kept = 0, dropped = 0, last = -1;
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';
		assert_memory_equal(line, "{\"ts\":\"", 7);
		assert_int_equal(nl[-1], '}');
		if (strstr(line, "\"event\":\"pad\""))
			continue; /* written by the test itself */
		const char *i = strstr(line, n_at);
		const char *d = strstr(line, d_at);
		assert_true((i != NULL) != (d != NULL));
		if (i) {
			int v = atoi(i + sizeof(n_at) - 1);
			if (contiguous)
				assert_int_equal(v, last + 1);
			assert_true(v > last);
			last = v;
			kept++;
		} else {
			dropped += atoi(d + sizeof(d_at) - 1);
		}
	}
	assert_int_equal(kept + dropped, total);
	return kept;
}

static void log_i(const char *level, int i)
{
	char m[32];
	int len = snprintf(m, sizeof(m), "\"i\":%d", i);
	log_event_json(level, "n", m, (size_t)len);
}

static void log_n(int from, int to)
{
	for (int i = from; i < to; i++)
		log_i("info", i);
}

/* Points fd 2 at a new temporary file; returns the old fd 2 to put back
 * and the file in *f. */
static int stderr_to_file(FILE **f)
{
	*f = tmpfile();
	assert_non_null(*f);
	return stderr_to(fileno(*f));
}

/* What the file holds, NUL-terminated, to free; closes it. */
static char *read_file(FILE *f)
{
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	assert_true(size >= 0);
	char *text = malloc((size_t)size + 1);
	assert_non_null(text);
	rewind(f);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	text[size] = '\0';
	fclose(f);
	return text;
}

static void test_writer_keeps_lines_whole_and_in_order(void **state)
{
	(void)state;
	FILE *f;
	int saved = stderr_to_file(&f);
	/* A small ring, filled and written out many times over: lines that
	 * wrap around its end come out whole. Lines come in bursts, with time
	 * for the writer between them; should the ring still turn some away,
	 * the writer says how many. */
	assert_int_equal(log_start(4096), 0);
	for (int i = 0; i < 3000; i += 20) {
		log_n(i, i + 20);
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	log_stop();
	stderr_back(saved);
	char *text = read_file(f);
	int kept = check_lines(text, 3000, false);
	assert_true(kept > 0);
	free(text);
}

struct drain {
	int fd;
	char *buf;
	size_t len, cap;
};

static void *drain_pipe(void *arg)
{
	struct drain *d = arg;
	for (;;) {
		if (d->len + 4096 > d->cap) {
			d->cap = d->cap ? d->cap * 2 : 65536;
			d->buf = realloc(d->buf, d->cap + 1);
			if (!d->buf)
				return NULL;
		}
		ssize_t n = read(d->fd, d->buf + d->len, 4096);
		if (n <= 0)
			break;
		d->len += (size_t)n;
	}
	d->buf[d->len] = '\0';
	return NULL;
}

/* Points fd 2 at a pipe that holds one page (4,096 bytes) and that no one
 * reads yet; returns the old fd 2 to put back, and the read end in *rd. */
static int stderr_to_small_pipe(int *rd)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 0);
	int saved = stderr_to(p[1]);
	close(p[1]);
	*rd = p[0];
	return saved;
}

/* Reads the pipe from rd while the log writer stops, then puts fd 2 back
 * (the pipe's last write end: the reader sees its end). Returns what was
 * read, NUL-terminated, to free. */
static char *read_while_stopping(int rd, int saved)
{
	struct drain d = { .fd = rd };
	pthread_t reader;
	assert_int_equal(pthread_create(&reader, NULL, drain_pipe, &d), 0);
	log_stop();
	stderr_back(saved);
	pthread_join(reader, NULL);
	close(rd);
	assert_non_null(d.buf);
	return d.buf;
}

static void test_stalled_stderr_blocks_no_one(void **state)
{
	(void)state;
	/* No one reads the pipe yet: the writer blocks on its first write. */
	int rd;
	int saved = stderr_to_small_pipe(&rd);
	assert_int_equal(log_start(16384), 0);
	/* 2,000 lines, 140 KB: far more than the pipe and the ring hold.
	 * Were a call to wait for stderr, this would never return. */
	log_n(0, 2000);
	char *out = read_while_stopping(rd, saved);
	/* The lines that found room, in order from the first, and how many
	 * did not. */
	int kept = check_lines(out, 2000, true);
	assert_true(kept > 0);
	assert_true(kept < 2000);
	free(out);
}

/* Waits until the pipe holds n bytes (the writer wrote them). */
static void wait_pipe_holds(int fd, int n)
{
	int have = -1;
	for (int tries = 0; tries < 10000 && have != n; tries++) {
		assert_int_equal(ioctl(fd, FIONREAD, &have), 0);
		if (have != n)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	assert_int_equal(have, n);
}

/* The count of dropped lines is told only where a line ends: the writer
 * writes the ring in two chunks where it wraps, and the first may end in
 * the middle of a line. Set up so that it does, with lines dropped: a
 * ring of 4,096 bytes that starts 2,438 bytes in (lines 0-35 written),
 * a pipe with room for 218 more bytes, and 100 lines more than the ring
 * holds; then the pipe is read. */
static void test_dropped_told_between_lines(void **state)
{
	(void)state;
	int rd;
	int saved = stderr_to_small_pipe(&rd);
	assert_int_equal(log_start(4096), 0);
	/* 10 lines of 67 bytes, 26 of 68; the last a warning, which the
	 * writer writes out at once, with all before it. */
	log_n(0, 35);
	log_i("warn", 35);
	wait_pipe_holds(rd, 2438);
	static const char pad[] = "{\"ts\":\"\",\"event\":\"pad\"}\n";
	for (int k = 0; k < 60; k++)
		assert_int_equal(write(STDERR_FILENO, pad, sizeof(pad) - 1), (ssize_t)sizeof(pad) - 1);
	/* Lines 36-59 fill the ring to its end (24 of 68 bytes: 1,632 of
	 * 1,658), line 60 wraps; the writer blocks on the pipe. */
	log_n(36, 136);
	char *out = read_while_stopping(rd, saved);
	int kept = check_lines(out, 136, true);
	assert_true(kept > 36 && kept < 136);
	free(out);
}

/* A line longer than the whole ring is dropped with the ring empty, and
 * nothing after it: it is still told. */
static void test_line_longer_than_the_ring_is_told(void **state)
{
	(void)state;
	FILE *f;
	int saved = stderr_to_file(&f);
	assert_int_equal(log_start(4096), 0);
	static char members[6000];
	memset(members, 'x', sizeof(members));
	memcpy(members, "\"big\":\"", 7);
	members[sizeof(members) - 1] = '"';
	log_event_json("info", "big", members, sizeof(members));
	log_stop();
	stderr_back(saved);
	char *text = read_file(f);
	assert_non_null(strstr(text, "\"event\":\"log_dropped\",\"lines\":1}\n"));
	assert_null(strstr(text, "\"big\""));
	free(text);
}

/* Waits until the file holds n bytes (the writer wrote them). */
static void wait_file_holds(FILE *f, off_t n)
{
	struct stat st = { 0 };
	for (int tries = 0; tries < 10000; tries++) {
		assert_int_equal(fstat(fileno(f), &st), 0);
		if (st.st_size >= n)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	assert_int_equal(st.st_size, n);
}

/* A write that fails partway through a line (here at the file size limit,
 * as on a full disk) leaves a piece of that line on stderr. The next line
 * written, by the writer or (stopped_first) at once after log_stop, still
 * starts a line of its own, and each line not written whole counts as
 * dropped. Lines 0-9 are 67 bytes, the rest 68. */
static void tear_then_log(bool stopped_first)
{
	FILE *f;
	int saved = stderr_to_file(&f);
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(log_start(4096), 0);
	uint64_t before = log_dropped_total();
	log_n(0, 10);
	log_i("warn", 10);
	wait_file_holds(f, 738);
	/* Room for line 11 and 32 bytes of line 12. */
	low = old;
	low.rlim_cur = 738 + 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
	log_n(11, 20);
	log_i("warn", 20);
	for (int tries = 0; tries < 10000 && log_dropped_total() - before < 9; tries++)
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	if (stopped_first)
		log_stop();
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	log_n(21, 30);
	log_i("warn", 30);
	log_stop();
	signal(SIGXFSZ, was);
	stderr_back(saved);
	assert_int_equal(log_dropped_total() - before, 9);

	/* Whole lines 0-11, the piece of line 12 as a line of its own, whole
	 * lines 21-30. */
	char *text = read_file(f);
	int whole = 0, pieces = 0, next = 0;
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';
		assert_memory_equal(line, "{\"ts\":\"", 7);
		if (nl - line == 32) {
			assert_int_equal(next, 12);
			pieces++;
			next = 21;
			continue;
		}
		assert_null(strstr(line + 1, "{\"ts\":"));
		const char *i = strstr(line, "\"i\":");
		assert_non_null(i);
		assert_int_equal(atoi(i + 4), next++);
		whole++;
	}
	assert_int_equal(pieces, 1);
	assert_int_equal(whole, 22);
	free(text);
}

static void test_failed_write_glues_no_line_on(void **state)
{
	(void)state;
	tear_then_log(false);
}

static void test_failed_write_glues_no_line_on_after_stop(void **state)
{
	(void)state;
	tear_then_log(true);
}

static void test_stop_gives_up_on_a_stalled_stderr(void **state)
{
	(void)state;
	int rd;
	int saved = stderr_to_small_pipe(&rd);
	assert_int_equal(log_start(16384), 0);
	log_n(0, 2000);
	/* No one reads: the writer is stuck, and log_stop gives up on it
	 * rather than keep a stopping server from exiting. */
	log_stop();
	assert_int_equal(log_start(16384), -1);
	/* Once the pipe breaks, the writer ends, and is reaped. */
	int null = open("/dev/null", O_WRONLY);
	assert_true(null >= 0);
	assert_true(dup2(null, STDERR_FILENO) >= 0);
	close(null);
	close(rd);
	log_stop();
	assert_int_equal(log_start(16384), 0);
	log_stop();
	stderr_back(saved);
}

static int count_of(const char *text, const char *what)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* A message repeated in a tight loop is written once a second at most,
 * the next line saying how many were left out; another message is
 * written at once, and so is the first again after it. */
static void test_repeating_message_once_a_second(void **state)
{
	(void)state;
	FILE *f;
	int saved = stderr_to_file(&f);
	for (int i = 0; i < 1000; i++)
		log_repeating("error", "lws", "accept: errno 24\n", 16);
	usleep(1100 * 1000);
	log_repeating("error", "lws", "accept: errno 24\n", 16);
	log_repeating("warn", "lws", "other", 5);
	log_repeating("error", "lws", "accept: errno 24\n", 16);
	fflush(stderr);
	stderr_back(saved);
	char *out = read_file(f);
	assert_int_equal(count_of(out, "\n"), 4);
	assert_int_equal(count_of(out, "\"message\":\"accept: errno 24\""), 3);
	assert_int_equal(count_of(out, "\"repeated\":999}"), 1);
	assert_int_equal(count_of(out, "\"repeated\""), 1);
	assert_non_null(strstr(out, "\"level\":\"warn\",\"event\":\"lws\",\"message\":\"other\"}"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges_of_days_months_and_years),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_outside_the_supported_years),
		cmocka_unit_test(test_writer_keeps_lines_whole_and_in_order),
		cmocka_unit_test(test_stalled_stderr_blocks_no_one),
		cmocka_unit_test(test_dropped_told_between_lines),
		cmocka_unit_test(test_line_longer_than_the_ring_is_told),
		cmocka_unit_test(test_failed_write_glues_no_line_on),
		cmocka_unit_test(test_failed_write_glues_no_line_on_after_stop),
		cmocka_unit_test(test_stop_gives_up_on_a_stalled_stderr),
		cmocka_unit_test(test_repeating_message_once_a_second),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
