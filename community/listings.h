/*
 * listings.h - the time bank's current offers and wants (PROTOCOL.md
 * section 5.3 `listing`), read from the store's `community` index.
 *
 * A listing is current at time now when it is valid in the store, its
 * `until` has not passed (until == 0: no end; else now < until, both in
 * ms) and its author is admitted at now (or is an operator key): a
 * revoked member's offers go with it. Every node holding the same
 * messages lists the same ones. Not thread-safe (the store's thread).
 */
#ifndef KX_LISTINGS_H
#define KX_LISTINGS_H

#include <stdint.h>

#include "store.h"

typedef struct {
	uint8_t		 author[KX_PK_LEN];
	uint64_t	 seq;
	uint8_t		 id[KX_ID_LEN];
	int64_t		 ts;
	int		 kind;		/* KX_OFFER or KX_WANT */
	const uint8_t	*title;		/* UTF-8, title_len bytes */
	uint32_t	 title_len;
	const uint8_t	*area;		/* "" when absent */
	uint32_t	 area_len;
	int64_t		 until;		/* ms, 0 = no end */
} kx_listing_t;

/* Called per current listing (borrowed for the call); nonzero stops. */
typedef int	kx_listing_cb(void *arg, const kx_listing_t *li);

/* True when a listing with that until is current at now (ms). */
static inline int
kx_listing_live(int64_t until, int64_t now)
{
	return until == 0 || now < until;
}

/*
 * The listings current at now, in (author, seq) order. Returns KX_OK,
 * KX_ESTORE or KX_ENOMEM.
 */
int	kx_listings_current(kx_store_t *st, int64_t now, kx_listing_cb *cb,
	    void *arg) __attribute__((warn_unused_result));

#endif
