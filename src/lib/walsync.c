/*
 * The fdatasync thread of one file (walsync.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/thread.h"
#include "lib/walsync.h"

void (*walsync_test_hook)(const char *path);

struct walsync {
	char path[PATH_MAX];
	int fd;
	int notify_fd;
	unsigned gap_ms;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t more;	/* the thread: a commit, or stop */
	pthread_cond_t synced;	/* walsync_wait */
	uint64_t last;		/* the last commit written */
	uint64_t durable;	/* every commit up to it is on disk */
	uint64_t failed;	/* an fdatasync failed: sticky */
	int stop;
};

/* Open path, or reopen it if the name now holds another file. */
static int
ws_open(struct walsync *w)
{
	struct stat a, b;

	if (w->fd >= 0 && fstat(w->fd, &a) == 0 && stat(w->path, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		return 0;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = open(w->path, O_RDWR | O_CLOEXEC);
	return w->fd >= 0 ? 0 : -1;
}

static int
ws_sync(struct walsync *w)
{
	if (walsync_test_hook != NULL)
		walsync_test_hook(w->path);
	if (ws_open(w) != 0 || fdatasync(w->fd) != 0) {
		log_err("fsync of %s failed: %s", w->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Wake the event loop waiting on notify_fd: durable moved, or the end. */
static void
ws_notify(const struct walsync *w)
{
	uint64_t one = 1;

	if (w->notify_fd >= 0)
		(void)!write(w->notify_fd, &one, sizeof(one));
}

static void *
ws_main(void *arg)
{
	struct walsync *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		uint64_t target;
		int r;

		while (w->durable == w->last && !w->stop)
			pthread_cond_wait(&w->more, &w->mu);
		if (w->durable == w->last || w->failed)
			break;	/* stopping, nothing outstanding (or never) */
		target = w->last;
		pthread_mutex_unlock(&w->mu);
		r = ws_sync(w);
		pthread_mutex_lock(&w->mu);
		if (r != 0) {
			w->failed = 1;
			pthread_cond_broadcast(&w->synced);
			break;
		}
		w->durable = target;
		pthread_cond_broadcast(&w->synced);
		pthread_mutex_unlock(&w->mu);
		ws_notify(w);
		if (w->gap_ms > 0 && !w->stop)
			usleep(w->gap_ms * 1000);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	ws_notify(w);
	return NULL;
}

/* The directory entry of a file created since the last sync. */
static int
sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, r;

	snprintf(copy, sizeof(copy), "%s", path);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
walsync_start(struct walsync **out, const char *path, int notify_fd,
    unsigned gap_ms, const char *name, struct kerr *e)
{
	struct walsync *w;
	int rc;

	*out = NULL;
	if (strlen(path) >= PATH_MAX)
		return kerr_set(e, KERR_TOOBIG, "%s: path too long", path);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return kerr_set(e, KERR_NOMEM, "out of memory");
	memcpy(w->path, path, strlen(path) + 1);
	w->fd = -1;
	w->notify_fd = notify_fd;
	w->gap_ms = gap_ms;
	if (ws_open(w) != 0 || fdatasync(w->fd) != 0 || sync_dir(path) != 0) {
		rc = kerr_set(e, KERR_IO, "%s: cannot sync: %s", path,
		    strerror(errno));
		if (w->fd >= 0)
			close(w->fd);
		free(w);
		return rc;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->more, NULL);
	pthread_cond_init(&w->synced, NULL);
	if (thread_start(&w->th, ws_main, w, name) != 0) {
		pthread_cond_destroy(&w->synced);
		pthread_cond_destroy(&w->more);
		pthread_mutex_destroy(&w->mu);
		close(w->fd);
		free(w);
		return kerr_set(e, KERR_NOMEM, "cannot start the fsync thread "
		    "of %s", path);
	}
	*out = w;
	return 0;
}

void
walsync_stop(struct walsync *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);	/* it syncs what is outstanding first */
	pthread_cond_destroy(&w->synced);
	pthread_cond_destroy(&w->more);
	pthread_mutex_destroy(&w->mu);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

uint64_t
walsync_committed(struct walsync *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->mu);
	n = ++w->last;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->mu);
	return n;
}

/* One of w's counters, read under its lock. */
static uint64_t
ws_get(struct walsync *w, const uint64_t *v)
{
	uint64_t x;

	pthread_mutex_lock(&w->mu);
	x = *v;
	pthread_mutex_unlock(&w->mu);
	return x;
}

uint64_t
walsync_last(struct walsync *w)
{
	return ws_get(w, &w->last);
}

uint64_t
walsync_durable(struct walsync *w)
{
	return ws_get(w, &w->durable);
}

int
walsync_wait(struct walsync *w, uint64_t n)
{
	int failed;

	pthread_mutex_lock(&w->mu);
	while (w->durable < n && !w->failed)
		pthread_cond_wait(&w->synced, &w->mu);
	failed = w->durable < n;
	pthread_mutex_unlock(&w->mu);
	return failed ? KERR_IO : 0;
}

int
walsync_failed(struct walsync *w)
{
	return ws_get(w, &w->failed) != 0;
}
