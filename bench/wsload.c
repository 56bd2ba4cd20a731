/* bench/wsload: a WebSocket load generator on epoll, in plain C (no
 * libwebsockets, so the client shares nothing with the servers it measures).
 *
 * It holds N connections from one process, does the HTTP upgrade itself
 * (a fixed Sec-WebSocket-Key, the accept value checked), masks every client
 * frame as RFC 6455 requires and parses the server's frames (text, binary,
 * continuation, ping -> pong, close). Messages are the corpus texts wrapped
 * as {"type":"message","id":"N","text":...}, the same bytes for every server.
 *
 * Modes:
 *   closed   each connection sends its next message when the reply to the
 *            previous one has arrived (one in flight per connection)
 *   rate     a fixed total rate (--rate msgs/s) spread round-robin over the
 *            connections; latency is measured from the time the schedule
 *            says the message was due, so a server that falls behind is not
 *            flattered (no coordinated omission)
 *
 * What counts as the reply (--expect):
 *   reply    autoassist: the {"type":"reply"} frame with in_reply_to = the
 *            id sent; welcome and typing frames are skipped; an
 *            {"type":"error"} frame is an error
 *   echo     an echo server: the frame that comes back, with the same length
 *            and id
 *
 * Reports messages/s over the measured window, latency p50/p90/p99/p99.9/max
 * (log-linear buckets, 1.6 % wide), errors (connect failures, closes,
 * malformed frames, error frames), lost messages (sent, never answered by
 * the end of the drain), the server's RSS (VmRSS of --pid, summed over
 * several) before connecting, once connected and after the traffic, and the
 * CPU the server, this client and anything else on the machine (from
 * /proc/stat) used during the window. The last line is one JSON object
 * prefixed "RESULT " for scripts.
 *
 * Exit status: 0 when every message was answered and nothing went wrong,
 * 1 on errors or lost messages, 2 on bad usage. Never on a time.
 *
 * usage: wsload --port P[,P2...] --conns N [--mode closed|rate] [--rate R]
 *        [--seconds S] [--warmup S] [--drain S] [--expect reply|echo]
 *        [--pid PID[,PID2...]] [--src K] [--filter all|escalate|noescalate]
 *        [--path /ws] [--label TEXT] CORPUS.jsonl... */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455, section 1.3 */
#define MAX_PORTS 16
#define MAX_PIDS 16
#define RX_INIT 4096
#define RX_MAX (1u << 20)

/* ---- time, histograms ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Log-linear buckets: exact below 128 ns, then 64 per power of two. */
#define HBUCKETS 4096
struct hist {
	uint64_t n, max, sum;
	uint64_t b[HBUCKETS];
};

static int hidx(uint64_t v)
{
	if (v < 128)
		return (int)v;
	int msb = 63 - __builtin_clzll(v);
	int shift = msb - 6;
	int i = 128 + (shift - 1) * 64 + (int)((v >> shift) - 64);
	return i < HBUCKETS ? i : HBUCKETS - 1;
}

static uint64_t hval(int i)
{
	if (i < 128)
		return (uint64_t)i;
	int shift = (i - 128) / 64 + 1;
	uint64_t m = (uint64_t)((i - 128) % 64 + 64);
	return (m << shift) + ((1ull << shift) >> 1);
}

static void hadd(struct hist *h, uint64_t v)
{
	h->b[hidx(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static double hq(const struct hist *h, double q)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	uint64_t seen = 0;
	for (int i = 0; i < HBUCKETS; i++) {
		seen += h->b[i];
		if (seen > want) {
			uint64_t v = hval(i);
			return (double)(v > h->max ? h->max : v);
		}
	}
	return (double)h->max;
}

/* ---- the corpus ---- */

struct msg {
	char *json;   /* the text as a JSON string, quotes included */
	size_t len;
	bool escalate;
};
static struct msg *msgs;
static size_t nmsgs;

static int load_corpus(const char *path, const char *filter)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	static size_t mcap;
	while (getline(&line, &cap, f) > 0) {
		json_object *o = json_tokener_parse(line), *t, *e;
		if (!o || !json_object_object_get_ex(o, "text", &t)) {
			json_object_put(o);
			continue;
		}
		bool esc = json_object_object_get_ex(o, "escalate", &e) && json_object_get_boolean(e);
		if ((strcmp(filter, "escalate") == 0 && !esc) ||
		    (strcmp(filter, "noescalate") == 0 && esc)) {
			json_object_put(o);
			continue;
		}
		if (nmsgs == mcap) {
			mcap = mcap ? mcap * 2 : 512;
			msgs = realloc(msgs, mcap * sizeof(*msgs));
		}
		const char *js = json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE);
		msgs[nmsgs].json = strdup(js);
		msgs[nmsgs].len = strlen(js);
		msgs[nmsgs].escalate = esc;
		nmsgs++;
		json_object_put(o);
	}
	free(line);
	fclose(f);
	return 0;
}

/* ---- connections ---- */

enum { C_NEW, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_DEAD };

struct inflight {
	uint64_t t;      /* when it was due (rate) or sent (closed) */
	uint32_t id;
	uint32_t msg;
};

struct conn {
	int fd;
	uint8_t state;
	bool want_out;     /* EPOLLOUT registered */
	uint8_t port_i;
	uint64_t t_start;  /* when connecting began */
	char *tx;
	uint32_t txlen, txoff, txcap;
	char *rx;
	uint32_t rxlen, rxcap;
	char *frag;        /* a fragmented message being reassembled */
	uint32_t fraglen;
	uint8_t fragop;
	struct inflight *q; /* FIFO of messages awaiting their reply */
	uint32_t qhead, qlen, qcap;
	uint32_t next_msg;
};

static struct {
	const char *host, *path, *label, *expect_s, *mode_s, *filter;
	int ports[MAX_PORTS], nports;
	int pids[MAX_PIDS], npids;
	unsigned nconns, src;
	double rate, seconds, warmup, drain, connect_timeout;
	unsigned max_pending;
	bool echo, closed;
} opt = {
	.host = "127.0.0.1", .path = "/ws", .label = "", .expect_s = "reply",
	.mode_s = "closed", .filter = "all", .nconns = 100, .src = 1, .seconds = 10,
	.warmup = 2, .drain = 5, .connect_timeout = 15, .max_pending = 256,
};

static struct {
	uint64_t connect_fail, closed, malformed, server_error, esc_failed;
	uint64_t sent, replies, welcomes, typing, pings;
	uint64_t esc_stored, esc_preview, esc_none;
	char first_error[256];
} st;

static struct conn *conns;
static int ep;
static uint32_t next_id = 1;
static bool measuring, sending;
static uint64_t meas_replies, meas_bytes_in;
static struct hist h_all, h_esc, h_noesc;
static uint64_t open_conns, pending_conns;

static void note_error(const char *fmt, const char *detail)
{
	if (!st.first_error[0])
		snprintf(st.first_error, sizeof(st.first_error), fmt, detail);
}

static void set_out(struct conn *c, bool on)
{
	if (c->want_out == on || c->fd < 0)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
				  .data.u32 = (uint32_t)(c - conns) };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = on;
}

static void kill_conn(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->state == C_OPEN)
		open_conns--;
	else if (c->state == C_CONNECTING || c->state == C_HANDSHAKE)
		pending_conns--;
	c->state = C_DEAD;
	free(c->tx);
	free(c->rx);
	free(c->frag);
	c->tx = c->rx = c->frag = NULL;
	c->txlen = c->txoff = c->txcap = c->rxlen = c->rxcap = c->fraglen = 0;
}

/* Writes what the connection has queued; asks for EPOLLOUT when the socket
 * is full. Returns -1 when the connection died. */
static int flush(struct conn *c)
{
	while (c->txoff < c->txlen) {
		ssize_t n = send(c->fd, c->tx + c->txoff, c->txlen - c->txoff, MSG_NOSIGNAL);
		if (n > 0) {
			c->txoff += (uint32_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_out(c, true);
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		st.closed++;
		note_error("send: %s", strerror(errno));
		kill_conn(c);
		return -1;
	}
	c->txoff = c->txlen = 0;
	set_out(c, false);
	return 0;
}

static char *tx_room(struct conn *c, uint32_t need)
{
	if (c->txoff && c->txoff == c->txlen)
		c->txoff = c->txlen = 0;
	if (c->txlen + need > c->txcap) {
		uint32_t cap = c->txcap ? c->txcap : 512;
		while (cap < c->txlen + need)
			cap *= 2;
		c->tx = realloc(c->tx, cap);
		c->txcap = cap;
	}
	return c->tx + c->txlen;
}

static uint64_t xs_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd32(void)
{
	xs_state ^= xs_state << 13;
	xs_state ^= xs_state >> 7;
	xs_state ^= xs_state << 17;
	return (uint32_t)xs_state;
}

/* Appends one masked client frame. */
static void put_frame(struct conn *c, uint8_t opcode, const char *payload, size_t len)
{
	char *p = tx_room(c, (uint32_t)(len + 14)), *start = p;
	*p++ = (char)(0x80 | opcode);
	if (len < 126) {
		*p++ = (char)(0x80 | len);
	} else if (len < 65536) {
		*p++ = (char)(0x80 | 126);
		*p++ = (char)(len >> 8);
		*p++ = (char)len;
	} else {
		*p++ = (char)(0x80 | 127);
		for (int i = 7; i >= 0; i--)
			*p++ = (char)((uint64_t)len >> (8 * i));
	}
	uint32_t key = rnd32();
	unsigned char mk[4];
	memcpy(mk, &key, 4);
	memcpy(p, mk, 4);
	p += 4;
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(payload[i] ^ mk[i & 3]);
	p += len;
	c->txlen += (uint32_t)(p - start);
}

/* The prefix of every message, so an echo can be checked by its id. */
#define MSG_PREFIX "{\"type\":\"message\",\"id\":\""
#define MSG_PREFIX_LEN (sizeof(MSG_PREFIX) - 1)

static void send_message(struct conn *c, uint64_t due)
{
	if (c->state != C_OPEN)
		return;
	uint32_t mi = c->next_msg;
	c->next_msg = (c->next_msg + 1) % (uint32_t)nmsgs;
	const struct msg *m = &msgs[mi];
	char buf[8192], *p = buf;
	uint32_t id = next_id++;
	if (m->len + 64 > sizeof(buf))
		return;
	memcpy(p, MSG_PREFIX, MSG_PREFIX_LEN);
	p += MSG_PREFIX_LEN;
	p += sprintf(p, "%u\",\"text\":", id);
	memcpy(p, m->json, m->len);
	p += m->len;
	*p++ = '}';
	if (c->qlen == c->qcap) {
		uint32_t cap = c->qcap ? c->qcap * 2 : 4;
		struct inflight *q = malloc(cap * sizeof(*q));
		for (uint32_t i = 0; i < c->qlen; i++)
			q[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = q;
		c->qhead = 0;
		c->qcap = cap;
	}
	c->q[(c->qhead + c->qlen) % c->qcap] = (struct inflight){ due, id, mi };
	c->qlen++;
	st.sent++;
	put_frame(c, 1, buf, (size_t)(p - buf));
	flush(c);
}

static void start_connect(struct conn *c, uint32_t idx)
{
	c->t_start = now_ns();
	c->port_i = (uint8_t)(idx % (uint32_t)opt.nports);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		st.connect_fail++;
		note_error("socket: %s", strerror(errno));
		c->state = C_DEAD;
		return;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.ports[c->port_i]) };
	inet_pton(AF_INET, opt.host, &sa.sin_addr);
	if (opt.src > 1) {
		/* Spread the ephemeral ports over 127.0.0.1..127.0.0.K. */
		struct sockaddr_in src = { .sin_family = AF_INET };
		src.sin_addr.s_addr = htonl(0x7f000001u + (idx % opt.src));
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			st.connect_fail++;
			note_error("bind: %s", strerror(errno));
			close(c->fd);
			c->fd = -1;
			c->state = C_DEAD;
			return;
		}
	}
	pending_conns++;
	c->state = C_CONNECTING;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = idx };
	c->want_out = true;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		st.connect_fail++;
		note_error("connect: %s", strerror(errno));
		kill_conn(c);
	}
}

static void send_handshake(struct conn *c)
{
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
			 "Sec-WebSocket-Version: 13\r\n\r\n",
			 opt.path, opt.host, opt.ports[c->port_i]);
	memcpy(tx_room(c, (uint32_t)n), req, (size_t)n);
	c->txlen += (uint32_t)n;
	c->state = C_HANDSHAKE;
	flush(c);
}

/* A complete message from the server. */
static void on_message(struct conn *c, const char *p, size_t len)
{
	uint64_t now = now_ns();
	if (measuring)
		meas_bytes_in += len;
	if (!opt.echo) {
		const char *head = p;
		size_t hl = len < 40 ? len : 40;
		if (memmem(head, hl, "\"type\":\"typing\"", 15)) {
			st.typing++;
			return;
		}
		if (memmem(head, hl, "\"type\":\"welcome\"", 16)) {
			st.welcomes++;
			return;
		}
		if (memmem(head, hl, "\"type\":\"error\"", 14)) {
			st.server_error++;
			char tmp[200];
			snprintf(tmp, sizeof(tmp), "%.*s", (int)(len < 190 ? len : 190), p);
			note_error("server error frame: %s", tmp);
			/* An error answers the message it names; without one the
			 * message stays unanswered and is counted lost. */
			return;
		}
		if (!memmem(head, hl, "\"type\":\"reply\"", 14)) {
			st.malformed++;
			note_error("unexpected frame type: %.60s", p);
			return;
		}
	}
	if (!c->qlen) {
		st.malformed++;
		note_error("%s", "a reply to nothing outstanding");
		return;
	}
	struct inflight *in = &c->q[c->qhead];
	char idbuf[16];
	int il = snprintf(idbuf, sizeof(idbuf), "%u\"", in->id);
	bool ok;
	if (opt.echo) {
		ok = len > MSG_PREFIX_LEN + (size_t)il &&
		     memcmp(p + MSG_PREFIX_LEN, idbuf, (size_t)il) == 0;
	} else {
		char want[40];
		int wl = snprintf(want, sizeof(want), "\"in_reply_to\":\"%u\"", in->id);
		ok = memmem(p, len < 80 ? len : 80, want, (size_t)wl) != NULL;
		if (memmem(p, len, "\"status\":\"stored\"", 17))
			st.esc_stored++;
		else if (memmem(p, len, "\"status\":\"preview\"", 18))
			st.esc_preview++;
		else if (memmem(p, len, "\"status\":\"failed\"", 17)) {
			st.esc_failed++;
			note_error("%s", "escalation status failed");
		} else
			st.esc_none++;
	}
	if (!ok) {
		st.malformed++;
		note_error("reply out of order or wrong id: %.80s", p);
	}
	uint64_t lat = now > in->t ? now - in->t : 0;
	bool esc = msgs[in->msg].escalate;
	c->qhead = (c->qhead + 1) % c->qcap;
	c->qlen--;
	st.replies++;
	if (measuring) {
		meas_replies++;
		hadd(&h_all, lat);
		hadd(esc ? &h_esc : &h_noesc, lat);
	}
	if (opt.closed && sending)
		send_message(c, now);
}

/* Parses the server's frames in c->rx. Returns -1 when the connection
 * died. */
static int parse_frames(struct conn *c)
{
	uint32_t off = 0;
	for (;;) {
		uint32_t avail = c->rxlen - off;
		const unsigned char *b = (const unsigned char *)c->rx + off;
		if (avail < 2)
			break;
		bool fin = b[0] & 0x80;
		uint8_t op = b[0] & 0x0f;
		bool masked = b[1] & 0x80;
		uint64_t plen = b[1] & 0x7f;
		uint32_t hl = 2;
		if (plen == 126) {
			if (avail < 4)
				break;
			plen = (uint64_t)b[2] << 8 | b[3];
			hl = 4;
		} else if (plen == 127) {
			if (avail < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | b[2 + i];
			hl = 10;
		}
		if (masked || (b[0] & 0x70) || plen > RX_MAX) {
			st.malformed++;
			note_error("%s", "bad frame header from the server");
			kill_conn(c);
			return -1;
		}
		if (avail < hl + plen) {
			if (hl + plen > c->rxcap) {
				c->rxcap = (uint32_t)(hl + plen);
				/* keep what was parsed out first */
				memmove(c->rx, c->rx + off, avail);
				c->rxlen = avail;
				off = 0;
				c->rx = realloc(c->rx, c->rxcap);
			}
			break;
		}
		const char *pl = (const char *)b + hl;
		switch (op) {
		case 0x0: /* continuation */
		case 0x1:
		case 0x2:
			if (op != 0 && c->frag) {
				st.malformed++;
				note_error("%s", "new message inside a fragmented one");
			}
			if (fin && op != 0 && !c->frag) {
				on_message(c, pl, plen);
			} else {
				c->frag = realloc(c->frag, c->fraglen + plen + 1);
				memcpy(c->frag + c->fraglen, pl, plen);
				c->fraglen += (uint32_t)plen;
				if (fin) {
					on_message(c, c->frag, c->fraglen);
					free(c->frag);
					c->frag = NULL;
					c->fraglen = 0;
				}
			}
			break;
		case 0x8: {
			st.closed++;
			char why[160];
			snprintf(why, sizeof(why), "code %d %.*s",
				 plen >= 2 ? (b[hl] << 8 | b[hl + 1]) : 0,
				 (int)(plen > 2 ? (plen - 2 < 100 ? plen - 2 : 100) : 0), pl + 2);
			note_error("closed by the server: %s", why);
			kill_conn(c);
			return -1;
		}
		case 0x9:
			st.pings++;
			put_frame(c, 0xA, pl, plen);
			if (flush(c) < 0)
				return -1;
			break;
		case 0xA:
			break;
		default:
			st.malformed++;
			note_error("%s", "unknown opcode");
			kill_conn(c);
			return -1;
		}
		if (c->state == C_DEAD)
			return -1;
		off += hl + (uint32_t)plen;
	}
	if (off) {
		memmove(c->rx, c->rx + off, c->rxlen - off);
		c->rxlen -= off;
	}
	return 0;
}

static int handshake_reply(struct conn *c)
{
	char *end = memmem(c->rx, c->rxlen, "\r\n\r\n", 4);
	if (!end)
		return c->rxlen > 8000 ? -1 : 0;
	*end = '\0';
	if (strncmp(c->rx, "HTTP/1.1 101", 12) != 0 || !strstr(c->rx, ACCEPT)) {
		st.connect_fail++;
		note_error("upgrade refused: %.80s", c->rx);
		kill_conn(c);
		return -1;
	}
	uint32_t used = (uint32_t)(end + 4 - c->rx);
	memmove(c->rx, c->rx + used, c->rxlen - used);
	c->rxlen -= used;
	c->state = C_OPEN;
	pending_conns--;
	open_conns++;
	return parse_frames(c);
}

static void on_readable(struct conn *c)
{
	for (;;) {
		if (!c->rx) {
			c->rxcap = RX_INIT;
			c->rx = malloc(c->rxcap);
		}
		if (c->rxcap - c->rxlen < 1024) {
			c->rxcap *= 2;
			c->rx = realloc(c->rx, c->rxcap);
		}
		size_t room = c->rxcap - c->rxlen;
		ssize_t n = recv(c->fd, c->rx + c->rxlen, room, 0);
		if (n > 0) {
			c->rxlen += (uint32_t)n;
			int r = c->state == C_HANDSHAKE ? handshake_reply(c) : parse_frames(c);
			if (r < 0 || c->state == C_DEAD)
				return;
			if ((size_t)n < room)
				return; /* a short read: the socket is drained */
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (c->state == C_HANDSHAKE || c->state == C_CONNECTING) {
			st.connect_fail++;
			note_error("connection lost during the upgrade: %s", n ? strerror(errno) : "EOF");
		} else {
			st.closed++;
			note_error("connection lost: %s", n ? strerror(errno) : "EOF");
		}
		kill_conn(c);
		return;
	}
}

static void on_event(uint32_t idx, uint32_t events)
{
	struct conn *c = &conns[idx];
	if (c->state == C_DEAD || c->fd < 0)
		return;
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			st.connect_fail++;
			note_error("connect: %s", strerror(err ? err : ECONNREFUSED));
			kill_conn(c);
			return;
		}
		if (events & EPOLLOUT)
			send_handshake(c);
		return;
	}
	if (events & EPOLLOUT) {
		if (flush(c) < 0)
			return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		on_readable(c);
}

/* Waits up to timeout_ns for events and handles them. epoll_pwait2 keeps
 * the fixed-rate schedule to microseconds instead of epoll_wait's
 * milliseconds. */
static int poll_once_ns(uint64_t timeout_ns)
{
	struct epoll_event evs[1024];
	static bool no_pwait2;
	int n = -1;
	if (!no_pwait2) {
		struct timespec ts = { (time_t)(timeout_ns / 1000000000ull),
				       (long)(timeout_ns % 1000000000ull) };
		n = epoll_pwait2(ep, evs, 1024, &ts, NULL);
		if (n < 0 && errno == ENOSYS)
			no_pwait2 = true;
	}
	if (no_pwait2)
		n = epoll_wait(ep, evs, 1024, (int)((timeout_ns + 999999) / 1000000));
	for (int i = 0; i < n; i++)
		on_event(evs[i].data.u32, evs[i].events);
	return n;
}

static int poll_once(int timeout_ms)
{
	struct epoll_event evs[1024];
	int n = epoll_wait(ep, evs, 1024, timeout_ms);
	for (int i = 0; i < n; i++)
		on_event(evs[i].data.u32, evs[i].events);
	return n;
}

/* ---- the server's RSS and CPU ---- */

static long rss_kib(void)
{
	long total = 0;
	for (int i = 0; i < opt.npids; i++) {
		char path[64], line[256];
		snprintf(path, sizeof(path), "/proc/%d/status", opt.pids[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			return -1;
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "VmRSS:", 6) == 0)
				total += atol(line + 6);
		fclose(f);
	}
	return total;
}

static double server_cpu_s(void)
{
	double total = 0;
	long hz = sysconf(_SC_CLK_TCK);
	for (int i = 0; i < opt.npids; i++) {
		char path[64], buf[1024];
		snprintf(path, sizeof(path), "/proc/%d/stat", opt.pids[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			return -1;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *p = strrchr(buf, ')');
		unsigned long ut = 0, stt = 0;
		/* after ")": state ppid pgrp session tty tpgid flags minflt
		 * cminflt majflt cmajflt utime stime */
		if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				 &ut, &stt) != 2)
			return -1;
		total += (double)(ut + stt) / (double)hz;
	}
	return total;
}

/* CPU seconds the whole machine was busy (all cores, from /proc/stat):
 * what neither the server nor this client used was taken by something
 * else on a shared machine. */
static double machine_busy_s(void)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long v[10] = { 0 };
	if (!f)
		return -1;
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
	fclose(f);
	if (n < 8)
		return -1;
	/* user nice system idle iowait irq softirq steal (guest counted in user) */
	unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static bool server_alive(void)
{
	for (int i = 0; i < opt.npids; i++)
		if (kill(opt.pids[i], 0) < 0)
			return false;
	return true;
}

/* ---- main ---- */

static int parse_list(const char *s, int *out, int max)
{
	int n = 0;
	char *dup = strdup(s), *save = NULL;
	for (char *t = strtok_r(dup, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
		out[n++] = atoi(t);
	free(dup);
	return n;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: wsload --port P[,P2...] --conns N [--mode closed|rate] [--rate R]\n"
		"       [--seconds S] [--warmup S] [--drain S] [--expect reply|echo]\n"
		"       [--pid PID[,PID2...]] [--src K] [--filter all|escalate|noescalate]\n"
		"       [--path /ws] [--host 127.0.0.1] [--max-pending N] [--label TEXT]\n"
		"       CORPUS.jsonl...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *files[16];
	int nfiles = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && (i++, 1))
		if (OPT("--port"))
			opt.nports = parse_list(v, opt.ports, MAX_PORTS);
		else if (OPT("--pid"))
			opt.npids = parse_list(v, opt.pids, MAX_PIDS);
		else if (OPT("--conns"))
			opt.nconns = (unsigned)atol(v);
		else if (OPT("--mode"))
			opt.mode_s = v;
		else if (OPT("--rate"))
			opt.rate = atof(v);
		else if (OPT("--seconds"))
			opt.seconds = atof(v);
		else if (OPT("--warmup"))
			opt.warmup = atof(v);
		else if (OPT("--drain"))
			opt.drain = atof(v);
		else if (OPT("--expect"))
			opt.expect_s = v;
		else if (OPT("--src"))
			opt.src = (unsigned)atol(v);
		else if (OPT("--filter"))
			opt.filter = v;
		else if (OPT("--path"))
			opt.path = v;
		else if (OPT("--host"))
			opt.host = v;
		else if (OPT("--max-pending"))
			opt.max_pending = (unsigned)atol(v);
		else if (OPT("--connect-timeout"))
			opt.connect_timeout = atof(v);
		else if (OPT("--label"))
			opt.label = v;
		else if (a[0] == '-')
			return usage();
		else if (nfiles < 16)
			files[nfiles++] = a;
#undef OPT
	}
	opt.echo = strcmp(opt.expect_s, "echo") == 0;
	opt.closed = strcmp(opt.mode_s, "closed") == 0;
	if (!opt.nports || !opt.nconns || !nfiles || opt.src < 1 || opt.src > 250 ||
	    (!opt.echo && strcmp(opt.expect_s, "reply")) ||
	    (!opt.closed && (strcmp(opt.mode_s, "rate") || opt.rate <= 0)))
		return usage();
	for (int i = 0; i < nfiles; i++)
		if (load_corpus(files[i], opt.filter) < 0)
			return 2;
	if (!nmsgs) {
		fprintf(stderr, "wsload: no messages in the corpus\n");
		return 2;
	}

	/* One descriptor per connection and a margin. */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < opt.nconns + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < opt.nconns + 64) {
			fprintf(stderr, "wsload: %u connections need %u descriptors; the limit is %lu "
				"(raise ulimit -n)\n", opt.nconns, opt.nconns + 64,
				(unsigned long)rl.rlim_cur);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(0);
	conns = calloc(opt.nconns, sizeof(*conns));
	for (unsigned i = 0; i < opt.nconns; i++) {
		conns[i].fd = -1;
		conns[i].next_msg = (uint32_t)((i * 7919u) % nmsgs);
	}

	long rss0 = opt.npids ? rss_kib() : -1;

	/* Connect, at most max_pending upgrades in flight. */
	uint64_t t0 = now_ns();
	unsigned started = 0;
	while (started < opt.nconns || pending_conns) {
		while (started < opt.nconns && pending_conns < opt.max_pending)
			start_connect(&conns[started], started), started++;
		poll_once(5);
		uint64_t now = now_ns();
		for (unsigned i = 0; i < started; i++) {
			struct conn *c = &conns[i];
			if ((c->state == C_CONNECTING || c->state == C_HANDSHAKE) &&
			    now - c->t_start > (uint64_t)(opt.connect_timeout * 1e9)) {
				st.connect_fail++;
				note_error("%s", "upgrade timed out");
				kill_conn(c);
			}
		}
		if (started == opt.nconns && !pending_conns)
			break;
	}
	double connect_s = (double)(now_ns() - t0) / 1e9;
	/* Let the server settle its per-connection state. */
	for (uint64_t until = now_ns() + 300000000ull; now_ns() < until;)
		poll_once(50);
	long rss1 = opt.npids ? rss_kib() : -1;
	uint64_t connected = open_conns;

	/* Traffic: warm-up, then the measured window, then drain. */
	sending = true;
	uint64_t t_start = now_ns();
	uint64_t t_meas = t_start + (uint64_t)(opt.warmup * 1e9);
	uint64_t t_end = t_meas + (uint64_t)(opt.seconds * 1e9);
	double cpu_srv0 = 0, cpu_cli0 = 0, cpu_srv1 = 0, cpu_cli1 = 0, busy0 = 0, busy1 = 0;
	bool measured = false;
	uint64_t sched = 0, rr = 0;
	if (opt.closed)
		for (unsigned i = 0; i < opt.nconns; i++)
			send_message(&conns[i], now_ns());
	for (;;) {
		uint64_t now = now_ns();
		if (!measuring && now >= t_meas) {
			measuring = measured = true;
			cpu_srv0 = opt.npids ? server_cpu_s() : 0;
			cpu_cli0 = self_cpu_s();
			busy0 = machine_busy_s();
			t_meas = now;
		}
		if (now >= t_end || (!open_conns && !pending_conns)) {
			if (!measured) {
				t_meas = now;
				break;
			}
			cpu_srv1 = opt.npids ? server_cpu_s() : 0;
			cpu_cli1 = self_cpu_s();
			busy1 = machine_busy_s();
			measuring = false;
			break;
		}
		if (!opt.closed && open_conns) {
			/* Message k is due at t_start + k / rate. */
			uint64_t due = (uint64_t)((double)(now - t_start) / 1e9 * opt.rate) + 1;
			while (sched < due) {
				struct conn *c;
				unsigned tries = 0;
				do
					c = &conns[rr++ % opt.nconns];
				while (c->state != C_OPEN && ++tries < opt.nconns);
				send_message(c, t_start + (uint64_t)((double)sched / opt.rate * 1e9));
				sched++;
			}
		}
		if (opt.closed) {
			poll_once(10);
		} else {
			/* Sleep until the next message is due, at most 1 ms. */
			uint64_t next = t_start + (uint64_t)((double)sched / opt.rate * 1e9);
			uint64_t t = now_ns();
			poll_once_ns(next > t ? (next - t < 1000000 ? next - t : 1000000) : 0);
		}
	}
	uint64_t t_stop = now_ns();
	double window = (double)(t_stop - t_meas) / 1e9;
	sending = false;
	uint64_t outstanding;
	for (uint64_t until = now_ns() + (uint64_t)(opt.drain * 1e9);;) {
		outstanding = 0;
		for (unsigned i = 0; i < opt.nconns; i++)
			if (conns[i].state == C_OPEN)
				outstanding += conns[i].qlen;
		if (!outstanding || now_ns() >= until)
			break;
		poll_once(10);
	}
	/* Messages on connections that died count as lost too. */
	uint64_t lost = 0;
	for (unsigned i = 0; i < opt.nconns; i++)
		lost += conns[i].qlen;
	long rss2 = opt.npids ? rss_kib() : -1;
	bool alive = opt.npids ? server_alive() : true;
	uint64_t still_open = open_conns;
	for (unsigned i = 0; i < opt.nconns; i++) {
		if (conns[i].state != C_DEAD)
			kill_conn(&conns[i]);
		free(conns[i].q);
	}

	double rate = window > 0 ? (double)meas_replies / window : 0;
	double srv_cpu = cpu_srv1 - cpu_srv0, cli_cpu = cpu_cli1 - cpu_cli0;
	double other_cpu = busy0 >= 0 && busy1 >= 0 ? busy1 - busy0 - srv_cpu - cli_cpu : 0;
	if (other_cpu < 0)
		other_cpu = 0;
	uint64_t errors = st.connect_fail + st.closed + st.malformed + st.server_error +
			  st.esc_failed + (alive ? 0 : 1);
	double per_conn = connected && rss2 > 0 ? (double)(rss2 - rss0) / (double)connected : -1;
	double per_conn_idle = connected && rss1 > 0 ? (double)(rss1 - rss0) / (double)connected : -1;

	printf("wsload %s: %u connections (%" PRIu64 " open after %.1f s), %s, %s, %zu messages\n",
	       opt.label, opt.nconns, connected, connect_s,
	       opt.closed ? "closed loop" : "fixed rate", opt.echo ? "echo" : "reply", nmsgs);
	if (!opt.closed)
		printf("  offered rate    %.0f msgs/s\n", opt.rate);
	printf("  throughput      %.0f msgs/s (%" PRIu64 " replies in %.2f s)\n", rate,
	       meas_replies, window);
	printf("  latency         p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
	       hq(&h_all, .5) / 1e6, hq(&h_all, .9) / 1e6, hq(&h_all, .99) / 1e6,
	       hq(&h_all, .999) / 1e6, (double)h_all.max / 1e6);
	if (!opt.echo && h_esc.n && h_noesc.n)
		printf("  by escalation   escalating p50 %.3f p99 %.3f ms (%" PRIu64 ");"
		       " not escalating p50 %.3f p99 %.3f ms (%" PRIu64 ")\n",
		       hq(&h_esc, .5) / 1e6, hq(&h_esc, .99) / 1e6, h_esc.n,
		       hq(&h_noesc, .5) / 1e6, hq(&h_noesc, .99) / 1e6, h_noesc.n);
	printf("  received        %.0f bytes of payload per answered message (all frames)\n",
	       meas_replies ? (double)meas_bytes_in / (double)meas_replies : 0);
	printf("  cpu             server %.2f s (%.0f%% of one core), client %.2f s (%.0f%%), "
	       "anything else %.2f s (%.0f%%)\n",
	       srv_cpu, window > 0 ? 100 * srv_cpu / window : 0, cli_cpu,
	       window > 0 ? 100 * cli_cpu / window : 0, other_cpu,
	       window > 0 ? 100 * other_cpu / window : 0);
	if (opt.npids)
		printf("  server rss      %ld KiB before, %ld connected, %ld after traffic: "
		       "%.1f KiB/connection (%.1f idle)%s\n",
		       rss0, rss1, rss2, per_conn, per_conn_idle, alive ? "" : "  SERVER DIED");
	printf("  sent %" PRIu64 ", replies %" PRIu64 ", lost %" PRIu64 ", still open %" PRIu64
	       "; errors %" PRIu64 " (connect %" PRIu64 ", closed %" PRIu64 ", malformed %" PRIu64
	       ", error frames %" PRIu64 ", escalation failed %" PRIu64 ")\n",
	       st.sent, st.replies, lost, still_open, errors, st.connect_fail, st.closed,
	       st.malformed, st.server_error, st.esc_failed);
	if (!opt.echo)
		printf("  frames          welcome %" PRIu64 ", typing %" PRIu64 ", pings %" PRIu64
		       "; escalation stored %" PRIu64 ", preview %" PRIu64 ", none %" PRIu64 "\n",
		       st.welcomes, st.typing, st.pings, st.esc_stored, st.esc_preview, st.esc_none);
	if (st.first_error[0])
		printf("  first error     %s\n", st.first_error);

	json_object *o = json_object_new_object();
#define PUT(k, v) json_object_object_add(o, k, v)
	PUT("label", json_object_new_string(opt.label));
	PUT("conns", json_object_new_int64(opt.nconns));
	PUT("connected", json_object_new_int64((int64_t)connected));
	PUT("connect_s", json_object_new_double(connect_s));
	PUT("mode", json_object_new_string(opt.mode_s));
	PUT("expect", json_object_new_string(opt.expect_s));
	PUT("filter", json_object_new_string(opt.filter));
	PUT("offered", json_object_new_double(opt.closed ? 0 : opt.rate));
	PUT("rate", json_object_new_double(rate));
	PUT("window_s", json_object_new_double(window));
	PUT("replies", json_object_new_int64((int64_t)meas_replies));
	PUT("p50_ms", json_object_new_double(hq(&h_all, .5) / 1e6));
	PUT("p90_ms", json_object_new_double(hq(&h_all, .9) / 1e6));
	PUT("p99_ms", json_object_new_double(hq(&h_all, .99) / 1e6));
	PUT("p999_ms", json_object_new_double(hq(&h_all, .999) / 1e6));
	PUT("max_ms", json_object_new_double((double)h_all.max / 1e6));
	PUT("esc_n", json_object_new_int64((int64_t)h_esc.n));
	PUT("esc_p50_ms", json_object_new_double(hq(&h_esc, .5) / 1e6));
	PUT("esc_p99_ms", json_object_new_double(hq(&h_esc, .99) / 1e6));
	PUT("noesc_n", json_object_new_int64((int64_t)h_noesc.n));
	PUT("noesc_p50_ms", json_object_new_double(hq(&h_noesc, .5) / 1e6));
	PUT("noesc_p99_ms", json_object_new_double(hq(&h_noesc, .99) / 1e6));
	PUT("server_cpu", json_object_new_double(window > 0 ? srv_cpu / window : 0));
	PUT("client_cpu", json_object_new_double(window > 0 ? cli_cpu / window : 0));
	PUT("other_cpu", json_object_new_double(window > 0 ? other_cpu / window : 0));
	PUT("rss0_kib", json_object_new_int64(rss0));
	PUT("rss1_kib", json_object_new_int64(rss1));
	PUT("rss2_kib", json_object_new_int64(rss2));
	PUT("kib_per_conn", json_object_new_double(per_conn));
	PUT("kib_per_conn_idle", json_object_new_double(per_conn_idle));
	PUT("bytes_per_answer", json_object_new_double(meas_replies ? (double)meas_bytes_in / (double)meas_replies : 0));
	PUT("sent", json_object_new_int64((int64_t)st.sent));
	PUT("lost", json_object_new_int64((int64_t)lost));
	PUT("errors", json_object_new_int64((int64_t)errors));
	PUT("connect_fail", json_object_new_int64((int64_t)st.connect_fail));
	PUT("closed", json_object_new_int64((int64_t)st.closed));
	PUT("malformed", json_object_new_int64((int64_t)st.malformed));
	PUT("error_frames", json_object_new_int64((int64_t)st.server_error));
	PUT("typing_frames", json_object_new_int64((int64_t)st.typing));
	PUT("esc_stored", json_object_new_int64((int64_t)st.esc_stored));
	PUT("esc_failed", json_object_new_int64((int64_t)st.esc_failed));
	PUT("server_alive", json_object_new_boolean(alive));
	PUT("first_error", json_object_new_string(st.first_error));
#undef PUT
	printf("RESULT %s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return errors || lost ? 1 : 0;
}
