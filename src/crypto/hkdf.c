/*
 * HKDF-SHA256, RFC 5869 §2, over libsodium's HMAC-SHA256.
 *
 * Expand keys HMAC with the PRK once and copies that state for each block,
 * so PRK is read only on entry: okm may overlap prk, but must not overlap
 * info, which is read again for every block.
 */
#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "crypto/hkdf.h"

void
hkdf_sha256_extract_parts(uint8_t prk[static HKDF_SHA256_LEN],
    const uint8_t *salt, size_t salt_len, const struct hkdf_part *ikm, size_t n)
{
	static const uint8_t zero_salt[HKDF_SHA256_LEN];
	crypto_auth_hmacsha256_state st;

	assert(salt != NULL || salt_len == 0);

	/* §2.2: "if not provided, [salt] is set to a string of HashLen zeros" */
	if (salt_len == 0) {
		salt = zero_salt;
		salt_len = sizeof(zero_salt);
	}
	crypto_auth_hmacsha256_init(&st, salt, salt_len);
	for (size_t k = 0; k < n; k++) {
		assert(ikm[k].p != NULL || ikm[k].len == 0);
		crypto_auth_hmacsha256_update(&st, ikm[k].p, ikm[k].len);
	}
	crypto_auth_hmacsha256_final(&st, prk);
	sodium_memzero(&st, sizeof(st));
}

void
hkdf_sha256_extract(uint8_t prk[static HKDF_SHA256_LEN],
    const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len)
{
	struct hkdf_part part = { ikm, ikm_len };

	hkdf_sha256_extract_parts(prk, salt, salt_len, &part, 1);
}

int
hkdf_sha256_expand_parts(uint8_t *okm, size_t okm_len,
    const uint8_t prk[static HKDF_SHA256_LEN],
    const struct hkdf_part *info, size_t n_info)
{
	crypto_auth_hmacsha256_state keyed, st;
	uint8_t t[HKDF_SHA256_LEN];	/* T(i) */
	size_t off = 0, n;
	unsigned int i;
	uint8_t ctr;

	assert(okm != NULL || okm_len == 0);

	/* §2.3: L <= 255*HashLen, so the one-octet counter never wraps */
	if (okm_len > HKDF_SHA256_OKM_MAX)
		return KERR_TOOBIG;

	crypto_auth_hmacsha256_init(&keyed, prk, HKDF_SHA256_LEN);
	for (i = 1; off < okm_len; i++) {
		ctr = (uint8_t)i;
		/* T(i) = HMAC-Hash(PRK, T(i-1) | info | i), T(0) empty */
		st = keyed;
		if (i > 1)
			crypto_auth_hmacsha256_update(&st, t, sizeof(t));
		for (size_t k = 0; k < n_info; k++) {
			assert(info[k].p != NULL || info[k].len == 0);
			crypto_auth_hmacsha256_update(&st, info[k].p, info[k].len);
		}
		crypto_auth_hmacsha256_update(&st, &ctr, 1);
		crypto_auth_hmacsha256_final(&st, t);
		n = okm_len - off < sizeof(t) ? okm_len - off : sizeof(t);
		memcpy(okm + off, t, n);
		off += n;
	}

	sodium_memzero(&keyed, sizeof(keyed));
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(t, sizeof(t));
	return 0;
}

int
hkdf_sha256_expand(uint8_t *okm, size_t okm_len,
    const uint8_t prk[static HKDF_SHA256_LEN],
    const uint8_t *info, size_t info_len)
{
	struct hkdf_part part = { info, info_len };

	return hkdf_sha256_expand_parts(okm, okm_len, prk, &part, 1);
}
