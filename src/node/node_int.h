/*
 * kodend's insides, shared by the files of src/node and by nothing outside
 * it (STYLE.md 14; node.h is the public contract).  docs/architecture.md
 * draws the rooms: which file owns what, and the direction of the calls.
 *
 * One node (HQ or post), its connections and its store, served by one
 * epoll loop.  Every message that must be durable is written in the loop
 * turn's transaction, and its acknowledgement is sent only after that
 * transaction is on disk (group commit; the fsync runs on the store's own
 * thread, so the loop goes on meanwhile).
 *
 * The loop knows no kind of work: every event source (a socket, an
 * eventfd, the signalfd, each connection) registers a handler (struct
 * node_ev), every record type of the channel a handler (node_on_record),
 * and the periodic and end-of-turn work registers hooks (node_hook_add).
 * A file calls only the files below it (scripts/depcheck.py); a lower
 * file reaches a higher one only through what the higher one registered.
 */
#ifndef KODEN_NODE_INT_H
#define KODEN_NODE_INT_H

#include <limits.h>
#include <stdint.h>
#include <time.h>

#include "crypto/keys.h"
#include "crypto/noise.h"
#include "lib/buf.h"
#include "node/config.h"
#include "node/directory.h"
#include "node/node.h"
#include "node/wire.h"
#include "store/store.h"
#include "telegram/envelope.h"
#include "telegram/tg.h"

#define CONN_IN_MAX (2 * (WIRE_FRAME_MAX + 2))
/*
 * Stop encrypting records into the output buffer here: what is already
 * framed cannot be overtaken, so a FLASH telegram waits behind at most this
 * much (plus the kernel's socket buffer).
 */
#define CONN_OUT_HIGH (128u << 10)
#define NODE_TXN_MAX 2000		/* messages per group commit, at most */
#define NODE_API_CONNS_MAX 64
#define NODE_WHO_MAX 48			/* "api pid P uid U" */
#define NODE_HOOKS_MAX 8		/* hooks of one kind */
#define NODE_REC_TYPES 16		/* record types a handler may claim */
#define NODE_EVENTS_MAX 64		/* epoll events taken per turn */
#define AUDIT_SHIP_MAX 1024	/* entries per batch to HQ */
#define AUDIT_SHIP_GAP_MS 100	/* between two batches, at least */
#define AUDIT_BCAST_MS 10000	/* HQ sends its head to every post this often */
#define HQ_LINK "@hq"		/* a post's queue for HQ */
#define TICK_MS 1000

enum conn_kind { CONN_PEER = 1, CONN_API = 2 };
enum conn_state {
	CONN_DIALING = 1,	/* post: TCP connect in progress */
	CONN_HS = 2,		/* Noise handshake in progress */
	CONN_OPEN = 3,
	CONN_DEAD = 4,		/* closed; freed at the end of the loop turn */
};

/* Why the loop stops (n->stopping). */
enum node_stop {
	NODE_RUNNING = 0,
	NODE_STOP_ASKED = 1,	/* SIGTERM/SIGINT: finish the commit, stop */
	NODE_STOP_FAILED = 2,	/* a storage error: stop, restart from disk */
};

/* What a pending entry sends once its commit is durable. */
enum pending_kind {
	PEND_ACK = 1,		/* an acknowledgement to a peer */
	PEND_REPLY = 2,		/* an API reply */
};

/*
 * An event source of the loop.  The loop calls fn(n, ev, events) when the
 * source's file descriptor is ready (events: epoll's); it is the first
 * member of whatever owns it, so fn finds its owner from ev.
 */
struct node_ev;
typedef void (*node_ev_fn)(struct node *n, struct node_ev *ev,
    uint32_t events);
struct node_ev {
	node_ev_fn fn;
};

/* A hook of the loop (node_hook_add says when each kind is called). */
typedef void (*node_hook_fn)(struct node *n);
/* When a source of timed work next needs the loop, in ms; 0: not at all. */
typedef uint64_t (*node_wake_fn)(const struct node *n);
/* A dead connection is about to be freed: forget every pointer to it. */
typedef void (*node_conn_fn)(struct node *n, struct conn *c);
/* A complete record of the channel (node_on_record). */
typedef void (*node_rec_fn)(struct node *n, struct conn *c, uint8_t prec,
    struct buf *msg);
/* One complete frame on a peer connection (handshake or records). */
typedef void (*node_frame_fn)(struct node *n, struct conn *c,
    const uint8_t *p, size_t len);

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
	struct node_ev ev;	/* first: the loop's handle on it */
	struct conn *next;
	struct node *node;
	int kind;		/* enum conn_kind */
	int state;		/* enum conn_state */
	int fd;
	int initiator;
	node_frame_fn on_frame;	/* peer: handshake, then records */
	void (*on_close)(struct conn *c);	/* after it closed, or NULL */
	struct noise_hs *hs;	/* sodium_malloc'ed during the handshake */
	struct noise_cs tx, rx;
	struct buf in, out;
	struct outmsg *q;
	uint32_t next_stream;
	struct wire_rx wrx;
	char peer[TG_POST_MAX + 1];	/* the peer's name, once authenticated */
	char who[NODE_WHO_MAX];	/* API: "api pid P uid U" (SO_PEERCRED) */
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
	uint8_t kind;		/* enum pending_kind */
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
	char link[TG_POST_MAX + 1];
	uint64_t first, last;
};

/* HQ: one post's audit batch, ingested at the end of the loop turn. */
struct aitem {
	struct conn *c;
	struct buf msg;
};
#define NODE_AQ_MAX 256

/* What the files of src/node registered with the loop (loop.c). */
struct node_hooks {
	node_hook_fn turn[NODE_HOOKS_MAX];	/* end of every turn */
	size_t n_turn;
	node_hook_fn tick[NODE_HOOKS_MAX];	/* every TICK_MS */
	size_t n_tick;
	node_wake_fn wake[NODE_HOOKS_MAX];	/* timed work between ticks */
	size_t n_wake;
	node_conn_fn gone[NODE_HOOKS_MAX];	/* a connection is freed */
	size_t n_gone;
	node_rec_fn rec[NODE_REC_TYPES];	/* by record type */
	/* commit.c: link's queued items are durable now (forward.c) */
	void (*link_durable)(struct node *n, const char *link);
};

struct node {
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
	struct node_ev ev_listen, ev_api, ev_sig;	/* their handlers */
	struct node_hooks hooks;
	struct conn *conns;
	struct conn *hq;		/* post: the link to HQ */
	uint64_t dial_at;
	uint32_t backoff;
	int stopping;			/* enum node_stop */
	int in_txn;
	size_t txn_msgs;
	struct pending *pend;		/* oldest first */
	size_t n_pend, cap_pend;
	size_t pend_tagged;		/* pend[0..pend_tagged) have a commit */
	char (*dirty)[TG_POST_MAX + 1];	/* links to pump after the commit */
	size_t n_dirty, cap_dirty;
	struct waitlink *wait;		/* ... once that commit is durable */
	size_t n_wait, cap_wait;
	struct ordmark ords[NODE_ORDMARKS];	/* commits not yet durable */
	size_t n_ords;
	uint64_t q_sendable;		/* queue items up to this ord may go */
	int sync_fd;			/* eventfd: more commits are durable */
	struct node_ev ev_sync;
	uint64_t next_tick;
	uint64_t stat_in, stat_out;
	uint8_t *rec_pt;		/* a record's plaintext (conn_flush) */
	uint8_t *rec_ct;		/* ... and its ciphertext */
	uint8_t *frame_pt;		/* a received record's plaintext */
	struct vitem *vq;		/* telegrams of this turn, in arrival order */
	size_t n_vq;
	struct verifier *ver;		/* the second core's signature checks */
	/* the audit log (nodeaudit.h) */
	struct naudit *audit;
	int audit_fd;			/* eventfd: the writer appended */
	struct node_ev ev_audit;
	uint64_t audit_inflight;	/* post: a batch up to this is at HQ */
	uint64_t audit_last_ship;	/* post: ms the last batch went */
	uint64_t audit_ship_due;	/* post: ms the next may go (0: none waits) */
	struct aitem *aq;		/* HQ: batches of this turn */
	size_t n_aq;
	uint64_t aq_retry;		/* HQ: not before (ms), the log was busy */
	uint64_t audit_bcast;		/* HQ: next head broadcast, ms */
};

static inline uint64_t
now_s(void)
{
	return (uint64_t)time(NULL);
}

/* The owner of an event source, from the source (its first member). */
static inline struct conn *
conn_of(struct node_ev *ev)
{
	return (struct conn *)ev;
}

/*
 * Claim record type for fn, called by the channel (channel.c) for every
 * complete record of that type on an open link.  Each file that handles
 * a record type claims it in its *_init.
 */
static inline void
node_on_record(struct node *n, uint8_t type, node_rec_fn fn)
{
	if (type < NODE_REC_TYPES)
		n->hooks.rec[type] = fn;
}

/* ---- event.c: the loop's sources, time, hooks ----------------------------- */

uint64_t node_now_ms(void);
/* Watch fd for events; the loop calls ev->fn.  0 or KERR_IO. */
int node_ev_add(struct node *n, int fd, struct node_ev *ev, uint32_t events)
    KODEN_WUR;
int node_ev_mod(struct node *n, int fd, struct node_ev *ev, uint32_t events)
    KODEN_WUR;
void node_ev_del(struct node *n, int fd);
/*
 * Register a hook, called in the order of registration:
 *   turn: at the end of every loop turn, after its events, before its commit;
 *   tick: every TICK_MS, before that tick's commit;
 * a full list is a bug (NODE_HOOKS_MAX is sized for the files that exist).
 */
void node_hook_turn(struct node *n, node_hook_fn fn);
void node_hook_tick(struct node *n, node_hook_fn fn);
/* fn says when its timed work next needs the loop, between ticks. */
void node_hook_wake(struct node *n, node_wake_fn fn);
/* fn forgets a dead connection before it is freed (end of the turn). */
void node_hook_gone(struct node *n, node_conn_fn fn);

/* ---- conn.c: connections, output, the precedence scheduler --------------- */

/* A connection of kind on fd, watched for input, served by fn. */
struct conn *conn_new(struct node *n, int fd, int kind, node_ev_fn fn);
void conn_close(struct conn *c, const char *why);
void conn_free(struct conn *c);
/* Free the turn's dead connections (the loop, at the end of a turn). */
void conn_reap(struct node *n);
void conn_ev_set(struct conn *c, uint32_t want);
int conn_frame_put(struct conn *c, const uint8_t *p, size_t len) KODEN_WUR;
void conn_send_msg(struct conn *c, uint8_t type, uint8_t prec,
    const uint8_t *p, size_t len);
void conn_flush(struct conn *c);
/*
 * Read what the socket holds into c->in; after each read, parse(n, c)
 * takes the complete messages it can.  Then flush what they answered.
 */
void conn_read(struct node *n, struct conn *c,
    void (*parse)(struct node *n, struct conn *c));

/* ---- commit.c: the turn's transaction, the group commit ------------------- */

void commit_init(struct node *n);
int node_pending_ack(struct node *n, struct conn *c, const struct wire_ack *a)
    KODEN_WUR;
int node_pending_reply(struct node *n, struct conn *c, struct buf *reply)
    KODEN_WUR;
void node_pending_drop_all(struct node *n);
int node_txn(struct node *n, struct kerr *e) KODEN_WUR;
void node_mark_dirty(struct node *n, const char *link);
void node_release(struct node *n);
int node_commit(struct node *n);
int node_durable(struct node *n);
void node_count_msg(struct node *n);

/* ---- alert.c ------------------------------------------------------------ */

void node_alert(struct node *n, const char *kind, const char *origin,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- roster.c: the roster this node holds --------------------------------- */

void roster_init(struct node *n);
int node_reload_roster(struct node *n, struct kerr *e) KODEN_WUR;
/* A live (not revoked) post or HQ of the roster, or NULL. */
const struct roster_entry *node_roster_site(const struct node *n,
    const char *name);
/* HQ's key for its signed heads: the roster's HQ entry, or NULL. */
const uint8_t *node_hq_sign_pk(const struct node *n);

/* ---- forward.c: the in-flight window, forwarding, acks, SYNC ------------- */

void forward_init(struct node *n);
void node_pump(struct node *n, const char *link);
/* The per-destination sequence number the envelope carries for dest. */
uint64_t node_env_seq(const struct env_header *h, const char *dest,
    uint8_t *prec);
int node_build_sync(struct node *n, struct buf *out, struct kerr *e)
    KODEN_WUR;

/* ---- delivery.c: delivery here, accounting, receipts made here ----------- */

void delivery_init(struct node *n);
int node_deliver(struct node *n, const struct env_header *h,
    const uint8_t *env, size_t len, int relayed, struct wire_ack *ack,
    struct kerr *e) KODEN_WUR;
int node_route_receipt(struct node *n, const uint8_t id[static 16],
    const char *origin, const char *by, uint8_t state, uint8_t prec,
    struct kerr *e) KODEN_WUR;
int node_queue_receipt(struct node *n, const uint8_t id[static 16],
    const char *origin, uint8_t state, uint8_t prec,
    const uint8_t env_hash[static 32], struct kerr *e) KODEN_WUR;

/* ---- intake.c: telegrams and receipts from peers -------------------------- */

void intake_init(struct node *n);
void intake_telegram(struct node *n, struct conn *c, struct buf *msg,
    struct env_header *h, int r, const struct kerr *kep);

/* ---- verify.c: origin signatures on both cores ---------------------------- */

void verify_init(struct node *n);
void verifier_start(struct node *n);
void verifier_stop(struct node *n);

/* ---- auditship.c (post), auditcollect.c (HQ) ------------------------------ */

void auditship_init(struct node *n);
void auditcollect_init(struct node *n);

/* ---- channel.c: records on an open link ----------------------------------- */

void channel_init(struct node *n);
/* The handler of a peer connection's socket, from the handshake on. */
void channel_event(struct node *n, struct node_ev *ev, uint32_t events);
/* The handler of an open link's frames (records). */
void channel_frame(struct node *n, struct conn *c, const uint8_t *p,
    size_t len);

/* ---- enrol.c, handshake.c ------------------------------------------------- */

struct wire_hello;
/* HQ: a post asks to enrol with hello; 0 (enrolled) or the link is closed. */
int enrol_accept(struct node *n, struct conn *c, struct wire_hello *hello,
    const uint8_t rs[static 32]);
/* Post: fill hello's enrolment fields from kodend.conf's join_secret. */
int enrol_hello(struct node *n, struct conn *c, struct wire_hello *hello);
/* Post: HQ welcomed the enrolment. */
void enrol_done(struct node *n);

/* Start the Noise handshake on c: responder (HQ) or initiator (post). */
int hs_start(struct conn *c, int initiator, const uint8_t *rs) KODEN_WUR;
/* Post: the TCP connection to HQ is up; send handshake message 1. */
void hs_initiate(struct node *n, struct conn *c);

/* ---- listen.c, apiserver.c, nodeapi.c, loop.c ----------------------------- */

void listen_init(struct node *n);
int listen_peers(struct node *n, struct kerr *e) KODEN_WUR;
void apiserver_init(struct node *n);
int apiserver_listen(struct node *n, struct kerr *e) KODEN_WUR;
/* Handle one complete request on c (nodeapi.c). */
void api_handle(struct node *n, struct conn *c, const uint8_t *req,
    size_t len);
/* Run turns until n->stopping. */
int loop_run(struct node *n, struct kerr *e) KODEN_WUR;

/* ---- node.c: open, run, close ---------------------------------------------- */

/* Open everything in nodedir (config, keys, store, roster); no sockets yet. */
int node_open(struct node *n, const char *nodedir, struct kerr *e) KODEN_WUR;
/* Listen (HQ), bind the API socket, run until SIGTERM/SIGINT. */
int node_run(struct node *n, struct kerr *e) KODEN_WUR;
void node_close(struct node *n);

#endif
