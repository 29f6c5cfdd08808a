/*
 * The loop: one epoll loop per node.  A turn takes the ready events and
 * calls each source's handler, runs the end-of-turn hooks, commits the
 * turn's transaction (commit.c), runs the tick's hooks when one is due and
 * commits again, then frees the connections that died.  It knows no kind of
 * work: what each file registered (node_int.h) is all it calls.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "lib/log.h"
#include "node/node_int.h"

/*
 * When the loop must wake with nothing to read: the tick, or sooner when
 * timed work registered with node_hook_wake needs it (a post's batch
 * waiting for its gap, HQ's batches kept while the log was busy).
 */
static uint64_t
loop_wake(const struct node *n)
{
	uint64_t wake = n->next_tick;

	for (size_t i = 0; i < n->hooks.n_wake; i++) {
		uint64_t w = n->hooks.wake[i](n);

		if (w && w < wake)
			wake = w;
	}
	return wake;
}

/* Periodic work (dial, deadlines, keepalive, gaps, pumping, audit). */
static void
tick(struct node *n)
{
	uint64_t now = node_now_ms();

	for (size_t i = 0; i < n->hooks.n_tick; i++)
		n->hooks.tick[i](n);
	n->next_tick = now + TICK_MS;
}

int
loop_run(struct node *n, struct kerr *e)
{
	struct epoll_event evs[NODE_EVENTS_MAX];

	n->next_tick = 0;
	while (!n->stopping) {
		uint64_t now = node_now_ms();
		uint64_t wake = loop_wake(n);
		int timeout = now >= wake ? 0 : (int)(wake - now);
		int k = epoll_wait(n->epfd, evs, NODE_EVENTS_MAX, timeout);

		if (k < 0 && errno != EINTR)
			return kerr_set(e, KERR_IO, "epoll_wait: %s",
			    strerror(errno));
		for (int i = 0; i < k && !n->stopping; i++) {
			struct node_ev *ev = evs[i].data.ptr;

			ev->fn(n, ev, evs[i].events);
		}
		for (size_t i = 0; i < n->hooks.n_turn; i++)
			n->hooks.turn[i](n);
		if (node_commit(n) != 0)
			break;
		if (node_now_ms() >= n->next_tick) {
			tick(n);
			if (node_commit(n) != 0)
				break;
		}
		conn_reap(n);
	}
	return 0;
}
