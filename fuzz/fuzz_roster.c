/*
 * libFuzzer target: the roster decoder.  roster_decode checks the directory
 * signature before it parses anything, so each input is tried twice: as it
 * is (only the seeds' genuine signatures pass), and with its last 64 bytes
 * replaced by a valid signature of the fixed fuzz identity (fuzz_key.h) over
 * the rest, which lets the fuzzer reach every rule of the parser.  Whatever
 * decodes must re-encode to exactly the same bytes, every entry must be
 * found by its name and its key, and a roster must accept itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/directory.h"
#include "fuzz_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

static void
check(const struct roster *r, const uint8_t *p, size_t len,
    const struct identity *id)
{
	struct buf out;

	if (r->n == 0 || r->n > ROSTER_ENTRIES_MAX || r->v == NULL)
		abort();
	buf_init(&out, ROSTER_MAX);
	if (roster_encode(&out, r, id, NULL) != 0 || out.len != len ||
	    memcmp(out.p, p, len) != 0)
		abort();
	buf_free(&out);
	for (size_t i = 0; i < r->n; i++)
		if (roster_find(r, r->v[i].name) != &r->v[i] ||
		    roster_find_key(r, r->v[i].pk.enc) != &r->v[i])
			abort();
	if (roster_accept(r, r, NULL) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	static const char label[] = ROSTER_SIG_LABEL;
	static struct identity *id;
	struct roster r;
	uint8_t *m;
	size_t body;

	if (id == NULL && fuzz_identity(&id) != 0)
		abort();
	if (len > ROSTER_MAX)
		return 0;
	if (roster_decode(&r, p, len, id->pub.sign, NULL) == 0) {
		check(&r, p, len, id);
		roster_free(&r);
	}
	if (len < ROSTER_SIG_BYTES)
		return 0;
	/* m = label || 0x00 || body || signature: the input, re-signed */
	body = len - ROSTER_SIG_BYTES;
	if ((m = malloc(sizeof(label) + len)) == NULL)
		abort();
	memcpy(m, label, sizeof(label));
	memcpy(m + sizeof(label), p, body);
	crypto_sign_detached(m + sizeof(label) + body, NULL, m,
	    sizeof(label) + body, id->sign_sk);
	if (roster_decode(&r, m + sizeof(label), len, id->pub.sign, NULL) == 0) {
		check(&r, m + sizeof(label), len, id);
		roster_free(&r);
	}
	free(m);
	return 0;
}
