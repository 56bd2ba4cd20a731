/* rport: an SO_REUSEPORT listener lent to lws. See include/rport.h. */
#include "rport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int rport_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		   void *in, size_t len)
{
	/* No WebSocket upgrade may ask for this protocol by name: see
	 * callback_http in ws.c. */
	if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
		return -1;
	if (reason != LWS_CALLBACK_RAW_RX_FILE)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	int lfd = lws_get_socket_fd(wsi);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			       errno == ECONNABORTED || errno == EMFILE || errno == ENFILE ? 0 : -1;
		/* lws closes fd itself when it cannot take it. */
		lws_adopt_socket_vhost(lws_get_vhost(wsi), fd);
	}
}

/* Opens the listener. Returns the descriptor or -1. */
static int listen_on(const char *iface, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	if (fd < 0)
		return -1;
	if ((iface && inet_pton(AF_INET, iface, &sa.sin_addr) != 1) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0)
		goto close_fd;
	return fd;
close_fd:
	close(fd);
	return -1;
}

int rport_start(struct lws_context *ctx, const char *iface, int port, const char *protocol)
{
	int lfd = listen_on(iface, port);
	struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
	lws_sock_file_fd_type u = { .filefd = lfd };
	if (lfd < 0)
		return -1;
	if (!vh || !lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, protocol, NULL))
		goto close_lfd;
	return 0;
close_lfd:
	close(lfd);
	return -1;
}
