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
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "audit/auditlog.h"
#include "audit/ship.h"
#include "lib/sqlschema.h"
#include "node/config.h"

#define BUSY_TIMEOUT_MS 10000
#define FRONTIER_MAX (8 + MERKLE_COMPACT_MAX * MERKLE_HASH)
#define HEAD_BYTES (8 + 8 + MERKLE_HASH + AUDIT_SIG)
#define SIZE_MAX_DB ((uint64_t)INT64_MAX)

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

enum {
	S_BEGIN, S_BEGIN_RO, S_COMMIT, S_ROLLBACK,
	S_META_GET, S_META_SET,
	S_ENTRY_INS, S_ENTRY_GET, S_ENTRY_LEAF, S_ENTRY_SCAN, S_ENTRY_RANGE,
	S_TREE_INS, S_TREE_GET,
	S_HEAD_INS, S_HEAD_LATEST, S_HEAD_AT, S_HEAD_SCAN,
	S_RNODE_GET, S_RNODE_PUT, S_RENTRY_INS, S_RENTRY_LEAF, S_RENTRY_LEAVES,
	S_RHEAD_INS, S_RHEAD_AT, S_RENTRY_GET,
	S_SAVEPOINT, S_ROLLBACK_TO, S_RELEASE,
	S_COUNT
};

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

struct auditlog {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	char node[AUDIT_NODE_MAX + 1];
	char *witness;			/* path or NULL */
	struct merkle_compact c;	/* loaded in each write transaction */
	int in_tx;
};

/* ---- SQLite plumbing ------------------------------------------------------ */

static int
dberr(struct auditlog *l, struct kerr *e, const char *what)
{
	int rc = sqlite3_errcode(l->db);

	return kerr_set(e, rc == SQLITE_NOMEM ? KERR_NOMEM : KERR_IO,
	    "audit log: %s: %s", what, sqlite3_errmsg(l->db));
}

static sqlite3_stmt *
stmt(struct auditlog *l, int i)
{
	if (l->st[i] == NULL && sqlite3_prepare_v3(l->db, sql[i], -1,
	    SQLITE_PREPARE_PERSISTENT, &l->st[i], NULL) != SQLITE_OK)
		return NULL;
	return l->st[i];
}

static void
done(sqlite3_stmt *s)
{
	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* Step a statement: 1 row, 0 done, < 0 error (and the statement reset). */
static int
step(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return rc == SQLITE_NOMEM ? KERR_NOMEM : KERR_IO;
}

/* Run a statement that returns no rows. */
static int
run(struct auditlog *l, int i, struct kerr *e)
{
	sqlite3_stmt *s = stmt(l, i);
	int r;

	if (s == NULL)
		return dberr(l, e, sql[i]);
	r = step(s);
	if (r < 0)
		dberr(l, e, sql[i]);
	done(s);
	return r < 0 ? r : 0;
}

static int
blob_copy(sqlite3_stmt *s, int col, uint8_t *out, size_t n)
{
	const void *p = sqlite3_column_blob(s, col);

	if (p == NULL || (size_t)sqlite3_column_bytes(s, col) != n)
		return KERR_FORMAT;
	memcpy(out, p, n);
	return 0;
}

static void
text_copy(sqlite3_stmt *s, int col, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t n = t != NULL ? (size_t)sqlite3_column_bytes(s, col) : 0;

	if (n > cap)
		n = cap;	/* an over-long edited field: never matches */
	if (n > 0)
		memcpy(out, t, n);
	out[n] = '\0';
}

static int
begin(struct auditlog *l, int write, struct kerr *e)
{
	int r = run(l, write ? S_BEGIN : S_BEGIN_RO, e);

	l->in_tx = r == 0;
	return r;
}

static int
commit(struct auditlog *l, struct kerr *e)
{
	int r = run(l, S_COMMIT, e);

	if (r != 0)
		(void)run(l, S_ROLLBACK, NULL);
	l->in_tx = 0;
	return r;
}

static void
rollback(struct auditlog *l)
{
	if (l->in_tx)
		(void)run(l, S_ROLLBACK, NULL);
	l->in_tx = 0;
}

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
auditlog_open_dir(struct auditlog **out, const char *nodedir, struct kerr *e)
{
	struct config cfg;
	char db[4096], wit[4096];
	int r;

	*out = NULL;
	if ((r = config_load(&cfg, nodedir, e)) != 0)
		return r;
	if (snprintf(db, sizeof(db), "%s/%s", nodedir, AUDIT_DB_FILE) >=
	    (int)sizeof(db) || snprintf(wit, sizeof(wit), "%s/%s", nodedir,
	    AUDIT_WITNESS_FILE) >= (int)sizeof(wit))
		return kerr_set(e, KERR_TOOBIG, "%s: path too long", nodedir);
	return auditlog_open(out, db, cfg.name, wit, e);
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
	rollback(l);
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
static int
meta_get(struct auditlog *l, const char *key, uint64_t *u, uint8_t *blob,
    size_t max, size_t *n, int *found)
{
	sqlite3_stmt *s = stmt(l, S_META_GET);
	int r;

	*found = 0;
	if (s == NULL)
		return dberr(l, NULL, "meta");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if ((r = step(s)) == 1) {
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
	done(s);
	return r < 0 ? r : 0;
}

static int
meta_set(struct auditlog *l, const char *key, uint64_t u, const uint8_t *blob,
    size_t n)
{
	sqlite3_stmt *s = stmt(l, S_META_SET);
	int r;

	if (s == NULL)
		return KERR_IO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)u);
	if (blob != NULL)
		sqlite3_bind_blob(s, 3, blob, (int)n, SQLITE_STATIC);
	r = step(s);
	done(s);
	return r < 0 ? r : 0;
}

/* Frontier blob: u64 size || popcount(size) hashes. */
static size_t
frontier_encode(uint8_t out[static FRONTIER_MAX], const struct merkle_compact *c)
{
	int k = __builtin_popcountll(c->size);

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(c->size >> (56 - 8 * i));
	memcpy(out + 8, c->stack, (size_t)k * MERKLE_HASH);
	return 8 + (size_t)k * MERKLE_HASH;
}

static int
frontier_decode(struct merkle_compact *c, const uint8_t *p, size_t n)
{
	uint64_t size = 0;

	merkle_compact_init(c);
	if (n < 8)
		return KERR_FORMAT;
	for (int i = 0; i < 8; i++)
		size = size << 8 | p[i];
	if (n != 8 + (size_t)__builtin_popcountll(size) * MERKLE_HASH)
		return KERR_FORMAT;
	c->size = size;
	memcpy(c->stack, p + 8, n - 8);
	return 0;
}

static int
load_frontier(struct auditlog *l)
{
	uint8_t b[FRONTIER_MAX];
	size_t n = 0;
	int found, r;

	if ((r = meta_get(l, "frontier", NULL, b, sizeof(b), &n, &found)) != 0)
		return r;
	if (!found) {
		merkle_compact_init(&l->c);
		return 0;
	}
	return frontier_decode(&l->c, b, n);
}

static int
save_frontier(struct auditlog *l)
{
	uint8_t b[FRONTIER_MAX];
	size_t n = frontier_encode(b, &l->c);

	return meta_set(l, "frontier", l->c.size, b, n);
}

/* ---- heads ----------------------------------------------------------------- */

static int
head_row(sqlite3_stmt *s, struct audit_head *h)
{
	h->size = (uint64_t)sqlite3_column_int64(s, 0);
	h->time_ns = (uint64_t)sqlite3_column_int64(s, 1);
	if (blob_copy(s, 2, h->root, MERKLE_HASH) != 0 ||
	    blob_copy(s, 3, h->sig, AUDIT_SIG) != 0)
		return KERR_FORMAT;
	return 0;
}

static int
head_insert(struct auditlog *l, const struct audit_head *h)
{
	sqlite3_stmt *s = stmt(l, S_HEAD_INS);
	int r;

	if (s == NULL)
		return KERR_IO;
	sqlite3_bind_int64(s, 1, (int64_t)h->size);
	sqlite3_bind_int64(s, 2, (int64_t)h->time_ns);
	sqlite3_bind_blob(s, 3, h->root, MERKLE_HASH, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, h->sig, AUDIT_SIG, SQLITE_STATIC);
	r = step(s);
	done(s);
	return r < 0 ? r : 0;
}

static int
head_at(struct auditlog *l, uint64_t size, struct audit_head *h, int *found)
{
	sqlite3_stmt *s = stmt(l, S_HEAD_AT);
	int r;

	*found = 0;
	if (s == NULL)
		return KERR_IO;
	sqlite3_bind_int64(s, 1, (int64_t)size);
	if ((r = step(s)) == 1) {
		r = head_row(s, h);
		*found = r == 0;
	}
	done(s);
	return r < 0 ? r : 0;
}

int
audit_latest_head(struct auditlog *l, struct audit_head *h, int *found)
{
	sqlite3_stmt *s = stmt(l, S_HEAD_LATEST);
	int r;

	*found = 0;
	memset(h, 0, sizeof(*h));
	if (s == NULL)
		return KERR_IO;
	if ((r = step(s)) == 1) {
		r = head_row(s, h);
		*found = r == 0;
	}
	done(s);
	return r < 0 ? r : 0;
}

static void
put_head_bytes(uint8_t out[static HEAD_BYTES], const struct audit_head *h)
{
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(h->size >> (56 - 8 * i));
		out[8 + i] = (uint8_t)(h->time_ns >> (56 - 8 * i));
	}
	memcpy(out + 16, h->root, MERKLE_HASH);
	memcpy(out + 16 + MERKLE_HASH, h->sig, AUDIT_SIG);
}

static int
get_head_bytes(struct audit_head *h, const uint8_t *p, size_t n)
{
	if (n != HEAD_BYTES)
		return KERR_FORMAT;
	h->size = h->time_ns = 0;
	for (int i = 0; i < 8; i++) {
		h->size = h->size << 8 | p[i];
		h->time_ns = h->time_ns << 8 | p[8 + i];
	}
	memcpy(h->root, p + 16, MERKLE_HASH);
	memcpy(h->sig, p + 16 + MERKLE_HASH, AUDIT_SIG);
	return 0;
}

/* The witness file: the highest head this node signed, replaced only by a
 * higher one.  Best effort: a failure here never loses an event. */
static void
witness_write(struct auditlog *l, const struct audit_head *h)
{
	uint8_t b[HEAD_BYTES], old[HEAD_BYTES];
	char tmp[4200];
	struct audit_head oh;
	int fd;
	ssize_t n;

	if (l->witness == NULL)
		return;
	if ((fd = open(l->witness, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, old, sizeof(old));
		close(fd);
		if (n == (ssize_t)sizeof(old) &&
		    get_head_bytes(&oh, old, sizeof(old)) == 0 &&
		    oh.size >= h->size)
			return;
	}
	put_head_bytes(b, h);
	snprintf(tmp, sizeof(tmp), "%s.%ld", l->witness, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		return;
	n = write(fd, b, sizeof(b));
	close(fd);
	if (n != (ssize_t)sizeof(b) || rename(tmp, l->witness) != 0)
		unlink(tmp);
}

/* Sign and store a head over the first size leaves (inside a write tx). */
static int
sign_at(struct auditlog *l, const struct identity *key, uint64_t size,
    struct audit_head *h)
{
	int found, r;

	if ((r = head_at(l, size, h, &found)) != 0 || found)
		return r;
	memset(h, 0, sizeof(*h));
	h->size = size;
	h->time_ns = audit_now_ns();
	if (size == l->c.size)
		merkle_compact_root(&l->c, h->root);
	else if ((r = audit_root_at(l, size, h->root)) != 0)
		return r;
	if ((r = audit_head_sign(h, l->node, key)) != 0)
		return r;
	return head_insert(l, h);
}

/* ---- appending -------------------------------------------------------------- */

static int
tree_put(struct auditlog *l, unsigned level, uint64_t idx,
    const uint8_t h[static MERKLE_HASH])
{
	sqlite3_stmt *s = stmt(l, S_TREE_INS);
	int r;

	if (s == NULL)
		return KERR_IO;
	sqlite3_bind_int(s, 1, (int)level);
	sqlite3_bind_int64(s, 2, (int64_t)idx);
	sqlite3_bind_blob(s, 3, h, MERKLE_HASH, SQLITE_STATIC);
	r = step(s);
	done(s);
	return r < 0 ? r : 0;
}

/*
 * The complete subtrees that appending leaf to c finishes: one per
 * trailing one bit of c->size, level L covering [size + 1 - 2^L, size + 1).
 * Calls put for each (L, index) and appends the leaf to c.
 */
static int
append_leaf(struct merkle_compact *c, const uint8_t leaf[static MERKLE_HASH],
    int (*put)(void *, unsigned, uint64_t, const uint8_t *), void *ctx)
{
	uint8_t cur[MERKLE_HASH];
	uint64_t s = c->size;
	int k = __builtin_popcountll(s), r;
	unsigned level = 0;

	if (s >= SIZE_MAX_DB)
		return KERR_TOOBIG;
	memcpy(cur, leaf, MERKLE_HASH);
	while ((s >> level) & 1) {
		merkle_node_hash(cur, c->stack[k - 1 - (int)level], cur);
		level++;
		if (put != NULL && (r = put(ctx, level, ((s + 1) >> level) - 1,
		    cur)) != 0)
			return r;
	}
	return merkle_compact_append(c, leaf);
}

static int
put_tree(void *ctx, unsigned level, uint64_t idx, const uint8_t *h)
{
	return tree_put(ctx, level, idx, h);
}

static int
bind_event(sqlite3_stmt *s, int first, const struct audit_event *ev,
    const uint8_t leaf[static MERKLE_HASH])
{
	sqlite3_bind_int64(s, first, (int64_t)ev->seq);
	sqlite3_bind_int64(s, first + 1, (int64_t)ev->time_ns);
	sqlite3_bind_text(s, first + 2, ev->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 3, ev->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 4, ev->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 5, ev->object, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 6, ev->outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 7, ev->detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, first + 8, leaf, MERKLE_HASH, SQLITE_STATIC);
	return 0;
}

/* Append inside a write transaction with l->c loaded. */
static int
append_locked(struct auditlog *l, struct audit_event *ev, size_t n,
    struct kerr *e)
{
	uint8_t leaf[MERKLE_HASH];
	sqlite3_stmt *s;
	int r;

	for (size_t i = 0; i < n; i++) {
		if (ev[i].node[0] == '\0')
			snprintf(ev[i].node, sizeof(ev[i].node), "%s", l->node);
		if (ev[i].time_ns == 0)
			ev[i].time_ns = audit_now_ns();
		if (ev[i].time_ns > SIZE_MAX_DB)
			return kerr_set(e, KERR_INVALID, "audit event: time "
			    "out of range");
		ev[i].seq = l->c.size;
		if ((r = audit_event_leaf(leaf, &ev[i])) != 0)
			return kerr_set(e, r, "audit event %s/%s: %s",
			    ev[i].action, ev[i].object, kerr_str(r));
		if ((s = stmt(l, S_ENTRY_INS)) == NULL)
			return dberr(l, e, "append");
		sqlite3_bind_text(s, 1, ev[i].node, -1, SQLITE_STATIC);
		(void)bind_event(s, 2, &ev[i], leaf);
		r = step(s);
		done(s);
		if (r < 0)
			return dberr(l, e, "append");
		if ((r = append_leaf(&l->c, leaf, put_tree, l)) != 0)
			return kerr_set(e, r, "audit log: cannot add leaf");
	}
	return 0;
}

#define META_JOURNAL "journal"	/* blob: generation (16) || u64 offset */

static int
journal_pos(struct auditlog *l, uint8_t gen[static AUDIT_JOURNAL_GEN],
    uint64_t *off, struct kerr *e)
{
	uint8_t b[AUDIT_JOURNAL_GEN + 8];
	size_t n = 0;
	int found, r;

	memset(gen, 0, AUDIT_JOURNAL_GEN);
	*off = 0;
	if ((r = meta_get(l, META_JOURNAL, NULL, b, sizeof(b), &n,
	    &found)) != 0)
		return dberr(l, e, "journal position");
	if (!found)
		return 0;
	if (n != sizeof(b))
		return kerr_set(e, KERR_FORMAT, "audit log: stored journal "
		    "position has %zu bytes", n);
	memcpy(gen, b, AUDIT_JOURNAL_GEN);
	for (size_t i = 0; i < 8; i++)
		*off = *off << 8 | b[AUDIT_JOURNAL_GEN + i];
	return 0;
}

/*
 * Inside a write transaction: append, store the journal position if gen
 * is non-NULL, sign a head if key is non-NULL (into *h).
 */
static int
append_tx(struct auditlog *l, struct audit_event *ev, size_t n,
    const struct identity *key, const uint8_t *gen, uint64_t off,
    struct audit_head *h, struct kerr *e)
{
	int r;

	if (n > AUDIT_BATCH_MAX)
		return kerr_set(e, KERR_TOOBIG, "audit: %zu events in one "
		    "batch (at most %d)", n, AUDIT_BATCH_MAX);
	if ((r = load_frontier(l)) != 0)
		return kerr_set(e, r, "audit log: stored frontier unreadable");
	if ((r = append_locked(l, ev, n, e)) != 0)
		return r;
	if ((r = save_frontier(l)) != 0)
		return dberr(l, e, "frontier");
	if (gen != NULL) {
		uint8_t b[AUDIT_JOURNAL_GEN + 8];

		memcpy(b, gen, AUDIT_JOURNAL_GEN);
		for (size_t i = 0; i < 8; i++)
			b[AUDIT_JOURNAL_GEN + i] = (uint8_t)(off >> (56 - 8 * i));
		if ((r = meta_set(l, META_JOURNAL, 0, b, sizeof(b))) != 0)
			return dberr(l, e, "journal position");
	}
	if (key != NULL && (r = sign_at(l, key, l->c.size, h)) != 0)
		return kerr_set(e, r, "audit log: cannot sign head");
	return 0;
}

int
audit_append(struct auditlog *l, struct audit_event *ev, size_t n,
    const struct identity *key, struct kerr *e)
{
	struct audit_head h;
	int r;

	if ((r = begin(l, 1, e)) != 0)
		return r;
	if ((r = append_tx(l, ev, n, key, NULL, 0, &h, e)) != 0) {
		rollback(l);
		return r;
	}
	if ((r = commit(l, e)) != 0)
		return r;
	if (key != NULL)
		witness_write(l, &h);
	return 0;
}

int
audit_journal_txn(struct auditlog *l, const struct identity *key,
    audit_journal_fill fill, void *ctx, size_t *added, struct kerr *e)
{
	struct audit_journal_take t;
	struct audit_head h;
	int r;

	*added = 0;
	memset(&t, 0, sizeof(t));
	if ((r = begin(l, 1, e)) != 0)
		return r;
	if ((r = journal_pos(l, t.gen, &t.off, e)) != 0)
		goto fail;
	if ((r = fill(ctx, &t, e)) != 0)
		goto fail;
	if (t.n == 0 && !t.moved) {
		rollback(l);	/* nothing new */
		return 0;
	}
	if ((r = append_tx(l, t.ev, t.n, t.n > 0 ? key : NULL, t.gen, t.off,
	    &h, e)) != 0)
		goto fail;
	if ((r = commit(l, e)) != 0)
		return r;
	if (key != NULL && t.n > 0)
		witness_write(l, &h);
	*added = t.n;
	return 0;
fail:
	rollback(l);
	return r;
}

int
audit_sign_head(struct auditlog *l, const struct identity *key,
    struct audit_head *out, struct kerr *e)
{
	struct audit_head h;
	int r;

	if ((r = begin(l, 1, e)) != 0)
		return r;
	if ((r = load_frontier(l)) != 0 ||
	    (r = sign_at(l, key, l->c.size, &h)) != 0) {
		kerr_set(e, r, "audit log: cannot sign head");
		rollback(l);
		return r;
	}
	if ((r = commit(l, e)) != 0)
		return r;
	witness_write(l, &h);
	if (out != NULL)
		*out = h;
	return 0;
}

int
audit_size(struct auditlog *l, uint64_t *size)
{
	int r;

	*size = 0;
	if ((r = begin(l, 0, NULL)) != 0)
		return r;
	r = load_frontier(l);
	*size = l->c.size;
	(void)commit(l, NULL);
	return r;
}

static int
event_row(sqlite3_stmt *s, struct audit_event *ev, uint8_t leaf[MERKLE_HASH])
{
	memset(ev, 0, sizeof(*ev));
	ev->seq = (uint64_t)sqlite3_column_int64(s, 0);
	ev->time_ns = (uint64_t)sqlite3_column_int64(s, 1);
	text_copy(s, 2, ev->node, AUDIT_NODE_MAX);
	text_copy(s, 3, ev->actor, AUDIT_ACTOR_MAX);
	text_copy(s, 4, ev->source, AUDIT_SOURCE_MAX);
	text_copy(s, 5, ev->action, AUDIT_ACTION_MAX);
	text_copy(s, 6, ev->object, AUDIT_OBJECT_MAX);
	text_copy(s, 7, ev->outcome, AUDIT_OUTCOME_MAX);
	text_copy(s, 8, ev->detail, AUDIT_DETAIL_MAX);
	if (leaf != NULL && blob_copy(s, 9, leaf, MERKLE_HASH) != 0)
		memset(leaf, 0, MERKLE_HASH);	/* edited: never matches */
	return 0;
}

int
audit_get(struct auditlog *l, uint64_t seq, struct audit_event *ev)
{
	sqlite3_stmt *s = stmt(l, S_ENTRY_GET);
	int r;

	if (s == NULL)
		return KERR_IO;
	if (seq > SIZE_MAX_DB)
		return KERR_INVALID;
	sqlite3_bind_int64(s, 1, (int64_t)seq);
	if ((r = step(s)) == 1)
		r = event_row(s, ev, NULL);
	else if (r == 0)
		r = KERR_INVALID;
	done(s);
	return r;
}

/* ---- proofs ----------------------------------------------------------------- */

/* merkle_range_fn over the stored leaves and subtrees. */
static int
range_fn(void *ctx, uint64_t a, uint64_t b, uint8_t out[MERKLE_HASH])
{
	struct auditlog *l = ctx;
	uint64_t w = b - a;
	unsigned level = (unsigned)__builtin_ctzll(w);
	sqlite3_stmt *s;
	int r;

	if (w == 0 || (w & (w - 1)) != 0 || a % w != 0 || b > SIZE_MAX_DB)
		return KERR_INVALID;
	if (level == 0) {
		if ((s = stmt(l, S_ENTRY_LEAF)) == NULL)
			return KERR_IO;
		sqlite3_bind_int64(s, 1, (int64_t)a);
	} else {
		if ((s = stmt(l, S_TREE_GET)) == NULL)
			return KERR_IO;
		sqlite3_bind_int(s, 1, (int)level);
		sqlite3_bind_int64(s, 2, (int64_t)(a >> level));
	}
	if ((r = step(s)) == 1)
		r = blob_copy(s, 0, out, MERKLE_HASH);
	else if (r == 0)
		r = KERR_INVALID;	/* a missing row: the log was cut */
	done(s);
	return r;
}

int
audit_root_at(struct auditlog *l, uint64_t size, uint8_t root[static MERKLE_HASH])
{
	return merkle_tree_root(root, size, range_fn, l);
}

int
audit_inclusion_proof(struct auditlog *l, uint64_t seq, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH], size_t *n)
{
	return merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, n, seq, size,
	    range_fn, l);
}

int
audit_consistency_proof(struct auditlog *l, uint64_t m, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH], size_t *n)
{
	return merkle_consistency_proof(proof, MERKLE_PROOF_MAX, n, m, size,
	    range_fn, l);
}

/* ---- verify ------------------------------------------------------------------ */

struct vstate {
	struct auditlog *l;
	uint64_t tree_bad;	/* first leaf of the first stored subtree
				   that differs from the recomputed one */
};

static int
check_tree(void *ctx, unsigned level, uint64_t idx, const uint8_t *h)
{
	struct vstate *v = ctx;
	uint8_t stored[MERKLE_HASH];
	uint64_t a = idx << level;

	if (v->tree_bad != UINT64_MAX)
		return 0;
	if (range_fn(v->l, a, a + (1ull << level), stored) != 0 ||
	    sodium_memcmp(stored, h, MERKLE_HASH) != 0)
		v->tree_bad = a;
	return 0;
}

static int
bad(struct audit_verify *res, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(struct audit_verify *res, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	res->bad = seq;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
	return KERR_MISMATCH;
}

/*
 * One pass over the rows in seq order, recomputing the tree, with the
 * heads (also in size order) checked as their sizes are reached.  The first
 * bad entry is the smallest of: the first row whose fields do not give its
 * stored leaf hash (edited), the first seq missing (deleted), and the first
 * entry not covered by the last head whose root still matched (for edits
 * that also rewrote the leaf hash; exact when a head was signed after every
 * event, as the CLI does).
 */
int
audit_verify_log(struct auditlog *l, const uint8_t pk[static KEY_SIGN_PK],
    struct audit_verify *res)
{
	struct merkle_compact c;
	struct vstate v = { l, UINT64_MAX };
	struct audit_event ev;
	struct audit_head h, wit;
	sqlite3_stmt *es = NULL, *hs = NULL;
	uint8_t stored[MERKLE_HASH], leaf[MERKLE_HASH], root[MERKLE_HASH];
	uint64_t expect = 0, field_bad = UINT64_MAX, good = 0, shipped = 0;
	char field_why[300] = "";
	int have_head = 0, have_wit = 0, found, r, rows_done = 0;
	int head_bad = 0;
	uint64_t head_bad_size = 0;

	memset(res, 0, sizeof(*res));
	res->bad = UINT64_MAX;
	merkle_compact_init(&c);
	/* the witness file, if any */
	if (l->witness != NULL) {
		uint8_t b[HEAD_BYTES + 1];
		int fd = open(l->witness, O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			ssize_t n = read(fd, b, sizeof(b));

			close(fd);
			if (n != HEAD_BYTES || get_head_bytes(&wit, b,
			    HEAD_BYTES) != 0 || audit_head_verify(&wit,
			    l->node, pk) != 0)
				return bad(res, UINT64_MAX, "the witness file "
				    "%s is not a head signed by this node",
				    l->witness);
			have_wit = 1;
		}
	}
	if ((r = begin(l, 0, NULL)) != 0)
		return r;
	if ((r = meta_get(l, "shipped", &shipped, NULL, 0, NULL, &found)) != 0)
		goto out;
	if ((es = stmt(l, S_ENTRY_SCAN)) == NULL ||
	    (hs = stmt(l, S_HEAD_SCAN)) == NULL) {
		r = KERR_IO;
		goto out;
	}
	/* next head */
#define NEXT_HEAD() do { \
		if ((r = step(hs)) < 0) goto out; \
		have_head = r == 1; \
		if (have_head && head_row(hs, &h) != 0) { \
			r = bad(res, UINT64_MAX, "a head row is malformed"); \
			goto out; \
		} \
	} while (0)
	NEXT_HEAD();
	for (;;) {
		/* heads at the current size */
		while (have_head && h.size == c.size) {
			res->heads++;
			if (audit_head_verify(&h, l->node, pk) != 0) {
				r = bad(res, good, "head at size %" PRIu64 " has "
				    "a bad signature (the head table was "
				    "edited)", h.size);
				goto out;
			}
			merkle_compact_root(&c, root);
			if (sodium_memcmp(root, h.root, MERKLE_HASH) != 0) {
				head_bad = 1;
				head_bad_size = h.size;
				break;
			}
			good = h.size;
			NEXT_HEAD();
		}
		if (head_bad)
			break;
		if (have_wit && wit.size == c.size) {
			merkle_compact_root(&c, root);
			if (sodium_memcmp(root, wit.root, MERKLE_HASH) != 0) {
				head_bad = 1;
				head_bad_size = wit.size;
				break;
			}
		}
		if (rows_done || (r = step(es)) == 0) {
			rows_done = 1;
			break;
		}
		if (r < 0)
			goto out;
		event_row(es, &ev, stored);
		if (ev.seq != expect) {
			/* a row is missing, or one was inserted past a gap */
			if (field_bad > expect)
				r = bad(res, expect, "entry %" PRIu64 " is "
				    "missing: the next row is %" PRIu64
				    " (deleted, or rows renumbered)", expect,
				    ev.seq);
			else
				r = bad(res, field_bad, "%s", field_why);
			goto out;
		}
		expect++;
		if ((r = audit_event_leaf(leaf, &ev)) != 0)
			memset(leaf, 0xff, sizeof(leaf));
		if (field_bad == UINT64_MAX && (r != 0 ||
		    sodium_memcmp(leaf, stored, MERKLE_HASH) != 0 ||
		    strcmp(ev.node, l->node) != 0)) {
			field_bad = ev.seq;
			snprintf(field_why, sizeof(field_why), "entry %" PRIu64
			    " does not match its leaf hash: its fields were "
			    "edited, or it was moved", ev.seq);
		}
		r = 0;
		if ((r = append_leaf(&c, leaf, check_tree, &v)) != 0)
			goto out;
		res->entries++;
	}
	if (head_bad) {
		uint64_t at = good;

		if (field_bad < at || (field_bad < head_bad_size &&
		    field_bad != UINT64_MAX))
			r = bad(res, field_bad, "%s", field_why);
		else if (v.tree_bad != UINT64_MAX && v.tree_bad >= good &&
		    v.tree_bad < head_bad_size && head_bad_size - good > 1)
			r = bad(res, v.tree_bad, "entries %" PRIu64 "..%" PRIu64
			    " do not give the signed head at size %" PRIu64
			    "; the stored tree first differs at entry %" PRIu64,
			    good, head_bad_size - 1, head_bad_size, v.tree_bad);
		else
			r = bad(res, at, "entries %" PRIu64 "..%" PRIu64 " do "
			    "not give the root signed at size %" PRIu64
			    ": entry %" PRIu64 " is the first not covered by a "
			    "matching head (edited, inserted or reordered)",
			    good, head_bad_size - 1, head_bad_size, at);
		goto out;
	}
	if (field_bad != UINT64_MAX) {
		r = bad(res, field_bad, "%s", field_why);
		goto out;
	}
	if (have_head) {
		r = bad(res, c.size, "log truncated: a head was signed at size %"
		    PRIu64 " but only %" PRIu64 " entries are left (entry %"
		    PRIu64 " on are gone)", h.size, c.size, c.size);
		goto out;
	}
	if (have_wit && wit.size > c.size) {
		r = bad(res, c.size, "log truncated: the witness head was signed "
		    "at size %" PRIu64 " but only %" PRIu64 " entries are left",
		    wit.size, c.size);
		goto out;
	}
	if (have_wit) {
		struct audit_head last;

		if ((r = audit_latest_head(l, &last, &found)) != 0)
			goto out;
		if (!found || last.size < wit.size) {
			r = bad(res, UINT64_MAX, "signed heads were deleted: the "
			    "witness head at size %" PRIu64 " is not in the "
			    "head table", wit.size);
			goto out;
		}
	}
	if (shipped > c.size) {
		r = bad(res, c.size, "log truncated: HQ acknowledged %" PRIu64
		    " entries but only %" PRIu64 " are left", shipped, c.size);
		goto out;
	}
	{
		struct merkle_compact sc;

		/* the stored frontier must be the recomputed one */
		if ((r = load_frontier(l)) != 0 || l->c.size != c.size) {
			r = bad(res, c.size < l->c.size ? c.size : l->c.size,
			    "the stored frontier (size %" PRIu64 ") disagrees "
			    "with the %" PRIu64 " rows", l->c.size, c.size);
			goto out;
		}
		sc = l->c;
		merkle_compact_root(&sc, leaf);
		merkle_compact_root(&c, root);
		if (sodium_memcmp(leaf, root, MERKLE_HASH) != 0) {
			r = bad(res, UINT64_MAX, "the stored frontier disagrees "
			    "with the rows");
			goto out;
		}
	}
	r = 0;
out:
#undef NEXT_HEAD
	done(es);
	done(hs);
	(void)commit(l, NULL);
	return r;
}

/* ---- shipping ---------------------------------------------------------------- */

int
audit_shipped(struct auditlog *l, uint64_t *acked)
{
	int found;

	*acked = 0;
	return meta_get(l, "shipped", acked, NULL, 0, NULL, &found);
}

int
audit_mark_shipped(struct auditlog *l, uint64_t upto)
{
	uint64_t old = 0;
	int found, r;

	if ((r = begin(l, 1, NULL)) != 0)
		return r;
	if ((r = load_frontier(l)) != 0 ||
	    (r = meta_get(l, "shipped", &old, NULL, 0, NULL, &found)) != 0)
		goto fail;
	if (upto > l->c.size) {
		r = KERR_INVALID;
		goto fail;
	}
	if (upto > old && (r = meta_set(l, "shipped", upto, NULL, 0)) != 0)
		goto fail;
	return commit(l, NULL);
fail:
	rollback(l);
	return r;
}

static int
hq_seen_size(struct auditlog *l, uint64_t *size)
{
	struct audit_head h;
	int found, r;

	*size = 0;
	if ((r = audit_hq_head(l, &h, &found)) == 0 && found)
		*size = h.size;
	return r;
}

int
audit_ship_prepare(struct auditlog *l, const struct identity *key, size_t max,
    struct buf *out, uint64_t *upto, struct kerr *e)
{
	struct ship_batch *b;
	sqlite3_stmt *s;
	uint64_t acked = 0, end;
	int found, r;

	*upto = 0;
	if (max == 0 || max > AUDIT_BATCH_MAX)
		max = AUDIT_BATCH_MAX;
	/*
	 * Nothing new since the last ack: answered without the write lock
	 * (kodend's loop asks every second; another process may hold it).
	 */
	{
		uint64_t size;

		if ((r = audit_shipped(l, &acked)) != 0 ||
		    (r = audit_size(l, &size)) != 0)
			return dberr(l, e, "shipping");
		*upto = acked;
		if (size <= acked)
			return 0;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return KERR_NOMEM;
	if ((r = begin(l, 1, e)) != 0)
		goto out;
	if ((r = load_frontier(l)) != 0 ||
	    (r = meta_get(l, "shipped", &acked, NULL, 0, NULL, &found)) != 0 ||
	    (r = hq_seen_size(l, &b->hq_seen)) != 0)
		goto fail;
	*upto = acked;
	end = l->c.size - acked > max ? acked + max : l->c.size;
	if (end <= acked)
		goto fail_ok;
	if (key != NULL) {
		if ((r = sign_at(l, key, end, &b->head)) != 0)
			goto fail;
	} else {
		/* without the key: the largest stored head in (acked, end] */
		sqlite3_stmt *hs = stmt(l, S_HEAD_SCAN);

		found = 0;
		if (hs == NULL) {
			r = KERR_IO;
			goto fail;
		}
		while ((r = step(hs)) == 1) {
			struct audit_head h;

			if (head_row(hs, &h) == 0 && h.size > acked &&
			    h.size <= end) {
				b->head = h;
				found = 1;
			}
		}
		done(hs);
		if (r < 0)
			goto fail;
		if (!found)
			goto fail_ok;
		end = b->head.size;
	}
	snprintf(b->node, sizeof(b->node), "%s", l->node);
	b->first = acked;
	if (acked > 0 && (r = audit_consistency_proof(l, acked, end, b->proof,
	    &b->nproof)) != 0)
		goto fail;
	b->n = (size_t)(end - acked);
	if ((b->ev = calloc(b->n, sizeof(*b->ev))) == NULL) {
		r = KERR_NOMEM;
		goto fail;
	}
	if ((s = stmt(l, S_ENTRY_RANGE)) == NULL) {
		r = KERR_IO;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, (int64_t)acked);
	sqlite3_bind_int64(s, 2, (int64_t)end);
	for (size_t i = 0; i < b->n; i++) {
		if ((r = step(s)) != 1) {
			done(s);
			r = kerr_set(e, KERR_MISMATCH, "audit log: entry %"
			    PRIu64 " is missing", acked + i);
			goto fail;
		}
		event_row(s, &b->ev[i], NULL);
	}
	done(s);
	if ((r = commit(l, e)) != 0)
		goto out;
	if (key != NULL)
		witness_write(l, &b->head);
	if ((r = ship_batch_encode(out, b)) != 0) {
		kerr_set(e, r, "audit: cannot encode batch: %s", kerr_str(r));
		goto out;
	}
	*upto = end;
	goto out;
fail_ok:
	r = 0;
fail:
	rollback(l);
out:
	ship_batch_free(b);
	free(b);
	return r;
}

/* ---- HQ: ingest --------------------------------------------------------------- */

struct rnode {
	int found;
	uint8_t pk[KEY_SIGN_PK];
	struct audit_head head;
	struct merkle_compact c;
	uint64_t hq_seq;
};

static int
rnode_get(struct auditlog *l, const char *node, struct rnode *rn)
{
	sqlite3_stmt *s = stmt(l, S_RNODE_GET);
	int r;

	memset(rn, 0, sizeof(*rn));
	merkle_compact_init(&rn->c);
	if (s == NULL)
		return KERR_IO;
	sqlite3_bind_text(s, 1, node, -1, SQLITE_STATIC);
	if ((r = step(s)) == 1) {
		const void *p = sqlite3_column_blob(s, 5);
		size_t n = (size_t)sqlite3_column_bytes(s, 5);

		rn->found = 1;
		rn->head.size = (uint64_t)sqlite3_column_int64(s, 1);
		rn->head.time_ns = (uint64_t)sqlite3_column_int64(s, 2);
		rn->hq_seq = (uint64_t)sqlite3_column_int64(s, 6);
		if (blob_copy(s, 0, rn->pk, KEY_SIGN_PK) != 0 ||
		    blob_copy(s, 3, rn->head.root, MERKLE_HASH) != 0 ||
		    blob_copy(s, 4, rn->head.sig, AUDIT_SIG) != 0 ||
		    p == NULL || frontier_decode(&rn->c, p, n) != 0 ||
		    rn->c.size != rn->head.size)
			r = KERR_FORMAT;
		else
			r = 0;
	}
	done(s);
	return r;
}

static int
rnode_put(struct auditlog *l, const char *node, const struct rnode *rn)
{
	sqlite3_stmt *s = stmt(l, S_RNODE_PUT);
	uint8_t f[FRONTIER_MAX];
	size_t fn = frontier_encode(f, &rn->c);
	int r;

	if (s == NULL)
		return KERR_IO;
	sqlite3_bind_text(s, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, rn->pk, KEY_SIGN_PK, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)rn->head.size);
	sqlite3_bind_int64(s, 4, (int64_t)rn->head.time_ns);
	sqlite3_bind_blob(s, 5, rn->head.root, MERKLE_HASH, SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, rn->head.sig, AUDIT_SIG, SQLITE_STATIC);
	sqlite3_bind_blob(s, 7, f, (int)fn, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, (int64_t)rn->hq_seq);
	r = step(s);
	done(s);
	return r < 0 ? r : 0;
}

static int
rhead_put(struct auditlog *l, const char *node, const struct audit_head *h)
{
	sqlite3_stmt *s = stmt(l, S_RHEAD_INS);
	int r;

	if (s == NULL)
		return KERR_IO;
	sqlite3_bind_text(s, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)h->size);
	sqlite3_bind_int64(s, 3, (int64_t)h->time_ns);
	sqlite3_bind_blob(s, 4, h->root, MERKLE_HASH, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, h->sig, AUDIT_SIG, SQLITE_STATIC);
	r = step(s);
	done(s);
	return r < 0 ? r : 0;
}

static int
rhead_at(struct auditlog *l, const char *node, uint64_t size,
    struct audit_head *h, int *found)
{
	sqlite3_stmt *s = stmt(l, S_RHEAD_AT);
	int r;

	*found = 0;
	if (s == NULL)
		return KERR_IO;
	sqlite3_bind_text(s, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)size);
	if ((r = step(s)) == 1) {
		r = head_row(s, h);
		*found = r == 0;
	}
	done(s);
	return r < 0 ? r : 0;
}

static int
rentry_leaf(struct auditlog *l, const char *node, uint64_t seq,
    uint8_t out[static MERKLE_HASH])
{
	sqlite3_stmt *s = stmt(l, S_RENTRY_LEAF);
	int r;

	if (s == NULL)
		return KERR_IO;
	sqlite3_bind_text(s, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	if ((r = step(s)) == 1)
		r = blob_copy(s, 0, out, MERKLE_HASH);
	else if (r == 0)
		r = KERR_INVALID;
	done(s);
	return r;
}

int
audit_node_head(struct auditlog *hq, const char *node, struct audit_head *h,
    int *found)
{
	struct rnode rn;
	int r;

	*found = 0;
	if ((r = rnode_get(hq, node, &rn)) != 0)
		return r;
	*found = rn.found;
	*h = rn.head;
	return 0;
}

/*
 * The checks and writes of one batch, inside HQ's write transaction (the
 * caller holds it and has verified nothing yet but the decoding).  On
 * error nothing of this batch may be kept: the caller rolls back (to its
 * savepoint).  *acked is the node's accepted size.
 */
static int
ingest_locked(struct auditlog *hq, const char *node,
    const uint8_t node_pk[static KEY_SIGN_PK], struct ship_batch *b,
    uint64_t *acked, struct kerr *e)
{
	struct rnode rn;
	struct audit_head base;
	struct audit_event gev;
	uint8_t leaf[MERKLE_HASH], stored[MERKLE_HASH], root[MERKLE_HASH];
	sqlite3_stmt *s;
	int r, found;

	if ((r = rnode_get(hq, node, &rn)) != 0)
		return kerr_set(e, r, "audit: stored state of %s unreadable",
		    node);
	if (b->head.size < rn.head.size)
		return kerr_set(e, KERR_INVALID, "audit batch from %s: head at "
		    "size %" PRIu64 " is older than the accepted %" PRIu64
		    " (replayed)", node, b->head.size, rn.head.size);
	if (rn.found && b->head.size == rn.head.size) {
		if (sodium_memcmp(b->head.root, rn.head.root, MERKLE_HASH) != 0)
			return kerr_set(e, KERR_MISMATCH, "audit batch from %s: "
			    "a different root at the accepted size %" PRIu64
			    " (the node's history changed)", node,
			    b->head.size);
		*acked = rn.head.size;	/* a resend: already stored */
		return 0;
	}
	if (b->first > rn.head.size)
		return kerr_set(e, KERR_INVALID, "audit batch from %s starts at "
		    "entry %" PRIu64 " but HQ holds only %" PRIu64, node,
		    b->first, rn.head.size);
	/* consistency with the head the batch is based on */
	if (b->first > 0) {
		if (b->first == rn.head.size)
			base = rn.head;
		else if ((r = rhead_at(hq, node, b->first, &base, &found)) != 0 ||
		    !found)
			return kerr_set(e, KERR_INVALID, "audit batch from %s: no "
			    "accepted head at size %" PRIu64, node, b->first);
		if (merkle_verify_consistency(b->first, b->head.size, base.root,
		    b->head.root, (const uint8_t (*)[MERKLE_HASH])b->proof,
		    b->nproof) != 0)
			return kerr_set(e, KERR_MISMATCH, "audit batch from %s: "
			    "the head at size %" PRIu64 " is not consistent with "
			    "the accepted head at size %" PRIu64, node,
			    b->head.size, b->first);
	}
	/* entries HQ holds already must be the same; the rest extend the tree */
	for (size_t i = 0; i < b->n; i++) {
		struct audit_event *ev = &b->ev[i];

		if ((r = audit_event_leaf(leaf, ev)) != 0)
			return kerr_set(e, r, "audit batch from %s: entry %" PRIu64
			    " cannot be encoded", node, ev->seq);
		if (ev->seq < rn.head.size) {
			if (rentry_leaf(hq, node, ev->seq, stored) != 0 ||
			    sodium_memcmp(stored, leaf, MERKLE_HASH) != 0)
				return kerr_set(e, KERR_MISMATCH, "audit batch "
				    "from %s: entry %" PRIu64 " differs from the "
				    "copy HQ holds", node, ev->seq);
			continue;
		}
		if ((r = append_leaf(&rn.c, leaf, NULL, NULL)) != 0)
			return r;
		if ((s = stmt(hq, S_RENTRY_INS)) == NULL)
			return dberr(hq, e, "ingest");
		sqlite3_bind_text(s, 1, node, -1, SQLITE_STATIC);
		(void)bind_event(s, 2, ev, leaf);
		r = step(s);
		done(s);
		if (r < 0)
			return dberr(hq, e, "ingest");
	}
	merkle_compact_root(&rn.c, root);
	if (rn.c.size != b->head.size ||
	    sodium_memcmp(root, b->head.root, MERKLE_HASH) != 0)
		return kerr_set(e, KERR_MISMATCH, "audit batch from %s: its "
		    "entries do not give the root of its head at size %" PRIu64,
		    node, b->head.size);
	/* the head becomes a leaf of the global log */
	if ((r = load_frontier(hq)) != 0)
		return r;
	memset(&gev, 0, sizeof(gev));
	audit_event_set(&gev, "kodend", node, "node-head", node, "ok", NULL);
	ship_node_head_detail(gev.detail, &b->head);
	if ((r = append_locked(hq, &gev, 1, e)) != 0 ||
	    (r = save_frontier(hq)) != 0)
		return r;
	memcpy(rn.pk, node_pk, KEY_SIGN_PK);
	rn.head = b->head;
	rn.hq_seq = gev.seq;
	if ((r = rnode_put(hq, node, &rn)) != 0 ||
	    (r = rhead_put(hq, node, &b->head)) != 0)
		return dberr(hq, e, "ingest");
	*acked = b->head.size;
	return 0;
}

/* Decode and check the signature: CPU only, before any lock is taken. */
static int
ingest_decode(struct ship_batch *b, const char *node,
    const uint8_t node_pk[static KEY_SIGN_PK], const uint8_t *msg, size_t len,
    uint64_t *hq_seen, struct kerr *e)
{
	int r;

	if ((r = ship_batch_decode(b, msg, len, e)) != 0)
		return r;
	*hq_seen = b->hq_seen;
	if (strcmp(b->node, node) != 0)
		return kerr_set(e, KERR_INVALID, "audit batch from %s names node "
		    "%s", node, b->node);
	if (b->head.size > SIZE_MAX_DB)
		return kerr_set(e, KERR_INVALID, "audit batch: size out of range");
	if (audit_head_verify(&b->head, node, node_pk) != 0)
		return kerr_set(e, KERR_SIGNATURE, "audit batch from %s: the head "
		    "at size %" PRIu64 " is not signed by its node key", node,
		    b->head.size);
	return 0;
}

int
audit_ingest(struct auditlog *hq, const char *node,
    const uint8_t node_pk[static KEY_SIGN_PK], const uint8_t *msg, size_t len,
    const struct identity *key, uint64_t *acked, uint64_t *hq_seen,
    struct kerr *e)
{
	struct audit_ingest_item it;
	int r;

	memset(&it, 0, sizeof(it));
	it.node = node;
	it.node_pk = node_pk;
	it.msg = msg;
	it.len = len;
	r = audit_ingest_many(hq, &it, 1, key, e);
	*acked = it.acked;
	*hq_seen = it.hq_seen;
	if (r == 0 && it.result != 0) {
		if (e != NULL)
			*e = it.err;
		r = it.result;
	}
	return r;
}

int
audit_ingest_many(struct auditlog *hq, struct audit_ingest_item *it, size_t n,
    const struct identity *key, struct kerr *e)
{
	struct ship_batch *b;
	struct audit_head gh;
	int r = 0, any = 0;

	if ((b = calloc(n ? n : 1, sizeof(*b))) == NULL)
		return KERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		it[i].acked = it[i].hq_seen = 0;
		it[i].err.msg[0] = '\0';
		it[i].result = ingest_decode(&b[i], it[i].node, it[i].node_pk,
		    it[i].msg, it[i].len, &it[i].hq_seen, &it[i].err);
		any |= it[i].result == 0;
	}
	if (!any)
		goto out;
	if ((r = begin(hq, 1, e)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (it[i].result != 0)
			continue;
		if ((r = run(hq, S_SAVEPOINT, e)) != 0)
			goto fail;
		it[i].result = ingest_locked(hq, it[i].node, it[i].node_pk, &b[i],
		    &it[i].acked, &it[i].err);
		if (it[i].result != 0 && (r = run(hq, S_ROLLBACK_TO, e)) != 0)
			goto fail;
		if ((r = run(hq, S_RELEASE, e)) != 0)
			goto fail;
	}
	if (key != NULL) {
		if ((r = load_frontier(hq)) != 0 ||
		    (r = sign_at(hq, key, hq->c.size, &gh)) != 0)
			goto fail;
	}
	if ((r = commit(hq, e)) != 0)
		goto out;
	if (key != NULL)
		witness_write(hq, &gh);
	goto out;
fail:
	rollback(hq);
	for (size_t i = 0; i < n; i++)
		if (it[i].result == 0)
			it[i].acked = 0;
out:
	for (size_t i = 0; i < n; i++)
		ship_batch_free(&b[i]);
	free(b);
	return r;
}

int
audit_log_envelope(struct auditlog *hq, const uint8_t id[16],
    const char *origin, const uint8_t *env, size_t env_len, struct kerr *e)
{
	struct audit_event ev;
	uint8_t h[32];
	char idhex[33], hhex[65], detail[128];

	memset(&ev, 0, sizeof(ev));
	crypto_hash_sha256(h, env, env_len);
	sodium_bin2hex(idhex, sizeof(idhex), id, 16);
	sodium_bin2hex(hhex, sizeof(hhex), h, 32);
	snprintf(detail, sizeof(detail), "sha256=%s", hhex);
	audit_event_set(&ev, "kodend", origin, "envelope", idhex, "ok", detail);
	return audit_append(hq, &ev, 1, NULL, e);
}

int
audit_log_directory(struct auditlog *hq, uint64_t version,
    const uint8_t *roster, size_t roster_len, const char *what, struct kerr *e)
{
	struct audit_event ev;
	uint8_t h[32];
	char hhex[65], obj[32], detail[AUDIT_DETAIL_MAX + 1];

	memset(&ev, 0, sizeof(ev));
	crypto_hash_sha256(h, roster, roster_len);
	sodium_bin2hex(hhex, sizeof(hhex), h, 32);
	snprintf(obj, sizeof(obj), "roster:%" PRIu64, version);
	snprintf(detail, sizeof(detail), "sha256=%s %s", hhex,
	    what != NULL ? what : "");
	audit_event_set(&ev, "kodend", "directory", "dir-change", obj, "ok",
	    detail);
	return audit_append(hq, &ev, 1, NULL, e);
}

int
audit_hq_head_msg(struct auditlog *hq, const struct identity *key,
    uint64_t since, struct buf *out, struct kerr *e)
{
	struct ship_hqhead m;
	int found, r;

	memset(&m, 0, sizeof(m));
	if (key != NULL && (r = audit_sign_head(hq, key, NULL, e)) != 0)
		return r;
	if ((r = begin(hq, 0, e)) != 0)
		return r;
	if ((r = audit_latest_head(hq, &m.head, &found)) != 0)
		goto out;
	if (!found) {
		r = kerr_set(e, KERR_INVALID, "audit: HQ has signed no head yet");
		goto out;
	}
	snprintf(m.hq, sizeof(m.hq), "%s", hq->node);
	if (since > 0 && since < m.head.size) {
		m.since = since;
		if ((r = audit_consistency_proof(hq, since, m.head.size,
		    m.proof, &m.nproof)) != 0)
			goto out;
	} else if (since == m.head.size)
		m.since = since;
	r = ship_hqhead_encode(out, &m);
out:
	(void)commit(hq, NULL);
	return r;
}

/* ---- post: HQ heads ----------------------------------------------------------- */

int
audit_hq_head(struct auditlog *post, struct audit_head *h, int *found)
{
	uint8_t b[HEAD_BYTES];
	size_t n = 0;
	int r;

	memset(h, 0, sizeof(*h));
	if ((r = meta_get(post, "hq_head", NULL, b, sizeof(b), &n, found)) != 0)
		return r;
	if (*found && get_head_bytes(h, b, n) != 0)
		return KERR_FORMAT;
	return 0;
}

int
audit_check_hq_head_pair(const struct audit_head *last,
    const struct audit_head *h, const uint8_t (*proof)[MERKLE_HASH],
    size_t nproof)
{
	if (last == NULL || last->size == 0)
		return 0;
	if (h->size < last->size)
		return KERR_INVALID;	/* older: nothing to check against */
	if (h->size == last->size)
		return sodium_memcmp(h->root, last->root, MERKLE_HASH) == 0 ?
		    0 : KERR_MISMATCH;
	return merkle_verify_consistency(last->size, h->size, last->root,
	    h->root, proof, nproof) == 0 ? 0 : KERR_MISMATCH;
}

int
audit_check_hq_head(struct auditlog *post, const uint8_t hq_pk[static KEY_SIGN_PK],
    const uint8_t *msg, size_t len, uint64_t *hq_size, struct kerr *e)
{
	struct ship_hqhead m;
	struct audit_head last;
	uint8_t b[HEAD_BYTES];
	int found, r;

	if (hq_size != NULL)
		*hq_size = 0;
	if ((r = ship_hqhead_decode(&m, msg, len, e)) != 0)
		return r;
	if (audit_head_verify(&m.head, m.hq, hq_pk) != 0)
		return kerr_set(e, KERR_SIGNATURE, "audit: HQ head at size %"
		    PRIu64 " is not signed by HQ's key", m.head.size);
	if ((r = begin(post, 1, e)) != 0)
		return r;
	if ((r = audit_hq_head(post, &last, &found)) != 0)
		goto fail;
	if (found && last.size > 0 && m.head.size > last.size &&
	    m.since != last.size) {
		r = kerr_set(e, KERR_INVALID, "audit: HQ head proof is from size %"
		    PRIu64 ", this post last saw %" PRIu64 ": ask again",
		    m.since, last.size);
		goto fail;
	}
	r = audit_check_hq_head_pair(found ? &last : NULL, &m.head,
	    (const uint8_t (*)[MERKLE_HASH])m.proof, m.nproof);
	if (r == KERR_INVALID) {	/* an older head: keep ours */
		if (hq_size != NULL)
			*hq_size = last.size;
		return commit(post, e);
	}
	if (r == KERR_MISMATCH) {
		struct audit_event ev;
		char d[AUDIT_DETAIL_MAX + 1], ro[65], rn[65];

		memset(&ev, 0, sizeof(ev));
		sodium_bin2hex(ro, sizeof(ro), last.root, MERKLE_HASH);
		sodium_bin2hex(rn, sizeof(rn), m.head.root, MERKLE_HASH);
		snprintf(d, sizeof(d), "HQ %s showed size %" PRIu64 " root %s, "
		    "inconsistent with size %" PRIu64 " root %s seen before",
		    m.hq, m.head.size, rn, last.size, ro);
		audit_event_set(&ev, "kodend", m.hq, "alert", "audit-fork",
		    "fail: HQ log forked", d);
		if ((r = load_frontier(post)) == 0 &&
		    (r = append_locked(post, &ev, 1, NULL)) == 0 &&
		    (r = save_frontier(post)) == 0 &&
		    (r = commit(post, NULL)) == 0) {
			if (hq_size != NULL)
				*hq_size = last.size;
			return kerr_set(e, KERR_MISMATCH, "%s", d);
		}
		goto fail;
	}
	put_head_bytes(b, &m.head);
	if ((r = meta_set(post, "hq_head", 0, b, sizeof(b))) != 0)
		goto fail;
	if ((r = commit(post, e)) != 0)
		return r;
	if (hq_size != NULL)
		*hq_size = m.head.size;
	return 0;
fail:
	rollback(post);
	return r;
}

/* ---- queries ------------------------------------------------------------------ */

static int
is_read(const char *a)
{
	/* "decrypt": kodend opening a telegram with the node key for `read`
	 * or the inbox listing (src/node/nodeapi.c) */
	static const char *const reads[] = { "read", "open", "render",
		"export", "print", "search", "decrypt" };

	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		if (strcmp(a, reads[i]) == 0)
			return 1;
	return 0;
}

int
audit_query(struct auditlog *l, const struct audit_filter *f,
    int (*fn)(void *ctx, const struct audit_event *ev), void *ctx)
{
	/* The local log and HQ's copies, one ordered stream.  Bounds and
	 * names are bound parameters; NULL means "any". */
	static const char q[] =
	    "SELECT seq, time, node, actor, source, action, object, outcome, "
	    "detail FROM ("
	    " SELECT seq, time, node, actor, source, action, object, outcome,"
	    "  detail FROM entry"
	    " UNION ALL"
	    " SELECT seq, time, node, actor, source, action, object, outcome,"
	    "  detail FROM rentry)"
	    " WHERE (?1 IS NULL OR node = ?1) AND (?2 IS NULL OR actor = ?2"
	    "  OR substr(actor, 1, length(?2) + 2) = ?2 || ' [')"
	    " AND (?3 IS NULL OR substr(object, 1, length(?3)) = ?3"
	    "  OR (?6 AND length(object) >= 4 AND"
	    "   substr(?3, 1, length(object)) = object))"
	    " AND time >= ?4 AND (?5 = 0 OR time < ?5)"
	    " ORDER BY time, node, seq";
	sqlite3_stmt *s;
	struct audit_event ev;
	int r;

	if (sqlite3_prepare_v2(l->db, q, -1, &s, NULL) != SQLITE_OK)
		return KERR_IO;
	if (f->node)
		sqlite3_bind_text(s, 1, f->node, -1, SQLITE_STATIC);
	if (f->actor)
		sqlite3_bind_text(s, 2, f->actor, -1, SQLITE_STATIC);
	if (f->object)
		sqlite3_bind_text(s, 3, f->object, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)(f->since_ns > SIZE_MAX_DB ?
	    SIZE_MAX_DB : f->since_ns));
	sqlite3_bind_int64(s, 5, (int64_t)(f->until_ns > SIZE_MAX_DB ?
	    SIZE_MAX_DB : f->until_ns));
	sqlite3_bind_int(s, 6, f->object_prefixes ? 1 : 0);
	while ((r = step(s)) == 1) {
		event_row(s, &ev, NULL);
		if (f->reads_only && !is_read(ev.action))
			continue;
		if ((r = fn(ctx, &ev)) != 0)
			break;
	}
	sqlite3_finalize(s);
	return r;
}

/* ---- proofs for third parties ------------------------------------------------- */

int
audit_prove(struct auditlog *hq, const struct identity *key, const char *node,
    uint64_t seq, struct buf *out, struct kerr *e)
{
	struct ship_proof *pr;
	struct rnode rn;
	uint64_t gseq = seq;
	int found, r;

	if ((pr = calloc(1, sizeof(*pr))) == NULL)
		return KERR_NOMEM;
	if (node != NULL && strcmp(node, hq->node) == 0)
		node = NULL;
	if (key != NULL && (r = audit_sign_head(hq, key, NULL, e)) != 0)
		goto out;
	if ((r = begin(hq, 0, e)) != 0)
		goto out;
	snprintf(pr->hq, sizeof(pr->hq), "%s", hq->node);
	if (node != NULL) {
		uint8_t (*leaves)[MERKLE_HASH] = NULL;
		struct merkle_mem mm;
		sqlite3_stmt *s;
		uint64_t i = 0;

		if ((r = rnode_get(hq, node, &rn)) != 0)
			goto end;
		if (!rn.found || seq >= rn.head.size) {
			r = kerr_set(e, KERR_INVALID, "audit: HQ holds no entry %"
			    PRIu64 " of %s", seq, node);
			goto end;
		}
		pr->two_level = 1;
		snprintf(pr->node, sizeof(pr->node), "%s", node);
		pr->node_head = rn.head;
		gseq = rn.hq_seq;
		if ((s = stmt(hq, S_RENTRY_GET)) == NULL) {
			r = KERR_IO;
			goto end;
		}
		sqlite3_bind_text(s, 1, node, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (int64_t)seq);
		r = step(s);
		if (r == 1)
			event_row(s, &pr->inner, NULL);
		done(s);
		if (r != 1) {
			r = kerr_set(e, KERR_INVALID, "audit: entry %" PRIu64
			    " of %s not found", seq, node);
			goto end;
		}
		/* the post's tree from its leaves (posts' logs are small
		 * next to the global one; docs/audit.md) */
		if (rn.head.size > SIZE_MAX / MERKLE_HASH ||
		    (leaves = malloc((size_t)rn.head.size * MERKLE_HASH)) ==
		    NULL) {
			r = KERR_NOMEM;
			goto end;
		}
		if ((s = stmt(hq, S_RENTRY_LEAVES)) == NULL) {
			free(leaves);
			r = KERR_IO;
			goto end;
		}
		sqlite3_bind_text(s, 1, node, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (int64_t)rn.head.size);
		while ((r = step(s)) == 1 && i < rn.head.size &&
		    (uint64_t)sqlite3_column_int64(s, 0) == i)
			if (blob_copy(s, 1, leaves[i++], MERKLE_HASH) != 0)
				break;
		done(s);
		if (i != rn.head.size) {
			free(leaves);
			r = kerr_set(e, KERR_MISMATCH, "audit: HQ's copy of %s "
			    "is incomplete at entry %" PRIu64, node, i);
			goto end;
		}
		mm.leaves = (const uint8_t (*)[MERKLE_HASH])leaves;
		mm.n = rn.head.size;
		r = merkle_inclusion_proof(pr->inner_path, MERKLE_PROOF_MAX,
		    &pr->inner_npath, seq, rn.head.size, merkle_mem_range, &mm);
		free(leaves);
		if (r != 0)
			goto end;
	}
	if ((r = audit_latest_head(hq, &pr->head, &found)) != 0)
		goto end;
	if (!found || pr->head.size <= gseq) {
		r = kerr_set(e, KERR_INVALID, "audit: no signed head covers "
		    "entry %" PRIu64 " yet%s", gseq, key ? "" :
		    " (needs the node key to sign one)");
		goto end;
	}
	if ((r = audit_get(hq, gseq, &pr->entry)) != 0) {
		r = kerr_set(e, KERR_INVALID, "audit: no entry %" PRIu64, gseq);
		goto end;
	}
	if ((r = audit_inclusion_proof(hq, gseq, pr->head.size, pr->path,
	    &pr->npath)) != 0)
		goto end;
	r = ship_proof_encode(out, pr);
end:
	(void)commit(hq, NULL);
out:
	free(pr);
	return r;
}

int
audit_check_proof(const uint8_t *p, size_t len,
    const uint8_t hq_pk[static KEY_SIGN_PK], struct audit_event *ev,
    struct audit_head *hq_head, char hq_name[static AUDIT_NODE_MAX + 1],
    struct kerr *e)
{
	struct ship_proof *pr;
	uint8_t leaf[MERKLE_HASH];
	char d[AUDIT_DETAIL_MAX + 1];
	int r;

	if ((pr = calloc(1, sizeof(*pr))) == NULL)
		return KERR_NOMEM;
	if ((r = ship_proof_decode(pr, p, len, e)) != 0)
		goto out;
	if (audit_head_verify(&pr->head, pr->hq, hq_pk) != 0) {
		r = kerr_set(e, KERR_SIGNATURE, "the proof's head (%s, size %"
		    PRIu64 ") is not signed by this HQ key", pr->hq,
		    pr->head.size);
		goto out;
	}
	if ((r = audit_event_leaf(leaf, &pr->entry)) != 0 ||
	    merkle_verify_inclusion(leaf, pr->entry.seq, pr->head.size,
	    (const uint8_t (*)[MERKLE_HASH])pr->path, pr->npath,
	    pr->head.root) != 0) {
		r = kerr_set(e, KERR_MISMATCH, "entry %" PRIu64 " is not in "
		    "HQ's signed head at size %" PRIu64 " by this path",
		    pr->entry.seq, pr->head.size);
		goto out;
	}
	*ev = pr->entry;
	if (pr->two_level) {
		ship_node_head_detail(d, &pr->node_head);
		if (strcmp(pr->entry.action, "node-head") != 0 ||
		    strcmp(pr->entry.object, pr->node) != 0 ||
		    strcmp(pr->entry.detail, d) != 0) {
			r = kerr_set(e, KERR_MISMATCH, "the global entry %" PRIu64
			    " does not record %s's head at size %" PRIu64,
			    pr->entry.seq, pr->node, pr->node_head.size);
			goto out;
		}
		if (strcmp(pr->inner.node, pr->node) != 0 ||
		    (r = audit_event_leaf(leaf, &pr->inner)) != 0 ||
		    merkle_verify_inclusion(leaf, pr->inner.seq,
		    pr->node_head.size,
		    (const uint8_t (*)[MERKLE_HASH])pr->inner_path,
		    pr->inner_npath, pr->node_head.root) != 0) {
			r = kerr_set(e, KERR_MISMATCH, "entry %" PRIu64 " of %s "
			    "is not in its head at size %" PRIu64 " by this "
			    "path", pr->inner.seq, pr->node,
			    pr->node_head.size);
			goto out;
		}
		*ev = pr->inner;
	}
	*hq_head = pr->head;
	snprintf(hq_name, AUDIT_NODE_MAX + 1, "%s", pr->hq);
	r = 0;
out:
	free(pr);
	return r;
}
