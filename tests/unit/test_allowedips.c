/*
 * Allowed IPs: hand cases for each rule, then a naive reference (a plain
 * array searched linearly for the longest match, the "horrible" lookup of
 * STYLE.md 9) compared with the trie on random route tables, with inserts,
 * removes and peer removals interleaved with lookups.
 *
 * Random cases come from one master seed, printed at start; set KODEN_SEED to
 * rerun a run, or KODEN_CASE_SEED to rerun one failing case alone (a failure
 * prints both).  Run under ASan (make check) to see every node freed.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vpn/allowedips.h"

/* Random cases (tuned for ~2.5 s at -O2, ~7 s under ASan, on a slow machine). */
#define RAND_CASES 450
#define RAND_TABLE_MAX 5000
#define NPEERS 250

/* Stand-in peers: only their addresses matter. */
static char peers[NPEERS + 1];
#define P(i) ((void *)&peers[i])

static uint64_t master_seed;

/* ---- helpers ---- */

static const uint8_t *
a4(const char *s)
{
	static uint8_t buf[8][4];
	static int next;
	uint8_t *b = buf[next++ % 8];

	assert_int_equal(inet_pton(AF_INET, s, b), 1);
	return b;
}

static const uint8_t *
a6(const char *s)
{
	static uint8_t buf[8][16];
	static int next;
	uint8_t *b = buf[next++ % 8];

	assert_int_equal(inet_pton(AF_INET6, s, b), 1);
	return b;
}

static void
ins4(struct allowedips *t, const char *s, uint8_t cidr, void *peer)
{
	assert_int_equal(allowedips_insert(t, 4, a4(s), cidr, peer), 0);
}

static void
ins6(struct allowedips *t, const char *s, uint8_t cidr, void *peer)
{
	assert_int_equal(allowedips_insert(t, 6, a6(s), cidr, peer), 0);
}

static void *
look4(const struct allowedips *t, const char *s)
{
	return allowedips_lookup(t, 4, a4(s));
}

static void *
look6(const struct allowedips *t, const char *s)
{
	return allowedips_lookup(t, 6, a6(s));
}

static struct allowedips *
table_new(void)
{
	struct allowedips *t = NULL;

	assert_int_equal(allowedips_new(&t), 0);
	assert_non_null(t);
	return t;
}

/* Check invariants; return the node count. */
static size_t
checked_nodes(const struct allowedips *t)
{
	size_t nodes = 1234;

	assert_int_equal(allowedips_check(t, &nodes), 0);
	return nodes;
}

/* A walk collected as text, "1.2.0.0/16 fd00::/8 ", for exact comparison. */
struct textwalk {
	char s[4096];
	size_t len;
	int stop_after;		/* return 7 from this call on (1-based), 0 never */
	int calls;
};

static int
textwalk_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct textwalk *w = ctx;
	char a[INET6_ADDRSTRLEN];

	assert_non_null(inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, a,
	    sizeof(a)));
	w->len += (size_t)snprintf(w->s + w->len, sizeof(w->s) - w->len,
	    "%s/%u ", a, cidr);
	assert_true(w->len < sizeof(w->s));
	w->calls++;
	return w->stop_after != 0 && w->calls >= w->stop_after ? 7 : 0;
}

static const char *
walk_text(const struct allowedips *t, void *peer)
{
	static struct textwalk w;

	memset(&w, 0, sizeof(w));
	assert_int_equal(allowedips_walk_peer(t, peer, textwalk_fn, &w), 0);
	return w.s;
}

/* ---- hand cases ---- */

static void
test_empty(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	assert_int_equal(allowedips_count(t), 0);
	assert_null(look4(t, "0.0.0.0"));
	assert_null(look4(t, "255.255.255.255"));
	assert_null(look6(t, "::"));
	assert_int_equal(allowedips_remove(t, 4, a4("10.0.0.0"), 8), KERR_INVALID);
	assert_int_equal(allowedips_remove(t, 6, a6("::"), 0), KERR_INVALID);
	allowedips_remove_peer(t, P(1));
	assert_string_equal(walk_text(t, P(1)), "");
	assert_int_equal(checked_nodes(t), 0);
	allowedips_free(t);
	allowedips_free(NULL);
}

static void
test_default_routes(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	ins4(t, "0.0.0.0", 0, P(1));
	assert_ptr_equal(look4(t, "0.0.0.0"), P(1));
	assert_ptr_equal(look4(t, "255.255.255.255"), P(1));
	assert_ptr_equal(look4(t, "10.1.2.3"), P(1));
	assert_null(look6(t, "::"));
	assert_null(look6(t, "2001:db8::1"));

	ins6(t, "::", 0, P(2));
	assert_ptr_equal(look6(t, "::"), P(2));
	assert_ptr_equal(look6(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), P(2));
	assert_ptr_equal(look4(t, "128.0.0.0"), P(1));
	assert_int_equal(allowedips_count(t), 2);

	/* A more specific route beats the default; the default still covers
	 * the rest. */
	ins4(t, "192.168.0.0", 16, P(3));
	assert_ptr_equal(look4(t, "192.168.44.1"), P(3));
	assert_ptr_equal(look4(t, "192.169.0.0"), P(1));

	/* Replacing the default moves it. */
	ins4(t, "0.0.0.0", 0, P(4));
	assert_ptr_equal(look4(t, "8.8.8.8"), P(4));
	assert_ptr_equal(look4(t, "192.168.0.1"), P(3));
	assert_int_equal(allowedips_count(t), 3);
	assert_string_equal(walk_text(t, P(1)), "");
	assert_string_equal(walk_text(t, P(4)), "0.0.0.0/0 ");

	assert_int_equal(allowedips_remove(t, 4, a4("0.0.0.0"), 0), 0);
	assert_null(look4(t, "8.8.8.8"));
	assert_ptr_equal(look4(t, "192.168.0.1"), P(3));
	assert_ptr_equal(look6(t, "1::"), P(2));
	checked_nodes(t);
	allowedips_free(t);
}

static void
test_hosts(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	ins4(t, "10.0.0.1", 32, P(1));
	ins4(t, "0.0.0.0", 32, P(2));
	ins4(t, "255.255.255.255", 32, P(3));
	ins6(t, "fd00::1", 128, P(4));
	ins6(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, P(5));
	ins6(t, "::", 128, P(6));

	assert_ptr_equal(look4(t, "10.0.0.1"), P(1));
	assert_null(look4(t, "10.0.0.0"));
	assert_null(look4(t, "10.0.0.2"));
	assert_null(look4(t, "10.0.0.129"));
	assert_null(look4(t, "138.0.0.1"));
	assert_ptr_equal(look4(t, "0.0.0.0"), P(2));
	assert_null(look4(t, "0.0.0.1"));
	assert_ptr_equal(look4(t, "255.255.255.255"), P(3));
	assert_null(look4(t, "255.255.255.254"));
	assert_null(look4(t, "127.255.255.255"));

	assert_ptr_equal(look6(t, "fd00::1"), P(4));
	assert_null(look6(t, "fd00::"));
	assert_null(look6(t, "fd00::3"));
	assert_null(look6(t, "fd00:0:0:1::1"));
	assert_ptr_equal(look6(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), P(5));
	assert_null(look6(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
	assert_ptr_equal(look6(t, "::"), P(6));
	assert_null(look6(t, "::1"));
	assert_null(look6(t, "8000::"));

	/* A host next to a host: they share 31 bits. */
	ins4(t, "10.0.0.0", 32, P(7));
	assert_ptr_equal(look4(t, "10.0.0.0"), P(7));
	assert_ptr_equal(look4(t, "10.0.0.1"), P(1));
	assert_int_equal(allowedips_count(t), 7);
	checked_nodes(t);
	allowedips_free(t);
}

static void
test_overlapping(void **state)
{
	static const char *order[][4] = {
		{ "8", "16", "24", "32" },
		{ "32", "24", "16", "8" },
		{ "16", "32", "8", "24" },
	};

	(void)state;
	for (size_t o = 0; o < 3; o++) {
		struct allowedips *t = table_new();

		for (int i = 0; i < 4; i++) {
			int c = atoi(order[o][i]);
			void *p = P(c / 8);

			ins4(t, "10.1.2.3", (uint8_t)c, p);
		}
		assert_ptr_equal(look4(t, "10.1.2.3"), P(4));
		assert_ptr_equal(look4(t, "10.1.2.4"), P(3));
		assert_ptr_equal(look4(t, "10.1.3.3"), P(2));
		assert_ptr_equal(look4(t, "10.2.2.3"), P(1));
		assert_null(look4(t, "11.1.2.3"));
		assert_null(look4(t, "9.255.255.255"));
		assert_int_equal(allowedips_count(t), 4);
		/* A chain of containing prefixes needs no branch node. */
		assert_int_equal(checked_nodes(t), 4);
		allowedips_free(t);
	}
}

static void
test_siblings(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	ins4(t, "10.0.0.0", 24, P(1));
	ins4(t, "10.0.1.0", 24, P(2));
	/* Two siblings: one branch node at 10.0.0.0/23 holds them. */
	assert_int_equal(checked_nodes(t), 3);
	assert_ptr_equal(look4(t, "10.0.0.200"), P(1));
	assert_ptr_equal(look4(t, "10.0.1.200"), P(2));
	assert_null(look4(t, "10.0.2.0"));
	/* The branch node is not an entry: removing its prefix fails. */
	assert_int_equal(allowedips_remove(t, 4, a4("10.0.0.0"), 23), KERR_INVALID);
	assert_null(look4(t, "10.0.2.0"));
	/* Inserting the branch node's prefix makes it one. */
	ins4(t, "10.0.0.0", 23, P(3));
	assert_int_equal(checked_nodes(t), 3);
	assert_int_equal(allowedips_count(t), 3);
	assert_int_equal(allowedips_remove(t, 4, a4("10.0.0.0"), 23), 0);
	assert_int_equal(checked_nodes(t), 3);
	/* Removing one sibling takes the branch node with it. */
	assert_int_equal(allowedips_remove(t, 4, a4("10.0.1.0"), 24), 0);
	assert_int_equal(checked_nodes(t), 1);
	assert_int_equal(allowedips_remove(t, 4, a4("10.0.0.0"), 24), 0);
	assert_int_equal(checked_nodes(t), 0);
	assert_int_equal(allowedips_count(t), 0);
	allowedips_free(t);
}

static void
test_replace(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	ins4(t, "192.168.1.0", 24, P(1));
	ins6(t, "fd00:1::", 32, P(1));
	ins4(t, "192.168.1.0", 24, P(2));
	assert_int_equal(allowedips_count(t), 2);
	assert_ptr_equal(look4(t, "192.168.1.1"), P(2));
	assert_ptr_equal(look6(t, "fd00:1::1"), P(1));
	assert_string_equal(walk_text(t, P(1)), "fd00:1::/32 ");
	assert_string_equal(walk_text(t, P(2)), "192.168.1.0/24 ");
	/* Same peer again: nothing changes. */
	ins4(t, "192.168.1.0", 24, P(2));
	assert_int_equal(allowedips_count(t), 2);
	assert_int_equal(checked_nodes(t), 2);
	allowedips_free(t);
}

static void
test_remove_restores_shorter(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	ins4(t, "10.0.0.0", 8, P(1));
	ins4(t, "10.1.0.0", 16, P(2));
	ins4(t, "10.1.2.0", 24, P(3));
	ins6(t, "2001:db8::", 32, P(1));
	ins6(t, "2001:db8:1::", 48, P(2));
	assert_ptr_equal(look4(t, "10.1.2.3"), P(3));

	assert_int_equal(allowedips_remove(t, 4, a4("10.1.2.0"), 24), 0);
	assert_ptr_equal(look4(t, "10.1.2.3"), P(2));
	assert_int_equal(allowedips_remove(t, 4, a4("10.1.2.0"), 24), KERR_INVALID);
	/* Present as a path through the trie, absent as an entry. */
	assert_int_equal(allowedips_remove(t, 4, a4("10.1.0.0"), 17), KERR_INVALID);
	assert_int_equal(allowedips_remove(t, 4, a4("10.1.0.0"), 15), KERR_INVALID);
	assert_int_equal(allowedips_remove(t, 4, a4("10.1.0.0"), 32), KERR_INVALID);
	/* Same bits, other family. */
	assert_int_equal(allowedips_remove(t, 6, a6("a01::"), 16), KERR_INVALID);
	assert_int_equal(allowedips_remove(t, 4, a4("10.1.0.0"), 16), 0);
	assert_ptr_equal(look4(t, "10.1.2.3"), P(1));
	assert_int_equal(allowedips_remove(t, 4, a4("10.0.0.0"), 8), 0);
	assert_null(look4(t, "10.1.2.3"));

	assert_int_equal(allowedips_remove(t, 6, a6("2001:db8:1::"), 48), 0);
	assert_ptr_equal(look6(t, "2001:db8:1::1"), P(1));
	assert_int_equal(allowedips_count(t), 1);
	assert_int_equal(checked_nodes(t), 1);
	allowedips_free(t);
}

static void
test_families_apart(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	/* The same leading bytes in both families. */
	ins4(t, "1.2.3.4", 32, P(1));
	ins6(t, "102:304::", 32, P(2));
	ins6(t, "::ffff:5.6.7.8", 128, P(3));
	assert_ptr_equal(look4(t, "1.2.3.4"), P(1));
	assert_ptr_equal(look6(t, "102:304::"), P(2));
	assert_ptr_equal(look6(t, "102:304:ffff::1"), P(2));
	assert_null(look4(t, "5.6.7.8"));		/* v4-mapped is IPv6 */
	assert_ptr_equal(look6(t, "::ffff:5.6.7.8"), P(3));
	assert_null(look6(t, "::ffff:1.2.3.4"));
	assert_null(allowedips_lookup(t, 5, a4("1.2.3.4")));
	assert_null(allowedips_lookup(t, 0, a4("1.2.3.4")));

	/* Removing one family's prefix leaves the other's. */
	assert_int_equal(allowedips_remove(t, 6, a6("102:304::"), 32), 0);
	assert_ptr_equal(look4(t, "1.2.3.4"), P(1));
	assert_int_equal(allowedips_remove(t, 6, a6("102:304::"), 32), KERR_INVALID);
	assert_int_equal(allowedips_remove(t, 4, a4("1.2.3.4"), 32), 0);
	assert_ptr_equal(look6(t, "::ffff:5.6.7.8"), P(3));
	checked_nodes(t);
	allowedips_free(t);
}

static void
test_masking(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	ins4(t, "10.1.2.3", 8, P(1));
	assert_string_equal(walk_text(t, P(1)), "10.0.0.0/8 ");
	ins4(t, "10.200.0.1", 8, P(2));	/* the same prefix: replaces */
	assert_int_equal(allowedips_count(t), 1);
	assert_string_equal(walk_text(t, P(2)), "10.0.0.0/8 ");
	ins4(t, "172.31.255.255", 12, P(1));
	assert_string_equal(walk_text(t, P(1)), "172.16.0.0/12 ");
	assert_ptr_equal(look4(t, "172.16.0.0"), P(1));
	assert_ptr_equal(look4(t, "172.31.0.0"), P(1));
	assert_null(look4(t, "172.32.0.0"));
	ins4(t, "255.255.255.255", 0, P(3));
	assert_string_equal(walk_text(t, P(3)), "0.0.0.0/0 ");

	/* Odd bit counts in IPv6. */
	ins6(t, "fd00:1234:5678:9abc:ffff:ffff:ffff:ffff", 65, P(4));
	assert_string_equal(walk_text(t, P(4)), "fd00:1234:5678:9abc:8000::/65 ");
	assert_ptr_equal(look6(t, "fd00:1234:5678:9abc:8000::"), P(4));
	assert_ptr_equal(look6(t, "fd00:1234:5678:9abc:ffff::7"), P(4));
	assert_null(look6(t, "fd00:1234:5678:9abc:7fff:ffff:ffff:ffff"));
	ins6(t, "ffff::", 1, P(5));
	assert_string_equal(walk_text(t, P(5)), "8000::/1 ");
	ins6(t, "fe80::1:2:3:4", 127, P(6));
	assert_string_equal(walk_text(t, P(6)), "fe80::1:2:3:4/127 ");
	assert_ptr_equal(look6(t, "fe80::1:2:3:5"), P(6));

	/* Remove masks too. */
	assert_int_equal(allowedips_remove(t, 4, a4("10.99.99.99"), 8), 0);
	assert_int_equal(allowedips_remove(t, 6,
	    a6("fd00:1234:5678:9abc:8765::"), 65), 0);
	assert_ptr_equal(look4(t, "10.0.0.0"), P(3));	/* the default route */
	assert_int_equal(allowedips_count(t), 4);
	checked_nodes(t);
	allowedips_free(t);
}

static void
test_bad_arguments(void **state)
{
	struct allowedips *t = table_new();
	const uint8_t *z = a6("::");

	(void)state;
	assert_int_equal(allowedips_insert(t, 4, z, 33, P(1)), KERR_INVALID);
	assert_int_equal(allowedips_insert(t, 4, z, 255, P(1)), KERR_INVALID);
	assert_int_equal(allowedips_insert(t, 6, z, 129, P(1)), KERR_INVALID);
	assert_int_equal(allowedips_insert(t, 5, z, 8, P(1)), KERR_INVALID);
	assert_int_equal(allowedips_insert(t, 0, z, 0, P(1)), KERR_INVALID);
	assert_int_equal(allowedips_insert(t, 4, z, 8, NULL), KERR_INVALID);
	assert_int_equal(allowedips_remove(t, 4, z, 33), KERR_INVALID);
	assert_int_equal(allowedips_remove(t, 6, z, 129), KERR_INVALID);
	assert_int_equal(allowedips_remove(t, 7, z, 0), KERR_INVALID);
	assert_int_equal(allowedips_count(t), 0);

	assert_int_equal(allowedips_insert(t, 4, z, 32, P(1)), 0);
	assert_int_equal(allowedips_insert(t, 6, z, 128, P(1)), 0);
	/* NULL peer: neither a removal of branch nodes nor a walk of them. */
	ins4(t, "10.0.0.0", 24, P(2));
	ins4(t, "10.0.1.0", 24, P(2));
	allowedips_remove_peer(t, NULL);
	assert_int_equal(allowedips_count(t), 4);
	assert_string_equal(walk_text(t, NULL), "");
	checked_nodes(t);
	allowedips_free(t);
}

static void
test_remove_peer(void **state)
{
	struct allowedips *t = table_new();

	(void)state;
	ins4(t, "0.0.0.0", 0, P(1));
	ins4(t, "10.0.0.0", 8, P(2));
	ins4(t, "10.1.0.0", 16, P(1));
	ins4(t, "10.1.1.0", 24, P(2));
	ins4(t, "10.1.2.0", 24, P(3));
	ins6(t, "fd00::", 8, P(2));
	ins6(t, "fd00::1", 128, P(1));
	assert_int_equal(allowedips_count(t), 7);

	allowedips_remove_peer(t, P(9));	/* owns nothing */
	assert_int_equal(allowedips_count(t), 7);

	allowedips_remove_peer(t, P(2));
	assert_int_equal(allowedips_count(t), 4);
	assert_string_equal(walk_text(t, P(2)), "");
	assert_ptr_equal(look4(t, "10.1.1.1"), P(1));
	assert_ptr_equal(look4(t, "10.2.0.0"), P(1));
	assert_ptr_equal(look4(t, "10.1.2.1"), P(3));
	assert_null(look6(t, "fd00::2"));
	assert_ptr_equal(look6(t, "fd00::1"), P(1));
	checked_nodes(t);

	allowedips_remove_peer(t, P(1));
	assert_int_equal(allowedips_count(t), 1);
	assert_null(look4(t, "10.1.1.1"));
	assert_ptr_equal(look4(t, "10.1.2.1"), P(3));
	assert_null(look6(t, "fd00::1"));
	assert_int_equal(checked_nodes(t), 1);
	allowedips_remove_peer(t, P(3));
	assert_int_equal(checked_nodes(t), 0);
	allowedips_free(t);
}

static void
test_walk_order_and_stop(void **state)
{
	struct allowedips *t = table_new();
	struct textwalk w;

	(void)state;
	ins6(t, "fd00::", 8, P(1));
	ins4(t, "192.168.0.0", 16, P(1));
	ins4(t, "10.0.0.0", 16, P(1));
	ins4(t, "10.0.0.0", 8, P(1));
	ins6(t, "::", 0, P(1));
	ins4(t, "10.0.0.0", 24, P(2));	/* another peer's, skipped */
	ins4(t, "10.128.0.0", 9, P(1));
	ins4(t, "10.0.0.0", 32, P(1));
	ins4(t, "0.0.0.0", 0, P(1));
	assert_string_equal(walk_text(t, P(1)),
	    "0.0.0.0/0 10.0.0.0/8 10.0.0.0/16 10.0.0.0/32 10.128.0.0/9 "
	    "192.168.0.0/16 ::/0 fd00::/8 ");

	memset(&w, 0, sizeof(w));
	w.stop_after = 3;
	assert_int_equal(allowedips_walk_peer(t, P(1), textwalk_fn, &w), 7);
	assert_string_equal(w.s, "0.0.0.0/0 10.0.0.0/8 10.0.0.0/16 ");
	memset(&w, 0, sizeof(w));
	w.stop_after = 8;	/* the last one */
	assert_int_equal(allowedips_walk_peer(t, P(1), textwalk_fn, &w), 7);
	assert_int_equal(w.calls, 8);
	allowedips_free(t);
}

/*
 * The cap: every prefix of a complete binary tree 20 levels deep under
 * 10.0.0.0/8 (2^20 - 1 entries, no branch nodes), one more, then refusal.
 */
static void
test_cap(void **state)
{
	struct allowedips *t = table_new();
	uint8_t a[4];

	(void)state;
	for (unsigned d = 0; d < 20; d++) {
		for (uint32_t i = 0; i < (1u << d); i++) {
			uint32_t v = (10u << 24) | (d ? i << (24 - d) : 0);

			a[0] = (uint8_t)(v >> 24);
			a[1] = (uint8_t)(v >> 16);
			a[2] = (uint8_t)(v >> 8);
			a[3] = (uint8_t)v;
			assert_int_equal(allowedips_insert(t, 4, a, (uint8_t)(8 + d),
			    P(1 + i % NPEERS)), 0);
		}
	}
	assert_int_equal(allowedips_count(t), ALLOWEDIPS_MAX_ENTRIES - 1);
	ins6(t, "fd00::", 8, P(1));
	assert_int_equal(allowedips_count(t), ALLOWEDIPS_MAX_ENTRIES);
	assert_int_equal(allowedips_insert(t, 4, a4("11.0.0.0"), 8, P(2)), KERR_TOOBIG);
	assert_int_equal(allowedips_insert(t, 6, a6("fd01::"), 16, P(2)), KERR_TOOBIG);
	/* A host below existing prefixes is still a new entry. */
	assert_int_equal(allowedips_insert(t, 4, a4("10.0.0.1"), 32, P(2)), KERR_TOOBIG);
	assert_null(look4(t, "11.0.0.0"));
	/* Replacing is not growing. */
	ins4(t, "10.0.0.0", 8, P(0));	/* P(0) owns nothing else */
	assert_string_equal(walk_text(t, P(0)), "10.0.0.0/8 ");
	assert_int_equal(allowedips_count(t), ALLOWEDIPS_MAX_ENTRIES);
	assert_int_equal(checked_nodes(t), ALLOWEDIPS_MAX_ENTRIES);
	/* Room again after a removal. */
	assert_int_equal(allowedips_remove(t, 6, a6("fd00::"), 8), 0);
	ins4(t, "11.0.0.0", 8, P(2));
	assert_int_equal(allowedips_insert(t, 4, a4("12.0.0.0"), 8, P(2)), KERR_TOOBIG);
	assert_int_equal(allowedips_count(t), ALLOWEDIPS_MAX_ENTRIES);
	allowedips_free(t);
}

/* ---- the naive reference ---- */

struct ref_entry {
	int family;
	uint8_t key[16];
	uint8_t cidr;
	void *peer;
};

struct ref {
	struct ref_entry *e;
	size_t n, cap;
};

static size_t
ref_len(int family)
{
	return family == 4 ? 4 : 16;
}

/* Clear every bit from cidr on, one bit at a time. */
static void
ref_mask(uint8_t key[16], int family, unsigned cidr)
{
	for (unsigned i = cidr; i < 8 * ref_len(family); i++)
		key[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

/* Does addr fall in e?  Whole bytes, then the partial byte. */
static int
ref_contains(const struct ref_entry *e, const uint8_t *addr)
{
	unsigned full = e->cidr / 8, rest = e->cidr % 8;

	if (memcmp(e->key, addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((e->key[full] ^ addr[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

static struct ref_entry *
ref_find(struct ref *f, int family, const uint8_t key[16], unsigned cidr)
{
	for (size_t i = 0; i < f->n; i++) {
		struct ref_entry *e = &f->e[i];

		if (e->family == family && e->cidr == cidr &&
		    memcmp(e->key, key, 16) == 0)
			return e;
	}
	return NULL;
}

static void
ref_insert(struct ref *f, int family, const uint8_t *addr, unsigned cidr,
    void *peer)
{
	struct ref_entry e = { .family = family, .cidr = (uint8_t)cidr,
	    .peer = peer }, *old;

	memcpy(e.key, addr, ref_len(family));
	ref_mask(e.key, family, cidr);
	if ((old = ref_find(f, family, e.key, cidr)) != NULL) {
		old->peer = peer;
		return;
	}
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->e = realloc(f->e, f->cap * sizeof(*f->e));
		assert_non_null(f->e);
	}
	f->e[f->n++] = e;
}

static int
ref_remove(struct ref *f, int family, const uint8_t *addr, unsigned cidr)
{
	uint8_t key[16] = { 0 };
	struct ref_entry *e;

	memcpy(key, addr, ref_len(family));
	ref_mask(key, family, cidr);
	if ((e = ref_find(f, family, key, cidr)) == NULL)
		return KERR_INVALID;
	*e = f->e[--f->n];
	return 0;
}

static void
ref_remove_peer(struct ref *f, void *peer)
{
	size_t j = 0;

	for (size_t i = 0; i < f->n; i++)
		if (f->e[i].peer != peer)
			f->e[j++] = f->e[i];
	f->n = j;
}

static void *
ref_lookup(const struct ref *f, int family, const uint8_t *addr)
{
	const struct ref_entry *best = NULL;

	for (size_t i = 0; i < f->n; i++) {
		const struct ref_entry *e = &f->e[i];

		if (e->family == family && ref_contains(e, addr) &&
		    (best == NULL || e->cidr > best->cidr))
			best = e;
	}
	return best ? best->peer : NULL;
}

/* (family, key, cidr) order, which the walk promises. */
static int
ref_cmp(const void *a, const void *b)
{
	const struct ref_entry *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family - y->family;
	if ((c = memcmp(x->key, y->key, 16)) != 0)
		return c;
	return x->cidr - y->cidr;
}

/* ---- random route tables ---- */

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
below(uint64_t *s, unsigned n)
{
	return n ? (unsigned)(splitmix(s) % n) : 0;
}

#define BASES_MAX 8

struct gen {
	uint64_t s;
	uint64_t case_seed;
	unsigned v4_pct;		/* share of IPv4 */
	unsigned nbases;
	uint8_t base[2][BASES_MAX][16];	/* addresses that others share bits with */
	unsigned npeers;
	struct allowedips *t;
	struct ref f;
	size_t step;
	size_t lookups;
};

static int
gen_family(struct gen *g)
{
	return below(&g->s, 100) < g->v4_pct ? 4 : 6;
}

/*
 * An address sharing a random number of leading bits with one of the case's
 * few bases, so prefixes nest and diverge deep down; sometimes fully random.
 */
static void
gen_addr(struct gen *g, int family, uint8_t out[16])
{
	unsigned bits = 8 * (unsigned)ref_len(family), keep;
	const uint8_t *b = g->base[family == 6][below(&g->s, g->nbases)];

	for (int i = 0; i < 16; i += 8) {
		uint64_t r = splitmix(&g->s);

		memcpy(out + i, &r, 8);
	}
	keep = below(&g->s, 4) == 0 ? below(&g->s, bits + 1) :
	    bits - below(&g->s, 1 + below(&g->s, bits + 1));
	for (unsigned i = 0; i < keep; i++) {
		uint8_t m = (uint8_t)(0x80u >> (i % 8));

		out[i / 8] = (uint8_t)((out[i / 8] & ~m) | (b[i / 8] & m));
	}
	if (family == 4)
		memset(out + 4, 0, 12);
}

static unsigned
gen_cidr(struct gen *g, int family)
{
	unsigned bits = 8 * (unsigned)ref_len(family);

	switch (below(&g->s, 6)) {
	case 0: return bits;			/* a host */
	case 1: return below(&g->s, 9);		/* very short */
	case 2: return bits - below(&g->s, 9);	/* very long */
	default: return below(&g->s, bits + 1);
	}
}

static void
fail_case(struct gen *g, const char *what, int family, const uint8_t *addr,
    unsigned cidr, long got, long want)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, a, sizeof(a));
	fail_msg("case seed 0x%016" PRIx64 " (KODEN_SEED=0x%016" PRIx64
	    ", or KODEN_CASE_SEED=0x%016" PRIx64 " alone): step %zu: %s %s/%u: "
	    "got %ld, reference %ld", g->case_seed, master_seed, g->case_seed,
	    g->step, what, a, cidr, got, want);
}

static long
peer_no(void *p)
{
	return p ? (long)((char *)p - peers) : -1;
}

static void
check_lookup(struct gen *g, int family, const uint8_t *addr)
{
	void *got = allowedips_lookup(g->t, family, addr);
	void *want = ref_lookup(&g->f, family, addr);

	g->lookups++;
	if (got != want)
		fail_case(g, "lookup", family, addr, 8 * (unsigned)ref_len(family),
		    peer_no(got), peer_no(want));
}

/*
 * An address for lookup: random near the bases, or an entry's key with bits
 * flipped right around its prefix length, where off-by-ones live.
 */
static void
lookup_random(struct gen *g)
{
	uint8_t addr[16];
	int family;

	if (g->f.n > 0 && below(&g->s, 2) == 0) {
		const struct ref_entry *e = &g->f.e[below(&g->s, (unsigned)g->f.n)];
		unsigned bits = 8 * (unsigned)ref_len(e->family);

		family = e->family;
		gen_addr(g, family, addr);
		/* Keep the entry's prefix, sometimes all but its last bit. */
		for (unsigned i = 0; i < e->cidr; i++) {
			uint8_t m = (uint8_t)(0x80u >> (i % 8));

			addr[i / 8] = (uint8_t)((addr[i / 8] & ~m) | (e->key[i / 8] & m));
		}
		if (e->cidr > 0 && below(&g->s, 3) == 0)
			addr[(e->cidr - 1) / 8] ^= (uint8_t)(0x80u >> ((e->cidr - 1) % 8));
		else if (e->cidr < bits && below(&g->s, 2) == 0)
			addr[e->cidr / 8] ^= (uint8_t)(0x80u >> (e->cidr % 8));
	} else {
		family = gen_family(g);
		gen_addr(g, family, addr);
	}
	check_lookup(g, family, addr);
}

struct collect {
	struct ref_entry *e;
	size_t n, cap;
};

static int
collect_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct collect *c = ctx;

	assert_true(family == 4 || family == 6);
	assert_true(c->n < c->cap);
	memset(&c->e[c->n], 0, sizeof(c->e[0]));
	c->e[c->n].family = family;
	memcpy(c->e[c->n].key, addr, ref_len(family));
	c->e[c->n].cidr = cidr;
	c->n++;
	return 0;
}

/* The walk of peer equals the reference's entries of peer, sorted. */
static void
check_walk(struct gen *g, void *peer)
{
	struct collect c = { .cap = g->f.n + 1 };
	struct ref_entry *want = calloc(g->f.n + 1, sizeof(*want));
	size_t nwant = 0;

	c.e = calloc(c.cap, sizeof(*c.e));
	assert_non_null(c.e);
	assert_non_null(want);
	for (size_t i = 0; i < g->f.n; i++)
		if (g->f.e[i].peer == peer) {
			want[nwant] = g->f.e[i];
			want[nwant++].peer = NULL;
		}
	qsort(want, nwant, sizeof(*want), ref_cmp);
	assert_int_equal(allowedips_walk_peer(g->t, peer, collect_fn, &c), 0);
	if (c.n != nwant)
		fail_case(g, "walk count of peer", 4, (const uint8_t *)"\0\0\0\0",
		    0, (long)c.n, (long)nwant);
	for (size_t i = 0; i < nwant; i++)
		if (ref_cmp(&c.e[i], &want[i]) != 0)
			fail_case(g, "walk entry (got)", c.e[i].family, c.e[i].key,
			    c.e[i].cidr, (long)i, peer_no(peer));
	free(c.e);
	free(want);
}

static void
check_shape(struct gen *g)
{
	size_t nodes = 0;
	int r = allowedips_check(g->t, &nodes);

	if (r != 0)
		fail_case(g, "invariants", 4, (const uint8_t *)"\0\0\0\0", 0, r, 0);
	if (allowedips_count(g->t) != g->f.n)
		fail_case(g, "count", 4, (const uint8_t *)"\0\0\0\0", 0,
		    (long)allowedips_count(g->t), (long)g->f.n);
	/* At most one branch node per entry beyond the first. */
	if (nodes > (g->f.n ? 2 * g->f.n - 1 : 0))
		fail_case(g, "nodes for entries", 4, (const uint8_t *)"\0\0\0\0", 0,
		    (long)nodes, (long)g->f.n);
}

/* One case: grow to a random size with churn, then shrink to nothing. */
static void
run_case(uint64_t case_seed, size_t *ops_total, size_t *lookups_total)
{
	static const unsigned sizes[] = { 4, 30, 200, 1000, RAND_TABLE_MAX };
	struct gen g = { .s = case_seed, .case_seed = case_seed };
	unsigned target, ops, lookups_per_op;

	target = sizes[below(&g.s, 5)];
	target = 1 + below(&g.s, target);
	g.v4_pct = (unsigned[]){ 0, 50, 80, 100 }[below(&g.s, 4)];
	g.nbases = 1 + below(&g.s, BASES_MAX);
	g.npeers = 1 + below(&g.s, NPEERS);
	for (int f = 0; f < 2; f++)
		for (unsigned i = 0; i < BASES_MAX; i++)
			for (int j = 0; j < 16; j++)
				g.base[f][i][j] = (uint8_t)splitmix(&g.s);
	/* Lookups are the expensive part of the reference: fewer when big. */
	lookups_per_op = target > 1000 ? 1 : target > 100 ? 3 : 8;
	ops = 2 * target + 20;
	assert_int_equal(allowedips_new(&g.t), 0);

	for (g.step = 0; g.step < ops; g.step++) {
		unsigned r = below(&g.s, 100);
		uint8_t addr[16];
		int family, got, want;
		unsigned cidr;
		void *peer = P(1 + below(&g.s, g.npeers));

		if (r < (g.f.n < target ? 70u : 35u)) {
			family = gen_family(&g);
			gen_addr(&g, family, addr);
			cidr = gen_cidr(&g, family);
			if (g.f.n > 0 && below(&g.s, 10) == 0) {
				/* An existing prefix, other bits past cidr. */
				const struct ref_entry *e = &g.f.e[below(&g.s, (unsigned)g.f.n)];

				family = e->family;
				cidr = e->cidr;
				for (unsigned i = 0; i < cidr; i++) {
					uint8_t m = (uint8_t)(0x80u >> (i % 8));

					addr[i / 8] = (uint8_t)((addr[i / 8] & ~m) |
					    (e->key[i / 8] & m));
				}
			}
			got = allowedips_insert(g.t, family, addr, (uint8_t)cidr, peer);
			if (got != 0)
				fail_case(&g, "insert", family, addr, cidr, got, 0);
			ref_insert(&g.f, family, addr, cidr, peer);
		} else if (r < 90 && g.f.n > 0) {
			const struct ref_entry *e = &g.f.e[below(&g.s, (unsigned)g.f.n)];

			family = e->family;
			cidr = e->cidr;
			gen_addr(&g, family, addr);
			for (unsigned i = 0; i < cidr; i++) {
				uint8_t m = (uint8_t)(0x80u >> (i % 8));

				addr[i / 8] = (uint8_t)((addr[i / 8] & ~m) | (e->key[i / 8] & m));
			}
			/* Sometimes one bit shorter or longer: likely absent. */
			if (below(&g.s, 4) == 0 && cidr > 0)
				cidr--;
			else if (below(&g.s, 4) == 0 && cidr < 8 * ref_len(family))
				cidr++;
			got = allowedips_remove(g.t, family, addr, (uint8_t)cidr);
			want = ref_remove(&g.f, family, addr, cidr);
			if (got != want)
				fail_case(&g, "remove", family, addr, cidr, got, want);
		} else if (r < 97) {
			family = gen_family(&g);
			gen_addr(&g, family, addr);
			cidr = gen_cidr(&g, family);
			got = allowedips_remove(g.t, family, addr, (uint8_t)cidr);
			want = ref_remove(&g.f, family, addr, cidr);
			if (got != want)
				fail_case(&g, "remove random", family, addr, cidr, got, want);
		} else if (r < 98 || g.f.n > 3 * target) {
			allowedips_remove_peer(g.t, peer);
			ref_remove_peer(&g.f, peer);
		}
		if (allowedips_count(g.t) != g.f.n)
			fail_case(&g, "count", 4, (const uint8_t *)"\0\0\0\0", 0,
			    (long)allowedips_count(g.t), (long)g.f.n);
		for (unsigned i = 0; i < lookups_per_op; i++)
			lookup_random(&g);
		if (g.step % 512 == 511) {
			check_shape(&g);
			check_walk(&g, P(1 + below(&g.s, g.npeers)));
		}
	}

	check_shape(&g);
	for (unsigned p = 1; p <= g.npeers; p++)
		check_walk(&g, P(p));
	/* Empty it, by prefix and by peer: every node must go. */
	while (g.f.n > 0) {
		const struct ref_entry *e = &g.f.e[below(&g.s, (unsigned)g.f.n)];

		g.step++;
		if (below(&g.s, 8) == 0) {
			void *peer = e->peer;

			allowedips_remove_peer(g.t, peer);
			ref_remove_peer(&g.f, peer);
		} else {
			struct ref_entry copy = *e;

			assert_int_equal(allowedips_remove(g.t, copy.family, copy.key,
			    copy.cidr), 0);
			assert_int_equal(ref_remove(&g.f, copy.family, copy.key,
			    copy.cidr), 0);
		}
		if (below(&g.s, 16) == 0)
			lookup_random(&g);
	}
	check_shape(&g);	/* 0 entries, so 0 nodes */
	allowedips_free(g.t);
	free(g.f.e);
	*ops_total += g.step;
	*lookups_total += g.lookups;
}

static void
test_random_vs_reference(void **state)
{
	const char *one = getenv("KODEN_CASE_SEED");
	size_t ops = 0, lookups = 0;
	uint64_t s = master_seed;

	(void)state;
	if (one != NULL) {
		run_case(strtoull(one, NULL, 0), &ops, &lookups);
		print_message("allowedips: 1 case, %zu operations, %zu lookups\n",
		    ops, lookups);
		return;
	}
	for (int i = 0; i < RAND_CASES; i++)
		run_case(splitmix(&s), &ops, &lookups);
	print_message("allowedips: %d random tables, %zu operations and %zu "
	    "lookups compared with the reference\n", RAND_CASES, ops, lookups);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_default_routes),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_overlapping),
		cmocka_unit_test(test_siblings),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_remove_restores_shorter),
		cmocka_unit_test(test_families_apart),
		cmocka_unit_test(test_masking),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_remove_peer),
		cmocka_unit_test(test_walk_order_and_stop),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_random_vs_reference),
	};
	const char *seed = getenv("KODEN_SEED");

	master_seed = seed ? strtoull(seed, NULL, 0) :
	    ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	printf("allowedips: seed 0x%016" PRIx64 " (set KODEN_SEED to repeat)\n",
	    master_seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
