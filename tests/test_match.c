/* Tests for match: every occurrence found in one pass, overlapping ones
 * included, and the one-typo lookup neither too loose nor too strict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "match.h"

static struct match *build(const char *const *pats, size_t n)
{
	struct match *m = match_new();
	assert_non_null(m);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(match_add(m, pats[i], strlen(pats[i])), (int)i);
	assert_int_equal(match_build(m), 0);
	return m;
}

static void test_finds_all_occurrences(void **state)
{
	(void)state;
	const char *pats[] = { "he", "she", "his", "hers", "solar panel" };
	struct match *m = build(pats, 5);
	const char *text = "ushers with a solar panel";
	struct match_hit hits[16];
	size_t n = match_scan(m, text, strlen(text), hits, 16);
	/* "she", "he" and "hers" overlap inside "ushers". */
	assert_int_equal(n, 4);
	int seen[5] = { 0 };
	for (size_t i = 0; i < n; i++) {
		seen[hits[i].pat]++;
		assert_memory_equal(text + hits[i].start, pats[hits[i].pat],
				    hits[i].end - hits[i].start);
	}
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 0);
	assert_int_equal(seen[3], 1);
	assert_int_equal(seen[4], 1);
	match_free(m);
}

static void test_duplicates_share_an_id(void **state)
{
	(void)state;
	struct match *m = match_new();
	assert_int_equal(match_add(m, "abc", 3), 0);
	assert_int_equal(match_add(m, "abd", 3), 1);
	assert_int_equal(match_add(m, "abc", 3), 0);
	assert_int_equal(match_add(m, "", 0), -1);
	assert_int_equal(match_build(m), 0);
	assert_int_equal(match_add(m, "new", 3), -1);
	assert_int_equal(match_pat_len(m, 1), 3);
	match_free(m);
}

static void test_hits_beyond_cap_are_counted(void **state)
{
	(void)state;
	const char *pats[] = { "a" };
	struct match *m = build(pats, 1);
	struct match_hit hits[2];
	assert_int_equal(match_scan(m, "aaaaa", 5, hits, 2), 5);
	assert_int_equal(hits[1].start, 1);
	match_free(m);
}

/* A small deterministic generator, so a failure repeats. */
static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* npats random patterns of up to 12 bytes (exactly 12 when long) against a
 * naive search over ntexts texts: the same number of hits, each a real
 * occurrence, none twice, in order of their end. The texts are runs of
 * patterns with bytes changed, dropped and inserted, so the scan goes deep
 * into the automaton and falls back from there often. Their lengths take
 * each of the scan's ways in turn: one pass under 32 bytes, two halves at
 * once up to 1,024, one pass again beyond. */
static void agrees_with_naive_search(size_t npats_added, size_t ntexts, bool long_pats)
{
	enum { NPATS_MAX = 8000, TEXT_MAX = 1100, HITS_MAX = 4096 };
	static char pats[NPATS_MAX][12];
	static uint32_t plen[NPATS_MAX];
	static struct match_hit hits[HITS_MAX];
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz \xc3\xa9";
	const size_t nalpha = sizeof(alpha) - 1;
	uint32_t x = 2463534242u;
	uint32_t npats = 0; /* distinct ones: pats[id] is pattern id */
	struct match *m = match_new();
	assert_non_null(m);
	assert_true(npats_added <= NPATS_MAX);
	for (size_t i = 0; i < npats_added; i++) {
		char p[12];
		uint32_t len = long_pats ? 12 : 1 + rnd(&x) % 12;
		for (uint32_t k = 0; k < len; k++)
			p[k] = alpha[rnd(&x) % nalpha];
		int id = match_add(m, p, len);
		assert_true(id >= 0 && (uint32_t)id <= npats);
		if ((uint32_t)id == npats) {
			memcpy(pats[npats], p, len);
			plen[npats++] = len;
		}
	}
	assert_int_equal(match_build(m), 0);
	for (size_t t = 0; t < ntexts; t++) {
		static char text[TEXT_MAX];
		const size_t lens[] = { 1 + rnd(&x) % 31, 32 + rnd(&x) % 209, 1025 + rnd(&x) % 76 };
		const size_t want_len = lens[t % 3];
		size_t len = 0;
		while (len < want_len) {
			const uint32_t p = rnd(&x) % npats;
			for (uint32_t k = 0; k < plen[p] && len < want_len; k++) {
				uint32_t r = rnd(&x) % 16;
				if (r == 0)
					continue;
				text[len++] = r == 1 ? alpha[rnd(&x) % nalpha] : pats[p][k];
				if (r == 2 && len < want_len)
					text[len++] = 'q';
			}
		}
		size_t want = 0;
		for (size_t end = 1; end <= len; end++)
			for (uint32_t p = 0; p < npats; p++)
				want += plen[p] <= end &&
					memcmp(text + end - plen[p], pats[p], plen[p]) == 0;
		size_t n = match_scan(m, text, len, hits, HITS_MAX);
		assert_true(n <= HITS_MAX);
		assert_int_equal(n, want);
		for (size_t h = 0; h < n; h++) {
			const struct match_hit *a = &hits[h];
			assert_true(a->pat < npats);
			assert_int_equal(a->end - a->start, plen[a->pat]);
			assert_true(a->end <= len);
			assert_memory_equal(text + a->start, pats[a->pat], plen[a->pat]);
			if (h > 0)
				assert_true(hits[h - 1].end <= a->end);
			for (size_t k = 0; k < h; k++)
				assert_false(hits[k].end == a->end && hits[k].pat == a->pat);
		}
	}
	match_free(m);
}

/* Thousands of patterns, deep rows and many fallbacks: 16-bit states. */
static void test_agrees_with_naive_search(void **state)
{
	(void)state;
	agrees_with_naive_search(1500, 60, false);
}

/* 8,000 patterns of 12 random bytes make some 75,000 states, more than 16
 * bits number: the automaton's wide table. */
static void test_agrees_with_naive_search_wide(void **state)
{
	(void)state;
	agrees_with_naive_search(8000, 12, true);
}

static void test_typo_lookup(void **state)
{
	(void)state;
	struct match *m = match_new();
	assert_int_equal(match_typo_add(m, "contract", 8, 7), 0);
	assert_int_equal(match_typo_add(m, "address", 7, 9), 0);
	assert_int_equal(match_build(m), 0);
	uint32_t ids[4];
	static const struct { const char *word; int id; } cases[] = {
		{ "contarct", 7 },  /* swapped neighbours */
		{ "contrct", 7 },   /* dropped letter */
		{ "conttract", 7 }, /* added letter */
		{ "kontract", 7 },  /* changed letter */
		{ "adress", 9 },
		{ "contract", -1 }, /* exact is not a typo */
		{ "cntrct", -1 },   /* two edits */
		{ "tcartnoc", -1 },
		{ "addresses", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = match_typo_find(m, cases[i].word, strlen(cases[i].word), ids, 4);
		if (cases[i].id < 0) {
			if (n != 0)
				fail_msg("%s: expected no match", cases[i].word);
		} else if (n != 1 || ids[0] != (uint32_t)cases[i].id) {
			fail_msg("%s: expected id %d, got %zu matches", cases[i].word, cases[i].id, n);
		}
	}
	match_free(m);
}

/* 3,700 random words, some 31,000 deletion variants: the index is nearly
 * half full, so some groups of slots are full and probes go on past them
 * (stopping at the first group, the test fails). Every lookup, of a word
 * one edit from one in the index or of a random one, finds what comparing
 * it with each word finds. */
static void test_typo_agrees_with_every_word_compared(void **state)
{
	(void)state;
	enum { NWORDS = 3700, NQUERIES = 3000, CAP = 64 };
	static char words[NWORDS][10];
	static uint32_t wlen[NWORDS];
	static const char alpha[] = "abcdefgh";
	uint32_t x = 88172645u;
	struct match *m = match_new();
	assert_non_null(m);
	for (uint32_t w = 0; w < NWORDS; w++) {
		wlen[w] = 5 + rnd(&x) % 6;
		for (uint32_t k = 0; k < wlen[w]; k++)
			words[w][k] = alpha[rnd(&x) % 8];
		assert_int_equal(match_typo_add(m, words[w], wlen[w], w), 0);
	}
	assert_int_equal(match_build(m), 0);
	for (uint32_t q = 0; q < NQUERIES; q++) {
		char word[12];
		size_t len;
		if (q % 2) {
			len = 4 + rnd(&x) % 8;
			for (size_t k = 0; k < len; k++)
				word[k] = alpha[rnd(&x) % 8];
		} else {
			/* One edit of a word in the index: changed, dropped or added. */
			const uint32_t w = rnd(&x) % NWORDS;
			const uint32_t at = rnd(&x) % wlen[w];
			memcpy(word, words[w], wlen[w]);
			len = wlen[w];
			switch (rnd(&x) % 3) {
			case 0:
				word[at] = alpha[rnd(&x) % 8];
				break;
			case 1:
				memmove(word + at, word + at + 1, len - at - 1);
				len--;
				break;
			default:
				memmove(word + at + 1, word + at, len - at);
				word[at] = alpha[rnd(&x) % 8];
				len++;
			}
		}
		bool want[NWORDS] = { false };
		size_t nwant = 0;
		for (uint32_t w = 0; w < NWORDS; w++)
			nwant += want[w] = match_one_edit(word, len, words[w], wlen[w]);
		assert_true(nwant <= CAP);
		uint32_t ids[CAP];
		size_t n = match_typo_find(m, word, len, ids, CAP);
		assert_int_equal(n, nwant);
		for (size_t k = 0; k < n; k++) {
			assert_true(ids[k] < NWORDS && want[ids[k]]);
			want[ids[k]] = false; /* each once */
		}
	}
	match_free(m);
}

static void test_empty_set_scans_nothing(void **state)
{
	(void)state;
	struct match *m = match_new();
	assert_int_equal(match_build(m), 0);
	struct match_hit h[1];
	assert_int_equal(match_scan(m, "anything", 8, h, 1), 0);
	uint32_t ids[1];
	assert_int_equal(match_typo_find(m, "anything", 8, ids, 1), 0);
	assert_true(match_memory(m) > 0);
	match_free(m);
}

/* Two neighbours swapped, and nothing else: the one typo a symptom word
 * is looked up with. */
static void test_swapped(void **state)
{
	(void)state;
	static const struct {
		const char *a, *b;
		bool want;
	} cases[] = {
		{ "erorr", "error", true },       { "dispaly", "display", true },
		{ "rerro", "error", false },      /* the ends swapped with the middle */
		{ "error", "error", false },      /* equal */
		{ "errox", "error", false },      /* changed, not swapped */
		{ "eorrr", "error", false },      /* two apart */
		{ "bacd", "abcd", true },         { "abdc", "abcd", true },
		{ "badc", "abcd", false },        /* two swaps */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].a);
		if (match_swapped(cases[i].a, cases[i].b, n) != cases[i].want)
			fail_msg("match_swapped(\"%s\", \"%s\") is not %d", cases[i].a, cases[i].b,
				 cases[i].want);
		/* Each such pair is one edit too. */
		if (cases[i].want)
			assert_true(match_one_edit(cases[i].a, n, cases[i].b, n));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_all_occurrences),
		cmocka_unit_test(test_duplicates_share_an_id),
		cmocka_unit_test(test_hits_beyond_cap_are_counted),
		cmocka_unit_test(test_agrees_with_naive_search),
		cmocka_unit_test(test_agrees_with_naive_search_wide),
		cmocka_unit_test(test_typo_lookup),
		cmocka_unit_test(test_typo_agrees_with_every_word_compared),
		cmocka_unit_test(test_empty_set_scans_nothing),
		cmocka_unit_test(test_swapped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
