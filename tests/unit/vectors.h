/* Test helpers: load the published vectors in tests/vectors (copied from
 * ../shared/vectors) and decode their hex strings. */
#ifndef KODEN_TEST_VECTORS_H
#define KODEN_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Load tests/vectors/NAME (or $KODEN_VECTORS/NAME); fails the test if missing. */
json_t *vec_load(const char *name);
/* Hex field `key` of obj into a new allocation; *len set.  Fails the test on bad hex. */
uint8_t *vec_hex(json_t *obj, const char *key, size_t *len);
/* Hex string s into a new allocation. */
uint8_t *vec_unhex(const char *s, size_t *len);

#endif
