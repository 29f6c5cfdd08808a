/*
 * The CLI's ground floor: messages and exit codes, reading and writing the
 * files a verb is given, and the checks every verb makes of its command
 * line.  It calls no other file of src/cli.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_int.h"

/* The reason in audit outcomes: the longest kept of a cli_fail message. */
#define CLI_ERROR_MAX 255

/* The last message given to cli_fail: the reason in audit outcomes. */
static char last_error[CLI_ERROR_MAX + 1];

void
cli_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("koden: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("koden: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

const char *
cli_last_error(void)
{
	return last_error;
}

int
cli_exit_code(int kerr)
{
	switch (kerr) {
	case KERR_OK:
		return EX_OK;
	case KERR_PASSPHRASE:
	case KERR_PERM:
		return EX_KEY;
	case KERR_NOT_RECIPIENT:
		return EX_NOTRCPT;
	case KERR_SIGNATURE:
	case KERR_DECRYPT:
	case KERR_MISMATCH:
		return EX_VERIFY;
	case KERR_TRUNCATED:
	case KERR_TOOBIG:
	case KERR_FORMAT:
	case KERR_VERSION:
	case KERR_SYNTAX:
	case KERR_INVALID:
	case KERR_CHECKSUM:
		return EX_INPUT;
	default:
		return EX_FAIL;
	}
}

int
cli_read_input(struct buf *b, const char *path, const char *what)
{
	int fd = 0, r;

	if (path != NULL && strcmp(path, "-") != 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cli_fail(EX_FAIL, "%s: %s", path, strerror(errno));
	r = buf_read_fd(b, fd);
	if (fd != 0)
		close(fd);
	if (r == KERR_TOOBIG)
		return cli_fail(EX_INPUT, "%s: %s is over the limit of %zu bytes",
		    path ? path : "stdin", what, b->max - 1);
	if (r != 0)
		return cli_fail(EX_FAIL, "%s: %s", path ? path : "stdin",
		    strerror(errno));
	return EX_OK;
}

int
cli_write_output(const char *path, const void *p, size_t n, int mode)
{
	const uint8_t *q = p;
	int fd = 1, r = EX_OK;

	if (path != NULL && strcmp(path, "-") != 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
		if (fd < 0)
			return cli_fail(EX_FAIL, "%s: %s", path, strerror(errno));
	}
	while (n > 0) {
		ssize_t w = write(fd, q, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = cli_fail(EX_FAIL, "%s: write: %s",
			    fd == 1 ? "stdout" : path, strerror(errno));
			break;
		}
		q += w;
		n -= (size_t)w;
	}
	if (fd != 1 && close(fd) != 0 && r == EX_OK)
		r = cli_fail(EX_FAIL, "%s: close: %s", path, strerror(errno));
	return r;
}

int
cli_need_dir(const struct cli_ctx *ctx, const char *verb)
{
	if (ctx->nodedir == NULL)
		return cli_fail(EX_USAGE, "%s needs the node directory: koden "
		    "-d NODEDIR %s ...", verb, verb);
	return EX_OK;
}

int
cli_is_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}
