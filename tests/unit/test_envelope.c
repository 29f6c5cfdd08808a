#define _GNU_SOURCE	/* memmem */
/*
 * Sealed telegrams: round trips, non-recipients, every bit flip, every
 * truncation, limits, and forgeries built independently from the format in
 * docs/format.md (so the deeper checks — drafter signature, re-addressing,
 * padding — are reached even though the origin signature is valid).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/hpke.h"
#include "telegram/envelope.h"

static const char draft_text[] =
    "FROM: TOKYO\n"
    "TO: WASHINGTON\n"
    "INFO: BEIJING, GENEVA\n"
    "PRECEDENCE: IMMEDIATE/ROUTINE\n"
    "CLASSIFICATION: SECRET\n"
    "TAGS: PREL, JA, US\n"
    "SUBJECT: Consultations on regional security\n"
    "DRAFTER: K. SATO\n"
    "\n"
    "1. Summary. The consultations went well.\n"
    "\n"
    "2. Details follow.\n";

static struct tg *
make_tg(const char *text)
{
	struct tg_policy pol;
	struct tg *t = NULL;
	struct kerr e = { "" };

	tg_policy_default(&pol);
	if (tg_parse_draft(&t, text, strlen(text), &pol, &e) != 0)
		fail_msg("draft does not parse: %s", e.msg);
	randombytes_buf(t->id, TG_ID_LEN);
	t->dtg = 1795000000;
	return t;
}

static struct identity *
ident(const char *name)
{
	struct identity *id;

	assert_int_equal(identity_generate(&id, name), 0);
	return id;
}

static void
seal(struct buf *out, const struct tg *t, const struct identity *drafter,
    const struct identity *origin, struct identity **rcpt, size_t n)
{
	struct pubkey *pk = calloc(n, sizeof(*pk));
	struct kerr e = { "" };

	assert_non_null(pk);
	for (size_t i = 0; i < n; i++)
		pk[i] = rcpt[i]->pub;
	buf_init(out, ENV_MAX);
	if (env_seal(out, t, drafter, origin, pk, n, &e) != 0)
		fail_msg("seal: %s", e.msg);
	free(pk);
}

static int
try_open(const struct buf *env, const struct identity *id, struct kerr *e)
{
	struct env_header *h = calloc(1, sizeof(*h));
	struct pubkey d;
	struct tg *t = NULL;
	int r;

	assert_non_null(h);
	r = env_open(&t, &d, h, env->p, env->len, id, e);
	assert_true((r == 0) == (t != NULL));
	tg_free(t);
	free(h);
	return r;
}

static void
test_roundtrip_n(size_t n)
{
	struct identity *drafter = ident("K. SATO"), *origin = ident("TOKYO");
	struct identity **r = calloc(n, sizeof(*r)), *outsider = ident(NULL);
	struct env_header *h = calloc(1, sizeof(*h));
	struct tg *t = make_tg(draft_text), *back;
	struct pubkey dpk;
	struct buf env, a, b;
	struct kerr e = { "" };

	for (size_t i = 0; i < n; i++)
		r[i] = ident(NULL);
	seal(&env, t, drafter, origin, r, n);
	for (size_t i = 0; i < n; i++) {
		if (n > 10 && i != 0 && i != n / 2 && i != n - 1)
			continue;
		assert_int_equal(env_open(&back, &dpk, h, env.p, env.len, r[i],
		    &e), 0);
		assert_true(pubkey_equal(&dpk, &drafter->pub));
		assert_true(pubkey_equal(&h->origin_pk, &origin->pub));
		assert_int_equal(h->n_wraps, n);
		buf_init(&a, TG_ENCODED_MAX);
		buf_init(&b, TG_ENCODED_MAX);
		assert_int_equal(tg_encode(t, &a), 0);
		assert_int_equal(tg_encode(back, &b), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.p, b.p, a.len);
		buf_free(&a);
		buf_free(&b);
		tg_free(back);
	}
	assert_int_equal(env_open(&back, &dpk, h, env.p, env.len, outsider, &e),
	    KERR_NOT_RECIPIENT);
	assert_non_null(strstr(e.msg, "not addressed to this key"));
	/* the drafter is not a recipient unless listed */
	assert_int_equal(try_open(&env, drafter, NULL), KERR_NOT_RECIPIENT);
	for (size_t i = 0; i < n; i++)
		identity_free(r[i]);
	free(r);
	free(h);
	buf_free(&env);
	tg_free(t);
	identity_free(drafter);
	identity_free(origin);
	identity_free(outsider);
}

static void test_roundtrip_1(void **s) { (void)s; test_roundtrip_n(1); }
static void test_roundtrip_2(void **s) { (void)s; test_roundtrip_n(2); }
static void test_roundtrip_250(void **s) { (void)s; test_roundtrip_n(250); }

static void
test_inspect(void **state)
{
	struct identity *d = ident(NULL), *r1 = ident(NULL), *r2 = ident(NULL);
	struct identity *rs[] = { r1, r2 };
	struct env_header *h = calloc(1, sizeof(*h));
	struct tg *t = make_tg(draft_text);
	struct buf env;

	(void)state;
	seal(&env, t, d, d, rs, 2);
	assert_int_equal(env_inspect(h, env.p, env.len, NULL), 0);
	assert_memory_equal(h->id, t->id, TG_ID_LEN);
	assert_int_equal(h->time, 1795000000);
	assert_string_equal(h->origin, "TOKYO");
	assert_int_equal(h->prec_action, TG_IMMEDIATE);
	assert_int_equal(h->prec_info, TG_ROUTINE);
	assert_int_equal(h->n_addr, 3);
	assert_string_equal(h->addr[0].name, "WASHINGTON");
	assert_int_equal(h->addr[0].role, ENV_ACTION);
	assert_string_equal(h->addr[1].name, "BEIJING");
	assert_int_equal(h->addr[1].role, ENV_INFO);
	assert_string_equal(h->addr[2].name, "GENEVA");
	assert_int_equal(h->n_wraps, 2);
	assert_int_equal(h->padded_size, ENV_PAD_MIN);
	assert_int_equal(h->total_len, env.len);
	/* no plaintext anywhere in the envelope */
	assert_null(memmem(env.p, env.len, "consultations", 13));
	assert_null(memmem(env.p, env.len, "K. SATO", 7));
	assert_null(memmem(env.p, env.len, "SECRET", 6));
	buf_free(&env);
	tg_free(t);
	free(h);
	identity_free(d);
	identity_free(r1);
	identity_free(r2);
}

/* Every single-bit flip anywhere in a sealed telegram is rejected. */
static void
test_every_bit_flip(void **state)
{
	struct identity *d = ident(NULL), *r1 = ident(NULL), *rs[] = { r1 };
	struct tg *t = make_tg(draft_text);
	struct buf env;
	size_t rejected = 0;

	(void)state;
	seal(&env, t, d, d, rs, 1);
	for (size_t i = 0; i < env.len * 8; i++) {
		env.p[i / 8] ^= (uint8_t)(1 << (i % 8));
		if (try_open(&env, r1, NULL) != 0)
			rejected++;
		env.p[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	assert_int_equal(rejected, env.len * 8);
	assert_int_equal(try_open(&env, r1, NULL), 0);
	buf_free(&env);
	tg_free(t);
	identity_free(d);
	identity_free(r1);
}

/* Truncation at every byte offset is rejected, as is any extension. */
static void
test_every_truncation(void **state)
{
	struct identity *d = ident(NULL), *r1 = ident(NULL), *rs[] = { r1 };
	struct env_header *h = calloc(1, sizeof(*h));
	struct tg *t = make_tg(draft_text);
	struct buf env;
	struct kerr e = { "" };

	(void)state;
	seal(&env, t, d, d, rs, 1);
	for (size_t n = 0; n < env.len; n++) {
		size_t len = env.len;
		int r;

		env.len = n;
		r = try_open(&env, r1, &e);
		env.len = len;
		assert_true(r == KERR_TRUNCATED || (n < 4 && r == KERR_FORMAT));
		assert_int_not_equal(env_inspect(h, env.p, n, NULL), 0);
	}
	assert_int_equal(buf_put_u8(&env, 0), 0);
	assert_int_equal(try_open(&env, r1, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "unexpected bytes"));
	buf_free(&env);
	tg_free(t);
	free(h);
	identity_free(d);
	identity_free(r1);
}

static void
test_garbage_and_version(void **state)
{
	struct identity *d = ident(NULL), *r1 = ident(NULL), *rs[] = { r1 };
	struct tg *t = make_tg(draft_text);
	struct buf env, junk;
	struct kerr e = { "" };

	(void)state;
	seal(&env, t, d, d, rs, 1);
	env.p[4] = 2;
	assert_int_equal(try_open(&env, r1, &e), KERR_VERSION);
	assert_non_null(strstr(e.msg, "version 2"));
	env.p[4] = ENV_VERSION;
	buf_init(&junk, ENV_MAX + 2);
	assert_int_equal(buf_put_zero(&junk, 5000), 0);
	for (int i = 0; i < 100; i++) {
		randombytes_buf(junk.p, junk.len);
		assert_int_equal(try_open(&junk, r1, NULL), KERR_FORMAT);
		/* garbage behind a valid magic and version */
		memcpy(junk.p, "KDNT\x01\x00", 6);
		assert_int_not_equal(try_open(&junk, r1, NULL), 0);
	}
	assert_int_equal(buf_put_zero(&junk, ENV_MAX + 1 - junk.len), 0);
	assert_int_equal(try_open(&junk, r1, &e), KERR_TOOBIG);
	buf_free(&junk);
	buf_free(&env);
	tg_free(t);
	identity_free(d);
	identity_free(r1);
}

static void
test_duplicates_and_limits(void **state)
{
	struct identity *d = ident(NULL), *r1 = ident(NULL), *r2 = ident(NULL);
	struct identity *rs[] = { r1, r2, r1, r1, r2 };
	struct env_header *h = calloc(1, sizeof(*h));
	struct pubkey *many = calloc(ENV_RECIPIENTS_MAX + 1, sizeof(*many));
	struct tg *t = make_tg(draft_text);
	struct buf env;
	struct kerr e = { "" };

	(void)state;
	seal(&env, t, d, d, rs, 5);
	assert_int_equal(env_inspect(h, env.p, env.len, NULL), 0);
	assert_int_equal(h->n_wraps, 2);
	assert_int_equal(try_open(&env, r1, NULL), 0);
	assert_int_equal(try_open(&env, r2, NULL), 0);
	buf_free(&env);
	buf_init(&env, ENV_MAX);
	for (size_t i = 0; i <= ENV_RECIPIENTS_MAX; i++)
		many[i] = r1->pub;
	assert_int_equal(env_seal(&env, t, d, d, many, 0, &e), KERR_INVALID);
	assert_int_equal(env_seal(&env, t, d, d, many, ENV_RECIPIENTS_MAX + 1,
	    &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "at most 1024"));
	assert_int_equal(env.len, 0);
	memset(t->id, 0, TG_ID_LEN);
	assert_int_equal(env_seal(&env, t, d, d, many, 1, &e), KERR_INVALID);
	buf_free(&env);
	free(many);
	free(h);
	tg_free(t);
	identity_free(d);
	identity_free(r1);
	identity_free(r2);
}

/* The origin node numbers and re-signs an officer's envelope. */
static void
test_sign_origin(void **state)
{
	struct identity *d = ident(NULL), *node = ident("TOKYO"), *r1 = ident(NULL);
	struct identity *rs[] = { r1 };
	struct env_header *h = calloc(1, sizeof(*h));
	struct tg *t = make_tg(draft_text);
	const uint64_t seqs[3] = { 17, 4, 900 };
	struct buf env;
	struct kerr e = { "" };
	size_t len;

	(void)state;
	seal(&env, t, d, d, rs, 1);
	assert_int_equal(env_inspect(h, env.p, env.len, NULL), 0);
	assert_int_equal(h->addr[0].seq, 0);
	assert_true(pubkey_equal(&h->origin_pk, &d->pub));
	len = env.len;
	assert_int_equal(env_sign_origin(&env, seqs, 2, node, &e), KERR_INVALID);
	assert_int_equal(env.len, len);
	assert_int_equal(env_sign_origin(&env, seqs, 3, node, &e), 0);
	assert_int_equal(env.len, len);
	assert_int_equal(env_inspect(h, env.p, env.len, NULL), 0);
	assert_true(pubkey_equal(&h->origin_pk, &node->pub));
	assert_int_equal(h->addr[0].seq, 17);
	assert_int_equal(h->addr[1].seq, 4);
	assert_int_equal(h->addr[2].seq, 900);
	assert_int_equal(try_open(&env, r1, NULL), 0);
	/* a changed sequence number breaks the origin signature */
	env.p[h->body_len + 7] ^= 1;
	assert_int_equal(env_inspect(h, env.p, env.len, NULL), KERR_SIGNATURE);
	/* env_parse reads structure only (for envelopes already verified) */
	assert_int_equal(env_parse(h, env.p, env.len, NULL), 0);
	assert_int_equal(h->addr[0].seq, 17 ^ ((uint64_t)1 << 0));
	/* re-signing checks structure only (the caller verified): a truncated
	 * envelope is refused and left as it was */
	len = env.len;
	env.len -= 10;
	assert_int_equal(env_sign_origin(&env, seqs, 3, node, &e), KERR_TRUNCATED);
	assert_int_equal(env.len, len - 10);
	env.len = len;
	buf_free(&env);
	free(h);
	tg_free(t);
	identity_free(d);
	identity_free(node);
	identity_free(r1);
}

/* Sizes leak only the padding bucket. */
static void
test_padding(void **state)
{
	struct identity *d = ident(NULL), *r1 = ident(NULL), *rs[] = { r1 };
	char text[8192];
	struct buf a, b;
	struct tg *t;

	(void)state;
	assert_int_equal(env_pad_size(0), ENV_PAD_MIN);
	assert_int_equal(env_pad_size(ENV_PAD_MIN), ENV_PAD_MIN);
	assert_int_equal(env_pad_size(ENV_PAD_MIN + 1), 2 * ENV_PAD_MIN);
	assert_int_equal(env_pad_size(5000), 8192);
	snprintf(text, sizeof(text), "FROM: TOKYO\nTO: WASHINGTON\n"
	    "PRECEDENCE: ROUTINE\nCLASSIFICATION: SECRET\nSUBJECT: a\n"
	    "DRAFTER: K. SATO\n\n1. %s\n", "short");
	t = make_tg(text);
	seal(&a, t, d, d, rs, 1);
	tg_free(t);
	snprintf(text, sizeof(text), "FROM: TOKYO\nTO: WASHINGTON\n"
	    "PRECEDENCE: ROUTINE\nCLASSIFICATION: SECRET\nSUBJECT: a\n"
	    "DRAFTER: K. SATO\n\n1. %0600d\n", 7);
	t = make_tg(text);
	seal(&b, t, d, d, rs, 1);
	assert_int_equal(a.len, b.len);
	buf_free(&a);
	buf_free(&b);
	tg_free(t);
	identity_free(d);
	identity_free(r1);
}

/* ---- forgeries built from docs/format.md, not from envelope.c ---- */

struct forge {
	const uint8_t *inner;		/* signed telegram bytes */
	size_t inner_len;
	const struct identity *signer;	/* signs the inner telegram */
	const struct pubkey *claimed;	/* drafter key written in the plaintext */
	const struct identity *origin;
	const struct pubkey *rcpt;
	const struct tg *hdr;		/* routing header taken from here */
	const char *extra_to;		/* add an addressee to the header */
	int dirty_pad;			/* a non-zero padding byte */
	int flip_ct;			/* flip a ciphertext bit before signing */
};

static void
put_sig(struct buf *b, const char *label, const uint8_t *m, size_t n,
    const uint8_t *sk)
{
	uint8_t *msg = malloc(strlen(label) + 1 + n), sig[64];

	memcpy(msg, label, strlen(label) + 1);
	memcpy(msg + strlen(label) + 1, m, n);
	crypto_sign_detached(sig, NULL, msg, strlen(label) + 1 + n, sk);
	assert_int_equal(buf_put(b, sig, 64), 0);
	free(msg);
}

static void
forge(struct buf *out, const struct forge *f)
{
	static const uint8_t zn[12];
	const struct tg *t = f->hdr;
	struct buf pt;
	struct hpke_ctx hc;
	uint8_t ck[32], *w;
	size_t need, n_addr = t->to.n + t->info.n + (f->extra_to != NULL);

	/* plaintext */
	buf_init(&pt, ENV_MAX);
	assert_int_equal(buf_put_u32(&pt, (uint32_t)f->inner_len), 0);
	assert_int_equal(buf_put(&pt, f->inner, f->inner_len), 0);
	assert_int_equal(buf_put(&pt, f->claimed->sign, 32), 0);
	assert_int_equal(buf_put(&pt, f->claimed->enc, 32), 0);
	put_sig(&pt, "koden telegram v1", f->inner, f->inner_len,
	    f->signer->sign_sk);
	need = pt.len;
	assert_int_equal(buf_put_zero(&pt, env_pad_size(need) - need), 0);
	if (f->dirty_pad)
		pt.p[pt.len - 1] = 1;

	/* routing header */
	buf_init(out, ENV_MAX);
	assert_int_equal(buf_put(out, "KDNT\x01\x00", 6), 0);
	assert_int_equal(buf_put(out, t->id, 16), 0);
	assert_int_equal(buf_put_u64(out, t->dtg), 0);
	assert_int_equal(buf_put_str8(out, t->origin), 0);
	assert_int_equal(buf_put_u8(out, t->prec_action), 0);
	assert_int_equal(buf_put_u8(out, t->prec_info), 0);
	assert_int_equal(buf_put_u16(out, (uint16_t)n_addr), 0);
	for (size_t i = 0; i < t->to.n + t->info.n; i++) {
		int act = i < t->to.n;

		assert_int_equal(buf_put_str8(out, act ? t->to.v[i] :
		    t->info.v[i - t->to.n]), 0);
		assert_int_equal(buf_put_u8(out, act ? 1 : 2), 0);
	}
	if (f->extra_to != NULL) {
		assert_int_equal(buf_put_str8(out, f->extra_to), 0);
		assert_int_equal(buf_put_u8(out, 1), 0);
	}
	assert_int_equal(buf_put_u32(out, (uint32_t)pt.len), 0);
	assert_int_equal(buf_put_u16(out, 1), 0);
	randombytes_buf(ck, sizeof(ck));
	assert_int_equal(buf_reserve(out, 4 + 32 + 48), 0);
	w = out->p + out->len;
	pubkey_hint(w, f->rcpt->enc);
	assert_int_equal(hpke_setup_base_s(&hc, w + 4, f->rcpt->enc,
	    (const uint8_t *)"koden wrap v1", 13), 0);
	assert_int_equal(hpke_seal(&hc, w + 36, t->id, 16, ck, 32), 0);
	out->len += 84;

	/* ciphertext, AD = header */
	assert_int_equal(buf_reserve(out, pt.len + 16), 0);
	crypto_aead_chacha20poly1305_ietf_encrypt(out->p + out->len, NULL,
	    pt.p, pt.len, out->p, out->len, NULL, zn, ck);
	out->len += pt.len + 16;
	if (f->flip_ct)
		out->p[out->len - 100] ^= 0x10;

	/* origin block: sequence numbers 1, 2, ..., keys, signature */
	for (size_t i = 0; i < n_addr; i++)
		assert_int_equal(buf_put_u64(out, i + 1), 0);
	assert_int_equal(buf_put(out, f->origin->pub.sign, 32), 0);
	assert_int_equal(buf_put(out, f->origin->pub.enc, 32), 0);
	put_sig(out, "koden envelope v1", out->p, out->len,
	    f->origin->sign_sk);
	buf_free(&pt);
}

static void
test_forgeries(void **state)
{
	struct identity *d = ident(NULL), *o = ident(NULL), *r1 = ident(NULL);
	struct identity *mallory = ident(NULL);
	struct tg *t = make_tg(draft_text), *other;
	struct buf inner, env;
	struct kerr e = { "" };
	struct forge f;

	(void)state;
	buf_init(&inner, TG_ENCODED_MAX);
	assert_int_equal(tg_encode(t, &inner), 0);
	memset(&f, 0, sizeof(f));
	f.inner = inner.p;
	f.inner_len = inner.len;
	f.signer = d;
	f.claimed = &d->pub;
	f.origin = o;
	f.rcpt = &r1->pub;
	f.hdr = t;

	/* the format as documented opens: the forger is faithful */
	forge(&env, &f);
	assert_int_equal(try_open(&env, r1, &e), 0);
	buf_free(&env);

	/* re-addressed: one more action addressee in the routing header */
	f.extra_to = "MOSCOW";
	forge(&env, &f);
	assert_int_equal(try_open(&env, r1, &e), KERR_MISMATCH);
	assert_non_null(strstr(e.msg, "number of addressees"));
	buf_free(&env);
	f.extra_to = NULL;

	/* routing header of another telegram (precedence raised to FLASH) */
	other = make_tg(draft_text);
	memcpy(other->id, t->id, TG_ID_LEN);
	other->prec_action = TG_FLASH;
	f.hdr = other;
	forge(&env, &f);
	assert_int_equal(try_open(&env, r1, &e), KERR_MISMATCH);
	assert_non_null(strstr(e.msg, "precedence"));
	buf_free(&env);
	other->prec_action = t->prec_action;
	other->dtg++;
	forge(&env, &f);
	assert_int_equal(try_open(&env, r1, &e), KERR_MISMATCH);
	assert_non_null(strstr(e.msg, "date-time"));
	buf_free(&env);
	tg_free(other);
	f.hdr = t;

	/* signed by mallory, claiming the drafter's key */
	f.signer = mallory;
	forge(&env, &f);
	assert_int_equal(try_open(&env, r1, &e), KERR_SIGNATURE);
	assert_non_null(strstr(e.msg, "drafter"));
	buf_free(&env);
	f.signer = d;

	/* non-zero padding */
	f.dirty_pad = 1;
	forge(&env, &f);
	assert_int_equal(try_open(&env, r1, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "padding"));
	buf_free(&env);
	f.dirty_pad = 0;

	/* ciphertext altered, then re-signed by a (malicious) origin */
	f.flip_ct = 1;
	forge(&env, &f);
	assert_int_equal(try_open(&env, r1, &e), KERR_DECRYPT);
	assert_non_null(strstr(e.msg, "tampered"));
	buf_free(&env);
	f.flip_ct = 0;

	/* correctly signed bytes that are not a telegram */
	f.inner = (const uint8_t *)"not a telegram";
	f.inner_len = 14;
	forge(&env, &f);
	assert_int_not_equal(try_open(&env, r1, &e), 0);
	buf_free(&env);

	buf_free(&inner);
	tg_free(t);
	identity_free(d);
	identity_free(o);
	identity_free(r1);
	identity_free(mallory);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_1),
		cmocka_unit_test(test_roundtrip_2),
		cmocka_unit_test(test_roundtrip_250),
		cmocka_unit_test(test_inspect),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_garbage_and_version),
		cmocka_unit_test(test_duplicates_and_limits),
		cmocka_unit_test(test_sign_origin),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_forgeries),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
