/*
 * Identities, public key strings and secret key files.
 * Formats are specified byte for byte in docs/format.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/keys.h"
#include "lib/buf.h"
#include "lib/text.h"

#define PUBKEY_CHECKSUM 4
#define PUBKEY_RAW (KEY_SIGN_PK + KEY_ENC_PK + PUBKEY_CHECKSUM)
#define PUBKEY_B64_LEN 91	/* base64url, no padding, of PUBKEY_RAW bytes */

#define KF_MAGIC "KDNK"
#define KF_VERSION 1
#define KF_KDF_NONE 0
#define KF_KDF_ARGON2ID 1
#define KF_SALT crypto_pwhash_argon2id_SALTBYTES
#define KF_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KF_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KF_SEED crypto_sign_SEEDBYTES
#define KF_BEGIN "-----BEGIN KODEN SECRET KEY-----"
#define KF_END "-----END KODEN SECRET KEY-----"
#define KF_RAW_MAX 512

static int
identity_alloc(struct identity **out)
{
	struct identity *id;

	*out = NULL;
	if (sodium_init() < 0)
		return KERR_CRYPTO;
	if ((id = sodium_malloc(sizeof(*id))) == NULL)
		return KERR_NOMEM;
	memset(id, 0, sizeof(*id));
	*out = id;
	return 0;
}

void
identity_free(struct identity *id)
{
	if (id != NULL)
		sodium_free(id);	/* zeroes before releasing */
}

static int
name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n > KEY_NAME_MAX || !utf8_valid((const uint8_t *)name, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return 0;
	return 1;
}

/* Fill id's keys from a signing seed and an X25519 secret key. */
static int
identity_from_secrets(struct identity *id, const uint8_t seed[static KF_SEED],
    const uint8_t enc_sk[static KEY_ENC_SK])
{
	if (crypto_sign_seed_keypair(id->pub.sign, id->sign_sk, seed) != 0)
		return KERR_CRYPTO;
	memcpy(id->enc_sk, enc_sk, KEY_ENC_SK);
	if (crypto_scalarmult_base(id->pub.enc, id->enc_sk) != 0)
		return KERR_CRYPTO;
	return 0;
}

int
identity_generate(struct identity **out, const char *name)
{
	struct identity *id;
	uint8_t seed[KF_SEED], esk[KEY_ENC_SK];
	int r;

	*out = NULL;
	if (name != NULL && !name_ok(name))
		return KERR_INVALID;
	if ((r = identity_alloc(&id)) != 0)
		return r;
	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(esk, sizeof(esk));
	if ((r = identity_from_secrets(id, seed, esk)) != 0) {
		identity_free(id);
		goto out;
	}
	if (name != NULL)
		memcpy(id->name, name, strlen(name) + 1);
	*out = id;
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(esk, sizeof(esk));
	return r;
}

static void
pubkey_checksum(uint8_t sum[static PUBKEY_CHECKSUM], const uint8_t *p, size_t n)
{
	hash_labelled(sum, PUBKEY_CHECKSUM, "koden pubkey checksum v1", p, n);
}

void
pubkey_encode(char out[static PUBKEY_STR_MAX], const struct pubkey *pk)
{
	uint8_t raw[PUBKEY_RAW];
	size_t pre = strlen(PUBKEY_PREFIX);

	memcpy(raw, pk->sign, KEY_SIGN_PK);
	memcpy(raw + KEY_SIGN_PK, pk->enc, KEY_ENC_PK);
	pubkey_checksum(raw + KEY_SIGN_PK + KEY_ENC_PK, raw, KEY_SIGN_PK + KEY_ENC_PK);
	memcpy(out, PUBKEY_PREFIX, pre);
	sodium_bin2base64(out + pre, PUBKEY_STR_MAX - pre, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
pubkey_decode(struct pubkey *pk, const char *s, struct kerr *e)
{
	uint8_t raw[PUBKEY_RAW], sum[PUBKEY_CHECKSUM];
	size_t pre = strlen(PUBKEY_PREFIX), n, rawlen;
	const char *end;

	memset(pk, 0, sizeof(*pk));
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (n < pre || strncmp(s, PUBKEY_PREFIX, pre) != 0)
		return kerr_set(e, KERR_FORMAT,
		    "not a koden public key (expected it to begin with '%s')",
		    PUBKEY_PREFIX);
	if (n - pre != PUBKEY_B64_LEN)
		return kerr_set(e, KERR_FORMAT,
		    "malformed koden public key: expected %d characters of "
		    "base64url after '%s', got %zu", PUBKEY_B64_LEN,
		    PUBKEY_PREFIX, n - pre);
	if (b64_bad_char(s + pre, n - pre, 1) != n - pre ||
	    sodium_base642bin(raw, sizeof(raw), s + pre, n - pre, NULL, &rawlen,
	    &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != s + n || rawlen != sizeof(raw))
		return kerr_set(e, KERR_FORMAT,
		    "malformed koden public key: a character is not base64url "
		    "(A-Z a-z 0-9 - _), or the last one is not a possible "
		    "final character: the key was mistyped");
	pubkey_checksum(sum, raw, KEY_SIGN_PK + KEY_ENC_PK);
	if (sodium_memcmp(sum, raw + KEY_SIGN_PK + KEY_ENC_PK, sizeof(sum)) != 0)
		return kerr_set(e, KERR_CHECKSUM,
		    "public key checksum does not match: the key was mistyped "
		    "or altered");
	memcpy(pk->sign, raw, KEY_SIGN_PK);
	memcpy(pk->enc, raw + KEY_SIGN_PK, KEY_ENC_PK);
	return 0;
}

void
pubkey_hint(uint8_t hint[static KEY_HINT], const uint8_t enc[static KEY_ENC_PK])
{
	hash_labelled(hint, KEY_HINT, "koden key hint v1", enc, KEY_ENC_PK);
}

int
pubkey_equal(const struct pubkey *a, const struct pubkey *b)
{
	return sodium_memcmp(a, b, sizeof(*a)) == 0;
}

/* Derive the key-file key from the passphrase. */
static int
kf_derive(uint8_t key[static 32], const char *pass, size_t pass_len,
    const uint8_t salt[static KF_SALT], uint32_t ops, uint64_t mem)
{
	if (crypto_pwhash(key, 32, pass, pass_len, salt, ops, (size_t)mem,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		return KERR_NOMEM;	/* the only way it fails: memlimit */
	return 0;
}

/* The binary key file payload (docs/format.md, "Secret key file"). */
static int
kf_raw(struct buf *raw, const struct identity *id, const char *pass,
    size_t pass_len)
{
	uint8_t seed[KF_SEED], key[32], salt[KF_SALT], nonce[KF_NONCE];
	struct buf body;
	size_t ad_len;
	int r;

	buf_init_secret(&body, KF_RAW_MAX);
	memcpy(seed, id->sign_sk, KF_SEED);	/* libsodium sk = seed || pk */
	if ((r = buf_put(raw, KF_MAGIC, 4)) != 0 ||
	    (r = buf_put_u8(raw, KF_VERSION)) != 0 ||
	    (r = buf_put_u8(raw, pass ? KF_KDF_ARGON2ID : KF_KDF_NONE)) != 0 ||
	    (r = buf_put_u32(raw, pass ? KEYFILE_OPSLIMIT : 0)) != 0 ||
	    (r = buf_put_u64(raw, pass ? KEYFILE_MEMLIMIT : 0)) != 0)
		goto out;
	if ((r = buf_put(&body, seed, sizeof(seed))) != 0 ||
	    (r = buf_put(&body, id->enc_sk, KEY_ENC_SK)) != 0 ||
	    (r = buf_put_str8(&body, id->name)) != 0)
		goto out;
	if (pass == NULL) {
		r = buf_put(raw, body.p, body.len);
		goto out;
	}
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	if ((r = buf_put(raw, salt, sizeof(salt))) != 0 ||
	    (r = buf_put(raw, nonce, sizeof(nonce))) != 0)
		goto out;
	if ((r = kf_derive(key, pass, pass_len, salt, KEYFILE_OPSLIMIT,
	    KEYFILE_MEMLIMIT)) != 0)
		goto out;
	ad_len = raw->len;
	if ((r = buf_reserve(raw, body.len + KF_TAG)) != 0)
		goto out;
	crypto_aead_xchacha20poly1305_ietf_encrypt(raw->p + raw->len, NULL,
	    body.p, body.len, raw->p, ad_len, NULL, nonce, key);
	raw->len += body.len + KF_TAG;
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(key, sizeof(key));
	buf_free(&body);
	return r;
}

int
keyfile_encode(char **out, size_t *out_len, const struct identity *id,
    const char *pass, size_t pass_len)
{
	struct buf raw, txt;
	char pk[PUBKEY_STR_MAX], *b64 = NULL;
	size_t b64_len;
	int r;

	*out = NULL;
	*out_len = 0;
	buf_init_secret(&raw, KF_RAW_MAX);
	buf_init_secret(&txt, KEYFILE_MAX);
	if ((r = kf_raw(&raw, id, pass, pass_len)) != 0)
		goto out;
	b64_len = sodium_base64_ENCODED_LEN(raw.len, sodium_base64_VARIANT_ORIGINAL);
	if ((b64 = malloc(b64_len)) == NULL) {
		r = KERR_NOMEM;
		goto out;
	}
	sodium_bin2base64(b64, b64_len, raw.p, raw.len,
	    sodium_base64_VARIANT_ORIGINAL);
	pubkey_encode(pk, &id->pub);

	const char *head = "# koden secret key: keep this file private (mode 0600)\n";
	if ((r = buf_put(&txt, head, strlen(head))) != 0)
		goto out;
	if (id->name[0] != '\0') {
		if ((r = buf_put(&txt, "# name: ", 8)) != 0 ||
		    (r = buf_put(&txt, id->name, strlen(id->name))) != 0 ||
		    (r = buf_put_u8(&txt, '\n')) != 0)
			goto out;
	}
	if ((r = buf_put(&txt, "# public key: ", 14)) != 0 ||
	    (r = buf_put(&txt, pk, strlen(pk))) != 0 ||
	    (r = buf_put(&txt, "\n" KF_BEGIN "\n", strlen(KF_BEGIN) + 2)) != 0)
		goto out;
	for (size_t off = 0, n = strlen(b64); off < n; off += 64) {
		size_t k = n - off < 64 ? n - off : 64;

		if ((r = buf_put(&txt, b64 + off, k)) != 0 ||
		    (r = buf_put_u8(&txt, '\n')) != 0)
			goto out;
	}
	if ((r = buf_put(&txt, KF_END "\n", strlen(KF_END) + 1)) != 0 ||
	    (r = buf_put_u8(&txt, '\0')) != 0)
		goto out;
	*out_len = txt.len - 1;
	*out = (char *)txt.p;
	txt.p = NULL;	/* ownership passes to the caller */
out:
	if (b64 != NULL) {
		sodium_memzero(b64, b64_len);
		free(b64);
	}
	buf_free(&raw);
	buf_free(&txt);
	return r;
}

/*
 * Find the armoured block in the key file text and decode it into raw.
 * Lines before BEGIN must be blank or '#' comments; nothing but blank lines
 * may follow END.
 */
static int
kf_unarmor(struct buf *raw, const uint8_t *p, size_t len, struct kerr *e)
{
	char b64[KEYFILE_MAX];
	size_t b64_len = 0, line = 0, rawlen;
	int state = 0;	/* 0 before BEGIN, 1 inside, 2 after END */
	struct rd rd;

	if (len > KEYFILE_MAX)
		return kerr_set(e, KERR_TOOBIG, "key file is %zu bytes, over "
		    "the limit of %d: not a koden key file", len, KEYFILE_MAX);
	rd_init(&rd, p, len);
	while (rd_left(&rd) > 0) {
		const uint8_t *l = p + rd.off, *nl;
		size_t n;

		line++;
		nl = memchr(l, '\n', rd_left(&rd));
		n = nl ? (size_t)(nl - l) : rd_left(&rd);
		rd.off += n + (nl != NULL);
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (state == 0) {
			if (n == strlen(KF_BEGIN) && memcmp(l, KF_BEGIN, n) == 0)
				state = 1;
			else if (n != 0 && l[0] != '#')
				return kerr_set(e, KERR_FORMAT, "key file line "
				    "%zu: not a koden secret key file (expected "
				    "'%s')", line, KF_BEGIN);
		} else if (state == 1) {
			if (n == strlen(KF_END) && memcmp(l, KF_END, n) == 0)
				state = 2;
			else if (n > sizeof(b64) - b64_len - 1)
				return kerr_set(e, KERR_TOOBIG, "key file line "
				    "%zu: too long", line);
			else {
				memcpy(b64 + b64_len, l, n);
				b64_len += n;
			}
		} else if (n != 0)
			return kerr_set(e, KERR_FORMAT, "key file line %zu: "
			    "unexpected text after '%s'", line, KF_END);
	}
	if (state != 2)
		return kerr_set(e, KERR_TRUNCATED, "key file is truncated: "
		    "missing '%s'", state == 0 ? KF_BEGIN : KF_END);
	if (buf_reserve(raw, KF_RAW_MAX) != 0)
		return KERR_NOMEM;
	if (b64_bad_char(b64, b64_len, 0) != b64_len ||
	    sodium_base642bin(raw->p, KF_RAW_MAX, b64, b64_len, NULL, &rawlen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		sodium_memzero(b64, sizeof(b64));
		return kerr_set(e, KERR_FORMAT, "key file: the key block is "
		    "not valid base64");
	}
	sodium_memzero(b64, sizeof(b64));
	raw->len = rawlen;
	return 0;
}

struct kf_head {
	uint8_t kdf;
	uint32_t ops;
	uint64_t mem;
	size_t ad_len;
};

static int
kf_parse_head(struct kf_head *h, struct rd *rd, struct kerr *e)
{
	const uint8_t *magic;
	uint8_t ver;

	if (rd_take(rd, &magic, 4) != 0 || memcmp(magic, KF_MAGIC, 4) != 0)
		return kerr_set(e, KERR_FORMAT, "not a koden secret key "
		    "(bad magic in the key block)");
	if (rd_u8(rd, &ver) != 0 || rd_u8(rd, &h->kdf) != 0 ||
	    rd_u32(rd, &h->ops) != 0 || rd_u64(rd, &h->mem) != 0)
		return kerr_set(e, KERR_TRUNCATED, "key block is truncated");
	if (ver != KF_VERSION)
		return kerr_set(e, KERR_VERSION, "key file version %u is not "
		    "supported (this koden reads version %d)", ver, KF_VERSION);
	if (h->kdf == KF_KDF_NONE) {
		if (h->ops != 0 || h->mem != 0)
			return kerr_set(e, KERR_FORMAT, "key block: KDF "
			    "parameters set on an unencrypted key");
	} else if (h->kdf == KF_KDF_ARGON2ID) {
		if (h->ops < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
		    h->ops > KEYFILE_OPSLIMIT_MAX ||
		    h->mem < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
		    h->mem > KEYFILE_MEMLIMIT_MAX)
			return kerr_set(e, KERR_FORMAT, "key block: Argon2id "
			    "cost (ops %u, memory %llu bytes) is outside the "
			    "accepted range", h->ops,
			    (unsigned long long)h->mem);
	} else
		return kerr_set(e, KERR_FORMAT, "key block: unknown key "
		    "derivation %u", h->kdf);
	h->ad_len = rd->off;
	return 0;
}

int
keyfile_encrypted(const uint8_t *p, size_t len, struct kerr *e)
{
	struct buf raw;
	struct kf_head h;
	struct rd rd;
	int r;

	buf_init_secret(&raw, KF_RAW_MAX);
	if ((r = kf_unarmor(&raw, p, len, e)) != 0)
		goto out;
	rd_init(&rd, raw.p, raw.len);
	if ((r = kf_parse_head(&h, &rd, e)) != 0)
		goto out;
	r = h.kdf == KF_KDF_ARGON2ID;
out:
	buf_free(&raw);
	return r;
}

int
keyfile_decode(struct identity **out, const uint8_t *p, size_t len,
    const char *pass, size_t pass_len, struct kerr *e)
{
	struct identity *id = NULL;
	struct buf raw, body;
	struct kf_head h;
	struct rd rd, brd;
	uint8_t key[32], seed[KF_SEED], esk[KEY_ENC_SK];
	const uint8_t *salt, *nonce, *ct;
	uint8_t nlen;
	const uint8_t *name;
	size_t ct_len;
	int r;

	*out = NULL;
	buf_init_secret(&raw, KF_RAW_MAX);
	buf_init_secret(&body, KF_RAW_MAX);
	if ((r = kf_unarmor(&raw, p, len, e)) != 0)
		goto out;
	rd_init(&rd, raw.p, raw.len);
	if ((r = kf_parse_head(&h, &rd, e)) != 0)
		goto out;
	if (h.kdf == KF_KDF_NONE) {
		if ((r = buf_put(&body, raw.p + rd.off, rd_left(&rd))) != 0)
			goto out;
	} else {
		if (pass == NULL) {
			r = kerr_set(e, KERR_PASSPHRASE, "this key file is "
			    "protected by a passphrase, and none was given");
			goto out;
		}
		if (rd_take(&rd, &salt, KF_SALT) != 0 ||
		    rd_take(&rd, &nonce, KF_NONCE) != 0 ||
		    rd_left(&rd) < KF_TAG) {
			r = kerr_set(e, KERR_TRUNCATED, "key block is truncated");
			goto out;
		}
		h.ad_len = rd.off;
		ct = raw.p + rd.off;
		ct_len = rd_left(&rd);
		if ((r = kf_derive(key, pass, pass_len, salt, h.ops, h.mem)) != 0)
			goto out;
		if ((r = buf_reserve(&body, ct_len - KF_TAG)) != 0)
			goto out;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(body.p, NULL,
		    NULL, ct, ct_len, raw.p, h.ad_len, nonce, key) != 0) {
			r = kerr_set(e, KERR_PASSPHRASE, "wrong passphrase "
			    "(or the key file was altered)");
			goto out;
		}
		body.len = ct_len - KF_TAG;
	}
	rd_init(&brd, body.p, body.len);
	if (rd_copy(&brd, seed, sizeof(seed)) != 0 ||
	    rd_copy(&brd, esk, sizeof(esk)) != 0 ||
	    rd_u8(&brd, &nlen) != 0 || rd_take(&brd, &name, nlen) != 0) {
		r = kerr_set(e, KERR_TRUNCATED, "key block is truncated");
		goto out;
	}
	if (rd_left(&brd) != 0) {
		r = kerr_set(e, KERR_FORMAT, "key block has %zu unexpected "
		    "trailing bytes", rd_left(&brd));
		goto out;
	}
	if ((r = identity_alloc(&id)) != 0)
		goto out;
	if (nlen > KEY_NAME_MAX) {
		r = kerr_set(e, KERR_FORMAT, "key file: name is too long");
		goto out;
	}
	memcpy(id->name, name, nlen);
	id->name[nlen] = '\0';
	if (!name_ok(id->name) || strlen(id->name) != nlen) {
		r = kerr_set(e, KERR_FORMAT, "key file: name is not valid text");
		goto out;
	}
	if ((r = identity_from_secrets(id, seed, esk)) != 0)
		goto out;
	*out = id;
	id = NULL;
out:
	identity_free(id);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(esk, sizeof(esk));
	buf_free(&raw);
	buf_free(&body);
	return r;
}

int
keyfile_write(const char *path, const struct identity *id, const char *pass,
    size_t pass_len, struct kerr *e)
{
	char *txt = NULL;
	size_t len = 0, off = 0;
	int fd = -1, r;

	if ((r = keyfile_encode(&txt, &len, id, pass, pass_len)) != 0) {
		kerr_set(e, r, "cannot encode key file: %s", kerr_str(r));
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		r = kerr_set(e, errno == EEXIST ? KERR_EXISTS : KERR_IO,
		    "%s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (refusing to overwrite a key file)" : "");
		goto out;
	}
	if (fchmod(fd, 0600) != 0) {
		r = kerr_set(e, KERR_IO, "%s: chmod: %s", path, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, txt + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = kerr_set(e, KERR_IO, "%s: write: %s", path,
			    strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		r = kerr_set(e, KERR_IO, "%s: fsync: %s", path, strerror(errno));
		goto out;
	}
out:
	if (fd >= 0 && close(fd) != 0 && r == 0)
		r = kerr_set(e, KERR_IO, "%s: close: %s", path, strerror(errno));
	if (r != 0 && fd >= 0)
		unlink(path);
	if (txt != NULL) {
		sodium_memzero(txt, len);
		free(txt);
	}
	return r;
}

int
keyfile_read(const char *path, uint8_t **out, size_t *out_len, struct kerr *e)
{
	struct stat st;
	struct buf b;
	int fd, r;

	*out = NULL;
	*out_len = 0;
	buf_init_secret(&b, KEYFILE_MAX + 1);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return kerr_set(e, KERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		r = kerr_set(e, KERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = kerr_set(e, KERR_FORMAT, "%s: not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		r = kerr_set(e, KERR_PERM, "%s: secret key file is accessible "
		    "by group or others (mode %04o); fix it with: chmod 600 %s",
		    path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((r = buf_read_fd(&b, fd)) != 0) {
		r = kerr_set(e, r, "%s: %s", path, r == KERR_TOOBIG ?
		    "too large to be a koden key file" : strerror(errno));
		goto out;
	}
	*out_len = b.len;
	*out = b.p;
	b.p = NULL;
out:
	close(fd);
	buf_free(&b);
	return r;
}
