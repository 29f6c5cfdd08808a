/*
 * What the files of the audit log share (STYLE.md 14, after SQLite's
 * btreeInt.h): the handle, the prepared statements, the stored encodings
 * and the helpers the rooms call one another through.  auditlog.h is the
 * contract; nothing outside src/audit includes this file.
 *
 * The rooms, lowest first (each calls only those above it in this list):
 *
 *   auditlog.c  the database: schema, statements, transactions, rows,
 *               meta, the stored frontier; open and close
 *   append.c    appends, the subtrees they finish, signed heads, the
 *               witness file, proofs over this log
 *   verify.c    audit_verify_log: the whole log recomputed from its rows
 *   post.c      a post's side of the exchange with HQ: the batches it
 *               ships, the HQ heads it accepts
 *   collect.c   HQ's side: ingesting posts' batches, its heads for posts
 *   query.c     audit_query over the local log and HQ's copies
 *   prove.c     inclusion proofs for third parties, and their check
 *
 * Every write is one BEGIN IMMEDIATE transaction that loads the stored
 * frontier into l->c first; functions named *_locked expect to run inside
 * one.  Internal names start with alog_.
 */
#ifndef KODEN_AUDIT_INT_H
#define KODEN_AUDIT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "audit/auditlog.h"
#include "audit/merkle.h"
#include "lib/buf.h"
#include "lib/err.h"

/* The stored frontier: u64 size || popcount(size) hashes. */
#define ALOG_FRONTIER_MAX (8 + MERKLE_COMPACT_MAX * MERKLE_HASH)
/* A stored head (witness file, a post's last HQ head): u64 size || u64
 * time_ns || root || sig. */
#define ALOG_HEAD_BYTES (8 + 8 + MERKLE_HASH + AUDIT_SIG)
/* The journal position: generation || u64 offset. */
#define ALOG_JOURNAL_POS (AUDIT_JOURNAL_GEN + 8)
/* SQLite integers are signed: sizes, seqs and times stop here. */
#define ALOG_SIZE_MAX_DB ((uint64_t)INT64_MAX)

/* Keys of the meta table (docs/audit.md, "Storage"). */
#define META_FRONTIER "frontier"	/* u64 size, blob: the frontier */
#define META_SHIPPED "shipped"		/* u64: entries HQ acknowledged */
#define META_HQ_HEAD "hq_head"		/* blob: the last HQ head seen */
#define META_JOURNAL "journal"		/* blob: the journal position */

/* The prepared statements, by index into struct auditlog's st[]. */
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

/* What alog_begin opens. */
enum alog_tx {
	ALOG_TX_READ,		/* BEGIN: a consistent snapshot */
	ALOG_TX_WRITE,		/* BEGIN IMMEDIATE: the write lock */
};

struct auditlog {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	char node[AUDIT_NODE_MAX + 1];
	char *witness;			/* path or NULL */
	struct merkle_compact c;	/* loaded in each write transaction */
	int in_tx;
};

/* At HQ, what it holds of one post (table rnode). */
struct rnode {
	int found;
	uint8_t pk[KEY_SIGN_PK];
	struct audit_head head;		/* the last accepted head */
	struct merkle_compact c;	/* the post's frontier at head.size */
	uint64_t hq_seq;		/* its "node-head" leaf in HQ's log */
};

/* ---- auditlog.c: SQLite plumbing ------------------------------------------ */

/* The connection's last error as KERR_IO (or KERR_NOMEM), naming what
 * (a failed bind sets it too). */
int alog_dberr(struct auditlog *l, struct kerr *e, const char *what);
/* Statement i, prepared on first use; NULL if it cannot be. */
sqlite3_stmt *alog_stmt(struct auditlog *l, int i);
/* Ready for the next use: reset, bindings cleared (s may be NULL). */
void alog_done(sqlite3_stmt *s);
/* Step a statement: 1 row, 0 done, < 0 error (and the statement reset). */
int alog_step(sqlite3_stmt *s) KODEN_WUR;
/* Run statement i, which returns no rows.  Not KODEN_WUR: a rollback's
 * result is ignored on purpose (there is nothing left to undo). */
int alog_run(struct auditlog *l, int i, struct kerr *e);

/*
 * Bind helpers return SQLite codes; callers OR them and test for non-zero
 * (as src/store/store_sqlite.c does), then report with alog_dberr.
 */
static inline int
b_text(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static inline int
b_blob(sqlite3_stmt *s, int i, const void *p, size_t n)
{
	/* A NULL pointer would bind SQL NULL, not an empty blob. */
	return sqlite3_bind_blob64(s, i, n ? p : "", n, SQLITE_STATIC);
}

static inline int
b_int(sqlite3_stmt *s, int i, int64_t v)
{
	return sqlite3_bind_int64(s, i, v);
}

/* Column col, exactly n bytes, into out; else KERR_FORMAT. */
int alog_blob_copy(sqlite3_stmt *s, int col, uint8_t *out, size_t n)
    KODEN_WUR;
/* Column col as text, cut at cap bytes (an over-long edited field). */
void alog_text_copy(sqlite3_stmt *s, int col, char *out, size_t cap);
/* An entry row (seq, time, node, actor, ..., detail, leaf): the fields as
 * stored, not checked; leaf (may be NULL) zeros if the blob is not one. */
void alog_event_row(sqlite3_stmt *s, struct audit_event *ev,
    uint8_t leaf[MERKLE_HASH]);
/* A head row (size, time, root, sig); KERR_FORMAT if malformed. */
int alog_head_row(sqlite3_stmt *s, struct audit_head *h) KODEN_WUR;
/* Bind ev's seq, time, actor, ..., detail and leaf from parameter first
 * on: the columns entry and rentry share.  An SQLite code. */
int alog_bind_event(sqlite3_stmt *s, int first, const struct audit_event *ev,
    const uint8_t leaf[static MERKLE_HASH]) KODEN_WUR;

/* Transactions: l->in_tx says whether one is open. */
int alog_begin(struct auditlog *l, enum alog_tx tx, struct kerr *e)
    KODEN_WUR;
/* Commit, or roll back if the commit fails.  Not KODEN_WUR: ending a read
 * transaction ignores it (the snapshot is let go either way). */
int alog_commit(struct auditlog *l, struct kerr *e);
void alog_rollback(struct auditlog *l);

/* ---- auditlog.c: meta and the stored frontier ----------------------------- */

/* *found = 0 if absent; blob (may be NULL) gets up to max bytes, *n set. */
int alog_meta_get(struct auditlog *l, const char *key, uint64_t *u,
    uint8_t *blob, size_t max, size_t *n, int *found) KODEN_WUR;
/* blob NULL: SQL NULL. */
int alog_meta_set(struct auditlog *l, const char *key, uint64_t u,
    const uint8_t *blob, size_t n) KODEN_WUR;
/* The frontier's stored form (at most ALOG_FRONTIER_MAX bytes) onto out. */
int alog_frontier_encode(struct buf *out, const struct merkle_compact *c)
    KODEN_WUR;
/* Its strict inverse; KERR_FORMAT if p is not one (c left empty). */
int alog_frontier_decode(struct merkle_compact *c, const uint8_t *p,
    size_t n) KODEN_WUR;
/* l->c from the meta row (the empty tree if none); inside a transaction. */
int alog_load_frontier(struct auditlog *l) KODEN_WUR;
int alog_save_frontier(struct auditlog *l) KODEN_WUR;

/* ---- append.c: appends, heads, proofs ------------------------------------- */

/* A head in its stored form (ALOG_HEAD_BYTES) onto out. */
int alog_head_encode(struct buf *out, const struct audit_head *h) KODEN_WUR;
/* Its strict inverse: exactly ALOG_HEAD_BYTES, else KERR_FORMAT. */
int alog_head_decode(struct audit_head *h, const uint8_t *p, size_t n)
    KODEN_WUR;
/* Raise the witness file to h (best effort, after the commit). */
void alog_witness_write(struct auditlog *l, const struct audit_head *h);
/* Sign and store a head over the first size leaves (inside a write tx);
 * an existing head at that size is returned instead. */
int alog_sign_at(struct auditlog *l, const struct identity *key,
    uint64_t size, struct audit_head *h) KODEN_WUR;
/*
 * Append leaf to c; for each complete subtree that this finishes, put
 * (may be NULL) is called with its level and index before c changes.
 */
int alog_append_leaf(struct merkle_compact *c,
    const uint8_t leaf[static MERKLE_HASH],
    int (*put)(void *, unsigned, uint64_t, const uint8_t *), void *ctx)
    KODEN_WUR;
/* Append n events inside a write transaction with l->c loaded (the
 * caller saves the frontier). */
int alog_append_locked(struct auditlog *l, struct audit_event *ev, size_t n,
    struct kerr *e) KODEN_WUR;
/* merkle_range_fn over the stored leaves and subtrees (ctx: the log). */
int alog_range_fn(void *ctx, uint64_t a, uint64_t b,
    uint8_t out[MERKLE_HASH]) KODEN_WUR;

/* ---- collect.c ------------------------------------------------------------ */

/* HQ's row for node; rn->found = 0 if none. */
int alog_rnode_get(struct auditlog *l, const char *node, struct rnode *rn)
    KODEN_WUR;

#endif
