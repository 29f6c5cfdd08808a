/*
 * Identities: every post and every person holds an Ed25519 signing key and a
 * separate X25519 encryption key.  The public half travels as one line of
 * text (docs/format.md, "Public key string"); the secret half lives in a key
 * file sealed with Argon2id + XChaCha20-Poly1305 (docs/format.md, "Secret key
 * file"), mode 0600.
 */
#ifndef KODEN_KEYS_H
#define KODEN_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "lib/err.h"

#define KEY_SIGN_PK 32
#define KEY_SIGN_SK 64		/* libsodium's seed || pk form */
#define KEY_ENC_PK 32
#define KEY_ENC_SK 32
#define KEY_NAME_MAX 64		/* bytes of UTF-8 */
#define KEY_HINT 4		/* key-id hint in envelope wraps */
#define PUBKEY_PREFIX "kodenpub1"
#define PUBKEY_STR_MAX 128	/* with NUL */
#define KEYFILE_MAX 4096
#define PASSPHRASE_MAX 1024

struct pubkey {
	uint8_t sign[KEY_SIGN_PK];
	uint8_t enc[KEY_ENC_PK];
};

/* Allocated with sodium_malloc (guarded, locked); free with identity_free. */
struct identity {
	struct pubkey pub;
	uint8_t sign_sk[KEY_SIGN_SK];
	uint8_t enc_sk[KEY_ENC_SK];
	char name[KEY_NAME_MAX + 1];
};

/* A fresh identity; name may be NULL or at most KEY_NAME_MAX bytes of UTF-8. */
int identity_generate(struct identity **out, const char *name) KODEN_WUR;
void identity_free(struct identity *id);

/* "kodenpub1" + base64url(sign || enc || checksum[4]); out holds PUBKEY_STR_MAX. */
void pubkey_encode(char out[static PUBKEY_STR_MAX], const struct pubkey *pk);
/*
 * Parse a public key string (surrounding blanks allowed).  KERR_FORMAT for a
 * wrong prefix or bad base64, KERR_CHECKSUM for a mistyped key.
 */
int pubkey_decode(struct pubkey *pk, const char *s, struct kerr *e) KODEN_WUR;
/* The 4-byte key-id hint of an encryption public key. */
void pubkey_hint(uint8_t hint[static KEY_HINT], const uint8_t enc[static KEY_ENC_PK]);
/* 1 if equal (constant time). */
int pubkey_equal(const struct pubkey *a, const struct pubkey *b);

/* Argon2id cost of new key files; both are stored in the file. */
#define KEYFILE_OPSLIMIT crypto_pwhash_argon2id_OPSLIMIT_MODERATE
#define KEYFILE_MEMLIMIT crypto_pwhash_argon2id_MEMLIMIT_MODERATE
/* Caps a key file may ask for (a hostile file must not eat the machine). */
#define KEYFILE_OPSLIMIT_MAX 16
#define KEYFILE_MEMLIMIT_MAX (1024ULL * 1024 * 1024)

/*
 * Serialize id into the key file text.  pass == NULL writes an unencrypted
 * file (servers only).  Caller frees *out with free() after wiping.
 */
int keyfile_encode(char **out, size_t *out_len, const struct identity *id,
    const char *pass, size_t pass_len) KODEN_WUR;
/* 1 if the key file text is passphrase-protected, 0 if not, <0 if not a key file. */
int keyfile_encrypted(const uint8_t *p, size_t len, struct kerr *e);
/* Parse and (if encrypted) unlock.  KERR_PASSPHRASE for a wrong passphrase. */
int keyfile_decode(struct identity **out, const uint8_t *p, size_t len,
    const char *pass, size_t pass_len, struct kerr *e) KODEN_WUR;

/* Write a key file with mode 0600 (refuses to overwrite: KERR_EXISTS). */
int keyfile_write(const char *path, const struct identity *id,
    const char *pass, size_t pass_len, struct kerr *e) KODEN_WUR;
/*
 * Read a key file's text, refusing (KERR_PERM) one that group or others
 * can read.  Caller wipes and frees *out.
 */
int keyfile_read(const char *path, uint8_t **out, size_t *out_len,
    struct kerr *e) KODEN_WUR;

#endif
