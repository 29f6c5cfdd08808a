/*
 * Pass 2 of tg_parse_draft (draft.c): the header lines into fields.
 * Continuation lines are joined with one space and the line each piece came
 * from is remembered, so that an error in the 40th INFO item names its own
 * line.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "telegram/draft_int.h"
#include "telegram/tg.h"

/* Room for the first pieces of a field's value; it doubles from there. */
#define SEGS_FIRST 8

const struct field_rule draft_fields[F_N] = {
	[F_FROM] = { "FROM", 1 },
	[F_TO] = { "TO", 1 },
	[F_INFO] = { "INFO", 0 },
	[F_PRECEDENCE] = { "PRECEDENCE", 1 },
	[F_CLASSIFICATION] = { "CLASSIFICATION", 1 },
	[F_CAPTION] = { "CAPTION", 0 },
	[F_PERSONS] = { "PERSONS", 0 },
	[F_TAGS] = { "TAGS", 0 },
	[F_SUBJECT] = { "SUBJECT", 1 },
	[F_REF] = { "REF", 0 },
	[F_DRAFTER] = { "DRAFTER", 1 },
	[F_CLEARED] = { "CLEARED", 0 },
	[F_RELEASED] = { "RELEASED", 0 },
	[F_SERIAL] = { "SERIAL", 0 },
};

static int
field_lookup(const char *p, size_t n)
{
	for (int i = 0; i < F_N; i++) {
		const char *name = draft_fields[i].name;
		size_t k;

		if (strlen(name) != n)
			continue;
		for (k = 0; k < n; k++)
			if (to_upper((unsigned char)p[k]) != name[k])
				break;
		if (k == n)
			return i;
	}
	return -1;
}

/* Add a piece (trimmed, maybe empty) of f's value, read on line. */
static int
append(struct field *f, const char *p, size_t n, int line)
{
	struct seg *s;
	int r;

	if (n == 0)
		return 0;
	if (f->val.len > 0 && (r = buf_put_u8(&f->val, ' ')) != 0)
		return r;
	if (f->nseg == f->segcap) {
		size_t cap = f->segcap ? 2 * f->segcap : SEGS_FIRST;

		/* nseg <= lines in the text <= TG_DRAFT_MAX: no overflow */
		if ((s = realloc(f->seg, cap * sizeof(*s))) == NULL)
			return KERR_NOMEM;
		f->seg = s;
		f->segcap = cap;
	}
	f->seg[f->nseg].off = f->val.len;
	f->seg[f->nseg].line = line;
	f->nseg++;
	return buf_put(&f->val, p, n);
}

int
draft_parse_header(struct draft *d)
{
	struct field *cur = NULL;
	char q[QUOTE_BUF];
	const char *l, *v;
	size_t n, vn, k;
	int id, r;

	while (draft_next_line(&d->ls, &l, &n)) {
		int no = d->ls.no;

		if (blank(l, n)) {
			d->header_end = no;
			return 0;
		}
		if (is_ws(l[0])) {
			if (cur == NULL)
				return kerr_set(d->e, KERR_SYNTAX, "line %d: "
				    "continuation line with no field before it "
				    "(header lines are 'FIELD: value')", no);
			v = l;
			vn = n;
			trim(&v, &vn);
			if ((r = append(cur, v, vn, no)) != 0)
				return r == KERR_NOMEM ? nomem(d->e) :
				    kerr_set(d->e, r, "line %d: %s: value too "
				    "long", no, draft_fields[cur - d->f].name);
			continue;
		}
		for (k = 0; k < n && is_alpha((unsigned char)l[k]); k++)
			;
		if (k == 0 || k == n || l[k] != ':')
			return kerr_set(d->e, KERR_SYNTAX, "line %d: expected "
			    "'FIELD: value' (a blank line separates the header "
			    "from the body)", no);
		if ((id = field_lookup(l, k)) < 0)
			return kerr_set(d->e, KERR_SYNTAX, "line %d: unknown "
			    "field '%s' (expected FROM, TO, INFO, PRECEDENCE, "
			    "CLASSIFICATION, CAPTION, PERSONS, TAGS, SUBJECT, "
			    "REF, DRAFTER, CLEARED, RELEASED or SERIAL)", no,
			    draft_quote(q, l, k));
		if (d->f[id].line != 0)
			return kerr_set(d->e, KERR_SYNTAX, "line %d: duplicate "
			    "field %s (first on line %d)", no,
			    draft_fields[id].name, d->f[id].line);
		cur = &d->f[id];
		cur->line = no;
		v = l + k + 1;
		vn = n - k - 1;
		trim(&v, &vn);
		if ((r = append(cur, v, vn, no)) != 0)
			return r == KERR_NOMEM ? nomem(d->e) : kerr_set(d->e, r,
			    "line %d: %s: value too long", no,
			    draft_fields[id].name);
	}
	d->header_end = d->ls.no + 1;
	return 0;
}
