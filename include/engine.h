/* engine: decide → do → say. engine_decide reads a customer message and the
 * conversation so far and returns a plan: the intents, the facts, the L2
 * topics, and the one registry lookup the plan needs. The adapter (the CLI,
 * the server) carries out the lookup and files the L2 ticket, then
 * engine_say renders the reply from the plan and those results and moves
 * the conversation on. Neither does I/O or allocates: both work in the
 * memory they are given, so the CLI runs exactly what the server runs. */
#ifndef AUTOASSIST_ENGINE_H
#define AUTOASSIST_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "intent.h"
#include "slot.h"
#include "tmpl.h"
#include "tok.h"

#define ENGINE_TURNS 6
#define ENGINE_TURN_TEXT 256
#define ENGINE_MAX_SPANS 8
#define ENGINE_REPLY_MAX 4096
/* A ticket reference the conversation keeps, its NUL included: the
 * server's are 28 bytes ("L2-20261126-" and 16 hex digits). */
#define ENGINE_TICKET_REF 32
/* Sentences sent to a conversation's ticket that it remembers, so that
 * one sent again files nothing. */
#define ENGINE_TICKET_SENT 16

struct engine_opts {
	size_t max_bytes;         /* longest message accepted, in bytes */
	double threshold;         /* intent score needed to answer it */
	double margin;            /* see struct intent_opts */
	const char *default_lang; /* used until a language is known */
};

/* Fills opts with the defaults: 4 KiB, threshold 0.5, margin 0.15, "en". */
void engine_opts_default(struct engine_opts *opts);

/* What the conversation knows. Plain data with no pointers, so a session
 * can be copied, stored and restored as bytes. */
struct engine_facts {
	bool has_date, has_meter, has_address;
	/* The registry's answer for the address settled nothing (no record
	 * there, or supply points starting on different days): it still
	 * names the home a meter ID's record is compared with, but is not
	 * looked up again. It fills what was padding, so sessions stored
	 * before it read as false. */
	bool address_inconclusive;
	struct slot_date date;
	struct slot_meter meter;
	struct slot_address address;
};

struct engine_turn {
	bool customer; /* false: the assistant */
	char text[ENGINE_TURN_TEXT];
};

struct engine_session {
	int8_t lang;          /* -1 until known */
	bool lang_fixed;      /* the client chose it; detection does not change it */
	struct engine_facts facts;
	uint32_t pending;     /* intents waiting for a fact, a bit each */
	uint32_t answered;    /* intents answered so far */
	uint32_t nturns;      /* turns so far; the last ENGINE_TURNS are kept */
	struct engine_turn turns[ENGINE_TURNS];
	/* The conversation's L2 ticket: the reference the customer was
	 * given ("" until one was stored), the topics sent to it, and hashes
	 * of the sentences sent to it (engine_plan.hashes), the last
	 * ENGINE_TICKET_SENT of ticket_nsent. Last in the struct, so that a
	 * session stored before they were reads as one without a ticket. */
	char ticket[ENGINE_TICKET_REF];
	uint32_t ticket_topics;
	uint32_t ticket_nsent;
	uint32_t ticket_sent[ENGINE_TICKET_SENT];
};

struct engine;

/* Starts a conversation; lang is a pack language index or -1. */
void engine_session_init(struct engine_session *s, int lang);

/* The client chose the conversation's language (a pack language index):
 * it holds from now on, and detection does not change it. -1 changes
 * nothing. */
void engine_session_set_lang(struct engine_session *s, int lang);

/* The stored form's head, and the most bytes engine_session_pack writes:
 * the head, the session, and the names of the intents and L2 topics it
 * holds bits of. */
#define ENGINE_SESSION_HEAD 16
/* Where in the stored form the turn count is (uint32_t, host byte order):
 * the store compares it, to keep the copy that went further. Both tags
 * this build writes keep it there: a conversation is stored under the
 * first until it has a ticket, under the second after. */
#define ENGINE_SESSION_TURNS_AT (ENGINE_SESSION_HEAD + offsetof(struct engine_session, nturns))
#define ENGINE_SESSION_TAG_BEFORE_TICKET "AAS2"
#define ENGINE_SESSION_TAG "AAS3"

/* Whether the stored forms a and b (each at least 8 bytes) keep their
 * turn counts at one place, so that the counts compare: the same tag and
 * size, or the two tags this build writes. */
bool engine_session_kin(const unsigned char *a, const unsigned char *b);
#define ENGINE_SESSION_BYTES                                                          \
	(ENGINE_SESSION_HEAD + sizeof(struct engine_session) + 1 +                    \
	 INTENT_MAX * (1 + INTENT_NAME_MAX) + 1 + INTENT_MAX_TOPICS * (1 + INTENT_TOPIC_NAME_MAX))

/* Writes s for storage into out (ENGINE_SESSION_BYTES long), its language
 * by code and its pending and answered intents by name, so that an engine
 * loaded from other files reads it right. Returns the length written. */
size_t engine_session_pack(const struct engine *e, const struct engine_session *s,
			   unsigned char *out);

/* Reads a session engine_session_pack wrote, by any engine, into s for
 * engine e: terminated strings, its language found by code (-1, detected
 * again, when e has none such), its intents by name (those e lacks are
 * dropped). Returns false when the bytes are not a stored session
 * (another format or build, cut short). */
bool engine_session_unpack(const struct engine *e, const unsigned char *in, size_t len,
			   struct engine_session *s);

/* Carries s, a session of engine from, over to engine to (reloaded from
 * the files), as storing it with one and reading it with the other does;
 * one that does not read back starts anew. */
void engine_session_move(const struct engine *from, const struct engine *to,
			 struct engine_session *s);

/* The turn i turns back (0 = the latest), or NULL. */
const struct engine_turn *engine_session_turn(const struct engine_session *s,
					      uint32_t back);

enum engine_lookup {
	ENGINE_LOOKUP_NONE = 0,
	ENGINE_LOOKUP_METER,   /* by the meter ID in plan->facts */
	ENGINE_LOOKUP_ADDRESS, /* by the address in plan->facts */
};

struct engine_span {
	uint32_t off, len;
};

struct engine_plan {
	const char *text;           /* the message (not owned) */
	size_t len;
	int lang;
	struct intent_result ir;    /* scores, triggers, hits */
	struct slot_found found;    /* facts in this message */
	struct engine_facts facts;  /* the session's facts with these merged in */
	uint32_t active;            /* intents acted on this turn, a bit each */
	uint8_t lookup;             /* enum engine_lookup */
	bool escalate;
	uint32_t topics;            /* L2 topics, a bit each */
	uint8_t nspans;             /* the technical part: sentences with triggers */
	struct engine_span spans[ENGINE_MAX_SPANS];
	bool clarify;
	bool closing;               /* only closing words: thanked, nothing asked */
	/* The conversation's ticket when it has one ("" else), and its
	 * topics: an escalation then adds a follow-up to it, which the
	 * follow-up names. */
	char ticket[ENGINE_TICKET_REF];
	uint32_t ticket_topics;
	/* The message escalates as more detail for that ticket, though it
	 * names no trigger ("The app shows error 1013."): its topics are the
	 * ticket's. */
	bool detail;
	/* Every sentence of the technical part was sent to that ticket
	 * before: nothing is filed again, and the reply names the ticket. */
	bool repeat;
	/* A hash of each sentence of the technical part, its words folded
	 * (case, accents and punctuation aside): the first ENGINE_TICKET_SENT
	 * of nhashes. */
	uint8_t nhashes;
	uint32_t hashes[ENGINE_TICKET_SENT];
};

enum engine_registry {
	ENGINE_REG_NOT_ASKED = 0,
	ENGINE_REG_FOUND,
	ENGINE_REG_NOT_FOUND,
	ENGINE_REG_UNAVAILABLE,
	/* By address: supply points there in the customer's town start on
	 * different days (a block of flats), so the address tells not which
	 * is theirs. */
	ENGINE_REG_SEVERAL,
};

enum engine_ticket {
	ENGINE_TICKET_NONE = 0, /* no ticket store: the reply previews it */
	ENGINE_TICKET_STORED,   /* durably stored (Redis or the spool) */
	ENGINE_TICKET_FAILED,
};

struct engine_record {
	char meter_id[SLOT_METER_MAX];
	char street[SLOT_ADDR_MAX];
	char postcode[16];
	char city[48];
	struct slot_date supply_start;
};

/* What the adapter did for the plan. */
struct engine_results {
	uint8_t registry; /* enum engine_registry */
	/* The city the customer gave without a postcode is a town the
	 * registry lists: only then is it compared with a record's. A word
	 * read as a city that is none ("Storgata 5, Takk!") rules no record
	 * out. */
	bool city_listed;
	struct engine_record record;
	uint8_t ticket;   /* enum engine_ticket */
	char ticket_ref[64];
};

enum engine_outcome {
	ENGINE_OUT_ANSWER,
	ENGINE_OUT_ASK,
	ENGINE_OUT_CONFIRMED,
	ENGINE_OUT_MISMATCH,
	ENGINE_OUT_NOT_FOUND,
	ENGINE_OUT_BAD_METER,
	ENGINE_OUT_UNAVAILABLE,
	ENGINE_OUT_ELSEWHERE, /* the meter ID is registered at another address */
	ENGINE_OUT_SEVERAL,   /* supply points at the address start on different days */
	ENGINE_OUT_COUNT,
};

/* How one intent was answered. */
struct engine_part {
	uint8_t intent;
	uint8_t outcome; /* enum engine_outcome */
	uint8_t missing; /* for ENGINE_OUT_ASK: the enum intent_slot bits asked */
};

struct engine_reply {
	char text[ENGINE_REPLY_MAX];
	size_t len;
	uint8_t nparts;
	struct engine_part parts[INTENT_MAX];
	bool fallback, clarify, closing;
};

struct engine;
struct engine_scratch;

/* Loads the language pack and the templates and checks that every
 * template the rules can ask for exists in every language. Returns the
 * engine (free with engine_free) or NULL with a sentence in err. */
struct engine *engine_load(const char *intents_dir, const char *templates_dir,
			   const struct engine_opts *opts, char *err, size_t errlen);
void engine_free(struct engine *e);

const struct intent_pack *engine_pack(const struct engine *e);
const struct slot_vocab *engine_slots(const struct engine *e);
const struct engine_opts *engine_options(const struct engine *e);
/* Bytes held by the loaded model: pack, matcher, slot words, templates. */
size_t engine_memory(const struct engine *e);
/* The part of a customer's address that is keyed and compared: the street
 * and number when they were found, else the whole text. */
const char *engine_address_street(const struct slot_address *a);
/* Writes city as registries compare it, folded as tok_fold folds it
 * ("Göteborg" as "goteborg"), into out (cap bytes). Returns its length, or
 * -1 when it is empty or will not fold into cap. */
int engine_city_key(const char *city, char *out, size_t cap);
/* Room for a city's key: a record's city is at most 47 bytes, and folding
 * seldom lengthens one much. */
#define ENGINE_CITY_KEY_MAX 200

/* The city of address a that a registry compares: a's city where the
 * adapter found it listed (engine_results' city_listed, set only for a
 * city given without a postcode), else "". */
const char *engine_listed_city(const struct slot_address *a, const struct engine_results *res);

/* True when the customer's postcode and city may be the record's place:
 * where both give a postcode, the postcodes are the same, spaces and case
 * aside ("1015 CJ" = "1015cj"); else, where both give a city, the cities
 * are, as tok_fold folds them ("göteborg" = "Goteborg"), or one is the
 * other and a district ("Berlin-Mitte" is in Berlin). What either side
 * leaves out rules nothing out. */
bool engine_places_agree(const char *postcode, const char *city, const struct engine_record *r);

/* A lookup by street address, fed the records at that street in registry
 * order (the --registry file and Redis alike). Records in another place
 * than the customer's (engine_places_agree) do not count. With the
 * customer's postcode the answer is the first record with that postcode,
 * else the first without one; without it, the first record, unless records
 * there name two different postcodes, since a street address in two towns
 * is no answer. Where the records the answer is drawn from start on
 * different days (flats with a meter each), the address says not which
 * is the customer's: the answer is ENGINE_REG_SEVERAL. */
struct engine_street {
	char postcode[16];          /* the customer's; "" when not known */
	char city[48];              /* the customer's; "" when not known */
	char town[16];              /* the first postcode a record named */
	bool found, exact, two_towns, several;
	struct engine_record first; /* the answer when found */
};

/* Starts a lookup for the customer's postcode and city (either may be ""). */
void engine_street_init(struct engine_street *st, const char *postcode, const char *city);

/* Adds the next record at the street. Returns true when the answer is
 * settled: no later record can change it. */
bool engine_street_add(struct engine_street *st, const struct engine_record *r);

/* The answer of the records added: ENGINE_REG_FOUND with *out set,
 * ENGINE_REG_SEVERAL or ENGINE_REG_NOT_FOUND. */
enum engine_registry engine_street_answer(const struct engine_street *st,
					  struct engine_record *out);

/* True when address a is the record res holds: the same street and
 * number, compared by their keys (see slot_address_key), in a place that
 * agrees (engine_places_agree, with engine_listed_city). */
bool engine_address_matches(const struct engine *e, const struct slot_address *a,
			    const struct engine_results *res);
/* The name of an outcome as used in template keys ("confirmed", ...). */
const char *engine_outcome_name(enum engine_outcome o);

/* Working memory for one thread. Returns NULL when memory is short. */
struct engine_scratch *engine_scratch_new(const struct engine *e);
void engine_scratch_free(struct engine_scratch *s);
/* The tokens of the last message decided with this scratch. */
const struct tok_buf *engine_scratch_tokens(const struct engine_scratch *s);

/* Decides what to do with text[0..len) in session s; today resolves
 * relative dates. Reads s, does not change it. Returns 0, or a negated
 * enum tok_err (-TOK_EUTF8, -TOK_ETOOLONG, ...) and then plan is unusable.
 * The plan refers to text and to the scratch until their next use. */
int engine_decide(const struct engine *e, struct engine_scratch *scr,
		  const struct engine_session *s, const char *text, size_t len,
		  struct slot_date today, struct engine_plan *plan);

/* Whether the adapter files an L2 ticket for plan: it escalates, and not
 * only with what the conversation's ticket was sent before
 * (engine_plan.repeat). */
bool engine_plan_files_ticket(const struct engine_plan *plan);

/* True when saying plan with these results would confirm an address as
 * linked to the customer's profile: the adapter stores the link first, and
 * when it cannot, reports the registry unavailable so nothing is claimed. */
bool engine_plan_links(const struct engine *e, const struct engine_plan *plan,
		       const struct engine_results *res);

/* Renders the reply to plan given what the adapter did, and records the
 * turn in s (facts, pending intents, history). Returns 0, or -1 when the
 * reply was cut to fit out->text. */
int engine_say(const struct engine *e, struct engine_session *s,
	       const struct engine_plan *plan, const struct engine_results *res,
	       struct engine_reply *out);

#endif
