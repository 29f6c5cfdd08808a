/*
 * libFuzzer target: every WireGuard message parser of src/vpn/wg_*.c
 * (initiation, response, cookie reply, transport data) and the inner-packet
 * parser of the send path.
 *
 * Input: a mode byte, then the datagram.  A fresh device with a fixed
 * private key and one peer (fixed key, 10.0.0.1/32 allowed, an endpoint) is
 * made per input, so outcomes do not depend on earlier inputs and a valid
 * initiation from the seed corpus reaches the Noise read every run.
 *   mode bit 0: the device first starts a handshake with its peer, so a
 *               response or cookie reply has a pending state to match
 *               (its index is random: mostly the "no handshake" path);
 *   mode bit 1: the bytes also go to wg_dev_send as an IP packet from TUN;
 *   mode bit 2: through wg_dev_recv_batch instead, cut in two datagrams at
 *               (mode >> 3) / 32 of the length (the "impossible" check is
 *               then skipped).
 * Checked: nothing crashes; a datagram no valid message can be (wrong
 * length for its type) produces no output at all; no garbage ever reaches
 * the TUN device, since nothing without the peer's keys authenticates.
 *
 * Seeds (fuzz/corpus/wg_packet) come from this file built with
 * -DFUZZ_WG_SEEDS:
 *   cc -std=c11 -D_DEFAULT_SOURCE -Isrc -DFUZZ_WG_SEEDS fuzz/fuzz_wg_packet.c \
 *       build/libkoden.a $(pkg-config --libs libsodium libb2) -pthread \
 *       -o wg-seeds && ./wg-seeds fuzz/corpus/wg_packet
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/log.h"
#include "vpn/wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

static unsigned n_udp, n_tun;

static void
fz_udp(void *ctx, const struct sockaddr *to, socklen_t to_len,
    const uint8_t *p, size_t len)
{
	(void)ctx, (void)to, (void)to_len, (void)p;
	if (len > WG_DATAGRAM_MAX)
		abort();
	n_udp++;
}

static void
fz_tun(void *ctx, const uint8_t *p, size_t len)
{
	(void)ctx, (void)p, (void)len;
	n_tun++;
}

static const struct wg_io fz_io = { .udp_send = fz_udp, .tun_write = fz_tun };

/* fixed keys: the device's and its peer's private keys */
static void
fixed_key(uint8_t k[32], uint8_t v)
{
	memset(k, v, 32);
}

static struct wg_dev *
make_dev(uint8_t self, uint8_t other, struct wg_peer **peer_out,
    const struct sockaddr_in *peer_addr)
{
	struct wg_dev *dev;
	struct wg_peer *peer;
	uint8_t k[32], pub[32];
	uint8_t ip[4] = { 10, 0, 0, other };

	if (wg_dev_new(&dev, &fz_io, NULL) != 0)
		abort();
	dev->wall_offset_ns = 1700000000LL * 1000000000LL;
	fixed_key(k, self);
	if (wg_dev_set_private_key(dev, k) != 0)
		abort();
	fixed_key(k, other);
	crypto_scalarmult_base(pub, k);
	if (wg_peer_new(dev, pub, &peer) != 0)
		abort();
	wg_peer_set_endpoint(peer, (const struct sockaddr *)peer_addr,
	    sizeof(*peer_addr));
	if (wg_peer_allowed_add(peer, AF_INET, ip, 32) != 0)
		abort();
	*peer_out = peer;
	return dev;
}

static const struct sockaddr_in addr_a = { .sin_family = AF_INET,
    .sin_port = 0x1111, .sin_addr = { 0x0100007f } };

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	static uint8_t buf[WG_DATAGRAM_MAX];
	static int inited;
	struct wg_dev *dev;
	struct wg_peer *peer;
	uint64_t now = 1000 * WG_NSEC;
	uint8_t mode;
	bool impossible;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		log_init("fuzz_wg", LOG_ERR_, 0);
		inited = 1;
	}
	if (len < 1 || len - 1 > sizeof(buf))
		return 0;
	mode = p[0];
	p++, len--;
	dev = make_dev(2, 1, &peer, &addr_a);
	if (mode & 1)
		if (wg_peer_initiate(peer, now, false) != 0)
			abort();
	n_udp = n_tun = 0;
	memcpy(buf, p, len);
	if (mode & 4) {
		/* the batched path koden-vpn uses, the datagram cut in two
		 * at a point the last mode bits pick */
		struct wg_rx rx[2];
		size_t cut = len < 32 ? len : (size_t)(mode >> 3) * len / 32;

		rx[0] = (struct wg_rx){ .from = (const struct sockaddr *)&addr_a,
		    .from_len = sizeof(addr_a), .p = buf, .len = len };
		rx[1] = rx[0];
		rx[0].len = cut;
		rx[1].p = buf + cut;
		rx[1].len = len - cut;
		wg_dev_recv_batch(dev, now, rx, cut == 0 || cut == len ? 1 : 2);
	} else {
		wg_dev_recv(dev, now, (const struct sockaddr *)&addr_a,
		    sizeof(addr_a), buf, len);
	}
	impossible = !(mode & 4) && (len < 4 || (buf[0] == WG_MSG_INITIATION &&
	    len != WG_INITIATION_LEN) || (buf[0] == WG_MSG_RESPONSE &&
	    len != WG_RESPONSE_LEN) || (buf[0] == WG_MSG_COOKIE &&
	    len != WG_COOKIE_REPLY_LEN) || (buf[0] == WG_MSG_DATA &&
	    len < WG_DATA_MIN_LEN) || buf[0] == 0 || buf[0] > 4);
	if (impossible && n_udp != 0)
		abort();
	/* no session exists, so no data can authenticate */
	if (n_tun != 0)
		abort();
	if (mode & 2) {
		memcpy(buf, p, len);
		wg_dev_send(dev, now, buf, len);
	}
	wg_dev_tick(dev, now + 6 * WG_NSEC);
	wg_dev_free(dev);
	return 0;
}

#ifdef FUZZ_WG_SEEDS
/* Capture what a device with the other fixed key sends. */
static uint8_t cap[8][256];
static size_t cap_len[8], n_cap;

static void
seed_udp(void *ctx, const struct sockaddr *to, socklen_t to_len,
    const uint8_t *p, size_t len)
{
	(void)ctx, (void)to, (void)to_len;
	if (n_cap < 8 && len <= sizeof(cap[0])) {
		memcpy(cap[n_cap], p, len);
		cap_len[n_cap++] = len;
	}
}

static void
write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *p,
    size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fputc(mode, f) == EOF || fwrite(p, 1, len, f) != len ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	static const struct wg_io seed_io = { .udp_send = seed_udp,
	    .tun_write = fz_tun };
	struct wg_dev *a;
	struct wg_peer *pa;
	uint8_t k[32], pub[32], ip[4] = { 10, 0, 0, 2 };
	uint8_t pkt[60] = { 0x45, 0, 0, 60, 0, 0, 0, 0, 64, 17, 0, 0,
	    10, 0, 0, 1, 10, 0, 0, 2 };

	if (argc != 2 || sodium_init() < 0)
		return 2;
	if (wg_dev_new(&a, &seed_io, NULL) != 0)
		return 1;
	a->wall_offset_ns = 1700000000LL * 1000000000LL;
	fixed_key(k, 1);
	if (wg_dev_set_private_key(a, k) != 0)
		return 1;
	fixed_key(k, 2);
	crypto_scalarmult_base(pub, k);
	if (wg_peer_new(a, pub, &pa) != 0)
		return 1;
	wg_peer_set_endpoint(pa, (const struct sockaddr *)&addr_a,
	    sizeof(addr_a));
	if (wg_peer_allowed_add(pa, AF_INET, ip, 32) != 0)
		return 1;
	/* an initiation for the fuzzed device */
	wg_dev_send(a, 1000 * WG_NSEC, pkt, sizeof(pkt));
	if (n_cap != 1 || cap_len[0] != WG_INITIATION_LEN)
		return 1;
	write_seed(argv[1], "initiation", 0, cap[0], cap_len[0]);
	/* shapes of the other messages: right type and size */
	memset(cap[1], 0, sizeof(cap[1]));
	cap[1][0] = WG_MSG_RESPONSE;
	write_seed(argv[1], "response", 1, cap[1], WG_RESPONSE_LEN);
	cap[1][0] = WG_MSG_COOKIE;
	write_seed(argv[1], "cookie", 1, cap[1], WG_COOKIE_REPLY_LEN);
	cap[1][0] = WG_MSG_DATA;
	write_seed(argv[1], "keepalive", 0, cap[1], WG_DATA_MIN_LEN);
	write_seed(argv[1], "data", 0, cap[1], WG_DATA_MIN_LEN + 64);
	pkt[15] = 2;	/* to the fuzzed device's peer, 10.0.0.1 */
	pkt[19] = 1;
	write_seed(argv[1], "ip-packet", 2, pkt, sizeof(pkt));
	wg_dev_free(a);
	return 0;
}
#endif
