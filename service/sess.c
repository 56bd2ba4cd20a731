/* sess: session store. See include/sess.h. */
#include "sess.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* The stored form's "ring" field: the two next slots, the seen hashes. */
#define RING_BYTES (2 + 8 * SESS_SEEN)

static const char *const slot_names[SESS_REPLIES] = { "0", "1", "2", "3" };
_Static_assert(SESS_REPLIES == 4, "a name for each slot");

static void forget_replies(struct sess *s)
{
	for (size_t i = 0; i < SESS_REPLIES; i++) {
		free(s->replies[i].frame);
		s->replies[i] = (struct sess_reply){ 0 };
	}
	s->reply_next = 0;
	s->reply_dirty = 0;
	memset(s->seen, 0, sizeof(s->seen));
	s->seen_next = 0;
}

static bool was_seen(const struct sess *s, uint64_t hash)
{
	for (size_t i = 0; i < SESS_SEEN; i++)
		if (s->seen[i] == hash)
			return true;
	return false;
}

static void see(struct sess *s, uint64_t hash)
{
	if (hash && !was_seen(s, hash)) {
		s->seen[s->seen_next] = hash;
		s->seen_next = (uint8_t)((s->seen_next + 1) % SESS_SEEN);
	}
}

static size_t kept_bytes(const struct sess *s)
{
	size_t total = 0;
	for (size_t i = 0; i < SESS_REPLIES; i++)
		total += s->replies[i].len;
	return total;
}

static void forget_slot(struct sess *s, size_t i)
{
	free(s->replies[i].frame);
	s->replies[i] = (struct sess_reply){ 0 };
	s->reply_dirty |= (uint8_t)(1u << i);
}

/* Lets go of the oldest replies until those kept fit SESS_REPLY_BYTES;
 * the newest, in the slot before reply_next, stays in any case. */
static void trim(struct sess *s)
{
	size_t total = kept_bytes(s);
	for (size_t k = 0; total > SESS_REPLY_BYTES && k < SESS_REPLIES - 1; k++) {
		size_t i = (s->reply_next + k) % SESS_REPLIES;
		total -= s->replies[i].len;
		forget_slot(s, i);
	}
}

struct sess_store {
	struct sess **buckets;
	size_t nbuckets, count, max;
	double ttl;
	TAILQ_HEAD(, sess) idle; /* see struct sess */
};

struct sess_store *sess_store_new(size_t max, double ttl)
{
	struct sess_store *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->nbuckets = 1024;
	while (st->nbuckets < max / 2)
		st->nbuckets *= 2;
	st->buckets = calloc(st->nbuckets, sizeof(*st->buckets));
	if (!st->buckets) {
		free(st);
		return NULL;
	}
	st->max = max;
	st->ttl = ttl;
	TAILQ_INIT(&st->idle);
	return st;
}

void sess_store_free(struct sess_store *st)
{
	if (!st)
		return;
	for (size_t b = 0; b < st->nbuckets; b++)
		for (struct sess *s = st->buckets[b], *n; s; s = n) {
			n = s->next;
			forget_replies(s);
			free(s);
		}
	free(st->buckets);
	free(st);
}

/* Ids are random hex, so their first characters are already a good hash. */
static size_t bucket_of(const struct sess_store *st, const char *id)
{
	size_t h = 0;
	for (int i = 0; i < 12 && id[i]; i++)
		h = h * 16 + (size_t)(id[i] <= '9' ? id[i] - '0' : (id[i] | 0x20) - 'a' + 10);
	return h & (st->nbuckets - 1);
}

static bool expired(const struct sess_store *st, const struct sess *s, double now)
{
	return s->attached == 0 && now - s->left_at > st->ttl;
}

/* Drops an idle session. */
static void drop(struct sess_store *st, struct sess *s)
{
	struct sess **pp = &st->buckets[bucket_of(st, s->id)];
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	TAILQ_REMOVE(&st->idle, s, idle);
	forget_replies(s);
	free(s);
	st->count--;
}

/* Makes room for one more session. Returns false when there is none. */
static bool room(struct sess_store *st, double now)
{
	/* Full: first what has expired, then, so that no client can lock new
	 * customers out by opening conversations, the longest-idle one. Only
	 * conversations with a connection are never dropped, and the store
	 * holds several times as many as there may be connections. */
	if (st->count < st->max || sess_expire(st, now) > 0)
		return true;
	if (TAILQ_EMPTY(&st->idle))
		return false;
	drop(st, TAILQ_FIRST(&st->idle));
	return true;
}

static void insert(struct sess_store *st, struct sess *s)
{
	size_t b = bucket_of(st, s->id);
	s->next = st->buckets[b];
	st->buckets[b] = s;
	st->count++;
}

bool sess_id_valid(const char *id)
{
	return strlen(id) == SESS_ID_LEN && strspn(id, "0123456789abcdef") == SESS_ID_LEN;
}

/* The conversation with this id, expired or not, or NULL. */
static struct sess *find(const struct sess_store *st, const char *id)
{
	for (struct sess *s = st->buckets[bucket_of(st, id)]; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

struct sess *sess_adopt(struct sess_store *st, const char *id,
			const struct engine_session *conv, double now)
{
	if (!sess_id_valid(id))
		return NULL;
	/* An expired copy not dropped yet (sess_expire runs now and then)
	 * gives way to the one adopted. */
	struct sess *old = find(st, id);
	if (old && !expired(st, old, now))
		return NULL;
	if (old)
		drop(st, old);
	if (!room(st, now))
		return NULL;
	struct sess *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s->id, id, SESS_ID_LEN + 1);
	s->conv = *conv;
	s->attached = 1;
	insert(st, s);
	return s;
}

struct sess *sess_create(struct sess_store *st, int lang, double now)
{
	if (!room(st, now))
		return NULL;
	unsigned char raw[SESS_ID_LEN / 2];
	if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t)sizeof(raw))
		return NULL;
	struct sess *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof(raw); i++) {
		s->id[2 * i] = hex[raw[i] >> 4];
		s->id[2 * i + 1] = hex[raw[i] & 15];
	}
	engine_session_init(&s->conv, lang);
	s->attached = 1;
	insert(st, s);
	return s;
}

struct sess *sess_find(const struct sess_store *st, const char *id, double now)
{
	struct sess *s = sess_id_valid(id) ? find(st, id) : NULL;
	return s && !expired(st, s, now) ? s : NULL;
}

void sess_attach(struct sess_store *st, struct sess *s)
{
	if (s->attached++ == 0)
		TAILQ_REMOVE(&st->idle, s, idle);
}

struct sess *sess_resume(struct sess_store *st, const char *id, double now)
{
	struct sess *s = sess_find(st, id, now);
	if (s)
		sess_attach(st, s);
	return s;
}

void sess_replace(struct sess *s, const struct engine_session *conv)
{
	s->conv = *conv;
	forget_replies(s);
}

int sess_keep_reply(struct sess *s, uint64_t hash, const char *frame, size_t len)
{
	size_t i = s->reply_next;
	struct sess_reply *r = &s->replies[i];
	/* Sent again past the replies kept (the widget sends again all it
	 * has no reply to, oldest first): pushing out the next one's reply
	 * would have it decided again too, and so on down the line. */
	if (hash && was_seen(s, hash) &&
	    (r->frame || kept_bytes(s) + len > SESS_REPLY_BYTES))
		return 0;
	see(s, hash);
	s->reply_next = (uint8_t)((i + 1) % SESS_REPLIES);
	char *p = len <= UINT32_MAX ? malloc(len ? len : 1) : NULL;
	forget_slot(s, i);
	if (!p)
		return -1;
	memcpy(p, frame, len);
	*r = (struct sess_reply){ hash, p, (uint32_t)len };
	trim(s);
	return 0;
}

const struct sess_reply *sess_kept_reply(const struct sess *s, uint64_t hash)
{
	for (size_t i = 0; i < SESS_REPLIES; i++)
		if (s->replies[i].frame && s->replies[i].hash == hash)
			return &s->replies[i];
	return NULL;
}

/* Adds a field to out, its value len bytes at p. */
static void add_field(struct sess_stored *out, const char *name, const char *p, size_t len)
{
	out->name[out->n] = name;
	out->value[out->n] = p;
	out->len[out->n++] = len;
}

int sess_replies_pack(struct sess *s, bool whole, struct sess_stored *out)
{
	unsigned held = 0;
	for (size_t i = 0; i < SESS_REPLIES; i++)
		held |= s->replies[i].frame ? 1u << i : 0;
	/* What changed covers all kept (a new conversation's): as good as
	 * whole, which also clears what Redis holds beyond it. */
	if ((held & ~(unsigned)s->reply_dirty) == 0)
		whole = true;
	unsigned take = whole ? held : s->reply_dirty;
	*out = (struct sess_stored){ .whole = whole };
	/* The ring changes only with a slot; a whole write has it always. */
	if (!take && !whole)
		return 0;
	size_t need = RING_BYTES;
	for (size_t i = 0; i < SESS_REPLIES; i++)
		if (take & (1u << i) && s->replies[i].frame)
			need += 8 + s->replies[i].len;
	char *p = out->buf = malloc(need);
	if (!p)
		return -1;
	p[0] = (char)s->reply_next;
	p[1] = (char)s->seen_next;
	memcpy(p + 2, s->seen, sizeof(s->seen));
	add_field(out, "ring", p, RING_BYTES);
	p += RING_BYTES;
	for (size_t i = 0; i < SESS_REPLIES; i++) {
		const struct sess_reply *r = &s->replies[i];
		if (!(take & (1u << i)))
			continue;
		if (!r->frame) { /* pushed out: stored empty */
			add_field(out, slot_names[i], p, 0);
			continue;
		}
		memcpy(p, &r->hash, 8);
		memcpy(p + 8, r->frame, r->len);
		add_field(out, slot_names[i], p, 8 + (size_t)r->len);
		p += 8 + r->len;
	}
	s->reply_dirty = 0;
	return 0;
}

/* The ring slot a stored field is, or -1. */
static int slot_of(const char *name)
{
	for (int i = 0; i < SESS_REPLIES; i++)
		if (strcmp(name, slot_names[i]) == 0)
			return i;
	return -1;
}

void sess_replies_unpack(struct sess *s, const struct sess_stored *in, size_t max_frame)
{
	forget_replies(s);
	for (size_t f = 0; f < in->n; f++) {
		const char *v = in->value[f];
		size_t len = in->len[f];
		if (strcmp(in->name[f], "ring") == 0) {
			if (len != RING_BYTES)
				continue;
			s->reply_next = (uint8_t)((unsigned char)v[0] % SESS_REPLIES);
			s->seen_next = (uint8_t)((unsigned char)v[1] % SESS_SEEN);
			memcpy(s->seen, v + 2, sizeof(s->seen));
			continue;
		}
		int i = slot_of(in->name[f]);
		/* An empty frame is none a server sends. */
		if (i < 0 || len <= 8 || len - 8 > max_frame || len - 8 > UINT32_MAX)
			continue;
		char *frame = malloc(len - 8);
		if (!frame)
			continue;
		free(s->replies[i].frame);
		s->replies[i].frame = frame;
		memcpy(&s->replies[i].hash, v, 8);
		memcpy(frame, v + 8, len - 8);
		s->replies[i].len = (uint32_t)(len - 8);
	}
	/* What Redis has, but for what this budget lets go of. */
	s->reply_dirty = 0;
	trim(s);
}

bool sess_stored_field(const char *name, size_t len)
{
	return strlen(name) == len && (strcmp(name, "ring") == 0 || slot_of(name) >= 0);
}

void sess_stored_free(struct sess_stored *out)
{
	free(out->buf);
	*out = (struct sess_stored){ 0 };
}

void sess_detach(struct sess_store *st, struct sess *s, double now)
{
	s->left_at = now;
	if (s->attached > 1) {
		s->attached--;
		return;
	}
	/* The last connection left (or one left twice): to the list's end. */
	if (s->attached == 0)
		TAILQ_REMOVE(&st->idle, s, idle);
	s->attached = 0;
	TAILQ_INSERT_TAIL(&st->idle, s, idle);
}

size_t sess_expire(struct sess_store *st, double now)
{
	size_t dropped = 0;
	for (struct sess *s; (s = TAILQ_FIRST(&st->idle)) && expired(st, s, now); dropped++)
		drop(st, s);
	return dropped;
}

size_t sess_count(const struct sess_store *st)
{
	return st->count;
}

void sess_each(struct sess_store *st, void (*fn)(struct sess *s, void *arg), void *arg)
{
	for (size_t b = 0; b < st->nbuckets; b++)
		for (struct sess *s = st->buckets[b]; s; s = s->next)
			fn(s, arg);
}
