/*
 * audit_query (auditlog.h): the local log and, at HQ, its copies of the
 * posts' logs, as one stream in time order.  Reads only.
 */
#include <string.h>

#include <sqlite3.h>

#include "audit/audit_int.h"

static int
is_read(const char *a)
{
	/* "decrypt": kodend opening a telegram with the node key for `read`
	 * or the inbox listing (src/node/nodeapi.c) */
	static const char *const reads[] = { "read", "open", "render",
		"export", "print", "search", "decrypt" };

	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		if (strcmp(a, reads[i]) == 0)
			return 1;
	return 0;
}

int
audit_query(struct auditlog *l, const struct audit_filter *f,
    int (*fn)(void *ctx, const struct audit_event *ev), void *ctx)
{
	/* The local log and HQ's copies, one ordered stream.  Bounds and
	 * names are bound parameters; NULL means "any". */
	static const char q[] =
	    "SELECT seq, time, node, actor, source, action, object, outcome, "
	    "detail FROM ("
	    " SELECT seq, time, node, actor, source, action, object, outcome,"
	    "  detail FROM entry"
	    " UNION ALL"
	    " SELECT seq, time, node, actor, source, action, object, outcome,"
	    "  detail FROM rentry)"
	    " WHERE (?1 IS NULL OR node = ?1) AND (?2 IS NULL OR actor = ?2"
	    "  OR substr(actor, 1, length(?2) + 2) = ?2 || ' [')"
	    " AND (?3 IS NULL OR substr(object, 1, length(?3)) = ?3"
	    "  OR (?6 AND length(object) >= 4 AND"
	    "   substr(?3, 1, length(object)) = object))"
	    " AND time >= ?4 AND (?5 = 0 OR time < ?5)"
	    " ORDER BY time, node, seq";
	sqlite3_stmt *s;
	struct audit_event ev;
	int r;

	if (sqlite3_prepare_v2(l->db, q, -1, &s, NULL) != SQLITE_OK)
		return KERR_IO;
	if (((f->node ? b_text(s, 1, f->node) : SQLITE_OK) |
	    (f->actor ? b_text(s, 2, f->actor) : SQLITE_OK) |
	    (f->object ? b_text(s, 3, f->object) : SQLITE_OK) |
	    b_int(s, 4, (int64_t)(f->since_ns > ALOG_SIZE_MAX_DB ?
	    ALOG_SIZE_MAX_DB : f->since_ns)) |
	    b_int(s, 5, (int64_t)(f->until_ns > ALOG_SIZE_MAX_DB ?
	    ALOG_SIZE_MAX_DB : f->until_ns)) |
	    b_int(s, 6, f->object_prefixes ? 1 : 0)) != SQLITE_OK) {
		r = alog_dberr(l, NULL, "query: bind");
		sqlite3_finalize(s);
		return r;
	}
	while ((r = alog_step(s)) == 1) {
		alog_event_row(s, &ev, NULL);
		if (f->reads_only && !is_read(ev.action))
			continue;
		if ((r = fn(ctx, &ev)) != 0)
			break;
	}
	sqlite3_finalize(s);
	return r;
}
