/*
 * Cryptokey routing table (WireGuard paper §2, "Cryptokey Routing"): the
 * allowed-IPs prefixes of every peer, looked up two ways.  Sending, the
 * destination address picks the peer (longest matching prefix); receiving,
 * the inner source address must map back to the peer the packet authenticated
 * as.  A prefix belongs to exactly one peer: inserting it again moves it.
 *
 * One path-compressed binary trie per family; a lookup allocates nothing and
 * follows at most 33 (IPv4) or 129 (IPv6) nodes.  Each prefix costs at most
 * two nodes of ~48 bytes (itself and one branch node), so 250 peers with a
 * few prefixes each take tens of kilobytes.
 *
 * Peers are opaque, non-NULL pointers the table never dereferences; the
 * caller removes a peer's prefixes (allowedips_remove_peer) before freeing
 * it.  Not thread-safe: the caller serialises writers against readers.
 */
#ifndef KODEN_VPN_ALLOWEDIPS_H
#define KODEN_VPN_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/*
 * Most prefixes one table holds (all families, all peers): an insert of a new
 * prefix past it fails with KERR_TOOBIG.  At the cap the table uses at most
 * ~96 MiB; real configurations are orders of magnitude below it.
 */
#define ALLOWEDIPS_MAX_ENTRIES (1u << 20)

struct allowedips;

/* An empty table; caller frees *out with allowedips_free.  KERR_NOMEM. */
int allowedips_new(struct allowedips **out) KODEN_WUR;
/* Free the table and all its nodes (not the peers).  NULL is a no-op. */
void allowedips_free(struct allowedips *t);

/*
 * Map addr/cidr to peer.  family is 4 (addr is 4 bytes, cidr <= 32) or 6
 * (16 bytes, cidr <= 128); address bits past cidr are ignored, so 10.1.2.3/8
 * stores 10.0.0.0/8.  An existing prefix is moved to peer.  KERR_INVALID for
 * a bad family, cidr or a NULL peer; KERR_TOOBIG past ALLOWEDIPS_MAX_ENTRIES;
 * KERR_NOMEM.  On error the table is unchanged.
 */
int allowedips_insert(struct allowedips *t, int family, const uint8_t *addr,
    uint8_t cidr, void *peer) KODEN_WUR;
/*
 * Remove addr/cidr (masked as on insert), whoever owns it.  KERR_INVALID if
 * the prefix is not in the table or family/cidr are bad.
 */
int allowedips_remove(struct allowedips *t, int family, const uint8_t *addr,
    uint8_t cidr) KODEN_WUR;
/* Remove every prefix of peer (none is fine). */
void allowedips_remove_peer(struct allowedips *t, void *peer);

/*
 * The peer of the longest prefix containing addr (4 or 16 bytes as family
 * says), or NULL if none does or family is neither 4 nor 6.
 */
void *allowedips_lookup(const struct allowedips *t, int family,
    const uint8_t *addr);

/*
 * Call fn(ctx, family, addr, cidr) for each prefix of peer: IPv4 before IPv6,
 * then by address, a shorter prefix before a longer one at the same address.
 * addr is masked and valid only during the call; fn must not modify the
 * table.  Stops at and returns fn's first non-zero result; 0 otherwise.
 */
int allowedips_walk_peer(const struct allowedips *t, void *peer,
    int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr),
    void *ctx);

/* Number of prefixes in the table, both families. */
size_t allowedips_count(const struct allowedips *t);

/*
 * Debug and test aid, O(n): check the trie's invariants (keys masked, every
 * child extends its parent's prefix on the right side, branch nodes have two
 * children, the count is right).  0, or KERR_FORMAT, which only a bug can
 * cause.  *nodes (if nodes is non-NULL) gets the number of allocated nodes,
 * entries and branch nodes, so a test can see that removal frees them.
 */
int allowedips_check(const struct allowedips *t, size_t *nodes) KODEN_WUR;

#endif
