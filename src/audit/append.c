/*
 * Appends, the subtrees they finish, signed heads and the witness file,
 * proofs over this log (auditlog.h; the rooms in audit_int.h).
 *
 * An append writes the entry row, then one tree row for every complete
 * subtree the new leaf finishes (level L >= 1 covering 2^L leaves), so a
 * proof later reads one row per subtree it needs: O(log n) rows.  The
 * compact frontier (merkle.h) is the state between appends; it is loaded
 * and saved inside the same write transaction.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit/audit_int.h"

/* ---- heads ----------------------------------------------------------------- */

static int
head_insert(struct auditlog *l, const struct audit_head *h)
{
	sqlite3_stmt *s = alog_stmt(l, S_HEAD_INS);
	int r;

	if (s == NULL)
		return KERR_IO;
	if ((b_int(s, 1, (int64_t)h->size) | b_int(s, 2, (int64_t)h->time_ns) |
	    b_blob(s, 3, h->root, MERKLE_HASH) |
	    b_blob(s, 4, h->sig, AUDIT_SIG)) != SQLITE_OK)
		r = alog_dberr(l, NULL, "head insert: bind");
	else
		r = alog_step(s);
	alog_done(s);
	return r < 0 ? r : 0;
}

static int
head_at(struct auditlog *l, uint64_t size, struct audit_head *h, int *found)
{
	sqlite3_stmt *s = alog_stmt(l, S_HEAD_AT);
	int r;

	*found = 0;
	if (s == NULL)
		return KERR_IO;
	if (b_int(s, 1, (int64_t)size) != SQLITE_OK)
		r = alog_dberr(l, NULL, "head at: bind");
	else if ((r = alog_step(s)) == 1) {
		r = alog_head_row(s, h);
		*found = r == 0;
	}
	alog_done(s);
	return r < 0 ? r : 0;
}

int
audit_latest_head(struct auditlog *l, struct audit_head *h, int *found)
{
	sqlite3_stmt *s = alog_stmt(l, S_HEAD_LATEST);
	int r;

	*found = 0;
	memset(h, 0, sizeof(*h));
	if (s == NULL)
		return KERR_IO;
	if ((r = alog_step(s)) == 1) {
		r = alog_head_row(s, h);
		*found = r == 0;
	}
	alog_done(s);
	return r < 0 ? r : 0;
}

int
alog_head_encode(struct buf *out, const struct audit_head *h)
{
	int r;

	if ((r = buf_put_u64(out, h->size)) != 0 ||
	    (r = buf_put_u64(out, h->time_ns)) != 0 ||
	    (r = buf_put(out, h->root, MERKLE_HASH)) != 0 ||
	    (r = buf_put(out, h->sig, AUDIT_SIG)) != 0)
		return r;
	return 0;
}

int
alog_head_decode(struct audit_head *h, const uint8_t *p, size_t n)
{
	struct rd rd;

	if (n != ALOG_HEAD_BYTES)
		return KERR_FORMAT;
	rd_init(&rd, p, n);
	if (rd_u64(&rd, &h->size) != 0 || rd_u64(&rd, &h->time_ns) != 0 ||
	    rd_copy(&rd, h->root, MERKLE_HASH) != 0 ||
	    rd_copy(&rd, h->sig, AUDIT_SIG) != 0)
		return KERR_FORMAT;
	return 0;
}

/* The witness file: the highest head this node signed, replaced only by a
 * higher one.  Best effort: a failure here never loses an event. */
void
alog_witness_write(struct auditlog *l, const struct audit_head *h)
{
	uint8_t old[ALOG_HEAD_BYTES];
	char tmp[4200];
	struct audit_head oh;
	struct buf b;
	int fd;
	ssize_t n;

	if (l->witness == NULL)
		return;
	if ((fd = open(l->witness, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, old, sizeof(old));
		close(fd);
		if (n == (ssize_t)sizeof(old) &&
		    alog_head_decode(&oh, old, sizeof(old)) == 0 &&
		    oh.size >= h->size)
			return;
	}
	buf_init(&b, ALOG_HEAD_BYTES);
	if (alog_head_encode(&b, h) != 0)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.%ld", l->witness, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		goto out;
	n = write(fd, b.p, b.len);
	close(fd);
	if (n != (ssize_t)b.len || rename(tmp, l->witness) != 0)
		unlink(tmp);
out:
	buf_free(&b);
}

/* Sign and store a head over the first size leaves (inside a write tx). */
int
alog_sign_at(struct auditlog *l, const struct identity *key, uint64_t size,
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
	sqlite3_stmt *s = alog_stmt(l, S_TREE_INS);
	int r;

	if (s == NULL)
		return KERR_IO;
	if ((b_int(s, 1, level) | b_int(s, 2, (int64_t)idx) |
	    b_blob(s, 3, h, MERKLE_HASH)) != SQLITE_OK)
		r = alog_dberr(l, NULL, "tree insert: bind");
	else
		r = alog_step(s);
	alog_done(s);
	return r < 0 ? r : 0;
}

/*
 * The complete subtrees that appending leaf to c finishes: one per
 * trailing one bit of c->size, level L covering [size + 1 - 2^L, size + 1).
 * Calls put for each (L, index) and appends the leaf to c.
 */
int
alog_append_leaf(struct merkle_compact *c,
    const uint8_t leaf[static MERKLE_HASH],
    int (*put)(void *, unsigned, uint64_t, const uint8_t *), void *ctx)
{
	uint8_t cur[MERKLE_HASH];
	uint64_t s = c->size;
	int k = __builtin_popcountll(s), r;
	unsigned level = 0;

	if (s >= ALOG_SIZE_MAX_DB)
		return KERR_TOOBIG;
	memcpy(cur, leaf, MERKLE_HASH);
	while ((s >> level) & 1) {
		/* each trailing one bit is a subtree on the stack, the
		 * smallest last: there are at least as many as bits seen */
		assert((int)level < k);
		merkle_node_hash(cur, c->stack[k - 1 - (int)level], cur);
		level++;
		if (put != NULL && (r = put(ctx, level, ((s + 1) >> level) - 1,
		    cur)) != 0)
			return r;
	}
	if ((r = merkle_compact_append(c, leaf)) != 0)
		return r;
	/* the compact tree merged the same subtrees: its last one is the
	 * subtree of level `level` just finished (put's last hash) */
	assert(memcmp(c->stack[__builtin_popcountll(c->size) - 1], cur,
	    MERKLE_HASH) == 0);
	return 0;
}

static int
put_tree(void *ctx, unsigned level, uint64_t idx, const uint8_t *h)
{
	return tree_put(ctx, level, idx, h);
}

/* Append inside a write transaction with l->c loaded. */
int
alog_append_locked(struct auditlog *l, struct audit_event *ev, size_t n,
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
		if (ev[i].time_ns > ALOG_SIZE_MAX_DB)
			return kerr_set(e, KERR_INVALID, "audit event: time "
			    "out of range");
		ev[i].seq = l->c.size;
		if ((r = audit_event_leaf(leaf, &ev[i])) != 0)
			return kerr_set(e, r, "audit event %s/%s: %s",
			    ev[i].action, ev[i].object, kerr_str(r));
		if ((s = alog_stmt(l, S_ENTRY_INS)) == NULL)
			return alog_dberr(l, e, "append");
		if ((b_text(s, 1, ev[i].node) |
		    alog_bind_event(s, 2, &ev[i], leaf)) != SQLITE_OK) {
			r = alog_dberr(l, e, "append: bind");
			alog_done(s);
			return r;
		}
		r = alog_step(s);
		alog_done(s);
		if (r < 0)
			return alog_dberr(l, e, "append");
		if ((r = alog_append_leaf(&l->c, leaf, put_tree, l)) != 0)
			return kerr_set(e, r, "audit log: cannot add leaf");
	}
	return 0;
}

/* The stored journal position (zeros before the first). */
static int
journal_pos(struct auditlog *l, uint8_t gen[static AUDIT_JOURNAL_GEN],
    uint64_t *off, struct kerr *e)
{
	uint8_t b[ALOG_JOURNAL_POS];
	struct rd rd;
	size_t n = 0;
	int found, r;

	memset(gen, 0, AUDIT_JOURNAL_GEN);
	*off = 0;
	if ((r = alog_meta_get(l, META_JOURNAL, NULL, b, sizeof(b), &n,
	    &found)) != 0)
		return alog_dberr(l, e, "journal position");
	if (!found)
		return 0;
	if (n != sizeof(b))
		return kerr_set(e, KERR_FORMAT, "audit log: stored journal "
		    "position has %zu bytes", n);
	rd_init(&rd, b, n);
	if (rd_copy(&rd, gen, AUDIT_JOURNAL_GEN) != 0 ||
	    rd_u64(&rd, off) != 0)
		return kerr_set(e, KERR_FORMAT, "audit log: stored journal "
		    "position unreadable");
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
	if ((r = alog_load_frontier(l)) != 0)
		return kerr_set(e, r, "audit log: stored frontier unreadable");
	if ((r = alog_append_locked(l, ev, n, e)) != 0)
		return r;
	if ((r = alog_save_frontier(l)) != 0)
		return alog_dberr(l, e, "frontier");
	if (gen != NULL) {
		struct buf b;

		buf_init(&b, ALOG_JOURNAL_POS);
		if ((r = buf_put(&b, gen, AUDIT_JOURNAL_GEN)) == 0 &&
		    (r = buf_put_u64(&b, off)) == 0)
			r = alog_meta_set(l, META_JOURNAL, 0, b.p, b.len);
		buf_free(&b);
		if (r != 0)
			return alog_dberr(l, e, "journal position");
	}
	if (key != NULL && (r = alog_sign_at(l, key, l->c.size, h)) != 0)
		return kerr_set(e, r, "audit log: cannot sign head");
	return 0;
}

int
audit_append(struct auditlog *l, struct audit_event *ev, size_t n,
    const struct identity *key, struct kerr *e)
{
	struct audit_head h;
	int r;

	if ((r = alog_begin(l, ALOG_TX_WRITE, e)) != 0)
		return r;
	if ((r = append_tx(l, ev, n, key, NULL, 0, &h, e)) != 0) {
		alog_rollback(l);
		return r;
	}
	if ((r = alog_commit(l, e)) != 0)
		return r;
	if (key != NULL)
		alog_witness_write(l, &h);
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
	if ((r = alog_begin(l, ALOG_TX_WRITE, e)) != 0)
		return r;
	if ((r = journal_pos(l, t.gen, &t.off, e)) != 0)
		goto fail;
	if ((r = fill(ctx, &t, e)) != 0)
		goto fail;
	if (t.n == 0 && !t.moved) {
		alog_rollback(l);	/* nothing new */
		return 0;
	}
	if ((r = append_tx(l, t.ev, t.n, t.n > 0 ? key : NULL, t.gen, t.off,
	    &h, e)) != 0)
		goto fail;
	if ((r = alog_commit(l, e)) != 0)
		return r;
	if (key != NULL && t.n > 0)
		alog_witness_write(l, &h);
	*added = t.n;
	return 0;
fail:
	alog_rollback(l);
	return r;
}

int
audit_sign_head(struct auditlog *l, const struct identity *key,
    struct audit_head *out, struct kerr *e)
{
	struct audit_head h;
	int r;

	if ((r = alog_begin(l, ALOG_TX_WRITE, e)) != 0)
		return r;
	if ((r = alog_load_frontier(l)) != 0 ||
	    (r = alog_sign_at(l, key, l->c.size, &h)) != 0) {
		kerr_set(e, r, "audit log: cannot sign head");
		alog_rollback(l);
		return r;
	}
	if ((r = alog_commit(l, e)) != 0)
		return r;
	alog_witness_write(l, &h);
	if (out != NULL)
		*out = h;
	return 0;
}

int
audit_size(struct auditlog *l, uint64_t *size)
{
	int r;

	*size = 0;
	if ((r = alog_begin(l, ALOG_TX_READ, NULL)) != 0)
		return r;
	r = alog_load_frontier(l);
	*size = l->c.size;
	(void)alog_commit(l, NULL);
	return r;
}

int
audit_get(struct auditlog *l, uint64_t seq, struct audit_event *ev)
{
	sqlite3_stmt *s = alog_stmt(l, S_ENTRY_GET);
	int r;

	if (s == NULL)
		return KERR_IO;
	if (seq > ALOG_SIZE_MAX_DB)
		return KERR_INVALID;
	if (b_int(s, 1, (int64_t)seq) != SQLITE_OK)
		r = alog_dberr(l, NULL, "entry get: bind");
	else if ((r = alog_step(s)) == 1) {
		alog_event_row(s, ev, NULL);
		r = 0;
	} else if (r == 0)
		r = KERR_INVALID;
	alog_done(s);
	return r;
}

/* ---- proofs ----------------------------------------------------------------- */

/*
 * A complete subtree is all merkle.c ever asks for (merkle_range_fn), and
 * all verify.c's check_tree asks for: any other range is a bug.  A range
 * past what SQLite can number comes from a caller's size: an error.
 */
int
alog_range_fn(void *ctx, uint64_t a, uint64_t b, uint8_t out[MERKLE_HASH])
{
	struct auditlog *l = ctx;
	uint64_t w = b - a;
	unsigned level;
	sqlite3_stmt *s;
	int r, rc;

	assert(a < b && (w & (w - 1)) == 0 && a % w == 0);
	level = (unsigned)__builtin_ctzll(w);
	if (b > ALOG_SIZE_MAX_DB)
		return KERR_INVALID;
	if (level == 0) {
		if ((s = alog_stmt(l, S_ENTRY_LEAF)) == NULL)
			return KERR_IO;
		rc = b_int(s, 1, (int64_t)a);
	} else {
		if ((s = alog_stmt(l, S_TREE_GET)) == NULL)
			return KERR_IO;
		rc = b_int(s, 1, level) | b_int(s, 2, (int64_t)(a >> level));
	}
	if (rc != SQLITE_OK)
		r = alog_dberr(l, NULL, "subtree: bind");
	else if ((r = alog_step(s)) == 1)
		r = alog_blob_copy(s, 0, out, MERKLE_HASH);
	else if (r == 0)
		r = KERR_INVALID;	/* a missing row: the log was cut */
	alog_done(s);
	return r;
}

int
audit_root_at(struct auditlog *l, uint64_t size, uint8_t root[static MERKLE_HASH])
{
	return merkle_tree_root(root, size, alog_range_fn, l);
}

int
audit_inclusion_proof(struct auditlog *l, uint64_t seq, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH], size_t *n)
{
	return merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, n, seq, size,
	    alog_range_fn, l);
}

int
audit_consistency_proof(struct auditlog *l, uint64_t m, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH], size_t *n)
{
	return merkle_consistency_proof(proof, MERKLE_PROOF_MAX, n, m, size,
	    alog_range_fn, l);
}
