/*
 * The WireGuard engine's internals: what its own files share (STYLE.md 14,
 * as SQLite's btreeInt.h beside btree.h).  Only src/vpn/wg_*.c include this;
 * the contract for everyone else, koden-vpn's I/O and the tests, is wg.h.
 *
 * The engine's rooms, as the kernel's drivers/net/wireguard/ has them, from
 * the top down; each calls only the ones below it (scripts/depcheck.py):
 *
 *   wg_device.c     the device: create, free, the static private key
 *   wg_receive.c    datagrams from the network: handshake messages and data,
 *                   one by one or in batches decrypted in parallel
 *   wg_timers.c     the timer expiries of §6 (wg_dev_tick)
 *   wg_peer.c       peers: add, find, remove; psk, endpoint, keepalive,
 *                   allowed IPs
 *   wg_send.c       packets to the network: initiations, data, keepalives,
 *                   the queue of packets waiting for a session, sealing
 *   wg_cookie.c     MAC1/MAC2, cookie replies, the under-load estimate
 *   wg_keypair.c    sessions: keypairs from a finished handshake, the
 *                   previous/current/next rotation, wiping
 *   wg_ratelimit.c  under load, the token bucket per source address
 *   wg_index.c      the receiver-index table (kernel peerlookup.c)
 *   wg_log.c        rate-limited "rejected packet" lines, peer names in logs
 *
 * The kernel's timers.c <-> send.c circle does not form here.  The hooks
 * that send and receive call on every packet (timers_* below) are static
 * inline, so the data path keeps them inlined, and wg_timers.c holds only
 * the expiry side, which calls down into wg_send.c.  Likewise the helpers a
 * hot loop calls across files (index_lookup, keypair_usable,
 * confirm_keypair, the little-endian accessors) are static inline here.
 */
#ifndef KODEN_VPN_WG_INT_H
#define KODEN_VPN_WG_INT_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sodium.h>

#include "crypto/noise.h"
#include "vpn/wg.h"

#define WG_IDENTIFIER "WireGuard v1 zx2c4 Jason@zx2c4.com"
#define WG_LABEL_MAC1 "mac1----"
#define WG_LABEL_COOKIE "cookie--"
#define WG_LABEL_LEN 8		/* both labels */

/* The AEAD nonce of transport data: 4 zero bytes, then the counter (64-bit
 * little-endian). */
#define WG_NONCE_LEN crypto_aead_chacha20poly1305_ietf_NPUBBYTES
#define WG_NONCE_COUNTER 4

/* Handshake timers get up to this much random delay (wireguard-go). */
#define WG_REKEY_JITTER_MS 333

/* A peer's name in logs (wg_peer_name): the base64 of the first
 * WG_PEER_NAME_KEY_BYTES of its public key, NUL-terminated. */
#define WG_PEER_NAME_KEY_BYTES 6
#define WG_PEER_NAME_LEN 16

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

static inline void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static inline uint32_t
get_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static inline uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline int64_t
wall_now(const struct wg_dev *dev, uint64_t now)
{
	return (int64_t)now + dev->wall_offset_ns;
}

static inline bool
key_is_zero(const uint8_t *k)
{
	return sodium_is_zero(k, WG_KEY_LEN);
}

/* ---- wg_log.c ---- */

/* Log one rejected packet from `from`, what saying why (rate-limited). */
void wg_log_reject(struct wg_dev *dev, uint64_t now, const char *what,
    const struct sockaddr *from);
/* A short, non-secret name for a peer in logs, written to buf. */
const char *wg_peer_name(const struct wg_peer *peer,
    char buf[static WG_PEER_NAME_LEN]);

/* ---- the index table: lookup here (hot), changes in wg_index.c ---- */

static inline unsigned
bucket_of(uint32_t idx)
{
	/* Knuth's multiplicative hash: the top bits of idx * 2^32 / phi */
	return (idx * 2654435761u) >> (32 - WG_INDEX_BUCKET_BITS);
}

static inline struct wg_index *
index_lookup(struct wg_dev *dev, uint32_t idx)
{
	for (struct wg_index *e = dev->buckets[bucket_of(idx)]; e; e = e->next)
		if (e->idx == idx && e->kind != WG_INDEX_NONE)
			return e;
	return NULL;
}

/* Insert e under a fresh index (or idx, when not 0 and free). */
void wg_index_add(struct wg_dev *dev, struct wg_index *e,
    enum wg_index_kind kind, struct wg_peer *peer, uint32_t idx);
/* Take e out of the table (an entry not in it is a no-op). */
void wg_index_del(struct wg_dev *dev, struct wg_index *e);

/* ---- wg_keypair.c: sessions ---- */

/* Wipe and free kp, taking its index out of the table.  NULL is a no-op. */
void wg_keypair_free(struct wg_dev *dev, struct wg_keypair *kp);
/* End the handshake in flight, if any: index freed, state wiped. */
void wg_handshake_clear(struct wg_dev *dev, struct wg_handshake *h);
/* Drop every session and handshake of peer (keys zeroed). */
void wg_peer_clear_keys(struct wg_peer *peer);
/* Put a session just derived in its place (previous/current/next); takes
 * ownership of kp. */
void wg_keypair_install(struct wg_peer *peer, struct wg_keypair *kp);
/*
 * The transport keys of the finished handshake hs, as a keypair of peer
 * with the receiver index local_index (0: a fresh one) in the table.  The
 * caller wipes hs, and installs or frees the result.  NULL when out of
 * memory or noise refuses the split.
 */
struct wg_keypair *wg_keypair_new(struct wg_peer *peer, struct noise_hs *hs,
    bool initiator, uint32_t local_index, uint32_t remote_index,
    uint64_t now);

/* A keypair is usable for sending/receiving while young and not worn out. */
static inline bool
keypair_usable(const struct wg_dev *dev, const struct wg_keypair *kp,
    uint64_t now)
{
	return kp != NULL && now - kp->birth < dev->timing.reject_after_time &&
	    kp->send_counter < WG_REJECT_AFTER_MESSAGES;
}

/* Data arrived on the "next" keypair: the responder's session is confirmed. */
static inline bool
confirm_keypair(struct wg_peer *peer, struct wg_keypair *kp)
{
	if (kp != peer->next_kp)
		return false;
	assert(kp->index.peer == peer && !kp->initiator);
	wg_keypair_free(peer->dev, peer->prev);
	peer->prev = peer->cur;
	peer->cur = kp;
	peer->next_kp = NULL;
	return true;
}

/* ---- the timer hooks (wireguard-go timers.go); expiries: wg_timers.c ---- */

/* Up to 333 ms added to handshake timers, so that peers do not retry in
 * lockstep (wireguard-go, the kernel). */
static inline uint64_t
jitter(void)
{
	return (uint64_t)randombytes_uniform(WG_REKEY_JITTER_MS + 1) * 1000000ULL;
}

/*
 * Called by wg_send.c and wg_receive.c after every authenticated packet,
 * either way, handshake or data (timersAnyAuthenticatedPacketTraversal):
 * re-arms the persistent keepalive.
 */
static inline void
timers_any_authenticated_traversal(struct wg_peer *peer, uint64_t now)
{
	if (peer->persistent_keepalive)
		peer->t_persistent_keepalive =
		    now + (uint64_t)peer->persistent_keepalive * WG_NSEC;
}

/*
 * Called by wg_send.c after a data packet (not a keepalive) is sent: without
 * an answer within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT, a new handshake.
 */
static inline void
timers_data_sent(struct wg_peer *peer, uint64_t now)
{
	struct wg_timing *t = &peer->dev->timing;

	if (peer->t_new_handshake == 0)
		peer->t_new_handshake = now + t->keepalive_timeout +
		    t->rekey_timeout + jitter();
}

/*
 * Called by wg_receive.c after an authenticated data packet (not a
 * keepalive) is received: we owe a keepalive within KEEPALIVE_TIMEOUT.
 */
static inline void
timers_data_received(struct wg_peer *peer, uint64_t now)
{
	if (peer->t_send_keepalive == 0)
		peer->t_send_keepalive = now + peer->dev->timing.keepalive_timeout;
}

/* Called by wg_send.c and wg_receive.c after any authenticated packet is
 * sent: it tells the peer what a keepalive would, so none is owed. */
static inline void
timers_any_authenticated_sent(struct wg_peer *peer)
{
	peer->t_send_keepalive = 0;
}

/* Called by wg_receive.c after any authenticated packet is received: the
 * peer answers, so no new handshake is needed for lack of one. */
static inline void
timers_any_authenticated_received(struct wg_peer *peer)
{
	peer->t_new_handshake = 0;
}

/*
 * Called by wg_receive.c when a handshake completes (the initiator on the
 * response, the responder on the first data of the new session): no more
 * retransmissions, and the wall time `wg show` reports.
 */
static inline void
timers_handshake_complete(struct wg_peer *peer, uint64_t now)
{
	int64_t wall = wall_now(peer->dev, now);

	peer->t_retransmit = 0;
	peer->handshake_attempts = 0;
	peer->last_handshake_sec = wall / (int64_t)WG_NSEC;
	peer->last_handshake_nsec = wall % (int64_t)WG_NSEC;
}

/* Called by wg_receive.c when a session is derived, either role: all keys
 * are zeroed if no newer one comes within 3 * REJECT_AFTER_TIME. */
static inline void
timers_session_derived(struct wg_peer *peer, uint64_t now)
{
	peer->t_zero_keys = now + 3 * peer->dev->timing.reject_after_time;
}

/* ---- wg_ratelimit.c ---- */

/*
 * Under load, whether a handshake message from this source address may
 * pass its token bucket (and charge it).  false too for a family other
 * than IPv4/IPv6, or when the table cannot be allocated.
 */
bool wg_rate_allow(struct wg_dev *dev, uint64_t now,
    const struct sockaddr *from);

/* ---- wg_cookie.c: MACs and cookies ---- */

/* HASH(label || key): the MAC1 and cookie keys (§5.4.4, §5.4.7). */
int wg_label_key(uint8_t out[static 32], const char *label,
    const uint8_t key[32]) KODEN_WUR;
/* Fill mac1 and mac2 of a message of len bytes ending in them (§5.4.4),
 * and remember mac1 for the cookie reply it may draw. */
int wg_add_macs(struct wg_peer *peer, uint8_t *msg, size_t len,
    uint64_t now) KODEN_WUR;
/* The MACs of a handshake message from `from`: 0 go on; 1 handled (a cookie
 * reply sent) or dropped. */
int wg_check_macs(struct wg_dev *dev, uint64_t now,
    const struct sockaddr *from, socklen_t from_len, const uint8_t *msg,
    size_t len, uint32_t sender) KODEN_WUR;
/* A cookie reply (exactly WG_COOKIE_REPLY_LEN bytes): the cookie its peer
 * uses for MAC2 from now on, if it decrypts. */
void wg_recv_cookie_reply(struct wg_dev *dev, uint64_t now,
    const struct sockaddr *from, const uint8_t *msg);

/* ---- wg_send.c ---- */

/* Forget the packets waiting for a session. */
void wg_staged_clear(struct wg_peer *peer);
/* One datagram to the peer's endpoint (none known: dropped), counted in
 * tx_bytes. */
void wg_udp_send(struct wg_peer *peer, const uint8_t *p, size_t len);
/* Send an initiation: 1 sent, 0 not now (REKEY_TIMEOUT), or a KERR_*. */
int wg_initiate(struct wg_peer *peer, uint64_t now, bool retry);
/* Send the queued packets through the current session, or start a
 * handshake for them. */
void wg_send_staged(struct wg_peer *peer, uint64_t now);

#endif
