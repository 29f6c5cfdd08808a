/*
 * The node store on SQLite (store.h; schema and rules in docs/store.md).
 *
 * One connection per struct store, used by one thread at a time.  Every
 * statement is prepared once at open (the schema is then known to match the
 * code) and reset with its bindings cleared after each use, so no statement
 * holds a read snapshot open between calls.  No SQL text is ever built from
 * caller data: values travel only as bound parameters.
 *
 * Integers: SQLite stores signed 64-bit integers.  Values kept in compared
 * columns (times, seqs, not_before) must be <= INT64_MAX and are refused
 * otherwise; query bounds above it are clamped, which is exact because no
 * stored value exceeds it.  Only meta u64 values are stored bit-cast, so that
 * any uint64_t round-trips.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/sqlschema.h"
#include "lib/thread.h"
#include "lib/walsync.h"
#include "store/store.h"

#define PREC_MIN 1
#define PREC_MAX 4
#define ALERT_KIND_MAX (sizeof(((struct store_alert *)0)->kind) - 1)
#define ALERT_DETAIL_MAX (sizeof(((struct store_alert *)0)->detail) - 1)
#define BUSY_TIMEOUT_MS 5000
/* Page cache per connection, KiB (SQLite's default is 2000). */
#define CACHE_KIB_STR "16384"
/*
 * Background checkpoints: the writer wakes the checkpointer once the log
 * holds CKPT_WAKE_PAGES pages (SQLite's own autocheckpoint threshold), and
 * checkpoints in its own commit, as without a checkpointer, past
 * CKPT_FORCE_PAGES (so the log stays bounded whatever happens).
 */
#define CKPT_WAKE_PAGES 1000
#define CKPT_FORCE_PAGES 16000

/*
 * The schema, one migration per element, applied in order, each in a
 * transaction of its own that also sets PRAGMA user_version to its index + 1.
 * Append only: never edit a migration that has shipped.
 */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  u64 INTEGER,"
	"  blob BLOB"
	") STRICT;"
	"CREATE TABLE env ("
	"  id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),"
	"  origin TEXT NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  env BLOB NOT NULL"
	") STRICT;"
	"CREATE TABLE queue ("
	"  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  link TEXT NOT NULL,"
	"  kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
	"  id BLOB NOT NULL CHECK (length(id) = 16),"
	"  signer TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  prec INTEGER NOT NULL CHECK (prec BETWEEN 1 AND 4),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  not_before INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (link, kind, id, signer, state)"
	") STRICT;"
	"CREATE INDEX queue_next ON queue (link, prec DESC, ord);"
	"CREATE TABLE receipt ("
	"  id BLOB NOT NULL CHECK (length(id) = 16),"
	"  signer TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  blob BLOB NOT NULL,"
	"  PRIMARY KEY (id, signer, state)"
	") STRICT;"
	"CREATE TABLE status ("
	"  id BLOB NOT NULL CHECK (length(id) = 16),"
	"  dest TEXT NOT NULL,"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 4),"
	"  time INTEGER NOT NULL,"
	"  PRIMARY KEY (id, dest)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE inbound ("
	"  origin TEXT NOT NULL,"
	"  seq INTEGER NOT NULL CHECK (seq >= 1),"
	"  id BLOB NOT NULL CHECK (length(id) = 16),"
	"  prec INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  PRIMARY KEY (origin, seq)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE in_marks ("
	"  origin TEXT PRIMARY KEY NOT NULL,"
	"  hwm INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE inbox ("
	"  id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),"
	"  origin TEXT NOT NULL,"
	"  prec INTEGER NOT NULL,"
	"  dtg INTEGER NOT NULL,"
	"  received INTEGER NOT NULL,"
	"  read_at INTEGER NOT NULL DEFAULT 0"
	") STRICT;"
	"CREATE INDEX inbox_order ON inbox (prec, received);"
	"CREATE TABLE alert ("
	"  n INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  origin TEXT NOT NULL,"
	"  detail TEXT NOT NULL"
	") STRICT;"
	"CREATE TABLE member ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  kind INTEGER NOT NULL CHECK (kind IN (1, 2, 3)),"
	"  post TEXT NOT NULL,"
	"  sign_pk BLOB NOT NULL CHECK (length(sign_pk) = 32),"
	"  enc_pk BLOB NOT NULL CHECK (length(enc_pk) = 32),"
	"  added INTEGER NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE enrol ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32),"
	"  expires INTEGER NOT NULL,"
	"  used INTEGER"
	") STRICT, WITHOUT ROWID;",
	/*
	 * 2: a telegram's precedence on its first hop (the highest over its
	 * addressees) joins its precedence for this post, for the accounting
	 * rule (docs/protocol.md).  Rows from before keep FLASH, which makes
	 * the reorder check ignore them rather than raise false alerts.
	 */
	"ALTER TABLE inbound ADD COLUMN top INTEGER NOT NULL DEFAULT 4"
	"  CHECK (top BETWEEN 1 AND 4);",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_SP_BEGIN, ST_SP_RELEASE, ST_SP_ROLLBACK,
	ST_META_GET, ST_META_SET_U64, ST_META_INCR, ST_META_SET_BLOB,
	ST_ENV_PUT, ST_ENV_GET, ST_ENV_SAME, ST_ENV_FIND,
	ST_Q_PUT, ST_Q_NEXT, ST_Q_DEL, ST_Q_COUNT, ST_Q_LAST, ST_Q_DEFER,
	ST_RCPT_PUT, ST_RCPT_GET,
	ST_STATUS_SET, ST_STATUS_GET,
	ST_IN_PUT, ST_IN_GET_ID, ST_IN_ABOVE, ST_IN_LATER_LOWER, ST_IN_MAX,
	ST_IN_OLDEST, ST_MARK_GET, ST_MARK_SET, ST_IN_ORIGINS,
	ST_INBOX_PUT, ST_INBOX_LIST, ST_INBOX_READ,
	ST_ALERT_ADD, ST_ALERT_LIST,
	ST_MEMBER_ADD, ST_MEMBER_GET, ST_MEMBER_REVOKE, ST_MEMBER_LIST,
	ST_ENROL_ADD, ST_ENROL_GET, ST_ENROL_MARK,
	ST_COUNT
};

static const char *const sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SP_BEGIN] = "SAVEPOINT store_op",
	[ST_SP_RELEASE] = "RELEASE store_op",
	[ST_SP_ROLLBACK] = "ROLLBACK TO store_op",

	[ST_META_GET] = "SELECT u64, blob FROM meta WHERE key = ?1",
	[ST_META_SET_U64] = "INSERT INTO meta (key, u64) VALUES (?1, ?2)"
	    " ON CONFLICT (key) DO UPDATE SET u64 = excluded.u64",
	/*
	 * u64 holds a uint64_t bit-cast to int64: add 1 modulo 2^64 without
	 * SQLite's overflow to REAL, and refuse (no row returned) to wrap
	 * UINT64_MAX (stored as -1) back to 0.
	 */
	[ST_META_INCR] = "INSERT INTO meta (key, u64) VALUES (?1, 1)"
	    " ON CONFLICT (key) DO UPDATE SET u64 = CASE"
	    "  WHEN u64 IS NULL THEN 1"
	    "  WHEN u64 = 9223372036854775807 THEN -9223372036854775807 - 1"
	    "  ELSE u64 + 1 END"
	    " WHERE u64 IS NULL OR u64 <> -1"
	    " RETURNING u64",
	[ST_META_SET_BLOB] = "INSERT INTO meta (key, blob) VALUES (?1, ?2)"
	    " ON CONFLICT (key) DO UPDATE SET blob = excluded.blob",

	[ST_ENV_PUT] = "INSERT INTO env (id, origin, time, env)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
	[ST_ENV_GET] = "SELECT env FROM env WHERE id = ?1",
	[ST_ENV_SAME] = "SELECT env = ?2 FROM env WHERE id = ?1",
	[ST_ENV_FIND] = "SELECT id FROM env WHERE id BETWEEN ?1 AND ?2"
	    " ORDER BY id LIMIT 2",

	[ST_Q_PUT] = "INSERT INTO queue"
	    " (link, kind, id, signer, state, prec, attempts, not_before)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
	    " ON CONFLICT (link, kind, id, signer, state) DO NOTHING",
	[ST_Q_NEXT] = "SELECT kind, id, signer, state, prec, ord, attempts,"
	    " not_before FROM queue WHERE link = ?1 AND not_before <= ?2"
	    " AND ord <= ?4 ORDER BY prec DESC, ord ASC LIMIT ?3",
	[ST_Q_DEL] = "DELETE FROM queue WHERE link = ?1 AND kind = ?2"
	    " AND id = ?3 AND signer = ?4 AND state = ?5",
	[ST_Q_COUNT] = "SELECT count(*) FROM queue WHERE link = ?1",
	/* AUTOINCREMENT's record of the greatest ord ever given */
	[ST_Q_LAST] = "SELECT seq FROM sqlite_sequence WHERE name = 'queue'",
	[ST_Q_DEFER] = "UPDATE queue SET attempts = ?6, not_before = ?7"
	    " WHERE link = ?1 AND kind = ?2 AND id = ?3 AND signer = ?4"
	    " AND state = ?5",

	[ST_RCPT_PUT] = "INSERT INTO receipt (id, signer, state, blob)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
	[ST_RCPT_GET] = "SELECT blob FROM receipt"
	    " WHERE id = ?1 AND signer = ?2 AND state = ?3",

	[ST_STATUS_SET] = "INSERT INTO status (id, dest, state, time)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id, dest) DO UPDATE"
	    " SET state = excluded.state, time = excluded.time"
	    " WHERE excluded.state > status.state",
	[ST_STATUS_GET] = "SELECT dest, state, time FROM status WHERE id = ?1"
	    " ORDER BY dest",

	[ST_IN_PUT] = "INSERT INTO inbound (origin, seq, id, prec, time, top)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT (origin, seq) DO NOTHING",
	[ST_IN_GET_ID] = "SELECT id FROM inbound WHERE origin = ?1 AND seq = ?2",
	[ST_IN_ABOVE] = "SELECT seq FROM inbound WHERE origin = ?1 AND seq > ?2"
	    " ORDER BY seq",
	[ST_IN_LATER_LOWER] = "SELECT min(seq) FROM inbound"
	    " WHERE origin = ?1 AND seq > ?2 AND prec <= ?3 AND top <= ?4",
	[ST_IN_MAX] = "SELECT max(seq) FROM inbound WHERE origin = ?1",
	[ST_IN_OLDEST] = "SELECT min(time) FROM inbound"
	    " WHERE origin = ?1 AND seq > ?2",
	[ST_MARK_GET] = "SELECT hwm FROM in_marks WHERE origin = ?1",
	[ST_MARK_SET] = "INSERT INTO in_marks (origin, hwm) VALUES (?1, ?2)"
	    " ON CONFLICT (origin) DO UPDATE SET hwm = max(hwm, excluded.hwm)",
	[ST_IN_ORIGINS] = "SELECT origin FROM in_marks ORDER BY origin LIMIT ?1",

	[ST_INBOX_PUT] = "INSERT INTO inbox"
	    " (id, origin, prec, dtg, received, read_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
	[ST_INBOX_LIST] = "SELECT id, origin, prec, dtg, received, read_at"
	    " FROM inbox ORDER BY prec DESC, received DESC, rowid DESC"
	    " LIMIT ?1",
	[ST_INBOX_READ] = "UPDATE inbox SET read_at = ?2"
	    " WHERE id = ?1 AND read_at = 0",

	[ST_ALERT_ADD] = "INSERT INTO alert (time, kind, origin, detail)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[ST_ALERT_LIST] = "SELECT n, time, kind, origin, detail FROM alert"
	    " WHERE n > ?1 ORDER BY n",

	[ST_MEMBER_ADD] = "INSERT INTO member"
	    " (name, kind, post, sign_pk, enc_pk, added, revoked)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO NOTHING",
	[ST_MEMBER_GET] = "SELECT name, kind, post, sign_pk, enc_pk, added,"
	    " revoked FROM member WHERE name = ?1",
	[ST_MEMBER_REVOKE] = "UPDATE member SET revoked ="
	    " CASE WHEN revoked = 0 THEN ?2 ELSE revoked END WHERE name = ?1",
	[ST_MEMBER_LIST] = "SELECT name, kind, post, sign_pk, enc_pk, added,"
	    " revoked FROM member ORDER BY name",

	[ST_ENROL_ADD] = "INSERT INTO enrol (name, hash, expires, used)"
	    " VALUES (?1, ?2, ?3, NULL) ON CONFLICT (name) DO UPDATE"
	    " SET hash = excluded.hash, expires = excluded.expires, used = NULL",
	[ST_ENROL_GET] = "SELECT hash, expires, used FROM enrol WHERE name = ?1",
	[ST_ENROL_MARK] = "UPDATE enrol SET used = ?2"
	    " WHERE name = ?1 AND used IS NULL",
};

/* The checkpointer thread and its own connection (store_checkpointer_start). */
struct ckpt {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sqlite3 *db;
	int wake, stop;
	unsigned long runs, busy;
};

struct store {
	sqlite3 *db;
	int version;
	sqlite3_stmt *st[ST_COUNT];
	struct ckpt *ck;
	struct walsync *ws;	/* store_sync_thread_start: the WAL's fsyncs */
	uint64_t commits;	/* without it: every commit is durable */
};

/* ---- helpers ------------------------------------------------------------ */

/* The database's last error as KERR_IO (or KERR_NOMEM), naming op. */
static int
dberr(struct store *s, struct kerr *e, const char *op)
{
	int rc = sqlite3_errcode(s->db);

	return kerr_set(e, rc == SQLITE_NOMEM ? KERR_NOMEM : KERR_IO,
	    "store: %s: %s", op, sqlite3_errmsg(s->db));
}

static int
corrupt(struct kerr *e, const char *op, const char *what)
{
	return kerr_set(e, KERR_IO, "store: %s: corrupt %s in the database",
	    op, what);
}

/* Ready for the next use: no snapshot kept, no caller memory referenced. */
static void
done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Step once: 1 for a row, 0 when done, else a negative KERR_*. */
static int
step(struct store *s, sqlite3_stmt *st, struct kerr *e, const char *op)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return dberr(s, e, op);
}

/* Run a statement without parameters or rows to completion. */
static int
exec_st(struct store *s, int id, struct kerr *e, const char *op)
{
	sqlite3_stmt *st = s->st[id];
	int r = step(s, st, e, op);

	done(st);
	return r < 0 ? r : 0;
}

/* Bind helpers return SQLite codes; callers OR them and test for non-zero. */
static int
b_text(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int
b_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	/* A NULL pointer would bind SQL NULL, not an empty blob. */
	return sqlite3_bind_blob64(st, i, n ? p : "", n, SQLITE_STATIC);
}

static int
b_int(sqlite3_stmt *st, int i, int64_t v)
{
	return sqlite3_bind_int64(st, i, v);
}

static int64_t
clamp_i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static int64_t
u64_to_i64(uint64_t v)
{
	if (v <= INT64_MAX)
		return (int64_t)v;
	return (int64_t)(v - (uint64_t)INT64_MAX - 1) + INT64_MIN;
}

static int
range_check(const char *what, uint64_t v, struct kerr *e)
{
	if (v > INT64_MAX)
		return kerr_set(e, KERR_INVALID,
		    "store: %s %llu is out of range (max 2^63-1)", what,
		    (unsigned long long)v);
	return 0;
}

/*
 * A name (node, person, link, meta key): NUL-terminated within
 * STORE_NAME_MAX bytes, valid UTF-8, and not empty unless may_be_empty.
 */
static int
name_check(const char *what, const char *v, int may_be_empty,
    struct kerr *e)
{
	size_t n;

	if (v == NULL)
		return kerr_set(e, KERR_INVALID, "store: %s is missing", what);
	n = strnlen(v, STORE_NAME_MAX + 1);
	if (n > STORE_NAME_MAX)
		return kerr_set(e, KERR_INVALID,
		    "store: %s is longer than %d bytes", what, STORE_NAME_MAX);
	if (n == 0 && !may_be_empty)
		return kerr_set(e, KERR_INVALID, "store: %s is empty", what);
	if (!utf8_valid((const uint8_t *)v, n))
		return kerr_set(e, KERR_INVALID,
		    "store: %s is not valid UTF-8", what);
	return 0;
}

static int
prec_check(uint8_t prec, struct kerr *e)
{
	if (prec < PREC_MIN || prec > PREC_MAX)
		return kerr_set(e, KERR_INVALID,
		    "store: precedence %u is not 1 (ROUTINE) .. 4 (FLASH)",
		    prec);
	return 0;
}

static int
blob_check(const char *what, const uint8_t *p, size_t len, struct kerr *e)
{
	if (len > STORE_BLOB_MAX)
		return kerr_set(e, KERR_TOOBIG,
		    "store: %s of %zu bytes is over the %u-byte limit", what,
		    len, STORE_BLOB_MAX);
	if (p == NULL && len != 0)
		return kerr_set(e, KERR_INVALID, "store: %s is missing", what);
	return 0;
}

/* Copy a TEXT column into dst[dstsz] (NUL-terminated). */
static int
col_text(sqlite3_stmt *st, int i, char *dst, size_t dstsz, struct kerr *e,
    const char *op)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (t == NULL || n < 0 || (size_t)n >= dstsz)
		return corrupt(e, op, sqlite3_column_name(st, i));
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return 0;
}

/* Copy a BLOB column of exactly len bytes. */
static int
col_fixed(sqlite3_stmt *st, int i, uint8_t *dst, size_t len, struct kerr *e,
    const char *op)
{
	const void *p = sqlite3_column_blob(st, i);

	if (p == NULL || (size_t)sqlite3_column_bytes(st, i) != len)
		return corrupt(e, op, sqlite3_column_name(st, i));
	memcpy(dst, p, len);
	return 0;
}

/* Append a BLOB column to out (whose max is the caller's cap). */
static int
col_buf(sqlite3_stmt *st, int i, struct buf *out, struct kerr *e,
    const char *op)
{
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);
	int r;

	if (n < 0 || (p == NULL && n != 0))
		return corrupt(e, op, sqlite3_column_name(st, i));
	if ((r = buf_put(out, p, (size_t)n)) != 0)
		return kerr_set(e, r, "store: %s: %d bytes do not fit the "
		    "output buffer (max %zu)", op, n, out->max);
	return 0;
}

static uint64_t
col_u64(sqlite3_stmt *st, int i)
{
	return (uint64_t)sqlite3_column_int64(st, i);
}

/* Make room for element n of an array of elements of size sz. */
static int
grow(void **p, size_t *cap, size_t n, size_t sz, struct kerr *e)
{
	size_t ncap;
	void *np;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > SIZE_MAX / sz)
		return kerr_set(e, KERR_NOMEM, "store: result too large");
	if ((np = realloc(*p, ncap * sz)) == NULL)
		return kerr_set(e, KERR_NOMEM, "store: out of memory");
	*p = np;
	*cap = ncap;
	return 0;
}

/*
 * Functions made of several statements run atomically: in a transaction of
 * their own when called in autocommit mode, else in a savepoint of the
 * caller's transaction, so a failure halfway leaves that transaction as it
 * was.
 */
static int
op_begin(struct store *s, int *own, struct kerr *e)
{
	*own = sqlite3_get_autocommit(s->db);
	return exec_st(s, *own ? ST_BEGIN : ST_SP_BEGIN, e, "begin");
}

static int
op_end(struct store *s, int own, int r, struct kerr *e)
{
	if (r == 0 &&
	    (r = exec_st(s, own ? ST_COMMIT : ST_SP_RELEASE, e, "commit")) == 0)
		return 0;
	if (own) {
		if (!sqlite3_get_autocommit(s->db))
			(void)exec_st(s, ST_ROLLBACK, NULL, "rollback");
	} else {
		(void)exec_st(s, ST_SP_ROLLBACK, NULL, "rollback");
		(void)exec_st(s, ST_SP_RELEASE, NULL, "rollback");
	}
	return r;
}

/* ---- open, close, migrations ---------------------------------------------- */

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

/* Bring the schema to SCHEMA_VERSION (lib/sqlschema.h). */
static int
migrate(struct store *s, const char *path, struct kerr *e)
{
	return sql_migrate(s->db, migrations, SCHEMA_VERSION, path,
	    "store: migrate", &s->version, e);
}

static void ckpt_stop(struct store *s);

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	walsync_stop(s->ws);	/* syncs what was committed */
	ckpt_stop(s);
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
	if ((r = migrate(s, path, e)) != 0)
		goto fail;
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, sql[i], -1,
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

/* ---- background checkpoints ------------------------------------------------ */

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

static void
ckpt_stop(struct store *s)
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

void
store_rollback(struct store *s)
{
	/* "cannot rollback - no transaction is active" is not an error here. */
	if (s != NULL && !sqlite3_get_autocommit(s->db))
		(void)exec_st(s, ST_ROLLBACK, NULL, "rollback");
}

/* ---- meta ----------------------------------------------------------------- */

int
store_meta_get_u64(struct store *s, const char *key, uint64_t *v, int *found,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_META_GET];
	int r;

	*v = 0;
	*found = 0;
	if ((r = name_check("meta key", key, 0, e)) != 0)
		return r;
	if (b_text(st, 1, key) != SQLITE_OK) {
		r = dberr(s, e, "meta get");
		goto out;
	}
	if ((r = step(s, st, e, "meta get")) == 1) {
		r = 0;
		if (sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
			*v = col_u64(st, 0);
			*found = 1;
		}
	}
out:
	done(st);
	return r;
}

int
store_meta_set_u64(struct store *s, const char *key, uint64_t v,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_META_SET_U64];
	int r;

	if ((r = name_check("meta key", key, 0, e)) != 0)
		return r;
	if ((b_text(st, 1, key) | b_int(st, 2, u64_to_i64(v))) != SQLITE_OK)
		r = dberr(s, e, "meta set");
	else if ((r = step(s, st, e, "meta set")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_meta_incr(struct store *s, const char *key, uint64_t *v,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_META_INCR];
	int r;

	*v = 0;
	if ((r = name_check("meta key", key, 0, e)) != 0)
		return r;
	if (b_text(st, 1, key) != SQLITE_OK) {
		r = dberr(s, e, "meta incr");
		goto out;
	}
	if ((r = step(s, st, e, "meta incr")) == 1) {
		*v = col_u64(st, 0);
		r = 0;
	} else if (r == 0)
		r = kerr_set(e, KERR_TOOBIG, "store: counter %s is at its "
		    "maximum", key);
out:
	done(st);
	return r;
}

int
store_meta_get_blob(struct store *s, const char *key, struct buf *out,
    int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_META_GET];
	int r;

	out->len = 0;
	*found = 0;
	if ((r = name_check("meta key", key, 0, e)) != 0)
		return r;
	if (b_text(st, 1, key) != SQLITE_OK) {
		r = dberr(s, e, "meta get");
		goto out;
	}
	if ((r = step(s, st, e, "meta get")) == 1) {
		r = 0;
		if (sqlite3_column_type(st, 1) == SQLITE_BLOB) {
			if ((r = col_buf(st, 1, out, e, "meta get")) == 0)
				*found = 1;
		}
	}
out:
	done(st);
	return r;
}

int
store_meta_set_blob(struct store *s, const char *key, const uint8_t *p,
    size_t len, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_META_SET_BLOB];
	int r;

	if ((r = name_check("meta key", key, 0, e)) != 0 ||
	    (r = blob_check("meta value", p, len, e)) != 0)
		return r;
	if ((b_text(st, 1, key) | b_blob(st, 2, p, len)) != SQLITE_OK)
		r = dberr(s, e, "meta set");
	else if ((r = step(s, st, e, "meta set")) > 0)
		r = 0;
	done(st);
	return r;
}

/* ---- envelopes ------------------------------------------------------------ */

int
store_env_put(struct store *s, const uint8_t id[static STORE_ID],
    const char *origin, uint64_t time, const uint8_t *env, size_t len,
    int *inserted, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ENV_PUT];
	int r;

	*inserted = 0;
	if ((r = name_check("origin", origin, 0, e)) != 0 ||
	    (r = range_check("time", time, e)) != 0 ||
	    (r = blob_check("envelope", env, len, e)) != 0)
		return r;
	if ((b_blob(st, 1, id, STORE_ID) | b_text(st, 2, origin) |
	    b_int(st, 3, (int64_t)time) | b_blob(st, 4, env, len)) !=
	    SQLITE_OK) {
		r = dberr(s, e, "envelope put");
		done(st);
		return r;
	}
	r = step(s, st, e, "envelope put");
	if (r == 0 && sqlite3_changes(s->db) == 1)
		*inserted = 1;
	done(st);
	if (r < 0 || *inserted)
		return r < 0 ? r : 0;

	/* Present already: rows are never changed, so no transaction is
	 * needed to compare. */
	st = s->st[ST_ENV_SAME];
	if ((b_blob(st, 1, id, STORE_ID) | b_blob(st, 2, env, len)) !=
	    SQLITE_OK)
		r = dberr(s, e, "envelope put");
	else if ((r = step(s, st, e, "envelope put")) == 1)
		r = sqlite3_column_int(st, 0) ? 0 : kerr_set(e, KERR_EXISTS,
		    "store: envelope put: a different envelope with this id "
		    "is stored");
	else if (r == 0)
		r = kerr_set(e, KERR_IO, "store: envelope put: the envelope "
		    "vanished");
	done(st);
	return r;
}

int
store_env_get(struct store *s, const uint8_t id[static STORE_ID],
    struct buf *out, int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ENV_GET];
	int r;

	out->len = 0;
	*found = 0;
	if (b_blob(st, 1, id, STORE_ID) != SQLITE_OK)
		r = dberr(s, e, "envelope get");
	else if ((r = step(s, st, e, "envelope get")) == 1 &&
	    (r = col_buf(st, 0, out, e, "envelope get")) == 0)
		*found = 1;
	done(st);
	return r;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
store_env_find(struct store *s, const char *hex_prefix,
    uint8_t id[static STORE_ID], int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ENV_FIND];
	uint8_t lo[STORE_ID], hi[STORE_ID];
	size_t n;
	int r;

	memset(id, 0, STORE_ID);
	*found = 0;
	if (hex_prefix == NULL)
		return kerr_set(e, KERR_INVALID, "store: no id prefix");
	n = strnlen(hex_prefix, 2 * STORE_ID + 1);
	if (n < 4 || n > 2 * STORE_ID)
		return kerr_set(e, KERR_INVALID, "store: id prefix \"%.*s\" "
		    "must have 4 to %d hex digits", (int)n, hex_prefix,
		    2 * STORE_ID);
	/* The ids starting with the prefix are exactly those in [lo, hi]. */
	memset(lo, 0x00, sizeof(lo));
	memset(hi, 0xff, sizeof(hi));
	for (size_t i = 0; i < n; i++) {
		int v = hexval(hex_prefix[i]);

		if (v < 0)
			return kerr_set(e, KERR_INVALID, "store: id prefix "
			    "\"%s\": character %zu is not a hex digit",
			    hex_prefix, i + 1);
		if (i % 2 == 0) {
			lo[i / 2] = (uint8_t)(v << 4);
			hi[i / 2] = (uint8_t)(v << 4 | 0x0f);
		} else {
			lo[i / 2] |= (uint8_t)v;
			hi[i / 2] = (uint8_t)((hi[i / 2] & 0xf0) | v);
		}
	}
	if ((b_blob(st, 1, lo, STORE_ID) | b_blob(st, 2, hi, STORE_ID)) !=
	    SQLITE_OK) {
		r = dberr(s, e, "envelope find");
		goto out;
	}
	while ((r = step(s, st, e, "envelope find")) == 1) {
		if (++*found == 1 &&
		    (r = col_fixed(st, 0, id, STORE_ID, e, "envelope find")))
			goto out;
	}
	if (*found > 1)
		memset(id, 0, STORE_ID);
out:
	if (r < 0) {
		*found = 0;
		memset(id, 0, STORE_ID);
	}
	done(st);
	return r;
}

/* ---- queues --------------------------------------------------------------- */

/*
 * The idempotency key's (signer, state): a receipt's own, or ("", 0) for a
 * telegram whatever its by/state fields hold.
 */
static int
qkey(const struct store_qitem *it, const char **by, int *state,
    struct kerr *e)
{
	int r;

	*by = "";
	*state = 0;
	if (it->kind == STORE_Q_TELEGRAM)
		return 0;
	if (it->kind != STORE_Q_RECEIPT)
		return kerr_set(e, KERR_INVALID, "store: queue item kind %u "
		    "is neither telegram (1) nor receipt (2)", it->kind);
	if ((r = name_check("receipt signer", it->by, 0, e)) != 0)
		return r;
	*by = it->by;
	*state = it->state;
	return 0;
}

/* Bind ?1..?5: link, kind, id, signer, state. */
static int
bind_qkey(sqlite3_stmt *st, const char *link, const struct store_qitem *it,
    const char *by, int state)
{
	return b_text(st, 1, link) | b_int(st, 2, it->kind) |
	    b_blob(st, 3, it->id, STORE_ID) | b_text(st, 4, by) |
	    b_int(st, 5, state);
}

int
store_q_put(struct store *s, const char *link, const struct store_qitem *it,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_PUT];
	const char *by;
	int state, r;

	if ((r = name_check("link", link, 0, e)) != 0 ||
	    (r = qkey(it, &by, &state, e)) != 0 ||
	    (r = prec_check(it->prec, e)) != 0 ||
	    (r = range_check("not_before", it->not_before, e)) != 0)
		return r;
	if ((bind_qkey(st, link, it, by, state) | b_int(st, 6, it->prec) |
	    b_int(st, 7, it->attempts) |
	    b_int(st, 8, (int64_t)it->not_before)) != SQLITE_OK)
		r = dberr(s, e, "queue put");
	else if ((r = step(s, st, e, "queue put")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_q_next(struct store *s, const char *link, uint64_t now_ms,
    uint64_t max_ord, struct store_qitem *items, size_t max, size_t *n,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_NEXT];
	int r;

	*n = 0;
	if ((r = name_check("link", link, 0, e)) != 0)
		return r;
	if (max == 0)
		return 0;
	if ((b_text(st, 1, link) | b_int(st, 2, clamp_i64(now_ms)) |
	    b_int(st, 3, clamp_i64(max)) | b_int(st, 4, clamp_i64(max_ord))) !=
	    SQLITE_OK) {
		r = dberr(s, e, "queue next");
		goto out;
	}
	while (*n < max && (r = step(s, st, e, "queue next")) == 1) {
		struct store_qitem *it = &items[*n];

		memset(it, 0, sizeof(*it));
		it->kind = (uint8_t)sqlite3_column_int(st, 0);
		if ((r = col_fixed(st, 1, it->id, STORE_ID, e,
		    "queue next")) != 0 ||
		    (r = col_text(st, 2, it->by, sizeof(it->by), e,
		    "queue next")) != 0)
			goto out;
		it->state = (uint8_t)sqlite3_column_int(st, 3);
		it->prec = (uint8_t)sqlite3_column_int(st, 4);
		it->ord = col_u64(st, 5);
		it->attempts = (uint32_t)sqlite3_column_int64(st, 6);
		it->not_before = col_u64(st, 7);
		++*n;
	}
	if (r > 0)
		r = 0;
out:
	if (r < 0)
		*n = 0;
	done(st);
	return r;
}

int
store_q_del(struct store *s, const char *link, const struct store_qitem *it,
    int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_DEL];
	const char *by;
	int state, r;

	*found = 0;
	if ((r = name_check("link", link, 0, e)) != 0 ||
	    (r = qkey(it, &by, &state, e)) != 0)
		return r;
	if (bind_qkey(st, link, it, by, state) != SQLITE_OK)
		r = dberr(s, e, "queue delete");
	else if ((r = step(s, st, e, "queue delete")) == 0)
		*found = sqlite3_changes(s->db) > 0;
	done(st);
	return r < 0 ? r : 0;
}

int
store_q_last_ord(struct store *s, uint64_t *ord, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_LAST];
	int r;

	*ord = 0;
	if ((r = step(s, st, e, "queue last")) == 1)
		*ord = col_u64(st, 0);
	done(st);
	return r < 0 ? r : 0;
}

int
store_q_count(struct store *s, const char *link, uint64_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_COUNT];
	int r;

	*n = 0;
	if ((r = name_check("link", link, 0, e)) != 0)
		return r;
	if (b_text(st, 1, link) != SQLITE_OK)
		r = dberr(s, e, "queue count");
	else if ((r = step(s, st, e, "queue count")) == 1) {
		*n = col_u64(st, 0);
		r = 0;
	}
	done(st);
	return r;
}

int
store_q_defer(struct store *s, const char *link,
    const struct store_qitem *it, uint32_t attempts, uint64_t not_before,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_DEFER];
	const char *by;
	int state, r;

	if ((r = name_check("link", link, 0, e)) != 0 ||
	    (r = qkey(it, &by, &state, e)) != 0 ||
	    (r = range_check("not_before", not_before, e)) != 0)
		return r;
	if ((bind_qkey(st, link, it, by, state) | b_int(st, 6, attempts) |
	    b_int(st, 7, (int64_t)not_before)) != SQLITE_OK)
		r = dberr(s, e, "queue defer");
	else if ((r = step(s, st, e, "queue defer")) > 0)
		r = 0;
	done(st);
	return r;
}

/* ---- receipts ------------------------------------------------------------- */

int
store_receipt_put(struct store *s, const uint8_t id[static STORE_ID],
    const char *by, uint8_t state, const uint8_t *blob, size_t len,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_RCPT_PUT];
	int r;

	if ((r = name_check("receipt signer", by, 0, e)) != 0 ||
	    (r = blob_check("receipt", blob, len, e)) != 0)
		return r;
	if ((b_blob(st, 1, id, STORE_ID) | b_text(st, 2, by) |
	    b_int(st, 3, state) | b_blob(st, 4, blob, len)) != SQLITE_OK)
		r = dberr(s, e, "receipt put");
	else if ((r = step(s, st, e, "receipt put")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_receipt_get(struct store *s, const uint8_t id[static STORE_ID],
    const char *by, uint8_t state, struct buf *out, int *found,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_RCPT_GET];
	int r;

	out->len = 0;
	*found = 0;
	if ((r = name_check("receipt signer", by, 0, e)) != 0)
		return r;
	if ((b_blob(st, 1, id, STORE_ID) | b_text(st, 2, by) |
	    b_int(st, 3, state)) != SQLITE_OK)
		r = dberr(s, e, "receipt get");
	else if ((r = step(s, st, e, "receipt get")) == 1 &&
	    (r = col_buf(st, 0, out, e, "receipt get")) == 0)
		*found = 1;
	done(st);
	return r;
}

/* ---- delivery status ------------------------------------------------------ */

int
store_status_set(struct store *s, const uint8_t id[static STORE_ID],
    const char *dest, uint8_t state, uint64_t time, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_STATUS_SET];
	int r;

	if ((r = name_check("destination", dest, 0, e)) != 0 ||
	    (r = range_check("time", time, e)) != 0)
		return r;
	if (state < STORE_QUEUED || state > STORE_READ)
		return kerr_set(e, KERR_INVALID, "store: delivery state %u is "
		    "not 1 (queued) .. 4 (read)", state);
	if ((b_blob(st, 1, id, STORE_ID) | b_text(st, 2, dest) |
	    b_int(st, 3, state) | b_int(st, 4, (int64_t)time)) != SQLITE_OK)
		r = dberr(s, e, "status set");
	else if ((r = step(s, st, e, "status set")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_status_get(struct store *s, const uint8_t id[static STORE_ID],
    struct store_status **out, size_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_STATUS_GET];
	struct store_status *a = NULL;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (b_blob(st, 1, id, STORE_ID) != SQLITE_OK) {
		r = dberr(s, e, "status get");
		goto out;
	}
	while ((r = step(s, st, e, "status get")) == 1) {
		if ((r = grow((void **)&a, &cap, *n, sizeof(*a), e)) != 0)
			goto out;
		memset(&a[*n], 0, sizeof(a[*n]));
		if ((r = col_text(st, 0, a[*n].dest, sizeof(a[*n].dest), e,
		    "status get")) != 0)
			goto out;
		a[*n].state = (uint8_t)sqlite3_column_int(st, 1);
		a[*n].time = col_u64(st, 2);
		++*n;
	}
out:
	done(st);
	if (r < 0) {
		free(a);
		*n = 0;
		return r;
	}
	*out = a;
	return 0;
}

/* ---- telegraphic accounting ----------------------------------------------- */

static int
mark_get(struct store *s, const char *origin, uint64_t *hwm, struct kerr *e,
    const char *op)
{
	sqlite3_stmt *st = s->st[ST_MARK_GET];
	int r;

	*hwm = 0;
	if (b_text(st, 1, origin) != SQLITE_OK)
		r = dberr(s, e, op);
	else if ((r = step(s, st, e, op)) == 1) {
		*hwm = col_u64(st, 0);
		r = 0;
	}
	done(st);
	return r;
}

/*
 * in_marks keeps each origin's high-water mark so that in_marks and
 * in_missing never scan history.  After an insert, walk the seqs present
 * above the old mark while they are consecutive.  Each row is walked over
 * once in its life (plus one probe per insert), so the cost is amortised
 * O(log n) per telegram however out of order they come.  The walk starts
 * at the stored mark, not at the new seq, so a stale mark heals itself.
 */
static int
in_advance(struct store *s, const char *origin, struct kerr *e)
{
	sqlite3_stmt *st;
	uint64_t h;
	int r;

	if ((r = mark_get(s, origin, &h, e, "accounting put")) != 0)
		return r;
	st = s->st[ST_IN_ABOVE];
	if ((b_text(st, 1, origin) | b_int(st, 2, (int64_t)h)) != SQLITE_OK)
		r = dberr(s, e, "accounting put");
	else {
		while ((r = step(s, st, e, "accounting put")) == 1 &&
		    col_u64(st, 0) == h + 1)
			h++;
	}
	done(st);
	if (r < 0)
		return r;
	st = s->st[ST_MARK_SET];
	if ((b_text(st, 1, origin) | b_int(st, 2, (int64_t)h)) != SQLITE_OK)
		r = dberr(s, e, "accounting put");
	else if ((r = step(s, st, e, "accounting put")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_in_put(struct store *s, const char *origin, uint64_t seq,
    const uint8_t id[static STORE_ID], uint8_t prec, uint8_t top,
    uint64_t time, int *dup, uint8_t prev_id[static STORE_ID], struct kerr *e)
{
	sqlite3_stmt *st;
	int own, r, changed = 0;

	*dup = 0;
	memset(prev_id, 0, STORE_ID);
	if ((r = name_check("origin", origin, 0, e)) != 0 ||
	    (r = prec_check(prec, e)) != 0 ||
	    (r = prec_check(top, e)) != 0 ||
	    (r = range_check("seq", seq, e)) != 0 ||
	    (r = range_check("time", time, e)) != 0)
		return r;
	if (seq == 0)
		return kerr_set(e, KERR_INVALID, "store: seq 0 from %s: "
		    "sequence numbers start at 1", origin);
	if ((r = op_begin(s, &own, e)) != 0)
		return r;

	st = s->st[ST_IN_PUT];
	if ((b_text(st, 1, origin) | b_int(st, 2, (int64_t)seq) |
	    b_blob(st, 3, id, STORE_ID) | b_int(st, 4, prec) |
	    b_int(st, 5, (int64_t)time) | b_int(st, 6, top)) != SQLITE_OK)
		r = dberr(s, e, "accounting put");
	else if ((r = step(s, st, e, "accounting put")) == 0)
		changed = sqlite3_changes(s->db) > 0;
	done(st);
	if (r < 0)
		goto out;

	if (changed) {
		r = in_advance(s, origin, e);
		goto out;
	}
	st = s->st[ST_IN_GET_ID];
	if ((b_text(st, 1, origin) | b_int(st, 2, (int64_t)seq)) != SQLITE_OK)
		r = dberr(s, e, "accounting put");
	else if ((r = step(s, st, e, "accounting put")) == 1) {
		if ((r = col_fixed(st, 0, prev_id, STORE_ID, e,
		    "accounting put")) == 0)
			*dup = 1;
	} else if (r == 0)
		r = kerr_set(e, KERR_IO, "store: accounting put: seq %llu "
		    "from %s vanished", (unsigned long long)seq, origin);
	done(st);
out:
	r = op_end(s, own, r, e);
	if (r != 0) {
		*dup = 0;
		memset(prev_id, 0, STORE_ID);
	}
	return r;
}

int
store_in_later_lower(struct store *s, const char *origin, uint64_t after,
    uint8_t prec, uint8_t top, uint64_t *seq, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_IN_LATER_LOWER];
	int r;

	*seq = 0;
	if ((r = name_check("origin", origin, 0, e)) != 0)
		return r;
	if ((b_text(st, 1, origin) | b_int(st, 2, clamp_i64(after)) |
	    b_int(st, 3, prec) | b_int(st, 4, top)) != SQLITE_OK)
		r = dberr(s, e, "accounting later_lower");
	else if ((r = step(s, st, e, "accounting later_lower")) == 1) {
		*seq = col_u64(st, 0);	/* NULL (none) reads as 0 */
		r = 0;
	}
	done(st);
	return r;
}

/* One integer from a one-row aggregate over (origin, bound). */
static int
in_agg(struct store *s, int id, const char *origin, uint64_t bound,
    uint64_t *v, struct kerr *e)
{
	sqlite3_stmt *st = s->st[id];
	int r;

	*v = 0;
	if ((b_text(st, 1, origin) |
	    (id == ST_IN_OLDEST ? b_int(st, 2, (int64_t)bound) : 0)) !=
	    SQLITE_OK)
		r = dberr(s, e, "accounting marks");
	else if ((r = step(s, st, e, "accounting marks")) == 1) {
		*v = col_u64(st, 0);
		r = 0;
	}
	done(st);
	return r;
}

int
store_in_marks(struct store *s, const char *origin, uint64_t *hwm,
    uint64_t *max, uint64_t *oldest_above, struct kerr *e)
{
	int r;

	*hwm = *max = *oldest_above = 0;
	if ((r = name_check("origin", origin, 0, e)) != 0)
		return r;
	if ((r = mark_get(s, origin, hwm, e, "accounting marks")) != 0 ||
	    (r = in_agg(s, ST_IN_MAX, origin, 0, max, e)) != 0 ||
	    (r = in_agg(s, ST_IN_OLDEST, origin, *hwm, oldest_above, e)) != 0)
		*hwm = *max = *oldest_above = 0;
	return r;
}

int
store_in_missing(struct store *s, const char *origin, uint64_t *missing,
    size_t n_max, size_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_IN_ABOVE];
	uint64_t prev;
	int r;

	*n = 0;
	if ((r = name_check("origin", origin, 0, e)) != 0)
		return r;
	if (n_max == 0)
		return 0;
	if ((r = mark_get(s, origin, &prev, e, "accounting missing")) != 0)
		return r;
	/* Walk the seqs present above hwm; emit the holes between them. */
	if ((b_text(st, 1, origin) | b_int(st, 2, (int64_t)prev)) !=
	    SQLITE_OK) {
		r = dberr(s, e, "accounting missing");
		goto out;
	}
	while (*n < n_max && (r = step(s, st, e, "accounting missing")) == 1) {
		uint64_t seq = col_u64(st, 0);

		for (uint64_t m = prev + 1; m < seq && *n < n_max; m++)
			missing[(*n)++] = m;
		prev = seq;
	}
	if (r > 0)
		r = 0;
out:
	if (r < 0)
		*n = 0;
	done(st);
	return r;
}

int
store_in_origins(struct store *s, char (*names)[STORE_NAME_MAX + 1],
    size_t max, size_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_IN_ORIGINS];
	int r = 0;

	*n = 0;
	if (max == 0)
		return 0;
	if (b_int(st, 1, clamp_i64(max)) != SQLITE_OK) {
		r = dberr(s, e, "accounting origins");
		goto out;
	}
	while (*n < max && (r = step(s, st, e, "accounting origins")) == 1) {
		if ((r = col_text(st, 0, names[*n], sizeof(names[*n]), e,
		    "accounting origins")) != 0)
			goto out;
		++*n;
	}
	if (r > 0)
		r = 0;
out:
	if (r < 0)
		*n = 0;
	done(st);
	return r;
}

/* ---- inbox ---------------------------------------------------------------- */

int
store_inbox_put(struct store *s, const struct store_inbox *it,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_INBOX_PUT];
	int r;

	if ((r = name_check("origin", it->origin, 0, e)) != 0 ||
	    (r = prec_check(it->prec, e)) != 0 ||
	    (r = range_check("dtg", it->dtg, e)) != 0 ||
	    (r = range_check("received", it->received, e)) != 0 ||
	    (r = range_check("read_at", it->read_at, e)) != 0)
		return r;
	if ((b_blob(st, 1, it->id, STORE_ID) | b_text(st, 2, it->origin) |
	    b_int(st, 3, it->prec) | b_int(st, 4, (int64_t)it->dtg) |
	    b_int(st, 5, (int64_t)it->received) |
	    b_int(st, 6, (int64_t)it->read_at)) != SQLITE_OK)
		r = dberr(s, e, "inbox put");
	else if ((r = step(s, st, e, "inbox put")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_inbox_list(struct store *s, size_t max, struct store_inbox **out,
    size_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_INBOX_LIST];
	struct store_inbox *a = NULL;
	size_t cap = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (max == 0)
		return 0;
	if (b_int(st, 1, clamp_i64(max)) != SQLITE_OK) {
		r = dberr(s, e, "inbox list");
		goto out;
	}
	while (*n < max && (r = step(s, st, e, "inbox list")) == 1) {
		struct store_inbox *it;

		if ((r = grow((void **)&a, &cap, *n, sizeof(*a), e)) != 0)
			goto out;
		it = &a[*n];
		memset(it, 0, sizeof(*it));
		if ((r = col_fixed(st, 0, it->id, STORE_ID, e,
		    "inbox list")) != 0 ||
		    (r = col_text(st, 1, it->origin, sizeof(it->origin), e,
		    "inbox list")) != 0)
			goto out;
		it->prec = (uint8_t)sqlite3_column_int(st, 2);
		it->dtg = col_u64(st, 3);
		it->received = col_u64(st, 4);
		it->read_at = col_u64(st, 5);
		++*n;
	}
out:
	done(st);
	if (r < 0) {
		free(a);
		*n = 0;
		return r;
	}
	*out = a;
	return 0;
}

int
store_inbox_mark_read(struct store *s, const uint8_t id[static STORE_ID],
    uint64_t time, int *first, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_INBOX_READ];
	int r;

	*first = 0;
	if ((r = range_check("time", time, e)) != 0)
		return r;
	if (time == 0)
		return kerr_set(e, KERR_INVALID, "store: read time 0 means "
		    "unread");
	if ((b_blob(st, 1, id, STORE_ID) | b_int(st, 2, (int64_t)time)) !=
	    SQLITE_OK)
		r = dberr(s, e, "inbox mark read");
	else if ((r = step(s, st, e, "inbox mark read")) >= 0) {
		*first = sqlite3_changes(s->db) > 0;
		r = 0;
	}
	done(st);
	return r;
}

/* ---- alerts --------------------------------------------------------------- */

/*
 * Copy detail into dst (ALERT_DETAIL_MAX bytes at most), cut at a character
 * boundary, with invalid UTF-8 and control characters replaced by '?': an
 * alert must be recorded even when the text that triggered it is garbage,
 * and must be safe to print on an operator's terminal.
 */
static void
detail_clean(char dst[static ALERT_DETAIL_MAX + 1], const char *src)
{
	const uint8_t *p = (const uint8_t *)src;
	size_t len = strlen(src), i = 0, o = 0;

	while (i < len) {
		size_t k = 1;

		if (p[i] >= 0x80) {
			/* the shortest valid sequence starting here, if any */
			while (k <= 4 && (i + k > len || !utf8_valid(p + i, k)))
				k++;
			if (k > 4 || i + k > len)
				k = 0;
		} else if (p[i] < 0x20 || p[i] == 0x7f)
			k = 0;
		if (k == 0) {
			if (o + 1 > ALERT_DETAIL_MAX)
				break;
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + k > ALERT_DETAIL_MAX)
			break;
		memcpy(dst + o, p + i, k);
		o += k;
		i += k;
	}
	dst[o] = '\0';
}

int
store_alert_add(struct store *s, const char *kind, const char *origin,
    const char *detail, uint64_t time, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ALERT_ADD];
	char d[ALERT_DETAIL_MAX + 1];
	size_t kn;
	int r;

	if (kind == NULL || (kn = strnlen(kind, ALERT_KIND_MAX + 1)) == 0 ||
	    kn > ALERT_KIND_MAX || !utf8_valid((const uint8_t *)kind, kn))
		return kerr_set(e, KERR_INVALID, "store: alert kind must be "
		    "1 to %zu bytes of UTF-8", ALERT_KIND_MAX);
	if (origin == NULL)
		origin = "";
	if ((r = name_check("alert origin", origin, 1, e)) != 0 ||
	    (r = range_check("time", time, e)) != 0)
		return r;
	detail_clean(d, detail != NULL ? detail : "");
	if ((b_int(st, 1, (int64_t)time) | b_text(st, 2, kind) |
	    b_text(st, 3, origin) | b_text(st, 4, d)) != SQLITE_OK)
		r = dberr(s, e, "alert add");
	else if ((r = step(s, st, e, "alert add")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_alert_list(struct store *s, uint64_t after, struct store_alert **out,
    size_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ALERT_LIST];
	struct store_alert *a = NULL;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (b_int(st, 1, clamp_i64(after)) != SQLITE_OK) {
		r = dberr(s, e, "alert list");
		goto out;
	}
	while ((r = step(s, st, e, "alert list")) == 1) {
		struct store_alert *al;

		if ((r = grow((void **)&a, &cap, *n, sizeof(*a), e)) != 0)
			goto out;
		al = &a[*n];
		memset(al, 0, sizeof(*al));
		al->n = col_u64(st, 0);
		al->time = col_u64(st, 1);
		if ((r = col_text(st, 2, al->kind, sizeof(al->kind), e,
		    "alert list")) != 0 ||
		    (r = col_text(st, 3, al->origin, sizeof(al->origin), e,
		    "alert list")) != 0 ||
		    (r = col_text(st, 4, al->detail, sizeof(al->detail), e,
		    "alert list")) != 0)
			goto out;
		++*n;
	}
out:
	done(st);
	if (r < 0) {
		free(a);
		*n = 0;
		return r;
	}
	*out = a;
	return 0;
}

/* ---- directory ------------------------------------------------------------ */

static int
member_row(sqlite3_stmt *st, struct store_member *m, struct kerr *e,
    const char *op)
{
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = col_text(st, 0, m->name, sizeof(m->name), e, op)) != 0 ||
	    (r = col_text(st, 2, m->post, sizeof(m->post), e, op)) != 0 ||
	    (r = col_fixed(st, 3, m->sign_pk, sizeof(m->sign_pk), e, op)) ||
	    (r = col_fixed(st, 4, m->enc_pk, sizeof(m->enc_pk), e, op)))
		return r;
	m->kind = (uint8_t)sqlite3_column_int(st, 1);
	m->added = col_u64(st, 5);
	m->revoked = col_u64(st, 6);
	return 0;
}

int
store_member_add(struct store *s, const struct store_member *m,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_MEMBER_ADD];
	int r;

	if ((r = name_check("member name", m->name, 0, e)) != 0 ||
	    (r = name_check("member post", m->post,
	    m->kind != STORE_PERSON, e)) != 0 ||
	    (r = range_check("added", m->added, e)) != 0 ||
	    (r = range_check("revoked", m->revoked, e)) != 0)
		return r;
	if (m->kind < STORE_HQ || m->kind > STORE_PERSON)
		return kerr_set(e, KERR_INVALID, "store: member %s: kind %u "
		    "is not HQ, post or person", m->name, m->kind);
	if (m->kind != STORE_PERSON && m->post[0] != '\0')
		return kerr_set(e, KERR_INVALID, "store: member %s: only a "
		    "person belongs to a post", m->name);
	if ((b_text(st, 1, m->name) | b_int(st, 2, m->kind) |
	    b_text(st, 3, m->post) |
	    b_blob(st, 4, m->sign_pk, sizeof(m->sign_pk)) |
	    b_blob(st, 5, m->enc_pk, sizeof(m->enc_pk)) |
	    b_int(st, 6, (int64_t)m->added) |
	    b_int(st, 7, (int64_t)m->revoked)) != SQLITE_OK)
		r = dberr(s, e, "member add");
	else if ((r = step(s, st, e, "member add")) == 0 &&
	    sqlite3_changes(s->db) == 0)
		r = kerr_set(e, KERR_EXISTS, "store: member %s already "
		    "exists", m->name);
	done(st);
	return r < 0 ? r : 0;
}

int
store_member_get(struct store *s, const char *name, struct store_member *m,
    int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_MEMBER_GET];
	int r;

	memset(m, 0, sizeof(*m));
	*found = 0;
	if ((r = name_check("member name", name, 0, e)) != 0)
		return r;
	if (b_text(st, 1, name) != SQLITE_OK)
		r = dberr(s, e, "member get");
	else if ((r = step(s, st, e, "member get")) == 1 &&
	    (r = member_row(st, m, e, "member get")) == 0)
		*found = 1;
	done(st);
	if (r < 0)
		memset(m, 0, sizeof(*m));
	return r;
}

int
store_member_revoke(struct store *s, const char *name, uint64_t time,
    int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_MEMBER_REVOKE];
	int r;

	*found = 0;
	if ((r = name_check("member name", name, 0, e)) != 0 ||
	    (r = range_check("time", time, e)) != 0)
		return r;
	if (time == 0)
		return kerr_set(e, KERR_INVALID, "store: revocation time 0 "
		    "means active");
	if ((b_text(st, 1, name) | b_int(st, 2, (int64_t)time)) != SQLITE_OK)
		r = dberr(s, e, "member revoke");
	else if ((r = step(s, st, e, "member revoke")) == 0)
		*found = sqlite3_changes(s->db) > 0;
	done(st);
	return r < 0 ? r : 0;
}

int
store_member_list(struct store *s, struct store_member **out, size_t *n,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_MEMBER_LIST];
	struct store_member *a = NULL;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	while ((r = step(s, st, e, "member list")) == 1) {
		if ((r = grow((void **)&a, &cap, *n, sizeof(*a), e)) != 0 ||
		    (r = member_row(st, &a[*n], e, "member list")) != 0)
			goto out;
		++*n;
	}
out:
	done(st);
	if (r < 0) {
		free(a);
		*n = 0;
		return r;
	}
	*out = a;
	return 0;
}

int
store_enrol_add(struct store *s, const char *name,
    const uint8_t hash[static 32], uint64_t expires, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ENROL_ADD];
	int r;

	if ((r = name_check("enrolment name", name, 0, e)) != 0 ||
	    (r = range_check("expiry", expires, e)) != 0)
		return r;
	if ((b_text(st, 1, name) | b_blob(st, 2, hash, 32) |
	    b_int(st, 3, (int64_t)expires)) != SQLITE_OK)
		r = dberr(s, e, "enrolment add");
	else if ((r = step(s, st, e, "enrolment add")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_enrol_use(struct store *s, const char *name,
    const uint8_t hash[static 32], uint64_t now, int *ok, struct kerr *e)
{
	sqlite3_stmt *st;
	uint8_t stored[32];
	int own, r, match = 0;

	*ok = 0;
	if ((r = name_check("enrolment name", name, 0, e)) != 0)
		return r;
	if ((r = op_begin(s, &own, e)) != 0)
		return r;
	st = s->st[ST_ENROL_GET];
	if (b_text(st, 1, name) != SQLITE_OK)
		r = dberr(s, e, "enrolment use");
	else if ((r = step(s, st, e, "enrolment use")) == 1) {
		if ((r = col_fixed(st, 0, stored, sizeof(stored), e,
		    "enrolment use")) == 0) {
			match = sodium_memcmp(stored, hash, 32) == 0 &&
			    sqlite3_column_type(st, 2) == SQLITE_NULL &&
			    now < col_u64(st, 1);
		}
		sodium_memzero(stored, sizeof(stored));
	}
	done(st);
	if (r < 0 || !match)
		goto out;
	/* A wrong guess must not burn the token: mark it only on a match. */
	st = s->st[ST_ENROL_MARK];
	if ((b_text(st, 1, name) | b_int(st, 2, clamp_i64(now))) != SQLITE_OK)
		r = dberr(s, e, "enrolment use");
	else if ((r = step(s, st, e, "enrolment use")) == 0)
		*ok = sqlite3_changes(s->db) == 1;
	done(st);
out:
	r = op_end(s, own, r < 0 ? r : 0, e);
	if (r != 0)
		*ok = 0;
	return r;
}
