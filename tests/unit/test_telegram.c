/*
 * The telegram module: drafting text form (every rule, with its code, line
 * and field), caps at and one over, strict UTF-8, the canonical binary form
 * (golden bytes, round trips on random telegrams, every truncation, every
 * single-byte corruption, hostile counts), the rendered cable, and the
 * formatters (date-time group against gmtime_r as a reference).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "telegram/tg.h"

/* ---- helpers ------------------------------------------------------------ */

static const char example[] =
    "FROM: TOKYO\n"					/* 1 */
    "TO: WASHINGTON\n"					/* 2 */
    "INFO: BEIJING, GENEVA\n"				/* 3 */
    "PRECEDENCE: IMMEDIATE/ROUTINE\n"			/* 4 */
    "CLASSIFICATION: SECRET\n"				/* 5 */
    "CAPTION: NODIS\n"					/* 6 */
    "PERSONS: A. SMITH, B. JONES\n"			/* 7 */
    "TAGS: PREL, JA, US\n"				/* 8 */
    "SUBJECT: Consultations on regional security\n"	/* 9 */
    "REF: TOKYO 000123, STATE 004567\n"			/* 10 */
    "DRAFTER: K. SATO\n"				/* 11 */
    "CLEARED: M. TANAKA\n"				/* 12 */
    "RELEASED: H. ITO\n"				/* 13 */
    "SERIAL: 124\n"					/* 14 */
    "\n"						/* 15 */
    "1. Summary. ...\n"					/* 16 */
    "continued text of paragraph 1\n"			/* 17 */
    "\n"						/* 18 */
    "2. ...\n";						/* 19 */

/* The example's date-time group: 2026-11-29 17:02:00 UTC. */
#define EXAMPLE_DTG 1795971720u

/* Six header lines: FROM, TO, PRECEDENCE, CLASSIFICATION, SUBJECT, DRAFTER. */
#define L_FROM "FROM: TOKYO\n"
#define L_TO "TO: WASHINGTON\n"
#define L_PREC "PRECEDENCE: ROUTINE\n"
#define L_CLASS "CLASSIFICATION: SECRET\n"
#define L_SUBJ "SUBJECT: Test\n"
#define L_DRAFTER "DRAFTER: K. SATO\n"
#define MIN L_FROM L_TO L_PREC L_CLASS L_SUBJ L_DRAFTER
#define BODY "\n1. Text.\n"

static void
add(struct buf *b, const char *s)
{
	assert_int_equal(buf_put(b, s, strlen(s)), 0);
}

static void __attribute__((format(printf, 2, 3)))
addf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(tmp));
	assert_int_equal(buf_put(b, tmp, (size_t)n), 0);
}

static void
add_rep(struct buf *b, char c, size_t n)
{
	assert_int_equal(buf_reserve(b, n), 0);
	memset(b->p + b->len, c, n);
	b->len += n;
}

static struct tg *
parse_ok(const char *text, size_t len)
{
	struct kerr e = { "" };
	struct tg *t = NULL;
	int r = tg_parse_draft(&t, text, len, NULL, &e);

	if (r != 0)
		print_error("unexpected error %d: %s\n", r, e.msg);
	assert_int_equal(r, 0);
	assert_non_null(t);
	return t;
}

/*
 * text fails with code, and the message contains each of the given pieces
 * (the line and the field, usually).
 */
static void
parse_fails(const char *text, size_t len, int code, const char *want1,
    const char *want2, const char *want3)
{
	const char *want[3] = { want1, want2, want3 };
	struct kerr e = { "" };
	struct tg *t = (struct tg *)&e;	/* must be reset to NULL */
	int r = tg_parse_draft(&t, text, len, NULL, &e);

	if (r != code)
		print_error("want %d, got %d (%s) for:\n%.*s\n", code, r, e.msg,
		    (int)(len > 400 ? 400 : len), text);
	assert_int_equal(r, code);
	assert_null(t);
	/* messages end up on a terminal: no control characters, ever */
	for (const char *m = e.msg; *m; m++)
		assert_true((unsigned char)*m >= 0x20 &&
		    (unsigned char)*m != 0x7f);
	for (int i = 0; i < 3; i++) {
		if (want[i] == NULL)
			continue;
		if (strstr(e.msg, want[i]) == NULL)
			print_error("message \"%s\" lacks \"%s\"\n", e.msg,
			    want[i]);
		assert_non_null(strstr(e.msg, want[i]));
	}
}

static int
list_eq(const struct tg_list *a, const struct tg_list *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static int
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int
tg_eq(const struct tg *a, const struct tg *b)
{
	return memcmp(a->id, b->id, TG_ID_LEN) == 0 && a->dtg == b->dtg &&
	    a->serial == b->serial && str_eq(a->origin, b->origin) &&
	    a->prec_action == b->prec_action && a->prec_info == b->prec_info &&
	    str_eq(a->classification, b->classification) &&
	    list_eq(&a->to, &b->to) && list_eq(&a->info, &b->info) &&
	    list_eq(&a->captions, &b->captions) &&
	    list_eq(&a->persons, &b->persons) && list_eq(&a->tags, &b->tags) &&
	    str_eq(a->subject, b->subject) && list_eq(&a->refs, &b->refs) &&
	    str_eq(a->drafter, b->drafter) &&
	    list_eq(&a->cleared, &b->cleared) &&
	    str_eq(a->releaser, b->releaser) && list_eq(&a->paras, &b->paras);
}

static void
assert_list(const struct tg_list *l, size_t n, ...)
{
	va_list ap;

	assert_int_equal(l->n, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->v[i], va_arg(ap, const char *));
	va_end(ap);
}

static void
encode_ok(const struct tg *t, struct buf *b)
{
	buf_init(b, TG_ENCODED_MAX);
	assert_int_equal(tg_encode(t, b), 0);
}

/* encode -> decode -> encode gives the same bytes and an equal telegram. */
static void
roundtrip(const struct tg *t)
{
	struct buf a, b;
	struct kerr e = { "" };
	struct tg *u = NULL;
	int r;

	encode_ok(t, &a);
	r = tg_decode(&u, a.p, a.len, &e);
	if (r != 0)
		print_error("decode: %s\n", e.msg);
	assert_int_equal(r, 0);
	assert_true(tg_eq(t, u));
	encode_ok(u, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	tg_free(u);
	buf_free(&a);
	buf_free(&b);
}

/* A list from strings (copied). */
static void
set_list(struct tg_list *l, size_t n, const char *const *v)
{
	l->n = n;
	l->v = n ? calloc(n, sizeof(*l->v)) : NULL;
	for (size_t i = 0; i < n; i++) {
		l->v[i] = strdup(v[i]);
		assert_non_null(l->v[i]);
	}
}

/* The smallest valid telegram, built by hand. */
static struct tg *
tiny(void)
{
	static const char *const to[] = { "B" }, *const para[] = { "P" };
	struct tg *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	for (int i = 0; i < TG_ID_LEN; i++)
		t->id[i] = (uint8_t)i;
	t->dtg = 2;
	t->serial = 1;
	t->origin = strdup("A");
	t->prec_action = t->prec_info = TG_ROUTINE;
	t->classification = strdup("SECRET");
	set_list(&t->to, 1, to);
	t->subject = strdup("S");
	t->drafter = strdup("D");
	set_list(&t->paras, 1, para);
	return t;
}

/* ---- drafting text form: accepted ------------------------------------- */

static void
test_example_fields(void **state)
{
	struct tg *t;
	uint8_t zero[TG_ID_LEN] = { 0 };

	(void)state;
	t = parse_ok(example, strlen(example));
	assert_memory_equal(t->id, zero, TG_ID_LEN);
	assert_int_equal(t->dtg, 0);
	assert_int_equal(t->serial, 124);
	assert_string_equal(t->origin, "TOKYO");
	assert_int_equal(t->prec_action, TG_IMMEDIATE);
	assert_int_equal(t->prec_info, TG_ROUTINE);
	assert_string_equal(t->classification, "SECRET");
	assert_list(&t->to, 1, "WASHINGTON");
	assert_list(&t->info, 2, "BEIJING", "GENEVA");
	assert_list(&t->captions, 1, "NODIS");
	assert_list(&t->persons, 2, "A. SMITH", "B. JONES");
	assert_list(&t->tags, 3, "PREL", "JA", "US");
	assert_string_equal(t->subject, "Consultations on regional security");
	assert_list(&t->refs, 2, "TOKYO 000123", "STATE 004567");
	assert_string_equal(t->drafter, "K. SATO");
	assert_list(&t->cleared, 1, "M. TANAKA");
	assert_string_equal(t->releaser, "H. ITO");
	assert_list(&t->paras, 2,
	    "Summary. ...\ncontinued text of paragraph 1", "...");
	assert_int_equal(tg_validate(t, NULL, NULL), 0);
	tg_free(t);
}

static void
test_normalisation(void **state)
{
	static const char text[] =
	    "from:   tokyo  \n"
	    "To: new   york,washington ,  san\tjose-x\n"
	    "precedence:  flash / priority \n"
	    "Classification: top   secret\n"
	    "caption: limdis,exdis\n"
	    "persons: Ana Müller\n"
	    "tags: prel,ja\n"
	    "subject:  Mixed Case subject, kept  \n"
	    "drafter:\tK. Sato\t\n"
	    "serial: 000124\n"
	    "\n"
	    "1.    Leading blanks dropped; trailing too.   \t\n"
	    "   indented continuation kept\n"
	    "\ttab-led line kept\n";
	struct kerr e = { "" };
	struct tg *t = NULL;

	(void)state;
	/* a tab inside a post name is not a space */
	assert_int_equal(tg_parse_draft(&t, text, strlen(text), NULL, &e),
	    KERR_INVALID);
	assert_non_null(strstr(e.msg, "line 2: TO:"));

	{
		char *fixed = strdup(text), *p = strstr(fixed, "san\tjose");

		assert_non_null(p);
		p[3] = ' ';
		t = parse_ok(fixed, strlen(fixed));
		free(fixed);
	}
	assert_string_equal(t->origin, "TOKYO");
	assert_list(&t->to, 3, "NEW YORK", "WASHINGTON", "SAN JOSE-X");
	assert_int_equal(t->prec_action, TG_FLASH);
	assert_int_equal(t->prec_info, TG_PRIORITY);
	assert_string_equal(t->classification, "TOP SECRET");
	assert_list(&t->captions, 2, "LIMDIS", "EXDIS");
	assert_list(&t->persons, 1, "Ana Müller");
	assert_list(&t->tags, 2, "PREL", "JA");
	assert_string_equal(t->subject, "Mixed Case subject, kept");
	assert_string_equal(t->drafter, "K. Sato");
	assert_null(t->releaser);
	assert_int_equal(t->serial, 124);
	assert_list(&t->paras, 1, "Leading blanks dropped; trailing too.\n"
	    "   indented continuation kept\n\ttab-led line kept");
	tg_free(t);
}

static void
test_crlf(void **state)
{
	struct buf crlf, a, b;
	struct tg *t, *u;

	(void)state;
	buf_init(&crlf, 1 << 16);
	for (const char *p = example; *p; p++) {
		if (*p == '\n')
			add(&crlf, "\r");
		assert_int_equal(buf_put_u8(&crlf, (uint8_t)*p), 0);
	}
	t = parse_ok(example, strlen(example));
	u = parse_ok((const char *)crlf.p, crlf.len);
	assert_true(tg_eq(t, u));
	encode_ok(t, &a);
	encode_ok(u, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	tg_free(t);
	tg_free(u);
	buf_free(&a);
	buf_free(&b);
	buf_free(&crlf);
}

static void
test_continuation(void **state)
{
	static const char text[] =
	    L_FROM L_TO
	    "INFO:\n"
	    "  BEIJING,\n"
	    "\tGENEVA, LONDON\n"
	    "  , PARIS\n"
	    L_PREC L_CLASS
	    "SUBJECT: A subject that goes on\n"
	    "    and on\n"
	    L_DRAFTER
	    "CLEARED: M. TANAKA,\n"
	    " J. DOE\n"
	    BODY "\n\n\n2. After three blank lines.\n   \n\t\n3. Blank-ish"
	    " lines separate too.\n\n\n";
	struct tg *t;

	(void)state;
	t = parse_ok(text, strlen(text));
	assert_list(&t->info, 4, "BEIJING", "GENEVA", "LONDON", "PARIS");
	assert_string_equal(t->subject, "A subject that goes on and on");
	assert_list(&t->cleared, 2, "M. TANAKA", "J. DOE");
	assert_list(&t->paras, 3, "Text.", "After three blank lines.",
	    "Blank-ish lines separate too.");
	tg_free(t);
}

/* An error in a continued list names the line of the item. */
static void
test_continuation_error_line(void **state)
{
	const char *text = L_FROM L_TO "INFO: BEIJING,\n GENEVA,\n WASHINGTON\n"
	    L_PREC L_CLASS L_SUBJ L_DRAFTER BODY;

	(void)state;
	parse_fails(text, strlen(text), KERR_INVALID, "line 5: INFO: "
	    "WASHINGTON is both TO and INFO (TO on line 2)", NULL, NULL);
}

static void
test_misc_accepted(void **state)
{
	const char *text;
	struct tg *t;

	(void)state;
	/* FROM may be an addressee; a whitespace-only line ends the header;
	 * the last line needs no newline; P alone is both precedences */
	text = "FROM: TOKYO\nTO: TOKYO\nINFO: OSAKA\nPRECEDENCE: priority\n"
	    L_CLASS L_SUBJ L_DRAFTER " \t \n1. Last line, no newline.";
	t = parse_ok(text, strlen(text));
	assert_list(&t->to, 1, "TOKYO");
	assert_int_equal(t->prec_action, TG_PRIORITY);
	assert_int_equal(t->prec_info, TG_PRIORITY);
	assert_int_equal(t->serial, 0);
	assert_list(&t->paras, 1, "Last line, no newline.");
	tg_free(t);

	/* a header line may hold a colon in its value; fields in any order */
	text = L_DRAFTER "SUBJECT: Re: the 10:30 meeting\n" L_CLASS L_PREC
	    L_TO L_FROM "RELEASED: H. ITO\n" BODY;
	t = parse_ok(text, strlen(text));
	assert_string_equal(t->subject, "Re: the 10:30 meeting");
	assert_string_equal(t->releaser, "H. ITO");
	tg_free(t);

	/* paragraph numbers past 9, and lines that look like numbers */
	{
		struct buf b;

		buf_init(&b, 1 << 16);
		add(&b, MIN);
		for (int i = 1; i <= 12; i++)
			addf(&b, "\n%d. Para %d.\n%d. is not a new paragraph\n",
			    i, i, i + 1);
		t = parse_ok((const char *)b.p, b.len);
		assert_int_equal(t->paras.n, 12);
		assert_string_equal(t->paras.v[11],
		    "Para 12.\n13. is not a new paragraph");
		tg_free(t);
		buf_free(&b);
	}
}

static void
test_custom_policy(void **state)
{
	static const char pol_text[] =
	    "# ministry levels, lowest first\r\n"
	    "\r\n"
	    "Unclassified\r\n"
	    "  Restricted   # for official use\n"
	    "Confidential\n"
	    "Secret//Noforn\n";
	struct tg_policy pol;
	struct kerr e = { "" };
	struct tg *t = NULL;
	const char *text;

	(void)state;
	assert_int_equal(tg_policy_parse(&pol, pol_text, strlen(pol_text), &e),
	    0);
	assert_int_equal(pol.n, 4);
	assert_string_equal(pol.level[1], "Restricted");
	assert_string_equal(pol.level[3], "Secret//Noforn");
	assert_int_equal(tg_policy_rank(&pol, "RESTRICTED"), 1);
	assert_int_equal(tg_policy_rank(&pol, "SECRET"), -1);

	text = L_FROM L_TO L_PREC "CLASSIFICATION: RESTRICTED\n" L_SUBJ
	    L_DRAFTER BODY;
	assert_int_equal(tg_parse_draft(&t, text, strlen(text), &pol, &e), 0);
	assert_string_equal(t->classification, "Restricted");
	assert_int_equal(tg_validate(t, &pol, NULL), 0);
	assert_int_equal(tg_validate(t, NULL, NULL), 0);
	roundtrip(t);
	tg_free(t);

	text = MIN BODY;	/* SECRET is not a level of this policy */
	assert_int_equal(tg_parse_draft(&t, text, strlen(text), &pol, &e),
	    KERR_INVALID);
	assert_null(t);
	assert_string_equal(e.msg, "line 4: CLASSIFICATION: unknown level "
	    "'SECRET' (expected Unclassified, Restricted, Confidential or "
	    "Secret//Noforn)");

	/* and tg_validate holds a telegram to a policy when given one */
	t = parse_ok(MIN BODY, strlen(MIN BODY));
	assert_int_equal(tg_validate(t, &pol, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "CLASSIFICATION"));
	tg_free(t);
}

static void
test_policy_errors(void **state)
{
	struct tg_policy pol, def;
	struct kerr e = { "" };
	struct buf b;
	const char *s;

	(void)state;
	tg_policy_default(&def);
	assert_int_equal(def.n, 4);
	assert_string_equal(def.level[0], "UNCLASSIFIED");
	assert_string_equal(def.level[3], "TOP SECRET");
	assert_int_equal(tg_policy_rank(&def, "top secret"), 3);
	assert_int_equal(tg_policy_rank(&def, "TOPSECRET"), -1);
	assert_int_equal(tg_policy_rank(NULL, "SECRET"), -1);

	s = "A\nB\na\n";
	assert_int_equal(tg_policy_parse(&pol, s, strlen(s), &e), KERR_INVALID);
	assert_string_equal(e.msg, "policy line 3: level 'a' appears twice "
	    "(first on line 1)");
	assert_int_equal(pol.n, 0);
	s = "# nothing\n\n";
	assert_int_equal(tg_policy_parse(&pol, s, strlen(s), &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "no classification levels"));
	s = "OK\nNOT_OK\n";
	assert_int_equal(tg_policy_parse(&pol, s, strlen(s), &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "policy line 2"));
	s = "OK\nTOP  SECRET\n";
	assert_int_equal(tg_policy_parse(&pol, s, strlen(s), &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "extra spaces"));
	assert_int_equal(tg_policy_parse(&pol, "A\0B", 3, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "NUL"));

	buf_init(&b, 1 << 12);
	add_rep(&b, 'X', TG_CLASS_MAX);
	assert_int_equal(tg_policy_parse(&pol, (const char *)b.p, b.len, &e),
	    0);
	add(&b, "Y");
	assert_int_equal(tg_policy_parse(&pol, (const char *)b.p, b.len, &e),
	    KERR_TOOBIG);
	b.len = 0;
	for (int i = 0; i < TG_POLICY_LEVELS_MAX; i++)
		addf(&b, "L%d\n", i);
	assert_int_equal(tg_policy_parse(&pol, (const char *)b.p, b.len, &e),
	    0);
	assert_int_equal(pol.n, TG_POLICY_LEVELS_MAX);
	add(&b, "ONE MORE\n");
	assert_int_equal(tg_policy_parse(&pol, (const char *)b.p, b.len, &e),
	    KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "policy line 17"));
	buf_free(&b);
}

/* ---- drafting text form: every rule ----------------------------------- */

struct bad {
	const char *text;
	int code;
	const char *want1, *want2;
};

static const struct bad bad_drafts[] = {
	/* header structure */
	{ MIN "TO: LONDON\n" BODY, KERR_SYNTAX,
	    "line 7: duplicate field TO (first on line 2)", NULL },
	{ MIN "to: LONDON\n" BODY, KERR_SYNTAX,
	    "line 7: duplicate field TO (first on line 2)", NULL },
	{ MIN "URGENCY: HIGH\n" BODY, KERR_SYNTAX,
	    "line 7: unknown field 'URGENCY'", "FROM, TO, INFO" },
	{ MIN "X-FIELD: y\n" BODY, KERR_SYNTAX, "line 7: expected 'FIELD: "
	    "value'", NULL },
	{ MIN "1. Text with no blank line before it\n", KERR_SYNTAX,
	    "line 7: expected 'FIELD: value'", "blank line" },
	{ " FROM: TOKYO\n" L_TO L_PREC L_CLASS L_SUBJ L_DRAFTER BODY,
	    KERR_SYNTAX, "line 1: continuation line", NULL },
	{ "FROM:\n" L_TO L_PREC L_CLASS L_SUBJ L_DRAFTER BODY, KERR_SYNTAX,
	    "line 1: FROM: empty value", NULL },
	{ MIN "CLEARED:   \n" BODY, KERR_SYNTAX, "line 7: CLEARED: empty value",
	    NULL },
	/* required fields */
	{ L_TO L_PREC L_CLASS L_SUBJ L_DRAFTER BODY, KERR_SYNTAX,
	    "line 6: the header ends without required field FROM", NULL },
	{ L_FROM L_PREC L_CLASS L_SUBJ L_DRAFTER BODY, KERR_SYNTAX,
	    "line 6: ", "required field TO" },
	{ L_FROM L_TO L_CLASS L_SUBJ L_DRAFTER BODY, KERR_SYNTAX,
	    "line 6: ", "required field PRECEDENCE" },
	{ L_FROM L_TO L_PREC L_SUBJ L_DRAFTER BODY, KERR_SYNTAX,
	    "line 6: ", "required field CLASSIFICATION" },
	{ L_FROM L_TO L_PREC L_CLASS L_DRAFTER BODY, KERR_SYNTAX,
	    "line 6: ", "required field SUBJECT" },
	{ L_FROM L_TO L_PREC L_CLASS L_SUBJ BODY, KERR_SYNTAX,
	    "line 6: ", "required field DRAFTER" },
	{ "", KERR_SYNTAX, "line 1: ", "required field FROM" },
	{ MIN, KERR_SYNTAX, "line 7: the body has no paragraphs", NULL },
	{ MIN "\n\n  \n", KERR_SYNTAX, "line 9: the body has no paragraphs",
	    NULL },
	/* post names */
	{ L_FROM "TO: WASH_INGTON\n" L_PREC L_CLASS L_SUBJ L_DRAFTER BODY,
	    KERR_INVALID, "line 2: TO: post name 'WASH_INGTON' may contain "
	    "only", NULL },
	{ "FROM: TÔKYÔ\n" L_TO L_PREC L_CLASS L_SUBJ L_DRAFTER BODY,
	    KERR_INVALID, "line 1: FROM: post name", NULL },
	{ "FROM: TOKYO, OSAKA\n" L_TO L_PREC L_CLASS L_SUBJ L_DRAFTER BODY,
	    KERR_INVALID, "line 1: FROM: post name", NULL },
	{ L_FROM "TO: ..\n" L_PREC L_CLASS L_SUBJ L_DRAFTER BODY,
	    KERR_INVALID, "line 2: TO:", "must begin with a letter or digit" },
	{ L_FROM "TO: -RF\n" L_PREC L_CLASS L_SUBJ L_DRAFTER BODY,
	    KERR_INVALID, "line 2: TO:", "must begin with a letter or digit" },
	{ L_FROM "TO: WASHINGTON,,LONDON\n" L_PREC L_CLASS L_SUBJ L_DRAFTER
	    BODY, KERR_SYNTAX, "line 2: TO: empty item", NULL },
	{ MIN "INFO: LONDON,\n" BODY, KERR_SYNTAX, "line 7: INFO: empty item",
	    NULL },
	{ L_FROM "TO: WASHINGTON, washington\n" L_PREC L_CLASS L_SUBJ
	    L_DRAFTER BODY, KERR_INVALID, "line 2: TO: WASHINGTON appears "
	    "twice (first on line 2)", NULL },
	{ MIN "INFO: BEIJING, GENEVA, Beijing\n" BODY, KERR_INVALID,
	    "line 7: INFO: BEIJING appears twice", NULL },
	{ MIN "INFO: BEIJING, Washington\n" BODY, KERR_INVALID,
	    "line 7: INFO: WASHINGTON is both TO and INFO (TO on line 2)",
	    NULL },
	/* INFO before TO: still reported on INFO, with both lines */
	{ "INFO: WASHINGTON\n" MIN BODY, KERR_INVALID,
	    "line 1: INFO: WASHINGTON is both TO and INFO (TO on line 3)",
	    NULL },
	/* precedence */
	{ L_FROM L_TO "PRECEDENCE: URGENT\n" L_CLASS L_SUBJ L_DRAFTER BODY,
	    KERR_INVALID, "line 3: PRECEDENCE: unknown precedence 'URGENT' "
	    "(expected FLASH, IMMEDIATE, PRIORITY or ROUTINE)", NULL },
	{ L_FROM L_TO "PRECEDENCE: ROUTINE/FLASH\n" L_CLASS L_SUBJ L_DRAFTER
	    BODY, KERR_INVALID, "line 3: PRECEDENCE: info precedence FLASH is "
	    "higher than action precedence ROUTINE", NULL },
	{ L_FROM L_TO "PRECEDENCE: FLASH/\n" L_CLASS L_SUBJ L_DRAFTER BODY,
	    KERR_INVALID, "line 3: PRECEDENCE: unknown precedence ''", NULL },
	{ L_FROM L_TO "PRECEDENCE: FLASH/FLASH/FLASH\n" L_CLASS L_SUBJ
	    L_DRAFTER BODY, KERR_SYNTAX, "line 3: PRECEDENCE: expected 'P' or "
	    "'P/Q'", NULL },
	/* classification */
	{ L_FROM L_TO L_PREC "CLASSIFICATION: SECRT\n" L_SUBJ L_DRAFTER BODY,
	    KERR_INVALID, "line 4: CLASSIFICATION: unknown level 'SECRT' "
	    "(expected UNCLASSIFIED, CONFIDENTIAL, SECRET or TOP SECRET)",
	    NULL },
	/* captions and persons */
	{ MIN "CAPTION: SECRETDIS\n" BODY, KERR_INVALID, "line 7: CAPTION: "
	    "unknown caption 'SECRETDIS' (expected NODIS, EXDIS or LIMDIS)",
	    NULL },
	{ MIN "CAPTION: EXDIS, exdis\n" BODY, KERR_INVALID,
	    "line 7: CAPTION: EXDIS appears twice", NULL },
	{ MIN "CAPTION: NODIS\n" BODY, KERR_INVALID, "line 7: CAPTION: NODIS "
	    "requires PERSONS: the named persons who may read it", NULL },
	{ MIN "CAPTION: EXDIS, NODIS\n" BODY, KERR_INVALID, "line 7: CAPTION: "
	    "NODIS requires PERSONS", NULL },
	{ MIN "PERSONS: A. SMITH\n" BODY, KERR_INVALID, "line 7: PERSONS: ",
	    "need a CAPTION" },
	{ MIN "CAPTION: NODIS\nPERSONS: A. Smith, B. JONES,\n  a. smith\n" BODY,
	    KERR_INVALID, "line 9: PERSONS: a. smith appears twice", NULL },
	{ MIN "CAPTION: EXDIS\nPERSONS: A. SMITH,, B. JONES\n" BODY,
	    KERR_SYNTAX, "line 8: PERSONS: empty item", NULL },
	{ L_FROM L_TO L_PREC L_CLASS L_SUBJ "DRAFTER: K. SATO, M. TANAKA\n"
	    BODY, KERR_INVALID, "line 6: DRAFTER: person name", "comma" },
	{ MIN "RELEASED: H.\tITO\n" BODY, KERR_INVALID, "line 7: RELEASED: "
	    "person name", "contains a tab" },
	{ MIN "CLEARED: A, B, a\n" BODY, KERR_INVALID, "line 7: CLEARED: a "
	    "appears twice", NULL },
	/* tags */
	{ MIN "TAGS: PREL, J\n" BODY, KERR_INVALID, "line 7: TAGS: tag 'J' is "
	    "shorter than 2", NULL },
	{ MIN "TAGS: PREL, ABCDEFGHI\n" BODY, KERR_TOOBIG, "line 7: TAGS: tag "
	    "'ABCDEFGHI' is 9 characters, over the limit of 8", NULL },
	{ MIN "TAGS: PR-L\n" BODY, KERR_INVALID, "line 7: TAGS: tag 'PR-L' may "
	    "contain only", NULL },
	{ MIN "TAGS: PREL, JA,\n prel\n" BODY, KERR_INVALID,
	    "line 8: TAGS: PREL appears twice", NULL },
	/* references */
	{ MIN "REF: TOKYO 1, tokyo 1\n" BODY, KERR_INVALID,
	    "line 7: REF: tokyo 1 appears twice", NULL },
	{ MIN "REF: TOKYO 1,\tSTATE\t2\n" BODY, KERR_INVALID, "line 7: REF: "
	    "reference 'STATE\\x092' contains a tab", NULL },
	/* subject */
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: tab\there\n" L_DRAFTER BODY,
	    KERR_INVALID, "line 5: SUBJECT: subject contains a tab", NULL },
	/* serial */
	{ MIN "SERIAL: 0\n" BODY, KERR_INVALID, "line 7: SERIAL: serials start "
	    "at 1", NULL },
	{ MIN "SERIAL: 000\n" BODY, KERR_INVALID, "line 7: SERIAL:", NULL },
	{ MIN "SERIAL: 1000000\n" BODY, KERR_TOOBIG, "line 7: SERIAL: "
	    "'1000000' is over the limit of 999999", NULL },
	{ MIN "SERIAL: 99999999999999999999999\n" BODY, KERR_TOOBIG,
	    "line 7: SERIAL:", NULL },
	{ MIN "SERIAL: 12a\n" BODY, KERR_INVALID, "line 7: SERIAL: '12a' is "
	    "not a decimal number", NULL },
	{ MIN "SERIAL: -1\n" BODY, KERR_INVALID, "line 7: SERIAL:", NULL },
	/* body */
	{ MIN "\n1. One.\n\n2. Two.\n\n4. Four.\n", KERR_SYNTAX,
	    "line 12: paragraph 3 is numbered 4", NULL },
	{ MIN "\n1. One.\n\n02. Two.\n", KERR_SYNTAX,
	    "line 10: paragraph 2 is numbered 02", NULL },
	{ MIN "\n1. One.\n\nTwo.\n", KERR_SYNTAX, "line 10: paragraph 2 does "
	    "not begin with its number '2. '", NULL },
	{ MIN "\n 1. One.\n", KERR_SYNTAX, "line 8: paragraph 1 does not "
	    "begin with its number '1. '", NULL },
	{ MIN "\n1.\nText on the next line.\n", KERR_SYNTAX, "line 8: "
	    "paragraph 1 has no text after '1.'", NULL },
	{ MIN "\n1.   \n", KERR_SYNTAX, "line 8: paragraph 1 has no text", NULL },
	{ MIN "\n1.Text\n", KERR_SYNTAX, "line 8: paragraph 1: expected a "
	    "space after '1.'", NULL },
	{ MIN "\n1.\tText\n", KERR_SYNTAX, "line 8: paragraph 1: expected a "
	    "space after '1.'", NULL },
	{ MIN "\n1) Text\n", KERR_SYNTAX, "line 8: paragraph 1 does not begin",
	    NULL },
	/* characters */
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: bell\a\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 14: control character 0x07", NULL },
	{ MIN BODY "more\x7f\n", KERR_SYNTAX, "line 9, byte 5: control "
	    "character 0x7F", NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: esc\x1b[2J\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 13: control character 0x1B", NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: lone\rCR\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 14: carriage return not followed by a "
	    "line feed", NULL },
	{ MIN BODY "\r", KERR_SYNTAX, "line 9, byte 1: carriage return", NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: c1 \xc2\x9b" "2J\n" L_DRAFTER
	    BODY, KERR_SYNTAX, "line 5, byte 13: control character U+009B",
	    NULL },
	/* malformed UTF-8, on the subject line (5) */
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: \xc0\xaf\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 10: invalid UTF-8 (overlong encoding)",
	    NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: \xe0\x80\xaf\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 10: invalid UTF-8 (overlong encoding)",
	    NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: \xf0\x82\x82\xac\n" L_DRAFTER
	    BODY, KERR_SYNTAX, "line 5, byte 10: invalid UTF-8 (overlong",
	    NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: x\xed\xa0\x80\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 11: invalid UTF-8 (surrogate code "
	    "point)", NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: \xed\xbf\xbf\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 10: invalid UTF-8 (surrogate", NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: \xe3\x81" "A\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 10: invalid UTF-8 (truncated sequence)",
	    NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: \xe3\x81\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 10: invalid UTF-8 (truncated sequence)",
	    NULL },
	{ MIN BODY "2. ends mid-character \xe6\x97", KERR_SYNTAX, "line 9, "
	    "byte 23: invalid UTF-8 (truncated sequence)", NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: \xf4\x90\x80\x80\n" L_DRAFTER
	    BODY, KERR_SYNTAX, "line 5, byte 10: invalid UTF-8 (code point "
	    "past U+10FFFF)", NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: \x80\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 10: invalid UTF-8 (continuation byte",
	    NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: \xf8\x88\x80\x80\x80\n"
	    L_DRAFTER BODY, KERR_SYNTAX, "line 5, byte 10: invalid UTF-8",
	    NULL },
	{ L_FROM L_TO L_PREC L_CLASS "SUBJECT: \xff\n" L_DRAFTER BODY,
	    KERR_SYNTAX, "line 5, byte 10: invalid UTF-8", NULL },
};

static void
test_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_drafts) / sizeof(*bad_drafts); i++) {
		const struct bad *b = &bad_drafts[i];

		parse_fails(b->text, strlen(b->text), b->code, b->want1,
		    b->want2, NULL);
	}
}

static void
test_nul_byte(void **state)
{
	static const char text[] = L_FROM L_TO L_PREC L_CLASS
	    "SUBJECT: a\0b\n" L_DRAFTER BODY;

	(void)state;
	parse_fails(text, sizeof(text) - 1, KERR_SYNTAX,
	    "line 5, byte 11: NUL byte", NULL, NULL);
}

/* A message quotes at most a clipped piece of what it complains about. */
static void
test_long_values_clipped(void **state)
{
	struct buf b;
	struct kerr e = { "" };
	struct tg *t = NULL;

	(void)state;
	buf_init(&b, 1 << 16);
	add(&b, "FROM: ");
	add_rep(&b, 'X', 5000);
	add(&b, "\n" L_TO L_PREC L_CLASS L_SUBJ L_DRAFTER BODY);
	assert_int_equal(tg_parse_draft(&t, (const char *)b.p, b.len, NULL,
	    &e), KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "line 1: FROM:"));
	assert_non_null(strstr(e.msg, "5000 bytes, over the limit of 32"));
	assert_non_null(strstr(e.msg, "..."));
	buf_free(&b);
}

/* ---- regressions found by fuzz/fuzz_draft.c ----------------------------- */

/*
 * fuzz_draft crash 44154c45: a tab inside an unknown classification was
 * quoted raw, putting a control character into the message.
 */
static void
test_fuzz_tab_quoted_in_message(void **state)
{
	static const char text[] = "FROM: A\nTO: B\nPRECEDENCE: ROUTINE\n"
	    "CLASSIFICATION: UNCLASS\tFIED\nSUBJECT: S\nDRAFTER: D\n\n0. P\n";

	(void)state;
	parse_fails(text, strlen(text), KERR_INVALID, "line 4: "
	    "CLASSIFICATION: unknown level 'UNCLASS\\x09FIED'", NULL, NULL);
	parse_fails(L_FROM L_TO "PRECEDENCE: FLASH\tX\n" L_CLASS L_SUBJ
	    L_DRAFTER BODY, strlen(L_FROM L_TO "PRECEDENCE: FLASH\tX\n" L_CLASS
	    L_SUBJ L_DRAFTER BODY), KERR_INVALID, "line 3: PRECEDENCE: unknown "
	    "precedence 'FLASH\\x09X'", NULL, NULL);
	parse_fails(MIN "SERIAL: 1\t2\n" BODY, strlen(MIN "SERIAL: 1\t2\n" BODY),
	    KERR_INVALID, "line 7: SERIAL: '1\\x092'", NULL, NULL);
}

/* ---- caps: exactly at, and one over ---------------------------------- */

static void
test_cap_body(void **state)
{
	struct buf b;
	struct tg *t;

	(void)state;
	buf_init(&b, TG_DRAFT_MAX + 16);
	/* one paragraph of exactly TG_BODY_MAX bytes */
	add(&b, MIN "\n1. ");
	add_rep(&b, 'x', TG_BODY_MAX);
	add(&b, "\n");
	t = parse_ok((const char *)b.p, b.len);
	assert_int_equal(strlen(t->paras.v[0]), TG_BODY_MAX);
	roundtrip(t);
	tg_free(t);
	b.len--;
	add(&b, "y\n");
	parse_fails((const char *)b.p, b.len, KERR_TOOBIG,
	    "line 8: body is 1048577 bytes, over the limit of 1048576", NULL,
	    NULL);

	/* two paragraphs, three lines: the joining '\n' counts, numbers not */
	b.len = 0;
	add(&b, MIN "\n1. ");
	add_rep(&b, 'a', 1000);
	add(&b, "\n");
	add_rep(&b, 'b', 1000);
	add(&b, "\n\n2. ");
	add_rep(&b, 'c', TG_BODY_MAX - 2001);
	add(&b, "\n");
	t = parse_ok((const char *)b.p, b.len);
	tg_free(t);
	b.len--;
	add(&b, "d\n");
	parse_fails((const char *)b.p, b.len, KERR_TOOBIG,
	    "line 11: body is 1048577 bytes", NULL, NULL);
	buf_free(&b);
}

static void
test_cap_draft_size(void **state)
{
	struct buf b;
	struct tg *t;

	(void)state;
	buf_init(&b, TG_DRAFT_MAX + 16);
	add(&b, MIN "\n1. ");
	add_rep(&b, 'x', TG_BODY_MAX);
	add_rep(&b, '\n', TG_DRAFT_MAX - b.len);	/* trailing blank lines */
	assert_int_equal(b.len, TG_DRAFT_MAX);
	t = parse_ok((const char *)b.p, b.len);
	tg_free(t);
	add(&b, "\n");
	parse_fails((const char *)b.p, b.len, KERR_TOOBIG,
	    "draft is 1114113 bytes, over the limit of 1114112", NULL, NULL);
	buf_free(&b);
}

static void
test_cap_paragraphs(void **state)
{
	struct buf b;
	struct tg *t;

	(void)state;
	buf_init(&b, 1 << 20);
	add(&b, MIN);
	for (int i = 1; i <= TG_PARAS_MAX; i++)
		addf(&b, "\n%d. P.\n", i);
	t = parse_ok((const char *)b.p, b.len);
	assert_int_equal(t->paras.n, TG_PARAS_MAX);
	roundtrip(t);
	tg_free(t);
	addf(&b, "\n%d. P.\n", TG_PARAS_MAX + 1);
	/* MIN is 6 lines, each paragraph 2: paragraph 1001 is on line 2008 */
	parse_fails((const char *)b.p, b.len, KERR_TOOBIG, "line 2008: "
	    "paragraph 1001 is over the limit of 1000 paragraphs", NULL, NULL);
	buf_free(&b);
}

static void
test_cap_addressees(void **state)
{
	struct buf b;
	struct tg *t;

	(void)state;
	buf_init(&b, 1 << 16);
	add(&b, L_FROM L_TO "INFO: P1");
	for (int i = 2; i < TG_ADDRESSEES_MAX; i++)
		addf(&b, ",\n P%d", i);
	add(&b, "\n" L_PREC L_CLASS L_SUBJ L_DRAFTER BODY);
	t = parse_ok((const char *)b.p, b.len);
	assert_int_equal(t->to.n + t->info.n, TG_ADDRESSEES_MAX);
	assert_string_equal(t->info.v[254], "P255");
	roundtrip(t);
	tg_free(t);

	b.len = 0;
	add(&b, L_FROM L_TO "INFO: P1");
	for (int i = 2; i <= TG_ADDRESSEES_MAX; i++)
		addf(&b, ", P%d", i);
	add(&b, "\n" L_PREC L_CLASS L_SUBJ L_DRAFTER BODY);
	parse_fails((const char *)b.p, b.len, KERR_TOOBIG, "line 3: INFO: "
	    "257 addressees in TO and INFO, over the limit of 256", NULL, NULL);

	/* TO alone over the cap */
	b.len = 0;
	add(&b, L_FROM "TO: P0");
	for (int i = 1; i <= TG_ADDRESSEES_MAX; i++)
		addf(&b, ", P%d", i);
	add(&b, "\n" L_PREC L_CLASS L_SUBJ L_DRAFTER BODY);
	parse_fails((const char *)b.p, b.len, KERR_TOOBIG, "line 2: TO: 257 "
	    "addressees", NULL, NULL);
	buf_free(&b);
}

/* A list field of n items: item prefix, then i (zero-padded to width). */
static void
list_line(struct buf *b, const char *field, int n, const char *item,
    int width)
{
	addf(b, "%s: ", field);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			add(b, ", ");
		addf(b, "%s%0*d", item, width, i);
	}
	add(b, "\n");
}

static void
test_cap_lists(void **state)
{
	static const struct {
		const char *field, *item;
		int width;
		const char *prefix;
		int max;
	} lists[] = {
		{ "TAGS", "T", 0, "", TG_TAGS_MAX },
		{ "REF", "TOKYO ", 6, "", TG_REFS_MAX },
		{ "PERSONS", "Person ", 0, "CAPTION: EXDIS\n", TG_PERSONS_MAX },
		{ "CLEARED", "Clearer ", 0, "", TG_CLEARED_MAX },
	};
	struct buf b;
	char want[64];

	(void)state;
	buf_init(&b, 1 << 16);
	for (size_t k = 0; k < sizeof(lists) / sizeof(*lists); k++) {
		struct tg *t;

		b.len = 0;
		add(&b, MIN);
		add(&b, lists[k].prefix);
		list_line(&b, lists[k].field, lists[k].max, lists[k].item,
		    lists[k].width);
		add(&b, BODY);
		t = parse_ok((const char *)b.p, b.len);
		roundtrip(t);
		tg_free(t);

		b.len = 0;
		add(&b, MIN);
		add(&b, lists[k].prefix);
		list_line(&b, lists[k].field, lists[k].max + 1,
		    lists[k].item, lists[k].width);
		add(&b, BODY);
		snprintf(want, sizeof(want), "line %d: %s: %d items, over the "
		    "limit of %d", *lists[k].prefix ? 8 : 7, lists[k].field,
		    lists[k].max + 1, lists[k].max);
		parse_fails((const char *)b.p, b.len, KERR_TOOBIG, want, NULL,
		    NULL);
	}
	buf_free(&b);
}

/* A one-value field at the byte cap and one over. */
static void
value_cap(const char *before, const char *field, const char *after,
    size_t max, int line, char fill)
{
	struct buf b;
	struct tg *t;
	char want[64];

	buf_init(&b, 1 << 16);
	add(&b, before);
	addf(&b, "%s: ", field);
	add_rep(&b, fill, max);
	add(&b, "\n");
	add(&b, after);
	t = parse_ok((const char *)b.p, b.len);
	roundtrip(t);
	tg_free(t);

	b.len = 0;
	add(&b, before);
	addf(&b, "%s: ", field);
	add_rep(&b, fill, max + 1);
	add(&b, "\n");
	add(&b, after);
	snprintf(want, sizeof(want), "line %d: %s: ", line, field);
	parse_fails((const char *)b.p, b.len, KERR_TOOBIG, want,
	    "over the limit", NULL);
	buf_free(&b);
}

static void
test_cap_values(void **state)
{
	(void)state;
	value_cap(L_FROM L_TO L_PREC L_CLASS, "SUBJECT", L_DRAFTER BODY,
	    TG_SUBJECT_MAX, 5, 's');
	value_cap("", "FROM", L_TO L_PREC L_CLASS L_SUBJ L_DRAFTER BODY,
	    TG_POST_MAX, 1, 'P');
	value_cap(L_FROM, "TO", L_PREC L_CLASS L_SUBJ L_DRAFTER BODY,
	    TG_POST_MAX, 2, 'P');
	value_cap(MIN, "RELEASED", BODY, TG_PERSON_MAX, 7, 'r');
	value_cap(MIN, "REF", BODY, TG_REF_MAX, 7, 'r');
	value_cap(MIN, "TAGS", BODY, TG_TAG_MAX, 7, 'T');
	value_cap(L_FROM L_TO L_PREC L_CLASS L_SUBJ, "DRAFTER", BODY,
	    TG_PERSON_MAX, 6, 'd');
}

/* Multi-byte characters count as bytes, and are never cut. */
static void
test_cap_utf8_subject(void **state)
{
	struct buf b;
	struct tg *t;

	(void)state;
	buf_init(&b, 1 << 12);
	add(&b, L_FROM L_TO L_PREC L_CLASS "SUBJECT: ");
	for (int i = 0; i < TG_SUBJECT_MAX / 4; i++)
		add(&b, "\xf0\x9f\x98\x80");	/* U+1F600, 4 bytes */
	add(&b, "\n" L_DRAFTER BODY);
	t = parse_ok((const char *)b.p, b.len);
	assert_int_equal(strlen(t->subject), TG_SUBJECT_MAX);
	tg_free(t);
	b.len = 0;
	add(&b, L_FROM L_TO L_PREC L_CLASS "SUBJECT: x");
	for (int i = 0; i < TG_SUBJECT_MAX / 4; i++)
		add(&b, "\xf0\x9f\x98\x80");
	add(&b, "\n" L_DRAFTER BODY);
	parse_fails((const char *)b.p, b.len, KERR_TOOBIG, "line 5: SUBJECT: "
	    "subject is 201 bytes, over the limit of 200", NULL, NULL);
	buf_free(&b);
}

/* ---- binary form ------------------------------------------------------- */

static void
test_golden_bytes(void **state)
{
	static const uint8_t want[] = {
		'K', 'T', 'G', 1,
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,	/* id */
		0, 0, 0, 0, 0, 0, 0, 2,		/* dtg */
		0, 0, 0, 0, 0, 0, 0, 1,		/* serial */
		1, 'A',				/* origin */
		1, 1,				/* precedences */
		6, 'S', 'E', 'C', 'R', 'E', 'T',
		0, 1, 1, 'B',			/* to */
		0, 0,				/* info */
		0, 0,				/* captions */
		0, 0,				/* persons */
		0, 0,				/* tags */
		0, 1, 'S',			/* subject */
		0, 0,				/* refs */
		1, 'D',				/* drafter */
		0, 0,				/* cleared */
		0,				/* releaser: none */
		0, 1, 0, 0, 0, 1, 'P',		/* paragraphs */
	};
	struct tg *t = tiny();
	struct buf b;

	(void)state;
	buf_init(&b, TG_ENCODED_MAX);
	add(&b, "prefix");	/* tg_encode appends */
	assert_int_equal(tg_encode(t, &b), 0);
	assert_int_equal(sizeof(want), 76);	/* as docs/drafting.md says */
	assert_int_equal(b.len, 6 + sizeof(want));
	assert_memory_equal(b.p + 6, want, sizeof(want));
	roundtrip(t);

	/* with a releaser the byte becomes a string */
	t->releaser = strdup("R");
	b.len = 0;
	assert_int_equal(tg_encode(t, &b), 0);
	assert_int_equal(b.len, sizeof(want) + 1);
	assert_int_equal(b.p[sizeof(want) - 8], 1);
	assert_int_equal(b.p[sizeof(want) - 7], 'R');
	roundtrip(t);
	tg_free(t);
	buf_free(&b);
}

static void
test_example_roundtrip(void **state)
{
	struct tg *t;

	(void)state;
	t = parse_ok(example, strlen(example));
	roundtrip(t);
	t->dtg = EXAMPLE_DTG;
	memset(t->id, 0xa5, TG_ID_LEN);
	roundtrip(t);
	tg_free(t);
}

static void
decode_fails(const uint8_t *p, size_t len, int code, const char *want)
{
	struct kerr e = { "" };
	struct tg *t = (struct tg *)&e;
	int r = tg_decode(&t, p, len, &e);

	if (r != code)
		print_error("want %d, got %d: %s\n", code, r, e.msg);
	assert_int_equal(r, code);
	assert_null(t);
	if (want != NULL && strstr(e.msg, want) == NULL)
		print_error("message \"%s\" lacks \"%s\"\n", e.msg, want);
	if (want != NULL)
		assert_non_null(strstr(e.msg, want));
}

static void
test_decode_truncations(void **state)
{
	struct tg *t;
	struct buf b;

	(void)state;
	t = parse_ok(example, strlen(example));
	encode_ok(t, &b);
	for (size_t n = 0; n < b.len; n++) {
		struct tg *u = (struct tg *)&b;

		assert_int_not_equal(tg_decode(&u, b.p, n, NULL), 0);
		assert_null(u);
	}
	tg_free(t);
	buf_free(&b);
}

/*
 * Every single-byte change to a valid encoding: either decode refuses it, or
 * it is another valid telegram whose encoding is exactly the changed bytes.
 */
static void
test_decode_corruptions(void **state)
{
	struct tg *t;
	struct buf b, c;
	size_t accepted = 0;

	(void)state;
	t = parse_ok(example, strlen(example));
	t->releaser[0] = 'h';	/* a lower-case letter to play with */
	encode_ok(t, &b);
	buf_init(&c, TG_ENCODED_MAX);
	for (size_t i = 0; i < b.len; i++) {
		for (int v = 0; v < 256; v++) {
			struct tg *u = NULL;
			uint8_t orig = b.p[i];

			if (v == orig)
				continue;
			b.p[i] = (uint8_t)v;
			if (tg_decode(&u, b.p, b.len, NULL) == 0) {
				accepted++;
				c.len = 0;
				assert_int_equal(tg_encode(u, &c), 0);
				assert_int_equal(c.len, b.len);
				assert_memory_equal(c.p, b.p, b.len);
				tg_free(u);
			} else
				assert_null(u);
			b.p[i] = orig;
		}
	}
	/* id and dtg take any value: at least 24 * 255 changes decode */
	assert_true(accepted >= 24 * 255);
	tg_free(t);
	buf_free(&b);
	buf_free(&c);
}

static void
test_decode_hostile(void **state)
{
	struct tg *t = tiny();
	struct buf b;
	uint8_t *p;
	size_t to_off = 4 + 16 + 16 + 2 + 2 + 7;	/* TO count */

	(void)state;
	encode_ok(t, &b);
	p = b.p;

	/* magic, version, trailing bytes, size cap */
	p[0] = 'X';
	decode_fails(p, b.len, KERR_FORMAT, "not a telegram");
	p[0] = 'K';
	p[3] = 2;
	decode_fails(p, b.len, KERR_VERSION, "version 2, expected 1");
	p[3] = 0;
	decode_fails(p, b.len, KERR_VERSION, NULL);
	p[3] = 1;
	assert_int_equal(buf_put_u8(&b, 0), 0);
	p = b.p;
	decode_fails(p, b.len, KERR_FORMAT, "1 trailing bytes");
	b.len--;
	decode_fails(p, TG_ENCODED_MAX + 1, KERR_TOOBIG, NULL);
	decode_fails(p, 0, KERR_FORMAT, NULL);
	decode_fails(p, 2, KERR_FORMAT, NULL);
	decode_fails(p, 3, KERR_TRUNCATED, "version");
	decode_fails(p, 4, KERR_TRUNCATED, NULL);

	/* counts are held to the cap and to the bytes left */
	assert_int_equal(p[to_off], 0);
	assert_int_equal(p[to_off + 1], 1);
	p[to_off] = 0xff;
	decode_fails(p, b.len, KERR_TOOBIG, "TO: 65281 items");
	p[to_off] = 0;
	p[to_off + 1] = 200;	/* under the cap, more than is left */
	decode_fails(p, b.len, KERR_TRUNCATED, "TO: 200 items");
	p[to_off + 1] = 1;

	/* paragraph count and length: the last 7 bytes */
	p[b.len - 7] = 0x03;	/* 769 paragraphs, few bytes */
	decode_fails(p, b.len, KERR_TRUNCATED, "body: 769 paragraphs");
	p[b.len - 7] = 0xff;	/* over the cap */
	decode_fails(p, b.len, KERR_TOOBIG, "body: 65281 paragraphs");
	p[b.len - 7] = 0;
	p[b.len - 5] = 0xff;	/* length 0xff000001 */
	decode_fails(p, b.len, KERR_TOOBIG, "paragraph 1");
	p[b.len - 5] = 0;
	p[b.len - 2] = 2;	/* length 2, one byte there */
	decode_fails(p, b.len, KERR_TRUNCATED, "body: truncated");
	p[b.len - 2] = 1;
	p[b.len - 1] = 0;	/* NUL in the text */
	decode_fails(p, b.len, KERR_FORMAT, "body");
	p[b.len - 1] = 0x80;	/* broken UTF-8 */
	decode_fails(p, b.len, KERR_FORMAT, "body");
	p[b.len - 1] = '\n';	/* valid bytes, not a valid paragraph */
	decode_fails(p, b.len, KERR_INVALID, "body: paragraph 1");
	p[b.len - 1] = 'P';

	/* a value the draft parser would have normalised is not canonical */
	p[4 + 16 + 16 + 1] = 'a';	/* origin "a" */
	decode_fails(p, b.len, KERR_INVALID, "FROM: post name 'a'");
	p[4 + 16 + 16 + 1] = 'A';
	p[4 + 16 + 16 + 2] = 0;		/* action precedence 0 */
	decode_fails(p, b.len, KERR_INVALID, "PRECEDENCE");
	p[4 + 16 + 16 + 2] = 5;
	decode_fails(p, b.len, KERR_INVALID, "PRECEDENCE");
	p[4 + 16 + 16 + 2] = 1;
	p[4 + 16 + 16 + 3] = 2;		/* info above action */
	decode_fails(p, b.len, KERR_INVALID, "info precedence PRIORITY");
	p[4 + 16 + 16 + 3] = 1;
	p[to_off + 3] = 'A';		/* TO A: allowed, FROM may be TO */
	{
		struct tg *u = NULL;

		assert_int_equal(tg_decode(&u, p, b.len, NULL), 0);
		tg_free(u);
	}
	p[to_off + 3] = 'B';
	{
		struct tg *u = NULL;

		assert_int_equal(tg_decode(&u, p, b.len, NULL), 0);
		assert_true(tg_eq(t, u));
		tg_free(u);
	}
	tg_free(t);
	buf_free(&b);
}

/* A serial over the cap in the binary form, and the other struct rules. */
static void
test_validate_struct(void **state)
{
	static const char *const two[] = { "X", "X" };
	static const char *const bad_para[] = { "a\n\nb" };
	struct tg *t = tiny();
	struct kerr e = { "" };
	struct buf b;
	char *keep;

	(void)state;
	assert_int_equal(tg_validate(t, NULL, &e), 0);
	buf_init(&b, TG_ENCODED_MAX);

	t->serial = TG_SERIAL_MAX + 1;
	assert_int_equal(tg_validate(t, NULL, &e), KERR_TOOBIG);
	assert_non_null(strstr(e.msg, "SERIAL"));
	assert_int_equal(tg_encode(t, &b), KERR_TOOBIG);
	assert_int_equal(b.len, 0);
	t->serial = TG_SERIAL_MAX;
	assert_int_equal(tg_validate(t, NULL, &e), 0);

	t->prec_action = 0;
	assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "PRECEDENCE: action precedence 0"));
	t->prec_action = 5;
	assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
	t->prec_action = TG_FLASH;
	t->prec_info = 0;
	assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "PRECEDENCE: info precedence 0"));
	t->prec_info = TG_FLASH;
	assert_int_equal(tg_validate(t, NULL, &e), 0);
	t->prec_action = TG_IMMEDIATE;
	assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "higher than action"));
	t->prec_info = TG_ROUTINE;

	keep = t->origin;
	t->origin = NULL;
	assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
	assert_string_equal(e.msg, "FROM: missing");
	t->origin = keep;

	/* an empty releaser is not "none": NULL is */
	t->releaser = strdup("");
	assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "RELEASED"));
	assert_int_equal(tg_encode(t, &b), KERR_INVALID);
	assert_int_equal(b.len, 0);
	free(t->releaser);
	t->releaser = NULL;

	set_list(&t->info, 2, two);
	assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
	assert_string_equal(e.msg, "INFO: 'X' appears twice");
	t->info.v[1][0] = 'B';
	assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
	assert_string_equal(e.msg, "INFO: B is both TO and INFO");
	t->info.v[1][0] = 'Y';
	assert_int_equal(tg_validate(t, NULL, &e), 0);

	{
		struct tg_list keep_paras = t->paras;

		set_list(&t->paras, 1, bad_para);
		assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
		assert_string_equal(e.msg,
		    "body: paragraph 1: paragraph contains an empty line");
		t->paras.v[0][1] = ' ';	/* "a \nb" */
		assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
		assert_non_null(strstr(e.msg, "ends in a space"));
		t->paras.v[0][0] = ' ';
		assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
		assert_non_null(strstr(e.msg, "begins with a space"));
		free(t->paras.v[0]);
		free(t->paras.v);
		t->paras = keep_paras;
	}

	/* captions and persons in the struct */
	{
		static const char *const nodis[] = { "NODIS" };
		static const char *const lower[] = { "nodis" };

		set_list(&t->captions, 1, nodis);
		assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
		assert_non_null(strstr(e.msg, "NODIS requires PERSONS"));
		free(t->captions.v[0]);
		free(t->captions.v);
		set_list(&t->captions, 1, lower);
		assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
		assert_non_null(strstr(e.msg, "unknown caption 'nodis'"));
		free(t->captions.v[0]);
		free(t->captions.v);
		t->captions.v = NULL;
		t->captions.n = 0;
	}

	/* control characters in a received value are escaped in messages */
	free(t->drafter);
	t->drafter = strdup("K. \xc2\x9b" "2J\x1b[0m");
	assert_int_equal(tg_validate(t, NULL, &e), KERR_INVALID);
	assert_non_null(strstr(e.msg, "DRAFTER: person name 'K. \\xc2\\x9b2J"
	    "\\x1b[0m' contains a control character"));
	for (const char *m = e.msg; *m; m++)
		assert_true((unsigned char)*m >= 0x20 &&
		    (unsigned char)*m != 0x7f);
	tg_free(t);
	buf_free(&b);
}

/* ---- random valid telegrams ------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64*: reproducible, good enough for test data */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32) % n;
}

static char *
rnd_post(void)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -.";
	size_t n = 1 + rnd(TG_POST_MAX);
	char *s = malloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		char c = set[rnd(sizeof(set) - 1)];

		if (i == 0 || i + 1 == n || s[i - 1] == ' ')
			c = set[rnd(36)];	/* alnum */
		s[i] = c;
	}
	s[n] = '\0';
	return s;
}

/* Text of at most max bytes from a mix of ASCII and multi-byte pieces. */
static char *
rnd_text(size_t max, int commas, int lines)
{
	static const char *const piece[] = {
		"a", "Z", "0", " ", ".", "-", "'", "(", ")", "é", "Ü", "日",
		"本", "—", "’", "\xf0\x9f\x98\x80", ":", "/", "#",
	};
	size_t want = 4 + rnd((uint32_t)max - 3), o = 0;
	char *s = malloc(max + 1);

	while (o < want) {
		const char *p = piece[rnd(sizeof(piece) / sizeof(*piece))];
		size_t k = strlen(p);

		if (commas && rnd(20) == 0)
			p = ",", k = 1;
		if (lines && rnd(30) == 0)
			p = rnd(2) ? "\n" : "\t", k = 1;
		if (o + k > want)
			break;	/* o > 0: the first piece always fits */
		memcpy(s + o, p, k);
		o += k;
	}
	s[o] = '\0';
	/* make it canonical: no blank at either end or around a line break,
	 * no empty line */
	for (size_t i = 0; i < o; i++) {
		int edge = i == 0 || i + 1 == o || s[i + 1] == '\n' ||
		    (i > 0 && s[i - 1] == '\n');

		if ((s[i] == ' ' || s[i] == '\t' || s[i] == '\n') && edge)
			s[i] = 'x';
	}
	return s;
}

static int
in_list(const struct tg_list *l, const char *s, int nocase)
{
	for (size_t i = 0; i < l->n; i++)
		if (nocase ? strcasecmp(l->v[i], s) == 0 :
		    strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static void
push(struct tg_list *l, char *s)
{
	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	assert_non_null(l->v);
	l->v[l->n++] = s;
}

/* Up to max unique items from gen(); duplicates are skipped. */
static void
rnd_list(struct tg_list *l, size_t max, char *(*gen)(void), int nocase,
    const struct tg_list *avoid)
{
	size_t n = rnd((uint32_t)max + 1);

	for (size_t i = 0; i < n; i++) {
		char *s = gen();

		if (in_list(l, s, nocase) || (avoid && in_list(avoid, s, 0)))
			free(s);
		else
			push(l, s);
	}
}

static char *
rnd_person(void)
{
	char *s = rnd_text(TG_PERSON_MAX, 0, 0);

	return s;
}

static char *
rnd_ref(void)
{
	return rnd_text(TG_REF_MAX, 0, 0);
}

static char *
rnd_tag(void)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = 2 + rnd(TG_TAG_MAX - 1);
	char *s = malloc(n + 1);

	for (size_t i = 0; i < n; i++)
		s[i] = set[rnd(sizeof(set) - 1)];
	s[n] = '\0';
	return s;
}

static struct tg *
rnd_tg(void)
{
	static const char *const caps[] = { "NODIS", "EXDIS", "LIMDIS" };
	struct tg *t = calloc(1, sizeof(*t));
	struct tg_policy pol;

	tg_policy_default(&pol);
	for (int i = 0; i < TG_ID_LEN; i++)
		t->id[i] = (uint8_t)rnd(256);
	t->dtg = (uint64_t)rnd(UINT32_MAX) << 32 | rnd(UINT32_MAX);
	if (rnd(2))
		t->dtg %= 4102444800u;	/* before 2100 */
	t->serial = rnd(3) ? rnd(TG_SERIAL_MAX + 1) : 0;
	t->origin = rnd_post();
	t->prec_action = (uint8_t)(1 + rnd(4));
	t->prec_info = (uint8_t)(1 + rnd(t->prec_action));
	t->classification = strdup(pol.level[rnd((uint32_t)pol.n)]);
	rnd_list(&t->to, rnd(10) ? 4 : 200, rnd_post, 0, NULL);
	if (t->to.n == 0)
		push(&t->to, strdup("HQ"));
	rnd_list(&t->info, rnd(10) ? 4 : TG_ADDRESSEES_MAX - t->to.n,
	    rnd_post, 0, &t->to);
	for (size_t i = 0, n = rnd(4); i < n; i++) {
		const char *c = caps[rnd(3)];

		if (!in_list(&t->captions, c, 0))
			push(&t->captions, strdup(c));
	}
	if (t->captions.n > 0) {
		rnd_list(&t->persons, rnd(10) ? 3 : TG_PERSONS_MAX, rnd_person,
		    1, NULL);
		if (t->persons.n == 0 && in_list(&t->captions, "NODIS", 0))
			push(&t->persons, strdup("A. SMITH"));
	}
	rnd_list(&t->tags, TG_TAGS_MAX, rnd_tag, 0, NULL);
	t->subject = rnd_text(TG_SUBJECT_MAX, 1, 0);
	rnd_list(&t->refs, TG_REFS_MAX, rnd_ref, 1, NULL);
	t->drafter = rnd_person();
	rnd_list(&t->cleared, TG_CLEARED_MAX, rnd_person, 1, NULL);
	t->releaser = rnd(2) ? rnd_person() : NULL;
	for (size_t i = 0, n = 1 + rnd(rnd(20) ? 5 : 60); i < n; i++)
		push(&t->paras, rnd_text(rnd(5) ? 300 : 20000, 1, 1));
	return t;
}

static void
join(struct buf *b, const char *field, const struct tg_list *l)
{
	if (l->n == 0)
		return;
	addf(b, "%s: ", field);
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0)
			add(b, rnd(4) ? ", " : ",\n   ");
		add(b, l->v[i]);
	}
	add(b, "\n");
}

/* The drafting text of t (a naive writer, to check the parser against). */
static void
to_draft(struct buf *b, const struct tg *t)
{
	addf(b, "FROM: %s\n", t->origin);
	join(b, "TO", &t->to);
	join(b, "INFO", &t->info);
	addf(b, "PRECEDENCE: %s/%s\n", tg_prec_name(t->prec_action),
	    tg_prec_name(t->prec_info));
	addf(b, "CLASSIFICATION: %s\n", t->classification);
	join(b, "CAPTION", &t->captions);
	join(b, "PERSONS", &t->persons);
	join(b, "TAGS", &t->tags);
	add(b, "SUBJECT: ");
	add(b, t->subject);
	add(b, "\n");
	join(b, "REF", &t->refs);
	add(b, "DRAFTER: ");
	add(b, t->drafter);
	add(b, "\n");
	join(b, "CLEARED", &t->cleared);
	if (t->releaser != NULL) {
		add(b, "RELEASED: ");
		add(b, t->releaser);
		add(b, "\n");
	}
	if (t->serial != 0)
		addf(b, "SERIAL: %llu\n", (unsigned long long)t->serial);
	for (size_t i = 0; i < t->paras.n; i++) {
		addf(b, "\n%zu. ", i + 1);
		add(b, t->paras.v[i]);
		add(b, "\n");
	}
}

static void
test_random_telegrams(void **state)
{
	struct buf d, r;

	(void)state;
	buf_init(&d, TG_DRAFT_MAX);
	buf_init(&r, TG_ENCODED_MAX * 2);
	for (int i = 0; i < 400; i++) {
		struct tg *t = rnd_tg(), *u;
		struct kerr e = { "" };
		int rc;

		rc = tg_validate(t, NULL, &e);
		if (rc != 0)
			print_error("generated telegram %d invalid: %s\n", i,
			    e.msg);
		assert_int_equal(rc, 0);
		roundtrip(t);
		r.len = 0;
		assert_int_equal(tg_render(t, &r), 0);

		/* parse(draft text of t) == t, apart from id and dtg */
		d.len = 0;
		to_draft(&d, t);
		u = parse_ok((const char *)d.p, d.len);
		memcpy(u->id, t->id, TG_ID_LEN);
		u->dtg = t->dtg;
		if (!tg_eq(t, u))
			print_error("draft %d did not parse back:\n%.*s\n", i,
			    (int)d.len, d.p);
		assert_true(tg_eq(t, u));
		tg_free(u);
		tg_free(t);
	}
	buf_free(&d);
	buf_free(&r);
}

/* ---- rendered form ----------------------------------------------------- */

static const char example_rendered[] =
    "IMMEDIATE/ROUTINE  291702Z NOV 26\n"
    "FM TOKYO\n"
    "TO WASHINGTON\n"
    "INFO BEIJING, GENEVA\n"
    "S E C R E T  TOKYO 000124\n"
    "NODIS\n"
    "DISTRIBUTION: A. SMITH, B. JONES\n"
    "TAGS: PREL, JA, US\n"
    "SUBJECT: CONSULTATIONS ON REGIONAL SECURITY\n"
    "REF: TOKYO 000123, STATE 004567\n"
    "\n"
    "1. Summary. ...\n"
    "continued text of paragraph 1\n"
    "\n"
    "2. ...\n"
    "\n"
    "DRAFTED: K. SATO  CLEARED: M. TANAKA  RELEASED: H. ITO\n"
    "S E C R E T  TOKYO 000124\n";

static char *
render_str(const struct tg *t)
{
	struct buf b;
	char *s;

	buf_init(&b, 1 << 22);
	assert_int_equal(tg_render(t, &b), 0);
	s = strndup((const char *)b.p, b.len);
	buf_free(&b);
	return s;
}

static void
test_render_example(void **state)
{
	struct tg *t;
	char *s;

	(void)state;
	t = parse_ok(example, strlen(example));
	t->dtg = EXAMPLE_DTG;
	s = render_str(t);
	assert_string_equal(s, example_rendered);
	free(s);
	tg_free(t);
}

static void
test_render_variants(void **state)
{
	const char *text = L_FROM "TO: WASHINGTON, LONDON\nPRECEDENCE: FLASH\n"
	    "CLASSIFICATION: top secret\nCAPTION: EXDIS, LIMDIS\n"
	    "SUBJECT: Ünïcode and ascii\n" L_DRAFTER
	    "\n1. One.\n\n2. Two\n\tlines.\n";
	struct tg *t;
	struct buf b;
	char *s;

	(void)state;
	t = parse_ok(text, strlen(text));
	s = render_str(t);
	assert_string_equal(s,
	    "FLASH  (NO DTG)\n"
	    "FM TOKYO\n"
	    "TO WASHINGTON, LONDON\n"
	    "T O P  S E C R E T  TOKYO (UNNUMBERED)\n"
	    "EXDIS, LIMDIS\n"
	    "SUBJECT: ÜNïCODE AND ASCII\n"
	    "\n"
	    "1. One.\n"
	    "\n"
	    "2. Two\n"
	    "\tlines.\n"
	    "\n"
	    "DRAFTED: K. SATO\n"
	    "T O P  S E C R E T  TOKYO (UNNUMBERED)\n");
	free(s);

	/* an invalid telegram is refused and nothing is appended */
	t->prec_info = 9;
	buf_init(&b, 1 << 16);
	add(&b, "keep");
	assert_int_equal(tg_render(t, &b), KERR_INVALID);
	assert_int_equal(b.len, 4);
	/* a full buffer: the error, and the buffer as it was */
	t->prec_info = TG_FLASH;
	b.max = 100;
	assert_int_equal(tg_render(t, &b), KERR_TOOBIG);
	assert_int_equal(b.len, 4);
	buf_free(&b);
	tg_free(t);
}

static void
test_render_wraps(void **state)
{
	struct buf b;
	struct tg *t;
	char *s, *line, *save;
	int to_lines = 0, cleared_seen = 0;

	(void)state;
	buf_init(&b, 1 << 16);
	add(&b, L_FROM "TO: POST0");
	for (int i = 1; i < 40; i++)
		addf(&b, ", POST%d", i);
	add(&b, "\n" L_PREC L_CLASS L_SUBJ L_DRAFTER "CLEARED: ");
	for (int i = 0; i < TG_CLEARED_MAX; i++)
		addf(&b, "%sClearing Officer %d", i ? ", " : "", i);
	add(&b, "\nRELEASED: H. ITO\n" BODY);
	t = parse_ok((const char *)b.p, b.len);
	s = render_str(t);
	for (line = strtok_r(s, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		assert_true(strlen(line) <= 69);
		if (strncmp(line, "TO ", 3) == 0 ||
		    (to_lines > 0 && strncmp(line, "   POST", 7) == 0))
			to_lines++;
		if (strncmp(line, "CLEARED: ", 9) == 0)
			cleared_seen = 1;
	}
	assert_true(to_lines >= 5);
	assert_true(cleared_seen);
	free(s);
	s = render_str(t);
	assert_non_null(strstr(s, "\nTO POST0, POST1,"));
	assert_non_null(strstr(s, "POST8,\n   POST9, POST10,"));
	assert_non_null(strstr(s, "POST32,\n   POST33,"));
	assert_non_null(strstr(s, "POST39\nS E C R E T"));
	/* CLEARED does not fit after DRAFTED: its own line, hanging indent */
	assert_non_null(strstr(s, "\nDRAFTED: K. SATO\nCLEARED: Clearing "
	    "Officer 0, Clearing Officer 1, Clearing Officer 2,\n"
	    "         Clearing Officer 3,"));
	assert_non_null(strstr(s, "Clearing Officer 15  RELEASED: H. ITO\n"));
	free(s);
	tg_free(t);
	buf_free(&b);
}

/* ---- formatters -------------------------------------------------------- */

static void
test_format_dtg(void **state)
{
	static const char *const mon[] = { "JAN", "FEB", "MAR", "APR", "MAY",
	    "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC" };
	char out[32], want[32];

	(void)state;
	tg_format_dtg(out, EXAMPLE_DTG);
	assert_string_equal(out, "291702Z NOV 26");
	tg_format_dtg(out, 0);
	assert_string_equal(out, "010000Z JAN 70");
	tg_format_dtg(out, 951782400);	/* 2000-02-29 00:00 */
	assert_string_equal(out, "290000Z FEB 00");
	tg_format_dtg(out, 1709210040);	/* 2024-02-29 12:34 */
	assert_string_equal(out, "291234Z FEB 24");
	tg_format_dtg(out, 4107542399u);	/* 2100-02-28 23:59:59 */
	assert_string_equal(out, "282359Z FEB 00");
	tg_format_dtg(out, 4107542400u);	/* 2100 is not a leap year */
	assert_string_equal(out, "010000Z MAR 00");
	tg_format_dtg(out, UINT64_MAX);	/* defined for any input */
	assert_int_equal(strlen(out), 14);

	/* gmtime_r as the reference */
	for (int i = 0; i < 20000; i++) {
		uint64_t t = ((uint64_t)rnd(1u << 8) << 32 | rnd(UINT32_MAX));
		time_t tt = (time_t)t;
		struct tm tm;

		assert_non_null(gmtime_r(&tt, &tm));
		snprintf(want, sizeof(want), "%02d%02d%02dZ %s %02d",
		    tm.tm_mday, tm.tm_hour, tm.tm_min, mon[tm.tm_mon],
		    (tm.tm_year + 1900) % 100);
		tg_format_dtg(out, t);
		assert_string_equal(out, want);
	}
}

/* The id starts with the sealing time in ms and sorts in sealing order. */
static void
test_new_id(void **state)
{
	uint8_t a[TG_ID_LEN], b[TG_ID_LEN];
	struct timespec t0, t1, pause = { 0, 2000000 };
	uint64_t ms = 0, lo, hi;
	int tails_differ = 0;

	(void)state;
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &t0), 0);
	tg_new_id(a);
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &t1), 0);
	for (int i = 0; i < 6; i++)
		ms = ms << 8 | a[i];
	lo = (uint64_t)t0.tv_sec * 1000 + (uint64_t)t0.tv_nsec / 1000000;
	hi = (uint64_t)t1.tv_sec * 1000 + (uint64_t)t1.tv_nsec / 1000000;
	assert_true(ms >= lo && ms <= hi);

	/* 2 ms later: a later time, so a greater id */
	nanosleep(&pause, NULL);
	tg_new_id(b);
	assert_true(memcmp(a, b, TG_ID_LEN) < 0);

	/* the 80 bits after the time are random: two in a row differ */
	for (int i = 0; i < 8 && !tails_differ; i++) {
		tg_new_id(a);
		tg_new_id(b);
		tails_differ = memcmp(a + 6, b + 6, TG_ID_LEN - 6) != 0;
	}
	assert_true(tails_differ);
}

static void
test_id_and_prec(void **state)
{
	uint8_t id[TG_ID_LEN];
	char hex[TG_ID_HEX];

	(void)state;
	for (int i = 0; i < TG_ID_LEN; i++)
		id[i] = (uint8_t)(i * 17 + 10);
	tg_id_hex(hex, id);
	assert_string_equal(hex, "0a1b2c3d4e5f708192a3b4c5d6e7f809");

	assert_string_equal(tg_prec_name(TG_FLASH), "FLASH");
	assert_string_equal(tg_prec_name(TG_IMMEDIATE), "IMMEDIATE");
	assert_string_equal(tg_prec_name(TG_PRIORITY), "PRIORITY");
	assert_string_equal(tg_prec_name(TG_ROUTINE), "ROUTINE");
	assert_string_equal(tg_prec_name(0), "?");
	assert_string_equal(tg_prec_name(5), "?");
	assert_string_equal(tg_prec_name(-1), "?");
	assert_int_equal(tg_prec_parse("flash"), TG_FLASH);
	assert_int_equal(tg_prec_parse("Immediate"), TG_IMMEDIATE);
	assert_int_equal(tg_prec_parse("PRIORITY"), TG_PRIORITY);
	assert_int_equal(tg_prec_parse("routine"), TG_ROUTINE);
	assert_int_equal(tg_prec_parse("URGENT"), 0);
	assert_int_equal(tg_prec_parse("FLASH "), 0);
	assert_int_equal(tg_prec_parse(""), 0);
	assert_int_equal(tg_prec_parse(NULL), 0);
	tg_free(NULL);
}

/*
 * Bidirectional overrides cannot hide in names, subjects or references (a
 * NODIS distribution list must display as what it is), but right-to-left
 * paragraphs may use them.
 */
static void
test_bidi_controls(void **state)
{
	static const char *const marks[] = {
		"\xe2\x80\xae", "\xe2\x80\xaa", "\xe2\x81\xa6",
		"\xe2\x81\xa9", "\xe2\x80\x8f", "\xd8\x9c",
	};
	char text[1024];
	struct tg *t;

	(void)state;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		snprintf(text, sizeof(text), L_FROM L_TO L_PREC L_CLASS
		    "CAPTION: NODIS\nPERSONS: A. %sHTIMS\n" L_SUBJ L_DRAFTER
		    BODY, marks[i]);
		parse_fails(text, strlen(text), KERR_INVALID, "line 6",
		    "PERSONS", "bidirectional");
		snprintf(text, sizeof(text), L_FROM L_TO L_PREC L_CLASS
		    "SUBJECT: a%sb\n" L_DRAFTER BODY, marks[i]);
		parse_fails(text, strlen(text), KERR_INVALID, "line 5",
		    "SUBJECT", "bidirectional");
		snprintf(text, sizeof(text), MIN "\n1. %s\xd7\xa9\xd7\x9c\xd7"
		    "\x95\xd7\x9d\n", marks[i]);
		t = parse_ok(text, strlen(text));
		tg_free(t);
	}
	/* a lookalike that is not a formatting character is fine */
	snprintf(text, sizeof(text), L_FROM L_TO L_PREC L_CLASS
	    "SUBJECT: caf\xc3\xa9 \xe2\x80\x94 talks\n" L_DRAFTER BODY);
	t = parse_ok(text, strlen(text));
	tg_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_fields),
		cmocka_unit_test(test_normalisation),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_continuation_error_line),
		cmocka_unit_test(test_misc_accepted),
		cmocka_unit_test(test_custom_policy),
		cmocka_unit_test(test_policy_errors),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_long_values_clipped),
		cmocka_unit_test(test_fuzz_tab_quoted_in_message),
		cmocka_unit_test(test_cap_body),
		cmocka_unit_test(test_cap_draft_size),
		cmocka_unit_test(test_cap_paragraphs),
		cmocka_unit_test(test_cap_addressees),
		cmocka_unit_test(test_cap_lists),
		cmocka_unit_test(test_cap_values),
		cmocka_unit_test(test_cap_utf8_subject),
		cmocka_unit_test(test_golden_bytes),
		cmocka_unit_test(test_example_roundtrip),
		cmocka_unit_test(test_decode_truncations),
		cmocka_unit_test(test_decode_corruptions),
		cmocka_unit_test(test_decode_hostile),
		cmocka_unit_test(test_validate_struct),
		cmocka_unit_test(test_random_telegrams),
		cmocka_unit_test(test_render_example),
		cmocka_unit_test(test_render_variants),
		cmocka_unit_test(test_render_wraps),
		cmocka_unit_test(test_format_dtg),
		cmocka_unit_test(test_id_and_prec),
		cmocka_unit_test(test_new_id),
		cmocka_unit_test(test_bidi_controls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
