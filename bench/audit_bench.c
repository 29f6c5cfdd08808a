/*
 * bench/audit.sh's driver (issue 5): the audit log's costs, measured
 * in-process on real SQLite files in DIR (docs/benchmarks.md, "Audit").
 *
 *   audit_bench append DIR [N]        events/s appended on a node: one per
 *                                     process (the CLI), one per transaction
 *                                     with a head each, batches of 100
 *   audit_bench ingest DIR [NODES] [BATCHES] [EVENTS]
 *                                     events/s ingested at HQ from NODES
 *                                     simulated posts (signature, leaf
 *                                     recomputation, consistency proof, HQ
 *                                     global head signed per batch)
 *   audit_bench proofs DIR [N]        build a log of N entries, then
 *                                     inclusion and consistency proof sizes
 *                                     and times (generate + verify)
 *   audit_bench readpath DIR [N]      open + render of one telegram, alone
 *                                     and with the CLI's audit record
 *
 * Output: one "name value unit" line per figure, for bench/audit.sh.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/auditlog.h"
#include "audit/journal.h"
#include "audit/ship.h"
#include "telegram/envelope.h"
#include "telegram/tg.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, int r, const struct kerr *e)
{
	fprintf(stderr, "audit_bench: %s: %s\n", what, kerr_msg(e, r));
	exit(1);
}

static struct auditlog *
open_at(const char *dir, const char *file, const char *node)
{
	struct auditlog *l;
	struct kerr e = { "" };
	char db[4096], wit[4200];
	int r;

	snprintf(db, sizeof(db), "%s/%s.db", dir, file);
	snprintf(wit, sizeof(wit), "%s/%s.head", dir, file);
	if ((r = auditlog_open(&l, db, node, wit, &e)) != 0)
		die("open", r, &e);
	return l;
}

static void
event(struct audit_event *ev, uint64_t i)
{
	char obj[40];

	memset(ev, 0, sizeof(*ev));
	snprintf(obj, sizeof(obj), "%032" PRIx64, i * 2654435761u);
	audit_event_set(ev, i % 3 ? "K. SATO" : "T. YAMADA",
	    "cli pid=4242 uid=1000", "read", obj, "ok", "to screen");
}

static void
bench_append(const char *dir, uint64_t n)
{
	struct identity *key;
	struct audit_event ev[100];
	struct kerr e = { "" };
	struct auditlog *l;
	double t0, t;
	int r;

	if (identity_generate(&key, "TOKYO") != 0)
		exit(1);
	/* the CLI: open, append one with a head, close (kodend holds the
	 * file open meanwhile, as on a running node) */
	l = open_at(dir, "cli", "TOKYO");
	t0 = now();
	for (uint64_t i = 0; i < n / 4; i++) {
		struct auditlog *c = open_at(dir, "cli", "TOKYO");

		event(&ev[0], i);
		if ((r = audit_append(c, ev, 1, key, &e)) != 0)
			die("append", r, &e);
		auditlog_close(c);
	}
	t = now() - t0;
	auditlog_close(l);
	printf("append_cli_per_s %.0f events/s\n", (double)(n / 4) / t);
	printf("append_cli_ms %.3f ms/event\n", t * 1e3 / (double)(n / 4));
	/* kodend, one event per transaction, each with a signed head */
	l = open_at(dir, "one", "TOKYO");
	t0 = now();
	for (uint64_t i = 0; i < n; i++) {
		event(&ev[0], i);
		if ((r = audit_append(l, ev, 1, key, &e)) != 0)
			die("append", r, &e);
	}
	t = now() - t0;
	printf("append_one_per_s %.0f events/s\n", (double)n / t);
	auditlog_close(l);
	/* kodend, batches of 100, a head per batch */
	l = open_at(dir, "batch", "TOKYO");
	t0 = now();
	for (uint64_t i = 0; i < n * 10; i += 100) {
		for (int k = 0; k < 100; k++)
			event(&ev[k], i + (uint64_t)k);
		if ((r = audit_append(l, ev, 100, key, &e)) != 0)
			die("append", r, &e);
	}
	t = now() - t0;
	printf("append_batch100_per_s %.0f events/s\n", (double)(n * 10) / t);
	auditlog_close(l);
	identity_free(key);
}

static void
bench_ingest(const char *dir, int nodes, int batches, int per)
{
	struct identity *hqkey, **keys;
	struct buf **msg;
	struct auditlog *hq;
	struct kerr e = { "" };
	double t0, t;
	uint64_t total = 0;
	int r;

	if (identity_generate(&hqkey, "HQ") != 0 ||
	    (keys = calloc((size_t)nodes, sizeof(*keys))) == NULL ||
	    (msg = calloc((size_t)nodes, sizeof(*msg))) == NULL)
		exit(1);
	/* each simulated post: its own log, its batches prepared (not timed) */
	for (int i = 0; i < nodes; i++) {
		char name[32], file[48];
		struct auditlog *p;
		struct audit_event *ev = calloc((size_t)per, sizeof(*ev));

		snprintf(name, sizeof(name), "POST%03d", i);
		snprintf(file, sizeof(file), "post%03d", i);
		if (ev == NULL || identity_generate(&keys[i], name) != 0 ||
		    (msg[i] = calloc((size_t)batches, sizeof(struct buf))) ==
		    NULL)
			exit(1);
		p = open_at(dir, file, name);
		for (int b = 0; b < batches; b++) {
			uint64_t upto;

			for (int k = 0; k < per; k++)
				event(&ev[k], (uint64_t)(b * per + k));
			if ((r = audit_append(p, ev, (size_t)per, NULL, &e)) != 0)
				die("append", r, &e);
			buf_init(&msg[i][b], SHIP_MSG_MAX);
			if ((r = audit_ship_prepare(p, keys[i], 0, &msg[i][b],
			    &upto, &e)) != 0 ||
			    (r = audit_mark_shipped(p, upto)) != 0)
				die("prepare", r, &e);
		}
		auditlog_close(p);
		free(ev);
	}
	/* one transaction per batch (audit_ingest) for the first half of the
	 * rounds, then the batches of all posts of one round grouped by 25 in
	 * one transaction each (audit_ingest_many, as kodend does with what
	 * arrived during one turn of its loop) */
	hq = open_at(dir, "hq", "HQ");
	t0 = now();
	for (int b = 0; b < batches / 2; b++)
		for (int i = 0; i < nodes; i++) {
			uint64_t acked, seen;
			char name[32];

			snprintf(name, sizeof(name), "POST%03d", i);
			if ((r = audit_ingest(hq, name, keys[i]->pub.sign,
			    msg[i][b].p, msg[i][b].len, hqkey, &acked, &seen,
			    &e)) != 0)
				die("ingest", r, &e);
			total += (uint64_t)per;
		}
	t = now() - t0;
	printf("ingest_nodes %d\n", nodes);
	printf("ingest_batch_events %d\n", per);
	printf("ingest_per_s %.0f events/s\n", (double)total / t);
	printf("ingest_batches_per_s %.0f batches/s\n",
	    (double)(nodes * (batches / 2)) / t);
	total = 0;
	t0 = now();
	for (int b = batches / 2; b < batches; b++)
		for (int i = 0; i < nodes; i += 25) {
			struct audit_ingest_item it[25];
			char name[25][32];
			int k = nodes - i < 25 ? nodes - i : 25;

			memset(it, 0, sizeof(it));
			for (int j = 0; j < k; j++) {
				snprintf(name[j], sizeof(name[j]), "POST%03d", i + j);
				it[j].node = name[j];
				it[j].node_pk = keys[i + j]->pub.sign;
				it[j].msg = msg[i + j][b].p;
				it[j].len = msg[i + j][b].len;
			}
			if ((r = audit_ingest_many(hq, it, (size_t)k, hqkey,
			    &e)) != 0)
				die("ingest_many", r, &e);
			for (int j = 0; j < k; j++)
				if (it[j].result != 0)
					die("ingest item", it[j].result, &it[j].err);
			total += (uint64_t)(per * k);
		}
	t = now() - t0;
	printf("ingest_grouped_per_s %.0f events/s\n", (double)total / t);
	auditlog_close(hq);
	for (int i = 0; i < nodes; i++) {
		for (int b = 0; b < batches; b++)
			buf_free(&msg[i][b]);
		free(msg[i]);
		identity_free(keys[i]);
	}
	free(msg);
	free(keys);
	identity_free(hqkey);
}

static void
bench_proofs(const char *dir, uint64_t n)
{
	struct auditlog *l = open_at(dir, "big", "HQ");
	struct identity *key;
	struct audit_event *ev = calloc(AUDIT_BATCH_MAX, sizeof(*ev));
	struct audit_head h;
	struct kerr e = { "" };
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH], leaf[MERKLE_HASH];
	uint8_t old[MERKLE_HASH];
	uint64_t size;
	double t0, tg = 0, tv = 0, tb;
	size_t np, maxnp = 0, maxcp = 0;
	const int runs = 1000;
	int r;

	if (ev == NULL || identity_generate(&key, "HQ") != 0)
		exit(1);
	if ((r = audit_size(l, &size)) != 0)
		die("size", r, NULL);
	t0 = now();
	while (size < n) {
		size_t k = n - size > AUDIT_BATCH_MAX ? AUDIT_BATCH_MAX :
		    (size_t)(n - size);

		for (size_t i = 0; i < k; i++)
			event(&ev[i], size + i);
		if ((r = audit_append(l, ev, k, NULL, &e)) != 0)
			die("append", r, &e);
		size += k;
	}
	tb = now() - t0;
	if (tb > 0.5)
		printf("proofs_build_per_s %.0f events/s\n", (double)n / tb);
	if ((r = audit_sign_head(l, key, &h, &e)) != 0)
		die("head", r, &e);
	printf("proofs_log_entries %" PRIu64 "\n", h.size);
	/* inclusion: random leaves of the whole log; the first pass finds the
	 * file's pages cold (not yet mapped in), the second warm */
	for (int pass = 0; pass < 2; pass++) {
	tg = tv = 0;
	for (int i = 0; i < runs; i++) {
		uint64_t idx = (uint64_t)randombytes_uniform((uint32_t)
		    (h.size > UINT32_MAX ? UINT32_MAX : h.size));
		struct audit_event got;

		t0 = now();
		if ((r = audit_inclusion_proof(l, idx, h.size, proof, &np)) != 0)
			die("inclusion", r, NULL);
		tg += now() - t0;
		if (audit_get(l, idx, &got) != 0 ||
		    audit_event_leaf(leaf, &got) != 0)
			exit(1);
		t0 = now();
		if (merkle_verify_inclusion(leaf, idx, h.size,
		    (const uint8_t (*)[MERKLE_HASH])proof, np, h.root) != 0)
			die("verify inclusion", KERR_MISMATCH, NULL);
		tv += now() - t0;
		if (np > maxnp)
			maxnp = np;
	}
	if (pass == 0)
		printf("inclusion_gen_cold_us %.1f us\n", tg * 1e6 / runs);
	}
	printf("inclusion_hashes_max %zu\n", maxnp);
	printf("inclusion_bytes_max %zu bytes\n", maxnp * MERKLE_HASH);
	printf("inclusion_gen_us %.1f us\n", tg * 1e6 / runs);
	printf("inclusion_verify_us %.1f us\n", tv * 1e6 / runs);
	/* the proof file for a third party (audit prove) */
	{
		struct buf b;

		buf_init(&b, 1 << 20);
		t0 = now();
		if ((r = audit_prove(l, NULL, NULL, h.size / 3, &b, &e)) != 0)
			die("prove", r, &e);
		printf("prove_file_bytes %zu bytes\n", b.len);
		buf_free(&b);
	}
	/* consistency: random old sizes */
	tg = tv = 0;
	for (int i = 0; i < runs; i++) {
		uint64_t m = 1 + (uint64_t)randombytes_uniform((uint32_t)
		    (h.size - 1 > UINT32_MAX ? UINT32_MAX : h.size - 1));

		if ((r = audit_root_at(l, m, old)) != 0)
			die("root", r, NULL);
		t0 = now();
		if ((r = audit_consistency_proof(l, m, h.size, proof, &np)) != 0)
			die("consistency", r, NULL);
		tg += now() - t0;
		t0 = now();
		if (merkle_verify_consistency(m, h.size, old, h.root,
		    (const uint8_t (*)[MERKLE_HASH])proof, np) != 0)
			die("verify consistency", KERR_MISMATCH, NULL);
		tv += now() - t0;
		if (np > maxcp)
			maxcp = np;
	}
	printf("consistency_hashes_max %zu\n", maxcp);
	printf("consistency_bytes_max %zu bytes\n", maxcp * MERKLE_HASH);
	printf("consistency_gen_us %.1f us\n", tg * 1e6 / runs);
	printf("consistency_verify_us %.1f us\n", tv * 1e6 / runs);
	{
		struct stat sb;
		char db[4096];

		snprintf(db, sizeof(db), "%s/big.db", dir);
		if (stat(db, &sb) == 0)
			printf("proofs_db_bytes_per_entry %.0f bytes\n",
			    (double)sb.st_size / (double)h.size);
	}
	free(ev);
	identity_free(key);
	auditlog_close(l);
}

static void
bench_readpath(const char *dir, int n)
{
	static const char draft[] =
	    "FROM: TOKYO\nTO: GENEVA\nPRECEDENCE: IMMEDIATE\n"
	    "CLASSIFICATION: SECRET\nSUBJECT: Audit benchmark\n"
	    "DRAFTER: K. SATO\n\n1. Summary. The consultations went well.\n\n"
	    "2. Details follow by separate telegram.\n";
	struct identity *me, *node;
	struct tg_policy pol;
	struct tg *t = NULL;
	struct kerr e = { "" };
	struct buf env;
	double t0, base, cli, kd;
	struct auditlog *kl;
	int r;

	if (identity_generate(&me, "K. SATO") != 0 ||
	    identity_generate(&node, "GENEVA") != 0)
		exit(1);
	tg_policy_default(&pol);
	buf_init(&env, ENV_MAX);
	if ((r = tg_parse_draft(&t, draft, strlen(draft), &pol, &e)) != 0)
		die("draft", r, &e);
	tg_new_id(t->id);
	t->dtg = (uint64_t)time(NULL);
	if ((r = env_seal(&env, t, me, me, &node->pub, 1, &e)) != 0)
		die("seal", r, &e);
	tg_free(t);
	/* base: what a read does to the telegram itself */
#define OPEN_RENDER() do { \
		struct tg *o = NULL; \
		struct env_header h; \
		struct pubkey d; \
		struct buf txt; \
		buf_init_secret(&txt, 1 << 20); \
		if ((r = env_open(&o, &d, &h, env.p, env.len, node, &e)) != 0 || \
		    (r = tg_render(o, &txt)) != 0) \
			die("open", r, &e); \
		tg_free(o); \
		buf_free(&txt); \
	} while (0)
	/*
	 * Each iteration times a bare read, one with koden's record (open the
	 * journal, append, close) and one with kodend's (the journal held
	 * open), in turn, so that the machine's drift falls on all three.
	 */
	kl = open_at(dir, "audit", "GENEVA");	/* NODEDIR's audit.db */
	{
		struct audit_journal *j;
		double t1;

		if ((r = audit_journal_open(&j, dir, &e)) != 0)
			die("journal", r, &e);
		base = cli = kd = 0;
		for (int i = 0; i < n; i++) {
			struct audit_event ev;

			t0 = now();
			OPEN_RENDER();
			t1 = now();
			base += t1 - t0;
			OPEN_RENDER();
			event(&ev, (uint64_t)i);
			if ((r = audit_journal_append_dir(dir, &ev, &e)) != 0)
				die("journal", r, &e);
			t0 = now();
			cli += t0 - t1;
			OPEN_RENDER();
			event(&ev, (uint64_t)i);
			if ((r = audit_journal_append(j, &ev, &e)) != 0)
				die("journal", r, &e);
			kd += now() - t0;
		}
		base /= n;
		cli /= n;
		kd /= n;
		audit_journal_close(j);
	}
	/*
	 * Off the read path: the writer moving those 2n events into the log
	 * (one transaction per 256, as it does under load) and, for scale,
	 * one event per transaction (an idle node: each read on its own).
	 */
	{
		size_t got = 0;
		double mv, one;

		t0 = now();
		if ((r = audit_journal_apply(kl, dir, NULL, &got, &e)) != 0)
			die("apply", r, &e);
		mv = (now() - t0) / (double)(got ? got : 1);
		t0 = now();
		for (int i = 0; i < n; i++) {
			struct audit_event ev;

			event(&ev, (uint64_t)i);
			if ((r = audit_journal_append_dir(dir, &ev, &e)) != 0 ||
			    (r = audit_journal_apply(kl, dir, NULL, NULL,
			    &e)) != 0)
				die("apply", r, &e);
		}
		one = (now() - t0) / n;
		printf("journal_apply_batched_us %.1f us\n", mv * 1e6);
		printf("journal_apply_single_us %.1f us\n", one * 1e6);
	}
	auditlog_close(kl);
	printf("read_open_render_us %.1f us\n", base * 1e6);
	printf("read_with_cli_journal_us %.1f us\n", cli * 1e6);
	printf("read_with_kodend_journal_us %.1f us\n", kd * 1e6);
	buf_free(&env);
	identity_free(me);
	identity_free(node);
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0 || argc < 3) {
		fprintf(stderr, "usage: audit_bench append|ingest|proofs|readpath "
		    "DIR [ARGS]\n");
		return 2;
	}
	if (strcmp(argv[1], "append") == 0)
		bench_append(argv[2], argc > 3 ? strtoull(argv[3], NULL, 10) :
		    2000);
	else if (strcmp(argv[1], "ingest") == 0)
		bench_ingest(argv[2], argc > 3 ? atoi(argv[3]) : 250,
		    argc > 4 ? atoi(argv[4]) : 4, argc > 5 ? atoi(argv[5]) : 100);
	else if (strcmp(argv[1], "proofs") == 0)
		bench_proofs(argv[2], argc > 3 ? strtoull(argv[3], NULL, 10) :
		    10000000);
	else if (strcmp(argv[1], "readpath") == 0)
		bench_readpath(argv[2], argc > 3 ? atoi(argv[3]) : 500);
	else
		return 2;
	return 0;
}
