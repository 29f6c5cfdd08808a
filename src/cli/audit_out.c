/*
 * What the audit verbs share: printing entries as a table or as JSON
 * lines, times in UTC, and the log they read, with its journal applied.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "audit/auditlog.h"
#include "audit/journal.h"
#include "cli/cli_int.h"
#include "node/config.h"

void
cli_json_str(FILE *f, const char *s)
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

void
cli_time_fmt(char *out, size_t n, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm g;
	char d[32];

	gmtime_r(&t, &g);
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &g);
	snprintf(out, n, "%s.%03uZ", d, (unsigned)(ns / 1000000u % 1000));
}

int
cli_event_print(void *ctx, const struct audit_event *ev)
{
	struct cli_event_out *o = ctx;
	char t[CLI_TIME_MAX];

	cli_time_fmt(t, sizeof(t), ev->time_ns);
	if (o->json) {
		printf("{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"time_ns\":%" PRIu64
		    ",\"node\":", ev->seq, t, ev->time_ns);
		cli_json_str(stdout, ev->node);
		fputs(",\"actor\":", stdout);
		cli_json_str(stdout, ev->actor);
		fputs(",\"source\":", stdout);
		cli_json_str(stdout, ev->source);
		fputs(",\"action\":", stdout);
		cli_json_str(stdout, ev->action);
		fputs(",\"object\":", stdout);
		cli_json_str(stdout, ev->object);
		fputs(",\"outcome\":", stdout);
		cli_json_str(stdout, ev->outcome);
		fputs(",\"detail\":", stdout);
		cli_json_str(stdout, ev->detail);
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

int
cli_log_open(const struct cli_ctx *ctx, struct auditlog **l)
{
	struct identity *key;
	struct config cfg;
	struct kerr e = { "" };
	int r;

	if ((r = config_load(&cfg, ctx->nodedir, &e)) != 0 ||
	    (r = auditlog_open_dir(l, ctx->nodedir, cfg.name, &e)) != 0)
		return cli_fail(EX_FAIL, "%s", kerr_msg(&e, r));
	/* what the journal holds goes in first, so every answer has it */
	key = cli_node_key(ctx->nodedir);
	if ((r = audit_journal_apply(*l, ctx->nodedir, key, NULL, &e)) != 0)
		cli_warn("the audit journal could not be added to the log "
		    "(answering from the log as it is): %s", kerr_msg(&e, r));
	identity_free(key);
	return EX_OK;
}
