/*
 * Wire encodings of the audit log (docs/audit.md, "Wire"): what a post ships
 * to HQ (a batch of entries, its signed head, the consistency proof from the
 * last head HQ acknowledged), what HQ sends back to posts (its signed head
 * and the consistency proof from the post's last seen head), and inclusion
 * proofs for third parties.  Big-endian, length-prefixed; the decoders are
 * strict (every field, every cap, no trailing bytes) and fuzzed
 * (fuzz/fuzz_audit_ship.c).  Decoders check structure only: signatures
 * and proofs are checked by post.c, collect.c and prove.c.
 */
#ifndef KODEN_SHIP_H
#define KODEN_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include "audit/auditlog.h"
#include "lib/buf.h"
#include "lib/err.h"

#define SHIP_VERSION 1
#define SHIP_BATCH 1
#define SHIP_HQHEAD 2
#define SHIP_PROOF 3
/* Hard cap of one message: AUDIT_BATCH_MAX largest entries fit. */
#define SHIP_MSG_MAX (AUDIT_BATCH_MAX * (AUDIT_ENTRY_MAX + 4) + 4096)

/* Post -> HQ.  Entries are seqs first .. first + n - 1 and first + n is
 * head.size (the decoder enforces both); proof is PROOF(first, head.size),
 * empty when first is 0. */
struct ship_batch {
	char node[AUDIT_NODE_MAX + 1];
	uint64_t hq_seen;
	struct audit_head head;
	uint64_t first;
	size_t nproof;
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH];
	size_t n;
	struct audit_event *ev;	/* owned: ship_batch_free */
};

/* HQ -> post: proof is PROOF(since, head.size) (empty when since is 0 or
 * equal to head.size). */
struct ship_hqhead {
	char hq[AUDIT_NODE_MAX + 1];
	struct audit_head head;
	uint64_t since;
	size_t nproof;
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH];
};

/* An inclusion proof: entry (its seq inside) in HQ's head, by path; with
 * two_level, inner is a post's entry in node_head of that post, by
 * inner_path, and entry is the global-log leaf that records node_head. */
struct ship_proof {
	char hq[AUDIT_NODE_MAX + 1];
	struct audit_head head;
	struct audit_event entry;
	size_t npath;
	uint8_t path[MERKLE_PROOF_MAX][MERKLE_HASH];
	int two_level;
	char node[AUDIT_NODE_MAX + 1];
	struct audit_event inner;
	struct audit_head node_head;
	size_t inner_npath;
	uint8_t inner_path[MERKLE_PROOF_MAX][MERKLE_HASH];
};

int ship_batch_encode(struct buf *out, const struct ship_batch *b) KODEN_WUR;
/* b->ev is allocated (caller frees with ship_batch_free, also on error). */
int ship_batch_decode(struct ship_batch *b, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;
void ship_batch_free(struct ship_batch *b);

int ship_hqhead_encode(struct buf *out, const struct ship_hqhead *h) KODEN_WUR;
int ship_hqhead_decode(struct ship_hqhead *h, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;

int ship_proof_encode(struct buf *out, const struct ship_proof *pr) KODEN_WUR;
int ship_proof_decode(struct ship_proof *pr, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;

/* The "node-head" detail text recording a post's head in the global log. */
void ship_node_head_detail(char out[static AUDIT_DETAIL_MAX + 1],
    const struct audit_head *h);

#endif
