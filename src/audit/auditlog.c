/*
 * The audit log on SQLite (auditlog.h; schema and rules in docs/audit.md).
 *
 * Tables: entry (one row per event, seq = leaf index, with its leaf hash),
 * tree (every complete subtree of level >= 1, so a proof reads O(log n)
 * rows), head (signed tree heads), meta (the compact frontier, shipping
 * state, the last HQ head seen by a post).  At HQ also rnode (per post: the
 * last accepted head, its frontier, its key), rentry and rhead (the posts'
 * entries and heads).  Every write is one BEGIN IMMEDIATE transaction that
 * reads the stored frontier first, so any number of processes can append.
 * No SQL text is built from data: values travel as bound parameters.
 *
 * This file is the database room (audit_int.h lists the others): schema,
 * statements, transactions, the row codecs every room uses, the meta table
 * and the stored frontier; opening and closing a log.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit/audit_int.h"
#include "lib/sqlschema.h"

#define BUSY_TIMEOUT_MS 10000

static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  u64 INTEGER,"
	"  blob BLOB"
	") STRICT;"
	"CREATE TABLE entry ("
	"  seq INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  node TEXT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  object TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  leaf BLOB NOT NULL"
	") STRICT;"
	"CREATE INDEX entry_object ON entry (object);"
	"CREATE TABLE tree ("
	"  level INTEGER NOT NULL,"
	"  idx INTEGER NOT NULL,"
	"  hash BLOB NOT NULL,"
	"  PRIMARY KEY (level, idx)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE head ("
	"  size INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  root BLOB NOT NULL,"
	"  sig BLOB NOT NULL"
	") STRICT;"
	"CREATE TABLE rnode ("
	"  node TEXT PRIMARY KEY NOT NULL,"
	"  pk BLOB NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  root BLOB NOT NULL,"
	"  sig BLOB NOT NULL,"
	"  frontier BLOB NOT NULL,"
	"  hq_seq INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE rentry ("
	"  node TEXT NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  object TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  leaf BLOB NOT NULL,"
	"  PRIMARY KEY (node, seq)"
	") STRICT, WITHOUT ROWID;"
	"CREATE INDEX rentry_object ON rentry (object);"
	"CREATE INDEX rentry_time ON rentry (time);"
	"CREATE TABLE rhead ("
	"  node TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  root BLOB NOT NULL,"
	"  sig BLOB NOT NULL,"
	"  PRIMARY KEY (node, size)"
	") STRICT, WITHOUT ROWID;",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const char *const sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_RO] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT ingest",
	[S_ROLLBACK_TO] = "ROLLBACK TO ingest",
	[S_RELEASE] = "RELEASE ingest",
	[S_META_GET] = "SELECT u64, blob FROM meta WHERE key = ?1",
	[S_META_SET] = "INSERT INTO meta (key, u64, blob) VALUES (?1, ?2, ?3) "
	    "ON CONFLICT (key) DO UPDATE SET u64 = ?2, blob = ?3",
	[S_ENTRY_INS] = "INSERT INTO entry (seq, time, node, actor, source, "
	    "action, object, outcome, detail, leaf) VALUES (?2, ?3, ?1, ?4, "
	    "?5, ?6, ?7, ?8, ?9, ?10)",
	[S_ENTRY_GET] = "SELECT seq, time, node, actor, source, action, "
	    "object, outcome, detail, leaf FROM entry WHERE seq = ?1",
	[S_ENTRY_LEAF] = "SELECT leaf FROM entry WHERE seq = ?1",
	[S_ENTRY_SCAN] = "SELECT seq, time, node, actor, source, action, "
	    "object, outcome, detail, leaf FROM entry ORDER BY seq",
	[S_ENTRY_RANGE] = "SELECT seq, time, node, actor, source, action, "
	    "object, outcome, detail, leaf FROM entry WHERE seq >= ?1 AND "
	    "seq < ?2 ORDER BY seq",
	[S_TREE_INS] = "INSERT OR REPLACE INTO tree (level, idx, hash) "
	    "VALUES (?1, ?2, ?3)",
	[S_TREE_GET] = "SELECT hash FROM tree WHERE level = ?1 AND idx = ?2",
	[S_HEAD_INS] = "INSERT OR IGNORE INTO head (size, time, root, sig) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[S_HEAD_LATEST] = "SELECT size, time, root, sig FROM head "
	    "ORDER BY size DESC LIMIT 1",
	[S_HEAD_AT] = "SELECT size, time, root, sig FROM head WHERE size = ?1",
	[S_HEAD_SCAN] = "SELECT size, time, root, sig FROM head ORDER BY size",
	[S_RNODE_GET] = "SELECT pk, size, time, root, sig, frontier, hq_seq "
	    "FROM rnode WHERE node = ?1",
	[S_RNODE_PUT] = "INSERT OR REPLACE INTO rnode (node, pk, size, time, "
	    "root, sig, frontier, hq_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8)",
	[S_RENTRY_INS] = "INSERT INTO rentry (node, seq, time, actor, source, "
	    "action, object, outcome, detail, leaf) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6, ?7, ?8, ?9, ?10)",
	[S_RENTRY_LEAF] = "SELECT leaf FROM rentry WHERE node = ?1 AND seq = ?2",
	[S_RENTRY_LEAVES] = "SELECT seq, leaf FROM rentry WHERE node = ?1 AND "
	    "seq < ?2 ORDER BY seq",
	[S_RHEAD_INS] = "INSERT OR IGNORE INTO rhead (node, size, time, root, "
	    "sig) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_RHEAD_AT] = "SELECT size, time, root, sig FROM rhead WHERE "
	    "node = ?1 AND size = ?2",
	[S_RENTRY_GET] = "SELECT seq, time, ?1, actor, source, action, "
	    "object, outcome, detail, leaf FROM rentry WHERE node = ?1 AND "
	    "seq = ?2",
};

/* ---- SQLite plumbing ------------------------------------------------------ */

int
alog_dberr(struct auditlog *l, struct kerr *e, const char *what)
{
	int rc = sqlite3_errcode(l->db);

	return kerr_set(e, rc == SQLITE_NOMEM ? KERR_NOMEM : KERR_IO,
	    "audit log: %s: %s", what, sqlite3_errmsg(l->db));
}

sqlite3_stmt *
alog_stmt(struct auditlog *l, int i)
{
	if (l->st[i] == NULL && sqlite3_prepare_v3(l->db, sql[i], -1,
	    SQLITE_PREPARE_PERSISTENT, &l->st[i], NULL) != SQLITE_OK)
		return NULL;
	return l->st[i];
}

void
alog_done(sqlite3_stmt *s)
{
	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* Step a statement: 1 row, 0 done, < 0 error (and the statement reset). */
int
alog_step(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return rc == SQLITE_NOMEM ? KERR_NOMEM : KERR_IO;
}

/* Run a statement that returns no rows. */
int
alog_run(struct auditlog *l, int i, struct kerr *e)
{
	sqlite3_stmt *s = alog_stmt(l, i);
	int r;

	if (s == NULL)
		return alog_dberr(l, e, sql[i]);
	r = alog_step(s);
	if (r < 0)
		alog_dberr(l, e, sql[i]);
	alog_done(s);
	return r < 0 ? r : 0;
}

/* ---- rows ------------------------------------------------------------------ */

int
alog_blob_copy(sqlite3_stmt *s, int col, uint8_t *out, size_t n)
{
	const void *p = sqlite3_column_blob(s, col);

	if (p == NULL || (size_t)sqlite3_column_bytes(s, col) != n)
		return KERR_FORMAT;
	memcpy(out, p, n);
	return 0;
}

void
alog_text_copy(sqlite3_stmt *s, int col, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t n = t != NULL ? (size_t)sqlite3_column_bytes(s, col) : 0;

	if (n > cap)
		n = cap;	/* an over-long edited field: never matches */
	if (n > 0)
		memcpy(out, t, n);
	out[n] = '\0';
}

void
alog_event_row(sqlite3_stmt *s, struct audit_event *ev,
    uint8_t leaf[MERKLE_HASH])
{
	memset(ev, 0, sizeof(*ev));
	ev->seq = (uint64_t)sqlite3_column_int64(s, 0);
	ev->time_ns = (uint64_t)sqlite3_column_int64(s, 1);
	alog_text_copy(s, 2, ev->node, AUDIT_NODE_MAX);
	alog_text_copy(s, 3, ev->actor, AUDIT_ACTOR_MAX);
	alog_text_copy(s, 4, ev->source, AUDIT_SOURCE_MAX);
	alog_text_copy(s, 5, ev->action, AUDIT_ACTION_MAX);
	alog_text_copy(s, 6, ev->object, AUDIT_OBJECT_MAX);
	alog_text_copy(s, 7, ev->outcome, AUDIT_OUTCOME_MAX);
	alog_text_copy(s, 8, ev->detail, AUDIT_DETAIL_MAX);
	if (leaf != NULL && alog_blob_copy(s, 9, leaf, MERKLE_HASH) != 0)
		memset(leaf, 0, MERKLE_HASH);	/* edited: never matches */
}

int
alog_head_row(sqlite3_stmt *s, struct audit_head *h)
{
	h->size = (uint64_t)sqlite3_column_int64(s, 0);
	h->time_ns = (uint64_t)sqlite3_column_int64(s, 1);
	if (alog_blob_copy(s, 2, h->root, MERKLE_HASH) != 0 ||
	    alog_blob_copy(s, 3, h->sig, AUDIT_SIG) != 0)
		return KERR_FORMAT;
	return 0;
}

int
alog_bind_event(sqlite3_stmt *s, int first, const struct audit_event *ev,
    const uint8_t leaf[static MERKLE_HASH])
{
	return b_int(s, first, (int64_t)ev->seq) |
	    b_int(s, first + 1, (int64_t)ev->time_ns) |
	    b_text(s, first + 2, ev->actor) |
	    b_text(s, first + 3, ev->source) |
	    b_text(s, first + 4, ev->action) |
	    b_text(s, first + 5, ev->object) |
	    b_text(s, first + 6, ev->outcome) |
	    b_text(s, first + 7, ev->detail) |
	    b_blob(s, first + 8, leaf, MERKLE_HASH);
}

/* ---- transactions ---------------------------------------------------------- */

int
alog_begin(struct auditlog *l, enum alog_tx tx, struct kerr *e)
{
	int r = alog_run(l, tx == ALOG_TX_WRITE ? S_BEGIN : S_BEGIN_RO, e);

	l->in_tx = r == 0;
	return r;
}

int
alog_commit(struct auditlog *l, struct kerr *e)
{
	int r = alog_run(l, S_COMMIT, e);

	if (r != 0)
		(void)alog_run(l, S_ROLLBACK, NULL);
	l->in_tx = 0;
	return r;
}

void
alog_rollback(struct auditlog *l)
{
	if (l->in_tx)
		(void)alog_run(l, S_ROLLBACK, NULL);
	l->in_tx = 0;
}

/* ---- the handle ------------------------------------------------------------ */

int
auditlog_open(struct auditlog **out, const char *path, const char *node,
    const char *witness, struct kerr *e)
{
	struct auditlog *l;
	int fd, r;

	*out = NULL;
	if (node == NULL || node[0] == '\0' || strlen(node) > AUDIT_NODE_MAX)
		return kerr_set(e, KERR_INVALID, "audit log: bad node name");
	/*
	 * Created 0600 before SQLite sees it.  Only when it does not exist:
	 * close() on any descriptor of the file drops every POSIX lock this
	 * process holds on it, those of SQLite connections already open here
	 * included (kodend opens the log twice), and another process could
	 * then delete the WAL under them.
	 */
	if (access(path, F_OK) != 0) {
		if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) >= 0)
			close(fd);
		else if (errno != EEXIST)
			return kerr_set(e, KERR_IO, "audit log: cannot create "
			    "%s: %s", path, strerror(errno));
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return KERR_NOMEM;
	snprintf(l->node, sizeof(l->node), "%s", node);
	if (witness != NULL && (l->witness = strdup(witness)) == NULL) {
		free(l);
		return KERR_NOMEM;
	}
	if (sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		r = kerr_set(e, KERR_IO, "audit log: cannot open %s: %s", path,
		    l->db ? sqlite3_errmsg(l->db) : "out of memory");
		goto fail;
	}
	sqlite3_db_config(l->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(l->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_busy_timeout(l->db, BUSY_TIMEOUT_MS);
	/* proofs read O(log n) subtree rows scattered over a large file: a
	 * page cache of up to 64 MB keeps the upper levels (grows only as
	 * pages are read, so the CLI's short runs do not pay for it).  No
	 * mmap: with kodend writing, readers of a mapped file saw stale rows
	 * in tests/system/t_audit.sh. */
	if ((r = sql_exec(l->db, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = FULL;"
	    "PRAGMA cache_size = -65536;", "audit log", e)) != 0 ||
	    (r = sql_migrate(l->db, migrations, SCHEMA_VERSION, path,
	    "audit log", NULL, e)) != 0)
		goto fail;
	*out = l;
	return 0;
fail:
	auditlog_close(l);
	return r;
}

int
auditlog_open_dir(struct auditlog **out, const char *nodedir,
    const char *node, struct kerr *e)
{
	char db[4096], wit[4096];

	*out = NULL;
	if (snprintf(db, sizeof(db), "%s/%s", nodedir, AUDIT_DB_FILE) >=
	    (int)sizeof(db) || snprintf(wit, sizeof(wit), "%s/%s", nodedir,
	    AUDIT_WITNESS_FILE) >= (int)sizeof(wit))
		return kerr_set(e, KERR_TOOBIG, "%s: path too long", nodedir);
	return auditlog_open(out, db, node, wit, e);
}

int
auditlog_sync_later(struct auditlog *l, struct kerr *e)
{
	return sql_exec(l->db, "PRAGMA synchronous = NORMAL", "audit log", e);
}

void
auditlog_busy_timeout(struct auditlog *l, int ms)
{
	sqlite3_busy_timeout(l->db, ms);
}

int
auditlog_busy(struct auditlog *l)
{
	return (sqlite3_extended_errcode(l->db) & 0xff) == SQLITE_BUSY;
}

void
auditlog_close(struct auditlog *l)
{
	if (l == NULL)
		return;
	alog_rollback(l);
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(l->st[i]);
	sqlite3_close(l->db);
	free(l->witness);
	free(l);
}

const char *
auditlog_node(const struct auditlog *l)
{
	return l->node;
}

/* ---- meta ------------------------------------------------------------------ */

/* *found = 0 if absent; blob (may be NULL) gets up to max bytes, *n set. */
int
alog_meta_get(struct auditlog *l, const char *key, uint64_t *u, uint8_t *blob,
    size_t max, size_t *n, int *found)
{
	sqlite3_stmt *s = alog_stmt(l, S_META_GET);
	int r;

	*found = 0;
	if (s == NULL)
		return alog_dberr(l, NULL, "meta");
	if (b_text(s, 1, key) != SQLITE_OK) {
		r = alog_dberr(l, NULL, "meta get: bind");
		alog_done(s);
		return r;
	}
	if ((r = alog_step(s)) == 1) {
		*found = 1;
		if (u != NULL)
			*u = (uint64_t)sqlite3_column_int64(s, 0);
		if (blob != NULL) {
			size_t k = (size_t)sqlite3_column_bytes(s, 1);
			const void *p = sqlite3_column_blob(s, 1);

			if (k > max || (k > 0 && p == NULL))
				r = KERR_FORMAT;
			else {
				if (k > 0)
					memcpy(blob, p, k);
				*n = k;
			}
		}
	}
	alog_done(s);
	return r < 0 ? r : 0;
}

int
alog_meta_set(struct auditlog *l, const char *key, uint64_t u,
    const uint8_t *blob, size_t n)
{
	sqlite3_stmt *s = alog_stmt(l, S_META_SET);
	int r;

	if (s == NULL)
		return KERR_IO;
	if ((b_text(s, 1, key) | b_int(s, 2, (int64_t)u) |
	    (blob != NULL ? b_blob(s, 3, blob, n) : SQLITE_OK)) != SQLITE_OK)
		r = alog_dberr(l, NULL, "meta set: bind");
	else
		r = alog_step(s);
	alog_done(s);
	return r < 0 ? r : 0;
}

/* ---- the stored frontier ---------------------------------------------------- */

/* Frontier blob: u64 size || popcount(size) hashes. */
int
alog_frontier_encode(struct buf *out, const struct merkle_compact *c)
{
	int k = __builtin_popcountll(c->size);
	int r;

	/* the compact tree holds one subtree per set bit of its size */
	assert(k <= MERKLE_COMPACT_MAX);
	if ((r = buf_put_u64(out, c->size)) != 0 ||
	    (r = buf_put(out, c->stack, (size_t)k * MERKLE_HASH)) != 0)
		return r;
	return 0;
}

int
alog_frontier_decode(struct merkle_compact *c, const uint8_t *p, size_t n)
{
	struct rd rd;
	uint64_t size;
	size_t k;

	merkle_compact_init(c);
	rd_init(&rd, p, n);
	if (rd_u64(&rd, &size) != 0)
		return KERR_FORMAT;
	k = (size_t)__builtin_popcountll(size) * MERKLE_HASH;
	if (rd_left(&rd) != k || rd_copy(&rd, c->stack, k) != 0) {
		merkle_compact_init(c);
		return KERR_FORMAT;
	}
	c->size = size;
	return 0;
}

int
alog_load_frontier(struct auditlog *l)
{
	uint8_t b[ALOG_FRONTIER_MAX];
	size_t n = 0;
	int found, r;

	if ((r = alog_meta_get(l, META_FRONTIER, NULL, b, sizeof(b), &n,
	    &found)) != 0)
		return r;
	if (!found) {
		merkle_compact_init(&l->c);
		return 0;
	}
	return alog_frontier_decode(&l->c, b, n);
}

int
alog_save_frontier(struct auditlog *l)
{
	struct buf b;
	int r;

	buf_init(&b, ALOG_FRONTIER_MAX);
	if ((r = alog_frontier_encode(&b, &l->c)) == 0)
		r = alog_meta_set(l, META_FRONTIER, l->c.size, b.p, b.len);
	buf_free(&b);
	return r;
}
