/*
 * The SQLite store's envelopes (table env): sealed telegrams by id, stored
 * once and never changed, and found again by a prefix of their id in hex.
 */
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "store/sqlite_int.h"

/* The shortest id prefix store_env_find takes, in hex digits (store.h). */
#define ID_PREFIX_MIN 4

int
store_env_put(struct store *s, const uint8_t id[static STORE_ID],
    const char *origin, uint64_t time, const uint8_t *env, size_t len,
    int *inserted, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ENV_PUT];
	int r;

	*inserted = 0;
	if ((r = sqlite_name_check("origin", origin, 0, e)) != 0 ||
	    (r = range_check("time", time, e)) != 0 ||
	    (r = sqlite_blob_check("envelope", env, len, e)) != 0)
		return r;
	if ((b_blob(st, 1, id, STORE_ID) | b_text(st, 2, origin) |
	    b_int(st, 3, (int64_t)time) | b_blob(st, 4, env, len)) !=
	    SQLITE_OK) {
		r = dberr(s, e, "envelope put");
		done(st);
		return r;
	}
	r = step(s, st, e, "envelope put");
	if (r == 0 && sqlite3_changes(s->db) == 1)
		*inserted = 1;
	done(st);
	if (r < 0 || *inserted)
		return r < 0 ? r : 0;

	/* Present already: rows are never changed, so no transaction is
	 * needed to compare. */
	st = s->st[ST_ENV_SAME];
	if ((b_blob(st, 1, id, STORE_ID) | b_blob(st, 2, env, len)) !=
	    SQLITE_OK)
		r = dberr(s, e, "envelope put");
	else if ((r = step(s, st, e, "envelope put")) == 1)
		r = sqlite3_column_int(st, 0) ? 0 : kerr_set(e, KERR_EXISTS,
		    "store: envelope put: a different envelope with this id "
		    "is stored");
	else if (r == 0)
		r = kerr_set(e, KERR_IO, "store: envelope put: the envelope "
		    "vanished");
	done(st);
	return r;
}

int
store_env_get(struct store *s, const uint8_t id[static STORE_ID],
    struct buf *out, int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ENV_GET];
	int r;

	out->len = 0;
	*found = 0;
	if (b_blob(st, 1, id, STORE_ID) != SQLITE_OK)
		r = dberr(s, e, "envelope get");
	else if ((r = step(s, st, e, "envelope get")) == 1 &&
	    (r = sqlite_col_buf(st, 0, out, e, "envelope get")) == 0)
		*found = 1;
	done(st);
	return r;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
store_env_find(struct store *s, const char *hex_prefix,
    uint8_t id[static STORE_ID], int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ENV_FIND];
	uint8_t lo[STORE_ID], hi[STORE_ID];
	size_t n;
	int r;

	memset(id, 0, STORE_ID);
	*found = 0;
	if (hex_prefix == NULL)
		return kerr_set(e, KERR_INVALID, "store: no id prefix");
	n = strnlen(hex_prefix, 2 * STORE_ID + 1);
	if (n < ID_PREFIX_MIN || n > 2 * STORE_ID)
		return kerr_set(e, KERR_INVALID, "store: id prefix \"%.*s\" "
		    "must have %d to %d hex digits", (int)n, hex_prefix,
		    ID_PREFIX_MIN, 2 * STORE_ID);
	/* The ids starting with the prefix are exactly those in [lo, hi]. */
	memset(lo, 0x00, sizeof(lo));
	memset(hi, 0xff, sizeof(hi));
	for (size_t i = 0; i < n; i++) {
		int v = hexval(hex_prefix[i]);

		if (v < 0)
			return kerr_set(e, KERR_INVALID, "store: id prefix "
			    "\"%s\": character %zu is not a hex digit",
			    hex_prefix, i + 1);
		if (i % 2 == 0) {
			lo[i / 2] = (uint8_t)(v << 4);
			hi[i / 2] = (uint8_t)(v << 4 | 0x0f);
		} else {
			lo[i / 2] |= (uint8_t)v;
			hi[i / 2] = (uint8_t)((hi[i / 2] & 0xf0) | v);
		}
	}
	if ((b_blob(st, 1, lo, STORE_ID) | b_blob(st, 2, hi, STORE_ID)) !=
	    SQLITE_OK) {
		r = dberr(s, e, "envelope find");
		goto out;
	}
	while ((r = step(s, st, e, "envelope find")) == 1) {
		if (++*found == 1 &&
		    (r = sqlite_col_fixed(st, 0, id, STORE_ID, e,
		    "envelope find")))
			goto out;
	}
	if (*found > 1)
		memset(id, 0, STORE_ID);
out:
	if (r < 0) {
		*found = 0;
		memset(id, 0, STORE_ID);
	}
	done(st);
	return r;
}
