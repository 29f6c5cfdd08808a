/*
 * kodend's side of the audit log (issue 5; docs/audit.md, "kodend").
 *
 * The loop records events with naudit_event / naudit_envelope: they go to a
 * bounded in-memory queue and a writer thread of their own appends them to
 * NODEDIR/audit.db in batches (one transaction, one fsync per batch) and
 * signs a tree head with the node key at least every NAUDIT_HEAD_MS while
 * events arrive, and at stop.  So the audit log costs the relay loop a copy,
 * not a write.  When the queue is full the loop waits for the writer: no
 * event is ever dropped.  An event queued but not yet appended when kodend
 * is killed with SIGKILL is lost (at most one batch, a few milliseconds of
 * events); events of the CLI (reads, opens) are appended by koden itself
 * before it shows anything.
 *
 * The loop also has a handle of its own (naudit_log) for shipping (posts)
 * and collecting (HQ) on the channel.
 */
#ifndef KODEN_NODEAUDIT_H
#define KODEN_NODEAUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "audit/auditlog.h"
#include "crypto/keys.h"
#include "lib/err.h"

#define NAUDIT_HEAD_MS 2000	/* a signed head at least this often */
#define NAUDIT_QUEUE_MAX 1024	/* events waiting for the writer (1.7 MiB) */
#define NAUDIT_BATCH 256	/* events appended in one transaction, at most */
#define NAUDIT_SYNC_MS 20	/* the WAL is fsynced at most this often */

struct naudit;

/*
 * Open NODEDIR's audit log twice (writer thread, loop) for node name and
 * start the writer, which signs with key (not owned; must outlive it).
 * wake_fd: an eventfd the writer writes to after each append (the loop
 * ships then), or -1.
 */
int naudit_open(struct naudit **out, const char *nodedir, const char *name,
    const struct identity *key, int wake_fd, struct kerr *e) KODEN_WUR;
/* Append what is queued, sign a final head, stop the writer, close. */
void naudit_close(struct naudit *a);
/*
 * The loop's own handle, for shipping (posts) and collecting (HQ).  Its
 * commits stop at the WAL too (the loop never waits for an fsync): call
 * naudit_sync after writing with it, and the syncer thread fsyncs the WAL.
 */
struct auditlog *naudit_log(struct naudit *a);
void naudit_sync(struct naudit *a);

/*
 * Queue one event (audit_event_set's fields; detail is printf-style).
 * Returns its ticket: the event is on disk once naudit_durable() reaches
 * it (0 when a is NULL).
 */
uint64_t naudit_event(struct naudit *a, const char *actor, const char *source,
    const char *action, const char *object, const char *outcome,
    const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* Queue an event made elsewhere (koden's, through the API); its ticket. */
uint64_t naudit_push(struct naudit *a, const struct audit_event *ev);
/*
 * Tickets up to the result are on disk.  *broken is set once an append
 * has failed: from then on nothing may be shown that should be recorded.
 */
uint64_t naudit_durable(struct naudit *a, int *broken);
/*
 * HQ: queue the "envelope" leaf of the global log for a telegram it
 * persisted (object: its id in hex, detail: env-hash=<receipt_env_hash of
 * the envelope, the hash its receipts carry>,
 * computed by the writer).  env is copied.
 */
void naudit_envelope(struct naudit *a, const uint8_t id[16],
    const char *origin, const uint8_t *env, size_t len);


#endif
