/*
 * The drafting parser (tg_parse_draft, docs/drafting.md): what its files
 * share.  Internal: nothing outside src/telegram includes it (STYLE.md 14);
 * tg.h is the contract.
 *
 * The files, one concern each; a file calls only the files below it
 * (scripts/depcheck.py checks that no two call each other in a circle):
 *
 *   draft.c          tg_parse_draft: runs the passes in order, then
 *                    tg_validate on the result
 *   draft_fields.c   pass 3: each header field into its value in the struct
 *                    tg, and the rules across fields
 *   draft_body.c     pass 3, body: the numbered paragraphs
 *   draft_header.c   pass 2: header lines into fields; the table of fields
 *                    (for draft_fields.c too)
 *   draft_text.c     pass 1: the text as a whole; the cursor over its lines
 *                    (for draft_header.c and draft_body.c)
 *   draft_util.c     the helpers too large to inline: quoting draft text in
 *                    a message, copying a string, appending to a list
 *   draft_int.h      struct draft and struct field, the field ids, the small
 *                    helpers (static inline)
 *
 * Every function that takes a struct draft returns 0 or a negative KERR_*
 * with its message, naming the line, in d->e.
 */
#ifndef KODEN_TG_DRAFT_INT_H
#define KODEN_TG_DRAFT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
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

/* The header's fields by id: each one's name, and whether it is required. */
struct field_rule {
	const char *name;
	int required;
};
extern const struct field_rule draft_fields[F_N];	/* draft_header.c */

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

static inline int is_ws(int c) { return c == ' ' || c == '\t'; }
static inline int is_digit(int c) { return c >= '0' && c <= '9'; }
static inline int is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static inline int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static inline int is_alpha(int c) { return is_upper(c) || is_lower(c); }
static inline int to_upper(int c) { return is_lower(c) ? c - 'a' + 'A' : c; }

static inline void
trim(const char **p, size_t *n)
{
	while (*n > 0 && is_ws((*p)[0])) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_ws((*p)[*n - 1]))
		(*n)--;
}

static inline int
blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_ws(p[i]))
			return 0;
	return 1;
}

static inline int
nomem(struct kerr *e)
{
	return kerr_set(e, KERR_NOMEM, "out of memory");
}

/* ---- draft_util.c ---- */

/*
 * p (n bytes of text that passed draft_check_text) made fit for a message:
 * at most CLIP bytes, cut on a character boundary and marked "...", and tabs
 * (the one control character a draft may hold) written as \x09.  Returns
 * out.
 */
const char *draft_quote(char out[static QUOTE_BUF], const char *p, size_t n);
/* A NUL-terminated copy of p[0..n); NULL when out of memory.  Caller frees. */
char *draft_dupn(const char *p, size_t n);
/* Append s to l; takes ownership of s, also on failure (then KERR_NOMEM). */
int draft_push(struct tg_list *l, char *s) KODEN_WUR;

/* ---- draft_text.c ---- */

/* Pass 1: size, UTF-8 and control characters of the whole text (e gets
 * the message: no struct draft exists yet). */
int draft_check_text(const char *text, size_t len, struct kerr *e) KODEN_WUR;
/* Next line, without its "\n" or "\r\n"; 0 at the end of the text. */
int draft_next_line(struct lines *ls, const char **l, size_t *n);

/* ---- draft_header.c ---- */

/* Pass 2: the header lines into d->f, up to the blank line (header_end);
 * after draft_check_text. */
int draft_parse_header(struct draft *d) KODEN_WUR;

/* ---- draft_fields.c ---- */

/* Pass 3: every field of d->f into d->t, in the fixed order FROM, TO, INFO,
 * PRECEDENCE, ... SERIAL; after draft_parse_header. */
int draft_parse_fields(struct draft *d) KODEN_WUR;

/* ---- draft_body.c ---- */

/* Pass 3, body: the lines after the header into d->t->paras; after
 * draft_parse_header, which leaves d->ls at the first line of the body. */
int draft_parse_body(struct draft *d) KODEN_WUR;

#endif
