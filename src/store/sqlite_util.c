/*
 * The SQLite store's shared helpers that are not small enough to inline
 * (sqlite_int.h has the small ones): the checks of names and blobs every
 * put makes, copying a column out of a row, and growing a result array.
 * Every store_* file may call them; they call no other file of the store.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "store/sqlite_int.h"

/*
 * A name (node, person, link, meta key): NUL-terminated within
 * STORE_NAME_MAX bytes, valid UTF-8, and not empty unless may_be_empty.
 */
int
sqlite_name_check(const char *what, const char *v, int may_be_empty,
    struct kerr *e)
{
	size_t n;

	if (v == NULL)
		return kerr_set(e, KERR_INVALID, "store: %s is missing", what);
	n = strnlen(v, STORE_NAME_MAX + 1);
	if (n > STORE_NAME_MAX)
		return kerr_set(e, KERR_INVALID,
		    "store: %s is longer than %d bytes", what, STORE_NAME_MAX);
	if (n == 0 && !may_be_empty)
		return kerr_set(e, KERR_INVALID, "store: %s is empty", what);
	if (!utf8_valid((const uint8_t *)v, n))
		return kerr_set(e, KERR_INVALID,
		    "store: %s is not valid UTF-8", what);
	return 0;
}

int
sqlite_blob_check(const char *what, const uint8_t *p, size_t len,
    struct kerr *e)
{
	if (len > STORE_BLOB_MAX)
		return kerr_set(e, KERR_TOOBIG,
		    "store: %s of %zu bytes is over the %u-byte limit", what,
		    len, STORE_BLOB_MAX);
	if (p == NULL && len != 0)
		return kerr_set(e, KERR_INVALID, "store: %s is missing", what);
	return 0;
}

/* Copy a TEXT column into dst[dstsz] (NUL-terminated). */
int
sqlite_col_text(sqlite3_stmt *st, int i, char *dst, size_t dstsz,
    struct kerr *e, const char *op)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (t == NULL || n < 0 || (size_t)n >= dstsz)
		return corrupt(e, op, sqlite3_column_name(st, i));
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return 0;
}

/* Copy a BLOB column of exactly len bytes. */
int
sqlite_col_fixed(sqlite3_stmt *st, int i, uint8_t *dst, size_t len,
    struct kerr *e, const char *op)
{
	const void *p = sqlite3_column_blob(st, i);

	if (p == NULL || (size_t)sqlite3_column_bytes(st, i) != len)
		return corrupt(e, op, sqlite3_column_name(st, i));
	memcpy(dst, p, len);
	return 0;
}

/* Append a BLOB column to out (whose max is the caller's cap). */
int
sqlite_col_buf(sqlite3_stmt *st, int i, struct buf *out, struct kerr *e,
    const char *op)
{
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);
	int r;

	if (n < 0 || (p == NULL && n != 0))
		return corrupt(e, op, sqlite3_column_name(st, i));
	if ((r = buf_put(out, p, (size_t)n)) != 0)
		return kerr_set(e, r, "store: %s: %d bytes do not fit the "
		    "output buffer (max %zu)", op, n, out->max);
	return 0;
}

/* Make room for element n of an array of elements of size sz. */
int
sqlite_grow(void **p, size_t *cap, size_t n, size_t sz, struct kerr *e)
{
	size_t ncap;
	void *np;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > SIZE_MAX / sz)
		return kerr_set(e, KERR_NOMEM, "store: result too large");
	if ((np = realloc(*p, ncap * sz)) == NULL)
		return kerr_set(e, KERR_NOMEM, "store: out of memory");
	*p = np;
	*cap = ncap;
	return 0;
}
