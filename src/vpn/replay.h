/*
 * Anti-replay window for transport-data counters (WireGuard protocol §5.4.6,
 * window kept as in RFC 6479 "IPsec Anti-Replay Algorithm without Bit
 * Shifting").
 *
 * The receiver remembers the highest counter it has accepted (`top`) and which
 * of the REPLAY_WINDOW counters ending at `top` it has seen.  The bitmap is
 * REPLAY_BITMAP_BITS wide, one 64-bit word more than the window needs: that
 * spare word is what lets the window slide by clearing whole words instead of
 * shifting bits (RFC 6479 §2), so every check is O(1) and a far jump clears
 * at most the whole bitmap.
 *
 * No allocation; a struct replay is plain data, one per receiving keypair.
 */
#ifndef KODEN_VPN_REPLAY_H
#define KODEN_VPN_REPLAY_H

#include <stdint.h>

/* Bitmap size, in bits and in 64-bit words. */
#define REPLAY_BITMAP_BITS 8192
#define REPLAY_WORD_BITS 64
#define REPLAY_WORDS (REPLAY_BITMAP_BITS / REPLAY_WORD_BITS)
/*
 * Counters accepted behind (and including) the highest one seen: top - 8127
 * is still accepted if unseen, top - 8128 is too old.  One word short of the
 * bitmap, the RFC 6479 slack.
 */
#define REPLAY_WINDOW (REPLAY_BITMAP_BITS - REPLAY_WORD_BITS)
/*
 * WireGuard's REJECT_AFTER_MESSAGES: a counter at or past this is refused
 * whatever the window says, so a keypair is never used near the nonce limit.
 */
#define REPLAY_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))

struct replay {
	uint64_t top;			/* highest accepted counter (0 if none yet) */
	uint64_t bits[REPLAY_WORDS];	/* counter c is bit c % 64 of word (c / 64) % REPLAY_WORDS */
};

/* An empty window: nothing seen, counter 0 is acceptable. */
void replay_init(struct replay *r);

/*
 * 1 if counter is new and within the window, and records it as seen; 0 if it
 * was seen before, is older than the window allows, or is
 * >= REPLAY_REJECT_AFTER_MESSAGES (the window is then unchanged).
 *
 * Call this only AFTER the packet has authenticated (the AEAD tag verified).
 * The counter is attacker-chosen until then: recording a forged one would let
 * an attacker slide the window far ahead and make every genuine packet look
 * too old.
 */
int replay_check(struct replay *r, uint64_t counter);

#endif
