/* autoassist: the command line harness. Runs the engine exactly as the
 * server does, with file-backed effects: the grid registry from a JSON Lines
 * file (--registry) and L2 tickets appended to a JSON Lines file
 * (--tickets). main() parses options and hands over to one command. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libwebsockets.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "eval.h"
#include "registry.h"
#include "l2.h"
#include "l2cli.h"
#include "log.h"
#include "report.h"
#include "ws.h"

/* Exit codes, documented in the README and in --help. */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1, /* eval below a threshold, or some classify input rejected */
	EXIT_USAGE = 2,
	EXIT_DATA = 3,   /* intents, templates or registry could not be loaded */
	EXIT_IO = 4,
};

#define MAX_SESSIONS 1024

/* The only mutable globals, the signal flags: set by the signal handler
 * (on_signal: SIGTERM/SIGINT stop, SIGHUP reloads), read (and the reload
 * flag cleared) by the server's loop. */
static volatile sig_atomic_t stop_flag, reload_flag;

struct cli {
	struct engine_opts eo;
	const char *intents_dir, *templates_dir, *registry_path, *tickets_path;
	const char *lang;
	bool jsonl;
	struct slot_date today;
	struct eval_opts ev;
	struct ws_config ws;
	size_t log_buffer; /* bytes of log lines held while stderr stalls */

	struct engine *engine;
	struct engine_scratch *scr;
	struct reg_file *reg;
	struct l2_spool *tickets;
	unsigned ticket_seq;
	bool io_failed;    /* a ticket could not be written: exit 4 */
	char session_id[64];
};

static const char usage_text[] =
	"usage: autoassist COMMAND [OPTIONS] [ARGS]\n"
	"\n"
	"commands:\n"
	"  classify TEXT...       explain one message: language, tokens, intent scores\n"
	"                         with the terms that fired, slots, L2 topics, reply\n"
	"  classify --jsonl       read JSON Lines with \"text\" on stdin (optional\n"
	"                         \"session\" to carry a conversation across lines,\n"
	"                         \"lang\"), write one JSON object per line, same order\n"
	"  eval FILE.jsonl        score a labelled corpus; non-zero exit below thresholds\n"
	"  chat                   talk to the assistant on the terminal (/reset, /quit)\n"
	"  serve                  the chat server: widget at /, WebSocket at /ws,\n"
	"                         GET /healthz, GET /metrics\n"
	"\n"
	"options (an option a command does not use is refused):\n"
	"  --intents DIR          intent data (AUTOASSIST_INTENTS; default: the checkout's)\n"
	"  --templates DIR        reply templates (AUTOASSIST_TEMPLATES)\n"
	"  --threshold X          intent score needed (default 0.5)\n"
	"  --margin X             ambiguity margin below the threshold (default 0.15)\n"
	"  --max-bytes N          longest message accepted, 16 to 1048576 (default 4096)\n"
	"  --registry FILE        classify, chat, serve: grid registry, JSON Lines\n"
	"                         (AUTOASSIST_REGISTRY; without it: cannot check)\n"
	"  --today YYYY-MM-DD     classify, chat, eval: reference date for relative dates\n"
	"                         (default: today, UTC)\n"
	"  --tickets FILE         classify, chat: append L2 tickets here, fsync'd\n"
	"                         (without it: preview)\n"
	"  --lang CODE            classify, chat: the customer's language instead of\n"
	"                         detecting it\n"
	"  serve only (each also from the environment variable named):\n"
	"  --port N               AUTOASSIST_PORT (default 8080)\n"
	"  --host ADDR            AUTOASSIST_HOST, address to bind (default: all)\n"
	"  --web DIR              AUTOASSIST_WEB, files served at / (default: the checkout's web/)\n"
	"  --max-connections N    AUTOASSIST_MAX_CONNECTIONS (default 10000)\n"
	"  --origins A,B          AUTOASSIST_ORIGINS, allowed Origin headers (default: any)\n"
	"  --session-ttl S        AUTOASSIST_SESSION_TTL, seconds a conversation outlives\n"
	"                         its connection (default 1800)\n"
	"  --idle-timeout S       AUTOASSIST_IDLE_TIMEOUT, pings after S/2, hangs up after S\n"
	"                         (default 120)\n"
	"  --rate X --burst N     AUTOASSIST_RATE, AUTOASSIST_BURST: messages per second\n"
	"                         per connection (default 5, bursts of 10)\n"
	"  --queue N              AUTOASSIST_QUEUE, frames owed a client before it is\n"
	"                         read no more until it takes some (64)\n"
	"  --redis URL            AUTOASSIST_REDIS: host:port, redis://host:port (a\n"
	"                         /db may follow; [IPv6]:port) or unix:///path; the\n"
	"                         L2 queue and the grid registry\n"
	"                         (without it tickets are only previewed)\n"
	"  --stream KEY           AUTOASSIST_STREAM, the L2 stream (autoassist:l2)\n"
	"  --spool FILE           AUTOASSIST_SPOOL, tickets Redis could not take\n"
	"                         (default autoassist-spool.jsonl)\n"
	"  --redis-timeout S      AUTOASSIST_REDIS_TIMEOUT, per command (default 0.5)\n"
	"                         AUTOASSIST_REDIS_PASSWORD (and AUTOASSIST_REDIS_USER):\n"
	"                         AUTH, from the environment only\n"
	"  --reuse-port           AUTOASSIST_REUSE_PORT=1: several processes share the\n"
	"                         port (SO_REUSEPORT), one per core; give each its own\n"
	"                         --spool\n"
	"  --event-loop ev|poll   AUTOASSIST_EVENT_LOOP: libev, epoll (default), or\n"
	"                         libwebsockets' own poll() loop\n"
	"  --offload-above X      AUTOASSIST_OFFLOAD_ABOVE: the share of a core the event\n"
	"                         loop thread may spend deciding messages itself before\n"
	"                         the engine worker takes them; 0: always the worker\n"
	"                         (default 0.9)\n"
	"  --log-buffer BYTES     AUTOASSIST_LOG_BUFFER: log lines held while stderr\n"
	"                         stalls, beyond which they are dropped and counted\n"
	"                         (default 4194304)\n"
	"  --log-text             AUTOASSIST_LOG_TEXT=1, log customer text (debugging)\n"
	"  eval only:\n"
	"  --min-exact X          exact intent-set match rate required (0..1)\n"
	"  --min-escalation-recall X\n"
	"  --max-false-escalation X\n"
	"  --min-lang X           language accuracy required\n"
	"  --examples N           misclassified messages listed (default 50)\n"
	"  -h, --help             this text\n"
	"\n"
	"exit codes: 0 ok; 1 eval below a threshold or a rejected classify line;\n"
	"2 usage; 3 data files; 4 input/output error\n";

static int usage(FILE *out, int code)
{
	fputs(usage_text, out);
	fputs("\n", out);
	l2cli_usage(out);
	return code;
}

/* After a usage error has been told in a line of its own: the whole help
 * would bury that line. Returns EXIT_USAGE. */
static int usage_hint(void)
{
	fputs("Run \"autoassist --help\" for the commands and options.\n", stderr);
	return EXIT_USAGE;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || !*s || *end || !isfinite(v) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

/* The serve options in the order of serve_env; each is also read from
 * the environment. */
static const char *const serve_env[] = {
	"AUTOASSIST_PORT", "AUTOASSIST_HOST", "AUTOASSIST_WEB", "AUTOASSIST_MAX_CONNECTIONS",
	"AUTOASSIST_ORIGINS", "AUTOASSIST_SESSION_TTL", "AUTOASSIST_IDLE_TIMEOUT",
	"AUTOASSIST_RATE", "AUTOASSIST_BURST", "AUTOASSIST_QUEUE", "AUTOASSIST_REDIS",
	"AUTOASSIST_STREAM", "AUTOASSIST_SPOOL", "AUTOASSIST_REDIS_TIMEOUT",
	"AUTOASSIST_EVENT_LOOP", "AUTOASSIST_OFFLOAD_ABOVE", "AUTOASSIST_LOG_BUFFER",
};

/* Sets serve option number k (see serve_env) from text, given as the
 * command line's --flag, or (flag NULL) in its environment variable.
 * Returns 0, or -1 after saying what is wrong, by the name it was given. */
static int set_serve_opt(struct cli *c, int k, char *text, const char *flag)
{
	static const struct { double lo, hi; } range[] = {
		{ 1, 65535 }, { 0, 0 }, { 0, 0 }, { 1, 1000000 }, { 0, 0 },
		{ 1, 86400 * 30 }, { 2, 65535 }, { 0.01, 1e6 }, { 1, 1e6 }, { 2, 1e6 },
		{ 0, 0 }, { 0, 0 }, { 0, 0 }, { 0.01, 60 }, { 0, 0 }, { 0, 2 },
		{ 65536, 1e9 },
	};
	struct ws_config *w = &c->ws;
	double x = 0;
	if (range[k].hi > 0 && !parse_double(text, range[k].lo, range[k].hi, &x)) {
		fprintf(stderr, "autoassist: %s%s: \"%s\" is not a number from %.10g to %.10g\n",
			flag ? "--" : "", flag ? flag : serve_env[k], text, range[k].lo, range[k].hi);
		return -1;
	}
	switch (k) {
	case 0: w->port = (int)x; break;
	case 1: w->iface = text; break;
	case 2: w->web_dir = text; break;
	case 3: w->max_connections = (unsigned)x; break;
	case 4:
		w->norigins = 0;
		for (char *save = NULL, *o = strtok_r(text, ",", &save); o;
		     o = strtok_r(NULL, ",", &save)) {
			if (w->norigins == WS_MAX_ORIGINS) {
				fprintf(stderr, "autoassist: at most %d origins\n", WS_MAX_ORIGINS);
				return -1;
			}
			w->origins[w->norigins++] = o;
		}
		break;
	case 5: w->session_ttl = x; break;
	case 6: w->idle_timeout = (unsigned)x; break;
	case 7: w->rate = x; break;
	case 8: w->burst = x; break;
	case 9: w->queue_max = (unsigned)x; break;
	case 10: {
		char why[256];
		if (l2_url_check(text, why, sizeof(why)) < 0) {
			fprintf(stderr, "autoassist: %s\n", why);
			return -1;
		}
		w->redis_url = text;
		break;
	}
	case 11: w->stream = text; break;
	case 12: w->spool_path = text; break;
	case 13: w->redis_timeout = x; break;
	case 14:
		if (strcmp(text, "ev") == 0) {
			w->loop = WS_LOOP_EV;
		} else if (strcmp(text, "poll") == 0) {
			w->loop = WS_LOOP_POLL;
		} else {
			fprintf(stderr, "autoassist: %s%s: \"%s\" is not ev or poll\n",
				flag ? "--" : "", flag ? flag : serve_env[k], text);
			return -1;
		}
		break;
	case 15: w->offload_above = x; break;
	case 16: c->log_buffer = (size_t)x; break;
	}
	return 0;
}

/* Reads the serve options' environment variables; options given on the
 * command line override them. */
static int serve_env_opts(struct cli *c)
{
	for (size_t k = 0; k < sizeof(serve_env) / sizeof(serve_env[0]); k++) {
		char *v = getenv(serve_env[k]);
		if (v && *v && set_serve_opt(c, (int)k, v, NULL) < 0)
			return -1;
	}
	const char *lt = getenv("AUTOASSIST_LOG_TEXT");
	c->ws.log_text = lt && strcmp(lt, "1") == 0;
	const char *rp = getenv("AUTOASSIST_REUSE_PORT");
	c->ws.reuse_port = rp && strcmp(rp, "1") == 0;
	/* Only from the environment: an option would show in ps. */
	c->ws.redis_user = getenv("AUTOASSIST_REDIS_USER");
	c->ws.redis_password = getenv("AUTOASSIST_REDIS_PASSWORD");
	return 0;
}

/* The commands an option may be given to (parse_opts). */
enum {
	CMD_CLASSIFY = 1 << 0,
	CMD_EVAL = 1 << 1,
	CMD_CHAT = 1 << 2,
	CMD_SERVE = 1 << 3,
	CMD_ENGINE = CMD_CLASSIFY | CMD_EVAL | CMD_CHAT | CMD_SERVE,
};

/* Parses the options after the command, whose CMD_ bit is cmd. An option
 * the command does not use is refused, not ignored: "serve --tickets f"
 * would otherwise look like it kept tickets. Returns the index of the
 * first argument, or -1 after printing what is wrong. */
static int parse_opts(struct cli *c, int cmd, int argc, char **argv)
{
	/* From O_PORT to O_LOG_BUFFER in serve_env's order: set_serve_opt. */
	enum { O_INTENTS = 256, O_TEMPLATES, O_REGISTRY, O_TICKETS, O_TODAY, O_LANG,
	       O_THRESHOLD, O_MARGIN, O_MAXBYTES, O_JSONL, O_MINEXACT, O_MINESC,
	       O_MAXFALSE, O_MINLANG, O_EXAMPLES, O_PORT, O_HOST, O_WEB, O_MAXCONN,
	       O_ORIGINS, O_TTL, O_IDLE, O_RATE, O_BURST, O_QUEUE, O_REDIS, O_STREAM,
	       O_SPOOL, O_REDIS_TIMEOUT, O_EVENT_LOOP, O_OFFLOAD_ABOVE, O_LOG_BUFFER, O_LOGTEXT,
	       O_REUSE_PORT };
	/* Each option with the commands that use it. */
	static const struct {
		struct option opt;
		int used_by;
	} all_opts[] = {
		{ { "intents", required_argument, NULL, O_INTENTS }, CMD_ENGINE },
		{ { "templates", required_argument, NULL, O_TEMPLATES }, CMD_ENGINE },
		{ { "registry", required_argument, NULL, O_REGISTRY }, CMD_CLASSIFY | CMD_CHAT | CMD_SERVE },
		{ { "tickets", required_argument, NULL, O_TICKETS }, CMD_CLASSIFY | CMD_CHAT },
		{ { "today", required_argument, NULL, O_TODAY }, CMD_CLASSIFY | CMD_CHAT | CMD_EVAL },
		{ { "lang", required_argument, NULL, O_LANG }, CMD_CLASSIFY | CMD_CHAT },
		{ { "threshold", required_argument, NULL, O_THRESHOLD }, CMD_ENGINE },
		{ { "margin", required_argument, NULL, O_MARGIN }, CMD_ENGINE },
		{ { "max-bytes", required_argument, NULL, O_MAXBYTES }, CMD_ENGINE },
		{ { "jsonl", no_argument, NULL, O_JSONL }, CMD_CLASSIFY },
		{ { "min-exact", required_argument, NULL, O_MINEXACT }, CMD_EVAL },
		{ { "min-escalation-recall", required_argument, NULL, O_MINESC }, CMD_EVAL },
		{ { "max-false-escalation", required_argument, NULL, O_MAXFALSE }, CMD_EVAL },
		{ { "min-lang", required_argument, NULL, O_MINLANG }, CMD_EVAL },
		{ { "examples", required_argument, NULL, O_EXAMPLES }, CMD_EVAL },
		{ { "port", required_argument, NULL, O_PORT }, CMD_SERVE },
		{ { "host", required_argument, NULL, O_HOST }, CMD_SERVE },
		{ { "web", required_argument, NULL, O_WEB }, CMD_SERVE },
		{ { "max-connections", required_argument, NULL, O_MAXCONN }, CMD_SERVE },
		{ { "origins", required_argument, NULL, O_ORIGINS }, CMD_SERVE },
		{ { "session-ttl", required_argument, NULL, O_TTL }, CMD_SERVE },
		{ { "idle-timeout", required_argument, NULL, O_IDLE }, CMD_SERVE },
		{ { "rate", required_argument, NULL, O_RATE }, CMD_SERVE },
		{ { "burst", required_argument, NULL, O_BURST }, CMD_SERVE },
		{ { "queue", required_argument, NULL, O_QUEUE }, CMD_SERVE },
		{ { "redis", required_argument, NULL, O_REDIS }, CMD_SERVE },
		{ { "stream", required_argument, NULL, O_STREAM }, CMD_SERVE },
		{ { "spool", required_argument, NULL, O_SPOOL }, CMD_SERVE },
		{ { "redis-timeout", required_argument, NULL, O_REDIS_TIMEOUT }, CMD_SERVE },
		{ { "event-loop", required_argument, NULL, O_EVENT_LOOP }, CMD_SERVE },
		{ { "offload-above", required_argument, NULL, O_OFFLOAD_ABOVE }, CMD_SERVE },
		{ { "log-buffer", required_argument, NULL, O_LOG_BUFFER }, CMD_SERVE },
		{ { "reuse-port", no_argument, NULL, O_REUSE_PORT }, CMD_SERVE },
		{ { "log-text", no_argument, NULL, O_LOGTEXT }, CMD_SERVE },
		{ { "help", no_argument, NULL, 'h' }, CMD_ENGINE },
	};
	enum { NOPTS = sizeof(all_opts) / sizeof(all_opts[0]) };
	struct option longopts[NOPTS + 1];
	for (size_t k = 0; k < NOPTS; k++)
		longopts[k] = all_opts[k].opt;
	longopts[NOPTS] = (struct option){ NULL, 0, NULL, 0 };
	double x;
	int ch;
	optind = 1;
	/* li is set for the long options alone: "-h" and an unknown option
	 * are every command's. */
	for (int li = -1; (ch = getopt_long(argc, argv, "h", longopts, &li)) != -1; li = -1) {
		if (li >= 0 && !(all_opts[li].used_by & cmd)) {
			fprintf(stderr, "autoassist: --%s is not an option of %s\n",
				longopts[li].name, argv[0]);
			return -1;
		}
		switch (ch) {
		case O_INTENTS: c->intents_dir = optarg; break;
		case O_TEMPLATES: c->templates_dir = optarg; break;
		case O_REGISTRY: c->registry_path = optarg; break;
		case O_TICKETS: c->tickets_path = optarg; break;
		case O_LANG: c->lang = optarg; break;
		case O_JSONL: c->jsonl = true; break;
		case O_TODAY:
			if (slot_date_parse_iso(optarg, &c->today) < 0) {
				fprintf(stderr, "autoassist: --today wants YYYY-MM-DD, not \"%s\"\n", optarg);
				return -1;
			}
			break;
		case O_THRESHOLD:
		case O_MARGIN:
		case O_MINEXACT:
		case O_MINESC:
		case O_MAXFALSE:
		case O_MINLANG:
			if (!parse_double(optarg, 0, 1, &x)) {
				fprintf(stderr, "autoassist: --%s wants a number from 0 to 1, not \"%s\"\n",
					longopts[li].name, optarg);
				return -1;
			}
			if (ch == O_THRESHOLD) c->eo.threshold = x;
			else if (ch == O_MARGIN) c->eo.margin = x;
			else if (ch == O_MINEXACT) c->ev.min_exact = x;
			else if (ch == O_MINESC) c->ev.min_escalation_recall = x;
			else if (ch == O_MAXFALSE) c->ev.max_false_escalation = x;
			else c->ev.min_lang = x;
			break;
		case O_MAXBYTES:
			if (!parse_double(optarg, 16, 1 << 20, &x)) {
				fprintf(stderr, "autoassist: --max-bytes wants 16 to 1048576\n");
				return -1;
			}
			c->eo.max_bytes = (size_t)x;
			break;
		case O_EXAMPLES:
			if (!parse_double(optarg, 0, 1e6, &x)) {
				fprintf(stderr, "autoassist: --examples wants a count\n");
				return -1;
			}
			c->ev.max_examples = (int)x;
			break;
		case O_PORT: case O_HOST: case O_WEB: case O_MAXCONN: case O_ORIGINS:
		case O_TTL: case O_IDLE: case O_RATE: case O_BURST: case O_QUEUE:
		case O_REDIS: case O_STREAM: case O_SPOOL: case O_REDIS_TIMEOUT:
		case O_EVENT_LOOP: case O_OFFLOAD_ABOVE: case O_LOG_BUFFER:
			if (set_serve_opt(c, ch - O_PORT, optarg, longopts[li].name) < 0)
				return -1;
			break;
		case O_LOGTEXT:
			c->ws.log_text = true;
			break;
		case O_REUSE_PORT:
			c->ws.reuse_port = true;
			break;
		case 'h':
			usage(stdout, 0);
			exit(EXIT_OK);
		default:
			return -1;
		}
	}
	return optind;
}

/* Reads the intents, templates and registry file the options name: at
 * the start, and on the server's loader thread for each reload, which is
 * safe since the options no longer change by then. Returns 0, or -1 with a
 * sentence in err and out empty. */
static int load_data(void *arg, struct ws_data *out, char *err, size_t errlen)
{
	const struct cli *c = arg;
	out->registry = NULL;
	if (!(out->engine = engine_load(c->intents_dir, c->templates_dir, &c->eo, err, errlen)))
		return -1;
	if (c->registry_path &&
	    !(out->registry = reg_file_load(c->registry_path, out->engine, err, errlen))) {
		ws_data_free(out);
		return -1;
	}
	return 0;
}

/* Loads the engine and the effects the options ask for. */
static int setup(struct cli *c)
{
	char err[512];
	struct ws_data d;
	if (load_data(c, &d, err, sizeof(err)) < 0) {
		fprintf(stderr, "autoassist: %s\n", err);
		return EXIT_DATA;
	}
	c->engine = d.engine;
	c->reg = d.registry;
	if (!(c->scr = engine_scratch_new(c->engine))) {
		fprintf(stderr, "autoassist: out of memory\n");
		return EXIT_IO;
	}
	if (c->lang && intent_lang_find(engine_pack(c->engine), c->lang) < 0) {
		fprintf(stderr, "autoassist: --lang %s: no such language in %s\n", c->lang,
			c->intents_dir);
		return usage_hint();
	}
	if (c->tickets_path) {
		/* The server's spool file: locked (two runs at once would
		 * number tickets alike), a torn last line ended. */
		c->tickets = l2_spool_open(c->tickets_path, "tickets", err, sizeof(err));
		if (!c->tickets) {
			fprintf(stderr, "autoassist: %s\n", err);
			return EXIT_IO;
		}
		/* Ticket numbers continue the file's lines (a torn one
		 * included), so references stay unique across runs. */
		long lines = l2_spool_lines(c->tickets);
		if (lines < 0) {
			fprintf(stderr, "autoassist: tickets %s: %s\n", c->tickets_path, strerror(errno));
			return EXIT_IO;
		}
		c->ticket_seq = (unsigned)lines;
	}
	return EXIT_OK;
}

static void teardown(struct cli *c)
{
	l2_spool_close(c->tickets);
	reg_file_free(c->reg);
	engine_scratch_free(c->scr);
	engine_free(c->engine);
}

/* The "do" step: the registry lookup, and the ticket when the plan
 * escalates. The ticket is appended and fsync'd before the reply may say
 * it was escalated. */
static void effects(struct cli *c, const struct engine_session *s, const char *session_id,
		    const struct engine_plan *plan, struct engine_results *res)
{
	memset(res, 0, sizeof(*res));
	reg_file_lookup(c->reg, c->engine, plan, res);
	if (!engine_plan_files_ticket(plan) || !c->tickets)
		return;
	char id[64], created[32];
	log_utc_now(created, sizeof(created));
	snprintf(id, sizeof(id), "L2-%04d%02d%02d-%04u", c->today.y, c->today.m, c->today.d,
		 ++c->ticket_seq);
	json_object *t = report_ticket_json(c->engine, s, plan, id, session_id, created);
	res->ticket = ENGINE_TICKET_FAILED;
	if (t && l2_spool_write(c->tickets, t) == 0 && l2_spool_sync(c->tickets) == 0) {
		res->ticket = ENGINE_TICKET_STORED;
		snprintf(res->ticket_ref, sizeof(res->ticket_ref), "%s", id);
	} else {
		/* The failed line was taken back: the number was never given. */
		c->ticket_seq--;
		c->io_failed = true;
	}
	json_object_put(t);
}

static int lang_index(struct cli *c)
{
	return c->lang ? intent_lang_find(engine_pack(c->engine), c->lang) : -1;
}

static int cmd_classify_text(struct cli *c, int argc, char **argv)
{
	size_t len = 0;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *text = malloc(len + 1);
	struct engine_plan *plan = malloc(sizeof(*plan));
	struct engine_reply *reply = malloc(sizeof(*reply));
	int rc = EXIT_IO;
	if (!text || !plan || !reply)
		goto free_all;
	text[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(text, " ");
		strcat(text, argv[i]);
	}
	struct engine_session s;
	struct engine_results res;
	engine_session_init(&s, lang_index(c));
	int drc = engine_decide(c->engine, c->scr, &s, text, strlen(text), c->today, plan);
	if (drc < 0) {
		fprintf(stderr, "autoassist: %s\n", tok_strerror(drc));
		rc = EXIT_FAILED;
		goto free_all;
	}
	effects(c, &s, c->session_id, plan, &res);
	engine_say(c->engine, &s, plan, &res, reply);
	report_human(stdout, c->engine, engine_scratch_tokens(c->scr), plan, reply);
	rc = EXIT_OK;
free_all:
	free(reply);
	free(plan);
	free(text);
	return rc;
}

struct named_session {
	char id[64];
	struct engine_session s;
};

/* The session a --jsonl line names, created on first use. */
static struct engine_session *session_for(struct named_session *tab, size_t *n,
					  const char *id, int lang)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(tab[i].id, id) == 0)
			return &tab[i].s;
	if (*n == MAX_SESSIONS)
		return NULL;
	struct named_session *ns = &tab[(*n)++];
	snprintf(ns->id, sizeof(ns->id), "%s", id);
	engine_session_init(&ns->s, lang);
	return &ns->s;
}

static void put_error(long lineno, const char *code, const char *msg)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(e, "line", json_object_new_int64(lineno));
	json_object_object_add(o, "error", e);
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int cmd_classify_jsonl(struct cli *c)
{
	struct named_session *tab = calloc(MAX_SESSIONS, sizeof(*tab));
	struct engine_plan *plan = malloc(sizeof(*plan));
	struct engine_reply *reply = malloc(sizeof(*reply));
	size_t out_max = REPORT_JSON_MAX(c->eo.max_bytes);
	char *outbuf = malloc(out_max);
	json_tokener *tok = report_tokener_new(REPORT_MAX_DEPTH);
	char *line = NULL;
	size_t cap = 0, nsess = 0;
	long lineno = 0;
	int rc = EXIT_IO;
	if (!tab || !plan || !reply || !outbuf || !tok)
		goto free_all;
	rc = EXIT_OK;
	for (ssize_t n; (n = getline(&line, &cap, stdin)) > 0;) {
		lineno++;
		const char *why;
		json_object *in = report_parse_object_tok(tok, line, (size_t)n, &why, NULL), *v;
		const char *text = NULL, *sid = NULL, *lang = c->lang;
		if (!in) {
			put_error(lineno, "bad_json", why);
			rc = EXIT_FAILED;
			continue;
		}
		if (json_object_object_get_ex(in, "text", &v) && json_object_is_type(v, json_type_string))
			text = json_object_get_string(v);
		/* A session names a conversation by its bytes, kept in a
		 * named_session's id: a longer one, or one with U+0000, would
		 * be cut there and share a conversation it does not name. */
		bool bad_sid = false;
		if (json_object_object_get_ex(in, "session", &v) && !json_object_is_type(v, json_type_null)) {
			sid = json_object_get_string(v);
			size_t sl = (size_t)json_object_get_string_len(v);
			bad_sid = !json_object_is_type(v, json_type_string) ||
				  sl >= sizeof(tab[0].id) || strlen(sid) != sl;
		}
		if (json_object_object_get_ex(in, "lang", &v) && json_object_is_type(v, json_type_string))
			lang = json_object_get_string(v);
		int li = lang ? intent_lang_find(engine_pack(c->engine), lang) : -1;
		struct engine_session single, *s = &single;
		if (!text) {
			put_error(lineno, "bad_text", "\"text\" is missing or not a string");
			rc = EXIT_FAILED;
		} else if (lang && li < 0) {
			put_error(lineno, "bad_lang", "\"lang\" is not one of the pack's languages");
			rc = EXIT_FAILED;
		} else if (bad_sid) {
			put_error(lineno, "bad_session",
				  "\"session\" must be a string of at most 63 bytes, without U+0000");
			rc = EXIT_FAILED;
		} else if (sid && !(s = session_for(tab, &nsess, sid, li))) {
			put_error(lineno, "too_many_sessions", "more than 1024 sessions in one run");
			rc = EXIT_FAILED;
		} else {
			if (!sid)
				engine_session_init(s, li);
			else
				engine_session_set_lang(s, li); /* as a hello's lang does */
			size_t tlen = (size_t)json_object_get_string_len(json_object_object_get(in, "text"));
			int drc = engine_decide(c->engine, c->scr, s, text, tlen, c->today, plan);
			if (drc < 0) {
				put_error(lineno, drc == -TOK_EUTF8 ? "bad_utf8" :
					  drc == -TOK_ETOOLONG ? "too_long" : "bad_text",
					  tok_strerror(drc));
				rc = EXIT_FAILED;
			} else {
				struct engine_results res;
				effects(c, s, sid ? sid : c->session_id, plan, &res);
				engine_say(c->engine, s, plan, &res, reply);
				if (report_write_json(c->engine, plan, reply, outbuf, out_max) < 0) {
					put_error(lineno, "internal", "the result does not fit");
					rc = EXIT_FAILED;
				} else {
					puts(outbuf);
				}
			}
		}
		json_object_put(in);
	}
free_all:
	if (tok)
		json_tokener_free(tok);
	free(outbuf);
	free(line);
	free(reply);
	free(plan);
	free(tab);
	return rc;
}

static int cmd_chat(struct cli *c)
{
	struct engine_plan *plan = malloc(sizeof(*plan));
	struct engine_reply *reply = malloc(sizeof(*reply));
	struct engine_session s;
	char *line = NULL;
	size_t cap = 0;
	bool tty = isatty(STDIN_FILENO);
	int rc = EXIT_IO;
	if (!plan || !reply)
		goto free_all;
	engine_session_init(&s, lang_index(c));
	if (tty)
		printf("autoassist chat: write as a customer would; /reset starts over, "
		       "/quit ends.\n");
	for (;;) {
		if (tty) {
			printf("you> ");
			fflush(stdout);
		}
		ssize_t n = getline(&line, &cap, stdin);
		if (n <= 0)
			break;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		/* By length: "/quit" and a NUL is a message (refused), no command. */
		if (n == 5 && memcmp(line, "/quit", 5) == 0)
			break;
		if (n == 6 && memcmp(line, "/reset", 6) == 0) {
			engine_session_init(&s, lang_index(c));
			printf("(new conversation)\n");
			continue;
		}
		int drc = engine_decide(c->engine, c->scr, &s, line, (size_t)n, c->today, plan);
		if (drc < 0) {
			printf("(not sent: %s)\n", tok_strerror(drc));
			continue;
		}
		struct engine_results res;
		effects(c, &s, c->session_id, plan, &res);
		engine_say(c->engine, &s, plan, &res, reply);
		printf("assistant> %s\n", reply->text);
		fflush(stdout);
	}
	rc = EXIT_OK;
free_all:
	free(line);
	free(reply);
	free(plan);
	return rc;
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_flag = 1;
	else
		stop_flag = 1;
}

/* The server's signals, caught before the data is loaded: a reload or a
 * stop sent while a large registry loads must not end the process with
 * the default action. A stop then stops the server as soon as it runs; a
 * reload reads the files again. No SA_RESTART: the signal must interrupt
 * the loop's poll() so it sees the flag at once. */
static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Descriptors the server holds besides its connections: the listener,
 * the event loop's, the Redis link, the spool, stderr, and the data files
 * while a reload reads them. */
#define FD_RESERVE 256

/* Raises the soft limit on open descriptors, as far as the hard one
 * allows, to what max_connections take, twice over for connections still
 * in their HTTP upgrade, which --max-connections does not count. Past the
 * limit the kernel refuses accept() and libwebsockets tries again at
 * once, a core busy until sockets close; a common soft limit of 1024 is
 * far below the default 10,000 connections. Warns when the limit stays
 * below what max_connections take. */
static void raise_fd_limit(unsigned max_connections)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = 2 * (rlim_t)max_connections + FD_RESERVE;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		struct rlimit up = rl;
		up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)max_connections + FD_RESERVE)
		return;
	json_object *f = json_object_new_object();
	json_object_object_add(f, "limit", json_object_new_int64((int64_t)rl.rlim_cur));
	json_object_object_add(f, "max_connections", json_object_new_int64(max_connections));
	json_object_object_add(f, "message", json_object_new_string(
		"open file limit below --max-connections: raise it (ulimit -n, LimitNOFILE=) "
		"or lower --max-connections"));
	log_event("warn", "fd_limit", f);
}

/* libwebsockets' own warnings and errors, as JSON lines like ours, a
 * repeated one at most once a second. */
static void lws_log(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	log_repeating(level == LLL_ERR ? "error" : "warn", "lws", line, n);
}

static int cmd_serve(struct cli *c)
{
	char err[256];
	c->ws.max_bytes = c->eo.max_bytes;
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
	/* Every message gets a log line: a thread writes them (see log.h), so
	 * a stderr that stalls does not stall the server. The default, 4 MiB,
	 * holds about 25,000 lines, a quarter of a second at full load. */
	if (log_start(c->log_buffer) < 0) {
		json_object *f = json_object_new_object();
		json_object_object_add(f, "message", json_object_new_string(
			"no thread or buffer for the log writer: lines are written at once"));
		log_event("warn", "log_writer", f);
	}
	raise_fd_limit(c->ws.max_connections);
	c->ws.load = load_data;
	c->ws.load_arg = c;
	/* The server owns the engine and registry from here: a reload
	 * replaces them. */
	struct ws_data d = { c->engine, c->reg };
	c->engine = NULL;
	c->reg = NULL;
	struct ws_server *srv = ws_server_new(&c->ws, &d, err, sizeof(err));
	if (!srv) {
		json_object *f = json_object_new_object();
		json_object_object_add(f, "message", json_object_new_string(err));
		log_event("error", "start", f);
		log_stop();
		return EXIT_IO;
	}
	printf("autoassist: serving on http://%s:%d/ (WebSocket at /ws)\n",
	       c->ws.iface ? c->ws.iface : "localhost", c->ws.port);
	fflush(stdout);
	int rc = ws_server_run(srv, &stop_flag, &reload_flag);
	ws_server_free(srv);
	log_stop();
	return rc == 0 ? EXIT_OK : EXIT_IO;
}

/* The technicians' and operators' Redis commands; they parse their own
 * options (see l2cli.h). */
static int cmd_l2(struct cli *c, int argc, char **argv)
{
	/* What is not set is left to l2cli's defaults. */
	struct l2cli_env env = {
		.redis_url = getenv("AUTOASSIST_REDIS"),
		.redis_user = getenv("AUTOASSIST_REDIS_USER"),
		.redis_password = getenv("AUTOASSIST_REDIS_PASSWORD"),
		.stream = getenv("AUTOASSIST_STREAM"),
		.max_deliveries = getenv("AUTOASSIST_MAX_DELIVERIES"),
	};
	struct engine *e = NULL;
	/* Only "registry load" needs the street words, for address keys. */
	if (strcmp(argv[0], "registry") == 0 && argc > 1 && strcmp(argv[1], "load") == 0) {
		char err[512];
		if (!(e = engine_load(c->intents_dir, c->templates_dir, &c->eo, err, sizeof(err)))) {
			fprintf(stderr, "autoassist: %s\n", err);
			return EXIT_DATA;
		}
	}
	env.engine = e;
	int rc = l2cli_run(argc, argv, &env);
	engine_free(e);
	return rc;
}

/* A descriptor 0, 1 or 2 the caller closed would go to the next file or
 * socket opened (the ticket file, the Redis connection), and what is
 * written to stdout into it: customer text as Redis commands. Each is
 * held by /dev/null instead, stdout read-only, so that writing to it
 * still fails and is told. */
static void hold_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", fd == 2 ? O_WRONLY : O_RDONLY) != fd)
			_exit(EXIT_IO);
}

int main(int argc, char **argv)
{
	hold_std_fds();
	struct cli c = { 0 };
	engine_opts_default(&c.eo);
	eval_opts_default(&c.ev);
	c.intents_dir = env_or("AUTOASSIST_INTENTS", AUTOASSIST_SOURCE_DIR "/intents");
	c.templates_dir = env_or("AUTOASSIST_TEMPLATES", AUTOASSIST_SOURCE_DIR "/templates");
	ws_config_default(&c.ws);
	c.log_buffer = 4u << 20;
	c.ws.web_dir = AUTOASSIST_SOURCE_DIR "/web";
	snprintf(c.session_id, sizeof(c.session_id), "cli-%ld", (long)getpid());
	/* Today in UTC: the Unix epoch counts UTC days of 86,400 s. */
	c.today = slot_date_from_days((int32_t)(time(NULL) / 86400));

	if (argc < 2)
		return usage(stderr, EXIT_USAGE);
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0)
		return usage(stdout, EXIT_OK);
	if (strcmp(cmd, "l2") == 0 || strcmp(cmd, "registry") == 0)
		return cmd_l2(&c, argc - 1, argv + 1);
	int cmd_bit = strcmp(cmd, "classify") == 0 ? CMD_CLASSIFY
		    : strcmp(cmd, "eval") == 0	   ? CMD_EVAL
		    : strcmp(cmd, "chat") == 0	   ? CMD_CHAT
		    : strcmp(cmd, "serve") == 0	   ? CMD_SERVE
						   : 0;
	if (!cmd_bit) {
		fprintf(stderr, "autoassist: unknown command \"%s\"\n", cmd);
		return usage_hint();
	}
	/* eval checks no fact against a registry: its variable is not read. */
	if (cmd_bit != CMD_EVAL)
		c.registry_path = getenv("AUTOASSIST_REGISTRY");
	if (cmd_bit == CMD_SERVE && serve_env_opts(&c) < 0)
		return usage_hint();
	int first = parse_opts(&c, cmd_bit, argc - 1, argv + 1);
	if (first < 0)
		return usage_hint();
	char **args = argv + 1 + first;
	int nargs = argc - 1 - first;
	c.ev.today = c.today;

	bool ok_args = cmd_bit == CMD_CLASSIFY ? (c.jsonl ? nargs == 0 : nargs > 0)
		     : cmd_bit == CMD_EVAL   ? nargs == 1
					     : nargs == 0;
	if (!ok_args) {
		fprintf(stderr, "autoassist: wrong arguments for %s\n", cmd);
		return usage_hint();
	}
	if (cmd_bit == CMD_SERVE) {
		/* A mistyped web directory would otherwise show only as 404s
		 * for the widget, and only after the data had loaded. */
		struct stat st;
		const char *why = stat(c.ws.web_dir, &st) < 0 ? strerror(errno)
				  : !S_ISDIR(st.st_mode)	  ? "not a directory"
								  : NULL;
		if (why) {
			fprintf(stderr, "autoassist: web directory %s (--web, AUTOASSIST_WEB): %s\n",
				c.ws.web_dir, why);
			return EXIT_DATA;
		}
		catch_signals();
	}
	int rc = setup(&c);
	if (rc == EXIT_OK) {
		if (cmd_bit == CMD_EVAL) {
			int er = eval_run(c.engine, args[0], &c.ev, stdout);
			rc = er < 0 ? EXIT_IO : er ? EXIT_FAILED : EXIT_OK;
		} else if (cmd_bit == CMD_CHAT) {
			rc = cmd_chat(&c);
		} else if (cmd_bit == CMD_SERVE) {
			rc = cmd_serve(&c);
		} else if (c.jsonl) {
			rc = cmd_classify_jsonl(&c);
		} else {
			rc = cmd_classify_text(&c, nargs, args);
		}
	}
	teardown(&c);
	/* Input that could not be read, output that could not be written (a
	 * directory, a full disk, a closed stdout) and a ticket that could
	 * not be recorded are input/output errors, whatever else happened.
	 * Not for serve: stdout is not its output (a supervisor that closed
	 * it must still see a clean stop as one). */
	if (cmd_bit == CMD_SERVE)
		return rc;
	if (ferror(stdin)) {
		fprintf(stderr, "autoassist: cannot read the input\n");
		rc = EXIT_IO;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "autoassist: cannot write the output\n");
		rc = EXIT_IO;
	}
	if (c.io_failed)
		rc = EXIT_IO;
	return rc;
}
