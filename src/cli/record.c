/*
 * What koden does on a node, recorded in its audit log (docs/audit.md):
 * cli_audit() and cli_audit_dir(), with which every verb run with
 * -d NODEDIR records its action before it shows anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/auditlog.h"
#include "audit/journal.h"
#include "cli/cli_int.h"
#include "node/admin.h"
#include "node/config.h"

struct identity *
cli_node_key(const char *nodedir)
{
	struct identity *id = NULL;
	char path[PATH_MAX];
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
	char path[PATH_MAX], pid[32];
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
	(void)who; (void)ev; (void)cfg;
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
	key = cli_node_key(nodedir);
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
	    cli_last_error()[0] ? cli_last_error() : "exit code");
	return o;
}

int
cli_audit(const struct cli_ctx *ctx, const char *actor, const char *action,
    const char *object, const char *outcome, const char *detail)
{
	return cli_audit_dir(ctx->nodedir, actor, action, object, outcome,
	    detail);
}
