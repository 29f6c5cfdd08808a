/*
 * Enrolment tokens: round trips, the bytes of docs/directory.md, every
 * single-character typo, high bytes, truncations, HQ address forms (refused
 * by the encoder, and by the decoder in tokens built by hand with a correct
 * checksum, so that the address rule itself is what is tested), and the
 * enrolment hash against a value computed outside koden.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/token.h"
#include "vectors.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
make_token(struct join_token *t)
{
	memset(t, 0, sizeof(*t));
	strcpy(t->post, "WASHINGTON");
	strcpy(t->hq_addr, "hq.koden.example:7443");
	randombytes_buf(t->hq_pk.sign, KEY_SIGN_PK);
	randombytes_buf(t->hq_pk.enc, KEY_ENC_PK);
	randombytes_buf(t->dir_pk, KEY_SIGN_PK);
	randombytes_buf(t->secret, TOKEN_SECRET);
}

static char *
encode_ok(const struct join_token *t)
{
	char *s;
	int r = token_encode(&s, t);

	if (r != 0)
		fail_msg("token_encode: %d", r);
	return s;
}

static void
free_str(char *s)
{
	sodium_memzero(s, strlen(s));
	free(s);
}

static int
decode(const char *s, struct kerr *e)
{
	struct join_token t;
	int r;

	memset(&t, 0xa5, sizeof(t));
	r = token_decode(&t, s, e);
	if (r != 0)	/* the secret (and everything else) is wiped */
		assert_true(sodium_is_zero((const uint8_t *)&t, sizeof(t)));
	sodium_memzero(&t, sizeof(t));
	return r;
}

/*
 * A token string built by hand from docs/directory.md: version, str8 post,
 * str8 address, t's keys and secret, then extra bytes (may be NULL), then
 * the checksum over all of it (less raw_cut bytes from the end).  No
 * checks: it may break any rule.
 */
/* Bytes to drop from the end of the payload before the checksum (tests set it). */
static size_t raw_cut;

static char *
raw_token_n(const struct join_token *t, uint8_t version, const char *post,
    size_t pl, const char *addr, size_t al, const void *extra,
    size_t extra_len)
{
	static const char label[] = "koden join checksum v1";
	uint8_t raw[800], m[sizeof(label) + sizeof(raw)], h[32];
	size_t n = 0;
	char *s = malloc(1200);

	assert_non_null(s);
	assert_true(pl < 256 && al < 256 && extra_len < 200);
	raw[n++] = version;
	raw[n++] = (uint8_t)pl;
	memcpy(raw + n, post, pl);
	n += pl;
	raw[n++] = (uint8_t)al;
	memcpy(raw + n, addr, al);
	n += al;
	memcpy(raw + n, t->hq_pk.sign, 32);
	memcpy(raw + n + 32, t->hq_pk.enc, 32);
	memcpy(raw + n + 64, t->dir_pk, 32);
	memcpy(raw + n + 96, t->secret, 32);
	n += 128;
	if (extra_len) {
		memcpy(raw + n, extra, extra_len);
		n += extra_len;
	}
	assert_true(raw_cut <= n);
	n -= raw_cut;
	memcpy(m, label, sizeof(label) - 1);
	memcpy(m + sizeof(label) - 1, raw, n);
	crypto_generichash(h, 32, m, sizeof(label) - 1 + n, NULL, 0);
	memcpy(raw + n, h, 4);
	n += 4;
	strcpy(s, "kodenjoin1");
	sodium_bin2base64(s + 10, 1190, raw, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(m, sizeof(m));
	return s;
}

static char *
raw_token(const struct join_token *t, uint8_t version, const char *addr,
    const void *extra, size_t extra_len)
{
	return raw_token_n(t, version, t->post, strlen(t->post), addr,
	    strlen(addr), extra, extra_len);
}

static void
test_roundtrip(void **state)
{
	struct join_token t, back;
	struct kerr e = { "" };
	char *s, *s2, padded[TOKEN_STR_MAX + 16];

	(void)state;
	make_token(&t);
	s = encode_ok(&t);
	assert_int_equal(strncmp(s, "kodenjoin1", 10), 0);
	assert_true(strlen(s) < TOKEN_STR_MAX);
	assert_int_equal(token_decode(&back, s, &e), 0);
	assert_string_equal(back.post, "WASHINGTON");
	assert_string_equal(back.hq_addr, "hq.koden.example:7443");
	assert_true(pubkey_equal(&back.hq_pk, &t.hq_pk));
	assert_memory_equal(back.dir_pk, t.dir_pk, 32);
	assert_memory_equal(back.secret, t.secret, 32);
	s2 = encode_ok(&back);
	assert_string_equal(s, s2);
	/* pasted with blanks around it */
	snprintf(padded, sizeof(padded), " \t%s \r\n", s);
	assert_int_equal(decode(padded, &e), 0);
	free_str(s);
	free_str(s2);
	sodium_memzero(&back, sizeof(back));
}

/* The encoder writes exactly the documented payload and checksum. */
static void
test_matches_spec(void **state)
{
	struct join_token t;
	struct kerr e = { "" };
	char *s, *w;

	(void)state;
	make_token(&t);
	s = encode_ok(&t);
	w = raw_token(&t, 1, t.hq_addr, NULL, 0);
	assert_string_equal(s, w);
	free_str(s);
	free_str(w);

	/* the longest token: 32-byte post, 127-byte address */
	memset(t.post, 'P', 32);
	memset(t.hq_addr, 'h', 121);
	strcpy(t.hq_addr + 121, ":65535");
	assert_int_equal(strlen(t.hq_addr), TOKEN_ADDR_MAX);
	s = encode_ok(&t);
	assert_int_equal(strlen(s), TOKEN_STR_MAX - 1);
	assert_int_equal(strlen(s), 402);
	assert_int_equal(decode(s, &e), 0);
	free_str(s);

	/* the shortest: 1-byte post, "a:1" */
	memset(&t.post, 0, sizeof(t.post));
	memset(&t.hq_addr, 0, sizeof(t.hq_addr));
	strcpy(t.post, "A");
	strcpy(t.hq_addr, "a:1");
	s = encode_ok(&t);
	assert_int_equal(strlen(s), 196);
	assert_int_equal(decode(s, &e), 0);
	free_str(s);
}

/* Every single-character substitution is refused, none is another token. */
static void
test_every_typo(void **state)
{
	struct join_token t;
	char *s;
	size_t n, tried = 0, rejected = 0;

	(void)state;
	make_token(&t);
	s = encode_ok(&t);
	n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		char save = s[i];

		for (size_t k = 0; k < 64; k++) {
			int r;

			if (b64url[k] == save)
				continue;
			s[i] = b64url[k];
			tried++;
			r = decode(s, NULL);
			if (i < 10)
				assert_int_equal(r, KERR_FORMAT);
			else
				assert_true(r == KERR_CHECKSUM || r == KERR_FORMAT);
			rejected += r != 0;
		}
		s[i] = save;
	}
	assert_int_equal(rejected, tried);
	assert_true(tried > 60 * (n - 10));
	/* and swapping two neighbours, the other common slip */
	for (size_t i = 10; i + 1 < n; i++) {
		char a = s[i];

		if (a == s[i + 1])
			continue;
		s[i] = s[i + 1];
		s[i + 1] = a;
		assert_int_not_equal(decode(s, NULL), 0);
		s[i + 1] = s[i];
		s[i] = a;
	}
	assert_int_equal(decode(s, NULL), 0);
	free_str(s);
}

/* libsodium 1.0.18's base64 decoder takes some bytes >= 0x80: refused first. */
static void
test_high_bytes(void **state)
{
	struct join_token t;
	struct kerr e = { "" };
	char *s;

	(void)state;
	make_token(&t);
	s = encode_ok(&t);
	for (size_t i = 10; i < strlen(s); i++) {
		char save = s[i];

		for (int c = 0x80; c <= 0xff; c++) {
			s[i] = (char)c;
			assert_int_equal(decode(s, &e), KERR_FORMAT);
		}
		s[i] = save;
	}
	s[20] = (char)0xc3;
	assert_int_equal(decode(s, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "character 21 (byte 0xc3)"));
	s[20] = '=';
	assert_int_equal(decode(s, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "character 21 ('=')"));
	s[20] = ' ';
	assert_int_equal(decode(s, &e), KERR_FORMAT);
	free_str(s);
}

static void
test_truncations(void **state)
{
	struct join_token t;
	struct kerr e = { "" };
	char *s, *longer;
	size_t n;

	(void)state;
	make_token(&t);
	s = encode_ok(&t);
	n = strlen(s);
	for (size_t k = 0; k < n; k++) {
		char save = s[k];
		int r;

		s[k] = '\0';
		r = decode(s, &e);
		assert_true(r == KERR_FORMAT || r == KERR_CHECKSUM);
		s[k] = save;
	}
	/* one character more, and one dropped from the middle */
	longer = malloc(n + 2);
	assert_non_null(longer);
	snprintf(longer, n + 2, "%sA", s);
	assert_int_not_equal(decode(longer, &e), 0);
	memmove(longer + 40, longer + 41, n + 1 - 40);
	assert_int_not_equal(decode(longer, &e), 0);
	free_str(longer);
	free_str(s);
}

static void
test_garbage(void **state)
{
	struct join_token t;
	struct kerr e = { "" };
	char *s, *w, big[TOKEN_STR_MAX + 8];

	(void)state;
	assert_int_equal(decode("", &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "kodenjoin1"));
	assert_int_equal(decode("kodenjoin1", &e), KERR_FORMAT);
	assert_int_equal(decode("kodenpub1AAAA", &e), KERR_FORMAT);
	make_token(&t);
	s = encode_ok(&t);
	s[9] = '2';
	assert_int_equal(decode(s, &e), KERR_FORMAT);
	s[9] = '1';
	s[0] = 'K';
	assert_int_equal(decode(s, &e), KERR_FORMAT);
	free_str(s);
	memcpy(big, "kodenjoin1", 10);
	memset(big + 10, 'A', sizeof(big) - 11);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(decode(big, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "longer than any token"));

	/* correct checksum, unknown version */
	w = raw_token(&t, 2, t.hq_addr, NULL, 0);
	assert_int_equal(decode(w, &e), KERR_VERSION);
	free_str(w);
	/* correct checksum, bytes after the secret */
	w = raw_token(&t, 1, t.hq_addr, "x", 1);
	assert_int_equal(decode(w, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "unexpected bytes"));
	free_str(w);
	/* correct checksum, NUL inside the address or the post */
	w = raw_token_n(&t, 1, t.post, strlen(t.post), "hq\0x:7443", 9, NULL, 0);
	assert_int_equal(decode(w, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "NUL"));
	free_str(w);
	w = raw_token_n(&t, 1, "WASH\0", 5, t.hq_addr, strlen(t.hq_addr),
	    NULL, 0);
	assert_int_equal(decode(w, &e), KERR_FORMAT);
	free_str(w);
	/* correct checksum, a 33-byte post name */
	w = raw_token_n(&t, 1, "PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP", 33, t.hq_addr,
	    strlen(t.hq_addr), NULL, 0);
	assert_int_equal(decode(w, &e), KERR_TOOBIG);
	free_str(w);
	/* correct checksum, cut inside the keys */
	raw_cut = 1;
	w = raw_token(&t, 1, t.hq_addr, NULL, 0);
	raw_cut = 0;
	assert_int_equal(decode(w, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "ends inside the keys"));
	free_str(w);
	{
		struct join_token u = t;

		strcpy(u.post, "WASH\001NGTON");
		w = raw_token(&u, 1, t.hq_addr, NULL, 0);
		assert_int_equal(decode(w, &e), KERR_INVALID);
		free_str(w);
	}
}

/* A post name and keys that the encoder refuses, the decoder refuses too. */
static void
test_fields(void **state)
{
	static const char *const bad_posts[] = {
		"", "washington", "WASHINGTON ", "-WASH", "WASH:", "WASH\tX",
		"WASH  X", "W\xc3\x89",
	};
	struct join_token t, u;
	struct kerr e = { "" };
	char *s, *w;

	(void)state;
	make_token(&t);
	for (size_t i = 0; i < sizeof(bad_posts) / sizeof(bad_posts[0]); i++) {
		int want = KERR_INVALID;

		u = t;
		strcpy(u.post, bad_posts[i]);
		assert_int_equal(token_encode(&s, &u), want);
		assert_null(s);
		w = raw_token(&u, 1, u.hq_addr, NULL, 0);
		assert_int_equal(decode(w, &e), want);
		assert_non_null(strstr(e.msg, "post name"));
		free_str(w);
	}
	for (int k = 0; k < 4; k++) {
		u = t;
		memset(k == 0 ? u.hq_pk.sign : k == 1 ? u.hq_pk.enc :
		    k == 2 ? u.dir_pk : u.secret, 0, 32);
		assert_int_equal(token_encode(&s, &u), KERR_INVALID);
		w = raw_token(&u, 1, u.hq_addr, NULL, 0);
		assert_int_equal(decode(w, &e), KERR_INVALID);
		assert_non_null(strstr(e.msg, "all zeros"));
		free_str(w);
	}
}

static const char *const good_addrs[] = {
	"hq:1", "hq:65535", "hq.koden.example:7443", "10.0.0.1:7443",
	"HQ.Example-1.jp:443", "[::1]:7443", "[fe80::1]:7443",
	"[::ffff:10.0.0.1]:7443", "[2001:DB8::7]:7443", "1hq:80",
};

static const char *const bad_addrs[] = {
	"hq",			/* no port */
	":7443",		/* no host */
	"hq:",			/* empty port */
	"hq:0",
	"hq:65536",
	"hq:99999",
	"hq:123456",
	"hq:07443",		/* leading zero */
	"hq:74a3",
	"hq:+80",
	"hq:-1",
	"hq: 7443",
	"h q:7443",
	"hq\t:7443",
	"hq\001:7443",
	"hq\177:7443",
	"h\xc3\xa9q:7443",	/* non-ASCII */
	"::1:7443",		/* IPv6 without brackets */
	"[::1:7443",
	"::1]:7443",
	"[]:7443",
	"[:]:7443",
	"[::g]:7443",
	"[::1]x:7443",
	"-hq:7443",		/* could pass for an option */
	".hq:7443",
	"hq/x:7443",
	"user@hq:7443",
	"hq_1:7443",
	"",
	":",
};

static void
test_addresses(void **state)
{
	struct join_token t, back;
	struct kerr e = { "" };
	char *s, *w, longest[200];

	(void)state;
	make_token(&t);
	for (size_t i = 0; i < sizeof(good_addrs) / sizeof(good_addrs[0]); i++) {
		strcpy(t.hq_addr, good_addrs[i]);
		s = encode_ok(&t);
		if (token_decode(&back, s, &e) != 0)
			fail_msg("'%s': %s", good_addrs[i], e.msg);
		assert_string_equal(back.hq_addr, good_addrs[i]);
		free_str(s);
	}
	for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
		int r;

		strcpy(t.hq_addr, bad_addrs[i]);
		r = token_encode(&s, &t);
		if (r != KERR_INVALID)
			fail_msg("encoder took '%s' (%d)", bad_addrs[i], r);
		assert_null(s);
		w = raw_token(&t, 1, bad_addrs[i], NULL, 0);
		r = decode(w, &e);
		if (r != KERR_INVALID || strstr(e.msg, "HQ address") == NULL)
			fail_msg("decoder: '%s': %d %s", bad_addrs[i], r, e.msg);
		free_str(w);
	}
	/* 128 bytes: over the limit (the decoder's own length check) */
	memset(longest, 'h', 122);
	strcpy(longest + 122, ":7443");
	assert_int_equal(strlen(longest), 127);
	strcpy(t.hq_addr, longest);
	s = encode_ok(&t);
	free_str(s);
	memmove(longest + 1, longest, 128);
	w = raw_token(&t, 1, longest, NULL, 0);
	assert_int_equal(decode(w, &e), KERR_TOOBIG);
	free_str(w);
	/* not NUL-terminated in the struct */
	memset(t.hq_addr, 'h', sizeof(t.hq_addr));
	assert_int_equal(token_encode(&s, &t), KERR_INVALID);
}

/* Known answer from Python: hashlib.blake2b(b"koden enrol v1" + bytes(range(32)), digest_size=32). */
static void
test_hash(void **state)
{
	uint8_t secret[32], h[32], h2[32], *want;
	size_t n;

	(void)state;
	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)i;
	token_hash(h, secret);
	want = vec_unhex("b0d3de3b52c6fb1b0462f4a950cbc660ba3e5cb168bd5cc747c9"
	    "20e4f3dcb2e1", &n);
	assert_int_equal(n, 32);
	assert_memory_equal(h, want, 32);
	free(want);
	secret[31] ^= 1;
	token_hash(h2, secret);
	assert_memory_not_equal(h, h2, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_matches_spec),
		cmocka_unit_test(test_every_typo),
		cmocka_unit_test(test_high_bytes),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_hash),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
