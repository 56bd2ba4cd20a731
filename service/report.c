/* report: JSON and human-readable views of a decision. See include/report.h. */
#include "report.h"

#include "jw.h"

#include <stdlib.h>
#include <string.h>

json_tokener *report_tokener_new(int max_depth)
{
	/* json-c counts the level a value sits in as one more. */
	json_tokener *tok = json_tokener_new_ex(max_depth + 1);
	/* Without it json-c takes single quotes, trailing commas, comments,
	 * TRUE and 007; a client written against that would break elsewhere. */
	if (tok)
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	return tok;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether the 0 at s[i] opens a number's integer part and a digit follows
 * it ("007", "-01"), which RFC 8259 forbids; an exponent may have them
 * ("1e05"). */
static bool leading_zero(const char *s, size_t i, size_t n)
{
	if (i + 1 >= n || !is_digit(s[i + 1]))
		return false;
	char p = i ? s[i - 1] : ' ';
	if (is_digit(p) || p == '.' || p == 'e' || p == 'E' || p == '+')
		return false;
	return !(p == '-' && i >= 2 && (s[i - 2] == 'e' || s[i - 2] == 'E'));
}

/* What json-c's strict mode still lets through and RFC 8259 does not: a
 * raw control character inside a string, words other than true, false
 * and null (Infinity, NaN), a single quote ({'a':1} and {"a":'t'} parse,
 * where only letters of those words stand between the quotes), a leading
 * zero ("-007") and a dot with no digit after it ("1.", "1.e5") outside
 * strings. The text parsed, so double quotes pair up and escapes are well
 * formed. */
static bool strict_json(const char *s, size_t n)
{
	bool in_string = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (in_string) {
			if (c < 0x20)
				return false;
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '\'' ||
			   (((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !strchr("truefalsnE", c))) {
			return false;
		} else if ((c == '.' && (i + 1 >= n || !is_digit(s[i + 1]))) ||
			   (c == '0' && leading_zero(s, i, n))) {
			return false;
		}
	}
	return true;
}

json_object *report_parse_object_tok(json_tokener *tok, const char *line, size_t len,
				     const char **why, bool *too_deep)
{
	json_tokener_reset(tok);
	json_object *o = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	if (too_deep)
		*too_deep = false;
	if (!o || jerr != json_tokener_success || !strict_json(line, used)) {
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
	return o;
put_obj:
	json_object_put(o);
	return NULL;
}

static const char *meter_kind(uint8_t k)
{
	switch (k) {
	case SLOT_METER_EAN18: return "ean18";
	case SLOT_METER_DE: return "de_meter";
	case SLOT_METER_DE_ZP: return "de_zaehlpunkt";
	case SLOT_METER_DE_MALO: return "de_malo";
	}
	return "none";
}

static void facts(struct jw *b, const struct engine_facts *f)
{
	jw_raw(b, "{", 1);
	if (f->has_date) {
		char d[SLOT_DATE_ISO];
		slot_date_iso(f->date, d);
		jw_key(b, "date");
		jw_cstr(b, d);
	}
	if (f->has_meter) {
		jw_key(b, "meter");
		jw_raw(b, "{", 1);
		jw_key(b, "id");
		jw_cstr(b, f->meter.id);
		jw_key(b, "kind");
		jw_cstr(b, meter_kind(f->meter.kind));
		jw_key(b, "valid");
		jw_bool(b, f->meter.valid);
		jw_raw(b, "}", 1);
	}
	if (f->has_address) {
		jw_key(b, "address");
		jw_raw(b, "{", 1);
		jw_key(b, "text");
		jw_cstr(b, f->address.text);
		jw_key(b, "street");
		jw_cstr(b, f->address.street);
		jw_key(b, "postcode");
		jw_cstr(b, f->address.postcode);
		jw_key(b, "city");
		jw_cstr(b, f->address.city);
		jw_raw(b, "}", 1);
	}
	jw_raw(b, "}", 1);
}

static void topics(struct jw *b, const struct engine *e, uint32_t set)
{
	const struct intent_pack *p = engine_pack(e);
	bool first = true;
	jw_raw(b, "[", 1);
	for (size_t t = 0; t < intent_topic_count(p); t++)
		if (set & (1u << t)) {
			jw_item(b, first);
			first = false;
			jw_cstr(b, intent_topic_name(p, t));
		}
	jw_raw(b, "]", 1);
}

static void technical(struct jw *b, const struct engine_plan *plan)
{
	jw_raw(b, "[", 1);
	for (uint8_t i = 0; i < plan->nspans; i++) {
		jw_item(b, i == 0);
		jw_str(b, plan->text + plan->spans[i].off, plan->spans[i].len);
	}
	jw_raw(b, "]", 1);
}

/* The members shared by the CLI object and the reply frame. */
static void members(struct jw *b, const struct engine *e, const struct engine_plan *plan,
		    const struct engine_reply *reply)
{
	const struct intent_pack *p = engine_pack(e);
	jw_key(b, "intents");
	jw_raw(b, "[", 1);
	for (uint8_t i = 0; i < plan->ir.ndetected; i++) {
		uint8_t id = plan->ir.rank[i];
		jw_item(b, i == 0);
		jw_raw(b, "{", 1);
		jw_key(b, "id");
		jw_cstr(b, intent_name(p, id));
		jw_key(b, "score");
		/* Three decimals: enough to tune by, and stable in diffs. */
		jw_fixed3(b, plan->ir.score[id]);
		jw_raw(b, "}", 1);
	}
	jw_raw(b, "]", 1);
	jw_key(b, "escalate");
	jw_bool(b, plan->escalate);
	jw_key(b, "l2_topics");
	topics(b, e, plan->topics);
	jw_key(b, "lang");
	jw_cstr(b, intent_lang_code(p, (size_t)plan->lang));
	jw_key(b, "slots");
	facts(b, &plan->facts);
	jw_key(b, "technical_part");
	technical(b, plan);
	if (plan->escalate && plan->ticket[0]) {
		jw_key(b, "follow_up_of");
		jw_cstr(b, plan->ticket);
		jw_key(b, "sent_before");
		jw_bool(b, plan->repeat);
	}
	if (!reply)
		return;
	jw_key(b, "outcomes");
	jw_raw(b, "[", 1);
	for (uint8_t i = 0; i < reply->nparts; i++) {
		jw_item(b, i == 0);
		jw_raw(b, "{", 1);
		jw_key(b, "intent");
		jw_cstr(b, intent_name(p, reply->parts[i].intent));
		jw_key(b, "outcome");
		jw_cstr(b, engine_outcome_name(reply->parts[i].outcome));
		jw_raw(b, "}", 1);
	}
	jw_raw(b, "]", 1);
}

int report_write_json(const struct engine *e, const struct engine_plan *plan,
		      const struct engine_reply *reply, char *out, size_t cap)
{
	struct jw b;
	jw_init(&b, out, cap);
	jw_raw(&b, "{", 1);
	members(&b, e, plan, reply);
	if (reply) {
		jw_key(&b, "reply");
		jw_str(&b, reply->text, reply->len);
	}
	jw_raw(&b, "}", 1);
	return b.full ? -1 : (int)b.len;
}

const char *report_ticket_status(const struct engine_plan *plan,
				 const struct engine_results *res)
{
	if (!plan->escalate)
		return "none";
	return res->ticket == ENGINE_TICKET_STORED || plan->repeat ? "stored"
	     : res->ticket == ENGINE_TICKET_FAILED ? "failed" : "preview";
}

int report_write_frame(const struct engine *e, const struct engine_plan *plan,
		       const struct engine_reply *reply, const struct engine_results *res,
		       const char *in_reply_to, char *out, size_t cap)
{
	struct jw b;
	jw_init(&b, out, cap);
	jw_raw(&b, "{", 1);
	jw_key(&b, "type");
	jw_lit(&b, "\"reply\"");
	jw_key(&b, "in_reply_to");
	jw_lit(&b, in_reply_to ? in_reply_to : "null");
	jw_key(&b, "text");
	jw_str(&b, reply->text, reply->len);
	members(&b, e, plan, reply);
	jw_key(&b, "escalation");
	jw_raw(&b, "{", 1);
	jw_key(&b, "escalate");
	jw_bool(&b, plan->escalate);
	jw_key(&b, "topics");
	topics(&b, e, plan->topics);
	jw_key(&b, "status");
	jw_cstr(&b, report_ticket_status(plan, res));
	jw_key(&b, "ticket");
	if (plan->escalate && res->ticket == ENGINE_TICKET_STORED)
		jw_cstr(&b, res->ticket_ref);
	else if (plan->repeat)
		jw_cstr(&b, plan->ticket);
	else
		jw_lit(&b, "null");
	jw_raw(&b, "}", 1);
	jw_raw(&b, "}", 1);
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
	if (plan->found.has_date) {
		char d[SLOT_DATE_ISO];
		slot_date_iso(plan->found.date, d);
		fprintf(out, " date=%s", d);
	}
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
			tr->excluded == INTENT_EXCL_LOOKALIKE ? " (look-alike, ignored)" :
			tr->excluded == INTENT_EXCL_PLACE ? " (a street's name, ignored)" :
			tr->excluded == INTENT_EXCL_OWNED ? " (what a car or device has, ignored)" :
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
	struct jw b;
	jw_init(&b, buf, cap);
	jw_raw(&b, "{", 1);
	jw_key(&b, "ticket_id");
	jw_cstr(&b, ticket_id);
	jw_key(&b, "session_id");
	jw_cstr(&b, session_id);
	jw_key(&b, "created_at");
	jw_cstr(&b, created_at);
	jw_key(&b, "lang");
	jw_cstr(&b, intent_lang_code(p, (size_t)plan->lang));
	jw_key(&b, "technical_part");
	technical(&b, plan);
	if (plan->ticket[0]) {
		jw_key(&b, "follow_up_of");
		jw_cstr(&b, plan->ticket);
	}
	jw_key(&b, "message");
	jw_str(&b, plan->text, plan->len);
	jw_key(&b, "l2_topics");
	topics(&b, e, plan->topics);
	jw_key(&b, "slots");
	facts(&b, &plan->facts);
	jw_key(&b, "intents_answered");
	jw_raw(&b, "[", 1);
	bool first = true;
	for (size_t i = 0; i < intent_count(p); i++)
		if (plan->active & (1u << i)) {
			jw_item(&b, first);
			first = false;
			jw_cstr(&b, intent_name(p, i));
		}
	jw_raw(&b, "]", 1);
	jw_key(&b, "turns");
	jw_raw(&b, "[", 1);
	first = true;
	for (uint32_t back = ENGINE_TURNS; back-- > 0;) {
		const struct engine_turn *t = engine_session_turn(s, back);
		if (!t)
			continue;
		jw_item(&b, first);
		first = false;
		jw_raw(&b, "{", 1);
		jw_key(&b, "from");
		jw_cstr(&b, t->customer ? "customer" : "assistant");
		jw_key(&b, "text");
		jw_cstr(&b, t->text);
		jw_raw(&b, "}", 1);
	}
	jw_raw(&b, "]", 1);
	jw_raw(&b, "}", 1);
	/* Tickets are few, and the queue and the spool take json-c objects:
	 * the one writer is parsed back rather than written twice. */
	if (!b.full)
		o = json_tokener_parse(buf);
	free(buf);
	return o;
}
