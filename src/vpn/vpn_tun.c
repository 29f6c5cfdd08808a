/*
 * koden-vpn's TUN side: the device, opened with IFF_VNET_HDR and the TSO
 * offloads where the kernel has them; packets read from it (TCP
 * super-packets cut by offload_split) go to the engine's send path, packets
 * the engine decrypted are written to it, TCP segments of one flow joined
 * again into super-packets (offload.c's GRO).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/log.h"
#include "vpn/offload.h"
#include "vpn/vpn_int.h"
#include "vpn/wg.h"

#define VPN_DEFAULT_MTU 1420
#define VPN_TUN_BATCH 64	/* TUN reads per wake-up */

/* receive buffers: static, never per packet */
static uint8_t tun_buf[OFFLOAD_VNET_HDR_LEN + WG_PACKET_MAX + 64];
static uint8_t seg_buf[WG_PACKET_MAX + 64];

/* Write one packet with its virtio_net_hdr to the TUN device. */
void
vpn_tun_out(void *ctx, const uint8_t *vnet, const uint8_t *p, size_t len)
{
	struct vpn *v = ctx;
	struct iovec iov[2] = {
		{ .iov_base = (void *)vnet, .iov_len = OFFLOAD_VNET_HDR_LEN },
		{ .iov_base = (void *)p, .iov_len = len },
	};

	/* a full TUN queue drops the packet, like any router */
	(void)!writev(v->tun_fd, iov, 2);
}

void
vpn_io_tun_write(void *ctx, const uint8_t *p, size_t len)
{
	struct vpn *v = ctx;

	if (v->vnet) {
		/* joined into TCP super-packets where possible (offload.c);
		 * vpn_handle_udp flushes at the end of each batch */
		offload_gro_add(&v->gro, p, len, vpn_tun_out, v);
		return;
	}
	(void)!write(v->tun_fd, p, len);
}

/*
 * The TUN device, non-blocking.  With offload, IFF_VNET_HDR and TSO: reads
 * then carry a virtio_net_hdr and may be 64 KiB TCP super-packets (split in
 * offload.c); *vnet says whether that worked.
 */
int
vpn_tun_open(const char *name, bool offload, bool *vnet, struct kerr *err)
{
	struct ifreq ifr;
	int fd, s, r;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return kerr_set(err, KERR_IO, "open /dev/net/tun: %s",
		    strerror(errno)), -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	*vnet = offload;
	r = ioctl(fd, TUNSETIFF, &ifr);
	if (r != 0 && offload) {
		*vnet = false;
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
		r = ioctl(fd, TUNSETIFF, &ifr);
	}
	if (r != 0) {
		kerr_set(err, KERR_IO, "create TUN interface %s: %s", name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (*vnet) {
		int sz = OFFLOAD_VNET_HDR_LEN;

		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) != 0 ||
		    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 |
		    TUN_F_TSO6) != 0)
			log_warn("TUN %s: no TSO offload: %s", name,
			    strerror(errno));
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		kerr_set(err, KERR_IO, "TUN %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	/* wireguard-go's default MTU; wg-quick sets its own afterwards */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0) {
		ifr.ifr_mtu = VPN_DEFAULT_MTU;
		(void)ioctl(s, SIOCSIFMTU, &ifr);
		close(s);
	}
	return fd;
}

struct tun_ctx {
	struct vpn *v;
	uint64_t now;
};

static void
tun_packet(void *ctx, const uint8_t *p, size_t n)
{
	struct tun_ctx *t = ctx;

	wg_dev_send(t->v->dev, t->now, p, n);
}

/* 0 normally, -1 when the interface is gone. */
int
vpn_handle_tun(struct vpn *v)
{
	struct tun_ctx t = { .v = v, .now = mono_now() };
	size_t hl = v->vnet ? OFFLOAD_VNET_HDR_LEN : 0;
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	for (int i = 0; i < VPN_TUN_BATCH; i++) {
		ssize_t n = read(v->tun_fd, tun_buf, sizeof(tun_buf));
		struct offload_hdr h;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			log_info("interface %s: %s; exiting", v->ifname,
			    strerror(errno));
			ret = -1;
			break;
		}
		if (n == 0) {
			ret = -1;
			break;
		}
		if ((size_t)n <= hl)
			continue;
		if (!v->vnet) {
			wg_dev_send(v->dev, t.now, tun_buf, (size_t)n);
			continue;
		}
		offload_hdr_parse(&h, tun_buf);
		if (offload_split(&h, tun_buf + hl, (size_t)n - hl, seg_buf,
		    tun_packet, &t) != 0)
			log_debug("TUN packet with a bad offload header dropped");
	}
	vpn_tx_flush(v);
	pthread_mutex_unlock(&v->lock);
	return ret;
}
