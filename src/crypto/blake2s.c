/*
 * BLAKE2s-256, HMAC-BLAKE2s and the Noise HKDF over libb2.
 *
 * libb2 (0.98.1 in Debian 12) differs from the BLAKE2 reference code in two
 * ways that matter here: its one-shot blake2s() takes (out, in, key, outlen,
 * inlen, keylen) rather than the reference's (out, outlen, in, ...), and
 * blake2s_final() refuses any outlen other than the one given to init.  Only
 * the streaming calls are used below, always with outlen 32, so neither
 * bites; the unit test pins the one-shot argument order anyway.
 *
 * libb2 picks an implementation (ref/SSE/AVX/XOP) at its first call and does
 * not wipe its state after final, so every blake2s_state here is wiped by us.
 */
#include <assert.h>
#include <string.h>

#include <blake2.h>
#include <sodium.h>

#include "crypto/blake2s.h"

#define HMAC_IPAD 0x36
#define HMAC_OPAD 0x5c

/* RFC 2104 HMAC as two running hashes: H(K^ipad || ...) and H(K^opad || ...) */
struct hmac_b2s {
	blake2s_state inner;
	blake2s_state outer;
};

static int
b2s_init_update(blake2s_state *st, const uint8_t *in, size_t len)
{
	if (blake2s_init(st, B2S_HASH_LEN) != 0)
		return KERR_CRYPTO;
	if (blake2s_update(st, in, len) != 0)
		return KERR_CRYPTO;
	return 0;
}

int
b2s_hash2(uint8_t out[static B2S_HASH_LEN], const uint8_t *a, size_t a_len,
    const uint8_t *b, size_t b_len)
{
	blake2s_state st;
	int r;

	assert(a != NULL || a_len == 0);
	assert(b != NULL || b_len == 0);
	if ((r = b2s_init_update(&st, a, a_len)) != 0)
		goto out;
	if (blake2s_update(&st, b, b_len) != 0 ||
	    blake2s_final(&st, out, B2S_HASH_LEN) != 0) {
		r = KERR_CRYPTO;
		goto out;
	}
	r = 0;
out:
	sodium_memzero(&st, sizeof(st));
	return r;
}

int
b2s_hash(uint8_t out[static B2S_HASH_LEN], const uint8_t *in, size_t len)
{
	return b2s_hash2(out, in, len, NULL, 0);
}

/* RFC 2104 §2 steps (1)-(2) and (5) for both pads; wipes st on error. */
static int
hmac_init(struct hmac_b2s *st, const uint8_t *key, size_t key_len)
{
	uint8_t block[B2S_BLOCK_LEN];	/* K padded with zeros to B bytes */
	uint8_t pad[B2S_BLOCK_LEN];
	size_t i;
	int r;

	assert(key != NULL || key_len == 0);
	memset(block, 0, sizeof(block));
	/* RFC 2104 §2: "keys longer than B bytes are first hashed using H" */
	if (key_len > B2S_BLOCK_LEN) {
		if ((r = b2s_hash(block, key, key_len)) != 0)
			goto out;
	} else if (key_len > 0) {
		memcpy(block, key, key_len);
	}

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = block[i] ^ HMAC_IPAD;
	if ((r = b2s_init_update(&st->inner, pad, sizeof(pad))) != 0)
		goto out;
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = block[i] ^ HMAC_OPAD;
	r = b2s_init_update(&st->outer, pad, sizeof(pad));
out:
	if (r != 0)
		sodium_memzero(st, sizeof(*st));
	sodium_memzero(block, sizeof(block));
	sodium_memzero(pad, sizeof(pad));
	return r;
}

static int
hmac_update(struct hmac_b2s *st, const uint8_t *in, size_t len)
{
	assert(in != NULL || len == 0);
	if (blake2s_update(&st->inner, in, len) != 0) {
		sodium_memzero(st, sizeof(*st));
		return KERR_CRYPTO;
	}
	return 0;
}

/* H(K ^ opad || H(K ^ ipad || text)); always wipes st. */
static int
hmac_final(struct hmac_b2s *st, uint8_t out[static B2S_HASH_LEN])
{
	uint8_t ihash[B2S_HASH_LEN];
	int r = KERR_CRYPTO;

	if (blake2s_final(&st->inner, ihash, sizeof(ihash)) != 0)
		goto out;
	if (blake2s_update(&st->outer, ihash, sizeof(ihash)) != 0)
		goto out;
	if (blake2s_final(&st->outer, out, B2S_HASH_LEN) != 0)
		goto out;
	r = 0;
out:
	sodium_memzero(ihash, sizeof(ihash));
	sodium_memzero(st, sizeof(*st));
	return r;
}

int
b2s_hmac(uint8_t out[static B2S_HASH_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *in, size_t len)
{
	struct hmac_b2s st;
	int r;

	/* key is consumed by init and in by update before out is written */
	if ((r = hmac_init(&st, key, key_len)) != 0)
		return r;
	if ((r = hmac_update(&st, in, len)) != 0)
		return r;
	return hmac_final(&st, out);
}

int
b2s_hkdf(uint8_t out1[static B2S_HASH_LEN], uint8_t *out2, uint8_t *out3,
    const uint8_t *ck, size_t ck_len, const uint8_t *ikm, size_t ikm_len)
{
	uint8_t temp_key[B2S_HASH_LEN];
	uint8_t t[B2S_HASH_LEN];	/* output i, kept for the next block */
	uint8_t *outs[3] = { out1, out2, out3 };
	struct hmac_b2s st;
	uint8_t ctr;
	int i, n, r;

	assert(out2 != NULL || out3 == NULL);
	n = out3 != NULL ? 3 : out2 != NULL ? 2 : 1;

	/* temp_key = HMAC-HASH(chaining_key, input_key_material); ck is read
	 * only here, so an output may overwrite it */
	if ((r = b2s_hmac(temp_key, ck, ck_len, ikm, ikm_len)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		/* output_i = HMAC-HASH(temp_key, output_(i-1) || byte(i)) */
		ctr = (uint8_t)(i + 1);
		if ((r = hmac_init(&st, temp_key, sizeof(temp_key))) != 0)
			goto out;
		if (i > 0 && (r = hmac_update(&st, t, sizeof(t))) != 0)
			goto out;
		if ((r = hmac_update(&st, &ctr, 1)) != 0)
			goto out;
		if ((r = hmac_final(&st, t)) != 0)
			goto out;
		memcpy(outs[i], t, sizeof(t));
	}
out:
	if (r != 0) {
		for (i = 0; i < n; i++)
			sodium_memzero(outs[i], B2S_HASH_LEN);
	}
	sodium_memzero(temp_key, sizeof(temp_key));
	sodium_memzero(t, sizeof(t));
	sodium_memzero(&st, sizeof(st));
	return r;
}
