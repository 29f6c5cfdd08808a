/*
 * The node store on SQLite (store.h; schema and rules in docs/store.md):
 * what the files of this implementation share.  Internal: nothing outside
 * src/store includes it (STYLE.md 14); store.h is the contract.
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
 *
 * The files, one concern each; a file calls only the files below it
 * (scripts/depcheck.py checks that no two call each other in a circle):
 *
 *   sqlite_core.c        open, close, transactions, deferred durability
 *   sqlite_meta.c, sqlite_envelope.c, sqlite_queue.c, sqlite_receipt.c,
 *   sqlite_account.c, sqlite_inbox.c, sqlite_alert.c, sqlite_directory.c
 *                        the store_* functions of their tables
 *   sqlite_schema.c      the migrations and every statement's SQL (for core)
 *   sqlite_ckpt.c        the background checkpointer (for core)
 *   sqlite_util.c        the shared helpers too large to inline (for all)
 *   sqlite_int.h         struct store, the statement ids, the small
 *                        helpers (static inline)
 *
 * The small helpers are static inline because the store is on HQ's hot
 * path: they were static functions of one file, and each file keeps the
 * compiler's freedom to inline them that the one file had.  Those in
 * sqlite_util.c were called, not inlined, there too.
 */
#ifndef KODEN_STORE_SQLITE_INT_H
#define KODEN_STORE_SQLITE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "store/store.h"
#include "telegram/tg.h"

/* The store's ids and names are the telegram ids and the post and person
 * names the node gives it. */
_Static_assert(STORE_ID == TG_ID_LEN, "a store id is a telegram id");
_Static_assert(STORE_NAME_MAX >= TG_POST_MAX &&
    STORE_NAME_MAX >= TG_PERSON_MAX, "a store name holds any post or person");

#define BUSY_TIMEOUT_MS 5000

/*
 * The statements, by id.  Their SQL is sqlite_sql[] (sqlite_schema.c), each
 * prepared once by store_open into struct store's st[].
 */
enum {
	/* sqlite_core.c, and op_begin/op_end below */
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_SP_BEGIN, ST_SP_RELEASE, ST_SP_ROLLBACK,
	/* sqlite_meta.c */
	ST_META_GET, ST_META_SET_U64, ST_META_INCR, ST_META_SET_BLOB,
	/* sqlite_envelope.c */
	ST_ENV_PUT, ST_ENV_GET, ST_ENV_SAME, ST_ENV_FIND,
	/* sqlite_queue.c */
	ST_Q_PUT, ST_Q_NEXT, ST_Q_DEL, ST_Q_COUNT, ST_Q_LAST, ST_Q_DEFER,
	/* sqlite_receipt.c */
	ST_RCPT_PUT, ST_RCPT_GET,
	ST_STATUS_SET, ST_STATUS_GET,
	/* sqlite_account.c */
	ST_IN_PUT, ST_IN_GET_ID, ST_IN_ABOVE, ST_IN_LATER_LOWER, ST_IN_MAX,
	ST_IN_OLDEST, ST_MARK_GET, ST_MARK_SET, ST_IN_ORIGINS,
	/* sqlite_inbox.c */
	ST_INBOX_PUT, ST_INBOX_LIST, ST_INBOX_READ,
	/* sqlite_alert.c */
	ST_ALERT_ADD, ST_ALERT_LIST,
	/* sqlite_directory.c */
	ST_MEMBER_ADD, ST_MEMBER_GET, ST_MEMBER_REVOKE, ST_MEMBER_LIST,
	ST_ENROL_ADD, ST_ENROL_GET, ST_ENROL_MARK,
	ST_COUNT
};
extern const char *const sqlite_sql[ST_COUNT];

struct ckpt;		/* sqlite_ckpt.c */
struct walsync;		/* lib/walsync.h */

struct store {
	sqlite3 *db;
	int version;
	sqlite3_stmt *st[ST_COUNT];
	struct ckpt *ck;
	struct walsync *ws;	/* store_sync_thread_start: the WAL's fsyncs */
	uint64_t commits;	/* without it: every commit is durable */
};

/* The database's last error as KERR_IO (or KERR_NOMEM), naming op. */
static inline int
dberr(struct store *s, struct kerr *e, const char *op)
{
	int rc = sqlite3_errcode(s->db);

	return kerr_set(e, rc == SQLITE_NOMEM ? KERR_NOMEM : KERR_IO,
	    "store: %s: %s", op, sqlite3_errmsg(s->db));
}

static inline int
corrupt(struct kerr *e, const char *op, const char *what)
{
	return kerr_set(e, KERR_IO, "store: %s: corrupt %s in the database",
	    op, what);
}

/* Ready for the next use: no snapshot kept, no caller memory referenced. */
static inline void
done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Step once: 1 for a row, 0 when done, else a negative KERR_*. */
static inline int
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
static inline int
exec_st(struct store *s, int id, struct kerr *e, const char *op)
{
	sqlite3_stmt *st = s->st[id];
	int r = step(s, st, e, op);

	done(st);
	return r < 0 ? r : 0;
}

/* Bind helpers return SQLite codes; callers OR them and test for non-zero. */
static inline int
b_text(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static inline int
b_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	/* A NULL pointer would bind SQL NULL, not an empty blob. */
	return sqlite3_bind_blob64(st, i, n ? p : "", n, SQLITE_STATIC);
}

static inline int
b_int(sqlite3_stmt *st, int i, int64_t v)
{
	return sqlite3_bind_int64(st, i, v);
}

static inline int64_t
clamp_i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static inline int64_t
u64_to_i64(uint64_t v)
{
	if (v <= INT64_MAX)
		return (int64_t)v;
	return (int64_t)(v - (uint64_t)INT64_MAX - 1) + INT64_MIN;
}

static inline int
range_check(const char *what, uint64_t v, struct kerr *e)
{
	if (v > INT64_MAX)
		return kerr_set(e, KERR_INVALID,
		    "store: %s %llu is out of range (max 2^63-1)", what,
		    (unsigned long long)v);
	return 0;
}

static inline int
prec_check(uint8_t prec, struct kerr *e)
{
	if (prec < TG_ROUTINE || prec > TG_FLASH)
		return kerr_set(e, KERR_INVALID,
		    "store: precedence %u is not 1 (ROUTINE) .. 4 (FLASH)",
		    prec);
	return 0;
}

static inline uint64_t
col_u64(sqlite3_stmt *st, int i)
{
	return (uint64_t)sqlite3_column_int64(st, i);
}

/*
 * Functions made of several statements run atomically: in a transaction of
 * their own when called in autocommit mode, else in a savepoint of the
 * caller's transaction, so a failure halfway leaves that transaction as it
 * was.
 */
static inline int
op_begin(struct store *s, int *own, struct kerr *e)
{
	*own = sqlite3_get_autocommit(s->db);
	return exec_st(s, *own ? ST_BEGIN : ST_SP_BEGIN, e, "begin");
}

static inline int
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

/*
 * sqlite_util.c: the helpers too large to inline.  Each returns 0 or a
 * negative KERR_* with its message in e.
 */
int sqlite_name_check(const char *what, const char *v, int may_be_empty,
    struct kerr *e) KODEN_WUR;
int sqlite_blob_check(const char *what, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;
int sqlite_col_text(sqlite3_stmt *st, int i, char *dst, size_t dstsz,
    struct kerr *e, const char *op) KODEN_WUR;
int sqlite_col_fixed(sqlite3_stmt *st, int i, uint8_t *dst, size_t len,
    struct kerr *e, const char *op) KODEN_WUR;
int sqlite_col_buf(sqlite3_stmt *st, int i, struct buf *out, struct kerr *e,
    const char *op) KODEN_WUR;
int sqlite_grow(void **p, size_t *cap, size_t n, size_t sz, struct kerr *e)
    KODEN_WUR;

/* sqlite_schema.c: bring the schema to the version this code knows, or
 * refuse a newer one (store_open). */
int sqlite_migrate(struct store *s, const char *path, struct kerr *e)
    KODEN_WUR;
/* sqlite_ckpt.c: stop and join the checkpointer thread if it was started,
 * and give the writer back SQLite's autocheckpoint (store_close). */
void sqlite_ckpt_stop(struct store *s);

#endif

