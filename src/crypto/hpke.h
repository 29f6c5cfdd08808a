/*
 * HPKE (RFC 9180), base mode only, one suite:
 *   KEM  0x0020 DHKEM(X25519, HKDF-SHA256)
 *   KDF  0x0001 HKDF-SHA256
 *   AEAD 0x0003 ChaCha20Poly1305
 * Used to wrap each telegram's content key to each recipient.  All secrets in
 * struct hpke_ctx are wiped by hpke_ctx_wipe().
 */
#ifndef KODEN_HPKE_H
#define KODEN_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define HPKE_NPK 32		/* X25519 public key */
#define HPKE_NSK 32		/* X25519 private key */
#define HPKE_NENC 32		/* encapsulated key */
#define HPKE_NSECRET 32		/* KEM shared secret */
#define HPKE_NK 32		/* AEAD key */
#define HPKE_NN 12		/* AEAD nonce */
#define HPKE_NT 16		/* AEAD tag */
#define HPKE_NH 32		/* KDF output */

struct hpke_ctx {
	uint8_t key[HPKE_NK];
	uint8_t base_nonce[HPKE_NN];
	uint8_t exporter_secret[HPKE_NH];
	uint64_t seq;
};

/*
 * RFC 9180 §7.1.3 DeriveKeyPair(ikm).  KERR_INVALID if ikm is shorter than
 * HPKE_NSK bytes (it could not hold Nsk bytes of entropy).
 */
int hpke_derive_keypair(uint8_t sk[static HPKE_NSK], uint8_t pk[static HPKE_NPK],
    const uint8_t *ikm, size_t ikm_len) KODEN_WUR;

/*
 * SetupBaseS (§5.1.1): fresh ephemeral key, writes enc, sets up ctx.
 * hpke_setup_base_s_derand is the same with a given ephemeral secret key
 * (for known-answer tests only).
 */
int hpke_setup_base_s(struct hpke_ctx *ctx, uint8_t enc[static HPKE_NENC],
    const uint8_t pkR[static HPKE_NPK],
    const uint8_t *info, size_t info_len) KODEN_WUR;
int hpke_setup_base_s_derand(struct hpke_ctx *ctx, uint8_t enc[static HPKE_NENC],
    const uint8_t pkR[static HPKE_NPK], const uint8_t skE[static HPKE_NSK],
    const uint8_t *info, size_t info_len) KODEN_WUR;
/*
 * SetupBaseR (§5.1.1).  KERR_CRYPTO if enc is a low-order point (also for
 * pkR in the SetupBaseS calls above).  On any error *ctx (and enc, for the
 * sender) is left zeroed.
 */
int hpke_setup_base_r(struct hpke_ctx *ctx, const uint8_t enc[static HPKE_NENC],
    const uint8_t skR[static HPKE_NSK],
    const uint8_t *info, size_t info_len) KODEN_WUR;

/*
 * ContextS.Seal: ct must hold pt_len + HPKE_NT bytes (ct may equal pt).
 * Increments seq; KERR_TOOBIG once seq reaches UINT64_MAX (§5.2 message
 * limit): the context is then spent.
 */
int hpke_seal(struct hpke_ctx *ctx, uint8_t *ct,
    const uint8_t *aad, size_t aad_len,
    const uint8_t *pt, size_t pt_len) KODEN_WUR;
/*
 * ContextR.Open: pt must hold ct_len - HPKE_NT bytes (pt may equal ct).
 * KERR_DECRYPT on a bad tag or a ct shorter than the tag, KERR_TOOBIG at the
 * seq limit.  seq is incremented only on success.
 */
int hpke_open(struct hpke_ctx *ctx, uint8_t *pt,
    const uint8_t *aad, size_t aad_len,
    const uint8_t *ct, size_t ct_len) KODEN_WUR;
/* Context.Export (§5.3).  KERR_TOOBIG if out_len > 255 * HPKE_NH. */
int hpke_export(const struct hpke_ctx *ctx, uint8_t *out, size_t out_len,
    const uint8_t *exporter_context, size_t ctx_len) KODEN_WUR;

void hpke_ctx_wipe(struct hpke_ctx *ctx);

#endif
