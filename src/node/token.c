/*
 * Enrolment tokens (docs/directory.md, "Enrolment token").
 *
 * Built like the public key string (src/crypto/keys.c): a prefix, then
 * base64url without padding of the payload and a 4-byte BLAKE2b checksum,
 * so that a token mistyped while being carried by hand is refused with
 * "checksum does not match" rather than enrolling against the wrong keys.
 * Every buffer that holds the secret is wiped before it is released.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/buf.h"
#include "crypto/hash.h"
#include "lib/text.h"
#include "node/token.h"

#define TOKEN_RAW_MIN (1 + 1 + 1 + 1 + 3 + KEY_SIGN_PK + KEY_ENC_PK + \
	KEY_SIGN_PK + TOKEN_SECRET + TOKEN_CHECKSUM)

static void
token_checksum(uint8_t sum[static TOKEN_CHECKSUM], const uint8_t *p, size_t n)
{
	/* p holds the secret: hash_labelled wipes its state */
	hash_labelled(sum, TOKEN_CHECKSUM, TOKEN_CHECKSUM_LABEL, p, n);
}

void
token_hash(uint8_t out[static 32], const uint8_t secret[static TOKEN_SECRET])
{
	hash_labelled(out, 32, TOKEN_HASH_LABEL, secret, TOKEN_SECRET);
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/*
 * HQ's address: host:port, where host is a DNS name or IPv4 address
 * (letters, digits, '-', '.') or a bracketed IPv6 address ("[::1]"), and
 * port is 1..65535 in decimal without leading zeros.  The address ends up
 * in logs and configuration, so nothing else is let through.
 */
static int
addr_check(const char *a, struct kerr *e)
{
	const char *colon, *port;
	size_t n = strlen(a), hn;
	unsigned long v = 0;

	if (n == 0)
		return kerr_set(e, KERR_INVALID, "HQ address is empty "
		    "(expected host:port)");
	if (n > TOKEN_ADDR_MAX)
		return kerr_set(e, KERR_TOOBIG, "HQ address is %zu bytes, over "
		    "the limit of %d", n, TOKEN_ADDR_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] <= 0x20 || (unsigned char)a[i] >= 0x7f)
			return kerr_set(e, KERR_INVALID, "HQ address: byte %zu "
			    "is a space, control character or non-ASCII byte",
			    i + 1);
	/* Only printable ASCII from here on: safe to quote. */
	if ((colon = strrchr(a, ':')) == NULL)
		return kerr_set(e, KERR_INVALID, "HQ address '%s' has no port "
		    "(expected host:port)", a);
	hn = (size_t)(colon - a);
	port = colon + 1;
	if (hn == 0)
		return kerr_set(e, KERR_INVALID, "HQ address '%s' has no host "
		    "(expected host:port)", a);
	if (port[0] == '\0' || strlen(port) > 5 || port[0] == '0')
		goto bad_port;
	for (const char *q = port; *q; q++) {
		if (!is_digit((unsigned char)*q))
			goto bad_port;
		v = v * 10 + (unsigned long)(*q - '0');
	}
	if (v < 1 || v > 65535)
		goto bad_port;
	if (a[0] == '[') {
		int colons = 0;

		if (hn < 3 || a[hn - 1] != ']')
			goto bad_host;
		for (size_t i = 1; i < hn - 1; i++) {
			if (a[i] == ':')
				colons++;
			else if (!is_hex((unsigned char)a[i]) && a[i] != '.')
				goto bad_host;
		}
		if (colons < 2)
			goto bad_host;
	} else {
		/* a leading '-' could pass for an option further down */
		if (!is_alpha((unsigned char)a[0]) && !is_digit((unsigned char)a[0]))
			goto bad_host;
		for (size_t i = 0; i < hn; i++)
			if (!is_alpha((unsigned char)a[i]) &&
			    !is_digit((unsigned char)a[i]) &&
			    a[i] != '-' && a[i] != '.')
				goto bad_host;
	}
	return 0;
bad_port:
	return kerr_set(e, KERR_INVALID, "HQ address '%s': port '%s' is not a "
	    "number from 1 to 65535 (without leading zeros)", a, port);
bad_host:
	return kerr_set(e, KERR_INVALID, "HQ address '%s': host '%.*s' is not "
	    "a host name, an IPv4 address or a bracketed IPv6 address", a,
	    (int)hn, a);
}

/* Every rule on the fields, shared by the encoder and the decoder. */
static int
token_check(const struct join_token *t, struct kerr *e)
{
	struct kerr sub = { "" };
	int r;

	if (memchr(t->post, '\0', sizeof(t->post)) == NULL ||
	    memchr(t->hq_addr, '\0', sizeof(t->hq_addr)) == NULL)
		return kerr_set(e, KERR_INVALID, "enrolment token: post or "
		    "address is not NUL-terminated");
	if ((r = tg_check_post(t->post, &sub)) != 0)
		return kerr_set(e, r, "enrolment token: %s", sub.msg);
	if ((r = addr_check(t->hq_addr, &sub)) != 0)
		return kerr_set(e, r, "enrolment token: %s", sub.msg);
	if (sodium_is_zero(t->hq_pk.sign, KEY_SIGN_PK) ||
	    sodium_is_zero(t->hq_pk.enc, KEY_ENC_PK) ||
	    sodium_is_zero(t->dir_pk, KEY_SIGN_PK))
		return kerr_set(e, KERR_INVALID, "enrolment token: a public "
		    "key is all zeros (not set)");
	if (sodium_is_zero(t->secret, TOKEN_SECRET))
		return kerr_set(e, KERR_INVALID, "enrolment token: the secret "
		    "is all zeros (not set)");
	return 0;
}

int
token_encode(char **out, const struct join_token *t)
{
	struct buf raw;
	size_t pre = strlen(TOKEN_PREFIX);
	char *s = NULL;
	int r;

	*out = NULL;
	buf_init_secret(&raw, TOKEN_RAW_MAX);
	if ((r = token_check(t, NULL)) != 0)
		goto out;
	if ((r = buf_put_u8(&raw, TOKEN_VERSION)) != 0 ||
	    (r = buf_put_str8(&raw, t->post)) != 0 ||
	    (r = buf_put_str8(&raw, t->hq_addr)) != 0 ||
	    (r = buf_put(&raw, t->hq_pk.sign, KEY_SIGN_PK)) != 0 ||
	    (r = buf_put(&raw, t->hq_pk.enc, KEY_ENC_PK)) != 0 ||
	    (r = buf_put(&raw, t->dir_pk, KEY_SIGN_PK)) != 0 ||
	    (r = buf_put(&raw, t->secret, TOKEN_SECRET)) != 0 ||
	    (r = buf_reserve(&raw, TOKEN_CHECKSUM)) != 0)
		goto out;
	token_checksum(raw.p + raw.len, raw.p, raw.len);
	raw.len += TOKEN_CHECKSUM;
	if ((s = malloc(TOKEN_STR_MAX)) == NULL) {
		r = KERR_NOMEM;
		goto out;
	}
	memcpy(s, TOKEN_PREFIX, pre);
	sodium_bin2base64(s + pre, TOKEN_STR_MAX - pre, raw.p, raw.len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*out = s;
out:
	buf_free(&raw);
	return r;
}

/* A str8 of at most max bytes, without NUL, into a field of max + 1. */
static int
rd_field(struct rd *rd, char *out, size_t max, const char *what,
    struct kerr *e)
{
	const uint8_t *p;
	uint8_t n;

	if (rd_u8(rd, &n) != 0 || rd_take(rd, &p, n) != 0)
		return kerr_set(e, KERR_FORMAT, "enrolment token is malformed: "
		    "it ends inside the %s", what);
	if (n > max)
		return kerr_set(e, KERR_TOOBIG, "enrolment token: %s is %u "
		    "bytes, over the limit of %zu", what, n, max);
	if (memchr(p, '\0', n) != NULL)
		return kerr_set(e, KERR_FORMAT, "enrolment token: %s contains "
		    "a NUL byte", what);
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
token_decode(struct join_token *t, const char *s, struct kerr *e)
{
	uint8_t raw[TOKEN_RAW_MAX], sum[TOKEN_CHECKSUM], ver;
	size_t pre = strlen(TOKEN_PREFIX), n, b64n, rawlen = 0, bad;
	const char *end;
	struct rd rd;
	int r;

	memset(t, 0, sizeof(*t));
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (n < pre || strncmp(s, TOKEN_PREFIX, pre) != 0)
		return kerr_set(e, KERR_FORMAT, "not a koden enrolment token "
		    "(expected it to begin with '%s')", TOKEN_PREFIX);
	b64n = n - pre;
	if (b64n > TOKEN_B64_MAX)
		return kerr_set(e, KERR_FORMAT, "enrolment token is %zu "
		    "characters, longer than any token (%zu)", n,
		    pre + TOKEN_B64_MAX);
	if ((bad = b64_bad_char(s + pre, b64n, 1)) != b64n) {
		unsigned char c = (unsigned char)s[pre + bad];

		if (c > 0x20 && c < 0x7f)
			return kerr_set(e, KERR_FORMAT, "enrolment token: "
			    "character %zu ('%c') is not base64url", pre + bad + 1,
			    c);
		return kerr_set(e, KERR_FORMAT, "enrolment token: character "
		    "%zu (byte 0x%02x) is not base64url", pre + bad + 1, c);
	}
	if (sodium_base642bin(raw, sizeof(raw), s + pre, b64n, NULL, &rawlen,
	    &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != s + n || rawlen < TOKEN_RAW_MIN) {
		r = kerr_set(e, KERR_FORMAT, "malformed enrolment token: %zu "
		    "characters after '%s' are not a whole token (was it cut "
		    "short?)", b64n, TOKEN_PREFIX);
		goto out;
	}
	token_checksum(sum, raw, rawlen - TOKEN_CHECKSUM);
	if (sodium_memcmp(sum, raw + rawlen - TOKEN_CHECKSUM, sizeof(sum)) != 0) {
		r = kerr_set(e, KERR_CHECKSUM, "enrolment token checksum does "
		    "not match: the token was mistyped or altered");
		goto out;
	}
	rd_init(&rd, raw, rawlen - TOKEN_CHECKSUM);
	if ((r = rd_u8(&rd, &ver)) != 0)
		goto out;
	if (ver != TOKEN_VERSION) {
		r = kerr_set(e, KERR_VERSION, "enrolment token version %u is "
		    "not supported (this koden reads version %d)", ver,
		    TOKEN_VERSION);
		goto out;
	}
	if ((r = rd_field(&rd, t->post, TG_POST_MAX, "post name", e)) != 0 ||
	    (r = rd_field(&rd, t->hq_addr, TOKEN_ADDR_MAX, "HQ address",
	    e)) != 0)
		goto out;
	if (rd_copy(&rd, t->hq_pk.sign, KEY_SIGN_PK) != 0 ||
	    rd_copy(&rd, t->hq_pk.enc, KEY_ENC_PK) != 0 ||
	    rd_copy(&rd, t->dir_pk, KEY_SIGN_PK) != 0 ||
	    rd_copy(&rd, t->secret, TOKEN_SECRET) != 0) {
		r = kerr_set(e, KERR_FORMAT, "enrolment token is malformed: "
		    "it ends inside the keys");
		goto out;
	}
	if (rd_left(&rd) != 0) {
		r = kerr_set(e, KERR_FORMAT, "enrolment token is malformed: "
		    "%zu unexpected bytes after the secret", rd_left(&rd));
		goto out;
	}
	r = token_check(t, e);
out:
	sodium_memzero(raw, sizeof(raw));
	if (r != 0)
		sodium_memzero(t, sizeof(*t));
	return r;
}
