/*
 * WireGuard protocol engine: message formats (whitepaper §5.4), MAC1/MAC2 and
 * cookie replies (§5.3, §5.4.4, §5.4.7), sessions and the timer state machine
 * (§6).  The order of keypairs and the timer rules follow wireguard-go's
 * (timers.go, noise-protocol.go), so that the two interoperate identically.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <blake2.h>
#include <sodium.h>

#include "crypto/blake2s.h"
#include "lib/log.h"
#include "vpn/allowedips.h"
#include "vpn/wg.h"

static const char wg_identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
static const char label_mac1[] = "mac1----";
static const char label_cookie[] = "cookie--";

/* Offsets inside the messages (§5.4.2 - §5.4.7). */
#define INIT_SENDER 4
#define INIT_NOISE 8
#define INIT_NOISE_LEN (NOISE_IK_MSG1_OVERHEAD + WG_TAI64N_LEN)	/* 108 */
#define INIT_MAC1 (INIT_NOISE + INIT_NOISE_LEN)			/* 116 */
#define INIT_MAC2 (INIT_MAC1 + WG_MAC_LEN)			/* 132 */
#define RESP_SENDER 4
#define RESP_RECEIVER 8
#define RESP_NOISE 12
#define RESP_NOISE_LEN NOISE_IK_MSG2_OVERHEAD			/* 48 */
#define RESP_MAC1 (RESP_NOISE + RESP_NOISE_LEN)			/* 60 */
#define RESP_MAC2 (RESP_MAC1 + WG_MAC_LEN)			/* 76 */
#define COOKIE_RECEIVER 4
#define COOKIE_NONCE 8
#define COOKIE_ENC 32
#define DATA_RECEIVER 4
#define DATA_COUNTER 8

/* ---- small helpers ---- */

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static uint32_t
get_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int
wg_mac(uint8_t out[static WG_MAC_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *in, size_t len)
{
	return blake2s(out, in, key, WG_MAC_LEN, len, key_len) == 0 ? 0 :
	    KERR_CRYPTO;
}

/* HASH(label || key): the MAC1 and cookie keys of §5.4.4 and §5.4.7. */
static int
label_key(uint8_t out[static 32], const char *label, const uint8_t key[32])
{
	return b2s_hash2(out, (const uint8_t *)label, 8, key, WG_KEY_LEN);
}

void
wg_tai64n(uint8_t out[static WG_TAI64N_LEN], int64_t wall_ns)
{
	uint64_t secs = 0x400000000000000aULL + (uint64_t)(wall_ns / 1000000000);
	uint32_t nsec = (uint32_t)(wall_ns % 1000000000);

	/* round down: the timestamp leaks less and rate-limits (kernel) */
	nsec &= ~((1u << 24) - 1);
	for (int i = 0; i < 8; i++)
		out[i] = secs >> (56 - 8 * i);
	out[8] = nsec >> 24;
	out[9] = nsec >> 16;
	out[10] = nsec >> 8;
	out[11] = nsec;
}

static int64_t
wall_now(const struct wg_dev *dev, uint64_t now)
{
	return (int64_t)now + dev->wall_offset_ns;
}

static bool
key_is_zero(const uint8_t *k)
{
	return sodium_is_zero(k, WG_KEY_LEN);
}

/*
 * One log line per second at most for rejected packets (an attacker must
 * not be able to fill the disk); the counters in dev->stats stay exact.
 */
static void
log_reject(struct wg_dev *dev, uint64_t now, const char *what,
    const struct sockaddr *from)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (now / WG_NSEC != dev->log_window) {
		dev->log_window = now / WG_NSEC;
		dev->log_count = 0;
	}
	if (dev->log_count++ >= 5)
		return;
	if (from != NULL && from->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)from;
		inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
		port = ntohs(s->sin_port);
	} else if (from != NULL && from->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)from;
		inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
		port = ntohs(s->sin6_port);
	}
	log_info("rejected packet from %s port %u: %s", host, port, what);
}

/* A short, non-secret name for a peer in logs: base64 of its key's head. */
static const char *
peer_name(const struct wg_peer *peer, char buf[static 16])
{
	sodium_bin2base64(buf, 16, peer->public_key, 6,
	    sodium_base64_VARIANT_ORIGINAL);
	return buf;
}

/* ---- index table ---- */

static unsigned
bucket_of(uint32_t idx)
{
	return (idx * 2654435761u) >> (32 - 12);	/* 4096 buckets */
}

static struct wg_index *
index_lookup(struct wg_dev *dev, uint32_t idx)
{
	for (struct wg_index *e = dev->buckets[bucket_of(idx)]; e; e = e->next)
		if (e->idx == idx && e->kind != WG_INDEX_NONE)
			return e;
	return NULL;
}

/* Give e a fresh random index no other entry has (or idx, when it is not 0
 * and free: the initiator's session keeps its handshake's index), and
 * insert it. */
static void
index_add(struct wg_dev *dev, struct wg_index *e, enum wg_index_kind kind,
    struct wg_peer *peer, uint32_t idx)
{
	while (idx == 0 || index_lookup(dev, idx) != NULL)
		idx = randombytes_random();
	e->idx = idx;
	e->kind = kind;
	e->peer = peer;
	e->next = dev->buckets[bucket_of(idx)];
	dev->buckets[bucket_of(idx)] = e;
}

static void
index_del(struct wg_dev *dev, struct wg_index *e)
{
	struct wg_index **pp;

	if (e->kind == WG_INDEX_NONE)
		return;
	for (pp = &dev->buckets[bucket_of(e->idx)]; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	e->kind = WG_INDEX_NONE;
	e->next = NULL;
}

/* ---- keypairs and handshakes ---- */

static void
keypair_free(struct wg_dev *dev, struct wg_keypair *kp)
{
	if (kp == NULL)
		return;
	index_del(dev, &kp->index);
	sodium_memzero(kp, sizeof(*kp));
	free(kp);
}

static void
handshake_clear(struct wg_dev *dev, struct wg_handshake *h)
{
	index_del(dev, &h->index);
	noise_hs_wipe(&h->hs);
	h->state = WG_HS_NONE;
}

static void
staged_clear(struct wg_peer *peer)
{
	peer->staged_head = 0;
	peer->staged_count = 0;
}

/* Drop every session and handshake of peer (keys zeroed). */
static void
peer_clear_keys(struct wg_peer *peer)
{
	struct wg_dev *dev = peer->dev;

	keypair_free(dev, peer->prev);
	keypair_free(dev, peer->cur);
	keypair_free(dev, peer->next_kp);
	peer->prev = peer->cur = peer->next_kp = NULL;
	handshake_clear(dev, &peer->handshake);
}

/* A keypair is usable for sending/receiving while young and not worn out. */
static bool
keypair_usable(const struct wg_dev *dev, const struct wg_keypair *kp,
    uint64_t now)
{
	return kp != NULL && now - kp->birth < dev->timing.reject_after_time &&
	    kp->send_counter < WG_REJECT_AFTER_MESSAGES;
}

/*
 * A session just derived (wireguard-go BeginSymmetricSession): the
 * initiator uses it at once; the responder keeps it as "next" until the
 * initiator proves it has it by sending data with it.
 */
static void
install_keypair(struct wg_peer *peer, struct wg_keypair *kp)
{
	struct wg_dev *dev = peer->dev;

	if (kp->initiator) {
		if (peer->next_kp != NULL) {
			keypair_free(dev, peer->prev);
			peer->prev = peer->next_kp;
			peer->next_kp = NULL;
			keypair_free(dev, peer->cur);
		} else {
			keypair_free(dev, peer->prev);
			peer->prev = peer->cur;
		}
		peer->cur = kp;
	} else {
		keypair_free(dev, peer->next_kp);
		peer->next_kp = kp;
		keypair_free(dev, peer->prev);
		peer->prev = NULL;
	}
}

/* Data arrived on the "next" keypair: the responder's session is confirmed. */
static bool
confirm_keypair(struct wg_peer *peer, struct wg_keypair *kp)
{
	if (kp != peer->next_kp)
		return false;
	keypair_free(peer->dev, peer->prev);
	peer->prev = peer->cur;
	peer->cur = kp;
	peer->next_kp = NULL;
	return true;
}

/* ---- timers (§6, wireguard-go timers.go) ---- */

static uint64_t
jitter(void)
{
	return (uint64_t)randombytes_uniform(334) * 1000000ULL;
}

static void
timers_any_authenticated_traversal(struct wg_peer *peer, uint64_t now)
{
	if (peer->persistent_keepalive)
		peer->t_persistent_keepalive =
		    now + (uint64_t)peer->persistent_keepalive * WG_NSEC;
}

static void
timers_data_sent(struct wg_peer *peer, uint64_t now)
{
	struct wg_timing *t = &peer->dev->timing;

	if (peer->t_new_handshake == 0)
		peer->t_new_handshake = now + t->keepalive_timeout +
		    t->rekey_timeout + jitter();
}

static void
timers_data_received(struct wg_peer *peer, uint64_t now)
{
	if (peer->t_send_keepalive == 0)
		peer->t_send_keepalive = now + peer->dev->timing.keepalive_timeout;
}

static void
timers_any_authenticated_sent(struct wg_peer *peer)
{
	peer->t_send_keepalive = 0;
}

static void
timers_any_authenticated_received(struct wg_peer *peer)
{
	peer->t_new_handshake = 0;
}

static void
timers_handshake_complete(struct wg_peer *peer, uint64_t now)
{
	int64_t wall = wall_now(peer->dev, now);

	peer->t_retransmit = 0;
	peer->handshake_attempts = 0;
	peer->last_handshake_sec = wall / 1000000000;
	peer->last_handshake_nsec = wall % 1000000000;
}

static void
timers_session_derived(struct wg_peer *peer, uint64_t now)
{
	peer->t_zero_keys = now + 3 * peer->dev->timing.reject_after_time;
}

/* ---- sending ---- */

static void
udp_send(struct wg_peer *peer, const uint8_t *p, size_t len)
{
	if (peer->endpoint_len == 0)
		return;
	peer->dev->io.udp_send(peer->dev->io_ctx,
	    (const struct sockaddr *)&peer->endpoint, peer->endpoint_len, p, len);
	peer->tx_bytes += len;
}

/* Fill mac1 and mac2 of a message of len bytes ending in them (§5.4.4). */
static int
add_macs(struct wg_peer *peer, uint8_t *msg, size_t len, uint64_t now)
{
	uint8_t *mac1 = msg + len - 2 * WG_MAC_LEN;
	uint8_t *mac2 = msg + len - WG_MAC_LEN;
	int r;

	if ((r = wg_mac(mac1, peer->mac1_key, WG_KEY_LEN, msg, len - 2 * WG_MAC_LEN)) != 0)
		return r;
	memcpy(peer->last_mac1, mac1, WG_MAC_LEN);
	peer->last_mac1_valid = true;
	if (peer->cookie_birth != 0 &&
	    now - peer->cookie_birth < peer->dev->timing.cookie_refresh_time)
		return wg_mac(mac2, peer->cookie, WG_COOKIE_LEN, msg, len - WG_MAC_LEN);
	memset(mac2, 0, WG_MAC_LEN);
	return 0;
}

/* Send an initiation: 1 if sent, 0 if rate-limited (REKEY_TIMEOUT), or a
 * negative KERR_* (no key, noise failure). */
static int
initiate(struct wg_peer *peer, uint64_t now, bool retry)
{
	struct wg_dev *dev = peer->dev;
	struct wg_handshake *h = &peer->handshake;
	uint8_t msg[WG_INITIATION_LEN], ts[WG_TAI64N_LEN];
	size_t n;
	int r;

	if (!dev->has_key || key_is_zero(peer->public_key))
		return KERR_INVALID;
	/* at most one initiation per REKEY_TIMEOUT unless retransmitting */
	if (!retry && peer->last_initiation_tx != 0 &&
	    now - peer->last_initiation_tx < dev->timing.rekey_timeout)
		return 0;	/* not now */
	if (!retry)
		peer->handshake_attempts = 0;
	peer->last_initiation_tx = now;

	handshake_clear(dev, h);
	r = noise_hs_init(&h->hs, NOISE_IKPSK2, 1,
	    (const uint8_t *)wg_identifier, strlen(wg_identifier),
	    &dev->static_kp, peer->public_key, peer->psk);
	if (r != 0)
		return r;
	wg_tai64n(ts, wall_now(dev, now));
	msg[0] = WG_MSG_INITIATION;
	msg[1] = msg[2] = msg[3] = 0;
	/* -> e, es, s, ss, {timestamp} */
	if ((r = noise_hs_write(&h->hs, ts, sizeof(ts), msg + INIT_NOISE,
	    INIT_NOISE_LEN, &n)) != 0)
		goto fail;
	assert(n == INIT_NOISE_LEN);
	index_add(dev, &h->index, WG_INDEX_HANDSHAKE, peer, 0);
	put_le32(msg + INIT_SENDER, h->index.idx);
	if ((r = add_macs(peer, msg, sizeof(msg), now)) != 0)
		goto fail;
	h->state = WG_HS_INITIATION_SENT;
	dev->stats.handshakes_initiated++;
	{
		char nb[16];
		log_debug("peer %s: sending handshake initiation", peer_name(peer, nb));
	}
	udp_send(peer, msg, sizeof(msg));
	timers_any_authenticated_traversal(peer, now);
	timers_any_authenticated_sent(peer);
	/* timersHandshakeInitiated */
	peer->t_retransmit = now + dev->timing.rekey_timeout + jitter();
	return 1;
fail:
	handshake_clear(dev, h);
	return r;
}

int
wg_peer_initiate(struct wg_peer *peer, uint64_t now, bool retry)
{
	int r = initiate(peer, now, retry);

	return r < 0 ? r : 0;
}

static void
seal_range(void *arg, size_t lo, size_t hi)
{
	struct wg_dev *dev = arg;

	for (size_t i = lo; i < hi; i++) {
		struct wg_seal_job *j = &dev->seal[i];
		uint8_t nonce[12] = { 0 };
		unsigned long long clen;

		put_le64(nonce + 4, j->counter);
		crypto_aead_chacha20poly1305_ietf_encrypt(j->p +
		    WG_DATA_HEADER_LEN, &clen, j->p + WG_DATA_HEADER_LEN,
		    j->padded, NULL, 0, NULL, nonce, j->key);
	}
}

void
wg_dev_seal(struct wg_dev *dev)
{
	size_t n = dev->n_seal;

	if (n == 0)
		return;
	dev->n_seal = 0;	/* before running: a callback may flush */
	if (dev->io.run != NULL)
		dev->io.run(dev->io.run_ctx, seal_range, dev, n);
	else
		seal_range(dev, 0, n);
	for (size_t i = 0; i < n; i++)
		sodium_memzero(dev->seal[i].key, sizeof(dev->seal[i].key));
}

/* Data through a reserved slot: plaintext now, ciphertext in wg_dev_seal. */
static void
send_data_deferred(struct wg_peer *peer, struct wg_keypair *kp,
    const uint8_t *pkt, size_t len, size_t padded, uint64_t counter,
    uint64_t now)
{
	struct wg_dev *dev = peer->dev;
	size_t total = WG_DATA_HEADER_LEN + padded + NOISE_TAGLEN;
	struct wg_seal_job *j;
	uint8_t *out;

	if (peer->endpoint_len == 0)
		return;
	if (dev->n_seal == WG_SEAL_MAX)
		wg_dev_seal(dev);
	out = dev->io.udp_reserve(dev->io_ctx,
	    (const struct sockaddr *)&peer->endpoint, peer->endpoint_len, total);
	if (out == NULL)
		return;
	out[0] = WG_MSG_DATA;
	out[1] = out[2] = out[3] = 0;
	put_le32(out + DATA_RECEIVER, kp->remote_index);
	put_le64(out + DATA_COUNTER, counter);
	if (len > 0)
		memcpy(out + WG_DATA_HEADER_LEN, pkt, len);
	memset(out + WG_DATA_HEADER_LEN + len, 0, padded - len);
	j = &dev->seal[dev->n_seal++];
	j->p = out;
	j->padded = padded;
	j->counter = counter;
	memcpy(j->key, kp->send_key, sizeof(j->key));
	peer->tx_bytes += total;
	if (len > 0)
		timers_data_sent(peer, now);
	timers_any_authenticated_traversal(peer, now);
	timers_any_authenticated_sent(peer);
}

/* Encrypt one IP packet (len 0: keepalive) with kp and send it. */
static void
send_data(struct wg_peer *peer, struct wg_keypair *kp, const uint8_t *pkt,
    size_t len, uint64_t now)
{
	struct wg_dev *dev = peer->dev;
	uint8_t *out = dev->scratch, nonce[12] = { 0 };
	size_t padded = (len + 15) & ~(size_t)15;
	uint64_t counter = kp->send_counter++;
	unsigned long long clen;

	if (dev->io.udp_reserve != NULL) {
		send_data_deferred(peer, kp, pkt, len, padded, counter, now);
		return;
	}
	out[0] = WG_MSG_DATA;
	out[1] = out[2] = out[3] = 0;
	put_le32(out + DATA_RECEIVER, kp->remote_index);
	put_le64(out + DATA_COUNTER, counter);
	if (len > 0)
		memmove(out + WG_DATA_HEADER_LEN, pkt, len);
	memset(out + WG_DATA_HEADER_LEN + len, 0, padded - len);
	put_le64(nonce + 4, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + WG_DATA_HEADER_LEN,
	    &clen, out + WG_DATA_HEADER_LEN, padded, NULL, 0, NULL, nonce,
	    kp->send_key);
	udp_send(peer, out, WG_DATA_HEADER_LEN + clen);
	if (len > 0)
		timers_data_sent(peer, now);
	timers_any_authenticated_traversal(peer, now);
	timers_any_authenticated_sent(peer);
}

static void
stage_packet(struct wg_peer *peer, const uint8_t *pkt, size_t len)
{
	unsigned slot;

	if (len > WG_STAGED_PACKET_MAX)
		return;
	/* keepalives (len 0) need no buffer: a peer that only ever sends
	 * those, like most of a hub's, never allocates one */
	if (len > 0 && peer->staged == NULL) {
		peer->staged = malloc((size_t)WG_STAGED_MAX * WG_STAGED_PACKET_MAX);
		if (peer->staged == NULL)
			return;
	}
	if (peer->staged_count == WG_STAGED_MAX) {	/* drop the oldest */
		peer->staged_head = (peer->staged_head + 1) % WG_STAGED_MAX;
		peer->staged_count--;
	}
	slot = (peer->staged_head + peer->staged_count) % WG_STAGED_MAX;
	if (len > 0)
		memcpy(peer->staged + (size_t)slot * WG_STAGED_PACKET_MAX, pkt,
		    len);
	peer->staged_len[slot] = (uint16_t)len;
	peer->staged_count++;
}

/*
 * The current session can send: flush queued packets through it and keep the
 * key fresh (§6.2: the initiator rekeys after REKEY_AFTER_TIME or
 * REKEY_AFTER_MESSAGES).  Otherwise start a handshake.
 */
static void
send_staged(struct wg_peer *peer, uint64_t now)
{
	struct wg_dev *dev = peer->dev;
	struct wg_keypair *kp = peer->cur;

	if (!keypair_usable(dev, kp, now)) {
		if (peer->handshake.state == WG_HS_NONE ||
		    now - peer->last_initiation_tx >= dev->timing.rekey_timeout)
			initiate(peer, now, false);
		return;
	}
	while (peer->staged_count > 0) {
		unsigned slot = peer->staged_head;

		peer->staged_head = (slot + 1) % WG_STAGED_MAX;
		peer->staged_count--;
		send_data(peer, kp, peer->staged_len[slot] == 0 ? NULL :
		    peer->staged + (size_t)slot * WG_STAGED_PACKET_MAX,
		    peer->staged_len[slot], now);
	}
	if (kp->initiator && (kp->send_counter > dev->timing.rekey_after_messages ||
	    now - kp->birth >= dev->timing.rekey_after_time) &&
	    peer->handshake.state == WG_HS_NONE)
		initiate(peer, now, false);
}

static void
send_packet(struct wg_peer *peer, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct wg_dev *dev = peer->dev;
	struct wg_keypair *kp = peer->cur;

	if (peer->staged_count == 0 && keypair_usable(dev, kp, now)) {
		send_data(peer, kp, pkt, len, now);
		if (kp->initiator && peer->handshake.state == WG_HS_NONE &&
		    (kp->send_counter > dev->timing.rekey_after_messages ||
		    now - kp->birth >= dev->timing.rekey_after_time) &&
		    initiate(peer, now, false) == 1) {
			char nb[16];

			log_info("peer %s: rekeying (session %llu s old)",
			    peer_name(peer, nb),
			    (unsigned long long)((now - kp->birth) / WG_NSEC));
		}
		return;
	}
	stage_packet(peer, pkt, len);
	send_staged(peer, now);
}

void
wg_peer_send_keepalive(struct wg_peer *peer, uint64_t now)
{
	if (peer->staged_count == 0 && keypair_usable(peer->dev, peer->cur, now)) {
		send_data(peer, peer->cur, NULL, 0, now);
		return;
	}
	if (peer->staged_count == 0)
		stage_packet(peer, NULL, 0);
	send_staged(peer, now);
}

/* Destination address of an IP packet: family (4/6) and pointer, or 0. */
static int
ip_dst(const uint8_t *p, size_t len, const uint8_t **addr)
{
	if (len >= 20 && p[0] >> 4 == 4) {
		*addr = p + 16;
		return 4;
	}
	if (len >= 40 && p[0] >> 4 == 6) {
		*addr = p + 24;
		return 6;
	}
	return 0;
}

void
wg_dev_send(struct wg_dev *dev, uint64_t now, const uint8_t *p, size_t len)
{
	const uint8_t *dst;
	struct wg_peer *peer;
	int fam;

	if (len > WG_PACKET_MAX || (fam = ip_dst(p, len, &dst)) == 0)
		return;
	peer = allowedips_lookup(dev->allowed, fam, dst);
	if (peer == NULL) {
		dev->stats.tx_no_peer++;
		return;
	}
	if (peer->endpoint_len == 0) {
		dev->stats.tx_no_peer++;
		return;
	}
	send_packet(peer, p, len, now);
}

/* ---- receiving: handshake messages ---- */

/* The device is "under load" (§5.3) for a second after a burst. */
static bool
under_load(struct wg_dev *dev, uint64_t now)
{
	if (dev->force_under_load)
		return true;
	if (now / WG_NSEC != dev->load_window) {
		dev->load_window = now / WG_NSEC;
		dev->load_count = 0;
	}
	if (++dev->load_count > WG_UNDER_LOAD_PER_SEC)
		dev->under_load_until = now + WG_NSEC;
	return now < dev->under_load_until;
}

/* tau = MAC(R_m, source address || port) (§5.4.7). */
static int
make_cookie(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    uint8_t tau[static WG_COOKIE_LEN])
{
	uint8_t src[18];
	size_t n;

	if (dev->cookie_secret_birth == 0 ||
	    now - dev->cookie_secret_birth >= dev->timing.cookie_refresh_time) {
		randombytes_buf(dev->cookie_secret, sizeof(dev->cookie_secret));
		dev->cookie_secret_birth = now ? now : 1;
	}
	if (from->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)from;
		memcpy(src, &s->sin_addr, 4);
		memcpy(src + 4, &s->sin_port, 2);
		n = 6;
	} else if (from->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)from;
		memcpy(src, &s->sin6_addr, 16);
		memcpy(src + 16, &s->sin6_port, 2);
		n = 18;
	} else {
		return KERR_INVALID;
	}
	return wg_mac(tau, dev->cookie_secret, WG_KEY_LEN, src, n);
}

static void
send_cookie_reply(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    socklen_t from_len, uint32_t sender, const uint8_t *mac1)
{
	uint8_t msg[WG_COOKIE_REPLY_LEN], tau[WG_COOKIE_LEN];
	unsigned long long clen;

	if (make_cookie(dev, now, from, tau) != 0)
		return;
	msg[0] = WG_MSG_COOKIE;
	msg[1] = msg[2] = msg[3] = 0;
	put_le32(msg + COOKIE_RECEIVER, sender);
	randombytes_buf(msg + COOKIE_NONCE, WG_COOKIE_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(msg + COOKIE_ENC, &clen, tau,
	    sizeof(tau), mac1, WG_MAC_LEN, NULL, msg + COOKIE_NONCE,
	    dev->cookie_key);
	sodium_memzero(tau, sizeof(tau));
	dev->stats.rx_cookie_sent++;
	dev->io.udp_send(dev->io_ctx, from, from_len, msg, sizeof(msg));
}

/*
 * A token bucket per source address, kept only while under load: each
 * message costs WG_NSEC / WG_RATE_PER_SEC of budget, which refills with
 * time up to WG_RATE_BURST messages' worth.  The address (port ignored, as
 * wireguard-go does: a host cannot escape by changing ports) picks a slot
 * by a keyed hash, so an attacker cannot aim collisions at a victim's slot.
 */
static bool
rate_allow(struct wg_dev *dev, uint64_t now, const struct sockaddr *from)
{
	static const uint64_t cost = WG_NSEC / WG_RATE_PER_SEC;
	static const uint64_t cap = WG_RATE_BURST * (WG_NSEC / WG_RATE_PER_SEC);
	uint8_t addr[16] = { 0 };
	struct wg_rate *r;
	uint8_t h[8];
	uint64_t slot;

	if (from->sa_family == AF_INET) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &((const struct sockaddr_in *)(const void *)
		    from)->sin_addr, 4);
	} else if (from->sa_family == AF_INET6) {
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)
		    from)->sin6_addr, 16);
	} else {
		return false;
	}
	if (dev->rate == NULL) {
		dev->rate = calloc(WG_RATE_SLOTS, sizeof(*dev->rate));
		if (dev->rate == NULL)
			return false;	/* under load and out of memory */
		randombytes_buf(dev->rate_key, sizeof(dev->rate_key));
	}
	crypto_shorthash(h, addr, sizeof(addr), dev->rate_key);
	memcpy(&slot, h, sizeof(slot));
	r = &dev->rate[slot % WG_RATE_SLOTS];
	if (r->last == 0 || memcmp(r->addr, addr, sizeof(addr)) != 0) {
		memcpy(r->addr, addr, sizeof(addr));
		r->last = now;
		r->tokens = cap;
	} else {
		r->tokens += now - r->last;
		if (r->tokens > cap)
			r->tokens = cap;
		r->last = now;
	}
	if (r->tokens < cost)
		return false;
	r->tokens -= cost;
	return true;
}

/*
 * MAC1 always (it proves the sender knows our public key); under load MAC2
 * too, else answer with a cookie reply.  0: go on; 1: handled or dropped.
 */
static int
check_macs(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    socklen_t from_len, const uint8_t *msg, size_t len, uint32_t sender)
{
	uint8_t mac[WG_MAC_LEN], tau[WG_COOKIE_LEN];
	const uint8_t *mac1 = msg + len - 2 * WG_MAC_LEN;
	const uint8_t *mac2 = msg + len - WG_MAC_LEN;
	int ok;

	if (wg_mac(mac, dev->mac1_key, WG_KEY_LEN, msg, len - 2 * WG_MAC_LEN) != 0 ||
	    sodium_memcmp(mac, mac1, WG_MAC_LEN) != 0) {
		dev->stats.rx_invalid_mac1++;
		log_reject(dev, now, "invalid MAC1", from);
		return 1;
	}
	if (!under_load(dev, now))
		return 0;
	ok = make_cookie(dev, now, from, tau) == 0 &&
	    wg_mac(mac, tau, WG_COOKIE_LEN, msg, len - WG_MAC_LEN) == 0 &&
	    sodium_memcmp(mac, mac2, WG_MAC_LEN) == 0;
	sodium_memzero(tau, sizeof(tau));
	if (ok) {
		if (rate_allow(dev, now, from))
			return 0;
		dev->stats.rx_ratelimited++;
		log_reject(dev, now, "under load: handshake rate limit for this "
		    "address", from);
		return 1;
	}
	log_reject(dev, now, "under load and no valid MAC2: cookie reply sent",
	    from);
	send_cookie_reply(dev, now, from, from_len, sender, mac1);
	return 1;
}

static void
set_endpoint(struct wg_peer *peer, const struct sockaddr *from,
    socklen_t from_len)
{
	/* roaming (§2): the last authenticated source is the endpoint */
	if (from_len > sizeof(peer->endpoint))
		return;
	if (peer->endpoint_len == from_len &&
	    memcmp(&peer->endpoint, from, from_len) == 0)
		return;
	memcpy(&peer->endpoint, from, from_len);
	peer->endpoint_len = from_len;
}

static struct wg_keypair *
keypair_new(struct wg_peer *peer, struct noise_hs *hs, bool initiator,
    uint32_t local_index, uint32_t remote_index, uint64_t now)
{
	struct noise_cs send, recv;
	struct wg_keypair *kp;

	kp = calloc(1, sizeof(*kp));
	if (kp == NULL) {
		noise_hs_wipe(hs);
		return NULL;
	}
	if (noise_hs_split(hs, &send, &recv) != 0) {
		free(kp);
		return NULL;
	}
	memcpy(kp->send_key, send.k, NOISE_KEYLEN);
	memcpy(kp->recv_key, recv.k, NOISE_KEYLEN);
	noise_cs_wipe(&send);
	noise_cs_wipe(&recv);
	replay_init(&kp->replay);
	kp->initiator = initiator;
	kp->remote_index = remote_index;
	kp->birth = now;
	kp->serial = ++peer->dev->kp_serial;
	index_add(peer->dev, &kp->index, WG_INDEX_KEYPAIR, peer, local_index);
	return kp;
}

static void
recv_initiation(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    socklen_t from_len, const uint8_t *msg)
{
	struct noise_hs hs;
	uint8_t ts[WG_TAI64N_LEN], resp[WG_RESPONSE_LEN];
	const uint8_t *rs;
	struct wg_peer *peer;
	struct wg_keypair *kp;
	uint32_t sender = get_le32(msg + INIT_SENDER);
	size_t n;
	char nb[16];

	if (check_macs(dev, now, from, from_len, msg, WG_INITIATION_LEN, sender))
		return;
	if (noise_hs_init(&hs, NOISE_IKPSK2, 0, (const uint8_t *)wg_identifier,
	    strlen(wg_identifier), &dev->static_kp, NULL, NULL) != 0)
		return;
	/* <- e, es, s, ss, {timestamp} */
	if (noise_hs_read(&hs, msg + INIT_NOISE, INIT_NOISE_LEN, ts, sizeof(ts),
	    &n) != 0 || n != sizeof(ts)) {
		dev->stats.rx_bad_handshake++;
		log_reject(dev, now, "handshake initiation does not decrypt", from);
		goto out;
	}
	rs = noise_hs_remote_static(&hs);
	if (rs == NULL || (peer = wg_peer_find(dev, rs)) == NULL) {
		dev->stats.rx_unknown_peer++;
		log_reject(dev, now, "handshake initiation from an unknown key", from);
		goto out;
	}
	/* §5.1: the TAI64N timestamp must grow (replay), and at most
	 * INITIATIONS_PER_SEC (flood) */
	if (memcmp(ts, peer->last_timestamp, sizeof(ts)) <= 0) {
		dev->stats.rx_replayed_timestamp++;
		log_reject(dev, now, "replayed handshake initiation (timestamp)",
		    from);
		goto out;
	}
	if (peer->last_initiation_rx != 0 && now - peer->last_initiation_rx <
	    WG_NSEC / WG_INITIATIONS_PER_SEC) {
		dev->stats.rx_replayed_timestamp++;
		log_reject(dev, now, "handshake initiation flood", from);
		goto out;
	}
	memcpy(peer->last_timestamp, ts, sizeof(ts));
	peer->last_initiation_rx = now;
	peer->rx_bytes += WG_INITIATION_LEN;

	if (noise_hs_set_psk(&hs, peer->psk) != 0)
		goto out;
	resp[0] = WG_MSG_RESPONSE;
	resp[1] = resp[2] = resp[3] = 0;
	/* <- e, ee, se, psk, {} */
	if (noise_hs_write(&hs, NULL, 0, resp + RESP_NOISE, RESP_NOISE_LEN,
	    &n) != 0)
		goto out;
	kp = keypair_new(peer, &hs, false, 0, sender, now);
	if (kp == NULL)
		goto out;
	put_le32(resp + RESP_SENDER, kp->index.idx);
	put_le32(resp + RESP_RECEIVER, sender);
	if (add_macs(peer, resp, sizeof(resp), now) != 0) {
		keypair_free(dev, kp);
		goto out;
	}
	set_endpoint(peer, from, from_len);
	install_keypair(peer, kp);
	log_info("peer %s: handshake initiation received, response sent",
	    peer_name(peer, nb));
	udp_send(peer, resp, sizeof(resp));
	timers_any_authenticated_received(peer);
	timers_any_authenticated_traversal(peer, now);
	timers_any_authenticated_sent(peer);
	timers_session_derived(peer, now);
out:
	noise_hs_wipe(&hs);
	sodium_memzero(ts, sizeof(ts));
}

static void
recv_response(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    socklen_t from_len, const uint8_t *msg)
{
	struct noise_hs hs;
	struct wg_index *e;
	struct wg_peer *peer;
	struct wg_keypair *kp;
	uint32_t sender = get_le32(msg + RESP_SENDER), idx;
	size_t n;
	char nb[16];

	if (check_macs(dev, now, from, from_len, msg, WG_RESPONSE_LEN, sender))
		return;
	e = index_lookup(dev, get_le32(msg + RESP_RECEIVER));
	if (e == NULL || e->kind != WG_INDEX_HANDSHAKE ||
	    e->peer->handshake.state != WG_HS_INITIATION_SENT) {
		dev->stats.rx_bad_handshake++;
		log_reject(dev, now, "handshake response for no handshake", from);
		return;
	}
	peer = e->peer;
	/* work on a copy: a forged response must not cost us the handshake */
	hs = peer->handshake.hs;
	if (noise_hs_read(&hs, msg + RESP_NOISE, RESP_NOISE_LEN, NULL, 0,
	    &n) != 0) {
		dev->stats.rx_bad_handshake++;
		log_reject(dev, now, "handshake response does not decrypt", from);
		noise_hs_wipe(&hs);
		return;
	}
	idx = e->idx;
	peer->rx_bytes += WG_RESPONSE_LEN;
	handshake_clear(dev, &peer->handshake);
	kp = keypair_new(peer, &hs, true, idx, sender, now);
	noise_hs_wipe(&hs);
	if (kp == NULL)
		return;
	set_endpoint(peer, from, from_len);
	install_keypair(peer, kp);
	dev->stats.handshakes_completed++;
	log_info("peer %s: handshake completed (initiator)", peer_name(peer, nb));
	timers_any_authenticated_received(peer);
	timers_any_authenticated_traversal(peer, now);
	timers_session_derived(peer, now);
	timers_handshake_complete(peer, now);
	/* confirm the session to the responder: data, or a keepalive */
	wg_peer_send_keepalive(peer, now);
}

static void
recv_cookie_reply(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    const uint8_t *msg)
{
	struct wg_index *e = index_lookup(dev, get_le32(msg + COOKIE_RECEIVER));
	struct wg_peer *peer;
	uint8_t tau[WG_COOKIE_LEN];
	unsigned long long n;

	if (e == NULL) {
		dev->stats.rx_bad_handshake++;
		log_reject(dev, now, "cookie reply for no handshake", from);
		return;
	}
	peer = e->peer;
	if (!peer->last_mac1_valid)
		return;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(tau, &n, NULL,
	    msg + COOKIE_ENC, WG_COOKIE_LEN + NOISE_TAGLEN, peer->last_mac1,
	    WG_MAC_LEN, msg + COOKIE_NONCE, peer->cookie_key) != 0) {
		dev->stats.rx_bad_handshake++;
		log_reject(dev, now, "cookie reply does not decrypt", from);
		return;
	}
	memcpy(peer->cookie, tau, WG_COOKIE_LEN);
	peer->cookie_birth = now ? now : 1;
	peer->last_mac1_valid = false;
	sodium_memzero(tau, sizeof(tau));
	log_debug("cookie reply accepted");
}

/* ---- receiving: data ---- */

/* Source address of an inner packet and its real length, or 0. */
static int
ip_src(const uint8_t *p, size_t len, const uint8_t **addr, size_t *ip_len)
{
	size_t n;

	if (len >= 20 && p[0] >> 4 == 4) {
		n = (size_t)p[2] << 8 | p[3];
		if (n < 20 || n > len)
			return 0;
		*addr = p + 12;
		*ip_len = n;
		return 4;
	}
	if (len >= 40 && p[0] >> 4 == 6) {
		n = 40 + ((size_t)p[4] << 8 | p[5]);
		if (n > len)
			return 0;
		*addr = p + 8;
		*ip_len = n;
		return 6;
	}
	return 0;
}

/* The session a data message names, if it may still receive; else NULL
 * (counted and logged). */
static struct wg_keypair *
data_keypair(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    const uint8_t *msg, uint64_t *counter)
{
	struct wg_index *e = index_lookup(dev, get_le32(msg + DATA_RECEIVER));
	struct wg_keypair *kp;

	if (e == NULL || e->kind != WG_INDEX_KEYPAIR) {
		dev->stats.rx_no_key++;
		log_reject(dev, now, "data for an unknown session", from);
		return NULL;
	}
	kp = (struct wg_keypair *)e;	/* index is its first member */
	*counter = get_le64(msg + DATA_COUNTER);
	if (now - kp->birth >= dev->timing.reject_after_time ||
	    *counter >= WG_REJECT_AFTER_MESSAGES) {
		dev->stats.rx_no_key++;
		log_reject(dev, now, "data for an expired session", from);
		return NULL;
	}
	return kp;
}

/* Decrypt in place: the plaintext length, or -1 if the tag is wrong. */
static long
data_open(const struct wg_keypair *kp, uint64_t counter, uint8_t *msg,
    size_t len)
{
	uint8_t nonce[12] = { 0 }, *pt = msg + WG_DATA_HEADER_LEN;
	unsigned long long plen;

	put_le64(nonce + 4, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, &plen, NULL, pt,
	    len - WG_DATA_HEADER_LEN, NULL, 0, nonce, kp->recv_key) != 0)
		return -1;
	return (long)plen;
}

/* Everything after a data message authenticated (§5.4.6, §6). */
static void
data_commit(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    socklen_t from_len, struct wg_keypair *kp, uint64_t counter,
    const uint8_t *pt, size_t plen, size_t len)
{
	struct wg_peer *peer = kp->index.peer;
	const uint8_t *src;
	size_t ip_len;
	int fam;

	if (!replay_check(&kp->replay, counter)) {
		dev->stats.rx_replay++;
		log_reject(dev, now, "replayed data counter", from);
		return;
	}
	/* authenticated from here on */
	peer->rx_bytes += len;
	set_endpoint(peer, from, from_len);
	if (confirm_keypair(peer, kp)) {
		char nb[16];

		log_info("peer %s: handshake completed (responder)",
		    peer_name(peer, nb));
		dev->stats.handshakes_completed++;
		timers_handshake_complete(peer, now);
		send_staged(peer, now);
	}
	/* keep the key fresh (§6.2): the initiator rekeys before its
	 * session nears REJECT_AFTER_TIME while receiving */
	if (kp == peer->cur && kp->initiator &&
	    peer->handshake.state == WG_HS_NONE &&
	    now - kp->birth >= dev->timing.reject_after_time -
	    dev->timing.keepalive_timeout - dev->timing.rekey_timeout)
		initiate(peer, now, false);
	timers_any_authenticated_received(peer);
	timers_any_authenticated_traversal(peer, now);
	if (plen == 0)
		return;		/* keepalive */
	timers_data_received(peer, now);
	fam = ip_src(pt, plen, &src, &ip_len);
	if (fam == 0) {
		dev->stats.rx_data_bad++;
		log_reject(dev, now, "inner packet is not IP", from);
		return;
	}
	if (allowedips_lookup(dev->allowed, fam, src) != peer) {
		dev->stats.rx_bad_source++;
		log_reject(dev, now, "inner source address not allowed for peer",
		    from);
		return;
	}
	dev->io.tun_write(dev->io_ctx, pt, ip_len);
}

static void
recv_data(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    socklen_t from_len, uint8_t *msg, size_t len)
{
	struct wg_keypair *kp;
	uint64_t counter;
	long plen;

	if ((kp = data_keypair(dev, now, from, msg, &counter)) == NULL)
		return;
	if ((plen = data_open(kp, counter, msg, len)) < 0) {
		dev->stats.rx_data_bad++;
		log_reject(dev, now, "data does not authenticate", from);
		return;
	}
	data_commit(dev, now, from, from_len, kp, counter,
	    msg + WG_DATA_HEADER_LEN, (size_t)plen, len);
}

void
wg_dev_recv(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    socklen_t from_len, uint8_t *p, size_t len)
{
	if (len < 4 || p[1] != 0 || p[2] != 0 || p[3] != 0) {
		dev->stats.rx_data_bad++;
		log_reject(dev, now, "not a WireGuard message", from);
		return;
	}
	if (p[0] == WG_MSG_DATA && len >= WG_DATA_MIN_LEN &&
	    len <= WG_DATAGRAM_MAX) {
		recv_data(dev, now, from, from_len, p, len);
		return;
	}
	if (!dev->has_key) {
		return;
	}
	if (p[0] == WG_MSG_INITIATION && len == WG_INITIATION_LEN)
		recv_initiation(dev, now, from, from_len, p);
	else if (p[0] == WG_MSG_RESPONSE && len == WG_RESPONSE_LEN)
		recv_response(dev, now, from, from_len, p);
	else if (p[0] == WG_MSG_COOKIE && len == WG_COOKIE_REPLY_LEN)
		recv_cookie_reply(dev, now, from, p);
	else {
		dev->stats.rx_data_bad++;
		log_reject(dev, now, "bad message type or length", from);
	}
}

enum { RX_SERIAL = 0, RX_OPEN, RX_OPENED, RX_BAD };

static void
open_range(void *arg, size_t lo, size_t hi)
{
	struct wg_rx *rx = arg;

	for (size_t i = lo; i < hi; i++) {
		long plen;

		if (rx[i].state != RX_OPEN)
			continue;
		plen = data_open(rx[i].kp, rx[i].counter, rx[i].p, rx[i].len);
		if (plen < 0) {
			rx[i].state = RX_BAD;
		} else {
			rx[i].plen = (size_t)plen;
			rx[i].state = RX_OPENED;
		}
	}
}

void
wg_dev_recv_batch(struct wg_dev *dev, uint64_t now, struct wg_rx *rx,
    size_t n)
{
	size_t n_open = 0;

	/* 1: find the session of each data message */
	for (size_t i = 0; i < n; i++) {
		struct wg_rx *r = &rx[i];
		struct wg_index *e;

		r->state = RX_SERIAL;
		if (r->len < WG_DATA_MIN_LEN || r->len > WG_DATAGRAM_MAX ||
		    r->p[0] != WG_MSG_DATA || r->p[1] || r->p[2] || r->p[3])
			continue;
		e = index_lookup(dev, get_le32(r->p + DATA_RECEIVER));
		if (e == NULL || e->kind != WG_INDEX_KEYPAIR)
			continue;	/* maybe made by a handshake before it */
		r->kp = (struct wg_keypair *)e;
		r->serial = r->kp->serial;
		r->counter = get_le64(r->p + DATA_COUNTER);
		if (now - r->kp->birth >= dev->timing.reject_after_time ||
		    r->counter >= WG_REJECT_AFTER_MESSAGES)
			continue;	/* the serial path counts and logs */
		r->state = RX_OPEN;
		n_open++;
	}
	/* 2: decrypt them all, on every core; no state changes here */
	if (n_open > 0) {
		if (dev->io.run != NULL)
			dev->io.run(dev->io.run_ctx, open_range, rx, n);
		else
			open_range(rx, 0, n);
	}
	/* 3: in arrival order */
	for (size_t i = 0; i < n; i++) {
		struct wg_rx *r = &rx[i];
		struct wg_index *e;

		if (r->state == RX_SERIAL) {
			wg_dev_recv(dev, now, r->from, r->from_len, r->p, r->len);
			continue;
		}
		if (r->state == RX_BAD) {
			dev->stats.rx_data_bad++;
			log_reject(dev, now, "data does not authenticate", r->from);
			continue;
		}
		/* an earlier message of the batch may have ended the session */
		e = index_lookup(dev, get_le32(r->p + DATA_RECEIVER));
		if (e != &r->kp->index || r->kp->serial != r->serial) {
			dev->stats.rx_no_key++;
			continue;
		}
		data_commit(dev, now, r->from, r->from_len, r->kp, r->counter,
		    r->p + WG_DATA_HEADER_LEN, r->plen, r->len);
	}
}

/* ---- timers ---- */

static bool
due(uint64_t *t, uint64_t now)
{
	if (*t == 0 || now < *t)
		return false;
	*t = 0;
	return true;
}

static void
min_deadline(uint64_t *next, uint64_t t)
{
	if (t != 0 && (*next == 0 || t < *next))
		*next = t;
}

static void
peer_tick(struct wg_peer *peer, uint64_t now)
{
	struct wg_dev *dev = peer->dev;
	char nb[16];

	if (due(&peer->t_retransmit, now)) {
		if (peer->handshake_attempts + 1 > WG_MAX_TIMER_HANDSHAKES) {
			log_info("peer %s: handshake did not complete after %u "
			    "attempts, giving up", peer_name(peer, nb),
			    peer->handshake_attempts + 1);
			peer->t_send_keepalive = 0;
			staged_clear(peer);
			handshake_clear(dev, &peer->handshake);
			if (peer->t_zero_keys == 0)
				peer->t_zero_keys = now +
				    3 * dev->timing.reject_after_time;
		} else {
			peer->handshake_attempts++;
			log_debug("peer %s: handshake retransmit %u",
			    peer_name(peer, nb), peer->handshake_attempts);
			initiate(peer, now, true);
		}
	}
	if (due(&peer->t_send_keepalive, now))
		wg_peer_send_keepalive(peer, now);
	if (due(&peer->t_new_handshake, now)) {
		log_debug("peer %s: no reply for %llu s, new handshake",
		    peer_name(peer, nb), (unsigned long long)
		    ((dev->timing.keepalive_timeout + dev->timing.rekey_timeout) /
		    WG_NSEC));
		initiate(peer, now, false);
	}
	if (due(&peer->t_zero_keys, now)) {
		log_info("peer %s: no handshake for %llu s, zeroing keys",
		    peer_name(peer, nb), (unsigned long long)
		    (3 * dev->timing.reject_after_time / WG_NSEC));
		peer_clear_keys(peer);
	}
	if (due(&peer->t_persistent_keepalive, now) && peer->persistent_keepalive)
		wg_peer_send_keepalive(peer, now);
}

uint64_t
wg_dev_tick(struct wg_dev *dev, uint64_t now)
{
	uint64_t next = 0;

	for (struct wg_peer *p = dev->peers; p; p = p->next) {
		peer_tick(p, now);
		min_deadline(&next, p->t_retransmit);
		min_deadline(&next, p->t_send_keepalive);
		min_deadline(&next, p->t_new_handshake);
		min_deadline(&next, p->t_zero_keys);
		min_deadline(&next, p->t_persistent_keepalive);
	}
	return next;
}

/* ---- device and peers ---- */

int
wg_dev_new(struct wg_dev **out, const struct wg_io *io, void *io_ctx)
{
	struct wg_dev *dev;

	*out = NULL;
	if (sodium_init() < 0)
		return KERR_CRYPTO;
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return KERR_NOMEM;
	if (allowedips_new(&dev->allowed) != 0) {
		free(dev);
		return KERR_NOMEM;
	}
	dev->io = *io;
	dev->io_ctx = io_ctx;
	dev->timing = (struct wg_timing){
		.rekey_after_time = WG_REKEY_AFTER_TIME * WG_NSEC,
		.reject_after_time = WG_REJECT_AFTER_TIME * WG_NSEC,
		.rekey_attempt_time = WG_REKEY_ATTEMPT_TIME * WG_NSEC,
		.rekey_timeout = WG_REKEY_TIMEOUT * WG_NSEC,
		.keepalive_timeout = WG_KEEPALIVE_TIMEOUT * WG_NSEC,
		.cookie_refresh_time = WG_COOKIE_REFRESH_TIME * WG_NSEC,
		.rekey_after_messages = WG_REKEY_AFTER_MESSAGES,
	};
	*out = dev;
	return 0;
}

void
wg_dev_free(struct wg_dev *dev)
{
	if (dev == NULL)
		return;
	while (dev->peers)
		wg_peer_remove(dev, dev->peers);
	allowedips_free(dev->allowed);
	free(dev->rate);
	sodium_memzero(dev, sizeof(*dev));
	free(dev);
}

int
wg_dev_set_private_key(struct wg_dev *dev, const uint8_t *key)
{
	struct noise_keypair kp;
	struct wg_peer *p, *nx;

	if (key != NULL && !key_is_zero(key)) {
		if (noise_keypair_from_private(&kp, key) != 0)
			return KERR_CRYPTO;
		if (dev->has_key && sodium_memcmp(kp.priv, dev->static_kp.priv,
		    NOISE_DHLEN) == 0) {
			sodium_memzero(&kp, sizeof(kp));
			return 0;	/* unchanged: keep the sessions */
		}
	} else {
		memset(&kp, 0, sizeof(kp));
	}
	/* new identity: sessions made with the old one are void */
	for (p = dev->peers; p; p = p->next) {
		peer_clear_keys(p);
		p->last_mac1_valid = false;
		p->cookie_birth = 0;
		p->last_initiation_tx = 0;	/* handshake at once */
		p->t_retransmit = 0;
		p->handshake_attempts = 0;
	}
	if (key == NULL || key_is_zero(key)) {
		sodium_memzero(&dev->static_kp, sizeof(dev->static_kp));
		sodium_memzero(dev->mac1_key, sizeof(dev->mac1_key));
		sodium_memzero(dev->cookie_key, sizeof(dev->cookie_key));
		dev->has_key = false;
		return 0;
	}
	dev->static_kp = kp;
	sodium_memzero(&kp, sizeof(kp));
	dev->has_key = true;
	if (label_key(dev->mac1_key, label_mac1, dev->static_kp.pub) != 0 ||
	    label_key(dev->cookie_key, label_cookie, dev->static_kp.pub) != 0)
		return KERR_CRYPTO;
	/* a peer with our own public key cannot exist (wireguard-go) */
	for (p = dev->peers; p; p = nx) {
		nx = p->next;
		if (sodium_memcmp(p->public_key, dev->static_kp.pub,
		    WG_KEY_LEN) == 0)
			wg_peer_remove(dev, p);
	}
	return 0;
}

struct wg_peer *
wg_peer_find(struct wg_dev *dev, const uint8_t pub[static WG_KEY_LEN])
{
	for (struct wg_peer *p = dev->peers; p; p = p->next)
		if (memcmp(p->public_key, pub, WG_KEY_LEN) == 0)
			return p;
	return NULL;
}

int
wg_peer_new(struct wg_dev *dev, const uint8_t pub[static WG_KEY_LEN],
    struct wg_peer **out)
{
	struct wg_peer *peer;

	*out = NULL;
	if (wg_peer_find(dev, pub) != NULL)
		return KERR_EXISTS;
	if (dev->n_peers >= WG_PEERS_MAX)
		return KERR_TOOBIG;
	peer = calloc(1, sizeof(*peer));
	if (peer == NULL)
		return KERR_NOMEM;
	peer->dev = dev;
	memcpy(peer->public_key, pub, WG_KEY_LEN);
	if (label_key(peer->mac1_key, label_mac1, pub) != 0 ||
	    label_key(peer->cookie_key, label_cookie, pub) != 0) {
		free(peer);
		return KERR_CRYPTO;
	}
	peer->next = dev->peers;
	dev->peers = peer;
	dev->n_peers++;
	*out = peer;
	return 0;
}

void
wg_peer_remove(struct wg_dev *dev, struct wg_peer *peer)
{
	struct wg_peer **pp;

	for (pp = &dev->peers; *pp; pp = &(*pp)->next) {
		if (*pp == peer) {
			*pp = peer->next;
			dev->n_peers--;
			break;
		}
	}
	allowedips_remove_peer(dev->allowed, peer);
	peer_clear_keys(peer);
	if (peer->staged != NULL) {
		sodium_memzero(peer->staged,
		    (size_t)WG_STAGED_MAX * WG_STAGED_PACKET_MAX);
		free(peer->staged);
	}
	sodium_memzero(peer, sizeof(*peer));
	free(peer);
}

void
wg_peer_set_psk(struct wg_peer *peer, const uint8_t *psk)
{
	if (psk == NULL || key_is_zero(psk)) {
		sodium_memzero(peer->psk, sizeof(peer->psk));
		peer->has_psk = false;
	} else {
		memcpy(peer->psk, psk, sizeof(peer->psk));
		peer->has_psk = true;
	}
}

void
wg_peer_set_endpoint(struct wg_peer *peer, const struct sockaddr *sa,
    socklen_t len)
{
	if (sa == NULL || len == 0 || len > sizeof(peer->endpoint)) {
		peer->endpoint_len = 0;
		return;
	}
	memcpy(&peer->endpoint, sa, len);
	peer->endpoint_len = len;
}

void
wg_peer_set_keepalive(struct wg_peer *peer, uint16_t secs, uint64_t now)
{
	peer->persistent_keepalive = secs;
	peer->t_persistent_keepalive = 0;
	if (secs != 0 && peer->dev->has_key && peer->endpoint_len != 0)
		wg_peer_send_keepalive(peer, now);
}

static int
fam46(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0;
}

int
wg_peer_allowed_add(struct wg_peer *peer, int family, const uint8_t *addr,
    uint8_t cidr)
{
	return allowedips_insert(peer->dev->allowed, fam46(family), addr, cidr,
	    peer);
}

void
wg_peer_allowed_clear(struct wg_peer *peer)
{
	allowedips_remove_peer(peer->dev->allowed, peer);
}

int
wg_peer_allowed_walk(struct wg_peer *peer,
    int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr),
    void *ctx)
{
	return allowedips_walk_peer(peer->dev->allowed, peer, fn, ctx);
}
