/*
 * RFC 6479 sliding window.  Bit positions are fixed per counter (counter c
 * lives in word (c / 64) % REPLAY_WORDS), so accepting a newer counter never
 * moves old bits; it only clears the words the window slides onto, which
 * still hold counters from one bitmap-length ago.
 *
 * Why the window fits: the accepted range [top - 8127, top] spans at most
 * 128 words (when top % 64 == 0, the oldest word holds only top - 8127), so no
 * two live counters share a bit.  Bits above top inside top's own word are
 * never set, because only counters <= top are ever recorded.
 */
#include <assert.h>
#include <string.h>

#include "vpn/replay.h"

_Static_assert(REPLAY_BITMAP_BITS % REPLAY_WORD_BITS == 0,
    "bitmap is whole words");
_Static_assert((REPLAY_WORDS & (REPLAY_WORDS - 1)) == 0,
    "word count a power of two so % is a mask");

void
replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

int
replay_check(struct replay *r, uint64_t counter)
{
	uint64_t word = counter / REPLAY_WORD_BITS;
	uint64_t mask = 1ULL << (counter % REPLAY_WORD_BITS);
	uint64_t *w;

	if (counter >= REPLAY_REJECT_AFTER_MESSAGES)
		return 0;

	if (counter > r->top) {
		/*
		 * Slide forward: clear the words between top's word
		 * (exclusive) and the new counter's word (inclusive).  A jump
		 * of a whole bitmap or more leaves nothing of the old window.
		 */
		uint64_t top_word = r->top / REPLAY_WORD_BITS;
		uint64_t n = word - top_word;

		if (n >= REPLAY_WORDS) {
			memset(r->bits, 0, sizeof(r->bits));
		} else {
			for (uint64_t i = 1; i <= n; i++)
				r->bits[(top_word + i) % REPLAY_WORDS] = 0;
		}
		r->top = counter;
	} else if (r->top - counter >= REPLAY_WINDOW) {
		return 0;	/* too old */
	}

	/* counter is in the window now: only a bug could have it elsewhere */
	assert(counter <= r->top && r->top - counter < REPLAY_WINDOW);
	w = &r->bits[word % REPLAY_WORDS];
	if (*w & mask)
		return 0;	/* replay */
	*w |= mask;
	return 1;
}
