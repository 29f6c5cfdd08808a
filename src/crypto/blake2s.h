/*
 * BLAKE2s-256 (RFC 7693) from Debian's libb2, and the two constructions Noise
 * builds on it (Noise rev 34 §4.3): HMAC-BLAKE2s (RFC 2104, BLOCKLEN 64) and
 * the Noise HKDF.  These are the HASH and HKDF of the Noise handshake in
 * noise.c; WireGuard's KDF1/KDF2/KDF3 are the same HKDF with 1, 2 or 3 outputs.
 *
 * The prefix is b2s_, not blake2s_: libb2 owns the blake2s_* names.
 * Every function returns 0, or KERR_CRYPTO if libb2 refuses (it only does so
 * for arguments these wrappers never pass); intermediate secrets (HMAC pads,
 * hash states, PRK) are wiped before returning either way.
 */
#ifndef KODEN_BLAKE2S_H
#define KODEN_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define B2S_HASH_LEN 32		/* HASHLEN: BLAKE2s-256 output */
#define B2S_BLOCK_LEN 64	/* BLOCKLEN: HMAC pads to this */

/* out = BLAKE2s-256(in), unkeyed.  in may be NULL when len is 0. */
int b2s_hash(uint8_t out[static B2S_HASH_LEN], const uint8_t *in, size_t len)
    KODEN_WUR;

/* out = BLAKE2s-256(a || b) without copying (Noise MixHash: HASH(h || data)).
 * out may overlap a or b. */
int b2s_hash2(uint8_t out[static B2S_HASH_LEN], const uint8_t *a, size_t a_len,
    const uint8_t *b, size_t b_len) KODEN_WUR;

/*
 * out = HMAC-BLAKE2s(key, in) per RFC 2104: a key longer than 64 bytes is
 * hashed first, a shorter one zero-padded to 64.  out may overlap key or in.
 */
int b2s_hmac(uint8_t out[static B2S_HASH_LEN], const uint8_t *key,
    size_t key_len, const uint8_t *in, size_t len) KODEN_WUR;

/*
 * Noise §4.3 HKDF(chaining_key, input_key_material, num_outputs):
 *   temp_key = HMAC(chaining_key, ikm)
 *   out1 = HMAC(temp_key, 0x01)
 *   out2 = HMAC(temp_key, out1 || 0x02)
 *   out3 = HMAC(temp_key, out2 || 0x03)
 * Pass out3 NULL for two outputs, out2 and out3 NULL for one (WireGuard's
 * KDF1).  Noise passes a 32-byte chaining key; other lengths are accepted so
 * that the WireGuard KDF vectors can be checked.  Each output may overlap ck
 * (MixKey writes the new ck over the old one) but not ikm or another output.
 */
int b2s_hkdf(uint8_t out1[static B2S_HASH_LEN], uint8_t *out2, uint8_t *out3,
    const uint8_t *ck, size_t ck_len, const uint8_t *ikm, size_t ikm_len)
    KODEN_WUR;

#endif
