/*
 * What bench/relay_client.c and bench/relay_sim.c share: failing, the
 * clock, allocation, percentiles, and the vocabulary of their drafts.
 */
#ifndef KODEN_BENCH_RELAY_COMMON_H
#define KODEN_BENCH_RELAY_COMMON_H

#include <stddef.h>

/* The program's name for die()'s messages ("relay_client", "relay_sim"). */
extern const char *bench_prog;

/* "PROG: message" on stderr, exit 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* CLOCK_MONOTONIC, seconds. */
double now(void);
void sleep_ms(double ms);
/* calloc or die. */
void *xcalloc(size_t n, size_t sz);
/* Nearest-rank percentile p of n values (sorted in place); 0 if n is 0. */
double pct(double *v, size_t n, double p);

/* The words drafts are made of. */
extern const char *const bench_words[];
extern const size_t bench_nwords;

#endif
