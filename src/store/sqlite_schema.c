/*
 * The SQLite store's schema (docs/store.md, "Schema" and "Migrations"): its
 * migrations, the SQL of every statement the store runs, and bringing a
 * database file up to date.
 */
#include "lib/err.h"
#include "lib/sqlschema.h"
#include "store/sqlite_int.h"

/*
 * The schema, one migration per element, applied in order, each in a
 * transaction of its own that also sets PRAGMA user_version to its index + 1.
 * Append only: never edit a migration that has shipped.
 */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  u64 INTEGER,"
	"  blob BLOB"
	") STRICT;"
	"CREATE TABLE env ("
	"  id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),"
	"  origin TEXT NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  env BLOB NOT NULL"
	") STRICT;"
	"CREATE TABLE queue ("
	"  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  link TEXT NOT NULL,"
	"  kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
	"  id BLOB NOT NULL CHECK (length(id) = 16),"
	"  signer TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  prec INTEGER NOT NULL CHECK (prec BETWEEN 1 AND 4),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  not_before INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (link, kind, id, signer, state)"
	") STRICT;"
	"CREATE INDEX queue_next ON queue (link, prec DESC, ord);"
	"CREATE TABLE receipt ("
	"  id BLOB NOT NULL CHECK (length(id) = 16),"
	"  signer TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  blob BLOB NOT NULL,"
	"  PRIMARY KEY (id, signer, state)"
	") STRICT;"
	"CREATE TABLE status ("
	"  id BLOB NOT NULL CHECK (length(id) = 16),"
	"  dest TEXT NOT NULL,"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 4),"
	"  time INTEGER NOT NULL,"
	"  PRIMARY KEY (id, dest)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE inbound ("
	"  origin TEXT NOT NULL,"
	"  seq INTEGER NOT NULL CHECK (seq >= 1),"
	"  id BLOB NOT NULL CHECK (length(id) = 16),"
	"  prec INTEGER NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  PRIMARY KEY (origin, seq)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE in_marks ("
	"  origin TEXT PRIMARY KEY NOT NULL,"
	"  hwm INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE inbox ("
	"  id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),"
	"  origin TEXT NOT NULL,"
	"  prec INTEGER NOT NULL,"
	"  dtg INTEGER NOT NULL,"
	"  received INTEGER NOT NULL,"
	"  read_at INTEGER NOT NULL DEFAULT 0"
	") STRICT;"
	"CREATE INDEX inbox_order ON inbox (prec, received);"
	"CREATE TABLE alert ("
	"  n INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  origin TEXT NOT NULL,"
	"  detail TEXT NOT NULL"
	") STRICT;"
	"CREATE TABLE member ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  kind INTEGER NOT NULL CHECK (kind IN (1, 2, 3)),"
	"  post TEXT NOT NULL,"
	"  sign_pk BLOB NOT NULL CHECK (length(sign_pk) = 32),"
	"  enc_pk BLOB NOT NULL CHECK (length(enc_pk) = 32),"
	"  added INTEGER NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE enrol ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32),"
	"  expires INTEGER NOT NULL,"
	"  used INTEGER"
	") STRICT, WITHOUT ROWID;",
	/*
	 * 2: a telegram's precedence on its first hop (the highest over its
	 * addressees) joins its precedence for this post, for the accounting
	 * rule (docs/protocol.md).  Rows from before keep FLASH, which makes
	 * the reorder check ignore them rather than raise false alerts.
	 */
	"ALTER TABLE inbound ADD COLUMN top INTEGER NOT NULL DEFAULT 4"
	"  CHECK (top BETWEEN 1 AND 4);",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/*
 * Every statement, by id (sqlite_int.h), in one table beside the schema it
 * reads.  store_open prepares them all in one loop, once, so a statement
 * that does not match the schema fails the open, not a call hours later;
 * and a migration and the statements it touches are edited in one place.
 * A table per file would have to be handed to store_open one by one, for
 * nothing gained.
 */
const char *const sqlite_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SP_BEGIN] = "SAVEPOINT store_op",
	[ST_SP_RELEASE] = "RELEASE store_op",
	[ST_SP_ROLLBACK] = "ROLLBACK TO store_op",

	[ST_META_GET] = "SELECT u64, blob FROM meta WHERE key = ?1",
	[ST_META_SET_U64] = "INSERT INTO meta (key, u64) VALUES (?1, ?2)"
	    " ON CONFLICT (key) DO UPDATE SET u64 = excluded.u64",
	/*
	 * u64 holds a uint64_t bit-cast to int64: add 1 modulo 2^64 without
	 * SQLite's overflow to REAL, and refuse (no row returned) to wrap
	 * UINT64_MAX (stored as -1) back to 0.
	 */
	[ST_META_INCR] = "INSERT INTO meta (key, u64) VALUES (?1, 1)"
	    " ON CONFLICT (key) DO UPDATE SET u64 = CASE"
	    "  WHEN u64 IS NULL THEN 1"
	    "  WHEN u64 = 9223372036854775807 THEN -9223372036854775807 - 1"
	    "  ELSE u64 + 1 END"
	    " WHERE u64 IS NULL OR u64 <> -1"
	    " RETURNING u64",
	[ST_META_SET_BLOB] = "INSERT INTO meta (key, blob) VALUES (?1, ?2)"
	    " ON CONFLICT (key) DO UPDATE SET blob = excluded.blob",

	[ST_ENV_PUT] = "INSERT INTO env (id, origin, time, env)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
	[ST_ENV_GET] = "SELECT env FROM env WHERE id = ?1",
	[ST_ENV_SAME] = "SELECT env = ?2 FROM env WHERE id = ?1",
	[ST_ENV_FIND] = "SELECT id FROM env WHERE id BETWEEN ?1 AND ?2"
	    " ORDER BY id LIMIT 2",

	[ST_Q_PUT] = "INSERT INTO queue"
	    " (link, kind, id, signer, state, prec, attempts, not_before)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
	    " ON CONFLICT (link, kind, id, signer, state) DO NOTHING",
	[ST_Q_NEXT] = "SELECT kind, id, signer, state, prec, ord, attempts,"
	    " not_before FROM queue WHERE link = ?1 AND not_before <= ?2"
	    " AND ord <= ?4 ORDER BY prec DESC, ord ASC LIMIT ?3",
	[ST_Q_DEL] = "DELETE FROM queue WHERE link = ?1 AND kind = ?2"
	    " AND id = ?3 AND signer = ?4 AND state = ?5",
	[ST_Q_COUNT] = "SELECT count(*) FROM queue WHERE link = ?1",
	/* AUTOINCREMENT's record of the greatest ord ever given */
	[ST_Q_LAST] = "SELECT seq FROM sqlite_sequence WHERE name = 'queue'",
	[ST_Q_DEFER] = "UPDATE queue SET attempts = ?6, not_before = ?7"
	    " WHERE link = ?1 AND kind = ?2 AND id = ?3 AND signer = ?4"
	    " AND state = ?5",

	[ST_RCPT_PUT] = "INSERT INTO receipt (id, signer, state, blob)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
	[ST_RCPT_GET] = "SELECT blob FROM receipt"
	    " WHERE id = ?1 AND signer = ?2 AND state = ?3",

	[ST_STATUS_SET] = "INSERT INTO status (id, dest, state, time)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id, dest) DO UPDATE"
	    " SET state = excluded.state, time = excluded.time"
	    " WHERE excluded.state > status.state",
	[ST_STATUS_GET] = "SELECT dest, state, time FROM status WHERE id = ?1"
	    " ORDER BY dest",

	[ST_IN_PUT] = "INSERT INTO inbound (origin, seq, id, prec, time, top)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT (origin, seq) DO NOTHING",
	[ST_IN_GET_ID] = "SELECT id FROM inbound WHERE origin = ?1 AND seq = ?2",
	[ST_IN_ABOVE] = "SELECT seq FROM inbound WHERE origin = ?1 AND seq > ?2"
	    " ORDER BY seq",
	[ST_IN_LATER_LOWER] = "SELECT min(seq) FROM inbound"
	    " WHERE origin = ?1 AND seq > ?2 AND prec <= ?3 AND top <= ?4",
	[ST_IN_MAX] = "SELECT max(seq) FROM inbound WHERE origin = ?1",
	[ST_IN_OLDEST] = "SELECT min(time) FROM inbound"
	    " WHERE origin = ?1 AND seq > ?2",
	[ST_MARK_GET] = "SELECT hwm FROM in_marks WHERE origin = ?1",
	[ST_MARK_SET] = "INSERT INTO in_marks (origin, hwm) VALUES (?1, ?2)"
	    " ON CONFLICT (origin) DO UPDATE SET hwm = max(hwm, excluded.hwm)",
	[ST_IN_ORIGINS] = "SELECT origin FROM in_marks ORDER BY origin LIMIT ?1",

	[ST_INBOX_PUT] = "INSERT INTO inbox"
	    " (id, origin, prec, dtg, received, read_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
	[ST_INBOX_LIST] = "SELECT id, origin, prec, dtg, received, read_at"
	    " FROM inbox ORDER BY prec DESC, received DESC, rowid DESC"
	    " LIMIT ?1",
	[ST_INBOX_READ] = "UPDATE inbox SET read_at = ?2"
	    " WHERE id = ?1 AND read_at = 0",

	[ST_ALERT_ADD] = "INSERT INTO alert (time, kind, origin, detail)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[ST_ALERT_LIST] = "SELECT n, time, kind, origin, detail FROM alert"
	    " WHERE n > ?1 ORDER BY n",

	[ST_MEMBER_ADD] = "INSERT INTO member"
	    " (name, kind, post, sign_pk, enc_pk, added, revoked)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO NOTHING",
	[ST_MEMBER_GET] = "SELECT name, kind, post, sign_pk, enc_pk, added,"
	    " revoked FROM member WHERE name = ?1",
	[ST_MEMBER_REVOKE] = "UPDATE member SET revoked ="
	    " CASE WHEN revoked = 0 THEN ?2 ELSE revoked END WHERE name = ?1",
	[ST_MEMBER_LIST] = "SELECT name, kind, post, sign_pk, enc_pk, added,"
	    " revoked FROM member ORDER BY name",

	[ST_ENROL_ADD] = "INSERT INTO enrol (name, hash, expires, used)"
	    " VALUES (?1, ?2, ?3, NULL) ON CONFLICT (name) DO UPDATE"
	    " SET hash = excluded.hash, expires = excluded.expires, used = NULL",
	[ST_ENROL_GET] = "SELECT hash, expires, used FROM enrol WHERE name = ?1",
	[ST_ENROL_MARK] = "UPDATE enrol SET used = ?2"
	    " WHERE name = ?1 AND used IS NULL",
};

/* Bring the schema to SCHEMA_VERSION (lib/sqlschema.h). */
int
sqlite_migrate(struct store *s, const char *path, struct kerr *e)
{
	return sql_migrate(s->db, migrations, SCHEMA_VERSION, path,
	    "store: migrate", &s->version, e);
}
