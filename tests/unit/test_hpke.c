/*
 * HPKE base mode against the RFC 9180 known answers (suite 0x0020/0x0001/
 * 0x0003), then hostile inputs and random round trips.
 *
 * The vector file also holds the mode 2 (Auth) vector; koden implements
 * base mode only, so that vector is skipped on purpose.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/hpke.h"
#include "vectors.h"

#define NENCRYPTIONS 257

static json_t *root;
static json_t *vec;	/* the mode 0 vector inside root */

static int
group_setup(void **state)
{
	json_t *vs, *v;
	size_t i;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	root = vec_load("hpke-x25519-sha256-chacha20poly1305.json");
	vs = json_object_get(root, "vectors");
	json_array_foreach(vs, i, v) {
		/* mode 2 (Auth) is not implemented: skipped */
		if (json_integer_value(json_object_get(v, "mode")) == 0)
			vec = v;
	}
	if (vec == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	json_decref(root);
	return 0;
}

/* Hex field of the mode 0 vector, with its length checked. */
static uint8_t *
field(json_t *obj, const char *key, size_t want_len)
{
	size_t len;
	uint8_t *p = vec_hex(obj, key, &len);

	if (want_len != SIZE_MAX)
		assert_int_equal(len, want_len);
	return p;
}

static void
test_vector_ids(void **state)
{
	(void)state;
	assert_int_equal(json_integer_value(json_object_get(vec, "kem_id")), 0x20);
	assert_int_equal(json_integer_value(json_object_get(vec, "kdf_id")), 1);
	assert_int_equal(json_integer_value(json_object_get(vec, "aead_id")), 3);
}

static void
test_derive_keypair(void **state)
{
	static const struct {
		const char *ikm, *sk, *pk;
	} pairs[] = {
		{ "ikmE", "skEm", "pkEm" },
		{ "ikmR", "skRm", "pkRm" },
	};
	uint8_t sk[HPKE_NSK], pk[HPKE_NPK];

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		size_t ikm_len;
		uint8_t *ikm = vec_hex(vec, pairs[i].ikm, &ikm_len);
		uint8_t *sk_want = field(vec, pairs[i].sk, HPKE_NSK);
		uint8_t *pk_want = field(vec, pairs[i].pk, HPKE_NPK);

		assert_int_equal(hpke_derive_keypair(sk, pk, ikm, ikm_len), 0);
		assert_memory_equal(sk, sk_want, HPKE_NSK);
		assert_memory_equal(pk, pk_want, HPKE_NPK);
		free(pk_want);
		free(sk_want);
		free(ikm);
	}
}

/* Fewer than Nsk bytes of ikm cannot carry Nsk bytes of entropy. */
static void
test_derive_keypair_short_ikm(void **state)
{
	uint8_t ikm[HPKE_NSK] = { 7 };
	uint8_t sk[HPKE_NSK], pk[HPKE_NPK];

	(void)state;
	memset(sk, 0xaa, sizeof(sk));
	memset(pk, 0xaa, sizeof(pk));
	assert_int_equal(hpke_derive_keypair(sk, pk, ikm, HPKE_NSK - 1),
	    KERR_INVALID);
	assert_true(sodium_is_zero(sk, sizeof(sk)));
	assert_true(sodium_is_zero(pk, sizeof(pk)));
	assert_int_equal(hpke_derive_keypair(sk, pk, NULL, 0), KERR_INVALID);
	assert_int_equal(hpke_derive_keypair(sk, pk, ikm, HPKE_NSK), 0);
}

static void
check_ctx(const struct hpke_ctx *ctx)
{
	uint8_t *key = field(vec, "key", HPKE_NK);
	uint8_t *base_nonce = field(vec, "base_nonce", HPKE_NN);
	uint8_t *exporter_secret = field(vec, "exporter_secret", HPKE_NH);

	assert_memory_equal(ctx->key, key, HPKE_NK);
	assert_memory_equal(ctx->base_nonce, base_nonce, HPKE_NN);
	assert_memory_equal(ctx->exporter_secret, exporter_secret, HPKE_NH);
	assert_true(ctx->seq == 0);
	free(exporter_secret);
	free(base_nonce);
	free(key);
}

/* SetupBaseS with the vector's skE, and SetupBaseR with its skR. */
static void
setup_both(struct hpke_ctx *s, struct hpke_ctx *r)
{
	size_t info_len;
	uint8_t *info = vec_hex(vec, "info", &info_len);
	uint8_t *pkR = field(vec, "pkRm", HPKE_NPK);
	uint8_t *skR = field(vec, "skRm", HPKE_NSK);
	uint8_t *skE = field(vec, "skEm", HPKE_NSK);
	uint8_t *enc_want = field(vec, "enc", HPKE_NENC);
	uint8_t enc[HPKE_NENC];

	assert_int_equal(hpke_setup_base_s_derand(s, enc, pkR, skE,
	    info, info_len), 0);
	assert_memory_equal(enc, enc_want, HPKE_NENC);
	check_ctx(s);

	assert_int_equal(hpke_setup_base_r(r, enc, skR, info, info_len), 0);
	check_ctx(r);

	free(enc_want);
	free(skE);
	free(skR);
	free(pkR);
	free(info);
}

static void
test_setup(void **state)
{
	struct hpke_ctx s, r;

	(void)state;
	setup_both(&s, &r);
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
	assert_true(sodium_is_zero((const uint8_t *)&s, sizeof(s)));
	assert_true(sodium_is_zero((const uint8_t *)&r, sizeof(r)));
}

/* Every one of the 257 encryptions: entry i is sequence number i. */
static void
test_encryptions(void **state)
{
	json_t *encs = json_object_get(vec, "encryptions");
	struct hpke_ctx s, r;
	uint8_t *base_nonce = field(vec, "base_nonce", HPKE_NN);
	json_t *e;
	size_t i;

	(void)state;
	assert_int_equal(json_array_size(encs), NENCRYPTIONS);
	setup_both(&s, &r);
	json_array_foreach(encs, i, e) {
		size_t pt_len, aad_len, ct_len;
		uint8_t *pt = vec_hex(e, "pt", &pt_len);
		uint8_t *aad = vec_hex(e, "aad", &aad_len);
		uint8_t *ct_want = vec_hex(e, "ct", &ct_len);
		uint8_t *nonce = field(e, "nonce", HPKE_NN);
		uint8_t want_nonce[HPKE_NN];
		uint8_t *ct, *back;

		/* the vector's nonce is base_nonce XOR I2OSP(i, 12) */
		memcpy(want_nonce, base_nonce, HPKE_NN);
		want_nonce[HPKE_NN - 1] ^= (uint8_t)i;
		want_nonce[HPKE_NN - 2] ^= (uint8_t)(i >> 8);
		assert_memory_equal(nonce, want_nonce, HPKE_NN);

		assert_int_equal(ct_len, pt_len + HPKE_NT);
		ct = malloc(ct_len);
		back = malloc(pt_len);
		assert_non_null(ct);
		assert_non_null(back);
		assert_true(s.seq == i);
		assert_true(r.seq == i);
		assert_int_equal(hpke_seal(&s, ct, aad, aad_len, pt, pt_len), 0);
		assert_memory_equal(ct, ct_want, ct_len);
		assert_int_equal(hpke_open(&r, back, aad, aad_len, ct, ct_len), 0);
		assert_memory_equal(back, pt, pt_len);

		free(back);
		free(ct);
		free(nonce);
		free(ct_want);
		free(aad);
		free(pt);
	}
	assert_true(s.seq == NENCRYPTIONS);
	assert_true(r.seq == NENCRYPTIONS);
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
	free(base_nonce);
}

static void
test_exports(void **state)
{
	json_t *exps = json_object_get(vec, "exports");
	struct hpke_ctx s, r;
	json_t *x;
	size_t i;

	(void)state;
	assert_int_equal(json_array_size(exps), 3);
	setup_both(&s, &r);
	json_array_foreach(exps, i, x) {
		size_t c_len, v_len;
		uint8_t *c = vec_hex(x, "exporter_context", &c_len);
		uint8_t *want = vec_hex(x, "exported_value", &v_len);
		json_int_t L = json_integer_value(json_object_get(x, "L"));
		uint8_t *out = malloc(v_len);

		assert_non_null(out);
		assert_int_equal((size_t)L, v_len);
		assert_int_equal(hpke_export(&s, out, v_len, c, c_len), 0);
		assert_memory_equal(out, want, v_len);
		memset(out, 0, v_len);
		assert_int_equal(hpke_export(&r, out, v_len, c, c_len), 0);
		assert_memory_equal(out, want, v_len);
		free(out);
		free(want);
		free(c);
	}
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

static void
test_export_limits(void **state)
{
	struct hpke_ctx s, r;
	uint8_t *big = malloc(255 * HPKE_NH + 1);

	(void)state;
	assert_non_null(big);
	setup_both(&s, &r);
	assert_int_equal(hpke_export(&s, big, 255 * HPKE_NH, NULL, 0), 0);
	assert_int_equal(hpke_export(&s, big, 255 * HPKE_NH + 1, NULL, 0),
	    KERR_TOOBIG);
	assert_int_equal(hpke_export(&s, NULL, 0, NULL, 0), 0);
	free(big);
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

/* Entry 0 of the vector, for the tamper tests. */
struct msg {
	uint8_t *pt, *aad, *ct;
	size_t pt_len, aad_len, ct_len;
};

static void
msg0(struct msg *m)
{
	json_t *e = json_array_get(json_object_get(vec, "encryptions"), 0);

	m->pt = vec_hex(e, "pt", &m->pt_len);
	m->aad = vec_hex(e, "aad", &m->aad_len);
	m->ct = vec_hex(e, "ct", &m->ct_len);
}

static void
msg_free(struct msg *m)
{
	free(m->pt);
	free(m->aad);
	free(m->ct);
}

/*
 * Flip every bit of the ciphertext and tag in turn: each must fail with
 * KERR_DECRYPT and leave seq alone, so the genuine message still opens.
 */
static void
test_open_tampered(void **state)
{
	struct hpke_ctx s, r;
	struct msg m;
	uint8_t *pt;

	(void)state;
	setup_both(&s, &r);
	msg0(&m);
	pt = malloc(m.pt_len);
	assert_non_null(pt);
	for (size_t bit = 0; bit < 8 * m.ct_len; bit++) {
		m.ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(hpke_open(&r, pt, m.aad, m.aad_len,
		    m.ct, m.ct_len), KERR_DECRYPT);
		assert_true(r.seq == 0);
		m.ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(hpke_open(&r, pt, m.aad, m.aad_len, m.ct, m.ct_len), 0);
	assert_memory_equal(pt, m.pt, m.pt_len);
	assert_true(r.seq == 1);
	/* a replay is now at the wrong sequence number */
	assert_int_equal(hpke_open(&r, pt, m.aad, m.aad_len, m.ct, m.ct_len),
	    KERR_DECRYPT);
	free(pt);
	msg_free(&m);
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

static void
test_open_wrong_aad(void **state)
{
	struct hpke_ctx s, r;
	struct msg m;
	uint8_t *pt;

	(void)state;
	setup_both(&s, &r);
	msg0(&m);
	pt = malloc(m.pt_len);
	assert_non_null(pt);
	/* "Count-1" instead of "Count-0" */
	m.aad[m.aad_len - 1] ^= 0x01;
	assert_int_equal(hpke_open(&r, pt, m.aad, m.aad_len, m.ct, m.ct_len),
	    KERR_DECRYPT);
	/* aad dropped, and aad extended by one byte */
	assert_int_equal(hpke_open(&r, pt, NULL, 0, m.ct, m.ct_len),
	    KERR_DECRYPT);
	m.aad[m.aad_len - 1] ^= 0x01;
	assert_int_equal(hpke_open(&r, pt, m.aad, m.aad_len - 1,
	    m.ct, m.ct_len), KERR_DECRYPT);
	assert_true(r.seq == 0);
	assert_int_equal(hpke_open(&r, pt, m.aad, m.aad_len, m.ct, m.ct_len), 0);
	free(pt);
	msg_free(&m);
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

/* Truncated: anything shorter than the 16-byte tag, and a cut tag. */
static void
test_open_short(void **state)
{
	struct hpke_ctx s, r;
	struct msg m;
	uint8_t pt[64];

	(void)state;
	setup_both(&s, &r);
	msg0(&m);
	for (size_t n = 0; n < HPKE_NT; n++)
		assert_int_equal(hpke_open(&r, pt, m.aad, m.aad_len, m.ct, n),
		    KERR_DECRYPT);
	assert_int_equal(hpke_open(&r, NULL, m.aad, m.aad_len, NULL, 0),
	    KERR_DECRYPT);
	for (size_t n = HPKE_NT; n < m.ct_len; n++)
		assert_int_equal(hpke_open(&r, pt, m.aad, m.aad_len, m.ct, n),
		    KERR_DECRYPT);
	assert_true(r.seq == 0);
	msg_free(&m);
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

/*
 * X25519 points of small order (and non-canonical encodings of them): the
 * DH output is all zero, which RFC 9180 §7.1.4 says to reject.
 */
static const char *const low_order[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void
test_low_order_enc(void **state)
{
	uint8_t *skR = field(vec, "skRm", HPKE_NSK);
	struct hpke_ctx r;

	(void)state;
	for (size_t i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
		size_t len;
		uint8_t *enc = vec_unhex(low_order[i], &len);

		assert_int_equal(len, HPKE_NENC);
		memset(&r, 0xaa, sizeof(r));
		assert_int_equal(hpke_setup_base_r(&r, enc, skR, NULL, 0),
		    KERR_CRYPTO);
		/* nothing usable is left behind */
		assert_true(sodium_is_zero((const uint8_t *)&r, sizeof(r)));
		free(enc);
	}
	free(skR);
}

static void
test_low_order_pkR(void **state)
{
	struct hpke_ctx s;
	uint8_t enc[HPKE_NENC];

	(void)state;
	for (size_t i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
		size_t len;
		uint8_t *pkR = vec_unhex(low_order[i], &len);

		memset(enc, 0xaa, sizeof(enc));
		assert_int_equal(hpke_setup_base_s(&s, enc, pkR, NULL, 0),
		    KERR_CRYPTO);
		assert_true(sodium_is_zero((const uint8_t *)&s, sizeof(s)));
		assert_true(sodium_is_zero(enc, sizeof(enc)));
		free(pkR);
	}
}

/*
 * Near the end of the sequence space: the nonce XORs all 8 bytes of seq
 * (checked against libsodium called directly), and the last sequence number
 * is refused on both sides rather than wrapping to 0.
 */
static void
test_seq_limit(void **state)
{
	struct hpke_ctx s, r;
	uint8_t ct[3 + HPKE_NT], want[3 + HPKE_NT], pt[3], nonce[HPKE_NN];
	uint64_t seq = UINT64_MAX - 1;

	(void)state;
	setup_both(&s, &r);
	s.seq = r.seq = seq;
	memcpy(nonce, s.base_nonce, HPKE_NN);
	for (int i = 0; i < 8; i++)
		nonce[HPKE_NN - 1 - i] ^= (uint8_t)(seq >> (8 * i));
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(want, NULL,
	    (const uint8_t *)"abc", 3, NULL, 0, NULL, nonce, s.key), 0);

	assert_int_equal(hpke_seal(&s, ct, NULL, 0, (const uint8_t *)"abc", 3), 0);
	assert_memory_equal(ct, want, sizeof(ct));
	assert_true(s.seq == UINT64_MAX);
	assert_int_equal(hpke_seal(&s, ct, NULL, 0, (const uint8_t *)"abc", 3),
	    KERR_TOOBIG);
	assert_true(s.seq == UINT64_MAX);

	assert_int_equal(hpke_open(&r, pt, NULL, 0, want, sizeof(want)), 0);
	assert_memory_equal(pt, "abc", 3);
	assert_int_equal(hpke_open(&r, pt, NULL, 0, want, sizeof(want)),
	    KERR_TOOBIG);
	assert_true(r.seq == UINT64_MAX);
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

/*
 * Random key pairs, info, aad and message lengths through
 * hpke_setup_base_s / hpke_setup_base_r; a different recipient key or info
 * must not open the message.
 */
static void
test_random_round_trips(void **state)
{
	uint8_t ikm[HPKE_NSK], skR[HPKE_NSK], pkR[HPKE_NPK];
	uint8_t skX[HPKE_NSK], pkX[HPKE_NPK], enc[HPKE_NENC], enc2[HPKE_NENC];
	uint8_t info[100], aad[100], pt[1000], ct[1000 + HPKE_NT], back[1000];
	uint8_t xs[48], xr[48];
	struct hpke_ctx s, r, x;

	(void)state;
	randombytes_buf(skX, sizeof(skX));
	assert_int_equal(crypto_scalarmult_base(pkX, skX), 0);
	for (int iter = 0; iter < 100; iter++) {
		size_t info_len = randombytes_uniform(sizeof(info) + 1);

		randombytes_buf(ikm, sizeof(ikm));
		randombytes_buf(info, sizeof(info));
		assert_int_equal(hpke_derive_keypair(skR, pkR, ikm,
		    sizeof(ikm)), 0);
		assert_int_equal(hpke_setup_base_s(&s, enc, pkR, info,
		    info_len), 0);
		assert_int_equal(hpke_setup_base_r(&r, enc, skR, info,
		    info_len), 0);
		assert_memory_equal(&s, &r, sizeof(s));
		/* a fresh ephemeral key every time */
		assert_int_equal(hpke_setup_base_s(&x, enc2, pkR, info,
		    info_len), 0);
		assert_memory_not_equal(enc, enc2, HPKE_NENC);
		assert_memory_not_equal(x.key, s.key, HPKE_NK);

		for (int k = 0; k < 4; k++) {
			size_t pt_len = randombytes_uniform(sizeof(pt) + 1);
			size_t aad_len = randombytes_uniform(sizeof(aad) + 1);

			randombytes_buf(pt, pt_len);
			randombytes_buf(aad, aad_len);
			assert_int_equal(hpke_seal(&s, ct, aad, aad_len,
			    pt, pt_len), 0);
			assert_int_equal(hpke_open(&r, back, aad, aad_len,
			    ct, pt_len + HPKE_NT), 0);
			assert_memory_equal(back, pt, pt_len);
		}
		assert_int_equal(hpke_export(&s, xs, sizeof(xs), aad, 7), 0);
		assert_int_equal(hpke_export(&r, xr, sizeof(xr), aad, 7), 0);
		assert_memory_equal(xs, xr, sizeof(xs));

		/* wrong recipient key: a context that opens nothing */
		assert_int_equal(hpke_setup_base_s(&s, enc, pkR, info,
		    info_len), 0);
		assert_int_equal(hpke_seal(&s, ct, NULL, 0, pt, 10), 0);
		assert_int_equal(hpke_setup_base_r(&x, enc, skX, info,
		    info_len), 0);
		assert_int_equal(hpke_open(&x, back, NULL, 0, ct,
		    10 + HPKE_NT), KERR_DECRYPT);
		/* wrong info */
		info[0] ^= 1;
		assert_int_equal(hpke_setup_base_r(&x, enc, skR, info,
		    info_len > 0 ? info_len : 1), 0);
		assert_int_equal(hpke_open(&x, back, NULL, 0, ct,
		    10 + HPKE_NT), KERR_DECRYPT);
		/* right key and info */
		info[0] ^= 1;
		assert_int_equal(hpke_setup_base_r(&r, enc, skR, info,
		    info_len), 0);
		assert_int_equal(hpke_open(&r, back, NULL, 0, ct,
		    10 + HPKE_NT), 0);
		assert_memory_equal(back, pt, 10);
	}
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
	hpke_ctx_wipe(&x);
}

/* Seal and open in place (ct == pt buffer), as libsodium allows. */
static void
test_in_place(void **state)
{
	struct hpke_ctx s, r;
	struct msg m;
	uint8_t *b;

	(void)state;
	setup_both(&s, &r);
	msg0(&m);
	b = malloc(m.ct_len);
	assert_non_null(b);
	memcpy(b, m.pt, m.pt_len);
	assert_int_equal(hpke_seal(&s, b, m.aad, m.aad_len, b, m.pt_len), 0);
	assert_memory_equal(b, m.ct, m.ct_len);
	assert_int_equal(hpke_open(&r, b, m.aad, m.aad_len, b, m.ct_len), 0);
	assert_memory_equal(b, m.pt, m.pt_len);
	free(b);
	msg_free(&m);
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_ids),
		cmocka_unit_test(test_derive_keypair),
		cmocka_unit_test(test_derive_keypair_short_ikm),
		cmocka_unit_test(test_setup),
		cmocka_unit_test(test_encryptions),
		cmocka_unit_test(test_exports),
		cmocka_unit_test(test_export_limits),
		cmocka_unit_test(test_open_tampered),
		cmocka_unit_test(test_open_wrong_aad),
		cmocka_unit_test(test_open_short),
		cmocka_unit_test(test_low_order_enc),
		cmocka_unit_test(test_low_order_pkR),
		cmocka_unit_test(test_seq_limit),
		cmocka_unit_test(test_random_round_trips),
		cmocka_unit_test(test_in_place),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
