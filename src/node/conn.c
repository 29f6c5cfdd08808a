/*
 * Connections: their life (new, close, reap), their input, and their
 * output: messages queued per connection and sent highest precedence
 * first, one record at a time (conn_flush), so a FLASH telegram overtakes
 * a large ROUTINE one mid-transfer.  Each connection is an event source of
 * the loop whose handler its creator chose (a peer link: channel.c; a
 * client of the local API: apiserver.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/log.h"
#include "node/api.h"
#include "node/node_int.h"

void
conn_ev_set(struct conn *c, uint32_t want)
{
	if (c->state == CONN_DEAD || c->want == want)
		return;
	if (node_ev_mod(c->node, c->fd, &c->ev, want) == 0)
		c->want = want;
}

struct conn *
conn_new(struct node *n, int fd, int kind, node_ev_fn fn)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->ev.fn = fn;
	c->node = n;
	c->fd = fd;
	c->kind = kind;
	c->last_rx = node_now_ms();
	buf_init(&c->in, kind == CONN_API ? API_MSG_MAX + 4 : CONN_IN_MAX);
	buf_init(&c->out, kind == CONN_API ? API_MSG_MAX + 4 :
	    (CONN_OUT_HIGH + 2 * (WIRE_FRAME_MAX + 2)));
	wire_rx_init(&c->wrx);
	if (node_ev_add(n, fd, &c->ev, EPOLLIN) != 0) {
		buf_free(&c->in);
		buf_free(&c->out);
		free(c);
		return NULL;
	}
	c->want = EPOLLIN;
	c->next = n->conns;
	n->conns = c;
	return c;
}

void
conn_close(struct conn *c, const char *why)
{
	struct node *n = c->node;

	if (c->state == CONN_DEAD)
		return;
	if (c->kind == CONN_PEER)
		log_info("link %s closed: %s", c->peer[0] ? c->peer : "(unknown)",
		    why);
	node_ev_del(n, c->fd);
	close(c->fd);
	c->fd = -1;
	c->state = CONN_DEAD;
	if (c->on_close != NULL)
		c->on_close(c);
}

void
conn_free(struct conn *c)
{
	struct outmsg *m, *next;

	if (c->hs != NULL) {
		noise_hs_wipe(c->hs);
		sodium_free(c->hs);
	}
	noise_cs_wipe(&c->tx);
	noise_cs_wipe(&c->rx);
	for (m = c->q; m != NULL; m = next) {
		next = m->next;
		buf_free(&m->data);
		free(m);
	}
	wire_rx_free(&c->wrx);
	wire_sync_free(&c->sync);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->fl);
	free(c);
}

/*
 * At the end of a loop turn: what still points at a dead connection (the
 * group commit's pending answers, HQ's audit batches) forgets it through
 * the hooks its owners registered, then it is freed.
 */
void
conn_reap(struct node *n)
{
	struct conn **pp = &n->conns;

	while (*pp != NULL) {
		struct conn *c = *pp;

		if (c->state == CONN_DEAD) {
			for (size_t i = 0; i < n->hooks.n_gone; i++)
				n->hooks.gone[i](n, c);
			*pp = c->next;
			conn_free(c);
		} else
			pp = &c->next;
	}
}

/* Append one framed Noise message. */
int
conn_frame_put(struct conn *c, const uint8_t *p, size_t len)
{
	int r;

	if ((r = buf_put_u16(&c->out, (uint16_t)len)) != 0)
		return r;
	return buf_put(&c->out, p, len);
}

void
conn_send_msg(struct conn *c, uint8_t type, uint8_t prec, const uint8_t *p,
    size_t len)
{
	struct outmsg *m, **pp;

	if (c->state == CONN_DEAD)
		return;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	m->type = type;
	m->prec = prec;
	m->stream = ++c->next_stream;
	buf_init(&m->data, WIRE_MSG_MAX);
	if (buf_put(&m->data, p, len) != 0) {
		free(m);
		conn_close(c, "message too large");
		return;
	}
	for (pp = &c->q; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = m;
}

void
node_send_raw(struct conn *c, uint8_t type, uint8_t prec, const uint8_t *p,
    size_t len)
{
	conn_send_msg(c, type, prec, p, len);
}

/*
 * Fill the socket: the highest-precedence message first (FIFO within a
 * precedence), one record of at most WIRE_CHUNK bytes at a time, so a
 * FLASH telegram overtakes a large ROUTINE one mid-transfer.
 */
void
conn_flush(struct conn *c)
{
	/* the node's, allocated once (node_open): one loop uses them */
	uint8_t *rec = c->node->rec_pt, *ct = c->node->rec_ct;

	if (c->state == CONN_DEAD)
		return;
	while (c->kind == CONN_PEER && c->state == CONN_OPEN && c->q != NULL &&
	    c->out.len < CONN_OUT_HIGH) {
		struct outmsg *best = c->q, **bp = &c->q, **pp;
		struct buf hdr;
		size_t chunk;
		uint8_t fin;

		for (pp = &c->q; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->prec > best->prec) {
				best = *pp;
				bp = pp;
			}
		chunk = best->data.len - best->off;
		if (chunk > WIRE_CHUNK)
			chunk = WIRE_CHUNK;
		fin = best->off + chunk == best->data.len ? WIRE_FIN : 0;
		buf_init(&hdr, WIRE_REC_HDR);
		if (wire_rec_header(&hdr, best->type, best->prec, best->stream,
		    fin) != 0) {
			buf_free(&hdr);
			conn_close(c, "out of memory");
			return;
		}
		memcpy(rec, hdr.p, WIRE_REC_HDR);
		buf_free(&hdr);
		if (chunk)
			memcpy(rec + WIRE_REC_HDR, best->data.p + best->off, chunk);
		if (noise_cs_encrypt(&c->tx, NULL, 0, rec, WIRE_REC_HDR + chunk,
		    ct) != 0 ||
		    conn_frame_put(c, ct, WIRE_REC_HDR + chunk + NOISE_TAGLEN) != 0) {
			conn_close(c, "cannot encrypt");
			return;
		}
		best->off += chunk;
		if (fin) {
			*bp = best->next;
			buf_free(&best->data);
			free(best);
		}
	}
	while (c->out.len > 0) {
		ssize_t w = write(c->fd, c->out.p, c->out.len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			conn_close(c, w < 0 ? strerror(errno) : "peer closed");
			return;
		}
		memmove(c->out.p, c->out.p + w, c->out.len - (size_t)w);
		c->out.len -= (size_t)w;
		c->node->stat_out += (size_t)w;
	}
	conn_ev_set(c, EPOLLIN | (c->out.len > 0 || (c->q != NULL &&
	    c->state == CONN_OPEN) ? EPOLLOUT : 0));
}

void
conn_read(struct node *n, struct conn *c,
    void (*parse)(struct node *n, struct conn *c))
{
	for (;;) {
		ssize_t r;

		if (buf_reserve(&c->in, 4096) != 0) {
			conn_close(c, "input over its limit");
			return;
		}
		r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			conn_close(c, r == 0 ? "peer closed" : strerror(errno));
			return;
		}
		c->in.len += (size_t)r;
		c->last_rx = node_now_ms();
		c->ping_sent = 0;
		parse(n, c);
		if (c->state == CONN_DEAD)
			return;
	}
	conn_flush(c);
}
