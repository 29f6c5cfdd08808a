/*
 * Proofs for third parties (auditlog.h): at HQ, an inclusion proof of any
 * entry it holds into a head of the global log signed with HQ's key (two
 * levels for a post's entry); offline, its check with HQ's public key
 * alone.  The proof message is ship.h's.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "audit/audit_int.h"
#include "audit/ship.h"

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
	if ((r = alog_begin(hq, ALOG_TX_READ, e)) != 0)
		goto out;
	snprintf(pr->hq, sizeof(pr->hq), "%s", hq->node);
	if (node != NULL) {
		uint8_t (*leaves)[MERKLE_HASH] = NULL;
		struct merkle_mem mm;
		sqlite3_stmt *s;
		uint64_t i = 0;

		if ((r = alog_rnode_get(hq, node, &rn)) != 0)
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
		if ((s = alog_stmt(hq, S_RENTRY_GET)) == NULL) {
			r = KERR_IO;
			goto end;
		}
		if ((b_text(s, 1, node) | b_int(s, 2, (int64_t)seq)) !=
		    SQLITE_OK) {
			r = alog_dberr(hq, e, "prove: bind");
			alog_done(s);
			goto end;
		}
		r = alog_step(s);
		if (r == 1)
			alog_event_row(s, &pr->inner, NULL);
		alog_done(s);
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
		if ((s = alog_stmt(hq, S_RENTRY_LEAVES)) == NULL) {
			free(leaves);
			r = KERR_IO;
			goto end;
		}
		if ((b_text(s, 1, node) | b_int(s, 2, (int64_t)rn.head.size)) !=
		    SQLITE_OK) {
			free(leaves);
			r = alog_dberr(hq, e, "prove: bind");
			alog_done(s);
			goto end;
		}
		while ((r = alog_step(s)) == 1 && i < rn.head.size &&
		    (uint64_t)sqlite3_column_int64(s, 0) == i)
			if (alog_blob_copy(s, 1, leaves[i++], MERKLE_HASH) != 0)
				break;
		alog_done(s);
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
	(void)alog_commit(hq, NULL);
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
