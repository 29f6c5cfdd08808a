/*
 * koden-vpn [-f] INTERFACE: the userspace WireGuard-protocol VPN, driven the
 * way wireguard-go is.  It creates the TUN interface, serves the userspace
 * API on /var/run/wireguard/INTERFACE.sock (src/vpn/uapi.c) for `wg` and
 * `wg-quick`, daemonises unless -f or WG_PROCESS_FOREGROUND=1, and exits
 * cleanly (removing the socket) on SIGTERM/SIGINT or when the interface is
 * deleted.  The protocol lives in wg.c; this file is the I/O around it.
 *
 * Threads: the main thread moves packets (TUN <-> UDP, batched with
 * recvmmsg/sendmmsg, TSO/GRO on the TUN side and GSO/GRO on the UDP side)
 * and runs the timers; a fork-join pool (workers.c, one thread per extra
 * CPU) does the AEAD work of each batch; one thread accepts UAPI
 * connections and serves each in a detached thread.  One mutex serialises
 * every call into the engine.
 *
 * Privileges, once TUN, UDP and UAPI sockets are open: every capability is
 * dropped except CAP_NET_ADMIN (SO_MARK for fwmark, SO_*BUFFORCE when a
 * listen-port change rebinds) and CAP_NET_BIND_SERVICE (a listen port below
 * 1024), also from the bounding set; PR_SET_NO_NEW_PRIVS; and a seccomp
 * filter that makes exec, ptrace, module/kexec/bpf/mount/namespace and
 * similar system calls fail with EPERM (a deny list: an allow list breaks
 * with every libc and libsodium update); and a Landlock ruleset that denies
 * all filesystem access but removing the UAPI socket (and TCP, and signals
 * out of the sandbox, where the kernel's ABI knows them).  The process keeps
 * uid 0, since it must unlink its root-owned socket at exit.
 *
 * Test-only: KODEN_VPN_TEST_REKEY_SECONDS=N replaces REKEY_AFTER_TIME (120 s)
 * by N seconds so system tests can see a rekey; KODEN_VPN_TEST_UNDER_LOAD=1
 * makes the device behave as under load (every handshake message needs a
 * valid MAC2, else it gets a cookie reply) so that the cookie exchange can be
 * tested against other implementations.  Never set them in production.
 * KODEN_VPN_NO_OFFLOAD=1 turns off TUN TSO and UDP GSO.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/landlock.h>
#include <linux/virtio_net.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/log.h"
#include "vpn/offload.h"
#include "vpn/uapi.h"
#include "vpn/workers.h"
#include "vpn/wg.h"

#ifndef SO_RCVBUFFORCE
#define SO_RCVBUFFORCE 33
#endif
#ifndef SO_SNDBUFFORCE
#define SO_SNDBUFFORCE 32
#endif

#define VPN_DEFAULT_MTU 1420
#define VPN_SOCKBUF (8 << 20)
#define VPN_RX_BATCH 32		/* datagrams (or GRO trains) per recvmmsg */
#define VPN_TX_MAX 256		/* datagrams queued before a flush */
#define VPN_TX_ARENA (512 << 10)	/* their bytes, back to back */
#define VPN_TUN_BATCH 64	/* TUN reads per wake-up */
#define VPN_TICK_NS (100 * 1000000ULL)	/* timers run at least this often */
#define VPN_GSO_SEGS 64		/* datagrams per UDP_SEGMENT send */
#define VPN_GSO_BYTES 60000	/* and bytes: one IP packet's worth, less headers */

struct tx_entry {
	uint32_t off, len;
	struct sockaddr_storage to;
	socklen_t to_len;
};

struct vpn {
	pthread_mutex_t lock;
	struct wg_dev *dev;
	char ifname[IFNAMSIZ];
	int tun_fd;
	bool vnet;		/* TUN has IFF_VNET_HDR and TSO offloads */
	int udp_fd;
	int udp_family;		/* AF_INET6 (dual stack) or AF_INET */
	bool udp_gso;		/* UDP_SEGMENT works */
	int old_udp_fd;		/* closed by the main loop after a rebind */
	int wake_fd;		/* a pipe: poll again */
	int wake_rd;
	uint16_t port;
	uint32_t fwmark;

	/* datagrams to send: appended by io_udp_send, sent by tx_flush in
	 * sendmmsg batches, runs to one peer as one UDP_SEGMENT (GSO) send */
	struct tx_entry tx[VPN_TX_MAX];
	unsigned tx_n;
	size_t tx_used;
	uint8_t tx_arena[VPN_TX_ARENA];
	struct offload_gro gro;	/* decrypted TCP segments towards TUN */
};

/* receive buffers: static, never per packet */
static uint8_t rx_buf[VPN_RX_BATCH][WG_PACKET_MAX + 1];
static uint8_t tun_buf[OFFLOAD_VNET_HDR_LEN + WG_PACKET_MAX + 64];
static uint8_t seg_buf[WG_PACKET_MAX + 64];
/* every datagram of a receive batch (GRO trains split) */
#define VPN_RX_MAX (VPN_RX_BATCH * 64)
static struct wg_rx rx_list[VPN_RX_MAX];

static uint64_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC + (uint64_t)ts.tv_nsec + 1;
}

static int64_t
wall_offset(uint64_t mono)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - (int64_t)mono;
}

/* ---- UDP ---- */

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
static void
tx_flush(struct vpn *v)
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
static socklen_t
to_sock_family(const struct vpn *v, const struct sockaddr *sa, socklen_t len,
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
static socklen_t
from_sock_family(const struct sockaddr *sa, socklen_t len,
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
static uint8_t *
io_udp_reserve(void *ctx, const struct sockaddr *to, socklen_t to_len,
    size_t len)
{
	struct vpn *v = ctx;
	struct tx_entry *e;
	uint8_t *p;

	if (v->udp_fd < 0 || to_len > sizeof(e->to) || len > VPN_TX_ARENA)
		return NULL;
	if (len > VPN_TX_ARENA - v->tx_used || v->tx_n == VPN_TX_MAX)
		tx_flush(v);
	e = &v->tx[v->tx_n++];
	e->off = (uint32_t)v->tx_used;
	e->len = (uint32_t)len;
	memcpy(&e->to, to, to_len);
	e->to_len = to_len;
	p = v->tx_arena + v->tx_used;
	v->tx_used += len;
	return p;
}

static void
io_udp_send(void *ctx, const struct sockaddr *to, socklen_t to_len,
    const uint8_t *p, size_t len)
{
	uint8_t *slot = io_udp_reserve(ctx, to, to_len, len);

	if (slot != NULL)
		memcpy(slot, p, len);
}

/* Write one packet with its virtio_net_hdr to the TUN device. */
static void
tun_out(void *ctx, const uint8_t *vnet, const uint8_t *p, size_t len)
{
	struct vpn *v = ctx;
	struct iovec iov[2] = {
		{ .iov_base = (void *)vnet, .iov_len = OFFLOAD_VNET_HDR_LEN },
		{ .iov_base = (void *)p, .iov_len = len },
	};

	/* a full TUN queue drops the packet, like any router */
	(void)!writev(v->tun_fd, iov, 2);
}

static void
io_tun_write(void *ctx, const uint8_t *p, size_t len)
{
	struct vpn *v = ctx;

	if (v->vnet) {
		/* joined into TCP super-packets where possible (offload.c);
		 * handle_udp flushes at the end of each batch */
		offload_gro_add(&v->gro, p, len, tun_out, v);
		return;
	}
	(void)!write(v->tun_fd, p, len);
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
static int
udp_open(uint16_t port, uint32_t fwmark, int *family, uint16_t *bound)
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
		int one = 1;	/* receive UDP GRO trains (split in handle_udp) */

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

static void
wake(struct vpn *v)
{
	(void)!write(v->wake_fd, "x", 1);
}

/* ---- UAPI callbacks (called with v->lock not held) ---- */

struct walk_ctx {
	struct uapi_peer_get *pg;
	size_t cap;
	int err;
};

static int
walk_allowed(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_ctx *w = ctx;
	struct uapi_allowed_ip *a;

	if (w->pg->n_allowed == w->cap) {
		size_t nc = w->cap ? 2 * w->cap : 8;
		void *na = realloc(w->pg->allowed, nc * sizeof(*a));

		if (na == NULL) {
			w->err = ENOMEM;
			return 1;
		}
		w->pg->allowed = na;
		w->cap = nc;
	}
	a = &w->pg->allowed[w->pg->n_allowed++];
	memset(a, 0, sizeof(*a));
	a->family = family == 4 ? AF_INET : AF_INET6;
	memcpy(a->addr, addr, family == 4 ? 4 : 16);
	a->cidr = cidr;
	return 0;
}

static int
vpn_get(void *ctx, struct uapi_get *out)
{
	struct vpn *v = ctx;
	struct wg_dev *dev = v->dev;
	size_t i = 0;
	int err = 0;

	pthread_mutex_lock(&v->lock);
	if (dev->has_key) {
		out->has_private_key = true;
		memcpy(out->private_key, dev->static_kp.priv, UAPI_KEY_LEN);
	}
	out->listen_port = v->port;
	out->fwmark = v->fwmark;
	if (dev->n_peers > 0) {
		out->peers = calloc(dev->n_peers, sizeof(*out->peers));
		if (out->peers == NULL) {
			err = ENOMEM;
			goto out;
		}
	}
	/* the device list is newest first: report in configuration order */
	for (struct wg_peer *p = dev->peers; p; p = p->next)
		i++;
	out->n_peers = i;
	for (struct wg_peer *p = dev->peers; p; p = p->next) {
		struct uapi_peer_get *pg = &out->peers[--i];
		struct walk_ctx w = { .pg = pg };

		memcpy(pg->public_key, p->public_key, UAPI_KEY_LEN);
		if (p->has_psk) {
			pg->has_preshared_key = true;
			memcpy(pg->preshared_key, p->psk, UAPI_KEY_LEN);
		}
		if (p->endpoint_len != 0) {
			pg->has_endpoint = true;
			pg->endpoint_len = from_sock_family(
			    (const struct sockaddr *)&p->endpoint,
			    p->endpoint_len, &pg->endpoint);
		}
		pg->last_handshake_sec = p->last_handshake_sec;
		pg->last_handshake_nsec = p->last_handshake_nsec;
		pg->rx_bytes = p->rx_bytes;
		pg->tx_bytes = p->tx_bytes;
		pg->persistent_keepalive = p->persistent_keepalive;
		(void)wg_peer_allowed_walk(p, walk_allowed, &w);
		if (w.err) {
			err = w.err;
			goto out;
		}
	}
out:
	pthread_mutex_unlock(&v->lock);
	return err;
}

static int
kerr_errno(int r)
{
	switch (r) {
	case KERR_NOMEM:
		return ENOMEM;
	case KERR_TOOBIG:
		return E2BIG;
	default:
		return EINVAL;
	}
}

static int
apply_peer(struct vpn *v, const struct uapi_peer_set *ps, uint64_t now)
{
	struct wg_dev *dev = v->dev;
	struct wg_peer *peer = wg_peer_find(dev, ps->public_key);
	bool created = false;
	int r;

	if (ps->remove) {
		if (peer != NULL)
			wg_peer_remove(dev, peer);
		return 0;
	}
	/* a peer with the device's own key is ignored (wireguard-go) */
	if (dev->has_key && sodium_memcmp(ps->public_key, dev->static_kp.pub,
	    WG_KEY_LEN) == 0)
		return 0;
	if (peer == NULL) {
		if (ps->update_only)
			return 0;
		if ((r = wg_peer_new(dev, ps->public_key, &peer)) != 0)
			return kerr_errno(r);
		created = true;
	}
	if (ps->has_preshared_key)
		wg_peer_set_psk(peer, ps->preshared_key);
	if (ps->has_endpoint) {
		struct sockaddr_storage ss;
		socklen_t sl = to_sock_family(v,
		    (const struct sockaddr *)&ps->endpoint, ps->endpoint_len, &ss);

		if (sl == 0 || (v->udp_family == AF_INET &&
		    ss.ss_family != AF_INET))
			return EAFNOSUPPORT;
		wg_peer_set_endpoint(peer, (struct sockaddr *)&ss, sl);
	}
	if (ps->replace_allowed_ips)
		wg_peer_allowed_clear(peer);
	for (size_t i = 0; i < ps->n_allowed; i++) {
		const struct uapi_allowed_ip *a = &ps->allowed[i];

		if ((r = wg_peer_allowed_add(peer, a->family, a->addr,
		    a->cidr)) != 0)
			return kerr_errno(r);
	}
	if (ps->has_keepalive) {
		if (ps->persistent_keepalive != peer->persistent_keepalive ||
		    created)
			wg_peer_set_keepalive(peer, ps->persistent_keepalive, now);
	}
	return 0;
}

static int
vpn_set(void *ctx, const struct uapi_set *req)
{
	struct vpn *v = ctx;
	struct wg_dev *dev = v->dev;
	uint64_t now = mono_now();
	int err = 0, r;

	pthread_mutex_lock(&v->lock);
	dev->wall_offset_ns = wall_offset(now);
	/* the one step that can fail on the outside world goes first */
	if (req->has_listen_port && req->listen_port != v->port) {
		int fam, fd;
		uint16_t bound;

		fd = udp_open(req->listen_port, req->has_fwmark ? req->fwmark :
		    v->fwmark, &fam, &bound);
		if (fd < 0) {
			err = errno;
			log_warn("listen port %u: %s", req->listen_port,
			    strerror(errno));
			goto out;
		}
		tx_flush(v);
		if (v->old_udp_fd >= 0)
			close(v->old_udp_fd);
		v->old_udp_fd = v->udp_fd;
		v->udp_fd = fd;
		v->udp_family = fam;
		v->port = bound;
		log_info("listening on UDP port %u", bound);
		wake(v);
	}
	if (req->has_fwmark && req->fwmark != v->fwmark) {
		if (setsockopt(v->udp_fd, SOL_SOCKET, SO_MARK, &req->fwmark,
		    sizeof(req->fwmark)) != 0) {
			err = errno;
			goto out;
		}
		v->fwmark = req->fwmark;
	}
	if (req->has_private_key) {
		if ((r = wg_dev_set_private_key(dev, req->private_key)) != 0) {
			err = kerr_errno(r);
			goto out;
		}
	}
	if (req->replace_peers)
		while (dev->peers)
			wg_peer_remove(dev, dev->peers);
	for (size_t i = 0; i < req->n_peers; i++)
		if ((err = apply_peer(v, &req->peers[i], now)) != 0)
			goto out;
out:
	tx_flush(v);
	pthread_mutex_unlock(&v->lock);
	wake(v);
	return err;
}

static const struct uapi_ops vpn_uapi_ops = { .get = vpn_get, .set = vpn_set };

struct conn {
	struct vpn *v;
	int fd;
};

static void *
conn_thread(void *arg)
{
	struct conn *c = arg;

	(void)uapi_serve(c->fd, &vpn_uapi_ops, c->v);
	close(c->fd);
	free(c);
	return NULL;
}

static int uapi_listen_fd = -1;

static void *
accept_thread(void *arg)
{
	struct vpn *v = arg;

	for (;;) {
		int fd = accept4(uapi_listen_fd, NULL, NULL, SOCK_CLOEXEC);
		struct conn *c;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			log_err("uapi accept: %s", strerror(errno));
			return NULL;
		}
		c = malloc(sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->v = v;
		c->fd = fd;
		if (pthread_create(&t, NULL, conn_thread, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}

/* ---- TUN ---- */

/*
 * The TUN device, non-blocking.  With offload, IFF_VNET_HDR and TSO: reads
 * then carry a virtio_net_hdr and may be 64 KiB TCP super-packets (split in
 * offload.c); *vnet says whether that worked.
 */
static int
tun_open(const char *name, bool offload, bool *vnet, struct kerr *err)
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

/* ---- privileges ---- */

static int
drop_caps(void)
{
	struct __user_cap_header_struct hdr = { .version =
	    _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint32_t keep = (1u << CAP_NET_ADMIN) | (1u << CAP_NET_BIND_SERVICE);

	for (int c = 0; c <= 63; c++) {
		if (c == CAP_NET_ADMIN || c == CAP_NET_BIND_SERVICE)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
			return -1;
	}
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = keep;
	if (syscall(SYS_capset, &hdr, data) != 0)
		return -1;
	return 0;
}

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#endif

static int
install_seccomp(void)
{
#ifdef SECCOMP_ARCH
	static const int deny[] = {
		SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv,
		SYS_process_vm_writev, SYS_mount, SYS_umount2, SYS_pivot_root,
		SYS_chroot, SYS_kexec_load, SYS_kexec_file_load,
		SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_bpf,
		SYS_perf_event_open, SYS_keyctl, SYS_add_key, SYS_request_key,
		SYS_unshare, SYS_setns, SYS_reboot, SYS_swapon, SYS_swapoff,
		SYS_open_by_handle_at, SYS_userfaultfd, SYS_personality,
		SYS_acct, SYS_settimeofday, SYS_clock_settime, SYS_quotactl,
#ifdef SYS_iopl
		SYS_iopl, SYS_ioperm,
#endif
	};
	enum { N = sizeof(deny) / sizeof(deny[0]) };
	struct sock_filter f[4 + 2 * N + 1];
	struct sock_fprog prog;
	unsigned k = 0;

	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SECCOMP_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
	for (unsigned i = 0; i < N; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		    (unsigned)deny[i], 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ERRNO | EPERM);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)k;
	prog.filter = f;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#else
	log_warn("no seccomp filter for this architecture");
	return 0;
#endif
}

/*
 * Landlock: no filesystem access at all any more (every right the kernel's
 * ABI knows is handled, none granted) except removing our UAPI socket from
 * its directory at exit; with ABI 4 no TCP bind or connect, with ABI 6 no
 * signals to or abstract-socket connections with processes outside.
 * Already open descriptors (TUN, sockets) are unaffected.  Returns the ABI
 * used, 0 if the kernel has no Landlock, -1 on error.
 */
struct ll_ruleset_attr {		/* the kernel's struct, ABI 6 layout */
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

static int
install_landlock(const char *sockdir)
{
	struct ll_ruleset_attr attr = { 0 };
	struct landlock_path_beneath_attr pb = { 0 };
	size_t attr_size;
	long abi;
	int rs, dfd, ret = -1;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
	attr.handled_access_fs = (1ULL << 13) - 1;	/* ABI 1 */
	attr_size = sizeof(uint64_t);
	if (abi >= 2)
		attr.handled_access_fs |= 1ULL << 13;	/* REFER */
	if (abi >= 3)
		attr.handled_access_fs |= 1ULL << 14;	/* TRUNCATE */
	if (abi >= 4) {
		attr.handled_access_net = 3;	/* BIND_TCP, CONNECT_TCP */
		attr_size = 2 * sizeof(uint64_t);
	}
	if (abi >= 5)
		attr.handled_access_fs |= 1ULL << 15;	/* IOCTL_DEV */
	if (abi >= 6) {
		attr.scoped = 3;	/* ABSTRACT_UNIX_SOCKET, SIGNAL */
		attr_size = sizeof(attr);
	}
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rs < 0)
		return -1;
	dfd = open(sockdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		pb.allowed_access = LANDLOCK_ACCESS_FS_REMOVE_FILE;
		pb.parent_fd = dfd;
		if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH,
		    &pb, 0) != 0)
			log_warn("landlock: %s: %s", sockdir, strerror(errno));
		close(dfd);
	}
	if (syscall(SYS_landlock_restrict_self, rs, 0) == 0)
		ret = (int)abi;
	close(rs);
	return ret;
}

/* Call before any other thread exists: Landlock and seccomp bind the
 * calling thread and what it creates afterwards. */
static void
drop_privileges(void)
{
	int abi;

	if (drop_caps() != 0)
		log_warn("could not drop capabilities: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_warn("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return;
	}
	abi = install_landlock(UAPI_DIR_DEFAULT);
	if (abi > 0)
		log_info("landlock ruleset in force (ABI %d)", abi);
	else if (abi < 0)
		log_warn("landlock: %s", strerror(errno));
	if (install_seccomp() != 0)
		log_warn("seccomp filter: %s", strerror(errno));
}

/* ---- main loop ---- */

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

static void
handle_udp(struct vpn *v)
{
	struct mmsghdr msgs[VPN_RX_BATCH];
	struct iovec iov[VPN_RX_BATCH];
	struct sockaddr_storage from[VPN_RX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl[VPN_RX_BATCH];
	int n;

	for (int rounds = 0; rounds < 8; rounds++) {
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
		offload_gro_flush(&v->gro, tun_out, v);
		tx_flush(v);
		pthread_mutex_unlock(&v->lock);
		if (n < VPN_RX_BATCH)
			return;
	}
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
static int
handle_tun(struct vpn *v)
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
	tx_flush(v);
	pthread_mutex_unlock(&v->lock);
	return ret;
}

static void
usage(void)
{
	fprintf(stderr, "usage: koden-vpn [-f] INTERFACE\n"
	    "  -f  stay in the foreground (also WG_PROCESS_FOREGROUND=1)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct vpn *v;
	struct kerr e = { { 0 } };
	struct wg_io io = { .udp_send = io_udp_send, .tun_write = io_tun_write,
	    .udp_reserve = io_udp_reserve, .run = workers_run_cb };
	struct workers *pool = NULL;
	long ncpu;
	sigset_t mask;
	pthread_t at;
	int foreground = 0, sfd, pipefd[2], r;
	const char *env;
	uint64_t next_check = 0, next_tick = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 ||
		    strcmp(argv[i], "--foreground") == 0)
			foreground = 1;
		else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			usage();
		else if (argv[i][0] == '-' || i != argc - 1)
			usage();
	}
	if (argc < 2 || argv[argc - 1][0] == '-')
		usage();
	if ((env = getenv("WG_PROCESS_FOREGROUND")) != NULL &&
	    strcmp(env, "1") == 0)
		foreground = 1;
	log_init("koden-vpn", LOG_INFO_, 0);
	if ((env = getenv("LOG_LEVEL")) != NULL && log_level_parse(env) >= 0)
		log_set_level(log_level_parse(env));
	if (sodium_init() < 0) {
		fprintf(stderr, "koden-vpn: libsodium failed to start\n");
		return 1;
	}
	if (strlen(argv[argc - 1]) >= IFNAMSIZ) {
		fprintf(stderr, "koden-vpn: interface name %s: longer than %d "
		    "bytes\n", argv[argc - 1], IFNAMSIZ - 1);
		return 1;
	}

	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		fprintf(stderr, "koden-vpn: out of memory\n");
		return 1;
	}
	pthread_mutex_init(&v->lock, NULL);
	snprintf(v->ifname, sizeof(v->ifname), "%s", argv[argc - 1]);
	offload_gro_init(&v->gro);
	v->old_udp_fd = -1;
	if ((r = wg_dev_new(&v->dev, &io, v)) != 0) {
		fprintf(stderr, "koden-vpn: %s\n", kerr_str(r));
		return 1;
	}
	if ((env = getenv("KODEN_VPN_TEST_REKEY_SECONDS")) != NULL &&
	    atoi(env) > 0) {
		v->dev->timing.rekey_after_time = (uint64_t)atoi(env) * WG_NSEC;
		log_warn("TEST ONLY: REKEY_AFTER_TIME is %d s", atoi(env));
	}

	if ((env = getenv("KODEN_VPN_TEST_UNDER_LOAD")) != NULL &&
	    strcmp(env, "1") == 0) {
		v->dev->force_under_load = true;
		log_warn("TEST ONLY: always under load (MAC2 and cookies "
		    "required)");
	}
	env = getenv("KODEN_VPN_NO_OFFLOAD");
	v->tun_fd = tun_open(v->ifname, env == NULL || strcmp(env, "1") != 0,
	    &v->vnet, &e);
	v->udp_gso = env == NULL || strcmp(env, "1") != 0;
	if (v->tun_fd < 0) {
		fprintf(stderr, "koden-vpn: %s\n", e.msg);
		return 1;
	}
	v->udp_fd = udp_open(0, 0, &v->udp_family, &v->port);
	if (v->udp_fd < 0) {
		fprintf(stderr, "koden-vpn: UDP socket: %s\n", strerror(errno));
		return 1;
	}
	uapi_listen_fd = uapi_listen(NULL, v->ifname, &e);
	if (uapi_listen_fd < 0) {
		fprintf(stderr, "koden-vpn: %s\n", e.msg);
		return 1;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0) {
		fprintf(stderr, "koden-vpn: pipe: %s\n", strerror(errno));
		uapi_unlink(NULL, v->ifname);
		return 1;
	}
	v->wake_rd = pipefd[0];
	v->wake_fd = pipefd[1];

	if (!foreground) {
		pid_t pid = fork();
		int devnull;

		if (pid < 0) {
			fprintf(stderr, "koden-vpn: fork: %s\n", strerror(errno));
			uapi_unlink(NULL, v->ifname);
			return 1;
		}
		if (pid > 0)
			_exit(0);	/* the child owns the interface now */
		setsid();
		devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
			if (devnull > 2)
				close(devnull);
		}
		log_init("koden-vpn", LOG_INFO_, 1);
		if ((env = getenv("LOG_LEVEL")) != NULL &&
		    log_level_parse(env) >= 0)
			log_set_level(log_level_parse(env));
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	drop_privileges();
	/* crypto on every core: one worker per CPU besides this thread
	 * (KODEN_VPN_THREADS=N: N threads in all, 1 = this one only) */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if ((env = getenv("KODEN_VPN_THREADS")) != NULL && atoi(env) > 0)
		ncpu = atoi(env);
	if (ncpu > WORKERS_MAX + 1)
		ncpu = WORKERS_MAX + 1;
	if (ncpu > 1 && workers_new(&pool, (unsigned)(ncpu - 1)) != 0)
		log_warn("no crypto worker threads: running on one core");
	pthread_mutex_lock(&v->lock);
	v->dev->io.run_ctx = pool;
	pthread_mutex_unlock(&v->lock);
	if (pthread_create(&at, NULL, accept_thread, v) != 0) {
		log_err("cannot start the UAPI thread");
		uapi_unlink(NULL, v->ifname);
		return 1;
	}
	pthread_detach(at);
	log_info("interface %s up, UDP port %u", v->ifname, v->port);

	for (;;) {
		struct pollfd pfd[4];
		uint64_t now = mono_now();
		int timeout;

		pthread_mutex_lock(&v->lock);
		if (v->old_udp_fd >= 0) {
			close(v->old_udp_fd);
			v->old_udp_fd = -1;
		}
		/*
		 * Timers run when the earliest is due, and at least every
		 * VPN_TICK_NS: a packet may arm an earlier one meanwhile, and
		 * WireGuard's timers are coarse.  Not on every batch: that
		 * would walk every peer per batch.
		 */
		if (now >= next_tick) {
			uint64_t next;

			v->dev->wall_offset_ns = wall_offset(now);
			next = wg_dev_tick(v->dev, now);
			tx_flush(v);
			next_tick = now + VPN_TICK_NS;
			if (next != 0 && next < next_tick)
				next_tick = next;
		}
		pfd[1].fd = v->udp_fd;
		pthread_mutex_unlock(&v->lock);

		timeout = next_tick > now ?
		    (int)((next_tick - now) / 1000000) + 1 : 0;
		pfd[0].fd = v->tun_fd;
		pfd[0].events = POLLIN;
		pfd[1].events = POLLIN;
		pfd[2].fd = sfd;
		pfd[2].events = POLLIN;
		pfd[3].fd = v->wake_rd;
		pfd[3].events = POLLIN;
		r = poll(pfd, 4, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && (pfd[2].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si) &&
			    si.ssi_signo != SIGPIPE && si.ssi_signo != SIGHUP) {
				log_info("signal %u: shutting down", si.ssi_signo);
				break;
			}
		}
		if (r > 0 && (pfd[3].revents & POLLIN)) {
			char buf[64];

			while (read(v->wake_rd, buf, sizeof(buf)) > 0)
				;
			next_tick = 0;	/* a set may have armed timers */
		}
		if (r > 0 && (pfd[1].revents & POLLIN))
			handle_udp(v);
		if (r > 0 && (pfd[0].revents & (POLLIN | POLLERR | POLLHUP)))
			if (handle_tun(v) != 0)
				break;
		now = mono_now();
		if (now >= next_check) {
			next_check = now + WG_NSEC;
			if (if_nametoindex(v->ifname) == 0) {
				log_info("interface %s is gone; exiting",
				    v->ifname);
				break;
			}
		}
	}
	uapi_unlink(NULL, v->ifname);
	pthread_mutex_lock(&v->lock);
	wg_dev_free(v->dev);
	v->dev = NULL;
	/* the UAPI threads die with the process; they hold no state */
	_exit(0);
}
