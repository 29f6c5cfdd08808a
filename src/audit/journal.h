/*
 * The audit journal: NODEDIR/audit.journal (issue 5; docs/audit.md,
 * "The journal").
 *
 * Whoever must record an access before showing anything (kodend answering
 * `koden read`, koden opening a sealed file or a restricted telegram)
 * appends the event here with one write(2) and may then go on: the record
 * survives the death of the process that wrote it.  kodend's audit writer
 * (nodeaudit.c) moves the journal into the Merkle log, off the read path,
 * storing in the same transaction how far it got, so a crash at any moment
 * neither loses nor repeats an event.  `koden audit ...` and koden without
 * a running kodend do the same themselves.
 *
 * File: a header, "KODENAJ1" || 16 random bytes (the generation), then
 * frames: u32 length || audit_event_encode || BLAKE2b-128(length || event).
 * Appenders and the applier take an exclusive flock(2) on the file (for
 * one write or one read; waiting at most AUDIT_JOURNAL_LOCK_MS, then the
 * append fails and nothing is shown); a failed write is cut off again, so
 * a frame is whole or absent.  Once all
 * of a journal past AUDIT_JOURNAL_ROTATE bytes is in the log, the applier
 * unlinks it and the next append starts a new generation; an appender that
 * finds its descriptor's file unlinked reopens.  A damaged journal (a frame
 * whose checksum fails, a torn tail after a power loss, a bad header) is
 * renamed aside, kept for inspection, and the log gets a "journal-damaged"
 * event that says where and how much.
 */
#ifndef KODEN_AUDIT_JOURNAL_H
#define KODEN_AUDIT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "audit/auditlog.h"
#include "crypto/keys.h"
#include "lib/err.h"

#define AUDIT_JOURNAL_FILE "audit.journal"
#define AUDIT_JOURNAL_MAGIC "KODENAJ1"
#define AUDIT_JOURNAL_HDR (8 + AUDIT_JOURNAL_GEN)
#define AUDIT_JOURNAL_SUM 16
#define AUDIT_JOURNAL_FRAME_MAX (4 + AUDIT_ENTRY_MAX + AUDIT_JOURNAL_SUM)
#define AUDIT_JOURNAL_ROTATE (256u * 1024)	/* unlinked once applied */
#define AUDIT_JOURNAL_LOCK_MS 2000	/* the longest wait for the lock */

struct audit_journal;

/* For a process that appends many times (kodend): keeps the file open. */
int audit_journal_open(struct audit_journal **out, const char *nodedir,
    struct kerr *e) KODEN_WUR;
void audit_journal_close(struct audit_journal *j);
/*
 * Append one event (its seq and node are the log's to set).  On return 0
 * the event is in the file, whole; on an error nothing of it is.
 */
int audit_journal_append(struct audit_journal *j, const struct audit_event *ev,
    struct kerr *e) KODEN_WUR;
/* The same, opening and closing NODEDIR's journal (koden). */
int audit_journal_append_dir(const char *nodedir, const struct audit_event *ev,
    struct kerr *e) KODEN_WUR;

/*
 * Move what NODEDIR's journal holds past the stored position into l (whose
 * file is NODEDIR's audit.db), signing a head with key if non-NULL and
 * something was appended; *applied (may be NULL) counts the events,
 * including a journal-damaged event if one was written.
 */
int audit_journal_apply(struct auditlog *l, const char *nodedir,
    const struct identity *key, size_t *applied, struct kerr *e) KODEN_WUR;

/*
 * Frames in p[0..n) (no header): for each whole frame with a good checksum
 * and a well-formed event, fn(ctx, event); fn returning non-zero stops the
 * walk there (the frame not consumed).  Returns the bytes consumed.  A
 * damaged frame stops the walk and sets *damaged with the reason in e; an
 * incomplete frame at the end stops it with *damaged = 0 (the caller
 * decides).  Never reads past n.
 */
size_t audit_journal_parse(const uint8_t *p, size_t n,
    int (*fn)(void *ctx, const struct audit_event *ev), void *ctx,
    int *damaged, struct kerr *e);

#endif
