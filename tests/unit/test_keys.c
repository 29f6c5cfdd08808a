/* Identities, public key strings, secret key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/keys.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
test_pubkey_roundtrip(void **state)
{
	struct identity *id;
	struct pubkey pk;
	char s[PUBKEY_STR_MAX], padded[PUBKEY_STR_MAX + 8];
	struct kerr e = { "" };

	(void)state;
	assert_int_equal(identity_generate(&id, "TOKYO"), 0);
	pubkey_encode(s, &id->pub);
	assert_int_equal(strncmp(s, "kodenpub1", 9), 0);
	assert_int_equal(strlen(s), 9 + 91);
	assert_int_equal(pubkey_decode(&pk, s, &e), 0);
	assert_true(pubkey_equal(&pk, &id->pub));
	snprintf(padded, sizeof(padded), "  %s \r\n", s);
	assert_int_equal(pubkey_decode(&pk, padded, &e), 0);
	assert_true(pubkey_equal(&pk, &id->pub));
	/* the encryption key is X25519 of the secret, the signing key Ed25519 */
	uint8_t enc[32];
	assert_int_equal(crypto_scalarmult_base(enc, id->enc_sk), 0);
	assert_memory_equal(enc, id->pub.enc, 32);
	assert_memory_equal(id->sign_sk + 32, id->pub.sign, 32);
	identity_free(id);
}

/* Every single-character substitution in the key is rejected, never accepted as another key. */
static void
test_pubkey_every_typo(void **state)
{
	struct identity *id;
	struct pubkey pk;
	char s[PUBKEY_STR_MAX], t[PUBKEY_STR_MAX];
	size_t n, rejected = 0, tried = 0;

	(void)state;
	assert_int_equal(identity_generate(&id, NULL), 0);
	pubkey_encode(s, &id->pub);
	n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < 64; k += 7) {
			int r;

			memcpy(t, s, n + 1);
			if (t[i] == b64url[k])
				continue;
			t[i] = b64url[k];
			tried++;
			r = pubkey_decode(&pk, t, NULL);
			assert_true(r == KERR_CHECKSUM || r == KERR_FORMAT);
			rejected++;
		}
	}
	/*
	 * A 32-bit checksum lets about 2^-32 of typos through: none of these
	 * few hundred may pass.
	 */
	assert_int_equal(rejected, tried);
	identity_free(id);
}

static void
test_pubkey_hostile(void **state)
{
	struct identity *id;
	struct pubkey pk;
	struct kerr e = { "" };
	char s[PUBKEY_STR_MAX], t[PUBKEY_STR_MAX + 4];

	(void)state;
	assert_int_equal(identity_generate(&id, NULL), 0);
	pubkey_encode(s, &id->pub);
	assert_int_equal(pubkey_decode(&pk, "", &e), KERR_FORMAT);
	assert_int_equal(pubkey_decode(&pk, "age1qqqq", &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "kodenpub1"));
	for (size_t n = 0; n < strlen(s); n++) {
		memcpy(t, s, n);
		t[n] = '\0';
		assert_int_not_equal(pubkey_decode(&pk, t, NULL), 0);
	}
	snprintf(t, sizeof(t), "%sA", s);
	assert_int_equal(pubkey_decode(&pk, t, NULL), KERR_FORMAT);
	memcpy(t, s, strlen(s) + 1);
	t[20] = '=';
	assert_int_equal(pubkey_decode(&pk, t, NULL), KERR_FORMAT);
	memcpy(t, s, strlen(s) + 1);
	t[0] = 'K';
	assert_int_equal(pubkey_decode(&pk, t, NULL), KERR_FORMAT);
	identity_free(id);
}

/*
 * Regression (fuzz_pubkey): libsodium 1.0.18's base64 decoder accepts some
 * bytes >= 0x80; a key with one character replaced by one must be refused.
 */
static void
test_pubkey_high_bytes(void **state)
{
	struct identity *id;
	struct pubkey pk;
	char s[PUBKEY_STR_MAX];

	(void)state;
	assert_int_equal(identity_generate(&id, NULL), 0);
	pubkey_encode(s, &id->pub);
	for (size_t i = 9; i < strlen(s); i++) {
		for (int c = 0x80; c <= 0xff; c++) {
			char save = s[i];

			s[i] = (char)c;
			assert_int_equal(pubkey_decode(&pk, s, NULL), KERR_FORMAT);
			s[i] = save;
		}
	}
	identity_free(id);
}

static void
test_hint(void **state)
{
	struct identity *a, *b;
	uint8_t h1[KEY_HINT], h2[KEY_HINT], h3[KEY_HINT];

	(void)state;
	assert_int_equal(identity_generate(&a, NULL), 0);
	assert_int_equal(identity_generate(&b, NULL), 0);
	pubkey_hint(h1, a->pub.enc);
	pubkey_hint(h2, a->pub.enc);
	pubkey_hint(h3, b->pub.enc);
	assert_memory_equal(h1, h2, KEY_HINT);
	assert_memory_not_equal(h1, h3, KEY_HINT);
	identity_free(a);
	identity_free(b);
}

static void
test_name(void **state)
{
	struct identity *id;
	char longname[KEY_NAME_MAX + 2];

	(void)state;
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(identity_generate(&id, longname), KERR_INVALID);
	longname[KEY_NAME_MAX] = '\0';
	assert_int_equal(identity_generate(&id, longname), 0);
	identity_free(id);
	assert_int_equal(identity_generate(&id, "bad\x01name"), KERR_INVALID);
	assert_int_equal(identity_generate(&id, "\xc0\xaf"), KERR_INVALID);
	assert_int_equal(identity_generate(&id, "\xe6\x9d\xb1\xe4\xba\xac"), 0);
	identity_free(id);
}

static void
same_identity(const struct identity *a, const struct identity *b)
{
	assert_true(pubkey_equal(&a->pub, &b->pub));
	assert_memory_equal(a->sign_sk, b->sign_sk, KEY_SIGN_SK);
	assert_memory_equal(a->enc_sk, b->enc_sk, KEY_ENC_SK);
	assert_string_equal(a->name, b->name);
}

/* Unencrypted key files: round trip, every truncation, every bit flip. */
static void
test_keyfile_plain(void **state)
{
	struct identity *id, *back;
	struct kerr e = { "" };
	char *txt;
	size_t len;

	(void)state;
	assert_int_equal(identity_generate(&id, "NEW YORK"), 0);
	assert_int_equal(keyfile_encode(&txt, &len, id, NULL, 0), 0);
	assert_int_equal(keyfile_encrypted((uint8_t *)txt, len, &e), 0);
	assert_int_equal(keyfile_decode(&back, (uint8_t *)txt, len, NULL, 0, &e), 0);
	same_identity(id, back);
	identity_free(back);
	assert_non_null(strstr(txt, "# name: NEW YORK\n"));

	/* every truncation fails (the END line is required), except one that
	 * drops only the final newline */
	for (size_t n = 0; n < len - 1; n++)
		assert_int_not_equal(keyfile_decode(&back, (uint8_t *)txt, n,
		    NULL, 0, &e), 0);
	/* a flipped bit in the BEGIN or END line is always rejected; one in
	 * the key block may give another valid key (an unencrypted file has
	 * no integrity, which is why keygen warns), but never a crash */
	char *begin = strstr(txt, "-----BEGIN"), *end = strstr(txt, "-----END");
	for (size_t i = 0; i < len * 8; i++) {
		size_t at = i / 8;
		int armor = (txt + at >= begin && txt + at < begin + 33) ||
		    (txt + at >= end && txt + at < end + 30);
		int r;

		txt[at] ^= (char)(1 << (i % 8));
		r = keyfile_decode(&back, (uint8_t *)txt, len, NULL, 0, NULL);
		if (armor)
			assert_int_not_equal(r, 0);
		if (r == 0)
			identity_free(back);
		txt[at] ^= (char)(1 << (i % 8));
	}
	free(txt);
	identity_free(id);
}

/* Passphrase-protected: right, wrong, missing passphrase; tampering. */
static void
test_keyfile_passphrase(void **state)
{
	struct identity *id, *back = NULL;
	struct kerr e = { "" };
	char *txt;
	size_t len;
	const char *pass = "correct horse battery staple";
	char *blk;

	(void)state;
	assert_int_equal(identity_generate(&id, "K. SATO"), 0);
	assert_int_equal(keyfile_encode(&txt, &len, id, pass, strlen(pass)), 0);
	assert_int_equal(keyfile_encrypted((uint8_t *)txt, len, &e), 1);
	assert_null(strstr(txt, "PRIVATE"));
	assert_int_equal(keyfile_decode(&back, (uint8_t *)txt, len, pass,
	    strlen(pass), &e), 0);
	same_identity(id, back);
	identity_free(back);
	assert_int_equal(keyfile_decode(&back, (uint8_t *)txt, len, "wrong", 5,
	    &e), KERR_PASSPHRASE);
	assert_null(back);
	assert_non_null(strstr(e.msg, "wrong passphrase"));
	assert_int_equal(keyfile_decode(&back, (uint8_t *)txt, len, NULL, 0, &e),
	    KERR_PASSPHRASE);
	/* a changed character in the sealed block is detected */
	blk = strstr(txt, "-----END") - 10;
	*blk = *blk == 'A' ? 'B' : 'A';
	assert_int_not_equal(keyfile_decode(&back, (uint8_t *)txt, len, pass,
	    strlen(pass), &e), 0);
	assert_null(back);
	sodium_memzero(txt, len);
	free(txt);
	identity_free(id);
}

/* A hostile key file cannot make us spend unbounded memory or time. */
static void
test_keyfile_hostile_cost(void **state)
{
	/* magic KDNK, v1, kdf 1, ops 1000, mem 2^40, then junk */
	uint8_t raw[64] = { 'K', 'D', 'N', 'K', 1, 1, 0, 0, 0x03, 0xe8,
	    0, 0, 0x01, 0, 0, 0, 0, 0 };
	char b64[128], txt[512];
	struct identity *back = NULL;
	struct kerr e = { "" };

	(void)state;
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(txt, sizeof(txt), "-----BEGIN KODEN SECRET KEY-----\n%s\n"
	    "-----END KODEN SECRET KEY-----\n", b64);
	assert_int_equal(keyfile_decode(&back, (uint8_t *)txt, strlen(txt), "x",
	    1, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "outside the accepted range"));
	raw[5] = 9;	/* unknown kdf */
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(txt, sizeof(txt), "-----BEGIN KODEN SECRET KEY-----\n%s\n"
	    "-----END KODEN SECRET KEY-----\n", b64);
	assert_int_equal(keyfile_decode(&back, (uint8_t *)txt, strlen(txt), "x",
	    1, &e), KERR_FORMAT);
	raw[4] = 2;	/* unknown version */
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(txt, sizeof(txt), "-----BEGIN KODEN SECRET KEY-----\n%s\n"
	    "-----END KODEN SECRET KEY-----\n", b64);
	assert_int_equal(keyfile_decode(&back, (uint8_t *)txt, strlen(txt), "x",
	    1, &e), KERR_VERSION);
	assert_int_equal(keyfile_decode(&back, (const uint8_t *)"hello\n", 6,
	    NULL, 0, &e), KERR_FORMAT);
	assert_int_equal(keyfile_decode(&back, (const uint8_t *)"", 0, NULL, 0,
	    &e), KERR_TRUNCATED);
	assert_null(back);
}

static void
test_keyfile_files(void **state)
{
	char dir[] = "/tmp/koden-keys.XXXXXX", path[128];
	struct identity *id, *back;
	struct kerr e = { "" };
	struct stat st;
	uint8_t *txt;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k", dir);
	assert_int_equal(identity_generate(&id, "GENEVA"), 0);
	umask(022);
	assert_int_equal(keyfile_write(path, id, NULL, 0, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(keyfile_write(path, id, NULL, 0, &e), KERR_EXISTS);
	assert_int_equal(keyfile_read(path, &txt, &len, &e), 0);
	assert_int_equal(keyfile_decode(&back, txt, len, NULL, 0, &e), 0);
	same_identity(id, back);
	identity_free(back);
	free(txt);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(keyfile_read(path, &txt, &len, &e), KERR_PERM);
	assert_non_null(strstr(e.msg, "chmod 600"));
	assert_int_equal(keyfile_read(dir, &txt, &len, &e), KERR_FORMAT);
	unlink(path);
	assert_int_equal(keyfile_read(path, &txt, &len, &e), KERR_IO);
	rmdir(dir);
	identity_free(id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pubkey_roundtrip),
		cmocka_unit_test(test_pubkey_every_typo),
		cmocka_unit_test(test_pubkey_hostile),
		cmocka_unit_test(test_pubkey_high_bytes),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_keyfile_plain),
		cmocka_unit_test(test_keyfile_passphrase),
		cmocka_unit_test(test_keyfile_hostile_cost),
		cmocka_unit_test(test_keyfile_files),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
