/*
 * WireGuard UAPI: the text protocol of wireguard-go's configuration socket.
 *
 * A set request is read whole (up to UAPI_REQUEST_MAX) into a secret buffer,
 * parsed into a struct uapi_set, and only then handed to ops->set: a request
 * with any bad line changes nothing.  Parsing is strict where wireguard-go is
 * lenient (one value syntax per key, no duplicates inside a section, no
 * whitespace, lowercase hex only): wg(8) never sends anything else, and
 * anything else is a bug or an attack we would rather name in the log.
 *
 * Secrets: the request text, the parsed private and preshared keys and the
 * formatted get reply are wiped when freed (buf_init_secret, sodium_memzero);
 * arrays that hold preshared keys grow by copy-and-wipe, never realloc.
 * Error messages name the line and the key, never a value.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/log.h"
#include "vpn/uapi.h"

/* ---- hex, constant time (STYLE.md 3) ---- */

/* Lowercase hex only; *bad gets bit 0 set for any other byte. */
static unsigned
hex_nibble(uint8_t ch, unsigned *bad)
{
	int c = ch;
	int is_dig = ((0x2f - c) & (c - 0x3a)) >> 8;	/* -1 iff '0'..'9' */
	int is_af = ((0x60 - c) & (c - 0x67)) >> 8;	/* -1 iff 'a'..'f' */

	*bad |= (unsigned)~(is_dig | is_af) & 1u;
	return (unsigned)((is_dig & (c - 0x30)) | (is_af & (c - 0x57))) & 0xfu;
}

/* 64 lowercase hex characters -> 32 bytes; key is wiped on failure. */
static int
key_from_hex(uint8_t key[static UAPI_KEY_LEN], const char *s, size_t len)
{
	unsigned bad = 0;

	if (len != UAPI_KEY_HEX_LEN)
		return KERR_INVALID;
	for (size_t i = 0; i < UAPI_KEY_LEN; i++)
		key[i] = (uint8_t)(hex_nibble((uint8_t)s[2 * i], &bad) << 4 |
		    hex_nibble((uint8_t)s[2 * i + 1], &bad));
	if (bad) {
		sodium_memzero(key, UAPI_KEY_LEN);
		return KERR_INVALID;
	}
	return 0;
}

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

/* ---- small parsers over (p, len) ---- */

/* Decimal digits only (leading zeros allowed, as Go's ParseUint), <= max. */
static int
parse_uint(const char *p, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return KERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(uint8_t)p[i] - '0';

		if (d > 9)
			return KERR_INVALID;
		if (v > (UINT64_MAX - d) / 10)
			return KERR_INVALID;
		v = v * 10 + d;
	}
	if (v > max)
		return KERR_INVALID;
	*out = v;
	return 0;
}

static bool
eq(const char *p, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(p, lit, len) == 0;
}

/* inet_pton on a bounded, copied string. */
static int
addr_from_text(int family, const char *p, size_t len, void *out)
{
	char tmp[INET6_ADDRSTRLEN + 1];

	if (len == 0 || len >= sizeof(tmp))
		return KERR_INVALID;
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	return inet_pton(family, tmp, out) == 1 ? 0 : KERR_INVALID;
}

/*
 * "a.b.c.d:port" or "[v6addr]:port" / "[v6addr%scope]:port"; scope is an
 * interface index or name.  Numeric only: wg(8) resolves names itself.
 * Port 1..65535.
 */
static int
parse_endpoint(const char *p, size_t len, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	const char *colon, *port_p;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	*sslen = 0;
	if (len > 0 && p[0] == '[') {
		const char *close = memchr(p, ']', len);
		const char *host = p + 1, *pct;
		size_t hlen;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		uint64_t scope = 0;

		if (close == NULL || (size_t)(close - p) + 1 >= len || close[1] != ':')
			return KERR_INVALID;
		port_p = close + 2;
		hlen = (size_t)(close - host);
		if ((pct = memchr(host, '%', hlen)) != NULL) {
			const char *sc = pct + 1;
			size_t sclen = (size_t)(close - sc);
			char name[IF_NAMESIZE];

			if (sclen == 0)
				return KERR_INVALID;
			if (sc[0] >= '0' && sc[0] <= '9') {
				if (parse_uint(sc, sclen, UINT32_MAX, &scope) != 0 || scope == 0)
					return KERR_INVALID;
			} else {
				if (sclen >= sizeof(name) || memchr(sc, '\0', sclen))
					return KERR_INVALID;
				memcpy(name, sc, sclen);
				name[sclen] = '\0';
				if ((scope = if_nametoindex(name)) == 0)
					return KERR_INVALID;
			}
			hlen = (size_t)(pct - host);
		}
		if (addr_from_text(AF_INET6, host, hlen, &s6->sin6_addr) != 0)
			return KERR_INVALID;
		if (parse_uint(port_p, len - (size_t)(port_p - p), 65535, &port) != 0 || port == 0)
			return KERR_INVALID;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_scope_id = (uint32_t)scope;
		*sslen = sizeof(*s6);
		return 0;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		/* the last ':' (an IPv4 address has none) */
		colon = NULL;
		for (size_t i = len; i > 0; i--)
			if (p[i - 1] == ':') {
				colon = p + i - 1;
				break;
			}
		if (colon == NULL)
			return KERR_INVALID;
		if (addr_from_text(AF_INET, p, (size_t)(colon - p), &s4->sin_addr) != 0)
			return KERR_INVALID;
		port_p = colon + 1;
		if (parse_uint(port_p, len - (size_t)(port_p - p), 65535, &port) != 0 || port == 0)
			return KERR_INVALID;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*s4);
		return 0;
	}
}

static void
mask_prefix(uint8_t *addr, size_t addrlen, unsigned cidr)
{
	for (size_t i = 0; i < addrlen; i++) {
		if (cidr >= 8) {
			cidr -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> cidr);
		cidr = 0;
	}
}

/* "addr/cidr": IPv6 if addr has a ':'; cidr decimal without leading zeros. */
static int
parse_allowed_ip(const char *p, size_t len, struct uapi_allowed_ip *a)
{
	const char *slash = memchr(p, '/', len);
	const char *c;
	size_t clen;
	uint64_t cidr;
	unsigned max;

	memset(a, 0, sizeof(*a));
	if (slash == NULL)
		return KERR_INVALID;
	c = slash + 1;
	clen = len - (size_t)(c - p);
	if (clen == 0 || clen > 3 || (clen > 1 && c[0] == '0'))
		return KERR_INVALID;
	if (memchr(p, ':', (size_t)(slash - p)) != NULL) {
		a->family = AF_INET6;
		max = 128;
	} else {
		a->family = AF_INET;
		max = 32;
	}
	if (parse_uint(c, clen, max, &cidr) != 0)
		return KERR_INVALID;
	if (addr_from_text(a->family, p, (size_t)(slash - p), a->addr) != 0)
		return KERR_INVALID;
	a->cidr = (uint8_t)cidr;
	mask_prefix(a->addr, a->family == AF_INET ? 4 : 16, a->cidr);
	return 0;
}

/* ---- freeing ---- */

static void
peer_set_clear(struct uapi_peer_set *p)
{
	free(p->allowed);
	sodium_memzero(p, sizeof(*p));
}

void
uapi_set_free(struct uapi_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_peers; i++)
		peer_set_clear(&s->peers[i]);
	free(s->peers);
	sodium_memzero(s, sizeof(*s));
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

/* ---- parsing a set request ---- */

enum {
	/* device keys */
	K_PRIVATE_KEY, K_LISTEN_PORT, K_FWMARK, K_REPLACE_PEERS,
	/* peer keys */
	K_PUBLIC_KEY, K_REMOVE, K_UPDATE_ONLY, K_PRESHARED_KEY, K_ENDPOINT,
	K_KEEPALIVE, K_REPLACE_ALLOWED_IPS, K_ALLOWED_IP, K_PROTOCOL_VERSION,
	/* only in get replies */
	K_GET_ONLY,
	K_UNKNOWN,
};

static const struct {
	const char *name;
	int id;
} set_keys[] = {
	{ "private_key", K_PRIVATE_KEY },
	{ "listen_port", K_LISTEN_PORT },
	{ "fwmark", K_FWMARK },
	{ "replace_peers", K_REPLACE_PEERS },
	{ "public_key", K_PUBLIC_KEY },
	{ "remove", K_REMOVE },
	{ "update_only", K_UPDATE_ONLY },
	{ "preshared_key", K_PRESHARED_KEY },
	{ "endpoint", K_ENDPOINT },
	{ "persistent_keepalive_interval", K_KEEPALIVE },
	{ "replace_allowed_ips", K_REPLACE_ALLOWED_IPS },
	{ "allowed_ip", K_ALLOWED_IP },
	{ "protocol_version", K_PROTOCOL_VERSION },
	{ "last_handshake_time_sec", K_GET_ONLY },
	{ "last_handshake_time_nsec", K_GET_ONLY },
	{ "rx_bytes", K_GET_ONLY },
	{ "tx_bytes", K_GET_ONLY },
	{ "errno", K_GET_ONLY },
};

static int
key_id(const char *p, size_t len)
{
	for (size_t i = 0; i < sizeof(set_keys) / sizeof(set_keys[0]); i++)
		if (eq(p, len, set_keys[i].name))
			return set_keys[i].id;
	return K_UNKNOWN;
}

/* A key name fit for a log line: printable ASCII, at most 40 bytes. */
static void
key_for_msg(char out[static 48], const char *p, size_t len)
{
	size_t n = len > 40 ? 40 : len, i;

	for (i = 0; i < n; i++)
		out[i] = (p[i] >= 0x20 && p[i] <= 0x7e) ? p[i] : '?';
	if (len > n) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

/*
 * Grow an array of n elements of size sz to hold one more, by copy and wipe
 * (the elements may hold preshared keys).  *cap doubles.
 */
static int
grow(void **arr, size_t n, size_t *cap, size_t sz, size_t max)
{
	size_t ncap;
	void *na;

	if (n < *cap)
		return 0;
	if (n >= max)
		return KERR_TOOBIG;
	ncap = *cap ? *cap * 2 : 4;
	if (ncap > max)
		ncap = max;
	if ((na = calloc(ncap, sz)) == NULL)
		return KERR_NOMEM;
	if (*arr != NULL) {
		memcpy(na, *arr, n * sz);
		sodium_memzero(*arr, n * sz);
		free(*arr);
	}
	*arr = na;
	*cap = ncap;
	return 0;
}

int
uapi_parse_set(const char *text, size_t len, struct uapi_set *out, struct kerr *err)
{
	size_t pos = 0, line = 0, peers_cap = 0, allowed_cap = 0, total_allowed = 0;
	uint32_t seen = 0;	/* keys seen in the current section */
	struct uapi_peer_set *peer = NULL;
	char kname[48];
	int r = 0;

	memset(out, 0, sizeof(*out));
	while (pos < len) {
		const char *l = text + pos, *nl, *eqs, *v;
		size_t llen, klen, vlen;
		uint64_t n;
		int id;

		line++;
		nl = memchr(l, '\n', len - pos);
		if (nl == NULL) {
			r = kerr_set(err, KERR_TRUNCATED,
			    "line %zu: no newline at its end (truncated request)", line);
			goto fail;
		}
		llen = (size_t)(nl - l);
		pos += llen + 1;
		if (llen == 0) {
			r = kerr_set(err, KERR_FORMAT, "line %zu: empty line inside the request", line);
			goto fail;
		}
		if (llen > UAPI_LINE_MAX) {
			r = kerr_set(err, KERR_TOOBIG, "line %zu: longer than %d bytes",
			    line, UAPI_LINE_MAX);
			goto fail;
		}
		if ((eqs = memchr(l, '=', llen)) == NULL) {
			r = kerr_set(err, KERR_FORMAT, "line %zu: no '=' (%zu bytes)", line,
			    llen);
			goto fail;
		}
		klen = (size_t)(eqs - l);
		v = eqs + 1;
		vlen = llen - klen - 1;
		key_for_msg(kname, l, klen);
		if (memchr(l, '\0', llen) != NULL || memchr(l, '\r', llen) != NULL) {
			r = kerr_set(err, KERR_FORMAT, "line %zu (%s): NUL or CR byte", line, kname);
			goto fail;
		}
		id = key_id(l, klen);
		if (id == K_UNKNOWN) {
			r = kerr_set(err, KERR_INVALID, "line %zu: unknown key \"%s\"", line, kname);
			goto fail;
		}
		if (id == K_GET_ONLY) {
			r = kerr_set(err, KERR_INVALID, "line %zu: \"%s\" is not settable",
			    line, kname);
			goto fail;
		}
		if (id == K_PUBLIC_KEY) {
			if ((r = grow((void **)&out->peers, out->n_peers, &peers_cap,
			    sizeof(*out->peers), UAPI_MAX_PEERS)) != 0) {
				if (r == KERR_TOOBIG)
					r = kerr_set(err, r, "line %zu: more than %d peers", line,
					    UAPI_MAX_PEERS);
				else
					r = kerr_set(err, r, "line %zu: out of memory", line);
				goto fail;
			}
			peer = &out->peers[out->n_peers++];
			memset(peer, 0, sizeof(*peer));
			allowed_cap = 0;
			seen = 0;
		} else if (id <= K_REPLACE_PEERS && peer != NULL) {
			r = kerr_set(err, KERR_INVALID,
			    "line %zu: device key \"%s\" after the first public_key", line, kname);
			goto fail;
		} else if (id > K_REPLACE_PEERS && peer == NULL) {
			r = kerr_set(err, KERR_INVALID,
			    "line %zu: \"%s\" outside a peer section (no public_key before it)",
			    line, kname);
			goto fail;
		}
		if (id != K_ALLOWED_IP && (seen & (1u << id))) {
			r = kerr_set(err, KERR_INVALID, "line %zu: \"%s\" given twice in one %s",
			    line, kname, peer ? "peer section" : "request");
			goto fail;
		}
		seen |= 1u << id;

		switch (id) {
		case K_PRIVATE_KEY:
			r = key_from_hex(out->private_key, v, vlen);
			out->has_private_key = r == 0;
			break;
		case K_LISTEN_PORT:
			if ((r = parse_uint(v, vlen, 65535, &n)) == 0) {
				out->listen_port = (uint16_t)n;
				out->has_listen_port = true;
			}
			break;
		case K_FWMARK:
			if ((r = parse_uint(v, vlen, UINT32_MAX, &n)) == 0) {
				out->fwmark = (uint32_t)n;
				out->has_fwmark = true;
			}
			break;
		case K_REPLACE_PEERS:
			r = eq(v, vlen, "true") ? 0 : KERR_INVALID;
			out->replace_peers = r == 0;
			break;
		case K_PUBLIC_KEY:
			r = key_from_hex(peer->public_key, v, vlen);
			break;
		case K_REMOVE:
			r = eq(v, vlen, "true") ? 0 : KERR_INVALID;
			peer->remove = r == 0;
			break;
		case K_UPDATE_ONLY:
			r = eq(v, vlen, "true") ? 0 : KERR_INVALID;
			peer->update_only = r == 0;
			break;
		case K_PRESHARED_KEY:
			r = key_from_hex(peer->preshared_key, v, vlen);
			peer->has_preshared_key = r == 0;
			break;
		case K_ENDPOINT:
			r = parse_endpoint(v, vlen, &peer->endpoint, &peer->endpoint_len);
			peer->has_endpoint = r == 0;
			break;
		case K_KEEPALIVE:
			if ((r = parse_uint(v, vlen, 65535, &n)) == 0) {
				peer->persistent_keepalive = (uint16_t)n;
				peer->has_keepalive = true;
			}
			break;
		case K_REPLACE_ALLOWED_IPS:
			r = eq(v, vlen, "true") ? 0 : KERR_INVALID;
			peer->replace_allowed_ips = r == 0;
			break;
		case K_PROTOCOL_VERSION:
			r = eq(v, vlen, "1") ? 0 : KERR_INVALID;
			break;
		case K_ALLOWED_IP:
			if (total_allowed >= UAPI_MAX_ALLOWED_IPS) {
				r = kerr_set(err, KERR_TOOBIG, "line %zu: more than %u allowed_ip lines",
				    line, UAPI_MAX_ALLOWED_IPS);
				goto fail;
			}
			if ((r = grow((void **)&peer->allowed, peer->n_allowed, &allowed_cap,
			    sizeof(*peer->allowed), UAPI_MAX_ALLOWED_IPS)) != 0) {
				r = kerr_set(err, r, "line %zu: out of memory", line);
				goto fail;
			}
			r = parse_allowed_ip(v, vlen, &peer->allowed[peer->n_allowed]);
			if (r == 0) {
				peer->n_allowed++;
				total_allowed++;
			}
			break;
		}
		if (r != 0) {
			static const char *const want[] = {
				[K_PRIVATE_KEY] = "64 lowercase hex digits",
				[K_LISTEN_PORT] = "a port number 0..65535",
				[K_FWMARK] = "a number 0..4294967295",
				[K_REPLACE_PEERS] = "\"true\"",
				[K_PUBLIC_KEY] = "64 lowercase hex digits",
				[K_REMOVE] = "\"true\"",
				[K_UPDATE_ONLY] = "\"true\"",
				[K_PRESHARED_KEY] = "64 lowercase hex digits",
				[K_ENDPOINT] = "a.b.c.d:port or [ipv6%scope]:port, port 1..65535",
				[K_KEEPALIVE] = "seconds 0..65535",
				[K_REPLACE_ALLOWED_IPS] = "\"true\"",
				[K_ALLOWED_IP] = "address/cidr, cidr 0..32 (IPv4) or 0..128 (IPv6)",
				[K_PROTOCOL_VERSION] = "1",
			};

			r = kerr_set(err, KERR_INVALID, "line %zu: bad value for %s (want %s)",
			    line, kname, want[id]);
			goto fail;
		}
	}
	return 0;
fail:
	uapi_set_free(out);
	return r;
}

/* ---- formatting ---- */

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
	char tmp[256];
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

/* ---- the socket ---- */

static int
valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IF_NAMESIZE || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)s[i] <= 0x20 || (uint8_t)s[i] >= 0x7f || s[i] == '/')
			return 0;
	return 1;
}

static int
sock_path(struct sockaddr_un *sun, const char *dir, const char *ifname)
{
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s.sock", dir, ifname);
	return n > 0 && (size_t)n < sizeof(sun->sun_path) ? 0 : -1;
}

int
uapi_listen(const char *dir, const char *ifname, struct kerr *err)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1, probe, e;

	if (dir == NULL)
		dir = UAPI_DIR_DEFAULT;
	if (ifname == NULL || !valid_ifname(ifname)) {
		kerr_set(err, KERR_INVALID, "invalid interface name for the UAPI socket");
		return -1;
	}
	if (sock_path(&sun, dir, ifname) != 0) {
		kerr_set(err, KERR_TOOBIG, "UAPI socket path %s/%s.sock is too long", dir, ifname);
		return -1;
	}
	if (mkdir(dir, 0755) == 0)
		(void)chmod(dir, 0755);	/* whatever the umask */
	else if (errno != EEXIST) {
		kerr_set(err, KERR_IO, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		kerr_set(err, KERR_IO, "%s is not a directory", dir);
		return -1;
	}
	if (lstat(sun.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			kerr_set(err, KERR_EXISTS, "%s exists and is not a socket", sun.sun_path);
			return -1;
		}
		if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			kerr_set(err, KERR_IO, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			kerr_set(err, KERR_EXISTS,
			    "%s: another process is listening on it (interface in use?)",
			    sun.sun_path);
			return -1;
		}
		e = errno;
		close(probe);
		if (e != ECONNREFUSED && e != ENOENT) {
			kerr_set(err, KERR_IO, "probing %s: %s", sun.sun_path, strerror(e));
			return -1;
		}
		if (unlink(sun.sun_path) != 0 && errno != ENOENT) {
			kerr_set(err, KERR_IO, "removing stale %s: %s", sun.sun_path,
			    strerror(errno));
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		kerr_set(err, KERR_IO, "socket: %s", strerror(errno));
		return -1;
	}
	/*
	 * Linux creates the socket file with the socket inode's mode less the
	 * umask, so set 0600 before bind: no window where it is wider.  The
	 * chmod after is for kernels that ignore it.
	 */
	(void)fchmod(fd, 0600);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		kerr_set(err, KERR_IO, "bind %s: %s", sun.sun_path, strerror(errno));
		goto fail;
	}
	if (chmod(sun.sun_path, 0600) != 0) {
		kerr_set(err, KERR_IO, "chmod %s: %s", sun.sun_path, strerror(errno));
		unlink(sun.sun_path);
		goto fail;
	}
	if (listen(fd, 16) != 0) {
		kerr_set(err, KERR_IO, "listen %s: %s", sun.sun_path, strerror(errno));
		unlink(sun.sun_path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

void
uapi_unlink(const char *dir, const char *ifname)
{
	struct sockaddr_un sun;

	if (ifname == NULL || !valid_ifname(ifname))
		return;
	if (sock_path(&sun, dir ? dir : UAPI_DIR_DEFAULT, ifname) == 0)
		(void)unlink(sun.sun_path);
}

/* ---- serving a connection ---- */

#define CONN_BUF 65536

struct conn {
	int fd;
	size_t off, len;	/* unread bytes are in[off .. len) */
	uint8_t in[CONN_BUF];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Refill c->in: 1 bytes read, 0 EOF, -1 error or timeout. */
static int
conn_fill(struct conn *c, int64_t deadline)
{
	ssize_t n;

	if (c->off == c->len)
		c->off = c->len = 0;
	else if (c->off > 0) {
		memmove(c->in, c->in + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	for (;;) {
		int w = wait_fd(c->fd, POLLIN, deadline);

		if (w <= 0) {
			log_warn("uapi: %s while reading a request",
			    w == 0 ? "timeout" : "poll failed");
			return -1;
		}
		n = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			log_warn("uapi: read: %s", strerror(errno));
			return -1;
		}
	}
}

/*
 * The next line (without its newline) into *line and *llen, pointing into
 * c->in and valid until the next call.  1 a line, 0 EOF before any byte of
 * it, -1 EOF inside it or error/timeout, -2 longer than max.
 */
static int
conn_line(struct conn *c, const uint8_t **line, size_t *llen, size_t max,
    int64_t deadline)
{
	size_t scanned = 0;

	for (;;) {
		const uint8_t *nl = memchr(c->in + c->off + scanned, '\n',
		    c->len - c->off - scanned);
		int r;

		if (nl != NULL) {
			*line = c->in + c->off;
			*llen = (size_t)(nl - *line);
			c->off += *llen + 1;
			return *llen > max ? -2 : 1;
		}
		scanned = c->len - c->off;
		if (scanned > max)
			return -2;
		r = conn_fill(c, deadline);
		if (r <= 0)
			return r == 0 && scanned == 0 ? 0 : -1;
	}
}

static int
write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	int64_t deadline = now_ms() + UAPI_REQUEST_TIMEOUT_MS;

	while (len > 0) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		if (n > 0) {
			b += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(fd, POLLOUT, deadline) == 1)
			continue;
		log_warn("uapi: write: %s", n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

static int
write_errno(int fd, long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "errno=%ld\n\n", v);

	return write_all(fd, tmp, (size_t)n);
}

static int
errno_of_kerr(int r)
{
	switch (r) {
	case KERR_FORMAT:
	case KERR_TRUNCATED:
		return EPROTO;
	case KERR_TOOBIG:
		return E2BIG;
	case KERR_NOMEM:
		return ENOMEM;
	default:
		return EINVAL;
	}
}

static int
serve_get(struct conn *c, const struct uapi_ops *ops, void *ctx)
{
	struct uapi_get g;
	struct buf out;
	struct kerr e = { "" };
	int r, ret = -1;

	memset(&g, 0, sizeof(g));
	buf_init_secret(&out, UAPI_REQUEST_MAX);
	r = ops->get(ctx, &g);
	if (r != 0) {
		log_warn("uapi: get failed: %s", strerror(r > 0 ? r : -r));
		ret = write_errno(c->fd, r > 0 ? r : -r);
		goto out;
	}
	if ((r = uapi_format_get(&g, &out, &e)) != 0) {
		log_err("uapi: get: %s", kerr_msg(&e, r));
		ret = write_errno(c->fd, errno_of_kerr(r));
		goto out;
	}
	if ((r = buf_put(&out, "errno=0\n\n", 9)) != 0) {
		ret = write_errno(c->fd, errno_of_kerr(r));
		goto out;
	}
	ret = write_all(c->fd, out.p, out.len);
out:
	uapi_get_free(&g);
	buf_free(&out);
	return ret;
}

/* 1 answered (go on), -1 close. */
static int
serve_set(struct conn *c, const struct uapi_ops *ops, void *ctx, int64_t deadline)
{
	struct uapi_set s;
	struct buf text;
	struct kerr e = { "" };
	const uint8_t *line;
	size_t llen;
	int r, ret = -1;

	buf_init_secret(&text, UAPI_REQUEST_MAX);
	memset(&s, 0, sizeof(s));
	for (;;) {
		r = conn_line(c, &line, &llen, UAPI_LINE_MAX, deadline);
		if (r == -2) {
			log_warn("uapi: set: a line longer than %d bytes", UAPI_LINE_MAX);
			(void)write_errno(c->fd, -E2BIG);
			goto out;
		}
		if (r <= 0) {
			log_warn("uapi: set: connection ended inside the request");
			goto out;
		}
		if (llen == 0)
			break;
		if (buf_put(&text, line, llen + 1) != 0) {	/* with its '\n' */
			log_warn("uapi: set: request over %u bytes", UAPI_REQUEST_MAX);
			(void)write_errno(c->fd, -E2BIG);
			goto out;
		}
	}
	if ((r = uapi_parse_set((const char *)text.p, text.len, &s, &e)) != 0) {
		log_warn("uapi: set refused, nothing changed: %s", kerr_msg(&e, r));
		ret = write_errno(c->fd, -errno_of_kerr(r)) == 0 ? 1 : -1;
		goto out;
	}
	buf_free(&text);
	r = ops->set(ctx, &s);
	if (r != 0)
		log_warn("uapi: set failed: %s", strerror(r > 0 ? r : -r));
	ret = write_errno(c->fd, r == 0 ? 0 : -(long)(r > 0 ? r : -r)) == 0 ? 1 : -1;
out:
	uapi_set_free(&s);
	buf_free(&text);
	return ret;
}

int
uapi_serve(int fd, const struct uapi_ops *ops, void *ctx)
{
	struct conn *c;
	int ret = -1;

	if ((c = malloc(sizeof(*c))) == NULL) {
		log_err("uapi: out of memory");
		return -1;
	}
	c->fd = fd;
	c->off = c->len = 0;
	for (;;) {
		const uint8_t *line;
		size_t llen;
		int64_t deadline;
		int r;

		/* wait for the first byte of a request without a request deadline */
		if (c->off == c->len) {
			r = conn_fill(c, now_ms() + UAPI_IDLE_TIMEOUT_MS);
			if (r == 0) {
				ret = 0;
				break;
			}
			if (r < 0)
				break;
		}
		deadline = now_ms() + UAPI_REQUEST_TIMEOUT_MS;
		r = conn_line(c, &line, &llen, 16, deadline);
		if (r != 1) {
			log_warn("uapi: %s", r == -2 ? "overlong operation line" :
			    "connection ended inside the operation line");
			break;
		}
		if (llen == 5 && memcmp(line, "get=1", 5) == 0) {
			r = conn_line(c, &line, &llen, 0, deadline);
			if (r != 1) {
				log_warn("uapi: get=1 not followed by an empty line");
				(void)write_errno(fd, EPROTO);
				break;
			}
			if (serve_get(c, ops, ctx) != 0)
				break;
		} else if (llen == 5 && memcmp(line, "set=1", 5) == 0) {
			if (serve_set(c, ops, ctx, deadline) != 1)
				break;
		} else {
			log_warn("uapi: unknown operation (%zu bytes), closing", llen);
			break;
		}
	}
	sodium_memzero(c, sizeof(*c));
	free(c);
	return ret;
}
