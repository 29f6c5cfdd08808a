/*
 * Bounded buffers (after OpenSSH sshbuf, curl dynbuf).
 *
 * struct buf is a growable byte string with a hard cap fixed at init: a write
 * that would take it past `max` fails with KERR_TOOBIG, never reallocs
 * silently.  struct rd is a read cursor over (p, len) that never reads past
 * len and never trusts a length it read.  Integers are big-endian.
 */
#ifndef KODEN_BUF_H
#define KODEN_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max;
	int secret;	/* wipe on free and on every realloc */
};

/* An empty buffer that may grow to max bytes; allocates nothing yet. */
void buf_init(struct buf *b, size_t max);
/* As buf_init, and the contents are wiped before memory is released. */
void buf_init_secret(struct buf *b, size_t max);
/* Release memory (wiping if secret); b is left empty and reusable. */
void buf_free(struct buf *b);
/* Make room for n more bytes. */
int buf_reserve(struct buf *b, size_t n) KODEN_WUR;
int buf_put(struct buf *b, const void *p, size_t n) KODEN_WUR;
int buf_put_u8(struct buf *b, uint8_t v) KODEN_WUR;
int buf_put_u16(struct buf *b, uint16_t v) KODEN_WUR;
int buf_put_u32(struct buf *b, uint32_t v) KODEN_WUR;
int buf_put_u64(struct buf *b, uint64_t v) KODEN_WUR;
/* A string with a u8 / u16 / u32 length prefix; too long is KERR_TOOBIG. */
int buf_put_str8(struct buf *b, const char *s) KODEN_WUR;
int buf_put_str16(struct buf *b, const char *s) KODEN_WUR;
int buf_put_bytes32(struct buf *b, const void *p, size_t n) KODEN_WUR;
/* Append n zero bytes. */
int buf_put_zero(struct buf *b, size_t n) KODEN_WUR;

struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

void rd_init(struct rd *r, const void *p, size_t len);
static inline size_t rd_left(const struct rd *r) { return r->len - r->off; }
int rd_u8(struct rd *r, uint8_t *v) KODEN_WUR;
int rd_u16(struct rd *r, uint16_t *v) KODEN_WUR;
int rd_u32(struct rd *r, uint32_t *v) KODEN_WUR;
int rd_u64(struct rd *r, uint64_t *v) KODEN_WUR;
/* Copy n bytes out. */
int rd_copy(struct rd *r, void *out, size_t n) KODEN_WUR;
/* Point *out at the next n bytes (valid as long as the input is). */
int rd_take(struct rd *r, const uint8_t **out, size_t n) KODEN_WUR;
/*
 * A u8/u16-length-prefixed string, copied into a new NUL-terminated
 * allocation; caller frees *out.  Fails with KERR_FORMAT if the bytes contain
 * NUL or are not valid UTF-8.
 */
int rd_str8(struct rd *r, char **out) KODEN_WUR;
int rd_str16(struct rd *r, char **out) KODEN_WUR;
/* A u32-length-prefixed byte string of at most max bytes (not copied). */
int rd_bytes32(struct rd *r, const uint8_t **out, size_t *n, size_t max) KODEN_WUR;

/* Strict UTF-8: no overlongs, surrogates, or code points past U+10FFFF. */
int utf8_valid(const uint8_t *p, size_t len);

/* Read a whole file or stream into b (b's max is the cap).  KERR_IO/TOOBIG. */
int buf_read_fd(struct buf *b, int fd) KODEN_WUR;

#endif
