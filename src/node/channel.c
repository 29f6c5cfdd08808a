/*
 * The channel on an open link: frames off the socket, Noise records
 * decrypted and reassembled into messages (wire.h), each handed to the
 * handler its type's owner registered (node_on_record); keepalives and the
 * link's deadlines.
 */
#include <string.h>
#include <sys/epoll.h>

#include "lib/log.h"
#include "node/node_int.h"

/*
 * A complete message: to the handler its type's owner registered.  HQ
 * takes nothing from a post before its SYNC but keepalives.
 */
static void
on_message(struct node *n, struct conn *c, uint8_t type, uint8_t prec,
    struct buf *msg)
{
	if (n->cfg.role == ROLE_HQ && !c->synced && type != WIRE_SYNC &&
	    type != WIRE_PING && type != WIRE_PONG) {
		conn_close(c, "message before sync");
		return;
	}
	if (type >= NODE_REC_TYPES || n->hooks.rec[type] == NULL) {
		conn_close(c, "unknown message type");
		return;
	}
	n->hooks.rec[type](n, c, prec, msg);
}

void
channel_frame(struct node *n, struct conn *c, const uint8_t *p, size_t len)
{
	uint8_t *pt = n->frame_pt;	/* the node's: one loop uses it */
	struct wire_rec rec;
	struct kerr e = { "" };
	struct buf *msg;
	uint8_t type, prec;
	int done;

	if (noise_cs_decrypt(&c->rx, NULL, 0, p, len, pt) != 0) {
		conn_close(c, "record does not authenticate");
		return;
	}
	if (wire_rec_parse(&rec, pt, len - NOISE_TAGLEN, &e) != 0 ||
	    wire_rx_feed(&c->wrx, &rec, &done, &type, &prec, &msg, &e) != 0) {
		conn_close(c, e.msg);
		return;
	}
	if (done) {
		on_message(n, c, type, prec, msg);
		wire_rx_release(&c->wrx, msg);
	}
}

/*
 * The frames read so far (u16 length | Noise message), each to the
 * connection's frame handler: the handshake's until the link opens, then
 * channel_frame.  Called by conn_read after each read.
 */
static void
parse_frames(struct node *n, struct conn *c)
{
	/* frames from off; what is left moves down once */
	size_t off = 0;

	while (c->state != CONN_DEAD && c->in.len - off >= 2) {
		size_t l = (size_t)c->in.p[off] << 8 | c->in.p[off + 1];

		if (l == 0) {
			conn_close(c, "empty frame");
			return;
		}
		if (c->in.len - off < 2 + l)
			break;
		c->on_frame(n, c, c->in.p + off + 2, l);
		if (c->state == CONN_DEAD)
			return;
		off += 2 + l;
	}
	if (c->state == CONN_DEAD)
		return;
	memmove(c->in.p, c->in.p + off, c->in.len - off);
	c->in.len -= off;
}

void
channel_event(struct node *n, struct node_ev *ev, uint32_t events)
{
	struct conn *c = conn_of(ev);

	if (c->state == CONN_DEAD)
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(n, c, parse_frames);
	/*
	 * Acks made room in the link's window: refill it now from what is
	 * durable, rather than at the end of a turn that may be long.
	 */
	if (c->acked && c->state == CONN_OPEN) {
		c->acked = 0;
		node_pump(n, n->cfg.role == ROLE_HQ ? c->peer : HQ_LINK);
	}
	if (c->state != CONN_DEAD && (events & EPOLLOUT))
		conn_flush(c);
}

/* A keepalive: answered at once.  Called by the channel (WIRE_PING). */
static void
on_ping(struct node *n, struct conn *c, uint8_t prec, struct buf *msg)
{
	(void)n;
	(void)prec;
	(void)msg;
	conn_send_msg(c, WIRE_PONG, TG_FLASH, NULL, 0);
}

/* Its answer: that it came is all (conn_read noted the time). */
static void
on_pong(struct node *n, struct conn *c, uint8_t prec, struct buf *msg)
{
	(void)n;
	(void)c;
	(void)prec;
	(void)msg;
}

/* Every tick: handshake deadlines, idle links, keepalives. */
static void
links_tick(struct node *n)
{
	uint64_t now = node_now_ms();
	uint64_t idle = (uint64_t)n->cfg.idle_timeout * 1000;

	for (struct conn *c = n->conns; c != NULL; c = c->next) {
		if (c->state == CONN_DEAD || c->kind != CONN_PEER)
			continue;
		if (c->state != CONN_OPEN && now > c->deadline) {
			conn_close(c, "handshake timed out");
			continue;
		}
		if (c->state == CONN_OPEN && now - c->last_rx > idle) {
			conn_close(c, "idle timeout");
			continue;
		}
		if (c->state == CONN_OPEN && now - c->last_rx > idle / 3 &&
		    !c->ping_sent) {
			conn_send_msg(c, WIRE_PING, TG_FLASH, NULL, 0);
			c->ping_sent = 1;
			conn_flush(c);
		}
	}
}

void
channel_init(struct node *n)
{
	node_on_record(n, WIRE_PING, on_ping);
	node_on_record(n, WIRE_PONG, on_pong);
	node_hook_tick(n, links_tick);
}
