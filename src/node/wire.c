#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/wire.h"

int
wire_rec_parse(struct wire_rec *r, const uint8_t *p, size_t len, struct kerr *e)
{
	struct rd rd;

	memset(r, 0, sizeof(*r));
	rd_init(&rd, p, len);
	if (rd_u8(&rd, &r->type) != 0 || rd_u8(&rd, &r->prec) != 0 ||
	    rd_u32(&rd, &r->stream) != 0 || rd_u8(&rd, &r->flags) != 0)
		return kerr_set(e, KERR_TRUNCATED, "record of %zu bytes is "
		    "shorter than its header", len);
	if (r->type < WIRE_TELEGRAM || r->type > WIRE_AUDIT_ACK)
		return kerr_set(e, KERR_FORMAT, "record of unknown type %u",
		    r->type);
	if (r->prec < 1 || r->prec > 4)
		return kerr_set(e, KERR_FORMAT, "record with precedence %u",
		    r->prec);
	if ((r->flags & ~WIRE_FIN) != 0)
		return kerr_set(e, KERR_FORMAT, "record with unknown flags "
		    "0x%02x", r->flags);
	if (rd_left(&rd) > WIRE_CHUNK)
		return kerr_set(e, KERR_TOOBIG, "record data of %zu bytes "
		    "(at most %d)", rd_left(&rd), WIRE_CHUNK);
	r->data = p + rd.off;
	r->len = rd_left(&rd);
	return 0;
}

int
wire_rec_header(struct buf *out, uint8_t type, uint8_t prec, uint32_t stream,
    uint8_t flags)
{
	int r;

	if ((r = buf_put_u8(out, type)) != 0 || (r = buf_put_u8(out, prec)) != 0 ||
	    (r = buf_put_u32(out, stream)) != 0)
		return r;
	return buf_put_u8(out, flags);
}

void
wire_rx_init(struct wire_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

void
wire_rx_free(struct wire_rx *rx)
{
	for (size_t i = 0; i < WIRE_STREAMS_MAX; i++)
		buf_free(&rx->s[i].b);
	memset(rx, 0, sizeof(*rx));
}

int
wire_rx_feed(struct wire_rx *rx, const struct wire_rec *r, int *done,
    uint8_t *type, uint8_t *prec, struct buf **msg, struct kerr *e)
{
	size_t i, slot = WIRE_STREAMS_MAX;
	int err;

	*done = 0;
	*msg = NULL;
	for (i = 0; i < WIRE_STREAMS_MAX; i++) {
		if (rx->s[i].used && rx->s[i].stream == r->stream)
			break;
		if (!rx->s[i].used && slot == WIRE_STREAMS_MAX)
			slot = i;
	}
	if (i == WIRE_STREAMS_MAX) {
		if (slot == WIRE_STREAMS_MAX)
			return kerr_set(e, KERR_TOOBIG, "more than %d messages "
			    "in progress at once", WIRE_STREAMS_MAX);
		if (rx->total + r->len > WIRE_RX_MAX)
			return kerr_set(e, KERR_TOOBIG, "over %u bytes of "
			    "partial messages", WIRE_RX_MAX);
		i = slot;
		rx->s[i].used = 1;
		rx->s[i].stream = r->stream;
		rx->s[i].type = r->type;
		rx->s[i].prec = r->prec;
		buf_init(&rx->s[i].b, WIRE_MSG_MAX);
	} else if (rx->s[i].type != r->type)
		return kerr_set(e, KERR_FORMAT, "stream %u changed type from "
		    "%u to %u", r->stream, rx->s[i].type, r->type);
	if (rx->total + r->len > WIRE_RX_MAX)
		return kerr_set(e, KERR_TOOBIG, "over %u bytes of partial "
		    "messages", WIRE_RX_MAX);
	if ((err = buf_put(&rx->s[i].b, r->data, r->len)) != 0)
		return kerr_set(e, err, "message on stream %u is over %u bytes",
		    r->stream, WIRE_MSG_MAX);
	rx->total += r->len;
	if (r->flags & WIRE_FIN) {
		*done = 1;
		*type = rx->s[i].type;
		*prec = rx->s[i].prec;
		*msg = &rx->s[i].b;
	}
	return 0;
}

void
wire_rx_release(struct wire_rx *rx, struct buf *msg)
{
	for (size_t i = 0; i < WIRE_STREAMS_MAX; i++) {
		if (rx->s[i].used && &rx->s[i].b == msg) {
			rx->total -= msg->len;
			buf_free(msg);
			rx->s[i].used = 0;
			return;
		}
	}
}

/* A str8 into a fixed field of max bytes (plus NUL); no NUL, valid UTF-8. */
static int
rd_fixed_str(struct rd *rd, char *out, size_t max)
{
	char *s;
	int r;

	if ((r = rd_str8(rd, &s)) != 0)
		return r;
	if (strlen(s) > max) {
		free(s);
		return KERR_TOOBIG;
	}
	memcpy(out, s, strlen(s) + 1);
	free(s);
	return 0;
}

int
wire_hello_encode(struct buf *out, const struct wire_hello *h)
{
	int r;

	if ((r = buf_put_u8(out, h->version)) != 0 ||
	    (r = buf_put_str8(out, h->name)) != 0 ||
	    (r = buf_put_u8(out, h->intent)) != 0)
		return r;
	if (h->intent == WIRE_ENROL &&
	    ((r = buf_put(out, h->secret, 32)) != 0 ||
	    (r = buf_put(out, h->sign_pk, 32)) != 0 ||
	    (r = buf_put(out, h->sig, 64)) != 0))
		return r;
	return 0;
}

int
wire_hello_decode(struct wire_hello *h, const uint8_t *p, size_t len,
    struct kerr *e)
{
	struct rd rd;

	memset(h, 0, sizeof(*h));
	rd_init(&rd, p, len);
	if (rd_u8(&rd, &h->version) != 0)
		return kerr_set(e, KERR_TRUNCATED, "empty hello");
	if (h->version != WIRE_VERSION)
		return kerr_set(e, KERR_VERSION, "protocol version %u (this "
		    "node speaks %d)", h->version, WIRE_VERSION);
	if (rd_fixed_str(&rd, h->name, TG_POST_MAX) != 0 || h->name[0] == '\0' ||
	    rd_u8(&rd, &h->intent) != 0)
		return kerr_set(e, KERR_FORMAT, "malformed hello");
	if (h->intent == WIRE_ENROL) {
		if (rd_copy(&rd, h->secret, 32) != 0 ||
		    rd_copy(&rd, h->sign_pk, 32) != 0 ||
		    rd_copy(&rd, h->sig, 64) != 0) {
			sodium_memzero(h, sizeof(*h));
			return kerr_set(e, KERR_TRUNCATED, "truncated "
			    "enrolment hello");
		}
	} else if (h->intent != WIRE_CONNECT)
		return kerr_set(e, KERR_FORMAT, "hello with unknown intent %u",
		    h->intent);
	if (rd_left(&rd) != 0) {
		sodium_memzero(h, sizeof(*h));
		return kerr_set(e, KERR_FORMAT, "hello has %zu trailing bytes",
		    rd_left(&rd));
	}
	return 0;
}

int
wire_welcome_encode(struct buf *out, const struct wire_welcome *w)
{
	int r;

	if ((r = buf_put_u8(out, w->version)) != 0)
		return r;
	return buf_put_u64(out, w->roster_version);
}

int
wire_welcome_decode(struct wire_welcome *w, const uint8_t *p, size_t len,
    struct kerr *e)
{
	struct rd rd;

	memset(w, 0, sizeof(*w));
	rd_init(&rd, p, len);
	if (rd_u8(&rd, &w->version) != 0 || rd_u64(&rd, &w->roster_version) != 0)
		return kerr_set(e, KERR_TRUNCATED, "truncated welcome");
	if (w->version != WIRE_VERSION)
		return kerr_set(e, KERR_VERSION, "protocol version %u (this "
		    "node speaks %d)", w->version, WIRE_VERSION);
	if (rd_left(&rd) != 0)
		return kerr_set(e, KERR_FORMAT, "welcome has trailing bytes");
	return 0;
}

int
wire_ack_encode(struct buf *out, const struct wire_ack *a)
{
	int r;

	if ((r = buf_put_u8(out, a->kind)) != 0 ||
	    (r = buf_put(out, a->id, 16)) != 0 ||
	    (r = buf_put_str8(out, a->by)) != 0 ||
	    (r = buf_put_u8(out, a->state)) != 0 ||
	    (r = buf_put_u8(out, a->result)) != 0)
		return r;
	return buf_put_str8(out, a->reason);
}

int
wire_ack_decode(struct wire_ack *a, const uint8_t *p, size_t len,
    struct kerr *e)
{
	struct rd rd;

	memset(a, 0, sizeof(*a));
	rd_init(&rd, p, len);
	if (rd_u8(&rd, &a->kind) != 0 || rd_copy(&rd, a->id, 16) != 0 ||
	    rd_fixed_str(&rd, a->by, TG_POST_MAX) != 0 ||
	    rd_u8(&rd, &a->state) != 0 ||
	    rd_u8(&rd, &a->result) != 0 ||
	    rd_fixed_str(&rd, a->reason, sizeof(a->reason) - 1) != 0)
		return kerr_set(e, KERR_FORMAT, "malformed ack");
	if ((a->kind != WIRE_ACK_TELEGRAM && a->kind != WIRE_ACK_RECEIPT) ||
	    a->result > WIRE_ACK_REFUSED || rd_left(&rd) != 0)
		return kerr_set(e, KERR_FORMAT, "malformed ack");
	return 0;
}

int
wire_sync_encode(struct buf *out, const struct wire_sync *s)
{
	int r;

	if ((r = buf_put_u16(out, s->n)) != 0)
		return r;
	for (size_t i = 0; i < s->n; i++) {
		const struct wire_sync_origin *o = &s->o[i];

		if ((r = buf_put_str8(out, o->origin)) != 0 ||
		    (r = buf_put_u64(out, o->hwm)) != 0 ||
		    (r = buf_put_u16(out, o->n_above)) != 0)
			return r;
		for (size_t k = 0; k < o->n_above; k++)
			if ((r = buf_put_u64(out, o->above[k])) != 0)
				return r;
	}
	return 0;
}

void
wire_sync_free(struct wire_sync *s)
{
	if (s->o != NULL)
		for (size_t i = 0; i < s->n; i++)
			free(s->o[i].above);
	free(s->o);
	memset(s, 0, sizeof(*s));
}

int
wire_sync_decode(struct wire_sync *s, const uint8_t *p, size_t len,
    struct kerr *e)
{
	struct rd rd;
	size_t total = 0;

	memset(s, 0, sizeof(*s));
	rd_init(&rd, p, len);
	if (rd_u16(&rd, &s->n) != 0)
		return kerr_set(e, KERR_TRUNCATED, "truncated sync");
	if (s->n > WIRE_SYNC_ORIGINS_MAX || s->n > rd_left(&rd) / 11)
		goto bad;
	if (s->n > 0 && (s->o = calloc(s->n, sizeof(*s->o))) == NULL)
		return KERR_NOMEM;
	for (size_t i = 0; i < s->n; i++) {
		struct wire_sync_origin *o = &s->o[i];

		if (rd_fixed_str(&rd, o->origin, TG_POST_MAX) != 0 ||
		    o->origin[0] == '\0' || rd_u64(&rd, &o->hwm) != 0 ||
		    rd_u16(&rd, &o->n_above) != 0)
			goto bad;
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->o[j].origin, o->origin) == 0)
				goto bad;	/* wire_sync_has reads the first only */
		total += o->n_above;
		if (total > WIRE_SYNC_ABOVE_MAX ||
		    o->n_above > rd_left(&rd) / 8)
			goto bad;
		if (o->n_above > 0 &&
		    (o->above = calloc(o->n_above, sizeof(uint64_t))) == NULL) {
			wire_sync_free(s);
			return KERR_NOMEM;
		}
		for (size_t k = 0; k < o->n_above; k++)
			if (rd_u64(&rd, &o->above[k]) != 0 ||
			    o->above[k] <= o->hwm)
				goto bad;
	}
	if (rd_left(&rd) != 0)
		goto bad;
	return 0;
bad:
	wire_sync_free(s);
	return kerr_set(e, KERR_FORMAT, "malformed sync message");
}

int
wire_sync_has(const struct wire_sync *s, const char *origin, uint64_t seq)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->o[i].origin, origin) != 0)
			continue;
		if (seq <= s->o[i].hwm)
			return 1;
		for (size_t k = 0; k < s->o[i].n_above; k++)
			if (s->o[i].above[k] == seq)
				return 1;
		return 0;
	}
	return 0;
}
