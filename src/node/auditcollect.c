/*
 * HQ collecting the posts' audit logs: each turn's batches are ingested in
 * one transaction of HQ's log, each post gets an answer with HQ's head, and
 * every post that ships hears HQ's head now and then even when idle.  A
 * post that exchanges telegrams without shipping any entry is an alert.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/ship.h"
#include "lib/log.h"
#include "node/node_int.h"
#include "node/nodeaudit.h"

/*
 * HQ -> post: result (enum wire_audit_result: the batch accepted or
 * refused, or no batch: HQ's head only), the post's accepted size, and
 * HQ's head with the consistency proof from the size the post last saw.
 */
static void
audit_reply(struct node *n, struct conn *c, uint8_t result, uint64_t acked)
{
	struct ship_hqhead *m = malloc(sizeof(*m));	/* holds a proof */
	struct kerr e = { "" };
	struct buf b;

	buf_init(&b, 64 * 1024);
	if (m == NULL || buf_put_u8(&b, result) != 0 ||
	    buf_put_u64(&b, acked) != 0) {
		free(m);
		buf_free(&b);
		conn_close(c, "out of memory");
		return;
	}
	if (audit_hq_head_msg(naudit_log(n->audit), NULL, c->audit_hq_seen,
	    &b, &e) != 0) {
		log_debug("audit: no head for %s yet: %s", c->peer, e.msg);
		b.len = WIRE_AUDIT_ACK_HDR;	/* the ack alone */
	} else if (ship_hqhead_decode(m, b.p + WIRE_AUDIT_ACK_HDR,
	    b.len - WIRE_AUDIT_ACK_HDR, &e) == 0)
		/* what the post will hold: this very head, not a newer one
		 * the writer may have signed since */
		c->audit_hq_seen = m->head.size;
	if (result != WIRE_AUDIT_HEAD_ONLY || b.len > WIRE_AUDIT_ACK_HDR)
		conn_send_msg(c, WIRE_AUDIT_ACK, TG_PRIORITY, b.p, b.len);
	free(m);
	buf_free(&b);
}

static void aq_flush(struct node *n);

/*
 * HQ: a post's batch; checked and stored with the turn's others.  Called
 * by the channel for each WIRE_AUDIT record.
 */
static void
on_audit(struct node *n, struct conn *c, uint8_t prec, struct buf *msg)
{
	struct aitem *it;

	(void)prec;
	if (n->cfg.role != ROLE_HQ || n->audit == NULL) {
		conn_close(c, "unexpected audit batch");
		return;
	}
	if (n->aq == NULL &&
	    (n->aq = calloc(NODE_AQ_MAX, sizeof(*n->aq))) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	if (n->n_aq == NODE_AQ_MAX)
		aq_flush(n);
	it = &n->aq[n->n_aq];
	it->c = c;
	buf_init(&it->msg, msg->len);
	if (buf_put(&it->msg, msg->p, msg->len) != 0) {
		buf_free(&it->msg);
		conn_close(c, "out of memory");
		return;
	}
	n->n_aq++;
}

/*
 * HQ: ingest the turn's batches in one transaction of the audit log (one
 * fsync, one global head), then answer each post.
 */
static void
aq_flush(struct node *n)
{
	struct audit_ingest_item *items;
	struct kerr e = { "" };
	size_t k = n->n_aq, m = 0, *idx;

	if (k == 0 || (k < NODE_AQ_MAX && node_now_ms() < n->aq_retry))
		return;
	n->n_aq = 0;
	n->aq_retry = 0;
	items = calloc(k, sizeof(*items));
	idx = calloc(k, sizeof(*idx));
	if (items == NULL || idx == NULL) {
		log_err("audit: out of memory for %zu batches", k);
		goto out;
	}
	for (size_t i = 0; i < k; i++) {
		const struct roster_entry *re = node_roster_site(n,
		    n->aq[i].c->peer);

		if (re == NULL || n->aq[i].c->state == CONN_DEAD)
			continue;	/* revoked or gone meanwhile */
		items[m].node = n->aq[i].c->peer;
		items[m].node_pk = re->pk.sign;
		items[m].msg = n->aq[i].msg.p;
		items[m].len = n->aq[i].msg.len;
		idx[m++] = i;
	}
	if (m > 0 && audit_ingest_many(naudit_log(n->audit), items, m, n->key,
	    &e) != 0) {
		if (auditlog_busy(naudit_log(n->audit)) && k < NODE_AQ_MAX) {
			/* another writer holds the log: kept for a later turn
			 * (the posts wait for the answer, as for a slow HQ) */
			log_debug("audit: log busy, %zu batches wait", k);
			n->n_aq = k;
			n->aq_retry = node_now_ms() + AUDIT_SHIP_GAP_MS;
			free(items);
			free(idx);
			return;
		}
		log_err("audit: cannot store %zu batches: %s", m, e.msg);
		/* the posts send them again on their next link */
		for (size_t j = 0; j < m; j++)
			conn_close(n->aq[idx[j]].c, "audit log unwritable");
		goto out;
	}
	naudit_sync(n->audit);
	for (size_t j = 0; j < m; j++) {
		struct conn *c = n->aq[idx[j]].c;

		c->audit_seen = 1;
		if (items[j].result != 0) {
			node_alert(n, "audit", c->peer, "refused %s's audit "
			    "batch: %s", c->peer, items[j].err.msg);
			audit_reply(n, c, WIRE_AUDIT_REFUSED, items[j].acked);
		} else {
			c->audit_hq_seen = items[j].hq_seen;
			audit_reply(n, c, WIRE_AUDIT_ACCEPTED, items[j].acked);
			c->audit_grew = node_now_ms();
			c->audit_traffic = 0;
			c->audit_alerted = 0;
		}
		conn_flush(c);
	}
out:
	for (size_t i = 0; i < k; i++)
		buf_free(&n->aq[i].msg);
	free(items);
	free(idx);
}

/* HQ: its head to every post that ships, now and then, even when idle. */
static void
audit_broadcast(struct node *n)
{
	uint64_t now = node_now_ms();

	if (n->cfg.role != ROLE_HQ || n->audit == NULL)
		return;
	/*
	 * A post that exchanges telegrams or receipts writes audit entries
	 * for each: if none arrive for audit_silence seconds, its log is
	 * broken or being held back.
	 */
	for (struct conn *c = n->conns; c != NULL; c = c->next) {
		if (c->kind != CONN_PEER || c->state != CONN_OPEN ||
		    !c->synced)
			continue;
		if (c->audit_grew == 0)
			c->audit_grew = now;
		if (c->audit_traffic > 0 && !c->audit_alerted &&
		    now - c->audit_grew > (uint64_t)n->cfg.audit_silence * 1000) {
			c->audit_alerted = 1;
			node_alert(n, "audit-silent", c->peer, "%s exchanged "
			    "%llu telegrams and receipts in the last %llu s "
			    "without shipping any audit entry", c->peer,
			    (unsigned long long)c->audit_traffic,
			    (unsigned long long)(now - c->audit_grew) / 1000);
		}
	}
	if (now < n->audit_bcast)
		return;
	n->audit_bcast = node_now_ms() + AUDIT_BCAST_MS;
	for (struct conn *c = n->conns; c != NULL; c = c->next)
		if (c->kind == CONN_PEER && c->state == CONN_OPEN &&
		    c->audit_seen) {
			audit_reply(n, c, WIRE_AUDIT_HEAD_ONLY, 0);
			conn_flush(c);
		}
}

/* A dead connection's batches are dropped (before conn_reap frees it). */
static void
aq_forget(struct node *n, struct conn *c)
{
	size_t keep = 0;

	for (size_t i = 0; i < n->n_aq; i++) {
		if (n->aq[i].c == c)
			buf_free(&n->aq[i].msg);
		else
			n->aq[keep++] = n->aq[i];
	}
	n->n_aq = keep;
}

/* The loop wakes for batches kept while the log was busy. */
static uint64_t
aq_wake(const struct node *n)
{
	return n->aq_retry;
}

void
auditcollect_init(struct node *n)
{
	node_on_record(n, WIRE_AUDIT, on_audit);
	node_hook_turn(n, aq_flush);
	node_hook_tick(n, audit_broadcast);
	node_hook_wake(n, aq_wake);
	node_hook_gone(n, aq_forget);
}
