/* log: JSON lines on stderr. See include/log.h. */
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "slot.h"

/* Writes n digits of v into p. */
static void digits(char *p, unsigned v, int n)
{
	while (n--) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

size_t log_utc(char *out, const struct timespec *ts, bool ms)
{
	/* Floor division, so a time before 1970 counts back from midnight. */
	int64_t days = ts->tv_sec / 86400, secs = ts->tv_sec % 86400;
	long msec = ms ? ts->tv_nsec / 1000000 : 0;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	int32_t day = days < INT32_MIN ? INT32_MIN : days > INT32_MAX ? INT32_MAX : (int32_t)days;
	struct slot_date d = slot_date_from_days(day);
	/* Clamped to the first or last day: the first or last moment of it. */
	if (slot_date_days(d) != days) {
		bool after = days > slot_date_days(d);
		secs = after ? 86399 : 0;
		msec = after && ms ? 999 : 0;
	}
	memcpy(out, "0000-00-00T00:00:00.000Z", LOG_UTC_MAX);
	digits(out, (unsigned)d.y, 4);
	digits(out + 5, d.m, 2);
	digits(out + 8, d.d, 2);
	digits(out + 11, (unsigned)(secs / 3600), 2);
	digits(out + 14, (unsigned)(secs / 60 % 60), 2);
	digits(out + 17, (unsigned)(secs % 60), 2);
	if (!ms) {
		memcpy(out + 19, "Z", 2);
		return 20;
	}
	digits(out + 20, (unsigned)msec, 3);
	return 24;
}

/* A line being written: in place while it fits, on the heap beyond. */
struct line {
	char *p;
	size_t len, cap;
	bool failed; /* memory was short: the line is not written */
	char local[1024];
};

static void put_bytes(struct line *l, const char *s, size_t n)
{
	if (l->failed)
		return;
	if (l->len + n > l->cap) {
		size_t cap = l->cap * 2;
		while (cap < l->len + n)
			cap *= 2;
		char *p = malloc(cap);
		if (!p) {
			l->failed = true;
			return;
		}
		memcpy(p, l->p, l->len);
		if (l->p != l->local)
			free(l->p);
		l->p = p;
		l->cap = cap;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void put_str(struct line *l, const char *s)
{
	put_bytes(l, s, strlen(s));
}

/* Starts a line: {"ts":...,"level":...,"event":... without the closing
 * brace. level and event are our own words, never escaped. Written by
 * hand: every message gets a line, and printf with strftime cost a third
 * of the log line. */
static void begin(struct line *l, const char *level, const char *event)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	l->p = l->local;
	l->len = 0;
	l->cap = sizeof(l->local);
	l->failed = false;
	char when[LOG_UTC_MAX];
	put_str(l, "{\"ts\":\"");
	put_bytes(l, when, log_utc(when, &ts, true));
	put_str(l, "\",\"level\":\"");
	put_str(l, level);
	put_str(l, "\",\"event\":\"");
	put_str(l, event);
	put_str(l, "\"");
}

/* The log writer (log_start). The process has one stderr, so it has one
 * writer: this is the module's state, the one mutable global besides the
 * signal flag. Lines wait in a ring of bytes, ring[start, start + used)
 * modulo cap, for the writer thread, which writes them out with no lock
 * held. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;   /* the writer waits on it */
	pthread_t thread;
	bool running;        /* under mu: log_start started the thread, log_stop not yet */
	bool stopping;       /* under mu */
	bool now;            /* under mu: write without waiting for the second */
	char *ring;
	size_t cap, start, used;  /* under mu */
	uint64_t dropped;    /* under mu: lines the full ring turned away, not told yet */
	uint64_t dropped_total; /* under mu: since the process started */
} wr = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Writes n bytes to fd 2, whatever it takes: a short write goes on, a
 * non-blocking descriptor is waited for. Gives up on an error (a closed
 * pipe, a full disk): nothing can be told of it but stderr itself. */
static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = STDERR_FILENO, .events = POLLOUT };
			poll(&pfd, 1, 1000);
			continue;
		}
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Writer thread: writes out what the ring holds at least once a second,
 * at once for a line above info or a ring half full, and tells of lines
 * the ring had to turn away (a stderr that stalled: a slow disk, a pipe no
 * one reads) once it has room again. */
static void *writer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wr.mu);
	for (;;) {
		if (!wr.used && wr.stopping)
			break;
		if (!wr.now && !wr.stopping) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&wr.cv, &wr.mu, &until);
		}
		wr.now = false;
		while (wr.used) {
			size_t start = wr.start;
			size_t n = wr.cap - start < wr.used ? wr.cap - start : wr.used;
			pthread_mutex_unlock(&wr.mu);
			write_all(wr.ring + start, n);
			pthread_mutex_lock(&wr.mu);
			wr.start = (start + n) % wr.cap;
			wr.used -= n;
		}
		if (wr.dropped) {
			uint64_t n = wr.dropped;
			wr.dropped = 0;
			pthread_mutex_unlock(&wr.mu);
			struct line l;
			char num[32];
			begin(&l, "warn", "log_dropped");
			snprintf(num, sizeof(num), ",\"lines\":%llu}\n", (unsigned long long)n);
			put_str(&l, num);
			if (!l.failed)
				write_all(l.p, l.len);
			if (l.p != l.local)
				free(l.p);
			pthread_mutex_lock(&wr.mu);
		}
	}
	pthread_mutex_unlock(&wr.mu);
	return NULL;
}

/* Ends the line and hands it on: to the writer's ring when it runs, else
 * to stderr at once. */
static void end(struct line *l, const char *level)
{
	put_str(l, "}\n");
	bool info = strcmp(level, "info") == 0;
	pthread_mutex_lock(&wr.mu);
	if (!wr.running) {
		/* A line is written whole, never cut by another's. */
		if (!l->failed) {
			fwrite(l->p, 1, l->len, stderr);
			fflush(stderr);
		}
	} else if (l->failed || wr.used + l->len > wr.cap) {
		wr.dropped++;
		wr.dropped_total++;
	} else {
		size_t at = (wr.start + wr.used) % wr.cap;
		size_t first = wr.cap - at < l->len ? wr.cap - at : l->len;
		memcpy(wr.ring + at, l->p, first);
		memcpy(wr.ring, l->p + first, l->len - first);
		wr.used += l->len;
		if (!info || wr.used > wr.cap / 2) {
			wr.now = true;
			pthread_cond_signal(&wr.cv);
		}
	}
	pthread_mutex_unlock(&wr.mu);
	if (l->p != l->local)
		free(l->p);
}

void log_event(const char *level, const char *event, json_object *fields)
{
	struct line l;
	begin(&l, level, event);
	if (fields) {
		/* Member names are our own words too; values are escaped by
		 * json-c. */
		json_object_object_foreach(fields, k, v) {
			put_str(&l, ",\"");
			put_str(&l, k);
			put_str(&l, "\":");
			put_str(&l, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		}
		json_object_put(fields);
	}
	end(&l, level);
}

void log_event_json(const char *level, const char *event, const char *members, size_t len)
{
	struct line l;
	begin(&l, level, event);
	if (len) {
		put_str(&l, ",");
		put_bytes(&l, members, len);
	}
	end(&l, level);
}

void log_utc_now(char *out, size_t cap)
{
	struct timespec ts;
	char when[LOG_UTC_MAX];
	clock_gettime(CLOCK_REALTIME, &ts);
	log_utc(when, &ts, false);
	snprintf(out, cap, "%s", when);
}

int log_start(size_t ring_bytes)
{
	int rc = 0;
	sigset_t all, old;
	pthread_mutex_lock(&wr.mu);
	if (wr.running)
		goto unlock;
	rc = -1;
	if (!(wr.ring = malloc(ring_bytes)))
		goto unlock;
	wr.cap = ring_bytes;
	wr.start = wr.used = 0;
	wr.dropped = 0;
	wr.stopping = wr.now = false;
	/* The writer takes no signal: the thread that waits for them does. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int started = pthread_create(&wr.thread, NULL, writer, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started != 0) {
		free(wr.ring);
		wr.ring = NULL;
		goto unlock;
	}
	wr.running = true;
	rc = 0;
unlock:
	pthread_mutex_unlock(&wr.mu);
	return rc;
}

void log_flush(void)
{
	pthread_mutex_lock(&wr.mu);
	if (wr.running) {
		wr.now = true;
		pthread_cond_signal(&wr.cv);
	}
	pthread_mutex_unlock(&wr.mu);
	fflush(stderr);
}

uint64_t log_dropped_total(void)
{
	pthread_mutex_lock(&wr.mu);
	uint64_t n = wr.dropped_total;
	pthread_mutex_unlock(&wr.mu);
	return n;
}

void log_stop(void)
{
	pthread_mutex_lock(&wr.mu);
	if (!wr.running) {
		pthread_mutex_unlock(&wr.mu);
		return;
	}
	wr.stopping = true;
	pthread_cond_signal(&wr.cv);
	pthread_mutex_unlock(&wr.mu);
	pthread_join(wr.thread, NULL);
	pthread_mutex_lock(&wr.mu);
	wr.running = false;
	free(wr.ring);
	wr.ring = NULL;
	pthread_mutex_unlock(&wr.mu);
}
