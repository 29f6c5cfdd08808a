/*
 * libFuzzer target: the public key string parser.  A string that decodes
 * must re-encode to the same canonical text (modulo surrounding blanks).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	char s[512], out[PUBKEY_STR_MAX];
	struct pubkey pk;

	if (len >= sizeof(s))
		return 0;
	memcpy(s, p, len);
	s[len] = '\0';
	if (pubkey_decode(&pk, s, NULL) != 0)
		return 0;
	pubkey_encode(out, &pk);
	if (strstr(s, out) == NULL)
		abort();
	return 0;
}
