/*
 * koden audit: check and query the tamper-evident audit log (docs/audit.md),
 * and cli_audit(), with which the other verbs record what they do.
 *
 *   koden -d NODEDIR audit verify            recompute the log, check heads
 *   koden -d NODEDIR audit log [filters]     entries (local and HQ's copies)
 *   koden -d HQDIR audit who-read ID         every read of a telegram
 *   koden -d HQDIR audit reads [filters]     reads by node, person, time
 *   koden -d HQDIR audit prove [NODE:]SEQ    an inclusion proof file
 *   koden audit check-proof -k HQKEY FILE    check one offline
 *   koden -d NODEDIR audit head              sign and print the tree head
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/auditlog.h"
#include "audit/journal.h"
#include "cli/cli.h"
#include "node/admin.h"
#include "node/config.h"

extern const char *cli_nodedir;

/* ---- recording -------------------------------------------------------------- */

/* The node key if this user can read it unencrypted, else NULL. */
static struct identity *
node_key(const char *nodedir)
{
	struct identity *id = NULL;
	char path[4096];
	uint8_t *txt = NULL;
	size_t len = 0;

	if (node_path(path, sizeof(path), nodedir, NODE_KEY_FILE) != 0 ||
	    keyfile_read(path, &txt, &len, NULL) != 0)
		return NULL;
	if (keyfile_encrypted(txt, len, NULL) != 0 ||
	    keyfile_decode(&id, txt, len, NULL, 0, NULL) != 0)
		id = NULL;
	sodium_memzero(txt, len);
	free(txt);
	return id;
}

/*
 * The unix account, by uid: the identity the kernel vouches for.  Its name
 * is not looked up (getpwuid costs 0.1-0.4 ms through NSS, on every
 * recorded command, before anything is shown); uids name accounts on a
 * post's machine as well as names do.
 */
static void
who_am_i(char *out, size_t n)
{
	snprintf(out, n, "uid:%lu", (unsigned long)getuid());
}

/*
 * Does a kodend run on nodedir?  From its pid file, without waking it: a
 * wrong guess only changes who moves the journal into the log, never
 * whether the event is recorded.
 */
static int
kodend_runs(const char *nodedir)
{
	char path[4096], pid[32];
	ssize_t n;
	long v;
	int fd;

	if (node_path(path, sizeof(path), nodedir, NODE_PID_FILE) != 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, pid, sizeof(pid) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	pid[n] = '\0';
	v = strtol(pid, NULL, 10);
	return v > 0 && (kill((pid_t)v, 0) == 0 || errno == EPERM);
}

int
cli_audit_dir(const char *nodedir, const char *actor, const char *action,
    const char *object, const char *outcome, const char *detail)
{
	struct auditlog *l = NULL;
	struct identity *key;
	struct audit_event ev;
	struct config cfg;
	struct kerr e = { "" };
	char me[128], src[128], who[AUDIT_ACTOR_MAX + 160];
	int r;

#ifdef KODEN_AUDIT_BENCH_OFF
	/* bench/audit.sh's koden-noaudit only: the read path without the
	 * record, to measure what recording costs.  Never in build/koden. */
	(void)l; (void)key; (void)e; (void)r; (void)actor; (void)action;
	(void)object; (void)outcome; (void)detail; (void)me; (void)src;
	(void)who; (void)ev;
	return EX_OK;
#endif
	if (nodedir == NULL)
		return EX_OK;	/* no node: outside the audit scope */
	who_am_i(me, sizeof(me));
	if (actor != NULL && actor[0] != '\0')
		snprintf(who, sizeof(who), "%s [%s]", actor, me);
	else
		snprintf(who, sizeof(who), "%s", me);
	snprintf(src, sizeof(src), "cli pid=%ld uid=%lu", (long)getpid(),
	    (unsigned long)getuid());
	memset(&ev, 0, sizeof(ev));
	audit_event_set(&ev, who, src, action, object, outcome, detail);
	/*
	 * Into the journal (one write, which survives any crash of koden
	 * or kodend) before anything is shown.  A running kodend moves it into
	 * the log within NAUDIT_JOURNAL_MS and signs the heads; otherwise
	 * koden does so itself now.
	 */
	ev.time_ns = audit_now_ns();
	if ((r = audit_journal_append_dir(nodedir, &ev, &e)) != 0)
		return cli_fail(EX_FAIL, "cannot write the audit log: %s",
		    kerr_msg(&e, r));
	if (kodend_runs(nodedir))
		return EX_OK;
	if ((r = config_load(&cfg, nodedir, &e)) != 0 ||
	    (r = auditlog_open_dir(&l, nodedir, cfg.name, &e)) != 0)
		return cli_fail(EX_FAIL, "audit log: %s", kerr_msg(&e, r));
	key = node_key(nodedir);
	r = audit_journal_apply(l, nodedir, key, NULL, &e);
	identity_free(key);
	auditlog_close(l);
	if (r != 0)
		return cli_fail(EX_FAIL, "cannot write the audit log: %s",
		    kerr_msg(&e, r));
	return EX_OK;
}

const char *
cli_outcome(int ex)
{
	static char o[AUDIT_OUTCOME_MAX + 1];

	if (ex == EX_OK)
		return "ok";
	snprintf(o, sizeof(o), "fail: %.*s", AUDIT_OUTCOME_MAX - 6,
	    cli_last_error[0] ? cli_last_error : "exit code");
	return o;
}

int
cli_audit(const char *actor, const char *action, const char *object,
    const char *outcome, const char *detail)
{
	return cli_audit_dir(cli_nodedir, actor, action, object, outcome,
	    detail);
}

/* ---- output ------------------------------------------------------------------- */

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void
fmt_time(char *out, size_t n, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm g;
	char d[32];

	gmtime_r(&t, &g);
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &g);
	snprintf(out, n, "%s.%03uZ", d, (unsigned)(ns / 1000000u % 1000));
}

struct out {
	int json;
	uint64_t n;
};

static int
print_event(void *ctx, const struct audit_event *ev)
{
	struct out *o = ctx;
	char t[40];

	fmt_time(t, sizeof(t), ev->time_ns);
	if (o->json) {
		printf("{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"time_ns\":%" PRIu64
		    ",\"node\":", ev->seq, t, ev->time_ns);
		json_str(stdout, ev->node);
		fputs(",\"actor\":", stdout);
		json_str(stdout, ev->actor);
		fputs(",\"source\":", stdout);
		json_str(stdout, ev->source);
		fputs(",\"action\":", stdout);
		json_str(stdout, ev->action);
		fputs(",\"object\":", stdout);
		json_str(stdout, ev->object);
		fputs(",\"outcome\":", stdout);
		json_str(stdout, ev->outcome);
		fputs(",\"detail\":", stdout);
		json_str(stdout, ev->detail);
		fputs("}\n", stdout);
	} else {
		if (o->n == 0)
			printf("%-24s %-12s %-6s %-28s %-10s %-34s %-8s %s\n",
			    "TIME", "NODE", "SEQ", "ACTOR", "ACTION", "OBJECT",
			    "OUTCOME", "DETAIL");
		/* the detail cut at 60 characters: --json has it whole */
		printf("%-24s %-12s %-6" PRIu64 " %-28s %-10s %-34s %-8s %.60s\n",
		    t, ev->node, ev->seq, ev->actor, ev->action, ev->object,
		    ev->outcome, ev->detail);
	}
	o->n++;
	return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static int
need_dir(const char *verb)
{
	if (cli_nodedir == NULL)
		return cli_fail(EX_USAGE, "audit %s needs the node directory: "
		    "koden -d NODEDIR audit %s ...", verb, verb);
	return EX_OK;
}

static int
open_log(struct auditlog **l)
{
	struct identity *key;
	struct config cfg;
	struct kerr e = { "" };
	int r;

	if ((r = config_load(&cfg, cli_nodedir, &e)) != 0 ||
	    (r = auditlog_open_dir(l, cli_nodedir, cfg.name, &e)) != 0)
		return cli_fail(EX_FAIL, "%s", kerr_msg(&e, r));
	/* what the journal holds goes in first, so every answer has it */
	key = node_key(cli_nodedir);
	if ((r = audit_journal_apply(*l, cli_nodedir, key, NULL, &e)) != 0)
		cli_warn("the audit journal could not be added to the log "
		    "(answering from the log as it is): %s", kerr_msg(&e, r));
	identity_free(key);
	return EX_OK;
}

/* Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[Z] (UTC) -> ns. */
static int
parse_time(const char *s, uint64_t *ns)
{
	struct tm g;
	char *end;
	int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
	unsigned long long v;

	if (s[0] >= '0' && s[0] <= '9' && strchr(s, '-') == NULL) {
		v = strtoull(s, &end, 10);
		if (*end != '\0' || v > 9000000000ull)
			return -1;
		*ns = (uint64_t)v * 1000000000u;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return -1;
	if (s[n] == 'T' || s[n] == ' ') {
		int m = 0;

		if (sscanf(s + n + 1, "%2d:%2d:%2d%n", &h, &mi, &se, &m) != 3)
			return -1;
		n += 1 + m;
		if (s[n] == 'Z')
			n++;
	}
	if (s[n] != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || se > 60)
		return -1;
	memset(&g, 0, sizeof(g));
	g.tm_year = y - 1900;
	g.tm_mon = mo - 1;
	g.tm_mday = d;
	g.tm_hour = h;
	g.tm_min = mi;
	g.tm_sec = se;
	*ns = (uint64_t)timegm(&g) * 1000000000u;
	return 0;
}

/* ---- verbs ------------------------------------------------------------------- */

static int
a_verify(int argc, char **argv)
{
	struct auditlog *l = NULL;
	struct identity *key;
	struct audit_verify v;
	int json = argc == 2 && strcmp(argv[1], "--json") == 0, r;

	if ((r = need_dir("verify")) != EX_OK)
		return r;
	if (argc > 2 || (argc == 2 && !json)) {
		fputs("usage: koden -d NODEDIR audit verify [--json]\n", stderr);
		return EX_USAGE;
	}
	if ((key = node_key(cli_nodedir)) == NULL)
		return cli_fail(EX_KEY, "%s/%s: cannot read the node key (its "
		    "public half checks the heads)", cli_nodedir, NODE_KEY_FILE);
	if ((r = open_log(&l)) != EX_OK) {
		identity_free(key);
		return r;
	}
	r = audit_verify_log(l, key->pub.sign, &v);
	identity_free(key);
	if (json) {
		printf("{\"node\":");
		json_str(stdout, auditlog_node(l));
		printf(",\"ok\":%s,\"entries\":%" PRIu64 ",\"heads\":%" PRIu64,
		    r == 0 ? "true" : "false", v.entries, v.heads);
		if (r == KERR_MISMATCH) {
			if (v.bad != UINT64_MAX)
				printf(",\"bad_entry\":%" PRIu64, v.bad);
			fputs(",\"reason\":", stdout);
			json_str(stdout, v.why);
		}
		fputs("}\n", stdout);
	}
	if (r == 0) {
		if (!json)
			printf("audit log of %s: %" PRIu64 " entries, %" PRIu64
			    " signed heads: verified\n", auditlog_node(l),
			    v.entries, v.heads);
		r = EX_OK;
	} else if (r == KERR_MISMATCH) {
		if (v.bad != UINT64_MAX)
			cli_warn("audit log of %s is NOT intact: first bad entry "
			    "%" PRIu64 ": %s", auditlog_node(l), v.bad, v.why);
		else
			cli_warn("audit log of %s is NOT intact: %s",
			    auditlog_node(l), v.why);
		r = EX_VERIFY;
	} else
		r = cli_fail(EX_FAIL, "cannot check the audit log: %s",
		    kerr_str(r));
	auditlog_close(l);
	return r;
}

static const char query_usage[] =
    "usage: koden -d NODEDIR audit log   [--node N] [--person P] [--object ID]\n"
    "                                    [--since T] [--until T] [--json]\n"
    "       koden -d HQDIR audit reads   [--node N] [--person P] [--since T]\n"
    "                                    [--until T] [--json]\n"
    "       koden -d HQDIR audit who-read ID [--json]\n"
    "\n"
    "T is unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC); --until is\n"
    "exclusive.  --person matches the actor's name as recorded (the key\n"
    "name; the unix user follows in brackets).  At HQ the answers come from\n"
    "HQ's copies of every post's log, whatever happened at the post since.\n";

/* log, reads, who-read */
static int
a_query(int argc, char **argv, int reads, int who)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "person", required_argument, NULL, 'p' },
		{ "object", required_argument, NULL, 'o' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_filter f;
	struct out o = { 0, 0 };
	struct auditlog *l = NULL;
	char *person = NULL;
	int c, r;

	memset(&f, 0, sizeof(f));
	f.reads_only = reads || who;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': f.node = optarg; break;
		case 'p': person = optarg; break;
		case 'o': f.object = optarg; break;
		case 's':
			if (parse_time(optarg, &f.since_ns) != 0)
				return cli_fail(EX_USAGE, "--since: bad time "
				    "'%s'", optarg);
			break;
		case 'u':
			if (parse_time(optarg, &f.until_ns) != 0)
				return cli_fail(EX_USAGE, "--until: bad time "
				    "'%s'", optarg);
			break;
		case 'j': o.json = 1; break;
		case 'h': fputs(query_usage, stdout); return EX_OK;
		default: fputs(query_usage, stderr); return EX_USAGE;
		}
	}
	if (who) {
		if (optind != argc - 1) {
			fputs(query_usage, stderr);
			return EX_USAGE;
		}
		f.object = argv[optind];
		f.object_prefixes = 1;
		if (strlen(f.object) < 4 || strspn(f.object,
		    "0123456789abcdef") != strlen(f.object))
			return cli_fail(EX_USAGE, "telegram id: at least 4 "
			    "lowercase hex digits");
	} else if (optind != argc) {
		fputs(query_usage, stderr);
		return EX_USAGE;
	}
	if ((r = need_dir(who ? "who-read" : reads ? "reads" : "log")) != EX_OK ||
	    (r = open_log(&l)) != EX_OK)
		return r;
	f.actor = person;
	/* the security team's searches are accesses too: recorded first */
	{
		char what[64], flt[AUDIT_DETAIL_MAX + 1];

		snprintf(what, sizeof(what), "audit %s", who ? "who-read" :
		    reads ? "reads" : "log");
		snprintf(flt, sizeof(flt), "node=%s person=%s object=%s "
		    "since=%llu until=%llu", f.node ? f.node : "*",
		    person ? person : "*", f.object ? f.object : "*",
		    (unsigned long long)(f.since_ns / 1000000000u),
		    (unsigned long long)(f.until_ns / 1000000000u));
		if ((r = cli_audit(NULL, "search", what, "ok", flt)) != EX_OK) {
			auditlog_close(l);
			return r;
		}
	}
	r = audit_query(l, &f, print_event, &o);
	auditlog_close(l);
	if (r != 0)
		return cli_fail(EX_FAIL, "audit query failed: %s", kerr_str(r));
	if (!o.json && o.n == 0)
		printf("(no matching entries)\n");
	return EX_OK;
}

static int
a_prove(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *arg, *colon;
	char node[AUDIT_NODE_MAX + 1] = "";
	struct auditlog *l = NULL;
	struct identity *key;
	struct kerr e = { "" };
	struct buf b;
	char *end;
	uint64_t seq;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		default:
			fputs("usage: koden -d HQDIR audit prove [NODE:]SEQ "
			    "[-o FILE]\n", c == 'h' ? stdout : stderr);
			return c == 'h' ? EX_OK : EX_USAGE;
		}
	}
	if (optind != argc - 1)
		return cli_fail(EX_USAGE, "usage: koden -d HQDIR audit prove "
		    "[NODE:]SEQ [-o FILE]");
	if ((r = need_dir("prove")) != EX_OK)
		return r;
	arg = argv[optind];
	if ((colon = strrchr(arg, ':')) != NULL) {
		if ((size_t)(colon - arg) > AUDIT_NODE_MAX || colon == arg)
			return cli_fail(EX_USAGE, "bad node name in '%s'", arg);
		memcpy(node, arg, (size_t)(colon - arg));
		node[colon - arg] = '\0';
		arg = colon + 1;
	}
	if (*arg < '0' || *arg > '9' || (seq = strtoull(arg, &end, 10),
	    *end != '\0'))
		return cli_fail(EX_USAGE, "entry: [NODE:]SEQ, SEQ a number");
	if ((key = node_key(cli_nodedir)) == NULL)
		return cli_fail(EX_KEY, "cannot read %s/%s to sign HQ's head",
		    cli_nodedir, NODE_KEY_FILE);
	if ((r = open_log(&l)) != EX_OK) {
		identity_free(key);
		return r;
	}
	buf_init(&b, 1u << 20);
	r = audit_prove(l, key, node[0] ? node : NULL, seq, &b, &e);
	identity_free(key);
	auditlog_close(l);
	if (r != 0)
		r = cli_fail(EX_INPUT, "%s", kerr_msg(&e, r));
	else if ((r = cli_write_output(out, b.p, b.len, 0644)) == EX_OK)
		cli_warn("inclusion proof of %s%s%" PRIu64 ": %zu bytes",
		    node, node[0] ? ":" : "", seq, b.len);
	buf_free(&b);
	return r;
}

static int
a_check_proof(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hq-key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ks = NULL;
	struct pubkey pk;
	struct audit_event ev;
	struct audit_head h;
	struct kerr e = { "" };
	struct out o = { 0, 0 };
	struct buf b, kb;
	char hq[AUDIT_NODE_MAX + 1], t[40], root[65];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': ks = optarg; break;
		case 'j': o.json = 1; break;
		default:
			fputs("usage: koden audit check-proof -k HQKEY|FILE "
			    "[--json] PROOF\n\nChecks an inclusion proof from "
			    "koden audit prove with HQ's public key\n(kodenpub1..."
			    ", or a file holding it) alone: no node needed.\n",
			    c == 'h' ? stdout : stderr);
			return c == 'h' ? EX_OK : EX_USAGE;
		}
	}
	if (ks == NULL || optind != argc - 1)
		return cli_fail(EX_USAGE, "usage: koden audit check-proof -k "
		    "HQKEY|FILE [--json] PROOF");
	buf_init(&kb, 4096);
	if (strncmp(ks, PUBKEY_PREFIX, strlen(PUBKEY_PREFIX)) != 0) {
		if ((r = cli_read_input(&kb, ks, "HQ key file")) != EX_OK) {
			buf_free(&kb);
			return r;
		}
		if (buf_put_u8(&kb, 0) != 0) {
			buf_free(&kb);
			return cli_fail(EX_INPUT, "%s: too long", ks);
		}
		ks = (const char *)kb.p;
	}
	r = pubkey_decode(&pk, ks, &e);
	buf_free(&kb);
	if (r != 0)
		return cli_fail(EX_INPUT, "HQ key: %s", kerr_msg(&e, r));
	buf_init(&b, 1u << 20);
	if ((r = cli_read_input(&b, argv[optind], "proof")) != EX_OK)
		goto out;
	if ((r = audit_check_proof(b.p, b.len, pk.sign, &ev, &h, hq, &e)) != 0) {
		r = cli_fail(r == KERR_SIGNATURE || r == KERR_MISMATCH ?
		    EX_VERIFY : EX_INPUT, "proof does not verify: %s",
		    kerr_msg(&e, r));
		goto out;
	}
	fmt_time(t, sizeof(t), h.time_ns);
	sodium_bin2hex(root, sizeof(root), h.root, MERKLE_HASH);
	cli_warn("proof verified: the entry is in %s's log, head of size %"
	    PRIu64 " signed %s, root %s", hq, h.size, t, root);
	print_event(&o, &ev);
	r = EX_OK;
out:
	buf_free(&b);
	return r;
}

static int
a_head(int argc, char **argv)
{
	struct auditlog *l = NULL;
	struct identity *key;
	struct audit_head h;
	struct kerr e = { "" };
	char t[40], root[65];
	int r;

	(void)argv;
	if (argc != 1)
		return cli_fail(EX_USAGE, "usage: koden -d NODEDIR audit head");
	if ((r = need_dir("head")) != EX_OK)
		return r;
	if ((key = node_key(cli_nodedir)) == NULL)
		return cli_fail(EX_KEY, "cannot read %s/%s", cli_nodedir,
		    NODE_KEY_FILE);
	if ((r = open_log(&l)) != EX_OK) {
		identity_free(key);
		return r;
	}
	r = audit_sign_head(l, key, &h, &e);
	identity_free(key);
	if (r == 0) {
		fmt_time(t, sizeof(t), h.time_ns);
		sodium_bin2hex(root, sizeof(root), h.root, MERKLE_HASH);
		printf("%s size %" PRIu64 " time %s root %s\n",
		    auditlog_node(l), h.size, t, root);
	}
	auditlog_close(l);
	return r == 0 ? EX_OK : cli_fail(EX_FAIL, "%s", kerr_msg(&e, r));
}

static const char audit_usage[] =
    "usage: koden -d NODEDIR audit verify [--json]\n"
    "       koden -d NODEDIR audit log [--node N] [--person P] [--object ID]\n"
    "                                  [--since T] [--until T] [--json]\n"
    "       koden -d HQDIR audit who-read ID [--json]\n"
    "       koden -d HQDIR audit reads [--node N] [--person P] [--since T]\n"
    "                                  [--until T] [--json]\n"
    "       koden -d HQDIR audit prove [NODE:]SEQ [-o FILE]\n"
    "       koden audit check-proof -k HQKEY|FILE [--json] PROOF\n"
    "       koden -d NODEDIR audit head\n"
    "\n"
    "verify       recompute the log from its rows and check every signed\n"
    "             head; exit 5 naming the first bad entry if it was edited,\n"
    "             cut, reordered or truncated\n"
    "log          entries of this node's log (and at HQ, its copies of the\n"
    "             posts' logs)\n"
    "who-read     every attempt to open, read, render or export a telegram\n"
    "reads        read attempts by node, person, time\n"
    "prove        an inclusion proof of an entry, checkable offline with\n"
    "             HQ's public key alone\n"
    "check-proof  check such a proof (no node directory needed)\n"
    "head         sign a tree head over the log now and print it\n";

int
cmd_audit(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(audit_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	if (strcmp(argv[1], "verify") == 0)
		return a_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "log") == 0)
		return a_query(argc - 1, argv + 1, 0, 0);
	if (strcmp(argv[1], "reads") == 0)
		return a_query(argc - 1, argv + 1, 1, 0);
	if (strcmp(argv[1], "who-read") == 0)
		return a_query(argc - 1, argv + 1, 1, 1);
	if (strcmp(argv[1], "prove") == 0)
		return a_prove(argc - 1, argv + 1);
	if (strcmp(argv[1], "check-proof") == 0)
		return a_check_proof(argc - 1, argv + 1);
	if (strcmp(argv[1], "head") == 0)
		return a_head(argc - 1, argv + 1);
	cli_warn("unknown audit command '%s'", argv[1]);
	fputs(audit_usage, stderr);
	return EX_USAGE;
}
