/* rport: several processes serving one port. Debian's libwebsockets is
 * built single-threaded, and its own listen-sharing option sets
 * SO_REUSEPORT only for several service threads; so the process opens its
 * own SO_REUSEPORT listener, lws watches it as a raw descriptor, and each
 * connection accepted is handed to lws as if it had accepted it. Used by
 * the server and by the bench's bare echo, so both share a port the same
 * way. Runs on the lws service thread. */
#ifndef AUTOASSIST_RPORT_H
#define AUTOASSIST_RPORT_H

#include <libwebsockets.h>

/* The listener protocol's callback: accepts every waiting connection and
 * adopts it on the listener's vhost. Returns 0, or -1 when accept fails
 * for a reason other than running out of connections or descriptors. */
int rport_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		   void *in, size_t len);

/* Opens an SO_REUSEPORT listener on iface (an IPv4 address; NULL: any) and
 * port, and has lws watch it on ctx's default vhost with the protocol
 * named protocol, whose callback is rport_callback. Returns 0, or -1 with
 * nothing left open. */
int rport_start(struct lws_context *ctx, const char *iface, int port, const char *protocol);

#endif
