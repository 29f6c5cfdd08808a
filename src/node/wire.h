/*
 * The node channel's wire format (docs/protocol.md).
 *
 * Over TCP, every frame is a 2-byte big-endian length and one Noise message
 * (at most 65535 bytes).  After the handshake, each Noise transport message
 * carries one record:
 *
 *   u8 type | u8 prec | u32 stream | u8 flags | data
 *
 * A message (a telegram, an ack, a receipt...) is sent as one or more
 * records of the same stream; the last has flags & WIRE_FIN.  The sender
 * interleaves streams by precedence, so a FLASH telegram never waits behind
 * the rest of a large ROUTINE one.  The receiver reassembles with hard caps.
 */
#ifndef KODEN_WIRE_H
#define KODEN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "telegram/tg.h"

#define WIRE_FRAME_MAX 65535
#define WIRE_REC_HDR 7
#define WIRE_CHUNK 60000		/* data bytes per record */
#define WIRE_MSG_MAX ((4u << 20) + (64u << 10))	/* one reassembled message */
#define WIRE_STREAMS_MAX 64		/* partial messages at once */
#define WIRE_RX_MAX (16u << 20)		/* all partial messages together */
#define WIRE_FIN 1
#define WIRE_VERSION 1
#define WIRE_SYNC_ORIGINS_MAX 1024
#define WIRE_SYNC_ABOVE_MAX 4096

enum wire_type {
	WIRE_TELEGRAM = 1,	/* an envelope */
	WIRE_ACK = 2,		/* struct wire_ack */
	WIRE_RECEIPT = 3,	/* a signed receipt */
	WIRE_ROSTER = 4,	/* the signed roster */
	WIRE_SYNC = 5,		/* post -> HQ: what it already has */
	WIRE_PING = 6,
	WIRE_PONG = 7,
	WIRE_AUDIT = 8,		/* post -> HQ: audit entries (audit/ship.h batch) */
	WIRE_AUDIT_ACK = 9,	/* HQ -> post: u8 result, u64 acked, HQ's head */
};

/* WIRE_AUDIT_ACK: its result byte, and the bytes before HQ's head. */
enum wire_audit_result {
	WIRE_AUDIT_ACCEPTED = 0,	/* the batch is in HQ's log */
	WIRE_AUDIT_REFUSED = 1,		/* the batch failed HQ's checks */
	WIRE_AUDIT_HEAD_ONLY = 2,	/* no batch: HQ's head alone */
};
#define WIRE_AUDIT_ACK_HDR 9	/* u8 result | u64 acked */

struct wire_rec {
	uint8_t type;
	uint8_t prec;
	uint32_t stream;
	uint8_t flags;
	const uint8_t *data;
	size_t len;
};

int wire_rec_parse(struct wire_rec *r, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;
/* Append a record header for len bytes of data. */
int wire_rec_header(struct buf *out, uint8_t type, uint8_t prec,
    uint32_t stream, uint8_t flags) KODEN_WUR;

/* Reassembly of interleaved streams. */
struct wire_rx {
	struct {
		uint32_t stream;
		uint8_t type;
		uint8_t prec;
		int used;
		struct buf b;
	} s[WIRE_STREAMS_MAX];
	size_t total;
};
void wire_rx_init(struct wire_rx *rx);
void wire_rx_free(struct wire_rx *rx);
/*
 * Feed one record.  When it completes a message, *done = 1 and *msg, *type
 * describe it (valid until the next call).  Caps are errors: a stream whose
 * type changes, too many streams, a message over WIRE_MSG_MAX, over
 * WIRE_RX_MAX pending in all.
 */
int wire_rx_feed(struct wire_rx *rx, const struct wire_rec *r, int *done,
    uint8_t *type, uint8_t *prec, struct buf **msg, struct kerr *e) KODEN_WUR;
/* Release the message returned by the last completing feed. */
void wire_rx_release(struct wire_rx *rx, struct buf *msg);

/* The payload of the initiator's first handshake message. */
enum wire_intent { WIRE_CONNECT = 0, WIRE_ENROL = 1 };
struct wire_hello {
	uint8_t version;
	char name[TG_POST_MAX + 1];
	uint8_t intent;
	uint8_t secret[32];	/* enrol: the one-time token secret */
	uint8_t sign_pk[32];	/* enrol: the new post's Ed25519 key */
	uint8_t sig[64];	/* enrol: proof of the signing key (see node) */
};
int wire_hello_encode(struct buf *out, const struct wire_hello *h) KODEN_WUR;
int wire_hello_decode(struct wire_hello *h, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;

/* The responder's handshake payload. */
struct wire_welcome {
	uint8_t version;
	uint64_t roster_version;
};
int wire_welcome_encode(struct buf *out, const struct wire_welcome *w) KODEN_WUR;
int wire_welcome_decode(struct wire_welcome *w, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;

enum wire_ack_kind { WIRE_ACK_TELEGRAM = 1, WIRE_ACK_RECEIPT = 2 };
enum wire_ack_result { WIRE_ACK_OK = 0, WIRE_ACK_REFUSED = 1 };
struct wire_ack {
	uint8_t kind;
	uint8_t id[16];
	char by[TG_POST_MAX + 1];	/* receipts: who signed it */
	uint8_t state;		/* receipts: its state */
	uint8_t result;
	char reason[128];	/* refused: why */
};
int wire_ack_encode(struct buf *out, const struct wire_ack *a) KODEN_WUR;
int wire_ack_decode(struct wire_ack *a, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;

struct wire_sync_origin {
	char origin[TG_POST_MAX + 1];
	uint64_t hwm;
	uint16_t n_above;
	uint64_t *above;	/* n_above seqs > hwm that arrived */
};
struct wire_sync {
	uint16_t n;
	struct wire_sync_origin *o;
};
int wire_sync_encode(struct buf *out, const struct wire_sync *s) KODEN_WUR;
int wire_sync_decode(struct wire_sync *s, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;
void wire_sync_free(struct wire_sync *s);
/* 1 if the sync says the post has seq from origin. */
int wire_sync_has(const struct wire_sync *s, const char *origin, uint64_t seq);

#endif
