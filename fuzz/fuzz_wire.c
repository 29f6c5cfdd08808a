/*
 * libFuzzer target: the node channel's wire format (src/node/wire.c).
 * The first byte picks the decoder:
 *
 *   0  a run of records, each parsed and fed into one wire_rx (freed at the
 *      end); a naive model of reassembly (each stream's pieces, the three
 *      caps) predicts every outcome, and completed messages are compared
 *      with it and released
 *   1  hello   2  welcome   3  ack   4  sync
 *
 * Every successful decode is re-encoded and must give the input back; a
 * sync is also checked against its invariants and a naive wire_sync_has.
 *
 * Records in mode 0: a control byte c, then
 *   c < 0xf8:  u16 length n and n bytes, parsed as one record;
 *   c >= 0xf8: a 7-byte header and a u16 data length d; the record is that
 *              header and d bytes of a fixed pattern, fed 1 << (c & 7)
 *              times (FIN only on the last), so that small inputs reach
 *              WIRE_MSG_MAX and WIRE_RX_MAX.  Rare on purpose: megabytes
 *              of records are slow under ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static uint8_t pattern[WIRE_REC_HDR + 65535];

static uint64_t
fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV0 0xcbf29ce484222325ull

/* ---- records and reassembly ------------------------------------------- */

/*
 * The model keeps each message as a list of pieces: real record data (by its
 * hash) or a prefix of the fixed pattern (compared with memcmp), so that a
 * 16 MiB input costs a few memcmps, not a byte-by-byte hash.
 */
struct piece {
	int synth;
	size_t len;
	uint64_t h;
};

struct model {
	struct {
		int used;
		uint32_t stream;
		uint8_t type, prec;
		size_t len;
		struct piece *pc;
		size_t npc, cap;
	} s[WIRE_STREAMS_MAX];
	size_t n, total;
};

static void
model_free(struct model *m)
{
	for (size_t i = 0; i < WIRE_STREAMS_MAX; i++)
		free(m->s[i].pc);
	memset(m, 0, sizeof(*m));
}

/* What wire_rec_parse must say about p, by the letter of the format. */
static int
rec_expect(const uint8_t *p, size_t len)
{
	if (len < WIRE_REC_HDR)
		return KERR_TRUNCATED;
	if (p[0] < WIRE_TELEGRAM || p[0] > WIRE_AUDIT_ACK || p[1] < 1 || p[1] > 4 ||
	    (p[6] & ~WIRE_FIN) != 0)
		return KERR_FORMAT;
	if (len - WIRE_REC_HDR > WIRE_CHUNK)
		return KERR_TOOBIG;
	return 0;
}

static int
rec_parse(struct wire_rec *r, const uint8_t *p, size_t len)
{
	struct kerr e = { "" };
	int rc = wire_rec_parse(r, p, len, &e);

	CHECK(rc == rec_expect(p, len));
	if (rc != 0) {
		CHECK(e.msg[0] != '\0');
		return rc;
	}
	/* header and data give the record back */
	struct buf b;

	buf_init(&b, WIRE_REC_HDR + WIRE_CHUNK);
	CHECK(wire_rec_header(&b, r->type, r->prec, r->stream, r->flags) == 0);
	CHECK(buf_put(&b, r->data, r->len) == 0);
	CHECK(b.len == len && memcmp(b.p, p, len) == 0);
	CHECK(r->data == p + WIRE_REC_HDR);
	buf_free(&b);
	return 0;
}

/* Does msg hold exactly the pieces of model stream i? */
static int
same_pieces(const struct model *m, size_t i, const struct buf *msg)
{
	size_t off = 0;

	if (msg->len != m->s[i].len)
		return 0;
	for (size_t k = 0; k < m->s[i].npc; k++) {
		const struct piece *pc = &m->s[i].pc[k];

		if (pc->synth ? memcmp(msg->p + off, pattern + WIRE_REC_HDR,
		    pc->len) != 0 : fnv(FNV0, msg->p + off, pc->len) != pc->h)
			return 0;
		off += pc->len;
	}
	return off == msg->len;
}

/*
 * Feed one record to rx and to the model (synth: its data is the pattern);
 * 0 to go on, -1 after an error.
 */
static int
rx_step(struct wire_rx *rx, struct model *m, const struct wire_rec *r,
    int synth)
{
	struct kerr e = { "" };
	struct buf *msg = (struct buf *)1;
	uint8_t type = 0, prec = 0;
	size_t i, have = 0;
	int done = -1, want = 0, rc;

	for (i = 0; i < WIRE_STREAMS_MAX; i++)
		if (m->s[i].used && m->s[i].stream == r->stream)
			break;
	if (i < WIRE_STREAMS_MAX)
		have = m->s[i].len;
	if (i == WIRE_STREAMS_MAX && m->n == WIRE_STREAMS_MAX)
		want = KERR_TOOBIG;
	else if (i < WIRE_STREAMS_MAX && m->s[i].type != r->type)
		want = KERR_FORMAT;
	else if (m->total + r->len > WIRE_RX_MAX)
		want = KERR_TOOBIG;
	else if (have + r->len > WIRE_MSG_MAX)
		want = KERR_TOOBIG;

	rc = wire_rx_feed(rx, r, &done, &type, &prec, &msg, &e);
	CHECK(rc == want);
	if (rc != 0) {
		CHECK(done == 0 && msg == NULL && e.msg[0] != '\0');
		return -1;	/* node.c closes the link */
	}
	if (i == WIRE_STREAMS_MAX) {
		for (i = 0; m->s[i].used; i++)
			;
		m->s[i].used = 1;
		m->s[i].stream = r->stream;
		m->s[i].type = r->type;
		m->s[i].prec = r->prec;
		m->s[i].len = 0;
		m->s[i].npc = 0;
		m->n++;
	}
	if (r->len > 0) {
		struct piece *pc;

		if (m->s[i].npc == m->s[i].cap) {
			m->s[i].cap = m->s[i].cap ? 2 * m->s[i].cap : 16;
			m->s[i].pc = realloc(m->s[i].pc, m->s[i].cap *
			    sizeof(*pc));
			CHECK(m->s[i].pc != NULL);
		}
		pc = &m->s[i].pc[m->s[i].npc++];
		pc->synth = synth;
		pc->len = r->len;
		pc->h = synth ? 0 : fnv(FNV0, r->data, r->len);
	}
	m->s[i].len += r->len;
	m->total += r->len;
	CHECK(rx->total == m->total);
	if (!(r->flags & WIRE_FIN)) {
		CHECK(done == 0 && msg == NULL);
		return 0;
	}
	CHECK(done == 1 && msg != NULL);
	CHECK(type == m->s[i].type && prec == m->s[i].prec);
	CHECK(same_pieces(m, i, msg));
	wire_rx_release(rx, msg);
	m->total -= m->s[i].len;
	m->s[i].used = 0;
	m->n--;
	CHECK(rx->total == m->total);
	return 0;
}

static void
fuzz_records(const uint8_t *p, size_t len)
{
	static struct model m;
	struct wire_rx rx;
	struct wire_rec r;
	size_t off = 0;
	int dead = 0;

	wire_rx_init(&rx);
	while (!dead && off < len) {
		uint8_t c = p[off++];

		if (c >= 0xf8) {
			size_t d, reps = (size_t)1 << (c & 7);

			if (len - off < WIRE_REC_HDR + 2)
				break;
			d = (size_t)p[off + WIRE_REC_HDR] << 8 |
			    p[off + WIRE_REC_HDR + 1];
			memcpy(pattern, p + off, WIRE_REC_HDR);
			off += WIRE_REC_HDR + 2;
			if (rec_parse(&r, pattern, WIRE_REC_HDR + d) != 0)
				continue;
			for (size_t k = 0; k < reps && !dead; k++) {
				struct wire_rec one = r;

				if (k + 1 < reps)
					one.flags &= (uint8_t)~WIRE_FIN;
				dead = rx_step(&rx, &m, &one, 1) != 0;
			}
		} else {
			size_t n;
			uint8_t *q;

			if (len - off < 2)
				break;
			n = (size_t)p[off] << 8 | p[off + 1];
			off += 2;
			if (n > len - off)
				n = len - off;
			/* an exact copy, so ASan sees any overread */
			q = malloc(n ? n : 1);
			CHECK(q != NULL);
			memcpy(q, p + off, n);
			off += n;
			if (rec_parse(&r, q, n) == 0)
				dead = rx_step(&rx, &m, &r, 0) != 0;
			free(q);
		}
	}
	wire_rx_free(&rx);
	CHECK(rx.total == 0);
	model_free(&m);
}

/* ---- handshake payloads, ack, sync ------------------------------------ */

static void
same_bytes(struct buf *b, const uint8_t *p, size_t len)
{
	CHECK(b->len == len && (len == 0 || memcmp(b->p, p, len) == 0));
	buf_free(b);
}

static void
fuzz_hello(const uint8_t *p, size_t len)
{
	struct wire_hello h;
	struct buf b;

	if (wire_hello_decode(&h, p, len, NULL) != 0)
		return;
	CHECK(h.version == WIRE_VERSION);
	CHECK(h.name[0] != '\0' && strlen(h.name) <= 32);
	CHECK(h.intent == WIRE_CONNECT || h.intent == WIRE_ENROL);
	buf_init(&b, 1024);
	CHECK(wire_hello_encode(&b, &h) == 0);
	same_bytes(&b, p, len);
}

static void
fuzz_welcome(const uint8_t *p, size_t len)
{
	struct wire_welcome w;
	struct buf b;

	if (wire_welcome_decode(&w, p, len, NULL) != 0)
		return;
	CHECK(w.version == WIRE_VERSION);
	buf_init(&b, 64);
	CHECK(wire_welcome_encode(&b, &w) == 0);
	same_bytes(&b, p, len);
}

static void
fuzz_ack(const uint8_t *p, size_t len)
{
	struct wire_ack a;
	struct buf b;

	if (wire_ack_decode(&a, p, len, NULL) != 0)
		return;
	CHECK(a.kind == WIRE_ACK_TELEGRAM || a.kind == WIRE_ACK_RECEIPT);
	CHECK(a.result == WIRE_ACK_OK || a.result == WIRE_ACK_REFUSED);
	CHECK(strlen(a.by) <= 32 && strlen(a.reason) < sizeof(a.reason));
	buf_init(&b, 1024);
	CHECK(wire_ack_encode(&b, &a) == 0);
	same_bytes(&b, p, len);
}

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
fuzz_sync(const uint8_t *p, size_t len)
{
	struct wire_sync s;
	size_t total = 0;
	int unique = 1;
	struct buf b;

	if (wire_sync_decode(&s, p, len, NULL) != 0) {
		CHECK(s.n == 0 && s.o == NULL);
		return;
	}
	CHECK(s.n <= WIRE_SYNC_ORIGINS_MAX);
	for (size_t i = 0; i < s.n; i++) {
		const struct wire_sync_origin *o = &s.o[i];

		CHECK(o->origin[0] != '\0' && strlen(o->origin) <= 32);
		CHECK((o->n_above == 0) == (o->above == NULL));
		for (size_t k = 0; k < o->n_above; k++)
			CHECK(o->above[k] > o->hwm);
		total += o->n_above;
		for (size_t j = 0; j < i; j++)
			if (strcmp(s.o[j].origin, o->origin) == 0)
				unique = 0;
	}
	CHECK(total <= WIRE_SYNC_ABOVE_MAX);

	/*
	 * wire_sync_has reads only the first entry of an origin; the decoder
	 * accepts an origin twice (reported), so compare where they are
	 * unique, as a post sends them.
	 */
	if (unique) {
		for (size_t i = 0; i < s.n; i++) {
			const struct wire_sync_origin *o = &s.o[i];
			uint64_t q[4] = { 0, o->hwm, o->hwm + 1, UINT64_MAX };

			for (size_t k = 0; k < 4; k++)
				CHECK(wire_sync_has(&s, o->origin, q[k]) ==
				    naive_has(&s, o->origin, q[k]));
			for (size_t k = 0; k < o->n_above; k++) {
				CHECK(wire_sync_has(&s, o->origin,
				    o->above[k]) == 1);
				CHECK(wire_sync_has(&s, o->origin,
				    o->above[k] + 1) == naive_has(&s,
				    o->origin, o->above[k] + 1));
			}
		}
	}
	CHECK(wire_sync_has(&s, "", 0) == 0);

	buf_init(&b, len + 1);
	CHECK(wire_sync_encode(&b, &s) == 0);
	same_bytes(&b, p, len);
	wire_sync_free(&s);
	CHECK(s.n == 0 && s.o == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	uint8_t *q;

	if (len == 0)
		return 0;
	if (pattern[WIRE_REC_HDR] == 0)
		for (size_t i = WIRE_REC_HDR; i < sizeof(pattern); i++)
			pattern[i] = (uint8_t)(i * 7 + 1);
	if (p[0] % 5 == 0) {
		fuzz_records(p + 1, len - 1);
		return 0;
	}
	/* an exact copy of the message, so ASan sees any overread */
	q = malloc(len - 1 ? len - 1 : 1);
	CHECK(q != NULL);
	memcpy(q, p + 1, len - 1);
	switch (p[0] % 5) {
	case 1: fuzz_hello(q, len - 1); break;
	case 2: fuzz_welcome(q, len - 1); break;
	case 3: fuzz_ack(q, len - 1); break;
	case 4: fuzz_sync(q, len - 1); break;
	}
	free(q);
	return 0;
}
