/* Tests for sess: a conversation outlives its connection by the TTL, a full
 * store makes room from the longest-idle conversation and never from one
 * in use, and expiry drops exactly the conversations past their TTL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sess.h"

static void test_resume_within_ttl(void **state)
{
	(void)state;
	struct sess_store *st = sess_store_new(8, 10.0);
	assert_non_null(st);
	struct sess *a = sess_create(st, 0, 0.0);
	assert_non_null(a);
	assert_true(sess_id_valid(a->id));
	char id[SESS_ID_LEN + 1];
	memcpy(id, a->id, sizeof(id));
	sess_detach(st, a, 1.0);
	assert_ptr_equal(sess_resume(st, id, 10.5), a);
	assert_int_equal(a->attached, 1);
	sess_detach(st, a, 11.0);
	assert_null(sess_resume(st, id, 21.5)); /* past the TTL */
	assert_null(sess_resume(st, "not-an-id", 11.0));
	sess_store_free(st);
}

/* sess_find looks without attaching: the session stays idle, so a full
 * store may still make room from it. sess_replace swaps the conversation
 * and lets the kept reply go (ASan tells a leak). */
static void test_find_and_replace(void **state)
{
	(void)state;
	struct sess_store *st = sess_store_new(1, 10.0);
	struct sess *a = sess_create(st, 0, 0.0);
	assert_non_null(a);
	char id[SESS_ID_LEN + 1];
	memcpy(id, a->id, sizeof(id));
	sess_detach(st, a, 1.0);
	assert_ptr_equal(sess_find(st, id, 2.0), a);
	assert_int_equal(a->attached, 0);
	assert_null(sess_find(st, id, 11.5)); /* past the TTL */
	assert_null(sess_find(st, "not-an-id", 2.0));

	assert_int_equal(sess_keep_reply(a, 42, "{\"type\":\"reply\"}", 16), 0);
	struct engine_session newer;
	engine_session_init(&newer, 1);
	newer.nturns = 7;
	sess_replace(a, &newer);
	assert_int_equal(a->conv.nturns, 7);
	assert_int_equal(a->conv.lang, 1);
	assert_null(sess_kept_reply(a, 42));

	/* Still idle after the look: the next new session takes its place. */
	struct sess *b = sess_create(st, 0, 3.0);
	assert_non_null(b);
	assert_null(sess_find(st, id, 3.0));
	sess_store_free(st);
}

/* sess_adopt takes an id whose copy here expired but was not dropped yet
 * (Redis kept it going elsewhere), and refuses one still held. */
static void test_adopt_over_expired(void **state)
{
	(void)state;
	struct sess_store *st = sess_store_new(4, 10.0);
	struct sess *a = sess_create(st, 0, 0.0);
	assert_non_null(a);
	char id[SESS_ID_LEN + 1];
	memcpy(id, a->id, sizeof(id));
	struct engine_session conv;
	engine_session_init(&conv, 1);
	conv.nturns = 4;
	assert_null(sess_adopt(st, id, &conv, 1.0)); /* attached */
	sess_detach(st, a, 1.0);
	assert_null(sess_adopt(st, id, &conv, 5.0)); /* idle, within its TTL */
	struct sess *b = sess_adopt(st, id, &conv, 12.0);
	assert_non_null(b);
	assert_int_equal(b->conv.nturns, 4);
	assert_int_equal(sess_count(st), 1);
	assert_ptr_equal(sess_find(st, id, 12.0), b);
	sess_detach(st, b, 13.0);
	assert_int_equal(sess_expire(st, 30.0), 1);
	assert_int_equal(sess_count(st), 0);
	sess_store_free(st);
}

/* A hash as Redis keeps it, for the stored form: what each save wrote. */
struct hash {
	size_t n;
	char name[8][8];
	char value[8][SESS_REPLY_BYTES + 64];
	size_t len[8];
};

/* Writes a save's fields into h as the save script does: a whole one in
 * place of all h held, another over it. */
static void hash_write(struct hash *h, const struct sess_stored *f)
{
	if (f->whole)
		h->n = 0;
	for (size_t i = 0; i < f->n; i++) {
		size_t k = 0;
		while (k < h->n && strcmp(h->name[k], f->name[i]) != 0)
			k++;
		assert_true(k < 8 && f->len[i] <= sizeof(h->value[k]));
		if (k == h->n)
			snprintf(h->name[h->n++], sizeof(h->name[0]), "%s", f->name[i]);
		memcpy(h->value[k], f->value[i], f->len[i]);
		h->len[k] = f->len[i];
	}
}

/* Reads h back as a load does. */
static void hash_read(struct sess *s, const struct hash *h, size_t max_frame)
{
	struct sess_stored f = { 0 };
	for (size_t i = 0; i < h->n && i < SESS_STORED_FIELDS; i++) {
		f.name[f.n] = h->name[i];
		f.value[f.n] = h->value[i];
		f.len[f.n++] = h->len[i];
	}
	sess_replies_unpack(s, &f, max_frame);
}

static bool saved_whole; /* the last save was */

/* Saves s's replies into h: whole, or what changed. Returns the number
 * of fields written. */
static size_t save(struct sess *s, struct hash *h, bool whole)
{
	struct sess_stored f;
	assert_int_equal(sess_replies_pack(s, whole, &f), 0);
	assert_true(f.whole || !whole);
	saved_whole = f.whole;
	hash_write(h, &f);
	size_t n = f.n;
	sess_stored_free(&f);
	return n;
}

static void assert_kept(const struct sess *s, uint64_t hash, const char *frame)
{
	const struct sess_reply *r = sess_kept_reply(s, hash);
	assert_non_null(r);
	assert_int_equal(r->len, strlen(frame));
	assert_memory_equal(r->frame, frame, r->len);
}

/* The last SESS_REPLIES replies are kept, the oldest making room. Their
 * stored form reads back to the same, in the same order; a turn's save
 * writes only what changed, and over what was stored it reads back the
 * same too. */
static void test_kept_replies(void **state)
{
	(void)state;
	struct sess_store *st = sess_store_new(2, 10.0);
	struct sess *a = sess_create(st, 0, 0.0);
	struct sess *b = sess_create(st, 0, 0.0);
	assert_non_null(a);
	assert_non_null(b);
	static struct hash h;
	char frame[32];
	for (uint64_t m = 1; m <= SESS_REPLIES + 1; m++) {
		snprintf(frame, sizeof(frame), "reply %d", (int)m);
		assert_int_equal(sess_keep_reply(a, m, frame, strlen(frame)), 0);
	}
	assert_null(sess_kept_reply(a, 1)); /* the oldest made room */
	assert_kept(a, 2, "reply 2");
	assert_null(sess_kept_reply(a, 99));

	/* A new conversation's save of what changed is all there is: whole. */
	assert_int_equal(save(a, &h, false), 1 + SESS_REPLIES);
	assert_true(saved_whole);
	assert_int_equal(save(a, &h, true), 1 + SESS_REPLIES);
	hash_read(b, &h, 64);
	for (uint64_t m = 2; m <= SESS_REPLIES + 1; m++) {
		snprintf(frame, sizeof(frame), "reply %d", (int)m);
		assert_kept(b, m, frame);
	}
	/* Nothing changed since: a turn's save writes nothing. */
	assert_int_equal(save(a, &h, false), 0);

	/* Message 1, whose reply was pushed out, sent again and decided
	 * again: its new reply pushes out none of those kept, in a or in b,
	 * which knows it from the stored form; nothing changes. */
	assert_int_equal(sess_keep_reply(a, 1, "again", 5), 0);
	assert_int_equal(sess_keep_reply(b, 1, "again", 5), 0);
	assert_null(sess_kept_reply(a, 1));
	assert_null(sess_kept_reply(b, 1));
	assert_kept(a, 2, "reply 2");
	assert_kept(b, 2, "reply 2");
	assert_int_equal(save(a, &h, false), 0);

	/* Oldest first: one more new reply in b replaces reply 2, as in a.
	 * Its save writes the ring and that one slot, and what is stored
	 * then reads back as b has it. */
	assert_int_equal(sess_keep_reply(b, 50, "x", 1), 0);
	assert_int_equal(sess_keep_reply(a, 50, "x", 1), 0);
	assert_null(sess_kept_reply(b, 2));
	assert_kept(b, 3, "reply 3");
	assert_int_equal(save(b, &h, false), 2);
	assert_false(saved_whole);
	sess_replies_unpack(a, &(struct sess_stored){ 0 }, 64);
	assert_null(sess_kept_reply(a, 3));
	hash_read(a, &h, 64);
	assert_null(sess_kept_reply(a, 2));
	assert_kept(a, 50, "x");
	assert_kept(a, 5, "reply 5");
	/* ...and goes on in the same order: the next replaces reply 3. */
	assert_int_equal(sess_keep_reply(a, 51, "y", 1), 0);
	assert_null(sess_kept_reply(a, 3));
	assert_kept(a, 4, "reply 4");

	/* Frames no server sends (empty, or past max_frame) are skipped. */
	hash_read(b, &h, 6);
	assert_null(sess_kept_reply(b, 3));
	assert_kept(b, 50, "x");
	assert_int_equal(sess_keep_reply(a, 60, "", 0), 0);
	save(a, &h, false);
	hash_read(b, &h, 64);
	assert_null(sess_kept_reply(b, 60));
	assert_kept(b, 51, "y");

	/* Long replies: older ones go until what is kept fits the budget, the
	 * newest in any case. A save writes the slots let go of, empty. */
	static char big[SESS_REPLY_BYTES / 2 + 1];
	memset(big, 'x', sizeof(big));
	save(a, &h, true);
	assert_int_equal(sess_keep_reply(a, 70, big, sizeof(big)), 0);
	assert_int_equal(sess_keep_reply(a, 71, big, sizeof(big)), 0);
	assert_null(sess_kept_reply(a, 51));
	assert_null(sess_kept_reply(a, 70));
	assert_non_null(sess_kept_reply(a, 71));
	static char huge[SESS_REPLY_BYTES + 1];
	assert_int_equal(sess_keep_reply(a, 72, huge, sizeof(huge)), 0);
	assert_non_null(sess_kept_reply(a, 72));
	assert_null(sess_kept_reply(a, 71));
	/* All that is kept changed: the save is whole, what else Redis had
	 * goes. */
	assert_int_equal(save(a, &h, false), 2);
	assert_true(saved_whole);
	hash_read(b, &h, 2 * SESS_REPLY_BYTES);
	assert_non_null(sess_kept_reply(b, 72));
	for (uint64_t m = 50; m <= 71; m++)
		assert_null(sess_kept_reply(b, m));

	/* None kept: a whole save writes only the ring, which empties
	 * what was stored. */
	sess_replies_unpack(b, &(struct sess_stored){ 0 }, 64);
	assert_int_equal(save(b, &h, true), 1);
	hash_read(a, &h, 64);
	assert_null(sess_kept_reply(a, 72));
	sess_store_free(st);
}

/* Stored fields are not trusted: one of the wrong size, an unknown one, a
 * slot past the ring are none; a ring index out of range wraps; replies
 * over the budget (two instances' writes mixed) keep the newest. */
static void test_stored_replies_untrusted(void **state)
{
	(void)state;
	struct sess_store *st = sess_store_new(1, 10.0);
	struct sess *a = sess_create(st, 0, 0.0);
	assert_non_null(a);
	static char v[3][SESS_REPLY_BYTES];
	char ring[2 + 8 * SESS_SEEN] = { (char)(SESS_REPLIES + 1), 0 };
	uint64_t m = 7;
	memcpy(v[0], &m, 8);
	memset(v[0] + 8, 'a', SESS_REPLY_BYTES - 8);
	m = 8;
	memcpy(v[1], &m, 8);
	memset(v[1] + 8, 'b', SESS_REPLY_BYTES - 8);
	m = 9;
	memcpy(v[2], &m, 8);
	memcpy(v[2] + 8, "ok", 2);
	struct sess_stored f = {
		.n = 5,
		.name = { "ring", "0", "1", "4", "2" },
		.value = { ring, v[0], v[1], v[2], v[2] },
		.len = { sizeof(ring), SESS_REPLY_BYTES, SESS_REPLY_BYTES, 10, 8 },
	};
	sess_replies_unpack(a, &f, SESS_REPLY_BYTES);
	/* The ring, wrapped, says slot 1 comes next: slot 0 is the newest,
	 * and slot 1, the oldest, goes. */
	assert_non_null(sess_kept_reply(a, 7));
	assert_null(sess_kept_reply(a, 8));
	assert_null(sess_kept_reply(a, 9));
	assert_int_equal(a->reply_next, 1);
	/* A ring of the wrong size is ignored; slot 1 now holds one byte,
	 * and both fit. */
	f.len[0] = sizeof(ring) - 1;
	f.len[2] = 9;
	sess_replies_unpack(a, &f, SESS_REPLY_BYTES);
	assert_int_equal(a->reply_next, 0);
	assert_non_null(sess_kept_reply(a, 7));
	assert_non_null(sess_kept_reply(a, 8));
	sess_store_free(st);
}

/* A full store drops the conversation whose last connection left longest
 * ago; one resumed meanwhile is in use, so the next oldest goes. */
static void test_full_store_evicts_longest_idle(void **state)
{
	(void)state;
	struct sess_store *st = sess_store_new(3, 1000.0);
	struct sess *s[3];
	char ids[3][SESS_ID_LEN + 1];
	for (int i = 0; i < 3; i++) {
		assert_non_null(s[i] = sess_create(st, 0, 0.0));
		memcpy(ids[i], s[i]->id, SESS_ID_LEN + 1);
	}
	sess_detach(st, s[1], 1.0);
	sess_detach(st, s[0], 2.0);
	sess_detach(st, s[2], 3.0);
	assert_ptr_equal(sess_resume(st, ids[1], 4.0), s[1]);
	struct sess *d = sess_create(st, 0, 5.0);
	assert_non_null(d);
	assert_int_equal(sess_count(st), 3);
	assert_null(sess_resume(st, ids[0], 6.0)); /* the longest idle: gone */
	assert_ptr_equal(sess_resume(st, ids[2], 6.0), s[2]);
	/* Now every conversation has a connection: no room. */
	assert_null(sess_create(st, 0, 7.0));
	assert_int_equal(sess_count(st), 3);
	sess_store_free(st);
}

/* Two connections on one conversation: it is idle only once both left. */
static void test_idle_after_last_connection(void **state)
{
	(void)state;
	struct sess_store *st = sess_store_new(2, 1000.0);
	struct sess *a = sess_create(st, 0, 0.0);
	struct sess *b = sess_create(st, 0, 0.0);
	char ida[SESS_ID_LEN + 1];
	memcpy(ida, a->id, sizeof(ida));
	assert_ptr_equal(sess_resume(st, ida, 1.0), a);
	sess_detach(st, b, 2.0);
	sess_detach(st, a, 3.0); /* a still has a connection */
	assert_non_null(sess_create(st, 0, 4.0)); /* so b goes */
	assert_ptr_equal(sess_resume(st, ida, 4.0), a);
	sess_detach(st, a, 5.0);
	sess_detach(st, a, 6.0);
	sess_detach(st, a, 7.0); /* one detach too many: a stays idle, since 7 s */
	assert_non_null(sess_create(st, 0, 8.0)); /* now a goes */
	assert_null(sess_resume(st, ida, 9.0));
	sess_store_free(st);
}

/* Expiry drops what is past its TTL, in any number, and nothing else;
 * a full store uses it before evicting a live conversation. */
static void test_expiry(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct sess_store *st = sess_store_new(N, 10.0);
	static char ids[N][SESS_ID_LEN + 1];
	for (int i = 0; i < N; i++) {
		struct sess *s = sess_create(st, 0, 0.0);
		assert_non_null(s);
		memcpy(ids[i], s->id, SESS_ID_LEN + 1);
		/* Even ones left at 1 s, odd ones stay attached. */
		if (i % 2 == 0)
			sess_detach(st, s, 1.0);
	}
	assert_int_equal(sess_expire(st, 10.5), 0);
	assert_int_equal(sess_expire(st, 11.5), N / 2);
	assert_int_equal(sess_count(st), N / 2);
	for (int i = 0; i < N; i += 2)
		assert_null(sess_resume(st, ids[i], 12.0));
	/* Full again; one idle since 20 s is past its TTL at 31 s, so it
	 * goes rather than the one idle since 25 s. */
	for (int i = 0; i < N / 2; i++)
		assert_non_null(sess_create(st, 0, 12.0));
	struct sess *x = sess_resume(st, ids[1], 13.0);
	struct sess *y = sess_resume(st, ids[3], 13.0);
	assert_non_null(x);
	assert_non_null(y);
	sess_detach(st, x, 13.5);
	sess_detach(st, x, 20.0);
	sess_detach(st, y, 13.5);
	sess_detach(st, y, 25.0);
	assert_non_null(sess_create(st, 0, 31.0));
	assert_null(sess_resume(st, ids[1], 31.0));
	assert_ptr_equal(sess_resume(st, ids[3], 31.0), y);
	sess_store_free(st);
}

/* A reload visits every session held, in use, idle or past its TTL but
 * not yet dropped, each once; one dropped is not visited. */
struct visits {
	struct sess *seen[3000];
	unsigned n;
};

static void record_visit(struct sess *s, void *arg)
{
	struct visits *v = arg;
	if (v->n < 3000)
		v->seen[v->n] = s;
	v->n++;
}

static int by_address(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(struct sess *const *)a, y = (uintptr_t)*(struct sess *const *)b;
	return x < y ? -1 : x > y;
}

static void test_each_visits_every_session_once(void **state)
{
	(void)state;
	struct sess_store *st = sess_store_new(4096, 10.0);
	assert_non_null(st);
	/* More sessions than buckets, so chains are walked too. */
	enum { N = 3000 };
	static struct sess *s[N];
	for (int i = 0; i < N; i++) {
		assert_non_null(s[i] = sess_create(st, 0, 0.0));
		if (i % 2)
			sess_detach(st, s[i], 1.0);
	}
	static struct visits v;
	sess_each(st, record_visit, &v);
	assert_int_equal(v.n, N);
	qsort(v.seen, N, sizeof(v.seen[0]), by_address);
	qsort(s, N, sizeof(s[0]), by_address);
	assert_memory_equal(v.seen, s, sizeof(s));
	/* Past the TTL the idle half is dropped, and no longer visited. */
	assert_int_equal(sess_expire(st, 100.0), N / 2);
	v.n = 0;
	sess_each(st, record_visit, &v);
	assert_int_equal(v.n, N / 2);
	sess_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume_within_ttl),
		cmocka_unit_test(test_find_and_replace),
		cmocka_unit_test(test_kept_replies),
		cmocka_unit_test(test_stored_replies_untrusted),
		cmocka_unit_test(test_adopt_over_expired),
		cmocka_unit_test(test_full_store_evicts_longest_idle),
		cmocka_unit_test(test_idle_after_last_connection),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_each_visits_every_session_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
