/* jw: a JSON writer into a caller's buffer. The reply frame and the log
 * line are written on the server's per-message path, where building
 * json-c objects and serialising them would cost more than deciding the
 * message. Text that does not fit is not written: the writer marks itself
 * full and ignores everything after, and the caller checks full once at
 * the end. */
#ifndef AUTOASSIST_JW_H
#define AUTOASSIST_JW_H

#include <stdbool.h>
#include <stddef.h>

struct jw {
	char *p;
	size_t len, cap;
	bool full;
};

/* Starts writing at out, which holds cap bytes (0: full at once). What is
 * written stays NUL-terminated. */
void jw_init(struct jw *w, char *out, size_t cap);

/* Appends n bytes as they are (JSON the caller already has). */
void jw_raw(struct jw *w, const char *s, size_t n);

/* Appends a NUL-terminated string as it is. */
void jw_lit(struct jw *w, const char *s);

/* Appends s (n bytes of valid UTF-8) as a JSON string: quotes,
 * backslashes and control characters escaped, everything else as is. */
void jw_str(struct jw *w, const char *s, size_t n);

/* jw_str of a NUL-terminated string. */
void jw_cstr(struct jw *w, const char *s);

/* Appends an object member's name and colon, with a comma before it
 * unless it is the first member (the text so far is empty or ends in
 * '{' or '['). Names are our own plain words: not escaped. */
void jw_key(struct jw *w, const char *k);

/* Appends the comma before an array element that is not the first. */
void jw_item(struct jw *w, bool first);

/* Appends an integer. */
void jw_int(struct jw *w, long long v);

/* Appends v with three decimals, as printf's "%.3f" writes it (|v| below
 * 1e15), without printf's cost: scores go into every reply frame. */
void jw_fixed3(struct jw *w, double v);

/* Appends true or false. */
void jw_bool(struct jw *w, bool v);

#endif
