/*
 * koden network init and join: a new node directory, HQ's or a post's
 * (docs/operations.md).  init makes HQ's node key, directory key, store and
 * first roster; join makes a post's node key and configuration from HQ's
 * one-time enrolment token, and kodend enrols with it on its first
 * connection.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli_int.h"
#include "node/admin.h"
#include "node/config.h"
#include "node/token.h"
#include "store/store.h"
#include "telegram/tg.h"

/* The most read from --token-file or stdin: the token, blanks around it. */
#define TOKEN_INPUT_MAX 4096

static int
make_dir(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return cli_fail(EX_FAIL, "%s: %s", dir, strerror(errno));
	if (chmod(dir, 0700) != 0)
		return cli_fail(EX_FAIL, "%s: %s", dir, strerror(errno));
	return EX_OK;
}

static int
new_key(struct identity **out, const char *dir, const char *file,
    const char *name)
{
	char path[PATH_MAX];
	struct kerr e = { "" };
	int r;

	if (node_path(path, sizeof(path), dir, file) != 0)
		return cli_fail(EX_USAGE, "%s: path too long", dir);
	if ((r = identity_generate(out, name)) != 0)
		return cli_fail(EX_FAIL, "cannot generate a key: %s",
		    kerr_str(r));
	if ((r = keyfile_write(path, *out, NULL, 0, &e)) != 0)
		return cli_fail(EX_FAIL, "%s", kerr_msg(&e, r));
	return EX_OK;
}

int
cmd_network_init(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = ctx->nodedir, *name = NULL, *listen_addr = NULL;
	struct identity *nk = NULL, *dk = NULL;
	struct store *st = NULL;
	struct store_member m;
	struct config cfg;
	struct kerr e = { "" };
	char host[CONFIG_HOST_MAX], port[CONFIG_PORT_MAX], path[PATH_MAX],
	    pk[PUBKEY_STR_MAX];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:n:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'l': listen_addr = optarg; break;
		case 'h': return CLI_HELP;
		default: return CLI_USAGE;
		}
	}
	if (dir == NULL || name == NULL || listen_addr == NULL ||
	    optind != argc)
		return CLI_USAGE;
	if (tg_check_post(name, &e) != 0)
		return cli_fail(EX_USAGE, "--name: %s", e.msg);
	if (config_split_addr(listen_addr, host, port) != 0)
		return cli_fail(EX_USAGE, "--listen must be HOST:PORT");
	if (node_path(path, sizeof(path), dir, CONFIG_FILE) != 0)
		return cli_fail(EX_USAGE, "%s: path too long", dir);
	if (access(path, F_OK) == 0)
		return cli_fail(EX_FAIL, "%s already holds a node: refusing to "
		    "overwrite it", dir);
	if ((r = make_dir(dir)) != EX_OK ||
	    (r = new_key(&nk, dir, NODE_KEY_FILE, name)) != EX_OK ||
	    (r = new_key(&dk, dir, NODE_DIRKEY_FILE, "directory")) != EX_OK)
		goto out;
	config_defaults(&cfg);
	cfg.role = ROLE_HQ;
	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
	snprintf(cfg.listen, sizeof(cfg.listen), "%s", listen_addr);
	if ((r = config_save(&cfg, dir, &e)) != 0) {
		r = cli_fail(EX_FAIL, "%s", e.msg);
		goto out;
	}
	{
		char db[PATH_MAX];

		if (node_path(db, sizeof(db), dir, NODE_DB_FILE) != 0 ||
		    store_open(&st, db, &e) != 0) {
			r = cli_fail(EX_FAIL, "%s", e.msg);
			goto out;
		}
	}
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.kind = STORE_HQ;
	memcpy(m.sign_pk, nk->pub.sign, KEY_SIGN_PK);
	memcpy(m.enc_pk, nk->pub.enc, KEY_ENC_PK);
	m.added = (uint64_t)time(NULL);
	if (admin_member_add(st, dk, &m, (uint64_t)time(NULL), &e) != 0) {
		r = cli_fail(EX_FAIL, "%s", e.msg);
		goto out;
	}
	pubkey_encode(pk, &nk->pub);
	printf("HQ %s created in %s\n", name, dir);
	printf("node key       %s\n", pk);
	printf("listens on     %s\n", listen_addr);
	printf("next: kodend -d %s, then koden -d %s network add-post NAME\n",
	    dir, dir);
	r = EX_OK;
out:
	if (st != NULL)
		store_close(st);
	identity_free(nk);
	identity_free(dk);
	return r;
}

int
cmd_network_join(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "token-file", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = ctx->nodedir, *tfile = NULL;
	struct identity *nk = NULL;
	struct join_token tok;
	struct config cfg;
	struct store *st = NULL;
	struct kerr e = { "" };
	struct buf b;
	char path[PATH_MAX], pk[PUBKEY_STR_MAX];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 't': tfile = optarg; break;
		case 'h': return CLI_HELP;
		default: return CLI_USAGE;
		}
	}
	if (dir == NULL || optind != argc)
		return CLI_USAGE;
	buf_init_secret(&b, TOKEN_INPUT_MAX);
	if ((r = cli_read_input(&b, tfile, "token")) != EX_OK)
		goto out;
	if ((r = buf_put_u8(&b, 0)) != 0) {
		r = cli_fail(EX_INPUT, "token too long");
		goto out;
	}
	b.p[strcspn((char *)b.p, "\r\n")] = '\0';
	if ((r = token_decode(&tok, (char *)b.p, &e)) != 0) {
		r = cli_fail(EX_INPUT, "%s", kerr_msg(&e, r));
		goto out;
	}
	if (node_path(path, sizeof(path), dir, CONFIG_FILE) != 0) {
		r = cli_fail(EX_USAGE, "%s: path too long", dir);
		goto out;
	}
	if (access(path, F_OK) == 0) {
		r = cli_fail(EX_FAIL, "%s already holds a node: refusing to "
		    "overwrite it", dir);
		goto out;
	}
	if ((r = make_dir(dir)) != EX_OK ||
	    (r = new_key(&nk, dir, NODE_KEY_FILE, tok.post)) != EX_OK)
		goto out;
	config_defaults(&cfg);
	cfg.role = ROLE_POST;
	snprintf(cfg.name, sizeof(cfg.name), "%s", tok.post);
	snprintf(cfg.hq, sizeof(cfg.hq), "%s", tok.hq_addr);
	cfg.hq_pk = tok.hq_pk;
	memcpy(cfg.dir_pk, tok.dir_pk, KEY_SIGN_PK);
	cfg.enrolled = 0;
	sodium_bin2base64(cfg.join_secret, sizeof(cfg.join_secret), tok.secret,
	    sizeof(tok.secret), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((r = config_save(&cfg, dir, &e)) != 0) {
		r = cli_fail(EX_FAIL, "%s", e.msg);
		goto out;
	}
	if (node_path(path, sizeof(path), dir, NODE_DB_FILE) != 0 ||
	    store_open(&st, path, &e) != 0) {
		r = cli_fail(EX_FAIL, "%s", e.msg);
		goto out;
	}
	pubkey_encode(pk, &nk->pub);
	printf("post %s created in %s\n", tok.post, dir);
	printf("node key       %s\n", pk);
	printf("HQ             %s\n", tok.hq_addr);
	printf("next: kodend -d %s (it enrols with HQ on its first connection)\n",
	    dir);
	r = EX_OK;
out:
	sodium_memzero(&tok, sizeof(tok));
	sodium_memzero(&cfg, sizeof(cfg));
	buf_free(&b);
	identity_free(nk);
	if (st != NULL)
		store_close(st);
	return r;
}
