/*
 * Network administration shared by kodend and the koden CLI (admin.h):
 * paths in the node directory, the signed roster built from the members
 * table, and HQ's directory changes, one transaction each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/admin.h"

int
node_path(char *out, size_t max, const char *nodedir, const char *name)
{
	int n = snprintf(out, max, "%s/%s", nodedir, name);

	return n < 0 || (size_t)n >= max ? KERR_TOOBIG : 0;
}

int
admin_roster_rebuild(struct store *st, const struct identity *dirkey,
    uint64_t now, struct kerr *e)
{
	struct store_member *m = NULL;
	struct roster r;
	struct buf blob;
	uint64_t version = 0;
	size_t n = 0;
	int found, rc;

	memset(&r, 0, sizeof(r));
	buf_init(&blob, ROSTER_MAX);
	if ((rc = store_member_list(st, &m, &n, e)) != 0 ||
	    (rc = store_meta_get_u64(st, "roster_version", &version, &found,
	    e)) != 0)
		goto out;
	if ((r.v = calloc(n ? n : 1, sizeof(*r.v))) == NULL) {
		rc = KERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct roster_entry *re = &r.v[i];

		re->kind = m[i].kind == STORE_HQ ? ROSTER_HQ :
		    m[i].kind == STORE_POST ? ROSTER_POST : ROSTER_PERSON;
		memcpy(re->name, m[i].name, sizeof(re->name));
		memcpy(re->post, m[i].post, sizeof(re->post));
		memcpy(re->pk.sign, m[i].sign_pk, 32);
		memcpy(re->pk.enc, m[i].enc_pk, 32);
		re->revoked = m[i].revoked != 0;
	}
	r.n = n;
	r.version = version + 1;
	r.time = now;
	if ((rc = roster_encode(&blob, &r, dirkey, e)) != 0 ||
	    (rc = store_meta_set_blob(st, "roster", blob.p, blob.len, e)) != 0 ||
	    (rc = store_meta_set_u64(st, "roster_version", r.version, e)) != 0)
		goto out;
out:
	free(r.v);
	free(m);
	buf_free(&blob);
	return rc;
}

int
admin_member_add(struct store *st, const struct identity *dirkey,
    const struct store_member *m, uint64_t now, struct kerr *e)
{
	int rc;

	if ((rc = store_begin(st, e)) != 0)
		return rc;
	if ((rc = store_member_add(st, m, e)) != 0 ||
	    (rc = admin_roster_rebuild(st, dirkey, now, e)) != 0 ||
	    (rc = store_commit(st, e)) != 0)
		store_rollback(st);
	return rc;
}

int
admin_member_revoke(struct store *st, const struct identity *dirkey,
    const char *name, uint64_t now, int *found, struct kerr *e)
{
	int rc;

	*found = 0;
	if ((rc = store_begin(st, e)) != 0)
		return rc;
	if ((rc = store_member_revoke(st, name, now, found, e)) != 0 ||
	    !*found ||
	    (rc = admin_roster_rebuild(st, dirkey, now, e)) != 0 ||
	    (rc = store_commit(st, e)) != 0)
		store_rollback(st);
	return rc;
}

int
admin_roster_load(struct store *st, const uint8_t dir_pk[static 32],
    struct roster *r, struct buf *blob, int *found, struct kerr *e)
{
	struct buf b;
	int rc;

	memset(r, 0, sizeof(*r));
	*found = 0;
	buf_init(&b, ROSTER_MAX);
	if ((rc = store_meta_get_blob(st, "roster", &b, found, e)) != 0 ||
	    !*found)
		goto out;
	if ((rc = roster_decode(r, b.p, b.len, dir_pk, e)) != 0)
		goto out;
	if (blob != NULL) {
		buf_free(blob);
		*blob = b;
		buf_init(&b, 0);
	}
out:
	buf_free(&b);
	return rc;
}

int
admin_enrol_message(struct buf *out, const char *name,
    const uint8_t enc_pk[static 32])
{
	int r;

	if ((r = buf_put(out, NODE_ENROL_LABEL, strlen(NODE_ENROL_LABEL) + 1)) != 0 ||
	    (r = buf_put_str8(out, name)) != 0)
		return r;
	return buf_put(out, enc_pk, 32);
}
