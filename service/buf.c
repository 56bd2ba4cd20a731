/* Growable arrays and string pools for the engine's loaders. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int buf_grow(void **p, uint32_t *cap, uint32_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	uint32_t nc = *cap ? *cap : 16;
	while (nc < need) {
		if (nc > UINT32_MAX / 2)
			return -1;
		nc *= 2;
	}
	if (size && (size_t)nc > SIZE_MAX / size)
		return -1;
	void *np = realloc(*p, (size_t)nc * size);
	if (!np)
		return -1;
	*p = np;
	*cap = nc;
	return 0;
}

int buf_strs_add(struct buf_strs *b, const char *s, size_t n, uint32_t *off)
{
	if (n >= UINT32_MAX - b->len)
		return -1;
	void *p = b->s;
	if (buf_grow(&p, &b->cap, b->len + (uint32_t)n + 1, 1) < 0)
		return -1;
	b->s = p;
	memcpy(b->s + b->len, s, n);
	b->s[b->len + n] = '\0';
	*off = b->len;
	b->len += (uint32_t)n + 1;
	return 0;
}
