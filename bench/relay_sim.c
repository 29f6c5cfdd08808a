/*
 * bench/relay_sim.c: HQ's relay rate on its own (bench/relay.sh --only hq).
 *
 *   relay_sim --hq HQDIR [-n M] [-w W] [-r ROUNDS] [--warmup K] [-s BYTES]
 *             [-j THREADS] [-T SECONDS] [--senders S] POSTDIR POSTDIR...
 *
 * HQ is a real kodend (started by relay.sh on a network made with the CLI:
 * network init, add-post, join); the posts are simulated here, one thread
 * each, so that the machine's CPU goes to HQ.  Each POSTDIR is a NODEDIR
 * written by `koden network join`: its node.key and kodend.conf (HQ's
 * address and key, the directory key, the join secret).
 *
 * Enrolment: each simulated post dials HQ and does the real enrolment
 * handshake, as kodend's dial_connected() does: Noise IK with HQ's key from
 * kodend.conf, a WIRE_ENROL hello carrying the token secret (join_secret),
 * the post's Ed25519 key and its signature over admin_enrol_message(); then,
 * as hs_initiator() does, kodend.conf is saved with enrolled = yes (a post
 * already enrolled sends a plain WIRE_CONNECT hello).  After the handshake
 * the post sends an empty SYNC (n = 0: it has nothing) and reads the roster
 * HQ pushes (WIRE_ROSTER, checked with roster_decode and the directory key);
 * every post waits until its roster holds all the posts with its own key.
 *
 * Each round (nothing timed yet): each of the first S posts (all by
 * default) gets M distinct telegrams, alternately to each of the other
 * posts: a drafting-text telegram of BYTES (4096) bytes, parsed with the
 * default policy, a random id, sealed with env_seal by the post's node key
 * to the addressee's roster key and the origin's own (as `koden send` seals
 * to the addressees and the origin post: the same 8.5 KB envelope as in
 * the throughput part), then numbered per destination (1, 2, 3, ...,
 * continuing over rounds) and signed with the node key by env_sign_origin,
 * as the origin kodend's api_send does.  Sealing runs on -j threads.
 *
 * Then the clock starts and every sender pushes its envelopes over its
 * Noise link as WIRE_TELEGRAM messages (records with the wire header,
 * chunked at WIRE_CHUNK, precedence ROUTINE), keeping at most W (512)
 * unacknowledged, and reads HQ's WIRE_ACKs (a refusal stops the run).  Every
 * post is also a sink: for each WIRE_TELEGRAM HQ delivers it replies with a
 * WIRE_ACK (kind telegram, the id from env_parse), then sends a DELIVERED
 * receipt signed with its node key (receipt_encode, as node_queue_receipt
 * does) as a WIRE_RECEIPT at the telegram's precedence.  The receipt is
 * signed when the telegram is sealed, before the clock starts, like the
 * envelope itself: what a post spends signing is not HQ's, and on this
 * machine it would take the CPU HQ is measured on.  It is sent only for
 * the very bytes it was made for (the delivered envelope must equal the
 * sealed one); anything else (a telegram left from an earlier round) gets
 * one signed on the spot.  The origin
 * checks each receipt HQ relays to it (receipt_parse: its telegram, from
 * that addressee) and acks it.  Nothing is verified or stored.  So HQ's
 * work measured here is its whole relay path: verify the origin signature,
 * store the envelope and a queue entry per addressee, fsync (group commit),
 * ack; forward to the addressee; drop the queue entry on the addressee's
 * ack; store the receipt with its queue entry, ack; forward it to the
 * origin; drop it on the origin's ack.  --no-receipts leaves receipts out
 * (HQ's telegram path only).
 * WIRE_PING is answered with WIRE_PONG.
 *
 * Per round: accept rate = telegrams / (first send -> last of HQ's acks);
 * relay rate = telegrams / (first send -> last telegram at a sink); receipt
 * rate = telegrams / (first send -> last receipt at its origin); HQ's
 * CPU per telegram from /proc/PID/stat (utime + stime of all its threads)
 * from the first send until HQ's queue table is empty again (every
 * addressee's ack processed), and the share of a core its busiest thread
 * used (/proc/PID/task); this process's own CPU (getrusage); the machine's
 * busy share (/proc/stat); send -> HQ's ack and send -> at the addressee
 * latencies.  Every telegram must be acked by HQ exactly once and arrive
 * at its addressee exactly once; HQ's env table must have grown by the
 * round's telegrams (read-only SQLite on HQ's store.db, as relay_client
 * does).  Before the rounds, a warm-up round of K telegrams per sender
 * (not reported) and the p50 of 200 fsyncs of 8 KiB appends in HQDIR (so
 * the results say what an fsync costs where HQ's store is).
 *
 * Results are key=value lines on stdout (r1_..., r2_... per round),
 * progress on stderr.  Every wait is bounded (handshake 15 s, rosters 30 s,
 * each round -T seconds); any error or refusal stops with a message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "crypto/keys.h"
#include "crypto/noise.h"
#include "node/admin.h"
#include "node/config.h"
#include "node/directory.h"
#include "node/receipt.h"
#include "node/wire.h"
#include "telegram/envelope.h"
#include "telegram/tg.h"

#include "relay_common.h"

const char *bench_prog = "relay_sim";

#define MAX_POSTS 64
#define IN_CAP (1u << 20)		/* bytes read at once from a link */
#define OUT_HIGH (256u << 10)		/* stop framing telegrams here */

/* ---- a round's telegrams ------------------------------------------------- */

struct tgm {
	uint8_t id[16];
	uint16_t from, to;	/* post indexes */
	struct buf env;
	struct buf receipt;	/* the addressee's signed receipt, if receipts */
	double t_send, t_ack, t_rx, t_rcpt;
	atomic_uchar acked, rcvd, rcpt;
};

struct round {
	int no;			/* 0 warm-up, then 1, 2, ... */
	size_t m;		/* telegrams per sender */
	size_t total;
	struct tgm *t;		/* sender p's are t[p * m .. p * m + m - 1] */
	int32_t *slot;		/* id hash table: index into t, -1 empty */
	size_t mask;
	atomic_size_t acked, rcvd, rcpt, dup, stale;
};

static uint64_t
id_hash(const uint8_t id[16])
{
	uint64_t h;

	memcpy(&h, id + 8, 8);	/* random (the first 6 bytes are a time) */
	return h;
}

static void
round_index(struct round *R)
{
	size_t cap = 16;

	while (cap < 2 * R->total)
		cap *= 2;
	R->mask = cap - 1;
	R->slot = xcalloc(cap, sizeof(*R->slot));
	for (size_t i = 0; i < cap; i++)
		R->slot[i] = -1;
	for (size_t k = 0; k < R->total; k++) {
		size_t s = (size_t)id_hash(R->t[k].id) & R->mask;

		while (R->slot[s] >= 0) {
			if (memcmp(R->t[R->slot[s]].id, R->t[k].id, 16) == 0)
				die("two telegrams with one id");
			s = (s + 1) & R->mask;
		}
		R->slot[s] = (int32_t)k;
	}
}

static struct tgm *
round_find(struct round *R, const uint8_t id[16])
{
	size_t s = (size_t)id_hash(id) & R->mask;

	while (R->slot[s] >= 0) {
		if (memcmp(R->t[R->slot[s]].id, id, 16) == 0)
			return &R->t[R->slot[s]];
		s = (s + 1) & R->mask;
	}
	return NULL;
}

static void
round_free(struct round *R)
{
	for (size_t k = 0; k < R->total; k++) {
		buf_free(&R->t[k].env);
		buf_free(&R->t[k].receipt);
	}
	free(R->t);
	free(R->slot);
	free(R);
}

/* ---- shared state ---------------------------------------------------------- */

struct post {
	int idx;
	char dir[PATH_MAX];
	struct config cfg;
	struct identity *key;
	struct noise_keypair nk;
	int sender;
	/* the link */
	int fd, evfd;
	struct noise_cs tx, rx;
	uint32_t next_stream;
	struct wire_rx wrx;
	struct buf hdr;
	uint8_t *in;
	size_t in_len;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	/* the roster HQ sent */
	pthread_mutex_t mu;
	struct roster ro;
	int have_roster;
	/* sending */
	int round_no;
	size_t next, acked;
	size_t window;
	/* accounting over rounds */
	uint64_t seq[MAX_POSTS];	/* last sequence number per destination */
	uint64_t serial;
	pthread_t th;
};

static struct {
	struct post *p;
	size_t n;
	pthread_rwlock_t lock;		/* writers: main, swapping rounds */
	struct round *R;
	atomic_int stop;
	atomic_int failed;
	atomic_size_t stale_idle;
	pthread_mutex_t err_mu;
	char err[512];
	size_t n_send;
	int receipts;			/* sinks sign and send DELIVERED receipts */
} g;

static void
fail(struct post *p, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&g.err_mu);
	if (!atomic_load(&g.failed)) {
		int k = snprintf(g.err, sizeof(g.err), "%s: ", p->cfg.name);

		va_start(ap, fmt);
		vsnprintf(g.err + k, sizeof(g.err) - (size_t)k, fmt, ap);
		va_end(ap);
		atomic_store(&g.failed, 1);
	}
	pthread_mutex_unlock(&g.err_mu);
}

/* ---- framing out: records in Noise transport messages --------------------- */

static int
out_reserve(struct post *p, size_t n)
{
	if (p->out_off > 0 && p->out_len + n > p->out_cap) {
		memmove(p->out, p->out + p->out_off, p->out_len - p->out_off);
		p->out_len -= p->out_off;
		p->out_off = 0;
	}
	if (p->out_len + n > p->out_cap) {
		size_t cap = p->out_cap ? p->out_cap : 1u << 20;
		uint8_t *q;

		while (cap < p->out_len + n)
			cap *= 2;
		if ((q = realloc(p->out, cap)) == NULL)
			return -1;
		p->out = q;
		p->out_cap = cap;
	}
	return 0;
}

/* One message as records of one stream, each a framed transport message. */
static int
send_msg(struct post *p, uint8_t type, uint8_t prec, const uint8_t *data,
    size_t len)
{
	uint32_t stream = ++p->next_stream;
	size_t off = 0;

	do {
		size_t chunk = len - off > WIRE_CHUNK ? WIRE_CHUNK : len - off;
		size_t ml = WIRE_REC_HDR + chunk + NOISE_TAGLEN;
		uint8_t fin = off + chunk == len ? WIRE_FIN : 0, *f;

		p->hdr.len = 0;
		if (wire_rec_header(&p->hdr, type, prec, stream, fin) != 0 ||
		    p->hdr.len != WIRE_REC_HDR || out_reserve(p, 2 + ml) != 0)
			return -1;
		f = p->out + p->out_len;
		f[0] = (uint8_t)(ml >> 8);
		f[1] = (uint8_t)ml;
		memcpy(f + 2, p->hdr.p, WIRE_REC_HDR);
		if (chunk)
			memcpy(f + 2 + WIRE_REC_HDR, data + off, chunk);
		if (noise_cs_encrypt(&p->tx, NULL, 0, f + 2,
		    WIRE_REC_HDR + chunk, f + 2) != 0)
			return -1;
		p->out_len += 2 + ml;
		off += chunk;
	} while (off < len);
	return 0;
}

/* Write what the socket takes; -1 on a dead link. */
static int
out_flush(struct post *p)
{
	while (p->out_off < p->out_len) {
		ssize_t w = write(p->fd, p->out + p->out_off,
		    p->out_len - p->out_off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0)
			return -1;
		p->out_off += (size_t)w;
	}
	p->out_off = p->out_len = 0;
	return 0;
}

/* ---- handling what HQ sends ------------------------------------------------ */

static void
on_roster(struct post *p, const struct buf *msg)
{
	struct roster next;
	struct kerr e = { "" };

	if (roster_decode(&next, msg->p, msg->len, p->cfg.dir_pk, &e) != 0) {
		fail(p, "roster from HQ refused: %s", e.msg);
		return;
	}
	pthread_mutex_lock(&p->mu);
	if (p->have_roster && next.version <= p->ro.version) {
		pthread_mutex_unlock(&p->mu);
		roster_free(&next);
		return;
	}
	if (p->have_roster)
		roster_free(&p->ro);
	p->ro = next;
	p->have_roster = 1;
	pthread_mutex_unlock(&p->mu);
}

static int
send_ack(struct post *p, uint8_t kind, const uint8_t id[16], const char *by,
    uint8_t state)
{
	static __thread struct buf b;	/* one per thread, reused */
	struct wire_ack a;

	memset(&a, 0, sizeof(a));
	a.kind = kind;
	memcpy(a.id, id, 16);
	if (by != NULL)
		snprintf(a.by, sizeof(a.by), "%s", by);
	a.state = state;
	a.result = WIRE_ACK_OK;
	if (b.max == 0)
		buf_init(&b, 512);
	b.len = 0;
	return wire_ack_encode(&b, &a) != 0 ||
	    send_msg(p, WIRE_ACK, TG_FLASH, b.p, b.len) != 0 ? -1 : 0;
}

/*
 * The addressee by's DELIVERED receipt for the envelope env, signed with its
 * node key as node_queue_receipt() makes it, appended to out.  send_receipt
 * sends it at the telegram's precedence (ROUTINE here).
 */
static int
make_receipt(struct buf *out, const struct post *by, const uint8_t id[16],
    const char *origin, const uint8_t *env, size_t env_len)
{
	struct receipt rc;
	struct kerr e = { "" };

	memset(&rc, 0, sizeof(rc));
	memcpy(rc.id, id, 16);
	receipt_env_hash(rc.env_hash, env, env_len);
	snprintf(rc.origin, sizeof(rc.origin), "%s", origin);
	snprintf(rc.by, sizeof(rc.by), "%s", by->cfg.name);
	rc.state = RECEIPT_DELIVERED;
	rc.time = (uint64_t)time(NULL);
	return receipt_encode(out, &rc, by->key, &e) != 0 ? -1 : 0;
}

/* The receipt for msg: t's, made at sealing, if msg is what was sealed. */
static int
send_receipt(struct post *p, const struct tgm *t, const struct env_header *h,
    const struct buf *msg)
{
	static __thread struct buf b;

	if (t != NULL && t->receipt.len > 0 && t->env.len == msg->len &&
	    memcmp(t->env.p, msg->p, msg->len) == 0)
		return send_msg(p, WIRE_RECEIPT, TG_ROUTINE, t->receipt.p,
		    t->receipt.len);
	if (b.max == 0)
		buf_init(&b, RECEIPT_MAX);
	b.len = 0;
	return make_receipt(&b, p, h->id, h->origin, msg->p, msg->len) != 0 ||
	    send_msg(p, WIRE_RECEIPT, TG_ROUTINE, b.p, b.len) != 0 ? -1 : 0;
}

/* A telegram HQ delivers: ack it, count it, and (receipts) sign a receipt. */
static void
on_telegram(struct post *p, struct round *R, const struct buf *msg)
{
	static __thread struct env_header *h;
	struct kerr e = { "" };
	struct tgm *t = NULL;
	int mine = 0;

	if (h == NULL)
		h = xcalloc(1, sizeof(*h));
	if (env_parse(h, msg->p, msg->len, &e) != 0) {
		fail(p, "HQ delivered an envelope env_parse refuses: %s", e.msg);
		return;
	}
	for (size_t i = 0; i < h->n_addr; i++)
		mine |= strcmp(h->addr[i].name, p->cfg.name) == 0;
	if (!mine) {
		fail(p, "HQ delivered a telegram from %s not addressed to %s",
		    h->origin, p->cfg.name);
		return;
	}
	if (R == NULL)
		atomic_fetch_add(&g.stale_idle, 1);	/* between rounds */
	else {
		t = round_find(R, h->id);
		if (t == NULL)
			atomic_fetch_add(&R->stale, 1);
		else if (t->to != p->idx) {
			fail(p, "HQ delivered a telegram for %s to %s",
			    g.p[t->to].cfg.name, p->cfg.name);
			return;
		} else if (atomic_exchange(&t->rcvd, 1) != 0)
			atomic_fetch_add(&R->dup, 1);
		else {
			t->t_rx = now();
			atomic_fetch_add(&R->rcvd, 1);
		}
	}
	if (send_ack(p, WIRE_ACK_TELEGRAM, h->id, NULL, 0) != 0)
		fail(p, "cannot frame an ack");
	else if (g.receipts && send_receipt(p, t, h, msg) != 0)
		fail(p, "cannot sign or frame a receipt");
}

/* A receipt HQ relays to this post, the telegram's origin: count, ack. */
static void
on_receipt(struct post *p, struct round *R, const struct buf *msg)
{
	struct receipt rc;
	struct kerr e = { "" };
	struct tgm *t;

	if (!g.receipts) {
		fail(p, "HQ sent a receipt; no post makes any");
		return;
	}
	if (receipt_parse(&rc, msg->p, msg->len, &e) != 0) {
		fail(p, "HQ relayed a receipt receipt_parse refuses: %s", e.msg);
		return;
	}
	if (R == NULL || (t = round_find(R, rc.id)) == NULL) {
		fail(p, "HQ relayed a receipt for a telegram not in the round");
		return;
	}
	if (t->from != p->idx || strcmp(rc.origin, p->cfg.name) != 0 ||
	    strcmp(rc.by, g.p[t->to].cfg.name) != 0 ||
	    rc.state != RECEIPT_DELIVERED) {
		fail(p, "HQ relayed %s's receipt for %s's telegram to %s",
		    rc.by, rc.origin, p->cfg.name);
		return;
	}
	if (atomic_exchange(&t->rcpt, 1) != 0)
		atomic_fetch_add(&R->dup, 1);
	else {
		t->t_rcpt = now();
		atomic_fetch_add(&R->rcpt, 1);
	}
	if (send_ack(p, WIRE_ACK_RECEIPT, rc.id, rc.by, rc.state) != 0)
		fail(p, "cannot frame an ack");
}

static void
on_ack(struct post *p, struct round *R, const struct buf *msg)
{
	struct wire_ack a;
	struct kerr e = { "" };
	struct tgm *t;

	if (wire_ack_decode(&a, msg->p, msg->len, &e) != 0) {
		fail(p, "malformed ack from HQ: %s", e.msg);
		return;
	}
	if (a.kind == WIRE_ACK_RECEIPT && g.receipts) {
		if (a.result != WIRE_ACK_OK)
			fail(p, "HQ refused a receipt: %s", a.reason);
		return;
	}
	if (a.kind != WIRE_ACK_TELEGRAM) {
		fail(p, "HQ acked a receipt; none was sent");
		return;
	}
	if (a.result != WIRE_ACK_OK) {
		fail(p, "HQ refused a telegram: %s", a.reason);
		return;
	}
	if (R == NULL || (t = round_find(R, a.id)) == NULL || t->from != p->idx) {
		fail(p, "HQ acked a telegram this post did not send");
		return;
	}
	if (atomic_exchange(&t->acked, 1) != 0) {
		fail(p, "HQ acked a telegram twice");
		return;
	}
	t->t_ack = now();
	p->acked++;
	atomic_fetch_add(&R->acked, 1);
}

static void
on_message(struct post *p, struct round *R, uint8_t type, const struct buf *msg)
{
	switch (type) {
	case WIRE_TELEGRAM: on_telegram(p, R, msg); break;
	case WIRE_ACK: on_ack(p, R, msg); break;
	case WIRE_ROSTER: on_roster(p, msg); break;
	case WIRE_PING:
		if (send_msg(p, WIRE_PONG, TG_FLASH, NULL, 0) != 0)
			fail(p, "cannot frame a pong");
		break;
	case WIRE_PONG: break;
	case WIRE_RECEIPT: on_receipt(p, R, msg); break;
	default: fail(p, "HQ sent a message of type %u", type);
	}
}

/* Complete frames in p->in: decrypt, reassemble, handle. */
static void
on_input(struct post *p, struct round *R)
{
	size_t pos = 0;

	while (p->in_len - pos >= 2 && !atomic_load(&g.failed)) {
		size_t l = (size_t)p->in[pos] << 8 | p->in[pos + 1];
		uint8_t *f = p->in + pos + 2, type, prec;
		struct wire_rec rec;
		struct kerr e = { "" };
		struct buf *msg;
		int done;

		if (l < NOISE_TAGLEN) {
			fail(p, "frame of %zu bytes from HQ", l);
			return;
		}
		if (p->in_len - pos < 2 + l)
			break;
		if (noise_cs_decrypt(&p->rx, NULL, 0, f, l, f) != 0) {
			fail(p, "a record from HQ does not authenticate");
			return;
		}
		if (wire_rec_parse(&rec, f, l - NOISE_TAGLEN, &e) != 0 ||
		    wire_rx_feed(&p->wrx, &rec, &done, &type, &prec, &msg,
		    &e) != 0) {
			fail(p, "from HQ: %s", e.msg);
			return;
		}
		if (done) {
			on_message(p, R, type, msg);
			wire_rx_release(&p->wrx, msg);
		}
		pos += 2 + l;
	}
	memmove(p->in, p->in + pos, p->in_len - pos);
	p->in_len -= pos;
}

/* Frame this round's next telegrams, within the window. */
static void
fill(struct post *p, struct round *R)
{
	if (!p->sender)
		return;
	if (p->round_no != R->no) {
		p->round_no = R->no;
		p->next = p->acked = 0;
	}
	while (p->next < R->m && p->next - p->acked < p->window &&
	    p->out_len - p->out_off < OUT_HIGH) {
		struct tgm *t = &R->t[(size_t)p->idx * R->m + p->next];

		t->t_send = now();
		if (send_msg(p, WIRE_TELEGRAM, TG_ROUTINE, t->env.p,
		    t->env.len) != 0) {
			fail(p, "cannot frame a telegram");
			return;
		}
		p->next++;
	}
}

static void *
post_main(void *arg)
{
	struct post *p = arg;

	while (!atomic_load(&g.stop) && !atomic_load(&g.failed)) {
		struct pollfd pf[2];
		struct round *R;
		int k;

		pthread_rwlock_rdlock(&g.lock);
		R = g.R;
		if (R != NULL)
			fill(p, R);
		pthread_rwlock_unlock(&g.lock);
		if (out_flush(p) != 0) {
			fail(p, "HQ closed the link: %s", strerror(errno));
			break;
		}
		pf[0].fd = p->fd;
		pf[0].events = POLLIN | (p->out_off < p->out_len ? POLLOUT : 0);
		pf[1].fd = p->evfd;
		pf[1].events = POLLIN;
		if ((k = poll(pf, 2, 200)) < 0) {
			if (errno == EINTR)
				continue;
			fail(p, "poll: %s", strerror(errno));
			break;
		}
		if (pf[1].revents & POLLIN) {
			uint64_t v;

			(void)!read(p->evfd, &v, sizeof(v));
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(p->fd, p->in + p->in_len,
			    IN_CAP - p->in_len);

			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				fail(p, "HQ closed the link (%s); see HQ's log",
				    r < 0 ? strerror(errno) : "end of stream");
				break;
			}
			p->in_len += (size_t)r;
			pthread_rwlock_rdlock(&g.lock);
			on_input(p, g.R);
			pthread_rwlock_unlock(&g.lock);
		}
	}
	return NULL;
}

/* ---- the handshake ---------------------------------------------------------- */

static int
read_full(int fd, uint8_t *p, size_t n, double deadline)
{
	while (n > 0) {
		struct pollfd pf = { fd, POLLIN, 0 };
		int ms = (int)((deadline - now()) * 1000);
		ssize_t r;

		if (ms <= 0 || poll(&pf, 1, ms) <= 0)
			return -1;
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
write_full(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
dial(const char *addr)
{
	char host[64], port[8];
	struct addrinfo hints, *ai = NULL;
	int fd, one = 1;

	if (config_split_addr(addr, host, port) != 0)
		die("bad HQ address %s", addr);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		die("cannot resolve HQ address %s", addr);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		die("cannot connect to HQ at %s: %s", addr, strerror(errno));
	freeaddrinfo(ai);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Dial HQ, Noise IK handshake (enrolling if not enrolled yet), empty SYNC. */
static void
post_connect(struct post *p, double timeout)
{
	struct noise_hs *hs = sodium_malloc(sizeof(*hs));
	uint8_t out[512], in[WIRE_FRAME_MAX], payload[256], lb[2];
	struct wire_hello hello;
	struct wire_welcome w;
	struct wire_sync s;
	struct kerr e = { "" };
	struct buf b;
	size_t olen, plen, l;
	int enrolling = !p->cfg.enrolled;

	if (hs == NULL)
		die("out of memory");
	p->fd = dial(p->cfg.hq);
	if (noise_hs_init(hs, NOISE_IK, 1, (const uint8_t *)NODE_PROLOGUE,
	    strlen(NODE_PROLOGUE), &p->nk, p->cfg.hq_pk.enc, NULL) != 0)
		die("%s: cannot start the handshake", p->cfg.name);
	memset(&hello, 0, sizeof(hello));
	hello.version = WIRE_VERSION;
	snprintf(hello.name, sizeof(hello.name), "%s", p->cfg.name);
	hello.intent = WIRE_CONNECT;
	if (enrolling) {
		struct buf m;
		size_t sl;

		hello.intent = WIRE_ENROL;
		if (sodium_base642bin(hello.secret, 32, p->cfg.join_secret,
		    strlen(p->cfg.join_secret), NULL, &sl, NULL,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || sl != 32)
			die("%s: join_secret in kodend.conf is malformed", p->dir);
		memcpy(hello.sign_pk, p->key->pub.sign, 32);
		buf_init(&m, 256);
		if (admin_enrol_message(&m, p->cfg.name, p->key->pub.enc) != 0)
			die("out of memory");
		crypto_sign_detached(hello.sig, NULL, m.p, m.len,
		    p->key->sign_sk);
		buf_free(&m);
	}
	buf_init_secret(&b, 512);
	if (wire_hello_encode(&b, &hello) != 0 ||
	    noise_hs_write(hs, b.p, b.len, out + 2, sizeof(out) - 2, &olen) != 0)
		die("%s: cannot write handshake message 1", p->cfg.name);
	buf_free(&b);
	sodium_memzero(&hello, sizeof(hello));
	out[0] = (uint8_t)(olen >> 8);
	out[1] = (uint8_t)olen;
	if (write_full(p->fd, out, 2 + olen) != 0)
		die("%s: HQ closed the connection", p->cfg.name);
	if (read_full(p->fd, lb, 2, now() + timeout) != 0 ||
	    (l = (size_t)lb[0] << 8 | lb[1]) == 0 ||
	    read_full(p->fd, in, l, now() + timeout) != 0)
		die("%s: no handshake answer from HQ within %.0f s: HQ refused "
		    "the %s (see HQ's log)", p->cfg.name, timeout,
		    enrolling ? "enrolment" : "connection");
	if (noise_hs_read(hs, in, l, payload, sizeof(payload), &plen) != 0 ||
	    wire_welcome_decode(&w, payload, plen, &e) != 0 ||
	    noise_hs_split(hs, &p->tx, &p->rx) != 0)
		die("%s: handshake with HQ failed %s", p->cfg.name, e.msg);
	sodium_free(hs);
	if (enrolling) {	/* as hs_initiator does */
		p->cfg.enrolled = 1;
		sodium_memzero(p->cfg.join_secret, sizeof(p->cfg.join_secret));
		if (config_save(&p->cfg, p->dir, &e) != 0)
			fprintf(stderr, "relay_sim: %s: enrolled, but cannot save "
			    "kodend.conf: %s\n", p->cfg.name, e.msg);
	}
	memset(&s, 0, sizeof(s));	/* n = 0: this post holds nothing */
	buf_init(&b, 64);
	if (wire_sync_encode(&b, &s) != 0 ||
	    send_msg(p, WIRE_SYNC, TG_FLASH, b.p, b.len) != 0 ||
	    write_full(p->fd, p->out, p->out_len) != 0)
		die("%s: cannot send SYNC", p->cfg.name);
	buf_free(&b);
	p->out_off = p->out_len = 0;
	if (fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK) != 0)
		die("fcntl: %s", strerror(errno));
	fprintf(stderr, "  %s: %s, link up (roster version %llu)\n", p->cfg.name,
	    enrolling ? "enrolled" : "connected",
	    (unsigned long long)w.roster_version);
}

static void
post_load(struct post *p, int idx, const char *dir)
{
	char path[PATH_MAX];
	struct kerr e = { "" };
	uint8_t *txt = NULL;
	size_t len = 0;
	int r;

	memset(p, 0, sizeof(*p));
	p->idx = idx;
	p->fd = p->evfd = -1;
	snprintf(p->dir, sizeof(p->dir), "%s", dir);
	if (config_load(&p->cfg, dir, &e) != 0)
		die("%s: %s", dir, e.msg);
	if (p->cfg.role != ROLE_POST)
		die("%s is not a post's NODEDIR", dir);
	if (node_path(path, sizeof(path), dir, NODE_KEY_FILE) != 0 ||
	    (r = keyfile_read(path, &txt, &len, &e)) != 0 ||
	    (r = keyfile_decode(&p->key, txt, len, NULL, 0, &e)) != 0)
		die("%s: %s", path, e.msg);
	sodium_memzero(txt, len);
	free(txt);
	if (noise_keypair_from_private(&p->nk, p->key->enc_sk) != 0)
		die("%s: node key unusable", dir);
	p->in = xcalloc(IN_CAP, 1);
	buf_init(&p->hdr, 64);
	wire_rx_init(&p->wrx);
	pthread_mutex_init(&p->mu, NULL);
	if ((p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		die("eventfd: %s", strerror(errno));
}

static void
wake_all(void)
{
	uint64_t one = 1;

	for (size_t i = 0; i < g.n; i++)
		(void)!write(g.p[i].evfd, &one, sizeof(one));
}

static void
check_failed(void)
{
	if (atomic_load(&g.failed)) {
		pthread_mutex_lock(&g.err_mu);
		die("%s", g.err);
	}
}

/* Every post holds a roster with every post, under its own keys. */
static void
wait_rosters(double timeout)
{
	double deadline = now() + timeout;

	for (size_t i = 0; i < g.n; i++) {
		struct post *p = &g.p[i];

		for (;;) {
			int ok = 0;

			check_failed();
			pthread_mutex_lock(&p->mu);
			if (p->have_roster) {
				ok = 1;
				for (size_t j = 0; j < g.n && ok; j++) {
					const struct roster_entry *re =
					    roster_find(&p->ro, g.p[j].cfg.name);

					ok = re != NULL && !re->revoked &&
					    re->kind == ROSTER_POST &&
					    pubkey_equal(&re->pk, &g.p[j].key->pub);
				}
			}
			pthread_mutex_unlock(&p->mu);
			if (ok)
				break;
			if (now() > deadline)
				die("%s: no roster with every post after %.0f s",
				    p->cfg.name, timeout);
			sleep_ms(10);
		}
	}
}

/* ---- sealing ------------------------------------------------------------------ */

/* The drafting text of one telegram, exactly size bytes (relay_client's). */
static void
make_draft(struct buf *d, const char *from, const char *to, uint64_t k,
    size_t size)
{
	char line[512];
	uint64_t x = k * 6364136223846793005ULL + 1442695040888963407ULL;
	size_t col = 3;
	int fresh = 1;

	d->len = 0;
	snprintf(line, sizeof(line), "FROM: %s\nTO: %s\nPRECEDENCE: ROUTINE\n"
	    "CLASSIFICATION: SECRET\nSUBJECT: Relay benchmark %s %llu\n"
	    "DRAFTER: K. SATO\n\n1. ", from, to, from, (unsigned long long)k);
	if (buf_put(d, line, strlen(line)) != 0)
		die("out of memory");
	for (;;) {
		const char *w;
		size_t wl;

		x ^= x >> 33;
		x *= 0xff51afd7ed558ccdULL;
		x ^= x >> 29;
		w = bench_words[x % bench_nwords];
		wl = strlen(w);
		if (d->len + 1 + wl + 1 + 3 + 1 > size)
			break;
		if (!fresh && col + 1 + wl > 72) {
			if (buf_put(d, "\n   ", 4) != 0)
				die("out of memory");
			col = 3;
			fresh = 1;
		}
		if (!fresh) {
			if (buf_put_u8(d, ' ') != 0)
				die("out of memory");
			col++;
		}
		if (buf_put(d, w, wl) != 0)
			die("out of memory");
		col += wl;
		fresh = 0;
	}
	if (d->len + 2 < size && buf_put_u8(d, ' ') != 0)
		die("out of memory");
	while (d->len + 1 < size)
		if (buf_put_u8(d, 'X') != 0)
			die("out of memory");
	if (buf_put_u8(d, '\n') != 0)
		die("out of memory");
}

struct sealjob {
	struct round *R;
	size_t size;
	uint64_t *seq;		/* per telegram: its sequence number */
	uint64_t *serial;
	atomic_size_t next;
};

static void *
seal_worker(void *arg)
{
	struct sealjob *j = arg;
	struct tg_policy pol;
	struct buf d;

	tg_policy_default(&pol);
	buf_init(&d, TG_DRAFT_MAX);
	for (;;) {
		size_t k = atomic_fetch_add(&j->next, 1);
		struct tgm *t;
		struct post *o, *to;
		const struct roster_entry *re;
		struct pubkey rcpt[2];
		struct tg *tg = NULL;
		struct kerr e = { "" };
		int r;

		if (k >= j->R->total)
			break;
		t = &j->R->t[k];
		o = &g.p[t->from];
		to = &g.p[t->to];
		make_draft(&d, o->cfg.name, to->cfg.name, j->serial[k], j->size);
		if ((r = tg_parse_draft(&tg, (const char *)d.p, d.len, &pol,
		    &e)) != 0)
			die("draft: %s", kerr_msg(&e, r));
		/* the addressee's key and the origin's, from o's roster */
		pthread_mutex_lock(&o->mu);
		if ((re = roster_find(&o->ro, to->cfg.name)) == NULL)
			die("%s is not in %s's roster", to->cfg.name, o->cfg.name);
		rcpt[0] = re->pk;
		if ((re = roster_find(&o->ro, o->cfg.name)) == NULL)
			die("%s is not in its own roster", o->cfg.name);
		rcpt[1] = re->pk;
		pthread_mutex_unlock(&o->mu);
		tg->serial = j->serial[k] % TG_SERIAL_MAX + 1;
		tg_new_id(tg->id);
		tg->dtg = (uint64_t)time(NULL);
		buf_init(&t->env, ENV_MAX);
		if ((r = env_seal(&t->env, tg, o->key, o->key, rcpt, 2, &e)) != 0 ||
		    (r = env_sign_origin(&t->env, &j->seq[k], 1, o->key, &e)) != 0)
			die("seal: %s", kerr_msg(&e, r));
		memcpy(t->id, tg->id, 16);
		tg_free(tg);
		/* the addressee's receipt, signed now rather than on the clock */
		buf_init(&t->receipt, RECEIPT_MAX);
		if (g.receipts && make_receipt(&t->receipt, to, t->id,
		    o->cfg.name, t->env.p, t->env.len) != 0)
			die("cannot sign %s's receipt", to->cfg.name);
	}
	buf_free(&d);
	return NULL;
}

/* A round of m telegrams per sender, sealed; seconds taken in *secs. */
static struct round *
round_make(int no, size_t m, size_t size, int nthreads, double *secs)
{
	struct round *R = xcalloc(1, sizeof(*R));
	struct sealjob j;
	pthread_t th[16];
	double t0 = now();
	size_t k = 0;

	R->no = no;
	R->m = m;
	R->total = m * g.n_send;
	R->t = xcalloc(R->total, sizeof(*R->t));
	memset(&j, 0, sizeof(j));
	j.R = R;
	j.size = size;
	j.seq = xcalloc(R->total, sizeof(*j.seq));
	j.serial = xcalloc(R->total, sizeof(*j.serial));
	for (size_t s = 0; s < g.n_send; s++) {
		struct post *o = &g.p[s];

		for (size_t i = 0; i < m; i++, k++) {
			/* alternately to each of the other posts */
			size_t pick = i % (g.n - 1);
			uint16_t to = (uint16_t)(pick >= s ? pick + 1 : pick);

			R->t[k].from = (uint16_t)s;
			R->t[k].to = to;
			j.seq[k] = ++o->seq[to];
			j.serial[k] = ++o->serial;
		}
	}
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > 16)
		nthreads = 16;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, seal_worker, &j) != 0)
			die("pthread_create");
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	free(j.seq);
	free(j.serial);
	round_index(R);
	*secs = now() - t0;
	return R;
}

/* ---- measuring ---------------------------------------------------------------- */

/* CPU time (user + system) of /proc/PID/stat or /proc/PID/task/TID/stat, ms. */
static double
stat_cpu_ms(const char *path, int pid)
{
	char buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	if ((f = fopen(path, "r")) == NULL)
		die("HQ's kodend (pid %d) is gone: see its log", pid);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		die("%s: cannot parse", path);
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* CPU time (user + system, all threads) of a process, in milliseconds. */
static double
cpu_ms(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return stat_cpu_ms(path, pid);
}

/* Per-thread CPU of a process: up to max (tid, ms) pairs; how many. */
#define THREADS_MAX 64
static size_t
thread_cpu_ms(int pid, int *tid, double *ms)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((d = opendir(path)) == NULL)
		die("HQ's kodend (pid %d) is gone: see its log", pid);
	while (n < THREADS_MAX && (de = readdir(d)) != NULL) {
		char p2[128];

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		tid[n] = atoi(de->d_name);
		snprintf(p2, sizeof(p2), "/proc/%d/task/%d/stat", pid, tid[n]);
		ms[n++] = stat_cpu_ms(p2, pid);
	}
	closedir(d);
	return n;
}

static double
self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 +
	    (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
}

/* The machine's busy and total jiffies, from /proc/stat. */
static void
machine_jiffies(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
	    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
	    &v[9]) >= 8) {
		for (int i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];	/* minus idle, iowait */
	}
	fclose(f);
}

static int
proc_threads(int pid)
{
	char path[64], line[256];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static long long
db_count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die("HQ's store: %s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * fsync latency where HQ's store lives: n appends of 8 KiB, each followed
 * by fsync (what a WAL commit with synchronous = FULL costs at least).
 */
static double
fsync_p50_ms(const char *dir, int n)
{
	char path[PATH_MAX];
	uint8_t blk[8192];
	double *v = xcalloc((size_t)n, sizeof(*v));
	double r;
	int fd;

	snprintf(path, sizeof(path), "%s/relay_sim.fsync.%ld", dir,
	    (long)getpid());
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		die("%s: %s", path, strerror(errno));
	unlink(path);
	memset(blk, 'x', sizeof(blk));
	for (int i = 0; i < n; i++) {
		double t0 = now();

		if (write_full(fd, blk, sizeof(blk)) != 0 || fsync(fd) != 0)
			die("fsync test in %s: %s", dir, strerror(errno));
		v[i] = (now() - t0) * 1e3;
	}
	close(fd);
	r = pct(v, (size_t)n, 50);
	free(v);
	return r;
}

struct result {
	double rate_accept, rate_relay, t_accept, t_relay, t_drained;
	double cpu_hq, cpu_hq_top, cpu_sim, busy;
	double ack_p50, ack_p99, relay_p50, relay_p99;
	double t_rcpt, rate_rcpt, rcpt_p50, rcpt_p99;
	size_t dup, stale;
};

static void
round_run(struct round *R, int hq_pid, sqlite3 *hqdb, double timeout,
    struct result *res)
{
	unsigned long long b0, j0, b1, j1;
	double t0, deadline, c0, s0, t_acc = 0, t_rel = 0, t_end;
	double *lat, tms0[THREADS_MAX], tms1[THREADS_MAX];
	int tid0[THREADS_MAX], tid1[THREADS_MAX];
	size_t nt0, nt1;
	long long env0, q;

	memset(res, 0, sizeof(*res));
	env0 = db_count(hqdb, "SELECT count(*) FROM env");
	if ((q = db_count(hqdb, "SELECT count(*) FROM queue")) != 0)
		die("HQ's queue holds %lld items before the round", q);
	machine_jiffies(&b0, &j0);
	c0 = cpu_ms(hq_pid);
	nt0 = thread_cpu_ms(hq_pid, tid0, tms0);
	s0 = self_cpu_ms();
	t0 = now();
	pthread_rwlock_wrlock(&g.lock);
	g.R = R;
	pthread_rwlock_unlock(&g.lock);
	wake_all();
	deadline = t0 + timeout;
	while (atomic_load(&R->acked) < R->total ||
	    atomic_load(&R->rcvd) < R->total ||
	    (g.receipts && atomic_load(&R->rcpt) < R->total)) {
		check_failed();
		if (now() > deadline)
			die("round %d: timed out after %.0f s: HQ acked %zu, the "
			    "addressees received %zu and the origins %zu receipts "
			    "of %zu telegrams", R->no, timeout,
			    atomic_load(&R->acked), atomic_load(&R->rcvd),
			    atomic_load(&R->rcpt), R->total);
		if (kill(hq_pid, 0) != 0)
			die("HQ's kodend (pid %d) exited: see its log", hq_pid);
		sleep_ms(1);
	}
	/* HQ still drops the last queue entries on the addressees' acks */
	while ((q = db_count(hqdb, "SELECT count(*) FROM queue")) != 0) {
		check_failed();
		if (now() > deadline)
			die("round %d: HQ's queue still holds %lld items", R->no,
			    q);
		sleep_ms(2);
	}
	t_end = now();
	res->cpu_hq = cpu_ms(hq_pid) - c0;
	nt1 = thread_cpu_ms(hq_pid, tid1, tms1);
	for (size_t i = 0; i < nt1; i++) {	/* HQ's busiest thread */
		double base = 0;

		for (size_t k = 0; k < nt0; k++)
			if (tid0[k] == tid1[i])
				base = tms0[k];
		if (tms1[i] - base > res->cpu_hq_top)
			res->cpu_hq_top = tms1[i] - base;
	}
	res->cpu_sim = self_cpu_ms() - s0;
	machine_jiffies(&b1, &j1);
	res->busy = j1 > j0 ? (double)(b1 - b0) / (double)(j1 - j0) : 0;
	if (db_count(hqdb, "SELECT count(*) FROM env") - env0 !=
	    (long long)R->total)
		die("round %d: HQ's env table grew by %lld, not %zu", R->no,
		    db_count(hqdb, "SELECT count(*) FROM env") - env0, R->total);
	lat = xcalloc(R->total, sizeof(*lat));
	for (size_t k = 0; k < R->total; k++) {
		if (R->t[k].t_ack > t_acc)
			t_acc = R->t[k].t_ack;
		if (R->t[k].t_rx > t_rel)
			t_rel = R->t[k].t_rx;
		if (R->t[k].t_rcpt > res->t_rcpt)
			res->t_rcpt = R->t[k].t_rcpt;
	}
	res->t_accept = t_acc - t0;
	res->t_relay = t_rel - t0;
	res->t_drained = t_end - t0;
	res->rate_accept = (double)R->total / res->t_accept;
	res->rate_relay = (double)R->total / res->t_relay;
	for (size_t k = 0; k < R->total; k++)
		lat[k] = (R->t[k].t_ack - R->t[k].t_send) * 1e3;
	res->ack_p50 = pct(lat, R->total, 50);
	res->ack_p99 = pct(lat, R->total, 99);
	for (size_t k = 0; k < R->total; k++)
		lat[k] = (R->t[k].t_rx - R->t[k].t_send) * 1e3;
	res->relay_p50 = pct(lat, R->total, 50);
	res->relay_p99 = pct(lat, R->total, 99);
	if (g.receipts) {
		res->t_rcpt -= t0;
		res->rate_rcpt = (double)R->total / res->t_rcpt;
		for (size_t k = 0; k < R->total; k++)
			lat[k] = (R->t[k].t_rcpt - R->t[k].t_send) * 1e3;
		res->rcpt_p50 = pct(lat, R->total, 50);
		res->rcpt_p99 = pct(lat, R->total, 99);
	}
	free(lat);
	res->dup = atomic_load(&R->dup);
	res->stale = atomic_load(&R->stale);
	pthread_rwlock_wrlock(&g.lock);
	g.R = NULL;
	pthread_rwlock_unlock(&g.lock);
}

/* ---- main ------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "hq", required_argument, NULL, 'H' },
		{ "count", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "size", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "senders", required_argument, NULL, 'S' },
		{ "no-receipts", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *hqdir = NULL;
	size_t m = 5000, window = 512, warmup = 500, size = 4096, senders = 0;
	int rounds = 3, threads = 2, c, hq_pid = 0, hq_threads;
	double timeout = 120;
	char path[PATH_MAX];
	struct config hqcfg;
	struct kerr e = { "" };
	sqlite3 *hqdb = NULL;
	FILE *f;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "H:n:w:r:W:s:j:T:S:", lo, NULL)) != -1) {
		switch (c) {
		case 'H': hqdir = optarg; break;
		case 'n': m = strtoull(optarg, NULL, 10); break;
		case 'w': window = strtoull(optarg, NULL, 10); break;
		case 'r': rounds = atoi(optarg); break;
		case 'W': warmup = strtoull(optarg, NULL, 10); break;
		case 's': size = strtoull(optarg, NULL, 10); break;
		case 'j': threads = atoi(optarg); break;
		case 'T': timeout = atof(optarg); break;
		case 'S': senders = strtoull(optarg, NULL, 10); break;
		case 'R': g.receipts = -1; break;
		default: exit(2);
		}
	}
	if (hqdir == NULL || argc - optind < 2 || argc - optind > MAX_POSTS ||
	    m < 1 || window < 1 || rounds < 1 || size < 512 || timeout <= 0)
		die("usage: relay_sim --hq HQDIR [-n M] [-w W] [-r ROUNDS] "
		    "[--warmup K] [-s BYTES] [-j THREADS] [-T SECONDS] "
		    "[--senders S] [--no-receipts] POSTDIR POSTDIR...  "
		    "(2 to %d posts)", MAX_POSTS);
	if (sodium_init() < 0)
		die("sodium_init failed");
	g.receipts = g.receipts == 0;

	/* HQ: its pid (it must be running) and its store, read-only */
	if (config_load(&hqcfg, hqdir, &e) != 0)
		die("%s: %s", hqdir, e.msg);
	if (hqcfg.role != ROLE_HQ)
		die("%s is not HQ's NODEDIR", hqdir);
	snprintf(path, sizeof(path), "%s/%s", hqdir, NODE_PID_FILE);
	if ((f = fopen(path, "r")) == NULL || fscanf(f, "%d", &hq_pid) != 1 ||
	    hq_pid <= 0 || kill(hq_pid, 0) != 0)
		die("HQ's kodend is not running on %s", hqdir);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s", hqdir, NODE_DB_FILE);
	if (sqlite3_open_v2(path, &hqdb, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("%s: %s", path, hqdb ? sqlite3_errmsg(hqdb) : "cannot open");
	sqlite3_busy_timeout(hqdb, 5000);

	/* the simulated posts: enrol or connect, one thread each */
	g.n = (size_t)(argc - optind);
	g.n_send = senders ? senders : g.n;
	if (g.n_send > g.n)
		die("--senders %zu: only %zu posts", senders, g.n);
	g.p = xcalloc(g.n, sizeof(*g.p));
	{
		pthread_rwlockattr_t ra;	/* main's swaps must not starve */

		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(&ra,
		    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&g.lock, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	pthread_mutex_init(&g.err_mu, NULL);
	for (size_t i = 0; i < g.n; i++) {
		post_load(&g.p[i], (int)i, argv[optind + (int)i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(g.p[j].cfg.name, g.p[i].cfg.name) == 0)
				die("post %s given twice", g.p[i].cfg.name);
		g.p[i].sender = i < g.n_send;
		g.p[i].window = window;
		g.p[i].round_no = -1;
	}
	for (size_t i = 0; i < g.n; i++) {
		post_connect(&g.p[i], 15);
		if (pthread_create(&g.p[i].th, NULL, post_main, &g.p[i]) != 0)
			die("pthread_create");
	}
	wait_rosters(30);
	hq_threads = proc_threads(hq_pid);
	fprintf(stderr, "  %zu simulated posts linked to HQ (pid %d, %d threads); "
	    "%zu of them send\n", g.n, hq_pid, hq_threads, g.n_send);
	printf("posts=%zu\nsenders=%zu\ncount=%zu\nwindow=%zu\nrounds=%d\n"
	    "bytes_draft=%zu\nhq_batch=%u\nhq_threads=%d\nreceipts=%d\n", g.n,
	    g.n_send, m, window, rounds, size, hqcfg.batch, hq_threads,
	    g.receipts);
	printf("fsync_ms_p50=%.3f\n", fsync_p50_ms(hqdir, 200));

	for (int r = warmup ? 0 : 1; r <= rounds; r++) {
		size_t mm = r == 0 ? warmup : m;
		struct result res;
		struct round *R;
		double seal_s, others;

		R = round_make(r, mm, size, threads, &seal_s);
		fprintf(stderr, "  %s: sealed %zu telegrams (%zu-byte envelopes) "
		    "in %.1f s\n", r == 0 ? "warm-up" : "round", R->total,
		    R->t[0].env.len, seal_s);
		if (r == 1)
			printf("bytes_env=%zu\n", R->t[0].env.len);
		round_run(R, hq_pid, hqdb, timeout, &res);
		/* cores other processes used: the machine is shared */
		others = res.busy * (double)sysconf(_SC_NPROCESSORS_ONLN) -
		    (res.cpu_hq + res.cpu_sim) / (res.t_drained * 1e3);
		if (others < 0)
			others = 0;
		fprintf(stderr, "  %s %d: %zu telegrams: accepted by HQ %.0f/s "
		    "(%.2f s), relayed %.0f/s (%.2f s), receipts back %.0f/s; HQ CPU %.3f ms/telegram "
		    "(%.0f%% of a core, its busiest thread %.0f%%), this process "
		    "%.3f ms; machine %.0f%% busy (others %.2f cores)\n",
		    r == 0 ? "warm-up" : "round",
		    r, R->total, res.rate_accept, res.t_accept, res.rate_relay,
		    res.t_relay, res.rate_rcpt, res.cpu_hq / (double)R->total,
		    100 * res.cpu_hq / (res.t_drained * 1e3),
		    100 * res.cpu_hq_top / (res.t_drained * 1e3),
		    res.cpu_sim / (double)R->total, 100 * res.busy, others);
		if (r > 0) {
			printf("r%d_telegrams=%zu\nr%d_seal_s=%.3f\n"
			    "r%d_t_accept=%.3f\nr%d_t_relay=%.3f\n"
			    "r%d_t_drained=%.3f\n", r, R->total, r, seal_s, r,
			    res.t_accept, r, res.t_relay, r, res.t_drained);
			printf("r%d_rate_accept=%.0f\nr%d_rate_relay=%.0f\n", r,
			    res.rate_accept, r, res.rate_relay);
			printf("r%d_cpu_hq_ms_per_tg=%.4f\nr%d_hq_cores=%.2f\n"
			    "r%d_hq_top_thread=%.2f\n"
			    "r%d_cpu_sim_ms_per_tg=%.4f\nr%d_machine_busy=%.3f\n"
			    "r%d_other_cores=%.2f\n",
			    r, res.cpu_hq / (double)R->total, r,
			    res.cpu_hq / (res.t_drained * 1e3), r,
			    res.cpu_hq_top / (res.t_drained * 1e3), r,
			    res.cpu_sim / (double)R->total, r, res.busy, r,
			    others);
			printf("r%d_ack_ms_p50=%.1f\nr%d_ack_ms_p99=%.1f\n"
			    "r%d_relay_ms_p50=%.1f\nr%d_relay_ms_p99=%.1f\n"
			    "r%d_dup=%zu\nr%d_stale=%zu\n", r, res.ack_p50, r,
			    res.ack_p99, r, res.relay_p50, r, res.relay_p99, r,
			    res.dup, r, res.stale);
			if (g.receipts)
				printf("r%d_t_receipt=%.3f\nr%d_rate_receipt=%.0f\n"
				    "r%d_receipt_ms_p50=%.1f\n"
				    "r%d_receipt_ms_p99=%.1f\n", r, res.t_rcpt, r,
				    res.rate_rcpt, r, res.rcpt_p50, r,
				    res.rcpt_p99);
		}
		round_free(R);
	}
	atomic_store(&g.stop, 1);
	wake_all();
	for (size_t i = 0; i < g.n; i++) {
		pthread_join(g.p[i].th, NULL);
		close(g.p[i].fd);
		close(g.p[i].evfd);
	}
	check_failed();
	sqlite3_close(hqdb);
	return 0;
}
