/*
 * The SQLite store's background checkpointer (store_checkpointer_start): a
 * thread with a connection of its own copies the write-ahead log into the
 * database, so that the writer's commits only append to the log.
 */
#include <pthread.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "lib/err.h"
#include "lib/thread.h"
#include "store/sqlite_int.h"

/*
 * Background checkpoints: the writer wakes the checkpointer once the log
 * holds CKPT_WAKE_PAGES pages (SQLite's own autocheckpoint threshold), and
 * checkpoints in its own commit, as without a checkpointer, past
 * CKPT_FORCE_PAGES (so the log stays bounded whatever happens).
 */
#define CKPT_WAKE_PAGES 1000
#define CKPT_FORCE_PAGES 16000

/* The checkpointer thread and its own connection (store_checkpointer_start). */
struct ckpt {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sqlite3 *db;
	int wake, stop;
	unsigned long runs, busy;
};

/*
 * The checkpointer thread, started by store_checkpointer_start: one
 * checkpoint each time ckpt_hook wakes it, until sqlite_ckpt_stop.
 */
static void *
ckpt_main(void *arg)
{
	struct ckpt *ck = arg;

	pthread_mutex_lock(&ck->mu);
	for (;;) {
		int rc;

		while (!ck->wake && !ck->stop)
			pthread_cond_wait(&ck->cv, &ck->mu);
		if (ck->stop)
			break;
		ck->wake = 0;
		pthread_mutex_unlock(&ck->mu);
		/*
		 * PASSIVE: copy what no reader still needs, never wait for
		 * the writer (it goes on appending meanwhile).  The log is
		 * reset by the writer's next transaction once all of it was
		 * copied.  BUSY means another checkpoint ran: fine.
		 */
		rc = sqlite3_wal_checkpoint_v2(ck->db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&ck->mu);
		ck->runs++;
		if (rc != SQLITE_OK)
			ck->busy++;
	}
	pthread_mutex_unlock(&ck->mu);
	return NULL;
}

/* sqlite3_wal_hook: after each commit of the writer, pages in the log. */
static int
ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *s = arg;

	if (pages >= CKPT_FORCE_PAGES)
		/* the checkpointer is behind: do it here, bounded log */
		(void)sqlite3_wal_checkpoint_v2(db, name,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	else if (pages >= CKPT_WAKE_PAGES) {
		pthread_mutex_lock(&s->ck->mu);
		s->ck->wake = 1;
		pthread_cond_signal(&s->ck->cv);
		pthread_mutex_unlock(&s->ck->mu);
	}
	return SQLITE_OK;
}

int
store_checkpointer_start(struct store *s, const char *path, struct kerr *e)
{
	struct ckpt *ck;

	if (s->ck != NULL)
		return 0;
	if ((ck = calloc(1, sizeof(*ck))) == NULL)
		return kerr_set(e, KERR_NOMEM, "store: out of memory");
	if (sqlite3_open_v2(path, &ck->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL) != SQLITE_OK) {
		int r = kerr_set(e, KERR_IO, "store: checkpointer: cannot "
		    "open %s: %s", path, ck->db ? sqlite3_errmsg(ck->db) :
		    "out of memory");

		sqlite3_close(ck->db);
		free(ck);
		return r;
	}
	sqlite3_busy_timeout(ck->db, BUSY_TIMEOUT_MS);
	/* the same durability for the database file as the writer's */
	(void)sqlite3_exec(ck->db, "PRAGMA synchronous = FULL", NULL, NULL,
	    NULL);
	pthread_mutex_init(&ck->mu, NULL);
	pthread_cond_init(&ck->cv, NULL);
	if (thread_start(&ck->th, ckpt_main, ck, "store-ckpt") != 0) {
		pthread_cond_destroy(&ck->cv);
		pthread_mutex_destroy(&ck->mu);
		sqlite3_close(ck->db);
		free(ck);
		return kerr_set(e, KERR_NOMEM, "store: cannot start the "
		    "checkpointer thread");
	}
	s->ck = ck;
	/* replaces SQLite's autocheckpoint (itself a wal hook) */
	sqlite3_wal_hook(s->db, ckpt_hook, s);
	return 0;
}

void
sqlite_ckpt_stop(struct store *s)
{
	struct ckpt *ck = s->ck;

	if (ck == NULL)
		return;
	sqlite3_wal_autocheckpoint(s->db, CKPT_WAKE_PAGES);	/* hook off */
	pthread_mutex_lock(&ck->mu);
	ck->stop = 1;
	pthread_cond_signal(&ck->cv);
	pthread_mutex_unlock(&ck->mu);
	pthread_join(ck->th, NULL);
	sqlite3_close(ck->db);
	pthread_cond_destroy(&ck->cv);
	pthread_mutex_destroy(&ck->mu);
	free(ck);
	s->ck = NULL;
}
