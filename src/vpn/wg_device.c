/*
 * The device (the kernel's device.c): its creation and teardown, and the
 * static private key, whose change voids every session.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vpn/allowedips.h"
#include "vpn/wg_int.h"

int
wg_dev_new(struct wg_dev **out, const struct wg_io *io, void *io_ctx)
{
	struct wg_dev *dev;

	*out = NULL;
	if (sodium_init() < 0)
		return KERR_CRYPTO;
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return KERR_NOMEM;
	if (allowedips_new(&dev->allowed) != 0) {
		free(dev);
		return KERR_NOMEM;
	}
	dev->io = *io;
	dev->io_ctx = io_ctx;
	dev->timing = (struct wg_timing){
		.rekey_after_time = WG_REKEY_AFTER_TIME * WG_NSEC,
		.reject_after_time = WG_REJECT_AFTER_TIME * WG_NSEC,
		.rekey_attempt_time = WG_REKEY_ATTEMPT_TIME * WG_NSEC,
		.rekey_timeout = WG_REKEY_TIMEOUT * WG_NSEC,
		.keepalive_timeout = WG_KEEPALIVE_TIMEOUT * WG_NSEC,
		.cookie_refresh_time = WG_COOKIE_REFRESH_TIME * WG_NSEC,
		.rekey_after_messages = WG_REKEY_AFTER_MESSAGES,
	};
	*out = dev;
	return 0;
}

void
wg_dev_free(struct wg_dev *dev)
{
	if (dev == NULL)
		return;
	while (dev->peers)
		wg_peer_remove(dev, dev->peers);
	allowedips_free(dev->allowed);
	free(dev->rate);
	sodium_memzero(dev, sizeof(*dev));
	free(dev);
}

int
wg_dev_set_private_key(struct wg_dev *dev, const uint8_t *key)
{
	struct noise_keypair kp;
	struct wg_peer *p, *nx;

	if (key != NULL && !key_is_zero(key)) {
		if (noise_keypair_from_private(&kp, key) != 0)
			return KERR_CRYPTO;
		if (dev->has_key && sodium_memcmp(kp.priv, dev->static_kp.priv,
		    NOISE_DHLEN) == 0) {
			sodium_memzero(&kp, sizeof(kp));
			return 0;	/* unchanged: keep the sessions */
		}
	} else {
		memset(&kp, 0, sizeof(kp));
	}
	/* new identity: sessions made with the old one are void */
	for (p = dev->peers; p; p = p->next) {
		wg_peer_clear_keys(p);
		p->last_mac1_valid = false;
		p->cookie_birth = 0;
		p->last_initiation_tx = 0;	/* handshake at once */
		p->t_retransmit = 0;
		p->handshake_attempts = 0;
	}
	if (key == NULL || key_is_zero(key)) {
		sodium_memzero(&dev->static_kp, sizeof(dev->static_kp));
		sodium_memzero(dev->mac1_key, sizeof(dev->mac1_key));
		sodium_memzero(dev->cookie_key, sizeof(dev->cookie_key));
		dev->has_key = false;
		return 0;
	}
	dev->static_kp = kp;
	sodium_memzero(&kp, sizeof(kp));
	dev->has_key = true;
	if (wg_label_key(dev->mac1_key, WG_LABEL_MAC1, dev->static_kp.pub) != 0 ||
	    wg_label_key(dev->cookie_key, WG_LABEL_COOKIE, dev->static_kp.pub) != 0)
		return KERR_CRYPTO;
	/* a peer with our own public key cannot exist (wireguard-go) */
	for (p = dev->peers; p; p = nx) {
		nx = p->next;
		if (sodium_memcmp(p->public_key, dev->static_kp.pub,
		    WG_KEY_LEN) == 0)
			wg_peer_remove(dev, p);
	}
	return 0;
}
