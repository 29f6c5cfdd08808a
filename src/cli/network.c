/*
 * koden network: create HQ, enrol posts, register officers, revoke, list.
 *
 *   koden network init -d HQDIR --name NAME --listen HOST:PORT
 *   koden -d HQDIR network add-post NAME [--address HOST:PORT] [--ttl DAYS]
 *   koden network join -d POSTDIR [--token-file FILE]   (token on stdin)
 *   koden -d HQDIR network add-person NAME --post POST --key PUBKEY
 *   koden -d HQDIR network revoke NAME
 *   koden -d NODEDIR network list
 *
 * This file is the dispatcher: usage, and the audit record of each network
 * command.  init and join are in net_create.c; add-post, add-person, revoke
 * and list in net_admin.c.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_int.h"
#include "node/admin.h"
#include "node/config.h"

static const char network_usage[] =
    "usage: koden network init -d HQDIR --name NAME --listen HOST:PORT\n"
    "       koden -d HQDIR network add-post NAME [--address HOST:PORT] [--ttl DAYS]\n"
    "       koden network join -d POSTDIR [--token-file FILE]\n"
    "       koden -d HQDIR network add-person NAME --post POST --key PUBKEY\n"
    "       koden -d HQDIR network revoke NAME\n"
    "       koden -d NODEDIR network list\n"
    "\n"
    "init        create HQ's node directory: node key, directory key, store\n"
    "add-post    print a one-time enrolment token (kodenjoin1...) for a post;\n"
    "            carry it to the post out of band\n"
    "join        create a post's node directory from the token (read from\n"
    "            --token-file or stdin, never the command line); kodend then\n"
    "            enrols with HQ on its first connection\n"
    "add-person  put an officer's public key (from koden keygen) in the roster\n"
    "revoke      revoke a post or person: HQ refuses its connections and\n"
    "            posts stop accepting its signatures\n"
    "list        print the roster this node holds\n";

/*
 * Record a network command in the node's audit log (docs/audit.md): the
 * directory changes at HQ (add-post, add-person, revoke), node creation
 * (init, join), roster views.  The node directory is -d before the verb or
 * -d/--dir after it; none yet (a failed init) records nothing.
 */
static void
audit_network(const struct cli_ctx *ctx, int argc, char **argv, int r)
{
	const char *dir = ctx->nodedir, *obj = NULL, *sub = argv[1], *action;
	char path[PATH_MAX], detail[256];

	for (int i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--dir") ==
		    0) && i + 1 < argc)
			dir = argv[++i];
		else if (strncmp(argv[i], "--dir=", 6) == 0)
			dir = argv[i] + 6;
		else if (argv[i][0] == '-' && i + 1 < argc &&
		    strcmp(argv[i], "--help") != 0)
			i++;	/* an option's value */
		else if (obj == NULL && argv[i][0] != '-')
			obj = argv[i];
	}
	if (dir == NULL || node_path(path, sizeof(path), dir, CONFIG_FILE) != 0 ||
	    access(path, F_OK) != 0)
		return;
	if (strcmp(sub, "list") == 0)
		action = "list";
	else if (strcmp(sub, "init") == 0 || strcmp(sub, "join") == 0)
		action = "config-change";
	else
		action = "dir-change";
	snprintf(detail, sizeof(detail), "network %s", sub);
	/* after the fact: a record that fails is reported, the change stays */
	(void)!cli_audit_dir(dir, NULL, action, obj != NULL ? obj : sub,
	    cli_outcome(r), detail);
}

/* Each sub-verb's own usage, for -h and --help. */
static const struct {
	const char *name;
	int (*run)(const struct cli_ctx *, int, char **);
	const char *usage;
} subs[] = {
	{ "init", cmd_network_init,
	    "usage: koden network init -d HQDIR --name NAME --listen HOST:PORT\n"
	    "\n"
	    "Creates HQ's node directory: node key, directory key, store.\n" },
	{ "add-post", cmd_network_add_post,
	    "usage: koden -d HQDIR network add-post NAME [--address HOST:PORT] "
	    "[--ttl DAYS]\n"
	    "\n"
	    "Prints a one-time enrolment token (kodenjoin1...) for a post; carry\n"
	    "it to the post out of band.  --address is where the post dials HQ\n"
	    "(default: HQ's listen address), --ttl how many days the token is\n"
	    "valid (1 to 90, default 7).\n" },
	{ "join", cmd_network_join,
	    "usage: koden network join -d POSTDIR [--token-file FILE]\n"
	    "\n"
	    "Creates a post's node directory from the token (read from\n"
	    "--token-file or stdin, never the command line); kodend then enrols\n"
	    "with HQ on its first connection.\n" },
	{ "add-person", cmd_network_add_person,
	    "usage: koden -d HQDIR network add-person NAME --post POST --key "
	    "PUBKEY\n"
	    "\n"
	    "Puts an officer's public key (from koden keygen) in the roster.\n" },
	{ "revoke", cmd_network_revoke,
	    "usage: koden -d HQDIR network revoke NAME\n"
	    "\n"
	    "Revokes a post or person: HQ refuses its connections and posts stop\n"
	    "accepting its signatures.\n" },
	{ "list", cmd_network_list,
	    "usage: koden -d NODEDIR network list\n"
	    "\n"
	    "Prints the roster this node holds.\n" },
};

int
cmd_network(const struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(network_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0) {
			int r = subs[i].run(ctx, argc - 1, argv + 1);

			if (r == CLI_HELP) {
				fputs(subs[i].usage, stdout);
				return EX_OK;
			}
			if (r == CLI_USAGE) {
				fputs(network_usage, stderr);
				return EX_USAGE;
			}
			if (r != EX_USAGE)
				audit_network(ctx, argc, argv, r);
			return r;
		}
	cli_warn("unknown network command '%s'", argv[1]);
	fputs(network_usage, stderr);
	return EX_USAGE;
}
