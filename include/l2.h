/* l2: the L2 queue and the grid registry in Redis (layout: docs/redis.md),
 * and the local spool that keeps tickets when Redis cannot take them.
 * Every function here does blocking I/O with timeouts: the server calls
 * them only on its Redis worker thread (see rw.h), the CLI directly. */
#ifndef AUTOASSIST_L2_H
#define AUTOASSIST_L2_H

#include <hiredis/hiredis.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "sess.h"

#define L2_STREAM_DEFAULT "autoassist:l2"
#define L2_REDIS_DEFAULT "127.0.0.1:6379"
#define L2_GROUP "l2"

struct l2_redis {
	const char *url;  /* redis://host:port, unix:///path or host:port */
	double timeout;   /* seconds, for connecting and for each command */
	/* AUTH after connecting when password is set (Redis 6 ACL user when
	 * user is set too). From the environment, never the URL, so that no
	 * log line, error or process list shows it. */
	const char *user, *password;
};

/* True when rc's last command got no answer within its timeout: hiredis
 * 0.14 tells it only by errno's text, "Resource temporarily unavailable". */
bool l2_timed_out(const redisContext *rc);

/* What went wrong on rc's link, for a log line, written into buf (cap
 * bytes): hiredis' text, except that a command that timed out says so,
 * and a link with no error, "unexpected reply". Returns buf. */
const char *l2_strerror(const redisContext *rc, char *buf, size_t cap);

/* Checks a Redis URL as l2_connect reads it (host:port, redis://host:port,
 * [IPv6]:port, an optional /db after either, unix:///path or /path): 0,
 * or -1 with a sentence in err for one that holds a user or password
 * (read from the environment instead, and never echoed), a port that is
 * not 1 to 65535, a database that is not a number, or rediss:// (no TLS in
 * this build). */
int l2_url_check(const char *url, char *err, size_t errlen);

/* Connects to Redis, and authenticates when cfg has a password. Returns
 * the context (free with redisFree) or NULL with a sentence in err. */
redisContext *l2_connect(const struct l2_redis *cfg, char *err, size_t errlen);

/* Creates the consumer group on stream (and the stream) when missing.
 * Returns 0, also when Redis refuses to create a group that is there (out
 * of memory, read-only); or -1 with Redis' error (NOAUTH, WRONGTYPE, ...)
 * or the link's in why. */
int l2_ensure_group(redisContext *rc, const char *stream, char *why, size_t whylen);

/* Redis' error line when r is an error reply, else NULL; r owns it. */
const char *l2_reply_error(const redisReply *r);

/* Whether Redis' error line err (NULL: none) says the user's ACL forbids
 * the command: NOPERM, or, for a command the add script runs, Redis 7.0's
 * "The user executing the script can't ...". */
bool l2_forbidden(const char *err);

/* Whether Redis takes a write that may grow its memory, asked with the
 * same XGROUP CREATE, which changes nothing when the group is there: 1
 * when it does (or a user's ACL forbids the command, so it cannot tell),
 * 0 when it refuses (out of memory, read-only: Redis' error line is then
 * in why), -1 when the link failed. */
int l2_takes_writes(redisContext *rc, const char *stream, char *why, size_t whylen);

/* Adds ticket (the object report_ticket_json builds) to stream, once: a
 * ticket whose ticket_id was added before, on any date, is not added
 * again. In two halves, for pipelining: l2_add_send queues the command in
 * rc's output buffer (0; -2 when the ticket has no ticket_id; -1 when
 * memory is short), and l2_add_result says what its reply r (NULL: none
 * came) means: 0 with the reference of the ticket in the stream in id (its
 * own ticket_id, or the first copy's when it was there before; a stream
 * entry id for a copy an older build added); -1 when Redis did not take it
 * for now (connection lost, timeout, out of memory, read-only, an ACL that
 * forbids it: rc must be reconnected when rc->err is set); -2 when it never
 * will (an error of the ticket's own). */
int l2_add_send(redisContext *rc, const char *stream, json_object *ticket);
int l2_add_result(const redisReply *r, char *id, size_t idlen);

/* Ends a transaction: after MULTI and n commands appended to rc, sends
 * EXEC and reads MULTI's +OK, the n +QUEUED and EXEC's reply. Returns that
 * reply, an array of the n commands' replies that the caller frees with
 * freeReplyObject; or NULL. NULL with Redis' first error line in why when
 * it refused the transaction (out of memory, read-only): every reply was
 * read, and rc can go on. NULL with why "" when the link failed or a reply
 * made no sense: rc is then not to be used again before a reconnect
 * (replies may be left unread). */
redisReply *l2_exec(redisContext *rc, size_t n, char *why, size_t whylen);

/* Looks the plan's registry question up: by meter ID, or by address as
 * reg_file_lookup does (engine_street over the records listed there, in
 * registry order). Fills res->registry and res->record. */
void l2_registry_lookup(redisContext *rc, const struct engine *e,
			const struct engine_plan *plan, struct engine_results *res);

/* Stores the registry records at(arg, 0..n) with their address index,
 * pipelined a batch at a time: a meter that moved leaves its old street
 * address's list. Returns 0; or -1 on a Redis error, with the records
 * stored before the batch that failed counted in *stored, and Redis' own
 * error reply (OOM, WRONGTYPE, NOAUTH, ...) in why when it sent one ("" if
 * the link failed). */
int l2_registry_put_all(redisContext *rc, const struct engine *e,
			const struct engine_record *(*at)(void *arg, size_t i), void *arg,
			size_t n, size_t *stored, char *why, size_t whylen);

/* Removes from the registry in Redis every meter keep(meter_id, arg)
 * says false of: its record and its place in its street address's list,
 * keyed by e's street words. A list an earlier load keyed by other street
 * words keeps the meter's ID, which lookups skip once its record is gone.
 * Returns 0 with the count in *removed, or -1 on a Redis error (those
 * removed so far stay removed). */
int l2_registry_prune(redisContext *rc, const struct engine *e,
		      bool (*keep)(const char *meter_id, void *arg), void *arg, size_t *removed);

/* Reads one record by meter ID: 1 found, 0 not found, -1 Redis error,
 * with Redis' error reply (NOAUTH, WRONGTYPE, ...) in why when it sent one
 * and why is not NULL; "" otherwise. */
int l2_registry_get(redisContext *rc, const char *meter_id, struct engine_record *r,
		    char *why, size_t whylen);

/* Links the session's profile to the confirmed address and meter: 0; -1
 * when Redis did not take it for now (out of memory, read-only: its error
 * line in why; the link failed: why ""); -2 when it never will (NOPERM,
 * WRONGTYPE: the line in why). */
int l2_link_profile(redisContext *rc, const char *session_id, const struct engine_facts *f,
		    char *why, size_t whylen);

/* Stores a conversation (the bytes of engine_session_pack) under its
 * session id for ttl seconds, so a restarted or another instance of the
 * server continues it, and with it the fields of kept (the replies it
 * keeps for messages sent again, opaque here): in place of those stored
 * when kept->whole, else over them. Unless Redis holds a copy with more
 * turns (one another instance went on with), or any copy when renew is
 * set (this one is unchanged since stored): that one stays, for ttl
 * seconds from now. Pipelined: the send queues the command (0 or -1), and
 * l2_session_save_result says what its reply r means: done, stored or not
 * needed (0); done, but Redis may lack replies this server keeps, so the
 * next save should be whole (1: a save of only what changed found no
 * stored copy, or one with more turns); failed (-1), as l2_add_result
 * does for a ticket. */
int l2_session_save_send(redisContext *rc, const char *id, const unsigned char *bytes,
			 size_t len, const struct sess_stored *kept, int ttl, bool renew);
int l2_session_save_result(const redisReply *r);

/* Reads a stored conversation's bytes into out (cap long) and their length
 * into *len: 1 found, 0 not found (none, longer than cap, or a key of
 * another type), -1 Redis error. engine_session_unpack says whether they
 * are a session. When found, the fields stored with it go to *kept (the
 * caller frees it with sess_stored_free; empty when there are none, as in
 * the layout of builds before 2026-11-27, which is read too, or memory is
 * short). */
int l2_session_load(redisContext *rc, const char *id, unsigned char *out, size_t cap,
		    size_t *len, struct sess_stored *kept);

/* ---- the spool: an append-only file of tickets, one JSON line each ---- */

struct l2_spool;

/* Opens (creating) the spool file and locks it for this
 * process; ends a torn last line. what names it in messages and is its
 * option without the dashes ("spool", or "tickets" for the command line
 * harness's ticket file). Returns NULL with a sentence in err, also when
 * another process holds it. */
struct l2_spool *l2_spool_open(const char *path, const char *what, char *err, size_t errlen);
void l2_spool_close(struct l2_spool *s);

/* The lines the spool file holds: 0 or more, or -1 when it cannot be read. */
long l2_spool_lines(const struct l2_spool *s);

/* Appends a ticket as a line: 0, or a negative errno when it could not
 * (-ENOSPC; nothing of it is left). Once a failed line could not be cut
 * back, part of it may be, and every later call returns that line's
 * error. It is durable, and may be called recorded, only once
 * l2_spool_sync returns 0. */
int l2_spool_write(struct l2_spool *s, json_object *ticket);

/* Makes every line written since the last sync durable with one fsync:
 * 0; or fsync's negative errno, and those lines are taken back. */
int l2_spool_sync(struct l2_spool *s);

/* True when tickets wait in the spool. */
bool l2_spool_pending(const struct l2_spool *s);

/* Moves the spooled tickets to stream in order and each once (adding a
 * ticket is idempotent, so a crash mid-way resends nothing twice), 64 to a
 * transaction, reading at most about max lines per call and starting the
 * next call where this one stopped. One that Redis refuses for good is set
 * aside in <spool>.rejected. Sets *moved to how many Redis took, failure
 * or not. Returns 0, and the spool is emptied when all have moved; -1 at
 * the first that Redis does not take for now: with Redis' error line in
 * why when it refused (every reply read, rc can go on), else with why ""
 * (rc is then not to be used again before a reconnect); -2 on an error of
 * the spool's files, or when lines written are not synced yet. */
int l2_spool_drain(struct l2_spool *s, redisContext *rc, const char *stream, unsigned max,
		   unsigned *moved, char *why, size_t whylen);

#endif
