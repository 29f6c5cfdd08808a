/*
 * tg_render: the telegram as cable readers know it (docs/drafting.md,
 * "Rendered form").  Lists (TO, INFO, DISTRIBUTION, TAGS, REF, CLEARED) wrap
 * at RENDER_WIDTH columns after a comma, continuation lines indented under
 * the first item; paragraphs are shown as drafted.
 */
#include <stdio.h>
#include <string.h>

#include "telegram/tg.h"

/* ACP 127 line length; counted in bytes, which is columns for ASCII. */
#define RENDER_WIDTH 69

/* An output line being built; the first error sticks and stops output. */
struct out {
	struct buf *b;
	size_t col;
	int r;
};

static void
put(struct out *o, const char *s, size_t n)
{
	const char *nl;

	if (o->r != 0 || n == 0)
		return;
	if ((o->r = buf_put(o->b, s, n)) != 0)
		return;
	for (nl = s + n; nl > s && nl[-1] != '\n'; nl--)
		;
	o->col = nl > s ? (size_t)(s + n - nl) : o->col + n;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
spaces(struct out *o, size_t n)
{
	while (n-- > 0)
		put(o, " ", 1);
}

/*
 * "LABEL a, b, c" wrapped at RENDER_WIDTH: a line breaks after a comma, and
 * the next line is indented to where the first item began.  An item longer
 * than the room left simply overflows.
 */
static void
put_list(struct out *o, const char *label, const struct tg_list *l)
{
	size_t indent;

	puts_(o, label);
	indent = o->col;
	for (size_t i = 0; i < l->n; i++) {
		size_t n = strlen(l->v[i]) + (i + 1 < l->n);

		if (i > 0) {
			if (o->col + 1 + n > RENDER_WIDTH) {
				put(o, "\n", 1);
				spaces(o, indent);
			} else
				put(o, " ", 1);
		}
		puts_(o, l->v[i]);
		if (i + 1 < l->n)
			put(o, ",", 1);
	}
}

/* "S E C R E T", words apart by two spaces: "T O P  S E C R E T". */
static void
put_spaced(struct out *o, const char *s)
{
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == ' ')
			continue;
		if (i > 0)
			puts_(o, s[i - 1] == ' ' ? "  " : " ");
		put(o, s + i, 1);
	}
}

/* "S E C R E T  TOKYO 000124" or "... TOKYO (UNNUMBERED)". */
static void
put_class_line(struct out *o, const struct tg *t)
{
	char num[24];

	put_spaced(o, t->classification);
	puts_(o, "  ");
	puts_(o, t->origin);
	if (t->serial != 0)
		snprintf(num, sizeof(num), " %06llu",
		    (unsigned long long)t->serial);
	else
		snprintf(num, sizeof(num), " (UNNUMBERED)");
	puts_(o, num);
	put(o, "\n", 1);
}

/* Room for "  LABEL a, b" on this line, else a new line. */
static void
sign_sep(struct out *o, const char *label, const char *const *v, size_t n)
{
	size_t w = 2 + strlen(label);

	for (size_t i = 0; i < n; i++)
		w += strlen(v[i]) + (i > 0 ? 2 : 0);
	if (o->col + w > RENDER_WIDTH)
		put(o, "\n", 1);
	else
		puts_(o, "  ");
}

int
tg_render(const struct tg *t, struct buf *b)
{
	struct out o = { .b = b };
	size_t start = b->len;
	char dtg[32];
	int r;

	if ((r = tg_validate(t, NULL, NULL)) != 0)
		return r;

	puts_(&o, tg_prec_name(t->prec_action));
	if (t->prec_info != t->prec_action) {
		puts_(&o, "/");
		puts_(&o, tg_prec_name(t->prec_info));
	}
	puts_(&o, "  ");
	if (t->dtg != 0) {
		tg_format_dtg(dtg, t->dtg);
		puts_(&o, dtg);
	} else
		puts_(&o, "(NO DTG)");
	puts_(&o, "\nFM ");
	puts_(&o, t->origin);
	put(&o, "\n", 1);
	put_list(&o, "TO ", &t->to);
	put(&o, "\n", 1);
	if (t->info.n > 0) {
		put_list(&o, "INFO ", &t->info);
		put(&o, "\n", 1);
	}
	put_class_line(&o, t);
	if (t->captions.n > 0) {
		put_list(&o, "", &t->captions);
		put(&o, "\n", 1);
	}
	if (t->persons.n > 0) {
		put_list(&o, "DISTRIBUTION: ", &t->persons);
		put(&o, "\n", 1);
	}
	if (t->tags.n > 0) {
		put_list(&o, "TAGS: ", &t->tags);
		put(&o, "\n", 1);
	}
	/* Cable tradition: the subject line in capitals (ASCII letters). */
	puts_(&o, "SUBJECT: ");
	for (const char *s = t->subject; *s != '\0'; s++) {
		char c = *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;

		put(&o, &c, 1);
	}
	put(&o, "\n", 1);
	if (t->refs.n > 0) {
		put_list(&o, "REF: ", &t->refs);
		put(&o, "\n", 1);
	}
	for (size_t i = 0; i < t->paras.n; i++) {
		char num[32];

		snprintf(num, sizeof(num), "\n%zu. ", i + 1);
		puts_(&o, num);
		puts_(&o, t->paras.v[i]);
		put(&o, "\n", 1);
	}
	puts_(&o, "\nDRAFTED: ");
	puts_(&o, t->drafter);
	if (t->cleared.n > 0) {
		sign_sep(&o, "CLEARED: ", (const char *const *)t->cleared.v,
		    t->cleared.n);
		put_list(&o, "CLEARED: ", &t->cleared);
	}
	if (t->releaser != NULL) {
		sign_sep(&o, "RELEASED: ", (const char *const *)&t->releaser,
		    1);
		puts_(&o, "RELEASED: ");
		puts_(&o, t->releaser);
	}
	put(&o, "\n", 1);
	put_class_line(&o, t);

	if (o.r != 0)
		b->len = start;
	return o.r;
}
