/*
 * What peers send: telegrams (their origin signature already checked,
 * verify.c) and receipts.  HQ checks each against the roster, stores it,
 * and routes it to every addressee's queue (relay); a post accepts what is
 * addressed to it (delivery.c) and records the receipts for its own
 * telegrams.
 */
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "node/node_int.h"
#include "node/nodeaudit.h"
#include "node/receipt.h"

/*
 * A telegram arrived on c (HQ: from its origin post; post: from HQ), and
 * env_inspect has already been run on it (vq_flush): r and ke are its
 * result, h its header.  h is the caller's.
 */
void
intake_telegram(struct node *n, struct conn *c, struct buf *msg,
    struct env_header *h, int r, const struct kerr *kep)
{
	const struct roster_entry *re;
	struct wire_ack ack;
	struct kerr e = { "" }, ke = *kep;
	int ins = 0;

	memset(&ack, 0, sizeof(ack));
	ack.kind = WIRE_ACK_TELEGRAM;
	if (r != 0) {
		char hex[TG_ID_HEX];

		memcpy(ack.id, h->id, 16);
		tg_id_hex(hex, h->id);
		/* the header parsed before the signature failed: name the
		 * origin it claims and the telegram, if it got that far */
		node_alert(n, "forgery", h->origin[0] ? h->origin : c->peer,
		    "refused telegram %s claiming origin %s, received from %s: "
		    "%s", h->origin[0] ? hex : "?", h->origin[0] ? h->origin :
		    "?", c->peer, ke.msg);
		ack.result = WIRE_ACK_REFUSED;
		snprintf(ack.reason, sizeof(ack.reason), "%.*s",
		    (int)sizeof(ack.reason) - 1, ke.msg);
		goto ack;
	}
	memcpy(ack.id, h->id, 16);
	re = node_roster_site(n, h->origin);
	if (re == NULL || !pubkey_equal(&re->pk, &h->origin_pk) ||
	    (n->cfg.role == ROLE_HQ && strcmp(h->origin, c->peer) != 0)) {
		node_alert(n, "forgery", c->peer, "telegram claiming origin %s "
		    "is not signed by %s's key", h->origin, h->origin);
		ack.result = WIRE_ACK_REFUSED;
		snprintf(ack.reason, sizeof(ack.reason), "origin signature "
		    "is not %s's", h->origin);
		goto ack;
	}
	if ((r = node_txn(n, &e)) != 0)
		goto fail;
	if (n->cfg.role == ROLE_HQ) {
		/* relay: every addressee must be a site in the roster */
		for (size_t i = 0; i < h->n_addr; i++) {
			if (node_roster_site(n, h->addr[i].name) == NULL) {
				ack.result = WIRE_ACK_REFUSED;
				snprintf(ack.reason, sizeof(ack.reason),
				    "unknown addressee %s", h->addr[i].name);
				goto ack;
			}
		}
		r = store_env_put(n->st, h->id, h->origin, now_s(), msg->p,
		    msg->len, &ins, &e);
		if (r == KERR_EXISTS) {
			node_alert(n, "conflict", h->origin, "two different "
			    "telegrams with one id");
			ack.result = WIRE_ACK_REFUSED;
			snprintf(ack.reason, sizeof(ack.reason), "id conflict");
			goto ack;
		}
		if (r != 0)
			goto fail;
		if (ins)
			naudit_envelope(n->audit, h->id, h->origin, msg->p,
			    msg->len);
		for (size_t i = 0; ins && i < h->n_addr; i++) {
			struct store_qitem it;
			const char *dest = h->addr[i].name;

			if (strcmp(dest, n->cfg.name) == 0) {
				struct wire_ack la = ack;

				if ((r = node_deliver(n, h, msg->p, msg->len,
				    1, &la, &e)) != 0)
					goto fail;
				continue;
			}
			memset(&it, 0, sizeof(it));
			it.kind = STORE_Q_TELEGRAM;
			memcpy(it.id, h->id, 16);
			it.prec = h->addr[i].role == ENV_ACTION ?
			    h->prec_action : h->prec_info;
			if ((r = store_q_put(n->st, dest, &it, &e)) != 0)
				goto fail;
			node_mark_dirty(n, dest);
		}
	} else {
		uint8_t prec;

		if (node_env_seq(h, n->cfg.name, &prec) == 0 &&
		    roster_find(&n->roster, n->cfg.name) != NULL) {
			int mine = 0;

			for (size_t i = 0; i < h->n_addr; i++)
				mine |= strcmp(h->addr[i].name, n->cfg.name) == 0;
			if (!mine) {
				node_alert(n, "misrouted", h->origin,
				    "telegram not addressed to %s",
				    n->cfg.name);
				ack.result = WIRE_ACK_REFUSED;
				snprintf(ack.reason, sizeof(ack.reason),
				    "not addressed to %s", n->cfg.name);
				goto ack;
			}
		}
		if ((r = node_deliver(n, h, msg->p, msg->len, 0, &ack, &e)) != 0)
			goto fail;
	}
	n->stat_in++;
	c->audit_traffic++;
	node_count_msg(n);
ack:
	if (node_pending_ack(n, c, &ack) != 0)
		conn_close(c, "out of memory");
	return;
fail:
	log_err("storing telegram from %s: %s", c->peer, e.msg);
	n->stopping = NODE_STOP_FAILED;
}

/*
 * A receipt arrived (HQ: from the addressee; post: from HQ, for us), in a
 * message of precedence prec.  Called by the channel for each WIRE_RECEIPT
 * record.
 */
static void
on_receipt(struct node *n, struct conn *c, uint8_t prec, struct buf *msg)
{
	const struct roster_entry *re;
	struct receipt rc;
	struct wire_ack ack;
	struct kerr e = { "" }, ke = { "" };
	int r;

	memset(&ack, 0, sizeof(ack));
	ack.kind = WIRE_ACK_RECEIPT;
	/*
	 * HQ relays a receipt that came over the Noise link of the post it
	 * names (checked below against the roster) and leaves the signature
	 * to the origin, which acts on it: half of a relayed telegram's
	 * signature checks.  A post verifies every receipt it receives.
	 */
	if ((n->cfg.role == ROLE_HQ ? receipt_parse(&rc, msg->p, msg->len,
	    &ke) : receipt_decode(&rc, msg->p, msg->len, &ke)) != 0) {
		node_alert(n, "forgery", c->peer, "malformed receipt: %s",
		    ke.msg);
		conn_close(c, "malformed receipt");
		return;
	}
	memcpy(ack.id, rc.id, 16);
	snprintf(ack.by, sizeof(ack.by), "%s", rc.by);
	ack.state = rc.state;
	re = node_roster_site(n, rc.by);
	if (re == NULL || !pubkey_equal(&re->pk, &rc.by_pk) ||
	    (n->cfg.role == ROLE_HQ && strcmp(rc.by, c->peer) != 0)) {
		node_alert(n, "forgery", c->peer, "receipt claiming to come "
		    "from %s is not signed by its key", rc.by);
		ack.result = WIRE_ACK_REFUSED;
		snprintf(ack.reason, sizeof(ack.reason), "bad receipt "
		    "signature");
		goto ack;
	}
	if ((r = node_txn(n, &e)) != 0 ||
	    (r = store_receipt_put(n->st, rc.id, rc.by, rc.state, msg->p,
	    msg->len, &e)) != 0)
		goto fail;
	if (n->cfg.role == ROLE_HQ)
		/*
		 * On to the origin at the precedence the signer sent it at
		 * (its kodend uses the telegram's precedence for it): the
		 * signer can only rank its own receipts, and reading the
		 * envelope back to check would cost HQ more than the rest of
		 * the receipt's relaying.
		 */
		r = node_route_receipt(n, rc.id, rc.origin, rc.by, rc.state, prec, &e);
	else if (strcmp(rc.origin, n->cfg.name) != 0) {
		node_alert(n, "misrouted", rc.by, "receipt for a telegram of "
		    "%s", rc.origin);
		goto ack;
	} else
		r = store_status_set(n->st, rc.id, rc.by, rc.state, rc.time, &e);
	if (r != 0)
		goto fail;
	c->audit_traffic++;
	{
		char hex[TG_ID_HEX];

		tg_id_hex(hex, rc.id);
		naudit_event(n->audit, "kodend", rc.by, "receipt", hex, "ok",
		    "%s by %s for %s", rc.state == RECEIPT_READ ? "READ" :
		    "DELIVERED", rc.by, rc.origin);
	}
	node_count_msg(n);
ack:
	if (node_pending_ack(n, c, &ack) != 0)
		conn_close(c, "out of memory");
	return;
fail:
	log_err("storing receipt from %s: %s", c->peer, e.msg);
	n->stopping = NODE_STOP_FAILED;
}

void
intake_init(struct node *n)
{
	node_on_record(n, WIRE_RECEIPT, on_receipt);
}
