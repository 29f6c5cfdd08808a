/*
 * koden-vpn's internals: what the daemon's own files share (STYLE.md 14).
 * Only src/vpn/kodenvpn.c and src/vpn/vpn_*.c include this; the engine
 * they drive is used through wg.h alone, the UAPI through uapi.h.
 *
 * The daemon's rooms, from the top down; each calls only the ones below it
 * (scripts/depcheck.py):
 *
 *   kodenvpn.c     main(): arguments, opening everything, daemonising, the
 *                  event loop and its timers
 *   vpn_conf.c     the UAPI callbacks: the device's configuration read
 *                  (get) and applied (set) under the engine's lock
 *   vpn_tun.c      the TUN device: opening it with its offloads, reading
 *                  (TSO super-packets split), writing (GRO)
 *   vpn_udp.c      the UDP socket: opening it, the transmit queue sent by
 *                  sendmmsg and UDP GSO, receive batches by recvmmsg
 *   vpn_sandbox.c  the privilege drop: capabilities, no_new_privs, Landlock,
 *                  seccomp
 *
 * vpn_udp.c writes what a receive batch decrypted to the TUN device through
 * v->tun_out, which main registers (vpn_tun_out): the TUN side calls down
 * into the UDP side to flush its transmit queue, never the other way.
 */
#ifndef KODEN_VPN_VPN_INT_H
#define KODEN_VPN_VPN_INT_H

#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/err.h"
#include "vpn/offload.h"
#include "vpn/wg.h"

#define VPN_TX_MAX 256		/* datagrams queued before a flush */
#define VPN_TX_ARENA (512 << 10)	/* their bytes, back to back */

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
	int uapi_fd;		/* the listening UAPI socket */
	uint16_t port;
	uint32_t fwmark;

	/* datagrams to send: appended by io_udp_send, sent by tx_flush in
	 * sendmmsg batches, runs to one peer as one UDP_SEGMENT (GSO) send */
	struct tx_entry tx[VPN_TX_MAX];
	unsigned tx_n;
	size_t tx_used;
	uint8_t tx_arena[VPN_TX_ARENA];
	struct offload_gro gro;	/* decrypted TCP segments towards TUN */
	/*
	 * Writes one packet with its virtio_net_hdr to the TUN device
	 * (vpn_tun_out, registered by main): called by vpn_handle_udp, through
	 * offload_gro_flush, at the end of each receive batch.
	 */
	offload_out_fn *tun_out;
};

/* The engine's clock: CLOCK_MONOTONIC in ns, never 0. */
static inline uint64_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC + (uint64_t)ts.tv_nsec + 1;
}

/* The wall clock minus mono, for the engine's wall_offset_ns. */
static inline int64_t
wall_offset(uint64_t mono)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - (int64_t)mono;
}

/* ---- vpn_udp.c ---- */

/* Send everything queued (sealing the reserved slots first).  Caller holds
 * v->lock. */
void vpn_tx_flush(struct vpn *v);
/* An endpoint as the socket's family wants it (IPv4 v4-mapped on a
 * dual-stack socket) into *out: its length, or 0 if it does not fit. */
socklen_t vpn_to_sock_family(const struct vpn *v, const struct sockaddr *sa,
    socklen_t len, struct sockaddr_storage *out);
/* The reverse, for `wg show`: v4-mapped addresses back to AF_INET. */
socklen_t vpn_from_sock_family(const struct sockaddr *sa, socklen_t len,
    struct sockaddr_storage *out);
/* struct wg_io's udp_reserve and udp_send: called by the engine, with
 * v->lock held, for each datagram it sends; queued until vpn_tx_flush. */
uint8_t *vpn_io_udp_reserve(void *ctx, const struct sockaddr *to,
    socklen_t to_len, size_t len);
void vpn_io_udp_send(void *ctx, const struct sockaddr *to, socklen_t to_len,
    const uint8_t *p, size_t len);
/* A UDP socket on port (0: any), dual stack if the host has IPv6: the fd,
 * *family and *bound set; or -1 with errno set. */
int vpn_udp_open(uint16_t port, uint32_t fwmark, int *family,
    uint16_t *bound);
/* The event loop's handler for a readable UDP socket: receive batches
 * through the engine, their answers out, until the socket is empty. */
void vpn_handle_udp(struct vpn *v);

/* ---- vpn_tun.c ---- */

/* The TUN device name, non-blocking, with offloads if offload and the
 * kernel agrees (*vnet): the fd, or -1 with err set. */
int vpn_tun_open(const char *name, bool offload, bool *vnet,
    struct kerr *err);
/* Write one packet with its virtio_net_hdr to the TUN device (an
 * offload_out_fn; ctx is the struct vpn). */
void vpn_tun_out(void *ctx, const uint8_t *vnet, const uint8_t *p,
    size_t len);
/* struct wg_io's tun_write: called by the engine, with v->lock held, for
 * each decrypted packet it accepts. */
void vpn_io_tun_write(void *ctx, const uint8_t *p, size_t len);
/* The event loop's handler for a readable TUN device: up to a batch of
 * packets through the engine.  0, or -1 when the interface is gone. */
int vpn_handle_tun(struct vpn *v);

/* ---- vpn_conf.c ---- */

/* The UAPI accept thread (pthread_create with the struct vpn): runs
 * uapi_accept_loop on v->uapi_fd with the callbacks of vpn_conf.c. */
void *vpn_accept_thread(void *arg);

/* ---- vpn_sandbox.c ---- */

/* Drop capabilities, set no_new_privs, install Landlock and seccomp, each
 * failure logged.  Call before any other thread exists: Landlock and
 * seccomp bind the calling thread and what it creates afterwards. */
void vpn_drop_privileges(void);

#endif
