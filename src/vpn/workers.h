/*
 * A tiny fork-join pool for the data path's crypto: workers_run() splits
 * [0, n) into one contiguous chunk per thread (the caller's included), runs
 * them in parallel and returns when all are done.  Chunks keep their order
 * in memory, so per-peer packet order is untouched: the caller sends the
 * batch in order afterwards.  Used by koden-vpn to encrypt and decrypt
 * batches on every core; the protocol engine only sees the callback.
 */
#ifndef KODEN_VPN_WORKERS_H
#define KODEN_VPN_WORKERS_H

#include <stddef.h>

#include "lib/err.h"

/* Below this many items a batch runs on the caller alone: waking a thread
 * costs more than a few packets' crypto. */
#define WORKERS_MIN_SPLIT 64
#define WORKERS_MAX 16

typedef void workers_fn(void *arg, size_t lo, size_t hi);

struct workers;

/* A pool with n_threads threads besides the caller (0: everything inline).
 * KERR_INVALID over WORKERS_MAX, KERR_NOMEM, KERR_IO (pthread_create). */
int workers_new(struct workers **out, unsigned n_threads) KODEN_WUR;
/* Stop and join the threads, free the pool.  NULL is a no-op. */
void workers_free(struct workers *w);
/* fn(arg, lo, hi) over [0, n) in chunks; returns when every chunk is done.
 * One caller at a time (the packet thread). */
void workers_run(struct workers *w, workers_fn *fn, void *arg, size_t n);
/* Adapter for struct wg_io.run: ctx is a struct workers (or NULL: inline). */
void workers_run_cb(void *ctx, workers_fn *fn, void *arg, size_t n);

#endif
