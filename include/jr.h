/* jr: reads the flat JSON object a chat frame is, without allocating.
 * The server's event loop parses every frame a customer sends; json-c
 * builds a tree of objects for it (a dozen allocations, and a locale
 * switch per call), where the server wants three or four members of one
 * flat object. jr reads that common case and declines everything else:
 * the caller then asks a full parser (json-c), which also says what is
 * wrong with a frame that is not JSON. Whatever jr accepts, json-c
 * accepts with the same values (tests/test_jr.c holds them to it). */
#ifndef AUTOASSIST_JR_H
#define AUTOASSIST_JR_H

#include <stddef.h>

enum jr_kind {
	JR_ABSENT, /* no member of that name */
	JR_NULL,
	JR_STRING,
	JR_INT,   /* an integer of at most 18 digits */
	JR_OTHER, /* true, false, or a number with a fraction or exponent */
};

struct jr_val {
	enum jr_kind kind;
	/* JR_STRING: the unescaped bytes; otherwise the value as written
	 * (digits, true, false, null); NULL when absent. */
	const char *s;
	size_t len;
};

/* Reads in[0..n), valid UTF-8, as one JSON object with white space around
 * it, when every member's name is free of escapes, every value is a
 * string (without \u escapes), true, false, null, or a number (integers
 * of at most 18 digits), and the text is RFC 8259 JSON. Sets out[i] to
 * the member names[i] names (the last one, as json-c, when it comes
 * twice). Strings without escapes point into in; the others are written
 * to scratch, cap bytes (n is always enough), and point there.
 * Returns 0 when it read the object, -1 when it declines: the text is
 * not JSON, or JSON this reader leaves to a full parser; out then holds
 * nothing to use. */
int jr_flat(const char *in, size_t n, const char *const names[], struct jr_val out[],
	    size_t nnames, char *scratch, size_t cap);

#endif
