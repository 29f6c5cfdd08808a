/*
 * Delivery and read receipts (docs/directory.md, "Receipt").  The addressee
 * post signs that it stored a telegram, or that an officer read it; HQ
 * routes the receipt back to the origin post, which matches it to the
 * envelope it sent by id and envelope hash.
 *
 * The receipt carries its signer's keys.  receipt_decode proves only that
 * the holder of by_pk signed it: the CALLER must check that by_pk is the
 * roster's key for the post named in `by` (roster_find), or anyone could
 * sign a receipt in a post's name.
 */
#ifndef KODEN_RECEIPT_H
#define KODEN_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "telegram/tg.h"

#define RECEIPT_MAGIC "KDNC"
#define RECEIPT_VERSION 1
#define RECEIPT_SIG_LABEL "koden receipt v1"
#define RECEIPT_HASH_LABEL "koden envelope hash v1"
#define RECEIPT_HASH_BYTES 32
#define RECEIPT_SIG_BYTES 64
/* magic, version, id, hash, two str8 posts, state, time, keys, signature */
#define RECEIPT_MAX (4 + 1 + TG_ID_LEN + RECEIPT_HASH_BYTES + \
	2 * (1 + TG_POST_MAX) + 1 + 8 + KEY_SIGN_PK + KEY_ENC_PK + \
	RECEIPT_SIG_BYTES)

/* 1 and 2 are left for the relay's own states (queued, relayed). */
enum receipt_state { RECEIPT_DELIVERED = 3, RECEIPT_READ = 4 };

struct receipt {
	uint8_t id[TG_ID_LEN];			/* the telegram's id */
	uint8_t env_hash[RECEIPT_HASH_BYTES];	/* receipt_env_hash of the envelope */
	char origin[TG_POST_MAX + 1];		/* the telegram's origin post */
	char by[TG_POST_MAX + 1];		/* the addressee post that signs */
	uint8_t state;				/* enum receipt_state */
	uint64_t time;				/* Unix seconds UTC */
	struct pubkey by_pk;			/* the signer's keys (set by decode) */
};

/*
 * Check r, sign it with by_key and append it to out.  The keys written are
 * by_key->pub; r->by_pk is not read.  A receipt that receipt_decode would
 * reject is refused with the same reason; out is left as it was on failure.
 */
int receipt_encode(struct buf *out, const struct receipt *r,
    const struct identity *by_key, struct kerr *e) KODEN_WUR;

/*
 * Decode exactly len bytes, check every field, and check the signature
 * against the embedded by_pk (KERR_SIGNATURE).  See the note above: the
 * caller still has to check by_pk against the roster.  *out is zeroed on
 * failure.
 */
int receipt_decode(struct receipt *out, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;

/*
 * receipt_decode without the signature check, for HQ's relay: the receipt
 * arrived on the Noise link of the post it names (the channel authenticated
 * it), and the origin, which acts on it, verifies the signature itself.
 */
int receipt_parse(struct receipt *out, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;

/* BLAKE2b-256("koden envelope hash v1" || env): names one exact envelope. */
void receipt_env_hash(uint8_t out[static RECEIPT_HASH_BYTES],
    const uint8_t *env, size_t len);

#endif
