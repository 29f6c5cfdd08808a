/* koden open: decrypt and verify a sealed telegram, print it rendered. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli_int.h"
#include "telegram/envelope.h"
#include "telegram/tg.h"

static const char open_usage[] =
    "usage: koden open -i SECRETFILE [-o OUT] [-s PUBKEY | -S SIGNERSFILE]...\n"
    "                  [--passphrase-file FILE] [FILE|-]\n"
    "\n"
    "Decrypts a sealed telegram addressed to SECRETFILE's key, checks the\n"
    "origin and drafter signatures and that the routing header matches the\n"
    "signed telegram, and prints the rendered telegram to OUT (mode 0600)\n"
    "or stdout.  Who signed it is reported on stderr.\n"
    "\n"
    "  -i, --identity FILE     your secret key file\n"
    "  -o, --output OUT        write the rendered telegram here\n"
    "  -s, --signer PUBKEY     accept only telegrams drafted by one of these\n"
    "  -S, --signers-file F    keys (one per line: KEY [LABEL]) (repeatable)\n"
    "      --passphrase-file F passphrase for the key file\n";

/* "kodenpub1... (LABEL)" or "kodenpub1... (unknown key)" */
static void
describe(char *out, size_t n, const struct pubkey *pk, const struct keylist *kl)
{
	char s[PUBKEY_STR_MAX];
	const char *label = kl->n ? keylist_find(kl, pk) : NULL;

	pubkey_encode(s, pk);
	if (label != NULL && label[0] != '\0')
		snprintf(out, n, "%s (%s)", s, label);
	else if (label != NULL || kl->n == 0)
		snprintf(out, n, "%s", s);
	else
		snprintf(out, n, "%s (not among the trusted signers)", s);
}

int
cmd_open(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "signer", required_argument, NULL, 's' },
		{ "signers-file", required_argument, NULL, 'S' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *idfile = NULL, *out = NULL, *pass_file = NULL, *in = NULL;
	struct identity *id = NULL;
	struct env_header *h = NULL;
	struct keylist *kl;
	struct pubkey drafter;
	struct tg *t = NULL;
	struct kerr e = { "" };
	struct buf b, txt;
	char idhex[TG_ID_HEX], who[PUBKEY_STR_MAX + 2 * KEY_NAME_MAX];
	int c, r = EX_OK, audited = 0;

	idhex[0] = '\0';
	if ((kl = calloc(1, sizeof(*kl))) == NULL ||
	    (h = calloc(1, sizeof(*h))) == NULL) {
		free(kl);
		return cli_fail(EX_FAIL, "out of memory");
	}
	buf_init(&b, ENV_MAX + 1);
	buf_init_secret(&txt, 4 * TG_DRAFT_MAX);
	while (r == EX_OK &&
	    (c = getopt_long(argc, argv, "i:o:s:S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': idfile = optarg; break;
		case 'o': out = optarg; break;
		case 's': r = keylist_add_string(kl, optarg, "-s"); break;
		case 'S': r = keylist_add_file(kl, optarg); break;
		case 'P': pass_file = optarg; break;
		case 'h': fputs(open_usage, stdout); goto out;
		default: fputs(open_usage, stderr); r = EX_USAGE; goto out;
		}
	}
	if (r != EX_OK)
		goto out;
	if (idfile == NULL || optind < argc - 1) {
		fputs(open_usage, stderr);
		r = EX_USAGE;
		goto out;
	}
	in = optind < argc ? argv[optind] : "-";
	if ((r = cli_read_input(&b, in, "sealed telegram")) != EX_OK ||
	    (r = cli_load_identity(ctx, &id, idfile, pass_file)) != EX_OK)
		goto out;
	if ((r = env_open(&t, &drafter, h, b.p, b.len, id, &e)) != 0) {
		r = cli_fail(cli_exit_code(r), "%s: %s",
		    strcmp(in, "-") ? in : "stdin", kerr_msg(&e, r));
		goto out;
	}
	tg_id_hex(idhex, t->id);
	if (kl->n > 0 && keylist_find(kl, &drafter) == NULL) {
		describe(who, sizeof(who), &drafter, kl);
		r = cli_fail(EX_VERIFY, "drafter key %s: refusing to show the "
		    "telegram", who);
		goto out;
	}
	if ((r = tg_render(t, &txt)) != 0) {
		r = cli_fail(EX_FAIL, "cannot render telegram: %s", kerr_str(r));
		goto out;
	}
	/* recorded before it is shown: no trace, no telegram (-d only) */
	audited = 1;
	if ((r = cli_audit(ctx, id->name, "open", idhex, "ok", out ?
	    "to file" : "to screen")) != EX_OK ||
	    (r = cli_write_output(out, txt.p, txt.len, 0600)) != EX_OK)
		goto out;
	cli_warn("telegram %s from %s: signatures verified", idhex, t->origin);
	describe(who, sizeof(who), &drafter, kl);
	cli_warn("  drafted by %s, key %s", t->drafter, who);
	describe(who, sizeof(who), &h->origin_pk, kl);
	cli_warn("  origin post key %s", who);
out:
	if (!audited && r != EX_OK && idfile != NULL)
		/* failed already: a failed record is reported, r stays */
		(void)!cli_audit(ctx, id != NULL ? id->name : NULL, "open",
		    t != NULL ? idhex : (in != NULL ? in : "-"), cli_outcome(r),
		    "decrypt attempt");
	identity_free(id);
	tg_free(t);
	buf_free(&b);
	buf_free(&txt);
	free(kl);
	free(h);
	return r;
}
