/* log: one JSON object per line on stderr, for machines first. Customer
 * text is never passed here unless the operator asked for it. */
#ifndef AUTOASSIST_LOG_H
#define AUTOASSIST_LOG_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Writes {"ts": ISO 8601 UTC with milliseconds, "level", "event", and the
 * members of fields} as one line to stderr. level, event and the members'
 * names are our own plain words, written unescaped. Takes ownership of
 * fields (may be NULL). Any thread may log: a line is written whole,
 * never cut by another's. While the log writer runs (log_start) the line
 * only waits in its ring and the call never blocks on stderr: lines of
 * level "info" are written within a second (a write per message would
 * cost the server a system call each), others at once; a line that finds
 * the ring full is dropped and counted (see log_start). Else the line is
 * written to stderr before the call returns. */
void log_event(const char *level, const char *event, json_object *fields);

/* The same line with the members already written as JSON ("\"k\":v"
 * pairs separated by commas, len bytes; none when len is 0): for the line
 * every message gets, where json-c objects would cost more than deciding
 * the message (see jw.h). */
void log_event_json(const char *level, const char *event, const char *members, size_t len);

/* Logs {"message": message[0..len)} as log_event does, unless the same
 * message was written by this call less than a second ago: it is then only
 * counted, and the next line written for it says how many were left out
 * ("repeated"). For a library's lines, which may come in a tight loop
 * ("accept: Too many open files" while descriptors run out): at most one
 * a second, where the loop would write half a million. Any thread. */
void log_repeating(const char *level, const char *event, const char *message, size_t len);

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

/* Starts the log writer: a thread that writes the lines to stderr, so
 * that a stderr that stalls (a slow disk, a pipe no one reads) holds up
 * no thread that logs, the event loop least of all. Lines wait for it in
 * a ring of ring_bytes; those that find it full are dropped, and the
 * writer tells how many in a "log_dropped" line ({"lines": n}) once it
 * has room again; log_dropped_total counts them, and the lines a failing
 * stderr refused. Returns 0 (also when it runs already), or -1 when the
 * thread or the ring could not be had, or one log_stop gave up on is still
 * stuck: lines are then written at once, or wait for that one. */
int log_start(size_t ring_bytes);

/* Log lines not written since the process started: those the full ring
 * turned away, those a failing stderr refused, those memory was short for. */
uint64_t log_dropped_total(void);

/* Stops the log writer once it has written every line that waits, or
 * gives up after 2 s of a stderr that takes nothing: the process is about
 * to exit, and the lines still waiting are lost with it (called again, it
 * waits again). Lines logged after a writer that ended are written at
 * once. */
void log_stop(void);

#endif
