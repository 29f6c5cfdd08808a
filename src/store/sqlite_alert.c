/*
 * The SQLite store's alerts (table alert): gap, replay, reorder, forgery,
 * conflict and the like, numbered so that "the alerts after n" is a cursor
 * that never skips or repeats one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "store/sqlite_int.h"

#define ALERT_KIND_MAX (sizeof(((struct store_alert *)0)->kind) - 1)
#define ALERT_DETAIL_MAX (sizeof(((struct store_alert *)0)->detail) - 1)

/*
 * Copy detail into dst (ALERT_DETAIL_MAX bytes at most), cut at a character
 * boundary, with invalid UTF-8 and control characters replaced by '?': an
 * alert must be recorded even when the text that triggered it is garbage,
 * and must be safe to print on an operator's terminal.
 */
static void
detail_clean(char dst[static ALERT_DETAIL_MAX + 1], const char *src)
{
	const uint8_t *p = (const uint8_t *)src;
	size_t len = strlen(src), i = 0, o = 0;

	while (i < len) {
		size_t k = 1;

		if (p[i] >= 0x80) {
			/* the shortest valid sequence starting here, if any */
			while (k <= 4 && (i + k > len || !utf8_valid(p + i, k)))
				k++;
			if (k > 4 || i + k > len)
				k = 0;
		} else if (p[i] < 0x20 || p[i] == 0x7f)
			k = 0;
		if (k == 0) {
			if (o + 1 > ALERT_DETAIL_MAX)
				break;
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + k > ALERT_DETAIL_MAX)
			break;
		memcpy(dst + o, p + i, k);
		o += k;
		i += k;
	}
	dst[o] = '\0';
}

int
store_alert_add(struct store *s, const char *kind, const char *origin,
    const char *detail, uint64_t time, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ALERT_ADD];
	char d[ALERT_DETAIL_MAX + 1];
	size_t kn;
	int r;

	if (kind == NULL || (kn = strnlen(kind, ALERT_KIND_MAX + 1)) == 0 ||
	    kn > ALERT_KIND_MAX || !utf8_valid((const uint8_t *)kind, kn))
		return kerr_set(e, KERR_INVALID, "store: alert kind must be "
		    "1 to %zu bytes of UTF-8", ALERT_KIND_MAX);
	if (origin == NULL)
		origin = "";
	if ((r = sqlite_name_check("alert origin", origin, 1, e)) != 0 ||
	    (r = range_check("time", time, e)) != 0)
		return r;
	detail_clean(d, detail != NULL ? detail : "");
	if ((b_int(st, 1, (int64_t)time) | b_text(st, 2, kind) |
	    b_text(st, 3, origin) | b_text(st, 4, d)) != SQLITE_OK)
		r = dberr(s, e, "alert add");
	else if ((r = step(s, st, e, "alert add")) > 0)
		r = 0;
	done(st);
	return r;
}

int
store_alert_list(struct store *s, uint64_t after, struct store_alert **out,
    size_t *n, struct kerr *e)
{
	sqlite3_stmt *st = s->st[ST_ALERT_LIST];
	struct store_alert *a = NULL;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (b_int(st, 1, clamp_i64(after)) != SQLITE_OK) {
		r = dberr(s, e, "alert list");
		goto out;
	}
	while ((r = step(s, st, e, "alert list")) == 1) {
		struct store_alert *al;

		if ((r = sqlite_grow((void **)&a, &cap, *n, sizeof(*a),
		    e)) != 0)
			goto out;
		al = &a[*n];
		memset(al, 0, sizeof(*al));
		al->n = col_u64(st, 0);
		al->time = col_u64(st, 1);
		if ((r = sqlite_col_text(st, 2, al->kind, sizeof(al->kind), e,
		    "alert list")) != 0 ||
		    (r = sqlite_col_text(st, 3, al->origin, sizeof(al->origin),
		    e, "alert list")) != 0 ||
		    (r = sqlite_col_text(st, 4, al->detail, sizeof(al->detail),
		    e, "alert list")) != 0)
			goto out;
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
