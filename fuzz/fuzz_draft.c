/*
 * libFuzzer target: tg_parse_draft on arbitrary bytes (default policy).
 *
 * A draft that parses must also validate, encode, decode to an equal
 * encoding (encode -> decode -> encode gives identical bytes) and render; a
 * draft that does not parse must leave *out NULL and explain itself with a
 * message that is non-empty and free of control characters.  Anything else
 * abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telegram/tg.h"

static void
check_message(const struct kerr *e)
{
	if (e->msg[0] == '\0')
		abort();
	for (const char *m = e->msg; *m != '\0'; m++)
		if ((unsigned char)*m < 0x20 || *m == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg *t = NULL, *u = NULL;
	struct kerr e = { "" };
	struct buf a, b, r;

	if (tg_parse_draft(&t, (const char *)data, size, NULL, &e) != 0) {
		if (t != NULL)
			abort();
		check_message(&e);
		return 0;
	}
	buf_init(&a, TG_ENCODED_MAX);
	buf_init(&b, TG_ENCODED_MAX);
	buf_init(&r, 4 * TG_ENCODED_MAX);
	if (tg_validate(t, NULL, NULL) != 0 || tg_encode(t, &a) != 0)
		abort();
	if (tg_decode(&u, a.p, a.len, &e) != 0 || tg_encode(u, &b) != 0)
		abort();
	if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
		abort();
	if (tg_render(t, &r) != 0 || r.len == 0)
		abort();
	tg_free(t);
	tg_free(u);
	buf_free(&a);
	buf_free(&b);
	buf_free(&r);
	return 0;
}
