/*
 * Allowed IPs as a path-compressed binary trie, one per family.
 *
 * Every node is a prefix (key, cidr), its key masked to cidr.  A node's
 * children extend its prefix: child[b] holds the prefixes whose bit number
 * `cidr` (counting from the most significant bit) is b, and may skip any
 * number of bits below that, which is what keeps the trie small.  A node with
 * a peer is a table entry; one without (peer == NULL) is a branch node created
 * where two prefixes diverge, and always has two children: when removal
 * leaves it with fewer it is spliced out.  So nodes <= 2 * entries, and a path
 * from the root has strictly growing cidr: at most 33 or 129 nodes.
 *
 * Removing a peer walks the whole trie rather than keeping a per-peer list:
 * peers are opaque to the table, and removing one is rare next to lookups.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "vpn/allowedips.h"

#define KEY_MAX 16			/* IPv6 address bytes */
#define DEPTH_MAX (KEY_MAX * 8 + 1)	/* nodes on one root-to-leaf path */

struct node {
	struct node *child[2];
	void *peer;		/* NULL: a branch node with two children */
	uint8_t cidr;
	uint8_t key[KEY_MAX];	/* first family_len() bytes used, masked */
};

struct allowedips {
	struct node *root4;
	struct node *root6;
	size_t count;		/* nodes with a peer */
};

static size_t
family_len(int family)
{
	return family == 4 ? 4 : family == 6 ? 16 : 0;
}

static struct node **
family_root(struct allowedips *t, int family)
{
	return family == 4 ? &t->root4 : &t->root6;
}

/* Bit i of k, most significant bit of k[0] first. */
static int
bit_at(const uint8_t *k, unsigned i)
{
	return (k[i >> 3] >> (7 - (i & 7))) & 1;
}

/* Length of the common leading bits of a and b, at most limit. */
static unsigned
common_bits(const uint8_t *a, const uint8_t *b, unsigned limit)
{
	for (unsigned i = 0; i * 8 < limit; i++) {
		unsigned x = a[i] ^ b[i];

		if (x != 0) {
			unsigned n = i * 8 + (unsigned)__builtin_clz(x) - 24;

			return n < limit ? n : limit;
		}
	}
	return limit;
}

/* out = the first cidr bits of in, zeros after, over len bytes. */
static void
mask_key(uint8_t out[KEY_MAX], const uint8_t *in, unsigned cidr, size_t len)
{
	memset(out, 0, KEY_MAX);
	memcpy(out, in, len);
	for (size_t i = 0; i < len; i++) {
		if (cidr >= 8 * (i + 1))
			continue;
		out[i] &= cidr <= 8 * i ? 0 : (uint8_t)(0xff00 >> (cidr - 8 * i));
	}
}

static struct node *
node_new(const uint8_t key[KEY_MAX], unsigned cidr, void *peer)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	memcpy(n->key, key, KEY_MAX);
	n->cidr = (uint8_t)cidr;
	n->peer = peer;
	return n;
}

/*
 * *slot lost its peer or a child: splice it out if it is a branch node with
 * fewer than two children left.
 */
static void
collapse(struct node **slot)
{
	struct node *n = *slot;

	if (n == NULL || n->peer != NULL)
		return;
	if (n->child[0] != NULL && n->child[1] != NULL)
		return;
	*slot = n->child[0] != NULL ? n->child[0] : n->child[1];
	free(n);
}

int
allowedips_new(struct allowedips **out)
{
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? KERR_NOMEM : 0;
}

static void
free_nodes(struct node *n)
{
	if (n == NULL)
		return;
	free_nodes(n->child[0]);
	free_nodes(n->child[1]);
	free(n);
}

void
allowedips_free(struct allowedips *t)
{
	if (t == NULL)
		return;
	free_nodes(t->root4);
	free_nodes(t->root6);
	free(t);
}

int
allowedips_insert(struct allowedips *t, int family, const uint8_t *addr,
    uint8_t cidr, void *peer)
{
	size_t len = family_len(family);
	uint8_t key[KEY_MAX];
	struct node **slot, *n, *leaf, *branch;
	unsigned common = 0;

	if (len == 0 || cidr > 8 * len || peer == NULL)
		return KERR_INVALID;
	mask_key(key, addr, cidr, len);

	for (slot = family_root(t, family); (n = *slot) != NULL;
	    slot = &n->child[bit_at(key, n->cidr)]) {
		common = common_bits(n->key, key, n->cidr < cidr ? n->cidr : cidr);
		if (common < n->cidr)
			break;	/* the new prefix branches off above n */
		if (n->cidr == cidr) {
			if (n->peer == NULL && t->count >= ALLOWEDIPS_MAX_ENTRIES)
				return KERR_TOOBIG;
			t->count += n->peer == NULL;
			n->peer = peer;
			return 0;
		}
	}

	if (t->count >= ALLOWEDIPS_MAX_ENTRIES)
		return KERR_TOOBIG;
	if ((leaf = node_new(key, cidr, peer)) == NULL)
		return KERR_NOMEM;
	if (n == NULL) {
		*slot = leaf;
	} else if (common == cidr) {
		/* The new prefix contains n: it takes n's place, n below. */
		leaf->child[bit_at(n->key, cidr)] = n;
		*slot = leaf;
	} else {
		/* They diverge at bit `common`: a branch node holds both. */
		uint8_t bkey[KEY_MAX];

		mask_key(bkey, key, common, len);
		if ((branch = node_new(bkey, common, NULL)) == NULL) {
			free(leaf);
			return KERR_NOMEM;
		}
		assert(bit_at(key, common) != bit_at(n->key, common));
		branch->child[bit_at(key, common)] = leaf;
		branch->child[bit_at(n->key, common)] = n;
		*slot = branch;
	}
	t->count++;
	return 0;
}

int
allowedips_remove(struct allowedips *t, int family, const uint8_t *addr,
    uint8_t cidr)
{
	size_t len = family_len(family);
	uint8_t key[KEY_MAX];
	struct node **path[DEPTH_MAX], **slot, *n;
	size_t depth = 0;

	if (len == 0 || cidr > 8 * len)
		return KERR_INVALID;
	mask_key(key, addr, cidr, len);

	for (slot = family_root(t, family); (n = *slot) != NULL;
	    slot = &n->child[bit_at(key, n->cidr)]) {
		if (n->cidr > cidr || common_bits(n->key, key, n->cidr) < n->cidr)
			return KERR_INVALID;
		assert(depth < DEPTH_MAX);
		path[depth++] = slot;
		if (n->cidr == cidr)
			break;
	}
	if (n == NULL || n->peer == NULL)
		return KERR_INVALID;

	n->peer = NULL;
	t->count--;
	/*
	 * n goes if it has fewer than two children; if it had none, its
	 * parent may be a branch node left with one.
	 */
	collapse(path[depth - 1]);
	if (depth >= 2)
		collapse(path[depth - 2]);
	return 0;
}

/* Post-order, so each node sees its children already pruned. */
static void
prune(struct node **slot, void *peer, size_t *count)
{
	struct node *n = *slot;

	if (n == NULL)
		return;
	prune(&n->child[0], peer, count);
	prune(&n->child[1], peer, count);
	if (n->peer == peer) {
		n->peer = NULL;
		(*count)--;
	}
	collapse(slot);
}

void
allowedips_remove_peer(struct allowedips *t, void *peer)
{
	if (peer == NULL)
		return;	/* would match every branch node */
	prune(&t->root4, peer, &t->count);
	prune(&t->root6, peer, &t->count);
}

void *
allowedips_lookup(const struct allowedips *t, int family, const uint8_t *addr)
{
	size_t len = family_len(family);
	const struct node *n;
	void *best = NULL;

	if (len == 0)
		return NULL;
	n = family == 4 ? t->root4 : t->root6;
	while (n != NULL && common_bits(n->key, addr, n->cidr) == n->cidr) {
		if (n->peer != NULL)
			best = n->peer;
		if (n->cidr == 8 * len)
			break;
		n = n->child[bit_at(addr, n->cidr)];
	}
	return best;
}

/* Pre-order, child[0] first: exactly (address, cidr) order. */
static int
walk(const struct node *n, int family, void *peer,
    int (*fn)(void *, int, const uint8_t *, uint8_t), void *ctx)
{
	int r;

	if (n == NULL)
		return 0;
	if (n->peer == peer && (r = fn(ctx, family, n->key, n->cidr)) != 0)
		return r;
	if ((r = walk(n->child[0], family, peer, fn, ctx)) != 0)
		return r;
	return walk(n->child[1], family, peer, fn, ctx);
}

int
allowedips_walk_peer(const struct allowedips *t, void *peer,
    int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr),
    void *ctx)
{
	int r;

	if (peer == NULL)
		return 0;
	if ((r = walk(t->root4, 4, peer, fn, ctx)) != 0)
		return r;
	return walk(t->root6, 6, peer, fn, ctx);
}

size_t
allowedips_count(const struct allowedips *t)
{
	return t->count;
}

struct check {
	size_t len;
	size_t entries;
	size_t nodes;
};

static int
check_node(const struct node *n, const struct node *parent, int side,
    struct check *c)
{
	uint8_t masked[KEY_MAX];
	int r;

	if (n == NULL)
		return 0;
	c->nodes++;
	c->entries += n->peer != NULL;
	mask_key(masked, n->key, n->cidr, c->len);
	if (n->cidr > 8 * c->len || memcmp(masked, n->key, KEY_MAX) != 0)
		return KERR_FORMAT;
	if (parent != NULL && (n->cidr <= parent->cidr ||
	    common_bits(n->key, parent->key, parent->cidr) != parent->cidr ||
	    bit_at(n->key, parent->cidr) != side))
		return KERR_FORMAT;
	if (n->peer == NULL && (n->child[0] == NULL || n->child[1] == NULL))
		return KERR_FORMAT;
	if ((r = check_node(n->child[0], n, 0, c)) != 0)
		return r;
	return check_node(n->child[1], n, 1, c);
}

int
allowedips_check(const struct allowedips *t, size_t *nodes)
{
	struct check c4 = { .len = 4 }, c6 = { .len = 16 };
	int r;

	if (nodes != NULL)
		*nodes = 0;
	if ((r = check_node(t->root4, NULL, 0, &c4)) != 0 ||
	    (r = check_node(t->root6, NULL, 0, &c6)) != 0)
		return r;
	if (c4.entries + c6.entries != t->count)
		return KERR_FORMAT;
	if (nodes != NULL)
		*nodes = c4.nodes + c6.nodes;
	return 0;
}
