/*
 * kodend's side of the audit log (issue 5; docs/audit.md, "kodend").
 *
 * The loop records what it does on its own (relaying, receipts, starting,
 * alerts) with naudit_event / naudit_envelope: they go to a bounded
 * in-memory queue and a writer thread of their own appends them to
 * NODEDIR/audit.db in batches (one transaction per batch; a syncer thread
 * fsyncs the WAL at most every NAUDIT_SYNC_MS).  So the audit log costs
 * the relay loop a copy, not a write.  When the queue is full the loop
 * waits for the writer: no event is ever dropped.  An event queued but not
 * yet appended when kodend is killed with SIGKILL is lost (at most one
 * batch, a few milliseconds of events).
 *
 * What kodend shows (the text of a telegram for `koden read`) is recorded
 * with naudit_record before it goes out: one write to the audit journal
 * (audit/journal.h), which survives any crash of kodend.  koden appends its
 * own events (opens, restricted reads, sends...) to the same journal.  The
 * writer moves the journal into the log as soon as kodend writes to it, and
 * looks for koden's appends every NAUDIT_JOURNAL_MS.  It signs a tree head
 * with the node key at most NAUDIT_HEAD_MS after events were appended, and
 * at stop.
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
#define NAUDIT_GATHER_MS 5	/* a batch gathers this long (or until full) */
#define NAUDIT_JOURNAL_MS 50	/* the journal is looked at this often */
#define NAUDIT_LOOP_BUSY_MS 20	/* the loop's handle waits this long for a
				   lock, then tries again at a later turn */

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
 * It waits at most NAUDIT_LOOP_BUSY_MS for another connection's write
 * lock (auditlog_busy then says so): the loop does that work again later
 * instead of stalling every link and client behind it.
 */
struct auditlog *naudit_log(struct naudit *a);
void naudit_sync(struct naudit *a);

/*
 * Queue one event (audit_event_set's fields; detail is printf-style) for
 * the writer.  It is in the log a few milliseconds later: what kodend does
 * on its own (relaying, receipts, starting...), never what it shows.
 */
void naudit_event(struct naudit *a, const char *actor, const char *source,
    const char *action, const char *object, const char *outcome,
    const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/*
 * Record an access before showing anything: the event goes to the audit
 * journal (audit/journal.h) with one write, so it survives kodend's death;
 * the writer moves it into the log at once.  Non-zero (reason in e): not
 * recorded, so not to be shown.  0 when a is NULL.
 */
int naudit_record(struct naudit *a, struct kerr *e, const char *actor,
    const char *source, const char *action, const char *object,
    const char *outcome, const char *fmt, ...)
    __attribute__((format(printf, 8, 9))) KODEN_WUR;
/*
 * HQ: queue the "envelope" leaf of the global log for a telegram it
 * persisted (object: its id in hex, detail: env-hash=<receipt_env_hash of
 * the envelope, the hash its receipts carry>,
 * computed by the writer).  env is copied.
 */
void naudit_envelope(struct naudit *a, const uint8_t id[16],
    const char *origin, const uint8_t *env, size_t len);


#endif
