/*
 * HQ's directory from the command line: add-post (a one-time enrolment
 * token), add-person, revoke, and list (the roster any node holds).  The
 * changes are node-side admin functions (node/admin.h), one transaction
 * each; HQ's store is written directly (SQLite allows it while kodend runs)
 * and a running kodend is then asked to reload and push the new roster.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli_int.h"
#include "node/admin.h"
#include "node/api.h"
#include "node/config.h"
#include "node/directory.h"
#include "node/token.h"
#include "store/store.h"
#include "telegram/tg.h"

static int
open_store(struct store **st, const char *dir)
{
	char path[PATH_MAX];
	struct kerr e = { "" };

	if (node_path(path, sizeof(path), dir, NODE_DB_FILE) != 0)
		return cli_fail(EX_USAGE, "%s: path too long", dir);
	if (access(path, F_OK) != 0)
		return cli_fail(EX_USAGE, "%s is not a node directory (no %s)",
		    dir, NODE_DB_FILE);
	if (store_open(st, path, &e) != 0)
		return cli_fail(EX_FAIL, "%s", e.msg);
	return EX_OK;
}

/* Tell a running kodend to reload the roster; fine if none runs. */
static void
kick(const char *dir)
{
	struct kerr e = { "" };
	struct buf resp;
	int fd = api_connect(dir, &e);

	if (fd < 0) {
		cli_warn("kodend is not running on %s: the change takes effect "
		    "when it starts", dir);
		return;
	}
	buf_init(&resp, 1024);
	if (api_call(fd, API_RELOAD, NULL, 0, &resp, &e) != 0)
		cli_warn("kodend did not reload: %s", e.msg);
	buf_free(&resp);
	close(fd);
}

static int
load_dirkey(const struct cli_ctx *ctx, struct identity **out, const char *dir)
{
	char path[PATH_MAX];

	if (node_path(path, sizeof(path), dir, NODE_DIRKEY_FILE) != 0)
		return cli_fail(EX_USAGE, "%s: path too long", dir);
	if (access(path, F_OK) != 0)
		return cli_fail(EX_USAGE, "%s is not HQ's node directory (no %s)",
		    dir, NODE_DIRKEY_FILE);
	return cli_load_identity(ctx, out, path, NULL);
}

int
cmd_network_add_post(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "ttl", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = ctx->nodedir, *addr = NULL;
	struct identity *nk = NULL, *dk = NULL;
	struct store *st = NULL;
	struct store_member m;
	struct join_token tok;
	struct config cfg;
	struct kerr e = { "" };
	char path[PATH_MAX], host[CONFIG_HOST_MAX], port[CONFIG_PORT_MAX],
	    *s = NULL;
	uint8_t hash[32];	/* token_hash */
	long ttl_days = 7;
	int c, r, found = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "a:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': addr = optarg; break;
		case 't':
			ttl_days = strtol(optarg, NULL, 10);
			if (ttl_days < 1 || ttl_days > 90)
				return cli_fail(EX_USAGE, "--ttl: 1 to 90 days");
			break;
		case 'h': return CLI_HELP;
		default: return CLI_USAGE;
		}
	}
	if (dir == NULL || optind != argc - 1)
		return CLI_USAGE;
	memset(&tok, 0, sizeof(tok));
	if (tg_check_post(argv[optind], &e) != 0)
		return cli_fail(EX_USAGE, "%s", e.msg);
	if (config_load(&cfg, dir, &e) != 0)
		return cli_fail(EX_USAGE, "%s", e.msg);
	if (cfg.role != ROLE_HQ)
		return cli_fail(EX_USAGE, "%s is not HQ", dir);
	if (addr == NULL)
		addr = cfg.listen;
	if (config_split_addr(addr, host, port) != 0)
		return cli_fail(EX_USAGE, "--address must be HOST:PORT");
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
		return cli_fail(EX_USAGE, "HQ listens on %s: give the address "
		    "posts should dial with --address HOST:PORT", addr);
	if ((r = open_store(&st, dir)) != EX_OK)
		return r;
	if ((r = load_dirkey(ctx, &dk, dir)) != EX_OK)
		goto out;
	if (node_path(path, sizeof(path), dir, NODE_KEY_FILE) != 0 ||
	    (r = cli_load_identity(ctx, &nk, path, NULL)) != EX_OK)
		goto out;
	if (store_member_get(st, argv[optind], &m, &found, &e) != 0 || found) {
		r = cli_fail(EX_FAIL, found ? "%s is already in the roster" :
		    "%s", found ? argv[optind] : e.msg);
		goto out;
	}
	snprintf(tok.post, sizeof(tok.post), "%s", argv[optind]);
	snprintf(tok.hq_addr, sizeof(tok.hq_addr), "%s", addr);
	tok.hq_pk = nk->pub;
	memcpy(tok.dir_pk, dk->pub.sign, KEY_SIGN_PK);
	randombytes_buf(tok.secret, sizeof(tok.secret));
	token_hash(hash, tok.secret);
	if (store_enrol_add(st, tok.post, hash,
	    (uint64_t)time(NULL) + (uint64_t)ttl_days * 86400, &e) != 0) {
		r = cli_fail(EX_FAIL, "%s", e.msg);
		goto out;
	}
	if (token_encode(&s, &tok) != 0) {
		r = cli_fail(EX_FAIL, "cannot encode the token");
		goto out;
	}
	puts(s);
	cli_warn("one-time enrolment token for %s, valid %ld days: carry it "
	    "to the post out of band, then run there: koden network join -d "
	    "POSTDIR < token", tok.post, ttl_days);
	r = EX_OK;
out:
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
	sodium_memzero(&tok, sizeof(tok));
	identity_free(nk);
	identity_free(dk);
	store_close(st);
	return r;
}

int
cmd_network_add_person(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "post", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = ctx->nodedir, *post = NULL, *key = NULL;
	struct identity *dk = NULL;
	struct store *st = NULL;
	struct store_member m, pm;
	struct pubkey pk;
	struct kerr e = { "" };
	int c, r, found = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': post = optarg; break;
		case 'k': key = optarg; break;
		case 'h': return CLI_HELP;
		default: return CLI_USAGE;
		}
	}
	if (dir == NULL || post == NULL || key == NULL || optind != argc - 1)
		return CLI_USAGE;
	if (tg_check_person(argv[optind], &e) != 0)
		return cli_fail(EX_USAGE, "%s", e.msg);
	if (pubkey_decode(&pk, key, &e) != 0)
		return cli_fail(EX_INPUT, "--key: %s", e.msg);
	if ((r = open_store(&st, dir)) != EX_OK)
		return r;
	if ((r = load_dirkey(ctx, &dk, dir)) != EX_OK)
		goto out;
	if (store_member_get(st, post, &pm, &found, &e) != 0 || !found ||
	    pm.kind == STORE_PERSON) {
		r = cli_fail(EX_USAGE, "--post %s: no such post in the roster",
		    post);
		goto out;
	}
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", argv[optind]);
	m.kind = STORE_PERSON;
	snprintf(m.post, sizeof(m.post), "%s", post);
	memcpy(m.sign_pk, pk.sign, KEY_SIGN_PK);
	memcpy(m.enc_pk, pk.enc, KEY_ENC_PK);
	m.added = (uint64_t)time(NULL);
	if ((r = admin_member_add(st, dk, &m, (uint64_t)time(NULL), &e)) != 0) {
		r = cli_fail(EX_FAIL, "%s", r == KERR_EXISTS ?
		    "that name is already in the roster" : e.msg);
		goto out;
	}
	printf("%s (%s) added to the roster\n", m.name, post);
	kick(dir);
	r = EX_OK;
out:
	identity_free(dk);
	store_close(st);
	return r;
}

int
cmd_network_revoke(const struct cli_ctx *ctx, int argc, char **argv)
{
	const char *dir = ctx->nodedir;
	struct identity *dk = NULL;
	struct store *st = NULL;
	struct kerr e = { "" };
	int r, found = 0;

	if (cli_is_help(argc, argv))
		return CLI_HELP;
	if (dir == NULL || argc != 2)
		return CLI_USAGE;
	if ((r = open_store(&st, dir)) != EX_OK)
		return r;
	if ((r = load_dirkey(ctx, &dk, dir)) != EX_OK)
		goto out;
	if (admin_member_revoke(st, dk, argv[1], (uint64_t)time(NULL), &found,
	    &e) != 0 || !found) {
		r = cli_fail(found ? EX_FAIL : EX_USAGE, "%s", found ? e.msg :
		    "no such name in the roster");
		goto out;
	}
	printf("%s revoked\n", argv[1]);
	kick(dir);
	r = EX_OK;
out:
	identity_free(dk);
	store_close(st);
	return r;
}

int
cmd_network_list(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const kinds[] = {
		[0] = "?", [ROSTER_HQ] = "hq", [ROSTER_POST] = "post",
		[ROSTER_PERSON] = "person",
	};
	const char *dir = ctx->nodedir;
	struct store *st = NULL;
	struct roster ro;
	struct config cfg;
	struct identity *dk = NULL;
	struct kerr e = { "" };
	uint8_t dpk[KEY_SIGN_PK];
	int r, found = 0;

	if (cli_is_help(argc, argv))
		return CLI_HELP;
	if (dir == NULL || argc != 1)
		return CLI_USAGE;
	if (config_load(&cfg, dir, &e) != 0)
		return cli_fail(EX_USAGE, "%s", e.msg);
	if (cfg.role == ROLE_HQ) {
		if ((r = load_dirkey(ctx, &dk, dir)) != EX_OK)
			return r;
		memcpy(dpk, dk->pub.sign, KEY_SIGN_PK);
		identity_free(dk);
	} else
		memcpy(dpk, cfg.dir_pk, KEY_SIGN_PK);
	if ((r = open_store(&st, dir)) != EX_OK)
		return r;
	if (admin_roster_load(st, dpk, &ro, NULL, &found, &e) != 0 || !found) {
		r = cli_fail(EX_FAIL, "%s", found ? e.msg : "no roster yet");
		goto out;
	}
	printf("roster version %llu, %zu entries\n",
	    (unsigned long long)ro.version, ro.n);
	for (size_t i = 0; i < ro.n; i++) {
		char pk[PUBKEY_STR_MAX];

		pubkey_encode(pk, &ro.v[i].pk);
		printf("%-7s %-24s %-12s %s%s\n", kinds[ro.v[i].kind],
		    ro.v[i].name, ro.v[i].post[0] ? ro.v[i].post : "-", pk,
		    ro.v[i].revoked ? "  REVOKED" : "");
	}
	roster_free(&ro);
	r = EX_OK;
out:
	store_close(st);
	return r;
}
