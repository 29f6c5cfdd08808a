/* koden seal: sign a drafted telegram and encrypt it to its recipients. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli_int.h"
#include "telegram/envelope.h"
#include "telegram/tg.h"

static const char seal_usage[] =
    "usage: koden seal -i SECRETFILE (-r PUBKEY | -R RECIPIENTSFILE)...\n"
    "                  [-o OUT] [--origin-key FILE] [--policy FILE]\n"
    "                  [--passphrase-file FILE] [DRAFT|-]\n"
    "\n"
    "Reads a drafted telegram (docs/drafting.md), signs it with the\n"
    "drafter's key, encrypts it to every recipient and writes the sealed\n"
    "telegram to OUT (or stdout, but not a terminal).\n"
    "\n"
    "  -i, --identity FILE      the drafter's secret key file\n"
    "  -r, --recipient PUBKEY   a recipient's public key (repeatable)\n"
    "  -R, --recipients-file F  public keys, one per line: KEY [LABEL];\n"
    "                           '#' starts a comment (repeatable)\n"
    "  -o, --output OUT         where to write the sealed telegram\n"
    "      --origin-key FILE    the origin post's secret key file, which signs\n"
    "                           the routing header (default: the drafter's key)\n"
    "      --policy FILE        classification levels, lowest first, one per line\n"
    "      --passphrase-file F  passphrase for the key files\n";

static int
load_policy(struct tg_policy *pol, const char *path)
{
	struct kerr e = { "" };
	struct buf b;
	int r;

	tg_policy_default(pol);
	if (path == NULL)
		return EX_OK;
	buf_init(&b, 64 * 1024);
	if ((r = cli_read_input(&b, path, "policy file")) != EX_OK)
		goto out;
	if ((r = tg_policy_parse(pol, (const char *)b.p, b.len, &e)) != 0)
		r = cli_fail(EX_INPUT, "%s: %s", path, kerr_msg(&e, r));
out:
	buf_free(&b);
	return r;
}

int
cmd_seal(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "recipient", required_argument, NULL, 'r' },
		{ "recipients-file", required_argument, NULL, 'R' },
		{ "output", required_argument, NULL, 'o' },
		{ "origin-key", required_argument, NULL, 'O' },
		{ "policy", required_argument, NULL, 'p' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *idfile = NULL, *out = NULL, *origin_file = NULL;
	const char *policy_file = NULL, *pass_file = NULL, *in;
	struct identity *drafter = NULL, *origin = NULL;
	struct keylist *kl;
	struct tg_policy pol;
	struct tg *t = NULL;
	struct kerr e = { "" };
	struct buf draft, env;
	char idhex[TG_ID_HEX];
	int c, r = EX_OK;

	if ((kl = calloc(1, sizeof(*kl))) == NULL)
		return cli_fail(EX_FAIL, "out of memory");
	snprintf(idhex, sizeof(idhex), "-");
	buf_init_secret(&draft, TG_DRAFT_MAX + 1);
	buf_init(&env, ENV_MAX);
	while (r == EX_OK &&
	    (c = getopt_long(argc, argv, "i:r:R:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': idfile = optarg; break;
		case 'r': r = keylist_add_string(kl, optarg, "-r"); break;
		case 'R': r = keylist_add_file(kl, optarg); break;
		case 'o': out = optarg; break;
		case 'O': origin_file = optarg; break;
		case 'p': policy_file = optarg; break;
		case 'P': pass_file = optarg; break;
		case 'h': fputs(seal_usage, stdout); goto out;
		default: fputs(seal_usage, stderr); r = EX_USAGE; goto out;
		}
	}
	if (r != EX_OK)
		goto out;
	if (idfile == NULL || optind < argc - 1) {
		fputs(seal_usage, stderr);
		r = EX_USAGE;
		goto out;
	}
	if (kl->n == 0) {
		r = cli_fail(EX_USAGE, "no recipients: give -r PUBKEY or "
		    "-R RECIPIENTSFILE");
		goto out;
	}
	if ((out == NULL || strcmp(out, "-") == 0) && isatty(1)) {
		r = cli_fail(EX_USAGE, "refusing to write a binary sealed "
		    "telegram to a terminal: use -o FILE or redirect stdout");
		goto out;
	}
	in = optind < argc ? argv[optind] : "-";
	if ((r = load_policy(&pol, policy_file)) != EX_OK ||
	    (r = cli_read_input(&draft, in, "draft")) != EX_OK)
		goto out;
	if ((r = tg_parse_draft(&t, (const char *)draft.p, draft.len, &pol,
	    &e)) != 0) {
		r = cli_fail(EX_INPUT, "%s: %s", strcmp(in, "-") ? in : "stdin",
		    kerr_msg(&e, r));
		goto out;
	}
	tg_new_id(t->id);
	t->dtg = (uint64_t)time(NULL);
	tg_id_hex(idhex, t->id);
	if ((r = cli_load_identity(ctx, &drafter, idfile, pass_file)) != EX_OK)
		goto out;
	if (origin_file != NULL &&
	    (r = cli_load_identity(ctx, &origin, origin_file,
	    pass_file)) != EX_OK)
		goto out;
	if ((r = env_seal(&env, t, drafter, origin ? origin : drafter, kl->pk,
	    kl->n, &e)) != 0) {
		r = cli_fail(cli_exit_code(r), "%s", kerr_msg(&e, r));
		goto out;
	}
	if ((r = cli_write_output(out, env.p, env.len, 0644)) != EX_OK)
		goto out;
	tg_id_hex(idhex, t->id);
	cli_warn("sealed telegram %s: %s, %zu bytes", idhex,
	    tg_prec_name(t->prec_action), env.len);
out:
	if (idfile != NULL && r != EX_USAGE)
		/* after the fact: a failed record is reported, r stays */
		(void)!cli_audit(ctx, drafter != NULL ? drafter->name : NULL,
		    "seal", t != NULL ? idhex : "-", cli_outcome(r), NULL);
	identity_free(drafter);
	identity_free(origin);
	tg_free(t);
	buf_free(&draft);
	buf_free(&env);
	free(kl);
	return r;
}
