/*
 * The local API server: requests from `koden -d NODEDIR ...` (api.h).
 * Requests that write wait for the loop's commit before they are answered,
 * so `koden send` returns only once the telegram is on disk.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "lib/log.h"
#include "node/admin.h"
#include "node/api.h"
#include "node/node_int.h"
#include "node/nodeaudit.h"
#include "node/receipt.h"
#include "telegram/envelope.h"

#define INBOX_MAX 500

/* Frame a reply: u32 length | u8 status | body. */
static int
frame(struct buf *out, int status, const struct buf *body)
{
	size_t len = 1 + (body ? body->len : 0);
	int r;

	buf_init(out, API_MSG_MAX + 4);
	if ((r = buf_put_u32(out, (uint32_t)len)) != 0 ||
	    (r = buf_put_u8(out, (uint8_t)(-status))) != 0)
		return r;
	return body ? buf_put(out, body->p, body->len) : 0;
}

static void
reply_now(struct conn *c, int status, const struct buf *body)
{
	struct buf out;

	if (frame(&out, status, body) == 0 &&
	    buf_put(&c->out, out.p, out.len) != 0)
		conn_close(c, "API reply too large");
	buf_free(&out);
}

static void
reply_err(struct conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
reply_err(struct conn *c, int status, const char *fmt, ...)
{
	char msg[512];
	struct buf b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_init(&b, 1024);
	if (buf_put_str16(&b, msg) == 0)
		reply_now(c, status ? status : KERR_INVALID, &b);
	buf_free(&b);
}

/* Answer after the commit. */
static void
reply_later(struct node *n, struct conn *c, const struct buf *body)
{
	struct buf out;

	if (frame(&out, 0, body) != 0 ||
	    node_pending_reply(n, c, &out) != 0)
		conn_close(c, "out of memory");
	buf_free(&out);
}

static void
api_send(struct node *n, struct conn *c, const uint8_t *p, size_t len)
{
	struct env_header *h = malloc(sizeof(*h));
	const struct roster_entry *officer;
	uint64_t seqs[TG_ADDRESSEES_MAX];
	uint8_t top = 0;
	struct kerr e = { "" };
	struct buf env, body;
	int ins = 0, r;

	buf_init(&env, ENV_MAX);
	buf_init(&body, 64);
	if (h == NULL || buf_put(&env, p, len) != 0) {
		reply_err(c, KERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = env_inspect(h, env.p, env.len, &e)) != 0) {
		reply_err(c, r, "%s", e.msg);
		goto out;
	}
	if (strcmp(h->origin, n->cfg.name) != 0) {
		reply_err(c, KERR_INVALID, "the telegram is FROM %s, but this "
		    "node is %s", h->origin, n->cfg.name);
		goto out;
	}
	officer = roster_find_key(&n->roster, h->origin_pk.enc);
	if (officer == NULL || officer->revoked ||
	    officer->kind != ROSTER_PERSON ||
	    strcmp(officer->post, n->cfg.name) != 0 ||
	    !pubkey_equal(&officer->pk, &h->origin_pk)) {
		reply_err(c, KERR_SIGNATURE, "the telegram was sealed with a "
		    "key that is not an officer of %s in the roster",
		    n->cfg.name);
		goto out;
	}
	for (size_t i = 0; i < h->n_addr; i++) {
		if (node_roster_site(n, h->addr[i].name) == NULL) {
			reply_err(c, KERR_INVALID, "unknown addressee %s: not "
			    "a post in the roster", h->addr[i].name);
			goto out;
		}
	}
	if ((r = node_txn(n, &e)) != 0)
		goto fail;
	/* already accepted (a retried send)?  Then it is numbered already. */
	{
		struct buf old;
		int found = 0;

		buf_init(&old, ENV_MAX);
		r = store_env_get(n->st, h->id, &old, &found, &e);
		buf_free(&old);
		if (r != 0)
			goto fail;
		if (found) {
			if (buf_put(&body, h->id, 16) == 0)
				reply_later(n, c, &body);
			goto out;
		}
	}
	for (size_t i = 0; i < h->n_addr; i++) {
		char key[64];

		snprintf(key, sizeof(key), "seq/%s", h->addr[i].name);
		if ((r = store_meta_incr(n->st, key, &seqs[i], &e)) != 0)
			goto fail;
	}
	if ((r = env_sign_origin(&env, seqs, h->n_addr, n->key, &e)) != 0 ||
	    (r = env_parse(h, env.p, env.len, &e)) != 0 ||
	    (r = store_env_put(n->st, h->id, h->origin, (uint64_t)time(NULL),
	    env.p, env.len, &ins, &e)) != 0)
		goto fail;
	for (size_t i = 0; i < h->n_addr; i++) {
		struct store_qitem it;
		uint8_t prec = h->addr[i].role == ENV_ACTION ? h->prec_action :
		    h->prec_info;
		const char *dest = h->addr[i].name;

		if (prec > top)
			top = prec;
		if ((r = store_status_set(n->st, h->id, dest,
		    n->cfg.role == ROLE_HQ ? STORE_AT_HQ : STORE_QUEUED,
		    (uint64_t)time(NULL), &e)) != 0)
			goto fail;
		if (n->cfg.role != ROLE_HQ)
			continue;
		memset(&it, 0, sizeof(it));
		it.kind = STORE_Q_TELEGRAM;
		memcpy(it.id, h->id, 16);
		it.prec = prec;
		if (strcmp(dest, n->cfg.name) == 0)
			continue;	/* HQ's own copy is the stored envelope */
		if ((r = store_q_put(n->st, dest, &it, &e)) != 0)
			goto fail;
		node_mark_dirty(n, dest);
	}
	if (n->cfg.role != ROLE_HQ) {
		struct store_qitem it;

		memset(&it, 0, sizeof(it));
		it.kind = STORE_Q_TELEGRAM;
		memcpy(it.id, h->id, 16);
		it.prec = top;
		if ((r = store_q_put(n->st, HQ_LINK, &it, &e)) != 0)
			goto fail;
		node_mark_dirty(n, HQ_LINK);
	}
	log_info("accepted telegram for %u addressee(s)", h->n_addr);
	{
		char hex[TG_ID_HEX];

		tg_id_hex(hex, h->id);
		naudit_event(n->audit, officer->name, c->who, "release", hex,
		    "ok", "numbered and queued for %u addressee(s)",
		    h->n_addr);
	}
	if (buf_put(&body, h->id, 16) == 0)
		reply_later(n, c, &body);
	goto out;
fail:
	log_err("send: %s", e.msg);
	reply_err(c, r ? r : KERR_IO, "cannot store the telegram: %s", e.msg);
out:
	free(h);
	buf_free(&env);
	buf_free(&body);
}

/* Resolve a hex prefix from the request body (str8). */
static int
find_id(struct node *n, struct conn *c, const uint8_t *p, size_t len,
    uint8_t id[static 16])
{
	struct kerr e = { "" };
	struct rd rd;
	char *prefix = NULL;
	int found = 0;

	rd_init(&rd, p, len);
	if (rd_str8(&rd, &prefix) != 0) {
		reply_err(c, KERR_FORMAT, "malformed request");
		return -1;
	}
	if (store_env_find(n->st, prefix, id, &found, &e) != 0 || found != 1) {
		reply_err(c, KERR_INVALID, found == 2 ? "'%s' matches more than "
		    "one telegram: give more digits (an id begins with the time "
		    "it was sealed)" : e.msg[0] ? "%s" :
		    "no telegram with id '%s' here", e.msg[0] ? e.msg : prefix);
		free(prefix);
		return -1;
	}
	free(prefix);
	return 0;
}

static void
api_status(struct node *n, struct conn *c, const uint8_t *p, size_t len)
{
	struct store_status *st = NULL;
	struct kerr e = { "" };
	uint8_t id[16];
	size_t k = 0;
	struct buf b;

	if (find_id(n, c, p, len, id) != 0)
		return;
	buf_init(&b, 1u << 20);
	if (store_status_get(n->st, id, &st, &k, &e) != 0) {
		reply_err(c, KERR_IO, "%s", e.msg);
		goto out;
	}
	if (buf_put(&b, id, 16) != 0 || buf_put_u16(&b, (uint16_t)k) != 0)
		goto out;
	for (size_t i = 0; i < k; i++)
		if (buf_put_str8(&b, st[i].dest) != 0 ||
		    buf_put_u8(&b, st[i].state) != 0 ||
		    buf_put_u64(&b, st[i].time) != 0)
			goto out;
	reply_now(c, 0, &b);
out:
	free(st);
	buf_free(&b);
}

/* Open an envelope with the node's key; *t NULL if not addressed to it. */
static int
node_open_env(struct node *n, const struct buf *env, struct tg **t,
    struct pubkey *drafter, struct env_header *h, struct kerr *e)
{
	int r = env_open(t, drafter, h, env->p, env->len, n->key, e);

	return r == KERR_NOT_RECIPIENT ? 0 : r;
}

static void
api_inbox(struct node *n, struct conn *c)
{
	struct store_inbox *ib = NULL;
	struct env_header *h = malloc(sizeof(*h));
	struct kerr e = { "" };
	struct buf b, env;
	size_t k = 0;

	buf_init(&b, API_MSG_MAX - 16);
	buf_init(&env, ENV_MAX);
	if (h == NULL || store_inbox_list(n->st, INBOX_MAX + 1, &ib, &k,
	    &e) != 0) {
		reply_err(c, KERR_IO, "%s", e.msg[0] ? e.msg : "out of memory");
		goto out;
	}
	/* u16 shown, u8 1 if there are more than shown */
	if (buf_put_u16(&b, (uint16_t)(k > INBOX_MAX ? INBOX_MAX : k)) != 0 ||
	    buf_put_u8(&b, k > INBOX_MAX) != 0)
		goto out;
	if (k > INBOX_MAX)
		k = INBOX_MAX;
	for (size_t i = 0; i < k; i++) {
		struct tg *t = NULL;
		struct pubkey d;
		char caption[64] = "";
		int found = 0;

		env.len = 0;
		if (store_env_get(n->st, ib[i].id, &env, &found, &e) == 0 &&
		    found) {
			char hex[TG_ID_HEX];
			int r = node_open_env(n, &env, &t, &d, h, &e);

			struct kerr ae = { "" };

			tg_id_hex(hex, ib[i].id);
			/* its subject is shown: recorded first, or nothing is */
			if ((r != 0 || t != NULL) && naudit_record(n->audit,
			    &ae, "kodend", c->who, "decrypt", hex, r ? "fail" :
			    "ok", "for the inbox listing (subject, captions)"
			    "%s%s", r ? ": " : "", r ? e.msg : "") != 0) {
				log_err("audit: %s", ae.msg);
				reply_err(c, KERR_IO, "not shown: the audit log "
				    "cannot be written: %s", ae.msg);
				tg_free(t);
				goto out;
			}
		}
		if (t != NULL)
			for (size_t j = 0; j < t->captions.n; j++)
				snprintf(caption + strlen(caption),
				    sizeof(caption) - strlen(caption), "%s%s",
				    j ? " " : "", t->captions.v[j]);
		if (buf_put(&b, ib[i].id, 16) != 0 ||
		    buf_put_str8(&b, ib[i].origin) != 0 ||
		    buf_put_u8(&b, ib[i].prec) != 0 ||
		    buf_put_u64(&b, ib[i].dtg) != 0 ||
		    buf_put_u64(&b, ib[i].received) != 0 ||
		    buf_put_u64(&b, ib[i].read_at) != 0 ||
		    buf_put_u8(&b, t != NULL) != 0 ||
		    buf_put_str8(&b, t ? t->classification : "") != 0 ||
		    buf_put_str8(&b, caption) != 0 ||
		    buf_put_str16(&b, t ? t->subject : "") != 0) {
			tg_free(t);
			goto out;
		}
		tg_free(t);
	}
	reply_now(c, 0, &b);
out:
	free(ib);
	free(h);
	buf_free(&b);
	buf_free(&env);
}

static int
mark_read(struct node *n, const uint8_t id[static 16], const struct buf *env,
    struct kerr *e)
{
	struct env_header *h = malloc(sizeof(*h));
	uint8_t hash[32];
	int first, r;

	if (h == NULL)
		return KERR_NOMEM;
	if ((r = node_txn(n, e)) != 0 ||
	    (r = store_inbox_mark_read(n->st, id, (uint64_t)time(NULL), &first,
	    e)) != 0)
		goto out;
	/* the READ receipt goes once, on the first read (it is queued:
	 * delivered however long the origin is away) */
	if (!first || (r = env_inspect(h, env->p, env->len, e)) != 0)
		goto out;
	receipt_env_hash(hash, env->p, env->len);
	if (strcmp(h->origin, n->cfg.name) != 0) {
		uint8_t prec = TG_IMMEDIATE;

		for (size_t i = 0; i < h->n_addr; i++)
			if (strcmp(h->addr[i].name, n->cfg.name) == 0)
				prec = h->addr[i].role == ENV_ACTION ?
				    h->prec_action : h->prec_info;
		r = node_queue_receipt(n, id, h->origin, RECEIPT_READ, prec,
		    hash, e);
	}
out:
	free(h);
	return r;
}

static void
api_read(struct node *n, struct conn *c, const uint8_t *p, size_t len)
{
	struct env_header *h = malloc(sizeof(*h));
	struct tg *t = NULL;
	struct pubkey d;
	struct kerr e = { "" };
	struct buf env, txt, b;
	uint8_t id[16];
	int found = 0, to_file, r;

	buf_init(&env, ENV_MAX);
	buf_init_secret(&txt, 4u << 20);
	buf_init_secret(&b, API_MSG_MAX - 16);
	if (h == NULL || find_id(n, c, p, len, id) != 0)
		goto out;
	/* str8 id prefix, then u8 1 if the client writes the text to a file */
	to_file = len >= 2 && len == 1 + (size_t)p[0] + 1 && p[len - 1] != 0;
	if ((r = store_env_get(n->st, id, &env, &found, &e)) != 0 || !found) {
		reply_err(c, KERR_IO, "%s", e.msg);
		goto out;
	}
	r = node_open_env(n, &env, &t, &d, h, &e);
	{
		/* recorded before anything is shown, or nothing is */
		char hex[TG_ID_HEX];
		struct kerr ae = { "" };

		tg_id_hex(hex, id);
		if (naudit_record(n->audit, &ae, "kodend", c->who, t != NULL ?
		    "decrypt" : "fetch", hex, r ? "fail" : "ok", "%s%s",
		    r ? e.msg : t != NULL ? "for koden read, text to " :
		    "the envelope handed to the client (captioned: opens only "
		    "with a named person's key)", r || t == NULL ? "" :
		    to_file ? "file" : "screen") != 0) {
			log_err("audit: %s", ae.msg);
			reply_err(c, KERR_IO, "not shown: the audit log cannot "
			    "be written: %s", ae.msg);
			goto out;
		}
	}
	if (r != 0) {
		reply_err(c, r, "%s", e.msg);
		goto out;
	}
	if (t == NULL) {
		/* NODIS and the like: the officer opens it with their key */
		if (buf_put_u8(&b, API_READ_ENVELOPE) == 0 &&
		    buf_put(&b, id, 16) == 0 && buf_put(&b, env.p, env.len) == 0)
			reply_now(c, 0, &b);
		goto out;
	}
	if ((r = tg_render(t, &txt)) != 0 || (r = mark_read(n, id, &env,
	    &e)) != 0) {
		reply_err(c, r, "%s", e.msg[0] ? e.msg : kerr_str(r));
		goto out;
	}
	if (buf_put_u8(&b, API_READ_OPENED) != 0 ||
	    buf_put_bytes32(&b, txt.p, txt.len) != 0 ||
	    buf_put(&b, d.sign, 32) != 0 || buf_put(&b, d.enc, 32) != 0 ||
	    buf_put(&b, h->origin_pk.sign, 32) != 0 ||
	    buf_put(&b, h->origin_pk.enc, 32) != 0 ||
	    buf_put_str8(&b, t->drafter) != 0)
		goto out;
	reply_later(n, c, &b);	/* after mark_read's commit */
out:
	tg_free(t);
	free(h);
	buf_free(&env);
	buf_free(&txt);
	buf_free(&b);
}

static void
api_mark_read(struct node *n, struct conn *c, const uint8_t *p, size_t len)
{
	struct kerr e = { "" };
	struct buf env, b;
	int found = 0, r;

	buf_init(&env, ENV_MAX);
	buf_init(&b, 16);
	if (len != 16) {
		reply_err(c, KERR_FORMAT, "malformed request");
		goto out;
	}
	if ((r = store_env_get(n->st, p, &env, &found, &e)) != 0 || !found ||
	    (r = mark_read(n, p, &env, &e)) != 0) {
		reply_err(c, r ? r : KERR_INVALID, "%s", e.msg[0] ? e.msg :
		    "no such telegram");
		goto out;
	}
	reply_later(n, c, &b);
out:
	buf_free(&env);
	buf_free(&b);
}

static void
api_alerts(struct node *n, struct conn *c, const uint8_t *p, size_t len)
{
	struct store_alert *a = NULL;
	struct kerr e = { "" };
	uint64_t after = 0;
	size_t k = 0;
	struct rd rd;
	struct buf b;

	rd_init(&rd, p, len);
	if (rd_u64(&rd, &after) != 0) {
		reply_err(c, KERR_FORMAT, "malformed request");
		return;
	}
	buf_init(&b, API_MSG_MAX - 16);
	if (store_alert_list(n->st, after, &a, &k, &e) != 0) {
		reply_err(c, KERR_IO, "%s", e.msg);
		goto out;
	}
	if (k > 10000)
		k = 10000;
	if (buf_put_u16(&b, (uint16_t)k) != 0)
		goto out;
	for (size_t i = 0; i < k; i++)
		if (buf_put_u64(&b, a[i].n) != 0 ||
		    buf_put_u64(&b, a[i].time) != 0 ||
		    buf_put_str8(&b, a[i].kind) != 0 ||
		    buf_put_str8(&b, a[i].origin) != 0 ||
		    buf_put_str16(&b, a[i].detail) != 0)
			goto out;
	reply_now(c, 0, &b);
out:
	free(a);
	buf_free(&b);
}

/* A line of text into b; a full buffer just ends the report. */
static void
say(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct buf *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (k > 0 && buf_put(b, line, strlen(line)) != 0)
		return;
}

static uint64_t
queued(struct node *n, const char *link)
{
	struct kerr e = { "" };
	uint64_t q = 0;

	if (store_q_count(n->st, link, &q, &e) != 0)
		log_err("queue %s: %s", link, e.msg);
	return q;
}

static void
api_node_status(struct node *n, struct conn *c)
{
	struct buf b;

	buf_init(&b, 1u << 20);
	say(&b, "%s %s, roster version %llu\n",
	    n->cfg.role == ROLE_HQ ? "HQ" : "post", n->cfg.name,
	    (unsigned long long)n->roster.version);
	if (n->cfg.role == ROLE_POST)
		say(&b, "link to HQ: %s, %llu queued\n",
		    n->hq && n->hq->state == CONN_OPEN ? "up" : "down",
		    (unsigned long long)queued(n, HQ_LINK));
	for (size_t i = 0; n->cfg.role == ROLE_HQ && i < n->roster.n; i++) {
		const struct roster_entry *re = &n->roster.v[i];
		int up = 0;

		if (re->kind != ROSTER_POST)
			continue;
		for (struct conn *o = n->conns; o; o = o->next)
			up |= o->kind == CONN_PEER && o->state == CONN_OPEN &&
			    strcmp(o->peer, re->name) == 0;
		say(&b, "post %s: %s%s, %llu queued\n", re->name,
		    up ? "up" : "down", re->revoked ? " (revoked)" : "",
		    (unsigned long long)queued(n, re->name));
	}
	reply_now(c, 0, &b);
	buf_free(&b);
}

void
api_handle(struct node *n, struct conn *c, const uint8_t *req, size_t len)
{
	struct kerr e = { "" };
	const uint8_t *p = req + 1;
	size_t plen = len - 1;
	struct buf b;

	switch (req[0]) {
	case API_SEND:
		api_send(n, c, p, plen);
		break;
	case API_ROSTER:
		if (!n->have_roster) {
			reply_err(c, KERR_INVALID, "this node has no roster yet: "
			    "is it enrolled and has it reached HQ?");
			break;
		}
		reply_now(c, 0, &n->roster_blob);
		break;
	case API_SERIAL: {
		uint64_t v;

		buf_init(&b, 16);
		if (node_txn(n, &e) != 0 ||
		    store_meta_incr(n->st, "serial", &v, &e) != 0 ||
		    buf_put_u64(&b, v) != 0)
			reply_err(c, KERR_IO, "%s", e.msg);
		else
			reply_later(n, c, &b);
		buf_free(&b);
		break;
	}
	case API_STATUS:
		api_status(n, c, p, plen);
		break;
	case API_INBOX:
		api_inbox(n, c);
		break;
	case API_READ:
		api_read(n, c, p, plen);
		break;
	case API_MARK_READ:
		api_mark_read(n, c, p, plen);
		break;
	case API_ALERTS:
		api_alerts(n, c, p, plen);
		break;
	case API_RELOAD:
		buf_init(&b, 16);
		if (node_reload_roster(n, &e) != 0)
			reply_err(c, KERR_IO, "%s", e.msg);
		else
			reply_now(c, 0, &b);
		buf_free(&b);
		break;
	case API_STATUS_NODE:
		api_node_status(n, c);
		break;
	default:
		reply_err(c, KERR_INVALID, "unknown request %u", req[0]);
	}
}
