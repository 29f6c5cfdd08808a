/*
 * TSO in userspace for TUN super-packets (see offload.h).  Per segment, as
 * the kernel's tcp_gso_segment does: IPv4 total length, id + i and header
 * checksum; IPv6 payload length; TCP sequence number + i * MSS; CWR only on
 * the first segment, FIN and PSH only on the last; the TCP checksum computed
 * afresh over the pseudo-header and the segment.
 */
#include <arpa/inet.h>
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <string.h>

#include "vpn/offload.h"
#include "vpn/wg.h"

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_CWR 0x80

void
offload_hdr_parse(struct offload_hdr *h, const uint8_t *p)
{
	h->flags = p[0];
	h->gso_type = p[1];
	memcpy(&h->hdr_len, p + 2, 2);
	memcpy(&h->gso_size, p + 4, 2);
	memcpy(&h->csum_start, p + 6, 2);
	memcpy(&h->csum_offset, p + 8, 2);
}

/*
 * RFC 1071 §2(B): the one's complement sum does not depend on byte order,
 * so sum native-endian words (eight bytes per step) and swap once at the end.
 */
uint32_t
offload_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint64_t s = 0;
	size_t i = 0;
	uint16_t w;

	for (; i + 8 <= len; i += 8) {
		uint32_t a, b;

		memcpy(&a, p + i, 4);
		memcpy(&b, p + i + 4, 4);
		s += (uint64_t)a + b;
	}
	for (; i + 2 <= len; i += 2) {
		memcpy(&w, p + i, 2);
		s += w;
	}
	if (i < len) {		/* a last odd byte is padded with a zero */
		w = 0;
		memcpy(&w, p + i, 1);
		s += w;
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return sum + ntohs((uint16_t)s);
}

uint16_t
offload_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = (uint8_t)v;
}

static uint16_t
get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Complete a partial checksum (NEEDS_CSUM): the field holds the
 * pseudo-header sum; sum from csum_start to the end and store ~fold. */
static int
complete_csum(const struct offload_hdr *h, uint8_t *pkt, size_t len)
{
	size_t start = h->csum_start, field = (size_t)h->csum_start + h->csum_offset;
	uint32_t s;

	if (start >= len || field + 2 > len)
		return KERR_FORMAT;
	s = offload_csum_add(0, pkt + start, len - start);
	put_be16(pkt + field, (uint16_t)~offload_csum_fold(s));
	return 0;
}

static int
tcp_segment(const struct offload_hdr *h, const uint8_t *pkt, size_t len,
    uint8_t *seg, void (*fn)(void *, const uint8_t *, size_t), void *ctx)
{
	bool v4 = (pkt[0] >> 4) == 4;
	size_t ihl, thl, hdr, payload, mss = h->gso_size, off;
	uint32_t seq;
	uint16_t id = 0;
	uint8_t flags;

	if (v4) {
		if (len < 20 || h->gso_type != VIRTIO_NET_HDR_GSO_TCPV4)
			return KERR_FORMAT;
		ihl = (size_t)(pkt[0] & 0x0f) * 4;
		if (ihl < 20 || ihl > len || pkt[9] != 6 ||
		    get_be16(pkt + 2) != len)
			return KERR_FORMAT;
		id = get_be16(pkt + 4);
	} else {
		if (len < 40 || (pkt[0] >> 4) != 6 ||
		    h->gso_type != VIRTIO_NET_HDR_GSO_TCPV6)
			return KERR_FORMAT;
		ihl = 40;
		/* no extension headers: Linux TCP sends none */
		if (pkt[6] != 6 || (size_t)get_be16(pkt + 4) + 40 != len)
			return KERR_FORMAT;
	}
	if (len - ihl < 20)
		return KERR_FORMAT;
	thl = (size_t)(pkt[ihl + 12] >> 4) * 4;
	if (thl < 20 || len - ihl < thl || mss == 0)
		return KERR_FORMAT;
	hdr = ihl + thl;
	payload = len - hdr;
	seq = (uint32_t)pkt[ihl + 4] << 24 | (uint32_t)pkt[ihl + 5] << 16 |
	    (uint32_t)pkt[ihl + 6] << 8 | pkt[ihl + 7];
	flags = pkt[ihl + 13];
	for (off = 0;; off += mss) {
		size_t chunk = payload - off < mss ? payload - off : mss;
		size_t n = hdr + chunk, i = off / mss;
		bool last = off + chunk >= payload;
		uint8_t *tcp = seg + ihl;
		uint32_t s, sq = seq + (uint32_t)off;

		memcpy(seg, pkt, hdr);
		memcpy(seg + hdr, pkt + hdr + off, chunk);
		if (v4) {
			put_be16(seg + 2, (uint16_t)n);
			put_be16(seg + 4, (uint16_t)(id + i));
			seg[10] = seg[11] = 0;
			put_be16(seg + 10, (uint16_t)~offload_csum_fold(
			    offload_csum_add(0, seg, ihl)));
		} else {
			put_be16(seg + 4, (uint16_t)(n - 40));
		}
		tcp[4] = sq >> 24;
		tcp[5] = sq >> 16;
		tcp[6] = sq >> 8;
		tcp[7] = (uint8_t)sq;
		tcp[13] = flags;
		if (i > 0)
			tcp[13] &= ~TCP_FLAG_CWR;
		if (!last)
			tcp[13] &= ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
		/* pseudo-header: addresses, protocol, TCP length */
		tcp[16] = tcp[17] = 0;
		if (v4)
			s = offload_csum_add(0, seg + 12, 8);
		else
			s = offload_csum_add(0, seg + 8, 32);
		s += 6 + (uint32_t)(n - ihl);
		s = offload_csum_add(s, tcp, n - ihl);
		put_be16(tcp + 16, (uint16_t)~offload_csum_fold(s));
		fn(ctx, seg, n);
		if (last)
			break;
	}
	return 0;
}

int
offload_split(const struct offload_hdr *h, uint8_t *pkt, size_t len,
    uint8_t *seg, void (*fn)(void *ctx, const uint8_t *p, size_t n),
    void *ctx)
{
	int r;

	if (len == 0 || len > WG_PACKET_MAX)
		return KERR_FORMAT;
	switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		    (r = complete_csum(h, pkt, len)) != 0)
			return r;
		fn(ctx, pkt, len);
		return 0;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6: {
		struct offload_hdr hh = *h;

		hh.gso_type &= ~VIRTIO_NET_HDR_GSO_ECN;
		return tcp_segment(&hh, pkt, len, seg, fn, ctx);
	}
	default:
		return KERR_FORMAT;
	}
}

/* ---- GRO towards the TUN device ---- */

#define TCP_FLAG_ACK 0x10

void
offload_gro_init(struct offload_gro *g)
{
	g->len = 0;
}

static void
vnet_put(uint8_t *v, uint8_t flags, uint8_t gso_type, uint16_t hdr_len,
    uint16_t gso_size, uint16_t csum_start, uint16_t csum_offset)
{
	v[0] = flags;
	v[1] = gso_type;
	memcpy(v + 2, &hdr_len, 2);
	memcpy(v + 4, &gso_size, 2);
	memcpy(v + 6, &csum_start, 2);
	memcpy(v + 8, &csum_offset, 2);
}

/* A packet written as it is: checksums are vouched for by the AEAD. */
static void
out_plain(const uint8_t *p, size_t len, offload_out_fn *out, void *ctx)
{
	uint8_t v[OFFLOAD_VNET_HDR_LEN];

	vnet_put(v, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_GSO_NONE, 0, 0,
	    0, 0);
	out(ctx, v, p, len);
}

void
offload_gro_flush(struct offload_gro *g, offload_out_fn *out, void *ctx)
{
	uint8_t v[OFFLOAD_VNET_HDR_LEN], *p = g->buf, *tcp;
	bool v4;
	uint32_t s;

	if (g->len == 0)
		return;
	if (g->nseg == 1) {
		out_plain(g->buf, g->len, out, ctx);
		g->len = 0;
		return;
	}
	v4 = (p[0] >> 4) == 4;
	tcp = p + g->ihl;
	if (v4) {
		put_be16(p + 2, (uint16_t)g->len);
		p[10] = p[11] = 0;
		put_be16(p + 10, (uint16_t)~offload_csum_fold(
		    offload_csum_add(0, p, g->ihl)));
		s = offload_csum_add(0, p + 12, 8);
	} else {
		put_be16(p + 4, (uint16_t)(g->len - 40));
		s = offload_csum_add(0, p + 8, 32);
	}
	/* CHECKSUM_PARTIAL: the field holds the pseudo-header sum */
	s += 6 + (uint32_t)(g->len - g->ihl);
	put_be16(tcp + 16, offload_csum_fold(s));
	vnet_put(v, VIRTIO_NET_HDR_F_NEEDS_CSUM, v4 ? VIRTIO_NET_HDR_GSO_TCPV4 :
	    VIRTIO_NET_HDR_GSO_TCPV6, (uint16_t)(g->ihl + g->thl),
	    (uint16_t)g->mss, (uint16_t)g->ihl, 16);
	out(ctx, v, g->buf, g->len);
	g->len = 0;
}

/*
 * A TCP segment that may join a super-packet: IPv4 without options or
 * fragments, or IPv6 without extension headers; ACK and at most PSH set;
 * a payload.  Sets the header lengths; 0 if not.
 */
static bool
gro_candidate(const uint8_t *p, size_t len, size_t *ihl, size_t *thl)
{
	const uint8_t *tcp;

	if (len >= 40 && p[0] == 0x45) {
		if (p[9] != 6 || get_be16(p + 2) != len ||
		    (get_be16(p + 6) & 0x3fff) != 0)
			return false;
		*ihl = 20;
	} else if (len >= 60 && (p[0] >> 4) == 6) {
		if (p[6] != 6 || (size_t)get_be16(p + 4) + 40 != len)
			return false;
		*ihl = 40;
	} else {
		return false;
	}
	tcp = p + *ihl;
	*thl = (size_t)(tcp[12] >> 4) * 4;
	if (*thl < 20 || len - *ihl <= *thl)
		return false;
	return (tcp[13] & ~TCP_FLAG_PSH) == TCP_FLAG_ACK;
}

/* p continues the pending segment's flow: same headers but for lengths,
 * IPv4 id and checksums, sequence number and PSH. */
static bool
gro_same_flow(const struct offload_gro *g, const uint8_t *p, size_t ihl,
    size_t thl)
{
	const uint8_t *a = g->buf, *ta = a + g->ihl, *tb = p + ihl;

	if (ihl != g->ihl || thl != g->thl)
		return false;
	if (ihl == 20) {
		if (memcmp(a, p, 2) != 0 || memcmp(a + 6, p + 6, 4) != 0 ||
		    memcmp(a + 12, p + 12, 8) != 0)
			return false;
	} else {
		if (memcmp(a, p, 4) != 0 || memcmp(a + 6, p + 6, 34) != 0)
			return false;
	}
	return memcmp(ta, tb, 4) == 0 && memcmp(ta + 8, tb + 8, 5) == 0 &&
	    memcmp(ta + 14, tb + 14, 2) == 0 &&
	    memcmp(ta + 18, tb + 18, thl - 18) == 0;
}

void
offload_gro_add(struct offload_gro *g, const uint8_t *p, size_t len,
    offload_out_fn *out, void *ctx)
{
	size_t ihl, thl, plen;
	uint32_t seq;
	bool psh;

	if (!gro_candidate(p, len, &ihl, &thl)) {
		/* not TCP data: passes (order with the pending flow does not
		 * matter, it is another flow) */
		out_plain(p, len, out, ctx);
		return;
	}
	plen = len - ihl - thl;
	seq = (uint32_t)p[ihl + 4] << 24 | (uint32_t)p[ihl + 5] << 16 |
	    (uint32_t)p[ihl + 6] << 8 | p[ihl + 7];
	psh = p[ihl + 13] & TCP_FLAG_PSH;
	if (g->len != 0 && !g->closed && g->nseg < OFFLOAD_GRO_SEGS &&
	    seq == g->next_seq && plen <= g->mss &&
	    g->len + plen <= sizeof(g->buf) &&
	    gro_same_flow(g, p, ihl, thl)) {
		memcpy(g->buf + g->len, p + ihl + thl, plen);
		g->len += plen;
		g->nseg++;
		g->next_seq = seq + (uint32_t)plen;
		if (psh)
			g->buf[g->ihl + 13] |= TCP_FLAG_PSH;
		g->closed = psh || plen < g->mss;
		return;
	}
	offload_gro_flush(g, out, ctx);
	memcpy(g->buf, p, len);
	g->len = len;
	g->ihl = ihl;
	g->thl = thl;
	g->mss = plen;
	g->nseg = 1;
	g->next_seq = seq + (uint32_t)plen;
	g->closed = psh;
}
