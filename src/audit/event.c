/*
 * Canonical encodings of audit entries and tree heads (auditlog.h).  The
 * entry encoding is what the Merkle tree commits to, so it never changes
 * for version 1: new fields need AUDIT_ENTRY_VERSION 2.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit/auditlog.h"

#define HEAD_LABEL "koden audit head v1"
/* The largest signed message of a head: label || str8 node (any length a
 * str8 holds) || u64 size || root || u64 time. */
#define HEAD_MESSAGE_MAX (sizeof(HEAD_LABEL) + 1 + UINT8_MAX + 8 + \
	MERKLE_HASH + 8)

uint64_t
audit_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A field: u16 length, bytes; at most cap bytes of UTF-8. */
static int
put_field(struct buf *b, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap + 1);

	if (n > cap)
		return KERR_TOOBIG;
	if (!utf8_valid((const uint8_t *)s, n))
		return KERR_FORMAT;
	return buf_put_str16(b, s);
}

int
audit_event_encode(struct buf *out, const struct audit_event *ev)
{
	int r;

	if ((r = buf_put_u8(out, AUDIT_ENTRY_VERSION)) != 0 ||
	    (r = buf_put_u64(out, ev->seq)) != 0 ||
	    (r = buf_put_u64(out, ev->time_ns)) != 0 ||
	    (r = put_field(out, ev->node, AUDIT_NODE_MAX)) != 0 ||
	    (r = put_field(out, ev->actor, AUDIT_ACTOR_MAX)) != 0 ||
	    (r = put_field(out, ev->source, AUDIT_SOURCE_MAX)) != 0 ||
	    (r = put_field(out, ev->action, AUDIT_ACTION_MAX)) != 0 ||
	    (r = put_field(out, ev->object, AUDIT_OBJECT_MAX)) != 0 ||
	    (r = put_field(out, ev->outcome, AUDIT_OUTCOME_MAX)) != 0 ||
	    (r = put_field(out, ev->detail, AUDIT_DETAIL_MAX)) != 0)
		return r;
	return 0;
}

static int
get_field(struct rd *r, char *out, size_t cap)
{
	uint16_t n;
	const uint8_t *p;
	int rc;

	if ((rc = rd_u16(r, &n)) != 0)
		return rc;
	if (n > cap)
		return KERR_TOOBIG;
	if ((rc = rd_take(r, &p, n)) != 0)
		return rc;
	if (memchr(p, 0, n) != NULL || !utf8_valid(p, n))
		return KERR_FORMAT;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
audit_event_decode(struct audit_event *ev, const uint8_t *p, size_t len)
{
	struct rd r;
	uint8_t v;
	int rc;

	memset(ev, 0, sizeof(*ev));
	rd_init(&r, p, len);
	if ((rc = rd_u8(&r, &v)) != 0)
		return rc;
	if (v != AUDIT_ENTRY_VERSION)
		return KERR_VERSION;
	if ((rc = rd_u64(&r, &ev->seq)) != 0 ||
	    (rc = rd_u64(&r, &ev->time_ns)) != 0 ||
	    (rc = get_field(&r, ev->node, AUDIT_NODE_MAX)) != 0 ||
	    (rc = get_field(&r, ev->actor, AUDIT_ACTOR_MAX)) != 0 ||
	    (rc = get_field(&r, ev->source, AUDIT_SOURCE_MAX)) != 0 ||
	    (rc = get_field(&r, ev->action, AUDIT_ACTION_MAX)) != 0 ||
	    (rc = get_field(&r, ev->object, AUDIT_OBJECT_MAX)) != 0 ||
	    (rc = get_field(&r, ev->outcome, AUDIT_OUTCOME_MAX)) != 0 ||
	    (rc = get_field(&r, ev->detail, AUDIT_DETAIL_MAX)) != 0)
		return rc;
	if (rd_left(&r) != 0)
		return KERR_FORMAT;
	return 0;
}

int
audit_event_leaf(uint8_t out[static MERKLE_HASH], const struct audit_event *ev)
{
	struct buf b;
	int r;

	buf_init(&b, AUDIT_ENTRY_MAX);
	if ((r = audit_event_encode(&b, ev)) == 0)
		merkle_leaf_hash(out, b.p, b.len);
	buf_free(&b);
	return r;
}

/*
 * Copy s into out (at most cap bytes): a character split by the cap is cut,
 * control characters become ' ', and if the rest is still not UTF-8 every
 * non-ASCII byte becomes '?'.  Events never fail for their text.
 */
static void
set_field(char *out, size_t cap, const char *s)
{
	size_t n, i;

	out[0] = '\0';
	if (s == NULL)
		return;
	n = strnlen(s, cap);
	memcpy(out, s, n);
	out[n] = '\0';
	/* an incomplete last character (cut by the cap) is dropped */
	{
		size_t p = n;
		unsigned need;

		while (p > 0 && n - p < 3 && ((uint8_t)out[p - 1] & 0xc0) == 0x80)
			p--;
		if (p > 0 && ((uint8_t)out[p - 1] & 0xc0) == 0xc0) {
			uint8_t lead = (uint8_t)out[p - 1];

			need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
			if (n - (p - 1) < need)
				out[n = p - 1] = '\0';
		}
	}
	if (!utf8_valid((const uint8_t *)out, n)) {
		memcpy(out, s, n = strnlen(s, cap));
		out[n] = '\0';
		for (i = 0; i < n; i++)
			if ((uint8_t)out[i] >= 0x80)
				out[i] = '?';
	}
	for (i = 0; i < n; i++)
		if ((uint8_t)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
}

void
audit_event_set(struct audit_event *ev, const char *actor, const char *source,
    const char *action, const char *object, const char *outcome,
    const char *detail)
{
	ev->time_ns = audit_now_ns();
	set_field(ev->actor, AUDIT_ACTOR_MAX, actor);
	set_field(ev->source, AUDIT_SOURCE_MAX, source);
	set_field(ev->action, AUDIT_ACTION_MAX, action);
	set_field(ev->object, AUDIT_OBJECT_MAX, object);
	set_field(ev->outcome, AUDIT_OUTCOME_MAX, outcome);
	set_field(ev->detail, AUDIT_DETAIL_MAX, detail);
}

int
audit_head_message(struct buf *out, const char *node, const struct audit_head *h)
{
	int r;

	if ((r = buf_put(out, HEAD_LABEL, sizeof(HEAD_LABEL))) != 0 ||
	    (r = buf_put_str8(out, node)) != 0 ||
	    (r = buf_put_u64(out, h->size)) != 0 ||
	    (r = buf_put(out, h->root, MERKLE_HASH)) != 0 ||
	    (r = buf_put_u64(out, h->time_ns)) != 0)
		return r;
	return 0;
}

int
audit_head_sign(struct audit_head *h, const char *node,
    const struct identity *key)
{
	struct buf m;
	int r;

	buf_init(&m, HEAD_MESSAGE_MAX);
	if ((r = audit_head_message(&m, node, h)) == 0 &&
	    crypto_sign_detached(h->sig, NULL, m.p, m.len, key->sign_sk) != 0)
		r = KERR_CRYPTO;
	buf_free(&m);
	return r;
}

int
audit_head_verify(const struct audit_head *h, const char *node,
    const uint8_t pk[static KEY_SIGN_PK])
{
	struct buf m;
	int r;

	buf_init(&m, HEAD_MESSAGE_MAX);
	if ((r = audit_head_message(&m, node, h)) == 0 &&
	    crypto_sign_verify_detached(h->sig, m.p, m.len, pk) != 0)
		r = KERR_SIGNATURE;
	buf_free(&m);
	return r;
}
