/* jw: a JSON writer into a caller's buffer. See include/jw.h. */
#include "jw.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

void jw_init(struct jw *w, char *out, size_t cap)
{
	*w = (struct jw){ .p = out, .cap = cap, .full = cap == 0 };
	if (cap)
		out[0] = '\0';
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
	if (w->full || w->len + n >= w->cap) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

void jw_lit(struct jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

/* Which bytes a JSON string must escape: 0 none, otherwise the letter
 * after the backslash, 'u' for \u00XX. needs_escape below tests for the
 * same bytes a word at a time: the two change together. */
static const char escape[256] = {
	['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
	[0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
	[0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u',
	[0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u',
	[0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u',
	[0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u',
	[0x1e] = 'u', [0x1f] = 'u', ['"'] = '"', ['\\'] = '\\',
};

/* Whether any of the eight bytes in x is a control character, '"' or '\\'
 * (the SWAR tests for a zero byte and for a byte below 0x20; UTF-8's bytes
 * above 0x7f never match). A reply's text is mostly plain, so whole words
 * of it are copied without a table lookup per byte. */
static bool needs_escape(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
	return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
}

void jw_str(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	jw_raw(w, "\"", 1);
	size_t run = 0, i = 0;
	while (i < n) {
		/* A word with nothing to escape is skipped whole; one with
		 * something, and the tail shorter than a word, byte by byte. */
		size_t stop = n;
		if (i + 8 <= n) {
			uint64_t x;
			memcpy(&x, s + i, 8);
			if (!needs_escape(x)) {
				i += 8;
				continue;
			}
			stop = i + 8;
		}
		for (; i < stop; i++) {
			unsigned char c = (unsigned char)s[i];
			char e = escape[c];
			if (!e)
				continue;
			jw_raw(w, s + run, i - run);
			run = i + 1;
			char seq[6] = { '\\', e, '0', '0', hex[c >> 4], hex[c & 15] };
			jw_raw(w, seq, e == 'u' ? 6 : 2);
		}
	}
	jw_raw(w, s + run, n - run);
	jw_raw(w, "\"", 1);
}

void jw_cstr(struct jw *w, const char *s)
{
	jw_str(w, s, strlen(s));
}

void jw_key(struct jw *w, const char *k)
{
	if (w->len && w->p[w->len - 1] != '{' && w->p[w->len - 1] != '[')
		jw_raw(w, ",", 1);
	jw_raw(w, "\"", 1);
	jw_lit(w, k);
	jw_raw(w, "\":", 2);
}

void jw_item(struct jw *w, bool first)
{
	if (!first)
		jw_raw(w, ",", 1);
}

void jw_int(struct jw *w, long long v)
{
	char d[24], *e = d + sizeof(d), *p = e;
	/* Unsigned, so the most negative value has a magnitude too. */
	unsigned long long m = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + m % 10);
		m /= 10;
	} while (m);
	if (v < 0)
		*--p = '-';
	jw_raw(w, p, (size_t)(e - p));
}

void jw_fixed3(struct jw *w, double v)
{
	char d[32], *e = d + sizeof(d), *p = e;
	bool neg = v < 0;
	long long m = llrint(fabs(v) * 1000.0);
	for (int i = 0; i < 3; i++, m /= 10)
		*--p = (char)('0' + m % 10);
	*--p = '.';
	do {
		*--p = (char)('0' + m % 10);
		m /= 10;
	} while (m);
	if (neg)
		*--p = '-';
	jw_raw(w, p, (size_t)(e - p));
}

void jw_bool(struct jw *w, bool v)
{
	jw_lit(w, v ? "true" : "false");
}
