/*
 * The SQLite store's receipts and delivery status: the receipts the
 * addressee posts signed (table receipt), and the state of each telegram
 * at each destination as its origin post sees it (table status).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "store/sqlite_int.h"

int
store_receipt_put(struct store *s, const uint8_t id[static STORE_ID],
    const char *by, uint8_t state, const uint8_t *blob, size_t len,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_RCPT_PUT];
	int r;

	if ((r = sqlite_name_check("receipt signer", by, 0, e)) != 0 ||
	    (r = sqlite_blob_check("receipt", blob, len, e)) != 0)
		return r;
	if ((b_blob(st, 1, id, STORE_ID) | b_text(st, 2, by) |
	    b_int(st, 3, state) | b_blob(st, 4, blob, len)) != SQLITE_OK)
		r = dberr(s, e, "receipt put");
	else if ((r = step(s, st, e, "receipt put")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_receipt_get(struct store *s, const uint8_t id[static STORE_ID],
    const char *by, uint8_t state, struct buf *out, int *found,
    struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_RCPT_GET];
	int r;

	out->len = 0;
	*found = 0;
	if ((r = sqlite_name_check("receipt signer", by, 0, e)) != 0)
		return r;
	if ((b_blob(st, 1, id, STORE_ID) | b_text(st, 2, by) |
	    b_int(st, 3, state)) != SQLITE_OK)
		r = dberr(s, e, "receipt get");
	else if ((r = step(s, st, e, "receipt get")) == 1 &&
	    (r = sqlite_col_buf(st, 0, out, e, "receipt get")) == 0)
		*found = 1;
	done(st);
	return r;
}

int
store_status_set(struct store *s, const uint8_t id[static STORE_ID],
    const char *dest, uint8_t state, uint64_t time, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_STATUS_SET];
	int r;

	if ((r = sqlite_name_check("destination", dest, 0, e)) != 0 ||
	    (r = range_check("time", time, e)) != 0)
		return r;
	if (state < STORE_QUEUED || state > STORE_READ)
		return kerr_set(e, KERR_INVALID, "store: delivery state %u is "
		    "not 1 (queued) .. 4 (read)", state);
	if ((b_blob(st, 1, id, STORE_ID) | b_text(st, 2, dest) |
	    b_int(st, 3, state) | b_int(st, 4, (int64_t)time)) != SQLITE_OK)
		r = dberr(s, e, "status set");
	else if ((r = step(s, st, e, "status set")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_status_get(struct store *s, const uint8_t id[static STORE_ID],
    struct store_status **out, size_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_STATUS_GET];
	struct store_status *a = NULL;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (b_blob(st, 1, id, STORE_ID) != SQLITE_OK) {
		r = dberr(s, e, "status get");
		goto out;
	}
	while ((r = step(s, st, e, "status get")) == 1) {
		if ((r = sqlite_grow((void **)&a, &cap, *n, sizeof(*a),
		    e)) != 0)
			goto out;
		memset(&a[*n], 0, sizeof(a[*n]));
		if ((r = sqlite_col_text(st, 0, a[*n].dest, sizeof(a[*n].dest),
		    e, "status get")) != 0)
			goto out;
		a[*n].state = (uint8_t)sqlite3_column_int(st, 1);
		a[*n].time = col_u64(st, 2);
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
