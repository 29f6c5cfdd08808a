/*
 * The timer expiries of whitepaper §6 (the expiry half of the kernel's
 * timers.c, after wireguard-go's timers.go): handshake retransmission and
 * giving up, the keepalive we owe, a new handshake when data goes
 * unanswered, zeroing keys, persistent keepalives.  The hooks that arm the
 * timers are static inline in wg_int.h; the deadlines live in the peer.
 */
#include "lib/log.h"
#include "vpn/wg_int.h"

static bool
due(uint64_t *t, uint64_t now)
{
	if (*t == 0 || now < *t)
		return false;
	*t = 0;
	return true;
}

static void
min_deadline(uint64_t *next, uint64_t t)
{
	if (t != 0 && (*next == 0 || t < *next))
		*next = t;
}

static void
peer_tick(struct wg_peer *peer, uint64_t now)
{
	struct wg_dev *dev = peer->dev;
	char nb[WG_PEER_NAME_LEN];

	if (due(&peer->t_retransmit, now)) {
		if (peer->handshake_attempts + 1 > WG_MAX_TIMER_HANDSHAKES) {
			log_info("peer %s: handshake did not complete after %u "
			    "attempts, giving up", wg_peer_name(peer, nb),
			    peer->handshake_attempts + 1);
			peer->t_send_keepalive = 0;
			wg_staged_clear(peer);
			wg_handshake_clear(dev, &peer->handshake);
			if (peer->t_zero_keys == 0)
				peer->t_zero_keys = now +
				    3 * dev->timing.reject_after_time;
		} else {
			peer->handshake_attempts++;
			log_debug("peer %s: handshake retransmit %u",
			    wg_peer_name(peer, nb), peer->handshake_attempts);
			wg_initiate(peer, now, true);
		}
	}
	if (due(&peer->t_send_keepalive, now))
		wg_peer_send_keepalive(peer, now);
	if (due(&peer->t_new_handshake, now)) {
		log_debug("peer %s: no reply for %llu s, new handshake",
		    wg_peer_name(peer, nb), (unsigned long long)
		    ((dev->timing.keepalive_timeout + dev->timing.rekey_timeout) /
		    WG_NSEC));
		wg_initiate(peer, now, false);
	}
	if (due(&peer->t_zero_keys, now)) {
		log_info("peer %s: no handshake for %llu s, zeroing keys",
		    wg_peer_name(peer, nb), (unsigned long long)
		    (3 * dev->timing.reject_after_time / WG_NSEC));
		wg_peer_clear_keys(peer);
	}
	if (due(&peer->t_persistent_keepalive, now) && peer->persistent_keepalive)
		wg_peer_send_keepalive(peer, now);
}

uint64_t
wg_dev_tick(struct wg_dev *dev, uint64_t now)
{
	uint64_t next = 0;

	for (struct wg_peer *p = dev->peers; p; p = p->next) {
		peer_tick(p, now);
		min_deadline(&next, p->t_retransmit);
		min_deadline(&next, p->t_send_keepalive);
		min_deadline(&next, p->t_new_handshake);
		min_deadline(&next, p->t_zero_keys);
		min_deadline(&next, p->t_persistent_keepalive);
	}
	return next;
}
