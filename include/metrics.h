/* metrics: the server's counters and latency histogram, rendered in the
 * Prometheus text format at GET /metrics. Plain data owned by the server;
 * touched only on the event loop thread. */
#ifndef AUTOASSIST_METRICS_H
#define AUTOASSIST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "intent.h"

#define METRICS_BUCKETS 12
#define METRICS_MAX_CODES 16

struct metrics {
	uint64_t connections_total, connections_open, connections_rejected;
	uint64_t messages_total, escalations_total, fallbacks_total, closings_total;
	/* L2 tickets by what the reply said: stored (in Redis or the spool)
	 * or failed. */
	uint64_t tickets_stored, tickets_failed;
	uint64_t reloads_ok, reloads_failed;
	uint64_t replies_by_intent[INTENT_MAX];
	uint64_t errors_by_code[METRICS_MAX_CODES];
	uint64_t latency_buckets[METRICS_BUCKETS + 1]; /* the last is +Inf */
	double latency_sum;
	uint64_t latency_count;
	uint64_t sessions_open; /* set from the session store when rendered */
	uint64_t log_dropped;   /* set from the log writer when rendered */
	/* Set from the Redis worker when rendered; redis_up is -1 without
	 * Redis configured, and none of these is written then. */
	int redis_up, spool_pending;
	uint64_t tickets_spooled, spool_drained;
};

/* The error codes counted, in the order of errors_by_code. */
extern const char *const metrics_error_codes[METRICS_MAX_CODES];

/* Counts an error frame or close by its code (unknown codes count as
 * "other"). */
void metrics_error(struct metrics *m, const char *code);

/* Records one message → reply latency in seconds. */
void metrics_latency(struct metrics *m, double seconds);

/* A reload replaced pack from with pack to: the replies counted for an
 * intent follow its name; an intent to lacks takes its count away. */
void metrics_move_intents(struct metrics *m, const struct intent_pack *from,
			  const struct intent_pack *to);

/* Renders every metric as Prometheus text into out. Returns the length,
 * or -1 when it does not fit. */
int metrics_render(const struct metrics *m, const struct intent_pack *p,
		   char *out, size_t cap);

#endif
