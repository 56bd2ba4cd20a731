/* report: what the engine decided, for people and for machines. The JSON
 * object is the contract of `autoassist classify --jsonl` (DESIGN.md) and
 * the body of the server's reply frames, written straight into a buffer;
 * the ticket object is what goes to the L2 queue. */
#ifndef AUTOASSIST_REPORT_H
#define AUTOASSIST_REPORT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "engine.h"

/* Nesting deeper than this is no labelled message, registry record or
 * ticket. */
#define REPORT_MAX_DEPTH 16

/* Makes a tokener for report_parse_object_tok that takes objects nested at
 * most max_depth levels. Returns NULL when memory is short; free it with
 * json_tokener_free. */
json_tokener *report_tokener_new(int max_depth);

/* Parses a line holding exactly one JSON object, with a tokener the caller
 * keeps for many lines (report_tokener_new), as strictly as RFC 8259: no
 * single quotes, trailing commas, comments, Infinity or raw control
 * characters in strings. White space around the object is allowed; text
 * after it is refused, so "{...} junk" or "{A}{B}" is not half read. Returns the object (release with json_object_put) or NULL
 * with *why set to a static sentence and *too_deep (when not NULL) telling
 * whether nesting was the reason. */
json_object *report_parse_object_tok(json_tokener *tok, const char *line, size_t len,
				     const char **why, bool *too_deep);

/* The most report_write_json or report_write_frame can write for messages
 * of up to max_bytes bytes: the reply and the message's technical part,
 * each escaped at worst six bytes a byte, and the rest. */
#define REPORT_JSON_MAX(max_bytes) (6 * ((size_t)(max_bytes) + ENGINE_REPLY_MAX) + 65536)

/* Writes {"intents": [{"id","score"}...], "escalate", "l2_topics", "lang",
 * "slots", "technical_part", "outcomes", "reply"} for a decided and said
 * message (without "outcomes" and "reply" when reply is NULL) into out:
 * the contract of `autoassist classify --jsonl` (DESIGN.md). Returns the
 * length, or -1 when it does not fit. */
int report_write_json(const struct engine *e, const struct engine_plan *plan,
		      const struct engine_reply *reply, char *out, size_t cap);

/* What became of the plan's escalation: "none", "preview" (no ticket
 * store), "stored" or "failed". A static string. */
const char *report_ticket_status(const struct engine_plan *plan,
				 const struct engine_results *res);

/* Writes the server's reply frame: {"type":"reply", "in_reply_to" (raw
 * JSON, or null when NULL), "text", the members above but "reply", and
 * "escalation": {"escalate", "topics", "status", "ticket"}} into out.
 * Returns the length, or -1 when it does not fit. */
int report_write_frame(const struct engine *e, const struct engine_plan *plan,
		       const struct engine_reply *reply, const struct engine_results *res,
		       const char *in_reply_to, char *out, size_t cap);

/* Writes the human-readable explanation of `autoassist classify TEXT`:
 * language, tokens, every intent's score with the terms that fired, slots,
 * L2 topics and triggers, the reply. */
void report_human(FILE *out, const struct engine *e, const struct tok_buf *toks,
		  const struct engine_plan *plan, const struct engine_reply *reply);

/* Builds the L2 ticket for an escalating plan: id, session, created_at
 * (ISO 8601 UTC, given), lang, technical_part, message, l2_topics, slots,
 * intents_answered and the recent turns of session (taken before the
 * reply is said). Caller releases it. */
json_object *report_ticket_json(const struct engine *e, const struct engine_session *s,
				const struct engine_plan *plan, const char *ticket_id,
				const char *session_id, const char *created_at);

#endif
