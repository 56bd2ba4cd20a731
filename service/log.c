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

/* The bytes of a message log_repeating compares with the last; a longer
 * one is told apart by them alone. */
#define REPEAT_MSG_MAX 160
/* How often log_repeating writes the same message at most, in seconds. */
#define REPEAT_EVERY_S 1.0

/* The log writer (log_start). The process has one stderr, so it has one
 * writer: this is the module's state, the one mutable global besides the
 * signal flag. Lines wait in a ring of bytes, ring[start, start + used)
 * modulo cap, for the writer thread, which writes them out with no lock
 * held. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;   /* the writer waits on it (CLOCK_MONOTONIC) */
	pthread_cond_t gone; /* log_stop waits on it for the writer to end */
	pthread_t thread;
	bool running;        /* under mu: lines go to the ring */
	bool stopping;       /* under mu: log_stop was called and has not joined */
	bool now;            /* under mu: write without waiting for the second */
	char *ring;
	size_t cap, start, used;  /* under mu */
	uint64_t dropped;    /* under mu: lines the full ring turned away, not told yet */
	uint64_t dropped_total; /* under mu: since the process started */
	/* The writer thread's own (and, under mu, end()'s once the writer
	 * has ended), after a write failed partway (write_all): out_mid, the
	 * last byte on stderr ended no line; torn, and the rest of that line
	 * will not follow; skip, the ring's next bytes finish a line that was
	 * given up. */
	bool out_mid, torn, skip;
	/* Under mu, for log_repeating: the message it wrote last, when
	 * (CLOCK_MONOTONIC, seconds), and how many like it it left out since. */
	char rep_msg[REPEAT_MSG_MAX];
	size_t rep_len;
	double rep_at;
	uint64_t rep_left;
} wr = { .mu = PTHREAD_MUTEX_INITIALIZER, .gone = PTHREAD_COND_INITIALIZER };

/* How long log_stop waits for the writer to write what is left: a stderr
 * that takes nothing must not keep the process from exiting. */
#define STOP_WAIT_S 2

/* Writer thread: writes n bytes to fd 2, whatever it takes: a short write
 * goes on, a non-blocking descriptor is waited for. Returns how many went
 * before an error (n when all did). */
static size_t put_out(const char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(STDERR_FILENO, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = STDERR_FILENO, .events = POLLOUT };
			poll(&pfd, 1, 1000);
			continue;
		}
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (done)
		wr.out_mid = p[done - 1] != '\n';
	return done;
}

/* Writer thread: writes out n bytes of lines. Gives up on an error (a
 * closed pipe, a full disk), where nothing but stderr itself could be told
 * of it, and returns the lines it could not write (0 when all went). What
 * a failed write leaves half done is not glued to what comes next: the
 * piece of a line already out is ended before the next write, and the rest
 * of the line, should it come in the next call, is left out. */
static uint64_t write_all(const char *p, size_t n)
{
	uint64_t lost = 0;
	if (wr.skip) {
		const char *nl = memchr(p, '\n', n);
		if (!nl)
			return 0;
		wr.skip = false;
		lost++;
		n -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	if (!n)
		return lost;
	size_t done = 0;
	if (!wr.torn || put_out("\n", 1) == 1) {
		wr.torn = false;
		done = put_out(p, n);
	}
	if (done == n)
		return lost;
	wr.torn = wr.out_mid;
	wr.skip = p[n - 1] != '\n';
	for (size_t i = done; i < n; i++)
		lost += p[i] == '\n';
	return lost;
}

/* Writer thread, under wr.mu: tells of the lines the full ring turned
 * away, now that it has room again. */
static void tell_dropped(void)
{
	uint64_t n = wr.dropped;
	wr.dropped = 0;
	pthread_mutex_unlock(&wr.mu);
	struct line l;
	char num[32];
	begin(&l, "warn", "log_dropped");
	snprintf(num, sizeof(num), ",\"lines\":%llu}\n", (unsigned long long)n);
	put_str(&l, num);
	uint64_t lost = l.failed ? 1 : write_all(l.p, l.len);
	if (l.p != l.local)
		free(l.p);
	pthread_mutex_lock(&wr.mu);
	wr.dropped_total += lost;
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
		/* An empty ring ends a line: lines may have been dropped with
		 * none waiting (one longer than the ring). */
		if (!wr.used && wr.dropped)
			tell_dropped();
		if (!wr.used && wr.stopping)
			break;
		if (!wr.now && !wr.stopping) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&wr.cv, &wr.mu, &until);
		}
		wr.now = false;
		while (wr.used) {
			size_t start = wr.start;
			size_t n = wr.cap - start < wr.used ? wr.cap - start : wr.used;
			pthread_mutex_unlock(&wr.mu);
			uint64_t lost = write_all(wr.ring + start, n);
			pthread_mutex_lock(&wr.mu);
			wr.dropped_total += lost;
			wr.start = (start + n) % wr.cap;
			wr.used -= n;
			/* Told between two chunks (under a steady load the ring
			 * may never be empty), where one ended a line: a chunk
			 * that ends at the ring's end may end in the middle of
			 * one. */
			if (wr.dropped && wr.ring[(start + n - 1) % wr.cap] == '\n')
				tell_dropped();
		}
	}
	/* Lines from now on are written at once (end). */
	wr.running = false;
	pthread_cond_broadcast(&wr.gone);
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
		/* A line is written whole, never cut by another's, nor glued
		 * to the piece a failed write of the writer left. */
		if (!l->failed) {
			if (wr.torn)
				fputc('\n', stderr);
			wr.torn = false;
			fwrite(l->p, 1, l->len, stderr);
			fflush(stderr);
		} else {
			wr.dropped_total++;
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

void log_repeating(const char *level, const char *event, const char *message, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	size_t key = len < REPEAT_MSG_MAX ? len : REPEAT_MSG_MAX;
	pthread_mutex_lock(&wr.mu);
	bool same = key == wr.rep_len && memcmp(message, wr.rep_msg, key) == 0;
	if (same && now - wr.rep_at < REPEAT_EVERY_S) {
		wr.rep_left++;
		pthread_mutex_unlock(&wr.mu);
		return;
	}
	uint64_t left = same ? wr.rep_left : 0;
	memcpy(wr.rep_msg, message, key);
	wr.rep_len = key;
	wr.rep_at = now;
	wr.rep_left = 0;
	pthread_mutex_unlock(&wr.mu);
	json_object *f = json_object_new_object();
	if (f) {
		json_object_object_add(f, "message", json_object_new_string_len(message, (int)len));
		if (left)
			json_object_object_add(f, "repeated", json_object_new_int64((int64_t)left));
	}
	log_event(level, event, f);
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
	pthread_condattr_t attr;
	pthread_mutex_lock(&wr.mu);
	if (wr.running && !wr.stopping)
		goto unlock;
	rc = -1;
	/* One that log_stop gave up on (or is stopping) is still there. */
	if (wr.stopping)
		goto unlock;
	if (!(wr.ring = malloc(ring_bytes)))
		goto unlock;
	/* The writer's second is the monotonic clock's: a clock set back
	 * holds no line. */
	if (pthread_condattr_init(&attr) != 0)
		goto free_ring;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	int inited = pthread_cond_init(&wr.cv, &attr);
	pthread_condattr_destroy(&attr);
	if (inited != 0)
		goto free_ring;
	wr.cap = ring_bytes;
	wr.start = wr.used = 0;
	wr.dropped = 0;
	wr.stopping = wr.now = false;
	wr.skip = false; /* a new ring starts with a whole line */
	/* The writer takes no signal: the thread that waits for them does. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int started = pthread_create(&wr.thread, NULL, writer, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started != 0)
		goto destroy_cv;
	wr.running = true;
	rc = 0;
	goto unlock;
destroy_cv:
	pthread_cond_destroy(&wr.cv);
free_ring:
	free(wr.ring);
	wr.ring = NULL;
unlock:
	pthread_mutex_unlock(&wr.mu);
	return rc;
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
	/* Called again after it gave up, it waits again, and reaps a writer
	 * that has ended since. */
	if (!wr.stopping) {
		if (!wr.running) {
			pthread_mutex_unlock(&wr.mu);
			return;
		}
		wr.stopping = true;
		pthread_cond_signal(&wr.cv);
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until); /* gone's clock */
	until.tv_sec += STOP_WAIT_S;
	while (wr.running && pthread_cond_timedwait(&wr.gone, &wr.mu, &until) != ETIMEDOUT)
		;
	bool ended = !wr.running;
	pthread_mutex_unlock(&wr.mu);
	/* A writer stuck on stderr keeps its ring, and the lines in it are
	 * lost with the process, which is about to exit. */
	if (!ended)
		return;
	pthread_join(wr.thread, NULL);
	pthread_mutex_lock(&wr.mu);
	pthread_cond_destroy(&wr.cv);
	free(wr.ring);
	wr.ring = NULL;
	wr.stopping = false;
	pthread_mutex_unlock(&wr.mu);
}
