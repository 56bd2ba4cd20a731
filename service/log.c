/* log: JSON lines on stderr. See include/log.h. */
#include "log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "slot.h"

/* Writes n digits of v into p. */
static void digits(char *p, unsigned v, int n)
{
	while (n--) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Appends s to the line at *len, as much as fits. */
static void put(char *line, size_t cap, size_t *len, const char *s)
{
	size_t n = strnlen(s, cap - *len);
	memcpy(line + *len, s, n);
	*len += n;
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

/* Starts a line: {"ts":...,"level":...,"event":... without the closing
 * brace. level and event are our own words, never escaped. Written by
 * hand in one fwrite: every message gets a line, and printf with strftime
 * cost a third of the log line. */
static void begin(const char *level, const char *event)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char line[128] = "{\"ts\":\"";
	size_t len = strlen(line);
	len += log_utc(line + len, &ts, true);
	put(line, sizeof(line), &len, "\",\"level\":\"");
	put(line, sizeof(line), &len, level);
	put(line, sizeof(line), &len, "\",\"event\":\"");
	put(line, sizeof(line), &len, event);
	put(line, sizeof(line), &len, "\"");
	/* Held until end(): the engine worker logs each message while the
	 * loop logs the rest, and a line is never cut by another's. */
	flockfile(stderr);
	fwrite(line, 1, len, stderr);
}

static void end(const char *level)
{
	fputs("}\n", stderr);
	if (strcmp(level, "info") != 0)
		fflush(stderr);
	funlockfile(stderr);
}

void log_event(const char *level, const char *event, json_object *fields)
{
	begin(level, event);
	if (fields) {
		/* Member names are our own words too; values are escaped by
		 * json-c. */
		json_object_object_foreach(fields, k, v)
			fprintf(stderr, ",\"%s\":%s", k,
				json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		json_object_put(fields);
	}
	end(level);
}

void log_event_json(const char *level, const char *event, const char *members, size_t len)
{
	begin(level, event);
	if (len) {
		fputc(',', stderr);
		fwrite(members, 1, len, stderr);
	}
	end(level);
}

void log_utc_now(char *out, size_t cap)
{
	struct timespec ts;
	char when[LOG_UTC_MAX];
	clock_gettime(CLOCK_REALTIME, &ts);
	log_utc(when, &ts, false);
	snprintf(out, cap, "%s", when);
}

void log_flush(void)
{
	fflush(stderr);
}
