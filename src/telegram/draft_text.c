/*
 * Pass 1 of tg_parse_draft (draft.c): the text as a whole, its size, UTF-8
 * and control characters, so that the later passes and every message deal
 * only in clean text; and the cursor over its lines that passes 2 and 3
 * read it by.
 */
#include <stdint.h>
#include <string.h>

#include "telegram/draft_int.h"
#include "telegram/tg.h"

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

int
draft_check_text(const char *text, size_t len, struct kerr *e)
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
int
draft_next_line(struct lines *ls, const char **l, size_t *n)
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
