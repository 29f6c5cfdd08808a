/*
 * One error style for all of koden (STYLE.md 5): functions return 0 or a
 * negative KERR_* code and are marked KODEN_WUR.  Where a user can cause the
 * error, the function also fills an optional struct kerr with a sentence that
 * says what went wrong and where (line, field, byte offset).
 */
#ifndef KODEN_ERR_H
#define KODEN_ERR_H

#include <stddef.h>

#define KODEN_WUR __attribute__((warn_unused_result))

enum {
	KERR_OK = 0,
	KERR_NOMEM = -1,	/* out of memory */
	KERR_INVALID = -2,	/* invalid argument or input value */
	KERR_TRUNCATED = -3,	/* input ends before a field it announces */
	KERR_TOOBIG = -4,	/* over a hard cap */
	KERR_FORMAT = -5,	/* not the expected format (bad magic, garbage) */
	KERR_VERSION = -6,	/* unknown format version */
	KERR_CRYPTO = -7,	/* a cryptographic primitive failed */
	KERR_SIGNATURE = -8,	/* a signature does not verify */
	KERR_DECRYPT = -9,	/* authenticated decryption failed: tampered */
	KERR_NOT_RECIPIENT = -10, /* no wrap in the envelope opens with this key */
	KERR_PASSPHRASE = -11,	/* wrong passphrase for a key file */
	KERR_IO = -12,		/* read/write/open failed (see errno) */
	KERR_PERM = -13,	/* file permissions are unsafe */
	KERR_CHECKSUM = -14,	/* checksum of a typed string does not match */
	KERR_MISMATCH = -15,	/* routing header disagrees with signed telegram */
	KERR_SYNTAX = -16,	/* draft text is malformed */
	KERR_EXISTS = -17,	/* refusing to overwrite */
};

#define KERR_MSG_MAX 256

/* A detailed, human-readable error.  Every pointer to one may be NULL. */
struct kerr {
	char msg[KERR_MSG_MAX];
};

/* Static text for a code; never NULL. */
const char *kerr_str(int code);

/*
 * Fill e->msg (if e is non-NULL) and return code, so that callers can write
 * `return kerr_set(e, KERR_SYNTAX, "line %d: ...", n);`.
 */
int kerr_set(struct kerr *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* e->msg if set, else kerr_str(code). */
const char *kerr_msg(const struct kerr *e, int code);

#endif
