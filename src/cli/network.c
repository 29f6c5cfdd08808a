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
 * HQ's administrative commands write HQ's store directly (SQLite allows it
 * while kodend runs) and then ask kodend to reload and push the new roster.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "node/admin.h"
#include "node/api.h"
#include "node/config.h"
#include "node/directory.h"
#include "node/token.h"
#include "store/store.h"
#include "telegram/tg.h"

extern const char *cli_nodedir;

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
	char path[4096];
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

static int
open_store(struct store **st, const char *dir)
{
	char path[4096];
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
load_dirkey(struct identity **out, const char *dir)
{
	char path[4096];

	if (node_path(path, sizeof(path), dir, NODE_DIRKEY_FILE) != 0)
		return cli_fail(EX_USAGE, "%s: path too long", dir);
	if (access(path, F_OK) != 0)
		return cli_fail(EX_USAGE, "%s is not HQ's node directory (no %s)",
		    dir, NODE_DIRKEY_FILE);
	return cli_load_identity(out, path, NULL);
}

static int
net_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_nodedir, *name = NULL, *listen_addr = NULL;
	struct identity *nk = NULL, *dk = NULL;
	struct store *st = NULL;
	struct store_member m;
	struct config cfg;
	struct kerr e = { "" };
	char host[64], port[8], path[4096], pk[PUBKEY_STR_MAX];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:n:l:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'l': listen_addr = optarg; break;
		default: fputs(network_usage, stderr); return EX_USAGE;
		}
	}
	if (dir == NULL || name == NULL || listen_addr == NULL ||
	    optind != argc) {
		fputs(network_usage, stderr);
		return EX_USAGE;
	}
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
		char db[4096];

		if (node_path(db, sizeof(db), dir, NODE_DB_FILE) != 0 ||
		    store_open(&st, db, &e) != 0) {
			r = cli_fail(EX_FAIL, "%s", e.msg);
			goto out;
		}
	}
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.kind = STORE_HQ;
	memcpy(m.sign_pk, nk->pub.sign, 32);
	memcpy(m.enc_pk, nk->pub.enc, 32);
	m.added = (uint64_t)time(NULL);
	if (store_begin(st, &e) != 0 || store_member_add(st, &m, &e) != 0 ||
	    admin_roster_rebuild(st, dk, (uint64_t)time(NULL), &e) != 0 ||
	    store_commit(st, &e) != 0) {
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

static int
net_add_post(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "ttl", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_nodedir, *addr = NULL;
	struct identity *nk = NULL, *dk = NULL;
	struct store *st = NULL;
	struct store_member m;
	struct join_token tok;
	struct config cfg;
	struct kerr e = { "" };
	char path[4096], host[64], port[8], *s = NULL;
	uint8_t hash[32];
	long ttl_days = 7;
	int c, r, found = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "a:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'a': addr = optarg; break;
		case 't':
			ttl_days = strtol(optarg, NULL, 10);
			if (ttl_days < 1 || ttl_days > 90)
				return cli_fail(EX_USAGE, "--ttl: 1 to 90 days");
			break;
		default: fputs(network_usage, stderr); return EX_USAGE;
		}
	}
	if (dir == NULL || optind != argc - 1) {
		fputs(network_usage, stderr);
		return EX_USAGE;
	}
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
	if ((r = load_dirkey(&dk, dir)) != EX_OK)
		goto out;
	if (node_path(path, sizeof(path), dir, NODE_KEY_FILE) != 0 ||
	    (r = cli_load_identity(&nk, path, NULL)) != EX_OK)
		goto out;
	if (store_member_get(st, argv[optind], &m, &found, &e) != 0 || found) {
		r = cli_fail(EX_FAIL, found ? "%s is already in the roster" :
		    "%s", found ? argv[optind] : e.msg);
		goto out;
	}
	snprintf(tok.post, sizeof(tok.post), "%s", argv[optind]);
	snprintf(tok.hq_addr, sizeof(tok.hq_addr), "%s", addr);
	tok.hq_pk = nk->pub;
	memcpy(tok.dir_pk, dk->pub.sign, 32);
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

static int
net_join(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "token-file", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_nodedir, *tfile = NULL;
	struct identity *nk = NULL;
	struct join_token tok;
	struct config cfg;
	struct store *st = NULL;
	struct kerr e = { "" };
	struct buf b;
	char path[4096], pk[PUBKEY_STR_MAX];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 't': tfile = optarg; break;
		default: fputs(network_usage, stderr); return EX_USAGE;
		}
	}
	if (dir == NULL || optind != argc) {
		fputs(network_usage, stderr);
		return EX_USAGE;
	}
	buf_init_secret(&b, 4096);
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
	memcpy(cfg.dir_pk, tok.dir_pk, 32);
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

static int
net_add_person(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "post", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_nodedir, *post = NULL, *key = NULL;
	struct identity *dk = NULL;
	struct store *st = NULL;
	struct store_member m, pm;
	struct pubkey pk;
	struct kerr e = { "" };
	int c, r, found = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:k:", opts, NULL)) != -1) {
		switch (c) {
		case 'p': post = optarg; break;
		case 'k': key = optarg; break;
		default: fputs(network_usage, stderr); return EX_USAGE;
		}
	}
	if (dir == NULL || post == NULL || key == NULL || optind != argc - 1) {
		fputs(network_usage, stderr);
		return EX_USAGE;
	}
	if (tg_check_person(argv[optind], &e) != 0)
		return cli_fail(EX_USAGE, "%s", e.msg);
	if (pubkey_decode(&pk, key, &e) != 0)
		return cli_fail(EX_INPUT, "--key: %s", e.msg);
	if ((r = open_store(&st, dir)) != EX_OK)
		return r;
	if ((r = load_dirkey(&dk, dir)) != EX_OK)
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
	memcpy(m.sign_pk, pk.sign, 32);
	memcpy(m.enc_pk, pk.enc, 32);
	m.added = (uint64_t)time(NULL);
	if (store_begin(st, &e) != 0 ||
	    (r = store_member_add(st, &m, &e)) != 0 ||
	    admin_roster_rebuild(st, dk, (uint64_t)time(NULL), &e) != 0 ||
	    store_commit(st, &e) != 0) {
		store_rollback(st);
		r = cli_fail(r == KERR_EXISTS ? EX_FAIL : EX_FAIL, "%s",
		    r == KERR_EXISTS ? "that name is already in the roster" :
		    e.msg);
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

static int
net_revoke(int argc, char **argv)
{
	const char *dir = cli_nodedir;
	struct identity *dk = NULL;
	struct store *st = NULL;
	struct kerr e = { "" };
	int r, found = 0;

	if (dir == NULL || argc != 2) {
		fputs(network_usage, stderr);
		return EX_USAGE;
	}
	if ((r = open_store(&st, dir)) != EX_OK)
		return r;
	if ((r = load_dirkey(&dk, dir)) != EX_OK)
		goto out;
	if (store_begin(st, &e) != 0 ||
	    store_member_revoke(st, argv[1], (uint64_t)time(NULL), &found,
	    &e) != 0 || !found ||
	    admin_roster_rebuild(st, dk, (uint64_t)time(NULL), &e) != 0 ||
	    store_commit(st, &e) != 0) {
		store_rollback(st);
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

static int
net_list(int argc, char **argv)
{
	static const char *const kinds[] = { "?", "hq", "post", "person" };
	const char *dir = cli_nodedir;
	struct store *st = NULL;
	struct roster ro;
	struct config cfg;
	struct identity *dk = NULL;
	struct kerr e = { "" };
	uint8_t dpk[32];
	int r, found = 0;

	(void)argv;
	if (dir == NULL || argc != 1) {
		fputs(network_usage, stderr);
		return EX_USAGE;
	}
	if (config_load(&cfg, dir, &e) != 0)
		return cli_fail(EX_USAGE, "%s", e.msg);
	if (cfg.role == ROLE_HQ) {
		if ((r = load_dirkey(&dk, dir)) != EX_OK)
			return r;
		memcpy(dpk, dk->pub.sign, 32);
		identity_free(dk);
	} else
		memcpy(dpk, cfg.dir_pk, 32);
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

/*
 * Record a network command in the node's audit log (docs/audit.md): the
 * directory changes at HQ (add-post, add-person, revoke), node creation
 * (init, join), roster views.  The node directory is -d before the verb or
 * -d/--dir after it; none yet (a failed init) records nothing.
 */
static void
audit_network(int argc, char **argv, int r)
{
	const char *dir = cli_nodedir, *obj = NULL, *sub = argv[1], *action;
	char path[4096], detail[256];

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
	(void)cli_audit_dir(dir, NULL, action, obj != NULL ? obj : sub,
	    cli_outcome(r), detail);
}

int
cmd_network(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {
		{ "init", net_init }, { "add-post", net_add_post },
		{ "join", net_join }, { "add-person", net_add_person },
		{ "revoke", net_revoke }, { "list", net_list },
	};

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(network_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0) {
			int r = subs[i].fn(argc - 1, argv + 1);

			if (r != EX_USAGE)
				audit_network(argc, argv, r);
			return r;
		}
	cli_warn("unknown network command '%s'", argv[1]);
	fputs(network_usage, stderr);
	return EX_USAGE;
}
