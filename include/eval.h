/* eval: scores the engine against a labelled corpus (JSON Lines with
 * "text", "intents", "escalate", "lang") and reports per-intent precision,
 * recall and F1, exact intent-set matches, escalation recall and false
 * escalations, language accuracy, a confusion matrix and the misclassified
 * messages, overall and per language. */
#ifndef AUTOASSIST_EVAL_H
#define AUTOASSIST_EVAL_H

#include <stdbool.h>
#include <stdio.h>

#include "engine.h"

struct eval_opts {
	double min_exact;             /* exact intent-set match rate required */
	double min_escalation_recall; /* escalation recall required */
	double max_false_escalation;  /* false escalation rate allowed */
	double min_lang;              /* language accuracy required */
	int max_examples;             /* misclassified messages shown */
	struct slot_date today;
};

/* Fills opts with no thresholds (0 / 1) and 50 examples. */
void eval_opts_default(struct eval_opts *opts);

/* Evaluates every line of path, each as the first message of a new
 * conversation, and writes the report to out. Returns 0 when every
 * threshold holds, 1 when one does not, -1 when the file cannot be read or
 * a line is not a labelled message (said on stderr). */
int eval_run(const struct engine *e, const char *path, const struct eval_opts *opts,
	     FILE *out);

#endif
