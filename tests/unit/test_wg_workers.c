/*
 * The fork-join pool of src/vpn/workers.c: every index of every batch is
 * processed exactly once, whatever the pool size and batch size, and the
 * caller sees all results when workers_run returns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vpn/workers.h"

#define ITEMS 5000

struct job {
	unsigned char hits[ITEMS];
	unsigned long sum[ITEMS];
};

static void
work(void *arg, size_t lo, size_t hi)
{
	struct job *j = arg;

	assert_true(lo <= hi && hi <= ITEMS);
	for (size_t i = lo; i < hi; i++) {
		j->hits[i]++;
		j->sum[i] = i * 2654435761u;
	}
}

static void
run_pool(unsigned threads)
{
	static struct job j;
	struct workers *w;

	assert_int_equal(workers_new(&w, threads), 0);
	for (size_t round = 0; round < 400; round++) {
		size_t n = (round * 37) % ITEMS;

		memset(&j, 0, sizeof(j));
		workers_run(w, work, &j, n);
		for (size_t i = 0; i < ITEMS; i++) {
			assert_int_equal(j.hits[i], i < n ? 1 : 0);
			if (i < n)
				assert_int_equal(j.sum[i],
				    (unsigned long)(i * 2654435761u));
		}
	}
	workers_free(w);
}

static void
test_pool_sizes(void **state)
{
	(void)state;
	run_pool(0);
	run_pool(1);
	run_pool(3);
}

static void
test_limits(void **state)
{
	static struct job j;
	struct workers *w = (void *)1;

	(void)state;
	assert_int_equal(workers_new(&w, WORKERS_MAX + 1), KERR_INVALID);
	assert_null(w);
	workers_free(NULL);
	/* NULL pool: inline */
	memset(&j, 0, sizeof(j));
	workers_run_cb(NULL, work, &j, 10);
	assert_int_equal(j.hits[9], 1);
	assert_int_equal(j.hits[10], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_sizes),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
