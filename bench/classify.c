/* bench/classify: decide + say over the corpus in one process. Prints
 * messages per second on one core, ns per message (p50, p99), the memory of
 * the loaded model and allocations per message, and where the time goes:
 * each stage is run alone over the same messages in the same process, so
 * the ratios between them hold however noisy the machine is; and decide +
 * say once more with the caches cold, as in the server. Fails only on
 * errors, never on a time.
 *
 * usage: bench_classify CORPUS.jsonl... [--seconds S] */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "jr.h"
#include "report.h"

/* Allocation counting: the binary is linked with --wrap for these. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
static unsigned long long allocs;
/* Keeps the compiler from dropping work whose result is otherwise unused. */
static volatile size_t sink_out;
void *__wrap_malloc(size_t n) { allocs++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { allocs++; return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { allocs++; return __real_realloc(p, n); }

/* The length of one slice of a rate loop (see main); bench/classify_nlpjs.js
 * slices NLP.js' runs alike (SLICE_S). */
#define SLICE_NS 0.25e9

/* What is written between two messages for the cold run: more than the
 * core's L2 cache (1 MiB on the machines the benchmarks ran on), as the
 * server's network stack and its other connections' data take the model
 * out of it between two messages. */
#define COLD_BYTES (4u << 20)

struct msg {
	char *text;
	size_t len;
	char *frame;      /* the message as the widget sends it */
	size_t frame_len;
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int load(const char *path, struct msg **v, size_t *n, size_t *cap)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t lcap = 0;
	if (!f) {
		perror(path);
		return -1;
	}
	while (getline(&line, &lcap, f) > 0) {
		json_object *o = json_tokener_parse(line), *t;
		if (o && json_object_object_get_ex(o, "text", &t)) {
			if (*n == *cap) {
				*cap = *cap ? *cap * 2 : 512;
				*v = realloc(*v, *cap * sizeof(**v));
			}
			struct msg *m = &(*v)[*n];
			m->text = strdup(json_object_get_string(t));
			m->len = strlen(m->text);
			json_object *fr = json_object_new_object();
			char id[16];
			snprintf(id, sizeof(id), "%zu", *n);
			json_object_object_add(fr, "type", json_object_new_string("message"));
			json_object_object_add(fr, "id", json_object_new_string(id));
			json_object_object_add(fr, "text", json_object_new_string(m->text));
			m->frame = strdup(json_object_to_json_string_ext(fr, JSON_C_TO_STRING_PLAIN));
			m->frame_len = strlen(m->frame);
			json_object_put(fr);
			(*n)++;
		}
		json_object_put(o);
	}
	free(line);
	fclose(f);
	return 0;
}

/* The stages, cheapest first; ST_WIRE is the server's work on a message
 * but the network and the log line: the frame read as ws.c reads it (jr,
 * json-c for what jr declines), decide + say, and the reply frame
 * written. */
enum stage { ST_READ, ST_PARSE, ST_TOK, ST_ANALYZE, ST_SLOTS, ST_DECIDE, ST_FULL, ST_WIRE,
	     ST_COUNT };
static const char *const stage_names[] = {
	"JSON read (jr)", "JSON parse (json-c)", "tokenize (normalise)", "tokenize + score",
	"tokenize + slots", "decide", "decide + say", "read + decide + say + frame",
};
/* The members ws.c reads from a frame. */
static const char *const frame_names[] = { "type", "id", "text", "session", "lang" };
#define NFRAME_NAMES (sizeof(frame_names) / sizeof(frame_names[0]))

struct ctx {
	const struct engine *e;
	struct engine_scratch *scr;
	struct tok_buf tb;
	struct intent_scratch *is;
	struct engine_plan plan;
	struct engine_reply reply;
	struct slot_date today;
	json_tokener *jt;
	char scratch[65536]; /* jr's */
	char frame[65536];
	size_t sink;
};

static int run_one(struct ctx *c, enum stage st, const struct msg *m)
{
	struct intent_result ir;
	struct slot_found sf;
	struct intent_opts io = { .threshold = 0.5, .margin = 0.15 };
	struct engine_session s;
	struct engine_results res = { 0 };
	int rc = 0;
	const char *why;
	json_object *o = NULL;
	struct jr_val v[NFRAME_NAMES];
	switch (st) {
	case ST_READ:
		rc = jr_flat(m->frame, m->frame_len, frame_names, v, NFRAME_NAMES, c->scratch,
			     sizeof(c->scratch));
		c->sink += v[2].len;
		break;
	case ST_PARSE:
		o = report_parse_object_tok(c->jt, m->frame, m->frame_len, &why, NULL);
		c->sink += o != NULL;
		json_object_put(o);
		break;
	case ST_WIRE:
		if (jr_flat(m->frame, m->frame_len, frame_names, v, NFRAME_NAMES, c->scratch,
			    sizeof(c->scratch)) < 0 &&
		    !(o = report_parse_object_tok(c->jt, m->frame, m->frame_len, &why, NULL)))
			rc = -1;
		engine_session_init(&s, -1);
		rc = rc == 0 ? engine_decide(c->e, c->scr, &s, m->text, m->len, c->today, &c->plan) : -1;
		if (rc == 0) {
			engine_say(c->e, &s, &c->plan, &res, &c->reply);
			rc = report_write_frame(c->e, &c->plan, &c->reply, &res, "\"1\"", c->frame,
						sizeof(c->frame));
			c->sink += (size_t)rc;
		}
		json_object_put(o);
		break;
	case ST_TOK:
		rc = tok_run(&c->tb, m->text, m->len);
		c->sink += c->tb.n;
		break;
	case ST_ANALYZE:
		rc = tok_run(&c->tb, m->text, m->len);
		intent_analyze(engine_pack(c->e), &c->tb, m->text, m->len, 0, -1, 0, &io, c->is, &ir);
		c->sink += ir.ndetected;
		break;
	case ST_SLOTS:
		rc = tok_run(&c->tb, m->text, m->len);
		slot_extract(engine_slots(c->e), m->text, &c->tb, c->today, &sf);
		c->sink += sf.has_date;
		break;
	case ST_DECIDE:
	case ST_FULL:
		engine_session_init(&s, -1);
		rc = engine_decide(c->e, c->scr, &s, m->text, m->len, c->today, &c->plan);
		if (rc == 0 && st == ST_FULL) {
			engine_say(c->e, &s, &c->plan, &res, &c->reply);
			c->sink += c->reply.len;
		}
		break;
	default:
		break;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct msg *msgs = NULL;
	size_t n = 0, cap = 0;
	double seconds = 2.0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (load(argv[i], &msgs, &n, &cap) < 0)
			return 1;
	}
	if (n == 0) {
		fprintf(stderr, "usage: bench_classify CORPUS.jsonl... [--seconds S]\n");
		return 2;
	}
	char err[512];
	unsigned long long a0 = allocs;
	struct engine *e = engine_load(AUTOASSIST_SOURCE_DIR "/intents",
				       AUTOASSIST_SOURCE_DIR "/templates", NULL, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "bench_classify: %s\n", err);
		return 1;
	}
	unsigned long long load_allocs = allocs - a0;
	struct ctx *c = calloc(1, sizeof(*c));
	c->e = e;
	c->today = (struct slot_date){ 2026, 11, 26 };
	c->scr = engine_scratch_new(e);
	c->jt = json_tokener_new_ex(REPORT_MAX_DEPTH + 1);
	c->is = intent_scratch_new(engine_pack(e), 4096);
	if (!c->scr || !c->is || !c->jt || tok_buf_init(&c->tb, 4096) < 0) {
		fprintf(stderr, "bench_classify: out of memory\n");
		return 1;
	}
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += msgs[i].len;
	printf("corpus: %zu messages, %.0f bytes on average\n", n, (double)bytes / n);
	printf("model: %.1f KiB loaded (%llu allocations at load)\n",
	       engine_memory(e) / 1024.0, load_allocs);

	/* Warm up, then check every message goes through. */
	size_t declined = 0;
	for (size_t i = 0; i < n; i++) {
		if (run_one(c, ST_WIRE, &msgs[i]) < 0) {
			fprintf(stderr, "bench_classify: message %zu rejected\n", i);
			return 1;
		}
		declined += run_one(c, ST_READ, &msgs[i]) < 0;
	}
	printf("frames: %zu of %zu read by jr, the rest by json-c\n", n - declined, n);

	size_t samples_cap = n > (1u << 22) ? n : 1u << 22;
	double *lat = malloc(samples_cap * sizeof(double));
	double rate[ST_COUNT] = { 0 };
	/* decide + say first: the other stages are given as a share of it. */
	static const enum stage order[] = { ST_FULL, ST_WIRE, ST_DECIDE, ST_SLOTS,
					    ST_ANALYZE, ST_TOK, ST_PARSE, ST_READ };
	printf("\n%-30s %12s %9s %9s %9s\n", "stage", "msgs/s/core", "p50 ns", "p99 ns", "of full");
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		enum stage st = order[k];
		size_t done = 0, ns = 0;
		unsigned long long a1 = allocs;
		/* The rate comes from loops with no clock inside them, as
		 * NLP.js' is measured (bench/classify_nlpjs.js): reading the
		 * clock twice a message would cost a cheap stage more than its
		 * own work. The run is cut in slices and the best slice's rate
		 * kept, on both sides, so a neighbour's burst on a shared
		 * machine does not decide the ratio. */
		double t0 = now_ns(), t1 = t0;
		while (t1 - t0 < seconds * 1e9) {
			double s0 = t1;
			size_t slice = 0;
			do {
				for (size_t i = 0; i < n; i++)
					run_one(c, st, &msgs[i]);
				slice += n;
				t1 = now_ns();
			} while (t1 - s0 < SLICE_NS);
			double r = slice / ((t1 - s0) / 1e9);
			if (r > rate[st])
				rate[st] = r;
			done += slice;
		}
		unsigned long long stage_allocs = allocs - a1;
		/* The spread comes from a shorter second loop that times each
		 * message; its samples include the clock's own cost. */
		double t2 = now_ns(), t3;
		do {
			for (size_t i = 0; i < n; i++) {
				double s0 = now_ns();
				run_one(c, st, &msgs[i]);
				lat[ns++] = now_ns() - s0;
			}
			t3 = now_ns();
		} while (t3 - t2 < seconds * 0.25e9 && ns + n <= samples_cap);
		qsort(lat, ns, sizeof(double), cmp_double);
		printf("%-30s %12.0f %9.0f %9.0f %8.2f", stage_names[st], rate[st],
		       lat[ns / 2], lat[ns * 99 / 100],
		       rate[ST_FULL] > 0 ? rate[ST_FULL] / rate[st] : 1.0);
		if (st == ST_FULL || st == ST_WIRE || st == ST_READ)
			printf("   allocations per message: %.3f", (double)stage_allocs / done);
		printf("\n");
	}
	/* decide + say once more, each message after COLD_BYTES written
	 * elsewhere and timed alone: the rate is from the mean. */
	unsigned char *junk = malloc(COLD_BYTES);
	if (!junk) {
		fprintf(stderr, "bench_classify: out of memory\n");
		return 1;
	}
	size_t ncold = 0;
	double cold_sum = 0, t4 = now_ns();
	do {
		for (size_t i = 0; i < n && ncold < samples_cap; i++) {
			memset(junk, (int)(ncold & 0xff), COLD_BYTES);
			sink_out = junk[ncold % COLD_BYTES];
			double s0 = now_ns();
			run_one(c, ST_FULL, &msgs[i]);
			lat[ncold] = now_ns() - s0;
			cold_sum += lat[ncold++];
		}
	} while (now_ns() - t4 < seconds * 1e9 && ncold < samples_cap);
	qsort(lat, ncold, sizeof(double), cmp_double);
	printf("%-30s %12.0f %9.0f %9.0f %8.2f\n", "decide + say, caches cold", ncold / cold_sum * 1e9,
	       lat[ncold / 2], lat[ncold * 99 / 100], rate[ST_FULL] * cold_sum / ncold / 1e9);
	free(junk);
	printf("\n(of full: the stage's time as a share of decide + say. Allocations are\n"
	       " counted in this program and the engine; json-c's, inside its shared\n"
	       " library, are not seen.\n"
	       " Target: >= 500000 msgs/s/core and no allocation per message.)\n");
	sink_out = c->sink;
	free(lat);
	tok_buf_free(&c->tb);
	intent_scratch_free(c->is);
	engine_scratch_free(c->scr);
	json_tokener_free(c->jt);
	free(c);
	engine_free(e);
	for (size_t i = 0; i < n; i++) {
		free(msgs[i].text);
		free(msgs[i].frame);
	}
	free(msgs);
	return 0;
}
