/* engine: decide → do → say. See include/engine.h. */
#include "engine.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const outcome_names[ENGINE_OUT_COUNT] = {
	"answer", "ask", "confirmed", "mismatch", "not_found", "bad_meter",
	"unavailable", "elsewhere", "several",
};

/* The placeholders each outcome may use; a template using another one is
 * refused at load, since the engine would have no value for it. */
static const uint32_t outcome_vars[ENGINE_OUT_COUNT] = {
	[ENGINE_OUT_ANSWER] = 0, /* each intent's own: given_vars() */
	[ENGINE_OUT_ASK] = 0,    /* each ask key's own: given_vars() */
	[ENGINE_OUT_CONFIRMED] = 1u << TMPL_DATE | 1u << TMPL_ADDRESS | 1u << TMPL_METER,
	[ENGINE_OUT_MISMATCH] = 1u << TMPL_DATE | 1u << TMPL_REGISTRY_DATE |
				1u << TMPL_ADDRESS | 1u << TMPL_METER,
	[ENGINE_OUT_NOT_FOUND] = 1u << TMPL_DATE | 1u << TMPL_LOOKUP |
				 1u << TMPL_ADDRESS | 1u << TMPL_METER,
	[ENGINE_OUT_BAD_METER] = 1u << TMPL_METER | 1u << TMPL_DATE | 1u << TMPL_ADDRESS,
	[ENGINE_OUT_UNAVAILABLE] = 1u << TMPL_DATE | 1u << TMPL_ADDRESS | 1u << TMPL_METER,
	[ENGINE_OUT_ELSEWHERE] = 1u << TMPL_DATE | 1u << TMPL_ADDRESS | 1u << TMPL_METER,
	[ENGINE_OUT_SEVERAL] = 1u << TMPL_DATE | 1u << TMPL_ADDRESS,
};

static const char *const slot_names[] = { "date", "meter", "address" };

/* Asks are keyed by the missing facts: at most 2^INTENT_MAX_NEEDS
 * combinations of the groups an intent needs. */
#define ASK_COMBOS (1 << INTENT_MAX_NEEDS)
/* Words beside a date that still make the message an answer to "when do
 * you move?" rather than a sentence about something else: "it was
 * yesterday", "3 March then". */
#define ANSWER_WORDS_MAX 2
/* Sentences after a technical one that go with it to L2 when they are
 * about nothing else: the question, the symptom, the error code. */
#define TECH_FOLLOW_MAX 3
/* Keyword weight in such a sentence that makes it a question of an intent
 * answered, not of the technical one. */
#define OWN_WEIGHT 0.5
/* Words beside a fact in a sentence that is about that fact, not about
 * the technical question before it: "We move on 1 January." */
#define FACT_WORDS_MAX 4
/* Words beside a street that only corrects the house number: "nej
 * vänta, det är Drottninggatan 5", "no wait, it's Storgata 14, not 12B". */
#define CORRECTION_WORDS_MAX 5
/* Digits of a number that may be an error code ("1013", "502"), not a
 * count ("2 kids"). */
#define CODE_DIGITS_MIN 3

enum { ESC_STORED, ESC_PREVIEW, ESC_FAILED, ESC_ADDED, ESC_AGAIN, ESC_COUNT };

struct engine {
	struct engine_opts opts;
	struct intent_pack *pack;
	struct slot_vocab *slots;
	struct tmpl_set *tmpl;
	int default_lang;
	/* Template ids resolved at load, so saying a reply looks nothing up. */
	int16_t out_key[INTENT_MAX][ENGINE_OUT_COUNT];
	int16_t ask_key[INTENT_MAX][ASK_COMBOS];
	int16_t esc_key[ESC_COUNT];
	int16_t topic_key[INTENT_MAX_TOPICS];
	int16_t intent_key[INTENT_MAX];
	int16_t clarify_key, fallback_key, fallback_ticket_key, closing_key, bye_key, and_key, or_key;
};

struct engine_scratch {
	struct tok_buf toks;
	struct intent_scratch *is;
};

void engine_opts_default(struct engine_opts *opts)
{
	opts->max_bytes = 4096;
	opts->threshold = 0.5;
	opts->margin = 0.15;
	opts->default_lang = "en";
}

const char *engine_outcome_name(enum engine_outcome o)
{
	return o < ENGINE_OUT_COUNT ? outcome_names[o] : "?";
}

/* Resolves a template key that must exist, checking its placeholders. */
static int need_key(struct engine *e, const char *key, uint32_t allowed,
		    int16_t *id, char *err, size_t errlen)
{
	int k = tmpl_find(e->tmpl, key);
	if (k < 0) {
		snprintf(err, errlen, "templates: key [%s] is missing from every language's file", key);
		return -1;
	}
	uint32_t extra = tmpl_vars_used(e->tmpl, k) & ~allowed;
	if (extra) {
		/* Name the first one it has no value for, and those it has. */
		int bad = __builtin_ctz(extra);
		int n = snprintf(err, errlen,
				 "templates: [%s] uses [%s], which it has no value for; it may use ",
				 key, tmpl_var_name((enum tmpl_var)bad));
		for (int v = 0, first = 1; v < TMPL_NVARS && n > 0 && (size_t)n < errlen; v++)
			if (allowed & (1u << v)) {
				n += snprintf(err + n, errlen - (size_t)n, "%s[%s]", first ? "" : ", ",
					      tmpl_var_name((enum tmpl_var)v));
				first = 0;
			}
		if (!allowed && n > 0 && (size_t)n < errlen)
			snprintf(err + n, errlen - (size_t)n, "none");
		return -1;
	}
	*id = (int16_t)k;
	return 0;
}

/* The ask key for the missing groups of rule r: "ask_" and the first slot
 * name of each missing group, joined by '_'. */
static void ask_key_name(const char *intent, const struct intent_rule *r,
			 unsigned combo, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s.ask", intent);
	for (unsigned g = 0; g < r->nneeds; g++) {
		if (!(combo & (1u << g)))
			continue;
		for (int b = 0; b < 3; b++)
			if (r->needs[g] & (1u << b)) {
				n += snprintf(out + n, cap - (size_t)n, "_%s", slot_names[b]);
				break;
			}
	}
}

/* The placeholders a reply of rule r has a value for while the groups of
 * combo are missing (none for its answer): the fact of each group met,
 * where that group is one fact. "[Address]" in address_update.ask_meter
 * is the address given; in ask_address_meter there is none, and in
 * contract_start_date's ask_date the group "meter|address" may have been
 * met by either. */
static uint32_t given_vars(const struct intent_rule *r, unsigned combo)
{
	uint32_t v = 0;
	for (unsigned g = 0; g < r->nneeds; g++) {
		if (combo & (1u << g))
			continue;
		v |= r->needs[g] == INTENT_SLOT_DATE	   ? 1u << TMPL_DATE
		     : r->needs[g] == INTENT_SLOT_METER	   ? 1u << TMPL_METER
		     : r->needs[g] == INTENT_SLOT_ADDRESS ? 1u << TMPL_ADDRESS
							   : 0;
	}
	return v;
}

static int resolve_keys(struct engine *e, char *err, size_t errlen)
{
	char key[128];
	memset(e->out_key, -1, sizeof(e->out_key));
	memset(e->ask_key, -1, sizeof(e->ask_key));
	for (size_t i = 0; i < intent_count(e->pack); i++) {
		const char *name = intent_name(e->pack, i);
		const struct intent_rule *r = intent_rule(e->pack, i);
		if (r->check == INTENT_CHECK_NONE) {
			snprintf(key, sizeof(key), "%s.answer", name);
			if (need_key(e, key, given_vars(r, 0), &e->out_key[i][ENGINE_OUT_ANSWER],
				     err, errlen) < 0)
				return -1;
		} else {
			for (int o = ENGINE_OUT_CONFIRMED; o < ENGINE_OUT_COUNT; o++) {
				/* An address check says "elsewhere" as its mismatch,
				 * and looks up by meter ID only. */
				if ((o == ENGINE_OUT_ELSEWHERE || o == ENGINE_OUT_SEVERAL) &&
				    r->check != INTENT_CHECK_SUPPLY_START)
					continue;
				snprintf(key, sizeof(key), "%s.%s", name, outcome_names[o]);
				if (need_key(e, key, outcome_vars[o], &e->out_key[i][o],
					     err, errlen) < 0)
					return -1;
			}
		}
		for (unsigned combo = 1; combo < (1u << r->nneeds); combo++) {
			ask_key_name(name, r, combo, key, sizeof(key));
			if (need_key(e, key, given_vars(r, combo), &e->ask_key[i][combo], err,
				     errlen) < 0)
				return -1;
		}
		snprintf(key, sizeof(key), "intent.%s", name);
		if (need_key(e, key, 0, &e->intent_key[i], err, errlen) < 0)
			return -1;
	}
	for (size_t t = 0; t < intent_topic_count(e->pack); t++) {
		snprintf(key, sizeof(key), "topic.%s", intent_topic_name(e->pack, t));
		if (need_key(e, key, 0, &e->topic_key[t], err, errlen) < 0)
			return -1;
	}
	const uint32_t esc = 1u << TMPL_TOPICS | 1u << TMPL_TICKET;
	if (need_key(e, "escalation.stored", esc, &e->esc_key[ESC_STORED], err, errlen) < 0 ||
	    need_key(e, "escalation.preview", esc, &e->esc_key[ESC_PREVIEW], err, errlen) < 0 ||
	    need_key(e, "escalation.failed", esc, &e->esc_key[ESC_FAILED], err, errlen) < 0 ||
	    need_key(e, "escalation.added", esc, &e->esc_key[ESC_ADDED], err, errlen) < 0 ||
	    need_key(e, "escalation.again", esc, &e->esc_key[ESC_AGAIN], err, errlen) < 0 ||
	    need_key(e, "clarify", 1u << TMPL_INTENTS, &e->clarify_key, err, errlen) < 0 ||
	    need_key(e, "fallback", 0, &e->fallback_key, err, errlen) < 0 ||
	    need_key(e, "fallback.ticket", esc, &e->fallback_ticket_key, err, errlen) < 0 ||
	    need_key(e, "closing", 0, &e->closing_key, err, errlen) < 0 ||
	    need_key(e, "closing.bye", 0, &e->bye_key, err, errlen) < 0 ||
	    need_key(e, "join.and", 0, &e->and_key, err, errlen) < 0 ||
	    need_key(e, "join.or", 0, &e->or_key, err, errlen) < 0)
		return -1;
	return 0;
}

struct engine *engine_load(const char *intents_dir, const char *templates_dir,
			   const struct engine_opts *opts, char *err, size_t errlen)
{
	const char *codes[INTENT_MAX_LANGS];
	struct engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (opts)
		e->opts = *opts;
	else
		engine_opts_default(&e->opts);
	if (!(e->slots = slot_vocab_new())) {
		snprintf(err, errlen, "out of memory");
		goto free_engine;
	}
	if (!(e->pack = intent_pack_load(intents_dir, e->slots, err, errlen)))
		goto free_engine;
	size_t nl = intent_lang_count(e->pack);
	for (size_t i = 0; i < nl; i++)
		codes[i] = intent_lang_code(e->pack, i);
	if (!(e->tmpl = tmpl_load(templates_dir, codes, nl, err, errlen)))
		goto free_engine;
	e->default_lang = intent_lang_find(e->pack, e->opts.default_lang);
	if (e->default_lang < 0) {
		snprintf(err, errlen, "default language %s has no intents file",
			 e->opts.default_lang);
		goto free_engine;
	}
	if (resolve_keys(e, err, errlen) < 0)
		goto free_engine;
	return e;
free_engine:
	engine_free(e);
	return NULL;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	tmpl_free(e->tmpl);
	intent_pack_free(e->pack);
	slot_vocab_free(e->slots);
	free(e);
}

const struct intent_pack *engine_pack(const struct engine *e) { return e->pack; }
const struct slot_vocab *engine_slots(const struct engine *e) { return e->slots; }
const struct engine_opts *engine_options(const struct engine *e) { return &e->opts; }

size_t engine_memory(const struct engine *e)
{
	/* The slot vocabulary is small next to the matcher and not
	 * reported by its module; it is left out rather than guessed. */
	return sizeof(*e) + intent_pack_memory(e->pack) + tmpl_memory(e->tmpl);
}

struct engine_scratch *engine_scratch_new(const struct engine *e)
{
	struct engine_scratch *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (tok_buf_init(&s->toks, e->opts.max_bytes) < 0 ||
	    !(s->is = intent_scratch_new(e->pack, e->opts.max_bytes))) {
		engine_scratch_free(s);
		return NULL;
	}
	return s;
}

void engine_scratch_free(struct engine_scratch *s)
{
	if (!s)
		return;
	tok_buf_free(&s->toks);
	intent_scratch_free(s->is);
	free(s);
}

const struct tok_buf *engine_scratch_tokens(const struct engine_scratch *s)
{
	return &s->toks;
}

void engine_session_init(struct engine_session *s, int lang)
{
	memset(s, 0, sizeof(*s));
	s->lang = (int8_t)lang;
	s->lang_fixed = lang >= 0;
}

void engine_session_set_lang(struct engine_session *s, int lang)
{
	if (lang >= 0) {
		s->lang = (int8_t)lang;
		s->lang_fixed = true;
	}
}

/* The stored form: the magic, the session's size and its language's
 * code, the session's bytes, then the intents its pending and answered
 * bits name and the topics its ticket's bits name: for each, a count, and
 * for each its bit and its name, NUL-ended. The language, the intents and
 * the topics are found again by name, so an engine loaded from other
 * files reads them right. A conversation without a ticket is stored in
 * the form before tickets ("AAS2"): the session up to its ticket, rounded
 * up to its alignment then (where the ticket starts, empty), and no
 * topics. */
#define SESSION_MAGIC ENGINE_SESSION_TAG
#define SESSION_MAGIC_V2 ENGINE_SESSION_TAG_BEFORE_TICKET
#define SESSION_V2_SIZE ((offsetof(struct engine_session, ticket) + 3) & ~(size_t)3)
#define SESSION_LANG 8
_Static_assert(SESSION_V2_SIZE == 1928, "the session as stored before its ticket");
_Static_assert(ENGINE_SESSION_HEAD == 8 + SESSION_LANG, "the stored head's size");

/* Calls fn on each text array of the session, with its size. */
static void each_text(struct engine_session *s, void (*fn)(char *str, size_t cap))
{
	struct engine_facts *f = &s->facts;
	fn(f->meter.id, sizeof(f->meter.id));
	fn(f->address.text, sizeof(f->address.text));
	fn(f->address.street, sizeof(f->address.street));
	fn(f->address.postcode, sizeof(f->address.postcode));
	fn(f->address.city, sizeof(f->address.city));
	for (int i = 0; i < ENGINE_TURNS; i++)
		fn(s->turns[i].text, sizeof(s->turns[i].text));
	fn(s->ticket, sizeof(s->ticket));
}

/* Zeroes what follows the end of a string in its array, so that nothing
 * older than it is stored (the turns are overwritten in place). */
static void scrub(char *str, size_t cap)
{
	size_t n = strnlen(str, cap);
	if (n < cap)
		memset(str + n, 0, cap - n);
}

/* Ends a string in its array, whatever the stored bytes held. */
static void terminate(char *str, size_t cap)
{
	str[cap - 1] = '\0';
}

/* Writes at out + o the names of the bits set of n (at most 32), each
 * named by name(pack, i): a count, then each bit and its name, NUL-ended.
 * Returns the offset after them. */
static size_t put_names(unsigned char *out, size_t o, uint32_t bits, size_t n,
			const struct intent_pack *pack,
			const char *(*name)(const struct intent_pack *, size_t))
{
	size_t count_at = o++;
	out[count_at] = 0;
	for (size_t i = 0; i < n && i < 32; i++) {
		if (!(bits & (1u << i)))
			continue;
		const char *nm = name(pack, i);
		size_t len = strlen(nm) + 1;
		out[o++] = (unsigned char)i;
		memcpy(out + o, nm, len);
		o += len;
		out[count_at]++;
	}
	return o;
}

size_t engine_session_pack(const struct engine *e, const struct engine_session *s,
			   unsigned char *out)
{
	/* A conversation without a ticket is stored as builds before tickets
	 * stored it, so that in a rolling deploy those still read it. */
	bool v2 = !s->ticket[0];
	uint32_t size = (uint32_t)(v2 ? SESSION_V2_SIZE : sizeof(*s));
	char lang[SESSION_LANG] = { 0 };
	if (s->lang >= 0)
		snprintf(lang, sizeof(lang), "%s", intent_lang_code(e->pack, (size_t)s->lang));
	/* memcpy, not assignment: the padding, zero in the original, must
	 * not become whatever the stack held. */
	struct engine_session c;
	memcpy(&c, s, sizeof(c));
	each_text(&c, scrub);
	memcpy(out, v2 ? SESSION_MAGIC_V2 : SESSION_MAGIC, 4);
	memcpy(out + 4, &size, 4);
	memcpy(out + 8, lang, SESSION_LANG);
	memcpy(out + ENGINE_SESSION_HEAD, &c, size);
	size_t o = ENGINE_SESSION_HEAD + size;
	o = put_names(out, o, s->pending | s->answered, intent_count(e->pack), e->pack,
		      intent_name);
	if (!v2)
		o = put_names(out, o, s->ticket_topics, intent_topic_count(e->pack), e->pack,
			      intent_topic_name);
	return o;
}

/* True when the byte of b is 0 or 1: only then may it be read as a bool. */
static bool bool_byte(const bool *b)
{
	unsigned char c;
	memcpy(&c, b, 1);
	return c <= 1;
}

/* True when s, read from storage (Redis: not trusted), holds only what
 * a server could have written: flags of 0 or 1, a meter kind and a date
 * there are, texts of UTF-8. Anything else is not a session, rather than
 * a reply with invalid UTF-8 (which a browser closes the connection for)
 * or a flag no code path expects. Texts must be terminated already. */
static bool plausible(const struct engine_session *s)
{
	const struct engine_facts *f = &s->facts;
	if (!bool_byte(&s->lang_fixed) || !bool_byte(&f->has_date) || !bool_byte(&f->has_meter) ||
	    !bool_byte(&f->has_address) || !bool_byte(&f->address_inconclusive) ||
	    !bool_byte(&f->meter.valid) ||
	    f->meter.kind > SLOT_METER_DE_MALO)
		return false;
	if (f->has_date && !slot_date_valid(f->date))
		return false;
	const char *texts[] = { f->meter.id, f->address.text, f->address.street,
				f->address.postcode, f->address.city, s->ticket };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (!tok_utf8_valid(texts[i], strlen(texts[i])))
			return false;
	for (int i = 0; i < ENGINE_TURNS; i++)
		if (!bool_byte(&s->turns[i].customer) ||
		    !tok_utf8_valid(s->turns[i].text, strlen(s->turns[i].text)))
			return false;
	return true;
}

/* Reads at in + *o what put_names wrote, moving *o past it: each bit set
 * in had[k] (for k < n) is set in now[k] at the index find(pack, its
 * name) gives, and dropped where that is -1. Returns false when the bytes
 * are cut short. */
static bool get_names(const unsigned char *in, size_t len, size_t *o,
		      const struct intent_pack *pack,
		      int (*find)(const struct intent_pack *, const char *),
		      const uint32_t *had, uint32_t *now, size_t n)
{
	if (*o >= len)
		return false;
	unsigned count = in[(*o)++];
	for (unsigned k = 0; k < count; k++) {
		const unsigned char *end;
		if (*o + 1 >= len || !(end = memchr(in + *o + 1, '\0', len - *o - 1)))
			return false;
		unsigned bit = in[*o];
		int j = bit < 32 ? find(pack, (const char *)in + *o + 1) : -1;
		for (size_t m = 0; m < n; m++)
			if (j >= 0 && had[m] & (1u << bit))
				now[m] |= 1u << j;
		*o = (size_t)(end - in) + 1;
	}
	return true;
}

bool engine_session_unpack(const struct engine *e, const unsigned char *in, size_t len,
			   struct engine_session *s)
{
	bool v2 = len >= 8 && memcmp(in, SESSION_MAGIC_V2, 4) == 0;
	uint32_t size = (uint32_t)(v2 ? SESSION_V2_SIZE : sizeof(*s));
	char lang[SESSION_LANG + 1] = { 0 };
	size_t o = ENGINE_SESSION_HEAD + size;
	if (len <= o || memcmp(in, v2 ? SESSION_MAGIC_V2 : SESSION_MAGIC, 4) != 0 ||
	    memcmp(in + 4, &size, 4) != 0)
		return false;
	memcpy(lang, in + 8, SESSION_LANG);
	memset(s, 0, sizeof(*s));
	memcpy(s, in + ENGINE_SESSION_HEAD, offsetof(struct engine_session, ticket));
	if (!v2)
		memcpy(s->ticket, in + ENGINE_SESSION_HEAD + offsetof(struct engine_session, ticket),
		       sizeof(*s) - offsetof(struct engine_session, ticket));
	each_text(s, terminate);
	if (!plausible(s))
		return false;
	s->lang = (int8_t)(lang[0] ? intent_lang_find(e->pack, lang) : -1);
	if (s->lang < 0)
		s->lang_fixed = false;
	/* The bits as the intents' and topics' names say, in this engine's
	 * order. */
	uint32_t had[2] = { s->pending, s->answered }, now[2] = { 0, 0 };
	uint32_t topics = 0;
	if (!get_names(in, len, &o, e->pack, intent_find, had, now, 2) ||
	    (!v2 && !get_names(in, len, &o, e->pack, intent_topic_find, &s->ticket_topics,
			       &topics, 1)) ||
	    o != len)
		return false;
	s->pending = now[0];
	s->answered = now[1];
	s->ticket_topics = topics;
	return true;
}

bool engine_session_kin(const unsigned char *a, const unsigned char *b)
{
	bool a_ours = !memcmp(a, SESSION_MAGIC, 4) || !memcmp(a, SESSION_MAGIC_V2, 4);
	bool b_ours = !memcmp(b, SESSION_MAGIC, 4) || !memcmp(b, SESSION_MAGIC_V2, 4);
	return memcmp(a, b, 8) == 0 || (a_ours && b_ours);
}

void engine_session_move(const struct engine *from, const struct engine *to,
			 struct engine_session *s)
{
	unsigned char buf[ENGINE_SESSION_BYTES];
	size_t n = engine_session_pack(from, s, buf);
	/* One that does not read back (none a server writes) would keep the
	 * old files' language index and intent bits: it starts anew. */
	if (!engine_session_unpack(to, buf, n, s))
		engine_session_init(s, -1);
}

const struct engine_turn *engine_session_turn(const struct engine_session *s,
					      uint32_t back)
{
	if (back >= s->nturns || back >= ENGINE_TURNS)
		return NULL;
	return &s->turns[(s->nturns - 1 - back) % ENGINE_TURNS];
}

/* ---- decide ---- */

static uint8_t known_slots(const struct engine_facts *f)
{
	return (f->has_date ? INTENT_SLOT_DATE : 0) |
	       (f->has_meter ? INTENT_SLOT_METER : 0) |
	       (f->has_address ? INTENT_SLOT_ADDRESS : 0);
}

/* The facts rule r may act on: an address the registry found no record
 * at answers no supply-start check again, so the customer is asked for
 * the meter ID or another address rather than told "not found" twice. */
static uint8_t known_for(const struct intent_rule *r, const struct engine_facts *f)
{
	uint8_t k = known_slots(f);
	if (f->address_inconclusive && r->check == INTENT_CHECK_SUPPLY_START)
		k &= (uint8_t)~INTENT_SLOT_ADDRESS;
	return k;
}

/* Which groups of rule r no known fact satisfies, a bit per group. */
static unsigned missing_groups(const struct intent_rule *r, uint8_t known)
{
	unsigned m = 0;
	for (unsigned g = 0; g < r->nneeds; g++)
		if (!(r->needs[g] & known))
			m |= 1u << g;
	return m;
}

/* Whether token i ends a sentence of the plan's message. The dot of a
 * date ("1. mars", "15.04.") ends none, nor one inside a code ("F.13",
 * "4.01.15.R": no space on either side), nor an ordinal's before a word
 * in lower case ("i 2. etasje", "im 3. OG" aside). */
static bool sentence_end(const struct engine_plan *p, const struct tok_buf *t, uint32_t i)
{
	if (t->v[i].kind != TOK_PUNCT)
		return false;
	char c = t->norm[t->v[i].noff];
	if (c == '.' && p->found.has_date && t->v[i].off >= p->found.date_off &&
	    t->v[i].off < p->found.date_off + p->found.date_len)
		return false;
	if (c == '.' && i > 0 && i + 1 < t->n) {
		const struct tok *prev = &t->v[i - 1], *next = &t->v[i + 1];
		if (!(t->v[i].flags & TOK_F_SPACE) && !(next->flags & TOK_F_SPACE))
			return false;
		if (prev->kind == TOK_NUM && prev->nlen <= 2 && !(t->v[i].flags & TOK_F_SPACE) &&
		    next->kind == TOK_WORD && !(next->flags & TOK_F_CAP) && !(next->flags & TOK_F_LINE))
			return false;
	}
	return c == '.' || c == '!' || c == '?';
}

/* A line break between tokens i-1 and i ends a sentence too: chat
 * messages often have no full stops. */
static bool newline_before(const char *text, const struct tok_buf *t, uint32_t i)
{
	if (i == 0)
		return false;
	const struct tok *p = &t->v[i - 1];
	return memchr(text + p->off + p->len, '\n', t->v[i].off - (p->off + p->len)) != NULL;
}

/* The last token of the sentence that token b is in. */
static uint32_t sentence_last(const struct engine_plan *p, const struct tok_buf *t, uint32_t b)
{
	while (b + 1 < t->n && !sentence_end(p, t, b) && !newline_before(p->text, t, b + 1))
		b++;
	return b;
}

static bool date_before(struct slot_date a, struct slot_date b)
{
	return a.y != b.y ? a.y < b.y : a.m != b.m ? a.m < b.m : a.d < b.d;
}

/* Whether the fact at bytes off, len lies in tokens a..b, and they say
 * hardly more than it ("We move 1 Jan.", "Meter ID 7070..."), or, for a
 * date (dated), it is no day gone by: "The keys come on 1 March and we
 * move that weekend" is the move's, "Since we moved in on 1 November it
 * shows State 102" the symptom's. */
static bool fact_sentence(const struct tok_buf *t, uint32_t off, uint32_t len, uint32_t a,
			  uint32_t b, bool dated)
{
	if (!len || off >= t->v[b].off + t->v[b].len || off + len <= t->v[a].off)
		return false;
	unsigned words = 0;
	for (uint32_t i = a; i <= b; i++)
		words += t->v[i].kind == TOK_WORD && (t->v[i].off < off || t->v[i].off >= off + len);
	return words <= FACT_WORDS_MAX || dated;
}

/* Whether the sentence of tokens a..b is about something of its own:
 * keywords of an intent the reply answers, weighing OWN_WEIGHT together,
 * an L2 trigger, thanks or a goodbye, or a fact with hardly more beside it
 * lie in it. A weak keyword is none: "Kan dere styre eksporten når prisen
 * er negativ?" asks L2, whatever "når" says of start dates. Nor is a fact
 * in a sentence that says more: "Since we moved in on 1 November it shows
 * State 102" is the symptom, its date the technician's to know. Nor, in a
 * sentence that tells a symptom (symptom), a day gone by: "Produksjonsgrafen
 * er helt tom siden tirsdag." */
static bool own_matter(const struct engine *e, const struct engine_plan *p,
		       const struct tok_buf *t, uint32_t a, uint32_t b, struct slot_date today,
		       bool symptom)
{
	double sum[INTENT_MAX] = { 0 };
	for (uint32_t k = 0; k < p->ir.nhits; k++) {
		const struct intent_hit *h = &p->ir.hits[k];
		if (h->tok_last < a || h->tok_first > b)
			continue;
		double w;
		int i = intent_entry_intent(e->pack, h->entry, &w);
		if (i >= 0 && (p->active & (1u << i)) && (sum[i] += w) >= OWN_WEIGHT)
			return true;
		if (intent_entry_closes(e->pack, h->entry))
			return true;
	}
	for (uint8_t k = 0; k < p->ir.ntriggers; k++)
		if (p->ir.triggers[k].tok_last >= a && p->ir.triggers[k].tok_first <= b)
			return true;
	const struct slot_found *f = &p->found;
	bool gone = date_before(f->date, today);
	return (f->has_date && !(symptom && gone) &&
		fact_sentence(t, f->date_off, f->date_len, a, b, !gone)) ||
	       (f->has_meter && fact_sentence(t, f->meter_off, f->meter_len, a, b, false)) ||
	       (f->has_address && fact_sentence(t, f->addr_off, f->addr_len, a, b, false));
}

/* The first token of the sentence that token k is in. */
static uint32_t sentence_first(const struct engine_plan *p, const struct tok_buf *t, uint32_t k)
{
	while (k > 0 && !sentence_end(p, t, k - 1) && !newline_before(p->text, t, k))
		k--;
	return k;
}

/* Adds tokens a..b to the technical part, once. */
static void add_span(struct engine_plan *p, const struct tok_buf *t, uint32_t a, uint32_t b)
{
	uint32_t off = t->v[a].off, end = t->v[b].off + t->v[b].len;
	for (uint8_t i = 0; i < p->nspans; i++)
		if (p->spans[i].off == off)
			return;
	if (p->nspans < ENGINE_MAX_SPANS)
		p->spans[p->nspans++] = (struct engine_span){ off, end - off };
}

/* Adds the sentence around token k to the plan's technical part, and up
 * to TECH_FOLLOW_MAX sentences right after it that are about nothing of
 * their own: "SMA Sunny Boy 5.0 here. Is it compatible with Tibber?" is
 * one question for L2, and so is "Huawei SUN2000 with LUNA. Since the move
 * it shows error 2032. What is wrong?". So is a question right before it
 * about nothing of its own: "Which register holds the state of charge? We
 * read our Sungrow inverter over Modbus TCP." The signature goes with none
 * (slot_found.signature_off). */
static void add_sentence(const struct engine *e, struct engine_plan *p,
			 const struct tok_buf *t, uint32_t k, struct slot_date today)
{
	uint32_t a = sentence_first(p, t, k), b = sentence_last(p, t, k);
	if (a > 0 && t->v[a - 1].kind == TOK_PUNCT && t->norm[t->v[a - 1].noff] == '?') {
		uint32_t q = sentence_first(p, t, a - 1);
		if (!own_matter(e, p, t, q, a - 1, today, false))
			a = q;
	}
	for (int n = 0; n < TECH_FOLLOW_MAX && b + 1 < t->n &&
			t->v[b + 1].off < p->found.signature_off; n++) {
		uint32_t c = sentence_last(p, t, b + 1);
		if (own_matter(e, p, t, b + 1, c, today, false))
			break;
		b = c;
	}
	add_span(p, t, a, b);
}

/* Whether token i may be an error code or a model: a word with two
 * digits or more ("SH10RT", "F13"; not "L2", "2nd" or "4G"), "F.13", or a
 * number of CODE_DIGITS_MIN digits or more ("1013", "192.168.1.50",
 * "4.01.15") that is no year (1900 to 2099: "built in 1987"), nor a time
 * or a decimal of four digits at most ("14.30", "12,5"). */
static bool code_like(const struct tok_buf *t, uint32_t i)
{
	const char *s = t->norm + t->v[i].noff;
	unsigned digits = 0;
	for (uint32_t k = 0; k < t->v[i].nlen; k++)
		digits += isdigit((unsigned char)s[k]) != 0;
	if (t->v[i].kind == TOK_WORD)
		return digits >= 2;
	if (digits >= 2 && tok_code_dot(t, i)) /* "F.13" */
		return true;
	if (t->v[i].kind != TOK_NUM || digits < CODE_DIGITS_MIN ||
	    (digits <= 4 && digits < t->v[i].nlen))
		return false;
	long year = digits == 4 && t->v[i].nlen == 4 ? strtol(s, NULL, 10) : 0;
	return year < 1900 || year > 2099;
}

/* The [detail] terms of a message, read from its hits once: where its
 * symptom, not_code and not_symptom words are (the first DETAIL_TERMS_MAX of
 * each), and how many sentences with a symptom are looked at, so that a
 * long message of numbers costs no more than a short one. */
#define DETAIL_TERMS_MAX 16
#define SYMPTOM_SENTENCES_MAX 16
struct symptoms {
	uint32_t symptom[DETAIL_TERMS_MAX];            /* first tokens, in text order */
	uint8_t nsymptom;
	struct engine_span not_code[DETAIL_TERMS_MAX]; /* token ranges, not bytes */
	uint8_t nnot_code;
	uint32_t not_symptom[DETAIL_TERMS_MAX];        /* first tokens */
	uint8_t nnot_symptom;
};

/* Whether a not_code term stands beside token i, a word or a punctuation
 * mark between them at most: "1200 kr", "Kundennummer ist 123456",
 * "invoice: 4711". */
static bool not_code(const struct symptoms *sy, uint32_t i)
{
	for (uint8_t k = 0; k < sy->nnot_code; k++) {
		uint32_t first = sy->not_code[k].off, last = first + sy->not_code[k].len - 1;
		uint32_t gap = last < i ? i - last : first > i ? first - i : 0;
		if (gap >= 1 && gap <= 2)
			return true;
	}
	return false;
}

/* How many tokens after number j the next group of the same number
 * starts, 0 for none: numbers side by side or with a '-' or '/' between
 * ("07700 900123", "070-123 45 67", "L2-20261128-0001"). */
static uint32_t next_group(const struct tok_buf *t, uint32_t j)
{
	if (t->v[j].kind != TOK_NUM)
		return 0;
	if (j + 1 < t->n && t->v[j + 1].kind == TOK_NUM)
		return 1;
	if (j + 2 < t->n && t->v[j + 1].kind == TOK_PUNCT &&
	    strchr("-/", t->norm[t->v[j + 1].noff]) && t->v[j + 2].kind == TOK_NUM)
		return 2;
	return 0;
}

/* Whether number i is a phone number, a reference or an ID rather than an
 * error code, or part of one: written in groups with seven digits or more,
 * in one group of eight or more without a dot (an IP address has them),
 * after a '+', or one an other_numbers label names (slot_found.others:
 * "phone 0770...", "Bestellung 30117"). Groups are looked for GROUPS_MAX
 * each way, so that a message of numbers costs no more than a short one. */
#define GROUPS_MAX 8
static bool long_number(const struct engine_plan *p, const struct tok_buf *t, uint32_t i)
{
	uint32_t a = i, b = i, step;
	for (int n = 0; n < GROUPS_MAX && ((a >= 1 && next_group(t, a - 1) == 1) ||
					   (a >= 2 && next_group(t, a - 2) == 2)); n++)
		a -= a >= 1 && next_group(t, a - 1) == 1 ? 1 : 2;
	for (int n = 0; n < GROUPS_MAX && (step = next_group(t, b)); n++)
		b += step;
	unsigned digits = 0, groups = 0;
	bool dot = false;
	for (uint32_t k = a; k <= b; k++) {
		if (t->v[k].kind != TOK_NUM)
			continue;
		groups++;
		for (uint32_t c = 0; c < t->v[k].nlen; c++) {
			char ch = t->norm[t->v[k].noff + c];
			digits += isdigit((unsigned char)ch) != 0;
			dot |= ch == '.' || ch == ',';
		}
		for (uint8_t o = 0; o < p->found.nothers; o++)
			if (p->found.other_off[o] == t->v[k].off)
				return true;
	}
	bool plus = a > 0 && t->v[a - 1].kind == TOK_PUNCT && t->norm[t->v[a - 1].noff] == '+';
	return plus || (groups >= 2 && digits >= 7) || (groups == 1 && digits >= 8 && !dot);
}

/* Whether token i, code-like, is rather an ID, an e-mail address or a
 * price: a word of eight hexadecimal digits or more (a ticket reference's
 * "9F3A01C4B2D7E816"), a token glued to an '@' within a few tokens
 * ("ola.nordmann77@gmail.com"), or a number written "1500,-". */
static bool id_shape(const struct tok_buf *t, uint32_t i)
{
	const char *s = t->norm + t->v[i].noff;
	uint32_t n = t->v[i].nlen, hex = 0;
	while (hex < n && isxdigit((unsigned char)s[hex]))
		hex++;
	if (hex == n && n >= 8)
		return true;
	if (i + 2 < t->n && t->v[i + 1].kind == TOK_PUNCT && t->norm[t->v[i + 1].noff] == ',' &&
	    t->v[i + 2].kind == TOK_PUNCT && t->norm[t->v[i + 2].noff] == '-' &&
	    !(t->v[i + 1].flags & TOK_F_SPACE) && !(t->v[i + 2].flags & TOK_F_SPACE))
		return true;
	uint32_t a = i, b = i;
	for (int k = 0; k < 8 && a > 0 && !(t->v[a].flags & TOK_F_SPACE); k++)
		a--;
	for (int k = 0; k < 8 && b + 1 < t->n && !(t->v[b + 1].flags & TOK_F_SPACE); k++)
		b++;
	for (uint32_t k = a; k <= b; k++)
		if (t->v[k].kind == TOK_PUNCT && t->norm[t->v[k].noff] == '@')
			return true;
	return false;
}

/* Whether number i starts a place: a postcode, its town or its letters
 * right after it ("0155 Oslo", "1015 CJ Amsterdam"). */
static bool place_after(const struct tok_buf *t, uint32_t i)
{
	return t->v[i].kind == TOK_NUM && i + 1 < t->n && t->v[i + 1].kind == TOK_WORD &&
	       (t->v[i + 1].flags & TOK_F_CAP) && !code_like(t, i + 1);
}

/* Whether byte off of the message is in the technical part already. */
static bool in_spans(const struct engine_plan *p, uint32_t off)
{
	for (uint8_t i = 0; i < p->nspans; i++)
		if (off >= p->spans[i].off && off < p->spans[i].off + p->spans[i].len)
			return true;
	return false;
}

/* The first token at or after i, before the signature and outside the
 * technical part taken so far, that tells a technical symptom, or t->n:
 * where a [detail] symptom term starts ("error", "blinks"), or an error
 * code or a model that is none of the facts, no amount, flat, phone or
 * customer's number, ID or e-mail address, and no postcode. */
static uint32_t next_symptom(const struct engine_plan *p, const struct tok_buf *t,
			     const struct symptoms *sy, uint32_t i)
{
	uint32_t best = t->n;
	for (uint8_t k = 0; k < sy->nsymptom && best == t->n; k++)
		if (sy->symptom[k] >= i && !in_spans(p, t->v[sy->symptom[k]].off))
			best = sy->symptom[k];
	for (uint32_t k = i; k < best && t->v[k].off < p->found.signature_off; k++)
		if (!in_spans(p, t->v[k].off) && code_like(t, k) && !slot_in_fact(&p->found, t->v[k].off) &&
		    !not_code(sy, k) && !id_shape(t, k) &&
		    !place_after(t, k) && !(t->v[k].kind == TOK_NUM && long_number(p, t, k)))
			return k;
	return best < t->n && t->v[best].off < p->found.signature_off ? best : t->n;
}

/* Adds to the technical part each sentence that tells a symptom and is
 * about nothing of its own, with what goes with it (add_sentence). */
static void add_symptoms(const struct engine *e, struct engine_plan *p, const struct tok_buf *t,
			 struct slot_date today)
{
	struct symptoms sy = { .nsymptom = 0 };
	for (uint32_t k = 0; k < p->ir.nhits; k++) {
		const struct intent_hit *h = &p->ir.hits[k];
		enum intent_detail d = intent_entry_detail(e->pack, h->entry);
		if (d == INTENT_DETAIL_SYMPTOM && sy.nsymptom < DETAIL_TERMS_MAX) {
			/* Hits come nearly in text order: kept in it. */
			uint8_t j = sy.nsymptom++;
			for (; j > 0 && sy.symptom[j - 1] > h->tok_first; j--)
				sy.symptom[j] = sy.symptom[j - 1];
			sy.symptom[j] = h->tok_first;
		} else if (d == INTENT_DETAIL_NOT_CODE && sy.nnot_code < DETAIL_TERMS_MAX) {
			sy.not_code[sy.nnot_code++] = (struct engine_span){
				h->tok_first, (uint32_t)(h->tok_last - h->tok_first + 1) };
		} else if (d == INTENT_DETAIL_NOT_SYMPTOM && sy.nnot_symptom < DETAIL_TERMS_MAX) {
			sy.not_symptom[sy.nnot_symptom++] = h->tok_first;
		}
	}
	uint32_t i = 0;
	for (int n = 0; n < SYMPTOM_SENTENCES_MAX && p->nspans < ENGINE_MAX_SPANS; n++) {
		uint32_t k = next_symptom(p, t, &sy, i);
		if (k >= t->n)
			break;
		uint32_t a = sentence_first(p, t, k), b = sentence_last(p, t, k);
		/* About the bill: "an error in my invoice". */
		bool other = false;
		for (uint8_t j = 0; j < sy.nnot_symptom; j++)
			other |= sy.not_symptom[j] >= a && sy.not_symptom[j] <= b;
		if (!other && !own_matter(e, p, t, a, b, today, true))
			add_sentence(e, p, t, k, today);
		i = b + 1;
	}
}

/* Puts the technical part's sentences in text order, one span for those
 * that overlap: a sentence a trigger took along may tell a symptom too. */
static void merge_spans(struct engine_plan *p)
{
	for (uint8_t i = 1; i < p->nspans; i++)
		for (uint8_t j = i; j > 0 && p->spans[j - 1].off > p->spans[j].off; j--) {
			struct engine_span tmp = p->spans[j];
			p->spans[j] = p->spans[j - 1];
			p->spans[j - 1] = tmp;
		}
	uint8_t n = 0;
	for (uint8_t i = 0; i < p->nspans; i++) {
		struct engine_span *last = n ? &p->spans[n - 1] : NULL;
		if (last && p->spans[i].off < last->off + last->len) {
			uint32_t end = p->spans[i].off + p->spans[i].len;
			if (end > last->off + last->len)
				last->len = end - last->off;
		} else {
			p->spans[n++] = p->spans[i];
		}
	}
	p->nspans = n;
}

/* Hashes each sentence of the technical part (FNV-1a over its words as
 * folded, punctuation left out): "Error 1013!!" sent again as "error
 * 1013" hashes alike, also beside another sentence. The spans are in
 * text order and apart (merge_spans): one walk over the tokens does. */
static void hash_sentences(struct engine_plan *p, const struct tok_buf *t)
{
	const uint32_t basis = 2166136261u;
	uint32_t k = 0;
	p->nhashes = 0;
	for (uint8_t i = 0; i < p->nspans; i++) {
		uint32_t h = basis, end = p->spans[i].off + p->spans[i].len;
		while (k < t->n && t->v[k].off < p->spans[i].off)
			k++;
		for (; k < t->n && t->v[k].off < end; k++) {
			const struct tok *w = &t->v[k];
			if (w->kind != TOK_PUNCT) {
				for (uint32_t c = 0; c < w->nlen; c++)
					h = (h ^ (unsigned char)t->norm[w->noff + c]) * 16777619u;
				h = (h ^ ' ') * 16777619u;
			}
			bool last = k + 1 >= t->n || t->v[k + 1].off >= end ||
				    sentence_end(p, t, k) || newline_before(p->text, t, k + 1);
			if (last && h != basis) {
				if (p->nhashes < ENGINE_TICKET_SENT)
					p->hashes[p->nhashes] = h;
				p->nhashes += p->nhashes < UINT8_MAX;
				h = basis;
			}
		}
	}
}

/* Whether the conversation's ticket was sent the sentence hashed h. */
static bool sent_before(const struct engine_session *s, uint32_t h)
{
	uint32_t n = s->ticket_nsent < ENGINE_TICKET_SENT ? s->ticket_nsent : ENGINE_TICKET_SENT;
	for (uint32_t i = 0; i < n; i++)
		if (s->ticket_sent[i] == h)
			return true;
	return false;
}

static bool same_date(struct slot_date a, struct slot_date b)
{
	return a.y == b.y && a.m == b.m && a.d == b.d;
}

/* Whether two streets are one, compared as the registry compares them:
 * folded, "Øvre Slottsgate 8" and "øvre slottsgate 8", "Hauptstraße 5" and
 * "hauptstr. 5". False when either has no key. */
static bool same_street(const struct engine *e, const char *a, const char *b)
{
	char ka[SLOT_ADDR_MAX * 2], kb[SLOT_ADDR_MAX * 2];
	return slot_address_key(e->slots, a, strlen(a), ka, sizeof(ka)) >= 0 &&
	       slot_address_key(e->slots, b, strlen(b), kb, sizeof(kb)) >= 0 &&
	       strcmp(ka, kb) == 0;
}

/* A postcode as compared: spaces dropped, letters in lower case. */
static size_t postcode_key(const char *pc, char out[16])
{
	size_t n = 0;
	for (; *pc && n < 15; pc++)
		if (*pc != ' ')
			out[n++] = (char)(*pc | (*pc >= 'A' && *pc <= 'Z' ? 0x20 : 0));
	return n;
}

/* True when two postcodes are the same, spaces and case aside, or when
 * either is empty. */
static bool postcodes_agree(const char *a, const char *b)
{
	if (!a[0] || !b[0])
		return true;
	char ka[16], kb[16];
	size_t na = postcode_key(a, ka), nb = postcode_key(b, kb);
	return na == nb && memcmp(ka, kb, na) == 0;
}

/* Whether a and b name one street, the house numbers aside: their keys
 * agree but for the last unit, the number ("Drottninggatan 7" and
 * "Drottninggatan 5"). */
static bool same_street_name(const struct engine *e, const char *a, const char *b)
{
	char ka[SLOT_ADDR_MAX * 2], kb[SLOT_ADDR_MAX * 2];
	if (slot_address_key(e->slots, a, strlen(a), ka, sizeof(ka)) < 0 ||
	    slot_address_key(e->slots, b, strlen(b), kb, sizeof(kb)) < 0)
		return false;
	const char *sa = strrchr(ka, ' '), *sb = strrchr(kb, ' ');
	return sa && sb && sa - ka == sb - kb && memcmp(ka, kb, (size_t)(sa - ka)) == 0;
}

/* Where the place of address a (its postcode or city, whichever comes
 * first after the street: "111 51 Stockholm", "London NW1 6XE") starts in
 * its text, past a flat; NULL for none. */
static const char *place_in(const struct slot_address *a)
{
	if (!a->postcode[0] && !a->city[0])
		return NULL;
	const char *st = strstr(a->text, a->street);
	const char *from = st ? st + strlen(a->street) : a->text;
	const char *pc = a->postcode[0] ? strstr(from, a->postcode) : NULL;
	const char *city = a->city[0] ? strstr(from, a->city) : NULL;
	return pc && (!city || pc < city) ? pc : city;
}

/* Gives address a the postcode and town of place, in its text too:
 * "1015 CJ Amsterdam" sent after "Keizersgracht 100" joins it, "0155
 * Oslo" sent after "Storgata 5, 5003 Bergen" takes Bergen's place.
 * Returns whether it did. */
static bool set_place(struct slot_address *a, const struct slot_address *place)
{
	const char *old = place_in(a);
	if (!old && (a->postcode[0] || a->city[0]))
		return false; /* not where the text shows it */
	size_t keep = old ? (size_t)(old - a->text) : strlen(a->text);
	while (keep > 0 && (a->text[keep - 1] == ' ' || a->text[keep - 1] == ','))
		keep--;
	char text[SLOT_ADDR_MAX];
	if ((size_t)snprintf(text, sizeof(text), "%.*s, %s", (int)keep, a->text, place->text) >=
	    sizeof(text))
		return false;
	memcpy(a->text, text, sizeof(text));
	memcpy(a->postcode, place->postcode, sizeof(a->postcode));
	memcpy(a->city, place->city, sizeof(a->city));
	return true;
}

/* A correction of the house number alone ("nej vänta, det är
 * Drottninggatan 5" after "Drottninggatan 7, 111 51 Stockholm") keeps the
 * postcode and city given before: the street is the same, and so is its
 * town. Another street keeps nothing. */
static void keep_place(const struct engine *e, const struct slot_address *was,
		       struct slot_address *now)
{
	const char *at = place_in(was);
	if (!at || now->postcode[0] || now->city[0] ||
	    !same_street_name(e, was->street, now->street))
		return;
	struct slot_address place = { .text = "" };
	snprintf(place.text, sizeof(place.text), "%s", at);
	memcpy(place.postcode, was->postcode, sizeof(place.postcode));
	memcpy(place.city, was->city, sizeof(place.city));
	set_place(now, &place);
}

/* Whether two addresses give the same town where both give one: by
 * postcode where both have one, else by city ("14 High Street, Oxford OX1
 * 4AA", then "..., Cambridge CB2 1RX" is another home). */
static bool same_place(const struct slot_address *a, const struct slot_address *b)
{
	if (a->postcode[0] && b->postcode[0])
		return postcodes_agree(a->postcode, b->postcode);
	char ka[ENGINE_CITY_KEY_MAX], kb[ENGINE_CITY_KEY_MAX];
	return !a->city[0] || !b->city[0] || engine_city_key(a->city, ka, sizeof(ka)) < 0 ||
	       engine_city_key(b->city, kb, sizeof(kb)) < 0 || strcmp(ka, kb) == 0;
}

/* The slots whose value the plan's facts replace with another: "sorry, I
 * meant 5 January" after 4 January. */
static uint8_t replaced_slots(const struct engine *e, const struct engine_facts *was,
			      const struct engine_facts *now)
{
	uint8_t m = 0;
	if (was->has_date && !same_date(was->date, now->date))
		m |= INTENT_SLOT_DATE;
	if (was->has_meter && strcmp(was->meter.id, now->meter.id) != 0)
		m |= INTENT_SLOT_METER;
	if (was->has_address && (!same_street(e, was->address.street, now->address.street) ||
				 !same_place(&was->address, &now->address)))
		m |= INTENT_SLOT_ADDRESS;
	return m;
}

/* Whether rule r needs one of the facts of slots (enum intent_slot bits). */
static bool rule_needs(const struct intent_rule *r, uint8_t slots)
{
	for (unsigned g = 0; g < r->nneeds; g++)
		if (r->needs[g] & slots)
			return true;
	return false;
}

/* The intents among those of among (a bit each) that need one of the
 * facts of slots. */
static uint32_t needing(const struct engine *e, uint32_t among, uint8_t slots)
{
	uint32_t r = 0;
	for (size_t i = 0; slots && i < intent_count(e->pack); i++)
		if ((among & (1u << i)) && rule_needs(intent_rule(e->pack, i), slots))
			r |= 1u << i;
	return r;
}

/* Whether an intent of want (a bit each) needs a date. */
static bool wants_date(const struct engine *e, uint32_t want)
{
	return needing(e, want, INTENT_SLOT_DATE) != 0;
}

/* The facts (enum intent_slot) the intents of among need, any group. */
static uint8_t asked_facts(const struct engine *e, uint32_t among)
{
	uint8_t r = 0;
	for (size_t i = 0; i < intent_count(e->pack); i++)
		if (among & (1u << i)) {
			const struct intent_rule *rule = intent_rule(e->pack, i);
			for (unsigned g = 0; g < rule->nneeds; g++)
				r |= rule->needs[g];
		}
	return r;
}

/* Whether the tokens first..last lie in the label of bytes off, len. */
static bool in_label(const struct tok_buf *t, uint32_t off, uint32_t len, uint32_t first,
		     uint32_t last)
{
	return len && t->v[first].off >= off && t->v[last].off + t->v[last].len <= off + len;
}

/* Whether hit h lies in the label of a fact a pending intent asked for
 * (meter, addr: which facts). */
static bool labelling(const struct engine_plan *p, const struct tok_buf *t,
		      const struct intent_hit *h, bool meter, bool addr)
{
	/* A message that is nothing but the label is label throughout. */
	if ((meter && p->found.label_alone == SLOT_LABEL_METER) ||
	    (addr && p->found.label_alone == SLOT_LABEL_ADDRESS))
		return true;
	return (meter && in_label(t, p->found.meter_label_off, p->found.meter_label_len,
				  h->tok_first, h->tok_last)) ||
	       (addr && in_label(t, p->found.addr_label_off, p->found.addr_label_len,
				 h->tok_first, h->tok_last));
}

/* The intents detected this turn that pass only by the words labelling a
 * fact a pending intent asked for: "The meter ID is 7070..." after "send
 * me the meter ID or the address" answers the start date's question and
 * asks no address change; "I also need to update my address, the new
 * one is ..." does. answered: the facts of the message (or labels
 * alone) a pending intent asked for; unasked: the others (enum
 * intent_slot). A term counts once, so its weight is
 * taken out only when each of its hits is in a label; a misspelt hit is
 * left in. */
static uint32_t label_only(const struct engine *e, const struct engine_session *s,
			   const struct engine_plan *p, const struct tok_buf *t, uint32_t detected,
			   uint8_t answered, uint8_t unasked)
{
	bool meter = answered & INTENT_SLOT_METER, addr = answered & INTENT_SLOT_ADDRESS;
	uint32_t drop = 0;
	if (!(detected & ~s->pending) || (!meter && !addr))
		return 0;
	for (size_t i = 0; i < intent_count(e->pack); i++) {
		if (!(detected & ~s->pending & (1u << i)) || p->ir.score[i] >= 1.0)
			continue;
		/* A fact of its own that nothing asked for keeps the intent:
		 * "Moving in to Storgata 12B on 1 March" gives the start date
		 * its date, though "moving in to" labels the address. */
		const struct intent_rule *r = intent_rule(e->pack, i);
		bool own = false;
		for (int b = 0; b < 3; b++)
			own |= (unasked & (1u << b)) && r->evidence[b] > 0;
		if (own)
			continue;
		double label = 0;
		for (uint32_t h = 0; h < p->ir.nhits; h++) {
			const struct intent_hit *hit = &p->ir.hits[h];
			double w;
			if (intent_entry_intent(e->pack, hit->entry, &w) != (int)i)
				continue;
			bool inside = true, first = true;
			for (uint32_t k = 0; k < p->ir.nhits && inside; k++)
				if (p->ir.hits[k].entry == hit->entry) {
					first &= k >= h;
					inside = !p->ir.hits[k].typo &&
						 labelling(p, t, &p->ir.hits[k], meter, addr);
				}
			if (inside && first)
				label += w;
		}
		double rest = -log(1.0 - p->ir.score[i]) - label;
		if (label > 0 && 1.0 - exp(-rest) < e->opts.threshold)
			drop |= 1u << i;
	}
	return drop;
}

/* The intents that wait with every fact they need known: the registry
 * refuted one ("not 1 March") or could not be asked, so the next fact of
 * theirs is a correction. */
static uint32_t refuted(const struct engine *e, const struct engine_session *s)
{
	uint32_t r = 0;
	for (size_t i = 0; i < intent_count(e->pack); i++) {
		const struct intent_rule *rule = intent_rule(e->pack, i);
		if ((s->pending & (1u << i)) && !missing_groups(rule, known_for(rule, &s->facts)))
			r |= 1u << i;
	}
	return r;
}

/* How many words of the message lie outside the fact at bytes off, len:
 * its date "yesterday" has none, "it was last Monday" two. */
static unsigned words_beside(const struct tok_buf *t, uint32_t off, uint32_t len)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < t->n; i++)
		n += t->v[i].kind == TOK_WORD && (t->v[i].off < off || t->v[i].off >= off + len);
	return n;
}

/* Whether the message's date is the start date the intents need.
 * - A date announced as the move in is.
 * - A date given plainly is while the conversation has none, when an
 *   intent waits for one or the message is hardly more than the date ("3
 *   March", "it is 3 March"); after that
 *   only when the message asks about an intent that needs a date ("when
 *   does the contract start? 5 January"), answers one the registry
 *   refuted ("then it is 15 March"), or is hardly more than the date and
 *   asks nothing else ("no, 15 March": a correction), not when it is
 *   about something else ("the electrician comes on 3 February", "I
 *   bought the Pulse on 15 December"). A longer correction is announced:
 *   "sorry, I meant 5 January", "nei vent, det er 15. mars" (in phrases)
 *   replace the date, and a confirmed one is checked again.
 * - A day alone in a few words ("ok then the 15th") is while an intent
 *   waits for the date, or the registry refuted the one given: not while
 *   only the meter ID is awaited ("I'll send it on the 20th").
 * - A move-out date, or a day word with no cue ("I called the grid
 *   company today", "call me tomorrow"), never replaces a date. While
 *   none is known, a move-out date is (billing moves on that day), and a
 *   day word is when the message asks about an intent that needs a date,
 *   or answers one waiting for it, unless the day is gone ("I called 3
 *   weeks ago": a move rarely starts in the past unless the customer says
 *   so) and the message is more than the answer: "yesterday" or "last
 *   Monday", asked for the date, is the day of the move. */
static bool takes_date(const struct engine *e, const struct engine_session *s,
		       const struct engine_plan *p, const struct tok_buf *t,
		       struct slot_date today)
{
	uint32_t detected = 0;
	for (uint8_t i = 0; i < p->ir.ndetected; i++)
		detected |= 1u << p->ir.rank[i];
	switch (p->found.date_role) {
	case SLOT_DATE_MOVE_IN:
		return true;
	case SLOT_DATE_PLAIN: {
		bool bare = words_beside(t, p->found.date_off, p->found.date_len) <= ANSWER_WORDS_MAX;
		return (!s->facts.has_date && (wants_date(e, s->pending) || bare)) ||
		       (s->facts.has_date && bare && !detected) || wants_date(e, detected) ||
		       wants_date(e, refuted(e, s));
	}
	case SLOT_DATE_MOVE_OUT:
		return !s->facts.has_date;
	case SLOT_DATE_ANSWER:
		return (!s->facts.has_date && wants_date(e, s->pending)) ||
		       wants_date(e, refuted(e, s));
	default:
		if (s->facts.has_date)
			return false;
		if (!date_before(p->found.date, today))
			return wants_date(e, s->pending | detected);
		return !detected && wants_date(e, s->pending) &&
		       words_beside(t, p->found.date_off, p->found.date_len) <= ANSWER_WORDS_MAX;
	}
}

int engine_decide(const struct engine *e, struct engine_scratch *scr,
		  const struct engine_session *s, const char *text, size_t len,
		  struct slot_date today, struct engine_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->text = text;
	p->len = len;
	int rc = tok_run(&scr->toks, text, len);
	if (rc < 0)
		return rc;
	const struct tok_buf *t = &scr->toks;
	struct intent_opts io = { .threshold = e->opts.threshold, .margin = e->opts.margin,
				  .lang_open = s->lang < 0,
				  .ticket_open = s->ticket[0] && s->ticket_topics };
	int fallback = s->lang >= 0 ? s->lang : e->default_lang;
	slot_extract(e->slots, text, t, today, &p->found);
	/* "actually the 20th" after "1 March" is 20 March: a day alone ahead
	 * is in the month of the conversation's date, where that has it. */
	if (p->found.has_date && p->found.date_day_only && s->facts.has_date &&
	    !date_before(p->found.date, today)) {
		struct slot_date d = { s->facts.date.y, s->facts.date.m, p->found.date.d };
		if (slot_date_valid(d) && !date_before(d, today))
			p->found.date = d;
	}
	/* Eleven digits alone are a MaLo ID where a meter ID is awaited, as
	 * the German question for one asks for it; elsewhere as often a
	 * Norwegian personal number. */
	if (p->found.meter_alone && !needing(e, s->pending, INTENT_SLOT_METER)) {
		p->found.has_meter = false;
		memset(&p->found.meter, 0, sizeof(p->found.meter));
	}
	/* In a conversation that has its language, "Goethestraße" and
	 * "Løkkeveien" are names, not German or Norwegian; in a first message
	 * they count where its other words decide nothing on their own. */
	if (p->found.has_address) {
		io.names_off = p->found.addr_off;
		io.names_len = p->found.addr_len;
		io.names_fallback = s->lang < 0;
	}
	/* The street's part of the address alone, which slot_extract copies
	 * from the address's text, at its start or after a flat ("Flat 3, 45
	 * Queen's Road"): a trigger in the city ("... 50667 Speicher") is no
	 * street's name. */
	if (p->found.has_address) {
		const struct slot_address *a = &p->found.address;
		const char *at = strstr(a->text, a->street);
		size_t skip = at ? (size_t)(at - a->text) : 0;
		size_t n = strlen(a->street);
		io.place_off = p->found.addr_off + skip;
		io.place_len = skip + n < p->found.addr_len ? n : p->found.addr_len - skip;
	}
	/* A day word said in passing is no sign of a start date: "I pay by
	 * direct debit today" asks nothing about one. Nor is a plain date once
	 * the conversation has one: "the electrician comes on 3 February" is
	 * about the electrician (a correction says so: "I meant", an in
	 * phrase). Nor a weekday asked about that no cue makes the move's
	 * (slot_found.date_weekday): "When do you open on Monday?" asks about
	 * opening hours. */
	bool date_evidence = p->found.has_date && p->found.date_role != SLOT_DATE_PASSING &&
			     p->found.date_role != SLOT_DATE_ANSWER &&
			     !(p->found.date_role == SLOT_DATE_PLAIN &&
			       (s->facts.has_date || p->found.date_weekday));
	/* A fact's label alone ("new address?", "Zählernummer?") is its
	 * evidence: the customer offers it, though "new address" weighs little
	 * in a sentence ("the contract at the new address"). */
	uint8_t offered = (date_evidence ? INTENT_SLOT_DATE : 0) |
			  (p->found.has_meter || p->found.label_alone == SLOT_LABEL_METER
				   ? INTENT_SLOT_METER : 0) |
			  (p->found.has_address || p->found.label_alone == SLOT_LABEL_ADDRESS
				   ? INTENT_SLOT_ADDRESS : 0);
	/* A fact that answers the question the assistant asked is no sign of
	 * a new topic: "707057500012345671" after "send me the meter ID" is
	 * the answer, not an address change. */
	uint8_t asked = asked_facts(e, s->pending);
	uint8_t found = offered & (uint8_t)~asked;
	if (intent_analyze(e->pack, t, text, len, found, s->lang_fixed ? s->lang : -1,
			   fallback, &io, scr->is, &p->ir) < 0)
		return -TOK_ENOSPACE; /* cannot happen: both sized from max_bytes */
	p->lang = p->ir.lang;

	p->facts = s->facts;
	bool new_date = p->found.has_date && takes_date(e, s, p, t, today);
	if (new_date) {
		p->facts.has_date = true;
		p->facts.date = p->found.date;
	}
	if (p->found.has_meter) {
		p->facts.has_meter = true;
		p->facts.meter = p->found.meter;
	}
	if (p->found.has_address) {
		p->facts.has_address = true;
		p->facts.address_inconclusive = false;
		p->facts.address = p->found.address;
		/* Only where the message is hardly more than the street: "Wir
		 * nehmen doch die Wohnung in Bonn: Bahnhofstraße 10" names
		 * another town. */
		if (s->facts.has_address &&
		    words_beside(t, p->found.addr_off, p->found.addr_len) <= CORRECTION_WORDS_MAX)
			keep_place(e, &s->facts.address, &p->facts.address);
	}
	bool placed = !p->found.has_address && p->found.has_place && s->facts.has_address &&
		      set_place(&p->facts.address, &p->found.place);
	if (placed)
		p->facts.address_inconclusive = false;

	for (uint8_t i = 0; i < p->ir.ndetected; i++)
		p->active |= 1u << p->ir.rank[i];
	p->active &= ~label_only(e, s, p, t, p->active, offered & asked, found);
	/* A pending intent resumes when this message brings a fact it needs,
	 * or when nothing else was asked (the customer answered in words we
	 * could not use: ask again rather than change the subject). A date
	 * corrected does not ask for the address again. */
	uint8_t brought = (new_date ? INTENT_SLOT_DATE : 0) |
			  (p->found.has_meter ? INTENT_SLOT_METER : 0) |
			  (p->found.has_address || placed ? INTENT_SLOT_ADDRESS : 0);
	p->topics = p->ir.topics;
	p->escalate = p->topics != 0;
	/* "thanks!" is an answer to be polite to, not words we could not
	 * use: what waits for a fact keeps waiting, unasked. */
	p->closing = p->ir.closing && !p->active && !p->escalate && !brought;
	/* "thanks" in a Swedish conversation is a loanword, not a switch. */
	if (p->closing && s->lang >= 0) {
		p->lang = s->lang;
		p->ir.lang_detected = false;
	}
	p->active |= needing(e, s->pending, brought);
	/* An answer that relied on a fact the customer now corrects no longer
	 * holds: the intent is answered again with the new one (a confirmed
	 * start date is checked again, and may not match). */
	p->active |= needing(e, s->answered, replaced_slots(e, &s->facts, &p->facts));
	/* A question the assistant waits on is asked again beside an
	 * escalation too: "We also have solar panels." leaves the meter ID
	 * it asked for still missing. */
	if (!p->active && !p->closing)
		p->active |= s->pending;
	p->clarify = !p->active && !p->escalate && !p->closing && p->ir.ambiguous;

	for (uint8_t k = 0; k < p->ir.ntriggers; k++) {
		const struct intent_trigger *tr = &p->ir.triggers[k];
		if (!tr->negated && !tr->excluded)
			add_sentence(e, p, t, tr->tok_first, today);
	}
	/* The conversation's ticket takes what escalates now as a follow-up,
	 * and a sentence that tells a symptom and is about nothing of its own
	 * is more detail for it though it names no trigger ("The app shows
	 * error 1013."), also beside a question the reply answers, or while
	 * the assistant waits for a fact (it still asks). So is it for a
	 * ticket this message files: "The app says 'no data'. The LED on the
	 * inverter blinks green." A technical part sent to the ticket before
	 * is not sent again. */
	memcpy(p->ticket, s->ticket, sizeof(p->ticket));
	p->ticket_topics = s->ticket_topics;
	if (((s->ticket[0] && s->ticket_topics) || p->escalate) && !p->closing && !p->clarify) {
		uint8_t had = p->nspans;
		add_symptoms(e, p, t, today);
		if (p->nspans > had && !p->escalate) {
			p->escalate = p->detail = true;
			p->topics = s->ticket_topics;
		}
		/* "The app shows error 1013" pasted into a Swedish
		 * conversation asks nothing in English. */
		if (p->detail && !p->ir.ndetected && s->lang >= 0) {
			p->lang = s->lang;
			p->ir.lang_detected = false;
		}
	}
	merge_spans(p);
	hash_sentences(p, t);
	/* Past ENGINE_TICKET_SENT sentences, some are not hashed: new. */
	p->repeat = p->escalate && s->ticket[0] && p->nhashes > 0 &&
		    p->nhashes <= ENGINE_TICKET_SENT;
	for (uint8_t i = 0; i < p->nhashes && p->repeat; i++)
		p->repeat = sent_before(s, p->hashes[i]);

	/* One registry lookup serves every intent: by a meter ID with a good
	 * check digit when there is one, else by the address. */
	for (size_t i = 0; i < intent_count(e->pack); i++) {
		if (!(p->active & (1u << i)))
			continue;
		const struct intent_rule *r = intent_rule(e->pack, i);
		if (r->check == INTENT_CHECK_NONE || missing_groups(r, known_for(r, &p->facts)))
			continue;
		if (p->facts.has_meter && p->facts.meter.valid)
			p->lookup = ENGINE_LOOKUP_METER;
		else if (!p->facts.has_meter && r->check == INTENT_CHECK_SUPPLY_START &&
			 p->lookup == ENGINE_LOOKUP_NONE)
			p->lookup = ENGINE_LOOKUP_ADDRESS;
	}
	return 0;
}

/* ---- say ---- */

struct out {
	struct engine_reply *r;
	int rc;
};

static void append(struct out *o, const char *s)
{
	size_t n = strlen(s);
	size_t room = sizeof(o->r->text) - 1 - o->r->len;
	if (n > room) {
		n = room;
		o->rc = -1;
	}
	memcpy(o->r->text + o->r->len, s, n);
	o->r->len += n;
	o->r->text[o->r->len] = '\0';
}

static void render(const struct engine *e, struct out *o, int lang, int id,
		   const struct tmpl_vars *v)
{
	if (o->r->len)
		append(o, "\n\n");
	if (tmpl_render(e->tmpl, lang, id, v, o->r->text, sizeof(o->r->text),
			&o->r->len) < 0)
		o->rc = -1;
}

/* Joins the names in templates ids[0..n) as "a, b and c". */
static void join_names(const struct engine *e, int lang, const int16_t *ids,
		       int n, int16_t conj, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (i > 0 && i < n - 1) {
			if (len + 2 < cap) {
				memcpy(out + len, ", ", 3);
				len += 2;
			}
		} else if (i > 0 && len + 1 < cap) {
			out[len++] = ' ';
			out[len] = '\0';
			tmpl_render(e->tmpl, lang, conj, NULL, out, cap, &len);
			if (len + 1 < cap) {
				out[len++] = ' ';
				out[len] = '\0';
			}
		}
		tmpl_render(e->tmpl, lang, ids[i], NULL, out, cap, &len);
	}
}

/* The names of the L2 topics set in bits, joined with "and", into out. */
static void topic_names(const struct engine *e, int lang, uint32_t bits, char *out, size_t cap)
{
	int16_t ids[INTENT_MAX_TOPICS];
	int n = 0;
	for (size_t t = 0; t < intent_topic_count(e->pack); t++)
		if (bits & (1u << t))
			ids[n++] = e->topic_key[t];
	join_names(e, lang, ids, n, e->and_key, out, cap);
}

const char *engine_address_street(const struct slot_address *a)
{
	return a->street[0] ? a->street : a->text;
}

int engine_city_key(const char *city, char *out, size_t cap)
{
	int n = city[0] ? tok_fold(city, strlen(city), out, cap) : -1;
	return n > 0 ? n : -1;
}

const char *engine_listed_city(const struct slot_address *a, const struct engine_results *res)
{
	return res->city_listed ? a->city : "";
}

bool engine_places_agree(const char *postcode, const char *city, const struct engine_record *r)
{
	if (postcode[0] && r->postcode[0])
		return postcodes_agree(postcode, r->postcode);
	if (!city[0] || !r->city[0])
		return true;
	/* Folding may lengthen a city; one that will not fold into the
	 * buffer, or at all, is no evidence either way. */
	char ka[ENGINE_CITY_KEY_MAX], kb[ENGINE_CITY_KEY_MAX];
	int na = engine_city_key(city, ka, sizeof(ka));
	int nb = engine_city_key(r->city, kb, sizeof(kb));
	if (na < 0 || nb < 0)
		return true;
	/* A district after the city's name is the same city: "Berlin-Mitte"
	 * (folded "berlin mitte") is in Berlin. */
	const char *lo = na <= nb ? ka : kb, *hi = na <= nb ? kb : ka;
	size_t n = (size_t)(na <= nb ? na : nb);
	return memcmp(lo, hi, n) == 0 && (hi[n] == '\0' || hi[n] == ' ');
}

void engine_street_init(struct engine_street *st, const char *postcode, const char *city)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->postcode, sizeof(st->postcode), "%s", postcode);
	snprintf(st->city, sizeof(st->city), "%s", city);
}

bool engine_street_add(struct engine_street *st, const struct engine_record *r)
{
	if (!engine_places_agree(st->postcode, st->city, r))
		return false;
	/* A record with the customer's postcode goes before those without
	 * one, which say nothing after it. */
	bool exact = st->postcode[0] && r->postcode[0];
	if (st->exact && !exact)
		return false;
	if (!st->found || (exact && !st->exact)) {
		st->first = *r;
		st->found = true;
		st->exact = exact;
		st->several = false;
	} else if (!same_date(st->first.supply_start, r->supply_start)) {
		/* Another supply point at the street starts on another day. */
		st->several = true;
	}
	if (st->postcode[0])
		return st->exact && st->several;
	/* A record without a postcode rules no town out, so it is compared
	 * with nothing: two that name different ones make the street
	 * ambiguous, whatever their order. */
	if (!r->postcode[0])
		return false;
	if (!st->town[0]) {
		snprintf(st->town, sizeof(st->town), "%s", r->postcode);
		return false;
	}
	st->two_towns = !postcodes_agree(st->town, r->postcode);
	return st->two_towns;
}

enum engine_registry engine_street_answer(const struct engine_street *st,
					  struct engine_record *out)
{
	if (!st->found || st->two_towns)
		return ENGINE_REG_NOT_FOUND;
	if (st->several)
		return ENGINE_REG_SEVERAL;
	*out = st->first;
	return ENGINE_REG_FOUND;
}

bool engine_address_matches(const struct engine *e, const struct slot_address *a,
			    const struct engine_results *res)
{
	const struct engine_record *r = &res->record;
	return same_street(e, engine_address_street(a), r->street) &&
	       engine_places_agree(a->postcode, engine_listed_city(a, res), r);
}

/* True when the registry found the customer's meter ID at another address
 * than the one they gave: its record says nothing about their new home. */
static bool meter_elsewhere(const struct engine *e, const struct engine_plan *p,
			    const struct engine_results *res)
{
	return res->registry == ENGINE_REG_FOUND && p->lookup == ENGINE_LOOKUP_METER &&
	       p->facts.has_address && !engine_address_matches(e, &p->facts.address, res);
}

/* The outcome of a checked intent whose facts are all known. */
static enum engine_outcome checked(const struct engine *e, const struct intent_rule *r,
				   const struct engine_plan *p,
				   const struct engine_results *res)
{
	switch (res->registry) {
	case ENGINE_REG_FOUND:
		break;
	case ENGINE_REG_NOT_FOUND:
		return ENGINE_OUT_NOT_FOUND;
	case ENGINE_REG_SEVERAL:
		return r->check == INTENT_CHECK_SUPPLY_START ? ENGINE_OUT_SEVERAL
							     : ENGINE_OUT_UNAVAILABLE;
	default:
		/* Not asked, or no answer: never confirm what was not checked. */
		return ENGINE_OUT_UNAVAILABLE;
	}
	if (r->check == INTENT_CHECK_SUPPLY_START) {
		/* Another home's supply start confirms nothing. */
		if (meter_elsewhere(e, p, res))
			return ENGINE_OUT_ELSEWHERE;
		return same_date(p->facts.date, res->record.supply_start)
			       ? ENGINE_OUT_CONFIRMED : ENGINE_OUT_MISMATCH;
	}
	if (p->lookup != ENGINE_LOOKUP_METER)
		return ENGINE_OUT_UNAVAILABLE;
	return engine_address_matches(e, &p->facts.address, res) ? ENGINE_OUT_CONFIRMED
								   : ENGINE_OUT_MISMATCH;
}

/* How intent i of plan p is answered given res; *miss gets the groups of
 * facts still missing. The one place the outcome is decided, for saying the
 * reply and for the adapter's question whether it will confirm a link. */
static enum engine_outcome outcome_of(const struct engine *e, size_t i,
				      const struct engine_plan *p,
				      const struct engine_results *res, unsigned *miss)
{
	const struct intent_rule *rule = intent_rule(e->pack, i);
	*miss = missing_groups(rule, known_for(rule, &p->facts));
	/* A mistyped meter ID is what the customer must fix first, whatever
	 * else is missing. */
	if (rule_needs(rule, INTENT_SLOT_METER) && p->facts.has_meter && !p->facts.meter.valid)
		return ENGINE_OUT_BAD_METER;
	if (*miss)
		return ENGINE_OUT_ASK;
	if (rule->check == INTENT_CHECK_NONE)
		return ENGINE_OUT_ANSWER;
	return checked(e, rule, p, res);
}

/* Whether an intent of the plan answers 'elsewhere'. Only worked out when
 * the registry placed the meter ID elsewhere: most messages never get
 * here, and engine_say is on every message's path. */
static bool elsewhere_said(const struct engine *e, const struct engine_plan *p,
			   const struct engine_results *res)
{
	if (!meter_elsewhere(e, p, res))
		return false;
	for (size_t i = 0; i < intent_count(e->pack); i++) {
		unsigned miss;
		if ((p->active & (1u << i)) && outcome_of(e, i, p, res, &miss) == ENGINE_OUT_ELSEWHERE)
			return true;
	}
	return false;
}

bool engine_plan_links(const struct engine *e, const struct engine_plan *p,
		       const struct engine_results *res)
{
	unsigned miss;
	for (size_t i = 0; i < intent_count(e->pack); i++)
		if ((p->active & (1u << i)) &&
		    intent_rule(e->pack, i)->check == INTENT_CHECK_METER_ADDRESS &&
		    outcome_of(e, i, p, res, &miss) == ENGINE_OUT_CONFIRMED)
			return true;
	return false;
}

/* Copies at most cap-1 bytes of s[0..n) without cutting a UTF-8 sequence. */
static void copy_utf8(char *dst, size_t cap, const char *s, size_t n)
{
	n = tok_utf8_fit(s, n, cap - 1);
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Keeps a turn too long for its record as its start and its end around
 * " … ": the end of a reply is where it names an L2 ticket, which the
 * next ticket's turns must show. */
static void record_turn(struct engine_session *s, bool customer, const char *text,
			size_t len)
{
	static const char gap[] = " \xe2\x80\xa6 "; /* " … " */
	struct engine_turn *t = &s->turns[s->nturns % ENGINE_TURNS];
	t->customer = customer;
	if (len < sizeof(t->text)) {
		copy_utf8(t->text, sizeof(t->text), text, len);
	} else {
		size_t half = (sizeof(t->text) - sizeof(gap)) / 2;
		size_t head = tok_utf8_fit(text, len, half), tail = len - half;
		while (tail < len && ((unsigned char)text[tail] & 0xC0) == 0x80)
			tail++; /* not into a UTF-8 sequence */
		memcpy(t->text, text, head);
		memcpy(t->text + head, gap, sizeof(gap) - 1);
		memcpy(t->text + head + sizeof(gap) - 1, text + tail, len - tail);
		t->text[head + sizeof(gap) - 1 + len - tail] = '\0';
	}
	s->nturns++;
}

/* The ticket reference the customer is given for plan p: the
 * conversation's ticket, which a follow-up is added to; else the one res
 * says was stored; else "". */
static const char *ticket_named(const struct engine_plan *p, const struct engine_results *res)
{
	if (!p->escalate)
		return "";
	return p->ticket[0] ? p->ticket : res->ticket == ENGINE_TICKET_STORED ? res->ticket_ref : "";
}

int engine_say(const struct engine *e, struct engine_session *s,
	       const struct engine_plan *p, const struct engine_results *res,
	       struct engine_reply *r)
{
	struct out o = { r, 0 };
	char date[64] = "", regdate[64] = "", topics[256] = "", names[256] = "";
	struct tmpl_vars v = { 0 };
	int lang = p->lang;

	r->len = 0;
	r->nparts = 0;
	r->fallback = r->clarify = r->closing = false;
	r->text[0] = '\0';
	if (p->facts.has_date)
		tmpl_date(e->tmpl, lang, p->facts.date, date, sizeof(date));
	if (res->registry == ENGINE_REG_FOUND)
		tmpl_date(e->tmpl, lang, res->record.supply_start, regdate, sizeof(regdate));
	v.v[TMPL_DATE] = date;
	v.v[TMPL_REGISTRY_DATE] = regdate;
	v.v[TMPL_ADDRESS] = p->facts.has_address ? p->facts.address.text : "";
	v.v[TMPL_METER] = p->facts.has_meter ? p->facts.meter.id : "";
	v.v[TMPL_LOOKUP] = p->lookup == ENGINE_LOOKUP_METER ? p->facts.meter.id
							    : v.v[TMPL_ADDRESS];

	bool said_bad_meter = false, says_elsewhere = elsewhere_said(e, p, res);
	bool meter_unknown = p->lookup == ENGINE_LOOKUP_METER && res->registry == ENGINE_REG_NOT_FOUND;
	/* Whether the reply asks for the meter ID already: a start date's
	 * "several supply points" answer does, and so does an ask for it. */
	bool meter_asked = p->lookup == ENGINE_LOOKUP_ADDRESS && res->registry == ENGINE_REG_SEVERAL;
	struct engine_facts next = p->facts;
	uint32_t pending = s->pending;
	for (size_t i = 0; i < intent_count(e->pack); i++) {
		if (!(p->active & (1u << i)))
			continue;
		const struct intent_rule *rule = intent_rule(e->pack, i);
		unsigned miss;
		enum engine_outcome oc = outcome_of(e, i, p, res, &miss);
		int id = e->out_key[i][oc];
		uint8_t missing = 0;
		if (oc == ENGINE_OUT_BAD_METER) {
			/* One intent says so for all. */
			id = said_bad_meter ? -1 : id;
			said_bad_meter = true;
		} else if (oc == ENGINE_OUT_MISMATCH && rule->check == INTENT_CHECK_METER_ADDRESS &&
			   says_elsewhere) {
			/* The start date's answer says the meter ID is registered
			 * elsewhere, and that the date is not confirmed: the address
			 * check would only say the first half again. */
			id = -1;
		} else if (oc == ENGINE_OUT_ASK) {
			for (unsigned g = 0; g < rule->nneeds; g++)
				if (miss & (1u << g))
					missing |= rule->needs[g];
			/* "To link the meter ID X, I need the address" after "I
			 * couldn't find X" offers what was just refuted; the
			 * not-found answer has asked to check the meter ID. Nor is
			 * the meter ID asked for twice. */
			bool refuted_meter = meter_unknown && !(missing & INTENT_SLOT_METER) &&
					     rule_needs(rule, INTENT_SLOT_METER);
			bool asked_twice = meter_asked && missing == INTENT_SLOT_METER;
			id = refuted_meter || asked_twice ? -1 : e->ask_key[i][miss];
			meter_asked |= id >= 0 && (missing & INTENT_SLOT_METER);
		}
		if (id >= 0)
			render(e, &o, lang, id, &v);
		if (r->nparts < INTENT_MAX)
			r->parts[r->nparts++] = (struct engine_part){
				(uint8_t)i, (uint8_t)oc, missing };

		/* Move the conversation on: answered intents are done; the
		 * rest wait. A meter ID the registry refuted is dropped so
		 * the next message can bring the right one; an address is
		 * kept, since a meter ID's record registered at another home
		 * must not confirm its date ("Storgata 99" not found, then
		 * the meter of Storgata 12B). */
		if (oc == ENGINE_OUT_ANSWER || oc == ENGINE_OUT_CONFIRMED) {
			pending &= ~(1u << i);
			s->answered |= 1u << i;
		} else {
			pending |= 1u << i;
		}
		if (oc == ENGINE_OUT_BAD_METER ||
		    (oc == ENGINE_OUT_NOT_FOUND && p->lookup == ENGINE_LOOKUP_METER))
			next.has_meter = false;
		if ((oc == ENGINE_OUT_NOT_FOUND || oc == ENGINE_OUT_SEVERAL) &&
		    p->lookup == ENGINE_LOOKUP_ADDRESS)
			next.address_inconclusive = true;
	}

	v.v[TMPL_TOPICS] = topics;
	if (p->escalate) {
		topic_names(e, lang, p->topics, topics, sizeof(topics));
		v.v[TMPL_TICKET] = ticket_named(p, res);
		int which = p->repeat ? ESC_AGAIN
			  : res->ticket == ENGINE_TICKET_STORED ? (p->ticket[0] ? ESC_ADDED : ESC_STORED)
			  : res->ticket == ENGINE_TICKET_FAILED ? ESC_FAILED
								 : ESC_PREVIEW;
		render(e, &o, lang, e->esc_key[which], &v);
	}
	/* The conversation keeps the ticket the customer was given, and
	 * what it was sent, so that what escalates next is added to it. */
	bool sent = p->escalate && (p->repeat || res->ticket == ENGINE_TICKET_STORED);
	if (sent && !s->ticket[0] && strlen(res->ticket_ref) < sizeof(s->ticket))
		memcpy(s->ticket, res->ticket_ref, strlen(res->ticket_ref) + 1);
	if (sent && s->ticket[0]) {
		s->ticket_topics |= p->topics;
		for (uint8_t i = 0; i < p->nhashes && i < ENGINE_TICKET_SENT; i++)
			if (!sent_before(s, p->hashes[i]))
				s->ticket_sent[s->ticket_nsent++ % ENGINE_TICKET_SENT] = p->hashes[i];
	}

	if (!p->active && !p->escalate) {
		if (p->closing) {
			/* "You're welcome!" answers thanks, not "bye" alone. */
			render(e, &o, lang, p->ir.thanked ? e->closing_key : e->bye_key, &v);
			r->closing = true;
		} else if (p->clarify) {
			int16_t ids[2] = { e->intent_key[p->ir.rank[0]],
					   e->intent_key[p->ir.rank[1]] };
			join_names(e, lang, ids, 2, e->or_key, names, sizeof(names));
			v.v[TMPL_INTENTS] = names;
			render(e, &o, lang, e->clarify_key, &v);
			r->clarify = true;
		} else if (p->ticket[0] && p->ticket_topics) {
			/* "How long will it take?" after a ticket: where the
			 * technical question is, then what else there is. */
			topic_names(e, lang, p->ticket_topics, topics, sizeof(topics));
			v.v[TMPL_TICKET] = p->ticket;
			render(e, &o, lang, e->fallback_ticket_key, &v);
			r->fallback = true;
		} else {
			render(e, &o, lang, e->fallback_key, &v);
			r->fallback = true;
		}
	}

	s->facts = next;
	s->pending = pending;
	if (!s->lang_fixed && p->ir.lang_detected)
		s->lang = (int8_t)p->lang;
	else if (s->lang < 0)
		s->lang = (int8_t)p->lang;
	record_turn(s, true, p->text, p->len);
	record_turn(s, false, r->text, r->len);
	return o.rc;
}

bool engine_plan_files_ticket(const struct engine_plan *p)
{
	return p->escalate && !p->repeat;
}

