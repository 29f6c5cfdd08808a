/*
 * The WireGuard UAPI (src/vpn/uapi_*.c): the set parser on every key and on
 * hostile input, the get formatter byte for byte, uapi_serve over a
 * socketpair, uapi_listen's socket file, uapi_accept_loop in a child
 * process (the connection cap; no spinning when accept hits EMFILE), and
 * finally the real wg(8) binary driving uapi_serve through
 * /var/run/wireguard/kuapiPID.sock (skipped when wg is not installed or we
 * are not root).
 *
 * The "device" behind uapi_ops here is a test double, struct fake_dev: an
 * in-memory configuration that applies set requests the way a WireGuard
 * device does (replace_peers, update_only, remove, replace_allowed_ips, an
 * allowed IP moving between peers) and reports it back in get.  It is not the
 * koden-vpn device.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "vpn/uapi.h"

/* 64 hex digits of one repeated byte */
static char *
hexkey(char out[65], unsigned byte)
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", byte & 0xff);
	return out;
}

static void
key_fill(uint8_t k[UAPI_KEY_LEN], unsigned byte)
{
	memset(k, (int)byte, UAPI_KEY_LEN);
}

static int
parse(const char *text, struct uapi_set *s, struct kerr *e)
{
	return uapi_parse_set(text, strlen(text), s, e);
}

/* ---- parsing ---- */

static void
test_parse_all_keys(void **state)
{
	char k1[65], k2[65], k3[65], k4[65], text[2048];
	struct uapi_set s;
	struct kerr e = { "" };
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;
	uint8_t want[16];

	(void)state;
	snprintf(text, sizeof(text),
	    "private_key=%s\n"
	    "listen_port=51820\n"
	    "fwmark=4294967295\n"
	    "replace_peers=true\n"
	    "public_key=%s\n"
	    "preshared_key=%s\n"
	    "endpoint=192.0.2.1:51820\n"
	    "persistent_keepalive_interval=25\n"
	    "replace_allowed_ips=true\n"
	    "protocol_version=1\n"
	    "allowed_ip=10.0.0.0/24\n"
	    "allowed_ip=10.9.8.7/32\n"
	    "allowed_ip=fd00:1::/64\n"
	    "allowed_ip=::/0\n"
	    "public_key=%s\n"
	    "update_only=true\n"
	    "endpoint=[2001:db8::1]:443\n"
	    "persistent_keepalive_interval=0\n"
	    "public_key=%s\n"
	    "remove=true\n",
	    hexkey(k1, 0x11), hexkey(k2, 0x22), hexkey(k3, 0x33), hexkey(k4, 0x44),
	    hexkey(k4, 0x44));
	assert_int_equal(parse(text, &s, &e), 0);
	assert_true(s.has_private_key);
	for (int i = 0; i < 32; i++)
		assert_int_equal(s.private_key[i], 0x11);
	assert_true(s.has_listen_port);
	assert_int_equal(s.listen_port, 51820);
	assert_true(s.has_fwmark);
	assert_int_equal(s.fwmark, 4294967295u);
	assert_true(s.replace_peers);
	assert_int_equal(s.n_peers, 3);

	assert_int_equal(s.peers[0].public_key[0], 0x22);
	assert_int_equal(s.peers[0].public_key[31], 0x22);
	assert_true(s.peers[0].has_preshared_key);
	assert_int_equal(s.peers[0].preshared_key[5], 0x33);
	assert_true(s.peers[0].has_endpoint);
	s4 = (const struct sockaddr_in *)&s.peers[0].endpoint;
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(s.peers[0].endpoint_len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(s4->sin_port), 51820);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0xc0000201);
	assert_true(s.peers[0].has_keepalive);
	assert_int_equal(s.peers[0].persistent_keepalive, 25);
	assert_true(s.peers[0].replace_allowed_ips);
	assert_false(s.peers[0].remove);
	assert_false(s.peers[0].update_only);
	assert_int_equal(s.peers[0].n_allowed, 4);
	assert_int_equal(s.peers[0].allowed[0].family, AF_INET);
	assert_int_equal(s.peers[0].allowed[0].cidr, 24);
	assert_memory_equal(s.peers[0].allowed[0].addr, "\x0a\x00\x00\x00", 4);
	assert_int_equal(s.peers[0].allowed[1].cidr, 32);
	assert_memory_equal(s.peers[0].allowed[1].addr, "\x0a\x09\x08\x07", 4);
	assert_int_equal(s.peers[0].allowed[2].family, AF_INET6);
	assert_int_equal(s.peers[0].allowed[2].cidr, 64);
	inet_pton(AF_INET6, "fd00:1::", want);
	assert_memory_equal(s.peers[0].allowed[2].addr, want, 16);
	assert_int_equal(s.peers[0].allowed[3].family, AF_INET6);
	assert_int_equal(s.peers[0].allowed[3].cidr, 0);

	assert_int_equal(s.peers[1].public_key[0], 0x44);
	assert_true(s.peers[1].update_only);
	assert_false(s.peers[1].has_preshared_key);
	s6 = (const struct sockaddr_in6 *)&s.peers[1].endpoint;
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(s.peers[1].endpoint_len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(s6->sin6_port), 443);
	inet_pton(AF_INET6, "2001:db8::1", want);
	assert_memory_equal(&s6->sin6_addr, want, 16);
	assert_true(s.peers[1].has_keepalive);
	assert_int_equal(s.peers[1].persistent_keepalive, 0);
	assert_int_equal(s.peers[1].n_allowed, 0);

	/* the same key twice is two sections, applied in order */
	assert_memory_equal(s.peers[2].public_key, s.peers[1].public_key, 32);
	assert_true(s.peers[2].remove);
	uapi_set_free(&s);
	assert_int_equal(s.n_peers, 0);
	assert_null(s.peers);
	assert_false(s.has_private_key);
	for (int i = 0; i < 32; i++)
		assert_int_equal(s.private_key[i], 0);

	/* an empty request is valid and sets nothing */
	assert_int_equal(uapi_parse_set("", 0, &s, &e), 0);
	assert_false(s.has_private_key || s.has_listen_port || s.has_fwmark ||
	    s.replace_peers);
	assert_int_equal(s.n_peers, 0);
	uapi_set_free(&s);
}

static void
test_parse_values(void **state)
{
	char k[65], text[512];
	struct uapi_set s;
	struct kerr e = { "" };
	const struct sockaddr_in6 *s6;
	uint8_t want[16];

	(void)state;
	hexkey(k, 0xab);
	/* host bits past cidr are cleared; leading zeros in numbers allowed */
	snprintf(text, sizeof(text), "listen_port=00080\npublic_key=%s\n"
	    "allowed_ip=10.1.2.3/8\nallowed_ip=fd00::ffff/120\nallowed_ip=192.168.1.255/31\n"
	    "allowed_ip=1.2.3.4/0\nendpoint=[fe80::1%%1]:51820\n", k);
	assert_int_equal(parse(text, &s, &e), 0);
	assert_int_equal(s.listen_port, 80);
	assert_memory_equal(s.peers[0].allowed[0].addr, "\x0a\0\0\0", 4);
	inet_pton(AF_INET6, "fd00::ff00", want);
	assert_memory_equal(s.peers[0].allowed[1].addr, want, 16);
	assert_memory_equal(s.peers[0].allowed[2].addr, "\xc0\xa8\x01\xfe", 4);
	assert_memory_equal(s.peers[0].allowed[3].addr, "\0\0\0\0", 4);
	s6 = (const struct sockaddr_in6 *)&s.peers[0].endpoint;
	assert_int_equal(s6->sin6_scope_id, 1);
	uapi_set_free(&s);

	/* a scope by interface name; a zero private key (= remove it) */
	snprintf(text, sizeof(text), "private_key=%s\npublic_key=%s\n"
	    "endpoint=[fe80::2%%lo]:1\npreshared_key=%s\n",
	    hexkey(k, 0), hexkey(k, 0xab), hexkey(k, 0));
	assert_int_equal(parse(text, &s, &e), 0);
	assert_true(s.has_private_key);
	assert_true(s.peers[0].has_preshared_key);
	s6 = (const struct sockaddr_in6 *)&s.peers[0].endpoint;
	assert_int_equal(s6->sin6_scope_id, if_nametoindex("lo"));
	assert_int_equal(ntohs(s6->sin6_port), 1);
	uapi_set_free(&s);
}

struct bad {
	const char *name;
	const char *text;
	size_t len;	/* 0: strlen */
	int code;
	const char *msg;	/* a substring of the error message */
};

#define K64 "abababababababababababababababababababababababababababababababab"
#define PEER "public_key=" K64 "\n"

static void
test_parse_hostile(void **state)
{
	static const struct bad cases[] = {
		{ "missing '='", "listen_port\n", 0, KERR_FORMAT, "line 1: no '='" },
		{ "missing '=' later", "listen_port=1\n" PEER "abc\n", 0, KERR_FORMAT, "line 3" },
		{ "no final newline", "listen_port=51820", 0, KERR_TRUNCATED, "truncated" },
		{ "truncated peer", PEER "allowed_ip=10.0.0.0/8", 0, KERR_TRUNCATED, "line 2" },
		{ "empty line", "listen_port=1\n\nfwmark=1\n", 0, KERR_FORMAT, "empty line" },
		{ "lone newline", "\n", 0, KERR_FORMAT, "empty line" },
		{ "unknown key", "bogus=1\n", 0, KERR_INVALID, "unknown key \"bogus\"" },
		{ "leading space", " listen_port=1\n", 0, KERR_INVALID, "unknown key \" listen_port\"" },
		{ "upper-case key", "Listen_port=1\n", 0, KERR_INVALID, "unknown key" },
		{ "empty key", "=1\n", 0, KERR_INVALID, "unknown key \"\"" },
		{ "trailing space", "listen_port=1 \n", 0, KERR_INVALID, "bad value for listen_port" },
		{ "space before value", "listen_port= 1\n", 0, KERR_INVALID, "listen_port" },
		{ "plus sign", "listen_port=+1\n", 0, KERR_INVALID, "listen_port" },
		{ "negative", "listen_port=-1\n", 0, KERR_INVALID, "listen_port" },
		{ "port 65536", "listen_port=65536\n", 0, KERR_INVALID, "listen_port" },
		{ "empty port", "listen_port=\n", 0, KERR_INVALID, "listen_port" },
		{ "huge number", "listen_port=99999999999999999999999999\n", 0, KERR_INVALID, "listen_port" },
		{ "2^64", "fwmark=18446744073709551616\n", 0, KERR_INVALID, "fwmark" },
		{ "fwmark 2^32", "fwmark=4294967296\n", 0, KERR_INVALID, "fwmark" },
		{ "hex fwmark", "fwmark=0x20\n", 0, KERR_INVALID, "fwmark" },
		{ "keepalive 65536", PEER "persistent_keepalive_interval=65536\n", 0, KERR_INVALID, "persistent_keepalive_interval" },
		{ "replace_peers=false", "replace_peers=false\n", 0, KERR_INVALID, "replace_peers" },
		{ "remove=1", PEER "remove=1\n", 0, KERR_INVALID, "remove" },
		{ "update_only=TRUE", PEER "update_only=TRUE\n", 0, KERR_INVALID, "update_only" },
		{ "replace_allowed_ips=", PEER "replace_allowed_ips=\n", 0, KERR_INVALID, "replace_allowed_ips" },
		{ "protocol_version=2", PEER "protocol_version=2\n", 0, KERR_INVALID, "protocol_version" },
		{ "public_key empty", "public_key=\n", 0, KERR_INVALID, "public_key" },
		{ "public_key 65", "public_key=" K64 "a\n", 0, KERR_INVALID, "public_key" },
		{ "public_key upper", "public_key=ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\n", 0, KERR_INVALID, "public_key" },
		{ "public_key bad hex", "public_key=gbababababababababababababababababababababababababababababababab\n", 0, KERR_INVALID, "public_key" },
		{ "preshared 63", PEER "preshared_key=bababababababababababababababababababababababababababababababab\n", 0, KERR_INVALID, "preshared_key" },
		{ "peer key before a peer", "allowed_ip=10.0.0.0/8\n", 0, KERR_INVALID, "outside a peer section" },
		{ "endpoint before a peer", "endpoint=1.2.3.4:5\n", 0, KERR_INVALID, "outside a peer section" },
		{ "remove before a peer", "remove=true\n", 0, KERR_INVALID, "outside a peer section" },
		{ "device key in a peer", PEER "listen_port=1\n", 0, KERR_INVALID, "device key \"listen_port\"" },
		{ "private key in a peer", PEER "private_key=" K64 "\n", 0, KERR_INVALID, "device key" },
		{ "get-only key", PEER "rx_bytes=1\n", 0, KERR_INVALID, "not settable" },
		{ "errno in set", "errno=0\n", 0, KERR_INVALID, "not settable" },
		{ "duplicate listen_port", "listen_port=1\nlisten_port=2\n", 0, KERR_INVALID, "given twice" },
		{ "duplicate private_key", "private_key=" K64 "\nprivate_key=" K64 "\n", 0, KERR_INVALID, "given twice" },
		{ "duplicate replace_peers", "replace_peers=true\nreplace_peers=true\n", 0, KERR_INVALID, "given twice" },
		{ "duplicate endpoint", PEER "endpoint=1.2.3.4:5\nendpoint=1.2.3.4:6\n", 0, KERR_INVALID, "given twice in one peer section" },
		{ "duplicate preshared", PEER "preshared_key=" K64 "\npreshared_key=" K64 "\n", 0, KERR_INVALID, "given twice" },
		{ "duplicate remove", PEER "remove=true\nremove=true\n", 0, KERR_INVALID, "given twice" },
		{ "cidr 33", PEER "allowed_ip=10.0.0.0/33\n", 0, KERR_INVALID, "allowed_ip" },
		{ "cidr 129", PEER "allowed_ip=fd00::/129\n", 0, KERR_INVALID, "allowed_ip" },
		{ "cidr 1000", PEER "allowed_ip=fd00::/1000\n", 0, KERR_INVALID, "allowed_ip" },
		{ "cidr -1", PEER "allowed_ip=10.0.0.0/-1\n", 0, KERR_INVALID, "allowed_ip" },
		{ "cidr 024", PEER "allowed_ip=10.0.0.0/024\n", 0, KERR_INVALID, "allowed_ip" },
		{ "cidr empty", PEER "allowed_ip=10.0.0.0/\n", 0, KERR_INVALID, "allowed_ip" },
		{ "no cidr", PEER "allowed_ip=10.0.0.0\n", 0, KERR_INVALID, "allowed_ip" },
		{ "short v4", PEER "allowed_ip=10.0.0/8\n", 0, KERR_INVALID, "allowed_ip" },
		{ "cidr junk", PEER "allowed_ip=10.0.0.0/8x\n", 0, KERR_INVALID, "allowed_ip" },
		{ "v4 octet 256", PEER "allowed_ip=10.0.0.256/32\n", 0, KERR_INVALID, "allowed_ip" },
		{ "two slashes", PEER "allowed_ip=10.0.0.0/8/8\n", 0, KERR_INVALID, "allowed_ip" },
		{ "empty allowed", PEER "allowed_ip=\n", 0, KERR_INVALID, "allowed_ip" },
		{ "endpoint port 0", PEER "endpoint=1.2.3.4:0\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint port 65536", PEER "endpoint=1.2.3.4:65536\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint no port", PEER "endpoint=1.2.3.4\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint empty port", PEER "endpoint=1.2.3.4:\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint v6 no brackets", PEER "endpoint=::1:80\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint v6 no port", PEER "endpoint=[::1]\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint v6 empty port", PEER "endpoint=[::1]:\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint v6 no ]", PEER "endpoint=[::1:80\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint v4 in []", PEER "endpoint=[1.2.3.4]:80\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint empty scope", PEER "endpoint=[fe80::1%]:80\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint scope 0", PEER "endpoint=[fe80::1%0]:80\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint unknown if", PEER "endpoint=[fe80::1%nosuchif9]:80\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint hostname", PEER "endpoint=example.com:80\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint junk", PEER "endpoint=1.2.3.4:80x\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint empty", PEER "endpoint=\n", 0, KERR_INVALID, "endpoint" },
		{ "endpoint big octet", PEER "endpoint=256.1.1.1:80\n", 0, KERR_INVALID, "endpoint" },
		{ "NUL in value", "listen_port=1\0\n", 15, KERR_FORMAT, "NUL or CR" },
		{ "NUL in key", "listen\0port=1\n", 14, KERR_FORMAT, "NUL or CR" },
		{ "CRLF", "listen_port=1\r\n", 0, KERR_FORMAT, "NUL or CR" },
	};
	char big[4096];
	struct uapi_set s;
	struct kerr e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		int r;

		memset(&e, 0, sizeof(e));
		memset(&s, 0x5a, sizeof(s));
		r = uapi_parse_set(c->text, len, &s, &e);
		if (r != c->code || strstr(e.msg, c->msg) == NULL)
			fail_msg("case '%s': got %d \"%s\", wanted %d \"%s\"", c->name, r,
			    e.msg, c->code, c->msg);
		/* nothing is handed out on error */
		assert_int_equal(s.n_peers, 0);
		assert_null(s.peers);
		assert_false(s.has_private_key);
	}

	/* 63 and 65 characters of private key; the value is never echoed */
	snprintf(big, sizeof(big), "private_key=%.63s\n", K64);
	assert_int_equal(parse(big, &s, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "bad value for private_key"));
	assert_null(strstr(e.msg, "abab"));
	snprintf(big, sizeof(big), "private_key=%sa\n", K64);
	assert_int_equal(parse(big, &s, &e), KERR_INVALID);
	assert_null(strstr(e.msg, "abab"));
	/* a line without '=' is not echoed either (it might be a key) */
	assert_int_equal(parse(K64 "\n", &s, &e), KERR_FORMAT);
	assert_null(strstr(e.msg, "abab"));

	/* overlong line */
	memset(big, 'x', sizeof(big));
	memcpy(big, PEER "allowed_ip=", strlen(PEER "allowed_ip="));
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, &s, &e), KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "line 2: longer than"));
	/* a long key name is cut in the message */
	memset(big, 'k', 1000);
	strcpy(big + 1000, "=1\n");
	assert_int_equal(parse(big, &s, &e), KERR_INVALID);
	assert_true(strlen(e.msg) < 100);

	/* good lines then a bad one at the end: nothing survives */
	assert_int_equal(parse("private_key=" K64 "\nlisten_port=1\n" PEER
	    "allowed_ip=10.0.0.0/8\nendpoint=1.2.3.4:99999\n", &s, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "line 5"));
	assert_int_equal(s.n_peers, 0);
	assert_false(s.has_private_key);
}

/* Over the peer cap; and exactly at it parses (100,000 peers, ~7.6 MB). */
static void
test_parse_caps(void **state)
{
	size_t n = UAPI_MAX_PEERS + 1, line = strlen(PEER);
	char *text = malloc(n * line);
	struct uapi_set s;
	struct kerr e = { "" };

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * line, PEER, line);
	assert_int_equal(uapi_parse_set(text, n * line, &s, &e), KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "more than 100000 peers"));
	assert_int_equal(uapi_parse_set(text, (n - 1) * line, &s, &e), 0);
	assert_int_equal(s.n_peers, UAPI_MAX_PEERS);
	uapi_set_free(&s);
	free(text);
}

/* ---- formatting ---- */

static void
sample_get(struct uapi_get *g)
{
	struct sockaddr_in *s4;
	struct sockaddr_in6 *s6;

	memset(g, 0, sizeof(*g));
	g->has_private_key = true;
	for (int i = 0; i < 32; i++)
		g->private_key[i] = (uint8_t)i;
	g->listen_port = 51820;
	g->fwmark = 32;
	g->n_peers = 2;
	g->peers = calloc(2, sizeof(*g->peers));
	assert_non_null(g->peers);
	key_fill(g->peers[0].public_key, 0xaa);
	g->peers[0].has_endpoint = true;
	s4 = (struct sockaddr_in *)&g->peers[0].endpoint;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(51820);
	inet_pton(AF_INET, "192.0.2.7", &s4->sin_addr);
	g->peers[0].endpoint_len = sizeof(*s4);
	g->peers[0].last_handshake_sec = 1700000000;
	g->peers[0].last_handshake_nsec = 123456789;
	g->peers[0].rx_bytes = 1024;
	g->peers[0].tx_bytes = 18446744073709551615u;
	g->peers[0].persistent_keepalive = 25;
	g->peers[0].n_allowed = 2;
	g->peers[0].allowed = calloc(2, sizeof(struct uapi_allowed_ip));
	assert_non_null(g->peers[0].allowed);
	g->peers[0].allowed[0].family = AF_INET;
	inet_pton(AF_INET, "10.0.0.0", g->peers[0].allowed[0].addr);
	g->peers[0].allowed[0].cidr = 24;
	g->peers[0].allowed[1].family = AF_INET6;
	inet_pton(AF_INET6, "fd00::", g->peers[0].allowed[1].addr);
	g->peers[0].allowed[1].cidr = 64;
	key_fill(g->peers[1].public_key, 0xbb);
	g->peers[1].has_preshared_key = true;
	key_fill(g->peers[1].preshared_key, 0x01);
	g->peers[1].has_endpoint = true;
	s6 = (struct sockaddr_in6 *)&g->peers[1].endpoint;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(443);
	inet_pton(AF_INET6, "2001:db8::1", &s6->sin6_addr);
	g->peers[1].endpoint_len = sizeof(*s6);
}

static const char sample_get_text[] =
    "private_key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
    "listen_port=51820\n"
    "fwmark=32\n"
    "public_key=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
    "protocol_version=1\n"
    "endpoint=192.0.2.7:51820\n"
    "last_handshake_time_sec=1700000000\n"
    "last_handshake_time_nsec=123456789\n"
    "tx_bytes=18446744073709551615\n"
    "rx_bytes=1024\n"
    "persistent_keepalive_interval=25\n"
    "allowed_ip=10.0.0.0/24\n"
    "allowed_ip=fd00::/64\n"
    "public_key=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
    "preshared_key=0101010101010101010101010101010101010101010101010101010101010101\n"
    "protocol_version=1\n"
    "endpoint=[2001:db8::1]:443\n"
    "last_handshake_time_sec=0\n"
    "last_handshake_time_nsec=0\n"
    "tx_bytes=0\n"
    "rx_bytes=0\n"
    "persistent_keepalive_interval=0\n";

static void
test_format_get(void **state)
{
	struct uapi_get g;
	struct buf b;
	struct kerr e = { "" };
	struct sockaddr_in6 *s6;

	(void)state;
	sample_get(&g);
	buf_init_secret(&b, 1 << 16);
	assert_int_equal(uapi_format_get(&g, &b, &e), 0);
	assert_int_equal(b.len, strlen(sample_get_text));
	assert_memory_equal(b.p, sample_get_text, b.len);

	/* zero port and fwmark are left out, as wireguard-go does; a scope */
	g.listen_port = 0;
	g.fwmark = 0;
	g.has_private_key = false;
	s6 = (struct sockaddr_in6 *)&g.peers[1].endpoint;
	s6->sin6_scope_id = if_nametoindex("lo");
	buf_free(&b);
	assert_int_equal(uapi_format_get(&g, &b, &e), 0);
	assert_int_equal(memcmp(b.p, "public_key=aaaa", 15), 0);
	assert_int_equal(buf_put_u8(&b, 0), 0);
	assert_non_null(strstr((const char *)b.p, "endpoint=[2001:db8::1%lo]:443\n"));

	/* bad structures are refused */
	g.peers[0].allowed[0].cidr = 33;
	buf_free(&b);
	assert_int_equal(uapi_format_get(&g, &b, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "peer 0: invalid allowed IP"));
	g.peers[0].allowed[0].cidr = 24;
	g.peers[1].endpoint.ss_family = AF_UNIX;
	buf_free(&b);
	assert_int_equal(uapi_format_get(&g, &b, &e), KERR_INVALID);
	g.peers[1].endpoint.ss_family = AF_INET6;
	g.peers[0].last_handshake_sec = -1;
	buf_free(&b);
	assert_int_equal(uapi_format_get(&g, &b, &e), KERR_INVALID);
	g.peers[0].last_handshake_sec = 0;
	/* the buffer's cap is honoured */
	buf_free(&b);
	buf_init(&b, 100);
	assert_int_equal(uapi_format_get(&g, &b, &e), KERR_TOOBIG);
	buf_free(&b);
	uapi_get_free(&g);
	assert_null(g.peers);
	assert_int_equal(g.n_peers, 0);
}

static void
test_format_set_roundtrip(void **state)
{
	static const char text[] =
	    "private_key=" K64 "\n"
	    "listen_port=1\n"
	    "fwmark=7\n"
	    "replace_peers=true\n"
	    PEER
	    "remove=true\n"
	    PEER
	    "update_only=true\n"
	    "preshared_key=" K64 "\n"
	    "endpoint=[fe80::1%lo]:51820\n"
	    "persistent_keepalive_interval=0\n"
	    "replace_allowed_ips=true\n"
	    "allowed_ip=0.0.0.0/0\n"
	    "allowed_ip=::/0\n"
	    PEER
	    "endpoint=10.0.0.1:9\n";
	struct uapi_set s;
	struct buf b;
	struct kerr e = { "" };

	(void)state;
	assert_int_equal(parse(text, &s, &e), 0);
	buf_init_secret(&b, 1 << 16);
	assert_int_equal(uapi_format_set(&s, &b, &e), 0);
	assert_int_equal(b.len, strlen(text));
	assert_memory_equal(b.p, text, b.len);
	buf_free(&b);
	uapi_set_free(&s);
}

/* ---- the test double device behind uapi_ops ---- */

#define FAKE_MAX_PEERS 2000

struct fake_peer {
	uint8_t key[32];
	bool has_psk;
	uint8_t psk[32];
	bool has_endpoint;
	struct sockaddr_storage endpoint;
	socklen_t endpoint_len;
	uint16_t keepalive;
	size_t n_allowed;
	struct uapi_allowed_ip allowed[64];
};

struct fake_dev {
	pthread_mutex_t lock;
	bool has_private_key;
	uint8_t private_key[32];
	uint16_t listen_port;
	uint32_t fwmark;
	size_t n_peers;
	struct fake_peer *peers;	/* FAKE_MAX_PEERS */
	int set_calls, get_calls;
	int fail_set, fail_get;	/* positive errno to return instead */
};

static void
fake_init(struct fake_dev *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->peers = calloc(FAKE_MAX_PEERS, sizeof(*d->peers));
	assert_non_null(d->peers);
}

static void
fake_free(struct fake_dev *d)
{
	free(d->peers);
	pthread_mutex_destroy(&d->lock);
}

static struct fake_peer *
fake_find(struct fake_dev *d, const uint8_t key[32])
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (memcmp(d->peers[i].key, key, 32) == 0)
			return &d->peers[i];
	return NULL;
}

static void
fake_drop_prefix(struct fake_dev *d, const struct uapi_allowed_ip *a)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		struct fake_peer *p = &d->peers[i];

		for (size_t j = 0; j < p->n_allowed; j++)
			if (p->allowed[j].family == a->family && p->allowed[j].cidr == a->cidr &&
			    memcmp(p->allowed[j].addr, a->addr, 16) == 0) {
				p->allowed[j] = p->allowed[--p->n_allowed];
				j--;
			}
	}
}

static int
fake_set(void *ctx, const struct uapi_set *s)
{
	struct fake_dev *d = ctx;
	int r = 0;

	pthread_mutex_lock(&d->lock);
	d->set_calls++;
	if (d->fail_set) {
		r = d->fail_set;
		goto out;
	}
	if (s->has_private_key) {
		static const uint8_t zero[32];

		d->has_private_key = memcmp(s->private_key, zero, 32) != 0;
		memcpy(d->private_key, s->private_key, 32);
	}
	if (s->has_listen_port)
		d->listen_port = s->listen_port;
	if (s->has_fwmark)
		d->fwmark = s->fwmark;
	if (s->replace_peers)
		d->n_peers = 0;
	for (size_t i = 0; i < s->n_peers; i++) {
		const struct uapi_peer_set *ps = &s->peers[i];
		struct fake_peer *p = fake_find(d, ps->public_key);

		if (ps->remove) {
			if (p != NULL)
				*p = d->peers[--d->n_peers];
			continue;
		}
		if (p == NULL) {
			if (ps->update_only)
				continue;
			if (d->n_peers == FAKE_MAX_PEERS) {
				r = ENOSPC;
				goto out;
			}
			p = &d->peers[d->n_peers++];
			memset(p, 0, sizeof(*p));
			memcpy(p->key, ps->public_key, 32);
		}
		if (ps->has_preshared_key) {
			static const uint8_t zero[32];

			p->has_psk = memcmp(ps->preshared_key, zero, 32) != 0;
			memcpy(p->psk, ps->preshared_key, 32);
		}
		if (ps->has_endpoint) {
			p->has_endpoint = true;
			p->endpoint = ps->endpoint;
			p->endpoint_len = ps->endpoint_len;
		}
		if (ps->has_keepalive)
			p->keepalive = ps->persistent_keepalive;
		if (ps->replace_allowed_ips)
			p->n_allowed = 0;
		for (size_t j = 0; j < ps->n_allowed; j++) {
			fake_drop_prefix(d, &ps->allowed[j]);
			if (p->n_allowed == 64) {
				r = ENOSPC;
				goto out;
			}
			p->allowed[p->n_allowed++] = ps->allowed[j];
		}
	}
out:
	pthread_mutex_unlock(&d->lock);
	return r;
}

static int
fake_get(void *ctx, struct uapi_get *g)
{
	struct fake_dev *d = ctx;
	int r = 0;

	pthread_mutex_lock(&d->lock);
	d->get_calls++;
	if (d->fail_get) {
		r = d->fail_get;
		goto out;
	}
	g->has_private_key = d->has_private_key;
	memcpy(g->private_key, d->private_key, 32);
	g->listen_port = d->listen_port;
	g->fwmark = d->fwmark;
	if (d->n_peers > 0 && (g->peers = calloc(d->n_peers, sizeof(*g->peers))) == NULL) {
		r = ENOMEM;
		goto out;
	}
	g->n_peers = d->n_peers;
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct fake_peer *p = &d->peers[i];
		struct uapi_peer_get *o = &g->peers[i];

		memcpy(o->public_key, p->key, 32);
		o->has_preshared_key = p->has_psk;
		memcpy(o->preshared_key, p->psk, 32);
		o->has_endpoint = p->has_endpoint;
		o->endpoint = p->endpoint;
		o->endpoint_len = p->endpoint_len;
		o->persistent_keepalive = p->keepalive;
		o->rx_bytes = 1000 * (i + 1);
		o->tx_bytes = 2000 * (i + 1);
		if (i == 0) {
			o->last_handshake_sec = 1700000000;
			o->last_handshake_nsec = 5;
		}
		if (p->n_allowed > 0) {
			o->allowed = calloc(p->n_allowed, sizeof(*o->allowed));
			if (o->allowed == NULL) {
				r = ENOMEM;
				goto out;
			}
			memcpy(o->allowed, p->allowed, p->n_allowed * sizeof(*o->allowed));
			o->n_allowed = p->n_allowed;
		}
	}
out:
	pthread_mutex_unlock(&d->lock);
	return r;
}

static const struct uapi_ops fake_ops = { .get = fake_get, .set = fake_set };

/* ---- uapi_serve over a socketpair ---- */

struct server {
	pthread_t th;
	int fd;
	int ret;
	struct fake_dev *dev;
};

static void *
server_main(void *arg)
{
	struct server *sv = arg;

	sv->ret = uapi_serve(sv->fd, &fake_ops, sv->dev);
	shutdown(sv->fd, SHUT_RDWR);	/* as the device closes it: the client sees EOF */
	return NULL;
}

/* A connected client fd, with uapi_serve on the other end in a thread. */
static int
server_start(struct server *sv, struct fake_dev *dev)
{
	int p[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	sv->fd = p[1];
	sv->dev = dev;
	sv->ret = 99;
	assert_int_equal(pthread_create(&sv->th, NULL, server_main, sv), 0);
	return p[0];
}

/* Close the client end; the server's return value. */
static int
server_stop(struct server *sv, int cfd)
{
	close(cfd);
	pthread_join(sv->th, NULL);
	close(sv->fd);
	return sv->ret;
}

static void
send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Read one reply (up to and including "\n\n") into a malloc'ed string. */
static char *
read_reply(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap);

	assert_non_null(b);
	for (;;) {
		ssize_t n;

		if (len >= 2 && b[len - 1] == '\n' && b[len - 2] == '\n')
			break;
		if (len + 1 >= cap) {
			cap *= 2;
			b = realloc(b, cap);
			assert_non_null(b);
		}
		n = read(fd, b + len, 1);	/* byte by byte: never past the reply */
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	b[len] = '\0';
	return b;
}

static char *
transact(int fd, const char *req)
{
	send_all(fd, req, strlen(req));
	return read_reply(fd);
}

static void
test_serve_roundtrip(void **state)
{
	struct fake_dev dev;
	struct server sv;
	char *rep;
	int c;

	(void)state;
	fake_init(&dev);
	c = server_start(&sv, &dev);

	rep = transact(c, "get=1\n\n");
	assert_string_equal(rep, "errno=0\n\n");
	free(rep);

	rep = transact(c, "set=1\nprivate_key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
	    "listen_port=51820\nfwmark=32\n"
	    "public_key=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	    "endpoint=192.0.2.7:51820\npersistent_keepalive_interval=25\n"
	    "allowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n"
	    "public_key=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
	    "preshared_key=0101010101010101010101010101010101010101010101010101010101010101\n"
	    "endpoint=[2001:db8::1]:443\n\n");
	assert_string_equal(rep, "errno=0\n\n");
	free(rep);
	assert_int_equal(dev.set_calls, 1);

	/* get shows it back: the sample text with the fake's counters */
	rep = transact(c, "get=1\n\n");
	assert_non_null(strstr(rep, "private_key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
	    "listen_port=51820\nfwmark=32\n"
	    "public_key=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	    "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
	    "protocol_version=1\nendpoint=192.0.2.7:51820\n"
	    "last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\n"
	    "tx_bytes=2000\nrx_bytes=1000\npersistent_keepalive_interval=25\n"
	    "allowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n"
	    "public_key=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
	    "preshared_key=0101010101010101010101010101010101010101010101010101010101010101\n"
	    "protocol_version=1\nendpoint=[2001:db8::1]:443\n"));
	assert_non_null(strstr(rep, "persistent_keepalive_interval=0\nerrno=0\n\n"));
	assert_int_equal(strlen(strstr(rep, "errno=")), strlen("errno=0\n\n"));
	free(rep);

	/* update_only for an unknown peer adds nothing; remove removes */
	rep = transact(c, "set=1\npublic_key=cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\n"
	    "update_only=true\nallowed_ip=10.1.0.0/16\n"
	    "public_key=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nremove=true\n\n");
	assert_string_equal(rep, "errno=0\n\n");
	free(rep);
	assert_int_equal(dev.n_peers, 1);
	assert_int_equal(dev.peers[0].key[0], 0xbb);

	/* two requests in one write are two replies */
	send_all(c, "get=1\n\nset=1\nfwmark=0\n\n", 23);
	rep = read_reply(c);
	assert_non_null(strstr(rep, "fwmark=32\n"));
	free(rep);
	rep = read_reply(c);
	assert_string_equal(rep, "errno=0\n\n");
	free(rep);
	assert_int_equal(dev.fwmark, 0);

	assert_int_equal(server_stop(&sv, c), 0);
	fake_free(&dev);
}

static void
test_serve_errors(void **state)
{
	struct fake_dev dev;
	struct server sv;
	char *rep;
	int c, calls;

	(void)state;
	fake_init(&dev);
	c = server_start(&sv, &dev);

	/* the device's error, negated as wireguard-go does for set */
	dev.fail_set = EADDRINUSE;
	rep = transact(c, "set=1\nlisten_port=53\n\n");
	assert_string_equal(rep, "errno=-98\n\n");
	free(rep);
	dev.fail_set = 0;
	/* a get error is sent unsigned: wg(8) accepts only digits there */
	dev.fail_get = EACCES;
	rep = transact(c, "get=1\n\n");
	assert_string_equal(rep, "errno=13\n\n");
	free(rep);
	dev.fail_get = 0;

	/* a bad set calls ops->set zero times and the connection goes on */
	calls = dev.set_calls;
	rep = transact(c, "set=1\nlisten_port=1\npublic_key=" K64 "\nallowed_ip=10.0.0.0/33\n\n");
	assert_string_equal(rep, "errno=-22\n\n");
	free(rep);
	rep = transact(c, "set=1\nlisten_port\n\n");
	assert_string_equal(rep, "errno=-71\n\n");
	free(rep);
	rep = transact(c, "set=1\nbogus=1\n\n");
	assert_string_equal(rep, "errno=-22\n\n");
	free(rep);
	rep = transact(c, "set=1\nallowed_ip=10.0.0.0/8\n\n");
	assert_string_equal(rep, "errno=-22\n\n");
	free(rep);
	assert_int_equal(dev.set_calls, calls);
	assert_int_equal(dev.listen_port, 0);
	rep = transact(c, "set=1\nlisten_port=7\n\n");
	assert_string_equal(rep, "errno=0\n\n");
	free(rep);
	assert_int_equal(dev.set_calls, calls + 1);
	assert_int_equal(dev.listen_port, 7);
	assert_int_equal(server_stop(&sv, c), 0);

	/* an unknown operation closes the connection without a reply */
	c = server_start(&sv, &dev);
	rep = transact(c, "del=1\n\n");
	assert_string_equal(rep, "");
	free(rep);
	assert_int_equal(server_stop(&sv, c), -1);

	/* get=1 must be followed by an empty line */
	c = server_start(&sv, &dev);
	rep = transact(c, "get=1\nlisten_port=1\n\n");
	assert_string_equal(rep, "errno=71\n\n");
	free(rep);
	assert_int_equal(server_stop(&sv, c), -1);

	/* an overlong line: E2BIG, then the connection is closed */
	{
		char line[3000];

		c = server_start(&sv, &dev);
		memset(line, 'x', sizeof(line));
		memcpy(line, "set=1\nbogus=", 12);
		line[sizeof(line) - 1] = '\0';
		send_all(c, line, strlen(line));
		rep = read_reply(c);
		assert_string_equal(rep, "errno=-7\n\n");
		free(rep);
		assert_int_equal(server_stop(&sv, c), -1);
	}

	/* EOF inside a set request: no call, -1 */
	calls = dev.set_calls;
	c = server_start(&sv, &dev);
	send_all(c, "set=1\nlisten_port=9\n", 20);
	assert_int_equal(server_stop(&sv, c), -1);
	assert_int_equal(dev.set_calls, calls);
	/* EOF inside the operation line */
	c = server_start(&sv, &dev);
	send_all(c, "get=", 4);
	assert_int_equal(server_stop(&sv, c), -1);
	/* immediate EOF is clean */
	c = server_start(&sv, &dev);
	assert_int_equal(server_stop(&sv, c), 0);
	assert_int_equal(dev.listen_port, 7);
	fake_free(&dev);
}

/* `wg setconf` of 300 peers with 4 allowed IPs each, in one request. */
static void
test_serve_many_peers(void **state)
{
	struct fake_dev dev;
	struct server sv;
	struct buf req;
	char line[128], *rep;
	size_t peers = 0;
	int c;

	(void)state;
	fake_init(&dev);
	buf_init(&req, 1 << 20);
	assert_int_equal(buf_put(&req, "set=1\nreplace_peers=true\n", 25), 0);
	for (int i = 0; i < 300; i++) {
		int n = snprintf(line, sizeof(line), "public_key=%064x\nreplace_allowed_ips=true\n", i + 1);

		assert_int_equal(buf_put(&req, line, (size_t)n), 0);
		for (int j = 0; j < 4; j++) {
			if (j < 3)
				n = snprintf(line, sizeof(line), "allowed_ip=10.%d.%d.%d/32\n",
				    i / 256, i % 256, j);
			else
				n = snprintf(line, sizeof(line), "allowed_ip=fd00:%x:%x::/48\n", i, j);
			assert_int_equal(buf_put(&req, line, (size_t)n), 0);
		}
	}
	assert_int_equal(buf_put(&req, "\n", 1), 0);
	c = server_start(&sv, &dev);
	send_all(c, (const char *)req.p, req.len);
	rep = read_reply(c);
	assert_string_equal(rep, "errno=0\n\n");
	free(rep);
	assert_int_equal(dev.n_peers, 300);
	rep = transact(c, "get=1\n\n");
	for (char *p = rep; (p = strstr(p, "public_key=")) != NULL; p++)
		peers++;
	assert_int_equal(peers, 300);
	assert_non_null(strstr(rep, "allowed_ip=10.1.43.2/32\n"));
	assert_non_null(strstr(rep, "allowed_ip=fd00:12b:3::/48\n"));
	free(rep);
	assert_int_equal(server_stop(&sv, c), 0);
	buf_free(&req);
	fake_free(&dev);
}

/* ---- uapi_listen ---- */

static void
test_listen(void **state)
{
	char dir[] = "/tmp/koden-uapi.XXXXXX", path[512], sub[300];
	struct kerr e = { "" };
	struct stat st;
	int fd, fd2;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/wireguard", dir);
	fd = uapi_listen(sub, "kt0", &e);
	if (fd < 0)
		fail_msg("uapi_listen: %s", e.msg);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	snprintf(path, sizeof(path), "%s/kt0.sock", sub);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	/* someone listening: refused, and the socket is left alone */
	assert_int_equal(uapi_listen(sub, "kt0", &e), -1);
	assert_non_null(strstr(e.msg, "another process is listening"));
	assert_int_equal(lstat(path, &st), 0);

	/* stale (closed without unlink): replaced */
	close(fd);
	fd2 = uapi_listen(sub, "kt0", &e);
	if (fd2 < 0)
		fail_msg("uapi_listen over a stale socket: %s", e.msg);
	close(fd2);
	uapi_unlink(sub, "kt0");
	assert_int_equal(lstat(path, &st), -1);

	/* not a socket: refused, and not removed */
	snprintf(path, sizeof(path), "%s/kt1.sock", sub);
	fclose(fopen(path, "w"));
	assert_int_equal(uapi_listen(sub, "kt1", &e), -1);
	assert_non_null(strstr(e.msg, "not a socket"));
	assert_int_equal(lstat(path, &st), 0);
	unlink(path);

	/* bad names */
	assert_int_equal(uapi_listen(sub, "", &e), -1);
	assert_int_equal(uapi_listen(sub, "..", &e), -1);
	assert_int_equal(uapi_listen(sub, "a/b", &e), -1);
	assert_int_equal(uapi_listen(sub, "a b", &e), -1);
	assert_int_equal(uapi_listen(sub, "sixteen-chars-xx", &e), -1);
	assert_non_null(strstr(e.msg, "invalid interface name"));
	rmdir(sub);
	rmdir(dir);
}

/* ---- uapi_accept_loop: the connection cap, and no spinning on EMFILE ---- */

/*
 * A child process running uapi_accept_loop on lfd with the test double,
 * its log (stderr) in logpath.  nofile > 0: only that many descriptors
 * free for connections (RLIMIT_NOFILE), so that accept fails with EMFILE.
 */
static pid_t accept_pid;	/* the child, killed by accept_teardown */

static pid_t
accept_child(int lfd, const char *logpath, int nofile)
{
	static struct fake_dev dev;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid != 0)
		return accept_pid = pid;
	int lf = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	/* dies with the test, whatever the test did */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
		_exit(2);
	if (lf < 0 || dup2(lf, 2) < 0 || dup2(lfd, 3) < 0)
		_exit(2);
	for (int fd = 4; fd < 1024; fd++)
		close(fd);
	if (nofile > 0) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(2);
		rl.rlim_cur = (rlim_t)(4 + nofile);	/* fds 4.. are free */
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(2);
	}
	fake_init(&dev);
	(void)uapi_accept_loop(3, &fake_ops, &dev);
	_exit(1);
}

static void
accept_child_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	accept_pid = 0;
}

/* After an accept test, also a failed one: no child left behind. */
static int
accept_teardown(void **state)
{
	(void)state;
	if (accept_pid > 0) {
		kill(accept_pid, SIGKILL);
		(void)waitpid(accept_pid, NULL, 0);
		accept_pid = 0;
	}
	return 0;
}

static int
uapi_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Something to read on fd within ms milliseconds. */
static bool
readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* A get request on fd is answered, the fake device being empty. */
static void
get_answered(int fd)
{
	char *rep = transact(fd, "get=1\n\n");

	assert_string_equal(rep, "errno=0\n\n");
	free(rep);
}

/* utime + stime of process pid, all threads, in clock ticks. */
static long
cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	long utime = -1, stime = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')');	/* after the command name */
	assert_non_null(p);
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	assert_int_equal(sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %ld %ld", &utime, &stime), 2);
	return utime + stime;
}

static bool
file_has(const char *path, const char *needle)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void
test_accept_cap(void **state)
{
	char dir[] = "/tmp/koden-uapi.XXXXXX", path[512], logp[512];
	struct kerr e = { "" };
	int lfd, held[UAPI_CONNS_MAX], extra;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kc0.sock", dir);
	snprintf(logp, sizeof(logp), "%s/log", dir);
	lfd = uapi_listen(dir, "kc0", &e);
	if (lfd < 0)
		fail_msg("uapi_listen: %s", e.msg);
	pid = accept_child(lfd, logp, 0);
	close(lfd);

	/* UAPI_CONNS_MAX connections, each served, all held open */
	for (int i = 0; i < UAPI_CONNS_MAX; i++) {
		held[i] = uapi_connect(path);
		get_answered(held[i]);
	}
	/* one more gets in line (the backlog), unanswered while at the cap */
	extra = uapi_connect(path);
	send_all(extra, "get=1\n\n", 7);
	assert_false(readable(extra, 500));
	/* one connection goes: the waiting one is served */
	close(held[0]);
	assert_true(readable(extra, 10000));
	{
		char *rep = read_reply(extra);

		assert_string_equal(rep, "errno=0\n\n");
		free(rep);
	}
	/* and when they all go, `wg show` still answers */
	for (int i = 1; i < UAPI_CONNS_MAX; i++)
		close(held[i]);
	close(extra);
	extra = uapi_connect(path);
	get_answered(extra);
	close(extra);
	accept_child_stop(pid);
	assert_true(file_has(logp, "connections open, the most served at once "
	    "(UAPI_CONNS_MAX)"));
	unlink(logp);
	uapi_unlink(dir, "kc0");
	rmdir(dir);
}

static void
test_accept_emfile(void **state)
{
	char dir[] = "/tmp/koden-uapi.XXXXXX", path[512], logp[512];
	struct kerr e = { "" };
	struct timespec second = { 1, 0 };
	int lfd, a, b, waiting[3];
	long before, used;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ke0.sock", dir);
	snprintf(logp, sizeof(logp), "%s/log", dir);
	lfd = uapi_listen(dir, "ke0", &e);
	if (lfd < 0)
		fail_msg("uapi_listen: %s", e.msg);
	pid = accept_child(lfd, logp, 2);	/* room for two connections */
	close(lfd);

	a = uapi_connect(path);
	get_answered(a);
	b = uapi_connect(path);
	get_answered(b);
	/* three more: accept fails with EMFILE while a and b hold the fds */
	for (int i = 0; i < 3; i++) {
		waiting[i] = uapi_connect(path);
		send_all(waiting[i], "get=1\n\n", 7);
	}
	assert_false(readable(waiting[0], 300));
	/* a loop that retried at once would burn a whole CPU second here */
	before = cpu_ticks(pid);
	while (nanosleep(&second, &second) != 0)
		;
	used = cpu_ticks(pid) - before;
	print_message("accept loop at EMFILE: %ld of %ld clock ticks in 1 s\n",
	    used, sysconf(_SC_CLK_TCK));
	assert_true(used * 10 < sysconf(_SC_CLK_TCK));	/* under 0.1 s */
	/* descriptors free again: the waiting ones are served, in turn */
	close(a);
	close(b);
	for (int i = 0; i < 3; i++) {
		char *rep;

		assert_true(readable(waiting[i], 10000));
		rep = read_reply(waiting[i]);
		assert_string_equal(rep, "errno=0\n\n");
		free(rep);
		close(waiting[i]);
	}
	accept_child_stop(pid);
	assert_true(file_has(logp, "uapi accept: Too many open files: trying "
	    "again every"));
	unlink(logp);
	uapi_unlink(dir, "ke0");
	rmdir(dir);
}

/* ---- the real wg(8) against uapi_serve ---- */

struct wg_server {
	pthread_t th;
	int lfd;
	struct fake_dev dev;
	volatile int stop;
};

static void *
wg_server_main(void *arg)
{
	struct wg_server *w = arg;

	while (!w->stop) {
		int c = accept(w->lfd, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		(void)uapi_serve(c, &fake_ops, &w->dev);
		close(c);
	}
	return NULL;
}

/* Run a shell command; its stdout+stderr into out; exit status. */
static int
run(char *out, size_t outsz, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	FILE *f;
	size_t n;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, outsz - 1, f);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The first line of out (a key), without its newline, into dst. */
static void
keep_line(char *dst, size_t dstsz, const char *out)
{
	size_t n = strcspn(out, "\n");

	assert_true(n < dstsz);
	memcpy(dst, out, n);
	dst[n] = '\0';
}

static void
test_wg_tool(void **state)
{
	static char out[1 << 20];
	char tmp[] = "/tmp/koden-uapi-wg.XXXXXX", ifname[16], priv[64], pub[64],
	    psk[64], p1[64], p2[64], want[1024];
	struct wg_server *w;
	struct kerr e = { "" };
	FILE *f;
	int lines;

	(void)state;
	if (geteuid() != 0 || run(out, sizeof(out), "command -v wg") != 0) {
		print_message("wg(8) not installed or not root: skipped "
		    "(apt-get install wireguard-tools)\n");
		skip();
	}
	w = calloc(1, sizeof(*w));
	assert_non_null(w);
	fake_init(&w->dev);
	snprintf(ifname, sizeof(ifname), "kuapi%d", (int)getpid() % 100000);
	w->lfd = uapi_listen(NULL, ifname, &e);
	if (w->lfd < 0)
		fail_msg("uapi_listen %s: %s", ifname, e.msg);
	assert_int_equal(pthread_create(&w->th, NULL, wg_server_main, w), 0);
	assert_non_null(mkdtemp(tmp));

	/* keys made by wg itself */
	assert_int_equal(run(out, sizeof(out), "umask 077; wg genkey > %s/priv && "
	    "wg genpsk > %s/psk && wg pubkey < %s/priv", tmp, tmp, tmp), 0);
	keep_line(pub, sizeof(pub), out);
	assert_int_equal(run(out, sizeof(out), "cat %s/priv", tmp), 0);
	keep_line(priv, sizeof(priv), out);
	assert_int_equal(run(out, sizeof(out), "cat %s/psk", tmp), 0);
	keep_line(psk, sizeof(psk), out);
	assert_int_equal(run(out, sizeof(out), "wg genkey | wg pubkey"), 0);
	keep_line(p1, sizeof(p1), out);
	assert_int_equal(run(out, sizeof(out), "wg genkey | wg pubkey"), 0);
	keep_line(p2, sizeof(p2), out);

	assert_int_equal(run(out, sizeof(out), "wg show interfaces"), 0);
	assert_non_null(strstr(out, ifname));

	if (run(out, sizeof(out), "wg set %s private-key %s/priv listen-port 51820 fwmark 0x20 "
	    "peer %s preshared-key %s/psk endpoint 192.0.2.1:51820 persistent-keepalive 25 "
	    "allowed-ips 10.0.0.0/24,fd00::/64 "
	    "peer %s endpoint [2001:db8::1]:443 allowed-ips 10.0.1.1/32",
	    ifname, tmp, p1, tmp, p2) != 0)
		fail_msg("wg set: %s", out);
	assert_int_equal(w->dev.set_calls, 1);

	/* dump: interface line, then one line per peer (fake: rx 1000*i, tx 2000*i) */
	assert_int_equal(run(out, sizeof(out), "wg show %s dump", ifname), 0);
	snprintf(want, sizeof(want), "%s\t%s\t51820\t0x20\n"
	    "%s\t%s\t192.0.2.1:51820\t10.0.0.0/24,fd00::/64\t1700000000\t1000\t2000\t25\n"
	    "%s\t(none)\t[2001:db8::1]:443\t10.0.1.1/32\t0\t2000\t4000\toff\n",
	    priv, pub, p1, psk, p2);
	assert_string_equal(out, want);

	assert_int_equal(run(out, sizeof(out), "wg showconf %s", ifname), 0);
	snprintf(want, sizeof(want), "[Interface]\nListenPort = 51820\nFwMark = 0x20\n"
	    "PrivateKey = %s\n\n[Peer]\nPublicKey = %s\nPresharedKey = %s\n"
	    "AllowedIPs = 10.0.0.0/24, fd00::/64\nEndpoint = 192.0.2.1:51820\n"
	    "PersistentKeepalive = 25\n\n[Peer]\nPublicKey = %s\n"
	    "AllowedIPs = 10.0.1.1/32\nEndpoint = [2001:db8::1]:443\n",
	    priv, p1, psk, p2);
	assert_string_equal(out, want);

	/* the device's errno reaches the user through wg's strerror */
	w->dev.fail_set = EADDRINUSE;
	assert_int_not_equal(run(out, sizeof(out), "wg set %s listen-port 53", ifname), 0);
	assert_non_null(strstr(out, "Address already in use"));
	w->dev.fail_set = 0;
	w->dev.fail_get = EACCES;
	assert_int_not_equal(run(out, sizeof(out), "wg show %s", ifname), 0);
	assert_non_null(strstr(out, "Permission denied"));
	w->dev.fail_get = 0;

	/* remove a peer */
	assert_int_equal(run(out, sizeof(out), "wg set %s peer %s remove", ifname, p1), 0);
	assert_int_equal(run(out, sizeof(out), "wg show %s peers", ifname), 0);
	snprintf(want, sizeof(want), "%s\n", p2);
	assert_string_equal(out, want);

	/* setconf with 250 peers of 4 allowed IPs replaces everything */
	snprintf(want, sizeof(want), "%s/big.conf", tmp);
	f = fopen(want, "w");
	assert_non_null(f);
	fprintf(f, "[Interface]\nPrivateKey = %s\nListenPort = 51821\n", priv);
	fclose(f);
	assert_int_equal(run(out, sizeof(out), "for i in $(seq 0 249); do "
	    "printf '[Peer]\\nPublicKey = %%s\\nAllowedIPs = 10.%%d.%%d.0/24, 10.%%d.%%d.1/32, "
	    "fd00:%%x::/64, fd01:%%x::1/128\\n' \"$(wg genkey | wg pubkey)\" "
	    "$((i / 200)) $((i %% 200)) $((100 + i / 200)) $((i %% 200)) $i $i; done >> %s",
	    want), 0);
	if (run(out, sizeof(out), "wg setconf %s %s", ifname, want) != 0)
		fail_msg("wg setconf: %s", out);
	assert_int_equal(run(out, sizeof(out), "wg show %s dump", ifname), 0);
	lines = 0;
	for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_int_equal(lines, 1 + 250);
	assert_non_null(strstr(out, "\t51821\toff\n"));
	assert_non_null(strstr(out, "\t10.1.49.0/24,10.101.49.1/32,fd00:f9::/64,fd01:f9::1/128\t"));
	assert_int_equal(w->dev.n_peers, 250);

	w->stop = 1;
	shutdown(w->lfd, SHUT_RDWR);
	pthread_join(w->th, NULL);
	close(w->lfd);
	uapi_unlink(NULL, ifname);
	run(out, sizeof(out), "rm -rf %s", tmp);
	fake_free(&w->dev);
	free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_all_keys),
		cmocka_unit_test(test_parse_values),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_parse_caps),
		cmocka_unit_test(test_format_get),
		cmocka_unit_test(test_format_set_roundtrip),
		cmocka_unit_test(test_serve_roundtrip),
		cmocka_unit_test(test_serve_errors),
		cmocka_unit_test(test_serve_many_peers),
		cmocka_unit_test(test_listen),
		cmocka_unit_test_teardown(test_accept_cap, accept_teardown),
		cmocka_unit_test_teardown(test_accept_emfile, accept_teardown),
		cmocka_unit_test(test_wg_tool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
