/* log: one JSON object per line on stderr, for machines first. Customer
 * text is never passed here unless the operator asked for it. */
#ifndef AUTOASSIST_LOG_H
#define AUTOASSIST_LOG_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Writes {"ts": ISO 8601 UTC with milliseconds, "level", "event", and the
 * members of fields} as one line to stderr. level, event and the members'
 * names are our own plain words, written unescaped; level and event
 * together are under 80 bytes. Takes ownership of fields
 * (may be NULL). Lines of level "info" are buffered (a write per message
 * would cost the server a system call each) until log_flush or a buffer
 * fills; other levels are written at once, with what was buffered.
 * Any thread may log: a line is written whole, never cut by another's. */
void log_event(const char *level, const char *event, json_object *fields);

/* The same line with the members already written as JSON ("\"k\":v"
 * pairs separated by commas, len bytes; none when len is 0): for the line
 * every message gets, where json-c objects would cost more than deciding
 * the message (see jw.h). */
void log_event_json(const char *level, const char *event, const char *members, size_t len);

/* The bytes log_utc writes at most, the NUL included. */
#define LOG_UTC_MAX 25

/* Writes ts as ISO 8601 UTC into out (LOG_UTC_MAX bytes): to the second,
 * "2026-11-26T08:15:02Z", or with ms to the millisecond,
 * "2026-11-26T08:15:02.123Z". A time outside 1900-01-01 .. 9999-12-31 is
 * written as the first or last moment of that range. Returns the length
 * (20 or 24), the NUL not counted. */
size_t log_utc(char *out, const struct timespec *ts, bool ms);

/* Writes the current time as ISO 8601 UTC to the second
 * ("2026-11-26T08:15:02Z") into out, for tickets and profile links. */
void log_utc_now(char *out, size_t cap);

/* Writes out buffered lines. The server calls it every second and at
 * exit. */
void log_flush(void);

#endif
