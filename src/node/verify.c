/*
 * Checking the origin signatures of the telegrams a loop turn received, on
 * both cores: the loop thread and one worker share each turn's checks item
 * by item, then the telegrams are handled highest precedence first, in
 * arrival order within one.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/thread.h"
#include "node/node_int.h"

struct verifier {
	pthread_t t;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	struct vitem *items;
	size_t next, end;	/* items [next, end) not yet claimed */
	int busy;		/* a batch is posted */
	int taken;		/* ... and the worker is working on it */
	int quit;
};

static void
vcheck(struct vitem *v, size_t a, size_t b)
{
	for (size_t i = a; i < b; i++) {
		v[i].ke.msg[0] = '\0';
		v[i].r = v[i].h == NULL ? KERR_NOMEM :
		    env_inspect(v[i].h, v[i].msg.p, v[i].msg.len, &v[i].ke);
	}
}

/*
 * Check items until none is left unclaimed: the loop and the worker both
 * run this on one batch, so neither waits for the other longer than one
 * check, and if the worker does not get a CPU at all the loop does the
 * whole batch itself.
 */
static void
vshare(struct vitem *v, size_t *next, size_t end)
{
	size_t i;

	while ((i = __atomic_fetch_add(next, 1, __ATOMIC_RELAXED)) < end)
		vcheck(v, i, i + 1);
}

static void *
verifier_main(void *arg)
{
	struct verifier *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->busy && !w->quit)
			pthread_cond_wait(&w->go, &w->mu);
		if (w->quit)
			break;
		w->taken = 1;
		pthread_mutex_unlock(&w->mu);
		vshare(w->items, &w->next, w->end);
		pthread_mutex_lock(&w->mu);
		w->busy = w->taken = 0;
		pthread_cond_signal(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

void
verifier_start(struct node *n)
{
	struct verifier *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return;		/* then the loop thread checks everything */
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->go, NULL);
	pthread_cond_init(&w->done, NULL);
	if (thread_start(&w->t, verifier_main, w, "kodend-verify") != 0) {
		free(w);
		return;
	}
	n->ver = w;
}

void
verifier_stop(struct node *n)
{
	struct verifier *w = n->ver;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_signal(&w->go);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->t, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->go);
	pthread_cond_destroy(&w->done);
	free(w);
	n->ver = NULL;
}

/*
 * Check the origin signatures of the telegrams this turn received, shared
 * between the worker and this thread (vshare), then handle them in arrival
 * order (so FIFO per link and the group commit are as if they had been
 * handled one by one).
 */
static void
vq_flush(struct node *n)
{
	struct verifier *w = n->ver;
	struct vitem *v = n->vq;
	size_t k = n->n_vq;
	int urgent = 0;

	if (k == 0)
		return;
	if (w != NULL && k >= 2) {
		pthread_mutex_lock(&w->mu);
		w->items = v;
		w->next = 0;
		w->end = k;
		w->busy = 1;
		w->taken = 0;
		pthread_cond_signal(&w->go);
		pthread_mutex_unlock(&w->mu);
		vshare(v, &w->next, k);
		pthread_mutex_lock(&w->mu);
		if (!w->taken)
			w->busy = 0;	/* it never started: nothing to wait for */
		while (w->busy)
			pthread_cond_wait(&w->done, &w->mu);
		pthread_mutex_unlock(&w->mu);
	} else
		vcheck(v, 0, k);
	n->n_vq = 0;	/* before handling: a handler may not re-enter */
	/*
	 * Highest precedence first, arrival order within one: a FLASH that
	 * came in behind a window of ROUTINE telegrams is stored and acked
	 * (and its receipt made) before them.  Accounting allows this: a
	 * higher precedence may overtake.
	 */
	for (int prec = TG_FLASH; prec >= 0; prec--) {
		for (size_t i = 0; i < k; i++) {
			int p = v[i].prec >= TG_ROUTINE &&
			    v[i].prec <= TG_FLASH ? v[i].prec : 0;

			if (p != prec)
				continue;
			if (v[i].c->state != CONN_DEAD && v[i].h != NULL &&
			    !n->stopping) {
				intake_telegram(n, v[i].c, &v[i].msg, v[i].h,
				    v[i].r, &v[i].ke);
				urgent |= prec >= TG_IMMEDIATE;
			}
			buf_free(&v[i].msg);
			free(v[i].h);
		}
		/*
		 * FLASH and IMMEDIATE are committed before the turn's lower
		 * precedences are even stored: their acknowledgements, their
		 * forwarding and their inbox entries wait for one fsync of
		 * their own, not for the ROUTINE telegrams read with them.
		 */
		if (prec == TG_IMMEDIATE && urgent)
			(void)node_commit(n);
	}
}

/*
 * Keep a telegram for this turn's signature checks.  Called by the channel
 * for each WIRE_TELEGRAM record.
 */
static void
vq_push(struct node *n, struct conn *c, uint8_t prec, struct buf *msg)
{
	struct vitem *v;

	if (n->vq == NULL &&
	    (n->vq = calloc(NODE_VQ_MAX, sizeof(*n->vq))) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	v = &n->vq[n->n_vq];
	memset(v, 0, sizeof(*v));
	v->c = c;
	v->prec = prec;
	v->h = malloc(sizeof(*v->h));
	buf_init(&v->msg, WIRE_MSG_MAX);
	if (v->h == NULL || buf_put(&v->msg, msg->p, msg->len) != 0) {
		free(v->h);
		buf_free(&v->msg);
		conn_close(c, "out of memory");
		return;
	}
	if (++n->n_vq == NODE_VQ_MAX)
		vq_flush(n);
}

void
verify_init(struct node *n)
{
	node_on_record(n, WIRE_TELEGRAM, vq_push);
	node_hook_turn(n, vq_flush);	/* first: the turn's telegrams */
}
