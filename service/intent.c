/* intent: language pack loader and scorer. See include/intent.h and
 * intents/README.md for the data format. */
#include "intent.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "buf.h"
#include "ld.h"
#include "match.h"

enum kind {
	K_INTENT,   /* target: intent, weight */
	K_TRIGGER,  /* target: topic */
	K_NOT,      /* l2_not phrase */
	K_NEG_PRE,
	K_NEG_POST,
	K_BREAK,
	K_MARKER,   /* language marker word */
	K_LIST,     /* a word that joins the items of a list ("or", "und") */
	K_DEFINITE, /* a word that takes the thing after it as existing ("my") */
	K_ARTICLE,  /* an indefinite article ("a", "einen") */
	K_OR,       /* a list word that means "or" ("or", "eller") */
	K_ACT,      /* a verb of doing something with a thing ("connect", "viser") */
	K_END,      /* a word that may end an item of a list ("at", "here") */
	K_CLOSING,  /* a phrase that closes a conversation ("thanks", "bye") */
	K_CLOSING_WITH, /* a word that may stand beside one ("ok", "great") */
	K_THANKS,   /* a closing phrase that thanks ("thanks", "for the help") */
	K_MOVE,     /* a word of the move ("moving", "new house") */
	K_ELSEWHERE, /* a word of another matter ("my order", "refund") */
	K_YET,      /* after a negation or its thing, "not yet" ("yet", "ennå") */
	K_YET_BEFORE, /* phrase ending in a negation, "not yet" ("noch kein") */
	K_OWNER,    /* a thing with a battery of its own ("electric car") */
	K_HAVE,     /* a verb of having, after one ("has", "har") */
	K_DETAIL,   /* a word of a technical symptom ("error", "blinks") */
	K_NOT_CODE, /* a word beside a number that makes it no code ("kr") */
	K_NOT_SYMPTOM, /* a word that makes its sentence's symptoms another matter's */
	K_INVERTED, /* a negation that may stand before its clause's subject ("ikke") */
	K_SUBJECT,  /* a word that is its clause's subject ("vi", "jag") */
	K_HAVING,   /* a verb of having or being ("har", "finns", "er") */
};

static const char *const kind_names[] = {
	"intent", "l2", "l2_not", "negation", "negation_post", "break", "marker", "list",
	"definite", "article", "or", "act", "end", "closing", "closing_with", "thanks",
	"move", "elsewhere", "yet", "yet_before", "owner", "have", "detail", "not_code", "not_symptom",
	"inverted", "subject", "having",
};

enum mode {
	M_EXACT = 0,
	M_PREFIX = 1, /* word*: the term may continue */
	M_SUFFIX = 2, /* *word: the term may be preceded within the word */
	M_INFIX = 3,
};

/* Typo hits count for less than exact ones: a misspelt keyword is weaker
 * evidence than the keyword itself. */
#define TYPO_WEIGHT 0.8
#define TYPO_MIN_CHARS 5
/* A stem hit this many bytes short of its word or more leaves the word
 * to the typo lookup. Bytes of the folded text, where diacritics are gone:
 * letters, but for the rare word of another script. */
#define PART_SLACK 3
/* Words between an [owners] have word and the thing had. */
#define OWNED_GAP 3
#define TYPO_STEM_MIN_CHARS 7
/* How many words before a trigger a negation cue still governs it. */
#define NEG_PRE_WINDOW 3
#define ADVERB_MAX 6     /* letters of a word between a verb of doing and its negation */
/* How many tokens may stand between two triggers of one negated list: the
 * rest of the first item, a list word, an article and a word of the next
 * ("no solar panels or a home battery" is the most). listed_after says
 * which tokens may. */
#define LIST_WINDOW 4
#define MAX_RAW_HITS 4096
#define MAX_HITS 1024
#define MAX_SPANS 64
#define AGAINST_ALL 0xff /* an against span's target: every intent */

struct entry {
	uint32_t pat;
	uint32_t term;    /* offset of the term as written, in pack->strs */
	float weight;
	uint8_t kind, mode, lang, target;
	uint8_t also; /* other languages whose files list the term: bit per index */
	uint8_t typo; /* enum typo: which misspellings of the term count */
	bool shared; /* a word of every language: no evidence of this one */
};

/* Which misspellings of a one-word term the typo lookup finds. A symptom
 * word counts only with two neighbouring letters swapped ("erorr",
 * "foutmeldnig"): a letter added, dropped or changed makes another word of
 * too many of them ("router" and "route", "storing" and "string"), while
 * a swap seldom makes any. */
enum typo {
	TYPO_NONE,
	TYPO_EDIT, /* one edit; a stem's as slipped() has it */
	TYPO_SWAP, /* two neighbours swapped */
};

struct lang {
	char code[8];
};

struct chint {
	int32_t cp;
	uint8_t lang;
};

struct intent_pack {
	struct match *m;
	struct entry *entries;
	uint32_t nentries, entries_cap;
	/* Entries are in pattern order once loaded (index_entries): those of
	 * pattern p are pat_first[p] .. pat_first[p+1]. */
	uint32_t *pat_first;
	uint32_t npats;

	struct buf_strs strs;

	struct lang langs[INTENT_MAX_LANGS];
	uint8_t nlangs;
	char intents[INTENT_MAX][INTENT_NAME_MAX];
	struct intent_rule rules[INTENT_MAX];
	uint8_t nintents;
	char topics[INTENT_MAX_TOPICS][INTENT_TOPIC_NAME_MAX];
	uint8_t ntopics;
	struct chint chints[64];
	uint8_t nchints;
};

/* Token flags the analysis keeps per message. */
/* An entry matched the token, but for fewer than PART_SLACK bytes: no
 * typo search. */
#define TF_COVERED 0x01
#define TF_NEG 0x02
#define TF_BREAK 0x04
#define TF_LIST 0x08
#define TF_DEFINITE 0x10
#define TF_CLOSING 0x20 /* a [closing] phrase or word covers the token */
#define TF_ARTICLE 0x40
#define TF_OR 0x80
#define TF_ACT 0x100
#define TF_END 0x200
#define TF_MOVE 0x400 /* a [move] term covers the token */
#define TF_ELSEWHERE 0x800 /* an [elsewhere] term covers the token */
#define TF_TOPIC 0x1000 /* an L2 trigger that escalates starts at the token */
#define TF_YET 0x2000 /* a [negation] yet word covers the token */
#define TF_POSTCODE 0x4000 /* the letters of a Dutch postcode: "3511 AB" */
#define TF_OWNER 0x8000 /* an [owners] owner phrase ends at the token */
#define TF_HAVE 0x10000 /* an [owners] have word */
#define TF_OWNER_IN 0x20000 /* an [owners] owner phrase goes on after the token */
#define TF_PART 0x40000 /* a trigger matched only part of the word: "Solarstraße" */
#define TF_DETAIL 0x80000 /* a [detail] term covers the token */
#define TF_INVERTED 0x100000 /* a [negation] inverted word */
#define TF_SUBJECT 0x200000 /* a [negation] subject word */
#define TF_HAVING 0x400000 /* a [negation] having word */

/* The flag a one-word [negation] entry puts on its token. */
static const uint32_t token_flag[] = {
	[K_NEG_PRE] = TF_NEG, [K_BREAK] = TF_BREAK, [K_LIST] = TF_LIST,
	[K_DEFINITE] = TF_DEFINITE, [K_ARTICLE] = TF_ARTICLE, [K_OR] = TF_OR,
	[K_ACT] = TF_ACT, [K_END] = TF_END, [K_YET] = TF_YET, [K_HAVE] = TF_HAVE,
	[K_INVERTED] = TF_INVERTED, [K_SUBJECT] = TF_SUBJECT, [K_HAVING] = TF_HAVING,
};

struct span {
	uint16_t first, last;
};

struct intent_scratch {
	struct match_hit raw[MAX_RAW_HITS];
	char *padded; /* the message's norm text between two spaces */
	size_t padded_cap;
	struct intent_hit hits[MAX_HITS];
	uint32_t *tflags;
	uint32_t *typo_words; /* the tokens the typo lookup is for */
	size_t max_tokens;
	uint32_t *stamp; /* per entry: the generation that counted it */
	uint32_t gen;
	struct span nots[MAX_SPANS], posts[MAX_SPANS], yets[MAX_SPANS];
	uint32_t nnots, nposts, nyets;
	/* Phrases against an intent (negative weights) and their intents. */
	struct span againsts[MAX_SPANS];
	uint8_t against_target[MAX_SPANS];
	uint32_t nagainsts;
};

/* ---- loading ---- */

struct loader {
	struct intent_pack *p;
	struct slot_vocab *slots;
	struct tok_buf tb;
	struct ld_pos pos;
	bool shared; /* between a "shared" and an "own" line of a section */
};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
		     s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* Adds one term of the data files as an entry. */
static int add_term(struct loader *ld, const char *term, uint8_t kind,
		    uint8_t target, float weight, uint8_t lang)
{
	struct intent_pack *p = ld->p;
	char buf[256];
	size_t len = strlen(term);
	if (len == 0 || len >= sizeof(buf))
		return ld_fail(&ld->pos, "empty or overlong term");
	memcpy(buf, term, len + 1);
	uint8_t mode = M_EXACT;
	char *s = buf;
	if (*s == '*') {
		mode |= M_SUFFIX;
		s++;
		len--;
	}
	if (len && s[len - 1] == '*') {
		mode |= M_PREFIX;
		s[--len] = '\0';
	}
	if (strchr(s, '*'))
		return ld_fail(&ld->pos, "'*' may only start or end a term: \"%s\"", term);
	int rc = tok_run(&ld->tb, s, len);
	if (rc < 0)
		return ld_fail(&ld->pos, "term \"%s\": %s", term, tok_strerror(rc));
	if (ld->tb.n == 0)
		return ld_fail(&ld->pos, "term \"%s\" has no words", term);
	/* Word boundaries are part of the pattern: the message is scanned
	 * with a space before and after it, and a term that must start a word
	 * begins with a space, one that must end a word ends with one. The
	 * automaton then reports only real matches. */
	char pbuf[sizeof(buf) * 4 + 2];
	size_t plen = 0;
	if (ld->tb.nlen + 2 > sizeof(pbuf))
		return ld_fail(&ld->pos, "term \"%s\" is too long", term);
	if (!(mode & M_SUFFIX))
		pbuf[plen++] = ' ';
	memcpy(pbuf + plen, ld->tb.norm, ld->tb.nlen);
	plen += ld->tb.nlen;
	if (!(mode & M_PREFIX))
		pbuf[plen++] = ' ';
	int pat = match_add(p->m, pbuf, plen);
	if (pat < 0)
		return ld_fail(&ld->pos, "out of memory");
	/* A whole word long enough to make a typo unambiguous is also looked
	 * up with one edit, and so is a long stem as a word of its own
	 * ("contrat", "inveter" for "contract*", "inverter*"). Short stems
	 * are not: "solar*" one edit away matches far too many ordinary
	 * words ("stolar", Swedish chairs). */
	uint8_t typo = TYPO_NONE;
	if (ld->tb.n == 1 && ld->tb.v[0].kind == TOK_WORD &&
	    ((mode == M_EXACT && ld->tb.v[0].nchars >= TYPO_MIN_CHARS) ||
	     (mode == M_PREFIX && ld->tb.v[0].nchars >= TYPO_STEM_MIN_CHARS)))
		typo = kind == K_TRIGGER || (kind == K_INTENT && weight > 0) ? TYPO_EDIT
		       : kind == K_DETAIL					? TYPO_SWAP
										: TYPO_NONE;
	if (typo != TYPO_NONE && match_typo_add(p->m, ld->tb.norm, ld->tb.nlen, (uint32_t)pat) < 0)
		return ld_fail(&ld->pos, "out of memory");
	void *entries = p->entries;
	uint32_t toff;
	int grown = buf_grow(&entries, &p->entries_cap, p->nentries + 1, sizeof(*p->entries));
	p->entries = entries;
	if (grown < 0 || buf_strs_add(&p->strs, term, strlen(term), &toff) < 0)
		return ld_fail(&ld->pos, "out of memory");
	p->entries[p->nentries++] = (struct entry){
		.pat = (uint32_t)pat, .term = toff, .weight = weight,
		.kind = kind, .mode = mode, .lang = lang, .target = target,
		.typo = typo, .shared = ld->shared,
	};
	/* A one-word trigger or symptom is no street: "Powerwall 2" and
	 * "Storing 301" (a fault, in Dutch, not a street ending in -ring)
	 * are no address. */
	if ((kind == K_TRIGGER || kind == K_DETAIL) && ld->slots && ld->tb.n == 1 &&
	    !(mode & M_SUFFIX)) {
		char msg[200];
		if (slot_vocab_not_street(ld->slots, s, len, msg, sizeof(msg)) < 0)
			return ld_fail(&ld->pos, "%s", msg);
	}
	return 0;
}


/* Adds each space-separated word of list as its own term. */
static int add_words(struct loader *ld, char *list, uint8_t kind, uint8_t lang)
{
	char *save = NULL;
	/* A '|' here would be a word of its own: "have has | had" made "|"
	 * a verb of having. */
	if (strchr(list, '|'))
		return ld_fail(&ld->pos, "words are separated by spaces here, not '|'");
	for (char *w = strtok_r(list, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (add_term(ld, w, kind, 0, 1.0f, lang) < 0)
			return -1;
	return 0;
}

/* Adds each |-separated phrase of list as its own term. */
static int add_phrases(struct loader *ld, char *list, uint8_t kind, uint8_t lang)
{
	char *save = NULL;
	for (char *ph = strtok_r(list, "|", &save); ph; ph = strtok_r(NULL, "|", &save)) {
		ph = trim(ph);
		if (*ph && add_term(ld, ph, kind, 0, 1.0f, lang) < 0)
			return -1;
	}
	return 0;
}

static int add_chars(struct loader *ld, const char *list, uint8_t lang)
{
	struct intent_pack *p = ld->p;
	const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)list;
	utf8proc_ssize_t len = (utf8proc_ssize_t)strlen(list);
	while (len > 0) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(s, len, &cp);
		if (n <= 0)
			return ld_fail(&ld->pos, "chars: invalid UTF-8");
		if (cp > ' ') {
			if (p->nchints >= sizeof(p->chints) / sizeof(p->chints[0]))
				return ld_fail(&ld->pos, "too many chars");
			p->chints[p->nchints++] = (struct chint){ cp, lang };
			cp = utf8proc_toupper(cp);
			if (p->nchints < sizeof(p->chints) / sizeof(p->chints[0]))
				p->chints[p->nchints++] = (struct chint){ cp, lang };
		}
		s += n;
		len -= n;
	}
	return 0;
}

/* Whether name can name an intent or a topic: lower-case letters, digits
 * and '_', as template keys are written ("[topic.home_battery]"). */
static bool id_ok(const char *name)
{
	size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_");
	return n > 0 && !name[n];
}

static int topic_index(struct loader *ld, const char *name)
{
	struct intent_pack *p = ld->p;
	int i = intent_topic_find(p, name);
	if (i >= 0)
		return i;
	if (!id_ok(name))
		return ld_fail(&ld->pos, "the L2 topic \"%s\" must be lower-case letters, digits "
					 "and '_'", name);
	if (p->ntopics >= INTENT_MAX_TOPICS || strlen(name) >= sizeof(p->topics[0]))
		return ld_fail(&ld->pos, "too many L2 topics or name too long: %s", name);
	snprintf(p->topics[p->ntopics], sizeof(p->topics[0]), "%s", name);
	return p->ntopics++;
}

/* Strips a trailing comment: a '#' preceded by white space. */
static void strip_comment(char *s)
{
	for (char *h = strchr(s, '#'); h; h = strchr(h + 1, '#'))
		if (h == s || h[-1] == ' ' || h[-1] == '\t') {
			*h = '\0';
			return;
		}
}

static int parse_slot_mask(struct loader *ld, char *list, uint8_t *mask)
{
	*mask = 0;
	char *save = NULL;
	for (char *w = strtok_r(list, "| \t", &save); w; w = strtok_r(NULL, "| \t", &save)) {
		if (strcmp(w, "date") == 0)
			*mask |= INTENT_SLOT_DATE;
		else if (strcmp(w, "meter") == 0)
			*mask |= INTENT_SLOT_METER;
		else if (strcmp(w, "address") == 0)
			*mask |= INTENT_SLOT_ADDRESS;
		else
			return ld_fail(&ld->pos, "unknown slot \"%s\" (date, meter, address)", w);
	}
	return *mask ? 0 : ld_fail(&ld->pos, "needs: no slot named");
}

static int load_rules(struct loader *ld, FILE *f)
{
	struct intent_pack *p = ld->p;
	char line[512];
	int cur = -1, got;
	while ((got = ld_gets(&ld->pos, f, line, sizeof(line))) > 0) {
		strip_comment(line);
		char *s = trim(line);
		if (!*s)
			continue;
		char *arg = s + strcspn(s, " \t");
		if (*arg)
			*arg++ = '\0';
		arg = trim(arg);
		if (strcmp(s, "intent") == 0) {
			if (!id_ok(arg))
				return ld_fail(&ld->pos, "the intent \"%s\" must be one word of "
							 "lower-case letters, digits and '_'", arg);
			if (p->nintents >= INTENT_MAX || strlen(arg) >= sizeof(p->intents[0]))
				return ld_fail(&ld->pos, "too many intents, or a name too long");
			if (intent_find(p, arg) >= 0)
				return ld_fail(&ld->pos, "intent %s defined twice", arg);
			cur = p->nintents++;
			snprintf(p->intents[cur], sizeof(p->intents[0]), "%s", arg);
		} else if (cur < 0) {
			return ld_fail(&ld->pos, "\"%s\" before any intent line", s);
		} else if (strcmp(s, "needs") == 0) {
			struct intent_rule *r = &p->rules[cur];
			if (r->nneeds >= INTENT_MAX_NEEDS)
				return ld_fail(&ld->pos, "too many needs");
			if (parse_slot_mask(ld, arg, &r->needs[r->nneeds]) < 0)
				return -1;
			r->nneeds++;
		} else if (strcmp(s, "evidence") == 0) {
			char *w = arg + strcspn(arg, " \t");
			if (*w)
				*w++ = '\0';
			uint8_t mask;
			char *endp = NULL;
			double weight = strtod(w, &endp);
			if (parse_slot_mask(ld, arg, &mask) < 0)
				return -1;
			if (!*w || *endp || !(weight > 0 && weight <= 10) || (mask & (mask - 1)))
				return ld_fail(&ld->pos, "expected \"evidence SLOT WEIGHT\"");
			for (int b = 0; b < 3; b++)
				if (mask == (1u << b))
					p->rules[cur].evidence[b] = (float)weight;
		} else if ((strcmp(s, "yields") == 0 || strcmp(s, "yields_to_l2") == 0) && !*arg) {
			/* yields_to_l2 is its name before [elsewhere] joined L2. */
			p->rules[cur].yields = true;
		} else if (strcmp(s, "check") == 0) {
			if (strcmp(arg, "supply_start") == 0)
				p->rules[cur].check = INTENT_CHECK_SUPPLY_START;
			else if (strcmp(arg, "meter_address") == 0)
				p->rules[cur].check = INTENT_CHECK_METER_ADDRESS;
			else
				return ld_fail(&ld->pos, "unknown check \"%s\" (supply_start, meter_address)", arg);
		} else {
			return ld_fail(&ld->pos, "unknown directive \"%s\"", s);
		}
	}
	if (got < 0)
		return -1;
	return p->nintents ? 0 : ld_fail(&ld->pos, "no intents defined");
}

enum section {
	S_HEADER, S_INTENT, S_L2, S_NOT, S_NEG, S_CLOSING, S_MOVE, S_ELSEWHERE, S_OWNERS, S_SLOT,
	S_DETAIL
};

/* The lines of [negation], [closing] and [owners]: a keyword, the kind of
 * what it lists, and whether that is |-separated phrases or words. */
static const struct {
	uint8_t sec;
	const char *kw;
	uint8_t kind;
	bool phrases;
} keyed_lines[] = {
	{ S_NEG, "pre", K_NEG_PRE, false },
	{ S_NEG, "post", K_NEG_POST, true },
	{ S_NEG, "break", K_BREAK, false },
	{ S_NEG, "list", K_LIST, false },
	{ S_NEG, "definite", K_DEFINITE, false },
	{ S_NEG, "article", K_ARTICLE, false },
	{ S_NEG, "or", K_OR, false },
	{ S_NEG, "act", K_ACT, false },
	{ S_NEG, "end", K_END, false },
	{ S_NEG, "yet", K_YET, false },
	{ S_NEG, "yet_before", K_YET_BEFORE, true },
	{ S_NEG, "inverted", K_INVERTED, false },
	{ S_NEG, "subject", K_SUBJECT, false },
	{ S_NEG, "having", K_HAVING, false },
	{ S_CLOSING, "phrase", K_CLOSING, true },
	{ S_CLOSING, "thanks", K_THANKS, true },
	{ S_CLOSING, "with", K_CLOSING_WITH, false },
	{ S_OWNERS, "owner", K_OWNER, true },
	{ S_OWNERS, "have", K_HAVE, true },
	{ S_DETAIL, "symptom", K_DETAIL, true },
	{ S_DETAIL, "not_code", K_NOT_CODE, true },
	{ S_DETAIL, "not_symptom", K_NOT_SYMPTOM, true },
};
#define KEYED_LINES (sizeof(keyed_lines) / sizeof(keyed_lines[0]))

/* What a line of such a section must start with, for the loader's error. */
static const char *const keyed_expect[] = {
	[S_NEG] = "negation lines start with pre, post, break, list, definite, article, or, "
		  "act, end, yet, yet_before, inverted, subject or having",
	[S_CLOSING] = "closing lines start with phrase, thanks or with",
	[S_OWNERS] = "owners lines start with owner or have",
	[S_DETAIL] = "detail lines start with symptom, not_code or not_symptom",
};

static int load_lang(struct loader *ld, FILE *f)
{
	struct intent_pack *p = ld->p;
	char line[4096];
	int lang = -1;
	enum section sec = S_HEADER;
	int target = 0;
	char slot_sec[16] = "";
	int got;

	while ((got = ld_gets(&ld->pos, f, line, sizeof(line))) > 0) {
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		if (strncmp(s, "rel ", 4) != 0)
			strip_comment(s);
		s = trim(s);
		if (!*s)
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end)
				return ld_fail(&ld->pos, "section header without ']'");
			*end = '\0';
			char *name = trim(s + 1);
			char *arg = name + strcspn(name, " \t");
			if (*arg)
				*arg++ = '\0';
			arg = trim(arg);
			if (lang < 0)
				return ld_fail(&ld->pos, "a section before the 'lang' line");
			ld->shared = false;
			if (strcmp(name, "intent") == 0) {
				target = intent_find(p, arg);
				if (target < 0)
					return ld_fail(&ld->pos, "intent \"%s\" is not in rules.txt", arg);
				sec = S_INTENT;
			} else if (strcmp(name, "l2") == 0) {
				target = topic_index(ld, arg);
				if (target < 0)
					return -1;
				sec = S_L2;
			} else if (strcmp(name, "l2_not") == 0) {
				sec = S_NOT;
			} else if (strcmp(name, "negation") == 0) {
				sec = S_NEG;
			} else if (strcmp(name, "closing") == 0) {
				sec = S_CLOSING;
			} else if (strcmp(name, "move") == 0) {
				sec = S_MOVE;
			} else if (strcmp(name, "elsewhere") == 0) {
				sec = S_ELSEWHERE;
			} else if (strcmp(name, "detail") == 0) {
				sec = S_DETAIL;
			} else if (strcmp(name, "owners") == 0) {
				sec = S_OWNERS;
			} else if (strcmp(name, "dates") == 0 || strcmp(name, "address") == 0) {
				snprintf(slot_sec, sizeof(slot_sec), "%s", name);
				sec = S_SLOT;
			} else {
				return ld_fail(&ld->pos, "unknown section [%s]", name);
			}
			continue;
		}
		/* Terms that every language uses (EAN, Pulse, brand names) are
		 * listed once, between a "shared" and an "own" line. */
		if ((sec == S_INTENT || sec == S_L2) &&
		    (strcmp(s, "shared") == 0 || strcmp(s, "own") == 0)) {
			ld->shared = strcmp(s, "shared") == 0;
			continue;
		}
		char *arg = s + strcspn(s, " \t");
		if (*arg)
			*arg++ = '\0';
		arg = trim(arg);
		int rc = 0;
		switch (sec) {
		case S_HEADER:
			if (strcmp(s, "lang") == 0) {
				if (lang >= 0 || !*arg || strlen(arg) >= sizeof(p->langs[0].code))
					return ld_fail(&ld->pos, "bad or repeated lang line");
				/* Templates are found by the code: templates/<code>.txt. */
				char want[sizeof(p->langs[0].code) + 4];
				const char *base = strrchr(ld->pos.file, '/');
				base = base ? base + 1 : ld->pos.file;
				snprintf(want, sizeof(want), "%s.txt", arg);
				if (strcmp(base, want) != 0)
					return ld_fail(&ld->pos, "says lang %s, but the file is %s "
								 "(intents/<code>.txt)", arg, base);
				if (intent_lang_find(p, arg) >= 0)
					return ld_fail(&ld->pos, "language %s defined twice", arg);
				if (p->nlangs >= INTENT_MAX_LANGS)
					return ld_fail(&ld->pos, "too many languages");
				lang = p->nlangs++;
				snprintf(p->langs[lang].code, sizeof(p->langs[0].code), "%s", arg);
			} else if (lang < 0) {
				return ld_fail(&ld->pos, "the first line must be 'lang CODE'");
			} else if (strcmp(s, "name") == 0) {
				/* The language's name, for people reading the file. */
			} else if (strcmp(s, "chars") == 0) {
				rc = add_chars(ld, arg, (uint8_t)lang);
			} else if (strcmp(s, "markers") == 0) {
				rc = add_words(ld, arg, K_MARKER, (uint8_t)lang);
			} else {
				return ld_fail(&ld->pos, "unknown header directive \"%s\"", s);
			}
			break;
		case S_INTENT: {
			char *endp = NULL;
			errno = 0;
			double w = strtod(s, &endp);
			if (errno || *endp || !(w >= -10 && w <= 10 && w != 0) || !*arg)
				return ld_fail(&ld->pos,
					       "expected \"WEIGHT TERM\", a number from -10 to 10 other "
					       "than 0 and a term, not \"%s%s%s\"", s, *arg ? " " : "", arg);
			rc = add_term(ld, arg, K_INTENT, (uint8_t)target, (float)w, (uint8_t)lang);
			break;
		}
		case S_L2:
		case S_NOT:
		case S_MOVE:
		case S_ELSEWHERE: {
			static const uint8_t line_kind[] = {
				[S_L2] = K_TRIGGER, [S_NOT] = K_NOT,
				[S_MOVE] = K_MOVE, [S_ELSEWHERE] = K_ELSEWHERE,
			};
			/* The whole line is the term: put the split word back. */
			if (*arg)
				arg[-1] = ' ';
			rc = add_term(ld, s, line_kind[sec], (uint8_t)target, 1.0f, (uint8_t)lang);
			break;
		}
		case S_NEG:
		case S_CLOSING:
		case S_OWNERS:
		case S_DETAIL: {
			size_t k = 0;
			while (k < KEYED_LINES &&
			       !(keyed_lines[k].sec == sec && strcmp(s, keyed_lines[k].kw) == 0))
				k++;
			if (k == KEYED_LINES)
				return ld_fail(&ld->pos, "%s", keyed_expect[sec]);
			rc = keyed_lines[k].phrases
				     ? add_phrases(ld, arg, keyed_lines[k].kind, (uint8_t)lang)
				     : add_words(ld, arg, keyed_lines[k].kind, (uint8_t)lang);
			break;
		}
		case S_SLOT: {
			if (*arg)
				arg[-1] = ' ';
			char msg[200] = "";
			if (slot_vocab_line(ld->slots, lang, slot_sec, s, msg, sizeof(msg)) < 0)
				return ld_fail(&ld->pos, "%s", msg[0] ? msg : "bad line");
			break;
		}
		}
		if (rc < 0)
			return -1;
	}
	if (got < 0)
		return -1;
	return lang >= 0 ? 0 : ld_fail(&ld->pos, "no 'lang' line");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_file(struct loader *ld, const char *dir, const char *name,
		     int (*fn)(struct loader *, FILE *))
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* The whole path: en.txt is in intents/ and in templates/ alike. */
	ld->pos.file = path;
	ld->pos.line = 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(ld->pos.err, ld->pos.errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = fn(ld, f);
	fclose(f);
	return rc;
}

/* Puts the entries in pattern order, so a match finds its entries at
 * pat_first[pat] .. pat_first[pat + 1] with no index between: the hit
 * loop of intent_analyze pays one dependent load less per hit. A term
 * listed twice for the same target (in two language files, say) is one
 * entry: it counts once, with the larger weight. Returns 0 or -1 (out
 * of memory, p unchanged but for pat_first). */
static int index_entries(struct intent_pack *p)
{
	int rc = -1;
	uint32_t *by_pat = NULL, *fill = NULL;
	struct entry *sorted = NULL;

	p->npats = 0;
	for (uint32_t e = 0; e < p->nentries; e++)
		if (p->entries[e].pat + 1 > p->npats)
			p->npats = p->entries[e].pat + 1;
	p->pat_first = calloc(p->npats + 1, sizeof(uint32_t));
	by_pat = malloc((p->nentries + 1) * sizeof(uint32_t));
	fill = calloc(p->npats + 1, sizeof(uint32_t));
	sorted = malloc((p->nentries + 1) * sizeof(*sorted));
	if (!p->pat_first || !by_pat || !fill || !sorted)
		goto out_free;
	for (uint32_t e = 0; e < p->nentries; e++)
		p->pat_first[p->entries[e].pat + 1]++;
	for (uint32_t i = 0; i < p->npats; i++)
		p->pat_first[i + 1] += p->pat_first[i];
	for (uint32_t e = 0; e < p->nentries; e++) {
		uint32_t pat = p->entries[e].pat;
		by_pat[p->pat_first[pat] + fill[pat]++] = e;
	}
	uint32_t o = 0;
	for (uint32_t pat = 0; pat < p->npats; pat++) {
		uint32_t first = o;
		for (uint32_t k = p->pat_first[pat]; k < p->pat_first[pat + 1]; k++) {
			const struct entry *en = &p->entries[by_pat[k]];
			bool dup = false;
			for (uint32_t j = first; j < o && !dup; j++) {
				struct entry *kept = &sorted[j];
				if (kept->kind == en->kind && kept->target == en->target) {
					dup = true;
					if (en->weight > kept->weight)
						kept->weight = en->weight;
					/* It says each of its languages as much:
					 * "solpaneler" is Swedish as well as
					 * Norwegian. */
					if (en->lang != kept->lang && !en->shared)
						kept->also |= (uint8_t)(1u << en->lang);
				}
			}
			if (!dup)
				sorted[o++] = *en;
		}
		p->pat_first[pat] = first;
	}
	p->pat_first[p->npats] = o;
	free(p->entries);
	p->entries = sorted;
	p->entries_cap = p->nentries + 1;
	p->nentries = o;
	sorted = NULL;
	rc = 0;
out_free:
	free(sorted);
	free(fill);
	free(by_pat);
	return rc;
}

struct intent_pack *intent_pack_load(const char *dir, struct slot_vocab *slots,
				     char *err, size_t errlen)
{
	struct loader ld = { .slots = slots, .pos = { .err = err, .errlen = errlen } };
	char **names = NULL;
	size_t nnames = 0;
	DIR *d = NULL;
	struct intent_pack *p = calloc(1, sizeof(*p));
	if (!p || !(p->m = match_new()) || tok_buf_init(&ld.tb, 1024) < 0) {
		snprintf(err, errlen, "out of memory");
		goto free_pack;
	}
	ld.p = p;
	if (load_file(&ld, dir, "rules.txt", load_rules) < 0)
		goto free_pack;

	d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto free_pack;
	}
	for (struct dirent *de; (de = readdir(d));) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".txt") != 0 ||
		    strcmp(de->d_name, "rules.txt") == 0 || de->d_name[0] == '.')
			continue;
		char **nn = realloc(names, (nnames + 1) * sizeof(*names));
		if (!nn || !(nn[nnames] = strdup(de->d_name))) {
			if (nn)
				names = nn;
			snprintf(err, errlen, "out of memory");
			goto free_names;
		}
		names = nn;
		nnames++;
	}
	if (nnames > 1)
		qsort(names, nnames, sizeof(*names), cmp_str);
	for (size_t i = 0; i < nnames; i++)
		if (load_file(&ld, dir, names[i], load_lang) < 0)
			goto free_names;
	if (p->nlangs == 0) {
		snprintf(err, errlen, "%s: no language files (*.txt)", dir);
		goto free_names;
	}
	if (match_build(p->m) < 0 || index_entries(p) < 0) {
		snprintf(err, errlen, "out of memory");
		goto free_names;
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	closedir(d);
	tok_buf_free(&ld.tb);
	return p;

free_names:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
free_pack:
	if (d)
		closedir(d);
	tok_buf_free(&ld.tb);
	intent_pack_free(p);
	return NULL;
}

void intent_pack_free(struct intent_pack *p)
{
	if (!p)
		return;
	match_free(p->m);
	free(p->entries);
	free(p->pat_first);
	free(p->strs.s);
	free(p);
}

size_t intent_count(const struct intent_pack *p) { return p->nintents; }
const char *intent_name(const struct intent_pack *p, size_t i) { return p->intents[i]; }
const struct intent_rule *intent_rule(const struct intent_pack *p, size_t i) { return &p->rules[i]; }
size_t intent_lang_count(const struct intent_pack *p) { return p->nlangs; }
const char *intent_lang_code(const struct intent_pack *p, size_t i) { return p->langs[i].code; }
size_t intent_topic_count(const struct intent_pack *p) { return p->ntopics; }
const char *intent_topic_name(const struct intent_pack *p, size_t i) { return p->topics[i]; }

int intent_topic_find(const struct intent_pack *p, const char *name)
{
	for (int i = 0; i < p->ntopics; i++)
		if (strcmp(p->topics[i], name) == 0)
			return i;
	return -1;
}

int intent_find(const struct intent_pack *p, const char *name)
{
	for (int i = 0; i < p->nintents; i++)
		if (strcmp(p->intents[i], name) == 0)
			return i;
	return -1;
}

int intent_lang_find(const struct intent_pack *p, const char *code)
{
	for (int i = 0; i < p->nlangs; i++)
		if (strcmp(p->langs[i].code, code) == 0)
			return i;
	return -1;
}

void intent_entry_describe(const struct intent_pack *p, uint32_t entry,
			   const char **kind, const char **target,
			   const char **term, const char **lang)
{
	const struct entry *e = &p->entries[entry];
	*kind = kind_names[e->kind];
	*target = e->kind == K_INTENT ? p->intents[e->target]
		: e->kind == K_TRIGGER ? p->topics[e->target] : "";
	*term = p->strs.s + e->term;
	*lang = p->langs[e->lang].code;
}

int intent_entry_intent(const struct intent_pack *p, uint32_t entry, double *weight)
{
	const struct entry *e = &p->entries[entry];
	*weight = e->weight;
	return e->kind == K_INTENT && e->weight > 0 ? e->target : -1;
}

bool intent_entry_closes(const struct intent_pack *p, uint32_t entry)
{
	uint8_t k = p->entries[entry].kind;
	return k == K_CLOSING || k == K_THANKS;
}

enum intent_detail intent_entry_detail(const struct intent_pack *p, uint32_t entry)
{
	switch (p->entries[entry].kind) {
	case K_DETAIL:
		return INTENT_DETAIL_SYMPTOM;
	case K_NOT_CODE:
		return INTENT_DETAIL_NOT_CODE;
	case K_NOT_SYMPTOM:
		return INTENT_DETAIL_NOT_SYMPTOM;
	default:
		return INTENT_DETAIL_NONE;
	}
}

size_t intent_pack_memory(const struct intent_pack *p)
{
	return sizeof(*p) + match_memory(p->m) +
	       (size_t)p->entries_cap * sizeof(struct entry) +
	       (size_t)(p->npats + 1) * sizeof(uint32_t) + p->strs.cap;
}

/* ---- analysis ---- */

struct intent_scratch *intent_scratch_new(const struct intent_pack *p,
					  size_t max_bytes)
{
	struct intent_scratch *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	/* The tokenizer makes at most a token a byte and at most three bytes
	 * of normalised text a byte (tok_buf_init); the scan adds a space at
	 * either end. */
	s->max_tokens = max_bytes + 1;
	s->tflags = calloc(s->max_tokens, sizeof(*s->tflags));
	s->typo_words = malloc(s->max_tokens * sizeof(*s->typo_words));
	s->stamp = calloc(p->nentries + 1, sizeof(uint32_t));
	s->padded_cap = max_bytes * 3 + 64 + 3;
	s->padded = malloc(s->padded_cap);
	if (!s->tflags || !s->typo_words || !s->stamp || !s->padded) {
		intent_scratch_free(s);
		return NULL;
	}
	return s;
}

void intent_scratch_free(struct intent_scratch *s)
{
	if (!s)
		return;
	free(s->tflags);
	free(s->typo_words);
	free(s->stamp);
	free(s->padded);
	free(s);
}

struct acc {
	double raw[INTENT_MAX];
	double lang[INTENT_MAX_LANGS];
	/* The tokens of opts->names: no evidence of a language ("2. OG" of
	 * an address is no Norwegian "og"); names_first > names_last for
	 * none. */
	uint32_t names_first, names_last;
	/* With opts->names_fallback, what the names say, counted apart. */
	double names_lang[INTENT_MAX_LANGS];
	bool names_fallback;
	const uint32_t *tflags; /* the scratch's: TF_POSTCODE says no language */
	bool closing; /* a [closing] phrase matched */
	bool thanked; /* one of them a thanks phrase */
};

/* Counts weight w for language lang unless tokens [first, last] are a
 * postcode's letters or lie in the names (then it counts apart, when the
 * names are a fallback). */
static void lang_vote(struct acc *acc, uint8_t lang, double w, uint32_t first, uint32_t last)
{
	if (first == last && (acc->tflags[first] & TF_POSTCODE))
		return;
	if (first >= acc->names_first && last <= acc->names_last) {
		if (acc->names_fallback)
			acc->names_lang[lang] += w;
		return;
	}
	acc->lang[lang] += w;
}

/* True when token i (> 0) is the two capital letters of a Dutch
 * postcode, after its four digits: "3511 AB" is no German "ab", "3511 OG"
 * no Norwegian "og". */
static bool postcode_letters(const struct tok_buf *toks, const char *text, uint32_t i)
{
	const struct tok *t = &toks->v[i], *d = &toks->v[i - 1];
	if (t->kind != TOK_WORD || t->len != 2 || d->kind != TOK_NUM || d->len != 4 ||
	    !(t->flags & TOK_F_SPACE) || d->off + d->len + 1 != t->off)
		return false;
	for (uint32_t k = 0; k < 2; k++)
		if (text[t->off + k] < 'A' || text[t->off + k] > 'Z')
			return false;
	for (uint32_t k = 0; k < 4; k++)
		if (text[d->off + k] < '0' || text[d->off + k] > '9')
			return false;
	return true;
}

/* Counts weight w for each language whose files list entry en's term. */
static void entry_vote(struct acc *acc, const struct entry *en, double w, uint32_t first,
		       uint32_t last)
{
	lang_vote(acc, en->lang, w, first, last);
	for (uint8_t l = 0; en->also >> l; l++)
		if (en->also & (1u << l))
			lang_vote(acc, l, w, first, last);
}

/* Counts one matched entry towards the scores and records it. A hit that
 * covers its words (covers) leaves them to no typo lookup. */
static void take(const struct intent_pack *p, struct intent_scratch *s,
		 struct intent_result *out, struct acc *acc, uint32_t e,
		 uint32_t first, uint32_t last, bool typo, bool covers)
{
	const struct entry *en = &p->entries[e];
	/* A [move] stem ("flytt*") says nothing of which keyword a word is:
	 * "flyttr" is still looked up as a misspelt "flytter"; nor does a word
	 * of another matter or of a symptom. */
	if (covers && en->kind != K_MOVE && en->kind != K_ELSEWHERE && en->kind != K_DETAIL &&
	    en->kind != K_NOT_CODE && en->kind != K_NOT_SYMPTOM)
		for (uint32_t i = first; i <= last; i++)
			s->tflags[i] |= TF_COVERED;
	if (out->nhits < MAX_HITS)
		s->hits[out->nhits++] = (struct intent_hit){
			e, (uint16_t)first, (uint16_t)last, typo };
	switch (en->kind) {
	case K_INTENT:
		if (en->weight < 0) {
			if (s->nagainsts < MAX_SPANS) {
				s->against_target[s->nagainsts] = en->target;
				s->againsts[s->nagainsts++] = (struct span){ (uint16_t)first,
									    (uint16_t)last };
			}
			break;
		}
		if (s->stamp[e] != s->gen) {
			s->stamp[e] = s->gen;
			acc->raw[en->target] += en->weight * (typo ? TYPO_WEIGHT : 1.0);
			if (!en->shared)
				entry_vote(acc, en, 0.5, first, last);
		}
		break;
	case K_TRIGGER:
		/* "solcelleanlegg" says Norwegian as well as an intent word does;
		 * a brand listed once ("Powerwall") weighs too little alone. */
		if (!typo && !en->shared && s->stamp[e] != s->gen) {
			s->stamp[e] = s->gen;
			entry_vote(acc, en, 0.5, first, last);
		}
		for (uint32_t k = 0; k < out->ntriggers; k++)
			if (out->triggers[k].topic == en->target &&
			    out->triggers[k].tok_first == first)
				return;
		if (out->ntriggers < INTENT_MAX_TRIGGERS)
			out->triggers[out->ntriggers++] = (struct intent_trigger){
				.topic = en->target, .tok_first = (uint16_t)first,
				.tok_last = (uint16_t)last };
		break;
	case K_NOT:
		if (s->nnots < MAX_SPANS)
			s->nots[s->nnots++] = (struct span){ (uint16_t)first, (uint16_t)last };
		break;
	case K_NEG_POST:
		if (s->nposts < MAX_SPANS)
			s->posts[s->nposts++] = (struct span){ (uint16_t)first, (uint16_t)last };
		break;
	case K_YET_BEFORE:
		if (s->nyets < MAX_SPANS)
			s->yets[s->nyets++] = (struct span){ (uint16_t)first, (uint16_t)last };
		break;
	case K_NEG_PRE:
	case K_BREAK:
	case K_LIST:
	case K_DEFINITE:
	case K_ARTICLE:
	case K_OR:
	case K_ACT:
	case K_END:
	case K_YET:
	case K_HAVE:
	case K_INVERTED:
	case K_SUBJECT:
	case K_HAVING:
		s->tflags[first] |= token_flag[en->kind];
		break;
	case K_OWNER:
		for (uint32_t i = first; i < last; i++)
			s->tflags[i] |= TF_OWNER_IN;
		s->tflags[last] |= TF_OWNER;
		break;
	case K_MARKER:
		if (s->stamp[e] != s->gen) {
			s->stamp[e] = s->gen;
			entry_vote(acc, en, 1.0, first, last);
		}
		break;
	case K_THANKS:
		acc->thanked = true;
		/* fall through */
	case K_CLOSING:
		/* "takk" says which language as well as an intent word does. */
		if (s->stamp[e] != s->gen) {
			s->stamp[e] = s->gen;
			entry_vote(acc, en, 0.5, first, last);
		}
		acc->closing = true;
		/* fall through */
	case K_CLOSING_WITH:
		for (uint32_t i = first; i <= last; i++)
			s->tflags[i] |= TF_CLOSING;
		break;
	case K_MOVE:
	case K_ELSEWHERE:
	case K_DETAIL:
		for (uint32_t i = first; i <= last; i++)
			s->tflags[i] |= en->kind == K_MOVE ? TF_MOVE
				      : en->kind == K_ELSEWHERE ? TF_ELSEWHERE : TF_DETAIL;
		break;
	}
}

static bool inside_against(const struct intent_scratch *s, const struct intent_hit *h,
			   uint8_t target)
{
	for (uint32_t k = 0; k < s->nagainsts; k++)
		if ((s->against_target[k] == target || s->against_target[k] == AGAINST_ALL) &&
		    s->againsts[k].first <= h->tok_first && s->againsts[k].last >= h->tok_last)
			return true;
	return false;
}

/* Whether word token i is joined to the word before it by a hyphen
 * ("Modbus-aansluiting"), which the tokenizer drops. */
static bool hyphened(const struct tok_buf *t, const char *text, uint32_t i)
{
	if (i == 0)
		return false;
	const struct tok *w = &t->v[i], *v = &t->v[i - 1];
	return w->kind == TOK_WORD && v->kind == TOK_WORD && w->off >= 1 &&
	       text[w->off - 1] == '-' && v->off + v->len + 1 == w->off;
}

/* Words joined by hyphens to an L2 trigger name a part of that technical
 * thing ("Modbus-aansluiting", "PV-Anschluss"), not what an intent's
 * keyword among them would: they are a phrase against every intent. */
static void compound_againsts(const struct tok_buf *t, const char *text,
			      struct intent_scratch *s, const struct intent_result *out)
{
	for (uint32_t k = 0; k < out->ntriggers && s->nagainsts + 2 <= MAX_SPANS; k++) {
		uint32_t a = out->triggers[k].tok_first, b = out->triggers[k].tok_last;
		uint32_t lo = a, hi = b;
		while (lo > 0 && hyphened(t, text, lo))
			lo--;
		while (hi + 1 < t->n && hyphened(t, text, hi + 1))
			hi++;
		if (lo < a) {
			s->against_target[s->nagainsts] = AGAINST_ALL;
			s->againsts[s->nagainsts++] = (struct span){ (uint16_t)lo, (uint16_t)(a - 1) };
		}
		if (hi > b) {
			s->against_target[s->nagainsts] = AGAINST_ALL;
			s->againsts[s->nagainsts++] = (struct span){ (uint16_t)(b + 1), (uint16_t)hi };
		}
	}
}

/* The punctuation character token i is, or 0 for a word or number. */
static char punct(const struct tok_buf *t, uint32_t i)
{
	return t->v[i].kind == TOK_PUNCT ? t->norm[t->v[i].noff] : 0;
}

static bool ends_sentence(const struct tok_buf *t, uint32_t i)
{
	char c = punct(t, i);
	return c == '.' || c == '!' || c == '?';
}

/* In a message that says nothing of the move, a sentence that carries an
 * L2 topic is the technical question the ticket takes, and one with an
 * [elsewhere] term asks about another matter: both count as phrases
 * against the intents that yield ("can the Pulse read my inverter?" and
 * "where is my Pulse order?" ask nothing about moving the Pulse). "we
 * moved last week, and the Pulse and the inverter show no data" keeps its
 * Pulse. So does a sentence with a [detail] term in a conversation that
 * has a ticket (ticket_open): "The LED blinks red" after a question about
 * the inverter is more detail for it. */
static void yielding_sentences(const struct intent_pack *p, const struct tok_buf *t,
			       struct intent_scratch *s, const struct intent_result *out,
			       bool ticket_open)
{
	const uint32_t yield = TF_TOPIC | TF_ELSEWHERE | (ticket_open ? TF_DETAIL : 0);
	for (uint32_t i = 0; i < t->n; i++)
		if (s->tflags[i] & TF_MOVE)
			return;
	for (uint32_t k = 0; k < out->ntriggers; k++)
		if (!out->triggers[k].negated && !out->triggers[k].excluded)
			s->tflags[out->triggers[k].tok_first] |= TF_TOPIC;
	uint32_t done = 0; /* the sentences taken end before it */
	for (uint32_t i = 0; i < t->n; i++) {
		if (i < done || !(s->tflags[i] & yield))
			continue;
		uint32_t a = i, b = i;
		while (a > 0 && !ends_sentence(t, a - 1))
			a--;
		while (b + 1 < t->n && !ends_sentence(t, b))
			b++;
		done = b + 1;
		for (int k = 0; k < p->nintents; k++)
			if (p->rules[k].yields && s->nagainsts < MAX_SPANS) {
				s->against_target[s->nagainsts] = (uint8_t)k;
				s->againsts[s->nagainsts++] = (struct span){ (uint16_t)a, (uint16_t)b };
			}
	}
}

/* Takes back the weight of an intent's terms whose every hit lies inside a
 * phrase against that intent: "don't have a Pulse" cancels its own
 * "Pulse", not the "factory reset" asked about after it ("I don't have a
 * pulse signal, how do I factory reset it?"). A term is taken back as it
 * was counted, at its first hit. */
static void take_back_againsts(const struct intent_pack *p, const struct intent_scratch *s,
			       const struct intent_result *out, struct acc *acc)
{
	for (uint32_t k = 0; s->nagainsts && k < out->nhits; k++) {
		const struct intent_hit *h = &out->hits[k];
		const struct entry *en = &p->entries[h->entry];
		if (en->kind != K_INTENT || en->weight < 0 || !inside_against(s, h, en->target))
			continue;
		bool counted_here = true, all_inside = true;
		for (uint32_t j = 0; j < out->nhits && all_inside; j++) {
			if (out->hits[j].entry != h->entry || j == k)
				continue;
			counted_here &= j > k;
			all_inside = inside_against(s, &out->hits[j], en->target);
		}
		if (counted_here && all_inside)
			acc->raw[en->target] -= en->weight * (h->typo ? TYPO_WEIGHT : 1.0);
	}
}

/* A message made of closing words only: a [closing] phrase, and every
 * word or number beside it a phrase or a [closing] with word, and no
 * question mark. "thanks, that's all!" closes; "thanks in advance, what
 * about my invoice", "that's all?" and a bare "ok" do not. */
static bool closes(const struct tok_buf *t, const struct intent_scratch *s,
		   const struct acc *acc)
{
	if (!acc->closing)
		return false;
	for (uint32_t i = 0; i < t->n; i++) {
		char c = punct(t, i);
		if (c ? c == '?' : !(s->tflags[i] & TF_CLOSING))
			return false;
	}
	return true;
}

static bool is_clause_break(const struct tok_buf *t, const struct intent_scratch *s,
			    uint32_t i)
{
	if (s->tflags[i] & TF_BREAK)
		return true;
	char c = punct(t, i);
	return c == '.' || c == '!' || c == '?' || c == ';' || c == ':' || c == ',';
}

/* Whether the clause goes on from trigger b as from its subject: a word
 * follows it that is no list word, and no second word of the item before
 * a comma or a list word ("battery storage or heat pump"); after "or" and
 * an article (or_article) no end word either ("or a battery at the new
 * house"). */
static bool goes_on(const struct tok_buf *t, const struct intent_scratch *s,
		    const struct intent_trigger *b, bool or_article)
{
	uint32_t k = b->tok_last + 1;
	return k < t->n && t->v[k].kind == TOK_WORD && !(s->tflags[k] & TF_LIST) &&
	       !(or_article && (s->tflags[k] & TF_END)) &&
	       !(k + 1 < t->n && ((s->tflags[k + 1] & TF_LIST) ||
				  punct(t, k + 1) == ','));
}

/* Whether the negation at token neg says "not yet" of the trigger: a
 * thing to come, which the customer asks about ("would Tibber support
 * it?"), so it escalates, as when unsure. The language says how: with a
 * yet_before phrase that ends in the negation ("noch keinen Speicher",
 * "nog geen", but not "noch nie", never), or a yet word right after it
 * ("not yet installed") or right after the thing ("no battery yet";
 * German "noch" there is "nor": "weder eine Solaranlage noch ..."). After
 * a list the last item's "yet" is the list's end ("no solar panels or a
 * battery yet" has neither). */
static bool not_yet(const struct tok_buf *t, const struct intent_scratch *s,
		    const struct intent_trigger *tr, uint32_t neg, bool listed)
{
	uint32_t after = (uint32_t)tr->tok_last + 1;
	for (uint32_t k = 0; k < s->nyets; k++)
		if (s->yets[k].last == neg)
			return true;
	return (s->tflags[neg + 1] & TF_YET) ||
	       (!listed && after < t->n && (s->tflags[after] & TF_YET));
}

/* Whether the negation at token neg stands between the verb and the
 * subject of a clause in verb-second order, one that opens with something
 * other than its subject: "I appen vises ikke vekselretteren lenger", "Nå
 * svarer ikke batteriet". The thing after it is then the subject, there,
 * and the negation is about what it does, as after a verb of doing. Only
 * an inverted negation ("ikke", "inte") does so, with two words or more
 * before it in its clause (one alone is a verb whose subject was left
 * out: "eier ikke batteriet"), none of them a subject word ("Nå har vi
 * ikke solceller": the subject came first, the thing is what it has) or a
 * verb of having or being ("Huset har ikke solceller", "Her finnes ikke
 * solceller", "Problemet er ikke vekselretteren"). A list word ends the
 * clause as a break does: "solceller og nå svarer ikke batteriet". */
static bool inverted(const struct tok_buf *t, const struct intent_scratch *s, uint32_t neg)
{
	if (!(s->tflags[neg] & TF_INVERTED))
		return false;
	uint32_t words = 0;
	for (uint32_t i = neg; i-- > 0 && !is_clause_break(t, s, i) && !(s->tflags[i] & TF_LIST);) {
		if (s->tflags[i] & (TF_SUBJECT | TF_HAVING))
			return false;
		words += t->v[i].kind == TOK_WORD;
	}
	return words >= 2;
}

/* The post-negation right after the trigger, or NULL: a word between is
 * what it denies ("the inverter password I don't have" is about an
 * inverter). One a yet word follows says "not yet" ("a battery we don't
 * have yet"): a thing to come, which escalates. */
static const struct span *post_negation(const struct tok_buf *t, const struct intent_scratch *s,
					const struct intent_trigger *tr)
{
	for (uint32_t k = 0; k < s->nposts; k++) {
		const struct span *p = &s->posts[k];
		if (p->first != tr->tok_last + 1u)
			continue;
		if (p->last + 1u < t->n && (s->tflags[p->last + 1u] & TF_YET))
			return NULL;
		return p;
	}
	return NULL;
}

static bool negated(const struct tok_buf *t, const struct intent_scratch *s,
		    const struct intent_trigger *tr)
{
	int words = 0, window = NEG_PRE_WINDOW;
	bool listed = false;
	for (int64_t i = (int64_t)tr->tok_first - 1; i >= 0 && words < window; i--) {
		/* A definite word or possessive before the trigger takes the
		 * thing as there: the negation before it is about something
		 * else ("I can't find the inverter settings", "the app doesn't
		 * show my solar production"), while "we don't have a battery"
		 * stays negated. After "and" the thing is had ("no heat pump
		 * and a battery"). */
		if (is_clause_break(t, s, (uint32_t)i) || (s->tflags[i] & (TF_DEFINITE | TF_ACT)) ||
		    ((s->tflags[i] & TF_LIST) && !(s->tflags[i] & TF_OR)))
			break;
		/* An article is no word of the thing ("we don't have a home
		 * battery"), and an "or" lets the negation reach one word
		 * further, into the next item of a list ("we don't have a heat
		 * pump or solar panels"); after "or a" only where the item ends,
		 * as in listed_after ("no solar panels or a battery that works"
		 * has a battery). */
		if (s->tflags[i] & TF_ARTICLE)
			continue;
		if (s->tflags[i] & TF_OR) {
			if ((uint32_t)i + 1 < tr->tok_first && (s->tflags[i + 1] & TF_ARTICLE) &&
			    goes_on(t, s, tr, true))
				break;
			window = NEG_PRE_WINDOW + 1;
			listed = true;
			continue;
		}
		/* A negation is about the verb of doing right before it ("the
		 * app shows no solar production", "viser ikke solcelle-
		 * produksjonen"), a short adverb between ("lader heller ikke
		 * fra solcellene", "zeigt auch keine"), or between it and the
		 * trigger ("can't connect to inverter"): the thing is there,
		 * and reported on. So is the subject a negation in verb-second
		 * order stands before ("Nå svarer ikke batteriet"). */
		if (s->tflags[i] & TF_NEG)
			return !((i > 0 && (s->tflags[i - 1] & TF_ACT)) ||
				 (i > 1 && (s->tflags[i - 2] & TF_ACT) &&
				  t->v[i - 1].kind == TOK_WORD && t->v[i - 1].nchars <= ADVERB_MAX) ||
				 inverted(t, s, (uint32_t)i) ||
				 not_yet(t, s, tr, (uint32_t)i, listed));
		words++;
	}
	return post_negation(t, s, tr) != NULL;
}

/* Whether token i joins list items: a comma, a list word ("or", "und"),
 * or punctuation that ends no clause ("solar/battery"). */
static bool joins(const struct tok_buf *t, const struct intent_scratch *s, uint32_t i)
{
	if (s->tflags[i] & TF_LIST)
		return true;
	return punct(t, i) && (punct(t, i) == ',' || !is_clause_break(t, s, i));
}

/* True when trigger a is the item before b in a list: nothing but joints
 * (commas, list words, a '/') and articles between them. *word says
 * whether a list word or a '/' was among them, which a comma alone is
 * not: "Wir haben eine Solaranlage, einen Speicher haben wir nicht". */
static bool listed_before(const struct tok_buf *t, const struct intent_scratch *s,
			  const struct intent_trigger *a, const struct intent_trigger *b,
			  bool *word)
{
	*word = false;
	for (uint32_t i = (uint32_t)a->tok_last + 1; i < b->tok_first; i++) {
		if (s->tflags[i] & TF_ARTICLE)
			continue;
		if (!joins(t, s, i))
			return false;
		*word |= (s->tflags[i] & TF_LIST) || punct(t, i) == '/';
	}
	return true;
}

/* Whether a clause ends at token i: the message's end, a clause break or
 * a list word. */
static bool clause_ends(const struct tok_buf *t, const struct intent_scratch *s, uint32_t i)
{
	return i >= t->n || is_clause_break(t, s, i) || (s->tflags[i] & TF_LIST);
}

/* True when trigger b follows a negated trigger a closely in the same
 * clause as the next item of a list: adjacent, or right after a comma, a
 * list word ("or", "und") or a '/', or after an "or", an indefinite
 * article and at most one more word when the item ends there ("we don't
 * have solar panels or a home battery."). Any other word between that and b starts something
 * else: "no solar panels, a Powerwall instead", "keine Solaranlage, und der
 * Speicher ist kaputt", "no solar, and a battery is broken", "one of the
 * batteries" (the list words of every language apply). When unsure, it is
 * no list: a needless escalation costs less than a missed one. */
static bool listed_after(const struct tok_buf *t, const struct intent_scratch *s,
			 const struct intent_trigger *a, const struct intent_trigger *b)
{
	if (!a->negated || b->tok_first <= a->tok_last ||
	    b->tok_first > a->tok_last + 1u + LIST_WINDOW)
		return false;
	uint32_t j = b->tok_first - 1u, last = a->tok_last, words = 0;
	/* After a list word that means "or", an indefinite article and at
	 * most one word of the item: "or a battery", "oder einen neuen
	 * Speicher". After "and" the thing is had: "no solar panels and a
	 * Powerwall" escalates. */
	bool article = false;
	for (uint32_t x = j; !article && x > last + 1 && x + 2 >= b->tok_first; x--) {
		article = (s->tflags[x] & TF_ARTICLE) && (s->tflags[x - 1] & TF_OR) &&
			  (x == j || t->v[j].kind == TOK_WORD);
		if (article)
			j = x - 1;
	}
	/* A comma may separate list items, and so may a list word that is a
	 * break too (Dutch "of": or, whether) right before b; any other
	 * clause break ends the list. Before the separator stands at most one
	 * word, the rest of the first item ("solar panels, batteries"): more
	 * start a clause of their own ("no solar at all, battery is broken"). */
	for (uint32_t i = last + 1; i < j + 1; i++) {
		if (is_clause_break(t, s, i) && !(i == j && (s->tflags[i] & TF_LIST)) &&
		    punct(t, i) != ',')
			return false;
		words += i < j && t->v[i].kind != TOK_PUNCT;
	}
	/* After a bare comma, or an article, an item the clause goes on from
	 * is a sentence of its own: "no PV, battery yes", "ikke solceller nå,
	 * batteriet er ødelagt", "no solar, and a battery is broken". A list
	 * goes on with a comma or a list word, or ends, also after a second
	 * word of the item ("battery storage or heat pump") or a closing list
	 * word ("battery etc."). After "or" and an article it also ends where
	 * an end word starts a phrase of place or time: "no solar panels or a
	 * battery at the new house". */
	if ((article || !(s->tflags[j] & TF_LIST)) && goes_on(t, s, b, article))
		return false;
	return j == last || (words <= 1 && joins(t, s, j));
}

/* True when the trigger is part of a street's name in the address found,
 * [place_first, place_last]: a compound ("Solarstraße 7") or a word the
 * name goes on from ("Solar Street 4"). One a number follows is no name:
 * "Modbus 247" after "slave address:" is a Modbus address. */
static bool named_place(const struct tok_buf *t, const struct intent_scratch *s,
			const struct intent_trigger *tr, uint32_t place_first, uint32_t place_last)
{
	if (tr->tok_first < place_first || tr->tok_last > place_last)
		return false;
	return (s->tflags[tr->tok_last] & TF_PART) ||
	       (tr->tok_last < place_last && t->v[tr->tok_last + 1].kind == TOK_WORD);
}

/* True when token i starts a clause: the message's first, or after
 * punctuation, a line break, or a word that joins or breaks ("and",
 * "but"). */
static bool clause_start(const struct tok_buf *t, const struct intent_scratch *s, uint32_t i)
{
	return i == 0 || (t->v[i].flags & TOK_F_LINE) || t->v[i - 1].kind == TOK_PUNCT ||
	       (s->tflags[i - 1] & (TF_LIST | TF_BREAK));
}

/* True when the trigger is what an [owners] thing has: "my electric car
 * has a 75 kWh battery", "Elbilen har et stort batteri". The owner is the
 * clause's subject: it starts the clause, after a definite word or
 * possessive at most ("Das E-Auto hat ..."), and ends right before the
 * have word. Between that and the trigger stand at most OWNED_GAP words
 * (an article, a size, an adjective) on one line, none of them a
 * definite word or possessive, nothing that ends a clause, joins a list
 * or negates. So "Sedan vi fick elbilen har batteriet varit tomt", "Für
 * das E-Auto haben wir einen Batteriespeicher gekauft" and "the car has
 * emptied the battery" keep their battery: when unsure, escalate. */
static bool owned(const struct tok_buf *t, const struct intent_scratch *s,
		  const struct intent_trigger *tr)
{
	uint32_t i = tr->tok_first;
	for (int gap = 0; i > 0 && gap <= OWNED_GAP;) {
		if (t->v[i].flags & TOK_F_LINE)
			return false;
		i--;
		if (s->tflags[i] & TF_HAVE) {
			if (i == 0 || !(s->tflags[i - 1] & TF_OWNER))
				return false;
			/* The owner phrase's first word. */
			uint32_t o = i - 1;
			while (o > 0 && (s->tflags[o - 1] & TF_OWNER_IN))
				o--;
			return clause_start(t, s, o) ||
			       ((s->tflags[o - 1] & TF_DEFINITE) && clause_start(t, s, o - 1));
		}
		/* A hyphen inside a compound joins it: "eine 77-kWh-Batterie". */
		if (punct(t, i) == '-' && !(t->v[i].flags & TOK_F_SPACE))
			continue;
		if (t->v[i].kind == TOK_PUNCT ||
		    (s->tflags[i] & (TF_LIST | TF_BREAK | TF_NEG | TF_DEFINITE)))
			return false;
		gap++;
	}
	return false;
}

/* Sets [*first, *last] to the tokens that start within len bytes at off;
 * leaves them as they are (an empty range) when none does. */
static void span_tokens(const struct tok_buf *toks, size_t off, size_t len, uint32_t *first,
			uint32_t *last)
{
	if (!len)
		return;
	uint32_t i = 0, j;
	while (i < toks->n && toks->v[i].off < off)
		i++;
	for (j = i; j < toks->n && toks->v[j].off < off + len; j++)
		;
	if (j > i) {
		*first = i;
		*last = j - 1;
	}
}

static void lang_from_chars(const struct intent_pack *p, const char *text,
			    size_t len, const struct intent_opts *opts, struct acc *acc)
{
	for (size_t i = 0; i < len;) {
		/* Most messages are mostly ASCII, which no hint is: skip it
		 * eight bytes at a time. */
		if (len - i >= 8) {
			uint64_t w8;
			memcpy(&w8, text + i, 8);
			if (!(w8 & 0x8080808080808080ull)) {
				i += 8;
				continue;
			}
		}
		if ((unsigned char)text[i] < 0x80) {
			i++;
			continue;
		}
		bool named = i >= opts->names_off && i - opts->names_off < opts->names_len;
		if (named && !acc->names_fallback) {
			i = opts->names_off + opts->names_len;
			continue;
		}
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + i,
						      (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0)
			return;
		for (uint8_t k = 0; k < p->nchints; k++)
			if (p->chints[k].cp == cp)
				(named ? acc->names_lang : acc->lang)[p->chints[k].lang] += 1.0;
		i += (size_t)n;
	}
}

/* Whether word w[0..n) is stem pattern pat (" stem") with a letter dropped
 * or two neighbours swapped: the slips of a hand typing it. A letter
 * changed or added makes another word as often ("inverted" for inverter*,
 * "powerball" for powerwall*). */
static bool slipped(const struct intent_pack *p, uint32_t pat, const char *w, size_t n)
{
	const char *stem = match_pat(p->m, pat) + 1;
	size_t sn = match_pat_len(p->m, pat) - 1;
	if (n + 1 == sn) {
		size_t i = 0;
		while (i < n && w[i] == stem[i])
			i++;
		return memcmp(w + i, stem + i + 1, n - i) == 0;
	}
	return n == sn && match_swapped(stem, w, n);
}

/* Whether the typo lookup's word w[0..n), found near entry en's term,
 * counts as that term misspelt (enum typo). */
static bool typo_counts(const struct intent_pack *p, const struct entry *en, const char *w,
			size_t n)
{
	if (en->typo == TYPO_SWAP) {
		/* The pattern is " word " or " stem": its word without them. */
		size_t kn = match_pat_len(p->m, en->pat) - (en->mode == M_PREFIX ? 1 : 2);
		return kn == n && match_swapped(match_pat(p->m, en->pat) + 1, w, n);
	}
	return en->typo == TYPO_EDIT && (en->mode != M_PREFIX || slipped(p, en->pat, w, n));
}

int intent_analyze(const struct intent_pack *p, const struct tok_buf *toks,
		   const char *text, size_t len, uint8_t slots, int lang_hint,
		   int lang_fallback, const struct intent_opts *opts,
		   struct intent_scratch *s, struct intent_result *out)
{
	struct acc acc = { 0 };
	memset(out, 0, sizeof(*out));
	s->nnots = s->nposts = s->nyets = s->nagainsts = 0;
	if (++s->gen == 0) {
		memset(s->stamp, 0, (p->nentries + 1) * sizeof(uint32_t));
		s->gen = 1;
	}
	if (toks->n > s->max_tokens || toks->nlen + 3 > s->padded_cap)
		return -1;
	uint32_t ntok = toks->n;
	memset(s->tflags, 0, ntok * sizeof(*s->tflags));
	acc.tflags = s->tflags;
	for (uint32_t i = 1; i < ntok; i++)
		if (postcode_letters(toks, text, i))
			s->tflags[i] |= TF_POSTCODE;
	acc.names_first = 1;
	acc.names_last = 0;
	uint32_t place_first = 1, place_last = 0;
	if (opts) {
		acc.names_fallback = opts->names_fallback;
		span_tokens(toks, opts->names_off, opts->names_len, &acc.names_first,
			    &acc.names_last);
		span_tokens(toks, opts->place_off, opts->place_len, &place_first, &place_last);
	}

	s->padded[0] = ' ';
	memcpy(s->padded + 1, toks->norm, toks->nlen);
	s->padded[toks->nlen + 1] = ' ';
	size_t nraw = match_scan(p->m, s->padded, toks->nlen + 2, s->raw, MAX_RAW_HITS);
	if (nraw > MAX_RAW_HITS)
		nraw = MAX_RAW_HITS;
	/* Hits come in the order of their end, so the token of the end only
	 * moves forward, and a hit's first token is a step or two back. */
	uint32_t cur = 0;
	for (size_t h = 0; h < nraw; h++) {
		const struct match_hit *mh = &s->raw[h];
		uint32_t k0 = p->pat_first[mh->pat], k1 = p->pat_first[mh->pat + 1];
		if (k0 == k1)
			continue;
		/* Back to norm offsets: drop the boundary spaces and the pad. */
		uint8_t mode = p->entries[k0].mode;
		uint32_t start = mh->start + (mode & M_SUFFIX ? 0 : 1) - 1;
		uint32_t end = mh->end - (mode & M_PREFIX ? 0 : 1) - 1;
		while (cur + 1 < ntok && toks->v[cur + 1].noff <= end - 1)
			cur++;
		uint32_t first = cur, last = cur;
		while (first > 0 && toks->v[first].noff > start)
			first--;
		/* A stem that leaves a word's last letters unmatched says little
		 * of which word it is: "paymet" under pay*, "betalnigssätt" under
		 * betal* are still looked up as a misspelt "payment",
		 * "betalningssätt". */
		bool covers = !((mode & (M_PREFIX | M_SUFFIX)) && first == last &&
				toks->v[first].nlen >= end - start + PART_SLACK);
		for (uint32_t k = k0; k < k1; k++) {
			if (!covers && p->entries[k].kind == K_TRIGGER)
				s->tflags[first] |= TF_PART;
			take(p, s, out, &acc, k, first, last, false, covers);
		}
	}

	/* One typo is allowed in longer words nothing else matched but a
	 * stem well short of them. Which tokens those are is a coin toss to
	 * the branch predictor, so they are listed first, without a branch
	 * (a lookup covers only its own token: the list stays right). */
	uint32_t nwords = 0;
	for (uint32_t i = 0; i < ntok; i++) {
		const struct tok *t = &toks->v[i];
		s->typo_words[nwords] = i;
		nwords += (t->kind == TOK_WORD) & (t->nchars >= TYPO_MIN_CHARS) &
			  !(s->tflags[i] & TF_COVERED);
	}
	for (uint32_t w = 0; w < nwords; w++) {
		const uint32_t i = s->typo_words[w];
		const struct tok *t = &toks->v[i];
		uint32_t ids[8];
		size_t n = match_typo_find(p->m, tok_norm(toks, i), t->nlen, ids, 8);
		/* A misspelt word is one word: of the keywords it may stand for,
		 * only the weightiest counts, so near-homographs in several
		 * languages do not add up. Every trigger it may stand for
		 * counts: when unsure, escalate. */
		uint32_t best = UINT32_MAX;
		for (size_t k = 0; k < n; k++)
			for (uint32_t e = p->pat_first[ids[k]]; e < p->pat_first[ids[k] + 1]; e++) {
				if (!typo_counts(p, &p->entries[e], tok_norm(toks, i), t->nlen))
					continue;
				if (p->entries[e].kind == K_INTENT) {
					if (best == UINT32_MAX ||
					    p->entries[e].weight > p->entries[best].weight)
						best = e;
				} else {
					take(p, s, out, &acc, e, i, i, true, true);
				}
			}
		if (best != UINT32_MAX)
			take(p, s, out, &acc, best, i, i, true, true);
	}
	out->hits = s->hits;

	/* Triggers come in text order (hits end in order, typo hits last):
	 * sort them so a negation can carry along a list ("no solar or
	 * batteries"). */
	for (uint32_t k = 1; k < out->ntriggers; k++)
		for (uint32_t j = k; j > 0 && out->triggers[j - 1].tok_first > out->triggers[j].tok_first; j--) {
			struct intent_trigger tmp = out->triggers[j];
			out->triggers[j] = out->triggers[j - 1];
			out->triggers[j - 1] = tmp;
		}
	for (uint32_t k = 0; k < out->ntriggers; k++) {
		struct intent_trigger *tr = &out->triggers[k];
		for (uint32_t n = 0; n < s->nnots; n++)
			if (s->nots[n].first <= tr->tok_first && s->nots[n].last >= tr->tok_last)
				tr->excluded = INTENT_EXCL_LOOKALIKE;
		if (!tr->excluded && named_place(toks, s, tr, place_first, place_last))
			tr->excluded = INTENT_EXCL_PLACE;
		else if (!tr->excluded && owned(toks, s, tr))
			tr->excluded = INTENT_EXCL_OWNED;
		tr->negated = negated(toks, s, tr) ||
			      (k > 0 && listed_after(toks, s, &out->triggers[k - 1], tr));
	}
	/* A post-negation that ends its clause reaches back over the list
	 * it ends, when a list word joins its last item: "Solaranlage,
	 * Speicher oder Modbus haben wir nicht", not "Wir haben eine
	 * Solaranlage, einen Speicher haben wir nicht", nor "Solar oder
	 * Speicher haben wir nicht mehr so hohe Kosten?". A trigger sharing
	 * b's words, or right before them, is the same item: "solar panels
	 * we don't have" ("solar", "panels"). */
	bool carried = false, joined = false;
	for (uint32_t k = out->ntriggers; k-- > 1;) {
		struct intent_trigger *a = &out->triggers[k - 1], *b = &out->triggers[k];
		if (!carried) {
			const struct span *post = post_negation(toks, s, b);
			carried = b->negated && post && clause_ends(toks, s, post->last + 1u);
			joined = false;
		}
		bool word = false;
		if (carried && a->tok_last + 1u < b->tok_first)
			carried = listed_before(toks, s, a, b, &word) && (joined || word);
		joined |= word;
		if (carried)
			a->negated = true;
	}
	for (uint32_t k = 0; k < out->ntriggers; k++)
		if (!out->triggers[k].excluded && !out->triggers[k].negated)
			out->topics |= 1u << out->triggers[k].topic;

	if (lang_hint >= 0 && lang_hint < p->nlangs) {
		out->lang = lang_hint;
	} else {
		lang_from_chars(p, text, len, opts, &acc);
		/* The names count only where the other words decide nothing
		 * on their own (a marker's weight, no tie): "Ny adress:
		 * Tegnérgatan 15" is Swedish by its words, not Dutch by its é,
		 * while the one shared word of "Adresse: Hauptstraße 5, 10115
		 * Berlin" leaves it German. */
		double top = 0;
		int at_top = 0;
		for (int l = 0; l < p->nlangs; l++)
			if (acc.lang[l] > top)
				top = acc.lang[l];
		for (int l = 0; l < p->nlangs; l++)
			at_top += acc.lang[l] == top;
		if (top < 1.0 || at_top > 1)
			for (int l = 0; l < p->nlangs; l++)
				acc.lang[l] += acc.names_lang[l];
		int best = -1;
		double bs = 0;
		for (int l = 0; l < p->nlangs; l++)
			if (acc.lang[l] > bs) {
				bs = acc.lang[l];
				best = l;
			}
		/* A tie or a single weak hint is not evidence enough to switch
		 * away from the conversation's language; with none yet (lang_open)
		 * the hint is better than the default. A tie between others
		 * ("vi har inga solpaneler": Norwegian or Swedish) is answered
		 * in the first of them, nearer than the fallback, but switches
		 * nothing either. */
		bool tie = false, fallback_tied = false;
		for (int l = 0; l < p->nlangs; l++) {
			tie |= l != best && best >= 0 && acc.lang[l] == bs;
			fallback_tied |= l == lang_fallback && acc.lang[l] == bs;
		}
		if (best >= 0 && (bs >= 1.0 || (opts && opts->lang_open)) && !(tie && fallback_tied)) {
			out->lang = best;
			out->lang_detected = !tie || lang_fallback < 0;
		} else {
			out->lang = lang_fallback >= 0 && lang_fallback < p->nlangs
				? lang_fallback : 0;
		}
	}

	yielding_sentences(p, toks, s, out, opts->ticket_open);
	compound_againsts(toks, text, s, out);
	take_back_againsts(p, s, out, &acc);
	out->closing = closes(toks, s, &acc);
	out->thanked = out->closing && acc.thanked;
	out->nintents = p->nintents;
	for (int i = 0; i < p->nintents; i++) {
		for (int b = 0; b < 3; b++)
			if (slots & (1u << b))
				acc.raw[i] += p->rules[i].evidence[b];
		/* Taking a typo's weight back may leave a rounding error below
		 * zero: no evidence, not less than none. */
		out->score[i] = acc.raw[i] > 0 ? 1.0 - exp(-acc.raw[i]) : 0.0;
		/* Insertion sort: four intents, best first, ties in rules order. */
		int j = i;
		while (j > 0 && out->score[out->rank[j - 1]] < out->score[i]) {
			out->rank[j] = out->rank[j - 1];
			j--;
		}
		out->rank[j] = (uint8_t)i;
	}
	while (out->ndetected < out->nintents &&
	       out->score[out->rank[out->ndetected]] >= opts->threshold)
		out->ndetected++;
	if (out->ndetected == 0 && out->nintents >= 2) {
		double floor = opts->threshold - opts->margin;
		out->ambiguous = out->score[out->rank[0]] >= floor &&
				 out->score[out->rank[1]] >= floor;
	}
	return 0;
}
