/*
 * A post's side of the exchange with HQ (auditlog.h, "shipping" and the
 * check of HQ heads; docs/audit.md): the batches it ships, what HQ
 * acknowledged, and the HQ heads it accepts.  The last HQ head a post
 * accepted is its view of HQ's log: each batch reports its size (hq_seen),
 * and each new HQ head must be proven consistent with it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "audit/audit_int.h"
#include "audit/ship.h"

/* ---- shipping ---------------------------------------------------------------- */

int
audit_shipped(struct auditlog *l, uint64_t *acked)
{
	int found;

	*acked = 0;
	return alog_meta_get(l, META_SHIPPED, acked, NULL, 0, NULL, &found);
}

int
audit_mark_shipped(struct auditlog *l, uint64_t upto)
{
	uint64_t old = 0;
	int found, r;

	if ((r = alog_begin(l, ALOG_TX_WRITE, NULL)) != 0)
		return r;
	if ((r = alog_load_frontier(l)) != 0 ||
	    (r = alog_meta_get(l, META_SHIPPED, &old, NULL, 0, NULL,
	    &found)) != 0)
		goto fail;
	if (upto > l->c.size) {
		r = KERR_INVALID;
		goto fail;
	}
	if (upto > old &&
	    (r = alog_meta_set(l, META_SHIPPED, upto, NULL, 0)) != 0)
		goto fail;
	return alog_commit(l, NULL);
fail:
	alog_rollback(l);
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
			return alog_dberr(l, e, "shipping");
		*upto = acked;
		if (size <= acked)
			return 0;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return KERR_NOMEM;
	if ((r = alog_begin(l, ALOG_TX_WRITE, e)) != 0)
		goto out;
	if ((r = alog_load_frontier(l)) != 0 ||
	    (r = alog_meta_get(l, META_SHIPPED, &acked, NULL, 0, NULL,
	    &found)) != 0 ||
	    (r = hq_seen_size(l, &b->hq_seen)) != 0)
		goto fail;
	*upto = acked;
	end = l->c.size - acked > max ? acked + max : l->c.size;
	if (end <= acked)
		goto fail_ok;
	if (key != NULL) {
		if ((r = alog_sign_at(l, key, end, &b->head)) != 0)
			goto fail;
	} else {
		/* without the key: the largest stored head in (acked, end] */
		sqlite3_stmt *hs = alog_stmt(l, S_HEAD_SCAN);

		found = 0;
		if (hs == NULL) {
			r = KERR_IO;
			goto fail;
		}
		while ((r = alog_step(hs)) == 1) {
			struct audit_head h;

			if (alog_head_row(hs, &h) == 0 && h.size > acked &&
			    h.size <= end) {
				b->head = h;
				found = 1;
			}
		}
		alog_done(hs);
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
	if ((s = alog_stmt(l, S_ENTRY_RANGE)) == NULL) {
		r = KERR_IO;
		goto fail;
	}
	if ((b_int(s, 1, (int64_t)acked) | b_int(s, 2, (int64_t)end)) !=
	    SQLITE_OK) {
		r = alog_dberr(l, e, "shipping: bind");
		alog_done(s);
		goto fail;
	}
	for (size_t i = 0; i < b->n; i++) {
		if ((r = alog_step(s)) != 1) {
			alog_done(s);
			r = kerr_set(e, KERR_MISMATCH, "audit log: entry %"
			    PRIu64 " is missing", acked + i);
			goto fail;
		}
		alog_event_row(s, &b->ev[i], NULL);
	}
	alog_done(s);
	if ((r = alog_commit(l, e)) != 0)
		goto out;
	if (key != NULL)
		alog_witness_write(l, &b->head);
	if ((r = ship_batch_encode(out, b)) != 0) {
		kerr_set(e, r, "audit: cannot encode batch: %s", kerr_str(r));
		goto out;
	}
	*upto = end;
	goto out;
fail_ok:
	r = 0;
fail:
	alog_rollback(l);
out:
	ship_batch_free(b);
	free(b);
	return r;
}

/* ---- HQ's heads, as this post saw them ------------------------------------- */

int
audit_hq_head(struct auditlog *post, struct audit_head *h, int *found)
{
	uint8_t b[ALOG_HEAD_BYTES];
	size_t n = 0;
	int r;

	memset(h, 0, sizeof(*h));
	if ((r = alog_meta_get(post, META_HQ_HEAD, NULL, b, sizeof(b), &n,
	    found)) != 0)
		return r;
	if (*found && alog_head_decode(h, b, n) != 0)
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
	struct buf b;
	int found, r;

	if (hq_size != NULL)
		*hq_size = 0;
	if ((r = ship_hqhead_decode(&m, msg, len, e)) != 0)
		return r;
	if (audit_head_verify(&m.head, m.hq, hq_pk) != 0)
		return kerr_set(e, KERR_SIGNATURE, "audit: HQ head at size %"
		    PRIu64 " is not signed by HQ's key", m.head.size);
	if ((r = alog_begin(post, ALOG_TX_WRITE, e)) != 0)
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
		return alog_commit(post, e);
	}
	if (r == KERR_MISMATCH) {
		struct audit_event ev;
		char d[AUDIT_DETAIL_MAX + 1], ro[2 * MERKLE_HASH + 1],
		    rn[2 * MERKLE_HASH + 1];

		memset(&ev, 0, sizeof(ev));
		sodium_bin2hex(ro, sizeof(ro), last.root, MERKLE_HASH);
		sodium_bin2hex(rn, sizeof(rn), m.head.root, MERKLE_HASH);
		snprintf(d, sizeof(d), "HQ %s showed size %" PRIu64 " root %s, "
		    "inconsistent with size %" PRIu64 " root %s seen before",
		    m.hq, m.head.size, rn, last.size, ro);
		audit_event_set(&ev, "kodend", m.hq, "alert", "audit-fork",
		    "fail: HQ log forked", d);
		if ((r = alog_load_frontier(post)) == 0 &&
		    (r = alog_append_locked(post, &ev, 1, NULL)) == 0 &&
		    (r = alog_save_frontier(post)) == 0 &&
		    (r = alog_commit(post, NULL)) == 0) {
			if (hq_size != NULL)
				*hq_size = last.size;
			return kerr_set(e, KERR_MISMATCH, "%s", d);
		}
		goto fail;
	}
	buf_init(&b, ALOG_HEAD_BYTES);
	if ((r = alog_head_encode(&b, &m.head)) == 0)
		r = alog_meta_set(post, META_HQ_HEAD, 0, b.p, b.len);
	buf_free(&b);
	if (r != 0)
		goto fail;
	if ((r = alog_commit(post, e)) != 0)
		return r;
	if (hq_size != NULL)
		*hq_size = m.head.size;
	return 0;
fail:
	alog_rollback(post);
	return r;
}
