/*
 * Alerts: what a node saw that an operator must know (gaps, replays,
 * forgeries, refused batches...), in three places at once: the log, the
 * audit log, and the store's alerts table (`koden alerts`).
 */
#include <stdarg.h>
#include <stdio.h>

#include "lib/log.h"
#include "node/node_int.h"
#include "node/nodeaudit.h"

void
node_alert(struct node *n, const char *kind, const char *origin,
    const char *fmt, ...)
{
	char detail[256];
	struct kerr e = { "" };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_warn("ALERT %s from %s: %s", kind, origin ? origin : "-", detail);
	naudit_event(n->audit, "kodend", origin ? origin : "-", "alert", kind,
	    "ok", "%s", detail);
	if (node_txn(n, &e) != 0 ||
	    store_alert_add(n->st, kind, origin ? origin : "", detail, now_s(),
	    &e) != 0)
		log_err("cannot record alert: %s", e.msg);
}
