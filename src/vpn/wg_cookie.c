/*
 * MAC1 and MAC2 (whitepaper §5.3, §5.4.4) and cookie replies (§5.4.7), the
 * kernel's cookie.c: every handshake message carries a MAC1 keyed with the
 * receiver's public key; under load (more than WG_UNDER_LOAD_PER_SEC
 * handshake messages a second) a valid MAC2, keyed with a cookie the
 * sender got from us for its address, is demanded too, and a message
 * without one is answered with a cookie reply instead of a handshake.
 */
#include <netinet/in.h>
#include <string.h>

#include <blake2.h>
#include <sodium.h>

#include "crypto/blake2s.h"
#include "lib/log.h"
#include "vpn/wg_int.h"

_Static_assert(sizeof(WG_LABEL_MAC1) - 1 == WG_LABEL_LEN &&
    sizeof(WG_LABEL_COOKIE) - 1 == WG_LABEL_LEN, "labels are 8 bytes");

int
wg_mac(uint8_t out[static WG_MAC_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *in, size_t len)
{
	return blake2s(out, in, key, WG_MAC_LEN, len, key_len) == 0 ? 0 :
	    KERR_CRYPTO;
}

/* HASH(label || key): the MAC1 and cookie keys of §5.4.4 and §5.4.7. */
int
wg_label_key(uint8_t out[static 32], const char *label, const uint8_t key[32])
{
	return b2s_hash2(out, (const uint8_t *)label, WG_LABEL_LEN, key,
	    WG_KEY_LEN);
}

/* Fill mac1 and mac2 of a message of len bytes ending in them (§5.4.4). */
int
wg_add_macs(struct wg_peer *peer, uint8_t *msg, size_t len, uint64_t now)
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
	uint8_t src[sizeof(struct in6_addr) + sizeof(in_port_t)];
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
		n = sizeof(struct in_addr) + sizeof(in_port_t);
	} else if (from->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)from;
		memcpy(src, &s->sin6_addr, 16);
		memcpy(src + 16, &s->sin6_port, 2);
		n = sizeof(struct in6_addr) + sizeof(in_port_t);
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
 * MAC1 always (it proves the sender knows our public key); under load MAC2
 * too, else answer with a cookie reply.  0: go on; 1: handled or dropped.
 */
int
wg_check_macs(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    socklen_t from_len, const uint8_t *msg, size_t len, uint32_t sender)
{
	uint8_t mac[WG_MAC_LEN], tau[WG_COOKIE_LEN];
	const uint8_t *mac1 = msg + len - 2 * WG_MAC_LEN;
	const uint8_t *mac2 = msg + len - WG_MAC_LEN;
	int ok;

	if (wg_mac(mac, dev->mac1_key, WG_KEY_LEN, msg, len - 2 * WG_MAC_LEN) != 0 ||
	    sodium_memcmp(mac, mac1, WG_MAC_LEN) != 0) {
		dev->stats.rx_invalid_mac1++;
		wg_log_reject(dev, now, "invalid MAC1", from);
		return 1;
	}
	if (!under_load(dev, now))
		return 0;
	ok = make_cookie(dev, now, from, tau) == 0 &&
	    wg_mac(mac, tau, WG_COOKIE_LEN, msg, len - WG_MAC_LEN) == 0 &&
	    sodium_memcmp(mac, mac2, WG_MAC_LEN) == 0;
	sodium_memzero(tau, sizeof(tau));
	if (ok) {
		if (wg_rate_allow(dev, now, from))
			return 0;
		dev->stats.rx_ratelimited++;
		wg_log_reject(dev, now, "under load: handshake rate limit for this "
		    "address", from);
		return 1;
	}
	wg_log_reject(dev, now, "under load and no valid MAC2: cookie reply sent",
	    from);
	send_cookie_reply(dev, now, from, from_len, sender, mac1);
	return 1;
}
void
wg_recv_cookie_reply(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    const uint8_t *msg)
{
	struct wg_index *e = index_lookup(dev, get_le32(msg + COOKIE_RECEIVER));
	struct wg_peer *peer;
	uint8_t tau[WG_COOKIE_LEN];
	unsigned long long n;

	if (e == NULL) {
		dev->stats.rx_bad_handshake++;
		wg_log_reject(dev, now, "cookie reply for no handshake", from);
		return;
	}
	peer = e->peer;
	if (!peer->last_mac1_valid)
		return;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(tau, &n, NULL,
	    msg + COOKIE_ENC, WG_COOKIE_LEN + NOISE_TAGLEN, peer->last_mac1,
	    WG_MAC_LEN, msg + COOKIE_NONCE, peer->cookie_key) != 0) {
		dev->stats.rx_bad_handshake++;
		wg_log_reject(dev, now, "cookie reply does not decrypt", from);
		return;
	}
	memcpy(peer->cookie, tau, WG_COOKIE_LEN);
	peer->cookie_birth = now ? now : 1;
	peer->last_mac1_valid = false;
	sodium_memzero(tau, sizeof(tau));
	log_debug("cookie reply accepted");
}
