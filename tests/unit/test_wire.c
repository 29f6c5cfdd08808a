/*
 * The node channel's wire format (docs/protocol.md): records, reassembly of
 * interleaved streams under its three caps, and the hello, welcome, ack and
 * sync messages.  Exact bytes, every truncation, trailing bytes, bad values,
 * limits at and one past the cap, and wire_sync_has against a naive
 * reference on random syncs.
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

#include "node/wire.h"

/*
 * Allocation watch.  The sync decoder must check every count it reads
 * against the bytes left before it allocates for it.  Outside AddressSanitizer
 * builds (which bring their own calloc) this program's calloc records the
 * largest request made while armed, and forwards to glibc's.
 */
#if defined(__SANITIZE_ADDRESS__)
#define WATCH_ALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WATCH_ALLOC 0
#endif
#endif
#if !defined(WATCH_ALLOC) && defined(__GLIBC__)
#define WATCH_ALLOC 1
#endif
#ifndef WATCH_ALLOC
#define WATCH_ALLOC 0
#endif

static int watch_on;
static size_t watch_max;

#if WATCH_ALLOC
extern void *__libc_calloc(size_t n, size_t size);

void *
calloc(size_t n, size_t size)
{
	if (watch_on) {
		size_t want = size != 0 && n > SIZE_MAX / size ? SIZE_MAX :
		    n * size;

		if (want > watch_max)
			watch_max = want;
	}
	return __libc_calloc(n, size);
}
#endif

static void
watch_start(void)
{
	watch_max = 0;
	watch_on = 1;
}

/* Fails if anything allocated more than limit bytes since watch_start. */
static void
watch_check(size_t limit)
{
	watch_on = 0;
	if (WATCH_ALLOC && watch_max > limit)
		fail_msg("decoder allocated %zu bytes (at most %zu expected)",
		    watch_max, limit);
}

/* A deterministic generator, so that a failure can be replayed. */
static uint64_t rng_state = 0x6b6f64656e2d7769ull;

static uint64_t
rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t
rng_below(uint64_t n)
{
	return rng() % n;
}

static void
rng_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

/* A decoder behind one signature, so truncations can be run generically. */
typedef int (*decode_fn)(const uint8_t *p, size_t len, struct kerr *e);

static int
dec_hello(const uint8_t *p, size_t len, struct kerr *e)
{
	struct wire_hello h;

	return wire_hello_decode(&h, p, len, e);
}

static int
dec_welcome(const uint8_t *p, size_t len, struct kerr *e)
{
	struct wire_welcome w;

	return wire_welcome_decode(&w, p, len, e);
}

static int
dec_ack(const uint8_t *p, size_t len, struct kerr *e)
{
	struct wire_ack a;

	return wire_ack_decode(&a, p, len, e);
}

static int
dec_sync(const uint8_t *p, size_t len, struct kerr *e)
{
	struct wire_sync s;
	int r = wire_sync_decode(&s, p, len, e);

	if (r != 0) {
		/* a failed decode leaves nothing to free */
		assert_int_equal(s.n, 0);
		assert_null(s.o);
	}
	wire_sync_free(&s);
	return r;
}

/* Every proper prefix is rejected with a message; so is one byte more. */
static void
check_truncations_and_trailing(decode_fn dec, const uint8_t *p, size_t len)
{
	uint8_t *q = malloc(len + 1);
	struct kerr e;

	assert_non_null(q);
	memcpy(q, p, len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *exact = malloc(n ? n : 1);	/* ASan sees overreads */

		assert_non_null(exact);
		memcpy(exact, p, n);
		e.msg[0] = '\0';
		if (dec(exact, n, &e) == 0)
			fail_msg("prefix of %zu of %zu bytes accepted", n, len);
		assert_true(e.msg[0] != '\0');
		free(exact);
	}
	for (unsigned v = 0; v < 256; v += 85) {
		q[len] = (uint8_t)v;
		e.msg[0] = '\0';
		if (dec(q, len + 1, &e) == 0)
			fail_msg("trailing byte 0x%02x accepted", v);
		assert_true(e.msg[0] != '\0');
	}
	assert_int_equal(dec(q, len, NULL), 0);
	free(q);
}

static void
expect_bytes(const struct buf *b, const uint8_t *want, size_t len)
{
	assert_int_equal(b->len, len);
	assert_memory_equal(b->p, want, len);
}

/* ---- records ----------------------------------------------------------- */

static void
test_rec_roundtrip(void **state)
{
	static const uint32_t streams[] = { 0, 1, 0x01020304, 0xffffffff };
	static const size_t lens[] = { 0, 1, 1000, WIRE_CHUNK };
	static uint8_t data[WIRE_CHUNK];
	struct kerr e = { "" };
	struct wire_rec r;
	struct buf b;

	(void)state;
	rng_fill(data, sizeof(data));
	buf_init(&b, WIRE_FRAME_MAX);
	for (uint8_t type = WIRE_TELEGRAM; type <= WIRE_AUDIT_ACK; type++)
	for (uint8_t prec = 1; prec <= 4; prec++)
	for (uint8_t flags = 0; flags <= WIRE_FIN; flags++)
	for (size_t si = 0; si < 4; si++)
	for (size_t li = 0; li < 4; li++) {
		b.len = 0;
		assert_int_equal(wire_rec_header(&b, type, prec, streams[si],
		    flags), 0);
		assert_int_equal(b.len, WIRE_REC_HDR);
		assert_int_equal(b.p[0], type);
		assert_int_equal(b.p[1], prec);
		assert_int_equal(b.p[2], streams[si] >> 24);
		assert_int_equal(b.p[5], streams[si] & 0xff);
		assert_int_equal(b.p[6], flags);
		assert_int_equal(buf_put(&b, data, lens[li]), 0);
		if (wire_rec_parse(&r, b.p, b.len, &e) != 0)
			fail_msg("record rejected: %s", e.msg);
		assert_int_equal(r.type, type);
		assert_int_equal(r.prec, prec);
		assert_int_equal(r.stream, streams[si]);
		assert_int_equal(r.flags, flags);
		assert_int_equal(r.len, lens[li]);
		assert_ptr_equal(r.data, b.p + WIRE_REC_HDR);
		assert_memory_equal(r.data, data, lens[li]);
	}
	buf_free(&b);
}

static void
test_rec_bad(void **state)
{
	static uint8_t p[WIRE_REC_HDR + WIRE_CHUNK + 1];
	const uint8_t good[WIRE_REC_HDR] = { WIRE_ACK, 4, 0, 0, 0, 9, 1 };
	struct kerr e;
	struct wire_rec r;
	uint8_t q[WIRE_REC_HDR];

	(void)state;
	for (size_t n = 0; n < WIRE_REC_HDR; n++) {
		assert_int_equal(wire_rec_parse(&r, good, n, &e),
		    KERR_TRUNCATED);
		assert_non_null(strstr(e.msg, "header"));
	}
	assert_int_equal(wire_rec_parse(&r, good, sizeof(good), &e), 0);
	assert_int_equal(r.len, 0);

	static const uint8_t bad_type[] = { 0, 10, 11, 0x80, 0xff };
	for (size_t i = 0; i < sizeof(bad_type); i++) {
		memcpy(q, good, sizeof(q));
		q[0] = bad_type[i];
		assert_int_equal(wire_rec_parse(&r, q, sizeof(q), &e),
		    KERR_FORMAT);
		assert_non_null(strstr(e.msg, "unknown type"));
	}
	static const uint8_t bad_prec[] = { 0, 5, 6, 0xff };
	for (size_t i = 0; i < sizeof(bad_prec); i++) {
		memcpy(q, good, sizeof(q));
		q[1] = bad_prec[i];
		assert_int_equal(wire_rec_parse(&r, q, sizeof(q), &e),
		    KERR_FORMAT);
		assert_non_null(strstr(e.msg, "precedence"));
	}
	for (unsigned f = 2; f < 256; f++) {
		memcpy(q, good, sizeof(q));
		q[6] = (uint8_t)f;
		assert_int_equal(wire_rec_parse(&r, q, sizeof(q), &e),
		    KERR_FORMAT);
		assert_non_null(strstr(e.msg, "flags"));
	}

	/* data at WIRE_CHUNK is fine, one more byte is not */
	memcpy(p, good, sizeof(good));
	assert_int_equal(wire_rec_parse(&r, p, WIRE_REC_HDR + WIRE_CHUNK, &e),
	    0);
	assert_int_equal(r.len, WIRE_CHUNK);
	assert_int_equal(wire_rec_parse(&r, p, sizeof(p), &e), KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "60001"));
}

/* ---- reassembly -------------------------------------------------------- */

static uint8_t pattern[WIRE_CHUNK];

static int
feed(struct wire_rx *rx, uint8_t type, uint8_t prec, uint32_t stream,
    uint8_t flags, const uint8_t *data, size_t len, int *done,
    struct buf **msg, struct kerr *e)
{
	struct wire_rec r = { type, prec, stream, flags, data, len };
	uint8_t t = 0, p = 0;
	int rc;

	rc = wire_rx_feed(rx, &r, done, &t, &p, msg, e);
	if (rc == 0 && *done) {
		assert_int_equal(t, type);	/* a type change is an error */
		assert_non_null(*msg);
	}
	if (rc != 0) {
		assert_int_equal(*done, 0);
		assert_null(*msg);
	}
	return rc;
}

/* Feed n bytes of pattern to a stream in WIRE_CHUNK records. */
static void
fill(struct wire_rx *rx, uint8_t type, uint32_t stream, size_t n)
{
	struct kerr e = { "" };
	struct buf *msg;
	int done;

	while (n > 0) {
		size_t k = n < WIRE_CHUNK ? n : WIRE_CHUNK;

		if (feed(rx, type, 1, stream, 0, pattern, k, &done, &msg,
		    &e) != 0)
			fail_msg("feed of %zu bytes to stream %u: %s", k,
			    stream, e.msg);
		assert_int_equal(done, 0);
		assert_null(msg);
		n -= k;
	}
}

static size_t
rx_pending(const struct wire_rx *rx)
{
	size_t sum = 0;

	for (size_t i = 0; i < WIRE_STREAMS_MAX; i++)
		if (rx->s[i].used)
			sum += rx->s[i].b.len;
	return sum;
}

static void
test_rx_interleaved(void **state)
{
	enum { NS = 5 };
	static const uint8_t types[NS] = { WIRE_TELEGRAM, WIRE_ACK,
	    WIRE_RECEIPT, WIRE_ROSTER, WIRE_PING };
	static const uint8_t precs[NS] = { 1, 4, 3, 2, 4 };
	static const uint32_t ids[NS] = { 7, 0, 0xffffffff, 8, 12345 };
	static const size_t sizes[NS] = { 200000, 50, 130000, WIRE_CHUNK, 0 };
	uint8_t *want[NS];
	size_t sent[NS] = { 0 };
	int finished[NS] = { 0 }, left = NS;
	struct wire_rx rx;
	struct kerr e = { "" };

	(void)state;
	wire_rx_init(&rx);
	for (int i = 0; i < NS; i++) {
		want[i] = malloc(sizes[i] + 1);
		assert_non_null(want[i]);
		rng_fill(want[i], sizes[i]);
	}
	while (left > 0) {
		int i = (int)rng_below(NS);
		size_t k, room;
		struct wire_rec r;
		struct buf hb, *msg;
		uint8_t type, prec, flags;
		int done;

		if (finished[i])
			continue;
		room = sizes[i] - sent[i];
		k = room == 0 ? 0 : 1 + rng_below(room < WIRE_CHUNK ? room :
		    WIRE_CHUNK);
		if (rng_below(4) == 0 && room > 0)
			k = room < WIRE_CHUNK ? room : WIRE_CHUNK;
		flags = sent[i] + k == sizes[i] ? WIRE_FIN : 0;

		/* through the record parser, as node.c does it */
		buf_init(&hb, WIRE_REC_HDR + WIRE_CHUNK);
		assert_int_equal(wire_rec_header(&hb, types[i], precs[i],
		    ids[i], flags), 0);
		assert_int_equal(buf_put(&hb, want[i] + sent[i], k), 0);
		assert_int_equal(wire_rec_parse(&r, hb.p, hb.len, &e), 0);
		if (wire_rx_feed(&rx, &r, &done, &type, &prec, &msg, &e) != 0)
			fail_msg("feed: %s", e.msg);
		buf_free(&hb);
		sent[i] += k;
		assert_int_equal(rx.total, rx_pending(&rx));
		if (!flags) {
			assert_int_equal(done, 0);
			assert_null(msg);
			continue;
		}
		assert_int_equal(done, 1);
		assert_int_equal(type, types[i]);
		assert_int_equal(prec, precs[i]);
		assert_non_null(msg);
		assert_int_equal(msg->len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(msg->p, want[i], sizes[i]);
		wire_rx_release(&rx, msg);
		assert_int_equal(rx.total, rx_pending(&rx));
		finished[i] = 1;
		left--;
	}
	assert_int_equal(rx.total, 0);
	for (int i = 0; i < WIRE_STREAMS_MAX; i++)
		assert_false(rx.s[i].used);
	wire_rx_free(&rx);
	for (int i = 0; i < NS; i++)
		free(want[i]);
}

static void
test_rx_type_change(void **state)
{
	struct wire_rx rx;
	struct kerr e = { "" };
	struct buf *msg;
	int done;

	(void)state;
	wire_rx_init(&rx);
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 2, 5, 0, pattern, 10, &done,
	    &msg, &e), 0);
	assert_int_equal(feed(&rx, WIRE_ACK, 2, 5, WIRE_FIN, pattern, 10,
	    &done, &msg, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "stream 5 changed type from 1 to 2"));
	assert_int_equal(done, 0);
	assert_null(msg);
	/* the stream is unharmed: the right type completes it */
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 2, 5, WIRE_FIN, pattern, 10,
	    &done, &msg, &e), 0);
	assert_int_equal(done, 1);
	assert_int_equal(msg->len, 20);
	wire_rx_release(&rx, msg);
	/* once released, the stream id may carry another type */
	assert_int_equal(feed(&rx, WIRE_ACK, 4, 5, WIRE_FIN, pattern, 3,
	    &done, &msg, &e), 0);
	assert_int_equal(done, 1);
	assert_int_equal(msg->len, 3);
	wire_rx_release(&rx, msg);
	assert_int_equal(rx.total, 0);
	wire_rx_free(&rx);
}

static void
test_rx_streams_max(void **state)
{
	struct wire_rx rx;
	struct kerr e = { "" };
	struct buf *msg;
	int done;

	(void)state;
	wire_rx_init(&rx);
	for (uint32_t s = 0; s < WIRE_STREAMS_MAX; s++)
		assert_int_equal(feed(&rx, WIRE_TELEGRAM, 1, 1000 + s, 0,
		    pattern, 1, &done, &msg, &e), 0);
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 1, 1000 + WIRE_STREAMS_MAX,
	    0, pattern, 1, &done, &msg, &e), KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "more than 64 messages"));
	assert_int_equal(feed(&rx, WIRE_PING, 1, 999, WIRE_FIN, NULL, 0, &done,
	    &msg, &e), KERR_TOOBIG);
	assert_int_equal(rx.total, WIRE_STREAMS_MAX);
	/* streams in progress still take data */
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 1, 1000, WIRE_FIN, pattern,
	    1, &done, &msg, &e), 0);
	assert_int_equal(done, 1);
	assert_int_equal(msg->len, 2);
	/* still held until released */
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 1, 2000, 0, pattern, 1,
	    &done, &msg, &e), KERR_TOOBIG);
	for (size_t i = 0; i < WIRE_STREAMS_MAX; i++)
		if (rx.s[i].used && rx.s[i].stream == 1000)
			msg = &rx.s[i].b;
	wire_rx_release(&rx, msg);
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 1, 2000, 0, pattern, 1,
	    &done, &msg, &e), 0);
	assert_int_equal(rx.total, WIRE_STREAMS_MAX);
	wire_rx_free(&rx);	/* frees the 64 partial messages */
	assert_int_equal(rx.total, 0);
}

static void
test_rx_msg_max(void **state)
{
	struct wire_rx rx;
	struct kerr e = { "" };
	struct buf *msg;
	int done;

	(void)state;
	wire_rx_init(&rx);
	/* exactly WIRE_MSG_MAX completes */
	fill(&rx, WIRE_TELEGRAM, 1, WIRE_MSG_MAX);
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 1, 1, WIRE_FIN, NULL, 0,
	    &done, &msg, &e), 0);
	assert_int_equal(done, 1);
	assert_int_equal(msg->len, WIRE_MSG_MAX);
	assert_memory_equal(msg->p + WIRE_MSG_MAX - 1000,
	    pattern + (WIRE_MSG_MAX % WIRE_CHUNK) - 1000, 1000);
	wire_rx_release(&rx, msg);
	assert_int_equal(rx.total, 0);

	/* one byte more is an error, FIN or not */
	fill(&rx, WIRE_TELEGRAM, 2, WIRE_MSG_MAX);
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 1, 2, WIRE_FIN, pattern, 1,
	    &done, &msg, &e), KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "stream 2 is over"));
	assert_int_equal(done, 0);
	assert_null(msg);
	assert_int_equal(rx.total, WIRE_MSG_MAX);
	wire_rx_free(&rx);
}

static void
test_rx_total_max(void **state)
{
	const size_t last = WIRE_RX_MAX - 3 * (size_t)WIRE_MSG_MAX;
	struct wire_rx rx;
	struct kerr e = { "" };
	struct buf *msg;
	int done;

	(void)state;
	assert_true(last > 0 && last < WIRE_MSG_MAX);
	wire_rx_init(&rx);
	for (uint32_t s = 1; s <= 3; s++)
		fill(&rx, WIRE_TELEGRAM, s, WIRE_MSG_MAX);
	fill(&rx, WIRE_ROSTER, 4, last);
	assert_int_equal(rx.total, WIRE_RX_MAX);
	assert_int_equal(rx_pending(&rx), WIRE_RX_MAX);

	/* one byte more: on a new stream, on a stream under its own cap */
	assert_int_equal(feed(&rx, WIRE_ACK, 4, 5, WIRE_FIN, pattern, 1,
	    &done, &msg, &e), KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "partial"));
	assert_int_equal(done, 0);
	assert_int_equal(feed(&rx, WIRE_ROSTER, 1, 4, 0, pattern, 1, &done,
	    &msg, &e), KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "partial"));
	assert_int_equal(rx.total, WIRE_RX_MAX);

	/* an empty FIN still completes; releasing it makes room */
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 1, 2, WIRE_FIN, NULL, 0,
	    &done, &msg, &e), 0);
	assert_int_equal(done, 1);
	assert_int_equal(msg->len, WIRE_MSG_MAX);
	wire_rx_release(&rx, msg);
	assert_int_equal(rx.total, WIRE_RX_MAX - WIRE_MSG_MAX);
	assert_int_equal(feed(&rx, WIRE_ROSTER, 1, 4, WIRE_FIN, pattern, 1,
	    &done, &msg, &e), 0);
	assert_int_equal(done, 1);
	assert_int_equal(msg->len, last + 1);
	wire_rx_release(&rx, msg);
	assert_int_equal(rx.total, 2 * (size_t)WIRE_MSG_MAX);
	wire_rx_free(&rx);
	assert_int_equal(rx.total, 0);
}

static void
test_rx_release(void **state)
{
	struct wire_rx rx;
	struct kerr e = { "" };
	struct buf *msg, other;
	int done;

	(void)state;
	wire_rx_init(&rx);
	assert_int_equal(feed(&rx, WIRE_RECEIPT, 3, 9, 0, pattern, 100, &done,
	    &msg, &e), 0);
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 1, 10, WIRE_FIN, pattern + 1,
	    50, &done, &msg, &e), 0);
	assert_int_equal(rx.total, 150);
	assert_int_equal(done, 1);
	assert_memory_equal(msg->p, pattern + 1, 50);
	/* releasing something that is not one of rx's messages does nothing */
	buf_init(&other, 10);
	wire_rx_release(&rx, &other);
	assert_int_equal(rx.total, 150);
	wire_rx_release(&rx, msg);
	assert_int_equal(rx.total, 100);
	assert_null(msg->p);
	assert_int_equal(msg->len, 0);
	/* the same stream id starts a fresh message */
	assert_int_equal(feed(&rx, WIRE_TELEGRAM, 2, 10, WIRE_FIN, pattern + 7,
	    5, &done, &msg, &e), 0);
	assert_int_equal(done, 1);
	assert_int_equal(msg->len, 5);
	assert_memory_equal(msg->p, pattern + 7, 5);
	wire_rx_release(&rx, msg);
	assert_int_equal(rx.total, 100);
	/* a slot freed by release is reused by the next new stream */
	for (uint32_t s = 0; s < WIRE_STREAMS_MAX - 1; s++)
		assert_int_equal(feed(&rx, WIRE_PING, 1, 100 + s, 0, NULL, 0,
		    &done, &msg, &e), 0);
	wire_rx_free(&rx);
	assert_int_equal(rx.total, 0);
	for (size_t i = 0; i < WIRE_STREAMS_MAX; i++) {
		assert_false(rx.s[i].used);
		assert_null(rx.s[i].b.p);
	}
}

/* ---- hello ------------------------------------------------------------- */

static void
hello_enc(struct buf *b, const struct wire_hello *h)
{
	buf_init(b, 4096);
	assert_int_equal(wire_hello_encode(b, h), 0);
}

static void
test_hello_roundtrip(void **state)
{
	static const uint8_t connect[] = { 1, 5, 'T', 'O', 'K', 'Y', 'O', 0 };
	struct wire_hello h, back;
	struct kerr e = { "" };
	uint8_t enrol[1 + 1 + 10 + 1 + 128];
	struct buf b;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.version = WIRE_VERSION;
	strcpy(h.name, "TOKYO");
	h.intent = WIRE_CONNECT;
	hello_enc(&b, &h);
	expect_bytes(&b, connect, sizeof(connect));
	assert_int_equal(wire_hello_decode(&back, b.p, b.len, &e), 0);
	assert_memory_equal(&back, &h, sizeof(h));
	check_truncations_and_trailing(dec_hello, b.p, b.len);
	buf_free(&b);

	h.intent = WIRE_ENROL;
	strcpy(h.name, "WASHINGTON");
	rng_fill(h.secret, 32);
	rng_fill(h.sign_pk, 32);
	rng_fill(h.sig, 64);
	enrol[0] = 1;
	enrol[1] = 10;
	memcpy(enrol + 2, "WASHINGTON", 10);
	enrol[12] = 1;
	memcpy(enrol + 13, h.secret, 32);
	memcpy(enrol + 45, h.sign_pk, 32);
	memcpy(enrol + 77, h.sig, 64);
	hello_enc(&b, &h);
	expect_bytes(&b, enrol, sizeof(enrol));
	assert_int_equal(wire_hello_decode(&back, b.p, b.len, &e), 0);
	assert_memory_equal(&back, &h, sizeof(h));
	check_truncations_and_trailing(dec_hello, b.p, b.len);
	buf_free(&b);

	/* names of 1 and 32 bytes, and UTF-8 */
	memset(&h, 0, sizeof(h));
	h.version = WIRE_VERSION;
	strcpy(h.name, "A");
	hello_enc(&b, &h);
	assert_int_equal(wire_hello_decode(&back, b.p, b.len, &e), 0);
	assert_string_equal(back.name, "A");
	buf_free(&b);
	memset(h.name, 'Z', 32);
	hello_enc(&b, &h);
	assert_int_equal(b.len, 35);
	assert_int_equal(wire_hello_decode(&back, b.p, b.len, &e), 0);
	assert_int_equal(strlen(back.name), 32);
	buf_free(&b);
	strcpy(h.name, "GEN\xc3\x88VE");
	hello_enc(&b, &h);
	assert_int_equal(wire_hello_decode(&back, b.p, b.len, &e), 0);
	assert_string_equal(back.name, h.name);
	buf_free(&b);
}

static void
test_hello_bad(void **state)
{
	uint8_t p[300];
	struct wire_hello h;
	struct kerr e;

	(void)state;
	/* wrong version, whatever follows */
	static const uint8_t versions[] = { 0, 2, 0xff };
	for (size_t i = 0; i < sizeof(versions); i++) {
		const uint8_t v2[] = { versions[i], 5, 'T', 'O', 'K', 'Y', 'O',
		    0 };

		assert_int_equal(wire_hello_decode(&h, v2, sizeof(v2), &e),
		    KERR_VERSION);
		assert_non_null(strstr(e.msg, "protocol version"));
		assert_int_equal(wire_hello_decode(&h, v2, 1, &e),
		    KERR_VERSION);
	}
	assert_int_equal(wire_hello_decode(&h, p, 0, &e), KERR_TRUNCATED);

	/* empty name */
	const uint8_t empty[] = { 1, 0, 0 };
	assert_int_equal(wire_hello_decode(&h, empty, sizeof(empty), &e),
	    KERR_FORMAT);

	/* names of 32 bytes (fine), 33 and 255 bytes */
	static const size_t name_lens[] = { 32, 33, 255 };
	for (size_t i = 0; i < 3; i++) {
		size_t n = name_lens[i];

		p[0] = 1;
		p[1] = (uint8_t)n;
		memset(p + 2, 'A', n);
		p[2 + n] = WIRE_CONNECT;
		assert_int_equal(wire_hello_decode(&h, p, n + 3, &e),
		    n <= 32 ? 0 : KERR_FORMAT);
		if (n > 32)
			assert_non_null(strstr(e.msg, "malformed hello"));
	}

	/* names with NUL or invalid UTF-8 */
	const uint8_t nul[] = { 1, 3, 'A', 0, 'B', 0 };
	const uint8_t bad8[] = { 1, 3, 'A', 0xff, 'B', 0 };
	const uint8_t over[] = { 1, 3, 0xc0, 0x80, 'B', 0 };
	assert_int_equal(wire_hello_decode(&h, nul, sizeof(nul), &e),
	    KERR_FORMAT);
	assert_int_equal(wire_hello_decode(&h, bad8, sizeof(bad8), &e),
	    KERR_FORMAT);
	assert_int_equal(wire_hello_decode(&h, over, sizeof(over), &e),
	    KERR_FORMAT);

	/* unknown intents */
	for (unsigned v = 2; v < 256; v++) {
		const uint8_t in[] = { 1, 1, 'A', (uint8_t)v };

		assert_int_equal(wire_hello_decode(&h, in, sizeof(in), &e),
		    KERR_FORMAT);
		assert_non_null(strstr(e.msg, "unknown intent"));
	}

	/* enrol without secret, key or signature, or a byte of any short */
	p[0] = 1;
	p[1] = 1;
	p[2] = 'A';
	p[3] = WIRE_ENROL;
	rng_fill(p + 4, 128);
	static const size_t tails[] = { 0, 1, 31, 32, 33, 63, 64, 65, 127 };
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		assert_int_equal(wire_hello_decode(&h, p, 4 + tails[i], &e),
		    KERR_TRUNCATED);
		assert_non_null(strstr(e.msg, "enrolment"));
	}
	assert_int_equal(wire_hello_decode(&h, p, 4 + 128, &e), 0);
	assert_memory_equal(h.secret, p + 4, 32);
	assert_memory_equal(h.sign_pk, p + 36, 32);
	assert_memory_equal(h.sig, p + 68, 64);
	assert_int_equal(wire_hello_decode(&h, p, 4 + 129, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "1 trailing"));
}

/* ---- welcome ----------------------------------------------------------- */

static void
test_welcome(void **state)
{
	static const uint8_t want[] = { 1, 1, 2, 3, 4, 5, 6, 7, 8 };
	struct wire_welcome w = { WIRE_VERSION, 0x0102030405060708ull }, back;
	struct kerr e = { "" };
	uint8_t q[9];
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(wire_welcome_encode(&b, &w), 0);
	expect_bytes(&b, want, sizeof(want));
	assert_int_equal(wire_welcome_decode(&back, b.p, b.len, &e), 0);
	assert_int_equal(back.version, WIRE_VERSION);
	assert_int_equal(back.roster_version, 0x0102030405060708ull);
	check_truncations_and_trailing(dec_welcome, b.p, b.len);
	for (size_t n = 0; n < sizeof(want); n++)
		assert_int_equal(wire_welcome_decode(&back, want, n, &e),
		    KERR_TRUNCATED);
	buf_free(&b);

	w.roster_version = UINT64_MAX;
	buf_init(&b, 64);
	assert_int_equal(wire_welcome_encode(&b, &w), 0);
	assert_int_equal(wire_welcome_decode(&back, b.p, b.len, &e), 0);
	assert_true(back.roster_version == UINT64_MAX);
	buf_free(&b);

	memcpy(q, want, sizeof(q));
	q[0] = 2;
	assert_int_equal(wire_welcome_decode(&back, q, sizeof(q), &e),
	    KERR_VERSION);
	assert_non_null(strstr(e.msg, "version 2"));
	q[0] = 0;
	assert_int_equal(wire_welcome_decode(&back, q, sizeof(q), &e),
	    KERR_VERSION);
}

/* ---- ack --------------------------------------------------------------- */

static void
test_ack_roundtrip(void **state)
{
	struct wire_ack a, back;
	struct kerr e = { "" };
	uint8_t want[1 + 16 + 1 + 6 + 1 + 1 + 1];
	struct buf b;

	(void)state;
	/* a receipt's ack, byte by byte */
	memset(&a, 0, sizeof(a));
	a.kind = WIRE_ACK_RECEIPT;
	rng_fill(a.id, 16);
	strcpy(a.by, "GENEVA");
	a.state = 3;
	a.result = WIRE_ACK_OK;
	want[0] = 2;
	memcpy(want + 1, a.id, 16);
	want[17] = 6;
	memcpy(want + 18, "GENEVA", 6);
	want[24] = 3;
	want[25] = 0;
	want[26] = 0;
	buf_init(&b, 1024);
	assert_int_equal(wire_ack_encode(&b, &a), 0);
	expect_bytes(&b, want, sizeof(want));
	assert_int_equal(wire_ack_decode(&back, b.p, b.len, &e), 0);
	assert_memory_equal(&back, &a, sizeof(a));
	check_truncations_and_trailing(dec_ack, b.p, b.len);
	buf_free(&b);

	/* a refused telegram, the longest reason and name */
	memset(&a, 0, sizeof(a));
	a.kind = WIRE_ACK_TELEGRAM;
	rng_fill(a.id, 16);
	memset(a.by, 'B', 32);
	a.state = 0xff;
	a.result = WIRE_ACK_REFUSED;
	memset(a.reason, 'r', sizeof(a.reason) - 1);
	buf_init(&b, 1024);
	assert_int_equal(wire_ack_encode(&b, &a), 0);
	assert_int_equal(b.len, 1 + 16 + 33 + 1 + 1 + 128);
	assert_int_equal(wire_ack_decode(&back, b.p, b.len, &e), 0);
	assert_memory_equal(&back, &a, sizeof(a));
	check_truncations_and_trailing(dec_ack, b.p, b.len);
	buf_free(&b);
}

static void
test_ack_bad(void **state)
{
	struct wire_ack a, back;
	struct kerr e;
	struct buf b;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.kind = WIRE_ACK_TELEGRAM;
	strcpy(a.reason, "not addressed here");
	a.result = WIRE_ACK_REFUSED;
	buf_init(&b, 1024);
	assert_int_equal(wire_ack_encode(&b, &a), 0);
	assert_int_equal(wire_ack_decode(&back, b.p, b.len, &e), 0);

	/* kind is byte 0, result is byte 1 + 16 + 1 + 0 + 1 */
	for (unsigned v = 0; v < 256; v++) {
		int ok = v == WIRE_ACK_TELEGRAM || v == WIRE_ACK_RECEIPT;

		b.p[0] = (uint8_t)v;
		assert_int_equal(wire_ack_decode(&back, b.p, b.len, &e),
		    ok ? 0 : KERR_FORMAT);
		if (!ok)
			assert_non_null(strstr(e.msg, "malformed ack"));
	}
	b.p[0] = WIRE_ACK_TELEGRAM;
	for (unsigned v = 0; v < 256; v++) {
		b.p[19] = (uint8_t)v;
		assert_int_equal(wire_ack_decode(&back, b.p, b.len, &e),
		    v <= WIRE_ACK_REFUSED ? 0 : KERR_FORMAT);
	}
	buf_free(&b);

	/* by over 32 bytes, reason over 127 bytes */
	uint8_t p[1 + 16 + 1 + 255 + 2 + 1 + 255];
	size_t n;

	memset(p, 0, sizeof(p));
	p[0] = 1;
	for (size_t by = 31; by <= 34; by++) {
		n = 17;
		p[n++] = (uint8_t)by;
		memset(p + n, 'B', by);
		n += by;
		p[n++] = 0;
		p[n++] = 0;
		p[n++] = 0;
		assert_int_equal(wire_ack_decode(&back, p, n, &e),
		    by <= 32 ? 0 : KERR_FORMAT);
	}
	for (size_t rl = 126; rl <= 255; rl++) {
		n = 17;
		p[n++] = 0;
		p[n++] = 0;
		p[n++] = 1;
		p[n++] = (uint8_t)rl;
		memset(p + n, 'r', rl);
		n += rl;
		assert_int_equal(wire_ack_decode(&back, p, n, &e),
		    rl <= 127 ? 0 : KERR_FORMAT);
		if (rl <= 127)
			assert_int_equal(strlen(back.reason), rl);
	}
	/* a reason that is not UTF-8 */
	n = 17;
	p[n++] = 0;
	p[n++] = 0;
	p[n++] = 1;
	p[n++] = 2;
	p[n++] = 0xed;
	p[n++] = 0xa0;
	assert_int_equal(wire_ack_decode(&back, p, n, &e), KERR_FORMAT);
}

/* ---- sync -------------------------------------------------------------- */

static void
sync_enc(struct buf *b, const struct wire_sync *s)
{
	buf_init(b, 1 << 20);
	assert_int_equal(wire_sync_encode(b, s), 0);
}

static void
test_sync_roundtrip(void **state)
{
	static const uint8_t want[] = {
		0, 2,
		5, 'T', 'O', 'K', 'Y', 'O', 0, 0, 0, 0, 0, 0, 0, 5, 0, 2,
		0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9,
		6, 'G', 'E', 'N', 'E', 'V', 'A', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	uint64_t above[2] = { 7, 9 };
	struct wire_sync_origin o[2];
	struct wire_sync s = { 2, o }, back;
	struct kerr e = { "" };
	struct buf b;

	(void)state;
	memset(o, 0, sizeof(o));
	strcpy(o[0].origin, "TOKYO");
	o[0].hwm = 5;
	o[0].n_above = 2;
	o[0].above = above;
	strcpy(o[1].origin, "GENEVA");
	sync_enc(&b, &s);
	expect_bytes(&b, want, sizeof(want));
	if (wire_sync_decode(&back, b.p, b.len, &e) != 0)
		fail_msg("sync: %s", e.msg);
	assert_int_equal(back.n, 2);
	assert_string_equal(back.o[0].origin, "TOKYO");
	assert_true(back.o[0].hwm == 5);
	assert_int_equal(back.o[0].n_above, 2);
	assert_true(back.o[0].above[0] == 7 && back.o[0].above[1] == 9);
	assert_string_equal(back.o[1].origin, "GENEVA");
	assert_true(back.o[1].hwm == 0);
	assert_int_equal(back.o[1].n_above, 0);
	assert_null(back.o[1].above);

	for (uint64_t q = 0; q <= 12; q++)
		assert_int_equal(wire_sync_has(&back, "TOKYO", q),
		    q <= 5 || q == 7 || q == 9);
	assert_int_equal(wire_sync_has(&back, "GENEVA", 1), 0);
	assert_int_equal(wire_sync_has(&back, "BEIJING", 1), 0);
	assert_int_equal(wire_sync_has(&back, "TOKY", 1), 0);
	assert_int_equal(wire_sync_has(&back, "", 1), 0);
	wire_sync_free(&back);
	assert_int_equal(back.n, 0);
	assert_null(back.o);
	wire_sync_free(&back);	/* twice is harmless */
	check_truncations_and_trailing(dec_sync, b.p, b.len);
	buf_free(&b);

	/* nothing at all */
	s.n = 0;
	sync_enc(&b, &s);
	assert_int_equal(b.len, 2);
	assert_int_equal(wire_sync_decode(&back, b.p, b.len, &e), 0);
	assert_int_equal(back.n, 0);
	assert_int_equal(wire_sync_has(&back, "TOKYO", 1), 0);
	wire_sync_free(&back);
	check_truncations_and_trailing(dec_sync, b.p, b.len);
	buf_free(&b);

	/* the top of the sequence space */
	above[0] = UINT64_MAX - 1;
	above[1] = UINT64_MAX;
	s.n = 1;
	o[0].hwm = UINT64_MAX - 2;
	sync_enc(&b, &s);
	assert_int_equal(wire_sync_decode(&back, b.p, b.len, &e), 0);
	assert_int_equal(wire_sync_has(&back, "TOKYO", UINT64_MAX), 1);
	assert_int_equal(wire_sync_has(&back, "TOKYO", 0), 1);
	wire_sync_free(&back);
	buf_free(&b);
}

/* n origins named O0000..., the i-th with per[i] above-values. */
static void
make_sync(struct wire_sync *s, size_t n, const uint16_t *per)
{
	s->n = (uint16_t)n;
	s->o = calloc(n ? n : 1, sizeof(*s->o));
	assert_non_null(s->o);
	for (size_t i = 0; i < n; i++) {
		struct wire_sync_origin *o = &s->o[i];

		snprintf(o->origin, sizeof(o->origin), "O%04zu", i);
		o->hwm = 100 * i;
		o->n_above = per ? per[i] : 0;
		o->above = calloc(o->n_above ? o->n_above : 1, 8);
		assert_non_null(o->above);
		for (size_t k = 0; k < o->n_above; k++)
			o->above[k] = o->hwm + 1 + 2 * k;
	}
}

static void
test_sync_caps(void **state)
{
	struct wire_sync s, back;
	struct kerr e = { "" };
	uint16_t per[2];
	struct buf b;

	(void)state;
	/* WIRE_SYNC_ORIGINS_MAX origins, and one more */
	make_sync(&s, WIRE_SYNC_ORIGINS_MAX + 1, NULL);
	s.n = WIRE_SYNC_ORIGINS_MAX;
	sync_enc(&b, &s);
	if (wire_sync_decode(&back, b.p, b.len, &e) != 0)
		fail_msg("sync: %s", e.msg);
	assert_int_equal(back.n, WIRE_SYNC_ORIGINS_MAX);
	assert_string_equal(back.o[WIRE_SYNC_ORIGINS_MAX - 1].origin, "O1023");
	assert_int_equal(wire_sync_has(&back, "O1023", 102300), 1);
	assert_int_equal(wire_sync_has(&back, "O1023", 102301), 0);
	wire_sync_free(&back);
	buf_free(&b);
	s.n = WIRE_SYNC_ORIGINS_MAX + 1;
	sync_enc(&b, &s);
	assert_int_equal(wire_sync_decode(&back, b.p, b.len, &e), KERR_FORMAT);
	assert_non_null(strstr(e.msg, "malformed sync"));
	assert_null(back.o);
	buf_free(&b);
	wire_sync_free(&s);

	/* WIRE_SYNC_ABOVE_MAX above-values in all, and one more */
	per[0] = WIRE_SYNC_ABOVE_MAX / 2;
	per[1] = WIRE_SYNC_ABOVE_MAX / 2;
	make_sync(&s, 2, per);
	sync_enc(&b, &s);
	assert_int_equal(wire_sync_decode(&back, b.p, b.len, &e), 0);
	assert_int_equal(back.o[1].n_above, WIRE_SYNC_ABOVE_MAX / 2);
	assert_int_equal(wire_sync_has(&back, "O0001", 100 + 4095), 1);
	assert_int_equal(wire_sync_has(&back, "O0001", 100 + 4096), 0);
	wire_sync_free(&back);
	buf_free(&b);
	wire_sync_free(&s);
	per[1]++;
	make_sync(&s, 2, per);
	sync_enc(&b, &s);
	assert_int_equal(wire_sync_decode(&back, b.p, b.len, &e), KERR_FORMAT);
	buf_free(&b);
	wire_sync_free(&s);

	/* in one origin */
	per[0] = WIRE_SYNC_ABOVE_MAX;
	make_sync(&s, 1, per);
	sync_enc(&b, &s);
	assert_int_equal(wire_sync_decode(&back, b.p, b.len, &e), 0);
	wire_sync_free(&back);
	buf_free(&b);
	wire_sync_free(&s);
	per[0] = WIRE_SYNC_ABOVE_MAX + 1;
	make_sync(&s, 1, per);
	sync_enc(&b, &s);
	assert_int_equal(wire_sync_decode(&back, b.p, b.len, &e), KERR_FORMAT);
	buf_free(&b);
	wire_sync_free(&s);
}

static void
test_sync_lying_counts(void **state)
{
	uint8_t p[64];
	struct wire_sync s;
	struct kerr e;

	(void)state;
	/* origin counts with nothing, or not enough, behind them */
	static const uint16_t counts[] = { 1, 2, 1024, 1025, 0x8000, 0xffff };
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		p[0] = (uint8_t)(counts[i] >> 8);
		p[1] = (uint8_t)counts[i];
		memset(p + 2, 0, sizeof(p) - 2);
		for (size_t len = 2; len <= sizeof(p); len += 31) {
			watch_start();
			assert_int_equal(wire_sync_decode(&s, p, len, &e),
			    KERR_FORMAT);
			/* at most what the bytes there could describe */
			watch_check((len / 11 + 1) * sizeof(struct wire_sync_origin));
			assert_int_equal(s.n, 0);
			assert_null(s.o);
		}
	}

	/* above-value counts with nothing, or not enough, behind them */
	static const uint16_t ab[] = { 1, 2, 4096, 4097, 0xffff };
	for (size_t i = 0; i < sizeof(ab) / sizeof(ab[0]); i++) {
		size_t n = 0;

		p[n++] = 0;
		p[n++] = 1;
		p[n++] = 1;
		p[n++] = 'A';
		memset(p + n, 0, 8);
		n += 8;
		p[n++] = (uint8_t)(ab[i] >> 8);
		p[n++] = (uint8_t)ab[i];
		memset(p + n, 0xff, 8);	/* one value, above any hwm */
		watch_start();
		assert_int_equal(wire_sync_decode(&s, p, n + 7, &e),
		    KERR_FORMAT);
		assert_int_equal(wire_sync_decode(&s, p, n + 8, &e),
		    ab[i] == 1 ? 0 : KERR_FORMAT);
		watch_check(sizeof(struct wire_sync_origin) > 8 ?
		    sizeof(struct wire_sync_origin) : 8);
		wire_sync_free(&s);
	}

	/* lengths of origin names */
	for (size_t nl = 0; nl <= 34; nl++) {
		uint8_t q[2 + 1 + 34 + 8 + 2];
		size_t n = 0;

		q[n++] = 0;
		q[n++] = 1;
		q[n++] = (uint8_t)nl;
		memset(q + n, 'N', nl);
		n += nl;
		memset(q + n, 0, 10);
		n += 10;
		assert_int_equal(wire_sync_decode(&s, q, n, &e),
		    nl >= 1 && nl <= 32 ? 0 : KERR_FORMAT);
		wire_sync_free(&s);
	}
}

static void
test_sync_above_hwm(void **state)
{
	uint64_t above[3];
	struct wire_sync_origin o;
	struct wire_sync s = { 1, &o }, back;
	struct kerr e;
	struct buf b;

	(void)state;
	memset(&o, 0, sizeof(o));
	strcpy(o.origin, "GENEVA");
	o.above = above;
	o.n_above = 3;
	static const struct {
		uint64_t hwm, a[3];
		int ok;
	} cases[] = {
		{ 10, { 11, 12, 20 }, 1 },
		{ 10, { 11, 10, 12 }, 0 },	/* = hwm */
		{ 10, { 11, 12, 9 }, 0 },	/* < hwm */
		{ 10, { 0, 12, 13 }, 0 },
		{ 0, { 0, 1, 2 }, 0 },
		{ UINT64_MAX, { UINT64_MAX, 1, 2 }, 0 },
		{ UINT64_MAX - 3, { UINT64_MAX - 2, UINT64_MAX - 1,
		    UINT64_MAX }, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o.hwm = cases[i].hwm;
		memcpy(above, cases[i].a, sizeof(above));
		sync_enc(&b, &s);
		assert_int_equal(wire_sync_decode(&back, b.p, b.len, &e),
		    cases[i].ok ? 0 : KERR_FORMAT);
		if (!cases[i].ok)
			assert_null(back.o);
		wire_sync_free(&back);
		buf_free(&b);
	}
}

/* The obvious reading of a sync: any entry for origin that covers seq. */
static int
naive_has(const struct wire_sync *s, const char *origin, uint64_t seq)
{
	int has = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->o[i].origin, origin) != 0)
			continue;
		if (seq <= s->o[i].hwm)
			has = 1;
		for (size_t k = 0; k < s->o[i].n_above; k++)
			if (s->o[i].above[k] == seq)
				has = 1;
	}
	return has;
}

static void
test_sync_has_reference(void **state)
{
	enum { POOL = 24, ROUNDS = 300, QUERIES = 400 };
	char pool[POOL][33];
	struct kerr e = { "" };

	(void)state;
	for (int i = 0; i < POOL; i++)
		snprintf(pool[i], sizeof(pool[i]), "POST %c%d", 'A' + i, i);
	for (int round = 0; round < ROUNDS; round++) {
		struct wire_sync s, back;
		uint64_t base = round % 3 == 0 ? UINT64_MAX - 200 : 0;
		int taken[POOL] = { 0 };
		struct buf b;

		/* distinct origins, as a post sends them (one per origin) */
		s.n = (uint16_t)rng_below(POOL);
		s.o = calloc(POOL, sizeof(*s.o));
		assert_non_null(s.o);
		for (size_t i = 0; i < s.n; i++) {
			struct wire_sync_origin *o = &s.o[i];
			int pi;

			do
				pi = (int)rng_below(POOL);
			while (taken[pi]);
			taken[pi] = 1;
			strcpy(o->origin, pool[pi]);
			o->hwm = base + rng_below(60);
			o->n_above = (uint16_t)rng_below(12);
			o->above = calloc(o->n_above + 1, 8);
			assert_non_null(o->above);
			for (size_t k = 0; k < o->n_above; k++)
				o->above[k] = o->hwm + 1 + rng_below(80);
		}
		sync_enc(&b, &s);
		if (wire_sync_decode(&back, b.p, b.len, &e) != 0)
			fail_msg("round %d: %s", round, e.msg);
		assert_int_equal(back.n, s.n);
		for (size_t i = 0; i < s.n; i++) {
			assert_string_equal(back.o[i].origin, s.o[i].origin);
			assert_true(back.o[i].hwm == s.o[i].hwm);
			assert_int_equal(back.o[i].n_above, s.o[i].n_above);
			if (s.o[i].n_above)
				assert_memory_equal(back.o[i].above,
				    s.o[i].above, 8 * s.o[i].n_above);
		}
		for (int q = 0; q < QUERIES; q++) {
			const char *origin = pool[rng_below(POOL)];
			uint64_t seq = base + rng_below(160);

			if (q % 50 == 0)
				seq = q % 100 == 0 ? 0 : UINT64_MAX;
			if (wire_sync_has(&back, origin, seq) !=
			    naive_has(&s, origin, seq))
				fail_msg("round %d: has(%s, %llu) is %d", round,
				    origin, (unsigned long long)seq,
				    wire_sync_has(&back, origin, seq));
		}
		wire_sync_free(&back);
		wire_sync_free(&s);
		buf_free(&b);
	}
}

/* Regression: a sync naming one origin twice is refused (wire_sync_has
 * would read the first entry only). */
static void
test_sync_duplicate_origin(void **state)
{
	uint64_t above[1] = { 9 };
	struct wire_sync_origin o[2] = {
		{ "WASHINGTON", 5, 0, NULL },
		{ "WASHINGTON", 7, 1, above },
	};
	struct wire_sync s = { 2, o }, back;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(wire_sync_encode(&b, &s), 0);
	assert_int_equal(wire_sync_decode(&back, b.p, b.len, NULL), KERR_FORMAT);
	assert_int_equal(back.n, 0);
	assert_null(back.o);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_duplicate_origin),
		cmocka_unit_test(test_rec_roundtrip),
		cmocka_unit_test(test_rec_bad),
		cmocka_unit_test(test_rx_interleaved),
		cmocka_unit_test(test_rx_type_change),
		cmocka_unit_test(test_rx_streams_max),
		cmocka_unit_test(test_rx_msg_max),
		cmocka_unit_test(test_rx_total_max),
		cmocka_unit_test(test_rx_release),
		cmocka_unit_test(test_hello_roundtrip),
		cmocka_unit_test(test_hello_bad),
		cmocka_unit_test(test_welcome),
		cmocka_unit_test(test_ack_roundtrip),
		cmocka_unit_test(test_ack_bad),
		cmocka_unit_test(test_sync_roundtrip),
		cmocka_unit_test(test_sync_caps),
		cmocka_unit_test(test_sync_lying_counts),
		cmocka_unit_test(test_sync_above_hwm),
		cmocka_unit_test(test_sync_has_reference),
	};

	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 31 + (i >> 8));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
