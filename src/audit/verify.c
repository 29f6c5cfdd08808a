/*
 * audit_verify_log (auditlog.h): the whole log recomputed from its rows,
 * every head and the witness checked as the recomputed tree reaches their
 * sizes, and the first bad entry named.  Reads only; one read transaction.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "audit/audit_int.h"

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
	if (alog_range_fn(v->l, a, a + (1ull << level), stored) != 0 ||
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
 * The next row of the head scan into *h (in size order); *have = 0 after
 * the last.  0, a malformed row (reported in res), or the step's error.
 */
static int
next_head(sqlite3_stmt *hs, struct audit_head *h, int *have,
    struct audit_verify *res)
{
	int r;

	if ((r = alog_step(hs)) < 0)
		return r;
	*have = r == 1;
	if (*have && alog_head_row(hs, h) != 0)
		return bad(res, UINT64_MAX, "a head row is malformed");
	return 0;
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
		uint8_t b[ALOG_HEAD_BYTES + 1];
		int fd = open(l->witness, O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			ssize_t n = read(fd, b, sizeof(b));

			close(fd);
			if (n != ALOG_HEAD_BYTES || alog_head_decode(&wit, b,
			    ALOG_HEAD_BYTES) != 0 || audit_head_verify(&wit,
			    l->node, pk) != 0)
				return bad(res, UINT64_MAX, "the witness file "
				    "%s is not a head signed by this node",
				    l->witness);
			have_wit = 1;
		}
	}
	if ((r = alog_begin(l, ALOG_TX_READ, NULL)) != 0)
		return r;
	if ((r = alog_meta_get(l, META_SHIPPED, &shipped, NULL, 0, NULL,
	    &found)) != 0)
		goto out;
	if ((es = alog_stmt(l, S_ENTRY_SCAN)) == NULL ||
	    (hs = alog_stmt(l, S_HEAD_SCAN)) == NULL) {
		r = KERR_IO;
		goto out;
	}
	if ((r = next_head(hs, &h, &have_head, res)) != 0)
		goto out;
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
			if ((r = next_head(hs, &h, &have_head, res)) != 0)
				goto out;
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
		if (rows_done || (r = alog_step(es)) == 0) {
			rows_done = 1;
			break;
		}
		if (r < 0)
			goto out;
		alog_event_row(es, &ev, stored);
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
		if ((r = alog_append_leaf(&c, leaf, check_tree, &v)) != 0)
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
		if ((r = alog_load_frontier(l)) != 0 || l->c.size != c.size) {
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
	alog_done(es);
	alog_done(hs);
	(void)alog_commit(l, NULL);
	return r;
}
