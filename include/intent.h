/* intent: the language pack (intents, keywords, L2 triggers, negation cues,
 * language markers and the rules of each intent) loaded from intents/, and
 * the scorer that turns a tokenized message into ranked intents, a
 * language, and the L2 topics it mentions. */
#ifndef AUTOASSIST_INTENT_H
#define AUTOASSIST_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slot.h"
#include "tok.h"

#define INTENT_MAX 16
#define INTENT_NAME_MAX 48 /* bytes of an intent's name, its NUL included */
#define INTENT_MAX_LANGS 8
#define INTENT_MAX_TOPICS 8
#define INTENT_TOPIC_NAME_MAX 32 /* bytes of a topic's name, its NUL included */
#define INTENT_MAX_NEEDS 4
#define INTENT_MAX_TRIGGERS 32

/* The facts an intent can need. */
enum intent_slot {
	INTENT_SLOT_DATE = 1 << 0,
	INTENT_SLOT_METER = 1 << 1,
	INTENT_SLOT_ADDRESS = 1 << 2,
};

/* The registry check that answers an intent once its facts are known. */
enum intent_check {
	INTENT_CHECK_NONE = 0,
	INTENT_CHECK_SUPPLY_START, /* the customer's date against the supply start */
	INTENT_CHECK_METER_ADDRESS, /* the meter ID belongs to the customer's address */
};

/* What an intent needs before it can answer: each group is a mask of
 * enum intent_slot of which any one will do. */
struct intent_rule {
	uint8_t nneeds;
	uint8_t needs[INTENT_MAX_NEEDS];
	uint8_t check; /* enum intent_check */
	/* Weight a fact found in the message adds to the intent's score, per
	 * slot (date, meter, address): an address on its own is evidence of
	 * an address change even without the word "address". */
	float evidence[3];
	/* In a message with no [move] term, the intent's terms in a sentence
	 * that carries an L2 topic or an [elsewhere] term count nothing: that
	 * sentence is the technical question or another matter, not this
	 * intent's ("does the Pulse read my inverter?", "where is my Pulse
	 * order?"). */
	bool yields;
};

struct intent_opts {
	double threshold; /* an intent scoring at least this is detected */
	double margin;    /* below it by at most this, two rivals are "ambiguous" */
	/* Bytes of the text whose letters and words say nothing of its
	 * language: an address ("Goethestraße 10" in an English message, "2.
	 * OG" in a German one). 0 for none. */
	size_t names_off, names_len;
	/* The names count only where the rest of the text decides nothing on
	 * its own (a marker's weight, no tie): a first message's evidence. */
	bool names_fallback;
	/* Bytes of the text that are the street of the address found: an L2
	 * trigger inside, in a compound or with more of the name after it
	 * ("Solar Street 4", "Solarstraße 7"), is part of the name and
	 * escalates nothing. 0 for none. */
	size_t place_off, place_len;
	/* The conversation has no language yet: a weak hint (one keyword,
	 * one misspelt word) is still better than the fallback. */
	bool lang_open;
	/* The conversation has an L2 ticket: in a message that says nothing
	 * of the move, the intents that yield count none of their keywords in
	 * a sentence with a [detail] term ("The LED blinks red" is more detail
	 * for it, not a question about the Pulse). */
	bool ticket_open;
};

/* A keyword, trigger or cue found in the message, for explanations. */
struct intent_hit {
	uint32_t entry;
	uint16_t tok_first, tok_last; /* token range */
	bool typo;
};

/* Why a trigger escalates nothing though no negation governs it. */
enum intent_excl {
	INTENT_EXCL_NONE = 0,
	INTENT_EXCL_LOOKALIKE, /* an [l2_not] phrase covers it: "phone battery" */
	INTENT_EXCL_PLACE,     /* part of a street's name: "Solar Street 4" */
	INTENT_EXCL_OWNED,     /* what an [owners] thing has: "the car has a battery" */
};

/* One mention of an L2 trigger. */
struct intent_trigger {
	uint8_t topic;
	bool negated;     /* a negation cue governs it */
	uint8_t excluded; /* enum intent_excl: non-zero, it escalates nothing */
	uint16_t tok_first, tok_last;
};

struct intent_result {
	int lang;                       /* index into the pack's languages */
	bool lang_detected;             /* false: taken from the hint or fallback */
	uint8_t nintents;               /* all intents, ranked best first */
	uint8_t rank[INTENT_MAX];
	double score[INTENT_MAX];       /* indexed by intent, in [0,1] */
	uint8_t ndetected;              /* rank[0..ndetected) passed the threshold */
	bool ambiguous;                 /* nothing passed, rank[0] and rank[1] nearly did */
	bool closing;                   /* only closing words: "thanks!", "takk for hjelpen", "bye" */
	bool thanked;                   /* closing, and one of them thanks: not only "bye" */
	uint32_t topics;                /* bit per topic: mentioned, not negated */
	uint8_t ntriggers;
	struct intent_trigger triggers[INTENT_MAX_TRIGGERS];
	const struct intent_hit *hits;  /* points into the scratch */
	uint32_t nhits;
};

struct intent_pack;
struct intent_scratch;

/* Loads every *.txt language file and rules.txt from dir. The [dates] and
 * [address] sections go to slots. Returns the pack (caller frees it with
 * intent_pack_free) or NULL with a sentence naming the file and line in err. */
struct intent_pack *intent_pack_load(const char *dir, struct slot_vocab *slots,
				     char *err, size_t errlen);
void intent_pack_free(struct intent_pack *p);

size_t intent_count(const struct intent_pack *p);
const char *intent_name(const struct intent_pack *p, size_t i);
/* The intent's index, or -1. */
int intent_find(const struct intent_pack *p, const char *name);
const struct intent_rule *intent_rule(const struct intent_pack *p, size_t i);

size_t intent_lang_count(const struct intent_pack *p);
const char *intent_lang_code(const struct intent_pack *p, size_t i);
/* The language's index, or -1. */
int intent_lang_find(const struct intent_pack *p, const char *code);

size_t intent_topic_count(const struct intent_pack *p);
const char *intent_topic_name(const struct intent_pack *p, size_t i);
/* The topic's index, or -1. */
int intent_topic_find(const struct intent_pack *p, const char *name);

/* Describes an entry of a hit: its kind ("intent", "l2", "negation", ...),
 * target name (intent or topic, may be ""), the term as written in the data
 * file, and its language code. The strings belong to the pack. */
void intent_entry_describe(const struct intent_pack *p, uint32_t entry,
			   const char **kind, const char **target,
			   const char **term, const char **lang);

/* The intent whose keyword entry is, counting for it (a positive weight),
 * with that weight in *weight; -1 for a trigger, a marker, a phrase
 * against or any other entry. */
int intent_entry_intent(const struct intent_pack *p, uint32_t entry, double *weight);

/* Whether entry is a [closing] term: thanks, a goodbye. */
bool intent_entry_closes(const struct intent_pack *p, uint32_t entry);

/* What a [detail] term says, by the line it is on. */
enum intent_detail {
	INTENT_DETAIL_NONE = 0,    /* no [detail] term */
	INTENT_DETAIL_SYMPTOM,     /* a word of a technical symptom: "error", "blinks" */
	INTENT_DETAIL_NOT_CODE,    /* makes a number beside it no error code: "kr" */
	INTENT_DETAIL_NOT_SYMPTOM, /* makes its sentence's symptom words another
				    * matter's: "invoice" ("an error in my invoice") */
};

/* The enum intent_detail of entry. */
enum intent_detail intent_entry_detail(const struct intent_pack *p, uint32_t entry);

/* Bytes held by the pack, the compiled matcher included. */
size_t intent_pack_memory(const struct intent_pack *p);

/* Working memory for intent_analyze, sized for messages of up to
 * max_bytes bytes (the limit the tokenizer was given). Returns NULL when
 * memory is short; free with intent_scratch_free. One scratch per thread. */
struct intent_scratch *intent_scratch_new(const struct intent_pack *p,
					  size_t max_bytes);
void intent_scratch_free(struct intent_scratch *s);

/* Scores a tokenized message. slots is the enum intent_slot mask of the
 * facts found in it (they add their rules' evidence). lang_hint is a language index the caller
 * knows (or -1 to detect); lang_fallback is used when detection finds no
 * evidence (the conversation's language, or -1 for the first pack
 * language). Never allocates; the result's hits live in the scratch until
 * its next use. Returns 0, or -1 when the message is larger than the
 * scratch was sized for (then nothing is analysed). */
int intent_analyze(const struct intent_pack *p, const struct tok_buf *toks,
		   const char *text, size_t len, uint8_t slots, int lang_hint,
		   int lang_fallback, const struct intent_opts *opts,
		   struct intent_scratch *s, struct intent_result *out);

#endif
