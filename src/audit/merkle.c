/*
 * Merkle trees, RFC 6962 §2.1, proofs and their verification, RFC 9162
 * §2.1.3 and §2.1.4.
 *
 * The RFCs define MTH, PATH and SUBPROOF recursively over D[k:n].  Here they
 * run as loops over a window [lo, hi) of leaf indices that starts as the
 * whole tree and is narrowed to one side of the split each step, so stack
 * use is fixed and no recursion depth depends on input.  A window met this
 * way always starts at a multiple of the smallest power of two >= its width
 * (true for [0, size); both halves of a split keep it), which is what lets
 * range_hash() build any window from complete subtrees alone.
 */
#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "audit/merkle.h"

static const uint8_t prefix_leaf = 0x00, prefix_node = 0x01;

void
merkle_leaf_hash(uint8_t out[static MERKLE_HASH], const uint8_t *data,
    size_t len)
{
	crypto_hash_sha256_state st;

	assert(data != NULL || len == 0);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix_leaf, 1);
	if (len > 0)
		crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, out);
}

void
merkle_node_hash(uint8_t out[static MERKLE_HASH],
    const uint8_t l[static MERKLE_HASH], const uint8_t r[static MERKLE_HASH])
{
	crypto_hash_sha256_state st;

	/* l and r are absorbed before out is written, so out may alias them */
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix_node, 1);
	crypto_hash_sha256_update(&st, l, MERKLE_HASH);
	crypto_hash_sha256_update(&st, r, MERKLE_HASH);
	crypto_hash_sha256_final(&st, out);
}

void
merkle_empty_root(uint8_t out[static MERKLE_HASH])
{
	crypto_hash_sha256(out, NULL, 0);
}

/* The k of RFC 6962 §2.1: the largest power of two smaller than w (w >= 2). */
static uint64_t
split_point(uint64_t w)
{
	assert(w >= 2);
	return (uint64_t)1 << (63 - __builtin_clzll(w - 1));
}

static int
popcount64(uint64_t v)
{
	return __builtin_popcountll(v);
}

void
merkle_compact_init(struct merkle_compact *c)
{
	memset(c, 0, sizeof(*c));
}

int
merkle_compact_append(struct merkle_compact *c,
    const uint8_t leaf[static MERKLE_HASH])
{
	int top = popcount64(c->size);
	uint64_t s;

	/* 2^64 - 1 leaves fill all 64 slots; one more would need a 65th */
	if (c->size == UINT64_MAX)
		return KERR_TOOBIG;
	/* below 2^64 - 1, at most 63 bits are set: slot top is free */
	memcpy(c->stack[top++], leaf, MERKLE_HASH);
	/* each trailing 1 bit of the old size is a subtree as big as the new
	 * one beside it: merge them, as a binary counter carries */
	for (s = c->size; s & 1; s >>= 1) {
		/* that bit's subtree is on the stack, below the new one */
		assert(top >= 2);
		merkle_node_hash(c->stack[top - 2], c->stack[top - 2],
		    c->stack[top - 1]);
		top--;
	}
	c->size++;
	assert(top == popcount64(c->size));
	return 0;
}

void
merkle_compact_root(const struct merkle_compact *c,
    uint8_t out[static MERKLE_HASH])
{
	int i = popcount64(c->size);
	uint8_t acc[MERKLE_HASH];

	if (i == 0) {
		merkle_empty_root(out);
		return;
	}
	/* MTH splits at the largest subtree first, so fold from the right */
	memcpy(acc, c->stack[--i], MERKLE_HASH);
	while (i-- > 0)
		merkle_node_hash(acc, c->stack[i], acc);
	memcpy(out, acc, MERKLE_HASH);
}

int
merkle_root(uint8_t out[static MERKLE_HASH],
    const uint8_t (*leaves)[MERKLE_HASH], uint64_t n)
{
	struct merkle_compact c;
	int r;

	if (leaves == NULL && n > 0)
		return KERR_INVALID;
	merkle_compact_init(&c);
	for (uint64_t i = 0; i < n; i++)
		if ((r = merkle_compact_append(&c, leaves[i])) != 0)
			return r;
	merkle_compact_root(&c, out);
	return 0;
}

int
merkle_mem_range(void *ctx, uint64_t a, uint64_t b, uint8_t out[MERKLE_HASH])
{
	const struct merkle_mem *t = ctx;
	uint64_t w;

	if (t == NULL || a >= b || b > t->n)
		return KERR_INVALID;
	w = b - a;
	if ((w & (w - 1)) != 0 || a % w != 0)
		return KERR_INVALID;
	return merkle_root(out, t->leaves + a, w);
}

/* Call f, keeping its contract of 0 or a negative KERR_*. */
static int
get_subtree(merkle_range_fn f, void *ctx, uint64_t a, uint64_t b,
    uint8_t out[MERKLE_HASH])
{
	int r = f(ctx, a, b, out);

	return r > 0 ? KERR_INVALID : r;
}

#ifndef NDEBUG
/* The window invariant of the file comment: a is a multiple of the
 * smallest power of two >= b - a. */
static int
window_aligned(uint64_t a, uint64_t b)
{
	uint64_t w = b - a, p;

	if (w > (uint64_t)1 << 63)
		return a == 0;	/* that power of two is 2^64 */
	p = w == 1 ? 1 : (uint64_t)1 << (64 - __builtin_clzll(w - 1));
	return (a & (p - 1)) == 0;
}
#endif

/*
 * MTH(D[a:b]) for a window of the kind the file comment describes.  Its
 * width's set bits are its complete subtrees, largest at the left; MTH
 * splits off the largest first, so the hash is their fold from the right:
 * start with the smallest (rightmost) and put each bigger one on its left.
 */
static int
range_hash(uint8_t out[MERKLE_HASH], uint64_t a, uint64_t b,
    merkle_range_fn f, void *ctx)
{
	uint8_t acc[MERKLE_HASH], h[MERKLE_HASH];
	uint64_t w = b - a, end = b, t;
	int r, first = 1;

	assert(a < b && window_aligned(a, b));
	while (w != 0) {
		t = w & (~w + 1);	/* lowest set bit */
		/* merkle_range_fn's contract: a complete subtree */
		assert((end - t) % t == 0);
		if ((r = get_subtree(f, ctx, end - t, end,
		    first ? acc : h)) != 0)
			return r;
		if (!first)
			merkle_node_hash(acc, h, acc);
		first = 0;
		end -= t;
		w -= t;
	}
	memcpy(out, acc, MERKLE_HASH);
	return 0;
}

int
merkle_tree_root(uint8_t out[static MERKLE_HASH], uint64_t size,
    merkle_range_fn f, void *ctx)
{
	if (f == NULL)
		return KERR_INVALID;
	if (size == 0) {
		merkle_empty_root(out);
		return 0;
	}
	return range_hash(out, 0, size, f, ctx);
}

/* The RFCs append each level's sibling after the path below it; the loops
 * find siblings top-down, so they store them that way and then reverse. */
static void
reverse(uint8_t (*proof)[MERKLE_HASH], size_t n)
{
	uint8_t tmp[MERKLE_HASH];

	for (size_t i = 0; i < n / 2; i++) {
		memcpy(tmp, proof[i], MERKLE_HASH);
		memcpy(proof[i], proof[n - 1 - i], MERKLE_HASH);
		memcpy(proof[n - 1 - i], tmp, MERKLE_HASH);
	}
}

int
merkle_inclusion_proof(uint8_t (*proof)[MERKLE_HASH], size_t max,
    size_t *n, uint64_t index, uint64_t size, merkle_range_fn f, void *ctx)
{
	uint64_t lo = 0, hi = size, k;
	size_t cnt = 0;
	int r;

	if (n == NULL)
		return KERR_INVALID;
	*n = 0;
	if (f == NULL || (proof == NULL && max > 0) || index >= size)
		return KERR_INVALID;
	while (hi - lo > 1) {
		assert(lo <= index && index < hi);
		/* PATH(m, D[n]), n > 1: split at k */
		k = split_point(hi - lo);
		if (cnt == max)
			return KERR_TOOBIG;
		if (index - lo < k) {
			/* m < k: PATH(m, D[0:k]) : MTH(D[k:n]) */
			r = range_hash(proof[cnt], lo + k, hi, f, ctx);
			hi = lo + k;
		} else {
			/* m >= k: PATH(m - k, D[k:n]) : MTH(D[0:k]) */
			r = range_hash(proof[cnt], lo, lo + k, f, ctx);
			lo += k;
		}
		if (r != 0)
			return r;
		cnt++;
	}
	/* PATH(0, {d(0)}) = {} */
	reverse(proof, cnt);
	*n = cnt;
	return 0;
}

int
merkle_consistency_proof(uint8_t (*proof)[MERKLE_HASH], size_t max,
    size_t *n, uint64_t m, uint64_t size, merkle_range_fn f, void *ctx)
{
	uint64_t lo = 0, hi = size, k;
	size_t cnt = 0;
	int b = 1, r;

	if (n == NULL)
		return KERR_INVALID;
	*n = 0;
	if (f == NULL || (proof == NULL && max > 0) || m == 0 || m > size)
		return KERR_INVALID;
	/* SUBPROOF(m - lo, D[lo:hi], b); lo < m holds throughout, so while
	 * m < hi the window has at least two leaves to split */
	while (m < hi) {
		assert(lo < m);
		k = split_point(hi - lo);
		if (cnt == max)
			return KERR_TOOBIG;
		if (m - lo <= k) {
			/* m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) */
			r = range_hash(proof[cnt], lo + k, hi, f, ctx);
			hi = lo + k;
		} else {
			/* m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) */
			r = range_hash(proof[cnt], lo, lo + k, f, ctx);
			lo += k;
			b = 0;
		}
		if (r != 0)
			return r;
		cnt++;
	}
	/* m == n: SUBPROOF(m, D[m], true) = {}, with false = {MTH(D[m])} */
	if (!b) {
		if (cnt == max)
			return KERR_TOOBIG;
		if ((r = range_hash(proof[cnt], lo, hi, f, ctx)) != 0)
			return r;
		cnt++;
	}
	reverse(proof, cnt);
	*n = cnt;
	return 0;
}

/* In constant time: how much of a forged root matches stays unseen. */
static int
roots_equal(const uint8_t a[MERKLE_HASH], const uint8_t b[MERKLE_HASH])
{
	return sodium_memcmp(a, b, MERKLE_HASH) == 0;
}

int
merkle_verify_inclusion(const uint8_t leaf[MERKLE_HASH], uint64_t index,
    uint64_t size, const uint8_t (*proof)[MERKLE_HASH], size_t n,
    const uint8_t root[MERKLE_HASH])
{
	uint8_t r[MERKLE_HASH];
	uint64_t fn, sn;

	if (leaf == NULL || root == NULL || (proof == NULL && n > 0))
		return KERR_INVALID;
	/* 1. leaf_index >= tree_size fails */
	if (index >= size)
		return KERR_INVALID;
	/* no valid proof is this long; refuse before hashing */
	if (n > MERKLE_PROOF_MAX)
		return KERR_INVALID;
	/* 2. fn = leaf_index, sn = tree_size - 1 */
	fn = index;
	sn = size - 1;
	/* 3. r = hash */
	memcpy(r, leaf, MERKLE_HASH);
	/* 4. for each p in inclusion_path */
	for (size_t i = 0; i < n; i++) {
		/* a. sn == 0 with entries left: too long */
		if (sn == 0)
			return KERR_INVALID;
		if ((fn & 1) || fn == sn) {
			/* b.i. r = HASH(0x01 || p || r) */
			merkle_node_hash(r, proof[i], r);
			/* b.ii. a right edge: climb past the levels where
			 * this node has no sibling */
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			/* otherwise r = HASH(0x01 || r || p) */
			merkle_node_hash(r, r, proof[i]);
		}
		/* c. */
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. sn must be 0 (not too short) and r the root */
	if (!roots_equal(r, root) || sn != 0)
		return KERR_INVALID;
	return 0;
}

int
merkle_verify_consistency(uint64_t m, uint64_t size,
    const uint8_t old_root[MERKLE_HASH], const uint8_t new_root[MERKLE_HASH],
    const uint8_t (*proof)[MERKLE_HASH], size_t n)
{
	uint8_t fr[MERKLE_HASH], sr[MERKLE_HASH];
	uint64_t fn, sn;
	size_t i = 0;
	int old_ok, new_ok;

	if (old_root == NULL || new_root == NULL || (proof == NULL && n > 0))
		return KERR_INVALID;
	/* §2.1.4.2 is for 0 < first < second.  The empty tree has no head
	 * worth proving against, and a tree never shrinks. */
	if (m == 0 || m > size)
		return KERR_INVALID;
	/* a tree is consistent with itself only: same root, nothing to prove */
	if (m == size) {
		if (n != 0 || !roots_equal(old_root, new_root))
			return KERR_INVALID;
		return 0;
	}
	/* 1. an empty consistency_path fails */
	if (n == 0 || n > MERKLE_PROOF_MAX)
		return KERR_INVALID;
	/* 2. + 5. if first is an exact power of 2, first_hash is prepended,
	 * so it is the first value; otherwise proof[0] is */
	if ((m & (m - 1)) == 0) {
		memcpy(fr, old_root, MERKLE_HASH);
	} else {
		memcpy(fr, proof[0], MERKLE_HASH);
		i = 1;
	}
	memcpy(sr, fr, MERKLE_HASH);
	/* 3. fn = first - 1, sn = second - 1 */
	fn = m - 1;
	sn = size - 1;
	/* 4. shift while LSB(fn) is set */
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	/* 6. for each subsequent value c */
	for (; i < n; i++) {
		/* a. sn == 0 with entries left: too long */
		if (sn == 0)
			return KERR_INVALID;
		if ((fn & 1) || fn == sn) {
			/* b.i. fr = HASH(0x01 || c || fr),
			 *      sr = HASH(0x01 || c || sr) */
			merkle_node_hash(fr, proof[i], fr);
			merkle_node_hash(sr, proof[i], sr);
			/* b.ii. */
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			/* otherwise sr = HASH(0x01 || sr || c) */
			merkle_node_hash(sr, sr, proof[i]);
		}
		/* c. */
		fn >>= 1;
		sn >>= 1;
	}
	/* 7. fr == first_hash, sr == second_hash and sn == 0 */
	old_ok = roots_equal(fr, old_root);
	new_ok = roots_equal(sr, new_root);
	if (!old_ok || !new_ok || sn != 0)
		return KERR_INVALID;
	return 0;
}
