/*
 * Durability off the committing thread: a thread that fdatasyncs one file
 * (an SQLite write-ahead log) after commits have been written to it, and
 * says how far what was committed is on stable storage.
 *
 * The committer writes without waiting (SQLite: synchronous = NORMAL in WAL
 * mode, so a commit ends with write(2), not fsync), then numbers the commit
 * with walsync_committed().  The thread fdatasyncs the file and marks every
 * commit numbered before that fdatasync began as durable: an fdatasync
 * covers everything written to the file before it started.  Whoever must
 * not let anything out before it is durable (an acknowledgement, a
 * forwarded copy) waits until walsync_durable() reaches the number of the
 * commit that holds it; notify_fd (an eventfd, or -1) is written to each
 * time that number grows, so an event loop never blocks for it.
 *
 * The thread opens the file by path and reopens it if it was replaced
 * (another inode under the same name), so a log deleted and created again
 * is never fsynced through a stale descriptor.  A failed fdatasync is
 * sticky: walsync_failed() says so, and nothing is marked durable after it.
 */
#ifndef KODEN_WALSYNC_H
#define KODEN_WALSYNC_H

#include <stdint.h>

#include "lib/err.h"

struct walsync;

/*
 * Start the thread for path (which must exist).  It fdatasyncs path and its
 * directory once before returning, so what the file already holds counts
 * as durable.  gap_ms > 0 spaces the fdatasyncs at least that far apart
 * (what was committed meanwhile shares the next one); 0 syncs as soon as
 * there is something new.  The thread blocks every signal; name is its
 * name in ps/top/perf (15 bytes at most).  KERR_IO, KERR_NOMEM.
 */
int walsync_start(struct walsync **out, const char *path, int notify_fd,
    unsigned gap_ms, const char *name, struct kerr *e) KODEN_WUR;
/* Sync what is outstanding, stop the thread, free.  NULL is a no-op. */
void walsync_stop(struct walsync *w);

/* A commit was written to the file: returns its number (1, 2, ...). */
uint64_t walsync_committed(struct walsync *w);
/* The number of the last commit (0 if none). */
uint64_t walsync_last(struct walsync *w);
/* Every commit up to this number is on stable storage. */
uint64_t walsync_durable(struct walsync *w);
/* Block until commit n is durable: 0, or KERR_IO if an fdatasync failed. */
int walsync_wait(struct walsync *w, uint64_t n) KODEN_WUR;
/* An fdatasync failed (sticky): what was committed since may be lost. */
int walsync_failed(struct walsync *w);

/*
 * Tests only (tests/system/kodend_faulty.c): called by the thread before
 * each fdatasync, with the file's path.  NULL in production.
 */
extern void (*walsync_test_hook)(const char *path);

#endif
