/*
 * HKDF-SHA256 (RFC 5869) over libsodium's HMAC-SHA256.  Debian 12's
 * libsodium (1.0.18) predates crypto_kdf_hkdf_sha256, so this thin layer is
 * ours; it is checked against the RFC 5869 vectors.
 */
#ifndef KODEN_HKDF_H
#define KODEN_HKDF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define HKDF_SHA256_LEN 32
#define HKDF_SHA256_OKM_MAX (255 * HKDF_SHA256_LEN)

/* A byte string given in pieces, read as their concatenation. */
struct hkdf_part {
	const uint8_t *p;
	size_t len;
};

/* Extract and Expand with ikm / info given as the concatenation of n parts
 * (HPKE's labelled forms use these without copying into a buffer). */
void hkdf_sha256_extract_parts(uint8_t prk[static HKDF_SHA256_LEN],
    const uint8_t *salt, size_t salt_len,
    const struct hkdf_part *ikm, size_t n);
int hkdf_sha256_expand_parts(uint8_t *okm, size_t okm_len,
    const uint8_t prk[static HKDF_SHA256_LEN],
    const struct hkdf_part *info, size_t n) KODEN_WUR;

/* PRK = HMAC-SHA256(salt, ikm); an empty salt means 32 zero bytes. */
void hkdf_sha256_extract(uint8_t prk[static HKDF_SHA256_LEN],
    const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len);

/*
 * OKM of okm_len bytes; KERR_TOOBIG if okm_len > 255*32 (okm untouched).
 * okm may overlap prk but not info.
 */
int hkdf_sha256_expand(uint8_t *okm, size_t okm_len,
    const uint8_t prk[static HKDF_SHA256_LEN],
    const uint8_t *info, size_t info_len) KODEN_WUR;

#endif
