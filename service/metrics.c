/* metrics: Prometheus text rendering. See include/metrics.h. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const metrics_error_codes[METRICS_MAX_CODES] = {
	"bad_json", "bad_type", "bad_text", "bad_lang", "too_deep", "bad_utf8", "too_long",
	"rate_limited", "bad_session", "bad_id", "binary", "slow_reader", "idle_timeout", "internal",
	"other",
};

/* Upper bounds of the latency buckets, in seconds. */
static const double bounds[METRICS_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
};

void metrics_error(struct metrics *m, const char *code)
{
	size_t other = 0;
	for (size_t i = 0; i < METRICS_MAX_CODES && metrics_error_codes[i]; i++) {
		if (strcmp(metrics_error_codes[i], code) == 0) {
			m->errors_by_code[i]++;
			return;
		}
		if (strcmp(metrics_error_codes[i], "other") == 0)
			other = i;
	}
	m->errors_by_code[other]++;
}

void metrics_latency(struct metrics *m, double seconds)
{
	size_t b = 0;
	while (b < METRICS_BUCKETS && seconds > bounds[b])
		b++;
	m->latency_buckets[b]++;
	m->latency_sum += seconds;
	m->latency_count++;
}

struct out {
	char *p;
	size_t cap, len;
	int rc;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->len, o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0 || o->len + (size_t)n >= o->cap)
		o->rc = -1;
	else
		o->len += (size_t)n;
}

/* A metric family's HELP and TYPE lines. */
static void family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family with one value and no labels. */
static void scalar(struct out *o, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	family(o, name, type, help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

/* A counter family by result: one that went well (its label good) and
 * one that failed. */
static void by_result(struct out *o, const char *name, const char *help, const char *good,
		      uint64_t ok, uint64_t failed)
{
	family(o, name, "counter", help);
	put(o, "%s{result=\"%s\"} %llu\n", name, good, (unsigned long long)ok);
	put(o, "%s{result=\"failed\"} %llu\n", name, (unsigned long long)failed);
}

int metrics_render(const struct metrics *m, const struct intent_pack *p,
		   char *out, size_t cap)
{
	struct out o = { out, cap, 0, 0 };
	scalar(&o, "autoassist_connections_open", "gauge", "WebSocket connections open now.",
	       m->connections_open);
	scalar(&o, "autoassist_connections_total", "counter", "WebSocket connections accepted.",
	       m->connections_total);
	scalar(&o, "autoassist_connections_rejected_total", "counter",
	       "Connections refused (origin, limit, path, shutting down).",
	       m->connections_rejected);
	scalar(&o, "autoassist_sessions_open", "gauge", "Conversations held in memory.",
	       m->sessions_open);
	scalar(&o, "autoassist_messages_total", "counter", "Customer messages received.",
	       m->messages_total);
	family(&o, "autoassist_replies_total", "counter", "Replies by intent answered.");
	for (size_t i = 0; i < intent_count(p); i++)
		put(&o, "autoassist_replies_total{intent=\"%s\"} %llu\n", intent_name(p, i),
		    (unsigned long long)m->replies_by_intent[i]);
	put(&o, "autoassist_replies_total{intent=\"fallback\"} %llu\n",
	    (unsigned long long)m->fallbacks_total);
	put(&o, "autoassist_replies_total{intent=\"closing\"} %llu\n",
	    (unsigned long long)m->closings_total);
	scalar(&o, "autoassist_escalations_total", "counter", "Messages escalated to L2.",
	       m->escalations_total);
	by_result(&o, "autoassist_tickets_total",
		  "L2 tickets by what the reply said: stored (in Redis or the spool) or failed.",
		  "stored", m->tickets_stored, m->tickets_failed);
	by_result(&o, "autoassist_reloads_total",
		  "Reloads of the intents, templates and registry file (SIGHUP), by result.",
		  "ok", m->reloads_ok, m->reloads_failed);
	if (m->redis_up >= 0) {
		scalar(&o, "autoassist_redis_up", "gauge",
		       "1 when the last Redis command succeeded, else 0.", (uint64_t)m->redis_up);
		scalar(&o, "autoassist_spool_pending", "gauge",
		       "1 while tickets wait in the spool for Redis, else 0.",
		       (uint64_t)m->spool_pending);
		scalar(&o, "autoassist_tickets_spooled_total", "counter",
		       "Tickets stored in the spool file, Redis being down or the spool not empty.",
		       m->tickets_spooled);
		scalar(&o, "autoassist_spool_drained_total", "counter",
		       "Spooled tickets moved on to Redis, an earlier run's included.",
		       m->spool_drained);
	}
	scalar(&o, "autoassist_log_lines_dropped_total", "counter",
	       "Log lines not written: stderr stalled (a slow disk, a pipe no one reads) or failed.",
	       m->log_dropped);
	family(&o, "autoassist_errors_total", "counter", "Error frames and protocol closes by code.");
	for (size_t i = 0; i < METRICS_MAX_CODES && metrics_error_codes[i]; i++)
		put(&o, "autoassist_errors_total{code=\"%s\"} %llu\n", metrics_error_codes[i],
		    (unsigned long long)m->errors_by_code[i]);
	family(&o, "autoassist_reply_seconds", "histogram",
	       "Time from a message to its reply frame.");
	uint64_t cum = 0;
	for (size_t b = 0; b < METRICS_BUCKETS; b++) {
		cum += m->latency_buckets[b];
		put(&o, "autoassist_reply_seconds_bucket{le=\"%g\"} %llu\n", bounds[b],
		    (unsigned long long)cum);
	}
	cum += m->latency_buckets[METRICS_BUCKETS];
	put(&o, "autoassist_reply_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	put(&o, "autoassist_reply_seconds_sum %.9f\nautoassist_reply_seconds_count %llu\n",
	    m->latency_sum, (unsigned long long)m->latency_count);
	return o.rc < 0 ? -1 : (int)o.len;
}

void metrics_move_intents(struct metrics *m, const struct intent_pack *from,
			  const struct intent_pack *to)
{
	uint64_t by[INTENT_MAX] = { 0 };
	for (size_t i = 0; i < intent_count(from); i++) {
		int j = intent_find(to, intent_name(from, i));
		if (j >= 0)
			by[j] = m->replies_by_intent[i];
	}
	memcpy(m->replies_by_intent, by, sizeof(by));
}
