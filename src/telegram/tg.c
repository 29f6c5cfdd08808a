/*
 * The telegram model: the classification policy, the rule for each kind of
 * value (shared by the draft parser and tg_validate, so that one rule lives
 * in one place), tg_validate itself, tg_free, and the small formatters
 * (precedence names, date-time group, id).  docs/drafting.md is the
 * user-facing statement of every rule here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "lib/text.h"
#include "telegram/tg.h"

/*
 * Values quoted in messages are clipped to QUOTE_MAX input bytes and have
 * control characters and broken UTF-8 escaped as \xNN: a message may quote a
 * received (hostile) telegram, and it ends up on an officer's terminal.
 */
#define QUOTE_MAX 40
#define QUOTE_BUF (QUOTE_MAX * 4 + 4)

/* Allowed in text_why(). */
#define TX_TAB 1
#define TX_NL 2
#define TX_COMMA 4
#define TX_BIDI 8	/* bidirectional formatting characters */

static const char *const prec_names[] = {
	NULL, "ROUTINE", "PRIORITY", "IMMEDIATE", "FLASH",
};

static const char *const default_levels[] = {
	"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET",
};

static const char *const caption_names[] = { "NODIS", "EXDIS", "LIMDIS" };

static int is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }


/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t
utf8_seq(const uint8_t *p, size_t n)
{
	size_t k;

	if (p[0] < 0x80)
		return 1;
	k = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 0;
	if (k == 0 || k > n || !utf8_valid(p, k))
		return 0;
	return k;
}

/* A C1 control character (U+0080..U+009F), given a valid sequence of k. */
static int
is_c1(const uint8_t *p, size_t k)
{
	return k == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

static const char *
quote(char out[static QUOTE_BUF], const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), i = 0, o = 0;

	while (i < n && i < QUOTE_MAX) {
		size_t k = utf8_seq(p + i, n - i);

		if (k == 1 && p[i] >= 0x20 && p[i] != 0x7f)
			out[o++] = (char)p[i];
		else if (k > 1 && !is_c1(p + i, k)) {
			memcpy(out + o, p + i, k);
			o += k;
		} else {
			k = 1;
			snprintf(out + o, 5, "\\x%02x", p[i]);
			o += 4;
		}
		i += k;
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/*
 * A bidirectional formatting character (U+061C, U+200E, U+200F,
 * U+202A..U+202E, U+2066..U+2069), given a valid sequence of k.  Allowed in
 * paragraphs, where right-to-left text may need them; refused in names,
 * subjects and references, where an override could make a NODIS
 * distribution list or a drafter's name display as something it is not.
 */
static int
is_bidi(const uint8_t *p, size_t k)
{
	if (k == 2)
		return p[0] == 0xd8 && p[1] == 0x9c;
	if (k != 3 || p[0] != 0xe2)
		return 0;
	return (p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f ||
	    (p[2] >= 0xaa && p[2] <= 0xae))) ||
	    (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9);
}

/*
 * Why the n bytes at s are not acceptable text, or NULL: valid UTF-8, no
 * control characters (C0, DEL, C1) except those allowed, and no comma unless
 * allowed (commas separate list items).
 */
static const char *
text_why(const char *s, size_t n, int allow)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	while (i < n) {
		size_t k = utf8_seq(p + i, n - i);

		if (k == 0)
			return "is not valid UTF-8";
		if (k == 1) {
			uint8_t c = p[i];

			if (c == '\t') {
				if (!(allow & TX_TAB))
					return "contains a tab";
			} else if (c == '\n') {
				if (!(allow & TX_NL))
					return "contains a line break";
			} else if (c < 0x20 || c == 0x7f)
				return "contains a control character";
			else if (c == ',' && !(allow & TX_COMMA))
				return "contains a comma";
		} else if (is_c1(p + i, k))
			return "contains a control character";
		else if (is_bidi(p + i, k) && !(allow & TX_BIDI))
			return "contains a bidirectional formatting character";
		i += k;
	}
	return NULL;
}

static int
has_outer_space(const char *s, size_t n)
{
	return n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
}

/* ---- one value against its rule ---------------------------------------- */

int
tg_check_post(const char *s, struct kerr *e)
{
	char q[QUOTE_BUF];
	size_t n = strlen(s);

	if (n == 0)
		return kerr_set(e, KERR_INVALID, "empty post name");
	if (n > TG_POST_MAX)
		return kerr_set(e, KERR_TOOBIG,
		    "post name '%s' is %zu bytes, over the limit of %d",
		    quote(q, s), n, TG_POST_MAX);
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (is_lower(c))
			return kerr_set(e, KERR_INVALID,
			    "post name '%s' is not in upper case", quote(q, s));
		if (!is_upper(c) && !is_digit(c) && c != ' ' && c != '-' &&
		    c != '.')
			return kerr_set(e, KERR_INVALID, "post name '%s' may "
			    "contain only letters, digits, spaces, '-' and '.'",
			    quote(q, s));
		if (c == ' ' && (s[i + 1] == ' ' || s[i + 1] == '\0'))
			return kerr_set(e, KERR_INVALID,
			    "post name '%s' has extra spaces", quote(q, s));
	}
	/* Post names become file and queue names: no ".", "..", "-x". */
	if (!is_upper((unsigned char)s[0]) && !is_digit((unsigned char)s[0]))
		return kerr_set(e, KERR_INVALID,
		    "post name '%s' must begin with a letter or digit",
		    quote(q, s));
	return 0;
}

int
tg_check_person(const char *s, struct kerr *e)
{
	char q[QUOTE_BUF];
	size_t n = strlen(s);
	const char *why;

	if (n == 0)
		return kerr_set(e, KERR_INVALID, "empty person name");
	if (n > TG_PERSON_MAX)
		return kerr_set(e, KERR_TOOBIG,
		    "person name '%s' is %zu bytes, over the limit of %d",
		    quote(q, s), n, TG_PERSON_MAX);
	if ((why = text_why(s, n, 0)) != NULL)
		return kerr_set(e, KERR_INVALID, "person name '%s' %s",
		    quote(q, s), why);
	if (has_outer_space(s, n))
		return kerr_set(e, KERR_INVALID,
		    "person name '%s' has leading or trailing spaces",
		    quote(q, s));
	return 0;
}

int
tg_check_tag(const char *s, struct kerr *e)
{
	char q[QUOTE_BUF];
	size_t n = strlen(s);

	if (n > TG_TAG_MAX)
		return kerr_set(e, KERR_TOOBIG,
		    "tag '%s' is %zu characters, over the limit of %d",
		    quote(q, s), n, TG_TAG_MAX);
	if (n < 2)
		return kerr_set(e, KERR_INVALID,
		    "tag '%s' is shorter than 2 characters", quote(q, s));
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (is_lower(c))
			return kerr_set(e, KERR_INVALID,
			    "tag '%s' is not in upper case", quote(q, s));
		if (!is_upper(c) && !is_digit(c))
			return kerr_set(e, KERR_INVALID,
			    "tag '%s' may contain only letters A-Z and digits",
			    quote(q, s));
	}
	return 0;
}

int
tg_check_ref(const char *s, struct kerr *e)
{
	char q[QUOTE_BUF];
	size_t n = strlen(s);
	const char *why;

	if (n == 0)
		return kerr_set(e, KERR_INVALID, "empty reference");
	if (n > TG_REF_MAX)
		return kerr_set(e, KERR_TOOBIG,
		    "reference '%s' is %zu bytes, over the limit of %d",
		    quote(q, s), n, TG_REF_MAX);
	if ((why = text_why(s, n, 0)) != NULL)
		return kerr_set(e, KERR_INVALID, "reference '%s' %s",
		    quote(q, s), why);
	if (has_outer_space(s, n))
		return kerr_set(e, KERR_INVALID,
		    "reference '%s' has leading or trailing spaces",
		    quote(q, s));
	return 0;
}

int
tg_check_caption(const char *s, struct kerr *e)
{
	char q[QUOTE_BUF];

	for (size_t i = 0; i < sizeof(caption_names) / sizeof(*caption_names);
	    i++)
		if (strcmp(s, caption_names[i]) == 0)
			return 0;
	return kerr_set(e, KERR_INVALID,
	    "unknown caption '%s' (expected NODIS, EXDIS or LIMDIS)",
	    quote(q, s));
}

int
tg_check_level(const char *s, struct kerr *e)
{
	char q[QUOTE_BUF];
	size_t n = strlen(s);

	if (n == 0)
		return kerr_set(e, KERR_INVALID, "empty classification level");
	if (n > TG_CLASS_MAX)
		return kerr_set(e, KERR_TOOBIG, "classification level '%s' "
		    "is %zu bytes, over the limit of %d", quote(q, s), n,
		    TG_CLASS_MAX);
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (!is_upper(c) && !is_lower(c) && !is_digit(c) && c != ' ' &&
		    c != '-' && c != '/')
			return kerr_set(e, KERR_INVALID, "classification level "
			    "'%s' may contain only letters, digits, spaces, '-' "
			    "and '/'", quote(q, s));
		if (c == ' ' && (s[i + 1] == ' ' || s[i + 1] == '\0'))
			return kerr_set(e, KERR_INVALID, "classification level "
			    "'%s' has extra spaces", quote(q, s));
	}
	if (s[0] == ' ' || s[0] == '-' || s[0] == '/')
		return kerr_set(e, KERR_INVALID, "classification level '%s' "
		    "must begin with a letter or digit", quote(q, s));
	return 0;
}

int
tg_check_subject(const char *s, struct kerr *e)
{
	size_t n = strlen(s);
	const char *why;

	if (n == 0)
		return kerr_set(e, KERR_INVALID, "empty subject");
	if (n > TG_SUBJECT_MAX)
		return kerr_set(e, KERR_TOOBIG,
		    "subject is %zu bytes, over the limit of %d", n,
		    TG_SUBJECT_MAX);
	if ((why = text_why(s, n, TX_COMMA)) != NULL)
		return kerr_set(e, KERR_INVALID, "subject %s", why);
	if (has_outer_space(s, n))
		return kerr_set(e, KERR_INVALID,
		    "subject has leading or trailing spaces");
	return 0;
}

/*
 * A stored paragraph is what the draft parser makes of one: text without its
 * number, lines joined by '\n', no empty line, no trailing blanks on a line,
 * and no leading blank (the number and its space are not stored).  Anything
 * else would render or re-draft differently from how it is stored.
 */
int
tg_check_para(const char *s, struct kerr *e)
{
	size_t n = strlen(s), start = 0;
	const char *why;

	if (n == 0)
		return kerr_set(e, KERR_INVALID, "empty paragraph");
	if (n > TG_BODY_MAX)
		return kerr_set(e, KERR_TOOBIG,
		    "paragraph is %zu bytes, over the limit of %d", n,
		    TG_BODY_MAX);
	if ((why = text_why(s, n, TX_TAB | TX_NL | TX_COMMA | TX_BIDI)) != NULL)
		return kerr_set(e, KERR_INVALID, "paragraph %s", why);
	if (s[0] == ' ' || s[0] == '\t')
		return kerr_set(e, KERR_INVALID,
		    "paragraph text begins with a space or tab");
	while (start <= n) {
		const char *nl = memchr(s + start, '\n', n - start);
		size_t end = nl ? (size_t)(nl - s) : n;

		if (end == start)
			return kerr_set(e, KERR_INVALID,
			    "paragraph contains an empty line");
		if (s[end - 1] == ' ' || s[end - 1] == '\t')
			return kerr_set(e, KERR_INVALID,
			    "paragraph has a line that ends in a space or tab");
		start = end + 1;
	}
	return 0;
}

/* ---- policy ------------------------------------------------------------ */

void
tg_policy_default(struct tg_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	for (size_t i = 0; i < sizeof(default_levels) / sizeof(*default_levels);
	    i++) {
		snprintf(pol->level[i], sizeof(pol->level[i]), "%s",
		    default_levels[i]);
		pol->n++;
	}
}

int
tg_policy_parse(struct tg_policy *pol, const char *text, size_t len,
    struct kerr *e)
{
	int first[TG_POLICY_LEVELS_MAX] = { 0 };
	size_t off = 0;
	int line = 0, r;

	memset(pol, 0, sizeof(*pol));
	while (off < len) {
		const char *l = text + off, *nl, *hash;
		size_t n, left = len - off;
		struct kerr why = { "" };
		char tmp[TG_CLASS_MAX + 1];

		line++;
		nl = memchr(l, '\n', left);
		n = nl ? (size_t)(nl - l) : left;
		off += n + (nl != NULL);
		if ((hash = memchr(l, '#', n)) != NULL)
			n = (size_t)(hash - l);
		while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t' ||
		    l[n - 1] == '\r'))
			n--;
		while (n > 0 && (l[0] == ' ' || l[0] == '\t')) {
			l++;
			n--;
		}
		if (n == 0)
			continue;
		if (n > TG_CLASS_MAX) {
			r = kerr_set(e, KERR_TOOBIG, "policy line %d: level is "
			    "%zu bytes, over the limit of %d", line, n,
			    TG_CLASS_MAX);
			goto fail;
		}
		if (memchr(l, '\0', n) != NULL) {
			r = kerr_set(e, KERR_INVALID,
			    "policy line %d: NUL byte", line);
			goto fail;
		}
		memcpy(tmp, l, n);
		tmp[n] = '\0';
		if ((r = tg_check_level(tmp, &why)) != 0) {
			r = kerr_set(e, r, "policy line %d: %s", line, why.msg);
			goto fail;
		}
		for (size_t i = 0; i < pol->n; i++)
			if (ascii_casecmp(pol->level[i], tmp) == 0) {
				r = kerr_set(e, KERR_INVALID, "policy line %d: "
				    "level '%s' appears twice (first on line "
				    "%d)", line, tmp, first[i]);
				goto fail;
			}
		if (pol->n == TG_POLICY_LEVELS_MAX) {
			r = kerr_set(e, KERR_TOOBIG, "policy line %d: more than "
			    "%d levels", line, TG_POLICY_LEVELS_MAX);
			goto fail;
		}
		first[pol->n] = line;
		memcpy(pol->level[pol->n++], tmp, n + 1);
	}
	if (pol->n == 0) {
		r = kerr_set(e, KERR_INVALID,
		    "policy has no classification levels");
		goto fail;
	}
	return 0;
fail:
	memset(pol, 0, sizeof(*pol));
	return r;
}

int
tg_policy_rank(const struct tg_policy *pol, const char *level)
{
	if (pol == NULL || level == NULL)
		return -1;
	for (size_t i = 0; i < pol->n && i < TG_POLICY_LEVELS_MAX; i++)
		if (ascii_casecmp(pol->level[i], level) == 0)
			return (int)i;
	return -1;
}

/* ---- free -------------------------------------------------------------- */

/* Telegram text is classified: wipe it before the allocator reuses it. */
static void
str_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void
list_free(struct tg_list *l)
{
	if (l->v != NULL)
		for (size_t i = 0; i < l->n; i++)
			str_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
tg_free(struct tg *t)
{
	if (t == NULL)
		return;
	str_free(t->origin);
	str_free(t->classification);
	list_free(&t->to);
	list_free(&t->info);
	list_free(&t->captions);
	list_free(&t->persons);
	list_free(&t->tags);
	str_free(t->subject);
	list_free(&t->refs);
	str_free(t->drafter);
	list_free(&t->cleared);
	str_free(t->releaser);
	list_free(&t->paras);
	sodium_memzero(t, sizeof(*t));
	free(t);
}

/* ---- validate ---------------------------------------------------------- */

typedef int (*check_fn)(const char *, struct kerr *);

static int
check_one(const char *s, const char *field, check_fn check, struct kerr *e)
{
	struct kerr why = { "" };
	int r;

	if (s == NULL)
		return kerr_set(e, KERR_INVALID, "%s: missing", field);
	if ((r = check(s, &why)) != 0)
		return kerr_set(e, r, "%s: %s", field, why.msg);
	return 0;
}

static int
same(const char *a, const char *b, int nocase)
{
	return nocase ? ascii_casecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/*
 * A list: count within [min, max], every item valid, no item twice
 * (nocase: compared ignoring ASCII case, for names and references).
 */
static int
check_list(const struct tg_list *l, const char *field, size_t min, size_t max,
    check_fn check, int nocase, struct kerr *e)
{
	char q[QUOTE_BUF];
	int r;

	if (l->n < min)
		return kerr_set(e, KERR_INVALID, "%s: missing", field);
	if (l->n > max)
		return kerr_set(e, KERR_TOOBIG,
		    "%s: %zu items, over the limit of %zu", field, l->n, max);
	if (l->n > 0 && l->v == NULL)
		return kerr_set(e, KERR_INVALID, "%s: %zu items missing",
		    field, l->n);
	for (size_t i = 0; i < l->n; i++) {
		if ((r = check_one(l->v[i], field, check, e)) != 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (same(l->v[i], l->v[j], nocase))
				return kerr_set(e, KERR_INVALID,
				    "%s: '%s' appears twice", field,
				    quote(q, l->v[i]));
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

/* The levels of pol as "A, B, C or D" in out (clipped to outlen). */
static const char *
levels_text(char *out, size_t outlen, const struct tg_policy *pol)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < pol->n && i < TG_POLICY_LEVELS_MAX; i++) {
		int k = snprintf(out + o, outlen - o, "%s%s",
		    i == 0 ? "" : i + 1 == pol->n ? " or " : ", ",
		    pol->level[i]);

		if (k < 0 || (size_t)k >= outlen - o)
			break;
		o += (size_t)k;
	}
	return out;
}

int
tg_validate(const struct tg *t, const struct tg_policy *pol, struct kerr *e)
{
	char q[QUOTE_BUF], levels[TG_POLICY_LEVELS_MAX * (TG_CLASS_MAX + 4)];
	size_t total = 0;
	int r;

	if (t == NULL)
		return kerr_set(e, KERR_INVALID, "no telegram");
	if ((r = check_one(t->origin, "FROM", tg_check_post, e)) != 0)
		return r;
	if ((r = check_list(&t->to, "TO", 1, TG_ADDRESSEES_MAX, tg_check_post,
	    0, e)) != 0)
		return r;
	if ((r = check_list(&t->info, "INFO", 0, TG_ADDRESSEES_MAX,
	    tg_check_post, 0, e)) != 0)
		return r;
	if (t->to.n + t->info.n > TG_ADDRESSEES_MAX)
		return kerr_set(e, KERR_TOOBIG, "TO and INFO: %zu addressees, "
		    "over the limit of %d", t->to.n + t->info.n,
		    TG_ADDRESSEES_MAX);
	for (size_t i = 0; i < t->info.n; i++)
		if (has(&t->to, t->info.v[i]))
			return kerr_set(e, KERR_INVALID,
			    "INFO: %s is both TO and INFO",
			    quote(q, t->info.v[i]));
	if (t->prec_action < TG_ROUTINE || t->prec_action > TG_FLASH)
		return kerr_set(e, KERR_INVALID, "PRECEDENCE: action precedence "
		    "%u is not 1 (ROUTINE) to 4 (FLASH)", t->prec_action);
	if (t->prec_info < TG_ROUTINE || t->prec_info > TG_FLASH)
		return kerr_set(e, KERR_INVALID, "PRECEDENCE: info precedence "
		    "%u is not 1 (ROUTINE) to 4 (FLASH)", t->prec_info);
	if (t->prec_info > t->prec_action)
		return kerr_set(e, KERR_INVALID, "PRECEDENCE: info precedence %s "
		    "is higher than action precedence %s",
		    tg_prec_name(t->prec_info), tg_prec_name(t->prec_action));
	if ((r = check_one(t->classification, "CLASSIFICATION", tg_check_level,
	    e)) != 0)
		return r;
	if (pol != NULL && tg_policy_rank(pol, t->classification) < 0)
		return kerr_set(e, KERR_INVALID, "CLASSIFICATION: '%s' is not a "
		    "level of the policy (%s)", quote(q, t->classification),
		    levels_text(levels, sizeof(levels), pol));
	if ((r = check_list(&t->captions, "CAPTION", 0, TG_CAPTIONS_MAX,
	    tg_check_caption, 0, e)) != 0)
		return r;
	if ((r = check_list(&t->persons, "PERSONS", 0, TG_PERSONS_MAX,
	    tg_check_person, 1, e)) != 0)
		return r;
	if (has(&t->captions, "NODIS") && t->persons.n == 0)
		return kerr_set(e, KERR_INVALID, "CAPTION: NODIS requires "
		    "PERSONS: the named persons who may read it");
	if (t->persons.n > 0 && t->captions.n == 0)
		return kerr_set(e, KERR_INVALID, "PERSONS: named persons need a "
		    "CAPTION (NODIS, EXDIS or LIMDIS) that restricts "
		    "distribution to them");
	if ((r = check_list(&t->tags, "TAGS", 0, TG_TAGS_MAX, tg_check_tag, 0,
	    e)) != 0)
		return r;
	if ((r = check_one(t->subject, "SUBJECT", tg_check_subject, e)) != 0)
		return r;
	if ((r = check_list(&t->refs, "REF", 0, TG_REFS_MAX, tg_check_ref, 1,
	    e)) != 0)
		return r;
	if ((r = check_one(t->drafter, "DRAFTER", tg_check_person, e)) != 0)
		return r;
	if ((r = check_list(&t->cleared, "CLEARED", 0, TG_CLEARED_MAX,
	    tg_check_person, 1, e)) != 0)
		return r;
	if (t->releaser != NULL &&
	    (r = check_one(t->releaser, "RELEASED", tg_check_person, e)) != 0)
		return r;
	if (t->serial > TG_SERIAL_MAX)
		return kerr_set(e, KERR_TOOBIG, "SERIAL: %llu is over the limit "
		    "of %d", (unsigned long long)t->serial, TG_SERIAL_MAX);
	if (t->paras.n == 0)
		return kerr_set(e, KERR_INVALID,
		    "body: no paragraphs (at least one is required)");
	if (t->paras.n > TG_PARAS_MAX)
		return kerr_set(e, KERR_TOOBIG, "body: %zu paragraphs, over the "
		    "limit of %d", t->paras.n, TG_PARAS_MAX);
	if (t->paras.v == NULL)
		return kerr_set(e, KERR_INVALID, "body: paragraphs missing");
	for (size_t i = 0; i < t->paras.n; i++) {
		struct kerr why = { "" };

		if (t->paras.v[i] == NULL)
			return kerr_set(e, KERR_INVALID,
			    "body: paragraph %zu missing", i + 1);
		if ((r = tg_check_para(t->paras.v[i], &why)) != 0)
			return kerr_set(e, r, "body: paragraph %zu: %s", i + 1,
			    why.msg);
		total += strlen(t->paras.v[i]);
	}
	if (total > TG_BODY_MAX)
		return kerr_set(e, KERR_TOOBIG, "body is %zu bytes, over the "
		    "limit of %d", total, TG_BODY_MAX);
	return 0;
}

/* ---- formatters -------------------------------------------------------- */

const char *
tg_prec_name(int prec)
{
	if (prec < TG_ROUTINE || prec > TG_FLASH)
		return "?";
	return prec_names[prec];
}

int
tg_prec_parse(const char *s)
{
	if (s == NULL)
		return 0;
	for (int p = TG_ROUTINE; p <= TG_FLASH; p++)
		if (ascii_casecmp(s, prec_names[p]) == 0)
			return p;
	return 0;
}

/*
 * Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil
 * inverse), in unsigned arithmetic so that every uint64_t t is defined:
 * no time_t overflow, no gmtime failure on a hostile date.
 */
void
tg_format_dtg(char out[static 32], uint64_t t)
{
	static const char mon[12][4] = {
		"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
		"JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
	};
	uint64_t days = t / 86400, sod = t % 86400;
	uint64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t y = yoe + era * 400;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;
	unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1) % 100;
	unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9) % 13;

	if (m <= 2)
		y++;
	if (m == 0)	/* cannot happen; keeps the table index provable */
		m = 1;
	snprintf(out, 32, "%02u%02u%02uZ %s %02u", d,
	    (unsigned)(sod / 3600) % 100, (unsigned)(sod / 60 % 60) % 100,
	    mon[m - 1], (unsigned)(y % 100));
}

void
tg_id_hex(char out[static TG_ID_HEX], const uint8_t id[static TG_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < TG_ID_LEN; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[2 * TG_ID_LEN] = '\0';
}

void
tg_new_id(uint8_t id[static TG_ID_LEN])
{
	struct timespec ts;
	uint64_t ms = 0;

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && ts.tv_sec > 0)
		ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 0; i < 6; i++)
		id[i] = (uint8_t)(ms >> (40 - 8 * i));
	randombytes_buf(id + 6, TG_ID_LEN - 6);
}
