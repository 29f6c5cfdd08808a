/*
 * The SQLite store's outgoing queues (table queue), one per link: telegrams
 * and receipts waiting for the next hop, highest precedence first, and the
 * bound on what one commit holds (store_q_last_ord; docs/store.md,
 * "Durability").
 */
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/err.h"
#include "store/sqlite_int.h"

/*
 * The idempotency key's (signer, state): a receipt's own, or ("", 0) for a
 * telegram whatever its by/state fields hold.
 */
static int
qkey(const struct store_qitem *it, const char **by, int *state,
    struct kerr *e)
{
	int r;

	*by = "";
	*state = 0;
	if (it->kind == STORE_Q_TELEGRAM)
		return 0;
	if (it->kind != STORE_Q_RECEIPT)
		return kerr_set(e, KERR_INVALID, "store: queue item kind %u "
		    "is neither telegram (1) nor receipt (2)", it->kind);
	if ((r = sqlite_name_check("receipt signer", it->by, 0, e)) != 0)
		return r;
	*by = it->by;
	*state = it->state;
	return 0;
}

/* Bind ?1..?5: link, kind, id, signer, state. */
static int
bind_qkey(sqlite3_stmt *st, const char *link, const struct store_qitem *it,
    const char *by, int state)
{
	return b_text(st, 1, link) | b_int(st, 2, it->kind) |
	    b_blob(st, 3, it->id, STORE_ID) | b_text(st, 4, by) |
	    b_int(st, 5, state);
}

int
store_q_put(struct store *s, const char *link, const struct store_qitem *it,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_PUT];
	const char *by;
	int state, r;

	if ((r = sqlite_name_check("link", link, 0, e)) != 0 ||
	    (r = qkey(it, &by, &state, e)) != 0 ||
	    (r = prec_check(it->prec, e)) != 0 ||
	    (r = range_check("not_before", it->not_before, e)) != 0)
		return r;
	if ((bind_qkey(st, link, it, by, state) | b_int(st, 6, it->prec) |
	    b_int(st, 7, it->attempts) |
	    b_int(st, 8, (int64_t)it->not_before)) != SQLITE_OK)
		r = dberr(s, e, "queue put");
	else if ((r = step(s, st, e, "queue put")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_q_next(struct store *s, const char *link, uint64_t now_ms,
    uint64_t max_ord, struct store_qitem *items, size_t max, size_t *n,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_NEXT];
	int r;

	*n = 0;
	if ((r = sqlite_name_check("link", link, 0, e)) != 0)
		return r;
	if (max == 0)
		return 0;
	if ((b_text(st, 1, link) | b_int(st, 2, clamp_i64(now_ms)) |
	    b_int(st, 3, clamp_i64(max)) | b_int(st, 4, clamp_i64(max_ord))) !=
	    SQLITE_OK) {
		r = dberr(s, e, "queue next");
		goto out;
	}
	while (*n < max && (r = step(s, st, e, "queue next")) == 1) {
		struct store_qitem *it = &items[*n];

		memset(it, 0, sizeof(*it));
		it->kind = (uint8_t)sqlite3_column_int(st, 0);
		if ((r = sqlite_col_fixed(st, 1, it->id, STORE_ID, e,
		    "queue next")) != 0 ||
		    (r = sqlite_col_text(st, 2, it->by, sizeof(it->by), e,
		    "queue next")) != 0)
			goto out;
		it->state = (uint8_t)sqlite3_column_int(st, 3);
		it->prec = (uint8_t)sqlite3_column_int(st, 4);
		it->ord = col_u64(st, 5);
		it->attempts = (uint32_t)sqlite3_column_int64(st, 6);
		it->not_before = col_u64(st, 7);
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

int
store_q_del(struct store *s, const char *link, const struct store_qitem *it,
    int *found, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_DEL];
	const char *by;
	int state, r;

	*found = 0;
	if ((r = sqlite_name_check("link", link, 0, e)) != 0 ||
	    (r = qkey(it, &by, &state, e)) != 0)
		return r;
	if (bind_qkey(st, link, it, by, state) != SQLITE_OK)
		r = dberr(s, e, "queue delete");
	else if ((r = step(s, st, e, "queue delete")) == 0)
		*found = sqlite3_changes(s->db) > 0;
	done(st);
	return r < 0 ? r : 0;
}

int
store_q_last_ord(struct store *s, uint64_t *ord, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_LAST];
	int r;

	*ord = 0;
	if ((r = step(s, st, e, "queue last")) == 1)
		*ord = col_u64(st, 0);
	done(st);
	return r < 0 ? r : 0;
}

int
store_q_count(struct store *s, const char *link, uint64_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_COUNT];
	int r;

	*n = 0;
	if ((r = sqlite_name_check("link", link, 0, e)) != 0)
		return r;
	if (b_text(st, 1, link) != SQLITE_OK)
		r = dberr(s, e, "queue count");
	else if ((r = step(s, st, e, "queue count")) == 1) {
		*n = col_u64(st, 0);
		r = 0;
	}
	done(st);
	return r;
}

int
store_q_defer(struct store *s, const char *link,
    const struct store_qitem *it, uint32_t attempts, uint64_t not_before,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_Q_DEFER];
	const char *by;
	int state, r;

	if ((r = sqlite_name_check("link", link, 0, e)) != 0 ||
	    (r = qkey(it, &by, &state, e)) != 0 ||
	    (r = range_check("not_before", not_before, e)) != 0)
		return r;
	if ((bind_qkey(st, link, it, by, state) | b_int(st, 6, attempts) |
	    b_int(st, 7, (int64_t)not_before)) != SQLITE_OK)
		r = dberr(s, e, "queue defer");
	else if ((r = step(s, st, e, "queue defer")) > 0)
		r = 0;
	done(st);
	return r;
}
