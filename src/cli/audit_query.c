/*
 * koden audit log, reads, who-read: the log's entries by node, person,
 * object and time (docs/audit.md).  At HQ the answers include HQ's copies of
 * every post's log.  Each search is recorded before it is answered.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/auditlog.h"
#include "cli/cli_int.h"

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

/* After each query's usage line: what its filters mean. */
#define QUERY_NOTES \
    "\n" \
    "T is unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC); --until is\n" \
    "exclusive.  --person matches the actor's name as recorded (the key\n" \
    "name; the unix user follows in brackets).  At HQ the answers come from\n" \
    "HQ's copies of every post's log, whatever happened at the post since.\n"

/* A usage error of any of the three: all three. */
static const char query_usage[] =
    "usage: koden -d NODEDIR audit log   [--node N] [--person P] [--object ID]\n"
    "                                    [--since T] [--until T] [--json]\n"
    "       koden -d HQDIR audit reads   [--node N] [--person P] [--since T]\n"
    "                                    [--until T] [--json]\n"
    "       koden -d HQDIR audit who-read ID [--json]\n"
    QUERY_NOTES;

/* -h, --help: the one asked for. */
static const char log_usage[] =
    "usage: koden -d NODEDIR audit log [--node N] [--person P] [--object ID]\n"
    "                                  [--since T] [--until T] [--json]\n"
    "\n"
    "Entries of this node's log (and at HQ, its copies of the posts' logs).\n"
    QUERY_NOTES;
static const char reads_usage[] =
    "usage: koden -d HQDIR audit reads [--node N] [--person P] [--since T]\n"
    "                                  [--until T] [--json]\n"
    "\n"
    "Read attempts (read, open, render, export, print, search), failed ones\n"
    "too, by node, person, time.\n"
    QUERY_NOTES;
static const char who_read_usage[] =
    "usage: koden -d HQDIR audit who-read ID [--json]\n"
    "\n"
    "Every attempt to open, read, render or export the telegram ID (at least\n"
    "4 lowercase hex digits: a prefix of its id).\n"
    QUERY_NOTES;

/* log, reads, who-read; help is the usage -h and --help print */
static int
query(const struct cli_ctx *ctx, int argc, char **argv, int reads, int who,
    const char *help)
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
	struct cli_event_out o = { 0, 0 };
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
		case 'h': fputs(help, stdout); return EX_OK;
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
	if ((r = cli_need_dir(ctx, who ? "audit who-read" : reads ?
	    "audit reads" : "audit log")) != EX_OK ||
	    (r = cli_log_open(ctx, &l)) != EX_OK)
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
		if ((r = cli_audit(ctx, NULL, "search", what, "ok",
		    flt)) != EX_OK) {
			auditlog_close(l);
			return r;
		}
	}
	r = audit_query(l, &f, cli_event_print, &o);
	auditlog_close(l);
	if (r != 0)
		return cli_fail(EX_FAIL, "audit query failed: %s", kerr_str(r));
	if (!o.json && o.n == 0)
		printf("(no matching entries)\n");
	return EX_OK;
}

int
cmd_audit_log(const struct cli_ctx *ctx, int argc, char **argv)
{
	return query(ctx, argc, argv, 0, 0, log_usage);
}

int
cmd_audit_reads(const struct cli_ctx *ctx, int argc, char **argv)
{
	return query(ctx, argc, argv, 1, 0, reads_usage);
}

int
cmd_audit_who_read(const struct cli_ctx *ctx, int argc, char **argv)
{
	return query(ctx, argc, argv, 1, 1, who_read_usage);
}
