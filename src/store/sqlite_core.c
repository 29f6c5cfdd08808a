/*
 * The SQLite store's core: opening a database file (its mode, the pragmas,
 * the migrations, every statement prepared), closing it, transactions, and
 * deferred durability (the write-ahead log's fsync thread, lib/walsync.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/err.h"
#include "lib/sqlschema.h"
#include "lib/walsync.h"
#include "store/sqlite_int.h"

/* Page cache per connection, KiB (SQLite's default is 2000). */
#define CACHE_KIB_STR "16384"

/* Create path if missing, mode 0600; tighten an existing file to 0600. */
static int
file_prepare(const char *path, struct kerr *e)
{
	static const char *const side[] = { "-wal", "-shm" };
	struct stat sb;
	char *p;
	size_t n;
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return kerr_set(e, KERR_IO, "store: cannot open %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return kerr_set(e, KERR_IO, "store: %s is not a regular file",
		    path);
	}
	if ((sb.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0) {
		int err = errno;

		close(fd);
		return kerr_set(e, KERR_IO, "store: cannot set mode 0600 on "
		    "%s: %s", path, strerror(err));
	}
	close(fd);

	/* SQLite gives -wal and -shm the database's mode when it creates
	 * them; ones left over from an earlier, looser file are fixed too. */
	n = strlen(path) + 5;
	if ((p = malloc(n)) == NULL)
		return kerr_set(e, KERR_NOMEM, "store: out of memory");
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		snprintf(p, n, "%s%s", path, side[i]);
		if (stat(p, &sb) == 0 && (sb.st_mode & 07777) != 0600 &&
		    chmod(p, 0600) != 0) {
			int err = errno;

			kerr_set(e, KERR_IO, "store: cannot set mode 0600 on "
			    "%s: %s", p, strerror(err));
			free(p);
			return KERR_IO;
		}
	}
	free(p);
	return 0;
}

/* One-row, one-column pragma read (user_version, journal_mode). */
static int
pragma_get(struct store *s, const char *q, int *iv, char *sv, size_t svsz,
    struct kerr *e)
{
	sqlite3_stmt *st;
	int r;

	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return dberr(s, e, q);
	if ((r = step(s, st, e, q)) == 1) {
		if (iv != NULL)
			*iv = sqlite3_column_int(st, 0);
		if (sv != NULL) {
			const unsigned char *t = sqlite3_column_text(st, 0);

			snprintf(sv, svsz, "%s", t != NULL ? (const char *)t : "");
		}
		r = 0;
	} else if (r == 0)
		r = kerr_set(e, KERR_IO, "store: %s returned nothing", q);
	sqlite3_finalize(st);
	return r;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	walsync_stop(s->ws);	/* syncs what was committed */
	sqlite_ckpt_stop(s);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	/* Rolls back an open transaction; the WAL is checkpointed. */
	sqlite3_close(s->db);
	free(s);
}

int
store_open(struct store **out, const char *path, struct kerr *e)
{
	struct store *s;
	char mode[16];
	int r;

	*out = NULL;
	if (path == NULL || *path == '\0')
		return kerr_set(e, KERR_INVALID, "store: no database path");
	if ((r = file_prepare(path, e)) != 0)
		return r;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return kerr_set(e, KERR_NOMEM, "store: out of memory");
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL) != SQLITE_OK) {
		if (s->db == NULL)
			r = kerr_set(e, KERR_NOMEM, "store: out of memory");
		else
			r = kerr_set(e, KERR_IO, "store: cannot open %s: %s",
			    path, sqlite3_errmsg(s->db));
		goto fail;
	}
	/* No writes to the schema tables by SQL, no untrusted functions. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if ((r = pragma_get(s, "PRAGMA journal_mode = WAL", NULL, mode,
	    sizeof(mode), e)) != 0)
		goto fail;
	if (strcmp(mode, "wal") != 0) {
		r = kerr_set(e, KERR_IO, "store: %s: cannot use WAL mode "
		    "(journal_mode is %s)", path, mode);
		goto fail;
	}
	if ((r = sql_exec(s->db, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON;"
	    "PRAGMA cache_size = -" CACHE_KIB_STR ";", "store: open", e)) != 0)
		goto fail;
	if ((r = sqlite_migrate(s, path, e)) != 0)
		goto fail;
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, sqlite_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			r = dberr(s, e, "prepare");
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return r;
}

int
store_schema_version(struct store *s)
{
	return s->version;
}

int
store_begin(struct store *s, struct kerr *e)
{
	return exec_st(s, ST_BEGIN, e, "begin");
}

int
store_commit(struct store *s, struct kerr *e)
{
	int r;

	if ((r = exec_st(s, ST_COMMIT, e, "commit")) != 0)
		return r;
	if (s->ws != NULL)
		(void)walsync_committed(s->ws);
	else
		s->commits++;
	return 0;
}

void
store_rollback(struct store *s)
{
	/* "cannot rollback - no transaction is active" is not an error here. */
	if (s != NULL && !sqlite3_get_autocommit(s->db))
		(void)exec_st(s, ST_ROLLBACK, NULL, "rollback");
}

/* ---- deferred durability ------------------------------------------------- */

int
store_sync_thread_start(struct store *s, const char *path, int notify_fd,
    struct kerr *e)
{
	char wal[PATH_MAX];
	int r;

	if (s->ws != NULL)
		return 0;
	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal))
		return kerr_set(e, KERR_TOOBIG, "store: %s: path too long",
		    path);
	/* what the log holds now (a previous run's commits too) is synced
	 * before any of it counts as durable */
	if ((r = walsync_start(&s->ws, wal, notify_fd, 0, "store-fsync",
	    e)) != 0)
		return r;
	if ((r = sql_exec(s->db, "PRAGMA synchronous = NORMAL",
	    "store: deferred sync", e)) != 0) {
		walsync_stop(s->ws);
		s->ws = NULL;
		return r;
	}
	return 0;
}

uint64_t
store_last_commit(struct store *s)
{
	return s->ws != NULL ? walsync_last(s->ws) : s->commits;
}

uint64_t
store_durable(struct store *s)
{
	return s->ws != NULL ? walsync_durable(s->ws) : s->commits;
}

int
store_wait_durable(struct store *s, uint64_t n, struct kerr *e)
{
	if (s->ws == NULL || walsync_wait(s->ws, n) == 0)
		return 0;
	return kerr_set(e, KERR_IO, "store: the write-ahead log could not be "
	    "synced to disk");
}

int
store_sync_failed(struct store *s)
{
	return s->ws != NULL && walsync_failed(s->ws);
}
