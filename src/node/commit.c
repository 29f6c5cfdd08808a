/*
 * The loop turn's transaction and the group commit: a message that must
 * survive a crash is written inside the turn's transaction; node_commit()
 * commits it without waiting for the disk, and its acknowledgement (or API
 * reply) waits in n->pend until the store's fsync thread says that commit
 * is durable (node_release()).  Many telegrams share one commit, and
 * commits share fsyncs: the group commit.  Forwarding waits the same way:
 * the forwarder sends only queue items up to the ord of the last durable
 * commit (n->q_sendable), and the links whose items a commit held are
 * handed back to it (hooks.link_durable) once that commit is durable.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "node/node_int.h"

int
node_txn(struct node *n, struct kerr *e)
{
	int r;

	if (n->in_txn)
		return 0;
	if ((r = store_begin(n->st, e)) != 0)
		return r;
	n->in_txn = 1;
	n->txn_msgs = 0;
	return 0;
}

static struct pending *
pending_new(struct node *n)
{
	if (n->n_pend == n->cap_pend) {
		size_t cap = n->cap_pend ? 2 * n->cap_pend : 64;
		struct pending *p = realloc(n->pend, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		n->pend = p;
		n->cap_pend = cap;
	}
	memset(&n->pend[n->n_pend], 0, sizeof(n->pend[0]));
	return &n->pend[n->n_pend++];
}

int
node_pending_ack(struct node *n, struct conn *c, const struct wire_ack *a)
{
	struct pending *p = pending_new(n);

	if (p == NULL)
		return KERR_NOMEM;
	p->c = c;
	p->kind = PEND_ACK;
	p->ack = *a;
	return 0;
}

int
node_pending_reply(struct node *n, struct conn *c, struct buf *reply)
{
	struct pending *p = pending_new(n);

	if (p == NULL) {
		buf_free(reply);
		return KERR_NOMEM;
	}
	p->c = c;
	p->kind = PEND_REPLY;
	p->reply = *reply;
	buf_init(reply, 0);
	return 0;
}

void
node_mark_dirty(struct node *n, const char *link)
{
	for (size_t i = 0; i < n->n_dirty; i++)
		if (strcmp(n->dirty[i], link) == 0)
			return;
	if (n->n_dirty == n->cap_dirty) {
		size_t cap = n->cap_dirty ? 2 * n->cap_dirty : 16;
		char (*d)[TG_POST_MAX + 1] = realloc(n->dirty,
		    cap * sizeof(*d));

		if (d == NULL)
			return;	/* the next tick pumps every link anyway */
		n->dirty = d;
		n->cap_dirty = cap;
	}
	snprintf(n->dirty[n->n_dirty++], sizeof(n->dirty[0]), "%s", link);
}

/*
 * Links whose new items are in commit (or earlier ones): pumped once it is
 * durable.
 */
static void
wait_add(struct node *n, const char *link, uint64_t commit)
{
	for (size_t i = 0; i < n->n_wait; i++)
		if (strcmp(n->wait[i].link, link) == 0) {
			n->wait[i].last = commit;
			return;
		}
	if (n->n_wait == n->cap_wait) {
		size_t cap = n->cap_wait ? 2 * n->cap_wait : 16;
		struct waitlink *w = realloc(n->wait, cap * sizeof(*w));

		if (w == NULL)
			return;	/* the next tick pumps every link anyway */
		n->wait = w;
		n->cap_wait = cap;
	}
	snprintf(n->wait[n->n_wait].link, sizeof(n->wait[0].link), "%s", link);
	n->wait[n->n_wait].first = n->wait[n->n_wait].last = commit;
	n->n_wait++;
}

/*
 * The queue holds items up to ord once commit is durable.  Past
 * NODE_ORDMARKS commits in flight the newest mark takes over the one
 * before it: that item then waits for a later commit, never an earlier.
 */
static void
ordmark_add(struct node *n, uint64_t commit, uint64_t ord)
{
	/* commits are numbered in order: the marks stay sorted */
	assert(n->n_ords == 0 || n->ords[n->n_ords - 1].commit <= commit);
	if (n->n_ords == NODE_ORDMARKS)
		n->n_ords--;
	n->ords[n->n_ords].commit = commit;
	n->ords[n->n_ords].ord = ord;
	n->n_ords++;
}

static void
pending_send(struct pending *p)
{
	if (p->c->state == CONN_DEAD) {
		buf_free(&p->reply);
		return;
	}
	assert(p->kind == PEND_ACK || p->kind == PEND_REPLY);
	if (p->kind == PEND_ACK) {
		struct buf b;

		buf_init(&b, 512);
		if (wire_ack_encode(&b, &p->ack) == 0)
			conn_send_msg(p->c, WIRE_ACK, TG_FLASH, b.p, b.len);
		buf_free(&b);
	} else {
		if (buf_put(&p->c->out, p->reply.p, p->reply.len) != 0)
			conn_close(p->c, "API reply too large");
		buf_free(&p->reply);
	}
	conn_flush(p->c);
}

void
node_pending_drop_all(struct node *n)
{
	for (size_t i = 0; i < n->n_pend; i++)
		buf_free(&n->pend[i].reply);
	n->n_pend = n->pend_tagged = 0;
}

/*
 * Release what waited for commits now on disk: acknowledgements to peers,
 * replies to API clients, and the queue items those commits hold (pumped
 * to their links).  Called after each commit and whenever the store's
 * fsync thread says more is durable.
 */
void
node_release(struct node *n)
{
	uint64_t durable = store_durable(n->st);
	size_t k = 0, keep = 0;

	assert(n->pend_tagged <= n->n_pend);
	assert(durable <= store_last_commit(n->st));
	if (store_sync_failed(n->st)) {
		if (n->stopping != NODE_STOP_FAILED)
			log_err("the store's log cannot be synced to disk, "
			    "stopping");
		n->stopping = NODE_STOP_FAILED;
		node_pending_drop_all(n);
		return;
	}
	while (n->n_ords > 0 && n->ords[0].commit <= durable) {
		n->q_sendable = n->ords[0].ord;
		memmove(n->ords, n->ords + 1, --n->n_ords * sizeof(n->ords[0]));
	}
	while (k < n->pend_tagged && n->pend[k].commit <= durable) {
		/* tagged in commit order: what is durable is a prefix */
		assert(k == 0 || n->pend[k - 1].commit <= n->pend[k].commit);
		pending_send(&n->pend[k++]);
	}
	if (k > 0) {
		memmove(n->pend, n->pend + k, (n->n_pend - k) * sizeof(*n->pend));
		n->n_pend -= k;
		n->pend_tagged -= k;
	}
	for (size_t i = 0; i < n->n_wait; i++) {
		struct waitlink w = n->wait[i];

		assert(w.first <= w.last);
		if (w.first <= durable)
			n->hooks.link_durable(n, w.link);
		if (w.last > durable) {
			w.first = durable + 1;
			n->wait[keep++] = w;
		}
	}
	n->n_wait = keep;
}

/*
 * End the turn's transaction: commit it (written, not yet on disk), and
 * have what waited for it (acknowledgements, replies, queue items) go out
 * once it is durable.  A failed commit is fatal: nothing that waited is
 * sent, and kodend stops so that it restarts from the last durable state.
 */
int
node_commit(struct node *n)
{
	struct kerr e = { "" };
	uint64_t ord = 0, commit;

	if (n->in_txn) {
		if (store_q_last_ord(n->st, &ord, &e) != 0 ||
		    store_commit(n->st, &e) != 0) {
			log_err("commit failed, stopping: %s", e.msg);
			store_rollback(n->st);
			n->in_txn = 0;
			n->stopping = NODE_STOP_FAILED;
			node_pending_drop_all(n);
			return -1;
		}
		n->in_txn = 0;
		ordmark_add(n, store_last_commit(n->st), ord);
	}
	commit = store_last_commit(n->st);
	for (size_t i = n->pend_tagged; i < n->n_pend; i++)
		n->pend[i].commit = commit;
	n->pend_tagged = n->n_pend;
	for (size_t i = 0; i < n->n_dirty; i++)
		wait_add(n, n->dirty[i], commit);
	n->n_dirty = 0;
	node_release(n);
	return n->stopping == NODE_STOP_FAILED ? -1 : 0;
}

/*
 * Commit, and wait until everything committed is on disk (rare paths that
 * tell a peer about the store's state: a new roster, a post's SYNC).
 */
int
node_durable(struct node *n)
{
	struct kerr e = { "" };

	if (node_commit(n) != 0)
		return -1;
	if (store_wait_durable(n->st, store_last_commit(n->st), &e) != 0) {
		log_err("%s", e.msg);
		n->stopping = NODE_STOP_FAILED;
		return -1;
	}
	node_release(n);
	return 0;
}

/* Commit early when a turn has written many messages. */
void
node_count_msg(struct node *n)
{
	if (++n->txn_msgs >= NODE_TXN_MAX)
		(void)node_commit(n);
}

/* A dead connection's answers are dropped (before conn_reap frees it). */
static void
pending_forget(struct node *n, struct conn *c)
{
	size_t keep = 0, tagged = 0;

	for (size_t i = 0; i < n->n_pend; i++) {
		if (n->pend[i].c == c) {
			buf_free(&n->pend[i].reply);
			continue;
		}
		tagged += i < n->pend_tagged;
		n->pend[keep++] = n->pend[i];
	}
	n->n_pend = keep;
	n->pend_tagged = tagged;
}

/*
 * The store's fsync thread wrote to the eventfd: more commits are
 * durable.  Called by the loop.
 */
static void
on_sync_fd(struct node *n, struct node_ev *ev, uint32_t events)
{
	uint64_t v;

	(void)ev;
	(void)events;
	(void)!read(n->sync_fd, &v, sizeof(v));
	node_release(n);
}

void
commit_init(struct node *n)
{
	n->ev_sync.fn = on_sync_fd;
	node_hook_gone(n, pending_forget);
}
