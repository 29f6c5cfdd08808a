/*
 * The node's storage, behind one narrow interface (DESIGN.md "Storage").
 * The SQLite implementation (sqlite_*.c, sharing sqlite_int.h) is the
 * embedded default; a PostgreSQL one can be added for HQ without touching
 * delivery code.
 *
 * The store never parses a telegram: envelopes, receipts and the roster are
 * opaque blobs keyed by what the node tells it.
 *
 * Durability: everything between store_begin() and store_commit() becomes
 * durable at once: when store_commit() returns 0 (SQLite: WAL with
 * synchronous=FULL, so the commit is fsynced), or, once
 * store_sync_thread_start() was called (kodend), when store_durable()
 * reaches the commit's number (the fsync runs on another thread).  The node
 * acknowledges nothing to the previous hop before that: this is the group
 * commit of many telegrams in one transaction.  Every function other than
 * open/close/begin/commit/rollback may be called inside or outside a
 * transaction (outside: autocommit).
 *
 * Strings are node or person names (at most 64 bytes of UTF-8, not empty);
 * ids are telegram ids (16 bytes).  Out-parameters are zeroed on entry; a
 * struct buf output is emptied first and its max is the cap (KERR_TOOBIG if
 * the value does not fit).  Times, seqs and other stored integers must be
 * <= INT64_MAX (meta u64 values excepted: any uint64_t).  Errors are KERR_IO
 * (database error: message in e names the operation), KERR_NOMEM,
 * KERR_EXISTS, KERR_INVALID (a bad name, kind, precedence or integer),
 * KERR_TOOBIG (a blob over STORE_BLOB_MAX) and, from store_open only,
 * KERR_VERSION.  A struct store is used by one thread at a time.
 */
#ifndef KODEN_STORE_H
#define KODEN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

#define STORE_ID 16
#define STORE_NAME_MAX 64
#define STORE_BLOB_MAX (8u << 20)

struct store;

/*
 * Open (creating if missing, mode 0600; an existing file is set to 0600) and
 * migrate to the current schema.  A database whose schema is newer than this
 * code knows is refused with KERR_VERSION.
 */
int store_open(struct store **out, const char *path, struct kerr *e) KODEN_WUR;
void store_close(struct store *s);
/*
 * Checkpoint the write-ahead log on a thread of the store's own (kodend),
 * instead of inside a commit of the writer: the writer's commits then only
 * append to the log and fsync it, and copying the log into the database
 * (with its own fsync) runs on the other core.  If the log still grows past
 * a bound (the checkpointer cannot keep up), the writer checkpoints in its
 * commit as before.  store_close stops the thread.  KERR_IO, KERR_NOMEM.
 */
int store_checkpointer_start(struct store *s, const char *path,
    struct kerr *e) KODEN_WUR;
/*
 * Deferred durability (kodend): from now on store_commit() writes the
 * transaction to the write-ahead log and returns without waiting for the
 * disk (SQLite's synchronous = NORMAL); a thread of the store's fdatasyncs
 * the log (lib/walsync.h) and writes to notify_fd (an eventfd) each time
 * more commits are durable.  Commits are numbered from 1: store_last_commit
 * is the last one made, store_durable the last one on stable storage (all
 * before it are too).  The caller must hold back anything that depends on
 * a commit (an acknowledgement, a forwarded copy) until store_durable
 * reaches it.  Without the thread, both numbers move together: each commit
 * is durable when store_commit returns.  What the log already holds is
 * synced before this returns.  Only writes inside store_begin/commit are
 * numbered.  KERR_IO, KERR_NOMEM.
 */
int store_sync_thread_start(struct store *s, const char *path, int notify_fd,
    struct kerr *e) KODEN_WUR;
uint64_t store_last_commit(struct store *s);
uint64_t store_durable(struct store *s);
/* Block until commit n is durable (rare paths: enrolment, a new link). */
int store_wait_durable(struct store *s, uint64_t n, struct kerr *e) KODEN_WUR;
/* An fdatasync of the log failed: what was committed since may be lost. */
int store_sync_failed(struct store *s);
/* Schema version of an open store (for tests and `kodend --version`). */
int store_schema_version(struct store *s);

int store_begin(struct store *s, struct kerr *e) KODEN_WUR;
int store_commit(struct store *s, struct kerr *e) KODEN_WUR;
void store_rollback(struct store *s);

/* ---- node-local values: counters, the signed roster, settings ---------- */
int store_meta_get_u64(struct store *s, const char *key, uint64_t *v,
    int *found, struct kerr *e) KODEN_WUR;
int store_meta_set_u64(struct store *s, const char *key, uint64_t v,
    struct kerr *e) KODEN_WUR;
/* Atomically add 1 and return the new value (first call returns 1). */
int store_meta_incr(struct store *s, const char *key, uint64_t *v,
    struct kerr *e) KODEN_WUR;
int store_meta_get_blob(struct store *s, const char *key, struct buf *out,
    int *found, struct kerr *e) KODEN_WUR;
int store_meta_set_blob(struct store *s, const char *key, const uint8_t *p,
    size_t len, struct kerr *e) KODEN_WUR;

/* ---- envelopes: sealed telegrams by id ---------------------------------- */
/*
 * Store an envelope.  Idempotent: if the id is present with identical bytes,
 * *inserted = 0 and 0 is returned; with different bytes, KERR_EXISTS.
 */
int store_env_put(struct store *s, const uint8_t id[static STORE_ID],
    const char *origin, uint64_t time, const uint8_t *env, size_t len,
    int *inserted, struct kerr *e) KODEN_WUR;
int store_env_get(struct store *s, const uint8_t id[static STORE_ID],
    struct buf *out, int *found, struct kerr *e) KODEN_WUR;
/*
 * Find the one id that starts with the given hex prefix (4 to 32 hex digits,
 * either case; anything else is KERR_INVALID).  *found = 1 and id set if
 * exactly one id matches; 0 if none; 2 if several match (ambiguous: id is
 * left zeroed).
 */
int store_env_find(struct store *s, const char *hex_prefix,
    uint8_t id[static STORE_ID], int *found, struct kerr *e) KODEN_WUR;

/* ---- outgoing queues, one per link (peer node name) ----------------------- */
enum store_qkind { STORE_Q_TELEGRAM = 1, STORE_Q_RECEIPT = 2 };

struct store_qitem {
	uint8_t kind;			/* enum store_qkind */
	uint8_t id[STORE_ID];		/* telegram id */
	char by[STORE_NAME_MAX + 1];	/* receipts: the post that signed it */
	uint8_t state;			/* receipts: its state */
	uint8_t prec;			/* 1 ROUTINE .. 4 FLASH */
	uint64_t ord;			/* arrival order, increasing */
	uint32_t attempts;		/* as last set by store_q_defer */
	uint64_t not_before;		/* Unix ms: retry backoff */
};

/*
 * Queue a telegram (by id) or a receipt (id, by, state) for link.
 * Idempotent per (link, kind, id, by, state): putting again keeps the first
 * item.  For a telegram, by and state are ignored (the key uses "" and 0).
 * ord is assigned here; attempts and not_before are taken as given
 * (normally 0).
 */
int store_q_put(struct store *s, const char *link, const struct store_qitem *it,
    struct kerr *e) KODEN_WUR;
/*
 * Up to max items for link whose not_before <= now_ms and ord <= max_ord,
 * highest precedence first, then oldest (ord).  Does not remove or change
 * them: the delivery code counts hand-outs with store_q_defer.  max_ord
 * (UINT64_MAX: no bound) keeps back what is not yet durable: see
 * store_q_last_ord.
 */
int store_q_next(struct store *s, const char *link, uint64_t now_ms,
    uint64_t max_ord, struct store_qitem *items, size_t max, size_t *n,
    struct kerr *e) KODEN_WUR;
/*
 * The greatest ord given so far (0 if none): every item queued until now
 * has an ord <= it, every item queued later a greater one (ords are never
 * reused, even after a delete).  Read in a transaction before its commit,
 * it bounds what that commit makes durable.
 */
int store_q_last_ord(struct store *s, uint64_t *ord, struct kerr *e) KODEN_WUR;
/* Remove an item once the peer acknowledged it. *found = 0 if absent. */
int store_q_del(struct store *s, const char *link, const struct store_qitem *it,
    int *found, struct kerr *e) KODEN_WUR;
/* Count items queued for link (all, regardless of not_before). */
int store_q_count(struct store *s, const char *link, uint64_t *n,
    struct kerr *e) KODEN_WUR;
/* Set attempts and not_before of one item (retry with backoff); no effect
 * if the item is not queued. */
int store_q_defer(struct store *s, const char *link,
    const struct store_qitem *it, uint32_t attempts, uint64_t not_before,
    struct kerr *e) KODEN_WUR;

/* ---- receipts: signed by the addressee post ------------------------------ */
/* Idempotent per (id, by, state): the first blob stored is kept. */
int store_receipt_put(struct store *s, const uint8_t id[static STORE_ID],
    const char *by, uint8_t state, const uint8_t *blob, size_t len,
    struct kerr *e) KODEN_WUR;
int store_receipt_get(struct store *s, const uint8_t id[static STORE_ID],
    const char *by, uint8_t state, struct buf *out, int *found,
    struct kerr *e) KODEN_WUR;

/* ---- delivery status, as the origin post sees it -------------------------- */
enum store_state {
	STORE_QUEUED = 1,	/* in the origin's outbox */
	STORE_AT_HQ = 2,	/* HQ acknowledged it */
	STORE_DELIVERED = 3,	/* the addressee's signed receipt arrived */
	STORE_READ = 4,		/* an officer at the addressee opened it */
};
/*
 * Raise (never lower) the state of (id, dest); time in Unix seconds.  time
 * changes only when the state rises: it is when the state was reached.
 */
int store_status_set(struct store *s, const uint8_t id[static STORE_ID],
    const char *dest, uint8_t state, uint64_t time, struct kerr *e) KODEN_WUR;
struct store_status {
	char dest[STORE_NAME_MAX + 1];
	uint8_t state;
	uint64_t time;
};
/* Every destination of id, in name order; caller frees *out. */
int store_status_get(struct store *s, const uint8_t id[static STORE_ID],
    struct store_status **out, size_t *n, struct kerr *e) KODEN_WUR;

/* ---- telegraphic accounting, as the addressee post sees it ---------------- */
/*
 * Record that seq (>= 1) from origin arrived as telegram id with precedence
 * prec (its precedence for this post) and top (its precedence on the first
 * hop: the highest over all its addressees).  *dup: 1 if this (origin, seq)
 * was already recorded (then prev_id holds the id it had).  Never
 * overwrites.
 */
int store_in_put(struct store *s, const char *origin, uint64_t seq,
    const uint8_t id[static STORE_ID], uint8_t prec, uint8_t top,
    uint64_t time, int *dup, uint8_t prev_id[static STORE_ID],
    struct kerr *e) KODEN_WUR;
/*
 * The lowest seq > after from origin with prec <= prec and top <= top (a
 * later telegram that had no right to overtake), or 0 if none.
 */
int store_in_later_lower(struct store *s, const char *origin, uint64_t after,
    uint8_t prec, uint8_t top, uint64_t *seq, struct kerr *e) KODEN_WUR;
/*
 * Contiguous high-water mark: the largest h such that 1..h all arrived
 * (0 if seq 1 has not), the largest seq that arrived, and the arrival
 * time of the oldest telegram above h.
 */
int store_in_marks(struct store *s, const char *origin, uint64_t *hwm,
    uint64_t *max, uint64_t *oldest_above, struct kerr *e) KODEN_WUR;
/* Missing seqs in (hwm, max): up to n_max of them in *missing. */
int store_in_missing(struct store *s, const char *origin, uint64_t *missing,
    size_t n_max, size_t *n, struct kerr *e) KODEN_WUR;
/* Origins this node has received from, in name order (for the periodic
 * gap check). */
int store_in_origins(struct store *s, char (*names)[STORE_NAME_MAX + 1],
    size_t max, size_t *n, struct kerr *e) KODEN_WUR;

/* ---- inbox: telegrams delivered to this post ------------------------------ */
struct store_inbox {
	uint8_t id[STORE_ID];
	char origin[STORE_NAME_MAX + 1];
	uint8_t prec;
	uint64_t dtg;
	uint64_t received;
	uint64_t read_at;	/* 0 = unread */
};
/* Idempotent per id: the first entry is kept. */
int store_inbox_put(struct store *s, const struct store_inbox *it,
    struct kerr *e) KODEN_WUR;
/* Newest first by precedence then arrival; caller frees *out. */
int store_inbox_list(struct store *s, size_t max, struct store_inbox **out,
    size_t *n, struct kerr *e) KODEN_WUR;
/*
 * time > 0; the first read time is kept; no effect if id is not there.
 * *first: 1 if this call marked it read (it was there and unread).
 */
int store_inbox_mark_read(struct store *s, const uint8_t id[static STORE_ID],
    uint64_t time, int *first, struct kerr *e) KODEN_WUR;

/* ---- alerts ------------------------------------------------------------- */
struct store_alert {
	uint64_t n;
	uint64_t time;
	char kind[32];		/* gap, replay, reorder, forgery, conflict, ... */
	char origin[STORE_NAME_MAX + 1];
	char detail[256];
};
/*
 * kind: 1..31 bytes; origin: a name, or NULL or "" for none.  detail (NULL
 * for none) is cut to 255 bytes at a character boundary, with invalid UTF-8
 * and control characters replaced by '?': an alert is never lost to its
 * text.
 */
int store_alert_add(struct store *s, const char *kind, const char *origin,
    const char *detail, uint64_t time, struct kerr *e) KODEN_WUR;
/* All alerts with n > after, oldest first; caller frees *out. */
int store_alert_list(struct store *s, uint64_t after, struct store_alert **out,
    size_t *n, struct kerr *e) KODEN_WUR;

/* ---- directory (HQ): posts, persons, enrolment tokens --------------------- */
enum store_member_kind { STORE_HQ = 1, STORE_POST = 2, STORE_PERSON = 3 };
struct store_member {
	char name[STORE_NAME_MAX + 1];
	uint8_t kind;			/* enum store_member_kind */
	char post[STORE_NAME_MAX + 1];	/* persons: their post */
	uint8_t sign_pk[32];
	uint8_t enc_pk[32];
	uint64_t added;
	uint64_t revoked;		/* 0 = active */
};
/* Insert; KERR_EXISTS if the name is taken.  A person has a post; HQ and
 * posts have post "". */
int store_member_add(struct store *s, const struct store_member *m,
    struct kerr *e) KODEN_WUR;
int store_member_get(struct store *s, const char *name, struct store_member *m,
    int *found, struct kerr *e) KODEN_WUR;
int store_member_revoke(struct store *s, const char *name, uint64_t time,
    int *found, struct kerr *e) KODEN_WUR;
/* All members in name order; caller frees *out. */
int store_member_list(struct store *s, struct store_member **out, size_t *n,
    struct kerr *e) KODEN_WUR;
/* A one-time enrolment token: only its hash is kept.  Replaces any earlier
 * token for name. */
int store_enrol_add(struct store *s, const char *name,
    const uint8_t hash[static 32], uint64_t expires, struct kerr *e) KODEN_WUR;
/*
 * Use the token for name: *ok = 1 if an unused, unexpired (now < expires)
 * token with this hash exists (compared in constant time); it is then marked
 * used, atomically.  A wrong hash or an expired attempt leaves it unused.
 */
int store_enrol_use(struct store *s, const char *name,
    const uint8_t hash[static 32], uint64_t now, int *ok,
    struct kerr *e) KODEN_WUR;

#endif
