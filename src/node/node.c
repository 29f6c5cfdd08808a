/*
 * kodend: the node daemon.  One epoll loop per node (loop.c) serves:
 *   - peers over Noise IK (HQ listens, posts dial HQ),
 *   - the local API for `koden -d NODEDIR ...` (apiserver.c, nodeapi.c),
 *   - signals (signalfd) and timers (the loop's timeout).
 * This file opens a node (config, lock, keys, store, roster, audit log),
 * registers the work of every other file with the loop, runs it, and closes
 * everything again.  docs/architecture.md follows one telegram through the
 * files.
 *
 * Durability: commit.c.  Delivery: forward.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/log.h"
#include "node/admin.h"
#include "node/node_int.h"
#include "node/nodeaudit.h"

/*
 * The configuration kodend runs with, as a hash in its start event: a
 * change to kodend.conf between two starts shows in the audit log.
 */
static void
config_hash(const struct node *n, char hex[static 65])
{
	uint8_t h[crypto_hash_sha256_BYTES], chunk[4096];
	crypto_hash_sha256_state st;
	char path[PATH_MAX];
	size_t k;
	FILE *f;

	snprintf(hex, 65, "unreadable");
	if (node_path(path, sizeof(path), n->dir, CONFIG_FILE) != 0 ||
	    (f = fopen(path, "rb")) == NULL)
		return;
	crypto_hash_sha256_init(&st);
	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		crypto_hash_sha256_update(&st, chunk, k);
	fclose(f);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, 65, h, sizeof(h));
	sodium_memzero(chunk, sizeof(chunk));	/* join_secret lives there */
}

static int
load_key(struct identity **out, const char *dir, const char *file,
    struct kerr *e)
{
	char path[PATH_MAX];
	struct kerr ke = { "" };
	uint8_t *txt = NULL;
	size_t len = 0;
	int r;

	if (node_path(path, sizeof(path), dir, file) != 0)
		return kerr_set(e, KERR_TOOBIG, "path too long");
	if ((r = keyfile_read(path, &txt, &len, &ke)) != 0)
		return kerr_set(e, r, "%s", ke.msg);
	r = keyfile_decode(out, txt, len, NULL, 0, &ke);
	sodium_memzero(txt, len);
	free(txt);
	if (r != 0)
		return kerr_set(e, r, "%s: %s", path, ke.msg);
	return 0;
}

static void on_signal(struct node *n, struct node_ev *ev, uint32_t events);

/*
 * Every file's work, registered with the loop.  The order is the order in
 * which the loop calls each kind of hook: at the end of a turn the
 * signature checks come first (verify), and a tick dials (listen), then
 * minds the links' deadlines (channel), the accounting gaps (delivery),
 * the queues (forward), and the audit log's shipping and collecting.
 */
static void
node_register(struct node *n)
{
	n->ev_sig.fn = on_signal;
	verify_init(n);
	commit_init(n);
	listen_init(n);
	apiserver_init(n);
	channel_init(n);
	roster_init(n);
	intake_init(n);
	delivery_init(n);
	forward_init(n);
	auditship_init(n);
	auditcollect_init(n);
}

int
node_open(struct node *n, const char *nodedir, struct kerr *e)
{
	char path[PATH_MAX];
	int r;

	memset(n, 0, sizeof(*n));
	n->epfd = n->listen_fd = n->api_fd = n->sig_fd = n->lock_fd = -1;
	n->audit_fd = n->sync_fd = -1;
	node_register(n);
	buf_init(&n->roster_blob, ROSTER_MAX);
	/* the loop's scratch for records in and out (conn_flush, channel) */
	if ((n->rec_pt = malloc(WIRE_REC_HDR + WIRE_CHUNK)) == NULL ||
	    (n->rec_ct = malloc(WIRE_FRAME_MAX)) == NULL ||
	    (n->frame_pt = malloc(WIRE_FRAME_MAX)) == NULL)
		return kerr_set(e, KERR_NOMEM, "out of memory");
	if (strlen(nodedir) >= sizeof(n->dir))
		return kerr_set(e, KERR_TOOBIG, "NODEDIR path too long");
	memcpy(n->dir, nodedir, strlen(nodedir) + 1);
	if ((r = config_load(&n->cfg, nodedir, e)) != 0)
		return r;
	log_set_level(n->cfg.log_level);

	/* one kodend per NODEDIR */
	if (node_path(path, sizeof(path), nodedir, NODE_PID_FILE) != 0)
		return KERR_TOOBIG;
	n->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (n->lock_fd < 0)
		return kerr_set(e, KERR_IO, "%s: %s", path, strerror(errno));
	if (flock(n->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		char pid[32] = "";

		(void)!read(n->lock_fd, pid, sizeof(pid) - 1);
		pid[strcspn(pid, "\n")] = '\0';
		return kerr_set(e, KERR_EXISTS, "another kodend (pid %s) is "
		    "running on %s", pid[0] ? pid : "?", nodedir);
	}
	if (ftruncate(n->lock_fd, 0) == 0)
		dprintf(n->lock_fd, "%ld\n", (long)getpid());

	if ((r = load_key(&n->key, nodedir, NODE_KEY_FILE, e)) != 0)
		return r;
	if ((r = noise_keypair_from_private(&n->nk, n->key->enc_sk)) != 0)
		return kerr_set(e, r, "node key unusable");
	if (n->cfg.role == ROLE_HQ &&
	    (r = load_key(&n->dirkey, nodedir, NODE_DIRKEY_FILE, e)) != 0)
		return r;
	if (node_path(path, sizeof(path), nodedir, NODE_DB_FILE) != 0)
		return KERR_TOOBIG;
	if ((n->sync_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return kerr_set(e, KERR_IO, "eventfd: %s", strerror(errno));
	/*
	 * Commits are fsynced on the store's own thread: the loop goes on
	 * while the disk works, and what depends on a commit waits for it
	 * (node_release).  Everything already queued is durable from here.
	 */
	if ((r = store_open(&n->st, path, e)) != 0 ||
	    (r = store_checkpointer_start(n->st, path, e)) != 0 ||
	    (r = store_sync_thread_start(n->st, path, n->sync_fd, e)) != 0 ||
	    (r = store_q_last_ord(n->st, &n->q_sendable, e)) != 0)
		return r;
	if ((r = node_reload_roster(n, e)) != 0)
		return r;
	if (n->cfg.role == ROLE_HQ && !n->have_roster)
		return kerr_set(e, KERR_INVALID, "HQ has no roster: create the "
		    "network with: koden network init");
	if ((n->audit_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return kerr_set(e, KERR_IO, "eventfd: %s", strerror(errno));
	if ((r = naudit_open(&n->audit, nodedir, n->cfg.name, n->key,
	    n->audit_fd, e)) != 0)
		return r;
	return 0;
}

/*
 * SIGTERM and SIGINT stop the loop after this turn; SIGHUP reloads the
 * roster.  The signalfd's handler, called by the loop.
 */
static void
on_signal(struct node *n, struct node_ev *ev, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)ev;
	(void)events;
	while (read(n->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			struct kerr ke = { "" };

			log_info("SIGHUP: reloading");
			if (node_reload_roster(n, &ke) != 0)
				log_err("reload: %s", ke.msg);
			naudit_event(n->audit, "kodend", "SIGHUP", "reload",
			    n->cfg.name, ke.msg[0] ? "fail" : "ok", "%s",
			    ke.msg);
		} else
			n->stopping = NODE_STOP_ASKED;
	}
}

int
node_run(struct node *n, struct kerr *e)
{
	char pidsrc[64], confhash[65];
	sigset_t mask;
	int r;

	if ((n->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return kerr_set(e, KERR_IO, "epoll: %s", strerror(errno));
	if (n->cfg.role == ROLE_HQ && (r = listen_peers(n, e)) != 0)
		return r;
	if ((r = apiserver_listen(n, e)) != 0)
		return r;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((n->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return kerr_set(e, KERR_IO, "signalfd: %s", strerror(errno));
	verifier_start(n);	/* after sigprocmask: it inherits the mask */
	if (node_ev_add(n, n->sig_fd, &n->ev_sig, EPOLLIN) != 0 ||
	    (n->audit_fd >= 0 &&
	    node_ev_add(n, n->audit_fd, &n->ev_audit, EPOLLIN) != 0) ||
	    node_ev_add(n, n->sync_fd, &n->ev_sync, EPOLLIN) != 0)
		return kerr_set(e, KERR_IO, "epoll: %s", strerror(errno));
	snprintf(pidsrc, sizeof(pidsrc), "pid %ld uid %ld", (long)getpid(),
	    (long)getuid());
	config_hash(n, confhash);
	naudit_event(n->audit, "kodend", pidsrc, "start", n->cfg.name, "ok",
	    "%s %s, roster version %llu, kodend.conf sha256=%s",
	    n->cfg.role == ROLE_HQ ? "HQ" : "post", n->cfg.name,
	    (unsigned long long)n->roster.version, confhash);
	log_info("%s %s started (roster version %llu)",
	    n->cfg.role == ROLE_HQ ? "HQ" : "post", n->cfg.name,
	    (unsigned long long)n->roster.version);
	if ((r = loop_run(n, e)) != 0)
		return r;
	if (n->stopping == NODE_STOP_ASKED) {
		/* on disk, and the acknowledgements on their way */
		(void)node_durable(n);
		log_info("stopped");
	}
	naudit_event(n->audit, "kodend", pidsrc, "stop", n->cfg.name,
	    n->stopping == NODE_STOP_FAILED ? "fail: storage error" : "ok",
	    NULL);
	return n->stopping == NODE_STOP_FAILED ? kerr_set(e, KERR_IO,
	    "stopped on a storage error") : 0;
}

void
node_close(struct node *n)
{
	char path[PATH_MAX];

	verifier_stop(n);
	naudit_close(n->audit);	/* the final head */
	n->audit = NULL;
	if (n->audit_fd >= 0)
		close(n->audit_fd);
	for (size_t i = 0; i < n->n_aq; i++)
		buf_free(&n->aq[i].msg);
	free(n->aq);
	for (size_t i = 0; i < n->n_vq; i++) {
		buf_free(&n->vq[i].msg);
		free(n->vq[i].h);
	}
	free(n->vq);

	while (n->conns != NULL) {
		struct conn *c = n->conns;

		n->conns = c->next;
		if (c->state != CONN_DEAD)
			close(c->fd);
		conn_free(c);
	}
	if (n->api_fd >= 0) {
		close(n->api_fd);
		if (node_path(path, sizeof(path), n->dir, NODE_SOCK_FILE) == 0)
			unlink(path);
	}
	if (n->listen_fd >= 0)
		close(n->listen_fd);
	if (n->sig_fd >= 0)
		close(n->sig_fd);
	if (n->epfd >= 0)
		close(n->epfd);
	if (n->st != NULL)
		store_close(n->st);	/* stops its fsync thread, then: */
	if (n->sync_fd >= 0)
		close(n->sync_fd);
	if (n->have_roster)
		roster_free(&n->roster);
	buf_free(&n->roster_blob);
	identity_free(n->key);
	identity_free(n->dirkey);
	sodium_memzero(&n->nk, sizeof(n->nk));
	node_pending_drop_all(n);	/* not durable: the peers send again */
	free(n->pend);
	free(n->dirty);
	free(n->wait);
	free(n->rec_pt);
	free(n->rec_ct);
	free(n->frame_pt);
	if (n->lock_fd >= 0)
		close(n->lock_fd);
}
