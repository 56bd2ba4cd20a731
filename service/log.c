/* log: JSON lines on stderr. See include/log.h. */
#include "log.h"

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

/* Starts a line: {"ts":...,"level":...,"event":... without the closing
 * brace. level and event are our own words, never escaped. Written by
 * hand in one fwrite: every message gets a line, and printf with strftime
 * cost a third of the log line. */
static void begin(const char *level, const char *event)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long secs = (long)(ts.tv_sec % 86400);
	struct slot_date d = slot_date_from_days((int32_t)(ts.tv_sec / 86400));
	/* {"ts":"2026-11-26T08:15:02.123Z" */
	char line[128] = "{\"ts\":\"0000-00-00T00:00:00.000Z\",\"level\":\"";
	digits(line + 7, (unsigned)d.y, 4);
	digits(line + 12, d.m, 2);
	digits(line + 15, d.d, 2);
	digits(line + 18, (unsigned)(secs / 3600), 2);
	digits(line + 21, (unsigned)(secs / 60 % 60), 2);
	digits(line + 24, (unsigned)(secs % 60), 2);
	digits(line + 27, (unsigned)(ts.tv_nsec / 1000000), 3);
	size_t len = strlen(line);
	put(line, sizeof(line), &len, level);
	put(line, sizeof(line), &len, "\",\"event\":\"");
	put(line, sizeof(line), &len, event);
	put(line, sizeof(line), &len, "\"");
	fwrite(line, 1, len, stderr);
}

static void end(const char *level)
{
	fputs("}\n", stderr);
	if (strcmp(level, "info") != 0)
		fflush(stderr);
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
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void log_flush(void)
{
	fflush(stderr);
}
