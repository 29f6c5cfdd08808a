/*
 * Peers (the kernel's peer.c): the device's list, found by public key;
 * their psk, endpoint and persistent keepalive; and their allowed IPs, kept
 * in the device's allowedips trie.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vpn/allowedips.h"
#include "vpn/wg_int.h"

struct wg_peer *
wg_peer_find(struct wg_dev *dev, const uint8_t pub[static WG_KEY_LEN])
{
	for (struct wg_peer *p = dev->peers; p; p = p->next)
		if (memcmp(p->public_key, pub, WG_KEY_LEN) == 0)
			return p;
	return NULL;
}

int
wg_peer_new(struct wg_dev *dev, const uint8_t pub[static WG_KEY_LEN],
    struct wg_peer **out)
{
	struct wg_peer *peer;

	*out = NULL;
	if (wg_peer_find(dev, pub) != NULL)
		return KERR_EXISTS;
	if (dev->n_peers >= WG_PEERS_MAX)
		return KERR_TOOBIG;
	peer = calloc(1, sizeof(*peer));
	if (peer == NULL)
		return KERR_NOMEM;
	peer->dev = dev;
	memcpy(peer->public_key, pub, WG_KEY_LEN);
	if (wg_label_key(peer->mac1_key, WG_LABEL_MAC1, pub) != 0 ||
	    wg_label_key(peer->cookie_key, WG_LABEL_COOKIE, pub) != 0) {
		free(peer);
		return KERR_CRYPTO;
	}
	peer->next = dev->peers;
	dev->peers = peer;
	dev->n_peers++;
	*out = peer;
	return 0;
}

void
wg_peer_remove(struct wg_dev *dev, struct wg_peer *peer)
{
	struct wg_peer **pp;

	for (pp = &dev->peers; *pp; pp = &(*pp)->next) {
		if (*pp == peer) {
			*pp = peer->next;
			dev->n_peers--;
			break;
		}
	}
	allowedips_remove_peer(dev->allowed, peer);
	wg_peer_clear_keys(peer);
	if (peer->staged != NULL) {
		sodium_memzero(peer->staged,
		    (size_t)WG_STAGED_MAX * WG_STAGED_PACKET_MAX);
		free(peer->staged);
	}
	sodium_memzero(peer, sizeof(*peer));
	free(peer);
}

void
wg_peer_set_psk(struct wg_peer *peer, const uint8_t *psk)
{
	if (psk == NULL || key_is_zero(psk)) {
		sodium_memzero(peer->psk, sizeof(peer->psk));
		peer->has_psk = false;
	} else {
		memcpy(peer->psk, psk, sizeof(peer->psk));
		peer->has_psk = true;
	}
}

void
wg_peer_set_endpoint(struct wg_peer *peer, const struct sockaddr *sa,
    socklen_t len)
{
	if (sa == NULL || len == 0 || len > sizeof(peer->endpoint)) {
		peer->endpoint_len = 0;
		return;
	}
	memcpy(&peer->endpoint, sa, len);
	peer->endpoint_len = len;
}

void
wg_peer_set_keepalive(struct wg_peer *peer, uint16_t secs, uint64_t now)
{
	peer->persistent_keepalive = secs;
	peer->t_persistent_keepalive = 0;
	if (secs != 0 && peer->dev->has_key && peer->endpoint_len != 0)
		wg_peer_send_keepalive(peer, now);
}

static int
fam46(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0;
}

int
wg_peer_allowed_add(struct wg_peer *peer, int family, const uint8_t *addr,
    uint8_t cidr)
{
	return allowedips_insert(peer->dev->allowed, fam46(family), addr, cidr,
	    peer);
}

void
wg_peer_allowed_clear(struct wg_peer *peer)
{
	allowedips_remove_peer(peer->dev->allowed, peer);
}

int
wg_peer_allowed_walk(struct wg_peer *peer,
    int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr),
    void *ctx)
{
	return allowedips_walk_peer(peer->dev->allowed, peer, fn, ctx);
}
