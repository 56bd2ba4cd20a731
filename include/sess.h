/* sess: the conversations the server holds, by session id. A session lives
 * while a connection uses it and for a TTL after the last one left, so a
 * client that reconnects in time continues the same conversation. Touched
 * only on the event loop thread, but for the conversation (conv) of a busy
 * session, which the thread deciding or saying its message has. */
#ifndef AUTOASSIST_SESS_H
#define AUTOASSIST_SESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "engine.h"

#define SESS_ID_LEN 32 /* hex characters: 128 random bits */
#define SESS_REPLIES 4 /* replies kept for messages sent again... */
#define SESS_REPLY_BYTES 8192 /* ...in so many bytes, but for the newest */
#define SESS_SEEN 16 /* messages known to have had a reply kept */

struct sess_reply {
	uint64_t hash;  /* of the message's id and text; 0 with no frame */
	char *frame;    /* the reply frame as sent, or NULL */
	uint32_t len;
};

struct sess {
	char id[SESS_ID_LEN + 1];
	struct engine_session conv;
	double left_at;     /* when the last connection left (monotonic s) */
	unsigned attached;  /* connections using it now */
	unsigned busy;      /* its messages out for a turn (the server's) */
	unsigned away;      /* its turns at Redis, decided, not yet said (the server's) */
	unsigned hellos;    /* connections whose welcome waits for them */
	bool held;          /* its connections were held for such welcomes */
	bool stored;        /* the server's: it is in Redis, or on its way */
	bool unsaved;       /* the server's: a save failed, and no whole one since */
	/* The last messages answered, for when the client sends them again
	 * (their replies lost with a connection; the widget sends again all
	 * it has no reply to): a ring of the last SESS_REPLIES, each a hash
	 * of its id and text and its reply frame. The thread running the
	 * conversation's turn owns them, as it owns conv. */
	struct sess_reply replies[SESS_REPLIES];
	uint8_t reply_next;  /* the slot the next reply takes */
	/* The slots changed since they were last packed (a bit each): a turn
	 * stores only those. */
	uint8_t reply_dirty;
	/* The hashes of the last SESS_SEEN messages whose replies were kept,
	 * also once pushed out: such a message sent again is decided again,
	 * and its new reply must not push out those of the messages sent
	 * again after it (sess_keep_reply). */
	uint64_t seen[SESS_SEEN];
	uint8_t seen_next;
	struct sess *next;  /* hash chain */
	/* On the store's idle list, oldest first: the sessions no connection
	 * uses, in the order their last one left. */
	TAILQ_ENTRY(sess) idle;
};

struct sess_store;

/* Creates a store holding at most max sessions, each kept ttl seconds
 * after its last connection left. Returns NULL when memory is short. */
struct sess_store *sess_store_new(size_t max, double ttl);
void sess_store_free(struct sess_store *st);

/* Starts a new session with a fresh random id, attached once. When the
 * store is full, expired sessions go first, then the one idle longest.
 * Returns it, or NULL when every held session has a connection or the
 * system has no randomness to give. The store owns it. */
struct sess *sess_create(struct sess_store *st, int lang, double now);

/* True when id has the form sess_create gives: SESS_ID_LEN lower-case hex
 * characters. Anything else names no conversation, here or in Redis. */
bool sess_id_valid(const char *id);

/* Starts a session under a known id (one restored from Redis) holding
 * conv, attached once, in place of an expired one of that id. Returns NULL
 * when the id is not SESS_ID_LEN hex characters, is held (not expired)
 * already, or there is no room. */
struct sess *sess_adopt(struct sess_store *st, const char *id,
			const struct engine_session *conv, double now);

/* The session with this id if it is still held, as it is (not attached);
 * NULL when it is unknown or its TTL ran out. The store owns it. */
struct sess *sess_find(const struct sess_store *st, const char *id, double now);

/* Attaches s, a session sess_find gave, once more: it is not dropped
 * until as many sess_detach calls. */
void sess_attach(struct sess_store *st, struct sess *s);

/* The session with this id if it is still held, attached once more; NULL
 * when it is unknown or its TTL ran out. */
struct sess *sess_resume(struct sess_store *st, const char *id, double now);

/* Puts conv, a newer copy of the conversation (from Redis, where another
 * instance moved it on), in place of s's. The replies kept for messages
 * sent again belonged to the old copy and go with it. Only for a session
 * no turn is running on: that thread owns conv. */
void sess_replace(struct sess *s, const struct engine_session *conv);

/* Keeps frame (len bytes, copied) as the reply to the message hash names,
 * in place of the oldest kept, and lets go of older ones until those kept
 * fit SESS_REPLY_BYTES. A message whose reply was kept before (and pushed
 * out since) takes only the room left, pushing out none. Returns 0, or -1
 * when memory is short (that slot then keeps nothing). */
int sess_keep_reply(struct sess *s, uint64_t hash, const char *frame, size_t len);

/* The reply kept for the message hash names, or NULL. Owned by s. */
const struct sess_reply *sess_kept_reply(const struct sess *s, uint64_t hash);

/* The kept replies in their stored form, the fields of a hash: "ring"
 * holds the slot the next reply takes and the seen ring's next slot (a
 * byte each), then its SESS_SEEN hashes (8 bytes each); "0" to "3"
 * (SESS_REPLIES) a ring slot each, the message's hash (8 bytes) then its
 * reply frame, or nothing when the slot is empty. Numbers are in host
 * order. */
#define SESS_STORED_FIELDS (SESS_REPLIES + 1)
struct sess_stored {
	bool whole;     /* all the fields: any other stored goes */
	size_t n;
	const char *name[SESS_STORED_FIELDS];
	const char *value[SESS_STORED_FIELDS];
	size_t len[SESS_STORED_FIELDS];
	char *buf;      /* holds what the fields point to; NULL: nothing */
};

/* Writes s's kept replies into out in their stored form: all of them when
 * whole, or when what changed since they were last packed is all there
 * is (out->whole then says so), else only what changed (nothing when none
 * did), and counts them written. Returns 0, or -1 when memory
 * is short (out then holds nothing, and nothing counts as written). The
 * caller frees out with sess_stored_free. */
int sess_replies_pack(struct sess *s, bool whole, struct sess_stored *out);

/* Keeps the replies in (stored by sess_replies_pack, from Redis: not
 * trusted) in place of s's, each in its slot, as written. A field of the
 * wrong size is none, a frame longer than max_frame none this server
 * could have sent; older replies go until those kept fit
 * SESS_REPLY_BYTES. */
void sess_replies_unpack(struct sess *s, const struct sess_stored *in, size_t max_frame);

/* True when name (len bytes) is a field of the stored form. */
bool sess_stored_field(const char *name, size_t len);

/* Frees what out holds and empties it. */
void sess_stored_free(struct sess_stored *out);

/* A connection stops using s, a session of st. now never goes back (a
 * monotonic clock): the idle list is kept in the order of it. */
void sess_detach(struct sess_store *st, struct sess *s, double now);

/* Drops sessions whose TTL ran out. Returns how many. Like making room in
 * a full store, it takes time in proportion to what it drops, not to what
 * the store holds. */
size_t sess_expire(struct sess_store *st, double now);

size_t sess_count(const struct sess_store *st);

/* Calls fn on every session held, expired or not, in no order (a reload
 * carries each over to the new intents). fn must not add or drop any. */
void sess_each(struct sess_store *st, void (*fn)(struct sess *s, void *arg), void *arg);

#endif
