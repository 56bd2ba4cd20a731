/* report: JSON and human-readable views of a decision. See include/report.h. */
#include "report.h"

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

static void iso_date(struct slot_date d, char *out, size_t cap)
{
	snprintf(out, cap, "%04d-%02d-%02d", d.y, d.m, d.d);
}

json_object *report_facts_json(const struct engine_facts *f)
{
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	if (f->has_date) {
		char d[16];
		iso_date(f->date, d, sizeof(d));
		json_object_object_add(o, "date", json_object_new_string(d));
	}
	if (f->has_meter) {
		json_object *m = json_object_new_object();
		json_object_object_add(m, "id", json_object_new_string(f->meter.id));
		json_object_object_add(m, "kind", json_object_new_string(meter_kind(f->meter.kind)));
		json_object_object_add(m, "valid", json_object_new_boolean(f->meter.valid));
		json_object_object_add(o, "meter", m);
	}
	if (f->has_address) {
		json_object *a = json_object_new_object();
		json_object_object_add(a, "text", json_object_new_string(f->address.text));
		json_object_object_add(a, "street", json_object_new_string(f->address.street));
		json_object_object_add(a, "postcode", json_object_new_string(f->address.postcode));
		json_object_object_add(a, "city", json_object_new_string(f->address.city));
		json_object_object_add(o, "address", a);
	}
	return o;
}

static json_object *topics_json(const struct engine *e, uint32_t topics)
{
	json_object *a = json_object_new_array();
	const struct intent_pack *p = engine_pack(e);
	for (size_t t = 0; t < intent_topic_count(p); t++)
		if (topics & (1u << t))
			json_object_array_add(a, json_object_new_string(intent_topic_name(p, t)));
	return a;
}

static json_object *technical_json(const struct engine_plan *plan)
{
	json_object *a = json_object_new_array();
	for (uint8_t i = 0; i < plan->nspans; i++)
		json_object_array_add(a, json_object_new_string_len(
			plan->text + plan->spans[i].off, (int)plan->spans[i].len));
	return a;
}

json_object *report_outcomes_json(const struct engine *e, const struct engine_reply *reply)
{
	const struct intent_pack *p = engine_pack(e);
	json_object *outs = json_object_new_array();
	for (uint8_t i = 0; i < reply->nparts; i++) {
		json_object *it = json_object_new_object();
		json_object_object_add(it, "intent", json_object_new_string(
			intent_name(p, reply->parts[i].intent)));
		json_object_object_add(it, "outcome", json_object_new_string(
			engine_outcome_name(reply->parts[i].outcome)));
		json_object_array_add(outs, it);
	}
	return outs;
}

json_object *report_json(const struct engine *e, const struct engine_plan *plan,
			 const struct engine_reply *reply)
{
	const struct intent_pack *p = engine_pack(e);
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object *intents = json_object_new_array();
	for (uint8_t i = 0; i < plan->ir.ndetected; i++) {
		uint8_t id = plan->ir.rank[i];
		json_object *it = json_object_new_object();
		json_object_object_add(it, "id", json_object_new_string(intent_name(p, id)));
		/* Three decimals: enough to tune by, and stable in diffs. */
		char buf[16];
		snprintf(buf, sizeof(buf), "%.3f", plan->ir.score[id]);
		json_object_object_add(it, "score", json_object_new_double_s(
			plan->ir.score[id], buf));
		json_object_array_add(intents, it);
	}
	json_object_object_add(o, "intents", intents);
	json_object_object_add(o, "escalate", json_object_new_boolean(plan->escalate));
	json_object_object_add(o, "l2_topics", topics_json(e, plan->topics));
	json_object_object_add(o, "lang", json_object_new_string(intent_lang_code(p, plan->lang)));
	json_object_object_add(o, "slots", report_facts_json(&plan->facts));
	json_object_object_add(o, "technical_part", technical_json(plan));
	if (reply) {
		json_object_object_add(o, "outcomes", report_outcomes_json(e, reply));
		json_object_object_add(o, "reply", json_object_new_string_len(
			reply->text, (int)reply->len));
	}
	return o;
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
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "ticket_id", json_object_new_string(ticket_id));
	json_object_object_add(o, "session_id", json_object_new_string(session_id));
	json_object_object_add(o, "created_at", json_object_new_string(created_at));
	json_object_object_add(o, "lang", json_object_new_string(intent_lang_code(p, plan->lang)));
	json_object_object_add(o, "technical_part", technical_json(plan));
	json_object_object_add(o, "message", json_object_new_string_len(plan->text, (int)plan->len));
	json_object_object_add(o, "l2_topics", topics_json(e, plan->topics));
	json_object_object_add(o, "slots", report_facts_json(&plan->facts));
	json_object *ans = json_object_new_array();
	for (size_t i = 0; i < intent_count(p); i++)
		if (plan->active & (1u << i))
			json_object_array_add(ans, json_object_new_string(intent_name(p, i)));
	json_object_object_add(o, "intents_answered", ans);
	json_object *turns = json_object_new_array();
	for (uint32_t back = ENGINE_TURNS; back-- > 0;) {
		const struct engine_turn *t = engine_session_turn(s, back);
		if (!t)
			continue;
		json_object *it = json_object_new_object();
		json_object_object_add(it, "from", json_object_new_string(
			t->customer ? "customer" : "assistant"));
		json_object_object_add(it, "text", json_object_new_string(t->text));
		json_object_array_add(turns, it);
	}
	json_object_object_add(o, "turns", turns);
	return o;
}
