/*
 * libFuzzer target: the receipt decoder.  Each input is tried as it is, and
 * with its last 128 bytes replaced by the fixed fuzz identity's keys
 * (fuzz_key.h) and its signature over the rest, so that the fuzzer gets
 * past the signature.  Whatever decodes must re-encode to exactly the same
 * bytes and report the key that signed it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/receipt.h"
#include "fuzz_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

static void
check(const struct receipt *r, const uint8_t *p, size_t len,
    const struct identity *id)
{
	struct buf out;

	if (r->state != RECEIPT_DELIVERED && r->state != RECEIPT_READ)
		abort();
	buf_init(&out, RECEIPT_MAX);
	if (receipt_encode(&out, r, id, NULL) != 0 || out.len != len ||
	    memcmp(out.p, p, len) != 0)
		abort();
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	static const char label[] = RECEIPT_SIG_LABEL;
	static struct identity *id;
	uint8_t m[sizeof(label) + RECEIPT_MAX], *q = m + sizeof(label);
	struct receipt r;
	size_t body;

	if (id == NULL && fuzz_identity(&id) != 0)
		abort();
	if (len > RECEIPT_MAX)
		return 0;
	if (receipt_decode(&r, p, len, NULL) == 0)
		check(&r, p, len, id);
	if (len < KEY_SIGN_PK + KEY_ENC_PK + RECEIPT_SIG_BYTES)
		return 0;
	/* m = label || 0x00 || input with the fuzz keys and signature */
	body = len - RECEIPT_SIG_BYTES;
	memcpy(m, label, sizeof(label));
	memcpy(q, p, len);
	memcpy(q + body - KEY_SIGN_PK - KEY_ENC_PK, id->pub.sign, KEY_SIGN_PK);
	memcpy(q + body - KEY_ENC_PK, id->pub.enc, KEY_ENC_PK);
	crypto_sign_detached(q + body, NULL, m, sizeof(label) + body,
	    id->sign_sk);
	if (receipt_decode(&r, q, len, NULL) == 0) {
		if (!pubkey_equal(&r.by_pk, &id->pub))
			abort();
		check(&r, q, len, id);
	}
	return 0;
}
