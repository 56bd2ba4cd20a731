/* ws: the chat server's protocol. See include/ws.h and the README's
 * "WebSocket protocol" section.
 *
 * Everything here runs on the one libwebsockets service thread (the loop
 * thread) but what a message's turn does on the engine worker (ew.h):
 * decide, say, write the frame and the log line; those functions say so.
 * Frames are only ever written from LWS_CALLBACK_SERVER_WRITEABLE: a
 * message's replies go to the connection's bounded queue and the callback
 * asks to be told when the socket can take them. */
#include "ws.h"

#include <errno.h>
#include <inttypes.h>
#include <ev.h>
#include <json-c/json.h>
#include <libwebsockets.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>
#include <sys/random.h>

#include "ew.h"
#include "jr.h"
#include "jw.h"
#include "log.h"
#include "metrics.h"
#include "report.h"
#include "rport.h"
#include "rw.h"
#include "sess.h"

/* JSON from a chat client is flat; nesting deeper than 8 levels is refused
 * before it can cost anything. */
#define MAX_JSON_DEPTH 8
/* A client whose oldest queued frame waits this long while its queue is
 * full does not read: it is closed. A client that reads never gets there:
 * the connection is not read from while it owes a queue's worth of frames
 * (pace_reading), so a burst fills the queue only as fast as the client
 * empties it. HARD_QUEUE_FACTOR times the queue limit bounds memory should
 * the frames owed still pile up. */
#define SLOW_READER_S 1.0
#define HARD_QUEUE_FACTOR 4
/* A reply no socket took for this long: the client stopped reading, even
 * when its queue is short (lws stops reading from a client whose output
 * is choked, so the queue need not grow). */
#define STALLED_S 3.0
/* Frames written per WRITEABLE callback while the socket takes them. */
#define WRITES_PER_CALLBACK 16
/* While the loop has time to spare (s->quiet), a turn of the loop that
 * made at most this many turns runs them itself if the engine worker is
 * idle (see flush_batch). */
#define INLINE_TURNS_MAX 8
/* How often the loop weighs its load (weigh_load), and the share of
 * cfg.offload_above it must fall below to decide messages itself again
 * (0.9 of a core: 0.8). The band is narrow because the two ways weigh
 * alike: at 43,000 msgs/s over 2,000 connections the loop alone used 0.77
 * of a core, the loop and the worker 0.73-0.76 by this measure. A wider
 * band (0.7) kept a server that a start-up burst had sent to the worker
 * there at that rate, with p99 tails of 0.9-14 ms instead of 0.5-1.5 and
 * 15 % more CPU. */
#define LOAD_EVERY_S 0.1
#define LOAD_BACK 0.89

/* The housekeeping timer: slow readers every tick, sessions every tenth. */
#define TICK_US LWS_US_PER_SEC
#define EXPIRE_EVERY_TICKS 10

/* Idle peers are pinged, or hung up on, a batch at a time, a step apart.
 * Each ping is a write and its pong a read: when 5,000 connections opened
 * together fell due at once, that turn of the loop held up the replies by
 * some 90 ms. A batch is IDLE_BATCH (1,000 a second), or more where
 * --max-connections silent peers need more pings than that in half of
 * --idle-timeout (ws_server_new); 10,000 at the default 120 s need 170 a
 * second. */
#define IDLE_BATCH 50
#define IDLE_STEP_S 0.05

struct frame {
	struct frame *next;
	double t_recv;  /* when the message it answers arrived; 0: not a reply */
	double t_queued;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then the payload */
};

/* A message that arrived while the one before it waits for Redis. */
struct inmsg {
	struct inmsg *next;
	double t_recv;
	size_t len;
	char data[];
};

/* Per connection, allocated zeroed by lws. Plain HTTP requests get one
 * too (the protocol is first in the list) and leave it unused. */
struct conn {
	struct ws_server *srv;
	struct lws *wsi;
	/* The server's conns, in the order of due: when the peer is next
	 * pinged, or (pinged) hung up on unless it shows it is there. */
	TAILQ_ENTRY(conn) link;
	double due;
	bool pinged;       /* a ping went out (or is owed) since the peer last showed */
	bool ping_owed;    /* the next WRITEABLE sends a ping first */
	unsigned long long id;
	struct sess *sess;
	struct frame *head, *tail;
	unsigned nframes;
	/* On the server's queued list while head is not NULL: the tick looks
	 * for slow readers there only, not over every connection. */
	TAILQ_ENTRY(conn) queued_link;
	char *rx;          /* a fragmented message being reassembled */
	size_t rxlen;
	double tokens, refilled;
	int close_code;    /* to close with once the queue is written; 0: none */
	bool dead;         /* dropped as a slow reader, or gone: nothing more is queued */
	bool rx_paused;    /* lws reads nothing from it for now (pace_reading) */
	const char *close_why;
	/* The message out on the engine worker or the Redis worker (or the
	 * session load), and those that came after it: a conversation is
	 * answered in order. */
	struct job_ctx *inflight;
	struct inmsg *in_head, *in_tail;
	unsigned nin;
	/* On the server's ready list: it has messages read in this turn of
	 * the loop and not decided yet. */
	bool ready;
	TAILQ_ENTRY(conn) ready_link;
	/* Its hello resumed a conversation another connection has a message
	 * out for: the welcome waits for that turn (see welcome). */
	bool hello_wait, hello_resumed;
	int8_t hello_lang;
};

TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(turn_list, turn);

/* A reload (SIGHUP): a thread reads the files; then new messages wait
 * until no job holds the old engine, and the new one takes over. */
struct reload {
	pthread_t thread;
	bool running;        /* the thread was started and not joined yet */
	atomic_bool done;    /* the thread has finished: data, rc, err are set */
	bool waiting;        /* loaded: messages wait for the swap */
	bool again;          /* asked for again while one was under way */
	struct ws_data data; /* what the thread loaded, until the swap */
	int rc;
	char err[256];
	double started;
};

/* What deciding and saying a message needs besides the engine: one set
 * for the engine worker, one for the loop thread, which decides messages
 * itself while it has time to spare, those that came with a close, and
 * those a closed connection left behind. */
struct decider {
	struct engine_scratch *scr; /* the engine's: replaced by a reload */
	struct engine_plan *plan;
	struct engine_reply *reply;
	char *frame;       /* where reply frames are written */
	size_t frame_max;
	char *logbuf;      /* where the message log line's members are written */
	size_t logbuf_max;
	char *idjs;        /* where the message id is written as JSON */
	size_t idjs_max;
};

struct ws_server {
	struct ws_config cfg;
	/* Owned, and replaced by a reload. */
	struct engine *engine;
	struct reg_file *registry;
	struct reload rl;
	struct decider loop_d, worker_d;
	struct ew *ew;
	/* Turns made in this turn of the loop, handed to the engine worker
	 * together at its end (flush_batch), and those it has. */
	struct turn *batch_head, *batch_tail;
	unsigned batch_n, worker_turns;
	/* Turns decided and at Redis until they are said (sess.away counts
	 * them by conversation): a message sent again meanwhile waits for its
	 * first copy's reply (wait_for_first). */
	struct turn_list away;
	/* The loop has time to decide small batches itself (weigh_load);
	 * when it last looked, and the two threads' CPU seconds then. */
	bool quiet;
	double load_at, load_cpu;
	/* Every frame is read by jr into scratch (cfg.max_bytes) and, when
	 * jr declines it, parsed by tok, MAX_JSON_DEPTH deep (read_fields).
	 * What jr read there lives until the next frame is read: whatever
	 * outlives a frame is copied before anything that may read another
	 * (decide_rest). */
	char *scratch;
	json_tokener *tok;
	struct sess_store *sessions;
	struct metrics metrics;
	struct lws_context *ctx;
	struct ev_loop *ev; /* NULL: lws' own poll() loop */
	void *foreign[1];   /* the loop handed to lws */
	struct lws_protocols protocols[4]; /* the last one zeroed: the end */
	struct lws_http_mount mounts[3];
	struct lws_protocol_vhost_options mime[3];
	lws_retry_bo_t retry;
	lws_sorted_usec_list_t tick_timer;
	lws_sorted_usec_list_t idle_timer;
	unsigned idle_batch; /* pings and hang-ups a step (IDLE_BATCH) */
	unsigned long ticks;
	struct conn_list conns;
	struct conn_list queued; /* those with frames to write (conn.queued_link) */
	struct conn_list ready; /* see run_batch */
	unsigned long long next_id;
	bool draining;
	bool closing;      /* ws_server_free: nothing more is decided */
	struct rw *rw;     /* NULL without Redis */
	/* The worker's state as the log last told it (log_worker), and when
	 * the spool began to hold tickets. */
	struct rw_state said;
	bool said_up, spool_said;
	/* A save failed: the sessions it left unsaved are stored again once
	 * Redis answers (resave). */
	bool resave;
	double spool_since;
	uint64_t drained_before;
	unsigned inflight; /* jobs the workers hold */
	/* Messages and session loads that hold the engine: a message from its
	 * turn until it is said (its plan, through the Redis worker and
	 * back), a session load for the language hello asked for (an index);
	 * session saves carry bytes only. */
	unsigned engine_jobs;
};

/* A closed connection's messages that waited behind one that was out,
 * or behind its hello, with its rate limit's bucket as it was
 * (decide_rest). */
struct rest {
	struct inmsg *head; /* owned */
	double tokens, refilled;
	int lang;           /* the language that hello asked for, or -1 */
};

/* What the loop needs back with a finished job. */
struct job_ctx {
	struct conn *conn;   /* NULL once the connection closed */
	struct sess *sess;   /* kept attached until the job is said */
	json_object *id;
	double t_recv;
	/* The language a hello asked for (an index, or -1): for
	 * RW_LOAD_SESSION, the conversation's; for a turn, to fix before it
	 * is decided (a hello whose welcome never went out: decide_rest). */
	int lang;
	/* The connection closed: the messages it sent after this one, to be
	 * decided once this one is (decide_rest). */
	struct rest rest;
};

/* What a said message adds to /metrics, counted on the loop thread. */
struct said {
	uint8_t nparts;
	uint8_t intents[INTENT_MAX];
	bool fallback, closing, escalate;
	uint8_t ticket;      /* enum engine_ticket */
};

enum turn_kind {
	TURN_DECIDE, /* decide a message, and say it unless Redis has a part */
	TURN_SAY,    /* say a message whose effects the Redis worker did */
};

/* A chat message from its decision to its reply. The engine worker has it
 * during a turn (job to frame); in between, the loop thread or the Redis
 * worker (as the owner of fx). While the engine worker has it, its
 * conversation is busy: the loop thread leaves sess->conv alone. */
struct turn {
	struct ew_job job;   /* first: the engine worker's link */
	struct job_ctx ctx;
	uint8_t kind;        /* enum turn_kind */
	const struct engine *engine;
	const struct reg_file *registry;
	struct slot_date today;
	/* TURN_DECIDE out: the effects the Redis worker is to carry out, or
	 * NULL; TURN_SAY in: the job that did them. Owned. */
	struct rw_job *fx;
	/* Out, when said: */
	int rc;              /* deciding failed: the tok error; else 0 */
	struct frame *frame; /* the reply, or NULL: why says why */
	const char *why;
	struct rw_job *save; /* the conversation to store, or NULL */
	/* In: the conversation's last save failed (the loop's unsaved, read
	 * when the turn was handed out): this one stores it whole. Out: a save
	 * was due, and memory was short. */
	bool save_whole, save_lost;
	struct said said;
	/* With ctx.id, message_hash of the session, the id and the text, for
	 * the ticket's reference and the kept reply (turn_hash); 0 until then. */
	uint64_t hash;
	/* Loop thread: on s->away while at Redis, and the turns of the same
	 * message sent again meanwhile, which wait for its reply (linked by
	 * job.next). */
	TAILQ_ENTRY(turn) away_link;
	struct turn *waiters;
	/* The message's text, copied: the parsed message is freed at once,
	 * so the next one's parse reuses its memory while it is in cache. */
	size_t len;
	char text[];
};

void ws_config_default(struct ws_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port = 8080;
	cfg->max_bytes = 4096;
	cfg->max_connections = 10000;
	cfg->session_ttl = 1800;
	cfg->idle_timeout = 120;
	cfg->rate = 5;
	cfg->burst = 10;
	cfg->queue_max = 64;
	cfg->drain_timeout = 10;
	cfg->stream = L2_STREAM_DEFAULT;
	cfg->spool_path = "autoassist-spool.jsonl";
	cfg->redis_timeout = 0.5;
	cfg->offload_above = 0.9;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Today in UTC: the Unix epoch counts UTC days of 86,400 s. */
static struct slot_date today_utc(void)
{
	return slot_date_from_days((int32_t)(time(NULL) / 86400));
}

static json_object *conn_fields(const struct conn *c)
{
	json_object *f = json_object_new_object();
	json_object_object_add(f, "conn", json_object_new_int64((int64_t)c->id));
	if (c->sess)
		json_object_object_add(f, "session", json_object_new_string(c->sess->id));
	return f;
}

/* ---- the outbound queue ---- */

static void free_queue(struct conn *c)
{
	if (c->head)
		TAILQ_REMOVE(&c->srv->queued, c, queued_link);
	for (struct frame *f = c->head, *n; f; f = n) {
		n = f->next;
		free(f);
	}
	c->head = c->tail = NULL;
	c->nframes = 0;
}

static void settle(struct conn *c);

/* True when c owes the client a queue's worth of frames: those queued,
 * and at least one for each message read and not yet answered (a reply or
 * an error; typing comes on top). */
static bool owes_full_queue(const struct conn *c)
{
	return c->nframes + c->nin >= c->srv->cfg.queue_max;
}

/* Stops reading from c while it owes a queue's worth of frames, and reads
 * on once it owes fewer: a client that sends a burst is answered at the
 * pace it reads, and what it sent waits in lws' buffer and the socket
 * rather than in the queues. Called where that can change: a message was
 * read (handle), frames were written (writeable), a close was asked for,
 * which reads on, since nothing more is queued for what comes after it
 * and lws must read the client's close frame. In a callback, lws applies
 * the change when the callback returns; from inside
 * LWS_CALLBACK_RECEIVE, the rest of what it read stays in its buffer and
 * comes once reading is on again. */
static void pace_reading(struct conn *c)
{
	bool pause = !c->close_code && !c->dead && owes_full_queue(c);
	if (pause != c->rx_paused && lws_rx_flow_control(c->wsi, !pause) == 0)
		c->rx_paused = pause;
}

/* Asks for the connection to be closed with code once what is queued has
 * been written. The messages it sent before are answered first, as they
 * would have been had they not waited for the end of the turn. */
static void close_after_queue(struct conn *c, int code, const char *why)
{
	settle(c);
	if (!c->close_code) {
		c->close_code = code;
		c->close_why = why;
	}
	pace_reading(c);
	lws_callback_on_writable(c->wsi);
}

static bool slow_reader(const struct conn *c, double now)
{
	if (!c->head)
		return false;
	double waited = now - c->head->t_queued;
	return (c->nframes >= c->srv->cfg.queue_max && waited > SLOW_READER_S) ||
	       waited > STALLED_S;
}

/* Closes c's socket at once, and frees the frames that waited for it: its
 * peer does not read them, or is gone. Its socket may take nothing, so no
 * WRITEABLE callback would come to close it the usual way, nor a close
 * frame go out: lws is told to close it on its own. Whatever the peer
 * sends meanwhile is dropped unread (receive: dead). */
static void hang_up(struct conn *c)
{
	free_queue(c);
	c->dead = true;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void drop_slow_reader(struct conn *c)
{
	metrics_error(&c->srv->metrics, "slow_reader");
	log_event("warn", "slow_reader", conn_fields(c));
	hang_up(c);
}

/* Puts c, whose due just moved later than any other's, at the back of
 * conns, which keeps the list in the order of due. */
static void due_at(struct conn *c, double due)
{
	struct ws_server *s = c->srv;
	c->due = due;
	if (TAILQ_NEXT(c, link)) {
		TAILQ_REMOVE(&s->conns, c, link);
		TAILQ_INSERT_TAIL(&s->conns, c, link);
	}
}

/* The peer showed it is there, by a message or a pong: it is pinged after
 * half of --idle-timeout more of silence. lws could keep this timer, but
 * lws 4.1 keeps every connection's on one sorted list, and each reset
 * walks the whole of it: at 10,000 connections that took a fifth of a
 * core and put tens of milliseconds into the replies' tail. Here a reset
 * is a move to the back of conns, which stays in order since the clock
 * is read here, after every due set before. */
static void seen(struct conn *c)
{
	c->pinged = false;
	due_at(c, now_s() + c->srv->cfg.idle_timeout / 2.0);
}

/* Timer: pings the peers silent for half of --idle-timeout and hangs up
 * on those silent for the other half since. They are the front of conns;
 * the timer comes back when the next one falls due. */
static void idle_step(lws_sorted_usec_list_t *sul)
{
	struct ws_server *s = lws_container_of(sul, struct ws_server, idle_timer);
	double now = now_s();
	double half = s->cfg.idle_timeout / 2.0;
	double next = now + half;
	unsigned n = 0;
	struct conn *c, *after;
	for (c = TAILQ_FIRST(&s->conns); c; c = after) {
		after = TAILQ_NEXT(c, link);
		/* Not before a step from now: the peers falling due one by one
		 * wake the loop once a step, not once each. */
		if (c->due > now) {
			next = c->due > now + IDLE_STEP_S ? c->due : now + IDLE_STEP_S;
			break;
		}
		if (n == s->idle_batch) {
			next = now + IDLE_STEP_S;
			break;
		}
		if (c->dead)
			continue; /* lws closes it in this turn */
		if (c->close_code) {
			/* Closing once its queue is out: it needs no ping. */
			due_at(c, now + half);
			continue;
		}
		n++;
		if (c->pinged) {
			metrics_error(&s->metrics, "idle_timeout");
			log_event("info", "idle_timeout", conn_fields(c));
			hang_up(c);
			continue;
		}
		c->pinged = c->ping_owed = true;
		due_at(c, now + half);
		lws_callback_on_writable(c->wsi);
	}
	lws_sul_schedule(s->ctx, 0, &s->idle_timer, idle_step,
			 (lws_usec_t)((next - now) * LWS_US_PER_SEC) + 1);
}

/* A text frame of len bytes answering a message received at t_recv (0:
 * none), with lws' headroom; any thread. Returns it (free it, or queue it
 * with enqueue_frame) or NULL when memory is short. */
static struct frame *frame_new(const char *data, size_t len, double t_recv)
{
	struct frame *f = malloc(sizeof(*f) + LWS_PRE + len);
	if (!f)
		return NULL;
	f->next = NULL;
	f->t_recv = t_recv;
	f->len = len;
	memcpy(f->buf + LWS_PRE, data, len);
	return f;
}

/* Queues frame f, which it takes. A client that does not read its replies
 * fills its queue and is closed (1008): the server's memory stays bounded.
 * Returns 0 or -1 when the frame was not queued (and is freed). */
static int enqueue_frame(struct conn *c, struct frame *f)
{
	/* A connection closing for any other reason still gets the replies
	 * it is owed; one dropped for not reading gets nothing more. */
	double now = now_s();
	if (!c->dead && (slow_reader(c, now) ||
			 c->nframes >= c->srv->cfg.queue_max * HARD_QUEUE_FACTOR))
		drop_slow_reader(c);
	if (c->dead) {
		free(f);
		return -1;
	}
	f->t_queued = now;
	if (c->tail) {
		c->tail->next = f;
	} else {
		c->head = f;
		TAILQ_INSERT_TAIL(&c->srv->queued, c, queued_link);
	}
	c->tail = f;
	c->nframes++;
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* Queues a JSON object as a frame; see enqueue_frame. '/' is left
 * unescaped, as jw writes it in replies: a client matching an id's bytes
 * finds it spelt alike in every frame. */
static int enqueue(struct conn *c, json_object *o)
{
	size_t len;
	const char *js = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	struct frame *f = js && !c->dead ? frame_new(js, len, 0) : NULL;
	return f ? enqueue_frame(c, f) : -1;
}

static void send_error(struct conn *c, const char *code, const char *message,
		       json_object *in_reply_to)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("error"));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "message", json_object_new_string(message));
	if (in_reply_to)
		json_object_object_add(o, "in_reply_to", json_object_get(in_reply_to));
	metrics_error(&c->srv->metrics, code);
	enqueue(c, o);
	json_object_put(o);
}

/* Tells the client its message waits for Redis (a ticket to file, a
 * registry lookup): the reply comes later. */
static void send_typing(struct conn *c, json_object *in_reply_to)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("typing"));
	json_object_object_add(o, "in_reply_to", in_reply_to ? json_object_get(in_reply_to) : NULL);
	enqueue(c, o);
	json_object_put(o);
}

/* ---- messages ---- */

static void send_welcome(struct conn *c, bool resumed)
{
	const struct intent_pack *p = engine_pack(c->srv->engine);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("welcome"));
	json_object_object_add(o, "session", json_object_new_string(c->sess->id));
	json_object_object_add(o, "resumed", json_object_new_boolean(resumed));
	json_object_object_add(o, "lang", c->sess->conv.lang >= 0
			       ? json_object_new_string(intent_lang_code(p, (size_t)c->sess->conv.lang))
			       : NULL);
	/* The largest frame the server takes: a client can refuse a longer
	 * message itself rather than lose its connection to it (close 1009). */
	json_object_object_add(o, "max_bytes", json_object_new_int64((int64_t)c->srv->cfg.max_bytes));
	enqueue(c, o);
	json_object_put(o);
}

static int welcome(struct conn *c, int lang, bool resumed);
static int load_session(struct conn *c, const char *id, int lang, struct sess *held);
static void leave(struct ws_server *s, struct sess *se);
static void store_now(struct ws_server *s, const struct engine *e, struct sess *se, bool renew);
static void resume_inbound(struct conn *c);
static void decide_rest(struct ws_server *s, struct sess *se, struct rest r);

/* True when no turn of se is out here: on the engine worker (busy), or
 * decided and at Redis until it is said (away). */
static bool no_turn_out(const struct sess *se)
{
	return se->busy == 0 && se->away == 0;
}

/* True when Redis may hold a newer copy of a conversation held here, one
 * it may be swapped for: it was stored, so another instance could have
 * resumed it and gone on (--reuse-port, or behind a proxy), also while a
 * connection here still holds it (a dropped link not noticed yet looks
 * like a second tab), and no turn of it is out here, which would say its
 * reply into the copy it was decided on. */
static bool may_be_stale(const struct sess *se)
{
	return no_turn_out(se) && se->stored;
}

static bool redis_known_down(struct ws_server *s)
{
	struct rw_state st;
	rw_state(s->rw, &st);
	return !st.redis_ok;
}

/* Attaches the connection to a session: the one named if it is still held
 * here or in Redis (a restarted server, another instance), else a new one.
 * Returns 0, or -1 after telling the client. */
static int attach(struct conn *c, const char *want, int lang)
{
	struct ws_server *s = c->srv;
	double now = now_s();
	bool resumed = false;
	if (c->sess) {
		leave(s, c->sess);
		c->sess = NULL;
	}
	struct sess *held = want ? sess_find(s->sessions, want, now) : NULL;
	/* A held copy is attached at once, so that it cannot expire or make
	 * room while Redis is asked; Redis known to be down is not asked
	 * about it, to answer at once. */
	bool ask = want && s->rw && (!held || (may_be_stale(held) && !redis_known_down(s)));
	if (held)
		sess_attach(s->sessions, held);
	if (ask && load_session(c, want, lang, held) == 0)
		return 0; /* the welcome follows when Redis has answered */
	if (held) {
		c->sess = held;
		resumed = true;
	} else {
		c->sess = sess_create(s->sessions, lang, now);
	}
	return welcome(c, lang, resumed);
}

/* Sends the welcome once c has its session (or the error when it has
 * none). While the engine worker has a message of the conversation (sent
 * by another connection: a second tab), the conversation is that thread's:
 * the welcome, which may set its language and says it, waits until the
 * worker hands the message back (sess_free_again). Returns 0 or -1. */
static int welcome(struct conn *c, int lang, bool resumed)
{
	if (!c->sess) {
		send_error(c, "internal", "no room for a new conversation; try again later", NULL);
		return -1;
	}
	if (c->sess->busy) {
		c->hello_wait = true;
		c->hello_lang = (int8_t)lang;
		c->hello_resumed = resumed;
		c->sess->hellos++;
		c->sess->held = true;
		return 0;
	}
	struct sess *se = c->sess;
	int8_t was = se->conv.lang;
	bool was_fixed = se->conv.lang_fixed;
	engine_session_set_lang(&se->conv, lang);
	/* A stored conversation whose language the hello changed is stored
	 * at once, as a turn is: another instance resuming it, or this one
	 * comparing its copy with Redis', then has it. A turn out stores it
	 * when said. */
	struct ws_server *s = c->srv;
	if (s->rw && !s->closing && se->stored && no_turn_out(se) &&
	    (se->conv.lang != was || se->conv.lang_fixed != was_fixed))
		store_now(s, s->engine, se, false);
	json_object *f = conn_fields(c);
	json_object_object_add(f, "resumed", json_object_new_boolean(resumed));
	log_event("info", "session", f);
	send_welcome(c, resumed);
	return 0;
}

/* The members of a frame the server reads, as read_fields gives them. */
enum { F_TYPE, F_ID, F_TEXT, F_SESSION, F_LANG, F_COUNT };
static const char *const field_names[F_COUNT] = { "type", "id", "text", "session", "lang" };

struct fields {
	struct jr_val v[F_COUNT];
	json_object *msg; /* json-c's parse, which v points into, when jr declined */
};

/* A member of a json-c object as jr would read it: an integer as the
 * digits json-c writes for it (clamped past 64 bits). The text of null,
 * true, false and fractions is left out: ws.c reads only their kind. */
static struct jr_val member(json_object *o, const char *name)
{
	json_object *x;
	if (!json_object_object_get_ex(o, name, &x))
		return (struct jr_val){ JR_ABSENT, NULL, 0 };
	if (json_object_is_type(x, json_type_null))
		return (struct jr_val){ JR_NULL, NULL, 0 };
	if (json_object_is_type(x, json_type_string))
		return (struct jr_val){ JR_STRING, json_object_get_string(x),
					(size_t)json_object_get_string_len(x) };
	if (json_object_is_type(x, json_type_int)) {
		const char *digits = json_object_get_string(x);
		return (struct jr_val){ JR_INT, digits, strlen(digits) };
	}
	return (struct jr_val){ JR_OTHER, NULL, 0 };
}

/* Loop thread: reads a frame's members into *f, by jr when it can, else
 * by json-c. Returns 0, or -1 when the frame is no JSON object (*too_deep
 * tells whether nesting was why). Release *f with fields_free. */
static int read_fields(struct ws_server *s, const char *data, size_t len, struct fields *f,
		       bool *too_deep)
{
	const char *why;
	*too_deep = false;
	f->msg = NULL;
	if (jr_flat(data, len, field_names, f->v, F_COUNT, s->scratch, s->cfg.max_bytes) == 0)
		return 0;
	f->msg = report_parse_object_tok(s->tok, data, len, &why, too_deep);
	if (!f->msg)
		return -1;
	for (size_t i = 0; i < F_COUNT; i++)
		f->v[i] = member(f->msg, field_names[i]);
	return 0;
}

static void fields_free(struct fields *f)
{
	json_object_put(f->msg);
	f->msg = NULL;
}

/* Whether v is the string w. */
static bool str_is(const struct jr_val *v, const char *w)
{
	return v->kind == JR_STRING && v->len == strlen(w) && memcmp(v->s, w, v->len) == 0;
}

/* Copies a string member into out (cap bytes) as a C string. Returns
 * false when it does not fit or holds a NUL: no session id or language
 * code does. */
static bool copy_str(const struct jr_val *v, char *out, size_t cap)
{
	if (v->len >= cap || memchr(v->s, '\0', v->len))
		return false;
	memcpy(out, v->s, v->len);
	out[v->len] = '\0';
	return true;
}

static void on_hello(struct conn *c, const struct fields *f)
{
	const struct intent_pack *p = engine_pack(c->srv->engine);
	const struct jr_val *v = &f->v[F_SESSION];
	char want_buf[SESS_ID_LEN + 1], code[16];
	const char *want = NULL;
	int lang = -1;
	if (v->kind != JR_ABSENT && v->kind != JR_NULL) {
		if (v->kind != JR_STRING) {
			send_error(c, "bad_session", "\"session\" must be a string", NULL);
			return;
		}
		/* Longer, or with a NUL in it (the C string would name the
		 * conversation of the part before), it is an id nobody has. */
		want = copy_str(v, want_buf, sizeof(want_buf)) ? want_buf : "";
	}
	v = &f->v[F_LANG];
	if (v->kind != JR_ABSENT && v->kind != JR_NULL) {
		bool str = v->kind == JR_STRING;
		lang = str && copy_str(v, code, sizeof(code)) ? intent_lang_find(p, code) : -1;
		/* A conversation resumed has its language: a code this server no
		 * longer serves (a reload removed it) does not keep the customer
		 * from it. */
		if (lang < 0 && !(str && want)) {
			char why[128];
			int n = snprintf(why, sizeof(why), "\"lang\" must be one of");
			for (size_t i = 0; i < intent_lang_count(p) && n > 0 && (size_t)n < sizeof(why); i++)
				n += snprintf(why + n, sizeof(why) - (size_t)n, "%s %s", i ? "," : "",
					      intent_lang_code(p, i));
			send_error(c, "bad_lang", why, NULL);
			return;
		}
	}
	attach(c, want, lang);
}

/* FNV-1a over p[0..n), from h. */
static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

/* A message's identity: a 64-bit hash of the session, the client's id
 * (with its type and whole length: 7 and "7" are two ids, "x\u0000a" is
 * not "x") and the text (an id a client numbers again from the start
 * after resuming names another message). */
static uint64_t message_hash(const char *session, json_object *id, const char *text,
			     size_t tlen)
{
	bool str = json_object_is_type(id, json_type_string);
	const char *v = json_object_get_string(id);
	size_t vlen = str ? (size_t)json_object_get_string_len(id) : strlen(v);
	uint64_t h = fnv(1469598103934665603ULL, session, strlen(session) + 1);
	h = fnv(h, str ? "s" : "i", 1);
	h = fnv(h, (const char *)&vlen, sizeof(vlen));
	h = fnv(h, v, vlen);
	h = fnv(h, text, tlen);
	/* FNV's low bits mix poorly: finish with a strong mixer. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Any thread, with the conversation: a Redis job storing it as it stands,
 * and its kept replies: all of them when whole, else those changed since
 * they were last packed. Returns the job, or NULL when memory is short. */
static struct rw_job *save_job(const struct ws_server *s, const struct engine *e,
			       struct sess *se, bool whole)
{
	struct rw_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->kind = RW_SAVE_SESSION;
	snprintf(j->session_id, sizeof(j->session_id), "%s", se->id);
	j->session_len = engine_session_pack(e, &se->conv, j->session);
	j->ttl = (int)s->cfg.session_ttl;
	/* The kept replies go too, so that a message sent again to another
	 * instance gets its reply there (loaded). */
	if (sess_replies_pack(se, whole, &j->kept) < 0) {
		free(j);
		return NULL;
	}
	return j;
}

/* Writes a message id (a string or an integer) as JSON into out, cap
 * bytes (6 bytes a byte of a string id and 3 more are enough), without
 * the two allocations json-c's writer makes for each new object, and
 * spelt as enqueue has json-c spell it. Returns out. */
static const char *id_json(json_object *id, char *out, size_t cap)
{
	if (json_object_is_type(id, json_type_string)) {
		struct jw w;
		jw_init(&w, out, cap);
		jw_str(&w, json_object_get_string(id), (size_t)json_object_get_string_len(id));
	} else if (json_object_get_int64(id) < 0) {
		snprintf(out, cap, "%" PRId64, json_object_get_int64(id));
	} else {
		snprintf(out, cap, "%" PRIu64, json_object_get_uint64(id));
	}
	return out;
}

/* Any thread, with the turn's conversation: says the reply to a decided
 * plan. Moves the conversation on, logs the message and writes the reply
 * frame and, with Redis, the conversation to store into the turn. */
static void say(const struct ws_server *s, struct decider *d, const struct engine *e,
		const struct engine_plan *plan, const struct engine_results *res,
		struct turn *t)
{
	struct sess *se = t->ctx.sess;
	engine_say(e, &se->conv, plan, res, d->reply);
	t->said.nparts = d->reply->nparts;
	for (uint8_t i = 0; i < d->reply->nparts; i++)
		t->said.intents[i] = d->reply->parts[i].intent;
	t->said.fallback = d->reply->fallback;
	t->said.closing = d->reply->closing;
	t->said.escalate = engine_plan_files_ticket(plan); /* a repeat files none */
	t->said.ticket = res->ticket;

	struct jw w;
	jw_init(&w, d->logbuf, d->logbuf_max);
	jw_key(&w, "session");
	jw_cstr(&w, se->id);
	jw_key(&w, "lang");
	jw_cstr(&w, intent_lang_code(engine_pack(e), (size_t)plan->lang));
	jw_key(&w, "escalate");
	jw_bool(&w, plan->escalate);
	if (plan->escalate) {
		/* The entry this message filed; a message sent to the
		 * conversation's ticket before files none. */
		jw_key(&w, "ticket");
		jw_cstr(&w, res->ticket == ENGINE_TICKET_STORED ? res->ticket_ref
			: plan->repeat ? "sent_before" : report_ticket_status(plan, res));
		if (plan->ticket[0]) {
			jw_key(&w, "follow_up_of");
			jw_cstr(&w, plan->ticket);
		}
	}
	jw_key(&w, "intents");
	jw_int(&w, plan->ir.ndetected);
	if (s->cfg.log_text) {
		jw_key(&w, "text");
		jw_str(&w, plan->text, plan->len);
	}
	/* logbuf holds the longest text escaped: it is never full. */
	log_event_json("info", "message", w.p, w.len);

	/* Written even when the customer left meanwhile: the loop thread owns
	 * ctx.conn, and drops the frame then. */
	const char *idjs = t->ctx.id ? id_json(t->ctx.id, d->idjs, d->idjs_max) : NULL;
	int n = report_write_frame(e, plan, d->reply, res, idjs, d->frame, d->frame_max);
	if (n < 0)
		t->why = "the reply does not fit a frame";
	else if (!(t->frame = frame_new(d->frame, (size_t)n, t->ctx.t_recv)))
		t->why = "out of memory";
	else if (t->ctx.id)
		sess_keep_reply(se, t->hash, d->frame, (size_t)n); /* none kept: decided again */
	/* Stored after each turn, with its reply, so a restarted server or
	 * another instance continues it. */
	if (s->rw)
		t->save_lost = !(t->save = save_job(s, e, se, t->save_whole));
}

/* A ticket reference: the date, then 64 bits. With the client's message
 * id they are its hash (the turn's message_hash, given), so a
 * message the client sends again after a dropped connection files the
 * same ticket, which Redis then adds only once, on any day (its dedupe key
 * leaves the date out and lasts 30 days); without one they are random. Two different
 * tickets share the 64 bits, and so one ticket, with odds of about
 * n²/2^65 for n tickets in 30 days: one in ten million at a million
 * tickets a month. 32 bits were not enough. */
_Static_assert(sizeof("L2-YYYYMMDD-0123456789ABCDEF") <= ENGINE_TICKET_REF,
	       "a conversation keeps the reference of its ticket");
static int ticket_ref(const uint64_t *hash, char *out, size_t cap)
{
	uint64_t h;
	if (hash)
		h = *hash;
	else if (getrandom(&h, sizeof(h), GRND_NONBLOCK) != (ssize_t)sizeof(h))
		return -1;
	struct slot_date d = today_utc();
	snprintf(out, cap, "L2-%04d%02d%02d-%016llX", d.y, d.m, d.d, (unsigned long long)h);
	return 0;
}

/* Any thread, with the turn's conversation: the Redis worker's job for a
 * decided plan's effects, the turn its owner; with a registry file, the
 * file answers the lookup here and the worker links the profile and files
 * the ticket. Returns the job, or NULL when it could not be made (the
 * message is then answered without them). */
static struct rw_job *effects(const struct decider *d, struct turn *t)
{
	const struct engine_plan *plan = d->plan;
	const struct sess *se = t->ctx.sess;
	struct rw_job *j = rw_job_new(t->engine, plan);
	if (!j)
		return NULL;
	if (t->registry) {
		reg_file_lookup(t->registry, t->engine, plan, &j->res);
		j->skip_lookup = true;
	}
	if (engine_plan_files_ticket(plan)) {
		char ref[40], created[32];
		log_utc_now(created, sizeof(created));
		if (ticket_ref(t->ctx.id ? &t->hash : NULL, ref, sizeof(ref)) < 0 ||
		    !(j->ticket = report_ticket_json(t->engine, &se->conv, plan, ref, se->id,
						     created))) {
			rw_job_free(j);
			return NULL;
		}
	}
	snprintf(j->session_id, sizeof(j->session_id), "%s", se->id);
	j->owner = t;
	return j;
}

/* The thread that has t (a turn with an id): its message_hash, computed
 * once. The engine worker computes it as it decides the turn; the loop
 * only for a turn whose conversation has one at Redis (wait_for_first),
 * which keeps the hashing off the loop for the rest. A hash that is 0 is
 * computed again, to the same. */
static uint64_t turn_hash(struct turn *t)
{
	if (!t->hash)
		t->hash = message_hash(t->ctx.sess->id, t->ctx.id, t->text, t->len);
	return t->hash;
}

/* Any thread: a message sent again was answered with the reply it had. */
static void log_again(const struct sess *se)
{
	json_object *f = json_object_new_object();
	if (f)
		json_object_object_add(f, "session", json_object_new_string(se->id));
	log_event("info", "message_again", f);
}

/* Any thread, with the turn's conversation: a turn's work. */
static void run_turn(const struct ws_server *s, struct decider *d, struct turn *t)
{
	if (t->kind == TURN_SAY) {
		say(s, d, t->engine, t->fx->plan_copy, &t->fx->res, t);
		return;
	}
	/* Sent again, as the widget does when a reply was lost with its
	 * connection: the reply again, not a second turn (nor twice the
	 * customer's words in the conversation a technician reads). */
	struct sess *se = t->ctx.sess;
	const struct sess_reply *kept = t->ctx.id ? sess_kept_reply(se, turn_hash(t)) : NULL;
	if (kept) {
		if (!(t->frame = frame_new(kept->frame, kept->len, t->ctx.t_recv)))
			t->why = "out of memory";
		log_again(se);
		return;
	}
	engine_session_set_lang(&t->ctx.sess->conv, t->ctx.lang);
	t->rc = engine_decide(t->engine, d->scr, &t->ctx.sess->conv, t->text, t->len, t->today,
			      d->plan);
	if (t->rc < 0)
		return;
	/* The registry and the ticket need Redis: its worker does them and
	 * the reply follows when it is done, announced by a typing frame.
	 * Without Redis, the registry file (in memory) answers, tickets are
	 * only previewed, and the reply goes out at once. */
	if (s->rw && (engine_plan_files_ticket(d->plan) || d->plan->lookup != ENGINE_LOOKUP_NONE) &&
	    (t->fx = effects(d, t)))
		return;
	struct engine_results res;
	memset(&res, 0, sizeof(res));
	reg_file_lookup(t->registry, t->engine, d->plan, &res);
	/* No profile store to link an address in: never claim it linked. */
	if (engine_plan_links(t->engine, d->plan, &res))
		res.registry = ENGINE_REG_UNAVAILABLE;
	if (s->rw && engine_plan_files_ticket(d->plan))
		res.ticket = ENGINE_TICKET_FAILED; /* the job could not be made */
	say(s, d, t->engine, d->plan, &res, t);
}

/* Engine worker thread: ew's run function. */
static void run_on_worker(struct ew_job *job, void *arg)
{
	struct ws_server *s = arg;
	run_turn(s, &s->worker_d, (struct turn *)job);
}

/* Queues t with the rest of the turns this turn of the loop makes. */
static void batch_add(struct ws_server *s, struct turn *t)
{
	t->job.next = NULL;
	if (s->batch_tail)
		s->batch_tail->job.next = &t->job;
	else
		s->batch_head = t;
	s->batch_tail = t;
	s->batch_n++;
}

/* A conversation the engine worker had is free again: the welcomes that
 * waited for it go out, then the messages its connections held back for
 * them (held) go on. A welcome starts no turn, so none has to wait again. */
static void sess_free_again(struct ws_server *s, struct sess *se)
{
	/* held, not hellos: the connections that waited may have closed,
	 * and those held back for them must still go on. */
	if (se->busy || !se->held)
		return;
	se->held = false;
	struct conn *c;
	TAILQ_FOREACH(c, &s->conns, link) {
		if (!c->hello_wait || c->sess != se)
			continue;
		c->hello_wait = false;
		se->hellos--;
		welcome(c, c->hello_lang, c->hello_resumed);
	}
	TAILQ_FOREACH(c, &s->conns, link)
		if (c->sess == se && c->in_head)
			resume_inbound(c);
}

static void turn_free(struct turn *t)
{
	json_object_put(t->ctx.id);
	rw_job_free(t->fx);
	rw_job_free(t->save);
	free(t->frame);
	free(t);
}

/* Loop thread: se is to be stored whole once Redis answers (resave_one). */
static void resave_later(struct ws_server *s, struct sess *se)
{
	se->unsaved = true;
	s->resave = true;
}

/* Loop thread: stores a conversation no turn has out, as it stands, in
 * the terms of e, the engine it was last decided with: an idle one's is
 * s->engine, since a reload swaps engines only with no turn out. To
 * renew, it only keeps the stored copy another TTL, or stores this one
 * where Redis has none. Out of memory, it is left for the next resave. */
static void store_now(struct ws_server *s, const struct engine *e, struct sess *se, bool renew)
{
	struct rw_job *j = save_job(s, e, se, true);
	if (!j) {
		resave_later(s, se);
		return;
	}
	j->renew = renew;
	s->inflight++;
	rw_submit(s->rw, j);
}

/* Loop thread, before a conversation's first ticket goes to Redis: the
 * conversation goes first, when it is not there yet (it is stored after
 * each turn, and this turn's save follows the ticket). Should the server
 * die after the ticket was filed and before the reply went out (kill -9),
 * the widget resumes the session and sends the message again, which
 * names the same ticket only in the same session. Skipped while the
 * engine worker has the conversation (another tab's message). */
static void store_first(struct ws_server *s, const struct engine *e, struct sess *se)
{
	if (se->stored || se->busy)
		return;
	se->stored = true;
	store_now(s, e, se, false);
}

/* Loop thread: a connection, or a turn of a connection that closed, lets
 * go of se. When it was the last, a stored conversation is stored again:
 * Redis then keeps it for the session TTL from now, as this server does,
 * not from its last turn (a customer idle in an open tab resumes at
 * another instance after a deploy), and has the turns a save missed. A
 * copy unchanged since stored only renews what Redis has: another
 * instance may have stored a newer one meanwhile (a link this server
 * noticed dropped only now). */
static void leave(struct ws_server *s, struct sess *se)
{
	sess_detach(s->sessions, se, now_s());
	if (s->rw && !s->closing && se->attached == 0 && se->busy == 0 && se->stored)
		store_now(s, s->engine, se, !se->unsaved);
}

/* Loop thread: a save came back. One Redis did not take, or took but may
 * lack replies kept here (partly), leaves the conversation to be stored
 * again, whole, when Redis answers, and its next turn's save whole: a
 * turn's save writes only that turn's reply, not one lost before. So only
 * a whole save that Redis took makes it saved. */
static void saved(struct ws_server *s, const struct rw_job *j)
{
	struct sess *se = sess_find(s->sessions, j->session_id, now_s());
	bool again = !j->saved || j->partly;
	/* A renew that found a stored copy wrote nothing: it says nothing of
	 * a save before it that left replies out. */
	if (se && again)
		resave_later(s, se);
	else if (se && j->kept.whole && !j->renew)
		se->unsaved = false;
	else if (again)
		s->resave = true;
}

static void resave_one(struct sess *se, void *arg)
{
	struct ws_server *s = arg;
	/* Expired ones are let go, not stored for another TTL. One with a
	 * turn out waits for the next look, in case the turn stores nothing
	 * (a message sent again, a refused text). */
	if (!se->unsaved || sess_find(s->sessions, se->id, now_s()) != se)
		return;
	if (!no_turn_out(se))
		s->resave = true;
	else
		store_now(s, s->engine, se, false);
}

/* Loop thread: the save a turn made goes to Redis. One that could not be
 * made leaves the conversation to be stored whole later. */
static void submit_save(struct ws_server *s, struct turn *t)
{
	if (t->save_lost)
		resave_later(s, t->ctx.sess);
	t->save_lost = false;
	if (!t->save)
		return;
	s->inflight++;
	rw_submit(s->rw, t->save);
	t->save = NULL;
	t->ctx.sess->stored = true;
}

/* A turn is done (on the engine worker, or at once on the loop): its
 * effects go to the Redis worker, or its reply to the customer. The
 * connection's next messages are the caller's to go on with. */
static void turn_done(struct ws_server *s, struct turn *t)
{
	struct conn *c = t->ctx.conn;
	if (t->kind == TURN_DECIDE && t->fx) {
		t->ctx.sess->away++;
		TAILQ_INSERT_TAIL(&s->away, t, away_link);
		if (c)
			send_typing(c, t->ctx.id);
		struct rw_job *j = t->fx;
		t->fx = NULL;
		store_first(s, t->engine, t->ctx.sess);
		s->inflight++;
		rw_submit(s->rw, j);
		return;
	}
	if (t->rc == 0) {
		for (uint8_t i = 0; i < t->said.nparts; i++)
			s->metrics.replies_by_intent[t->said.intents[i]]++;
		s->metrics.fallbacks_total += t->said.fallback;
		s->metrics.closings_total += t->said.closing;
		s->metrics.escalations_total += t->said.escalate;
		s->metrics.tickets_stored += t->said.ticket == ENGINE_TICKET_STORED;
		s->metrics.tickets_failed += t->said.ticket == ENGINE_TICKET_FAILED;
	}
	submit_save(s, t);
	if (c) {
		if (t->rc < 0)
			send_error(c, t->rc == -TOK_EUTF8 ? "bad_utf8" :
				   t->rc == -TOK_ENUL ? "bad_text" : "too_long",
				   tok_strerror(t->rc), t->ctx.id);
		else if (!t->frame)
			send_error(c, "internal", t->why, t->ctx.id);
		else
			enqueue_frame(c, t->frame);
		t->frame = NULL;
		c->inflight = NULL;
	}
	s->engine_jobs--;
	struct sess *se = t->ctx.sess;
	struct rest rest = t->ctx.rest;
	t->ctx.rest.head = NULL;
	turn_free(t);
	/* The connection closed while the turn was out: its attachment,
	 * which the turn held, goes with the messages that came after. */
	if (!c)
		decide_rest(s, se, rest);
}

/* Loop thread: the copies of t's message sent again while t was at Redis
 * (wait_for_first) get its reply, or its error, as a copy sent later gets
 * the reply kept. They are not decided: the turns that t's connection
 * left behind, decided first, could have pushed t's reply out of those
 * kept. */
static void answer_copies(const struct turn *t, struct turn *copies)
{
	for (struct turn *w = copies; w; w = (struct turn *)w->job.next) {
		w->rc = t->rc;
		w->why = t->why;
		if (t->frame && !(w->frame = frame_new((const char *)t->frame->buf + LWS_PRE,
						       t->frame->len, w->ctx.t_recv)))
			w->why = "out of memory";
		log_again(w->ctx.sess);
	}
}

/* Loop thread: a turn is back from the engine worker, or was run here.
 * It is said or goes on to Redis, and its connection's next messages go
 * on. */
static void turn_back(struct ws_server *s, struct turn *t)
{
	struct conn *c = t->ctx.conn;
	/* Said: no longer out (TURN_SAY comes back only this way), so a
	 * welcome that waited stores a language it chose. Its save goes after
	 * this turn's: Redis ends with the later. */
	struct turn *copies = NULL;
	if (t->kind == TURN_SAY) {
		t->ctx.sess->away--;
		TAILQ_REMOVE(&s->away, t, away_link);
		copies = t->waiters;
		t->waiters = NULL;
		answer_copies(t, copies);
	}
	submit_save(s, t);
	/* Before the turn lets go of the session, which keeps it. */
	sess_free_again(s, t->ctx.sess);
	turn_done(s, t);
	if (c && !c->inflight)
		resume_inbound(c);
	for (struct turn *w = copies, *next; w; w = next) {
		next = (struct turn *)w->job.next;
		turn_back(s, w);
	}
}

/* Hands the turns this turn of the loop made to the engine worker. While
 * the loop has time to spare (s->quiet), small batches, while the worker
 * has none, are run here instead: handing a few over and waking the
 * worker, then the loop, costs more CPU than the turns themselves (a
 * server at 5,000 msgs/s over 10,000 connections used 24 % of a core that
 * way, 14 % deciding here) and adds to their latency (at 43,000 msgs/s
 * over 2,000 connections, p50 0.2-0.3 ms against 0.09). Under load the
 * loop keeps none: it has no time to spare, and even small batches went
 * faster through the worker. With no turn on the worker no conversation
 * is busy, so the loop may touch any. Turns run here can make more (a
 * connection's next message): they go the same way. */
static void flush_batch(struct ws_server *s)
{
	while (s->batch_head) {
		struct turn *t = s->batch_head, *last = s->batch_tail;
		unsigned n = s->batch_n;
		s->batch_head = s->batch_tail = NULL;
		s->batch_n = 0;
		for (struct turn *u = t; u; u = (struct turn *)u->job.next)
			u->save_whole = u->ctx.sess->unsaved;
		if (s->quiet && !s->worker_turns && n <= INLINE_TURNS_MAX) {
			for (struct turn *next; t; t = next) {
				next = (struct turn *)t->job.next;
				run_turn(s, &s->loop_d, t);
				turn_back(s, t);
			}
			continue;
		}
		for (struct turn *u = t; u; u = (struct turn *)u->job.next)
			u->ctx.sess->busy++;
		s->worker_turns += n;
		s->inflight += n;
		ew_submit(s->ew, &t->job, &last->job);
	}
}

/* A turn to decide the message text[0..len), in conversation se, for no
 * connection yet; it takes id (NULL: none). Returns it, or NULL when
 * memory is short (id is the caller's still). */
static struct turn *turn_new(struct ws_server *s, struct sess *se, const char *text,
			     size_t len, json_object *id, double t_recv)
{
	struct turn *t = calloc(1, sizeof(*t) + len + 1);
	if (!t)
		return NULL;
	s->metrics.messages_total++;
	s->engine_jobs++;
	t->kind = TURN_DECIDE;
	t->ctx.sess = se;
	t->save_whole = se->unsaved; /* again when handed out (flush_batch) */
	t->ctx.id = id;
	t->ctx.t_recv = t_recv;
	t->ctx.lang = -1;
	t->engine = s->engine;
	t->registry = s->registry;
	memcpy(t->text, text, len);
	t->len = len;
	t->today = today_utc();
	return t;
}

/* Makes a message's id from its "id" member v into *id (the caller's;
 * NULL when it has none, or null). Returns 0; -EINVAL when the id is one
 * no message may have: not a string or an integer, or an integer past 64
 * bits, which json-c clamps to its extremes, where two different ids
 * would name one message (and file one ticket; the extremes themselves
 * are refused with them); -ENOMEM when memory is short. */
static int message_id(const struct jr_val *v, json_object **id)
{
	*id = NULL;
	if (v->kind == JR_ABSENT || v->kind == JR_NULL)
		return 0;
	if (v->kind == JR_STRING) {
		*id = json_object_new_string_len(v->s, (int)v->len);
	} else if (v->kind == JR_INT) {
		char digits[24];
		if (v->len >= sizeof(digits))
			return -EINVAL;
		memcpy(digits, v->s, v->len);
		digits[v->len] = '\0';
		if (digits[0] == '-') {
			long long n = strtoll(digits, NULL, 10);
			if (n == LLONG_MIN)
				return -EINVAL;
			*id = json_object_new_int64(n);
		} else {
			unsigned long long n = strtoull(digits, NULL, 10);
			if (n == ULLONG_MAX)
				return -EINVAL;
			*id = n > INT64_MAX ? json_object_new_uint64(n) : json_object_new_int64((int64_t)n);
		}
	} else {
		return -EINVAL;
	}
	return *id ? 0 : -ENOMEM;
}

/* Loop thread: a message sent again while its first copy is at Redis
 * (the widget sends again what its lost connection had no reply to)
 * waits for that copy's reply rather than being decided twice: one turn
 * of the conversation, one reply. Returns true when t waits so; it is
 * answered when the first copy is said (answer_copies). */
static bool wait_for_first(struct ws_server *s, struct turn *t)
{
	if (!t->ctx.id || t->ctx.sess->away == 0)
		return false;
	struct turn *first;
	TAILQ_FOREACH(first, &s->away, away_link)
		if (first->ctx.sess == t->ctx.sess && first->ctx.id && first->hash == turn_hash(t))
			break;
	if (!first)
		return false;
	t->job.next = first->waiters ? &first->waiters->job : NULL;
	first->waiters = t;
	if (t->ctx.conn)
		send_typing(t->ctx.conn, t->ctx.id);
	return true;
}

static void on_message(struct conn *c, const struct fields *f, double t_recv)
{
	struct ws_server *s = c->srv;
	const struct jr_val *v = &f->v[F_TEXT];
	json_object *id;
	int rc = message_id(&f->v[F_ID], &id);
	if (rc == -EINVAL) {
		send_error(c, "bad_id", "\"id\" must be a string or an integer "
			   "from -9223372036854775807 to 18446744073709551614", NULL);
		return;
	}
	if (rc < 0) {
		send_error(c, "internal", "out of memory; try again later", NULL);
		return;
	}
	if (v->kind != JR_STRING) {
		send_error(c, "bad_text", "\"text\" must be a string", id);
		goto put_id;
	}
	/* A new conversation for no session reads no other frame, so the
	 * text, which may be in s->scratch, is still there. */
	if (!c->sess && attach(c, NULL, -1) < 0)
		goto put_id;
	struct turn *t = turn_new(s, c->sess, v->s, v->len, id, t_recv);
	if (!t) {
		send_error(c, "internal", "out of memory; try again later", id);
		goto put_id;
	}
	t->ctx.conn = c;
	c->inflight = &t->ctx;
	if (wait_for_first(s, t))
		return;
	/* A connection that is closing sends nothing more: what came with
	 * the close is decided at once, here, up to the first message that
	 * waits for Redis, unless the engine worker has the conversation
	 * (for another connection). */
	if (c->dead && !c->sess->busy) {
		run_turn(s, &s->loop_d, t);
		turn_done(s, t);
		return;
	}
	batch_add(s, t);
	return;
put_id:
	json_object_put(id);
}

/* Whether the bucket (*tokens, refilled at *refilled) lets a message that
 * arrived at now through; takes its token when it does. */
static bool take_token(const struct ws_config *cfg, double *tokens, double *refilled, double now)
{
	*tokens += (now - *refilled) * cfg->rate;
	if (*tokens > cfg->burst)
		*tokens = cfg->burst;
	*refilled = now;
	if (*tokens < 1)
		return false;
	*tokens -= 1;
	return true;
}

/* Refuses a message as rate_limited, naming it by its "id" member idv
 * (NULL: none read), unless that is an id no message may have. */
static void rate_limited(struct conn *c, const struct jr_val *idv, const char *message)
{
	json_object *id = NULL;
	if (idv)
		message_id(idv, &id);
	send_error(c, "rate_limited", message, id);
	json_object_put(id);
}

/* Refuses a message for the queue of those waiting being full, naming it
 * by its id when its frame has one. */
static void refuse_waiting(struct conn *c, const char *data, size_t len)
{
	struct fields f;
	bool too_deep;
	bool read = read_fields(c->srv, data, len, &f, &too_deep) == 0;
	rate_limited(c, read ? &f.v[F_ID] : NULL, "too many messages waiting; slow down");
	fields_free(&f);
}

/* Processes one complete text message from the client. */
static void process(struct conn *c, const char *data, size_t len, double now)
{
	struct ws_server *s = c->srv;
	struct fields f;
	bool too_deep;
	if (read_fields(s, data, len, &f, &too_deep) < 0) {
		if (too_deep)
			send_error(c, "too_deep", "JSON nested more than 8 levels deep", NULL);
		else
			send_error(c, "bad_json", "the frame is not one JSON object", NULL);
		return;
	}
	/* A token bucket: bursts are fine, a flood is told to slow down, with
	 * the message it refused named. */
	if (!take_token(&s->cfg, &c->tokens, &c->refilled, now)) {
		rate_limited(c, &f.v[F_ID], "too many messages; slow down");
	} else if (str_is(&f.v[F_TYPE], "message")) {
		on_message(c, &f, now);
	} else if (str_is(&f.v[F_TYPE], "hello")) {
		on_hello(c, &f);
	} else {
		send_error(c, "bad_type", "\"type\" must be \"hello\" or \"message\"", NULL);
	}
	fields_free(&f);
}

static void free_inmsgs(struct inmsg *m)
{
	for (struct inmsg *n; m; m = n) {
		n = m->next;
		free(m);
	}
}

/* Loop thread: the messages a connection sent after the one that was out
 * when it closed, now that that one is said (or after its hello, whose
 * welcome never went out). They are decided as if the connection had
 * stayed (no reply can go out), under the same rate limit, in the
 * language that hello asked for: their tickets filed, the conversation
 * moved on. Frames that are not messages are dropped, with no one to
 * tell, and a hello ends it: the messages after it were meant for the
 * conversation it asked for, which no connection will hold. Takes r and
 * one attachment of se, which each turn it starts gets one of its own
 * besides. A turn that goes to the engine worker or to Redis takes the
 * rest with it. */
static void decide_rest(struct ws_server *s, struct sess *se, struct rest r)
{
	while (r.head && !s->closing) {
		struct inmsg *m = r.head;
		r.head = m->next;
		struct fields f;
		bool too_deep, read = read_fields(s, m->data, m->len, &f, &too_deep) == 0;
		const struct jr_val *v = &f.v[F_TEXT];
		json_object *id = NULL;
		struct turn *t = NULL;
		bool hello = read && str_is(&f.v[F_TYPE], "hello");
		if (read && take_token(&s->cfg, &r.tokens, &r.refilled, m->t_recv) &&
		    str_is(&f.v[F_TYPE], "message") && v->kind == JR_STRING &&
		    message_id(&f.v[F_ID], &id) == 0 && !(t = turn_new(s, se, v->s, v->len, id, m->t_recv)))
			json_object_put(id);
		if (t) {
			t->ctx.lang = r.lang;
			r.lang = -1;
		}
		fields_free(&f);
		free(m);
		if (hello)
			break;
		if (!t)
			continue;
		/* Attached once more (it is, so it is found), for the turn. */
		sess_resume(s->sessions, se->id, now_s());
		bool waits = wait_for_first(s, t);
		if (waits || se->busy) {
			/* Its first copy is at Redis, or another connection's turn
			 * has the conversation. */
			t->ctx.rest = r;
			if (!waits)
				batch_add(s, t);
			r.head = NULL;
			break;
		}
		run_turn(s, &s->loop_d, t);
		if (t->fx) {
			/* To Redis: the rest follows when it is said. */
			t->ctx.rest = r;
			r.head = NULL;
		}
		turn_done(s, t);
	}
	free_inmsgs(r.head);
	leave(s, se);
}

/* The connection's next message waits: the one before it is out (on the
 * engine worker, at Redis, a session load), its welcome waits for another
 * connection's turn of the conversation, or other connections' welcomes
 * do (then no new turn of it starts, so they come: see sess_free_again). */
static bool held(const struct conn *c)
{
	return c->inflight || c->hello_wait || (!c->dead && c->sess && c->sess->hellos);
}

/* Takes one complete text message and queues it. Messages are parsed and
 * handed to the engine worker in batches, by run_batch once the loop has
 * read all it can in this turn: one hand-over (a lock, a wake-up) a turn
 * rather than a message, and the worker decides them back to back, with
 * the engine's tables in its cache.
 *
 * While an earlier message is out (on the engine worker, or waiting for
 * Redis) the queue is bounded, and a message is decided only after the
 * one before it was said: replies keep the order of the messages. */
static void handle(struct conn *c, const char *data, size_t len)
{
	struct ws_server *s = c->srv;
	double now = now_s();
	/* A peer that sends is there, pongs or not: a client that talks but
	 * leaves pings to its platform is not hung up on. */
	seen(c);
	if (!tok_utf8_valid(data, len)) {
		metrics_error(&s->metrics, "bad_utf8");
		close_after_queue(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "invalid UTF-8");
		return;
	}
	/* Reading stops once the messages waiting here and the frames queued
	 * reach queue_max (pace_reading), so this queue stays within it.
	 * Should lws hand over more while a message is out, they are refused
	 * rather than kept. */
	bool waiting = held(c) || s->rl.waiting;
	struct inmsg *m = !waiting || c->nin < s->cfg.queue_max ? malloc(sizeof(*m) + len) : NULL;
	if (!m) {
		refuse_waiting(c, data, len);
		return;
	}
	m->next = NULL;
	m->t_recv = now;
	m->len = len;
	memcpy(m->data, data, len);
	if (c->in_tail)
		c->in_tail->next = m;
	else
		c->in_head = m;
	c->in_tail = m;
	c->nin++;
	pace_reading(c);
	if (c->inflight || c->ready)
		return;
	c->ready = true;
	TAILQ_INSERT_TAIL(&s->ready, c, ready_link);
}

/* Processes the messages that waited, until one waits for Redis again.
 * No more than queue_max wait behind it: reading stops there
 * (pace_reading). */
static void drain_inbound(struct conn *c)
{
	if (c->srv->closing)
		return;
	/* A close asked for after them (a bad frame, SIGTERM, a slow reader)
	 * does not cancel them: they were owed before it. */
	while (c->in_head && !held(c)) {
		struct inmsg *m = c->in_head;
		c->in_head = m->next;
		if (!c->in_head)
			c->in_tail = NULL;
		c->nin--;
		process(c, m->data, m->len, m->t_recv);
		free(m);
	}
}

/* Decides the messages of a connection on the ready list now, ahead of the
 * rest of the batch: it is closing. They are decided even while a reload
 * waits, with the engine they came to, since no reply can wait for it. */
static void settle(struct conn *c)
{
	if (!c->ready)
		return;
	TAILQ_REMOVE(&c->srv->ready, c, ready_link);
	c->ready = false;
	drain_inbound(c);
}

/* Decides the messages read in this turn of the loop, connection by
 * connection in the order they arrived. While a reload waits for the jobs
 * in flight they stay on the ready list: deciding them could start more. */
static void run_batch(struct ws_server *s)
{
	if (!s->rl.waiting)
		for (struct conn *c; (c = TAILQ_FIRST(&s->ready));)
			settle(c);
	flush_batch(s);
}

/* The messages that waited behind a job that is done: decided now, or in
 * the batch after the swap while a reload waits. */
static void resume_inbound(struct conn *c)
{
	if (!c->srv->rl.waiting) {
		drain_inbound(c);
	} else if (c->in_head && !c->ready) {
		c->ready = true;
		TAILQ_INSERT_TAIL(&c->srv->ready, c, ready_link);
	}
}

/* Asks Redis for a conversation this process does not hold, or holds a
 * copy of that may be stale (held, attached for c: loaded decides, and
 * takes the attachment over). Returns 0 when the question is on its way,
 * -1 when it could not be asked. */
static int load_session(struct conn *c, const char *id, int lang, struct sess *held)
{
	struct ws_server *s = c->srv;
	if (!sess_id_valid(id))
		return -1;
	struct job_ctx *ctx = calloc(1, sizeof(*ctx));
	struct rw_job *j = ctx ? calloc(1, sizeof(*j)) : NULL;
	if (!j) {
		free(ctx);
		return -1;
	}
	j->kind = RW_LOAD_SESSION;
	snprintf(j->session_id, sizeof(j->session_id), "%s", id);
	ctx->conn = c;
	ctx->sess = held;
	ctx->lang = lang;
	j->owner = ctx;
	c->inflight = ctx;
	s->inflight++;
	s->engine_jobs++;
	rw_submit(s->rw, j);
	return 0;
}

/* Loop thread: true when Redis' copy of se (in j) is not the one held. */
static bool differs(const struct ws_server *s, const struct sess *se, const struct rw_job *j)
{
	unsigned char held[ENGINE_SESSION_BYTES];
	size_t n = engine_session_pack(s->engine, &se->conv, held);
	return n != j->session_len || memcmp(held, j->session, n) != 0;
}

/* Loop thread: a conversation came back from Redis, or did not. Takes
 * the messages a closed connection left behind (ctx->rest). */
static void loaded(struct ws_server *s, struct rw_job *j, struct job_ctx *ctx)
{
	struct conn *c = ctx->conn;
	struct rest rest = ctx->rest;
	struct sess *se = ctx->sess; /* a copy held here, attached for c */
	ctx->rest.head = NULL;
	double now = now_s();
	struct engine_session conv;
	bool found = j->found && engine_session_unpack(s->engine, j->session, j->session_len, &conv);
	/* The copy held here gives way to Redis' when that has more turns, or
	 * as many and the held one has nothing Redis missed: then another
	 * instance went on with it since (or stored the same), and any
	 * connection here goes on from there too. Redis not answering leaves
	 * the held copy, the best there is; so does a turn of it started here
	 * meanwhile. */
	if (se && found && may_be_stale(se) &&
	    (conv.nturns > se->conv.nturns ||
	     (conv.nturns == se->conv.nturns && !se->unsaved && differs(s, se, j)))) {
		sess_replace(se, &conv);
		sess_replies_unpack(se, &j->kept, s->loop_d.frame_max);
	}
	if (!c && !rest.head) {
		if (se)
			leave(s, se);
		return;
	}
	/* Without a held copy, another connection may have brought the
	 * conversation in while this one waited: it is shared, as a resume
	 * from memory would share it. */
	if (!se && !(se = sess_resume(s->sessions, j->session_id, now)) && found &&
	    (se = sess_adopt(s->sessions, j->session_id, &conv, now))) {
		se->stored = true;
		sess_replies_unpack(se, &j->kept, s->loop_d.frame_max);
	}
	bool resumed = se != NULL;
	if (!resumed)
		se = sess_create(s->sessions, ctx->lang, now);
	if (!c) {
		/* The customer left while Redis looked: what they sent after
		 * the hello is still decided in the conversation it asked for,
		 * as if they had stayed (their tickets filed). */
		if (!se) {
			free_inmsgs(rest.head);
			return;
		}
		rest.lang = ctx->lang;
		decide_rest(s, se, rest);
		return;
	}
	c->inflight = NULL;
	c->sess = se;
	welcome(c, ctx->lang, resumed);
	/* The messages that waited are answered even when the welcome
	 * failed: with an error each, rather than never. */
	resume_inbound(c);
}

/* Loop thread, at start and once a tick: logs Redis going away and coming
 * back, and the spool starting to hold tickets and emptied again, once
 * each, not once a ticket: an outage under load spools thousands a second.
 * The worker counts outages and tickets, so an outage or a spool that came
 * and went between two looks is logged too. */
static void log_worker(struct ws_server *s)
{
	struct rw_state st;
	if (!s->rw)
		return;
	rw_state(s->rw, &st);
	if (st.outages != s->said.outages) {
		json_object *f = json_object_new_object();
		if (f)
			json_object_object_add(f, "error", json_object_new_string(st.why));
		log_event("warn", "redis_down", f);
		s->said_up = false;
	}
	if (st.redis_ok && !s->said_up) {
		log_event("info", "redis_up", NULL);
		s->said_up = true;
	}
	if (st.redis_ok && s->resave && !s->closing) {
		s->resave = false;
		sess_each(s->sessions, resave_one, s);
	}
	if (!s->spool_said && (st.spool_pending || st.spooled != s->said.spooled ||
			       st.drained != s->said.drained)) {
		log_event("warn", "spooling", NULL);
		s->spool_said = true;
		s->spool_since = now_s();
		s->drained_before = s->said.drained;
	}
	if (s->spool_said && !st.spool_pending) {
		json_object *f = json_object_new_object();
		if (f) {
			json_object_object_add(f, "tickets", json_object_new_int64(
				(int64_t)(st.drained - s->drained_before)));
			json_object_object_add(f, "seconds",
					       json_object_new_double(now_s() - s->spool_since));
		}
		log_event("info", "spool_drained", f);
		s->spool_said = false;
	}
	/* Each customer was told the technical part was not recorded; the
	 * log says so once a look, with the cause (a full disk). */
	if (st.spool_failed != s->said.spool_failed) {
		json_object *f = json_object_new_object();
		if (f) {
			json_object_object_add(f, "error", json_object_new_string(st.spool_why));
			json_object_object_add(f, "tickets", json_object_new_int64(
				(int64_t)(st.spool_failed - s->said.spool_failed)));
		}
		log_event("error", "spool_failed", f);
	}
	s->said = st;
}

/* Loop thread: the workers finished jobs. A turn's reply is said to its
 * connection, or, when the customer left meanwhile, still recorded in the
 * conversation so a reconnect continues from it; effects the Redis worker
 * carried out go back to the engine worker to be said. */
static void collect(struct ws_server *s)
{
	for (struct ew_job *next, *job = ew_take_done(s->ew); job; job = next) {
		next = job->next;
		struct turn *t = (struct turn *)job;
		s->inflight--;
		s->worker_turns--;
		t->ctx.sess->busy--;
		turn_back(s, t);
	}
	for (struct rw_job *j; s->rw && (j = rw_take_done(s->rw));) {
		s->inflight--;
		if (j->kind == RW_LOAD_SESSION) {
			s->engine_jobs--;
			struct job_ctx *ctx = j->owner;
			loaded(s, j, ctx);
			free(ctx);
		} else if (j->kind == RW_EFFECTS) {
			struct turn *t = j->owner;
			t->kind = TURN_SAY;
			t->fx = j;
			batch_add(s, t);
			continue;
		} else if (j->kind == RW_SAVE_SESSION) {
			saved(s, j);
		}
		rw_job_free(j);
	}
	flush_batch(s);
}

/* ---- connection filtering ---- */

static bool origin_allowed(const struct ws_server *s, struct lws *wsi)
{
	if (s->cfg.norigins == 0)
		return true;
	char origin[256];
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0)
		return false;
	for (size_t i = 0; i < s->cfg.norigins; i++)
		if (strcmp(origin, s->cfg.origins[i]) == 0)
			return true;
	return false;
}

/* Refuses a WebSocket upgrade that is not for us. Returns the reason, with
 * the HTTP status that says it in *status, or NULL to accept. */
static const char *refuse(struct ws_server *s, struct lws *wsi, unsigned *status)
{
	char uri[64];
	*status = HTTP_STATUS_SERVICE_UNAVAILABLE;
	if (s->draining)
		return "shutting down";
	*status = HTTP_STATUS_NOT_FOUND;
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0)
		return "not the WebSocket path";
	*status = HTTP_STATUS_FORBIDDEN;
	if (!origin_allowed(s, wsi))
		return "origin not allowed";
	*status = HTTP_STATUS_SERVICE_UNAVAILABLE;
	if (s->metrics.connections_open >= s->cfg.max_connections)
		return "too many connections";
	return NULL;
}

/* ---- HTTP endpoints ---- */

/* Answers a request for /healthz or /metrics: headers and body (none for
 * HEAD) at once, from the HTTP callback. A deferred body would be lost
 * when a client pipelines its next request: lws rebinds the connection to
 * it before the WRITEABLE callback comes. The bodies are small, so the
 * socket takes them (and lws buffers what it does not). Unless keep, the
 * connection closes after it, and the answer says so. Takes body. Returns
 * what the callback returns. */
static int http_respond(struct lws *wsi, unsigned status, const char *type,
			char *body, size_t len, bool head, bool keep)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
		      *end = hdr + sizeof(hdr) - 1;
	int rc = -1;
	if (lws_add_http_common_headers(wsi, status, type, (lws_filepos_t)len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ALLOW,
					 (const unsigned char *)"GET, HEAD", 9, &p, end) ||
	    (!keep && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
						   (const unsigned char *)"close", 5, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		goto free_body;
	if (!head &&
	    lws_write(wsi, (unsigned char *)body + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) < 0)
		goto free_body;
	if (keep)
		rc = lws_http_transaction_completed(wsi) ? -1 : 0;
free_body:
	free(body);
	return rc;
}

/* Answers with a line of plain text: a 404, a 405, or an upgrade refused. */
static int http_text(struct lws *wsi, unsigned status, const char *text, bool head, bool keep)
{
	size_t len = strlen(text);
	char *body = malloc(LWS_PRE + len);
	if (!body)
		return -1;
	memcpy(body + LWS_PRE, text, len);
	return http_respond(wsi, status, "text/plain", body, len, head, keep);
}

static int http_request(struct ws_server *s, struct lws *wsi, const char *path, bool head)
{
	if (strcmp(path, "/healthz") != 0 && strcmp(path, "/metrics") != 0)
		return http_text(wsi, HTTP_STATUS_NOT_FOUND, "not found\n", head, true);
	size_t cap = 16384;
	char *body = malloc(LWS_PRE + cap);
	if (!body)
		return -1;
	char *out = body + LWS_PRE;
	/* Read from the worker and the store when asked for, so they are
	 * never stale. */
	struct rw_state st = { 0 };
	if (s->rw)
		rw_state(s->rw, &st);
	if (strcmp(path, "/healthz") == 0) {
		const char *redis = !s->rw ? "not configured" : st.redis_ok ? "ok" : "down";
		int n = snprintf(out, cap, "{\"status\":\"%s\",\"connections\":%llu,"
				 "\"sessions\":%zu,\"redis\":\"%s\",\"spool_pending\":%s}\n",
				 s->draining ? "draining" : "ok",
				 (unsigned long long)s->metrics.connections_open,
				 sess_count(s->sessions), redis,
				 st.spool_pending ? "true" : "false");
		return http_respond(wsi, s->draining ? 503 : 200, "application/json", body,
				    (size_t)n, head, true);
	}
	s->metrics.sessions_open = sess_count(s->sessions);
	s->metrics.log_dropped = log_dropped_total();
	s->metrics.redis_up = s->rw ? st.redis_ok : -1;
	s->metrics.spool_pending = st.spool_pending;
	s->metrics.tickets_spooled = st.spooled;
	s->metrics.spool_drained = st.drained;
	int n = metrics_render(&s->metrics, engine_pack(s->engine), out, cap);
	if (n < 0) {
		free(body);
		return -1;
	}
	return http_respond(wsi, 200, "text/plain; version=0.0.4", body, (size_t)n, head, true);
}

/* ---- the callbacks ---- */

static int writeable(struct conn *c)
{
	if (c->ping_owed) {
		/* Not empty: lws 4.1 passes no empty pong to the callback. */
		unsigned char ping[LWS_PRE + 1] = { [LWS_PRE] = 'p' };
		c->ping_owed = false;
		if (!c->close_code && lws_write(c->wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 0)
			return -1;
	}
	for (int k = 0; k < WRITES_PER_CALLBACK && c->head; k++) {
		struct frame *f = c->head;
		if (lws_write(c->wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
			return -1;
		if (f->t_recv > 0)
			metrics_latency(&c->srv->metrics, now_s() - f->t_recv);
		c->head = f->next;
		if (!c->head) {
			c->tail = NULL;
			TAILQ_REMOVE(&c->srv->queued, c, queued_link);
		}
		c->nframes--;
		free(f);
		/* Asking whether the socket takes more costs a poll() of its
		 * own: only worth it when there is more. */
		if (c->head && lws_send_pipe_choked(c->wsi))
			break;
	}
	pace_reading(c);
	if (c->head) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (c->close_code && !c->inflight && !c->in_head && !c->hello_wait) {
		lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
				 (unsigned char *)c->close_why, strlen(c->close_why));
		return -1;
	}
	return 0;
}

/* Takes a piece of an incoming message. Returns -1 to close the connection
 * (the close reason is set). */
static int receive(struct conn *c, const char *in, size_t len)
{
	struct ws_server *s = c->srv;
	/* After a protocol violation the connection only finishes writing the
	 * replies it owes, then closes; whatever else arrives is dropped
	 * unread, as it is once the connection is hung up. */
	if (c->close_code || c->dead)
		return 0;
	if (lws_frame_is_binary(c->wsi)) {
		metrics_error(&s->metrics, "binary");
		close_after_queue(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "text frames only");
		return 0;
	}
	bool last = lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi);
	/* Refused as soon as it passes the limit, without keeping more than
	 * the limit. */
	if (c->rxlen + len > s->cfg.max_bytes) {
		metrics_error(&s->metrics, "too_long");
		log_event("warn", "too_long", conn_fields(c));
		free(c->rx);
		c->rx = NULL;
		c->rxlen = 0;
		close_after_queue(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
		return 0;
	}
	if (last && !c->rx) {
		handle(c, in, len);
		return 0;
	}
	if (!c->rx && !(c->rx = malloc(s->cfg.max_bytes)))
		return -1;
	memcpy(c->rx + c->rxlen, in, len);
	c->rxlen += len;
	if (last) {
		handle(c, c->rx, c->rxlen);
		free(c->rx);
		c->rx = NULL;
		c->rxlen = 0;
	}
	return 0;
}

static void closed(struct conn *c)
{
	struct ws_server *s = c->srv;
	if (!s)
		return;
	/* Messages that came with the close are still decided: their tickets
	 * filed, the conversation kept for a reconnect. No reply can go out,
	 * so the customer was told of none (the widget sends again what was
	 * not answered when it reconnects, and its ids file no second
	 * ticket). Those behind a message that is out (on the engine worker,
	 * at Redis) go with it and are decided after it (decide_rest). */
	c->dead = true;
	settle(c);
	if (c->hello_wait)
		c->sess->hellos--;
	struct rest rest = { c->in_head, c->tokens, c->refilled, -1 };
	if (c->inflight) {
		/* The job still says its reply into the session, then lets go. */
		c->inflight->conn = NULL;
		c->inflight->rest = rest;
	} else if (c->hello_wait && rest.head) {
		/* Held back for a welcome that waited for another connection's
		 * turn of the conversation: decided after that turn, in the
		 * conversation, which takes over c's attachment. */
		rest.lang = c->hello_lang;
		decide_rest(s, c->sess, rest);
	} else {
		free_inmsgs(rest.head);
		if (c->sess)
			leave(s, c->sess);
	}
	free_queue(c);
	c->in_head = c->in_tail = NULL;
	c->nin = 0;
	free(c->rx);
	c->rx = NULL;
	TAILQ_REMOVE(&s->conns, c, link);
	s->metrics.connections_open--;
	log_event("info", "close", conn_fields(c));
	c->srv = NULL;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		    void *in, size_t len)
{
	struct ws_server *s = lws_context_user(lws_get_context(wsi));
	struct conn *c = user;
	const char *why;
	unsigned status;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if ((why = refuse(s, wsi, &status))) {
			s->metrics.connections_rejected++;
			json_object *f = json_object_new_object();
			json_object_object_add(f, "reason", json_object_new_string(why));
			log_event("warn", "refused", f);
			/* The client (a browser's console, curl, a load balancer)
			 * is told why rather than left with a dropped connection;
			 * the connection closes after it. */
			char line[64];
			snprintf(line, sizeof(line), "%s\n", why);
			http_text(wsi, status, line, false, false);
			return 1;
		}
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		c->srv = s;
		c->wsi = wsi;
		c->id = ++s->next_id;
		c->tokens = s->cfg.burst;
		c->refilled = now_s();
		c->due = c->refilled + s->cfg.idle_timeout / 2.0;
		TAILQ_INSERT_TAIL(&s->conns, c, link);
		s->metrics.connections_open++;
		s->metrics.connections_total++;
		log_event("info", "connect", conn_fields(c));
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return c->srv ? receive(c, in, len) : -1;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c->srv)
			seen(c);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->srv ? writeable(c) : -1;
	case LWS_CALLBACK_CLOSED:
		closed(c);
		return 0;
	case LWS_CALLBACK_HTTP:
		c->srv = NULL;
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (s && s->ew)
			collect(s);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The dynamic HTTP endpoints, /healthz and /metrics. */
static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	struct ws_server *s = lws_context_user(lws_get_context(wsi));
	/* Only the chat protocol takes WebSocket upgrades: one asking for this
	 * protocol by name (Sec-WebSocket-Protocol) would skip refuse()'s
	 * path, origin and --max-connections checks, and hold a socket no
	 * count sees. */
	if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
		return -1;
	if (reason == LWS_CALLBACK_HTTP) {
		/* A health check may use HEAD. Any other method is refused,
		 * and the connection closed, since its body was not read. */
		bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
		bool head = !get && lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
		if (!get && !head)
			return http_text(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED,
					 "method not allowed\n", false, false);
		/* The mount point is stripped from "in"; the full path tells
		 * the two endpoints apart. One too long for path is neither. */
		char path[32];
		if (lws_hdr_copy(wsi, path, sizeof(path),
				 get ? WSI_TOKEN_GET_URI : WSI_TOKEN_HEAD_URI) <= 0)
			path[0] = '\0';
		return http_request(s, wsi, path, head);
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* Worker thread: a job is done; lws_cancel_service is the one call lws
 * allows from another thread, and it brings the loop to collect(). */
static void wake(void *ctx)
{
	lws_cancel_service(ctx);
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct ws_server *s = lws_container_of(sul, struct ws_server, tick_timer);
	double now = now_s();
	struct conn *c;
	log_worker(s);
	/* A client that stopped reading while sending nothing more is found
	 * here rather than at its next message. Only those with frames
	 * queued can be: at 10,000 connections a walk over all of them took
	 * some 10 ms of the loop each second, and held up the messages that
	 * came meanwhile. Dropping one takes it off the list. */
	for (struct conn *next = TAILQ_FIRST(&s->queued); (c = next);) {
		next = TAILQ_NEXT(c, queued_link);
		if (!c->dead && slow_reader(c, now))
			drop_slow_reader(c);
	}
	if (++s->ticks % EXPIRE_EVERY_TICKS == 0) {
		size_t n = sess_expire(s->sessions, now);
		if (n) {
			json_object *f = json_object_new_object();
			json_object_object_add(f, "expired", json_object_new_int64((int64_t)n));
			log_event("info", "sessions_expired", f);
		}
	}
	lws_sul_schedule(s->ctx, 0, &s->tick_timer, tick, TICK_US);
}

/* ---- the deciders ---- */

static int decider_init(struct decider *d, const struct engine *e, size_t max_bytes)
{
	d->scr = engine_scratch_new(e);
	d->plan = malloc(sizeof(*d->plan));
	d->reply = malloc(sizeof(*d->reply));
	d->frame_max = REPORT_JSON_MAX(max_bytes);
	d->frame = malloc(d->frame_max);
	d->logbuf_max = 6 * max_bytes + 1024;
	d->logbuf = malloc(d->logbuf_max);
	d->idjs_max = 6 * max_bytes + 3;
	d->idjs = malloc(d->idjs_max);
	return d->scr && d->plan && d->reply && d->frame && d->logbuf && d->idjs ? 0 : -1;
}

static void decider_free(struct decider *d)
{
	engine_scratch_free(d->scr);
	free(d->plan);
	free(d->reply);
	free(d->frame);
	free(d->logbuf);
	free(d->idjs);
}

/* ---- reload ---- */

void ws_data_free(struct ws_data *d)
{
	reg_file_free(d->registry);
	engine_free(d->engine);
	d->registry = NULL;
	d->engine = NULL;
}

static void reload_failed(struct ws_server *s, const char *why)
{
	json_object *f = json_object_new_object();
	json_object_object_add(f, "error", json_object_new_string(why));
	log_event("error", "reload_failed", f);
	s->metrics.reloads_failed++;
}

/* Loader thread: reads the files. The loop sees done at its next turn,
 * which lws_cancel_service (safe from any thread) brings at once. */
static void *load_files(void *arg)
{
	struct ws_server *s = arg;
	s->rl.rc = s->cfg.load(s->cfg.load_arg, &s->rl.data, s->rl.err, sizeof(s->rl.err));
	atomic_store(&s->rl.done, true);
	lws_cancel_service(s->ctx);
	return NULL;
}

static void reload_start(struct ws_server *s)
{
	if (!s->cfg.load) {
		reload_failed(s, "this server has no files to reload");
		return;
	}
	atomic_store(&s->rl.done, false);
	s->rl.started = now_s();
	if (rw_thread_start(&s->rl.thread, load_files, s) < 0) {
		reload_failed(s, "cannot start the loader thread");
		return;
	}
	s->rl.running = true;
	log_event("info", "reloading", NULL);
}

static void move_session(struct sess *se, void *arg)
{
	const struct engine *const *e = arg;
	engine_session_move(e[0], e[1], &se->conv);
}

/* Loop thread, with no job in flight that holds the engine: the loaded
 * engine and registry take over, and the conversations and counters
 * follow the intents' names. */
static void swap_data(struct ws_server *s)
{
	struct ws_data next = s->rl.data;
	memset(&s->rl.data, 0, sizeof(s->rl.data));
	struct engine_scratch *scr = engine_scratch_new(next.engine);
	struct engine_scratch *wscr = scr ? engine_scratch_new(next.engine) : NULL;
	if (!wscr) {
		engine_scratch_free(scr);
		reload_failed(s, "out of memory");
		ws_data_free(&next);
		return;
	}
	const struct engine *moving[2] = { s->engine, next.engine };
	sess_each(s->sessions, move_session, moving);
	metrics_move_intents(&s->metrics, engine_pack(s->engine), engine_pack(next.engine));
	/* No turn is out: the engine worker waits for its next batch, whose
	 * hand-over publishes its new scratch to it. */
	engine_scratch_free(s->loop_d.scr);
	s->loop_d.scr = scr;
	engine_scratch_free(s->worker_d.scr);
	s->worker_d.scr = wscr;
	struct ws_data old = { s->engine, s->registry };
	ws_data_free(&old);
	s->engine = next.engine;
	s->registry = next.registry;
	s->metrics.reloads_ok++;

	const struct intent_pack *p = engine_pack(s->engine);
	json_object *f = json_object_new_object();
	json_object_object_add(f, "languages", json_object_new_int((int)intent_lang_count(p)));
	json_object_object_add(f, "intents", json_object_new_int((int)intent_count(p)));
	if (s->registry)
		json_object_object_add(f, "meters",
				       json_object_new_int64((int64_t)reg_file_count(s->registry)));
	json_object_object_add(f, "seconds", json_object_new_double(now_s() - s->rl.started));
	log_event("info", "reloaded", f);
}

/* Loop thread, every turn: starts a reload *ask asked for, takes what the
 * loader read, and swaps it in once no job holds the old engine; then the
 * messages that waited are decided. One asked for while another is under
 * way follows it, so the files last written are the ones served. */
static void reload_step(struct ws_server *s, volatile sig_atomic_t *ask)
{
	if (*ask) {
		*ask = 0;
		if (s->rl.running || s->rl.waiting)
			s->rl.again = true;
		else
			reload_start(s);
	}
	if (s->rl.running && atomic_load(&s->rl.done)) {
		pthread_join(s->rl.thread, NULL);
		s->rl.running = false;
		if (s->rl.rc < 0) {
			reload_failed(s, s->rl.err);
		} else {
			s->rl.waiting = true;
			/* Said when the swap has to wait, so a long hold (Redis slow)
			 * shows in the log with its cause. */
			if (s->engine_jobs) {
				json_object *f = json_object_new_object();
				json_object_object_add(f, "jobs", json_object_new_int((int)s->engine_jobs));
				log_event("info", "reload_waiting", f);
			}
		}
	}
	if (s->rl.waiting && !s->engine_jobs) {
		s->rl.waiting = false;
		swap_data(s);
		run_batch(s);
	}
	if (s->rl.again && !s->rl.running && !s->rl.waiting) {
		s->rl.again = false;
		reload_start(s);
	}
}

struct ws_server *ws_server_new(const struct ws_config *cfg, struct ws_data *data,
				char *err, size_t errlen)
{
	struct ws_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		ws_data_free(data);
		return NULL;
	}
	s->cfg = *cfg;
	s->engine = data->engine;
	s->registry = data->registry;
	data->engine = NULL;
	data->registry = NULL;
	atomic_init(&s->rl.done, false);
	s->quiet = cfg->offload_above > 0;
	TAILQ_INIT(&s->conns);
	TAILQ_INIT(&s->queued);
	TAILQ_INIT(&s->ready);
	TAILQ_INIT(&s->away);
	s->tok = report_tokener_new(MAX_JSON_DEPTH);
	s->scratch = malloc(cfg->max_bytes);
	s->sessions = sess_store_new((size_t)cfg->max_connections * 4, cfg->session_ttl);
	if (decider_init(&s->loop_d, s->engine, cfg->max_bytes) < 0 ||
	    decider_init(&s->worker_d, s->engine, cfg->max_bytes) < 0 || !s->tok ||
	    !s->scratch || !s->sessions) {
		snprintf(err, errlen, "out of memory");
		goto free_server;
	}

	s->protocols[0] = (struct lws_protocols){
		.name = "autoassist", .callback = callback,
		.per_session_data_size = sizeof(struct conn), .rx_buffer_size = 4096,
	};
	s->protocols[1] = (struct lws_protocols){
		.name = "autoassist-http", .callback = callback_http,
	};
	s->protocols[2] = (struct lws_protocols){
		.name = "autoassist-listener", .callback = rport_callback,
	};
	s->mounts[0] = (struct lws_http_mount){
		.mount_next = &s->mounts[1], .mountpoint = "/healthz",
		.origin = "autoassist-http", .origin_protocol = LWSMPRO_CALLBACK,
		.mountpoint_len = 8,
	};
	s->mounts[1] = (struct lws_http_mount){
		.mount_next = &s->mounts[2], .mountpoint = "/metrics",
		.origin = "autoassist-http", .origin_protocol = LWSMPRO_CALLBACK,
		.mountpoint_len = 8,
	};
	/* The widget's files: with their charset (a host page in another
	 * encoding must not garble the strings) and cacheable for a while. */
	s->mime[0] = (struct lws_protocol_vhost_options){
		.next = &s->mime[1], .name = ".js", .value = "text/javascript; charset=utf-8" };
	s->mime[1] = (struct lws_protocol_vhost_options){
		.next = &s->mime[2], .name = ".css", .value = "text/css; charset=utf-8" };
	s->mime[2] = (struct lws_protocol_vhost_options){
		.name = ".html", .value = "text/html; charset=utf-8" };
	s->mounts[2] = (struct lws_http_mount){
		.mountpoint = "/", .origin = cfg->web_dir, .def = "index.html",
		.origin_protocol = LWSMPRO_FILE, .mountpoint_len = 1,
		.extra_mimetypes = &s->mime[0], .cache_max_age = 300,
		.cache_reusable = 1, .cache_revalidate = 1,
	};
	/* No idle timer in lws: the server keeps its own (seen, idle_step).
	 * A policy of zeros turns lws' off, where no policy would leave its
	 * default, a ping after 300 s. */
	s->retry = (lws_retry_bo_t){ 0 };
	double pings = 2.0 * cfg->max_connections / cfg->idle_timeout * IDLE_STEP_S;
	s->idle_batch = pings > IDLE_BATCH ? (unsigned)pings + 1 : IDLE_BATCH;

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = cfg->reuse_port ? CONTEXT_PORT_NO_LISTEN_SERVER : cfg->port;
	info.iface = cfg->iface;
	info.protocols = s->protocols;
	info.mounts = &s->mounts[0];
	info.user = s;
	info.retry_and_idle_policy = &s->retry;
	/* UTF-8 is validated here, per whole message, so the 1007 close is
	 * counted and the replies owed before it still go out. */
	info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE |
		       LWS_SERVER_OPTION_DISABLE_IPV6;
	/* Our own libev loop, lent to lws, rather than one lws makes: then
	 * ws_server_run turns it one wake-up at a time and sees the stop flag
	 * between turns, as with poll(), and lws leaves the signals alone.
	 * No signal mask changes: main's handlers stay in charge. */
	if (cfg->loop == WS_LOOP_EV) {
		if (!(s->ev = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK))) {
			snprintf(err, errlen, "cannot create the libev loop");
			goto free_server;
		}
		s->foreign[0] = s->ev;
		info.foreign_loops = s->foreign;
		info.options |= LWS_SERVER_OPTION_LIBEV;
	}
	/* fd_limit_per_thread stays 0: lws then sizes its descriptor table
	 * from the process's limit and indexes it. A smaller explicit limit
	 * makes lws 4.1 search the table linearly on every event, which at
	 * 10,000 connections costs half the CPU. --max-connections is
	 * enforced in refuse(). */
	/* The vhost (the listening socket) is made apart from the context:
	 * lws 4.1 leaks what it allocated when a context's default vhost
	 * cannot listen, and a context it returned can be destroyed whole. */
	info.options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	s->ctx = lws_create_context(&info);
	if (!s->ctx) {
		snprintf(err, errlen, "cannot start libwebsockets%s",
			 s->ev ? " (is libwebsockets-evlib-ev installed? --event-loop poll does "
			 "without)" : "");
		goto free_server;
	}
	if (!lws_create_vhost(s->ctx, &info)) {
		snprintf(err, errlen, "cannot listen on port %d (in use, or no permission)",
			 cfg->port);
		goto free_server;
	}
	lws_sul_schedule(s->ctx, 0, &s->tick_timer, tick, TICK_US);
	lws_sul_schedule(s->ctx, 0, &s->idle_timer, idle_step,
			 (lws_usec_t)cfg->idle_timeout * LWS_US_PER_SEC / 2);
	if (cfg->reuse_port) {
		if (rport_start(s->ctx, cfg->iface, cfg->port, "autoassist-listener") < 0) {
			snprintf(err, errlen, "cannot listen on port %d with SO_REUSEPORT", cfg->port);
			goto free_server;
		}
	}
	if (cfg->redis_url) {
		struct rw_config rc = {
			.redis = { .url = cfg->redis_url, .timeout = cfg->redis_timeout,
				   .user = cfg->redis_user, .password = cfg->redis_password },
			.stream = cfg->stream, .spool_path = cfg->spool_path,
			.retry_interval = 1.0,
		};
		if (!(s->rw = rw_new(&rc, wake, s->ctx, err, errlen)))
			goto free_server;
		/* A spool an earlier run left is announced now, not a tick
		 * later, when it may be gone. */
		log_worker(s);
	}
	/* Last: the engine worker reads the server (its configuration, the
	 * Redis worker's presence) without a lock, as it stands now. */
	if (!(s->ew = ew_new(run_on_worker, s, wake, s->ctx))) {
		snprintf(err, errlen, "cannot start the engine worker thread");
		goto free_server;
	}
	return s;
free_server:
	ws_server_free(s);
	return NULL;
}

/* Loop thread, at most every LOAD_EVERY_S: whether the loop has time to
 * decide small batches itself. The CPU the loop thread used since the last
 * look and what the engine worker's jobs took (not its waits and wake-ups),
 * as a share of the time between, is about what the loop would need to
 * decide everything itself. It decides them itself up to
 * cfg.offload_above of a core, and, once the worker took over, again
 * below LOAD_BACK of that. */
static double load_cpu(struct ws_server *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + ew_run_seconds(s->ew);
}

static void weigh_load(struct ws_server *s)
{
	double now = now_s();
	if (now - s->load_at < LOAD_EVERY_S)
		return;
	double cpu = load_cpu(s);
	double need = (cpu - s->load_cpu) / (now - s->load_at);
	if (s->cfg.offload_above <= 0 || need > s->cfg.offload_above)
		s->quiet = false;
	else if (need < s->cfg.offload_above * LOAD_BACK)
		s->quiet = true;
	s->load_at = now;
	s->load_cpu = cpu;
}

/* One turn of the loop: waits for something to do, at most until the
 * next lws timer (the housekeeping tick is one, every second), and does
 * it. A signal ends the wait early on both loops. Returns 0, or -1 when
 * lws gave up. */
static int turn(struct ws_server *s, int timeout_ms)
{
	int rc = 0;
	if (s->ev)
		ev_run(s->ev, EVRUN_ONCE);
	else
		rc = lws_service(s->ctx, timeout_ms) < 0 ? -1 : 0;
	weigh_load(s);
	run_batch(s);
	return rc;
}

int ws_server_run(struct ws_server *s, volatile sig_atomic_t *stop,
		  volatile sig_atomic_t *reload)
{
	json_object *f = json_object_new_object();
	json_object_object_add(f, "port", json_object_new_int(s->cfg.port));
	json_object_object_add(f, "event_loop", json_object_new_string(s->ev ? "ev" : "poll"));
	log_event("info", "listening", f);
	/* Weighed from here: the loading before is not the loop's load. */
	s->load_at = now_s();
	s->load_cpu = load_cpu(s);
	while (!*stop) {
		reload_step(s, reload);
		if (turn(s, 0) < 0)
			break;
	}

	/* Stop accepting, let what is queued go out, then say goodbye. A
	 * reload not swapped in yet is dropped: the messages waiting for it
	 * are decided (close_after_queue) by the engine that has them. */
	s->draining = true;
	s->rl.waiting = false;
	log_event("info", "draining", NULL);
	struct conn *c;
	TAILQ_FOREACH(c, &s->conns, link)
		close_after_queue(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	double until = now_s() + s->cfg.drain_timeout;
	while ((!TAILQ_EMPTY(&s->conns) || s->inflight) && now_s() < until)
		if (turn(s, 100) < 0)
			break;
	/* An outage or a spool that began since the last tick is told too. */
	log_worker(s);
	log_event("info", "stopped", NULL);
	return 0;
}

void ws_server_free(struct ws_server *s)
{
	if (!s)
		return;
	if (s->rl.running)
		pthread_join(s->rl.thread, NULL);
	ws_data_free(&s->rl.data);
	/* The workers first: stopped, their last results are said (their
	 * tickets are stored; the connections learn it if they still can),
	 * so closing the connections below finds no job in flight. Nothing
	 * new is decided from here on (closing): the first collect sends the
	 * last decided turns' effects to Redis, the second says what Redis
	 * did (turns handed to the stopped engine worker run at once), the
	 * third delivers that. What the drain left undecided is dropped. */
	s->closing = true;
	if (s->ew) {
		ew_stop(s->ew);
		collect(s);
		if (s->rw)
			rw_stop(s->rw);
		collect(s);
		collect(s);
	}
	if (s->ctx) {
		lws_sul_cancel(&s->tick_timer);
		lws_sul_cancel(&s->idle_timer);
		lws_context_destroy(s->ctx);
	}
	if (s->ev)
		ev_loop_destroy(s->ev);
	rw_free(s->rw);
	s->rw = NULL;
	ew_free(s->ew);
	s->ew = NULL;
	sess_store_free(s->sessions);
	if (s->tok)
		json_tokener_free(s->tok);
	free(s->scratch);
	decider_free(&s->loop_d);
	decider_free(&s->worker_d);
	struct ws_data own = { s->engine, s->registry };
	ws_data_free(&own);
	free(s);
}
