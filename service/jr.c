/* jr: reads a flat JSON object without allocating. See include/jr.h.
 *
 * Every rule here errs towards declining: a text jr declines costs a
 * json-c parse, a text it reads wrongly would be a customer's message
 * misread. So numbers with a fraction or an exponent, \u escapes, names
 * with escapes and nested values are all left to json-c. */
#include "jr.h"

#include <stdbool.h>
#include <string.h>

/* Integers of up to 18 digits fit in 64 bits whatever their sign; longer
 * ones json-c clamps, which the caller must see as it does. */
#define INT_DIGITS_MAX 18

struct rd {
	const char *p, *end;
	char *out; /* where the next escaped string is written */
	size_t room;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void skip_ws(struct rd *r)
{
	while (r->p < r->end && is_ws(*r->p))
		r->p++;
}

/* Whether the next byte is c; steps over it when it is. */
static bool take(struct rd *r, char c)
{
	if (r->p >= r->end || *r->p != c)
		return false;
	r->p++;
	return true;
}

/* The byte a short escape stands for, or 0 for one jr declines. */
static char unescape(char c)
{
	switch (c) {
	case '"': return '"';
	case '\\': return '\\';
	case '/': return '/';
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	default: return 0;
	}
}

/* Reads the rest of a string whose opening quote is read. A name may not
 * have escapes; a value's are written out to r->out. */
static int read_string(struct rd *r, bool name, struct jr_val *v)
{
	const char *start = r->p, *q = start;
	while (q < r->end && *q != '"' && *q != '\\') {
		if ((unsigned char)*q < 0x20)
			return -1;
		q++;
	}
	if (q < r->end && *q == '"') {
		*v = (struct jr_val){ JR_STRING, start, (size_t)(q - start) };
		r->p = q + 1;
		return 0;
	}
	if (q >= r->end || name || r->room < (size_t)(q - start))
		return -1;
	char *o = r->out;
	size_t k = (size_t)(q - start);
	if (k)
		memcpy(o, start, k);
	while (q < r->end) {
		char c = *q++;
		if (c == '"') {
			*v = (struct jr_val){ JR_STRING, o, k };
			r->out += k;
			r->room -= k;
			r->p = q;
			return 0;
		}
		if ((unsigned char)c < 0x20)
			return -1;
		if (c == '\\' && (q >= r->end || !(c = unescape(*q++))))
			return -1;
		if (k >= r->room)
			return -1;
		o[k++] = c;
	}
	return -1;
}

/* Reads an integer of at most INT_DIGITS_MAX digits. What follows is
 * checked by the caller, which wants ',' or '}' there: a fraction, an
 * exponent or a leading zero ("01") is declined so. */
static int read_int(struct rd *r, struct jr_val *v)
{
	const char *s = r->p, *q = s;
	if (q < r->end && *q == '-')
		q++;
	const char *digits = q;
	if (q < r->end && *q == '0')
		q++;
	else
		while (q < r->end && is_digit(*q))
			q++;
	if (q == digits || q - digits > INT_DIGITS_MAX)
		return -1;
	*v = (struct jr_val){ JR_INT, s, (size_t)(q - s) };
	r->p = q;
	return 0;
}

/* Reads true, false or null; what follows is checked as after an
 * integer: "truex" is declined. */
static int read_word(struct rd *r, struct jr_val *v)
{
	static const struct {
		const char *w;
		enum jr_kind kind;
	} words[] = { { "true", JR_OTHER }, { "false", JR_OTHER }, { "null", JR_NULL } };
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].w);
		if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i].w, n) == 0) {
			*v = (struct jr_val){ words[i].kind, r->p, n };
			r->p += n;
			return 0;
		}
	}
	return -1;
}

static int read_value(struct rd *r, struct jr_val *v)
{
	if (r->p >= r->end)
		return -1;
	char c = *r->p;
	if (c == '"') {
		r->p++;
		return read_string(r, false, v);
	}
	if (c == '-' || is_digit(c))
		return read_int(r, v);
	return read_word(r, v);
}

int jr_flat(const char *in, size_t n, const char *const names[], struct jr_val out[],
	    size_t nnames, char *scratch, size_t cap)
{
	struct rd r = { in, in + n, scratch, cap };
	for (size_t i = 0; i < nnames; i++)
		out[i] = (struct jr_val){ JR_ABSENT, NULL, 0 };
	skip_ws(&r);
	if (!take(&r, '{'))
		return -1;
	skip_ws(&r);
	if (!take(&r, '}')) {
		do {
			struct jr_val name, v;
			skip_ws(&r);
			if (!take(&r, '"') || read_string(&r, true, &name) < 0)
				return -1;
			skip_ws(&r);
			if (!take(&r, ':'))
				return -1;
			skip_ws(&r);
			if (read_value(&r, &v) < 0)
				return -1;
			for (size_t i = 0; i < nnames; i++)
				if (strlen(names[i]) == name.len && memcmp(names[i], name.s, name.len) == 0)
					out[i] = v;
			skip_ws(&r);
		} while (take(&r, ','));
		if (!take(&r, '}'))
			return -1;
	}
	skip_ws(&r);
	return r.p == r.end ? 0 : -1;
}
