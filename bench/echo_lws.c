/* bench/echo_lws: a bare libwebsockets echo server, the ceiling of the
 * service's own stack. The same library and build flags as autoassist
 * (CMakeLists.txt builds both), and the same lws options as service/ws.c:
 * the HTTP security headers option, no IPv6, no lws UTF-8 validation (the
 * service validates each whole message itself; this server does not look
 * at the bytes at all), fd_limit_per_thread left at 0, a 4096-byte rx
 * buffer, messages of up to 4096 bytes reassembled from fragments, a
 * bounded queue of frames per connection written from
 * LWS_CALLBACK_SERVER_WRITEABLE, and the same ping/hang-up policy. It does
 * nothing else: no JSON, no engine, no logging.
 *
 * usage: echo_lws [--port N] [--evlib poll|uv|ev] [--max-connections N]
 *                 [--validate-utf8] [--fd-limit] [--listen-share] [--reuseport]
 *
 * --evlib picks the lws event loop: poll (lws' own, the default build's),
 * or libuv / libev through Debian's evlib plugins (libwebsockets-evlib-uv,
 * libwebsockets-evlib-ev).
 *
 * --validate-utf8 sets LWS_SERVER_OPTION_VALIDATE_UTF8 (lws checks every
 * text frame). --fd-limit sets fd_limit_per_thread to the connection limit
 * plus 64, as service/ws.c did before b743761: when that is below
 * `ulimit -n`, lws 4.1 marks the context max_fds_unrelated_to_ulimit and
 * finds the connection of every ready descriptor by a linear scan of its fd
 * table (wsi_from_fd) instead of indexing it.
 *
 * Several processes on one port: --listen-share sets
 * LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE, which in lws 4.1 sets SO_REUSEPORT
 * only when the context has more than one service thread (never, in
 * Debian's LWS_MAX_SMP 1 build), so a second process still fails to bind.
 * --reuseport does it without that option: the server opens its own
 * listening socket with SO_REUSEPORT, lws watches it as a raw file
 * descriptor (LWS_ADOPT_RAW_FILE_DESC) and each accepted connection is
 * handed to lws with lws_adopt_socket_vhost() on a vhost created with
 * CONTEXT_PORT_NO_LISTEN_SERVER (service/rport.c, the server's own code for
 * it: the one piece of the service this echo shares). N processes started
 * so share the port and the kernel spreads the connections over them.
 *
 * --reply N makes it answer as the service does, without the service's
 * work: each text message is read as service/ws.c reads it (service/jr.c,
 * json-c with one reused tokener for what jr declines) and its "id"
 * taken, and the answer is a
 * {"type":"reply","in_reply_to":ID,"text":"xx…"} frame padded to N bytes
 * of payload (the service's average reply). No engine, no UTF-8 check, no
 * log line: what is left of the service's cost per message is the
 * protocol's, and its throughput is the most any engine on this stack and
 * protocol can reach (BENCHMARKS.md, "How much is left for the engine"). */
#include <json-c/json.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jr.h"
#include "jw.h"
#include "rport.h"

#define MAX_MSG 4096
#define QUEUE_MAX 64
/* json-c writes a string id back at most six times as long (\u00XX). */
#define REPLY_BUF (6 * MAX_MSG + 64)

/* The server's state, the context's user pointer. */
struct server {
	size_t reply_len;    /* --reply N, or 0 to echo */
	json_tokener *tok;   /* for --reply */
	char *reply;         /* REPLY_BUF bytes */
	char scratch[MAX_MSG]; /* jr's, for --reply */
};

struct frame {
	struct frame *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE, then the payload */
};

struct conn {
	struct frame *head, *tail;
	unsigned nframes;
	char *rx;
	size_t rxlen;
	bool binary;
};

static void free_queue(struct conn *c)
{
	for (struct frame *f = c->head, *n; f; f = n) {
		n = f->next;
		free(f);
	}
	c->head = c->tail = NULL;
	c->nframes = 0;
}

static int enqueue(struct lws *wsi, struct conn *c, const void *data, size_t len)
{
	if (c->nframes >= QUEUE_MAX) {
		free_queue(c);
		lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				 (unsigned char *)"client does not read", 20);
		return -1;
	}
	struct frame *f = malloc(sizeof(*f) + LWS_PRE + len);
	if (!f)
		return -1;
	f->next = NULL;
	f->len = len;
	memcpy(f->buf + LWS_PRE, data, len);
	if (c->tail)
		c->tail->next = f;
	else
		c->head = f;
	c->tail = f;
	c->nframes++;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Queues the answer to one whole message: the message itself, or with
 * --reply a reply frame naming its id. A message that is not a JSON
 * object with a string "text" is answered with nothing: wsload counts it
 * lost. Returns 0, or -1 to close the connection. */
static int answer(struct lws *wsi, struct conn *c, const char *in, size_t len)
{
	struct server *srv = lws_context_user(lws_get_context(wsi));
	if (!srv->reply_len)
		return enqueue(wsi, c, in, len);
	static const char *const names[] = { "id", "text" };
	struct jr_val v[2];
	json_object *msg = NULL, *id = NULL, *text;
	struct jw w;
	int rc = 0, n;
	size_t total;
	jw_init(&w, srv->reply, REPLY_BUF);
	jw_lit(&w, "{\"type\":\"reply\",\"in_reply_to\":");
	if (jr_flat(in, len, names, v, 2, srv->scratch, sizeof(srv->scratch)) == 0) {
		if (v[1].kind != JR_STRING)
			goto put_msg;
		if (v[0].kind == JR_STRING)
			jw_str(&w, v[0].s, v[0].len);
		else if (v[0].kind != JR_ABSENT)
			jw_raw(&w, v[0].s, v[0].len);
		else
			jw_lit(&w, "null");
	} else {
		json_tokener_reset(srv->tok);
		msg = json_tokener_parse_ex(srv->tok, in, (int)len);
		if (!msg || !json_object_is_type(msg, json_type_object) ||
		    !json_object_object_get_ex(msg, "text", &text) ||
		    !json_object_is_type(text, json_type_string))
			goto put_msg;
		json_object_object_get_ex(msg, "id", &id);
		jw_lit(&w, id ? json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN) : "null");
	}
	jw_lit(&w, ",\"text\":\"");
	n = (int)w.len;
	if (w.full || (size_t)n + 2 >= REPLY_BUF)
		goto put_msg;
	total = (size_t)n + 2 < srv->reply_len ? srv->reply_len : (size_t)n + 2;
	memset(srv->reply + n, 'x', total - 2 - (size_t)n);
	memcpy(srv->reply + total - 2, "\"}", 2);
	rc = enqueue(wsi, c, srv->reply, total);
put_msg:
	json_object_put(msg);
	return rc;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		    void *in, size_t len)
{
	struct conn *c = user;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof(*c));
		return 0;
	case LWS_CALLBACK_RECEIVE: {
		bool last = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
		if (c->rxlen + len > MAX_MSG) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
					 (unsigned char *)"message too large", 17);
			return -1;
		}
		if (last && !c->rx)
			return answer(wsi, c, in, len) < 0 ? -1 : 0;
		if (!c->rx && !(c->rx = malloc(MAX_MSG)))
			return -1;
		c->binary = lws_frame_is_binary(wsi);
		memcpy(c->rx + c->rxlen, in, len);
		c->rxlen += len;
		if (last) {
			int rc = answer(wsi, c, c->rx, c->rxlen);
			free(c->rx);
			c->rx = NULL;
			c->rxlen = 0;
			return rc < 0 ? -1 : 0;
		}
		return 0;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		struct frame *f = c->head;
		if (!f)
			return 0;
		if (lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
			return -1;
		c->head = f->next;
		if (!c->head)
			c->tail = NULL;
		c->nframes--;
		free(f);
		if (c->head)
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLOSED:
		free_queue(c);
		free(c->rx);
		c->rx = NULL;
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	int port = 9001;
	unsigned max_conns = 10000;
	const char *evlib = "poll";
	bool validate = false, share = false, fd_limit = false, reuseport = false, usage = false;
	struct server srv = { 0 };
	int rc = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--evlib") == 0 && i + 1 < argc)
			evlib = argv[++i];
		else if (strcmp(argv[i], "--max-connections") == 0 && i + 1 < argc)
			max_conns = (unsigned)atol(argv[++i]);
		else if (strcmp(argv[i], "--validate-utf8") == 0)
			validate = true;
		else if (strcmp(argv[i], "--listen-share") == 0)
			share = true;
		else if (strcmp(argv[i], "--fd-limit") == 0)
			fd_limit = true;
		else if (strcmp(argv[i], "--reuseport") == 0)
			reuseport = true;
		else if (strcmp(argv[i], "--reply") == 0 && i + 1 < argc)
			srv.reply_len = (size_t)atol(argv[++i]);
		else
			usage = true;
		if (usage || (srv.reply_len && (srv.reply_len < 64 || srv.reply_len > MAX_MSG))) {
			fprintf(stderr, "usage: echo_lws [--port N] [--evlib poll|uv|ev] "
				"[--max-connections N] [--validate-utf8] [--fd-limit]\n"
				"                [--listen-share] [--reuseport] [--reply 64..4096]\n");
			return 2;
		}
	}
	static struct lws_protocols protocols[] = {
		{ .name = "echo", .callback = callback,
		  .per_session_data_size = sizeof(struct conn), .rx_buffer_size = 4096 },
		{ .name = "listener", .callback = rport_callback },
		{ 0 },
	};
	/* service/ws.c's policy with the default --idle-timeout of 120 s. */
	static const lws_retry_bo_t retry = {
		.secs_since_valid_ping = 60, .secs_since_valid_hangup = 120,
	};
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = reuseport ? CONTEXT_PORT_NO_LISTEN_SERVER : port;
	info.protocols = protocols;
	info.retry_and_idle_policy = &retry;
	info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE |
		       LWS_SERVER_OPTION_DISABLE_IPV6;
	if (validate)
		info.options |= LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (share)
		info.options |= LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE;
	if (strcmp(evlib, "uv") == 0)
		info.options |= LWS_SERVER_OPTION_LIBUV;
	else if (strcmp(evlib, "ev") == 0)
		info.options |= LWS_SERVER_OPTION_LIBEV;
	else if (strcmp(evlib, "poll") != 0) {
		fprintf(stderr, "echo_lws: --evlib poll, uv or ev\n");
		return 2;
	}
	if (fd_limit)
		info.fd_limit_per_thread = max_conns + 64;
	if (srv.reply_len && (!(srv.tok = json_tokener_new()) || !(srv.reply = malloc(REPLY_BUF)))) {
		fprintf(stderr, "echo_lws: out of memory\n");
		goto free_srv;
	}
	info.user = &srv;
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	struct lws_context *ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "echo_lws: cannot start (port %d in use, or no %s event library)\n",
			port, evlib);
		goto free_srv;
	}
	if (reuseport && rport_start(ctx, NULL, port, "listener") < 0) {
		fprintf(stderr, "echo_lws: cannot listen on port %d with SO_REUSEPORT\n", port);
		goto destroy_ctx;
	}
	printf("echo_lws: port %d, event loop %s, UTF-8 validation %s%s, fd_limit_per_thread %u",
	       port, evlib, validate ? "on" : "off",
	       reuseport ? ", own SO_REUSEPORT listener" : share ? ", ALLOW_LISTEN_SHARE" : "",
	       info.fd_limit_per_thread);
	if (srv.reply_len)
		printf(", replies of %zu bytes", srv.reply_len);
	printf("\n");
	fflush(stdout);
	if (strcmp(evlib, "poll") == 0) {
		signal(SIGTERM, on_signal);
		signal(SIGINT, on_signal);
		while (!stop && lws_service(ctx, 0) >= 0)
			;
	} else {
		/* With an event library lws_service runs the library's loop
		 * until the process is told to stop (SIGTERM's default action
		 * ends it). */
		lws_service(ctx, 0);
	}
	rc = 0;
destroy_ctx:
	lws_context_destroy(ctx);
free_srv:
	free(srv.reply);
	if (srv.tok)
		json_tokener_free(srv.tok);
	return rc;
}
