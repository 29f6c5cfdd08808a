/*
 * The signed roster: round trips, every bit flip, every truncation, wrong
 * directory keys, each rule refused by the encoder and (in rosters built
 * byte by byte from docs/directory.md and properly signed, so the rule
 * itself is what is tested) by the decoder, the entry cap, and
 * roster_accept's rollback rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/directory.h"

static struct identity *dirkey;

/* ---- building rosters in memory ---------------------------------------- */

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct roster_entry *)a)->name,
	    ((const struct roster_entry *)b)->name);
}

static void
set_entry(struct roster_entry *en, uint8_t kind, const char *name,
    const char *post)
{
	memset(en, 0, sizeof(*en));
	en->kind = kind;
	assert_true(strlen(name) < sizeof(en->name));
	assert_true(strlen(post) < sizeof(en->post));
	strcpy(en->name, name);
	strcpy(en->post, post);
	randombytes_buf(en->pk.sign, KEY_SIGN_PK);
	randombytes_buf(en->pk.enc, KEY_ENC_PK);
}

/*
 * HQ, three posts and three persons (one at HQ, one revoked), sorted:
 * "A. Tanaka" "BEIJING" "GENEVA" "HQ" "K. SATO" "WASHINGTON" "Y. Ito".
 */
#define BASE_N 7
static void
base_roster(struct roster *r)
{
	r->version = 5;
	r->time = 1795000000;
	r->n = BASE_N;
	r->v = calloc(BASE_N, sizeof(*r->v));
	assert_non_null(r->v);
	set_entry(&r->v[0], ROSTER_HQ, "HQ", "");
	set_entry(&r->v[1], ROSTER_POST, "WASHINGTON", "");
	set_entry(&r->v[2], ROSTER_POST, "BEIJING", "");
	set_entry(&r->v[3], ROSTER_POST, "GENEVA", "");
	set_entry(&r->v[4], ROSTER_PERSON, "K. SATO", "WASHINGTON");
	set_entry(&r->v[5], ROSTER_PERSON, "A. Tanaka", "GENEVA");
	set_entry(&r->v[6], ROSTER_PERSON, "Y. Ito", "HQ");
	r->v[5].revoked = 1;
	qsort(r->v, r->n, sizeof(*r->v), cmp_name);
}

/* Index of name in r (the test's own linear search). */
static size_t
at(const struct roster *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return i;
	fail_msg("no entry '%s'", name);
	return 0;
}

/* A roster with HQ and n - 1 posts "P0001"..., sorted. */
static void
big_roster(struct roster *r, size_t n)
{
	r->version = 1;
	r->time = 1;
	r->n = n;
	r->v = calloc(n, sizeof(*r->v));
	assert_non_null(r->v);
	set_entry(&r->v[0], ROSTER_HQ, "HQ", "");
	for (size_t i = 1; i < n; i++) {
		char name[24];

		snprintf(name, sizeof(name), "P%04zu", i);
		set_entry(&r->v[i], ROSTER_POST, name, "");
	}
	qsort(r->v, r->n, sizeof(*r->v), cmp_name);
}

static void
encode_ok(struct buf *out, const struct roster *r)
{
	struct kerr e = { "" };

	buf_init(out, ROSTER_MAX);
	if (roster_encode(out, r, dirkey, &e) != 0)
		fail_msg("roster_encode: %s", e.msg);
}

static int
decode(const uint8_t *p, size_t len, struct kerr *e)
{
	struct roster r;
	int rc = roster_decode(&r, p, len, dirkey->pub.sign, e);

	assert_true(rc == 0 ? r.n > 0 && r.v != NULL : r.n == 0 && r.v == NULL);
	roster_free(&r);
	return rc;
}

/* ---- building rosters byte by byte (docs/directory.md) ----------------- */

struct raw {
	uint8_t *p;
	size_t len;
};

#define RAW_CAP (ROSTER_MAX + 4096)

static void
raw_bytes(struct raw *w, const void *p, size_t n)
{
	assert_true(w->len + n <= RAW_CAP);
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void
raw_u8(struct raw *w, uint8_t v)
{
	raw_bytes(w, &v, 1);
}

static void
raw_be(struct raw *w, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		raw_u8(w, (uint8_t)(v >> (8 * i)));
}

static void
raw_str8(struct raw *w, const char *s)
{
	raw_u8(w, (uint8_t)strlen(s));
	raw_bytes(w, s, strlen(s));
}

static void
raw_entry(struct raw *w, const struct roster_entry *en)
{
	raw_u8(w, en->kind);
	raw_str8(w, en->name);
	raw_str8(w, en->post);
	raw_bytes(w, en->pk.sign, 32);
	raw_bytes(w, en->pk.enc, 32);
	raw_u8(w, en->revoked);
}

/* Header and entries of r as they are, no checks, no signature. */
static struct raw
raw_body(const struct roster *r)
{
	struct raw w = { malloc(RAW_CAP), 0 };

	assert_non_null(w.p);
	raw_bytes(&w, "KDNR", 4);
	raw_u8(&w, 1);
	raw_be(&w, r->version, 8);
	raw_be(&w, r->time, 8);
	raw_be(&w, r->n, 2);
	for (size_t i = 0; i < r->n; i++)
		raw_entry(&w, &r->v[i]);
	return w;
}

/* Append Ed25519 over the first ll bytes of label, then everything so far. */
static void
raw_sign_label(struct raw *w, const struct identity *key, const char *label,
    size_t ll)
{
	uint8_t *m = malloc(ll + w->len), sig[64];

	assert_non_null(m);
	memcpy(m, label, ll);
	memcpy(m + ll, w->p, w->len);
	crypto_sign_detached(sig, NULL, m, ll + w->len, key->sign_sk);
	raw_bytes(w, sig, 64);
	free(m);
}

/* "koden roster v1" || 0x00 || everything so far */
static void
raw_sign(struct raw *w)
{
	raw_sign_label(w, dirkey, "koden roster v1", 16);
}

/* ---- tests ------------------------------------------------------------- */

static void
test_roundtrip(void **state)
{
	struct roster r, back;
	struct buf a, b;
	struct kerr e = { "" };
	const struct roster_entry *en;

	(void)state;
	base_roster(&r);
	encode_ok(&a, &r);
	assert_int_equal(roster_decode(&back, a.p, a.len, dirkey->pub.sign, &e),
	    0);
	assert_int_equal(back.version, 5);
	assert_int_equal(back.time, 1795000000);
	assert_int_equal(back.n, BASE_N);
	for (size_t i = 0; i < r.n; i++) {
		assert_int_equal(back.v[i].kind, r.v[i].kind);
		assert_string_equal(back.v[i].name, r.v[i].name);
		assert_string_equal(back.v[i].post, r.v[i].post);
		assert_memory_equal(&back.v[i].pk, &r.v[i].pk, sizeof(r.v[i].pk));
		assert_int_equal(back.v[i].revoked, r.v[i].revoked);
	}
	assert_string_equal(back.v[0].name, "A. Tanaka");
	assert_string_equal(back.v[6].name, "Y. Ito");
	/* what decodes re-encodes to the same bytes (Ed25519 is deterministic) */
	encode_ok(&b, &back);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);

	en = roster_find(&back, "K. SATO");
	assert_non_null(en);
	assert_int_equal(en->kind, ROSTER_PERSON);
	assert_string_equal(en->post, "WASHINGTON");
	assert_ptr_equal(roster_find(&back, "HQ"), &back.v[at(&back, "HQ")]);
	assert_int_equal(roster_find(&back, "A. Tanaka")->revoked, 1);
	assert_null(roster_find(&back, "WASH"));
	assert_null(roster_find(&back, "WASHINGTONX"));
	assert_null(roster_find(&back, "washington"));
	assert_null(roster_find(&back, ""));
	for (size_t i = 0; i < back.n; i++)
		assert_ptr_equal(roster_find_key(&back, r.v[i].pk.enc),
		    &back.v[i]);
	/* by encryption key only: a signing key is not an encryption key */
	assert_null(roster_find_key(&back, r.v[0].pk.sign));
	roster_free(&back);
	assert_int_equal(back.n, 0);
	assert_null(back.v);
	roster_free(&back);	/* twice is harmless */
	roster_free(NULL);
	buf_free(&a);
	buf_free(&b);
	roster_free(&r);
}

/* The encoder writes exactly the bytes docs/directory.md describes. */
static void
test_matches_spec(void **state)
{
	struct roster r;
	struct buf a;
	struct raw w;
	size_t want = 4 + 1 + 8 + 8 + 2 + 64;

	(void)state;
	base_roster(&r);
	encode_ok(&a, &r);
	w = raw_body(&r);
	raw_sign(&w);
	for (size_t i = 0; i < r.n; i++)
		want += 1 + 1 + strlen(r.v[i].name) + 1 + strlen(r.v[i].post) +
		    32 + 32 + 1;
	assert_int_equal(a.len, want);
	assert_int_equal(w.len, a.len);
	assert_memory_equal(w.p, a.p, a.len);
	assert_memory_equal(a.p, "KDNR\001", 5);
	free(w.p);
	buf_free(&a);
	roster_free(&r);
}

/* Encoding appends to out, and leaves it as it was on any failure. */
static void
test_encode_appends(void **state)
{
	struct roster r;
	struct buf a, small;
	struct kerr e = { "" };

	(void)state;
	base_roster(&r);
	buf_init(&a, ROSTER_MAX + 3);
	assert_int_equal(buf_put(&a, "xyz", 3), 0);
	assert_int_equal(roster_encode(&a, &r, dirkey, &e), 0);
	assert_memory_equal(a.p, "xyz", 3);
	assert_int_equal(decode(a.p + 3, a.len - 3, &e), 0);
	buf_init(&small, 100);
	assert_int_equal(roster_encode(&small, &r, dirkey, &e), KERR_TOOBIG);
	assert_int_equal(small.len, 0);
	r.v[0].revoked = 7;
	a.len = 3;
	assert_int_equal(roster_encode(&a, &r, dirkey, &e), KERR_INVALID);
	assert_int_equal(a.len, 3);
	buf_free(&a);
	buf_free(&small);
	roster_free(&r);
}

static void
test_every_bit_flip(void **state)
{
	struct roster r;
	struct buf a;
	size_t rejected = 0;

	(void)state;
	base_roster(&r);
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
	roster_free(&r);
}

static void
test_every_truncation(void **state)
{
	struct roster r;
	struct buf a;
	struct kerr e = { "" };

	(void)state;
	base_roster(&r);
	encode_ok(&a, &r);
	for (size_t n = 0; n < a.len; n++) {
		int rc = decode(a.p, n, &e);

		assert_true(rc == KERR_TRUNCATED || rc == KERR_SIGNATURE);
	}
	assert_int_equal(decode(a.p, 3, &e), KERR_TRUNCATED);
	assert_int_equal(decode(a.p, a.len - 1, &e), KERR_SIGNATURE);
	/* one byte more: the signature is no longer the last 64 bytes */
	assert_int_equal(buf_put_u8(&a, 0), 0);
	assert_int_equal(decode(a.p, a.len, &e), KERR_SIGNATURE);
	buf_free(&a);
	roster_free(&r);
}

static void
test_wrong_key(void **state)
{
	struct identity *other;
	struct roster r, back;
	struct buf a;
	struct raw w;
	struct kerr e = { "" };

	(void)state;
	assert_int_equal(identity_generate(&other, NULL), 0);
	base_roster(&r);
	encode_ok(&a, &r);
	assert_int_equal(roster_decode(&back, a.p, a.len, other->pub.sign, &e),
	    KERR_SIGNATURE);
	assert_non_null(strstr(e.msg, "directory key"));
	assert_int_equal(back.n, 0);
	/* signed by another key, checked against ours */
	w = raw_body(&r);
	raw_sign_label(&w, other, "koden roster v1", 16);
	assert_int_equal(decode(w.p, w.len, &e), KERR_SIGNATURE);
	/* our key, another label (domain separation) */
	w.len -= 64;
	raw_sign_label(&w, dirkey, "koden receipt v1", 17);
	assert_int_equal(decode(w.p, w.len, &e), KERR_SIGNATURE);
	/* our key, the label without its 0x00 */
	w.len -= 64;
	raw_sign_label(&w, dirkey, "koden roster v1", 15);
	assert_int_equal(decode(w.p, w.len, &e), KERR_SIGNATURE);
	/* our key, the right label: accepted (the cases above differ only there) */
	w.len -= 64;
	raw_sign(&w);
	assert_int_equal(decode(w.p, w.len, &e), 0);
	/* not a roster at all */
	assert_int_equal(decode((const uint8_t *)"KDNT\001garbage", 12, &e),
	    KERR_FORMAT);
	assert_non_null(strstr(e.msg, "not a koden roster"));
	free(w.p);
	buf_free(&a);
	roster_free(&r);
	identity_free(other);
}

/*
 * Each broken rule: the encoder refuses the roster, and the decoder refuses
 * the same roster written byte by byte and validly signed — with the same
 * code and a message that names the problem.
 */
struct bad_case {
	const char *what;
	void (*mutate)(struct roster *);
	int code;
	const char *msg;
};

static void m_unsorted(struct roster *r)
{
	struct roster_entry t = r->v[1];

	r->v[1] = r->v[2];
	r->v[2] = t;
}
static void m_dup_name(struct roster *r) { strcpy(r->v[at(r, "GENEVA")].name, "BEIJING"); }
static void m_two_hq(struct roster *r) { r->v[at(r, "BEIJING")].kind = ROSTER_HQ; }
static void m_no_hq(struct roster *r) { r->v[at(r, "HQ")].kind = ROSTER_POST; }
static void m_post_missing(struct roster *r) { strcpy(r->v[at(r, "K. SATO")].post, "PARIS"); }
static void m_post_is_person(struct roster *r)
{
	strcpy(r->v[at(r, "A. Tanaka")].name, "A. TANAKA");
	strcpy(r->v[at(r, "K. SATO")].post, "A. TANAKA");
}
static void m_person_no_post(struct roster *r) { r->v[at(r, "K. SATO")].post[0] = '\0'; }
static void m_site_with_post(struct roster *r) { strcpy(r->v[at(r, "BEIJING")].post, "GENEVA"); }
static void m_post_lower(struct roster *r) { strcpy(r->v[at(r, "BEIJING")].name, "Beijing"); }
static void m_post_spaces(struct roster *r) { strcpy(r->v[at(r, "BEIJING")].name, "BEI  JING"); }
static void m_post_dash(struct roster *r) { strcpy(r->v[at(r, "BEIJING")].name, "-BEIJING"); }
static void m_post_long(struct roster *r)
{
	char *s = r->v[at(r, "BEIJING")].name;

	memset(s, 'B', 33);
	s[33] = '\0';
}
static void m_hq_name(struct roster *r) { strcpy(r->v[at(r, "HQ")].name, "HQ:"); }
static void m_person_comma(struct roster *r) { strcpy(r->v[at(r, "K. SATO")].name, "K., SATO"); }
static void m_person_tab(struct roster *r) { strcpy(r->v[at(r, "K. SATO")].name, "K.\tSATO"); }
static void m_person_space(struct roster *r) { strcpy(r->v[at(r, "K. SATO")].name, "K. SATO "); }
static void m_person_bidi(struct roster *r) { strcpy(r->v[at(r, "K. SATO")].name, "K. \xe2\x80\xaeSATO"); }
static void m_person_utf8(struct roster *r) { strcpy(r->v[at(r, "K. SATO")].name, "K. \xc3SATO"); }
static void m_person_long(struct roster *r)
{
	char *s = r->v[at(r, "K. SATO")].name;

	memset(s, 'K', 64);
	s[64] = '\0';
	s[63] = 'Z';	/* 64 bytes is the limit: still sorted, still valid */
}
static void m_kind0(struct roster *r) { r->v[at(r, "GENEVA")].kind = 0; }
static void m_kind4(struct roster *r) { r->v[at(r, "GENEVA")].kind = 4; }
static void m_revoked2(struct roster *r) { r->v[at(r, "GENEVA")].revoked = 2; }
static void m_hq_revoked(struct roster *r) { r->v[at(r, "HQ")].revoked = 1; }
static void m_zero_sign(struct roster *r) { memset(r->v[at(r, "GENEVA")].pk.sign, 0, 32); }
static void m_zero_enc(struct roster *r) { memset(r->v[at(r, "GENEVA")].pk.enc, 0, 32); }
static void m_same_sign(struct roster *r)
{
	memcpy(r->v[at(r, "GENEVA")].pk.sign, r->v[at(r, "Y. Ito")].pk.sign, 32);
}
static void m_same_enc(struct roster *r)
{
	memcpy(r->v[at(r, "BEIJING")].pk.enc, r->v[at(r, "HQ")].pk.enc, 32);
}
static void m_version0(struct roster *r) { r->version = 0; }
static void m_empty(struct roster *r) { r->n = 0; }
static void m_over_cap(struct roster *r)
{
	roster_free(r);
	big_roster(r, ROSTER_ENTRIES_MAX + 1);
}

static const struct bad_case bad_cases[] = {
	{ "unsorted", m_unsorted, KERR_INVALID, "increasing name order" },
	{ "duplicate name", m_dup_name, KERR_INVALID, "appears twice" },
	{ "two HQs", m_two_hq, KERR_INVALID, "two HQ entries" },
	{ "no HQ", m_no_hq, KERR_INVALID, "no HQ entry" },
	{ "person's post missing", m_post_missing, KERR_INVALID, "'PARIS' is not a post" },
	{ "person's post is a person", m_post_is_person, KERR_INVALID, "is not a post or HQ" },
	{ "person without a post", m_person_no_post, KERR_INVALID, "empty post name" },
	{ "post entry with a post", m_site_with_post, KERR_INVALID, "only a person" },
	{ "post name in lower case", m_post_lower, KERR_INVALID, "upper case" },
	{ "post name with two spaces", m_post_spaces, KERR_INVALID, "extra spaces" },
	{ "post name starting with -", m_post_dash, KERR_INVALID, "must begin with" },
	{ "post name of 33 bytes", m_post_long, KERR_TOOBIG, "over the limit of 32" },
	{ "HQ name with ':'", m_hq_name, KERR_INVALID, "may contain only" },
	{ "person name with comma", m_person_comma, KERR_INVALID, "comma" },
	{ "person name with tab", m_person_tab, KERR_INVALID, "tab" },
	{ "person name with trailing space", m_person_space, KERR_INVALID, "trailing spaces" },
	{ "person name with bidi override", m_person_bidi, KERR_INVALID, "bidirectional" },
	{ "person name not UTF-8", m_person_utf8, KERR_INVALID, "UTF-8" },
	{ "kind 0", m_kind0, KERR_INVALID, "unknown kind 0" },
	{ "kind 4", m_kind4, KERR_INVALID, "unknown kind 4" },
	{ "revoked 2", m_revoked2, KERR_INVALID, "revoked flag is 2" },
	{ "HQ revoked", m_hq_revoked, KERR_INVALID, "cannot be revoked" },
	{ "zero signing key", m_zero_sign, KERR_INVALID, "all zeros" },
	{ "zero encryption key", m_zero_enc, KERR_INVALID, "all zeros" },
	{ "signing key twice", m_same_sign, KERR_INVALID, "same signing key" },
	{ "encryption key twice", m_same_enc, KERR_INVALID, "same encryption key" },
	{ "version 0", m_version0, KERR_INVALID, "version is 0" },
	{ "no entries", m_empty, KERR_INVALID, "no entries" },
	{ "2049 entries", m_over_cap, KERR_TOOBIG, "over the limit of 2048" },
};

static void
test_rules(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(bad_cases) / sizeof(bad_cases[0]); c++) {
		const struct bad_case *bc = &bad_cases[c];
		struct roster r;
		struct buf a;
		struct raw w;
		struct kerr e = { "" };
		int rc;

		base_roster(&r);
		bc->mutate(&r);
		buf_init(&a, ROSTER_MAX);
		rc = roster_encode(&a, &r, dirkey, &e);
		if (rc != bc->code || strstr(e.msg, bc->msg) == NULL)
			fail_msg("%s: encoder returned %d '%s'", bc->what, rc,
			    e.msg);
		assert_int_equal(a.len, 0);
		w = raw_body(&r);
		raw_sign(&w);
		e.msg[0] = '\0';
		rc = decode(w.p, w.len, &e);
		if (rc != bc->code || strstr(e.msg, bc->msg) == NULL)
			fail_msg("%s: decoder returned %d '%s'", bc->what, rc,
			    e.msg);
		free(w.p);
		buf_free(&a);
		roster_free(&r);
	}
}

/* The limits themselves are accepted: 64-byte person names, 2048 entries. */
static void
test_limits(void **state)
{
	struct roster r, back;
	struct buf a;
	struct kerr e = { "" };

	(void)state;
	base_roster(&r);
	m_person_long(&r);
	strcpy(r.v[at(&r, "BEIJING")].name, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB");
	qsort(r.v, r.n, sizeof(*r.v), cmp_name);
	encode_ok(&a, &r);
	assert_int_equal(decode(a.p, a.len, &e), 0);
	buf_free(&a);
	roster_free(&r);

	big_roster(&r, ROSTER_ENTRIES_MAX);
	encode_ok(&a, &r);
	assert_int_equal(roster_decode(&back, a.p, a.len, dirkey->pub.sign, &e),
	    0);
	assert_int_equal(back.n, ROSTER_ENTRIES_MAX);
	assert_non_null(roster_find(&back, "P2047"));
	assert_null(roster_find(&back, "P2048"));
	roster_free(&back);
	assert_int_equal(decode(a.p, ROSTER_MAX + 1, &e), KERR_TOOBIG);
	buf_free(&a);
	roster_free(&r);
}

/* Structure the encoder cannot produce, written by hand and signed. */
static void
test_decoder_structure(void **state)
{
	struct roster r;
	struct raw w;
	struct kerr e = { "" };
	size_t ent0 = 4 + 1 + 8 + 8 + 2;	/* first entry */

	(void)state;
	base_roster(&r);

	/* format version 2 */
	w = raw_body(&r);
	w.p[4] = 2;
	raw_sign(&w);
	assert_int_equal(decode(w.p, w.len, &e), KERR_VERSION);
	free(w.p);

	/* a NUL inside a name ("A. Tanaka" -> "A.\0Tanaka") */
	w = raw_body(&r);
	w.p[ent0 + 1 + 1 + 2] = '\0';
	raw_sign(&w);
	assert_int_equal(decode(w.p, w.len, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "NUL"));
	free(w.p);

	/* a name length byte of 200 */
	w = raw_body(&r);
	w.p[ent0 + 1] = 200;
	raw_sign(&w);
	assert_int_equal(decode(w.p, w.len, &e), KERR_TOOBIG);
	free(w.p);

	/* count one more than the entries present */
	w = raw_body(&r);
	w.p[ent0 - 1]++;
	raw_sign(&w);
	assert_int_equal(decode(w.p, w.len, &e), KERR_TRUNCATED);
	free(w.p);

	/* count one less: the last entry is trailing garbage */
	w = raw_body(&r);
	w.p[ent0 - 1]--;
	raw_sign(&w);
	assert_int_equal(decode(w.p, w.len, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "unexpected bytes"));
	free(w.p);

	/* one extra byte after the entries, signed */
	w = raw_body(&r);
	raw_u8(&w, 0);
	raw_sign(&w);
	assert_int_equal(decode(w.p, w.len, &e), KERR_FORMAT);
	free(w.p);

	/* the last entry cut short, signed */
	w = raw_body(&r);
	w.len -= 10;
	raw_sign(&w);
	assert_int_equal(decode(w.p, w.len, &e), KERR_TRUNCATED);
	free(w.p);

	/* count 0xffff: refused before anything is allocated */
	w = raw_body(&r);
	w.p[ent0 - 2] = 0xff;
	w.p[ent0 - 1] = 0xff;
	raw_sign(&w);
	assert_int_equal(decode(w.p, w.len, &e), KERR_TOOBIG);
	free(w.p);

	/* wrong magic, validly signed */
	w = raw_body(&r);
	w.p[3] = 'T';
	raw_sign(&w);
	assert_int_equal(decode(w.p, w.len, &e), KERR_FORMAT);
	free(w.p);
	roster_free(&r);
}

static void
decode_into(struct roster *out, const struct roster *r)
{
	struct buf a;
	struct kerr e = { "" };

	encode_ok(&a, r);
	if (roster_decode(out, a.p, a.len, dirkey->pub.sign, &e) != 0)
		fail_msg("roster_decode: %s", e.msg);
	buf_free(&a);
}

static void
test_accept(void **state)
{
	struct roster r, cur, same, newer, older, forked;
	struct kerr e = { "" };

	(void)state;
	base_roster(&r);
	decode_into(&cur, &r);
	decode_into(&same, &r);
	r.version = 6;
	decode_into(&newer, &r);
	r.version = 4;
	decode_into(&older, &r);
	r.version = 5;
	r.v[at(&r, "K. SATO")].revoked = 1;
	decode_into(&forked, &r);

	assert_int_equal(roster_accept(NULL, &cur, &e), 0);
	assert_int_equal(roster_accept(&cur, &newer, &e), 0);
	assert_int_equal(roster_accept(&cur, &same, &e), 0);
	assert_int_equal(roster_accept(&cur, &cur, &e), 0);
	assert_int_equal(roster_accept(&cur, &older, &e), KERR_INVALID);
	assert_string_equal(e.msg, "roster version 4 is older than the version "
	    "5 this post already has (possible rollback attack)");
	assert_int_equal(roster_accept(&newer, &cur, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "rollback"));
	assert_int_equal(roster_accept(&cur, &forked, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "two different rosters"));
	/* the time is content too */
	same.time++;
	assert_int_equal(roster_accept(&cur, &same, &e), KERR_INVALID);
	/* a newer roster may change anything, even drop entries */
	newer.n = 4;
	assert_int_equal(roster_accept(&cur, &newer, &e), 0);
	newer.n = BASE_N;
	roster_free(&cur);
	roster_free(&same);
	roster_free(&newer);
	roster_free(&older);
	roster_free(&forked);
	roster_free(&r);
}

static int
setup(void **state)
{
	(void)state;
	return identity_generate(&dirkey, "HQ DIRECTORY") == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	identity_free(dirkey);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_matches_spec),
		cmocka_unit_test(test_encode_appends),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_decoder_structure),
		cmocka_unit_test(test_accept),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
