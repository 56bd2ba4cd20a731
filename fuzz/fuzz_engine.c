/* fuzz_engine: a libFuzzer target for everything a customer's text goes
 * through before it reaches a socket or Redis: tok, slot, intent, the
 * engine's decide and say, the reply frame, the ticket, and the stored
 * form of a conversation. Built by `make fuzz` (clang, with AddressSanitizer
 * and UndefinedBehaviorSanitizer); see the README.
 *
 * An input is a conversation: its messages separated by '\n', each one
 * turn. Its first byte, which is also part of the first message, picks what
 * the adapter "did" (registry and ticket results) and whether the client
 * fixed a language, so plain corpus messages make good seeds. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "report.h"
#include "tok.h"

#define MAX_BYTES 4096 /* the server's default --max-bytes */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz {
	struct engine *e;
	struct engine_scratch *scr;
	json_tokener *jt;
	struct engine_plan plan;
	struct engine_reply reply;
	char *frame;
	size_t frame_cap;
};

/* libFuzzer's callbacks take no context: this is the one the process has. */
static struct fuzz fz;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char err[512];
	fz.e = engine_load(AUTOASSIST_SOURCE_DIR "/intents", AUTOASSIST_SOURCE_DIR "/templates",
			   NULL, err, sizeof(err));
	if (!fz.e) {
		fprintf(stderr, "fuzz_engine: %s\n", err);
		abort();
	}
	fz.scr = engine_scratch_new(fz.e);
	fz.jt = json_tokener_new();
	fz.frame_cap = REPORT_JSON_MAX(MAX_BYTES);
	fz.frame = malloc(fz.frame_cap);
	if (!fz.scr || !fz.jt || !fz.frame)
		abort();
	return 0;
}

/* What the adapter did, as the selector byte says: the registry's answer
 * (a record at the meter the plan names, when found) and the ticket's. */
static void results(uint8_t sel, const struct engine_plan *plan, struct engine_results *res)
{
	memset(res, 0, sizeof(*res));
	res->registry = sel & 3;
	if (res->registry == ENGINE_REG_FOUND) {
		snprintf(res->record.meter_id, sizeof(res->record.meter_id), "%s",
			 plan->facts.meter.id);
		snprintf(res->record.street, sizeof(res->record.street), "Storgata 12B");
		snprintf(res->record.postcode, sizeof(res->record.postcode), "0155");
		res->record.supply_start = (struct slot_date){ 2027, 3, 1 };
	}
	res->ticket = (sel >> 2) % 3;
	if (res->ticket == ENGINE_TICKET_STORED)
		snprintf(res->ticket_ref, sizeof(res->ticket_ref), "L2-20261126-0123456789ABCDEF");
}

/* The reply frame must be one JSON object in valid UTF-8: browsers close
 * the connection on anything else. */
static void check_frame(const char *frame, int n)
{
	if (n < 0 || !tok_utf8_valid(frame, (size_t)n))
		abort();
	json_tokener_reset(fz.jt);
	json_object *o = json_tokener_parse_ex(fz.jt, frame, n);
	if (!o || !json_object_is_type(o, json_type_object))
		abort();
	json_object_put(o);
}

/* One turn of conversation s. */
static void turn(uint8_t sel, struct engine_session *s, const char *text, size_t len)
{
	struct slot_date today = { 2026, 11, 26 };
	int rc = engine_decide(fz.e, fz.scr, s, text, len, today, &fz.plan);
	/* The tokenizer and the server's own check agree on what is UTF-8. */
	bool valid = tok_utf8_valid(text, len);
	if ((rc == -TOK_EUTF8 && valid) || (rc == 0 && !valid))
		abort();
	if (rc < 0)
		return;
	struct engine_results res;
	results(sel, &fz.plan, &res);
	if (fz.plan.escalate)
		json_object_put(report_ticket_json(fz.e, s, &fz.plan, "L2-20261126-0123456789ABCDEF",
						   "0123456789abcdef0123456789abcdef",
						   "2026-11-26T12:00:00Z"));
	engine_say(fz.e, s, &fz.plan, &res, &fz.reply);
	check_frame(fz.frame, report_write_frame(fz.e, &fz.plan, &fz.reply, &res, "\"m1\"",
						 fz.frame, fz.frame_cap));
	/* What a turn leaves is stored and read back, by this build. */
	unsigned char packed[ENGINE_SESSION_BYTES];
	struct engine_session back;
	if (!engine_session_unpack(fz.e, packed, engine_session_pack(fz.e, s, packed), &back))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t sel = data[0];
	struct engine_session s;
	engine_session_init(&s, sel & 0x80 ? (int)(sel & 3) : -1);
	const char *p = (const char *)data, *end = p + size;
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		if (len <= MAX_BYTES)
			turn(sel, &s, p, len);
		if (!nl)
			break;
		p = nl + 1;
	}
	/* The same bytes as a conversation Redis handed back: refused, or one
	 * that can go on. */
	struct engine_session u;
	if (engine_session_unpack(fz.e, data, size, &u))
		turn(sel, &u, "When does my contract start?", 28);
	return 0;
}
