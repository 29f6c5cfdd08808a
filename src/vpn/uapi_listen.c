/*
 * WireGuard UAPI: the listening socket /var/run/wireguard/IFNAME.sock that
 * wg(8) and wg-quick(8) find, created safely (mode 0600 before bind, stale
 * sockets removed, a live one refused) and removed at shutdown; and the
 * accept loop that hands each connection to uapi_serve in a thread of its
 * own, at most UAPI_CONNS_MAX at once.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "vpn/uapi.h"

static int
valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IF_NAMESIZE || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)s[i] <= 0x20 || (uint8_t)s[i] >= 0x7f || s[i] == '/')
			return 0;
	return 1;
}

static int
sock_path(struct sockaddr_un *sun, const char *dir, const char *ifname)
{
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s.sock", dir, ifname);
	return n > 0 && (size_t)n < sizeof(sun->sun_path) ? 0 : -1;
}

int
uapi_listen(const char *dir, const char *ifname, struct kerr *err)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1, probe, e;

	if (dir == NULL)
		dir = UAPI_DIR_DEFAULT;
	if (ifname == NULL || !valid_ifname(ifname)) {
		kerr_set(err, KERR_INVALID, "invalid interface name for the UAPI socket");
		return -1;
	}
	if (sock_path(&sun, dir, ifname) != 0) {
		kerr_set(err, KERR_TOOBIG, "UAPI socket path %s/%s.sock is too long", dir, ifname);
		return -1;
	}
	if (mkdir(dir, 0755) == 0)
		(void)chmod(dir, 0755);	/* whatever the umask */
	else if (errno != EEXIST) {
		kerr_set(err, KERR_IO, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		kerr_set(err, KERR_IO, "%s is not a directory", dir);
		return -1;
	}
	if (lstat(sun.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			kerr_set(err, KERR_EXISTS, "%s exists and is not a socket", sun.sun_path);
			return -1;
		}
		if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			kerr_set(err, KERR_IO, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			kerr_set(err, KERR_EXISTS,
			    "%s: another process is listening on it (interface in use?)",
			    sun.sun_path);
			return -1;
		}
		e = errno;
		close(probe);
		if (e != ECONNREFUSED && e != ENOENT) {
			kerr_set(err, KERR_IO, "probing %s: %s", sun.sun_path, strerror(e));
			return -1;
		}
		if (unlink(sun.sun_path) != 0 && errno != ENOENT) {
			kerr_set(err, KERR_IO, "removing stale %s: %s", sun.sun_path,
			    strerror(errno));
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		kerr_set(err, KERR_IO, "socket: %s", strerror(errno));
		return -1;
	}
	/*
	 * Linux creates the socket file with the socket inode's mode less the
	 * umask, so set 0600 before bind: no window where it is wider.  The
	 * chmod after is for kernels that ignore it.
	 */
	(void)fchmod(fd, 0600);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		kerr_set(err, KERR_IO, "bind %s: %s", sun.sun_path, strerror(errno));
		goto fail;
	}
	if (chmod(sun.sun_path, 0600) != 0) {
		kerr_set(err, KERR_IO, "chmod %s: %s", sun.sun_path, strerror(errno));
		unlink(sun.sun_path);
		goto fail;
	}
	if (listen(fd, UAPI_BACKLOG) != 0) {
		kerr_set(err, KERR_IO, "listen %s: %s", sun.sun_path, strerror(errno));
		unlink(sun.sun_path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

void
uapi_unlink(const char *dir, const char *ifname)
{
	struct sockaddr_un sun;

	if (ifname == NULL || !valid_ifname(ifname))
		return;
	if (sock_path(&sun, dir ? dir : UAPI_DIR_DEFAULT, ifname) == 0)
		(void)unlink(sun.sun_path);
}

/* What uapi_accept_loop and its connection threads share. */
struct server {
	const struct uapi_ops *ops;
	void *ctx;
	pthread_mutex_t lock;
	pthread_cond_t ended;		/* a connection ended */
	unsigned n_conns;		/* being served */
};

struct server_conn {
	struct server *s;
	int fd;
};

static void *
conn_thread(void *arg)
{
	struct server_conn *c = arg;
	struct server *s = c->s;

	(void)uapi_serve(c->fd, s->ops, s->ctx);
	close(c->fd);
	free(c);
	pthread_mutex_lock(&s->lock);
	assert(s->n_conns > 0);
	s->n_conns--;
	pthread_cond_signal(&s->ended);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* At most one line of each kind per UAPI_ACCEPT_LOG_MS: a client that keeps
 * the listener at a limit must not fill the log. */
static bool
log_due(struct timespec *last)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (last->tv_sec != 0 && (now.tv_sec - last->tv_sec) * 1000 +
	    (now.tv_nsec - last->tv_nsec) / 1000000 < UAPI_ACCEPT_LOG_MS)
		return false;
	*last = now;
	return true;
}

/*
 * Two limits, and how the loop waits at each instead of spinning:
 *
 *   - UAPI_CONNS_MAX connections served at once.  At the cap the loop does
 *     not call accept until one of them ends; a new client waits in the
 *     listen backlog (UAPI_BACKLOG) and is served as soon as a connection
 *     closes.  Each connection costs a thread and a 64 KiB buffer.
 *
 *   - Descriptors or kernel memory running out (EMFILE, ENFILE, ENOBUFS,
 *     ENOMEM from accept).  The pending connection stays in the backlog and
 *     the listener stays readable, so retrying at once would spin: the loop
 *     sleeps UAPI_ACCEPT_BACKOFF_MS between tries (nginx does the same).
 *     The other cure, a spare descriptor closed to accept-and-close the
 *     client, would turn a `wg` away with nothing it could print, where
 *     waiting lets it through once a descriptor frees; and under Landlock
 *     the spare could not be reopened from /dev/null anyway.
 */
int
uapi_accept_loop(int lfd, const struct uapi_ops *ops, void *ctx)
{
	struct server s = { .ops = ops, .ctx = ctx };
	struct timespec capped = { 0 }, starved = { 0 };

	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.ended, NULL);
	for (;;) {
		struct server_conn *c;
		pthread_t t;
		int fd;

		pthread_mutex_lock(&s.lock);
		if (s.n_conns >= UAPI_CONNS_MAX && log_due(&capped))
			log_warn("uapi: %u connections open, the most served at "
			    "once (UAPI_CONNS_MAX): new ones wait until one "
			    "closes", s.n_conns);
		while (s.n_conns >= UAPI_CONNS_MAX)
			pthread_cond_wait(&s.ended, &s.lock);
		pthread_mutex_unlock(&s.lock);

		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				struct timespec ts = { 0,
				    UAPI_ACCEPT_BACKOFF_MS * 1000000L };

				if (log_due(&starved))
					log_warn("uapi accept: %s: trying again "
					    "every %d ms", strerror(errno),
					    UAPI_ACCEPT_BACKOFF_MS);
				while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
					;
				continue;
			}
			log_err("uapi accept: %s", strerror(errno));
			break;
		}
		c = malloc(sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->s = &s;
		c->fd = fd;
		pthread_mutex_lock(&s.lock);
		s.n_conns++;
		pthread_mutex_unlock(&s.lock);
		if (pthread_create(&t, NULL, conn_thread, c) != 0) {
			close(fd);
			free(c);
			pthread_mutex_lock(&s.lock);
			s.n_conns--;
			pthread_mutex_unlock(&s.lock);
			continue;
		}
		pthread_detach(t);
	}
	/* the connection threads use s: let them end first */
	pthread_mutex_lock(&s.lock);
	while (s.n_conns > 0)
		pthread_cond_wait(&s.ended, &s.lock);
	pthread_mutex_unlock(&s.lock);
	pthread_cond_destroy(&s.ended);
	pthread_mutex_destroy(&s.lock);
	return -1;
}
