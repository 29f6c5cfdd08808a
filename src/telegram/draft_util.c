/*
 * The drafting parser's helpers that are not small enough to inline
 * (draft_int.h has the small ones): quoting a piece of draft text in a
 * message, copying a string, appending to a list.  Every file of the parser
 * may call them; they call no other file of it.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "telegram/draft_int.h"
#include "telegram/tg.h"

/*
 * p (n bytes of text that passed draft_check_text) made fit for a message: at
 * most CLIP bytes, cut on a character boundary and marked "...", and tabs
 * (the one control character a draft may hold) written as \x09.
 */
const char *
draft_quote(char out[static QUOTE_BUF], const char *p, size_t n)
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

char *
draft_dupn(const char *p, size_t n)
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

/* Append s to l; takes ownership of s, also on failure. */
int
draft_push(struct tg_list *l, char *s)
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
