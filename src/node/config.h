/*
 * NODEDIR/kodend.conf: one `key = value` per line, '#' comments.
 * docs/operations.md lists every key; an unknown key is an error that names
 * the line, so a typo never silently falls back to a default.
 */
#ifndef KODEN_CONFIG_H
#define KODEN_CONFIG_H

#include <stdint.h>

#include "crypto/keys.h"
#include "lib/err.h"
#include "telegram/tg.h"

#define CONFIG_FILE "kodend.conf"
#define CONFIG_MAX (64 * 1024)
#define CONFIG_HOST_MAX 64		/* config_split_addr's host, with its NUL */
#define CONFIG_PORT_MAX 8		/* ... and port */

enum node_role { ROLE_HQ = 1, ROLE_POST = 2 };

struct config {
	int role;			/* enum node_role */
	char name[TG_POST_MAX + 1];	/* this node's post name */
	char listen[128];		/* HQ: host:port to listen on */
	char hq[128];			/* post: HQ's host:port */
	struct pubkey hq_pk;		/* post: HQ's node key */
	uint8_t dir_pk[32];		/* post: the directory signing key */
	int log_level;
	uint32_t gap_timeout;		/* seconds before a missing seq is a gap */
	uint32_t audit_silence;		/* HQ: seconds a busy post may not ship audit */
	uint32_t retry_max;		/* seconds: cap of the reconnect backoff */
	uint32_t idle_timeout;		/* seconds without a complete frame */
	uint32_t handshake_timeout;	/* seconds to finish the Noise handshake */
	uint32_t batch;			/* telegrams in flight per link */
	int enrolled;			/* post: 0 until the join handshake succeeded */
	char join_secret[64];		/* post: base64url of the one-time secret, until enrolled */
};

/* Defaults for everything optional. */
void config_defaults(struct config *c);
/* Parse text; errors name the line. */
int config_parse(struct config *c, const char *text, size_t len,
    struct kerr *e) KODEN_WUR;
/* Read NODEDIR/kodend.conf. */
int config_load(struct config *c, const char *nodedir, struct kerr *e) KODEN_WUR;
/* Write NODEDIR/kodend.conf (mode 0600) atomically. */
int config_save(const struct config *c, const char *nodedir,
    struct kerr *e) KODEN_WUR;
/* Split "host:port" ("[v6]:port" too); 0 or KERR_INVALID. */
int config_split_addr(const char *addr, char host[static CONFIG_HOST_MAX],
    char port[static CONFIG_PORT_MAX]);

#endif
