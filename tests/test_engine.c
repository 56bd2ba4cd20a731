/* Tests for engine: multi-turn conversations from a fixture table (asking
 * for missing facts, the registry's answers, escalation and tickets,
 * languages across turns), then what decide refuses, hostile input, customer
 * text in replies, the session's history and load errors. */
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
#include "engine.h"
#include "tok.h"

#define PACK_DIR FIXTURE_DIR "/pack"
#define TEMPLATES_DIR AUTOASSIST_SOURCE_DIR "/templates"

static const struct slot_date TODAY = { 2026, 11, 26 };

struct fx {
	struct engine *e;
	struct engine_scratch *scr;
	struct engine_plan plan;
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
	if (!(f->scr = engine_scratch_new(f->e)))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	engine_scratch_free(f->scr);
	engine_free(f->e);
	free(f);
	return 0;
}

static int lang_of(struct fx *f, const char *code)
{
	int l = intent_lang_find(engine_pack(f->e), code);
	assert_true(l >= 0);
	return l;
}

/* Decides and says text with no registry and no ticket store. */
static void turn(struct fx *f, struct engine_session *s, const char *text)
{
	struct engine_results res = { 0 };
	assert_int_equal(engine_decide(f->e, f->scr, s, text, strlen(text), TODAY, &f->plan), 0);
	assert_int_equal(engine_say(f->e, s, &f->plan, &res, &f->reply), 0);
}

/* ---- the dialogue table ---- */

#define MAX_CHECKS 8

struct turn_spec {
	int line;
	char text[2048];
	size_t len;
	char registry[256];
	char ticket[128];
	char lookup[16];
	char outcomes[256];
	bool has_outcomes;
	int escalate; /* -1: not given, means no */
	int files;    /* -1: not checked */
	char lang[8];
	char facts[64];
	bool has_facts;
	char technical[MAX_CHECKS][512]; /* one a sentence span, in order */
	int ntechnical;
	char reply[MAX_CHECKS][512];
	int nreply;
	char noreply[MAX_CHECKS][128];
	int nnoreply;
	char once[MAX_CHECKS][128];
	int nonce;
	char exact[2048];
	bool has_exact;
};

struct run {
	struct fx *f;
	const char *name;
	int nturn;
	int failures;
	struct engine_session s;
	struct slot_date today;
};

static void complain(struct run *r, const struct turn_spec *t, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_error("dialogues.txt:%d: [%s] turn %d: %s\n", t->line, r->name, r->nturn, msg);
	r->failures++;
}

/* The record of "found:METER,ADDRESS,POSTCODE,YYYY-MM-DD". */
static bool parse_record(const char *spec, struct engine_record *rec)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *f[4], *save = NULL;
	int n = 0;
	for (char *p = strtok_r(buf, ",", &save); p && n < 4; p = strtok_r(NULL, ",", &save))
		f[n++] = p;
	if (n != 4)
		return false;
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->meter_id, sizeof(rec->meter_id), "%s", f[0]);
	snprintf(rec->street, sizeof(rec->street), "%s", f[1]);
	snprintf(rec->postcode, sizeof(rec->postcode), "%s", f[2]);
	return slot_date_parse_iso(f[3], &rec->supply_start) == 0;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void run_turn(struct run *r, struct turn_spec *t)
{
	struct fx *f = r->f;
	const struct intent_pack *pack = engine_pack(f->e);
	struct engine_plan *p = &f->plan;
	struct engine_reply *rep = &f->reply;
	r->nturn++;
	if (!t->has_outcomes) {
		complain(r, t, "the fixture gives no outcomes line");
		return;
	}
	int rc = engine_decide(f->e, f->scr, &r->s, t->text, t->len, r->today, p);
	if (rc != 0) {
		complain(r, t, "engine_decide returned %d", rc);
		return;
	}

	struct engine_results res = { 0 };
	static const char *const lookups[] = { "none", "meter", "address" };
	if (strcmp(t->registry, "none") == 0) {
		if (p->lookup != ENGINE_LOOKUP_NONE)
			complain(r, t, "the plan asks for a lookup by %s", lookups[p->lookup]);
	} else {
		if (p->lookup == ENGINE_LOOKUP_NONE)
			complain(r, t, "the plan asks for no lookup");
		if (strncmp(t->registry, "found:", 6) == 0) {
			res.registry = ENGINE_REG_FOUND;
			if (!parse_record(t->registry + 6, &res.record))
				complain(r, t, "bad registry record \"%s\"", t->registry);
		} else if (strcmp(t->registry, "not_found") == 0) {
			res.registry = ENGINE_REG_NOT_FOUND;
		} else if (strcmp(t->registry, "unavailable") == 0) {
			res.registry = ENGINE_REG_UNAVAILABLE;
		} else if (strcmp(t->registry, "several") == 0) {
			res.registry = ENGINE_REG_SEVERAL;
		} else {
			complain(r, t, "bad registry line \"%s\"", t->registry);
		}
	}
	if (t->lookup[0] && strcmp(lookups[p->lookup], t->lookup) != 0)
		complain(r, t, "lookup by %s, want %s", lookups[p->lookup], t->lookup);

	if (strncmp(t->ticket, "stored:", 7) == 0) {
		res.ticket = ENGINE_TICKET_STORED;
		snprintf(res.ticket_ref, sizeof(res.ticket_ref), "%s", t->ticket + 7);
	} else if (strcmp(t->ticket, "failed") == 0) {
		res.ticket = ENGINE_TICKET_FAILED;
	} else if (strcmp(t->ticket, "none") != 0) {
		complain(r, t, "bad ticket line \"%s\"", t->ticket);
	}
	if (res.ticket != ENGINE_TICKET_NONE && !engine_plan_files_ticket(p))
		complain(r, t, "a ticket result for a plan that files none");
	if (t->files >= 0 && engine_plan_files_ticket(p) != (t->files == 1))
		complain(r, t, "files a ticket %d, want %d", engine_plan_files_ticket(p), t->files);

	if (engine_say(f->e, &r->s, p, &res, rep) != 0)
		complain(r, t, "engine_say cut the reply");

	char got[256] = "";
	size_t n = 0;
	for (uint8_t i = 0; i < rep->nparts; i++)
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s=%s", i ? " " : "",
				      intent_name(pack, rep->parts[i].intent),
				      engine_outcome_name(rep->parts[i].outcome));
	if (!rep->nparts)
		snprintf(got, sizeof(got), "-");
	if (strcmp(got, t->outcomes) != 0)
		complain(r, t, "outcomes \"%s\", want \"%s\"", got, t->outcomes);

	bool want_esc = t->escalate == 1;
	if (p->escalate != want_esc)
		complain(r, t, "escalate %d, want %d", p->escalate, want_esc);
	if (t->lang[0] && strcmp(intent_lang_code(pack, (size_t)p->lang), t->lang) != 0)
		complain(r, t, "lang %s, want %s", intent_lang_code(pack, (size_t)p->lang), t->lang);
	if (t->has_facts) {
		char facts[64] = "";
		const struct engine_facts *fa = &r->s.facts;
		snprintf(facts, sizeof(facts), "%s%s%s%s%s", fa->has_date ? "date" : "",
			 fa->has_date && (fa->has_meter || fa->has_address) ? "," : "",
			 fa->has_meter ? "meter" : "", fa->has_meter && fa->has_address ? "," : "",
			 fa->has_address ? "address" : "");
		if (!facts[0])
			snprintf(facts, sizeof(facts), "-");
		if (strcmp(facts, t->facts) != 0)
			complain(r, t, "the session holds %s, want %s", facts, t->facts);
	}
	if (t->ntechnical && p->nspans != t->ntechnical)
		complain(r, t, "technical part of %u spans, want %d", p->nspans, t->ntechnical);
	for (int i = 0; i < t->ntechnical && i < p->nspans; i++)
		if (p->spans[i].len != strlen(t->technical[i]) ||
		    memcmp(p->text + p->spans[i].off, t->technical[i], p->spans[i].len) != 0)
			complain(r, t, "technical part span %d \"%.*s\", want \"%s\"", i,
				 (int)p->spans[i].len, p->text + p->spans[i].off, t->technical[i]);

	if (rep->len != strlen(rep->text))
		complain(r, t, "reply length %zu, strlen %zu", rep->len, strlen(rep->text));
	for (int i = 0; i < t->nreply; i++)
		if (!strstr(rep->text, t->reply[i]))
			complain(r, t, "the reply does not contain \"%s\":\n%s", t->reply[i], rep->text);
	for (int i = 0; i < t->nnoreply; i++)
		if (strstr(rep->text, t->noreply[i]))
			complain(r, t, "the reply contains \"%s\":\n%s", t->noreply[i], rep->text);
	for (int i = 0; i < t->nonce; i++)
		if (count(rep->text, t->once[i]) != 1)
			complain(r, t, "\"%s\" appears %zu times in:\n%s", t->once[i],
				 count(rep->text, t->once[i]), rep->text);
	if (t->has_exact && strcmp(rep->text, t->exact) != 0)
		complain(r, t, "the reply is\n%s\nwant\n%s", rep->text, t->exact);
}

static void test_dialogues(void **state)
{
	struct fx *f = *state;
	FILE *in = fopen(FIXTURE_DIR "/dialogues.txt", "r");
	assert_non_null(in);
	static struct turn_spec t;
	struct run r = { .f = f };
	char name[256] = "";
	char line[4096];
	int lineno = 0, conversations = 0, turns = 0, failures = 0;
	bool in_turn = false, in_conv = false;

	for (bool eof = false; !eof;) {
		eof = !fgets(line, sizeof(line), in);
		if (!eof)
			lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!eof && line[0] == '#')
			continue;
		bool blank = eof || line[0] == '\0';
		bool starts = !blank && (strncmp(line, "> ", 2) == 0 ||
					 strncmp(line, "conversation ", 13) == 0);
		if (in_turn && (blank || starts)) {
			run_turn(&r, &t);
			turns++;
			in_turn = false;
		}
		if (blank) {
			if (in_conv) {
				failures += r.failures;
				conversations++;
				in_conv = false;
			}
			continue;
		}
		char *sp = strchr(line, ' ');
		char *arg = sp ? sp + 1 : line + strlen(line);
		if (sp)
			*sp = '\0';
		const char *kw = line;
		if (strcmp(kw, "conversation") == 0) {
			if (in_conv)
				fail_msg("dialogues.txt:%d: a blank line must end a conversation", lineno);
			snprintf(name, sizeof(name), "%s", arg);
			memset(&r, 0, sizeof(r));
			r.f = f;
			r.name = name;
			r.today = TODAY;
			engine_session_init(&r.s, -1);
			in_conv = true;
			continue;
		}
		if (!in_conv)
			fail_msg("dialogues.txt:%d: \"%s\" outside a conversation", lineno, kw);
		if (strcmp(kw, ">") == 0) {
			memset(&t, 0, sizeof(t));
			t.line = lineno;
			t.escalate = -1;
			t.files = -1;
			snprintf(t.registry, sizeof(t.registry), "none");
			snprintf(t.ticket, sizeof(t.ticket), "none");
			snprintf(t.text, sizeof(t.text), "%s", arg);
			t.len = tu_unescape(t.text);
			in_turn = true;
		} else if (strcmp(kw, "today") == 0) {
			if (r.nturn || slot_date_parse_iso(arg, &r.today) < 0)
				fail_msg("dialogues.txt:%d: bad today line", lineno);
		} else if (strcmp(kw, "session") == 0) {
			if (r.nturn)
				fail_msg("dialogues.txt:%d: session after the first turn", lineno);
			engine_session_init(&r.s, lang_of(f, arg));
		} else if (!in_turn) {
			fail_msg("dialogues.txt:%d: \"%s\" before the first \"> \" line", lineno, kw);
		} else if (strcmp(kw, "registry") == 0) {
			snprintf(t.registry, sizeof(t.registry), "%s", arg);
		} else if (strcmp(kw, "ticket") == 0) {
			snprintf(t.ticket, sizeof(t.ticket), "%s", arg);
		} else if (strcmp(kw, "lookup") == 0) {
			snprintf(t.lookup, sizeof(t.lookup), "%s", arg);
		} else if (strcmp(kw, "outcomes") == 0) {
			snprintf(t.outcomes, sizeof(t.outcomes), "%s", arg);
			t.has_outcomes = true;
		} else if (strcmp(kw, "escalate") == 0) {
			if (strcmp(arg, "yes") && strcmp(arg, "no"))
				fail_msg("dialogues.txt:%d: escalate yes or no", lineno);
			t.escalate = strcmp(arg, "yes") == 0;
		} else if (strcmp(kw, "files") == 0) {
			if (strcmp(arg, "yes") && strcmp(arg, "no"))
				fail_msg("dialogues.txt:%d: files yes or no", lineno);
			t.files = strcmp(arg, "yes") == 0;
		} else if (strcmp(kw, "lang") == 0) {
			snprintf(t.lang, sizeof(t.lang), "%s", arg);
		} else if (strcmp(kw, "facts") == 0) {
			snprintf(t.facts, sizeof(t.facts), "%s", arg);
			t.has_facts = true;
		} else if (strcmp(kw, "technical") == 0 && t.ntechnical < MAX_CHECKS) {
			snprintf(t.technical[t.ntechnical++], sizeof(t.technical[0]), "%s", arg);
		} else if (strcmp(kw, "reply") == 0 && t.nreply < MAX_CHECKS) {
			snprintf(t.reply[t.nreply++], sizeof(t.reply[0]), "%s", arg);
		} else if (strcmp(kw, "noreply") == 0 && t.nnoreply < MAX_CHECKS) {
			snprintf(t.noreply[t.nnoreply++], sizeof(t.noreply[0]), "%s", arg);
		} else if (strcmp(kw, "once") == 0 && t.nonce < MAX_CHECKS) {
			snprintf(t.once[t.nonce++], sizeof(t.once[0]), "%s", arg);
		} else if (strcmp(kw, "exact") == 0) {
			snprintf(t.exact, sizeof(t.exact), "%s", arg);
			tu_unescape(t.exact);
			t.has_exact = true;
		} else {
			fail_msg("dialogues.txt:%d: unknown line \"%s\"", lineno, kw);
		}
	}
	fclose(in);
	assert_int_equal(failures, 0);
	assert_true(conversations >= 25);
	assert_true(turns >= 40);
}

/* ---- decide on what it must refuse or survive ---- */

static void test_decide_refuses_without_touching_session(void **state)
{
	struct fx *f = *state;
	struct engine_session s, before;
	engine_session_init(&s, -1);
	turn(f, &s, "When does my contract start? We move in on 1 March 2027");
	assert_int_equal(f->reply.nparts, 1);
	assert_int_equal(f->reply.parts[0].outcome, ENGINE_OUT_ASK);
	assert_int_equal(f->reply.parts[0].missing, INTENT_SLOT_METER | INTENT_SLOT_ADDRESS);
	memcpy(&before, &s, sizeof(s));

	const char bad[] = "meter 707057500012345671 \xff\xfe";
	assert_int_equal(engine_decide(f->e, f->scr, &s, bad, sizeof(bad) - 1, TODAY, &f->plan),
			 -TOK_EUTF8);
	assert_memory_equal(&s, &before, sizeof(s));
	const char overlong[] = "\xc0\xaf"; /* "/" written in two bytes */
	assert_int_equal(engine_decide(f->e, f->scr, &s, overlong, 2, TODAY, &f->plan),
			 -TOK_EUTF8);
	const char surrogate[] = "\xed\xa0\x80";
	assert_int_equal(engine_decide(f->e, f->scr, &s, surrogate, 3, TODAY, &f->plan),
			 -TOK_EUTF8);
	const char cut[] = "Zähler \xc3";
	assert_int_equal(engine_decide(f->e, f->scr, &s, cut, sizeof(cut) - 1, TODAY, &f->plan),
			 -TOK_EUTF8);

	size_t max = engine_options(f->e)->max_bytes;
	assert_int_equal(max, 4096);
	char *big = malloc(max + 2);
	memset(big, 'a', max + 1);
	big[max + 1] = '\0';
	assert_int_equal(engine_decide(f->e, f->scr, &s, big, max + 1, TODAY, &f->plan),
			 -TOK_ETOOLONG);
	assert_memory_equal(&s, &before, sizeof(s));
	/* Exactly the limit is fine. */
	assert_int_equal(engine_decide(f->e, f->scr, &s, big, max, TODAY, &f->plan), 0);
	free(big);
	assert_memory_equal(&s, &before, sizeof(s));

	/* The conversation goes on as if the refused messages were not sent. */
	turn(f, &s, "707057500012345671");
	assert_int_equal(f->plan.lookup, ENGINE_LOOKUP_METER);
	assert_int_equal(f->reply.nparts, 1);
	assert_string_equal(intent_name(engine_pack(f->e), f->reply.parts[0].intent),
			    "contract_start_date");
	assert_int_equal(f->reply.parts[0].outcome, ENGINE_OUT_UNAVAILABLE);
}

/* The reply is complete and valid UTF-8, however hostile the message. */
static void say_and_check(struct fx *f, struct engine_session *s, const char *text, size_t len)
{
	int rc = engine_decide(f->e, f->scr, s, text, len, TODAY, &f->plan);
	assert_true(rc == 0 || rc == -TOK_EUTF8 || rc == -TOK_ENOSPACE);
	if (rc)
		return;
	struct engine_results res = { .registry = ENGINE_REG_NOT_FOUND,
				      .ticket = ENGINE_TICKET_STORED, .ticket_ref = "L2-x" };
	if (f->plan.lookup == ENGINE_LOOKUP_NONE)
		res.registry = ENGINE_REG_NOT_ASKED;
	if (!f->plan.escalate)
		res.ticket = ENGINE_TICKET_NONE;
	assert_int_equal(engine_say(f->e, s, &f->plan, &res, &f->reply), 0);
	assert_true(f->reply.len > 0 && f->reply.len < ENGINE_REPLY_MAX);
	assert_int_equal(strlen(f->reply.text), f->reply.len);
	char *folded = malloc(2 * ENGINE_REPLY_MAX);
	assert_true(tok_fold(f->reply.text, f->reply.len, folded, 2 * ENGINE_REPLY_MAX) >= 0);
	free(folded);
	assert_true(f->plan.nspans <= ENGINE_MAX_SPANS);
	for (uint8_t i = 0; i < f->plan.nspans; i++)
		assert_true(f->plan.spans[i].off + f->plan.spans[i].len <= len);
	const struct engine_turn *last = engine_session_turn(s, 1);
	assert_non_null(last);
	assert_true(last->customer);
	assert_true(strlen(last->text) < ENGINE_TURN_TEXT);
}

static void test_hostile_messages(void **state)
{
	struct fx *f = *state;
	const size_t max = 4096;
	char *buf = malloc(max + 1);
	struct engine_session s;
	engine_session_init(&s, -1);

	/* 4096 bytes of emoji. */
	for (size_t i = 0; i + 4 <= max; i += 4)
		memcpy(buf + i, "\xf0\x9f\x98\x80", 4);
	say_and_check(f, &s, buf, max);
	assert_true(f->reply.fallback);

	/* Emoji glued to keywords and triggers, and 18 digit runs. */
	static const char *const pieces[] = {
		"solar", "\xf0\x9f\x94\x8b", "battery", "707057500012345671", " ", "1.", "März",
		"no", "address", "Straße", "5", ",", "!", "\n", "modbus", "\xe2\x80\x99",
		"[Date]", "%n", "don't", "2027-03-01",
	};
	uint32_t seed = 12345;
	for (int round = 0; round < 20; round++) {
		size_t n = 0;
		for (;;) {
			seed = seed * 1103515245u + 12345u;
			const char *p = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t pl = strlen(p);
			if (n + pl > max)
				break;
			memcpy(buf + n, p, pl);
			n += pl;
		}
		engine_session_init(&s, -1);
		say_and_check(f, &s, buf, n);
		say_and_check(f, &s, buf, n / 2);
	}

	/* Random bytes: refused or answered, never a crash. */
	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < max; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (char)(seed >> 16);
		}
		say_and_check(f, &s, buf, max);
	}
	/* Random ASCII that is valid: answered. */
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < max; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (char)(' ' + (seed >> 16) % 95);
		}
		assert_int_equal(engine_decide(f->e, f->scr, &s, buf, max, TODAY, &f->plan), 0);
		say_and_check(f, &s, buf, max);
	}

	/* The most triggers and sentences a message can hold. */
	size_t n = 0;
	while (n + 8 <= max) {
		memcpy(buf + n, "solar. ", 7);
		n += 7;
	}
	say_and_check(f, &s, buf, n);
	assert_true(f->plan.escalate);
	assert_int_equal(f->plan.nspans, ENGINE_MAX_SPANS);
	free(buf);
}

/* What the customer wrote goes into a reply as text, never as a template. */
static void test_customer_text_is_not_expanded(void **state)
{
	struct fx *f = *state;
	int au = intent_find(engine_pack(f->e), "address_update");
	assert_true(au >= 0);

	/* Messages with placeholders and format directives around the facts:
	 * the reply is the template with the address as it was taken. */
	static const char *const texts[] = {
		"We move in on 1 March 2027 [Date] %n%s, my new address is Karl-Marx-Straße 5",
		"[Date] my new address is Karl-Marx-Straße 5 [Date]%n 1 March 2027",
		"%s%s%s%n my new address is Karl-Marx-Straße 5. [Address] [Meter] [Ticket]",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct engine_session s;
		engine_session_init(&s, -1);
		turn(f, &s, texts[i]);
		assert_true(f->plan.facts.has_address);
		assert_string_equal(f->plan.facts.address.text, "Karl-Marx-Straße 5");
		assert_string_equal(f->reply.text,
				    "To link Karl-Marx-Straße 5 to your account, I need the meter ID "
				    "(EAN, 18 digits) of your new home.");
		/* The history keeps the message as written. */
		assert_string_equal(engine_session_turn(&s, 1)->text, texts[i]);
	}

	/* A session restored from storage whose address holds such text (the
	 * extractor may take more of a message one day): still literal. */
	struct engine_session s;
	engine_session_init(&s, -1);
	s.facts.has_date = true;
	s.facts.date = (struct slot_date){ 2027, 3, 1 };
	s.facts.has_address = true;
	snprintf(s.facts.address.text, sizeof(s.facts.address.text),
		 "Storgata [Date] 12B, %%n%%s [Address]");
	snprintf(s.facts.address.street, sizeof(s.facts.address.street), "Storgata 12B");
	s.pending = 1u << au;
	turn(f, &s, "any news?");
	assert_string_equal(f->reply.text,
			    "To link Storgata [Date] 12B, %n%s [Address] to your account, I need the "
			    "meter ID (EAN, 18 digits) of your new home.");

	/* And a ticket reference is inserted as it is, too. */
	struct engine_results res = { .ticket = ENGINE_TICKET_STORED,
				      .ticket_ref = "[Topics]%n" };
	const char *text = "we have solar";
	assert_int_equal(engine_decide(f->e, f->scr, &s, text, strlen(text), TODAY, &f->plan), 0);
	assert_int_equal(engine_say(f->e, &s, &f->plan, &res, &f->reply), 0);
	assert_non_null(strstr(f->reply.text, "separate ticket ([Topics]%n) and escalated"));
}

/* A plan that needs the registry is never confirmed without its answer. */
static void test_not_asked_is_not_confirmed(void **state)
{
	struct fx *f = *state;
	struct engine_session s;
	engine_session_init(&s, -1);
	const char *text = "When does my contract start? We move in on 1 March 2027, "
			   "meter 707057500012345671";
	assert_int_equal(engine_decide(f->e, f->scr, &s, text, strlen(text), TODAY, &f->plan), 0);
	assert_int_equal(f->plan.lookup, ENGINE_LOOKUP_METER);
	struct engine_results res = { .registry = ENGINE_REG_NOT_ASKED };
	/* A record the adapter did not vouch for is ignored. */
	res.record.supply_start = (struct slot_date){ 2027, 3, 1 };
	snprintf(res.record.meter_id, sizeof(res.record.meter_id), "707057500012345671");
	assert_int_equal(engine_say(f->e, &s, &f->plan, &res, &f->reply), 0);
	assert_int_equal(f->reply.parts[0].outcome, ENGINE_OUT_UNAVAILABLE);
	assert_null(strstr(f->reply.text, "confirmed your"));
	assert_true(s.pending & 1u);
	assert_int_equal(s.answered, 0);
}

static void test_session_history(void **state)
{
	struct fx *f = *state;
	struct engine_session s;
	engine_session_init(&s, -1);
	assert_null(engine_session_turn(&s, 0));
	turn(f, &s, "Can I take my pulse with me?");
	assert_int_equal(s.nturns, 2);
	assert_false(engine_session_turn(&s, 0)->customer);
	assert_string_equal(engine_session_turn(&s, 0)->text, f->reply.text);
	assert_true(engine_session_turn(&s, 1)->customer);
	assert_string_equal(engine_session_turn(&s, 1)->text, "Can I take my pulse with me?");
	assert_null(engine_session_turn(&s, 2));

	/* The last ENGINE_TURNS turns are kept. */
	for (int i = 0; i < 5; i++) {
		char text[32];
		snprintf(text, sizeof(text), "message %d", i);
		turn(f, &s, text);
	}
	assert_int_equal(s.nturns, 12);
	assert_string_equal(engine_session_turn(&s, 1)->text, "message 4");
	assert_string_equal(engine_session_turn(&s, 5)->text, "message 2");
	assert_null(engine_session_turn(&s, ENGINE_TURNS));

	/* A long message keeps its start and its end around " … ", each cut
	 * at a character boundary: the end of a reply names its ticket. */
	char text[600];
	size_t n = 0;
	while (n + 2 < sizeof(text) - 8) {
		memcpy(text + n, "ä", 2);
		n += 2;
	}
	memcpy(text + n, " the end", 9);
	n += 8;
	turn(f, &s, text);
	const char *kept = engine_session_turn(&s, 1)->text;
	size_t kl = strlen(kept);
	assert_true(kl < ENGINE_TURN_TEXT && kl > ENGINE_TURN_TEXT - 8);
	const char *gap = strstr(kept, " \xe2\x80\xa6 ");
	assert_non_null(gap);
	assert_memory_equal(kept, text, (size_t)(gap - kept));
	assert_string_equal(kept + kl - 8, " the end");
	assert_memory_equal(gap + 5, text + n - strlen(gap + 5), strlen(gap + 5));
	char folded[1024];
	assert_true(tok_fold(kept, strlen(kept), folded, sizeof(folded)) >= 0);

	/* The session is plain data: a copy carries the conversation on. */
	struct engine_session a, b;
	engine_session_init(&a, -1);
	turn(f, &a, "When does my contract start?");
	memcpy(&b, &a, sizeof(a));
	turn(f, &b, "1 March 2027");
	assert_non_null(strstr(f->reply.text, "To confirm 1 March 2027 as your start date"));
}

/* ---- sessions across packs (a reload, a restart with other files) ---- */

static char *read_all(const char *path)
{
	FILE *in = fopen(path, "r");
	assert_non_null(in);
	char *buf = calloc(1, 1 << 16);
	assert_non_null(buf);
	size_t n = fread(buf, 1, (1 << 16) - 1, in);
	assert_true(n > 0 && feof(in));
	fclose(in);
	return buf;
}

/* Writes the test pack into a temporary directory with payment_method
 * moved to the front of rules.txt, the English L2 topic modbus before
 * solar, and only the languages named, and loads it. */
static struct engine *load_reordered(const char *const *langs, size_t nlangs)
{
	char dir[] = "/tmp/aa_engine_XXXXXX";
	char *rules = read_all(PACK_DIR "/rules.txt");
	char *first = strstr(rules, "intent contract_start_date\n");
	char *moved = strstr(rules, "intent payment_method\n");
	assert_non_null(first);
	assert_non_null(moved);
	*moved = '\0';
	size_t cap = strlen(rules) + 64;
	char *out = malloc(cap);
	assert_non_null(out);
	snprintf(out, cap, "%.*sintent payment_method\n\n%s", (int)(first - rules), rules, first);
	struct tu_file files[3] = { { "rules.txt", out } };
	char *texts[2] = { NULL, NULL };
	assert_true(nlangs <= 2);
	for (size_t i = 0; i < nlangs; i++) {
		char path[256];
		snprintf(path, sizeof(path), PACK_DIR "/%s.txt", langs[i]);
		texts[i] = read_all(path);
		char *solar = strstr(texts[i], "[l2 solar]\n"), *modbus = strstr(texts[i], "[l2 modbus]\nmodbus\n");
		if (solar && modbus > solar) {
			static const char section[] = "[l2 modbus]\nmodbus\n";
			size_t n = sizeof(section) - 1;
			memmove(solar + n, solar, (size_t)(modbus - solar));
			memcpy(solar, section, n);
		}
		files[1 + i].name = strcmp(langs[i], "de") == 0 ? "de.txt" : "en.txt";
		files[1 + i].text = texts[i];
	}
	tu_write_dir(dir, files, 1 + nlangs);
	char err[512] = "";
	struct engine *e = engine_load(dir, TEMPLATES_DIR, NULL, err, sizeof(err));
	if (!e)
		fail_msg("engine_load: %s", err);
	tu_remove_dir(dir, files, 1 + nlangs);
	for (size_t i = 0; i < nlangs; i++)
		free(texts[i]);
	free(out);
	free(rules);
	return e;
}

static uint32_t bit_of(const struct engine *e, const char *intent)
{
	int i = intent_find(engine_pack(e), intent);
	assert_true(i >= 0);
	return 1u << i;
}

static uint32_t topic_bit(const struct engine *e, const char *topic)
{
	int i = intent_topic_find(engine_pack(e), topic);
	assert_true(i >= 0);
	return 1u << i;
}

static void test_session_across_packs(void **state)
{
	struct fx *f = *state;
	const struct intent_pack *a = engine_pack(f->e);
	/* A German conversation that answered the Pulse question and waits
	 * for a date and a meter ID. */
	struct engine_session s;
	engine_session_init(&s, lang_of(f, "de"));
	s.lang_fixed = true;
	turn(f, &s, "Kann ich meinen Pulse mitnehmen?");
	turn(f, &s, "Wann beginnt mein Vertrag?");
	assert_int_equal(s.pending, bit_of(f->e, "contract_start_date"));
	assert_true(s.answered & bit_of(f->e, "pulse_relocation"));

	/* Stored and read back by the same files: all of it. */
	unsigned char bytes[ENGINE_SESSION_BYTES];
	size_t n = engine_session_pack(f->e, &s, bytes);
	struct engine_session back;
	assert_true(engine_session_unpack(f->e, bytes, n, &back));
	assert_int_equal(back.pending, s.pending);
	assert_int_equal(back.answered, s.answered);
	assert_int_equal(back.lang, s.lang);
	assert_int_equal(back.nturns, 4);

	/* Without a ticket it is stored as builds before tickets stored it
	 * ("AAS2", the session as long as it was then), so that they read it
	 * in a rolling deploy. */
	uint32_t v2size = 1928;
	assert_memory_equal(bytes, "AAS2", 4);
	assert_memory_equal(bytes + 4, &v2size, 4);
	assert_true(n > ENGINE_SESSION_HEAD + v2size && n < ENGINE_SESSION_HEAD + sizeof(s));

	/* Not a session: cut short, another format. */
	assert_false(engine_session_unpack(f->e, bytes, n - 1, &back));
	bytes[3] = '1';
	assert_false(engine_session_unpack(f->e, bytes, n, &back));
	bytes[3] = '3';
	assert_false(engine_session_unpack(f->e, bytes, n, &back));
	bytes[3] = '2';

	const char *both[] = { "en", "de" };
	struct engine *b = load_reordered(both, 2);
	const struct intent_pack *pb = engine_pack(b);
	assert_int_not_equal(intent_find(a, "payment_method"), intent_find(pb, "payment_method"));

	/* Read back by other intents (a reload, a deploy): the language is
	 * found by code and the intents by name; facts and turns are kept. */
	assert_true(engine_session_unpack(b, bytes, n, &back));
	assert_string_equal(intent_lang_code(pb, (size_t)back.lang), "de");
	assert_true(back.lang_fixed);
	assert_int_equal(back.pending, bit_of(b, "contract_start_date"));
	assert_true(back.answered & bit_of(b, "pulse_relocation"));
	assert_false(back.answered & bit_of(b, "payment_method"));
	assert_int_equal(back.nturns, 4);
	assert_string_equal(engine_session_turn(&back, 1)->text, "Wann beginnt mein Vertrag?");

	/* Moved over in memory (a reload): the same, and the pending question
	 * is answered by the new engine. */
	struct engine_session moved = s;
	engine_session_move(f->e, b, &moved);
	assert_int_equal(moved.pending, bit_of(b, "contract_start_date"));
	assert_int_equal(moved.answered & bit_of(b, "pulse_relocation"), bit_of(b, "pulse_relocation"));
	assert_false(moved.answered & bit_of(b, "payment_method"));
	assert_string_equal(intent_lang_code(pb, (size_t)moved.lang), "de");
	struct engine_scratch *scr = engine_scratch_new(b);
	assert_non_null(scr);
	const char *text = "1. März 2027";
	assert_int_equal(engine_decide(b, scr, &moved, text, strlen(text), TODAY, &f->plan), 0);
	assert_int_equal(f->plan.active, bit_of(b, "contract_start_date"));
	engine_scratch_free(scr);
	engine_free(b);

	/* A language the new files lack: detected again. */
	const char *en_only[] = { "en" };
	struct engine *c = load_reordered(en_only, 1);
	moved = s;
	engine_session_move(f->e, c, &moved);
	assert_int_equal(moved.lang, -1);
	assert_false(moved.lang_fixed);
	assert_int_equal(moved.pending, bit_of(c, "contract_start_date"));
	assert_true(engine_session_unpack(c, bytes, n, &back));
	assert_int_equal(back.lang, -1);
	assert_false(back.lang_fixed);
	assert_int_equal(back.pending, bit_of(c, "contract_start_date"));

	/* The ticket's topics are found by name too: modbus comes first in
	 * the new files. */
	struct engine_session t;
	engine_session_init(&t, lang_of(f, "en"));
	snprintf(t.ticket, sizeof(t.ticket), "L2-20261126-0001");
	t.ticket_topics = topic_bit(f->e, "modbus") | topic_bit(f->e, "battery");
	t.ticket_nsent = 1;
	t.ticket_sent[0] = 0xC0FFEE;
	assert_int_not_equal(topic_bit(f->e, "modbus"), topic_bit(c, "modbus"));
	unsigned char before[ENGINE_SESSION_BYTES];
	memcpy(before, bytes, ENGINE_SESSION_HEAD); /* the "AAS2" form of an earlier turn */
	n = engine_session_pack(f->e, &t, bytes);
	assert_memory_equal(bytes, "AAS3", 4);
	/* Its turn count compares with the one stored before its ticket, and
	 * with no other build's. */
	assert_true(engine_session_kin(bytes, before));
	assert_true(engine_session_kin(before, bytes));
	before[3] = '1';
	assert_false(engine_session_kin(bytes, before));
	assert_false(engine_session_unpack(c, bytes, n - 1, &back));
	assert_true(engine_session_unpack(c, bytes, n, &back));
	assert_string_equal(back.ticket, "L2-20261126-0001");
	assert_int_equal(back.ticket_topics, topic_bit(c, "modbus") | topic_bit(c, "battery"));
	assert_int_equal(back.ticket_nsent, 1);
	assert_int_equal(back.ticket_sent[0], 0xC0FFEE);
	engine_free(c);

	/* Only the current turns' text is stored: what an older, longer turn
	 * left behind its end in the array is not. */
	struct engine_session old;
	engine_session_init(&old, lang_of(f, "en"));
	turn(f, &old, "a very long first message about moving house and many other things");
	for (int i = 0; i < ENGINE_TURNS / 2; i++)
		turn(f, &old, "hi");
	n = engine_session_pack(f->e, &old, bytes);
	assert_null(memmem(bytes, n, "many other things", 17));
}

/* A ticket whose topics the files no longer name (a reload renamed
 * them) takes no detail, so a symptom word is what it was without one:
 * "The light is blinking" asks about the Pulse. */
static void test_ticket_without_topics(void **state)
{
	struct fx *f = *state;
	struct engine_session s;
	engine_session_init(&s, lang_of(f, "en"));
	snprintf(s.ticket, sizeof(s.ticket), "L2-20261126-0001");
	turn(f, &s, "The light is blinking.");
	assert_false(f->plan.escalate);
	assert_int_equal(f->reply.nparts, 1);
	assert_int_equal(f->reply.parts[0].intent, intent_find(engine_pack(f->e), "pulse_relocation"));
}

/* Stored bytes are not trusted (Redis, which anyone with access may
 * write): a session no server could have written is none, rather than a
 * flag read as neither true nor false, a date past December or a reply
 * carrying invalid UTF-8 out to the browser. */
static void test_session_implausible(void **state)
{
	struct fx *f = *state;
	struct engine_session s;
	engine_session_init(&s, lang_of(f, "en"));
	turn(f, &s, "We move in on 1 March 2027.");
	assert_true(s.facts.has_date);
	unsigned char bytes[ENGINE_SESSION_BYTES], bad[ENGINE_SESSION_BYTES];
	size_t n = engine_session_pack(f->e, &s, bytes);
	struct engine_session back;
	assert_true(engine_session_unpack(f->e, bytes, n, &back));
	const size_t at = ENGINE_SESSION_HEAD;
	const struct {
		size_t off;
		unsigned char byte;
	} cases[] = {
		{ offsetof(struct engine_session, lang_fixed), 2 },
		{ offsetof(struct engine_session, facts.has_date), 0x80 },
		{ offsetof(struct engine_session, facts.meter.valid), 7 },
		{ offsetof(struct engine_session, facts.meter.kind), 99 },
		{ offsetof(struct engine_session, facts.date.m), 13 },
		{ offsetof(struct engine_session, facts.date.d), 0 },
		{ offsetof(struct engine_session, facts.address.city), 0xff },
		{ offsetof(struct engine_session, turns[0].customer), 3 },
		{ offsetof(struct engine_session, turns[1].text) + 1, 0xc0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, bytes, n);
		bad[at + cases[i].off] = cases[i].byte;
		if (!engine_session_unpack(f->e, bad, n, &back))
			continue;
		fail_msg("case %zu: a session with byte %#x at %zu read back", i, cases[i].byte,
			 cases[i].off);
	}
	memcpy(bad, bytes, n);
	bad[at + offsetof(struct engine_session, facts.date.m)] = 2;
	bad[at + offsetof(struct engine_session, facts.date.d)] = 30;
	assert_false(engine_session_unpack(f->e, bad, n, &back)); /* 30 February */
}

/* ---- loading ---- */

static void copy_file(const char *from, const char *to, const char *drop_key,
		      const char *replace, const char *with)
{
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	assert_non_null(in);
	assert_non_null(out);
	char line[4096];
	bool skipping = false;
	while (fgets(line, sizeof(line), in)) {
		if (line[0] == '[') {
			char key[256];
			snprintf(key, sizeof(key), "[%s]\n", drop_key ? drop_key : "");
			skipping = drop_key && strcmp(line, key) == 0;
		}
		if (skipping)
			continue;
		char *at = replace ? strstr(line, replace) : NULL;
		if (at) {
			*at = '\0';
			fprintf(out, "%s%s%s", line, with, at + strlen(replace));
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	fclose(out);
}

/* Loads the test pack with the templates of its languages changed as
 * asked; checks the error. */
static void expect_engine_error(const char *drop_key, const char *replace, const char *with,
				const struct engine_opts *opts, const char *want)
{
	static const char *const langs[] = { "en", "de", "nb", "sv" };
	enum { NLANGS = sizeof(langs) / sizeof(langs[0]) };
	char dir[] = "/tmp/aa_engine_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[NLANGS][256];
	for (size_t i = 0; i < NLANGS; i++) {
		char from[256];
		snprintf(from, sizeof(from), TEMPLATES_DIR "/%s.txt", langs[i]);
		snprintf(path[i], sizeof(path[i]), "%s/%s.txt", dir, langs[i]);
		copy_file(from, path[i], drop_key, replace, with);
	}
	char err[512] = "";
	struct engine *e = engine_load(PACK_DIR, dir, opts, err, sizeof(err));
	engine_free(e);
	for (size_t i = 0; i < NLANGS; i++)
		unlink(path[i]);
	rmdir(dir);
	if (!want) {
		if (!e)
			fail_msg("engine_load: %s", err);
		return;
	}
	if (e)
		fail_msg("the engine loaded; expected an error with \"%s\"", want);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
}

static void test_load_errors(void **state)
{
	(void)state;
	/* The copies load as they are. */
	expect_engine_error(NULL, NULL, NULL, NULL, NULL);
	expect_engine_error("contract_start_date.ask_date_meter", NULL, NULL, NULL,
			    "[contract_start_date.ask_date_meter] is missing");
	expect_engine_error("topic.modbus", NULL, NULL, NULL, "[topic.modbus] is missing");
	/* The fallback has no date to show. */
	expect_engine_error(NULL, "What do you need help with?",
			    "What do you need help with on [Date]?", NULL,
			    "[fallback] uses [Date], which it has no value for; it may use none");
	expect_engine_error(NULL, "What is your move-in date at the new address?",
			    "Is it [Ticket]?", NULL,
			    "[contract_start_date.ask_date] uses [Ticket], which it has no value for");
	/* An ask has no value for what it asks for, nor for a fact of a group
	 * either of two facts meets: ask_date may follow a meter ID or an
	 * address. */
	expect_engine_error(NULL, "please send me your new address and",
			    "please send me your new address [Address] and", NULL,
			    "[address_update.ask_address_meter] uses [Address], which it has no "
			    "value for; it may use none");
	expect_engine_error(NULL, "What is your move-in date at the new address?",
			    "What is your move-in date at [Address]?", NULL,
			    "[contract_start_date.ask_date] uses [Address], which it has no value "
			    "for; it may use none");
	struct engine_opts o;
	engine_opts_default(&o);
	o.default_lang = "nl";
	expect_engine_error(NULL, NULL, NULL, &o, "default language nl");

	char err[512] = "";
	assert_null(engine_load("/nonexistent/intents", TEMPLATES_DIR, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/intents/rules.txt"));
	assert_null(engine_load(PACK_DIR, "/nonexistent/templates", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/templates/"));
}

/* "Guten Morgen" greets; it does not say "tomorrow" (the pack's "rel morgen
 * = day+1"). Taking it for a move-in date asks the customer to confirm a
 * date they never gave. */
static void test_greeting_is_no_date(void **state)
{
	struct fx *f = *state;
	struct engine_session s;
	engine_session_init(&s, -1);
	turn(f, &s, "Guten Morgen, wann beginnt mein Vertrag?");
	assert_int_equal(f->reply.nparts, 1);
	assert_int_equal(f->reply.parts[0].outcome, ENGINE_OUT_ASK);
	if (f->plan.found.has_date)
		fail_msg("took %04d-%02d-%02d for the move-in date:\n%s", f->plan.found.date.y,
			 f->plan.found.date.m, f->plan.found.date.d, f->reply.text);
	assert_int_equal(f->reply.parts[0].missing,
			 INTENT_SLOT_DATE | INTENT_SLOT_METER | INTENT_SLOT_ADDRESS);
}

static void test_options_and_names(void **state)
{
	struct fx *f = *state;
	const struct engine_opts *o = engine_options(f->e);
	assert_float_equal(o->threshold, 0.5, 1e-9);
	assert_float_equal(o->margin, 0.15, 1e-9);
	assert_string_equal(o->default_lang, "en");
	assert_true(engine_memory(f->e) > 0);
	assert_string_equal(engine_outcome_name(ENGINE_OUT_CONFIRMED), "confirmed");
	assert_string_equal(engine_outcome_name(ENGINE_OUT_BAD_METER), "bad_meter");
	assert_string_equal(engine_outcome_name(ENGINE_OUT_COUNT), "?");

	/* A higher threshold: "address" alone (0.632) is no longer enough. */
	struct engine_opts strict;
	engine_opts_default(&strict);
	strict.threshold = 0.7;
	char err[512] = "";
	struct engine *e = engine_load(PACK_DIR, TEMPLATES_DIR, &strict, err, sizeof(err));
	assert_non_null(e);
	struct engine_scratch *scr = engine_scratch_new(e);
	struct engine_session s;
	engine_session_init(&s, -1);
	const char *text = "I have a new address";
	assert_int_equal(engine_decide(e, scr, &s, text, strlen(text), TODAY, &f->plan), 0);
	assert_int_equal(f->plan.ir.ndetected, 0);
	assert_int_equal(f->plan.active, 0);
	engine_scratch_free(scr);
	engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dialogues),
		cmocka_unit_test(test_decide_refuses_without_touching_session),
		cmocka_unit_test(test_hostile_messages),
		cmocka_unit_test(test_customer_text_is_not_expanded),
		cmocka_unit_test(test_not_asked_is_not_confirmed),
		cmocka_unit_test(test_session_history),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_greeting_is_no_date),
		cmocka_unit_test(test_options_and_names),
		cmocka_unit_test(test_session_across_packs),
		cmocka_unit_test(test_ticket_without_topics),
		cmocka_unit_test(test_session_implausible),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
