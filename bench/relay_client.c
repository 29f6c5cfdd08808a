/*
 * bench/relay_client.c: the client side of bench/relay.sh (issue 3).
 *
 *   relay_client throughput --hq HQDIR -n N [-w W] [-s BYTES] [-j T] POSTDIR:KEY...
 *       each post sends N telegrams, alternating between the other posts;
 *       times first submit -> all at HQ -> all in the addressees' inboxes
 *       -> all delivered receipts back at their origins
 *   relay_client queue --hq HQDIR -n N --to NAME [-p PREC] POSTDIR:KEY
 *       N telegrams to one post; returns when HQ holds all of them
 *   relay_client flash --hq HQDIR -n N --to NAME --to-dir DIR [--gap-ms G] POSTDIR:KEY
 *       N FLASH telegrams one at a time: submit -> in the addressee's inbox
 *       -> delivered receipt back at the origin (API status)
 *   relay_client fanout -n N --to-file FILE POSTDIR:KEY
 *       N telegrams one at a time, each to every post in FILE: submit ->
 *       all delivered receipts back at the origin (API status)
 *   relay_client smtp --port P -n N [-c CONNS] [-s BYTES] [--queue DIR]...
 *       the Postfix side: N messages over CONNS SMTP connections to
 *       127.0.0.1:P, then waits until every --queue directory is empty
 *   relay_client roster-wait --hq HQDIR NODEDIR...
 *       waits until every node holds HQ's current roster version
 *
 * Telegrams are sealed exactly as `koden send` seals them (cmd_send in
 * src/cli/node_cmds.c): a drafting-text telegram of -s bytes (default
 * 4096), parsed with the default policy, a serial from kodend (API_SERIAL),
 * a random id, sealed with the officer's key to the addressee posts' keys
 * from the signed roster plus the origin post's key, then handed to kodend
 * with API_SEND.  Sealing happens before the clock starts.  Sends go over
 * one API connection per origin post, pipelined: up to -w requests are
 * outstanding (kodend answers each only after its group commit).
 *
 * Progress is read from the nodes' store.db files through read-only SQLite
 * connections (counts of env, inbox and status rows), every few
 * milliseconds; at the end every telegram's state is checked through
 * API_STATUS on its origin.  The kodends' CPU time (from /proc) is read at
 * the first submit and when the last receipt is back.  Results are printed
 * as key=value lines on stdout, progress on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "crypto/keys.h"
#include "node/admin.h"
#include "node/api.h"
#include "node/config.h"
#include "node/directory.h"
#include "telegram/envelope.h"
#include "telegram/tg.h"

#include "relay_common.h"

const char *bench_prog = "relay_client";

#define MAX_ORIGINS 16
#define STATE_AT_HQ 2
#define STATE_DELIVERED 3

static int
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;

	while (n > 0) {
		ssize_t w = write(fd, q, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- a buffered reader for API replies and SMTP lines -------------------- */

struct rbuf {
	int fd;
	uint8_t *p;
	size_t off, len, cap;
};

static void
rbuf_init(struct rbuf *r, int fd)
{
	r->fd = fd;
	r->cap = 1u << 20;
	r->p = xcalloc(r->cap, 1);
	r->off = r->len = 0;
}

/* Make at least n bytes available at r->p + r->off; -1 on EOF or error. */
static int
rbuf_fill(struct rbuf *r, size_t n)
{
	while (r->len - r->off < n) {
		ssize_t k;

		if (r->off > 0) {
			memmove(r->p, r->p + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		if (n > r->cap) {
			while (r->cap < n)
				r->cap *= 2;
			if ((r->p = realloc(r->p, r->cap)) == NULL)
				die("out of memory");
		}
		k = read(r->fd, r->p + r->len, r->cap - r->len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		r->len += (size_t)k;
	}
	return 0;
}

/* One API reply: status (0 or a negative KERR_*) and its body. */
static int
api_read_reply(struct rbuf *r, int *status, const uint8_t **body, size_t *len)
{
	uint32_t l;

	if (rbuf_fill(r, 4) != 0)
		return -1;
	l = (uint32_t)r->p[r->off] << 24 | (uint32_t)r->p[r->off + 1] << 16 |
	    (uint32_t)r->p[r->off + 2] << 8 | r->p[r->off + 3];
	if (l < 1 || l > API_MSG_MAX || rbuf_fill(r, 4 + (size_t)l) != 0)
		return -1;
	*status = -(int)r->p[r->off + 4];
	*body = r->p + r->off + 5;
	*len = l - 1;
	r->off += 4 + (size_t)l;
	return 0;
}

static int
api_write_req(int fd, uint8_t op, const uint8_t *body, size_t len)
{
	uint8_t hdr[5];
	struct iovec iov[2];
	size_t total = 5 + len, done = 0;

	hdr[0] = (uint8_t)((len + 1) >> 24);
	hdr[1] = (uint8_t)((len + 1) >> 16);
	hdr[2] = (uint8_t)((len + 1) >> 8);
	hdr[3] = (uint8_t)(len + 1);
	hdr[4] = op;
	while (done < total) {
		ssize_t w;
		int k = 0;

		if (done < 5) {
			iov[k].iov_base = hdr + done;
			iov[k++].iov_len = 5 - done;
			if (len) {
				iov[k].iov_base = (void *)body;
				iov[k++].iov_len = len;
			}
		} else {
			iov[k].iov_base = (void *)(body + (done - 5));
			iov[k++].iov_len = total - done;
		}
		w = writev(fd, iov, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

/* ---- the node side: origins, rosters, sealing ----------------------------- */

struct origin {
	char dir[PATH_MAX];
	char keyfile[PATH_MAX];
	struct config cfg;
	struct identity *me;
	struct roster ro;
	const char *name;
	/* this run's telegrams */
	size_t n;
	struct buf *env;
	uint8_t (*id)[16];
	char (*to)[TG_POST_MAX + 1];	/* first addressee, for the checks */
	uint64_t *serial;
	double *t_sub, *t_ack;
	/* the pipelined sender */
	int fd;
	size_t window;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t sent, acked;
	int failed;
	char err[256];
	double t_acked;
};

static void
origin_load(struct origin *o, const char *spec)
{
	const char *colon = strrchr(spec, ':');
	struct kerr e = { "" };
	struct buf resp;
	uint8_t *txt = NULL;
	size_t len = 0;
	uint8_t dpk[32];
	int fd, r;

	memset(o, 0, sizeof(*o));
	if (colon == NULL || colon == spec || colon[1] == '\0')
		die("'%s': expected NODEDIR:OFFICER_KEYFILE", spec);
	snprintf(o->dir, sizeof(o->dir), "%.*s", (int)(colon - spec), spec);
	snprintf(o->keyfile, sizeof(o->keyfile), "%s", colon + 1);
	if (config_load(&o->cfg, o->dir, &e) != 0)
		die("%s: %s", o->dir, e.msg);
	o->name = o->cfg.name;
	if ((r = keyfile_read(o->keyfile, &txt, &len, &e)) != 0 ||
	    (r = keyfile_decode(&o->me, txt, len, NULL, 0, &e)) != 0)
		die("%s: %s", o->keyfile, kerr_msg(&e, r));
	sodium_memzero(txt, len);
	free(txt);
	if (o->cfg.role == ROLE_HQ) {
		struct identity *dk = NULL;
		char path[PATH_MAX];

		if (node_path(path, sizeof(path), o->dir, NODE_DIRKEY_FILE) != 0 ||
		    keyfile_read(path, &txt, &len, &e) != 0 ||
		    keyfile_decode(&dk, txt, len, NULL, 0, &e) != 0)
			die("%s: %s", o->dir, e.msg);
		free(txt);
		memcpy(dpk, dk->pub.sign, 32);
		identity_free(dk);
	} else
		memcpy(dpk, o->cfg.dir_pk, 32);
	if ((fd = api_connect(o->dir, &e)) < 0)
		die("%s", e.msg);
	buf_init(&resp, ROSTER_MAX);
	if ((r = api_call(fd, API_ROSTER, NULL, 0, &resp, &e)) != 0 ||
	    (r = roster_decode(&o->ro, resp.p, resp.len, dpk, &e)) != 0)
		die("%s: roster: %s", o->dir, kerr_msg(&e, r));
	buf_free(&resp);
	close(fd);
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
}

static void
origin_alloc(struct origin *o, size_t n)
{
	o->n = n;
	o->env = xcalloc(n, sizeof(*o->env));
	o->id = xcalloc(n, sizeof(*o->id));
	o->to = xcalloc(n, sizeof(*o->to));
	o->serial = xcalloc(n, sizeof(*o->serial));
	o->t_sub = xcalloc(n, sizeof(*o->t_sub));
	o->t_ack = xcalloc(n, sizeof(*o->t_ack));
	o->sent = o->acked = 0;
	o->failed = 0;
}

static void
origin_release(struct origin *o)
{
	for (size_t i = 0; i < o->n; i++)
		buf_free(&o->env[i]);
	free(o->env);
	free(o->id);
	free(o->to);
	free(o->serial);
	free(o->t_sub);
	free(o->t_ack);
	o->n = 0;
}

/* Serials for n telegrams, as cmd_send asks for each (pipelined here). */
static void
reserve_serials(struct origin *o)
{
	struct kerr e = { "" };
	struct rbuf rb;
	size_t sent = 0, got = 0;
	int fd;

	if ((fd = api_connect(o->dir, &e)) < 0)
		die("%s", e.msg);
	rbuf_init(&rb, fd);
	while (got < o->n) {
		const uint8_t *b;
		size_t bl;
		int st;
		struct rd rd;
		uint64_t v;

		while (sent < o->n && sent - got < 512) {
			if (api_write_req(fd, API_SERIAL, NULL, 0) != 0)
				die("%s: API_SERIAL: write failed", o->name);
			sent++;
		}
		if (api_read_reply(&rb, &st, &b, &bl) != 0 || st != 0)
			die("%s: API_SERIAL failed", o->name);
		rd_init(&rd, b, bl);
		if (rd_u64(&rd, &v) != 0)
			die("%s: malformed API_SERIAL reply", o->name);
		o->serial[got++] = v > TG_SERIAL_MAX ? 0 : v;
	}
	free(rb.p);
	close(fd);
}

/*
 * Seeded word salad after first, wrapped at 72 columns (continuation lines
 * start with indent), at most want bytes.
 */
static void
salad(struct buf *b, uint64_t seed, size_t want, const char *first,
    const char *indent, const char *eol)
{
	size_t start = b->len, col = strlen(first);
	uint64_t x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	int fresh = 1;

	if (buf_put(b, first, strlen(first)) != 0)
		die("out of memory");
	for (;;) {
		const char *w;
		size_t wl;

		x ^= x >> 33;
		x *= 0xff51afd7ed558ccdULL;
		x ^= x >> 29;
		w = bench_words[x % bench_nwords];
		wl = strlen(w);
		if (b->len - start + 1 + wl + strlen(eol) + strlen(indent) > want)
			break;
		if (!fresh && col + 1 + wl > 72) {
			if (buf_put(b, eol, strlen(eol)) != 0 ||
			    buf_put(b, indent, strlen(indent)) != 0)
				die("out of memory");
			col = strlen(indent);
			fresh = 1;
		}
		if (!fresh) {
			if (buf_put_u8(b, ' ') != 0)
				die("out of memory");
			col++;
		}
		if (buf_put(b, w, wl) != 0)
			die("out of memory");
		col += wl;
		fresh = 0;
	}
}

/* Pad b with " XXX..." up to len bytes (nothing if it is there already). */
static void
pad_to(struct buf *b, size_t len)
{
	if (b->len + 1 < len && buf_put_u8(b, ' ') != 0)
		die("out of memory");
	while (b->len < len)
		if (buf_put_u8(b, 'X') != 0)
			die("out of memory");
}

/*
 * The drafting text of one telegram: exactly size bytes when size is larger
 * than the header (the paragraph is padded with X).
 */
static void
make_draft(struct buf *d, const char *from, char **to, size_t nto,
    const char *prec, const char *drafter, uint64_t k, size_t size)
{
	char line[256];
	size_t col;

	d->len = 0;
	snprintf(line, sizeof(line), "FROM: %s\nTO:", from);
	if (buf_put(d, line, strlen(line)) != 0)
		die("out of memory");
	col = 3;
	for (size_t i = 0; i < nto; i++) {
		size_t l = strlen(to[i]) + 2;

		if (col + l > 72) {
			if (buf_put(d, "\n   ", 4) != 0)
				die("out of memory");
			col = 3;
		}
		snprintf(line, sizeof(line), " %s%s", to[i], i + 1 < nto ? "," : "");
		if (buf_put(d, line, strlen(line)) != 0)
			die("out of memory");
		col += l;
	}
	snprintf(line, sizeof(line), "\nPRECEDENCE: %s\nCLASSIFICATION: SECRET\n"
	    "SUBJECT: Relay benchmark %s %llu\nDRAFTER: %s\n\n", prec, from,
	    (unsigned long long)k, drafter);
	if (buf_put(d, line, strlen(line)) != 0)
		die("out of memory");
	if (size > d->len + 16) {
		size_t before = d->len;

		salad(d, k, size - before - 1, "1. ", "   ", "\n");
		pad_to(d, size - 1);
	} else if (buf_put(d, "1. Benchmark.", 13) != 0)
		die("out of memory");
	if (buf_put_u8(d, '\n') != 0)
		die("out of memory");
}

/* Seal one draft as cmd_send does; the envelope goes to *env, the id to id. */
static void
seal_draft(struct origin *o, const struct buf *draft, uint64_t serial,
    struct buf *env, uint8_t id[16])
{
	struct tg_policy pol;
	struct tg *t = NULL;
	struct pubkey *rcpt;
	struct kerr e = { "" };
	size_t n = 0;
	int r;

	tg_policy_default(&pol);
	if ((r = tg_parse_draft(&t, (const char *)draft->p, draft->len, &pol,
	    &e)) != 0)
		die("draft: %s", kerr_msg(&e, r));
	rcpt = xcalloc(TG_ADDRESSEES_MAX + 2, sizeof(*rcpt));
	for (size_t pass = 0; pass < 3; pass++) {
		const struct tg_list *l = pass == 0 ? &t->to : &t->info;
		size_t cnt = pass == 2 ? 1 : l->n;

		for (size_t i = 0; i < cnt; i++) {
			const char *name = pass == 2 ? t->origin : l->v[i];
			const struct roster_entry *re = roster_find(&o->ro, name);

			if (re == NULL || re->revoked)
				die("%s is not in %s's roster", name, o->name);
			rcpt[n++] = re->pk;
		}
	}
	t->serial = serial;
	tg_new_id(t->id);
	t->dtg = (uint64_t)time(NULL);
	buf_init(env, ENV_MAX);
	if ((r = env_seal(env, t, o->me, o->me, rcpt, n, &e)) != 0)
		die("seal: %s", kerr_msg(&e, r));
	memcpy(id, t->id, 16);
	free(rcpt);
	tg_free(t);
}

/* What to seal: telegram i of origin o goes to to_of(o, i). */
struct sealjob {
	struct origin **o;
	size_t n_o;
	char **(*to_of)(struct origin *o, size_t i, size_t *nto, void *arg);
	void *arg;
	const char *prec;
	size_t size;
	atomic_size_t next;
	size_t total;
};

static void *
seal_worker(void *arg)
{
	struct sealjob *j = arg;
	struct buf d;

	buf_init(&d, TG_DRAFT_MAX);
	for (;;) {
		size_t k = atomic_fetch_add(&j->next, 1), oi = 0, i;
		struct origin *o;
		char **to;
		size_t nto;

		if (k >= j->total)
			break;
		i = k;
		while (i >= j->o[oi]->n)
			i -= j->o[oi++]->n;
		o = j->o[oi];
		to = j->to_of(o, i, &nto, j->arg);
		snprintf(o->to[i], sizeof(o->to[i]), "%s", to[0]);
		make_draft(&d, o->name, to, nto, j->prec, o->me->name[0] ?
		    o->me->name : "K. SATO", o->serial[i] * 1000 + oi, j->size);
		seal_draft(o, &d, o->serial[i], &o->env[i], o->id[i]);
	}
	buf_free(&d);
	return NULL;
}

/* Seal every telegram of every origin with nthreads threads; seconds taken. */
static double
seal_all(struct sealjob *j, int nthreads)
{
	pthread_t th[64];
	double t0 = now();

	j->total = 0;
	for (size_t i = 0; i < j->n_o; i++) {
		reserve_serials(j->o[i]);
		j->total += j->o[i]->n;
	}
	atomic_store(&j->next, 0);
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > 64)
		nthreads = 64;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, seal_worker, j) != 0)
			die("pthread_create");
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	return now() - t0;
}

/* ---- the pipelined sender: one API connection per origin ------------------ */

static void *
send_writer(void *arg)
{
	struct origin *o = arg;

	for (size_t i = 0; i < o->n; i++) {
		pthread_mutex_lock(&o->mu);
		while (o->sent - o->acked >= o->window && !o->failed)
			pthread_cond_wait(&o->cv, &o->mu);
		if (o->failed) {
			pthread_mutex_unlock(&o->mu);
			return NULL;
		}
		o->t_sub[i] = now();
		o->sent++;
		pthread_mutex_unlock(&o->mu);
		if (api_write_req(o->fd, API_SEND, o->env[i].p, o->env[i].len) != 0) {
			pthread_mutex_lock(&o->mu);
			if (!o->failed)
				snprintf(o->err, sizeof(o->err), "write to kodend "
				    "failed: %s", strerror(errno));
			o->failed = 1;
			pthread_cond_broadcast(&o->cv);
			pthread_mutex_unlock(&o->mu);
			return NULL;
		}
	}
	return NULL;
}

static void *
send_reader(void *arg)
{
	struct origin *o = arg;
	struct rbuf rb;

	rbuf_init(&rb, o->fd);
	for (size_t i = 0; i < o->n; i++) {
		const uint8_t *b;
		size_t bl;
		int st;

		if (api_read_reply(&rb, &st, &b, &bl) != 0 || st != 0 ||
		    bl != 16 || memcmp(b, o->id[i], 16) != 0) {
			pthread_mutex_lock(&o->mu);
			snprintf(o->err, sizeof(o->err), "telegram %zu: %s", i,
			    st != 0 && bl > 2 ? (const char *)b + 2 :
			    "bad or missing API_SEND reply");
			o->failed = 1;
			pthread_cond_broadcast(&o->cv);
			pthread_mutex_unlock(&o->mu);
			break;
		}
		o->t_ack[i] = now();
		pthread_mutex_lock(&o->mu);
		o->acked++;
		pthread_cond_signal(&o->cv);
		pthread_mutex_unlock(&o->mu);
	}
	o->t_acked = now();
	free(rb.p);
	return NULL;
}

struct sender {
	pthread_t w, r;
};

static void
send_start(struct origin *o, struct sender *s, size_t window)
{
	struct kerr e = { "" };

	if ((o->fd = api_connect(o->dir, &e)) < 0)
		die("%s", e.msg);
	o->window = window ? window : 1;
	if (pthread_create(&s->r, NULL, send_reader, o) != 0 ||
	    pthread_create(&s->w, NULL, send_writer, o) != 0)
		die("pthread_create");
}

static void
send_join(struct origin *o, struct sender *s)
{
	pthread_join(s->w, NULL);
	pthread_join(s->r, NULL);
	close(o->fd);
	if (o->failed)
		die("%s: %s", o->name, o->err);
}

/* ---- reading progress from the stores ------------------------------------- */

static sqlite3 *
db_open(const char *nodedir)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/%s", nodedir, NODE_DB_FILE);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_busy_timeout(db, 2000);
	return db;
}

static long long
db_count(sqlite3 *db, const char *sql, const char *arg, const void *blob,
    int blen)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die("sqlite: %s: %s", sql, sqlite3_errmsg(db));
	if (arg != NULL)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (blob != NULL)
		sqlite3_bind_blob(st, 1, blob, blen, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* kodend's pid from NODEDIR/kodend.pid, or 0. */
static int
node_pid(const char *nodedir)
{
	char path[PATH_MAX];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/%s", nodedir, NODE_PID_FILE);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

/* CPU time (user + system) a process has used, in milliseconds. */
static double
cpu_ms(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (pid <= 0 || (f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Rows of env and inbox are never deleted, so max(rowid) counts what was
 * inserted, in O(log n): count(*) walked a whole index on every poll, and
 * polling every 5 ms, the observer took about 7% of the machine from the
 * kodends it measured (perf, 2026-11-29).
 */
#define Q_ENV "SELECT coalesce(max(rowid), 0) FROM env"
#define Q_INBOX "SELECT coalesce(max(rowid), 0) FROM inbox"
#define Q_DELIVERED "SELECT count(*) FROM status WHERE state >= 3"
#define Q_HAS "SELECT count(*) FROM inbox WHERE id = ?"
#define Q_QUEUED "SELECT count(*) FROM queue WHERE link = ? AND kind = 1"
#define Q_ROSTER "SELECT coalesce(max(u64), 0) FROM meta WHERE key = 'roster_version'"

/*
 * Check every telegram's per-addressee state through API_STATUS on its
 * origin (pipelined).  Returns how many (telegram, addressee) pairs are at
 * least min_state; *pairs gets the number of pairs.
 */
static size_t
verify_status(struct origin *o, int min_state, size_t *pairs)
{
	struct kerr e = { "" };
	struct rbuf rb;
	size_t sent = 0, got = 0, ok = 0;
	int fd;

	*pairs = 0;
	if ((fd = api_connect(o->dir, &e)) < 0)
		die("%s", e.msg);
	rbuf_init(&rb, fd);
	while (got < o->n) {
		const uint8_t *b;
		size_t bl;
		int st;
		struct rd rd;
		uint16_t k;

		while (sent < o->n && sent - got < 256) {
			char hex[TG_ID_HEX];
			uint8_t req[1 + TG_ID_HEX];

			tg_id_hex(hex, o->id[sent]);
			req[0] = (uint8_t)strlen(hex);
			memcpy(req + 1, hex, strlen(hex));
			if (api_write_req(fd, API_STATUS, req, 1 + strlen(hex)) != 0)
				die("%s: API_STATUS: write failed", o->name);
			sent++;
		}
		if (api_read_reply(&rb, &st, &b, &bl) != 0 || st != 0)
			die("%s: API_STATUS failed", o->name);
		rd_init(&rd, b, bl);
		if (rd_take(&rd, &b, 16) != 0 || rd_u16(&rd, &k) != 0)
			die("%s: malformed API_STATUS reply", o->name);
		for (uint16_t i = 0; i < k; i++) {
			char *dest = NULL;
			uint8_t s;
			uint64_t tm;

			if (rd_str8(&rd, &dest) != 0 || rd_u8(&rd, &s) != 0 ||
			    rd_u64(&rd, &tm) != 0)
				die("%s: malformed API_STATUS reply", o->name);
			free(dest);
			(*pairs)++;
			ok += s >= min_state;
		}
		got++;
	}
	free(rb.p);
	close(fd);
	return ok;
}

/* One API_STATUS for one id: how many addressees, how many >= each state. */
static int
status_once(int fd, struct rbuf *rb, const uint8_t id[16], size_t *n,
    size_t *at_hq, size_t *delivered)
{
	char hex[TG_ID_HEX];
	uint8_t req[1 + TG_ID_HEX];
	const uint8_t *b;
	size_t bl;
	struct rd rd;
	uint16_t k;
	int st;

	tg_id_hex(hex, id);
	req[0] = (uint8_t)strlen(hex);
	memcpy(req + 1, hex, strlen(hex));
	if (api_write_req(fd, API_STATUS, req, 1 + strlen(hex)) != 0 ||
	    api_read_reply(rb, &st, &b, &bl) != 0 || st != 0)
		return -1;
	rd_init(&rd, b, bl);
	if (rd_take(&rd, &b, 16) != 0 || rd_u16(&rd, &k) != 0)
		return -1;
	*n = k;
	*at_hq = *delivered = 0;
	for (uint16_t i = 0; i < k; i++) {
		char *dest = NULL;
		uint8_t s;
		uint64_t tm;

		if (rd_str8(&rd, &dest) != 0 || rd_u8(&rd, &s) != 0 ||
		    rd_u64(&rd, &tm) != 0)
			return -1;
		free(dest);
		*at_hq += s >= STATE_AT_HQ;
		*delivered += s >= STATE_DELIVERED;
	}
	return 0;
}

/* ---- options shared by the node commands --------------------------------- */

struct opts {
	const char *hq;
	size_t n;
	size_t window;
	size_t size;
	int threads;
	const char *to;
	const char *to_dir;
	const char *to_file;
	const char *prec;
	double gap_ms;
	double timeout;
	int port;
	int conns;
	const char *queues[8];
	int n_queues;
	char **pos;
	int n_pos;
};

static void
parse_opts(struct opts *op, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "hq", required_argument, NULL, 'H' },
		{ "count", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 'j' },
		{ "to", required_argument, NULL, 't' },
		{ "to-dir", required_argument, NULL, 'D' },
		{ "to-file", required_argument, NULL, 'F' },
		{ "prec", required_argument, NULL, 'p' },
		{ "gap-ms", required_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "port", required_argument, NULL, 'P' },
		{ "conns", required_argument, NULL, 'c' },
		{ "queue", required_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(op, 0, sizeof(*op));
	op->n = 1000;
	op->window = 128;
	op->size = 4096;
	op->threads = 2;
	op->prec = "ROUTINE";
	op->gap_ms = 20;
	op->timeout = 600;
	op->conns = 16;
	optind = 1;
	while ((c = getopt_long(argc, argv, "H:n:w:s:j:t:D:F:p:g:T:P:c:Q:", lo,
	    NULL)) != -1) {
		switch (c) {
		case 'H': op->hq = optarg; break;
		case 'n': op->n = strtoull(optarg, NULL, 10); break;
		case 'w': op->window = strtoull(optarg, NULL, 10); break;
		case 's': op->size = strtoull(optarg, NULL, 10); break;
		case 'j': op->threads = atoi(optarg); break;
		case 't': op->to = optarg; break;
		case 'D': op->to_dir = optarg; break;
		case 'F': op->to_file = optarg; break;
		case 'p': op->prec = optarg; break;
		case 'g': op->gap_ms = atof(optarg); break;
		case 'T': op->timeout = atof(optarg); break;
		case 'P': op->port = atoi(optarg); break;
		case 'c': op->conns = atoi(optarg); break;
		case 'Q':
			if (op->n_queues < 8)
				op->queues[op->n_queues++] = optarg;
			break;
		default: exit(2);
		}
	}
	op->pos = argv + optind;
	op->n_pos = argc - optind;
}

/* ---- throughput: every post to every other post -------------------------- */

struct others {
	struct origin **o;
	size_t n;
};

static char **
to_others(struct origin *o, size_t i, size_t *nto, void *arg)
{
	struct others *ot = arg;
	static __thread char *one[1];
	size_t k = 0, pick = i % (ot->n - 1);

	for (size_t j = 0; j < ot->n; j++) {
		if (ot->o[j] == o)
			continue;
		if (k++ == pick) {
			one[0] = (char *)ot->o[j]->name;
			break;
		}
	}
	*nto = 1;
	return one;
}

static int
cmd_throughput(int argc, char **argv)
{
	struct opts op;
	struct origin *o[MAX_ORIGINS];
	struct sender snd[MAX_ORIGINS];
	sqlite3 *hqdb, *db[MAX_ORIGINS];
	long long base_env, base_inbox[MAX_ORIGINS], base_del[MAX_ORIGINS];
	long long want_inbox[MAX_ORIGINS], want_del[MAX_ORIGINS], total = 0;
	struct others ot;
	struct sealjob sj;
	double seal_s, t0, t_hq = 0, t_in = 0, t_del = 0, t_acked = 0, deadline;
	double *lat, cpu_hq0, cpu_hq1 = 0, cpu_posts0 = 0, cpu_posts1 = 0;
	size_t k, n_o, pairs = 0, okp = 0;
	int hq_pid, pid[MAX_ORIGINS];

	parse_opts(&op, argc, argv);
	if (op.hq == NULL || op.n_pos < 2 || op.n_pos > MAX_ORIGINS)
		die("usage: relay_client throughput --hq HQDIR -n N [-w W] "
		    "[-s BYTES] [-j THREADS] POSTDIR:KEY POSTDIR:KEY...");
	n_o = (size_t)op.n_pos;
	for (size_t i = 0; i < n_o; i++) {
		o[i] = xcalloc(1, sizeof(*o[i]));
		origin_load(o[i], op.pos[i]);
		origin_alloc(o[i], op.n);
	}
	ot.o = o;
	ot.n = n_o;
	memset(&sj, 0, sizeof(sj));
	sj.o = o;
	sj.n_o = n_o;
	sj.to_of = to_others;
	sj.arg = &ot;
	sj.prec = op.prec;
	sj.size = op.size;
	seal_s = seal_all(&sj, op.threads);
	fprintf(stderr, "  sealed %zu telegrams in %.1f s\n", sj.total, seal_s);

	/* what each store must reach */
	hqdb = db_open(op.hq);
	base_env = db_count(hqdb, Q_ENV, NULL, NULL, 0);
	for (size_t i = 0; i < n_o; i++) {
		db[i] = db_open(o[i]->dir);
		base_inbox[i] = db_count(db[i], Q_INBOX, NULL, NULL, 0);
		base_del[i] = db_count(db[i], Q_DELIVERED, NULL, NULL, 0);
		want_inbox[i] = 0;
		want_del[i] = (long long)o[i]->n;
		total += (long long)o[i]->n;
	}
	for (size_t i = 0; i < n_o; i++)
		for (size_t t = 0; t < o[i]->n; t++)
			for (size_t j = 0; j < n_o; j++)
				if (strcmp(o[i]->to[t], o[j]->name) == 0)
					want_inbox[j]++;

	hq_pid = node_pid(op.hq);
	cpu_hq0 = cpu_ms(hq_pid);
	for (size_t i = 0; i < n_o; i++) {
		pid[i] = node_pid(o[i]->dir);
		cpu_posts0 += cpu_ms(pid[i]);
	}
	t0 = now();
	for (size_t i = 0; i < n_o; i++)
		send_start(o[i], &snd[i], op.window);
	deadline = t0 + op.timeout;
	while (now() < deadline && (!t_hq || !t_in || !t_del)) {
		int in_ok = 1, del_ok = 1;

		sleep_ms(5);
		if (!t_hq && db_count(hqdb, Q_ENV, NULL, NULL, 0) - base_env >=
		    total)
			t_hq = now();
		for (size_t i = 0; i < n_o && !t_in; i++)
			in_ok &= db_count(db[i], Q_INBOX, NULL, NULL, 0) -
			    base_inbox[i] >= want_inbox[i];
		if (!t_in && in_ok)
			t_in = now();
		/* every receipt back implies every telegram in: the status
		 * tables (a scan each) are read only from then on */
		del_ok = t_in != 0;
		for (size_t i = 0; i < n_o && t_in && !t_del; i++)
			del_ok &= db_count(db[i], Q_DELIVERED, NULL, NULL, 0) -
			    base_del[i] >= want_del[i];
		if (!t_del && del_ok) {
			t_del = now();
			cpu_hq1 = cpu_ms(hq_pid);
			for (size_t i = 0; i < n_o; i++)
				cpu_posts1 += cpu_ms(pid[i]);
		}
		for (size_t i = 0; i < n_o; i++)
			if (o[i]->failed)
				die("%s: %s", o[i]->name, o[i]->err);
	}
	for (size_t i = 0; i < n_o; i++) {
		send_join(o[i], &snd[i]);
		if (o[i]->t_acked > t_acked)
			t_acked = o[i]->t_acked;
	}
	if (!t_hq || !t_in || !t_del)
		die("timed out after %.0f s (at HQ: %s, inboxes: %s, receipts: "
		    "%s)", op.timeout, t_hq ? "yes" : "no", t_in ? "yes" : "no",
		    t_del ? "yes" : "no");
	for (size_t i = 0; i < n_o; i++) {
		size_t p = 0;

		okp += verify_status(o[i], STATE_DELIVERED, &p);
		pairs += p;
	}
	lat = xcalloc((size_t)total, sizeof(*lat));
	k = 0;
	for (size_t i = 0; i < n_o; i++)
		for (size_t t = 0; t < o[i]->n; t++)
			lat[k++] = (o[i]->t_ack[t] - o[i]->t_sub[t]) * 1e3;
	printf("telegrams=%lld\nbytes_draft=%zu\nbytes_env=%zu\nwindow=%zu\n",
	    total, op.size, o[0]->env[0].len, op.window);
	printf("seal_s=%.3f\n", seal_s);
	printf("t_acked=%.3f\nt_hq=%.3f\nt_inbox=%.3f\nt_receipts=%.3f\n",
	    t_acked - t0, t_hq - t0, t_in - t0, t_del - t0);
	printf("rate_acked=%.0f\nrate_hq=%.0f\nrate_inbox=%.0f\n"
	    "rate_receipts=%.0f\n", (double)total / (t_acked - t0),
	    (double)total / (t_hq - t0), (double)total / (t_in - t0),
	    (double)total / (t_del - t0));
	printf("ack_ms_p50=%.2f\nack_ms_p99=%.2f\n", pct(lat, k, 50),
	    pct(lat, k, 99));
	printf("cpu_hq_ms_per_tg=%.3f\ncpu_posts_ms_per_tg=%.3f\n",
	    (cpu_hq1 - cpu_hq0) / (double)total,
	    (cpu_posts1 - cpu_posts0) / (double)total);
	printf("status_pairs=%zu\nstatus_delivered=%zu\n", pairs, okp);
	if (okp != pairs || (long long)pairs != total)
		die("API status: %zu of %zu addressee states delivered, %lld "
		    "telegrams", okp, pairs, total);
	sqlite3_close(hqdb);
	for (size_t i = 0; i < n_o; i++) {
		sqlite3_close(db[i]);
		origin_release(o[i]);
	}
	free(lat);
	return 0;
}

/* ---- queue: a backlog for one post ---------------------------------------- */

static char *one_to;

static char **
to_one(struct origin *o, size_t i, size_t *nto, void *arg)
{
	(void)o;
	(void)i;
	(void)arg;
	*nto = 1;
	return &one_to;
}

static int
cmd_queue(int argc, char **argv)
{
	struct opts op;
	struct origin o;
	struct origin *op_o[1] = { &o };
	struct sender s;
	struct sealjob sj;
	sqlite3 *hqdb;
	long long base;
	double seal_s, t0, t_hq = 0, deadline;

	parse_opts(&op, argc, argv);
	if (op.hq == NULL || op.to == NULL || op.n_pos != 1)
		die("usage: relay_client queue --hq HQDIR -n N --to NAME "
		    "[-p PREC] POSTDIR:KEY");
	origin_load(&o, op.pos[0]);
	origin_alloc(&o, op.n);
	one_to = (char *)op.to;
	memset(&sj, 0, sizeof(sj));
	sj.o = op_o;
	sj.n_o = 1;
	sj.to_of = to_one;
	sj.prec = op.prec;
	sj.size = op.size;
	seal_s = seal_all(&sj, op.threads);
	fprintf(stderr, "  sealed %zu telegrams in %.1f s\n", sj.total, seal_s);
	hqdb = db_open(op.hq);
	base = db_count(hqdb, Q_ENV, NULL, NULL, 0);
	t0 = now();
	send_start(&o, &s, op.window);
	deadline = t0 + op.timeout;
	while (now() < deadline && !t_hq) {
		sleep_ms(20);
		if (db_count(hqdb, Q_ENV, NULL, NULL, 0) - base >= (long long)op.n)
			t_hq = now();
		if (o.failed)
			die("%s: %s", o.name, o.err);
	}
	send_join(&o, &s);
	if (!t_hq)
		die("timed out: HQ does not hold all %zu telegrams", op.n);
	printf("queued=%zu\nseal_s=%.3f\nt_acked=%.3f\nt_hq=%.3f\n"
	    "rate_hq=%.0f\nhq_queue=%lld\n", op.n, seal_s, o.t_acked - t0,
	    t_hq - t0, (double)op.n / (t_hq - t0),
	    db_count(hqdb, Q_QUEUED, op.to, NULL, 0));
	sqlite3_close(hqdb);
	origin_release(&o);
	return 0;
}

/* ---- flash: latency behind a backlog --------------------------------------- */

static int
cmd_flash(int argc, char **argv)
{
	struct opts op;
	struct origin o;
	struct origin *op_o[1] = { &o };
	struct sealjob sj;
	struct kerr e = { "" };
	struct rbuf rb;
	sqlite3 *hqdb, *todb;
	double *l_in, *l_rc, *l_ack;
	size_t behind = 0;
	long long backlog_first = -1, backlog_last = -1, backlog0;
	double t_start, t_drained;
	int fd;

	parse_opts(&op, argc, argv);
	if (op.hq == NULL || op.to == NULL || op.to_dir == NULL || op.n_pos != 1)
		die("usage: relay_client flash --hq HQDIR -n N --to NAME "
		    "--to-dir DIR [--gap-ms G] POSTDIR:KEY");
	origin_load(&o, op.pos[0]);
	origin_alloc(&o, op.n);
	one_to = (char *)op.to;
	memset(&sj, 0, sizeof(sj));
	sj.o = op_o;
	sj.n_o = 1;
	sj.to_of = to_one;
	sj.prec = "FLASH";
	sj.size = op.size;
	(void)seal_all(&sj, 1);
	hqdb = db_open(op.hq);
	todb = db_open(op.to_dir);
	l_in = xcalloc(op.n, sizeof(*l_in));
	l_rc = xcalloc(op.n, sizeof(*l_rc));
	l_ack = xcalloc(op.n, sizeof(*l_ack));
	if ((fd = api_connect(o.dir, &e)) < 0)
		die("%s", e.msg);
	rbuf_init(&rb, fd);
	/* the addressee has just been started: wait until its backlog drains */
	t_start = now();
	backlog0 = db_count(hqdb, Q_QUEUED, op.to, NULL, 0);
	for (;;) {
		long long q = db_count(hqdb, Q_QUEUED, op.to, NULL, 0);

		if (q <= backlog0 - (backlog0 / 100 < 1000 ? backlog0 / 100 :
		    1000))
			break;
		if (now() > t_start + 120)
			die("%s's backlog of %lld does not drain", op.to, q);
		sleep_ms(5);
	}
	fprintf(stderr, "  backlog for %s: %lld telegrams; draining after "
	    "%.1f s\n", op.to, backlog0, now() - t_start);
	for (size_t i = 0; i < op.n; i++) {
		long long backlog = db_count(hqdb, Q_QUEUED, op.to, NULL, 0);
		double t0, t_ack, t_in = 0, t_rc = 0, deadline;
		const uint8_t *b;
		size_t bl, na, nh, nd;
		int st;

		if (backlog_first < 0)
			backlog_first = backlog;
		backlog_last = backlog;
		behind += backlog > 0;
		t0 = now();
		if (api_write_req(fd, API_SEND, o.env[i].p, o.env[i].len) != 0 ||
		    api_read_reply(&rb, &st, &b, &bl) != 0 || st != 0)
			die("FLASH %zu: API_SEND failed", i);
		t_ack = now();
		deadline = t0 + 60;
		while (!t_in && now() < deadline) {
			if (db_count(todb, Q_HAS, NULL, o.id[i], 16) > 0)
				t_in = now();
			else
				sleep_ms(0.5);
		}
		while (!t_rc && now() < deadline) {
			if (status_once(fd, &rb, o.id[i], &na, &nh, &nd) != 0)
				die("FLASH %zu: API_STATUS failed", i);
			if (na > 0 && nd == na)
				t_rc = now();
			else
				sleep_ms(0.5);
		}
		if (!t_in || !t_rc)
			die("FLASH %zu not delivered within 60 s", i);
		l_ack[i] = (t_ack - t0) * 1e3;
		l_in[i] = (t_in - t0) * 1e3;
		l_rc[i] = (t_rc - t0) * 1e3;
		fprintf(stderr, "  FLASH %2zu: backlog %6lld, accepted %6.1f ms, "
		    "in inbox %7.1f ms, receipt back %7.1f ms\n", i, backlog,
		    l_ack[i], l_in[i], l_rc[i]);
		sleep_ms(op.gap_ms);
	}
	/* then the rest of the backlog */
	while (now() < t_start + op.timeout &&
	    db_count(hqdb, Q_QUEUED, op.to, NULL, 0) > 0)
		sleep_ms(20);
	t_drained = now();
	if (db_count(hqdb, Q_QUEUED, op.to, NULL, 0) > 0)
		die("the backlog for %s did not drain in %.0f s", op.to,
		    op.timeout);
	printf("backlog=%lld\ndrain_s=%.3f\ndrain_rate=%.0f\n", backlog0,
	    t_drained - t_start, (double)backlog0 / (t_drained - t_start));
	printf("flash=%zu\nflash_behind_backlog=%zu\nbacklog_first=%lld\n"
	    "backlog_last=%lld\n", op.n, behind, backlog_first, backlog_last);
	printf("accept_ms_p50=%.1f\naccept_ms_p99=%.1f\n", pct(l_ack, op.n, 50),
	    pct(l_ack, op.n, 99));
	printf("inbox_ms_p50=%.1f\ninbox_ms_p99=%.1f\ninbox_ms_max=%.1f\n",
	    pct(l_in, op.n, 50), pct(l_in, op.n, 99), pct(l_in, op.n, 100));
	printf("receipt_ms_p50=%.1f\nreceipt_ms_p99=%.1f\nreceipt_ms_max=%.1f\n",
	    pct(l_rc, op.n, 50), pct(l_rc, op.n, 99), pct(l_rc, op.n, 100));
	free(rb.p);
	close(fd);
	sqlite3_close(hqdb);
	sqlite3_close(todb);
	origin_release(&o);
	return 0;
}

/* ---- fanout: one telegram to many posts ------------------------------------ */

struct namelist {
	char **v;
	size_t n;
};

static char **
to_list(struct origin *o, size_t i, size_t *nto, void *arg)
{
	struct namelist *nl = arg;

	(void)o;
	(void)i;
	*nto = nl->n;
	return nl->v;
}

static int
cmd_fanout(int argc, char **argv)
{
	struct opts op;
	struct origin o;
	struct origin *op_o[1] = { &o };
	struct sealjob sj;
	struct namelist nl = { NULL, 0 };
	struct kerr e = { "" };
	struct rbuf rb;
	char line[256];
	double *l_hq, *l_first, *l_all;
	FILE *f;
	int fd;

	parse_opts(&op, argc, argv);
	if (op.to_file == NULL || op.n_pos != 1)
		die("usage: relay_client fanout -n N --to-file FILE POSTDIR:KEY");
	if ((f = fopen(op.to_file, "r")) == NULL)
		die("%s: %s", op.to_file, strerror(errno));
	nl.v = xcalloc(TG_ADDRESSEES_MAX, sizeof(*nl.v));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (nl.n == TG_ADDRESSEES_MAX)
			die("%s: more than %d posts", op.to_file,
			    TG_ADDRESSEES_MAX);
		nl.v[nl.n++] = strdup(line);
	}
	fclose(f);
	origin_load(&o, op.pos[0]);
	origin_alloc(&o, op.n);
	memset(&sj, 0, sizeof(sj));
	sj.o = op_o;
	sj.n_o = 1;
	sj.to_of = to_list;
	sj.arg = &nl;
	sj.prec = op.prec;
	sj.size = op.size;
	(void)seal_all(&sj, op.threads);
	l_hq = xcalloc(op.n, sizeof(*l_hq));
	l_first = xcalloc(op.n, sizeof(*l_first));
	l_all = xcalloc(op.n, sizeof(*l_all));
	if ((fd = api_connect(o.dir, &e)) < 0)
		die("%s", e.msg);
	rbuf_init(&rb, fd);
	for (size_t i = 0; i < op.n; i++) {
		double t0 = now(), t_hq = 0, t_first = 0, t_all = 0, deadline;
		const uint8_t *b;
		size_t bl, na = 0, nh = 0, nd = 0;
		int st;

		if (api_write_req(fd, API_SEND, o.env[i].p, o.env[i].len) != 0 ||
		    api_read_reply(&rb, &st, &b, &bl) != 0 || st != 0)
			die("fanout %zu: API_SEND failed", i);
		deadline = t0 + op.timeout;
		while (!t_all && now() < deadline) {
			if (status_once(fd, &rb, o.id[i], &na, &nh, &nd) != 0)
				die("fanout %zu: API_STATUS failed", i);
			if (!t_hq && na > 0 && nh == na)
				t_hq = now();
			if (!t_first && nd > 0)
				t_first = now();
			if (na > 0 && nd == na)
				t_all = now();
			else
				sleep_ms(2);
		}
		if (!t_all)
			die("fanout %zu: %zu of %zu delivered after %.0f s", i, nd,
			    na, op.timeout);
		if (na != nl.n)
			die("fanout %zu: %zu addressees in status, %zu wanted", i,
			    na, nl.n);
		l_hq[i] = (t_hq - t0) * 1e3;
		l_first[i] = (t_first - t0) * 1e3;
		l_all[i] = (t_all - t0) * 1e3;
		fprintf(stderr, "  fan-out %zu to %zu posts: at HQ %.1f ms, first "
		    "receipt %.1f ms, all %zu receipts %.1f ms\n", i, na, l_hq[i],
		    l_first[i], na, l_all[i]);
		sleep_ms(200);
	}
	printf("posts=%zu\nrepeats=%zu\nbytes_env=%zu\n", nl.n, op.n,
	    o.env[0].len);
	printf("hq_ms_p50=%.1f\nfirst_ms_p50=%.1f\nall_ms_p50=%.1f\n"
	    "all_ms_min=%.1f\nall_ms_max=%.1f\n", pct(l_hq, op.n, 50),
	    pct(l_first, op.n, 50), pct(l_all, op.n, 50), pct(l_all, op.n, 0),
	    pct(l_all, op.n, 100));
	free(rb.p);
	close(fd);
	origin_release(&o);
	return 0;
}

/* ---- smtp: the Postfix side ------------------------------------------------ */

struct smtp_job {
	int port;
	size_t n;
	char **msg;
	size_t *len;
	atomic_size_t next;
	atomic_size_t done;
	atomic_int failed;
	char err[256];
	pthread_mutex_t mu;
};

/* Read one (possibly multi-line) SMTP reply; its code, or -1. */
static int
smtp_reply(struct rbuf *r)
{
	for (;;) {
		size_t i;
		int code;

		for (;;) {
			uint8_t *nl = memchr(r->p + r->off, '\n', r->len - r->off);

			if (nl != NULL) {
				i = (size_t)(nl - (r->p + r->off)) + 1;
				break;
			}
			if (rbuf_fill(r, r->len - r->off + 1) != 0)
				return -1;
		}
		if (i < 4)
			return -1;
		code = atoi((const char *)r->p + r->off);
		r->off += i;
		if (r->p[r->off - i + 3] != '-')
			return code;
	}
}

static void
smtp_fail(struct smtp_job *j, const char *what, int code)
{
	pthread_mutex_lock(&j->mu);
	if (!atomic_load(&j->failed))
		snprintf(j->err, sizeof(j->err), "%s: reply %d", what, code);
	atomic_store(&j->failed, 1);
	pthread_mutex_unlock(&j->mu);
}

static void *
smtp_worker(void *arg)
{
	struct smtp_job *j = arg;
	struct sockaddr_in sa;
	struct rbuf rb;
	char cmd[512];
	int fd, one = 1, code;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)j->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		smtp_fail(j, "connect", errno);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rbuf_init(&rb, fd);
	if ((code = smtp_reply(&rb)) != 220) {
		smtp_fail(j, "greeting", code);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "EHLO client.bench.invalid\r\n");
	if (write_all(fd, cmd, strlen(cmd)) != 0 ||
	    (code = smtp_reply(&rb)) != 250) {
		smtp_fail(j, "EHLO", code);
		goto out;
	}
	while (!atomic_load(&j->failed)) {
		size_t i = atomic_fetch_add(&j->next, 1);

		if (i >= j->n)
			break;
		/* PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write */
		snprintf(cmd, sizeof(cmd), "MAIL FROM:<officer%zu@origin.bench."
		    "invalid>\r\nRCPT TO:<post%zu@dest.bench.invalid>\r\n"
		    "DATA\r\n", i % 3, i % 3);
		if (write_all(fd, cmd, strlen(cmd)) != 0 ||
		    (code = smtp_reply(&rb)) != 250 ||
		    (code = smtp_reply(&rb)) != 250 ||
		    (code = smtp_reply(&rb)) != 354) {
			smtp_fail(j, "MAIL/RCPT/DATA", code);
			break;
		}
		if (write_all(fd, j->msg[i], j->len[i]) != 0 ||
		    write_all(fd, ".\r\n", 3) != 0 ||
		    (code = smtp_reply(&rb)) != 250) {
			smtp_fail(j, "end of data", code);
			break;
		}
		atomic_fetch_add(&j->done, 1);
	}
	if (write_all(fd, "QUIT\r\n", 6) == 0)
		(void)smtp_reply(&rb);
out:
	free(rb.p);
	close(fd);
	return NULL;
}

/* 1 if dir (recursively) holds no regular file. */
static int
dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int empty = 1;

	if (d == NULL)
		return 1;
	while (empty && (de = readdir(d)) != NULL) {
		char p[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR)
			empty = dir_empty(p);
		else
			empty = 0;
	}
	closedir(d);
	return empty;
}

static int
queues_empty(struct opts *op)
{
	static const char *const sub[] = { "maildrop", "incoming", "active",
		"deferred", "hold" };

	for (int q = 0; q < op->n_queues; q++)	/* upstream first */
		for (size_t s = 0; s < sizeof(sub) / sizeof(sub[0]); s++) {
			char p[PATH_MAX];

			snprintf(p, sizeof(p), "%s/%s", op->queues[q], sub[s]);
			if (!dir_empty(p))
				return 0;
		}
	return 1;
}

static int
cmd_smtp(int argc, char **argv)
{
	struct opts op;
	struct smtp_job j;
	pthread_t th[256];
	struct buf m;
	double t0, t_acked, t_empty = 0, deadline;

	parse_opts(&op, argc, argv);
	if (op.port <= 0 || op.conns < 1 || op.conns > 256)
		die("usage: relay_client smtp --port P -n N [-c CONNS] [-s BYTES] "
		    "[--queue QUEUE_DIRECTORY]...");
	memset(&j, 0, sizeof(j));
	j.port = op.port;
	j.n = op.n;
	j.msg = xcalloc(op.n, sizeof(*j.msg));
	j.len = xcalloc(op.n, sizeof(*j.len));
	pthread_mutex_init(&j.mu, NULL);
	buf_init(&m, 1u << 24);
	for (size_t i = 0; i < op.n; i++) {
		char h[512];
		size_t hl;

		/* the same 4 KiB as a telegram: headers, then word salad */
		snprintf(h, sizeof(h), "From: officer%zu@origin.bench.invalid\r\n"
		    "To: post%zu@dest.bench.invalid\r\n"
		    "Subject: Relay benchmark %zu\r\n"
		    "Message-ID: <%zu.%ld@bench.invalid>\r\n"
		    "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\n", i % 3, i % 3,
		    i, i, (long)getpid());
		m.len = 0;
		hl = strlen(h);
		if (buf_put(&m, h, hl) != 0)
			die("out of memory");
		salad(&m, i + 1, op.size > hl + 16 ? op.size - hl - 2 : 16,
		    "1. ", "   ", "\r\n");
		pad_to(&m, op.size - 2);
		if (buf_put(&m, "\r\n", 2) != 0)
			die("out of memory");
		j.msg[i] = xcalloc(m.len, 1);
		memcpy(j.msg[i], m.p, m.len);
		j.len[i] = m.len;
	}
	buf_free(&m);
	t0 = now();
	for (int i = 0; i < op.conns; i++)
		if (pthread_create(&th[i], NULL, smtp_worker, &j) != 0)
			die("pthread_create");
	for (int i = 0; i < op.conns; i++)
		pthread_join(th[i], NULL);
	t_acked = now();
	if (atomic_load(&j.failed))
		die("smtp: %s", j.err);
	if (atomic_load(&j.done) != op.n)
		die("smtp: %zu of %zu messages accepted", atomic_load(&j.done),
		    op.n);
	deadline = t0 + op.timeout;
	while (now() < deadline) {
		if (queues_empty(&op)) {
			t_empty = now();
			break;
		}
		sleep_ms(5);
	}
	if (!t_empty)
		die("smtp: queues not empty after %.0f s", op.timeout);
	printf("messages=%zu\nbytes=%zu\nconns=%d\n", op.n, j.len[0] + 0,
	    op.conns);
	printf("t_acked=%.3f\nt_empty=%.3f\nrate_acked=%.0f\nrate_empty=%.0f\n",
	    t_acked - t0, t_empty - t0, (double)op.n / (t_acked - t0),
	    (double)op.n / (t_empty - t0));
	for (size_t i = 0; i < op.n; i++)
		free(j.msg[i]);
	free(j.msg);
	free(j.len);
	return 0;
}

/* ---- roster-wait: every node holds HQ's current roster ------------------- */

static int
cmd_roster_wait(int argc, char **argv)
{
	struct opts op;
	sqlite3 *hqdb;
	long long want;
	double deadline;
	int i = 0;

	parse_opts(&op, argc, argv);
	if (op.hq == NULL)
		die("usage: relay_client roster-wait --hq HQDIR [-T SECONDS] NODEDIR...");
	hqdb = db_open(op.hq);
	want = db_count(hqdb, Q_ROSTER, NULL, NULL, 0);
	sqlite3_close(hqdb);
	deadline = now() + op.timeout;
	while (i < op.n_pos) {
		sqlite3 *db = db_open(op.pos[i]);
		long long v = db_count(db, Q_ROSTER, NULL, NULL, 0);

		sqlite3_close(db);
		if (v >= want) {
			i++;
			continue;
		}
		if (now() > deadline)
			die("%s: roster version %lld, HQ has %lld", op.pos[i], v,
			    want);
		sleep_ms(100);
	}
	printf("roster_version=%lld\nnodes=%d\n", want, op.n_pos);
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		die("sodium_init failed");
	if (argc < 2)
		die("usage: relay_client throughput|queue|flash|fanout|smtp ...");
	if (strcmp(argv[1], "throughput") == 0)
		return cmd_throughput(argc - 1, argv + 1);
	if (strcmp(argv[1], "queue") == 0)
		return cmd_queue(argc - 1, argv + 1);
	if (strcmp(argv[1], "flash") == 0)
		return cmd_flash(argc - 1, argv + 1);
	if (strcmp(argv[1], "fanout") == 0)
		return cmd_fanout(argc - 1, argv + 1);
	if (strcmp(argv[1], "smtp") == 0)
		return cmd_smtp(argc - 1, argv + 1);
	if (strcmp(argv[1], "roster-wait") == 0)
		return cmd_roster_wait(argc - 1, argv + 1);
	die("unknown command '%s'", argv[1]);
	return 2;
}
