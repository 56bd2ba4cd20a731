/* Tests for registry: the grid registry file, lookups by meter ID and by
 * address as an engine plan asks for them (Norwegian, Swedish, German,
 * Dutch and British addresses), malformed files, and no registry at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "registry.h"

#define PACK_DIR FIXTURE_DIR "/pack"
#define TEMPLATES_DIR AUTOASSIST_SOURCE_DIR "/templates"
#define REGISTRY FIXTURE_DIR "/registry.jsonl"

static const struct slot_date TODAY = { 2026, 11, 26 };

struct fx {
	struct engine *e;
	struct engine_scratch *scr;
	struct reg_file *reg;
	struct engine_session s;
	struct engine_plan plan;
	struct engine_results res;
	struct engine_reply reply;
};

static int setup(void **state)
{
	char err[512] = "";
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->e = engine_load(PACK_DIR, TEMPLATES_DIR, NULL, err, sizeof(err));
	if (!f->e) {
		fprintf(stderr, "engine_load: %s\n", err);
		return -1;
	}
	f->reg = reg_file_load(REGISTRY, f->e, err, sizeof(err));
	if (!f->reg) {
		fprintf(stderr, "reg_file_load: %s\n", err);
		return -1;
	}
	if (!(f->scr = engine_scratch_new(f->e)))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	reg_file_free(f->reg);
	engine_scratch_free(f->scr);
	engine_free(f->e);
	free(f);
	return 0;
}

/* Decides text in a new conversation, looks it up in reg and says it. */
static void ask(struct fx *f, const struct reg_file *reg, const char *text)
{
	engine_session_init(&f->s, -1);
	assert_int_equal(engine_decide(f->e, f->scr, &f->s, text, strlen(text), TODAY, &f->plan), 0);
	memset(&f->res, 0x5a, sizeof(f->res)); /* the lookup must fill what it reports */
	f->res.ticket = ENGINE_TICKET_NONE;
	f->res.ticket_ref[0] = '\0';
	reg_file_lookup(reg, f->e, &f->plan, &f->res);
	assert_int_equal(engine_say(f->e, &f->s, &f->plan, &f->res, &f->reply), 0);
}

/* The outcome of intent in the reply, or -1. */
static int outcome_of(struct fx *f, const char *intent)
{
	int i = intent_find(engine_pack(f->e), intent);
	for (uint8_t k = 0; k < f->reply.nparts; k++)
		if (f->reply.parts[k].intent == i)
			return f->reply.parts[k].outcome;
	return -1;
}

static void test_load(void **state)
{
	struct fx *f = *state;
	assert_int_equal(reg_file_count(f->reg), 6); /* a blank line is skipped */
	assert_int_equal(reg_file_count(NULL), 0);
}

static const struct {
	const char *text;
	uint8_t lookup, registry;
	const char *meter, *street, *postcode, *city, *start; /* the record found */
	const char *intent;
	uint8_t outcome;
} cases[] = {
	/* Norway: by address, with its postcode; by meter ID. */
	{ "When does the contract start? We move in on 1 March 2027. My new address is "
	  "Storgata 12B, 0155 Oslo.",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_FOUND, "707057500012345671", "Storgata 12B", "0155",
	  "Oslo", "2027-03-01", "contract_start_date", ENGINE_OUT_CONFIRMED },
	{ "When does the contract start? We move in on 1 March 2027. My new address is "
	  "Storgata 12B, 0156 Oslo.",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_NOT_FOUND, NULL, NULL, NULL, NULL, NULL,
	  "contract_start_date", ENGINE_OUT_NOT_FOUND },
	{ "When does the contract start? We move in on 1 March 2027. My new address is "
	  "Storgata 12 B.",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_FOUND, "707057500012345671", "Storgata 12B", "0155",
	  "Oslo", "2027-03-01", "contract_start_date", ENGINE_OUT_CONFIRMED },
	{ "When does my contract start? We move in on 1 April 2027, meter 707057500098765431",
	  ENGINE_LOOKUP_METER, ENGINE_REG_FOUND, "707057500098765431", "Storgata 14", "0155",
	  "Oslo", "2027-04-15", "contract_start_date", ENGINE_OUT_MISMATCH },
	/* The meter ID belongs to Storgata 14, not 12B. */
	{ "New address is Storgata 12B, 0155 Oslo, meter ID 707057500098765431",
	  ENGINE_LOOKUP_METER, ENGINE_REG_FOUND, "707057500098765431", "Storgata 14", "0155",
	  "Oslo", "2027-04-15", "address_update", ENGINE_OUT_MISMATCH },
	{ "New address is Storgata 12B, 0155 Oslo, meter ID 707057500012345671",
	  ENGINE_LOOKUP_METER, ENGINE_REG_FOUND, "707057500012345671", "Storgata 12B", "0155",
	  "Oslo", "2027-03-01", "address_update", ENGINE_OUT_CONFIRMED },
	/* A city without a postcode that the registry lists: the same town
	 * in capitals is Oslo's, Berlin's (test_cities has other towns). */
	{ "When does the contract start? We move in on 1 March 2027. My new address is "
	  "Storgata 12B, Oslo.",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_FOUND, "707057500012345671", "Storgata 12B", "0155",
	  "Oslo", "2027-03-01", "contract_start_date", ENGINE_OUT_CONFIRMED },
	{ "Wann beginnt mein Vertrag? Einzug am 15. März 2027 in die Hauptstraße 5, BERLIN.",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_FOUND, "1ESY1160571234", "Hauptstraße 5", "10115",
	  "Berlin", "2027-03-15", "contract_start_date", ENGINE_OUT_CONFIRMED },
	/* Where both give a postcode, it decides: the city is not compared. */
	{ "New address is Storgata 12B, 0155 Bergen, meter ID 707057500012345671",
	  ENGINE_LOOKUP_METER, ENGINE_REG_FOUND, "707057500012345671", "Storgata 12B", "0155",
	  "Oslo", "2027-03-01", "address_update", ENGINE_OUT_CONFIRMED },
	/* Sweden: the file writes the ID in groups, so does the customer. */
	{ "When does my contract start? We move in on 1 April 2027, meter 7359 9900 0000 1234 53",
	  ENGINE_LOOKUP_METER, ENGINE_REG_FOUND, "735999000000123453", "Drottninggatan 5",
	  "111 51", "Stockholm", "2027-04-01", "contract_start_date", ENGINE_OUT_CONFIRMED },
	{ "When does the contract start? We move in on 1 April 2027, new address is "
	  "Drottninggatan 5, 111 51 Stockholm",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_FOUND, "735999000000123453", "Drottninggatan 5",
	  "111 51", "Stockholm", "2027-04-01", "contract_start_date", ENGINE_OUT_CONFIRMED },
	/* Germany: "Hauptstr." is "Hauptstraße"; a meter number in any case. */
	{ "Wann beginnt mein Vertrag? Einzug am 15. März 2027 in die Hauptstr. 5",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_FOUND, "1ESY1160571234", "Hauptstraße 5", "10115",
	  "Berlin", "2027-03-15", "contract_start_date", ENGINE_OUT_CONFIRMED },
	{ "Wann beginnt mein Vertrag? Einzug am 15. März 2027, Zählernummer 1ESY 1160 5712 34",
	  ENGINE_LOOKUP_METER, ENGINE_REG_FOUND, "1ESY1160571234", "Hauptstraße 5", "10115",
	  "Berlin", "2027-03-15", "contract_start_date", ENGINE_OUT_CONFIRMED },
	{ "Wann beginnt mein Vertrag? Einzug am 15. März 2027 in die Hauptstraße 7",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_NOT_FOUND, NULL, NULL, NULL, NULL, NULL,
	  "contract_start_date", ENGINE_OUT_NOT_FOUND },
	/* The Netherlands: "1015CJ" is "1015 CJ". */
	{ "When does the contract start? We move in on 1 May 2027, new address is "
	  "Keizersgracht 100, 1015CJ Amsterdam",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_FOUND, "871687400012345677", "Keizersgracht 100",
	  "1015 CJ", "Amsterdam", "2027-05-01", "contract_start_date", ENGINE_OUT_CONFIRMED },
	{ "new address is Keizersgracht 100, 1015 CJ Amsterdam, meter id 8716 8740 0012 3456 77",
	  ENGINE_LOOKUP_METER, ENGINE_REG_FOUND, "871687400012345677", "Keizersgracht 100",
	  "1015 CJ", "Amsterdam", "2027-05-01", "address_update", ENGINE_OUT_CONFIRMED },
	/* The United Kingdom: the number first, or last. */
	{ "When does the contract start? We move in on 1 June 2027, new address is "
	  "221B Baker Street",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_FOUND, "506000000000123454", "221B Baker Street",
	  "NW1 6XE", "London", "2027-06-01", "contract_start_date", ENGINE_OUT_CONFIRMED },
	{ "When does the contract start? We move in on 1 June 2027, new address is "
	  "Baker Street 221B",
	  ENGINE_LOOKUP_ADDRESS, ENGINE_REG_FOUND, "506000000000123454", "221B Baker Street",
	  "NW1 6XE", "London", "2027-06-01", "contract_start_date", ENGINE_OUT_CONFIRMED },
	/* Unknown meter ID. */
	{ "When does my contract start? We move in on 1 March 2027, meter 707057500011111116",
	  ENGINE_LOOKUP_METER, ENGINE_REG_NOT_FOUND, NULL, NULL, NULL, NULL, NULL,
	  "contract_start_date", ENGINE_OUT_NOT_FOUND },
	/* Nothing to look up: the registry is not asked. */
	{ "Can I take my pulse with me?", ENGINE_LOOKUP_NONE, ENGINE_REG_NOT_ASKED, NULL, NULL,
	  NULL, NULL, NULL, "pulse_relocation", ENGINE_OUT_ANSWER },
	{ "When does my contract start? We move in on 1 March 2027, meter 707057500012345675",
	  ENGINE_LOOKUP_NONE, ENGINE_REG_NOT_ASKED, NULL, NULL, NULL, NULL, NULL,
	  "contract_start_date", ENGINE_OUT_BAD_METER },
};

static void test_lookups(void **state)
{
	struct fx *f = *state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ask(f, f->reg, cases[i].text);
		if (f->plan.lookup != cases[i].lookup || f->res.registry != cases[i].registry)
			fail_msg("\"%s\": lookup %d registry %d, want %d %d", cases[i].text,
				 f->plan.lookup, f->res.registry, cases[i].lookup, cases[i].registry);
		if (cases[i].meter) {
			const struct engine_record *r = &f->res.record;
			char start[16];
			snprintf(start, sizeof(start), "%04d-%02d-%02d", r->supply_start.y,
				 r->supply_start.m, r->supply_start.d);
			if (strcmp(r->meter_id, cases[i].meter) || strcmp(r->street, cases[i].street) ||
			    strcmp(r->postcode, cases[i].postcode) || strcmp(r->city, cases[i].city) ||
			    strcmp(start, cases[i].start))
				fail_msg("\"%s\": found %s, %s, %s %s, %s", cases[i].text, r->meter_id,
					 r->street, r->postcode, r->city, start);
		}
		int oc = outcome_of(f, cases[i].intent);
		if (oc != cases[i].outcome)
			fail_msg("\"%s\": %s is %s, want %s\n%s", cases[i].text, cases[i].intent,
				 oc < 0 ? "not answered" : engine_outcome_name((enum engine_outcome)oc),
				 engine_outcome_name((enum engine_outcome)cases[i].outcome),
				 f->reply.text);
	}
}

/* The registry's date is what the customer is told on a mismatch. */
static void test_mismatch_reply_shows_registry_date(void **state)
{
	struct fx *f = *state;
	ask(f, f->reg,
	    "When does my contract start? We move in on 1 April 2027, meter 707057500098765431");
	assert_string_equal(f->reply.text,
			    "The grid registry shows 15 April 2027 as the supply start at your new "
			    "address, not 1 April 2027. I can only confirm your contract for 15 April "
			    "2027. Please check your move-in date.");
}

static void test_no_registry(void **state)
{
	struct fx *f = *state;
	ask(f, NULL, "When does my contract start? We move in on 1 March 2027, meter "
		     "707057500012345671");
	assert_int_equal(f->plan.lookup, ENGINE_LOOKUP_METER);
	assert_int_equal(f->res.registry, ENGINE_REG_UNAVAILABLE);
	assert_int_equal(outcome_of(f, "contract_start_date"), ENGINE_OUT_UNAVAILABLE);
	assert_null(strstr(f->reply.text, "confirmed your"));
	ask(f, NULL, "Can I take my pulse with me?");
	assert_int_equal(f->res.registry, ENGINE_REG_NOT_ASKED);
	assert_int_equal(outcome_of(f, "pulse_relocation"), ENGINE_OUT_ANSWER);
}

/* ---- malformed files ---- */

/* Writes text to a temporary file and loads it; returns the registry or
 * NULL with err, and the file's path in path. */
static struct reg_file *load_text(const struct engine *e, const char *text, char *path,
				  char *err, size_t errlen)
{
	strcpy(path, "/tmp/aa_registry_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *out = fdopen(fd, "w");
	assert_non_null(out);
	fputs(text, out);
	fclose(out);
	struct reg_file *r = reg_file_load(path, e, err, errlen);
	unlink(path);
	return r;
}

#define GOOD "{\"meter_id\": \"707057500012345671\", \"address\": \"Storgata 12B\", " \
	     "\"postcode\": \"0155\", \"city\": \"Oslo\", \"supply_start\": \"2027-03-01\"}\n"

static void expect_refused(const struct engine *e, const char *text, int line, const char *why)
{
	char path[64], err[512] = "", want[600];
	struct reg_file *r = load_text(e, text, path, err, sizeof(err));
	if (r) {
		reg_file_free(r);
		fail_msg("the file loaded; want line %d refused: %s\n%s", line, why, text);
	}
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, why);
	if (!strstr(err, want))
		fail_msg("error \"%s\", want \"%s\"", err, want);
}

static void test_malformed_lines(void **state)
{
	struct fx *f = *state;
	expect_refused(f->e, GOOD "this is not JSON\n", 2, "not valid JSON");
	expect_refused(f->e, GOOD "\n" GOOD "[\"707057500012345671\"]\n", 4, "not a JSON object");
	expect_refused(f->e, GOOD "{\"meter_id\": \"707057500012345671\", \"address\": \"Sto\n", 2,
		       "not valid JSON");
	expect_refused(f->e, "{\"address\": \"Storgata 12B\", \"supply_start\": \"2027-03-01\"}\n", 1,
		       "meter_id, address and supply_start are required strings");
	expect_refused(f->e, "{\"meter_id\": 707057500012345671, \"address\": \"Storgata 12B\", "
		       "\"supply_start\": \"2027-03-01\"}\n", 1,
		       "meter_id, address and supply_start are required strings");
	expect_refused(f->e, "\n\n{\"meter_id\": \"707057500012345671\", \"address\": \"Storgata 12B\", "
		       "\"supply_start\": \"2027-02-30\"}\n", 3,
		       "supply_start is not a YYYY-MM-DD date");
	expect_refused(f->e, GOOD "{\"meter_id\": \"707057500012345671\", \"address\": \"Storgata 12B\", "
		       "\"supply_start\": \"01.03.2027\"}\n", 2,
		       "supply_start is not a YYYY-MM-DD date");

	/* Meter IDs that could not be told apart: cut short, empty, or the
	 * same one twice (the file's lookup would answer with the first,
	 * Redis with the last). */
	const char *bad_meter = "meter_id is empty, over 39 characters or has a control character";
	expect_refused(f->e, "{\"meter_id\": \" \", \"address\": \"A 1\", \"supply_start\": "
		       "\"2027-01-01\"}\n", 1, bad_meter);
	expect_refused(f->e, GOOD "{\"meter_id\": \"1234567890123456789012345678901234567890\", "
		       "\"address\": \"A 1\", \"supply_start\": \"2027-01-01\"}\n", 2, bad_meter);
	expect_refused(f->e, "{\"meter_id\": \"7070\\u001b5750\", \"address\": \"A 1\", "
		       "\"supply_start\": \"2027-01-01\"}\n", 1, bad_meter);
	expect_refused(f->e, GOOD "\n{\"meter_id\": \"7070 5750 0012 3456 71\", \"address\": "
		       "\"Kongens gate 5\", \"supply_start\": \"2020-01-01\"}\n", 3,
		       "meter 707057500012345671 is listed already (line 1)");
	expect_refused(f->e, GOOD "{\"meter_id\": \"7070-5750-0012-3456-71\", \"address\": "
		       "\"Kongens gate 5\", \"supply_start\": \"2020-01-01\"}\n", 2,
		       "meter 707057500012345671 is listed already (line 1)");
	/* A Latin-1 export: "Hauptstraße" with ß as the one byte 0xDF. */
	expect_refused(f->e, GOOD "{\"meter_id\": \"1ESY1160571234\", \"address\": "
		       "\"Hauptstra\xdf" "e 5\", \"supply_start\": \"2027-01-01\"}\n", 2,
		       "not valid UTF-8 (save the file as UTF-8)");

	char path[64], err[512] = "";
	struct reg_file *r = load_text(f->e, "", path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(reg_file_count(r), 0);
	reg_file_free(r);
	/* What a spreadsheet saves as "UTF-8": a byte order mark first. */
	r = load_text(f->e, "\xEF\xBB\xBF" GOOD, path, err, sizeof(err));
	if (!r)
		fail_msg("a file with a byte order mark: %s", err);
	assert_int_equal(reg_file_count(r), 1);
	assert_true(reg_file_has(r, "707057500012345671"));
	reg_file_free(r);
	/* The last line may lack its newline. */
	r = load_text(f->e, GOOD "{\"meter_id\": \"2\", \"address\": \"x 2\", \"supply_start\": "
			 "\"2027-01-01\"}\n{\"meter_id\": \"1\", \"address\": \"x 1\", \"supply_start\": "
			 "\"2027-01-01\"}", path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(reg_file_count(r), 3);
	reg_file_free(r);

	assert_null(reg_file_load("/nonexistent/registry.jsonl", f->e, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/registry.jsonl"));
	assert_non_null(strstr(err, "No such file"));
}

/* A street address in two towns: without the customer's postcode the
 * registry has no one answer, and the first town's date is not confirmed. */
static void test_two_towns_without_postcode(void **state)
{
	struct fx *f = *state;
	char path[64], err[512] = "";
	struct reg_file *r = load_text(f->e, GOOD "{\"meter_id\": \"707057500098765431\", \"address\": "
				       "\"Storgata 12B\", \"postcode\": \"5003\", \"city\": \"Bergen\", "
				       "\"supply_start\": \"2027-03-15\"}\n", path, err, sizeof(err));
	assert_non_null(r);
	const char *ask_for = "When does the contract start? We move in on 1 March 2027. "
			      "My new address is Storgata 12B";
	char text[256];
	ask(f, r, ask_for);
	assert_int_equal(f->res.registry, ENGINE_REG_NOT_FOUND);
	assert_int_equal(outcome_of(f, "contract_start_date"), ENGINE_OUT_NOT_FOUND);
	snprintf(text, sizeof(text), "%s, 0155 Oslo.", ask_for);
	ask(f, r, text);
	assert_int_equal(outcome_of(f, "contract_start_date"), ENGINE_OUT_CONFIRMED);
	snprintf(text, sizeof(text), "%s, 5003 Bergen.", ask_for);
	ask(f, r, text);
	assert_int_equal(f->res.registry, ENGINE_REG_FOUND);
	assert_string_equal(f->res.record.city, "Bergen");
	assert_int_equal(outcome_of(f, "contract_start_date"), ENGINE_OUT_MISMATCH);
	/* A town named without its postcode tells them apart too. */
	snprintf(text, sizeof(text), "%s, Oslo.", ask_for);
	ask(f, r, text);
	assert_int_equal(outcome_of(f, "contract_start_date"), ENGINE_OUT_CONFIRMED);
	snprintf(text, sizeof(text), "%s, Bergen.", ask_for);
	ask(f, r, text);
	assert_int_equal(f->res.registry, ENGINE_REG_FOUND);
	assert_string_equal(f->res.record.city, "Bergen");
	reg_file_free(r);

	/* A record without a postcode first rules no town out: the two
	 * after it still make the street ambiguous. */
	r = load_text(f->e, "{\"meter_id\": \"707057500011111116\", \"address\": \"Storgata 12B\", "
			 "\"supply_start\": \"2027-03-01\"}\n" GOOD
			 "{\"meter_id\": \"707057500098765431\", \"address\": \"Storgata 12B\", "
			 "\"postcode\": \"5003\", \"supply_start\": \"2027-03-15\"}\n",
		      path, err, sizeof(err));
	assert_non_null(r);
	ask(f, r, ask_for);
	assert_int_equal(f->res.registry, ENGINE_REG_NOT_FOUND);
	/* With the customer's postcode, its record answers, not the one
	 * without a postcode before it. */
	snprintf(text, sizeof(text), "%s, 5003 Bergen.", ask_for);
	ask(f, r, text);
	assert_int_equal(f->res.registry, ENGINE_REG_FOUND);
	assert_string_equal(f->res.record.meter_id, "707057500098765431");
	reg_file_free(r);
}

/* Supply points at one street address that start on different days (a
 * block of flats) leave the address no answer, so the customer is asked
 * for the meter ID; where they all start on one day, the first answers. */
static void test_several_starts(void **state)
{
	struct fx *f = *state;
	char path[64], err[512] = "";
	struct reg_file *r = load_text(f->e,
		"{\"meter_id\": \"A1\", \"address\": \"Storgata 20\", \"postcode\": \"0168\", "
		"\"supply_start\": \"2027-03-01\"}\n"
		"{\"meter_id\": \"A2\", \"address\": \"Storgata 20\", \"postcode\": \"0168\", "
		"\"supply_start\": \"2027-04-01\"}\n"
		"{\"meter_id\": \"B1\", \"address\": \"Storgata 22\", \"postcode\": \"0168\", "
		"\"supply_start\": \"2027-03-01\"}\n"
		"{\"meter_id\": \"B2\", \"address\": \"Storgata 22\", \"postcode\": \"0168\", "
		"\"supply_start\": \"2027-03-01\"}\n",
		path, err, sizeof(err));
	assert_non_null(r);
#define Q "When does the contract start? We move in on 1 March 2027. My new address is "
	ask(f, r, Q "Storgata 20, 0168 Oslo.");
	assert_int_equal(f->res.registry, ENGINE_REG_SEVERAL);
	assert_int_equal(outcome_of(f, "contract_start_date"), ENGINE_OUT_SEVERAL);
	ask(f, r, Q "Storgata 20.");
	assert_int_equal(f->res.registry, ENGINE_REG_SEVERAL);
	ask(f, r, Q "Storgata 22, 0168 Oslo.");
	assert_int_equal(f->res.registry, ENGINE_REG_FOUND);
	assert_string_equal(f->res.record.meter_id, "B1");
	assert_int_equal(outcome_of(f, "contract_start_date"), ENGINE_OUT_CONFIRMED);
#undef Q
	reg_file_free(r);
}

/* A city named without a postcode rules out the records in other towns,
 * where the registry lists a record in it: Bergen is a town here, "Thanks"
 * is none. A district after a listed town's name is in it. */
static void test_cities(void **state)
{
	struct fx *f = *state;
	char path[64], err[512] = "";
	struct reg_file *r = load_text(
		f->e,
		GOOD "{\"meter_id\": \"707057500098765431\", \"address\": \"Bryggen 15\", "
		     "\"postcode\": \"5003\", \"city\": \"Bergen\", \"supply_start\": \"2027-03-15\"}\n"
		     "{\"meter_id\": \"1ESY1160571234\", \"address\": \"Hauptstraße 5\", "
		     "\"city\": \"Berlin-Mitte\", \"supply_start\": \"2027-03-15\"}\n"
		     "{\"meter_id\": \"1ESY1160579999\", \"address\": \"Torstraße 1\", "
		     "\"city\": \"Berlin\", \"supply_start\": \"2027-03-15\"}\n",
		path, err, sizeof(err));
	assert_non_null(r);
	const char *move = "When does the contract start? We move in on 1 March 2027. "
			   "My new address is Storgata 12B";
	static const struct {
		const char *place;
		uint8_t registry, outcome;
	} places[] = {
		{ ", Bergen.", ENGINE_REG_NOT_FOUND, ENGINE_OUT_NOT_FOUND },
		{ ", Oslo.", ENGINE_REG_FOUND, ENGINE_OUT_CONFIRMED },
		{ ", Thanks.", ENGINE_REG_FOUND, ENGINE_OUT_CONFIRMED },
		{ ", 0155 Bergen.", ENGINE_REG_FOUND, ENGINE_OUT_CONFIRMED },
	};
	char text[256];
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", move, places[i].place);
		ask(f, r, text);
		if (f->res.registry != places[i].registry ||
		    outcome_of(f, "contract_start_date") != places[i].outcome)
			fail_msg("\"%s\": registry %d, %s", text, f->res.registry, f->reply.text);
	}
	/* The meter is Oslo's: not the customer's in Bergen. */
	ask(f, r, "New address is Storgata 12B, Bergen. Meter ID 707057500012345671");
	assert_int_equal(f->plan.lookup, ENGINE_LOOKUP_METER);
	assert_true(f->res.city_listed);
	assert_int_equal(outcome_of(f, "address_update"), ENGINE_OUT_MISMATCH);
	ask(f, r, "New address is Storgata 12B, Thanks. Meter ID 707057500012345671");
	assert_false(f->res.city_listed);
	assert_int_equal(outcome_of(f, "address_update"), ENGINE_OUT_CONFIRMED);
	/* Hauptstraße 5 is in Berlin-Mitte, so in Berlin, not in Bergen. */
	const char *einzug = "Wann beginnt mein Vertrag? Einzug am 15. März 2027 in die "
			     "Hauptstraße 5 in ";
	snprintf(text, sizeof(text), "%sBerlin.", einzug);
	ask(f, r, text);
	assert_true(f->res.city_listed);
	assert_int_equal(outcome_of(f, "contract_start_date"), ENGINE_OUT_CONFIRMED);
	snprintf(text, sizeof(text), "%sBergen.", einzug);
	ask(f, r, text);
	assert_int_equal(outcome_of(f, "contract_start_date"), ENGINE_OUT_NOT_FOUND);
	reg_file_free(r);
}

/* A line is one record: what follows the object on the line is an error,
 * not something to drop without a word. */
static void test_trailing_text_refused(void **state)
{
	struct fx *f = *state;
	expect_refused(f->e, GOOD GOOD "{\"meter_id\": \"707057500098765431\", \"address\": \"Storgata "
				 "14\", \"supply_start\": \"2027-04-15\"} junk\n",
		       3, "");
	/* Two records on one line: the second would be lost. */
	expect_refused(f->e, "{\"meter_id\": \"707057500012345671\", \"address\": \"Storgata 12B\", "
		       "\"supply_start\": \"2027-03-01\"}{\"meter_id\": \"707057500098765431\", "
		       "\"address\": \"Storgata 14\", \"supply_start\": \"2027-04-15\"}\n",
		       1, "");
}

/* Thousands of supply points: each address is found by its key, and
 * where two points share a street address, the postcode decides, then
 * file order. */
static void test_many_records(void **state)
{
	struct fx *f = *state;
	size_t cap = 1 << 20, len = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	/* The same street address twice, apart from the postcode, first. */
	len += (size_t)snprintf(text + len, cap - len,
		"{\"meter_id\": \"MFIRST\", \"address\": \"Storgata 12B\", \"postcode\": \"0156\", "
		"\"supply_start\": \"2027-01-01\"}\n");
	for (int i = 3000; i > 0; i--)
		len += (size_t)snprintf(text + len, cap - len,
			"{\"meter_id\": \"M%d\", \"address\": \"Storgata %d\", \"postcode\": \"0155\", "
			"\"supply_start\": \"2027-01-01\"}\n", i, i);
	len += (size_t)snprintf(text + len, cap - len,
		"{\"meter_id\": \"MSECOND\", \"address\": \"Storgata 12 B\", \"postcode\": \"0155\", "
		"\"supply_start\": \"2027-01-01\"}\n");
	char path[64], err[512] = "";
	struct reg_file *r = load_text(f->e, text, path, err, sizeof(err));
	free(text);
	assert_non_null(r);
	assert_int_equal(reg_file_count(r), 3002);
#define Q "When does the contract start? We move in on 1 March 2027. "
	static const struct { const char *text, *meter; } asks[] = {
		{ Q "My new address is Storgata 2999, 0155 Oslo.", "M2999" },
		{ Q "My new address is Storgata 1, 0155 Oslo.", "M1" },
		{ Q "My new address is Storgata 3000.", "M3000" },
		{ Q "My new address is Storgata 12B, 0155 Oslo.", "MSECOND" },
		{ Q "My new address is Storgata 12B, 0156 Oslo.", "MFIRST" },
		/* Without a postcode, two supply points there are no answer. */
		{ Q "My new address is Storgata 12B.", NULL },
		{ Q "My new address is Storgata 3001, 0155 Oslo.", NULL },
		{ Q "My new address is Storgata 2999, 0156 Oslo.", NULL },
	};
	for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		ask(f, r, asks[i].text);
		assert_int_equal(f->plan.lookup, ENGINE_LOOKUP_ADDRESS);
		if (!asks[i].meter) {
			assert_int_equal(f->res.registry, ENGINE_REG_NOT_FOUND);
			continue;
		}
		assert_int_equal(f->res.registry, ENGINE_REG_FOUND);
		assert_string_equal(f->res.record.meter_id, asks[i].meter);
	}
	reg_file_free(r);
#undef Q
}

/* An 18-digit GS1 meter ID: prefix and serial, then the check digit. */
static void ean18(int serial, char out[19])
{
	snprintf(out, 19, "707057500%08d", serial);
	int sum = 0;
	for (int k = 16, w = 3; k >= 0; k--, w = 4 - w)
		sum += (out[k] - '0') * w;
	out[17] = (char)('0' + (10 - sum % 10) % 10);
	out[18] = '\0';
}

/* Thousands of supply points, found by meter ID. */
static void test_many_meters(void **state)
{
	struct fx *f = *state;
	size_t cap = 1 << 20, len = 0;
	char *text = malloc(cap), id[19];
	assert_non_null(text);
	for (int i = 3000; i > 0; i--) {
		ean18(i, id);
		len += (size_t)snprintf(text + len, cap - len,
			"{\"meter_id\": \"%s\", \"address\": \"Storgata %d\", "
			"\"supply_start\": \"2027-01-01\"}\n", id, i);
	}
	char path[64], err[512] = "";
	struct reg_file *r = load_text(f->e, text, path, err, sizeof(err));
	free(text);
	assert_non_null(r);
	static const int serials[] = { 1, 1500, 3000, 3001 };
	for (size_t i = 0; i < sizeof(serials) / sizeof(serials[0]); i++) {
		char ask_text[160], street[32];
		ean18(serials[i], id);
		snprintf(ask_text, sizeof(ask_text),
			 "When does my contract start? We move in on 1 April 2027, meter %s", id);
		ask(f, r, ask_text);
		assert_int_equal(f->plan.lookup, ENGINE_LOOKUP_METER);
		if (serials[i] > 3000) {
			assert_int_equal(f->res.registry, ENGINE_REG_NOT_FOUND);
			continue;
		}
		assert_int_equal(f->res.registry, ENGINE_REG_FOUND);
		assert_string_equal(f->res.record.meter_id, id);
		snprintf(street, sizeof(street), "Storgata %d", serials[i]);
		assert_string_equal(f->res.record.street, street);
	}
	reg_file_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_mismatch_reply_shows_registry_date),
		cmocka_unit_test(test_no_registry),
		cmocka_unit_test(test_two_towns_without_postcode),
		cmocka_unit_test(test_cities),
		cmocka_unit_test(test_several_starts),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_trailing_text_refused),
		cmocka_unit_test(test_many_records),
		cmocka_unit_test(test_many_meters),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
