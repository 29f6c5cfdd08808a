/*
 * The signed roster (docs/directory.md, "Roster").
 *
 * One set of rules, applied the same way by the encoder (so that HQ cannot
 * publish a roster that posts would refuse) and by the decoder (so that a
 * post never acts on a roster that breaks them): entry_check for each entry
 * against the one before it, then links_check for what needs the whole
 * roster (one HQ, persons' posts present, no key used twice).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/directory.h"
#include "telegram/tg.h"

/* Smallest entry: kind, 1-byte name, empty post, keys, revoked. */
#define ROSTER_ENTRY_MIN (1 + 1 + 1 + 1 + KEY_SIGN_PK + KEY_ENC_PK + 1)
#define WHERE_MAX 64

static const char roster_label[] = ROSTER_SIG_LABEL;

/*
 * label || 0x00 || msg in one allocation: pure Ed25519 needs the whole
 * message at once (libsodium's multi-part API is Ed25519ph).
 */
static uint8_t *
labelled(size_t *out_len, const uint8_t *msg, size_t len)
{
	uint8_t *m;

	if (len > ROSTER_MAX || (m = malloc(sizeof(roster_label) + len)) == NULL)
		return NULL;
	memcpy(m, roster_label, sizeof(roster_label));	/* with its NUL */
	if (len)
		memcpy(m + sizeof(roster_label), msg, len);
	*out_len = sizeof(roster_label) + len;
	return m;
}

static int
roster_sign(uint8_t sig[static ROSTER_SIG_BYTES], const uint8_t *msg,
    size_t len, const uint8_t sk[static KEY_SIGN_SK])
{
	size_t n;
	uint8_t *m = labelled(&n, msg, len);

	if (m == NULL)
		return KERR_NOMEM;
	crypto_sign_detached(sig, NULL, m, n, sk);
	free(m);
	return 0;
}

/* 1 if sig verifies; 0 if not, or out of memory (never a false yes). */
static int
roster_verify(const uint8_t sig[static ROSTER_SIG_BYTES], const uint8_t *msg,
    size_t len, const uint8_t pk[static KEY_SIGN_PK])
{
	size_t n;
	uint8_t *m = labelled(&n, msg, len);
	int ok;

	if (m == NULL)
		return 0;
	ok = crypto_sign_verify_detached(sig, m, n, pk) == 0;
	free(m);
	return ok;
}

static const char *
kind_name(uint8_t kind)
{
	return kind == ROSTER_HQ ? "HQ" : kind == ROSTER_POST ? "post" :
	    kind == ROSTER_PERSON ? "person" : "?";
}

static int
is_site(uint8_t kind)
{
	return kind == ROSTER_HQ || kind == ROSTER_POST;
}

/*
 * One entry on its own, and its order after prev (NULL for the first).
 * where names the entry in messages ("roster entry 3", with a byte offset
 * when decoding).  Names are checked before they are quoted.
 */
static int
entry_check(const struct roster_entry *en, const struct roster_entry *prev,
    const char *where, struct kerr *e)
{
	struct kerr sub = { "" };
	int r;

	if (memchr(en->name, '\0', sizeof(en->name)) == NULL ||
	    memchr(en->post, '\0', sizeof(en->post)) == NULL)
		return kerr_set(e, KERR_INVALID, "%s: name or post is not "
		    "NUL-terminated", where);
	if (!is_site(en->kind) && en->kind != ROSTER_PERSON)
		return kerr_set(e, KERR_INVALID, "%s: unknown kind %u (1 HQ, "
		    "2 post, 3 person)", where, en->kind);
	if (is_site(en->kind)) {
		if ((r = tg_check_post(en->name, &sub)) != 0)
			return kerr_set(e, r, "%s (%s): %s", where,
			    kind_name(en->kind), sub.msg);
		if (en->post[0] != '\0')
			return kerr_set(e, KERR_INVALID, "%s (%s '%s'): only "
			    "a person entry names a post", where,
			    kind_name(en->kind), en->name);
	} else {
		if ((r = tg_check_person(en->name, &sub)) != 0)
			return kerr_set(e, r, "%s (person): %s", where, sub.msg);
		if ((r = tg_check_post(en->post, &sub)) != 0)
			return kerr_set(e, r, "%s (person '%s'): their post: %s",
			    where, en->name, sub.msg);
	}
	if (en->revoked > 1)
		return kerr_set(e, KERR_INVALID, "%s ('%s'): revoked flag is "
		    "%u (0 or 1)", where, en->name, en->revoked);
	if (en->revoked && en->kind == ROSTER_HQ)
		return kerr_set(e, KERR_INVALID, "%s ('%s'): the HQ entry "
		    "cannot be revoked (publish HQ's new key instead)", where,
		    en->name);
	if (sodium_is_zero(en->pk.sign, KEY_SIGN_PK) ||
	    sodium_is_zero(en->pk.enc, KEY_ENC_PK))
		return kerr_set(e, KERR_INVALID, "%s ('%s'): a public key is "
		    "all zeros (not set)", where, en->name);
	if (prev != NULL) {
		int c = strcmp(prev->name, en->name);

		if (c == 0)
			return kerr_set(e, KERR_INVALID, "%s: name '%s' appears "
			    "twice", where, en->name);
		if (c > 0)
			return kerr_set(e, KERR_INVALID, "%s: '%s' comes after "
			    "'%s': entries must be in increasing name order "
			    "(byte order)", where, en->name, prev->name);
	}
	return 0;
}

/* Binary search over entries already known to be sorted. */
static const struct roster_entry *
find_sorted(const struct roster *r, const char *name)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->v[mid].name, name);

		if (c == 0)
			return &r->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
cmp_sign(const void *a, const void *b)
{
	const struct roster_entry *x = *(const struct roster_entry *const *)a;
	const struct roster_entry *y = *(const struct roster_entry *const *)b;

	return memcmp(x->pk.sign, y->pk.sign, KEY_SIGN_PK);
}

static int
cmp_enc(const void *a, const void *b)
{
	const struct roster_entry *x = *(const struct roster_entry *const *)a;
	const struct roster_entry *y = *(const struct roster_entry *const *)b;

	return memcmp(x->pk.enc, y->pk.enc, KEY_ENC_PK);
}

/*
 * No key belongs to two entries: a key resolves to one identity, or
 * roster_find_key and signature checks against the roster are ambiguous.
 */
static int
keys_unique(const struct roster *r, struct kerr *e)
{
	const struct roster_entry **s;
	int rc = 0;

	if ((s = calloc(r->n, sizeof(*s))) == NULL)
		return KERR_NOMEM;
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		int (*cmp)(const void *, const void *) = pass ? cmp_enc : cmp_sign;

		for (size_t i = 0; i < r->n; i++)
			s[i] = &r->v[i];
		qsort(s, r->n, sizeof(*s), cmp);
		for (size_t i = 1; i < r->n; i++) {
			if (cmp(&s[i - 1], &s[i]) != 0)
				continue;
			rc = kerr_set(e, KERR_INVALID, "roster entries '%s' and "
			    "'%s' have the same %s key", s[i - 1]->name,
			    s[i]->name, pass ? "encryption" : "signing");
			break;
		}
	}
	free(s);
	return rc;
}

/* Rules over the whole roster; every entry has passed entry_check. */
static int
links_check(const struct roster *r, struct kerr *e)
{
	const struct roster_entry *hq = NULL;

	for (size_t i = 0; i < r->n; i++) {
		const struct roster_entry *en = &r->v[i], *site;

		if (en->kind == ROSTER_HQ) {
			if (hq != NULL)
				return kerr_set(e, KERR_INVALID, "roster has two "
				    "HQ entries, '%s' and '%s' (exactly one is "
				    "required)", hq->name, en->name);
			hq = en;
		} else if (en->kind == ROSTER_PERSON) {
			site = find_sorted(r, en->post);
			if (site == NULL || !is_site(site->kind))
				return kerr_set(e, KERR_INVALID, "roster entry "
				    "%zu (person '%s'): their post '%s' is not "
				    "a post or HQ entry of this roster", i + 1,
				    en->name, en->post);
		}
	}
	if (hq == NULL)
		return kerr_set(e, KERR_INVALID, "roster has no HQ entry "
		    "(exactly one is required)");
	return keys_unique(r, e);
}

static int
head_check(uint64_t version, size_t n, struct kerr *e)
{
	if (version == 0)
		return kerr_set(e, KERR_INVALID, "roster version is 0 (the "
		    "first roster is version 1)");
	if (n > ROSTER_ENTRIES_MAX)
		return kerr_set(e, KERR_TOOBIG, "roster has %zu entries, over "
		    "the limit of %d", n, ROSTER_ENTRIES_MAX);
	if (n == 0)
		return kerr_set(e, KERR_INVALID, "roster has no entries (it "
		    "needs at least the HQ entry)");
	return 0;
}

/* Every rule, on a roster built in memory (the encoder's side). */
static int
roster_check(const struct roster *r, struct kerr *e)
{
	char where[WHERE_MAX];
	int rc;

	if ((rc = head_check(r->version, r->n, e)) != 0)
		return rc;
	if (r->v == NULL)
		return kerr_set(e, KERR_INVALID, "roster has %zu entries and "
		    "no entry array", r->n);
	for (size_t i = 0; i < r->n; i++) {
		snprintf(where, sizeof(where), "roster entry %zu", i + 1);
		if ((rc = entry_check(&r->v[i], i ? &r->v[i - 1] : NULL, where,
		    e)) != 0)
			return rc;
	}
	return links_check(r, e);
}

int
roster_encode(struct buf *out, const struct roster *r,
    const struct identity *dirkey, struct kerr *e)
{
	uint8_t sig[ROSTER_SIG_BYTES];
	size_t start = out->len;
	int rc;

	if ((rc = roster_check(r, e)) != 0)
		return rc;
	if ((rc = buf_put(out, ROSTER_MAGIC, 4)) != 0 ||
	    (rc = buf_put_u8(out, ROSTER_VERSION)) != 0 ||
	    (rc = buf_put_u64(out, r->version)) != 0 ||
	    (rc = buf_put_u64(out, r->time)) != 0 ||
	    (rc = buf_put_u16(out, (uint16_t)r->n)) != 0)
		goto fail;
	for (size_t i = 0; i < r->n; i++) {
		const struct roster_entry *en = &r->v[i];

		if ((rc = buf_put_u8(out, en->kind)) != 0 ||
		    (rc = buf_put_str8(out, en->name)) != 0 ||
		    (rc = buf_put_str8(out, en->post)) != 0 ||
		    (rc = buf_put(out, en->pk.sign, KEY_SIGN_PK)) != 0 ||
		    (rc = buf_put(out, en->pk.enc, KEY_ENC_PK)) != 0 ||
		    (rc = buf_put_u8(out, en->revoked)) != 0)
			goto fail;
	}
	if ((rc = roster_sign(sig, out->p + start, out->len - start,
	    dirkey->sign_sk)) != 0 ||
	    (rc = buf_put(out, sig, sizeof(sig))) != 0)
		goto fail;
	return 0;
fail:
	out->len = start;
	return kerr_set(e, rc, "cannot encode the roster: %s", kerr_str(rc));
}

/* A str8 of at most ROSTER_NAME_MAX bytes, without NUL, into a fixed field. */
static int
rd_name(struct rd *rd, char out[static ROSTER_NAME_MAX + 1], const char *what,
    const char *where, struct kerr *e)
{
	const uint8_t *s;
	uint8_t n;

	if (rd_u8(rd, &n) != 0 || rd_take(rd, &s, n) != 0)
		return kerr_set(e, KERR_TRUNCATED, "%s: roster ends inside "
		    "the %s", where, what);
	if (n > ROSTER_NAME_MAX)
		return kerr_set(e, KERR_TOOBIG, "%s: %s is %u bytes, over the "
		    "limit of %d", where, what, n, ROSTER_NAME_MAX);
	if (memchr(s, '\0', n) != NULL)
		return kerr_set(e, KERR_FORMAT, "%s: %s contains a NUL byte",
		    where, what);
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int
roster_decode(struct roster *out, const uint8_t *p, size_t len,
    const uint8_t dir_sign_pk[static KEY_SIGN_PK], struct kerr *e)
{
	char where[WHERE_MAX];
	const uint8_t *magic;
	size_t body;
	uint16_t n;
	uint8_t ver;
	struct rd rd;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > ROSTER_MAX)
		return kerr_set(e, KERR_TOOBIG, "input is %zu bytes, over the "
		    "roster limit of %d", len, ROSTER_MAX);
	if (len >= 4 && memcmp(p, ROSTER_MAGIC, 4) != 0)
		return kerr_set(e, KERR_FORMAT, "not a koden roster (bad magic "
		    "at byte 0)");
	if (len < ROSTER_HEAD_BYTES + ROSTER_SIG_BYTES)
		return kerr_set(e, KERR_TRUNCATED, "roster is truncated: %zu "
		    "bytes, shorter than any roster", len);
	/* Signature first: nothing HQ did not sign reaches the parser. */
	body = len - ROSTER_SIG_BYTES;
	if (!roster_verify(p + body, p, body, dir_sign_pk))
		return kerr_set(e, KERR_SIGNATURE, "roster signature does not "
		    "verify with this network's directory key: the roster was "
		    "altered or truncated, or not signed by HQ");

	rd_init(&rd, p, body);
	if (rd_take(&rd, &magic, 4) != 0 || rd_u8(&rd, &ver) != 0 ||
	    rd_u64(&rd, &out->version) != 0 || rd_u64(&rd, &out->time) != 0 ||
	    rd_u16(&rd, &n) != 0) {
		rc = kerr_set(e, KERR_TRUNCATED, "roster header is truncated");
		goto fail;
	}
	if (ver != ROSTER_VERSION) {
		rc = kerr_set(e, KERR_VERSION, "roster format version %u is not "
		    "supported (this koden reads version %d)", ver,
		    ROSTER_VERSION);
		goto fail;
	}
	if ((rc = head_check(out->version, n, e)) != 0)
		goto fail;
	if (rd_left(&rd) / ROSTER_ENTRY_MIN < n) {
		rc = kerr_set(e, KERR_TRUNCATED, "roster announces %u entries "
		    "at byte %d, and only %zu bytes follow", n,
		    ROSTER_HEAD_BYTES - 2, rd_left(&rd));
		goto fail;
	}
	if ((out->v = calloc(n, sizeof(*out->v))) == NULL) {
		rc = KERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct roster_entry *en = &out->v[i];

		snprintf(where, sizeof(where), "roster entry %zu (byte %zu)",
		    i + 1, rd.off);
		out->n = i + 1;
		if (rd_u8(&rd, &en->kind) != 0) {
			rc = kerr_set(e, KERR_TRUNCATED, "%s: truncated", where);
			goto fail;
		}
		if ((rc = rd_name(&rd, en->name, "name", where, e)) != 0 ||
		    (rc = rd_name(&rd, en->post, "post", where, e)) != 0)
			goto fail;
		if (rd_copy(&rd, en->pk.sign, KEY_SIGN_PK) != 0 ||
		    rd_copy(&rd, en->pk.enc, KEY_ENC_PK) != 0 ||
		    rd_u8(&rd, &en->revoked) != 0) {
			rc = kerr_set(e, KERR_TRUNCATED, "%s: truncated", where);
			goto fail;
		}
		if ((rc = entry_check(en, i ? &out->v[i - 1] : NULL, where,
		    e)) != 0)
			goto fail;
	}
	if (rd_left(&rd) != 0) {
		rc = kerr_set(e, KERR_FORMAT, "%zu unexpected bytes after the "
		    "last roster entry (byte %zu)", rd_left(&rd), rd.off);
		goto fail;
	}
	if ((rc = links_check(out, e)) != 0)
		goto fail;
	return 0;
fail:
	roster_free(out);
	return rc;
}

void
roster_free(struct roster *r)
{
	if (r == NULL)
		return;
	free(r->v);
	memset(r, 0, sizeof(*r));
}

const struct roster_entry *
roster_find(const struct roster *r, const char *name)
{
	/* Linear: correct for a roster still being built, and n is small. */
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return &r->v[i];
	return NULL;
}

const struct roster_entry *
roster_find_key(const struct roster *r, const uint8_t enc_pk[static KEY_ENC_PK])
{
	for (size_t i = 0; i < r->n; i++)
		if (memcmp(r->v[i].pk.enc, enc_pk, KEY_ENC_PK) == 0)
			return &r->v[i];
	return NULL;
}

/* Same content, field by field (a decoded roster has one encoding). */
static int
roster_same(const struct roster *a, const struct roster *b)
{
	if (a->version != b->version || a->time != b->time || a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct roster_entry *x = &a->v[i], *y = &b->v[i];

		if (x->kind != y->kind || x->revoked != y->revoked ||
		    strcmp(x->name, y->name) != 0 ||
		    strcmp(x->post, y->post) != 0 ||
		    memcmp(&x->pk, &y->pk, sizeof(x->pk)) != 0)
			return 0;
	}
	return 1;
}

int
roster_accept(const struct roster *current, const struct roster *next,
    struct kerr *e)
{
	assert(next != NULL);
	if (current == NULL || next->version > current->version)
		return 0;
	if (next->version < current->version)
		return kerr_set(e, KERR_INVALID, "roster version %llu is older "
		    "than the version %llu this post already has (possible "
		    "rollback attack)", (unsigned long long)next->version,
		    (unsigned long long)current->version);
	if (!roster_same(current, next))
		return kerr_set(e, KERR_INVALID, "roster version %llu differs "
		    "from the roster of the same version this post already "
		    "has: the directory key signed two different rosters "
		    "(HQ error or key compromise)",
		    (unsigned long long)next->version);
	return 0;
}
