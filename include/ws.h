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
	unsigned queue_max;       /* frames queued for a client before 1008 */
	double drain_timeout;     /* seconds SIGTERM waits for clients to leave */
	bool log_text;            /* log customer text (debugging only) */
	const char *redis_url;    /* NULL: no Redis; tickets are only previewed */
	const char *redis_user, *redis_password; /* for AUTH; NULL: none */
	const char *stream;       /* the L2 stream */
	const char *spool_path;   /* tickets Redis could not take, fsync'd */
	double redis_timeout;     /* seconds for connecting and each command */
	bool reuse_port;          /* SO_REUSEPORT: several processes share the port */
	enum ws_loop loop;
};

/* Fills cfg with the defaults: port 8080, all interfaces, 4 KiB messages,
 * 10000 connections, sessions kept 30 minutes, 120 s idle timeout, 5
 * messages/s with bursts of 10, 64 queued frames, 10 s drain, libev; no
 * Redis, and when there is one: stream autoassist:l2, spool
 * autoassist-spool.jsonl, 0.5 s per command. */
void ws_config_default(struct ws_config *cfg);

struct ws_server;

/* Creates the server and starts listening. engine and registry (may be
 * NULL: no registry configured) stay owned by the caller and must outlive
 * the server. Returns NULL with a sentence in err (also when lws cannot
 * load its libev plugin, libwebsockets-evlib-ev). */
struct ws_server *ws_server_new(const struct ws_config *cfg, const struct engine *e,
				const struct reg_file *registry, char *err, size_t errlen);

/* Serves until *stop becomes non-zero (the SIGTERM/SIGINT handler sets it),
 * then stops accepting, lets queued replies go out, closes every
 * connection with 1001 and returns 0. */
int ws_server_run(struct ws_server *s, volatile sig_atomic_t *stop);

void ws_server_free(struct ws_server *s);

#endif
