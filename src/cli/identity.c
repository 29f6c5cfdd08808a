/*
 * Secret key files on the command line: the passphrase (a file, the
 * environment or the terminal, never argv) and unlocking a key file, with
 * the unlock recorded in the node's audit log under -d NODEDIR.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli_int.h"

void
cli_pass_free(char *pass)
{
	if (pass != NULL)
		sodium_free(pass);
}

/* Read one line from fd into pass (cap PASSPHRASE_MAX); strip the newline. */
static int
read_line(int fd, char *pass, size_t *len)
{
	size_t n = 0;
	char c;

	for (;;) {
		ssize_t k = read(fd, &c, 1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || c == '\n')
			break;
		if (n == PASSPHRASE_MAX)
			return -1;
		pass[n++] = c;
	}
	if (n > 0 && pass[n - 1] == '\r')
		n--;
	pass[n] = '\0';
	*len = n;
	return 0;
}

static int
ask_tty(char *pass, size_t *len, const char *prompt)
{
	struct termios old, quiet;
	int fd, r;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
		return -1;
	if (tcgetattr(fd, &old) != 0) {
		close(fd);
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write(fd, prompt, strlen(prompt)) < 0 ||
	    tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		close(fd);
		return -1;
	}
	r = read_line(fd, pass, len);
	(void)tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	close(fd);
	return r;
}

int
cli_passphrase(char **out, size_t *len, const char *pass_file,
    const char *prompt, int confirm)
{
	char *pass, *again = NULL;
	const char *env;
	size_t n = 0, n2 = 0;
	int r = EX_OK;

	*out = NULL;
	*len = 0;
	if ((pass = sodium_malloc(PASSPHRASE_MAX + 1)) == NULL)
		return cli_fail(EX_FAIL, "out of memory");
	if (pass_file != NULL) {
		struct stat st;
		int fd = open(pass_file, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			r = cli_fail(EX_FAIL, "%s: %s", pass_file, strerror(errno));
			goto out;
		}
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (st.st_mode & 077) != 0) {
			close(fd);
			r = cli_fail(EX_KEY, "%s: passphrase file is accessible "
			    "by group or others (mode %04o); fix it with: chmod "
			    "600 %s", pass_file, (unsigned)(st.st_mode & 07777),
			    pass_file);
			goto out;
		}
		if (read_line(fd, pass, &n) != 0) {
			close(fd);
			r = cli_fail(EX_KEY, "%s: passphrase is longer than %d "
			    "bytes", pass_file, PASSPHRASE_MAX);
			goto out;
		}
		close(fd);
	} else if ((env = getenv("KODEN_PASSPHRASE")) != NULL) {
		n = strlen(env);
		if (n > PASSPHRASE_MAX) {
			r = cli_fail(EX_KEY, "KODEN_PASSPHRASE is longer than "
			    "%d bytes", PASSPHRASE_MAX);
			goto out;
		}
		memcpy(pass, env, n + 1);
	} else {
		if (ask_tty(pass, &n, prompt) != 0) {
			r = cli_fail(EX_KEY, "a passphrase is needed and there is "
			    "no terminal to ask on: use --passphrase-file FILE or "
			    "set KODEN_PASSPHRASE");
			goto out;
		}
		if (confirm) {
			if ((again = sodium_malloc(PASSPHRASE_MAX + 1)) == NULL ||
			    ask_tty(again, &n2, "Repeat passphrase: ") != 0) {
				r = cli_fail(EX_KEY, "could not read the passphrase "
				    "again");
				goto out;
			}
			if (n != n2 || sodium_memcmp(pass, again, n) != 0) {
				r = cli_fail(EX_KEY, "the passphrases do not match");
				goto out;
			}
		}
	}
	if (n == 0) {
		r = cli_fail(EX_KEY, "empty passphrase (to write a key without "
		    "one, for a server, use --no-passphrase)");
		goto out;
	}
	*out = pass;
	*len = n;
	pass = NULL;
out:
	cli_pass_free(pass);
	cli_pass_free(again);
	return r;
}

int
cli_load_identity(const struct cli_ctx *ctx, struct identity **out,
    const char *path, const char *pass_file)
{
	struct kerr e = { "" };
	uint8_t *txt = NULL;
	size_t len = 0, plen = 0;
	char *pass = NULL, prompt[512];
	int r, enc = 0;

	*out = NULL;
	if ((r = keyfile_read(path, &txt, &len, &e)) != 0)
		return cli_fail(r == KERR_PERM ? EX_KEY : EX_FAIL, "%s",
		    kerr_msg(&e, r));
	if ((enc = keyfile_encrypted(txt, len, &e)) < 0) {
		r = cli_fail(EX_KEY, "%s: %s", path, kerr_msg(&e, enc));
		goto out;
	}
	if (enc) {
		snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", path);
		if ((r = cli_passphrase(&pass, &plen, pass_file, prompt, 0)) != 0)
			goto out;
	}
	if ((r = keyfile_decode(out, txt, len, pass, plen, &e)) != 0) {
		r = cli_fail(EX_KEY, "%s: %s", path, kerr_msg(&e, r));
		goto out;
	}
	r = EX_OK;
out:
	/* every unlock of a key on a node, successful or not */
	if (enc > 0 && cli_audit(ctx, r == EX_OK ? (*out)->name : NULL,
	    "unlock", path, r == EX_OK ? "ok" : cli_outcome(r), NULL) !=
	    EX_OK && r == EX_OK) {
		identity_free(*out);
		*out = NULL;
		r = EX_FAIL;
	}
	cli_pass_free(pass);
	sodium_memzero(txt, len);
	free(txt);
	return r;
}
