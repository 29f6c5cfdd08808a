/*
 * Under load, handshake messages that carry a valid MAC2 are still limited
 * per source address (the kernel's ratelimiter.c, wireguard-go's
 * ratelimiter): a token bucket per address in a table of WG_RATE_SLOTS,
 * allocated when the device is first under load.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vpn/wg_int.h"

/*
 * A token bucket per source address, kept only while under load: each
 * message costs WG_NSEC / WG_RATE_PER_SEC of budget, which refills with
 * time up to WG_RATE_BURST messages' worth.  The address (port ignored, as
 * wireguard-go does: a host cannot escape by changing ports) picks a slot
 * by a keyed hash, so an attacker cannot aim collisions at a victim's slot.
 */
bool
wg_rate_allow(struct wg_dev *dev, uint64_t now, const struct sockaddr *from)
{
	static const uint64_t cost = WG_NSEC / WG_RATE_PER_SEC;
	static const uint64_t cap = WG_RATE_BURST * (WG_NSEC / WG_RATE_PER_SEC);
	uint8_t addr[16] = { 0 };
	struct wg_rate *r;
	uint8_t h[8];
	uint64_t slot;

	if (from->sa_family == AF_INET) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &((const struct sockaddr_in *)(const void *)
		    from)->sin_addr, 4);
	} else if (from->sa_family == AF_INET6) {
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)
		    from)->sin6_addr, 16);
	} else {
		return false;
	}
	if (dev->rate == NULL) {
		dev->rate = calloc(WG_RATE_SLOTS, sizeof(*dev->rate));
		if (dev->rate == NULL)
			return false;	/* under load and out of memory */
		randombytes_buf(dev->rate_key, sizeof(dev->rate_key));
	}
	crypto_shorthash(h, addr, sizeof(addr), dev->rate_key);
	memcpy(&slot, h, sizeof(slot));
	r = &dev->rate[slot % WG_RATE_SLOTS];
	if (r->last == 0 || memcmp(r->addr, addr, sizeof(addr)) != 0) {
		memcpy(r->addr, addr, sizeof(addr));
		r->last = now;
		r->tokens = cap;
	} else {
		r->tokens += now - r->last;
		if (r->tokens > cap)
			r->tokens = cap;
		r->last = now;
	}
	if (r->tokens < cost)
		return false;
	r->tokens -= cost;
	return true;
}
