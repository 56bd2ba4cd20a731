/* log: one JSON object per line on stderr, for machines first. Customer
 * text is never passed here unless the operator asked for it. */
#ifndef AUTOASSIST_LOG_H
#define AUTOASSIST_LOG_H

#include <json-c/json.h>
#include <stddef.h>

/* Writes {"ts": ISO 8601 UTC with milliseconds, "level", "event", and the
 * members of fields} as one line to stderr. Takes ownership of fields
 * (may be NULL). Lines of level "info" are buffered (a write per message
 * would cost the server a system call each) until log_flush or a buffer
 * fills; other levels are written at once, with what was buffered. */
void log_event(const char *level, const char *event, json_object *fields);

/* Writes the current time as ISO 8601 UTC to the second
 * ("2026-11-26T08:15:02Z") into out, for tickets and profile links. */
void log_utc_now(char *out, size_t cap);

/* Writes out buffered lines. The server calls it every second and at
 * exit. */
void log_flush(void);

#endif
