/*
 * koden audit prove and check-proof: an inclusion proof of one entry in a
 * head HQ signs, and checking one offline with HQ's public key alone
 * (docs/audit.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/auditlog.h"
#include "cli/cli_int.h"
#include "node/admin.h"

/* The largest proof file written or read. */
#define PROOF_FILE_MAX (1u << 20)

int
cmd_audit_prove(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *arg, *colon;
	char node[AUDIT_NODE_MAX + 1] = "";
	struct auditlog *l = NULL;
	struct identity *key;
	struct kerr e = { "" };
	struct buf b;
	char *end;
	uint64_t seq;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		default:
			fputs("usage: koden -d HQDIR audit prove [NODE:]SEQ "
			    "[-o FILE]\n", c == 'h' ? stdout : stderr);
			return c == 'h' ? EX_OK : EX_USAGE;
		}
	}
	if (optind != argc - 1)
		return cli_fail(EX_USAGE, "usage: koden -d HQDIR audit prove "
		    "[NODE:]SEQ [-o FILE]");
	if ((r = cli_need_dir(ctx, "audit prove")) != EX_OK)
		return r;
	arg = argv[optind];
	if ((colon = strrchr(arg, ':')) != NULL) {
		if ((size_t)(colon - arg) > AUDIT_NODE_MAX || colon == arg)
			return cli_fail(EX_USAGE, "bad node name in '%s'", arg);
		memcpy(node, arg, (size_t)(colon - arg));
		node[colon - arg] = '\0';
		arg = colon + 1;
	}
	if (*arg < '0' || *arg > '9' || (seq = strtoull(arg, &end, 10),
	    *end != '\0'))
		return cli_fail(EX_USAGE, "entry: [NODE:]SEQ, SEQ a number");
	if ((key = cli_node_key(ctx->nodedir)) == NULL)
		return cli_fail(EX_KEY, "cannot read %s/%s to sign HQ's head",
		    ctx->nodedir, NODE_KEY_FILE);
	if ((r = cli_log_open(ctx, &l)) != EX_OK) {
		identity_free(key);
		return r;
	}
	buf_init(&b, PROOF_FILE_MAX);
	r = audit_prove(l, key, node[0] ? node : NULL, seq, &b, &e);
	identity_free(key);
	auditlog_close(l);
	if (r != 0)
		r = cli_fail(EX_INPUT, "%s", kerr_msg(&e, r));
	else if ((r = cli_write_output(out, b.p, b.len, 0644)) == EX_OK)
		cli_warn("inclusion proof of %s%s%" PRIu64 ": %zu bytes",
		    node, node[0] ? ":" : "", seq, b.len);
	buf_free(&b);
	return r;
}

int
cmd_audit_check_proof(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hq-key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ks = NULL;
	struct pubkey pk;
	struct audit_event ev;
	struct audit_head h;
	struct kerr e = { "" };
	struct cli_event_out o = { 0, 0 };
	struct buf b, kb;
	char hq[AUDIT_NODE_MAX + 1], t[CLI_TIME_MAX];
	char root[2 * MERKLE_HASH + 1];
	int c, r;

	(void)ctx;	/* HQ's public key alone: no node */
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': ks = optarg; break;
		case 'j': o.json = 1; break;
		default:
			fputs("usage: koden audit check-proof -k HQKEY|FILE "
			    "[--json] PROOF\n\nChecks an inclusion proof from "
			    "koden audit prove with HQ's public key\n(kodenpub1..."
			    ", or a file holding it) alone: no node needed.\n",
			    c == 'h' ? stdout : stderr);
			return c == 'h' ? EX_OK : EX_USAGE;
		}
	}
	if (ks == NULL || optind != argc - 1)
		return cli_fail(EX_USAGE, "usage: koden audit check-proof -k "
		    "HQKEY|FILE [--json] PROOF");
	buf_init(&kb, 4096);
	if (strncmp(ks, PUBKEY_PREFIX, strlen(PUBKEY_PREFIX)) != 0) {
		if ((r = cli_read_input(&kb, ks, "HQ key file")) != EX_OK) {
			buf_free(&kb);
			return r;
		}
		if (buf_put_u8(&kb, 0) != 0) {
			buf_free(&kb);
			return cli_fail(EX_INPUT, "%s: too long", ks);
		}
		ks = (const char *)kb.p;
	}
	r = pubkey_decode(&pk, ks, &e);
	buf_free(&kb);
	if (r != 0)
		return cli_fail(EX_INPUT, "HQ key: %s", kerr_msg(&e, r));
	buf_init(&b, PROOF_FILE_MAX);
	if ((r = cli_read_input(&b, argv[optind], "proof")) != EX_OK)
		goto out;
	if ((r = audit_check_proof(b.p, b.len, pk.sign, &ev, &h, hq, &e)) != 0) {
		r = cli_fail(r == KERR_SIGNATURE || r == KERR_MISMATCH ?
		    EX_VERIFY : EX_INPUT, "proof does not verify: %s",
		    kerr_msg(&e, r));
		goto out;
	}
	cli_time_fmt(t, sizeof(t), h.time_ns);
	sodium_bin2hex(root, sizeof(root), h.root, MERKLE_HASH);
	cli_warn("proof verified: the entry is in %s's log, head of size %"
	    PRIu64 " signed %s, root %s", hq, h.size, t, root);
	cli_event_print(&o, &ev);
	r = EX_OK;
out:
	buf_free(&b);
	return r;
}
