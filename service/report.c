/* report: JSON and human-readable views of a decision. See include/report.h. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

json_object *report_parse_object(const char *line, size_t len, int max_depth,
				 const char **why, bool *too_deep)
{
	/* json-c counts the level a value sits in as one more. */
	json_tokener *tok = json_tokener_new_ex(max_depth + 1);
	json_object *o = NULL;
	*why = "out of memory";
	if (too_deep)
		*too_deep = false;
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	if (!o || jerr != json_tokener_success) {
		bool deep = jerr == json_tokener_error_depth;
		if (too_deep)
			*too_deep = deep;
		*why = deep ? "JSON nested too deeply" : "not valid JSON";
		goto put_obj;
	}
	if (!json_object_is_type(o, json_type_object)) {
		*why = "not a JSON object";
		goto put_obj;
	}
	for (size_t i = used; i < len; i++)
		if (!strchr(" \t\r\n", line[i]) || line[i] == '\0') {
			*why = "text after the JSON object";
			goto put_obj;
		}
	json_tokener_free(tok);
	return o;
put_obj:
	json_object_put(o);
	json_tokener_free(tok);
	return NULL;
}

static const char *meter_kind(uint8_t k)
{
	switch (k) {
	case SLOT_METER_EAN18: return "ean18";
	case SLOT_METER_DE: return "de_meter";
	case SLOT_METER_DE_ZP: return "de_zaehlpunkt";
	}
	return "none";
}

/* ---- a JSON writer into a caller's buffer: the reply frame is on the
 * server's per-message path, where building json-c objects cost more than
 * the engine itself. */

struct jb {
	char *p;
	size_t len, cap;
	bool full;
};

static void raw(struct jb *b, const char *s, size_t n)
{
	if (b->full || b->len + n >= b->cap) {
		b->full = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void lit(struct jb *b, const char *s)
{
	raw(b, s, strlen(s));
}

/* A JSON string; the text is UTF-8 already (the tokenizer refused
 * anything else), so only quotes, backslashes and controls need escapes. */
static void str(struct jb *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	raw(b, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		raw(b, s + run, i - run);
		run = i + 1;
		char esc[7] = { '\\', (char)c, 0 };
		if (c == '\n')
			esc[1] = 'n';
		else if (c == '\r')
			esc[1] = 'r';
		else if (c == '\t')
			esc[1] = 't';
		else if (c < 0x20)
			memcpy(esc, (char[]){ '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 }, 7);
		lit(b, esc);
	}
	raw(b, s + run, n - run);
	raw(b, "\"", 1);
}

static void cstr(struct jb *b, const char *s)
{
	str(b, s, strlen(s));
}

static void key(struct jb *b, const char *k)
{
	if (b->len && b->p[b->len - 1] != '{' && b->p[b->len - 1] != '[')
		raw(b, ",", 1);
	cstr(b, k);
	raw(b, ":", 1);
}

static void item(struct jb *b, bool first)
{
	if (!first)
		raw(b, ",", 1);
}

static void facts(struct jb *b, const struct engine_facts *f)
{
	raw(b, "{", 1);
	if (f->has_date) {
		char d[16];
		snprintf(d, sizeof(d), "%04d-%02d-%02d", f->date.y, f->date.m, f->date.d);
		key(b, "date");
		cstr(b, d);
	}
	if (f->has_meter) {
		key(b, "meter");
		raw(b, "{", 1);
		key(b, "id");
		cstr(b, f->meter.id);
		key(b, "kind");
		cstr(b, meter_kind(f->meter.kind));
		key(b, "valid");
		lit(b, f->meter.valid ? "true" : "false");
		raw(b, "}", 1);
	}
	if (f->has_address) {
		key(b, "address");
		raw(b, "{", 1);
		key(b, "text");
		cstr(b, f->address.text);
		key(b, "street");
		cstr(b, f->address.street);
		key(b, "postcode");
		cstr(b, f->address.postcode);
		key(b, "city");
		cstr(b, f->address.city);
		raw(b, "}", 1);
	}
	raw(b, "}", 1);
}

static void topics(struct jb *b, const struct engine *e, uint32_t set)
{
	const struct intent_pack *p = engine_pack(e);
	bool first = true;
	raw(b, "[", 1);
	for (size_t t = 0; t < intent_topic_count(p); t++)
		if (set & (1u << t)) {
			item(b, first);
			first = false;
			cstr(b, intent_topic_name(p, t));
		}
	raw(b, "]", 1);
}

static void technical(struct jb *b, const struct engine_plan *plan)
{
	raw(b, "[", 1);
	for (uint8_t i = 0; i < plan->nspans; i++) {
		item(b, i == 0);
		str(b, plan->text + plan->spans[i].off, plan->spans[i].len);
	}
	raw(b, "]", 1);
}

/* The members shared by the CLI object and the reply frame. */
static void members(struct jb *b, const struct engine *e, const struct engine_plan *plan,
		    const struct engine_reply *reply)
{
	const struct intent_pack *p = engine_pack(e);
	key(b, "intents");
	raw(b, "[", 1);
	for (uint8_t i = 0; i < plan->ir.ndetected; i++) {
		uint8_t id = plan->ir.rank[i];
		char score[16];
		/* Three decimals: enough to tune by, and stable in diffs. */
		snprintf(score, sizeof(score), "%.3f", plan->ir.score[id]);
		item(b, i == 0);
		raw(b, "{", 1);
		key(b, "id");
		cstr(b, intent_name(p, id));
		key(b, "score");
		lit(b, score);
		raw(b, "}", 1);
	}
	raw(b, "]", 1);
	key(b, "escalate");
	lit(b, plan->escalate ? "true" : "false");
	key(b, "l2_topics");
	topics(b, e, plan->topics);
	key(b, "lang");
	cstr(b, intent_lang_code(p, (size_t)plan->lang));
	key(b, "slots");
	facts(b, &plan->facts);
	key(b, "technical_part");
	technical(b, plan);
	if (!reply)
		return;
	key(b, "outcomes");
	raw(b, "[", 1);
	for (uint8_t i = 0; i < reply->nparts; i++) {
		item(b, i == 0);
		raw(b, "{", 1);
		key(b, "intent");
		cstr(b, intent_name(p, reply->parts[i].intent));
		key(b, "outcome");
		cstr(b, engine_outcome_name(reply->parts[i].outcome));
		raw(b, "}", 1);
	}
	raw(b, "]", 1);
}

int report_write_json(const struct engine *e, const struct engine_plan *plan,
		      const struct engine_reply *reply, char *out, size_t cap)
{
	struct jb b = { .p = out, .cap = cap, .full = cap == 0 };
	raw(&b, "{", 1);
	members(&b, e, plan, reply);
	if (reply) {
		key(&b, "reply");
		str(&b, reply->text, reply->len);
	}
	raw(&b, "}", 1);
	return b.full ? -1 : (int)b.len;
}

const char *report_ticket_status(const struct engine_plan *plan,
				 const struct engine_results *res)
{
	if (!plan->escalate)
		return "none";
	return res->ticket == ENGINE_TICKET_STORED ? "stored"
	     : res->ticket == ENGINE_TICKET_FAILED ? "failed" : "preview";
}

int report_write_frame(const struct engine *e, const struct engine_plan *plan,
		       const struct engine_reply *reply, const struct engine_results *res,
		       const char *in_reply_to, char *out, size_t cap)
{
	struct jb b = { .p = out, .cap = cap, .full = cap == 0 };
	raw(&b, "{", 1);
	key(&b, "type");
	lit(&b, "\"reply\"");
	key(&b, "in_reply_to");
	lit(&b, in_reply_to ? in_reply_to : "null");
	key(&b, "text");
	str(&b, reply->text, reply->len);
	members(&b, e, plan, reply);
	key(&b, "escalation");
	raw(&b, "{", 1);
	key(&b, "escalate");
	lit(&b, plan->escalate ? "true" : "false");
	key(&b, "topics");
	topics(&b, e, plan->topics);
	key(&b, "status");
	cstr(&b, report_ticket_status(plan, res));
	key(&b, "ticket");
	if (plan->escalate && res->ticket == ENGINE_TICKET_STORED)
		cstr(&b, res->ticket_ref);
	else
		lit(&b, "null");
	raw(&b, "}", 1);
	raw(&b, "}", 1);
	return b.full ? -1 : (int)b.len;
}

void report_human(FILE *out, const struct engine *e, const struct tok_buf *toks,
		  const struct engine_plan *plan, const struct engine_reply *reply)
{
	const struct intent_pack *p = engine_pack(e);
	const struct intent_result *ir = &plan->ir;
	fprintf(out, "language: %s (%s)\n", intent_lang_code(p, plan->lang),
		ir->lang_detected ? "detected" : "from the conversation or default");
	fprintf(out, "tokens:");
	for (uint32_t i = 0; i < toks->n; i++)
		fprintf(out, " %.*s", (int)toks->v[i].nlen, tok_norm(toks, i));
	fprintf(out, "\nintents:\n");
	for (uint8_t r = 0; r < ir->nintents; r++) {
		uint8_t id = ir->rank[r];
		fprintf(out, "  %-22s %.3f%s", intent_name(p, id), ir->score[id],
			r < ir->ndetected ? "  detected" : "");
		const char *sep = "  <-";
		for (uint32_t h = 0; h < ir->nhits; h++) {
			const char *kind, *target, *term, *lang;
			intent_entry_describe(p, ir->hits[h].entry, &kind, &target, &term, &lang);
			if (strcmp(kind, "intent") || strcmp(target, intent_name(p, id)))
				continue;
			fprintf(out, "%s %s/%s%s", sep, lang, term, ir->hits[h].typo ? "~" : "");
			sep = ",";
		}
		fputc('\n', out);
	}
	if (ir->ambiguous)
		fprintf(out, "  (ambiguous: asks which one)\n");
	fprintf(out, "slots:");
	if (plan->found.has_date)
		fprintf(out, " date=%04d-%02d-%02d", plan->found.date.y, plan->found.date.m,
			plan->found.date.d);
	if (plan->found.has_meter)
		fprintf(out, " meter=%s(%s%s)", plan->found.meter.id,
			meter_kind(plan->found.meter.kind),
			plan->found.meter.valid ? "" : ", bad check digit");
	if (plan->found.has_address)
		fprintf(out, " address=\"%s\"", plan->found.address.text);
	if (!plan->found.has_date && !plan->found.has_meter && !plan->found.has_address)
		fprintf(out, " none");
	fprintf(out, "\nl2: %s", plan->escalate ? "escalate" : "no escalation");
	for (uint8_t k = 0; k < ir->ntriggers; k++) {
		const struct intent_trigger *tr = &ir->triggers[k];
		const struct tok *a = &toks->v[tr->tok_first], *b = &toks->v[tr->tok_last];
		fprintf(out, "\n  %s: \"%.*s\"%s", intent_topic_name(p, tr->topic),
			(int)(b->off + b->len - a->off), plan->text + a->off,
			tr->excluded ? " (look-alike, ignored)" :
			tr->negated ? " (negated)" : "");
	}
	for (uint8_t i = 0; i < plan->nspans; i++)
		fprintf(out, "\n  technical part: \"%.*s\"", (int)plan->spans[i].len,
			plan->text + plan->spans[i].off);
	fprintf(out, "\n");
	if (reply) {
		fprintf(out, "outcomes:");
		for (uint8_t i = 0; i < reply->nparts; i++)
			fprintf(out, " %s=%s", intent_name(p, reply->parts[i].intent),
				engine_outcome_name(reply->parts[i].outcome));
		fprintf(out, "%s\nreply:\n%s\n", reply->nparts ? "" : " none", reply->text);
	}
}

json_object *report_ticket_json(const struct engine *e, const struct engine_session *s,
				const struct engine_plan *plan, const char *ticket_id,
				const char *session_id, const char *created_at)
{
	const struct intent_pack *p = engine_pack(e);
	size_t cap = 4 * (plan->len + ENGINE_TURNS * ENGINE_TURN_TEXT) + 4096;
	char *buf = malloc(cap);
	json_object *o = NULL;
	if (!buf)
		return NULL;
	struct jb b = { .p = buf, .cap = cap };
	raw(&b, "{", 1);
	key(&b, "ticket_id");
	cstr(&b, ticket_id);
	key(&b, "session_id");
	cstr(&b, session_id);
	key(&b, "created_at");
	cstr(&b, created_at);
	key(&b, "lang");
	cstr(&b, intent_lang_code(p, (size_t)plan->lang));
	key(&b, "technical_part");
	technical(&b, plan);
	key(&b, "message");
	str(&b, plan->text, plan->len);
	key(&b, "l2_topics");
	topics(&b, e, plan->topics);
	key(&b, "slots");
	facts(&b, &plan->facts);
	key(&b, "intents_answered");
	raw(&b, "[", 1);
	bool first = true;
	for (size_t i = 0; i < intent_count(p); i++)
		if (plan->active & (1u << i)) {
			item(&b, first);
			first = false;
			cstr(&b, intent_name(p, i));
		}
	raw(&b, "]", 1);
	key(&b, "turns");
	raw(&b, "[", 1);
	first = true;
	for (uint32_t back = ENGINE_TURNS; back-- > 0;) {
		const struct engine_turn *t = engine_session_turn(s, back);
		if (!t)
			continue;
		item(&b, first);
		first = false;
		raw(&b, "{", 1);
		key(&b, "from");
		cstr(&b, t->customer ? "customer" : "assistant");
		key(&b, "text");
		cstr(&b, t->text);
		raw(&b, "}", 1);
	}
	raw(&b, "]", 1);
	raw(&b, "}", 1);
	/* Tickets are few, and the queue and the spool take json-c objects:
	 * the one writer is parsed back rather than written twice. */
	if (!b.full)
		o = json_tokener_parse(buf);
	free(buf);
	return o;
}
