/*
 * The WireGuard cross-platform userspace API (UAPI), as wireguard-go serves it
 * and wg(8) / wg-quick(8) speak it: a unix stream socket
 * /var/run/wireguard/IFNAME.sock carrying line-oriented "key=value\n"
 * requests, each ended by an empty line.
 *
 *   get=1\n\n             -> key=value lines, then errno=0\n\n
 *   set=1\n<lines>\n      -> errno=0\n\n, or errno=-N\n\n on error
 *
 * Keys are lowercase hex (64 characters), numbers decimal, endpoints
 * "a.b.c.d:port" or "[v6addr%scope]:port", allowed IPs "addr/cidr".  What
 * each key means, the caps, the error numbers and the timeouts are in
 * docs/vpn-uapi.md.
 *
 * Error numbers on the wire (chosen so that wg(8) prints the right strerror):
 * wg(8) reads the errno of a set reply with fscanf("errno=%d") and negates
 * it, and requires the errno of a get reply to be unsigned digits, which it
 * negates too.  So a failed set is answered "errno=-N" (as wireguard-go does:
 * -EINVAL, -EPROTO, -EADDRINUSE...) and a failed get "errno=N"; in both
 * cases `wg` then reports strerror(N).  N is a positive errno value: what
 * uapi_ops returned, or EPROTO for a line without '=', EINVAL for any other
 * bad line or value, E2BIG over a cap, ENOMEM.
 */
#ifndef KODEN_VPN_UAPI_H
#define KODEN_VPN_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "lib/err.h"

#define UAPI_KEY_LEN 32
#define UAPI_KEY_HEX_LEN (2 * UAPI_KEY_LEN)
#define UAPI_DIR_DEFAULT "/var/run/wireguard"

/*
 * Hard caps.  A set request is read whole before it is parsed: at most
 * UAPI_REQUEST_MAX bytes, lines of at most UAPI_LINE_MAX bytes (the longest
 * real line, a scoped IPv6 endpoint, is under 80), at most UAPI_MAX_PEERS
 * peer sections and UAPI_MAX_ALLOWED_IPS allowed_ip lines in all (the
 * allowed-IPs table's own cap).  `wg setconf` with 250 peers of 4 prefixes
 * is about 50 KB.
 */
#define UAPI_REQUEST_MAX (64u << 20)
#define UAPI_LINE_MAX 1024
#define UAPI_MAX_PEERS 100000
#define UAPI_MAX_ALLOWED_IPS (1u << 20)
/* uapi_serve: the first byte of a request must come within IDLE, the rest of
 * it within REQUEST after that; a reply must be written within REQUEST. */
#define UAPI_IDLE_TIMEOUT_MS 120000
#define UAPI_REQUEST_TIMEOUT_MS 30000
/*
 * uapi_accept_loop: at most UAPI_CONNS_MAX connections served at once (more
 * wait in the listen backlog of UAPI_BACKLOG until one closes); when accept
 * runs out of descriptors or memory it tries again every
 * UAPI_ACCEPT_BACKOFF_MS; either limit is logged at most once per
 * UAPI_ACCEPT_LOG_MS.
 */
#define UAPI_CONNS_MAX 64
#define UAPI_BACKLOG 16
#define UAPI_ACCEPT_BACKOFF_MS 100
#define UAPI_ACCEPT_LOG_MS 10000

struct uapi_allowed_ip {
	int family;		/* AF_INET / AF_INET6 */
	uint8_t addr[16];	/* network byte order; bits past cidr are zero */
	uint8_t cidr;
};

/*
 * One peer section of a set request, in request order.  The same public key
 * may appear in more than one section (`wg set wg0 peer K ... peer K ...`):
 * apply sections in order, each as an update of what the earlier ones did.
 * If remove is set, the other fields are to be ignored.
 */
struct uapi_peer_set {
	uint8_t public_key[UAPI_KEY_LEN];
	bool remove, update_only, replace_allowed_ips;
	bool has_preshared_key; uint8_t preshared_key[UAPI_KEY_LEN]; /* all-zero = none */
	bool has_endpoint; struct sockaddr_storage endpoint; socklen_t endpoint_len;
	bool has_keepalive; uint16_t persistent_keepalive; /* seconds, 0 = off */
	size_t n_allowed; struct uapi_allowed_ip *allowed;
};

struct uapi_set {
	bool has_private_key; uint8_t private_key[UAPI_KEY_LEN]; /* all-zero key = remove */
	bool has_listen_port; uint16_t listen_port;	/* 0 = pick a port */
	bool has_fwmark; uint32_t fwmark;		/* 0 = none */
	bool replace_peers;
	size_t n_peers; struct uapi_peer_set *peers;
};

struct uapi_peer_get {
	uint8_t public_key[UAPI_KEY_LEN];
	bool has_preshared_key; uint8_t preshared_key[UAPI_KEY_LEN];
	bool has_endpoint; struct sockaddr_storage endpoint; socklen_t endpoint_len;
	int64_t last_handshake_sec; int64_t last_handshake_nsec; /* 0,0 = never */
	uint64_t rx_bytes, tx_bytes;
	uint16_t persistent_keepalive;
	size_t n_allowed; struct uapi_allowed_ip *allowed;
};

struct uapi_get {
	bool has_private_key; uint8_t private_key[UAPI_KEY_LEN];
	uint16_t listen_port; uint32_t fwmark;
	size_t n_peers; struct uapi_peer_get *peers;
};

struct uapi_ops {
	/*
	 * Fill *out (zeroed on entry; callee allocates peers/allowed with
	 * malloc; uapi frees them with uapi_get_free, also on error).  Return
	 * 0 or a positive errno (sent as errno=N).
	 */
	int (*get)(void *ctx, struct uapi_get *out);
	/*
	 * Apply a parsed set=1 request atomically; return 0 or a positive
	 * errno (sent as errno=-N, which wg(8) reports as strerror(N)).
	 * req and everything in it is valid only during the call.
	 */
	int (*set)(void *ctx, const struct uapi_set *req);
};

/*
 * Create dir (default UAPI_DIR_DEFAULT when dir is NULL; mode 0755; an
 * existing directory is used as it is) and a listening unix socket
 * DIR/IFNAME.sock with mode 0600.  A stale socket (nobody accepting) is
 * removed; a socket someone listens on, or a path that is not a socket, is
 * refused.  ifname: 1..15 bytes, printable, no '/' or space, not "." or "..".
 * Returns the listening fd (close-on-exec) or -1 with err set.
 */
int uapi_listen(const char *dir, const char *ifname, struct kerr *err);
/* Remove DIR/IFNAME.sock (dir NULL: the default); for shutdown. */
void uapi_unlink(const char *dir, const char *ifname);

/*
 * Accept connections on lfd (from uapi_listen) and serve each with
 * uapi_serve(fd, ops, ctx) in a detached thread of its own, which closes
 * it; the caps above apply.  Blocking, for a dedicated thread: returns -1
 * only when accept fails for good (logged), once the connections in
 * flight have ended.  Does not close lfd.
 */
int uapi_accept_loop(int lfd, const struct uapi_ops *ops, void *ctx);

/*
 * Serve one accepted connection until EOF: read requests, call ops, write
 * replies.  Blocking (poll with the timeouts above), for a dedicated thread;
 * SIGPIPE is not raised (MSG_NOSIGNAL).  A set request with any bad line is
 * answered with an errno and calls ops->set zero times; the connection then
 * goes on.  Returns 0 on clean EOF between requests; -1 (after logging why)
 * on an unknown operation, a line or request over its cap (answered with
 * errno=-E2BIG first), EOF or timeout inside a request, or a failed write.
 * Does not close fd.
 */
int uapi_serve(int fd, const struct uapi_ops *ops, void *ctx);

/* Free and wipe (keys) everything in *g / *s and zero the struct; NULL ok. */
void uapi_get_free(struct uapi_get *g);
void uapi_set_free(struct uapi_set *s);

/*
 * Parse the body of a set request: text = the lines after "set=1\n", up to
 * (not including) the blank line, so every line ends with '\n'.  No line may
 * be empty or hold a NUL, CR or any byte outside the value syntax.  Device
 * keys (private_key, listen_port, fwmark, replace_peers) come before the
 * first public_key; each other key belongs to the peer section opened by the
 * last public_key; a key may appear once per section except allowed_ip.
 * Boolean keys take only "true"; protocol_version only "1".  Allowed-IP
 * host bits past cidr are cleared.  *out is zeroed on entry; on success the
 * caller frees it with uapi_set_free; on error it is left empty and err
 * says which line and key (never a value) was wrong.  Returns 0,
 * KERR_FORMAT (no '=', empty line, NUL/CR), KERR_TRUNCATED (last line has
 * no '\n'), KERR_INVALID (unknown/misplaced/duplicate key, bad value),
 * KERR_TOOBIG (a cap), KERR_NOMEM.
 */
int uapi_parse_set(const char *text, size_t len, struct uapi_set *out,
    struct kerr *err) KODEN_WUR;

/*
 * Append the body of a get reply for g to out, in wireguard-go's order:
 * private_key (if any), listen_port and fwmark (if not 0), then per peer
 * public_key, preshared_key (zeros if none), protocol_version=1, endpoint (if
 * any), last_handshake_time_sec/_nsec, tx_bytes, rx_bytes,
 * persistent_keepalive_interval, allowed_ip lines.  Without the final
 * errno line.  out should be a buf_init_secret buffer: it receives the
 * private key.  KERR_INVALID for a bad family/cidr/endpoint or negative
 * handshake time, KERR_TOOBIG/KERR_NOMEM from out.
 */
int uapi_format_get(const struct uapi_get *g, struct buf *out,
    struct kerr *err) KODEN_WUR;

/*
 * Append s as the body of a set request (what uapi_parse_set reads back to
 * the same struct), for tests and clients.  Same errors as uapi_format_get.
 */
int uapi_format_set(const struct uapi_set *s, struct buf *out,
    struct kerr *err) KODEN_WUR;

#endif
