/*
 * A post's audit log on its way to HQ: batches of what HQ has not
 * acknowledged, each with a signed head and the consistency proof from what
 * HQ holds, and HQ's answers (with HQ's own head, checked against the last
 * one this post saw: a fork is an alert).
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "audit/ship.h"
#include "lib/log.h"
#include "node/node_int.h"
#include "node/nodeaudit.h"

/*
 * Post: send HQ the entries it has not acknowledged, one batch at a time
 * (with a head at its end and the consistency proof from what HQ has).
 */
static void
audit_ship(struct node *n)
{
	struct conn *c = n->hq;
	struct kerr e = { "" };
	uint64_t upto = 0, acked = 0;
	struct buf b;
	int r;

	if (n->audit == NULL || n->cfg.role != ROLE_POST || c == NULL ||
	    c->state != CONN_OPEN || n->audit_inflight != 0)
		return;
	/*
	 * At once after a quiet spell, then at most every AUDIT_SHIP_GAP_MS:
	 * under load a batch carries what 100 ms wrote, so that HQ checks
	 * one signed head per post and 100 ms, not one per append.
	 */
	if (node_now_ms() < n->audit_last_ship + AUDIT_SHIP_GAP_MS) {
		if (n->audit_ship_due == 0)
			n->audit_ship_due = n->audit_last_ship +
			    AUDIT_SHIP_GAP_MS;
		return;
	}
	n->audit_ship_due = 0;
	if (audit_shipped(naudit_log(n->audit), &acked) != 0)
		return;
	buf_init(&b, WIRE_MSG_MAX - 1024);
	r = audit_ship_prepare(naudit_log(n->audit), n->key, AUDIT_SHIP_MAX, &b,
	    &upto, &e);
	if (r != 0 && auditlog_busy(naudit_log(n->audit))) {
		/* another writer holds the log: the next turn after the gap */
		log_debug("audit: log busy, shipping later");
		n->audit_ship_due = node_now_ms() + AUDIT_SHIP_GAP_MS;
	} else if (r != 0) {
		log_err("audit: cannot prepare a batch for HQ: %s", e.msg);
		if (!c->audit_alerted) {
			c->audit_alerted = 1;
			node_alert(n, "audit", "-", "this node's audit log "
			    "cannot be shipped to HQ: %s", e.msg);
		}
	} else if (upto > acked && b.len > 0) {
		naudit_sync(n->audit);	/* the head it may have signed */
		conn_send_msg(c, WIRE_AUDIT, TG_PRIORITY, b.p, b.len);
		n->audit_last_ship = node_now_ms();
		conn_flush(c);
		n->audit_inflight = upto;
	}
	buf_free(&b);
}

/*
 * Post: HQ's answer to a batch, or its head alone.  Called by the channel
 * for each WIRE_AUDIT_ACK record.
 */
static void
on_audit_ack(struct node *n, struct conn *c, uint8_t prec, struct buf *msg)
{
	const uint8_t *hq_pk = node_hq_sign_pk(n);
	struct kerr e = { "" };
	struct rd rd;
	uint64_t acked;
	uint8_t result;
	int r;

	(void)prec;
	if (n->cfg.role != ROLE_POST || n->audit == NULL) {
		conn_close(c, "unexpected audit ack");
		return;
	}
	rd_init(&rd, msg->p, msg->len);
	if (rd_u8(&rd, &result) != 0 || rd_u64(&rd, &acked) != 0 ||
	    result > WIRE_AUDIT_HEAD_ONLY) {
		conn_close(c, "malformed audit ack");
		return;
	}
	if (result == WIRE_AUDIT_ACCEPTED) {
		if (acked > n->audit_inflight)
			log_warn("audit: HQ acknowledged %llu entries, %llu "
			    "were sent", (unsigned long long)acked,
			    (unsigned long long)n->audit_inflight);
		else if (audit_mark_shipped(naudit_log(n->audit), acked) == 0)
			naudit_sync(n->audit);
		else if (auditlog_busy(naudit_log(n->audit)))
			/* sent again with the next batch: HQ takes a resend */
			log_debug("audit: log busy, HQ's ack not recorded");
		else
			log_err("audit: cannot record HQ's ack");
		n->audit_inflight = 0;
	} else if (result == WIRE_AUDIT_REFUSED) {
		node_alert(n, "audit", c->peer, "HQ refused this node's audit "
		    "entries (it holds %llu of them): see HQ's alerts",
		    (unsigned long long)acked);
		n->audit_inflight = UINT64_MAX;	/* no more until reconnected */
	}
	if (rd_left(&rd) > 0 && hq_pk != NULL) {
		r = audit_check_hq_head(naudit_log(n->audit), hq_pk,
		    msg->p + rd.off, rd_left(&rd), NULL, &e);
		if (r == KERR_MISMATCH)
			node_alert(n, "audit-fork", c->peer, "%s", e.msg);
		else if (r == KERR_SIGNATURE)
			node_alert(n, "forgery", c->peer, "%s", e.msg);
		else if (r != 0)
			log_debug("audit: HQ's head: %s", e.msg);
	}
	audit_ship(n);
}

/* The writer appended (its eventfd): ship at once.  Called by the loop. */
static void
on_audit_fd(struct node *n, struct node_ev *ev, uint32_t events)
{
	uint64_t v;

	(void)ev;
	(void)events;
	(void)!read(n->audit_fd, &v, sizeof(v));
	audit_ship(n);
}

/* End of a turn: a batch that waited for its gap goes now. */
static void
ship_due(struct node *n)
{
	if (n->audit_ship_due && node_now_ms() >= n->audit_ship_due)
		audit_ship(n);
}

/* The loop wakes for a batch that waits for its gap. */
static uint64_t
ship_wake(const struct node *n)
{
	return n->audit_ship_due;
}

void
auditship_init(struct node *n)
{
	n->ev_audit.fn = on_audit_fd;
	node_on_record(n, WIRE_AUDIT_ACK, on_audit_ack);
	node_hook_turn(n, ship_due);
	node_hook_tick(n, audit_ship);	/* entries koden appended meanwhile */
	node_hook_wake(n, ship_wake);
}
