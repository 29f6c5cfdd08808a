/*
 * The engine's log lines: rejected packets, rate-limited so that an
 * attacker cannot fill the disk, and peers named without revealing a key.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <sodium.h>

#include "lib/log.h"
#include "vpn/wg_int.h"

/* Rejected-packet lines logged per second at most. */
#define WG_LOG_REJECTS_PER_SEC 5

_Static_assert(sodium_base64_ENCODED_LEN(WG_PEER_NAME_KEY_BYTES,
    sodium_base64_VARIANT_ORIGINAL) <= WG_PEER_NAME_LEN, "peer names fit");

/*
 * One log line per second at most for rejected packets (an attacker must
 * not be able to fill the disk); the counters in dev->stats stay exact.
 */
void
wg_log_reject(struct wg_dev *dev, uint64_t now, const char *what,
    const struct sockaddr *from)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (now / WG_NSEC != dev->log_window) {
		dev->log_window = now / WG_NSEC;
		dev->log_count = 0;
	}
	if (dev->log_count++ >= WG_LOG_REJECTS_PER_SEC)
		return;
	if (from != NULL && from->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)from;
		inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
		port = ntohs(s->sin_port);
	} else if (from != NULL && from->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)from;
		inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
		port = ntohs(s->sin6_port);
	}
	log_info("rejected packet from %s port %u: %s", host, port, what);
}

/* A short, non-secret name for a peer in logs: base64 of its key's head. */
const char *
wg_peer_name(const struct wg_peer *peer, char buf[static WG_PEER_NAME_LEN])
{
	sodium_bin2base64(buf, WG_PEER_NAME_LEN, peer->public_key,
	    WG_PEER_NAME_KEY_BYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	return buf;
}
