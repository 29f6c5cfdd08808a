/*
 * libFuzzer target: the sealed-telegram decoder.  Inspects (keyless path)
 * and opens with a fixed recipient key, so the fuzzer can also reach the
 * unwrap and decrypt paths with envelopes sealed to that key (seeds in
 * fuzz/corpus/envelope are sealed to it by scripts/fuzz-seeds.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telegram/envelope.h"
#include "fuzz_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	static struct identity *id;
	static struct env_header h;
	struct pubkey d;
	struct tg *t = NULL;
	int r1, r2;

	if (id == NULL && fuzz_identity(&id) != 0)
		abort();
	r1 = env_inspect(&h, p, len, NULL);
	r2 = env_open(&t, &d, &h, p, len, id, NULL);
	/* open succeeds only on what inspect accepts */
	if (r2 == 0 && r1 != 0)
		abort();
	if ((r2 == 0) != (t != NULL))
		abort();
	tg_free(t);
	return 0;
}
