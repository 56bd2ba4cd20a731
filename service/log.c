/* log: JSON lines on stderr. See include/log.h. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Starts a line: {"ts":...,"level":...,"event":... without the closing
 * brace. level and event are our own words, never escaped. */
static void begin(const char *level, const char *event)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":\"%s\"", when,
		ts.tv_nsec / 1000000, level, event);
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
