/*
 * The local API's socket (NODEDIR/api.sock, mode 0600): accepting clients
 * of root or kodend's own uid, at most NODE_API_CONNS_MAX at once, and
 * framing their requests (u32 length | request) for nodeapi.c.
 */
#define _GNU_SOURCE	/* accept4, struct ucred */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "node/admin.h"
#include "node/api.h"
#include "node/node_int.h"

static int
count_api(const struct node *n)
{
	int k = 0;

	for (const struct conn *c = n->conns; c != NULL; c = c->next)
		k += c->kind == CONN_API && c->state != CONN_DEAD;
	return k;
}

/*
 * A request is u32 length | request (api.h); each complete one goes to
 * nodeapi.c.  Called by conn_read after each read.
 */
static void
parse_requests(struct node *n, struct conn *c)
{
	while (c->state != CONN_DEAD && c->in.len >= 4) {
		struct rd rd;
		uint32_t l;

		rd_init(&rd, c->in.p, 4);
		if (rd_u32(&rd, &l) != 0 || l == 0 || l > API_MSG_MAX) {
			conn_close(c, "bad API request");
			return;
		}
		if (c->in.len < 4 + (size_t)l)
			break;
		api_handle(n, c, c->in.p + 4, l);
		memmove(c->in.p, c->in.p + 4 + l, c->in.len - 4 - l);
		c->in.len -= 4 + l;
	}
}

/* The handler of an API client's socket. */
static void
api_event(struct node *n, struct node_ev *ev, uint32_t events)
{
	struct conn *c = conn_of(ev);

	if (c->state == CONN_DEAD)
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(n, c, parse_requests);
	if (c->state != CONN_DEAD && (events & EPOLLOUT))
		conn_flush(c);
}

/* The API socket is readable.  Called by the loop. */
static void
accept_api(struct node *n, struct node_ev *ev, uint32_t events)
{
	(void)ev;
	(void)events;
	for (;;) {
		int fd = accept4(n->api_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		struct conn *c;

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 ||
		    (cr.uid != 0 && cr.uid != getuid()) ||
		    count_api(n) >= NODE_API_CONNS_MAX) {
			log_warn("refused a local API connection (uid %d)",
			    (int)cr.uid);
			close(fd);
			continue;
		}
		if ((c = conn_new(n, fd, CONN_API, api_event)) == NULL) {
			close(fd);
			continue;
		}
		c->state = CONN_OPEN;
		snprintf(c->who, sizeof(c->who), "api pid %ld uid %lu",
		    (long)cr.pid, (unsigned long)cr.uid);
	}
}

int
apiserver_listen(struct node *n, struct kerr *e)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (node_path(sun.sun_path, sizeof(sun.sun_path), n->dir,
	    NODE_SOCK_FILE) != 0)
		return kerr_set(e, KERR_TOOBIG, "%s: path too long for the API "
		    "socket", n->dir);
	unlink(sun.sun_path);	/* stale: the lock proves no kodend runs */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	old = umask(077);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, 64) != 0) {
		int err = errno;

		umask(old);
		if (fd >= 0)
			close(fd);
		return kerr_set(e, KERR_IO, "%s: %s", sun.sun_path,
		    strerror(err));
	}
	umask(old);
	chmod(sun.sun_path, 0600);
	n->api_fd = fd;
	if (node_ev_add(n, fd, &n->ev_api, EPOLLIN) != 0)
		return kerr_set(e, KERR_IO, "epoll: %s", strerror(errno));
	return 0;
}

void
apiserver_init(struct node *n)
{
	n->ev_api.fn = accept_api;
}
