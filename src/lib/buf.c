#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/buf.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_init_secret(struct buf *b, size_t max)
{
	buf_init(b, max);
	b->secret = 1;
}

void
buf_free(struct buf *b)
{
	if (b->p != NULL && b->secret)
		sodium_memzero(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t want, ncap;
	uint8_t *np;

	if (b->max - b->len < n || b->len > b->max)
		return KERR_TOOBIG;
	want = b->len + n;
	if (want <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < want)
		ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	if (b->secret) {
		/* realloc could leave a copy of the secret behind */
		if ((np = malloc(ncap)) == NULL)
			return KERR_NOMEM;
		if (b->len)
			memcpy(np, b->p, b->len);
		if (b->p != NULL)
			sodium_memzero(b->p, b->cap);
		free(b->p);
	} else if ((np = realloc(b->p, ncap)) == NULL)
		return KERR_NOMEM;
	b->p = np;
	b->cap = ncap;
	return 0;
}

int
buf_put(struct buf *b, const void *p, size_t n)
{
	int r;

	if ((r = buf_reserve(b, n)) != 0)
		return r;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_put_zero(struct buf *b, size_t n)
{
	int r;

	if ((r = buf_reserve(b, n)) != 0)
		return r;
	memset(b->p + b->len, 0, n);
	b->len += n;
	return 0;
}

int
buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_put(b, &v, 1);
}

int
buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = { v >> 8, v };

	return buf_put(b, x, sizeof(x));
}

int
buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	return buf_put(b, x, sizeof(x));
}

int
buf_put_u64(struct buf *b, uint64_t v)
{
	int r;

	if ((r = buf_put_u32(b, (uint32_t)(v >> 32))) != 0)
		return r;
	return buf_put_u32(b, (uint32_t)v);
}

int
buf_put_str8(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	int r;

	if (n > UINT8_MAX)
		return KERR_TOOBIG;
	if ((r = buf_put_u8(b, (uint8_t)n)) != 0)
		return r;
	return buf_put(b, s, n);
}

int
buf_put_str16(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	int r;

	if (n > UINT16_MAX)
		return KERR_TOOBIG;
	if ((r = buf_put_u16(b, (uint16_t)n)) != 0)
		return r;
	return buf_put(b, s, n);
}

int
buf_put_bytes32(struct buf *b, const void *p, size_t n)
{
	int r;

	if (n > UINT32_MAX)
		return KERR_TOOBIG;
	if ((r = buf_put_u32(b, (uint32_t)n)) != 0)
		return r;
	return buf_put(b, p, n);
}

void
rd_init(struct rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

int
rd_take(struct rd *r, const uint8_t **out, size_t n)
{
	*out = NULL;
	if (r->len - r->off < n)
		return KERR_TRUNCATED;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

int
rd_copy(struct rd *r, void *out, size_t n)
{
	const uint8_t *p;
	int e;

	if ((e = rd_take(r, &p, n)) != 0)
		return e;
	if (n)
		memcpy(out, p, n);
	return 0;
}

int
rd_u8(struct rd *r, uint8_t *v)
{
	*v = 0;
	return rd_copy(r, v, 1);
}

int
rd_u16(struct rd *r, uint16_t *v)
{
	const uint8_t *p;
	int e;

	*v = 0;
	if ((e = rd_take(r, &p, 2)) != 0)
		return e;
	*v = (uint16_t)(p[0] << 8 | p[1]);
	return 0;
}

int
rd_u32(struct rd *r, uint32_t *v)
{
	const uint8_t *p;
	int e;

	*v = 0;
	if ((e = rd_take(r, &p, 4)) != 0)
		return e;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	return 0;
}

int
rd_u64(struct rd *r, uint64_t *v)
{
	uint32_t hi, lo;
	int e;

	*v = 0;
	if ((e = rd_u32(r, &hi)) != 0 || (e = rd_u32(r, &lo)) != 0)
		return e;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

static int
rd_strn(struct rd *r, size_t n, char **out)
{
	const uint8_t *p;
	char *s;
	int e;

	if ((e = rd_take(r, &p, n)) != 0)
		return e;
	if (memchr(p, '\0', n) != NULL || !utf8_valid(p, n))
		return KERR_FORMAT;
	if ((s = malloc(n + 1)) == NULL)
		return KERR_NOMEM;
	memcpy(s, p, n);
	s[n] = '\0';
	*out = s;
	return 0;
}

int
rd_str8(struct rd *r, char **out)
{
	uint8_t n;
	int e;

	*out = NULL;
	if ((e = rd_u8(r, &n)) != 0)
		return e;
	return rd_strn(r, n, out);
}

int
rd_str16(struct rd *r, char **out)
{
	uint16_t n;
	int e;

	*out = NULL;
	if ((e = rd_u16(r, &n)) != 0)
		return e;
	return rd_strn(r, n, out);
}

int
rd_bytes32(struct rd *r, const uint8_t **out, size_t *n, size_t max)
{
	uint32_t len;
	int e;

	*out = NULL;
	*n = 0;
	if ((e = rd_u32(r, &len)) != 0)
		return e;
	if (len > max)
		return KERR_TOOBIG;
	if ((e = rd_take(r, out, len)) != 0)
		return e;
	*n = len;
	return 0;
}

int
utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		uint32_t cp;
		size_t need;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			need = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			cp = c & 0x07;
		} else
			return 0;
		if (len - i - 1 < need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

int
buf_read_fd(struct buf *b, int fd)
{
	int r;

	for (;;) {
		ssize_t n;
		size_t room;

		if ((r = buf_reserve(b, 1)) != 0)
			return r;
		room = b->cap - b->len;
		n = read(fd, b->p + b->len, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return KERR_IO;
		}
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}
