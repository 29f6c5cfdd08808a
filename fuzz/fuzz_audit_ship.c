/*
 * libFuzzer target: the audit wire decoders (src/audit/ship.c) and the
 * offline proof checker.  The first byte of the input picks the decoder
 * (SHIP_BATCH, SHIP_HQHEAD, SHIP_PROOF: the message's own type byte is at
 * offset 1 anyway); whatever decodes must re-encode to exactly the same
 * bytes, and audit_check_proof must never crash on anything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/ship.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

static void
same(const struct buf *b, const uint8_t *p, size_t len)
{
	if (b->len != len || memcmp(b->p, p, len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	static struct ship_proof pr;
	static struct ship_hqhead hh;
	static const uint8_t pk[32] = { 1 };
	struct ship_batch b;
	struct audit_event ev;
	struct audit_head h;
	char name[AUDIT_NODE_MAX + 1];
	struct buf out;

	if (len < 2)
		return 0;
	buf_init(&out, SHIP_MSG_MAX);
	switch (p[1]) {
	case SHIP_BATCH:
		if (ship_batch_decode(&b, p, len, NULL) == 0) {
			if (ship_batch_encode(&out, &b) != 0)
				abort();
			same(&out, p, len);
		}
		ship_batch_free(&b);
		break;
	case SHIP_HQHEAD:
		if (ship_hqhead_decode(&hh, p, len, NULL) == 0) {
			if (ship_hqhead_encode(&out, &hh) != 0)
				abort();
			same(&out, p, len);
		}
		break;
	default:
		if (ship_proof_decode(&pr, p, len, NULL) == 0) {
			if (ship_proof_encode(&out, &pr) != 0)
				abort();
			same(&out, p, len);
		}
		(void)audit_check_proof(p, len, pk, &ev, &h, name, NULL);
		break;
	}
	buf_free(&out);
	return 0;
}
