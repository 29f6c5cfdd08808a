/*
 * The node store on SQLite: schema and migrations, file mode, transactions,
 * every table's contract from store.h, a naive reference for the
 * accounting marks on random arrival orders, crash durability (a child
 * SIGKILLed mid-stream loses nothing it reported committed), and deferred
 * durability (commits numbered, durable only after the fsync thread's
 * fdatasync).
 *
 * Every test works in its own mkdtemp directory, removed on teardown.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "lib/walsync.h"
#include "store/store.h"

#define ROUTINE 1
#define PRIORITY 2
#define IMMEDIATE 3
#define FLASH 4

struct fx {
	char dir[512];
	char path[600];
	struct store *s;
	struct kerr e;
};

static int
setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/koden-store-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	if (store_open(&f->s, f->path, &f->e) != 0) {
		fprintf(stderr, "store_open: %s\n", f->e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	struct dirent *de;
	DIR *d;
	char p[1024];

	store_close(f->s);
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
reopen(struct fx *f)
{
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(&f->s, f->path, &f->e), 0);
}

static void
sub_path(const struct fx *f, const char *name, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/%s", f->dir, name);
}

/* A telegram id: n big-endian in bytes 0..3, then a fixed pattern. */
static void
mkid(uint8_t id[STORE_ID], uint32_t n)
{
	for (int i = 0; i < STORE_ID; i++)
		id[i] = (uint8_t)(0xa0 + i);
	id[0] = (uint8_t)(n >> 24);
	id[1] = (uint8_t)(n >> 16);
	id[2] = (uint8_t)(n >> 8);
	id[3] = (uint8_t)n;
}

static void
unhex16(uint8_t id[STORE_ID], const char *hex)
{
	for (int i = 0; i < STORE_ID; i++) {
		unsigned int v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		id[i] = (uint8_t)v;
	}
}

static struct store_qitem
qtg(uint32_t n, uint8_t prec)
{
	struct store_qitem it;

	memset(&it, 0, sizeof(it));
	it.kind = STORE_Q_TELEGRAM;
	mkid(it.id, n);
	it.prec = prec;
	return it;
}

static struct store_qitem
qrc(uint32_t n, const char *by, uint8_t state, uint8_t prec)
{
	struct store_qitem it = qtg(n, prec);

	it.kind = STORE_Q_RECEIPT;
	snprintf(it.by, sizeof(it.by), "%s", by);
	it.state = state;
	return it;
}

static char *
longname(size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, 'n', n);
	s[n] = '\0';
	return s;
}

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	return db;
}

static int64_t
raw_int(sqlite3 *db, const char *q)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* ---- schema, migrations, file ----------------------------------------- */

static void
test_migrate_fresh_and_reopen(void **state)
{
	struct fx *f = *state;
	static const char *const tables[] = { "meta", "env", "queue",
	    "receipt", "status", "inbound", "in_marks", "inbox", "alert",
	    "member", "enrol" };
	uint64_t v;
	int found;
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(store_schema_version(f->s), 2);
	assert_int_equal(store_meta_set_u64(f->s, "x", 42, &f->e), 0);
	store_close(f->s);
	f->s = NULL;

	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 2);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1,
	    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM "
		    "sqlite_schema WHERE type = 'table' AND name = ?1", -1,
		    &st, NULL), SQLITE_OK);
		sqlite3_bind_text(st, 1, tables[i], -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 1);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);

	/* Reopening migrates nothing and keeps the data. */
	assert_int_equal(store_open(&f->s, f->path, &f->e), 0);
	assert_int_equal(store_schema_version(f->s), 2);
	assert_int_equal(store_meta_get_u64(f->s, "x", &v, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(v, 42);
	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 2);
	sqlite3_close(db);
}

/*
 * Upgrading a version-1 store: migration 2 adds inbound.top and keeps the
 * rows, which take FLASH so the reorder check ignores them.
 */
static void
test_migrate_from_v1(void **state)
{
	struct fx *f = *state;
	uint8_t id[STORE_ID] = { 7 }, prev[STORE_ID];
	uint64_t later = 1;
	sqlite3 *db;
	int dup;

	assert_int_equal(store_in_put(f->s, "paris", 2, id, ROUTINE, ROUTINE,
	    5, &dup, prev, &f->e), 0);
	store_close(f->s);
	f->s = NULL;
	/* make it a version-1 store, as an older koden left it */
	db = raw_open(f->path);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE inbound DROP COLUMN top;"
	    "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&f->s, f->path, &f->e), 0);
	assert_int_equal(store_schema_version(f->s), 2);
	/* the old row survived with top = FLASH: not a later-lower for a
	 * ROUTINE/ROUTINE arrival of seq 1, though its prec is ROUTINE */
	assert_int_equal(store_in_later_lower(f->s, "paris", 1, ROUTINE,
	    ROUTINE, &later, &f->e), 0);
	assert_int_equal(later, 0);
	assert_int_equal(store_in_later_lower(f->s, "paris", 1, ROUTINE, FLASH,
	    &later, &f->e), 0);
	assert_int_equal(later, 2);
}

static void
test_future_version_refused(void **state)
{
	struct fx *f = *state;
	struct store *s2 = (struct store *)1;
	sqlite3 *db;

	store_close(f->s);
	f->s = NULL;
	db = raw_open(f->path);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(store_open(&s2, f->path, &f->e), KERR_VERSION);
	assert_null(s2);
	assert_non_null(strstr(f->e.msg, "has schema version 7"));
	assert_non_null(strstr(f->e.msg, "knows up to 2"));
	assert_non_null(strstr(f->e.msg, "upgrade koden"));
	assert_non_null(strstr(f->e.msg, f->path));

	/* Nothing was changed by the refusal. */
	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 7);
	sqlite3_close(db);
}

static void
test_not_a_database(void **state)
{
	struct fx *f = *state;
	char p[700];
	char junk[4096];
	struct store *s2;
	int fd;

	sub_path(f, "junk.db", p, sizeof(p));
	memset(junk, 'J', sizeof(junk));
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	assert_int_equal(store_open(&s2, p, &f->e), KERR_IO);
	assert_null(s2);
	assert_non_null(strstr(f->e.msg, "not a database"));

	/* A directory is not a store either. */
	assert_int_equal(store_open(&s2, f->dir, &f->e), KERR_IO);
	assert_null(s2);
	assert_int_equal(store_open(&s2, "", &f->e), KERR_INVALID);
}

static mode_t
mode_of(const char *p)
{
	struct stat sb;

	assert_int_equal(stat(p, &sb), 0);
	return sb.st_mode & 07777;
}

static void
test_file_mode(void **state)
{
	struct fx *f = *state;
	char p[700], side[720];
	mode_t old = umask(0);
	struct store *s2;
	int fd;

	/* Fresh file under a permissive umask. */
	sub_path(f, "fresh.db", p, sizeof(p));
	assert_int_equal(store_open(&s2, p, &f->e), 0);
	assert_int_equal(store_meta_set_u64(s2, "k", 1, &f->e), 0);
	assert_int_equal(mode_of(p), 0600);
	snprintf(side, sizeof(side), "%s-wal", p);
	assert_int_equal(mode_of(side), 0600);
	snprintf(side, sizeof(side), "%s-shm", p);
	assert_int_equal(mode_of(side), 0600);
	store_close(s2);

	/* An existing, world-readable file (and WAL) are tightened. */
	sub_path(f, "loose.db", p, sizeof(p));
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0666);
	assert_true(fd >= 0);
	close(fd);
	snprintf(side, sizeof(side), "%s-wal", p);
	fd = open(side, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mode_of(p), 0666);
	assert_int_equal(store_open(&s2, p, &f->e), 0);
	assert_int_equal(mode_of(p), 0600);
	assert_int_equal(mode_of(side), 0600);
	assert_int_equal(store_schema_version(s2), 2);
	store_close(s2);
	umask(old);

	/* The fixture's own file too. */
	assert_int_equal(mode_of(f->path), 0600);
}

static void
test_query_plans(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *q, *index;
	} plans[] = {
		{ "SELECT kind FROM queue WHERE link = 'a' AND not_before <= 5"
		    " ORDER BY prec DESC, ord ASC LIMIT 10", "queue_next" },
		{ "SELECT id FROM inbox ORDER BY prec DESC, received DESC,"
		    " rowid DESC LIMIT 10", "inbox_order" },
	};
	sqlite3 *db = raw_open(f->path);

	/* The orders the store asks for are served by an index. */
	for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
		char q[512], plan[1024] = "";
		sqlite3_stmt *st;

		snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", plans[i].q);
		assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL),
		    SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			strncat(plan, (const char *)sqlite3_column_text(st, 3),
			    sizeof(plan) - strlen(plan) - 2);
			strcat(plan, ";");
		}
		sqlite3_finalize(st);
		assert_non_null(strstr(plan, plans[i].index));
		assert_null(strstr(plan, "TEMP B-TREE"));
	}
	sqlite3_close(db);
}

/* ---- transactions --------------------------------------------------------- */

static void
test_transactions(void **state)
{
	struct fx *f = *state;
	uint8_t id[STORE_ID];
	struct buf b;
	uint64_t v, hwm, max, old;
	int found, ins, dup;
	uint8_t prev[STORE_ID];
	char names[4][STORE_NAME_MAX + 1];
	size_t n;

	buf_init(&b, 1024);
	mkid(id, 1);

	/* Rollback discards everything since begin. */
	assert_int_equal(store_begin(f->s, &f->e), 0);
	assert_int_equal(store_meta_set_u64(f->s, "a", 1, &f->e), 0);
	assert_int_equal(store_env_put(f->s, id, "paris", 1, id, STORE_ID,
	    &ins, &f->e), 0);
	assert_int_equal(ins, 1);
	/* A multi-statement function nests as a savepoint. */
	assert_int_equal(store_in_put(f->s, "paris", 1, id, ROUTINE, ROUTINE, 5, &dup,
	    prev, &f->e), 0);
	assert_int_equal(store_in_marks(f->s, "paris", &hwm, &max, &old,
	    &f->e), 0);
	assert_int_equal(hwm, 1);
	store_rollback(f->s);
	assert_int_equal(store_meta_get_u64(f->s, "a", &v, &found, &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(store_env_get(f->s, id, &b, &found, &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(store_in_marks(f->s, "paris", &hwm, &max, &old,
	    &f->e), 0);
	assert_int_equal(hwm, 0);
	assert_int_equal(max, 0);
	assert_int_equal(store_in_origins(f->s, names, 4, &n, &f->e), 0);
	assert_int_equal(n, 0);

	/* Rollback with no transaction is harmless; commit is an error. */
	store_rollback(f->s);
	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(store_commit(f->s, &f->e), KERR_IO);
	assert_non_null(strstr(f->e.msg, "commit"));

	/* No nested begin. */
	assert_int_equal(store_begin(f->s, &f->e), 0);
	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(store_begin(f->s, &f->e), KERR_IO);
	assert_non_null(strstr(f->e.msg, "begin"));
	store_rollback(f->s);

	/* Commit persists across close and reopen. */
	assert_int_equal(store_begin(f->s, &f->e), 0);
	assert_int_equal(store_meta_set_u64(f->s, "a", 2, &f->e), 0);
	assert_int_equal(store_env_put(f->s, id, "paris", 1, id, STORE_ID,
	    &ins, &f->e), 0);
	assert_int_equal(store_commit(f->s, &f->e), 0);
	reopen(f);
	assert_int_equal(store_meta_get_u64(f->s, "a", &v, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(v, 2);
	assert_int_equal(store_env_get(f->s, id, &b, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_memory_equal(b.p, id, STORE_ID);

	/* Closing with an open transaction rolls it back. */
	assert_int_equal(store_begin(f->s, &f->e), 0);
	assert_int_equal(store_meta_set_u64(f->s, "a", 3, &f->e), 0);
	reopen(f);
	assert_int_equal(store_meta_get_u64(f->s, "a", &v, &found, &f->e), 0);
	assert_int_equal(v, 2);
	buf_free(&b);
}

/* ---- meta ------------------------------------------------------------------ */

static void
test_meta(void **state)
{
	struct fx *f = *state;
	static const uint64_t vals[] = { 0, 1, INT64_MAX,
	    (uint64_t)INT64_MAX + 1, UINT64_MAX - 1, UINT64_MAX };
	uint8_t blob[300];
	struct buf b, small;
	uint64_t v;
	int found;
	char *k64 = longname(STORE_NAME_MAX), *k65 = longname(65);
	uint8_t *huge;

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		assert_int_equal(store_meta_set_u64(f->s, "v", vals[i],
		    &f->e), 0);
		assert_int_equal(store_meta_get_u64(f->s, "v", &v, &found,
		    &f->e), 0);
		assert_int_equal(found, 1);
		assert_true(v == vals[i]);
	}
	v = 99;
	found = 9;
	assert_int_equal(store_meta_get_u64(f->s, "absent", &v, &found,
	    &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(v, 0);

	/* Counters: from absent, across the int64 boundary, never wrap. */
	for (uint64_t want = 1; want <= 3; want++) {
		assert_int_equal(store_meta_incr(f->s, "c", &v, &f->e), 0);
		assert_int_equal(v, want);
	}
	assert_int_equal(store_meta_set_u64(f->s, "c", INT64_MAX, &f->e), 0);
	assert_int_equal(store_meta_incr(f->s, "c", &v, &f->e), 0);
	assert_true(v == (uint64_t)INT64_MAX + 1);
	assert_int_equal(store_meta_set_u64(f->s, "c", UINT64_MAX - 1,
	    &f->e), 0);
	assert_int_equal(store_meta_incr(f->s, "c", &v, &f->e), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(store_meta_incr(f->s, "c", &v, &f->e), KERR_TOOBIG);
	assert_int_equal(v, 0);
	assert_int_equal(store_meta_get_u64(f->s, "c", &v, &found, &f->e), 0);
	assert_true(v == UINT64_MAX);

	/* Blobs, independent of the u64 under the same key. */
	randombytes_buf(blob, sizeof(blob));
	buf_init(&b, STORE_BLOB_MAX);
	assert_int_equal(store_meta_get_blob(f->s, "c", &b, &found, &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(store_meta_set_blob(f->s, "c", blob, sizeof(blob),
	    &f->e), 0);
	assert_int_equal(store_meta_get_blob(f->s, "c", &b, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(b.len, sizeof(blob));
	assert_memory_equal(b.p, blob, sizeof(blob));
	assert_int_equal(store_meta_get_u64(f->s, "c", &v, &found, &f->e), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(store_meta_set_blob(f->s, "roster", blob, 0,
	    &f->e), 0);
	assert_int_equal(store_meta_get_blob(f->s, "roster", &b, &found,
	    &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(b.len, 0);
	assert_int_equal(store_meta_get_u64(f->s, "roster", &v, &found,
	    &f->e), 0);
	assert_int_equal(found, 0);

	/* The output buffer's cap is honoured. */
	buf_init(&small, 100);
	assert_int_equal(store_meta_get_blob(f->s, "c", &small, &found,
	    &f->e), KERR_TOOBIG);
	assert_int_equal(found, 0);
	buf_free(&small);

	/* Caps on keys and values. */
	assert_int_equal(store_meta_set_u64(f->s, k64, 1, &f->e), 0);
	assert_int_equal(store_meta_set_u64(f->s, k65, 1, &f->e),
	    KERR_INVALID);
	assert_non_null(strstr(f->e.msg, "longer than 64"));
	assert_int_equal(store_meta_set_u64(f->s, "", 1, &f->e), KERR_INVALID);
	assert_int_equal(store_meta_incr(f->s, k65, &v, &f->e), KERR_INVALID);
	assert_int_equal(store_meta_set_u64(f->s, "\xc3\x28", 1, &f->e),
	    KERR_INVALID);
	huge = calloc(1, (size_t)STORE_BLOB_MAX + 1);
	assert_non_null(huge);
	assert_int_equal(store_meta_set_blob(f->s, "big", huge,
	    (size_t)STORE_BLOB_MAX + 1, &f->e), KERR_TOOBIG);
	assert_int_equal(store_meta_set_blob(f->s, "big", huge,
	    STORE_BLOB_MAX, &f->e), 0);
	assert_int_equal(store_meta_get_blob(f->s, "big", &b, &found, &f->e),
	    0);
	assert_int_equal(b.len, STORE_BLOB_MAX);
	free(huge);
	buf_free(&b);
	free(k64);
	free(k65);
}

/* ---- envelopes ------------------------------------------------------------ */

static void
test_env_put_get(void **state)
{
	struct fx *f = *state;
	uint8_t id[STORE_ID], other[STORE_ID];
	uint8_t env[1000], env2[1000];
	struct buf b;
	int ins, found;
	char *o65 = longname(65);
	uint8_t *huge;

	buf_init(&b, STORE_BLOB_MAX);
	mkid(id, 7);
	mkid(other, 8);
	randombytes_buf(env, sizeof(env));
	memcpy(env2, env, sizeof(env));
	env2[500] ^= 1;

	assert_int_equal(store_env_put(f->s, id, "paris", 100, env,
	    sizeof(env), &ins, &f->e), 0);
	assert_int_equal(ins, 1);
	/* Same bytes: idempotent. */
	ins = 9;
	assert_int_equal(store_env_put(f->s, id, "paris", 100, env,
	    sizeof(env), &ins, &f->e), 0);
	assert_int_equal(ins, 0);
	/* Same id, other bytes (or length): a conflict. */
	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(store_env_put(f->s, id, "paris", 100, env2,
	    sizeof(env2), &ins, &f->e), KERR_EXISTS);
	assert_int_equal(ins, 0);
	assert_non_null(strstr(f->e.msg, "different envelope"));
	assert_int_equal(store_env_put(f->s, id, "paris", 100, env,
	    sizeof(env) - 1, &ins, &f->e), KERR_EXISTS);

	assert_int_equal(store_env_get(f->s, id, &b, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(b.len, sizeof(env));
	assert_memory_equal(b.p, env, sizeof(env));
	assert_int_equal(store_env_get(f->s, other, &b, &found, &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(b.len, 0);

	assert_int_equal(store_env_put(f->s, other, o65, 1, env, sizeof(env),
	    &ins, &f->e), KERR_INVALID);
	assert_int_equal(store_env_put(f->s, other, "paris", UINT64_MAX, env,
	    sizeof(env), &ins, &f->e), KERR_INVALID);
	huge = calloc(1, (size_t)STORE_BLOB_MAX + 1);
	assert_non_null(huge);
	assert_int_equal(store_env_put(f->s, other, "paris", 1, huge,
	    (size_t)STORE_BLOB_MAX + 1, &ins, &f->e), KERR_TOOBIG);
	assert_int_equal(ins, 0);
	free(huge);
	free(o65);
	buf_free(&b);
}

static void
test_env_find(void **state)
{
	struct fx *f = *state;
	static const char *const ids[] = {
		"aabbcc00000000000000000000000001",
		"aabbdd00000000000000000000000002",
		"11223344556677889900aabbccddeeff",
	};
	uint8_t id[STORE_ID], want[3][STORE_ID];
	int ins, found;

	for (int i = 0; i < 3; i++) {
		unhex16(want[i], ids[i]);
		assert_int_equal(store_env_put(f->s, want[i], "paris", 1,
		    want[i], STORE_ID, &ins, &f->e), 0);
	}

	/* Unique prefixes, any case, even or odd length. */
	assert_int_equal(store_env_find(f->s, "1122", id, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_memory_equal(id, want[2], STORE_ID);
	assert_int_equal(store_env_find(f->s, "AABBC", id, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_memory_equal(id, want[0], STORE_ID);
	assert_int_equal(store_env_find(f->s, "aAbBd", id, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_memory_equal(id, want[1], STORE_ID);
	assert_int_equal(store_env_find(f->s, ids[2], id, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(store_env_find(f->s, "11223344556677889900AABBCCDDEEF",
	    id, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_memory_equal(id, want[2], STORE_ID);

	/* Ambiguous: found = 2, no id. */
	assert_int_equal(store_env_find(f->s, "aabb", id, &found, &f->e), 0);
	assert_int_equal(found, 2);
	assert_memory_equal(id, (uint8_t[STORE_ID]){ 0 }, STORE_ID);

	/* None. */
	assert_int_equal(store_env_find(f->s, "ffff", id, &found, &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(store_env_find(f->s, "aabbc1", id, &found, &f->e), 0);
	assert_int_equal(found, 0);

	/* Bad prefixes. */
	assert_int_equal(store_env_find(f->s, "aab", id, &found, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_env_find(f->s, "", id, &found, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_env_find(f->s, "zzzz", id, &found, &f->e),
	    KERR_INVALID);
	assert_non_null(strstr(f->e.msg, "not a hex digit"));
	assert_int_equal(store_env_find(f->s, "aabb-", id, &found, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_env_find(f->s,
	    "11223344556677889900aabbccddeeff0", id, &found, &f->e),
	    KERR_INVALID);
	assert_int_equal(found, 0);
}

/* ---- queues --------------------------------------------------------------- */

static void
expect_next(struct fx *f, const char *link, uint64_t now,
    const uint32_t *want, size_t nwant)
{
	struct store_qitem items[16];
	uint8_t id[STORE_ID];
	size_t n;

	assert_int_equal(store_q_next(f->s, link, now, UINT64_MAX, items, 16,
	    &n, &f->e), 0);
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++) {
		mkid(id, want[i]);
		assert_memory_equal(items[i].id, id, STORE_ID);
		if (i > 0 && items[i].prec == items[i - 1].prec)
			assert_true(items[i].ord > items[i - 1].ord);
		if (i > 0)
			assert_true(items[i].prec <= items[i - 1].prec);
	}
}

static void
test_queue_order(void **state)
{
	struct fx *f = *state;
	static const struct { uint32_t n; uint8_t prec; } put[] = {
		{ 1, ROUTINE }, { 2, FLASH }, { 3, ROUTINE }, { 4, PRIORITY },
		{ 5, FLASH }, { 6, IMMEDIATE }, { 7, PRIORITY },
	};
	static const uint32_t order[] = { 2, 5, 6, 4, 7, 1, 3 };
	static const uint32_t order2[] = { 2, 5, 6, 4, 7, 1, 3, 8 };
	struct store_qitem items[4], all[16], it;
	uint64_t ord8, cnt;
	size_t n;
	int found;

	for (size_t i = 0; i < sizeof(put) / sizeof(put[0]); i++) {
		it = qtg(put[i].n, put[i].prec);
		assert_int_equal(store_q_put(f->s, "hq", &it, &f->e), 0);
	}
	it = qtg(99, FLASH);
	assert_int_equal(store_q_put(f->s, "paris", &it, &f->e), 0);

	expect_next(f, "hq", 0, order, 7);
	/* max bounds the answer. */
	assert_int_equal(store_q_next(f->s, "hq", 0, UINT64_MAX,
	    items, 2, &n, &f->e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(items[0].prec, FLASH);
	assert_int_equal(items[1].prec, FLASH);
	assert_int_equal(items[0].kind, STORE_Q_TELEGRAM);
	assert_string_equal(items[0].by, "");
	assert_int_equal(store_q_next(f->s, "hq", 0, UINT64_MAX,
	    items, 0, &n, &f->e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_q_next(f->s, "nowhere", 0, UINT64_MAX,
	    items, 4, &n, &f->e), 0);
	assert_int_equal(n, 0);

	/* The same order after a restart; later arrivals go last. */
	reopen(f);
	expect_next(f, "hq", UINT64_MAX, order, 7);
	it = qtg(8, ROUTINE);
	assert_int_equal(store_q_put(f->s, "hq", &it, &f->e), 0);
	expect_next(f, "hq", 0, order2, 8);

	/* ord is never reused, even for the newest item deleted before a
	 * restart. */
	assert_int_equal(store_q_next(f->s, "hq", 0, UINT64_MAX,
	    all, 16, &n, &f->e), 0);
	assert_int_equal(n, 8);
	ord8 = all[7].ord;	/* item 8: the newest of all */
	it = qtg(8, ROUTINE);
	assert_int_equal(store_q_del(f->s, "hq", &it, &found, &f->e), 0);
	assert_int_equal(found, 1);
	reopen(f);
	it = qtg(9, ROUTINE);
	assert_int_equal(store_q_put(f->s, "hq", &it, &f->e), 0);
	assert_int_equal(store_q_next(f->s, "hq", 0, UINT64_MAX,
	    all, 16, &n, &f->e), 0);
	assert_int_equal(n, 8);
	assert_memory_equal(all[7].id, it.id, STORE_ID);
	assert_true(all[7].ord > ord8);
	assert_int_equal(store_q_count(f->s, "hq", &cnt, &f->e), 0);
	assert_int_equal(cnt, 8);
	assert_int_equal(store_q_count(f->s, "paris", &cnt, &f->e), 0);
	assert_int_equal(cnt, 1);
}

static void
test_queue_defer_del_mixed(void **state)
{
	struct fx *f = *state;
	struct store_qitem items[8], t1 = qtg(1, ROUTINE), t2 = qtg(2, FLASH);
	struct store_qitem r3, r4, junk;
	uint64_t cnt;
	size_t n;
	int found;
	char *l65 = longname(65);

	assert_int_equal(store_q_put(f->s, "hq", &t1, &f->e), 0);
	assert_int_equal(store_q_put(f->s, "hq", &t2, &f->e), 0);

	/* Deferred: hidden from next until not_before, still counted. */
	assert_int_equal(store_q_defer(f->s, "hq", &t2, 3, 5000, &f->e), 0);
	assert_int_equal(store_q_next(f->s, "hq", 1000, UINT64_MAX,
	    items, 8, &n, &f->e),
	    0);
	assert_int_equal(n, 1);
	assert_memory_equal(items[0].id, t1.id, STORE_ID);
	assert_int_equal(items[0].attempts, 0);
	assert_int_equal(store_q_count(f->s, "hq", &cnt, &f->e), 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(store_q_next(f->s, "hq", 5000, UINT64_MAX,
	    items, 8, &n, &f->e),
	    0);
	assert_int_equal(n, 2);
	assert_memory_equal(items[0].id, t2.id, STORE_ID);
	assert_int_equal(items[0].attempts, 3);
	assert_int_equal(items[0].not_before, 5000);
	/* next does not remove. */
	assert_int_equal(store_q_count(f->s, "hq", &cnt, &f->e), 0);
	assert_int_equal(cnt, 2);

	/* Queued with a delay. */
	{
		struct store_qitem t5 = qtg(5, FLASH);

		t5.not_before = 9000;
		assert_int_equal(store_q_put(f->s, "later", &t5, &f->e), 0);
		assert_int_equal(store_q_next(f->s, "later", 8999, UINT64_MAX,
		    items, 8,
		    &n, &f->e), 0);
		assert_int_equal(n, 0);
		assert_int_equal(store_q_next(f->s, "later", 9000, UINT64_MAX,
		    items, 8,
		    &n, &f->e), 0);
		assert_int_equal(n, 1);
	}

	/* del: found once. */
	assert_int_equal(store_q_del(f->s, "hq", &t2, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(store_q_del(f->s, "hq", &t2, &found, &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(store_q_del(f->s, "paris", &t1, &found, &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(store_q_count(f->s, "hq", &cnt, &f->e), 0);
	assert_int_equal(cnt, 1);

	/* Receipts share the queue; keys are (kind, id, by, state). */
	r3 = qrc(1, "paris", 3, FLASH);
	r4 = qrc(1, "paris", 4, FLASH);
	assert_int_equal(store_q_put(f->s, "hq", &r3, &f->e), 0);
	assert_int_equal(store_q_put(f->s, "hq", &r4, &f->e), 0);
	assert_int_equal(store_q_put(f->s, "hq", &r3, &f->e), 0);
	assert_int_equal(store_q_count(f->s, "hq", &cnt, &f->e), 0);
	assert_int_equal(cnt, 3);
	assert_int_equal(store_q_next(f->s, "hq", 0, UINT64_MAX,
	    items, 8, &n, &f->e), 0);
	assert_int_equal(n, 3);
	assert_int_equal(items[0].kind, STORE_Q_RECEIPT);
	assert_string_equal(items[0].by, "paris");
	assert_int_equal(items[0].state, 3);
	assert_int_equal(items[1].kind, STORE_Q_RECEIPT);
	assert_int_equal(items[1].state, 4);
	assert_int_equal(items[2].kind, STORE_Q_TELEGRAM);
	assert_memory_equal(items[2].id, t1.id, STORE_ID);

	/* A telegram's by/state are not part of its key. */
	junk = t1;
	snprintf(junk.by, sizeof(junk.by), "junk");
	junk.state = 9;
	assert_int_equal(store_q_put(f->s, "hq", &junk, &f->e), 0);
	assert_int_equal(store_q_count(f->s, "hq", &cnt, &f->e), 0);
	assert_int_equal(cnt, 3);
	assert_int_equal(store_q_del(f->s, "hq", &r4, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(store_q_del(f->s, "hq", &junk, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(store_q_count(f->s, "hq", &cnt, &f->e), 0);
	assert_int_equal(cnt, 1);

	/* Invalid items. */
	junk = t1;
	junk.kind = 3;
	assert_int_equal(store_q_put(f->s, "hq", &junk, &f->e), KERR_INVALID);
	junk = t1;
	junk.prec = 0;
	assert_int_equal(store_q_put(f->s, "hq", &junk, &f->e), KERR_INVALID);
	junk.prec = 5;
	assert_int_equal(store_q_put(f->s, "hq", &junk, &f->e), KERR_INVALID);
	junk = qrc(1, "", 3, FLASH);
	assert_int_equal(store_q_put(f->s, "hq", &junk, &f->e), KERR_INVALID);
	junk = qrc(1, "paris", 3, FLASH);
	memset(junk.by, 'x', sizeof(junk.by));	/* not NUL-terminated */
	assert_int_equal(store_q_put(f->s, "hq", &junk, &f->e), KERR_INVALID);
	assert_int_equal(store_q_put(f->s, l65, &t1, &f->e), KERR_INVALID);
	assert_int_equal(store_q_put(f->s, "", &t1, &f->e), KERR_INVALID);
	assert_int_equal(store_q_defer(f->s, "hq", &t1, 1, UINT64_MAX, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_q_count(f->s, l65, &cnt, &f->e), KERR_INVALID);
	free(l65);
}

/* ---- receipts and status ---------------------------------------------------- */

static void
test_receipts(void **state)
{
	struct fx *f = *state;
	uint8_t id[STORE_ID], a[64], b2[64];
	struct buf b;
	int found;

	buf_init(&b, 1024);
	mkid(id, 1);
	randombytes_buf(a, sizeof(a));
	randombytes_buf(b2, sizeof(b2));
	assert_int_equal(store_receipt_put(f->s, id, "paris", STORE_DELIVERED,
	    a, sizeof(a), &f->e), 0);
	/* Idempotent: the first receipt stays. */
	assert_int_equal(store_receipt_put(f->s, id, "paris", STORE_DELIVERED,
	    b2, sizeof(b2), &f->e), 0);
	assert_int_equal(store_receipt_get(f->s, id, "paris", STORE_DELIVERED,
	    &b, &found, &f->e), 0);
	assert_int_equal(found, 1);
	assert_memory_equal(b.p, a, sizeof(a));
	assert_int_equal(store_receipt_get(f->s, id, "paris", STORE_READ,
	    &b, &found, &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(store_receipt_get(f->s, id, "berlin",
	    STORE_DELIVERED, &b, &found, &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(store_receipt_put(f->s, id, "", STORE_READ, a,
	    sizeof(a), &f->e), KERR_INVALID);
	buf_free(&b);
}

static void
test_status_never_lowers(void **state)
{
	struct fx *f = *state;
	uint8_t id[STORE_ID], other[STORE_ID];
	struct store_status *st;
	size_t n;

	mkid(id, 1);
	mkid(other, 2);
	assert_int_equal(store_status_set(f->s, id, "paris", STORE_DELIVERED,
	    100, &f->e), 0);
	assert_int_equal(store_status_set(f->s, id, "paris", STORE_AT_HQ, 200,
	    &f->e), 0);
	assert_int_equal(store_status_set(f->s, id, "berlin", STORE_QUEUED, 50,
	    &f->e), 0);
	assert_int_equal(store_status_get(f->s, id, &st, &n, &f->e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(st[0].dest, "berlin");
	assert_int_equal(st[0].state, STORE_QUEUED);
	assert_string_equal(st[1].dest, "paris");
	assert_int_equal(st[1].state, STORE_DELIVERED);
	assert_int_equal(st[1].time, 100);
	free(st);

	/* Raised: new time; same state again: the first time stays. */
	assert_int_equal(store_status_set(f->s, id, "paris", STORE_READ, 300,
	    &f->e), 0);
	assert_int_equal(store_status_set(f->s, id, "paris", STORE_READ, 400,
	    &f->e), 0);
	assert_int_equal(store_status_set(f->s, id, "paris", STORE_QUEUED, 500,
	    &f->e), 0);
	assert_int_equal(store_status_get(f->s, id, &st, &n, &f->e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(st[1].state, STORE_READ);
	assert_int_equal(st[1].time, 300);
	free(st);

	assert_int_equal(store_status_get(f->s, other, &st, &n, &f->e), 0);
	assert_int_equal(n, 0);
	assert_null(st);
	assert_int_equal(store_status_set(f->s, id, "paris", 0, 1, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_status_set(f->s, id, "paris", 5, 1, &f->e),
	    KERR_INVALID);
}

/* ---- accounting ----------------------------------------------------------- */

static void
expect_marks(struct fx *f, const char *origin, uint64_t hwm, uint64_t max,
    uint64_t oldest)
{
	uint64_t h, m, o;

	assert_int_equal(store_in_marks(f->s, origin, &h, &m, &o, &f->e), 0);
	assert_int_equal(h, hwm);
	assert_int_equal(m, max);
	assert_int_equal(o, oldest);
}

static void
in_put(struct fx *f, const char *origin, uint64_t seq, uint8_t prec,
    uint64_t time)
{
	uint8_t id[STORE_ID], prev[STORE_ID];
	int dup;

	mkid(id, (uint32_t)seq);
	assert_int_equal(store_in_put(f->s, origin, seq, id, prec, prec, time, &dup,
	    prev, &f->e), 0);
	assert_int_equal(dup, 0);
}

static void
test_accounting(void **state)
{
	struct fx *f = *state;
	uint8_t id[STORE_ID], prev[STORE_ID], want[STORE_ID];
	uint64_t missing[8], seq;
	char names[4][STORE_NAME_MAX + 1];
	size_t n;
	int dup;

	expect_marks(f, "paris", 0, 0, 0);
	in_put(f, "paris", 1, ROUTINE, 10);
	expect_marks(f, "paris", 1, 1, 0);
	in_put(f, "paris", 3, PRIORITY, 30);
	expect_marks(f, "paris", 1, 3, 30);
	in_put(f, "paris", 4, ROUTINE, 40);
	expect_marks(f, "paris", 1, 4, 30);
	in_put(f, "paris", 2, FLASH, 20);
	expect_marks(f, "paris", 4, 4, 0);
	in_put(f, "paris", 7, ROUTINE, 70);
	expect_marks(f, "paris", 4, 7, 70);
	assert_int_equal(store_in_missing(f->s, "paris", missing, 8, &n,
	    &f->e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(missing[0], 5);
	assert_int_equal(missing[1], 6);
	in_put(f, "paris", 6, IMMEDIATE, 60);
	expect_marks(f, "paris", 4, 7, 60);
	assert_int_equal(store_in_missing(f->s, "paris", missing, 8, &n,
	    &f->e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(missing[0], 5);

	/* A duplicate is reported with the id it first had, and changes
	 * nothing. */
	mkid(want, 3);
	mkid(id, 333);
	assert_int_equal(store_in_put(f->s, "paris", 3, id, FLASH, FLASH, 99, &dup,
	    prev, &f->e), 0);
	assert_int_equal(dup, 1);
	assert_memory_equal(prev, want, STORE_ID);
	expect_marks(f, "paris", 4, 7, 60);
	assert_int_equal(store_in_later_lower(f->s, "paris", 2, PRIORITY, FLASH,
	    &seq, &f->e), 0);
	assert_int_equal(seq, 3);	/* still PRIORITY, not FLASH */

	/* later_lower: lowest seq > after with prec <= given. */
	assert_int_equal(store_in_later_lower(f->s, "paris", 1, ROUTINE, FLASH, &seq,
	    &f->e), 0);
	assert_int_equal(seq, 4);
	assert_int_equal(store_in_later_lower(f->s, "paris", 4, ROUTINE, FLASH, &seq,
	    &f->e), 0);
	assert_int_equal(seq, 7);
	assert_int_equal(store_in_later_lower(f->s, "paris", 4, FLASH, FLASH, &seq,
	    &f->e), 0);
	assert_int_equal(seq, 6);
	assert_int_equal(store_in_later_lower(f->s, "paris", 7, FLASH, FLASH, &seq,
	    &f->e), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(store_in_later_lower(f->s, "rome", 0, FLASH, FLASH, &seq,
	    &f->e), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(store_in_later_lower(f->s, "paris", UINT64_MAX,
	    FLASH, FLASH,
	    &seq, &f->e), 0);
	assert_int_equal(seq, 0);

	/* Origins, in name order, bounded. */
	in_put(f, "berlin", 2, ROUTINE, 5);
	expect_marks(f, "berlin", 0, 2, 5);
	assert_int_equal(store_in_origins(f->s, names, 4, &n, &f->e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "berlin");
	assert_string_equal(names[1], "paris");
	assert_int_equal(store_in_origins(f->s, names, 1, &n, &f->e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "berlin");

	/* Survives a restart. */
	reopen(f);
	expect_marks(f, "paris", 4, 7, 60);
	in_put(f, "paris", 5, ROUTINE, 80);
	expect_marks(f, "paris", 7, 7, 0);
	assert_int_equal(store_in_missing(f->s, "paris", missing, 8, &n,
	    &f->e), 0);
	assert_int_equal(n, 0);

	/* Invalid. */
	assert_int_equal(store_in_put(f->s, "paris", 0, id, ROUTINE, ROUTINE, 1, &dup,
	    prev, &f->e), KERR_INVALID);
	assert_int_equal(store_in_put(f->s, "paris", (uint64_t)INT64_MAX + 1,
	    id, ROUTINE, ROUTINE, 1, &dup, prev, &f->e), KERR_INVALID);
	assert_int_equal(store_in_put(f->s, "paris", 9, id, 0, 0, 1, &dup, prev,
	    &f->e), KERR_INVALID);
	assert_int_equal(store_in_put(f->s, "", 9, id, ROUTINE, ROUTINE, 1, &dup, prev,
	    &f->e), KERR_INVALID);
}

static void
test_missing_bounded(void **state)
{
	struct fx *f = *state;
	uint64_t missing[10];
	size_t n;

	in_put(f, "rome", 1, ROUTINE, 1);
	in_put(f, "rome", 1000000000000ULL, ROUTINE, 2);
	in_put(f, "rome", 1000000000005ULL, ROUTINE, 3);
	expect_marks(f, "rome", 1, 1000000000005ULL, 2);
	/* A huge hole is enumerated only up to n_max. */
	assert_int_equal(store_in_missing(f->s, "rome", missing, 10, &n,
	    &f->e), 0);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(missing[i], 2 + i);
	assert_int_equal(store_in_missing(f->s, "rome", missing, 0, &n,
	    &f->e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_in_missing(f->s, "nobody", missing, 10, &n,
	    &f->e), 0);
	assert_int_equal(n, 0);
}

/*
 * The marks and the missing list against a naive reference over a boolean
 * array, on random arrival orders with random drops and duplicates.
 */
static void
test_accounting_reference(void **state)
{
	struct fx *f = *state;
	enum { N = 300, MISS_MAX = 40 };
	for (int round = 0; round < 3; round++) {
		uint64_t order[N], times[N + 1] = { 0 }, missing[MISS_MAX];
		int present[N + 2] = { 0 };
		char origin[16];
		size_t n;

		snprintf(origin, sizeof(origin), "post%d", round);
		for (int i = 0; i < N; i++)
			order[i] = (uint64_t)i + 1;
		for (int i = N - 1; i > 0; i--) {
			uint32_t j = randombytes_uniform((uint32_t)i + 1);
			uint64_t t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < N; i++) {
			uint64_t seq = order[i], hwm = 0, max = 0, oldest = 0;
			uint8_t id[STORE_ID], prev[STORE_ID];
			size_t want_n = 0;
			int dup;

			if (randombytes_uniform(10) == 0)
				continue;	/* dropped */
			mkid(id, (uint32_t)seq);
			assert_int_equal(store_in_put(f->s, origin, seq, id,
			    ROUTINE, ROUTINE, (uint64_t)i + 1, &dup, prev, &f->e), 0);
			assert_int_equal(dup, 0);
			present[seq] = 1;
			times[seq] = (uint64_t)i + 1;
			if (randombytes_uniform(8) == 0) {
				assert_int_equal(store_in_put(f->s, origin,
				    seq, id, ROUTINE, ROUTINE, 1, &dup, prev, &f->e), 0);
				assert_int_equal(dup, 1);
				assert_memory_equal(prev, id, STORE_ID);
			}

			while (present[hwm + 1])
				hwm++;
			for (uint64_t k = 1; k <= N; k++) {
				if (!present[k])
					continue;
				max = k;
				if (k > hwm && (oldest == 0 || times[k] < oldest))
					oldest = times[k];
			}
			expect_marks(f, origin, hwm, max, oldest);
			assert_int_equal(store_in_missing(f->s, origin,
			    missing, MISS_MAX, &n, &f->e), 0);
			for (uint64_t k = hwm + 1; k < max && want_n < MISS_MAX;
			    k++) {
				if (present[k])
					continue;
				assert_true(want_n < n);
				assert_int_equal(missing[want_n], k);
				want_n++;
			}
			assert_int_equal(n, want_n);
		}
	}
}

/* ---- inbox, alerts -------------------------------------------------------- */

static struct store_inbox
inbox_item(uint32_t n, uint8_t prec, uint64_t received)
{
	struct store_inbox it;

	memset(&it, 0, sizeof(it));
	mkid(it.id, n);
	snprintf(it.origin, sizeof(it.origin), "paris");
	it.prec = prec;
	it.dtg = received - 1;
	it.received = received;
	return it;
}

static void
test_inbox(void **state)
{
	struct fx *f = *state;
	struct store_inbox a = inbox_item(1, ROUTINE, 10);
	struct store_inbox b = inbox_item(2, FLASH, 20);
	struct store_inbox c = inbox_item(3, ROUTINE, 30);
	struct store_inbox d = inbox_item(4, FLASH, 5);
	struct store_inbox x = inbox_item(5, ROUTINE, 30);
	const struct store_inbox *want[] = { &b, &d, &x, &c, &a };
	struct store_inbox *l;
	uint8_t absent[STORE_ID];
	size_t n;
	int first;

	assert_int_equal(store_inbox_put(f->s, &a, &f->e), 0);
	assert_int_equal(store_inbox_put(f->s, &b, &f->e), 0);
	assert_int_equal(store_inbox_put(f->s, &c, &f->e), 0);
	assert_int_equal(store_inbox_put(f->s, &d, &f->e), 0);
	assert_int_equal(store_inbox_put(f->s, &x, &f->e), 0);
	/* Putting again is a no-op. */
	assert_int_equal(store_inbox_put(f->s, &a, &f->e), 0);

	assert_int_equal(store_inbox_list(f->s, 10, &l, &n, &f->e), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_memory_equal(l[i].id, want[i]->id, STORE_ID);
		assert_string_equal(l[i].origin, "paris");
		assert_int_equal(l[i].prec, want[i]->prec);
		assert_int_equal(l[i].received, want[i]->received);
		assert_int_equal(l[i].dtg, want[i]->dtg);
		assert_int_equal(l[i].read_at, 0);
	}
	free(l);
	assert_int_equal(store_inbox_list(f->s, 2, &l, &n, &f->e), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(l[1].id, d.id, STORE_ID);
	free(l);
	assert_int_equal(store_inbox_list(f->s, 0, &l, &n, &f->e), 0);
	assert_int_equal(n, 0);
	free(l);

	/* Read once: the first time is kept, and said to be the first. */
	assert_int_equal(store_inbox_mark_read(f->s, c.id, 100, &first,
	    &f->e), 0);
	assert_int_equal(first, 1);
	assert_int_equal(store_inbox_mark_read(f->s, c.id, 200, &first,
	    &f->e), 0);
	assert_int_equal(first, 0);
	mkid(absent, 77);
	assert_int_equal(store_inbox_mark_read(f->s, absent, 200, &first,
	    &f->e), 0);
	assert_int_equal(first, 0);
	assert_int_equal(store_inbox_mark_read(f->s, c.id, 0, &first, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_inbox_list(f->s, 10, &l, &n, &f->e), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(l[i].read_at,
		    memcmp(l[i].id, c.id, STORE_ID) == 0 ? 100 : 0);
	free(l);

	x.prec = 0;
	assert_int_equal(store_inbox_put(f->s, &x, &f->e), KERR_INVALID);
}

static void
test_alerts(void **state)
{
	struct fx *f = *state;
	struct store_alert *al;
	char big[400], k32[33], *o65 = longname(65);
	size_t n;

	assert_int_equal(store_alert_add(f->s, "gap", "paris",
	    "seq 5 missing", 10, &f->e), 0);
	assert_int_equal(store_alert_add(f->s, "replay", "berlin",
	    "seq 3 again", 20, &f->e), 0);
	assert_int_equal(store_alert_add(f->s, "forgery", NULL, NULL, 30,
	    &f->e), 0);

	assert_int_equal(store_alert_list(f->s, 0, &al, &n, &f->e), 0);
	assert_int_equal(n, 3);
	assert_true(al[0].n < al[1].n && al[1].n < al[2].n);
	assert_string_equal(al[0].kind, "gap");
	assert_string_equal(al[0].origin, "paris");
	assert_string_equal(al[0].detail, "seq 5 missing");
	assert_int_equal(al[0].time, 10);
	assert_string_equal(al[2].origin, "");
	assert_string_equal(al[2].detail, "");
	{
		uint64_t first = al[0].n, last = al[2].n;

		free(al);
		assert_int_equal(store_alert_list(f->s, first, &al, &n,
		    &f->e), 0);
		assert_int_equal(n, 2);
		assert_string_equal(al[0].kind, "replay");
		free(al);
		assert_int_equal(store_alert_list(f->s, last, &al, &n,
		    &f->e), 0);
		assert_int_equal(n, 0);
		assert_null(al);
	}

	/* Over-long detail is cut to fit, at a character boundary. */
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_alert_add(f->s, "gap", "paris", big, 40,
	    &f->e), 0);
	memset(big, 'y', 254);
	memcpy(big + 254, "\xc3\xa9zz", 5);	/* é straddles byte 255 */
	assert_int_equal(store_alert_add(f->s, "gap", "paris", big, 41,
	    &f->e), 0);
	/* Control characters and invalid UTF-8 are neutralised. */
	assert_int_equal(store_alert_add(f->s, "conflict", "paris",
	    "a\x1b[31m\xff\xc3\xa9\xe2\x82", 42, &f->e), 0);
	assert_int_equal(store_alert_list(f->s, 3, &al, &n, &f->e), 0);
	assert_int_equal(n, 3);
	assert_int_equal(strlen(al[0].detail), 255);
	assert_int_equal(strspn(al[0].detail, "x"), 255);
	assert_int_equal(strlen(al[1].detail), 254);
	assert_int_equal(strspn(al[1].detail, "y"), 254);
	assert_string_equal(al[2].detail, "a?[31m?\xc3\xa9??");
	free(al);

	/* kind and origin are validated. */
	memset(k32, 'k', 32);
	k32[32] = '\0';
	assert_int_equal(store_alert_add(f->s, k32, "paris", "", 1, &f->e),
	    KERR_INVALID);
	k32[31] = '\0';
	assert_int_equal(store_alert_add(f->s, k32, "paris", "", 1, &f->e), 0);
	assert_int_equal(store_alert_add(f->s, "", "paris", "", 1, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_alert_add(f->s, NULL, "paris", "", 1, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_alert_add(f->s, "gap", o65, "", 1, &f->e),
	    KERR_INVALID);
	free(o65);
}

/* ---- directory ------------------------------------------------------------ */

static struct store_member
member(const char *name, uint8_t kind, const char *post, uint8_t seed)
{
	struct store_member m;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.post, sizeof(m.post), "%s", post);
	m.kind = kind;
	memset(m.sign_pk, seed, sizeof(m.sign_pk));
	memset(m.enc_pk, seed ^ 0xff, sizeof(m.enc_pk));
	m.added = 1000 + seed;
	return m;
}

static void
test_members(void **state)
{
	struct fx *f = *state;
	struct store_member paris = member("paris", STORE_POST, "", 1);
	struct store_member alice = member("alice", STORE_PERSON, "paris", 2);
	struct store_member hq = member("hq", STORE_HQ, "", 3);
	struct store_member m, *l;
	size_t n;
	int found;

	assert_int_equal(store_member_add(f->s, &paris, &f->e), 0);
	assert_int_equal(store_member_add(f->s, &alice, &f->e), 0);
	assert_int_equal(store_member_add(f->s, &hq, &f->e), 0);
	memset(&f->e, 0, sizeof(f->e));
	m = member("paris", STORE_POST, "", 9);
	assert_int_equal(store_member_add(f->s, &m, &f->e), KERR_EXISTS);
	assert_non_null(strstr(f->e.msg, "paris"));

	assert_int_equal(store_member_get(f->s, "alice", &m, &found, &f->e),
	    0);
	assert_int_equal(found, 1);
	assert_memory_equal(&m, &alice, sizeof(m));
	assert_int_equal(store_member_get(f->s, "paris", &m, &found, &f->e),
	    0);
	assert_memory_equal(m.sign_pk, paris.sign_pk, 32);	/* not 9s */
	assert_int_equal(store_member_get(f->s, "bob", &m, &found, &f->e), 0);
	assert_int_equal(found, 0);

	/* Revoke: once, and the first time stays. */
	assert_int_equal(store_member_revoke(f->s, "alice", 500, &found,
	    &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(store_member_revoke(f->s, "alice", 600, &found,
	    &f->e), 0);
	assert_int_equal(found, 1);
	assert_int_equal(store_member_revoke(f->s, "bob", 600, &found,
	    &f->e), 0);
	assert_int_equal(found, 0);
	assert_int_equal(store_member_get(f->s, "alice", &m, &found, &f->e),
	    0);
	assert_int_equal(m.revoked, 500);

	assert_int_equal(store_member_list(f->s, &l, &n, &f->e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(l[0].name, "alice");
	assert_int_equal(l[0].revoked, 500);
	assert_string_equal(l[0].post, "paris");
	assert_string_equal(l[1].name, "hq");
	assert_int_equal(l[1].kind, STORE_HQ);
	assert_string_equal(l[2].name, "paris");
	assert_int_equal(l[2].revoked, 0);
	free(l);

	m = member("carol", STORE_PERSON, "", 4);
	assert_int_equal(store_member_add(f->s, &m, &f->e), KERR_INVALID);
	m = member("rome", STORE_POST, "paris", 4);
	assert_int_equal(store_member_add(f->s, &m, &f->e), KERR_INVALID);
	m = member("rome", 0, "", 4);
	assert_int_equal(store_member_add(f->s, &m, &f->e), KERR_INVALID);
	m = member("rome", 4, "", 4);
	assert_int_equal(store_member_add(f->s, &m, &f->e), KERR_INVALID);
}

static void
test_enrolment(void **state)
{
	struct fx *f = *state;
	uint8_t h[32], wrong[32], h2[32];
	int ok;

	randombytes_buf(h, sizeof(h));
	memcpy(wrong, h, sizeof(h));
	wrong[31] ^= 1;
	randombytes_buf(h2, sizeof(h2));

	assert_int_equal(store_enrol_add(f->s, "bob", h, 1000, &f->e), 0);
	/* A wrong hash fails and does not burn the token. */
	ok = 9;
	assert_int_equal(store_enrol_use(f->s, "bob", wrong, 10, &ok, &f->e),
	    0);
	assert_int_equal(ok, 0);
	assert_int_equal(store_enrol_use(f->s, "bob", h, 10, &ok, &f->e), 0);
	assert_int_equal(ok, 1);
	/* One time only, across restarts too. */
	assert_int_equal(store_enrol_use(f->s, "bob", h, 11, &ok, &f->e), 0);
	assert_int_equal(ok, 0);
	reopen(f);
	assert_int_equal(store_enrol_use(f->s, "bob", h, 12, &ok, &f->e), 0);
	assert_int_equal(ok, 0);
	/* A new token for the name replaces the old one. */
	assert_int_equal(store_enrol_add(f->s, "bob", h2, 1000, &f->e), 0);
	assert_int_equal(store_enrol_use(f->s, "bob", h, 13, &ok, &f->e), 0);
	assert_int_equal(ok, 0);
	assert_int_equal(store_enrol_use(f->s, "bob", h2, 13, &ok, &f->e), 0);
	assert_int_equal(ok, 1);

	/* Expired at `expires`; an expired attempt does not burn it. */
	assert_int_equal(store_enrol_add(f->s, "carol", h, 100, &f->e), 0);
	assert_int_equal(store_enrol_use(f->s, "carol", h, 100, &ok, &f->e),
	    0);
	assert_int_equal(ok, 0);
	assert_int_equal(store_enrol_use(f->s, "carol", h, 99, &ok, &f->e), 0);
	assert_int_equal(ok, 1);

	/* Unknown name. */
	assert_int_equal(store_enrol_use(f->s, "dave", h, 1, &ok, &f->e), 0);
	assert_int_equal(ok, 0);

	/* Inside a transaction that is rolled back, the use is undone. */
	assert_int_equal(store_enrol_add(f->s, "erin", h, 100, &f->e), 0);
	assert_int_equal(store_begin(f->s, &f->e), 0);
	assert_int_equal(store_enrol_use(f->s, "erin", h, 1, &ok, &f->e), 0);
	assert_int_equal(ok, 1);
	store_rollback(f->s);
	assert_int_equal(store_enrol_use(f->s, "erin", h, 1, &ok, &f->e), 0);
	assert_int_equal(ok, 1);

	assert_int_equal(store_enrol_add(f->s, "", h, 100, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_enrol_add(f->s, "frank", h, UINT64_MAX, &f->e),
	    KERR_INVALID);
}

/* ---- caps ----------------------------------------------------------------- */

static void
test_name_caps(void **state)
{
	struct fx *f = *state;
	char *n64 = longname(STORE_NAME_MAX), *n65 = longname(65);
	uint8_t id[STORE_ID], prev[STORE_ID], h[32] = { 0 };
	struct store_qitem it = qtg(1, ROUTINE);
	struct store_member m = member("x", STORE_POST, "", 1);
	struct store_status *st;
	size_t n;
	int dup, ins;

	mkid(id, 1);
	/* 64 bytes is fine everywhere... */
	assert_int_equal(store_q_put(f->s, n64, &it, &f->e), 0);
	assert_int_equal(store_status_set(f->s, id, n64, 1, 1, &f->e), 0);
	assert_int_equal(store_in_put(f->s, n64, 1, id, ROUTINE, ROUTINE, 1, &dup, prev,
	    &f->e), 0);
	assert_int_equal(store_receipt_put(f->s, id, n64, 3, h, 32, &f->e), 0);
	assert_int_equal(store_env_put(f->s, id, n64, 1, h, 32, &ins, &f->e),
	    0);
	memcpy(m.name, n64, STORE_NAME_MAX + 1);
	assert_int_equal(store_member_add(f->s, &m, &f->e), 0);
	assert_int_equal(store_status_get(f->s, id, &st, &n, &f->e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(st[0].dest, n64);
	free(st);

	/* ...65 nowhere. */
	assert_int_equal(store_q_put(f->s, n65, &it, &f->e), KERR_INVALID);
	assert_int_equal(store_status_set(f->s, id, n65, 1, 1, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_in_put(f->s, n65, 1, id, ROUTINE, ROUTINE, 1, &dup, prev,
	    &f->e), KERR_INVALID);
	assert_int_equal(store_receipt_put(f->s, id, n65, 3, h, 32, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_env_put(f->s, id, n65, 1, h, 32, &ins, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_member_revoke(f->s, n65, 1, &ins, &f->e),
	    KERR_INVALID);
	assert_int_equal(store_enrol_add(f->s, n65, h, 1, &f->e),
	    KERR_INVALID);
	memset(m.name, 'n', sizeof(m.name));	/* unterminated */
	assert_int_equal(store_member_add(f->s, &m, &f->e), KERR_INVALID);
	/* Not UTF-8. */
	assert_int_equal(store_q_put(f->s, "bad\xff", &it, &f->e),
	    KERR_INVALID);
	free(n64);
	free(n65);
}

/* ---- crash durability ----------------------------------------------------- */

#define CRASH_PAYLOAD 512

static void
crash_payload(uint8_t *p, uint32_t i)
{
	for (size_t k = 0; k < CRASH_PAYLOAD; k++)
		p[k] = (uint8_t)(i * 31 + k);
}

/* The child: commit transaction after transaction, reporting each. */
static void __attribute__((noreturn))
crash_child(const char *path, int wfd)
{
	uint8_t env[CRASH_PAYLOAD];
	struct store *s;
	struct kerr e;

	if (store_open(&s, path, &e) != 0)
		_exit(2);
	for (uint32_t i = 1;; i++) {
		struct store_qitem it = qtg(i, (uint8_t)(1 + i % 4));
		int ins;

		crash_payload(env, i);
		if (store_begin(s, &e) != 0 ||
		    store_env_put(s, it.id, "paris", i, env, sizeof(env), &ins,
		    &e) != 0 ||
		    store_q_put(s, "hq", &it, &e) != 0 ||
		    store_meta_set_u64(s, "count", i, &e) != 0)
			_exit(3);
		if (store_commit(s, &e) != 0)
			_exit(4);
		if (write(wfd, &i, sizeof(i)) != (ssize_t)sizeof(i))
			_exit(5);
	}
}

static void
test_crash_durability(void **state)
{
	struct fx *f = *state;

	for (int round = 0; round < 5; round++) {
		uint32_t target = 1 + randombytes_uniform(40), last = 0, v;
		uint8_t env[CRASH_PAYLOAD], id[STORE_ID];
		char p[700], name[32];
		struct store *s;
		struct buf b;
		uint64_t count, q;
		int fds[2], status, found;
		pid_t pid;

		snprintf(name, sizeof(name), "crash%d.db", round);
		sub_path(f, name, p, sizeof(p));
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(p, fds[1]);
		}
		close(fds[1]);
		while (last < target &&
		    read(fds[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
			last = v;
		assert_int_equal(last, target);	/* the child did not die */
		usleep(randombytes_uniform(5000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
		while (read(fds[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
			last = v;
		close(fds[0]);

		/* Everything reported is there; at most one more commit
		 * (done, not yet reported); nothing half-done. */
		assert_int_equal(store_open(&s, p, &f->e), 0);
		assert_int_equal(store_meta_get_u64(s, "count", &count, &found,
		    &f->e), 0);
		assert_int_equal(found, 1);
		assert_true(count == last || count == (uint64_t)last + 1);
		assert_int_equal(store_q_count(s, "hq", &q, &f->e), 0);
		assert_int_equal(q, count);
		buf_init(&b, 4096);
		for (uint32_t i = 1; i <= count + 1; i++) {
			mkid(id, i);
			assert_int_equal(store_env_get(s, id, &b, &found,
			    &f->e), 0);
			assert_int_equal(found, i <= count);
			if (found) {
				crash_payload(env, i);
				assert_int_equal(b.len, CRASH_PAYLOAD);
				assert_memory_equal(b.p, env, CRASH_PAYLOAD);
			}
		}
		buf_free(&b);
		store_close(s);
	}
}

/*
 * The checkpointer thread copies the WAL into the database while the
 * writer goes on (the writer's own autocheckpoint is replaced by it), with
 * every signal blocked in the thread (kodend reads signals with signalfd).
 */
#define CK_ENVS 2400
#define CK_ENV_BYTES 8192
static off_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static int
threads_unblocked(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[300], line[256];
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
		    de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strncmp(line, "SigBlk:", 7) == 0 &&
			    strtoull(line + 7, NULL, 16) == 0)
				n++;
		fclose(fp);
	}
	closedir(d);
	return n;
}

static void
test_checkpointer(void **state)
{
	struct fx *f = *state;
	static uint8_t env[CK_ENV_BYTES];
	uint8_t id[STORE_ID];
	struct buf b;
	int ins, found;

	assert_int_equal(threads_unblocked(), 1);	/* this one */
	assert_int_equal(store_checkpointer_start(f->s, f->path, &f->e), 0);
	assert_int_equal(threads_unblocked(), 1);	/* not the new one */
	assert_int_equal(store_checkpointer_start(f->s, f->path, &f->e), 0);
	for (uint32_t i = 1; i <= CK_ENVS; i++) {
		if (i % 20 == 1)
			assert_int_equal(store_begin(f->s, &f->e), 0);
		mkid(id, i);
		memset(env, (int)(i & 0xff), sizeof(env));
		assert_int_equal(store_env_put(f->s, id, "paris", i, env,
		    sizeof(env), &ins, &f->e), 0);
		if (i % 20 == 0)
			assert_int_equal(store_commit(f->s, &f->e), 0);
	}
	/* ~20 MB went through the log; the thread copied it over */
	for (int k = 0; k < 500 && file_size(f->path) <
	    (off_t)CK_ENVS * CK_ENV_BYTES; k++)
		usleep(10000);
	assert_true(file_size(f->path) >= (off_t)CK_ENVS * CK_ENV_BYTES);
	store_close(f->s);
	assert_int_equal(store_open(&f->s, f->path, &f->e), 0);
	buf_init(&b, CK_ENV_BYTES);
	for (uint32_t i = 1; i <= CK_ENVS; i += 97) {
		mkid(id, i);
		assert_int_equal(store_env_get(f->s, id, &b, &found, &f->e), 0);
		assert_int_equal(found, 1);
		assert_int_equal(b.len, CK_ENV_BYTES);
		assert_int_equal(b.p[0], i & 0xff);
		assert_int_equal(b.p[CK_ENV_BYTES - 1], i & 0xff);
	}
	buf_free(&b);
}

/*
 * What a commit makes durable, for the queue: store_q_last_ord bounds the
 * items of the transactions so far, items queued later get greater ords
 * (even after deletes), and store_q_next leaves out what is above the
 * bound whatever its precedence.
 */
static void
test_queue_durable_bound(void **state)
{
	struct fx *f = *state;
	struct store_qitem items[8], it;
	uint64_t ord, bound;
	size_t n;
	int found;

	assert_int_equal(store_q_last_ord(f->s, &ord, &f->e), 0);
	assert_true(ord == 0);
	it = qtg(1, ROUTINE);
	assert_int_equal(store_q_put(f->s, "hq", &it, &f->e), 0);
	it = qtg(2, PRIORITY);
	assert_int_equal(store_q_put(f->s, "hq", &it, &f->e), 0);
	assert_int_equal(store_q_last_ord(f->s, &bound, &f->e), 0);
	assert_true(bound == 2);

	/* a transaction not yet durable: a FLASH and a receipt */
	assert_int_equal(store_begin(f->s, &f->e), 0);
	it = qtg(3, FLASH);
	assert_int_equal(store_q_put(f->s, "hq", &it, &f->e), 0);
	it = qrc(4, "paris", 2, FLASH);
	assert_int_equal(store_q_put(f->s, "hq", &it, &f->e), 0);
	assert_int_equal(store_q_last_ord(f->s, &ord, &f->e), 0);
	assert_true(ord == 4);
	assert_int_equal(store_q_next(f->s, "hq", 0, bound, items, 8, &n,
	    &f->e), 0);
	assert_int_equal(n, 2);	/* the FLASH items wait for their commit */
	assert_int_equal(items[0].prec, PRIORITY);
	assert_int_equal(items[1].prec, ROUTINE);
	assert_true(items[0].ord <= bound && items[1].ord <= bound);
	assert_int_equal(store_q_next(f->s, "hq", 0, ord, items, 8, &n,
	    &f->e), 0);
	assert_int_equal(n, 4);
	assert_int_equal(items[0].prec, FLASH);
	assert_int_equal(store_commit(f->s, &f->e), 0);

	/* an ord is never given twice, not even after the last is deleted */
	it = qrc(4, "paris", 2, FLASH);
	assert_int_equal(store_q_del(f->s, "hq", &it, &found, &f->e), 0);
	assert_int_equal(found, 1);
	it = qtg(5, ROUTINE);
	assert_int_equal(store_q_put(f->s, "hq", &it, &f->e), 0);
	assert_int_equal(store_q_last_ord(f->s, &ord, &f->e), 0);
	assert_true(ord == 5);
	assert_int_equal(store_q_next(f->s, "hq", 0, 4, items, 8, &n, &f->e),
	    0);
	assert_int_equal(n, 3);	/* not 5 */
	for (size_t i = 0; i < n; i++)
		assert_true(items[i].ord <= 4);
}

/* The store's fsync thread, held by the test; and the path it syncs. */
static volatile int sync_hold;
static char sync_path[700];
static int sync_calls;

static void
hold_hook(const char *path)
{
	snprintf(sync_path, sizeof(sync_path), "%s", path);
	__atomic_add_fetch(&sync_calls, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sync_hold, __ATOMIC_SEQ_CST))
		usleep(1000);
}

static int
readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void
put_one(struct fx *f, uint32_t i)
{
	uint8_t id[STORE_ID], env[64];
	int ins;

	mkid(id, i);
	memset(env, (int)i, sizeof(env));
	assert_int_equal(store_begin(f->s, &f->e), 0);
	assert_int_equal(store_env_put(f->s, id, "paris", i, env, sizeof(env),
	    &ins, &f->e), 0);
	assert_int_equal(store_commit(f->s, &f->e), 0);
}

/*
 * Deferred durability: commits are numbered; without the thread each is
 * durable at once; with it, a commit counts as durable only after the
 * thread's fdatasync of the WAL, which the eventfd announces.  A WAL that
 * is no longer the file SQLite writes (unlinked here) is a sticky failure,
 * not a silent fsync of the wrong file.
 */
static void
test_deferred_sync(void **state)
{
	struct fx *f = *state;
	char wal[700];
	uint64_t c, v;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(efd >= 0);
	put_one(f, 1);
	c = store_last_commit(f->s);
	assert_true(c >= 1);
	assert_true(store_durable(f->s) == c);

	walsync_test_hook = hold_hook;
	assert_int_equal(store_sync_thread_start(f->s, f->path, efd, &f->e),
	    0);
	assert_true(store_durable(f->s) == store_last_commit(f->s));
	__atomic_store_n(&sync_hold, 1, __ATOMIC_SEQ_CST);
	put_one(f, 2);
	c = store_last_commit(f->s);
	for (int k = 0; k < 500 && __atomic_load_n(&sync_calls,
	    __ATOMIC_SEQ_CST) == 0; k++)
		usleep(1000);
	usleep(50000);
	assert_true(store_durable(f->s) < c);	/* written, not synced */
	assert_false(readable(efd));
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_string_equal(sync_path, wal);
	put_one(f, 3);		/* shares the next fsync */
	c = store_last_commit(f->s);
	__atomic_store_n(&sync_hold, 0, __ATOMIC_SEQ_CST);
	assert_int_equal(store_wait_durable(f->s, c, &f->e), 0);
	assert_true(store_durable(f->s) >= c);
	for (int k = 0; k < 500 && !readable(efd); k++)
		usleep(1000);
	assert_true(read(efd, &v, sizeof(v)) == sizeof(v) && v >= 1);
	assert_int_equal(store_sync_failed(f->s), 0);

	/* the WAL's name no longer holds SQLite's file */
	assert_int_equal(unlink(wal), 0);
	put_one(f, 4);
	c = store_last_commit(f->s);
	assert_int_equal(store_wait_durable(f->s, c, &f->e), KERR_IO);
	assert_int_equal(store_sync_failed(f->s), 1);
	assert_true(store_durable(f->s) < c);
	walsync_test_hook = NULL;
	close(efd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_migrate_fresh_and_reopen),
		T(test_migrate_from_v1),
		T(test_future_version_refused),
		T(test_not_a_database),
		T(test_file_mode),
		T(test_query_plans),
		T(test_transactions),
		T(test_meta),
		T(test_env_put_get),
		T(test_env_find),
		T(test_queue_order),
		T(test_queue_defer_del_mixed),
		T(test_queue_durable_bound),
		T(test_receipts),
		T(test_status_never_lowers),
		T(test_accounting),
		T(test_missing_bounded),
		T(test_accounting_reference),
		T(test_inbox),
		T(test_alerts),
		T(test_members),
		T(test_enrolment),
		T(test_name_caps),
		T(test_crash_durability),
		T(test_checkpointer),
		T(test_deferred_sync),
#undef T
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
