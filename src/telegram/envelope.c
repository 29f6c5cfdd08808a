/*
 * Sealing and opening telegrams (docs/format.md, "Envelope").
 *
 * Order of checks on open, cheapest and keyless first: routing header
 * structure, origin signature, then (with the recipient's key) unwrap,
 * decrypt, drafter signature, and finally that the routing header says what
 * the signed telegram says.  Each failure has its own code and message.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/hpke.h"
#include "telegram/envelope.h"

#define ENV_KEY 32
#define ENV_TAG crypto_aead_chacha20poly1305_ietf_ABYTES
#define ENV_SIG crypto_sign_BYTES
#define ENV_WRAPPED (ENV_KEY + HPKE_NT)

static const char env_sig_label[] = "koden envelope v1";
static const char tg_sig_label[] = "koden telegram v1";

size_t
env_pad_size(size_t n)
{
	size_t p = ENV_PAD_MIN;

	while (p < n && p <= SIZE_MAX / 2)
		p *= 2;
	return p < n ? n : p;
}

/*
 * Pure Ed25519 (RFC 8032) over label || 0x00 || msg.  libsodium's
 * multi-part crypto_sign_update API would compute Ed25519ph instead, so
 * the message is assembled in one buffer (at most ENV_MAX bytes).
 */
static int
labelled_msg(uint8_t **out, size_t *out_len, const char *label,
    const uint8_t *msg, size_t len)
{
	size_t ll = strlen(label) + 1;
	uint8_t *m;

	*out = NULL;
	if (len > ENV_MAX || (m = malloc(ll + len)) == NULL)
		return KERR_NOMEM;
	memcpy(m, label, ll);
	if (len)
		memcpy(m + ll, msg, len);
	*out = m;
	*out_len = ll + len;
	return 0;
}

static int
sign_labelled(uint8_t sig[static ENV_SIG], const char *label,
    const uint8_t *msg, size_t len, const uint8_t sk[static KEY_SIGN_SK])
{
	uint8_t *m;
	size_t n;
	int r;

	if ((r = labelled_msg(&m, &n, label, msg, len)) != 0)
		return r;
	crypto_sign_detached(sig, NULL, m, n, sk);
	sodium_memzero(m, n);	/* may hold the plaintext telegram */
	free(m);
	return 0;
}

/* 1 if sig verifies, 0 if not (or out of memory: never a false yes). */
static int
verify_labelled(const uint8_t sig[static ENV_SIG], const char *label,
    const uint8_t *msg, size_t len, const uint8_t pk[static KEY_SIGN_PK])
{
	uint8_t *m;
	size_t n;
	int ok;

	if (labelled_msg(&m, &n, label, msg, len) != 0)
		return 0;
	ok = crypto_sign_verify_detached(sig, m, n, pk) == 0;
	sodium_memzero(m, n);
	free(m);
	return ok;
}

/* The padded plaintext: u32 len || inner || drafter pk || sig || zeros. */
static int
env_plaintext(struct buf *pt, const struct tg *t, const struct identity *drafter,
    struct kerr *e)
{
	struct buf inner;
	uint8_t sig[ENV_SIG];
	size_t need;
	int r;

	buf_init_secret(&inner, TG_ENCODED_MAX);
	if ((r = tg_encode(t, &inner)) != 0) {
		kerr_set(e, r, "cannot encode telegram: %s", kerr_str(r));
		goto out;
	}
	if ((r = sign_labelled(sig, tg_sig_label, inner.p, inner.len,
	    drafter->sign_sk)) != 0)
		goto out;
	need = 4 + inner.len + KEY_SIGN_PK + KEY_ENC_PK + ENV_SIG;
	if ((r = buf_put_u32(pt, (uint32_t)inner.len)) != 0 ||
	    (r = buf_put(pt, inner.p, inner.len)) != 0 ||
	    (r = buf_put(pt, drafter->pub.sign, KEY_SIGN_PK)) != 0 ||
	    (r = buf_put(pt, drafter->pub.enc, KEY_ENC_PK)) != 0 ||
	    (r = buf_put(pt, sig, sizeof(sig))) != 0 ||
	    (r = buf_put_zero(pt, env_pad_size(need) - need)) != 0)
		kerr_set(e, r, "telegram too large to seal");
out:
	buf_free(&inner);
	return r;
}

/* Is pk already among the first n recipients? */
static int
rcpt_seen(const struct pubkey *rcpt, size_t n, const struct pubkey *pk)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(rcpt[i].enc, pk->enc, KEY_ENC_PK) == 0)
			return 1;
	return 0;
}

/*
 * Append the origin block to the envelope that starts at out->p + start:
 * one sequence number per addressee (zeros if seqs is NULL), the origin's
 * public keys, and its signature over everything from start on.
 */
static int
put_origin_block(struct buf *out, size_t start, const uint64_t *seqs,
    size_t n_addr, const struct identity *origin)
{
	uint8_t sig[ENV_SIG];
	int r;

	for (size_t i = 0; i < n_addr; i++)
		if ((r = buf_put_u64(out, seqs ? seqs[i] : 0)) != 0)
			return r;
	if ((r = buf_put(out, origin->pub.sign, KEY_SIGN_PK)) != 0 ||
	    (r = buf_put(out, origin->pub.enc, KEY_ENC_PK)) != 0)
		return r;
	if ((r = sign_labelled(sig, env_sig_label, out->p + start,
	    out->len - start, origin->sign_sk)) != 0)
		return r;
	return buf_put(out, sig, sizeof(sig));
}

int
env_sign_origin(struct buf *env, const uint64_t *seqs, size_t n,
    const struct identity *origin, struct kerr *e)
{
	struct env_header *h;
	size_t body_len;
	int r;

	if ((h = malloc(sizeof(*h))) == NULL)
		return KERR_NOMEM;
	if ((r = env_parse(h, env->p, env->len, e)) != 0)
		goto out;
	if (n != h->n_addr) {
		r = kerr_set(e, KERR_INVALID, "%zu sequence numbers for %u "
		    "addressees", n, h->n_addr);
		goto out;
	}
	body_len = h->body_len;
	env->len = body_len;
	if ((r = put_origin_block(env, 0, seqs, n, origin)) != 0)
		kerr_set(e, r, "cannot sign the envelope: %s", kerr_str(r));
out:
	free(h);
	return r;
}

int
env_seal(struct buf *out, const struct tg *t, const struct identity *drafter,
    const struct identity *origin, const struct pubkey *rcpt, size_t n,
    struct kerr *e)
{
	static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t ck[ENV_KEY];
	struct hpke_ctx hc;
	struct buf pt;
	size_t start = out->len, n_wraps = 0, hdr_len;
	int r;

	buf_init_secret(&pt, ENV_MAX);
	memset(&hc, 0, sizeof(hc));
	if ((r = tg_validate(t, NULL, e)) != 0)
		goto out;
	if (sodium_is_zero(t->id, TG_ID_LEN)) {
		r = kerr_set(e, KERR_INVALID, "telegram has no id");
		goto out;
	}
	if (n == 0 || n > ENV_RECIPIENTS_MAX) {
		r = kerr_set(e, KERR_INVALID, "%zu recipients: at least 1 and "
		    "at most %d are needed", n, ENV_RECIPIENTS_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		n_wraps += !rcpt_seen(rcpt, i, &rcpt[i]);
	if ((r = env_plaintext(&pt, t, drafter, e)) != 0)
		goto out;

	/* routing header */
	if ((r = buf_put(out, ENV_MAGIC, 4)) != 0 ||
	    (r = buf_put_u8(out, ENV_VERSION)) != 0 ||
	    (r = buf_put_u8(out, 0)) != 0 ||
	    (r = buf_put(out, t->id, TG_ID_LEN)) != 0 ||
	    (r = buf_put_u64(out, t->dtg)) != 0 ||
	    (r = buf_put_str8(out, t->origin)) != 0 ||
	    (r = buf_put_u8(out, t->prec_action)) != 0 ||
	    (r = buf_put_u8(out, t->prec_info)) != 0 ||
	    (r = buf_put_u16(out, (uint16_t)(t->to.n + t->info.n))) != 0)
		goto toobig;
	for (size_t i = 0; i < t->to.n + t->info.n; i++) {
		int action = i < t->to.n;
		const char *name = action ? t->to.v[i] : t->info.v[i - t->to.n];

		if ((r = buf_put_str8(out, name)) != 0 ||
		    (r = buf_put_u8(out, action ? ENV_ACTION : ENV_INFO)) != 0)
			goto toobig;
	}
	if ((r = buf_put_u32(out, (uint32_t)pt.len)) != 0 ||
	    (r = buf_put_u16(out, (uint16_t)n_wraps)) != 0)
		goto toobig;

	/* wraps: the content key sealed to each distinct recipient */
	randombytes_buf(ck, sizeof(ck));
	for (size_t i = 0; i < n; i++) {
		uint8_t *w;

		if (rcpt_seen(rcpt, i, &rcpt[i]))
			continue;
		if ((r = buf_reserve(out, ENV_WRAP_BYTES)) != 0)
			goto toobig;
		w = out->p + out->len;
		pubkey_hint(w, rcpt[i].enc);
		if ((r = hpke_setup_base_s(&hc, w + KEY_HINT, rcpt[i].enc,
		    (const uint8_t *)ENV_WRAP_INFO, strlen(ENV_WRAP_INFO))) != 0 ||
		    (r = hpke_seal(&hc, w + KEY_HINT + HPKE_NENC, t->id,
		    TG_ID_LEN, ck, sizeof(ck))) != 0) {
			kerr_set(e, r, "recipient %zu: cannot wrap the content "
			    "key (invalid public key?)", i + 1);
			goto out;
		}
		hpke_ctx_wipe(&hc);
		out->len += ENV_WRAP_BYTES;
	}
	hdr_len = out->len - start;

	/* ciphertext, with the whole routing header as associated data */
	if ((r = buf_reserve(out, pt.len + ENV_TAG)) != 0)
		goto toobig;
	crypto_aead_chacha20poly1305_ietf_encrypt(out->p + out->len, NULL,
	    pt.p, pt.len, out->p + start, hdr_len, NULL, zero_nonce, ck);
	out->len += pt.len + ENV_TAG;

	/* origin block, not yet numbered */
	if ((r = put_origin_block(out, start, NULL, t->to.n + t->info.n,
	    origin)) != 0)
		goto toobig;
	goto out;
toobig:
	kerr_set(e, r, "sealed telegram would exceed the envelope limit of "
	    "%u bytes", ENV_MAX);
out:
	if (r != 0)
		out->len = start;
	sodium_memzero(ck, sizeof(ck));
	hpke_ctx_wipe(&hc);
	buf_free(&pt);
	return r;
}

static int
post_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == ' ' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

/* Read a post name (str8) into a fixed field. */
static int
rd_post(struct rd *rd, char out[static TG_POST_MAX + 1])
{
	uint8_t n;
	const uint8_t *p;

	if (rd_u8(rd, &n) != 0 || rd_take(rd, &p, n) != 0)
		return KERR_TRUNCATED;
	if (n == 0 || n > TG_POST_MAX)
		return KERR_FORMAT;
	memcpy(out, p, n);
	out[n] = '\0';
	return post_name_ok(out) ? 0 : KERR_FORMAT;
}

int
env_parse(struct env_header *h, const uint8_t *p, size_t len, struct kerr *e)
{
	struct rd rd;
	const uint8_t *magic, *sig;
	int r;

	memset(h, 0, sizeof(*h));
	if (len > ENV_MAX)
		return kerr_set(e, KERR_TOOBIG, "input is %zu bytes, over the "
		    "envelope limit of %u", len, ENV_MAX);
	rd_init(&rd, p, len);
	if (rd_take(&rd, &magic, 4) != 0 || memcmp(magic, ENV_MAGIC, 4) != 0)
		return kerr_set(e, KERR_FORMAT, "not a sealed koden telegram "
		    "(bad magic at byte 0)");
	if (rd_u8(&rd, &h->version) != 0)
		goto trunc;
	if (h->version != ENV_VERSION)
		return kerr_set(e, KERR_VERSION, "sealed telegram format "
		    "version %u is not supported (this koden reads version %d)",
		    h->version, ENV_VERSION);
	uint8_t flags;
	if (rd_u8(&rd, &flags) != 0)
		goto trunc;
	if (flags != 0)
		return kerr_set(e, KERR_FORMAT, "byte 5: unknown flags 0x%02x",
		    flags);
	if (rd_copy(&rd, h->id, TG_ID_LEN) != 0 || rd_u64(&rd, &h->time) != 0)
		goto trunc;
	if ((r = rd_post(&rd, h->origin)) != 0)
		goto bad_field;
	if (rd_u8(&rd, &h->prec_action) != 0 || rd_u8(&rd, &h->prec_info) != 0 ||
	    rd_u16(&rd, &h->n_addr) != 0)
		goto trunc;
	if (h->prec_action < TG_ROUTINE || h->prec_action > TG_FLASH ||
	    h->prec_info < TG_ROUTINE || h->prec_info > h->prec_action)
		return kerr_set(e, KERR_FORMAT, "byte %zu: invalid precedence",
		    rd.off - 4);
	if (h->n_addr == 0 || h->n_addr > TG_ADDRESSEES_MAX)
		return kerr_set(e, KERR_FORMAT, "byte %zu: %u addressees "
		    "(1 to %d allowed)", rd.off - 2, h->n_addr,
		    TG_ADDRESSEES_MAX);
	for (size_t i = 0; i < h->n_addr; i++) {
		struct env_addressee *a = &h->addr[i];

		if ((r = rd_post(&rd, a->name)) != 0)
			goto bad_field;
		if (rd_u8(&rd, &a->role) != 0)
			goto trunc;
		if (a->role != ENV_ACTION && a->role != ENV_INFO)
			return kerr_set(e, KERR_FORMAT, "byte %zu: addressee "
			    "%zu has unknown role %u", rd.off - 1, i + 1,
			    a->role);
	}
	if (rd_u32(&rd, &h->padded_size) != 0 || rd_u16(&rd, &h->n_wraps) != 0)
		goto trunc;
	if (h->padded_size < ENV_PAD_MIN ||
	    env_pad_size(h->padded_size) != h->padded_size)
		return kerr_set(e, KERR_FORMAT, "byte %zu: ciphertext size %u "
		    "is not a padding bucket", rd.off - 6, h->padded_size);
	if (h->n_wraps == 0 || h->n_wraps > ENV_RECIPIENTS_MAX)
		return kerr_set(e, KERR_FORMAT, "byte %zu: %u recipients "
		    "(1 to %d allowed)", rd.off - 2, h->n_wraps,
		    ENV_RECIPIENTS_MAX);
	if (rd_left(&rd) / ENV_WRAP_BYTES < h->n_wraps)
		goto trunc;
	rd.off += (size_t)h->n_wraps * ENV_WRAP_BYTES;
	h->header_len = rd.off;
	if (rd_left(&rd) < (size_t)h->padded_size + ENV_TAG)
		goto trunc;
	rd.off += (size_t)h->padded_size + ENV_TAG;
	h->body_len = rd.off;
	for (size_t i = 0; i < h->n_addr; i++)
		if (rd_u64(&rd, &h->addr[i].seq) != 0)
			goto trunc;
	if (rd_copy(&rd, h->origin_pk.sign, KEY_SIGN_PK) != 0 ||
	    rd_copy(&rd, h->origin_pk.enc, KEY_ENC_PK) != 0)
		goto trunc;
	if (rd_take(&rd, &sig, ENV_SIG) != 0)
		goto trunc;
	if (rd_left(&rd) != 0)
		return kerr_set(e, KERR_FORMAT, "%zu unexpected bytes after "
		    "the end of the sealed telegram (byte %zu)", rd_left(&rd),
		    rd.off);
	h->total_len = rd.off;
	return 0;
trunc:
	return kerr_set(e, KERR_TRUNCATED, "sealed telegram is truncated: it "
	    "ends at byte %zu, before the end of a field it announces", len);
bad_field:
	return kerr_set(e, r, r == KERR_TRUNCATED ? "sealed telegram is "
	    "truncated at byte %zu" : "byte %zu: invalid post name in the "
	    "routing header", rd.off);
}

int
env_inspect(struct env_header *h, const uint8_t *p, size_t len, struct kerr *e)
{
	size_t signed_len;
	int r;

	if ((r = env_parse(h, p, len, e)) != 0)
		return r;
	signed_len = h->total_len - ENV_SIG;
	if (!verify_labelled(p + signed_len, env_sig_label, p, signed_len,
	    h->origin_pk.sign))
		return kerr_set(e, KERR_SIGNATURE, "origin signature does not "
		    "verify: the sealed telegram was altered after sealing, or "
		    "forged");
	return 0;
}

/* Unwrap the content key with id's encryption key. */
static int
env_unwrap(uint8_t ck[static ENV_KEY], const struct env_header *h,
    const uint8_t *p, const struct identity *id)
{
	uint8_t hint[KEY_HINT];
	struct hpke_ctx hc;
	const uint8_t *w = p + h->header_len - (size_t)h->n_wraps * ENV_WRAP_BYTES;
	int r = KERR_NOT_RECIPIENT;

	pubkey_hint(hint, id->pub.enc);
	/*
	 * Try every wrap with a matching hint: hints are short, so two
	 * recipients may share one.
	 */
	for (size_t i = 0; i < h->n_wraps; i++, w += ENV_WRAP_BYTES) {
		if (memcmp(w, hint, KEY_HINT) != 0)
			continue;
		if (hpke_setup_base_r(&hc, w + KEY_HINT, id->enc_sk,
		    (const uint8_t *)ENV_WRAP_INFO, strlen(ENV_WRAP_INFO)) == 0 &&
		    hpke_open(&hc, ck, h->id, TG_ID_LEN, w + KEY_HINT + HPKE_NENC,
		    ENV_WRAPPED) == 0)
			r = 0;
		hpke_ctx_wipe(&hc);
		if (r == 0)
			break;
	}
	return r;
}

/* The routing header must say what the drafter signed. */
static int
env_match(const struct env_header *h, const struct tg *t, struct kerr *e)
{
	const char *what = NULL;

	if (memcmp(h->id, t->id, TG_ID_LEN) != 0)
		what = "telegram id";
	else if (h->time != t->dtg)
		what = "date-time group";
	else if (strcmp(h->origin, t->origin) != 0)
		what = "origin post";
	else if (h->prec_action != t->prec_action ||
	    h->prec_info != t->prec_info)
		what = "precedence";
	else if (h->n_addr != t->to.n + t->info.n)
		what = "number of addressees";
	else {
		for (size_t i = 0; i < h->n_addr && what == NULL; i++) {
			int action = i < t->to.n;
			const char *name = action ? t->to.v[i] :
			    t->info.v[i - t->to.n];

			if (strcmp(h->addr[i].name, name) != 0 ||
			    h->addr[i].role != (action ? ENV_ACTION : ENV_INFO))
				what = "addressee list";
		}
	}
	if (what != NULL)
		return kerr_set(e, KERR_MISMATCH, "the routing header's %s "
		    "does not match the signed telegram: the envelope was "
		    "re-addressed", what);
	return 0;
}

int
env_open(struct tg **out, struct pubkey *drafter, struct env_header *h,
    const uint8_t *p, size_t len, const struct identity *id, struct kerr *e)
{
	static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t ck[ENV_KEY];
	struct buf pt;
	struct rd rd;
	const uint8_t *inner, *sig;
	uint32_t inner_len;
	struct tg *t = NULL;
	int r;

	*out = NULL;
	memset(drafter, 0, sizeof(*drafter));
	buf_init_secret(&pt, ENV_MAX);
	if ((r = env_inspect(h, p, len, e)) != 0)
		goto out;
	if ((r = env_unwrap(ck, h, p, id)) != 0) {
		kerr_set(e, r, "not addressed to this key: none of the %u "
		    "recipient wraps opens with it", h->n_wraps);
		goto out;
	}
	if ((r = buf_reserve(&pt, h->padded_size)) != 0)
		goto out;
	if (crypto_aead_chacha20poly1305_ietf_decrypt(pt.p, NULL, NULL,
	    p + h->header_len, (size_t)h->padded_size + ENV_TAG, p,
	    h->header_len, zero_nonce, ck) != 0) {
		r = kerr_set(e, KERR_DECRYPT, "ciphertext does not "
		    "authenticate: the sealed telegram was tampered with");
		goto out;
	}
	pt.len = h->padded_size;
	rd_init(&rd, pt.p, pt.len);
	if (rd_u32(&rd, &inner_len) != 0 || rd_take(&rd, &inner, inner_len) != 0 ||
	    rd_copy(&rd, drafter->sign, KEY_SIGN_PK) != 0 ||
	    rd_copy(&rd, drafter->enc, KEY_ENC_PK) != 0 ||
	    rd_take(&rd, &sig, ENV_SIG) != 0) {
		r = kerr_set(e, KERR_FORMAT, "decrypted telegram is malformed "
		    "(lengths overrun the padded plaintext)");
		goto out;
	}
	if (!sodium_is_zero(pt.p + rd.off, rd_left(&rd))) {
		r = kerr_set(e, KERR_FORMAT, "decrypted telegram has non-zero "
		    "padding");
		goto out;
	}
	if (!verify_labelled(sig, tg_sig_label, inner, inner_len,
	    drafter->sign)) {
		r = kerr_set(e, KERR_SIGNATURE, "drafter's signature does not "
		    "verify: the telegram was not signed by the key it names");
		goto out;
	}
	if ((r = tg_decode(&t, inner, inner_len, e)) != 0)
		goto out;
	if ((r = env_match(h, t, e)) != 0)
		goto out;
	*out = t;
	t = NULL;
out:
	tg_free(t);
	sodium_memzero(ck, sizeof(ck));
	buf_free(&pt);
	return r;
}
