/*
 * koden -d NODEDIR read ID: a telegram received here, opened, verified and
 * printed; it is marked read and a signed read receipt goes to its origin.
 * kodend opens the ones addressed to the post; a NODIS-style one opens only
 * with a named person's key (-i), here, and is recorded before it is shown.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "node/api.h"
#include "telegram/envelope.h"
#include "telegram/tg.h"

/* The largest rendered telegram kodend answers with, or this renders. */
#define READ_TEXT_MAX (4u << 20)

static const char read_usage[] =
    "usage: koden -d NODEDIR read ID [-i KEYFILE] [--passphrase-file F] [-o OUT]\n"
    "\n"
    "Opens a telegram received here, verifies both signatures and prints\n"
    "it; marks it read and sends a signed read receipt to its origin.  A\n"
    "NODIS telegram opens only with the key of a named person (-i).\n";

int
cmd_read(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *idfile = NULL, *pass_file = NULL, *out = NULL;
	struct identity *me = NULL;
	struct env_header *h = NULL;
	struct tg *t = NULL;
	struct pubkey d, o;
	struct kerr e = { "" };
	struct buf req, resp, txt;
	struct rd rd;
	uint8_t mode;
	char pk[PUBKEY_STR_MAX], object[TG_ID_HEX] = "";
	int c, r, audited = 0;

	buf_init(&req, 300);
	buf_init_secret(&resp, API_MSG_MAX);
	buf_init_secret(&txt, READ_TEXT_MAX);
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': idfile = optarg; break;
		case 'P': pass_file = optarg; break;
		case 'o': out = optarg; break;
		case 'h': fputs(read_usage, stdout); r = EX_OK; goto done;
		default: fputs(read_usage, stderr); r = EX_USAGE; goto done;
		}
	}
	if ((r = cli_need_dir(ctx, "read")) != EX_OK)
		goto done;
	if (optind != argc - 1) {
		fputs(read_usage, stderr);
		r = EX_USAGE;
		goto done;
	}
	if (buf_put_str8(&req, argv[optind]) != 0 ||
	    buf_put_u8(&req, out != NULL) != 0) {
		r = cli_fail(EX_USAGE, "ID too long");
		goto done;
	}
	if ((r = cli_call(ctx, API_READ, req.p, req.len, &resp)) != EX_OK)
		goto done;
	rd_init(&rd, resp.p, resp.len);
	if (rd_u8(&rd, &mode) != 0) {
		r = cli_fail(EX_FAIL, "malformed answer from kodend");
		goto done;
	}
	if (mode == API_READ_OPENED) {
		const uint8_t *p;
		size_t len;
		char *drafter = NULL;

		if (rd_bytes32(&rd, &p, &len, READ_TEXT_MAX) != 0 ||
		    rd_copy(&rd, d.sign, KEY_SIGN_PK) != 0 ||
		    rd_copy(&rd, d.enc, KEY_ENC_PK) != 0 ||
		    rd_copy(&rd, o.sign, KEY_SIGN_PK) != 0 ||
		    rd_copy(&rd, o.enc, KEY_ENC_PK) != 0 ||
		    rd_str8(&rd, &drafter) != 0) {
			r = cli_fail(EX_FAIL, "malformed answer from kodend");
			goto done;
		}
		/*
		 * Recorded before it is shown: kodend answers only once its
		 * "decrypt" record (this client's pid and uid, screen or
		 * file) is on disk.  No trace, no telegram.
		 */
		audited = 1;
		if ((r = cli_write_output(out, p, len, 0600)) != EX_OK) {
			free(drafter);
			goto done;
		}
		pubkey_encode(pk, &d);
		cli_warn("signatures verified; drafted by %s, key %s", drafter, pk);
		free(drafter);
		r = EX_OK;
		goto done;
	}
	/* restricted: open with the officer's own key, then mark it read */
	{
		uint8_t id[TG_ID_LEN];

		if (rd_copy(&rd, id, TG_ID_LEN) != 0) {
			r = cli_fail(EX_FAIL, "malformed answer from kodend");
			goto done;
		}
		if (idfile == NULL) {
			r = cli_fail(EX_NOTRCPT, "this telegram is for named "
			    "persons only: give your key with -i KEYFILE");
			goto done;
		}
		tg_id_hex(object, id);
		if ((r = cli_load_identity(ctx, &me, idfile, pass_file)) != EX_OK)
			goto done;
		if ((h = calloc(1, sizeof(*h))) == NULL) {
			r = cli_fail(EX_FAIL, "out of memory");
			goto done;
		}
		if ((r = env_open(&t, &d, h, resp.p + rd.off, rd_left(&rd), me,
		    &e)) != 0) {
			r = cli_fail(cli_exit_code(r), "%s", kerr_msg(&e, r));
			goto done;
		}
		if ((r = tg_render(t, &txt)) == 0) {
			audited = 1;
			if ((r = cli_audit(ctx, me->name, "read", object, "ok",
			    out ? "restricted; to file" :
			    "restricted; to screen")) != EX_OK)
				goto done;
		}
		if (r != 0 ||
		    (r = cli_write_output(out, txt.p, txt.len, 0600)) != EX_OK) {
			r = r < 0 ? cli_fail(EX_FAIL, "cannot render") : r;
			goto done;
		}
		req.len = 0;
		if (buf_put(&req, id, TG_ID_LEN) != 0 ||
		    (r = cli_call(ctx, API_MARK_READ, req.p, req.len, &txt)) !=
		    EX_OK)
			goto done;
		pubkey_encode(pk, &d);
		cli_warn("signatures verified; drafted by %s, key %s",
		    t->drafter, pk);
		r = EX_OK;
	}
done:
	/* every failed attempt too (a wrong key, a refused NODIS open) */
	/* (failed already: a record that fails too is reported, r stays) */
	if (!audited && r != EX_OK && r != EX_USAGE && ctx->nodedir != NULL &&
	    optind < argc)
		(void)!cli_audit(ctx, me != NULL ? me->name : NULL, "read",
		    object[0] ? object : argv[optind], cli_outcome(r),
		    "attempt");
	tg_free(t);
	free(h);
	identity_free(me);
	buf_free(&req);
	buf_free(&resp);
	buf_free(&txt);
	return r;
}
