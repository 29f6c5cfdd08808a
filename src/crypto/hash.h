/* Domain-separated hashing for checksums, hints and names of objects. */
#ifndef KODEN_HASH_H
#define KODEN_HASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * The first out_len (1..32) bytes of BLAKE2b-256(label || p), label without
 * its NUL.  Every use has a label of its own ("koden pubkey checksum v1",
 * "koden key hint v1", ...), so no two uses can collide.  The hash state is
 * wiped: p may be secret (an enrolment secret).
 */
void hash_labelled(uint8_t *out, size_t out_len, const char *label,
    const uint8_t *p, size_t n);

#endif
