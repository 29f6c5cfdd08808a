/*
 * The roster this node holds: loaded from the store (HQ: the one it signs;
 * a post: the last one HQ sent), replaced by HQ's newer ones on a post, and
 * pushed to every open link at HQ when it changes.  Every change is a
 * directory event in the audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/log.h"
#include "node/admin.h"
#include "node/node_int.h"
#include "node/nodeaudit.h"

const struct roster_entry *
node_roster_site(const struct node *n, const char *name)
{
	const struct roster_entry *re = roster_find(&n->roster, name);

	if (re == NULL || re->revoked ||
	    (re->kind != ROSTER_POST && re->kind != ROSTER_HQ))
		return NULL;
	return re;
}

const uint8_t *
node_hq_sign_pk(const struct node *n)
{
	for (size_t i = 0; n->have_roster && i < n->roster.n; i++)
		if (n->roster.v[i].kind == ROSTER_HQ && !n->roster.v[i].revoked)
			return n->roster.v[i].pk.sign;
	return NULL;
}

/* A directory change: the roster version and the hash of its signed form. */
static void
audit_roster(struct node *n, uint64_t version, const uint8_t *blob,
    size_t len, const char *how)
{
	uint8_t h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1], obj[32];

	crypto_hash_sha256(h, blob, len);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(obj, sizeof(obj), "roster:%llu", (unsigned long long)version);
	naudit_event(n->audit, "kodend", "directory", "dir-change", obj, "ok",
	    "sha256=%s %s", hex, how);
}

int
node_reload_roster(struct node *n, struct kerr *e)
{
	const uint8_t *pk = n->cfg.role == ROLE_HQ ? n->dirkey->pub.sign :
	    n->cfg.dir_pk;
	struct roster r;
	struct buf blob;
	int found, rc;

	buf_init(&blob, ROSTER_MAX);
	if ((rc = admin_roster_load(n->st, pk, &r, &blob, &found, e)) != 0) {
		buf_free(&blob);
		return rc;
	}
	if (!found) {
		buf_free(&blob);
		return 0;
	}
	if (!n->have_roster || n->roster.version != r.version)
		audit_roster(n, r.version, blob.p, blob.len, "loaded");
	if (n->have_roster)
		roster_free(&n->roster);
	buf_free(&n->roster_blob);
	n->roster = r;
	n->roster_blob = blob;
	n->have_roster = 1;
	if (n->cfg.role == ROLE_HQ)
		for (struct conn *c = n->conns; c != NULL; c = c->next)
			if (c->kind == CONN_PEER && c->state == CONN_OPEN) {
				const struct roster_entry *re =
				    roster_find(&n->roster, c->peer);

				if (re == NULL || re->revoked) {
					conn_close(c, "revoked");
					continue;
				}
				conn_send_msg(c, WIRE_ROSTER, TG_FLASH,
				    blob.p, blob.len);
				conn_flush(c);
			}
	return 0;
}

/*
 * Post: HQ's roster arrived (at every link up, and whenever it changes).
 * Called by the channel for each WIRE_ROSTER record.
 */
static void
on_roster(struct node *n, struct conn *c, uint8_t prec, struct buf *msg)
{
	struct roster next;
	struct kerr e = { "" };

	(void)prec;
	if (n->cfg.role != ROLE_POST) {
		conn_close(c, "unexpected roster");
		return;
	}
	if (roster_decode(&next, msg->p, msg->len, n->cfg.dir_pk, &e) != 0) {
		node_alert(n, "directory", NULL, "roster refused: %s", e.msg);
		return;
	}
	if (roster_accept(n->have_roster ? &n->roster : NULL, &next, &e) != 0) {
		node_alert(n, "directory", NULL, "roster refused: %s", e.msg);
		roster_free(&next);
		return;
	}
	if (n->have_roster && next.version == n->roster.version) {
		roster_free(&next);
		return;
	}
	if (node_txn(n, &e) != 0 ||
	    store_meta_set_blob(n->st, "roster", msg->p, msg->len, &e) != 0 ||
	    store_meta_set_u64(n->st, "roster_version", next.version, &e) != 0) {
		log_err("storing roster: %s", e.msg);
		roster_free(&next);
		n->stopping = NODE_STOP_FAILED;
		return;
	}
	log_info("roster version %llu from HQ (%zu entries)",
	    (unsigned long long)next.version, next.n);
	audit_roster(n, next.version, msg->p, msg->len, "from HQ");
	if (n->have_roster)
		roster_free(&n->roster);
	n->roster = next;
	n->have_roster = 1;
	buf_free(&n->roster_blob);
	buf_init(&n->roster_blob, ROSTER_MAX);
	if (buf_put(&n->roster_blob, msg->p, msg->len) != 0)
		log_err("roster: out of memory");
}

void
roster_init(struct node *n)
{
	node_on_record(n, WIRE_ROSTER, on_roster);
}
