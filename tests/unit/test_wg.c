/*
 * The WireGuard protocol engine (src/vpn/wg_*.c) between in-process devices:
 * no sockets, no TUN, an injected clock.  Each device's output datagrams
 * and TUN writes are captured; deliver() carries datagrams from one device
 * to another with a chosen source address.
 *
 * Covers: handshake build/parse round trip and exact message sizes, data
 * both ways, truncated/oversized/garbage/wrong-MAC1 messages, the cookie
 * reply under load and the MAC2 retry, replayed TAI64N initiations, the
 * rekey and reject timers, keepalives, key zeroing, data replay, inner
 * source checks, roaming and unknown peers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "lib/log.h"
#include "vpn/wg.h"

#define QMAX 64

struct dgram {
	struct sockaddr_storage to;
	socklen_t to_len;
	size_t len;
	uint8_t p[WG_DATAGRAM_MAX];
};

struct node {
	struct wg_dev *dev;
	struct wg_peer *peer;		/* its one peer */
	struct sockaddr_in addr;	/* its address on the "wire" */
	uint8_t priv[32], pub[32];
	struct dgram *out;		/* QMAX captured datagrams */
	size_t n_out;
	uint8_t tun[QMAX][2048];
	size_t tun_len[QMAX], n_tun;
};

static uint64_t now;

static void
cap_udp(void *ctx, const struct sockaddr *to, socklen_t to_len,
    const uint8_t *p, size_t len)
{
	struct node *n = ctx;
	struct dgram *d;

	assert_true(n->n_out < QMAX);
	d = &n->out[n->n_out++];
	memcpy(&d->to, to, to_len);
	d->to_len = to_len;
	assert_true(len <= sizeof(d->p));
	memcpy(d->p, p, len);
	d->len = len;
}

static void
cap_tun(void *ctx, const uint8_t *p, size_t len)
{
	struct node *n = ctx;

	assert_true(n->n_tun < QMAX && len <= sizeof(n->tun[0]));
	memcpy(n->tun[n->n_tun], p, len);
	n->tun_len[n->n_tun++] = len;
}

static const struct wg_io cap_io = { .udp_send = cap_udp, .tun_write = cap_tun };

/* The batched variant koden-vpn uses: reserved slots sealed later, and a
 * "parallel" runner that at least runs the work in two chunks. */
static uint8_t *
cap_reserve(void *ctx, const struct sockaddr *to, socklen_t to_len,
    size_t len)
{
	struct node *n = ctx;
	struct dgram *d;

	assert_true(n->n_out < QMAX && len <= sizeof(d->p));
	d = &n->out[n->n_out++];
	memcpy(&d->to, to, to_len);
	d->to_len = to_len;
	d->len = len;
	return d->p;
}

static void
two_chunks(void *ctx, void (*fn)(void *arg, size_t lo, size_t hi), void *arg,
    size_t n)
{
	(void)ctx;
	fn(arg, 0, n / 2);
	fn(arg, n / 2, n);
}

static const struct wg_io batch_io = { .udp_send = cap_udp,
    .tun_write = cap_tun, .udp_reserve = cap_reserve, .run = two_chunks };

/* node uses batch_io and wg_dev_recv_batch in deliver() */
static bool batch_mode;

static void
node_init(struct node *n, uint8_t id)
{
	memset(n, 0, sizeof(*n));
	n->out = calloc(QMAX, sizeof(*n->out));
	assert_non_null(n->out);
	assert_int_equal(wg_dev_new(&n->dev, batch_mode ? &batch_io : &cap_io,
	    n), 0);
	n->dev->wall_offset_ns = 1700000000LL * 1000000000LL;
	randombytes_buf(n->priv, 32);
	assert_int_equal(wg_dev_set_private_key(n->dev, n->priv), 0);
	memcpy(n->pub, n->dev->static_kp.pub, 32);
	n->addr.sin_family = AF_INET;
	n->addr.sin_port = htons(51820 + id);
	n->addr.sin_addr.s_addr = htonl(0xc0a80000u | id);	/* 192.168.0.id */
}

static void
node_free(struct node *n)
{
	wg_dev_free(n->dev);
	free(n->out);
}

/* a knows b as a peer: endpoint b's address, allowed IPs 10.0.0.(b's id)/32 */
static void
know(struct node *a, struct node *b, uint8_t id)
{
	uint8_t ip[4] = { 10, 0, 0, id };

	assert_int_equal(wg_peer_new(a->dev, b->pub, &a->peer), 0);
	wg_peer_set_endpoint(a->peer, (struct sockaddr *)&b->addr,
	    sizeof(b->addr));
	assert_int_equal(wg_peer_allowed_add(a->peer, AF_INET, ip, 32), 0);
}

/* An IPv4 packet src -> dst (10.0.0.x) with plen payload bytes. */
static size_t
ip4(uint8_t *p, uint8_t src, uint8_t dst, size_t plen)
{
	size_t len = 20 + plen;

	memset(p, 0, len);
	p[0] = 0x45;
	p[2] = len >> 8;
	p[3] = len;
	p[8] = 64;
	p[9] = 17;
	p[12] = 10, p[15] = src;
	p[16] = 10, p[19] = dst;
	for (size_t i = 0; i < plen; i++)
		p[20 + i] = (uint8_t)(i * 7 + src);
	return len;
}

/* Deliver every datagram from queued at `from` to `to` (source from->addr,
 * or src if non-NULL); returns how many. */
static size_t
deliver_from(struct node *from, struct node *to, const struct sockaddr_in *src)
{
	size_t n = from->n_out;

	if (batch_mode) {
		struct wg_rx rx[QMAX];

		wg_dev_seal(from->dev);
		from->n_out = 0;
		for (size_t i = 0; i < n; i++) {
			rx[i].from = (const struct sockaddr *)(src ? src :
			    &from->addr);
			rx[i].from_len = sizeof(from->addr);
			rx[i].p = from->out[i].p;
			rx[i].len = from->out[i].len;
		}
		wg_dev_recv_batch(to->dev, now, rx, n);
		return n;
	}
	from->n_out = 0;
	for (size_t i = 0; i < n; i++)
		wg_dev_recv(to->dev, now, (const struct sockaddr *)(src ? src :
		    &from->addr), sizeof(from->addr), from->out[i].p,
		    from->out[i].len);
	return n;
}

static size_t
deliver(struct node *from, struct node *to)
{
	return deliver_from(from, to, NULL);
}

struct pair {
	struct node a, b;
};

static int
setup(void **state)
{
	struct pair *pr = calloc(1, sizeof(*pr));

	if (pr == NULL || sodium_init() < 0)
		return -1;
	now = 1000 * WG_NSEC;
	node_init(&pr->a, 1);
	node_init(&pr->b, 2);
	know(&pr->a, &pr->b, 2);
	know(&pr->b, &pr->a, 1);
	*state = pr;
	return 0;
}

static int
teardown(void **state)
{
	struct pair *pr = *state;

	node_free(&pr->a);
	node_free(&pr->b);
	free(pr);
	return 0;
}

static int
setup_batch(void **state)
{
	batch_mode = true;
	return setup(state);
}

static int
teardown_batch(void **state)
{
	int r = teardown(state);

	batch_mode = false;
	return r;
}

/* A sends one packet to B, and the whole handshake runs; checks sizes. */
static void
handshake(struct pair *pr)
{
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256];
	size_t len = ip4(pkt, 1, 2, 50);

	wg_dev_send(a->dev, now, pkt, len);
	assert_int_equal(a->n_out, 1);
	assert_int_equal(a->out[0].len, WG_INITIATION_LEN);
	assert_int_equal(a->out[0].p[0], WG_MSG_INITIATION);
	deliver(a, b);
	assert_int_equal(b->n_out, 1);
	assert_int_equal(b->out[0].len, WG_RESPONSE_LEN);
	assert_int_equal(b->out[0].p[0], WG_MSG_RESPONSE);
	/* the responder keeps its session as "next" until confirmed */
	assert_null(b->peer->cur);
	assert_non_null(b->peer->next_kp);
	deliver(b, a);
	assert_non_null(a->peer->cur);
	assert_true(a->peer->cur->initiator);
	/* the staged packet goes out at once: 16 + roundup16(70) + 16 */
	assert_int_equal(a->n_out, 1);
	assert_int_equal(a->out[0].len, WG_DATA_HEADER_LEN + 80 + 16);
	assert_int_equal(a->out[0].p[0], WG_MSG_DATA);
	b->n_tun = 0;
	deliver(a, b);
	assert_int_equal(b->n_tun, 1);
	assert_int_equal(b->tun_len[0], len);
	assert_memory_equal(b->tun[0], pkt, len);
	assert_non_null(b->peer->cur);
	assert_null(b->peer->next_kp);
}

static void
test_handshake_round_trip(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256];
	size_t len;

	handshake(pr);
	assert_true(a->peer->last_handshake_sec > 1700000000);
	assert_true(b->peer->last_handshake_sec > 1700000000);
	assert_true(a->peer->tx_bytes > 0 && b->peer->rx_bytes > 0);
	/* transport keys pair up */
	assert_memory_equal(a->peer->cur->send_key, b->peer->cur->recv_key, 32);
	assert_memory_equal(a->peer->cur->recv_key, b->peer->cur->send_key, 32);
	/* B -> A now works straight away */
	len = ip4(pkt, 2, 1, 100);
	wg_dev_send(b->dev, now, pkt, len);
	assert_int_equal(b->n_out, 1);
	a->n_tun = 0;
	deliver(b, a);
	assert_int_equal(a->n_tun, 1);
	assert_memory_equal(a->tun[0], pkt, len);
	assert_int_equal(a->dev->stats.handshakes_completed, 1);
	assert_int_equal(b->dev->stats.handshakes_completed, 1);
	/* no destination peer: nothing sent */
	len = ip4(pkt, 1, 99, 10);
	wg_dev_send(a->dev, now, pkt, len);
	assert_int_equal(a->n_out, 0);
	assert_int_equal(a->dev->stats.tx_no_peer, 1);
}

static void
test_bad_messages(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256], m[WG_DATAGRAM_MAX];
	size_t len = ip4(pkt, 1, 2, 10);
	struct dgram init;
	static const size_t lens[] = { 0, 1, 3, 4, 31, 147, 149, 91, 93, 63, 65 };

	wg_dev_send(a->dev, now, pkt, len);
	init = a->out[0];
	a->n_out = 0;
	/* truncated and oversized copies of a real initiation */
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(m, 0, sizeof(m));
		memcpy(m, init.p, lens[i] < init.len ? lens[i] : init.len);
		wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr,
		    sizeof(a->addr), m, lens[i]);
	}
	/* the right length but another type, or reserved bytes set */
	memcpy(m, init.p, init.len);
	m[0] = WG_MSG_RESPONSE;
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    m, init.len);
	memcpy(m, init.p, init.len);
	m[2] = 1;
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    m, init.len);
	/* garbage with valid types and lengths */
	for (int i = 0; i < 200; i++) {
		static const size_t gl[] = { 148, 92, 64, 100 };
		size_t l = gl[i % 4];

		randombytes_buf(m, l);
		m[0] = (uint8_t)(1 + i % 4);
		m[1] = m[2] = m[3] = 0;
		wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr,
		    sizeof(a->addr), m, l);
	}
	/* an absurd datagram */
	memset(m, 0, sizeof(m));
	m[0] = WG_MSG_DATA;
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    m, sizeof(m));
	assert_int_equal(b->n_out, 0);
	assert_int_equal(b->n_tun, 0);
	assert_null(b->peer->next_kp);
	assert_null(b->peer->cur);
	assert_true(b->dev->stats.rx_invalid_mac1 >= 100);
	assert_true(b->dev->stats.rx_no_key >= 50);
	/* the genuine one still works afterwards */
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    init.p, init.len);
	assert_int_equal(b->n_out, 1);
	assert_int_equal(b->out[0].len, WG_RESPONSE_LEN);
}

static void
test_mac1_wrong(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256], m[WG_INITIATION_LEN];
	size_t len = ip4(pkt, 1, 2, 10);
	uint8_t mac1key[32];
	uint64_t before;

	wg_dev_send(a->dev, now, pkt, len);
	memcpy(m, a->out[0].p, sizeof(m));
	a->n_out = 0;
	/* one bit of mac1 */
	m[116] ^= 1;
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    m, sizeof(m));
	assert_int_equal(b->dev->stats.rx_invalid_mac1, 1);
	assert_int_equal(b->n_out, 0);
	m[116] ^= 1;
	/* one bit of the body: mac1 no longer matches */
	m[50] ^= 1;
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    m, sizeof(m));
	assert_int_equal(b->dev->stats.rx_invalid_mac1, 2);
	/* body tampered and mac1 recomputed (anyone knowing B's public key
	 * can): mac1 passes, the handshake does not */
	memcpy(mac1key, b->dev->mac1_key, 32);
	assert_int_equal(wg_mac(m + 116, mac1key, 32, m, 116), 0);
	before = b->dev->stats.rx_bad_handshake;
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    m, sizeof(m));
	assert_int_equal(b->dev->stats.rx_bad_handshake, before + 1);
	assert_int_equal(b->n_out, 0);
	/* mac1 made with the wrong key (A's own public key) */
	m[50] ^= 1;
	assert_int_equal(wg_mac(m + 116, a->dev->mac1_key, 32, m, 116), 0);
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    m, sizeof(m));
	assert_int_equal(b->dev->stats.rx_invalid_mac1, 3);
	assert_int_equal(b->n_out, 0);
}

static void
test_cookie_under_load(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256];
	size_t len = ip4(pkt, 1, 2, 10);
	static const uint8_t zero[16];

	b->dev->force_under_load = true;
	wg_dev_send(a->dev, now, pkt, len);
	assert_int_equal(a->n_out, 1);
	/* no cookie yet: mac2 is zero */
	assert_memory_equal(a->out[0].p + 132, zero, 16);
	deliver(a, b);
	/* B answers with a cookie reply, not a response */
	assert_int_equal(b->n_out, 1);
	assert_int_equal(b->out[0].len, WG_COOKIE_REPLY_LEN);
	assert_int_equal(b->out[0].p[0], WG_MSG_COOKIE);
	assert_int_equal(b->dev->stats.rx_cookie_sent, 1);
	assert_null(b->peer->next_kp);
	/* a cookie reply replayed with a bit flipped is refused */
	{
		struct dgram c = b->out[0];

		c.p[40] ^= 1;
		wg_dev_recv(a->dev, now, (struct sockaddr *)&b->addr,
		    sizeof(b->addr), c.p, c.len);
		assert_int_equal(a->peer->cookie_birth, 0);
	}
	deliver(b, a);
	assert_true(a->peer->cookie_birth != 0);
	assert_int_equal(a->n_out, 0);
	/* A retransmits after REKEY_TIMEOUT (+ jitter), now with mac2 */
	now += (WG_REKEY_TIMEOUT + 1) * WG_NSEC;
	wg_dev_tick(a->dev, now);
	assert_int_equal(a->n_out, 1);
	assert_int_equal(a->out[0].len, WG_INITIATION_LEN);
	assert_memory_not_equal(a->out[0].p + 132, zero, 16);
	deliver(a, b);
	assert_int_equal(b->n_out, 1);
	assert_int_equal(b->out[0].len, WG_RESPONSE_LEN);
	deliver(b, a);
	assert_non_null(a->peer->cur);
	/* the same valid mac2 from another source address is not valid */
	{
		struct sockaddr_in other = a->addr;

		a->n_out = 0;
		assert_int_equal(wg_peer_initiate(a->peer, now + 20 * WG_NSEC,
		    false), 0);
		other.sin_port = htons(4444);
		b->n_out = 0;
		deliver_from(a, b, &other);
		assert_int_equal(b->n_out, 1);
		assert_int_equal(b->out[0].p[0], WG_MSG_COOKIE);
	}
}

/* Under load, valid MAC2s are still rate limited per source address. */
static void
test_ratelimit_under_load(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256];
	size_t len = ip4(pkt, 1, 2, 10), answered = 0;
	struct sockaddr_in other;

	b->dev->force_under_load = true;
	wg_dev_send(a->dev, now, pkt, len);
	deliver(a, b);			/* -> cookie reply */
	deliver(b, a);
	assert_true(a->peer->cookie_birth != 0);
	/* 20 initiations 30 ms apart (33/s, over WG_RATE_PER_SEC) */
	for (int i = 0; i < 20; i++) {
		now += 30 * 1000000ULL;
		assert_int_equal(wg_peer_initiate(a->peer, now, true), 0);
		deliver(a, b);
		answered += b->n_out;
		b->n_out = 0;
	}
	assert_true(answered >= WG_RATE_BURST);
	assert_true(answered < 20);
	assert_int_equal(b->dev->stats.rx_ratelimited, 20 - answered);
	/* the same from another address: its own bucket (it gets a cookie
	 * reply, as its MAC2 was made for the first address) */
	other = a->addr;
	other.sin_addr.s_addr = htonl(0xc0a80042);
	now += 30 * 1000000ULL;
	assert_int_equal(wg_peer_initiate(a->peer, now, true), 0);
	deliver_from(a, b, &other);
	assert_int_equal(b->n_out, 1);
	assert_int_equal(b->out[0].p[0], WG_MSG_COOKIE);
	b->n_out = 0;
	/* after a quiet second the first address is served again */
	now += WG_NSEC;
	assert_int_equal(wg_peer_initiate(a->peer, now, true), 0);
	deliver(a, b);
	assert_int_equal(b->n_out, 1);
	assert_int_equal(b->out[0].p[0], WG_MSG_RESPONSE);
}

static void
test_replayed_initiation(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256];
	size_t len = ip4(pkt, 1, 2, 10);
	struct dgram init;

	wg_dev_send(a->dev, now, pkt, len);
	init = a->out[0];
	deliver(a, b);
	assert_int_equal(b->n_out, 1);
	b->n_out = 0;
	/* the very same initiation again, a second later */
	now += WG_NSEC;
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    init.p, init.len);
	assert_int_equal(b->n_out, 0);
	assert_int_equal(b->dev->stats.rx_replayed_timestamp, 1);
	/* a fresh one (newer timestamp) is accepted */
	assert_int_equal(wg_peer_initiate(a->peer, now, true), 0);
	deliver(a, b);
	assert_int_equal(b->n_out, 1);
	assert_int_equal(b->out[0].len, WG_RESPONSE_LEN);
	/* and the flood limit: another within 1/50 s is refused even though
	 * its timestamp is newer (rounded timestamps tie here anyway) */
	b->n_out = 0;
	now += WG_NSEC / 100;
	assert_int_equal(wg_peer_initiate(a->peer, now, true), 0);
	deliver(a, b);
	assert_int_equal(b->n_out, 0);
}

static void
test_rekey_after_time(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256];
	size_t len = ip4(pkt, 1, 2, 10);
	struct wg_keypair *first;

	handshake(pr);
	first = a->peer->cur;
	/* just before REKEY_AFTER_TIME: data only */
	now += (WG_REKEY_AFTER_TIME - 1) * WG_NSEC;
	wg_dev_send(a->dev, now, pkt, len);
	assert_int_equal(a->n_out, 1);
	assert_int_equal(a->out[0].p[0], WG_MSG_DATA);
	deliver(a, b);
	/* after it: the data still goes (the key is valid until
	 * REJECT_AFTER_TIME) and a new handshake starts */
	now += 2 * WG_NSEC;
	wg_dev_send(a->dev, now, pkt, len);
	assert_int_equal(a->n_out, 2);
	assert_int_equal(a->out[0].p[0], WG_MSG_DATA);
	assert_int_equal(a->out[1].p[0], WG_MSG_INITIATION);
	deliver(a, b);
	deliver(b, a);
	assert_true(a->peer->cur != first);
	assert_true(a->peer->prev == first);
	/* the keepalive that confirms the new session reaches B */
	deliver(a, b);
	assert_true(b->peer->next_kp == NULL);
	assert_memory_equal(b->peer->cur->recv_key, a->peer->cur->send_key, 32);
}

static void
test_reject_after_time(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256];
	size_t len = ip4(pkt, 1, 2, 10);
	struct dgram data;

	handshake(pr);
	/* a data message made now, held back past REJECT_AFTER_TIME */
	wg_dev_send(a->dev, now, pkt, len);
	wg_dev_seal(a->dev);	/* (batch mode: the slot is sealed late) */
	data = a->out[0];
	a->n_out = 0;
	now += (WG_REJECT_AFTER_TIME + 1) * WG_NSEC;
	b->n_tun = 0;
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    data.p, data.len);
	assert_int_equal(b->n_tun, 0);
	assert_int_equal(b->dev->stats.rx_no_key, 1);
	/* and A does not send with the expired key: it starts a handshake and
	 * keeps the packet until it completes */
	wg_dev_send(a->dev, now, pkt, len);
	assert_int_equal(a->n_out, 1);
	assert_int_equal(a->out[0].p[0], WG_MSG_INITIATION);
	deliver(a, b);
	deliver(b, a);
	assert_int_equal(a->n_out, 1);
	assert_int_equal(a->out[0].p[0], WG_MSG_DATA);
	deliver(a, b);
	assert_int_equal(b->n_tun, 1);
	assert_memory_equal(b->tun[0], pkt, len);
}

static void
test_keepalive_and_zeroing(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;

	handshake(pr);
	/* B got data and sent nothing: a keepalive after KEEPALIVE_TIMEOUT */
	now += (WG_KEEPALIVE_TIMEOUT - 1) * WG_NSEC;
	wg_dev_tick(b->dev, now);
	assert_int_equal(b->n_out, 0);
	now += 2 * WG_NSEC;
	wg_dev_tick(b->dev, now);
	assert_int_equal(b->n_out, 1);
	assert_int_equal(b->out[0].len, WG_DATA_MIN_LEN);
	a->n_tun = 0;
	deliver(b, a);
	assert_int_equal(a->n_tun, 0);		/* keepalives are not written */
	assert_int_equal(a->dev->stats.rx_data_bad, 0);
	/* nothing for 3 * REJECT_AFTER_TIME: every key is zeroed */
	for (int i = 0; i < 3 * WG_REJECT_AFTER_TIME + 5; i += 5) {
		now += 5 * WG_NSEC;
		wg_dev_tick(a->dev, now);
		wg_dev_tick(b->dev, now);
		a->n_out = b->n_out = 0;	/* drop whatever they send */
	}
	assert_null(a->peer->cur);
	assert_null(a->peer->prev);
	assert_null(a->peer->next_kp);
	assert_null(b->peer->cur);
	assert_int_equal(a->peer->handshake.state, WG_HS_NONE);
}

static void
test_persistent_keepalive(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;

	/* enabling it with no session starts a handshake */
	wg_peer_set_keepalive(a->peer, 25, now);
	assert_int_equal(a->n_out, 1);
	assert_int_equal(a->out[0].p[0], WG_MSG_INITIATION);
	deliver(a, b);
	deliver(b, a);
	assert_int_equal(a->n_out, 1);		/* the keepalive itself */
	assert_int_equal(a->out[0].len, WG_DATA_MIN_LEN);
	deliver(a, b);
	assert_non_null(b->peer->cur);
	now += 26 * WG_NSEC;
	wg_dev_tick(a->dev, now);
	assert_int_equal(a->n_out, 1);
	assert_int_equal(a->out[0].len, WG_DATA_MIN_LEN);
}

static void
test_data_replay_source_roaming(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256];
	size_t len;
	struct dgram d;
	struct sockaddr_in roamed;

	handshake(pr);
	len = ip4(pkt, 1, 2, 30);
	wg_dev_send(a->dev, now, pkt, len);
	wg_dev_seal(a->dev);	/* (batch mode: the slot is sealed late) */
	d = a->out[0];
	b->n_tun = 0;
	deliver(a, b);
	assert_int_equal(b->n_tun, 1);
	/* the same message again: replay window */
	wg_dev_recv(b->dev, now, (struct sockaddr *)&a->addr, sizeof(a->addr),
	    d.p, d.len);
	assert_int_equal(b->n_tun, 1);
	assert_int_equal(b->dev->stats.rx_replay, 1);
	/* tampered ciphertext */
	wg_dev_send(a->dev, now, pkt, len);
	wg_dev_seal(a->dev);
	a->out[0].p[30] ^= 0x80;
	deliver(a, b);
	assert_int_equal(b->n_tun, 1);
	assert_int_equal(b->dev->stats.rx_data_bad, 1);
	/* an inner source address A may not use: authenticated, dropped */
	len = ip4(pkt, 7, 2, 30);
	assert_non_null(a->peer->cur);
	{
		/* A routes by destination, so the spoofed source goes out */
		wg_dev_send(a->dev, now, pkt, len);
		deliver(a, b);
	}
	assert_int_equal(b->n_tun, 1);
	assert_int_equal(b->dev->stats.rx_bad_source, 1);
	/* roaming: A's packets now come from another address and port */
	roamed = a->addr;
	roamed.sin_addr.s_addr = htonl(0xc0a80063);
	roamed.sin_port = htons(6000);
	len = ip4(pkt, 1, 2, 30);
	wg_dev_send(a->dev, now, pkt, len);
	deliver_from(a, b, &roamed);
	assert_int_equal(b->n_tun, 2);
	assert_int_equal(b->peer->endpoint_len, sizeof(roamed));
	assert_memory_equal(&b->peer->endpoint, &roamed, sizeof(roamed));
	/* and B's replies go there */
	len = ip4(pkt, 2, 1, 30);
	wg_dev_send(b->dev, now, pkt, len);
	assert_int_equal(b->n_out, 1);
	assert_memory_equal(&b->out[0].to, &roamed, sizeof(roamed));
}

static void
test_unknown_and_wrong_keys(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b, c;
	uint8_t pkt[256];
	size_t len = ip4(pkt, 3, 2, 10);

	/* C knows B, B does not know C */
	node_init(&c, 3);
	know(&c, b, 2);
	wg_dev_send(c.dev, now, pkt, len);
	assert_int_equal(c.n_out, 1);
	deliver(&c, b);
	assert_int_equal(b->n_out, 0);
	assert_int_equal(b->dev->stats.rx_unknown_peer, 1);
	/* C's initiation for B sent to A: A's mac1 check fails, since the
	 * mac1 key is HASH(label || B's key) */
	assert_int_equal(wg_peer_initiate(c.peer, now, true), 0);
	deliver(&c, a);
	assert_int_equal(a->n_out, 0);
	assert_int_equal(a->dev->stats.rx_invalid_mac1, 1);
	/* psk mismatch: the response does not authenticate */
	{
		uint8_t psk[32];

		randombytes_buf(psk, sizeof(psk));
		wg_peer_set_psk(b->peer, psk);
		len = ip4(pkt, 1, 2, 10);
		wg_dev_send(a->dev, now, pkt, len);
		deliver(a, b);
		assert_int_equal(b->n_out, 1);
		deliver(b, a);
		assert_null(a->peer->cur);
		assert_int_equal(a->dev->stats.rx_bad_handshake, 1);
		/* the pending handshake survives a forged response */
		assert_int_equal(a->peer->handshake.state,
		    WG_HS_INITIATION_SENT);
		/* same psk both sides: works */
		wg_peer_set_psk(a->peer, psk);
		now += (WG_REKEY_TIMEOUT + 1) * WG_NSEC;
		wg_dev_tick(a->dev, now);
		deliver(a, b);
		deliver(b, a);
		assert_non_null(a->peer->cur);
	}
	node_free(&c);
}

static void
test_retransmit_gives_up(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a;
	uint8_t pkt[256];
	size_t len = ip4(pkt, 1, 2, 10);
	size_t sent = 0;

	wg_dev_send(a->dev, now, pkt, len);
	sent += a->n_out;
	a->n_out = 0;
	/* B never answers: retransmits every REKEY_TIMEOUT, then stops
	 * after REKEY_ATTEMPT_TIME */
	for (int i = 0; i < 200; i++) {
		now += WG_NSEC;
		wg_dev_tick(a->dev, now);
		sent += a->n_out;
		a->n_out = 0;
	}
	assert_int_equal(sent, 1 + WG_MAX_TIMER_HANDSHAKES);
	assert_int_equal(a->peer->handshake.state, WG_HS_NONE);
	assert_int_equal(a->peer->staged_count, 0);
}

/* Several data messages and their failures in one batch, in order. */
static void
test_batch_mixed(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t pkt[256];
	size_t len;
	struct dgram replayed;

	assert_true(batch_mode);
	handshake(pr);		/* all through the batch paths */
	b->n_tun = 0;
	for (uint8_t i = 0; i < 12; i++) {
		len = ip4(pkt, 1, 2, 20 + i);
		wg_dev_send(a->dev, now, pkt, len);
	}
	wg_dev_seal(a->dev);
	replayed = a->out[3];
	/* 12 good ones, then a replay, a forgery and an unknown index */
	a->out[a->n_out++] = replayed;
	a->out[a->n_out] = replayed;
	a->out[a->n_out].p[40] ^= 1;
	a->out[a->n_out].p[8] ^= 0x55;		/* another counter too */
	a->n_out++;
	a->out[a->n_out] = replayed;
	a->out[a->n_out].p[4] ^= 0xff;
	a->n_out++;
	/* deliver_from seals again: nothing is pending, so nothing changes */
	deliver(a, b);
	assert_int_equal(b->n_tun, 12);
	for (size_t i = 0; i < 12; i++)
		assert_int_equal(b->tun_len[i], 40 + i);	/* in order */
	assert_int_equal(b->dev->stats.rx_replay, 1);
	assert_int_equal(b->dev->stats.rx_data_bad, 1);
	assert_int_equal(b->dev->stats.rx_no_key, 1);
	/* a new handshake and data for the new session in the same batch:
	 * the initiation comes first, the data is processed serially after */
	now += (WG_REKEY_AFTER_TIME + 1) * WG_NSEC;
	len = ip4(pkt, 1, 2, 10);
	wg_dev_send(a->dev, now, pkt, len);	/* data + initiation */
	deliver(a, b);
	deliver(b, a);				/* response */
	b->n_tun = 0;
	wg_dev_send(a->dev, now, pkt, len);	/* keepalive, then data */
	assert_true(a->n_out >= 2);
	deliver(a, b);
	assert_int_equal(b->n_tun, 1);
	assert_null(b->peer->next_kp);
	assert_memory_equal(b->peer->cur->recv_key, a->peer->cur->send_key, 32);
}

static void
test_tai64n(void **state)
{
	uint8_t t1[12], t2[12];

	(void)state;
	wg_tai64n(t1, 1700000000LL * 1000000000LL);
	/* 2^62 + 10 + secs, big-endian */
	assert_int_equal(t1[0], 0x40);
	assert_int_equal(t1[7], (uint8_t)(0x0a + 1700000000u));
	wg_tai64n(t2, 1700000000LL * 1000000000LL + 500000000);
	assert_true(memcmp(t1, t2, 12) < 0);
	wg_tai64n(t1, 1700000001LL * 1000000000LL);
	assert_true(memcmp(t2, t1, 12) < 0);
}

static void
test_private_key_change(void **state)
{
	struct pair *pr = *state;
	struct node *a = &pr->a, *b = &pr->b;
	uint8_t k[32];

	handshake(pr);
	/* same key: sessions kept */
	assert_int_equal(wg_dev_set_private_key(b->dev, b->priv), 0);
	assert_non_null(b->peer->cur);
	/* new key: sessions dropped, mac1 key recomputed, A's old mac1 fails */
	randombytes_buf(k, sizeof(k));
	assert_int_equal(wg_dev_set_private_key(b->dev, k), 0);
	assert_null(b->peer->cur);
	assert_int_equal(wg_peer_initiate(a->peer, now + 10 * WG_NSEC, true), 0);
	deliver(a, b);
	assert_int_equal(b->n_out, 0);
	assert_int_equal(b->dev->stats.rx_invalid_mac1, 1);
	/* removing the key */
	memset(k, 0, sizeof(k));
	assert_int_equal(wg_dev_set_private_key(b->dev, k), 0);
	assert_false(b->dev->has_key);
	/* a peer with the device's own key is removed */
	assert_int_equal(wg_dev_set_private_key(a->dev, b->priv), 0);
	assert_null(wg_peer_find(a->dev, b->pub));
	a->peer = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tai64n),
		cmocka_unit_test_setup_teardown(test_handshake_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mac1_wrong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_under_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit_under_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_initiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekey_after_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_after_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_and_zeroing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistent_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_replay_source_roaming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_and_wrong_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmit_gives_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_key_change, setup, teardown),
		/* the same again through the batched paths koden-vpn uses */
		cmocka_unit_test_setup_teardown(test_handshake_round_trip, setup_batch, teardown_batch),
		cmocka_unit_test_setup_teardown(test_data_replay_source_roaming, setup_batch, teardown_batch),
		cmocka_unit_test_setup_teardown(test_reject_after_time, setup_batch, teardown_batch),
		cmocka_unit_test_setup_teardown(test_rekey_after_time, setup_batch, teardown_batch),
		cmocka_unit_test_setup_teardown(test_keepalive_and_zeroing, setup_batch, teardown_batch),
		cmocka_unit_test_setup_teardown(test_batch_mixed, setup_batch, teardown_batch),
	};

	log_init("test_wg", LOG_WARN_, 0);	/* rejections log at info */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
