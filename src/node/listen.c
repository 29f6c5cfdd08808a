/*
 * Peers' TCP connections: HQ listens and accepts; a post dials HQ without
 * blocking and backs off while HQ is unreachable.
 */
#define _GNU_SOURCE	/* accept4 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "node/node_int.h"

/* HQ: the listening socket is readable.  Called by the loop. */
static void
accept_peers(struct node *n, struct node_ev *ev, uint32_t events)
{
	(void)ev;
	(void)events;
	for (;;) {
		int fd = accept4(n->listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct conn *c;

		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = conn_new(n, fd, CONN_PEER, channel_event)) == NULL) {
			close(fd);
			continue;
		}
		if (hs_start(c, 0, NULL) != 0)
			conn_close(c, "cannot start handshake");
	}
}

/*
 * Post: the link to HQ closed (conn_close, its on_close): dial again after
 * a backoff that doubles up to retry_max.
 */
static void
hq_closed(struct conn *c)
{
	struct node *n = c->node;

	if (n->hq == c) {
		n->hq = NULL;
		n->audit_inflight = 0;
		n->dial_at = node_now_ms() + (uint64_t)n->backoff * 1000;
		n->backoff = n->backoff ? 2 * n->backoff : 1;
		if (n->backoff > n->cfg.retry_max)
			n->backoff = n->cfg.retry_max;
	}
}

/*
 * Post: the TCP connection to HQ is up (or failed): the handshake begins.
 * The handler of a dialing connection; the channel's from then on.
 */
static void
dial_connected(struct node *n, struct node_ev *ev, uint32_t events)
{
	struct conn *c = conn_of(ev);
	int err = 0;
	socklen_t el = sizeof(err);

	(void)events;
	if (c->state == CONN_DEAD)
		return;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
		log_debug("HQ %s unreachable: %s", n->cfg.hq, strerror(err));
		conn_close(c, "HQ unreachable");
		return;
	}
	c->ev.fn = channel_event;
	hs_initiate(n, c);
}

/*
 * Post: start a non-blocking connection to HQ; dial_connected() follows
 * when it is writable.  The loop never waits on the network.
 */
static void
dial(struct node *n)
{
	char host[CONFIG_HOST_MAX], port[CONFIG_PORT_MAX];
	struct addrinfo hints, *ai = NULL;
	struct conn *c;
	int fd = -1, one = 1;

	n->dial_at = node_now_ms() + (uint64_t)(n->backoff ? n->backoff : 1) * 1000;
	if (config_split_addr(n->cfg.hq, host, port) != 0)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
		log_warn("cannot resolve HQ address %s", n->cfg.hq);
		goto fail;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
	    errno != EINPROGRESS)) {
		log_debug("HQ %s unreachable: %s", n->cfg.hq, strerror(errno));
		goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = conn_new(n, fd, CONN_PEER, dial_connected)) == NULL)
		goto fail;
	fd = -1;
	n->hq = c;
	c->on_close = hq_closed;
	snprintf(c->peer, sizeof(c->peer), "HQ");
	c->initiator = 1;
	c->state = CONN_DIALING;
	c->deadline = node_now_ms() + (uint64_t)n->cfg.handshake_timeout * 1000;
	conn_ev_set(c, EPOLLOUT);
	goto out;
fail:
	n->backoff = n->backoff ? 2 * n->backoff : 1;
	if (n->backoff > n->cfg.retry_max)
		n->backoff = n->cfg.retry_max;
	n->dial_at = node_now_ms() + (uint64_t)n->backoff * 1000;
out:
	if (fd >= 0)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
}

/* HQ: listen on kodend.conf's address; the loop accepts. */
int
listen_peers(struct node *n, struct kerr *e)
{
	char host[CONFIG_HOST_MAX], port[CONFIG_PORT_MAX];
	struct addrinfo hints, *ai = NULL;
	int fd, one = 1;

	if (config_split_addr(n->cfg.listen, host, port) != 0)
		return kerr_set(e, KERR_INVALID, "listen: bad address %s",
		    n->cfg.listen);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return kerr_set(e, KERR_INVALID, "listen: cannot resolve %s",
		    n->cfg.listen);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 512) != 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return kerr_set(e, KERR_IO, "listen on %s: %s", n->cfg.listen,
		    strerror(err));
	}
	freeaddrinfo(ai);
	n->listen_fd = fd;
	if (node_ev_add(n, fd, &n->ev_listen, EPOLLIN) != 0)
		return kerr_set(e, KERR_IO, "epoll: %s", strerror(errno));
	return 0;
}

/* Every tick: a post without a link to HQ dials when its backoff is over. */
static void
dial_tick(struct node *n)
{
	if (n->cfg.role == ROLE_POST && n->hq == NULL &&
	    node_now_ms() >= n->dial_at)
		dial(n);
}

void
listen_init(struct node *n)
{
	n->ev_listen.fn = accept_peers;
	node_hook_tick(n, dial_tick);
}
