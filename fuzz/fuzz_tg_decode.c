/*
 * libFuzzer target: tg_decode on arbitrary bytes.
 *
 * The binary form is canonical, so whatever decodes must re-encode to
 * exactly the input bytes; it must also validate and render.  A rejected
 * input must leave *out NULL and give a non-empty message with no control
 * characters (messages quote hostile values).  Anything else abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telegram/tg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg *t = NULL;
	struct kerr e = { "" };
	struct buf b, r;

	if (tg_decode(&t, data, size, &e) != 0) {
		if (t != NULL || e.msg[0] == '\0')
			abort();
		for (const char *m = e.msg; *m != '\0'; m++)
			if ((unsigned char)*m < 0x20 || *m == 0x7f)
				abort();
		return 0;
	}
	buf_init(&b, TG_ENCODED_MAX);
	buf_init(&r, 4 * TG_ENCODED_MAX);
	if (tg_validate(t, NULL, NULL) != 0 || tg_encode(t, &b) != 0)
		abort();
	if (b.len != size || memcmp(b.p, data, size) != 0)
		abort();
	if (tg_render(t, &r) != 0 || r.len == 0)
		abort();
	tg_free(t);
	buf_free(&b);
	buf_free(&r);
	return 0;
}
