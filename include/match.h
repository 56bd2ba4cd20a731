/* match: finds every occurrence of a set of strings in one pass
 * (Aho-Corasick automaton over bytes), and looks words up with one typo
 * allowed (a deletion-neighbourhood index). Both are built once at load and
 * then read-only, so one automaton serves any number of threads. */
#ifndef AUTOASSIST_MATCH_H
#define AUTOASSIST_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct match_hit {
	uint32_t pat;        /* pattern id from match_add */
	uint32_t start, end; /* byte span in the scanned text */
};

struct match;

/* Creates an empty set. Returns NULL when memory is short. Free it with
 * match_free. */
struct match *match_new(void);
void match_free(struct match *m);

/* Adds a pattern (copied). Returns its id, the same id for a string added
 * before, or -1 when memory is short or the set is already built. */
int match_add(struct match *m, const char *s, size_t len);

/* The pattern's length in bytes. */
uint32_t match_pat_len(const struct match *m, uint32_t pat);

/* The pattern's bytes (match_pat_len of them, not NUL-terminated), owned
 * by the set, or NULL for an id it does not hold. */
const char *match_pat(const struct match *m, uint32_t pat);

/* Adds a word to the typo index under id (a pattern id or any number the
 * caller chooses). Returns 0 or -1 when memory is short. */
int match_typo_add(struct match *m, const char *word, size_t len, uint32_t id);

/* Compiles the automaton and the typo index; no more adds after it.
 * Returns 0 or -1 when memory is short. */
int match_build(struct match *m);

/* Scans text and writes up to cap hits, in order of their end. Returns the
 * number of hits found, which may exceed cap (the rest are dropped). Never
 * allocates. */
size_t match_scan(const struct match *m, const char *text, size_t len,
		  struct match_hit *hits, size_t cap);

/* Writes up to cap ids of typo-index words within one edit (insertion,
 * deletion, substitution or swap of neighbours) of word, the word itself
 * excluded. Returns how many were written. Never allocates. */
size_t match_typo_find(const struct match *m, const char *word, size_t len,
		       uint32_t *ids, size_t cap);

/* Whether a and b differ by exactly one insertion, deletion, substitution
 * or swap of neighbours (false when they are equal). */
bool match_one_edit(const char *a, size_t la, const char *b, size_t lb);

/* Whether a and b, of n bytes each, differ by two neighbours swapped
 * ("erorr", "error"), and by nothing else. */
bool match_swapped(const char *a, const char *b, size_t n);

/* Bytes held by the compiled automaton and index. */
size_t match_memory(const struct match *m);

#endif
