/* eval: corpus evaluation. See include/eval.h. */
#include "eval.h"
#include "report.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define NONE INTENT_MAX /* the empty set's row and column */

struct counts {
	int n, exact, esc_pos, esc_hit, esc_neg, esc_false, lang_ok;
	int tp[INTENT_MAX], fp[INTENT_MAX], fn[INTENT_MAX];
};

struct stats {
	struct counts all, lang[INTENT_MAX_LANGS];
	int confusion[INTENT_MAX + 1][INTENT_MAX + 1];
	int shown;
};

void eval_opts_default(struct eval_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->max_false_escalation = 1.0;
	opts->max_examples = 50;
	opts->today = (struct slot_date){ 2026, 11, 26 };
}

static double ratio(int a, int b)
{
	return b ? (double)a / b : 1.0;
}

/* Reads the gold labels of one corpus line. Returns 0 or -1 with why. */
static int gold_of(const struct intent_pack *p, json_object *o, const char **text,
		   size_t *len, uint32_t *intents, bool *esc, int *lang, const char **why)
{
	json_object *v;
	if (!json_object_object_get_ex(o, "text", &v) || !json_object_is_type(v, json_type_string))
		return *why = "no \"text\" string", -1;
	*text = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	if (!json_object_object_get_ex(o, "intents", &v) || !json_object_is_type(v, json_type_array))
		return *why = "no \"intents\" array", -1;
	*intents = 0;
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		int id = intent_find(p, json_object_get_string(json_object_array_get_idx(v, i)));
		if (id < 0)
			return *why = "an unknown intent id", -1;
		*intents |= 1u << id;
	}
	if (!json_object_object_get_ex(o, "escalate", &v) || !json_object_is_type(v, json_type_boolean))
		return *why = "no \"escalate\" boolean", -1;
	*esc = json_object_get_boolean(v);
	*lang = -1;
	if (json_object_object_get_ex(o, "lang", &v))
		*lang = intent_lang_find(p, json_object_get_string(v));
	if (*lang < 0)
		return *why = "no \"lang\" of the pack's languages", -1;
	return 0;
}

static void tally(struct counts *c, const struct intent_pack *p, uint32_t gold,
		  uint32_t pred, bool gesc, bool pesc, bool lang_ok)
{
	c->n++;
	c->exact += gold == pred;
	c->lang_ok += lang_ok;
	if (gesc) {
		c->esc_pos++;
		c->esc_hit += pesc;
	} else {
		c->esc_neg++;
		c->esc_false += pesc;
	}
	for (size_t i = 0; i < intent_count(p); i++) {
		bool g = gold & (1u << i), q = pred & (1u << i);
		c->tp[i] += g && q;
		c->fp[i] += !g && q;
		c->fn[i] += g && !q;
	}
}

static void names(const struct intent_pack *p, uint32_t set, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < intent_count(p); i++)
		if (set & (1u << i))
			n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s",
					      n ? "," : "", intent_name(p, i));
	if (!set)
		snprintf(out, cap, "-");
}

static void print_counts(FILE *out, const char *label, const struct counts *c)
{
	fprintf(out, "%-8s %5d  exact %6.1f%%  escalation recall %6.1f%% (%d/%d)  "
		"false escalation %5.1f%% (%d/%d)  language %6.1f%%\n",
		label, c->n, 100 * ratio(c->exact, c->n), 100 * ratio(c->esc_hit, c->esc_pos),
		c->esc_hit, c->esc_pos, 100 * ratio(c->esc_false, c->esc_neg) * (c->esc_neg > 0),
		c->esc_false, c->esc_neg, 100 * ratio(c->lang_ok, c->n));
}

static void print_report(FILE *out, const struct intent_pack *p, const struct stats *st)
{
	size_t ni = intent_count(p);
	fprintf(out, "\nper intent            precision  recall      F1    tp   fp   fn\n");
	for (size_t i = 0; i < ni; i++) {
		const struct counts *c = &st->all;
		double pr = ratio(c->tp[i], c->tp[i] + c->fp[i]);
		double rc = ratio(c->tp[i], c->tp[i] + c->fn[i]);
		fprintf(out, "  %-20s %8.3f %7.3f %7.3f %5d %4d %4d\n", intent_name(p, i), pr, rc,
			pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0.0, c->tp[i], c->fp[i], c->fn[i]);
	}
	fprintf(out, "\nconfusion (rows: labelled, columns: detected; - = none)\n%22s", "");
	for (size_t j = 0; j <= ni; j++)
		fprintf(out, " %8.8s", j < ni ? intent_name(p, j) : "-");
	fputc('\n', out);
	for (size_t i = 0; i <= ni; i++) {
		fprintf(out, "  %-20s", i < ni ? intent_name(p, i) : "-");
		for (size_t j = 0; j <= ni; j++)
			fprintf(out, " %8d", st->confusion[i < ni ? i : NONE][j < ni ? j : NONE]);
		fputc('\n', out);
	}
	fprintf(out, "\nper language\n");
	for (size_t l = 0; l < intent_lang_count(p); l++)
		if (st->lang[l].n)
			print_counts(out, intent_lang_code(p, l), &st->lang[l]);
	fprintf(out, "\noverall\n");
	print_counts(out, "all", &st->all);
}

int eval_run(const struct engine *e, const char *path, const struct eval_opts *opts,
	     FILE *out)
{
	const struct intent_pack *p = engine_pack(e);
	struct stats *st = calloc(1, sizeof(*st));
	struct engine_scratch *scr = engine_scratch_new(e);
	struct engine_plan *plan = malloc(sizeof(*plan));
	json_tokener *tok = report_tokener_new(REPORT_MAX_DEPTH);
	char *line = NULL, *shown = NULL;
	size_t cap = 0, shown_len = 0;
	int lineno = 0, rc = -1;
	/* The examples wait in memory until the whole corpus reads: one that
	 * turns out unreadable prints no report at all. */
	FILE *ex = NULL;
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "autoassist: %s: %s\n", path, strerror(errno));
		goto free_all;
	}
	if (!st || !scr || !plan || !tok || !(ex = open_memstream(&shown, &shown_len))) {
		fprintf(stderr, "autoassist: out of memory\n");
		goto close_file;
	}
	for (ssize_t n; (n = getline(&line, &cap, f)) > 0;) {
		lineno++;
		if (strspn(line, " \t\r\n") == (size_t)n)
			continue;
		const char *text = NULL, *why = NULL;
		size_t tlen = 0;
		json_object *o = report_parse_object_tok(tok, line, (size_t)n, &why, NULL);
		uint32_t gold = 0;
		bool gesc = false;
		int glang = -1;
		if (!o || gold_of(p, o, &text, &tlen, &gold, &gesc, &glang, &why) < 0) {
			fprintf(stderr, "autoassist: %s:%d: %s\n", path, lineno, why);
			json_object_put(o);
			goto close_file;
		}
		struct engine_session s;
		engine_session_init(&s, -1);
		int drc = engine_decide(e, scr, &s, text, tlen, opts->today, plan);
		if (drc < 0) {
			fprintf(stderr, "autoassist: %s:%d: %s\n", path, lineno, tok_strerror(drc));
			json_object_put(o);
			goto close_file;
		}
		uint32_t pred = 0;
		for (uint8_t i = 0; i < plan->ir.ndetected; i++)
			pred |= 1u << plan->ir.rank[i];
		bool lang_ok = plan->lang == glang;
		tally(&st->all, p, gold, pred, gesc, plan->escalate, lang_ok);
		tally(&st->lang[glang], p, gold, pred, gesc, plan->escalate, lang_ok);
		for (size_t i = 0; i <= intent_count(p); i++) {
			bool gi = i < intent_count(p) ? (gold >> i) & 1 : gold == 0;
			for (size_t j = 0; gi && j <= intent_count(p); j++) {
				bool pj = j < intent_count(p) ? (pred >> j) & 1 : pred == 0;
				st->confusion[i < intent_count(p) ? i : NONE]
					     [j < intent_count(p) ? j : NONE] += pj;
			}
		}
		if ((gold != pred || gesc != plan->escalate || !lang_ok) &&
		    st->shown++ < opts->max_examples) {
			char g[160], d[160];
			names(p, gold, g, sizeof(g));
			names(p, pred, d, sizeof(d));
			fprintf(ex, "  %s:%d [%s%s%s] %s%s -> %s%s  \"%s\"\n", path, lineno,
				intent_lang_code(p, (size_t)glang), lang_ok ? "" : "->",
				lang_ok ? "" : intent_lang_code(p, (size_t)plan->lang),
				g, gesc ? " +L2" : "", d, plan->escalate ? " +L2" : "", text);
		}
		json_object_put(o);
	}
	if (ferror(f)) {
		fprintf(stderr, "autoassist: %s: %s\n", path, strerror(errno));
		goto close_file;
	}
	if (fclose(ex) != 0) {
		ex = NULL;
		fprintf(stderr, "autoassist: out of memory\n");
		goto close_file;
	}
	ex = NULL;
	fprintf(out, "misclassified (labelled -> detected)\n");
	fwrite(shown, 1, shown_len, out);
	if (st->shown > opts->max_examples)
		fprintf(out, "  ... and %d more\n", st->shown - opts->max_examples);
	print_report(out, p, st);

	const struct counts *c = &st->all;
	rc = 0;
	if (c->n == 0) {
		fprintf(out, "FAIL: no messages in %s\n", path);
		rc = 1;
	}
	if (ratio(c->exact, c->n) < opts->min_exact) {
		fprintf(out, "FAIL: exact intent-set match %.3f < %.3f\n", ratio(c->exact, c->n),
			opts->min_exact);
		rc = 1;
	}
	if (ratio(c->esc_hit, c->esc_pos) < opts->min_escalation_recall) {
		fprintf(out, "FAIL: escalation recall %.3f < %.3f\n", ratio(c->esc_hit, c->esc_pos),
			opts->min_escalation_recall);
		rc = 1;
	}
	if (c->esc_neg && ratio(c->esc_false, c->esc_neg) > opts->max_false_escalation) {
		fprintf(out, "FAIL: false escalation %.3f > %.3f\n",
			ratio(c->esc_false, c->esc_neg), opts->max_false_escalation);
		rc = 1;
	}
	if (ratio(c->lang_ok, c->n) < opts->min_lang) {
		fprintf(out, "FAIL: language accuracy %.3f < %.3f\n", ratio(c->lang_ok, c->n),
			opts->min_lang);
		rc = 1;
	}
	fprintf(out, "%s\n", rc ? "eval: FAILED" : "eval: passed");
close_file:
	if (ex)
		fclose(ex);
	fclose(f);
free_all:
	free(shown);
	free(line);
	if (tok)
		json_tokener_free(tok);
	free(plan);
	engine_scratch_free(scr);
	free(st);
	return rc;
}
