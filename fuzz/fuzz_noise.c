/*
 * libFuzzer target: the Noise IK / IKpsk2 handshake readers and the
 * transport decrypt behind them.
 *
 * Input: mode byte, 2-byte big-endian length L, L bytes of handshake
 * message (fewer if the input ends), then transport records, each a 2-byte
 * big-endian length and that many bytes.  Mode bit 0 picks the side:
 *   0  a responder with a fixed static key reads the bytes as message 1;
 *   1  an initiator with fixed keys writes message 1, then reads the bytes
 *      as message 2.
 * Mode bit 1 picks IKpsk2 (with a fixed psk) over IK.  All keys, including
 * the ephemerals, are fixed, so a valid handshake gives the same transport
 * keys every run and the seeds in fuzz/corpus/noise reach the transport
 * decrypt.  Whatever the bytes, nothing may crash, and the outcomes are
 * checked: a successful read returns exactly the payload length the
 * message implies, a failed one leaves a handshake state that refuses
 * everything.
 *
 * The seeds are made by this file built with -DFUZZ_NOISE_SEEDS:
 *   cc -std=c11 -Isrc -DFUZZ_NOISE_SEEDS fuzz/fuzz_noise.c build/libkoden.a \
 *       $(pkg-config --libs libsodium libb2) -o noise-seeds &&
 *   ./noise-seeds fuzz/corpus/noise
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len);

#define MODE_INITIATOR 0x01
#define MODE_PSK 0x02

static const uint8_t fuzz_prologue[] = "koden noise fuzz";
static const uint8_t fuzz_payload1[] = "hello from the initiator";

struct fuzz_keys {
	struct noise_keypair is, rs, ie, re;
	uint8_t psk[NOISE_PSKLEN];
};

static void
fuzz_keys(struct fuzz_keys *k)
{
	uint8_t priv[NOISE_DHLEN];

	memset(priv, 0x11, sizeof(priv));
	if (noise_keypair_from_private(&k->is, priv) != 0)
		abort();
	memset(priv, 0x22, sizeof(priv));
	if (noise_keypair_from_private(&k->rs, priv) != 0)
		abort();
	memset(priv, 0x33, sizeof(priv));
	if (noise_keypair_from_private(&k->ie, priv) != 0)
		abort();
	memset(priv, 0x44, sizeof(priv));
	if (noise_keypair_from_private(&k->re, priv) != 0)
		abort();
	memset(k->psk, 0x55, sizeof(k->psk));
}

static void
setup(struct noise_hs *hs, const struct fuzz_keys *k, enum noise_pattern p,
    int initiator)
{
	const uint8_t *psk = p == NOISE_IKPSK2 ? k->psk : NULL;

	if (noise_hs_init(hs, p, initiator, fuzz_prologue,
	    sizeof(fuzz_prologue) - 1, initiator ? &k->is : &k->rs,
	    initiator ? k->rs.pub : NULL, psk) != 0)
		abort();
	noise_hs_set_ephemeral(hs, initiator ? &k->ie : &k->re);
}

/* A failed handshake call must leave hs refusing everything. */
static void
check_unusable(struct noise_hs *hs)
{
	struct noise_cs a, b;
	uint8_t buf[NOISE_IK_MSG1_OVERHEAD];
	size_t n;

	if (noise_hs_remote_static(hs) != NULL || noise_hs_done(hs))
		abort();
	if (noise_hs_write(hs, NULL, 0, buf, sizeof(buf), &n) != KERR_INVALID)
		abort();
	if (noise_hs_split(hs, &a, &b) != KERR_INVALID || a.has_key ||
	    b.has_key)
		abort();
}

/* Decrypt transport records; returns how many opened. */
static int
transport(struct noise_cs *recv, const uint8_t *p, size_t len)
{
	static uint8_t pt[NOISE_MSG_MAX];
	int opened = 0;
	uint64_t n0;
	size_t rec;

	while (len >= 2) {
		rec = (size_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
		if (rec > len)
			rec = len;
		n0 = recv->n;
		if (noise_cs_decrypt(recv, NULL, 0, p, rec, pt) == 0) {
			if (recv->n != n0 + 1 || rec < NOISE_TAGLEN)
				abort();
			opened++;
		} else if (recv->n != n0) {
			abort();
		}
		p += rec;
		len -= rec;
	}
	return opened;
}

/*
 * One input.  Returns -1 if the handshake message was refused, else the
 * number of transport records that opened.
 */
static int
run(const uint8_t *p, size_t len)
{
	static struct fuzz_keys k;
	static int have_keys;
	static uint8_t payload[NOISE_MSG_MAX], out[NOISE_MSG_MAX];
	struct noise_hs hs;
	struct noise_cs send, recv;
	enum noise_pattern pat;
	size_t mlen, plen, n, overhead;
	int initiator, r, opened;

	if (!have_keys) {
		fuzz_keys(&k);
		have_keys = 1;
	}
	if (len < 3)
		return -1;
	initiator = p[0] & MODE_INITIATOR;
	pat = p[0] & MODE_PSK ? NOISE_IKPSK2 : NOISE_IK;
	mlen = (size_t)p[1] << 8 | p[2];
	p += 3;
	len -= 3;
	if (mlen > len)
		mlen = len;

	setup(&hs, &k, pat, initiator);
	if (initiator) {
		if (noise_hs_write(&hs, fuzz_payload1,
		    sizeof(fuzz_payload1) - 1, out, sizeof(out), &n) != 0)
			abort();
		overhead = NOISE_IK_MSG2_OVERHEAD;
	} else {
		overhead = NOISE_IK_MSG1_OVERHEAD;
	}

	r = noise_hs_read(&hs, p, mlen, payload, sizeof(payload), &plen);
	if (r != 0) {
		if (plen != 0)
			abort();
		check_unusable(&hs);
		return -1;
	}
	if (plen != mlen - overhead)
		abort();
	if (initiator) {
		if (!noise_hs_done(&hs))
			abort();
	} else {
		/* an authentic message 1 carries the initiator's key */
		if (noise_hs_remote_static(&hs) == NULL)
			abort();
		if (noise_hs_write(&hs, NULL, 0, out, sizeof(out), &n) != 0)
			abort();
	}
	if (noise_hs_split(&hs, &send, &recv) != 0)
		abort();
	opened = transport(&recv, p + mlen, len - mlen);
	noise_cs_wipe(&send);
	noise_cs_wipe(&recv);
	return opened;
}

int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	(void)run(p, len);
	return 0;
}

#ifdef FUZZ_NOISE_SEEDS
/* Append a 2-byte length and the bytes. */
static size_t
put_rec(uint8_t *buf, size_t off, const uint8_t *p, size_t len)
{
	buf[off] = (uint8_t)(len >> 8);
	buf[off + 1] = (uint8_t)len;
	memcpy(buf + off + 2, p, len);
	return off + 2 + len;
}

/*
 * A seed for mode: the valid handshake message that side reads, then two
 * transport messages from the other side.
 */
static size_t
make_seed(uint8_t *buf, uint8_t mode)
{
	static const char *const words[] = { "first record", "second" };
	struct fuzz_keys k;
	struct noise_hs ini, res;
	struct noise_cs is, ir, rs, rr, *s;
	enum noise_pattern pat = mode & MODE_PSK ? NOISE_IKPSK2 : NOISE_IK;
	uint8_t m1[256], m2[256], pl[256], ct[64];
	size_t n1, n2, got, off;

	fuzz_keys(&k);
	setup(&ini, &k, pat, 1);
	setup(&res, &k, pat, 0);
	if (noise_hs_write(&ini, fuzz_payload1, sizeof(fuzz_payload1) - 1,
	    m1, sizeof(m1), &n1) != 0 ||
	    noise_hs_read(&res, m1, n1, pl, sizeof(pl), &got) != 0 ||
	    noise_hs_write(&res, (const uint8_t *)"welcome", 7, m2, sizeof(m2),
	    &n2) != 0 ||
	    noise_hs_read(&ini, m2, n2, pl, sizeof(pl), &got) != 0 ||
	    noise_hs_split(&ini, &is, &ir) != 0 ||
	    noise_hs_split(&res, &rs, &rr) != 0)
		abort();

	buf[0] = mode;
	off = mode & MODE_INITIATOR ? put_rec(buf, 1, m2, n2) :
	    put_rec(buf, 1, m1, n1);
	s = mode & MODE_INITIATOR ? &rs : &is;
	for (int i = 0; i < 2; i++) {
		size_t wl = strlen(words[i]);

		if (noise_cs_encrypt(s, NULL, 0, (const uint8_t *)words[i], wl,
		    ct) != 0)
			abort();
		off = put_rec(buf, off, ct, wl + NOISE_TAGLEN);
	}
	return off;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		uint8_t mode;
	} seeds[] = {
		{ "ik-msg1", 0 },
		{ "ik-msg2", MODE_INITIATOR },
		{ "ikpsk2-msg1", MODE_PSK },
		{ "ikpsk2-msg2", MODE_PSK | MODE_INITIATOR },
	};
	uint8_t buf[1024];
	char path[1024];

	if (argc != 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: noise-seeds DIR\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		size_t n = make_seed(buf, seeds[i].mode);
		FILE *f;

		/* each seed must get all the way through */
		if (run(buf, n) != 2) {
			fprintf(stderr, "seed %s does not open\n", seeds[i].name);
			return 1;
		}
		snprintf(path, sizeof(path), "%s/%s", argv[1], seeds[i].name);
		if ((f = fopen(path, "wb")) == NULL ||
		    fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
#endif
