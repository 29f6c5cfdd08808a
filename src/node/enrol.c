/*
 * Enrolment (docs/directory.md, "Enrolment tokens"): a new post proves, in
 * its first handshake message, that it holds a one-time token's secret and
 * its signing key; HQ adds it to the members, signs a new roster and makes
 * it durable before it welcomes the post.  Token secrets are wiped wherever
 * they passed.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "lib/log.h"
#include "node/admin.h"
#include "node/node_int.h"
#include "node/nodeaudit.h"
#include "node/token.h"

int
enrol_accept(struct node *n, struct conn *c, struct wire_hello *hello,
    const uint8_t rs[static 32])
{
	const struct roster_entry *re;
	struct store_member m;
	struct kerr e = { "" };
	uint8_t hash[32];
	struct buf msg;
	int ok = 0, r;

	if ((re = roster_find(&n->roster, hello->name)) != NULL &&
	    !re->revoked && sodium_memcmp(re->pk.enc, rs, 32) == 0 &&
	    sodium_memcmp(re->pk.sign, hello->sign_pk, 32) == 0) {
		/*
		 * Enrolled already with these very keys: the welcome was lost
		 * (the post timed out).  Its retry is a plain connection.
		 */
		log_info("%s enrolled before; accepting its retry", hello->name);
		return 0;
	}
	token_hash(hash, hello->secret);
	sodium_memzero(hello->secret, sizeof(hello->secret));
	buf_init(&msg, 256);
	r = admin_enrol_message(&msg, hello->name, rs);
	if (r == 0 && crypto_sign_verify_detached(hello->sig, msg.p,
	    msg.len, hello->sign_pk) != 0)
		r = KERR_SIGNATURE;
	buf_free(&msg);
	if (r == 0 && (r = node_txn(n, &e)) == 0)
		r = store_enrol_use(n->st, hello->name, hash, now_s(),
		    &ok, &e);
	sodium_memzero(hash, sizeof(hash));
	if (r != 0 || !ok) {
		node_alert(n, "enrolment", hello->name, "refused an "
		    "enrolment for %s: %s", hello->name, r ? "bad "
		    "signature" : "no valid token");
		conn_close(c, "enrolment refused");
		return KERR_SIGNATURE;
	}
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", hello->name);
	m.kind = STORE_POST;
	memcpy(m.sign_pk, hello->sign_pk, 32);
	memcpy(m.enc_pk, rs, 32);
	m.added = now_s();
	if (store_member_add(n->st, &m, &e) != 0 ||
	    admin_roster_rebuild(n->st, n->dirkey, now_s(), &e) != 0 ||
	    node_durable(n) != 0 || node_reload_roster(n, &e) != 0) {
		log_err("enrolling %s: %s", hello->name, e.msg);
		conn_close(c, "enrolment failed");
		return KERR_IO;
	}
	log_info("enrolled post %s", hello->name);
	naudit_event(n->audit, "kodend", hello->name, "enrol",
	    hello->name, "ok", "post %s enrolled with its token",
	    hello->name);
	return 0;
}

int
enrol_hello(struct node *n, struct conn *c, struct wire_hello *hello)
{
	size_t sl;
	struct buf msg;

	hello->intent = WIRE_ENROL;
	c->enrolling = 1;
	if (sodium_base642bin(hello->secret, 32, n->cfg.join_secret,
	    strlen(n->cfg.join_secret), NULL, &sl, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || sl != 32) {
		log_err("join_secret in %s/%s is malformed", n->dir,
		    CONFIG_FILE);
		conn_close(c, "no enrolment secret");
		return KERR_FORMAT;
	}
	memcpy(hello->sign_pk, n->key->pub.sign, 32);
	buf_init(&msg, 256);
	if (admin_enrol_message(&msg, n->cfg.name, n->key->pub.enc) != 0) {
		buf_free(&msg);
		conn_close(c, "out of memory");
		return KERR_NOMEM;
	}
	crypto_sign_detached(hello->sig, NULL, msg.p, msg.len,
	    n->key->sign_sk);
	buf_free(&msg);
	return 0;
}

void
enrol_done(struct node *n)
{
	struct kerr e = { "" };

	n->cfg.enrolled = 1;
	sodium_memzero(n->cfg.join_secret, sizeof(n->cfg.join_secret));
	if (config_save(&n->cfg, n->dir, &e) != 0)
		log_err("enrolled, but cannot save the configuration: "
		    "%s", e.msg);
	log_info("enrolled with HQ");
}
