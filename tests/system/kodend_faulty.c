/*
 * A test double of HQ's forwarding: the real kodend with one fault injected
 * into what HQ relays, chosen by KODEN_FAULT=KIND:N (the Nth telegram HQ
 * relays, counting from 1):
 *   alter:N    flip one byte of the Nth telegram's ciphertext
 *   drop:N     drop the Nth telegram (remove it from the queue, never send)
 *   replay:N   after the Nth telegram, send the 1st one again
 *   reorder:N  hold the Nth telegram and send it after the (N+1)th
 *   holdsync:1 a slow disk: while the file NODEDIR/hold-sync exists, the
 *              store's fsync of its write-ahead log waits (commits are
 *              written, never made durable)
 * Every relay fault must be detected at the receiving post; under
 * holdsync nothing that depends on a commit may leave HQ (tests/system).
 * Built only for the tests; never installed.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/walsync.h"
#include "node/node.h"
#include "node/wire.h"

static char kind[16];
static unsigned long at;
static unsigned long count;
static struct buf first, held;
static uint8_t held_prec;

static void
fault(struct node *n, struct conn *c, const char *link,
    const struct store_qitem *it, struct buf *blob, int *send)
{
	struct kerr e = { "" };

	count++;
	if (count == 1 && buf_put(&first, blob->p, blob->len) != 0)
		abort();
	if (strcmp(kind, "reorder") == 0 && count == at + 1 && held.len) {
		/* send this one, then the held one */
		node_send_raw(c, WIRE_TELEGRAM, it->prec, blob->p, blob->len);
		node_send_raw(c, WIRE_TELEGRAM, held_prec, held.p, held.len);
		held.len = 0;
		log_warn("FAULT: reordered telegrams %lu and %lu to %s", at,
		    at + 1, link);
		*send = 0;
		/* both are acknowledged by the post; keep the queue honest */
		if (node_test_dequeue(n, link, it, &e) != 0)
			abort();
		return;
	}
	if (count != at)
		return;
	if (strcmp(kind, "alter") == 0) {
		blob->p[blob->len / 2] ^= 0x40;
		log_warn("FAULT: altered telegram %lu to %s", count, link);
	} else if (strcmp(kind, "drop") == 0) {
		*send = 0;
		if (node_test_dequeue(n, link, it, &e) != 0)
			abort();
		log_warn("FAULT: dropped telegram %lu to %s", count, link);
	} else if (strcmp(kind, "replay") == 0) {
		node_send_raw(c, WIRE_TELEGRAM, it->prec, first.p, first.len);
		log_warn("FAULT: replayed telegram 1 to %s", link);
	} else if (strcmp(kind, "reorder") == 0) {
		held.len = 0;
		if (buf_put(&held, blob->p, blob->len) != 0)
			abort();
		held_prec = it->prec;
		*send = 0;
		if (node_test_dequeue(n, link, it, &e) != 0)
			abort();
	}
}

/* The store's fsync thread, before each fdatasync of path (NODEDIR/...). */
static void
hold_sync(const char *path)
{
	char flag[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int said = 0;

	snprintf(flag, sizeof(flag), "%.*s/hold-sync",
	    slash ? (int)(slash - path) : 1, slash ? path : ".");
	while (access(flag, F_OK) == 0) {
		if (!said++)
			log_warn("FAULT: fsync of %s held", path);
		usleep(10000);
	}
}

int
main(int argc, char **argv)
{
	const char *f = getenv("KODEN_FAULT");

	if (f == NULL || sscanf(f, "%15[a-z]:%lu", kind, &at) != 2 || at == 0) {
		fprintf(stderr, "kodend-faulty: set KODEN_FAULT=KIND:N\n");
		return 2;
	}
	buf_init(&first, 8u << 20);
	buf_init(&held, 8u << 20);
	if (strcmp(kind, "holdsync") == 0)
		walsync_test_hook = hold_sync;
	else
		node_test_relay_hook = fault;
	return kodend_main(argc, argv);
}
