/*
 * Pass 3 of tg_parse_draft (draft.c): the header's fields in a fixed order
 * (FROM, TO, INFO, PRECEDENCE, ...), each value checked and put into the
 * struct tg.  A single value is held to its tg_check_* rule (tg.c); the
 * rules across fields (TO and INFO within one cap and one post once across
 * both, NODIS with PERSONS, PERSONS with a CAPTION) are applied here, with
 * line numbers, and again by tg_validate when tg_parse_draft is done.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/text.h"
#include "telegram/draft_int.h"
#include "telegram/tg.h"

/* Longer than any precedence name (tg_prec_parse: "IMMEDIATE"). */
#define PREC_NAME_BUF 16
/* The levels of a policy listed in a message: each with its separator. */
#define LEVELS_BUF (TG_POLICY_LEVELS_MAX * (TG_CLASS_MAX + sizeof(" or ")))

/* One comma-separated item of a field, trimmed. */
struct item {
	const char *p;
	size_t n;
	int line;
};

static int
line_at(const struct field *f, size_t off)
{
	int line = f->line;

	for (size_t i = 0; i < f->nseg && f->seg[i].off <= off; i++)
		line = f->seg[i].line;
	return line;
}

static void
whole(const struct field *f, struct item *it)
{
	it->p = (const char *)f->val.p;
	it->n = f->val.len;
	it->line = f->line;
	trim(&it->p, &it->n);
}

/* The next item of f's comma list from *pos; 0 when there is none left. */
static int
next_item(const struct field *f, size_t *pos, struct item *it)
{
	const char *s = (const char *)f->val.p, *comma;
	size_t len = f->val.len, end;

	if (s == NULL || *pos > len)
		return 0;
	comma = memchr(s + *pos, ',', len - *pos);
	end = comma ? (size_t)(comma - s) : len;
	it->p = s + *pos;
	it->n = end - *pos;
	*pos = end + 1;
	trim(&it->p, &it->n);
	it->line = line_at(f, (size_t)(it->p - s));
	return 1;
}

static size_t
count_items(const struct field *f)
{
	size_t n = 0;

	if (f->val.len == 0)
		return 0;
	for (size_t i = 0; i < f->val.len; i++)
		n += f->val.p[i] == ',';
	return n + 1;
}

/* Present and non-empty (if required, present). */
static int
need(struct draft *d, int id, int *present)
{
	*present = d->f[id].line != 0;
	if (!*present) {
		if (draft_fields[id].required)
			return kerr_set(d->e, KERR_SYNTAX, "line %d: the header "
			    "ends without required field %s", d->header_end,
			    draft_fields[id].name);
		return 0;
	}
	if (d->f[id].val.len == 0)
		return kerr_set(d->e, KERR_SYNTAX, "line %d: %s: empty value",
		    d->f[id].line, draft_fields[id].name);
	return 0;
}

/* Run a tg_check_* on s, naming the line and field on failure. */
static int
check(struct draft *d, int id, int line, const char *s,
    int (*fn)(const char *, struct kerr *))
{
	struct kerr why = { "" };
	int r;

	if ((r = fn(s, &why)) != 0)
		return kerr_set(d->e, r, "line %d: %s: %s", line,
		    draft_fields[id].name, why.msg);
	return 0;
}

static int
empty_item(struct draft *d, int id, int line)
{
	return kerr_set(d->e, KERR_SYNTAX, "line %d: %s: empty item in the "
	    "list (items are separated by single commas)", line,
	    draft_fields[id].name);
}

/* Upper case, runs of spaces as one: "new  york" is "NEW YORK". */
static char *
norm_post(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	size_t o = 0;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == ' ' && o > 0 && s[o - 1] == ' ')
			continue;
		s[o++] = (char)to_upper((unsigned char)p[i]);
	}
	s[o] = '\0';
	return s;
}

static char *
norm_upper(const char *p, size_t n)
{
	char *s = draft_dupn(p, n);

	for (size_t i = 0; s != NULL && i < n; i++)
		s[i] = (char)to_upper((unsigned char)s[i]);
	return s;
}

static int
parse_origin(struct draft *d)
{
	struct item it;
	int present, r;

	if ((r = need(d, F_FROM, &present)) != 0)
		return r;
	whole(&d->f[F_FROM], &it);
	if ((d->t->origin = norm_post(it.p, it.n)) == NULL)
		return nomem(d->e);
	return check(d, F_FROM, it.line, d->t->origin, tg_check_post);
}

/* Index of s among the first n items of l, or -1. */
static int
find(const struct tg_list *l, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l->v[i], s) == 0)
			return (int)i;
	return -1;
}

/* TO then INFO: one post once across both, TO + INFO within the cap. */
static int
parse_addressees(struct draft *d)
{
	static const int ids[2] = { F_TO, F_INFO };
	struct tg_list *lists[2] = { &d->t->to, &d->t->info };
	int *lines[2] = { d->to_line, d->info_line };
	size_t total = 0;
	int present[2], i, r;

	for (int k = 0; k < 2; k++) {
		if ((r = need(d, ids[k], &present[k])) != 0)
			return r;
		if (present[k])
			total += count_items(&d->f[ids[k]]);
		if (total > TG_ADDRESSEES_MAX)
			return kerr_set(d->e, KERR_TOOBIG, "line %d: %s: %zu "
			    "addressees in TO and INFO, over the limit of %d",
			    d->f[ids[k]].line, draft_fields[ids[k]].name, total,
			    TG_ADDRESSEES_MAX);
	}
	for (int k = 0; k < 2; k++) {
		const struct field *f = &d->f[ids[k]];
		size_t pos = 0;
		struct item it;

		if (!present[k])
			continue;
		while (next_item(f, &pos, &it)) {
			char *s;

			if (it.n == 0)
				return empty_item(d, ids[k], it.line);
			if ((s = norm_post(it.p, it.n)) == NULL)
				return nomem(d->e);
			if (draft_push(lists[k], s) != 0)
				return nomem(d->e);
			/* n <= count_items, within the cap checked above */
			assert(lists[k]->n <= TG_ADDRESSEES_MAX);
			lines[k][lists[k]->n - 1] = it.line;
			if ((r = check(d, ids[k], it.line, s,
			    tg_check_post)) != 0)
				return r;
			/* s is last in its own list: look before it */
			if ((i = find(lists[k], lists[k]->n - 1, s)) >= 0)
				return kerr_set(d->e, KERR_INVALID, "line %d: "
				    "%s: %s appears twice (first on line %d)",
				    it.line, draft_fields[ids[k]].name, s,
				    lines[k][i]);
			if (k == 1 && (i = find(lists[0], lists[0]->n, s)) >= 0)
				return kerr_set(d->e, KERR_INVALID, "line %d: "
				    "INFO: %s is both TO and INFO (TO on line "
				    "%d)", it.line, s, lines[0][i]);
		}
	}
	return 0;
}

static int
parse_precedence(struct draft *d)
{
	const char *slash;
	char q[QUOTE_BUF];
	struct item it, part[2];
	int prec[2], present, r;

	if ((r = need(d, F_PRECEDENCE, &present)) != 0)
		return r;
	whole(&d->f[F_PRECEDENCE], &it);
	slash = memchr(it.p, '/', it.n);
	part[0].p = it.p;
	part[0].n = slash ? (size_t)(slash - it.p) : it.n;
	part[1] = part[0];
	if (slash != NULL) {
		part[1].p = slash + 1;
		part[1].n = it.n - part[0].n - 1;
		if (memchr(part[1].p, '/', part[1].n) != NULL)
			return kerr_set(d->e, KERR_SYNTAX, "line %d: PRECEDENCE:"
			    " expected 'P' or 'P/Q' (action/info), not '%s'",
			    it.line, draft_quote(q, it.p, it.n));
	}
	for (int k = 0; k < 2; k++) {
		char name[PREC_NAME_BUF];

		trim(&part[k].p, &part[k].n);
		prec[k] = 0;
		if (part[k].n < sizeof(name)) {
			memcpy(name, part[k].p, part[k].n);
			name[part[k].n] = '\0';
			prec[k] = tg_prec_parse(name);
		}
		if (prec[k] == 0)
			return kerr_set(d->e, KERR_INVALID, "line %d: PRECEDENCE:"
			    " unknown precedence '%s' (expected FLASH, "
			    "IMMEDIATE, PRIORITY or ROUTINE)", it.line,
			    draft_quote(q, part[k].p, part[k].n));
	}
	if (prec[1] > prec[0])
		return kerr_set(d->e, KERR_INVALID, "line %d: PRECEDENCE: info "
		    "precedence %s is higher than action precedence %s",
		    it.line, tg_prec_name(prec[1]), tg_prec_name(prec[0]));
	d->t->prec_action = (uint8_t)prec[0];
	d->t->prec_info = (uint8_t)prec[1];
	return 0;
}

static int
parse_classification(struct draft *d)
{
	char name[TG_CLASS_MAX + 1], levels[LEVELS_BUF];
	char q[QUOTE_BUF];
	struct item it;
	size_t o = 0;
	int present, rank = -1, r;

	if ((r = need(d, F_CLASSIFICATION, &present)) != 0)
		return r;
	whole(&d->f[F_CLASSIFICATION], &it);
	/* runs of blanks as one space, so "TOP  SECRET" is TOP SECRET */
	for (size_t i = 0; i < it.n && o <= TG_CLASS_MAX; i++) {
		if (is_ws(it.p[i]) && o > 0 && name[o - 1] == ' ')
			continue;
		name[o++] = is_ws(it.p[i]) ? ' ' : it.p[i];
	}
	if (o <= TG_CLASS_MAX) {
		name[o] = '\0';
		rank = tg_policy_rank(d->pol, name);
	}
	if (rank < 0) {
		levels[0] = '\0';
		o = 0;
		for (size_t i = 0; i < d->pol->n && i < TG_POLICY_LEVELS_MAX;
		    i++) {
			int k = snprintf(levels + o, sizeof(levels) - o, "%s%s",
			    i == 0 ? "" : i + 1 == d->pol->n ? " or " : ", ",
			    d->pol->level[i]);

			if (k < 0 || (size_t)k >= sizeof(levels) - o)
				break;
			o += (size_t)k;
		}
		return kerr_set(d->e, KERR_INVALID, "line %d: CLASSIFICATION: "
		    "unknown level '%s' (expected %s)", it.line,
		    draft_quote(q, it.p, it.n), levels);
	}
	if ((d->t->classification = strdup(d->pol->level[rank])) == NULL)
		return nomem(d->e);
	return 0;
}

enum { N_ASIS, N_UPPER };

/*
 * A comma list of at most max items into l: each normalised (upper case for
 * tags and captions), checked, and unique (ignoring ASCII case if nocase).
 */
static int
parse_list(struct draft *d, int id, struct tg_list *l, size_t max, int norm,
    int (*fn)(const char *, struct kerr *), int nocase)
{
	const struct field *f = &d->f[id];
	char q[QUOTE_BUF];
	size_t pos = 0, n;
	struct item it;
	int present, r;

	if ((r = need(d, id, &present)) != 0 || !present)
		return r;
	if ((n = count_items(f)) > max)
		return kerr_set(d->e, KERR_TOOBIG, "line %d: %s: %zu items, "
		    "over the limit of %zu", f->line, draft_fields[id].name, n,
		    max);
	while (next_item(f, &pos, &it)) {
		char *s;

		if (it.n == 0)
			return empty_item(d, id, it.line);
		s = norm == N_UPPER ? norm_upper(it.p, it.n) :
		    draft_dupn(it.p, it.n);
		if (s == NULL || draft_push(l, s) != 0)
			return nomem(d->e);
		if ((r = check(d, id, it.line, s, fn)) != 0)
			return r;
		for (size_t i = 0; i + 1 < l->n; i++)
			if (nocase ? ascii_casecmp(l->v[i], s) == 0 :
			    strcmp(l->v[i], s) == 0)
				return kerr_set(d->e, KERR_INVALID, "line %d: "
				    "%s: %s appears twice", it.line,
				    draft_fields[id].name,
				    draft_quote(q, s, it.n));
	}
	return 0;
}

static int
has(const struct tg_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static int
parse_distribution(struct draft *d)
{
	int r;

	if ((r = parse_list(d, F_CAPTION, &d->t->captions, TG_CAPTIONS_MAX,
	    N_UPPER, tg_check_caption, 0)) != 0)
		return r;
	if ((r = parse_list(d, F_PERSONS, &d->t->persons, TG_PERSONS_MAX,
	    N_ASIS, tg_check_person, 1)) != 0)
		return r;
	if (has(&d->t->captions, "NODIS") && d->t->persons.n == 0)
		return kerr_set(d->e, KERR_INVALID, "line %d: CAPTION: NODIS "
		    "requires PERSONS: the named persons who may read it",
		    d->f[F_CAPTION].line);
	if (d->t->persons.n > 0 && d->t->captions.n == 0)
		return kerr_set(d->e, KERR_INVALID, "line %d: PERSONS: named "
		    "persons need a CAPTION (NODIS, EXDIS or LIMDIS) that "
		    "restricts distribution to them", d->f[F_PERSONS].line);
	return 0;
}

/* A single-valued text field (SUBJECT, DRAFTER, RELEASED) into *out. */
static int
parse_one(struct draft *d, int id, char **out,
    int (*fn)(const char *, struct kerr *))
{
	struct item it;
	int present, r;

	if ((r = need(d, id, &present)) != 0 || !present)
		return r;
	whole(&d->f[id], &it);
	if ((*out = draft_dupn(it.p, it.n)) == NULL)
		return nomem(d->e);
	return check(d, id, it.line, *out, fn);
}

static int
parse_serial(struct draft *d)
{
	struct item it;
	char q[QUOTE_BUF];
	uint64_t v = 0;
	int present, r;

	if ((r = need(d, F_SERIAL, &present)) != 0 || !present)
		return r;
	whole(&d->f[F_SERIAL], &it);
	for (size_t i = 0; i < it.n; i++) {
		if (!is_digit((unsigned char)it.p[i]))
			return kerr_set(d->e, KERR_INVALID, "line %d: SERIAL: "
			    "'%s' is not a decimal number", it.line,
			    draft_quote(q, it.p, it.n));
		if (v <= TG_SERIAL_MAX)
			v = v * 10 + (uint64_t)(it.p[i] - '0');
	}
	if (v > TG_SERIAL_MAX)
		return kerr_set(d->e, KERR_TOOBIG, "line %d: SERIAL: '%s' is "
		    "over the limit of %d", it.line, draft_quote(q, it.p, it.n),
		    TG_SERIAL_MAX);
	if (v == 0)
		return kerr_set(d->e, KERR_INVALID, "line %d: SERIAL: serials "
		    "start at 1 (leave SERIAL out for an unnumbered telegram)",
		    it.line);
	d->t->serial = v;
	return 0;
}

/*
 * Each field in the fixed order; of several faulty fields, the first in
 * this order is the one reported.
 */
int
draft_parse_fields(struct draft *d)
{
	int r;

	if ((r = parse_origin(d)) != 0 ||
	    (r = parse_addressees(d)) != 0 ||
	    (r = parse_precedence(d)) != 0 ||
	    (r = parse_classification(d)) != 0 ||
	    (r = parse_distribution(d)) != 0 ||
	    (r = parse_list(d, F_TAGS, &d->t->tags, TG_TAGS_MAX, N_UPPER,
	    tg_check_tag, 0)) != 0 ||
	    (r = parse_one(d, F_SUBJECT, &d->t->subject,
	    tg_check_subject)) != 0 ||
	    (r = parse_list(d, F_REF, &d->t->refs, TG_REFS_MAX, N_ASIS,
	    tg_check_ref, 1)) != 0 ||
	    (r = parse_one(d, F_DRAFTER, &d->t->drafter,
	    tg_check_person)) != 0 ||
	    (r = parse_list(d, F_CLEARED, &d->t->cleared, TG_CLEARED_MAX,
	    N_ASIS, tg_check_person, 1)) != 0 ||
	    (r = parse_one(d, F_RELEASED, &d->t->releaser,
	    tg_check_person)) != 0 ||
	    (r = parse_serial(d)) != 0)
		return r;
	return 0;
}
