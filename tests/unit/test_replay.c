/*
 * The anti-replay window: exact boundaries by hand, then a naive reference
 * (every accepted counter kept in a sorted array, the window rule applied
 * literally) compared with the RFC 6479 bitmap on random counter sequences.
 *
 * Random cases come from one master seed, printed at start; set KODEN_SEED to
 * rerun a run, or KODEN_CASE_SEED to rerun one failing case alone (a failure
 * prints both).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vpn/replay.h"

#define LIMIT REPLAY_REJECT_AFTER_MESSAGES

/* Random cases: count and the longest sequence (tuned for ~3 s at -O2). */
#define RAND_CASES 1000000
#define RAND_MAX_LEN 300

static uint64_t master_seed;

/* ---- hand cases ---- */

static void
test_zero_first(void **state)
{
	struct replay r;

	(void)state;
	/* WireGuard's values, which the rest of this file leans on. */
	assert_int_equal(REPLAY_WINDOW, 8128);
	assert_int_equal(REPLAY_REJECT_AFTER_MESSAGES, UINT64_MAX - 8192);
	assert_int_equal(sizeof(r.bits) * 8, 8192);

	replay_init(&r);
	assert_int_equal(replay_check(&r, 0), 1);
	assert_int_equal(replay_check(&r, 0), 0);
	assert_int_equal(replay_check(&r, 1), 1);
	assert_int_equal(replay_check(&r, 1), 0);

	/* 0 after a higher counter is still new. */
	replay_init(&r);
	assert_int_equal(replay_check(&r, 5), 1);
	assert_int_equal(replay_check(&r, 0), 1);
	assert_int_equal(replay_check(&r, 0), 0);
	assert_int_equal(replay_check(&r, 4), 1);
	assert_int_equal(replay_check(&r, 5), 0);
}

/*
 * For every alignment of top within its word: top - 8127 .. top all fit at
 * once (the window's full capacity, no two sharing a bit), top - 8128 never.
 */
static void
test_window_edges(void **state)
{
	struct replay r;

	(void)state;
	for (uint64_t a = 0; a < 64; a++) {
		uint64_t top = 1000000 + a;

		replay_init(&r);
		assert_int_equal(replay_check(&r, top), 1);
		assert_int_equal(replay_check(&r, top - REPLAY_WINDOW), 0);
		assert_int_equal(replay_check(&r, top - REPLAY_WINDOW - 1), 0);
		assert_int_equal(replay_check(&r, top - (REPLAY_WINDOW - 1)), 1);
		for (uint64_t c = top - (REPLAY_WINDOW - 2); c < top; c++)
			assert_int_equal(replay_check(&r, c), 1);
		for (uint64_t c = top - (REPLAY_WINDOW - 1); c <= top; c++)
			assert_int_equal(replay_check(&r, c), 0);
		assert_int_equal(replay_check(&r, top - REPLAY_WINDOW), 0);

		/* One step forward: the oldest slides out, one more slot opens. */
		assert_int_equal(replay_check(&r, top + 1), 1);
		assert_int_equal(replay_check(&r, top - (REPLAY_WINDOW - 1)), 0);
		assert_int_equal(replay_check(&r, top - (REPLAY_WINDOW - 2)), 0);
		assert_int_equal(replay_check(&r, top + 1), 0);
	}

	/* From the initial state: 8200 first, then 72 is too old, 73 is not. */
	replay_init(&r);
	assert_int_equal(replay_check(&r, 8200), 1);
	assert_int_equal(replay_check(&r, 8200 - REPLAY_WINDOW), 0);
	assert_int_equal(replay_check(&r, 8200 - REPLAY_WINDOW + 1), 1);
	assert_int_equal(replay_check(&r, 0), 0);
}

static void
test_duplicates(void **state)
{
	struct replay r;

	(void)state;
	replay_init(&r);
	for (uint64_t c = 0; c < 20000; c += 3)
		assert_int_equal(replay_check(&r, c), 1);
	/* 19998 is top: every multiple of 3 in the window is a duplicate. */
	for (uint64_t c = 19998 - (REPLAY_WINDOW - 1); c <= 19998; c++)
		assert_int_equal(replay_check(&r, c), c % 3 != 0);
	for (uint64_t c = 19998 - (REPLAY_WINDOW - 1); c <= 19998; c++)
		assert_int_equal(replay_check(&r, c), 0);
}

/*
 * Jumps of about one bitmap length: the new window shares bit positions with
 * the old one, and counters that are new must not look seen.
 */
static void
test_far_jumps(void **state)
{
	static const uint64_t jumps[] = {
		REPLAY_WINDOW - 1, REPLAY_WINDOW, REPLAY_WINDOW + 1,
		REPLAY_BITMAP_BITS - 65, REPLAY_BITMAP_BITS - 64,
		REPLAY_BITMAP_BITS - 63, REPLAY_BITMAP_BITS - 1,
		REPLAY_BITMAP_BITS, REPLAY_BITMAP_BITS + 1,
		2 * REPLAY_BITMAP_BITS, 3 * REPLAY_BITMAP_BITS + 17,
		1ULL << 40, (1ULL << 63) + 12345,
	};
	struct replay r;

	(void)state;
	for (size_t j = 0; j < sizeof(jumps) / sizeof(jumps[0]); j++) {
		for (uint64_t a = 0; a < 64; a += 21) {
			uint64_t top = 50000 + a, nt = top + jumps[j];

			replay_init(&r);
			/* Fill the whole old window. */
			for (uint64_t c = top - (REPLAY_WINDOW - 1); c <= top; c++)
				assert_int_equal(replay_check(&r, c), 1);
			assert_int_equal(replay_check(&r, nt), 1);
			/* Old counters: seen, or now too old; never new. */
			for (uint64_t c = top - (REPLAY_WINDOW - 1); c <= top; c++)
				assert_int_equal(replay_check(&r, c), 0);
			/* New counters below nt, never seen, all accepted once. */
			for (uint64_t c = nt - (REPLAY_WINDOW - 1); c < nt; c++) {
				int want = c > top;	/* <= top were seen */

				assert_int_equal(replay_check(&r, c), want);
			}
			for (uint64_t c = nt - (REPLAY_WINDOW - 1); c <= nt; c++)
				assert_int_equal(replay_check(&r, c), 0);
			assert_int_equal(replay_check(&r, nt - REPLAY_WINDOW), 0);
		}
	}
}

static void
test_limits(void **state)
{
	struct replay r;

	(void)state;
	replay_init(&r);
	assert_int_equal(replay_check(&r, LIMIT), 0);
	assert_int_equal(replay_check(&r, LIMIT + 1), 0);
	assert_int_equal(replay_check(&r, UINT64_MAX), 0);
	/* A refused counter leaves the window alone: 0 is still new. */
	assert_int_equal(r.top, 0);
	assert_int_equal(replay_check(&r, 0), 1);

	assert_int_equal(replay_check(&r, LIMIT - 1), 1);
	assert_int_equal(replay_check(&r, LIMIT - 1), 0);
	assert_int_equal(replay_check(&r, LIMIT), 0);
	assert_int_equal(replay_check(&r, UINT64_MAX), 0);
	assert_int_equal(r.top, LIMIT - 1);
	assert_int_equal(replay_check(&r, LIMIT - REPLAY_WINDOW), 1);
	assert_int_equal(replay_check(&r, LIMIT - 1 - REPLAY_WINDOW), 0);
	assert_int_equal(replay_check(&r, LIMIT - 2), 1);
	assert_int_equal(replay_check(&r, 0), 0);
	assert_int_equal(replay_check(&r, 1ULL << 63), 0);
}

/* ---- the naive reference ---- */

/*
 * Every accepted counter, sorted, never pruned; the window rule stated the
 * way the header states it.
 */
struct ref {
	uint64_t top;
	uint64_t *seen;
	size_t n, cap;
};

static int
ref_check(struct ref *f, uint64_t c)
{
	size_t lo = 0, hi = f->n;

	if (c >= LIMIT)
		return 0;
	if (c < f->top && f->top - c >= REPLAY_WINDOW)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->seen[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < f->n && f->seen[lo] == c)
		return 0;
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 256;
		f->seen = realloc(f->seen, f->cap * sizeof(*f->seen));
		assert_non_null(f->seen);
	}
	memmove(&f->seen[lo + 1], &f->seen[lo], (f->n - lo) * sizeof(*f->seen));
	f->seen[lo] = c;
	f->n++;
	if (c > f->top)
		f->top = c;
	return 1;
}

/* ---- random sequences ---- */

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform enough in [0, n) for n well below 2^32. */
static uint64_t
below(uint64_t *s, uint64_t n)
{
	return n ? splitmix(s) % n : 0;
}

/* Saturating a + b and a - b, so generated counters stay in [0, 2^64). */
static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t
sat_sub(uint64_t a, uint64_t b)
{
	return a < b ? 0 : a - b;
}

enum { G_NEXT, G_JITTER, G_DUP, G_BACK, G_EDGE, G_JUMP, G_BITMAP, G_LIMIT, G_ANY, G_N };

/*
 * One case: a starting point and a weight per kind of step, so some cases are
 * almost monotone, some reorder heavily, some jump, some live by the limit.
 * Returns the number of counters checked.
 */
static size_t
run_case(uint64_t case_seed)
{
	uint64_t s = case_seed, prev, base;
	unsigned w[G_N], total = 0;
	size_t len = 1 + below(&s, 1 + below(&s, RAND_MAX_LEN));	/* mostly short */
	uint64_t jitter = (uint64_t[]){ 2, 64, 1000, 9000, 20000 }[below(&s, 5)];
	struct replay r;
	struct ref f = { 0 };

	switch (below(&s, 5)) {
	case 0: base = 0; break;
	case 1: base = below(&s, 3 * REPLAY_BITMAP_BITS); break;
	case 2: base = sat_sub(LIMIT, below(&s, 2 * REPLAY_BITMAP_BITS)); break;
	case 3: base = splitmix(&s) >> below(&s, 64); break;
	default: base = (splitmix(&s) & ~63ULL) - below(&s, 2); break;
	}
	for (int g = 0; g < G_N; g++) {
		/* Most kinds rare, a few dominant: the mix differs per case. */
		w[g] = below(&s, 4) == 0 ? (unsigned)below(&s, 50) : (unsigned)below(&s, 4);
		total += w[g];
	}
	w[G_NEXT] += 1;
	total += 1;

	replay_init(&r);
	prev = base;
	for (size_t i = 0; i < len; i++) {
		unsigned pick = (unsigned)below(&s, total);
		int g = 0;
		uint64_t c;
		int got, want;

		while (pick >= w[g])
			pick -= w[g++];
		switch (g) {
		case G_NEXT:
			c = sat_add(prev, 1);
			break;
		case G_JITTER:
			c = sat_sub(sat_add(prev, below(&s, jitter)), jitter / 2);
			break;
		case G_DUP:
			c = f.n ? f.seen[below(&s, f.n)] : prev;
			break;
		case G_BACK:
			c = sat_sub(f.top, below(&s, 2 * REPLAY_BITMAP_BITS));
			break;
		case G_EDGE:	/* right at the oldest acceptable counter */
			c = sat_sub(sat_add(sat_sub(f.top, REPLAY_WINDOW), below(&s, 5)), 2);
			break;
		case G_JUMP:
			c = sat_add(f.top, splitmix(&s) >> below(&s, 64));
			break;
		case G_BITMAP:	/* one bitmap length or so ahead: bit aliasing */
			c = sat_sub(sat_add(f.top, REPLAY_BITMAP_BITS * (1 + below(&s, 2)) +
			    below(&s, 130)), 65);
			break;
		case G_LIMIT:
			c = sat_sub(sat_add(LIMIT, below(&s, 4)), 2);
			if (below(&s, 8) == 0)
				c = UINT64_MAX - below(&s, 3);
			break;
		default:
			c = splitmix(&s);
			break;
		}
		want = ref_check(&f, c);
		got = replay_check(&r, c);
		if (got != want)
			fail_msg("case seed 0x%016" PRIx64 " (KODEN_SEED=0x%016" PRIx64
			    ", or KODEN_CASE_SEED=0x%016" PRIx64 " alone): step %zu "
			    "counter %" PRIu64 " (top %" PRIu64 "): got %d, reference %d",
			    case_seed, master_seed, case_seed, i, c, f.top, got, want);
		if (r.top != f.top)
			fail_msg("case seed 0x%016" PRIx64 ": step %zu: top %" PRIu64
			    ", reference %" PRIu64, case_seed, i, r.top, f.top);
		prev = c;
	}
	free(f.seen);
	return len;
}

static void
test_random_vs_reference(void **state)
{
	const char *one = getenv("KODEN_CASE_SEED");
	size_t checks = 0;
	uint64_t s = master_seed;

	(void)state;
	if (one != NULL) {
		checks = run_case(strtoull(one, NULL, 0));
		print_message("replay: 1 case, %zu counters\n", checks);
		return;
	}
	for (int i = 0; i < RAND_CASES; i++)
		checks += run_case(splitmix(&s));
	print_message("replay: %d random cases, %zu counters checked against "
	    "the reference\n", RAND_CASES, checks);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_first),
		cmocka_unit_test(test_window_edges),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_far_jumps),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_random_vs_reference),
	};
	const char *seed = getenv("KODEN_SEED");

	master_seed = seed ? strtoull(seed, NULL, 0) :
	    ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	printf("replay: seed 0x%016" PRIx64 " (set KODEN_SEED to repeat)\n",
	    master_seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
