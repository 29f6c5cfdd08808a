/*
 * The sealed telegram ("envelope"), byte for byte in docs/format.md.
 *
 *   routing header (cleartext; AEAD associated data; origin-signed)
 *   wraps: per recipient, key-id hint || HPKE enc || HPKE-sealed content key
 *   ciphertext: AEAD(content key, padded signed inner telegram)
 *   origin block: per-destination sequence numbers, origin keys, and the
 *   origin's signature over everything before it
 *
 * The relay can check the origin signature and read the routing header
 * without any decryption key; only a recipient can open the ciphertext.
 */
#ifndef KODEN_ENVELOPE_H
#define KODEN_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "telegram/tg.h"

#define ENV_MAGIC "KDNT"
#define ENV_VERSION 1
#define ENV_RECIPIENTS_MAX 1024
#define ENV_PAD_MIN 1024
#define ENV_MAX (4u << 20)	/* a whole envelope */
#define ENV_WRAP_BYTES (KEY_HINT + 32 + 32 + 16)
#define ENV_SIG_BYTES (KEY_SIGN_PK + KEY_ENC_PK + 64)
#define ENV_WRAP_INFO "koden wrap v1"

enum env_role { ENV_ACTION = 1, ENV_INFO = 2 };

struct env_addressee {
	char name[TG_POST_MAX + 1];
	uint8_t role;		/* enum env_role */
	uint64_t seq;		/* per-destination sequence number, 0 = none (origin block) */
};

/* The routing header as decoded; everything here is cleartext. */
struct env_header {
	uint8_t version;
	uint8_t id[TG_ID_LEN];
	uint64_t time;
	char origin[TG_POST_MAX + 1];
	uint8_t prec_action;
	uint8_t prec_info;
	uint16_t n_addr;
	struct env_addressee addr[TG_ADDRESSEES_MAX];
	uint32_t padded_size;	/* ciphertext bytes, without the tag */
	uint16_t n_wraps;
	struct pubkey origin_pk;	/* who signed the envelope */
	size_t header_len;	/* bytes of routing header incl. wraps */
	size_t body_len;	/* header, wraps and ciphertext: all but the origin block */
	size_t total_len;	/* bytes of the whole envelope */
};

/*
 * Seal t (id and dtg must be set) signed by drafter, envelope signed by
 * origin (may equal drafter), to n recipients.  Duplicate recipients are
 * wrapped once.  Appends to out.
 */
int env_seal(struct buf *out, const struct tg *t,
    const struct identity *drafter, const struct identity *origin,
    const struct pubkey *rcpt, size_t n, struct kerr *e) KODEN_WUR;

/*
 * Replace the origin block of a whole envelope that the caller has checked
 * with env_inspect (only its structure is checked again here): number it with one sequence number per addressee, in
 * routing-header order, and sign it with origin.  The origin node does this
 * when it accepts a telegram sealed by an officer; the ciphertext and the
 * drafter's signature are untouched.
 */
int env_sign_origin(struct buf *env, const uint64_t *seqs, size_t n,
    const struct identity *origin, struct kerr *e) KODEN_WUR;

/*
 * Parse the routing header and origin block without checking the origin
 * signature: only for an envelope this node already verified and stored
 * (reading its sequence numbers back); anything from outside goes through
 * env_inspect.
 */
int env_parse(struct env_header *h, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;

/*
 * Parse the routing header and check the origin signature; no key needed.
 * KERR_SIGNATURE if the envelope is forged or altered.
 */
int env_inspect(struct env_header *h, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;

/*
 * Open with id's encryption key: unwrap, decrypt, check the drafter's
 * signature and that the routing header matches the signed telegram.
 * Caller frees *out; *drafter is the key that signed the telegram.
 */
int env_open(struct tg **out, struct pubkey *drafter,
    struct env_header *h, const uint8_t *p, size_t len,
    const struct identity *id, struct kerr *e) KODEN_WUR;

/* Padding bucket for n bytes of plaintext. */
size_t env_pad_size(size_t n);

#endif
