/*
 * Delivery and read receipts: round trips, the bytes of docs/directory.md,
 * every bit flip, every truncation, state values, names, forgeries, and
 * the envelope hash against values computed outside koden (Python's
 * hashlib.blake2b).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/receipt.h"
#include "vectors.h"

static struct identity *by_key;

static void
make_receipt(struct receipt *r, uint8_t state)
{
	static const uint8_t env[] = "KDNT\001 an envelope";

	memset(r, 0, sizeof(*r));
	randombytes_buf(r->id, sizeof(r->id));
	receipt_env_hash(r->env_hash, env, sizeof(env) - 1);
	strcpy(r->origin, "TOKYO");
	strcpy(r->by, "WASHINGTON");
	r->state = state;
	r->time = 1795000123;
}

static void
encode_ok(struct buf *out, const struct receipt *r)
{
	struct kerr e = { "" };

	buf_init(out, RECEIPT_MAX);
	if (receipt_encode(out, r, by_key, &e) != 0)
		fail_msg("receipt_encode: %s", e.msg);
}

static int
decode(const uint8_t *p, size_t len, struct kerr *e)
{
	struct receipt r;
	int rc = receipt_decode(&r, p, len, e);

	if (rc != 0)
		assert_true(sodium_is_zero((const uint8_t *)&r, sizeof(r)));
	return rc;
}

/* ---- receipts byte by byte (docs/directory.md) ------------------------- */

struct raw {
	uint8_t p[512];
	size_t len;
};

static void
raw_bytes(struct raw *w, const void *p, size_t n)
{
	assert_true(w->len + n <= sizeof(w->p));
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void
raw_u8(struct raw *w, uint8_t v)
{
	raw_bytes(w, &v, 1);
}

static void
raw_str8(struct raw *w, const char *s)
{
	raw_u8(w, (uint8_t)strlen(s));
	raw_bytes(w, s, strlen(s));
}

/* Everything before the signature, with the keys of key, unchecked. */
static void
raw_body(struct raw *w, const struct receipt *r, const struct identity *key)
{
	w->len = 0;
	raw_bytes(w, "KDNC", 4);
	raw_u8(w, 1);
	raw_bytes(w, r->id, 16);
	raw_bytes(w, r->env_hash, 32);
	raw_str8(w, r->origin);
	raw_str8(w, r->by);
	raw_u8(w, r->state);
	for (int i = 7; i >= 0; i--)
		raw_u8(w, (uint8_t)(r->time >> (8 * i)));
	raw_bytes(w, key->pub.sign, 32);
	raw_bytes(w, key->pub.enc, 32);
}

/* Ed25519 by key over "koden receipt v1" || 0x00 || everything so far. */
static void
raw_sign(struct raw *w, const struct identity *key)
{
	static const char label[] = "koden receipt v1";
	uint8_t m[sizeof(label) + sizeof(w->p)], sig[64];

	memcpy(m, label, sizeof(label));
	memcpy(m + sizeof(label), w->p, w->len);
	crypto_sign_detached(sig, NULL, m, sizeof(label) + w->len, key->sign_sk);
	raw_bytes(w, sig, 64);
}

/* ---- tests ------------------------------------------------------------- */

static void
test_roundtrip(void **state)
{
	static const uint8_t states[] = { RECEIPT_DELIVERED, RECEIPT_READ };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct receipt r, back;
		struct buf a, b;
		struct kerr e = { "" };

		make_receipt(&r, states[i]);
		encode_ok(&a, &r);
		assert_int_equal(receipt_decode(&back, a.p, a.len, &e), 0);
		assert_memory_equal(back.id, r.id, 16);
		assert_memory_equal(back.env_hash, r.env_hash, 32);
		assert_string_equal(back.origin, "TOKYO");
		assert_string_equal(back.by, "WASHINGTON");
		assert_int_equal(back.state, states[i]);
		assert_int_equal(back.time, 1795000123);
		assert_true(pubkey_equal(&back.by_pk, &by_key->pub));
		encode_ok(&b, &back);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.p, b.p, a.len);
		buf_free(&a);
		buf_free(&b);
	}
}

/* The encoder writes exactly the documented bytes; the longest fits the cap. */
static void
test_matches_spec(void **state)
{
	struct receipt r;
	struct buf a;
	struct raw w;
	struct kerr e = { "" };

	(void)state;
	make_receipt(&r, RECEIPT_READ);
	encode_ok(&a, &r);
	raw_body(&w, &r, by_key);
	raw_sign(&w, by_key);
	assert_int_equal(a.len, 4 + 1 + 16 + 32 + 1 + 5 + 1 + 10 + 1 + 8 +
	    32 + 32 + 64);
	assert_int_equal(w.len, a.len);
	assert_memory_equal(w.p, a.p, a.len);
	buf_free(&a);

	memset(r.origin, 'O', 32);
	memset(r.by, 'B', 32);
	encode_ok(&a, &r);
	assert_int_equal(a.len, RECEIPT_MAX);
	assert_int_equal(decode(a.p, a.len, &e), 0);
	buf_free(&a);
}

static void
test_every_bit_flip(void **state)
{
	struct receipt r;
	struct buf a;
	size_t rejected = 0;

	(void)state;
	make_receipt(&r, RECEIPT_DELIVERED);
	encode_ok(&a, &r);
	for (size_t i = 0; i < a.len * 8; i++) {
		a.p[i / 8] ^= (uint8_t)(1 << (i % 8));
		if (decode(a.p, a.len, NULL) != 0)
			rejected++;
		a.p[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	assert_int_equal(rejected, a.len * 8);
	assert_int_equal(decode(a.p, a.len, NULL), 0);
	buf_free(&a);
}

static void
test_every_truncation(void **state)
{
	struct receipt r;
	struct buf a;
	struct kerr e = { "" };

	(void)state;
	make_receipt(&r, RECEIPT_DELIVERED);
	encode_ok(&a, &r);
	for (size_t n = 0; n < a.len; n++) {
		int rc = decode(a.p, n, &e);

		assert_true(rc == KERR_TRUNCATED || (n < 4 && rc == KERR_FORMAT));
	}
	buf_free(&a);
	/* one byte more */
	buf_init(&a, RECEIPT_MAX + 1);
	assert_int_equal(receipt_encode(&a, &r, by_key, &e), 0);
	assert_int_equal(buf_put_u8(&a, 0), 0);
	assert_int_equal(decode(a.p, a.len, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "unexpected bytes"));
	buf_free(&a);
	/* longer than any receipt */
	{
		uint8_t big[RECEIPT_MAX + 1] = "KDNC\001";

		assert_int_equal(decode(big, sizeof(big), &e), KERR_TOOBIG);
	}
}

/* Only 3 (delivered) and 4 (read): refused by both encoder and decoder. */
static void
test_states(void **state)
{
	(void)state;
	for (int s = 0; s < 256; s++) {
		struct receipt r;
		struct buf a;
		struct raw w;
		struct kerr e = { "" };
		int ok = s == 3 || s == 4, rc;

		make_receipt(&r, (uint8_t)s);
		buf_init(&a, RECEIPT_MAX);
		rc = receipt_encode(&a, &r, by_key, &e);
		assert_int_equal(rc, ok ? 0 : KERR_INVALID);
		if (!ok) {
			assert_int_equal(a.len, 0);
			assert_non_null(strstr(e.msg, "receipt state"));
		}
		raw_body(&w, &r, by_key);
		raw_sign(&w, by_key);
		assert_int_equal(decode(w.p, w.len, &e), ok ? 0 : KERR_INVALID);
		buf_free(&a);
	}
}

struct bad_case {
	const char *what;
	void (*mutate)(struct receipt *);
	int code;
	const char *msg;
};

static void m_origin_empty(struct receipt *r) { r->origin[0] = '\0'; }
static void m_origin_lower(struct receipt *r) { strcpy(r->origin, "Tokyo"); }
static void m_by_empty(struct receipt *r) { r->by[0] = '\0'; }
static void m_by_space(struct receipt *r) { strcpy(r->by, "WASHINGTON "); }
static void m_by_dot(struct receipt *r) { strcpy(r->by, ".."); }
static void m_by_utf8(struct receipt *r) { strcpy(r->by, "WASHINGT\xc3\x94N"); }
static void m_zero_id(struct receipt *r) { memset(r->id, 0, sizeof(r->id)); }
static void m_zero_hash(struct receipt *r) { memset(r->env_hash, 0, sizeof(r->env_hash)); }

static const struct bad_case bad_cases[] = {
	{ "empty origin", m_origin_empty, KERR_INVALID, "origin: empty" },
	{ "origin in lower case", m_origin_lower, KERR_INVALID, "upper case" },
	{ "empty signer", m_by_empty, KERR_INVALID, "signer: empty" },
	{ "signer with trailing space", m_by_space, KERR_INVALID, "extra spaces" },
	{ "signer '..'", m_by_dot, KERR_INVALID, "must begin with" },
	{ "signer not ASCII", m_by_utf8, KERR_INVALID, "may contain only" },
	{ "zero telegram id", m_zero_id, KERR_INVALID, "no telegram id" },
	{ "zero envelope hash", m_zero_hash, KERR_INVALID, "no envelope hash" },
};

static void
test_rules(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(bad_cases) / sizeof(bad_cases[0]); c++) {
		const struct bad_case *bc = &bad_cases[c];
		struct receipt r;
		struct buf a;
		struct raw w;
		struct kerr e = { "" };
		int rc;

		make_receipt(&r, RECEIPT_READ);
		bc->mutate(&r);
		buf_init(&a, RECEIPT_MAX);
		rc = receipt_encode(&a, &r, by_key, &e);
		if (rc != bc->code || strstr(e.msg, bc->msg) == NULL)
			fail_msg("%s: encoder returned %d '%s'", bc->what, rc,
			    e.msg);
		assert_int_equal(a.len, 0);
		raw_body(&w, &r, by_key);
		raw_sign(&w, by_key);
		e.msg[0] = '\0';
		rc = decode(w.p, w.len, &e);
		if (rc != bc->code || strstr(e.msg, bc->msg) == NULL)
			fail_msg("%s: decoder returned %d '%s'", bc->what, rc,
			    e.msg);
		buf_free(&a);
	}
}

static void
test_structure(void **state)
{
	struct receipt r;
	struct raw w;
	struct kerr e = { "" };
	size_t origin_at = 4 + 1 + 16 + 32;

	(void)state;
	make_receipt(&r, RECEIPT_READ);

	raw_body(&w, &r, by_key);
	w.p[4] = 2;
	raw_sign(&w, by_key);
	assert_int_equal(decode(w.p, w.len, &e), KERR_VERSION);

	raw_body(&w, &r, by_key);
	w.p[0] = 'X';
	raw_sign(&w, by_key);
	assert_int_equal(decode(w.p, w.len, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "not a koden receipt"));

	/* "TOKYO" -> "TO\0YO" */
	raw_body(&w, &r, by_key);
	w.p[origin_at + 1 + 2] = '\0';
	raw_sign(&w, by_key);
	assert_int_equal(decode(w.p, w.len, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "NUL"));

	/* a 33-byte post name */
	memset(r.origin, 'T', 32);
	raw_body(&w, &r, by_key);
	w.p[origin_at] = 33;
	memmove(w.p + origin_at + 2, w.p + origin_at + 1, w.len - origin_at - 1);
	w.p[origin_at + 1] = 'T';
	w.len++;
	raw_sign(&w, by_key);
	assert_int_equal(decode(w.p, w.len, &e), KERR_TOOBIG);
}

/*
 * The signature binds the embedded key: someone else's signature over a
 * receipt that names by_key's keys is refused.  A receipt validly signed by
 * another key decodes, and reports that key — it is the caller's roster
 * check that refuses it.
 */
static void
test_forgery(void **state)
{
	struct identity *mallory;
	struct receipt r, back;
	struct raw w;
	struct kerr e = { "" };

	(void)state;
	assert_int_equal(identity_generate(&mallory, NULL), 0);
	make_receipt(&r, RECEIPT_READ);
	raw_body(&w, &r, by_key);
	raw_sign(&w, mallory);
	assert_int_equal(decode(w.p, w.len, &e), KERR_SIGNATURE);
	assert_non_null(strstr(e.msg, "signature does not verify"));

	raw_body(&w, &r, mallory);
	raw_sign(&w, mallory);
	assert_int_equal(receipt_decode(&back, w.p, w.len, &e), 0);
	assert_string_equal(back.by, "WASHINGTON");
	assert_true(pubkey_equal(&back.by_pk, &mallory->pub));
	assert_false(pubkey_equal(&back.by_pk, &by_key->pub));
	identity_free(mallory);
}

static void
test_encode_appends(void **state)
{
	struct receipt r;
	struct buf a;
	struct kerr e = { "" };

	(void)state;
	make_receipt(&r, RECEIPT_READ);
	buf_init(&a, 1000);
	assert_int_equal(buf_put(&a, "ab", 2), 0);
	assert_int_equal(receipt_encode(&a, &r, by_key, &e), 0);
	assert_memory_equal(a.p, "ab", 2);
	assert_int_equal(decode(a.p + 2, a.len - 2, &e), 0);
	a.len = 2;
	r.state = 5;
	assert_int_equal(receipt_encode(&a, &r, by_key, &e), KERR_INVALID);
	assert_int_equal(a.len, 2);
	buf_free(&a);
	buf_init(&a, 100);
	r.state = RECEIPT_READ;
	assert_int_equal(receipt_encode(&a, &r, by_key, &e), KERR_TOOBIG);
	assert_int_equal(a.len, 0);
	buf_free(&a);
}

/* Known answers from Python: hashlib.blake2b(label + env, digest_size=32). */
static void
test_env_hash(void **state)
{
	uint8_t h[32], h2[32], *want;
	size_t n;

	(void)state;
	receipt_env_hash(h, (const uint8_t *)"", 0);
	want = vec_unhex("885985c757cd069d4c8c5f5c4cd8d6cd96e3fcb68d94af662931"
	    "453f6fad87be", &n);
	assert_int_equal(n, 32);
	assert_memory_equal(h, want, 32);
	free(want);
	receipt_env_hash(h, (const uint8_t *)"KDNT\001", 5);
	want = vec_unhex("7d429846b42465f7b1aeba5d089a2d9a26936680b5688049a37b"
	    "6016483794ed", &n);
	assert_memory_equal(h, want, 32);
	free(want);
	receipt_env_hash(h2, (const uint8_t *)"KDNT\002", 5);
	assert_memory_not_equal(h, h2, 32);
}

static int
setup(void **state)
{
	(void)state;
	return identity_generate(&by_key, "WASHINGTON") == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	identity_free(by_key);
	return 0;
}

/* receipt_parse: structure only (HQ's relay); receipt_decode: signature too. */
static void
test_parse_without_signature(void **state)
{
	struct identity *by = NULL;
	struct receipt r, back;
	struct buf b;

	(void)state;
	assert_int_equal(identity_generate(&by, "GENEVA"), 0);
	memset(&r, 0, sizeof(r));
	memset(r.id, 1, sizeof(r.id));
	memset(r.env_hash, 2, sizeof(r.env_hash));
	snprintf(r.origin, sizeof(r.origin), "TOKYO");
	snprintf(r.by, sizeof(r.by), "GENEVA");
	r.state = RECEIPT_DELIVERED;
	r.time = 1795000000;
	buf_init(&b, RECEIPT_MAX);
	assert_int_equal(receipt_encode(&b, &r, by, NULL), 0);
	b.p[b.len - 1] ^= 1;	/* break the signature */
	assert_int_equal(receipt_decode(&back, b.p, b.len, NULL), KERR_SIGNATURE);
	assert_int_equal(receipt_parse(&back, b.p, b.len, NULL), 0);
	assert_string_equal(back.by, "GENEVA");
	assert_true(pubkey_equal(&back.by_pk, &by->pub));
	b.len -= 1;	/* but never a malformed one */
	assert_int_equal(receipt_parse(&back, b.p, b.len, NULL), KERR_TRUNCATED);
	buf_free(&b);
	identity_free(by);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_without_signature),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_matches_spec),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_forgery),
		cmocka_unit_test(test_encode_appends),
		cmocka_unit_test(test_env_hash),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
