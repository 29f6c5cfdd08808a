/*
 * Packets to the network (the kernel's send.c): handshake initiations,
 * transport data and keepalives, the queue of packets waiting for a
 * session, and the batched sealing of reserved slots (wg_dev_seal).  The
 * data path here is hot: what it calls in other files is static inline in
 * wg_int.h.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/log.h"
#include "vpn/allowedips.h"
#include "vpn/wg_int.h"

/* TAI64: the label of 1970-01-01 00:00:00 UTC (2^62 + 10: it was 00:00:10
 * TAI), to which Unix seconds are added; and the grain the nanoseconds of
 * an initiation's timestamp are rounded down to. */
#define WG_TAI64_EPOCH 0x400000000000000aULL
#define WG_TAI64N_NSEC_GRAIN (1u << 24)

void
wg_tai64n(uint8_t out[static WG_TAI64N_LEN], int64_t wall_ns)
{
	uint64_t secs = WG_TAI64_EPOCH + (uint64_t)(wall_ns / (int64_t)WG_NSEC);
	uint32_t nsec = (uint32_t)(wall_ns % (int64_t)WG_NSEC);

	/* round down: the timestamp leaks less and rate-limits (kernel) */
	nsec &= ~(WG_TAI64N_NSEC_GRAIN - 1);
	for (int i = 0; i < 8; i++)
		out[i] = secs >> (56 - 8 * i);
	out[8] = nsec >> 24;
	out[9] = nsec >> 16;
	out[10] = nsec >> 8;
	out[11] = nsec;
}

void
wg_staged_clear(struct wg_peer *peer)
{
	peer->staged_head = 0;
	peer->staged_count = 0;
}

void
wg_udp_send(struct wg_peer *peer, const uint8_t *p, size_t len)
{
	if (peer->endpoint_len == 0)
		return;
	peer->dev->io.udp_send(peer->dev->io_ctx,
	    (const struct sockaddr *)&peer->endpoint, peer->endpoint_len, p, len);
	peer->tx_bytes += len;
}

/* Send an initiation: 1 if sent, 0 if rate-limited (REKEY_TIMEOUT), or a
 * negative KERR_* (no key, noise failure). */
int
wg_initiate(struct wg_peer *peer, uint64_t now, bool retry)
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

	wg_handshake_clear(dev, h);
	r = noise_hs_init(&h->hs, NOISE_IKPSK2, 1,
	    (const uint8_t *)WG_IDENTIFIER, strlen(WG_IDENTIFIER),
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
	wg_index_add(dev, &h->index, WG_INDEX_HANDSHAKE, peer, 0);
	put_le32(msg + INIT_SENDER, h->index.idx);
	if ((r = wg_add_macs(peer, msg, sizeof(msg), now)) != 0)
		goto fail;
	h->state = WG_HS_INITIATION_SENT;
	dev->stats.handshakes_initiated++;
	{
		char nb[WG_PEER_NAME_LEN];
		log_debug("peer %s: sending handshake initiation", wg_peer_name(peer, nb));
	}
	wg_udp_send(peer, msg, sizeof(msg));
	timers_any_authenticated_traversal(peer, now);
	timers_any_authenticated_sent(peer);
	/* timersHandshakeInitiated */
	peer->t_retransmit = now + dev->timing.rekey_timeout + jitter();
	return 1;
fail:
	wg_handshake_clear(dev, h);
	return r;
}

int
wg_peer_initiate(struct wg_peer *peer, uint64_t now, bool retry)
{
	int r = wg_initiate(peer, now, retry);

	return r < 0 ? r : 0;
}

static void
seal_range(void *arg, size_t lo, size_t hi)
{
	struct wg_dev *dev = arg;

	for (size_t i = lo; i < hi; i++) {
		struct wg_seal_job *j = &dev->seal[i];
		uint8_t nonce[WG_NONCE_LEN] = { 0 };
		unsigned long long clen;

		put_le64(nonce + WG_NONCE_COUNTER, j->counter);
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
	assert(n <= WG_SEAL_MAX);
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
	assert(dev->n_seal < WG_SEAL_MAX);	/* wg_dev_seal emptied it */
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
	uint8_t *out = dev->scratch, nonce[WG_NONCE_LEN] = { 0 };
	size_t padded = (len + WG_PAD_MULTIPLE - 1) &
	    ~(size_t)(WG_PAD_MULTIPLE - 1);
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
	put_le64(nonce + WG_NONCE_COUNTER, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + WG_DATA_HEADER_LEN,
	    &clen, out + WG_DATA_HEADER_LEN, padded, NULL, 0, NULL, nonce,
	    kp->send_key);
	wg_udp_send(peer, out, WG_DATA_HEADER_LEN + clen);
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
	assert(peer->staged_count < WG_STAGED_MAX);
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
void
wg_send_staged(struct wg_peer *peer, uint64_t now)
{
	struct wg_dev *dev = peer->dev;
	struct wg_keypair *kp = peer->cur;

	if (!keypair_usable(dev, kp, now)) {
		if (peer->handshake.state == WG_HS_NONE ||
		    now - peer->last_initiation_tx >= dev->timing.rekey_timeout)
			wg_initiate(peer, now, false);
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
		wg_initiate(peer, now, false);
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
		    wg_initiate(peer, now, false) == 1) {
			char nb[WG_PEER_NAME_LEN];

			log_info("peer %s: rekeying (session %llu s old)",
			    wg_peer_name(peer, nb),
			    (unsigned long long)((now - kp->birth) / WG_NSEC));
		}
		return;
	}
	stage_packet(peer, pkt, len);
	wg_send_staged(peer, now);
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
	wg_send_staged(peer, now);
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
