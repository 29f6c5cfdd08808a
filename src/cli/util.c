#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"

/* The last message given to cli_fail: the reason in audit outcomes. */
char cli_last_error[256];

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
	vsnprintf(cli_last_error, sizeof(cli_last_error), fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
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
cli_load_identity(struct identity **out, const char *path,
    const char *pass_file)
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
	if (enc > 0 && cli_audit(r == EX_OK ? (*out)->name : NULL, "unlock",
	    path, r == EX_OK ? "ok" : cli_outcome(r), NULL) != EX_OK &&
	    r == EX_OK) {
		identity_free(*out);
		*out = NULL;
		r = EX_FAIL;
	}
	cli_pass_free(pass);
	sodium_memzero(txt, len);
	free(txt);
	return r;
}

int
keylist_add_string(struct keylist *kl, const char *s, const char *where)
{
	struct kerr e = { "" };
	char key[PUBKEY_STR_MAX + 1];
	const char *sp, *label;
	size_t klen;
	int r;

	while (*s == ' ' || *s == '\t')
		s++;
	sp = s + strcspn(s, " \t\r\n");
	klen = (size_t)(sp - s);
	if (klen > PUBKEY_STR_MAX)
		klen = PUBKEY_STR_MAX;
	memcpy(key, s, klen);
	key[klen] = '\0';
	if (kl->n == sizeof(kl->pk) / sizeof(kl->pk[0]))
		return cli_fail(EX_INPUT, "%s: more than %zu keys", where,
		    sizeof(kl->pk) / sizeof(kl->pk[0]));
	if ((r = pubkey_decode(&kl->pk[kl->n], key, &e)) != 0)
		return cli_fail(EX_INPUT, "%s: %s", where, kerr_msg(&e, r));
	label = sp + strspn(sp, " \t");
	klen = strcspn(label, "\r\n");
	if (klen > KEY_NAME_MAX)
		klen = KEY_NAME_MAX;
	memcpy(kl->label[kl->n], label, klen);
	kl->label[kl->n][klen] = '\0';
	kl->n++;
	return EX_OK;
}

int
keylist_add_file(struct keylist *kl, const char *path)
{
	char line[1024], where[1100];
	size_t lineno = 0;
	FILE *f;
	int r = EX_OK;

	if ((f = fopen(path, "r")) == NULL)
		return cli_fail(EX_FAIL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *s = line;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			r = cli_fail(EX_INPUT, "%s:%zu: line too long", path,
			    lineno);
			break;
		}
		s += strspn(s, " \t");
		if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0')
			continue;
		snprintf(where, sizeof(where), "%s:%zu", path, lineno);
		if ((r = keylist_add_string(kl, s, where)) != EX_OK)
			break;
	}
	if (r == EX_OK && ferror(f))
		r = cli_fail(EX_FAIL, "%s: %s", path, strerror(errno));
	fclose(f);
	return r;
}

const char *
keylist_find(const struct keylist *kl, const struct pubkey *pk)
{
	for (size_t i = 0; i < kl->n; i++)
		if (pubkey_equal(&kl->pk[i], pk))
			return kl->label[i];
	return NULL;
}
