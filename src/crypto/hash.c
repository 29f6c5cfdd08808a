#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "crypto/hash.h"

void
hash_labelled(uint8_t *out, size_t out_len, const char *label,
    const uint8_t *p, size_t n)
{
	crypto_generichash_state st;
	uint8_t h[32];

	assert(out_len >= 1 && out_len <= sizeof(h));
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, p, n);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(out, h, out_len);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(h, sizeof(h));
}
