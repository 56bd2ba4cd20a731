/* slot: the date, meter ID and street address in a message. See
 * include/slot.h.
 *
 * Loading builds three read-only structures shaped for the per-message
 * path: an open-addressing hash of every vocabulary word with everything
 * it can mean (month, weekday, number, ordinal ending, filler, street
 * suffix, first word of a relative-date or cue phrase), a trie of the
 * street suffixes read backwards so compounds ("Hauptstraße") are found
 * by walking a word from its end, and arrays of phrase patterns chained
 * from their first element. slot_extract then walks the tokens twice: once
 * for the date and the meter ID, once for the address, which has to know
 * where the date and the meter are so it does not take their numbers for
 * a house number or a postcode. Most messages have no address, so that
 * walk only looks at words near a token that could be a house number, and
 * a bit filter over the vocabulary turns most words away before they are
 * hashed. Nothing on that path allocates. */
#include "slot.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "match.h"

#define WORD_MAX 64         /* longest vocabulary word after folding */
#define PAT_MAX 8           /* elements of a rel or cue phrase */
#define REL_NUM_MAX 999     /* the largest N a relative date accepts */
#define YEAR_MIN 1900       /* the range slot_date_days is valid for */
#define YEAR_MAX 9999
#define WRITTEN_YEAR_MIN 1900 /* years a customer plausibly writes */
#define WRITTEN_YEAR_MAX 2199
#define PAST_GRACE_DAYS 31  /* a year-less date this recent stays this year */
#define STALE_DAYS 366      /* a date further back is no move's */
#define MONTH_TYPO_MIN 5    /* letters of a month name, and of a word, read with a typo */
/* The day day_at gives for a W_DAY_LAST word, which make_date turns into
 * the month's last: no number written reads as it. */
#define DAY_LAST (-32)
#define EAN_DIGITS 18
#define EAN_RUN_MAX 24      /* number tokens looked at for one meter ID */
#define DE_METER_LEN 14
#define DE_ZP_LEN 33
#define MALO_DIGITS 11
#define MALO_CUE_BACK 10    /* tokens looked back for a MaLo ID's label */
#define NAME_WORDS_MAX 3    /* words of a street name before its suffix */
#define CITY_WORDS_MAX 3
#define DAY_ANSWER_WORDS 5 /* words beside a day alone that answer with it */
#define SOURCE_WORDS 2 /* words between a meter label and the document it was read from */
#define HOUSE_DIGITS_MAX 4
#define HOUSE_LETTERS_MAX 3 /* "123-II", "112-bis" */
#define JOIN_WORD_MAX 3 /* "og", "und", "&": a lower-case word in a name line */
#define OLD_AFTER_SCAN 12 /* tokens after an address an old_after phrase may start */
#define OTHER_NUMBER_GAP 4 /* words between an other_numbers phrase and its number */
#define LABEL_GAP 5        /* words between a fact's label and the fact: "meter ID of the new flat is" */
#define CORRECTION_GAP 1   /* words between a correction and the date it corrects, fillers aside */
#define NAME_ENDINGS_MAX 8
#define NAME_ENDING_LEN 7
#define NAME_ENDING_WORD_MIN 5 /* "Kieler", not "Oder" */
#define OPENER_ABBR_MAX 4   /* letters of an opener written with its dot: "St.", "Burg." */
#define COMPOUND_SUFFIX_MIN 3 /* "weg" may end a compound, "st" may not */
#define LOWER_SUFFIX_MIN 3    /* a lower-case "way" or "ave" names a street, "st" not */
#define COMPOUND_PREFIX_MIN 3 /* so "Spring" is not a street ending in "ring" */
#define LONG_SUFFIX_MIN 5     /* "gatan", "vägen": such a suffix ... */
#define SHORT_PREFIX_MIN 2    /* ... takes a name this short: "Åsgatan" */
#define CUE_SCAN_MAX 32     /* tokens of a sentence after a cue */
#define PARTICLE_GAP 3 /* words between a particle and the next date: "aus und dann am" */
#define PARTICIPLE_AFTER_MAX 6 /* tokens after a date a participle may end its clause */
#define DATE_CANDIDATES 4   /* dates of one message weighed against each other */
#define WCACHE 128          /* tokens whose lookups are remembered */
#define KEY_BUF 1024
#define KEY_UNITS 64
#define SEEN_LOG 14         /* the word filter has 1 << SEEN_LOG bits */

enum word_flag {
	W_ORDINAL = 1 << 0,
	W_FILLER = 1 << 1,
	W_NUMBER = 1 << 2,
	W_SUFFIX = 1 << 3,
	W_CLOCK = 1 << 4,       /* "at", "kl": before a time */
	W_CLOCK_AFTER = 1 << 5, /* "pm", "Uhr": after a time */
	W_DAY = 1 << 6,         /* "first", "ersten": a day of the month */
	W_PAST = 1 << 7,        /* "moved", "eingezogen": a phrase of the move in the past */
	W_DAY_LAST = 1 << 8,    /* "sista", "ultimo": the month's last day */
	W_PARTICLE = 1 << 9,    /* "de", "van": a lower-case word inside a street's name */
	W_UNIT = 1 << 10,       /* "lgh", "etasje", "OG": a flat or floor after the house number */
	W_NOT_STREET = 1 << 11, /* "Powerwall": an L2 trigger, never a street's name */
	W_NAME_ARTICLE = 1 << 12, /* "in die": before a place's adjective in a street's name */
	W_COUNTED = 1 << 13,    /* "months", "Wochen": a unit a number counts */
	W_CLOSER = 1 << 14,     /* "then", "bitte": may follow a date where its clause ends */
	W_OPENER = 1 << 15,     /* "Vestre", "Lilla", "St": opens a street's name */
	W_TITLE = 1 << 16,      /* "Dr", "Frau", "dhr": before a person's name */
	W_NAME_LEAD = 1 << 17,  /* "de", "på": before a street's capitalised name words */
	W_IN_PARTICLE = 1 << 18,  /* "ein": a separable verb's, ending the clause of the move in */
	W_OUT_PARTICLE = 1 << 19, /* "aus": the same, of the move out */
	W_OR = 1 << 20,           /* "or", "eller": "1 or 2 December" */
	W_GO = 1 << 21,           /* "going", "skal": before a to phrase, as a verb of moving */
	W_CITY_LINK = 1 << 22,    /* "am", "i", "aan": inside a city's name ("Frankfurt am Main") */
	W_CITY_PREP = 1 << 23,    /* "in", "i", "te": before the city after a house number */
	W_COUNTRY = 1 << 24,      /* "Norway", "Deutschland": no town ("moving to Germany, ...") */
};

struct word {
	uint32_t off;      /* the folded word in the pool */
	uint32_t hash;
	uint32_t flags;    /* enum word_flag */
	uint16_t len;      /* 0 marks an empty slot */
	uint8_t month;     /* 1..12, 0 when not a month */
	uint8_t weekday;   /* 1..7 from Monday, 0 when not a weekday */
	uint8_t last_weekday; /* "i måndags": the last such weekday by itself, 1..7 */
	int16_t number;    /* W_NUMBER */
	uint8_t day;       /* W_DAY: 1..31 */
	uint32_t abbr_off; /* W_SUFFIX: the abbreviation in the pool */
	uint16_t abbr_len;
	int32_t rel_head;  /* first rel pattern starting with this word, or -1 */
	int32_t cue_head;  /* first address cue phrase starting with this word, or -1 */
	int32_t dcue_head; /* first in, out, move or date cue phrase, or -1 */
	int32_t ocue_head; /* first old-address or sign-off phrase, or -1 */
};

enum elem_kind {
	E_WORD,    /* a literal word */
	E_NUM,     /* '#': digits or a number word */
	E_WEEKDAY, /* '@': a weekday name */
	E_COLON,   /* a cue phrase's trailing ':': a label ("Old: ...") */
};

struct elem {
	uint32_t off; /* E_WORD: the word in the pool */
	uint16_t len;
	uint8_t kind; /* enum elem_kind */
};

/* What a cue phrase announces: an address after it, or that the date
 * after it is the move in or the move out. */
enum cue_kind {
	CUE_NONE,    /* no phrase: what date_side says of a date with none */
	CUE_ADDRESS,
	CUE_MOVE_IN,
	CUE_MOVE_OUT,
	CUE_MOVE,         /* a bare verb of moving: the move in, right before a date */
	CUE_DATE,         /* "ab", "dato": a date follows, neither in nor out */
	CUE_MOVE_DATE,    /* "the move is", "Umzug ist": the same, naming the move */
	CUE_ASIDE,        /* "call me", "ring meg": the date after it is said in passing */
	CUE_START,        /* "startdato", "should start on": the contract's start, a move in */
	CUE_CORRECTION,   /* "nei vent", "Korrektur": the move in, said again */
	CUE_OLD_ADDRESS,  /* the address or meter ID right after it is the one left */
	CUE_FROM_ADDRESS, /* "from": the address right after it is left, if another follows */
	CUE_TO_ADDRESS,   /* "til": right after the address left, the new one follows */
	CUE_UNTIL,        /* "bis", "tot": the date after it ends a stay */
	CUE_SIGNOFF,      /* "Mvh" starting a line: the signature, no new address, follows */
	CUE_OLD_AFTER,    /* "that's my old flat": the address before it is the one left */
	CUE_OTHER_NUMBER, /* "KID", "OCR-nummer": the number after it is no meter ID */
	CUE_METER_LABEL,  /* "målepunkt-ID", "EAN": a meter ID's own label */
	CUE_CONTRACT,     /* "contract", "start date": a start phrase is the contract's */
};

enum rel_kind {
	R_DAY,
	R_WEEK,
	R_MONTH_START,
	R_MONTH_END,
	R_WEEKDAY,
	R_WEEKDAY_NEXT,
	R_WEEKDAY_PREV,
	R_WEEKDAY_LAST,
	R_NONE, /* a phrase that looks like a date but is none: "guten Morgen" */
};

struct pattern {
	struct elem e[PAT_MAX];
	uint8_t n;
	uint8_t kind;   /* rel patterns: enum rel_kind; cues: enum cue_kind */
	bool n_hash;    /* N is the phrase's '#', times add (the sign) */
	bool word1;     /* the second element is a word, of hash h1 */
	int16_t add;    /* N when fixed, the sign when n_hash */
	uint32_t h1;
	int32_t next;   /* next pattern with the same first element, or -1 */
};

/* A node of the reversed suffix trie. Index 0 is the root, which is
 * nobody's child, so 0 also means "none" in child and sibling. */
struct tnode {
	uint32_t child, sibling;
	uint32_t abbr_off;
	uint16_t abbr_len;
	uint8_t ch;
	bool term;
};

struct slot_vocab {
	struct buf_strs pool;
	struct word *words; /* open addressing, capacity a power of two */
	uint32_t nwords, wcap;
	uint16_t max_word;
	struct pattern *rels;
	uint32_t nrels, rels_cap;
	struct pattern *cues;
	uint32_t ncues, cues_cap;
	int32_t rel_num_head; /* rel patterns that start with '#' */
	int32_t rel_wd_head;  /* rel patterns that start with '@' */
	struct tnode *trie;
	uint32_t ntrie, trie_cap;
	/* Bit (last byte, byte before it) is set when some suffix ends that
	 * way; most words are turned away here before the trie walk. A
	 * one-byte suffix sets its last byte with every byte before it. */
	uint64_t ending[256 * 256 / 64];
	uint32_t troot[256]; /* the root's child for each last byte, or 0 */
	/* Month spellings of MONTH_TYPO_MIN letters or more, folded, for
	 * reading a misspelt one after a day ("15. febuar"). */
	struct month_word {
		uint32_t off; /* in the pool */
		uint8_t len, month;
	} *month_words;
	uint32_t nmonth_words, month_words_cap;
	/* Endings of a place's adjective that starts a street's name
	 * ("Eppendorfer Landstraße"), folded. */
	char name_endings[NAME_ENDINGS_MAX][NAME_ENDING_LEN + 1];
	uint8_t nname_endings;
	/* Bit seen_bit(w) is set for every word w in the table. Most words of
	 * a message are in no vocabulary, and this turns them away without
	 * hashing the whole word or probing the table. */
	uint64_t seen[(1u << SEEN_LOG) / 64];
};

/* ---- small helpers ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char upper(char c)
{
	return is_lower(c) ? (char)(c - 32) : c;
}

/* The value of n ASCII digits, or -1 when there are none, too many or
 * something else is among them. */
static int32_t digits_value(const char *p, size_t n)
{
	if (n == 0 || n > 9)
		return -1;
	int32_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static bool all_digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return false;
	return n > 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Shortens what an error message quotes of a line. */
static int qlen(size_t n)
{
	return n > 60 ? 60 : (int)n;
}

/* ---- the vocabulary's words ---- */

static uint32_t hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Compares the few bytes of a word in place: for words this short, a call
 * to memcmp costs more than the comparison. */
static bool same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* The filter bit of the word s[0..n), n > 0: a mix of its length and its
 * first, second and last bytes, which is cheap to compute and tells most
 * words apart. */
static uint32_t seen_bit(const char *s, size_t n)
{
	uint32_t x = (uint32_t)(uint8_t)s[0] | (uint32_t)(uint8_t)s[n > 1] << 8 |
		     (uint32_t)(uint8_t)s[n - 1] << 16;
	x = (x ^ (uint32_t)n << 24) * 2654435761u;
	return x >> (32 - SEEN_LOG);
}

static const struct word *lookup(const struct slot_vocab *v, const char *s, size_t n)
{
	if (!v || n == 0 || n > v->max_word || v->wcap == 0)
		return NULL;
	uint32_t bit = seen_bit(s, n);
	if (!(v->seen[bit / 64] & (UINT64_C(1) << (bit % 64))))
		return NULL;
	uint32_t h = hash_bytes(s, n);
	uint32_t mask = v->wcap - 1;
	/* The table is at most half full, so the probe meets an empty slot. */
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		const struct word *w = &v->words[i];
		if (w->len == 0)
			return NULL;
		if (w->hash == h && w->len == n && same_bytes(v->pool.s + w->off, s, n))
			return w;
	}
}

static void place(struct word *tab, uint32_t cap, const struct word *w)
{
	uint32_t mask = cap - 1;
	uint32_t i = w->hash & mask;
	while (tab[i].len)
		i = (i + 1) & mask;
	tab[i] = *w;
}

static int rehash(struct slot_vocab *v, uint32_t cap)
{
	struct word *tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -1;
	for (uint32_t i = 0; i < v->wcap; i++)
		if (v->words[i].len)
			place(tab, cap, &v->words[i]);
	free(v->words);
	v->words = tab;
	v->wcap = cap;
	return 0;
}

/* Finds or adds the folded word s[0..n). The pointer is good until the
 * next call. Returns NULL when memory is short. */
static struct word *word_add(struct slot_vocab *v, const char *s, size_t n)
{
	struct word *w = (struct word *)lookup(v, s, n);
	if (w)
		return w;
	if ((v->nwords + 1) * 2 > v->wcap &&
	    rehash(v, v->wcap ? v->wcap * 2 : 256) < 0)
		return NULL;
	struct word nw = {
		.hash = hash_bytes(s, n),
		.len = (uint16_t)n,
		.rel_head = -1,
		.cue_head = -1,
		.dcue_head = -1,
		.ocue_head = -1,
	};
	if (buf_strs_add(&v->pool, s, n, &nw.off) < 0)
		return NULL;
	place(v->words, v->wcap, &nw);
	v->nwords++;
	uint32_t bit = seen_bit(s, n);
	v->seen[bit / 64] |= UINT64_C(1) << (bit % 64);
	if (n > v->max_word)
		v->max_word = (uint16_t)n;
	return (struct word *)lookup(v, s, n);
}

static size_t ending_bit(uint8_t last, uint8_t before)
{
	return (size_t)last << 8 | before;
}

/* Adds the reversed suffix s[0..n) to the trie. */
static int trie_add(struct slot_vocab *v, const char *s, size_t n,
		    uint32_t abbr_off, uint16_t abbr_len)
{
	if (n == 0)
		return 0;
	uint8_t last = (uint8_t)s[n - 1];
	for (unsigned b = 0; b < 256; b++) {
		if (n >= 2 && b != (uint8_t)s[n - 2])
			continue;
		size_t bit = ending_bit(last, (uint8_t)b);
		v->ending[bit / 64] |= UINT64_C(1) << (bit % 64);
	}
	void *p = v->trie;
	if (v->ntrie == 0) {
		if (buf_grow(&p, &v->trie_cap, 1, sizeof(*v->trie)) < 0)
			return -1;
		v->trie = p;
		memset(&v->trie[0], 0, sizeof(v->trie[0]));
		v->ntrie = 1;
	}
	uint32_t node = 0;
	for (size_t k = n; k-- > 0;) {
		uint8_t c = (uint8_t)s[k];
		uint32_t ch = v->trie[node].child;
		while (ch && v->trie[ch].ch != c)
			ch = v->trie[ch].sibling;
		if (!ch) {
			p = v->trie;
			if (buf_grow(&p, &v->trie_cap, v->ntrie + 1, sizeof(*v->trie)) < 0)
				return -1;
			v->trie = p;
			ch = v->ntrie++;
			memset(&v->trie[ch], 0, sizeof(v->trie[ch]));
			v->trie[ch].ch = c;
			v->trie[ch].sibling = v->trie[node].child;
			v->trie[node].child = ch;
			if (node == 0)
				v->troot[c] = ch;
		}
		node = ch;
	}
	/* The first language to define a spelling decides its abbreviation. */
	if (!v->trie[node].term) {
		v->trie[node].term = true;
		v->trie[node].abbr_off = abbr_off;
		v->trie[node].abbr_len = abbr_len;
	}
	return 0;
}

/* The length of the longest street suffix that s[0..n) ends with, 0 when
 * there is none; *hit gets its node. */
static size_t suffix_match(const struct slot_vocab *v, const char *s, size_t n,
			   const struct tnode **hit)
{
	if (!v || v->ntrie == 0 || n == 0)
		return 0;
	size_t bit = ending_bit((uint8_t)s[n - 1], n >= 2 ? (uint8_t)s[n - 2] : 0);
	if (!(v->ending[bit / 64] & (UINT64_C(1) << (bit % 64))))
		return 0;
	uint32_t node = 0;
	size_t best = 0;
	for (size_t k = n; k-- > 0;) {
		uint32_t ch = node ? v->trie[node].child : v->troot[(uint8_t)s[k]];
		while (ch && v->trie[ch].ch != (uint8_t)s[k])
			ch = v->trie[ch].sibling;
		if (!ch)
			break;
		node = ch;
		if (v->trie[node].term) {
			best = n - k;
			if (hit)
				*hit = &v->trie[node];
		}
	}
	return best;
}

/* ---- vocabulary ---- */

struct slot_vocab *slot_vocab_new(void)
{
	struct slot_vocab *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->rel_num_head = -1;
	v->rel_wd_head = -1;
	return v;
}

void slot_vocab_free(struct slot_vocab *v)
{
	if (!v)
		return;
	free(v->pool.s);
	free(v->words);
	free(v->rels);
	free(v->cues);
	free(v->trie);
	free(v->month_words);
	free(v);
}

/* The next white-space separated field of *p. Returns false at the end. */
static bool next_field(const char **p, const char **f, size_t *n)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	*p = s;
	if (!*s)
		return false;
	const char *e = s;
	while (*e && *e != ' ' && *e != '\t' && *e != '\r' && *e != '\n')
		e++;
	*f = s;
	*n = (size_t)(e - s);
	*p = e;
	return true;
}

/* The next field that is not a comment. The pack loader strips comments
 * already; a field starting with '#' ends the line here as well so raw
 * lines work too. */
static bool next_word_field(const char **p, const char **f, size_t *n)
{
	return next_field(p, f, n) && **f != '#';
}

/* Folds one spelling into a single vocabulary word. Returns its length or
 * -1 with err set. */
static int fold_word(const char *s, size_t n, char *out, size_t cap, char *err,
		     size_t errlen)
{
	int len = tok_fold(s, n, out, cap);
	if (len < 0) {
		set_err(err, errlen, "\"%.*s\" is not valid UTF-8 or is too long.", qlen(n), s);
		return -1;
	}
	if (len == 0) {
		set_err(err, errlen, "\"%.*s\" has no letters or digits.", qlen(n), s);
		return -1;
	}
	if (memchr(out, ' ', (size_t)len)) {
		set_err(err, errlen, "\"%.*s\" must be a single word.", qlen(n), s);
		return -1;
	}
	return len;
}

/* What a line says about each spelling of a group. */
struct word_def {
	uint32_t flags;
	uint8_t month, weekday, last_weekday, day;
	int16_t number;
};

static int add_def(struct slot_vocab *v, const char *w, size_t n,
		   const struct word_def *d, char *err, size_t errlen)
{
	struct word *e = word_add(v, w, n);
	if (!e) {
		set_err(err, errlen, "Out of memory adding \"%.*s\".", qlen(n), w);
		return -1;
	}
	/* Languages share spellings ("okt", "di", "en"); the first meaning
	 * stays, so the order of the language files decides a clash. */
	if ((d->flags & W_NUMBER) && !(e->flags & W_NUMBER))
		e->number = d->number;
	if ((d->flags & W_DAY) && !(e->flags & W_DAY))
		e->day = d->day;
	e->flags |= d->flags;
	if (d->month && !e->month)
		e->month = d->month;
	if (d->weekday && !e->weekday)
		e->weekday = d->weekday;
	if (d->last_weekday && !e->last_weekday)
		e->last_weekday = d->last_weekday;
	return 0;
}

/* Keeps month spelling w[0..n), folded, when it is long enough to be
 * read with a typo. */
static int add_month_word(struct slot_vocab *v, const char *w, size_t n, uint8_t m,
			  char *err, size_t errlen)
{
	if (n < MONTH_TYPO_MIN)
		return 0;
	void *arr = v->month_words;
	uint32_t off;
	int grown = buf_grow(&arr, &v->month_words_cap, v->nmonth_words + 1,
			     sizeof(*v->month_words));
	v->month_words = arr;
	if (grown < 0 || buf_strs_add(&v->pool, w, n, &off) < 0) {
		set_err(err, errlen, "months: out of memory.");
		return -1;
	}
	v->month_words[v->nmonth_words++] = (struct month_word){ off, (uint8_t)n, m };
	return 0;
}

/* Adds every '|'-separated spelling of the group g[0..n) with meaning d. */
static int add_group(struct slot_vocab *v, const char *g, size_t n,
		     const struct word_def *d, char *err, size_t errlen)
{
	char buf[WORD_MAX + 1];
	const char *end = g + n;
	while (g < end) {
		const char *bar = memchr(g, '|', (size_t)(end - g));
		size_t len = (size_t)((bar ? bar : end) - g);
		int fl = fold_word(g, len, buf, sizeof(buf), err, errlen);
		if (fl < 0 || add_def(v, buf, (size_t)fl, d, err, errlen) < 0 ||
		    (d->month && add_month_word(v, buf, (size_t)fl, d->month, err, errlen) < 0))
			return -1;
		g += len + (bar ? 1 : 0);
	}
	return 0;
}

enum group_kind { G_MONTHS, G_WEEKDAYS, G_WEEKDAYS_LAST };


/* "months a|b c|d ..." (12 groups), "weekdays ..." and "weekdays_last
 * ..." (7 groups). */
static int parse_groups(struct slot_vocab *v, const char *p, const char *kw,
			enum group_kind kind, char *err, size_t errlen)
{
	const char *f;
	size_t n;
	int i = 0, want = kind == G_MONTHS ? 12 : 7;
	while (next_word_field(&p, &f, &n)) {
		struct word_def d = { 0 };
		if (i == want) {
			i++; /* One too many is enough to refuse the line. */
			break;
		}
		if (kind == G_MONTHS)
			d.month = (uint8_t)(i + 1);
		else if (kind == G_WEEKDAYS)
			d.weekday = (uint8_t)(i + 1);
		else
			d.last_weekday = (uint8_t)(i + 1);
		if (add_group(v, f, n, &d, err, errlen) < 0)
			return -1;
		i++;
	}
	if (i != want) {
		set_err(err, errlen, "%s: expected %d groups of spellings, in order.", kw, want);
		return -1;
	}
	return 0;
}

/* "numbers ein|eine=1 zwei=2 ..." or, when days, "days ersten|erste=1
 * zweiten=2 ... sista=last": the same WORD=N groups, numbers from 0 to
 * 999, days of the month from 1 to 31 or "last". */
static int parse_numbers(struct slot_vocab *v, const char *p, bool days, char *err,
			 size_t errlen)
{
	const char *kw = days ? "days" : "numbers";
	int32_t lo = days ? 1 : 0, hi = days ? 31 : REL_NUM_MAX;
	const char *f;
	size_t n;
	int count = 0;
	while (next_word_field(&p, &f, &n)) {
		const char *eq = memchr(f, '=', n);
		size_t vn = eq ? (size_t)(f + n - eq - 1) : 0;
		int32_t val = eq ? digits_value(eq + 1, vn) : -1;
		bool last = days && eq && vn == 4 && memcmp(eq + 1, "last", 4) == 0;
		if (!eq || eq == f || (!last && (val < lo || val > hi))) {
			set_err(err, errlen, "%s: \"%.*s\" is not WORD=N with N from %d to %d%s.", kw,
				qlen(n), f, (int)lo, (int)hi, days ? ", or WORD=last" : "");
			return -1;
		}
		struct word_def d = { .flags = W_NUMBER, .number = (int16_t)val };
		if (last)
			d = (struct word_def){ .flags = W_DAY_LAST };
		else if (days)
			d = (struct word_def){ .flags = W_DAY, .day = (uint8_t)val };
		if (add_group(v, f, (size_t)(eq - f), &d, err, errlen) < 0)
			return -1;
		count++;
	}
	if (!count) {
		set_err(err, errlen, "%s: the line lists no words.", kw);
		return -1;
	}
	return 0;
}

/* "ordinals st nd", "fillers of the". */
static int parse_flagged(struct slot_vocab *v, const char *p, uint32_t flag,
			 const char *kw, char *err, size_t errlen)
{
	const char *f;
	size_t n;
	int count = 0;
	while (next_word_field(&p, &f, &n)) {
		struct word_def d = { .flags = flag };
		if (add_group(v, f, n, &d, err, errlen) < 0)
			return -1;
		count++;
	}
	if (!count) {
		set_err(err, errlen, "%s: the line lists no words.", kw);
		return -1;
	}
	return 0;
}

/* Appends the words of phrase s[0..n), folded, to pt as E_WORD elements.
 * A label (label: a cue phrase that ends in ':', "old:") gets an E_COLON
 * after its words; a ':' anywhere else in a cue phrase is an error, since
 * folding would drop it. */
static int add_phrase_words(struct slot_vocab *v, struct pattern *pt, const char *s,
			    size_t n, bool label, char *err, size_t errlen)
{
	char buf[256];
	size_t end = n;
	while (end > 0 && strchr(" \t\r\n", s[end - 1]))
		end--;
	bool colon = label && end > 0 && s[end - 1] == ':';
	if (colon)
		n = end - 1;
	if (label && memchr(s, ':', n)) {
		set_err(err, errlen, "\"%.*s\": a ':' may only end a phrase, as a label's.",
			qlen(end), s);
		return -1;
	}
	if (tok_fold(s, n, buf, sizeof(buf)) < 0) {
		set_err(err, errlen, "\"%.*s\" is not valid UTF-8 or is too long.", qlen(n), s);
		return -1;
	}
	const char *q = buf;
	const char *f;
	size_t fl;
	while (next_field(&q, &f, &fl)) {
		if (pt->n >= PAT_MAX || fl > WORD_MAX)
			goto too_long;
		struct elem *e = &pt->e[pt->n++];
		e->kind = E_WORD;
		e->len = (uint16_t)fl;
		if (buf_strs_add(&v->pool, f, fl, &e->off) < 0) {
			set_err(err, errlen, "Out of memory adding \"%.*s\".", qlen(n), s);
			return -1;
		}
	}
	if (colon && pt->n == 0) {
		set_err(err, errlen, "\"%.*s\": a label needs a word before its ':'.", qlen(end), s);
		return -1;
	}
	if (colon && pt->n >= PAT_MAX)
		goto too_long;
	if (colon)
		pt->e[pt->n++] = (struct elem){ .kind = E_COLON };
	return 0;
too_long:
	set_err(err, errlen, "\"%.*s\": a phrase has at most %d words (a label %d) of at most %d bytes.",
		qlen(end), s, PAT_MAX, PAT_MAX - 1, WORD_MAX);
	return -1;
}

/* Whether a rel meaning takes its weekday from '@'. */
static bool is_weekday_kind(uint8_t kind)
{
	return kind == R_WEEKDAY || kind == R_WEEKDAY_NEXT || kind == R_WEEKDAY_PREV ||
	       kind == R_WEEKDAY_LAST;
}

/* Parses the meaning of a rel line ("day+1", "week+#", "weekday_next"). */
static int parse_meaning(const char *s, size_t n, struct pattern *pt)
{
	static const struct {
		const char *name;
		uint8_t kind;
	} names[] = {
		{ "weekday_next", R_WEEKDAY_NEXT }, { "weekday_last", R_WEEKDAY_LAST },
		{ "weekday_prev", R_WEEKDAY_PREV }, { "weekday", R_WEEKDAY },
		{ "month_start", R_MONTH_START },   { "month_end", R_MONTH_END },
		{ "week", R_WEEK },                 { "day", R_DAY },
		{ "none", R_NONE },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t nl = strlen(names[i].name);
		if (n < nl || memcmp(s, names[i].name, nl) != 0)
			continue;
		const char *r = s + nl;
		size_t rn = n - nl;
		bool wd = is_weekday_kind(names[i].kind);
		if (rn && (r[0] == '_' || (r[0] >= 'a' && r[0] <= 'z')))
			continue; /* "weekday" must not take "weekday_next". */
		pt->kind = names[i].kind;
		pt->n_hash = false;
		pt->add = 0;
		if (rn == 0)
			return 0;
		/* A weekday kind counts weeks on ("weekday_next+1": the week
		 * after next), never a number the message gives. */
		bool back = names[i].kind == R_WEEKDAY_PREV || names[i].kind == R_WEEKDAY_LAST;
		if (rn < 2 || (r[0] != '+' && r[0] != '-') ||
		    (wd && (back || r[0] != '+' || r[1] == '#')))
			return -1;
		int sign = r[0] == '-' ? -1 : 1;
		if (rn == 2 && r[1] == '#') {
			pt->n_hash = true;
			pt->add = (int16_t)sign;
			return 0;
		}
		int32_t val = digits_value(r + 1, rn - 1);
		if (val < 0 || val > REL_NUM_MAX)
			return -1;
		pt->add = (int16_t)(sign * val);
		return 0;
	}
	return -1;
}

/* Appends pattern pt to arr and chains it from its first element: the
 * word it starts with, or the '#' or '@' chain. */
static int add_pattern(struct slot_vocab *v, struct pattern **arr, uint32_t *n,
		       uint32_t *cap, struct pattern *pt, bool cue)
{
	void *p = *arr;
	if (*n >= INT32_MAX || buf_grow(&p, cap, *n + 1, sizeof(**arr)) < 0)
		return -1;
	*arr = p;
	int32_t idx = (int32_t)*n;
	int32_t *head;
	if (pt->e[0].kind == E_WORD) {
		/* word_add may move the pool the element points into. */
		char first[WORD_MAX + 1];
		memcpy(first, v->pool.s + pt->e[0].off, pt->e[0].len);
		struct word *w = word_add(v, first, pt->e[0].len);
		if (!w)
			return -1;
		head = !cue			       ? &w->rel_head
		       : pt->kind == CUE_ADDRESS      ? &w->cue_head
		       : pt->kind == CUE_OLD_ADDRESS || pt->kind == CUE_FROM_ADDRESS ||
				 pt->kind == CUE_TO_ADDRESS || pt->kind == CUE_UNTIL ||
				 pt->kind == CUE_SIGNOFF || pt->kind == CUE_OLD_AFTER ||
				 pt->kind == CUE_OTHER_NUMBER || pt->kind == CUE_METER_LABEL ||
				 pt->kind == CUE_CONTRACT
				 ? &w->ocue_head
						      : &w->dcue_head;
	} else {
		head = pt->e[0].kind == E_NUM ? &v->rel_num_head : &v->rel_wd_head;
	}
	pt->word1 = pt->n > 1 && pt->e[1].kind == E_WORD;
	if (pt->word1)
		pt->h1 = hash_bytes(v->pool.s + pt->e[1].off, pt->e[1].len);
	pt->next = *head;
	*head = idx;
	(*arr)[(*n)++] = *pt;
	return 0;
}

/* "rel in # tagen = day+#": the phrase, '#' for a number, '@' for a
 * weekday, then the meaning. */
static int parse_rel(struct slot_vocab *v, const char *p, char *err, size_t errlen)
{
	const char *eq = strchr(p, '=');
	if (!eq) {
		set_err(err, errlen, "rel: \"%.*s\" has no \"= MEANING\".", qlen(strlen(p)), p);
		return -1;
	}
	struct pattern pt = { .next = -1 };
	int nnum = 0, nwd = 0;
	const char *q = p;
	const char *f;
	size_t n;
	while (next_field(&q, &f, &n) && f < eq) {
		if (f + n > eq)
			n = (size_t)(eq - f);
		if (n == 1 && (*f == '#' || *f == '@')) {
			if (pt.n >= PAT_MAX) {
				set_err(err, errlen, "rel: a phrase has at most %d words.", PAT_MAX);
				return -1;
			}
			pt.e[pt.n++].kind = *f == '#' ? E_NUM : E_WEEKDAY;
			nnum += *f == '#';
			nwd += *f == '@';
		} else if (add_phrase_words(v, &pt, f, n, false, err, errlen) < 0) {
			return -1;
		}
	}
	if (pt.n == 0) {
		set_err(err, errlen, "rel: no phrase before \"=\".");
		return -1;
	}
	const char *r = eq + 1;
	if (!next_field(&r, &f, &n) || parse_meaning(f, n, &pt) < 0) {
		set_err(err, errlen,
			"rel: \"%.*s\" is not day, week, month_start or month_end (with +N, -N, +# "
			"or -#), weekday or weekday_next (with +N or none), weekday_prev, "
			"weekday_last or none.",
			qlen(strlen(eq + 1)),
			eq + 1);
		return -1;
	}
	if (next_field(&r, &f, &n) && f[0] != '#') {
		set_err(err, errlen, "rel: unexpected \"%.*s\" after the meaning.", qlen(n), f);
		return -1;
	}
	bool wd_kind = is_weekday_kind(pt.kind);
	if (nnum > 1 || nwd > 1 || wd_kind != (nwd == 1) || pt.n_hash != (nnum == 1)) {
		set_err(err, errlen,
			"rel: '@' goes with weekday, weekday_next, weekday_prev and weekday_last, '#' with +# "
			"or -#, each at most once.");
		return -1;
	}
	if (add_pattern(v, &v->rels, &v->nrels, &v->rels_cap, &pt, false) < 0) {
		set_err(err, errlen, "rel: out of memory.");
		return -1;
	}
	return 0;
}

/* "name_endings er": the endings of a place's adjective. */
static int parse_name_endings(struct slot_vocab *v, const char *p, char *err, size_t errlen)
{
	const char *f;
	size_t n;
	int count = 0;
	while (next_word_field(&p, &f, &n)) {
		char buf[WORD_MAX + 1];
		int fl = fold_word(f, n, buf, sizeof(buf), err, errlen);
		if (fl < 0)
			return -1;
		if (fl > NAME_ENDING_LEN || v->nname_endings == NAME_ENDINGS_MAX) {
			set_err(err, errlen, "name_endings: at most %d endings of at most %d bytes.",
				NAME_ENDINGS_MAX, NAME_ENDING_LEN);
			return -1;
		}
		memcpy(v->name_endings[v->nname_endings++], buf, (size_t)fl + 1);
		count++;
	}
	if (!count) {
		set_err(err, errlen, "name_endings: the line lists no endings.");
		return -1;
	}
	return 0;
}

/* "cue neue adresse | ziehen nach", "in einzug | neue wohnung": name is
 * the line's keyword, for errors. */
static int parse_cue(struct slot_vocab *v, const char *p, enum cue_kind kind, const char *name,
		     char *err, size_t errlen)
{
	int count = 0;
	while (*p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		struct pattern pt = { .kind = (uint8_t)kind, .next = -1 };
		if (add_phrase_words(v, &pt, p, len, true, err, errlen) < 0)
			return -1;
		if (pt.n) {
			if (add_pattern(v, &v->cues, &v->ncues, &v->cues_cap, &pt, true) < 0) {
				set_err(err, errlen, "%s: out of memory.", name);
				return -1;
			}
			/* A one-word label of another number names no street
			 * either: "clearing 8327-9" ends in "ring". */
			if (kind == CUE_OTHER_NUMBER && pt.n == 1 && pt.e[0].kind == E_WORD) {
				/* A copy: add_def may move the pool it is in. */
				char word[WORD_MAX + 1];
				struct word_def d = { .flags = W_NOT_STREET };
				memcpy(word, v->pool.s + pt.e[0].off, pt.e[0].len);
				if (add_def(v, word, pt.e[0].len, &d, err, errlen) < 0)
					return -1;
			}
			count++;
		}
		p += len + (bar ? 1 : 0);
	}
	if (!count) {
		set_err(err, errlen, "%s: the line lists no phrases.", name);
		return -1;
	}
	return 0;
}

/* Adds one suffix group "straße|str": every spelling maps to the group's
 * last spelling, its abbreviation. */
static int add_suffix_group(struct slot_vocab *v, const char *f, size_t n, char *err,
			    size_t errlen)
{
	char abbr[WORD_MAX + 1], buf[WORD_MAX + 1];
	const char *last = f;
	for (const char *b = f; b < f + n; b++)
		if (*b == '|')
			last = b + 1;
	int al = fold_word(last, (size_t)(f + n - last), abbr, sizeof(abbr), err, errlen);
	if (al < 0)
		return -1;
	uint32_t abbr_off;
	if (buf_strs_add(&v->pool, abbr, (size_t)al, &abbr_off) < 0) {
		set_err(err, errlen, "suffix: out of memory.");
		return -1;
	}
	const char *g = f, *end = f + n;
	while (g < end) {
		const char *bar = memchr(g, '|', (size_t)(end - g));
		size_t len = (size_t)((bar ? bar : end) - g);
		int fl = fold_word(g, len, buf, sizeof(buf), err, errlen);
		if (fl < 0)
			return -1;
		struct word *w = word_add(v, buf, (size_t)fl);
		if (!w || trie_add(v, buf, (size_t)fl, abbr_off, (uint16_t)al) < 0) {
			set_err(err, errlen, "suffix: out of memory.");
			return -1;
		}
		/* word_add and trie_add keep the first abbreviation given. */
		w = (struct word *)lookup(v, buf, (size_t)fl);
		if (!(w->flags & W_SUFFIX)) {
			w->flags |= W_SUFFIX;
			w->abbr_off = abbr_off;
			w->abbr_len = (uint16_t)al;
		}
		g += len + (bar ? 1 : 0);
	}
	return 0;
}

/* "suffix straße|str strasse|str weg" */
static int parse_suffix(struct slot_vocab *v, const char *p, char *err, size_t errlen)
{
	const char *f;
	size_t n;
	int count = 0;
	while (next_word_field(&p, &f, &n)) {
		if (add_suffix_group(v, f, n, err, errlen) < 0)
			return -1;
		count++;
	}
	if (!count) {
		set_err(err, errlen, "suffix: the line lists no suffixes.");
		return -1;
	}
	return 0;
}

/* The line keywords of the [dates] and [address] sections and what reads
 * them, in the order errors list them. */
enum line_kind { L_GROUPS, L_NUMBERS, L_FLAGGED, L_CUE, L_REL, L_SUFFIX, L_NAME_ENDINGS };

static const struct line_def {
	const char *section, *kw;
	uint8_t kind; /* enum line_kind */
	int arg;      /* the group kind, days (1), the word flag or the cue kind */
} line_defs[] = {
	{ "dates", "months", L_GROUPS, G_MONTHS },
	{ "dates", "weekdays", L_GROUPS, G_WEEKDAYS },
	{ "dates", "weekdays_last", L_GROUPS, G_WEEKDAYS_LAST },
	{ "dates", "numbers", L_NUMBERS, 0 },
	{ "dates", "days", L_NUMBERS, 1 },
	{ "dates", "ordinals", L_FLAGGED, W_ORDINAL },
	{ "dates", "fillers", L_FLAGGED, W_FILLER },
	{ "dates", "clock", L_FLAGGED, W_CLOCK },
	{ "dates", "clock_after", L_FLAGGED, W_CLOCK_AFTER },
	{ "dates", "past", L_FLAGGED, W_PAST },
	{ "dates", "counted", L_FLAGGED, W_COUNTED },
	{ "dates", "closers", L_FLAGGED, W_CLOSER },
	{ "dates", "in_particles", L_FLAGGED, W_IN_PARTICLE },
	{ "dates", "out_particles", L_FLAGGED, W_OUT_PARTICLE },
	{ "dates", "or", L_FLAGGED, W_OR },
	{ "dates", "rel", L_REL, 0 },
	{ "dates", "in", L_CUE, CUE_MOVE_IN },
	{ "dates", "out", L_CUE, CUE_MOVE_OUT },
	{ "dates", "move", L_CUE, CUE_MOVE },
	{ "dates", "cue", L_CUE, CUE_DATE },
	{ "dates", "move_cue", L_CUE, CUE_MOVE_DATE },
	{ "dates", "aside", L_CUE, CUE_ASIDE },
	{ "dates", "start", L_CUE, CUE_START },
	{ "dates", "corrections", L_CUE, CUE_CORRECTION },
	{ "dates", "contract", L_CUE, CUE_CONTRACT },
	{ "address", "suffix", L_SUFFIX, 0 },
	{ "address", "cue", L_CUE, CUE_ADDRESS },
	{ "address", "old", L_CUE, CUE_OLD_ADDRESS },
	{ "address", "old_after", L_CUE, CUE_OLD_AFTER },
	{ "address", "from", L_CUE, CUE_FROM_ADDRESS },
	{ "address", "to", L_CUE, CUE_TO_ADDRESS },
	{ "address", "until", L_CUE, CUE_UNTIL },
	{ "address", "particles", L_FLAGGED, W_PARTICLE },
	{ "address", "signoff", L_CUE, CUE_SIGNOFF },
	{ "address", "units", L_FLAGGED, W_UNIT },
	{ "address", "other_numbers", L_CUE, CUE_OTHER_NUMBER },
	{ "address", "meter_labels", L_CUE, CUE_METER_LABEL },
	{ "address", "name_endings", L_NAME_ENDINGS, 0 },
	{ "address", "name_articles", L_FLAGGED, W_NAME_ARTICLE },
	{ "address", "openers", L_FLAGGED, W_OPENER },
	{ "address", "titles", L_FLAGGED, W_TITLE },
	{ "address", "name_leads", L_FLAGGED, W_NAME_LEAD },
	{ "address", "go", L_FLAGGED, W_GO },
	{ "address", "city_links", L_FLAGGED, W_CITY_LINK },
	{ "address", "city_preps", L_FLAGGED, W_CITY_PREP },
	{ "address", "countries", L_FLAGGED, W_COUNTRY },
};
#define NLINE_DEFS (sizeof(line_defs) / sizeof(line_defs[0]))

int slot_vocab_line(struct slot_vocab *v, int lang, const char *section,
		    const char *line, char *err, size_t errlen)
{
	/* The vocabulary is merged across languages: customers mix them, and
	 * a German customer may well write "1st of March". lang stays in the
	 * signature for the loader's bookkeeping. */
	(void)lang;
	if (err && errlen)
		err[0] = '\0';
	if (!v || !section || !line) {
		set_err(err, errlen, "No vocabulary, section or line given.");
		return -1;
	}
	const char *p = line;
	const char *kw;
	size_t kn;
	if (!next_word_field(&p, &kw, &kn)) {
		set_err(err, errlen, "The line is empty.");
		return -1;
	}
	size_t k = 0;
	while (k < NLINE_DEFS &&
	       (strcmp(line_defs[k].section, section) != 0 || strlen(line_defs[k].kw) != kn ||
		memcmp(line_defs[k].kw, kw, kn) != 0))
		k++;
	if (k < NLINE_DEFS) {
		const struct line_def *d = &line_defs[k];
		switch (d->kind) {
		case L_GROUPS:
			return parse_groups(v, p, d->kw, (enum group_kind)d->arg, err, errlen);
		case L_NUMBERS:
			return parse_numbers(v, p, d->arg != 0, err, errlen);
		case L_FLAGGED:
			return parse_flagged(v, p, (uint32_t)d->arg, d->kw, err, errlen);
		case L_CUE:
			return parse_cue(v, p, (enum cue_kind)d->arg, d->kw, err, errlen);
		case L_REL:
			return parse_rel(v, p, err, errlen);
		case L_SUFFIX:
			return parse_suffix(v, p, err, errlen);
		default:
			return parse_name_endings(v, p, err, errlen);
		}
	}
	/* Name the section's line keywords, from the table. */
	char names[512];
	size_t n = 0, count = 0, seen = 0;
	for (k = 0; k < NLINE_DEFS; k++)
		count += strcmp(line_defs[k].section, section) == 0;
	for (k = 0; k < NLINE_DEFS && n < sizeof(names); k++) {
		if (strcmp(line_defs[k].section, section) != 0)
			continue;
		seen++;
		int w = snprintf(names + n, sizeof(names) - n, "%s%s",
				 seen == 1 ? "" : seen == count ? " or " : ", ", line_defs[k].kw);
		n += w > 0 ? (size_t)w : 0;
	}
	if (count)
		set_err(err, errlen, "[%s] lines start with %s, not \"%.*s\".", section, names,
			qlen(kn), kw);
	else
		set_err(err, errlen, "Unknown slot section \"%.*s\"; expected dates or address.",
			qlen(strlen(section)), section);
	return -1;
}

int slot_vocab_not_street(struct slot_vocab *v, const char *word, size_t n, char *err,
			  size_t errlen)
{
	struct word_def d = { .flags = W_NOT_STREET };
	if (!v || !word || memchr(word, '|', n)) {
		set_err(err, errlen, "No vocabulary or not one word.");
		return -1;
	}
	return add_group(v, word, n, &d, err, errlen);
}

/* ---- dates ---- */

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const uint8_t dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m < 1 || m > 12)
		return 0;
	return m == 2 && leap(y) ? 29 : dim[m - 1];
}

static bool date_ok(int y, int m, int d)
{
	return y >= YEAR_MIN && y <= YEAR_MAX && m >= 1 && m <= 12 && d >= 1 &&
	       d <= days_in_month(y, m);
}

bool slot_date_valid(struct slot_date d)
{
	return date_ok(d.y, d.m, d.d);
}

int32_t slot_date_days(struct slot_date d)
{
	/* Howard Hinnant's days_from_civil. */
	int32_t y = d.y;
	uint32_t m = d.m, dd = d.d;
	y -= m <= 2;
	int32_t era = (y >= 0 ? y : y - 399) / 400;
	uint32_t yoe = (uint32_t)(y - era * 400);
	uint32_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + dd - 1;
	uint32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int32_t)doe - 719468;
}

struct slot_date slot_date_from_days(int32_t z)
{
	/* Outside the documented range the result is clamped rather than
	 * left to overflow. */
	const int32_t lo = -25567;  /* 1900-01-01 */
	const int32_t hi = 2932896; /* 9999-12-31 */
	if (z < lo)
		z = lo;
	if (z > hi)
		z = hi;
	z += 719468;
	int32_t era = (z >= 0 ? z : z - 146096) / 146097;
	uint32_t doe = (uint32_t)(z - era * 146097);
	uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int32_t y = (int32_t)yoe + era * 400;
	uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint32_t mp = (5 * doy + 2) / 153;
	uint32_t d = doy - (153 * mp + 2) / 5 + 1;
	uint32_t m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	struct slot_date r = { (int16_t)y, (uint8_t)m, (uint8_t)d };
	return r;
}

int slot_date_weekday(struct slot_date d)
{
	/* 1970-01-01 was a Thursday. */
	int32_t z = slot_date_days(d);
	return (int)(((z % 7) + 7 + 3) % 7);
}

void slot_date_iso(struct slot_date d, char out[SLOT_DATE_ISO])
{
	snprintf(out, SLOT_DATE_ISO, "%04d-%02d-%02d", d.y, d.m, d.d);
}

int slot_date_parse_iso(const char *s, struct slot_date *out)
{
	if (!s || !out)
		return -1;
	for (int i = 0; i < 10; i++) {
		bool dash = i == 4 || i == 7;
		if (dash ? s[i] != '-' : !is_digit(s[i]))
			return -1;
	}
	if (s[10] != '\0')
		return -1;
	int y = (int)digits_value(s, 4);
	int m = (int)digits_value(s + 5, 2);
	int d = (int)digits_value(s + 8, 2);
	if (!date_ok(y, m, d))
		return -1;
	out->y = (int16_t)y;
	out->m = (uint8_t)m;
	out->d = (uint8_t)d;
	return 0;
}

bool slot_gs1_valid(const char *digits, size_t n)
{
	if (!digits || n < 2 || !all_digits(digits, n))
		return false;
	unsigned sum = 0;
	unsigned w = 3;
	for (size_t i = n - 1; i-- > 0;) {
		sum += (unsigned)(digits[i] - '0') * w;
		w = w == 3 ? 1 : 3;
	}
	return (10 - sum % 10) % 10 == (unsigned)(digits[n - 1] - '0');
}

/* ---- the per-message scan ---- */

/* A date found in the message. */
struct date_found {
	struct slot_date d;
	uint32_t a, e; /* its tokens [a, e) */
	bool rel;
	bool day_word; /* "today", "i morgen", "yesterday", "vor 2 Tagen": a day
	                  word, at most a day ahead, or a relative date past */
	bool weekday;  /* a weekday with nothing saying which week: "on Monday" */
	bool day_only; /* a day of the month alone: "we move on the 1st" */
	bool anchored; /* day_only, in the month of a date before it */
	bool stale;    /* over a year gone: a birth date, never the move's */
};

struct scan {
	const struct slot_vocab *v;
	const char *text;
	const struct tok_buf *b;
	uint32_t n;
	struct slot_date today;
	int32_t today_days;
	bool today_ok;
	/* The dates found, in text order, and the meter ID's tokens [i0, i1):
	 * none of them is part of an address. */
	struct date_found dates[DATE_CANDIDATES];
	uint32_t ndates;
	uint32_t meter_i0, meter_i1;
	/* Vocabulary lookups of the first WCACHE tokens (NULL for a token
	 * that is no word or no known one), made once before the scan: its
	 * first pass looks every word up anyway, and the scan asks about a
	 * hundred times a message. */
	const struct word *const *words;
};

static inline const struct tok *tk(const struct scan *s, uint32_t i)
{
	return &s->b->v[i];
}

static inline const char *nt(const struct scan *s, uint32_t i)
{
	return s->b->norm + s->b->v[i].noff;
}

static bool is_punct(const struct scan *s, uint32_t i, char c)
{
	return i < s->n && tk(s, i)->kind == TOK_PUNCT && tk(s, i)->nlen == 1 &&
	       nt(s, i)[0] == c;
}

/* True when token i exists and no white space separates it from the
 * token before. */
static bool glued(const struct scan *s, uint32_t i)
{
	return i < s->n && !(tk(s, i)->flags & TOK_F_SPACE);
}

/* The value of token i when it is a plain number of mind..maxd digits. */
static int32_t num_at(const struct scan *s, uint32_t i, uint32_t mind, uint32_t maxd)
{
	if (i >= s->n || tk(s, i)->kind != TOK_NUM)
		return -1;
	uint32_t n = tk(s, i)->nlen;
	if (n < mind || n > maxd)
		return -1;
	return digits_value(nt(s, i), n);
}

static inline const struct word *word_at(const struct scan *s, uint32_t i)
{
	if (i < WCACHE)
		return i < s->n ? s->words[i] : NULL;
	if (i >= s->n || tk(s, i)->kind != TOK_WORD)
		return NULL;
	return lookup(s->v, nt(s, i), tk(s, i)->nlen);
}

static bool used(const struct scan *s, uint32_t i)
{
	for (uint32_t k = 0; k < s->ndates; k++)
		if (i >= s->dates[k].a && i < s->dates[k].e)
			return true;
	return i >= s->meter_i0 && i < s->meter_i1;
}

/* Makes a date from what the customer wrote; y is 0 when no year was
 * given and a two-digit year means 20yy. */
static bool make_date(const struct scan *s, int y, int m, int d, struct slot_date *out)
{
	bool last = d == DAY_LAST;
	if (m < 1 || m > 12 || (!last && (d < 1 || d > days_in_month(2000, m))))
		return false;
	if (y > 0) {
		if (y < 100)
			y += 2000;
		if (last)
			d = days_in_month(y, m);
		if (y < WRITTEN_YEAR_MIN || y > WRITTEN_YEAR_MAX || !date_ok(y, m, d))
			return false;
		out->y = (int16_t)y;
		out->m = (uint8_t)m;
		out->d = (uint8_t)d;
		return true;
	}
	if (!s->today_ok)
		return false;
	/* A move-in date lies ahead, but customers also mention a move that
	 * just happened, so the first occurrence no more than a month ago is
	 * taken: starting last year catches "20 December" said on 10
	 * January, and the loop also finds the next 29 February. */
	for (int yy = s->today.y - 1; yy <= s->today.y + 8 && yy <= YEAR_MAX; yy++) {
		if (last)
			d = days_in_month(yy, m);
		if (!date_ok(yy, m, d))
			continue;
		struct slot_date c = { (int16_t)yy, (uint8_t)m, (uint8_t)d };
		if (slot_date_days(c) >= s->today_days - PAST_GRACE_DAYS) {
			*out = c;
			return true;
		}
	}
	return false;
}

static bool ordinal_word(const struct scan *s, uint32_t i)
{
	const struct word *w = word_at(s, i);
	return w && (w->flags & W_ORDINAL);
}

static bool filler_word(const struct scan *s, uint32_t i)
{
	const struct word *w = word_at(s, i);
	return w && (w->flags & W_FILLER);
}

/* Whether a clock word stands right before token i ("at", "kl.") or one
 * of those that follow a time right after it ("pm", "Uhr"): then "9.05"
 * is a time. The two are kept apart because the vocabulary is shared by
 * the languages: English "am" after a time is German "am" before a date. */
static bool clock_around(const struct scan *s, uint32_t i)
{
	uint32_t b = i > 0 && is_punct(s, i - 1, '.') ? i - 1 : i;
	const struct word *w;
	if (b > 0 && tk(s, b - 1)->kind == TOK_WORD && (w = word_at(s, b - 1)) &&
	    (w->flags & W_CLOCK))
		return true;
	return i + 1 < s->n && tk(s, i + 1)->kind == TOK_WORD && (w = word_at(s, i + 1)) &&
	       (w->flags & W_CLOCK_AFTER);
}

/* Whether w is a number word of the tens a day can have: "twenty",
 * "thirty". */
static bool tens_word(const struct word *w)
{
	return w && (w->flags & W_NUMBER) && (w->number == 20 || w->number == 30);
}

/* Reads a day at token i: "1", "1." (when dot), "1st", "1e", "1:a", or,
 * when words, a day word ("first", "ersten", "første") or a tens number
 * word and a day word of 1 to 9 ("twenty-first", which the tokenizer
 * splits). Returns the index after it, or 0. */
static uint32_t day_at(const struct scan *s, uint32_t i, bool dot, bool words, int *day)
{
	if (i >= s->n)
		return 0;
	const struct tok *t = tk(s, i);
	const char *p = nt(s, i);
	uint32_t j = i + 1;
	int32_t d;
	if (t->kind == TOK_NUM) {
		d = num_at(s, i, 1, 2);
		if (d < 1 || d > 31)
			return 0;
		if (dot && is_punct(s, j, '.') && glued(s, j))
			j++;
		else if (is_punct(s, j, ':') && glued(s, j) && glued(s, j + 1) &&
			 ordinal_word(s, j + 1))
			j += 2;
	} else if (t->kind == TOK_WORD) {
		uint32_t k = 0;
		while (k < t->nlen && is_digit(p[k]))
			k++;
		if (k == 0) {
			/* "the first of March", "den ersten März": only a day
			 * word is a day, never a number word ("moving to March"
			 * is not the 2nd: Norwegian "to"). */
			const struct word *w = word_at(s, i);
			const struct word *u;
			if (!words || !w)
				return 0;
			/* "sista januari": make_date finds the month's last. */
			if (w->flags & W_DAY_LAST) {
				*day = DAY_LAST;
				return j;
			}
			if (w->flags & W_DAY) {
				/* The "first" of "thirty-first" is read with its
				 * tens or not at all: never 1 February. */
				if (w->day <= 9 && i > 0 && tens_word(word_at(s, i - 1)))
					return 0;
				d = w->day;
			} else if (tens_word(w) && (u = word_at(s, j)) && (u->flags & W_DAY) &&
				   u->day <= 9) {
				d = w->number + u->day;
				j++;
			} else {
				return 0;
			}
		} else {
			const struct word *w = lookup(s->v, p + k, t->nlen - k);
			if (k > 2 || !w || !(w->flags & W_ORDINAL))
				return 0;
			d = digits_value(p, k);
		}
		if (d < 1 || d > 31)
			return 0;
	} else {
		return 0;
	}
	*day = (int)d;
	return j;
}

/* Skips up to two filler words ("of the"). */
static uint32_t skip_fillers(const struct scan *s, uint32_t i)
{
	for (int k = 0; k < 2 && filler_word(s, i); k++)
		i++;
	return i;
}

/* The month at token i, 0 when none. */
static int month_at(const struct scan *s, uint32_t i)
{
	const struct word *w = word_at(s, i);
	return w ? w->month : 0;
}

/* The month a word at token i no vocabulary knows is one typo away from,
 * both of MONTH_TYPO_MIN letters or more: a letter left out or added, or
 * two swapped ("febuar", "apirl", "Marhc"); not one replaced, which
 * makes other words ("5 match", "marsh"). Only read after a day ("15.
 * febuar"). 0 when none, or when two months are as near. */
static int month_typo_at(const struct scan *s, uint32_t i)
{
	if (i >= s->n)
		return 0;
	const struct tok *t = tk(s, i);
	if (t->kind != TOK_WORD || t->nchars < MONTH_TYPO_MIN || word_at(s, i))
		return 0;
	int m = 0;
	for (uint32_t k = 0; k < s->v->nmonth_words; k++) {
		const struct month_word *mw = &s->v->month_words[k];
		const char *spelt = s->v->pool.s + mw->off;
		if (match_one_edit(nt(s, i), t->nlen, spelt, mw->len) &&
		    (t->nlen != mw->len || match_swapped(nt(s, i), spelt, mw->len))) {
			if (m && m != mw->month)
				return 0;
			m = mw->month;
		}
	}
	return m;
}

/* Reads an optional year at token i: "2027" or ", 2027". Returns the index
 * after it with *y set, or i with *y = 0. */
static uint32_t year_at(const struct scan *s, uint32_t i, int *y)
{
	uint32_t j = i;
	*y = 0;
	if (is_punct(s, j, ','))
		j++;
	int32_t v = num_at(s, j, 4, 4);
	if (v < WRITTEN_YEAR_MIN || v > WRITTEN_YEAR_MAX)
		return i;
	*y = (int)v;
	return j + 1;
}

/* The index after a month abbreviation's dot ("Jan."), or i. */
static uint32_t skip_dot(const struct scan *s, uint32_t i)
{
	return is_punct(s, i, '.') && glued(s, i) ? i + 1 : i;
}

static bool house_number(const struct scan *s, uint32_t i);

static bool date_cue_before(const struct scan *s, uint32_t i, bool cue_only);
static uint32_t cue_at(const struct scan *s, uint32_t i, int32_t head, enum cue_kind *kind);

/* Whether what comes at token e, after a month and a day word, with year
 * y (0 for none), ends them as a date: a year, the clause's end, a closer
 * ("the 1st then"), or a phrase of the move or a date cue ("første mars
 * flytter vi inn"). Any
 * other word makes the day word that word's ordinal: "in March the first
 * bill", "i april andra veckan", "im März erste Woche". */
static bool pair_ends(const struct scan *s, uint32_t e, int y)
{
	const struct word *w;
	return y || e >= s->n || tk(s, e)->kind == TOK_PUNCT ||
	       ((w = word_at(s, e)) &&
		((w->flags & W_CLOSER) || (w->dcue_head >= 0 && cue_at(s, e, w->dcue_head, NULL))));
}

/* Whether a day word before a month, side by side with no filler between,
 * from token a to before token e with year y (0 for none), are a date. It
 * is as often something else: "we may first need", "first may I ask". So
 * they are where pair_ends says so, where a phrase of the move or a date
 * cue stands right before them, fillers between ("vi flytter første mars
 * så ..."), or where a filler stands before them ("den første mars"). */
static bool word_pair_date(const struct scan *s, uint32_t a, uint32_t e, int y)
{
	return pair_ends(s, e, y) || date_cue_before(s, a, false) || (a > 0 && filler_word(s, a - 1));
}

static uint32_t rel_at(const struct scan *s, uint32_t i, struct date_found *out);

/* "1st of March", "1. März 2027", "15 juni", "1e maart", "1:a mars",
 * "første mars". */
static uint32_t monthday_at(const struct scan *s, uint32_t i, struct slot_date *out);
static bool street_word(const struct scan *s, uint32_t i, size_t *name_len);

static uint32_t daymonth_at(const struct scan *s, uint32_t i, struct slot_date *out)
{
	int d, y;
	uint32_t j = day_at(s, i, true, true, &d);
	if (!j)
		return 0;
	uint32_t k = skip_fillers(s, j);
	int m = month_at(s, k);
	/* A misspelt month is no name: not before a capitalised word or a
	 * street's suffix ("14 Augusta Road"), nor after a house number
	 * ("Hauptstraße 5 Marsch"). */
	if (!m && is_digit(nt(s, i)[0]) && (m = month_typo_at(s, k)) &&
	    (house_number(s, i) ||
	     (k + 1 < s->n && tk(s, k + 1)->kind == TOK_WORD &&
	      ((tk(s, k + 1)->flags & TOK_F_CAP) ||
	       (word_at(s, k + 1) && (word_at(s, k + 1)->flags & W_SUFFIX))))))
		m = 0;
	/* "solveien 3 i mai", "Lindenstraße 7 im Mai": the house number and the
	 * month. Without a filler ("Baker Street 1 March") or with the day's
	 * dot ("Storgata 1. mai") it is read as the date, as before. */
	if (!m || (k > j && j == i + 1 && tk(s, i)->kind == TOK_NUM && house_number(s, i)))
		return 0;
	/* A month that opens a `rel` phrase is that phrase's word: "zum 15.
	 * des Monats" is no 15 December (nb "des"). */
	struct date_found rel;
	if (rel_at(s, k, &rel))
		return 0;
	/* "moving to baker street 21 on december 1": after a street's word,
	 * a number, a filler and a month with a day of its own after it are
	 * the house number and that day. */
	struct slot_date own;
	size_t name_len;
	if (k > j && j == i + 1 && tk(s, i)->kind == TOK_NUM && i > 0 &&
	    street_word(s, i - 1, &name_len) && monthday_at(s, k, &own))
		return 0;
	bool word = tk(s, i)->kind == TOK_WORD && !is_digit(nt(s, i)[0]);
	bool bare = word && k == j;
	j = k;
	uint32_t e = year_at(s, skip_dot(s, j + 1), &y);
	if (!y)
		e = j + 1;
	if (bare && !word_pair_date(s, i, e, y))
		return 0;
	return make_date(s, y, m, d, out) ? e : 0;
}

/* "March 1st", "March 1", "March 1, 2027", "March the 1st", "March
 * first" (pair_ends says when a day word after the month, fillers
 * between or not, is the day). */
static uint32_t monthday_at(const struct scan *s, uint32_t i, struct slot_date *out)
{
	int m = month_at(s, i);
	int d, y;
	/* A misspelt month before its day ("Decmber 1st") is read where a
	 * phrase of the move or a date cue announces it, or it ends the
	 * clause, the day a number. */
	bool typo = !m && (m = month_typo_at(s, i)) != 0;
	if (!m)
		return 0;
	uint32_t k = skip_dot(s, i + 1);
	uint32_t j = skip_fillers(s, k);
	uint32_t e = day_at(s, j, false, true, &d);
	/* A day number with its dot and a month of its own after it is that
	 * month's: "Straße des 17. Juni" (nb "des" is December). Without the
	 * dot the word may be no month: "March 15 may change". */
	uint32_t dot_end = skip_dot(s, e);
	if (!e || (tk(s, j)->kind == TOK_NUM && dot_end > e && month_at(s, skip_fillers(s, dot_end))))
		return 0;
	uint32_t ye = year_at(s, e, &y);
	if (tk(s, j)->kind == TOK_WORD && !is_digit(nt(s, j)[0]) && !pair_ends(s, ye, y))
		return 0;
	if (typo &&
	    (!is_digit(nt(s, j)[0]) || (!pair_ends(s, ye, y) && !date_cue_before(s, i, false))))
		return 0;
	return make_date(s, y, m, d, out) ? ye : 0;
}

/* Whether tokens from k on are punctuation only. */
static bool ends_here(const struct scan *s, uint32_t k)
{
	for (; k < s->n; k++)
		if (tk(s, k)->kind != TOK_PUNCT)
			return false;
	return true;
}

/* Whether token i is all the message says, but fillers before it and
 * punctuation after it. */
static bool said_alone(const struct scan *s, uint32_t i)
{
	return skip_fillers(s, 0) == i && ends_here(s, i + 1);
}

/* One number token with dots: "15.04", "15.04.", "15.4.", "15.04.2027",
 * "2027.04.15". */
static uint32_t dotted_at(const struct scan *s, uint32_t i, struct slot_date *out)
{
	const char *p = nt(s, i);
	uint32_t n = tk(s, i)->nlen;
	uint32_t start[3], len[3];
	uint32_t np = 0, k = 0;
	while (k <= n) {
		uint32_t b = k;
		while (k < n && is_digit(p[k]))
			k++;
		if (np == 3 || k == b || (k < n && p[k] != '.'))
			return 0;
		start[np] = b;
		len[np++] = k - b;
		k++;
	}
	if (np < 2)
		return 0;
	int32_t a = digits_value(p + start[0], len[0]);
	int32_t b = digits_value(p + start[1], len[1]);
	if (np == 2) {
		bool dot = is_punct(s, i + 1, '.') && glued(s, i + 1);
		/* "1.5" is more likely a number than the first of May ("15.3
		 * kWh"); a two-digit month, a closing dot or a phrase of the
		 * move or a date cue right before it ("startdato 15.3", "ab
		 * 1.5") says it is a date, unless a clock word says it is a
		 * time ("at 9.05"). So does a message that is the number
		 * alone, fillers before it ("15.4", "den 15.4"): the answer to
		 * the question for the date. */
		if (len[0] > 2 || len[1] > 2 || (!dot && clock_around(s, i)) ||
		    (len[1] < 2 && !dot && !date_cue_before(s, i, false) && !said_alone(s, i)))
			return 0;
		return make_date(s, 0, b, a, out) ? i + 1 + dot : 0;
	}
	int32_t c = digits_value(p + start[2], len[2]);
	if (len[0] == 4 && len[1] <= 2 && len[2] <= 2)
		return make_date(s, a, b, c, out) ? i + 1 : 0;
	if (len[0] <= 2 && len[1] <= 2 && (len[2] == 2 || len[2] == 4))
		return make_date(s, c, b, a, out) ? i + 1 : 0;
	return 0;
}

/* Whether a phrase of the move or a date cue stands in the clause of
 * token i, before it: no punctuation between. */
static bool date_cue_in_clause(const struct scan *s, uint32_t i)
{
	for (uint32_t j = i; j > 0 && tk(s, j - 1)->kind != TOK_PUNCT; j--) {
		const struct word *w = word_at(s, j - 1);
		uint32_t e;
		if (w && w->dcue_head >= 0 && (e = cue_at(s, j - 1, w->dcue_head, NULL)) && e <= i)
			return true;
	}
	return false;
}

static bool cap_word(const struct scan *s, uint32_t k);

/* Numbers joined by '-' or '/' with nothing between: "2027-03-01",
 * "01-03-2027", "14/02", "14/02/2027", "15-02" (day first). */
static uint32_t sep_at(const struct scan *s, uint32_t i, struct slot_date *out)
{
	char sep = is_punct(s, i + 1, '-') ? '-' : is_punct(s, i + 1, '/') ? '/' : 0;
	if (!sep || !glued(s, i + 1) || !glued(s, i + 2))
		return 0;
	uint32_t la = tk(s, i)->nlen;
	int32_t a = num_at(s, i, 1, 4);
	int32_t b = num_at(s, i + 2, 1, 2);
	if (a < 0 || b < 0 || la == 3)
		return 0;
	int32_t c = -1;
	uint32_t lc = 0;
	if (is_punct(s, i + 3, sep) && glued(s, i + 3) && glued(s, i + 4)) {
		c = num_at(s, i + 4, 1, 4);
		lc = c >= 0 ? tk(s, i + 4)->nlen : 0;
	}
	if (la == 4)
		return c >= 0 && lc <= 2 && make_date(s, a, b, c, out) ? i + 5 : 0;
	/* Day first, as the customers of all four countries write; the
	 * month first only where the day cannot be a month: "2/14/2027". */
	bool us = sep == '/' && a <= 12 && b > 12;
	if (c >= 0 && (lc == 2 || lc == 4))
		return make_date(s, c, us ? a : b, us ? b : a, out) ? i + 5 : 0;
	/* "1-3" and "10-12" are ranges, "Storgata 10-2" a flat, "kl 08-10"
	 * and "08-12 Uhr" hours. A day and month joined by '-' alone are a
	 * date, no tail of a longer chain ("2027-13-01") and no clock word
	 * around them, where
	 * - the month has its zero ("15-02", "1-03");
	 * - the day has its zero and a phrase of the move is in their clause
	 *   ("verhuizen 01-12", "Intrek in nieuw appartement op 01-12"; not
	 *   "available 08-12");
	 * - a cue line's phrase stands right before them and no counted unit
	 *   after ("per 1-3", "verhuisdatum 1-3 en ..."; not "per 1-3
	 *   maanden");
	 * - a phrase of the move stands right before them and they can be no
	 *   range, which goes up, nor a house number, which a name follows
	 *   ("Verhuizing 20-12", "Umzug am 1-1"; not "we move in 1-2 weeks",
	 *   "Neue Adresse: 12-3 Hauptstraße"). */
	bool timed = clock_around(s, i) || clock_around(s, i + 2);
	bool zero = (tk(s, i + 2)->nlen == 2 && nt(s, i + 2)[0] == '0') ||
		    (la == 2 && nt(s, i)[0] == '0' && date_cue_in_clause(s, i));
	bool tail = i > 0 && glued(s, i) && tk(s, i - 1)->kind == TOK_PUNCT;
	const struct word *after = word_at(s, i + 3);
	bool counted = after && (after->flags & W_COUNTED);
	bool cued = !counted && (date_cue_before(s, i, true) ||
				 (a >= b && !cap_word(s, i + 3) && date_cue_before(s, i, false)));
	if (c < 0 && (sep == '/' || (!tail && !timed && (zero || cued))))
		return make_date(s, 0, us ? a : b, us ? b : a, out) ? i + 3 : 0;
	return 0;
}

/* The first day d of a month on or after date ref, or with back the last
 * one on or before it: months without a 31st are skipped. */
static bool day_from(struct slot_date ref, int d, bool back, struct slot_date *out)
{
	int32_t ref_days = slot_date_days(ref);
	int32_t mi = ref.y * 12 + (ref.m - 1);
	for (int k = 0; k < 12; k++, mi += back ? -1 : 1) {
		int y = (int)(mi / 12), m = (int)(mi % 12) + 1;
		if (!date_ok(y, m, d))
			continue;
		struct slot_date c = { (int16_t)y, (uint8_t)m, (uint8_t)d };
		int32_t z = slot_date_days(c);
		if (back ? z <= ref_days : z >= ref_days) {
			*out = c;
			return true;
		}
	}
	return false;
}


/* The first date from a month back on whose day of the month is d and
 * whose weekday is wd (slot_date_weekday's): "Montag, den 11.". False when
 * none comes within two years. */
static bool weekday_day(const struct scan *s, int wd, int d, struct slot_date *out)
{
	if (!s->today_ok)
		return false;
	struct slot_date from = slot_date_from_days(s->today_days - PAST_GRACE_DAYS);
	int32_t mi = from.y * 12 + (from.m - 1);
	for (int k = 0; k < 24; k++, mi++) {
		struct slot_date c = { (int16_t)(mi / 12), (uint8_t)(mi % 12 + 1), (uint8_t)d };
		if (date_ok(c.y, c.m, d) && slot_date_days(c) >= s->today_days - PAST_GRACE_DAYS &&
		    slot_date_weekday(c) == wd) {
			*out = c;
			return true;
		}
	}
	return false;
}


static enum cue_kind ocue_at(const struct scan *s, uint32_t j, uint32_t *end);
static uint32_t to_after(const struct scan *s, uint32_t he);

/* Whether a `to` word at token e goes on to a place, not a number or a
 * day: "we move on the 31st to storgata 5", "Einzug am 1. in die
 * Kastanienallee 7", not "from the 3rd to the 5th". */
static bool to_place_at(const struct scan *s, uint32_t e)
{
	uint32_t te = to_after(s, e);
	int d;
	if (!te)
		return false;
	te = skip_fillers(s, te);
	return te < s->n && tk(s, te)->kind == TOK_WORD && !day_at(s, te, true, false, &d);
}

/* Whether "n." stands at or after token k: the next item of a numbered
 * list. */
static bool list_item_after(const struct scan *s, uint32_t k, int n)
{
	for (; k + 1 < s->n; k++)
		if (tk(s, k)->kind == TOK_NUM && num_at(s, k, 1, 2) == n && is_punct(s, k + 1, '.'))
			return true;
	return false;
}

/* A day of the month with no month, written as a day ("1st", "1.",
 * "1e", "1:a"; not "1" or "first", which are as often a count or an
 * adverb): a date only where its clause ends after it ("moving to the
 * 2nd floor" is no date) and a phrase of the move or a date cue stands
 * right before it ("we move in on the 1st", "Einzug am 1."), or a filler
 * does and such a phrase stands earlier in its clause ("we hand over the
 * keys on the 31st", "Flytter inn hos samboer den 20."), or nothing
 * but fillers does (the answer "on the 1st"; "1st" alone is too little).
 * It is the next such day; slot_extract takes the last one when the
 * phrase is in the past tense. */
static uint32_t day_alone_at(const struct scan *s, uint32_t i, struct slot_date *out)
{
	int d;
	uint32_t e = day_at(s, i, true, false, &d);
	if (!e || (tk(s, i)->kind == TOK_NUM && e == i + 1) ||
	    !(pair_ends(s, e, 0) || to_place_at(s, e)) || !s->today_ok || i == 0)
		return 0;
	/* A dot and a capital after the day end a sentence only after a
	 * filler, or a cue right before the day on its line, where no next
	 * item of a list follows ("am 12. Wann beginnt ...", "den 2. Når ...",
	 * "Innflytting 15. Takk"): "Umzug: 1. Wann beginnt der Vertrag? 2.
	 * Wie zahle ich?" and "Noch Fragen zum Umzug\n1. ..." number a list. */
	if (is_punct(s, e - 1, '.') && e < s->n && (tk(s, e)->flags & TOK_F_CAP) &&
	    !filler_word(s, i - 1) &&
	    (tk(s, i - 1)->kind == TOK_PUNCT || (tk(s, i)->flags & TOK_F_LINE) ||
	     !date_cue_before(s, i, false) || list_item_after(s, e, d + 1)))
		return 0;
	if (skip_fillers(s, 0) != i && !date_cue_before(s, i, false) &&
	    !(filler_word(s, i - 1) && date_cue_in_clause(s, i)))
		return 0;
	return day_from(s->today, d, false, out) ? e : 0;
}

/* "1 or 2 December", "1. eller 2. desember": a day, an `or` word and a
 * day with its month are the first day of that month, the earlier of the
 * two, so the supply has no gap whichever it is. Returns the index after
 * both, or 0. */
static uint32_t either_at(const struct scan *s, uint32_t i, struct slot_date *out)
{
	int d;
	uint32_t e = day_at(s, i, true, false, &d);
	const struct word *w;
	struct slot_date second;
	uint32_t e2;
	if (!e || e >= s->n || !(w = word_at(s, e)) || !(w->flags & W_OR) ||
	    !(e2 = daymonth_at(s, e + 1, &second)) || d >= second.d)
		return 0;
	return make_date(s, second.y, second.m, d, out) ? e2 : 0;
}

/* An absolute date starting at token i. Returns the index after it. */
static uint32_t abs_date_at(const struct scan *s, uint32_t i, struct slot_date *out)
{
	if (i >= s->n)
		return 0;
	const struct tok *t = tk(s, i);
	const char *p = nt(s, i);
	uint32_t e;
	if (t->kind == TOK_NUM) {
		if (memchr(p, '.', t->nlen))
			return dotted_at(s, i, out);
		if (memchr(p, ',', t->nlen) || t->nlen > 4)
			return 0;
		if ((e = sep_at(s, i, out)) || (e = either_at(s, i, out)))
			return e;
		return daymonth_at(s, i, out);
	}
	if (t->kind != TOK_WORD)
		return 0;
	if (is_digit(p[0]))
		return (e = either_at(s, i, out)) ? e : daymonth_at(s, i, out);
	const struct word *w = word_at(s, i);
	/* A word no vocabulary knows, a number after it, may be a misspelt
	 * month: "Decmber 1st". */
	if (!w)
		return i + 1 < s->n && is_digit(nt(s, i + 1)[0]) ? monthday_at(s, i, out) : 0;
	if (w->month && (e = monthday_at(s, i, out)))
		return e;
	if (w->flags & (W_NUMBER | W_DAY | W_DAY_LAST))
		return daymonth_at(s, i, out);
	return 0;
}

static bool elem_match(const struct scan *s, const struct elem *e, uint32_t i,
		       int *num, int *wd)
{
	/* A label's colon is no emoticon's: "Old:", not "alt :)". */
	if (e->kind == E_COLON)
		return is_punct(s, i, ':') &&
		       !(i + 1 < s->n && glued(s, i + 1) && tk(s, i + 1)->kind == TOK_PUNCT);
	if (i >= s->n || tk(s, i)->kind == TOK_PUNCT)
		return false;
	if (e->kind == E_WORD)
		return tk(s, i)->nlen == e->len &&
		       memcmp(nt(s, i), s->v->pool.s + e->off, e->len) == 0;
	if (e->kind == E_NUM) {
		int32_t x = num_at(s, i, 1, 3);
		if (x < 0) {
			const struct word *w = word_at(s, i);
			if (!w || !(w->flags & W_NUMBER))
				return false;
			x = w->number;
		}
		*num = (int)x;
		return true;
	}
	const struct word *w = word_at(s, i);
	if (!w || !w->weekday)
		return false;
	*wd = w->weekday;
	return true;
}

/* The hash of token i's folded text as the vocabulary hashes its words, or
 * 0 where no word stands. A chain hung on "i" or on '#' holds a dozen
 * phrases, and the word after its head is most often none of their second
 * words: comparing hashes first skips them before any element is matched. */
static uint32_t second_hash(const struct scan *s, uint32_t i)
{
	if (i >= s->n || tk(s, i)->kind == TOK_PUNCT)
		return 0;
	const struct word *w = word_at(s, i);
	return w ? w->hash : hash_bytes(nt(s, i), tk(s, i)->nlen);
}

static bool rel_apply(const struct scan *s, const struct pattern *pt, int num, int wd,
		      struct slot_date *out)
{
	int32_t n = pt->n_hash ? num * pt->add : pt->add;
	int32_t z = s->today_days;
	int tw = slot_date_weekday(s->today);
	switch (pt->kind) {
	case R_DAY:
		z += n;
		break;
	case R_WEEK:
		z += 7 * n;
		break;
	case R_MONTH_START:
	case R_MONTH_END: {
		int32_t mi = s->today.y * 12 + (s->today.m - 1) + n;
		int y = (int)(mi / 12), m = (int)(mi % 12) + 1;
		int d = pt->kind == R_MONTH_START ? 1 : days_in_month(y, m);
		if (!date_ok(y, m, d))
			return false;
		out->y = (int16_t)y;
		out->m = (uint8_t)m;
		out->d = (uint8_t)d;
		return true;
	}
	case R_WEEKDAY: {
		int delta = (wd - 1 - tw + 7) % 7;
		z += (delta ? delta : 7) + 7 * n;
		break;
	}
	case R_WEEKDAY_NEXT:
		/* The Monday that starts next week, then the weekday in it. */
		z += 7 - tw + (wd - 1) + 7 * n;
		break;
	case R_WEEKDAY_PREV:
		/* The Monday that started last week, then the weekday in it. */
		z += -7 - tw + (wd - 1);
		break;
	case R_WEEKDAY_LAST: {
		/* The most recent such weekday before today: "last Friday" said
		 * on a Friday is a week ago. */
		int delta = (tw - (wd - 1) + 7) % 7;
		z -= delta ? delta : 7;
		break;
	}
	case R_NONE:
		/* Matched, so the words are taken, but no date: year 0. */
		*out = (struct slot_date){ 0, 0, 0 };
		return true;
	default:
		return false;
	}
	struct slot_date r = slot_date_from_days(z);
	if (slot_date_days(r) != z || !date_ok(r.y, r.m, r.d))
		return false;
	*out = r;
	return true;
}

/* Tries the rel patterns of one chain at token i; keeps the longest match
 * beyond best in out. Returns the new best end. A chain hung on a word has
 * that word matched already (first is 1). */
static uint32_t rel_chain(const struct scan *s, int32_t head, uint32_t i, uint8_t first,
			  uint32_t best, struct date_found *out)
{
	uint32_t h1 = second_hash(s, i + 1);
	for (int32_t k = head; k >= 0; k = s->v->rels[k].next) {
		const struct pattern *pt = &s->v->rels[k];
		if (i + pt->n <= best || (pt->word1 && pt->h1 != h1))
			continue;
		int num = 0, wd = 0;
		uint8_t j = first;
		while (j < pt->n && elem_match(s, &pt->e[j], i + j, &num, &wd))
			j++;
		if (j == pt->n && rel_apply(s, pt, num, wd, &out->d)) {
			best = i + pt->n;
			out->weekday = pt->kind == R_WEEKDAY;
			/* Said in passing as often as of the move ("I called
			 * today", "I called yesterday", "I wrote two days ago"):
			 * date_role tells them apart by their cue. A past date is
			 * rarely a contract's start unless a cue says so. */
			out->day_word = (pt->kind == R_DAY && !pt->n_hash && pt->add >= 0 &&
					 pt->add <= 1) ||
					(pt->kind != R_NONE &&
					 slot_date_days(out->d) < s->today_days);
		}
	}
	return best;
}

/* A relative date ("in 3 Tagen", "next Monday") starting at token i. */
static uint32_t rel_at(const struct scan *s, uint32_t i, struct date_found *out)
{
	if (!s->today_ok || i >= s->n || tk(s, i)->kind == TOK_PUNCT)
		return 0;
	const struct word *w = word_at(s, i);
	uint32_t end = 0;
	if (w && w->last_weekday) {
		/* "i måndags" is last Monday. Past, so said in passing unless
		 * a cue names the move, as for any past day. */
		const struct pattern last = { .n = 1, .kind = R_WEEKDAY_LAST };
		if (rel_apply(s, &last, 0, w->last_weekday, &out->d)) {
			end = i + 1;
			out->weekday = false;
			out->day_word = true;
		}
	}
	if (w && w->rel_head >= 0)
		end = rel_chain(s, w->rel_head, i, 1, end, out);
	if (s->v->rel_num_head >= 0 &&
	    (num_at(s, i, 1, 3) >= 0 || (w && (w->flags & W_NUMBER))))
		end = rel_chain(s, s->v->rel_num_head, i, 0, end, out);
	if (s->v->rel_wd_head >= 0 && w && w->weekday)
		end = rel_chain(s, s->v->rel_wd_head, i, 0, end, out);
	return end;
}

/* The first date at token i: an absolute one, or a relative one unless an
 * absolute date follows it at once ("Monday, 1 March" means the 1st).
 * Fills out's date, its first token and what kind of date it is; returns
 * the end of the date, or 0 when none starts at i. */
static uint32_t date_at(const struct scan *s, uint32_t i, struct date_found *out)
{
	out->rel = out->day_word = out->weekday = out->day_only = out->anchored = false;
	/* Most words of a message are in no vocabulary: one lookup rejects
	 * them before any pattern is tried, but for a misspelt month before
	 * its day (abs_date_at). */
	if (tk(s, i)->kind == TOK_WORD && !is_digit(nt(s, i)[0]) && !word_at(s, i) &&
	    !(i + 1 < s->n && is_digit(nt(s, i + 1)[0])))
		return 0;
	uint32_t e = abs_date_at(s, i, &out->d);
	/* Weighed as a relative date: "we move on Friday, the painters come
	 * on the 20th" moves on Friday. */
	if (!e && (e = day_alone_at(s, i, &out->d)))
		out->day_only = out->rel = true;
	if (e && tok_code_dot(s->b, i))
		return 0;
	if (e) {
		out->a = i;
		return e;
	}
	struct date_found rel = { .day_word = false };
	e = rel_at(s, i, &rel);
	if (!e)
		return 0;
	/* A phrase that starts inside this one and reaches further is the
	 * date: "moved in 3 days ago" is three days back, not "in 3 days". */
	uint32_t a = i;
	for (uint32_t j = i + 1; j < e; j++) {
		struct date_found later = { .day_word = false };
		uint32_t le = rel_at(s, j, &later);
		if (le > e) {
			rel = later;
			a = j;
			e = le;
		}
	}
	uint32_t k = e;
	if (is_punct(s, k, ','))
		k++;
	k = skip_fillers(s, k);
	uint32_t ae = abs_date_at(s, k, &out->d);
	if (ae) {
		out->a = k;
		return ae;
	}
	/* "Montag, den 11.", "Monday the 11th": the day with that weekday,
	 * from a month back on (the move may have been). */
	int day;
	if (rel.weekday && (ae = day_at(s, k, true, false, &day)) &&
	    !(tk(s, k)->kind == TOK_NUM && ae == k + 1) && pair_ends(s, ae, 0) &&
	    weekday_day(s, slot_date_weekday(rel.d), day, &out->d)) {
		out->a = a;
		return ae;
	}
	out->rel = true;
	out->day_word = rel.day_word;
	out->weekday = rel.weekday;
	out->d = rel.d;
	out->a = a;
	return e;
}

/* ---- meter IDs ---- */

/* True when token i is ASCII letters and digits only (no "15.04"). */
static bool alnum_tok(const struct scan *s, uint32_t i)
{
	if (i >= s->n || tk(s, i)->kind == TOK_PUNCT)
		return false;
	const char *p = nt(s, i);
	for (uint32_t k = 0; k < tk(s, i)->nlen; k++)
		if (!is_digit(p[k]) && !is_lower(p[k]))
			return false;
	return true;
}

/* Copies the digits of run items x..y (tokens at[x..y]) into buf. */
static void window_digits(const struct scan *s, const uint32_t *at, const uint32_t *len,
			  uint32_t x, uint32_t y, char *buf)
{
	uint32_t o = 0;
	for (uint32_t t = x; t <= y; t++) {
		memcpy(buf + o, nt(s, at[t]), len[t]);
		o += len[t];
	}
	buf[o] = '\0';
}

/* Whether token i is a plain number: digits only. */
static bool digits_tok(const struct scan *s, uint32_t i)
{
	return i < s->n && tk(s, i)->kind == TOK_NUM && all_digits(nt(s, i), tk(s, i)->nlen);
}

/* An 18-digit meter ID in the run of plain numbers starting at token i,
 * possibly written in groups, apart or joined by hyphens ("7070 5750 ...",
 * "7070-5750-..."). When the run holds more than 18 digits ("0155 7070
 * 5750 ..."), a window with a valid check digit wins over the first
 * window. Returns the index after the ID (0 when none) with *a its first
 * token; *run_end gets the end of the run, which the caller need not look
 * into again. */
static uint32_t ean_at(const struct scan *s, uint32_t i, uint32_t *a, uint32_t *run_end,
		       char *id)
{
	uint32_t at[EAN_RUN_MAX], len[EAN_RUN_MAX];
	uint32_t nrun = 0, digits = 0;
	/* A run is joined by spaces or by hyphens, not both: "2026-12-01
	 * 7070..." is a date and an ID, and "0171-1234567 0171-7654321" two
	 * phone numbers, not an ID of their digits. */
	int joint = 0; /* 1 spaces, 2 hyphens */
	for (uint32_t j = i; nrun < EAN_RUN_MAX && digits_tok(s, j);) {
		at[nrun] = j;
		len[nrun++] = tk(s, j)->nlen;
		digits += tk(s, j)->nlen;
		bool hyphen = is_punct(s, j + 1, '-') && glued(s, j + 1) && glued(s, j + 2) &&
			      digits_tok(s, j + 2);
		if (hyphen && joint == 1) {
			/* "0155 7070-5750-...": the hyphenated run is a run of
			 * its own, from this group on. */
			nrun--;
			digits -= tk(s, j)->nlen;
			break;
		}
		if (hyphen) {
			joint = 2;
			j += 2;
		} else if (joint != 2 && digits_tok(s, j + 1)) {
			joint = 1;
			j++;
		} else {
			break;
		}
	}
	*run_end = nrun ? at[nrun - 1] + 1 : i + 1;
	/* Hyphens join the groups of one ID, all of it and nothing more. */
	if (joint == 2 && digits != EAN_DIGITS)
		return 0;
	bool have = false;
	uint32_t fa = 0, fb = 0;
	for (uint32_t x = 0; x < nrun; x++) {
		uint32_t sum = 0;
		for (uint32_t y = x; y < nrun && sum < EAN_DIGITS; y++) {
			sum += len[y];
			if (sum != EAN_DIGITS)
				continue;
			window_digits(s, at, len, x, y, id);
			if (slot_gs1_valid(id, EAN_DIGITS)) {
				*a = at[x];
				return at[y] + 1;
			}
			if (!have) {
				have = true;
				fa = x;
				fb = y;
			}
		}
	}
	if (!have)
		return 0;
	/* No window checks out: the first is reported, marked invalid, so the
	 * customer can be asked to check the number. */
	window_digits(s, at, len, fa, fb, id);
	*a = at[fa];
	return at[fb] + 1;
}

/* Joins the ASCII letter-and-digit tokens from i until exactly want
 * characters, upper case, into id. Returns the index after them or 0. */
static uint32_t join_alnum(const struct scan *s, uint32_t i, uint32_t want, char *id)
{
	uint32_t o = 0, j = i;
	while (o < want && alnum_tok(s, j)) {
		uint32_t n = tk(s, j)->nlen;
		if (o + n > want)
			return 0;
		const char *p = nt(s, j);
		for (uint32_t k = 0; k < n; k++)
			id[o++] = upper(p[k]);
		j++;
	}
	if (o != want)
		return 0;
	id[o] = '\0';
	return j;
}

/* A German meter number (DIN 43863-5): a digit, three letters, two letters
 * or digits of the production block and an 8-digit serial number. */
static uint32_t de_meter_at(const struct scan *s, uint32_t i, char *id)
{
	if (!is_digit(nt(s, i)[0]))
		return 0;
	uint32_t e = join_alnum(s, i, DE_METER_LEN, id);
	if (!e || !is_alpha(id[1]) || !is_alpha(id[2]) || !is_alpha(id[3]) ||
	    !all_digits(id + 6, 8))
		return 0;
	return e;
}

/* A German Zählpunkt: "DE", the grid operator's six digits, the
 * postcode's five, then 20 digits or capitals. Lower-case letters after the
 * "DE" are refused so a Dutch sentence starting with "de" never reads as
 * one, and the eleven digits so neither does one in capitals. */
static uint32_t zp_at(const struct scan *s, uint32_t i, char *id)
{
	if (tk(s, i)->kind != TOK_WORD || tk(s, i)->nlen < 2 || memcmp(nt(s, i), "de", 2) != 0)
		return 0;
	/* Dutch and German are full of words starting with "de"; looking at
	 * the original text before joining turns them away at once. The
	 * tokens looked at here are the ones join_alnum takes, so a lower-case
	 * letter in any of them fails the joined ID as well. */
	uint32_t o = 0;
	for (uint32_t j = i; o < DE_ZP_LEN && alnum_tok(s, j); j++) {
		const struct tok *t = tk(s, j);
		if (o + t->nlen > DE_ZP_LEN)
			return 0;
		const char *p = s->text + t->off;
		for (uint32_t k = j == i ? 2 : 0; k < t->len; k++)
			if (is_lower(p[k]))
				return 0;
		o += t->nlen;
	}
	uint32_t e = join_alnum(s, i, DE_ZP_LEN, id);
	return e && all_digits(id + 2, 11) ? e : 0;
}

/* Whether the 11 digits pass the BDEW check of a MaLo ID: the digits in
 * odd places, plus twice those in even places (the check digit left out),
 * and the check digit make a multiple of 10. */
static bool malo_valid(const char *id)
{
	unsigned sum = 0;
	for (int k = 0; k < MALO_DIGITS - 1; k++)
		sum += (unsigned)(id[k] - '0') * (k % 2 ? 2 : 1);
	return (sum + (unsigned)(id[MALO_DIGITS - 1] - '0')) % 10 == 0;
}

/* Whether word w (n bytes, folded) labels a number other than a MaLo ID:
 * a customer, contract or phone number, an account. */
static bool other_number_label(const char *w, uint32_t n)
{
	static const char *const heads[] = { "kunden", "telefon", "handy", "konto", "iban",
					     "vertragskonto", "customer", "phone", "account" };
	if (n >= 6 && memcmp(w + n - 6, "nummer", 6) == 0)
		return true;
	for (size_t k = 0; k < sizeof(heads) / sizeof(heads[0]); k++)
		if (n >= strlen(heads[k]) && memcmp(w, heads[k], strlen(heads[k])) == 0)
			return true;
	return false;
}

/* Whether a label of a MaLo ID ("MaLo-ID", "Marktlokations-ID", "market
 * location") comes shortly before token i, in the same clause, with no
 * other number's label in between. Eleven digits alone are too common to
 * be one (a Norwegian personal number has eleven), so a MaLo ID is read
 * only where it is called one, as bills and landlords do. A full stop
 * after a short word ("Nr.", "lt.") is an abbreviation's, not a
 * sentence's end. */
static bool malo_cue(const struct scan *s, uint32_t i)
{
	for (uint32_t j = i, k = 0; j > 0 && k < MALO_CUE_BACK; k++) {
		j--;
		const struct tok *t = tk(s, j);
		const char *w = nt(s, j);
		if (t->kind == TOK_PUNCT && t->nlen == 1 && strchr(",;!?", w[0]))
			return false;
		if (t->kind == TOK_PUNCT && t->nlen == 1 && w[0] == '.' &&
		    !(j > 0 && tk(s, j - 1)->kind == TOK_WORD && tk(s, j - 1)->nlen <= 3 && glued(s, j)))
			return false;
		if (t->kind != TOK_WORD)
			continue;
		if ((t->nlen == 4 && memcmp(w, "malo", 4) == 0) ||
		    (t->nlen >= 13 && memcmp(w, "marktlokation", 13) == 0) ||
		    (t->nlen == 8 && memcmp(w, "location", 8) == 0 && j > 0 &&
		     tk(s, j - 1)->nlen == 6 && memcmp(nt(s, j - 1), "market", 6) == 0))
			return true;
		if (other_number_label(w, t->nlen))
			return false;
	}
	return false;
}

/* A German MaLo ID at token i: eleven digits in one group, the first not
 * 0, labelled as one. Returns the index after it, or 0. */
static uint32_t malo_at(const struct scan *s, uint32_t i, char *id)
{
	const struct tok *t = tk(s, i);
	const char *p = nt(s, i);
	if (t->kind != TOK_NUM || t->nlen != MALO_DIGITS || !all_digits(p, MALO_DIGITS) ||
	    p[0] == '0' || !malo_cue(s, i))
		return 0;
	memcpy(id, p, MALO_DIGITS);
	id[MALO_DIGITS] = '\0';
	return i + 1;
}

/* The words of the message beside tokens [i, e), fillers aside: how much
 * more than a fact it says. max + 1 where they are more than max or the
 * message holds another number, so a long message is not counted out. */
static uint32_t words_beside(const struct scan *s, uint32_t i, uint32_t e, uint32_t max)
{
	uint32_t words = 0;
	for (uint32_t k = 0; k < s->n && words <= max; k++) {
		if (k >= i && k < e)
			continue;
		if (tk(s, k)->kind == TOK_NUM || (tk(s, k)->kind == TOK_WORD && is_digit(nt(s, k)[0])))
			return max + 1;
		words += tk(s, k)->kind == TOK_WORD && !filler_word(s, k);
	}
	return words;
}

static enum cue_kind dcue_at(const struct scan *s, uint32_t j, uint32_t *end);

/* Where a message that answers with a fact alone has it: past leading
 * punctuation and a correction phrase ("Sorry:", "nei vent,", "oeps").
 * Other words say the fact is about something else: "bel me: +316...",
 * "vi flytter fra 5013 Bergen", "I work in 0250 Oslo". */
static uint32_t answer_start(const struct scan *s)
{
	uint32_t i = 0, e;
	while (i < s->n && tk(s, i)->kind == TOK_PUNCT)
		i++;
	if (i < s->n && dcue_at(s, i, &e) == CUE_CORRECTION)
		i = e;
	while (i < s->n && tk(s, i)->kind == TOK_PUNCT)
		i++;
	return i;
}

/* A message of eleven digits alone, a correction phrase before them or
 * not ("41373559241", "Sorry: 41373559241"), that a MaLo ID's check digit
 * agrees with goes to *out as one, with meter_alone set: the conversation
 * decides. Not a phone number's ("+31612345675"). */
static void malo_alone(const struct scan *s, struct slot_found *out)
{
	uint32_t i = answer_start(s);
	const char *p = i < s->n ? nt(s, i) : NULL;
	if (!p || tk(s, i)->kind != TOK_NUM || tk(s, i)->nlen != MALO_DIGITS ||
	    !all_digits(p, MALO_DIGITS) || p[0] == '0' || (i > 0 && is_punct(s, i - 1, '+')) ||
	    !ends_here(s, i + 1) || !malo_valid(p))
		return;
	memset(&out->meter, 0, sizeof(out->meter));
	memcpy(out->meter.id, p, MALO_DIGITS);
	out->meter.kind = SLOT_METER_DE_MALO;
	out->meter.valid = true;
	out->has_meter = out->meter_alone = true;
	out->meter_off = tk(s, i)->off;
	out->meter_len = tk(s, i)->len;
}

/* Whether token j looks like an IBAN's head: two letters and two digits
 * ("DE02", "NO93"). */
static bool iban_head(const struct scan *s, uint32_t j)
{
	const char *h = nt(s, j);
	return tk(s, j)->nlen == 4 && is_lower(h[0]) && is_lower(h[1]) && is_digit(h[2]) &&
	       is_digit(h[3]);
}

/* Whether the head at token j and the run of numbers after it to token
 * end pass an IBAN's check (ISO 13616: the rest of the number, then the
 * head moved to the end, letters as 10..35, modulo 97 is 1). Then the
 * digits are a bank account, not a meter ID, even where 18 of them are (a
 * German IBAN written in groups). */
static bool iban_valid(const struct scan *s, uint32_t j, uint32_t end)
{
	const char *h = nt(s, j);
	unsigned r = 0;
	for (uint32_t t = j + 1; t < end; t++)
		for (uint32_t k = 0; k < tk(s, t)->nlen; k++)
			r = (r * 10 + (unsigned)(nt(s, t)[k] - '0')) % 97;
	for (int k = 0; k < 2; k++)
		r = (r * 100 + (unsigned)(h[k] - 'a' + 10)) % 97;
	for (int k = 2; k < 4; k++)
		r = (r * 10 + (unsigned)(h[k] - '0')) % 97;
	return r == 1;
}

/* An 18-digit meter ID written in groups of three or four digits joined
 * by dots, one number token ("707.057.500.313.187.611",
 * "7070.5750.0012.3456.71"): no amount or reading has eighteen digits in
 * thousands. Writes the digits to id and returns true when token i is
 * one. */
static bool dotted_ean(const struct scan *s, uint32_t i, char *id)
{
	const struct tok *t = tk(s, i);
	const char *p = nt(s, i);
	uint32_t o = 0, group = 0, dots = 0;
	for (uint32_t k = 0; k < t->nlen; k++) {
		if (is_digit(p[k])) {
			if (o == EAN_DIGITS)
				return false;
			id[o++] = p[k];
			group++;
		} else if (p[k] == '.' && group >= 3 && group <= 4) {
			group = 0;
			dots++;
		} else {
			return false;
		}
	}
	id[o] = '\0';
	/* Groups of four leave two digits at the end. */
	return dots && group >= 2 && group <= 4 && o == EAN_DIGITS;
}

/* A meter ID starting at token i (or, for grouped digits, a little
 * later). Returns the index after it with *a its first token and m
 * filled, or 0. */
static uint32_t meter_at(const struct scan *s, uint32_t i, uint32_t *ean_next, uint32_t *a,
			 struct slot_meter *m)
{
	const struct tok *t = tk(s, i);
	const char *p = nt(s, i);
	uint32_t e;
	/* Most tokens can start no meter ID at all; m is cleared only for
	 * those that may, since the caller does not clear it for each token. */
	if (!(t->kind == TOK_NUM && i >= *ean_next) && !(t->nlen <= DE_ZP_LEN && is_digit(p[0])) &&
	    !(t->kind == TOK_WORD && t->nlen >= 2 && p[0] == 'd' && p[1] == 'e'))
		return 0;
	memset(m, 0, sizeof(*m));
	bool after_iban = t->kind == TOK_NUM && i > 0 && iban_head(s, i - 1);
	if (after_iban && i >= *ean_next) {
		uint32_t end = i;
		while (digits_tok(s, end))
			end++;
		if (iban_valid(s, i - 1, end)) {
			*ean_next = end; /* the whole run is the account's */
			return 0;
		}
	}
	if (t->kind == TOK_NUM && i >= *ean_next) {
		if ((e = malo_at(s, i, m->id))) {
			m->kind = SLOT_METER_DE_MALO;
			m->valid = malo_valid(m->id);
			*a = i;
			*ean_next = e;
			return e;
		}
		e = ean_at(s, i, a, ean_next, m->id);
		if (e) {
			m->kind = SLOT_METER_EAN18;
			m->valid = slot_gs1_valid(m->id, EAN_DIGITS);
			/* After an IBAN's head, digits that are no valid meter ID
			 * either are most likely a mistyped account: no meter ID to
			 * ask the customer about ("KW12 7070 5750 ..." stays one). */
			if (after_iban && !m->valid) {
				memset(m, 0, sizeof(*m));
				return 0;
			}
			return e;
		}
		/* Dotted digits after an IBAN's head are the account's:
		 * "DE89 3704.0044.0532.0130.00", "DE89.3704...". */
		if (!after_iban && !(i > 1 && is_punct(s, i - 1, '.') && iban_head(s, i - 2)) &&
		    dotted_ean(s, i, m->id)) {
			m->kind = SLOT_METER_EAN18;
			m->valid = slot_gs1_valid(m->id, EAN_DIGITS);
			*a = i;
			*ean_next = i + 1;
			return i + 1;
		}
	}
	if (t->nlen <= DE_ZP_LEN && (e = de_meter_at(s, i, m->id))) {
		m->kind = SLOT_METER_DE;
		m->valid = true;
		*a = i;
		return e;
	}
	if (t->kind == TOK_WORD && (e = zp_at(s, i, m->id))) {
		m->kind = SLOT_METER_DE_ZP;
		m->valid = true;
		*a = i;
		return e;
	}
	return 0;
}

/* ---- addresses ---- */

/* Copies text[off..off+len) into dst, cut at a character boundary when it
 * does not fit. Returns false when it was cut. */
static bool copy_span(char *dst, size_t cap, const char *text, uint32_t off, uint32_t len)
{
	size_t n = tok_utf8_fit(text + off, len, cap - 1);
	memcpy(dst, text + off, n);
	dst[n] = '\0';
	return n == len;
}

static bool name_word(const struct scan *s, uint32_t k);

/* Whether token k is a floor written as one word: "3hoog", "2og", or
 * the Roman numeral of an Amsterdam floor ("II" of "123-II"). */
static bool floor_word(const struct scan *s, uint32_t k)
{
	const struct tok *t = tk(s, k);
	const char *p = nt(s, k);
	if (t->kind != TOK_WORD)
		return false;
	if (t->nlen <= HOUSE_LETTERS_MAX && strspn(p, "ivx") >= t->nlen)
		return true;
	uint32_t d = 0;
	while (d < t->nlen && d < 2 && is_digit(p[d]))
		d++;
	const struct word *w;
	return d > 0 && d < t->nlen && !is_digit(p[d]) &&
	       (w = lookup(s->v, p + d, t->nlen - d)) && (w->flags & W_UNIT);
}

static uint32_t postcode_at(const struct scan *s, uint32_t k);
static bool unit_word(const struct scan *s, uint32_t k);

/* Whether a Dutch postcode, four digits and two letters, starts at token
 * k: "3732 HJ", "3732HJ". */
static bool dutch_postcode(const struct scan *s, uint32_t k)
{
	uint32_t e = postcode_at(s, k);
	return e && (tk(s, k)->kind == TOK_WORD || tk(s, e - 1)->kind == TOK_WORD);
}

/* Whether a house number's addition may end before token k: the address
 * goes on (a comma, a Dutch postcode) or the message ends. German "bis"
 * and "ter" before other words are until and an ordinal ("bis 31.
 * Dezember", "3ter Stock"). */
static bool addition_ends(const struct scan *s, uint32_t k)
{
	return k >= s->n || is_punct(s, k, ',') || dutch_postcode(s, k);
}

/* Whether the n letters at p, joined to a house number, are an addition
 * that makes a second house of it: "3bis", "12ter". */
static bool addition(const char *p, uint32_t n)
{
	return n == 3 && (memcmp(p, "bis", 3) == 0 || memcmp(p, "ter", 3) == 0);
}

/* A house number at token j: "12", "12b", "12 B", "10-2", "3 bis".
 * Returns the index after it, or 0. */
static uint32_t house_at(const struct scan *s, uint32_t j)
{
	if (j >= s->n || used(s, j) || nt(s, j)[0] == '0')
		return 0;
	const struct tok *t = tk(s, j);
	const char *p = nt(s, j);
	if (t->kind == TOK_WORD) {
		uint32_t k = 0;
		while (k < t->nlen && is_digit(p[k]))
			k++;
		/* Only where the address goes on or ends: not German "3ter
		 * Stock", "der 2ter Speicher". */
		bool letter = t->nlen == k + 1 && is_lower(p[k]);
		bool added = addition(p + k, t->nlen - k) && addition_ends(s, j + 1);
		return k >= 1 && k <= HOUSE_DIGITS_MAX && (letter || added) && digits_value(p, k) > 0
			       ? j + 1
			       : 0;
	}
	if (num_at(s, j, 1, HOUSE_DIGITS_MAX) < 1)
		return 0;
	uint32_t e = j + 1;
	/* "12-14", and the Austrian door "45/12". */
	if ((is_punct(s, e, '-') || is_punct(s, e, '/')) && glued(s, e) && glued(s, e + 1) &&
	    num_at(s, e + 1, 1, HOUSE_DIGITS_MAX) > 0 && !used(s, e + 1))
		return e + 2;
	/* "Oudegracht 112-bis": letters joined by a hyphen are part of the
	 * number; a floor so joined ("123-II", "263-3hoog") is unit_at's. */
	if (is_punct(s, e, '-') && glued(s, e) && glued(s, e + 1) && name_word(s, e + 1) &&
	    tk(s, e + 1)->nlen <= HOUSE_LETTERS_MAX && !floor_word(s, e + 1))
		return e + 2;
	/* "3 bis, 3732 HJ", a second house at one number, where a comma, a
	 * Dutch postcode or the message's end follows: German "bis" before
	 * more is until ("Hauptstraße 5 bis 31. Dezember", "bis 1800 Uhr").
	 * At the end it may be a German goodbye, but a house misread as its
	 * neighbour costs more. */
	if (e < s->n && tk(s, e)->kind == TOK_WORD && !used(s, e) && tk(s, e)->nlen == 3 &&
	    memcmp(nt(s, e), "bis", 3) == 0 && addition_ends(s, e + 1))
		return e + 1;
	/* "12 B": one capital letter, and not the start of a sentence such
	 * as "12 I moved"; in a chat typed in lower case ("storgata 12 b,
	 * 0155 oslo") one letter right before a comma or the end. */
	if (e < s->n && tk(s, e)->kind == TOK_WORD && tk(s, e)->nlen == 1 &&
	    is_lower(nt(s, e)[0]) && !used(s, e) &&
	    ((tk(s, e)->flags & TOK_F_CAP) ? e + 1 >= s->n || tk(s, e + 1)->kind != TOK_WORD
					   : e + 1 >= s->n || is_punct(s, e + 1, ',')))
		return e + 1;
	return e;
}

static uint32_t city_at(const struct scan *s, uint32_t k);

/* Whether token k is a units word ("lgh", "etasje") not taken yet. */
static bool unit_word(const struct scan *s, uint32_t k)
{
	const struct word *w = word_at(s, k);
	return w && (w->flags & W_UNIT) && !used(s, k);
}

/* Whether token k is the Roman numeral of a floor on its own, in
 * capitals and two letters or more ("6 III"): "I" alone is a word. */
static bool roman_floor(const struct scan *s, uint32_t k)
{
	const struct tok *t = tk(s, k);
	if (t->kind != TOK_WORD || t->len < 2 || !floor_word(s, k))
		return false;
	for (uint32_t i = 0; i < t->len; i++)
		if (!strchr("IVX", s->text[t->off + i]))
			return false;
	return true;
}

/* Whether token k is a Norwegian flat number: H, U, K or L and four
 * digits ("H0201"). */
static bool flat_code(const struct scan *s, uint32_t k)
{
	return k < s->n && tk(s, k)->kind == TOK_WORD && tk(s, k)->nlen == 5 &&
	       strchr("hukl", nt(s, k)[0]) && all_digits(nt(s, k) + 1, 4);
}

/* Token k, or the one after it where k is a dot, or a hyphen with no
 * space on either side ("3-hoog"). */
static uint32_t skip_joint(const struct scan *s, uint32_t k)
{
	if (is_punct(s, k, '-') && glued(s, k) && glued(s, k + 1))
		return k + 1;
	return skip_dot(s, k);
}

/* A flat or floor at token k, between the house number and the postcode:
 * "H0201" (a Norwegian flat number: H, U, K or L and four digits), "lgh
 * 1102", "Whg. 12", "2. etasje", "2 tr", "2. OG links", "-II", "-3hoog".
 * Returns the index after it, or 0. */
static uint32_t unit_at(const struct scan *s, uint32_t k)
{
	if (k >= s->n || used(s, k))
		return 0;
	uint32_t e = 0;
	int ord; /* "4th": day_at reads the ordinal */
	uint32_t m = k + 1;
	while (m < s->n && unit_word(s, m))
		m++;
	if (flat_code(s, k))
		e = k + 1;
	else if (is_punct(s, k, '-') && glued(s, k) && glued(s, k + 1) && floor_word(s, k + 1))
		e = k + 2; /* "123-II", "263-3hoog" */
	else if (unit_word(s, k) && (num_at(s, skip_dot(s, k + 1), 1, 4) >= 0 ||
				     flat_code(s, skip_dot(s, k + 1))))
		e = skip_dot(s, k + 1) + 1; /* "lgh 1102", "leilighet H0504" */
	else if ((num_at(s, k, 1, 2) >= 0 || day_at(s, k, false, false, &ord) == k + 1) &&
		 unit_word(s, skip_joint(s, k + 1)))
		e = skip_joint(s, k + 1) + 1; /* "2. OG", "4th floor", "3-hoog" */
	else if ((unit_word(s, k) || roman_floor(s, k)) &&
		 (m >= s->n || is_punct(s, m, ',') || postcode_at(s, m)))
		e = m; /* "263 hs, 1016 GV", "6 III, 1017 SG", "EG rechts, 76133" */
	while (e && unit_word(s, e)) /* "links" */
		e++;
	return e ? skip_dot(s, e) : 0;
}

/* Whether w means something to the date or address reader, so two such
 * letters after four digits are a word, not a Dutch postcode's ("0155 er
 * fint"). Units, sign-offs, L2 triggers, openers and titles do not count:
 * "1012 lg amsterdam", "1016 pv amsterdam" and "1017 mr amsterdam" are
 * postcodes. */
static bool reading_word(const struct word *w)
{
	return w && ((w->flags & ~(W_UNIT | W_NOT_STREET | W_OPENER | W_TITLE)) || w->month || w->weekday ||
		     w->last_weekday || w->rel_head >= 0 || w->cue_head >= 0 || w->dcue_head >= 0);
}

/* A postcode at token k: "0155", "1015 CJ", "1015CJ", "10115", "111 51".
 * Returns the index after it, or 0. */
static uint32_t postcode_at(const struct scan *s, uint32_t k)
{
	if (k >= s->n || used(s, k))
		return 0;
	const struct tok *t = tk(s, k);
	const char *p = nt(s, k);
	if (t->kind == TOK_WORD) {
		return t->nlen == 6 && all_digits(p, 4) && is_lower(p[4]) && is_lower(p[5]) ? k + 1 : 0;
	}
	if (num_at(s, k, 5, 5) >= 0)
		return k + 1;
	if (num_at(s, k, 3, 3) >= 0 && num_at(s, k + 1, 2, 2) >= 0 && !used(s, k + 1))
		return k + 2;
	if (num_at(s, k, 4, 4) < 0)
		return 0;
	/* The Dutch letters are written in capitals: "1015 CJ". In lower case
	 * ("1015 cj amsterdam") two letters are as often a short word ("0155
	 * er fint"), so they are taken only when a city follows them and ends
	 * the text, and they are no word of the slot vocabulary. */
	uint32_t e = k + 1;
	if (e < s->n && tk(s, e)->kind == TOK_WORD && tk(s, e)->len == 2 && !used(s, e)) {
		const char *o = s->text + tk(s, e)->off;
		if (o[0] >= 'A' && o[0] <= 'Z' && o[1] >= 'A' && o[1] <= 'Z')
			return e + 1;
		uint32_t ce;
		if (o[0] >= 'a' && o[0] <= 'z' && o[1] >= 'a' && o[1] <= 'z' && !reading_word(word_at(s, e)) &&
		    (ce = city_at(s, e + 1)) && (ce >= s->n || tk(s, ce)->kind == TOK_PUNCT))
			return e + 1;
	}
	return e;
}

/* Whether p[0..n) is the outward code of a British postcode: one or two
 * letters, a digit, and a letter or digit or not ("m1", "nw1", "sw1a"). */
static bool uk_outward(const char *p, size_t n)
{
	size_t l = 0;
	while (l < n && l < 3 && is_alpha(p[l]))
		l++;
	return (l == 1 || l == 2) && n > l && n <= l + 2 && is_digit(p[l]) &&
	       (n == l + 1 || is_alpha(p[l + 1]) || is_digit(p[l + 1]));
}

/* Whether p[0..3) is the inward code of a British postcode: a digit and
 * two letters ("6xe"). */
static bool uk_inward(const char *p)
{
	return is_digit(p[0]) && is_alpha(p[1]) && is_alpha(p[2]);
}

/* A British postcode at token k, its two codes apart or joined ("NW1
 * 6XE", "nw16xe"). The inward code's shape, a digit and two letters, is
 * what tells "M1 1AE" from a motorway. Returns the index after it, or 0. */
static uint32_t uk_postcode_at(const struct scan *s, uint32_t k)
{
	if (k >= s->n || tk(s, k)->kind != TOK_WORD || used(s, k))
		return 0;
	const char *p = nt(s, k);
	uint32_t n = tk(s, k)->nlen;
	if (n >= 5 && n <= 7 && uk_inward(p + n - 3) && uk_outward(p, n - 3))
		return k + 1;
	if (uk_outward(p, n) && k + 1 < s->n && tk(s, k + 1)->kind == TOK_WORD &&
	    !used(s, k + 1) && tk(s, k + 1)->nlen == 3 && uk_inward(nt(s, k + 1)))
		return k + 2;
	return 0;
}

/* A day written as one ("15th", "15.", "1:a") in a message of a few words
 * and no other number, where its clause ends, read by no other rule: "ok
 * then the 15th", "Ach so, dann halt ab dem 15."; the day alone ("1st",
 * "1.") is too little, a list's mark as often. Nothing in the words
 * says it is the move's ("moving in, my partner the 20th" is not), so it
 * goes to *out as SLOT_DATE_ANSWER: the conversation decides, by whether
 * it awaits a date. Not a list's number ("1. Wann ...") nor a house's. */
static void answer_day(const struct scan *s, struct slot_found *out)
{
	for (uint32_t i = 0; i < s->n && s->today_ok; i++) {
		int d;
		uint32_t w, e = day_at(s, i, true, false, &d);
		if (!e || (tk(s, i)->kind == TOK_NUM && e == i + 1) || !pair_ends(s, e, 0) ||
		    tok_code_dot(s->b, i) ||
		    (is_punct(s, e - 1, '.') && e < s->n && (tk(s, e)->flags & TOK_F_CAP)) ||
		    (out->has_address && tk(s, i)->off >= out->addr_off &&
		     tk(s, i)->off < out->addr_off + out->addr_len) ||
		    (w = words_beside(s, i, e, DAY_ANSWER_WORDS)) < 1 || w > DAY_ANSWER_WORDS ||
		    !day_from(s->today, d, false, &out->date))
			continue;
		out->has_date = true;
		out->date_day_only = true;
		out->date_role = SLOT_DATE_ANSWER;
		out->date_off = tk(s, i)->off;
		out->date_len = tk(s, e - 1)->off + tk(s, e - 1)->len - out->date_off;
		return;
	}
}

/* Whether token k, a word on the line, may go on a city's name: a
 * capitalised word of two letters or more that is no word of the date
 * ("Köln am Montag"). */
static bool city_word(const struct scan *s, uint32_t k)
{
	if (k >= s->n)
		return false;
	const struct tok *t = tk(s, k);
	const struct word *w;
	return t->kind == TOK_WORD && !used(s, k) && !is_digit(nt(s, k)[0]) &&
	       (t->flags & TOK_F_CAP) && t->nlen >= 2 && !(t->flags & TOK_F_LINE) &&
	       !((w = word_at(s, k)) && (w->month || w->weekday || w->rel_head >= 0));
}

/* Whether a city joined by a link word may end before token k: at the
 * end, before punctuation, a number or a line break. Not before a word:
 * "Köln am Wochenende ab 1. Dezember" looks as "Frankfurt am Main zum 1.
 * Dezember" does, and the city is read short rather than long. */
static bool city_ends(const struct scan *s, uint32_t k)
{
	return k >= s->n || tk(s, k)->kind != TOK_WORD || (tk(s, k)->flags & TOK_F_LINE);
}

/* Whether token k is a word in lower case, not after a line break, that
 * the vocabulary gives flag (a `city_links` or `city_preps` word). */
static bool lower_word_with(const struct scan *s, uint32_t k, uint32_t flag)
{
	const struct word *w;
	return k < s->n && tk(s, k)->kind == TOK_WORD &&
	       !(tk(s, k)->flags & (TOK_F_CAP | TOK_F_LINE)) && (w = word_at(s, k)) &&
	       (w->flags & flag);
}

/* The index after the elided article that opens a Dutch town's name at
 * token k ("'s-Gravenhage", "'s-Hertogenbosch", "'t Harde"), or k. */
static uint32_t elision_end(const struct scan *s, uint32_t k)
{
	if (!is_punct(s, k, '\'') || k + 2 >= s->n || !glued(s, k + 1) ||
	    tk(s, k + 1)->kind != TOK_WORD || tk(s, k + 1)->nlen != 1 ||
	    !strchr("st", nt(s, k + 1)[0]) || tk(s, k + 2)->kind != TOK_WORD ||
	    !(tk(s, k + 2)->flags & TOK_F_CAP))
		return k;
	return k + 2;
}

/* A city at token k: a word, then capitalised words or words joined by a
 * hyphen, on the same line ("München\nTel." is München), and one or two
 * `city_links` words between two of them where the city ends its clause
 * ("Frankfurt am Main", "Mo i Rana", "Alphen aan den Rijn"; not "Köln am
 * Wochenende umziehen", nor "Köln mit Solaranlage", whose "mit" is no
 * link). Returns the index after it, or 0. */
static uint32_t city_at(const struct scan *s, uint32_t k)
{
	k = elision_end(s, k);
	if (k >= s->n || tk(s, k)->kind != TOK_WORD || used(s, k) || is_digit(nt(s, k)[0]))
		return 0;
	uint32_t e = k + 1;
	for (int w = 1; w < CITY_WORDS_MAX && e < s->n; w++) {
		const struct tok *t = tk(s, e);
		if (t->kind != TOK_WORD || used(s, e) || is_digit(nt(s, e)[0]))
			break;
		bool joined = !(t->flags & TOK_F_SPACE);
		if (!joined && uk_postcode_at(s, e))
			break; /* "London NW1 6XE" */
		if (!joined && !city_word(s, e)) {
			uint32_t p = e;
			while (p < e + 2 && lower_word_with(s, p, W_CITY_LINK))
				p++;
			if (p == e || !city_word(s, p) || tk(s, p)->nlen < 3 || !city_ends(s, p + 1))
				break;
			e = p;
		}
		e++;
	}
	return e;
}

struct addr_span {
	uint32_t a, street_end, end;
	uint32_t pc0, pc1, c0, c1;
	uint32_t lead; /* tokens of a flat before a, in the text only */
};

/* The flat a British address opens with, before the house number at
 * token hn and a comma: "Flat 3, 45 Queen's Road", "Apartment 4B, 22
 * Park Lane", "Apt. 2, ...". Returns how many tokens it takes, 0 for
 * none. */
static uint32_t flat_before(const struct scan *s, uint32_t hn, uint32_t lo)
{
	if (hn < lo + 3 || !is_punct(s, hn - 1, ',') || house_at(s, hn - 2) != hn - 1)
		return 0;
	uint32_t u = hn - 3;
	if (u > lo && is_punct(s, u, '.') && glued(s, u))
		u--;
	return unit_word(s, u) && u >= lo ? hn - u : 0;
}

/* The tokens of a country code joined to the postcode at token j ("D-"
 * of "D-50667 Köln", "SE-" of "SE-114 55 Stockholm"): a code of the
 * markets and their neighbours in capitals and a hyphen, no space
 * between; "H-0201" is a Norwegian flat. Returns 2, or 0 for none. */
static uint32_t country_prefix(const struct scan *s, uint32_t j)
{
	static const char *const codes[] = { "D", "DE", "A", "AT", "CH", "NL", "B", "BE", "N",
					     "NO", "S", "SE", "DK", "FI", "L", "LU", "F", "FR",
					     "CZ", "PL", "I", "IT" };
	if (j + 2 >= s->n || tk(s, j)->kind != TOK_WORD || tk(s, j)->len > 2 ||
	    !is_punct(s, j + 1, '-') || !glued(s, j + 1) || !glued(s, j + 2))
		return 0;
	const char *c = s->text + tk(s, j)->off;
	size_t n = tk(s, j)->len;
	for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++)
		if (strlen(codes[k]) == n && memcmp(codes[k], c, n) == 0)
			return postcode_at(s, j + 2) ? 2 : 0;
	return 0;
}

static bool dated_after(const struct scan *s, uint32_t he, bool announced, bool named);

/* Whether token k may open a town's name where no postcode vouches for
 * it: no word the vocabulary knows, but an opener ("Sint-Michielsgestel"). */
static bool town_word(const struct scan *s, uint32_t k)
{
	const struct word *w = word_at(s, k);
	return !w || (!(w->flags & ~W_OPENER) && !reading_word(w) && w->ocue_head < 0);
}

/* A city after the `city_preps` word at token j, its first word a
 * town_word: capitalised ("Storgata 12B i Oslo", "Dorpsstraat 5 te
 * Utrecht"; not "in März", nor "in Flat 2"), or in lower case where the
 * text, its clause or its line ends there or a date follows ("kongens
 * gate 10 i trondheim fra 1. januar"; not "i stedet for", nor "in totaal
 * 3 kamers"). Returns the index after it, or 0. */
static uint32_t prep_city_at(const struct scan *s, uint32_t j)
{
	uint32_t c = j + 1, ce;
	if (!lower_word_with(s, j, W_CITY_PREP) || c >= s->n || !town_word(s, c) ||
	    !(ce = city_at(s, c)))
		return 0;
	if (city_word(s, c))
		return ce;
	const struct tok *t = tk(s, c);
	bool plain = !(t->flags & (TOK_F_CAP | TOK_F_LINE)) && t->nlen >= 2;
	bool ends = ce >= s->n || tk(s, ce)->kind == TOK_PUNCT || (tk(s, ce)->flags & TOK_F_LINE);
	return plain && (ends || used(s, ce) || dated_after(s, ce, true, false)) ? ce : 0;
}

/* Whether the city after the house number ending before token he vouches
 * for a doubtful street: one prep_city_at reads, capitalised or with a
 * date after it. "kongens gate 10 i trondheim fra 1. januar" is an
 * address; "vi har parkeringsplass 2 i kjelleren" is none. */
static bool city_vouches(const struct scan *s, uint32_t he)
{
	uint32_t ce = prep_city_at(s, he);
	return ce && (city_word(s, he + 1) || used(s, ce) || dated_after(s, ce, true, false));
}

/* Reads the place at token j, after the street or its flat (comma: after
 * a comma): a postcode and maybe a city ("0155 Oslo", "D-50667 Köln"); a
 * `city_preps` word and a postcode and city ("in 10115 Berlin"; "i 2027"
 * is a year) or a city alone (prep_city_at, "1. Stock, in Magdeburg");
 * or, after the comma, a capitalised city that ends the sentence ("Baker
 * Street 5, London."). With strict, a postcode counts only with a
 * capitalised city after it: after a flat, "flat 2, 2027 we move" is a
 * year. Returns whether it read one. */
static bool place_at(const struct scan *s, uint32_t j, bool comma, bool strict,
		     struct addr_span *sp)
{
	/* A British postcode follows the town, or stands alone: "Leeds LS1
	 * 4AP", "London, NW1 6XE", "NW1 6XE". */
	uint32_t ue = uk_postcode_at(s, j), te = 0, tce;
	if (!ue && (te = city_at(s, j)))
		ue = uk_postcode_at(s, te + is_punct(s, te, ','));
	if (ue) {
		sp->pc0 = te ? te + is_punct(s, te, ',') : j;
		sp->pc1 = sp->end = ue;
		if (te) {
			sp->c0 = j;
			sp->c1 = te;
		} else if (ue < s->n && (tk(s, ue)->flags & TOK_F_CAP) && (tce = city_at(s, ue)) &&
			   city_ends(s, tce)) {
			/* The town after it, as some write: "OX1 4AA Oxford". */
			sp->c0 = ue;
			sp->c1 = sp->end = tce;
		}
		return true;
	}
	bool prep = lower_word_with(s, j, W_CITY_PREP);
	uint32_t p = j + prep;
	p += country_prefix(s, p);
	uint32_t pe = postcode_at(s, p);
	uint32_t ce = pe ? city_at(s, pe) : 0;
	bool capital = ce && (tk(s, elision_end(s, pe))->flags & TOK_F_CAP);
	if (pe && (prep ? ce && town_word(s, pe) : !strict || capital)) {
		sp->pc0 = p;
		sp->pc1 = pe;
		sp->end = pe;
		if (ce) {
			sp->c0 = pe;
			sp->c1 = ce;
			sp->end = ce;
		}
		return true;
	}
	if (prep && (ce = prep_city_at(s, j))) {
		sp->c0 = j + 1;
		sp->c1 = ce;
		sp->end = ce;
		return true;
	}
	if (comma && j < s->n && (tk(s, j)->flags & TOK_F_CAP) && town_word(s, j) &&
	    (ce = city_at(s, j)) && (ce >= s->n || tk(s, ce)->kind == TOK_PUNCT)) {
		sp->c0 = j;
		sp->c1 = ce;
		sp->end = ce;
		return true;
	}
	return false;
}

/* A message that is a postcode and its town alone, a correction phrase
 * and a `city_preps` word before them or not ("1015 CJ Amsterdam",
 * "London NW1 6XE", "sorry, in Cambridge CB2 1RX"), goes to out->place.
 * Other words say they are another place's: "vi flytter fra 5013
 * Bergen", "I work in 0250 Oslo". A town without its postcode is too
 * little: any capitalised word. */
static void place_alone(const struct scan *s, struct slot_found *out)
{
	uint32_t i = answer_start(s);
	i += lower_word_with(s, i, W_CITY_PREP);
	struct addr_span sp = { 0 };
	if (i >= s->n || !place_at(s, i, false, true, &sp) || sp.pc1 == sp.pc0 ||
	    !ends_here(s, sp.end))
		return;
	struct slot_address *pl = &out->place;
	const struct tok *a = tk(s, i), *e = tk(s, sp.end - 1);
	const struct tok *p0 = tk(s, sp.pc0), *p1 = tk(s, sp.pc1 - 1);
	copy_span(pl->text, sizeof(pl->text), s->text, a->off, e->off + e->len - a->off);
	copy_span(pl->postcode, sizeof(pl->postcode), s->text, p0->off,
		  p1->off + p1->len - p0->off);
	if (sp.c1 > sp.c0) {
		const struct tok *c0 = tk(s, sp.c0), *c1 = tk(s, sp.c1 - 1);
		copy_span(pl->city, sizeof(pl->city), s->text, c0->off,
			  c1->off + c1->len - c0->off);
	}
	out->has_place = true;
}

/* Reads the flat and the place after token k, the end of the street. */
static void tail_at(const struct scan *s, uint32_t k, struct addr_span *sp)
{
	sp->end = k;
	bool comma = is_punct(s, k, ',');
	uint32_t j = k + comma;
	/* A flat or floor is part of the address when a place follows it:
	 * "Götgatan 78, lgh 1102, 118 30 Stockholm", "Götgatan 78 (lgh
	 * 1102), 118 30 Stockholm", "Kungsgatan 12 lgh 1102 i Göteborg". */
	bool paren = !comma && is_punct(s, j, '(');
	uint32_t ue = unit_at(s, j + paren);
	if (paren && ue && !is_punct(s, ue, ')'))
		ue = 0;
	ue += ue && paren;
	bool uc = ue && is_punct(s, ue, ',');
	if (ue && place_at(s, ue + uc, uc, true, sp))
		return;
	/* Words between two commas before a postcode and city are a part of
	 * the building the unit reader does not know, no city: "Brunnenstr.
	 * 7, Hinterhaus, 10119 Berlin". */
	uint32_t be, pe;
	if (comma && (be = city_at(s, j)) && is_punct(s, be, ',') &&
	    (pe = postcode_at(s, be + 1)) && city_at(s, pe))
		j = be + 1;
	place_at(s, j, comma, false, sp);
}

static bool fill_address(const struct scan *s, const struct addr_span *sp,
			 struct slot_found *out)
{
	const struct tok *a = tk(s, sp->a);
	const struct tok *se = tk(s, sp->street_end - 1);
	const struct tok *e = tk(s, sp->end - 1);
	struct slot_address *ad = &out->address;
	/* The tokenizer drops the apostrophe of Dutch "'s-" ("'s-Gravendijkwal
	 * 88"): the name keeps it. */
	uint32_t off = a->off;
	if (a->len == 1 && s->text[off] == 's' && sp->a + 1 < s->n &&
	    tk(s, sp->a + 1)->off == off + 2 && s->text[off + 1] == '-') {
		if (off >= 1 && s->text[off - 1] == '\'')
			off -= 1;
		else if (off >= 3 && (memcmp(s->text + off - 3, "\xe2\x80\x99", 3) == 0 ||
				      memcmp(s->text + off - 3, "\xe2\x80\x98", 3) == 0))
			off -= 3;
	}
	if (!copy_span(ad->street, sizeof(ad->street), s->text, off, se->off + se->len - off)) {
		/* A street too long to keep is no street; leave nothing of it. */
		memset(ad, 0, sizeof(*ad));
		return false;
	}
	if (sp->lead)
		off = tk(s, sp->a - sp->lead)->off;
	copy_span(ad->text, sizeof(ad->text), s->text, off, e->off + e->len - off);
	ad->postcode[0] = ad->city[0] = '\0';
	if (sp->pc1 > sp->pc0) {
		const struct tok *p0 = tk(s, sp->pc0), *p1 = tk(s, sp->pc1 - 1);
		copy_span(ad->postcode, sizeof(ad->postcode), s->text, p0->off,
			  p1->off + p1->len - p0->off);
	}
	if (sp->c1 > sp->c0) {
		const struct tok *c0 = tk(s, sp->c0), *c1 = tk(s, sp->c1 - 1);
		copy_span(ad->city, sizeof(ad->city), s->text, c0->off, c1->off + c1->len - c0->off);
	}
	out->has_address = true;
	out->addr_off = off;
	out->addr_len = e->off + e->len - off;
	return true;
}

/* Whether vocabulary word w names no street: an L2 trigger ("Powerwall
 * 2") or a one-word other_numbers label ("clearing 8327-9"). */
static bool not_street(const struct word *w)
{
	return w && (w->flags & W_NOT_STREET);
}

/* A plain word that may be part of a street name. */
static bool name_word(const struct scan *s, uint32_t k)
{
	return k < s->n && tk(s, k)->kind == TOK_WORD && !used(s, k) && !is_digit(nt(s, k)[0]) &&
	       !not_street(word_at(s, k));
}

static bool cap_word(const struct scan *s, uint32_t k)
{
	return name_word(s, k) && (tk(s, k)->flags & TOK_F_CAP);
}

/* Whether token k is a particle with a capitalised word before it: "Witte
 * de" of "Witte de Withstraat". */
static bool particle_after_cap(const struct scan *s, uint32_t k)
{
	const struct word *w, *before;
	if (k == 0 || !name_word(s, k) || (tk(s, k)->flags & TOK_F_CAP) || !(w = word_at(s, k)) ||
	    !(w->flags & W_PARTICLE) || !cap_word(s, k - 1))
		return false;
	/* Not after a word that starts a [dates] phrase or an address cue:
	 * "Verhuizing van Kerkstraat 5" moves from there. A from word may
	 * open a name ("Van der Takstraat"). */
	before = word_at(s, k - 1);
	return !before || (before->dcue_head < 0 && before->cue_head < 0);
}

/* True when no running text follows at token k: the end, punctuation, a
 * number (a postcode), or the date. An address written in lower case
 * or one that could be an ordinary word ("Anyway 2 things") is only
 * believed when it is not followed by more words. */
static bool text_ends(const struct scan *s, uint32_t k)
{
	return k >= s->n || tk(s, k)->kind != TOK_WORD || used(s, k) ||
	       postcode_at(s, k + 1) > 0; /* "Hauptstraße 5 in 10115 Berlin" */
}

static bool sentence_start(const struct scan *s, uint32_t i)
{
	return i == 0 || is_punct(s, i - 1, '.') || is_punct(s, i - 1, '!') ||
	       is_punct(s, i - 1, '?');
}

/* Whether token i opens the text, a line, a sentence, or a clause after
 * ';' or ','. */
static bool clause_start(const struct scan *s, uint32_t i)
{
	return sentence_start(s, i) || (tk(s, i)->flags & TOK_F_LINE) ||
	       is_punct(s, i - 1, ';') || is_punct(s, i - 1, ',');
}

/* Whether token k is a place's adjective that starts a street's name
 * ("Eppendorfer" of "in die Eppendorfer Landstraße"): capitalised, long
 * enough, with a name ending, after a name article, on the street's line.
 * Most words ending so are nouns and names ("bei meiner Mutter Lindenweg
 * 7", "Thomas Becker\nLindenweg 7"), which the article and the line
 * keep out. */
static bool place_adjective(const struct scan *s, uint32_t k)
{
	const struct word *a;
	if (k == 0 || !cap_word(s, k) || tk(s, k)->nchars < NAME_ENDING_WORD_MIN ||
	    (tk(s, k + 1)->flags & TOK_F_LINE) || !(a = word_at(s, k - 1)) ||
	    !(a->flags & W_NAME_ARTICLE))
		return false;
	const char *p = nt(s, k);
	size_t n = tk(s, k)->nlen;
	for (uint8_t e = 0; e < s->v->nname_endings; e++) {
		size_t el = strlen(s->v->name_endings[e]);
		if (el < n && memcmp(p + n - el, s->v->name_endings[e], el) == 0)
			return true;
	}
	return false;
}

/* The word that opens street names ending at token k, in either case:
 * "Vestre", "große", an abbreviation with its dot ("St."), or "S:t", which
 * the tokenizer splits at its colon and is looked up as "st". Only an
 * abbreviation (OPENER_ABBR_MAX letters) takes the dot: "Frau Lange.
 * Hauptstraße 5" ends a sentence. Returns its first token plus one, or 0
 * for none. */
static uint32_t opener_end_at(const struct scan *s, uint32_t k)
{
	bool dot = is_punct(s, k, '.') && glued(s, k) && k > 0;
	k -= dot;
	if (!name_word(s, k) || (dot && tk(s, k)->nchars > OPENER_ABBR_MAX))
		return 0;
	const struct word *w = word_at(s, k);
	if (w && (w->flags & W_OPENER))
		return k + 1;
	/* "S:t": a capital, a colon and the rest, glued. */
	if (dot || k < 2 || !is_punct(s, k - 1, ':') || !glued(s, k - 1) || !glued(s, k) ||
	    !cap_word(s, k - 2))
		return 0;
	char buf[16];
	size_t a = tk(s, k - 2)->nlen, b = tk(s, k)->nlen;
	if (a + b > sizeof(buf))
		return 0;
	memcpy(buf, nt(s, k - 2), a);
	memcpy(buf + a, nt(s, k), b);
	w = lookup(s->v, buf, a + b);
	return w && (w->flags & W_OPENER) ? k - 1 : 0;
}

/* A title or a Dutch ordinal ending at token k that opens a street's
 * name, as Dutch streets are named for doctors and lawyers ("Dr.
 * Kuyperstraat 5", "Mr. Visserplein 3") and numbered ("1e Helmersstraat
 * 30", "2de Jan Steenstraat"): a capitalised `titles` word, with its dot
 * or not, or one or two digits and "e", "de" or "ste". Returns its token
 * plus one, or 0. Only right before the name: "Dr. Lange Hauptstraße 5"
 * is Dr. Lange's (opener_start). */
static uint32_t name_prefix_end_at(const struct scan *s, uint32_t k)
{
	bool dot = k > 0 && is_punct(s, k, '.') && glued(s, k);
	k -= dot;
	const struct tok *t = tk(s, k);
	if (t->kind != TOK_WORD || used(s, k))
		return 0;
	const struct word *w = word_at(s, k);
	if (w && (w->flags & W_TITLE))
		return (t->flags & TOK_F_CAP) ? k + 1 : 0;
	const char *p = nt(s, k);
	size_t d = 0;
	while (d < t->nlen && is_digit(p[d]))
		d++;
	size_t rn = t->nlen - d;
	bool ordinal = d >= 1 && d <= 2 && !dot &&
		       ((rn == 1 && p[d] == 'e') || (rn == 2 && memcmp(p + d, "de", 2) == 0) ||
			(rn == 3 && memcmp(p + d, "ste", 3) == 0));
	return ordinal ? k + 1 : 0;
}

/* Whether a person's or a street's name ends at token k, maybe with a
 * particle after it ("Jan de"): a capitalised word that does not open a
 * sentence ("Anna", "Main"), a title ("Dr", "Frau", with its dot or not)
 * or an initial with its dot ("M."). An opener after it is part of that
 * name: "Anna Lange Bahnhofstraße 12", "Main St. Kirkegata 3", "Gruß M.
 * Lange Bahnhofstraße 12", "Dr. Große Sonnenallee 45". */
static bool name_before(const struct scan *s, uint32_t k)
{
	const struct word *w = word_at(s, k);
	if (k > 0 && w && (w->flags & W_PARTICLE) && !(tk(s, k)->flags & TOK_F_CAP))
		k--;
	if (k > 0 && is_punct(s, k, '.') && glued(s, k)) {
		/* Any other word with a dot ends a sentence: "Hi. Vestre
		 * Strandgate 42", "jeg heter Per. St. Olavs gate 21". */
		w = word_at(s, k - 1);
		return (w && (w->flags & W_TITLE)) ||
		       (tk(s, k - 1)->kind == TOK_WORD && tk(s, k - 1)->nchars == 1);
	}
	w = word_at(s, k);
	return (w && (w->flags & W_TITLE)) || (cap_word(s, k) && !sentence_start(s, k));
}

static bool announcer_ends_at(const struct scan *s, uint32_t k);

static bool ocue_ends_at(const struct scan *s, uint32_t k, enum cue_kind kind);

/* Where a street's name starts when an opener (opener_end_at) stands
 * right before its first word at token a, on its line and not after
 * another name: "Vestre Strandgate 42", "Lilla Varvsgatan 14", "St. Olavs
 * gate 21", "S:t Eriksgatan 58", both capitalised. A customer typing in
 * lower case writes "vi flyttar till stora nygatan 20" or "stora Nygatan
 * 20": an opener or street in lower case is taken right after a phrase
 * that announces an address, new or old (its colon between or not), or at
 * lo when a cue's address starts there (cue: "ny adress (från 1/12):
 * stora nygatan 20"), and after a `to` word ("vi flyttar om 3 veckor till
 * lilla varvsgatan 14"), where an adjective of the customer's own would
 * follow an article ("naar de oude kerkstraat 5"). Returns a otherwise,
 * and never goes below lo. */
static uint32_t opener_start(const struct scan *s, uint32_t a, uint32_t lo, bool cue)
{
	if (a <= lo || (tk(s, a)->flags & TOK_F_LINE))
		return a;
	/* The opener's own tokens are glued ("St", ".";  "S", ":", "t"), so
	 * no line break falls between them. A particle in lower case may
	 * stand between it and the name: "Burg. de Withstraat 5". */
	uint32_t o = opener_end_at(s, a - 1);
	const struct word *pw;
	if (!o && a - 1 > lo && !(tk(s, a - 1)->flags & (TOK_F_CAP | TOK_F_LINE)) &&
	    (pw = word_at(s, a - 1)) && (pw->flags & W_PARTICLE))
		o = opener_end_at(s, a - 2);
	bool prefix = !o && (o = name_prefix_end_at(s, a - 1));
	if (!o || o - 1 < lo)
		return a;
	bool cased = (tk(s, a)->flags & TOK_F_CAP) &&
		     (prefix || (tk(s, o - 1)->flags & TOK_F_CAP));
	if (!cased && !(cue && o - 1 == lo) && !announcer_ends_at(s, o - 1) &&
	    !ocue_ends_at(s, o - 1, CUE_TO_ADDRESS) &&
	    !(o >= 2 && is_punct(s, o - 2, ':') && announcer_ends_at(s, o - 2)))
		return a;
	uint32_t first = o - 1;
	if (first > lo && !(tk(s, first)->flags & TOK_F_LINE) && name_before(s, first - 1))
		return a;
	return first;
}

/* The length of the name before the street suffix that word i ends in
 * ("stor" of "storgata"), or 0 when the word is no such compound. A long
 * suffix takes a short name ("Åsgatan"), which street_at believes only
 * with a postcode or city or after a cue: "Umstieg 3 Monate" is none. */
static size_t compound_name_len(const struct scan *s, uint32_t i)
{
	const struct tok *t = tk(s, i);
	if (t->nlen < COMPOUND_SUFFIX_MIN + SHORT_PREFIX_MIN)
		return 0;
	size_t sl = suffix_match(s->v, nt(s, i), t->nlen, NULL);
	size_t min = sl >= LONG_SUFFIX_MIN ? SHORT_PREFIX_MIN : COMPOUND_PREFIX_MIN;
	/* A suffix too short to end a compound alone ("gt", "vn") ends one
	 * in a capitalised word with its abbreviation's dot after it:
	 * "Storgt. 5", "Lillevn. 12". */
	bool dotted = sl && (t->flags & TOK_F_CAP) && is_punct(s, i + 1, '.') && glued(s, i + 1);
	return (sl >= COMPOUND_SUFFIX_MIN || dotted) && t->nlen - sl >= min ? t->nlen - sl : 0;
}

/* Whether word i may end a street's name: a suffix by itself ("gate",
 * "Street"; *name_len 0) or a compound ending in one ("Storgata"; the
 * length of its name before the suffix in *name_len). A word that is a
 * suffix by itself is in the word table with W_SUFFIX, exactly when the
 * trie holds it, so the cached lookup answers that. Only a compound needs
 * its longest suffix, and only a long enough word can be one; most words
 * never reach the trie, since the address finder only asks near a house
 * number. A word that opens a phrase of the move or a date cue there
 * names no street either: "Flytter 15" (ends in "ter") moves on the 15th,
 * while "Kjølnes ring 30" is no "ring meg". */
static enum cue_kind dcue_at(const struct scan *s, uint32_t j, uint32_t *end);

static bool street_word(const struct scan *s, uint32_t i, size_t *name_len)
{
	*name_len = 0;
	if (tk(s, i)->kind != TOK_WORD)
		return false;
	const struct word *sw = word_at(s, i);
	bool whole = sw && (sw->flags & W_SUFFIX);
	if (!whole)
		*name_len = compound_name_len(s, i);
	uint32_t e;
	return !not_street(sw) && !(sw && sw->dcue_head >= 0 && dcue_at(s, i, &e) != CUE_NONE) &&
	       (whole || *name_len);
}

/* Whether a postcode follows the house number that ends before token he,
 * a comma between or not: "prinsengracht 263 1016GV amsterdam". A postcode
 * written as one word is a word to text_ends, yet no running text. */
static bool postcode_after(const struct scan *s, uint32_t he)
{
	return postcode_at(s, he + is_punct(s, he, ',')) > 0;
}

/* Whether a date follows token he, announced by a phrase of the move or a
 * date cue that starts there, or by fillers or a from word where the
 * address was announced (announced) or is written as a name (named, then
 * an absolute date only): "storgata 5 fra og med 1. mai", "Hauptstraße 5
 * ab 1. März", "Kirkeveien 3 fra 1. mars", "moving to baker street 21 on
 * december 1". The date ends the
 * running text as text_ends has it; the words before it are part of the
 * date, not more words. Fillers alone say less: "moving out of my flat in
 * kirkeveien 55 on the 15th" leaves it. */
static bool dated_after(const struct scan *s, uint32_t he, bool announced, bool named)
{
	uint32_t e;
	bool cued = dcue_at(s, he, &e) != CUE_NONE;
	uint32_t from_end;
	if (!e && (announced || named) && ocue_at(s, he, &from_end) == CUE_FROM_ADDRESS)
		e = from_end;
	if (!e && !announced && !named)
		return false;
	e = skip_fillers(s, e ? e : he);
	if (e <= he || e >= s->n)
		return false;
	if (cued || announced)
		return used(s, e);
	/* Written as a name, with no cue: a date with its month only, since
	 * "Anyway 2 on Monday" reads the same as "Hauptstraße 5 ab Montag". */
	for (uint32_t k = 0; k < s->ndates; k++)
		if (s->dates[k].a == e)
			return !s->dates[k].rel;
	return false;
}

/* Whether an old or from phrase ends at token k: "flytter fra | storgata 5
 * til ...". */
static bool left_before(const struct scan *s, uint32_t k)
{
	return ocue_ends_at(s, k, CUE_OLD_ADDRESS) || ocue_ends_at(s, k, CUE_FROM_ADDRESS);
}

/* Where the address after a `to` phrase or an arrow at token he starts
 * ("fra storgata 5 til | nedre slottsgate 8", "Sinsenveien 11 -> |
 * Trondheimsveien 2"); 0 when none stands there. */
static uint32_t to_after(const struct scan *s, uint32_t he)
{
	uint32_t e;
	if ((is_punct(s, he, '-') || is_punct(s, he, '=')) && is_punct(s, he + 1, '>') &&
	    glued(s, he + 1))
		return he + 2;
	return ocue_at(s, he, &e) == CUE_TO_ADDRESS ? e : 0;
}

/* A street whose name ends in a suffix at token i: "Hauptstraße 5",
 * "Berliner Str. 5", "Thorvald Meyers gate 12", "12 Baker Street". The
 * name starts no earlier than lo. After a cue (cue) lower-case names are
 * taken as well, since the cue already says an address follows. Without
 * one, customers in a chat write lower case too: a lower-case compound
 * ("storgata 12b", "drottninggatan 5") is taken when no running text
 * follows its house number (text_ends: the end, punctuation, a number),
 * or a postcode or a date does: the same doubt as for a compound that
 * opens a sentence ("Anyway 2 things"). A lower-case word before a
 * separate suffix ("meyers gate 12") is taken only when a postcode and a
 * city follow, since "a bigger place 5" reads the same. */
static bool street_at(const struct scan *s, uint32_t i, uint32_t lo, bool cue,
		      struct slot_found *out)
{
	const struct tok *t = tk(s, i);
	size_t name_len;
	if (used(s, i) || !street_word(s, i, &name_len))
		return false;
	bool whole = name_len == 0;

	/* Name words: capitalised words before a separate suffix, or before
	 * a compound after a cue ("ny adresse Nedre Slottsgate 8"), and words
	 * the tokenizer split at a hyphen ("Karl-Marx-Straße") before any. */
	uint32_t start = i;
	/* A suffix joined to its name by a hyphen ends a name written as one
	 * word: "Wohnungsübergabe Karl-Marx-Straße 200" names Karl Marx. */
	bool hyphened = whole && i > lo && !(t->flags & TOK_F_SPACE);
	for (int w = 0; start > lo && w < NAME_WORDS_MAX; w++) {
		/* A street's name does not go back over a line break: the line
		 * before is a name or a label ("Ny adresse: Kari
		 * Hansen\nKirkegata 3"). */
		if (tk(s, start)->flags & TOK_F_LINE)
			break;
		uint32_t k = start - 1;
		bool joined = !(tk(s, start)->flags & TOK_F_SPACE);
		if (hyphened && !joined)
			break;
		/* "Witte de Withstraat", "Laan van Meerdervoort": a particle
		 * between two capitalised words is part of the name, cue or not. */
		if (k > lo && w + 1 < NAME_WORDS_MAX && particle_after_cap(s, k) &&
		    cap_word(s, start)) {
			start = k - 1;
			w++;
			continue;
		}
		if (!name_word(s, k) ||
		    (!joined && !(whole || cue ? cap_word(s, k)
					       : w == 0 && (t->flags & TOK_F_CAP) && place_adjective(s, k))))
			break;
		start = k;
	}
	/* "op de Hendrik Figeeweg 85", "på Katarina Bangata 19": capitalised
	 * words between a name_leads word and a capitalised compound, on its
	 * line, open its name. German, whose nouns are capitalised, lists no
	 * such word ("im Haus Lindenweg 7"). */
	if (!whole && start == i && (t->flags & TOK_F_CAP)) {
		uint32_t k = i;
		while (k > lo + 1 && i - k < NAME_WORDS_MAX - 1 && cap_word(s, k - 1) &&
		       !(tk(s, k)->flags & TOK_F_LINE) && (tk(s, k)->flags & TOK_F_SPACE))
			k--;
		const struct word *lead = k < i ? word_at(s, k - 1) : NULL;
		if (lead && (lead->flags & W_NAME_LEAD) && !(tk(s, k)->flags & TOK_F_LINE))
			start = k;
	}
	/* A compound is a strong sign even in lower case ("storgata 5"); a
	 * separate suffix after a lower-case word ("a bigger place") is not:
	 * it needs the cue, or a postcode and a city after its number. */
	bool lower = false, bare = false;
	if (whole && start == i && i > lo && name_word(s, i - 1)) {
		start = i - 1;
		lower = !cap_word(s, start);
		bare = !cue;
	}
	struct addr_span sp = { 0 };
	uint32_t after = skip_dot(s, i + 1);
	uint32_t he = whole && start == i ? 0 : house_at(s, after);
	/* The opener only lengthens a street found without it: the doubt and
	 * the guards below are about the name's own words. Without a house
	 * number neither is asked. */
	uint32_t first = he ? opener_start(s, start, lo, cue) : start;
	/* A compound is doubtful in lower case with no cue or to phrase
	 * before it ("ziehe am 1.12. in die lindenallee 35 gruß tom"), where
	 * it opens a sentence ("Anyway 2 things"; not after its opener's dot,
	 * "Pr. Hendrikkade 50"), and where only an
	 * abbreviation's dot makes it one ("Edward. 3 things" ends in the
	 * "rd" of "road"). */
	bool told = cue || (he && ocue_ends_at(s, first, CUE_TO_ADDRESS));
	bool doubt = lower ||
		     (!whole && !told &&
		      (!(t->flags & TOK_F_CAP) || (first == start && sentence_start(s, start)))) ||
		     (name_len && !cue && t->nlen - name_len < COMPOUND_SUFFIX_MIN);
	/* "a bigger place 5 minutes away", "anyway 2 things": a doubtful
	 * street must end the text at its number, or have a postcode or a date
	 * after it (after fillers or a from word where a cue or a to phrase
	 * announced it, or its name is capitalised), or be the one left with
	 * the new one's to phrase after it ("fra storgata 5 til ..."). */
	if (he && doubt && !text_ends(s, he) && !postcode_after(s, he) && !city_vouches(s, he) &&
	    !dated_after(s, he, told, (t->flags & TOK_F_CAP) && !lower) &&
	    !(to_after(s, he) && left_before(s, first)))
		he = 0;
	bool short_name = name_len && name_len < COMPOUND_PREFIX_MIN && start == i && !cue;
	if (he) {
		sp.a = first;
		sp.street_end = he;
		tail_at(s, he, &sp);
		if ((bare && (sp.pc1 == sp.pc0 || sp.c1 == sp.c0)) ||
		    (short_name && sp.pc1 == sp.pc0 && sp.c1 == sp.c0))
			return false;
		return fill_address(s, &sp, out);
	}
	if (bare || short_name || (!whole && !cue && !(t->flags & TOK_F_CAP)))
		return false;

	/* English order: the number first, then the name, "221B Baker St".
	 * Its words are capitalised unless a cue announced the address. */
	uint32_t k = i;
	for (int w = 0; k > lo; w++) {
		uint32_t hn = k - 1;
		if ((!whole || k < i) && house_at(s, hn) == k) {
			/* In lower case only where it ends the running text, or
			 * right after its cue with a suffix word of three
			 * letters or more: "i moved into 5 kings road last
			 * week", not "vi flyttar till 2 st lägenheter" (Swedish
			 * "st" counts pieces). */
			if (lower && !text_ends(s, after) &&
			    !(cue && hn == lo && whole && t->nchars >= LOWER_SUFFIX_MIN))
				return false;
			sp.a = hn;
			sp.lead = flat_before(s, hn, lo);
			sp.street_end = i + 1;
			tail_at(s, after, &sp);
			if (sp.end == after)
				sp.end = i + 1;
			return fill_address(s, &sp, out);
		}
		if (w == NAME_WORDS_MAX || !name_word(s, hn) || (!cue && !cap_word(s, hn)))
			break;
		lower |= !cap_word(s, hn);
		k = hn;
	}
	return false;
}

/* A street with no suffix, one word at token i right before its house
 * number: "damrak 1, 1012 LG amsterdam", "Rokin 12 1012KT Amsterdam".
 * Nothing in the name says street, so it is taken only with a postcode
 * and a city after the number, the city ending the text. A bare group of
 * four or five digits is as often a year or part of a number ("pulse 2
 * 2024 model", "zählernummer 12 34567 berlin"), so it counts only after
 * a comma; a postcode with letters ("1012 LG") or in two groups ("111
 * 51") counts without. A word of the slot vocabulary (a month, a number
 * word, a filler, a cue) is never the name, but capitalised words joined
 * by a particle before it are part of it. */
static bool plain_street_at(const struct scan *s, uint32_t i, struct slot_found *out)
{
	if (!name_word(s, i) || tk(s, i)->nlen < COMPOUND_PREFIX_MIN || word_at(s, i))
		return false;
	uint32_t he = house_at(s, i + 1);
	if (!he)
		return false;
	struct addr_span sp = { .a = i, .street_end = he };
	/* "Laan van Meerdervoort 200", "Unter den Linden 5"; an opener
	 * before: "Oude Haven 4", "Lange Reihe 10". */
	while (sp.a >= 2 && i - sp.a + 2 < NAME_WORDS_MAX && cap_word(s, sp.a) &&
	       particle_after_cap(s, sp.a - 1))
		sp.a -= 2;
	sp.a = opener_start(s, sp.a, 0, false);
	tail_at(s, he, &sp);
	if (sp.pc1 == sp.pc0 || sp.c1 == sp.c0 ||
	    (sp.c1 < s->n && tk(s, sp.c1)->kind != TOK_PUNCT))
		return false;
	bool shaped = sp.pc1 - sp.pc0 == 2 || tk(s, sp.pc0)->kind == TOK_WORD;
	if (!shaped && !is_punct(s, he, ','))
		return false;
	return fill_address(s, &sp, out);
}

/* Where the sentence that starts at token j ends: at . ! ? ; (not the dot
 * of "Str."), at the date or meter ID, or after CUE_SCAN_MAX tokens. */
static uint32_t sentence_end(const struct scan *s, uint32_t j)
{
	uint32_t k;
	for (k = j; k < s->n && k < j + CUE_SCAN_MAX; k++) {
		if (used(s, k))
			return k;
		if (tk(s, k)->kind != TOK_PUNCT)
			continue;
		char c = nt(s, k)[0];
		if (c == '!' || c == '?' || c == ';')
			return k;
		if (c == '.' && !(k > j && glued(s, k) && tk(s, k - 1)->kind == TOK_WORD &&
				  suffix_match(s->v, nt(s, k - 1), tk(s, k - 1)->nlen, NULL)))
			return k;
	}
	return k;
}

/* Where the address starts when a date, its cue's, from, to or until
 * word and fillers before it or not, stands between the cue and the
 * address, a colon, comma, bracket, dash or nothing after it: "new
 * address from 1 dec: baker street 12", "ny adress (från den 1/12) stora
 * nygatan 20", "alte Adresse bis 30.11.: Lindenstraße 5" (a to or until
 * word only where left is true: after a new address's cue it says the
 * address after the date is left). Returns j otherwise, and where a
 * sentence ends after the date. */
static uint32_t past_date(const struct scan *s, uint32_t j, bool left)
{
	uint32_t k = j;
	uint32_t e;
	/* A date cue's phrase may take in the date's first tokens; a from,
	 * to or until phrase ("från", "til", "bis") is often no date cue. */
	enum cue_kind ck;
	if (dcue_at(s, k, &e) != CUE_NONE)
		k = e;
	else if ((ck = ocue_at(s, k, &e)) == CUE_FROM_ADDRESS ||
		 (left && (ck == CUE_TO_ADDRESS || ck == CUE_UNTIL)))
		k = e;
	k = skip_fillers(s, k);
	bool dated = false;
	for (uint32_t t = j; t < k; t++)
		dated |= used(s, t);
	while (k < s->n && used(s, k)) {
		k++;
		dated = true;
	}
	if (!dated || is_punct(s, k, '.') || is_punct(s, k, '!') || is_punct(s, k, '?') ||
	    is_punct(s, k, ';'))
		return j;
	while (k < s->n && tk(s, k)->kind == TOK_PUNCT)
		k++;
	return k;
}

/* The address in the rest of the sentence after a cue phrase that ends
 * before token j: "neue Adresse: Am Markt 3, 12345 Berlin". */
static bool cue_address(const struct scan *s, uint32_t j, struct slot_found *out)
{
	uint32_t cue_end = j;
	while (j < s->n && tk(s, j)->kind == TOK_PUNCT)
		j++;
	/* Past a date only a street that starts right after it, and never
	 * after an old address's phrase ("old address from 1 nov: baker
	 * street 12"): "new address from 1 dec, we live at baker street 12"
	 * names the one left, "…, flat 2" no address. */
	uint32_t undated = j;
	j = past_date(s, j, false);
	bool dated = j != undated;
	if (dated && ocue_ends_at(s, cue_end, CUE_OLD_ADDRESS))
		return false;
	uint32_t e = sentence_end(s, j);
	for (uint32_t k = j; k < e; k++) {
		struct slot_found f = *out;
		if (!street_at(s, k, j, true, &f))
			continue;
		if (dated && f.addr_off != tk(s, j)->off)
			return false;
		*out = f;
		return true;
	}
	/* Past a date, a street without a suffix only after its colon, and
	 * starting right there: "Neue Adresse ab 1.12.: Am Sandtorkai 5". */
	if (dated && !is_punct(s, j - 1, ':'))
		return false;

	/* No street suffix: the first house number carries the address. */
	uint32_t h = j, he = 0;
	while (h < e && !(he = house_at(s, h)))
		h++;
	if (!he || he > e)
		return false;
	struct addr_span sp = { .street_end = he };
	/* Capitalised words, and lower-case ones between two of them ("Laan
	 * van Meerdervoort 200", "Unter den Linden 5"). */
	uint32_t a = h;
	while (a > j && h - a < NAME_WORDS_MAX) {
		if (cap_word(s, a - 1))
			a--;
		else if (a < h && a - 1 > j && name_word(s, a - 1) && cap_word(s, a - 2) &&
			 h - a + 2 <= NAME_WORDS_MAX)
			a -= 2;
		else
			break;
	}
	uint32_t we = he;
	while (we < e && we - he < NAME_WORDS_MAX && cap_word(s, we))
		we++;
	uint32_t u = a;
	while (u < h && unit_word(s, u))
		u++;
	if ((dated && a != j) || (a < h && u == h))
		return false;
	if (a < h) {
		/* Capitalised words before the number, not a flat's alone
		 * ("new address: Flat 2"): "Am Markt 3". */
		sp.a = a;
	} else if (we > he && postcode_at(s, h) <= h + 1) {
		/* The number first: "5 Kings Mews". A Dutch postcode ("1015 CJ
		 * Amsterdam") looks the same and is not taken. */
		sp.a = h;
		sp.street_end = he = we;
	} else {
		/* Lower case: only the words right after the cue, and only when
		 * nothing follows the number ("ny adresse: storgata 5"), so
		 * "moving to Oslo with 2 kids" is no address. */
		while (a > j && h - a < NAME_WORDS_MAX && name_word(s, a - 1))
			a--;
		if (a == h || a != j || !text_ends(s, he))
			return false;
		/* A date cue's, from word or filler and a number alone are a
		 * date: "ny adresse fra 1. des: Storgata 20", "nieuw adres
		 * vanaf 1-12", "neue adresse ab 1. 12." ("am markt 3" is a
		 * street); so is a filler right before the number after a
		 * name: "til Bergen den 3. Stopp avtalen". */
		const struct word *w = word_at(s, a);
		uint32_t fe;
		if ((h - a == 1 && ((w && (w->dcue_head >= 0 || (w->flags & W_FILLER))) ||
				    ocue_at(s, a, &fe) == CUE_FROM_ADDRESS)) ||
		    filler_word(s, h - 1))
			return false;
		sp.a = a;
	}
	tail_at(s, he, &sp);
	return fill_address(s, &sp, out);
}

/* Whether a one-word label of the other kind than pt's (new against old)
 * opens a sentence or line of the message elsewhere than token i: "Old: X.
 * New: Y". */
static bool paired_label(const struct scan *s, const struct pattern *pt, uint32_t i)
{
	enum cue_kind other = pt->kind == CUE_OLD_ADDRESS ? CUE_ADDRESS : CUE_OLD_ADDRESS;
	for (uint32_t j = 0; j + 1 < s->n; j++) {
		if (j == i || !is_punct(s, j + 1, ':') ||
		    !(sentence_start(s, j) || (tk(s, j)->flags & TOK_F_LINE)))
			continue;
		const struct word *w = word_at(s, j);
		if (!w)
			continue;
		for (int32_t k = other == CUE_ADDRESS ? w->cue_head : w->ocue_head; k >= 0;
		     k = s->v->cues[k].next) {
			const struct pattern *q = &s->v->cues[k];
			if (q->n == 2 && q->kind == other && q->e[1].kind == E_COLON)
				return true;
		}
	}
	return false;
}

/* Whether label pt (a cue phrase ending in ':') may start at token i: it
 * opens its line, sentence or clause ("Old: ...", ". Zähler neu: ..."),
 * not "the flat is old: ..." or "Vi har ordnet alt: ...". A one-word
 * label opens the text or a line only, since the vocabulary is every
 * language's: "Det var alt. Alt: Kirkegata 3" is Norwegian for
 * "everything"; or a sentence, where one of the other kind opens another
 * ("Moving house! Old: X. New: Y"). */
static bool label_opens(const struct scan *s, const struct pattern *pt, uint32_t i)
{
	if (pt->n != 2)
		return clause_start(s, i);
	return i == 0 || (tk(s, i)->flags & TOK_F_LINE) ||
	       ((pt->kind == CUE_OLD_ADDRESS || pt->kind == CUE_ADDRESS) && sentence_start(s, i) &&
		paired_label(s, pt, i));
}

/* The index after the longest cue phrase of the chain head (hung on the
 * word at token i: the word's cue_head or dcue_head) starting at token i,
 * of kind want unless want is CUE_NONE, with its kind in *kind unless
 * kind is NULL; or 0. */
static uint32_t cue_of_kind_at(const struct scan *s, uint32_t i, int32_t head,
			       enum cue_kind want, enum cue_kind *kind)
{
	uint32_t best = 0;
	uint32_t h1 = second_hash(s, i + 1);
	for (int32_t k = head; k >= 0; k = s->v->cues[k].next) {
		const struct pattern *pt = &s->v->cues[k];
		if ((want != CUE_NONE && pt->kind != want) || (pt->word1 && pt->h1 != h1))
			continue;
		uint8_t j = 1; /* The chain is hung on the first word. */
		int num, wd;
		while (j < pt->n && elem_match(s, &pt->e[j], i + j, &num, &wd))
			j++;
		/* A label is asked where it stands only once it matched:
		 * paired_label reads the whole message. */
		if (j == pt->n && i + j > best &&
		    (pt->e[pt->n - 1].kind != E_COLON || label_opens(s, pt, i))) {
			best = i + j;
			if (kind)
				*kind = (enum cue_kind)pt->kind;
		}
	}
	return best;
}

/* The index after the longest cue phrase of any kind (see cue_of_kind_at). */
static uint32_t cue_at(const struct scan *s, uint32_t i, int32_t head, enum cue_kind *kind)
{
	return cue_of_kind_at(s, i, head, CUE_NONE, kind);
}

/* Whether a [dates] phrase of kind want starts at token j, though a
 * longer one of another kind may: "verhuis op" is a date cue, "verhuis" a
 * verb of moving. */
static bool dcue_of_kind(const struct scan *s, uint32_t j, enum cue_kind want)
{
	const struct word *w = word_at(s, j);
	return w && w->dcue_head >= 0 && cue_of_kind_at(s, j, w->dcue_head, want, NULL);
}

/* True when token j could be a house number: what house_at accepts at
 * its first token, "12", "12b" or "3bis", not taken by the date or meter
 * ID. */
static inline bool house_like(const struct scan *s, uint32_t j)
{
	const struct tok *t = tk(s, j);
	const char *p = nt(s, j);
	if (!is_digit(p[0]) || p[0] == '0' || used(s, j))
		return false;
	uint32_t k = 0;
	while (k < t->nlen && k <= HOUSE_DIGITS_MAX && is_digit(p[k]))
		k++;
	if (k < 1 || k > HOUSE_DIGITS_MAX)
		return false;
	if (t->kind == TOK_NUM)
		return k == t->nlen;
	return t->kind == TOK_WORD &&
	       ((t->nlen == k + 1 && is_lower(p[k])) || addition(p + k, t->nlen - k));
}

/* The first token from j on that could be a house number, or s->n. */
static uint32_t next_house(const struct scan *s, uint32_t j)
{
	while (j < s->n && !house_like(s, j))
		j++;
	return j;
}

static bool abbr_label_dot(const struct scan *s, uint32_t k);

/* Whether token k ends a sentence: '.', '!', '?' or ';'. A dot before a
 * number, inside a date or closing one before punctuation or a lower-case
 * word, or closing an address label's abbreviation ends none: "Einzug in
 * die Goethestr. 5 am 1. März", "gamle adresse fra 1. november: storgata
 * 5", "alte Adresse bis 30.11.: Lindenstraße 5", "wir ziehen am 3. aus der
 * Wiener Straße 45 aus", "Alte Adr. Schulstraße 8". */
static bool ends_sentence(const struct scan *s, uint32_t k)
{
	return tk(s, k)->kind == TOK_PUNCT && strchr(".!?;", nt(s, k)[0]) &&
	       !(nt(s, k)[0] == '.' && k + 1 < s->n &&
		 (tk(s, k + 1)->kind == TOK_NUM ||
		  (used(s, k) && (used(s, k + 1) || tk(s, k + 1)->kind == TOK_PUNCT ||
				  (tk(s, k + 1)->kind == TOK_WORD && !(tk(s, k + 1)->flags & TOK_F_CAP)))) ||
		  abbr_label_dot(s, k)));
}

/* Whether the sentence that goes on at token e ends in a question mark
 * on its line. */
static bool asked(const struct scan *s, uint32_t e)
{
	for (uint32_t k = e; k < s->n; k++) {
		if (k > e && (tk(s, k)->flags & TOK_F_LINE))
			return false;
		if (ends_sentence(s, k))
			return nt(s, k)[0] == '?';
	}
	return false;
}

/* The first token of the sentence token a is in, no earlier than from. */
static uint32_t sentence_back(const struct scan *s, uint32_t from, uint32_t a)
{
	uint32_t b = a;
	while (b > from && !ends_sentence(s, b - 1))
		b--;
	return b;
}

/* Whether the address cue phrase that ends before token j is a label
 * ("New:", "Ny:"): it only says that what follows is not the address
 * left (announced_old), and announces no address itself, since after a
 * bare "New:" anything with a number would read as one: "New: week 49",
 * "Neu: 2 Zimmer". */
static bool bare_label(const struct scan *s, uint32_t j)
{
	return j > 0 && is_punct(s, j - 1, ':');
}

/* Whether an address cue phrase ends at token k: "flytte til | solveien". */
static bool cue_ends_at(const struct scan *s, uint32_t k)
{
	for (uint32_t j = k > PAT_MAX ? k - PAT_MAX : 0; j < k; j++) {
		const struct word *w = word_at(s, j);
		if (w && w->cue_head >= 0 && cue_at(s, j, w->cue_head, NULL) == k)
			return true;
	}
	return false;
}

/* Whether a [dates] phrase of one of kinds (a mask of 1 << cue_kind) ends
 * right before token i, a colon or comma and fillers between. */
static bool dcue_before(const struct scan *s, uint32_t i, unsigned kinds)
{
	for (uint32_t j = i > PAT_MAX + 3 ? i - PAT_MAX - 3 : 0; j < i; j++) {
		const struct word *w = word_at(s, j);
		enum cue_kind k = CUE_NONE;
		uint32_t e;
		if (!w || w->dcue_head < 0 || !(e = cue_at(s, j, w->dcue_head, &k)) || e > i ||
		    !(kinds & (1u << k)))
			continue;
		if (is_punct(s, e, ':') || is_punct(s, e, ','))
			e++;
		if (e <= i && skip_fillers(s, e) >= i)
			return true;
	}
	return false;
}

/* Whether a phrase of the move or a date cue (an in, out, move or cue line
 * of [dates]; a cue line's only when cue_only) ends right before token i,
 * a colon or comma and fillers between: "we move in on March first",
 * "startdato: 15.3", "sorry, the 20th". */
static bool date_cue_before(const struct scan *s, uint32_t i, bool cue_only)
{
	return dcue_before(s, i, cue_only ? 1u << CUE_DATE | 1u << CUE_MOVE_DATE | 1u << CUE_START
					  : ~0u);
}

/* Whether number token i is the house number of a street the word before
 * it ends, read as the address finder reads streets ("Overlevering 1" at
 * a sentence's start is no street, "vi flytter til Storgata 5" is). */
static bool house_number(const struct scan *s, uint32_t i)
{
	if (i == 0)
		return false;
	struct slot_found tmp = { .has_address = false };
	/* A name without a street's suffix counts where an address cue names
	 * it: "vi flytter til Grensen 9 i oktober" is no 9 October. */
	uint32_t a = i;
	while (a > 0 && i - a < NAME_WORDS_MAX && cap_word(s, a - 1))
		a--;
	if (a < i && cue_ends_at(s, a))
		return true;
	uint32_t lo = sentence_back(s, 0, i - 1);
	if (!street_at(s, i - 1, lo, cue_ends_at(s, i - 1) || (i >= 2 && cue_ends_at(s, i - 2)), &tmp))
		return false;
	uint32_t off = tk(s, i)->off;
	return off >= tmp.addr_off && off < tmp.addr_off + tmp.addr_len;
}

/* The first address at or after token start, in *out; false when none. */
static bool first_address(const struct scan *s, uint32_t start, struct slot_found *out)
{
	/* Every address has its house number, and it lies close to the street
	 * suffix: at most NAME_WORDS_MAX + 1 tokens before it or two after it
	 * ("Str. 5"). After a cue it lies after the cue. So a message without
	 * one has no address, and a word far from one is no street; h follows
	 * the first candidate that is still close enough. */
	uint32_t h = next_house(s, start);
	for (uint32_t i = start; i < s->n && h < s->n; i++) {
		if (tk(s, i)->kind != TOK_WORD || used(s, i))
			continue;
		if (h + NAME_WORDS_MAX + 1 < i) {
			h = next_house(s, i - NAME_WORDS_MAX - 1);
			if (h >= s->n)
				return false;
		}
		const struct word *w = word_at(s, i);
		if (w && w->cue_head >= 0) {
			uint32_t j = cue_at(s, i, w->cue_head, NULL);
			if (j && !bare_label(s, j) && cue_address(s, j, out))
				return true;
		}
		if (h <= i + 2 && street_at(s, i, start, false, out))
			return true;
		if (h == i + 1 && plain_street_at(s, i, out))
			return true;
	}
	return false;
}

/* How an address or meter ID is announced as the one the customer leaves. */
enum old_kind {
	NOT_OLD,
	CUED,       /* after a cue: "ny adresse", "moving to" */
	OLD_WEAK,   /* right after "from": the one left if another follows */
	OLD_STRONG, /* after "old address", "we leave", "alte Zählernummer" */
};

/* Whether tokens [e, a) only join a phrase to what it announces: "old
 * address is X", "alte Adresse: X", "the old meter was X". */
static bool joined(const struct scan *s, uint32_t e, uint32_t a)
{
	if (a - e > 2)
		return false;
	for (uint32_t k = e; k < a; k++) {
		const struct tok *t = tk(s, k);
		if (t->kind != TOK_PUNCT && (t->nlen > 3 || (t->flags & TOK_F_CAP)))
			return false;
	}
	return true;
}

/* The kind of the longest phrase of chain head that starts at token j,
 * with the index after it in *end; CUE_NONE (and *end 0) when none does. */
static enum cue_kind chain_at(const struct scan *s, uint32_t j, int32_t head, uint32_t *end)
{
	enum cue_kind k = CUE_NONE;
	*end = head >= 0 ? cue_at(s, j, head, &k) : 0;
	return *end ? k : CUE_NONE;
}

/* The old, from, sign-off or old_after phrase (the word's ocue_head
 * chain) that starts at token j, as chain_at. */
static enum cue_kind ocue_at(const struct scan *s, uint32_t j, uint32_t *end)
{
	const struct word *w = word_at(s, j);
	return chain_at(s, j, w ? w->ocue_head : -1, end);
}

/* The [dates] phrase (the word's dcue_head chain) that starts at token j,
 * as chain_at. */
static enum cue_kind dcue_at(const struct scan *s, uint32_t j, uint32_t *end)
{
	const struct word *w = word_at(s, j);
	return chain_at(s, j, w ? w->dcue_head : -1, end);
}

/* Whether an old, from, sign-off or old_after phrase of kind ends at
 * token k. */
static bool ocue_ends_at(const struct scan *s, uint32_t k, enum cue_kind kind)
{
	for (uint32_t j = k > PAT_MAX ? k - PAT_MAX : 0; j < k; j++) {
		uint32_t e;
		if (ocue_at(s, j, &e) == kind && e == k)
			return true;
	}
	return false;
}

/* Whether token k is a dot glued to an old or cue phrase that ends with
 * it, as an abbreviation's ("Alte Adr. Schulstraße 8", "neue Adr."). */
static bool abbr_label_dot(const struct scan *s, uint32_t k)
{
	return k > 0 && glued(s, k) && (ocue_ends_at(s, k, CUE_OLD_ADDRESS) || cue_ends_at(s, k));
}

/* Whether a phrase that announces an address ends at token k: a cue, or
 * an old or from phrase ("gamle adressen er | nedre slottsgate 8"). */
static bool announcer_ends_at(const struct scan *s, uint32_t k)
{
	return cue_ends_at(s, k) || left_before(s, k);
}

/* Where the date begins after an until phrase, or a to word where to is
 * true, that starts at token j, fillers between: "bis zum 14. Dezember",
 * "fram til 30. november", "til i dag". A to word says until only where it
 * cannot say to: "vi flytter til Storgata 5 til 1. desember" moves in for
 * that day. Returns 0 when no such phrase starts at j, or no date follows. */
static uint32_t until_date_at(const struct scan *s, uint32_t j, bool to)
{
	uint32_t e;
	enum cue_kind k = ocue_at(s, j, &e);
	if (k != CUE_UNTIL && !(to && k == CUE_TO_ADDRESS))
		return 0;
	e = skip_fillers(s, e);
	return e < s->n && used(s, e) ? e : 0;
}

/* Where a phrase of the move out ([dates] out) that starts at token j ends,
 * with a from phrase right after it ("Auszug aus der", "oplevering van"),
 * if it speaks for the address at token a: on a's line (in its clause too
 * where clause is true), with no phrase of the move in or `to` phrase
 * between ("flytter ut av Storgata 60 den 30. november og inn i Kirkeveien
 * 112", "moving out of my flat to Kirkeveien 3"). 0 when none does. */
static uint32_t moves_out_at(const struct scan *s, uint32_t j, uint32_t a, bool clause)
{
	uint32_t e, end;
	if (dcue_at(s, j, &e) != CUE_MOVE_OUT || e > a)
		return 0;
	if (ocue_at(s, e, &end) == CUE_FROM_ADDRESS && end <= a)
		e = end;
	for (uint32_t i = e; i <= a; i++)
		if ((tk(s, i)->flags & TOK_F_LINE) ||
		    (i < a && ((clause && (is_punct(s, i, ',') || is_punct(s, i, ';'))) ||
			       dcue_of_kind(s, i, CUE_MOVE_IN) ||
			       ocue_at(s, i, &end) == CUE_TO_ADDRESS)))
			return 0;
	return e;
}

/* How the address or meter ID (meter) starting at token a is announced, by
 * the nearest old or address cue before it back to its sentence's start
 * or to token from. "from" counts only right before an address: "from
 * Oslo to Storgata 5", "meter number from the landlord: X" leave it new;
 * after a verb of moving it names the one left ("moving from Storgata 5
 * on friday"). */
static enum old_kind announced_old(const struct scan *s, uint32_t from, uint32_t a, bool meter)
{
	enum old_kind old = NOT_OLD;
	bool moving = false; /* a phrase of the move or move out came before */
	for (uint32_t j = sentence_back(s, from, a); j < a; j++) {
		const struct word *w = word_at(s, j);
		uint32_t e;
		moving |= dcue_of_kind(s, j, CUE_MOVE) || dcue_of_kind(s, j, CUE_MOVE_OUT);
		enum cue_kind k = ocue_at(s, j, &e);
		if (k == CUE_OLD_ADDRESS && e <= a && past_date(s, e, true) == a &&
		    !ocue_ends_at(s, e, CUE_FROM_ADDRESS)) {
			/* The date after the phrase is the move out's, its from
			 * word no phrase of its own: "gamla adressen från den 30
			 * november: storgatan 5". A phrase that ends in a from
			 * word gave the date its from: "vi flytter fra 1.
			 * desember: storgata 5" moves in there. */
			old = OLD_STRONG;
			break;
		} else if ((k == CUE_OLD_ADDRESS || k == CUE_FROM_ADDRESS) && e <= a) {
			/* An old phrase that is a phrase of the move out too
			 * says so from afar in its clause, as one below does in
			 * its sentence: "moving out of my apartment at
			 * Storgata 8", not "Storgata 5 er den gamle adressen,
			 * den nye er Kirkeveien 3". */
			old = k == CUE_FROM_ADDRESS ? (meter || e != a ? NOT_OLD
						       : moving        ? OLD_STRONG
								       : OLD_WEAK)
			      : joined(s, e, a) || (!meter && moves_out_at(s, j, a, true))
				      ? OLD_STRONG
				      : NOT_OLD;
			j = e - 1;
		} else if (!meter && e <= a && !(from > 0 && j == from) &&
			   until_date_at(s, j, clause_start(s, j)) &&
			   !ocue_ends_at(s, a, CUE_TO_ADDRESS)) {
			/* The stay ends at the date: "Bis zum 1. Januar wohne ich
			 * noch in der Skalitzer Straße 19", "Til 30. november:
			 * Vestre gate 5"; "bis zum 1.12. ziehen wir in die
			 * Goethestraße 5" moves in. One right after the address
			 * before (from) ends the stay there: "Storgata 5 until 14
			 * December, then Kirkeveien 3". */
			old = OLD_STRONG;
			j = e - 1;
		} else if (w && w->cue_head >= 0 && (e = cue_at(s, j, w->cue_head, NULL)) && e <= a) {
			old = CUED;
			j = e - 1;
		} else if (!meter && (e = moves_out_at(s, j, a, false))) {
			/* "Handing over keys at Tollbugata 11 on the 30th": a
			 * phrase of the move out names the home left. */
			old = OLD_STRONG;
			j = e - 1;
		}
	}
	return old;
}

/* Whether the number starting at token a is the one an other_numbers
 * phrase before it in its clause (from token from on) names: no number,
 * meter label or punctuation but '-', ':', brackets and the label's own
 * dot between them, and at most OTHER_NUMBER_GAP words ("KID-nummeret på
 * fakturaen er 0045...", "OCR: 7359...", "Kundennr. 0045..."). "KID
 * 12345, målepunkt 7070...", "my contract number and meter ID are
 * 7070..." and "keine Kundennummer, aber die Zählernummer ist ..." keep
 * the meter ID. */
static bool named_other(const struct scan *s, uint32_t from, uint32_t a)
{
	bool named = false, meter = false;
	uint32_t words = 0, meter_end = 0;
	for (uint32_t j = sentence_back(s, from, a); j < a; j++) {
		uint32_t e;
		enum cue_kind k = ocue_at(s, j, &e);
		bool stop = tk(s, j)->kind == TOK_NUM ||
			    (tk(s, j)->kind == TOK_PUNCT && !is_punct(s, j, '-') &&
			     !is_punct(s, j, ':') && !is_punct(s, j, '(') && !is_punct(s, j, ')'));
		if (k == CUE_OTHER_NUMBER && e <= a && meter && j > meter_end &&
		    j <= meter_end + SOURCE_WORDS && (e == a || (is_punct(s, e, ':') && e + 1 == a))) {
			/* A word or two after the meter ID's own label, the other
			 * right before the number names where it was read:
			 * "Zählernummer laut Rechnung: ...", "meter ID from the
			 * invoice: ..."; right after it, it names the meter ("EAN
			 * gas: ..."), further on a number of its own ("Die MaLo
			 * kommt später und meine Steuer-ID ist ...", "meter ID
			 * missing, invoice no ..."). */
			j = e - 1;
		} else if (k == CUE_OTHER_NUMBER && e <= a) {
			named = true;
			words = 0;
			/* The label's own dot: "Kundennr. 0045...", "Account no. ..." */
			j = e < a && is_punct(s, e, '.') && glued(s, e) ? e : e - 1;
		} else if (k == CUE_METER_LABEL || stop ||
			   (tk(s, j)->kind == TOK_WORD && ++words > OTHER_NUMBER_GAP)) {
			named = false;
		}
		if (k == CUE_METER_LABEL) {
			meter = true;
			meter_end = e;
		} else if (stop) {
			meter = false;
		}
	}
	return named;
}

/* Whether the meter ID at tokens [a, e) stands in brackets after the home
 * the customer leaves, a `to` word or an address `cue` right after them
 * (one short word between: "and", "og"): "fra Kirkeveien 64 (målepunkt
 * A) til Storgata 14", "leaving Storgata 14 (meter A) and moving to
 * Storgata 12B". The brackets hold at most a meter label besides. */
static bool left_in_brackets(const struct scan *s, uint32_t a, uint32_t e)
{
	uint32_t o = a;
	while (o > 0 && a - o < 4 && !is_punct(s, o - 1, '(') &&
	       tk(s, o - 1)->kind == TOK_WORD)
		o--;
	if (o == 0 || !is_punct(s, o - 1, '(') || !is_punct(s, e, ')') ||
	    (o < a && !ocue_ends_at(s, a, CUE_METER_LABEL)))
		return false;
	for (uint32_t j = e + 1; j < s->n && j <= e + 2; j++) {
		const struct word *w = word_at(s, j);
		uint32_t end;
		if (ocue_at(s, j, &end) == CUE_TO_ADDRESS ||
		    (w && w->cue_head >= 0 && cue_at(s, j, w->cue_head, NULL)))
			return true;
		if (tk(s, j)->kind != TOK_WORD || tk(s, j)->nchars > 4)
			return false;
	}
	return false;
}

/* Whether an old_after phrase follows the address that ends before token
 * e, in its sentence and on its line: "Hegdehaugsveien 31 from 28 feb,
 * that's my old flat". */
static bool called_old(const struct scan *s, uint32_t e)
{
	for (uint32_t j = e; j < s->n && j < e + OLD_AFTER_SCAN; j++) {
		uint32_t end;
		if ((j > e && (tk(s, j)->flags & TOK_F_LINE)) || is_punct(s, j, '.') ||
		    is_punct(s, j, '!') || is_punct(s, j, '?') || is_punct(s, j, ';'))
			return false;
		if (ocue_at(s, j, &end) == CUE_OLD_AFTER)
			return true;
	}
	return false;
}

/* The token at byte offset off (the first at or after it). */
static uint32_t token_at(const struct scan *s, uint32_t off)
{
	uint32_t i = 0;
	while (i < s->n && tk(s, i)->off < off)
		i++;
	return i;
}

/* An address a cue announces at or after token from ("Mvh Ola\nNy
 * adresse: Storgata 5"), in *out; false when none. With named, only a cue
 * of two tokens or more, which names the address new or moved to: a bare
 * "address" does not ("Het adres in Den Haag (Prinsegracht 30) moet
 * opgezegd worden"). */
static bool announced_address(const struct scan *s, uint32_t from, bool named,
			      struct slot_found *out)
{
	for (uint32_t i = from; i < s->n; i++) {
		const struct word *w = word_at(s, i);
		uint32_t j;
		if (w && w->cue_head >= 0 && (j = cue_at(s, i, w->cue_head, NULL)) &&
		    (!named || j - i >= 2) && !bare_label(s, j) && cue_address(s, j, out))
			return true;
	}
	return false;
}

static void clear_address(struct slot_found *f)
{
	f->has_address = false;
	memset(&f->address, 0, sizeof(f->address));
	f->addr_off = f->addr_len = 0;
}

/* Whether a to word right after the address at token a, announced as old
 * says (announced_old), says until: after an address nothing announces,
 * not after a cue's or a to word's, where it gives the day. */
static bool to_says_until_after(const struct scan *s, uint32_t a, enum old_kind old)
{
	return old == NOT_OLD && !ocue_ends_at(s, a, CUE_TO_ADDRESS);
}

/* Whether an address nothing announces ends right before token j, as
 * find_address reads the message: a to word there says until, as it
 * cannot say to ("Jag bor på Storgatan 5 till den 14 december"), while
 * after a cue's or a to word's address it gives the day ("vi flytter til
 * Storgata 5 til 1. desember", "fra Storgata 5 til Kirkeveien 3 til 1.
 * desember"). from is 0 for the first address, as in find_address: an
 * until phrase that opens the sentence speaks for it. */
static bool after_unannounced_address(const struct scan *s, uint32_t j)
{
	uint32_t start = sentence_back(s, 0, j), from = 0;
	struct slot_found f = { .has_address = false };
	while (start < j && first_address(s, start, &f)) {
		uint32_t a = token_at(s, f.addr_off);
		uint32_t e = token_at(s, f.addr_off + f.addr_len);
		if (e >= j)
			return e == j && to_says_until_after(s, a, announced_old(s, from, a, false));
		start = from = e > a ? e : a + 1;
		clear_address(&f);
	}
	return false;
}

/* Whether the date starting at token a ends something, a stay or an
 * absence, as an until phrase before it says: "frem til 14. desember". A
 * to word says so at a clause's start, or after an address nothing
 * announces; that is asked only of one the date follows, as it walks the
 * sentence's addresses. */
static bool until_before(const struct scan *s, uint32_t a)
{
	for (uint32_t j = a > PAT_MAX + 2 ? a - PAT_MAX - 2 : 0; j < a; j++) {
		if (until_date_at(s, j, true) != a)
			continue;
		if (until_date_at(s, j, false) == a || clause_start(s, j) ||
		    after_unannounced_address(s, j))
			return true;
	}
	return false;
}

/* The address that a to phrase or an arrow at token e, right after the
 * address left, announces as a cue does, into *out; false when none, or
 * when it is called old. */
static bool to_address(const struct scan *s, uint32_t e, struct slot_found *out)
{
	uint32_t te = to_after(s, e);
	struct slot_found to = *out;
	clear_address(&to);
	if (!te || !cue_address(s, te, &to) ||
	    called_old(s, token_at(s, to.addr_off + to.addr_len)))
		return false;
	*out = to;
	return true;
}

/* The address a `to` phrase announces later in the sentence of the
 * address ending before token e, after a phrase of the move or the move in
 * there, or a `go` word, into *out; false when none, or when it is called
 * old. "ich wohne in der Kantstraße 3 und ziehe am 1.12. in die
 * Wilmersdorfer Str. 12", "ik woon nu op de Nobelstraat 3 en verhuis 1 dec
 * naar de Twijnstraat 12", "We're at Parkveien 50 now and going to
 * Ullevålsveien 101". */
static bool moved_to_address(const struct scan *s, uint32_t e, struct slot_found *out)
{
	bool moving = false;
	for (uint32_t j = e; j < s->n && !(j > e && (tk(s, j)->flags & TOK_F_LINE)); j++) {
		/* A date's own dot goes on: "ziehe am 1.12. in die ...". */
		if (ends_sentence(s, j) && !used(s, j))
			return false;
		const struct word *w = word_at(s, j);
		if (dcue_of_kind(s, j, CUE_MOVE) || dcue_of_kind(s, j, CUE_MOVE_IN) ||
		    (w && (w->flags & W_GO)))
			moving = true;
		else if (moving && to_after(s, j))
			return to_address(s, j, out);
	}
	return false;
}

/* The address the customer moves to: the first one found that is not
 * announced as the one left ("moving from Kirkeveien 64 to Thereses gate
 * 14", "alte Adresse Lindenstraße 3, neue Sonnenallee 45"). A message that
 * names only the one left after a strong phrase has none: it must not be
 * taken for the new. One only after "from" is taken when no other follows
 * ("Jan van Galenstraat 4": "van" is no cue there). A `to` phrase (or an
 * arrow) right after the one left, or after one nothing announces,
 * announces the new one as a cue does, in lower case too: "fra storgata 5
 * til nedre slottsgate 8". One nothing announces also gives way to a
 * later one a cue announces. */
static void find_address(const struct scan *s, struct slot_found *out)
{
	struct slot_found weak = { .has_address = false };
	uint32_t start = 0;
	while (start < s->n && first_address(s, start, out)) {
		uint32_t a = token_at(s, out->addr_off);
		uint32_t e = token_at(s, out->addr_off + out->addr_len);
		enum old_kind old = announced_old(s, start, a, false);
		/* An until date right after it ends the stay there: "we live at
		 * Storgata 5 until the 14th", "Jeg bor i Kirkegata 15 til i
		 * dag"; after a cue's address "til" is its day. */
		if ((old == NOT_OLD || old == CUED) &&
		    (called_old(s, e) || until_date_at(s, e, to_says_until_after(s, a, old))))
			old = OLD_STRONG;
		if (old == CUED)
			return;
		if (old == NOT_OLD) {
			/* "Sinsenveien 11 -> Trondheimsveien 2": one a to phrase
			 * or an arrow follows is left. "Jeg bor nå i
			 * Maridalsveien 101 og skal flytte til Kirkeveien 200":
			 * one nothing announces gives way to a later one a cue
			 * does. */
			if (to_address(s, e, out) || moved_to_address(s, e, out))
				return;
			struct slot_found later = *out;
			clear_address(&later);
			if (announced_address(s, e, true, &later) &&
			    announced_old(s, e, token_at(s, later.addr_off), false) == CUED &&
			    !called_old(s, token_at(s, later.addr_off + later.addr_len)))
				*out = later;
			return;
		}
		/* "from storgata 5 to bergen": with a to phrase after it, the
		 * one after "from" is left whatever follows. */
		if (old == OLD_WEAK && !weak.has_address && !to_after(s, e))
			weak = *out;
		clear_address(out);
		if (to_address(s, e, out))
			return;
		start = e > a ? e : a + 1;
	}
	if (weak.has_address) {
		out->has_address = true;
		out->address = weak.address;
		out->addr_off = weak.addr_off;
		out->addr_len = weak.addr_len;
	}
}

/* Whether a `to` phrase ends right before token c, after a town a `from`
 * phrase names: "von Köln nach | Aachen", "fra Oslo til | Bergen". A `to`
 * word alone is too common ("I gave it to Anna"). */
static bool from_to(const struct scan *s, uint32_t c)
{
	uint32_t back = CITY_WORDS_MAX + PAT_MAX;
	for (uint32_t j = c > back ? c - back : 1; j + 1 < c; j++) {
		uint32_t ce, e;
		if (left_before(s, j) && (ce = city_at(s, j)) && ce < c &&
		    ocue_at(s, ce, &e) == CUE_TO_ADDRESS && e == c)
			return true;
	}
	return false;
}

/* Fills in the town a cue named before the address at token a, which came
 * without postcode or city: "Vi flytter til Bergen, adressen blir Bryggen
 * 15", "Ich ziehe nach Frankfurt am Main, Berger Straße 211", "Moving to
 * Hamburg on Jan 1st. New place: Eppendorfer Weg 213". The town is
 * capitalised, a town_word, and ends its clause or has a date after it;
 * the last before the address counts ("von Köln nach Aachen, neue Adresse
 * Pontstraße 45" is Aachen). */
static void town_before(const struct scan *s, uint32_t a, struct slot_found *out)
{
	uint32_t c0 = 0, c1 = 0;
	for (uint32_t c = 1; c < a; c++) {
		uint32_t ce;
		if (!city_word(s, c) || !town_word(s, c) || !(ce = city_at(s, c)) || ce > a)
			continue;
		/* A from-to pair names the new address's town only right before
		 * it: "von Köln nach Aachen, Theaterstraße 12", not "Die
		 * Spedition fährt von Köln nach Bonn. Unsere neue Adresse: ...". */
		if (!cue_ends_at(s, c) &&
		    !(from_to(s, c) && (ce == a || (is_punct(s, ce, ',') && ce + 1 == a))))
			continue;
		if (ce < s->n && !is_punct(s, ce, ',') && !is_punct(s, ce, '.') &&
		    !is_punct(s, ce, '!') && !used(s, ce) && !dated_after(s, ce, true, false))
			continue;
		c0 = c;
		c1 = ce;
	}
	if (c1) {
		const struct tok *f = tk(s, c0), *l = tk(s, c1 - 1);
		copy_span(out->address.city, sizeof(out->address.city), s->text, f->off,
			  l->off + l->len - f->off);
	}
}

/* Whether the line from token i on holds a name and an address at most:
 * capitalised words, numbers, short words ("og", "&", "2b") and
 * punctuation. "Mvh Ola og Kari, Gamleveien 2B" signs off; "Grüße aus
 * dem Urlaub! Unsere neue Adresse ..." and "Cheers for the help earlier"
 * say more. */
static bool name_line(const struct scan *s, uint32_t i)
{
	for (; i < s->n && !(tk(s, i)->flags & TOK_F_LINE); i++) {
		const struct tok *t = tk(s, i);
		if (t->kind == TOK_WORD && !(t->flags & TOK_F_CAP) && t->nchars > JOIN_WORD_MAX)
			return false;
	}
	return true;
}

/* Lists in out the numbers an other_numbers label names, of the first
 * OTHER_CHECKS numbers of the message of three digits or more outside the
 * facts found: the ones that could be taken for an error code. Each is
 * looked at back to its sentence's start, OTHER_REACH tokens at most: a
 * label and the words it may have before its number. */
#define OTHER_CHECKS 32
#define OTHER_REACH 12
static void others(const struct scan *s, struct slot_found *out)
{
	for (uint32_t i = 0, checked = 0;
	     i < s->n && checked < OTHER_CHECKS && out->nothers < SLOT_OTHERS_MAX; i++) {
		const struct tok *t = tk(s, i);
		uint32_t off = t->off;
		if (t->kind != TOK_NUM || t->nlen < 3 || slot_in_fact(out, off))
			continue;
		checked++;
		if (named_other(s, i > OTHER_REACH ? i - OTHER_REACH : 0, i))
			out->other_off[out->nothers++] = off;
	}
}

/* The first token of the message's signature: a sign-off phrase ("Mvh",
 * "Kind regards") that starts a line or sentence after the first, a name
 * and an address at most after it on its line; s->n for none. */
static uint32_t signature_start(const struct scan *s)
{
	for (uint32_t i = 1; i < s->n; i++) {
		uint32_t e;
		if (((tk(s, i)->flags & TOK_F_LINE) || sentence_start(s, i)) &&
		    ocue_at(s, i, &e) == CUE_SIGNOFF && name_line(s, e))
			return i;
	}
	return s->n;
}

/* Whether a word of tokens [a, e) is in the past tense (a past line). */
static bool has_past(const struct scan *s, uint32_t a, uint32_t e)
{
	const struct word *w;
	for (uint32_t j = a; j < e; j++)
		if ((w = word_at(s, j)) && (w->flags & W_PAST))
			return true;
	return false;
}

/* How the words around the date [a, e) announce it: CUE_MOVE_IN ("move in
 * on 5 March"; a start or correction phrase is one too), CUE_MOVE_OUT
 * ("Auszug am 28. Februar") or CUE_NONE; *said gets the kind of the
 * phrase itself (CUE_START, CUE_CORRECTION, ...). The
 * cue nearest before the date, back to the start of its sentence or to
 * the end of the date before it (from), speaks for it; a bare verb of
 * moving only right before it ("we move tomorrow", "wir ziehen morgen
 * um"), fillers between: "About my move, can you call me tomorrow?" says
 * nothing of the move's date. With none before it, a phrase or verb right
 * after it speaks: the participle that ends a German or Dutch sentence
 * ("wir sind gestern eingezogen", "we zijn gisteren verhuisd") and the
 * verb that follows a leading date in Norwegian or Swedish ("i går
 * flyttet vi inn"; the data lists "flyttet vi ut" whole). *taken gets
 * the end of the words the date took, that phrase after it included, so
 * the next date does not read it again: "am 28. Februar ausgezogen und am
 * 1. März eingezogen". Failing that, an in or out phrase in the past
 * tense a few words on, before any punctuation or the next date (to),
 * speaks: the participle that ends a German or Dutch clause after its
 * object ("am 3. Januar aus der alten Wohnung ausgezogen und am 4. Januar
 * in die neue eingezogen"). *past gets whether the phrase that spoke has
 * a word of the past tense ("moved", "eingezogen"). */
/* The words from token i to before token j, fillers ("on the") left out. */
static uint32_t words_between(const struct scan *s, uint32_t i, uint32_t j)
{
	uint32_t n = 0;
	for (; i < j; i++)
		n += tk(s, i)->kind == TOK_WORD && !filler_word(s, i);
	return n;
}

/* Whether a `contract` phrase stands in the sentence of the date [a, e),
 * before it back to token from, or after it: "the contract should start on
 * 1 March", "der Vertrag soll am 1. März beginnen", "start date: 1 March". */
static bool contract_said(const struct scan *s, uint32_t from, uint32_t a, uint32_t e)
{
	uint32_t end;
	for (uint32_t j = sentence_back(s, from, a); j < a; j++)
		if (ocue_at(s, j, &end) == CUE_CONTRACT)
			return true;
	for (uint32_t j = e; j < s->n && !is_punct(s, j, '.') && !is_punct(s, j, '!') &&
			     !is_punct(s, j, '?') && !is_punct(s, j, ';');
	     j++)
		if (ocue_at(s, j, &end) == CUE_CONTRACT)
			return true;
	return false;
}

/* Whether a bare verb of moving stands before token a on its line. Not
 * only in its sentence: a date's dot may end one ("Wir ziehen am 28.11.
 * aus und am 1.12. ein"). */
static bool move_verb_before(const struct scan *s, uint32_t a)
{
	for (uint32_t j = a; j > 0 && !(tk(s, j)->flags & TOK_F_LINE); j--)
		if (dcue_of_kind(s, j - 1, CUE_MOVE))
			return true;
	return false;
}

/* The side a separable verb's particle gives the date that ends at token
 * e, the next date starting at to: the particle ends the date's clause,
 * before punctuation, the text's end, or the next date a few words on
 * ("und am"). "Wir ziehen am 28.11. aus und am 1.12. in die Goethestraße
 * 5 ein", "we trekken er 1 april in". CUE_NONE when no particle does;
 * else *end is the index after the particle. */
static enum cue_kind particle_side(const struct scan *s, uint32_t e, uint32_t to, uint32_t *end)
{
	for (uint32_t j = e; j < to && j <= e + PARTICIPLE_AFTER_MAX && tk(s, j)->kind != TOK_PUNCT;
	     j++) {
		const struct word *w = word_at(s, j);
		if (!w || !(w->flags & (W_IN_PARTICLE | W_OUT_PARTICLE)))
			continue;
		if (j + 1 >= s->n || tk(s, j + 1)->kind == TOK_PUNCT ||
		    (to < s->n && to <= j + 1 + PARTICLE_GAP)) {
			*end = j + 1;
			return w->flags & W_OUT_PARTICLE ? CUE_MOVE_OUT : CUE_MOVE_IN;
		}
	}
	return CUE_NONE;
}

static enum cue_kind date_side(const struct scan *s, uint32_t from, uint32_t a, uint32_t e,
			       uint32_t to, uint32_t *taken, bool *past, enum cue_kind *said)
{
	/* A start phrase speaks of the contract only beside a word of it:
	 * "the renovation starts on 10 March" is a date cue, no more. */
	enum cue_kind side = CUE_NONE;
	enum cue_kind k = CUE_NONE; /* cue_at sets it when it finds one: GCC -O2 cannot tell */
	const struct word *w;
	uint32_t cs = 0, ce = 0; /* the phrase that speaks */
	*said = CUE_NONE;
	for (uint32_t j = sentence_back(s, from, a); j < a; j++) {
		uint32_t end;
		w = word_at(s, j);
		if (w && w->dcue_head >= 0 && (end = cue_at(s, j, w->dcue_head, &k)) && end <= a) {
			/* A date cue ("ab", "dato") says neither. A start phrase
			 * with no word of the contract beside it is a move in
			 * ("Can you start on 1 March?"), and so is a correction
			 * the date does not follow closely ("Sorry, I called you
			 * yesterday"). */
			if (k == CUE_ASIDE && skip_fillers(s, end) >= a) {
				/* "call me on 5 February": in passing, whatever
				 * the sentence said before. */
				side = *said = CUE_ASIDE;
				cs = j;
				ce = end;
			} else if (k == CUE_MOVE_IN || k == CUE_MOVE_OUT || k == CUE_START ||
			    k == CUE_CORRECTION || (k == CUE_MOVE && skip_fillers(s, end) >= a)) {
				side = k == CUE_MOVE_OUT ? CUE_MOVE_OUT : CUE_MOVE_IN;
				*said = (k == CUE_START && !contract_said(s, from, a, e)) ||
						(k == CUE_CORRECTION && words_between(s, end, a) > CORRECTION_GAP)
					? CUE_MOVE_IN
					: k;
				cs = j;
				ce = end;
			}
			j = end - 1;
		}
	}
	*taken = e;
	/* A correction is said before what it corrects. */
	if (side == CUE_NONE && (w = word_at(s, e)) && w->dcue_head >= 0 &&
	    (ce = cue_at(s, e, w->dcue_head, &k)) && k != CUE_DATE && k != CUE_MOVE_DATE &&
	    k != CUE_CORRECTION) {
		side = k == CUE_MOVE_OUT ? CUE_MOVE_OUT : CUE_MOVE_IN;
		*said = k == CUE_START && !contract_said(s, from, a, e) ? CUE_MOVE_IN : k;
		cs = e;
		*taken = ce;
	}
	for (uint32_t j = e + 1; side == CUE_NONE && j < to && j <= e + PARTICIPLE_AFTER_MAX &&
				 tk(s, j)->kind != TOK_PUNCT;
	     j++) {
		if ((w = word_at(s, j)) && w->dcue_head >= 0 && (ce = cue_at(s, j, w->dcue_head, &k)) &&
		    (k == CUE_MOVE_IN || k == CUE_MOVE_OUT) && has_past(s, j, ce)) {
			side = k;
			*said = k;
			cs = j;
			*taken = ce;
		}
	}
	/* A bare verb of moving before the date has its particle after it:
	 * "wir ziehen am 28.11. aus" moves out; so does one earlier on its
	 * line for a date nothing else announces ("... aus und am 1.12. in
	 * die Goethestraße 5 ein"). Without the verb "ein" is an article
	 * and "in" a preposition as often: "am 28.11. kommt ein Techniker".
	 * The words up to the particle are this date's clause, so the next
	 * date's cues are sought after it: "zum 1.2. aus der alten Wohnung
	 * aus und am 15.2. ein" moves in on the 15th. */
	enum cue_kind ps;
	uint32_t pe;
	if ((*said == CUE_MOVE || (side == CUE_NONE && move_verb_before(s, a))) &&
	    (ps = particle_side(s, e, to, &pe)) != CUE_NONE) {
		side = ps;
		*said = ps;
		cs = ce = 0;
		*taken = pe;
	}
	*past = side != CUE_NONE && has_past(s, cs, ce);
	return side;
}

/* Whether date f, announced by side, is said in passing: a day word with
 * no cue ("I called the grid company yesterday"), or any date an aside
 * phrase announces ("call me on 5 February"). */
static bool passing(const struct date_found *f, enum cue_kind side)
{
	return (side == CUE_NONE && f->day_word) || side == CUE_ASIDE;
}

/* The date of a message, of those found (in text order): the first absolute
 * one, else the first; but when the words around the dates say one is the move
 * in and another the move out (date_side: "move out on 3 March and move in on 5
 * March", "Auszug am 28. Februar, Einzug am 1. März"), the same among those
 * announced as the move in. Of those, the last a correction speaks for ("2.
 * februar, nei vent, 3. februar"), else the first a phrase of the contract's
 * start speaks for ("the movers come on 27 Feb, the contract should start on 1
 * March"). A date announced as the move in goes before an earlier one nothing
 * announces ("birthday on 20 February, we move on the 22nd"), not before a
 * later one: "I will be at the new flat tomorrow. The move is on 1 March."
 * Where no date is announced as the move in, a date a cue announces goes before
 * an earlier one nothing announces the same way, where the cue names the move
 * ("My birthday is on 5 December, but the move is on the 10th"); "from", "as
 * of" and the like only say that a date follows. A day word in passing gives
 * way to any other date: "I called today, we move in tomorrow". A date gone by
 * that no phrase or cue announces gives way to one ahead that one does:
 * "Hamburg, 12.01.2027 ... ich ziehe zum 1. März um" (a letter's header, the
 * day the customer signed or wrote before), but "Startdatum 10.01., der Zähler
 * wird am 20.01. getauscht" keeps the 10th. A stale date (over a year gone) is
 * none. A date an until phrase ends something at gives way to any other date
 * ahead ("frem til 14. desember ... fra 15. desember"), unless a phrase of the
 * move in announces it ("Einzug bis zum 1. Dezember"). With no date announced
 * as the move in, one announced as the move out gives way to one a cue
 * announces otherwise: "Old contract ends 30/11, new one should start 1/12".
 * *side_of gets the cue of
 * the date chosen, *past_of whether that cue is in the past tense. Returns NULL
 * when none is left. */
/* What lifts a date over others in choose_date, weakest first. */
enum { LIFT_NONE, LIFT_IN, LIFT_START, LIFT_CORRECTION };

static const struct date_found *choose_date(const struct scan *s, enum cue_kind *side_of,
					    bool *past_of)
{
	const struct date_found *f = s->dates;
	uint32_t n = s->ndates;
	enum cue_kind side[DATE_CANDIDATES], said[DATE_CANDIDATES];
	bool past[DATE_CANDIDATES], announced[DATE_CANDIDATES], until[DATE_CANDIDATES];
	bool in = false, out = false, firm = false, open = false, other_cued = false;
	uint32_t taken = 0;
	for (uint32_t k = 0; k < n; k++) {
		side[k] = date_side(s, taken, f[k].a, f[k].e, k + 1 < n ? f[k + 1].a : s->n, &taken,
				    &past[k], &said[k]);
		announced[k] = (side[k] != CUE_NONE && side[k] != CUE_ASIDE) ||
			       dcue_before(s, f[k].a, ~(1u << CUE_ASIDE));
		until[k] = until_before(s, f[k].a);
		if (f[k].stale)
			continue;
		in |= side[k] == CUE_MOVE_IN;
		out |= side[k] == CUE_MOVE_OUT;
		firm |= !passing(&f[k], side[k]);
		open |= !until[k] && !passing(&f[k], side[k]) &&
			slot_date_days(f[k].d) >= s->today_days;
		other_cued |= announced[k] && side[k] != CUE_MOVE_OUT && !passing(&f[k], side[k]);
	}
	bool skip[DATE_CANDIDATES], ahead = false;
	int rank[DATE_CANDIDATES], lift = LIFT_NONE; /* the strongest rank of a date left */
	uint32_t first_in = n, first_cued = n;
	for (uint32_t k = 0; k < n; k++) {
		/* An until date that a phrase of the move in announces is the
		 * day the move is due by: "Auszug am 30. November, Einzug bis
		 * zum 1. Dezember" moves in on the 1st. */
		skip[k] = f[k].stale || (in && out && side[k] != CUE_MOVE_IN) ||
			  (out && !in && other_cued && side[k] == CUE_MOVE_OUT) ||
			  (firm && passing(&f[k], side[k])) ||
			  (open && until[k] && said[k] != CUE_MOVE_IN);
		ahead |= !skip[k] && announced[k] && slot_date_days(f[k].d) >= s->today_days;
		rank[k] = said[k] == CUE_CORRECTION ? LIFT_CORRECTION
			  : said[k] == CUE_START    ? LIFT_START
			  : side[k] == CUE_MOVE_IN  ? LIFT_IN
						    : LIFT_NONE;
		if (!skip[k] && rank[k] > lift)
			lift = rank[k];
		if (!skip[k] && side[k] == CUE_MOVE_IN && first_in == n)
			first_in = k;
		if (!skip[k] && announced[k] && first_cued == n &&
		    dcue_before(s, f[k].a, 1u << CUE_MOVE_DATE))
			first_cued = k;
	}
	uint32_t best = n;
	for (uint32_t k = 0; k < n; k++) {
		if (skip[k] ||
		    (ahead && !announced[k] && slot_date_days(f[k].d) < s->today_days) ||
		    (lift == LIFT_IN && !announced[k] && k < first_in) ||
		    (lift == LIFT_NONE && first_cued < n && !announced[k] && k < first_cued) ||
		    (lift > LIFT_IN && rank[k] != lift))
			continue;
		/* The last correction: "2. februar, nei vent, 3. februar". */
		if (best == n || (f[best].rel && !f[k].rel) || lift == LIFT_CORRECTION)
			best = k;
	}
	if (best == n)
		return NULL;
	*side_of = side[best];
	*past_of = past[best];
	return &f[best];
}

/* The index after the label of kind (a meter label or an address cue)
 * that starts at token j, or 0. */
static uint32_t label_at(const struct scan *s, uint32_t j, enum slot_label kind)
{
	const struct word *w = word_at(s, j);
	uint32_t e = 0;
	if (kind == SLOT_LABEL_METER)
		return ocue_at(s, j, &e) == CUE_METER_LABEL ? e : 0;
	return w && w->cue_head >= 0 ? cue_at(s, j, w->cue_head, NULL) : 0;
}

/* The label of kind that names the fact at token a, in its sentence
 * before it and at most LABEL_GAP words from it: a meter label or an
 * address cue ("The meter ID is 7070...", "Ny adresse: Storgata 5"). The
 * last one's bytes, whole, go to *off and *len; both stay 0 for none. */
static void label_before(const struct scan *s, uint32_t a, enum slot_label kind, uint32_t *off,
			 uint32_t *len)
{
	for (uint32_t j = sentence_back(s, 0, a); j < a; j++) {
		uint32_t e = label_at(s, j, kind);
		if (!e)
			continue;
		uint32_t words = 0;
		for (uint32_t k = e; k < a; k++)
			words += tk(s, k)->kind == TOK_WORD;
		if (e > a || words > LABEL_GAP)
			continue;
		*off = tk(s, j)->off;
		*len = tk(s, e - 1)->off + tk(s, e - 1)->len - *off;
		j = e - 1; /* not "address is" inside "the new address is" */
	}
}

/* What a message that is nothing but a fact's label names: a meter label
 * or an address cue and punctuation ("new address?", "Neue Adresse",
 * "meter ID:"), SLOT_LABEL_NONE for any other message. */
static enum slot_label label_alone(const struct scan *s)
{
	uint32_t j = 0, e = 0;
	while (j < s->n && tk(s, j)->kind == TOK_PUNCT)
		j++;
	if (j >= s->n)
		return SLOT_LABEL_NONE;
	enum slot_label kind = SLOT_LABEL_NONE;
	if ((e = label_at(s, j, SLOT_LABEL_METER)))
		kind = SLOT_LABEL_METER;
	else if ((e = label_at(s, j, SLOT_LABEL_ADDRESS)))
		kind = SLOT_LABEL_ADDRESS;
	for (uint32_t k = e; kind != SLOT_LABEL_NONE && k < s->n; k++)
		if (tk(s, k)->kind != TOK_PUNCT)
			return SLOT_LABEL_NONE;
	return kind;
}

int slot_extract(const struct slot_vocab *v, const char *text,
		 const struct tok_buf *toks, struct slot_date today,
		 struct slot_found *out)
{
	if (!out)
		return -1;
	memset(out, 0, sizeof(*out));
	out->signature_off = UINT32_MAX;
	if (!v || !text || !toks || !toks->v || !toks->norm)
		return 0;
	const struct word *words[WCACHE];
	for (uint32_t i = 0; i < toks->n && i < WCACHE; i++)
		words[i] = toks->v[i].kind == TOK_WORD
				   ? lookup(v, toks->norm + toks->v[i].noff, toks->v[i].nlen)
				   : NULL;
	struct scan s = {
		.v = v,
		.text = text,
		.b = toks,
		.n = toks->n,
		.today = today,
		.today_ok = date_ok(today.y, today.m, today.d),
		.words = words,
	};
	if (s.today_ok)
		s.today_days = slot_date_days(today);

	uint32_t ean_next = 0;
	for (uint32_t i = 0; i < s.n && !(s.ndates == DATE_CANDIDATES && out->has_meter); i++) {
		if (tk(&s, i)->kind == TOK_PUNCT)
			continue;
		uint32_t a, e;
		struct slot_meter m; /* meter_at clears it for a token it tries */
		if (!out->has_meter && (e = meter_at(&s, i, &ean_next, &a, &m))) {
			/* "the old meter ID was ...", "KID 0045...": the next one. */
			if (announced_old(&s, 0, a, true) == OLD_STRONG || named_other(&s, 0, a) ||
			    left_in_brackets(&s, a, e)) {
				i = e - 1;
				continue;
			}
			out->meter = m;
			out->has_meter = true;
			s.meter_i0 = a;
			s.meter_i1 = e;
			out->meter_off = tk(&s, a)->off;
			out->meter_len = tk(&s, e - 1)->off + tk(&s, e - 1)->len - out->meter_off;
			i = e - 1;
			continue;
		}
		struct date_found *df = &s.dates[s.ndates];
		e = s.ndates < DATE_CANDIDATES ? date_at(&s, i, df) : 0;
		if (!e)
			continue;
		i = e - 1;
		/* A number of a date is no part of a meter ID. */
		if (ean_next < e)
			ean_next = e;
		if (df->rel && df->d.y == 0)
			continue; /* a "rel ... = none" phrase: its words are no date */
		/* A date over a year gone (a birth date, "Kunde seit 1.3.2019")
		 * is no move's: kept, so its tokens are no meter, house number
		 * or postcode, but never chosen. */
		df->stale = s.today_ok && slot_date_days(df->d) < s.today_days - STALE_DAYS;
		df->e = e;
		/* A day alone after a date ahead with its month is in that
		 * month or the next: "birthday on 20 February, we move on the
		 * 22nd". After one gone by it is still the next from today:
		 * "I paid on 28 December, we move in on the 2nd" is in February. */
		for (uint32_t k = s.ndates; df->day_only && k-- > 0;)
			if (!s.dates[k].rel && !s.dates[k].stale) {
				if (slot_date_days(s.dates[k].d) >= s.today_days)
					df->anchored = day_from(s.dates[k].d, df->d.d, false, &df->d);
				break;
			}
		s.ndates++;
	}
	enum cue_kind side;
	bool past;
	const struct date_found *df = s.ndates ? choose_date(&s, &side, &past) : NULL;
	if (df) {
		out->date = df->d;
		/* "we moved in on Monday": the last Monday before today, as
		 * "last Monday" is, not the next. */
		if (past && df->weekday) {
			int32_t z = slot_date_days(df->d) - 7;
			out->date = slot_date_from_days(z < s.today_days ? z : z - 7);
		}
		/* "we moved in on the 3rd": the last 3rd. */
		if (past && df->day_only && !df->anchored)
			day_from(s.today, df->d.d, true, &out->date);
		out->date_day_only = df->day_only;
		/* A weekday asked about, no phrase of the move or date cue in
		 * its clause: "When do you open on Monday?", not "The move is
		 * on Monday?", "Wij verhuizen op maandag", nor a statement
		 * ("Strom ab Montag bitte"). */
		out->date_weekday = df->weekday && side == CUE_NONE &&
				    !date_cue_in_clause(&s, df->e - 1) && asked(&s, df->e);
		out->has_date = true;
		out->date_role = side == CUE_MOVE_IN  ? SLOT_DATE_MOVE_IN
				 : side == CUE_MOVE_OUT ? SLOT_DATE_MOVE_OUT
				 : passing(df, side)   ? SLOT_DATE_PASSING
						       : SLOT_DATE_PLAIN;
		out->date_off = tk(&s, df->a)->off;
		out->date_len = tk(&s, df->e - 1)->off + tk(&s, df->e - 1)->len - out->date_off;
	}
	/* The address in a signature is where the customer lives, or lived:
	 * no new address to link, unless a cue announces it there. */
	struct scan body = s;
	body.n = signature_start(&s);
	out->signature_off = body.n < s.n ? tk(&s, body.n)->off : UINT32_MAX;
	find_address(&body, out);
	if (!out->has_address && body.n < s.n)
		announced_address(&s, body.n, false, out);
	if (out->has_address && !out->address.postcode[0] && !out->address.city[0])
		town_before(&s, token_at(&s, out->addr_off), out);
	if (!out->has_date)
		answer_day(&s, out);
	if (!out->has_meter)
		malo_alone(&s, out);
	if (!out->has_address && !out->has_meter && !out->has_date)
		place_alone(&s, out);
	if (!out->has_meter && !out->has_address && !out->has_date)
		out->label_alone = (uint8_t)label_alone(&s);
	if (out->has_meter)
		label_before(&s, s.meter_i0, SLOT_LABEL_METER, &out->meter_label_off,
			     &out->meter_label_len);
	if (out->has_address)
		label_before(&s, token_at(&s, out->addr_off), SLOT_LABEL_ADDRESS,
			     &out->addr_label_off, &out->addr_label_len);
	others(&s, out);
	return 0;
}

/* ---- address keys ---- */

int slot_address_key(const struct slot_vocab *v, const char *addr, size_t len,
		     char *out, size_t cap)
{
	char buf[KEY_BUF];
	char ub[KEY_BUF * 2];
	uint32_t uoff[KEY_UNITS], ulen[KEY_UNITS];
	uint32_t nu = 0, uo = 0;
	if (!addr || !out || cap == 0)
		return -1;
	int n = tok_fold(addr, len, buf, sizeof(buf));
	if (n < 0)
		return -1;

	/* Units are what ends up between spaces: a separate suffix joins the
	 * word before it ("berliner str" → "berlinerstr", the same key as
	 * "Berlinerstraße"), a lone letter joins the house number before it
	 * ("12 b" → "12b"). */
	const char *q = buf;
	const char *f;
	size_t fl;
	while (next_field(&q, &f, &fl)) {
		const char *rep = f;
		size_t rlen = fl, keep = fl;
		const struct word *w = lookup(v, f, fl);
		const struct tnode *hit = NULL;
		bool join = false;
		if (w && (w->flags & W_SUFFIX)) {
			rep = v->pool.s + w->abbr_off;
			rlen = w->abbr_len;
			keep = 0;
			join = nu > 0 && !is_digit(ub[uoff[nu - 1]]);
		} else {
			size_t sl = suffix_match(v, f, fl, &hit);
			if (sl >= COMPOUND_SUFFIX_MIN && sl < fl && hit) {
				keep = fl - sl;
				rep = v->pool.s + hit->abbr_off;
				rlen = hit->abbr_len;
			} else {
				rlen = 0;
			}
			join = fl == 1 && !is_digit(f[0]) && nu > 0 &&
			       all_digits(ub + uoff[nu - 1], ulen[nu - 1]);
		}
		if (uo + keep + rlen > sizeof(ub))
			return -1;
		if (!join) {
			if (nu == KEY_UNITS)
				return -1;
			uoff[nu] = uo;
			ulen[nu++] = 0;
		}
		memcpy(ub + uo, f, keep);
		memcpy(ub + uo + keep, rep, rlen);
		uo += (uint32_t)(keep + rlen);
		ulen[nu - 1] += (uint32_t)(keep + rlen);
	}

	/* "12 Baker Street" and "Baker Street 12" are the same place: a
	 * leading house number moves to the end when it is the only number. */
	uint32_t first = 0;
	if (nu > 1 && is_digit(ub[uoff[0]])) {
		bool other = false;
		for (uint32_t k = 1; k < nu; k++)
			other |= is_digit(ub[uoff[k]]);
		if (!other)
			first = 1;
	}
	size_t o = 0;
	for (uint32_t k = 0; k < nu; k++) {
		uint32_t u = (first + k) % nu;
		if (o + (o ? 1 : 0) + ulen[u] + 1 > cap)
			return -1;
		if (o)
			out[o++] = ' ';
		memcpy(out + o, ub + uoff[u], ulen[u]);
		o += ulen[u];
	}
	out[o] = '\0';
	return (int)o;
}

bool slot_in_fact(const struct slot_found *f, uint32_t off)
{
	return (f->has_date && off >= f->date_off && off < f->date_off + f->date_len) ||
	       (f->has_meter && off >= f->meter_off && off < f->meter_off + f->meter_len) ||
	       (f->has_address && off >= f->addr_off && off < f->addr_off + f->addr_len);
}
