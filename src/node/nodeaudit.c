/*
 * kodend's audit writer: a bounded queue and one thread (nodeaudit.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/journal.h"
#include "lib/log.h"
#include "lib/thread.h"
#include "lib/walsync.h"
#include "node/nodeaudit.h"
#include "node/receipt.h"

struct nitem {
	struct audit_event ev;
	uint8_t *env;		/* naudit_envelope: hashed by the writer */
	size_t env_len;
};

struct naudit {
	struct auditlog *wl;	/* the writer's handle */
	struct auditlog *ll;	/* the loop's handle */
	struct audit_journal *jr;	/* the loop's, for naudit_record */
	const struct identity *key;
	int wake_fd;
	char dir[PATH_MAX];	/* NODEDIR: its audit.journal */
	char jpath[PATH_MAX + 32];
	struct stat jseen;	/* the journal when last looked at */
	char wal[PATH_MAX + 8];	/* audit.db-wal, fsynced by ws */
	struct walsync *ws;	/* the WAL's fsync thread */
	pthread_t th;		/* the writer */
	int started;
	pthread_mutex_t mu;
	pthread_cond_t more, room;
	struct nitem *q;	/* ring of NAUDIT_QUEUE_MAX */
	struct audit_event *batch;	/* the writer's, NAUDIT_BATCH */
	uint8_t *env[NAUDIT_BATCH];	/* its envelopes to hash, if any */
	size_t env_len[NAUDIT_BATCH];
	size_t head, n;
	int stop;
	int jpoke;		/* the loop appended to the journal */
	int gathering;		/* the writer waits for a batch to fill */
};

/* ts = now + ms, for pthread_cond_timedwait */
static void
deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += ms * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Has the journal changed since the writer last looked? */
static int
journal_changed(struct naudit *a)
{
	struct stat st;

	if (stat(a->jpath, &st) != 0)
		return 0;
	if (st.st_ino == a->jseen.st_ino && st.st_dev == a->jseen.st_dev &&
	    st.st_size == a->jseen.st_size)
		return 0;
	a->jseen = st;
	return 1;
}

/*
 * The writer: take what is queued and what the journal holds, append it;
 * sign a head once NAUDIT_HEAD_MS has passed since the last.
 */
static void *
writer_main(void *arg)
{
	struct naudit *a = arg;
	struct audit_event *batch = a->batch;
	uint64_t last_head = 0;
	int dirty = 0;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct kerr e = { "" };
		size_t k = 0, nj = 0;
		int poke;

		while (a->n == 0 && !a->stop && !a->jpoke) {
			struct timespec ts;

			/* koden's appends to the journal: looked for this often */
			deadline(&ts, NAUDIT_JOURNAL_MS);
			if (pthread_cond_timedwait(&a->more, &a->mu, &ts) ==
			    ETIMEDOUT)
				break;
		}
		if (a->n == 0 && a->stop)
			break;	/* naudit_close applies the journal last */
		/*
		 * Let a batch gather: each append rewrites the last pages of
		 * the entry table and of the tree, whatever its size, so at
		 * HQ's rates (three events per telegram) batches of a few
		 * events wrote several KiB per event.  What the loop queues
		 * meanwhile does not wake the writer until the batch is full.
		 */
		if (a->n > 0 && a->n < NAUDIT_BATCH && !a->stop) {
			struct timespec ts;

			deadline(&ts, NAUDIT_GATHER_MS);
			a->gathering = 1;
			while (a->n < NAUDIT_BATCH && !a->stop &&
			    pthread_cond_timedwait(&a->more, &a->mu, &ts) !=
			    ETIMEDOUT)
				;
			a->gathering = 0;
		}
		poke = a->jpoke;
		a->jpoke = 0;
		while (k < NAUDIT_BATCH && a->n > 0) {
			struct nitem *it = &a->q[a->head];

			batch[k] = it->ev;
			a->env[k] = it->env;	/* hashed below, unlocked */
			a->env_len[k++] = it->env_len;
			it->env = NULL;
			a->head = (a->head + 1) % NAUDIT_QUEUE_MAX;
			a->n--;
		}
		pthread_cond_broadcast(&a->room);
		pthread_mutex_unlock(&a->mu);

		for (size_t i = 0; i < k; i++) {
			uint8_t h[RECEIPT_HASH_BYTES];
			char hex[2 * sizeof(h) + 1];

			if (a->env[i] == NULL)
				continue;
			/* the hash receipts carry: one name for one envelope
			 * (and 4x faster than SHA-256 here) */
			receipt_env_hash(h, a->env[i], a->env_len[i]);
			sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
			snprintf(batch[i].detail, sizeof(batch[i].detail),
			    "env-hash=%s", hex);
			free(a->env[i]);
			a->env[i] = NULL;
		}

		if ((poke || journal_changed(a)) &&
		    audit_journal_apply(a->wl, a->dir, NULL, &nj, &e) != 0) {
			log_err("audit: cannot apply %s: %s", a->jpath, e.msg);
			e.msg[0] = '\0';
		}
		if (k > 0 && audit_append(a->wl, batch, k, NULL, &e) != 0)
			log_err("audit: cannot append %zu events: %s", k, e.msg);
		if (k > 0 || nj > 0)
			dirty = 1;
		if (dirty && mono_ms() - last_head >= NAUDIT_HEAD_MS) {
			if (audit_sign_head(a->wl, a->key, NULL, &e) != 0)
				log_err("audit: cannot sign a head: %s", e.msg);
			dirty = 0;
			last_head = mono_ms();
		}
		/*
		 * Written (in the WAL: it survives kodend's death): the loop
		 * may ship it.  The syncer puts it on stable storage.
		 */
		pthread_mutex_lock(&a->mu);
		if (k > 0 || nj > 0) {
			uint64_t one = 1;

			if (a->wake_fd >= 0)
				(void)!write(a->wake_fd, &one, sizeof(one));
			/* the syncer puts it on stable storage */
			(void)walsync_committed(a->ws);
		}
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int
naudit_open(struct naudit **out, const char *nodedir, const char *name,
    const struct identity *key, int wake_fd, struct kerr *e)
{
	char path[PATH_MAX], wit[PATH_MAX];
	struct naudit *a;
	int r;

	*out = NULL;
#ifdef KODEN_AUDIT_BENCH_OFF
	/* bench/audit.sh's kodend-noaudit only: the same daemon with no
	 * audit log at all, the baseline of the read path.  Never built
	 * into build/kodend. */
	(void)name; (void)key; (void)wake_fd; (void)e; (void)wit; (void)a;
	(void)r;
	return 0;
#endif
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", nodedir,
	    AUDIT_DB_FILE) >= sizeof(path) ||
	    (size_t)snprintf(wit, sizeof(wit), "%s/%s", nodedir,
	    AUDIT_WITNESS_FILE) >= sizeof(wit))
		return kerr_set(e, KERR_TOOBIG, "audit: path too long");
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->q = calloc(NAUDIT_QUEUE_MAX, sizeof(*a->q))) == NULL ||
	    (a->batch = calloc(NAUDIT_BATCH, sizeof(*a->batch))) == NULL) {
		if (a != NULL)
			free(a->q);
		free(a);
		return kerr_set(e, KERR_NOMEM, "audit: out of memory");
	}
	a->key = key;
	a->wake_fd = wake_fd;
	a->jpoke = 1;	/* what the journal holds from before: first */
	snprintf(a->dir, sizeof(a->dir), "%s", nodedir);
	snprintf(a->jpath, sizeof(a->jpath), "%s/%s", nodedir,
	    AUDIT_JOURNAL_FILE);
	snprintf(a->wal, sizeof(a->wal), "%s-wal", path);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->more, NULL);
	pthread_cond_init(&a->room, NULL);
	/*
	 * Commits stop at the WAL (auditlog_sync_later); a thread fsyncs it
	 * at most every NAUDIT_SYNC_MS, concurrently with the writer's next
	 * appends, so no append (and no reply waiting for one) ever waits for
	 * an fsync.  Under load what was committed meanwhile shares the next.
	 */
	if ((r = auditlog_open(&a->wl, path, name, wit, e)) != 0 ||
	    (r = auditlog_sync_later(a->wl, e)) != 0 ||
	    (r = auditlog_open(&a->ll, path, name, wit, e)) != 0 ||
	    (r = auditlog_sync_later(a->ll, e)) != 0 ||
	    (r = audit_journal_open(&a->jr, nodedir, e)) != 0 ||
	    (r = walsync_start(&a->ws, a->wal, -1, NAUDIT_SYNC_MS,
	    "audit-fsync", e)) != 0) {
		naudit_close(a);
		return r;
	}
	/* the loop tries again later rather than wait for a writer */
	auditlog_busy_timeout(a->ll, NAUDIT_LOOP_BUSY_MS);
	if (thread_start(&a->th, writer_main, a, "audit-writer") != 0) {
		naudit_close(a);
		return kerr_set(e, KERR_NOMEM, "audit: cannot start the "
		    "writer thread");
	}
	a->started = 1;
	*out = a;
	return 0;
}

void
naudit_close(struct naudit *a)
{
	struct kerr e = { "" };

	if (a == NULL)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->mu);
		a->stop = 1;
		pthread_cond_signal(&a->more);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->th, NULL);
		/* at every stop, everything in the log, a head over it */
		if (audit_journal_apply(a->wl, a->dir, NULL, NULL, &e) != 0) {
			log_err("audit: cannot apply %s: %s", a->jpath, e.msg);
			e.msg[0] = '\0';
		}
		if (audit_sign_head(a->wl, a->key, NULL, &e) != 0)
			log_err("audit: cannot sign the final head: %s", e.msg);
		if (a->ws != NULL)
			(void)walsync_committed(a->ws);
	}
	walsync_stop(a->ws);	/* syncs what is outstanding */
	for (size_t i = 0; i < a->n; i++)
		free(a->q[(a->head + i) % NAUDIT_QUEUE_MAX].env);
	auditlog_close(a->wl);
	auditlog_close(a->ll);
	audit_journal_close(a->jr);
	pthread_cond_destroy(&a->more);
	pthread_cond_destroy(&a->room);
	pthread_mutex_destroy(&a->mu);
	free(a->q);
	free(a->batch);
	free(a);
}

struct auditlog *
naudit_log(struct naudit *a)
{
	return a->ll;
}

void
naudit_sync(struct naudit *a)
{
	if (a == NULL)
		return;
	(void)walsync_committed(a->ws);
}

/* Queue it (waiting for room: nothing is dropped); takes env. */
static void
push(struct naudit *a, const struct audit_event *ev, uint8_t *env, size_t len)
{
	pthread_mutex_lock(&a->mu);
	while (a->n == NAUDIT_QUEUE_MAX && !a->stop)
		pthread_cond_wait(&a->room, &a->mu);
	if (a->stop) {
		pthread_mutex_unlock(&a->mu);
		free(env);
		return;
	}
	a->q[(a->head + a->n) % NAUDIT_QUEUE_MAX] =
	    (struct nitem){ .ev = *ev, .env = env, .env_len = len };
	a->n++;
	if (!a->gathering || a->n >= NAUDIT_BATCH)
		pthread_cond_signal(&a->more);
	pthread_mutex_unlock(&a->mu);
}

/* The loop's event, fields as audit_event_set; detail printf-style. */
static struct audit_event *
make_event(const char *actor, const char *source, const char *action,
    const char *object, const char *outcome, const char *fmt, va_list ap)
{
	static struct audit_event ev;	/* the loop's; too big for its stack */
	char detail[AUDIT_DETAIL_MAX + 1];

	detail[0] = '\0';
	if (fmt != NULL)
		vsnprintf(detail, sizeof(detail), fmt, ap);
	memset(&ev, 0, sizeof(ev));
	audit_event_set(&ev, actor, source, action, object, outcome, detail);
	return &ev;
}

void
naudit_event(struct naudit *a, const char *actor, const char *source,
    const char *action, const char *object, const char *outcome,
    const char *fmt, ...)
{
	struct audit_event *ev;
	va_list ap;

	if (a == NULL)
		return;
	va_start(ap, fmt);
	ev = make_event(actor, source, action, object, outcome, fmt, ap);
	va_end(ap);
	push(a, ev, NULL, 0);
}

int
naudit_record(struct naudit *a, struct kerr *e, const char *actor,
    const char *source, const char *action, const char *object,
    const char *outcome, const char *fmt, ...)
{
	struct audit_event *ev;
	va_list ap;
	int r;

	if (a == NULL)
		return 0;
	va_start(ap, fmt);
	ev = make_event(actor, source, action, object, outcome, fmt, ap);
	va_end(ap);
	ev->time_ns = audit_now_ns();
	if ((r = audit_journal_append(a->jr, ev, e)) != 0)
		return r;
	pthread_mutex_lock(&a->mu);
	a->jpoke = 1;
	pthread_cond_signal(&a->more);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

void
naudit_envelope(struct naudit *a, const uint8_t id[16], const char *origin,
    const uint8_t *env, size_t len)
{
	static struct audit_event ev;
	char idhex[TG_ID_HEX];
	uint8_t *copy;

	if (a == NULL)
		return;
	if ((copy = malloc(len ? len : 1)) == NULL) {
		log_err("audit: out of memory for an envelope event");
		return;
	}
	memcpy(copy, env, len);
	sodium_bin2hex(idhex, sizeof(idhex), id, 16);
	memset(&ev, 0, sizeof(ev));
	audit_event_set(&ev, "kodend", origin, "envelope", idhex, "ok", NULL);
	push(a, &ev, copy, len);
}
