/*
 * HPKE (RFC 9180), mode_base, suite DHKEM(X25519, HKDF-SHA256) /
 * HKDF-SHA256 / ChaCha20Poly1305, over libsodium.
 *
 * LabeledExtract and LabeledExpand (§4) feed their labelled inputs to HMAC
 * piece by piece rather than concatenating them first, so info, ikm and
 * exporter_context need no copy, no allocation and no length cap beyond
 * HKDF's own.  They are HKDF (RFC 5869) exactly as in hkdf.c; the RFC 9180
 * known-answer tests cover them.
 *
 * Every intermediate secret (DH output, PRKs, shared_secret, secret, nonces,
 * HMAC states) lives on the stack and is wiped at the function's `out:`.
 */
#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "crypto/hkdf.h"
#include "crypto/hpke.h"

#define HPKE_MODE_BASE 0x00

/* §4: labelled inputs start with the version label "HPKE-v1" */
static const uint8_t hpke_v1[7] = { 'H', 'P', 'K', 'E', '-', 'v', '1' };

/* §4.1: suite_id = concat("KEM", I2OSP(kem_id, 2)), kem_id 0x0020 */
static const uint8_t suite_kem[5] = { 'K', 'E', 'M', 0x00, 0x20 };

/*
 * §5.1: suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2),
 * I2OSP(aead_id, 2)) with kem 0x0020, kdf 0x0001, aead 0x0003.
 */
static const uint8_t suite_hpke[10] = {
	'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x03,
};

/*
 * §4 LabeledExtract(salt, label, ikm):
 *   labeled_ikm = concat("HPKE-v1", suite_id, label, ikm)
 *   return Extract(salt, labeled_ikm)
 * An empty salt is HashLen zero bytes (RFC 5869 §2.2).
 */
static void
labeled_extract(uint8_t prk[static HPKE_NH],
    const uint8_t *suite_id, size_t suite_len,
    const uint8_t *salt, size_t salt_len, const char *label,
    const uint8_t *ikm, size_t ikm_len)
{
	const struct hkdf_part parts[] = {
		{ hpke_v1, sizeof(hpke_v1) },
		{ suite_id, suite_len },
		{ (const uint8_t *)label, strlen(label) },
		{ ikm, ikm_len },
	};

	hkdf_sha256_extract_parts(prk, salt, salt_len, parts, 4);
}

/*
 * §4 LabeledExpand(prk, label, info, L):
 *   labeled_info = concat(I2OSP(L, 2), "HPKE-v1", suite_id, label, info)
 *   return Expand(prk, labeled_info, L)
 * with Expand the HKDF-Expand of RFC 5869 §2.3.  KERR_TOOBIG if L > 255*Nh.
 */
static int
labeled_expand(uint8_t *out, size_t len, const uint8_t prk[static HPKE_NH],
    const uint8_t *suite_id, size_t suite_len, const char *label,
    const uint8_t *info, size_t info_len)
{
	/* 255*32 < 2^16, so I2OSP(L, 2) cannot truncate once L is checked */
	const uint8_t len2[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	const struct hkdf_part parts[] = {
		{ len2, sizeof(len2) },
		{ hpke_v1, sizeof(hpke_v1) },
		{ suite_id, suite_len },
		{ (const uint8_t *)label, strlen(label) },
		{ info, info_len },
	};

	if (len > HKDF_SHA256_OKM_MAX)
		return KERR_TOOBIG;
	return hkdf_sha256_expand_parts(out, len, prk, parts, 5);
}

/*
 * §4.1 DH(skX, pkY).  libsodium returns -1 when the result is all zero,
 * i.e. pkY is a low-order point; §7.1.4 says to abort then.
 */
static int
kem_dh(uint8_t out[static HPKE_NSECRET], const uint8_t sk[static HPKE_NSK],
    const uint8_t pk[static HPKE_NPK])
{
	if (crypto_scalarmult(out, sk, pk) != 0) {
		sodium_memzero(out, HPKE_NSECRET);
		return KERR_CRYPTO;
	}
	return 0;
}

/* pk(sk); cannot fail for a clamped scalar, but the check costs nothing. */
static int
kem_pk(uint8_t pk[static HPKE_NPK], const uint8_t sk[static HPKE_NSK])
{
	if (crypto_scalarmult_base(pk, sk) != 0)
		return KERR_CRYPTO;
	return 0;
}

/*
 * §4.1 ExtractAndExpand(dh, kem_context):
 *   eae_prk = LabeledExtract("", "eae_prk", dh)
 *   shared_secret = LabeledExpand(eae_prk, "shared_secret", kem_context,
 *       Nsecret)
 * kem_context = concat(enc, pkRm).
 */
static int
extract_and_expand(uint8_t shared_secret[static HPKE_NSECRET],
    const uint8_t dh[static HPKE_NSECRET],
    const uint8_t enc[static HPKE_NENC], const uint8_t pkR[static HPKE_NPK])
{
	uint8_t eae_prk[HPKE_NH];
	uint8_t kem_context[HPKE_NENC + HPKE_NPK];
	int r;

	memcpy(kem_context, enc, HPKE_NENC);
	memcpy(kem_context + HPKE_NENC, pkR, HPKE_NPK);
	labeled_extract(eae_prk, suite_kem, sizeof(suite_kem), NULL, 0,
	    "eae_prk", dh, HPKE_NSECRET);
	r = labeled_expand(shared_secret, HPKE_NSECRET, eae_prk,
	    suite_kem, sizeof(suite_kem), "shared_secret",
	    kem_context, sizeof(kem_context));
	sodium_memzero(eae_prk, sizeof(eae_prk));
	return r;
}

/*
 * §4.1 KeySchedule<ROLE>(mode_base, shared_secret, info, "", ""):
 *   psk_id_hash = LabeledExtract("", "psk_id_hash", psk_id)
 *   info_hash = LabeledExtract("", "info_hash", info)
 *   key_schedule_context = concat(mode, psk_id_hash, info_hash)
 *   secret = LabeledExtract(shared_secret, "secret", psk)
 *   key = LabeledExpand(secret, "key", key_schedule_context, Nk)
 *   base_nonce = LabeledExpand(secret, "base_nonce", key_schedule_context, Nn)
 *   exporter_secret = LabeledExpand(secret, "exp", key_schedule_context, Nh)
 * (§5.1 numbering; psk and psk_id are empty in mode_base.)
 */
static int
key_schedule_base(struct hpke_ctx *ctx,
    const uint8_t shared_secret[static HPKE_NSECRET],
    const uint8_t *info, size_t info_len)
{
	uint8_t ksc[1 + 2 * HPKE_NH];	/* key_schedule_context */
	uint8_t secret[HPKE_NH];
	int r;

	ksc[0] = HPKE_MODE_BASE;
	labeled_extract(ksc + 1, suite_hpke, sizeof(suite_hpke), NULL, 0,
	    "psk_id_hash", NULL, 0);
	labeled_extract(ksc + 1 + HPKE_NH, suite_hpke, sizeof(suite_hpke),
	    NULL, 0, "info_hash", info, info_len);
	labeled_extract(secret, suite_hpke, sizeof(suite_hpke),
	    shared_secret, HPKE_NSECRET, "secret", NULL, 0);

	if ((r = labeled_expand(ctx->key, HPKE_NK, secret,
	    suite_hpke, sizeof(suite_hpke), "key", ksc, sizeof(ksc))) != 0)
		goto out;
	if ((r = labeled_expand(ctx->base_nonce, HPKE_NN, secret,
	    suite_hpke, sizeof(suite_hpke), "base_nonce",
	    ksc, sizeof(ksc))) != 0)
		goto out;
	if ((r = labeled_expand(ctx->exporter_secret, HPKE_NH, secret,
	    suite_hpke, sizeof(suite_hpke), "exp", ksc, sizeof(ksc))) != 0)
		goto out;
	ctx->seq = 0;
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(ksc, sizeof(ksc));
	return r;
}

int
hpke_derive_keypair(uint8_t sk[static HPKE_NSK], uint8_t pk[static HPKE_NPK],
    const uint8_t *ikm, size_t ikm_len)
{
	uint8_t dkp_prk[HPKE_NH];
	int r;

	assert(ikm != NULL || ikm_len == 0);
	sodium_memzero(sk, HPKE_NSK);
	memset(pk, 0, HPKE_NPK);

	/*
	 * §7.1.3 wants ikm with at least Nsk bytes of entropy; fewer bytes
	 * cannot have that, so refuse them rather than make a weak key.
	 */
	if (ikm_len < HPKE_NSK)
		return KERR_INVALID;

	/* §7.1.3 DeriveKeyPair for X25519 */
	labeled_extract(dkp_prk, suite_kem, sizeof(suite_kem), NULL, 0,
	    "dkp_prk", ikm, ikm_len);
	if ((r = labeled_expand(sk, HPKE_NSK, dkp_prk, suite_kem,
	    sizeof(suite_kem), "sk", NULL, 0)) != 0)
		goto out;
	r = kem_pk(pk, sk);
out:
	if (r != 0) {
		sodium_memzero(sk, HPKE_NSK);
		memset(pk, 0, HPKE_NPK);
	}
	sodium_memzero(dkp_prk, sizeof(dkp_prk));
	return r;
}

int
hpke_setup_base_s_derand(struct hpke_ctx *ctx, uint8_t enc[static HPKE_NENC],
    const uint8_t pkR[static HPKE_NPK], const uint8_t skE[static HPKE_NSK],
    const uint8_t *info, size_t info_len)
{
	uint8_t pkE[HPKE_NPK];
	uint8_t dh[HPKE_NSECRET];
	uint8_t shared_secret[HPKE_NSECRET];
	int r;

	assert(info != NULL || info_len == 0);
	sodium_memzero(ctx, sizeof(*ctx));

	/* §4.1 Encap(pkR) with skE given: dh = DH(skE, pkR), enc = pkEm */
	if ((r = kem_pk(pkE, skE)) != 0)
		goto out;
	if ((r = kem_dh(dh, skE, pkR)) != 0)
		goto out;
	if ((r = extract_and_expand(shared_secret, dh, pkE, pkR)) != 0)
		goto out;
	/* §5.1.1 SetupBaseS: KeyScheduleS(mode_base, shared_secret, info) */
	if ((r = key_schedule_base(ctx, shared_secret, info, info_len)) != 0)
		goto out;
	memcpy(enc, pkE, HPKE_NENC);
out:
	if (r != 0) {
		sodium_memzero(ctx, sizeof(*ctx));
		memset(enc, 0, HPKE_NENC);
	}
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(shared_secret, sizeof(shared_secret));
	sodium_memzero(pkE, sizeof(pkE));
	return r;
}

int
hpke_setup_base_s(struct hpke_ctx *ctx, uint8_t enc[static HPKE_NENC],
    const uint8_t pkR[static HPKE_NPK],
    const uint8_t *info, size_t info_len)
{
	uint8_t skE[HPKE_NSK];
	int r;

	sodium_memzero(ctx, sizeof(*ctx));
	memset(enc, 0, HPKE_NENC);
	/* idempotent; randombytes needs it on some platforms */
	if (sodium_init() < 0)
		return KERR_CRYPTO;
	/* §7.1.3: any 32 random bytes are an X25519 private key */
	randombytes_buf(skE, sizeof(skE));
	r = hpke_setup_base_s_derand(ctx, enc, pkR, skE, info, info_len);
	sodium_memzero(skE, sizeof(skE));
	return r;
}

int
hpke_setup_base_r(struct hpke_ctx *ctx, const uint8_t enc[static HPKE_NENC],
    const uint8_t skR[static HPKE_NSK],
    const uint8_t *info, size_t info_len)
{
	uint8_t pkR[HPKE_NPK];
	uint8_t dh[HPKE_NSECRET];
	uint8_t shared_secret[HPKE_NSECRET];
	int r;

	assert(info != NULL || info_len == 0);
	sodium_memzero(ctx, sizeof(*ctx));

	/* §4.1 Decap(enc, skR): dh = DH(skR, pkE), kem_context = enc || pkRm */
	if ((r = kem_dh(dh, skR, enc)) != 0)
		goto out;
	if ((r = kem_pk(pkR, skR)) != 0)
		goto out;
	if ((r = extract_and_expand(shared_secret, dh, enc, pkR)) != 0)
		goto out;
	/* §5.1.1 SetupBaseR: KeyScheduleR(mode_base, shared_secret, info) */
	r = key_schedule_base(ctx, shared_secret, info, info_len);
out:
	if (r != 0)
		sodium_memzero(ctx, sizeof(*ctx));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(shared_secret, sizeof(shared_secret));
	sodium_memzero(pkR, sizeof(pkR));
	return r;
}

/*
 * §5.2 ComputeNonce(seq): base_nonce XOR I2OSP(seq, Nn).  seq is 64 bits,
 * so only the last 8 of the 12 bytes change.
 */
static void
compute_nonce(uint8_t nonce[static HPKE_NN], const struct hpke_ctx *ctx)
{
	int i;

	memcpy(nonce, ctx->base_nonce, HPKE_NN);
	for (i = 0; i < 8; i++)
		nonce[HPKE_NN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

/*
 * §5.2 IncrementSeq refuses to go past the largest sequence number.  The
 * RFC's limit is 2^96 - 1; ours is the uint64_t seq, and we refuse before
 * using UINT64_MAX so that seq can always be incremented after a success.
 */
int
hpke_seal(struct hpke_ctx *ctx, uint8_t *ct,
    const uint8_t *aad, size_t aad_len,
    const uint8_t *pt, size_t pt_len)
{
	uint8_t nonce[HPKE_NN];
	int r;

	assert(ct != NULL);
	assert(aad != NULL || aad_len == 0);
	assert(pt != NULL || pt_len == 0);
	if (ctx->seq == UINT64_MAX)
		return KERR_TOOBIG;
	/* libsodium aborts past this; bad input must not */
	if (pt_len > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
		return KERR_TOOBIG;

	compute_nonce(nonce, ctx);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, pt_len,
	    aad, aad_len, NULL, nonce, ctx->key) != 0) {
		r = KERR_CRYPTO;
		goto out;
	}
	ctx->seq++;
	r = 0;
out:
	sodium_memzero(nonce, sizeof(nonce));
	return r;
}

int
hpke_open(struct hpke_ctx *ctx, uint8_t *pt,
    const uint8_t *aad, size_t aad_len,
    const uint8_t *ct, size_t ct_len)
{
	uint8_t nonce[HPKE_NN];
	int r;

	assert(ct != NULL || ct_len == 0);
	assert(aad != NULL || aad_len == 0);
	assert(pt != NULL || ct_len <= HPKE_NT);
	/* too short to hold a tag: cannot authenticate */
	if (ct_len < HPKE_NT)
		return KERR_DECRYPT;
	if (ct_len - HPKE_NT > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
		return KERR_TOOBIG;
	if (ctx->seq == UINT64_MAX)
		return KERR_TOOBIG;

	compute_nonce(nonce, ctx);
	/* libsodium checks the tag first and zeroes pt when it is wrong */
	if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL,
	    ct, ct_len, aad, aad_len, nonce, ctx->key) != 0) {
		r = KERR_DECRYPT;
		goto out;
	}
	ctx->seq++;
	r = 0;
out:
	sodium_memzero(nonce, sizeof(nonce));
	return r;
}

/* §5.3 Export(exporter_context, L) = LabeledExpand(exporter_secret, "sec", ...) */
int
hpke_export(const struct hpke_ctx *ctx, uint8_t *out, size_t out_len,
    const uint8_t *exporter_context, size_t ctx_len)
{
	return labeled_expand(out, out_len, ctx->exporter_secret,
	    suite_hpke, sizeof(suite_hpke), "sec", exporter_context, ctx_len);
}

void
hpke_ctx_wipe(struct hpke_ctx *ctx)
{
	sodium_memzero(ctx, sizeof(*ctx));
}
