/* koden keygen: a new identity (Ed25519 signing + X25519 encryption key). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_int.h"

static const char keygen_usage[] =
    "usage: koden keygen -o FILE [--name NAME] [--no-passphrase]\n"
    "                    [--passphrase-file FILE]\n"
    "\n"
    "Writes a new secret key file FILE (mode 0600, never overwritten) and\n"
    "prints its public key (kodenpub1...) on stdout.  The file is sealed\n"
    "with a passphrase (Argon2id + XChaCha20-Poly1305) read from\n"
    "--passphrase-file, else $KODEN_PASSPHRASE, else asked twice on the\n"
    "terminal.\n"
    "\n"
    "  -o, --output FILE        where to write the secret key\n"
    "  -n, --name NAME          post or person the key belongs to (kept in the file)\n"
    "      --no-passphrase      store the key unencrypted (servers only)\n"
    "      --passphrase-file F  read the passphrase from the first line of F\n";

int
cmd_keygen(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "no-passphrase", no_argument, NULL, 'N' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *name = NULL, *pass_file = NULL;
	struct identity *id = NULL;
	struct kerr e = { "" };
	char pk[PUBKEY_STR_MAX], *pass = NULL;
	size_t plen = 0;
	int c, nopass = 0, r;

	while ((c = getopt_long(argc, argv, "o:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'n': name = optarg; break;
		case 'N': nopass = 1; break;
		case 'P': pass_file = optarg; break;
		case 'h': fputs(keygen_usage, stdout); return EX_OK;
		default: fputs(keygen_usage, stderr); return EX_USAGE;
		}
	}
	if (optind != argc || out == NULL) {
		fputs(keygen_usage, stderr);
		return EX_USAGE;
	}
	if (nopass && pass_file != NULL)
		return cli_fail(EX_USAGE, "--no-passphrase and "
		    "--passphrase-file contradict each other");
	if (access(out, F_OK) == 0)
		return cli_fail(EX_FAIL, "%s already exists: refusing to "
		    "overwrite a key file", out);
	if ((r = identity_generate(&id, name)) == KERR_INVALID)
		return cli_fail(EX_USAGE, "--name: at most %d bytes of "
		    "printable UTF-8", KEY_NAME_MAX);
	if (r != 0)
		return cli_fail(EX_FAIL, "cannot generate keys: %s",
		    kerr_str(r));
	if (nopass)
		cli_warn("warning: %s will hold the secret key unencrypted; "
		    "protect it as you would the key itself", out);
	else if ((r = cli_passphrase(&pass, &plen, pass_file,
	    "Passphrase for the new key: ", 1)) != EX_OK)
		goto out;
	if ((r = keyfile_write(out, id, pass, plen, &e)) != 0) {
		r = cli_fail(EX_FAIL, "%s", kerr_msg(&e, r));
		goto out;
	}
	pubkey_encode(pk, &id->pub);
	puts(pk);
	r = fflush(stdout) == 0 ? EX_OK : EX_FAIL;
out:
	/* after the fact: a record that fails is reported, the key stays */
	(void)!cli_audit(ctx, name, "key-create", out, cli_outcome(r),
	    r == EX_OK ? pk : NULL);
	cli_pass_free(pass);
	identity_free(id);
	return r;
}
