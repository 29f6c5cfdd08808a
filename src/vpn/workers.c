/*
 * Fork-join pool (workers.h).  One generation counter: the caller publishes
 * a job and bumps it; each thread runs its chunk for that generation and
 * counts itself done; the caller runs chunk 0 and waits for the count.
 */
#include <pthread.h>
#include <stdlib.h>

#include "vpn/workers.h"

struct workers {
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned n;			/* threads besides the caller */
	pthread_t tid[WORKERS_MAX];
	unsigned long gen;		/* job generation */
	unsigned finished;		/* threads done with gen */
	int stop;
	workers_fn *fn;
	void *arg;
	size_t items;
};

struct worker_arg {
	struct workers *w;
	unsigned k;			/* chunk index, 1..n */
};

static void
chunk(size_t items, unsigned parts, unsigned k, size_t *lo, size_t *hi)
{
	*lo = items * k / parts;
	*hi = items * (k + 1) / parts;
}

static void *
worker_main(void *p)
{
	struct worker_arg *a = p;
	struct workers *w = a->w;
	unsigned k = a->k;
	unsigned long seen = 0;

	free(a);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && w->gen == seen)
			pthread_cond_wait(&w->go, &w->mu);
		if (w->stop)
			break;
		seen = w->gen;
		{
			workers_fn *fn = w->fn;
			void *arg = w->arg;
			size_t lo, hi;

			chunk(w->items, w->n + 1, k, &lo, &hi);
			pthread_mutex_unlock(&w->mu);
			if (lo < hi)
				fn(arg, lo, hi);
			pthread_mutex_lock(&w->mu);
		}
		if (++w->finished == w->n)
			pthread_cond_signal(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int
workers_new(struct workers **out, unsigned n_threads)
{
	struct workers *w;

	*out = NULL;
	if (n_threads > WORKERS_MAX)
		return KERR_INVALID;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return KERR_NOMEM;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->go, NULL);
	pthread_cond_init(&w->done, NULL);
	for (unsigned i = 0; i < n_threads; i++) {
		struct worker_arg *a = malloc(sizeof(*a));

		if (a == NULL) {
			workers_free(w);
			return KERR_NOMEM;
		}
		a->w = w;
		a->k = i + 1;
		if (pthread_create(&w->tid[i], NULL, worker_main, a) != 0) {
			free(a);
			workers_free(w);
			return KERR_IO;
		}
		w->n = i + 1;
	}
	*out = w;
	return 0;
}

void
workers_free(struct workers *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->go);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->n; i++)
		pthread_join(w->tid[i], NULL);
	pthread_cond_destroy(&w->go);
	pthread_cond_destroy(&w->done);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void
workers_run(struct workers *w, workers_fn *fn, void *arg, size_t n)
{
	size_t lo, hi;

	if (n == 0)
		return;
	if (w == NULL || w->n == 0 || n < WORKERS_MIN_SPLIT) {
		fn(arg, 0, n);
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->fn = fn;
	w->arg = arg;
	w->items = n;
	w->finished = 0;
	w->gen++;
	pthread_cond_broadcast(&w->go);
	pthread_mutex_unlock(&w->mu);
	chunk(n, w->n + 1, 0, &lo, &hi);
	fn(arg, lo, hi);
	pthread_mutex_lock(&w->mu);
	while (w->finished < w->n)
		pthread_cond_wait(&w->done, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

void
workers_run_cb(void *ctx, workers_fn *fn, void *arg, size_t n)
{
	workers_run(ctx, fn, arg, n);
}
