/*
 * BLAKE2s-256, HMAC-BLAKE2s and the Noise HKDF: the RFC 7693 and BLAKE2 KAT
 * values, WireGuard's KDF1/KDF2/KDF3 vectors, and a naive
 * concatenate-then-hash HMAC reference on random inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <blake2.h>
#include <cmocka.h>
#include <sodium.h>

#include "crypto/blake2s.h"
#include "vectors.h"

static json_t *root;

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	root = vec_load("blake2s.json");
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	json_decref(root);
	return 0;
}

static json_t *
section_vectors(const char *section)
{
	json_t *v = json_object_get(json_object_get(root, section), "vectors");

	assert_true(json_is_array(v));
	assert_true(json_array_size(v) > 0);
	return v;
}

static void
test_rfc7693_abc(void **state)
{
	json_t *v = json_object_get(root, "rfc7693_appendix_b");
	size_t in_len, want_len;
	uint8_t *in = vec_hex(v, "in", &in_len);
	uint8_t *want = vec_hex(v, "hash", &want_len);
	uint8_t out[B2S_HASH_LEN];

	(void)state;
	assert_int_equal(want_len, B2S_HASH_LEN);
	assert_int_equal(b2s_hash(out, in, in_len), 0);
	assert_memory_equal(out, want, B2S_HASH_LEN);
	/* the same bytes split anywhere hash the same */
	for (size_t cut = 0; cut <= in_len; cut++) {
		assert_int_equal(b2s_hash2(out, in, cut, in + cut,
		    in_len - cut), 0);
		assert_memory_equal(out, want, B2S_HASH_LEN);
	}
	free(want);
	free(in);
}

static void
test_unkeyed_kat(void **state)
{
	json_t *vs = section_vectors("unkeyed_kat"), *v;
	size_t idx;

	(void)state;
	json_array_foreach(vs, idx, v) {
		size_t in_len, want_len;
		uint8_t *in = vec_hex(v, "in", &in_len);
		uint8_t *want = vec_hex(v, "hash", &want_len);
		uint8_t out[B2S_HASH_LEN];

		assert_int_equal(in_len,
		    (size_t)json_integer_value(json_object_get(v, "in_len")));
		assert_int_equal(want_len, B2S_HASH_LEN);
		assert_int_equal(b2s_hash(out, in_len ? in : NULL, in_len), 0);
		assert_memory_equal(out, want, B2S_HASH_LEN);
		free(want);
		free(in);
	}
}

/*
 * Keyed BLAKE2s is not part of our API (HMAC is what Noise uses), but the
 * KAT pins libb2's one-shot argument order, which differs from the
 * reference code's: blake2s(out, in, key, outlen, inlen, keylen).
 */
static void
test_libb2_keyed_kat(void **state)
{
	json_t *vs = section_vectors("keyed_kat"), *v;
	size_t idx;

	(void)state;
	json_array_foreach(vs, idx, v) {
		size_t in_len, key_len, want_len;
		uint8_t *in = vec_hex(v, "in", &in_len);
		uint8_t *key = vec_hex(v, "key", &key_len);
		uint8_t *want = vec_hex(v, "hash", &want_len);
		uint8_t out[BLAKE2S_OUTBYTES];

		assert_int_equal(want_len, BLAKE2S_OUTBYTES);
		assert_int_equal(blake2s(out, in_len ? in : NULL, key,
		    sizeof(out), in_len, key_len), 0);
		assert_memory_equal(out, want, sizeof(out));
		free(want);
		free(key);
		free(in);
	}
}

/* WireGuard's KDF1/2/3 = the Noise HKDF with 1, 2 and 3 outputs. */
static void
test_wireguard_kdf(void **state)
{
	json_t *vs = section_vectors("wireguard_kdf"), *v;
	size_t idx;

	(void)state;
	assert_int_equal(json_array_size(vs), 3);
	json_array_foreach(vs, idx, v) {
		size_t key_len, in_len, l0, l1, l2;
		uint8_t *key = vec_hex(v, "key", &key_len);
		uint8_t *in = vec_hex(v, "input", &in_len);
		uint8_t *t0 = vec_hex(v, "t0", &l0);
		uint8_t *t1 = vec_hex(v, "t1", &l1);
		uint8_t *t2 = vec_hex(v, "t2", &l2);
		uint8_t o1[B2S_HASH_LEN], o2[B2S_HASH_LEN], o3[B2S_HASH_LEN];
		const uint8_t *k = key_len ? key : NULL;
		const uint8_t *i = in_len ? in : NULL;

		assert_int_equal(l0, B2S_HASH_LEN);
		assert_int_equal(l1, B2S_HASH_LEN);
		assert_int_equal(l2, B2S_HASH_LEN);

		/* KDF1 */
		memset(o1, 0xaa, sizeof(o1));
		assert_int_equal(b2s_hkdf(o1, NULL, NULL, k, key_len,
		    i, in_len), 0);
		assert_memory_equal(o1, t0, B2S_HASH_LEN);
		/* KDF2 */
		memset(o1, 0xaa, sizeof(o1));
		assert_int_equal(b2s_hkdf(o1, o2, NULL, k, key_len,
		    i, in_len), 0);
		assert_memory_equal(o1, t0, B2S_HASH_LEN);
		assert_memory_equal(o2, t1, B2S_HASH_LEN);
		/* KDF3 */
		memset(o1, 0xaa, sizeof(o1));
		memset(o2, 0xaa, sizeof(o2));
		assert_int_equal(b2s_hkdf(o1, o2, o3, k, key_len,
		    i, in_len), 0);
		assert_memory_equal(o1, t0, B2S_HASH_LEN);
		assert_memory_equal(o2, t1, B2S_HASH_LEN);
		assert_memory_equal(o3, t2, B2S_HASH_LEN);

		free(t2);
		free(t1);
		free(t0);
		free(in);
		free(key);
	}
}

/* MixKey writes the new chaining key over the old one: out1 == ck. */
static void
test_hkdf_in_place(void **state)
{
	uint8_t ck[B2S_HASH_LEN], buf[B2S_HASH_LEN], ikm[40];
	uint8_t w1[B2S_HASH_LEN], w2[B2S_HASH_LEN], w3[B2S_HASH_LEN];
	uint8_t k2[B2S_HASH_LEN], h3[B2S_HASH_LEN];

	(void)state;
	randombytes_buf(ck, sizeof(ck));
	randombytes_buf(ikm, sizeof(ikm));
	assert_int_equal(b2s_hkdf(w1, w2, w3, ck, sizeof(ck), ikm,
	    sizeof(ikm)), 0);

	memcpy(buf, ck, sizeof(buf));
	assert_int_equal(b2s_hkdf(buf, k2, NULL, buf, sizeof(buf), ikm,
	    sizeof(ikm)), 0);
	assert_memory_equal(buf, w1, sizeof(buf));
	assert_memory_equal(k2, w2, sizeof(k2));

	memcpy(buf, ck, sizeof(buf));
	assert_int_equal(b2s_hkdf(buf, h3, k2, buf, sizeof(buf), ikm,
	    sizeof(ikm)), 0);
	assert_memory_equal(buf, w1, sizeof(buf));
	assert_memory_equal(h3, w2, sizeof(h3));
	assert_memory_equal(k2, w3, sizeof(k2));

	/* HMAC may write over its key or its message */
	assert_int_equal(b2s_hmac(w1, ck, sizeof(ck), ikm, sizeof(ikm)), 0);
	memcpy(buf, ck, sizeof(buf));
	assert_int_equal(b2s_hmac(buf, buf, sizeof(buf), ikm, sizeof(ikm)), 0);
	assert_memory_equal(buf, w1, sizeof(buf));
	memcpy(buf, ikm, sizeof(buf));
	assert_int_equal(b2s_hmac(w1, ck, sizeof(ck), ikm, sizeof(buf)), 0);
	assert_int_equal(b2s_hmac(buf, ck, sizeof(ck), buf, sizeof(buf)), 0);
	assert_memory_equal(buf, w1, sizeof(buf));
}

/*
 * Naive RFC 2104 HMAC-BLAKE2s: build K^ipad || text and K^opad || inner in
 * one buffer each and hash them with libb2's one-shot call.
 */
static void
naive_hmac(uint8_t out[32], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t msg_len)
{
	uint8_t k0[64] = { 0 }, inner[32], outer_msg[64 + 32];
	uint8_t *inner_msg = malloc(64 + msg_len);

	assert_non_null(inner_msg);
	if (key_len > 64)
		assert_int_equal(blake2s(k0, key, NULL, 32, key_len, 0), 0);
	else if (key_len > 0)
		memcpy(k0, key, key_len);
	for (int i = 0; i < 64; i++) {
		inner_msg[i] = k0[i] ^ 0x36;
		outer_msg[i] = k0[i] ^ 0x5c;
	}
	if (msg_len)
		memcpy(inner_msg + 64, msg, msg_len);
	assert_int_equal(blake2s(inner, inner_msg, NULL, 32, 64 + msg_len, 0),
	    0);
	memcpy(outer_msg + 64, inner, 32);
	assert_int_equal(blake2s(out, outer_msg, NULL, 32, sizeof(outer_msg),
	    0), 0);
	free(inner_msg);
}

/* Random keys around the 64-byte block boundary and random messages. */
static void
test_hmac_random_vs_naive(void **state)
{
	static const size_t key_lens[] = { 0, 1, 31, 32, 33, 63, 64, 65, 127,
	    128, 129, 300 };
	uint8_t key[300], msg[300], got[32], want[32];

	(void)state;
	for (int iter = 0; iter < 600; iter++) {
		size_t key_len = key_lens[iter % (sizeof(key_lens) /
		    sizeof(key_lens[0]))];
		size_t msg_len = randombytes_uniform(sizeof(msg) + 1);

		randombytes_buf(key, sizeof(key));
		randombytes_buf(msg, sizeof(msg));
		assert_int_equal(b2s_hmac(got, key_len ? key : NULL, key_len,
		    msg_len ? msg : NULL, msg_len), 0);
		naive_hmac(want, key, key_len, msg, msg_len);
		assert_memory_equal(got, want, sizeof(got));
	}
}

/* The HKDF built from the naive HMAC, as the Noise spec writes it. */
static void
test_hkdf_random_vs_naive(void **state)
{
	uint8_t ck[32], ikm[200], tk[32], m[33];
	uint8_t o1[32], o2[32], o3[32], w1[32], w2[32], w3[32];

	(void)state;
	for (int iter = 0; iter < 200; iter++) {
		size_t ikm_len = randombytes_uniform(sizeof(ikm) + 1);

		randombytes_buf(ck, sizeof(ck));
		randombytes_buf(ikm, sizeof(ikm));
		naive_hmac(tk, ck, sizeof(ck), ikm, ikm_len);
		m[0] = 0x01;
		naive_hmac(w1, tk, 32, m, 1);
		memcpy(m, w1, 32);
		m[32] = 0x02;
		naive_hmac(w2, tk, 32, m, 33);
		memcpy(m, w2, 32);
		m[32] = 0x03;
		naive_hmac(w3, tk, 32, m, 33);

		assert_int_equal(b2s_hkdf(o1, o2, o3, ck, sizeof(ck),
		    ikm_len ? ikm : NULL, ikm_len), 0);
		assert_memory_equal(o1, w1, 32);
		assert_memory_equal(o2, w2, 32);
		assert_memory_equal(o3, w3, 32);
	}
}

/* Long inputs across many blocks: streaming pieces equal one shot. */
static void
test_hash2_random(void **state)
{
	uint8_t buf[1000], got[32], want[32];

	(void)state;
	for (int iter = 0; iter < 200; iter++) {
		size_t len = randombytes_uniform(sizeof(buf) + 1);
		size_t cut = randombytes_uniform((uint32_t)len + 1);

		randombytes_buf(buf, sizeof(buf));
		assert_int_equal(blake2s(want, buf, NULL, 32, len, 0), 0);
		assert_int_equal(b2s_hash(got, buf, len), 0);
		assert_memory_equal(got, want, 32);
		assert_int_equal(b2s_hash2(got, buf, cut, buf + cut, len - cut),
		    0);
		assert_memory_equal(got, want, 32);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7693_abc),
		cmocka_unit_test(test_unkeyed_kat),
		cmocka_unit_test(test_libb2_keyed_kat),
		cmocka_unit_test(test_wireguard_kdf),
		cmocka_unit_test(test_hkdf_in_place),
		cmocka_unit_test(test_hmac_random_vs_naive),
		cmocka_unit_test(test_hkdf_random_vs_naive),
		cmocka_unit_test(test_hash2_random),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
