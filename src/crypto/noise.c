/*
 * Noise (revision 34) IK and IKpsk2 with 25519, ChaChaPoly and BLAKE2s.
 *
 * Written from the specification: §4 (crypto functions), §5.1-5.3 (the
 * three state objects), §7 (the IK pattern), §9 (psk modifiers).  Only the
 * two handshakes in noise.h are supported, so the message patterns are
 * written out as straight-line code, each step labelled with its token,
 * rather than interpreted from a table.
 *
 * Secrets: the HandshakeState holds s, e and psk, the SymmetricState ck and
 * k.  Each DH output lives on the stack and is wiped as soon as it has been
 * mixed in.  A failed WriteMessage or ReadMessage wipes the whole
 * HandshakeState, and a wiped (all-zero) state refuses every call because
 * its step is 0, so a caller that ignores an error cannot go on to use
 * half-updated keys.
 */
#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "crypto/blake2s.h"
#include "crypto/noise.h"

#define NOISE_NONCELEN 12	/* ChaChaPoly (IETF) nonce */

/* hs->step: which message comes next.  0 is what wiping leaves. */
enum {
	STEP_DEAD = 0,
	STEP_MSG1 = 1,
	STEP_MSG2 = 2,
	STEP_DONE = 3,
};

static const char name_ik[] = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
static const char name_ikpsk2[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

/* ---- keys ---- */

int
noise_keypair_from_private(struct noise_keypair *kp,
    const uint8_t priv[static NOISE_DHLEN])
{
	memcpy(kp->priv, priv, NOISE_DHLEN);
	/* GENERATE_KEYPAIR's public half; cannot fail for a clamped scalar */
	if (crypto_scalarmult_base(kp->pub, kp->priv) != 0) {
		sodium_memzero(kp, sizeof(*kp));
		return KERR_CRYPTO;
	}
	return 0;
}

int
noise_keypair_generate(struct noise_keypair *kp)
{
	uint8_t priv[NOISE_DHLEN];
	int r;

	sodium_memzero(kp, sizeof(*kp));
	/* idempotent; randombytes needs it on some platforms */
	if (sodium_init() < 0)
		return KERR_CRYPTO;
	/* §12.1: any 32 random bytes are a Curve25519 private key */
	randombytes_buf(priv, sizeof(priv));
	r = noise_keypair_from_private(kp, priv);
	sodium_memzero(priv, sizeof(priv));
	return r;
}

/* §4.1 DH(key_pair, public_key).  libsodium returns -1 when the result is
 * all zero, i.e. public_key has low order: refused, not mixed in. */
static int
noise_dh(uint8_t out[static NOISE_DHLEN], const uint8_t priv[static NOISE_DHLEN],
    const uint8_t pub[static NOISE_DHLEN])
{
	if (crypto_scalarmult(out, priv, pub) != 0) {
		sodium_memzero(out, NOISE_DHLEN);
		return KERR_CRYPTO;
	}
	return 0;
}

/* ---- CipherState (§5.1) ---- */

/* §12.3 ChaChaPoly: "32 bits of zeros followed by a little-endian
 * encoding of n" */
static void
cs_nonce(uint8_t nonce[static NOISE_NONCELEN], uint64_t n)
{
	int i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/*
 * EncryptWithAd with a key: ENCRYPT(k, n++, ad, plaintext).  §5.1: "If
 * incrementing n results in 2^64-1, then any further EncryptWithAd() or
 * DecryptWithAd() calls will signal an error": n = 2^64-1 is refused.
 */
static int
cs_encrypt_with_ad(struct noise_cs *cs, const uint8_t *ad, size_t ad_len,
    const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t nonce[NOISE_NONCELEN];

	assert(cs->has_key);
	assert(ad != NULL || ad_len == 0);
	assert(pt != NULL || len == 0);
	assert(out != NULL);
	if (cs->n == UINT64_MAX)
		return KERR_TOOBIG;
	if (len > NOISE_PAYLOAD_MAX)
		return KERR_TOOBIG;
	cs_nonce(nonce, cs->n);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len,
	    ad, ad_len, NULL, nonce, cs->k) != 0)
		return KERR_CRYPTO;
	cs->n++;
	return 0;
}

/* DecryptWithAd with a key: n moves only when the tag verifies. */
static int
cs_decrypt_with_ad(struct noise_cs *cs, const uint8_t *ad, size_t ad_len,
    const uint8_t *ct, size_t len, uint8_t *out)
{
	uint8_t nonce[NOISE_NONCELEN];

	assert(cs->has_key);
	assert(ad != NULL || ad_len == 0);
	assert(ct != NULL || len == 0);
	if (len > NOISE_MSG_MAX)
		return KERR_TOOBIG;
	if (cs->n == UINT64_MAX)
		return KERR_TOOBIG;
	/* too short to hold a tag: cannot be authentic */
	if (len < NOISE_TAGLEN)
		return KERR_DECRYPT;
	assert(out != NULL || len == NOISE_TAGLEN);
	cs_nonce(nonce, cs->n);
	/* libsodium checks the tag first and zeroes out when it is wrong */
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len,
	    ad, ad_len, nonce, cs->k) != 0)
		return KERR_DECRYPT;
	cs->n++;
	return 0;
}

/* InitializeKey(key) */
static void
cs_initialize_key(struct noise_cs *cs)
{
	cs->n = 0;
	cs->has_key = 1;
}

int
noise_cs_encrypt(struct noise_cs *cs, const uint8_t *ad, size_t ad_len,
    const uint8_t *pt, size_t len, uint8_t *out)
{
	/* the spec passes plaintext through without a key; a transport
	 * must never do that, e.g. with a wiped CipherState */
	if (!cs->has_key)
		return KERR_INVALID;
	return cs_encrypt_with_ad(cs, ad, ad_len, pt, len, out);
}

int
noise_cs_decrypt(struct noise_cs *cs, const uint8_t *ad, size_t ad_len,
    const uint8_t *ct, size_t len, uint8_t *out)
{
	if (!cs->has_key)
		return KERR_INVALID;
	return cs_decrypt_with_ad(cs, ad, ad_len, ct, len, out);
}

void
noise_cs_set_nonce(struct noise_cs *cs, uint64_t n)
{
	cs->n = n;
}

void
noise_cs_wipe(struct noise_cs *cs)
{
	sodium_memzero(cs, sizeof(*cs));
}

/* ---- SymmetricState (§5.2) ---- */

int
noise_ss_init(struct noise_ss *ss, const char *protocol_name, size_t name_len)
{
	int r;

	assert(protocol_name != NULL || name_len == 0);
	sodium_memzero(ss, sizeof(*ss));
	/* "If protocol_name is less than or equal to HASHLEN bytes in length,
	 * sets h equal to protocol_name with zero bytes appended to make
	 * HASHLEN bytes.  Otherwise sets h = HASH(protocol_name)." */
	if (name_len <= NOISE_HASHLEN) {
		if (name_len > 0)
			memcpy(ss->h, protocol_name, name_len);
	} else if ((r = b2s_hash(ss->h, (const uint8_t *)protocol_name,
	    name_len)) != 0) {
		sodium_memzero(ss, sizeof(*ss));
		return r;
	}
	/* ck = h; InitializeKey(empty) */
	memcpy(ss->ck, ss->h, NOISE_HASHLEN);
	return 0;
}

/* MixKey(ikm): ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k).
 * HASHLEN is 32, so temp_k needs no truncation. */
int
noise_ss_mix_key(struct noise_ss *ss, const uint8_t *ikm, size_t len)
{
	int r;

	if ((r = b2s_hkdf(ss->ck, ss->cs.k, NULL, ss->ck, NOISE_HASHLEN,
	    ikm, len)) != 0) {
		sodium_memzero(ss, sizeof(*ss));
		return r;
	}
	cs_initialize_key(&ss->cs);
	return 0;
}

/* MixHash(data): h = HASH(h || data) */
int
noise_ss_mix_hash(struct noise_ss *ss, const uint8_t *data, size_t len)
{
	int r;

	if ((r = b2s_hash2(ss->h, ss->h, NOISE_HASHLEN, data, len)) != 0)
		sodium_memzero(ss, sizeof(*ss));
	return r;
}

/* MixKeyAndHash(ikm): ck, temp_h, temp_k = HKDF(ck, ikm, 3);
 * MixHash(temp_h); InitializeKey(temp_k).  Used by the psk token. */
int
noise_ss_mix_key_and_hash(struct noise_ss *ss, const uint8_t *ikm, size_t len)
{
	uint8_t temp_h[NOISE_HASHLEN];
	int r;

	if ((r = b2s_hkdf(ss->ck, temp_h, ss->cs.k, ss->ck, NOISE_HASHLEN,
	    ikm, len)) != 0) {
		sodium_memzero(ss, sizeof(*ss));
		goto out;
	}
	if ((r = noise_ss_mix_hash(ss, temp_h, sizeof(temp_h))) != 0)
		goto out;
	cs_initialize_key(&ss->cs);
out:
	sodium_memzero(temp_h, sizeof(temp_h));
	return r;
}

/* EncryptAndHash(plaintext): ciphertext = EncryptWithAd(h, plaintext);
 * MixHash(ciphertext). */
int
noise_ss_encrypt_and_hash(struct noise_ss *ss, const uint8_t *pt, size_t len,
    uint8_t *out)
{
	size_t out_len = len;
	int r;

	assert(pt != NULL || len == 0);
	if (ss->cs.has_key) {
		if ((r = cs_encrypt_with_ad(&ss->cs, ss->h, NOISE_HASHLEN,
		    pt, len, out)) != 0)
			return r;
		out_len += NOISE_TAGLEN;
	} else {
		if (len > NOISE_MSG_MAX)
			return KERR_TOOBIG;
		if (len > 0)
			memcpy(out, pt, len);
	}
	return noise_ss_mix_hash(ss, out, out_len);
}

/* DecryptAndHash(ciphertext): plaintext = DecryptWithAd(h, ciphertext);
 * MixHash(ciphertext). */
int
noise_ss_decrypt_and_hash(struct noise_ss *ss, const uint8_t *ct, size_t len,
    uint8_t *out)
{
	int r;

	assert(ct != NULL || len == 0);
	if (ss->cs.has_key) {
		if ((r = cs_decrypt_with_ad(&ss->cs, ss->h, NOISE_HASHLEN,
		    ct, len, out)) != 0)
			return r;
	} else {
		if (len > NOISE_MSG_MAX)
			return KERR_TOOBIG;
		if (len > 0)
			memcpy(out, ct, len);
	}
	return noise_ss_mix_hash(ss, ct, len);
}

/* Split(): temp_k1, temp_k2 = HKDF(ck, zerolen, 2); two CipherStates. */
int
noise_ss_split(const struct noise_ss *ss, struct noise_cs *c1,
    struct noise_cs *c2)
{
	int r;

	assert(c1 != c2);
	sodium_memzero(c1, sizeof(*c1));
	sodium_memzero(c2, sizeof(*c2));
	if ((r = b2s_hkdf(c1->k, c2->k, NULL, ss->ck, NOISE_HASHLEN,
	    NULL, 0)) != 0)
		return r;
	cs_initialize_key(c1);
	cs_initialize_key(c2);
	return 0;
}

void
noise_ss_wipe(struct noise_ss *ss)
{
	sodium_memzero(ss, sizeof(*ss));
}

/* ---- HandshakeState (§5.3) ---- */

const char *
noise_protocol_name(enum noise_pattern p)
{
	switch (p) {
	case NOISE_IK:
		return name_ik;
	case NOISE_IKPSK2:
		return name_ikpsk2;
	}
	return NULL;
}

void
noise_hs_wipe(struct noise_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

int
noise_hs_init(struct noise_hs *hs, enum noise_pattern p, int initiator,
    const uint8_t *prologue, size_t prologue_len,
    const struct noise_keypair *s, const uint8_t *rs, const uint8_t *psk)
{
	const char *name = noise_protocol_name(p);
	int r;

	noise_hs_wipe(hs);
	assert(prologue != NULL || prologue_len == 0);
	/* IK: the initiator knows rs (pre-message), both have s */
	if (name == NULL || s == NULL ||
	    (initiator ? rs == NULL : rs != NULL) ||
	    (p == NOISE_IK && psk != NULL))
		return KERR_INVALID;

	hs->pattern = p;
	hs->initiator = initiator != 0;
	hs->s = *s;
	if (rs != NULL) {
		memcpy(hs->rs, rs, NOISE_DHLEN);
		hs->has_rs = 1;
	}
	if (psk != NULL) {
		memcpy(hs->psk, psk, NOISE_PSKLEN);
		hs->has_psk = 1;
	}

	/* InitializeSymmetric(protocol_name) */
	if ((r = noise_ss_init(&hs->ss, name, strlen(name))) != 0)
		goto out;
	/* MixHash(prologue) */
	if ((r = noise_ss_mix_hash(&hs->ss, prologue, prologue_len)) != 0)
		goto out;
	/* pre-message "<- s": MixHash of the responder's static public key */
	if ((r = noise_ss_mix_hash(&hs->ss,
	    hs->initiator ? hs->rs : hs->s.pub, NOISE_DHLEN)) != 0)
		goto out;
	hs->step = STEP_MSG1;
out:
	if (r != 0)
		noise_hs_wipe(hs);
	return r;
}

int
noise_hs_set_psk(struct noise_hs *hs, const uint8_t psk[static NOISE_PSKLEN])
{
	/* the psk token ends message 2: too late once it is processed */
	if (hs->pattern != NOISE_IKPSK2 ||
	    (hs->step != STEP_MSG1 && hs->step != STEP_MSG2))
		return KERR_INVALID;
	memcpy(hs->psk, psk, NOISE_PSKLEN);
	hs->has_psk = 1;
	return 0;
}

void
noise_hs_set_ephemeral(struct noise_hs *hs, const struct noise_keypair *e)
{
	assert(hs->step == STEP_MSG1 || hs->step == STEP_MSG2);
	hs->e = *e;
	hs->has_e = 1;
}

/* es, ee, se, ss: MixKey(DH(priv, pub)), the DH output wiped at once. */
static int
mix_dh(struct noise_hs *hs, const uint8_t priv[static NOISE_DHLEN],
    const uint8_t pub[static NOISE_DHLEN])
{
	uint8_t dh[NOISE_DHLEN];
	int r;

	if ((r = noise_dh(dh, priv, pub)) != 0)
		goto out;
	r = noise_ss_mix_key(&hs->ss, dh, sizeof(dh));
out:
	sodium_memzero(dh, sizeof(dh));
	return r;
}

/* After an "e" token: MixHash(e.public_key), and in a psk handshake also
 * MixKey(e.public_key) (§9.2). */
static int
mix_e(struct noise_hs *hs, const uint8_t pub[static NOISE_DHLEN])
{
	int r;

	if ((r = noise_ss_mix_hash(&hs->ss, pub, NOISE_DHLEN)) != 0)
		return r;
	if (hs->pattern == NOISE_IKPSK2)
		r = noise_ss_mix_key(&hs->ss, pub, NOISE_DHLEN);
	return r;
}

/* The "psk" token: MixKeyAndHash(psk). */
static int
mix_psk(struct noise_hs *hs)
{
	if (!hs->has_psk)
		return KERR_INVALID;
	return noise_ss_mix_key_and_hash(&hs->ss, hs->psk, NOISE_PSKLEN);
}

int
noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t len,
    uint8_t *out, size_t out_max, size_t *out_len)
{
	size_t overhead, need = 0, off = 0;
	int r;

	*out_len = 0;
	assert(payload != NULL || len == 0);
	assert(out != NULL || out_max == 0);

	if (hs->step == STEP_MSG1 && hs->initiator)
		overhead = NOISE_IK_MSG1_OVERHEAD;
	else if (hs->step == STEP_MSG2 && !hs->initiator)
		overhead = NOISE_IK_MSG2_OVERHEAD;
	else {
		r = KERR_INVALID;	/* not our turn, done, or unusable */
		goto out;
	}
	if (len > NOISE_MSG_MAX - overhead) {
		r = KERR_TOOBIG;
		goto out;
	}
	if (out_max < len + overhead) {
		r = KERR_INVALID;
		goto out;
	}
	need = len + overhead;

	/* e: a fresh ephemeral unless a test fixed one */
	if (!hs->has_e) {
		if ((r = noise_keypair_generate(&hs->e)) != 0)
			goto out;
		hs->has_e = 1;
	}
	memcpy(out, hs->e.pub, NOISE_DHLEN);
	off = NOISE_DHLEN;
	if ((r = mix_e(hs, hs->e.pub)) != 0)
		goto out;

	if (hs->step == STEP_MSG1) {
		/* -> e, es, s, ss */
		/* es */
		if ((r = mix_dh(hs, hs->e.priv, hs->rs)) != 0)
			goto out;
		/* s */
		if ((r = noise_ss_encrypt_and_hash(&hs->ss, hs->s.pub,
		    NOISE_DHLEN, out + off)) != 0)
			goto out;
		off += NOISE_DHLEN + NOISE_TAGLEN;
		/* ss */
		if ((r = mix_dh(hs, hs->s.priv, hs->rs)) != 0)
			goto out;
	} else {
		/* <- e, ee, se [, psk] */
		/* ee */
		if ((r = mix_dh(hs, hs->e.priv, hs->re)) != 0)
			goto out;
		/* se: DH(initiator's s, responder's e), here DH(e, rs) */
		if ((r = mix_dh(hs, hs->e.priv, hs->rs)) != 0)
			goto out;
		/* psk */
		if (hs->pattern == NOISE_IKPSK2 && (r = mix_psk(hs)) != 0)
			goto out;
	}

	/* payload: EncryptAndHash(payload) */
	if ((r = noise_ss_encrypt_and_hash(&hs->ss, payload, len,
	    out + off)) != 0)
		goto out;
	off += len + NOISE_TAGLEN;
	assert(off == need);
	*out_len = off;
	hs->step++;
out:
	if (r != 0) {
		if (need > 0)
			sodium_memzero(out, need);
		noise_hs_wipe(hs);
	}
	return r;
}

int
noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len,
    uint8_t *payload, size_t payload_max, size_t *payload_len)
{
	size_t overhead, plen = 0, off;
	int r;

	*payload_len = 0;
	assert(msg != NULL || len == 0);
	assert(payload != NULL || payload_max == 0);

	if (hs->step == STEP_MSG1 && !hs->initiator)
		overhead = NOISE_IK_MSG1_OVERHEAD;
	else if (hs->step == STEP_MSG2 && hs->initiator)
		overhead = NOISE_IK_MSG2_OVERHEAD;
	else {
		r = KERR_INVALID;	/* not our turn, done, or unusable */
		goto out;
	}
	/* the message's shape is fixed but for the payload length */
	if (len > NOISE_MSG_MAX) {
		r = KERR_TOOBIG;
		goto out;
	}
	if (len < overhead) {
		r = KERR_TRUNCATED;
		goto out;
	}
	if (payload_max < len - overhead) {
		r = KERR_INVALID;
		goto out;
	}

	/* e */
	memcpy(hs->re, msg, NOISE_DHLEN);
	off = NOISE_DHLEN;
	if ((r = mix_e(hs, hs->re)) != 0)
		goto out;

	if (hs->step == STEP_MSG1) {
		/* -> e, es, s, ss */
		/* es: DH(initiator's e, responder's s), here DH(s, re) */
		if ((r = mix_dh(hs, hs->s.priv, hs->re)) != 0)
			goto out;
		/* s */
		if ((r = noise_ss_decrypt_and_hash(&hs->ss, msg + off,
		    NOISE_DHLEN + NOISE_TAGLEN, hs->rs)) != 0)
			goto out;
		off += NOISE_DHLEN + NOISE_TAGLEN;
		hs->has_rs = 1;
		/* ss */
		if ((r = mix_dh(hs, hs->s.priv, hs->rs)) != 0)
			goto out;
	} else {
		/* <- e, ee, se [, psk] */
		/* ee */
		if ((r = mix_dh(hs, hs->e.priv, hs->re)) != 0)
			goto out;
		/* se: DH(initiator's s, responder's e), here DH(s, re) */
		if ((r = mix_dh(hs, hs->s.priv, hs->re)) != 0)
			goto out;
		/* psk */
		if (hs->pattern == NOISE_IKPSK2 && (r = mix_psk(hs)) != 0)
			goto out;
	}

	/* payload: DecryptAndHash(rest of the message) */
	plen = len - off - NOISE_TAGLEN;
	if ((r = noise_ss_decrypt_and_hash(&hs->ss, msg + off, len - off,
	    payload)) != 0)
		goto out;
	*payload_len = plen;
	hs->step++;
out:
	if (r != 0) {
		if (plen > 0)
			sodium_memzero(payload, plen);
		noise_hs_wipe(hs);
	}
	return r;
}

const uint8_t *
noise_hs_remote_static(const struct noise_hs *hs)
{
	if (hs->step == STEP_DEAD || !hs->has_rs)
		return NULL;
	return hs->rs;
}

int
noise_hs_done(const struct noise_hs *hs)
{
	return hs->step == STEP_DONE;
}

void
noise_hs_hash(const struct noise_hs *hs, uint8_t h[static NOISE_HASHLEN])
{
	memcpy(h, hs->ss.h, NOISE_HASHLEN);
}

int
noise_hs_split(struct noise_hs *hs, struct noise_cs *send,
    struct noise_cs *recv)
{
	int r;

	sodium_memzero(send, sizeof(*send));
	sodium_memzero(recv, sizeof(*recv));
	if (hs->step != STEP_DONE) {
		r = KERR_INVALID;
		goto out;
	}
	/* c1 carries initiator-to-responder messages, c2 the other way */
	if (hs->initiator)
		r = noise_ss_split(&hs->ss, send, recv);
	else
		r = noise_ss_split(&hs->ss, recv, send);
out:
	noise_hs_wipe(hs);
	return r;
}
