/*
 * The SQLite store's node-local values (table meta): u64 counters and blobs
 * by key, such as the sequence numbers a post issues and the signed roster.
 */
#include <stdint.h>

#include <sqlite3.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "store/sqlite_int.h"

int
store_meta_get_u64(struct store *s, const char *key, uint64_t *v, int *found,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_META_GET];
	int r;

	*v = 0;
	*found = 0;
	if ((r = sqlite_name_check("meta key", key, 0, e)) != 0)
		return r;
	if (b_text(st, 1, key) != SQLITE_OK) {
		r = dberr(s, e, "meta get");
		goto out;
	}
	if ((r = step(s, st, e, "meta get")) == 1) {
		r = 0;
		if (sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
			*v = col_u64(st, 0);
			*found = 1;
		}
	}
out:
	done(st);
	return r;
}

int
store_meta_set_u64(struct store *s, const char *key, uint64_t v,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_META_SET_U64];
	int r;

	if ((r = sqlite_name_check("meta key", key, 0, e)) != 0)
		return r;
	if ((b_text(st, 1, key) | b_int(st, 2, u64_to_i64(v))) != SQLITE_OK)
		r = dberr(s, e, "meta set");
	else if ((r = step(s, st, e, "meta set")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_meta_incr(struct store *s, const char *key, uint64_t *v,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_META_INCR];
	int r;

	*v = 0;
	if ((r = sqlite_name_check("meta key", key, 0, e)) != 0)
		return r;
	if (b_text(st, 1, key) != SQLITE_OK) {
		r = dberr(s, e, "meta incr");
		goto out;
	}
	if ((r = step(s, st, e, "meta incr")) == 1) {
		*v = col_u64(st, 0);
		r = 0;
	} else if (r == 0)
		r = kerr_set(e, KERR_TOOBIG, "store: counter %s is at its "
		    "maximum", key);
out:
	done(st);
	return r;
}

int
store_meta_get_blob(struct store *s, const char *key, struct buf *out,
    int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_META_GET];
	int r;

	out->len = 0;
	*found = 0;
	if ((r = sqlite_name_check("meta key", key, 0, e)) != 0)
		return r;
	if (b_text(st, 1, key) != SQLITE_OK) {
		r = dberr(s, e, "meta get");
		goto out;
	}
	if ((r = step(s, st, e, "meta get")) == 1) {
		r = 0;
		if (sqlite3_column_type(st, 1) == SQLITE_BLOB) {
			if ((r = sqlite_col_buf(st, 1, out, e,
			    "meta get")) == 0)
				*found = 1;
		}
	}
out:
	done(st);
	return r;
}

int
store_meta_set_blob(struct store *s, const char *key, const uint8_t *p,
    size_t len, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_META_SET_BLOB];
	int r;

	if ((r = sqlite_name_check("meta key", key, 0, e)) != 0 ||
	    (r = sqlite_blob_check("meta value", p, len, e)) != 0)
		return r;
	if ((b_text(st, 1, key) | b_blob(st, 2, p, len)) != SQLITE_OK)
		r = dberr(s, e, "meta set");
	else if ((r = step(s, st, e, "meta set")) > 0)
		r = 0;
	done(st);
	return r;
}
