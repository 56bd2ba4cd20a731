/* Tests for tmpl: the production templates of all five languages load with
 * the same keys and placeholders; rendering inserts values literally and
 * truncates safely; dates are written the way each language writes them;
 * broken template files are refused with the file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "tmpl.h"
#include "tok.h"

#define TEMPLATES_DIR AUTOASSIST_SOURCE_DIR "/templates"

static const char *const codes[] = { "en", "de", "nb", "sv", "nl" };
#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* Every key of templates/README.md. */
static const char *const keys[] = {
	"contract_start_date.confirmed", "contract_start_date.ask_date",
	"contract_start_date.ask_date_meter", "contract_start_date.ask_meter",
	"contract_start_date.mismatch", "contract_start_date.not_found",
	"contract_start_date.bad_meter", "contract_start_date.unavailable",
	"address_update.confirmed", "address_update.ask_address", "address_update.ask_meter",
	"address_update.ask_address_meter", "address_update.mismatch",
	"address_update.not_found", "address_update.bad_meter", "address_update.unavailable",
	"pulse_relocation.answer", "payment_method.answer", "escalation.stored",
	"escalation.preview", "escalation.failed", "clarify", "fallback", "topic.solar",
	"topic.battery", "topic.modbus", "intent.contract_start_date",
	"intent.address_update", "intent.pulse_relocation", "intent.payment_method",
	"join.and", "join.or",
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

#define V(x) (1u << TMPL_##x)

/* What a reply must show for the customer to see the point of it. */
static const struct {
	const char *key;
	uint32_t vars;
} required[] = {
	{ "contract_start_date.confirmed", V(DATE) },
	{ "contract_start_date.ask_meter", V(DATE) },
	{ "contract_start_date.mismatch", V(DATE) | V(REGISTRY_DATE) },
	{ "contract_start_date.not_found", V(LOOKUP) },
	{ "contract_start_date.bad_meter", V(METER) },
	{ "address_update.confirmed", V(ADDRESS) },
	{ "address_update.ask_address", V(METER) },
	{ "address_update.ask_meter", V(ADDRESS) },
	{ "address_update.mismatch", V(ADDRESS) | V(METER) },
	{ "address_update.not_found", V(METER) },
	{ "address_update.bad_meter", V(METER) },
	{ "escalation.stored", V(TOPICS) | V(TICKET) },
	{ "escalation.preview", V(TOPICS) },
	{ "escalation.failed", V(TOPICS) },
	{ "clarify", V(INTENTS) },
};

static const char *const var_names[TMPL_NVARS] = {
	[TMPL_DATE] = "[Date]", [TMPL_REGISTRY_DATE] = "[RegistryDate]",
	[TMPL_ADDRESS] = "[Address]", [TMPL_METER] = "[Meter]", [TMPL_TOPICS] = "[Topics]",
	[TMPL_TICKET] = "[Ticket]", [TMPL_INTENTS] = "[Intents]", [TMPL_LOOKUP] = "[Lookup]",
};

/* The placeholders written in a template's text. */
static uint32_t vars_in(const char *text)
{
	uint32_t m = 0;
	for (int v = 0; v < TMPL_NVARS; v++)
		if (strstr(text, var_names[v]))
			m |= 1u << v;
	return m;
}

static int setup(void **state)
{
	char err[512] = "";
	struct tmpl_set *t = tmpl_load(TEMPLATES_DIR, codes, NCODES, err, sizeof(err));
	if (!t) {
		fprintf(stderr, "loading %s: %s\n", TEMPLATES_DIR, err);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tmpl_free(*state);
	return 0;
}

static int key(const struct tmpl_set *t, const char *k)
{
	int id = tmpl_find(t, k);
	if (id < 0)
		fail_msg("no key [%s]", k);
	return id;
}

static void test_same_keys_everywhere(void **state)
{
	const struct tmpl_set *t = *state;
	for (size_t k = 0; k < NKEYS; k++) {
		int id = key(t, keys[k]);
		const char *en = tmpl_text(t, 0, id);
		assert_non_null(en);
		for (size_t l = 0; l < NCODES; l++) {
			const char *text = tmpl_text(t, (int)l, id);
			if (!text || !*text)
				fail_msg("%s: [%s] is empty", codes[l], keys[k]);
			/* A translation shows the customer the same facts. */
			if (vars_in(text) != vars_in(en))
				fail_msg("%s: [%s] has placeholders %#x, en has %#x", codes[l],
					 keys[k], vars_in(text), vars_in(en));
		}
		assert_int_equal(tmpl_vars_used(t, id), vars_in(en));
	}
	for (size_t r = 0; r < sizeof(required) / sizeof(required[0]); r++) {
		uint32_t used = tmpl_vars_used(t, key(t, required[r].key));
		if ((used & required[r].vars) != required[r].vars)
			fail_msg("[%s] does not show %#x", required[r].key,
				 required[r].vars & ~used);
	}
	assert_int_equal(tmpl_find(t, "contract_start_date.refund"), -1);
	assert_null(tmpl_text(t, (int)NCODES, 0));
	assert_null(tmpl_text(t, 0, -1));
	assert_true(tmpl_memory(t) > 0);
}

/* The article's auto-responses, verbatim (seeds/000_dc96fc84aa00f0df.txt). */
static void test_english_is_the_article(void **state)
{
	const struct tmpl_set *t = *state;
	assert_string_equal(tmpl_text(t, 0, key(t, "contract_start_date.confirmed")),
			    "I\u2019ve confirmed your Tibber contract for the new address starts on "
			    "[Date]. Your billing for the old address will automatically cease on "
			    "that day.");
	assert_string_equal(tmpl_text(t, 0, key(t, "address_update.confirmed")),
			    "Your profile has been updated! Your new home at [Address] is now "
			    "linked to your Tibber account.");
	assert_string_equal(tmpl_text(t, 0, key(t, "pulse_relocation.answer")),
			    "You can take your Tibber Pulse with you! Simply plug it into the new "
			    "meter at your new home. Important: You must perform a factory reset in "
			    "the app (under Power-ups > Tibber Pulse > Factory Reset) to link it to "
			    "the new meter data.");
	assert_string_equal(tmpl_text(t, 0, key(t, "payment_method.answer")),
			    "Your payment method remains the same by default. If you\u2019d like to "
			    "change it for the new house, go to You > Account > Payment Method in "
			    "the Tibber app.");
}

static void test_render_is_literal(void **state)
{
	const struct tmpl_set *t = *state;
	struct tmpl_vars v = { 0 };
	v.v[TMPL_DATE] = "1 March 2027";
	v.v[TMPL_ADDRESS] = "[Date] Street 5, %s%n%x [Address]";
	char out[512];
	size_t len = 0;
	out[0] = '\0';
	assert_int_equal(tmpl_render(t, 0, key(t, "address_update.confirmed"), &v, out,
				     sizeof(out), &len), 0);
	assert_string_equal(out, "Your profile has been updated! Your new home at [Date] Street "
				 "5, %s%n%x [Address] is now linked to your Tibber account.");
	assert_int_equal(len, strlen(out));

	/* Appends to what the buffer holds. */
	v.v[TMPL_DATE] = "%n[RegistryDate]";
	assert_int_equal(tmpl_render(t, 1, key(t, "contract_start_date.confirmed"), &v, out,
				     sizeof(out), &len), 0);
	assert_non_null(strstr(out, "Tibber account.Ich habe bestätigt, dass dein Tibber-Vertrag "
				    "für die neue Adresse am %n[RegistryDate] beginnt."));
	assert_int_equal(len, strlen(out));

	/* A missing value renders as nothing, the rest stays. */
	len = 0;
	assert_int_equal(tmpl_render(t, 0, key(t, "address_update.confirmed"), NULL, out,
				     sizeof(out), &len), 0);
	assert_string_equal(out, "Your profile has been updated! Your new home at  is now linked "
				 "to your Tibber account.");
	len = 0;
	assert_int_equal(tmpl_render(t, 0, key(t, "join.and"), NULL, out, sizeof(out), &len), 0);
	assert_string_equal(out, "and");
	assert_int_equal(tmpl_render(t, 0, 9999, NULL, out, sizeof(out), &len), -1);
	assert_int_equal(tmpl_render(t, 7, 0, NULL, out, sizeof(out), &len), -1);
}

static void test_render_truncates(void **state)
{
	const struct tmpl_set *t = *state;
	int id = key(t, "fallback");
	char full[1024];
	size_t flen = 0;
	assert_int_equal(tmpl_render(t, 0, id, NULL, full, sizeof(full), &flen), 0);
	assert_true(flen > 40);

	/* Exactly enough room. */
	char *out = malloc(flen + 1);
	size_t len = 0;
	assert_int_equal(tmpl_render(t, 0, id, NULL, out, flen + 1, &len), 0);
	assert_string_equal(out, full);
	free(out);

	/* One byte short, and much too short: as much as fits, terminated. */
	size_t caps[] = { flen, 20, 1 };
	for (size_t i = 0; i < 3; i++) {
		out = malloc(caps[i]);
		len = 0;
		assert_int_equal(tmpl_render(t, 0, id, NULL, out, caps[i], &len), -1);
		assert_int_equal(len, caps[i] - 1);
		assert_int_equal(strlen(out), len);
		assert_memory_equal(out, full, len);
		free(out);
	}

	/* A value that does not fit is cut too. */
	struct tmpl_vars v = { 0 };
	char addr[300];
	memset(addr, 'x', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	v.v[TMPL_ADDRESS] = addr;
	char small[64];
	len = 0;
	assert_int_equal(tmpl_render(t, 0, key(t, "address_update.confirmed"), &v, small,
				     sizeof(small), &len), -1);
	assert_int_equal(len, sizeof(small) - 1);
	assert_int_equal(strlen(small), len);

	/* A full buffer takes nothing more. */
	char buf[8] = "1234567";
	len = 7;
	assert_int_equal(tmpl_render(t, 0, id, NULL, buf, sizeof(buf), &len), -1);
	assert_string_equal(buf, "1234567");
	len = 8;
	assert_int_equal(tmpl_render(t, 0, id, NULL, buf, sizeof(buf), &len), -1);
	assert_int_equal(len, 8);
}

/* A reply cut short still goes out as a WebSocket text frame and a JSON
 * string: it must not end in half a character. */
static void test_truncation_keeps_utf8(void **state)
{
	const struct tmpl_set *t = *state;
	int id = key(t, "contract_start_date.confirmed");
	const char *text = tmpl_text(t, 1, id); /* "Ich habe bestätigt, ..." */
	const char *umlaut = strstr(text, "ä");
	assert_non_null(umlaut);
	size_t cap = (size_t)(umlaut - text) + 2; /* room ends inside the "ä" */
	char out[64];
	size_t len = 0;
	assert_int_equal(tmpl_render(t, 1, id, NULL, out, cap, &len), -1);
	char folded[128];
	assert_true(tok_fold(out, len, folded, sizeof(folded)) >= 0);
}

static void test_dates(void **state)
{
	const struct tmpl_set *t = *state;
	static const char *const want[NCODES][2] = {
		{ "1 March 2027", "29 February 2028" },
		{ "1. März 2027", "29. Februar 2028" },
		{ "1. mars 2027", "29. februar 2028" },
		{ "1 mars 2027", "29 februari 2028" },
		{ "1 maart 2027", "29 februari 2028" },
	};
	char out[64];
	for (size_t l = 0; l < NCODES; l++) {
		int n = tmpl_date(t, (int)l, (struct slot_date){ 2027, 3, 1 }, out, sizeof(out));
		assert_string_equal(out, want[l][0]);
		assert_int_equal(n, (int)strlen(want[l][0]));
		tmpl_date(t, (int)l, (struct slot_date){ 2028, 2, 29 }, out, sizeof(out));
		assert_string_equal(out, want[l][1]);
	}
	tmpl_date(t, 0, (struct slot_date){ 2026, 12, 31 }, out, sizeof(out));
	assert_string_equal(out, "31 December 2026");

	/* Too small: -1, and what is there is terminated. */
	char small[6];
	assert_int_equal(tmpl_date(t, 0, (struct slot_date){ 2027, 3, 1 }, small, sizeof(small)),
			 -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(tmpl_date(t, 0, (struct slot_date){ 2027, 13, 1 }, out, sizeof(out)), -1);
	assert_int_equal(tmpl_date(t, 0, (struct slot_date){ 2027, 0, 1 }, out, sizeof(out)), -1);
	assert_int_equal(tmpl_date(t, 9, (struct slot_date){ 2027, 3, 1 }, out, sizeof(out)), -1);
}

/* ---- broken template directories ---- */

static const char en_ok[] =
	"# comment\n"
	"lang en\n"
	"months January February March April May June July August September October November "
	"December\n"
	"date [D] [Month] [Y]\n"
	"\n"
	"[greeting]\n"
	"Hello [Address].\n"
	"\n"
	"[fallback]\n"
	"What do you need?\n";

static const char de_ok[] =
	"lang de\n"
	"months Januar Februar März April Mai Juni Juli August September Oktober November "
	"Dezember\n"
	"date [D]. [Month] [Y]\n"
	"[greeting]\n"
	"Hallo [Address].\n"
	"[fallback]\n"
	"Was brauchst du?\n"
	"# A note to the team, in a section: no customer reads it.\n";

/* Loads en and de from files in a temporary directory; returns the set or
 * NULL with err filled. */
static struct tmpl_set *load_files(const struct tu_file *files, size_t n, char *err, size_t errlen)
{
	char dir[] = "/tmp/aa_tmpl_XXXXXX";
	tu_write_dir(dir, files, n);
	static const char *const two[] = { "en", "de" };
	struct tmpl_set *t = tmpl_load(dir, two, 2, err, errlen);
	tu_remove_dir(dir, files, n);
	return t;
}

static void expect_error(const char *en, const char *de, const char *want)
{
	const struct tu_file files[] = { { "en.txt", en }, { "de.txt", de } };
	char err[512] = "";
	struct tmpl_set *t = load_files(files, de ? 2 : 1, err, sizeof(err));
	if (t) {
		tmpl_free(t);
		fail_msg("the templates loaded; expected an error with \"%s\"", want);
	}
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
}

/* Replaces the first occurrence of from in base by to, into a static buffer. */
static const char *edit(const char *base, const char *from, const char *to)
{
	static char buf[4][2048];
	static int which;
	char *b = buf[which++ % 4];
	const char *at = strstr(base, from);
	assert_non_null(at);
	snprintf(b, 2048, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
	return b;
}

static void test_good_pair_loads(void **state)
{
	(void)state;
	const struct tu_file files[] = { { "en.txt", en_ok }, { "de.txt", de_ok } };
	char err[512] = "";
	struct tmpl_set *t = load_files(files, 2, err, sizeof(err));
	if (!t)
		fail_msg("%s", err);
	int id = tmpl_find(t, "greeting");
	assert_true(id >= 0);
	assert_string_equal(tmpl_text(t, 1, id), "Hallo [Address].");
	assert_int_equal(tmpl_vars_used(t, id), V(ADDRESS));
	assert_int_equal(tmpl_vars_used(t, tmpl_find(t, "fallback")), 0);
	assert_string_equal(tmpl_text(t, 1, tmpl_find(t, "fallback")), "Was brauchst du?");
	char out[32];
	tmpl_date(t, 1, (struct slot_date){ 2027, 3, 9 }, out, sizeof(out));
	assert_string_equal(out, "9. März 2027");
	tmpl_free(t);
}

static void test_broken_templates(void **state)
{
	(void)state;
	expect_error(edit(en_ok, "Hello [Address].", "Hello [Foo]."), de_ok,
		     "unknown placeholder [Foo]");
	expect_error(en_ok, edit(de_ok, "Hallo [Address].", "Hallo [Adress]."),
		     "unknown placeholder [Adress]");
	/* A key missing in one language. */
	expect_error(en_ok, edit(de_ok, "[fallback]\nWas brauchst du?\n", ""),
		     "de.txt: key [fallback] is missing");
	/* A key only the second language has. */
	expect_error(en_ok, edit(de_ok, "[fallback]", "[farewell]"),
		     "de.txt:6: key [farewell] is missing from en.txt, the first language's file");
	/* Eleven and thirteen months. */
	expect_error(edit(en_ok, " December", ""), de_ok, "en.txt:3: months needs 12 names");
	expect_error(en_ok, edit(de_ok, "Dezember", "Dezember Smarch"),
		     "de.txt:2: more than 12 months");
	expect_error(edit(en_ok, "date [D] [Month] [Y]\n", ""), de_ok,
		     "the lang, months and date lines are required");
	expect_error(edit(en_ok, "date [D] [Month] [Y]", "date [D] [Monat] [Y]"), de_ok,
		     "en.txt:4: unknown placeholder [Monat]");
	expect_error(edit(en_ok, "lang en", "lang de"), de_ok, "en.txt:2: says lang de, expected en");
	expect_error(edit(en_ok, "What do you need?\n", ""), de_ok, "[fallback] is empty");
	expect_error(edit(en_ok, "[fallback]", "[greeting]"), de_ok, "[greeting] defined twice");
	expect_error(edit(en_ok, "lang en", "language en"), de_ok,
		     "en.txt:2: unknown directive \"language\"");
	expect_error(en_ok, NULL, "de.txt: No such file");
}

/* The line an error names is the line to fix: the template's own line, not
 * the header of the section after it. */
static void test_error_names_the_template_line(void **state)
{
	(void)state;
	/* en_ok: "Hello [Address]." is line 7, the next "[fallback]" line 9. */
	expect_error(edit(en_ok, "Hello [Address].", "Hello [Foo]."), de_ok,
		     "en.txt:7: unknown placeholder [Foo]");
	/* de_ok: "Hallo [Address]." is line 5, the next "[fallback]" line 6. */
	expect_error(en_ok, edit(de_ok, "Hallo [Address].", "Hallo [Adress]."),
		     "de.txt:5: unknown placeholder [Adress]");
	/* Comment lines are left out of the text, not out of the count: the
	 * [Foo] line is line 11 of the file. */
	expect_error(edit(en_ok, "Hello [Address].",
			  "# a note\n\nHello\n# another\n[Foo]."),
		     de_ok, "en.txt:11: unknown placeholder [Foo]");
	/* Blank lines before the text count too. */
	expect_error(edit(en_ok, "Hello [Address].", "\n\n[Foo]."), de_ok,
		     "en.txt:9: unknown placeholder [Foo]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_keys_everywhere),
		cmocka_unit_test(test_english_is_the_article),
		cmocka_unit_test(test_render_is_literal),
		cmocka_unit_test(test_render_truncates),
		cmocka_unit_test(test_truncation_keeps_utf8),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_good_pair_loads),
		cmocka_unit_test(test_broken_templates),
		cmocka_unit_test(test_error_names_the_template_line),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
