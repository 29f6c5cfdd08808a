/*
 * WireGuard UAPI: one connection, served until the client closes it.  A
 * set request is read whole (up to UAPI_REQUEST_MAX) into a secret buffer,
 * parsed by uapi_parse_set, and only then handed to ops->set: a request
 * with any bad line changes nothing.  Reads and writes have deadlines
 * (UAPI_IDLE_TIMEOUT_MS, UAPI_REQUEST_TIMEOUT_MS).
 *
 * Secrets: the request text and the formatted get reply live in
 * buf_init_secret buffers, wiped when freed; the connection's input buffer
 * is wiped before it is freed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/log.h"
#include "vpn/uapi.h"

#define CONN_BUF 65536
/* The operation line, "get=1" or "set=1", read with this cap. */
#define OP_LINE_MAX 16

struct conn {
	int fd;
	size_t off, len;	/* unread bytes are in[off .. len) */
	uint8_t in[CONN_BUF];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Refill c->in: 1 bytes read, 0 EOF, -1 error or timeout. */
static int
conn_fill(struct conn *c, int64_t deadline)
{
	ssize_t n;

	if (c->off == c->len)
		c->off = c->len = 0;
	else if (c->off > 0) {
		memmove(c->in, c->in + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	for (;;) {
		int w = wait_fd(c->fd, POLLIN, deadline);

		if (w <= 0) {
			log_warn("uapi: %s while reading a request",
			    w == 0 ? "timeout" : "poll failed");
			return -1;
		}
		n = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			log_warn("uapi: read: %s", strerror(errno));
			return -1;
		}
	}
}

/*
 * The next line (without its newline) into *line and *llen, pointing into
 * c->in and valid until the next call.  1 a line, 0 EOF before any byte of
 * it, -1 EOF inside it or error/timeout, -2 longer than max.
 */
static int
conn_line(struct conn *c, const uint8_t **line, size_t *llen, size_t max,
    int64_t deadline)
{
	size_t scanned = 0;

	for (;;) {
		const uint8_t *nl = memchr(c->in + c->off + scanned, '\n',
		    c->len - c->off - scanned);
		int r;

		if (nl != NULL) {
			*line = c->in + c->off;
			*llen = (size_t)(nl - *line);
			c->off += *llen + 1;
			return *llen > max ? -2 : 1;
		}
		scanned = c->len - c->off;
		if (scanned > max)
			return -2;
		r = conn_fill(c, deadline);
		if (r <= 0)
			return r == 0 && scanned == 0 ? 0 : -1;
	}
}

static int
write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	int64_t deadline = now_ms() + UAPI_REQUEST_TIMEOUT_MS;

	while (len > 0) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		if (n > 0) {
			b += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(fd, POLLOUT, deadline) == 1)
			continue;
		log_warn("uapi: write: %s", n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

static int
write_errno(int fd, long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "errno=%ld\n\n", v);

	return write_all(fd, tmp, (size_t)n);
}

static int
errno_of_kerr(int r)
{
	switch (r) {
	case KERR_FORMAT:
	case KERR_TRUNCATED:
		return EPROTO;
	case KERR_TOOBIG:
		return E2BIG;
	case KERR_NOMEM:
		return ENOMEM;
	default:
		return EINVAL;
	}
}

static int
serve_get(struct conn *c, const struct uapi_ops *ops, void *ctx)
{
	struct uapi_get g;
	struct buf out;
	struct kerr e = { "" };
	int r, ret = -1;

	memset(&g, 0, sizeof(g));
	buf_init_secret(&out, UAPI_REQUEST_MAX);
	r = ops->get(ctx, &g);
	if (r != 0) {
		log_warn("uapi: get failed: %s", strerror(r > 0 ? r : -r));
		ret = write_errno(c->fd, r > 0 ? r : -r);
		goto out;
	}
	if ((r = uapi_format_get(&g, &out, &e)) != 0) {
		log_err("uapi: get: %s", kerr_msg(&e, r));
		ret = write_errno(c->fd, errno_of_kerr(r));
		goto out;
	}
	if ((r = buf_put(&out, "errno=0\n\n", 9)) != 0) {
		ret = write_errno(c->fd, errno_of_kerr(r));
		goto out;
	}
	ret = write_all(c->fd, out.p, out.len);
out:
	uapi_get_free(&g);
	buf_free(&out);
	return ret;
}

/* 1 answered (go on), -1 close. */
static int
serve_set(struct conn *c, const struct uapi_ops *ops, void *ctx, int64_t deadline)
{
	struct uapi_set s;
	struct buf text;
	struct kerr e = { "" };
	const uint8_t *line;
	size_t llen;
	int r, ret = -1;

	buf_init_secret(&text, UAPI_REQUEST_MAX);
	memset(&s, 0, sizeof(s));
	for (;;) {
		r = conn_line(c, &line, &llen, UAPI_LINE_MAX, deadline);
		if (r == -2) {
			log_warn("uapi: set: a line longer than %d bytes", UAPI_LINE_MAX);
			(void)write_errno(c->fd, -E2BIG);
			goto out;
		}
		if (r <= 0) {
			log_warn("uapi: set: connection ended inside the request");
			goto out;
		}
		if (llen == 0)
			break;
		if (buf_put(&text, line, llen + 1) != 0) {	/* with its '\n' */
			log_warn("uapi: set: request over %u bytes", UAPI_REQUEST_MAX);
			(void)write_errno(c->fd, -E2BIG);
			goto out;
		}
	}
	if ((r = uapi_parse_set((const char *)text.p, text.len, &s, &e)) != 0) {
		log_warn("uapi: set refused, nothing changed: %s", kerr_msg(&e, r));
		ret = write_errno(c->fd, -errno_of_kerr(r)) == 0 ? 1 : -1;
		goto out;
	}
	buf_free(&text);
	r = ops->set(ctx, &s);
	if (r != 0)
		log_warn("uapi: set failed: %s", strerror(r > 0 ? r : -r));
	ret = write_errno(c->fd, r == 0 ? 0 : -(long)(r > 0 ? r : -r)) == 0 ? 1 : -1;
out:
	uapi_set_free(&s);
	buf_free(&text);
	return ret;
}

int
uapi_serve(int fd, const struct uapi_ops *ops, void *ctx)
{
	struct conn *c;
	int ret = -1;

	if ((c = malloc(sizeof(*c))) == NULL) {
		log_err("uapi: out of memory");
		return -1;
	}
	c->fd = fd;
	c->off = c->len = 0;
	for (;;) {
		const uint8_t *line;
		size_t llen;
		int64_t deadline;
		int r;

		/* wait for the first byte of a request without a request deadline */
		if (c->off == c->len) {
			r = conn_fill(c, now_ms() + UAPI_IDLE_TIMEOUT_MS);
			if (r == 0) {
				ret = 0;
				break;
			}
			if (r < 0)
				break;
		}
		deadline = now_ms() + UAPI_REQUEST_TIMEOUT_MS;
		r = conn_line(c, &line, &llen, OP_LINE_MAX, deadline);
		if (r != 1) {
			log_warn("uapi: %s", r == -2 ? "overlong operation line" :
			    "connection ended inside the operation line");
			break;
		}
		if (llen == 5 && memcmp(line, "get=1", 5) == 0) {
			r = conn_line(c, &line, &llen, 0, deadline);
			if (r != 1) {
				log_warn("uapi: get=1 not followed by an empty line");
				(void)write_errno(fd, EPROTO);
				break;
			}
			if (serve_get(c, ops, ctx) != 0)
				break;
		} else if (llen == 5 && memcmp(line, "set=1", 5) == 0) {
			if (serve_set(c, ops, ctx, deadline) != 1)
				break;
		} else {
			log_warn("uapi: unknown operation (%zu bytes), closing", llen);
			break;
		}
	}
	sodium_memzero(c, sizeof(*c));
	free(c);
	return ret;
}
