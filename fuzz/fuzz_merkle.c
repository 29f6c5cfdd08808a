/*
 * libFuzzer target: the Merkle proof verifiers (src/audit/merkle.c).
 *
 * Byte 0 chooses the mode.
 *
 * Even: arbitrary.  Bytes 1..16 are a and size (two little-endian u64),
 * then leaf, root1 and root2 (32 bytes each; a short input is padded with
 * zeros), then the proof: every further whole 32 bytes, in an allocation of
 * exactly that size so that any read past the n-th hash is caught.  Both
 * verifiers run (a as the index, then as m) and must agree with a naive
 * recursive verifier written from RFC 6962's PATH and SUBPROOF.
 *
 * Odd: derived from a real tree.  Byte 1 gives its size N (1..64), byte 2 a
 * seed for its leaves, bytes 3 and 4 the index and m, bit 1 of byte 0
 * inclusion or consistency.  The library proves, then the rest of the input
 * is a list of edits (flip a bit, change index, m or size, cut, extend or
 * reorder the proof, swap the leaf); the verdict must again agree with the
 * naive verifier, and when the proof is accepted for a size this tree has,
 * the claim must be true of the tree: the leaf is the one at that index,
 * the roots are its roots, and the proof is the naive PATH / PROOF.  (Not
 * for m == size: any two equal roots are consistent, which is all that
 * claim says.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/merkle.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

typedef uint8_t hash_t[MERKLE_HASH];

#define TREE_MAX 64
/* room for the edits to push a proof past the cap */
#define FUZZ_PROOF_MAX (MERKLE_PROOF_MAX + 3)

/* ---- naive reference: RFC 6962 §2.1 recursions, as written ---- */

static uint64_t
naive_k(uint64_t n)
{
	uint64_t k = 1;

	while (k < n - k)	/* 2k < n */
		k *= 2;
	return k;
}

static void
naive_mth(uint8_t out[MERKLE_HASH], const hash_t *d, uint64_t n)
{
	uint8_t l[MERKLE_HASH], r[MERKLE_HASH];
	uint64_t k;

	if (n == 0) {
		merkle_empty_root(out);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], MERKLE_HASH);
		return;
	}
	k = naive_k(n);
	naive_mth(l, d, k);
	naive_mth(r, d + k, n - k);
	merkle_node_hash(out, l, r);
}

static void
naive_path(hash_t *proof, size_t *cnt, uint64_t m, const hash_t *d,
    uint64_t n)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = naive_k(n);
	if (m < k) {
		naive_path(proof, cnt, m, d, k);
		naive_mth(proof[(*cnt)++], d + k, n - k);
	} else {
		naive_path(proof, cnt, m - k, d + k, n - k);
		naive_mth(proof[(*cnt)++], d, k);
	}
}

static void
naive_subproof(hash_t *proof, size_t *cnt, uint64_t m, const hash_t *d,
    uint64_t n, int b)
{
	uint64_t k;

	if (m == n) {
		if (!b)
			naive_mth(proof[(*cnt)++], d, n);
		return;
	}
	k = naive_k(n);
	if (m <= k) {
		naive_subproof(proof, cnt, m, d, k, b);
		naive_mth(proof[(*cnt)++], d + k, n - k);
	} else {
		naive_subproof(proof, cnt, m - k, d + k, n - k, 0);
		naive_mth(proof[(*cnt)++], d, k);
	}
}

/* Rebuild the root along PATH's recursion, siblings taken from the end. */
static int
naive_incl_root(uint8_t out[MERKLE_HASH], uint64_t m, uint64_t n,
    const uint8_t leaf[MERKLE_HASH], const hash_t *proof, size_t *left)
{
	uint8_t sub[MERKLE_HASH];
	const uint8_t *sib;
	uint64_t k;

	if (n == 1) {
		memcpy(out, leaf, MERKLE_HASH);
		return 0;
	}
	if (*left == 0)
		return -1;
	sib = proof[--*left];
	k = naive_k(n);
	if (m < k) {
		if (naive_incl_root(sub, m, k, leaf, proof, left) != 0)
			return -1;
		merkle_node_hash(out, sub, sib);
	} else {
		if (naive_incl_root(sub, m - k, n - k, leaf, proof, left) != 0)
			return -1;
		merkle_node_hash(out, sib, sub);
	}
	return 0;
}

static int
naive_verify_inclusion(const uint8_t leaf[MERKLE_HASH], uint64_t index,
    uint64_t size, const hash_t *proof, size_t n,
    const uint8_t root[MERKLE_HASH])
{
	uint8_t r[MERKLE_HASH];
	size_t left = n;

	if (index >= size)
		return -1;
	if (naive_incl_root(r, index, size, leaf, proof, &left) != 0)
		return -1;
	return left == 0 && memcmp(r, root, MERKLE_HASH) == 0 ? 0 : -1;
}

static int
naive_cons_roots(uint8_t o[MERKLE_HASH], uint8_t nw[MERKLE_HASH], uint64_t m,
    uint64_t n, int b, const uint8_t old_root[MERKLE_HASH],
    const hash_t *proof, size_t *left)
{
	uint8_t so[MERKLE_HASH], sn[MERKLE_HASH];
	const uint8_t *sib;
	uint64_t k;

	if (m == n) {
		if (b) {
			memcpy(o, old_root, MERKLE_HASH);
		} else {
			if (*left == 0)
				return -1;
			memcpy(o, proof[--*left], MERKLE_HASH);
		}
		memcpy(nw, o, MERKLE_HASH);
		return 0;
	}
	if (*left == 0)
		return -1;
	sib = proof[--*left];
	k = naive_k(n);
	if (m <= k) {
		if (naive_cons_roots(so, sn, m, k, b, old_root, proof,
		    left) != 0)
			return -1;
		memcpy(o, so, MERKLE_HASH);
		merkle_node_hash(nw, sn, sib);
	} else {
		if (naive_cons_roots(so, sn, m - k, n - k, 0, old_root, proof,
		    left) != 0)
			return -1;
		merkle_node_hash(o, sib, so);
		merkle_node_hash(nw, sib, sn);
	}
	return 0;
}

static int
naive_verify_consistency(uint64_t m, uint64_t size,
    const uint8_t old_root[MERKLE_HASH], const uint8_t new_root[MERKLE_HASH],
    const hash_t *proof, size_t n)
{
	uint8_t o[MERKLE_HASH], nw[MERKLE_HASH];
	size_t left = n;

	if (m == 0 || m > size)
		return -1;
	if (m == size)
		return n == 0 && memcmp(old_root, new_root, MERKLE_HASH) == 0 ?
		    0 : -1;
	if (naive_cons_roots(o, nw, m, size, 1, old_root, proof, &left) != 0)
		return -1;
	return left == 0 && memcmp(o, old_root, MERKLE_HASH) == 0 &&
	    memcmp(nw, new_root, MERKLE_HASH) == 0 ? 0 : -1;
}

/* ---- the two verifiers against the naive ones ---- */

static int
check_inclusion(const uint8_t leaf[MERKLE_HASH], uint64_t index,
    uint64_t size, const hash_t *proof, size_t n,
    const uint8_t root[MERKLE_HASH])
{
	int r = merkle_verify_inclusion(leaf, index, size, proof, n, root);

	if (r != 0 && r != KERR_INVALID)
		abort();
	if ((r == 0) != (naive_verify_inclusion(leaf, index, size, proof, n,
	    root) == 0))
		abort();
	return r;
}

static int
check_consistency(uint64_t m, uint64_t size, const uint8_t r1[MERKLE_HASH],
    const uint8_t r2[MERKLE_HASH], const hash_t *proof, size_t n)
{
	int r = merkle_verify_consistency(m, size, r1, r2, proof, n);

	if (r != 0 && r != KERR_INVALID)
		abort();
	if ((r == 0) != (naive_verify_consistency(m, size, r1, r2, proof,
	    n) == 0))
		abort();
	return r;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
arbitrary(const uint8_t *p, size_t len)
{
	/* mode, a, size, leaf, root1, root2 */
	enum { HEAD = 1 + 8 + 8 + 3 * MERKLE_HASH };
	uint8_t head[HEAD] = { 0 };
	const uint8_t *leaf = head + 17, *r1 = leaf + 32, *r2 = r1 + 32;
	uint64_t a, size;
	hash_t *proof = NULL;
	size_t n = 0;

	memcpy(head, p, len < HEAD ? len : HEAD);
	a = get_u64(head + 1);
	size = get_u64(head + 9);
	if (len > HEAD)
		n = (len - HEAD) / MERKLE_HASH;
	if (n > 0) {
		proof = malloc(n * MERKLE_HASH);
		if (proof == NULL)
			abort();
		memcpy(proof, p + HEAD, n * MERKLE_HASH);
	}
	check_inclusion(leaf, a, size, (const hash_t *)proof, n, r1);
	check_consistency(a, size, r1, r2, (const hash_t *)proof, n);
	free(proof);
}

/* The tree of this input and its prefix roots, each hashed (naively) only
 * when first asked for: most inputs need two or three of them. */
static hash_t leaves[TREE_MAX], roots_memo[TREE_MAX + 1];
static uint8_t roots_have[TREE_MAX + 1];

static const uint8_t *
root_of(uint64_t size)
{
	if (!roots_have[size]) {
		naive_mth(roots_memo[size], (const hash_t *)leaves, size);
		roots_have[size] = 1;
	}
	return roots_memo[size];
}

static void
derived(const uint8_t *p, size_t len)
{
	hash_t proof[FUZZ_PROOF_MAX], want[FUZZ_PROOF_MAX];
	uint8_t leaf[MERKLE_HASH], r1[MERKLE_HASH], r2[MERKLE_HASH];
	struct merkle_mem mem = { (const hash_t *)leaves, 0 };
	int consistency;
	uint64_t N, a, size;
	uint8_t in[2];
	size_t n, nw, off;

	if (len < 5)
		return;
	consistency = p[0] & 2;
	N = 1 + p[1] % TREE_MAX;
	mem.n = N;
	for (uint64_t i = 0; i < N; i++) {
		in[0] = p[2];
		in[1] = (uint8_t)i;
		merkle_leaf_hash(leaves[i], in, sizeof(in));
	}
	memset(roots_have, 0, sizeof(roots_have));
	size = N;
	if (consistency) {
		a = 1 + p[4] % N;
		if (merkle_consistency_proof(proof, FUZZ_PROOF_MAX, &n, a, N,
		    merkle_mem_range, &mem) != 0)
			abort();
	} else {
		a = p[3] % N;
		if (merkle_inclusion_proof(proof, FUZZ_PROOF_MAX, &n, a, N,
		    merkle_mem_range, &mem) != 0)
			abort();
	}
	memcpy(leaf, leaves[consistency ? 0 : a], MERKLE_HASH);
	memcpy(r1, consistency ? root_of(a) : root_of(N), MERKLE_HASH);
	memcpy(r2, root_of(N), MERKLE_HASH);
	/* a fresh proof verifies */
	if (consistency ? check_consistency(a, size, r1, r2,
	    (const hash_t *)proof, n) : check_inclusion(leaf, a, size,
	    (const hash_t *)proof, n, r1))
		abort();

	/* edits: (op, x, y) triples; sizes beyond N keep the roots of N */
	for (off = 5; off + 3 <= len; off += 3) {
		uint8_t x = p[off + 1], y = p[off + 2];

		switch (p[off] % 9) {
		case 0:	/* flip a bit of a proof entry */
			if (n > 0)
				proof[x % n][y / 8 % MERKLE_HASH] ^=
				    (uint8_t)(1 << (y % 8));
			break;
		case 1:	/* another index / m, with its true old root */
			a = x % (N + 3);
			if (consistency)
				memcpy(r1, root_of(a <= N ? a : N), MERKLE_HASH);
			break;
		case 2:	/* another size, with its true root */
			size = x % (N + 3);
			memcpy(consistency ? r2 : r1,
			    root_of(size <= N ? size : N), MERKLE_HASH);
			break;
		case 3:	/* cut the proof */
			n = x % (n + 1);
			break;
		case 4:	/* add a hash from the tree at position y */
			if (n < FUZZ_PROOF_MAX) {
				size_t at = y % (n + 1);

				memmove(proof[at + 1], proof[at],
				    (n - at) * MERKLE_HASH);
				memcpy(proof[at], x & 1 ? root_of(x / 2 % (N +
				    1)) : leaves[x / 2 % N], MERKLE_HASH);
				n++;
			}
			break;
		case 5:	/* swap two entries */
			if (n > 0) {
				hash_t t;

				memcpy(t, proof[x % n], MERKLE_HASH);
				memcpy(proof[x % n], proof[y % n], MERKLE_HASH);
				memcpy(proof[y % n], t, MERKLE_HASH);
			}
			break;
		case 6:	/* another leaf */
			memcpy(leaf, leaves[x % N], MERKLE_HASH);
			break;
		case 7:	/* flip a bit of a root */
			(x & 1 ? r2 : r1)[y / 8 % MERKLE_HASH] ^=
			    (uint8_t)(1 << (y % 8));
			break;
		case 8:	/* drop one entry */
			if (n > 0) {
				size_t at = x % n;

				memmove(proof[at], proof[at + 1],
				    (n - at - 1) * MERKLE_HASH);
				n--;
			}
			break;
		}
	}

	if (!consistency) {
		if (check_inclusion(leaf, a, size, (const hash_t *)proof, n,
		    r1) != 0 || size > N)
			return;
		/* accepted for a size the tree has: it must all be true */
		nw = 0;
		naive_path(want, &nw, a, (const hash_t *)leaves, size);
		if (a >= size || memcmp(leaf, leaves[a], MERKLE_HASH) != 0 ||
		    memcmp(r1, root_of(size), MERKLE_HASH) != 0 || nw != n ||
		    (n > 0 && memcmp(want, proof, n * MERKLE_HASH) != 0))
			abort();
	} else {
		if (check_consistency(a, size, r1, r2, (const hash_t *)proof,
		    n) != 0 || size > N)
			return;
		if (a == 0 || a > size)
			abort();
		/* a head is consistent with itself whatever its root: all
		 * that is proved is that the two roots are the same */
		if (a == size) {
			if (n != 0 || memcmp(r1, r2, MERKLE_HASH) != 0)
				abort();
			return;
		}
		nw = 0;
		naive_subproof(want, &nw, a, (const hash_t *)leaves, size, 1);
		if (memcmp(r1, root_of(a), MERKLE_HASH) != 0 ||
		    memcmp(r2, root_of(size), MERKLE_HASH) != 0 || nw != n ||
		    (n > 0 && memcmp(want, proof, n * MERKLE_HASH) != 0))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	if (len == 0)
		return 0;
	if (p[0] & 1)
		derived(p, len);
	else
		arbitrary(p, len);
	return 0;
}
