/*
 * Merkle tree hashing and proofs for the tamper-evident audit log
 * (DESIGN.md point 3): the tree of RFC 6962 §2.1 with SHA-256, proofs built
 * as RFC 9162 §2.1.3.1 PATH and §2.1.4.1 PROOF/SUBPROOF, and checked with
 * exactly the verification algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2.
 *
 * Every hash here is MERKLE_HASH bytes and lives in the type, so a value of
 * another length never reaches this module: whoever decodes a proof from the
 * wire rejects a short or long hash there.  Leaves are given as leaf hashes
 * (merkle_leaf_hash of the entry); the module never sees an entry itself.
 *
 * Nothing here is secret, but roots are compared with sodium_memcmp anyway,
 * so that how far a forged root matches is not visible in the timing.
 */
#ifndef KODEN_MERKLE_H
#define KODEN_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define MERKLE_HASH 32

/*
 * Hashes in a proof, for any tree of up to 2^64 - 1 leaves.  An inclusion
 * proof has at most ceil(log2 size) <= 64 entries.  A consistency proof can
 * have one more: the SUBPROOF path down to the old tree's last subtree plus
 * that subtree's own hash (m = 3, size = 5 needs 4 = ceil(log2 5) + 1 hashes;
 * m = 2^63 - 1, size = 2^63 + 1 needs 65).  Verifiers reject any longer
 * proof before hashing anything.
 */
#define MERKLE_PROOF_MAX 65

/* Subtree roots a compact tree holds: one per set bit of a uint64_t size. */
#define MERKLE_COMPACT_MAX 64

/* SHA-256(0x00 || data): the hash of one log entry (RFC 6962 §2.1). */
void merkle_leaf_hash(uint8_t out[static MERKLE_HASH], const uint8_t *data,
    size_t len);
/* SHA-256(0x01 || l || r).  out may be the same array as l or r. */
void merkle_node_hash(uint8_t out[static MERKLE_HASH],
    const uint8_t l[static MERKLE_HASH], const uint8_t r[static MERKLE_HASH]);
/* MTH({}) = SHA-256(""): the root of the empty tree. */
void merkle_empty_root(uint8_t out[static MERKLE_HASH]);

/*
 * MTH of the n leaf hashes leaves[0..n), RFC 6962 §2.1, with O(log n) memory
 * (the subtree-root stack of struct merkle_compact) and 2n hashes.
 * KERR_INVALID if leaves is NULL and n > 0.
 */
int merkle_root(uint8_t out[static MERKLE_HASH],
    const uint8_t (*leaves)[MERKLE_HASH], uint64_t n) KODEN_WUR;

/*
 * A tree that grows one leaf at a time in O(log n) state: stack[i] for
 * i < popcount(size) is the root of a complete subtree, largest (leftmost)
 * first, exactly the subtrees whose sizes are the set bits of size.  The
 * struct is plain data and may be copied or stored as it is.
 */
struct merkle_compact {
	uint64_t size;
	uint8_t stack[MERKLE_COMPACT_MAX][MERKLE_HASH];
};

void merkle_compact_init(struct merkle_compact *c);
/* Append one leaf hash; KERR_TOOBIG (c unchanged) at 2^64 - 1 leaves. */
int merkle_compact_append(struct merkle_compact *c,
    const uint8_t leaf[static MERKLE_HASH]) KODEN_WUR;
/* MTH of the c->size leaves so far (the empty root at size 0). */
void merkle_compact_root(const struct merkle_compact *c,
    uint8_t out[static MERKLE_HASH]);

/*
 * Where proof generation gets its hashes: put in out the MTH of leaves
 * [a, b), return 0 or a negative KERR_*, which is passed on to the caller.
 * It is only ever asked for a complete subtree: b - a is a power of two and
 * a is a multiple of it, so a store-backed log can answer from one stored
 * node (level log2(b - a), index a / (b - a)).  Every other range a proof
 * needs is folded here from at most 64 such subtrees.
 */
typedef int (*merkle_range_fn)(void *ctx, uint64_t a, uint64_t b,
    uint8_t out[MERKLE_HASH]);

/*
 * The simple backend: leaf hashes in memory, each subtree recomputed from
 * its leaves (O(b - a) per call; a proof costs O(size) hashes).  The array
 * is borrowed and must outlive the calls.  KERR_INVALID for a range that is
 * not a complete subtree within [0, n).
 */
struct merkle_mem {
	const uint8_t (*leaves)[MERKLE_HASH];
	uint64_t n;
};
int merkle_mem_range(void *ctx, uint64_t a, uint64_t b,
    uint8_t out[MERKLE_HASH]) KODEN_WUR;

/* MTH of the first size leaves, from f's complete subtrees (popcount(size)
 * calls): a log's root at any past size without touching its leaves. */
int merkle_tree_root(uint8_t out[static MERKLE_HASH], uint64_t size,
    merkle_range_fn f, void *ctx) KODEN_WUR;

/*
 * The audit path of leaf index in the tree of size leaves, RFC 9162
 * §2.1.3.1 PATH, ordered from the leaf upward.  proof has room for max
 * hashes (MERKLE_PROOF_MAX always suffices); *n is set to 0 on entry and to
 * the count on success.  KERR_INVALID if index >= size, KERR_TOOBIG if max
 * is too small, or f's error.
 */
int merkle_inclusion_proof(uint8_t (*proof)[MERKLE_HASH], size_t max,
    size_t *n, uint64_t index, uint64_t size, merkle_range_fn f, void *ctx)
    KODEN_WUR;

/*
 * The proof that the tree of size leaves extends the tree of its first m,
 * RFC 9162 §2.1.4.1 PROOF(m, D[size]) = SUBPROOF(m, D[size], true); empty
 * when m == size.  Same buffer contract as merkle_inclusion_proof.
 * KERR_INVALID if m == 0 (nothing to prove, and verifiers refuse it) or
 * m > size.
 */
int merkle_consistency_proof(uint8_t (*proof)[MERKLE_HASH], size_t max,
    size_t *n, uint64_t m, uint64_t size, merkle_range_fn f, void *ctx)
    KODEN_WUR;

/*
 * RFC 9162 §2.1.3.2: 0 if leaf is leaf hash number index of the tree of
 * size leaves whose root is root, by the n hashes of proof; else
 * KERR_INVALID.  index >= size, a proof one hash too long or too short, and
 * n > MERKLE_PROOF_MAX all fail; no input makes it crash.
 */
int merkle_verify_inclusion(const uint8_t leaf[MERKLE_HASH], uint64_t index,
    uint64_t size, const uint8_t (*proof)[MERKLE_HASH], size_t n,
    const uint8_t root[MERKLE_HASH]) KODEN_WUR;

/*
 * RFC 9162 §2.1.4.2: 0 if the tree of size leaves with root new_root
 * extends the tree of its first m leaves with root old_root, by the n
 * hashes of proof; else KERR_INVALID.  Outside 0 < m < size, which the RFC
 * requires: m == size is valid only with an empty proof and equal roots;
 * m == 0 and m > size always fail.  No input makes it crash.
 */
int merkle_verify_consistency(uint64_t m, uint64_t size,
    const uint8_t old_root[MERKLE_HASH], const uint8_t new_root[MERKLE_HASH],
    const uint8_t (*proof)[MERKLE_HASH], size_t n) KODEN_WUR;

#endif
