/* match: Aho-Corasick automaton and typo index. See include/match.h.
 *
 * The automaton is compiled into a full transition table over byte classes:
 * only bytes that occur in some pattern get a class of their own, every
 * other byte shares class 0 (39 classes for the intents' 3,600 keywords).
 * A scan is then one table load per input byte, and those loads, one
 * waiting for the other, are most of its time: the table holds 16-bit
 * states while there are at most 65,535 of them (24,000 for the intents),
 * 1.8 MiB where 32 bits took 3.7, so more of it stays in the core's cache,
 * and a text is scanned as two halves at once (scan_halves). */
#include "match.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define NO_PAT UINT32_MAX

/* Texts of this many bytes are scanned as two halves at once: below it the
 * halves are a word or two, and carrying the first half's chain on until
 * the two agree may walk most of the second; the upper bound is the stack
 * the second half's states take. */
#define HALVES_MIN 32
#define HALVES_MAX 1024

struct pat {
	uint32_t off, len; /* in m->strs */
};

struct typo_slot {
	uint64_t key; /* hash of a deletion variant */
	uint32_t word; /* index into m->twords */
};

struct tword {
	uint32_t off, len; /* in m->strs */
	uint32_t id;
};

struct match {
	/* Patterns and typo words, stored back to back in strs. */
	struct buf_strs strs;
	struct pat *pats;
	uint32_t npats, pats_cap;
	struct tword *twords;
	uint32_t ntwords, twords_cap;

	/* The compiled automaton. */
	bool built;
	uint8_t cls[256];
	uint32_t nclasses;
	uint32_t nstates;
	/* nstates * nclasses next states: one of the two, 16 bits wide while
	 * the states fit (see the top of the file). */
	uint16_t *delta16;
	uint32_t *delta32;
	uint64_t *outbits; /* bit per state: it reports matches */
	uint32_t *own;     /* pattern ending exactly at the state, or NO_PAT */
	uint32_t *dict;    /* nearest suffix state with a pattern, or 0 */

	/* The typo index: open addressing, power-of-two size, slots in
	 * groups of GROUP. tag[i] is a byte of typo[i].key (0 for an empty
	 * slot): most words looked up are in no keyword's neighbourhood, and
	 * their probes end in tag, a sixteenth of the index's size, which
	 * stays in the core's cache. */
	struct typo_slot *typo;
	uint8_t *tag;
	uint32_t typo_groups_mask;
};

struct match *match_new(void)
{
	return calloc(1, sizeof(struct match));
}

void match_free(struct match *m)
{
	if (!m)
		return;
	free(m->strs.s);
	free(m->pats);
	free(m->twords);
	free(m->delta16);
	free(m->delta32);
	free(m->outbits);
	free(m->own);
	free(m->dict);
	free(m->typo);
	free(m->tag);
	free(m);
}

int match_add(struct match *m, const char *s, size_t len)
{
	if (m->built || len == 0 || len > UINT32_MAX / 2)
		return -1;
	/* Loading is not the hot path; a linear search keeps ids stable and
	 * the code short for a few thousand patterns. */
	for (uint32_t i = 0; i < m->npats; i++)
		if (m->pats[i].len == len &&
		    memcmp(m->strs.s + m->pats[i].off, s, len) == 0)
			return (int)i;
	void *pats = m->pats;
	uint32_t off;
	int grown = buf_grow(&pats, &m->pats_cap, m->npats + 1, sizeof(*m->pats));
	m->pats = pats;
	if (grown < 0 || buf_strs_add(&m->strs, s, len, &off) < 0)
		return -1;
	m->pats[m->npats] = (struct pat){ off, (uint32_t)len };
	return (int)m->npats++;
}

uint32_t match_pat_len(const struct match *m, uint32_t pat)
{
	return pat < m->npats ? m->pats[pat].len : 0;
}

const char *match_pat(const struct match *m, uint32_t pat)
{
	return pat < m->npats ? m->strs.s + m->pats[pat].off : NULL;
}

int match_typo_add(struct match *m, const char *word, size_t len, uint32_t id)
{
	if (m->built || len == 0 || len > 255)
		return -1;
	void *twords = m->twords;
	uint32_t off;
	int grown = buf_grow(&twords, &m->twords_cap, m->ntwords + 1, sizeof(*m->twords));
	m->twords = twords;
	if (grown < 0 || buf_strs_add(&m->strs, word, len, &off) < 0)
		return -1;
	m->twords[m->ntwords++] = (struct tword){ off, (uint32_t)len, id };
	return 0;
}

#define HASH_BASE 0x100000001b3ULL

static uint64_t fmix(uint64_t h, size_t len)
{
	h ^= (uint64_t)len * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Writes the hashes of s with each byte left out (out[k], k < len) and of
 * s itself (out[len]), in O(len): a polynomial hash of a string with one
 * byte removed is the prefix's hash shifted past the suffix, plus the
 * suffix's. */
static void deletion_hashes(const char *s, size_t len, uint64_t *out)
{
	uint64_t pre[256], suf[257], pw[256];
	const unsigned char *u = (const unsigned char *)s;
	pre[0] = 0;
	pw[0] = 1;
	for (size_t i = 1; i < len; i++) {
		pre[i] = pre[i - 1] * HASH_BASE + u[i - 1];
		pw[i] = pw[i - 1] * HASH_BASE;
	}
	suf[len] = 0;
	uint64_t p = 1;
	for (size_t i = len; i-- > 0;) {
		suf[i] = u[i] * p + suf[i + 1];
		p *= HASH_BASE;
	}
	for (size_t k = 0; k < len; k++)
		out[k] = fmix(pre[k] * pw[len - 1 - k] + suf[k + 1], len - 1);
	out[len] = fmix(suf[0], len);
}

/* The tag byte of a key: its top bits, which the slot's index (its low
 * bits) does not already tell; never 0. */
static uint8_t tag_of(uint64_t key)
{
	return (uint8_t)(key >> 56) | 1;
}

/* A key's probes go from group to group, and a group's eight tags are
 * read and compared as one word: a probe tests them all at once, and goes
 * on to the next group only from a full one. Slot by slot, whether the
 * next slot was taken was a coin toss to the branch predictor at the
 * index's half load, and most words looked up paid it several times. */
#define GROUP 8
#define BYTES_01 0x0101010101010101ull
#define BYTES_80 0x8080808080808080ull

/* Group g's tags, slot j's in byte j (bits 8j to 8j + 7). */
static uint64_t group_tags(const struct match *m, uint32_t g)
{
	uint64_t w;
	memcpy(&w, m->tag + (size_t)g * GROUP, sizeof(w));
	return le64toh(w);
}

/* Marks each byte of w that is b with its top bit. The subtraction's
 * borrow may also mark a byte just above one that is b, so only the lowest
 * mark is sure: the mask is not 0 exactly when some byte is b, its lowest
 * mark is such a byte, and the callers check the key behind any other. */
static uint64_t bytes_equal(uint64_t w, uint8_t b)
{
	uint64_t x = w ^ (BYTES_01 * b);
	return (x - BYTES_01) & ~x & BYTES_80;
}

static uint32_t slot_of(uint32_t g, uint64_t marked)
{
	return g * GROUP + (uint32_t)__builtin_ctzll(marked) / 8;
}

static void typo_put(struct match *m, uint64_t key, uint32_t word)
{
	uint8_t tag = tag_of(key);
	for (uint32_t g = (uint32_t)key & m->typo_groups_mask;; g = (g + 1) & m->typo_groups_mask) {
		uint64_t w = group_tags(m, g);
		for (uint64_t same = bytes_equal(w, tag); same; same &= same - 1) {
			uint32_t i = slot_of(g, same);
			if (m->typo[i].key == key && m->typo[i].word == word)
				return;
		}
		uint64_t empty = bytes_equal(w, 0);
		if (empty) {
			uint32_t i = slot_of(g, empty);
			m->typo[i].key = key;
			m->typo[i].word = word;
			m->tag[i] = tag;
			return;
		}
	}
}

static int build_typo(struct match *m)
{
	size_t entries = 0;
	for (uint32_t w = 0; w < m->ntwords; w++)
		entries += m->twords[w].len + 1;
	uint32_t size = 64;
	while (size < entries * 2)
		size *= 2;
	m->typo = calloc(size, sizeof(*m->typo));
	m->tag = calloc(size, 1);
	if (!m->typo || !m->tag)
		return -1;
	m->typo_groups_mask = size / GROUP - 1;
	for (uint32_t w = 0; w < m->ntwords; w++) {
		uint64_t h[256];
		deletion_hashes(m->strs.s + m->twords[w].off, m->twords[w].len, h);
		for (size_t k = 0; k <= m->twords[w].len; k++)
			typo_put(m, h[k], w);
	}
	return 0;
}

/* Optimal string alignment distance, stopping early. */
bool match_swapped(const char *a, const char *b, size_t n)
{
	size_t i = 0;
	while (i < n && a[i] == b[i])
		i++;
	return i + 1 < n && a[i] == b[i + 1] && a[i + 1] == b[i] &&
	       memcmp(a + i + 2, b + i + 2, n - i - 2) == 0;
}

bool match_one_edit(const char *a, size_t la, const char *b, size_t lb)
{
	if (la > lb + 1 || lb > la + 1)
		return false;
	size_t i = 0;
	while (i < la && i < lb && a[i] == b[i])
		i++;
	if (i == la && i == lb)
		return false; /* equal */
	if (la == lb) {
		if (memcmp(a + i + 1, b + i + 1, la - i - 1) == 0)
			return true; /* substitution */
		return match_swapped(a + i, b + i, la - i);
	}
	if (la > lb)
		return memcmp(a + i + 1, b + i, la - i - 1) == 0;
	return memcmp(a + i, b + i + 1, lb - i - 1) == 0;
}

size_t match_typo_find(const struct match *m, const char *word, size_t len,
		       uint32_t *ids, size_t cap)
{
	size_t n = 0;
	uint64_t h[256];
	if (!m->typo || len == 0 || len > 255)
		return 0;
	deletion_hashes(word, len, h);
	for (size_t v = 0; v <= len; v++) {
		uint64_t key = h[v];
		uint8_t tag = tag_of(key);
		for (uint32_t g = (uint32_t)key & m->typo_groups_mask;; g = (g + 1) & m->typo_groups_mask) {
			uint64_t w = group_tags(m, g);
			for (uint64_t same = bytes_equal(w, tag); same; same &= same - 1) {
				uint32_t i = slot_of(g, same);
				if (m->typo[i].key != key)
					continue;
				const struct tword *tw = &m->twords[m->typo[i].word];
				if (!match_one_edit(word, len, m->strs.s + tw->off, tw->len))
					continue;
				bool dup = false;
				for (size_t k = 0; k < n; k++)
					dup |= ids[k] == tw->id;
				if (!dup && n < cap)
					ids[n++] = tw->id;
			}
			if (bytes_equal(w, 0))
				break;
		}
	}
	return n;
}

int match_build(struct match *m)
{
	if (m->built)
		return 0;
	int rc = -1;
	uint32_t *child = NULL; /* trie edges while building, nstates * nclasses */
	uint32_t *fail = NULL;
	uint32_t *queue = NULL;

	memset(m->cls, 0, sizeof(m->cls));
	m->nclasses = 1;
	size_t total = 1;
	for (uint32_t p = 0; p < m->npats; p++) {
		const unsigned char *s = (const unsigned char *)m->strs.s + m->pats[p].off;
		for (uint32_t i = 0; i < m->pats[p].len; i++)
			if (!m->cls[s[i]])
				m->cls[s[i]] = (uint8_t)m->nclasses++;
		total += m->pats[p].len;
	}
	size_t nc = m->nclasses;
	child = calloc(total * nc, sizeof(uint32_t));
	m->own = malloc(total * sizeof(uint32_t));
	if (!child || !m->own)
		goto free_build;
	for (size_t s = 0; s < total; s++)
		m->own[s] = NO_PAT;

	/* The trie: state 0 is the root, and 0 as a child means "none". */
	uint32_t nstates = 1;
	for (uint32_t p = 0; p < m->npats; p++) {
		const unsigned char *s = (const unsigned char *)m->strs.s + m->pats[p].off;
		uint32_t st = 0;
		for (uint32_t i = 0; i < m->pats[p].len; i++) {
			uint32_t *c = &child[st * nc + m->cls[s[i]]];
			if (!*c)
				*c = nstates++;
			st = *c;
		}
		m->own[st] = p;
	}

	/* Breadth first: fail links, dictionary links, and the full table,
	 * written over the trie edges in place. */
	fail = calloc(nstates, sizeof(uint32_t));
	m->dict = calloc(nstates, sizeof(uint32_t));
	queue = malloc(nstates * sizeof(uint32_t));
	if (!fail || !m->dict || !queue)
		goto free_build;
	uint32_t head = 0, tail = 0;
	for (size_t c = 0; c < nc; c++)
		if (child[c])
			queue[tail++] = child[c];
	while (head < tail) {
		uint32_t st = queue[head++];
		uint32_t f = fail[st];
		m->dict[st] = m->own[f] != NO_PAT ? f : m->dict[f];
		for (size_t c = 0; c < nc; c++) {
			uint32_t *e = &child[(size_t)st * nc + c];
			if (*e) {
				fail[*e] = child[(size_t)f * nc + c];
				queue[tail++] = *e;
			} else {
				*e = child[(size_t)f * nc + c];
			}
		}
	}
	/* Renumber the states breadth first, so the shallow states most
	 * bytes of a message visit share cache lines, and keep only the rows
	 * of states that exist. queue[] holds every state but the root in
	 * that order. */
	uint32_t *newid = fail; /* the fail links are no longer needed */
	newid[0] = 0;
	for (uint32_t k = 0; k < tail; k++)
		newid[queue[k]] = k + 1;
	bool narrow = nstates <= UINT16_MAX;
	if (narrow)
		m->delta16 = malloc((size_t)nstates * nc * sizeof(uint16_t));
	else
		m->delta32 = malloc((size_t)nstates * nc * sizeof(uint32_t));
	m->outbits = calloc((nstates + 63) / 64, sizeof(uint64_t));
	uint32_t *own = malloc((size_t)nstates * sizeof(uint32_t));
	uint32_t *dict = malloc((size_t)nstates * sizeof(uint32_t));
	if ((!m->delta16 && !m->delta32) || !m->outbits || !own || !dict) {
		free(own);
		free(dict);
		goto free_build;
	}
	for (uint32_t old = 0; old < nstates; old++) {
		own[newid[old]] = m->own[old];
		dict[newid[old]] = newid[m->dict[old]];
	}
	for (uint32_t st = 0; st < nstates; st++)
		if (own[st] != NO_PAT || dict[st] != 0)
			m->outbits[st / 64] |= 1ull << (st % 64);
	for (uint32_t old = 0; old < nstates; old++) {
		size_t row = (size_t)newid[old] * nc;
		for (size_t c = 0; c < nc; c++) {
			uint32_t to = newid[child[(size_t)old * nc + c]];
			if (narrow)
				m->delta16[row + c] = (uint16_t)to;
			else
				m->delta32[row + c] = to;
		}
	}
	free(m->own);
	free(m->dict);
	m->own = own;
	m->dict = dict;
	m->nstates = nstates;
	if (build_typo(m) < 0)
		goto free_build;
	m->built = true;
	rc = 0;
free_build:
	free(child);
	free(fail);
	free(queue);
	return rc;
}

/* Writes the hits of the patterns state st reports, which end at byte
 * end, to hits[*n..cap), counting past cap. */
static void report(const struct match *m, uint32_t st, size_t end, struct match_hit *hits,
		   size_t cap, size_t *n)
{
	for (uint32_t t = m->own[st] != NO_PAT ? st : m->dict[st]; t; t = m->dict[t]) {
		if (*n < cap) {
			uint32_t p = m->own[t];
			hits[*n].pat = p;
			hits[*n].end = (uint32_t)end;
			hits[*n].start = (uint32_t)(end - m->pats[p].len);
		}
		(*n)++;
	}
}

static bool reports(const struct match *m, uint32_t st)
{
	return m->outbits[st / 64] >> (st % 64) & 1;
}

/* The state after st on byte c, in the 16-bit table. */
static uint32_t step16(const struct match *m, uint32_t st, unsigned char c)
{
	return m->delta16[st * m->nclasses + m->cls[c]];
}

/* match_scan on the 16-bit table for HALVES_MIN..HALVES_MAX bytes. Each
 * byte's load waits for the last one's, and where the table is out of the
 * cache (in the server, whose network stack runs between two messages)
 * those waits are the scan's time. So the second half is scanned from the
 * root beside the first, a second chain of loads the core waits for at the
 * same time, and its states are kept. The next state depends only on the
 * state and the byte, so once the first half's chain, carried on into the
 * second half, reaches the state kept for a byte, it would go on through
 * the kept states: they are the true ones from there. The two meet within
 * a word or so. The hits are one pass's, in the same order. */
static size_t scan_halves(const struct match *m, const unsigned char *s, size_t len,
			  struct match_hit *hits, size_t cap)
{
	uint16_t kept[HALVES_MAX];
	size_t mid = len / 2, n = 0;
	uint32_t a = 0, b = 0;
	for (size_t i = 0; i < mid; i++) {
		a = step16(m, a, s[i]);
		b = step16(m, b, s[mid + i]);
		kept[mid + i] = (uint16_t)b;
		if (reports(m, a))
			report(m, a, i + 1, hits, cap, &n);
	}
	if (len % 2)
		kept[len - 1] = (uint16_t)step16(m, b, s[len - 1]);
	bool met = false;
	for (size_t i = mid; i < len; i++) {
		if (met) {
			a = kept[i];
		} else {
			a = step16(m, a, s[i]);
			met = a == kept[i];
		}
		if (reports(m, a))
			report(m, a, i + 1, hits, cap, &n);
	}
	return n;
}

size_t match_scan(const struct match *m, const char *text, size_t len,
		  struct match_hit *hits, size_t cap)
{
	if (!m->built || m->npats == 0)
		return 0;
	const unsigned char *s = (const unsigned char *)text;
	const size_t nc = m->nclasses;
	size_t n = 0;
	uint32_t st = 0;
	if (m->delta16 && len >= HALVES_MIN && len <= HALVES_MAX)
		return scan_halves(m, s, len, hits, cap);
	/* One table load per byte; the output tables only on a match. */
	if (m->delta16) {
		for (size_t i = 0; i < len; i++) {
			st = step16(m, st, s[i]);
			if (reports(m, st))
				report(m, st, i + 1, hits, cap, &n);
		}
	} else {
		for (size_t i = 0; i < len; i++) {
			st = m->delta32[st * nc + m->cls[s[i]]];
			if (reports(m, st))
				report(m, st, i + 1, hits, cap, &n);
		}
	}
	return n;
}

size_t match_memory(const struct match *m)
{
	return sizeof(*m) + m->strs.cap + (size_t)m->pats_cap * sizeof(struct pat) +
	       (size_t)m->twords_cap * sizeof(struct tword) +
	       (size_t)m->nstates * m->nclasses * (m->delta16 ? sizeof(uint16_t) : sizeof(uint32_t)) +
	       (size_t)m->nstates * 2 * sizeof(uint32_t) + (m->nstates + 63) / 64 * sizeof(uint64_t) +
	       (m->typo ? (size_t)(m->typo_groups_mask + 1) * GROUP * (sizeof(struct typo_slot) + 1) : 0);
}
