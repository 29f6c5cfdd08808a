/*
 * The roster: HQ's signed directory of every site and person in the network,
 * byte for byte in docs/directory.md.  HQ signs it with its directory key;
 * posts fetch it, check the signature against the directory public key they
 * were enrolled with, refuse a rollback (roster_accept), and resolve
 * addressees by name and senders by key.
 *
 * A struct roster owns its entry array; roster_free releases it.
 */
#ifndef KODEN_DIRECTORY_H
#define KODEN_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "lib/buf.h"
#include "lib/err.h"

#define ROSTER_MAGIC "KDNR"
#define ROSTER_VERSION 1
#define ROSTER_SIG_LABEL "koden roster v1"
#define ROSTER_ENTRIES_MAX 2048
#define ROSTER_NAME_MAX 64	/* person names; site names are TG_POST_MAX */
#define ROSTER_HEAD_BYTES (4 + 1 + 8 + 8 + 2)
#define ROSTER_SIG_BYTES 64
/* Largest entry: kind, str8 name (64), str8 post (32), keys, revoked. */
#define ROSTER_ENTRY_MAX (1 + 1 + ROSTER_NAME_MAX + 1 + 32 + \
	KEY_SIGN_PK + KEY_ENC_PK + 1)
#define ROSTER_MAX (ROSTER_HEAD_BYTES + \
	ROSTER_ENTRIES_MAX * ROSTER_ENTRY_MAX + ROSTER_SIG_BYTES)

enum roster_kind { ROSTER_HQ = 1, ROSTER_POST = 2, ROSTER_PERSON = 3 };

struct roster_entry {
	uint8_t kind;			/* enum roster_kind */
	char name[ROSTER_NAME_MAX + 1];
	char post[ROSTER_NAME_MAX + 1];	/* persons: their post (or HQ), else "" */
	struct pubkey pk;
	uint8_t revoked;		/* 0 or 1 */
};

struct roster {
	uint64_t version;		/* >= 1; higher replaces lower */
	uint64_t time;			/* Unix seconds UTC when HQ signed it */
	size_t n;
	struct roster_entry *v;		/* n entries, strictly increasing names */
};

/*
 * Check r against every rule of the format (docs/directory.md, "Roster
 * rules"), and sign and append it to out with dirkey.  A roster that
 * roster_decode would reject is refused with the same reason, and out is
 * left as it was on any failure.  Entries must already be in name order
 * (byte order, as strcmp).
 */
int roster_encode(struct buf *out, const struct roster *r,
    const struct identity *dirkey, struct kerr *e) KODEN_WUR;

/*
 * Decode exactly len bytes.  The signature is checked against dir_sign_pk
 * before any field is parsed (KERR_SIGNATURE), so the parser sees only
 * bytes HQ's directory key signed; then every field and rule is checked.
 * On success caller frees *out with roster_free; on failure *out is empty.
 */
int roster_decode(struct roster *out, const uint8_t *p, size_t len,
    const uint8_t dir_sign_pk[static KEY_SIGN_PK], struct kerr *e) KODEN_WUR;

/* Free the entries; r is left empty (n = 0, v = NULL).  NULL is a no-op. */
void roster_free(struct roster *r);

/*
 * The entry named exactly name (byte comparison), or NULL.  Revoked entries
 * are returned too: the caller decides what revocation means for its use.
 * Valid as long as r is.
 */
const struct roster_entry *roster_find(const struct roster *r,
    const char *name);
/* The entry whose X25519 key is enc_pk, or NULL (revoked ones included). */
const struct roster_entry *roster_find_key(const struct roster *r,
    const uint8_t enc_pk[static KEY_ENC_PK]);

/*
 * May next (already decoded and verified) replace current (NULL if the post
 * has no roster yet)?  0 if next's version is higher, or if it is the same
 * version with identical content (a no-op).  KERR_INVALID for a lower
 * version (a rollback) or for a different roster under the same version.
 */
int roster_accept(const struct roster *current, const struct roster *next,
    struct kerr *e) KODEN_WUR;

#endif
