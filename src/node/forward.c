/*
 * Forwarding: every outgoing item (telegram or receipt) sits in the store's
 * queue for its link (the peer's name; "@hq" on a post) until the peer
 * acknowledges it, so a crash at any moment loses nothing acknowledged and,
 * thanks to idempotent ids and the post's SYNC, duplicates nothing.  This
 * file keeps each link's in-flight window, pumps durable items into it,
 * takes the peer's acks, and makes (post) and reads (HQ) the SYNC.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "node/node_int.h"
#include "node/nodeaudit.h"

node_relay_hook node_test_relay_hook;

static int
same_item(const struct store_qitem *a, const struct store_qitem *b)
{
	return a->kind == b->kind && memcmp(a->id, b->id, 16) == 0 &&
	    (a->kind == STORE_Q_TELEGRAM ||
	    (a->state == b->state && strcmp(a->by, b->by) == 0));
}

static int
fl_find(const struct conn *c, const struct store_qitem *it)
{
	for (size_t i = 0; i < c->n_fl; i++)
		if (same_item(&c->fl[i].it, it))
			return (int)i;
	return -1;
}

static int
fl_add(struct conn *c, const struct store_qitem *it)
{
	if (c->n_fl == c->cap_fl) {
		size_t cap = c->cap_fl ? 2 * c->cap_fl : 64;
		struct inflight *f = realloc(c->fl, cap * sizeof(*f));

		if (f == NULL)
			return KERR_NOMEM;
		c->fl = f;
		c->cap_fl = cap;
	}
	c->fl[c->n_fl++].it = *it;
	/* pump fills the window to twice the batch (FLASH's), never past */
	assert(c->n_fl <= 2 * (size_t)c->node->cfg.batch);
	return 0;
}

static void
fl_del(struct conn *c, int i)
{
	assert(i >= 0 && (size_t)i < c->n_fl);
	c->fl[i] = c->fl[--c->n_fl];
}

/* The open, ready connection that serves link, or NULL. */
static struct conn *
link_conn(struct node *n, const char *link)
{
	if (strcmp(link, HQ_LINK) == 0)
		return n->hq != NULL && n->hq->state == CONN_OPEN ? n->hq : NULL;
	for (struct conn *c = n->conns; c != NULL; c = c->next)
		if (c->kind == CONN_PEER && c->state == CONN_OPEN && c->synced &&
		    strcmp(c->peer, link) == 0)
			return c;
	return NULL;
}

uint64_t
node_env_seq(const struct env_header *h, const char *dest, uint8_t *prec)
{
	for (size_t i = 0; i < h->n_addr; i++)
		if (strcmp(h->addr[i].name, dest) == 0) {
			*prec = h->addr[i].role == ENV_ACTION ? h->prec_action :
			    h->prec_info;
			return h->addr[i].seq;
		}
	return 0;
}

/*
 * Hand queued items to the link's peer, up to cfg.batch in flight.  On HQ,
 * a telegram the post's SYNC says it already has is dropped from the queue
 * instead (it reached the post, but HQ crashed before recording the ack).
 */
void
node_pump(struct node *n, const char *link)
{
	struct conn *c = link_conn(n, link);
	struct store_qitem *items;
	struct kerr e = { "" };
	struct env_header *h = NULL;
	struct buf blob;
	size_t got = 0, want;

	/*
	 * At most `batch` items in flight, but FLASH and IMMEDIATE may use a
	 * second window of the same size: they never wait for the
	 * acknowledgement of a ROUTINE backlog already sent.
	 */
	if (c == NULL || c->n_fl >= 2 * n->cfg.batch)
		return;
	want = 2 * n->cfg.batch + c->n_fl;
	if ((items = calloc(want, sizeof(*items))) == NULL)
		return;
	buf_init(&blob, WIRE_MSG_MAX);
	/* only what is on disk here may be on its way */
	if (store_q_next(n->st, link, node_now_ms(), n->q_sendable, items, want,
	    &got, &e) != 0) {
		log_err("queue %s: %s", link, e.msg);
		goto out;
	}
	for (size_t i = 0; i < got && c->n_fl < 2 * n->cfg.batch; i++) {
		struct store_qitem *it = &items[i];
		int found = 0;

		if (c->n_fl >= n->cfg.batch && it->prec < TG_IMMEDIATE)
			break;	/* items come highest precedence first */

		if (fl_find(c, it) >= 0)
			continue;
		blob.len = 0;
		if (it->kind == STORE_Q_TELEGRAM) {
			if (store_env_get(n->st, it->id, &blob, &found, &e) != 0)
				break;
		} else if (store_receipt_get(n->st, it->id, it->by, it->state,
		    &blob, &found, &e) != 0)
			break;
		if (!found) {
			int del;

			log_err("queue %s: item without its data; dropped", link);
			if (node_txn(n, &e) != 0 ||
			    store_q_del(n->st, link, it, &del, &e) != 0)
				log_err("queue %s: %s", link, e.msg);
			continue;
		}
		if (it->kind == STORE_Q_TELEGRAM && n->cfg.role == ROLE_HQ &&
		    c->sync.n > 0) {
			uint8_t prec;
			uint64_t seq;

			if (h == NULL && (h = malloc(sizeof(*h))) == NULL)
				break;
			if (env_parse(h, blob.p, blob.len, NULL) == 0 &&
			    (seq = node_env_seq(h, link, &prec)) != 0 &&
			    wire_sync_has(&c->sync, h->origin, seq)) {
				int del;

				if (node_txn(n, &e) != 0 ||
				    store_q_del(n->st, link, it, &del, &e) != 0)
					log_err("queue %s: %s", link, e.msg);
				log_debug("%s already has %s #%llu", link,
				    h->origin, (unsigned long long)seq);
				continue;
			}
		}
		if (node_test_relay_hook != NULL && n->cfg.role == ROLE_HQ &&
		    it->kind == STORE_Q_TELEGRAM) {
			int send = 1;

			node_test_relay_hook(n, c, link, it, &blob, &send);
			if (!send)
				continue;
		}
		if (fl_add(c, it) != 0)
			break;
		conn_send_msg(c, it->kind == STORE_Q_TELEGRAM ? WIRE_TELEGRAM :
		    WIRE_RECEIPT, it->prec, blob.p, blob.len);
	}
	conn_flush(c);
out:
	free(h);
	free(items);
	buf_free(&blob);
}

/*
 * The peer acknowledged an item (or refused it: an alert); the item leaves
 * the queue and the window has room again.  Called by the channel for each
 * WIRE_ACK record.
 */
static void
on_ack(struct node *n, struct conn *c, uint8_t prec, struct buf *msg)
{
	const char *link = n->cfg.role == ROLE_HQ ? c->peer : HQ_LINK;
	struct store_qitem it;
	struct wire_ack a;
	struct kerr e = { "" };
	int i, found = 0;

	(void)prec;
	if (wire_ack_decode(&a, msg->p, msg->len, &e) != 0) {
		conn_close(c, "malformed ack");
		return;
	}
	memset(&it, 0, sizeof(it));
	it.kind = a.kind == WIRE_ACK_TELEGRAM ? STORE_Q_TELEGRAM :
	    STORE_Q_RECEIPT;
	memcpy(it.id, a.id, 16);
	if (it.kind == STORE_Q_RECEIPT) {
		memcpy(it.by, a.by, sizeof(a.by));
		it.state = a.state;
	}
	if ((i = fl_find(c, &it)) < 0) {
		log_warn("%s acknowledged something not sent to it", c->peer);
		return;
	}
	fl_del(c, i);
	c->acked = 1;
	if (node_txn(n, &e) != 0 ||
	    store_q_del(n->st, link, &it, &found, &e) != 0) {
		log_err("ack from %s: %s", c->peer, e.msg);
		n->stopping = NODE_STOP_FAILED;
		return;
	}
	c->audit_traffic++;
	/* HQ: the addressee has it (a post's own "sent" would only repeat
	 * HQ's envelope leaf, and a refusal is an alert either way) */
	if (it.kind == STORE_Q_TELEGRAM && n->cfg.role == ROLE_HQ) {
		char hex[TG_ID_HEX];

		tg_id_hex(hex, it.id);
		naudit_event(n->audit, "kodend", c->peer, "relay", hex,
		    a.result == WIRE_ACK_REFUSED ? "fail: refused" : "ok",
		    "delivered to %s", c->peer);
	}
	if (a.result == WIRE_ACK_REFUSED)
		node_alert(n, "refused", c->peer, "%s refused an item: %s",
		    c->peer, a.reason);
	else if (it.kind == STORE_Q_TELEGRAM && n->cfg.role == ROLE_POST) {
		struct store_status *st = NULL;
		size_t k = 0;

		if (store_status_get(n->st, it.id, &st, &k, &e) == 0)
			for (size_t j = 0; j < k; j++)
				if (store_status_set(n->st, it.id, st[j].dest,
				    STORE_AT_HQ, now_s(), &e) != 0)
					log_err("status: %s", e.msg);
		free(st);
	}
	node_mark_dirty(n, link);
}

/*
 * HQ: a post's SYNC, the first record on its link: what it already has,
 * so that HQ does not send it again.  Called by the channel.
 */
static void
on_sync(struct node *n, struct conn *c, uint8_t prec, struct buf *msg)
{
	struct kerr e = { "" };

	(void)prec;
	if (n->cfg.role != ROLE_HQ || c->synced) {
		conn_close(c, "unexpected sync");
		return;
	}
	if (wire_sync_decode(&c->sync, msg->p, msg->len, &e) != 0) {
		conn_close(c, e.msg);
		return;
	}
	c->synced = 1;
	node_mark_dirty(n, c->peer);
}

/* Post: what it already has, so HQ does not redeliver it. */
int
node_build_sync(struct node *n, struct buf *out, struct kerr *e)
{
	char (*names)[STORE_NAME_MAX + 1] = calloc(WIRE_SYNC_ORIGINS_MAX,
	    sizeof(*names));
	struct wire_sync s;
	size_t k = 0, total = 0;
	int r;

	memset(&s, 0, sizeof(s));
	if (names == NULL)
		return KERR_NOMEM;
	if ((r = store_in_origins(n->st, names, WIRE_SYNC_ORIGINS_MAX, &k,
	    e)) != 0)
		goto out;
	if ((s.o = calloc(k ? k : 1, sizeof(*s.o))) == NULL) {
		r = KERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < k; i++) {
		struct wire_sync_origin *o = &s.o[s.n];
		uint64_t hwm, max, oldest, miss[WIRE_SYNC_ABOVE_MAX];
		size_t nm = 0, mi = 0;

		if (strlen(names[i]) > TG_POST_MAX)
			continue;
		if ((r = store_in_marks(n->st, names[i], &hwm, &max, &oldest,
		    e)) != 0 ||
		    (r = store_in_missing(n->st, names[i], miss,
		    WIRE_SYNC_ABOVE_MAX, &nm, e)) != 0)
			goto out;
		snprintf(o->origin, sizeof(o->origin), "%s", names[i]);
		o->hwm = hwm;
		/* seqs above hwm that are here: (hwm, max] minus the missing */
		if (max > hwm && max - hwm - nm + total <= WIRE_SYNC_ABOVE_MAX &&
		    nm < WIRE_SYNC_ABOVE_MAX) {
			o->above = calloc(max - hwm, sizeof(uint64_t));
			if (o->above == NULL) {
				r = KERR_NOMEM;
				goto out;
			}
			for (uint64_t q = hwm + 1; q <= max; q++) {
				if (mi < nm && miss[mi] == q) {
					mi++;
					continue;
				}
				o->above[o->n_above++] = q;
			}
			total += o->n_above;
		}
		s.n++;
	}
	r = wire_sync_encode(out, &s);
out:
	wire_sync_free(&s);
	free(names);
	return r;
}

int
node_test_dequeue(struct node *n, const char *link,
    const struct store_qitem *it, struct kerr *e)
{
	int r, found;

	if ((r = node_txn(n, e)) != 0)
		return r;
	return store_q_del(n->st, link, it, &found, e);
}

/* Every tick: each link's queue is looked at, whatever was marked. */
static void
pump_tick(struct node *n)
{
	if (n->cfg.role == ROLE_HQ) {
		for (struct conn *c = n->conns; c != NULL; c = c->next)
			if (c->kind == CONN_PEER && c->state == CONN_OPEN &&
			    c->synced)
				node_mark_dirty(n, c->peer);
	} else
		node_mark_dirty(n, HQ_LINK);
}

void
forward_init(struct node *n)
{
	n->hooks.link_durable = node_pump;
	node_on_record(n, WIRE_ACK, on_ack);
	node_on_record(n, WIRE_SYNC, on_sync);
	node_hook_tick(n, pump_tick);
}
