/*
 * Datagrams from the network (the kernel's receive.c): handshake
 * initiations and responses (§5.4.2, §5.4.3), transport data (§5.4.6) with
 * the replay window and cryptokey routing, one by one (wg_dev_recv) or in a
 * batch whose decryption runs in parallel (wg_dev_recv_batch).  Cookie
 * replies go to wg_cookie.c.
 */
#include <string.h>

#include <sodium.h>

#include "lib/log.h"
#include "vpn/allowedips.h"
#include "vpn/replay.h"
#include "vpn/wg_int.h"

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
	char nb[WG_PEER_NAME_LEN];

	if (wg_check_macs(dev, now, from, from_len, msg, WG_INITIATION_LEN, sender))
		return;
	if (noise_hs_init(&hs, NOISE_IKPSK2, 0, (const uint8_t *)WG_IDENTIFIER,
	    strlen(WG_IDENTIFIER), &dev->static_kp, NULL, NULL) != 0)
		return;
	/* <- e, es, s, ss, {timestamp} */
	if (noise_hs_read(&hs, msg + INIT_NOISE, INIT_NOISE_LEN, ts, sizeof(ts),
	    &n) != 0 || n != sizeof(ts)) {
		dev->stats.rx_bad_handshake++;
		wg_log_reject(dev, now, "handshake initiation does not decrypt", from);
		goto out;
	}
	rs = noise_hs_remote_static(&hs);
	if (rs == NULL || (peer = wg_peer_find(dev, rs)) == NULL) {
		dev->stats.rx_unknown_peer++;
		wg_log_reject(dev, now, "handshake initiation from an unknown key", from);
		goto out;
	}
	/* §5.1: the TAI64N timestamp must grow (replay), and at most
	 * INITIATIONS_PER_SEC (flood) */
	if (memcmp(ts, peer->last_timestamp, sizeof(ts)) <= 0) {
		dev->stats.rx_replayed_timestamp++;
		wg_log_reject(dev, now, "replayed handshake initiation (timestamp)",
		    from);
		goto out;
	}
	if (peer->last_initiation_rx != 0 && now - peer->last_initiation_rx <
	    WG_NSEC / WG_INITIATIONS_PER_SEC) {
		dev->stats.rx_replayed_timestamp++;
		wg_log_reject(dev, now, "handshake initiation flood", from);
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
	kp = wg_keypair_new(peer, &hs, false, 0, sender, now);
	if (kp == NULL)
		goto out;
	put_le32(resp + RESP_SENDER, kp->index.idx);
	put_le32(resp + RESP_RECEIVER, sender);
	if (wg_add_macs(peer, resp, sizeof(resp), now) != 0) {
		wg_keypair_free(dev, kp);
		goto out;
	}
	set_endpoint(peer, from, from_len);
	wg_keypair_install(peer, kp);
	log_info("peer %s: handshake initiation received, response sent",
	    wg_peer_name(peer, nb));
	wg_udp_send(peer, resp, sizeof(resp));
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
	char nb[WG_PEER_NAME_LEN];

	if (wg_check_macs(dev, now, from, from_len, msg, WG_RESPONSE_LEN, sender))
		return;
	e = index_lookup(dev, get_le32(msg + RESP_RECEIVER));
	if (e == NULL || e->kind != WG_INDEX_HANDSHAKE ||
	    e->peer->handshake.state != WG_HS_INITIATION_SENT) {
		dev->stats.rx_bad_handshake++;
		wg_log_reject(dev, now, "handshake response for no handshake", from);
		return;
	}
	peer = e->peer;
	/* work on a copy: a forged response must not cost us the handshake */
	hs = peer->handshake.hs;
	if (noise_hs_read(&hs, msg + RESP_NOISE, RESP_NOISE_LEN, NULL, 0,
	    &n) != 0) {
		dev->stats.rx_bad_handshake++;
		wg_log_reject(dev, now, "handshake response does not decrypt", from);
		noise_hs_wipe(&hs);
		return;
	}
	idx = e->idx;
	peer->rx_bytes += WG_RESPONSE_LEN;
	wg_handshake_clear(dev, &peer->handshake);
	kp = wg_keypair_new(peer, &hs, true, idx, sender, now);
	noise_hs_wipe(&hs);
	if (kp == NULL)
		return;
	set_endpoint(peer, from, from_len);
	wg_keypair_install(peer, kp);
	dev->stats.handshakes_completed++;
	log_info("peer %s: handshake completed (initiator)", wg_peer_name(peer, nb));
	timers_any_authenticated_received(peer);
	timers_any_authenticated_traversal(peer, now);
	timers_session_derived(peer, now);
	timers_handshake_complete(peer, now);
	/* confirm the session to the responder: data, or a keepalive */
	wg_peer_send_keepalive(peer, now);
}
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
		wg_log_reject(dev, now, "data for an unknown session", from);
		return NULL;
	}
	kp = (struct wg_keypair *)e;	/* index is its first member */
	*counter = get_le64(msg + DATA_COUNTER);
	if (now - kp->birth >= dev->timing.reject_after_time ||
	    *counter >= WG_REJECT_AFTER_MESSAGES) {
		dev->stats.rx_no_key++;
		wg_log_reject(dev, now, "data for an expired session", from);
		return NULL;
	}
	return kp;
}

/* Decrypt in place: the plaintext length, or -1 if the tag is wrong. */
static long
data_open(const struct wg_keypair *kp, uint64_t counter, uint8_t *msg,
    size_t len)
{
	uint8_t nonce[WG_NONCE_LEN] = { 0 }, *pt = msg + WG_DATA_HEADER_LEN;
	unsigned long long plen;

	put_le64(nonce + WG_NONCE_COUNTER, counter);
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
		wg_log_reject(dev, now, "replayed data counter", from);
		return;
	}
	/* authenticated from here on */
	peer->rx_bytes += len;
	set_endpoint(peer, from, from_len);
	if (confirm_keypair(peer, kp)) {
		char nb[WG_PEER_NAME_LEN];

		log_info("peer %s: handshake completed (responder)",
		    wg_peer_name(peer, nb));
		dev->stats.handshakes_completed++;
		timers_handshake_complete(peer, now);
		wg_send_staged(peer, now);
	}
	/* keep the key fresh (§6.2): the initiator rekeys before its
	 * session nears REJECT_AFTER_TIME while receiving */
	if (kp == peer->cur && kp->initiator &&
	    peer->handshake.state == WG_HS_NONE &&
	    now - kp->birth >= dev->timing.reject_after_time -
	    dev->timing.keepalive_timeout - dev->timing.rekey_timeout)
		wg_initiate(peer, now, false);
	timers_any_authenticated_received(peer);
	timers_any_authenticated_traversal(peer, now);
	if (plen == 0)
		return;		/* keepalive */
	timers_data_received(peer, now);
	fam = ip_src(pt, plen, &src, &ip_len);
	if (fam == 0) {
		dev->stats.rx_data_bad++;
		wg_log_reject(dev, now, "inner packet is not IP", from);
		return;
	}
	if (allowedips_lookup(dev->allowed, fam, src) != peer) {
		dev->stats.rx_bad_source++;
		wg_log_reject(dev, now, "inner source address not allowed for peer",
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
		wg_log_reject(dev, now, "data does not authenticate", from);
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
		wg_log_reject(dev, now, "not a WireGuard message", from);
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
		wg_recv_cookie_reply(dev, now, from, p);
	else {
		dev->stats.rx_data_bad++;
		wg_log_reject(dev, now, "bad message type or length", from);
	}
}

/* Where each datagram of a batch stands (struct wg_rx.state). */
enum wg_rx_state {
	RX_SERIAL = 0,	/* not data of a live session: wg_dev_recv, in order */
	RX_OPEN,	/* data to decrypt in the parallel step */
	RX_OPENED,	/* decrypted, plen set */
	RX_BAD,		/* did not authenticate */
};

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
			wg_log_reject(dev, now, "data does not authenticate", r->from);
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
