/*
 * The WireGuard protocol engine (WireGuard whitepaper §5 and §6; message
 * formats, MAC1/MAC2 and cookies, timers), without sockets or TUN: a packet
 * goes in with the time, packets come out through two callbacks.  That keeps
 * the protocol testable in-process with an injected clock (tests/unit/
 * test_wg.c) and fuzzable (fuzz/fuzz_wg_packet.c); koden-vpn (src/vpn/
 * kodenvpn.c and the vpn_*.c around it) puts it on a TUN device and a UDP
 * socket.  The engine is src/vpn/wg_*.c, one concern a file as the kernel's
 * drivers/net/wireguard/ has them; what they share is in wg_int.h.
 *
 * Handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s from src/crypto/noise.c
 * with the prologue "WireGuard v1 zx2c4 Jason@zx2c4.com"; the first message
 * carries a TAI64N timestamp as payload, the second an empty one.  Transport
 * data: ChaCha20-Poly1305 (IETF) with the 64-bit counter as nonce (libsodium),
 * the RFC 6479 window of replay.c, allowed IPs in the trie of allowedips.c.
 *
 * Times are CLOCK_MONOTONIC nanoseconds passed in as `now`; the wall clock
 * (TAI64N timestamps, last-handshake time) is now + dev->wall_offset_ns,
 * which the caller keeps current.  Not thread-safe: the caller serialises
 * every call on one device (kodenvpn.c holds one mutex).
 *
 * Memory: peers and keypairs are calloc()ed, and wiped with sodium_memzero()
 * before free(); nothing is allocated per data packet (the device has one
 * scratch buffer; a peer allocates its queue of packets waiting for a
 * handshake on first use).
 */
#ifndef KODEN_VPN_WG_H
#define KODEN_VPN_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/noise.h"
#include "lib/err.h"
#include "vpn/replay.h"

#define WG_KEY_LEN 32
#define WG_MAC_LEN 16
#define WG_COOKIE_LEN 16
#define WG_COOKIE_NONCE_LEN 24
#define WG_TAI64N_LEN 12

/* Message types and exact sizes (whitepaper §5.4). */
#define WG_MSG_INITIATION 1
#define WG_MSG_RESPONSE 2
#define WG_MSG_COOKIE 3
#define WG_MSG_DATA 4
#define WG_INITIATION_LEN 148
#define WG_RESPONSE_LEN 92
#define WG_COOKIE_REPLY_LEN 64
#define WG_DATA_HEADER_LEN 16
#define WG_DATA_MIN_LEN (WG_DATA_HEADER_LEN + NOISE_TAGLEN)	/* keepalive */

/* Inner packets are padded to a multiple of this (§5.4.6). */
#define WG_PAD_MULTIPLE 16
/* Largest inner IP packet, and so the largest datagram we build or take. */
#define WG_PACKET_MAX 65535
#define WG_DATAGRAM_MAX (WG_DATA_HEADER_LEN + WG_PACKET_MAX + WG_PAD_MULTIPLE + \
    NOISE_TAGLEN)

/* Whitepaper §6.1 constants (seconds, messages). */
#define WG_REKEY_AFTER_MESSAGES (1ULL << 60)
#define WG_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))
#define WG_REKEY_AFTER_TIME 120
#define WG_REJECT_AFTER_TIME 180
#define WG_REKEY_ATTEMPT_TIME 90
#define WG_REKEY_TIMEOUT 5
#define WG_KEEPALIVE_TIMEOUT 10
#define WG_COOKIE_REFRESH_TIME 120
#define WG_MAX_TIMER_HANDSHAKES (WG_REKEY_ATTEMPT_TIME / WG_REKEY_TIMEOUT)
#define WG_NSEC 1000000000ULL

/* Packets queued per peer while its handshake is under way (oldest dropped). */
#define WG_STAGED_MAX 64
#define WG_STAGED_PACKET_MAX 2048	/* bigger packets are not staged */
/* Handshake messages per second over which the device is "under load". */
#define WG_UNDER_LOAD_PER_SEC 256
/* Initiations accepted per peer per second (whitepaper §5.1 flood limit). */
#define WG_INITIATIONS_PER_SEC 50
#define WG_INDEX_BUCKET_BITS 12
#define WG_INDEX_BUCKETS (1u << WG_INDEX_BUCKET_BITS)
/* Under load, handshake messages with a valid MAC2 are still limited per
 * source address (wireguard-go's ratelimiter): WG_RATE_PER_SEC a second,
 * bursts of WG_RATE_BURST, in a table of WG_RATE_SLOTS addresses (a hash
 * collision evicts, which can only grant a fresh burst). */
#define WG_RATE_PER_SEC 20
#define WG_RATE_BURST 5
#define WG_RATE_SLOTS 4096
#define WG_PEERS_MAX 65536

struct wg_peer;
struct wg_dev;

/* Where an entry of the index table points. */
enum wg_index_kind { WG_INDEX_NONE = 0, WG_INDEX_HANDSHAKE, WG_INDEX_KEYPAIR };

struct wg_index {
	uint32_t idx;
	enum wg_index_kind kind;
	struct wg_peer *peer;
	struct wg_index *next;		/* bucket chain */
};

/* One session's transport keys (whitepaper §5.4.5). */
struct wg_keypair {
	struct wg_index index;		/* our receiver index: first member */
	uint8_t send_key[NOISE_KEYLEN];
	uint8_t recv_key[NOISE_KEYLEN];
	uint64_t send_counter;
	struct replay replay;
	uint32_t remote_index;
	uint64_t birth;			/* monotonic ns */
	uint64_t serial;		/* unique per device, never reused */
	bool initiator;
};

enum wg_hs_state { WG_HS_NONE = 0, WG_HS_INITIATION_SENT };

struct wg_handshake {
	struct wg_index index;
	enum wg_hs_state state;
	struct noise_hs hs;
};

struct wg_timing {			/* the §6.1 times, in ns */
	uint64_t rekey_after_time, reject_after_time, rekey_attempt_time;
	uint64_t rekey_timeout, keepalive_timeout, cookie_refresh_time;
	uint64_t rekey_after_messages;
};

struct wg_peer {
	struct wg_dev *dev;
	struct wg_peer *next;		/* device list */
	uint8_t public_key[WG_KEY_LEN];
	uint8_t psk[NOISE_PSKLEN];	/* zero when none: WireGuard's default */
	bool has_psk;
	uint8_t mac1_key[WG_KEY_LEN];	/* HASH("mac1----" || public_key) */
	uint8_t cookie_key[WG_KEY_LEN];	/* HASH("cookie--" || public_key) */

	struct sockaddr_storage endpoint;
	socklen_t endpoint_len;		/* 0: no endpoint known */

	struct wg_keypair *prev, *cur, *next_kp;
	struct wg_handshake handshake;
	uint8_t last_timestamp[WG_TAI64N_LEN];	/* newest initiation accepted */
	uint64_t last_initiation_rx;	/* monotonic ns, 0 = never */
	uint64_t last_initiation_tx;	/* monotonic ns, 0 = never */

	/* cookie from the peer's cookie reply (§5.4.7) */
	uint8_t cookie[WG_COOKIE_LEN];
	uint64_t cookie_birth;		/* 0 = none */
	uint8_t last_mac1[WG_MAC_LEN];	/* of the last message sent to it */
	bool last_mac1_valid;

	uint64_t rx_bytes, tx_bytes;
	int64_t last_handshake_sec, last_handshake_nsec;	/* wall, 0 = never */
	uint16_t persistent_keepalive;	/* seconds, 0 = off */

	/* timers (§6): monotonic deadlines in ns, 0 = not armed */
	uint64_t t_retransmit, t_send_keepalive, t_new_handshake;
	uint64_t t_zero_keys, t_persistent_keepalive;
	unsigned handshake_attempts;

	/* packets waiting for a session: a ring, allocated on first use */
	uint8_t *staged;		/* WG_STAGED_MAX * WG_STAGED_PACKET_MAX */
	uint16_t staged_len[WG_STAGED_MAX];
	unsigned staged_head, staged_count;
};

struct wg_io {
	/* Send one datagram to a peer's endpoint (never called without one). */
	void (*udp_send)(void *ctx, const struct sockaddr *to, socklen_t to_len,
	    const uint8_t *p, size_t len);
	/* Hand one decrypted, checked IP packet to the TUN device. */
	void (*tun_write)(void *ctx, const uint8_t *p, size_t len);
	/*
	 * Optional, for batched crypto (NULL: each data message is encrypted
	 * at once and given to udp_send).  A slot for one datagram of len
	 * bytes to `to`, queued in order with what udp_send queues; the engine
	 * writes header and plaintext there and encrypts it in place in
	 * wg_dev_seal(), which the I/O layer must call before it sends any
	 * reserved slot.  NULL when there is no room (the packet is dropped).
	 */
	uint8_t *(*udp_reserve)(void *ctx, const struct sockaddr *to,
	    socklen_t to_len, size_t len);
	/* Optional: run fn over [0, n) in parallel chunks and return when all
	 * are done (workers_run_cb).  NULL: inline.  ctx is run_ctx. */
	void (*run)(void *ctx, void (*fn)(void *arg, size_t lo, size_t hi),
	    void *arg, size_t n);
	void *run_ctx;
};

/* One reserved data message waiting for wg_dev_seal(). */
struct wg_seal_job {
	uint8_t *p;		/* header; plaintext (padded) at p + 16 */
	size_t padded;
	uint64_t counter;
	uint8_t key[NOISE_KEYLEN];
};
#define WG_SEAL_MAX 512

/* One received datagram for wg_dev_recv_batch(); the fields after len are
 * the engine's. */
struct wg_rx {
	const struct sockaddr *from;
	socklen_t from_len;
	uint8_t *p;
	size_t len;
	struct wg_keypair *kp;
	uint64_t serial, counter;
	size_t plen;
	int state;
};

struct wg_stats {			/* device counters, for logs and tests */
	uint64_t rx_invalid_mac1, rx_cookie_sent, rx_bad_handshake;
	uint64_t rx_replayed_timestamp, rx_unknown_peer, rx_data_bad;
	uint64_t rx_replay, rx_bad_source, rx_no_key, tx_no_peer;
	uint64_t rx_ratelimited;
	uint64_t handshakes_initiated, handshakes_completed;
};

struct wg_dev {
	struct wg_io io;
	void *io_ctx;
	int64_t wall_offset_ns;		/* wall clock = now + this */
	struct wg_timing timing;

	bool has_key;
	struct noise_keypair static_kp;
	uint8_t mac1_key[WG_KEY_LEN];	/* HASH("mac1----" || our public) */
	uint8_t cookie_key[WG_KEY_LEN];	/* HASH("cookie--" || our public) */

	struct wg_peer *peers;
	size_t n_peers;
	struct allowedips *allowed;
	struct wg_index *buckets[WG_INDEX_BUCKETS];

	/* cookie secret R_m, changed every COOKIE_REFRESH_TIME (§5.4.7) */
	uint8_t cookie_secret[WG_KEY_LEN];
	uint64_t cookie_secret_birth;
	/* load estimate: handshake messages in the current second */
	uint64_t load_window, load_count, under_load_until;
	struct wg_rate {
		uint8_t addr[16];	/* IPv4 as v4-mapped */
		uint64_t last;		/* monotonic ns of the last refill */
		uint64_t tokens;	/* in ns of budget: WG_NSEC / PER_SEC each */
	} *rate;			/* WG_RATE_SLOTS, allocated when first under load */
	uint8_t rate_key[16];		/* keys the slot hash (SipHash) */
	bool force_under_load;		/* tests: always demand MAC2 */

	/* rate limit of "rejected packet" log lines */
	uint64_t log_window;
	unsigned log_count;

	struct wg_stats stats;
	uint64_t kp_serial;		/* last keypair serial given out */
	struct wg_seal_job seal[WG_SEAL_MAX];
	size_t n_seal;
	uint8_t scratch[WG_DATAGRAM_MAX + 64];
};

/* ---- device ---- */

/* A device without key or peers.  Caller frees *out with wg_dev_free. */
int wg_dev_new(struct wg_dev **out, const struct wg_io *io, void *io_ctx)
    KODEN_WUR;
/* Wipe every key, free the peers and the device.  NULL is a no-op. */
void wg_dev_free(struct wg_dev *dev);
/*
 * Set the static private key (NULL or all zeros: remove it).  Recomputes the
 * public key and the MAC1/cookie keys; every session and handshake in flight
 * is dropped, and a peer whose public key equals ours is removed (as
 * wireguard-go does).  KERR_CRYPTO if libsodium refuses the key.
 */
int wg_dev_set_private_key(struct wg_dev *dev, const uint8_t *key) KODEN_WUR;

/* ---- peers ---- */

struct wg_peer *wg_peer_find(struct wg_dev *dev,
    const uint8_t pub[static WG_KEY_LEN]);
/* Add a peer with no psk, endpoint or allowed IPs.  KERR_EXISTS if there
 * already is one with this key, KERR_TOOBIG past WG_PEERS_MAX, KERR_NOMEM. */
int wg_peer_new(struct wg_dev *dev, const uint8_t pub[static WG_KEY_LEN],
    struct wg_peer **out) KODEN_WUR;
/* Remove the peer, its allowed IPs and indices; wipe and free it. */
void wg_peer_remove(struct wg_dev *dev, struct wg_peer *peer);
/* psk NULL or all zeros: no psk. */
void wg_peer_set_psk(struct wg_peer *peer, const uint8_t *psk);
void wg_peer_set_endpoint(struct wg_peer *peer, const struct sockaddr *sa,
    socklen_t len);
/* Persistent keepalive interval; a non-zero one sends a keepalive now. */
void wg_peer_set_keepalive(struct wg_peer *peer, uint16_t secs, uint64_t now);
/* Wrappers around the device's allowedips table (family AF_INET/AF_INET6). */
int wg_peer_allowed_add(struct wg_peer *peer, int family, const uint8_t *addr,
    uint8_t cidr) KODEN_WUR;
void wg_peer_allowed_clear(struct wg_peer *peer);
int wg_peer_allowed_walk(struct wg_peer *peer,
    int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr),
    void *ctx);

/* ---- packets and time ---- */

/*
 * A datagram from the network (from/from_len its source).  p is modified
 * (decrypted in place).  Handshake messages may produce replies through
 * io.udp_send, data through io.tun_write.  Bad input is counted in
 * dev->stats and logged (rate-limited), never fatal.
 */
void wg_dev_recv(struct wg_dev *dev, uint64_t now, const struct sockaddr *from,
    socklen_t from_len, uint8_t *p, size_t len);
/*
 * The same for a batch of datagrams, in order, with the transport-data
 * decryption of the whole batch done first through io.run (in parallel):
 * messages are looked up, decrypted together, then processed one by one in
 * arrival order (a session a handshake message in the batch ends meanwhile
 * drops its later data packets).  rx[i].p are modified.
 */
void wg_dev_recv_batch(struct wg_dev *dev, uint64_t now, struct wg_rx *rx,
    size_t n);
/* Encrypt every slot reserved with io.udp_reserve so far (see wg_io). */
void wg_dev_seal(struct wg_dev *dev);
/* An IP packet from the TUN device: routed by destination, encrypted, sent
 * (or queued while a handshake is under way). */
void wg_dev_send(struct wg_dev *dev, uint64_t now, const uint8_t *p,
    size_t len);
/* Run every timer due at now.  Returns the next deadline (0: none). */
uint64_t wg_dev_tick(struct wg_dev *dev, uint64_t now);
/* Start a handshake with peer now (tests; also used internally).  0, or
 * KERR_INVALID without key or endpoint, or an error from noise. */
int wg_peer_initiate(struct wg_peer *peer, uint64_t now, bool retry) KODEN_WUR;
/* Send a keepalive (an empty data message) or start a handshake for one. */
void wg_peer_send_keepalive(struct wg_peer *peer, uint64_t now);

/* ---- helpers exposed for tests and fuzzing ---- */

/* TAI64N of a wall-clock time in ns since the epoch (big-endian, 2^62+10
 * added to the seconds, nanoseconds rounded down to 2^24 as the kernel). */
void wg_tai64n(uint8_t out[static WG_TAI64N_LEN], int64_t wall_ns);
/* MAC(key, in): keyed BLAKE2s with a 16-byte output (key: 32 bytes for
 * MAC1 and the cookie, the 16-byte cookie for MAC2). */
int wg_mac(uint8_t out[static WG_MAC_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *in, size_t len) KODEN_WUR;

#endif
