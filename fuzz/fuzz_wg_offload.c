/*
 * libFuzzer target: the TUN offload parser of src/vpn/offload.c (a
 * virtio_net_hdr and the IP packet behind it, as koden-vpn reads them from
 * its TUN device), including TSO splitting.
 *
 * The resulting segments then go through the GRO joiner (offload_gro_*),
 * and so do the raw bytes when the split refuses them.
 *
 * Input: 10 bytes of virtio_net_hdr, then the packet.  Checked: nothing
 * crashes or reads past the packet; on success every segment fits in
 * WG_PACKET_MAX, a GSO split yields segments no longer than the headers
 * plus gso_size, and the segments hold at least the input's bytes; on
 * failure nothing was handed on.
 *
 * Seeds (fuzz/corpus/wg_offload): IPv4 and IPv6 TSO super-packets, a
 * partial-checksum packet and a plain one, each a virtio_net_hdr and a TCP
 * packet whose checksum field holds the pseudo-header sum, as Linux sends.
 */
#include <linux/virtio_net.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vpn/offload.h"
#include "vpn/wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

static size_t n_out, bytes_out, max_seg, gro_in, gro_bytes_in, gro_bytes_out;
static struct offload_gro gro;

static void
gro_sink(void *ctx, const uint8_t *vnet, const uint8_t *p, size_t n)
{
	(void)ctx, (void)vnet, (void)p;
	if (n > sizeof(gro.buf))
		abort();
	gro_bytes_out += n;
}

static void
sink(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	if (n == 0 || n > WG_PACKET_MAX)
		abort();
	n_out++;
	bytes_out += n;
	if (n > max_seg)
		max_seg = n;
	/* and the segments through GRO, the receive direction */
	gro_in++;
	gro_bytes_in += n;
	offload_gro_add(&gro, p, n, gro_sink, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	static uint8_t pkt[WG_PACKET_MAX], seg[WG_PACKET_MAX];
	struct offload_hdr h;
	size_t n;

	if (len < OFFLOAD_VNET_HDR_LEN || len - OFFLOAD_VNET_HDR_LEN > sizeof(pkt))
		return 0;
	offload_hdr_parse(&h, p);
	n = len - OFFLOAD_VNET_HDR_LEN;
	memcpy(pkt, p + OFFLOAD_VNET_HDR_LEN, n);
	n_out = bytes_out = max_seg = 0;
	gro_in = gro_bytes_in = gro_bytes_out = 0;
	offload_gro_init(&gro);
	if (offload_split(&h, pkt, n, seg, sink, NULL) != 0) {
		if (n_out != 0)
			abort();
		/* raw bytes through GRO: passed on whole */
		offload_gro_add(&gro, pkt, n, gro_sink, NULL);
		offload_gro_flush(&gro, gro_sink, NULL);
		if (gro_bytes_out != n)
			abort();
		return 0;
	}
	offload_gro_flush(&gro, gro_sink, NULL);
	/* joining only drops repeated headers: never more bytes out */
	if (gro_bytes_out > gro_bytes_in || gro_bytes_out == 0)
		abort();
	if (n_out == 0 || bytes_out < n)
		abort();
	if ((h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE &&
	    max_seg > 60 + 60 + (size_t)h.gso_size)
		abort();
	return 0;
}
