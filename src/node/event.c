/*
 * The loop's event sources and hooks (after Redis's ae.c: the loop calls
 * what each source registered, `fe->rfileProc(eventLoop, fd, clientData,
 * mask)`).  A socket, an eventfd or a connection registers a handler with
 * node_ev_add; periodic and end-of-turn work registers a hook.  New kinds of
 * work (a release service, a sentinel timer, an HTTP listener) add a
 * registration here, not a branch in the loop (loop.c).
 */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "node/node_int.h"

uint64_t
node_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
ev_ctl(struct node *n, int op, int fd, struct node_ev *ev, uint32_t events)
{
	struct epoll_event ee;

	assert(ev->fn != NULL);	/* a source without a handler is a bug */
	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.ptr = ev;
	return epoll_ctl(n->epfd, op, fd, &ee) == 0 ? 0 : KERR_IO;
}

int
node_ev_add(struct node *n, int fd, struct node_ev *ev, uint32_t events)
{
	return ev_ctl(n, EPOLL_CTL_ADD, fd, ev, events);
}

int
node_ev_mod(struct node *n, int fd, struct node_ev *ev, uint32_t events)
{
	return ev_ctl(n, EPOLL_CTL_MOD, fd, ev, events);
}

void
node_ev_del(struct node *n, int fd)
{
	epoll_ctl(n->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/*
 * The lists are filled once, by the *_init functions node_open calls, and
 * sized for them: one more registration than fits is a bug, not input.
 */
void
node_hook_turn(struct node *n, node_hook_fn fn)
{
	assert(n->hooks.n_turn < NODE_HOOKS_MAX);
	n->hooks.turn[n->hooks.n_turn++] = fn;
}

void
node_hook_tick(struct node *n, node_hook_fn fn)
{
	assert(n->hooks.n_tick < NODE_HOOKS_MAX);
	n->hooks.tick[n->hooks.n_tick++] = fn;
}

void
node_hook_wake(struct node *n, node_wake_fn fn)
{
	assert(n->hooks.n_wake < NODE_HOOKS_MAX);
	n->hooks.wake[n->hooks.n_wake++] = fn;
}

void
node_hook_gone(struct node *n, node_conn_fn fn)
{
	assert(n->hooks.n_gone < NODE_HOOKS_MAX);
	n->hooks.gone[n->hooks.n_gone++] = fn;
}
