/*
 * Static SQL and schema migrations (sqlschema.h).
 */
#include <stdio.h>

#include "lib/sqlschema.h"

int
sql_exec(sqlite3 *db, const char *q, const char *what, struct kerr *e)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, q, NULL, NULL, &msg);
	int r = rc == SQLITE_NOMEM ? KERR_NOMEM : KERR_IO;

	if (rc == SQLITE_OK)
		return 0;
	kerr_set(e, r, "%s: %s", what, msg != NULL ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return r;
}

static int
user_version(sqlite3 *db, const char *what, int *v, struct kerr *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return kerr_set(e, KERR_IO, "%s: user_version: %s", what,
		    sqlite3_errmsg(db));
	rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return kerr_set(e, rc == SQLITE_NOMEM ? KERR_NOMEM : KERR_IO,
		    "%s: user_version: %s", what, sqlite3_errstr(rc));
	return 0;
}

static int
too_new(const char *path, int v, int n, struct kerr *e)
{
	return kerr_set(e, KERR_VERSION, "%s has schema version %d; this "
	    "build knows up to %d: upgrade koden", path, v, n);
}

int
sql_migrate(sqlite3 *db, const char *const *migrations, int n,
    const char *path, const char *what, int *version, struct kerr *e)
{
	char set[64];
	int v, r;

	if ((r = user_version(db, what, &v, e)) != 0)
		return r;
	if (v > n)
		return too_new(path, v, n, e);
	while (v < n) {
		if ((r = sql_exec(db, "BEGIN IMMEDIATE", what, e)) != 0)
			return r;
		if ((r = user_version(db, what, &v, e)) != 0)
			goto fail;
		if (v > n) {
			r = too_new(path, v, n, e);
			goto fail;
		}
		if (v < n) {
			/* an integer of ours: PRAGMA takes no parameters */
			snprintf(set, sizeof(set), "PRAGMA user_version = %d",
			    v + 1);
			if ((r = sql_exec(db, migrations[v], what, e)) != 0 ||
			    (r = sql_exec(db, set, what, e)) != 0)
				goto fail;
			v++;
		}
		if ((r = sql_exec(db, "COMMIT", what, e)) != 0)
			goto fail;
	}
	if (version != NULL)
		*version = v;
	return 0;
fail:
	(void)!sql_exec(db, "ROLLBACK", what, NULL);
	return r;
}
