/*
 * WireGuard UAPI: the parser of set requests, pure, over (text, len): what
 * uapi_serve hands a request to once it is read whole, and what
 * tests/unit/test_uapi.c and fuzz/fuzz_uapi.c drive directly.
 *
 * Parsing is strict where wireguard-go is lenient (one value syntax per
 * key, no duplicates inside a section, no whitespace, lowercase hex only):
 * wg(8) never sends anything else, and anything else is a bug or an attack
 * we would rather name in the log.
 *
 * Secrets: the parsed private and preshared keys are wiped when freed
 * (sodium_memzero); arrays that hold preshared keys grow by copy-and-wipe,
 * never realloc; hex is decoded in constant time.  Error messages name the
 * line and the key, never a value.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vpn/uapi.h"

/* Digits of UINT64_MAX: no longer number can be in range. */
#define UINT64_DIGITS 20
/* A key name in an error message: at most KEY_SHOWN bytes of it, then
 * "..."; KEY_MSG_LEN holds that and the NUL. */
#define KEY_SHOWN 40
#define KEY_MSG_LEN 48
_Static_assert(KEY_SHOWN + sizeof("...") <= KEY_MSG_LEN, "key names fit");

/* Lowercase hex only, in constant time (STYLE.md 3); *bad gets bit 0 set
 * for any other byte. */
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

/* Decimal digits only (leading zeros allowed, as Go's ParseUint), <= max. */
static int
parse_uint(const char *p, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > UINT64_DIGITS)
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

/* A key name fit for a log line: printable ASCII, at most KEY_SHOWN bytes. */
static void
key_for_msg(char out[static KEY_MSG_LEN], const char *p, size_t len)
{
	size_t n = len > KEY_SHOWN ? KEY_SHOWN : len, i;

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
	char kname[KEY_MSG_LEN];
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
