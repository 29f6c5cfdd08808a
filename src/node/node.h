/*
 * kodend, the node daemon (HQ or post): its public contract.  The daemon's
 * insides are node_int.h's, for the files of src/node only; what is here is
 * what the programs built on it use: kodend's main, and the test double of
 * HQ's forwarding (tests/system/kodend_faulty.c).
 */
#ifndef KODEN_NODE_H
#define KODEN_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "store/store.h"

struct node;
struct conn;

/* kodend's main, shared with the test double. */
int kodend_main(int argc, char **argv);

/*
 * A test double of HQ's forwarding (tests/system/kodend_faulty.c): called
 * before HQ relays a telegram to link; it may alter blob, drop the item
 * (*send = 0, after removing it from the queue with node_test_dequeue) or
 * send extra messages with node_send_raw.  NULL in kodend: production never
 * calls it.
 */
typedef void (*node_relay_hook)(struct node *n, struct conn *c,
    const char *link, const struct store_qitem *it, struct buf *blob,
    int *send);
extern node_relay_hook node_test_relay_hook;
/* Queue one message of type on c, as the node's own would be. */
void node_send_raw(struct conn *c, uint8_t type, uint8_t prec,
    const uint8_t *p, size_t len);
/* Remove it from link's queue, in the loop turn's transaction. */
int node_test_dequeue(struct node *n, const char *link,
    const struct store_qitem *it, struct kerr *e) KODEN_WUR;

#endif
