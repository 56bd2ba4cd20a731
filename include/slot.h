/* slot: the facts a customer gives in a message: a date (absolute or
 * relative to a reference day), a meter ID (18-digit GS1 EAN / målepunkt-ID /
 * anläggnings-ID with its check digit, German meter numbers) and a street
 * address. Which words mean what (month names, "tomorrow", street suffixes)
 * is data, fed in from the [dates] and [address] sections of intents/<lang>.txt. */
#ifndef AUTOASSIST_SLOT_H
#define AUTOASSIST_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tok.h"

struct slot_date {
	int16_t y;
	uint8_t m, d;
};

/* Room for slot_date_iso's text, whatever the fields hold. */
#define SLOT_DATE_ISO 16

enum slot_meter_kind {
	SLOT_METER_NONE = 0,
	SLOT_METER_EAN18,   /* 18 digits, GS1 check digit (NO, SE, NL) */
	SLOT_METER_DE,      /* German meter number, e.g. 1ESY1160571234 */
	SLOT_METER_DE_ZP,   /* German Zählpunkt, "DE" and 31 characters */
	SLOT_METER_DE_MALO, /* German market location (MaLo) ID: 11 digits, BDEW check digit */
};

#define SLOT_METER_MAX 40
#define SLOT_ADDR_MAX 128
/* Numbers an other_numbers label names that slot_found lists. */
#define SLOT_OTHERS_MAX 8

struct slot_meter {
	uint8_t kind;               /* enum slot_meter_kind */
	bool valid;                 /* the check digit agrees (always true for
	                               kinds without one) */
	char id[SLOT_METER_MAX];    /* compact: spaces removed, upper case */
};

struct slot_address {
	char text[SLOT_ADDR_MAX];   /* as the customer wrote it, trimmed */
	char street[SLOT_ADDR_MAX]; /* street and house number as written */
	char postcode[16];          /* empty when not given */
	char city[48];              /* empty when not given */
};

/* How the words before a message's date present it. */
enum slot_date_role {
	SLOT_DATE_PLAIN,    /* no cue: the move's date, as far as anyone can tell */
	SLOT_DATE_MOVE_IN,  /* after a move-in cue: "move in on", "Einzug am" */
	SLOT_DATE_MOVE_OUT, /* after a move-out cue: "move out on", "Auszug am" */
	SLOT_DATE_PASSING,  /* "today", "tomorrow" or a relative date in the
	                       past ("yesterday", "vor zwei Tagen") with no cue,
	                       as often said in passing ("I called today") as
	                       of the move */
	SLOT_DATE_ANSWER,   /* a day alone in a few words, no cue: "ok then the
	                       15th"; a date only where one is awaited */
};

/* The fact a message names by its label alone: "new address?". */
enum slot_label {
	SLOT_LABEL_NONE = 0,
	SLOT_LABEL_METER,
	SLOT_LABEL_ADDRESS,
};

/* What one message says. Spans are byte offsets into the original text. */
struct slot_found {
	bool has_date, has_meter, has_address;
	struct slot_date date;
	uint8_t date_role;          /* enum slot_date_role */
	bool date_day_only;         /* only the day was written: "on the 20th" */
	bool date_weekday;          /* a weekday asked about, nothing before it
	                               saying it is the move's: "open on Monday?" */
	uint32_t date_off, date_len;
	struct slot_meter meter;
	uint32_t meter_off, meter_len;
	/* The meter ID is a MaLo ID that no label calls one, the message
	 * nothing but its eleven digits: a meter ID only where one is
	 * awaited. */
	bool meter_alone;
	struct slot_address address;
	uint32_t addr_off, addr_len;
	/* No address, the message a postcode and town alone ("1015 CJ
	 * Amsterdam", "London NW1 6XE"): place's postcode, city and text;
	 * its street is empty. The place of an address given before. */
	bool has_place;
	struct slot_address place;
	/* The words that name the meter ID or the address just before it:
	 * "meter ID", "new address is". Both 0 for none. */
	uint32_t meter_label_off, meter_label_len;
	uint32_t addr_label_off, addr_label_len;
	/* The message is nothing but a fact's label, no fact after it: enum
	 * slot_label. */
	uint8_t label_alone;
	/* Where the message's signature starts (a sign-off starting a line
	 * or sentence after the first: "Mvh\nKari"), UINT32_MAX for none. */
	uint32_t signature_off;
	/* Where the numbers an other_numbers label names start ("phone
	 * 0770...", "Kundennummer ist 12345"), the first SLOT_OTHERS_MAX. */
	uint8_t nothers;
	uint32_t other_off[SLOT_OTHERS_MAX];
};

struct slot_vocab;

/* Whether byte off of the message lies in a fact f found in it: its date,
 * meter ID or address. */
bool slot_in_fact(const struct slot_found *f, uint32_t off);

/* Creates an empty vocabulary. Returns NULL when memory is short; the
 * caller owns it and frees it with slot_vocab_free. */
struct slot_vocab *slot_vocab_new(void);
void slot_vocab_free(struct slot_vocab *v);

/* Adds one line of a [dates] or [address] section (section is "dates" or
 * "address") of language number lang. Returns 0, or -1 with a sentence in
 * err saying what is wrong with the line. */
int slot_vocab_line(struct slot_vocab *v, int lang, const char *section,
		    const char *line, char *err, size_t errlen);

/* Marks word (one word, written as in the data files) as never a street's
 * name: an L2 trigger such as "Powerwall", whose "-wall" ends street
 * names too. A longer word that starts with it ("Batteriveien") can still
 * be one. Returns 0, or -1 with a sentence in err. */
int slot_vocab_not_street(struct slot_vocab *v, const char *word, size_t n, char *err,
			  size_t errlen);

/* Finds the date, meter ID and address in a tokenized message. text is the
 * original text the tokens point into; today resolves relative dates.
 * Never allocates. Fills *out (cleared first) and returns 0. */
int slot_extract(const struct slot_vocab *v, const char *text,
		 const struct tok_buf *toks, struct slot_date today,
		 struct slot_found *out);

/* True when the last of n digits is the GS1 mod-10 check digit of the rest. */
bool slot_gs1_valid(const char *digits, size_t n);

/* Writes a comparison key for an address into out: folded, punctuation
 * dropped, street suffixes abbreviated the same way ("Hauptstraße 5" and
 * "hauptstr. 5" give the same key). Returns the key's length or -1. */
int slot_address_key(const struct slot_vocab *v, const char *addr, size_t len,
		     char *out, size_t cap);

/* Parses "YYYY-MM-DD". Returns 0 or -1 when it is not a real date. */
int slot_date_parse_iso(const char *s, struct slot_date *out);

/* Writes d as "YYYY-MM-DD" (NUL-terminated) into out: the inverse of
 * slot_date_parse_iso. */
void slot_date_iso(struct slot_date d, char out[SLOT_DATE_ISO]);

/* True when d is a day of the calendar, in the years 1900..9999. */
bool slot_date_valid(struct slot_date d);

/* Days since 1970-01-01, and back; valid for years 1900..9999. */
int32_t slot_date_days(struct slot_date d);
struct slot_date slot_date_from_days(int32_t days);

/* 0 Monday .. 6 Sunday. */
int slot_date_weekday(struct slot_date d);

#endif
