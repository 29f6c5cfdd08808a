/* A fixed identity for fuzz targets: derived from a constant seed, so that
 * seeds sealed to it (scripts/fuzz-seeds.sh) stay valid across runs. */
#ifndef KODEN_FUZZ_KEY_H
#define KODEN_FUZZ_KEY_H

#include <string.h>

#include <sodium.h>

#include "crypto/keys.h"

static inline int
fuzz_identity(struct identity **out)
{
	static const char txt[] =
	    "-----BEGIN KODEN SECRET KEY-----\n"
	    "S0ROSwEAAAAAAAAAAAAAAAAAAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"
	    "AQECAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgRGVVpa\n"
	    "-----END KODEN SECRET KEY-----\n";

	return keyfile_decode(out, (const uint8_t *)txt, strlen(txt), NULL, 0,
	    NULL);
}

#endif
