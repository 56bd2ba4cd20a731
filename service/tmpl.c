/* tmpl: reply templates. See include/tmpl.h and templates/README.md. */
#include "tmpl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ld.h"
#include "tok.h"

#define MAX_KEYS 128
#define MAX_LANGS 8
#define MAX_SEGS 32

static const char *const var_names[TMPL_NVARS] = {
	"Date", "RegistryDate", "Address", "Meter", "Topics", "Ticket",
	"Intents", "Lookup",
};

/* Date format pieces beyond the literal text. */
enum { D_D = TMPL_NVARS, D_DD, D_M, D_MM, D_MONTH, D_Y };
static const char *const date_names[] = { "D", "DD", "M", "MM", "Month", "Y" };

struct seg {
	uint16_t off, len; /* literal text in the template */
	int8_t var;        /* enum tmpl_var or D_*, or -1 for literal only */
};

struct tpl {
	char *text;
	struct seg segs[MAX_SEGS];
	uint8_t nsegs;
	uint32_t vars; /* bit per enum tmpl_var used */
};

struct lang {
	struct tpl t[MAX_KEYS];
	char *months[12];
	struct tpl date;
};

struct tmpl_set {
	char *keys[MAX_KEYS];
	int nkeys;
	struct lang *langs;
	size_t nlangs;
	size_t bytes;
};

/* Splits text into literal runs and [Placeholders] of the given names
 * (offset by base in the enum). Brackets around anything else stay
 * literal text, except a capitalised word, which is surely a misspelt
 * placeholder and refused, naming its line: lines[k], the file's line of
 * the text's line k, or with lines NULL the line ld is on. */
static int compile(struct ld_pos *ld, struct tpl *t, const char *const *names,
		   int nnames, int base, const int *lines)
{
	const char *s = t->text;
	size_t lit = 0, i = 0, n = strlen(s);
	if (n > UINT16_MAX)
		return ld_fail(ld, "template too long");
	t->nsegs = 0;
	t->vars = 0;
	while (i <= n) {
		int var = -1;
		size_t adv = 1;
		if (i < n && s[i] == '[') {
			size_t j = i + 1;
			while (j < n && ((s[j] | 0x20) >= 'a' && (s[j] | 0x20) <= 'z'))
				j++;
			if (j < n && s[j] == ']' && j > i + 1) {
				for (int k = 0; k < nnames; k++)
					if (strlen(names[k]) == j - i - 1 &&
					    memcmp(names[k], s + i + 1, j - i - 1) == 0)
						var = base + k;
				if (var < 0 && s[i + 1] >= 'A' && s[i + 1] <= 'Z') {
					/* Name the line the placeholder is on. */
					size_t nl = 0;
					for (size_t k = 0; k < i; k++)
						nl += s[k] == '\n';
					if (lines)
						ld->line = lines[nl];
					return ld_fail(ld, "unknown placeholder %.*s",
						    (int)(j - i + 1), s + i);
				}
				adv = j - i + 1;
			}
		}
		if (var >= 0 || i == n) {
			if (t->nsegs >= MAX_SEGS)
				return ld_fail(ld, "too many placeholders");
			t->segs[t->nsegs++] = (struct seg){
				(uint16_t)lit, (uint16_t)(i - lit), (int8_t)var };
			if (var >= 0 && var < TMPL_NVARS)
				t->vars |= 1u << var;
			lit = i + adv;
			if (i == n)
				break;
		}
		i += adv;
	}
	return 0;
}

/* The id of key; the first language's file (first_code NULL) adds keys,
 * the others may only use them. */
static int key_id(struct tmpl_set *t, struct ld_pos *ld, const char *key, const char *first_code)
{
	int k = tmpl_find(t, key);
	if (k >= 0)
		return k;
	if (first_code)
		return ld_fail(ld, "key [%s] is missing from %s.txt, the first language's file "
			       "(every language's file has the same keys)", key, first_code);
	if (t->nkeys >= MAX_KEYS)
		return ld_fail(ld, "too many keys");
	if (!(t->keys[t->nkeys] = strdup(key)))
		return ld_fail(ld, "out of memory");
	return t->nkeys++;
}

/* The template text being read: its lines joined by '\n', and the file's
 * line number of each, since comment lines are left out. */
struct section {
	char buf[8192];
	size_t len;
	int lines[8192]; /* a line holds one byte at least, its '\n' */
	size_t nlines;
};

/* Ends the section being read: trims blank lines after it and compiles it. */
static int finish(struct tmpl_set *t, struct ld_pos *ld, struct lang *l,
		  int key, struct section *sec)
{
	char *buf = sec->buf;
	size_t len = sec->len;
	if (key < 0)
		return 0;
	/* Blank lines before the text were never joined (load_lang). */
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	if (!len)
		return ld_fail(ld, "[%s] is empty", t->keys[key]);
	if (l->t[key].text)
		return ld_fail(ld, "[%s] defined twice", t->keys[key]);
	l->t[key].text = strndup(buf, len);
	if (!l->t[key].text)
		return ld_fail(ld, "out of memory");
	t->bytes += len + 1;
	int line = ld->line;
	ld->line = sec->lines[0];
	int rc = compile(ld, &l->t[key], var_names, TMPL_NVARS, 0, sec->lines);
	if (rc == 0)
		ld->line = line;
	return rc;
}

/* A section line is a key alone in brackets: lower case, digits, '_' and
 * '.', so a template line such as "[Date] works" is never taken for one. */
static bool is_key_line(const char *line)
{
	if (line[0] != '[')
		return false;
	size_t n = strspn(line + 1, "abcdefghijklmnopqrstuvwxyz0123456789_.");
	return n > 0 && line[1 + n] == ']' && line[2 + n] == '\0';
}

/* Reads one language's file into l, with sec as the room for a section's
 * text. */
static int load_lang(struct tmpl_set *t, struct ld_pos *ld, FILE *f, struct lang *l,
		     const char *code, const char *first_code, struct section *sec)
{
	char line[2048];
	int key = -1;
	bool saw_lang = false;
	int got;
	while ((got = ld_gets(ld, f, line, sizeof(line))) > 0) {
		size_t n = strlen(line);
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (is_key_line(line)) {
			char *end = strchr(line, ']');
			if (finish(t, ld, l, key, sec) < 0)
				return -1;
			*end = '\0';
			key = key_id(t, ld, line + 1, first_code);
			if (key < 0)
				return -1;
			sec->len = sec->nlines = 0;
			continue;
		}
		/* A comment, in a section too: no note to the team reaches a
		 * customer. */
		if (line[0] == '#')
			continue;
		if (key >= 0) {
			if (sec->len + n + 2 > sizeof(sec->buf) ||
			    sec->nlines == sizeof(sec->lines) / sizeof(sec->lines[0]))
				return ld_fail(ld, "template too long");
			/* Blank lines before any text join the first line. */
			if (sec->len)
				sec->buf[sec->len++] = '\n';
			else
				sec->nlines = 0;
			sec->lines[sec->nlines++] = ld->line;
			memcpy(sec->buf + sec->len, line, n);
			sec->len += n;
			continue;
		}
		if (!n)
			continue;
		char *arg = line + strcspn(line, " \t");
		if (*arg)
			*arg++ = '\0';
		if (strcmp(line, "lang") == 0) {
			if (strcmp(arg, code) != 0)
				return ld_fail(ld, "says lang %s, expected %s", arg, code);
			saw_lang = true;
		} else if (strcmp(line, "months") == 0) {
			int m = 0;
			char *save = NULL;
			for (char *w = strtok_r(arg, " \t", &save); w;
			     w = strtok_r(NULL, " \t", &save)) {
				if (m == 12)
					return ld_fail(ld, "more than 12 months");
				if (!(l->months[m++] = strdup(w)))
					return ld_fail(ld, "out of memory");
			}
			if (m != 12)
				return ld_fail(ld, "months needs 12 names");
		} else if (strcmp(line, "date") == 0) {
			if (!(l->date.text = strdup(arg)))
				return ld_fail(ld, "out of memory");
			if (compile(ld, &l->date, date_names, 6, D_D, NULL) < 0)
				return -1;
		} else {
			return ld_fail(ld, "unknown directive \"%s\"", line);
		}
	}
	if (got < 0 || finish(t, ld, l, key, sec) < 0)
		return -1;
	if (!saw_lang || !l->months[0] || !l->date.text)
		return ld_fail(ld, "the lang, months and date lines are required");
	return 0;
}

struct tmpl_set *tmpl_load(const char *dir, const char *const *codes, size_t n,
			   char *err, size_t errlen)
{
	struct ld_pos ld = { .err = err, .errlen = errlen };
	struct section *sec = malloc(sizeof(*sec));
	struct tmpl_set *t = calloc(1, sizeof(*t));
	if (!sec || !t || n == 0 || n > MAX_LANGS ||
	    !(t->langs = calloc(n, sizeof(struct lang)))) {
		snprintf(err, errlen, "out of memory or no languages");
		goto free_set;
	}
	t->nlangs = n;
	for (size_t i = 0; i < n; i++) {
		char path[4096], name[64];
		snprintf(name, sizeof(name), "%s.txt", codes[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		ld.file = path; /* en.txt is in intents/ and in templates/ alike */
		ld.line = 0;
		FILE *f = fopen(path, "r");
		if (!f) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto free_set;
		}
		int rc = load_lang(t, &ld, f, &t->langs[i], codes[i], i ? codes[0] : NULL, sec);
		fclose(f);
		if (rc < 0)
			goto free_set;
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < t->nkeys; k++)
			if (!t->langs[i].t[k].text) {
				snprintf(err, errlen, "%s/%s.txt: key [%s] is missing",
					 dir, codes[i], t->keys[k]);
				goto free_set;
			}
	free(sec);
	return t;
free_set:
	tmpl_free(t);
	free(sec);
	return NULL;
}

void tmpl_free(struct tmpl_set *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->langs && i < t->nlangs; i++) {
		for (int k = 0; k < MAX_KEYS; k++)
			free(t->langs[i].t[k].text);
		for (int m = 0; m < 12; m++)
			free(t->langs[i].months[m]);
		free(t->langs[i].date.text);
	}
	for (int k = 0; k < t->nkeys; k++)
		free(t->keys[k]);
	free(t->langs);
	free(t);
}

int tmpl_find(const struct tmpl_set *t, const char *key)
{
	for (int i = 0; i < t->nkeys; i++)
		if (strcmp(t->keys[i], key) == 0)
			return i;
	return -1;
}

uint32_t tmpl_vars_used(const struct tmpl_set *t, int id)
{
	uint32_t m = 0;
	for (size_t i = 0; id >= 0 && id < t->nkeys && i < t->nlangs; i++)
		m |= t->langs[i].t[id].vars;
	return m;
}

const char *tmpl_var_name(enum tmpl_var v)
{
	return (unsigned)v < TMPL_NVARS ? var_names[v] : "?";
}

const char *tmpl_text(const struct tmpl_set *t, int lang, int id)
{
	if (lang < 0 || (size_t)lang >= t->nlangs || id < 0 || id >= t->nkeys)
		return NULL;
	return t->langs[lang].t[id].text;
}

static int put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
	if (cap == 0)
		return -1;
	/* Cut only between characters: a reply cut short must still be UTF-8. */
	size_t k = tok_utf8_fit(s, n, cap - 1 - *len);
	memcpy(out + *len, s, k);
	*len += k;
	out[*len] = '\0';
	return k == n ? 0 : -1;
}

int tmpl_render(const struct tmpl_set *t, int lang, int id,
		const struct tmpl_vars *vars, char *out, size_t cap, size_t *len)
{
	if (lang < 0 || (size_t)lang >= t->nlangs || id < 0 || id >= t->nkeys ||
	    *len >= cap)
		return -1;
	const struct tpl *tp = &t->langs[lang].t[id];
	int rc = 0;
	for (int i = 0; i < tp->nsegs; i++) {
		const struct seg *sg = &tp->segs[i];
		rc |= put(out, cap, len, tp->text + sg->off, sg->len);
		if (sg->var >= 0 && vars && vars->v[sg->var])
			rc |= put(out, cap, len, vars->v[sg->var], strlen(vars->v[sg->var]));
	}
	return rc;
}

int tmpl_date(const struct tmpl_set *t, int lang, struct slot_date d,
	      char *out, size_t cap)
{
	if (lang < 0 || (size_t)lang >= t->nlangs || cap == 0 || d.m < 1 || d.m > 12)
		return -1;
	const struct lang *l = &t->langs[lang];
	size_t len = 0;
	int rc = 0;
	out[0] = '\0';
	for (int i = 0; i < l->date.nsegs; i++) {
		const struct seg *sg = &l->date.segs[i];
		char num[16];
		int n;
		rc |= put(out, cap, &len, l->date.text + sg->off, sg->len);
		switch (sg->var) {
		case D_D: n = snprintf(num, sizeof(num), "%d", d.d); break;
		case D_DD: n = snprintf(num, sizeof(num), "%02d", d.d); break;
		case D_M: n = snprintf(num, sizeof(num), "%d", d.m); break;
		case D_MM: n = snprintf(num, sizeof(num), "%02d", d.m); break;
		case D_Y: n = snprintf(num, sizeof(num), "%d", d.y); break;
		case D_MONTH:
			rc |= put(out, cap, &len, l->months[d.m - 1], strlen(l->months[d.m - 1]));
			continue;
		default: continue;
		}
		rc |= put(out, cap, &len, num, (size_t)n);
	}
	return rc ? -1 : (int)len;
}

size_t tmpl_memory(const struct tmpl_set *t)
{
	return sizeof(*t) + t->nlangs * sizeof(struct lang) + t->bytes;
}
