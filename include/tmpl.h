/* tmpl: reply templates per language, loaded from templates/<lang>.txt and
 * compiled into literal segments and placeholders, so rendering is a series
 * of copies. Values are inserted literally: customer text is never read as
 * a template. */
#ifndef AUTOASSIST_TMPL_H
#define AUTOASSIST_TMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slot.h"

enum tmpl_var {
	TMPL_DATE,
	TMPL_REGISTRY_DATE,
	TMPL_ADDRESS,
	TMPL_METER,
	TMPL_TOPICS,
	TMPL_TICKET,
	TMPL_INTENTS,
	TMPL_LOOKUP,
	TMPL_NVARS,
};

/* Values for the placeholders; NULL renders as nothing. */
struct tmpl_vars {
	const char *v[TMPL_NVARS];
};

struct tmpl_set;

/* Loads templates/<code>.txt for each of the n language codes. Every file
 * must define the same keys, 12 months and a date format. Returns the set
 * (free with tmpl_free) or NULL with a sentence naming file and line in err. */
struct tmpl_set *tmpl_load(const char *dir, const char *const *codes, size_t n,
			   char *err, size_t errlen);
void tmpl_free(struct tmpl_set *t);

/* The id of key (the same in every language), or -1 when no file has it. */
int tmpl_find(const struct tmpl_set *t, const char *key);

/* A bit (1 << enum tmpl_var) for each placeholder key id uses in any
 * language. */
uint32_t tmpl_vars_used(const struct tmpl_set *t, int id);

/* The name of placeholder v as templates write it ("Date" for [Date]), or
 * "?" for none. The string is static. */
const char *tmpl_var_name(enum tmpl_var v);

/* Appends template id of language lang, with vars filled in, to
 * out[*len..cap), keeping out NUL-terminated. Returns 0, or -1 when it does
 * not fit (out then holds as much as fits). */
int tmpl_render(const struct tmpl_set *t, int lang, int id,
		const struct tmpl_vars *vars, char *out, size_t cap, size_t *len);

/* The template's text with the placeholders as written, or NULL. */
const char *tmpl_text(const struct tmpl_set *t, int lang, int id);

/* Writes d in the language's date format. Returns the length, or -1 when
 * it does not fit. */
int tmpl_date(const struct tmpl_set *t, int lang, struct slot_date d,
	      char *out, size_t cap);

size_t tmpl_memory(const struct tmpl_set *t);

#endif
