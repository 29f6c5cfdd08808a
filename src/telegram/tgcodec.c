/*
 * The canonical binary form of a telegram: the bytes the drafter signs
 * (docs/drafting.md, "Telegram binary form").
 *
 *   "KTG" u8 version=1
 *   id[16] u64 dtg u64 serial
 *   str8 origin u8 prec_action u8 prec_info str8 classification
 *   list to, list info, list captions, list persons, list tags
 *   str16 subject
 *   list refs
 *   str8 drafter
 *   list cleared
 *   str8 releaser (empty = none)
 *   u16 n, then n times: u32 len, len bytes (paragraphs)
 *
 * where list = u16 count, then count times str8; integers big-endian.
 *
 * Canonical: every field has exactly one spelling (fixed order, exact
 * lengths, no padding, no optional parts), and tg_decode runs tg_validate,
 * which only accepts normalised values.  So a byte string decodes only if it
 * is exactly tg_encode of what it decodes to: one telegram, one signature.
 * tg_encode validates first, so whatever encodes also decodes.
 */
#include <stdlib.h>
#include <string.h>

#include "telegram/tg.h"

#define TG_MAGIC "KTG"
#define TG_MAGIC_LEN 3
#define TG_VERSION 1

static int
put_list(struct buf *b, const struct tg_list *l)
{
	int r;

	if (l->n > UINT16_MAX)
		return KERR_TOOBIG;
	if ((r = buf_put_u16(b, (uint16_t)l->n)) != 0)
		return r;
	for (size_t i = 0; i < l->n; i++)
		if ((r = buf_put_str8(b, l->v[i])) != 0)
			return r;
	return 0;
}

int
tg_encode(const struct tg *t, struct buf *out)
{
	size_t start = out->len;
	int r;

	if ((r = tg_validate(t, NULL, NULL)) != 0)
		return r;
	if ((r = buf_put(out, TG_MAGIC, TG_MAGIC_LEN)) != 0 ||
	    (r = buf_put_u8(out, TG_VERSION)) != 0 ||
	    (r = buf_put(out, t->id, TG_ID_LEN)) != 0 ||
	    (r = buf_put_u64(out, t->dtg)) != 0 ||
	    (r = buf_put_u64(out, t->serial)) != 0 ||
	    (r = buf_put_str8(out, t->origin)) != 0 ||
	    (r = buf_put_u8(out, t->prec_action)) != 0 ||
	    (r = buf_put_u8(out, t->prec_info)) != 0 ||
	    (r = buf_put_str8(out, t->classification)) != 0 ||
	    (r = put_list(out, &t->to)) != 0 ||
	    (r = put_list(out, &t->info)) != 0 ||
	    (r = put_list(out, &t->captions)) != 0 ||
	    (r = put_list(out, &t->persons)) != 0 ||
	    (r = put_list(out, &t->tags)) != 0 ||
	    (r = buf_put_str16(out, t->subject)) != 0 ||
	    (r = put_list(out, &t->refs)) != 0 ||
	    (r = buf_put_str8(out, t->drafter)) != 0 ||
	    (r = put_list(out, &t->cleared)) != 0 ||
	    (r = buf_put_str8(out, t->releaser)) != 0 ||
	    (r = buf_put_u16(out, (uint16_t)t->paras.n)) != 0)
		goto out;
	for (size_t i = 0; i < t->paras.n; i++)
		if ((r = buf_put_bytes32(out, t->paras.v[i],
		    strlen(t->paras.v[i]))) != 0)
			goto out;
out:
	if (r != 0)
		out->len = start;
	return r;
}

struct dec {
	struct rd r;
	struct kerr *e;
};

/* A reader error as a message naming the field and the byte offset. */
static int
fail(struct dec *d, int r, const char *field, size_t at)
{
	switch (r) {
	case KERR_TRUNCATED:
		return kerr_set(d->e, r, "telegram: %s: truncated at byte %zu",
		    field, at);
	case KERR_FORMAT:
		return kerr_set(d->e, r, "telegram: %s: NUL byte or invalid "
		    "UTF-8 in the string at byte %zu", field, at);
	case KERR_NOMEM:
		return kerr_set(d->e, r, "out of memory");
	}
	return kerr_set(d->e, r, "telegram: %s at byte %zu: %s", field, at,
	    kerr_str(r));
}

static int
get_str8(struct dec *d, char **out, const char *field)
{
	size_t at = d->r.off;
	int r;

	if ((r = rd_str8(&d->r, out)) != 0)
		return fail(d, r, field, at);
	return 0;
}

/*
 * A list of at most max str8 items.  The count is trusted for nothing: it is
 * held to the cap and to the bytes left (every item takes at least its length
 * byte) before anything is allocated.
 */
static int
get_list(struct dec *d, struct tg_list *l, size_t max, const char *field)
{
	size_t at = d->r.off;
	uint16_t n;
	int r;

	if ((r = rd_u16(&d->r, &n)) != 0)
		return fail(d, r, field, at);
	if (n > max)
		return kerr_set(d->e, KERR_TOOBIG, "telegram: %s: %u items at "
		    "byte %zu, over the limit of %zu", field, n, at, max);
	if (n > rd_left(&d->r))
		return kerr_set(d->e, KERR_TRUNCATED, "telegram: %s: %u items "
		    "at byte %zu, but only %zu bytes follow", field, n, at,
		    rd_left(&d->r));
	if (n == 0)
		return 0;
	if ((l->v = calloc(n, sizeof(*l->v))) == NULL)
		return fail(d, KERR_NOMEM, field, at);
	l->n = n;
	for (size_t i = 0; i < n; i++)
		if ((r = get_str8(d, &l->v[i], field)) != 0)
			return r;
	return 0;
}

static int
get_paras(struct dec *d, struct tg_list *l)
{
	size_t at = d->r.off;
	uint16_t n;
	int r;

	if ((r = rd_u16(&d->r, &n)) != 0)
		return fail(d, r, "body", at);
	if (n > TG_PARAS_MAX)
		return kerr_set(d->e, KERR_TOOBIG, "telegram: body: %u "
		    "paragraphs at byte %zu, over the limit of %d", n, at,
		    TG_PARAS_MAX);
	if (n > rd_left(&d->r) / 4)
		return kerr_set(d->e, KERR_TRUNCATED, "telegram: body: %u "
		    "paragraphs at byte %zu, but only %zu bytes follow", n, at,
		    rd_left(&d->r));
	if (n == 0)
		return 0;
	if ((l->v = calloc(n, sizeof(*l->v))) == NULL)
		return fail(d, KERR_NOMEM, "body", at);
	l->n = n;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p;
		size_t len;

		at = d->r.off;
		if ((r = rd_bytes32(&d->r, &p, &len, TG_BODY_MAX)) != 0)
			return r == KERR_TOOBIG ? kerr_set(d->e, r, "telegram: "
			    "body: paragraph %zu at byte %zu is over the limit "
			    "of %d bytes", i + 1, at, TG_BODY_MAX) :
			    fail(d, r, "body", at);
		if (memchr(p, '\0', len) != NULL || !utf8_valid(p, len))
			return fail(d, KERR_FORMAT, "body", at);
		if ((l->v[i] = malloc(len + 1)) == NULL)
			return fail(d, KERR_NOMEM, "body", at);
		if (len)
			memcpy(l->v[i], p, len);
		l->v[i][len] = '\0';
	}
	return 0;
}

int
tg_decode(struct tg **out, const uint8_t *p, size_t len, struct kerr *e)
{
	struct dec d = { .e = e };
	struct kerr why = { "" };
	const uint8_t *magic;
	struct tg *t = NULL;
	uint8_t version;
	size_t at;
	int r;

	*out = NULL;
	if (len > TG_ENCODED_MAX)
		return kerr_set(e, KERR_TOOBIG, "telegram is %zu bytes, over the "
		    "limit of %d", len, TG_ENCODED_MAX);
	rd_init(&d.r, p, len);
	if (rd_take(&d.r, &magic, TG_MAGIC_LEN) != 0 ||
	    memcmp(magic, TG_MAGIC, TG_MAGIC_LEN) != 0)
		return kerr_set(e, KERR_FORMAT, "not a telegram (the binary form "
		    "begins with \"%s\")", TG_MAGIC);
	if (rd_u8(&d.r, &version) != 0)
		return fail(&d, KERR_TRUNCATED, "version", TG_MAGIC_LEN);
	if (version != TG_VERSION)
		return kerr_set(e, KERR_VERSION, "telegram: binary form version "
		    "%u, expected %d", version, TG_VERSION);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return kerr_set(e, KERR_NOMEM, "out of memory");

	at = d.r.off;
	if ((r = rd_copy(&d.r, t->id, TG_ID_LEN)) != 0) {
		r = fail(&d, r, "id", at);
		goto out;
	}
	at = d.r.off;
	if ((r = rd_u64(&d.r, &t->dtg)) != 0 ||
	    (r = rd_u64(&d.r, &t->serial)) != 0) {
		r = fail(&d, r, "date-time group and serial", at);
		goto out;
	}
	if ((r = get_str8(&d, &t->origin, "FROM")) != 0)
		goto out;
	at = d.r.off;
	if ((r = rd_u8(&d.r, &t->prec_action)) != 0 ||
	    (r = rd_u8(&d.r, &t->prec_info)) != 0) {
		r = fail(&d, r, "PRECEDENCE", at);
		goto out;
	}
	if ((r = get_str8(&d, &t->classification, "CLASSIFICATION")) != 0 ||
	    (r = get_list(&d, &t->to, TG_ADDRESSEES_MAX, "TO")) != 0 ||
	    (r = get_list(&d, &t->info, TG_ADDRESSEES_MAX, "INFO")) != 0 ||
	    (r = get_list(&d, &t->captions, TG_CAPTIONS_MAX, "CAPTION")) != 0 ||
	    (r = get_list(&d, &t->persons, TG_PERSONS_MAX, "PERSONS")) != 0 ||
	    (r = get_list(&d, &t->tags, TG_TAGS_MAX, "TAGS")) != 0)
		goto out;
	at = d.r.off;
	if ((r = rd_str16(&d.r, &t->subject)) != 0) {
		r = fail(&d, r, "SUBJECT", at);
		goto out;
	}
	if ((r = get_list(&d, &t->refs, TG_REFS_MAX, "REF")) != 0 ||
	    (r = get_str8(&d, &t->drafter, "DRAFTER")) != 0 ||
	    (r = get_list(&d, &t->cleared, TG_CLEARED_MAX, "CLEARED")) != 0 ||
	    (r = get_str8(&d, &t->releaser, "RELEASED")) != 0 ||
	    (r = get_paras(&d, &t->paras)) != 0)
		goto out;
	if (t->releaser[0] == '\0') {
		free(t->releaser);
		t->releaser = NULL;
	}
	if (rd_left(&d.r) != 0) {
		r = kerr_set(e, KERR_FORMAT, "telegram: %zu trailing bytes after "
		    "the last paragraph (at byte %zu)", rd_left(&d.r), d.r.off);
		goto out;
	}
	if ((r = tg_validate(t, NULL, &why)) != 0) {
		r = kerr_set(e, r, "telegram: %s", why.msg);
		goto out;
	}
	*out = t;
	t = NULL;
out:
	tg_free(t);
	return r;
}
