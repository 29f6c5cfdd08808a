/*
 * The Noise Protocol Framework, revision 34, for exactly two handshakes:
 *
 *   Noise_IK_25519_ChaChaPoly_BLAKE2s      the node channel (over TCP)
 *   Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s  the VPN (WireGuard's handshake:
 *       its "Construction" is this name and its "Identifier" the prologue)
 *
 *   IK:                     IKpsk2:
 *     <- s                    <- s
 *     ...                     ...
 *     -> e, es, s, ss         -> e, es, s, ss
 *     <- e, ee, se            <- e, ee, se, psk
 *
 * X25519 and ChaCha20-Poly1305 (IETF) come from libsodium, BLAKE2s from libb2
 * (see blake2s.h).  The three objects of §5 are here: CipherState (noise_cs),
 * SymmetricState (noise_ss) and HandshakeState (noise_hs).  All three are
 * plain structs the caller owns and may place in sodium_malloc()ed memory;
 * they hold keys, so the caller wipes them with noise_*_wipe() when done
 * (noise_hs_split() and every failed handshake call wipe the hs themselves).
 * A zeroed struct is an unusable one: every call on it fails.
 *
 * Limits: every Noise message is at most NOISE_MSG_MAX (65535) bytes (§3);
 * larger messages and payloads that would make one are refused with
 * KERR_TOOBIG.  A CipherState refuses nonce 2^64-1 (§5.1) with KERR_TOOBIG.
 */
#ifndef KODEN_NOISE_H
#define KODEN_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define NOISE_DHLEN 32		/* X25519 public key and DH output */
#define NOISE_HASHLEN 32	/* BLAKE2s */
#define NOISE_KEYLEN 32		/* ChaChaPoly key */
#define NOISE_PSKLEN 32
#define NOISE_TAGLEN 16		/* ChaChaPoly authentication tag */
#define NOISE_MSG_MAX 65535	/* §3: Noise messages are <= 65535 bytes */

/* Transport payload cap: one message holds the payload and its tag. */
#define NOISE_PAYLOAD_MAX (NOISE_MSG_MAX - NOISE_TAGLEN)

/* Handshake message sizes, the same for IK and IKpsk2 (psk adds no bytes):
 * message 1 = e || ENC(s) || ENC(payload), message 2 = e || ENC(payload). */
#define NOISE_IK_MSG1_OVERHEAD \
	(NOISE_DHLEN + NOISE_DHLEN + NOISE_TAGLEN + NOISE_TAGLEN)	/* 96 */
#define NOISE_IK_MSG2_OVERHEAD (NOISE_DHLEN + NOISE_TAGLEN)		/* 48 */

enum noise_pattern {
	NOISE_IK = 1,
	NOISE_IKPSK2 = 2,
};

struct noise_keypair {
	uint8_t pub[NOISE_DHLEN];
	uint8_t priv[NOISE_DHLEN];
};

/* §5.1 CipherState.  n is the next nonce; has_key is 0 until InitializeKey. */
struct noise_cs {
	uint8_t k[NOISE_KEYLEN];
	uint64_t n;
	int has_key;
};

/* §5.2 SymmetricState. */
struct noise_ss {
	struct noise_cs cs;
	uint8_t ck[NOISE_HASHLEN];
	uint8_t h[NOISE_HASHLEN];
};

/*
 * §5.3 HandshakeState.  Treat as opaque; the fields are here so that callers
 * can allocate it (in sodium_malloc()ed memory, ideally).
 */
struct noise_hs {
	struct noise_ss ss;
	struct noise_keypair s;		/* local static */
	struct noise_keypair e;		/* local ephemeral */
	uint8_t rs[NOISE_DHLEN];	/* remote static */
	uint8_t re[NOISE_DHLEN];	/* remote ephemeral */
	uint8_t psk[NOISE_PSKLEN];
	enum noise_pattern pattern;
	int initiator;
	int has_e, has_rs, has_psk;
	int step;	/* next message (1 or 2), 3 when done, 0 when unusable */
};

/* ---- keys ---- */

/* A fresh X25519 key pair from libsodium's CSPRNG. */
int noise_keypair_generate(struct noise_keypair *kp) KODEN_WUR;
/* kp->priv = priv, kp->pub = X25519(priv, 9).  kp may not overlap priv. */
int noise_keypair_from_private(struct noise_keypair *kp,
    const uint8_t priv[static NOISE_DHLEN]) KODEN_WUR;

/* ---- CipherState (§5.1), for transport messages after Split ---- */

/*
 * EncryptWithAd(ad, plaintext) with nonce n: out gets len + NOISE_TAGLEN
 * bytes (out may equal pt exactly, no other overlap).  Then n += 1.
 * KERR_INVALID without a key (a wiped cs never sends plaintext);
 * KERR_TOOBIG if len > NOISE_PAYLOAD_MAX or n has reached 2^64-1.
 */
int noise_cs_encrypt(struct noise_cs *cs, const uint8_t *ad, size_t ad_len,
    const uint8_t *pt, size_t len, uint8_t *out) KODEN_WUR;
/*
 * DecryptWithAd(ad, ciphertext): out gets len - NOISE_TAGLEN bytes (out may
 * equal ct exactly).  KERR_DECRYPT if the tag is wrong or len < NOISE_TAGLEN,
 * KERR_TOOBIG if len > NOISE_MSG_MAX or n has reached 2^64-1, KERR_INVALID
 * without a key.  n is incremented only on success, so a forged or replayed
 * message does not desynchronise the channel.
 */
int noise_cs_decrypt(struct noise_cs *cs, const uint8_t *ad, size_t ad_len,
    const uint8_t *ct, size_t len, uint8_t *out) KODEN_WUR;
/*
 * §5.1 SetNonce: for transports that carry the nonce in each packet
 * (WireGuard's counter field).  Replay protection is then the caller's.
 */
void noise_cs_set_nonce(struct noise_cs *cs, uint64_t n);
void noise_cs_wipe(struct noise_cs *cs);

/* ---- SymmetricState (§5.2), exposed for tests and the VPN ---- */

/*
 * InitializeSymmetric(protocol_name): h = name padded with zeros to
 * HASHLEN if it is at most HASHLEN bytes long, else HASH(name); ck = h;
 * no cipher key.
 */
int noise_ss_init(struct noise_ss *ss, const char *protocol_name,
    size_t name_len) KODEN_WUR;
int noise_ss_mix_key(struct noise_ss *ss, const uint8_t *ikm, size_t len)
    KODEN_WUR;
int noise_ss_mix_hash(struct noise_ss *ss, const uint8_t *data, size_t len)
    KODEN_WUR;
int noise_ss_mix_key_and_hash(struct noise_ss *ss, const uint8_t *ikm,
    size_t len) KODEN_WUR;
/*
 * EncryptAndHash: out gets len (+ NOISE_TAGLEN once a key is set) bytes;
 * out must not overlap pt.  DecryptAndHash: out gets len (- NOISE_TAGLEN)
 * bytes, out must not overlap ct.  Errors as noise_cs_encrypt/decrypt, but
 * no key means plaintext (as the spec says) rather than an error.
 */
int noise_ss_encrypt_and_hash(struct noise_ss *ss, const uint8_t *pt,
    size_t len, uint8_t *out) KODEN_WUR;
int noise_ss_decrypt_and_hash(struct noise_ss *ss, const uint8_t *ct,
    size_t len, uint8_t *out) KODEN_WUR;
/* Split(): c1 (initiator to responder) and c2; does not touch ss. */
int noise_ss_split(const struct noise_ss *ss, struct noise_cs *c1,
    struct noise_cs *c2) KODEN_WUR;
void noise_ss_wipe(struct noise_ss *ss);

/* ---- HandshakeState (§5.3) ---- */

/* The protocol name for a pattern (static string), NULL for a bad value. */
const char *noise_protocol_name(enum noise_pattern p);

/*
 * Initialize(): protocol name from the pattern, MixHash(prologue), then the
 * pre-message `<- s` (MixHash of the responder's static public key).
 *   s        local static key pair, copied (required for both roles)
 *   rs       the responder's static public key: initiator only, else NULL
 *   psk      IKpsk2 only, else NULL.  May also be NULL for IKpsk2 and be
 *            given later with noise_hs_set_psk(): a responder learns which
 *            psk to use only after reading message 1 (the initiator's s).
 * KERR_INVALID on a bad combination; hs is then zeroed (unusable).
 */
int noise_hs_init(struct noise_hs *hs, enum noise_pattern p, int initiator,
    const uint8_t *prologue, size_t prologue_len,
    const struct noise_keypair *s, const uint8_t *rs, const uint8_t *psk)
    KODEN_WUR;
/* IKpsk2: set the psk before its token is processed (responder: before
 * writing message 2; initiator: before reading it).  KERR_INVALID for IK,
 * or once the psk token has been processed. */
int noise_hs_set_psk(struct noise_hs *hs, const uint8_t psk[static NOISE_PSKLEN])
    KODEN_WUR;
/* For known-answer tests only: use e at the `e` token instead of a fresh
 * key pair.  Call after noise_hs_init() and before this side's first write. */
void noise_hs_set_ephemeral(struct noise_hs *hs, const struct noise_keypair *e);

/*
 * WriteMessage(payload): writes the next handshake message into out (up to
 * out_max bytes; the size is len + NOISE_IK_MSG1_OVERHEAD or
 * NOISE_IK_MSG2_OVERHEAD).  payload and out must not overlap.
 * KERR_INVALID if it is not this side's turn or out_max is too small,
 * KERR_TOOBIG if the message would exceed NOISE_MSG_MAX, KERR_CRYPTO for a
 * low-order remote key.  On any error hs is wiped and unusable.
 */
int noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t len,
    uint8_t *out, size_t out_max, size_t *out_len) KODEN_WUR;
/*
 * ReadMessage(message): parses and authenticates the next handshake message
 * and writes its payload (len minus the overhead above) into payload.
 * msg and payload must not overlap.  Errors: KERR_TOOBIG (len >
 * NOISE_MSG_MAX), KERR_TRUNCATED (shorter than the fixed part),
 * KERR_INVALID (not this side's turn, payload_max too small, psk missing),
 * KERR_CRYPTO (low-order ephemeral or static key), KERR_DECRYPT (anything
 * that fails authentication: wrong keys, wrong psk, tampering, extra bytes).
 * On any error hs is wiped and unusable: the caller drops the connection.
 */
int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len,
    uint8_t *payload, size_t payload_max, size_t *payload_len) KODEN_WUR;

/* The remote static key: the initiator's after the responder has read
 * message 1 (check it against the roster before writing message 2), the
 * given rs on the initiator.  NULL if not known yet or hs is unusable.
 * Valid until hs is wiped or split. */
const uint8_t *noise_hs_remote_static(const struct noise_hs *hs);
/* 1 once both handshake messages are done and Split may be called. */
int noise_hs_done(const struct noise_hs *hs);
/* The handshake hash h (§11.2 channel binding).  Final once
 * noise_hs_done(); read it before noise_hs_split(), which wipes it. */
void noise_hs_hash(const struct noise_hs *hs, uint8_t h[static NOISE_HASHLEN]);
/*
 * Split() once the handshake is done: send/recv are this side's transport
 * CipherStates (c1/c2 swapped on the responder).  Wipes hs, success or not.
 * KERR_INVALID if the handshake is not done.
 */
int noise_hs_split(struct noise_hs *hs, struct noise_cs *send,
    struct noise_cs *recv) KODEN_WUR;
void noise_hs_wipe(struct noise_hs *hs);

#endif
