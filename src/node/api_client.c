#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "node/admin.h"
#include "node/api.h"

int
api_connect(const char *nodedir, struct kerr *e)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (node_path(sun.sun_path, sizeof(sun.sun_path), nodedir,
	    NODE_SOCK_FILE) != 0)
		return kerr_set(e, KERR_TOOBIG, "%s: path too long for a "
		    "socket", nodedir);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return kerr_set(e, KERR_IO, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int err = errno;

		close(fd);
		return kerr_set(e, KERR_IO, "cannot reach kodend at %s: %s%s",
		    sun.sun_path, strerror(err), err == ENOENT ||
		    err == ECONNREFUSED ? " (is kodend running? start it "
		    "with: kodend -d NODEDIR)" : "");
	}
	return fd;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
read_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
api_call(int fd, uint8_t op, const uint8_t *body, size_t len,
    struct buf *resp, struct kerr *e)
{
	uint8_t hdr[5];
	uint32_t rlen;
	uint8_t status;
	int r;

	resp->len = 0;
	if (len + 1 > API_MSG_MAX)
		return kerr_set(e, KERR_TOOBIG, "request too large");
	hdr[0] = (uint8_t)((len + 1) >> 24);
	hdr[1] = (uint8_t)((len + 1) >> 16);
	hdr[2] = (uint8_t)((len + 1) >> 8);
	hdr[3] = (uint8_t)(len + 1);
	hdr[4] = op;
	if (write_all(fd, hdr, 5) != 0 || (len && write_all(fd, body, len) != 0))
		return kerr_set(e, KERR_IO, "kodend closed the connection");
	if (read_all(fd, hdr, 4) != 0)
		return kerr_set(e, KERR_IO, "kodend closed the connection "
		    "without answering");
	rlen = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (rlen < 1 || rlen > API_MSG_MAX)
		return kerr_set(e, KERR_FORMAT, "malformed answer from kodend");
	if (read_all(fd, &status, 1) != 0 ||
	    (r = buf_reserve(resp, rlen - 1)) != 0 ||
	    read_all(fd, resp->p, rlen - 1) != 0)
		return kerr_set(e, KERR_IO, "short answer from kodend");
	resp->len = rlen - 1;
	if (status != 0) {
		struct rd rd;
		char *msg = NULL;

		rd_init(&rd, resp->p, resp->len);
		if (rd_str16(&rd, &msg) == 0) {
			kerr_set(e, -(int)status, "%s", msg);
			free(msg);
		} else
			kerr_set(e, -(int)status, "kodend: %s",
			    kerr_str(-(int)status));
		return -(int)status;
	}
	return 0;
}
