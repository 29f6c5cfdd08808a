/*
 * libFuzzer target: the audit journal's frame parser (src/audit/journal.c,
 * audit_journal_parse), which reads what any process of the node's user
 * may have written.
 *
 * Byte 0 picks the mode.  Even: the rest is parsed as it is.  Odd: the
 * rest is first walked as frames and every whole frame's checksum is set
 * right, so the fuzzer reaches the event decoder behind it.  Either way
 * the parser must consume no more than it was given, stop at the first
 * frame it cannot take, and every event it hands over must re-encode to
 * exactly the bytes of its frame (the encoding is canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/journal.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

struct walk {
	const uint8_t *p;
	size_t off;
};

/* Each event must be the frame at w->off, byte for byte. */
static int
check(void *ctx, const struct audit_event *ev)
{
	struct walk *w = ctx;
	struct buf b;
	size_t flen = (size_t)w->p[w->off] << 24 | (size_t)w->p[w->off + 1] << 16 |
	    (size_t)w->p[w->off + 2] << 8 | w->p[w->off + 3];

	buf_init(&b, AUDIT_ENTRY_MAX);
	if (audit_event_encode(&b, ev) != 0 || b.len != flen ||
	    memcmp(b.p, w->p + w->off + 4, flen) != 0)
		abort();
	buf_free(&b);
	w->off += 4 + flen + AUDIT_JOURNAL_SUM;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	struct kerr e = { "" };
	struct walk w;
	uint8_t *q;
	size_t n, used;
	int damaged;

	if (len < 1)
		return 0;
	n = len - 1;
	if ((q = malloc(n ? n : 1)) == NULL)	/* exact size: overreads show */
		return 0;
	memcpy(q, p + 1, n);
	if (p[0] & 1) {
		for (size_t off = 0; n - off >= 4;) {
			size_t fl = (size_t)q[off] << 24 | (size_t)q[off + 1] << 16 |
			    (size_t)q[off + 2] << 8 | q[off + 3];

			if (fl == 0 || fl > AUDIT_ENTRY_MAX ||
			    n - off - 4 < fl + AUDIT_JOURNAL_SUM)
				break;
			crypto_generichash(q + off + 4 + fl, AUDIT_JOURNAL_SUM,
			    q + off, 4 + fl, NULL, 0);
			off += 4 + fl + AUDIT_JOURNAL_SUM;
		}
	}
	w.p = q;
	w.off = 0;
	used = audit_journal_parse(q, n, check, &w, &damaged, &e);
	if (used > n || used != w.off)
		abort();
	free(q);
	return 0;
}
