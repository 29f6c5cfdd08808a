/*
 * kodend's state: one node (HQ or post), its connections and its store.
 * One epoll loop; every message that must be durable is written in the
 * loop's current transaction, and its acknowledgement is sent only after
 * that transaction is on disk (group commit; the fsync runs on the store's
 * own thread, so the loop goes on meanwhile).
 */
#ifndef KODEN_NODE_H
#define KODEN_NODE_H

#include <limits.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/noise.h"
#include "lib/buf.h"
#include "node/config.h"
#include "node/directory.h"
#include "node/wire.h"
#include "store/store.h"

#define CONN_IN_MAX (2 * (WIRE_FRAME_MAX + 2))
/*
 * Stop encrypting records into the output buffer here: what is already
 * framed cannot be overtaken, so a FLASH telegram waits behind at most this
 * much (plus the kernel's socket buffer).
 */
#define CONN_OUT_HIGH (128u << 10)
#define NODE_TXN_MAX 2000		/* messages per group commit, at most */
#define NODE_API_CONNS_MAX 64
#define NODE_PEERS_MAX 1024

enum conn_kind { CONN_PEER = 1, CONN_API = 2 };
enum conn_state {
	CONN_DIALING = 1,	/* post: TCP connect in progress */
	CONN_HS = 2,		/* Noise handshake in progress */
	CONN_OPEN = 3,
	CONN_DEAD = 4,		/* closed; freed at the end of the loop turn */
};

struct outmsg {
	struct outmsg *next;
	uint8_t type;
	uint8_t prec;
	uint32_t stream;
	struct buf data;
	size_t off;
};

/* An item handed to a peer and not yet acknowledged. */
struct inflight {
	struct store_qitem it;
};

struct conn {
	int ev_kind;		/* first: tells epoll sources apart */
	struct conn *next;
	struct node *node;
	int kind;		/* enum conn_kind */
	int state;		/* enum conn_state */
	int fd;
	int initiator;
	struct noise_hs *hs;	/* sodium_malloc'ed during the handshake */
	struct noise_cs tx, rx;
	struct buf in, out;
	struct outmsg *q;
	uint32_t next_stream;
	struct wire_rx wrx;
	char peer[33];		/* the peer's name, once authenticated */
	char who[48];		/* API: "api pid P uid U" (SO_PEERCRED) */
	uint64_t deadline;	/* ms: handshake must finish by then */
	uint64_t last_rx;	/* ms */
	int ping_sent;
	int synced;		/* HQ: the post's SYNC arrived */
	int audit_seen;		/* HQ: the post shipped audit entries */
	uint64_t audit_grew;	/* HQ: ms when the post's log last grew here */
	uint64_t audit_traffic;	/* HQ: telegrams and receipts since then */
	int audit_alerted;	/* HQ: audit-silent raised for this silence;
				   post: cannot-ship raised on this link */
	uint64_t audit_hq_seen;	/* HQ: size of HQ's head the post holds */
	struct wire_sync sync;
	struct inflight *fl;
	size_t n_fl, cap_fl;
	int enrolling;		/* post: this handshake enrols */
	uint32_t want;		/* epoll events currently registered */
	int acked;		/* acks came in: the window has room again */
};

/*
 * A telegram received in this loop turn, waiting for its origin signature
 * to be checked: the checks of one turn are split between the loop thread
 * and a worker thread, then the telegrams are handled in arrival order.
 */
struct vitem {
	struct conn *c;
	uint8_t prec;		/* the record's precedence */
	struct buf msg;
	struct env_header *h;
	int r;
	struct kerr ke;
};
#define NODE_VQ_MAX 512		/* telegrams checked together, at most */

struct verifier;

struct pending {
	struct conn *c;
	uint8_t kind;		/* 1 ack on a peer, 2 API reply */
	uint64_t commit;	/* sent once this commit is durable */
	struct wire_ack ack;
	struct buf reply;	/* API: the whole framed reply */
};

/* The queue's items up to ord are durable once commit is. */
struct ordmark {
	uint64_t commit, ord;
};
#define NODE_ORDMARKS 64

/* A link with items in commits first..last not yet pumped (durability). */
struct waitlink {
	char link[33];
	uint64_t first, last;
};

struct node {
	int ev_kind;
	char dir[PATH_MAX];
	struct config cfg;
	struct identity *key;
	struct identity *dirkey;	/* HQ only */
	struct noise_keypair nk;
	struct store *st;
	struct roster roster;
	struct buf roster_blob;
	int have_roster;
	int epfd, listen_fd, api_fd, sig_fd, lock_fd;
	int ev_listen, ev_api, ev_sig;	/* addresses used as epoll tags */
	struct conn *conns;
	struct conn *hq;		/* post: the link to HQ */
	uint64_t dial_at;
	uint32_t backoff;
	int stopping;
	int in_txn;
	size_t txn_msgs;
	struct pending *pend;		/* oldest first */
	size_t n_pend, cap_pend;
	size_t pend_tagged;		/* pend[0..pend_tagged) have a commit */
	char (*dirty)[33];		/* links to pump after the commit */
	size_t n_dirty, cap_dirty;
	struct waitlink *wait;		/* ... once that commit is durable */
	size_t n_wait, cap_wait;
	struct ordmark ords[NODE_ORDMARKS];	/* commits not yet durable */
	size_t n_ords;
	uint64_t q_sendable;		/* queue items up to this ord may go */
	int sync_fd, ev_sync;		/* eventfd: more commits are durable */
	uint64_t next_tick;
	uint64_t stat_in, stat_out;
	struct vitem *vq;		/* telegrams of this turn, in arrival order */
	size_t n_vq;
	struct verifier *ver;		/* the second core's signature checks */
	/* the audit log (nodeaudit.h) */
	struct naudit *audit;
	int audit_fd, ev_audit;		/* eventfd: the writer appended */
	uint64_t audit_inflight;	/* post: a batch up to this is at HQ */
	uint64_t audit_last_ship;	/* post: ms the last batch went */
	uint64_t audit_ship_due;	/* post: ms the next may go (0: none waits) */
	struct aitem *aq;		/* HQ: batches of this turn */
	size_t n_aq;
	uint64_t aq_retry;		/* HQ: not before (ms), the log was busy */
	uint64_t audit_bcast;		/* HQ: next head broadcast, ms */
};

/* HQ: one post's audit batch, ingested at the end of the loop turn. */
struct aitem {
	struct conn *c;
	struct buf msg;
};
#define NODE_AQ_MAX 256

uint64_t node_now_ms(void);

/* Open everything in nodedir (config, keys, store, roster); no sockets yet. */
int node_open(struct node *n, const char *nodedir, struct kerr *e) KODEN_WUR;
/* Listen (HQ), bind the API socket, run until SIGTERM/SIGINT. */
int node_run(struct node *n, struct kerr *e) KODEN_WUR;
void node_close(struct node *n);

/* Shared with the API server (nodeapi.c). */
int node_txn(struct node *n, struct kerr *e) KODEN_WUR;
void node_alert(struct node *n, const char *kind, const char *origin,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void node_mark_dirty(struct node *n, const char *link);
int node_pending_reply(struct node *n, struct conn *c, struct buf *reply);
int node_reload_roster(struct node *n, struct kerr *e) KODEN_WUR;
int node_queue_receipt(struct node *n, const uint8_t id[static 16],
    const char *origin, uint8_t state, uint8_t prec,
    const uint8_t env_hash[static 32], struct kerr *e) KODEN_WUR;
void conn_close(struct conn *c, const char *why);

/*
 * A test double of HQ's forwarding (tests/system/kodend_faulty.c): called
 * before HQ relays a telegram to link; it may alter blob, drop the item
 * (*send = 0, after removing it from the queue) or send extra messages with
 * node_send_raw.  NULL in kodend: production never calls it.
 */
typedef void (*node_relay_hook)(struct node *n, struct conn *c,
    const char *link, const struct store_qitem *it, struct buf *blob,
    int *send);
extern node_relay_hook node_test_relay_hook;
void node_send_raw(struct conn *c, uint8_t type, uint8_t prec,
    const uint8_t *p, size_t len);

/* kodend's main, shared with the test double. */
int kodend_main(int argc, char **argv);

/* API server (nodeapi.c): handle one complete request on c. */
void api_handle(struct node *n, struct conn *c, const uint8_t *req, size_t len);

#endif
