/*
 * Sessions (whitepaper §5.4.5; the kernel's noise.c keypair half): keypairs
 * made from a finished handshake, the previous/current/next rotation in the
 * order wireguard-go keeps it (noise-protocol.go), and the wiping of keys
 * and handshake state.
 */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vpn/replay.h"
#include "vpn/wg_int.h"

/* A data message's index entry is read back as its keypair. */
_Static_assert(offsetof(struct wg_keypair, index) == 0,
    "the index is the first member of a keypair");

void
wg_keypair_free(struct wg_dev *dev, struct wg_keypair *kp)
{
	if (kp == NULL)
		return;
	wg_index_del(dev, &kp->index);
	sodium_memzero(kp, sizeof(*kp));
	free(kp);
}

void
wg_handshake_clear(struct wg_dev *dev, struct wg_handshake *h)
{
	wg_index_del(dev, &h->index);
	noise_hs_wipe(&h->hs);
	h->state = WG_HS_NONE;
}

/* Drop every session and handshake of peer (keys zeroed). */
void
wg_peer_clear_keys(struct wg_peer *peer)
{
	struct wg_dev *dev = peer->dev;

	wg_keypair_free(dev, peer->prev);
	wg_keypair_free(dev, peer->cur);
	wg_keypair_free(dev, peer->next_kp);
	peer->prev = peer->cur = peer->next_kp = NULL;
	wg_handshake_clear(dev, &peer->handshake);
}

/*
 * A session just derived (wireguard-go BeginSymmetricSession): the
 * initiator uses it at once; the responder keeps it as "next" until the
 * initiator proves it has it by sending data with it.
 */
void
wg_keypair_install(struct wg_peer *peer, struct wg_keypair *kp)
{
	struct wg_dev *dev = peer->dev;

	assert(kp->index.kind == WG_INDEX_KEYPAIR && kp->index.peer == peer);
	assert(kp != peer->prev && kp != peer->cur && kp != peer->next_kp);
	if (kp->initiator) {
		if (peer->next_kp != NULL) {
			wg_keypair_free(dev, peer->prev);
			peer->prev = peer->next_kp;
			peer->next_kp = NULL;
			wg_keypair_free(dev, peer->cur);
		} else {
			wg_keypair_free(dev, peer->prev);
			peer->prev = peer->cur;
		}
		peer->cur = kp;
	} else {
		wg_keypair_free(dev, peer->next_kp);
		peer->next_kp = kp;
		wg_keypair_free(dev, peer->prev);
		peer->prev = NULL;
	}
	assert(kp->initiator ? peer->cur == kp && peer->next_kp == NULL :
	    peer->next_kp == kp && peer->prev == NULL);
}

struct wg_keypair *
wg_keypair_new(struct wg_peer *peer, struct noise_hs *hs, bool initiator,
    uint32_t local_index, uint32_t remote_index, uint64_t now)
{
	struct noise_cs send, recv;
	struct wg_keypair *kp;

	kp = calloc(1, sizeof(*kp));
	if (kp == NULL) {
		noise_hs_wipe(hs);
		return NULL;
	}
	if (noise_hs_split(hs, &send, &recv) != 0) {
		free(kp);
		return NULL;
	}
	memcpy(kp->send_key, send.k, NOISE_KEYLEN);
	memcpy(kp->recv_key, recv.k, NOISE_KEYLEN);
	noise_cs_wipe(&send);
	noise_cs_wipe(&recv);
	replay_init(&kp->replay);
	kp->initiator = initiator;
	kp->remote_index = remote_index;
	kp->birth = now;
	kp->serial = ++peer->dev->kp_serial;
	wg_index_add(peer->dev, &kp->index, WG_INDEX_KEYPAIR, peer, local_index);
	return kp;
}
