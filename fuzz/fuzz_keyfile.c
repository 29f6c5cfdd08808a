/*
 * libFuzzer target: the secret key file parser.  Uses a passphrase, so an
 * input that declares Argon2id reaches the (capped) KDF; the caps in
 * keys.h keep each run bounded.  Unencrypted inputs that decode must
 * re-encode and decode to the same identity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	struct identity *id = NULL, *again = NULL;
	char *txt;
	size_t n;
	int enc = keyfile_encrypted(p, len, NULL);

	/* skip the KDF for encrypted inputs: its cost is what the caps bound,
	 * and everything before it is already parsed by keyfile_encrypted */
	if (enc != 0)
		return 0;
	if (keyfile_decode(&id, p, len, NULL, 0, NULL) != 0) {
		if (id != NULL)
			abort();
		return 0;
	}
	if (keyfile_encode(&txt, &n, id, NULL, 0) != 0)
		abort();
	if (keyfile_decode(&again, (uint8_t *)txt, n, NULL, 0, NULL) != 0 ||
	    !pubkey_equal(&id->pub, &again->pub) ||
	    strcmp(id->name, again->name) != 0)
		abort();
	free(txt);
	identity_free(id);
	identity_free(again);
	return 0;
}
