/*
 * The local API between `koden -d NODEDIR ...` and its kodend, over the unix
 * socket NODEDIR/api.sock (mode 0600; the peer's uid is checked with
 * SO_PEERCRED: root or kodend's own user).  docs/protocol.md, "Local API".
 *
 *   request:  u32 length | u8 op | body
 *   response: u32 length | u8 status | body
 *
 * status 0 is success; otherwise it is the negated KERR_* code and the body
 * is a str16 message that says what went wrong.
 */
#ifndef KODEN_API_H
#define KODEN_API_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

#define API_MSG_MAX (8u << 20)

enum api_op {
	API_SEND = 1,		/* envelope -> id[16] */
	API_ROSTER = 2,		/* -> signed roster */
	API_SERIAL = 3,		/* -> u64 next serial of this post */
	API_STATUS = 4,		/* str8 id prefix -> id[16], u16 n, n x (str8 dest, u8 state, u64 time) */
	API_INBOX = 5,		/* -> u16 n, u8 more, n x inbox entry (at most 500) */
	API_READ = 6,		/* str8 id prefix -> u8 mode, ... */
	API_MARK_READ = 7,	/* id[16] -> (empty): the officer opened it with their own key */
	API_ALERTS = 8,		/* u64 after -> u16 n, n x alert */
	API_RELOAD = 9,		/* HQ: re-read the roster from the store, push it to posts */
	API_STATUS_NODE = 10,	/* -> text: links, queues */
	/* 11 was API_AUDIT: koden now appends to the audit journal itself */
};

enum api_read_mode {
	API_READ_OPENED = 1,	/* node opened it: bytes32 rendered, drafter pk, origin pk */
	API_READ_ENVELOPE = 2,	/* not addressed to the node's key (NODIS etc): id, envelope */
};

/* Client side: connect to NODEDIR/api.sock.  Returns fd or <0. */
int api_connect(const char *nodedir, struct kerr *e) KODEN_WUR;
/*
 * One request/response.  On status 0, *resp holds the body; otherwise the
 * status (a negative KERR_*) is returned with the server's message in e.
 */
int api_call(int fd, uint8_t op, const uint8_t *body, size_t len,
    struct buf *resp, struct kerr *e) KODEN_WUR;

#endif
