/*
 * The SQLite store's directory, kept at HQ (tables member and enrol): HQ,
 * its posts and persons with their public keys, and the one-time enrolment
 * tokens, of which only the hash is kept.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "lib/err.h"
#include "store/sqlite_int.h"

/* Bytes of an enrolment token's hash (store.h: hash[static 32]). */
#define ENROL_HASH 32

static int
member_row(sqlite3_stmt *st, struct store_member *m, struct kerr *e,
    const char *op)
{
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = sqlite_col_text(st, 0, m->name, sizeof(m->name), e,
	    op)) != 0 ||
	    (r = sqlite_col_text(st, 2, m->post, sizeof(m->post), e,
	    op)) != 0 ||
	    (r = sqlite_col_fixed(st, 3, m->sign_pk, sizeof(m->sign_pk), e,
	    op)) ||
	    (r = sqlite_col_fixed(st, 4, m->enc_pk, sizeof(m->enc_pk), e,
	    op)))
		return r;
	m->kind = (uint8_t)sqlite3_column_int(st, 1);
	m->added = col_u64(st, 5);
	m->revoked = col_u64(st, 6);
	return 0;
}

int
store_member_add(struct store *s, const struct store_member *m,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_MEMBER_ADD];
	int r;

	if ((r = sqlite_name_check("member name", m->name, 0, e)) != 0 ||
	    (r = sqlite_name_check("member post", m->post,
	    m->kind != STORE_PERSON, e)) != 0 ||
	    (r = range_check("added", m->added, e)) != 0 ||
	    (r = range_check("revoked", m->revoked, e)) != 0)
		return r;
	if (m->kind < STORE_HQ || m->kind > STORE_PERSON)
		return kerr_set(e, KERR_INVALID, "store: member %s: kind %u "
		    "is not HQ, post or person", m->name, m->kind);
	if (m->kind != STORE_PERSON && m->post[0] != '\0')
		return kerr_set(e, KERR_INVALID, "store: member %s: only a "
		    "person belongs to a post", m->name);
	if ((b_text(st, 1, m->name) | b_int(st, 2, m->kind) |
	    b_text(st, 3, m->post) |
	    b_blob(st, 4, m->sign_pk, sizeof(m->sign_pk)) |
	    b_blob(st, 5, m->enc_pk, sizeof(m->enc_pk)) |
	    b_int(st, 6, (int64_t)m->added) |
	    b_int(st, 7, (int64_t)m->revoked)) != SQLITE_OK)
		r = dberr(s, e, "member add");
	else if ((r = step(s, st, e, "member add")) == 0 &&
	    sqlite3_changes(s->db) == 0)
		r = kerr_set(e, KERR_EXISTS, "store: member %s already "
		    "exists", m->name);
	done(st);
	return r < 0 ? r : 0;
}

int
store_member_get(struct store *s, const char *name, struct store_member *m,
    int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_MEMBER_GET];
	int r;

	memset(m, 0, sizeof(*m));
	*found = 0;
	if ((r = sqlite_name_check("member name", name, 0, e)) != 0)
		return r;
	if (b_text(st, 1, name) != SQLITE_OK)
		r = dberr(s, e, "member get");
	else if ((r = step(s, st, e, "member get")) == 1 &&
	    (r = member_row(st, m, e, "member get")) == 0)
		*found = 1;
	done(st);
	if (r < 0)
		memset(m, 0, sizeof(*m));
	return r;
}

int
store_member_revoke(struct store *s, const char *name, uint64_t time,
    int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_MEMBER_REVOKE];
	int r;

	*found = 0;
	if ((r = sqlite_name_check("member name", name, 0, e)) != 0 ||
	    (r = range_check("time", time, e)) != 0)
		return r;
	if (time == 0)
		return kerr_set(e, KERR_INVALID, "store: revocation time 0 "
		    "means active");
	if ((b_text(st, 1, name) | b_int(st, 2, (int64_t)time)) != SQLITE_OK)
		r = dberr(s, e, "member revoke");
	else if ((r = step(s, st, e, "member revoke")) == 0)
		*found = sqlite3_changes(s->db) > 0;
	done(st);
	return r < 0 ? r : 0;
}

int
store_member_list(struct store *s, struct store_member **out, size_t *n,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_MEMBER_LIST];
	struct store_member *a = NULL;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	while ((r = step(s, st, e, "member list")) == 1) {
		if ((r = sqlite_grow((void **)&a, &cap, *n, sizeof(*a),
		    e)) != 0 ||
		    (r = member_row(st, &a[*n], e, "member list")) != 0)
			goto out;
		++*n;
	}
out:
	done(st);
	if (r < 0) {
		free(a);
		*n = 0;
		return r;
	}
	*out = a;
	return 0;
}

int
store_enrol_add(struct store *s, const char *name,
    const uint8_t hash[static ENROL_HASH], uint64_t expires, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ENROL_ADD];
	int r;

	if ((r = sqlite_name_check("enrolment name", name, 0, e)) != 0 ||
	    (r = range_check("expiry", expires, e)) != 0)
		return r;
	if ((b_text(st, 1, name) | b_blob(st, 2, hash, ENROL_HASH) |
	    b_int(st, 3, (int64_t)expires)) != SQLITE_OK)
		r = dberr(s, e, "enrolment add");
	else if ((r = step(s, st, e, "enrolment add")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_enrol_use(struct store *s, const char *name,
    const uint8_t hash[static ENROL_HASH], uint64_t now, int *ok,
    struct kerr *e)
{
	sqlite3_stmt *st;
	uint8_t stored[ENROL_HASH];
	int own, r, match = 0;

	*ok = 0;
	if ((r = sqlite_name_check("enrolment name", name, 0, e)) != 0)
		return r;
	if ((r = op_begin(s, &own, e)) != 0)
		return r;
	st = s->st[ST_ENROL_GET];
	if (b_text(st, 1, name) != SQLITE_OK)
		r = dberr(s, e, "enrolment use");
	else if ((r = step(s, st, e, "enrolment use")) == 1) {
		if ((r = sqlite_col_fixed(st, 0, stored, sizeof(stored), e,
		    "enrolment use")) == 0) {
			match = sodium_memcmp(stored, hash, ENROL_HASH) == 0 &&
			    sqlite3_column_type(st, 2) == SQLITE_NULL &&
			    now < col_u64(st, 1);
		}
		sodium_memzero(stored, sizeof(stored));
	}
	done(st);
	if (r < 0 || !match)
		goto out;
	/* A wrong guess must not burn the token: mark it only on a match. */
	st = s->st[ST_ENROL_MARK];
	if ((b_text(st, 1, name) | b_int(st, 2, clamp_i64(now))) != SQLITE_OK)
		r = dberr(s, e, "enrolment use");
	else if ((r = step(s, st, e, "enrolment use")) == 0)
		*ok = sqlite3_changes(s->db) == 1;
	done(st);
out:
	r = op_end(s, own, r < 0 ? r : 0, e);
	if (r != 0)
		*ok = 0;
	return r;
}
