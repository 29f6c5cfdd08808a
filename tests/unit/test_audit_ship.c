/*
 * Audit wire encodings (src/audit/ship.c): round trips of each message,
 * then hostile input: every truncation, a trailing byte, a wrong version
 * or type, counts over their caps, a count that lies about the bytes that
 * follow, entries out of sequence or of another node, entries that do not
 * end at the head, an empty or over-long name.  With KODEN_WRITE_CORPUS=DIR
 * the valid messages are written there as fuzz seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/ship.h"

static void
seed(const char *name, const struct buf *b)
{
	const char *d = getenv("KODEN_WRITE_CORPUS");
	char path[1024];
	FILE *f;

	if (d == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", d, name);
	if ((f = fopen(path, "wb")) != NULL) {
		fwrite(b->p, 1, b->len, f);
		fclose(f);
	}
}

static void
make_batch(struct ship_batch *b, size_t n, uint64_t first)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->node, sizeof(b->node), "TOKYO");
	b->hq_seen = 42;
	b->first = first;
	b->head.size = first + n;
	b->head.time_ns = 1700000000000000000ull;
	randombytes_buf(b->head.root, sizeof(b->head.root));
	randombytes_buf(b->head.sig, sizeof(b->head.sig));
	b->nproof = first ? 3 : 0;
	randombytes_buf(b->proof, sizeof(b->proof));
	b->n = n;
	b->ev = calloc(n ? n : 1, sizeof(*b->ev));
	assert_non_null(b->ev);
	for (size_t i = 0; i < n; i++) {
		audit_event_set(&b->ev[i], "K. SATO", "cli pid=1", "read",
		    "00112233445566778899aabbccddeeff", "ok", "to screen");
		snprintf(b->ev[i].node, sizeof(b->ev[i].node), "TOKYO");
		b->ev[i].seq = first + i;
	}
}

static void
test_batch_roundtrip(void **state)
{
	struct ship_batch b, d;
	struct buf out, again;
	struct kerr e = { "" };

	(void)state;
	make_batch(&b, 5, 10);
	buf_init(&out, SHIP_MSG_MAX);
	assert_int_equal(ship_batch_encode(&out, &b), 0);
	seed("batch", &out);
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, &e), 0);
	assert_string_equal(d.node, "TOKYO");
	assert_int_equal(d.hq_seen, 42);
	assert_int_equal(d.first, 10);
	assert_int_equal(d.n, 5);
	assert_int_equal(d.nproof, 3);
	assert_memory_equal(&d.head, &b.head, sizeof(b.head));
	assert_memory_equal(d.proof, b.proof, 3 * MERKLE_HASH);
	assert_memory_equal(d.ev, b.ev, 5 * sizeof(*b.ev));
	buf_init(&again, SHIP_MSG_MAX);
	assert_int_equal(ship_batch_encode(&again, &d), 0);
	assert_int_equal(again.len, out.len);
	assert_memory_equal(again.p, out.p, out.len);
	ship_batch_free(&d);
	/* every truncation and a trailing byte fail */
	for (size_t n = 0; n < out.len; n++) {
		assert_int_not_equal(ship_batch_decode(&d, out.p, n, NULL), 0);
		ship_batch_free(&d);
	}
	assert_int_equal(buf_put_u8(&out, 0), 0);
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL),
	    KERR_FORMAT);
	ship_batch_free(&d);
	out.len--;
	/* version, type */
	out.p[0] = 2;
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL),
	    KERR_VERSION);
	ship_batch_free(&d);
	out.p[0] = 1;
	out.p[1] = SHIP_HQHEAD;
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL),
	    KERR_FORMAT);
	ship_batch_free(&d);
	out.p[1] = SHIP_BATCH;
	buf_free(&again);
	buf_free(&out);
	ship_batch_free(&b);
	/* an empty batch (the head only) round-trips too */
	make_batch(&b, 0, 7);
	buf_init(&out, SHIP_MSG_MAX);
	assert_int_equal(ship_batch_encode(&out, &b), 0);
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL), 0);
	assert_int_equal(d.n, 0);
	ship_batch_free(&d);
	ship_batch_free(&b);
	buf_free(&out);
}

/* Offsets in a batch of TOKYO: 2 + 1 + 5 (name) = 8: hq_seen; 16: head
 * (112 bytes); 128: first; 136: proof count. */
#define OFF_SIZE 16
#define OFF_FIRST 128
#define OFF_NPROOF 136

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void
test_batch_hostile(void **state)
{
	struct ship_batch b, d;
	struct buf out;
	size_t ncount;

	(void)state;
	make_batch(&b, 3, 4);
	buf_init(&out, SHIP_MSG_MAX);
	assert_int_equal(ship_batch_encode(&out, &b), 0);
	ncount = OFF_NPROOF + 1 + 3 * MERKLE_HASH;
	/* entries that do not end at the head */
	put64(out.p + OFF_SIZE, 8);
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL),
	    KERR_FORMAT);
	ship_batch_free(&d);
	put64(out.p + OFF_SIZE, 2);	/* size < n: no underflow */
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL),
	    KERR_FORMAT);
	ship_batch_free(&d);
	put64(out.p + OFF_SIZE, 7);
	/* first off by one: the entries' seqs do not match */
	put64(out.p + OFF_FIRST, 5);
	put64(out.p + OFF_SIZE, 8);
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL),
	    KERR_FORMAT);
	ship_batch_free(&d);
	put64(out.p + OFF_FIRST, 4);
	put64(out.p + OFF_SIZE, 7);
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL), 0);
	ship_batch_free(&d);
	/* a proof count over MERKLE_PROOF_MAX */
	out.p[OFF_NPROOF] = MERKLE_PROOF_MAX + 1;
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL),
	    KERR_TOOBIG);
	ship_batch_free(&d);
	out.p[OFF_NPROOF] = 3;
	/* an entry count over the cap, and one that lies */
	out.p[ncount] = 0xff;
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL),
	    KERR_TOOBIG);
	ship_batch_free(&d);
	out.p[ncount] = 0;
	out.p[ncount + 2] = 0x10;	/* 4099 entries claimed, 3 present */
	put64(out.p + OFF_SIZE, 4 + 4099);
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL),
	    KERR_TRUNCATED);
	ship_batch_free(&d);
	buf_free(&out);
	ship_batch_free(&b);
	/* the encoder refuses inconsistent batches */
	make_batch(&b, 3, 4);
	buf_init(&out, SHIP_MSG_MAX);
	b.ev[1].seq = 9;
	assert_int_equal(ship_batch_encode(&out, &b), KERR_INVALID);
	b.ev[1].seq = 5;
	b.head.size = 9;
	assert_int_equal(ship_batch_encode(&out, &b), KERR_INVALID);
	b.head.size = 7;
	/* an entry of another node */
	snprintf(b.ev[2].node, sizeof(b.ev[2].node), "GENEVA");
	out.len = 0;
	assert_int_equal(ship_batch_encode(&out, &b), 0);
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL),
	    KERR_FORMAT);
	ship_batch_free(&d);
	/* an empty and an over-long node name */
	snprintf(b.ev[2].node, sizeof(b.ev[2].node), "TOKYO");
	b.node[0] = '\0';
	out.len = 0;
	assert_int_not_equal(ship_batch_encode(&out, &b), 0);
	memset(b.node, 'A', AUDIT_NODE_MAX);
	b.node[AUDIT_NODE_MAX] = '\0';
	for (size_t i = 0; i < 3; i++)
		snprintf(b.ev[i].node, sizeof(b.ev[i].node), "%s", b.node);
	out.len = 0;
	assert_int_equal(ship_batch_encode(&out, &b), 0);
	assert_int_equal(ship_batch_decode(&d, out.p, out.len, NULL), 0);
	ship_batch_free(&d);
	out.p[2] = AUDIT_NODE_MAX + 1;	/* name length past the cap */
	assert_int_not_equal(ship_batch_decode(&d, out.p, out.len, NULL), 0);
	ship_batch_free(&d);
	buf_free(&out);
	ship_batch_free(&b);
	/* garbage never decodes to anything that does not re-encode */
	for (int i = 0; i < 2000; i++) {
		uint8_t g[300];
		size_t n = randombytes_uniform(sizeof(g));

		randombytes_buf(g, n);
		if (n >= 2) {
			g[0] = 1;
			g[1] = SHIP_BATCH;
		}
		if (ship_batch_decode(&d, g, n, NULL) == 0) {
			buf_init(&out, SHIP_MSG_MAX);
			assert_int_equal(ship_batch_encode(&out, &d), 0);
			assert_int_equal(out.len, n);
			buf_free(&out);
		}
		ship_batch_free(&d);
	}
}

static void
test_hqhead(void **state)
{
	struct ship_hqhead h, d;
	struct buf out;

	(void)state;
	memset(&h, 0, sizeof(h));
	snprintf(h.hq, sizeof(h.hq), "HQ");
	h.head.size = 100;
	h.since = 60;
	h.nproof = 4;
	randombytes_buf(h.proof, sizeof(h.proof));
	randombytes_buf(h.head.root, sizeof(h.head.root));
	buf_init(&out, 4096);
	assert_int_equal(ship_hqhead_encode(&out, &h), 0);
	seed("hqhead", &out);
	assert_int_equal(ship_hqhead_decode(&d, out.p, out.len, NULL), 0);
	assert_int_equal(d.since, 60);
	assert_int_equal(d.nproof, 4);
	assert_memory_equal(d.proof, h.proof, 4 * MERKLE_HASH);
	assert_memory_equal(&d.head, &h.head, sizeof(h.head));
	for (size_t n = 0; n < out.len; n++)
		assert_int_not_equal(ship_hqhead_decode(&d, out.p, n, NULL), 0);
	assert_int_equal(buf_put_u8(&out, 0), 0);
	assert_int_equal(ship_hqhead_decode(&d, out.p, out.len, NULL),
	    KERR_FORMAT);
	buf_free(&out);
	/* a proof from beyond the head */
	h.since = 101;
	buf_init(&out, 4096);
	assert_int_equal(ship_hqhead_encode(&out, &h), 0);
	assert_int_equal(ship_hqhead_decode(&d, out.p, out.len, NULL),
	    KERR_FORMAT);
	buf_free(&out);
	h.since = 60;
	h.nproof = MERKLE_PROOF_MAX + 1;
	buf_init(&out, 4096);
	assert_int_equal(ship_hqhead_encode(&out, &h), KERR_TOOBIG);
	buf_free(&out);
}

static void
test_proof(void **state)
{
	struct ship_proof *p = calloc(1, sizeof(*p)), *d = calloc(1, sizeof(*d));
	struct buf out, again;

	(void)state;
	assert_non_null(p);
	assert_non_null(d);
	snprintf(p->hq, sizeof(p->hq), "HQ");
	p->head.size = 9;
	audit_event_set(&p->entry, "kodend", "TOKYO", "node-head", "TOKYO",
	    "ok", "size=3");
	snprintf(p->entry.node, sizeof(p->entry.node), "HQ");
	p->npath = 4;
	p->two_level = 1;
	snprintf(p->node, sizeof(p->node), "TOKYO");
	audit_event_set(&p->inner, "K. SATO", "cli", "read", "00ff", "ok", "");
	snprintf(p->inner.node, sizeof(p->inner.node), "TOKYO");
	p->inner_npath = 2;
	buf_init(&out, 1 << 16);
	assert_int_equal(ship_proof_encode(&out, p), 0);
	seed("proof", &out);
	assert_int_equal(ship_proof_decode(d, out.p, out.len, NULL), 0);
	buf_init(&again, 1 << 16);
	assert_int_equal(ship_proof_encode(&again, d), 0);
	assert_int_equal(again.len, out.len);
	assert_memory_equal(again.p, out.p, out.len);
	for (size_t n = 0; n < out.len; n++)
		assert_int_not_equal(ship_proof_decode(d, out.p, n, NULL), 0);
	/* the two_level flag must be 0 or 1 */
	{
		size_t at = 2 + 1 + 2 + 112 + 4;
		uint32_t elen = (uint32_t)out.p[at - 4] << 24 |
		    (uint32_t)out.p[at - 3] << 16 | (uint32_t)out.p[at - 2] << 8 |
		    out.p[at - 1];

		at += elen + 1 + 4 * MERKLE_HASH;
		assert_int_equal(out.p[at], 1);
		out.p[at] = 2;
		assert_int_equal(ship_proof_decode(d, out.p, out.len, NULL),
		    KERR_FORMAT);
		out.p[at] = 0;	/* then the inner part is trailing bytes */
		assert_int_equal(ship_proof_decode(d, out.p, out.len, NULL),
		    KERR_FORMAT);
	}
	buf_free(&out);
	buf_free(&again);
	free(p);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_roundtrip),
		cmocka_unit_test(test_batch_hostile),
		cmocka_unit_test(test_hqhead),
		cmocka_unit_test(test_proof),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
