/*
 * The enrolment token (docs/directory.md, "Enrolment token").  HQ's
 * `koden network add-post NAME` prints one; it is carried out of band to the
 * post, which presents it once to enrol.  It tells the post where HQ is, the
 * keys to trust (HQ's node key and the directory key), and a one-time secret
 * that proves to HQ that the post holds the token.  HQ keeps only
 * token_hash(secret).
 *
 * The token string and struct join_token hold the secret: wipe both
 * (sodium_memzero) once the post has enrolled or the attempt failed.
 */
#ifndef KODEN_TOKEN_H
#define KODEN_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "lib/err.h"
#include "telegram/tg.h"

#define TOKEN_PREFIX "kodenjoin1"
#define TOKEN_VERSION 1
#define TOKEN_ADDR_MAX 127	/* host:port, bytes */
#define TOKEN_SECRET 32
#define TOKEN_CHECKSUM 4
#define TOKEN_CHECKSUM_LABEL "koden join checksum v1"
#define TOKEN_HASH_LABEL "koden enrol v1"
/* version, str8 post, str8 address, three keys, secret, checksum */
#define TOKEN_RAW_MAX (1 + 1 + TG_POST_MAX + 1 + TOKEN_ADDR_MAX + \
	KEY_SIGN_PK + KEY_ENC_PK + KEY_SIGN_PK + TOKEN_SECRET + TOKEN_CHECKSUM)
/* base64url without padding of TOKEN_RAW_MAX bytes (294 -> 392) */
#define TOKEN_B64_MAX ((TOKEN_RAW_MAX / 3) * 4 + \
	(TOKEN_RAW_MAX % 3 ? TOKEN_RAW_MAX % 3 + 1 : 0))
#define TOKEN_STR_MAX (sizeof(TOKEN_PREFIX) - 1 + TOKEN_B64_MAX + 1)	/* with NUL */

struct join_token {
	char post[TG_POST_MAX + 1];		/* the post being enrolled */
	char hq_addr[TOKEN_ADDR_MAX + 1];	/* host:port of HQ's node */
	struct pubkey hq_pk;			/* HQ's node key */
	uint8_t dir_pk[KEY_SIGN_PK];		/* directory signing key */
	uint8_t secret[TOKEN_SECRET];		/* one-time enrolment secret */
};

/* BLAKE2b-256("koden enrol v1" || secret): what HQ stores and compares. */
void token_hash(uint8_t out[static 32], const uint8_t secret[static TOKEN_SECRET]);

/*
 * "kodenjoin1" + base64url-no-pad(payload || checksum).  A token that
 * token_decode would reject is refused (KERR_INVALID / KERR_TOOBIG).
 * Caller wipes (sodium_memzero(*out, strlen(*out))) and frees *out.
 */
int token_encode(char **out, const struct join_token *t) KODEN_WUR;

/*
 * Parse a token string (surrounding blanks allowed).  KERR_FORMAT for a
 * wrong prefix or a character outside base64url, KERR_CHECKSUM for a
 * mistyped token, KERR_VERSION, or KERR_INVALID / KERR_TOOBIG for a bad
 * post name or HQ address.  *t is wiped on failure.
 */
int token_decode(struct join_token *t, const char *s, struct kerr *e) KODEN_WUR;

#endif
