/*
 * tg_parse_draft: the drafting text form (docs/drafting.md) into a struct tg.
 *
 * Three passes, each bounded by len:
 *   1. the whole text: size, UTF-8 and control characters, so that the later
 *      passes and every message deal only in clean text;
 *   2. the header, split into fields; continuation lines are joined with one
 *      space and the line each piece came from is remembered, so that an
 *      error in the 40th INFO item names its own line;
 *   3. the fields in a fixed order (FROM, TO, INFO, PRECEDENCE, ...), then
 *      the body into numbered paragraphs.
 * Rules on single values are the tg_check_* functions shared with
 * tg_validate; cross-field rules are applied in pass 3 with line numbers and
 * again by tg_validate, which runs last as a safety net.
 *
 * Codes: KERR_SYNTAX for text that is not in the drafting form (encoding,
 * header lines, missing or repeated fields, paragraph numbering),
 * KERR_INVALID for a value that breaks a rule, KERR_TOOBIG for a value or
 * count over a cap, KERR_NOMEM.
 *
 * The passes are files of their own (draft_int.h lists them): pass 1 is
 * draft_text.c, pass 2 draft_header.c, pass 3 draft_fields.c and, for the
 * body, draft_body.c.  This file runs them in order.
 */
#include <stdlib.h>

#include "lib/buf.h"
#include "telegram/draft_int.h"
#include "telegram/tg.h"

int
tg_parse_draft(struct tg **out, const char *text, size_t len,
    const struct tg_policy *pol, struct kerr *e)
{
	struct tg_policy def;
	struct draft *d;
	int r;

	*out = NULL;
	if ((r = draft_check_text(text, len, e)) != 0)
		return r;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->t = calloc(1, sizeof(*d->t))) == NULL) {
		free(d);
		return nomem(e);
	}
	if (pol == NULL) {
		tg_policy_default(&def);
		pol = &def;
	}
	d->pol = pol;
	d->e = e;
	d->ls.p = text;
	d->ls.len = len;
	for (int i = 0; i < F_N; i++)
		buf_init_secret(&d->f[i].val, TG_DRAFT_MAX);

	if ((r = draft_parse_header(d)) != 0 ||
	    (r = draft_parse_fields(d)) != 0 ||
	    (r = draft_parse_body(d)) != 0)
		goto out;
	/* Every rule again, on the finished telegram: a parser bug surfaces
	 * here as an error, never as a telegram that will not decode. */
	if ((r = tg_validate(d->t, pol, e)) != 0)
		goto out;
	*out = d->t;
	d->t = NULL;
out:
	for (int i = 0; i < F_N; i++) {
		buf_free(&d->f[i].val);
		free(d->f[i].seg);
	}
	tg_free(d->t);
	free(d);
	return r;
}
