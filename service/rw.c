/* rw: the Redis worker thread. See include/rw.h. */
#include "rw.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rw {
	struct rw_config cfg;
	void (*wake)(void *);
	void *arg;
	struct l2_spool *spool;
	redisContext *rc;        /* worker thread only */
	double next_try;         /* worker thread only: when to reconnect, drain, write again */
	double drain_after;      /* worker thread only: the spool's files failed */
	/* Worker thread only: the outage began with a write Redis refused (out
	 * of memory, read-only). Connecting again does not end such an outage,
	 * since Redis answers PING all along; a write taken does. Meanwhile
	 * the link stays up for reads (registry lookups, conversations), and
	 * writes wait for next_try (writes_paused). */
	bool refused;
	/* Worker thread only: the write was refused by the user's ACL. The
	 * probe's XGROUP CREATE may well be allowed, so only a ticket taken
	 * ends such an outage: the spool's drain, once a retry interval. */
	bool forbidden;

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rw_job *in_head, *in_tail;   /* under mu */
	struct rw_job *out_head, *out_tail; /* under mu */
	bool stopping;                      /* under mu */
	/* What the loop reads of the worker (rw_state): Redis' health, and the
	 * outages and tickets spooled and drained so far, counted here so that
	 * none is missed between two looks; and whether Redis was tried yet,
	 * for set_redis. */
	atomic_bool redis_ok, redis_known, spool_pending;
	atomic_uint_fast64_t outages, spooled, drained, spool_failed;
	char why[256];                      /* under mu: the last failure */
	char spool_why[128];                /* under mu: the spool's last failure */
};

/* Writes sent to Redis before their replies are read, at most. */
#define PIPE_MAX 64

/* Spooled lines read between two batches of jobs (a few more may go
 * with the last transaction): a long spool drains a slice at a time, so
 * lookups and new tickets do not wait for all of it. */
#define DRAIN_SLICE 256

/* The plan and the message text it points into, copied together. */
struct plan_copy {
	struct engine_plan plan;
	char text[];
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Worker thread: keeps why Redis failed last, for the log's redis_down
 * (never a password: l2_connect's sentences hold none). */
static void say_why(struct rw *w, const char *why)
{
	pthread_mutex_lock(&w->mu);
	snprintf(w->why, sizeof(w->why), "%s", why);
	pthread_mutex_unlock(&w->mu);
}

/* Worker thread: records what Redis just answered. An outage begins when a
 * command fails after one succeeded, or when the first attempt does. */
static void set_redis(struct rw *w, bool ok)
{
	bool was = atomic_exchange(&w->redis_ok, ok);
	bool known = atomic_exchange(&w->redis_known, true);
	if (!ok && (was || !known))
		atomic_fetch_add(&w->outages, 1);
}

int rw_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	/* SIGTERM, SIGINT and SIGHUP belong to the loop thread, whose poll()
	 * they must interrupt: the thread starts with them blocked. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc ? -rc : 0;
}

struct rw_job *rw_job_new(const struct engine *e, const struct engine_plan *plan)
{
	struct rw_job *j = calloc(1, sizeof(*j));
	struct plan_copy *pc = malloc(sizeof(*pc) + plan->len + 1);
	if (!j || !pc) {
		free(j);
		free(pc);
		return NULL;
	}
	pc->plan = *plan;
	memcpy(pc->text, plan->text, plan->len);
	pc->text[plan->len] = '\0';
	pc->plan.text = pc->text;
	/* The hits point into the loop's scratch, which the next message
	 * reuses; the worker has no use for them. */
	pc->plan.ir.hits = NULL;
	pc->plan.ir.nhits = 0;
	j->plan_copy = &pc->plan;
	j->engine = e;
	return j;
}

void rw_job_free(struct rw_job *j)
{
	if (!j)
		return;
	free((struct plan_copy *)(void *)j->plan_copy);
	json_object_put(j->ticket);
	sess_stored_free(&j->kept);
	free(j);
}

/* Worker thread: a connection, made again when the last one failed and the
 * retry interval has passed. NULL when Redis is not there. */
static redisContext *conn(struct rw *w)
{
	if (w->rc && !w->rc->err)
		return w->rc;
	if (w->rc) {
		redisFree(w->rc);
		w->rc = NULL;
	}
	double now = mono();
	if (now < w->next_try) {
		set_redis(w, false);
		return NULL;
	}
	char err[256] = "";
	w->rc = l2_connect(&w->cfg.redis, err, sizeof(err));
	if (!w->rc || l2_ensure_group(w->rc, w->cfg.stream, err, sizeof(err)) < 0) {
		if (w->rc) {
			redisFree(w->rc);
			w->rc = NULL;
		}
		w->next_try = now + w->cfg.retry_interval;
		say_why(w, err);
		set_redis(w, false);
		return NULL;
	}
	set_redis(w, !w->refused);
	return w->rc;
}

/* Worker thread: Redis took a write that may grow its memory (a ticket, a
 * spooled one, the probe's), which ends any outage: OOM and read-only
 * refuse those. */
static void wrote(struct rw *w)
{
	w->refused = false;
	w->forbidden = false;
	set_redis(w, true);
}

/* Worker thread: notes a failed command. A failed link is made again
 * after the retry interval. A command Redis refused (OOM, READONLY) leaves
 * the link up but means Redis is not taking writes: an outage of refused
 * writes. refusal is Redis' error line, read with every reply the link
 * owed, so the link stays for reads; without it (NULL or "") replies may
 * be left unread, and the link is made again too. */
static void failed(struct rw *w, const char *refusal)
{
	char why[sizeof(w->why)];
	bool said = refusal && refusal[0];
	say_why(w, w->rc && w->rc->err && w->rc->errstr[0] ? l2_strerror(w->rc, why, sizeof(why))
		   : said ? refusal
		   : "Redis refused a command (out of memory or read-only)");
	set_redis(w, false);
	if (w->rc && !w->rc->err) {
		w->refused = true;
		w->forbidden = said && l2_forbidden(refusal);
		if (!said)
			w->rc->err = REDIS_ERR_OTHER;
	}
	w->next_try = mono() + w->cfg.retry_interval;
}

/* Worker thread: whether writes wait, Redis having refused one less than
 * a retry interval ago: tickets go to the spool meanwhile, and nothing is
 * sent that Redis would refuse again at once. */
static bool writes_paused(const struct rw *w)
{
	return w->refused && mono() < w->next_try;
}

/* Worker thread: conn for a write; NULL also while writes are paused. */
static redisContext *write_conn(struct rw *w)
{
	return writes_paused(w) ? NULL : conn(w);
}

/* Worker thread: what a batch has sent or written and not yet confirmed.
 * The writes sent to Redis whose replies are not read yet go in one
 * MULTI/EXEC transaction: one round trip, not one each, and with
 * appendfsync always one fsync, since Redis writes a transaction to its
 * append-only file at EXEC (writes merely sent back to back got an fsync
 * for every 16 KB it read of them). Tickets written to the spool share one
 * fsync the same way. */
struct pipe {
	redisContext *rc;            /* the connection they went out on */
	bool open;                   /* MULTI sent */
	struct rw_job *jobs[PIPE_MAX];
	unsigned n;
	struct rw_job *spooled[PIPE_MAX]; /* in the spool, not synced yet */
	unsigned nspooled;
};

/* The job's ticket is stored: its reference goes back with it, or ref,
 * the reference Redis has for it, when a copy sent before (on another
 * day, after a dropped connection) got there first. */
static void stored(struct rw_job *j, const char *ref)
{
	json_object *id_v;
	j->res.ticket = ENGINE_TICKET_STORED;
	if (!ref || strncmp(ref, "L2-", 3) != 0)
		ref = json_object_object_get_ex(j->ticket, "ticket_id", &id_v)
			? json_object_get_string(id_v) : "";
	snprintf(j->res.ticket_ref, sizeof(j->res.ticket_ref), "%s", ref);
}

/* Worker thread: n tickets the spool could not take, for err (a negative
 * errno): the loop logs them, since their customers were told so. */
static void spool_failure(struct rw *w, int err, unsigned n)
{
	char buf[128];
	pthread_mutex_lock(&w->mu);
	snprintf(w->spool_why, sizeof(w->spool_why), "%s", strerror_r(-err, buf, sizeof(buf)));
	pthread_mutex_unlock(&w->mu);
	atomic_fetch_add(&w->spool_failed, n);
}

/* Worker thread: writes a ticket to the spool; it counts as recorded once
 * commit has synced it. */
static void spool_ticket(struct rw *w, struct pipe *p, struct rw_job *j)
{
	int rc = l2_spool_write(w->spool, j->ticket);
	if (rc == 0)
		p->spooled[p->nspooled++] = j;
	else
		spool_failure(w, rc, 1);
}

/* Worker thread: one fsync for the tickets the batch wrote to the spool.
 * When it fails they are taken back and stay unrecorded. The counts change
 * before the flag, so the loop never sees a spool emptied without the
 * tickets that went through it. */
static void commit(struct rw *w, struct pipe *p)
{
	if (!p->nspooled)
		return;
	int rc = l2_spool_sync(w->spool);
	if (rc == 0) {
		for (unsigned k = 0; k < p->nspooled; k++)
			stored(p->spooled[k], NULL);
		atomic_fetch_add(&w->spooled, p->nspooled);
	} else {
		spool_failure(w, rc, p->nspooled);
	}
	p->nspooled = 0;
	atomic_store(&w->spool_pending, l2_spool_pending(w->spool));
}

/* Worker thread: moves a slice of the spooled tickets to Redis, oldest
 * first. When the spool's files fail, it waits a retry interval before
 * trying again; Redis is not to blame for that. */
static void drain(struct rw *w)
{
	if (!l2_spool_pending(w->spool) || mono() < w->drain_after)
		return;
	redisContext *rc = write_conn(w);
	if (!rc)
		return;
	unsigned moved;
	char refusal[128];
	int drc = l2_spool_drain(w->spool, rc, w->cfg.stream, DRAIN_SLICE, &moved, refusal,
				 sizeof(refusal));
	atomic_fetch_add(&w->drained, moved);
	/* A slice refused part way through leaves the outage on. */
	if (drc == -1)
		failed(w, refusal);
	else if (moved)
		wrote(w);
	if (drc == -2)
		w->drain_after = mono() + w->cfg.retry_interval;
	atomic_store(&w->spool_pending, l2_spool_pending(w->spool));
}

/* Worker thread: sends EXEC and reads the replies to what the pipe holds,
 * in order. Once one fails, the connection is not trusted for the rest:
 * their tickets go to the spool in order (adding a ticket is idempotent,
 * so one that did reach Redis is not added twice when the spool drains). */
static void flush(struct rw *w, struct pipe *p)
{
	if (!p->open)
		return;
	char refusal[128];
	redisReply *exec = l2_exec(p->rc, p->n, refusal, sizeof(refusal));
	bool broken = !exec;
	if (broken)
		failed(w, refusal);
	for (unsigned k = 0; k < p->n; k++) {
		struct rw_job *j = p->jobs[k];
		const redisReply *r = broken ? NULL : exec->element[k];
		if (j->kind == RW_SAVE_SESSION) {
			int rc = broken ? -1 : l2_session_save_result(r);
			j->saved = rc >= 0;
			j->partly = rc == 1;
			/* A save taken says nothing of a refused outage's end:
			 * one that only renews the stored copy's TTL runs
			 * under OOM too. */
			if (!broken && !j->saved) {
				failed(w, l2_reply_error(r));
				broken = true;
			}
			continue;
		}
		char ref[64];
		int added = l2_add_result(r, ref, sizeof(ref));
		if (added == 0) {
			wrote(w);
			stored(j, ref);
			continue;
		}
		/* A ticket refused for good says nothing about Redis; the spool
		 * keeps it, and its drain sets it aside for a person. */
		if (added == -1 && !broken) {
			failed(w, l2_reply_error(r));
			broken = true;
		}
		spool_ticket(w, p, j);
	}
	freeReplyObject(exec);
	p->n = 0;
	p->rc = NULL;
	p->open = false;
}

/* Worker thread: sends a write down the pipe, reading the replies first
 * when it is full. Returns 0; -1 when it was not sent (no Redis, or the
 * command could not be queued); -2 for a ticket without a ticket_id. */
static int send_write(struct rw *w, struct pipe *p, struct rw_job *j)
{
	/* A batch holds at most PIPE_MAX jobs of one write each, so the pipe
	 * never fills today; this keeps its array safe if that changes. */
	if (p->n == PIPE_MAX)
		flush(w, p);
	/* While the pipe is open nothing else does I/O on its connection,
	 * so it is still the one to use. */
	redisContext *rc = p->open ? p->rc : write_conn(w);
	if (!rc)
		return -1;
	if (!p->open) {
		if (redisAppendCommand(rc, "MULTI") != REDIS_OK)
			return -1;
		p->open = true;
		p->rc = rc;
	}
	int sent = j->kind == RW_SAVE_SESSION
		? l2_session_save_send(rc, j->session_id, j->session, j->session_len, &j->kept,
				       j->ttl, j->renew)
		: l2_add_send(rc, w->cfg.stream, j->ticket);
	if (sent < 0)
		return sent;
	p->jobs[p->n++] = j;
	return 0;
}

/* Worker thread: stores a ticket in Redis, or else durably in the spool.
 * While the spool holds tickets, new ones queue behind them so Redis
 * receives them in order; the spool drains between batches, not here, so
 * that a batch of tickets costs one slice of the drain, not one each. */
static void store_ticket(struct rw *w, struct pipe *p, struct rw_job *j)
{
	j->res.ticket = ENGINE_TICKET_FAILED;
	if (!l2_spool_pending(w->spool) && send_write(w, p, j) == 0)
		return;
	/* Behind whatever the pipe holds, which may end in the spool too. */
	flush(w, p);
	spool_ticket(w, p, j);
}

/* Worker thread, when idle, and after each batch while writes are refused:
 * keeps the health flag true to what Redis answers now, and reconnects
 * once it is back. While Redis refuses writes it answers PING all along,
 * so then the probe asks whether it takes a write (l2_takes_writes): a
 * server without tickets to write sees the outage end too. */
static void probe(struct rw *w)
{
	redisContext *rc = write_conn(w);
	if (!rc)
		return;
	if (w->forbidden)
		return;
	if (w->refused) {
		char refusal[128] = "";
		if (l2_takes_writes(rc, w->cfg.stream, refusal, sizeof(refusal)) > 0)
			wrote(w);
		else
			failed(w, refusal);
		return;
	}
	redisReply *r = redisCommand(rc, "PING");
	if (!r || r->type == REDIS_REPLY_ERROR)
		failed(w, l2_reply_error(r));
	freeReplyObject(r);
}

/* Worker thread: carries a job out. Writes nothing reads back go down the
 * pipe; anything whose answer the job needs waits for the pipe to be read
 * first, so the commands still run in the order of the jobs. */
static void run_job(struct rw *w, struct pipe *p, struct rw_job *j)
{
	if (j->kind == RW_SAVE_SESSION) {
		/* Nothing waits for a save: one that fails only marks Redis
		 * down. */
		send_write(w, p, j);
		return;
	}
	if (j->kind == RW_LOAD_SESSION) {
		flush(w, p);
		redisContext *rc = conn(w);
		int found = rc ? l2_session_load(rc, j->session_id, j->session, sizeof(j->session),
						  &j->session_len, &j->kept) : -1;
		if (rc && found < 0)
			failed(w, NULL);
		j->found = found > 0;
		return;
	}
	const struct engine_plan *pl = j->plan_copy;
	if (pl && pl->lookup != ENGINE_LOOKUP_NONE && !j->skip_lookup) {
		flush(w, p);
		redisContext *rc = conn(w);
		l2_registry_lookup(rc, j->engine, pl, &j->res);
		if (rc && rc->err)
			failed(w, NULL);
	}
	/* "Your profile has been updated" is said only after the link is
	 * written; a link Redis refuses makes the check count as not made. One
	 * refused for good (an ACL that lets the user only read profiles) is
	 * no outage: writing tickets goes on. */
	if (pl && j->session_id[0] && j->res.registry == ENGINE_REG_FOUND &&
	    engine_plan_links(j->engine, pl, &j->res)) {
		flush(w, p);
		redisContext *rc = write_conn(w);
		char refusal[128];
		int linked = rc ? l2_link_profile(rc, j->session_id, &pl->facts, refusal,
						  sizeof(refusal)) : -1;
		if (rc && linked == -1)
			failed(w, refusal);
		if (linked < 0)
			j->res.registry = ENGINE_REG_UNAVAILABLE;
	}
	if (j->ticket)
		store_ticket(w, p, j);
}

/* Appends the jobs first .. last to a queue; under w->mu. */
static void append(struct rw_job **head, struct rw_job **tail, struct rw_job *first,
		   struct rw_job *last)
{
	last->next = NULL;
	if (*tail)
		(*tail)->next = first;
	else
		*head = first;
	*tail = last;
}

/* Worker thread: gives the done jobs first .. last back to the loop. The
 * loop takes done jobs until there are none, so only the first of a run
 * needs to wake it: one wake-up (a pipe write, a turn of the loop) per
 * run, not per job. */
static void hand_back(struct rw *w, struct rw_job *first, struct rw_job *last)
{
	pthread_mutex_lock(&w->mu);
	bool was_empty = !w->out_head;
	append(&w->out_head, &w->out_tail, first, last);
	pthread_mutex_unlock(&w->mu);
	if (was_empty)
		w->wake(w->arg);
}

static void *worker(void *arg)
{
	struct rw *w = arg;
	/* Connect at once, so /healthz tells the truth from the start and
	 * spooled tickets from a previous run move to Redis. */
	probe(w);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->in_head && !w->stopping) {
			/* A spool Redis takes from drains a slice at a time, with a
			 * look at the queue between slices; otherwise wake now and
			 * then to drain it once Redis is back. */
			bool draining = l2_spool_pending(w->spool) && atomic_load(&w->redis_ok) &&
					mono() >= w->drain_after;
			if (!draining) {
				struct timespec until;
				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_sec += 1;
				pthread_cond_timedwait(&w->cv, &w->mu, &until);
				if (w->in_head || w->stopping)
					break;
			}
			pthread_mutex_unlock(&w->mu);
			if (!draining)
				probe(w);
			drain(w);
			pthread_mutex_lock(&w->mu);
		}
		/* What is queued, up to PIPE_MAX jobs, is one batch: its writes
		 * share a round trip and an fsync. */
		struct rw_job *batch = w->in_head, *last = batch;
		if (!batch)
			break; /* stopping, and nothing left to do */
		for (unsigned n = 1; n < PIPE_MAX && last->next; n++)
			last = last->next;
		w->in_head = last->next;
		if (!w->in_head)
			w->in_tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&w->mu);

		/* Whenever nothing waits for Redis or an fsync, every job run so
		 * far is done: those go back to the loop then, not after the
		 * whole batch. */
		struct pipe p = { 0 };
		struct rw_job *first = batch;
		for (struct rw_job *j = batch, *next; j; j = next) {
			next = j->next;
			run_job(w, &p, j);
			if (!p.open && !p.nspooled) {
				hand_back(w, first, j);
				first = next;
			}
		}
		flush(w, &p);
		commit(w, &p);
		if (first)
			hand_back(w, first, last);
		/* Under steady load the queue is never empty: the spool drains
		 * between batches too, and an outage of refused writes that no
		 * ticket ends (chat without escalations) is probed for its end. */
		drain(w);
		if (w->refused)
			probe(w);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct rw *rw_new(const struct rw_config *cfg, void (*wake)(void *), void *arg,
		  char *err, size_t errlen)
{
	struct rw *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->cfg = *cfg;
	w->wake = wake;
	w->arg = arg;
	if (!(w->spool = l2_spool_open(cfg->spool_path, "spool", err, errlen)))
		goto free_rw;
	atomic_init(&w->redis_ok, false);
	atomic_init(&w->redis_known, false);
	atomic_init(&w->spool_pending, l2_spool_pending(w->spool));
	atomic_init(&w->outages, 0);
	atomic_init(&w->spooled, 0);
	atomic_init(&w->drained, 0);
	atomic_init(&w->spool_failed, 0);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (rw_thread_start(&w->thread, worker, w) != 0) {
		snprintf(err, errlen, "cannot start the Redis worker thread");
		goto destroy_sync;
	}
	return w;
destroy_sync:
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	l2_spool_close(w->spool);
free_rw:
	free(w);
	return NULL;
}

void rw_stop(struct rw *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	bool running = !w->stopping;
	w->stopping = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (running)
		pthread_join(w->thread, NULL);
}

void rw_free(struct rw *w)
{
	if (!w)
		return;
	rw_stop(w);
	for (struct rw_job *j; (j = rw_take_done(w));)
		rw_job_free(j);
	/* Jobs submitted after the stop never ran. */
	for (struct rw_job *j = w->in_head, *n; j; j = n) {
		n = j->next;
		rw_job_free(j);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	if (w->rc)
		redisFree(w->rc);
	l2_spool_close(w->spool);
	free(w);
}

void rw_submit(struct rw *w, struct rw_job *j)
{
	pthread_mutex_lock(&w->mu);
	append(&w->in_head, &w->in_tail, j, j);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

struct rw_job *rw_take_done(struct rw *w)
{
	pthread_mutex_lock(&w->mu);
	struct rw_job *j = w->out_head;
	if (j) {
		w->out_head = j->next;
		if (!w->out_head)
			w->out_tail = NULL;
		j->next = NULL;
	}
	pthread_mutex_unlock(&w->mu);
	return j;
}

void rw_state(struct rw *w, struct rw_state *out)
{
	out->spool_pending = atomic_load(&w->spool_pending);
	out->redis_ok = atomic_load(&w->redis_ok);
	out->outages = atomic_load(&w->outages);
	out->spooled = atomic_load(&w->spooled);
	out->drained = atomic_load(&w->drained);
	out->spool_failed = atomic_load(&w->spool_failed);
	pthread_mutex_lock(&w->mu);
	snprintf(out->why, sizeof(out->why), "%s", w->why);
	snprintf(out->spool_why, sizeof(out->spool_why), "%s", w->spool_why);
	pthread_mutex_unlock(&w->mu);
}
