/*
 * Noise IK / IKpsk2 (25519, ChaChaPoly, BLAKE2s): the cacophony known
 * answers in tests/vectors/noise-ik.json, then hostile inputs (bit flips,
 * truncations, oversize messages, low-order keys, wrong keys and psk,
 * replays), the handshake state machine, and random round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/blake2s.h"
#include "crypto/noise.h"
#include "vectors.h"

/* One BLAKE2s vector of noise-ik.json, decoded. */
struct vec {
	enum noise_pattern p;
	uint8_t prologue[64];
	size_t prologue_len;
	struct noise_keypair is, rs, ie, re;	/* init/resp static/ephemeral */
	uint8_t psk[NOISE_PSKLEN];
	int has_psk;
	uint8_t hash[NOISE_HASHLEN];
	json_t *messages;
};

static json_t *root;
static struct vec vec_ik, vec_ikpsk2;

/* X25519 points of small order (and their non-canonical encodings):
 * a DH with any of them gives all zeros, which must be refused. */
static const char *const low_order[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"0100000000000000000000000000000000000000000000000000000000000080",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
};
#define NLOW_ORDER (sizeof(low_order) / sizeof(low_order[0]))

/* Hex field of obj into buf, which must be exactly want bytes. */
static void
hex_into(json_t *obj, const char *key, uint8_t *buf, size_t want)
{
	size_t len;
	uint8_t *p = vec_hex(obj, key, &len);

	assert_int_equal(len, want);
	memcpy(buf, p, len);
	free(p);
}

static void
keypair_hex(json_t *obj, const char *key, struct noise_keypair *kp)
{
	uint8_t priv[NOISE_DHLEN];

	hex_into(obj, key, priv, sizeof(priv));
	assert_int_equal(noise_keypair_from_private(kp, priv), 0);
}

static void
load_vec(struct vec *v, const char *name, enum noise_pattern p)
{
	json_t *vs = json_object_get(root, "vectors"), *j, *found = NULL;
	uint8_t rs_pub[NOISE_DHLEN];
	size_t idx, len;
	uint8_t *pro;

	json_array_foreach(vs, idx, j) {
		if (strcmp(json_string_value(json_object_get(j,
		    "protocol_name")), name) == 0)
			found = j;
	}
	assert_non_null(found);
	v->p = p;
	pro = vec_hex(found, "init_prologue", &len);
	assert_true(len <= sizeof(v->prologue));
	memcpy(v->prologue, pro, len);
	v->prologue_len = len;
	free(pro);
	keypair_hex(found, "init_static", &v->is);
	keypair_hex(found, "resp_static", &v->rs);
	keypair_hex(found, "init_ephemeral", &v->ie);
	keypair_hex(found, "resp_ephemeral", &v->re);
	/* the vector's init_remote_static is the responder's public key */
	hex_into(found, "init_remote_static", rs_pub, sizeof(rs_pub));
	assert_memory_equal(rs_pub, v->rs.pub, NOISE_DHLEN);
	hex_into(found, "handshake_hash", v->hash, NOISE_HASHLEN);
	if (p == NOISE_IKPSK2) {
		json_t *ip = json_object_get(found, "init_psks");
		json_t *rp = json_object_get(found, "resp_psks");

		assert_int_equal(json_array_size(ip), 1);
		assert_int_equal(json_array_size(rp), 1);
		assert_string_equal(json_string_value(json_array_get(ip, 0)),
		    json_string_value(json_array_get(rp, 0)));
		pro = vec_unhex(json_string_value(json_array_get(ip, 0)), &len);
		assert_int_equal(len, NOISE_PSKLEN);
		memcpy(v->psk, pro, len);
		free(pro);
		v->has_psk = 1;
	}
	v->messages = json_object_get(found, "messages");
	assert_int_equal(json_array_size(v->messages), 6);
}

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	root = vec_load("noise-ik.json");
	load_vec(&vec_ik, "Noise_IK_25519_ChaChaPoly_BLAKE2s", NOISE_IK);
	load_vec(&vec_ikpsk2, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s",
	    NOISE_IKPSK2);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	json_decref(root);
	return 0;
}

/* messages[i].payload / .ciphertext, decoded; caller frees. */
static uint8_t *
msg_field(const struct vec *v, size_t i, const char *key, size_t *len)
{
	return vec_hex(json_array_get(v->messages, i), key, len);
}

static const uint8_t *
vec_psk(const struct vec *v)
{
	return v->has_psk ? v->psk : NULL;
}

/* Both sides of vector v, with its fixed ephemerals. */
static void
pair_init(const struct vec *v, struct noise_hs *ini, struct noise_hs *res)
{
	assert_int_equal(noise_hs_init(ini, v->p, 1, v->prologue,
	    v->prologue_len, &v->is, v->rs.pub, vec_psk(v)), 0);
	noise_hs_set_ephemeral(ini, &v->ie);
	assert_int_equal(noise_hs_init(res, v->p, 0, v->prologue,
	    v->prologue_len, &v->rs, NULL, vec_psk(v)), 0);
	noise_hs_set_ephemeral(res, &v->re);
}

/* The vector's message 1 (as written by our initiator) into buf. */
static size_t
vec_msg1(const struct vec *v, struct noise_hs *ini, struct noise_hs *res,
    uint8_t *buf, size_t max)
{
	size_t plen, n;
	uint8_t *payload = msg_field(v, 0, "payload", &plen);

	pair_init(v, ini, res);
	assert_int_equal(noise_hs_write(ini, payload, plen, buf, max, &n), 0);
	free(payload);
	return n;
}

/* Message 2 of vector v into buf; ini is left waiting to read it. */
static size_t
vec_msg2(const struct vec *v, struct noise_hs *ini, uint8_t *buf, size_t max)
{
	struct noise_hs res;
	uint8_t m1[256], pl[256];
	size_t n1, n, plen, got;
	uint8_t *payload = msg_field(v, 1, "payload", &plen);

	n1 = vec_msg1(v, ini, &res, m1, sizeof(m1));
	assert_int_equal(noise_hs_read(&res, m1, n1, pl, sizeof(pl), &got), 0);
	assert_int_equal(noise_hs_write(&res, payload, plen, buf, max, &n), 0);
	noise_hs_wipe(&res);
	free(payload);
	return n;
}

/* A hs that failed must refuse everything afterwards. */
static void
assert_unusable(struct noise_hs *hs)
{
	struct noise_cs a, b;
	uint8_t buf[256];
	size_t n = 99;

	assert_false(noise_hs_done(hs));
	assert_null(noise_hs_remote_static(hs));
	assert_int_equal(noise_hs_write(hs, NULL, 0, buf, sizeof(buf), &n),
	    KERR_INVALID);
	assert_int_equal(n, 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(noise_hs_read(hs, buf, 200, buf, sizeof(buf), &n),
	    KERR_INVALID);
	assert_int_equal(noise_hs_split(hs, &a, &b), KERR_INVALID);
	assert_false(a.has_key);
	assert_false(b.has_key);
	/* and it holds no secrets */
	assert_true(sodium_is_zero((const unsigned char *)hs, sizeof(*hs)));
}

/*
 * Run both roles through vector v: every handshake and transport ciphertext
 * must be the vector's, every payload must come back, and h must match.
 */
static void
run_vector(const struct vec *v)
{
	struct noise_hs ini, res;
	struct noise_cs ini_send, ini_recv, res_send, res_recv;
	uint8_t buf[512], pt[512], h[NOISE_HASHLEN];
	size_t n, got, i;

	pair_init(v, &ini, &res);
	assert_null(noise_hs_remote_static(&res));
	assert_memory_equal(noise_hs_remote_static(&ini), v->rs.pub,
	    NOISE_DHLEN);

	for (i = 0; i < 2; i++) {
		struct noise_hs *w = i == 0 ? &ini : &res;
		struct noise_hs *r = i == 0 ? &res : &ini;
		size_t plen, clen;
		uint8_t *payload = msg_field(v, i, "payload", &plen);
		uint8_t *ct = msg_field(v, i, "ciphertext", &clen);

		assert_int_equal(noise_hs_write(w, payload, plen, buf,
		    sizeof(buf), &n), 0);
		assert_int_equal(n, clen);
		assert_memory_equal(buf, ct, clen);
		assert_int_equal(noise_hs_read(r, ct, clen, pt, sizeof(pt),
		    &got), 0);
		assert_int_equal(got, plen);
		assert_memory_equal(pt, payload, plen);
		if (i == 0) {
			/* the responder now knows who is calling */
			assert_memory_equal(noise_hs_remote_static(&res),
			    v->is.pub, NOISE_DHLEN);
			assert_false(noise_hs_done(&res));
		}
		free(ct);
		free(payload);
	}

	assert_true(noise_hs_done(&ini));
	assert_true(noise_hs_done(&res));
	noise_hs_hash(&ini, h);
	assert_memory_equal(h, v->hash, NOISE_HASHLEN);
	noise_hs_hash(&res, h);
	assert_memory_equal(h, v->hash, NOISE_HASHLEN);

	assert_int_equal(noise_hs_split(&ini, &ini_send, &ini_recv), 0);
	assert_int_equal(noise_hs_split(&res, &res_send, &res_recv), 0);
	/* split wiped the handshake states */
	assert_true(sodium_is_zero((const unsigned char *)&ini, sizeof(ini)));
	assert_true(sodium_is_zero((const unsigned char *)&res, sizeof(res)));

	/* messages[2..5]: initiator first, then alternating */
	for (i = 2; i < 6; i++) {
		struct noise_cs *s = i % 2 == 0 ? &ini_send : &res_send;
		struct noise_cs *r = i % 2 == 0 ? &res_recv : &ini_recv;
		size_t plen, clen;
		uint8_t *payload = msg_field(v, i, "payload", &plen);
		uint8_t *ct = msg_field(v, i, "ciphertext", &clen);

		assert_int_equal(plen + NOISE_TAGLEN, clen);
		assert_int_equal(noise_cs_encrypt(s, NULL, 0, payload, plen,
		    buf), 0);
		assert_memory_equal(buf, ct, clen);
		assert_int_equal(noise_cs_decrypt(r, NULL, 0, ct, clen, pt), 0);
		assert_memory_equal(pt, payload, plen);
		free(ct);
		free(payload);
	}
	assert_int_equal(ini_send.n, 2);
	assert_int_equal(res_recv.n, 2);
	noise_cs_wipe(&ini_send);
	noise_cs_wipe(&ini_recv);
	noise_cs_wipe(&res_send);
	noise_cs_wipe(&res_recv);
}

static void
test_vector_ik(void **state)
{
	(void)state;
	run_vector(&vec_ik);
}

static void
test_vector_ikpsk2(void **state)
{
	(void)state;
	run_vector(&vec_ikpsk2);
}

/* §5.2 InitializeSymmetric: names up to HASHLEN are padded, longer hashed. */
static void
test_protocol_name_rule(void **state)
{
	static const char short_name[] = "Noise_NN_25519_AESGCM_SHA256";
	static const char exact[] = "Noise_XX_25519_ChaChaPoly_SHA256";
	struct noise_ss ss;
	uint8_t want[NOISE_HASHLEN];
	const char *ik = noise_protocol_name(NOISE_IK);
	const char *ikpsk2 = noise_protocol_name(NOISE_IKPSK2);

	(void)state;
	assert_string_equal(ik, "Noise_IK_25519_ChaChaPoly_BLAKE2s");
	assert_string_equal(ikpsk2, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
	assert_null(noise_protocol_name((enum noise_pattern)0));

	assert_int_equal(noise_ss_init(&ss, short_name, strlen(short_name)), 0);
	memset(want, 0, sizeof(want));
	memcpy(want, short_name, strlen(short_name));
	assert_memory_equal(ss.h, want, NOISE_HASHLEN);
	assert_memory_equal(ss.ck, want, NOISE_HASHLEN);
	assert_false(ss.cs.has_key);

	assert_int_equal(strlen(exact), NOISE_HASHLEN);
	assert_int_equal(noise_ss_init(&ss, exact, strlen(exact)), 0);
	assert_memory_equal(ss.h, exact, NOISE_HASHLEN);

	/* both of ours are longer than 32 bytes: hashed */
	assert_int_equal(strlen(ik), 33);
	assert_int_equal(noise_ss_init(&ss, ik, strlen(ik)), 0);
	assert_int_equal(b2s_hash(want, (const uint8_t *)ik, strlen(ik)), 0);
	assert_memory_equal(ss.h, want, NOISE_HASHLEN);
	assert_memory_equal(ss.ck, want, NOISE_HASHLEN);
	noise_ss_wipe(&ss);
}

/* Initialize(): h = HASH(HASH(name) || prologue) then MixHash(rs). */
static void
test_init_hash(void **state)
{
	const struct vec *v = &vec_ik;
	struct noise_hs ini, res;
	struct noise_ss ss;
	uint8_t h[NOISE_HASHLEN];
	const char *name = noise_protocol_name(NOISE_IK);

	(void)state;
	pair_init(v, &ini, &res);
	assert_int_equal(noise_ss_init(&ss, name, strlen(name)), 0);
	assert_int_equal(noise_ss_mix_hash(&ss, v->prologue, v->prologue_len),
	    0);
	assert_int_equal(noise_ss_mix_hash(&ss, v->rs.pub, NOISE_DHLEN), 0);
	noise_hs_hash(&ini, h);
	assert_memory_equal(h, ss.h, NOISE_HASHLEN);
	noise_hs_hash(&res, h);
	assert_memory_equal(h, ss.h, NOISE_HASHLEN);
	noise_ss_wipe(&ss);
	noise_hs_wipe(&ini);
	noise_hs_wipe(&res);
}

static void
bitflip_msg1(const struct vec *v)
{
	struct noise_hs ini, res;
	uint8_t m[256], pl[256];
	size_t n, got;

	n = vec_msg1(v, &ini, &res, m, sizeof(m));
	noise_hs_wipe(&ini);
	for (size_t bit = 0; bit < 8 * n; bit++) {
		struct noise_hs r2, i2;

		vec_msg1(v, &i2, &r2, pl, sizeof(pl));
		noise_hs_wipe(&i2);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		got = 77;
		assert_int_equal(noise_hs_read(&r2, m, n, pl, sizeof(pl), &got),
		    KERR_DECRYPT);
		assert_int_equal(got, 0);
		assert_unusable(&r2);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* and the untouched message still reads */
	assert_int_equal(noise_hs_read(&res, m, n, pl, sizeof(pl), &got), 0);
	noise_hs_wipe(&res);
}

static void
bitflip_msg2(const struct vec *v)
{
	struct noise_hs ini, saved;
	uint8_t m[256], pl[256];
	size_t n, got;

	n = vec_msg2(v, &ini, m, sizeof(m));
	saved = ini;
	for (size_t bit = 0; bit < 8 * n; bit++) {
		ini = saved;
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(noise_hs_read(&ini, m, n, pl, sizeof(pl),
		    &got), KERR_DECRYPT);
		assert_unusable(&ini);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	ini = saved;
	assert_int_equal(noise_hs_read(&ini, m, n, pl, sizeof(pl), &got), 0);
	noise_hs_wipe(&ini);
	noise_hs_wipe(&saved);
}

static void
test_bitflip_msg1(void **state)
{
	(void)state;
	bitflip_msg1(&vec_ik);
	bitflip_msg1(&vec_ikpsk2);
}

static void
test_bitflip_msg2(void **state)
{
	(void)state;
	bitflip_msg2(&vec_ik);
	bitflip_msg2(&vec_ikpsk2);
}

/* Every proper prefix, and one trailing byte, of both messages. */
static void
truncate_one(const struct vec *v)
{
	struct noise_hs ini, res, saved;
	uint8_t m1[256], m2[256], pl[256];
	size_t n1, n2, got, len;
	int want;

	n1 = vec_msg1(v, &ini, &res, m1, sizeof(m1));
	noise_hs_wipe(&ini);
	for (len = 0; len <= n1; len++) {
		struct noise_hs r2, i2;

		vec_msg1(v, &i2, &r2, m1, sizeof(m1));
		noise_hs_wipe(&i2);
		if (len == n1) {
			/* trailing garbage: a longer payload, wrong tag */
			m1[n1] = 0;
			want = KERR_DECRYPT;
			assert_int_equal(noise_hs_read(&r2, m1, n1 + 1, pl,
			    sizeof(pl), &got), want);
		} else {
			want = len < NOISE_IK_MSG1_OVERHEAD ? KERR_TRUNCATED :
			    KERR_DECRYPT;
			assert_int_equal(noise_hs_read(&r2, len ? m1 : NULL,
			    len, pl, sizeof(pl), &got), want);
		}
		assert_unusable(&r2);
	}
	noise_hs_wipe(&res);

	n2 = vec_msg2(v, &ini, m2, sizeof(m2));
	saved = ini;
	for (len = 0; len <= n2; len++) {
		ini = saved;
		if (len == n2) {
			m2[n2] = 0;
			assert_int_equal(noise_hs_read(&ini, m2, n2 + 1, pl,
			    sizeof(pl), &got), KERR_DECRYPT);
		} else {
			want = len < NOISE_IK_MSG2_OVERHEAD ? KERR_TRUNCATED :
			    KERR_DECRYPT;
			assert_int_equal(noise_hs_read(&ini, m2, len, pl,
			    sizeof(pl), &got), want);
		}
		assert_unusable(&ini);
	}
	noise_hs_wipe(&saved);
}

static void
test_truncated(void **state)
{
	(void)state;
	truncate_one(&vec_ik);
	truncate_one(&vec_ikpsk2);
}

/* §3: no Noise message over 65535 bytes, in either direction. */
static void
test_oversize(void **state)
{
	const struct vec *v = &vec_ikpsk2;
	struct noise_hs ini, res;
	struct noise_cs is, ir, rs, rr;
	size_t big = NOISE_MSG_MAX + 1, n, got;
	uint8_t *m = calloc(1, big + 1), *pl = calloc(1, big + 1);

	(void)state;
	assert_non_null(m);
	assert_non_null(pl);

	/* reading: one byte too many is refused before any parsing */
	vec_msg1(v, &ini, &res, m, big);
	assert_int_equal(noise_hs_read(&res, m, big, pl, big, &got),
	    KERR_TOOBIG);
	assert_unusable(&res);
	noise_hs_wipe(&ini);
	pair_init(v, &ini, &res);
	assert_int_equal(noise_hs_read(&res, m, SIZE_MAX, pl, big, &got),
	    KERR_TOOBIG);
	noise_hs_wipe(&ini);

	/* writing: the largest payload of each message fits, one more not */
	pair_init(v, &ini, &res);
	randombytes_buf(pl, big);
	assert_int_equal(noise_hs_write(&ini, pl,
	    NOISE_MSG_MAX - NOISE_IK_MSG1_OVERHEAD + 1, m, big + 1, &n),
	    KERR_TOOBIG);
	assert_int_equal(n, 0);
	assert_unusable(&ini);
	pair_init(v, &ini, &res);
	assert_int_equal(noise_hs_write(&ini, pl,
	    NOISE_MSG_MAX - NOISE_IK_MSG1_OVERHEAD, m, big, &n), 0);
	assert_int_equal(n, NOISE_MSG_MAX);
	assert_int_equal(noise_hs_read(&res, m, n, pl, big, &got), 0);
	assert_int_equal(got, NOISE_MSG_MAX - NOISE_IK_MSG1_OVERHEAD);

	/* a 2^64-ish payload length must not wrap the check */
	{
		struct noise_hs tmp = res;

		assert_int_equal(noise_hs_write(&tmp, pl, SIZE_MAX, m, big,
		    &n), KERR_TOOBIG);
	}
	assert_int_equal(noise_hs_write(&res, pl,
	    NOISE_MSG_MAX - NOISE_IK_MSG2_OVERHEAD, m, big, &n), 0);
	assert_int_equal(n, NOISE_MSG_MAX);
	assert_int_equal(noise_hs_read(&ini, m, n, pl, big, &got), 0);
	assert_int_equal(got, NOISE_MSG_MAX - NOISE_IK_MSG2_OVERHEAD);

	/* transport */
	assert_int_equal(noise_hs_split(&ini, &is, &ir), 0);
	assert_int_equal(noise_hs_split(&res, &rs, &rr), 0);
	assert_int_equal(noise_cs_encrypt(&is, NULL, 0, pl,
	    NOISE_PAYLOAD_MAX + 1, m), KERR_TOOBIG);
	assert_int_equal(is.n, 0);
	assert_int_equal(noise_cs_encrypt(&is, NULL, 0, pl,
	    NOISE_PAYLOAD_MAX, m), 0);
	assert_int_equal(noise_cs_decrypt(&rr, NULL, 0, m, NOISE_MSG_MAX + 1,
	    pl), KERR_TOOBIG);
	assert_int_equal(rr.n, 0);
	assert_int_equal(noise_cs_decrypt(&rr, NULL, 0, m, NOISE_MSG_MAX, pl),
	    0);
	noise_cs_wipe(&is);
	noise_cs_wipe(&ir);
	noise_cs_wipe(&rs);
	noise_cs_wipe(&rr);
	free(pl);
	free(m);
}

/* Low-order e in either message, low-order s, low-order pre-message rs:
 * KERR_CRYPTO, never a zero DH mixed into the key. */
static void
test_low_order(void **state)
{
	(void)state;
	for (int pi = 0; pi < 2; pi++) {
		const struct vec *v = pi ? &vec_ikpsk2 : &vec_ik;

		for (size_t k = 0; k < NLOW_ORDER; k++) {
			struct noise_hs ini, res, saved;
			struct noise_keypair fake;
			uint8_t m[256], pl[256], lo[NOISE_DHLEN];
			size_t n, got, len;
			uint8_t *p = vec_unhex(low_order[k], &len);

			assert_int_equal(len, NOISE_DHLEN);
			memcpy(lo, p, len);
			free(p);

			/* message 1 with a low-order e: es fails */
			n = vec_msg1(v, &ini, &res, m, sizeof(m));
			noise_hs_wipe(&ini);
			memcpy(m, lo, NOISE_DHLEN);
			assert_int_equal(noise_hs_read(&res, m, n, pl,
			    sizeof(pl), &got), KERR_CRYPTO);
			assert_unusable(&res);

			/* message 2 with a low-order e: ee fails */
			n = vec_msg2(v, &ini, m, sizeof(m));
			saved = ini;
			memcpy(m, lo, NOISE_DHLEN);
			assert_int_equal(noise_hs_read(&ini, m, n, pl,
			    sizeof(pl), &got), KERR_CRYPTO);
			assert_unusable(&ini);
			noise_hs_wipe(&saved);

			/* an initiator claiming a low-order s: ss fails on
			 * the responder once s is decrypted */
			fake = v->is;
			memcpy(fake.pub, lo, NOISE_DHLEN);
			assert_int_equal(noise_hs_init(&ini, v->p, 1,
			    v->prologue, v->prologue_len, &fake, v->rs.pub,
			    vec_psk(v)), 0);
			assert_int_equal(noise_hs_init(&res, v->p, 0,
			    v->prologue, v->prologue_len, &v->rs, NULL,
			    vec_psk(v)), 0);
			assert_int_equal(noise_hs_write(&ini, NULL, 0, m,
			    sizeof(m), &n), 0);
			assert_int_equal(noise_hs_read(&res, m, n, pl,
			    sizeof(pl), &got), KERR_CRYPTO);
			assert_unusable(&res);
			noise_hs_wipe(&ini);

			/* an initiator told a low-order responder key */
			assert_int_equal(noise_hs_init(&ini, v->p, 1,
			    v->prologue, v->prologue_len, &v->is, lo,
			    vec_psk(v)), 0);
			assert_int_equal(noise_hs_write(&ini, NULL, 0, m,
			    sizeof(m), &n), KERR_CRYPTO);
			assert_int_equal(n, 0);
			assert_unusable(&ini);
		}
	}
}

/* The initiator addressed another key: the responder cannot read msg 1. */
static void
test_wrong_responder_static(void **state)
{
	(void)state;
	for (int pi = 0; pi < 2; pi++) {
		const struct vec *v = pi ? &vec_ikpsk2 : &vec_ik;
		struct noise_keypair other;
		struct noise_hs ini, res;
		uint8_t m[256], pl[256];
		size_t n, got;

		assert_int_equal(noise_keypair_generate(&other), 0);
		assert_int_equal(noise_hs_init(&ini, v->p, 1, v->prologue,
		    v->prologue_len, &v->is, other.pub, vec_psk(v)), 0);
		assert_int_equal(noise_hs_init(&res, v->p, 0, v->prologue,
		    v->prologue_len, &v->rs, NULL, vec_psk(v)), 0);
		assert_int_equal(noise_hs_write(&ini, (const uint8_t *)"hi", 2,
		    m, sizeof(m), &n), 0);
		assert_int_equal(noise_hs_read(&res, m, n, pl, sizeof(pl),
		    &got), KERR_DECRYPT);
		assert_unusable(&res);
		noise_hs_wipe(&ini);

		/* a different prologue is just as fatal */
		assert_int_equal(noise_hs_init(&ini, v->p, 1,
		    (const uint8_t *)"x", 1, &v->is, v->rs.pub, vec_psk(v)), 0);
		assert_int_equal(noise_hs_init(&res, v->p, 0, v->prologue,
		    v->prologue_len, &v->rs, NULL, vec_psk(v)), 0);
		assert_int_equal(noise_hs_write(&ini, NULL, 0, m, sizeof(m),
		    &n), 0);
		assert_int_equal(noise_hs_read(&res, m, n, pl, sizeof(pl),
		    &got), KERR_DECRYPT);
		noise_hs_wipe(&ini);

		/* and so is a pattern mismatch (IK vs IKpsk2) */
		assert_int_equal(noise_hs_init(&ini, v->p, 1, v->prologue,
		    v->prologue_len, &v->is, v->rs.pub, vec_psk(v)), 0);
		assert_int_equal(noise_hs_init(&res,
		    pi ? NOISE_IK : NOISE_IKPSK2, 0, v->prologue,
		    v->prologue_len, &v->rs, NULL, pi ? NULL : vec_ikpsk2.psk),
		    0);
		assert_int_equal(noise_hs_write(&ini, NULL, 0, m, sizeof(m),
		    &n), 0);
		assert_int_equal(noise_hs_read(&res, m, n, pl, sizeof(pl),
		    &got), KERR_DECRYPT);
		noise_hs_wipe(&ini);
	}
}

/* IKpsk2: psk enters at the end of message 2, so a wrong one is caught by
 * the initiator reading message 2. */
static void
test_wrong_psk(void **state)
{
	const struct vec *v = &vec_ikpsk2;
	struct noise_hs ini, res;
	uint8_t m[256], pl[256], psk[NOISE_PSKLEN];
	size_t n, got;

	(void)state;
	memcpy(psk, v->psk, sizeof(psk));
	psk[31] ^= 0x80;
	assert_int_equal(noise_hs_init(&ini, v->p, 1, v->prologue,
	    v->prologue_len, &v->is, v->rs.pub, v->psk), 0);
	assert_int_equal(noise_hs_init(&res, v->p, 0, v->prologue,
	    v->prologue_len, &v->rs, NULL, psk), 0);
	assert_int_equal(noise_hs_write(&ini, NULL, 0, m, sizeof(m), &n), 0);
	assert_int_equal(noise_hs_read(&res, m, n, pl, sizeof(pl), &got), 0);
	assert_int_equal(noise_hs_write(&res, NULL, 0, m, sizeof(m), &n), 0);
	assert_int_equal(noise_hs_read(&ini, m, n, pl, sizeof(pl), &got),
	    KERR_DECRYPT);
	assert_unusable(&ini);
	noise_hs_wipe(&res);
}

/*
 * The responder learns which psk to use from the initiator's s (WireGuard's
 * per-peer psk): init without one, set it after reading message 1.
 * Without it, writing message 2 fails.
 */
static void
test_late_psk(void **state)
{
	const struct vec *v = &vec_ikpsk2;
	struct noise_hs ini, res, saved;
	uint8_t m1[256], m2[256], pl[256], want[256], h[NOISE_HASHLEN];
	size_t n1, n2, got, wn;

	(void)state;
	/* the vector's message 2, for comparison */
	wn = vec_msg2(v, &ini, want, sizeof(want));
	noise_hs_wipe(&ini);

	n1 = vec_msg1(v, &ini, &res, m1, sizeof(m1));
	noise_hs_wipe(&res);
	assert_int_equal(noise_hs_init(&res, v->p, 0, v->prologue,
	    v->prologue_len, &v->rs, NULL, NULL), 0);
	noise_hs_set_ephemeral(&res, &v->re);
	assert_int_equal(noise_hs_read(&res, m1, n1, pl, sizeof(pl), &got), 0);
	assert_memory_equal(noise_hs_remote_static(&res), v->is.pub,
	    NOISE_DHLEN);
	saved = res;

	/* no psk: refused, and the state is gone */
	assert_int_equal(noise_hs_write(&res, NULL, 0, m2, sizeof(m2), &n2),
	    KERR_INVALID);
	assert_unusable(&res);

	res = saved;
	assert_int_equal(noise_hs_set_psk(&res, v->psk), 0);
	{
		size_t plen;
		uint8_t *payload = msg_field(v, 1, "payload", &plen);

		assert_int_equal(noise_hs_write(&res, payload, plen, m2,
		    sizeof(m2), &n2), 0);
		free(payload);
	}
	assert_int_equal(n2, wn);
	assert_memory_equal(m2, want, wn);
	assert_int_equal(noise_hs_read(&ini, m2, n2, pl, sizeof(pl), &got), 0);
	noise_hs_hash(&ini, h);
	assert_memory_equal(h, v->hash, NOISE_HASHLEN);
	/* too late now */
	assert_int_equal(noise_hs_set_psk(&res, v->psk), KERR_INVALID);
	noise_hs_wipe(&ini);
	noise_hs_wipe(&res);
	noise_hs_wipe(&saved);
}

/* A finished handshake between the vector's keys (fresh ephemerals). */
static void
handshake(const struct vec *v, struct noise_cs *is, struct noise_cs *ir,
    struct noise_cs *rs, struct noise_cs *rr)
{
	struct noise_hs ini, res;
	uint8_t m[256], pl[256];
	size_t n, got;

	assert_int_equal(noise_hs_init(&ini, v->p, 1, v->prologue,
	    v->prologue_len, &v->is, v->rs.pub, vec_psk(v)), 0);
	assert_int_equal(noise_hs_init(&res, v->p, 0, v->prologue,
	    v->prologue_len, &v->rs, NULL, vec_psk(v)), 0);
	assert_int_equal(noise_hs_write(&ini, NULL, 0, m, sizeof(m), &n), 0);
	assert_int_equal(noise_hs_read(&res, m, n, pl, sizeof(pl), &got), 0);
	assert_int_equal(noise_hs_write(&res, NULL, 0, m, sizeof(m), &n), 0);
	assert_int_equal(noise_hs_read(&ini, m, n, pl, sizeof(pl), &got), 0);
	assert_int_equal(noise_hs_split(&ini, is, ir), 0);
	assert_int_equal(noise_hs_split(&res, rs, rr), 0);
}

/* A replayed transport message fails (the nonce moved on); a forged one
 * does not move the nonce, so the real one still decrypts. */
static void
test_transport_replay(void **state)
{
	struct noise_cs is, ir, rs, rr;
	uint8_t c0[64], c1[64], pt[64];

	(void)state;
	handshake(&vec_ik, &is, &ir, &rs, &rr);
	assert_int_equal(noise_cs_encrypt(&is, NULL, 0,
	    (const uint8_t *)"first", 5, c0), 0);
	assert_int_equal(noise_cs_decrypt(&rr, NULL, 0, c0, 5 + 16, pt), 0);
	assert_memory_equal(pt, "first", 5);
	assert_int_equal(rr.n, 1);
	assert_int_equal(noise_cs_decrypt(&rr, NULL, 0, c0, 5 + 16, pt),
	    KERR_DECRYPT);
	assert_int_equal(rr.n, 1);

	/* forged tag, then the real message */
	assert_int_equal(noise_cs_encrypt(&is, NULL, 0,
	    (const uint8_t *)"second", 6, c1), 0);
	c1[6 + 15] ^= 1;
	assert_int_equal(noise_cs_decrypt(&rr, NULL, 0, c1, 6 + 16, pt),
	    KERR_DECRYPT);
	assert_int_equal(rr.n, 1);
	c1[6 + 15] ^= 1;
	assert_int_equal(noise_cs_decrypt(&rr, NULL, 0, c1, 6 + 16, pt), 0);
	assert_memory_equal(pt, "second", 6);

	/* the associated data is authenticated too */
	assert_int_equal(noise_cs_encrypt(&rs, (const uint8_t *)"ad", 2,
	    (const uint8_t *)"x", 1, c0), 0);
	assert_int_equal(noise_cs_decrypt(&ir, (const uint8_t *)"ax", 2,
	    c0, 17, pt), KERR_DECRYPT);
	assert_int_equal(noise_cs_decrypt(&ir, (const uint8_t *)"ad", 2,
	    c0, 17, pt), 0);

	/* short ciphertexts cannot hold a tag */
	for (size_t len = 0; len < NOISE_TAGLEN; len++)
		assert_int_equal(noise_cs_decrypt(&ir, NULL, 0, c0, len, pt),
		    KERR_DECRYPT);
	assert_int_equal(ir.n, 1);
	/* an empty payload is a bare tag */
	assert_int_equal(noise_cs_encrypt(&rs, NULL, 0, NULL, 0, c0), 0);
	assert_int_equal(noise_cs_decrypt(&ir, NULL, 0, c0, NOISE_TAGLEN,
	    NULL), 0);

	/* the other direction's key does not open these */
	assert_int_equal(noise_cs_encrypt(&is, NULL, 0,
	    (const uint8_t *)"dir", 3, c0), 0);
	ir.n = rr.n;
	assert_int_equal(noise_cs_decrypt(&ir, NULL, 0, c0, 19, pt),
	    KERR_DECRYPT);
	noise_cs_wipe(&is);
	noise_cs_wipe(&ir);
	noise_cs_wipe(&rs);
	noise_cs_wipe(&rr);
}

static void
test_transport_reorder(void **state)
{
	struct noise_cs is, ir, rs, rr;
	uint8_t c[3][32], pt[32];

	(void)state;
	handshake(&vec_ikpsk2, &is, &ir, &rs, &rr);
	for (int i = 0; i < 3; i++) {
		uint8_t b = (uint8_t)i;

		assert_int_equal(noise_cs_encrypt(&rs, NULL, 0, &b, 1, c[i]),
		    0);
	}
	assert_int_equal(noise_cs_decrypt(&ir, NULL, 0, c[1], 17, pt),
	    KERR_DECRYPT);
	assert_int_equal(noise_cs_decrypt(&ir, NULL, 0, c[2], 17, pt),
	    KERR_DECRYPT);
	assert_int_equal(ir.n, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(noise_cs_decrypt(&ir, NULL, 0, c[i], 17, pt),
		    0);
		assert_int_equal(pt[0], i);
	}
	/* explicit nonces (WireGuard's counter): out of order by choice */
	noise_cs_set_nonce(&ir, 1);
	assert_int_equal(noise_cs_decrypt(&ir, NULL, 0, c[1], 17, pt), 0);
	assert_int_equal(pt[0], 1);
	noise_cs_set_nonce(&ir, 0);
	assert_int_equal(noise_cs_decrypt(&ir, NULL, 0, c[0], 17, pt), 0);
	assert_int_equal(pt[0], 0);
	noise_cs_wipe(&is);
	noise_cs_wipe(&ir);
	noise_cs_wipe(&rs);
	noise_cs_wipe(&rr);
}

/* §5.1 nonce: 4 zero bytes || n little-endian; n = 2^64-1 is refused. */
static void
test_nonce(void **state)
{
	struct noise_cs cs, dc;
	uint8_t nonce[12] = { 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1 };
	uint8_t ct[64], want[64], pt[64];

	(void)state;
	memset(&cs, 0, sizeof(cs));
	randombytes_buf(cs.k, sizeof(cs.k));
	cs.has_key = 1;
	dc = cs;
	noise_cs_set_nonce(&cs, 0x0102030405060708ULL);
	assert_int_equal(noise_cs_encrypt(&cs, (const uint8_t *)"ad", 2,
	    (const uint8_t *)"hello", 5, ct), 0);
	assert_int_equal(cs.n, 0x0102030405060709ULL);
	crypto_aead_chacha20poly1305_ietf_encrypt(want, NULL,
	    (const uint8_t *)"hello", 5, (const uint8_t *)"ad", 2, NULL, nonce,
	    cs.k);
	assert_memory_equal(ct, want, 5 + 16);

	/* in place: out == pt */
	memcpy(pt, "hello", 5);
	noise_cs_set_nonce(&cs, 0x0102030405060708ULL);
	assert_int_equal(noise_cs_encrypt(&cs, (const uint8_t *)"ad", 2,
	    pt, 5, pt), 0);
	assert_memory_equal(pt, want, 5 + 16);
	noise_cs_set_nonce(&dc, 0x0102030405060708ULL);
	assert_int_equal(noise_cs_decrypt(&dc, (const uint8_t *)"ad", 2,
	    pt, 21, pt), 0);
	assert_memory_equal(pt, "hello", 5);

	/* the last usable nonce is 2^64-2 */
	noise_cs_set_nonce(&cs, UINT64_MAX - 1);
	noise_cs_set_nonce(&dc, UINT64_MAX - 1);
	assert_int_equal(noise_cs_encrypt(&cs, NULL, 0, pt, 3, ct), 0);
	assert_int_equal(cs.n, UINT64_MAX);
	assert_int_equal(noise_cs_encrypt(&cs, NULL, 0, pt, 3, ct + 32),
	    KERR_TOOBIG);
	assert_int_equal(cs.n, UINT64_MAX);
	assert_int_equal(noise_cs_decrypt(&dc, NULL, 0, ct, 19, pt), 0);
	assert_int_equal(dc.n, UINT64_MAX);
	assert_int_equal(noise_cs_decrypt(&dc, NULL, 0, ct, 19, pt),
	    KERR_TOOBIG);

	/* no key: refused rather than sent in clear */
	noise_cs_wipe(&cs);
	assert_int_equal(noise_cs_encrypt(&cs, NULL, 0, pt, 3, ct),
	    KERR_INVALID);
	assert_int_equal(noise_cs_decrypt(&cs, NULL, 0, ct, 19, pt),
	    KERR_INVALID);
	noise_cs_wipe(&dc);
}

/* Calls out of turn, bad arguments, unusable states. */
static void
test_state_machine(void **state)
{
	const struct vec *v = &vec_ik;
	struct noise_hs ini, res, tmp;
	struct noise_cs a, b;
	uint8_t m[256], pl[256];
	size_t n, got;

	(void)state;
	/* bad Initialize() arguments */
	assert_int_equal(noise_hs_init(&ini, NOISE_IK, 1, NULL, 0, &v->is,
	    NULL, NULL), KERR_INVALID);
	assert_unusable(&ini);
	assert_int_equal(noise_hs_init(&res, NOISE_IK, 0, NULL, 0, &v->rs,
	    v->is.pub, NULL), KERR_INVALID);
	assert_unusable(&res);
	assert_int_equal(noise_hs_init(&ini, NOISE_IK, 1, NULL, 0, &v->is,
	    v->rs.pub, vec_ikpsk2.psk), KERR_INVALID);
	assert_int_equal(noise_hs_init(&ini, (enum noise_pattern)0, 1, NULL, 0,
	    &v->is, v->rs.pub, NULL), KERR_INVALID);
	assert_int_equal(noise_hs_init(&ini, (enum noise_pattern)3, 1, NULL, 0,
	    &v->is, v->rs.pub, NULL), KERR_INVALID);
	assert_int_equal(noise_hs_init(&ini, NOISE_IK, 1, NULL, 0, NULL,
	    v->rs.pub, NULL), KERR_INVALID);
	/* set_psk only for IKpsk2 */
	assert_int_equal(noise_hs_init(&ini, NOISE_IK, 1, NULL, 0, &v->is,
	    v->rs.pub, NULL), 0);
	assert_int_equal(noise_hs_set_psk(&ini, vec_ikpsk2.psk), KERR_INVALID);

	/* out of turn */
	memset(m, 0, sizeof(m));
	memset(pl, 0, sizeof(pl));
	pair_init(v, &ini, &res);
	tmp = ini;
	assert_int_equal(noise_hs_read(&tmp, m, 100, pl, sizeof(pl), &got),
	    KERR_INVALID);
	assert_unusable(&tmp);
	tmp = res;
	assert_int_equal(noise_hs_write(&tmp, NULL, 0, m, sizeof(m), &n),
	    KERR_INVALID);
	assert_unusable(&tmp);
	tmp = ini;
	assert_int_equal(noise_hs_split(&tmp, &a, &b), KERR_INVALID);
	assert_unusable(&tmp);

	/* buffers too small */
	tmp = ini;
	assert_int_equal(noise_hs_write(&tmp, pl, 10, m,
	    NOISE_IK_MSG1_OVERHEAD + 9, &n), KERR_INVALID);
	assert_unusable(&tmp);
	assert_int_equal(noise_hs_write(&ini, pl, 10, m,
	    NOISE_IK_MSG1_OVERHEAD + 10, &n), 0);
	assert_int_equal(n, NOISE_IK_MSG1_OVERHEAD + 10);
	/* the initiator cannot write twice */
	tmp = ini;
	assert_int_equal(noise_hs_write(&tmp, NULL, 0, pl, sizeof(pl), &n),
	    KERR_INVALID);
	tmp = res;
	assert_int_equal(noise_hs_read(&tmp, m, NOISE_IK_MSG1_OVERHEAD + 10, pl,
	    9, &got), KERR_INVALID);
	assert_unusable(&tmp);
	assert_int_equal(noise_hs_read(&res, m, NOISE_IK_MSG1_OVERHEAD + 10, pl,
	    10, &got), 0);
	assert_int_equal(got, 10);
	/* the responder cannot read twice */
	tmp = res;
	assert_int_equal(noise_hs_read(&tmp, m, NOISE_IK_MSG1_OVERHEAD + 10, pl,
	    sizeof(pl), &got), KERR_INVALID);

	assert_int_equal(noise_hs_write(&res, NULL, 0, m, sizeof(m), &n), 0);
	assert_int_equal(n, NOISE_IK_MSG2_OVERHEAD);
	assert_true(noise_hs_done(&res));
	/* nothing more to write or read once done */
	tmp = res;
	assert_int_equal(noise_hs_write(&tmp, NULL, 0, pl, sizeof(pl), &got),
	    KERR_INVALID);
	assert_int_equal(noise_hs_read(&ini, m, n, pl, sizeof(pl), &got), 0);
	assert_int_equal(got, 0);
	tmp = ini;
	assert_int_equal(noise_hs_read(&tmp, m, n, pl, sizeof(pl), &got),
	    KERR_INVALID);

	/* split: send of one side is recv of the other */
	{
		struct noise_cs is, ir, rs, rr;

		assert_int_equal(noise_hs_split(&ini, &is, &ir), 0);
		assert_int_equal(noise_hs_split(&res, &rs, &rr), 0);
		assert_memory_equal(is.k, rr.k, NOISE_KEYLEN);
		assert_memory_equal(ir.k, rs.k, NOISE_KEYLEN);
		assert_memory_not_equal(is.k, ir.k, NOISE_KEYLEN);
		/* split twice: the state is gone */
		assert_int_equal(noise_hs_split(&ini, &a, &b), KERR_INVALID);
		noise_cs_wipe(&is);
		noise_cs_wipe(&ir);
		noise_cs_wipe(&rs);
		noise_cs_wipe(&rr);
	}
	/* an all-zero struct is unusable */
	memset(&tmp, 0, sizeof(tmp));
	assert_unusable(&tmp);
}

/* Random keys, prologues, psks and payload sizes, both patterns; then
 * transport traffic in random directions with random associated data. */
static void
test_random_roundtrip(void **state)
{
	static uint8_t m[NOISE_MSG_MAX], pl[NOISE_MSG_MAX], back[NOISE_MSG_MAX];

	(void)state;
	for (int iter = 0; iter < 60; iter++) {
		enum noise_pattern p = iter % 2 ? NOISE_IKPSK2 : NOISE_IK;
		struct noise_keypair is, rsk;
		struct noise_hs ini, res;
		struct noise_cs cs[4];	/* ini send, ini recv, res send, recv */
		uint8_t prologue[100], psk[NOISE_PSKLEN], hi[32], hr[32];
		size_t pro_len = randombytes_uniform(sizeof(prologue) + 1);
		size_t len, n, got;
		int late = p == NOISE_IKPSK2 && iter % 4 == 1;

		assert_int_equal(noise_keypair_generate(&is), 0);
		assert_int_equal(noise_keypair_generate(&rsk), 0);
		randombytes_buf(prologue, sizeof(prologue));
		randombytes_buf(psk, sizeof(psk));
		assert_int_equal(noise_hs_init(&ini, p, 1, prologue, pro_len,
		    &is, rsk.pub, p == NOISE_IKPSK2 ? psk : NULL), 0);
		assert_int_equal(noise_hs_init(&res, p, 0, prologue, pro_len,
		    &rsk, NULL, p == NOISE_IKPSK2 && !late ? psk : NULL), 0);

		len = iter == 10 ? NOISE_MSG_MAX - NOISE_IK_MSG1_OVERHEAD :
		    randombytes_uniform(2000);
		randombytes_buf(pl, len);
		assert_int_equal(noise_hs_write(&ini, pl, len, m, sizeof(m),
		    &n), 0);
		assert_int_equal(n, len + NOISE_IK_MSG1_OVERHEAD);
		assert_int_equal(noise_hs_read(&res, m, n, back, sizeof(back),
		    &got), 0);
		assert_int_equal(got, len);
		assert_memory_equal(back, pl, len);
		assert_memory_equal(noise_hs_remote_static(&res), is.pub,
		    NOISE_DHLEN);
		if (late)
			assert_int_equal(noise_hs_set_psk(&res, psk), 0);

		len = randombytes_uniform(2000);
		randombytes_buf(pl, len);
		assert_int_equal(noise_hs_write(&res, pl, len, m, sizeof(m),
		    &n), 0);
		assert_int_equal(n, len + NOISE_IK_MSG2_OVERHEAD);
		assert_int_equal(noise_hs_read(&ini, m, n, back, sizeof(back),
		    &got), 0);
		assert_int_equal(got, len);
		assert_memory_equal(back, pl, len);

		noise_hs_hash(&ini, hi);
		noise_hs_hash(&res, hr);
		assert_memory_equal(hi, hr, sizeof(hi));
		assert_int_equal(noise_hs_split(&ini, &cs[0], &cs[1]), 0);
		assert_int_equal(noise_hs_split(&res, &cs[2], &cs[3]), 0);

		for (int t = 0; t < 20; t++) {
			int dir = (int)randombytes_uniform(2);
			struct noise_cs *s = &cs[dir ? 2 : 0];
			struct noise_cs *r = &cs[dir ? 1 : 3];
			uint8_t ad[16];
			size_t ad_len = randombytes_uniform(sizeof(ad) + 1);

			len = randombytes_uniform(3000);
			randombytes_buf(pl, len);
			randombytes_buf(ad, sizeof(ad));
			assert_int_equal(noise_cs_encrypt(s, ad, ad_len, pl,
			    len, m), 0);
			assert_int_equal(noise_cs_decrypt(r, ad, ad_len, m,
			    len + NOISE_TAGLEN, back), 0);
			assert_memory_equal(back, pl, len);
			assert_int_equal(s->n, r->n);
		}
		for (int k = 0; k < 4; k++)
			noise_cs_wipe(&cs[k]);
		noise_hs_wipe(&ini);
		noise_hs_wipe(&res);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_ik),
		cmocka_unit_test(test_vector_ikpsk2),
		cmocka_unit_test(test_protocol_name_rule),
		cmocka_unit_test(test_init_hash),
		cmocka_unit_test(test_bitflip_msg1),
		cmocka_unit_test(test_bitflip_msg2),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_low_order),
		cmocka_unit_test(test_wrong_responder_static),
		cmocka_unit_test(test_wrong_psk),
		cmocka_unit_test(test_late_psk),
		cmocka_unit_test(test_transport_replay),
		cmocka_unit_test(test_transport_reorder),
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_state_machine),
		cmocka_unit_test(test_random_roundtrip),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
