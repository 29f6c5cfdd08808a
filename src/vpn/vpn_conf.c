/*
 * koden-vpn's UAPI callbacks (struct uapi_ops): `wg show` reads the
 * device's configuration (vpn_get), `wg set` and `wg setconf` change it
 * (vpn_set), each under the engine's lock, from the UAPI connection threads
 * that uapi_accept_loop starts.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/log.h"
#include "vpn/uapi.h"
#include "vpn/vpn_int.h"
#include "vpn/wg.h"

/* Make the packet thread's poll return at once (the wake-up pipe): a set
 * may have armed timers or moved the UDP socket. */
static void
wake(struct vpn *v)
{
	(void)!write(v->wake_fd, "x", 1);
}

/* The callbacks below are called with v->lock not held. */

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
			pg->endpoint_len = vpn_from_sock_family(
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
		socklen_t sl = vpn_to_sock_family(v,
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

		fd = vpn_udp_open(req->listen_port, req->has_fwmark ? req->fwmark :
		    v->fwmark, &fam, &bound);
		if (fd < 0) {
			err = errno;
			log_warn("listen port %u: %s", req->listen_port,
			    strerror(errno));
			goto out;
		}
		vpn_tx_flush(v);
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
	vpn_tx_flush(v);
	pthread_mutex_unlock(&v->lock);
	wake(v);
	return err;
}

static const struct uapi_ops vpn_uapi_ops = { .get = vpn_get, .set = vpn_set };

void *
vpn_accept_thread(void *arg)
{
	struct vpn *v = arg;

	(void)uapi_accept_loop(v->uapi_fd, &vpn_uapi_ops, v);
	return NULL;
}
