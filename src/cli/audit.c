/*
 * koden audit: check and query the tamper-evident audit log (docs/audit.md).
 * This file holds the dispatcher, verify and head; the queries are in
 * audit_query.c, the proofs in audit_proof.c.  What the other verbs record
 * goes through record.c.
 *
 *   koden -d NODEDIR audit verify            recompute the log, check heads
 *   koden -d NODEDIR audit log [filters]     entries (local and HQ's copies)
 *   koden -d HQDIR audit who-read ID         every read of a telegram
 *   koden -d HQDIR audit reads [filters]     reads by node, person, time
 *   koden -d HQDIR audit prove [NODE:]SEQ    an inclusion proof file
 *   koden audit check-proof -k HQKEY FILE    check one offline
 *   koden -d NODEDIR audit head              sign and print the tree head
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "audit/auditlog.h"
#include "cli/cli_int.h"
#include "node/admin.h"

static const char verify_usage[] =
    "usage: koden -d NODEDIR audit verify [--json]\n"
    "\n"
    "Recomputes the log from its rows and checks every signed head; exit 5\n"
    "naming the first bad entry if it was edited, cut, reordered or\n"
    "truncated.  --json prints one object.\n";

static int
audit_verify(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct auditlog *l = NULL;
	struct identity *key;
	struct audit_verify v;
	int json = argc == 2 && strcmp(argv[1], "--json") == 0, r;

	if (cli_is_help(argc, argv)) {
		fputs(verify_usage, stdout);
		return EX_OK;
	}
	if ((r = cli_need_dir(ctx, "audit verify")) != EX_OK)
		return r;
	if (argc > 2 || (argc == 2 && !json)) {
		fputs("usage: koden -d NODEDIR audit verify [--json]\n", stderr);
		return EX_USAGE;
	}
	if ((key = cli_node_key(ctx->nodedir)) == NULL)
		return cli_fail(EX_KEY, "%s/%s: cannot read the node key (its "
		    "public half checks the heads)", ctx->nodedir,
		    NODE_KEY_FILE);
	if ((r = cli_log_open(ctx, &l)) != EX_OK) {
		identity_free(key);
		return r;
	}
	r = audit_verify_log(l, key->pub.sign, &v);
	identity_free(key);
	if (json) {
		printf("{\"node\":");
		cli_json_str(stdout, auditlog_node(l));
		printf(",\"ok\":%s,\"entries\":%" PRIu64 ",\"heads\":%" PRIu64,
		    r == 0 ? "true" : "false", v.entries, v.heads);
		if (r == KERR_MISMATCH) {
			if (v.bad != UINT64_MAX)
				printf(",\"bad_entry\":%" PRIu64, v.bad);
			fputs(",\"reason\":", stdout);
			cli_json_str(stdout, v.why);
		}
		fputs("}\n", stdout);
	}
	if (r == 0) {
		if (!json)
			printf("audit log of %s: %" PRIu64 " entries, %" PRIu64
			    " signed heads: verified\n", auditlog_node(l),
			    v.entries, v.heads);
		r = EX_OK;
	} else if (r == KERR_MISMATCH) {
		if (v.bad != UINT64_MAX)
			cli_warn("audit log of %s is NOT intact: first bad entry "
			    "%" PRIu64 ": %s", auditlog_node(l), v.bad, v.why);
		else
			cli_warn("audit log of %s is NOT intact: %s",
			    auditlog_node(l), v.why);
		r = EX_VERIFY;
	} else
		r = cli_fail(EX_FAIL, "cannot check the audit log: %s",
		    kerr_str(r));
	auditlog_close(l);
	return r;
}

static const char head_usage[] =
    "usage: koden -d NODEDIR audit head\n"
    "\n"
    "Signs a tree head over the log now and prints it: node, size, time,\n"
    "root.\n";

static int
audit_head(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct auditlog *l = NULL;
	struct identity *key;
	struct audit_head h;
	struct kerr e = { "" };
	char t[CLI_TIME_MAX], root[2 * MERKLE_HASH + 1];
	int r;

	if (cli_is_help(argc, argv)) {
		fputs(head_usage, stdout);
		return EX_OK;
	}
	if (argc != 1)
		return cli_fail(EX_USAGE, "usage: koden -d NODEDIR audit head");
	if ((r = cli_need_dir(ctx, "audit head")) != EX_OK)
		return r;
	if ((key = cli_node_key(ctx->nodedir)) == NULL)
		return cli_fail(EX_KEY, "cannot read %s/%s", ctx->nodedir,
		    NODE_KEY_FILE);
	if ((r = cli_log_open(ctx, &l)) != EX_OK) {
		identity_free(key);
		return r;
	}
	r = audit_sign_head(l, key, &h, &e);
	identity_free(key);
	if (r == 0) {
		cli_time_fmt(t, sizeof(t), h.time_ns);
		sodium_bin2hex(root, sizeof(root), h.root, MERKLE_HASH);
		printf("%s size %" PRIu64 " time %s root %s\n",
		    auditlog_node(l), h.size, t, root);
	}
	auditlog_close(l);
	return r == 0 ? EX_OK : cli_fail(EX_FAIL, "%s", kerr_msg(&e, r));
}

static const char audit_usage[] =
    "usage: koden -d NODEDIR audit verify [--json]\n"
    "       koden -d NODEDIR audit log [--node N] [--person P] [--object ID]\n"
    "                                  [--since T] [--until T] [--json]\n"
    "       koden -d HQDIR audit who-read ID [--json]\n"
    "       koden -d HQDIR audit reads [--node N] [--person P] [--since T]\n"
    "                                  [--until T] [--json]\n"
    "       koden -d HQDIR audit prove [NODE:]SEQ [-o FILE]\n"
    "       koden audit check-proof -k HQKEY|FILE [--json] PROOF\n"
    "       koden -d NODEDIR audit head\n"
    "\n"
    "verify       recompute the log from its rows and check every signed\n"
    "             head; exit 5 naming the first bad entry if it was edited,\n"
    "             cut, reordered or truncated\n"
    "log          entries of this node's log (and at HQ, its copies of the\n"
    "             posts' logs)\n"
    "who-read     every attempt to open, read, render or export a telegram\n"
    "reads        read attempts by node, person, time\n"
    "prove        an inclusion proof of an entry, checkable offline with\n"
    "             HQ's public key alone\n"
    "check-proof  check such a proof (no node directory needed)\n"
    "head         sign a tree head over the log now and print it\n";

int
cmd_audit(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(const struct cli_ctx *, int, char **);
	} subs[] = {
		{ "verify", audit_verify },
		{ "log", cmd_audit_log },
		{ "reads", cmd_audit_reads },
		{ "who-read", cmd_audit_who_read },
		{ "prove", cmd_audit_prove },
		{ "check-proof", cmd_audit_check_proof },
		{ "head", audit_head },
	};

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(audit_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(ctx, argc - 1, argv + 1);
	cli_warn("unknown audit command '%s'", argv[1]);
	fputs(audit_usage, stderr);
	return EX_USAGE;
}
