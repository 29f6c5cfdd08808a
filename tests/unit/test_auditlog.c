/*
 * The audit log (src/audit/auditlog.h): appending and heads; verify finds
 * and names each kind of tampering done directly to the SQLite file (edit,
 * edit with the leaf hash rewritten, delete, insert, reorder, truncate,
 * truncate with the heads deleted); roots and proofs of the stored tree
 * against a naive recursive RFC 6962 reference on random logs; HQ ingest
 * (happy path, resend, wrong signature, changed history, replayed older
 * head, gap); who-read from HQ's copy after the post's log is wiped; two
 * posts shown two different HQ heads; inclusion proofs checked offline;
 * two processes appending at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "audit/auditlog.h"
#include "audit/ship.h"

typedef uint8_t hash_t[MERKLE_HASH];

static char dir[] = "/tmp/koden-audit-test.XXXXXX";
static int ntmp;

static void
path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

/* A fresh log file named name-N.db with a witness beside it. */
static struct auditlog *
new_log(const char *node, char *dbpath, size_t n)
{
	struct auditlog *l = NULL;
	char db[512], wit[512];
	struct kerr e = { "" };

	snprintf(db, sizeof(db), "%s/%s-%d.db", dir, node, ntmp);
	snprintf(wit, sizeof(wit), "%s/%s-%d.head", dir, node, ntmp++);
	if (auditlog_open(&l, db, node, wit, &e) != 0)
		fail_msg("open: %s", e.msg);
	if (dbpath != NULL)
		snprintf(dbpath, n, "%s", db);
	return l;
}

static struct auditlog *
reopen(const char *db, const char *node)
{
	struct auditlog *l = NULL;
	char wit[520];

	snprintf(wit, sizeof(wit), "%.*s.head", (int)(strlen(db) - 3), db);
	assert_int_equal(auditlog_open(&l, db, node, wit, NULL), 0);
	return l;
}

static void
ev_make(struct audit_event *ev, const char *actor, const char *action,
    const char *object, const char *outcome)
{
	memset(ev, 0, sizeof(*ev));
	audit_event_set(ev, actor, "test", action, object, outcome, "detail");
}

/* Append n events one at a time, each with its own signed head (as the
 * CLI does). */
static void
append_n(struct auditlog *l, const struct identity *key, int n, int heads)
{
	for (int i = 0; i < n; i++) {
		struct audit_event ev;
		char obj[64];

		snprintf(obj, sizeof(obj), "%032x", i);
		ev_make(&ev, i % 2 ? "K. SATO" : "A. TANAKA", "read", obj, "ok");
		assert_int_equal(audit_append(l, &ev, 1, heads ? key : NULL,
		    NULL), 0);
	}
}

static void
sql(const char *db, const char *q)
{
	sqlite3 *h;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_exec(h, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
	sqlite3_close(h);
}

/* verify: 0, or the bad entry (and why printed). */
static uint64_t
verify_bad(struct auditlog *l, const struct identity *key, int *rc)
{
	struct audit_verify v;

	*rc = audit_verify_log(l, key->pub.sign, &v);
	if (*rc != 0)
		print_message("    verify: entry %lld: %s\n",
		    v.bad == UINT64_MAX ? -1LL : (long long)v.bad, v.why);
	return v.bad;
}

static struct identity *key_a, *key_b, *key_hq;

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return -1;
	if (identity_generate(&key_a, "TOKYO") != 0 ||
	    identity_generate(&key_b, "GENEVA") != 0 ||
	    identity_generate(&key_hq, "HQ") != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	identity_free(key_a);
	identity_free(key_b);
	identity_free(key_hq);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- encoding ------------------------------------------------------------ */

static void
test_event_codec(void **state)
{
	struct audit_event ev, back;
	struct buf b;

	(void)state;
	ev_make(&ev, "K. SATO", "read", "00ff", "fail: wrong key");
	ev.seq = 7;
	snprintf(ev.node, sizeof(ev.node), "TOKYO");
	buf_init(&b, AUDIT_ENTRY_MAX);
	assert_int_equal(audit_event_encode(&b, &ev), 0);
	assert_int_equal(audit_event_decode(&back, b.p, b.len), 0);
	assert_memory_equal(&ev, &back, sizeof(ev));
	/* every truncation fails, a trailing byte fails */
	for (size_t n = 0; n < b.len; n++)
		assert_int_not_equal(audit_event_decode(&back, b.p, n), 0);
	assert_int_equal(buf_put_u8(&b, 0), 0);
	assert_int_equal(audit_event_decode(&back, b.p, b.len), KERR_FORMAT);
	b.p[0] = 2;
	assert_int_equal(audit_event_decode(&back, b.p, b.len - 1), KERR_VERSION);
	buf_free(&b);
	/* audit_event_set cuts and cleans */
	{
		char big[4000];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		big[AUDIT_ACTOR_MAX - 1] = (char)0xc3;	/* split character */
		audit_event_set(&ev, big, "a\nb", "read", "\xff\xfe", "ok", big);
		assert_int_equal(strlen(ev.actor), AUDIT_ACTOR_MAX - 1);
		assert_string_equal(ev.source, "a b");
		assert_string_equal(ev.object, "??");
		assert_int_equal(strlen(ev.detail), AUDIT_DETAIL_MAX);
		buf_init(&b, AUDIT_ENTRY_MAX);
		assert_int_equal(audit_event_encode(&b, &ev), 0);
		buf_free(&b);
	}
}

/* ---- append, heads, verify ---------------------------------------------- */

static void
test_append_verify(void **state)
{
	struct auditlog *l = new_log("TOKYO", NULL, 0);
	struct audit_head h;
	struct audit_event evs[100], got;
	uint64_t size;
	int rc, found;

	(void)state;
	assert_int_equal(audit_verify_log(l, key_a->pub.sign,
	    &(struct audit_verify){ 0 }), 0);	/* empty: fine */
	append_n(l, key_a, 5, 1);
	for (int i = 0; i < 100; i++)
		ev_make(&evs[i], "kodend", "arrive", "x", "ok");
	assert_int_equal(audit_append(l, evs, 100, NULL, NULL), 0);
	assert_int_equal(evs[0].seq, 5);
	assert_int_equal(evs[99].seq, 104);
	assert_int_equal(audit_size(l, &size), 0);
	assert_int_equal(size, 105);
	assert_int_equal(audit_latest_head(l, &h, &found), 0);
	assert_true(found);
	assert_int_equal(h.size, 5);
	assert_int_equal(audit_sign_head(l, key_a, &h, NULL), 0);
	assert_int_equal(h.size, 105);
	assert_int_equal(audit_head_verify(&h, "TOKYO", key_a->pub.sign), 0);
	assert_int_equal(audit_head_verify(&h, "GENEVA", key_a->pub.sign),
	    KERR_SIGNATURE);
	assert_int_equal(audit_head_verify(&h, "TOKYO", key_b->pub.sign),
	    KERR_SIGNATURE);
	assert_int_equal(verify_bad(l, key_a, &rc), UINT64_MAX);
	assert_int_equal(rc, 0);
	/* the wrong node key: the heads do not verify */
	verify_bad(l, key_b, &rc);
	assert_int_equal(rc, KERR_MISMATCH);
	assert_int_equal(audit_get(l, 3, &got), 0);
	assert_string_equal(got.node, "TOKYO");
	assert_string_equal(got.action, "read");
	assert_int_equal(audit_get(l, 105, &got), KERR_INVALID);
	auditlog_close(l);
}

/* One tampering case: a log of 12 events with a head after each, the SQL,
 * and the entry verify must name. */
static void
tamper(const char *what, const char *q, uint64_t want, int heads_every)
{
	char db[512];
	struct auditlog *l = new_log("TOKYO", db, sizeof(db));
	int rc;

	print_message("  %s\n", what);
	append_n(l, key_a, 12, heads_every);
	if (!heads_every)
		assert_int_equal(audit_sign_head(l, key_a, NULL, NULL), 0);
	assert_int_equal(verify_bad(l, key_a, &rc), UINT64_MAX);
	assert_int_equal(rc, 0);
	auditlog_close(l);
	sql(db, q);
	l = reopen(db, "TOKYO");
	assert_int_equal(verify_bad(l, key_a, &rc), want);
	assert_int_equal(rc, KERR_MISMATCH);
	auditlog_close(l);
}

static void
test_tamper(void **state)
{
	(void)state;
	tamper("edit a field", "UPDATE entry SET actor = 'NOBODY' WHERE seq = 4",
	    4, 1);
	tamper("edit a field and rewrite its leaf hash",
	    "UPDATE entry SET actor = 'NOBODY', leaf = zeroblob(32) WHERE "
	    "seq = 6", 6, 1);
	tamper("edit the time", "UPDATE entry SET time = time + 1 WHERE seq = 9",
	    9, 1);
	tamper("delete a row", "DELETE FROM entry WHERE seq = 5", 5, 1);
	tamper("delete the first row", "DELETE FROM entry WHERE seq = 0", 0, 1);
	tamper("insert a row (renumbering the rest)",
	    "UPDATE entry SET seq = -seq - 1 WHERE seq >= 3;"
	    "UPDATE entry SET seq = -seq WHERE seq < 0;"
	    "INSERT INTO entry SELECT 3, time, node, 'MALLORY', source, action,"
	    " object, outcome, detail, leaf FROM entry WHERE seq = 2;", 3, 1);
	tamper("insert a row past a gap",
	    "INSERT INTO entry SELECT 20, time, node, actor, source, action,"
	    " object, outcome, detail, leaf FROM entry WHERE seq = 2;", 12, 1);
	tamper("reorder two rows",
	    "UPDATE entry SET seq = 100 WHERE seq = 2;"
	    "UPDATE entry SET seq = 2 WHERE seq = 7;"
	    "UPDATE entry SET seq = 7 WHERE seq = 100;", 2, 1);
	tamper("truncate the tail", "DELETE FROM entry WHERE seq >= 10", 10, 1);
	tamper("truncate the tail with its heads",
	    "DELETE FROM entry WHERE seq >= 8; DELETE FROM head WHERE size > 8;",
	    8, 1);
	tamper("truncate everything",
	    "DELETE FROM entry; DELETE FROM head; DELETE FROM tree;", 0, 1);
	tamper("edit a signed head", "UPDATE head SET time = time + 1 WHERE "
	    "size = 5", 4, 1);
	/* one head over all 12: an edit with its leaf rewritten is located by
	 * the stored tree */
	tamper("edit, one head over all",
	    "UPDATE entry SET actor = 'X' WHERE seq = 6", 6, 0);
}

/* The leaf rewritten consistently with the edit, one head: the range. */
static void
test_tamper_rewritten(void **state)
{
	char db[512];
	struct auditlog *l = new_log("TOKYO", db, sizeof(db));
	struct audit_event ev;
	struct audit_verify v;
	uint8_t leaf[MERKLE_HASH];
	char hex[65], q[300];

	(void)state;
	append_n(l, key_a, 8, 0);
	assert_int_equal(audit_sign_head(l, key_a, NULL, NULL), 0);
	append_n(l, key_a, 8, 0);
	assert_int_equal(audit_sign_head(l, key_a, NULL, NULL), 0);
	assert_int_equal(audit_get(l, 11, &ev), 0);
	auditlog_close(l);
	snprintf(ev.actor, sizeof(ev.actor), "X");
	assert_int_equal(audit_event_leaf(leaf, &ev), 0);
	sodium_bin2hex(hex, sizeof(hex), leaf, 32);
	snprintf(q, sizeof(q), "UPDATE entry SET actor = 'X', leaf = x'%s' "
	    "WHERE seq = 11", hex);
	sql(db, q);
	l = reopen(db, "TOKYO");
	assert_int_equal(audit_verify_log(l, key_a->pub.sign, &v),
	    KERR_MISMATCH);
	print_message("    %s\n", v.why);
	/* the stored tree still has the old leaf: its level-1 node over
	 * 10..11 is the first to differ */
	assert_true(v.bad >= 8 && v.bad <= 11);
	auditlog_close(l);
}

/* ---- the tree against a naive reference -------------------------------- */

static void
naive_mth(uint8_t out[32], const hash_t *d, uint64_t n)
{
	uint64_t k = 1;
	uint8_t l[32], r[32];

	if (n == 0) {
		merkle_empty_root(out);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], 32);
		return;
	}
	while (k << 1 < n)
		k <<= 1;
	naive_mth(l, d, k);
	naive_mth(r, d + k, n - k);
	merkle_node_hash(out, l, r);
}

/* RFC 6962 PATH(m, D[n]), leaf upward. */
static size_t
naive_path(hash_t *out, uint64_t m, const hash_t *d, uint64_t n)
{
	uint64_t k = 1;
	size_t c;

	if (n <= 1)
		return 0;
	while (k << 1 < n)
		k <<= 1;
	if (m < k) {
		c = naive_path(out, m, d, k);
		naive_mth(out[c], d + k, n - k);
	} else {
		c = naive_path(out, m - k, d + k, n - k);
		naive_mth(out[c], d, k);
	}
	return c + 1;
}

static void
test_random_vs_naive(void **state)
{
	struct auditlog *l = new_log("TOKYO", NULL, 0);
	uint64_t n = 0;
	hash_t *leaves = calloc(700, sizeof(hash_t));

	(void)state;
	assert_non_null(leaves);
	for (int round = 0; round < 25; round++) {
		uint32_t k = randombytes_uniform(40) + 1;
		struct audit_event ev[40];

		for (uint32_t i = 0; i < k; i++) {
			char obj[40];

			snprintf(obj, sizeof(obj), "r%u-%u", round,
			    randombytes_random());
			ev_make(&ev[i], "p", "open", obj, "ok");
		}
		assert_int_equal(audit_append(l, ev, k, round % 3 ? NULL :
		    key_a, NULL), 0);
		for (uint32_t i = 0; i < k; i++)
			assert_int_equal(audit_event_leaf(leaves[n + i], &ev[i]),
			    0);
		n += k;
		/* roots at every size, proofs at random points */
		for (uint64_t s = 0; s <= n; s += 1 + randombytes_uniform(5)) {
			uint8_t a[32], b[32];

			naive_mth(a, leaves, s);
			assert_int_equal(audit_root_at(l, s, b), 0);
			assert_memory_equal(a, b, 32);
		}
		for (int t = 0; t < 20; t++) {
			uint64_t size = 1 + randombytes_uniform((uint32_t)n);
			uint64_t idx = randombytes_uniform((uint32_t)size);
			uint64_t m = 1 + randombytes_uniform((uint32_t)size);
			hash_t p[MERKLE_PROOF_MAX], q[MERKLE_PROOF_MAX];
			uint8_t root[32], old[32];
			size_t np, nq;

			naive_mth(root, leaves, size);
			naive_mth(old, leaves, m);
			assert_int_equal(audit_inclusion_proof(l, idx, size, p,
			    &np), 0);
			nq = naive_path(q, idx, leaves, size);
			assert_int_equal(np, nq);
			assert_memory_equal(p, q, np * 32);
			assert_int_equal(merkle_verify_inclusion(leaves[idx], idx,
			    size, (const hash_t *)p, np, root), 0);
			assert_int_equal(audit_consistency_proof(l, m, size, p,
			    &np), 0);
			assert_int_equal(merkle_verify_consistency(m, size, old,
			    root, (const hash_t *)p, np), 0);
		}
	}
	{
		int rc;

		assert_int_equal(audit_sign_head(l, key_a, NULL, NULL), 0);
		assert_int_equal(verify_bad(l, key_a, &rc), UINT64_MAX);
		assert_int_equal(rc, 0);
	}
	free(leaves);
	auditlog_close(l);
}

/* ---- HQ ingest ------------------------------------------------------------- */

/* Ship everything the post has to hq; returns the ingest result. */
static int
ship(struct auditlog *post, const struct identity *pkey, struct auditlog *hq,
    const uint8_t *pk, uint64_t *acked)
{
	struct buf b;
	uint64_t upto, seen;
	int r;

	buf_init(&b, SHIP_MSG_MAX);
	assert_int_equal(audit_ship_prepare(post, pkey, 0, &b, &upto, NULL), 0);
	if (b.len == 0) {
		buf_free(&b);
		return 1;
	}
	r = audit_ingest(hq, auditlog_node(post), pk, b.p, b.len, key_hq,
	    acked, &seen, NULL);
	if (r == 0)
		assert_int_equal(audit_mark_shipped(post, *acked), 0);
	buf_free(&b);
	return r;
}

struct count {
	int n;
	char last[AUDIT_ACTOR_MAX + 1];
};

static int
count_fn(void *ctx, const struct audit_event *ev)
{
	struct count *c = ctx;

	c->n++;
	snprintf(c->last, sizeof(c->last), "%s", ev->actor);
	return 0;
}

static void
test_ingest(void **state)
{
	char pdb[512];
	struct auditlog *post = new_log("TOKYO", pdb, sizeof(pdb));
	struct auditlog *hq = new_log("HQ", NULL, 0);
	struct audit_head h;
	struct buf old;
	uint64_t acked = 0, seen, upto;
	int found, rc;

	(void)state;
	append_n(post, key_a, 10, 0);
	assert_int_equal(ship(post, key_a, hq, key_a->pub.sign, &acked), 0);
	assert_int_equal(acked, 10);
	assert_int_equal(audit_node_head(hq, "TOKYO", &h, &found), 0);
	assert_true(found);
	assert_int_equal(h.size, 10);
	assert_int_equal(ship(post, key_a, hq, key_a->pub.sign, &acked), 1);
	/* more, in several batches of at most 7 */
	append_n(post, key_a, 20, 0);
	buf_init(&old, SHIP_MSG_MAX);
	assert_int_equal(audit_ship_prepare(post, key_a, 7, &old, &upto, NULL),
	    0);
	assert_int_equal(upto, 17);
	assert_int_equal(audit_ingest(hq, "TOKYO", key_a->pub.sign, old.p,
	    old.len, key_hq, &acked, &seen, NULL), 0);
	assert_int_equal(acked, 17);
	/* the ack was lost: the same batch again is fine */
	assert_int_equal(audit_ingest(hq, "TOKYO", key_a->pub.sign, old.p,
	    old.len, key_hq, &acked, &seen, NULL), 0);
	assert_int_equal(acked, 17);
	/* the ack lost, more written: a batch from 10 to 30 overlaps */
	{
		struct buf b;

		buf_init(&b, SHIP_MSG_MAX);
		assert_int_equal(audit_ship_prepare(post, key_a, 0, &b, &upto,
		    NULL), 0);
		assert_int_equal(upto, 30);
		assert_int_equal(audit_ingest(hq, "TOKYO", key_a->pub.sign, b.p,
		    b.len, key_hq, &acked, &seen, NULL), 0);
		assert_int_equal(acked, 30);
		assert_int_equal(audit_mark_shipped(post, 30), 0);
		buf_free(&b);
	}
	/* replaying the older head is refused */
	assert_int_equal(audit_ingest(hq, "TOKYO", key_a->pub.sign, old.p,
	    old.len, key_hq, &acked, &seen, NULL), KERR_INVALID);
	buf_free(&old);
	/* wrong key */
	append_n(post, key_a, 3, 0);
	assert_int_equal(ship(post, key_a, hq, key_b->pub.sign, &acked),
	    KERR_SIGNATURE);
	assert_int_equal(ship(post, key_a, hq, key_a->pub.sign, &acked), 0);
	assert_int_equal(acked, 33);
	/* HQ's global log holds one node-head leaf per accepted head, and
	 * HQ's own log verifies */
	assert_int_equal(verify_bad(hq, key_hq, &rc), UINT64_MAX);
	assert_int_equal(rc, 0);
	/* the post's log is wiped: HQ still knows who read what */
	auditlog_close(post);
	assert_int_equal(unlink(pdb), 0);
	{
		struct audit_filter f = { 0 };
		struct count c = { 0, "" };
		char obj[64];

		snprintf(obj, sizeof(obj), "%032x", 3);
		f.object = obj;
		f.reads_only = 1;
		assert_int_equal(audit_query(hq, &f, count_fn, &c), 0);
		assert_int_equal(c.n, 2);	/* object 3 in the runs of 10 and 20 */
		assert_string_equal(c.last, "K. SATO");
		memset(&f, 0, sizeof(f));
		memset(&c, 0, sizeof(c));
		f.node = "TOKYO";
		f.actor = "K. SATO";
		f.reads_only = 1;
		assert_int_equal(audit_query(hq, &f, count_fn, &c), 0);
		assert_int_equal(c.n, 16);	/* the odd ones of 33 */
		f.since_ns = audit_now_ns();
		memset(&c, 0, sizeof(c));
		assert_int_equal(audit_query(hq, &f, count_fn, &c), 0);
		assert_int_equal(c.n, 0);
	}
	/* a post that rewrote its history (same key, new log) is refused */
	{
		struct auditlog *forged = new_log("TOKYO", NULL, 0);

		append_n(forged, key_a, 40, 0);
		assert_int_equal(ship(forged, key_a, hq, key_a->pub.sign,
		    &acked), KERR_MISMATCH);
		auditlog_close(forged);
	}
	/* a batch that starts past what HQ holds (a gap) is refused */
	{
		struct auditlog *p2 = new_log("GENEVA", NULL, 0);
		struct buf b;

		append_n(p2, key_b, 5, 0);
		assert_int_equal(audit_mark_shipped(p2, 3), 0);
		buf_init(&b, SHIP_MSG_MAX);
		assert_int_equal(audit_ship_prepare(p2, key_b, 0, &b, &upto,
		    NULL), 0);
		assert_int_equal(audit_ingest(hq, "GENEVA", key_b->pub.sign,
		    b.p, b.len, key_hq, &acked, &seen, NULL), KERR_INVALID);
		/* and one named for another node */
		assert_int_equal(audit_ingest(hq, "TOKYO", key_b->pub.sign,
		    b.p, b.len, key_hq, &acked, &seen, NULL), KERR_INVALID);
		buf_free(&b);
		auditlog_close(p2);
	}
	auditlog_close(hq);
}

/* Several posts' batches in one transaction: each stands or falls alone. */
static void
test_ingest_many(void **state)
{
	struct auditlog *hq = new_log("HQ", NULL, 0);
	struct auditlog *p1 = new_log("TOKYO", NULL, 0);
	struct auditlog *p2 = new_log("GENEVA", NULL, 0);
	struct audit_ingest_item it[3];
	struct buf m1, m2;
	uint64_t u1, u2, size;
	int rc;

	(void)state;
	append_n(p1, key_a, 4, 0);
	append_n(p2, key_b, 6, 0);
	buf_init(&m1, SHIP_MSG_MAX);
	buf_init(&m2, SHIP_MSG_MAX);
	assert_int_equal(audit_ship_prepare(p1, key_a, 0, &m1, &u1, NULL), 0);
	assert_int_equal(audit_ship_prepare(p2, key_b, 0, &m2, &u2, NULL), 0);
	memset(it, 0, sizeof(it));
	it[0] = (struct audit_ingest_item){ .node = "TOKYO",
	    .node_pk = key_a->pub.sign, .msg = m1.p, .len = m1.len };
	it[1] = (struct audit_ingest_item){ .node = "GENEVA",
	    .node_pk = key_a->pub.sign, .msg = m2.p, .len = m2.len };
	it[2] = (struct audit_ingest_item){ .node = "GENEVA",
	    .node_pk = key_b->pub.sign, .msg = m2.p, .len = m2.len };
	assert_int_equal(audit_ingest_many(hq, it, 3, key_hq, NULL), 0);
	assert_int_equal(it[0].result, 0);
	assert_int_equal(it[0].acked, 4);
	assert_int_equal(it[1].result, KERR_SIGNATURE);
	assert_int_equal(it[1].acked, 0);
	assert_true(strstr(it[1].err.msg, "not signed") != NULL);
	assert_int_equal(it[2].result, 0);
	assert_int_equal(it[2].acked, 6);
	/* two node-head leaves in the global log, under one new head */
	assert_int_equal(audit_size(hq, &size), 0);
	assert_int_equal(size, 2);
	assert_int_equal(verify_bad(hq, key_hq, &rc), UINT64_MAX);
	assert_int_equal(rc, 0);
	/* a garbage item is refused without touching the others */
	it[0].msg = (const uint8_t *)"garbage";
	it[0].len = 7;
	assert_int_equal(audit_ingest_many(hq, it, 1, key_hq, NULL), 0);
	assert_int_not_equal(it[0].result, 0);
	buf_free(&m1);
	buf_free(&m2);
	auditlog_close(hq);
	auditlog_close(p1);
	auditlog_close(p2);
}

/* ---- HQ heads at posts -------------------------------------------------- */

static int
show(struct auditlog *hq, struct auditlog *post, uint64_t *seen)
{
	struct buf b;
	int r;

	buf_init(&b, 1 << 16);
	assert_int_equal(audit_hq_head_msg(hq, key_hq, *seen, &b, NULL), 0);
	r = audit_check_hq_head(post, key_hq->pub.sign, b.p, b.len, seen, NULL);
	buf_free(&b);
	return r;
}

static void
test_hq_fork(void **state)
{
	struct auditlog *hq_a = new_log("HQ", NULL, 0);
	struct auditlog *hq_b = new_log("HQ", NULL, 0);
	struct auditlog *p1 = new_log("TOKYO", NULL, 0);
	struct auditlog *p2 = new_log("GENEVA", NULL, 0);
	struct audit_head h1, h2;
	uint64_t s1 = 0, s2 = 0;
	int found;

	(void)state;
	/* a common history, then HQ shows one branch to each post */
	append_n(hq_a, NULL, 6, 0);
	append_n(hq_b, NULL, 0, 0);
	{
		struct audit_event ev[6];

		for (int i = 0; i < 6; i++)
			assert_int_equal(audit_get(hq_a, (uint64_t)i, &ev[i]), 0);
		assert_int_equal(audit_append(hq_b, ev, 6, NULL, NULL), 0);
	}
	assert_int_equal(show(hq_a, p1, &s1), 0);
	assert_int_equal(show(hq_b, p2, &s2), 0);
	assert_int_equal(s1, 6);
	assert_int_equal(s2, 6);
	append_n(hq_a, NULL, 3, 0);
	append_n(hq_b, NULL, 4, 0);
	assert_int_equal(show(hq_a, p1, &s1), 0);	/* consistent growth */
	assert_int_equal(show(hq_b, p2, &s2), 0);
	assert_int_equal(s1, 9);
	assert_int_equal(s2, 10);
	/* the posts compare what they were shown: HQ forked */
	assert_int_equal(audit_hq_head(p1, &h1, &found), 0);
	assert_int_equal(audit_hq_head(p2, &h2, &found), 0);
	assert_int_not_equal(h1.size, h2.size);
	/* HQ later shows p1 the other branch: p1's consistency check fails */
	{
		uint64_t before = 0, after = 0;

		assert_int_equal(audit_size(p1, &before), 0);
		assert_int_equal(show(hq_b, p1, &s1), KERR_MISMATCH);
		assert_int_equal(s1, 9);	/* p1 keeps what it had */
		assert_int_equal(audit_size(p1, &after), 0);
		assert_int_equal(after, before + 1);	/* an alert entry */
		{
			struct audit_event ev;

			assert_int_equal(audit_get(p1, before, &ev), 0);
			assert_string_equal(ev.action, "alert");
			assert_string_equal(ev.object, "audit-fork");
		}
	}
	/* same size, different root: the direct comparison */
	append_n(hq_a, NULL, 1, 0);	/* both at 10 now */
	assert_int_equal(show(hq_a, p2, &s2), KERR_MISMATCH);
	/* an older head is ignored; a head not signed by HQ is refused */
	{
		struct buf b;
		struct ship_hqhead m;
		uint64_t seen;

		buf_init(&b, 1 << 16);
		memset(&m, 0, sizeof(m));
		snprintf(m.hq, sizeof(m.hq), "HQ");
		m.head.size = 3;
		assert_int_equal(audit_root_at(hq_a, 3, m.head.root), 0);
		assert_int_equal(audit_head_sign(&m.head, "HQ", key_hq), 0);
		assert_int_equal(ship_hqhead_encode(&b, &m), 0);
		assert_int_equal(audit_check_hq_head(p1, key_hq->pub.sign, b.p,
		    b.len, &seen, NULL), 0);
		assert_int_equal(seen, 9);
		assert_int_equal(audit_check_hq_head(p1, key_a->pub.sign, b.p,
		    b.len, &seen, NULL), KERR_SIGNATURE);
		buf_free(&b);
	}
	/* pair check: identical heads pass, bad proof fails */
	assert_int_equal(audit_check_hq_head_pair(&h1, &h1, NULL, 0), 0);
	assert_int_equal(audit_check_hq_head_pair(&h1, &h2, NULL, 0),
	    KERR_MISMATCH);
	auditlog_close(hq_a);
	auditlog_close(hq_b);
	auditlog_close(p1);
	auditlog_close(p2);
}

/* ---- proofs ------------------------------------------------------------------ */

static void
test_prove(void **state)
{
	struct auditlog *post = new_log("TOKYO", NULL, 0);
	struct auditlog *hq = new_log("HQ", NULL, 0);
	struct audit_event ev;
	struct audit_head h;
	struct buf b;
	char name[AUDIT_NODE_MAX + 1];
	uint64_t acked;

	(void)state;
	append_n(hq, NULL, 5, 0);
	append_n(post, key_a, 9, 0);
	assert_int_equal(ship(post, key_a, hq, key_a->pub.sign, &acked), 0);
	append_n(hq, NULL, 2, 0);
	/* an entry of HQ's own log */
	buf_init(&b, 1 << 20);
	assert_int_equal(audit_prove(hq, key_hq, NULL, 2, &b, NULL), 0);
	assert_true(b.len < 1024);
	assert_int_equal(audit_check_proof(b.p, b.len, key_hq->pub.sign, &ev,
	    &h, name, NULL), 0);
	assert_int_equal(ev.seq, 2);
	assert_string_equal(ev.node, "HQ");
	assert_string_equal(name, "HQ");
	assert_int_equal(audit_check_proof(b.p, b.len, key_a->pub.sign, &ev,
	    &h, name, NULL), KERR_SIGNATURE);
	/* every single-bit flip of the proof is refused */
	for (size_t i = 0; i < b.len * 8; i += 3) {
		b.p[i / 8] ^= (uint8_t)(1 << (i % 8));
		assert_int_not_equal(audit_check_proof(b.p, b.len,
		    key_hq->pub.sign, &ev, &h, name, NULL), 0);
		b.p[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	b.len = 0;
	/* a post's entry: two levels */
	assert_int_equal(audit_prove(hq, key_hq, "TOKYO", 7, &b, NULL), 0);
	assert_int_equal(audit_check_proof(b.p, b.len, key_hq->pub.sign, &ev,
	    &h, name, NULL), 0);
	assert_int_equal(ev.seq, 7);
	assert_string_equal(ev.node, "TOKYO");
	assert_string_equal(ev.actor, "K. SATO");
	for (size_t i = 0; i < b.len * 8; i += 5) {
		b.p[i / 8] ^= (uint8_t)(1 << (i % 8));
		assert_int_not_equal(audit_check_proof(b.p, b.len,
		    key_hq->pub.sign, &ev, &h, name, NULL), 0);
		b.p[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	b.len = 0;
	assert_int_not_equal(audit_prove(hq, key_hq, "TOKYO", 9, &b, NULL), 0);
	assert_int_not_equal(audit_prove(hq, key_hq, "NOWHERE", 0, &b, NULL), 0);
	assert_int_not_equal(audit_prove(hq, key_hq, NULL, 1000, &b, NULL), 0);
	buf_free(&b);
	auditlog_close(post);
	auditlog_close(hq);
}

/* ---- two writers ------------------------------------------------------------ */

static void
test_two_writers(void **state)
{
	char db[512];
	struct auditlog *l = new_log("TOKYO", db, sizeof(db));
	pid_t pid[2];
	uint64_t size;
	int st, rc;

	(void)state;
	auditlog_close(l);
	for (int k = 0; k < 2; k++) {
		if ((pid[k] = fork()) == 0) {
			struct auditlog *c = reopen(db, "TOKYO");

			for (int i = 0; i < 100; i++) {
				struct audit_event ev;

				ev_make(&ev, k ? "B" : "A", "read", "x", "ok");
				if (audit_append(c, &ev, 1, i % 10 ? NULL :
				    key_a, NULL) != 0)
					_exit(1);
			}
			auditlog_close(c);
			_exit(0);
		}
		assert_true(pid[k] > 0);
	}
	for (int k = 0; k < 2; k++) {
		assert_int_equal(waitpid(pid[k], &st, 0), pid[k]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	l = reopen(db, "TOKYO");
	assert_int_equal(audit_size(l, &size), 0);
	assert_int_equal(size, 200);
	assert_int_equal(audit_sign_head(l, key_a, NULL, NULL), 0);
	assert_int_equal(verify_bad(l, key_a, &rc), UINT64_MAX);
	assert_int_equal(rc, 0);
	auditlog_close(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_codec),
		cmocka_unit_test(test_append_verify),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_tamper_rewritten),
		cmocka_unit_test(test_random_vs_naive),
		cmocka_unit_test(test_ingest),
		cmocka_unit_test(test_ingest_many),
		cmocka_unit_test(test_hq_fork),
		cmocka_unit_test(test_prove),
		cmocka_unit_test(test_two_writers),
	};

	(void)path_of;
	return cmocka_run_group_tests(tests, setup, teardown);
}
