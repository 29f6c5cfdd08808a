/*
 * libFuzzer target: the WireGuard UAPI (src/vpn/uapi_*.c).  Each input is
 *
 *   1. parsed as the body of a set request (uapi_parse_set).  What parses
 *      must satisfy the promises of uapi.h (caps, families, cidr ranges,
 *      cleared host bits, endpoint lengths), format back with
 *      uapi_format_set to text that parses to the same thing, and format as
 *      a get reply; what fails must leave nothing allocated and say why;
 *   2. fed whole, as a client's byte stream, to uapi_serve over a socketpair
 *      with stub ops: it must return (EOF ends it), and call ops->set only
 *      with requests that satisfy the same invariants.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "vpn/uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void
check_allowed(const struct uapi_allowed_ip *a)
{
	size_t alen;

	CHECK(a->family == AF_INET || a->family == AF_INET6);
	alen = a->family == AF_INET ? 4 : 16;
	CHECK(a->cidr <= alen * 8);
	for (size_t bit = a->cidr; bit < alen * 8; bit++)
		CHECK(!(a->addr[bit / 8] & (0x80 >> (bit % 8))));
}

static void
check_set(const struct uapi_set *s)
{
	size_t total = 0;

	CHECK(s->n_peers <= UAPI_MAX_PEERS);
	CHECK(s->n_peers == 0 || s->peers != NULL);
	for (size_t i = 0; i < s->n_peers; i++) {
		const struct uapi_peer_set *ps = &s->peers[i];

		if (ps->has_endpoint) {
			const struct sockaddr_in *s4 = (const void *)&ps->endpoint;
			const struct sockaddr_in6 *s6 = (const void *)&ps->endpoint;

			if (ps->endpoint.ss_family == AF_INET) {
				CHECK(ps->endpoint_len == sizeof(*s4));
				CHECK(s4->sin_port != 0);
			} else {
				CHECK(ps->endpoint.ss_family == AF_INET6);
				CHECK(ps->endpoint_len == sizeof(*s6));
				CHECK(s6->sin6_port != 0);
			}
		} else
			CHECK(ps->endpoint_len == 0);
		CHECK(ps->n_allowed == 0 || ps->allowed != NULL);
		for (size_t j = 0; j < ps->n_allowed; j++)
			check_allowed(&ps->allowed[j]);
		total += ps->n_allowed;
	}
	CHECK(total <= UAPI_MAX_ALLOWED_IPS);
}

static void
check_same(const struct uapi_set *a, const struct uapi_set *b)
{
	CHECK(a->has_private_key == b->has_private_key);
	CHECK(!a->has_private_key || memcmp(a->private_key, b->private_key, 32) == 0);
	CHECK(a->has_listen_port == b->has_listen_port && a->listen_port == b->listen_port);
	CHECK(a->has_fwmark == b->has_fwmark && a->fwmark == b->fwmark);
	CHECK(a->replace_peers == b->replace_peers);
	CHECK(a->n_peers == b->n_peers);
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct uapi_peer_set *x = &a->peers[i], *y = &b->peers[i];

		CHECK(memcmp(x->public_key, y->public_key, 32) == 0);
		CHECK(x->remove == y->remove && x->update_only == y->update_only &&
		    x->replace_allowed_ips == y->replace_allowed_ips);
		CHECK(x->has_preshared_key == y->has_preshared_key);
		CHECK(!x->has_preshared_key || memcmp(x->preshared_key, y->preshared_key, 32) == 0);
		CHECK(x->has_endpoint == y->has_endpoint && x->endpoint_len == y->endpoint_len);
		CHECK(memcmp(&x->endpoint, &y->endpoint, x->endpoint_len) == 0);
		CHECK(x->has_keepalive == y->has_keepalive &&
		    x->persistent_keepalive == y->persistent_keepalive);
		CHECK(x->n_allowed == y->n_allowed);
		for (size_t j = 0; j < x->n_allowed; j++)
			CHECK(x->allowed[j].family == y->allowed[j].family &&
			    x->allowed[j].cidr == y->allowed[j].cidr &&
			    memcmp(x->allowed[j].addr, y->allowed[j].addr, 16) == 0);
	}
}

/* The parsed set, shown as a get reply would show it. */
static void
check_get_format(const struct uapi_set *s)
{
	struct uapi_get g;
	struct buf b;
	struct kerr e = { "" };

	memset(&g, 0, sizeof(g));
	g.has_private_key = s->has_private_key;
	memcpy(g.private_key, s->private_key, 32);
	g.listen_port = s->listen_port;
	g.fwmark = s->fwmark;
	if (s->n_peers > 0) {
		CHECK((g.peers = calloc(s->n_peers, sizeof(*g.peers))) != NULL);
		g.n_peers = s->n_peers;
	}
	for (size_t i = 0; i < s->n_peers; i++) {
		const struct uapi_peer_set *ps = &s->peers[i];
		struct uapi_peer_get *pg = &g.peers[i];

		memcpy(pg->public_key, ps->public_key, 32);
		pg->has_preshared_key = ps->has_preshared_key;
		memcpy(pg->preshared_key, ps->preshared_key, 32);
		pg->has_endpoint = ps->has_endpoint;
		pg->endpoint = ps->endpoint;
		pg->endpoint_len = ps->endpoint_len;
		pg->persistent_keepalive = ps->persistent_keepalive;
		pg->rx_bytes = UINT64_MAX;
		pg->last_handshake_sec = INT64_MAX;
		pg->last_handshake_nsec = 999999999;
		if (ps->n_allowed > 0) {
			CHECK((pg->allowed = malloc(ps->n_allowed * sizeof(*pg->allowed))) != NULL);
			memcpy(pg->allowed, ps->allowed, ps->n_allowed * sizeof(*pg->allowed));
			pg->n_allowed = ps->n_allowed;
		}
	}
	buf_init_secret(&b, UAPI_REQUEST_MAX);
	CHECK(uapi_format_get(&g, &b, &e) == 0);
	CHECK(b.len > 0 || (s->n_peers == 0 && !s->has_private_key &&
	    s->listen_port == 0 && s->fwmark == 0));
	buf_free(&b);
	uapi_get_free(&g);
}

static void
parse_one(const uint8_t *p, size_t len)
{
	struct uapi_set s, s2;
	struct kerr e = { "" };
	struct buf b;

	memset(&s, 0x5a, sizeof(s));
	if (uapi_parse_set((const char *)p, len, &s, &e) != 0) {
		CHECK(e.msg[0] != '\0');
		CHECK(s.n_peers == 0 && s.peers == NULL && !s.has_private_key);
		return;
	}
	check_set(&s);
	buf_init_secret(&b, UAPI_REQUEST_MAX);
	CHECK(uapi_format_set(&s, &b, &e) == 0);
	CHECK(uapi_parse_set((const char *)b.p, b.len, &s2, &e) == 0);
	check_same(&s, &s2);
	buf_free(&b);
	check_get_format(&s);
	uapi_set_free(&s2);
	uapi_set_free(&s);
}

/* ---- uapi_serve with stub ops ---- */

static int
stub_get(void *ctx, struct uapi_get *out)
{
	(void)ctx;
	(void)out;
	return 0;	/* an empty device: short replies, the socket never fills */
}

static int
stub_set(void *ctx, const struct uapi_set *req)
{
	int *calls = ctx;

	check_set(req);
	(*calls)++;
	return req->has_fwmark && req->fwmark == 13 ? 13 : 0;
}

static void
serve_one(const uint8_t *p, size_t len)
{
	static const struct uapi_ops ops = { .get = stub_get, .set = stub_set };
	int sv[2], calls = 0, sz = 1 << 20;
	char drain[4096];

	/* the whole input must fit in the socket before uapi_serve runs */
	if (len > 65536)
		return;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	for (size_t off = 0; off < len;) {
		ssize_t n = write(sv[0], p + off, len - off);

		CHECK(n > 0);
		off += (size_t)n;
	}
	CHECK(shutdown(sv[0], SHUT_WR) == 0);
	(void)uapi_serve(sv[1], &ops, &calls);
	close(sv[1]);
	while (read(sv[0], drain, sizeof(drain)) > 0)
		;
	close(sv[0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	static int once;

	if (!once) {
		log_set_level(LOG_ERR_);	/* refusals are expected by the million */
		once = 1;
	}
	parse_one(p, len);
	serve_one(p, len);
	return 0;
}
