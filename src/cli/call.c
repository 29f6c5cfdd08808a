/*
 * Requests to the kodend of -d NODEDIR over its local API (node/api.h,
 * docs/protocol.md): one connection per request.
 */
#include <unistd.h>

#include "cli/cli_int.h"
#include "node/api.h"

int
cli_call(const struct cli_ctx *ctx, uint8_t op, const uint8_t *body,
    size_t len, struct buf *resp)
{
	struct kerr e = { "" };
	int fd, r;

	if ((fd = api_connect(ctx->nodedir, &e)) < 0)
		return cli_fail(EX_FAIL, "%s", e.msg);
	r = api_call(fd, op, body, len, resp, &e);
	close(fd);
	if (r != 0)
		return cli_fail(cli_exit_code(r), "%s", kerr_msg(&e, r));
	return EX_OK;
}
