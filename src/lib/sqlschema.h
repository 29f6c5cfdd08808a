/*
 * What koden's two SQLite files (the store, src/store; the audit log,
 * src/audit) share: static SQL and versioned schema migrations.
 */
#ifndef KODEN_SQLSCHEMA_H
#define KODEN_SQLSCHEMA_H

#include <sqlite3.h>

#include "lib/err.h"

/* Run static SQL (pragmas, migrations: never caller data); errors say
 * "what: ...". */
int sql_exec(sqlite3 *db, const char *q, const char *what, struct kerr *e)
    KODEN_WUR;

/*
 * Bring the schema (PRAGMA user_version) of the file at path to n by
 * running migrations[v] for each version v below n, one BEGIN IMMEDIATE
 * transaction each.  The version is read again inside each transaction
 * (which holds the write lock), so two processes opening the file at once
 * migrate it once.  A file newer than n is KERR_VERSION and is left as it
 * is.  *version (may be NULL) gets the version reached.
 */
int sql_migrate(sqlite3 *db, const char *const *migrations, int n,
    const char *path, const char *what, int *version, struct kerr *e)
    KODEN_WUR;

#endif
