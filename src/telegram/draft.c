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
 * tg_validate; cross-field rules are applied here with line numbers and again
 * by tg_validate, which runs last as a safety net.
 *
 * Codes: KERR_SYNTAX for text that is not in the drafting form (encoding,
 * header lines, missing or repeated fields, paragraph numbering),
 * KERR_INVALID for a value that breaks a rule, KERR_TOOBIG for a value or
 * count over a cap, KERR_NOMEM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/text.h"
#include "telegram/tg.h"

/*
 * Longest piece of draft text quoted in a message, and the room it needs
 * with every byte a tab written as "\x09".
 */
#define CLIP 40
#define QUOTE_BUF (CLIP * 4 + 4)

enum {
	F_FROM, F_TO, F_INFO, F_PRECEDENCE, F_CLASSIFICATION, F_CAPTION,
	F_PERSONS, F_TAGS, F_SUBJECT, F_REF, F_DRAFTER, F_CLEARED, F_RELEASED,
	F_SERIAL, F_N
};

static const struct {
	const char *name;
	int required;
} fields[F_N] = {
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

/* Where a piece of a field's value came from. */
struct seg {
	size_t off;
	int line;
};

struct field {
	int line;		/* line of "NAME:"; 0 = absent */
	struct buf val;		/* the value, continuation lines joined by ' ' */
	struct seg *seg;
	size_t nseg, segcap;
};

/* A cursor over the lines of the text. */
struct lines {
	const char *p;
	size_t len;
	size_t off;
	int no;			/* number of the line last returned */
};

/* One comma-separated item of a field, trimmed. */
struct item {
	const char *p;
	size_t n;
	int line;
};

struct draft {
	struct field f[F_N];
	int header_end;		/* the blank line after the header */
	struct lines ls;
	const struct tg_policy *pol;
	struct tg *t;
	struct kerr *e;
	int to_line[TG_ADDRESSEES_MAX];
	int info_line[TG_ADDRESSEES_MAX];
};

static int is_ws(int c) { return c == ' ' || c == '\t'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int is_alpha(int c) { return is_upper(c) || is_lower(c); }
static int to_upper(int c) { return is_lower(c) ? c - 'a' + 'A' : c; }


/*
 * p (n bytes of text that passed check_text) made fit for a message: at
 * most CLIP bytes, cut on a character boundary and marked "...", and tabs
 * (the one control character a draft may hold) written as \x09.
 */
static const char *
quote(char out[static QUOTE_BUF], const char *p, size_t n)
{
	size_t k = n < CLIP ? n : CLIP, o = 0;

	while (k > 0 && k < n && ((unsigned char)p[k] & 0xc0) == 0x80)
		k--;
	for (size_t i = 0; i < k; i++) {
		if (p[i] == '\t') {
			memcpy(out + o, "\\x09", 4);
			o += 4;
		} else
			out[o++] = p[i];
	}
	if (k < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && is_ws((*p)[0])) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_ws((*p)[*n - 1]))
		(*n)--;
}

static int
blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_ws(p[i]))
			return 0;
	return 1;
}

static char *
dupn(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		if (n)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static int
nomem(struct kerr *e)
{
	return kerr_set(e, KERR_NOMEM, "out of memory");
}

/* Append s to l; takes ownership of s, also on failure. */
static int
push(struct tg_list *l, char *s)
{
	char **v;

	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL) {
		wipe_free(s);
		return KERR_NOMEM;
	}
	l->v = v;
	l->v[l->n++] = s;
	return 0;
}

/* ---- pass 1: the text as a whole ---------------------------------------- */

/* Why the bytes at p (n > 0 left, p[0] >= 0x80) are not UTF-8; else *k. */
static const char *
utf8_why(const uint8_t *p, size_t n, size_t *k)
{
	uint32_t cp, min;
	size_t need;

	if (p[0] < 0xc0)
		return "continuation byte without a lead byte";
	if (p[0] < 0xe0) {
		need = 1;
		cp = p[0] & 0x1f;
		min = 0x80;
	} else if (p[0] < 0xf0) {
		need = 2;
		cp = p[0] & 0x0f;
		min = 0x800;
	} else if (p[0] < 0xf8) {
		need = 3;
		cp = p[0] & 0x07;
		min = 0x10000;
	} else
		return "byte that never appears in UTF-8";
	for (size_t i = 1; i <= need; i++) {
		if (i >= n || (p[i] & 0xc0) != 0x80)
			return "truncated sequence";
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min)
		return "overlong encoding";
	if (cp >= 0xd800 && cp <= 0xdfff)
		return "surrogate code point";
	if (cp > 0x10ffff)
		return "code point past U+10FFFF";
	*k = need + 1;
	return NULL;
}

static int
check_text(const char *text, size_t len, struct kerr *e)
{
	const uint8_t *p = (const uint8_t *)text;
	size_t i = 0, bol = 0;
	int line = 1;

	if (len > TG_DRAFT_MAX)
		return kerr_set(e, KERR_TOOBIG, "draft is %zu bytes, over the "
		    "limit of %d", len, TG_DRAFT_MAX);
	while (i < len) {
		uint8_t c = p[i];
		const char *why;
		size_t k = 1;

		if (c == '\n') {
			line++;
			bol = ++i;
			continue;
		}
		if (c == '\r' && i + 1 < len && p[i + 1] == '\n') {
			i++;
			continue;
		}
		if (c == '\0')
			return kerr_set(e, KERR_SYNTAX, "line %d, byte %zu: NUL "
			    "byte (a draft is text)", line, i - bol + 1);
		if (c == '\r')
			return kerr_set(e, KERR_SYNTAX, "line %d, byte %zu: "
			    "carriage return not followed by a line feed",
			    line, i - bol + 1);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return kerr_set(e, KERR_SYNTAX, "line %d, byte %zu: "
			    "control character 0x%02X (only tab is allowed)",
			    line, i - bol + 1, c);
		if (c >= 0x80) {
			if ((why = utf8_why(p + i, len - i, &k)) != NULL)
				return kerr_set(e, KERR_SYNTAX, "line %d, byte "
				    "%zu: invalid UTF-8 (%s)", line, i - bol + 1,
				    why);
			if (k == 2 && c == 0xc2 && p[i + 1] < 0xa0)
				return kerr_set(e, KERR_SYNTAX, "line %d, byte "
				    "%zu: control character U+%04X (only tab is "
				    "allowed)", line, i - bol + 1, p[i + 1]);
		}
		i += k;
	}
	return 0;
}

/* Next line, without its "\n" or "\r\n"; 0 at the end of the text. */
static int
next_line(struct lines *ls, const char **l, size_t *n)
{
	const char *nl;
	size_t left;

	if (ls->off >= ls->len)
		return 0;
	left = ls->len - ls->off;
	*l = ls->p + ls->off;
	nl = memchr(*l, '\n', left);
	*n = nl ? (size_t)(nl - *l) : left;
	ls->off += *n + (nl != NULL);
	if (*n > 0 && (*l)[*n - 1] == '\r')
		(*n)--;
	ls->no++;
	return 1;
}

/* ---- pass 2: header lines into fields ----------------------------------- */

static int
field_lookup(const char *p, size_t n)
{
	for (int i = 0; i < F_N; i++) {
		const char *name = fields[i].name;
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
		size_t cap = f->segcap ? 2 * f->segcap : 8;

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

static int
parse_header(struct draft *d)
{
	struct field *cur = NULL;
	char q[QUOTE_BUF];
	const char *l, *v;
	size_t n, vn, k;
	int id, r;

	while (next_line(&d->ls, &l, &n)) {
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
				    "long", no, fields[cur - d->f].name);
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
			    quote(q, l, k));
		if (d->f[id].line != 0)
			return kerr_set(d->e, KERR_SYNTAX, "line %d: duplicate "
			    "field %s (first on line %d)", no, fields[id].name,
			    d->f[id].line);
		cur = &d->f[id];
		cur->line = no;
		v = l + k + 1;
		vn = n - k - 1;
		trim(&v, &vn);
		if ((r = append(cur, v, vn, no)) != 0)
			return r == KERR_NOMEM ? nomem(d->e) : kerr_set(d->e, r,
			    "line %d: %s: value too long", no, fields[id].name);
	}
	d->header_end = d->ls.no + 1;
	return 0;
}

/* ---- pass 3: fields into values ----------------------------------------- */

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
		if (fields[id].required)
			return kerr_set(d->e, KERR_SYNTAX, "line %d: the header "
			    "ends without required field %s", d->header_end,
			    fields[id].name);
		return 0;
	}
	if (d->f[id].val.len == 0)
		return kerr_set(d->e, KERR_SYNTAX, "line %d: %s: empty value",
		    d->f[id].line, fields[id].name);
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
		    fields[id].name, why.msg);
	return 0;
}

static int
empty_item(struct draft *d, int id, int line)
{
	return kerr_set(d->e, KERR_SYNTAX, "line %d: %s: empty item in the "
	    "list (items are separated by single commas)", line,
	    fields[id].name);
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
	char *s = dupn(p, n);

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
			    d->f[ids[k]].line, fields[ids[k]].name, total,
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
			if (push(lists[k], s) != 0)
				return nomem(d->e);
			lines[k][lists[k]->n - 1] = it.line;
			if ((r = check(d, ids[k], it.line, s,
			    tg_check_post)) != 0)
				return r;
			/* s is last in its own list: look before it */
			if ((i = find(lists[k], lists[k]->n - 1, s)) >= 0)
				return kerr_set(d->e, KERR_INVALID, "line %d: "
				    "%s: %s appears twice (first on line %d)",
				    it.line, fields[ids[k]].name, s,
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
			    it.line, quote(q, it.p, it.n));
	}
	for (int k = 0; k < 2; k++) {
		char name[16];

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
			    quote(q, part[k].p, part[k].n));
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
	char name[TG_CLASS_MAX + 1], levels[TG_POLICY_LEVELS_MAX * 40];
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
		    quote(q, it.p, it.n), levels);
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
		    "over the limit of %zu", f->line, fields[id].name, n, max);
	while (next_item(f, &pos, &it)) {
		char *s;

		if (it.n == 0)
			return empty_item(d, id, it.line);
		s = norm == N_UPPER ? norm_upper(it.p, it.n) : dupn(it.p, it.n);
		if (s == NULL || push(l, s) != 0)
			return nomem(d->e);
		if ((r = check(d, id, it.line, s, fn)) != 0)
			return r;
		for (size_t i = 0; i + 1 < l->n; i++)
			if (nocase ? ascii_casecmp(l->v[i], s) == 0 :
			    strcmp(l->v[i], s) == 0)
				return kerr_set(d->e, KERR_INVALID, "line %d: "
				    "%s: %s appears twice", it.line,
				    fields[id].name, quote(q, s, it.n));
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
	if ((*out = dupn(it.p, it.n)) == NULL)
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
			    quote(q, it.p, it.n));
		if (v <= TG_SERIAL_MAX)
			v = v * 10 + (uint64_t)(it.p[i] - '0');
	}
	if (v > TG_SERIAL_MAX)
		return kerr_set(d->e, KERR_TOOBIG, "line %d: SERIAL: '%s' is "
		    "over the limit of %d", it.line, quote(q, it.p, it.n),
		    TG_SERIAL_MAX);
	if (v == 0)
		return kerr_set(d->e, KERR_INVALID, "line %d: SERIAL: serials "
		    "start at 1 (leave SERIAL out for an unnumbered telegram)",
		    it.line);
	d->t->serial = v;
	return 0;
}

/* ---- pass 3, body ------------------------------------------------------- */

static int
end_para(struct draft *d, struct buf *para)
{
	char *s = dupn((const char *)para->p, para->len);

	buf_free(para);
	if (s == NULL || push(&d->t->paras, s) != 0)
		return nomem(d->e);
	return 0;
}

/*
 * Paragraphs are separated by blank lines; the first line of paragraph N
 * begins "N. " and its text follows on the same line.  The stored text drops
 * "N. ", keeps the lines joined by '\n' and strips trailing blanks.
 */
static int
parse_body(struct draft *d)
{
	struct buf para;
	const char *l;
	size_t n, total = 0;
	int in_para = 0, over_line = 0, r = 0;

	buf_init_secret(&para, TG_DRAFT_MAX);
	while (next_line(&d->ls, &l, &n)) {
		int no = d->ls.no;
		size_t index = d->t->paras.n + 1, k;
		char num[24], q[QUOTE_BUF];

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
			    "is numbered %s", no, index, quote(q, l, k));
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

int
tg_parse_draft(struct tg **out, const char *text, size_t len,
    const struct tg_policy *pol, struct kerr *e)
{
	struct tg_policy def;
	struct draft *d;
	int r;

	*out = NULL;
	if ((r = check_text(text, len, e)) != 0)
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

	if ((r = parse_header(d)) != 0 ||
	    (r = parse_origin(d)) != 0 ||
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
	    (r = parse_serial(d)) != 0 ||
	    (r = parse_body(d)) != 0)
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
