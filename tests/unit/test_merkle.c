/*
 * Merkle trees (src/audit/merkle.c): the RFC 6962 known answers and all 196
 * transparency-dev verification probes, a naive recursive MTH / PATH /
 * SUBPROOF and a naive recursive verifier compared with the library on every
 * index and every m of trees of 0..300 leaves, the compact tree against
 * merkle_root, every single-bit flip of valid proofs and roots, the size
 * limits at 2^64 - 1 leaves, and proof sizes for a 10-million-leaf log.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/merkle.h"
#include "vectors.h"

typedef uint8_t hash_t[MERKLE_HASH];

/* ---- helpers ---------------------------------------------------------- */

/* A deterministic "random" tree: leaf i is the leaf hash of (seed, i). */
static void
fill_leaves(hash_t *leaves, uint64_t n, uint64_t seed)
{
	uint8_t in[16];

	for (uint64_t i = 0; i < n; i++) {
		memcpy(in, &seed, 8);
		memcpy(in + 8, &i, 8);
		merkle_leaf_hash(leaves[i], in, sizeof(in));
	}
}

/*
 * A store-like backend for the big loops: every complete subtree hashed
 * once, level by level, and served by lookup as a log's node table would.
 * (merkle_mem recomputes each subtree, which is O(n) per proof.)
 */
struct table {
	uint64_t n;
	int levels;
	hash_t *level[64];
};

static void
table_build(struct table *t, const hash_t *leaves, uint64_t n)
{
	uint64_t w = n;

	memset(t, 0, sizeof(*t));
	t->n = n;
	t->level[0] = malloc((n ? n : 1) * sizeof(hash_t));
	assert_non_null(t->level[0]);
	if (n)
		memcpy(t->level[0], leaves, n * sizeof(hash_t));
	t->levels = 1;
	while (w / 2 > 0) {
		hash_t *up = malloc((w / 2) * sizeof(hash_t));
		hash_t *down = t->level[t->levels - 1];

		assert_non_null(up);
		for (uint64_t i = 0; i < w / 2; i++)
			merkle_node_hash(up[i], down[2 * i], down[2 * i + 1]);
		t->level[t->levels++] = up;
		w /= 2;
	}
}

static void
table_free(struct table *t)
{
	for (int l = 0; l < t->levels; l++)
		free(t->level[l]);
}

static int table_calls;

static int
table_range(void *ctx, uint64_t a, uint64_t b, uint8_t out[MERKLE_HASH])
{
	struct table *t = ctx;
	uint64_t w = b - a;
	int l;

	table_calls++;
	/* the library promises complete subtrees only; hold it to that */
	assert_true(a < b && b <= t->n);
	assert_true((w & (w - 1)) == 0 && a % w == 0);
	l = __builtin_ctzll(w);
	assert_true(l < t->levels);
	memcpy(out, t->level[l][a / w], MERKLE_HASH);
	return 0;
}

/*
 * A tree of any size (up to 2^64 - 1) whose leaves are all the same hash:
 * the complete subtree of 2^k leaves then has hash H[k] wherever it is, so
 * proofs for 10 million or 2^64 - 1 leaves cost a few hundred hashes and
 * still verify against the true root.
 */
static hash_t same_leaf_h[64];

static void
same_leaf_init(void)
{
	merkle_leaf_hash(same_leaf_h[0], (const uint8_t *)"entry", 5);
	for (int k = 1; k < 64; k++)
		merkle_node_hash(same_leaf_h[k], same_leaf_h[k - 1],
		    same_leaf_h[k - 1]);
}

static int
same_leaf_range(void *ctx, uint64_t a, uint64_t b, uint8_t out[MERKLE_HASH])
{
	uint64_t w = b - a;

	(void)ctx;
	assert_true(a < b);
	assert_true((w & (w - 1)) == 0 && a % w == 0);
	memcpy(out, same_leaf_h[__builtin_ctzll(w)], MERKLE_HASH);
	return 0;
}

/* ---- the naive reference, straight from RFC 6962 / RFC 9162 §2.1 ---- */

/* k: the largest power of two less than n (n > 1), found the slow way. */
static uint64_t
naive_k(uint64_t n)
{
	uint64_t k = 1;

	while (k < n - k)	/* 2k < n, without overflow near 2^64 */
		k *= 2;
	return k;
}

/*
 * MTH(D[start:start+n]) over the leaf hashes of one tree.  MTH is a pure
 * function of (start, n), so results are kept in a table for the tree being
 * tested: the recursion is the RFC's, only not repeated 45000 times.
 */
#define NAIVE_MAX 301
static hash_t naive_memo[NAIVE_MAX + 1][NAIVE_MAX + 1];
static uint8_t naive_have[NAIVE_MAX + 1][NAIVE_MAX + 1];
static const hash_t *naive_leaves;

static void
naive_tree(const hash_t *leaves)
{
	naive_leaves = leaves;
	memset(naive_have, 0, sizeof(naive_have));
}

static void
naive_mth(uint8_t out[MERKLE_HASH], uint64_t start, uint64_t n)
{
	uint8_t l[MERKLE_HASH], r[MERKLE_HASH];
	uint64_t k;

	if (n == 0) {
		crypto_hash_sha256(out, NULL, 0);
		return;
	}
	if (n == 1) {
		memcpy(out, naive_leaves[start], MERKLE_HASH);
		return;
	}
	if (start + n <= NAIVE_MAX && naive_have[start][n]) {
		memcpy(out, naive_memo[start][n], MERKLE_HASH);
		return;
	}
	k = naive_k(n);
	naive_mth(l, start, k);
	naive_mth(r, start + k, n - k);
	merkle_node_hash(out, l, r);
	if (start + n <= NAIVE_MAX) {
		memcpy(naive_memo[start][n], out, MERKLE_HASH);
		naive_have[start][n] = 1;
	}
}

/* PATH(m, D[start:start+n]) appended to proof[*cnt..] */
static void
naive_path(hash_t *proof, size_t *cnt, uint64_t m, uint64_t start, uint64_t n)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = naive_k(n);
	if (m < k) {
		naive_path(proof, cnt, m, start, k);
		naive_mth(proof[(*cnt)++], start + k, n - k);
	} else {
		naive_path(proof, cnt, m - k, start + k, n - k);
		naive_mth(proof[(*cnt)++], start, k);
	}
}

/* SUBPROOF(m, D[start:start+n], b) appended to proof[*cnt..] */
static void
naive_subproof(hash_t *proof, size_t *cnt, uint64_t m, uint64_t start,
    uint64_t n, int b)
{
	uint64_t k;

	if (m == n) {
		if (!b)
			naive_mth(proof[(*cnt)++], start, n);
		return;
	}
	k = naive_k(n);
	if (m <= k) {
		naive_subproof(proof, cnt, m, start, k, b);
		naive_mth(proof[(*cnt)++], start + k, n - k);
	} else {
		naive_subproof(proof, cnt, m - k, start + k, n - k, 0);
		naive_mth(proof[(*cnt)++], start, k);
	}
}

/*
 * A naive verifier: walk PATH's recursion again, taking each level's
 * sibling from the end of the proof, and rebuild the root.  No bit tricks;
 * it accepts exactly the proofs PATH would produce for this tree.
 */
static int
naive_incl_root(uint8_t out[MERKLE_HASH], uint64_t m, uint64_t n,
    const uint8_t leaf[MERKLE_HASH], const hash_t *proof, size_t *left)
{
	uint8_t sub[MERKLE_HASH];
	const uint8_t *sib;
	uint64_t k;

	if (n == 1) {
		memcpy(out, leaf, MERKLE_HASH);
		return 0;
	}
	if (*left == 0)
		return -1;
	sib = proof[--*left];
	k = naive_k(n);
	if (m < k) {
		if (naive_incl_root(sub, m, k, leaf, proof, left) != 0)
			return -1;
		merkle_node_hash(out, sub, sib);
	} else {
		if (naive_incl_root(sub, m - k, n - k, leaf, proof, left) != 0)
			return -1;
		merkle_node_hash(out, sib, sub);
	}
	return 0;
}

static int
naive_verify_inclusion(const uint8_t leaf[MERKLE_HASH], uint64_t index,
    uint64_t size, const hash_t *proof, size_t n,
    const uint8_t root[MERKLE_HASH])
{
	uint8_t r[MERKLE_HASH];
	size_t left = n;

	if (index >= size)
		return -1;
	if (naive_incl_root(r, index, size, leaf, proof, &left) != 0)
		return -1;
	return left == 0 && memcmp(r, root, MERKLE_HASH) == 0 ? 0 : -1;
}

/* SUBPROOF's recursion again: rebuild the old and the new root. */
static int
naive_cons_roots(uint8_t o[MERKLE_HASH], uint8_t nw[MERKLE_HASH], uint64_t m,
    uint64_t n, int b, const uint8_t old_root[MERKLE_HASH],
    const hash_t *proof, size_t *left)
{
	uint8_t so[MERKLE_HASH], sn[MERKLE_HASH];
	const uint8_t *sib;
	uint64_t k;

	if (m == n) {
		/* b: this is all of the old tree, whose root the verifier has */
		if (b) {
			memcpy(o, old_root, MERKLE_HASH);
		} else {
			if (*left == 0)
				return -1;
			memcpy(o, proof[--*left], MERKLE_HASH);
		}
		memcpy(nw, o, MERKLE_HASH);
		return 0;
	}
	if (*left == 0)
		return -1;
	sib = proof[--*left];
	k = naive_k(n);
	if (m <= k) {
		if (naive_cons_roots(so, sn, m, k, b, old_root, proof,
		    left) != 0)
			return -1;
		memcpy(o, so, MERKLE_HASH);
		merkle_node_hash(nw, sn, sib);
	} else {
		if (naive_cons_roots(so, sn, m - k, n - k, 0, old_root, proof,
		    left) != 0)
			return -1;
		merkle_node_hash(o, sib, so);
		merkle_node_hash(nw, sib, sn);
	}
	return 0;
}

static int
naive_verify_consistency(uint64_t m, uint64_t size,
    const uint8_t old_root[MERKLE_HASH], const uint8_t new_root[MERKLE_HASH],
    const hash_t *proof, size_t n)
{
	uint8_t o[MERKLE_HASH], nw[MERKLE_HASH];
	size_t left = n;

	if (m == 0 || m > size)
		return -1;
	if (m == size)
		return n == 0 && memcmp(old_root, new_root, MERKLE_HASH) == 0 ?
		    0 : -1;
	if (naive_cons_roots(o, nw, m, size, 1, old_root, proof, &left) != 0)
		return -1;
	return left == 0 && memcmp(o, old_root, MERKLE_HASH) == 0 &&
	    memcmp(nw, new_root, MERKLE_HASH) == 0 ? 0 : -1;
}

/* ---- RFC 6962 known answers (tests/vectors/rfc6962-merkle.json) -------- */

static void
hex32(json_t *obj, const char *key, uint8_t out[MERKLE_HASH])
{
	size_t len;
	uint8_t *p = vec_hex(obj, key, &len);

	assert_int_equal(len, MERKLE_HASH);
	memcpy(out, p, MERKLE_HASH);
	free(p);
}

/* Entry i of a JSON array of hex strings, which must be 32 bytes. */
static void
hex32_at(json_t *arr, size_t i, uint8_t out[MERKLE_HASH])
{
	json_t *v = json_array_get(arr, i);
	size_t len;
	uint8_t *p;

	assert_true(json_is_string(v));
	p = vec_unhex(json_string_value(v), &len);
	assert_int_equal(len, MERKLE_HASH);
	memcpy(out, p, MERKLE_HASH);
	free(p);
}

/* Every entry of a JSON array of 32-byte hex hashes; returns the count. */
static size_t
hex_list(json_t *arr, hash_t *out, size_t max)
{
	json_t *v;
	size_t i, len;

	assert_true(json_is_array(arr));
	assert_true(json_array_size(arr) <= max);
	json_array_foreach(arr, i, v) {
		uint8_t *p = vec_unhex(json_string_value(v), &len);

		assert_int_equal(len, MERKLE_HASH);
		memcpy(out[i], p, MERKLE_HASH);
		free(p);
	}
	return json_array_size(arr);
}

/*
 * rfc6962-merkle.json has one leafIdx of 2^64 - 1, past jansson's json_int_t
 * (int64_t), and vec_load() refuses the whole file for it.  So it is read
 * here with every integer literal too long for int64_t turned into a string
 * of the same digits; json_u64() takes either form.
 */
static json_t *
load_merkle_vectors(void)
{
	const char *dir = getenv("KODEN_VECTORS");
	char path[1024], *in, *out;
	size_t len = 0, o = 0, cap;
	int in_str = 0, esc = 0;
	json_error_t err;
	json_t *j;
	FILE *f;
	long sz;

	snprintf(path, sizeof(path), "%s/rfc6962-merkle.json",
	    dir != NULL ? dir : "tests/vectors");
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	sz = ftell(f);
	assert_true(sz > 0 && sz < (1 << 24));
	rewind(f);
	in = malloc((size_t)sz + 1);
	assert_non_null(in);
	len = fread(in, 1, (size_t)sz, f);
	fclose(f);
	assert_int_equal(len, (size_t)sz);
	/* each digit run gains at most two quotes, and runs are >= 1 apart */
	cap = 2 * len + 2;
	out = malloc(cap);
	assert_non_null(out);
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];

		if (in_str) {
			if (esc)
				esc = 0;
			else if (ch == '\\')
				esc = 1;
			else if (ch == '"')
				in_str = 0;
		} else if (ch == '"') {
			in_str = 1;
		} else if (ch >= '0' && ch <= '9') {
			size_t e = i;

			while (e < len && in[e] >= '0' && in[e] <= '9')
				e++;
			if (e - i >= 19) {	/* INT64_MAX has 19 digits */
				out[o++] = '"';
				memcpy(out + o, in + i, e - i);
				o += e - i;
				out[o++] = '"';
			} else {
				memcpy(out + o, in + i, e - i);
				o += e - i;
			}
			i = e - 1;
			continue;
		}
		out[o++] = ch;
	}
	assert_true(o < cap);
	out[o] = '\0';
	j = json_loads(out, 0, &err);
	if (j == NULL)
		fail_msg("cannot load %s: %s (line %d)", path, err.text,
		    err.line);
	free(out);
	free(in);
	return j;
}

static uint64_t
json_u64(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	unsigned long long u;
	const char *s;
	char *end;

	if (json_is_integer(v)) {
		assert_true(json_integer_value(v) >= 0);
		return (uint64_t)json_integer_value(v);
	}
	assert_true(json_is_string(v));
	s = json_string_value(v);
	errno = 0;
	u = strtoull(s, &end, 10);
	assert_true(errno == 0 && *s != '\0' && *end == '\0');
	return (uint64_t)u;
}

static void
test_hash_examples(void **state)
{
	json_t *root = load_merkle_vectors();
	json_t *ex = json_object_get(root, "hash_examples"), *e;
	uint8_t want[MERKLE_HASH], got[MERKLE_HASH];
	size_t idx, seen = 0;

	(void)state;
	assert_int_equal(json_array_size(ex), 4);
	json_array_foreach(ex, idx, e) {
		const char *fn = json_string_value(json_object_get(e,
		    "function"));
		size_t la, lb;
		uint8_t *a, *b;

		hex32(e, "want", want);
		if (strcmp(fn, "empty_root") == 0) {
			merkle_empty_root(got);
			assert_memory_equal(got, want, MERKLE_HASH);
			/* and a tree of no leaves has it as its root */
			assert_int_equal(merkle_root(got, NULL, 0), 0);
			assert_memory_equal(got, want, MERKLE_HASH);
		} else if (strcmp(fn, "hash_leaf") == 0) {
			a = vec_hex(e, "input", &la);
			merkle_leaf_hash(got, a, la);
			assert_memory_equal(got, want, MERKLE_HASH);
			free(a);
		} else if (strcmp(fn, "hash_children") == 0) {
			/*
			 * The example hashes 4-byte strings, which the typed
			 * merkle_node_hash cannot take: check the rule
			 * SHA-256(0x01 || l || r) on them here, and
			 * merkle_node_hash against the same rule in
			 * test_node_hash_rule and on the reference tree.
			 */
			crypto_hash_sha256_state st;
			uint8_t one = 0x01;

			a = vec_hex(e, "left", &la);
			b = vec_hex(e, "right", &lb);
			crypto_hash_sha256_init(&st);
			crypto_hash_sha256_update(&st, &one, 1);
			crypto_hash_sha256_update(&st, a, la);
			crypto_hash_sha256_update(&st, b, lb);
			crypto_hash_sha256_final(&st, got);
			assert_memory_equal(got, want, MERKLE_HASH);
			free(a);
			free(b);
		} else {
			fail_msg("unknown hash example function %s", fn);
		}
		seen++;
	}
	assert_int_equal(seen, 4);
	json_decref(root);
}

/* merkle_node_hash is SHA-256(0x01 || l || r), also when out aliases. */
static void
test_node_hash_rule(void **state)
{
	uint8_t buf[1 + 2 * MERKLE_HASH], want[MERKLE_HASH], got[MERKLE_HASH];
	uint8_t l[MERKLE_HASH], r[MERKLE_HASH];

	(void)state;
	for (int i = 0; i < 100; i++) {
		randombytes_buf(l, sizeof(l));
		randombytes_buf(r, sizeof(r));
		buf[0] = 0x01;
		memcpy(buf + 1, l, MERKLE_HASH);
		memcpy(buf + 1 + MERKLE_HASH, r, MERKLE_HASH);
		crypto_hash_sha256(want, buf, sizeof(buf));
		merkle_node_hash(got, l, r);
		assert_memory_equal(got, want, MERKLE_HASH);
		merkle_node_hash(l, l, r);
		assert_memory_equal(l, want, MERKLE_HASH);
		memcpy(l, buf + 1, MERKLE_HASH);
		merkle_node_hash(r, l, r);
		assert_memory_equal(r, want, MERKLE_HASH);
	}
}

static void
test_reference_tree(void **state)
{
	json_t *root = load_merkle_vectors();
	json_t *tree = json_object_get(root, "reference_tree");
	json_t *inputs = json_object_get(tree, "leaf_inputs");
	json_t *levels = json_object_get(tree, "node_hashes_by_level");
	json_t *roots = json_object_get(tree, "root_hashes_by_size");
	hash_t leaves[8], want[8];
	struct merkle_mem mem = { (const hash_t *)leaves, 8 };
	struct merkle_compact c;
	uint8_t got[MERKLE_HASH];
	size_t i, len, nodes = 0;

	(void)state;
	assert_int_equal(json_array_size(inputs), 8);
	for (i = 0; i < 8; i++) {
		uint8_t *d = vec_unhex(json_string_value(json_array_get(inputs,
		    i)), &len);

		merkle_leaf_hash(leaves[i], d, len);
		free(d);
	}
	naive_tree((const hash_t *)leaves);

	/* level l, index i covers leaves [i * 2^l, (i + 1) * 2^l) */
	assert_int_equal(json_array_size(levels), 4);
	for (size_t l = 0; l < 4; l++) {
		size_t cnt = hex_list(json_array_get(levels, l), want, 8);
		uint64_t w = (uint64_t)1 << l;

		assert_int_equal(cnt, 8 >> l);
		for (i = 0; i < cnt; i++) {
			if (l == 0) {
				assert_memory_equal(leaves[i], want[i],
				    MERKLE_HASH);
			}
			assert_int_equal(merkle_mem_range(&mem, i * w,
			    (i + 1) * w, got), 0);
			assert_memory_equal(got, want[i], MERKLE_HASH);
			assert_int_equal(merkle_root(got,
			    (const hash_t *)leaves + i * w, w), 0);
			assert_memory_equal(got, want[i], MERKLE_HASH);
			naive_mth(got, i * w, w);
			assert_memory_equal(got, want[i], MERKLE_HASH);
			nodes++;
		}
	}
	assert_int_equal(nodes, 15);

	/* the root at every size 0..8, four ways */
	assert_int_equal(json_array_size(roots), 9);
	merkle_compact_init(&c);
	for (uint64_t n = 0; n <= 8; n++) {
		hex32_at(roots, n, want[0]);
		assert_int_equal(merkle_root(got, (const hash_t *)leaves, n),
		    0);
		assert_memory_equal(got, want[0], MERKLE_HASH);
		merkle_compact_root(&c, got);
		assert_memory_equal(got, want[0], MERKLE_HASH);
		assert_int_equal(merkle_tree_root(got, n, merkle_mem_range,
		    &mem), 0);
		assert_memory_equal(got, want[0], MERKLE_HASH);
		naive_mth(got, 0, n);
		assert_memory_equal(got, want[0], MERKLE_HASH);
		if (n < 8)
			assert_int_equal(merkle_compact_append(&c, leaves[n]),
			    0);
	}
	json_decref(root);
}

static void
test_reference_proofs(void **state)
{
	json_t *root = load_merkle_vectors();
	json_t *tree = json_object_get(root, "reference_tree");
	json_t *inputs = json_object_get(tree, "leaf_inputs");
	json_t *incl = json_object_get(root, "reference_inclusion_proofs");
	json_t *cons = json_object_get(root, "reference_consistency_proofs");
	hash_t leaves[8], want[MERKLE_PROOF_MAX], got[MERKLE_PROOF_MAX];
	struct merkle_mem mem = { (const hash_t *)leaves, 8 };
	uint8_t r1[MERKLE_HASH], r2[MERKLE_HASH];
	json_t *p;
	size_t i, len, nw, ng;

	(void)state;
	for (i = 0; i < 8; i++) {
		uint8_t *d = vec_unhex(json_string_value(json_array_get(inputs,
		    i)), &len);

		merkle_leaf_hash(leaves[i], d, len);
		free(d);
	}

	assert_int_equal(json_array_size(incl), 7);
	json_array_foreach(incl, i, p) {
		uint64_t idx = json_u64(p, "leafIdx");
		uint64_t size = json_u64(p, "treeSize");

		nw = hex_list(json_object_get(p, "proof"), want,
		    MERKLE_PROOF_MAX);
		mem.n = size;
		assert_int_equal(merkle_inclusion_proof(got, MERKLE_PROOF_MAX,
		    &ng, idx, size, merkle_mem_range, &mem), 0);
		assert_int_equal(ng, nw);
		if (nw)
			assert_memory_equal(got, want, nw * MERKLE_HASH);
		assert_int_equal(merkle_root(r1, (const hash_t *)leaves, size),
		    0);
		assert_int_equal(merkle_verify_inclusion(leaves[idx], idx, size,
		    (const hash_t *)got, ng, r1), 0);
	}

	assert_int_equal(json_array_size(cons), 4);
	json_array_foreach(cons, i, p) {
		uint64_t m = json_u64(p, "size1");
		uint64_t size = json_u64(p, "size2");

		nw = hex_list(json_object_get(p, "proof"), want,
		    MERKLE_PROOF_MAX);
		mem.n = size;
		assert_int_equal(merkle_consistency_proof(got,
		    MERKLE_PROOF_MAX, &ng, m, size, merkle_mem_range, &mem), 0);
		assert_int_equal(ng, nw);
		if (nw)
			assert_memory_equal(got, want, nw * MERKLE_HASH);
		assert_int_equal(merkle_root(r1, (const hash_t *)leaves, m), 0);
		assert_int_equal(merkle_root(r2, (const hash_t *)leaves, size),
		    0);
		assert_int_equal(merkle_verify_consistency(m, size, r1, r2,
		    (const hash_t *)got, ng), 0);
	}
	json_decref(root);
}

/*
 * The probes hold some values that are not 32 bytes ("WrongLeaf", "don't
 * care 1", ""), which the typed API cannot be given.  A caller's decoder
 * decides those, and this is the decision the test makes for it:
 *  - a leaf hash or proof entry of another length is rejected while
 *    decoding: it is hashed, and no SHA-256 value has that length;
 *  - a root is an opaque value the verifier only compares, so a root of
 *    another length stands in as SHA-256(0x02 || value): equal values stay
 *    equal, and 0x02 keeps it apart from every leaf (0x00) and node (0x01)
 *    hash.  transparency-dev accepts two equal 12-byte roots for equal sizes
 *    ("sizes are equal (one) and proof is empty"); so does this.
 */
static int
probe_hash(json_t *obj, const char *key, uint8_t out[MERKLE_HASH])
{
	size_t len;
	uint8_t *p = vec_hex(obj, key, &len);
	int ok = len == MERKLE_HASH;

	if (ok)
		memcpy(out, p, MERKLE_HASH);
	free(p);
	return ok;
}

static void
probe_root(json_t *obj, const char *key, uint8_t out[MERKLE_HASH])
{
	crypto_hash_sha256_state st;
	uint8_t two = 0x02, *p;
	size_t len;

	if (probe_hash(obj, key, out))
		return;
	p = vec_hex(obj, key, &len);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &two, 1);
	crypto_hash_sha256_update(&st, p, len);
	crypto_hash_sha256_final(&st, out);
	free(p);
}

/* The proof entries; 0 if one of them is not 32 bytes. */
static int
probe_proof(json_t *obj, hash_t *out, size_t *n)
{
	json_t *arr = json_object_get(obj, "proof"), *v;
	size_t i, len;
	int ok = 1;

	assert_true(json_is_array(arr));
	assert_true(json_array_size(arr) <= MERKLE_PROOF_MAX);
	json_array_foreach(arr, i, v) {
		uint8_t *p = vec_unhex(json_string_value(v), &len);

		if (len == MERKLE_HASH)
			memcpy(out[i], p, MERKLE_HASH);
		else
			ok = 0;
		free(p);
	}
	*n = json_array_size(arr);
	return ok;
}

static void
test_inclusion_probes(void **state)
{
	json_t *root = load_merkle_vectors();
	json_t *probes = json_object_get(root, "inclusion_probes"), *p;
	int valid = 0, rejected = 0, at_decode = 0, agree = 0;
	size_t i;

	(void)state;
	assert_int_equal(json_array_size(probes), 98);
	json_array_foreach(probes, i, p) {
		hash_t proof[MERKLE_PROOF_MAX];
		uint8_t leaf[MERKLE_HASH], rt[MERKLE_HASH];
		uint64_t idx = json_u64(p, "leafIdx");
		uint64_t size = json_u64(p, "treeSize");
		int want_err = json_is_true(json_object_get(p, "wantErr"));
		int decoded, r;
		size_t n;

		decoded = probe_hash(p, "leafHash", leaf);
		decoded &= probe_proof(p, proof, &n);
		probe_root(p, "root", rt);
		if (!decoded) {
			r = KERR_INVALID;
			at_decode++;
		} else {
			r = merkle_verify_inclusion(leaf, idx, size,
			    (const hash_t *)proof, n, rt);
			assert_true(r == 0 || r == KERR_INVALID);
			/* the naive verifier decides every probe the same */
			assert_int_equal(r == 0, naive_verify_inclusion(leaf,
			    idx, size, (const hash_t *)proof, n, rt) == 0);
		}
		if ((r != 0) != want_err)
			fail_msg("%s: got %s, want %s",
			    json_string_value(json_object_get(p, "file")),
			    r ? "reject" : "accept",
			    want_err ? "reject" : "accept");
		agree++;
		if (r == 0)
			valid++;
		else
			rejected++;
	}
	print_message("inclusion probes: %d/98 as expected (%d accepted, "
	    "%d rejected, %d of them at decoding)\n", agree, valid, rejected,
	    at_decode);
	assert_int_equal(agree, 98);
	json_decref(root);
}

static void
test_consistency_probes(void **state)
{
	json_t *root = load_merkle_vectors();
	json_t *probes = json_object_get(root, "consistency_probes"), *p;
	int valid = 0, rejected = 0, at_decode = 0, agree = 0;
	size_t i;

	(void)state;
	assert_int_equal(json_array_size(probes), 98);
	json_array_foreach(probes, i, p) {
		hash_t proof[MERKLE_PROOF_MAX];
		uint8_t r1[MERKLE_HASH], r2[MERKLE_HASH];
		uint64_t m = json_u64(p, "size1");
		uint64_t size = json_u64(p, "size2");
		int want_err = json_is_true(json_object_get(p, "wantErr"));
		int r;
		size_t n;

		probe_root(p, "root1", r1);
		probe_root(p, "root2", r2);
		if (!probe_proof(p, proof, &n)) {
			r = KERR_INVALID;
			at_decode++;
		} else {
			r = merkle_verify_consistency(m, size, r1, r2,
			    (const hash_t *)proof, n);
			assert_true(r == 0 || r == KERR_INVALID);
			assert_int_equal(r == 0, naive_verify_consistency(m,
			    size, r1, r2, (const hash_t *)proof, n) == 0);
		}
		if ((r != 0) != want_err)
			fail_msg("%s: got %s, want %s",
			    json_string_value(json_object_get(p, "file")),
			    r ? "reject" : "accept",
			    want_err ? "reject" : "accept");
		agree++;
		if (r == 0)
			valid++;
		else
			rejected++;
	}
	print_message("consistency probes: %d/98 as expected (%d accepted, "
	    "%d rejected, %d of them at decoding)\n", agree, valid, rejected,
	    at_decode);
	assert_int_equal(agree, 98);
	json_decref(root);
}

/* ---- the library against the naive reference -------------------------- */

/* Library and naive verifier agree on (index, size, proof); returns the
 * library's verdict (0 accept). */
static int
both_inclusion(const uint8_t leaf[MERKLE_HASH], uint64_t index, uint64_t size,
    const hash_t *proof, size_t n, const uint8_t root[MERKLE_HASH])
{
	int r = merkle_verify_inclusion(leaf, index, size, proof, n, root);

	assert_true(r == 0 || r == KERR_INVALID);
	assert_int_equal(r == 0,
	    naive_verify_inclusion(leaf, index, size, proof, n, root) == 0);
	return r;
}

static int
both_consistency(uint64_t m, uint64_t size, const uint8_t r1[MERKLE_HASH],
    const uint8_t r2[MERKLE_HASH], const hash_t *proof, size_t n)
{
	int r = merkle_verify_consistency(m, size, r1, r2, proof, n);

	assert_true(r == 0 || r == KERR_INVALID);
	assert_int_equal(r == 0,
	    naive_verify_consistency(m, size, r1, r2, proof, n) == 0);
	return r;
}

static void
test_random_vs_naive(void **state)
{
	static hash_t leaves[NAIVE_MAX], roots[NAIVE_MAX + 1];
	hash_t got[MERKLE_PROOF_MAX + 1], want[MERKLE_PROOF_MAX + 1];
	uint8_t other[MERKLE_HASH];
	long n_incl = 0, n_cons = 0, n_var = 0;
	struct merkle_compact c;
	struct table t;
	size_t ng, nw;

	(void)state;
	for (uint64_t size = 0; size <= 300; size++) {
		/* the variants cost ten verifications each: all of them up
		 * to 100 leaves, every 7th index or m above */
		uint64_t stride = size <= 100 ? 1 : 7;

		fill_leaves(leaves, size, size);
		naive_tree((const hash_t *)leaves);
		table_build(&t, (const hash_t *)leaves, size);
		/* the root at every prefix (merkle_root itself is checked
		 * at every size in test_compact) */
		merkle_compact_init(&c);
		for (uint64_t m = 0; m <= size; m++) {
			merkle_compact_root(&c, roots[m]);
			naive_mth(want[0], 0, m);
			assert_memory_equal(roots[m], want[0], MERKLE_HASH);
			if (m < size)
				assert_int_equal(merkle_compact_append(&c,
				    leaves[m]), 0);
		}
		assert_int_equal(merkle_root(got[0], (const hash_t *)leaves,
		    size), 0);
		assert_memory_equal(got[0], roots[size], MERKLE_HASH);
		assert_int_equal(merkle_tree_root(got[0], size, table_range,
		    &t), 0);
		assert_memory_equal(got[0], roots[size], MERKLE_HASH);
		memset(other, 0xa5, sizeof(other));

		for (uint64_t idx = 0; idx < size; idx++) {
			const uint8_t *leaf = leaves[idx], *rt = roots[size];

			assert_int_equal(merkle_inclusion_proof(got,
			    MERKLE_PROOF_MAX, &ng, idx, size, table_range, &t),
			    0);
			nw = 0;
			naive_path(want, &nw, idx, 0, size);
			assert_int_equal(ng, nw);
			if (nw)
				assert_memory_equal(got, want,
				    nw * MERKLE_HASH);
			assert_int_equal(both_inclusion(leaf, idx, size,
			    (const hash_t *)got, ng, rt), 0);
			n_incl++;
			if (idx % stride != 0)
				continue;
			n_var++;

			/* one hash short, one too many, either end */
			if (ng > 0) {
				assert_int_not_equal(both_inclusion(leaf, idx,
				    size, (const hash_t *)got, ng - 1, rt), 0);
				assert_int_not_equal(both_inclusion(leaf, idx,
				    size, (const hash_t *)got + 1, ng - 1, rt),
				    0);
			}
			memcpy(got[ng], rt, MERKLE_HASH);
			assert_int_not_equal(both_inclusion(leaf, idx, size,
			    (const hash_t *)got, ng + 1, rt), 0);
			/* another leaf, index or size: whatever the library
			 * says, the naive verifier says too */
			both_inclusion(other, idx, size, (const hash_t *)got,
			    ng, rt);
			both_inclusion(leaf, idx ^ 1, size,
			    (const hash_t *)got, ng, rt);
			both_inclusion(leaf, idx + 1, size,
			    (const hash_t *)got, ng, rt);
			both_inclusion(leaf, idx, size + 1,
			    (const hash_t *)got, ng, rt);
			both_inclusion(leaf, idx, size - 1,
			    (const hash_t *)got, ng, rt);
			both_inclusion(leaf, idx, size,
			    (const hash_t *)got, ng, roots[size - 1]);
		}

		for (uint64_t m = 1; m <= size; m++) {
			const uint8_t *r1 = roots[m], *r2 = roots[size];

			assert_int_equal(merkle_consistency_proof(got,
			    MERKLE_PROOF_MAX, &ng, m, size, table_range, &t),
			    0);
			nw = 0;
			naive_subproof(want, &nw, m, 0, size, 1);
			assert_int_equal(ng, nw);
			if (nw)
				assert_memory_equal(got, want,
				    nw * MERKLE_HASH);
			assert_int_equal(both_consistency(m, size, r1, r2,
			    (const hash_t *)got, ng), 0);
			n_cons++;
			if (m % stride != 0)
				continue;
			n_var++;

			if (ng > 0) {
				assert_int_not_equal(both_consistency(m, size,
				    r1, r2, (const hash_t *)got, ng - 1), 0);
				assert_int_not_equal(both_consistency(m, size,
				    r1, r2, (const hash_t *)got + 1, ng - 1),
				    0);
			}
			memcpy(got[ng], r1, MERKLE_HASH);
			assert_int_not_equal(both_consistency(m, size, r1, r2,
			    (const hash_t *)got, ng + 1), 0);
			both_consistency(m, size, r2, r1, (const hash_t *)got,
			    ng);
			both_consistency(m ^ 1, size, r1, r2,
			    (const hash_t *)got, ng);
			both_consistency(m - 1, size, r1, r2,
			    (const hash_t *)got, ng);
			both_consistency(m + 1, size, r1, r2,
			    (const hash_t *)got, ng);
			both_consistency(m, size + 1, r1, r2,
			    (const hash_t *)got, ng);
			both_consistency(m, size - 1, r1, r2,
			    (const hash_t *)got, ng);
		}
		/* m == 0 and m > size: no proof to make */
		assert_int_equal(merkle_consistency_proof(got,
		    MERKLE_PROOF_MAX, &ng, 0, size, table_range, &t),
		    KERR_INVALID);
		assert_int_equal(merkle_consistency_proof(got,
		    MERKLE_PROOF_MAX, &ng, size + 1, size, table_range, &t),
		    KERR_INVALID);
		table_free(&t);
	}
	print_message("naive reference: %ld inclusion and %ld consistency "
	    "proofs equal and verified by both; %ld of them also altered "
	    "9 ways, library and naive verdicts equal\n", n_incl, n_cons,
	    n_var);
	/* sum of 0..300, and of 1..300 */
	assert_int_equal(n_incl, 45150);
	assert_int_equal(n_cons, 45150);
}

/* merkle_mem (the simple backend) gives the same proofs as the table. */
static void
test_mem_backend(void **state)
{
	static hash_t leaves[70];
	hash_t a[MERKLE_PROOF_MAX], b[MERKLE_PROOF_MAX];
	struct merkle_mem mem = { (const hash_t *)leaves, 0 };
	uint8_t out[MERKLE_HASH];
	struct table t;
	size_t na, nb;

	(void)state;
	for (uint64_t size = 1; size <= 70; size++) {
		fill_leaves(leaves, size, 1000 + size);
		table_build(&t, (const hash_t *)leaves, size);
		mem.n = size;
		for (uint64_t i = 0; i < size; i++) {
			assert_int_equal(merkle_inclusion_proof(a,
			    MERKLE_PROOF_MAX, &na, i, size, merkle_mem_range,
			    &mem), 0);
			assert_int_equal(merkle_inclusion_proof(b,
			    MERKLE_PROOF_MAX, &nb, i, size, table_range, &t),
			    0);
			assert_int_equal(na, nb);
			if (na)
				assert_memory_equal(a, b, na * MERKLE_HASH);
			assert_int_equal(merkle_consistency_proof(a,
			    MERKLE_PROOF_MAX, &na, i + 1, size,
			    merkle_mem_range, &mem), 0);
			assert_int_equal(merkle_consistency_proof(b,
			    MERKLE_PROOF_MAX, &nb, i + 1, size, table_range,
			    &t), 0);
			assert_int_equal(na, nb);
			if (na)
				assert_memory_equal(a, b, na * MERKLE_HASH);
		}
		table_free(&t);
	}
	/* ranges that are not complete subtrees within [0, n) */
	mem.n = 8;
	assert_int_equal(merkle_mem_range(&mem, 0, 3, out), KERR_INVALID);
	assert_int_equal(merkle_mem_range(&mem, 1, 3, out), KERR_INVALID);
	assert_int_equal(merkle_mem_range(&mem, 2, 2, out), KERR_INVALID);
	assert_int_equal(merkle_mem_range(&mem, 3, 2, out), KERR_INVALID);
	assert_int_equal(merkle_mem_range(&mem, 8, 16, out), KERR_INVALID);
	assert_int_equal(merkle_mem_range(&mem, 6, 10, out), KERR_INVALID);
	assert_int_equal(merkle_mem_range(NULL, 0, 1, out), KERR_INVALID);
	assert_int_equal(merkle_mem_range(&mem, 4, 8, out), 0);
}

static void
test_compact(void **state)
{
	static hash_t leaves[1025];
	uint8_t a[MERKLE_HASH], b[MERKLE_HASH];
	struct merkle_compact c, saved;

	(void)state;
	fill_leaves(leaves, 1025, 7);
	naive_tree((const hash_t *)leaves);
	merkle_compact_init(&c);
	for (uint64_t n = 0; n <= 1025; n++) {
		assert_int_equal(c.size, n);
		merkle_compact_root(&c, a);
		assert_int_equal(merkle_root(b, (const hash_t *)leaves, n), 0);
		assert_memory_equal(a, b, MERKLE_HASH);
		if (n <= NAIVE_MAX) {
			naive_mth(b, 0, n);
			assert_memory_equal(a, b, MERKLE_HASH);
		}
		if (n < 1025)
			assert_int_equal(merkle_compact_append(&c, leaves[n]),
			    0);
	}

	/* 2^64 - 1 leaves use all 64 slots; the next append is refused */
	merkle_compact_init(&c);
	c.size = UINT64_MAX;
	for (int i = 0; i < MERKLE_COMPACT_MAX; i++)
		memcpy(c.stack[i], same_leaf_h[63 - i], MERKLE_HASH);
	saved = c;
	assert_int_equal(merkle_compact_append(&c, leaves[0]), KERR_TOOBIG);
	assert_memory_equal(&c, &saved, sizeof(c));
	/* and its root is the one the same-leaf tree gives for that size */
	merkle_compact_root(&c, a);
	assert_int_equal(merkle_tree_root(b, UINT64_MAX, same_leaf_range,
	    NULL), 0);
	assert_memory_equal(a, b, MERKLE_HASH);

	/* from 2^64 - 2 one append still fits, by carrying nothing */
	merkle_compact_init(&c);
	c.size = UINT64_MAX - 1;
	for (int i = 0; i < MERKLE_COMPACT_MAX - 1; i++)
		memcpy(c.stack[i], same_leaf_h[63 - i], MERKLE_HASH);
	assert_int_equal(merkle_compact_append(&c, same_leaf_h[0]), 0);
	assert_true(c.size == UINT64_MAX);
	merkle_compact_root(&c, a);
	assert_memory_equal(a, b, MERKLE_HASH);

	assert_int_equal(merkle_root(a, NULL, 1), KERR_INVALID);
}

/*
 * Every single-bit flip of a valid proof entry, of the leaf hash and of
 * each root must fail: every entry is hashed into a compared value.
 */
static void
flip_inclusion(const uint8_t leaf[MERKLE_HASH], uint64_t idx, uint64_t size,
    hash_t *proof, size_t n, const uint8_t root[MERKLE_HASH], long *flips)
{
	uint8_t l[MERKLE_HASH], r[MERKLE_HASH];

	for (size_t e = 0; e < n; e++)
		for (int bit = 0; bit < 8 * MERKLE_HASH; bit++) {
			proof[e][bit / 8] ^= (uint8_t)(1 << (bit % 8));
			assert_int_equal(merkle_verify_inclusion(leaf, idx,
			    size, (const hash_t *)proof, n, root),
			    KERR_INVALID);
			proof[e][bit / 8] ^= (uint8_t)(1 << (bit % 8));
			(*flips)++;
		}
	for (int bit = 0; bit < 8 * MERKLE_HASH; bit++) {
		memcpy(l, leaf, MERKLE_HASH);
		memcpy(r, root, MERKLE_HASH);
		l[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		r[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_int_equal(merkle_verify_inclusion(l, idx, size,
		    (const hash_t *)proof, n, root), KERR_INVALID);
		assert_int_equal(merkle_verify_inclusion(leaf, idx, size,
		    (const hash_t *)proof, n, r), KERR_INVALID);
		*flips += 2;
	}
	assert_int_equal(merkle_verify_inclusion(leaf, idx, size,
	    (const hash_t *)proof, n, root), 0);
}

static void
flip_consistency(uint64_t m, uint64_t size, const uint8_t r1[MERKLE_HASH],
    const uint8_t r2[MERKLE_HASH], hash_t *proof, size_t n, long *flips)
{
	uint8_t a[MERKLE_HASH], b[MERKLE_HASH];

	for (size_t e = 0; e < n; e++)
		for (int bit = 0; bit < 8 * MERKLE_HASH; bit++) {
			proof[e][bit / 8] ^= (uint8_t)(1 << (bit % 8));
			assert_int_equal(merkle_verify_consistency(m, size,
			    r1, r2, (const hash_t *)proof, n), KERR_INVALID);
			proof[e][bit / 8] ^= (uint8_t)(1 << (bit % 8));
			(*flips)++;
		}
	for (int bit = 0; bit < 8 * MERKLE_HASH; bit++) {
		memcpy(a, r1, MERKLE_HASH);
		memcpy(b, r2, MERKLE_HASH);
		a[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		b[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_int_equal(merkle_verify_consistency(m, size, a, r2,
		    (const hash_t *)proof, n), KERR_INVALID);
		assert_int_equal(merkle_verify_consistency(m, size, r1, b,
		    (const hash_t *)proof, n), KERR_INVALID);
		*flips += 2;
	}
	assert_int_equal(merkle_verify_consistency(m, size, r1, r2,
	    (const hash_t *)proof, n), 0);
}

static void
test_bit_flips(void **state)
{
	/* every index and m of small trees, a few of bigger ones */
	static const uint64_t big[] = { 255, 256, 257, 1000, 1023, 1025 };
	static hash_t leaves[1025];
	hash_t proof[MERKLE_PROOF_MAX];
	uint8_t r1[MERKLE_HASH], r2[MERKLE_HASH];
	long flips = 0;
	struct table t;
	size_t n;

	(void)state;
	for (uint64_t size = 1; size <= 20 + 6; size++) {
		uint64_t sz = size <= 20 ? size : big[size - 21];
		uint64_t step = size <= 20 ? 1 : sz / 5 + 1;

		fill_leaves(leaves, sz, 5000 + sz);
		table_build(&t, (const hash_t *)leaves, sz);
		assert_int_equal(merkle_root(r2, (const hash_t *)leaves, sz), 0);
		for (uint64_t i = 0; i < sz; i += step) {
			assert_int_equal(merkle_inclusion_proof(proof,
			    MERKLE_PROOF_MAX, &n, i, sz, table_range, &t), 0);
			flip_inclusion(leaves[i], i, sz, proof, n, r2, &flips);
		}
		for (uint64_t m = 1; m <= sz; m += step) {
			assert_int_equal(merkle_root(r1, (const hash_t *)leaves,
			    m), 0);
			assert_int_equal(merkle_consistency_proof(proof,
			    MERKLE_PROOF_MAX, &n, m, sz, table_range, &t), 0);
			flip_consistency(m, sz, r1, r2, proof, n, &flips);
		}
		table_free(&t);
	}
	print_message("bit flips: %ld single-bit changes, all rejected\n",
	    flips);
}

/* The edges RFC 9162 and the probes name, one by one. */
static void
test_verify_edges(void **state)
{
	hash_t leaves[4], proof[MERKLE_PROOF_MAX + 2];
	uint8_t r1[MERKLE_HASH], r4[MERKLE_HASH], e[MERKLE_HASH];

	(void)state;
	fill_leaves(leaves, 4, 99);
	assert_int_equal(merkle_root(r1, (const hash_t *)leaves, 1), 0);
	assert_int_equal(merkle_root(r4, (const hash_t *)leaves, 4), 0);
	merkle_empty_root(e);
	memset(proof, 0, sizeof(proof));

	/* inclusion: a one-leaf tree's root is its leaf, with no proof */
	assert_int_equal(merkle_verify_inclusion(leaves[0], 0, 1, NULL, 0, r1),
	    0);
	/* index >= size, including the empty tree and 2^64 - 1 */
	assert_int_equal(merkle_verify_inclusion(leaves[0], 1, 1, NULL, 0, r1),
	    KERR_INVALID);
	assert_int_equal(merkle_verify_inclusion(leaves[0], 0, 0, NULL, 0, e),
	    KERR_INVALID);
	assert_int_equal(merkle_verify_inclusion(leaves[0], UINT64_MAX, 1,
	    NULL, 0, r1), KERR_INVALID);
	assert_int_equal(merkle_verify_inclusion(leaves[0], UINT64_MAX,
	    UINT64_MAX, (const hash_t *)proof, 64, r1), KERR_INVALID);
	/* over the cap, and NULL where hashes are promised */
	assert_int_equal(merkle_verify_inclusion(leaves[0], 0, UINT64_MAX,
	    (const hash_t *)proof, MERKLE_PROOF_MAX + 1, r1), KERR_INVALID);
	assert_int_equal(merkle_verify_inclusion(leaves[0], 0, 4, NULL, 2,
	    r4), KERR_INVALID);
	assert_int_equal(merkle_verify_inclusion(NULL, 0, 1, NULL, 0, r1),
	    KERR_INVALID);
	assert_int_equal(merkle_verify_inclusion(leaves[0], 0, 1, NULL, 0,
	    NULL), KERR_INVALID);

	/* consistency: m == size with an empty proof and equal roots only */
	assert_int_equal(merkle_verify_consistency(4, 4, r4, r4, NULL, 0), 0);
	assert_int_equal(merkle_verify_consistency(4, 4, r4, r1, NULL, 0),
	    KERR_INVALID);
	assert_int_equal(merkle_verify_consistency(4, 4, r4, r4,
	    (const hash_t *)proof, 1), KERR_INVALID);
	/* m == 0, even 0 to 0 with the empty root */
	assert_int_equal(merkle_verify_consistency(0, 0, e, e, NULL, 0),
	    KERR_INVALID);
	assert_int_equal(merkle_verify_consistency(0, 4, e, r4, NULL, 0),
	    KERR_INVALID);
	memcpy(proof[0], r4, MERKLE_HASH);
	assert_int_equal(merkle_verify_consistency(0, 4, e, r4,
	    (const hash_t *)proof, 1), KERR_INVALID);
	/* m > size */
	assert_int_equal(merkle_verify_consistency(4, 1, r4, r1, NULL, 0),
	    KERR_INVALID);
	assert_int_equal(merkle_verify_consistency(UINT64_MAX, 1, r1, r1,
	    NULL, 0), KERR_INVALID);
	/* m < size needs a proof (step 1), and not an overlong one */
	assert_int_equal(merkle_verify_consistency(1, 4, r1, r4, NULL, 0),
	    KERR_INVALID);
	assert_int_equal(merkle_verify_consistency(1, 4, r1, r4, NULL, 3),
	    KERR_INVALID);
	assert_int_equal(merkle_verify_consistency(1, UINT64_MAX, r1, r4,
	    (const hash_t *)proof, MERKLE_PROOF_MAX + 1), KERR_INVALID);
	assert_int_equal(merkle_verify_consistency(1, 4, NULL, r4,
	    (const hash_t *)proof, 2), KERR_INVALID);
	assert_int_equal(merkle_verify_consistency(1, 4, r1, NULL,
	    (const hash_t *)proof, 2), KERR_INVALID);
	/* all-zero proofs of every length up to the cap, huge sizes */
	memset(proof, 0, sizeof(proof));
	for (size_t n = 0; n <= MERKLE_PROOF_MAX; n++) {
		assert_int_equal(merkle_verify_inclusion(leaves[0],
		    UINT64_MAX - 1, UINT64_MAX, (const hash_t *)proof, n, r4),
		    KERR_INVALID);
		assert_int_equal(merkle_verify_consistency(UINT64_MAX - 1,
		    UINT64_MAX, r1, r4, (const hash_t *)proof, n),
		    KERR_INVALID);
	}
}

static int
failing_range(void *ctx, uint64_t a, uint64_t b, uint8_t out[MERKLE_HASH])
{
	(void)ctx;
	(void)a;
	(void)b;
	memset(out, 0, MERKLE_HASH);
	return KERR_IO;
}

static int
positive_range(void *ctx, uint64_t a, uint64_t b, uint8_t out[MERKLE_HASH])
{
	(void)ctx;
	(void)a;
	(void)b;
	memset(out, 0, MERKLE_HASH);
	return 1;
}

/* Generation refuses what has no proof and reports what goes wrong. */
static void
test_generate_errors(void **state)
{
	hash_t proof[MERKLE_PROOF_MAX];
	uint8_t out[MERKLE_HASH];
	size_t n;

	(void)state;
	n = 7;
	assert_int_equal(merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, &n,
	    0, 0, same_leaf_range, NULL), KERR_INVALID);
	assert_int_equal(n, 0);
	assert_int_equal(merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, &n,
	    5, 5, same_leaf_range, NULL), KERR_INVALID);
	assert_int_equal(merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, &n,
	    0, 5, NULL, NULL), KERR_INVALID);
	assert_int_equal(merkle_inclusion_proof(NULL, MERKLE_PROOF_MAX, &n,
	    0, 5, same_leaf_range, NULL), KERR_INVALID);
	assert_int_equal(merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, NULL,
	    0, 5, same_leaf_range, NULL), KERR_INVALID);
	/* a one-leaf tree needs no room at all */
	assert_int_equal(merkle_inclusion_proof(NULL, 0, &n, 0, 1,
	    same_leaf_range, NULL), 0);
	assert_int_equal(n, 0);
	/* too small a buffer: refused, *n stays 0 */
	n = 7;
	assert_int_equal(merkle_inclusion_proof(proof, 2, &n, 0, 5,
	    same_leaf_range, NULL), KERR_TOOBIG);
	assert_int_equal(n, 0);
	assert_int_equal(merkle_inclusion_proof(proof, 3, &n, 0, 5,
	    same_leaf_range, NULL), 0);
	assert_int_equal(n, 3);

	assert_int_equal(merkle_consistency_proof(proof, MERKLE_PROOF_MAX, &n,
	    0, 5, same_leaf_range, NULL), KERR_INVALID);
	assert_int_equal(merkle_consistency_proof(proof, MERKLE_PROOF_MAX, &n,
	    6, 5, same_leaf_range, NULL), KERR_INVALID);
	assert_int_equal(merkle_consistency_proof(proof, MERKLE_PROOF_MAX, &n,
	    0, 0, same_leaf_range, NULL), KERR_INVALID);
	assert_int_equal(merkle_consistency_proof(NULL, 0, &n, 5, 5,
	    same_leaf_range, NULL), 0);
	assert_int_equal(n, 0);
	/* 3 of 5 needs 4 hashes, the last being MTH(D[2:3]) (b false) */
	assert_int_equal(merkle_consistency_proof(proof, 3, &n, 3, 5,
	    same_leaf_range, NULL), KERR_TOOBIG);
	assert_int_equal(n, 0);
	assert_int_equal(merkle_consistency_proof(proof, 4, &n, 3, 5,
	    same_leaf_range, NULL), 0);
	assert_int_equal(n, 4);

	/* the backend's error is passed on; a positive one is not success */
	assert_int_equal(merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, &n,
	    1, 5, failing_range, NULL), KERR_IO);
	assert_int_equal(n, 0);
	assert_int_equal(merkle_consistency_proof(proof, MERKLE_PROOF_MAX, &n,
	    3, 5, failing_range, NULL), KERR_IO);
	assert_int_equal(merkle_tree_root(out, 5, failing_range, NULL),
	    KERR_IO);
	assert_int_equal(merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, &n,
	    1, 5, positive_range, NULL), KERR_INVALID);
	assert_int_equal(merkle_tree_root(out, 5, NULL, NULL), KERR_INVALID);
	assert_int_equal(merkle_tree_root(out, 0, failing_range, NULL), 0);
}

/* ceil(log2 n) for n >= 1 */
static int
ceil_log2(uint64_t n)
{
	int l = 0;

	while (l < 64 && ((uint64_t)1 << l) < n)
		l++;
	return l;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Proof sizes where the log will be: 10 million entries.  Sizes are
 * asserted; times are only printed.  (Measured on the development machine,
 * libsodium's portable SHA-256: an inclusion proof is 24 hashes = 768 bytes
 * and verifies in ~10 us; see the test output for this machine.)
 */
static void
test_proof_sizes(void **state)
{
	const uint64_t N = 10000000;
	static const uint64_t idx[] = { 0, 1, 4999999, 8388607, 8388608,
	    9999998, 9999999 };
	static const uint64_t ms[] = { 1, 2, 3, 1000, 4194304, 8388607,
	    8388608, 8388609, 9999999, 10000000 };
	hash_t proof[MERKLE_PROOF_MAX];
	uint8_t leaf[MERKLE_HASH], root[MERKLE_HASH], old[MERKLE_HASH];
	size_t n, max_incl = 0, max_cons = 0;
	double t0, gen = 0, ver = 0;
	int reps = 0;

	(void)state;
	memcpy(leaf, same_leaf_h[0], MERKLE_HASH);
	assert_int_equal(merkle_tree_root(root, N, same_leaf_range, NULL), 0);
	assert_int_equal(ceil_log2(N), 24);

	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		t0 = now();
		assert_int_equal(merkle_inclusion_proof(proof,
		    MERKLE_PROOF_MAX, &n, idx[i], N, same_leaf_range, NULL),
		    0);
		gen += now() - t0;
		t0 = now();
		assert_int_equal(merkle_verify_inclusion(leaf, idx[i], N,
		    (const hash_t *)proof, n, root), 0);
		ver += now() - t0;
		reps++;
		assert_true(n <= 24);
		if (n > max_incl)
			max_incl = n;
	}
	/* the leftmost leaf's path crosses all 24 levels */
	assert_int_equal(merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, &n,
	    0, N, same_leaf_range, NULL), 0);
	assert_int_equal(n, 24);
	assert_int_equal(n * MERKLE_HASH, 768);
	assert_int_equal(max_incl, 24);
	print_message("10M leaves: inclusion proof %zu hashes = %zu bytes; "
	    "generate %.1f us, verify %.1f us (mean of %d, not asserted)\n",
	    max_incl, max_incl * MERKLE_HASH, gen / reps * 1e6,
	    ver / reps * 1e6, reps);

	gen = ver = 0;
	reps = 0;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		assert_int_equal(merkle_tree_root(old, ms[i], same_leaf_range,
		    NULL), 0);
		t0 = now();
		assert_int_equal(merkle_consistency_proof(proof,
		    MERKLE_PROOF_MAX, &n, ms[i], N, same_leaf_range, NULL), 0);
		gen += now() - t0;
		t0 = now();
		assert_int_equal(merkle_verify_consistency(ms[i], N, old, root,
		    (const hash_t *)proof, n), 0);
		ver += now() - t0;
		reps++;
		/* one hash per level at most, plus MTH(D[m]) */
		assert_true(n <= 24 + 1);
		if (n > max_cons)
			max_cons = n;
	}
	print_message("10M leaves: consistency proof at most %zu hashes = "
	    "%zu bytes (bound ceil(log2 n) + 1 = 25); generate %.1f us, "
	    "verify %.1f us (mean of %d, not asserted)\n", max_cons,
	    max_cons * MERKLE_HASH, gen / reps * 1e6, ver / reps * 1e6, reps);
}

/* The largest trees a uint64_t counts: the caps are exact. */
static void
test_limits(void **state)
{
	const uint64_t half = (uint64_t)1 << 63;
	hash_t proof[MERKLE_PROOF_MAX];
	uint8_t root[MERKLE_HASH], old[MERKLE_HASH];
	size_t n;

	(void)state;
	assert_int_equal(merkle_tree_root(root, UINT64_MAX, same_leaf_range,
	    NULL), 0);
	assert_int_equal(merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, &n,
	    0, UINT64_MAX, same_leaf_range, NULL), 0);
	assert_int_equal(n, 64);
	assert_int_equal(merkle_verify_inclusion(same_leaf_h[0], 0,
	    UINT64_MAX, (const hash_t *)proof, n, root), 0);
	assert_int_equal(merkle_inclusion_proof(proof, MERKLE_PROOF_MAX, &n,
	    UINT64_MAX - 1, UINT64_MAX, same_leaf_range, NULL), 0);
	assert_int_equal(merkle_verify_inclusion(same_leaf_h[0],
	    UINT64_MAX - 1, UINT64_MAX, (const hash_t *)proof, n, root), 0);
	/* the same proof, one leaf to the left, must not verify */
	assert_int_equal(merkle_verify_inclusion(same_leaf_h[0],
	    UINT64_MAX - 2, UINT64_MAX, (const hash_t *)proof, n, root),
	    KERR_INVALID);

	/* the longest consistency proof: 65 hashes */
	assert_int_equal(merkle_tree_root(old, half - 1, same_leaf_range,
	    NULL), 0);
	assert_int_equal(merkle_tree_root(root, half + 1, same_leaf_range,
	    NULL), 0);
	assert_int_equal(merkle_consistency_proof(proof, MERKLE_PROOF_MAX, &n,
	    half - 1, half + 1, same_leaf_range, NULL), 0);
	assert_int_equal(n, MERKLE_PROOF_MAX);
	assert_int_equal(merkle_verify_consistency(half - 1, half + 1, old,
	    root, (const hash_t *)proof, n), 0);
	assert_int_equal(merkle_consistency_proof(proof, 64, &n, half - 1,
	    half + 1, same_leaf_range, NULL), KERR_TOOBIG);

	assert_int_equal(merkle_tree_root(old, UINT64_MAX - 1,
	    same_leaf_range, NULL), 0);
	assert_int_equal(merkle_tree_root(root, UINT64_MAX, same_leaf_range,
	    NULL), 0);
	assert_int_equal(merkle_consistency_proof(proof, MERKLE_PROOF_MAX, &n,
	    UINT64_MAX - 1, UINT64_MAX, same_leaf_range, NULL), 0);
	assert_int_equal(merkle_verify_consistency(UINT64_MAX - 1, UINT64_MAX,
	    old, root, (const hash_t *)proof, n), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_examples),
		cmocka_unit_test(test_node_hash_rule),
		cmocka_unit_test(test_reference_tree),
		cmocka_unit_test(test_reference_proofs),
		cmocka_unit_test(test_inclusion_probes),
		cmocka_unit_test(test_consistency_probes),
		cmocka_unit_test(test_random_vs_naive),
		cmocka_unit_test(test_mem_backend),
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_verify_edges),
		cmocka_unit_test(test_generate_errors),
		cmocka_unit_test(test_proof_sizes),
		cmocka_unit_test(test_limits),
	};

	if (sodium_init() < 0)
		return 1;
	same_leaf_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
