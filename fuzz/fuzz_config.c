/*
 * libFuzzer target: kodend.conf (src/node/config.c).  The input is parsed as
 * a whole configuration and, NUL-terminated, split as one host:port.  What
 * either accepts must satisfy the invariants docs/operations.md promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"
#include "telegram/tg.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* A split address: a non-empty host that fits, a port of 1..65535. */
static void
check_split(const char *addr)
{
	char host[64], port[8], *end;
	long n;

	memset(host, 0x55, sizeof(host));
	memset(port, 0x55, sizeof(port));
	if (config_split_addr(addr, host, port) != 0)
		return;
	CHECK(memchr(host, '\0', sizeof(host)) != NULL);
	CHECK(memchr(port, '\0', sizeof(port)) != NULL);
	CHECK(host[0] != '\0');
	CHECK(strstr(addr, host) != NULL);
	n = strtol(port, &end, 10);
	CHECK(*end == '\0' && n >= 1 && n <= 65535);
}

static void
check_config(const struct config *c)
{
	CHECK(c->role == ROLE_HQ || c->role == ROLE_POST);
	CHECK(memchr(c->name, '\0', sizeof(c->name)) != NULL);
	CHECK(c->name[0] != '\0');
	CHECK(tg_check_post(c->name, NULL) == 0);
	CHECK(memchr(c->listen, '\0', sizeof(c->listen)) != NULL);
	CHECK(memchr(c->hq, '\0', sizeof(c->hq)) != NULL);
	CHECK(memchr(c->join_secret, '\0', sizeof(c->join_secret)) != NULL);
	if (c->role == ROLE_HQ)
		CHECK(c->listen[0] != '\0');
	else
		CHECK(c->hq[0] != '\0');
	if (c->listen[0] != '\0')
		check_split(c->listen);
	if (c->hq[0] != '\0')
		check_split(c->hq);
	CHECK(c->log_level >= 0 && c->log_level <= 3);
	CHECK(c->gap_timeout >= 1 && c->gap_timeout <= 86400);
	CHECK(c->retry_max >= 1 && c->retry_max <= 86400);
	CHECK(c->idle_timeout >= 1 && c->idle_timeout <= 86400);
	CHECK(c->handshake_timeout >= 1 && c->handshake_timeout <= 86400);
	CHECK(c->batch >= 1 && c->batch <= 4096);
	CHECK(c->enrolled == 0 || c->enrolled == 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	struct config c;
	struct kerr e = { "" };
	char *text;

	if (len > CONFIG_MAX + 1)
		return 0;
	if ((text = malloc(len + 1)) == NULL)
		abort();
	memcpy(text, p, len);
	text[len] = '\0';
	if (config_parse(&c, text, len, &e) == 0)
		check_config(&c);
	else
		CHECK(e.msg[0] != '\0');
	check_split(text);
	free(text);
	return 0;
}
