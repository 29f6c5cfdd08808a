#include <stdarg.h>
#include <stdio.h>

#include "lib/err.h"

const char *
kerr_str(int code)
{
	switch (code) {
	case KERR_OK: return "success";
	case KERR_NOMEM: return "out of memory";
	case KERR_INVALID: return "invalid input";
	case KERR_TRUNCATED: return "input is truncated";
	case KERR_TOOBIG: return "input is over the size limit";
	case KERR_FORMAT: return "input is not in the expected format";
	case KERR_VERSION: return "unknown format version";
	case KERR_CRYPTO: return "cryptographic operation failed";
	case KERR_SIGNATURE: return "signature does not verify";
	case KERR_DECRYPT: return "decryption failed: data was tampered with";
	case KERR_NOT_RECIPIENT: return "not addressed to this key";
	case KERR_PASSPHRASE: return "wrong passphrase";
	case KERR_IO: return "input/output error";
	case KERR_PERM: return "unsafe file permissions";
	case KERR_CHECKSUM: return "checksum mismatch";
	case KERR_MISMATCH: return "routing header does not match the signed telegram";
	case KERR_SYNTAX: return "syntax error";
	case KERR_EXISTS: return "already exists";
	}
	return "unknown error";
}

int
kerr_set(struct kerr *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e != NULL) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *
kerr_msg(const struct kerr *e, int code)
{
	if (e != NULL && e->msg[0] != '\0')
		return e->msg;
	return kerr_str(code);
}
