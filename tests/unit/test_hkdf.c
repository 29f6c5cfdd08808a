/*
 * HKDF-SHA256: the RFC 5869 Appendix A cases, the 255*HashLen output cap,
 * and a naive concatenate-then-HMAC reference on random inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/hkdf.h"
#include "vectors.h"

static void
test_rfc5869(void **state)
{
	json_t *root = vec_load("rfc5869-hkdf-sha256.json");
	json_t *cases = json_object_get(root, "test_cases");
	json_t *tc;
	size_t idx;

	(void)state;
	assert_true(json_is_array(cases));
	assert_int_equal(json_array_size(cases), 3);
	json_array_foreach(cases, idx, tc) {
		size_t ikm_len, salt_len, info_len, prk_len, okm_len;
		uint8_t *ikm = vec_hex(tc, "IKM", &ikm_len);
		uint8_t *salt = vec_hex(tc, "salt", &salt_len);
		uint8_t *info = vec_hex(tc, "info", &info_len);
		uint8_t *prk_want = vec_hex(tc, "PRK", &prk_len);
		uint8_t *okm_want = vec_hex(tc, "OKM", &okm_len);
		json_int_t L = json_integer_value(json_object_get(tc, "L"));
		uint8_t prk[HKDF_SHA256_LEN];
		uint8_t *okm;

		assert_int_equal(prk_len, HKDF_SHA256_LEN);
		assert_int_equal((size_t)L, okm_len);
		okm = malloc(okm_len);
		assert_non_null(okm);

		hkdf_sha256_extract(prk, salt, salt_len, ikm, ikm_len);
		assert_memory_equal(prk, prk_want, HKDF_SHA256_LEN);
		assert_int_equal(hkdf_sha256_expand(okm, okm_len, prk,
		    info, info_len), 0);
		assert_memory_equal(okm, okm_want, okm_len);

		/* Case 3's empty salt: same as HashLen explicit zeros. */
		if (salt_len == 0) {
			uint8_t zeros[HKDF_SHA256_LEN] = { 0 };
			uint8_t prk2[HKDF_SHA256_LEN];

			hkdf_sha256_extract(prk2, zeros, sizeof(zeros),
			    ikm, ikm_len);
			assert_memory_equal(prk2, prk_want, HKDF_SHA256_LEN);
			hkdf_sha256_extract(prk2, NULL, 0, ikm, ikm_len);
			assert_memory_equal(prk2, prk_want, HKDF_SHA256_LEN);
		}

		free(okm);
		free(okm_want);
		free(prk_want);
		free(info);
		free(salt);
		free(ikm);
	}
	json_decref(root);
}

/* L = 255*32 is the largest output; L = 0 is a valid empty one. */
static void
test_expand_max(void **state)
{
	uint8_t prk[HKDF_SHA256_LEN];
	uint8_t *big, *small;

	(void)state;
	randombytes_buf(prk, sizeof(prk));
	big = malloc(HKDF_SHA256_OKM_MAX);
	small = malloc(100);
	assert_non_null(big);
	assert_non_null(small);

	assert_int_equal(hkdf_sha256_expand(big, HKDF_SHA256_OKM_MAX, prk,
	    (const uint8_t *)"ctx", 3), 0);
	/* OKM for a shorter L is a prefix of the longer one (§2.3). */
	assert_int_equal(hkdf_sha256_expand(small, 100, prk,
	    (const uint8_t *)"ctx", 3), 0);
	assert_memory_equal(big, small, 100);
	/* the last block really was computed */
	assert_false(sodium_is_zero(big + HKDF_SHA256_OKM_MAX - 32, 32));

	assert_int_equal(hkdf_sha256_expand(NULL, 0, prk, NULL, 0), 0);

	free(small);
	free(big);
}

static void
test_expand_too_big(void **state)
{
	uint8_t prk[HKDF_SHA256_LEN] = { 1 };
	uint8_t *okm;
	size_t n = HKDF_SHA256_OKM_MAX + 1;

	(void)state;
	okm = calloc(1, n);
	assert_non_null(okm);
	assert_int_equal(hkdf_sha256_expand(okm, n, prk, NULL, 0),
	    KERR_TOOBIG);
	/* refused before writing anything */
	assert_true(sodium_is_zero(okm, n));
	assert_int_equal(hkdf_sha256_expand(okm, SIZE_MAX, prk, NULL, 0),
	    KERR_TOOBIG);
	free(okm);
}

/* The contract lets okm overlap prk: PRK is consumed before any write. */
static void
test_expand_in_place(void **state)
{
	uint8_t prk[HKDF_SHA256_LEN], buf[HKDF_SHA256_LEN], want[HKDF_SHA256_LEN];

	(void)state;
	randombytes_buf(prk, sizeof(prk));
	memcpy(buf, prk, sizeof(buf));
	assert_int_equal(hkdf_sha256_expand(want, sizeof(want), prk,
	    (const uint8_t *)"x", 1), 0);
	assert_int_equal(hkdf_sha256_expand(buf, sizeof(buf), buf,
	    (const uint8_t *)"x", 1), 0);
	assert_memory_equal(buf, want, sizeof(want));
}

/*
 * A naive HKDF straight from RFC 5869 §2: concatenate each HMAC input into
 * one buffer and use libsodium's one-shot HMAC (which takes only a 32-byte
 * key, so a salt of another length is first reduced the way HMAC does).
 */
static void
naive_hmac(uint8_t out[32], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t msg_len)
{
	uint8_t k[crypto_hash_sha256_BYTES];
	uint8_t block[64] = { 0 }, ipad[64], opad[64], inner[32];
	crypto_hash_sha256_state h;

	if (key_len > 64) {
		crypto_hash_sha256(k, key, key_len);
		memcpy(block, k, sizeof(k));
	} else if (key_len > 0) {
		memcpy(block, key, key_len);
	}
	for (int i = 0; i < 64; i++) {
		ipad[i] = block[i] ^ 0x36;
		opad[i] = block[i] ^ 0x5c;
	}
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, ipad, 64);
	crypto_hash_sha256_update(&h, msg, msg_len);
	crypto_hash_sha256_final(&h, inner);
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, opad, 64);
	crypto_hash_sha256_update(&h, inner, 32);
	crypto_hash_sha256_final(&h, out);
}

static void
naive_hkdf(uint8_t *okm, size_t L, const uint8_t *salt, size_t salt_len,
    const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len)
{
	uint8_t prk[32], t[32];
	uint8_t *msg = malloc(32 + info_len + 1);
	size_t off = 0, mlen;

	assert_non_null(msg);
	naive_hmac(prk, salt, salt_len, ikm, ikm_len);
	for (unsigned int i = 1; off < L; i++) {
		mlen = 0;
		if (i > 1) {
			memcpy(msg, t, 32);
			mlen = 32;
		}
		if (info_len)
			memcpy(msg + mlen, info, info_len);
		mlen += info_len;
		msg[mlen++] = (uint8_t)i;
		naive_hmac(t, prk, 32, msg, mlen);
		for (size_t j = 0; j < 32 && off < L; j++)
			okm[off++] = t[j];
	}
	free(msg);
}

static void
test_random_vs_naive(void **state)
{
	uint8_t salt[200], ikm[200], info[200];
	uint8_t got[600], want[600], prk[32];

	(void)state;
	for (int iter = 0; iter < 500; iter++) {
		size_t salt_len = randombytes_uniform(sizeof(salt) + 1);
		size_t ikm_len = randombytes_uniform(sizeof(ikm) + 1);
		size_t info_len = randombytes_uniform(sizeof(info) + 1);
		size_t L = randombytes_uniform(sizeof(got) + 1);

		randombytes_buf(salt, sizeof(salt));
		randombytes_buf(ikm, sizeof(ikm));
		randombytes_buf(info, sizeof(info));
		hkdf_sha256_extract(prk, salt, salt_len, ikm, ikm_len);
		assert_int_equal(hkdf_sha256_expand(got, L, prk, info,
		    info_len), 0);
		naive_hkdf(want, L, salt, salt_len, ikm, ikm_len, info,
		    info_len);
		assert_memory_equal(got, want, L);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5869),
		cmocka_unit_test(test_expand_max),
		cmocka_unit_test(test_expand_too_big),
		cmocka_unit_test(test_expand_in_place),
		cmocka_unit_test(test_random_vs_naive),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
