/* ws: the chat server. One libwebsockets context on one event loop serves
 * the widget's files at /, the WebSocket endpoint at /ws, GET /healthz and
 * GET /metrics. Every callback runs on the loop thread; nothing on it
 * blocks: the engine is pure and in memory, and Redis (the L2 queue, the
 * registry) is talked to by a worker thread (rw.h). */
#ifndef AUTOASSIST_WS_H
#define AUTOASSIST_WS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "registry.h"

#define WS_MAX_ORIGINS 16

/* The event loop under libwebsockets. libev (epoll) costs in proportion to
 * the connections that have something to say; lws' own poll() loop costs
 * in proportion to all open connections at every wake-up, which with many
 * idle chat customers is most of a core (BENCHMARKS.md, "Chat-like load"). */
enum ws_loop {
	WS_LOOP_EV,   /* the default */
	WS_LOOP_POLL,
};

/* What the server answers with, loaded together: the registry file's
 * address index is keyed by the engine's street words. */
struct ws_data {
	struct engine *engine;
	struct reg_file *registry; /* NULL: no registry file configured */
};

/* Loads a fresh ws_data from the files, for a reload. Called on a thread
 * of its own, never the loop's, so it may take its time. Returns 0, or -1
 * with a sentence in err. */
typedef int (*ws_load_fn)(void *arg, struct ws_data *out, char *err, size_t errlen);

struct ws_config {
	int port;
	const char *iface;        /* address to bind, NULL for all */
	const char *web_dir;      /* static files served at / */
	size_t max_bytes;         /* largest WebSocket message accepted */
	unsigned max_connections;
	const char *origins[WS_MAX_ORIGINS]; /* allowed Origin values; none: all */
	size_t norigins;
	double session_ttl;       /* seconds a session outlives its connection */
	unsigned idle_timeout;    /* seconds without traffic before hanging up */
	double rate;              /* messages per second per connection */
	double burst;             /* messages a connection may send at once */
	unsigned queue_max;       /* frames owed a client before it is read no more */
	double drain_timeout;     /* seconds SIGTERM waits for clients to leave */
	bool log_text;            /* log customer text (debugging only) */
	const char *redis_url;    /* NULL: no Redis; tickets are only previewed */
	const char *redis_user, *redis_password; /* for AUTH; NULL: none */
	const char *stream;       /* the L2 stream */
	const char *spool_path;   /* tickets Redis could not take, fsync'd */
	double redis_timeout;     /* seconds for connecting and each command */
	bool reuse_port;          /* SO_REUSEPORT: several processes share the port */
	enum ws_loop loop;
	/* The share of a core the loop thread may spend deciding messages
	 * itself before the engine worker takes them (all but those of
	 * closing connections); 0: the worker always does. */
	double offload_above;
	ws_load_fn load;          /* NULL: the server cannot reload */
	void *load_arg;
};

/* Fills cfg with the defaults: port 8080, all interfaces, 4 KiB messages,
 * 10000 connections, sessions kept 30 minutes, 120 s idle timeout, 5
 * messages/s with bursts of 10, 64 queued frames, 10 s drain, libev; no
 * Redis, and when there is one: stream autoassist:l2, spool
 * autoassist-spool.jsonl, 0.5 s per command; small batches decided on the
 * loop thread while that takes under 0.9 of a core. */
void ws_config_default(struct ws_config *cfg);

struct ws_server;

/* Frees what data holds and empties it. */
void ws_data_free(struct ws_data *data);

/* Creates the server and starts listening. The server takes data's engine
 * and registry over, also when it fails, and empties data. Returns NULL
 * with a sentence in err (also when lws cannot load its libev plugin,
 * libwebsockets-evlib-ev). */
struct ws_server *ws_server_new(const struct ws_config *cfg, struct ws_data *data,
				char *err, size_t errlen);

/* Serves until *stop becomes non-zero (the SIGTERM/SIGINT handler sets it),
 * then stops accepting, lets queued replies go out, closes every
 * connection with 1001 and returns 0.
 * Each time *reload becomes non-zero (SIGHUP) it sets it back to 0 and
 * reloads: cfg->load reads the files on a thread; once it has, new
 * messages wait until no job in flight holds the old engine, the
 * conversations held move over to the new intents, and the new engine and
 * registry take over. A load that fails is logged, and the old ones stay. */
int ws_server_run(struct ws_server *s, volatile sig_atomic_t *stop,
		  volatile sig_atomic_t *reload);

void ws_server_free(struct ws_server *s);

#endif
