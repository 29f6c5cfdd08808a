/* koden pubkey: print the public key of a secret key file. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli_int.h"

static const char pubkey_usage[] =
    "usage: koden pubkey [--passphrase-file FILE] SECRETFILE\n"
    "\n"
    "Unlocks SECRETFILE (asking for its passphrase as keygen does) and\n"
    "prints its public key (kodenpub1...) on stdout.  Unlocking proves the\n"
    "printed key really belongs to the secret in the file.\n";

int
cmd_pubkey(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pass_file = NULL;
	struct identity *id = NULL;
	char pk[PUBKEY_STR_MAX];
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'P': pass_file = optarg; break;
		case 'h': fputs(pubkey_usage, stdout); return EX_OK;
		default: fputs(pubkey_usage, stderr); return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(pubkey_usage, stderr);
		return EX_USAGE;
	}
	if ((r = cli_load_identity(ctx, &id, argv[optind], pass_file)) != EX_OK)
		return r;
	pubkey_encode(pk, &id->pub);
	puts(pk);
	identity_free(id);
	return fflush(stdout) == 0 ? EX_OK : EX_FAIL;
}
