/* Tests for intent: the scorer from a fixture table (several intents in one
 * message, typos, compounds, negation, look-alikes, languages), then
 * language hints, scores, the threshold and the ambiguity margin, and the
 * loader's refusal of broken packs with the file and line named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "intent.h"
#include "slot.h"
#include "tok.h"

#define PACK_DIR FIXTURE_DIR "/pack"

struct fx {
	struct slot_vocab *slots;
	struct intent_pack *pack;
	struct intent_scratch *scr;
	struct tok_buf tb;
	int en, de;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512] = "";
	if (!f || !(f->slots = slot_vocab_new()))
		return -1;
	f->pack = intent_pack_load(PACK_DIR, f->slots, err, sizeof(err));
	if (!f->pack) {
		fprintf(stderr, "loading %s: %s\n", PACK_DIR, err);
		return -1;
	}
	if (tok_buf_init(&f->tb, 4096) < 0 ||
	    !(f->scr = intent_scratch_new(f->pack, f->tb.max_bytes)))
		return -1;
	f->en = intent_lang_find(f->pack, "en");
	f->de = intent_lang_find(f->pack, "de");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	intent_scratch_free(f->scr);
	intent_pack_free(f->pack);
	slot_vocab_free(f->slots);
	tok_buf_free(&f->tb);
	free(f);
	return 0;
}

static const struct intent_opts defaults = { .threshold = 0.5, .margin = 0.15 };

/* Tokenizes and scores text; the result refers to f's scratch. */
static void analyze(struct fx *f, const char *text, int hint, int fallback,
		    const struct intent_opts *o, struct intent_result *r)
{
	assert_int_equal(tok_run(&f->tb, text, strlen(text)), 0);
	assert_int_equal(intent_analyze(f->pack, &f->tb, text, strlen(text), 0, hint,
					fallback, o ? o : &defaults, f->scr, r), 0);
}

/* Analyses text in English with place, a part of it, as the address. */
static void analyze_at_place(struct fx *f, const char *text, const char *place,
			     struct intent_result *r)
{
	const char *at = strstr(text, place);
	assert_non_null(at);
	struct intent_opts o = { .threshold = 0.5, .margin = 0.15,
				 .place_off = (size_t)(at - text), .place_len = strlen(place) };
	analyze(f, text, -1, f->en, &o, r);
}

static double score_of(struct fx *f, const struct intent_result *r, const char *intent)
{
	int i = intent_find(f->pack, intent);
	assert_true(i >= 0);
	return r->score[i];
}

static char *trim(char *s)
{
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* The detected intents best first, comma separated, or "-". */
static void detected_list(struct fx *f, const struct intent_result *r, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (uint8_t i = 0; i < r->ndetected; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "",
				      intent_name(f->pack, r->rank[i]));
	if (!r->ndetected)
		snprintf(out, cap, "-");
}

/* The bits of a comma-separated list of topic names, or of "-". */
static uint32_t topic_bits(struct fx *f, char *list, const char *text)
{
	uint32_t bits = 0;
	if (strcmp(list, "-") == 0)
		return 0;
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t k;
		for (k = 0; k < intent_topic_count(f->pack); k++)
			if (strcmp(intent_topic_name(f->pack, k), t) == 0)
				break;
		if (k == intent_topic_count(f->pack))
			fail_msg("\"%s\": the fixture names an unknown topic %s", text, t);
		bits |= 1u << k;
	}
	return bits;
}

static void test_fixture_cases(void **state)
{
	struct fx *f = *state;
	FILE *in = fopen(FIXTURE_DIR "/intent_cases.txt", "r");
	assert_non_null(in);
	char line[1024];
	int cases = 0, lineno = 0, failures = 0;
	while (fgets(line, sizeof(line), in)) {
		lineno++;
		if (line[0] == '#' || strspn(line, " \r\n") == strlen(line))
			continue;
		char *field[5];
		char *p = line;
		int nf = 0;
		for (; nf < 5 && p; nf++) {
			char *bar = strstr(p, " | ");
			field[nf] = p;
			if (bar)
				*bar = '\0';
			p = bar ? bar + 3 : NULL;
		}
		const char *close = nf == 5 ? trim(field[4]) : "";
		if (nf < 4 || p || (nf == 5 && strcmp(close, "closing") != 0 &&
				    strcmp(close, "thanks") != 0))
			fail_msg("intent_cases.txt:%d: expected TEXT | INTENTS | TOPICS | LANG "
				 "[| closing or thanks]", lineno);
		const char *text = trim(field[0]);
		const char *want_intents = trim(field[1]);
		const char *want_lang = trim(field[3]);
		uint32_t want_topics = topic_bits(f, trim(field[2]), text);
		bool want_closing = nf == 5, want_thanked = strcmp(close, "thanks") == 0;

		struct intent_result r;
		analyze(f, text, -1, f->en, NULL, &r);
		char got[256];
		detected_list(f, &r, got, sizeof(got));
		const char *lang = intent_lang_code(f->pack, (size_t)r.lang);
		if (strcmp(got, want_intents) != 0 || r.topics != want_topics ||
		    strcmp(lang, want_lang) != 0 || r.closing != want_closing ||
		    r.thanked != want_thanked) {
			print_error("intent_cases.txt:%d: \"%s\": got intents %s, topics %#x, lang %s%s; "
				    "want %s, %#x, %s%s%s\n", lineno, text, got, r.topics, lang,
				    r.thanked ? ", thanks" : r.closing ? ", closing" : "", want_intents,
				    want_topics, want_lang, nf == 5 ? ", " : "", close);
			failures++;
		}
		cases++;
	}
	fclose(in);
	assert_int_equal(failures, 0);
	assert_true(cases >= 40);
}

static void test_pack_contents(void **state)
{
	struct fx *f = *state;
	assert_int_equal(intent_count(f->pack), 4);
	static const char *const names[] = { "contract_start_date", "address_update",
					      "pulse_relocation", "payment_method" };
	for (int i = 0; i < 4; i++) {
		assert_string_equal(intent_name(f->pack, (size_t)i), names[i]);
		assert_int_equal(intent_find(f->pack, names[i]), i);
	}
	assert_int_equal(intent_find(f->pack, "refund"), -1);
	assert_int_equal(intent_lang_count(f->pack), 4);
	assert_true(f->en >= 0 && f->de >= 0 && f->en != f->de);
	assert_int_equal(intent_lang_find(f->pack, "nl"), -1);
	assert_int_equal(intent_topic_count(f->pack), 3);

	const struct intent_rule *r = intent_rule(f->pack, 0);
	assert_int_equal(r->nneeds, 2);
	assert_int_equal(r->needs[0], INTENT_SLOT_DATE);
	assert_int_equal(r->needs[1], INTENT_SLOT_METER | INTENT_SLOT_ADDRESS);
	assert_int_equal(r->check, INTENT_CHECK_SUPPLY_START);
	assert_int_equal(intent_rule(f->pack, 1)->check, INTENT_CHECK_METER_ADDRESS);
	assert_int_equal(intent_rule(f->pack, 2)->nneeds, 0);
	assert_int_equal(intent_rule(f->pack, 3)->check, INTENT_CHECK_NONE);
	assert_true(intent_pack_memory(f->pack) > 0);
}

/* The score is 1 - exp(-sum of weights), 0 for none, and
 * a term counts once. */
static void test_scores(void **state)
{
	struct fx *f = *state;
	struct intent_result r;
	analyze(f, "address", -1, f->en, NULL, &r);
	assert_float_equal(score_of(f, &r, "address_update"), 1 - exp(-1.0), 1e-6);
	analyze(f, "address address address, my address!", -1, f->en, NULL, &r);
	assert_float_equal(score_of(f, &r, "address_update"), 1 - exp(-1.0), 1e-6);
	analyze(f, "new address and meter id", -1, f->en, NULL, &r);
	assert_float_equal(score_of(f, &r, "address_update"), 1 - exp(-2.0), 1e-6);
	/* A typo counts for less than the word itself (but still passes). */
	analyze(f, "pulze", -1, f->en, NULL, &r);
	double typo = score_of(f, &r, "pulse_relocation");
	assert_true(typo >= 0.5 && typo < 1 - exp(-1.0) - 1e-3);
	/* "adress" is one edit from "address" (en) and from "adresse" (de): one
	 * word, read once, below the word spelt right. */
	analyze(f, "adress", -1, f->en, NULL, &r);
	assert_float_equal(score_of(f, &r, "address_update"), typo, 1e-6);
	/* A phrase against an intent takes back its words inside it: 0. */
	analyze(f, "we don't have a pulse", -1, f->en, NULL, &r);
	assert_float_equal(score_of(f, &r, "pulse_relocation"), 0.0, 1e-9);

	static const char *const texts[] = {
		"", "...", "the pulse, the payment method, the address and the contract start "
		"address meter id ean pay paying payments contract contracts start date move in",
		"Vertragsbeginn Vertrag Einzug Zählernummer Zählpunkt Zahlungsart Lastschrift",
	};
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		analyze(f, texts[t], -1, f->en, NULL, &r);
		assert_int_equal(r.nintents, 4);
		uint32_t seen = 0;
		for (uint8_t i = 0; i < r.nintents; i++) {
			double s = r.score[i];
			assert_true(s >= 0.0 && s <= 1.0);
			seen |= 1u << r.rank[i];
			if (i > 0)
				assert_true(r.score[r.rank[i - 1]] >= r.score[r.rank[i]]);
			if (i < r.ndetected)
				assert_true(r.score[r.rank[i]] >= 0.5);
			else
				assert_true(r.score[r.rank[i]] < 0.5);
		}
		assert_int_equal(seen, 0xf);
	}
}

/* Loads a pack made of files and scores text with the facts in slots;
 * returns the score of the first intent. */
static double score_in_pack(const struct tu_file *files, size_t n, const char *text,
			    uint8_t slots)
{
	char dir[] = "/tmp/aa_pack_XXXXXX", err[512] = "";
	tu_write_dir(dir, files, n);
	struct slot_vocab *v = slot_vocab_new();
	struct intent_pack *p = intent_pack_load(dir, v, err, sizeof(err));
	tu_remove_dir(dir, files, n);
	if (!p)
		fail_msg("%s", err);
	struct intent_scratch *s = intent_scratch_new(p, 256);
	struct tok_buf tb;
	assert_int_equal(tok_buf_init(&tb, 256), 0);
	assert_int_equal(tok_run(&tb, text, strlen(text)), 0);
	struct intent_result r;
	intent_analyze(p, &tb, text, strlen(text), slots, -1, -1, &defaults, s, &r);
	tok_buf_free(&tb);
	intent_scratch_free(s);
	intent_pack_free(p);
	slot_vocab_free(v);
	return r.score[0];
}

/* The README: "Each distinct term counts once per message." A word that two
 * language files both list ("ean", "pulse", "iban") is one term. */
static void test_shared_term_counts_once(void **state)
{
	(void)state;
	static const struct tu_file files[] = {
		{ "rules.txt", "intent address_update\n" },
		{ "en.txt", "lang en\n[intent address_update]\n0.8 ean\n" },
		{ "de.txt", "lang de\n[intent address_update]\n0.8 ean\n" },
	};
	/* 0.551: "ean" alone is a supporting word and is not detected; got
	 * 0.798, one count per file that lists it. */
	assert_float_equal(score_in_pack(files, 3, "ean", 0), 1 - exp(-0.8), 1e-6);
}

/* "evidence SLOT W" in rules.txt: a fact found in the message adds W. */
static void test_slot_evidence(void **state)
{
	(void)state;
	static const struct tu_file files[] = {
		{ "rules.txt", "intent address_update\nneeds address\nneeds meter\n"
			       "check meter_address\nevidence address 0.7\n" },
		{ "en.txt", "lang en\n[intent address_update]\n1.0 address\n" },
	};
	assert_float_equal(score_in_pack(files, 2, "Storgata 12", 0), 0.0, 1e-9);
	assert_float_equal(score_in_pack(files, 2, "Storgata 12", INTENT_SLOT_ADDRESS),
			   1 - exp(-0.7), 1e-6);
	assert_float_equal(score_in_pack(files, 2, "Storgata 12", INTENT_SLOT_METER), 0.0, 1e-9);
	assert_float_equal(score_in_pack(files, 2, "new address: Storgata 12",
					 INTENT_SLOT_ADDRESS | INTENT_SLOT_DATE),
			   1 - exp(-1.7), 1e-6);
}

static void test_threshold(void **state)
{
	struct fx *f = *state;
	struct intent_result r;
	/* "pay*" weighs 0.6: 0.451. */
	analyze(f, "pay", -1, f->en, NULL, &r);
	assert_int_equal(r.ndetected, 0);
	assert_false(r.ambiguous); /* only one candidate */
	struct intent_opts low = { .threshold = 0.45, .margin = 0.15 };
	analyze(f, "pay", -1, f->en, &low, &r);
	assert_int_equal(r.ndetected, 1);
	assert_string_equal(intent_name(f->pack, r.rank[0]), "payment_method");
	struct intent_opts high = { .threshold = 0.9, .margin = 0.15 };
	analyze(f, "new address and meter id", -1, f->en, &high, &r);
	assert_int_equal(r.ndetected, 0); /* 0.865 */
}

static void test_ambiguity_margin(void **state)
{
	struct fx *f = *state;
	struct intent_result r;
	/* contract* and pay*: two candidates at 0.451, 0.049 below the bar. */
	analyze(f, "pay the contract", -1, f->en, NULL, &r);
	assert_int_equal(r.ndetected, 0);
	assert_true(r.ambiguous);
	assert_string_equal(intent_name(f->pack, r.rank[0]), "contract_start_date");
	assert_string_equal(intent_name(f->pack, r.rank[1]), "payment_method");
	struct intent_opts narrow = { .threshold = 0.5, .margin = 0.04 };
	analyze(f, "pay the contract", -1, f->en, &narrow, &r);
	assert_false(r.ambiguous);
	/* Once one passes, nothing is ambiguous. */
	analyze(f, "pay the contract start", -1, f->en, NULL, &r);
	assert_int_equal(r.ndetected, 1);
	assert_false(r.ambiguous);
	/* The runner-up only has to be within the margin of the bar. */
	analyze(f, "pay, move in", -1, f->en, NULL, &r); /* 0.451 and 0.393 */
	assert_true(r.ambiguous);
	struct intent_opts tight = { .threshold = 0.5, .margin = 0.12 }; /* the floor is 0.38 */
	analyze(f, "pay, move in", -1, f->en, &tight, &r);
	assert_true(r.ambiguous);
	struct intent_opts tighter = { .threshold = 0.5, .margin = 0.10 }; /* the floor is 0.40 */
	analyze(f, "pay, move in", -1, f->en, &tighter, &r);
	assert_false(r.ambiguous);
}

static void test_lang_hint_and_fallback(void **state)
{
	struct fx *f = *state;
	struct intent_result r;
	const char *de_text = "Ich möchte meine Adresse ändern und wir ziehen um";
	analyze(f, de_text, -1, f->en, NULL, &r);
	assert_int_equal(r.lang, f->de);
	assert_true(r.lang_detected);
	/* The hint wins over the evidence; the German keywords still count. */
	analyze(f, de_text, f->en, f->en, NULL, &r);
	assert_int_equal(r.lang, f->en);
	assert_false(r.lang_detected);
	assert_int_equal(r.ndetected, 1);
	assert_string_equal(intent_name(f->pack, r.rank[0]), "address_update");
	analyze(f, "I want to change my address", f->de, f->en, NULL, &r);
	assert_int_equal(r.lang, f->de);
	assert_false(r.lang_detected);

	/* No evidence: the conversation's language, else the first pack one. */
	analyze(f, "ok 42", -1, f->de, NULL, &r);
	assert_int_equal(r.lang, f->de);
	assert_false(r.lang_detected);
	analyze(f, "ok 42", -1, f->en, NULL, &r);
	assert_int_equal(r.lang, f->en);
	analyze(f, "ok 42", -1, -1, NULL, &r);
	assert_int_equal(r.lang, 0);
	assert_false(r.lang_detected);
	/* One German keyword is a weak hint (0.5): the conversation stays. */
	analyze(f, "Lastschrift", -1, f->en, NULL, &r);
	assert_int_equal(r.lang, f->en);
	assert_false(r.lang_detected);
	/* With no conversation language yet it is still better than the
	 * fallback: it decides, and the conversation takes it. */
	struct intent_opts open = { .threshold = 0.5, .margin = 0.15, .lang_open = true };
	analyze(f, "Lastschrift", -1, f->en, &open, &r);
	assert_int_equal(r.lang, f->de);
	assert_true(r.lang_detected);
	analyze(f, "ok 42", -1, f->de, &open, &r);
	assert_int_equal(r.lang, f->de);
	assert_false(r.lang_detected);
	/* A character only German uses is evidence on its own. */
	analyze(f, "Straße", -1, f->en, NULL, &r);
	assert_int_equal(r.lang, f->de);
	assert_true(r.lang_detected);
	/* Neither letters nor words of the names (an address) are: "Die
	 * Straße 5" in an English conversation stays English. */
	const char *addr = "new: Die Straße 5";
	struct intent_opts names = { .threshold = 0.5, .margin = 0.15, .names_off = 5,
				     .names_len = strlen(addr) - 5 };
	analyze(f, addr, -1, f->en, &names, &r);
	assert_int_equal(r.lang, f->en);
	analyze(f, addr, -1, f->en, NULL, &r);
	assert_int_equal(r.lang, f->de);
	/* A term both files list says both languages: "powerwall" adds to
	 * English "battery" as much as to German, so English wins. */
	analyze(f, "battery powerwall", -1, f->de, NULL, &r);
	assert_int_equal(r.lang, f->en);
	/* Nor are a Dutch postcode's letters: "3511 TO" is no English "to";
	 * written small they are the word. */
	analyze(f, "3511 TO", -1, f->de, NULL, &r);
	assert_int_equal(r.lang, f->de);
	assert_false(r.lang_detected);
	analyze(f, "3511 to", -1, f->de, NULL, &r);
	assert_int_equal(r.lang, f->en);
}

static void test_hits_and_triggers(void **state)
{
	struct fx *f = *state;
	struct intent_result r;
	analyze(f, "Stromzählernummer", -1, f->en, NULL, &r);
	assert_int_equal(r.nhits >= 1, 1);
	bool found = false;
	for (uint32_t h = 0; h < r.nhits; h++) {
		const char *kind, *target, *term, *lang;
		intent_entry_describe(f->pack, r.hits[h].entry, &kind, &target, &term, &lang);
		if (strcmp(kind, "intent") == 0) {
			assert_string_equal(target, "address_update");
			assert_string_equal(term, "*zählernummer");
			assert_string_equal(lang, "de");
			assert_false(r.hits[h].typo);
			assert_int_equal(r.hits[h].tok_first, 0);
			found = true;
		}
	}
	assert_true(found);

	analyze(f, "my new adress", -1, f->en, NULL, &r);
	found = false;
	for (uint32_t h = 0; h < r.nhits; h++) {
		const char *kind, *target, *term, *lang;
		intent_entry_describe(f->pack, r.hits[h].entry, &kind, &target, &term, &lang);
		if (strcmp(kind, "intent") == 0) {
			/* One edit from "address" (en) and "adresse" (de): one of them. */
			assert_true(strcmp(term, "address") == 0 || strcmp(term, "adresse") == 0);
			assert_string_equal(target, "address_update");
			assert_true(r.hits[h].typo);
			assert_int_equal(r.hits[h].tok_first, 2);
			found = true;
		}
	}
	assert_true(found);

	/* Every mention is reported, each with why it does not escalate. */
	analyze(f, "no solar, my phone battery is dead, but modbus works", -1, f->en, NULL, &r);
	assert_int_equal(r.ntriggers, 3);
	int seen = 0;
	for (uint8_t k = 0; k < r.ntriggers; k++) {
		const struct intent_trigger *t = &r.triggers[k];
		const char *topic = intent_topic_name(f->pack, t->topic);
		if (strcmp(topic, "solar") == 0) {
			assert_true(t->negated);
			assert_false(t->excluded);
			seen |= 1;
		} else if (strcmp(topic, "battery") == 0) {
			assert_int_equal(t->excluded, INTENT_EXCL_LOOKALIKE);
			seen |= 2;
		} else {
			assert_string_equal(topic, "modbus");
			assert_false(t->negated || t->excluded);
			seen |= 4;
		}
	}
	assert_int_equal(seen, 7);
	assert_int_equal(r.topics, 1u << r.triggers[2].topic);

	/* A trigger inside the address is part of its name; one outside it
	 * still escalates. */
	analyze_at_place(f, "moving to Solar Street 4, we have solar", "Solar Street 4", &r);
	assert_int_equal(r.ntriggers, 2);
	assert_int_equal(r.triggers[0].excluded, INTENT_EXCL_PLACE);
	assert_false(r.triggers[1].excluded || r.triggers[1].negated);
	analyze_at_place(f, "moving to Solar Street 4", "Solar Street 4", &r);
	assert_int_equal(r.topics, 0);
	analyze(f, "moving to Solar Street 4", -1, f->en, NULL, &r);
	assert_int_not_equal(r.topics, 0);
	/* A number after the trigger is no street's name: a Modbus address. */
	analyze_at_place(f, "slave address: modbus 247", "modbus 247", &r);
	assert_int_equal(r.ntriggers, 1);
	assert_int_equal(r.triggers[0].excluded, INTENT_EXCL_NONE);
	/* An owned trigger says why. */
	analyze(f, "my electric car has a big battery", -1, f->en, NULL, &r);
	assert_int_equal(r.ntriggers, 1);
	assert_int_equal(r.triggers[0].excluded, INTENT_EXCL_OWNED);
}

/* ---- broken packs ---- */

static const char good_rules[] =
	"# rules\n"
	"intent contract_start_date\n"
	"needs date\n"
	"needs meter|address\n"
	"check supply_start\n"
	"\n"
	"intent address_update\n";

/* Loads a pack made of files and checks that loading fails with want in
 * the message. */
static void expect_load_error(const struct tu_file *files, size_t n, const char *want)
{
	char dir[] = "/tmp/aa_pack_XXXXXX", err[512] = "";
	tu_write_dir(dir, files, n);
	struct slot_vocab *v = slot_vocab_new();
	assert_non_null(v);
	struct intent_pack *p = intent_pack_load(dir, v, err, sizeof(err));
	intent_pack_free(p);
	slot_vocab_free(v);
	tu_remove_dir(dir, files, n);
	if (p)
		fail_msg("the pack loaded; expected an error with \"%s\"", want);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
}

static void test_load_errors(void **state)
{
	(void)state;
	static const struct {
		const char *en, *want;
	} cases[] = {
		{ "lang en\n[intent contract_start_date]\n1.0 contract\n[synonyms]\n",
		  "en.txt:4: unknown section [synonyms]" },
		{ "lang en\n[intent contract_start_date]\n1.0 con*tract\n",
		  "en.txt:3: '*' may only start or end a term" },
		{ "lang en\n[l2 solar]\nsolar pa*nel\n",
		  "en.txt:3: '*' may only start or end a term" },
		{ "lang en\n\n[intent contract_start_date]\nheavy contract\n",
		  "en.txt:4: expected \"WEIGHT TERM\"" },
		{ "lang en\n[intent contract_start_date]\n0 contract\n",
		  "en.txt:3: expected \"WEIGHT TERM\"" },
		{ "lang en\n[intent contract_start_date]\n-11 contract\n",
		  "en.txt:3: expected \"WEIGHT TERM\"" },
		{ "lang en\n[intent contract_start_date]\n11 contract\n",
		  "en.txt:3: expected \"WEIGHT TERM\"" },
		{ "lang en\n[intent contract_start_date]\n1.0x contract\n",
		  "en.txt:3: expected \"WEIGHT TERM\"" },
		{ "lang en\n[intent contract_start_date]\n1.0\n",
		  "en.txt:3: expected \"WEIGHT TERM\"" },
		{ "lang en\n# a comment\n[intent refund]\n1.0 money back\n",
		  "en.txt:3: intent \"refund\" is not in rules.txt" },
		{ "[intent contract_start_date]\n1.0 contract\n",
		  "en.txt:1: a section before the 'lang' line" },
		{ "lang en\n[dates]\nmonths jan feb mar\n", "en.txt:3: " },
		{ "lang en\n[negation]\nafter not\n", "en.txt:3: negation lines start with" },
		{ "lang en\n[owners]\nthing car\n", "en.txt:3: owners lines start with owner or have" },
		{ "lang en\n[negation]\npre no | not\n", "en.txt:3: words are separated by spaces here" },
		{ "lang en\nlang en\n", "en.txt:2: bad or repeated lang line" },
		{ "name English\n", "en.txt:1: the first line must be 'lang CODE'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tu_file files[] = { { "rules.txt", good_rules }, { "en.txt", cases[i].en } };
		expect_load_error(files, 2, cases[i].want);
	}
}

static void test_load_errors_rules(void **state)
{
	(void)state;
	const struct tu_file no_rules[] = { { "en.txt", "lang en\n" } };
	expect_load_error(no_rules, 1, "rules.txt: No such file");

	const struct tu_file bad_slot[] = { { "rules.txt", "intent a\n\nneeds colour\n" },
					 { "en.txt", "lang en\n" } };
	expect_load_error(bad_slot, 2, "rules.txt:3: unknown slot \"colour\"");
	const struct tu_file bad_check[] = { { "rules.txt", "intent a\ncheck credit\n" },
					  { "en.txt", "lang en\n" } };
	expect_load_error(bad_check, 2, "rules.txt:2: unknown check \"credit\"");
	const struct tu_file twice[] = { { "rules.txt", "intent a\nintent a\n" },
				      { "en.txt", "lang en\n" } };
	expect_load_error(twice, 2, "rules.txt:2: intent a defined twice");
	const struct tu_file orphan[] = { { "rules.txt", "needs date\nintent a\n" },
				       { "en.txt", "lang en\n" } };
	expect_load_error(orphan, 2, "rules.txt:1: ");
	const struct tu_file no_weight[] = { { "rules.txt", "intent a\nevidence date\n" },
					  { "en.txt", "lang en\n" } };
	expect_load_error(no_weight, 2, "rules.txt:2: expected \"evidence SLOT WEIGHT\"");
	const struct tu_file two_slots[] = { { "rules.txt", "intent a\nevidence date|meter 0.5\n" },
					  { "en.txt", "lang en\n" } };
	expect_load_error(two_slots, 2, "rules.txt:2: expected \"evidence SLOT WEIGHT\"");
	const struct tu_file big[] = { { "rules.txt", "intent a\nevidence date 20\n" },
				    { "en.txt", "lang en\n" } };
	expect_load_error(big, 2, "rules.txt:2: expected \"evidence SLOT WEIGHT\"");
	/* Templates are found by the code, so the file is named by it. */
	const struct tu_file same_lang[] = { { "rules.txt", good_rules },
					  { "en.txt", "lang en\n" },
					  { "en2.txt", "lang en\n" } };
	expect_load_error(same_lang, 3, "en2.txt:1: says lang en, but the file is en2.txt");
	/* Ids are written into template keys: "[maint_repair.answer]". */
	const struct tu_file bad_id[] = { { "rules.txt", "intent maint-repair\n" },
				       { "en.txt", "lang en\n" } };
	expect_load_error(bad_id, 2, "rules.txt:1: the intent \"maint-repair\" must be one word");
	const struct tu_file spaced_id[] = { { "rules.txt", "intent maint repair\n" },
					  { "en.txt", "lang en\n" } };
	expect_load_error(spaced_id, 2, "rules.txt:1: the intent \"maint repair\" must be one word");
	const struct tu_file bad_topic[] = { { "rules.txt", good_rules },
					  { "en.txt", "lang en\n[l2 Home]\nhome battery\n" } };
	expect_load_error(bad_topic, 2, "en.txt:2: the L2 topic \"Home\" must be lower-case");
	/* The weight's error quotes the line. */
	const struct tu_file bad_weight[] = { { "rules.txt", good_rules },
					   { "en.txt", "lang en\n[intent address_update]\n1,0 adresse\n" } };
	expect_load_error(bad_weight, 2, "other than 0 and a term, not \"1,0 adresse\"");

	char err[256] = "";
	struct slot_vocab *v = slot_vocab_new();
	assert_null(intent_pack_load("/nonexistent/aa_pack", v, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/aa_pack/rules.txt"));

	/* A pack written before 'yields' took [elsewhere] in still loads. */
	const struct tu_file old_name[] = { { "rules.txt", "intent a\nyields_to_l2\n" },
					    { "en.txt", "lang en\n" } };
	char dir[] = "/tmp/aa_pack_XXXXXX";
	tu_write_dir(dir, old_name, 2);
	struct intent_pack *p = intent_pack_load(dir, v, err, sizeof(err));
	tu_remove_dir(dir, old_name, 2);
	assert_non_null(p);
	assert_true(intent_rule(p, 0)->yields);
	intent_pack_free(p);
	slot_vocab_free(v);
}

/* intent.h: a scratch sized for messages of max_bytes refuses a larger
 * message rather than analyse part of it: a trigger past the cut would be
 * missed silently. */
static void test_scratch_refuses_larger_messages(void **state)
{
	struct fx *f = *state;
	struct intent_scratch *small = intent_scratch_new(f->pack, 16);
	assert_non_null(small);
	char text[400];
	int n = snprintf(text, sizeof(text), "we have solar panels and ");
	memset(text + n, 'a', 300);
	text[n + 300] = '\0';
	assert_int_equal(tok_run(&f->tb, text, strlen(text)), 0);
	struct intent_result r;
	assert_int_equal(intent_analyze(f->pack, &f->tb, text, strlen(text), 0, -1, f->en,
					 &defaults, small, &r), -1);
	/* Within its size it works. */
	const char *fits = "solar panels";
	assert_int_equal(tok_run(&f->tb, fits, strlen(fits)), 0);
	assert_int_equal(intent_analyze(f->pack, &f->tb, fits, strlen(fits), 0, -1, f->en,
					 &defaults, small, &r), 0);
	assert_int_not_equal(r.topics, 0);
	intent_scratch_free(small);
}

/* Kept last: with -fno-sanitize-recover (the CMake sanitizer build) UBSan
 * ends the process at qsort(NULL, 0, ...) in intent_pack_load when the
 * directory holds no language file. */
static void test_load_error_no_languages(void **state)
{
	(void)state;
	const struct tu_file no_langs[] = { { "rules.txt", good_rules },
					 { "notes.md", "not a language file\n" } };
	expect_load_error(no_langs, 2, "no language files");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_cases),
		cmocka_unit_test(test_pack_contents),
		cmocka_unit_test(test_scores),
		cmocka_unit_test(test_shared_term_counts_once),
		cmocka_unit_test(test_slot_evidence),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_ambiguity_margin),
		cmocka_unit_test(test_lang_hint_and_fallback),
		cmocka_unit_test(test_hits_and_triggers),
		cmocka_unit_test(test_scratch_refuses_larger_messages),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_errors_rules),
		cmocka_unit_test(test_load_error_no_languages),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
