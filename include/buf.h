/* Growable storage for the tables the engine builds while its data files
 * load: arrays that double as they fill, and strings stored back to back
 * and found by offset. Nothing here runs on the message path. */
#ifndef AUTOASSIST_BUF_H
#define AUTOASSIST_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Strings stored back to back, each followed by a NUL. Zeroed: empty. */
struct buf_strs {
	char *s;      /* owned; free(s) when done */
	uint32_t len; /* bytes in use */
	uint32_t cap;
};

/* Makes the array *p, which has room for *cap elements of size bytes,
 * hold at least need, doubling its room (from 16 when it has none).
 * Returns 0; or -1 when memory is short or the room would pass 2^31
 * elements or SIZE_MAX bytes, with *p and *cap as they were.
 * The caller owns *p. */
int buf_grow(void **p, uint32_t *cap, uint32_t need, size_t size);

/* Copies s[0..n) and a NUL to the end of b. Returns 0 with the string's
 * offset in b->s in *off; or -1 when memory is short or b would pass
 * 2^31 bytes, with b as it was. Offsets stay valid as b grows;
 * pointers into b->s do not. */
int buf_strs_add(struct buf_strs *b, const char *s, size_t n, uint32_t *off);

#endif
