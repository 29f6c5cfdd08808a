/*
 * WireGuard UAPI: the formatter, pure: a get reply's body from a struct
 * uapi_get (what uapi_serve sends), and a set request's body from a struct
 * uapi_set (for tests and clients; uapi_parse_set reads it back).
 *
 * Secrets: the output carries the private and preshared keys, so callers
 * format into a buf_init_secret buffer; hex is encoded in constant time and
 * the temporary hex of a key is wiped.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vpn/uapi.h"

/* The longest line put_fmt writes (a scoped IPv6 endpoint is under 80). */
#define FMT_LINE_MAX 256

/* 32 bytes -> 64 lowercase hex characters and a NUL, in constant time. */
static void
key_to_hex(char hex[static UAPI_KEY_HEX_LEN + 1], const uint8_t key[static UAPI_KEY_LEN])
{
	for (size_t i = 0; i < 2 * UAPI_KEY_LEN; i++) {
		int n = (key[i / 2] >> (i % 2 ? 0 : 4)) & 0xf;

		/* n > 9 adds 'a' - '0' - 10 = 39, without a branch */
		hex[i] = (char)('0' + n + (((9 - n) >> 8) & 39));
	}
	hex[UAPI_KEY_HEX_LEN] = '\0';
}

void
uapi_get_free(struct uapi_get *g)
{
	if (g == NULL)
		return;
	if (g->peers != NULL) {
		for (size_t i = 0; i < g->n_peers; i++) {
			free(g->peers[i].allowed);
			sodium_memzero(&g->peers[i], sizeof(g->peers[i]));
		}
		free(g->peers);
	}
	sodium_memzero(g, sizeof(*g));
}

static int
put_str(struct buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

static int
put_fmt(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
put_fmt(struct buf *b, const char *fmt, ...)
{
	char tmp[FMT_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return KERR_INVALID;
	return buf_put(b, tmp, (size_t)n);
}

static int
put_key(struct buf *b, const char *name, const uint8_t key[static UAPI_KEY_LEN])
{
	char hex[UAPI_KEY_HEX_LEN + 1];
	int r;

	key_to_hex(hex, key);
	r = put_fmt(b, "%s=%s\n", name, hex);
	sodium_memzero(hex, sizeof(hex));
	return r;
}

static int
put_endpoint(struct buf *b, const struct sockaddr_storage *ss, socklen_t len)
{
	char host[INET6_ADDRSTRLEN], scope[IF_NAMESIZE + 12];

	if (ss->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		if (inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host)) == NULL)
			return KERR_INVALID;
		return put_fmt(b, "endpoint=%s:%u\n", host, ntohs(s4->sin_port));
	}
	if (ss->ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		char name[IF_NAMESIZE];

		if (inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host)) == NULL)
			return KERR_INVALID;
		scope[0] = '\0';
		if (s6->sin6_scope_id != 0) {
			if (if_indextoname(s6->sin6_scope_id, name) != NULL)
				snprintf(scope, sizeof(scope), "%%%s", name);
			else
				snprintf(scope, sizeof(scope), "%%%" PRIu32, s6->sin6_scope_id);
		}
		return put_fmt(b, "endpoint=[%s%s]:%u\n", host, scope, ntohs(s6->sin6_port));
	}
	return KERR_INVALID;
}

static int
put_allowed(struct buf *b, const struct uapi_allowed_ip *a)
{
	char host[INET6_ADDRSTRLEN];

	if (!((a->family == AF_INET && a->cidr <= 32) ||
	    (a->family == AF_INET6 && a->cidr <= 128)))
		return KERR_INVALID;
	if (inet_ntop(a->family, a->addr, host, sizeof(host)) == NULL)
		return KERR_INVALID;
	return put_fmt(b, "allowed_ip=%s/%u\n", host, a->cidr);
}

static int
fmt_fail(struct kerr *err, int r, const char *what, size_t peer)
{
	if (r == KERR_INVALID)
		return kerr_set(err, r, "peer %zu: invalid %s", peer, what);
	return kerr_set(err, r, "peer %zu: %s", peer, kerr_str(r));
}

int
uapi_format_get(const struct uapi_get *g, struct buf *out, struct kerr *err)
{
	int r;

	if (g->has_private_key && (r = put_key(out, "private_key", g->private_key)) != 0)
		return kerr_set(err, r, "private_key: %s", kerr_str(r));
	if (g->listen_port != 0 && (r = put_fmt(out, "listen_port=%u\n", g->listen_port)) != 0)
		return kerr_set(err, r, "listen_port: %s", kerr_str(r));
	if (g->fwmark != 0 && (r = put_fmt(out, "fwmark=%" PRIu32 "\n", g->fwmark)) != 0)
		return kerr_set(err, r, "fwmark: %s", kerr_str(r));
	for (size_t i = 0; i < g->n_peers; i++) {
		const struct uapi_peer_get *p = &g->peers[i];
		static const uint8_t zero[UAPI_KEY_LEN];

		if (p->last_handshake_sec < 0 || p->last_handshake_nsec < 0 ||
		    p->last_handshake_nsec > 999999999)
			return fmt_fail(err, KERR_INVALID, "last handshake time", i);
		if ((r = put_key(out, "public_key", p->public_key)) != 0 ||
		    (r = put_key(out, "preshared_key",
		    p->has_preshared_key ? p->preshared_key : zero)) != 0 ||
		    (r = put_str(out, "protocol_version=1\n")) != 0)
			return fmt_fail(err, r, "key", i);
		if (p->has_endpoint && (r = put_endpoint(out, &p->endpoint, p->endpoint_len)) != 0)
			return fmt_fail(err, r, "endpoint", i);
		if ((r = put_fmt(out, "last_handshake_time_sec=%" PRId64 "\n"
		    "last_handshake_time_nsec=%" PRId64 "\n"
		    "tx_bytes=%" PRIu64 "\nrx_bytes=%" PRIu64 "\n"
		    "persistent_keepalive_interval=%u\n",
		    p->last_handshake_sec, p->last_handshake_nsec, p->tx_bytes,
		    p->rx_bytes, p->persistent_keepalive)) != 0)
			return fmt_fail(err, r, "counters", i);
		for (size_t j = 0; j < p->n_allowed; j++)
			if ((r = put_allowed(out, &p->allowed[j])) != 0)
				return fmt_fail(err, r, "allowed IP", i);
	}
	return 0;
}

int
uapi_format_set(const struct uapi_set *s, struct buf *out, struct kerr *err)
{
	int r;

	if (s->has_private_key && (r = put_key(out, "private_key", s->private_key)) != 0)
		return kerr_set(err, r, "private_key: %s", kerr_str(r));
	if (s->has_listen_port && (r = put_fmt(out, "listen_port=%u\n", s->listen_port)) != 0)
		return kerr_set(err, r, "listen_port: %s", kerr_str(r));
	if (s->has_fwmark && (r = put_fmt(out, "fwmark=%" PRIu32 "\n", s->fwmark)) != 0)
		return kerr_set(err, r, "fwmark: %s", kerr_str(r));
	if (s->replace_peers && (r = put_str(out, "replace_peers=true\n")) != 0)
		return kerr_set(err, r, "replace_peers: %s", kerr_str(r));
	for (size_t i = 0; i < s->n_peers; i++) {
		const struct uapi_peer_set *p = &s->peers[i];

		if ((r = put_key(out, "public_key", p->public_key)) != 0 ||
		    (p->remove && (r = put_str(out, "remove=true\n")) != 0) ||
		    (p->update_only && (r = put_str(out, "update_only=true\n")) != 0) ||
		    (p->has_preshared_key &&
		    (r = put_key(out, "preshared_key", p->preshared_key)) != 0))
			return fmt_fail(err, r, "key", i);
		if (p->has_endpoint && (r = put_endpoint(out, &p->endpoint, p->endpoint_len)) != 0)
			return fmt_fail(err, r, "endpoint", i);
		if ((p->has_keepalive && (r = put_fmt(out, "persistent_keepalive_interval=%u\n",
		    p->persistent_keepalive)) != 0) ||
		    (p->replace_allowed_ips && (r = put_str(out, "replace_allowed_ips=true\n")) != 0))
			return fmt_fail(err, r, "flags", i);
		for (size_t j = 0; j < p->n_allowed; j++)
			if ((r = put_allowed(out, &p->allowed[j])) != 0)
				return fmt_fail(err, r, "allowed IP", i);
	}
	return 0;
}
