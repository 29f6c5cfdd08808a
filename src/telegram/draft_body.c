/*
 * Pass 3 of tg_parse_draft (draft.c), the body: the lines after the header
 * into numbered paragraphs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "telegram/draft_int.h"
#include "telegram/tg.h"

/* Room for a paragraph number in decimal: any size_t, and its NUL. */
#define NUM_BUF 24

static int
end_para(struct draft *d, struct buf *para)
{
	char *s = draft_dupn((const char *)para->p, para->len);

	buf_free(para);
	if (s == NULL || draft_push(&d->t->paras, s) != 0)
		return nomem(d->e);
	return 0;
}

/*
 * Paragraphs are separated by blank lines; the first line of paragraph N
 * begins "N. " and its text follows on the same line.  The stored text drops
 * "N. ", keeps the lines joined by '\n' and strips trailing blanks.
 */
int
draft_parse_body(struct draft *d)
{
	struct buf para;
	const char *l;
	size_t n, total = 0;
	int in_para = 0, over_line = 0, r = 0;

	buf_init_secret(&para, TG_DRAFT_MAX);
	while (draft_next_line(&d->ls, &l, &n)) {
		int no = d->ls.no;
		size_t index = d->t->paras.n + 1, k;
		char num[NUM_BUF], q[QUOTE_BUF];

		if (blank(l, n)) {
			if (in_para && (r = end_para(d, &para)) != 0)
				goto out;
			in_para = 0;
			continue;
		}
		while (n > 0 && is_ws(l[n - 1]))
			n--;
		if (in_para) {
			if ((r = buf_put_u8(&para, '\n')) != 0 ||
			    (r = buf_put(&para, l, n)) != 0)
				goto nomem;
			total += n + 1;
			if (total > TG_BODY_MAX && over_line == 0)
				over_line = no;
			continue;
		}
		if (index > TG_PARAS_MAX) {
			r = kerr_set(d->e, KERR_TOOBIG, "line %d: paragraph %zu "
			    "is over the limit of %d paragraphs", no, index,
			    TG_PARAS_MAX);
			goto out;
		}
		snprintf(num, sizeof(num), "%zu", index);
		for (k = 0; k < n && is_digit((unsigned char)l[k]); k++)
			;
		if (k == 0 || k == n || l[k] != '.') {
			r = kerr_set(d->e, KERR_SYNTAX, "line %d: paragraph %zu "
			    "does not begin with its number '%s. '", no, index,
			    num);
			goto out;
		}
		if (k != strlen(num) || memcmp(l, num, k) != 0) {
			r = kerr_set(d->e, KERR_SYNTAX, "line %d: paragraph %zu "
			    "is numbered %s", no, index, draft_quote(q, l, k));
			goto out;
		}
		if (k + 1 == n) {
			r = kerr_set(d->e, KERR_SYNTAX, "line %d: paragraph %zu "
			    "has no text after '%s.' (the text begins on the "
			    "same line)", no, index, num);
			goto out;
		}
		if (l[k + 1] != ' ') {
			r = kerr_set(d->e, KERR_SYNTAX, "line %d: paragraph %zu: "
			    "expected a space after '%s.'", no, index, num);
			goto out;
		}
		l += k + 1;
		n -= k + 1;
		trim(&l, &n);
		if ((r = buf_put(&para, l, n)) != 0)
			goto nomem;
		total += n;
		if (total > TG_BODY_MAX && over_line == 0)
			over_line = no;
		in_para = 1;
	}
	if (in_para && (r = end_para(d, &para)) != 0)
		goto out;
	if (d->t->paras.n == 0) {
		r = kerr_set(d->e, KERR_SYNTAX, "line %d: the body has no "
		    "paragraphs (at least one is required)",
		    d->ls.no > d->header_end ? d->ls.no : d->header_end);
		goto out;
	}
	if (total > TG_BODY_MAX)
		r = kerr_set(d->e, KERR_TOOBIG, "line %d: body is %zu bytes, "
		    "over the limit of %d", over_line, total, TG_BODY_MAX);
	goto out;
nomem:
	r = r == KERR_NOMEM ? nomem(d->e) : kerr_set(d->e, r, "line %d: body "
	    "too long", d->ls.no);
out:
	buf_free(&para);
	return r;
}
