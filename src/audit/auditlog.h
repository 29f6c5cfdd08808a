/*
 * The tamper-evident audit log (DESIGN.md point 3, issue 5; docs/audit.md).
 *
 * Every node keeps NODEDIR/audit.db, a SQLite file of its own (WAL,
 * synchronous=FULL, versioned schema).  Each event is one row; its
 * canonical encoding (audit_event_encode) is a leaf of an RFC 6962 Merkle
 * tree (merkle.h) whose complete subtrees are stored, so that appending is
 * O(1) amortised and proofs are O(log n) row reads.  The node signs tree
 * heads (size, root, time) with its node key; verify recomputes everything
 * from the rows and checks every head.
 *
 * HQ's audit.db holds, besides HQ's own events, a copy of every post's
 * entries and heads (audit_ingest), and its own log doubles as the global
 * log: each accepted post head, each telegram envelope hash and each
 * directory change becomes a leaf of it, under heads signed with HQ's node
 * key.  Posts check each HQ head they are shown for consistency with the
 * last one (audit_check_hq_head), so HQ cannot fork its history unnoticed.
 *
 * Several processes (kodend and koden) append to the same file: every write
 * is one BEGIN IMMEDIATE transaction that reads the stored frontier, so seq
 * allocation is race-free.  One struct auditlog is used by one thread.
 *
 * The implementation is several files, one concern each; audit_int.h, the
 * module's internal header, lists them and what they share.
 */
#ifndef KODEN_AUDITLOG_H
#define KODEN_AUDITLOG_H

#include <stddef.h>
#include <stdint.h>

#include "audit/merkle.h"
#include "crypto/keys.h"
#include "lib/buf.h"
#include "lib/err.h"

#define AUDIT_DB_FILE "audit.db"
#define AUDIT_WITNESS_FILE "audit.head"	/* highest signed head, see docs */

/* Field caps in bytes (UTF-8, no NUL); over a cap is KERR_TOOBIG. */
#define AUDIT_NODE_MAX 64
#define AUDIT_ACTOR_MAX 128
#define AUDIT_SOURCE_MAX 128
#define AUDIT_ACTION_MAX 32
#define AUDIT_OBJECT_MAX 128
#define AUDIT_OUTCOME_MAX 128
#define AUDIT_DETAIL_MAX 1024
#define AUDIT_ENTRY_VERSION 1
/* The largest canonical encoding of one entry. */
#define AUDIT_ENTRY_MAX (1 + 8 + 8 + 6 * 2 + AUDIT_NODE_MAX + AUDIT_ACTOR_MAX + \
	AUDIT_SOURCE_MAX + AUDIT_ACTION_MAX + AUDIT_OBJECT_MAX + \
	AUDIT_OUTCOME_MAX + 2 + AUDIT_DETAIL_MAX)
/* Entries appended or ingested in one call. */
#define AUDIT_BATCH_MAX 8192

#define AUDIT_SIG 64

/*
 * One event, with the NIST SP 800-53 AU-3 fields: action (what), time_ns
 * (when, unix ns), node (where), source (cli/pid/uid or peer), outcome
 * ("ok" or "fail: reason"), actor (who: person or "kodend"), object (which:
 * telegram id or other), detail (free text).  seq is the leaf index.
 */
struct audit_event {
	uint64_t seq;
	uint64_t time_ns;
	char node[AUDIT_NODE_MAX + 1];
	char actor[AUDIT_ACTOR_MAX + 1];
	char source[AUDIT_SOURCE_MAX + 1];
	char action[AUDIT_ACTION_MAX + 1];
	char object[AUDIT_OBJECT_MAX + 1];
	char outcome[AUDIT_OUTCOME_MAX + 1];
	char detail[AUDIT_DETAIL_MAX + 1];
};

/* A signed tree head: Ed25519 by the node key over audit_head_message. */
struct audit_head {
	uint64_t size;
	uint64_t time_ns;
	uint8_t root[MERKLE_HASH];
	uint8_t sig[AUDIT_SIG];
};

/* ---- canonical encodings (event.c) ---------------------------------------- */

/*
 * u8 version || u64 seq || u64 time_ns || str8 node, actor, source, action,
 * object, outcome (u16 length each) || str16 detail: big-endian, length-
 * prefixed, so no two events share an encoding.  KERR_TOOBIG over a cap,
 * KERR_FORMAT for a field that is not UTF-8.
 */
int audit_event_encode(struct buf *out, const struct audit_event *ev) KODEN_WUR;
/* Strict inverse: every field checked, no trailing bytes. */
int audit_event_decode(struct audit_event *ev, const uint8_t *p, size_t len)
    KODEN_WUR;
/* merkle_leaf_hash of the encoding. */
int audit_event_leaf(uint8_t out[static MERKLE_HASH],
    const struct audit_event *ev) KODEN_WUR;
/* Set an event's text fields (truncating at the caps, replacing bytes that
 * are not UTF-8 with '?'), time_ns = now.  Any string may be NULL. */
void audit_event_set(struct audit_event *ev, const char *actor,
    const char *source, const char *action, const char *object,
    const char *outcome, const char *detail);
uint64_t audit_now_ns(void);

/*
 * The signed message of a head: "koden audit head v1" || 0x00 || str8 node
 * || u64 size || root || u64 time_ns.  node names the log (a post, or HQ for
 * the global log), so one node's head never passes for another's.
 */
int audit_head_message(struct buf *out, const char *node,
    const struct audit_head *h) KODEN_WUR;
int audit_head_sign(struct audit_head *h, const char *node,
    const struct identity *key) KODEN_WUR;
/* 0 or KERR_SIGNATURE. */
int audit_head_verify(const struct audit_head *h, const char *node,
    const uint8_t pk[static KEY_SIGN_PK]) KODEN_WUR;

/* ---- the log -------------------------------------------------------------- */

struct auditlog;

/*
 * Open (creating and migrating) the audit database at path for the node
 * called node.  witness may be NULL or the path of the highest-head
 * witness file written beside it.  Caller closes *out.
 */
int auditlog_open(struct auditlog **out, const char *path, const char *node,
    const char *witness, struct kerr *e) KODEN_WUR;
/* NODEDIR/audit.db and NODEDIR/audit.head of the node called node (the
 * name in its kodend.conf: the caller reads it). */
int auditlog_open_dir(struct auditlog **out, const char *nodedir,
    const char *node, struct kerr *e) KODEN_WUR;
void auditlog_close(struct auditlog *l);
/*
 * Commits of this handle stop at the write-ahead log (synchronous =
 * NORMAL): they survive the death of the process, not of the machine,
 * until the caller fsyncs the log (kodend's writer does, right after).
 */
int auditlog_sync_later(struct auditlog *l, struct kerr *e) KODEN_WUR;
const char *auditlog_node(const struct auditlog *l);
/*
 * How long a write waits for another connection's write lock (default
 * 10 s), and whether the last failure was that wait running out: for a
 * caller that would rather try again later than wait (kodend's loop).
 */
void auditlog_busy_timeout(struct auditlog *l, int ms);
int auditlog_busy(struct auditlog *l);

/*
 * Append n events in one transaction: each gets the next seq (ev[i].seq is
 * set), an empty node field becomes this node's name, time_ns 0 becomes
 * now.  If key is non-NULL, a head over the new size is signed in the same
 * transaction (one fsync for all).  All or nothing.
 */
int audit_append(struct auditlog *l, struct audit_event *ev, size_t n,
    const struct identity *key, struct kerr *e) KODEN_WUR;

/*
 * The audit journal (journal.h) moved into the log, in one write
 * transaction (which also keeps two processes from moving the same events
 * twice): the stored journal position (generation, offset; zeros before
 * the first) is put in t, fill reads the journal from there and sets t's
 * events (owned by fill's ctx) and the position after them (t->moved if
 * the position changed with no event, past damage), and the events are
 * appended and the position stored together, a head signed with key if
 * non-NULL.  *added: the events appended.
 */
#define AUDIT_JOURNAL_GEN 16
struct audit_journal_take {
	uint8_t gen[AUDIT_JOURNAL_GEN];
	uint64_t off;
	struct audit_event *ev;
	size_t n;
	int moved;
};
typedef int (*audit_journal_fill)(void *ctx, struct audit_journal_take *t,
    struct kerr *e);
int audit_journal_txn(struct auditlog *l, const struct identity *key,
    audit_journal_fill fill, void *ctx, size_t *added, struct kerr *e)
    KODEN_WUR;

/*
 * Sign a head over the current size unless the latest head already covers
 * it; *out (may be NULL) receives the latest head.  Call every few seconds
 * while events arrive and at every stop.
 */
int audit_sign_head(struct auditlog *l, const struct identity *key,
    struct audit_head *out, struct kerr *e) KODEN_WUR;

int audit_size(struct auditlog *l, uint64_t *size) KODEN_WUR;
/* The latest signed head; *found = 0 if none. */
int audit_latest_head(struct auditlog *l, struct audit_head *h, int *found)
    KODEN_WUR;
/* Entry seq as stored (fields, not checked).  KERR_INVALID if absent. */
int audit_get(struct auditlog *l, uint64_t seq, struct audit_event *ev)
    KODEN_WUR;
/* Root of the first size entries, from stored subtrees. */
int audit_root_at(struct auditlog *l, uint64_t size,
    uint8_t root[static MERKLE_HASH]) KODEN_WUR;
/* Proofs over this log (merkle.h buffer contract, max MERKLE_PROOF_MAX). */
int audit_inclusion_proof(struct auditlog *l, uint64_t seq, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH], size_t *n) KODEN_WUR;
int audit_consistency_proof(struct auditlog *l, uint64_t m, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH], size_t *n) KODEN_WUR;

/*
 * Recompute the log from its rows and check it: seqs contiguous from 0,
 * every leaf recomputed from its fields, every stored subtree, every head's
 * signature (by pk) and root, the heads consistent with one another, no
 * head or witness beyond the rows (truncation), acknowledged shipping
 * within the rows.  Returns 0 when the log is sound.  KERR_MISMATCH when
 * it is not: *bad is the first bad entry (UINT64_MAX when no single entry
 * can be named) and why says what (both filled).  Other codes: could not
 * check.
 */
struct audit_verify {
	uint64_t entries;
	uint64_t heads;
	uint64_t bad;
	char why[512];
};
int audit_verify_log(struct auditlog *l, const uint8_t pk[static KEY_SIGN_PK],
    struct audit_verify *res) KODEN_WUR;

/* ---- shipping: node -> HQ (kodend) ---------------------------------------- */

/* Entries [0, *acked) are acknowledged by HQ. */
int audit_shipped(struct auditlog *l, uint64_t *acked) KODEN_WUR;
/*
 * The next batch for HQ as a wire message (ship.h), into out: entries
 * [acked, upto) with upto - acked <= max (<= AUDIT_BATCH_MAX), a head at
 * exactly upto (signed now with key if no stored head has that size) and
 * the consistency proof from acked to upto.  hq_seen is the size of the
 * last HQ head this node accepted (HQ answers with a proof from there).
 * *upto = acked when there is nothing to ship (out left empty).
 */
int audit_ship_prepare(struct auditlog *l, const struct identity *key,
    size_t max, struct buf *out, uint64_t *upto, struct kerr *e) KODEN_WUR;
/* HQ acknowledged entries [0, upto): never moves backwards. */
int audit_mark_shipped(struct auditlog *l, uint64_t upto) KODEN_WUR;

/* ---- HQ: collecting, the global log --------------------------------------- */

/*
 * Check and store one post's batch (ship.h wire message) at HQ: the head's
 * signature by node_pk, every leaf recomputed from its fields and the tree
 * extended from the last accepted head of that node to the new head's root,
 * the consistency proof from the last accepted head.  On success the entries
 * and head are stored, the head becomes a leaf of HQ's global log
 * (action "node-head"), and *acked is the node's accepted size (send it back
 * as the ack); *hq_seen is the HQ head size the post says it last saw.  A
 * batch whose head equals the last accepted one is an idempotent resend
 * (0).  Errors, nothing stored: KERR_SIGNATURE (bad head signature),
 * KERR_MISMATCH (entries or proof do not lead to the head: the node's
 * history changed), KERR_INVALID (older head than accepted: replay, or a gap
 * before the entries), KERR_FORMAT/TRUNCATED/TOOBIG (malformed).
 * If key is non-NULL a fresh global head is signed in the same transaction.
 */
int audit_ingest(struct auditlog *hq, const char *node,
    const uint8_t node_pk[static KEY_SIGN_PK], const uint8_t *msg, size_t len,
    const struct identity *key, uint64_t *acked, uint64_t *hq_seen,
    struct kerr *e) KODEN_WUR;
/*
 * Several batches (from several posts) in one transaction, one fsync and
 * one global head for all: what HQ's kodend calls with the batches that
 * arrived during one turn of its loop.  Each item is checked and stored or
 * refused on its own (a savepoint each): item.result is 0 or the error
 * audit_ingest would have returned (item.err says why), item.acked the
 * ack to send.  The return value is non-zero only if the transaction
 * itself failed (then nothing was stored and every acked is 0).
 */
struct audit_ingest_item {
	const char *node;
	const uint8_t *node_pk;		/* KEY_SIGN_PK bytes */
	const uint8_t *msg;
	size_t len;
	int result;			/* out */
	uint64_t acked, hq_seen;	/* out */
	struct kerr err;		/* out */
};
int audit_ingest_many(struct auditlog *hq, struct audit_ingest_item *items,
    size_t n, const struct identity *key, struct kerr *e) KODEN_WUR;
/* The node's last accepted head at HQ; *found = 0 if none. */
int audit_node_head(struct auditlog *hq, const char *node,
    struct audit_head *h, int *found) KODEN_WUR;

/*
 * HQ -> post: HQ's latest head (signing one first if key is non-NULL and
 * the log grew) with the consistency proof from since (the post's last
 * seen size, 0 for none), as a wire message into out.
 */
int audit_hq_head_msg(struct auditlog *hq, const struct identity *key,
    uint64_t since, struct buf *out, struct kerr *e) KODEN_WUR;

/*
 * Post: check an HQ head message against the last HQ head this post
 * accepted, and store it.  0: accepted (or an older consistent head,
 * ignored).  KERR_SIGNATURE: not signed by hq_pk.  KERR_MISMATCH: HQ
 * shows a history inconsistent with what it showed before (a fork: an
 * "audit-fork" alert entry is appended to this log).  *hq_size (may be
 * NULL) is the last accepted HQ size, to report as hq_seen.
 */
int audit_check_hq_head(struct auditlog *post, const uint8_t hq_pk[static KEY_SIGN_PK],
    const uint8_t *msg, size_t len, uint64_t *hq_size, struct kerr *e)
    KODEN_WUR;
/* The same check on a decoded head: last_seen is the post's head. */
int audit_check_hq_head_pair(const struct audit_head *last_seen,
    const struct audit_head *h, const uint8_t (*proof)[MERKLE_HASH],
    size_t nproof) KODEN_WUR;
/* Last accepted HQ head at a post; *found = 0 if none. */
int audit_hq_head(struct auditlog *post, struct audit_head *h, int *found)
    KODEN_WUR;

/* ---- queries (HQ's copy plus the local log) ------------------------------- */

struct audit_filter {
	const char *node;	/* NULL: any */
	const char *actor;	/* NULL: any; matches "NAME" and "NAME [...]" */
	const char *object;	/* NULL: any; a prefix */
	int object_prefixes;	/* also match recorded objects of >= 4 chars
				   that are a prefix of object (a telegram
				   id abbreviated on the command line) */
	int reads_only;		/* read, open, render, export, print, search */
	uint64_t since_ns, until_ns;	/* until 0: no bound */
};
/* Calls fn for each matching event, by time; fn returning non-zero stops
 * (and is returned). */
int audit_query(struct auditlog *l, const struct audit_filter *f,
    int (*fn)(void *ctx, const struct audit_event *ev), void *ctx) KODEN_WUR;

/* ---- proofs for third parties --------------------------------------------- */

/*
 * At HQ: an inclusion proof (ship.h's proof message) of entry seq of node's
 * log (node NULL or HQ's own name: the global log) into a head of the
 * global log signed with HQ's key, signing a fresh head if needed.  For a
 * post's entry the proof has two levels: the entry in the post's last
 * accepted head, and that head's "node-head" leaf in the global log.
 */
int audit_prove(struct auditlog *hq, const struct identity *key,
    const char *node, uint64_t seq, struct buf *out, struct kerr *e) KODEN_WUR;
/*
 * Offline: check a proof message with HQ's signing key alone.  On success
 * *ev is the proven entry and *hq_head the head it is proven in.
 */
int audit_check_proof(const uint8_t *p, size_t len,
    const uint8_t hq_pk[static KEY_SIGN_PK], struct audit_event *ev,
    struct audit_head *hq_head, char hq_name[static AUDIT_NODE_MAX + 1],
    struct kerr *e) KODEN_WUR;

#endif
