/*
 * The receiver-index table (the kernel's peerlookup.c): every message after
 * the initiation names its receiver by a random 32-bit index, which leads
 * here to a handshake in flight or a session.  Buckets hashed on the index,
 * chained through the entries themselves, so nothing is allocated; the
 * lookup, on the data path, is static inline in wg_int.h.
 */
#include <assert.h>

#include <sodium.h>

#include "vpn/wg_int.h"

/* Give e a fresh random index no other entry has (or idx, when it is not 0
 * and free: the initiator's session keeps its handshake's index), and
 * insert it. */
void
wg_index_add(struct wg_dev *dev, struct wg_index *e, enum wg_index_kind kind,
    struct wg_peer *peer, uint32_t idx)
{
	/* an entry in the table twice would corrupt its chain */
	assert(e->kind == WG_INDEX_NONE && kind != WG_INDEX_NONE && peer != NULL);
	while (idx == 0 || index_lookup(dev, idx) != NULL)
		idx = randombytes_random();
	e->idx = idx;
	e->kind = kind;
	e->peer = peer;
	e->next = dev->buckets[bucket_of(idx)];
	dev->buckets[bucket_of(idx)] = e;
}

void
wg_index_del(struct wg_dev *dev, struct wg_index *e)
{
	struct wg_index **pp;
	bool found = false;

	if (e->kind == WG_INDEX_NONE)
		return;
	for (pp = &dev->buckets[bucket_of(e->idx)]; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			found = true;
			break;
		}
	}
	assert(found);	/* a live entry is always in its bucket */
	(void)found;
	e->kind = WG_INDEX_NONE;
	e->next = NULL;
}
