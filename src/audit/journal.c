/*
 * The audit journal (journal.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/journal.h"
#include "lib/buf.h"

#define APPLY_BATCH 256		/* events per transaction */
#define APPLY_READ (1u << 20)	/* bytes read at a time */
#define REOPEN_TRIES 8
#define TMP_RANDOM 8		/* random bytes in a new journal's temporary name */

struct audit_journal {
	char path[PATH_MAX];
	int fd;
};

static int
journal_path(char *out, size_t cap, const char *nodedir, struct kerr *e)
{
	if ((size_t)snprintf(out, cap, "%s/%s", nodedir, AUDIT_JOURNAL_FILE) >=
	    cap)
		return kerr_set(e, KERR_TOOBIG, "audit journal: path too long");
	return 0;
}

static void
frame_sum(uint8_t out[static AUDIT_JOURNAL_SUM], const uint8_t *p, size_t n)
{
	crypto_generichash(out, AUDIT_JOURNAL_SUM, p, n, NULL, 0);
}

/*
 * A new journal, header and all, put in place only if none is there
 * (link(2) fails on an existing name): a reader never sees half a header.
 */
static int
journal_create(const char *path, struct kerr *e)
{
	uint8_t hdr[AUDIT_JOURNAL_HDR], rnd[TMP_RANDOM];
	char tmp[PATH_MAX + 64], hex[2 * TMP_RANDOM + 1];
	int fd, r = 0;

	memcpy(hdr, AUDIT_JOURNAL_MAGIC, 8);
	randombytes_buf(hdr + 8, AUDIT_JOURNAL_GEN);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), "%s.new-%s", path, hex);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0)
		return kerr_set(e, KERR_IO, "audit journal: cannot create %s: "
		    "%s", tmp, strerror(errno));
	if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
		r = kerr_set(e, KERR_IO, "audit journal: cannot write %s: %s",
		    tmp, strerror(errno));
	close(fd);
	if (r == 0 && link(tmp, path) != 0 && errno != EEXIST)
		r = kerr_set(e, KERR_IO, "audit journal: cannot create %s: %s",
		    path, strerror(errno));
	unlink(tmp);
	return r;
}

/*
 * The journal's lock, waiting at most AUDIT_JOURNAL_LOCK_MS: a process
 * stopped while holding it must not freeze kodend's loop.  0 or -1 (errno).
 */
static int
lock_ex(int fd)
{
	struct timespec start, now, nap = { 0, 500000 };

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 >=
		    AUDIT_JOURNAL_LOCK_MS) {
			errno = EWOULDBLOCK;
			return -1;
		}
		nanosleep(&nap, NULL);
	}
}

/* Is fd (whose fstat is *st) still the file at path? */
static int
is_current(const char *path, const struct stat *st)
{
	struct stat now;

	return st->st_nlink > 0 && stat(path, &now) == 0 &&
	    now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

/* j->fd open on the journal now at j->path, locked exclusively. */
static int
journal_lock(struct audit_journal *j, struct kerr *e)
{
	struct stat st;
	int r;

	for (int tries = 0; tries < REOPEN_TRIES; tries++) {
		if (j->fd < 0) {
			j->fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
			if (j->fd < 0 && errno == ENOENT) {
				if ((r = journal_create(j->path, e)) != 0)
					return r;
				continue;
			}
			if (j->fd < 0)
				return kerr_set(e, KERR_IO, "audit journal: "
				    "cannot open %s: %s", j->path,
				    strerror(errno));
		}
		if ((r = lock_ex(j->fd)) != 0 || fstat(j->fd, &st) != 0)
			return kerr_set(e, KERR_IO, "audit journal: cannot lock "
			    "%s: %s", j->path, strerror(errno));
		if (is_current(j->path, &st))
			return 0;
		/* applied and unlinked (or set aside) meanwhile: the next */
		close(j->fd);
		j->fd = -1;
	}
	return kerr_set(e, KERR_IO, "audit journal: %s keeps being replaced",
	    j->path);
}

int
audit_journal_open(struct audit_journal **out, const char *nodedir,
    struct kerr *e)
{
	struct audit_journal *j;
	int r;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return kerr_set(e, KERR_NOMEM, "audit journal: out of memory");
	j->fd = -1;
	if ((r = journal_path(j->path, sizeof(j->path), nodedir, e)) != 0) {
		free(j);
		return r;
	}
	*out = j;
	return 0;
}

void
audit_journal_close(struct audit_journal *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

int
audit_journal_append(struct audit_journal *j, const struct audit_event *ev,
    struct kerr *e)
{
	uint8_t sum[AUDIT_JOURNAL_SUM];
	struct buf enc, f;
	struct stat st;
	ssize_t w;
	int r;

	buf_init(&enc, AUDIT_ENTRY_MAX);
	buf_init(&f, AUDIT_JOURNAL_FRAME_MAX);
	if ((r = audit_event_encode(&enc, ev)) != 0 ||
	    (r = buf_put_bytes32(&f, enc.p, enc.len)) != 0) {
		buf_free(&enc);
		buf_free(&f);
		return kerr_set(e, r, "audit event %s/%s: %s", ev->action,
		    ev->object, kerr_str(r));
	}
	buf_free(&enc);
	frame_sum(sum, f.p, f.len);
	if ((r = buf_put(&f, sum, sizeof(sum))) != 0) {
		buf_free(&f);
		return kerr_set(e, r, "audit journal: frame too large");
	}
	if ((r = journal_lock(j, e)) != 0) {
		buf_free(&f);
		return r;
	}
	if (fstat(j->fd, &st) != 0) {
		r = kerr_set(e, KERR_IO, "audit journal: %s: %s", j->path,
		    strerror(errno));
		goto out;
	}
	while ((w = write(j->fd, f.p, f.len)) < 0 && errno == EINTR)
		;
	if (w != (ssize_t)f.len) {
		r = kerr_set(e, KERR_IO, "audit journal: cannot append to %s: "
		    "%s", j->path, w < 0 ? strerror(errno) : "short write");
		/* no partial frame left for the next appender to follow */
		if (w > 0 && ftruncate(j->fd, st.st_size) != 0)
			r = kerr_set(e, KERR_IO, "audit journal: %s: a partial "
			    "frame could not be removed: %s", j->path,
			    strerror(errno));
	}
out:
	(void)flock(j->fd, LOCK_UN);
	buf_free(&f);
	return r;
}

int
audit_journal_append_dir(const char *nodedir, const struct audit_event *ev,
    struct kerr *e)
{
	struct audit_journal *j;
	int r;

	if ((r = audit_journal_open(&j, nodedir, e)) != 0)
		return r;
	r = audit_journal_append(j, ev, e);
	audit_journal_close(j);
	return r;
}

/* ---- reading -------------------------------------------------------------- */

size_t
audit_journal_parse(const uint8_t *p, size_t n,
    int (*fn)(void *ctx, const struct audit_event *ev), void *ctx,
    int *damaged, struct kerr *e)
{
	static __thread struct audit_event ev;	/* 1.7 KB: not on the stack */
	uint8_t sum[AUDIT_JOURNAL_SUM];
	size_t off = 0;

	*damaged = 0;
	while (n - off >= 4) {
		struct rd fr;
		uint32_t len;
		int r;

		rd_init(&fr, p + off, n - off);
		if (rd_u32(&fr, &len) != 0)
			break;	/* not reached: 4 bytes are there */
		if (len == 0 || len > AUDIT_ENTRY_MAX) {
			*damaged = 1;
			kerr_set(e, KERR_FORMAT, "frame length %" PRIu32, len);
			break;
		}
		if (n - off - 4 < len + AUDIT_JOURNAL_SUM)
			break;	/* incomplete */
		frame_sum(sum, p + off, 4 + len);
		if (sodium_memcmp(sum, p + off + 4 + len, sizeof(sum)) != 0) {
			*damaged = 1;
			kerr_set(e, KERR_FORMAT, "frame checksum mismatch");
			break;
		}
		if ((r = audit_event_decode(&ev, p + off + 4, len)) != 0) {
			*damaged = 1;
			kerr_set(e, r, "malformed event: %s", kerr_str(r));
			break;
		}
		if (fn(ctx, &ev) != 0)
			break;
		off += 4 + len + AUDIT_JOURNAL_SUM;
	}
	return off;
}

struct collect {
	struct audit_event *ev;
	size_t n;
};

static int
collect(void *ctx, const struct audit_event *ev)
{
	struct collect *c = ctx;

	if (c->n == APPLY_BATCH)
		return 1;
	c->ev[c->n] = *ev;
	c->ev[c->n].seq = 0;		/* the log's to give */
	c->ev[c->n].node[0] = '\0';	/* this node's journal: its name */
	c->n++;
	return 0;
}

/* One audit_journal_apply: what fill found, for the steps after commit. */
struct applier {
	char path[PATH_MAX];
	struct audit_event *ev;		/* APPLY_BATCH */
	uint8_t *data;			/* APPLY_READ */
	int done;			/* read to the end */
	int damaged;			/* set the file aside after the commit */
	char aside[PATH_MAX + 64];
	uint8_t gen[AUDIT_JOURNAL_GEN];	/* the file's */
	uint64_t end;			/* position after what was taken */
};

/* The journal-damaged event; the file is renamed once it is committed. */
static void
damage(struct applier *a, struct audit_journal_take *t, uint64_t at,
    uint64_t size, const char *why)
{
	char hex[2 * AUDIT_JOURNAL_GEN + 1], detail[AUDIT_DETAIL_MAX + 1];
	const char *base;

	sodium_bin2hex(hex, sizeof(hex), a->gen, AUDIT_JOURNAL_GEN);
	snprintf(a->aside, sizeof(a->aside), "%s.damaged-%s-%lld", a->path,
	    hex, (long long)time(NULL));
	base = strrchr(a->aside, '/');
	snprintf(detail, sizeof(detail), "%.200s at byte %llu of %llu; the "
	    "journal was renamed %.300s, events from there on were not added",
	    why, (unsigned long long)at, (unsigned long long)size,
	    base != NULL ? base + 1 : a->aside);
	memset(&a->ev[0], 0, sizeof(a->ev[0]));
	audit_event_set(&a->ev[0], "koden", "audit.journal", "journal-damaged",
	    AUDIT_JOURNAL_FILE, "fail: damaged", detail);
	a->damaged = 1;
	memcpy(t->gen, a->gen, AUDIT_JOURNAL_GEN);
	t->off = a->end = size;
	t->ev = a->ev;
	t->n = 1;
	t->moved = 1;
}

/*
 * Inside the log's write transaction (so one applier at a time): read what
 * follows t's position, holding the journal's lock only while reading.
 */
static int
fill(void *ctx, struct audit_journal_take *t, struct kerr *e)
{
	struct applier *a = ctx;
	uint8_t hdr[AUDIT_JOURNAL_HDR];
	struct collect c = { a->ev, 0 };
	struct kerr pe = { "" };
	struct stat st;
	uint64_t off, size;
	size_t want, used;
	ssize_t got;
	int fd, r, bad;

	a->done = 1;
	if ((fd = open(a->path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : kerr_set(e, KERR_IO, "audit "
		    "journal: cannot open %s: %s", a->path, strerror(errno));
	if ((r = lock_ex(fd)) != 0 || fstat(fd, &st) != 0) {
		r = kerr_set(e, KERR_IO, "audit journal: cannot lock %s: %s",
		    a->path, strerror(errno));
		goto out;
	}
	if (!is_current(a->path, &st))
		goto out;	/* replaced meanwhile: the next call */
	size = (uint64_t)st.st_size;
	if (size < AUDIT_JOURNAL_HDR ||
	    pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    memcmp(hdr, AUDIT_JOURNAL_MAGIC, 8) != 0) {
		memset(a->gen, 0, sizeof(a->gen));
		damage(a, t, 0, size, "bad header");
		goto out;
	}
	memcpy(a->gen, hdr + 8, sizeof(a->gen));
	off = sodium_memcmp(t->gen, a->gen, sizeof(a->gen)) == 0 ? t->off :
	    AUDIT_JOURNAL_HDR;	/* a new journal */
	if (off > size) {
		damage(a, t, size, size, "shorter than what was applied");
		goto out;
	}
	a->end = off;
	if (off == size)
		goto out;	/* nothing new */
	want = size - off < APPLY_READ ? (size_t)(size - off) : APPLY_READ;
	if ((got = pread(fd, a->data, want, (off_t)off)) != (ssize_t)want) {
		r = kerr_set(e, KERR_IO, "audit journal: cannot read %s: %s",
		    a->path, got < 0 ? strerror(errno) : "short read");
		goto out;
	}
	close(fd);	/* and its lock: appenders go on while we parse */
	fd = -1;
	used = audit_journal_parse(a->data, want, collect, &c, &bad, &pe);
	if (c.n > 0) {
		memcpy(t->gen, a->gen, AUDIT_JOURNAL_GEN);
		t->off = a->end = off + used;
		t->ev = a->ev;
		t->n = c.n;
		a->done = a->end == size;
		return 0;
	}
	/*
	 * Nothing whole: no append was under way (the lock was held), so
	 * this is damage, or a tail torn by a power loss.
	 */
	if (!bad && want == APPLY_READ)
		return kerr_set(e, KERR_FORMAT, "audit journal %s: a frame "
		    "larger than %u bytes", a->path, APPLY_READ);
	damage(a, t, off, size, bad ? pe.msg : "incomplete frame");
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/*
 * After the commit: with the lock, rename a damaged journal aside, or
 * remove one that is all in the log and past AUDIT_JOURNAL_ROTATE (the
 * next append starts a new generation).  Only if it is still the file
 * this apply read.
 */
static int
after(struct applier *a, struct kerr *e)
{
	uint8_t hdr[AUDIT_JOURNAL_HDR];
	struct stat st;
	int fd, r = 0, same;

	if ((fd = open(a->path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (lock_ex(fd) != 0 || fstat(fd, &st) != 0 ||
	    !is_current(a->path, &st))
		goto out;
	same = pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
	    memcmp(hdr, AUDIT_JOURNAL_MAGIC, 8) == 0 &&
	    memcmp(hdr + 8, a->gen, AUDIT_JOURNAL_GEN) == 0;
	if (a->damaged) {
		if (rename(a->path, a->aside) != 0)
			r = kerr_set(e, KERR_IO, "audit journal: %s is damaged "
			    "and cannot be set aside: %s", a->path,
			    strerror(errno));
	} else if (same && (uint64_t)st.st_size == a->end &&
	    a->end >= AUDIT_JOURNAL_ROTATE && unlink(a->path) != 0)
		r = kerr_set(e, KERR_IO, "audit journal: cannot remove %s: %s",
		    a->path, strerror(errno));
out:
	close(fd);
	return r;
}

int
audit_journal_apply(struct auditlog *l, const char *nodedir,
    const struct identity *key, size_t *applied, struct kerr *e)
{
	struct applier *a;
	size_t total = 0, n;
	int r;

	if (applied != NULL)
		*applied = 0;
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->ev = calloc(APPLY_BATCH, sizeof(*a->ev))) == NULL ||
	    (a->data = malloc(APPLY_READ)) == NULL) {
		r = kerr_set(e, KERR_NOMEM, "audit journal: out of memory");
		goto out;
	}
	if ((r = journal_path(a->path, sizeof(a->path), nodedir, e)) != 0)
		goto out;
	do {
		a->damaged = 0;
		a->end = 0;
		if ((r = audit_journal_txn(l, key, fill, a, &n, e)) != 0)
			goto out;
		total += n;
	} while (!a->done && !a->damaged);
	if (a->damaged || a->end > 0)
		r = after(a, e);
out:
	if (applied != NULL)
		*applied = total;
	if (a != NULL) {
		free(a->ev);
		free(a->data);
	}
	free(a);
	return r;
}
