/*
 * Wire encodings of the audit log (ship.h).  Layout (big-endian):
 *
 *   head   = u64 size || u64 time_ns || root[32] || sig[64]
 *   path   = u8 n (<= MERKLE_PROOF_MAX) || n * hash[32]
 *   entry  = u32 len (<= AUDIT_ENTRY_MAX) || canonical entry (auditlog.h)
 *   batch  = u8 SHIP_VERSION || u8 SHIP_BATCH || str8 node || u64 hq_seen ||
 *            head || u64 first || path || u32 n (<= AUDIT_BATCH_MAX) ||
 *            n * entry
 *   hqhead = u8 SHIP_VERSION || u8 SHIP_HQHEAD || str8 hq || head ||
 *            u64 since || path
 *   proof  = u8 SHIP_VERSION || u8 SHIP_PROOF || str8 hq || head || entry ||
 *            path || u8 two_level (0/1) [ || str8 node || head || entry ||
 *            path ]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/ship.h"

static int
put_head(struct buf *b, const struct audit_head *h)
{
	int r;

	if ((r = buf_put_u64(b, h->size)) != 0 ||
	    (r = buf_put_u64(b, h->time_ns)) != 0 ||
	    (r = buf_put(b, h->root, MERKLE_HASH)) != 0 ||
	    (r = buf_put(b, h->sig, AUDIT_SIG)) != 0)
		return r;
	return 0;
}

static int
get_head(struct rd *r, struct audit_head *h)
{
	int rc;

	if ((rc = rd_u64(r, &h->size)) != 0 ||
	    (rc = rd_u64(r, &h->time_ns)) != 0 ||
	    (rc = rd_copy(r, h->root, MERKLE_HASH)) != 0 ||
	    (rc = rd_copy(r, h->sig, AUDIT_SIG)) != 0)
		return rc;
	return 0;
}

static int
put_path(struct buf *b, const uint8_t (*p)[MERKLE_HASH], size_t n)
{
	int r;

	if (n > MERKLE_PROOF_MAX)
		return KERR_TOOBIG;
	if ((r = buf_put_u8(b, (uint8_t)n)) != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = buf_put(b, p[i], MERKLE_HASH)) != 0)
			return r;
	return 0;
}

static int
get_path(struct rd *r, uint8_t (*p)[MERKLE_HASH], size_t *n)
{
	uint8_t k;
	int rc;

	*n = 0;
	if ((rc = rd_u8(r, &k)) != 0)
		return rc;
	if (k > MERKLE_PROOF_MAX)
		return KERR_TOOBIG;
	for (size_t i = 0; i < k; i++)
		if ((rc = rd_copy(r, p[i], MERKLE_HASH)) != 0)
			return rc;
	*n = k;
	return 0;
}

static int
put_entry(struct buf *b, const struct audit_event *ev)
{
	struct buf enc;
	int r;

	buf_init(&enc, AUDIT_ENTRY_MAX);
	if ((r = audit_event_encode(&enc, ev)) == 0)
		r = buf_put_bytes32(b, enc.p, enc.len);
	buf_free(&enc);
	return r;
}

static int
get_entry(struct rd *r, struct audit_event *ev)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if ((rc = rd_bytes32(r, &p, &n, AUDIT_ENTRY_MAX)) != 0)
		return rc;
	return audit_event_decode(ev, p, n);
}

/* str8 of at most AUDIT_NODE_MAX bytes into out. */
static int
get_name(struct rd *r, char out[static AUDIT_NODE_MAX + 1])
{
	char *s = NULL;
	int rc;

	if ((rc = rd_str8(r, &s)) != 0)
		return rc;
	if (strlen(s) > AUDIT_NODE_MAX || s[0] == '\0')
		rc = s[0] == '\0' ? KERR_FORMAT : KERR_TOOBIG;
	else
		memcpy(out, s, strlen(s) + 1);
	free(s);
	return rc;
}

static int
put_name(struct buf *b, const char *s)
{
	size_t n = strnlen(s, AUDIT_NODE_MAX + 1);

	if (n == 0 || n > AUDIT_NODE_MAX)
		return n ? KERR_TOOBIG : KERR_INVALID;
	return buf_put_str8(b, s);
}

static int
get_start(struct rd *r, uint8_t type)
{
	uint8_t v, t;
	int rc;

	if ((rc = rd_u8(r, &v)) != 0 || (rc = rd_u8(r, &t)) != 0)
		return rc;
	if (v != SHIP_VERSION)
		return KERR_VERSION;
	if (t != type)
		return KERR_FORMAT;
	return 0;
}

static int
fail(struct kerr *e, int r, const char *what, const struct rd *rd)
{
	return kerr_set(e, r, "audit %s: %s at byte %zu", what, kerr_str(r),
	    rd->off);
}

int
ship_batch_encode(struct buf *out, const struct ship_batch *b)
{
	int r;

	if (b->n > AUDIT_BATCH_MAX || b->first + b->n != b->head.size ||
	    b->first + b->n < b->first)
		return KERR_INVALID;
	if ((r = buf_put_u8(out, SHIP_VERSION)) != 0 ||
	    (r = buf_put_u8(out, SHIP_BATCH)) != 0 ||
	    (r = put_name(out, b->node)) != 0 ||
	    (r = buf_put_u64(out, b->hq_seen)) != 0 ||
	    (r = put_head(out, &b->head)) != 0 ||
	    (r = buf_put_u64(out, b->first)) != 0 ||
	    (r = put_path(out, (const uint8_t (*)[MERKLE_HASH])b->proof,
	    b->nproof)) != 0 ||
	    (r = buf_put_u32(out, (uint32_t)b->n)) != 0)
		return r;
	for (size_t i = 0; i < b->n; i++) {
		if (b->ev[i].seq != b->first + i)
			return KERR_INVALID;
		if ((r = put_entry(out, &b->ev[i])) != 0)
			return r;
	}
	return 0;
}

void
ship_batch_free(struct ship_batch *b)
{
	free(b->ev);
	b->ev = NULL;
	b->n = 0;
}

int
ship_batch_decode(struct ship_batch *b, const uint8_t *p, size_t len,
    struct kerr *e)
{
	struct rd r;
	uint32_t n;
	int rc;

	memset(b, 0, sizeof(*b));
	rd_init(&r, p, len);
	if (len > SHIP_MSG_MAX)
		return fail(e, KERR_TOOBIG, "batch", &r);
	if ((rc = get_start(&r, SHIP_BATCH)) != 0 ||
	    (rc = get_name(&r, b->node)) != 0 ||
	    (rc = rd_u64(&r, &b->hq_seen)) != 0 ||
	    (rc = get_head(&r, &b->head)) != 0 ||
	    (rc = rd_u64(&r, &b->first)) != 0 ||
	    (rc = get_path(&r, b->proof, &b->nproof)) != 0 ||
	    (rc = rd_u32(&r, &n)) != 0)
		return fail(e, rc, "batch", &r);
	if (n > AUDIT_BATCH_MAX)
		return fail(e, KERR_TOOBIG, "batch", &r);
	/* the entries end at the head: first + n == size, without overflow */
	if (b->head.size < n || b->head.size - n != b->first)
		return kerr_set(e, KERR_FORMAT, "audit batch: %" PRIu32
		    " entries from %" PRIu64 " do not end at the head's size %"
		    PRIu64, n, b->first, b->head.size);
	/* each entry takes at least 4 + 29 bytes: no allocation for lies */
	if (rd_left(&r) / 33 < n)
		return fail(e, KERR_TRUNCATED, "batch", &r);
	if (n > 0 && (b->ev = calloc(n, sizeof(*b->ev))) == NULL)
		return KERR_NOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = get_entry(&r, &b->ev[i])) != 0)
			return fail(e, rc, "batch entry", &r);
		b->n = i + 1;
		if (b->ev[i].seq != b->first + i)
			return kerr_set(e, KERR_FORMAT, "audit batch: entry %"
			    PRIu32 " has seq %" PRIu64 ", wanted %" PRIu64, i,
			    b->ev[i].seq, b->first + i);
		if (strcmp(b->ev[i].node, b->node) != 0)
			return kerr_set(e, KERR_FORMAT, "audit batch: entry %"
			    PRIu64 " is of node '%s', not '%s'", b->ev[i].seq,
			    b->ev[i].node, b->node);
	}
	if (rd_left(&r) != 0)
		return fail(e, KERR_FORMAT, "batch (trailing bytes)", &r);
	return 0;
}

int
ship_hqhead_encode(struct buf *out, const struct ship_hqhead *h)
{
	int r;

	if ((r = buf_put_u8(out, SHIP_VERSION)) != 0 ||
	    (r = buf_put_u8(out, SHIP_HQHEAD)) != 0 ||
	    (r = put_name(out, h->hq)) != 0 ||
	    (r = put_head(out, &h->head)) != 0 ||
	    (r = buf_put_u64(out, h->since)) != 0 ||
	    (r = put_path(out, (const uint8_t (*)[MERKLE_HASH])h->proof,
	    h->nproof)) != 0)
		return r;
	return 0;
}

int
ship_hqhead_decode(struct ship_hqhead *h, const uint8_t *p, size_t len,
    struct kerr *e)
{
	struct rd r;
	int rc;

	memset(h, 0, sizeof(*h));
	rd_init(&r, p, len);
	if ((rc = get_start(&r, SHIP_HQHEAD)) != 0 ||
	    (rc = get_name(&r, h->hq)) != 0 ||
	    (rc = get_head(&r, &h->head)) != 0 ||
	    (rc = rd_u64(&r, &h->since)) != 0 ||
	    (rc = get_path(&r, h->proof, &h->nproof)) != 0)
		return fail(e, rc, "HQ head", &r);
	if (rd_left(&r) != 0)
		return fail(e, KERR_FORMAT, "HQ head (trailing bytes)", &r);
	if (h->since > h->head.size)
		return kerr_set(e, KERR_FORMAT, "audit HQ head: proof from %"
		    PRIu64 " beyond the head's size %" PRIu64, h->since,
		    h->head.size);
	return 0;
}

int
ship_proof_encode(struct buf *out, const struct ship_proof *pr)
{
	int r;

	if ((r = buf_put_u8(out, SHIP_VERSION)) != 0 ||
	    (r = buf_put_u8(out, SHIP_PROOF)) != 0 ||
	    (r = put_name(out, pr->hq)) != 0 ||
	    (r = put_head(out, &pr->head)) != 0 ||
	    (r = put_entry(out, &pr->entry)) != 0 ||
	    (r = put_path(out, (const uint8_t (*)[MERKLE_HASH])pr->path,
	    pr->npath)) != 0 ||
	    (r = buf_put_u8(out, pr->two_level ? 1 : 0)) != 0)
		return r;
	if (!pr->two_level)
		return 0;
	if ((r = put_name(out, pr->node)) != 0 ||
	    (r = put_head(out, &pr->node_head)) != 0 ||
	    (r = put_entry(out, &pr->inner)) != 0 ||
	    (r = put_path(out, (const uint8_t (*)[MERKLE_HASH])pr->inner_path,
	    pr->inner_npath)) != 0)
		return r;
	return 0;
}

int
ship_proof_decode(struct ship_proof *pr, const uint8_t *p, size_t len,
    struct kerr *e)
{
	struct rd r;
	uint8_t two;
	int rc;

	memset(pr, 0, sizeof(*pr));
	rd_init(&r, p, len);
	if ((rc = get_start(&r, SHIP_PROOF)) != 0 ||
	    (rc = get_name(&r, pr->hq)) != 0 ||
	    (rc = get_head(&r, &pr->head)) != 0 ||
	    (rc = get_entry(&r, &pr->entry)) != 0 ||
	    (rc = get_path(&r, pr->path, &pr->npath)) != 0 ||
	    (rc = rd_u8(&r, &two)) != 0)
		return fail(e, rc, "proof", &r);
	if (two > 1)
		return fail(e, KERR_FORMAT, "proof", &r);
	pr->two_level = two;
	if (two && ((rc = get_name(&r, pr->node)) != 0 ||
	    (rc = get_head(&r, &pr->node_head)) != 0 ||
	    (rc = get_entry(&r, &pr->inner)) != 0 ||
	    (rc = get_path(&r, pr->inner_path, &pr->inner_npath)) != 0))
		return fail(e, rc, "proof", &r);
	if (rd_left(&r) != 0)
		return fail(e, KERR_FORMAT, "proof (trailing bytes)", &r);
	return 0;
}

void
ship_node_head_detail(char out[static AUDIT_DETAIL_MAX + 1],
    const struct audit_head *h)
{
	char root[2 * MERKLE_HASH + 1], sig[2 * AUDIT_SIG + 1];

	sodium_bin2hex(root, sizeof(root), h->root, MERKLE_HASH);
	sodium_bin2hex(sig, sizeof(sig), h->sig, AUDIT_SIG);
	snprintf(out, AUDIT_DETAIL_MAX + 1, "size=%" PRIu64 " time=%" PRIu64
	    " root=%s sig=%s", h->size, h->time_ns, root, sig);
}
