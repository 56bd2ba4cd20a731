/* tok: tokenizer and normaliser. See include/tok.h.
 *
 * Word boundaries follow the parts of Unicode UAX #29 that matter for chat
 * text in five Latin-script languages: letters, marks and digits form words;
 * an apostrophe between letters ("don't") and a dot or comma between digits
 * ("15.04", "1,5") stay inside the word; letters and digits run together
 * ("12b", "sun2000"). A hyphen between two words only separates them, so
 * "PV-Anlage" matches the phrase "pv anlage"; between digits it is kept as a
 * punctuation token because dates need it. ASCII takes a fast path; only
 * non-ASCII code points go through utf8proc. */
#include "tok.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum cls {
	C_SEP,    /* control, symbol, emoji: ends a token, emits nothing */
	C_SPACE,  /* white space */
	C_LETTER, /* letters and combining marks */
	C_DIGIT,
	C_APOS,   /* joins letters */
	C_NUMSEP, /* . and , join digits */
	C_HYPHEN,
	C_PUNCT,
};

/* Worst-case growth of one code point under compatibility decomposition. */
#define DECOMP_MAX 18

int tok_buf_init(struct tok_buf *b, size_t max_bytes)
{
	memset(b, 0, sizeof(*b));
	b->max_bytes = max_bytes;
	b->cap = (uint32_t)max_bytes + 1;
	/* Folding rarely grows text; three times the input leaves room for
	 * ligatures and the separating spaces, and more is refused. */
	b->ncap = (uint32_t)(max_bytes * 3 + 64);
	b->v = calloc(b->cap, sizeof(*b->v));
	b->norm = malloc(b->ncap);
	if (!b->v || !b->norm) {
		tok_buf_free(b);
		return -TOK_ENOSPACE;
	}
	b->norm[0] = '\0';
	return 0;
}

void tok_buf_free(struct tok_buf *b)
{
	free(b->v);
	free(b->norm);
	b->v = NULL;
	b->norm = NULL;
	b->cap = b->ncap = b->n = b->nlen = 0;
}

/* ASCII classes, by table: most chat text is ASCII, and this is the
 * tokenizer's innermost step. */
static const uint8_t ascii_cls[128] = {
	['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\v'] = C_SPACE, ['\f'] = C_SPACE,
	['\r'] = C_SPACE, [' '] = C_SPACE,
	['!'] = C_PUNCT, ['"'] = C_PUNCT, ['#'] = C_PUNCT, ['$'] = C_PUNCT,
	['%'] = C_PUNCT, ['&'] = C_PUNCT, ['\''] = C_APOS, ['('] = C_PUNCT,
	[')'] = C_PUNCT, ['*'] = C_PUNCT, ['+'] = C_PUNCT, [','] = C_NUMSEP,
	['-'] = C_HYPHEN, ['.'] = C_NUMSEP, ['/'] = C_PUNCT,
	['0'] = C_DIGIT, ['1'] = C_DIGIT, ['2'] = C_DIGIT, ['3'] = C_DIGIT,
	['4'] = C_DIGIT, ['5'] = C_DIGIT, ['6'] = C_DIGIT, ['7'] = C_DIGIT,
	['8'] = C_DIGIT, ['9'] = C_DIGIT,
	[':'] = C_PUNCT, [';'] = C_PUNCT, ['<'] = C_PUNCT, ['='] = C_PUNCT,
	['>'] = C_PUNCT, ['?'] = C_PUNCT, ['@'] = C_PUNCT,
	['A'] = C_LETTER, ['B'] = C_LETTER, ['C'] = C_LETTER, ['D'] = C_LETTER,
	['E'] = C_LETTER, ['F'] = C_LETTER, ['G'] = C_LETTER, ['H'] = C_LETTER,
	['I'] = C_LETTER, ['J'] = C_LETTER, ['K'] = C_LETTER, ['L'] = C_LETTER,
	['M'] = C_LETTER, ['N'] = C_LETTER, ['O'] = C_LETTER, ['P'] = C_LETTER,
	['Q'] = C_LETTER, ['R'] = C_LETTER, ['S'] = C_LETTER, ['T'] = C_LETTER,
	['U'] = C_LETTER, ['V'] = C_LETTER, ['W'] = C_LETTER, ['X'] = C_LETTER,
	['Y'] = C_LETTER, ['Z'] = C_LETTER,
	['['] = C_PUNCT, ['\\'] = C_PUNCT, [']'] = C_PUNCT, ['^'] = C_PUNCT,
	['_'] = C_PUNCT, ['`'] = C_PUNCT,
	['a'] = C_LETTER, ['b'] = C_LETTER, ['c'] = C_LETTER, ['d'] = C_LETTER,
	['e'] = C_LETTER, ['f'] = C_LETTER, ['g'] = C_LETTER, ['h'] = C_LETTER,
	['i'] = C_LETTER, ['j'] = C_LETTER, ['k'] = C_LETTER, ['l'] = C_LETTER,
	['m'] = C_LETTER, ['n'] = C_LETTER, ['o'] = C_LETTER, ['p'] = C_LETTER,
	['q'] = C_LETTER, ['r'] = C_LETTER, ['s'] = C_LETTER, ['t'] = C_LETTER,
	['u'] = C_LETTER, ['v'] = C_LETTER, ['w'] = C_LETTER, ['x'] = C_LETTER,
	['y'] = C_LETTER, ['z'] = C_LETTER,
	['{'] = C_PUNCT, ['|'] = C_PUNCT, ['}'] = C_PUNCT, ['~'] = C_PUNCT,
	/* Control characters keep C_SEP (0). */
};

static enum cls classify_unicode(int32_t cp)
{
	if (cp == 0x2019)
		return C_APOS;
	if (cp == 0x2010 || cp == 0x2011)
		return C_HYPHEN;
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
		return C_LETTER;
	case UTF8PROC_CATEGORY_ND:
		return C_DIGIT;
	case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP:
		return C_SPACE;
	case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD:
	case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
	case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
	case UTF8PROC_CATEGORY_PO:
		return C_PUNCT;
	default:
		return C_SEP;
	}
}

static inline enum cls classify(int32_t cp)
{
	return cp < 0x80 ? (enum cls)ascii_cls[cp] : classify_unicode(cp);
}

/* Letters that carry no Unicode decomposition but that customers type
 * without their stroke or as two letters; folding them keeps "mobil" and
 * "møbil" apart from nothing that matters while "sor" finds "sør". */
static const char *fold_extra(int32_t cp)
{
	switch (cp) {
	case 0xf8: return "o";   /* ø */
	case 0xe6: return "ae";  /* æ */
	case 0x153: return "oe"; /* œ */
	case 0x111: return "d";  /* đ */
	case 0xf0: return "d";   /* ð */
	case 0x142: return "l";  /* ł */
	case 0xfe: return "th";  /* þ */
	case 0x2019: return "'"; /* ’ as phones type it in "don’t" */
	}
	return NULL;
}

static int put_folded_unicode(struct tok_buf *b, int32_t cp)
{
	utf8proc_int32_t dec[DECOMP_MAX];
	int last_bc = 0;
	utf8proc_ssize_t n = utf8proc_decompose_char(
		cp, dec, DECOMP_MAX,
		UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
			UTF8PROC_STRIPMARK, &last_bc);
	if (n < 0 || n > DECOMP_MAX)
		return 0; /* Unassigned or absurd: dropped like a symbol. */
	/* Marks are stripped, so what is left is already in composed form:
	 * canonical composition only ever combines a base with marks (Hangul
	 * syllables excepted, which are never decomposed by casefolding). */
	int wrote = 0;
	for (utf8proc_ssize_t i = 0; i < n; i++) {
		const char *extra = fold_extra(dec[i]);
		if (extra) {
			size_t el = strlen(extra);
			if (b->nlen + el >= b->ncap)
				return -TOK_ENOSPACE;
			memcpy(b->norm + b->nlen, extra, el);
			b->nlen += (uint32_t)el;
			wrote += (int)el;
			continue;
		}
		if (b->nlen + 4 >= b->ncap)
			return -TOK_ENOSPACE;
		b->nlen += (uint32_t)utf8proc_encode_char(
			dec[i], (utf8proc_uint8_t *)b->norm + b->nlen);
		wrote++;
	}
	return wrote;
}

/* Decodes the code point at s[i..len). Returns its length in bytes, or a
 * negative number for invalid UTF-8 (overlong forms and surrogates
 * included). */
static inline int next_cp(const char *s, size_t i, size_t len, int32_t *cp)
{
	unsigned char c = (unsigned char)s[i];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	utf8proc_int32_t u;
	utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
					      (utf8proc_ssize_t)(len - i), &u);
	if (n <= 0 || u < 0)
		return -1;
	*cp = u;
	return (int)n;
}

/* Appends the folded form of code point cp to b->norm. Returns the number
 * of code points written or -TOK_ENOSPACE. */
static inline int put_folded(struct tok_buf *b, int32_t cp)
{
	if (cp < 0x80) {
		if (b->nlen + 1 >= b->ncap)
			return -TOK_ENOSPACE;
		b->norm[b->nlen++] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
		return 1;
	}
	return put_folded_unicode(b, cp);
}

static bool is_upper(int32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z';
	return utf8proc_isupper(cp);
}

/* Starts a token at byte offset off. Returns 0 or -TOK_ENOSPACE. */
static int open_tok(struct tok_buf *b, uint32_t off, uint8_t kind, uint8_t flags)
{
	if (b->n >= b->cap)
		return -TOK_ENOSPACE;
	if (b->n > 0) {
		if (b->nlen + 1 >= b->ncap)
			return -TOK_ENOSPACE;
		b->norm[b->nlen++] = ' ';
	}
	struct tok *t = &b->v[b->n];
	t->off = off;
	t->len = 0;
	t->noff = b->nlen;
	t->nlen = 0;
	t->nchars = 0;
	t->kind = kind;
	t->flags = flags;
	return 0;
}

static void close_tok(struct tok_buf *b, uint32_t end)
{
	struct tok *t = &b->v[b->n];
	t->len = end - t->off;
	t->nlen = b->nlen - t->noff;
	b->n++;
}

/* Takes the ASCII letters and digits from text[i] on into the open token,
 * lower-cased, and returns the offset of the first byte it left: the rest
 * of most words of a chat message, without the per-code-point steps. A
 * joiner, a non-ASCII byte or a full buffer ends the run, and the general
 * loop goes on from there. */
static size_t ascii_run(struct tok_buf *b, const char *text, size_t i, size_t len,
			enum cls *prev)
{
	struct tok *t = &b->v[b->n];
	for (; i < len && b->nlen + 1 < b->ncap; i++) {
		unsigned char u = (unsigned char)text[i];
		enum cls c = u < 0x80 ? (enum cls)ascii_cls[u] : C_SEP;
		if (c == C_LETTER)
			t->kind = TOK_WORD;
		else if (c != C_DIGIT)
			break;
		b->norm[b->nlen++] = (char)(u >= 'A' && u <= 'Z' ? u + 32 : u);
		t->nchars++;
		*prev = c;
	}
	return i;
}

int tok_run(struct tok_buf *b, const char *text, size_t len)
{
	b->n = 0;
	b->nlen = 0;
	b->norm[0] = '\0';
	b->err_off = 0;
	if (len > b->max_bytes)
		return -TOK_ETOOLONG;

	bool in_tok = false;  /* a word or number token is open */
	uint8_t flags = 0;    /* flags for the next token */
	enum cls prev = C_SPACE;
	size_t i = 0;
	int rc;

	while (i < len) {
		int32_t cp;
		int n = next_cp(text, i, len, &cp);
		if (n < 0 || cp == 0) {
			b->err_off = i;
			rc = n < 0 ? -TOK_EUTF8 : -TOK_ENUL;
			goto fail;
		}
		enum cls c = classify(cp);

		/* Joiners stay inside a token only when the next code point
		 * continues it the same way. */
		if (in_tok && (c == C_APOS || c == C_NUMSEP || c == C_HYPHEN)) {
			int32_t nx = -1;
			if (i + (size_t)n < len &&
			    next_cp(text, i + (size_t)n, len, &nx) < 0)
				nx = -1;
			enum cls nc = nx >= 0 ? classify(nx) : C_SEP;
			if (c == C_APOS && prev == C_LETTER && nc == C_LETTER) {
				c = C_LETTER;
			} else if (c == C_NUMSEP && prev == C_DIGIT &&
				   nc == C_DIGIT &&
				   b->v[b->n].kind == TOK_NUM) {
				c = C_DIGIT;
			} else if (c == C_HYPHEN && b->v[b->n].kind == TOK_WORD &&
				   nc == C_LETTER) {
				close_tok(b, (uint32_t)i);
				in_tok = false;
				prev = C_SPACE;
				flags = 0;
				i += (size_t)n;
				continue;
			}
		}

		if (c == C_LETTER || c == C_DIGIT) {
			if (!in_tok) {
				uint8_t f = flags | (is_upper(cp) ? TOK_F_CAP : 0);
				rc = open_tok(b, (uint32_t)i,
					      c == C_DIGIT ? TOK_NUM : TOK_WORD, f);
				if (rc < 0)
					goto fail;
				in_tok = true;
				flags = 0;
			}
			if (c == C_LETTER)
				b->v[b->n].kind = TOK_WORD;
			rc = put_folded(b, cp);
			if (rc < 0)
				goto fail;
			b->v[b->n].nchars += (uint16_t)rc;
			prev = c;
			i += (size_t)n;
			if (cp < 0x80)
				i = ascii_run(b, text, i, len, &prev);
			continue;
		}

		if (in_tok) {
			close_tok(b, (uint32_t)i);
			in_tok = false;
		}
		if (c == C_SPACE) {
			flags |= TOK_F_SPACE;
			if (cp == '\n' || cp == '\r' || cp == 0x2028 || cp == 0x2029)
				flags |= TOK_F_LINE;
		} else if (c != C_SEP) {
			rc = open_tok(b, (uint32_t)i, TOK_PUNCT, flags);
			if (rc < 0)
				goto fail;
			rc = put_folded(b, cp);
			if (rc < 0)
				goto fail;
			b->v[b->n].nchars = (uint16_t)rc;
			i += (size_t)n;
			close_tok(b, (uint32_t)i);
			flags = 0;
			prev = c;
			continue;
		}
		prev = c;
		i += (size_t)n;
	}
	if (in_tok)
		close_tok(b, (uint32_t)len);
	b->norm[b->nlen] = '\0';
	return 0;
fail:
	/* Leave no half-built tokens behind for a caller that ignores rc. */
	b->n = 0;
	b->nlen = 0;
	b->norm[0] = '\0';
	return rc;
}

/* Inputs up to this long are folded in buffers on the stack: address keys
 * are made while a reply is said, which allocates nothing. */
#define FOLD_STACK 256

int tok_fold(const char *in, size_t len, char *out, size_t cap)
{
	struct tok v[FOLD_STACK + 1];
	char norm[FOLD_STACK * 3 + 64];
	struct tok_buf b;
	bool heap = len > FOLD_STACK;
	int rc = 0;
	if (heap) {
		if ((rc = tok_buf_init(&b, len)) < 0)
			return rc;
	} else {
		/* The capacities tok_buf_init(&b, len) would give. */
		b = (struct tok_buf){ .v = v, .cap = (uint32_t)len + 1, .norm = norm,
				      .ncap = (uint32_t)(len * 3 + 64), .max_bytes = len };
		norm[0] = '\0';
	}
	rc = tok_run(&b, in, len);
	if (rc < 0)
		goto free_buf;

	size_t o = 0;
	for (uint32_t i = 0; i < b.n; i++) {
		if (b.v[i].kind == TOK_PUNCT)
			continue;
		size_t need = b.v[i].nlen + (o ? 1 : 0);
		if (o + need >= cap) {
			rc = -TOK_ENOSPACE;
			goto free_buf;
		}
		if (o)
			out[o++] = ' ';
		memcpy(out + o, tok_norm(&b, i), b.v[i].nlen);
		o += b.v[i].nlen;
	}
	if (cap == 0) {
		rc = -TOK_ENOSPACE;
		goto free_buf;
	}
	out[o] = '\0';
	rc = (int)o;
free_buf:
	if (heap)
		tok_buf_free(&b);
	return rc;
}

bool tok_utf8_valid(const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
		if (!len || c > 0xf4 || i + len > n)
			return false;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
		    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
			return false;
		i += len;
	}
	return true;
}

size_t tok_utf8_fit(const char *s, size_t n, size_t room)
{
	if (n <= room)
		return n;
	size_t k = room;
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return k;
}

const char *tok_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return "no error";
	case TOK_EUTF8:
		return "the text is not valid UTF-8";
	case TOK_ETOOLONG:
		return "the text is longer than the configured limit";
	case TOK_ENOSPACE:
		return "the text grows too much when normalised";
	case TOK_ENUL:
		return "the text holds U+0000";
	}
	return "unknown tokenizer error";
}

bool tok_code_dot(const struct tok_buf *b, uint32_t i)
{
	return i >= 2 && i < b->n && b->v[i].kind == TOK_NUM && b->v[i - 1].kind == TOK_PUNCT &&
	       b->norm[b->v[i - 1].noff] == '.' && !(b->v[i - 1].flags & TOK_F_SPACE) &&
	       !(b->v[i].flags & TOK_F_SPACE) && b->v[i - 2].kind == TOK_WORD &&
	       b->v[i - 2].nchars == 1;
}
