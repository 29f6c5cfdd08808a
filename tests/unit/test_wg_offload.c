/*
 * TUN offloads (src/vpn/offload.c): the checksum against a naive RFC 1071
 * reference on random buffers, TSO splitting of IPv4 and IPv6 TCP
 * super-packets (every segment's lengths, ids, sequence numbers, flags and
 * both checksums verified; the payloads concatenate back to the original),
 * partial-checksum completion, and hostile headers refused.
 */
#include <arpa/inet.h>
#include <linux/virtio_net.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "vpn/offload.h"
#include "vpn/wg.h"

#define SEG_MAX 64

struct segs {
	size_t n;
	size_t len[SEG_MAX];
	uint8_t p[SEG_MAX][4096];
};

static void
collect(void *ctx, const uint8_t *p, size_t n)
{
	struct segs *s = ctx;

	assert_true(s->n < SEG_MAX && n <= sizeof(s->p[0]));
	memcpy(s->p[s->n], p, n);
	s->len[s->n++] = n;
}

/* the reference: 16-bit big-endian words, one at a time */
static uint16_t
naive_csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i < len; i++)
		s += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void
test_csum_vs_reference(void **state)
{
	uint8_t buf[3000];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		size_t off = randombytes_uniform(8);
		size_t len = randombytes_uniform(sizeof(buf) - 8);

		randombytes_buf(buf, sizeof(buf));
		if (i % 7 == 0)
			memset(buf, 0xff, sizeof(buf));	/* carries */
		assert_int_equal(offload_csum_fold(offload_csum_add(0, buf + off,
		    len)), naive_csum(buf + off, len));
	}
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* The TCP checksum of a whole IP packet verifies (sums to 0xffff). */
static bool
tcp_csum_ok(const uint8_t *p, size_t len, bool v4)
{
	size_t ihl = v4 ? (size_t)(p[0] & 15) * 4 : 40;
	uint32_t s;

	s = v4 ? offload_csum_add(0, p + 12, 8) : offload_csum_add(0, p + 8, 32);
	s += 6 + (uint32_t)(len - ihl);
	s = offload_csum_add(s, p + ihl, len - ihl);
	return offload_csum_fold(s) == 0xffff;
}

/*
 * A TCP super-packet as the kernel hands it over: payload bytes of data, a
 * 12-byte option block, the TCP checksum field holding the pseudo-header
 * sum (NEEDS_CSUM).  Returns the length.
 */
static size_t
super_packet(uint8_t *p, bool v4, size_t payload, uint8_t flags,
    struct offload_hdr *h)
{
	size_t ihl = v4 ? 20 : 40, thl = 32, len = ihl + thl + payload;
	uint8_t *tcp = p + ihl;
	uint32_t s;

	memset(p, 0, ihl + thl);
	if (v4) {
		p[0] = 0x45;
		p[2] = len >> 8, p[3] = (uint8_t)len;
		p[4] = 0x12, p[5] = 0x34;
		p[6] = 0x40;		/* DF */
		p[8] = 64, p[9] = 6;
		memcpy(p + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	} else {
		p[0] = 0x60;
		p[4] = (len - 40) >> 8, p[5] = (uint8_t)(len - 40);
		p[6] = 6, p[7] = 64;
		p[8] = 0xfd, p[23] = 1;
		p[24] = 0xfd, p[39] = 2;
	}
	tcp[0] = 0x9c, tcp[1] = 0x40, tcp[3] = 80;
	memcpy(tcp + 4, "\xff\xff\xf0\x00", 4);	/* seq wraps inside */
	tcp[12] = (thl / 4) << 4;
	tcp[13] = flags;
	tcp[14] = 0xff;
	memset(tcp + 20, 1, 12);		/* NOPs */
	randombytes_buf(p + ihl + thl, payload);
	s = v4 ? offload_csum_add(0, p + 12, 8) : offload_csum_add(0, p + 8, 32);
	s += 6 + (uint32_t)(len - ihl);
	tcp[16] = offload_csum_fold(s) >> 8;
	tcp[17] = (uint8_t)offload_csum_fold(s);
	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = v4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	h->hdr_len = (uint16_t)(ihl + thl);
	h->gso_size = 1388;
	h->csum_start = (uint16_t)ihl;
	h->csum_offset = 16;
	return len;
}

static void
check_split(bool v4, size_t payload)
{
	static uint8_t pkt[WG_PACKET_MAX], orig[WG_PACKET_MAX], seg[WG_PACKET_MAX];
	static struct segs s;
	struct offload_hdr h;
	size_t len, ihl = v4 ? 20 : 40, hdr = ihl + 32, off = 0;
	size_t want = payload == 0 ? 1 : (payload + 1387) / 1388;

	len = super_packet(pkt, v4, payload, 0x80 | 0x10 | 0x08 | 0x01, &h);
	memcpy(orig, pkt, len);
	s.n = 0;
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), 0);
	assert_int_equal(s.n, want);
	for (size_t i = 0; i < s.n; i++) {
		const uint8_t *p = s.p[i], *tcp = p + ihl;
		size_t chunk = s.len[i] - hdr;
		bool last = i == s.n - 1;

		assert_true(chunk == (last ? payload - off : 1388));
		if (v4) {
			assert_int_equal(be16(p + 2), s.len[i]);
			assert_int_equal(be16(p + 4), (uint16_t)(0x1234 + i));
			assert_int_equal(naive_csum(p, 20), 0xffff);
		} else {
			assert_int_equal(be16(p + 4), s.len[i] - 40);
		}
		assert_int_equal(be32(tcp + 4), (uint32_t)(0xfffff000u + off));
		assert_int_equal(!!(tcp[13] & 0x80), i == 0);	/* CWR */
		assert_int_equal(!!(tcp[13] & 0x08), last);	/* PSH */
		assert_int_equal(!!(tcp[13] & 0x01), last);	/* FIN */
		assert_true(tcp[13] & 0x10);			/* ACK */
		assert_memory_equal(tcp + 20, orig + ihl + 20, 12);
		assert_true(tcp_csum_ok(p, s.len[i], v4));
		assert_memory_equal(p + hdr, orig + hdr + off, chunk);
		off += chunk;
	}
	assert_int_equal(off, payload);
}

static void
test_tso_v4(void **state)
{
	(void)state;
	check_split(true, 10000);
	check_split(true, 1388);
	check_split(true, 1389);
	check_split(true, 1);
	check_split(true, 0);
	check_split(true, 65535 - 52);
}

static void
test_tso_v6(void **state)
{
	(void)state;
	check_split(false, 10000);
	check_split(false, 2776);
	check_split(false, 65535 - 72);
}

static void
test_partial_csum(void **state)
{
	static uint8_t pkt[200], seg[WG_PACKET_MAX];
	static struct segs s;
	struct offload_hdr h;
	size_t len;

	(void)state;
	/* a non-GSO TCP packet with a partial checksum */
	len = super_packet(pkt, true, 100, 0x18, &h);
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	s.n = 0;
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.len[0], len);
	assert_true(tcp_csum_ok(s.p[0], len, true));
	/* no NEEDS_CSUM: passed through untouched */
	len = super_packet(pkt, true, 100, 0x18, &h);
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h.flags = 0;
	s.n = 0;
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), 0);
	assert_memory_equal(s.p[0], pkt, len);
}

static void
test_hostile(void **state)
{
	static uint8_t pkt[WG_PACKET_MAX], seg[WG_PACKET_MAX];
	static struct segs s;
	struct offload_hdr h, good;
	size_t len;

	(void)state;
	len = super_packet(pkt, true, 3000, 0x10, &good);
	s.n = 0;
	/* checksum field past the end */
	h = good;
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h.csum_start = (uint16_t)(len - 1);
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), KERR_FORMAT);
	h.csum_start = 0xffff;
	h.csum_offset = 0xffff;
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), KERR_FORMAT);
	/* UFO / USO and unknown types */
	h = good;
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), KERR_FORMAT);
	h.gso_type = 77;
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), KERR_FORMAT);
	/* an IPv6 type on an IPv4 packet */
	h = good;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), KERR_FORMAT);
	/* mss 0 */
	h = good;
	h.gso_size = 0;
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), KERR_FORMAT);
	/* truncated: total length disagrees, TCP header cut */
	assert_int_equal(offload_split(&good, pkt, len - 1, seg, collect, &s),
	    KERR_FORMAT);
	assert_int_equal(offload_split(&good, pkt, 30, seg, collect, &s),
	    KERR_FORMAT);
	pkt[2] = 0, pkt[3] = 30;
	assert_int_equal(offload_split(&good, pkt, 30, seg, collect, &s),
	    KERR_FORMAT);
	/* an IPv4 header length past the packet (found by fuzz_wg_offload:
	 * tests/regress/wg_offload-ihl-past-end) */
	len = super_packet(pkt, true, 0, 0x10, &good);
	pkt[0] = 0x4f;				/* 60-byte header */
	pkt[2] = 0, pkt[3] = 45;
	assert_int_equal(offload_split(&good, pkt, 45, seg, collect, &s),
	    KERR_FORMAT);
	/* a TCP data offset past the packet */
	len = super_packet(pkt, true, 0, 0x10, &good);
	pkt[20 + 12] = 0xf0;
	assert_int_equal(offload_split(&good, pkt, len, seg, collect, &s),
	    KERR_FORMAT);
	/* not TCP */
	len = super_packet(pkt, true, 10, 0x10, &good);
	pkt[9] = 17;
	assert_int_equal(offload_split(&good, pkt, len, seg, collect, &s),
	    KERR_FORMAT);
	/* empty and over-long */
	assert_int_equal(offload_split(&good, pkt, 0, seg, collect, &s), KERR_FORMAT);
	assert_int_equal(offload_split(&good, pkt, WG_PACKET_MAX + 1, seg,
	    collect, &s), KERR_FORMAT);
	assert_int_equal(s.n, 0);
	/* random headers and bytes: never more output than input allows */
	for (int i = 0; i < 20000; i++) {
		size_t n = randombytes_uniform(3000);
		uint8_t raw[OFFLOAD_VNET_HDR_LEN];
		size_t total = 0;

		randombytes_buf(raw, sizeof(raw));
		randombytes_buf(pkt, n);
		offload_hdr_parse(&h, raw);
		h.gso_type &= 0x87;
		h.gso_size = (uint16_t)(536 + randombytes_uniform(1000));
		s.n = 0;
		if (offload_split(&h, pkt, n, seg, collect, &s) != 0) {
			assert_int_equal(s.n, 0);
			continue;
		}
		for (size_t k = 0; k < s.n; k++)
			total += s.len[k];
		assert_true(s.n >= 1 && total >= n);
	}
}

/* ---- GRO: split, then join again ---- */

struct written {
	size_t n;
	uint8_t vnet[SEG_MAX][OFFLOAD_VNET_HDR_LEN];
	size_t len[SEG_MAX];
	uint8_t *p[SEG_MAX];
};

static void
gro_out(void *ctx, const uint8_t *vnet, const uint8_t *p, size_t len)
{
	struct written *w = ctx;

	assert_true(w->n < SEG_MAX);
	memcpy(w->vnet[w->n], vnet, OFFLOAD_VNET_HDR_LEN);
	w->p[w->n] = malloc(len);
	assert_non_null(w->p[w->n]);
	memcpy(w->p[w->n], p, len);
	w->len[w->n++] = len;
}

static void
written_free(struct written *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->p[i]);
	w->n = 0;
}

static void
check_gro_round_trip(bool v4, size_t payload)
{
	static uint8_t pkt[WG_PACKET_MAX], orig[WG_PACKET_MAX], seg[WG_PACKET_MAX];
	static struct segs s;
	static struct offload_gro g;
	static struct written w;
	struct offload_hdr h, got;
	size_t len, ihl = v4 ? 20 : 40;
	uint32_t sum;

	len = super_packet(pkt, v4, payload, 0x10 | 0x08, &h);
	memcpy(orig, pkt, len);
	s.n = 0;
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), 0);
	offload_gro_init(&g);
	for (size_t i = 0; i < s.n; i++)
		offload_gro_add(&g, s.p[i], s.len[i], gro_out, &w);
	offload_gro_flush(&g, gro_out, &w);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.len[0], len);
	offload_hdr_parse(&got, w.vnet[0]);
	if (s.n > 1) {
		assert_int_equal(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
		assert_int_equal(got.gso_type, v4 ? VIRTIO_NET_HDR_GSO_TCPV4 :
		    VIRTIO_NET_HDR_GSO_TCPV6);
		assert_int_equal(got.gso_size, 1388);
		assert_int_equal(got.hdr_len, ihl + 32);
		assert_int_equal(got.csum_start, ihl);
		assert_int_equal(got.csum_offset, 16);
		/* the partial checksum is the pseudo-header sum, as the
		 * kernel itself would have put it (super_packet does) */
		assert_memory_equal(w.p[0] + ihl + 16, orig + ihl + 16, 2);
	}
	/* headers (bar the checksum fields) and payload as the original */
	if (v4) {
		assert_memory_equal(w.p[0], orig, 10);
		assert_int_equal(naive_csum(w.p[0], 20), 0xffff);
		assert_memory_equal(w.p[0] + 12, orig + 12, 8);
	} else {
		assert_memory_equal(w.p[0], orig, 40);
	}
	assert_memory_equal(w.p[0] + ihl, orig + ihl, 16);
	assert_memory_equal(w.p[0] + ihl + 18, orig + ihl + 18, len - ihl - 18);
	(void)sum;
	written_free(&w);
}

static void
test_gro_round_trip(void **state)
{
	(void)state;
	check_gro_round_trip(true, 10000);
	check_gro_round_trip(true, 1388 * 3);
	check_gro_round_trip(true, 100);
	check_gro_round_trip(false, 20000);
	check_gro_round_trip(true, 65535 - 52);
}

static void
test_gro_refuses(void **state)
{
	static uint8_t pkt[WG_PACKET_MAX], seg[WG_PACKET_MAX];
	static struct segs s;
	static struct offload_gro g;
	static struct written w;
	struct offload_hdr h;
	size_t len;

	(void)state;
	len = super_packet(pkt, true, 1388 * 4, 0x10, &h);
	s.n = 0;
	assert_int_equal(offload_split(&h, pkt, len, seg, collect, &s), 0);
	assert_int_equal(s.n, 4);
	offload_gro_init(&g);
	/* a gap in the sequence: 0, 2 -> two packets; then 3 joins 2 */
	offload_gro_add(&g, s.p[0], s.len[0], gro_out, &w);
	offload_gro_add(&g, s.p[2], s.len[2], gro_out, &w);
	offload_gro_add(&g, s.p[3], s.len[3], gro_out, &w);
	offload_gro_flush(&g, gro_out, &w);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.len[0], s.len[0]);
	assert_int_equal(w.vnet[0][1], VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(w.vnet[0][0], VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(w.len[1], s.len[2] + s.len[3] - 52);
	written_free(&w);
	/* another flow (port), a SYN, a UDP packet: nothing joins */
	offload_gro_add(&g, s.p[0], s.len[0], gro_out, &w);
	s.p[1][20 + 1] ^= 1;
	offload_gro_add(&g, s.p[1], s.len[1], gro_out, &w);
	s.p[1][20 + 1] ^= 1;
	s.p[2][20 + 13] |= 0x02;
	offload_gro_add(&g, s.p[2], s.len[2], gro_out, &w);
	s.p[3][9] = 17;
	offload_gro_add(&g, s.p[3], s.len[3], gro_out, &w);
	offload_gro_flush(&g, gro_out, &w);
	assert_int_equal(w.n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(w.vnet[i][1], VIRTIO_NET_HDR_GSO_NONE);
	written_free(&w);
	/* garbage never crashes and is passed through whole */
	for (int i = 0; i < 5000; i++) {
		size_t n = randombytes_uniform(200);

		randombytes_buf(pkt, n);
		if (i % 3 == 0 && n > 60) {
			pkt[0] = i % 2 ? 0x45 : 0x60;
			pkt[9] = 6;
			pkt[6] = 6;
		}
		offload_gro_add(&g, pkt, n, gro_out, &w);
		if (w.n > SEG_MAX - 4)
			written_free(&w);
	}
	offload_gro_flush(&g, gro_out, &w);
	written_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_vs_reference),
		cmocka_unit_test(test_tso_v4),
		cmocka_unit_test(test_tso_v6),
		cmocka_unit_test(test_partial_csum),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_gro_round_trip),
		cmocka_unit_test(test_gro_refuses),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
