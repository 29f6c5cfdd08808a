/*
 * koden -d NODEDIR send: seal a drafted telegram to its addressees, taken
 * from the roster kodend holds, and hand it to kodend, which numbers it,
 * signs it as this post, stores it and delivers it through HQ.  On disk
 * when this returns.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_int.h"
#include "node/admin.h"
#include "node/api.h"
#include "node/config.h"
#include "node/directory.h"
#include "telegram/envelope.h"
#include "telegram/tg.h"

/* The roster from kodend, verified with the directory key this node trusts. */
static int
get_roster(const struct cli_ctx *ctx, struct roster *ro)
{
	struct config cfg;
	struct kerr e = { "" };
	struct buf resp;
	uint8_t dpk[KEY_SIGN_PK];
	int r;

	if (config_load(&cfg, ctx->nodedir, &e) != 0)
		return cli_fail(EX_USAGE, "%s", e.msg);
	if (cfg.role == ROLE_HQ) {
		struct identity *dk = NULL;
		char path[PATH_MAX];

		if (node_path(path, sizeof(path), ctx->nodedir,
		    NODE_DIRKEY_FILE) != 0)
			return EX_USAGE;
		if ((r = cli_load_identity(ctx, &dk, path, NULL)) != EX_OK)
			return r;
		memcpy(dpk, dk->pub.sign, KEY_SIGN_PK);
		identity_free(dk);
	} else
		memcpy(dpk, cfg.dir_pk, KEY_SIGN_PK);
	buf_init(&resp, ROSTER_MAX);
	if ((r = cli_call(ctx, API_ROSTER, NULL, 0, &resp)) == EX_OK &&
	    roster_decode(ro, resp.p, resp.len, dpk, &e) != 0)
		r = cli_fail(EX_VERIFY, "the roster from kodend does not "
		    "verify: %s", e.msg);
	buf_free(&resp);
	return r;
}

/* Add the roster key of name (a site or a person) to rcpt. */
static int
add_rcpt(struct pubkey *rcpt, size_t *n, const struct roster *ro,
    const char *name, const char *why)
{
	const struct roster_entry *re = roster_find(ro, name);

	if (re == NULL || re->revoked)
		return cli_fail(EX_INPUT, "%s %s is %s in the roster", why, name,
		    re ? "revoked" : "not");
	rcpt[(*n)++] = re->pk;
	return EX_OK;
}

static const char send_usage[] =
    "usage: koden -d NODEDIR send -i KEYFILE [--passphrase-file F] [--policy F] [DRAFT|-]\n"
    "\n"
    "Seals the drafted telegram with your key and hands it to kodend, which\n"
    "numbers it per destination, signs it as this post, stores it and\n"
    "delivers it through HQ.  Recipients come from the signed roster: the\n"
    "addressee posts (and this post, for its records); for NODIS or EXDIS\n"
    "with PERSONS, only the named persons (and you).  Prints the telegram id.\n";

int
cmd_send(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "policy", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *idfile = NULL, *pass_file = NULL, *policy = NULL, *in;
	struct identity *me = NULL;
	struct pubkey *rcpt = NULL;
	struct roster ro;
	struct tg_policy pol;
	struct tg *t = NULL;
	struct kerr e = { "" };
	struct buf draft, env, resp;
	char idhex[TG_ID_HEX] = "-";
	size_t n = 0;
	int c, r, restricted = 0;

	memset(&ro, 0, sizeof(ro));
	buf_init_secret(&draft, TG_DRAFT_MAX + 1);
	buf_init(&env, ENV_MAX);
	buf_init(&resp, 1024);
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': idfile = optarg; break;
		case 'P': pass_file = optarg; break;
		case 'p': policy = optarg; break;
		case 'h': fputs(send_usage, stdout); r = EX_OK; goto out;
		default: fputs(send_usage, stderr); r = EX_USAGE; goto out;
		}
	}
	if ((r = cli_need_dir(ctx, "send")) != EX_OK)
		goto out;
	if (idfile == NULL || optind < argc - 1) {
		fputs(send_usage, stderr);
		r = EX_USAGE;
		goto out;
	}
	tg_policy_default(&pol);
	if (policy != NULL) {
		struct buf pb;

		buf_init(&pb, 64 * 1024);
		r = cli_read_input(&pb, policy, "policy file");
		if (r == EX_OK && tg_policy_parse(&pol, (char *)pb.p, pb.len,
		    &e) != 0)
			r = cli_fail(EX_INPUT, "%s: %s", policy, e.msg);
		buf_free(&pb);
		if (r != EX_OK)
			goto out;
	}
	in = optind < argc ? argv[optind] : "-";
	if ((r = cli_read_input(&draft, in, "draft")) != EX_OK)
		goto out;
	if ((r = tg_parse_draft(&t, (char *)draft.p, draft.len, &pol, &e)) != 0) {
		r = cli_fail(EX_INPUT, "%s: %s", strcmp(in, "-") ? in : "stdin",
		    kerr_msg(&e, r));
		goto out;
	}
	if ((r = get_roster(ctx, &ro)) != EX_OK ||
	    (r = cli_load_identity(ctx, &me, idfile, pass_file)) != EX_OK)
		goto out;
	if ((rcpt = calloc(TG_ADDRESSEES_MAX + TG_PERSONS_MAX + 2,
	    sizeof(*rcpt))) == NULL) {
		r = cli_fail(EX_FAIL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < t->captions.n; i++)
		restricted |= strcmp(t->captions.v[i], "NODIS") == 0 ||
		    (strcmp(t->captions.v[i], "EXDIS") == 0 && t->persons.n > 0);
	if (restricted) {
		for (size_t i = 0; i < t->persons.n; i++)
			if ((r = add_rcpt(rcpt, &n, &ro, t->persons.v[i],
			    "named person")) != EX_OK)
				goto out;
		rcpt[n++] = me->pub;	/* the drafter keeps a readable copy */
	} else {
		for (size_t i = 0; i < t->to.n; i++)
			if ((r = add_rcpt(rcpt, &n, &ro, t->to.v[i],
			    "addressee")) != EX_OK)
				goto out;
		for (size_t i = 0; i < t->info.n; i++)
			if ((r = add_rcpt(rcpt, &n, &ro, t->info.v[i],
			    "addressee")) != EX_OK)
				goto out;
		if ((r = add_rcpt(rcpt, &n, &ro, t->origin, "origin")) != EX_OK)
			goto out;
	}
	if (t->serial == 0) {
		struct rd rd;

		if ((r = cli_call(ctx, API_SERIAL, NULL, 0, &resp)) != EX_OK)
			goto out;
		rd_init(&rd, resp.p, resp.len);
		if (rd_u64(&rd, &t->serial) != 0 || t->serial > TG_SERIAL_MAX)
			t->serial = 0;	/* past 999999: unnumbered */
	}
	tg_new_id(t->id);
	tg_id_hex(idhex, t->id);
	t->dtg = (uint64_t)time(NULL);
	if ((r = env_seal(&env, t, me, me, rcpt, n, &e)) != 0) {
		r = cli_fail(cli_exit_code(r), "%s", kerr_msg(&e, r));
		goto out;
	}
	if ((r = cli_call(ctx, API_SEND, env.p, env.len, &resp)) != EX_OK)
		goto out;
	puts(idhex);
	cli_warn("telegram %s %06llu stored for delivery to %zu post(s): %s",
	    t->origin, (unsigned long long)t->serial, t->to.n + t->info.n,
	    tg_prec_name(t->prec_action));
	r = EX_OK;
out:
	/*
	 * A send kodend accepted is recorded by kodend itself ("release":
	 * the officer, this process's pid and uid, the telegram), in the
	 * transaction's turn; koden records the attempts that failed.
	 */
	if (idfile != NULL && ctx->nodedir != NULL && r != EX_USAGE &&
	    r != EX_OK) {
		char d[160];

		snprintf(d, sizeof(d), "drafted, sealed and released%s%s",
		    t != NULL ? "; precedence " : "",
		    t != NULL ? tg_prec_name(t->prec_action) : "");
		/* the send failed already: a failed record is only reported */
		(void)!cli_audit(ctx, me != NULL ? me->name : NULL, "send",
		    idhex, cli_outcome(r), d);
	}
	free(rcpt);
	roster_free(&ro);
	identity_free(me);
	tg_free(t);
	buf_free(&draft);
	buf_free(&env);
	buf_free(&resp);
	return r;
}
