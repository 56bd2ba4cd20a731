/* rw: the server's Redis worker. One thread owns the Redis connection and
 * the spool and runs the effects of a message (the registry lookup, the L2
 * ticket, the profile link) with blocking calls and timeouts, so the event
 * loop never waits on Redis. Finished jobs are handed back to the loop: the
 * worker calls the wake function (lws_cancel_service) when a job is done and
 * none was waiting, and the loop takes them with rw_take_done until there
 * are none left.
 *
 * Threads: rw_new, rw_submit, rw_take_done, rw_state,
 * rw_stop and rw_free are called on the loop thread; the job's work runs
 * on the worker thread. */
#ifndef AUTOASSIST_RW_H
#define AUTOASSIST_RW_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "l2.h"

enum rw_kind {
	RW_EFFECTS,       /* a message's registry lookup and ticket */
	RW_SAVE_SESSION,  /* store session (packed) under session_id */
	RW_LOAD_SESSION,  /* read the session of session_id */
};

struct rw_job {
	struct rw_job *next;
	void *owner;                 /* the connection waiting, or NULL */
	uint8_t kind;                /* enum rw_kind */
	/* In: */
	const struct engine *engine; /* the plan's; must outlive the job */
	const struct engine_plan *plan_copy; /* owned by the job: plan and text */
	json_object *ticket;         /* the L2 ticket to store, or NULL; owned */
	char session_id[40];         /* the profile an address links to */
	bool skip_lookup;            /* the registry was answered already */
	/* Saved, or loaded (found says so): engine_session_pack's bytes, and
	 * the replies kept beside them (owned by the job). */
	unsigned char session[ENGINE_SESSION_BYTES];
	size_t session_len;
	struct sess_stored kept;
	int ttl;                     /* seconds a saved session is kept */
	bool renew;                  /* saved only where Redis has none */
	/* Out: */
	bool found;                  /* RW_LOAD_SESSION: Redis had it */
	bool saved;                  /* RW_SAVE_SESSION: Redis took it... */
	bool partly;                 /* ...but may lack replies the server keeps */
	struct engine_results res;
};

struct rw_config {
	struct l2_redis redis;
	const char *stream;
	const char *spool_path;
	double retry_interval;       /* seconds between reconnects / drains */
};

struct rw;

/* Opens the spool and starts the worker thread. wake(arg) is called on
 * the worker thread when a job is done. Returns NULL with a sentence in
 * err. */
struct rw *rw_new(const struct rw_config *cfg, void (*wake)(void *), void *arg,
		  char *err, size_t errlen);

/* Stops the thread after the jobs already submitted are done; their
 * results stay for rw_take_done. */
void rw_stop(struct rw *w);

/* Stops the thread if it still runs and frees everything, jobs not yet
 * taken included. */
void rw_free(struct rw *w);

/* Hands a job to the worker; the worker owns it until rw_take_done gives
 * it back. */
void rw_submit(struct rw *w, struct rw_job *job);

/* A finished job, in submission order, or NULL. The caller owns it and
 * frees it with rw_job_free. A wake-up asks for every job done by then:
 * call it until it returns NULL. */
struct rw_job *rw_take_done(struct rw *w);

/* Starts one of the server's helper threads (the Redis worker, a reload's
 * loader) running fn(arg), with the signals the loop thread waits for
 * blocked in it. It lives here, with the thread it was first written for,
 * rather than in a module of its own for one function. Returns 0 or a
 * negated errno value. */
int rw_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* Creates a job with copies of plan (and the text it refers to), which
 * engine e decided. Returns NULL when memory is short. */
struct rw_job *rw_job_new(const struct engine *e, const struct engine_plan *plan);
void rw_job_free(struct rw_job *job);

struct rw_state {
	bool redis_ok;       /* the last Redis command succeeded */
	bool spool_pending;  /* tickets wait in the spool */
	uint64_t outages;    /* times Redis began to fail */
	uint64_t spooled;    /* tickets stored in the spool (fsync'd) */
	uint64_t drained;    /* spooled tickets moved on to Redis */
	uint64_t spool_failed; /* tickets the spool could not take (unrecorded) */
	char why[256];       /* why Redis failed last ("" when it never did) */
	char spool_why[128]; /* why the spool failed last ("" when it never did) */
};

/* What the worker has seen so far, for /healthz, /metrics and the log. The
 * counts are read after the flags and the worker changes them before the
 * flags, so they are never older: a spool seen empty comes with every
 * ticket drained from it, a spool seen holding tickets with the outage
 * that sent them there. */
void rw_state(struct rw *w, struct rw_state *out);

#endif
