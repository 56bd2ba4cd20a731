/* l2: Redis queue, registry and spool. See include/l2.h and docs/redis.md.
 *
 * Customer text only ever travels as a command argument (redisCommandArgv),
 * never inside a command string, so a message that carries Redis protocol
 * is stored literally. */
#include "l2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "report.h"

#define DEDUPE_PREFIX "autoassist:l2:ticket:"
#define DEDUPE_SECONDS "2592000"
#define REG_METER "autoassist:registry:meter:"
#define REG_ADDR "autoassist:registry:addr:"
#define REG_CITIES "autoassist:registry:cities"
#define PROFILE "autoassist:profile:"
#define CONVERSATION "autoassist:conversation:"
/* Where builds before 2026-11-27 stored a conversation, as a string: read
 * when the hash is not there, never written. */
#define SESSION_BEFORE "autoassist:session:"

/* Adds the entry unless the ticket's dedupe key says it was added before,
 * and returns the reference of the ticket in the stream; atomic, so a
 * retry racing the first write cannot add a second entry. KEYS[3] is the
 * key by whole reference that builds before 2026-11-26 wrote (holding a
 * stream entry id): it is only read, and is gone 30 days after them.
 * ARGV[2] is the ticket_id. */
static const char add_script[] =
	"local first = redis.call('GET', KEYS[2]) or redis.call('GET', KEYS[3])\n"
	"if first then return first end\n"
	"redis.call('XADD', KEYS[1], '*', unpack(ARGV))\n"
	"redis.call('SET', KEYS[2], ARGV[2], 'EX', " DEDUPE_SECONDS ")\n"
	"return ARGV[2]\n";

/* Appends a meter to the list of supply points at one street address,
 * once: loading a registry again keeps the file's order. A key of the
 * layout before the list (one meter ID as a string) is replaced. */
static const char addr_script[] =
	"if redis.call('TYPE', KEYS[1]).ok == 'string' then redis.call('DEL', KEYS[1]) end\n"
	"redis.call('LREM', KEYS[1], 0, ARGV[1])\n"
	"return redis.call('RPUSH', KEYS[1], ARGV[1])\n";

/* A TCP Redis URL's parts: host (an IPv6 address without its brackets),
 * port and database number. */
struct tcp_url {
	char host[256];
	int port;
	int db;
};

/* Parses host[:port][/db], redis:// or not, with the host of an IPv6
 * address in brackets ("[::1]:6379"); a bare IPv6 address ("::1:6379",
 * as before) ends at its last colon. Returns 0, or -1 with a sentence in
 * err (the URL is echoed: the caller has refused any with a secret). */
static int parse_tcp(const char *url, struct tcp_url *out, char *err, size_t errlen)
{
	const char *u = strncmp(url, "redis://", 8) == 0 ? url + 8 : url;
	const char *host = u, *host_end, *rest;
	if (u[0] == '[') {
		host = u + 1;
		host_end = strchr(host, ']');
		if (!host_end) {
			snprintf(err, errlen, "redis %s: the IPv6 address has no closing ]", url);
			return -1;
		}
		rest = host_end + 1;
	} else {
		const char *slash = strchr(u, '/');
		host_end = slash ? slash : u + strlen(u);
		const char *colon = NULL;
		for (const char *c = u; c < host_end; c++)
			if (*c == ':')
				colon = c;
		rest = colon ? colon : host_end;
		host_end = rest;
	}
	if ((size_t)(host_end - host) >= sizeof(out->host) || host_end == host) {
		snprintf(err, errlen, "redis %s: the host is empty or too long", url);
		return -1;
	}
	memcpy(out->host, host, (size_t)(host_end - host));
	out->host[host_end - host] = '\0';
	out->port = 6379;
	out->db = 0;
	if (*rest == ':') {
		size_t digits = strspn(rest + 1, "0123456789");
		long port = digits && digits <= 5 ? strtol(rest + 1, NULL, 10) : 0;
		if (port < 1 || port > 65535 || (rest[1 + digits] && rest[1 + digits] != '/')) {
			snprintf(err, errlen, "redis %s: the port is not a number from 1 to 65535", url);
			return -1;
		}
		out->port = (int)port;
		rest += 1 + digits;
	}
	if (*rest == '/' && rest[1]) {
		size_t digits = strspn(rest + 1, "0123456789");
		if (!digits || digits > 5 || rest[1 + digits]) {
			snprintf(err, errlen, "redis %s: the database after / is not a number", url);
			return -1;
		}
		out->db = (int)strtol(rest + 1, NULL, 10);
	} else if (*rest && strcmp(rest, "/") != 0) {
		snprintf(err, errlen, "redis %s: unexpected text after the host", url);
		return -1;
	}
	return 0;
}

int l2_url_check(const char *url, char *err, size_t errlen)
{
	if (strncmp(url, "unix://", 7) == 0 || url[0] == '/')
		return 0;
	/* First: no sentence below may echo a URL holding a secret. */
	if (strchr(url, '@')) {
		/* Not echoed: what comes before the @ is a secret. */
		snprintf(err, errlen, "the Redis URL holds a user or password, which is not read "
			 "there; set AUTOASSIST_REDIS_PASSWORD (and AUTOASSIST_REDIS_USER)");
		return -1;
	}
	if (strncmp(url, "rediss://", 9) == 0) {
		snprintf(err, errlen, "redis %s: TLS (rediss://) is not supported; reach a TLS Redis "
			 "through a local TLS proxy", url);
		return -1;
	}
	struct tcp_url t;
	return parse_tcp(url, &t, err, errlen);
}

/* Reads r, the reply to a command l2_connect sends on a new link (AUTH,
 * SELECT), and frees it: true when Redis took the command, else false with
 * a sentence naming it in err. */
static bool took(redisContext *rc, const struct l2_redis *cfg, redisReply *r, const char *what,
		 char *err, size_t errlen)
{
	bool ok = r && r->type == REDIS_REPLY_STATUS;
	char link[160];
	if (!ok)
		snprintf(err, errlen, "redis %s: %s refused: %s", cfg->url ? cfg->url : L2_REDIS_DEFAULT,
			 what, r && r->type == REDIS_REPLY_ERROR ? r->str
			 : l2_strerror(rc, link, sizeof(link)));
	freeReplyObject(r);
	return ok;
}

redisContext *l2_connect(const struct l2_redis *cfg, char *err, size_t errlen)
{
	const char *u = cfg->url ? cfg->url : L2_REDIS_DEFAULT;
	if (l2_url_check(u, err, errlen) < 0)
		return NULL;
	struct timeval tv = { (time_t)cfg->timeout,
			      (suseconds_t)((cfg->timeout - (time_t)cfg->timeout) * 1e6) };
	redisContext *rc;
	struct tcp_url t = { .db = 0 };
	if (strncmp(u, "unix://", 7) == 0 || u[0] == '/') {
		rc = redisConnectUnixWithTimeout(u[0] == '/' ? u : u + 7, tv);
	} else {
		parse_tcp(u, &t, err, errlen); /* l2_url_check passed it */
		rc = redisConnectWithTimeout(t.host, t.port, tv);
	}
	if (!rc || rc->err) {
		snprintf(err, errlen, "redis %s: %s", cfg->url ? cfg->url : L2_REDIS_DEFAULT,
			 rc ? rc->errstr : "out of memory");
		redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, tv);
	if (cfg->password && *cfg->password &&
	    !took(rc, cfg, cfg->user && *cfg->user
			   ? redisCommand(rc, "AUTH %s %s", cfg->user, cfg->password)
			   : redisCommand(rc, "AUTH %s", cfg->password),
		  "AUTH", err, errlen))
		goto free_rc;
	if (t.db && !took(rc, cfg, redisCommand(rc, "SELECT %d", t.db), "SELECT", err, errlen))
		goto free_rc;
	return rc;
free_rc:
	redisFree(rc);
	return NULL;
}

bool l2_timed_out(const redisContext *rc)
{
	return rc->err == REDIS_ERR_IO && strcmp(rc->errstr, strerror(EAGAIN)) == 0;
}

const char *l2_strerror(const redisContext *rc, char *buf, size_t cap)
{
	if (!rc->err)
		snprintf(buf, cap, "unexpected reply");
	else if (l2_timed_out(rc))
		snprintf(buf, cap, "no answer within --redis-timeout");
	else
		snprintf(buf, cap, "%s", rc->errstr);
	return buf;
}

/* Whether stream has the consumer group. XINFO only reads, so it answers
 * where XGROUP CREATE is refused though the group is there: Redis out of
 * memory (noeviction), a read-only replica, an account allowed to read. */
static bool has_group(redisContext *rc, const char *stream)
{
	const char *argv[] = { "XINFO", "GROUPS", stream };
	redisReply *r = redisCommandArgv(rc, 3, argv, NULL);
	bool found = false;
	/* An array of groups, each a flat name/value array (RESP2). */
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && !found; i++) {
		const redisReply *g = r->element[i];
		for (size_t k = 0; g->type == REDIS_REPLY_ARRAY && k + 1 < g->elements; k += 2) {
			const redisReply *name = g->element[k], *value = g->element[k + 1];
			if (name->type == REDIS_REPLY_STRING && strcmp(name->str, "name") == 0) {
				found = value->type == REDIS_REPLY_STRING &&
					strcmp(value->str, L2_GROUP) == 0;
				break;
			}
		}
	}
	freeReplyObject(r);
	return found;
}

/* Sends XGROUP CREATE for the consumer group on stream (and the stream).
 * Returns Redis' reply, the caller's to free, or NULL when the link failed. */
static redisReply *create_group(redisContext *rc, const char *stream)
{
	const char *argv[] = { "XGROUP", "CREATE", stream, L2_GROUP, "0", "MKSTREAM" };
	return redisCommandArgv(rc, 6, argv, NULL);
}

const char *l2_reply_error(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ERROR ? r->str : NULL;
}

/* Copies Redis' error line to why when r is an error reply. */
static void error_line(const redisReply *r, char *why, size_t whylen)
{
	if (l2_reply_error(r))
		snprintf(why, whylen, "%s", r->str);
}

/* Whether reply r to create_group says the group is there now: made, or
 * there before (BUSYGROUP). */
static bool group_made(const redisReply *r)
{
	return r->type == REDIS_REPLY_STATUS ||
	       (r->type == REDIS_REPLY_ERROR && strstr(r->str, "BUSYGROUP"));
}

int l2_takes_writes(redisContext *rc, const char *stream, char *why, size_t whylen)
{
	why[0] = '\0';
	redisReply *r = create_group(rc, stream);
	/* A user whose ACL forbids XGROUP (l2_ensure_group lets it be)
	 * cannot ask so: NOPERM answers as PING did, Redis is taken as up. */
	int took = -1;
	if (r)
		took = group_made(r) ||
		       (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOPERM", 6) == 0);
	if (took == 0)
		error_line(r, why, whylen);
	freeReplyObject(r);
	return took;
}

int l2_ensure_group(redisContext *rc, const char *stream, char *why, size_t whylen)
{
	redisReply *r = create_group(rc, stream);
	int ok = r && (group_made(r) ||
		       (r->type == REDIS_REPLY_ERROR && has_group(rc, stream)));
	/* No reply (a timeout, a link lost) has no error line: the link's. */
	if (!ok && l2_reply_error(r))
		error_line(r, why, whylen);
	else if (!ok)
		l2_strerror(rc, why, whylen);
	freeReplyObject(r);
	return ok ? 0 : -1;
}

/* The string member key of o, or "" when o or the member is missing. */
static const char *str_at(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v))
		return "";
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* Joins an array of strings with sep into out. */
static void join(json_object *arr, const char *sep, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
		int w = snprintf(out + n, n < cap ? cap - n : 0, "%s%s", i ? sep : "", s ? s : "");
		if (w < 0 || n + (size_t)w >= cap)
			return;
		n += (size_t)w;
	}
}

/* Errors Redis gives while it cannot take writes for now: the ticket
 * waits and is tried again. Any other error refuses this ticket for good. */
static bool transient(const char *err)
{
	static const char *const codes[] = {
		"OOM", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN",
		"TRYAGAIN", "NOREPLICAS", "MISCONF",
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strncmp(err, codes[i], strlen(codes[i])) == 0)
			return true;
	return false;
}

bool l2_forbidden(const char *err)
{
	return err && (strncmp(err, "NOPERM", 6) == 0 ||
		       strstr(err, "The user executing the script can't") != NULL);
}

/* Whether r is an error Redis would give again (NOPERM, WRONGTYPE), not
 * one of a passing state (transient). */
static bool refused_for_good(const redisReply *r)
{
	return l2_reply_error(r) && !transient(r->str);
}

int l2_add_send(redisContext *rc, const char *stream, json_object *t)
{
	json_object *v;
	char topics[256], answered[512], dedupe[128], legacy[128];
	char *tech = NULL;
	int rc_ = -1;
	const char *tid = str_at(t, "ticket_id");
	if (!*tid)
		return -2;
	/* The key leaves the reference's date out: a message the widget sends
	 * again after midnight (a dropped connection) carries the same hash
	 * under the next day's date, and is the same ticket. */
	const char *hash = strncmp(tid, "L2-", 3) == 0 && strlen(tid) > 12 && tid[11] == '-'
		? tid + 12 : tid;
	snprintf(dedupe, sizeof(dedupe), DEDUPE_PREFIX "L2-%s", hash);
	snprintf(legacy, sizeof(legacy), DEDUPE_PREFIX "%s", tid);
	json_object_object_get_ex(t, "l2_topics", &v);
	join(v, ",", topics, sizeof(topics));
	json_object_object_get_ex(t, "intents_answered", &v);
	join(v, ",", answered, sizeof(answered));
	size_t tcap = 16384;
	if (!(tech = malloc(tcap)))
		return -1;
	json_object_object_get_ex(t, "technical_part", &v);
	join(v, "\n", tech, tcap);
	json_object *turns = NULL;
	json_object_object_get_ex(t, "turns", &turns);

	const char *argv[40];
	size_t argc = 0;
	argv[argc++] = "EVAL";
	argv[argc++] = add_script;
	argv[argc++] = "3";
	argv[argc++] = stream;
	argv[argc++] = dedupe;
	argv[argc++] = legacy;
#define FIELD(k, val) do { argv[argc++] = (k); argv[argc++] = (val); } while (0)
	FIELD("ticket_id", tid);
	FIELD("follow_up_of", str_at(t, "follow_up_of"));
	FIELD("session_id", str_at(t, "session_id"));
	FIELD("created_at", str_at(t, "created_at"));
	FIELD("lang", str_at(t, "lang"));
	FIELD("topics", topics);
	FIELD("technical_part", tech);
	FIELD("message", str_at(t, "message"));
	json_object *slots = NULL, *addr = NULL, *meter = NULL;
	json_object_object_get_ex(t, "slots", &slots);
	json_object_object_get_ex(slots, "address", &addr);
	json_object_object_get_ex(slots, "meter", &meter);
	FIELD("new_address", str_at(addr, "text"));
	FIELD("meter_id", str_at(meter, "id"));
	FIELD("move_date", str_at(slots, "date"));
	FIELD("intents_answered", answered);
	FIELD("turns", turns ? json_object_to_json_string_ext(turns, JSON_C_TO_STRING_PLAIN) : "[]");
	FIELD("ticket", json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN));
#undef FIELD
	if (redisAppendCommandArgv(rc, (int)argc, argv, NULL) == REDIS_OK)
		rc_ = 0;
	free(tech);
	return rc_;
}

int l2_add_result(const redisReply *r, char *id, size_t idlen)
{
	if (r && r->type == REDIS_REPLY_STRING) {
		snprintf(id, idlen, "%s", r->str);
		return 0;
	}
	/* An ACL that forbids adding tickets is the operator's to mend, and
	 * forbids every ticket alike: they wait in the spool, as in an outage,
	 * rather than being set aside one by one for a person. */
	return refused_for_good(r) && !l2_forbidden(r->str) ? -2 : -1;
}

redisReply *l2_exec(redisContext *rc, size_t n, char *why, size_t whylen)
{
	redisReply *exec = NULL;
	bool broken = redisAppendCommand(rc, "EXEC") != REDIS_OK;
	why[0] = '\0';
	/* MULTI's +OK and a +QUEUED for each command come first: an error
	 * among them (out of memory, read-only) makes EXEC refuse them all.
	 * Every reply is read even so, that the link stays in step. */
	for (size_t k = 0; k <= n && !broken; k++) {
		redisReply *r = NULL;
		broken = redisGetReply(rc, (void **)&r) != REDIS_OK || !r;
		if (!why[0])
			error_line(r, why, whylen);
		freeReplyObject(r);
	}
	if (!broken)
		broken = redisGetReply(rc, (void **)&exec) != REDIS_OK || !exec;
	if (broken) {
		/* A link that failed after a refusal is what the caller must
		 * know: it is not to be used again. */
		why[0] = '\0';
		freeReplyObject(exec);
		return NULL;
	}
	if (exec->type != REDIS_REPLY_ARRAY || exec->elements != n || why[0]) {
		/* EXECABORT, or EXEC's own error: why has the first line. */
		if (!why[0])
			error_line(exec, why, whylen);
		freeReplyObject(exec);
		exec = NULL;
	}
	return exec;
}

static int hash_to_record(redisReply *r, struct engine_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (!r || r->type != REDIS_REPLY_ARRAY)
		return -1;
	if (r->elements == 0)
		return 0;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
		if (!k || !v)
			continue;
		if (strcmp(k, "meter_id") == 0)
			snprintf(rec->meter_id, sizeof(rec->meter_id), "%s", v);
		else if (strcmp(k, "address") == 0)
			snprintf(rec->street, sizeof(rec->street), "%s", v);
		else if (strcmp(k, "postcode") == 0)
			snprintf(rec->postcode, sizeof(rec->postcode), "%s", v);
		else if (strcmp(k, "city") == 0)
			snprintf(rec->city, sizeof(rec->city), "%s", v);
		else if (strcmp(k, "supply_start") == 0 &&
			 slot_date_parse_iso(v, &rec->supply_start) < 0)
			return 0; /* a broken record is no record */
	}
	return rec->meter_id[0] && rec->supply_start.y ? 1 : 0;
}

/* Queues HGETALL of the meter's record on rc: 0, or -1. */
static int append_get(redisContext *rc, const char *meter_id)
{
	char key[128];
	snprintf(key, sizeof(key), REG_METER "%s", meter_id);
	const char *argv[] = { "HGETALL", key };
	return redisAppendCommandArgv(rc, 2, argv, NULL) == REDIS_OK ? 0 : -1;
}

/* Reads the reply to an append_get: as l2_registry_get returns, Redis'
 * error into why when there is one and why is not NULL. */
static int read_record(redisContext *rc, struct engine_record *r, char *why, size_t whylen)
{
	redisReply *rep = NULL;
	if (redisGetReply(rc, (void **)&rep) != REDIS_OK)
		rep = NULL;
	if (why && rep && rep->type == REDIS_REPLY_ERROR)
		snprintf(why, whylen, "%s", rep->str);
	int found = hash_to_record(rep, r);
	freeReplyObject(rep);
	return found;
}

int l2_registry_get(redisContext *rc, const char *meter_id, struct engine_record *r,
		    char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
	return append_get(rc, meter_id) < 0 ? -1 : read_record(rc, r, why, whylen);
}

static int address_key(const struct engine *e, const char *street, char *key, size_t cap)
{
	char k[SLOT_ADDR_MAX * 2];
	if (slot_address_key(engine_slots(e), street, strlen(street), k, sizeof(k)) <= 0)
		return -1;
	snprintf(key, cap, REG_ADDR "%s", k);
	return 0;
}

/* Records of one street address read in one round trip, at most. */
#define ADDR_CHUNK 64

/* True when r is Redis refusing a command for the key's type: a key of
 * a layout from before, or of another program. */
static bool wrong_type(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "WRONGTYPE", 9) == 0;
}

/* The supply points listed at the address, in registry order, as
 * engine_street decides: as reg_file_lookup does. A record is taken only
 * when it is still at that street address, because a list may still name
 * a meter that has moved since (changed by hand). */
static void lookup_address(redisContext *rc, const struct engine *e,
			   const struct slot_address *a, struct engine_results *res)
{
	char key[SLOT_ADDR_MAX * 2 + 64], rkey[SLOT_ADDR_MAX * 2 + 64];
	struct engine_record rec;
	struct engine_street st;
	if (address_key(e, engine_address_street(a), key, sizeof(key)) < 0) {
		res->registry = ENGINE_REG_NOT_FOUND;
		return;
	}
	const char *argv[] = { "LRANGE", key, "0", "-1" };
	redisReply *r = redisCommandArgv(rc, 4, argv, NULL);
	if (wrong_type(r)) {
		/* The index as builds before the list wrote it: one meter ID. */
		freeReplyObject(r);
		const char *gargv[] = { "GET", key };
		r = redisCommandArgv(rc, 2, gargv, NULL);
	}
	if (!r || (r->type != REDIS_REPLY_ARRAY && r->type != REDIS_REPLY_STRING &&
		   r->type != REDIS_REPLY_NIL))
		goto free_reply;
	/* The records are read ADDR_CHUNK to a round trip, not one each: a
	 * block of flats has a meter per flat at one street address. The
	 * answer is settled only by two towns, two start dates or the last
	 * record, so a reply that fails before then leaves none. */
	engine_street_init(&st, a->postcode, engine_listed_city(a, res));
	size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : r->type == REDIS_REPLY_STRING;
	bool settled = false, failed = false;
	for (size_t from = 0; from < n && !settled && !failed; from += ADDR_CHUNK) {
		size_t to = from + ADDR_CHUNK < n ? from + ADDR_CHUNK : n, sent = 0;
		for (size_t i = from; i < to; i++) {
			const redisReply *m = r->type == REDIS_REPLY_ARRAY ? r->element[i] : r;
			if (m->type != REDIS_REPLY_STRING)
				continue;
			if (append_get(rc, m->str) < 0) {
				failed = true;
				break;
			}
			sent++;
		}
		/* Every reply sent for is read, even after an error, so that
		 * none is left for the next command. */
		for (size_t k = 0; k < sent; k++) {
			int found = read_record(rc, &rec, NULL, 0);
			if (settled)
				continue;
			if (found < 0)
				failed = true;
			else if (!failed && found > 0 &&
				 address_key(e, rec.street, rkey, sizeof(rkey)) == 0 &&
				 strcmp(rkey, key) == 0)
				settled = engine_street_add(&st, &rec);
		}
	}
	res->registry = failed && !settled ? ENGINE_REG_UNAVAILABLE
					   : (uint8_t)engine_street_answer(&st, &res->record);
free_reply:
	freeReplyObject(r);
}

/* Whether a record of the registry is in the city of address a, given
 * without a postcode (see engine_results' city_listed). Returns 1, 0, or -1
 * when Redis did not answer. */
static int city_listed(redisContext *rc, const struct slot_address *a)
{
	char k[ENGINE_CITY_KEY_MAX];
	if (a->postcode[0] || engine_city_key(a->city, k, sizeof(k)) < 0)
		return 0;
	const char *argv[] = { "SISMEMBER", REG_CITIES, k };
	redisReply *r = redisCommandArgv(rc, 3, argv, NULL);
	int listed = r && r->type == REDIS_REPLY_INTEGER ? r->integer == 1 : -1;
	freeReplyObject(r);
	return listed;
}

void l2_registry_lookup(redisContext *rc, const struct engine *e,
			const struct engine_plan *plan, struct engine_results *res)
{
	res->registry = ENGINE_REG_NOT_ASKED;
	res->city_listed = false;
	if (plan->lookup == ENGINE_LOOKUP_NONE)
		return;
	res->registry = ENGINE_REG_UNAVAILABLE;
	if (!rc)
		return;
	if (plan->facts.has_address) {
		int listed = city_listed(rc, &plan->facts.address);
		if (listed < 0)
			return;
		res->city_listed = listed;
	}
	if (plan->lookup == ENGINE_LOOKUP_ADDRESS) {
		lookup_address(rc, e, &plan->facts.address, res);
		return;
	}
	int found = l2_registry_get(rc, plan->facts.meter.id, &res->record, NULL, 0);
	if (found >= 0)
		res->registry = found ? ENGINE_REG_FOUND : ENGINE_REG_NOT_FOUND;
}

/* Takes meter_id off the list of the street address its record (at key)
 * names, unless that is stay (NULL: none). LREM's own error is not one:
 * an address key of the layout before the list is a string, which
 * addr_script replaces and lookups skip. Returns 0, or -1 when Redis did
 * not answer. */
/* Whether the reply to HGET of a record's address names a street address
 * other than stay (NULL: none), whose list the meter is to leave; its key
 * goes into old. */
static bool listed_elsewhere(const struct engine *e, const redisReply *address,
			     const char *stay, char *old, size_t cap)
{
	return address->type == REDIS_REPLY_STRING && address_key(e, address->str, old, cap) == 0 &&
	       (!stay || strcmp(old, stay) != 0);
}

static int unlist(redisContext *rc, const struct engine *e, const char *key,
		  const char *meter_id, const char *stay)
{
	char old[SLOT_ADDR_MAX * 2 + 64];
	const char *hargv[] = { "HGET", key, "address" };
	redisReply *rep = redisCommandArgv(rc, 3, hargv, NULL);
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		freeReplyObject(rep);
		return -1;
	}
	bool listed = listed_elsewhere(e, rep, stay, old, sizeof(old));
	freeReplyObject(rep);
	if (!listed)
		return 0;
	const char *largv[] = { "LREM", old, "0", meter_id };
	rep = redisCommandArgv(rc, 4, largv, NULL);
	bool answered = rep != NULL;
	freeReplyObject(rep);
	return answered ? 0 : -1;
}

/* Records stored per round of pipelined commands. */
#define PUT_BATCH 128

/* What one record of a batch writes. */
struct put {
	const struct engine_record *r;
	char key[128];
	char akey[SLOT_ADDR_MAX * 2 + 64];
	char old[SLOT_ADDR_MAX * 2 + 64]; /* the street address it leaves */
	char date[SLOT_DATE_ISO];
	char city[ENGINE_CITY_KEY_MAX]; /* its city's key, for REG_CITIES */
	bool indexed, leaves, has_city;
};

/* Reads the next pipelined reply; true when it is of the type wanted
 * (REDIS_REPLY_NIL for: any reply). */
static bool next_reply(redisContext *rc, int want, redisReply **out)
{
	redisReply *r = NULL;
	bool ok = redisGetReply(rc, (void **)&r) == REDIS_OK && r &&
		  (want == REDIS_REPLY_NIL || r->type == want);
	if (out)
		*out = r;
	else
		freeReplyObject(r);
	return ok;
}

/* next_reply, keeping the first error reply's text in why; an error
 * reply is no reply of any type. */
static bool take_reply(redisContext *rc, int want, redisReply **out, char *why, size_t whylen)
{
	redisReply *r;
	bool ok = next_reply(rc, want, &r) && r->type != REDIS_REPLY_ERROR;
	if (r && r->type == REDIS_REPLY_ERROR && !why[0])
		snprintf(why, whylen, "%s", r->str);
	if (out)
		*out = r;
	else
		freeReplyObject(r);
	return ok;
}

/* Stores p[0..n) in two rounds: every record's old address, then its
 * record, its leaving the old street's list, its joining the new one and
 * its city joining the registry's towns, in file order. LREM's own error
 * is not one (see unlist). */
static int put_batch(redisContext *rc, const struct engine *e, struct put *p, size_t n,
		     char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		const char *hargv[] = { "HGET", p[i].key, "address" };
		if (redisAppendCommandArgv(rc, 3, hargv, NULL) != REDIS_OK)
			return -1;
	}
	int rc_ = 0;
	for (size_t i = 0; i < n; i++) {
		redisReply *r;
		bool ok = take_reply(rc, REDIS_REPLY_NIL, &r, why, whylen);
		p[i].leaves = ok && listed_elsewhere(e, r, p[i].indexed ? p[i].akey : NULL,
						     p[i].old, sizeof(p[i].old));
		freeReplyObject(r);
		if (!ok)
			rc_ = -1; /* the rest are read all the same */
	}
	if (rc_ < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct engine_record *r = p[i].r;
		const char *largv[] = { "LREM", p[i].old, "0", r->meter_id };
		const char *argv[] = { "HSET", p[i].key, "meter_id", r->meter_id, "address",
				       r->street, "postcode", r->postcode, "city", r->city,
				       "supply_start", p[i].date };
		const char *sargv[] = { "EVAL", addr_script, "1", p[i].akey, r->meter_id };
		const char *cargv[] = { "SADD", REG_CITIES, p[i].city };
		if ((p[i].leaves && redisAppendCommandArgv(rc, 4, largv, NULL) != REDIS_OK) ||
		    redisAppendCommandArgv(rc, 12, argv, NULL) != REDIS_OK ||
		    (p[i].indexed && redisAppendCommandArgv(rc, 5, sargv, NULL) != REDIS_OK) ||
		    (p[i].has_city && redisAppendCommandArgv(rc, 3, cargv, NULL) != REDIS_OK))
			return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((p[i].leaves && !take_reply(rc, REDIS_REPLY_NIL, NULL, why, whylen)) ||
		    !take_reply(rc, REDIS_REPLY_INTEGER, NULL, why, whylen) ||
		    (p[i].indexed && !take_reply(rc, REDIS_REPLY_INTEGER, NULL, why, whylen)) ||
		    (p[i].has_city && !take_reply(rc, REDIS_REPLY_INTEGER, NULL, why, whylen)))
			rc_ = -1;
	return rc_;
}

int l2_registry_put_all(redisContext *rc, const struct engine *e,
			const struct engine_record *(*at)(void *arg, size_t i), void *arg,
			size_t n, size_t *stored, char *why, size_t whylen)
{
	struct put *p = calloc(PUT_BATCH, sizeof(*p));
	int rc_ = -1;
	*stored = 0;
	why[0] = '\0';
	if (!p)
		return -1;
	for (size_t b = 0; b < n; b += PUT_BATCH) {
		size_t m = n - b < PUT_BATCH ? n - b : PUT_BATCH;
		for (size_t i = 0; i < m; i++) {
			p[i].r = at(arg, b + i);
			snprintf(p[i].key, sizeof(p[i].key), REG_METER "%s", p[i].r->meter_id);
			slot_date_iso(p[i].r->supply_start, p[i].date);
			p[i].indexed = address_key(e, p[i].r->street, p[i].akey, sizeof(p[i].akey)) == 0;
			p[i].has_city =
				engine_city_key(p[i].r->city, p[i].city, sizeof(p[i].city)) >= 0;
		}
		if (put_batch(rc, e, p, m, why, whylen) < 0)
			goto free_batch;
		*stored = b + m;
	}
	rc_ = 0;
free_batch:
	free(p);
	return rc_;
}

/* Removes one meter: its record, and its place in its street address's
 * list. */
static int registry_del(redisContext *rc, const struct engine *e, const char *meter_id)
{
	char key[128];
	snprintf(key, sizeof(key), REG_METER "%s", meter_id);
	if (unlist(rc, e, key, meter_id, NULL) < 0)
		return -1;
	const char *dargv[] = { "DEL", key };
	redisReply *rep = redisCommandArgv(rc, 2, dargv, NULL);
	bool ok = rep && rep->type == REDIS_REPLY_INTEGER;
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

int l2_registry_prune(redisContext *rc, const struct engine *e,
		      bool (*keep)(const char *meter_id, void *arg), void *arg, size_t *removed)
{
	char cursor[32] = "0";
	*removed = 0;
	do {
		const char *argv[] = { "SCAN", cursor, "MATCH", REG_METER "*", "COUNT", "1000" };
		redisReply *r = redisCommandArgv(rc, 6, argv, NULL);
		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		const redisReply *keys = r->element[1];
		for (size_t k = 0; k < keys->elements; k++) {
			const char *id = keys->element[k]->str + strlen(REG_METER);
			if (keep(id, arg))
				continue;
			if (registry_del(rc, e, id) < 0) {
				freeReplyObject(r);
				return -1;
			}
			(*removed)++;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

int l2_link_profile(redisContext *rc, const char *session_id, const struct engine_facts *f,
		    char *why, size_t whylen)
{
	char key[128], when[32];
	why[0] = '\0';
	log_utc_now(when, sizeof(when));
	snprintf(key, sizeof(key), PROFILE "%s", session_id);
	const char *argv[] = { "HSET", key, "address", f->address.text, "meter_id",
			       f->meter.id, "linked_at", when };
	redisReply *r = redisCommandArgv(rc, 8, argv, NULL);
	int rc_ = r && r->type == REDIS_REPLY_INTEGER ? 0 : refused_for_good(r) ? -2 : -1;
	error_line(r, why, whylen);
	freeReplyObject(r);
	return rc_;
}

/* KEYS[1] the conversation's hash; ARGV: its bytes, the TTL, where the
 * turn count is in them (1-based) and its struct format, renew, whole,
 * then the kept replies' fields. Returns 1 stored; 0 left as stored (a
 * copy there with more turns, or renew); 2 when Redis may now lack
 * replies this server keeps: a save of only what changed found no stored
 * copy to add to (it expired, or was evicted), or was left out for a
 * stored copy with more turns. A key of another type there is no
 * conversation and is replaced: failing, the save would fail again and
 * again, and each time take Redis for down. */
static const char session_script[] =
	"local cur = redis.pcall('HGET', KEYS[1], 'conv')\n"
	"if type(cur) == 'table' then redis.call('DEL', KEYS[1]) cur = false end\n"
	"local whole = ARGV[6] == '1'\n"
	"if cur and ARGV[5] == '1' then\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
	"  return 0\n"
	"end\n"
	"local at = tonumber(ARGV[3])\n"
	/* engine_session_kin: forms whose turn counts compare. */
	"local ours = { ['" ENGINE_SESSION_TAG "'] = true, ['" ENGINE_SESSION_TAG_BEFORE_TICKET "'] = true }\n"
	"local function kin(a, b)\n"
	"  return string.sub(a, 1, 8) == string.sub(b, 1, 8) or\n"
	"         (ours[string.sub(a, 1, 4)] and ours[string.sub(b, 1, 4)])\n"
	"end\n"
	"if cur and #cur >= at + 3 and #ARGV[1] >= at + 3 and kin(cur, ARGV[1]) and\n"
	"   struct.unpack(ARGV[4], cur, at) > struct.unpack(ARGV[4], ARGV[1], at) then\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
	"  if whole then return 0 end\n"
	"  return 2\n"
	"end\n"
	"if whole then redis.call('DEL', KEYS[1]) end\n"
	"redis.call('HSET', KEYS[1], 'conv', ARGV[1], unpack(ARGV, 7))\n"
	"redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
	"if cur or whole then return 1 end\n"
	"return 2\n";

int l2_session_save_send(redisContext *rc, const char *id, const unsigned char *bytes,
			 size_t len, const struct sess_stored *kept, int ttl, bool renew)
{
	char key[128], ttls[16], at[16];
	snprintf(key, sizeof(key), CONVERSATION "%s", id);
	snprintf(ttls, sizeof(ttls), "%d", ttl);
	snprintf(at, sizeof(at), "%zu", (size_t)ENGINE_SESSION_TURNS_AT + 1);
	const uint16_t one = 1;
	const char *fmt = *(const unsigned char *)&one ? "<I4" : ">I4";
	/* Only what changed is written: a turn's save costs Redis (and its
	 * append-only file) the conversation and one reply, not all kept. */
	const char *argv[10 + 2 * SESS_STORED_FIELDS] = {
		"EVAL", session_script, "1", key, (const char *)bytes, ttls, at, fmt,
		renew ? "1" : "0", kept->whole ? "1" : "0"
	};
	size_t lens[10 + 2 * SESS_STORED_FIELDS] = {
		4, sizeof(session_script) - 1, 1, strlen(key), len, strlen(ttls), strlen(at),
		strlen(fmt), 1, 1
	};
	int argc = 10;
	for (size_t i = 0; i < kept->n; i++) {
		argv[argc] = kept->name[i];
		lens[argc++] = strlen(kept->name[i]);
		argv[argc] = kept->value[i];
		lens[argc++] = kept->len[i];
	}
	return redisAppendCommandArgv(rc, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

int l2_session_save_result(const redisReply *r)
{
	if (!r || r->type != REDIS_REPLY_INTEGER)
		return -1;
	return r->integer == 2;
}

/* Copies the fields of the kept replies' stored form from a
 * conversation's hash (an HGETALL reply) into kept. Others (its bytes,
 * and any a later build adds) are not this build's. Out of memory, kept
 * stays empty. */
static void copy_fields(const redisReply *r, struct sess_stored *kept)
{
	size_t need = 0, n = 0;
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (sess_stored_field(r->element[i]->str, r->element[i]->len)) {
			need += r->element[i]->len + 1 + r->element[i + 1]->len;
			n++;
		}
	/* A hash's field names are distinct: no more than there are. */
	char *p = n && n <= SESS_STORED_FIELDS ? malloc(need) : NULL;
	if (!p)
		return;
	kept->buf = p;
	for (size_t i = 0; kept->n < n; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		if (!sess_stored_field(k->str, k->len))
			continue;
		memcpy(p, k->str, k->len + 1);
		kept->name[kept->n] = p;
		p += k->len + 1;
		memcpy(p, v->str, v->len);
		kept->value[kept->n] = p;
		kept->len[kept->n++] = v->len;
		p += v->len;
	}
}

/* The conversation's bytes in its hash's fields (an HGETALL reply), or
 * NULL. */
static const redisReply *conv_field(const redisReply *r)
{
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->len == 4 && memcmp(r->element[i]->str, "conv", 4) == 0)
			return r->element[i + 1];
	return NULL;
}

/* True when the conversation's bytes a are of a form kin to b's
 * (engine_session_kin) with more turns. */
static bool further(const redisReply *a, const redisReply *b)
{
	const size_t at = ENGINE_SESSION_TURNS_AT;
	uint32_t na, nb;
	if (a->len < at + 4 || b->len < at + 4 ||
	    !engine_session_kin((const unsigned char *)a->str, (const unsigned char *)b->str))
		return false;
	memcpy(&na, a->str + at, 4);
	memcpy(&nb, b->str + at, 4);
	return na > nb;
}

int l2_session_load(redisContext *rc, const char *id, unsigned char *out, size_t cap,
		    size_t *len, struct sess_stored *kept)
{
	char key[128], before[128];
	snprintf(key, sizeof(key), CONVERSATION "%s", id);
	snprintf(before, sizeof(before), SESSION_BEFORE "%s", id);
	*kept = (struct sess_stored){ 0 };
	redisReply *h = NULL, *s = NULL;
	int found = -1;
	/* Both layouts in one round trip; the one before is only read when
	 * the hash is not there. */
	if (redisAppendCommand(rc, "HGETALL %s", key) != REDIS_OK ||
	    redisAppendCommand(rc, "GET %s", before) != REDIS_OK ||
	    redisGetReply(rc, (void **)&h) != REDIS_OK ||
	    redisGetReply(rc, (void **)&s) != REDIS_OK)
		goto free_replies;
	/* A key of another type (another program's) holds no conversation.
	 * Of the two layouts, the copy with more turns: in a rolling deploy,
	 * the customer may have gone on at an instance of the build before. */
	const redisReply *conv = h->type == REDIS_REPLY_ARRAY ? conv_field(h) : NULL;
	if (s->type == REDIS_REPLY_STRING && (!conv || further(s, conv)))
		conv = s;
	if ((h->type == REDIS_REPLY_ERROR && !wrong_type(h)) ||
	    (!conv && s->type == REDIS_REPLY_ERROR && !wrong_type(s)))
		goto free_replies;
	/* Longer than any session: not one, as far as this build knows. */
	found = conv && conv->len <= cap;
	if (found) {
		memcpy(out, conv->str, conv->len);
		*len = conv->len;
		if (conv != s)
			copy_fields(h, kept);
	}
free_replies:
	freeReplyObject(h);
	freeReplyObject(s);
	return found;
}

/* ---- spool ---- */

struct l2_spool {
	int fd;
	char path[4096];
	bool pending;
	int broken;      /* a failed append could not be taken back: its error (< 0) */
	off_t unsynced;  /* where lines not yet fsync'd begin; -1: none */
	/* Where the lines not yet in Redis begin. Kept in memory only: after
	 * a restart the whole spool is sent again, which the dedupe keys make
	 * harmless (a line without a ticket_id is set aside a second time). */
	off_t done;
};

/* Says what failed on the spool file, from errno. */
static void spool_error(char *err, size_t errlen, const char *what, const char *path)
{
	snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
}

struct l2_spool *l2_spool_open(const char *path, const char *what, char *err, size_t errlen)
{
	struct l2_spool *s = calloc(1, sizeof(*s));
	struct stat st;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		spool_error(err, errlen, what, path);
		goto free_spool;
	}
	/* One process to a spool: another's drain cuts the file once it has
	 * read it to the end, and would cut tickets this one appended and
	 * called stored meanwhile. The lock goes with the process, crash or
	 * not. A file system without locks (some network ones) is warned
	 * about, not refused: the spool worked there before the lock. */
	if (flock(s->fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		if (e == EWOULDBLOCK) {
			snprintf(err, errlen,
				 "%s %s is in use by another process; give each its own --%s",
				 what, path, what);
			goto close_fd;
		}
		if (e != ENOLCK && e != EOPNOTSUPP && e != ENOSYS) {
			spool_error(err, errlen, what, path);
			goto close_fd;
		}
		json_object *f = json_object_new_object();
		if (f) {
			json_object_object_add(f, "spool", json_object_new_string(path));
			json_object_object_add(f, "error", json_object_new_string(strerror(e)));
		}
		log_event("warn", "spool_not_locked", f);
	}
	if (fstat(s->fd, &st) < 0) {
		spool_error(err, errlen, what, path);
		goto close_fd;
	}
	/* A crash mid-append can leave a torn last line, never acknowledged
	 * to anyone. End it, so the next ticket starts a line of its own and
	 * the drain skips only the torn one. */
	if (st.st_size > 0) {
		char last;
		if (pread(s->fd, &last, 1, st.st_size - 1) == 1 && last != '\n' &&
		    (write(s->fd, "\n", 1) != 1 || fsync(s->fd) < 0)) {
			spool_error(err, errlen, what, path);
			goto close_fd;
		}
	}
	s->pending = st.st_size > 0;
	s->unsynced = -1;
	return s;
close_fd:
	close(s->fd);
free_spool:
	free(s);
	return NULL;
}

long l2_spool_lines(const struct l2_spool *s)
{
	char buf[65536];
	long lines = 0;
	struct stat st;
	if (fstat(s->fd, &st) < 0)
		return -1;
	/* Up to its size only: a device (/dev/full) reads without end, and a
	 * pipe (/dev/stdout) would wait for input that never comes. */
	off_t at = 0;
	for (ssize_t n; at < st.st_size; at += n) {
		off_t left = st.st_size - at;
		size_t want = left < (off_t)sizeof(buf) ? (size_t)left : sizeof(buf);
		if ((n = pread(s->fd, buf, want, at)) == 0)
			break;
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0)
			return -1;
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	}
	return lines;
}

void l2_spool_close(struct l2_spool *s)
{
	if (!s)
		return;
	close(s->fd);
	free(s);
}

bool l2_spool_pending(const struct l2_spool *s)
{
	return s && s->pending;
}

int l2_spool_write(struct l2_spool *s, json_object *ticket)
{
	if (s->broken)
		return s->broken;
	size_t len;
	const char *js = json_object_to_json_string_length(ticket, JSON_C_TO_STRING_PLAIN, &len);
	char *line = malloc(len + 1);
	if (!js || !line) {
		free(line);
		return -ENOMEM;
	}
	memcpy(line, js, len);
	line[len] = '\n';
	size_t off = 0;
	int rc = -EIO;
	off_t start = lseek(s->fd, 0, SEEK_END);
	if (start < 0) {
		rc = -errno;
		goto free_line;
	}
	while (off < len + 1) {
		ssize_t w = write(s->fd, line + off, len + 1 - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = -errno;
		if (w <= 0)
			goto cut_back;
		off += (size_t)w;
	}
	if (s->unsynced < 0)
		s->unsynced = start;
	s->pending = true;
	rc = 0;
	goto free_line;
cut_back:
	/* A half-written line would swallow the next ticket appended after
	 * it: take it back. If even that fails, the spool is not trusted
	 * with another ticket. */
	if (ftruncate(s->fd, start) < 0)
		s->broken = rc;
free_line:
	free(line);
	return rc;
}

int l2_spool_sync(struct l2_spool *s)
{
	if (s->unsynced < 0)
		return 0;
	off_t from = s->unsynced;
	s->unsynced = -1;
	if (fsync(s->fd) == 0)
		return 0;
	int rc = -errno;
	/* None of it may be called recorded: take it all back, as a failed
	 * write is. */
	if (ftruncate(s->fd, from) < 0)
		s->broken = rc;
	s->pending = from > 0;
	return rc;
}


/* Keeps a ticket Redis refuses for good in <spool>.rejected for a person
 * to look at. Returns 0 or -1. */
static int set_aside(const struct l2_spool *s, const char *line, size_t n)
{
	char path[sizeof(s->path) + 16];
	snprintf(path, sizeof(path), "%s.rejected", s->path);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = write(fd, line, n) == (ssize_t)n && fsync(fd) == 0 ? 0 : -1;
	close(fd);
	return rc;
}

/* Spooled lines sent in one transaction, at most. */
#define DRAIN_BATCH 64

/* What became of a spooled line at the send. */
enum { LINE_SENT, LINE_BLANK, LINE_BROKEN, LINE_REFUSED };

/* One batch of the drain: the lines read, where each ends in the file,
 * and what became of each at the send. The line buffers and the tokener
 * serve every batch of a drain call. */
struct drain_batch {
	char *line[DRAIN_BATCH];
	size_t cap[DRAIN_BATCH];
	size_t len[DRAIN_BATCH];
	off_t end[DRAIN_BATCH];
	unsigned char what[DRAIN_BATCH];
	unsigned n;
	json_tokener *tok;
};

/* Whether the n bytes at line are white space only (a NUL is not: a
 * zero-filled tail after a crash is kept for a person to see). */
static bool blank(const char *line, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\0' || !strchr(" \t\r\n", line[i]))
			return false;
	return true;
}

/* Worker thread: logs a spooled line set aside, ending at byte end. */
static void log_set_aside(const struct l2_spool *s, off_t end, const char *why)
{
	json_object *f = json_object_new_object();
	if (f) {
		json_object_object_add(f, "spool", json_object_new_string(s->path));
		json_object_object_add(f, "line_end", json_object_new_int64((int64_t)end));
		json_object_object_add(f, "why", json_object_new_string(why));
	}
	log_event("error", "spool_set_aside", f);
}

/* Sends the batch's tickets in one MULTI/EXEC (one round trip, and one
 * fsync in Redis under appendfsync always) and moves s->done past each
 * line, in order, that Redis took, that is blank, or that is set aside
 * for a person in <spool>.rejected, so it does not block the rest: a line
 * that is no ticket (a torn last line from a crash mid-append, never
 * acknowledged; a line a person broke) or one Redis refuses for good.
 * Adds the tickets Redis took to *moved. Returns 0; -1 when Redis did not
 * take one for now or memory ran short (those before it stay moved): with
 * Redis' error line in why when it refused (every reply read), else with
 * why "" (rc is then not to be used again before a reconnect); -2 when a
 * line could not be set aside. */
static int drain_batch(struct l2_spool *s, redisContext *rc, const char *stream,
		       struct drain_batch *b, unsigned *moved, char *why, size_t whylen)
{
	int rc_ = -1;
	size_t nsent = 0, e = 0;
	redisReply *exec = NULL;
	if (redisAppendCommand(rc, "MULTI") != REDIS_OK)
		goto free_exec;
	for (unsigned k = 0; k < b->n; k++) {
		const char *bad, *p = b->line[k];
		size_t n = b->len[k];
		/* A person's editor may have put a byte order mark first. */
		if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
			p += 3;
			n -= 3;
		}
		json_object *t = report_parse_object_tok(b->tok, p, n, &bad, NULL);
		int sent = t ? l2_add_send(rc, stream, t) : 0;
		json_object_put(t);
		if (sent == -1)
			goto free_exec;
		b->what[k] = t ? (sent == -2 ? LINE_REFUSED : LINE_SENT)
			       : blank(p, n) ? LINE_BLANK : LINE_BROKEN;
		nsent += b->what[k] == LINE_SENT;
	}
	if (!(exec = l2_exec(rc, nsent, why, whylen)))
		goto free_exec;
	for (unsigned k = 0; k < b->n; k++) {
		char id[64];
		const redisReply *r = b->what[k] == LINE_SENT ? exec->element[e++] : NULL;
		int added = b->what[k] == LINE_BLANK ? 1 : r ? l2_add_result(r, id, sizeof(id)) : -2;
		if (added == -1) {
			error_line(r, why, whylen);
			goto free_exec;
		}
		if (added == -2) {
			if (set_aside(s, b->line[k], b->len[k]) < 0) {
				rc_ = -2;
				goto free_exec;
			}
			log_set_aside(s, b->end[k], b->what[k] == LINE_BROKEN
						    ? "not a ticket: no JSON object on the line"
						    : "Redis refuses this ticket for good");
		}
		*moved += added == 0;
		s->done = b->end[k];
	}
	rc_ = 0;
free_exec:
	freeReplyObject(exec);
	return rc_;
}

int l2_spool_drain(struct l2_spool *s, redisContext *rc, const char *stream, unsigned max,
		   unsigned *moved, char *why, size_t whylen)
{
	*moved = 0;
	why[0] = '\0';
	if (!s->pending)
		return 0;
	if (s->unsynced >= 0)
		return -2; /* see l2.h: lines not yet synced are not drained */
	struct drain_batch b = { 0 };
	int rc_ = -2;
	unsigned lines = 0;
	bool end = false;
	FILE *f = fopen(s->path, "r");
	if (!f)
		return -2;
	off_t at = s->done;
	if (!(b.tok = report_tokener_new(REPORT_MAX_DEPTH)) || fseeko(f, at, SEEK_SET) < 0)
		goto free_batch;
	while (!end && lines < max) {
		for (b.n = 0; b.n < DRAIN_BATCH; b.n++) {
			ssize_t n = getline(&b.line[b.n], &b.cap[b.n], f);
			if (n <= 0) {
				end = true;
				break;
			}
			b.len[b.n] = (size_t)n;
			at += n;
			b.end[b.n] = at;
		}
		lines += b.n;
		int k = b.n ? drain_batch(s, rc, stream, &b, moved, why, whylen) : 0;
		if (k < 0) {
			rc_ = k;
			goto free_batch;
		}
	}
	/* getline also stops on an error (out of memory, say): only the end
	 * of the file means every line was read. */
	if (end && !feof(f))
		goto free_batch;
	if (end) {
		/* All moved: the spool starts again empty. Once it is cut, no
		 * line of it is left to drain, even if the fsync fails (then a
		 * crash may bring lines back, which are sent again, harmlessly). */
		if (ftruncate(s->fd, 0) < 0)
			goto free_batch;
		s->done = 0;
		s->pending = false;
		if (fsync(s->fd) < 0)
			goto free_batch;
	}
	rc_ = 0;
free_batch:
	for (unsigned i = 0; i < DRAIN_BATCH; i++)
		free(b.line[i]);
	if (b.tok)
		json_tokener_free(b.tok);
	fclose(f);
	return rc_;
}
