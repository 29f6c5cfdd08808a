/*
 * Delivery and read receipts (docs/directory.md, "Receipt").
 *
 * A receipt is small and of bounded size (RECEIPT_MAX), so the labelled
 * message is assembled on the stack.  Fields are parsed before the signature
 * is checked: the key is the receipt's own, so anyone can produce a validly
 * signed receipt and checking the signature first would shield the parser
 * from no one; parsing first gives a precise message for a damaged one.
 */
#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "crypto/hash.h"
#include "node/receipt.h"

#define RECEIPT_LABELLED_MAX (sizeof(RECEIPT_SIG_LABEL) + RECEIPT_MAX)

static const char receipt_label[] = RECEIPT_SIG_LABEL;

/* label || 0x00 || msg into m; returns its length. */
static size_t
labelled(uint8_t m[static RECEIPT_LABELLED_MAX], const uint8_t *msg,
    size_t len)
{
	memcpy(m, receipt_label, sizeof(receipt_label));	/* with its NUL */
	memcpy(m + sizeof(receipt_label), msg, len);
	return sizeof(receipt_label) + len;
}

static int
check_post(const char *s, const char *field, struct kerr *e)
{
	struct kerr sub = { "" };
	int r;

	if (memchr(s, '\0', TG_POST_MAX + 1) == NULL)
		return kerr_set(e, KERR_INVALID, "receipt %s: not "
		    "NUL-terminated", field);
	if ((r = tg_check_post(s, &sub)) != 0)
		return kerr_set(e, r, "receipt %s: %s", field, sub.msg);
	return 0;
}

/* Every rule on the fields, shared by the encoder and the decoder. */
static int
receipt_check(const struct receipt *r, struct kerr *e)
{
	int rc;

	if (sodium_is_zero(r->id, TG_ID_LEN))
		return kerr_set(e, KERR_INVALID, "receipt has no telegram id "
		    "(all zeros)");
	if (sodium_is_zero(r->env_hash, RECEIPT_HASH_BYTES))
		return kerr_set(e, KERR_INVALID, "receipt has no envelope hash "
		    "(all zeros)");
	if ((rc = check_post(r->origin, "origin", e)) != 0 ||
	    (rc = check_post(r->by, "signer", e)) != 0)
		return rc;
	if (r->state != RECEIPT_DELIVERED && r->state != RECEIPT_READ)
		return kerr_set(e, KERR_INVALID, "receipt state %u is not %d "
		    "(delivered) or %d (read)", r->state, RECEIPT_DELIVERED,
		    RECEIPT_READ);
	return 0;
}

int
receipt_encode(struct buf *out, const struct receipt *r,
    const struct identity *by_key, struct kerr *e)
{
	uint8_t m[RECEIPT_LABELLED_MAX], sig[RECEIPT_SIG_BYTES];
	size_t start = out->len, n;
	int rc;

	if ((rc = receipt_check(r, e)) != 0)
		return rc;
	if ((rc = buf_put(out, RECEIPT_MAGIC, 4)) != 0 ||
	    (rc = buf_put_u8(out, RECEIPT_VERSION)) != 0 ||
	    (rc = buf_put(out, r->id, TG_ID_LEN)) != 0 ||
	    (rc = buf_put(out, r->env_hash, RECEIPT_HASH_BYTES)) != 0 ||
	    (rc = buf_put_str8(out, r->origin)) != 0 ||
	    (rc = buf_put_str8(out, r->by)) != 0 ||
	    (rc = buf_put_u8(out, r->state)) != 0 ||
	    (rc = buf_put_u64(out, r->time)) != 0 ||
	    (rc = buf_put(out, by_key->pub.sign, KEY_SIGN_PK)) != 0 ||
	    (rc = buf_put(out, by_key->pub.enc, KEY_ENC_PK)) != 0)
		goto fail;
	assert(out->len - start + RECEIPT_SIG_BYTES <= RECEIPT_MAX);
	n = labelled(m, out->p + start, out->len - start);
	crypto_sign_detached(sig, NULL, m, n, by_key->sign_sk);
	if ((rc = buf_put(out, sig, sizeof(sig))) != 0)
		goto fail;
	return 0;
fail:
	out->len = start;
	return kerr_set(e, rc, "cannot encode the receipt: %s", kerr_str(rc));
}

/* A post name (str8, 1..TG_POST_MAX bytes, no NUL) into a fixed field. */
static int
rd_post(struct rd *rd, char out[static TG_POST_MAX + 1], const char *field,
    struct kerr *e)
{
	const uint8_t *s;
	size_t at = rd->off;
	uint8_t n;

	if (rd_u8(rd, &n) != 0 || rd_take(rd, &s, n) != 0)
		return kerr_set(e, KERR_TRUNCATED, "receipt is truncated in "
		    "the %s post name (byte %zu)", field, at);
	if (n > TG_POST_MAX)
		return kerr_set(e, KERR_TOOBIG, "receipt byte %zu: %s post "
		    "name is %u bytes, over the limit of %d", at, field, n,
		    TG_POST_MAX);
	if (memchr(s, '\0', n) != NULL)
		return kerr_set(e, KERR_FORMAT, "receipt byte %zu: %s post "
		    "name contains a NUL byte", at, field);
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int
decode(struct receipt *out, const uint8_t *p, size_t len, int verify,
    struct kerr *e)
{
	uint8_t m[RECEIPT_LABELLED_MAX];
	const uint8_t *magic, *sig;
	size_t signed_len, n;
	uint8_t ver;
	struct rd rd;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > RECEIPT_MAX)
		return kerr_set(e, KERR_TOOBIG, "input is %zu bytes, over the "
		    "receipt limit of %zu", len, (size_t)RECEIPT_MAX);
	rd_init(&rd, p, len);
	if (rd_take(&rd, &magic, 4) != 0 || memcmp(magic, RECEIPT_MAGIC, 4) != 0)
		return kerr_set(e, KERR_FORMAT, "not a koden receipt (bad "
		    "magic at byte 0)");
	if (rd_u8(&rd, &ver) != 0)
		goto trunc;
	if (ver != RECEIPT_VERSION)
		return kerr_set(e, KERR_VERSION, "receipt format version %u is "
		    "not supported (this koden reads version %d)", ver,
		    RECEIPT_VERSION);
	if (rd_copy(&rd, out->id, TG_ID_LEN) != 0 ||
	    rd_copy(&rd, out->env_hash, RECEIPT_HASH_BYTES) != 0)
		goto trunc;
	if ((rc = rd_post(&rd, out->origin, "origin", e)) != 0 ||
	    (rc = rd_post(&rd, out->by, "signer", e)) != 0)
		goto fail;
	if (rd_u8(&rd, &out->state) != 0 || rd_u64(&rd, &out->time) != 0 ||
	    rd_copy(&rd, out->by_pk.sign, KEY_SIGN_PK) != 0 ||
	    rd_copy(&rd, out->by_pk.enc, KEY_ENC_PK) != 0)
		goto trunc;
	signed_len = rd.off;
	if (rd_take(&rd, &sig, RECEIPT_SIG_BYTES) != 0)
		goto trunc;
	if (rd_left(&rd) != 0) {
		rc = kerr_set(e, KERR_FORMAT, "%zu unexpected bytes after the "
		    "end of the receipt (byte %zu)", rd_left(&rd), rd.off);
		goto fail;
	}
	if ((rc = receipt_check(out, e)) != 0)
		goto fail;
	if (!verify)
		return 0;
	n = labelled(m, p, signed_len);
	if (crypto_sign_verify_detached(sig, m, n, out->by_pk.sign) != 0) {
		rc = kerr_set(e, KERR_SIGNATURE, "receipt signature does not "
		    "verify: the receipt was altered, or forged");
		goto fail;
	}
	return 0;
trunc:
	rc = kerr_set(e, KERR_TRUNCATED, "receipt is truncated: it ends at "
	    "byte %zu, before the end of a field", len);
fail:
	memset(out, 0, sizeof(*out));
	return rc;
}

int
receipt_decode(struct receipt *out, const uint8_t *p, size_t len,
    struct kerr *e)
{
	return decode(out, p, len, 1, e);
}

int
receipt_parse(struct receipt *out, const uint8_t *p, size_t len,
    struct kerr *e)
{
	return decode(out, p, len, 0, e);
}

void
receipt_env_hash(uint8_t out[static RECEIPT_HASH_BYTES], const uint8_t *env,
    size_t len)
{
	hash_labelled(out, RECEIPT_HASH_BYTES, RECEIPT_HASH_LABEL, env, len);
}
