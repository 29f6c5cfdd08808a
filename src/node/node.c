/*
 * kodend: the node daemon.  One epoll loop per node serves:
 *   - peers over Noise IK (HQ listens, posts dial HQ),
 *   - the local API for `koden -d NODEDIR ...` (nodeapi.c),
 *   - signals (signalfd) and timers (the loop's timeout).
 *
 * Durability: a message that must survive a crash is written inside the
 * loop turn's transaction; node_commit() commits it without waiting for the
 * disk, and its acknowledgement (or API reply) waits in n->pend until the
 * store's fsync thread says that commit is durable (node_release()).  Many
 * telegrams share one commit, and commits share fsyncs: the group commit.
 * Forwarding waits the same way: pump() sends only queue items up to the
 * ord of the last durable commit (n->q_sendable).
 *
 * Delivery: every outgoing item (telegram or receipt) sits in the store's
 * queue for its link (the peer's name; "@hq" on a post) until the peer
 * acknowledges it, so a crash at any moment loses nothing acknowledged and,
 * thanks to idempotent ids and the post's SYNC, duplicates nothing.
 */
#define _GNU_SOURCE	/* accept4, struct ucred */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/log.h"
#include "lib/thread.h"
#include "node/admin.h"
#include "node/api.h"
#include "audit/ship.h"
#include "node/node.h"
#include "node/nodeaudit.h"
#include "node/receipt.h"
#include "node/token.h"
#include "telegram/envelope.h"

#define EV_LISTEN 1
#define EV_API 2
#define EV_SIG 3
#define EV_CONN 4
#define EV_AUDIT 5
#define EV_SYNC 6
#define AUDIT_SHIP_MAX 1024	/* entries per batch to HQ */
#define AUDIT_SHIP_GAP_MS 100	/* between two batches, at least */
#define AUDIT_BCAST_MS 10000	/* HQ sends its head to every post this often */
#define HQ_LINK "@hq"
#define TICK_MS 1000

uint64_t
node_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
now_s(void)
{
	return (uint64_t)time(NULL);
}

/* ---- alerts ------------------------------------------------------------ */

void
node_alert(struct node *n, const char *kind, const char *origin,
    const char *fmt, ...)
{
	char detail[256];
	struct kerr e = { "" };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_warn("ALERT %s from %s: %s", kind, origin ? origin : "-", detail);
	naudit_event(n->audit, "kodend", origin ? origin : "-", "alert", kind,
	    "ok", "%s", detail);
	if (node_txn(n, &e) != 0 ||
	    store_alert_add(n->st, kind, origin ? origin : "", detail, now_s(),
	    &e) != 0)
		log_err("cannot record alert: %s", e.msg);
}

/*
 * The configuration kodend runs with, as a hash in its start event: a
 * change to kodend.conf between two starts shows in the audit log.
 */
static void
config_hash(const struct node *n, char hex[static 65])
{
	uint8_t h[crypto_hash_sha256_BYTES], chunk[4096];
	crypto_hash_sha256_state st;
	char path[PATH_MAX];
	size_t k;
	FILE *f;

	snprintf(hex, 65, "unreadable");
	if (node_path(path, sizeof(path), n->dir, CONFIG_FILE) != 0 ||
	    (f = fopen(path, "rb")) == NULL)
		return;
	crypto_hash_sha256_init(&st);
	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		crypto_hash_sha256_update(&st, chunk, k);
	fclose(f);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, 65, h, sizeof(h));
	sodium_memzero(chunk, sizeof(chunk));	/* join_secret lives there */
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

static void conn_flush(struct conn *c);

/* ---- transactions and the group commit ---------------------------------- */

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

static int
pending_ack(struct node *n, struct conn *c, const struct wire_ack *a)
{
	struct pending *p = pending_new(n);

	if (p == NULL)
		return KERR_NOMEM;
	p->c = c;
	p->kind = 1;
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
	p->kind = 2;
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
		char (*d)[33] = realloc(n->dirty, cap * sizeof(*d));

		if (d == NULL)
			return;	/* the next tick pumps every link anyway */
		n->dirty = d;
		n->cap_dirty = cap;
	}
	snprintf(n->dirty[n->n_dirty++], 33, "%s", link);
}

static void conn_send_msg(struct conn *c, uint8_t type, uint8_t prec,
    const uint8_t *p, size_t len);

node_relay_hook node_test_relay_hook;
static void pump(struct node *n, const char *link);

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
	if (p->kind == 1) {
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

static void
pending_drop_all(struct node *n)
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
static void
node_release(struct node *n)
{
	uint64_t durable = store_durable(n->st);
	size_t k = 0, keep = 0;

	if (store_sync_failed(n->st)) {
		if (n->stopping != 2)
			log_err("the store's log cannot be synced to disk, "
			    "stopping");
		n->stopping = 2;
		pending_drop_all(n);
		return;
	}
	while (n->n_ords > 0 && n->ords[0].commit <= durable) {
		n->q_sendable = n->ords[0].ord;
		memmove(n->ords, n->ords + 1, --n->n_ords * sizeof(n->ords[0]));
	}
	while (k < n->pend_tagged && n->pend[k].commit <= durable)
		pending_send(&n->pend[k++]);
	if (k > 0) {
		memmove(n->pend, n->pend + k, (n->n_pend - k) * sizeof(*n->pend));
		n->n_pend -= k;
		n->pend_tagged -= k;
	}
	for (size_t i = 0; i < n->n_wait; i++) {
		struct waitlink w = n->wait[i];

		if (w.first <= durable)
			pump(n, w.link);
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
static int
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
			n->stopping = 2;
			pending_drop_all(n);
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
	return n->stopping == 2 ? -1 : 0;
}

/*
 * Commit, and wait until everything committed is on disk (rare paths that
 * tell a peer about the store's state: a new roster, a post's SYNC).
 */
static int
node_durable(struct node *n)
{
	struct kerr e = { "" };

	if (node_commit(n) != 0)
		return -1;
	if (store_wait_durable(n->st, store_last_commit(n->st), &e) != 0) {
		log_err("%s", e.msg);
		n->stopping = 2;
		return -1;
	}
	node_release(n);
	return 0;
}

/* Commit early when a turn has written many messages. */
static void
node_count_msg(struct node *n)
{
	if (++n->txn_msgs >= NODE_TXN_MAX)
		(void)node_commit(n);
}

/* ---- connections ---------------------------------------------------------- */

static void
ev_set(struct conn *c, uint32_t want)
{
	struct epoll_event ev;

	if (c->state == CONN_DEAD || c->want == want)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(c->node->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want = want;
}

static struct conn *
conn_new(struct node *n, int fd, int kind)
{
	struct epoll_event ev;
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->ev_kind = EV_CONN;
	c->node = n;
	c->fd = fd;
	c->kind = kind;
	c->last_rx = node_now_ms();
	buf_init(&c->in, kind == CONN_API ? API_MSG_MAX + 4 : CONN_IN_MAX);
	buf_init(&c->out, kind == CONN_API ? API_MSG_MAX + 4 :
	    (CONN_OUT_HIGH + 2 * (WIRE_FRAME_MAX + 2)));
	wire_rx_init(&c->wrx);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		buf_free(&c->in);
		buf_free(&c->out);
		free(c);
		return NULL;
	}
	c->want = EPOLLIN;
	c->next = n->conns;
	n->conns = c;
	return c;
}

void
conn_close(struct conn *c, const char *why)
{
	struct node *n = c->node;

	if (c->state == CONN_DEAD)
		return;
	if (c->kind == CONN_PEER)
		log_info("link %s closed: %s", c->peer[0] ? c->peer : "(unknown)",
		    why);
	epoll_ctl(n->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = CONN_DEAD;
	if (n->hq == c) {
		n->hq = NULL;
		n->audit_inflight = 0;
		n->dial_at = node_now_ms() + (uint64_t)n->backoff * 1000;
		n->backoff = n->backoff ? 2 * n->backoff : 1;
		if (n->backoff > n->cfg.retry_max)
			n->backoff = n->cfg.retry_max;
	}
}

static void
conn_free(struct conn *c)
{
	struct outmsg *m, *next;

	if (c->hs != NULL) {
		noise_hs_wipe(c->hs);
		sodium_free(c->hs);
	}
	noise_cs_wipe(&c->tx);
	noise_cs_wipe(&c->rx);
	for (m = c->q; m != NULL; m = next) {
		next = m->next;
		buf_free(&m->data);
		free(m);
	}
	wire_rx_free(&c->wrx);
	wire_sync_free(&c->sync);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->fl);
	free(c);
}

static void
reap(struct node *n)
{
	struct conn **pp = &n->conns;

	while (*pp != NULL) {
		struct conn *c = *pp;

		if (c->state == CONN_DEAD) {
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
			keep = 0;
			for (size_t i = 0; i < n->n_aq; i++) {
				if (n->aq[i].c == c)
					buf_free(&n->aq[i].msg);
				else
					n->aq[keep++] = n->aq[i];
			}
			n->n_aq = keep;
			*pp = c->next;
			conn_free(c);
		} else
			pp = &c->next;
	}
}

/* Append one framed Noise message. */
static int
frame_put(struct conn *c, const uint8_t *p, size_t len)
{
	int r;

	if ((r = buf_put_u16(&c->out, (uint16_t)len)) != 0)
		return r;
	return buf_put(&c->out, p, len);
}

static void
conn_send_msg(struct conn *c, uint8_t type, uint8_t prec, const uint8_t *p,
    size_t len)
{
	struct outmsg *m, **pp;

	if (c->state == CONN_DEAD)
		return;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	m->type = type;
	m->prec = prec;
	m->stream = ++c->next_stream;
	buf_init(&m->data, WIRE_MSG_MAX);
	if (buf_put(&m->data, p, len) != 0) {
		free(m);
		conn_close(c, "message too large");
		return;
	}
	for (pp = &c->q; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = m;
}

void
node_send_raw(struct conn *c, uint8_t type, uint8_t prec, const uint8_t *p,
    size_t len)
{
	conn_send_msg(c, type, prec, p, len);
}

/*
 * Fill the socket: the highest-precedence message first (FIFO within a
 * precedence), one record of at most WIRE_CHUNK bytes at a time, so a
 * FLASH telegram overtakes a large ROUTINE one mid-transfer.
 */
static void
conn_flush(struct conn *c)
{
	static uint8_t rec[WIRE_REC_HDR + WIRE_CHUNK], ct[WIRE_FRAME_MAX];

	if (c->state == CONN_DEAD)
		return;
	while (c->kind == CONN_PEER && c->state == CONN_OPEN && c->q != NULL &&
	    c->out.len < CONN_OUT_HIGH) {
		struct outmsg *best = c->q, **bp = &c->q, **pp;
		struct buf hdr;
		size_t chunk;
		uint8_t fin;

		for (pp = &c->q; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->prec > best->prec) {
				best = *pp;
				bp = pp;
			}
		chunk = best->data.len - best->off;
		if (chunk > WIRE_CHUNK)
			chunk = WIRE_CHUNK;
		fin = best->off + chunk == best->data.len ? WIRE_FIN : 0;
		buf_init(&hdr, WIRE_REC_HDR);
		if (wire_rec_header(&hdr, best->type, best->prec, best->stream,
		    fin) != 0) {
			buf_free(&hdr);
			conn_close(c, "out of memory");
			return;
		}
		memcpy(rec, hdr.p, WIRE_REC_HDR);
		buf_free(&hdr);
		if (chunk)
			memcpy(rec + WIRE_REC_HDR, best->data.p + best->off, chunk);
		if (noise_cs_encrypt(&c->tx, NULL, 0, rec, WIRE_REC_HDR + chunk,
		    ct) != 0 ||
		    frame_put(c, ct, WIRE_REC_HDR + chunk + NOISE_TAGLEN) != 0) {
			conn_close(c, "cannot encrypt");
			return;
		}
		best->off += chunk;
		if (fin) {
			*bp = best->next;
			buf_free(&best->data);
			free(best);
		}
	}
	while (c->out.len > 0) {
		ssize_t w = write(c->fd, c->out.p, c->out.len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			conn_close(c, w < 0 ? strerror(errno) : "peer closed");
			return;
		}
		memmove(c->out.p, c->out.p + w, c->out.len - (size_t)w);
		c->out.len -= (size_t)w;
		c->node->stat_out += (size_t)w;
	}
	ev_set(c, EPOLLIN | (c->out.len > 0 || (c->q != NULL &&
	    c->state == CONN_OPEN) ? EPOLLOUT : 0));
}

/* ---- in-flight bookkeeping --------------------------------------------- */

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
	return 0;
}

static void
fl_del(struct conn *c, int i)
{
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

/* The per-destination sequence number the envelope carries for dest. */
static uint64_t
env_seq_for(const struct env_header *h, const char *dest, uint8_t *prec)
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
static void
pump(struct node *n, const char *link)
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
			    (seq = env_seq_for(h, link, &prec)) != 0 &&
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

/* ---- receipts ------------------------------------------------------------ */

/*
 * Route a receipt this node holds (already stored) toward origin.  It
 * travels at the telegram's precedence for its signer, so the receipt of a
 * FLASH telegram does not wait behind those of a ROUTINE backlog.
 */
static int
route_receipt(struct node *n, const uint8_t id[static 16], const char *origin,
    const char *by, uint8_t state, uint8_t prec, struct kerr *e)
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
	    (r = route_receipt(n, id, origin, n->cfg.name, state, prec, e)) != 0)
		goto out;
out:
	buf_free(&b);
	return r;
}

/* ---- delivery to this node (a post, or HQ as an addressee) -------------- */

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
static int
deliver_local(struct node *n, const struct env_header *h, const uint8_t *env,
    size_t len, int relayed, struct wire_ack *ack, struct kerr *e)
{
	uint8_t prec = 0, prev[16], hash[32];
	uint64_t seq, later = 0;
	struct store_inbox ib;
	struct buf old;
	int found = 0, dup = 0, ins, r;

	buf_init(&old, ENV_MAX);
	seq = env_seq_for(h, n->cfg.name, &prec);
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

/* ---- handling messages from peers ---------------------------------------- */

static const struct roster_entry *
roster_site(const struct node *n, const char *name)
{
	const struct roster_entry *re = roster_find(&n->roster, name);

	if (re == NULL || re->revoked ||
	    (re->kind != ROSTER_POST && re->kind != ROSTER_HQ))
		return NULL;
	return re;
}

/*
 * A telegram arrived on c (HQ: from its origin post; post: from HQ), and
 * env_inspect has already been run on it (vq_flush): r and ke are its
 * result, h its header.  h is the caller's.
 */
static void
on_telegram(struct node *n, struct conn *c, struct buf *msg,
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
	re = roster_site(n, h->origin);
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
			if (roster_site(n, h->addr[i].name) == NULL) {
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

				if ((r = deliver_local(n, h, msg->p, msg->len,
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

		if (env_seq_for(h, n->cfg.name, &prec) == 0 &&
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
		if ((r = deliver_local(n, h, msg->p, msg->len, 0, &ack, &e)) != 0)
			goto fail;
	}
	n->stat_in++;
	c->audit_traffic++;
	node_count_msg(n);
ack:
	if (pending_ack(n, c, &ack) != 0)
		conn_close(c, "out of memory");
	return;
fail:
	log_err("storing telegram from %s: %s", c->peer, e.msg);
	n->stopping = 2;
}

/* ---- checking signatures on both cores ----------------------------------- */

struct verifier {
	pthread_t t;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	struct vitem *items;
	size_t next, end;	/* items [next, end) not yet claimed */
	int busy;		/* a batch is posted */
	int taken;		/* ... and the worker is working on it */
	int quit;
};

static void
vcheck(struct vitem *v, size_t a, size_t b)
{
	for (size_t i = a; i < b; i++) {
		v[i].ke.msg[0] = '\0';
		v[i].r = v[i].h == NULL ? KERR_NOMEM :
		    env_inspect(v[i].h, v[i].msg.p, v[i].msg.len, &v[i].ke);
	}
}

/*
 * Check items until none is left unclaimed: the loop and the worker both
 * run this on one batch, so neither waits for the other longer than one
 * check, and if the worker does not get a CPU at all the loop does the
 * whole batch itself.
 */
static void
vshare(struct vitem *v, size_t *next, size_t end)
{
	size_t i;

	while ((i = __atomic_fetch_add(next, 1, __ATOMIC_RELAXED)) < end)
		vcheck(v, i, i + 1);
}

static void *
verifier_main(void *arg)
{
	struct verifier *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->busy && !w->quit)
			pthread_cond_wait(&w->go, &w->mu);
		if (w->quit)
			break;
		w->taken = 1;
		pthread_mutex_unlock(&w->mu);
		vshare(w->items, &w->next, w->end);
		pthread_mutex_lock(&w->mu);
		w->busy = w->taken = 0;
		pthread_cond_signal(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void
verifier_start(struct node *n)
{
	struct verifier *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return;		/* then the loop thread checks everything */
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->go, NULL);
	pthread_cond_init(&w->done, NULL);
	if (thread_start(&w->t, verifier_main, w, "kodend-verify") != 0) {
		free(w);
		return;
	}
	n->ver = w;
}

static void
verifier_stop(struct node *n)
{
	struct verifier *w = n->ver;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_signal(&w->go);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->t, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->go);
	pthread_cond_destroy(&w->done);
	free(w);
	n->ver = NULL;
}

/*
 * Check the origin signatures of the telegrams this turn received, shared
 * between the worker and this thread (vshare), then handle them in arrival
 * order (so FIFO per link and the group commit are as if they had been
 * handled one by one).
 */
static void
vq_flush(struct node *n)
{
	struct verifier *w = n->ver;
	struct vitem *v = n->vq;
	size_t k = n->n_vq;
	int urgent = 0;

	if (k == 0)
		return;
	if (w != NULL && k >= 2) {
		pthread_mutex_lock(&w->mu);
		w->items = v;
		w->next = 0;
		w->end = k;
		w->busy = 1;
		w->taken = 0;
		pthread_cond_signal(&w->go);
		pthread_mutex_unlock(&w->mu);
		vshare(v, &w->next, k);
		pthread_mutex_lock(&w->mu);
		if (!w->taken)
			w->busy = 0;	/* it never started: nothing to wait for */
		while (w->busy)
			pthread_cond_wait(&w->done, &w->mu);
		pthread_mutex_unlock(&w->mu);
	} else
		vcheck(v, 0, k);
	n->n_vq = 0;	/* before handling: a handler may not re-enter */
	/*
	 * Highest precedence first, arrival order within one: a FLASH that
	 * came in behind a window of ROUTINE telegrams is stored and acked
	 * (and its receipt made) before them.  Accounting allows this: a
	 * higher precedence may overtake.
	 */
	for (int prec = TG_FLASH; prec >= 0; prec--) {
		for (size_t i = 0; i < k; i++) {
			int p = v[i].prec >= TG_ROUTINE &&
			    v[i].prec <= TG_FLASH ? v[i].prec : 0;

			if (p != prec)
				continue;
			if (v[i].c->state != CONN_DEAD && v[i].h != NULL &&
			    !n->stopping) {
				on_telegram(n, v[i].c, &v[i].msg, v[i].h,
				    v[i].r, &v[i].ke);
				urgent |= prec >= TG_IMMEDIATE;
			}
			buf_free(&v[i].msg);
			free(v[i].h);
		}
		/*
		 * FLASH and IMMEDIATE are committed before the turn's lower
		 * precedences are even stored: their acknowledgements, their
		 * forwarding and their inbox entries wait for one fsync of
		 * their own, not for the ROUTINE telegrams read with them.
		 */
		if (prec == TG_IMMEDIATE && urgent)
			(void)node_commit(n);
	}
}

/* Keep a telegram for this turn's signature checks. */
static void
vq_push(struct node *n, struct conn *c, uint8_t prec, const struct buf *msg)
{
	struct vitem *v;

	if (n->vq == NULL &&
	    (n->vq = calloc(NODE_VQ_MAX, sizeof(*n->vq))) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	v = &n->vq[n->n_vq];
	memset(v, 0, sizeof(*v));
	v->c = c;
	v->prec = prec;
	v->h = malloc(sizeof(*v->h));
	buf_init(&v->msg, WIRE_MSG_MAX);
	if (v->h == NULL || buf_put(&v->msg, msg->p, msg->len) != 0) {
		free(v->h);
		buf_free(&v->msg);
		conn_close(c, "out of memory");
		return;
	}
	if (++n->n_vq == NODE_VQ_MAX)
		vq_flush(n);
}

/*
 * A receipt arrived (HQ: from the addressee; post: from HQ, for us), in a
 * message of precedence prec.
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
	re = roster_site(n, rc.by);
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
		r = route_receipt(n, rc.id, rc.origin, rc.by, rc.state, prec, &e);
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
	if (pending_ack(n, c, &ack) != 0)
		conn_close(c, "out of memory");
	return;
fail:
	log_err("storing receipt from %s: %s", c->peer, e.msg);
	n->stopping = 2;
}

static void
on_ack(struct node *n, struct conn *c, struct buf *msg)
{
	const char *link = n->cfg.role == ROLE_HQ ? c->peer : HQ_LINK;
	struct store_qitem it;
	struct wire_ack a;
	struct kerr e = { "" };
	int i, found = 0;

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
		n->stopping = 2;
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

static void
on_roster(struct node *n, struct conn *c, struct buf *msg)
{
	struct roster next;
	struct kerr e = { "" };

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
		n->stopping = 2;
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

static void
on_sync(struct node *n, struct conn *c, struct buf *msg)
{
	struct kerr e = { "" };

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

/* ---- the audit log: shipping (post) and collecting (HQ) ----------------- */

/* HQ's key for its signed heads: the roster's HQ entry. */
static const uint8_t *
hq_sign_pk(const struct node *n)
{
	for (size_t i = 0; n->have_roster && i < n->roster.n; i++)
		if (n->roster.v[i].kind == ROSTER_HQ && !n->roster.v[i].revoked)
			return n->roster.v[i].pk.sign;
	return NULL;
}

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
 * HQ -> post: result (0 batch accepted, 1 batch refused, 2 no batch: HQ's
 * head only), the post's accepted size, and HQ's head with the
 * consistency proof from the size the post last saw.
 */
static void
audit_reply(struct node *n, struct conn *c, uint8_t result, uint64_t acked)
{
	static struct ship_hqhead m;	/* the loop's; holds a proof */
	struct kerr e = { "" };
	struct buf b;

	buf_init(&b, 64 * 1024);
	if (buf_put_u8(&b, result) != 0 || buf_put_u64(&b, acked) != 0) {
		buf_free(&b);
		conn_close(c, "out of memory");
		return;
	}
	if (audit_hq_head_msg(naudit_log(n->audit), NULL, c->audit_hq_seen,
	    &b, &e) != 0) {
		log_debug("audit: no head for %s yet: %s", c->peer, e.msg);
		b.len = 9;	/* the ack alone */
	} else if (ship_hqhead_decode(&m, b.p + 9, b.len - 9, &e) == 0)
		/* what the post will hold: this very head, not a newer one
		 * the writer may have signed since */
		c->audit_hq_seen = m.head.size;
	if (result != 2 || b.len > 9)
		conn_send_msg(c, WIRE_AUDIT_ACK, TG_PRIORITY, b.p, b.len);
	buf_free(&b);
}

/* HQ: a post's batch; checked and stored with the turn's others. */
static void aq_flush(struct node *n);

static void
on_audit(struct node *n, struct conn *c, struct buf *msg)
{
	struct aitem *it;

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
		const struct roster_entry *re = roster_site(n, n->aq[i].c->peer);

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
			audit_reply(n, c, 1, items[j].acked);
		} else {
			c->audit_hq_seen = items[j].hq_seen;
			audit_reply(n, c, 0, items[j].acked);
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
			audit_reply(n, c, 2, 0);
			conn_flush(c);
		}
}

/* Post: HQ's answer to a batch, or its head alone. */
static void
on_audit_ack(struct node *n, struct conn *c, struct buf *msg)
{
	const uint8_t *hq_pk = hq_sign_pk(n);
	struct kerr e = { "" };
	struct rd rd;
	uint64_t acked;
	uint8_t result;
	int r;

	if (n->cfg.role != ROLE_POST || n->audit == NULL) {
		conn_close(c, "unexpected audit ack");
		return;
	}
	rd_init(&rd, msg->p, msg->len);
	if (rd_u8(&rd, &result) != 0 || rd_u64(&rd, &acked) != 0 ||
	    result > 2) {
		conn_close(c, "malformed audit ack");
		return;
	}
	if (result == 0) {
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
	} else if (result == 1) {
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

static void
on_message(struct node *n, struct conn *c, uint8_t type, uint8_t prec,
    struct buf *msg)
{
	if (n->cfg.role == ROLE_HQ && !c->synced && type != WIRE_SYNC &&
	    type != WIRE_PING && type != WIRE_PONG) {
		conn_close(c, "message before sync");
		return;
	}
	switch (type) {
	case WIRE_TELEGRAM: vq_push(n, c, prec, msg); break;
	case WIRE_RECEIPT: on_receipt(n, c, prec, msg); break;
	case WIRE_ACK: on_ack(n, c, msg); break;
	case WIRE_ROSTER: on_roster(n, c, msg); break;
	case WIRE_SYNC: on_sync(n, c, msg); break;
	case WIRE_PING: conn_send_msg(c, WIRE_PONG, TG_FLASH, NULL, 0); break;
	case WIRE_PONG: break;
	case WIRE_AUDIT: on_audit(n, c, msg); break;
	case WIRE_AUDIT_ACK: on_audit_ack(n, c, msg); break;
	default: conn_close(c, "unknown message type");
	}
}

/* ---- the handshake ---------------------------------------------------- */

/* Post: what it already has, so HQ does not redeliver it. */
static int
build_sync(struct node *n, struct buf *out, struct kerr *e)
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

		if (strlen(names[i]) > 32)
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
	c->last_rx = node_now_ms();
	log_info("link %s up", c->peer);
	buf_init(&b, 1u << 20);
	if (n->cfg.role == ROLE_HQ) {
		if (n->have_roster)
			conn_send_msg(c, WIRE_ROSTER, TG_FLASH,
			    n->roster_blob.p, n->roster_blob.len);
	} else {
		if ((r = build_sync(n, &b, &e)) != 0) {
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

static void hs_responder_1(struct node *n, struct conn *c, const uint8_t *p,
    size_t len, uint8_t *payload, size_t payload_max, struct wire_hello *hello);

/*
 * HQ: message 1 from a post.  The payload may hold an enrolment secret:
 * both copies are wiped whatever happens.
 */
static void
hs_responder(struct node *n, struct conn *c, const uint8_t *p, size_t len)
{
	static uint8_t payload[WIRE_FRAME_MAX];
	struct wire_hello hello;

	hs_responder_1(n, c, p, len, payload, sizeof(payload), &hello);
	sodium_memzero(payload, sizeof(payload));
	sodium_memzero(&hello, sizeof(hello));
}

static void
hs_responder_1(struct node *n, struct conn *c, const uint8_t *p, size_t len,
    uint8_t *payload, size_t payload_max, struct wire_hello *hp)
{
	uint8_t out[256];
	const struct roster_entry *re;
	const uint8_t *rs;
	struct store_member m;
#define hello (*hp)
	struct wire_welcome w;
	struct kerr e = { "" };
	struct buf b;
	size_t plen, olen;
	int found;

	if (noise_hs_read(c->hs, p, len, payload, payload_max, &plen) != 0) {
		conn_close(c, "handshake failed (wrong key or garbage)");
		return;
	}
	rs = noise_hs_remote_static(c->hs);
	if (wire_hello_decode(&hello, payload, plen, &e) != 0) {
		conn_close(c, e.msg);
		return;
	}
	if (hello.intent == WIRE_ENROL && (re = roster_find(&n->roster,
	    hello.name)) != NULL && !re->revoked &&
	    sodium_memcmp(re->pk.enc, rs, 32) == 0 &&
	    sodium_memcmp(re->pk.sign, hello.sign_pk, 32) == 0) {
		/*
		 * Enrolled already with these very keys: the welcome was lost
		 * (the post timed out).  Its retry is a plain connection.
		 */
		log_info("%s enrolled before; accepting its retry", hello.name);
	} else if (hello.intent == WIRE_ENROL) {
		uint8_t hash[32];
		struct buf msg;
		int ok = 0, r;

		token_hash(hash, hello.secret);
		sodium_memzero(hello.secret, sizeof(hello.secret));
		buf_init(&msg, 256);
		r = admin_enrol_message(&msg, hello.name, rs);
		if (r == 0 && crypto_sign_verify_detached(hello.sig, msg.p,
		    msg.len, hello.sign_pk) != 0)
			r = KERR_SIGNATURE;
		buf_free(&msg);
		if (r == 0 && (r = node_txn(n, &e)) == 0)
			r = store_enrol_use(n->st, hello.name, hash, now_s(),
			    &ok, &e);
		if (r != 0 || !ok) {
			node_alert(n, "enrolment", hello.name, "refused an "
			    "enrolment for %s: %s", hello.name, r ? "bad "
			    "signature" : "no valid token");
			conn_close(c, "enrolment refused");
			return;
		}
		memset(&m, 0, sizeof(m));
		snprintf(m.name, sizeof(m.name), "%s", hello.name);
		m.kind = STORE_POST;
		memcpy(m.sign_pk, hello.sign_pk, 32);
		memcpy(m.enc_pk, rs, 32);
		m.added = now_s();
		if (store_member_add(n->st, &m, &e) != 0 ||
		    admin_roster_rebuild(n->st, n->dirkey, now_s(), &e) != 0 ||
		    node_durable(n) != 0 || node_reload_roster(n, &e) != 0) {
			log_err("enrolling %s: %s", hello.name, e.msg);
			conn_close(c, "enrolment failed");
			return;
		}
		log_info("enrolled post %s", hello.name);
		naudit_event(n->audit, "kodend", hello.name, "enrol",
		    hello.name, "ok", "post %s enrolled with its token",
		    hello.name);
	}
	re = roster_find(&n->roster, hello.name);
	found = re != NULL && !re->revoked && re->kind == ROSTER_POST &&
	    sodium_memcmp(re->pk.enc, rs, 32) == 0;
	if (!found) {
		node_alert(n, "unknown-node", hello.name, "refused a connection "
		    "claiming to be %s: %s", hello.name, re == NULL ? "no such "
		    "post" : re->revoked ? "revoked" : "wrong key");
		conn_close(c, "unknown or revoked node");
		return;
	}
	/* one link per post: a new one replaces the old */
	for (struct conn *o = n->conns; o != NULL; o = o->next)
		if (o != c && o->kind == CONN_PEER && o->state != CONN_DEAD &&
		    strcmp(o->peer, hello.name) == 0)
			conn_close(o, "replaced by a new connection");
	snprintf(c->peer, sizeof(c->peer), "%s", hello.name);
	w.version = WIRE_VERSION;
	w.roster_version = n->roster.version;
	buf_init(&b, 64);
	if (wire_welcome_encode(&b, &w) != 0 ||
	    noise_hs_write(c->hs, b.p, b.len, out, sizeof(out), &olen) != 0 ||
	    frame_put(c, out, olen) != 0 || conn_open(c) != 0) {
		buf_free(&b);
		conn_close(c, "handshake failed");
		return;
	}
	buf_free(&b);
}
#undef hello

/* Post: message 2 from HQ. */
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
	if (c->enrolling) {
		n->cfg.enrolled = 1;
		sodium_memzero(n->cfg.join_secret, sizeof(n->cfg.join_secret));
		if (config_save(&n->cfg, n->dir, &e) != 0)
			log_err("enrolled, but cannot save the configuration: "
			    "%s", e.msg);
		log_info("enrolled with HQ");
	}
	if (conn_open(c) != 0)
		conn_close(c, "cannot open the link");
}

static void
on_frame(struct node *n, struct conn *c, const uint8_t *p, size_t len)
{
	static uint8_t pt[WIRE_FRAME_MAX];
	struct wire_rec rec;
	struct kerr e = { "" };
	struct buf *msg;
	uint8_t type, prec;
	int done;

	if (c->state == CONN_HS) {
		if (c->initiator)
			hs_initiator(n, c, p, len);
		else
			hs_responder(n, c, p, len);
		return;
	}
	if (noise_cs_decrypt(&c->rx, NULL, 0, p, len, pt) != 0) {
		conn_close(c, "record does not authenticate");
		return;
	}
	if (wire_rec_parse(&rec, pt, len - NOISE_TAGLEN, &e) != 0 ||
	    wire_rx_feed(&c->wrx, &rec, &done, &type, &prec, &msg, &e) != 0) {
		conn_close(c, e.msg);
		return;
	}
	if (done) {
		on_message(n, c, type, prec, msg);
		wire_rx_release(&c->wrx, msg);
	}
}

static void
conn_readable(struct node *n, struct conn *c)
{
	for (;;) {
		ssize_t r;

		if (buf_reserve(&c->in, 4096) != 0) {
			conn_close(c, "input over its limit");
			return;
		}
		r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			conn_close(c, r == 0 ? "peer closed" : strerror(errno));
			return;
		}
		c->in.len += (size_t)r;
		c->last_rx = node_now_ms();
		c->ping_sent = 0;
		if (c->kind == CONN_API) {
			while (c->state != CONN_DEAD && c->in.len >= 4) {
				uint32_t l = (uint32_t)c->in.p[0] << 24 |
				    (uint32_t)c->in.p[1] << 16 |
				    (uint32_t)c->in.p[2] << 8 | c->in.p[3];

				if (l == 0 || l > API_MSG_MAX) {
					conn_close(c, "bad API request");
					return;
				}
				if (c->in.len < 4 + (size_t)l)
					break;
				api_handle(n, c, c->in.p + 4, l);
				memmove(c->in.p, c->in.p + 4 + l,
				    c->in.len - 4 - l);
				c->in.len -= 4 + l;
			}
			continue;
		}
		/* frames from off; what is left moves down once */
		size_t off = 0;

		while (c->state != CONN_DEAD && c->in.len - off >= 2) {
			size_t l = (size_t)c->in.p[off] << 8 | c->in.p[off + 1];

			if (l == 0) {
				conn_close(c, "empty frame");
				return;
			}
			if (c->in.len - off < 2 + l)
				break;
			on_frame(n, c, c->in.p + off + 2, l);
			if (c->state == CONN_DEAD)
				return;
			off += 2 + l;
		}
		if (c->state == CONN_DEAD)
			return;
		memmove(c->in.p, c->in.p + off, c->in.len - off);
		c->in.len -= off;
	}
	conn_flush(c);
}

/* ---- listening, dialing, the API socket ----------------------------------- */

static int
new_hs(struct conn *c, int initiator, const uint8_t *rs)
{
	struct node *n = c->node;

	if ((c->hs = sodium_malloc(sizeof(*c->hs))) == NULL)
		return KERR_NOMEM;
	c->initiator = initiator;
	c->state = CONN_HS;
	c->deadline = node_now_ms() + (uint64_t)n->cfg.handshake_timeout * 1000;
	return noise_hs_init(c->hs, NOISE_IK, initiator,
	    (const uint8_t *)NODE_PROLOGUE, strlen(NODE_PROLOGUE), &n->nk, rs,
	    NULL);
}

static void
accept_peers(struct node *n)
{
	for (;;) {
		int fd = accept4(n->listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct conn *c;

		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = conn_new(n, fd, CONN_PEER)) == NULL) {
			close(fd);
			continue;
		}
		if (new_hs(c, 0, NULL) != 0)
			conn_close(c, "cannot start handshake");
	}
}

static int
count_api(const struct node *n)
{
	int k = 0;

	for (const struct conn *c = n->conns; c != NULL; c = c->next)
		k += c->kind == CONN_API && c->state != CONN_DEAD;
	return k;
}

static void
accept_api(struct node *n)
{
	for (;;) {
		int fd = accept4(n->api_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		struct conn *c;

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 ||
		    (cr.uid != 0 && cr.uid != getuid()) ||
		    count_api(n) >= NODE_API_CONNS_MAX) {
			log_warn("refused a local API connection (uid %d)",
			    (int)cr.uid);
			close(fd);
			continue;
		}
		if ((c = conn_new(n, fd, CONN_API)) == NULL) {
			close(fd);
			continue;
		}
		c->state = CONN_OPEN;
		snprintf(c->who, sizeof(c->who), "api pid %ld uid %lu",
		    (long)cr.pid, (unsigned long)cr.uid);
	}
}

/* Post: the TCP connection to HQ is up: send handshake message 1. */
static void
dial_connected(struct node *n, struct conn *c)
{
	uint8_t out[512];
	struct wire_hello hello;
	struct buf b;
	size_t olen;
	int err = 0;
	socklen_t el = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
		log_debug("HQ %s unreachable: %s", n->cfg.hq, strerror(err));
		conn_close(c, "HQ unreachable");
		return;
	}
	if (new_hs(c, 1, n->cfg.hq_pk.enc) != 0) {
		conn_close(c, "cannot start handshake");
		return;
	}
	memset(&hello, 0, sizeof(hello));
	hello.version = WIRE_VERSION;
	snprintf(hello.name, sizeof(hello.name), "%s", n->cfg.name);
	hello.intent = WIRE_CONNECT;
	if (!n->cfg.enrolled) {
		size_t sl;
		struct buf msg;

		hello.intent = WIRE_ENROL;
		c->enrolling = 1;
		if (sodium_base642bin(hello.secret, 32, n->cfg.join_secret,
		    strlen(n->cfg.join_secret), NULL, &sl, NULL,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || sl != 32) {
			log_err("join_secret in %s/%s is malformed", n->dir,
			    CONFIG_FILE);
			conn_close(c, "no enrolment secret");
			return;
		}
		memcpy(hello.sign_pk, n->key->pub.sign, 32);
		buf_init(&msg, 256);
		if (admin_enrol_message(&msg, n->cfg.name, n->key->pub.enc) != 0) {
			buf_free(&msg);
			conn_close(c, "out of memory");
			return;
		}
		crypto_sign_detached(hello.sig, NULL, msg.p, msg.len,
		    n->key->sign_sk);
		buf_free(&msg);
	}
	buf_init_secret(&b, 512);
	if (wire_hello_encode(&b, &hello) != 0 ||
	    noise_hs_write(c->hs, b.p, b.len, out, sizeof(out), &olen) != 0 ||
	    frame_put(c, out, olen) != 0) {
		buf_free(&b);
		sodium_memzero(&hello, sizeof(hello));
		conn_close(c, "handshake failed");
		return;
	}
	buf_free(&b);
	sodium_memzero(&hello, sizeof(hello));
	conn_flush(c);
}

/*
 * Post: start a non-blocking connection to HQ; dial_connected() follows
 * when it is writable.  The loop never waits on the network.
 */
static void
dial(struct node *n)
{
	char host[64], port[8];
	struct addrinfo hints, *ai = NULL;
	struct conn *c;
	int fd = -1, one = 1;

	n->dial_at = node_now_ms() + (uint64_t)(n->backoff ? n->backoff : 1) * 1000;
	if (config_split_addr(n->cfg.hq, host, port) != 0)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
		log_warn("cannot resolve HQ address %s", n->cfg.hq);
		goto fail;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
	    errno != EINPROGRESS)) {
		log_debug("HQ %s unreachable: %s", n->cfg.hq, strerror(errno));
		goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = conn_new(n, fd, CONN_PEER)) == NULL)
		goto fail;
	fd = -1;
	n->hq = c;
	snprintf(c->peer, sizeof(c->peer), "HQ");
	c->initiator = 1;
	c->state = CONN_DIALING;
	c->deadline = node_now_ms() + (uint64_t)n->cfg.handshake_timeout * 1000;
	ev_set(c, EPOLLOUT);
	goto out;
fail:
	n->backoff = n->backoff ? 2 * n->backoff : 1;
	if (n->backoff > n->cfg.retry_max)
		n->backoff = n->cfg.retry_max;
	n->dial_at = node_now_ms() + (uint64_t)n->backoff * 1000;
out:
	if (fd >= 0)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
}

static int
listen_tcp(struct node *n, struct kerr *e)
{
	char host[64], port[8];
	struct addrinfo hints, *ai = NULL;
	int fd, one = 1;

	if (config_split_addr(n->cfg.listen, host, port) != 0)
		return kerr_set(e, KERR_INVALID, "listen: bad address %s",
		    n->cfg.listen);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return kerr_set(e, KERR_INVALID, "listen: cannot resolve %s",
		    n->cfg.listen);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 512) != 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return kerr_set(e, KERR_IO, "listen on %s: %s", n->cfg.listen,
		    strerror(err));
	}
	freeaddrinfo(ai);
	n->listen_fd = fd;
	return 0;
}

static int
listen_api(struct node *n, struct kerr *e)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (node_path(sun.sun_path, sizeof(sun.sun_path), n->dir,
	    NODE_SOCK_FILE) != 0)
		return kerr_set(e, KERR_TOOBIG, "%s: path too long for the API "
		    "socket", n->dir);
	unlink(sun.sun_path);	/* stale: the lock proves no kodend runs */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	old = umask(077);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, 64) != 0) {
		int err = errno;

		umask(old);
		if (fd >= 0)
			close(fd);
		return kerr_set(e, KERR_IO, "%s: %s", sun.sun_path,
		    strerror(err));
	}
	umask(old);
	chmod(sun.sun_path, 0600);
	n->api_fd = fd;
	return 0;
}

/* ---- open, run, close ------------------------------------------------------ */

static int
load_key(struct identity **out, const char *dir, const char *file,
    struct kerr *e)
{
	char path[PATH_MAX];
	struct kerr ke = { "" };
	uint8_t *txt = NULL;
	size_t len = 0;
	int r;

	if (node_path(path, sizeof(path), dir, file) != 0)
		return kerr_set(e, KERR_TOOBIG, "path too long");
	if ((r = keyfile_read(path, &txt, &len, &ke)) != 0)
		return kerr_set(e, r, "%s", ke.msg);
	r = keyfile_decode(out, txt, len, NULL, 0, &ke);
	sodium_memzero(txt, len);
	free(txt);
	if (r != 0)
		return kerr_set(e, r, "%s: %s", path, ke.msg);
	return 0;
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

int
node_open(struct node *n, const char *nodedir, struct kerr *e)
{
	char path[PATH_MAX];
	int r;

	memset(n, 0, sizeof(*n));
	n->ev_listen = EV_LISTEN;
	n->ev_api = EV_API;
	n->ev_sig = EV_SIG;
	n->epfd = n->listen_fd = n->api_fd = n->sig_fd = n->lock_fd = -1;
	n->audit_fd = n->sync_fd = -1;
	n->ev_audit = EV_AUDIT;
	n->ev_sync = EV_SYNC;
	buf_init(&n->roster_blob, ROSTER_MAX);
	if (strlen(nodedir) >= sizeof(n->dir))
		return kerr_set(e, KERR_TOOBIG, "NODEDIR path too long");
	memcpy(n->dir, nodedir, strlen(nodedir) + 1);
	if ((r = config_load(&n->cfg, nodedir, e)) != 0)
		return r;
	log_set_level(n->cfg.log_level);

	/* one kodend per NODEDIR */
	if (node_path(path, sizeof(path), nodedir, NODE_PID_FILE) != 0)
		return KERR_TOOBIG;
	n->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (n->lock_fd < 0)
		return kerr_set(e, KERR_IO, "%s: %s", path, strerror(errno));
	if (flock(n->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		char pid[32] = "";

		(void)!read(n->lock_fd, pid, sizeof(pid) - 1);
		pid[strcspn(pid, "\n")] = '\0';
		return kerr_set(e, KERR_EXISTS, "another kodend (pid %s) is "
		    "running on %s", pid[0] ? pid : "?", nodedir);
	}
	if (ftruncate(n->lock_fd, 0) == 0)
		dprintf(n->lock_fd, "%ld\n", (long)getpid());

	if ((r = load_key(&n->key, nodedir, NODE_KEY_FILE, e)) != 0)
		return r;
	if ((r = noise_keypair_from_private(&n->nk, n->key->enc_sk)) != 0)
		return kerr_set(e, r, "node key unusable");
	if (n->cfg.role == ROLE_HQ &&
	    (r = load_key(&n->dirkey, nodedir, NODE_DIRKEY_FILE, e)) != 0)
		return r;
	if (node_path(path, sizeof(path), nodedir, NODE_DB_FILE) != 0)
		return KERR_TOOBIG;
	if ((n->sync_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return kerr_set(e, KERR_IO, "eventfd: %s", strerror(errno));
	/*
	 * Commits are fsynced on the store's own thread: the loop goes on
	 * while the disk works, and what depends on a commit waits for it
	 * (node_release).  Everything already queued is durable from here.
	 */
	if ((r = store_open(&n->st, path, e)) != 0 ||
	    (r = store_checkpointer_start(n->st, path, e)) != 0 ||
	    (r = store_sync_thread_start(n->st, path, n->sync_fd, e)) != 0 ||
	    (r = store_q_last_ord(n->st, &n->q_sendable, e)) != 0)
		return r;
	if ((r = node_reload_roster(n, e)) != 0)
		return r;
	if (n->cfg.role == ROLE_HQ && !n->have_roster)
		return kerr_set(e, KERR_INVALID, "HQ has no roster: create the "
		    "network with: koden network init");
	if ((n->audit_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return kerr_set(e, KERR_IO, "eventfd: %s", strerror(errno));
	if ((r = naudit_open(&n->audit, nodedir, n->cfg.name, n->key,
	    n->audit_fd, e)) != 0)
		return r;
	return 0;
}

/* Periodic work: dial, deadlines, keepalive, gap timeouts, pumping. */
static void
tick(struct node *n)
{
	uint64_t now = node_now_ms();
	uint64_t idle = (uint64_t)n->cfg.idle_timeout * 1000;

	if (n->cfg.role == ROLE_POST && n->hq == NULL && now >= n->dial_at)
		dial(n);
	for (struct conn *c = n->conns; c != NULL; c = c->next) {
		if (c->state == CONN_DEAD || c->kind != CONN_PEER)
			continue;
		if (c->state != CONN_OPEN && now > c->deadline) {
			conn_close(c, "handshake timed out");
			continue;
		}
		if (c->state == CONN_OPEN && now - c->last_rx > idle) {
			conn_close(c, "idle timeout");
			continue;
		}
		if (c->state == CONN_OPEN && now - c->last_rx > idle / 3 &&
		    !c->ping_sent) {
			conn_send_msg(c, WIRE_PING, TG_FLASH, NULL, 0);
			c->ping_sent = 1;
			conn_flush(c);
		}
	}
	/* gaps: a missing seq still missing gap_timeout after a later one */
	{
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
	if (n->cfg.role == ROLE_HQ) {
		for (struct conn *c = n->conns; c != NULL; c = c->next)
			if (c->kind == CONN_PEER && c->state == CONN_OPEN &&
			    c->synced)
				node_mark_dirty(n, c->peer);
	} else
		node_mark_dirty(n, HQ_LINK);
	audit_ship(n);		/* entries koden appended meanwhile */
	audit_broadcast(n);
	n->next_tick = now + TICK_MS;
}

/* When the loop must wake with nothing to read: the tick, or sooner. */
static uint64_t
loop_wake(const struct node *n)
{
	uint64_t wake = n->next_tick;

	if (n->audit_ship_due && n->audit_ship_due < wake)
		wake = n->audit_ship_due;	/* post: a batch waits for its gap */
	if (n->aq_retry && n->aq_retry < wake)
		wake = n->aq_retry;	/* HQ: batches kept, the log was busy */
	return wake;
}

int
node_run(struct node *n, struct kerr *e)
{
	struct epoll_event ev, evs[64];
	char pidsrc[64], confhash[65];
	sigset_t mask;
	int r;

	if ((n->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return kerr_set(e, KERR_IO, "epoll: %s", strerror(errno));
	if (n->cfg.role == ROLE_HQ && (r = listen_tcp(n, e)) != 0)
		return r;
	if ((r = listen_api(n, e)) != 0)
		return r;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((n->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return kerr_set(e, KERR_IO, "signalfd: %s", strerror(errno));
	verifier_start(n);	/* after sigprocmask: it inherits the mask */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &n->ev_sig;
	epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->sig_fd, &ev);
	ev.data.ptr = &n->ev_api;
	epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->api_fd, &ev);
	if (n->listen_fd >= 0) {
		ev.data.ptr = &n->ev_listen;
		epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->listen_fd, &ev);
	}
	if (n->audit_fd >= 0) {
		ev.data.ptr = &n->ev_audit;
		epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->audit_fd, &ev);
	}
	ev.data.ptr = &n->ev_sync;
	epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->sync_fd, &ev);
	snprintf(pidsrc, sizeof(pidsrc), "pid %ld uid %ld", (long)getpid(),
	    (long)getuid());
	config_hash(n, confhash);
	naudit_event(n->audit, "kodend", pidsrc, "start", n->cfg.name, "ok",
	    "%s %s, roster version %llu, kodend.conf sha256=%s",
	    n->cfg.role == ROLE_HQ ? "HQ" : "post", n->cfg.name,
	    (unsigned long long)n->roster.version, confhash);
	log_info("%s %s started (roster version %llu)",
	    n->cfg.role == ROLE_HQ ? "HQ" : "post", n->cfg.name,
	    (unsigned long long)n->roster.version);
	n->next_tick = 0;

	while (!n->stopping) {
		uint64_t now = node_now_ms();
		uint64_t wake = loop_wake(n);
		int timeout = now >= wake ? 0 : (int)(wake - now);
		int k = epoll_wait(n->epfd, evs, 64, timeout);

		if (k < 0 && errno != EINTR)
			return kerr_set(e, KERR_IO, "epoll_wait: %s",
			    strerror(errno));
		for (int i = 0; i < k && !n->stopping; i++) {
			int *kind = evs[i].data.ptr;

			if (*kind == EV_LISTEN)
				accept_peers(n);
			else if (*kind == EV_API)
				accept_api(n);
			else if (*kind == EV_SYNC) {
				uint64_t v;

				(void)!read(n->sync_fd, &v, sizeof(v));
				node_release(n);
			} else if (*kind == EV_AUDIT) {
				uint64_t v;

				(void)!read(n->audit_fd, &v, sizeof(v));
				audit_ship(n);
			}
			else if (*kind == EV_SIG) {
				struct signalfd_siginfo si;

				while (read(n->sig_fd, &si, sizeof(si)) ==
				    sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						struct kerr ke = { "" };

						log_info("SIGHUP: reloading");
						if (node_reload_roster(n, &ke) != 0)
							log_err("reload: %s", ke.msg);
						naudit_event(n->audit, "kodend",
						    "SIGHUP", "reload",
						    n->cfg.name, ke.msg[0] ?
						    "fail" : "ok", "%s",
						    ke.msg);
					} else
						n->stopping = 1;
				}
			} else {
				struct conn *c = evs[i].data.ptr;

				if (c->state == CONN_DEAD)
					continue;
				if (c->state == CONN_DIALING) {
					dial_connected(n, c);
					continue;
				}
				if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					conn_readable(n, c);
				/*
				 * Acks made room in the link's window: refill it
				 * now from what is durable, rather than at the
				 * end of a turn that may be long.
				 */
				if (c->acked && c->state == CONN_OPEN) {
					c->acked = 0;
					pump(n, n->cfg.role == ROLE_HQ ?
					    c->peer : HQ_LINK);
				}
				if (c->state != CONN_DEAD &&
				    (evs[i].events & EPOLLOUT))
					conn_flush(c);
			}
		}
		vq_flush(n);
		aq_flush(n);
		if (n->audit_ship_due && node_now_ms() >= n->audit_ship_due)
			audit_ship(n);
		if (node_commit(n) != 0)
			break;
		if (node_now_ms() >= n->next_tick) {
			tick(n);
			if (node_commit(n) != 0)
				break;
		}
		reap(n);
	}
	if (n->stopping == 1) {
		/* on disk, and the acknowledgements on their way */
		(void)node_durable(n);
		log_info("stopped");
	}
	naudit_event(n->audit, "kodend", pidsrc, "stop", n->cfg.name,
	    n->stopping == 2 ? "fail: storage error" : "ok", NULL);
	return n->stopping == 2 ? kerr_set(e, KERR_IO, "stopped on a storage "
	    "error") : 0;
}

void
node_close(struct node *n)
{
	char path[PATH_MAX];

	verifier_stop(n);
	naudit_close(n->audit);	/* the final head */
	n->audit = NULL;
	if (n->audit_fd >= 0)
		close(n->audit_fd);
	for (size_t i = 0; i < n->n_aq; i++)
		buf_free(&n->aq[i].msg);
	free(n->aq);
	for (size_t i = 0; i < n->n_vq; i++) {
		buf_free(&n->vq[i].msg);
		free(n->vq[i].h);
	}
	free(n->vq);

	while (n->conns != NULL) {
		struct conn *c = n->conns;

		n->conns = c->next;
		if (c->state != CONN_DEAD)
			close(c->fd);
		conn_free(c);
	}
	if (n->api_fd >= 0) {
		close(n->api_fd);
		if (node_path(path, sizeof(path), n->dir, NODE_SOCK_FILE) == 0)
			unlink(path);
	}
	if (n->listen_fd >= 0)
		close(n->listen_fd);
	if (n->sig_fd >= 0)
		close(n->sig_fd);
	if (n->epfd >= 0)
		close(n->epfd);
	if (n->st != NULL)
		store_close(n->st);	/* stops its fsync thread, then: */
	if (n->sync_fd >= 0)
		close(n->sync_fd);
	if (n->have_roster)
		roster_free(&n->roster);
	buf_free(&n->roster_blob);
	identity_free(n->key);
	identity_free(n->dirkey);
	sodium_memzero(&n->nk, sizeof(n->nk));
	pending_drop_all(n);	/* not durable: the peers send again */
	free(n->pend);
	free(n->dirty);
	free(n->wait);
	if (n->lock_fd >= 0)
		close(n->lock_fd);
}
