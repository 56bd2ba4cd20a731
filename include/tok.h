/* tok: the tokenizer. Splits a customer message into word, number and
 * punctuation tokens and builds a normalised copy used for matching:
 * NFKC, case folded, diacritics stripped (and a few letters that carry no
 * decomposition folded by hand: ø→o, æ→ae, ß→ss). The original text is
 * never modified; tokens point back into it so slots and tickets keep what
 * the customer wrote. */
#ifndef AUTOASSIST_TOK_H
#define AUTOASSIST_TOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tok_kind {
	TOK_WORD = 1,  /* contains at least one letter: "zählernummer", "12b" */
	TOK_NUM = 2,   /* digits only, "." or "," allowed between digits */
	TOK_PUNCT = 3, /* one punctuation character */
};

/* Token flags. */
#define TOK_F_CAP 0x01   /* the original starts with an upper-case letter */
#define TOK_F_SPACE 0x02 /* whitespace precedes the token in the original */
#define TOK_F_LINE 0x04  /* a line break is in that whitespace */

/* Errors returned (negated) by tok_run and tok_fold. */
enum tok_err {
	TOK_EUTF8 = 1,    /* the input is not valid UTF-8 */
	TOK_ETOOLONG = 2, /* the input exceeds the configured byte limit */
	TOK_ENOSPACE = 3, /* the normalised form does not fit the buffer */
	TOK_ENUL = 4,     /* the input holds U+0000 */
};

struct tok {
	uint32_t off, len;   /* span in the original text, in bytes */
	uint32_t noff, nlen; /* span in tok_buf.norm, in bytes */
	uint16_t nchars;     /* code points in the normalised form */
	uint8_t kind;        /* enum tok_kind */
	uint8_t flags;       /* TOK_F_* */
};

/* The tokens of one message. norm holds the normalised tokens joined by
 * single spaces (punctuation tokens included), NUL-terminated, so a
 * multi-word phrase can be matched as one string. */
struct tok_buf {
	struct tok *v;
	uint32_t n, cap;
	char *norm;
	uint32_t nlen, ncap;
	size_t max_bytes;  /* input limit in bytes */
	size_t err_off;    /* byte offset of the first invalid byte on -TOK_EUTF8 */
};

/* Allocates the buffers for messages of up to max_bytes bytes. Returns 0,
 * or -TOK_ENOSPACE when memory is short. Free with tok_buf_free. */
int tok_buf_init(struct tok_buf *b, size_t max_bytes);
void tok_buf_free(struct tok_buf *b);

/* Tokenizes text[0..len) into b, replacing what b held. Never allocates.
 * Returns 0; -TOK_ETOOLONG when len > b->max_bytes; -TOK_EUTF8 with
 * b->err_off set when the text is not valid UTF-8; -TOK_ENUL, err_off
 * likewise, when it holds U+0000, which no one types and which would cut
 * the C strings a message's turns and tickets end up in; -TOK_ENOSPACE
 * when the normalised form outgrows its buffer. Control characters and symbols
 * (emoji) separate tokens and are otherwise dropped. */
int tok_run(struct tok_buf *b, const char *text, size_t len);

/* Normalises in[0..len) as tok_run does, words joined by single spaces and
 * punctuation dropped, into out (NUL-terminated). Used for data files and
 * address keys; allocates nothing for inputs of up to 256 bytes. Returns
 * the length written, -TOK_EUTF8 or -TOK_ENOSPACE. */
int tok_fold(const char *in, size_t len, char *out, size_t cap);

/* True when text[0..n) is UTF-8 as RFC 3629 has it: no overlong forms,
 * no surrogates, nothing past U+10FFFF. */
bool tok_utf8_valid(const char *text, size_t n);

/* How much of the UTF-8 text s[0..n) fits in room bytes without cutting a
 * character: n when it all fits, else the longest prefix up to room bytes
 * that ends between characters. */
size_t tok_utf8_fit(const char *s, size_t n, size_t room);

/* A static English description of a tok_err (positive or negated). */
const char *tok_strerror(int err);

/* Whether token i is the number of a code: a dot glued between it and a
 * one-letter word before it ("F.13", "E.42"; "Fr.13.3." is a weekday's
 * date). */
bool tok_code_dot(const struct tok_buf *b, uint32_t i);

/* The normalised text of token i. */
static inline const char *tok_norm(const struct tok_buf *b, uint32_t i)
{
	return b->norm + b->v[i].noff;
}

#endif
