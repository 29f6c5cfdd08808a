/*
 * Network administration shared by kodend and the koden CLI: the node
 * directory's files, building and signing the roster from the members table,
 * loading the current roster, and HQ's changes to its directory (a member
 * added or revoked, with the roster rebuilt, in one transaction).
 */
#ifndef KODEN_ADMIN_H
#define KODEN_ADMIN_H

#include <stdint.h>

#include "crypto/keys.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "node/directory.h"
#include "store/store.h"

#define NODE_KEY_FILE "node.key"
#define NODE_DIRKEY_FILE "directory.key"
#define NODE_DB_FILE "store.db"
#define NODE_PID_FILE "kodend.pid"
#define NODE_SOCK_FILE "api.sock"
#define NODE_PROLOGUE "koden channel v1"
#define NODE_ENROL_LABEL "koden enrol v1"
#define ENROL_TTL (7 * 24 * 3600)	/* seconds an enrolment token is valid */

/* NODEDIR/name into out (PATH_MAX); KERR_TOOBIG if it does not fit. */
int node_path(char *out, size_t max, const char *nodedir, const char *name);

/*
 * Build the roster from the members table, give it the next version, sign
 * it with dirkey and store it (meta "roster", "roster_version").  Call inside
 * the transaction that changed the members.
 */
int admin_roster_rebuild(struct store *st, const struct identity *dirkey,
    uint64_t now, struct kerr *e) KODEN_WUR;

/*
 * The stored roster, verified with dir_pk.  *found = 0 if none yet.  blob
 * (may be NULL) receives the signed bytes.  Caller frees r.
 */
int admin_roster_load(struct store *st, const uint8_t dir_pk[static 32],
    struct roster *r, struct buf *blob, int *found, struct kerr *e) KODEN_WUR;

/*
 * HQ's directory changes, each one transaction of its own: begin, the
 * member change, admin_roster_rebuild signed with dirkey at time now,
 * commit; on any failure rolled back, nothing changed.  The caller owns st
 * and dirkey, opens no transaction of its own around them, and tells a
 * running kodend to reload (API_RELOAD) once they return 0.
 */
/*
 * Add m (HQ, a post or a person; m is copied).  KERR_EXISTS if its name is
 * taken; every failure says what in e.
 */
int admin_member_add(struct store *st, const struct identity *dirkey,
    const struct store_member *m, uint64_t now, struct kerr *e) KODEN_WUR;
/*
 * Revoke the member called name as of now.  *found = 0 (and 0 returned,
 * nothing changed) if the roster has no such name.
 */
int admin_member_revoke(struct store *st, const struct identity *dirkey,
    const char *name, uint64_t now, int *found, struct kerr *e) KODEN_WUR;

/* The message a new post signs to prove it holds its signing key. */
int admin_enrol_message(struct buf *out, const char *name,
    const uint8_t enc_pk[static 32]) KODEN_WUR;

#endif
