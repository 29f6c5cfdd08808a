/*
 * HQ's directory changes (node/admin.h): each admin_member_* call is one
 * transaction of its own that rebuilds and signs the roster, and on any
 * failure (a name taken, an invalid member, a roster that cannot be
 * signed, no such name) leaves the store as it was, with no transaction
 * left open.  And node_path's cap.
 *
 * Every test works in its own mkdtemp directory, removed on teardown.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/admin.h"

struct fx {
	char dir[512];
	char path[600];
	struct store *s;
	struct identity *dirkey;
	struct kerr e;
};

static int
setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/koden-admin-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	if (node_path(f->path, sizeof(f->path), f->dir, NODE_DB_FILE) != 0 ||
	    store_open(&f->s, f->path, &f->e) != 0 ||
	    identity_generate(&f->dirkey, "directory") != 0) {
		fprintf(stderr, "setup: %s\n", f->e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[700];

	store_close(f->s);
	identity_free(f->dirkey);
	for (const char *const *x = (const char *const[]){ "", "-wal", "-shm",
	    NULL }; *x != NULL; x++) {
		snprintf(p, sizeof(p), "%s%s", f->path, *x);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
member(struct store_member *m, uint8_t kind, const char *name,
    const char *post)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->post, sizeof(m->post), "%s", post);
	m->kind = kind;
	randombytes_buf(m->sign_pk, sizeof(m->sign_pk));
	randombytes_buf(m->enc_pk, sizeof(m->enc_pk));
	m->added = 1795000000;
}

static uint64_t
version(struct fx *f)
{
	uint64_t v = 0;
	int found = 0;

	assert_int_equal(store_meta_get_u64(f->s, "roster_version", &v,
	    &found, &f->e), 0);
	return found ? v : 0;
}

/* No transaction was left open: a new one begins. */
static void
no_open_transaction(struct fx *f)
{
	assert_int_equal(store_begin(f->s, &f->e), 0);
	store_rollback(f->s);
}

/* The stored roster, verified with the directory key. */
static void
load(struct fx *f, struct roster *r)
{
	int found = 0;

	assert_int_equal(admin_roster_load(f->s, f->dirkey->pub.sign, r, NULL,
	    &found, &f->e), 0);
	assert_true(found);
}

static void
test_add_builds_signed_roster(void **state)
{
	struct fx *f = *state;
	struct store_member m;
	struct roster r;
	const struct roster_entry *re;

	member(&m, STORE_HQ, "TOKYO", "");
	assert_int_equal(admin_member_add(f->s, f->dirkey, &m, 1795000001,
	    &f->e), 0);
	assert_int_equal(version(f), 1);
	member(&m, STORE_PERSON, "K. SATO", "TOKYO");
	assert_int_equal(admin_member_add(f->s, f->dirkey, &m, 1795000002,
	    &f->e), 0);
	assert_int_equal(version(f), 2);
	no_open_transaction(f);
	load(f, &r);
	assert_int_equal(r.version, 2);
	assert_int_equal(r.time, 1795000002);
	assert_int_equal(r.n, 2);
	assert_non_null(re = roster_find(&r, "K. SATO"));
	assert_int_equal(re->kind, ROSTER_PERSON);
	assert_string_equal(re->post, "TOKYO");
	assert_memory_equal(re->pk.sign, m.sign_pk, KEY_SIGN_PK);
	assert_false(re->revoked);
	roster_free(&r);
}

static void
test_add_taken_name_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct store_member m;
	struct roster r;

	member(&m, STORE_HQ, "TOKYO", "");
	assert_int_equal(admin_member_add(f->s, f->dirkey, &m, 1795000001,
	    &f->e), 0);
	member(&m, STORE_POST, "TOKYO", "");
	assert_int_equal(admin_member_add(f->s, f->dirkey, &m, 1795000002,
	    &f->e), KERR_EXISTS);
	assert_non_null(strstr(f->e.msg, "TOKYO"));
	assert_int_equal(version(f), 1);
	no_open_transaction(f);
	load(f, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].kind, ROSTER_HQ);
	roster_free(&r);
}

static void
test_add_invalid_member_rolls_back(void **state)
{
	struct fx *f = *state;
	struct store_member m, got;
	int found = 1;

	member(&m, STORE_POST, "GENEVA", "TOKYO");	/* only persons have posts */
	assert_int_equal(admin_member_add(f->s, f->dirkey, &m, 1795000001,
	    &f->e), KERR_INVALID);
	assert_int_equal(version(f), 0);
	no_open_transaction(f);

	/* the store takes a post before HQ, the roster does not: rolled back */
	member(&m, STORE_POST, "GENEVA", "");
	assert_int_equal(admin_member_add(f->s, f->dirkey, &m, 1795000002,
	    &f->e), KERR_INVALID);
	assert_non_null(strstr(f->e.msg, "no HQ entry"));
	assert_int_equal(store_member_get(f->s, "GENEVA", &got, &found, &f->e),
	    0);
	assert_false(found);
	assert_int_equal(version(f), 0);
	no_open_transaction(f);
}

static void
test_revoke(void **state)
{
	struct fx *f = *state;
	struct store_member m;
	struct roster r;
	int found = 1;

	member(&m, STORE_HQ, "TOKYO", "");
	assert_int_equal(admin_member_add(f->s, f->dirkey, &m, 1795000001,
	    &f->e), 0);
	member(&m, STORE_POST, "GENEVA", "");
	assert_int_equal(admin_member_add(f->s, f->dirkey, &m, 1795000002,
	    &f->e), 0);

	/* no such name: nothing changed, no error */
	assert_int_equal(admin_member_revoke(f->s, f->dirkey, "BERN",
	    1795000003, &found, &f->e), 0);
	assert_false(found);
	assert_int_equal(version(f), 2);
	no_open_transaction(f);

	assert_int_equal(admin_member_revoke(f->s, f->dirkey, "GENEVA",
	    1795000004, &found, &f->e), 0);
	assert_true(found);
	assert_int_equal(version(f), 3);
	no_open_transaction(f);
	load(f, &r);
	assert_int_equal(r.time, 1795000004);
	assert_true(roster_find(&r, "GENEVA")->revoked);
	assert_false(roster_find(&r, "TOKYO")->revoked);
	roster_free(&r);
}

static void
test_node_path_cap(void **state)
{
	char small[16], big[PATH_MAX];

	(void)state;
	assert_int_equal(node_path(big, sizeof(big), "/var/lib/koden",
	    NODE_DB_FILE), 0);
	assert_string_equal(big, "/var/lib/koden/store.db");
	assert_int_equal(node_path(small, sizeof(small), "/var/lib/koden",
	    NODE_DB_FILE), KERR_TOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_builds_signed_roster,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_add_taken_name_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_add_invalid_member_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
		cmocka_unit_test(test_node_path_cap),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
