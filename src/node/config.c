#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "node/config.h"
#include "telegram/tg.h"

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = LOG_INFO_;
	c->gap_timeout = 600;
	c->audit_silence = 60;
	c->retry_max = 30;
	c->idle_timeout = 120;
	c->handshake_timeout = 10;
	c->batch = 32;
}

int
config_split_addr(const char *addr, char host[static CONFIG_HOST_MAX],
    char port[static CONFIG_PORT_MAX])
{
	const char *colon;
	size_t hl;
	char *end;
	long p;
	int bracketed = addr[0] == '[';

	if (bracketed) {
		const char *rb = strchr(addr, ']');

		if (rb == NULL || rb[1] != ':')
			return KERR_INVALID;
		colon = rb + 1;
		addr++;
		hl = (size_t)(rb - addr);
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			return KERR_INVALID;
		hl = (size_t)(colon - addr);
	}
	if (hl == 0 || hl >= 64 || strlen(colon + 1) >= 8)
		return KERR_INVALID;
	/* digits only (strtol would take blanks and signs), and a bare IPv6
	 * address must be bracketed: "[v6]:port" */
	for (const char *q = colon + 1; *q; q++)
		if (*q < '0' || *q > '9')
			return KERR_INVALID;
	if (!bracketed && memchr(addr, ':', hl) != NULL)
		return KERR_INVALID;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || p < 1 || p > 65535 || colon[1] == '\0')
		return KERR_INVALID;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	snprintf(port, 8, "%ld", p);
	return 0;
}

static int
parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || v[0] == '\0' || v[0] == '-' ||
	    n < min || n > max)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

/* Trim blanks in place; returns s. */
static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int
set_key(struct config *c, const char *k, const char *v, size_t line,
    struct kerr *e)
{
	char host[CONFIG_HOST_MAX], port[CONFIG_PORT_MAX];
	struct kerr ke = { "" };
	uint32_t n;
	int r;

	if (strcmp(k, "role") == 0) {
		if (strcmp(v, "hq") == 0)
			c->role = ROLE_HQ;
		else if (strcmp(v, "post") == 0)
			c->role = ROLE_POST;
		else
			return kerr_set(e, KERR_INVALID, "line %zu: role must be "
			    "'hq' or 'post', not '%.40s'", line, v);
	} else if (strcmp(k, "name") == 0) {
		if (tg_check_post(v, &ke) != 0 || strlen(v) >= sizeof(c->name))
			return kerr_set(e, KERR_INVALID, "line %zu: name: %s",
			    line, ke.msg[0] ? ke.msg : "invalid post name");
		memcpy(c->name, v, strlen(v) + 1);
	} else if (strcmp(k, "listen") == 0 || strcmp(k, "hq") == 0) {
		char *dst = k[0] == 'l' ? c->listen : c->hq;

		if (strlen(v) >= sizeof(c->listen) ||
		    config_split_addr(v, host, port) != 0)
			return kerr_set(e, KERR_INVALID, "line %zu: %s must be "
			    "host:port, not '%.60s'", line, k, v);
		memcpy(dst, v, strlen(v) + 1);
	} else if (strcmp(k, "hq_key") == 0) {
		if ((r = pubkey_decode(&c->hq_pk, v, &ke)) != 0)
			return kerr_set(e, r, "line %zu: hq_key: %s", line,
			    ke.msg);
	} else if (strcmp(k, "directory_key") == 0) {
		size_t bin_len;
		const char *end;

		if (strlen(v) != 64 || sodium_hex2bin(c->dir_pk,
		    sizeof(c->dir_pk), v, 64, NULL, &bin_len, &end) != 0 ||
		    bin_len != 32)
			return kerr_set(e, KERR_INVALID, "line %zu: "
			    "directory_key must be 64 hex digits (the "
			    "directory's Ed25519 key)", line);
	} else if (strcmp(k, "log_level") == 0) {
		if ((c->log_level = log_level_parse(v)) < 0)
			return kerr_set(e, KERR_INVALID, "line %zu: log_level "
			    "must be error, warn, info or debug", line);
	} else if (strcmp(k, "gap_timeout") == 0 ||
	    strcmp(k, "retry_max") == 0 || strcmp(k, "idle_timeout") == 0 ||
	    strcmp(k, "handshake_timeout") == 0 || strcmp(k, "batch") == 0 ||
	    strcmp(k, "audit_silence") == 0) {
		uint32_t max = strcmp(k, "batch") == 0 ? 4096 : 86400;

		if (parse_u32(v, 1, max, &n) != 0)
			return kerr_set(e, KERR_INVALID, "line %zu: %s must be "
			    "a whole number from 1 to %u", line, k, max);
		if (k[0] == 'a')
			c->audit_silence = n;
		else if (k[0] == 'g')
			c->gap_timeout = n;
		else if (k[0] == 'r')
			c->retry_max = n;
		else if (k[0] == 'i')
			c->idle_timeout = n;
		else if (k[0] == 'h')
			c->handshake_timeout = n;
		else
			c->batch = n;
	} else if (strcmp(k, "join_secret") == 0) {
		if (strlen(v) >= sizeof(c->join_secret))
			return kerr_set(e, KERR_INVALID, "line %zu: join_secret "
			    "too long", line);
		memcpy(c->join_secret, v, strlen(v) + 1);
	} else if (strcmp(k, "enrolled") == 0) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return kerr_set(e, KERR_INVALID, "line %zu: enrolled "
			    "must be yes or no", line);
		c->enrolled = v[0] == 'y';
	} else
		return kerr_set(e, KERR_INVALID, "line %zu: unknown setting "
		    "'%.40s'", line, k);
	return 0;
}

int
config_parse(struct config *c, const char *text, size_t len, struct kerr *e)
{
	char *copy, *p, *nl;
	size_t line = 0;
	int r = 0;

	config_defaults(c);
	if (len > CONFIG_MAX)
		return kerr_set(e, KERR_TOOBIG, "configuration is over %d bytes",
		    CONFIG_MAX);
	if (memchr(text, '\0', len) != NULL ||
	    !utf8_valid((const uint8_t *)text, len))
		return kerr_set(e, KERR_FORMAT, "configuration is not text");
	if ((copy = malloc(len + 1)) == NULL)
		return KERR_NOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (p = copy; p != NULL && *p != '\0'; p = nl) {
		char *eq, *k, *v;

		line++;
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		k = trim(p);
		if (*k == '#' || *k == '\0')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			r = kerr_set(e, KERR_SYNTAX, "line %zu: expected "
			    "'key = value'", line);
			break;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if ((r = set_key(c, k, v, line, e)) != 0)
			break;
	}
	sodium_memzero(copy, len);
	free(copy);
	if (r != 0)
		return r;
	if (c->role == 0)
		return kerr_set(e, KERR_INVALID, "no 'role' setting");
	if (c->name[0] == '\0')
		return kerr_set(e, KERR_INVALID, "no 'name' setting");
	if (c->role == ROLE_HQ && c->listen[0] == '\0')
		return kerr_set(e, KERR_INVALID, "role hq needs 'listen'");
	if (c->role == ROLE_POST && (c->hq[0] == '\0' ||
	    sodium_is_zero(c->hq_pk.enc, 32) || sodium_is_zero(c->dir_pk, 32)))
		return kerr_set(e, KERR_INVALID, "role post needs 'hq', "
		    "'hq_key' and 'directory_key'");
	return 0;
}

int
config_load(struct config *c, const char *nodedir, struct kerr *e)
{
	char path[4096];
	struct buf b;
	struct kerr ke = { "" };
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", nodedir, CONFIG_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return kerr_set(e, KERR_IO, "%s: %s", path, strerror(errno));
	buf_init_secret(&b, CONFIG_MAX + 1);
	r = buf_read_fd(&b, fd);
	close(fd);
	if (r != 0) {
		buf_free(&b);
		return kerr_set(e, r, "%s: cannot read", path);
	}
	r = config_parse(c, (const char *)b.p, b.len, &ke);
	buf_free(&b);
	if (r != 0)
		return kerr_set(e, r, "%s: %s", path, ke.msg);
	return 0;
}

int
config_save(const struct config *c, const char *nodedir, struct kerr *e)
{
	static const char *const lv[] = { "error", "warn", "info", "debug" };
	char path[4096], tmp[4100], pk[PUBKEY_STR_MAX];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", nodedir, CONFIG_FILE);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return kerr_set(e, KERR_IO, "%s: %s", tmp, strerror(errno));
	if (fchmod(fd, 0600) != 0 || (f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return kerr_set(e, KERR_IO, "%s: %s", tmp, strerror(errno));
	}
	fprintf(f, "# kodend configuration (docs/operations.md)\n");
	fprintf(f, "role = %s\nname = %s\n", c->role == ROLE_HQ ? "hq" : "post",
	    c->name);
	if (c->role == ROLE_HQ)
		fprintf(f, "listen = %s\n", c->listen);
	else {
		char hex[65];

		fprintf(f, "hq = %s\n", c->hq);
		pubkey_encode(pk, &c->hq_pk);
		fprintf(f, "hq_key = %s\n", pk);
		sodium_bin2hex(hex, sizeof(hex), c->dir_pk, sizeof(c->dir_pk));
		fprintf(f, "directory_key = %s\n", hex);
		fprintf(f, "enrolled = %s\n", c->enrolled ? "yes" : "no");
		if (!c->enrolled && c->join_secret[0] != '\0')
			fprintf(f, "join_secret = %s\n", c->join_secret);
	}
	fprintf(f, "log_level = %s\n", lv[c->log_level]);
	fprintf(f, "gap_timeout = %u\nretry_max = %u\nidle_timeout = %u\n"
	    "handshake_timeout = %u\nbatch = %u\naudit_silence = %u\n",
	    c->gap_timeout, c->retry_max, c->idle_timeout,
	    c->handshake_timeout, c->batch, c->audit_silence);
	if (fflush(f) != 0 || fsync(fd) != 0) {
		fclose(f);
		unlink(tmp);
		return kerr_set(e, KERR_IO, "%s: %s", tmp, strerror(errno));
	}
	fclose(f);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return kerr_set(e, KERR_IO, "%s: %s", path, strerror(errno));
	}
	return 0;
}
