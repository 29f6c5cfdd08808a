/*
 * The audit journal (src/audit/journal.c): append then apply into the log,
 * exactly once (applying again adds nothing); rotation past
 * AUDIT_JOURNAL_ROTATE and a new generation after it; four processes
 * appending while another applies; a failed append leaves no partial frame;
 * damage (a flipped byte, a torn tail, a bad header, a journal shorter than
 * what was applied) is set aside, named in a journal-damaged event, and
 * what came before it is kept; the frame parser on hostile bytes; a
 * process holding the lock delays an append by AUDIT_JOURNAL_LOCK_MS at
 * most, which then fails.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/auditlog.h"
#include "audit/journal.h"

static char dir[] = "/tmp/koden-journal-test.XXXXXX";
static char node[600];		/* this test's NODEDIR, fresh per test */
static int nnode;

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh NODEDIR with an empty log in it. */
static struct auditlog *
fresh(void)
{
	struct auditlog *l = NULL;
	char db[700], wit[700];

	snprintf(node, sizeof(node), "%s/n%d", dir, nnode++);
	assert_int_equal(mkdir(node, 0700), 0);
	snprintf(db, sizeof(db), "%s/audit.db", node);
	snprintf(wit, sizeof(wit), "%s/audit.head", node);
	assert_int_equal(auditlog_open(&l, db, "GENEVA", wit, NULL), 0);
	return l;
}

static void
jpath(char *out, size_t n)
{
	snprintf(out, n, "%s/%s", node, AUDIT_JOURNAL_FILE);
}

static off_t
jsize(void)
{
	char p[700];
	struct stat st;

	jpath(p, sizeof(p));
	return stat(p, &st) == 0 ? st.st_size : -1;
}

static void
append(const char *object, size_t detail_len)
{
	struct audit_event ev;
	struct kerr e = { "" };
	char detail[AUDIT_DETAIL_MAX + 1];

	memset(detail, 'd', detail_len);
	detail[detail_len] = '\0';
	memset(&ev, 0, sizeof(ev));
	audit_event_set(&ev, "ALICE", "test", "open", object, "ok", detail);
	if (audit_journal_append_dir(node, &ev, &e) != 0)
		fail_msg("append %s: %s", object, e.msg);
}

static size_t
apply(struct auditlog *l)
{
	struct kerr e = { "" };
	size_t n = 0;

	if (audit_journal_apply(l, node, NULL, &n, &e) != 0)
		fail_msg("apply: %s", e.msg);
	return n;
}

static uint64_t
size_of(struct auditlog *l)
{
	uint64_t s = 0;

	assert_int_equal(audit_size(l, &s), 0);
	return s;
}

static void
get(struct auditlog *l, uint64_t seq, struct audit_event *ev)
{
	assert_int_equal(audit_get(l, seq, ev), 0);
}

/* How many files in node start with prefix. */
static int
count_files(const char *prefix)
{
	DIR *d = opendir(node);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static void
test_roundtrip(void **state)
{
	struct auditlog *l = fresh();
	struct audit_event ev;
	char obj[32];

	(void)state;
	assert_int_equal(apply(l), 0);		/* no journal yet */
	for (int i = 0; i < 10; i++) {
		snprintf(obj, sizeof(obj), "tg-%d", i);
		append(obj, 10);
	}
	assert_int_equal(apply(l), 10);
	assert_int_equal(size_of(l), 10);
	for (int i = 0; i < 10; i++) {
		get(l, (uint64_t)i, &ev);
		snprintf(obj, sizeof(obj), "tg-%d", i);
		assert_string_equal(ev.object, obj);
		assert_string_equal(ev.node, "GENEVA");
		assert_string_equal(ev.actor, "ALICE");
		assert_true(ev.time_ns > 0);
	}
	/* again, and after reopening: nothing twice */
	assert_int_equal(apply(l), 0);
	auditlog_close(l);
	{
		char db[700], wit[700];

		snprintf(db, sizeof(db), "%s/audit.db", node);
		snprintf(wit, sizeof(wit), "%s/audit.head", node);
		assert_int_equal(auditlog_open(&l, db, "GENEVA", wit, NULL), 0);
	}
	assert_int_equal(apply(l), 0);
	append("tg-10", 10);
	assert_int_equal(apply(l), 1);
	assert_int_equal(size_of(l), 11);
	/* the journal is 0600 */
	{
		char p[700];
		struct stat st;

		jpath(p, sizeof(p));
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	auditlog_close(l);
}

static void
test_rotation(void **state)
{
	struct auditlog *l = fresh();
	int n = 0;

	(void)state;
	while (jsize() < (off_t)AUDIT_JOURNAL_ROTATE) {
		append("big", 900);
		n++;
	}
	assert_int_equal(apply(l), n);
	assert_int_equal(jsize(), -1);		/* applied whole: removed */
	append("after", 10);			/* a new generation */
	assert_int_equal(apply(l), 1);
	assert_int_equal(size_of(l), (uint64_t)n + 1);
	assert_int_equal(count_files("audit.journal.new"), 0);
	auditlog_close(l);
}

/* Four processes append while this one applies: each event once. */
static void
test_concurrent(void **state)
{
	struct auditlog *l = fresh();
	pid_t kids[4];
	int seen[4][250];
	size_t total = 0;

	(void)state;
	for (int k = 0; k < 4; k++) {
		if ((kids[k] = fork()) == 0) {
			for (int i = 0; i < 250; i++) {
				char obj[32];

				snprintf(obj, sizeof(obj), "c%d-%d", k, i);
				append(obj, 500);	/* rotations on the way */
			}
			_exit(0);
		}
		assert_true(kids[k] > 0);
	}
	for (int k = 0; k < 4; k++) {
		int st, done = 0;

		while (!done) {
			total += apply(l);
			done = waitpid(kids[k], &st, WNOHANG) == kids[k];
		}
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	total += apply(l);
	assert_int_equal(total, 1000);
	assert_int_equal(size_of(l), 1000);
	memset(seen, 0, sizeof(seen));
	for (uint64_t s = 0; s < 1000; s++) {
		struct audit_event ev;
		int k, i;

		get(l, s, &ev);
		assert_int_equal(sscanf(ev.object, "c%d-%d", &k, &i), 2);
		assert_true(k >= 0 && k < 4 && i >= 0 && i < 250);
		assert_int_equal(seen[k][i]++, 0);
	}
	auditlog_close(l);
}

/* A write cut short (here by RLIMIT_FSIZE) leaves no partial frame. */
static void
test_failed_append(void **state)
{
	struct auditlog *l = fresh();
	off_t before;
	pid_t pid;
	int st;

	(void)state;
	append("one", 10);
	append("two", 10);
	before = jsize();
	if ((pid = fork()) == 0) {
		struct rlimit rl = { (rlim_t)before + 10, (rlim_t)before + 10 };
		struct audit_event ev;
		struct kerr e = { "" };

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(2);
		memset(&ev, 0, sizeof(ev));
		audit_event_set(&ev, "ALICE", "test", "open", "three", "ok",
		    "a frame longer than the ten bytes allowed");
		_exit(audit_journal_append_dir(node, &ev, &e) != 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);	/* the append failed */
	assert_int_equal(jsize(), before);	/* and left nothing */
	append("four", 10);
	assert_int_equal(apply(l), 3);
	assert_int_equal(count_files("audit.journal.damaged"), 0);
	auditlog_close(l);
}

/* Damage the journal with f after 5 appends; expect keep good events. */
static void
damage_case(void (*f)(const char *path, const off_t *ends), size_t keep)
{
	struct auditlog *l = fresh();
	struct audit_event ev;
	off_t ends[5];
	char p[700];

	for (int i = 0; i < 5; i++) {
		char obj[16];

		snprintf(obj, sizeof(obj), "d%d", i);
		append(obj, 40);
		ends[i] = jsize();
	}
	jpath(p, sizeof(p));
	f(p, ends);
	assert_int_equal(apply(l), keep + 1);
	assert_int_equal(size_of(l), keep + 1);
	for (size_t i = 0; i < keep; i++) {
		char obj[24];

		get(l, i, &ev);
		snprintf(obj, sizeof(obj), "d%zu", i);
		assert_string_equal(ev.object, obj);
	}
	get(l, keep, &ev);
	assert_string_equal(ev.action, "journal-damaged");
	assert_string_equal(ev.outcome, "fail: damaged");
	assert_non_null(strstr(ev.detail, "audit.journal.damaged-"));
	assert_int_equal(count_files("audit.journal.damaged-"), 1);
	assert_int_equal(jsize(), -1);
	/* a fresh journal after it, applied from its start */
	append("later", 10);
	assert_int_equal(apply(l), 1);
	get(l, keep + 1, &ev);
	assert_string_equal(ev.object, "later");
	assert_int_equal(apply(l), 0);
	auditlog_close(l);
}

static void
flip_third(const char *path, const off_t *ends)
{
	FILE *f = fopen(path, "r+b");
	int c;

	assert_non_null(f);
	assert_int_equal(fseek(f, ends[1] + 20, SEEK_SET), 0);
	c = fgetc(f);
	assert_int_equal(fseek(f, ends[1] + 20, SEEK_SET), 0);
	fputc(c ^ 0x40, f);
	fclose(f);
}

static void
tear_tail(const char *path, const off_t *ends)
{
	assert_int_equal(truncate(path, ends[4] - 5), 0);
}

static void
bad_header(const char *path, const off_t *ends)
{
	FILE *f = fopen(path, "r+b");

	(void)ends;
	assert_non_null(f);
	fputs("NOTAJRNL", f);
	fclose(f);
}

static void
test_damage(void **state)
{
	(void)state;
	damage_case(flip_third, 2);
	damage_case(tear_tail, 4);
	damage_case(bad_header, 0);
}

/* Cut to less than what the log says it applied. */
static void
test_shorter_than_applied(void **state)
{
	struct auditlog *l = fresh();
	struct audit_event ev;
	char p[700];

	(void)state;
	append("a", 10);
	append("b", 10);
	assert_int_equal(apply(l), 2);
	jpath(p, sizeof(p));
	assert_int_equal(truncate(p, AUDIT_JOURNAL_HDR + 3), 0);
	assert_int_equal(apply(l), 1);
	get(l, 2, &ev);
	assert_string_equal(ev.action, "journal-damaged");
	assert_non_null(strstr(ev.detail, "shorter than what was applied"));
	auditlog_close(l);
}

static int
count_cb(void *ctx, const struct audit_event *ev)
{
	(void)ev;
	++*(size_t *)ctx;
	return 0;
}

/* The parser on hostile input: never past n, never more than n. */
static void
test_parse_hostile(void **state)
{
	uint8_t buf[4096];
	struct kerr e = { "" };
	size_t n = 0, used;
	int damaged;

	(void)state;
	/* a length beyond any event */
	memcpy(buf, "\xff\xff\xff\xff", 4);
	used = audit_journal_parse(buf, 4, count_cb, &n, &damaged, &e);
	assert_int_equal(used, 0);
	assert_int_equal(damaged, 1);
	/* zero length */
	memset(buf, 0, 8);
	used = audit_journal_parse(buf, 8, count_cb, &n, &damaged, &e);
	assert_int_equal(damaged, 1);
	/* a plausible length, not enough bytes: incomplete, not damaged */
	memcpy(buf, "\x00\x00\x00\x40", 4);
	used = audit_journal_parse(buf, 30, count_cb, &n, &damaged, &e);
	assert_int_equal(used, 0);
	assert_int_equal(damaged, 0);
	/* random bytes */
	for (int i = 0; i < 2000; i++) {
		size_t len = randombytes_uniform(sizeof(buf));
		uint8_t *p = malloc(len ? len : 1);

		randombytes_buf(p, len);
		if (len >= 4 && (i & 1)) {	/* lengths that fit, sometimes */
			p[0] = p[1] = 0;
			p[2] &= 0x03;
		}
		used = audit_journal_parse(p, len, count_cb, &n, &damaged, &e);
		assert_true(used <= len);
		free(p);
	}
	assert_int_equal(n, 0);	/* no random frame passes its checksum */
}

/* A process holding the journal's lock delays an append, never hangs it. */
static void
test_lock_held(void **state)
{
	struct auditlog *l = fresh();
	struct audit_event ev;
	struct kerr e = { "" };
	struct timespec t0, t1;
	char p[700], c;
	int fds[2];
	pid_t pid;
	double ms;

	(void)state;
	append("before", 10);
	jpath(p, sizeof(p));
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		int fd = open(p, O_RDONLY);

		if (fd < 0 || flock(fd, LOCK_EX) != 0)
			_exit(1);
		(void)!write(fds[1], "x", 1);
		sleep(AUDIT_JOURNAL_LOCK_MS / 1000 + 1);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(read(fds[0], &c, 1), 1);
	memset(&ev, 0, sizeof(ev));
	audit_event_set(&ev, "ALICE", "test", "open", "during", "ok", NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_not_equal(audit_journal_append_dir(node, &ev, &e), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms >= AUDIT_JOURNAL_LOCK_MS * 0.9);
	assert_true(ms < AUDIT_JOURNAL_LOCK_MS + 900);
	assert_non_null(strstr(e.msg, "cannot lock"));
	waitpid(pid, NULL, 0);
	close(fds[0]);
	close(fds[1]);
	append("after", 10);
	assert_int_equal(apply(l), 2);	/* "during" was never written */
	auditlog_close(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_failed_append),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_shorter_than_applied),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_lock_held),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
