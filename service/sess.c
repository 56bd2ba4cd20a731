/* sess: session store. See include/sess.h. */
#include "sess.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* The stored form's head of a kept reply: its hash and its length. */
#define REPLY_HEAD 12

static void forget_replies(struct sess *s)
{
	for (size_t i = 0; i < SESS_REPLIES; i++) {
		free(s->replies[i].frame);
		s->replies[i] = (struct sess_reply){ 0 };
	}
	s->reply_next = 0;
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
	struct sess_reply *r = &s->replies[s->reply_next];
	/* Sent again past the replies kept (the widget sends again all it
	 * has no reply to, oldest first): pushing out the next one's reply
	 * would have it decided again too, and so on down the line. */
	if (hash && was_seen(s, hash) &&
	    (r->frame || kept_bytes(s) + len > SESS_REPLY_BYTES))
		return 0;
	see(s, hash);
	s->reply_next = (uint8_t)((s->reply_next + 1) % SESS_REPLIES);
	char *p = len <= UINT32_MAX ? realloc(r->frame, len ? len : 1) : NULL;
	if (!p) {
		free(r->frame);
		*r = (struct sess_reply){ 0 };
		return -1;
	}
	memcpy(p, frame, len);
	*r = (struct sess_reply){ hash, p, (uint32_t)len };
	/* The oldest go first; the newest, just kept, stays in any case. */
	size_t total = kept_bytes(s);
	for (size_t k = 0; total > SESS_REPLY_BYTES && k < SESS_REPLIES - 1; k++) {
		struct sess_reply *old = &s->replies[(s->reply_next + k) % SESS_REPLIES];
		total -= old->len;
		free(old->frame);
		*old = (struct sess_reply){ 0 };
	}
	return 0;
}

const struct sess_reply *sess_kept_reply(const struct sess *s, uint64_t hash)
{
	for (size_t i = 0; i < SESS_REPLIES; i++)
		if (s->replies[i].frame && s->replies[i].hash == hash)
			return &s->replies[i];
	return NULL;
}

/* True when the message hash names was seen and its reply is not kept. */
static bool seen_only(const struct sess *s, uint64_t hash)
{
	return hash && !sess_kept_reply(s, hash);
}

char *sess_replies_pack(const struct sess *s, size_t *len)
{
	size_t n = 0;
	for (size_t i = 0; i < SESS_SEEN; i++)
		n += seen_only(s, s->seen[i]) ? REPLY_HEAD : 0;
	for (size_t i = 0; i < SESS_REPLIES; i++)
		if (s->replies[i].frame)
			n += REPLY_HEAD + s->replies[i].len;
	*len = 0;
	if (!n)
		return NULL;
	char *out = malloc(n);
	if (!out) {
		*len = 1;
		return NULL;
	}
	const uint32_t none = 0;
	for (size_t k = 0; k < SESS_SEEN; k++) {
		uint64_t h = s->seen[(s->seen_next + k) % SESS_SEEN];
		if (!seen_only(s, h))
			continue;
		memcpy(out + *len, &h, 8);
		memcpy(out + *len + 8, &none, 4);
		*len += REPLY_HEAD;
	}
	for (size_t k = 0; k < SESS_REPLIES; k++) {
		const struct sess_reply *r = &s->replies[(s->reply_next + k) % SESS_REPLIES];
		if (!r->frame)
			continue;
		memcpy(out + *len, &r->hash, 8);
		memcpy(out + *len + 8, &r->len, 4);
		memcpy(out + *len + REPLY_HEAD, r->frame, r->len);
		*len += REPLY_HEAD + r->len;
	}
	return out;
}

void sess_replies_unpack(struct sess *s, const char *in, size_t len, size_t max_frame)
{
	forget_replies(s);
	for (size_t o = 0; len - o >= REPLY_HEAD;) {
		uint64_t hash;
		uint32_t n;
		memcpy(&hash, in + o, 8);
		memcpy(&n, in + o + 8, 4);
		if (n > len - o - REPLY_HEAD)
			break;
		if (n == 0)
			see(s, hash);
		else if (n <= max_frame)
			sess_keep_reply(s, hash, in + o + REPLY_HEAD, n);
		o += REPLY_HEAD + n;
	}
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
