/*
 * libFuzzer target: the enrolment token parser.  Each input is tried as a
 * token string, and as a token payload wrapped into a string with a correct
 * checksum (so that the fuzzer gets past the 32-bit checksum and reaches
 * the field rules).  Whatever decodes must re-encode to exactly the string
 * decoded, less surrounding blanks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* s decoded into t: the encoding of t is s without surrounding blanks. */
static void
check(const struct join_token *t, const char *s)
{
	size_t n;
	char *out;

	while (blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && blank(s[n - 1]))
		n--;
	if (token_encode(&out, t) != 0 || strlen(out) != n ||
	    memcmp(out, s, n) != 0)
		abort();
	sodium_memzero(out, n);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	static const char label[] = TOKEN_CHECKSUM_LABEL;
	char s[TOKEN_STR_MAX + 64];
	uint8_t raw[TOKEN_RAW_MAX], h[32];
	crypto_generichash_state st;
	struct join_token t;
	size_t pre = strlen(TOKEN_PREFIX);

	if (sodium_init() < 0)
		abort();
	if (len >= sizeof(s))
		return 0;
	memcpy(s, p, len);
	s[len] = '\0';
	if (token_decode(&t, s, NULL) == 0)
		check(&t, s);

	/* the input as a payload, with its checksum */
	if (len > sizeof(raw) - TOKEN_CHECKSUM)
		return 0;
	memcpy(raw, p, len);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_generichash_update(&st, raw, len);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(raw + len, h, TOKEN_CHECKSUM);
	memcpy(s, TOKEN_PREFIX, pre);
	sodium_bin2base64(s + pre, sizeof(s) - pre, raw, len + TOKEN_CHECKSUM,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (token_decode(&t, s, NULL) == 0)
		check(&t, s);
	sodium_memzero(&t, sizeof(t));
	return 0;
}
