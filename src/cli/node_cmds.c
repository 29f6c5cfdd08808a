/*
 * What kodend tells the officer (koden -d NODEDIR ...):
 *
 *   status ID           per-addressee state: queued, at HQ, delivered, read
 *   inbox               telegrams received here, by precedence, newest first
 *   alerts [--since N]  accounting and security alerts
 *   node                this node's links and queues
 *
 * send and read are in send.c and read.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_int.h"
#include "node/api.h"
#include "store/store.h"
#include "telegram/tg.h"

/* inbox shows an id's first 16 hex digits: its time and 16 random bits */
#define INBOX_ID_SHOWN 16

/* API_STATUS's states are the store's (enum store_state) */
static const char *const state_names[] = {
	[0] = "?", [STORE_QUEUED] = "queued", [STORE_AT_HQ] = "at HQ",
	[STORE_DELIVERED] = "delivered", [STORE_READ] = "read",
};

static const char status_usage[] =
    "usage: koden -d NODEDIR status ID\n\nShows where a "
    "telegram sent from this node is, per addressee: queued,\n"
    "at HQ, delivered (signed receipt), read.  ID may be a "
    "prefix of at least 4 hex digits.\n";

int
cmd_status(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct buf req, resp;
	struct rd rd;
	uint8_t id[TG_ID_LEN];
	uint16_t k;
	char hex[TG_ID_HEX];
	int r;

	if (cli_is_help(argc, argv)) {
		fputs(status_usage, stdout);
		return EX_OK;
	}
	if ((r = cli_need_dir(ctx, "status")) != EX_OK)
		return r;
	if (argc != 2) {
		fputs(status_usage, stderr);
		return EX_USAGE;
	}
	buf_init(&req, 300);
	buf_init(&resp, 1u << 20);
	if (buf_put_str8(&req, argv[1]) != 0) {
		r = cli_fail(EX_USAGE, "ID too long");
		goto out;
	}
	r = cli_call(ctx, API_STATUS, req.p, req.len, &resp);
	/* a delivery state, not a telegram: a failed record is only reported */
	(void)!cli_audit(ctx, NULL, "status", argv[1], cli_outcome(r), NULL);
	if (r != EX_OK)
		goto out;
	rd_init(&rd, resp.p, resp.len);
	if (rd_copy(&rd, id, TG_ID_LEN) != 0 || rd_u16(&rd, &k) != 0) {
		r = cli_fail(EX_FAIL, "malformed answer from kodend");
		goto out;
	}
	tg_id_hex(hex, id);
	printf("telegram %s\n", hex);
	if (k == 0)
		printf("  (no addressees recorded here: it was not sent from "
		    "this node)\n");
	for (uint16_t i = 0; i < k; i++) {
		char *dest = NULL, when[32] = "";
		uint8_t st;
		uint64_t tm;
		time_t tt;
		struct tm g;

		if (rd_str8(&rd, &dest) != 0 || rd_u8(&rd, &st) != 0 ||
		    rd_u64(&rd, &tm) != 0 || st > STORE_READ) {
			free(dest);
			r = cli_fail(EX_FAIL, "malformed answer from kodend");
			goto out;
		}
		tt = (time_t)tm;
		gmtime_r(&tt, &g);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &g);
		printf("  %-24s %-10s %s\n", dest, state_names[st], when);
		free(dest);
	}
	r = EX_OK;
out:
	buf_free(&req);
	buf_free(&resp);
	return r;
}

static const char inbox_usage[] =
    "usage: koden -d NODEDIR inbox\n"
    "\n"
    "Lists the telegrams received here, by precedence, newest first: id,\n"
    "precedence, date-time group, origin, classification and subject.\n";

int
cmd_inbox(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct buf resp;
	struct rd rd;
	uint16_t k;
	uint8_t more = 0;
	int r;

	if (cli_is_help(argc, argv)) {
		fputs(inbox_usage, stdout);
		return EX_OK;
	}
	if ((r = cli_need_dir(ctx, "inbox")) != EX_OK)
		return r;
	if (argc != 1) {
		fputs("usage: koden -d NODEDIR inbox\n", stderr);
		return EX_USAGE;
	}
	buf_init(&resp, API_MSG_MAX);
	r = cli_call(ctx, API_INBOX, NULL, 0, &resp);
	/* listing shows subjects: recorded before they are shown */
	if (cli_audit(ctx, NULL, "list", "inbox", cli_outcome(r), NULL) != EX_OK)
		r = EX_FAIL;
	if (r != EX_OK)
		goto out;
	rd_init(&rd, resp.p, resp.len);
	if (rd_u16(&rd, &k) != 0 || rd_u8(&rd, &more) != 0) {
		r = cli_fail(EX_FAIL, "malformed answer from kodend");
		goto out;
	}
	printf("%-16s %-10s %-14s %-12s %-4s %s\n", "ID", "PRECEDENCE", "DTG",
	    "FROM", "", "CLASSIFICATION / SUBJECT");
	for (uint16_t i = 0; i < k; i++) {
		uint8_t id[TG_ID_LEN], prec, opened;
		uint64_t dtg, rec, rd_at;
		char *origin = NULL, *cls = NULL, *cap = NULL, *subj = NULL;
		char hex[TG_ID_HEX], d[32];

		if (rd_copy(&rd, id, TG_ID_LEN) != 0 ||
		    rd_str8(&rd, &origin) != 0 ||
		    rd_u8(&rd, &prec) != 0 || rd_u64(&rd, &dtg) != 0 ||
		    rd_u64(&rd, &rec) != 0 || rd_u64(&rd, &rd_at) != 0 ||
		    rd_u8(&rd, &opened) != 0 || rd_str8(&rd, &cls) != 0 ||
		    rd_str8(&rd, &cap) != 0 || rd_str16(&rd, &subj) != 0) {
			free(origin); free(cls); free(cap); free(subj);
			r = cli_fail(EX_FAIL, "malformed answer from kodend");
			goto out;
		}
		tg_id_hex(hex, id);
		hex[INBOX_ID_SHOWN] = '\0';
		tg_format_dtg(d, dtg);
		if (opened)
			printf("%-16s %-10s %-14s %-12s %-4s %s%s%s / %s\n", hex,
			    tg_prec_name(prec), d, origin, rd_at ? "" : "new",
			    cls, cap[0] ? " " : "", cap, subj);
		else
			printf("%-16s %-10s %-14s %-12s %-4s (restricted: named "
			    "persons only; open with koden read ID -i KEY)\n",
			    hex, tg_prec_name(prec), d, origin,
			    rd_at ? "" : "new");
		free(origin); free(cls); free(cap); free(subj);
	}
	if (k == 0)
		printf("(empty)\n");
	if (more)
		printf("(the %u most urgent and recent are shown; older ones "
		    "are still here: koden -d NODEDIR read ID)\n", k);
	r = EX_OK;
out:
	buf_free(&resp);
	return r;
}

static const char alerts_usage[] =
    "usage: koden -d NODEDIR alerts [--since N]\n\nLists the "
    "alerts this node raised (gaps, replays, reordering,\nforgeries, "
    "refused connections...), oldest first, numbered.\n";

int
cmd_alerts(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct buf req, resp;
	struct rd rd;
	uint64_t after = 0;
	uint16_t k;
	int r;

	if (cli_is_help(argc, argv)) {
		fputs(alerts_usage, stdout);
		return EX_OK;
	}
	if ((r = cli_need_dir(ctx, "alerts")) != EX_OK)
		return r;
	if (argc == 3 && strcmp(argv[1], "--since") == 0)
		after = strtoull(argv[2], NULL, 10);
	else if (argc != 1) {
		fputs(alerts_usage, stderr);
		return EX_USAGE;
	}
	buf_init(&req, 16);
	buf_init(&resp, API_MSG_MAX);
	if (buf_put_u64(&req, after) != 0 ||
	    (r = cli_call(ctx, API_ALERTS, req.p, req.len, &resp)) != EX_OK ||
	    (r = cli_audit(ctx, NULL, "list", "alerts", "ok", NULL)) != EX_OK)
		goto out;
	rd_init(&rd, resp.p, resp.len);
	if (rd_u16(&rd, &k) != 0) {
		r = cli_fail(EX_FAIL, "malformed answer from kodend");
		goto out;
	}
	for (uint16_t i = 0; i < k; i++) {
		uint64_t num, tm;
		char *kind = NULL, *origin = NULL, *detail = NULL, when[32];
		time_t tt;
		struct tm g;

		if (rd_u64(&rd, &num) != 0 || rd_u64(&rd, &tm) != 0 ||
		    rd_str8(&rd, &kind) != 0 || rd_str8(&rd, &origin) != 0 ||
		    rd_str16(&rd, &detail) != 0) {
			free(kind); free(origin); free(detail);
			r = cli_fail(EX_FAIL, "malformed answer from kodend");
			goto out;
		}
		tt = (time_t)tm;
		gmtime_r(&tt, &g);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &g);
		printf("%-5llu %s %-12s %-12s %s\n", (unsigned long long)num,
		    when, kind, origin[0] ? origin : "-", detail);
		free(kind); free(origin); free(detail);
	}
	r = EX_OK;
out:
	buf_free(&req);
	buf_free(&resp);
	return r;
}

static const char node_usage[] =
    "usage: koden -d NODEDIR node\n"
    "\n"
    "Shows this node's links (up or down) and queues, and the roster\n"
    "version it holds.\n";

int
cmd_node(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct buf resp;
	int r;

	if (cli_is_help(argc, argv)) {
		fputs(node_usage, stdout);
		return EX_OK;
	}
	if ((r = cli_need_dir(ctx, "node")) != EX_OK)
		return r;
	if (argc != 1) {
		fputs("usage: koden -d NODEDIR node\n", stderr);
		return EX_USAGE;
	}
	buf_init(&resp, 1u << 20);
	if ((r = cli_call(ctx, API_STATUS_NODE, NULL, 0, &resp)) == EX_OK)
		fwrite(resp.p, 1, resp.len, stdout);
	buf_free(&resp);
	return r;
}
