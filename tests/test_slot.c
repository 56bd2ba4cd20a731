/* Tests of the slot extractor. Most cases are data in tests/fixtures:
 * slot_vocab.txt (a test-only vocabulary), slot_dates.txt, slot_meters.txt,
 * slot_addresses.txt, slot_keys.txt and slot_vocab_errors.txt; each
 * table-driven test reports every failing line before it fails. The
 * fixtures directory is argv[1], or FIXTURE_DIR when it is not given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slot.h"
#include "tok.h"
#include "testutil.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/fixtures"
#endif

#define MAX_FIELDS 8
#define MSG_MAX 8192

struct ctx {
	const char *dir;
	struct slot_vocab *v;
	struct tok_buf tb;
};

/* One fixture file in memory, walked line by line. */
struct fixture {
	char *buf;
	char *next;
	char path[512];
	int line;
};

static int fixture_open(struct fixture *fx, const char *dir, const char *name)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->path, sizeof(fx->path), "%s/%s", dir, name);
	FILE *f = fopen(fx->path, "rb");
	if (!f)
		return -1;
	int rc = -1;
	if (fseek(f, 0, SEEK_END) != 0)
		goto close_file;
	long size = ftell(f);
	if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto close_file;
	fx->buf = malloc((size_t)size + 1);
	if (!fx->buf)
		goto close_file;
	if (fread(fx->buf, 1, (size_t)size, f) != (size_t)size) {
		free(fx->buf);
		fx->buf = NULL;
		goto close_file;
	}
	fx->buf[size] = '\0';
	fx->next = fx->buf;
	rc = 0;
close_file:
	fclose(f);
	return rc;
}

static void fixture_close(struct fixture *fx)
{
	free(fx->buf);
	fx->buf = NULL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* The next line that is neither blank nor a comment, NULL at the end. */
static char *fixture_line(struct fixture *fx)
{
	while (fx->next && *fx->next) {
		char *line = fx->next;
		char *nl = strchr(line, '\n');
		if (nl) {
			*nl = '\0';
			fx->next = nl + 1;
		} else {
			fx->next = NULL;
		}
		fx->line++;
		line = trim(line);
		if (*line && *line != '#')
			return line;
	}
	return NULL;
}

/* Splits a line at " | " into at most max trimmed fields; the last field
 * keeps any further separators. Returns the number of fields. */
static int split(char *line, char **f, int max)
{
	int n = 0;
	while (n < max - 1) {
		char *sep = strstr(line, " | ");
		if (!sep)
			break;
		*sep = '\0';
		f[n++] = trim(line);
		line = sep + 3;
	}
	f[n++] = trim(line);
	return n;
}

/* Loads the test vocabulary: "lang CODE" and "[section]" lines steer, the
 * rest goes to slot_vocab_line. */
static struct slot_vocab *load_vocab(const char *dir)
{
	struct fixture fx;
	struct slot_vocab *v = NULL;
	if (fixture_open(&fx, dir, "slot_vocab.txt") < 0) {
		fprintf(stderr, "cannot read %s/slot_vocab.txt\n", dir);
		return NULL;
	}
	v = slot_vocab_new();
	if (!v)
		goto close_fixture;
	char section[16] = "";
	int lang = -1;
	char *line;
	while ((line = fixture_line(&fx))) {
		if (strncmp(line, "lang ", 5) == 0) {
			lang++;
			continue;
		}
		if (line[0] == '[') {
			snprintf(section, sizeof(section), "%.*s", (int)strcspn(line + 1, "]"), line + 1);
			continue;
		}
		char err[200];
		if (slot_vocab_line(v, lang, section, line, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s:%d: %s\n", fx.path, fx.line, err);
			slot_vocab_free(v);
			v = NULL;
			goto close_fixture;
		}
	}
close_fixture:
	fixture_close(&fx);
	return v;
}

/* Tokenizes text and extracts its slots. Returns the tokenizer's code. */
static int extract(struct ctx *c, const struct slot_vocab *v, const char *text, size_t len,
		   struct slot_date today, struct slot_found *out)
{
	int rc = tok_run(&c->tb, text, len);
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	assert_int_equal(slot_extract(v, text, &c->tb, today, out), 0);
	return 0;
}

static struct slot_date ymd(int y, int m, int d)
{
	struct slot_date r = { (int16_t)y, (uint8_t)m, (uint8_t)d };
	return r;
}

static bool span_is(const char *text, uint32_t off, uint32_t len, const char *want)
{
	return strlen(want) == len && memcmp(text + off, want, len) == 0;
}

static const char *const date_roles[] = {
	[SLOT_DATE_PLAIN] = "plain",
	[SLOT_DATE_MOVE_IN] = "in",
	[SLOT_DATE_MOVE_OUT] = "out",
	[SLOT_DATE_PASSING] = "passing",
	[SLOT_DATE_ANSWER] = "answer",
};

/* slot_dates.txt: today | text | expected date or none | [matched text]
 * | [role] */
static void test_dates(void **state)
{
	struct ctx *c = *state;
	struct fixture fx;
	assert_int_equal(fixture_open(&fx, c->dir, "slot_dates.txt"), 0);
	int cases = 0, failed = 0;
	char *line;
	while ((line = fixture_line(&fx))) {
		char *f[MAX_FIELDS];
		int n = split(line, f, MAX_FIELDS);
		struct slot_date today, want = { 0 };
		bool none = n >= 3 && strcmp(f[2], "none") == 0;
		if (n < 3 || slot_date_parse_iso(f[0], &today) < 0 ||
		    (!none && slot_date_parse_iso(f[2], &want) < 0)) {
			print_error("%s:%d: malformed case\n", fx.path, fx.line);
			failed++;
			continue;
		}
		cases++;
		struct slot_found out;
		extract(c, c->v, f[1], strlen(f[1]), today, &out);
		bool ok = none ? !out.has_date
			       : out.has_date && out.date.y == want.y && out.date.m == want.m &&
					 out.date.d == want.d;
		if (ok && !none && n >= 4)
			ok = span_is(f[1], out.date_off, out.date_len, f[3]);
		const char *role = out.date_role < sizeof(date_roles) / sizeof(date_roles[0]) ? date_roles[out.date_role] : "?";
		if (ok && !none && n >= 5)
			ok = strcmp(role, f[4]) == 0;
		if (!ok) {
			print_error("%s:%d: \"%s\" gave %s %04d-%02d-%02d \"%.*s\" (%s), want %s%s%s%s%s\n",
				    fx.path, fx.line, f[1], out.has_date ? "date" : "no date",
				    out.date.y, out.date.m, out.date.d, (int)out.date_len,
				    f[1] + out.date_off, role, f[2], n >= 4 ? " at " : "",
				    n >= 4 ? f[3] : "", n >= 5 ? ", " : "", n >= 5 ? f[4] : "");
			failed++;
		}
	}
	fixture_close(&fx);
	print_message("%d date cases\n", cases);
	assert_true(cases > 0);
	assert_int_equal(failed, 0);
}

static int meter_kind(const char *s)
{
	if (strcmp(s, "ean18") == 0)
		return SLOT_METER_EAN18;
	if (strcmp(s, "de") == 0)
		return SLOT_METER_DE;
	if (strcmp(s, "de_zp") == 0)
		return SLOT_METER_DE_ZP;
	if (strcmp(s, "de_malo") == 0)
		return SLOT_METER_DE_MALO;
	if (strcmp(s, "none") == 0)
		return SLOT_METER_NONE;
	return -1;
}

/* slot_meters.txt: text | kind | id | valid or invalid | [matched text] */
static void test_meters(void **state)
{
	struct ctx *c = *state;
	struct fixture fx;
	assert_int_equal(fixture_open(&fx, c->dir, "slot_meters.txt"), 0);
	int cases = 0, failed = 0;
	char *line;
	while ((line = fixture_line(&fx))) {
		char *f[MAX_FIELDS];
		int n = split(line, f, MAX_FIELDS);
		int kind = n >= 2 ? meter_kind(f[1]) : -1;
		if (kind < 0 || (kind != SLOT_METER_NONE && n < 4)) {
			print_error("%s:%d: malformed case\n", fx.path, fx.line);
			failed++;
			continue;
		}
		cases++;
		struct slot_found out;
		extract(c, c->v, f[0], strlen(f[0]), ymd(2026, 11, 26), &out);
		bool ok;
		if (kind == SLOT_METER_NONE) {
			ok = !out.has_meter;
		} else {
			ok = out.has_meter && out.meter.kind == kind &&
			     strcmp(out.meter.id, f[2]) == 0 &&
			     out.meter.valid == (strcmp(f[3], "valid") == 0);
			if (ok && n >= 5)
				ok = span_is(f[0], out.meter_off, out.meter_len, f[4]);
			ok = ok && out.meter_alone == (n >= 6 && strcmp(f[5], "alone") == 0);
		}
		if (!ok) {
			print_error("%s:%d: \"%s\" gave %s kind %d id %s %s \"%.*s\"\n", fx.path,
				    fx.line, f[0], out.has_meter ? "meter" : "no meter",
				    out.meter.kind, out.meter.id, out.meter.valid ? "valid" : "invalid",
				    (int)out.meter_len, f[0] + out.meter_off);
			failed++;
		}
	}
	fixture_close(&fx);
	print_message("%d meter cases\n", cases);
	assert_true(cases > 0);
	assert_int_equal(failed, 0);
}

static const char *or_empty(const char *s)
{
	return strcmp(s, "-") == 0 ? "" : s;
}

/* A word marked not a street (an L2 trigger) is no street's name, nor a
 * word it merely starts; the next address is still found. */
static void test_not_street(void **state)
{
	struct ctx *c = *state;
	struct slot_vocab *v = load_vocab(c->dir);
	assert_non_null(v);
	char err[200];
	assert_int_equal(slot_vocab_not_street(v, "Solarway", 8, err, sizeof(err)), 0);
	assert_int_equal(slot_vocab_not_street(v, "batteri", 7, err, sizeof(err)), 0);
	assert_int_equal(slot_vocab_not_street(v, "a|b", 3, err, sizeof(err)), -1);
	struct slot_found out;
	const char *t1 = "we have a Solarway 2 at the new place, Baker Street 5";
	extract(c, v, t1, strlen(t1), ymd(2026, 11, 26), &out);
	assert_true(out.has_address);
	assert_string_equal(out.address.street, "Baker Street 5");
	const char *t2 = "new address: Solarway 2";
	extract(c, v, t2, strlen(t2), ymd(2026, 11, 26), &out);
	assert_false(out.has_address);
	const char *t3 = "vi flytter til Batteriveien 3";
	extract(c, v, t3, strlen(t3), ymd(2026, 11, 26), &out);
	assert_true(out.has_address);
	assert_string_equal(out.address.street, "Batteriveien 3");
	slot_vocab_free(v);
}

/* slot_addresses.txt: text (\n a line break) | street or none | postcode |
 * city | [full text], "-" for an empty field. */
static void test_addresses(void **state)
{
	struct ctx *c = *state;
	struct fixture fx;
	assert_int_equal(fixture_open(&fx, c->dir, "slot_addresses.txt"), 0);
	int cases = 0, failed = 0;
	char *line;
	while ((line = fixture_line(&fx))) {
		char *f[MAX_FIELDS];
		int n = split(line, f, MAX_FIELDS);
		bool none = n >= 2 && strcmp(f[1], "none") == 0;
		if (n < 2 || (!none && n < 4)) {
			print_error("%s:%d: malformed case\n", fx.path, fx.line);
			failed++;
			continue;
		}
		cases++;
		struct slot_found out;
		size_t len = tu_unescape(f[0]);
		extract(c, c->v, f[0], len, ymd(2026, 11, 26), &out);
		bool ok;
		if (none) {
			ok = !out.has_address;
		} else {
			const struct slot_address *a = &out.address;
			ok = out.has_address && strcmp(a->street, f[1]) == 0 &&
			     strcmp(a->postcode, or_empty(f[2])) == 0 &&
			     strcmp(a->city, or_empty(f[3])) == 0 &&
			     span_is(f[0], out.addr_off, out.addr_len, a->text);
			if (ok && n >= 5)
				ok = strcmp(a->text, f[4]) == 0;
		}
		if (!ok) {
			print_error("%s:%d: \"%s\" gave %s street \"%s\" postcode \"%s\" city \"%s\" "
				    "text \"%s\"\n", fx.path, fx.line, f[0],
				    out.has_address ? "address" : "no address", out.address.street,
				    out.address.postcode, out.address.city, out.address.text);
			failed++;
		}
	}
	fixture_close(&fx);
	print_message("%d address cases\n", cases);
	assert_true(cases > 0);
	assert_int_equal(failed, 0);
}

/* slot_keys.txt: address | expected key */
static void test_address_keys(void **state)
{
	struct ctx *c = *state;
	struct fixture fx;
	assert_int_equal(fixture_open(&fx, c->dir, "slot_keys.txt"), 0);
	int cases = 0, failed = 0;
	char *line;
	while ((line = fixture_line(&fx))) {
		char *f[MAX_FIELDS];
		if (split(line, f, MAX_FIELDS) != 2) {
			print_error("%s:%d: malformed case\n", fx.path, fx.line);
			failed++;
			continue;
		}
		cases++;
		char key[SLOT_ADDR_MAX * 2];
		int n = slot_address_key(c->v, f[0], strlen(f[0]), key, sizeof(key));
		if (n < 0 || strcmp(key, f[1]) != 0 || (size_t)n != strlen(key)) {
			print_error("%s:%d: \"%s\" gave %d \"%s\", want \"%s\"\n", fx.path, fx.line,
				    f[0], n, n < 0 ? "" : key, f[1]);
			failed++;
		}
	}
	fixture_close(&fx);
	print_message("%d key cases\n", cases);
	assert_true(cases > 0);
	assert_int_equal(failed, 0);
}

/* slot_vocab_errors.txt: section | line, each of which must be refused
 * with a message. */
static void test_vocab_errors(void **state)
{
	struct ctx *c = *state;
	struct fixture fx;
	assert_int_equal(fixture_open(&fx, c->dir, "slot_vocab_errors.txt"), 0);
	struct slot_vocab *v = slot_vocab_new();
	assert_non_null(v);
	int cases = 0, failed = 0;
	char *line;
	while ((line = fixture_line(&fx))) {
		char *f[2];
		if (split(line, f, 2) != 2) {
			print_error("%s:%d: malformed case\n", fx.path, fx.line);
			failed++;
			continue;
		}
		cases++;
		char err[200] = "";
		if (slot_vocab_line(v, 0, f[0], f[1], err, sizeof(err)) != -1 || !err[0]) {
			print_error("%s:%d: [%s] \"%s\" was accepted\n", fx.path, fx.line, f[0], f[1]);
			failed++;
		}
	}
	fixture_close(&fx);
	slot_vocab_free(v);
	print_message("%d refused vocabulary lines\n", cases);
	assert_true(cases > 0);
	assert_int_equal(failed, 0);
}

static void test_vocab_edge(void **state)
{
	(void)state;
	char err[8];
	struct slot_vocab *v = slot_vocab_new();
	assert_non_null(v);
	/* A tiny error buffer is filled, cut short, never overrun. */
	assert_int_equal(slot_vocab_line(v, 0, "dates", "bogus line", err, sizeof(err)), -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(slot_vocab_line(v, 0, "dates", "bogus", NULL, 0), -1);
	assert_int_equal(slot_vocab_line(v, 0, "dates", "", err, sizeof(err)), -1);
	assert_int_equal(slot_vocab_line(v, 0, "dates", " \t ", err, sizeof(err)), -1);
	assert_int_equal(slot_vocab_line(NULL, 0, "dates", "ordinals st", NULL, 0), -1);
	assert_int_equal(slot_vocab_line(v, 0, NULL, "ordinals st", NULL, 0), -1);
	/* Comments after the meaning of a rel line are allowed; '#' before
	 * it is the number placeholder. */
	assert_int_equal(slot_vocab_line(v, 0, "dates", "rel in # tagen = day+# # comment", NULL, 0), 0);
	assert_int_equal(slot_vocab_line(v, 0, "dates", "ordinals st nd # comment", NULL, 0), 0);
	/* Spellings repeat across languages; that is no error. */
	assert_int_equal(slot_vocab_line(v, 1, "dates", "ordinals st", NULL, 0), 0);
	/* Many words force the hash table to grow. */
	char line[8192];
	size_t o = (size_t)snprintf(line, sizeof(line), "fillers");
	for (int i = 0; i < 600; i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, " w%d", i);
	assert_int_equal(slot_vocab_line(v, 0, "dates", line, NULL, 0), 0);
	slot_vocab_free(v);
	slot_vocab_free(NULL);
}

static void test_date_helpers(void **state)
{
	(void)state;
	assert_int_equal(slot_date_days(ymd(1970, 1, 1)), 0);
	assert_int_equal(slot_date_days(ymd(2000, 3, 1)), 11017);
	assert_int_equal(slot_date_days(ymd(1900, 1, 1)), -25567);
	assert_int_equal(slot_date_weekday(ymd(1970, 1, 1)), 3);
	assert_int_equal(slot_date_weekday(ymd(2026, 11, 26)), 3);
	assert_int_equal(slot_date_weekday(ymd(2027, 3, 1)), 0);
	assert_int_equal(slot_date_weekday(ymd(1900, 1, 1)), 0);
	/* Every day from 1900 to 2200 goes there and back, one day apart. */
	int32_t prev = slot_date_days(ymd(1899, 12, 31));
	for (int32_t z = -25567; z <= slot_date_days(ymd(2200, 12, 31)); z++) {
		struct slot_date d = slot_date_from_days(z);
		assert_int_equal(slot_date_days(d), z);
		assert_int_equal(z, prev + 1);
		assert_int_equal(slot_date_weekday(d), ((z % 7) + 10) % 7);
		prev = z;
	}
	struct slot_date d = slot_date_from_days(slot_date_days(ymd(9999, 12, 31)));
	assert_int_equal(d.y, 9999);
	assert_int_equal(d.m, 12);
	assert_int_equal(d.d, 31);
	/* Out of range is clamped, not overflowed. */
	d = slot_date_from_days(INT32_MAX);
	assert_int_equal(d.y, 9999);
	d = slot_date_from_days(INT32_MIN);
	assert_int_equal(d.y, 1900);
	(void)slot_date_days(ymd(-32768, 0, 0));
	(void)slot_date_weekday(ymd(32767, 255, 255));
}

static void test_parse_iso(void **state)
{
	(void)state;
	struct slot_date d;
	assert_int_equal(slot_date_parse_iso("2027-03-01", &d), 0);
	assert_int_equal(d.y, 2027);
	assert_int_equal(d.m, 3);
	assert_int_equal(d.d, 1);
	assert_int_equal(slot_date_parse_iso("2028-02-29", &d), 0);
	/* slot_date_iso writes it back as it was read, and anything the
	 * fields hold fits its buffer. */
	char iso[SLOT_DATE_ISO];
	slot_date_iso(d, iso);
	assert_string_equal(iso, "2028-02-29");
	slot_date_iso(ymd(-32768, 255, 255), iso);
	assert_string_equal(iso, "-32768-255-255");
	static const char *const bad[] = {
		"2027-02-29", "2027-13-01", "2027-00-10", "2027-01-00", "2027-04-31",
		"27-03-01",   "2027-3-1",   "2027/03/01", "2027-03-01x", "",
		"abcd-ef-gh", "1899-12-31", "2027-03-0",  " 2027-03-01",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(slot_date_parse_iso(bad[i], &d), -1);
	assert_int_equal(slot_date_parse_iso(NULL, &d), -1);
	assert_int_equal(slot_date_parse_iso("2027-03-01", NULL), -1);
}

static void test_gs1(void **state)
{
	(void)state;
	static const char *const good[] = {
		"707057500012345671", "735990000000123452", "871234567890123451",
		"400123456789012341", "570999990000111116", "4006381333931", "96385074",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(slot_gs1_valid(good[i], strlen(good[i])));
	assert_false(slot_gs1_valid("707057500012345675", 18));
	assert_false(slot_gs1_valid("70705750001234567x", 18));
	assert_false(slot_gs1_valid("7", 1));
	assert_false(slot_gs1_valid("", 0));
	assert_false(slot_gs1_valid(NULL, 18));
}

/* Any input at all: never a crash, never a fact out of thin air. */
static void test_robust(void **state)
{
	struct ctx *c = *state;
	struct slot_found out;
	struct slot_date today = ymd(2026, 11, 26);
	char buf[MSG_MAX];

	assert_int_equal(extract(c, c->v, "", 0, today, &out), 0);
	assert_false(out.has_date || out.has_meter || out.has_address);

	const char *punct = ".,;:!?-/()[]{}'\"...---///";
	assert_int_equal(extract(c, c->v, punct, strlen(punct), today, &out), 0);
	assert_false(out.has_date || out.has_meter || out.has_address);

	static const char *const odd[] = {
		"99.99.", "00.00.", "32.01.", "31.02.", "0/0", "99/99/9999", "2027-99-99",
		"0000-00-00", "1.", "1st", "st", "of the of the", "Street 5", "5 Street",
		"1 ESY", "DE", "DE 12", "in # days", "next", "next next", "Monday Monday",
		"Hauptstraße", "Hauptstraße ,", ", 0155", "neue Adresse", "neue Adresse:",
		"new address is", "1:a", "1:", ":a mars", "the first", "15.04.2027.2028",
		"1.2.3.4.5", "12345678901234567890123456789012345678901234567890",
		"DE000000000000000000000000000000000000000000000000000",
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		assert_int_equal(extract(c, c->v, odd[i], strlen(odd[i]), today, &out), 0);
		assert_false(out.has_date);
	}

	/* 4 KiB of digits, as one number and as groups of every size. */
	memset(buf, '7', 4096);
	assert_int_equal(extract(c, c->v, buf, 4096, today, &out), 0);
	assert_false(out.has_meter || out.has_date || out.has_address);
	for (int g = 1; g <= 19; g++) {
		size_t n = 0;
		while (n + (size_t)g + 1 < 4096) {
			for (int k = 0; k < g; k++, n++)
				buf[n] = (char)('0' + (n * 7 + (size_t)g) % 10);
			buf[n++] = ' ';
		}
		assert_int_equal(extract(c, c->v, buf, n, today, &out), 0);
	}
	/* 4 KiB of dots between digits, dates written without end. */
	size_t n = 0;
	while (n + 3 < 4096) {
		buf[n++] = '1';
		buf[n++] = '.';
	}
	buf[n++] = '1';
	assert_int_equal(extract(c, c->v, buf, n, today, &out), 0);
	assert_false(out.has_date);
	n = 0;
	while (n + 12 < 4096) {
		memcpy(buf + n, "Straße 5 , ", 12);
		n += 12;
	}
	assert_int_equal(extract(c, c->v, buf, n, today, &out), 0);
	n = 0;
	while (n + 16 < 4096) {
		memcpy(buf + n, "next in 3 days ", 15);
		n += 15;
	}
	assert_int_equal(extract(c, c->v, buf, n, today, &out), 0);
	assert_true(out.has_date);

	/* A very long street name does not fit the fields: no address, or a
	 * cut one, but nothing written past them. */
	n = 0;
	for (int i = 0; i < 3; i++) {
		memset(buf + n, 'A', 1);
		memset(buf + n + 1, 'b', 200);
		n += 201;
		buf[n++] = ' ';
	}
	static const char tail[] = "Street 5, 0155 Ooooooooooooooooooooooooooooooooooooooooooooooooooooooooooslo";
	memcpy(buf + n, tail, sizeof(tail) - 1);
	n += sizeof(tail) - 1;
	assert_int_equal(extract(c, c->v, buf, n, today, &out), 0);
	memcpy(buf, "Hauptstraße 5, 0155 ", 21);
	n = 21;
	for (int i = 0; i < 40; i++) {
		memcpy(buf + n, "Ö", 2);
		n += 2;
	}
	assert_int_equal(extract(c, c->v, buf, n, today, &out), 0);
	assert_true(out.has_address);
	assert_true(strlen(out.address.city) < sizeof(out.address.city));

	/* Pseudo-random text from a fixed alphabet of date and address
	 * pieces, with a local generator so runs repeat. */
	static const char *const pieces[] = {
		"1", "15", "2027", "0155", ".", ",", "-", "/", ":", " ", " ", " ", "März",
		"March", "1st", "of", "the", "den", "Straße", "Hauptstraße", "gate", "B",
		"12B", "next", "Monday", "in", "days", "DE", "ESY", "7070", "neue", "Adresse",
		"ziehen", "nach", "Berlin", "é", "ø", "\xe2\x82\xac", "a", "e", "st",
	};
	uint32_t seed = 12345;
	for (int round = 0; round < 3000; round++) {
		n = 0;
		int count = (int)(seed % 40);
		for (int k = 0; k < count; k++) {
			seed = seed * 1103515245u + 12345u;
			const char *p = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t pl = strlen(p);
			memcpy(buf + n, p, pl);
			n += pl;
		}
		seed = seed * 1103515245u + 12345u;
		extract(c, c->v, buf, n, today, &out);
		if (out.has_address) {
			assert_true(out.addr_off + out.addr_len <= n);
			assert_true(out.address.street[0] != '\0');
		}
		if (out.has_date)
			assert_true(out.date_off + out.date_len <= n);
		if (out.has_meter)
			assert_true(out.meter_off + out.meter_len <= n);
	}
	/* Random bytes: the tokenizer refuses most, the rest must pass. */
	for (int round = 0; round < 3000; round++) {
		n = 1 + seed % 200;
		for (size_t k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[k] = (char)(seed >> 16);
		}
		extract(c, c->v, buf, n, today, &out);
	}

	/* No usable today: absolute dates with a year only. */
	static const struct slot_date bad_today[] = { { 0, 0, 0 }, { 2026, 2, 30 }, { -5, 13, 40 } };
	for (size_t i = 0; i < sizeof(bad_today) / sizeof(bad_today[0]); i++) {
		extract(c, c->v, "tomorrow or 1 March", 19, bad_today[i], &out);
		assert_false(out.has_date);
		extract(c, c->v, "1 March 2027", 12, bad_today[i], &out);
		assert_true(out.has_date);
	}
	/* Arguments that are missing. */
	assert_int_equal(slot_extract(NULL, "x", &c->tb, today, &out), 0);
	assert_false(out.has_date);
	assert_int_equal(slot_extract(c->v, "x", &c->tb, today, NULL), -1);
}

/* An empty vocabulary still knows numeric dates and meter IDs. */
static void test_empty_vocab(void **state)
{
	struct ctx *c = *state;
	struct slot_vocab *v = slot_vocab_new();
	assert_non_null(v);
	struct slot_found out;
	const char *t = "am 01.03.2027 mit Zähler 707057500012345671, Hauptstraße 5";
	extract(c, v, t, strlen(t), ymd(2026, 11, 26), &out);
	assert_true(out.has_date);
	assert_int_equal(out.date.m, 3);
	assert_true(out.has_meter);
	assert_false(out.has_address);
	char key[64];
	assert_int_equal(slot_address_key(v, "Hauptstraße 5", 14, key, sizeof(key)), 14);
	assert_string_equal(key, "hauptstrasse 5");
	assert_int_equal(slot_address_key(NULL, "Hauptstr. 5", 11, key, sizeof(key)), 10);
	slot_vocab_free(v);
}

static void test_key_edge(void **state)
{
	struct ctx *c = *state;
	char key[8];
	assert_int_equal(slot_address_key(c->v, "Hauptstraße 5", 14, key, sizeof(key)), -1);
	assert_int_equal(slot_address_key(c->v, "x", 1, key, 0), -1);
	assert_int_equal(slot_address_key(c->v, NULL, 1, key, sizeof(key)), -1);
	assert_int_equal(slot_address_key(c->v, "\xff", 1, key, sizeof(key)), -1);
	assert_int_equal(slot_address_key(c->v, "", 0, key, sizeof(key)), 0);
	assert_string_equal(key, "");
	assert_int_equal(slot_address_key(c->v, "...", 3, key, sizeof(key)), 0);
}

int main(int argc, char **argv)
{
	struct ctx c = { .dir = argc > 1 ? argv[1] : FIXTURE_DIR };
	int rc = 1;
	if (tok_buf_init(&c.tb, MSG_MAX) < 0)
		return 1;
	c.v = load_vocab(c.dir);
	if (!c.v)
		goto free_tok;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_dates, &c),
		cmocka_unit_test_prestate(test_meters, &c),
		cmocka_unit_test_prestate(test_addresses, &c),
		cmocka_unit_test_prestate(test_not_street, &c),
		cmocka_unit_test_prestate(test_address_keys, &c),
		cmocka_unit_test_prestate(test_vocab_errors, &c),
		cmocka_unit_test(test_vocab_edge),
		cmocka_unit_test(test_date_helpers),
		cmocka_unit_test(test_parse_iso),
		cmocka_unit_test(test_gs1),
		cmocka_unit_test_prestate(test_robust, &c),
		cmocka_unit_test_prestate(test_empty_vocab, &c),
		cmocka_unit_test_prestate(test_key_edge, &c),
	};
	rc = cmocka_run_group_tests_name("slot", tests, NULL, NULL);
	slot_vocab_free(c.v);
free_tok:
	tok_buf_free(&c.tb);
	return rc;
}
