/*
 * The Noise IK handshake (docs/protocol.md): the post sends message 1 with
 * its hello (and, when it enrols, its token's secret), HQ answers with its
 * welcome, and the link opens: HQ sends the roster, the post its SYNC.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "lib/log.h"
#include "node/admin.h"
#include "node/node_int.h"

static void hs_initiator(struct node *n, struct conn *c, const uint8_t *p,
    size_t len);
static void hs_responder(struct node *n, struct conn *c, const uint8_t *p,
    size_t len);

int
hs_start(struct conn *c, int initiator, const uint8_t *rs)
{
	struct node *n = c->node;

	if ((c->hs = sodium_malloc(sizeof(*c->hs))) == NULL)
		return KERR_NOMEM;
	c->initiator = initiator;
	c->on_frame = initiator ? hs_initiator : hs_responder;
	c->state = CONN_HS;
	c->deadline = node_now_ms() + (uint64_t)n->cfg.handshake_timeout * 1000;
	return noise_hs_init(c->hs, NOISE_IK, initiator,
	    (const uint8_t *)NODE_PROLOGUE, strlen(NODE_PROLOGUE), &n->nk, rs,
	    NULL);
}

static int
conn_open(struct conn *c)
{
	struct node *n = c->node;
	struct kerr e = { "" };
	struct buf b;
	int r;

	/* a post's SYNC tells HQ what it need not send again: only what
	 * is on disk here (before the link is open, so nothing goes out on
	 * it yet) */
	if (n->cfg.role == ROLE_POST && node_durable(n) != 0)
		return KERR_IO;
	if ((r = noise_hs_split(c->hs, &c->tx, &c->rx)) != 0)
		return r;
	sodium_free(c->hs);
	c->hs = NULL;
	c->state = CONN_OPEN;
	c->on_frame = channel_frame;
	c->last_rx = node_now_ms();
	log_info("link %s up", c->peer);
	buf_init(&b, 1u << 20);
	if (n->cfg.role == ROLE_HQ) {
		if (n->have_roster)
			conn_send_msg(c, WIRE_ROSTER, TG_FLASH,
			    n->roster_blob.p, n->roster_blob.len);
	} else {
		if ((r = node_build_sync(n, &b, &e)) != 0) {
			log_err("sync: %s", e.msg);
			buf_free(&b);
			return r;
		}
		conn_send_msg(c, WIRE_SYNC, TG_FLASH, b.p, b.len);
		n->backoff = 0;
		node_mark_dirty(n, HQ_LINK);
	}
	buf_free(&b);
	conn_flush(c);
	return 0;
}

/*
 * HQ: message 1 from a post: its hello names it (and, when it enrols,
 * carries its token's secret and proof of its signing key).  The post must
 * then be in the roster with the key it used; one link per post, a new one
 * replaces the old.  The payload may hold an enrolment secret: it lives in
 * sodium_malloc'ed memory, and it and the decoded hello are wiped whatever
 * happens.  The frame handler of a responder's connection until it opens.
 */
static void
hs_responder(struct node *n, struct conn *c, const uint8_t *p, size_t len)
{
	uint8_t *payload = sodium_malloc(WIRE_FRAME_MAX), out[256];
	const struct roster_entry *re;
	const uint8_t *rs;
	struct wire_hello *hello = sodium_malloc(sizeof(*hello));
	struct wire_welcome w;
	struct kerr e = { "" };
	struct buf b;
	size_t plen, olen;
	int found;

	buf_init(&b, 64);
	if (payload == NULL || hello == NULL) {
		conn_close(c, "out of memory");
		goto out;
	}
	if (noise_hs_read(c->hs, p, len, payload, WIRE_FRAME_MAX, &plen) != 0) {
		conn_close(c, "handshake failed (wrong key or garbage)");
		goto out;
	}
	rs = noise_hs_remote_static(c->hs);
	if (wire_hello_decode(hello, payload, plen, &e) != 0) {
		conn_close(c, e.msg);
		goto out;
	}
	if (hello->intent == WIRE_ENROL &&
	    enrol_accept(n, c, hello, rs) != 0)
		goto out;	/* refused or failed: closed, and said why */
	re = roster_find(&n->roster, hello->name);
	found = re != NULL && !re->revoked && re->kind == ROSTER_POST &&
	    sodium_memcmp(re->pk.enc, rs, 32) == 0;
	if (!found) {
		node_alert(n, "unknown-node", hello->name, "refused a connection "
		    "claiming to be %s: %s", hello->name, re == NULL ? "no such "
		    "post" : re->revoked ? "revoked" : "wrong key");
		conn_close(c, "unknown or revoked node");
		goto out;
	}
	/* one link per post: a new one replaces the old */
	for (struct conn *o = n->conns; o != NULL; o = o->next)
		if (o != c && o->kind == CONN_PEER && o->state != CONN_DEAD &&
		    strcmp(o->peer, hello->name) == 0)
			conn_close(o, "replaced by a new connection");
	snprintf(c->peer, sizeof(c->peer), "%s", hello->name);
	w.version = WIRE_VERSION;
	w.roster_version = n->roster.version;
	if (wire_welcome_encode(&b, &w) != 0 ||
	    noise_hs_write(c->hs, b.p, b.len, out, sizeof(out), &olen) != 0 ||
	    conn_frame_put(c, out, olen) != 0 || conn_open(c) != 0)
		conn_close(c, "handshake failed");
out:
	buf_free(&b);
	sodium_free(payload);	/* wipes it first */
	sodium_free(hello);
}

/*
 * Post: message 2 from HQ, its welcome.  The frame handler of an
 * initiator's connection until it opens.
 */
static void
hs_initiator(struct node *n, struct conn *c, const uint8_t *p, size_t len)
{
	uint8_t payload[256];
	struct wire_welcome w;
	struct kerr e = { "" };
	size_t plen;

	if (noise_hs_read(c->hs, p, len, payload, sizeof(payload), &plen) != 0 ||
	    wire_welcome_decode(&w, payload, plen, &e) != 0) {
		conn_close(c, "handshake with HQ failed");
		return;
	}
	snprintf(c->peer, sizeof(c->peer), "HQ");
	if (c->enrolling)
		enrol_done(n);
	if (conn_open(c) != 0)
		conn_close(c, "cannot open the link");
}

/*
 * The hello may carry the enrolment secret: it lives in sodium_malloc'ed
 * memory and is wiped whatever happens (sodium_free).
 */
void
hs_initiate(struct node *n, struct conn *c)
{
	uint8_t out[512];
	struct wire_hello *hello = sodium_malloc(sizeof(*hello));
	struct buf b;
	size_t olen;

	buf_init_secret(&b, 512);
	if (hello == NULL) {
		conn_close(c, "out of memory");
		goto out;
	}
	if (hs_start(c, 1, n->cfg.hq_pk.enc) != 0) {
		conn_close(c, "cannot start handshake");
		goto out;
	}
	memset(hello, 0, sizeof(*hello));
	hello->version = WIRE_VERSION;
	snprintf(hello->name, sizeof(hello->name), "%s", n->cfg.name);
	hello->intent = WIRE_CONNECT;
	if (!n->cfg.enrolled && enrol_hello(n, c, hello) != 0)
		goto out;	/* closed, and said why */
	if (wire_hello_encode(&b, hello) != 0 ||
	    noise_hs_write(c->hs, b.p, b.len, out, sizeof(out), &olen) != 0 ||
	    conn_frame_put(c, out, olen) != 0) {
		conn_close(c, "handshake failed");
		goto out;
	}
	conn_flush(c);
out:
	buf_free(&b);
	sodium_free(hello);	/* wipes it first */
}
