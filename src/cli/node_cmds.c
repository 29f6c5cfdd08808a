/*
 * The officer's commands against a running kodend (koden -d NODEDIR ...):
 *
 *   send -i KEY DRAFT   seal to the addressees from the roster and hand
 *                       the telegram to kodend; on disk when it returns
 *   status ID           per-addressee state: queued, at HQ, delivered, read
 *   inbox               telegrams received here, by precedence, newest first
 *   read ID [-i KEY]    open, verify, print; NODIS needs the named key
 *   alerts [--since N]  accounting and security alerts
 *   node                this node's links and queues
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "node/admin.h"
#include "node/api.h"
#include "node/config.h"
#include "node/directory.h"
#include "telegram/envelope.h"
#include "telegram/tg.h"

extern const char *cli_nodedir;

static int
need_dir(const char *verb)
{
	if (cli_nodedir == NULL)
		return cli_fail(EX_USAGE, "%s needs the node directory: koden "
		    "-d NODEDIR %s ...", verb, verb);
	return EX_OK;
}

static int
call(uint8_t op, const uint8_t *body, size_t len, struct buf *resp)
{
	struct kerr e = { "" };
	int fd, r;

	if ((fd = api_connect(cli_nodedir, &e)) < 0)
		return cli_fail(EX_FAIL, "%s", e.msg);
	r = api_call(fd, op, body, len, resp, &e);
	close(fd);
	if (r != 0)
		return cli_fail(cli_exit_code(r), "%s", kerr_msg(&e, r));
	return EX_OK;
}

/* The roster from kodend, verified with the directory key this node trusts. */
static int
get_roster(struct roster *ro)
{
	struct config cfg;
	struct kerr e = { "" };
	struct buf resp;
	uint8_t dpk[32];
	int r;

	if (config_load(&cfg, cli_nodedir, &e) != 0)
		return cli_fail(EX_USAGE, "%s", e.msg);
	if (cfg.role == ROLE_HQ) {
		struct identity *dk = NULL;
		char path[4096];

		if (node_path(path, sizeof(path), cli_nodedir,
		    NODE_DIRKEY_FILE) != 0)
			return EX_USAGE;
		if ((r = cli_load_identity(&dk, path, NULL)) != EX_OK)
			return r;
		memcpy(dpk, dk->pub.sign, 32);
		identity_free(dk);
	} else
		memcpy(dpk, cfg.dir_pk, 32);
	buf_init(&resp, ROSTER_MAX);
	if ((r = call(API_ROSTER, NULL, 0, &resp)) == EX_OK &&
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
cmd_send(int argc, char **argv)
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
	if ((r = need_dir("send")) != EX_OK)
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
	if ((r = get_roster(&ro)) != EX_OK ||
	    (r = cli_load_identity(&me, idfile, pass_file)) != EX_OK)
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

		if ((r = call(API_SERIAL, NULL, 0, &resp)) != EX_OK)
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
	if ((r = call(API_SEND, env.p, env.len, &resp)) != EX_OK)
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
	if (idfile != NULL && cli_nodedir != NULL && r != EX_USAGE &&
	    r != EX_OK) {
		char d[160];

		snprintf(d, sizeof(d), "drafted, sealed and released%s%s",
		    t != NULL ? "; precedence " : "",
		    t != NULL ? tg_prec_name(t->prec_action) : "");
		(void)cli_audit(me != NULL ? me->name : NULL, "send", idhex,
		    cli_outcome(r), d);
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

static const char *const state_names[] = { "?", "queued", "at HQ", "delivered",
	"read" };

int
cmd_status(int argc, char **argv)
{
	struct buf req, resp;
	struct rd rd;
	uint8_t id[16];
	uint16_t k;
	char hex[TG_ID_HEX];
	int r;

	if ((r = need_dir("status")) != EX_OK)
		return r;
	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		fputs("usage: koden -d NODEDIR status ID\n\nShows where a "
		    "telegram sent from this node is, per addressee: queued,\n"
		    "at HQ, delivered (signed receipt), read.  ID may be a "
		    "prefix of at least 4 hex digits.\n", argc == 2 ? stdout :
		    stderr);
		return argc == 2 ? EX_OK : EX_USAGE;
	}
	buf_init(&req, 300);
	buf_init(&resp, 1u << 20);
	if (buf_put_str8(&req, argv[1]) != 0) {
		r = cli_fail(EX_USAGE, "ID too long");
		goto out;
	}
	r = call(API_STATUS, req.p, req.len, &resp);
	(void)cli_audit(NULL, "status", argv[1], cli_outcome(r), NULL);
	if (r != EX_OK)
		goto out;
	rd_init(&rd, resp.p, resp.len);
	if (rd_copy(&rd, id, 16) != 0 || rd_u16(&rd, &k) != 0) {
		r = cli_fail(EX_FAIL, "malformed answer from kodend");
		goto out;
	}
	tg_id_hex(hex, id);
	printf("telegram %s\n", hex);
	if (k == 0)
		printf("  (no addressees recorded here: it was not sent from "
		    "this node)\n");
	for (uint16_t i = 0; i < k; i++) {
		char *dest = NULL, when[32] = "";
		uint8_t st;
		uint64_t tm;
		time_t tt;
		struct tm g;

		if (rd_str8(&rd, &dest) != 0 || rd_u8(&rd, &st) != 0 ||
		    rd_u64(&rd, &tm) != 0 || st > 4) {
			free(dest);
			r = cli_fail(EX_FAIL, "malformed answer from kodend");
			goto out;
		}
		tt = (time_t)tm;
		gmtime_r(&tt, &g);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &g);
		printf("  %-24s %-10s %s\n", dest, state_names[st], when);
		free(dest);
	}
	r = EX_OK;
out:
	buf_free(&req);
	buf_free(&resp);
	return r;
}

int
cmd_inbox(int argc, char **argv)
{
	struct buf resp;
	struct rd rd;
	uint16_t k;
	uint8_t more = 0;
	int r;

	(void)argv;
	if ((r = need_dir("inbox")) != EX_OK)
		return r;
	if (argc != 1) {
		fputs("usage: koden -d NODEDIR inbox\n", stderr);
		return EX_USAGE;
	}
	buf_init(&resp, API_MSG_MAX);
	r = call(API_INBOX, NULL, 0, &resp);
	/* listing shows subjects: recorded before they are shown */
	if (cli_audit(NULL, "list", "inbox", cli_outcome(r), NULL) != EX_OK)
		r = EX_FAIL;
	if (r != EX_OK)
		goto out;
	rd_init(&rd, resp.p, resp.len);
	if (rd_u16(&rd, &k) != 0 || rd_u8(&rd, &more) != 0) {
		r = cli_fail(EX_FAIL, "malformed answer from kodend");
		goto out;
	}
	printf("%-16s %-10s %-14s %-12s %-4s %s\n", "ID", "PRECEDENCE", "DTG",
	    "FROM", "", "CLASSIFICATION / SUBJECT");
	for (uint16_t i = 0; i < k; i++) {
		uint8_t id[16], prec, opened;
		uint64_t dtg, rec, rd_at;
		char *origin = NULL, *cls = NULL, *cap = NULL, *subj = NULL;
		char hex[TG_ID_HEX], d[32];

		if (rd_copy(&rd, id, 16) != 0 || rd_str8(&rd, &origin) != 0 ||
		    rd_u8(&rd, &prec) != 0 || rd_u64(&rd, &dtg) != 0 ||
		    rd_u64(&rd, &rec) != 0 || rd_u64(&rd, &rd_at) != 0 ||
		    rd_u8(&rd, &opened) != 0 || rd_str8(&rd, &cls) != 0 ||
		    rd_str8(&rd, &cap) != 0 || rd_str16(&rd, &subj) != 0) {
			free(origin); free(cls); free(cap); free(subj);
			r = cli_fail(EX_FAIL, "malformed answer from kodend");
			goto out;
		}
		tg_id_hex(hex, id);
		hex[16] = '\0';	/* the time and 16 random bits */
		tg_format_dtg(d, dtg);
		if (opened)
			printf("%-16s %-10s %-14s %-12s %-4s %s%s%s / %s\n", hex,
			    tg_prec_name(prec), d, origin, rd_at ? "" : "new",
			    cls, cap[0] ? " " : "", cap, subj);
		else
			printf("%-16s %-10s %-14s %-12s %-4s (restricted: named "
			    "persons only; open with koden read ID -i KEY)\n",
			    hex, tg_prec_name(prec), d, origin,
			    rd_at ? "" : "new");
		free(origin); free(cls); free(cap); free(subj);
	}
	if (k == 0)
		printf("(empty)\n");
	if (more)
		printf("(the %u most urgent and recent are shown; older ones "
		    "are still here: koden -d NODEDIR read ID)\n", k);
	r = EX_OK;
out:
	buf_free(&resp);
	return r;
}

static const char read_usage[] =
    "usage: koden -d NODEDIR read ID [-i KEYFILE] [--passphrase-file F] [-o OUT]\n"
    "\n"
    "Opens a telegram received here, verifies both signatures and prints\n"
    "it; marks it read and sends a signed read receipt to its origin.  A\n"
    "NODIS telegram opens only with the key of a named person (-i).\n";

int
cmd_read(int argc, char **argv)
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
	buf_init_secret(&txt, 4u << 20);
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
	if ((r = need_dir("read")) != EX_OK)
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
	if ((r = call(API_READ, req.p, req.len, &resp)) != EX_OK)
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

		if (rd_bytes32(&rd, &p, &len, 4u << 20) != 0 ||
		    rd_copy(&rd, d.sign, 32) != 0 || rd_copy(&rd, d.enc, 32) != 0 ||
		    rd_copy(&rd, o.sign, 32) != 0 || rd_copy(&rd, o.enc, 32) != 0 ||
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
		uint8_t id[16];

		if (rd_copy(&rd, id, 16) != 0) {
			r = cli_fail(EX_FAIL, "malformed answer from kodend");
			goto done;
		}
		if (idfile == NULL) {
			r = cli_fail(EX_NOTRCPT, "this telegram is for named "
			    "persons only: give your key with -i KEYFILE");
			goto done;
		}
		tg_id_hex(object, id);
		if ((r = cli_load_identity(&me, idfile, pass_file)) != EX_OK)
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
			if ((r = cli_audit(me->name, "read", object, "ok", out ?
			    "restricted; to file" : "restricted; to screen")) !=
			    EX_OK)
				goto done;
		}
		if (r != 0 ||
		    (r = cli_write_output(out, txt.p, txt.len, 0600)) != EX_OK) {
			r = r < 0 ? cli_fail(EX_FAIL, "cannot render") : r;
			goto done;
		}
		req.len = 0;
		if (buf_put(&req, id, 16) != 0 ||
		    (r = call(API_MARK_READ, req.p, req.len, &txt)) != EX_OK)
			goto done;
		pubkey_encode(pk, &d);
		cli_warn("signatures verified; drafted by %s, key %s",
		    t->drafter, pk);
		r = EX_OK;
	}
done:
	/* every failed attempt too (a wrong key, a refused NODIS open) */
	if (!audited && r != EX_OK && r != EX_USAGE && cli_nodedir != NULL &&
	    optind < argc)
		(void)cli_audit(me != NULL ? me->name : NULL, "read", object[0] ?
		    object : argv[optind], cli_outcome(r), "attempt");
	tg_free(t);
	free(h);
	identity_free(me);
	buf_free(&req);
	buf_free(&resp);
	buf_free(&txt);
	return r;
}

int
cmd_alerts(int argc, char **argv)
{
	struct buf req, resp;
	struct rd rd;
	uint64_t after = 0;
	uint16_t k;
	int r;

	if ((r = need_dir("alerts")) != EX_OK)
		return r;
	if (argc == 3 && strcmp(argv[1], "--since") == 0)
		after = strtoull(argv[2], NULL, 10);
	else if (argc != 1) {
		fputs("usage: koden -d NODEDIR alerts [--since N]\n\nLists the "
		    "alerts this node raised (gaps, replays, reordering,\nforgeries, "
		    "refused connections...), oldest first, numbered.\n", stderr);
		return EX_USAGE;
	}
	buf_init(&req, 16);
	buf_init(&resp, API_MSG_MAX);
	if (buf_put_u64(&req, after) != 0 ||
	    (r = call(API_ALERTS, req.p, req.len, &resp)) != EX_OK ||
	    (r = cli_audit(NULL, "list", "alerts", "ok", NULL)) != EX_OK)
		goto out;
	rd_init(&rd, resp.p, resp.len);
	if (rd_u16(&rd, &k) != 0) {
		r = cli_fail(EX_FAIL, "malformed answer from kodend");
		goto out;
	}
	for (uint16_t i = 0; i < k; i++) {
		uint64_t num, tm;
		char *kind = NULL, *origin = NULL, *detail = NULL, when[32];
		time_t tt;
		struct tm g;

		if (rd_u64(&rd, &num) != 0 || rd_u64(&rd, &tm) != 0 ||
		    rd_str8(&rd, &kind) != 0 || rd_str8(&rd, &origin) != 0 ||
		    rd_str16(&rd, &detail) != 0) {
			free(kind); free(origin); free(detail);
			r = cli_fail(EX_FAIL, "malformed answer from kodend");
			goto out;
		}
		tt = (time_t)tm;
		gmtime_r(&tt, &g);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &g);
		printf("%-5llu %s %-12s %-12s %s\n", (unsigned long long)num,
		    when, kind, origin[0] ? origin : "-", detail);
		free(kind); free(origin); free(detail);
	}
	r = EX_OK;
out:
	buf_free(&req);
	buf_free(&resp);
	return r;
}

int
cmd_node(int argc, char **argv)
{
	struct buf resp;
	int r;

	(void)argv;
	if ((r = need_dir("node")) != EX_OK)
		return r;
	if (argc != 1) {
		fputs("usage: koden -d NODEDIR node\n", stderr);
		return EX_USAGE;
	}
	buf_init(&resp, 1u << 20);
	if ((r = call(API_STATUS_NODE, NULL, 0, &resp)) == EX_OK)
		fwrite(resp.p, 1, resp.len, stdout);
	buf_free(&resp);
	return r;
}
