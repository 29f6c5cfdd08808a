/*
 * HQ's side of the exchange with its posts (auditlog.h, "HQ: collecting,
 * the global log"; docs/audit.md): each post's batches checked and kept
 * (tables rnode, rentry, rhead), every accepted post head a "node-head"
 * leaf of HQ's own log, which is the global log, and HQ's heads with the
 * consistency proofs the posts check them by (post.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "audit/audit_int.h"
#include "audit/ship.h"

/* ---- HQ's copies of the posts' logs ------------------------------------------ */

int
alog_rnode_get(struct auditlog *l, const char *node, struct rnode *rn)
{
	sqlite3_stmt *s = alog_stmt(l, S_RNODE_GET);
	int r;

	memset(rn, 0, sizeof(*rn));
	merkle_compact_init(&rn->c);
	if (s == NULL)
		return KERR_IO;
	if (b_text(s, 1, node) != SQLITE_OK)
		r = alog_dberr(l, NULL, "post state: bind");
	else if ((r = alog_step(s)) == 1) {
		const void *p = sqlite3_column_blob(s, 5);
		size_t n = (size_t)sqlite3_column_bytes(s, 5);

		rn->found = 1;
		rn->head.size = (uint64_t)sqlite3_column_int64(s, 1);
		rn->head.time_ns = (uint64_t)sqlite3_column_int64(s, 2);
		rn->hq_seq = (uint64_t)sqlite3_column_int64(s, 6);
		if (alog_blob_copy(s, 0, rn->pk, KEY_SIGN_PK) != 0 ||
		    alog_blob_copy(s, 3, rn->head.root, MERKLE_HASH) != 0 ||
		    alog_blob_copy(s, 4, rn->head.sig, AUDIT_SIG) != 0 ||
		    p == NULL || alog_frontier_decode(&rn->c, p, n) != 0 ||
		    rn->c.size != rn->head.size)
			r = KERR_FORMAT;
		else
			r = 0;
	}
	alog_done(s);
	return r;
}

static int
rnode_put(struct auditlog *l, const char *node, const struct rnode *rn)
{
	sqlite3_stmt *s = alog_stmt(l, S_RNODE_PUT);
	struct buf f;
	int r;

	if (s == NULL)
		return KERR_IO;
	buf_init(&f, ALOG_FRONTIER_MAX);
	if ((r = alog_frontier_encode(&f, &rn->c)) != 0) {
		buf_free(&f);
		return r;
	}
	if ((b_text(s, 1, node) | b_blob(s, 2, rn->pk, KEY_SIGN_PK) |
	    b_int(s, 3, (int64_t)rn->head.size) |
	    b_int(s, 4, (int64_t)rn->head.time_ns) |
	    b_blob(s, 5, rn->head.root, MERKLE_HASH) |
	    b_blob(s, 6, rn->head.sig, AUDIT_SIG) | b_blob(s, 7, f.p, f.len) |
	    b_int(s, 8, (int64_t)rn->hq_seq)) != SQLITE_OK)
		r = alog_dberr(l, NULL, "post state put: bind");
	else
		r = alog_step(s);
	alog_done(s);
	buf_free(&f);
	return r < 0 ? r : 0;
}

static int
rhead_put(struct auditlog *l, const char *node, const struct audit_head *h)
{
	sqlite3_stmt *s = alog_stmt(l, S_RHEAD_INS);
	int r;

	if (s == NULL)
		return KERR_IO;
	if ((b_text(s, 1, node) | b_int(s, 2, (int64_t)h->size) |
	    b_int(s, 3, (int64_t)h->time_ns) |
	    b_blob(s, 4, h->root, MERKLE_HASH) |
	    b_blob(s, 5, h->sig, AUDIT_SIG)) != SQLITE_OK)
		r = alog_dberr(l, NULL, "post head put: bind");
	else
		r = alog_step(s);
	alog_done(s);
	return r < 0 ? r : 0;
}

static int
rhead_at(struct auditlog *l, const char *node, uint64_t size,
    struct audit_head *h, int *found)
{
	sqlite3_stmt *s = alog_stmt(l, S_RHEAD_AT);
	int r;

	*found = 0;
	if (s == NULL)
		return KERR_IO;
	if ((b_text(s, 1, node) | b_int(s, 2, (int64_t)size)) != SQLITE_OK)
		r = alog_dberr(l, NULL, "post head at: bind");
	else if ((r = alog_step(s)) == 1) {
		r = alog_head_row(s, h);
		*found = r == 0;
	}
	alog_done(s);
	return r < 0 ? r : 0;
}

static int
rentry_leaf(struct auditlog *l, const char *node, uint64_t seq,
    uint8_t out[static MERKLE_HASH])
{
	sqlite3_stmt *s = alog_stmt(l, S_RENTRY_LEAF);
	int r;

	if (s == NULL)
		return KERR_IO;
	if ((b_text(s, 1, node) | b_int(s, 2, (int64_t)seq)) != SQLITE_OK)
		r = alog_dberr(l, NULL, "post entry leaf: bind");
	else if ((r = alog_step(s)) == 1)
		r = alog_blob_copy(s, 0, out, MERKLE_HASH);
	else if (r == 0)
		r = KERR_INVALID;
	alog_done(s);
	return r;
}

/* ---- ingesting -------------------------------------------------------------- */

int
audit_node_head(struct auditlog *hq, const char *node, struct audit_head *h,
    int *found)
{
	struct rnode rn;
	int r;

	*found = 0;
	if ((r = alog_rnode_get(hq, node, &rn)) != 0)
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

	if ((r = alog_rnode_get(hq, node, &rn)) != 0)
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
		if ((r = alog_append_leaf(&rn.c, leaf, NULL, NULL)) != 0)
			return r;
		if ((s = alog_stmt(hq, S_RENTRY_INS)) == NULL)
			return alog_dberr(hq, e, "ingest");
		if ((b_text(s, 1, node) | alog_bind_event(s, 2, ev, leaf)) !=
		    SQLITE_OK) {
			r = alog_dberr(hq, e, "ingest: bind");
			alog_done(s);
			return r;
		}
		r = alog_step(s);
		alog_done(s);
		if (r < 0)
			return alog_dberr(hq, e, "ingest");
	}
	merkle_compact_root(&rn.c, root);
	if (rn.c.size != b->head.size ||
	    sodium_memcmp(root, b->head.root, MERKLE_HASH) != 0)
		return kerr_set(e, KERR_MISMATCH, "audit batch from %s: its "
		    "entries do not give the root of its head at size %" PRIu64,
		    node, b->head.size);
	/* the head becomes a leaf of the global log */
	if ((r = alog_load_frontier(hq)) != 0)
		return r;
	memset(&gev, 0, sizeof(gev));
	audit_event_set(&gev, "kodend", node, "node-head", node, "ok", NULL);
	ship_node_head_detail(gev.detail, &b->head);
	if ((r = alog_append_locked(hq, &gev, 1, e)) != 0 ||
	    (r = alog_save_frontier(hq)) != 0)
		return r;
	memcpy(rn.pk, node_pk, KEY_SIGN_PK);
	rn.head = b->head;
	rn.hq_seq = gev.seq;
	if ((r = rnode_put(hq, node, &rn)) != 0 ||
	    (r = rhead_put(hq, node, &b->head)) != 0)
		return alog_dberr(hq, e, "ingest");
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
	if (b->head.size > ALOG_SIZE_MAX_DB)
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
	if ((r = alog_begin(hq, ALOG_TX_WRITE, e)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (it[i].result != 0)
			continue;
		if ((r = alog_run(hq, S_SAVEPOINT, e)) != 0)
			goto fail;
		it[i].result = ingest_locked(hq, it[i].node, it[i].node_pk, &b[i],
		    &it[i].acked, &it[i].err);
		if (it[i].result != 0 &&
		    (r = alog_run(hq, S_ROLLBACK_TO, e)) != 0)
			goto fail;
		if ((r = alog_run(hq, S_RELEASE, e)) != 0)
			goto fail;
	}
	if (key != NULL) {
		if ((r = alog_load_frontier(hq)) != 0 ||
		    (r = alog_sign_at(hq, key, hq->c.size, &gh)) != 0)
			goto fail;
	}
	if ((r = alog_commit(hq, e)) != 0)
		goto out;
	if (key != NULL)
		alog_witness_write(hq, &gh);
	goto out;
fail:
	alog_rollback(hq);
	for (size_t i = 0; i < n; i++)
		if (it[i].result == 0)
			it[i].acked = 0;
out:
	for (size_t i = 0; i < n; i++)
		ship_batch_free(&b[i]);
	free(b);
	return r;
}

/* ---- HQ's heads for the posts ------------------------------------------------ */

int
audit_hq_head_msg(struct auditlog *hq, const struct identity *key,
    uint64_t since, struct buf *out, struct kerr *e)
{
	struct ship_hqhead m;
	int found, r;

	memset(&m, 0, sizeof(m));
	if (key != NULL && (r = audit_sign_head(hq, key, NULL, e)) != 0)
		return r;
	if ((r = alog_begin(hq, ALOG_TX_READ, e)) != 0)
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
	(void)alog_commit(hq, NULL);
	return r;
}
