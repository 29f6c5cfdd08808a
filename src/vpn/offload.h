/*
 * TUN offloads (IFF_VNET_HDR + TUNSETOFFLOAD TUN_F_CSUM|TSO4|TSO6): the
 * kernel hands koden-vpn TCP "super-packets" of up to 64 KiB with a partial
 * checksum, and this module cuts them into MSS-sized IP packets with complete
 * headers and checksums, as a NIC doing TSO would.  That saves the TCP stack
 * and the TUN device one trip per MSS, the main per-packet cost of a
 * userspace VPN.  Packets are checked against the header lengths they carry
 * (STYLE.md 1): the TUN device is local, but a bug must not read past len.
 */
#ifndef KODEN_VPN_OFFLOAD_H
#define KODEN_VPN_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* struct virtio_net_hdr, native endian (no TUNSETVNETBE), 10 bytes. */
#define OFFLOAD_VNET_HDR_LEN 10

struct offload_hdr {
	uint8_t flags;		/* VIRTIO_NET_HDR_F_* */
	uint8_t gso_type;	/* VIRTIO_NET_HDR_GSO_* */
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

/* Decode the 10-byte header at p. */
void offload_hdr_parse(struct offload_hdr *h, const uint8_t *p);

/* The Internet checksum (RFC 1071): offload_csum_add adds p's 16-bit
 * big-endian words to sum (unfolded); offload_csum_fold folds to 16 bits
 * (not inverted).  Chain adds while sum stays below 2^31. */
uint32_t offload_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t offload_csum_fold(uint32_t sum);

/*
 * One packet read from the TUN device (h its header, pkt/len the IP packet
 * after it): complete a partial checksum and, for a GSO packet, split it.
 * fn(ctx, p, n) gets each resulting IP packet in order (valid during the
 * call only; pkt itself for a non-GSO packet).  seg must hold WG_PACKET_MAX
 * bytes (a segment is built there).  KERR_FORMAT for a header that does not
 * fit the packet or an unsupported GSO type (the caller drops it);
 * nothing is passed to fn then.
 */
int offload_split(const struct offload_hdr *h, uint8_t *pkt, size_t len,
    uint8_t *seg, void (*fn)(void *ctx, const uint8_t *p, size_t n),
    void *ctx) KODEN_WUR;

/*
 * The other direction (GRO): consecutive TCP segments of one flow, as they
 * come out of the tunnel, are joined into one super-packet written to the TUN
 * device with a GSO header, so the receiving TCP stack handles one packet
 * where it would have handled up to OFFLOAD_GRO_SEGS.  Only pure ACK (+PSH)
 * segments with non-empty payloads join; every header field except lengths,
 * IPv4 id and checksums, the sequence number and PSH must match, and the
 * sequence numbers must follow on.  A segment shorter than the first, or one
 * with PSH, closes the super-packet.  One flow is pending at a time;
 * anything else flushes it or passes straight through, so order within a
 * flow is kept.  Inner checksums are not verified: the AEAD authenticated
 * the packets (kernel WireGuard marks them CHECKSUM_UNNECESSARY too).
 */
#define OFFLOAD_GRO_SEGS 64

/* out(ctx, vnet_hdr, pkt, len): write one packet with its 10-byte header. */
typedef void offload_out_fn(void *ctx, const uint8_t *vnet, const uint8_t *p,
    size_t len);

struct offload_gro {
	size_t len;		/* 0: nothing pending */
	size_t ihl, thl;	/* IP and TCP header lengths */
	size_t mss;		/* payload length of the first segment */
	unsigned nseg;
	bool closed;		/* a short or PSH segment ended it */
	uint32_t next_seq;
	uint8_t buf[65535];
};

void offload_gro_init(struct offload_gro *g);
/* Offer one decrypted IP packet (p/len valid only during the call). */
void offload_gro_add(struct offload_gro *g, const uint8_t *p, size_t len,
    offload_out_fn *out, void *ctx);
/* Write whatever is pending; call at the end of each receive batch. */
void offload_gro_flush(struct offload_gro *g, offload_out_fn *out, void *ctx);

#endif
