/* l2cli: the technicians' and operators' commands. See include/l2cli.h and
 * docs/redis.md.
 *
 * Everything a customer wrote reaches Redis only as a command argument
 * (redisCommandArgv), and the dead-letter copy happens inside Redis, so no
 * customer text is ever formatted into a command. On the terminal, control
 * characters in customer text are shown escaped, so a message cannot drive
 * the technician's terminal. */
#include "l2cli.h"

#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "l2.h"
#include "registry.h"

#define DEAD_SUFFIX ":dead"
#define STREAM_MAX 256   /* longest stream name accepted */
#define PAGE "100"       /* XPENDING entries per round trip */
#define PAGE_N 100
#define CLAIM_COUNT 100  /* claim's default --count, Redis' own default */
#define ID_MAX 64        /* longer than any stream entry id */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Copies the pending entry ARGV[2] of KEYS[1] to KEYS[2] (its fields plus
 * original_id and deliveries) and acknowledges it, when it is still pending
 * in group ARGV[1] with more than ARGV[3] deliveries. Returns the
 * deliveries when it moved the entry, else 0. Checking and moving in one
 * script means two technicians pulling at once cannot both move it, and a
 * crash cannot leave it copied but still pending. */
static const char dead_script[] =
	"local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)\n"
	"if #p == 0 then return 0 end\n"
	"local n = tonumber(p[1][4])\n"
	"if n <= tonumber(ARGV[3]) then return 0 end\n"
	"local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])\n"
	"local f = {}\n"
	"if #e > 0 and type(e[1][2]) == 'table' then f = e[1][2] end\n"
	"f[#f + 1] = 'original_id'\n"
	"f[#f + 1] = ARGV[2]\n"
	"f[#f + 1] = 'deliveries'\n"
	"f[#f + 1] = tostring(n)\n"
	"redis.call('XADD', KEYS[2], '*', unpack(f))\n"
	"redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
	"return n\n";

/* The options a subcommand may take, a bit each; --redis and --help are
 * taken by all. */
enum {
	OPT_CONSUMER = 1 << 0,
	OPT_COUNT = 1 << 1,
	OPT_BLOCK = 1 << 2,
	OPT_JSON = 1 << 3,
	OPT_IDLE = 1 << 4,
	OPT_MAXDEL = 1 << 5,
	OPT_REPLACE = 1 << 6,
	OPT_STREAM = 1 << 7, /* the l2 commands': the registry has no stream */
};

struct ctx {
	char prog[64];               /* "autoassist l2 pull", for messages */
	const struct l2cli_env *env;
	const char *url, *stream;
	char dead[STREAM_MAX + sizeof(DEAD_SUFFIX)];
	double timeout;               /* seconds the socket waits for a reply */
	long max_deliveries, count, block_ms, idle_ms;
	bool json, replace;
	const char *consumer;
	char **args;
	int nargs;
	redisContext *rc;
};

struct cmd {
	const char *group, *name;
	unsigned opts, required; /* OPT_ bits allowed, and needed */
	int min_args, max_args;  /* max -1: any number */
	int (*run)(struct ctx *c);
	const char *help;
};

/* ---- small helpers ---- */

/* True when getopt's '?' for optopt was a long option that takes no value
 * given one (--json=1, or an abbreviation), which getopt names by its
 * short letter: arg is that word, unless the letter came from a bundle
 * (-qz), where optind has not moved past it. */
static bool flag_given_value(const struct option *longopts, int optopt, const char *arg)
{
	size_t n = strcspn(arg, "=");
	if (!optopt || strncmp(arg, "--", 2) != 0 || !arg[n] || n == 2)
		return false;
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == optopt && o->has_arg == no_argument &&
		    strncmp(o->name, arg + 2, n - 2) == 0)
			return true;
	return false;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static struct timeval seconds_tv(double s)
{
	return (struct timeval){ (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };
}

/* Says why a Redis call failed and picks the exit code: a connection that
 * broke or timed out means Redis is unreachable; an error reply means the
 * operation failed. */
static int fail_reply(struct ctx *c, const char *what, const redisReply *r)
{
	if (c->rc->err) {
		fprintf(stderr, "%s: Redis at %s stopped answering (%s): ", c->prog, c->url, what);
		if (l2_timed_out(c->rc))
			fprintf(stderr, "no reply within %g s\n", c->timeout);
		else
			fprintf(stderr, "%s\n", c->rc->errstr);
		return L2CLI_UNREACHABLE;
	}
	if (r && r->type == REDIS_REPLY_ERROR)
		fprintf(stderr, "%s: %s: %s\n", c->prog, what, r->str);
	else
		fprintf(stderr, "%s: %s: unexpected reply from Redis\n", c->prog, what);
	return L2CLI_FAILED;
}

/* True when Redis answers NOAUTH: it wants a password, and none was sent. */
static bool wants_password(redisContext *rc)
{
	redisReply *r = redisCommand(rc, "PING");
	bool yes = r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOAUTH", 6) == 0;
	freeReplyObject(r);
	return yes;
}

static int connect_redis(struct ctx *c)
{
	char err[512];
	struct l2_redis cfg = { .url = c->url, .timeout = c->timeout,
				.user = c->env->redis_user, .password = c->env->redis_password };
	bool sent_password = cfg.password && *cfg.password;
	c->rc = l2_connect(&cfg, err, sizeof(err));
	/* Without it, no password would be said only by the first command's
	 * NOAUTH, as a failed operation; it is the same mistake as a wrong
	 * password, and gets the same exit code and hint. */
	bool noauth = c->rc && !sent_password && wants_password(c->rc);
	if (noauth) {
		snprintf(err, sizeof(err), "redis %s: it wants a password (NOAUTH)", c->url);
		redisFree(c->rc);
		c->rc = NULL;
	}
	if (!c->rc) {
		/* The hint names the setting that is likely wrong. */
		bool auth = noauth || strstr(err, "AUTH refused") != NULL;
		fprintf(stderr, "%s: Redis is unreachable: %s (set %s)\n", c->prog, err,
			auth ? "AUTOASSIST_REDIS_PASSWORD and AUTOASSIST_REDIS_USER"
			     : "--redis or AUTOASSIST_REDIS");
		return L2CLI_UNREACHABLE;
	}
	return L2CLI_OK;
}

static int ensure_group(struct ctx *c)
{
	char why[256];
	if (l2_ensure_group(c->rc, c->stream, why, sizeof(why)) == 0)
		return L2CLI_OK;
	if (c->rc->err)
		return fail_reply(c, "creating the consumer group " L2_GROUP, NULL);
	fprintf(stderr, "%s: cannot create the consumer group %s on %s: %s\n", c->prog, L2_GROUP,
		c->stream, why);
	return L2CLI_FAILED;
}

/* For the commands that look at what is there (ack, pending, stats): a
 * stream that does not exist is a mistake, a --stream mistyped, not one to
 * create (the server creates its stream when it connects). */
static int need_stream(struct ctx *c)
{
	const char *argv[] = { "EXISTS", c->stream };
	redisReply *r = redisCommandArgv(c->rc, 2, argv, NULL);
	int rc;
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		rc = fail_reply(c, "EXISTS", r);
	} else if (r->integer == 0) {
		fprintf(stderr, "%s: there is no stream %s (check --stream)\n", c->prog, c->stream);
		rc = L2CLI_FAILED;
	} else {
		rc = ensure_group(c);
	}
	freeReplyObject(r);
	return rc;
}

static bool is_str(const redisReply *r)
{
	return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* The value after key in a flat key/value array (RESP2 maps), or NULL. */
static const redisReply *kv(const redisReply *flat, const char *key)
{
	if (!flat || flat->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < flat->elements; i += 2)
		if (is_str(flat->element[i]) && strcmp(flat->element[i]->str, key) == 0)
			return flat->element[i + 1];
	return NULL;
}

static long long kv_int(const redisReply *flat, const char *key)
{
	const redisReply *v = kv(flat, key);
	return v && v->type == REDIS_REPLY_INTEGER ? v->integer : 0;
}

static const char *kv_str(const redisReply *flat, const char *key)
{
	const redisReply *v = kv(flat, key);
	return is_str(v) ? v->str : "";
}

/* A stream entry as Redis sends it: [id, [field, value, ...]]. Entries
 * deleted while pending come with nil fields (Redis 6.2) and are not
 * entries to show. */
static bool is_entry(const redisReply *e)
{
	return e && e->type == REDIS_REPLY_ARRAY && e->elements == 2 && is_str(e->element[0]) &&
	       e->element[1]->type == REDIS_REPLY_ARRAY;
}

/* A pending entry in XPENDING's extended form: [id, consumer, idle, deliveries]. */
static bool is_pending(const redisReply *e)
{
	return e && e->type == REDIS_REPLY_ARRAY && e->elements == 4 && is_str(e->element[0]) &&
	       strlen(e->element[0]->str) < ID_MAX && is_str(e->element[1]) &&
	       e->element[2]->type == REDIS_REPLY_INTEGER &&
	       e->element[3]->type == REDIS_REPLY_INTEGER;
}

static json_object *jstr(const char *s, size_t len)
{
	return json_object_new_string_len(s, len > INT_MAX ? INT_MAX : (int)len);
}

/* Prints a JSON document on one line; returns 0, or -1 when it could not
 * be built (out of memory) or written. */
static int put_json(json_object *o)
{
	const char *s = o ? json_object_to_json_string_ext(o, JSON_FLAGS) : NULL;
	return s && puts(s) >= 0 ? 0 : -1;
}

/* Writes text for a person: newlines continue at indent, and control
 * characters (C0, DEL, and C1 as UTF-8) are shown as escapes instead of
 * reaching the terminal. */
static void put_text(FILE *out, const char *s, size_t len, const char *indent)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\r' && i + 1 < len && s[i + 1] == '\n')
			continue;
		if (ch == '\n') {
			fprintf(out, "\n%s", indent);
		} else if (ch == '\t' || (ch >= 0x20 && ch != 0x7f && ch != 0xc2)) {
			fputc(ch, out);
		} else if (ch == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9f) {
			fprintf(out, "\\u%04x", (unsigned char)s[++i]);
		} else if (ch == 0xc2) {
			fputc(ch, out);
		} else {
			fprintf(out, "\\x%02x", ch);
		}
	}
}

static void put_reply(FILE *out, const redisReply *r, const char *indent)
{
	if (is_str(r) && r->len)
		put_text(out, r->str, r->len, indent);
	else
		fputs("-", out);
}

/* ---- printing tickets ---- */

static int print_entry_json(const redisReply *e)
{
	const redisReply *id = e->element[0], *fields = e->element[1];
	json_object *o = json_object_new_object(), *f = json_object_new_object();
	int rc = -1;
	if (!o || !f)
		goto put_objects;
	for (size_t i = 0; i + 1 < fields->elements; i += 2) {
		const redisReply *k = fields->element[i], *v = fields->element[i + 1];
		if (is_str(k) && is_str(v))
			json_object_object_add(f, k->str, jstr(v->str, v->len));
	}
	json_object_object_add(o, "id", jstr(id->str, id->len));
	json_object_object_add(o, "fields", f);
	f = NULL; /* o owns it now */
	rc = put_json(o);
put_objects:
	json_object_put(f);
	json_object_put(o);
	return rc;
}

/* Prints the turns field, a JSON array of {"from", "text"}, one turn a
 * line; anything else is shown as it is. */
static void print_turns(const redisReply *turns)
{
	json_object *a = is_str(turns) ? json_tokener_parse(turns->str) : NULL;
	if (!json_object_is_type(a, json_type_array)) {
		fputs("    ", stdout);
		put_reply(stdout, turns, "    ");
		fputc('\n', stdout);
		goto put_array;
	}
	if (json_object_array_length(a) == 0)
		puts("    (none)");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *t = json_object_array_get_idx(a, i), *from = NULL, *text = NULL;
		/* A ticket written by hand or by another tool may hold a null,
		 * which json-c gives back as a NULL string. */
		json_object_object_get_ex(t, "from", &from);
		json_object_object_get_ex(t, "text", &text);
		const char *fs = from ? json_object_get_string(from) : "?";
		const char *ts = text ? json_object_get_string(text) : "";
		printf("    %s: ", strcmp(fs, "customer") == 0 ? "customer " : "assistant");
		put_text(stdout, ts, strlen(ts), "               ");
		fputc('\n', stdout);
	}
put_array:
	json_object_put(a);
}

static void print_entry_human(const redisReply *e)
{
	static const struct { const char *field, *label; } lines[] = {
		{ "created_at", "created" },        { "session_id", "session" },
		{ "lang", "language" },             { "topics", "topics" },
		{ "new_address", "new address" },   { "meter_id", "meter" },
		{ "move_date", "move date" },       { "intents_answered", "answered" },
	};
	const redisReply *fields = e->element[1];
	fputs("ticket ", stdout);
	put_reply(stdout, kv(fields, "ticket_id"), "       ");
	printf("  (entry %s)\n", e->element[0]->str);
	/* Only a follow-up has one: what the customer wrote after the
	 * ticket it names, which holds the rest. */
	const redisReply *of = kv(fields, "follow_up_of");
	if (is_str(of) && of->len) {
		printf("  %-12s ", "follow-up of");
		put_reply(stdout, of, "               ");
		fputc('\n', stdout);
	}
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		printf("  %-12s ", lines[i].label);
		/* A line break the customer typed stays under the value. */
		put_reply(stdout, kv(fields, lines[i].field), "               ");
		fputc('\n', stdout);
	}
	puts("  technical part:");
	fputs("    ", stdout);
	put_reply(stdout, kv(fields, "technical_part"), "    ");
	puts("\n  recent turns:");
	print_turns(kv(fields, "turns"));
	puts("  message:");
	fputs("    ", stdout);
	put_reply(stdout, kv(fields, "message"), "    ");
	puts("\n");
}

/* Shows a ticket to the technician. Returns L2CLI_OK, or L2CLI_FAILED
 * after saying so when stdout does not take it. */
static int print_entry(struct ctx *c, const redisReply *e)
{
	if (!c->json) {
		print_entry_human(e);
		return L2CLI_OK;
	}
	if (print_entry_json(e) < 0) {
		fprintf(stderr, "%s: cannot write the tickets\n", c->prog);
		return L2CLI_FAILED;
	}
	return L2CLI_OK;
}

/* The line after pull or claim: what was shown, or none_text. */
static void print_summary(const struct ctx *c, long shown, const char *verb,
			  const char *none_text)
{
	if (c->json)
		return;
	if (shown == 0)
		puts(none_text);
	else if (strcmp(c->stream, L2_STREAM_DEFAULT) == 0)
		printf("%s%ld ticket%s for %s; when done: autoassist l2 ack ID\n", verb, shown,
		       shown == 1 ? "" : "s", c->consumer);
	else
		printf("%s%ld ticket%s for %s; when done: autoassist l2 ack --stream %s ID\n",
		       verb, shown, shown == 1 ? "" : "s", c->consumer, c->stream);
}

/* ---- dead letters ---- */

/* Moves entry id to the dead letters when it was delivered more than
 * max_deliveries times, and says so on stderr. */
static int move_if_dead(struct ctx *c, const char *id, bool *moved)
{
	char max[24];
	snprintf(max, sizeof(max), "%ld", c->max_deliveries);
	const char *argv[] = { "EVAL", dead_script, "2", c->stream, c->dead, L2_GROUP, id, max };
	redisReply *r = redisCommandArgv(c->rc, 8, argv, NULL);
	int rc = L2CLI_OK;
	*moved = false;
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		rc = fail_reply(c, "moving a ticket to the dead letters", r);
		goto free_reply;
	}
	if (r->integer > 0) {
		*moved = true;
		fprintf(stderr, "moved to dead letters: %s (%lld deliveries)\n", id, r->integer);
	}
free_reply:
	freeReplyObject(r);
	return rc;
}

/* Calls fn for every entry of the group's pending list (a page at a time,
 * oldest first) until fn returns other than L2CLI_OK. Returns L2CLI_OK,
 * what fn returned, or the failure of an XPENDING. fn may move the entry
 * it is given. */
static int each_pending(struct ctx *c, int (*fn)(struct ctx *c, const redisReply *p, void *arg),
			void *arg)
{
	char start[ID_MAX + 1] = "-";
	for (;;) {
		const char *argv[] = { "XPENDING", c->stream, L2_GROUP, start, "+", PAGE };
		redisReply *r = redisCommandArgv(c->rc, 6, argv, NULL);
		if (!r || r->type != REDIS_REPLY_ARRAY) {
			int rc = fail_reply(c, "XPENDING", r);
			freeReplyObject(r);
			return rc;
		}
		size_t n = r->elements;
		bool advanced = false;
		int rc = L2CLI_OK;
		for (size_t i = 0; i < n && rc == L2CLI_OK; i++) {
			const redisReply *p = r->element[i];
			if (!is_pending(p))
				continue;
			rc = fn(c, p, arg);
			/* The next page starts after this entry, moved or not. */
			snprintf(start, sizeof(start), "(%s", p->element[0]->str);
			advanced = true;
		}
		freeReplyObject(r);
		/* A short page is the last; a page of nothing readable would
		 * repeat for ever. */
		if (rc != L2CLI_OK || n < PAGE_N || !advanced)
			return rc;
	}
}

static int sweep_one(struct ctx *c, const redisReply *p, void *arg)
{
	(void)arg;
	bool moved;
	if (p->element[3]->integer <= c->max_deliveries)
		return L2CLI_OK;
	return move_if_dead(c, p->element[0]->str, &moved);
}

/* Moves every pending entry delivered more than max_deliveries times. */
static int sweep_dead(struct ctx *c)
{
	return each_pending(c, sweep_one, NULL);
}

/* ---- l2 commands ---- */

static int cmd_pull(struct ctx *c)
{
	char count[24], block[24];
	redisReply *r = NULL;
	long shown = 0;
	int rc;
	if ((rc = connect_redis(c)) || (rc = ensure_group(c)) || (rc = sweep_dead(c)))
		return rc;
	snprintf(count, sizeof(count), "%ld", c->count);
	snprintf(block, sizeof(block), "%ld", c->block_ms);
	const char *argv[12] = { "XREADGROUP", "GROUP", L2_GROUP, c->consumer, "COUNT", count };
	int argc = 6;
	if (c->block_ms > 0) {
		argv[argc++] = "BLOCK";
		argv[argc++] = block;
		/* The reply may take the whole block time, so the socket waits
		 * that long plus the usual timeout, and no longer. */
		c->timeout += (double)c->block_ms / 1000.0;
		redisSetTimeout(c->rc, seconds_tv(c->timeout));
	}
	argv[argc++] = "STREAMS";
	argv[argc++] = c->stream;
	argv[argc++] = ">";
	r = redisCommandArgv(c->rc, argc, argv, NULL);
	if (!r || (r->type != REDIS_REPLY_ARRAY && r->type != REDIS_REPLY_NIL)) {
		rc = fail_reply(c, "XREADGROUP", r);
		goto free_reply;
	}
	/* [[stream, [entry, ...]]], or nil when nothing is waiting. */
	for (size_t s = 0; r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
		const redisReply *sr = r->element[s];
		if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
		    sr->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		for (size_t i = 0; i < sr->element[1]->elements; i++) {
			const redisReply *e = sr->element[1]->element[i];
			if (!is_entry(e))
				continue;
			if ((rc = print_entry(c, e)))
				goto free_reply;
			shown++;
		}
	}
	print_summary(c, shown, "", "no new tickets");
	rc = L2CLI_OK;
free_reply:
	freeReplyObject(r);
	return rc;
}

static int cmd_claim(struct ctx *c)
{
	char cursor[ID_MAX] = "0-0", idle[24], count[24];
	long shown = 0;
	redisReply *r = NULL;
	int rc;
	if ((rc = connect_redis(c)) || (rc = ensure_group(c)) || (rc = sweep_dead(c)))
		return rc;
	snprintf(idle, sizeof(idle), "%ld", c->idle_ms);
	/* One XAUTOCLAIM looks at no more than ten times COUNT pending entries,
	 * so it is repeated from its cursor until enough are shown or the
	 * whole pending list has been seen; one that went to the dead letters
	 * instead leaves room for the next. */
	do {
		snprintf(count, sizeof(count), "%ld", c->count - shown);
		const char *argv[] = { "XAUTOCLAIM", c->stream, L2_GROUP, c->consumer, idle,
				       cursor, "COUNT", count };
		r = redisCommandArgv(c->rc, 8, argv, NULL);
		/* [next cursor, [entry, ...], [deleted id, ...]] (the third since 7.0) */
		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !is_str(r->element[0]) ||
		    strlen(r->element[0]->str) >= sizeof(cursor) ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			rc = fail_reply(c, "XAUTOCLAIM", r);
			goto free_reply;
		}
		const redisReply *entries = r->element[1];
		for (size_t i = 0; i < entries->elements; i++) {
			const redisReply *e = entries->element[i];
			bool moved;
			if (!is_entry(e))
				continue;
			/* The claim counted as one more delivery; a ticket now past the
			 * limit goes to the dead letters instead of to the technician. */
			if ((rc = move_if_dead(c, e->element[0]->str, &moved)))
				goto free_reply;
			if (moved)
				continue;
			if ((rc = print_entry(c, e)))
				goto free_reply;
			shown++;
		}
		if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY)
			for (size_t i = 0; i < r->element[2]->elements; i++)
				if (is_str(r->element[2]->element[i]))
					fprintf(stderr, "%s: %s was deleted from the stream; "
						"dropped from pending\n", c->prog,
						r->element[2]->element[i]->str);
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		freeReplyObject(r);
		r = NULL;
	} while (shown < c->count && strcmp(cursor, "0-0") != 0);
	char none[64];
	snprintf(none, sizeof(none), "no ticket idle for %ld ms or more", c->idle_ms);
	print_summary(c, shown, "claimed ", none);
	rc = L2CLI_OK;
free_reply:
	freeReplyObject(r);
	return rc;
}

static int cmd_ack(struct ctx *c)
{
	int acked = 0, rc;
	if ((rc = connect_redis(c)) || (rc = need_stream(c)))
		return rc;
	/* One XACK per id, so each id that was not pending can be named. */
	for (int i = 0; i < c->nargs; i++) {
		const char *argv[] = { "XACK", c->stream, L2_GROUP, c->args[i] };
		redisReply *r = redisCommandArgv(c->rc, 4, argv, NULL);
		if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
			acked++;
		} else if (r && r->type == REDIS_REPLY_INTEGER) {
			fprintf(stderr, "%s: %s was not pending (already acknowledged, moved to "
				"the dead letters, or never pulled)\n", c->prog, c->args[i]);
		} else if (c->rc->err) {
			rc = fail_reply(c, "XACK", r);
			freeReplyObject(r);
			return rc;
		} else {
			fprintf(stderr, "%s: %s: %s\n", c->prog, c->args[i],
				r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		}
		freeReplyObject(r);
	}
	printf("acknowledged %d of %d\n", acked, c->nargs);
	return acked == c->nargs ? L2CLI_OK : L2CLI_FAILED;
}

/* One line of `l2 pending`, or one object appended to the list (JSON). */
static int show_pending(struct ctx *c, const redisReply *p, void *list)
{
	if (!c->json) {
		printf("%-24s %12lld %10lld  ", p->element[0]->str, p->element[2]->integer,
		       p->element[3]->integer);
		put_reply(stdout, p->element[1], "");
		fputc('\n', stdout);
		return L2CLI_OK;
	}
	json_object *o = json_object_new_object();
	if (!o) {
		fprintf(stderr, "%s: out of memory\n", c->prog);
		return L2CLI_FAILED;
	}
	json_object_object_add(o, "id", json_object_new_string(p->element[0]->str));
	json_object_object_add(o, "consumer", jstr(p->element[1]->str, p->element[1]->len));
	json_object_object_add(o, "idle_ms", json_object_new_int64(p->element[2]->integer));
	json_object_object_add(o, "deliveries", json_object_new_int64(p->element[3]->integer));
	json_object_array_add(list, o);
	return L2CLI_OK;
}

static int cmd_pending(struct ctx *c)
{
	json_object *doc = NULL, *list = NULL;
	redisReply *r = NULL;
	int rc;
	if ((rc = connect_redis(c)) || (rc = need_stream(c)))
		return rc;
	const char *sargv[] = { "XPENDING", c->stream, L2_GROUP };
	r = redisCommandArgv(c->rc, 3, sargv, NULL);
	/* [count, min id, max id, [[consumer, count], ...]] */
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		rc = fail_reply(c, "XPENDING", r);
		goto put_doc;
	}
	const redisReply *per = r->element[3];
	if (c->json) {
		json_object *cons = json_object_new_array();
		doc = json_object_new_object();
		list = json_object_new_array();
		if (!doc || !list || !cons) {
			json_object_put(cons);
			goto out_of_memory;
		}
		json_object_object_add(doc, "stream", json_object_new_string(c->stream));
		json_object_object_add(doc, "group", json_object_new_string(L2_GROUP));
		json_object_object_add(doc, "pending", json_object_new_int64(r->element[0]->integer));
		json_object_object_add(doc, "min_id", is_str(r->element[1])
				       ? json_object_new_string(r->element[1]->str) : NULL);
		json_object_object_add(doc, "max_id", is_str(r->element[2])
				       ? json_object_new_string(r->element[2]->str) : NULL);
		for (size_t i = 0; per->type == REDIS_REPLY_ARRAY && i < per->elements; i++) {
			const redisReply *p = per->element[i];
			json_object *o = json_object_new_object();
			if (!o || p->type != REDIS_REPLY_ARRAY || p->elements != 2 ||
			    !is_str(p->element[0]) || !is_str(p->element[1])) {
				json_object_put(o);
				continue;
			}
			json_object_object_add(o, "name", jstr(p->element[0]->str, p->element[0]->len));
			json_object_object_add(o, "pending",
					       json_object_new_int64(atoll(p->element[1]->str)));
			json_object_array_add(cons, o);
		}
		json_object_object_add(doc, "consumers", cons);
	} else if (r->element[0]->integer == 0) {
		printf("nothing pending in group %s of %s\n", L2_GROUP, c->stream);
	} else {
		printf("%lld pending in group %s of %s (ids %s .. %s)\n", r->element[0]->integer,
		       L2_GROUP, c->stream, is_str(r->element[1]) ? r->element[1]->str : "?",
		       is_str(r->element[2]) ? r->element[2]->str : "?");
		for (size_t i = 0; per->type == REDIS_REPLY_ARRAY && i < per->elements; i++) {
			const redisReply *p = per->element[i];
			if (p->type != REDIS_REPLY_ARRAY || p->elements != 2)
				continue;
			fputs("  ", stdout);
			put_reply(stdout, p->element[0], "");
			printf(": %s\n", is_str(p->element[1]) ? p->element[1]->str : "?");
		}
		printf("%-24s %12s %10s  %s\n", "ID", "IDLE_MS", "DELIVERIES", "CONSUMER");
	}
	freeReplyObject(r);
	r = NULL;
	/* The extended list. */
	if ((rc = each_pending(c, show_pending, list)))
		goto put_doc;
	if (c->json) {
		json_object_object_add(doc, "entries", list);
		list = NULL; /* doc owns it now */
		if (put_json(doc) < 0)
			goto out_of_memory;
	}
	rc = L2CLI_OK;
	goto put_doc;
out_of_memory:
	fprintf(stderr, "%s: out of memory\n", c->prog);
	rc = L2CLI_FAILED;
put_doc:
	freeReplyObject(r);
	json_object_put(list);
	json_object_put(doc);
	return rc;
}

/* XLEN of key into *len. */
static int stream_len(struct ctx *c, const char *key, long long *len)
{
	const char *argv[] = { "XLEN", key };
	redisReply *r = redisCommandArgv(c->rc, 2, argv, NULL);
	int rc = L2CLI_OK;
	if (!r || r->type != REDIS_REPLY_INTEGER)
		rc = fail_reply(c, "XLEN", r);
	else
		*len = r->integer;
	freeReplyObject(r);
	return rc;
}

static int cmd_stats(struct ctx *c)
{
	long long len = 0, dead_len = 0;
	redisReply *groups = NULL, *cons = NULL;
	json_object *doc = NULL;
	int rc;
	if ((rc = connect_redis(c)) || (rc = need_stream(c)) ||
	    (rc = stream_len(c, c->stream, &len)) || (rc = stream_len(c, c->dead, &dead_len)))
		return rc;
	const char *gargv[] = { "XINFO", "GROUPS", c->stream };
	groups = redisCommandArgv(c->rc, 3, gargv, NULL);
	if (!groups || groups->type != REDIS_REPLY_ARRAY) {
		rc = fail_reply(c, "XINFO GROUPS", groups);
		goto free_replies;
	}
	const char *cargv[] = { "XINFO", "CONSUMERS", c->stream, L2_GROUP };
	cons = redisCommandArgv(c->rc, 4, cargv, NULL);
	if (!cons || cons->type != REDIS_REPLY_ARRAY) {
		rc = fail_reply(c, "XINFO CONSUMERS", cons);
		goto free_replies;
	}
	const redisReply *g = NULL;
	for (size_t i = 0; i < groups->elements; i++)
		if (strcmp(kv_str(groups->element[i], "name"), L2_GROUP) == 0)
			g = groups->element[i];
	const redisReply *lag = kv(g, "lag"); /* nil when Redis cannot tell */
	bool has_lag = lag && lag->type == REDIS_REPLY_INTEGER;
	if (c->json) {
		json_object *gj = json_object_new_object(), *cj = json_object_new_array();
		json_object *dj = json_object_new_object();
		doc = json_object_new_object();
		if (doc) {
			json_object_object_add(doc, "stream", json_object_new_string(c->stream));
			json_object_object_add(doc, "length", json_object_new_int64(len));
			json_object_object_add(doc, "group", gj);
			json_object_object_add(doc, "consumers", cj);
			json_object_object_add(doc, "dead_letters", dj);
		} else {
			json_object_put(gj);
			json_object_put(cj);
			json_object_put(dj);
		}
		if (!doc || !gj || !cj || !dj)
			goto out_of_memory;
		json_object_object_add(gj, "name", json_object_new_string(L2_GROUP));
		json_object_object_add(gj, "pending", json_object_new_int64(kv_int(g, "pending")));
		json_object_object_add(gj, "last_delivered_id",
				       json_object_new_string(kv_str(g, "last-delivered-id")));
		json_object_object_add(gj, "consumers", json_object_new_int64(kv_int(g, "consumers")));
		json_object_object_add(gj, "lag", has_lag ? json_object_new_int64(lag->integer) : NULL);
		for (size_t i = 0; i < cons->elements; i++) {
			const redisReply *ci = cons->element[i], *name = kv(ci, "name");
			json_object *o = json_object_new_object();
			if (!o)
				goto out_of_memory;
			json_object_object_add(o, "name", is_str(name) ? jstr(name->str, name->len)
						   : json_object_new_string(""));
			json_object_object_add(o, "pending", json_object_new_int64(kv_int(ci, "pending")));
			json_object_object_add(o, "idle_ms", json_object_new_int64(kv_int(ci, "idle")));
			json_object_array_add(cj, o);
		}
		json_object_object_add(dj, "stream", json_object_new_string(c->dead));
		json_object_object_add(dj, "length", json_object_new_int64(dead_len));
		if (put_json(doc) < 0)
			goto out_of_memory;
	} else {
		printf("stream %s: %lld %s\n", c->stream, len, len == 1 ? "entry" : "entries");
		long long ncons = kv_int(g, "consumers");
		printf("group %s: %lld pending, %lld consumer%s, last delivered %s", L2_GROUP,
		       kv_int(g, "pending"), ncons, ncons == 1 ? "" : "s",
		       kv_str(g, "last-delivered-id"));
		if (has_lag)
			printf(", %lld not yet delivered", lag->integer);
		fputc('\n', stdout);
		for (size_t i = 0; i < cons->elements; i++) {
			const redisReply *ci = cons->element[i];
			fputs("  consumer ", stdout);
			put_reply(stdout, kv(ci, "name"), "");
			printf(": %lld pending, idle %lld ms\n", kv_int(ci, "pending"),
			       kv_int(ci, "idle"));
		}
		printf("dead letters %s: %lld %s\n", c->dead, dead_len,
		       dead_len == 1 ? "entry" : "entries");
	}
	rc = L2CLI_OK;
	goto free_replies;
out_of_memory:
	fprintf(stderr, "%s: out of memory\n", c->prog);
	rc = L2CLI_FAILED;
free_replies:
	json_object_put(doc);
	freeReplyObject(cons);
	freeReplyObject(groups);
	return rc;
}

/* ---- registry commands ---- */

static bool listed(const char *meter_id, void *reg)
{
	return reg_file_has(reg, meter_id);
}

static const struct engine_record *record_at(void *reg, size_t i)
{
	return reg_file_at(reg, i);
}

static int cmd_registry_load(struct ctx *c)
{
	char err[512];
	struct reg_file *reg;
	int rc;
	if (!c->env->engine) {
		fprintf(stderr, "%s: the intents are not loaded, and their street words are "
			"needed for the address keys\n", c->prog);
		return L2CLI_FAILED;
	}
	/* The whole file is read and checked before anything is written, so a
	 * broken line leaves Redis as it was. */
	if (!(reg = reg_file_load(c->args[0], c->env->engine, err, sizeof(err)))) {
		fprintf(stderr, "%s: %s\n", c->prog, err);
		return L2CLI_FAILED;
	}
	size_t n = reg_file_count(reg);
	/* A truncated export must not wipe the registry in production. */
	if (c->replace && n == 0) {
		fprintf(stderr, "%s: %s lists no meters; --replace would empty the registry "
			"(to do that, delete autoassist:registry:* with redis-cli)\n",
			c->prog, c->args[0]);
		rc = L2CLI_FAILED;
		goto free_reg;
	}
	if ((rc = connect_redis(c)))
		goto free_reg;
	size_t stored;
	char why[256];
	if (l2_registry_put_all(c->rc, c->env->engine, record_at, reg, n, &stored, why,
				sizeof(why)) < 0) {
		char what[160];
		snprintf(what, sizeof(what), "storing the records from record %zu (meter %s) of %s "
			 "on (%zu stored before it)", stored + 1, reg_file_at(reg, stored)->meter_id,
			 c->args[0], stored);
		if (why[0] && !c->rc->err) {
			fprintf(stderr, "%s: %s: %s\n", c->prog, what, why);
			rc = L2CLI_FAILED;
		} else {
			rc = fail_reply(c, what, NULL);
		}
		goto free_reg;
	}
	printf("loaded %zu record%s from %s\n", n, n == 1 ? "" : "s", c->args[0]);
	if (c->replace) {
		size_t removed;
		if (l2_registry_prune(c->rc, c->env->engine, listed, reg, &removed) < 0) {
			rc = fail_reply(c, "removing the meters the file leaves out", NULL);
			goto free_reg;
		}
		printf("removed %zu meter%s the file leaves out\n", removed, removed == 1 ? "" : "s");
	}
	rc = L2CLI_OK;
free_reg:
	reg_file_free(reg);
	return rc;
}

static int cmd_registry_get(struct ctx *c)
{
	char meter[SLOT_METER_MAX], date[SLOT_DATE_ISO];
	struct engine_record rec;
	json_object *doc = NULL;
	int rc;
	if (reg_meter_compact(c->args[0], meter, sizeof(meter)) < 0) {
		fprintf(stderr, "%s: %s is no meter ID: empty, too long or with a control character\n",
			c->prog, c->args[0]);
		return L2CLI_USAGE;
	}
	if ((rc = connect_redis(c)))
		return rc;
	char why[256];
	int found = l2_registry_get(c->rc, meter, &rec, why, sizeof(why));
	if (found < 0 && why[0]) {
		fprintf(stderr, "%s: reading the registry: %s\n", c->prog, why);
		return L2CLI_FAILED;
	}
	if (found < 0)
		return fail_reply(c, "reading the registry", NULL);
	if (found == 0) {
		fprintf(stderr, "%s: no record for meter %s\n", c->prog, meter);
		return L2CLI_FAILED;
	}
	slot_date_iso(rec.supply_start, date);
	if (!c->json) {
		printf("meter_id      %s\n", rec.meter_id);
		printf("address       ");
		put_text(stdout, rec.street, strlen(rec.street), "");
		printf("\npostcode      ");
		put_text(stdout, rec.postcode, strlen(rec.postcode), "");
		printf("\ncity          ");
		put_text(stdout, rec.city, strlen(rec.city), "");
		printf("\nsupply_start  %s\n", date);
		return L2CLI_OK;
	}
	if (!(doc = json_object_new_object()))
		goto out_of_memory;
	json_object_object_add(doc, "meter_id", json_object_new_string(rec.meter_id));
	json_object_object_add(doc, "address", json_object_new_string(rec.street));
	json_object_object_add(doc, "postcode", json_object_new_string(rec.postcode));
	json_object_object_add(doc, "city", json_object_new_string(rec.city));
	json_object_object_add(doc, "supply_start", json_object_new_string(date));
	if (put_json(doc) < 0)
		goto out_of_memory;
	rc = L2CLI_OK;
	goto put_doc;
out_of_memory:
	fprintf(stderr, "%s: out of memory\n", c->prog);
	rc = L2CLI_FAILED;
put_doc:
	json_object_put(doc);
	return rc;
}

/* ---- the command table, usage and options ---- */

static const char redis_help[] =
	"  --redis URL            Redis: redis://host:port[/db], unix:///path, /path,\n"
	"                         host:port[/db] or [IPv6]:port\n"
	"                         (AUTOASSIST_REDIS; default 127.0.0.1:6379); AUTH with\n"
	"                         AUTOASSIST_REDIS_PASSWORD (and AUTOASSIST_REDIS_USER)\n";
static const char stream_help[] =
	"  --stream NAME          the L2 stream (AUTOASSIST_STREAM; default autoassist:l2)\n";
static const char exit_help[] =
	"  -h, --help             this text\n"
	"\n"
	"exit codes: 0 ok; 1 failed (not found, not pending, a file refused, Redis\n"
	"refused); 2 usage; 4 Redis unreachable, not answering, or the password\n"
	"missing or wrong\n";

static const struct cmd cmds[] = {
	{ "l2", "pull", OPT_CONSUMER | OPT_COUNT | OPT_BLOCK | OPT_JSON | OPT_MAXDEL | OPT_STREAM,
	  OPT_CONSUMER,
	  0, 0, cmd_pull,
	  "usage: autoassist l2 pull --consumer NAME [--count N] [--block MS] [--json]\n"
	  "       [--max-deliveries N]\n"
	  "\n"
	  "Takes new tickets from the L2 queue for technician NAME and shows them.\n"
	  "They stay pending under NAME until acknowledged (autoassist l2 ack ID).\n"
	  "First moves tickets delivered more than --max-deliveries times to the\n"
	  "dead letters (STREAM:dead) and says so on stderr.\n"
	  "\n"
	  "  --consumer NAME        who is pulling (required)\n"
	  "  --count N              tickets to take at most (default 1)\n"
	  "  --block MS             wait up to MS milliseconds for a ticket (default 0:\n"
	  "                         do not wait)\n"
	  "  --json                 one JSON object a line: {\"id\": ENTRY_ID, \"fields\": {...}}\n"
	  "  --max-deliveries N     deliveries before a ticket is a dead letter\n"
	  "                         (AUTOASSIST_MAX_DELIVERIES; default 5)\n" },
	{ "l2", "ack", OPT_STREAM, 0, 1, -1, cmd_ack,
	  "usage: autoassist l2 ack ID...\n"
	  "\n"
	  "Marks the tickets with these entry ids done. Exits 1 when any id was not\n"
	  "pending.\n"
	  "\n" },
	{ "l2", "pending", OPT_JSON | OPT_STREAM, 0, 0, 0, cmd_pending,
	  "usage: autoassist l2 pending [--json]\n"
	  "\n"
	  "Lists the tickets delivered but not acknowledged: per consumer, and each\n"
	  "with its consumer, idle time and number of deliveries.\n"
	  "\n"
	  "  --json                 one JSON object\n" },
	{ "l2", "claim", OPT_CONSUMER | OPT_IDLE | OPT_COUNT | OPT_JSON | OPT_MAXDEL | OPT_STREAM,
	  OPT_CONSUMER | OPT_IDLE, 0, 0, cmd_claim,
	  "usage: autoassist l2 claim --consumer NAME --idle MS [--count N] [--json]\n"
	  "       [--max-deliveries N]\n"
	  "\n"
	  "Takes over tickets pending for MS milliseconds or more (those of a\n"
	  "technician who vanished) for technician NAME, and shows them as pull does.\n"
	  "Each claim is a delivery: a ticket delivered more than --max-deliveries\n"
	  "times goes to the dead letters instead.\n"
	  "\n"
	  "  --consumer NAME        who takes them over (required)\n"
	  "  --idle MS              idle time needed, milliseconds (required)\n"
	  "  --count N              tickets to take at most (default 100)\n"
	  "  --json                 one JSON object a line, as pull\n"
	  "  --max-deliveries N     as pull\n" },
	{ "l2", "stats", OPT_JSON | OPT_STREAM, 0, 0, 0, cmd_stats,
	  "usage: autoassist l2 stats [--json]\n"
	  "\n"
	  "Shows the queue: stream length, the group (pending, last delivered id,\n"
	  "consumers), each consumer (pending, idle), and the dead letters' length.\n"
	  "\n"
	  "  --json                 one JSON object\n" },
	{ "registry", "load", OPT_REPLACE, 0, 1, 1, cmd_registry_load,
	  "usage: autoassist registry load FILE.jsonl [--replace]\n"
	  "\n"
	  "Copies a grid registry file (JSON Lines, see autoassist --registry) into\n"
	  "Redis, with the address index. The file is checked whole first.\n"
	  "\n"
	  "  --replace              then remove the meters the file leaves out\n" },
	{ "registry", "get", OPT_JSON, 0, 1, 1, cmd_registry_get,
	  "usage: autoassist registry get METER_ID [--json]\n"
	  "\n"
	  "Shows the registry record of a meter. Exits 1 when there is none.\n"
	  "\n"
	  "  --json                 one JSON object\n" },
};

static const char l2_summary[] =
	"  l2 pull --consumer NAME [--count N] [--block MS] [--json]\n"
	"          [--max-deliveries N]\n"
	"                         take new L2 tickets for technician NAME\n"
	"  l2 ack ID...           mark tickets done\n"
	"  l2 pending [--json]    tickets delivered but not acknowledged\n"
	"  l2 claim --consumer NAME --idle MS [--count N] [--json]\n"
	"           [--max-deliveries N]\n"
	"                         take over the tickets of a technician who vanished\n"
	"  l2 stats [--json]      queue length, group, consumers, dead letters\n"
	"                         (each: --redis URL, --stream NAME, --help)\n";
static const char registry_summary[] =
	"  registry load FILE.jsonl [--replace]\n"
	"                         copy a grid registry file into Redis (--replace: and\n"
	"                         remove the meters it leaves out)\n"
	"  registry get METER_ID [--json]\n"
	"                         show one registry record\n"
	"                         (each: --redis URL, --help)\n";

void l2cli_usage(FILE *out)
{
	fputs(l2_summary, out);
	fputs(registry_summary, out);
}

/* The options every command takes, with --stream for the l2 commands. */
static void common_usage(FILE *out, bool stream)
{
	fputs(redis_help, out);
	if (stream)
		fputs(stream_help, out);
	fputs(exit_help, out);
}

static void group_usage(FILE *out, const char *group)
{
	bool l2 = strcmp(group, "l2") == 0;
	fprintf(out, "usage: autoassist %s COMMAND [OPTIONS] [ARGS]\n\ncommands:\n", group);
	fputs(l2 ? l2_summary : registry_summary, out);
	fputs("\n", out);
	common_usage(out, l2);
}

static const struct {
	struct option opt;
	unsigned bit; /* 0: taken by every command */
} all_opts[] = {
	{ { "consumer", required_argument, NULL, 'c' }, OPT_CONSUMER },
	{ { "count", required_argument, NULL, 'n' }, OPT_COUNT },
	{ { "block", required_argument, NULL, 'b' }, OPT_BLOCK },
	{ { "json", no_argument, NULL, 'j' }, OPT_JSON },
	{ { "idle", required_argument, NULL, 'i' }, OPT_IDLE },
	{ { "max-deliveries", required_argument, NULL, 'm' }, OPT_MAXDEL },
	{ { "replace", no_argument, NULL, 'x' }, OPT_REPLACE },
	{ { "redis", required_argument, NULL, 'r' }, 0 },
	{ { "stream", required_argument, NULL, 's' }, OPT_STREAM },
	{ { "help", no_argument, NULL, 'h' }, 0 },
};
#define NOPTS (sizeof(all_opts) / sizeof(all_opts[0]))

/* Whether arg ("--stream", "--stream=x") names an option of some command. */
static bool is_option(const char *arg)
{
	size_t n = strcspn(arg, "=");
	if (n <= 2 || strncmp(arg, "--", 2) != 0)
		return false;
	for (size_t i = 0; i < NOPTS; i++)
		if (strlen(all_opts[i].opt.name) == n - 2 &&
		    strncmp(arg + 2, all_opts[i].opt.name, n - 2) == 0)
			return true;
	return false;
}

/* Parses the subcommand's options (argv[0] is the subcommand). Returns
 * L2CLI_OK, L2CLI_USAGE after saying what is wrong, or -1 when --help was
 * asked for. */
static int parse_opts(struct ctx *c, const struct cmd *cmd, int argc, char **argv)
{
	struct option longopts[NOPTS + 1];
	unsigned given = 0;
	size_t n = 0;
	int ch;
	for (size_t i = 0; i < NOPTS; i++)
		if (!all_opts[i].bit || (cmd->opts & all_opts[i].bit))
			longopts[n++] = all_opts[i].opt;
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	optind = 1;
	/* The leading ':' keeps getopt quiet; the messages below name the
	 * command. */
	for (int li = -1; (ch = getopt_long(argc, argv, ":h", longopts, &li)) != -1; li = -1) {
		const char *bad = NULL;
		for (size_t i = 0; i < NOPTS; i++)
			if (all_opts[i].opt.val == ch)
				given |= all_opts[i].bit;
		switch (ch) {
		case 'c': c->consumer = optarg; bad = *optarg ? NULL : "a name"; break;
		case 'n': bad = parse_long(optarg, 1, 100000, &c->count) ? NULL : "1 to 100000"; break;
		case 'b':
			bad = parse_long(optarg, 0, 86400000, &c->block_ms) ? NULL : "0 to 86400000";
			break;
		case 'j': c->json = true; break;
		case 'x': c->replace = true; break;
		case 'i':
			bad = parse_long(optarg, 0, 315360000000L, &c->idle_ms)
				? NULL : "milliseconds, 0 or more";
			break;
		case 'm':
			bad = parse_long(optarg, 1, 1000000, &c->max_deliveries) ? NULL : "1 to 1000000";
			break;
		case 'r': c->url = optarg; bad = *optarg ? NULL : "a URL"; break;
		case 's': c->stream = optarg; break;
		case 'h': return -1;
		case ':':
			fprintf(stderr, "%s: %s needs a value\n", c->prog, argv[optind - 1]);
			return L2CLI_USAGE;
		default:
			if (flag_given_value(longopts, optopt, argv[optind - 1]))
				fprintf(stderr, "%s: %.*s takes no value\n", c->prog,
					(int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
			else if (optopt)
				fprintf(stderr, "%s: unknown option -%c\n", c->prog, optopt);
			else if (is_option(argv[optind - 1]))
				fprintf(stderr, "%s: %.*s is not an option of this command\n", c->prog,
					(int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
			else
				fprintf(stderr, "%s: unknown option %s\n", c->prog, argv[optind - 1]);
			return L2CLI_USAGE;
		}
		if (bad) {
			fprintf(stderr, "%s: --%s wants %s, not \"%s\"\n", c->prog,
				li >= 0 ? longopts[li].name : "?", bad, optarg);
			return L2CLI_USAGE;
		}
	}
	/* The environment's value is read only where it applies, and only
	 * when no option overrides it: a bad one stops pull and claim, not
	 * every command. */
	const char *md = c->env->max_deliveries;
	if ((cmd->opts & OPT_MAXDEL) && !(given & OPT_MAXDEL) && md && *md &&
	    !parse_long(md, 1, 1000000, &c->max_deliveries)) {
		fprintf(stderr, "%s: AUTOASSIST_MAX_DELIVERIES wants 1 to 1000000, not \"%s\"\n",
			c->prog, md);
		return L2CLI_USAGE;
	}
	unsigned missing = cmd->required & ~given;
	if (missing) {
		bool both = missing == (OPT_CONSUMER | OPT_IDLE);
		fprintf(stderr, "%s: %s%s%s %s required\n", c->prog,
			missing & OPT_CONSUMER ? "--consumer" : "", both ? " and " : "",
			missing & OPT_IDLE ? "--idle" : "", both ? "are" : "is");
		return L2CLI_USAGE;
	}
	c->args = argv + optind;
	c->nargs = argc - optind;
	if (c->nargs < cmd->min_args || (cmd->max_args >= 0 && c->nargs > cmd->max_args)) {
		fprintf(stderr, "%s: wrong number of arguments\n", c->prog);
		return L2CLI_USAGE;
	}
	size_t slen = strlen(c->stream);
	if ((cmd->opts & OPT_STREAM) && (slen == 0 || slen > STREAM_MAX)) {
		fprintf(stderr, "%s: %s wants a name of 1 to %d bytes\n", c->prog,
			given & OPT_STREAM ? "--stream" : "AUTOASSIST_STREAM", STREAM_MAX);
		return L2CLI_USAGE;
	}
	char why[256];
	if (c->url && l2_url_check(c->url, why, sizeof(why)) < 0) {
		fprintf(stderr, "%s: %s\n", c->prog, why);
		return L2CLI_USAGE;
	}
	snprintf(c->dead, sizeof(c->dead), "%s" DEAD_SUFFIX, c->stream);
	return L2CLI_OK;
}

int l2cli_run(int argc, char **argv, const struct l2cli_env *env)
{
	const char *group = argc > 0 ? argv[0] : "";
	if (strcmp(group, "l2") != 0 && strcmp(group, "registry") != 0) {
		fprintf(stderr, "autoassist: unknown command \"%s\"\n", group);
		return L2CLI_USAGE;
	}
	if (argc < 2) {
		group_usage(stderr, group);
		return L2CLI_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
		group_usage(stdout, group);
		return L2CLI_OK;
	}
	const struct cmd *cmd = NULL;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].group, group) == 0 && strcmp(cmds[i].name, name) == 0)
			cmd = &cmds[i];
	if (!cmd) {
		fprintf(stderr, "autoassist %s: unknown command \"%s\"\n", group, name);
		group_usage(stderr, group);
		return L2CLI_USAGE;
	}

	struct ctx c = {
		.env = env,
		.url = env->redis_url && *env->redis_url ? env->redis_url : L2_REDIS_DEFAULT,
		.stream = env->stream && *env->stream ? env->stream : L2_STREAM_DEFAULT,
		.timeout = env->timeout > 0 ? env->timeout : L2CLI_TIMEOUT,
		.max_deliveries = L2CLI_MAX_DELIVERIES,
		.count = strcmp(name, "claim") == 0 ? CLAIM_COUNT : 1,
	};
	snprintf(c.prog, sizeof(c.prog), "autoassist %s %s", group, name);
	int rc = parse_opts(&c, cmd, argc - 1, argv + 1);
	if (rc < 0) {
		fputs(cmd->help, stdout);
		common_usage(stdout, cmd->opts & OPT_STREAM);
		return L2CLI_OK;
	}
	if (rc != L2CLI_OK) {
		fprintf(stderr, "(autoassist %s %s --help for more)\n", group, name);
		return rc;
	}
	fflush(stdout);
	rc = cmd->run(&c);
	if (fflush(stdout) != 0 && rc == L2CLI_OK) {
		fprintf(stderr, "%s: cannot write the output\n", c.prog);
		rc = L2CLI_FAILED;
	}
	redisFree(c.rc);
	return rc;
}
