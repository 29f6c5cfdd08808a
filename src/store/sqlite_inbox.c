/*
 * The SQLite store's inbox (table inbox): the telegrams delivered to this
 * post, and when each was first read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/err.h"
#include "store/sqlite_int.h"

int
store_inbox_put(struct store *s, const struct store_inbox *it,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_INBOX_PUT];
	int r;

	if ((r = sqlite_name_check("origin", it->origin, 0, e)) != 0 ||
	    (r = prec_check(it->prec, e)) != 0 ||
	    (r = range_check("dtg", it->dtg, e)) != 0 ||
	    (r = range_check("received", it->received, e)) != 0 ||
	    (r = range_check("read_at", it->read_at, e)) != 0)
		return r;
	if ((b_blob(st, 1, it->id, STORE_ID) | b_text(st, 2, it->origin) |
	    b_int(st, 3, it->prec) | b_int(st, 4, (int64_t)it->dtg) |
	    b_int(st, 5, (int64_t)it->received) |
	    b_int(st, 6, (int64_t)it->read_at)) != SQLITE_OK)
		r = dberr(s, e, "inbox put");
	else if ((r = step(s, st, e, "inbox put")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_inbox_list(struct store *s, size_t max, struct store_inbox **out,
    size_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_INBOX_LIST];
	struct store_inbox *a = NULL;
	size_t cap = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (max == 0)
		return 0;
	if (b_int(st, 1, clamp_i64(max)) != SQLITE_OK) {
		r = dberr(s, e, "inbox list");
		goto out;
	}
	while (*n < max && (r = step(s, st, e, "inbox list")) == 1) {
		struct store_inbox *it;

		if ((r = sqlite_grow((void **)&a, &cap, *n, sizeof(*a),
		    e)) != 0)
			goto out;
		it = &a[*n];
		memset(it, 0, sizeof(*it));
		if ((r = sqlite_col_fixed(st, 0, it->id, STORE_ID, e,
		    "inbox list")) != 0 ||
		    (r = sqlite_col_text(st, 1, it->origin, sizeof(it->origin),
		    e, "inbox list")) != 0)
			goto out;
		it->prec = (uint8_t)sqlite3_column_int(st, 2);
		it->dtg = col_u64(st, 3);
		it->received = col_u64(st, 4);
		it->read_at = col_u64(st, 5);
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
store_inbox_mark_read(struct store *s, const uint8_t id[static STORE_ID],
    uint64_t time, int *first, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_INBOX_READ];
	int r;

	*first = 0;
	if ((r = range_check("time", time, e)) != 0)
		return r;
	if (time == 0)
		return kerr_set(e, KERR_INVALID, "store: read time 0 means "
		    "unread");
	if ((b_blob(st, 1, id, STORE_ID) | b_int(st, 2, (int64_t)time)) !=
	    SQLITE_OK)
		r = dberr(s, e, "inbox mark read");
	else if ((r = step(s, st, e, "inbox mark read")) >= 0) {
		*first = sqlite3_changes(s->db) > 0;
		r = 0;
	}
	done(st);
	return r;
}
