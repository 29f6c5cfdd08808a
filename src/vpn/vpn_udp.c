/*
 * koden-vpn's UDP side: the socket (dual stack, 8 MiB buffers, UDP GRO,
 * fwmark), the transmit queue the engine fills through struct wg_io and
 * vpn_tx_flush sends with sendmmsg, runs of datagrams to one peer as one
 * UDP_SEGMENT (GSO) send, and receive batches by recvmmsg, GRO trains split,
 * handed to the engine whole (wg_dev_recv_batch).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/log.h"
#include "vpn/offload.h"
#include "vpn/vpn_int.h"
#include "vpn/wg.h"

#ifndef SO_RCVBUFFORCE
#define SO_RCVBUFFORCE 33
#endif
#ifndef SO_SNDBUFFORCE
#define SO_SNDBUFFORCE 32
#endif

#define VPN_SOCKBUF (8 << 20)
#define VPN_RX_BATCH 32		/* datagrams (or GRO trains) per recvmmsg */
#define VPN_GSO_SEGS 64		/* datagrams per UDP_SEGMENT send */
#define VPN_GSO_BYTES 60000	/* and bytes: one IP packet's worth, less headers */
/* recvmmsg batches per wake-up before the loop looks at its other sources */
#define VPN_RX_ROUNDS 8
/* datagrams in one UDP GRO train at most (the kernel's limit) */
#define VPN_GRO_TRAIN_MAX 64
#define VPN_RX_MAX (VPN_RX_BATCH * VPN_GRO_TRAIN_MAX)

/* receive buffers: static, never per packet */
static uint8_t rx_buf[VPN_RX_BATCH][WG_PACKET_MAX + 1];
/* every datagram of a receive batch (GRO trains split) */
static struct wg_rx rx_list[VPN_RX_MAX];

static bool
same_dest(const struct tx_entry *a, const struct tx_entry *b)
{
	return a->to_len == b->to_len && memcmp(&a->to, &b->to, a->to_len) == 0;
}

/* Send the messages m[0..n) datagram by datagram (UDP GSO is unavailable). */
static void
continue_plain(struct vpn *v, struct mmsghdr *m, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		struct msghdr *h = &m[k].msg_hdr;
		const uint8_t *b = h->msg_iov[0].iov_base;
		size_t total = h->msg_iov[0].iov_len, seg = total;

		if (h->msg_control != NULL) {
			uint16_t gso;

			memcpy(&gso, CMSG_DATA(CMSG_FIRSTHDR(h)), sizeof(gso));
			seg = gso;
		}
		for (size_t o = 0; o < total; o += seg)
			(void)sendto(v->udp_fd, b + o, total - o < seg ?
			    total - o : seg, 0, h->msg_name, h->msg_namelen);
	}
}

/*
 * Send everything queued.  Consecutive datagrams to one destination with one
 * length (the last may be shorter) leave as one UDP_SEGMENT message: the
 * kernel walks its UDP/IP stack once for the lot.
 */
void
vpn_tx_flush(struct vpn *v)
{
	struct mmsghdr msgs[VPN_TX_MAX];
	struct iovec iov[VPN_TX_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl[VPN_TX_MAX];
	unsigned n = 0, i = 0, off = 0;

	if (v->tx_n == 0)
		return;
	/* encrypt the reserved data slots first, on every core */
	wg_dev_seal(v->dev);
	while (i < v->tx_n) {
		struct tx_entry *e = &v->tx[i];
		unsigned j = i + 1;
		struct msghdr *m = &msgs[n].msg_hdr;

		if (v->udp_gso) {
			while (j < v->tx_n && j - i < VPN_GSO_SEGS &&
			    v->tx[j].off + v->tx[j].len - e->off <=
			    VPN_GSO_BYTES &&
			    v->tx[j - 1].len == e->len &&
			    v->tx[j].len <= e->len &&
			    v->tx[j].off == v->tx[j - 1].off + v->tx[j - 1].len &&
			    same_dest(e, &v->tx[j]))
				j++;
		}
		memset(m, 0, sizeof(*m));
		iov[n].iov_base = v->tx_arena + e->off;
		iov[n].iov_len = v->tx[j - 1].off + v->tx[j - 1].len - e->off;
		m->msg_name = &e->to;
		m->msg_namelen = e->to_len;
		m->msg_iov = &iov[n];
		m->msg_iovlen = 1;
		if (j - i > 1) {
			struct cmsghdr *c;
			uint16_t gso = (uint16_t)e->len;

			m->msg_control = ctl[n].buf;
			m->msg_controllen = sizeof(ctl[n].buf);
			c = CMSG_FIRSTHDR(m);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(gso));
			memcpy(CMSG_DATA(c), &gso, sizeof(gso));
		}
		n++;
		i = j;
	}
	while (off < n) {
		int r = sendmmsg(v->udp_fd, msgs + off, n - off, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (msgs[off].msg_hdr.msg_control != NULL &&
			    (errno == EIO || errno == EINVAL ||
			    errno == EOPNOTSUPP)) {
				/* no UDP GSO here (old kernel, some NICs):
				 * never again, and this batch as datagrams */
				log_info("UDP_SEGMENT refused (%s): sending "
				    "datagrams one by one", strerror(errno));
				v->udp_gso = false;
				continue_plain(v, msgs + off, n - off);
				break;
			}
			if (msgs[off].msg_hdr.msg_control != NULL &&
			    errno == EMSGSIZE) {
				/* segments over the route's MTU: let the
				 * kernel fragment them one by one */
				continue_plain(v, msgs + off, 1);
				off++;
				continue;
			}
			/* EAGAIN (full buffer), unreachable...: drop this
			 * message, as a router would, and go on */
			off++;
			continue;
		}
		off += (unsigned)r;
	}
	v->tx_n = 0;
	v->tx_used = 0;
}

/* Endpoints are kept as the socket's family: v4 as v4-mapped on a
 * dual-stack socket. */
socklen_t
vpn_to_sock_family(const struct vpn *v, const struct sockaddr *sa, socklen_t len,
    struct sockaddr_storage *out)
{
	if (v->udp_family == AF_INET6 && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
		    .sin6_port = s4->sin_port };

		s6.sin6_addr.s6_addr[10] = 0xff;
		s6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6.sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		memcpy(out, &s6, sizeof(s6));
		return sizeof(s6);
	}
	if (len > sizeof(*out))
		return 0;
	memcpy(out, sa, len);
	return len;
}

/* The reverse, for `wg show`: v4-mapped addresses back to AF_INET. */
socklen_t
vpn_from_sock_family(const struct sockaddr *sa, socklen_t len,
    struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const void *)sa;

	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in s4 = { .sin_family = AF_INET,
		    .sin_port = s6->sin6_port };

		memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		memcpy(out, &s4, sizeof(s4));
		return sizeof(s4);
	}
	memcpy(out, sa, len);
	return len;
}

/* A slot of len bytes at the end of the transmit queue (wg_io.udp_reserve),
 * or NULL. */
uint8_t *
vpn_io_udp_reserve(void *ctx, const struct sockaddr *to, socklen_t to_len,
    size_t len)
{
	struct vpn *v = ctx;
	struct tx_entry *e;
	uint8_t *p;

	if (v->udp_fd < 0 || to_len > sizeof(e->to) || len > VPN_TX_ARENA)
		return NULL;
	if (len > VPN_TX_ARENA - v->tx_used || v->tx_n == VPN_TX_MAX)
		vpn_tx_flush(v);
	assert(v->tx_n < VPN_TX_MAX && len <= VPN_TX_ARENA - v->tx_used);
	e = &v->tx[v->tx_n++];
	e->off = (uint32_t)v->tx_used;
	e->len = (uint32_t)len;
	memcpy(&e->to, to, to_len);
	e->to_len = to_len;
	p = v->tx_arena + v->tx_used;
	v->tx_used += len;
	return p;
}

void
vpn_io_udp_send(void *ctx, const struct sockaddr *to, socklen_t to_len,
    const uint8_t *p, size_t len)
{
	uint8_t *slot = vpn_io_udp_reserve(ctx, to, to_len, len);

	if (slot != NULL)
		memcpy(slot, p, len);
}

static void
sock_buffers(int fd)
{
	int sz = VPN_SOCKBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/*
 * A UDP socket on port (0: any), dual stack if the host has IPv6.  Returns
 * the fd and sets *family and *bound, or -1 with errno set.
 */
int
vpn_udp_open(uint16_t port, uint32_t fwmark, int *family, uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, off = 0, e;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6,
		    .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT };

		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		*family = AF_INET6;
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET,
		    .sin_port = htons(port) };

		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		*family = AF_INET;
	}
	sock_buffers(fd);
	{
		int one = 1;	/* receive UDP GRO trains (split in vpn_handle_udp) */

		(void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	}
	if (fwmark != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark));
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*bound = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* The segment size of a UDP GRO train, or 0 for a single datagram. */
static size_t
gro_size(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int g;

			memcpy(&g, CMSG_DATA(c), sizeof(g));
			return g > 0 ? (size_t)g : 0;
		}
	}
	return 0;
}

void
vpn_handle_udp(struct vpn *v)
{
	struct mmsghdr msgs[VPN_RX_BATCH];
	struct iovec iov[VPN_RX_BATCH];
	struct sockaddr_storage from[VPN_RX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl[VPN_RX_BATCH];
	int n;

	for (int rounds = 0; rounds < VPN_RX_ROUNDS; rounds++) {
		for (int i = 0; i < VPN_RX_BATCH; i++) {
			iov[i].iov_base = rx_buf[i];
			iov[i].iov_len = sizeof(rx_buf[i]);
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = ctl[i].buf;
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
		}
		n = recvmmsg(v->udp_fd, msgs, VPN_RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		size_t nrx = 0;

		for (int i = 0; i < n; i++) {
			size_t total = msgs[i].msg_len;
			size_t seg = gro_size(&msgs[i].msg_hdr);

			if (seg == 0 || seg > total)
				seg = total;
			for (size_t o = 0; o < total && nrx < VPN_RX_MAX;
			    o += seg) {
				struct wg_rx *r = &rx_list[nrx++];

				r->from = (struct sockaddr *)&from[i];
				r->from_len = msgs[i].msg_hdr.msg_namelen;
				r->p = rx_buf[i] + o;
				r->len = total - o < seg ? total - o : seg;
			}
		}
		pthread_mutex_lock(&v->lock);
		wg_dev_recv_batch(v->dev, mono_now(), rx_list, nrx);
		offload_gro_flush(&v->gro, v->tun_out, v);
		vpn_tx_flush(v);
		pthread_mutex_unlock(&v->lock);
		if (n < VPN_RX_BATCH)
			return;
	}
}
