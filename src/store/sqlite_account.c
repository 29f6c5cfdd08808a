/*
 * The SQLite store's telegraphic accounting, as the addressee post keeps it
 * (tables inbound and in_marks): every seq that arrived from each origin,
 * each origin's contiguous high-water mark, and the gaps above it
 * (docs/store.md, "Accounting").
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/err.h"
#include "store/sqlite_int.h"

static int
mark_get(struct store *s, const char *origin, uint64_t *hwm, struct kerr *e,
    const char *op)
{
	sqlite3_stmt *st = s->st[ST_MARK_GET];
	int r;

	*hwm = 0;
	if (b_text(st, 1, origin) != SQLITE_OK)
		r = dberr(s, e, op);
	else if ((r = step(s, st, e, op)) == 1) {
		*hwm = col_u64(st, 0);
		r = 0;
	}
	done(st);
	return r;
}

/*
 * in_marks keeps each origin's high-water mark so that in_marks and
 * in_missing never scan history.  After an insert, walk the seqs present
 * above the old mark while they are consecutive.  Each row is walked over
 * once in its life (plus one probe per insert), so the cost is amortised
 * O(log n) per telegram however out of order they come.  The walk starts
 * at the stored mark, not at the new seq, so a stale mark heals itself.
 */
static int
in_advance(struct store *s, const char *origin, struct kerr *e)
{
	sqlite3_stmt *st;
	uint64_t h;
	int r;

	if ((r = mark_get(s, origin, &h, e, "accounting put")) != 0)
		return r;
	st = s->st[ST_IN_ABOVE];
	if ((b_text(st, 1, origin) | b_int(st, 2, (int64_t)h)) != SQLITE_OK)
		r = dberr(s, e, "accounting put");
	else {
		while ((r = step(s, st, e, "accounting put")) == 1 &&
		    col_u64(st, 0) == h + 1)
			h++;
	}
	done(st);
	if (r < 0)
		return r;
	st = s->st[ST_MARK_SET];
	if ((b_text(st, 1, origin) | b_int(st, 2, (int64_t)h)) != SQLITE_OK)
		r = dberr(s, e, "accounting put");
	else if ((r = step(s, st, e, "accounting put")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_in_put(struct store *s, const char *origin, uint64_t seq,
    const uint8_t id[static STORE_ID], uint8_t prec, uint8_t top,
    uint64_t time, int *dup, uint8_t prev_id[static STORE_ID], struct kerr *e)
{
	sqlite3_stmt *st;
	int own, r, changed = 0;

	*dup = 0;
	memset(prev_id, 0, STORE_ID);
	if ((r = sqlite_name_check("origin", origin, 0, e)) != 0 ||
	    (r = prec_check(prec, e)) != 0 ||
	    (r = prec_check(top, e)) != 0 ||
	    (r = range_check("seq", seq, e)) != 0 ||
	    (r = range_check("time", time, e)) != 0)
		return r;
	if (seq == 0)
		return kerr_set(e, KERR_INVALID, "store: seq 0 from %s: "
		    "sequence numbers start at 1", origin);
	if ((r = op_begin(s, &own, e)) != 0)
		return r;

	st = s->st[ST_IN_PUT];
	if ((b_text(st, 1, origin) | b_int(st, 2, (int64_t)seq) |
	    b_blob(st, 3, id, STORE_ID) | b_int(st, 4, prec) |
	    b_int(st, 5, (int64_t)time) | b_int(st, 6, top)) != SQLITE_OK)
		r = dberr(s, e, "accounting put");
	else if ((r = step(s, st, e, "accounting put")) == 0)
		changed = sqlite3_changes(s->db) > 0;
	done(st);
	if (r < 0)
		goto out;

	if (changed) {
		r = in_advance(s, origin, e);
		goto out;
	}
	st = s->st[ST_IN_GET_ID];
	if ((b_text(st, 1, origin) | b_int(st, 2, (int64_t)seq)) != SQLITE_OK)
		r = dberr(s, e, "accounting put");
	else if ((r = step(s, st, e, "accounting put")) == 1) {
		if ((r = sqlite_col_fixed(st, 0, prev_id, STORE_ID, e,
		    "accounting put")) == 0)
			*dup = 1;
	} else if (r == 0)
		r = kerr_set(e, KERR_IO, "store: accounting put: seq %llu "
		    "from %s vanished", (unsigned long long)seq, origin);
	done(st);
out:
	r = op_end(s, own, r, e);
	if (r != 0) {
		*dup = 0;
		memset(prev_id, 0, STORE_ID);
	}
	return r;
}

int
store_in_later_lower(struct store *s, const char *origin, uint64_t after,
    uint8_t prec, uint8_t top, uint64_t *seq, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_IN_LATER_LOWER];
	int r;

	*seq = 0;
	if ((r = sqlite_name_check("origin", origin, 0, e)) != 0)
		return r;
	if ((b_text(st, 1, origin) | b_int(st, 2, clamp_i64(after)) |
	    b_int(st, 3, prec) | b_int(st, 4, top)) != SQLITE_OK)
		r = dberr(s, e, "accounting later_lower");
	else if ((r = step(s, st, e, "accounting later_lower")) == 1) {
		*seq = col_u64(st, 0);	/* NULL (none) reads as 0 */
		r = 0;
	}
	done(st);
	return r;
}

/* One integer from a one-row aggregate over (origin, bound): ST_IN_MAX or
 * ST_IN_OLDEST. */
static int
in_agg(struct store *s, int id, const char *origin, uint64_t bound,
    uint64_t *v, struct kerr *e)
{
	sqlite3_stmt *st = s->st[id];
	int r;

	assert(id == ST_IN_MAX || id == ST_IN_OLDEST);
	*v = 0;
	if ((b_text(st, 1, origin) |
	    (id == ST_IN_OLDEST ? b_int(st, 2, (int64_t)bound) : 0)) !=
	    SQLITE_OK)
		r = dberr(s, e, "accounting marks");
	else if ((r = step(s, st, e, "accounting marks")) == 1) {
		*v = col_u64(st, 0);
		r = 0;
	}
	done(st);
	return r;
}

int
store_in_marks(struct store *s, const char *origin, uint64_t *hwm,
    uint64_t *max, uint64_t *oldest_above, struct kerr *e)
{
	int r;

	*hwm = *max = *oldest_above = 0;
	if ((r = sqlite_name_check("origin", origin, 0, e)) != 0)
		return r;
	if ((r = mark_get(s, origin, hwm, e, "accounting marks")) != 0 ||
	    (r = in_agg(s, ST_IN_MAX, origin, 0, max, e)) != 0 ||
	    (r = in_agg(s, ST_IN_OLDEST, origin, *hwm, oldest_above, e)) != 0)
		*hwm = *max = *oldest_above = 0;
	return r;
}

int
store_in_missing(struct store *s, const char *origin, uint64_t *missing,
    size_t n_max, size_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_IN_ABOVE];
	uint64_t prev;
	int r;

	*n = 0;
	if ((r = sqlite_name_check("origin", origin, 0, e)) != 0)
		return r;
	if (n_max == 0)
		return 0;
	if ((r = mark_get(s, origin, &prev, e, "accounting missing")) != 0)
		return r;
	/* Walk the seqs present above hwm; emit the holes between them. */
	if ((b_text(st, 1, origin) | b_int(st, 2, (int64_t)prev)) !=
	    SQLITE_OK) {
		r = dberr(s, e, "accounting missing");
		goto out;
	}
	while (*n < n_max && (r = step(s, st, e, "accounting missing")) == 1) {
		uint64_t seq = col_u64(st, 0);

		for (uint64_t m = prev + 1; m < seq && *n < n_max; m++)
			missing[(*n)++] = m;
		prev = seq;
	}
	if (r > 0)
		r = 0;
out:
	if (r < 0)
		*n = 0;
	done(st);
	return r;
}

int
store_in_origins(struct store *s, char (*names)[STORE_NAME_MAX + 1],
    size_t max, size_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_IN_ORIGINS];
	int r = 0;

	*n = 0;
	if (max == 0)
		return 0;
	if (b_int(st, 1, clamp_i64(max)) != SQLITE_OK) {
		r = dberr(s, e, "accounting origins");
		goto out;
	}
	while (*n < max && (r = step(s, st, e, "accounting origins")) == 1) {
		if ((r = sqlite_col_text(st, 0, names[*n], sizeof(names[*n]), e,
		    "accounting origins")) != 0)
			goto out;
		++*n;
	}
	if (r > 0)
		r = 0;
out:
	if (r < 0)
		*n = 0;
	done(st);
	return r;
}
