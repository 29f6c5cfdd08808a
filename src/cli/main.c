/*
 * koden: the command-line tool.  One file per verb, dispatched from the
 * table below (after wireguard-tools' wg.c).  The top of src/cli: nothing
 * here is called from another file; -d NODEDIR reaches the verbs in their
 * struct cli_ctx.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli_int.h"

static const struct verb verbs[] = {
	{ "keygen", cmd_keygen, "generate an identity: secret key file + public key" },
	{ "pubkey", cmd_pubkey, "print the public key of a secret key file" },
	{ "seal", cmd_seal, "sign and encrypt a drafted telegram to its recipients" },
	{ "open", cmd_open, "decrypt and verify a sealed telegram, print it" },
	{ "inspect", cmd_inspect, "show a sealed telegram's routing header (no key needed)" },
	{ "network", cmd_network, "create HQ, enrol posts, register officers, revoke" },
	{ "send", cmd_send, "-d NODEDIR: seal a draft and hand it to kodend for delivery" },
	{ "status", cmd_status, "-d NODEDIR: where a sent telegram is, per addressee" },
	{ "inbox", cmd_inbox, "-d NODEDIR: telegrams received here" },
	{ "read", cmd_read, "-d NODEDIR: open, verify and print a received telegram" },
	{ "alerts", cmd_alerts, "-d NODEDIR: gaps, replays, forgeries and other alerts" },
	{ "node", cmd_node, "-d NODEDIR: this node's links and queues" },
	{ "audit", cmd_audit, "-d NODEDIR: verify, query and prove the audit log" },
};

static void
usage(FILE *f)
{
	fputs("usage: koden [-d NODEDIR] COMMAND [OPTIONS] [ARGS]\n\ncommands:\n", f);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fputs("\n'koden COMMAND --help' shows a command's options.\n"
	    "Exit codes: 0 ok, 1 failure, 2 usage, 3 key file, 4 not a "
	    "recipient,\n5 verification failed, 6 malformed input "
	    "(docs/cli.md).\n", f);
}

int
main(int argc, char **argv)
{
	struct cli_ctx ctx = { NULL };

	if (sodium_init() < 0) {
		cli_warn("libsodium failed to initialise");
		return EX_FAIL;
	}
	if (argc >= 3 && strcmp(argv[1], "-d") == 0) {
		ctx.nodedir = argv[2];	/* -d NODEDIR, given before the command */
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EX_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		puts("koden 0.1");
		return EX_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(&ctx, argc - 1, argv + 1);
	cli_warn("unknown command '%s'", argv[1]);
	usage(stderr);
	return EX_USAGE;
}
