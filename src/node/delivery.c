/*
 * Delivery to this node (a post, or HQ as an addressee): telegraphic
 * accounting over each origin's sequence numbers, the inbox, and the
 * receipts this node signs (DELIVERED here, READ from the API) on their
 * way back to the origin.
 */
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "node/node_int.h"
#include "node/nodeaudit.h"
#include "node/receipt.h"

/*
 * Route a receipt this node holds (already stored) toward origin.  It
 * travels at the telegram's precedence for its signer, so the receipt of a
 * FLASH telegram does not wait behind those of a ROUTINE backlog.
 */
int
node_route_receipt(struct node *n, const uint8_t id[static 16],
    const char *origin, const char *by, uint8_t state, uint8_t prec,
    struct kerr *e)
{
	struct store_qitem it;
	const char *link;
	int r;

	if (n->cfg.role == ROLE_HQ && strcmp(origin, n->cfg.name) == 0)
		return store_status_set(n->st, id, by, state, now_s(), e);
	link = n->cfg.role == ROLE_HQ ? origin : HQ_LINK;
	memset(&it, 0, sizeof(it));
	it.kind = STORE_Q_RECEIPT;
	memcpy(it.id, id, 16);
	snprintf(it.by, sizeof(it.by), "%s", by);
	it.state = state;
	it.prec = prec >= TG_ROUTINE && prec <= TG_FLASH ? prec : TG_IMMEDIATE;
	if ((r = store_q_put(n->st, link, &it, e)) != 0)
		return r;
	node_mark_dirty(n, link);
	return 0;
}

int
node_queue_receipt(struct node *n, const uint8_t id[static 16],
    const char *origin, uint8_t state, uint8_t prec,
    const uint8_t env_hash[static 32], struct kerr *e)
{
	struct receipt rc;
	struct buf b;
	int r;

	memset(&rc, 0, sizeof(rc));
	memcpy(rc.id, id, 16);
	memcpy(rc.env_hash, env_hash, 32);
	snprintf(rc.origin, sizeof(rc.origin), "%s", origin);
	snprintf(rc.by, sizeof(rc.by), "%s", n->cfg.name);
	rc.state = state;
	rc.time = now_s();
	buf_init(&b, 1024);
	if ((r = node_txn(n, e)) != 0 ||
	    (r = receipt_encode(&b, &rc, n->key, e)) != 0 ||
	    (r = store_receipt_put(n->st, id, n->cfg.name, state, b.p, b.len,
	    e)) != 0 ||
	    (r = node_route_receipt(n, id, origin, n->cfg.name, state, prec,
	    e)) != 0)
		goto out;
out:
	buf_free(&b);
	return r;
}

/*
 * Telegraphic accounting.  For one origin, seqs number its telegrams to
 * this node.  Every queue is ordered by precedence, FIFO within one.  A
 * telegram travels two hops: origin -> HQ at its top precedence (the
 * highest over its addressees) and HQ -> here at its precedence for this
 * node.  So a later telegram k may arrive before an earlier j only if
 * top(k) > top(j) or prec(k) > prec(j).  Hence, when j arrives:
 *   - a seq seen twice: replay (SYNC keeps honest redelivery out);
 *   - a later seq k already here with top(k) <= top(j) and
 *     prec(k) <= prec(j): reordering;
 *   - j ROUTINE on both hops and a seq below j missing: a gap, at once
 *     (nothing could have overtaken j); any other missing seq becomes a
 *     gap when it is still missing gap_timeout after a later one arrived
 *     (the periodic check).
 */
/* Alert the missing seqs from origin below `below` not alerted yet. */
static void
alert_gaps(struct node *n, const char *origin, uint64_t below)
{
	uint64_t missing[32], alerted = 0;
	char key[80];
	struct kerr e = { "" };
	size_t k = 0;
	int found;

	snprintf(key, sizeof(key), "gap_alerted/%s", origin);
	if (store_meta_get_u64(n->st, key, &alerted, &found, &e) != 0 ||
	    store_in_missing(n->st, origin, missing, 32, &k, &e) != 0) {
		log_err("accounting %s: %s", origin, e.msg);
		return;
	}
	for (size_t i = 0; i < k; i++) {
		if (missing[i] <= alerted || missing[i] >= below)
			continue;
		node_alert(n, "gap", origin, "telegram #%llu from %s is missing",
		    (unsigned long long)missing[i], origin);
		alerted = missing[i];
	}
	if (store_meta_set_u64(n->st, key, alerted, &e) != 0)
		log_err("accounting %s: %s", origin, e.msg);
}

/*
 * Accept a telegram addressed to this node.  relayed: HQ stored the
 * envelope a moment ago as the relay, so its presence is no replay.
 */
int
node_deliver(struct node *n, const struct env_header *h, const uint8_t *env,
    size_t len, int relayed, struct wire_ack *ack, struct kerr *e)
{
	uint8_t prec = 0, prev[16], hash[32];
	uint64_t seq, later = 0;
	struct store_inbox ib;
	struct buf old;
	int found = 0, dup = 0, ins, r;

	buf_init(&old, ENV_MAX);
	seq = node_env_seq(h, n->cfg.name, &prec);
	if (seq == 0) {
		node_alert(n, "unnumbered", h->origin, "telegram without a "
		    "sequence number for %s", n->cfg.name);
		ack->result = WIRE_ACK_REFUSED;
		snprintf(ack->reason, sizeof(ack->reason), "no sequence number");
		r = 0;
		goto out;
	}
	if (!relayed && (r = store_env_get(n->st, h->id, &old, &found, e)) != 0)
		goto out;
	if (found) {
		node_alert(n, "replay", h->origin, "telegram #%llu from %s "
		    "arrived again", (unsigned long long)seq, h->origin);
		goto out;	/* acknowledged, not accepted twice */
	}
	if ((r = store_in_put(n->st, h->origin, seq, h->id, prec,
	    h->prec_action, now_s(), &dup, prev, e)) != 0)
		goto out;
	if (dup) {
		node_alert(n, "replay", h->origin, "sequence number #%llu from "
		    "%s used again by another telegram",
		    (unsigned long long)seq, h->origin);
		ack->result = WIRE_ACK_REFUSED;
		snprintf(ack->reason, sizeof(ack->reason), "sequence number "
		    "reused");
		goto out;
	}
	if ((r = store_in_later_lower(n->st, h->origin, seq, prec,
	    h->prec_action, &later, e)) != 0)
		goto out;
	if (later != 0)
		node_alert(n, "reorder", h->origin, "telegram #%llu from %s "
		    "arrived after #%llu, which had no right to overtake it",
		    (unsigned long long)seq, h->origin,
		    (unsigned long long)later);
	if ((r = store_env_put(n->st, h->id, h->origin, now_s(), env, len,
	    &ins, e)) != 0)
		goto out;
	memset(&ib, 0, sizeof(ib));
	memcpy(ib.id, h->id, 16);
	snprintf(ib.origin, sizeof(ib.origin), "%s", h->origin);
	ib.prec = prec;
	ib.dtg = h->time;
	ib.received = now_s();
	if ((r = store_inbox_put(n->st, &ib, e)) != 0)
		goto out;
	if (prec == TG_ROUTINE && h->prec_action == TG_ROUTINE)
		alert_gaps(n, h->origin, seq);
	{
		char hex[TG_ID_HEX];

		tg_id_hex(hex, h->id);
		naudit_event(n->audit, "kodend", h->origin, "delivery", hex,
		    "ok", "#%llu from %s, precedence %u",
		    (unsigned long long)seq, h->origin, prec);
	}
	receipt_env_hash(hash, env, len);
	r = node_queue_receipt(n, h->id, h->origin, RECEIPT_DELIVERED, prec,
	    hash, e);
out:
	buf_free(&old);
	return r;
}

/* Every tick: a missing seq still missing gap_timeout after a later one. */
static void
gaps_tick(struct node *n)
{
	uint64_t now = node_now_ms();
	char names[64][STORE_NAME_MAX + 1];
	struct kerr e = { "" };
	size_t k = 0;

	if (store_in_origins(n->st, names, 64, &k, &e) == 0) {
		for (size_t i = 0; i < k; i++) {
			uint64_t hwm, max, oldest;

			if (store_in_marks(n->st, names[i], &hwm, &max,
			    &oldest, &e) == 0 && max > hwm && oldest &&
			    now / 1000 > oldest + n->cfg.gap_timeout)
				alert_gaps(n, names[i], UINT64_MAX);
		}
	}
}

void
delivery_init(struct node *n)
{
	node_hook_tick(n, gaps_tick);
}
