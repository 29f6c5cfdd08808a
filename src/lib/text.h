/* Small text helpers shared by the parsers. */
#ifndef KODEN_TEXT_H
#define KODEN_TEXT_H

#include <stddef.h>

/* Locale-free ASCII case-insensitive comparison, as strcmp. */
int ascii_casecmp(const char *a, const char *b);

/*
 * Index of the first byte of s[0..n) outside the base64 alphabet (url-safe:
 * A-Z a-z 0-9 - _; standard: A-Z a-z 0-9 + / =), or n if there is none.
 * Check before sodium_base642bin: libsodium 1.0.18 takes some bytes >= 0x80
 * for alphabet characters, so a corrupted string could otherwise decode
 * (found by fuzz/fuzz_pubkey.c).
 */
size_t b64_bad_char(const char *s, size_t n, int urlsafe);

#endif
