/*
 * sumd.h - the operator's daily `summary` in a running node (PROTOCOL.md
 * section 9, docs/aggregates.md "In the node").
 *
 * After each JST day (once the day's last settle is due, plus a grace
 * period) an operator node gathers one record per member from its store
 * - the readings sealed to it, the clears and orders of the day's slots,
 * the issues and pays of the day - runs community/summary.c on them and
 * publishes the cells as one or more `summary` messages. Driven by
 * kx_mktd_tick (node/mktd.c) with the wall clock; cheap when nothing is
 * due. Not thread-safe: the node's main thread owns it.
 */
#ifndef KX_SUMD_H
#define KX_SUMD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mktd.h"
#include "store.h"
#include "summary.h"

typedef struct kx_sumd kx_sumd_t;

/* Keys of the operator that opens the readings. */
typedef struct {
	const uint8_t	*pk;		/* 32: readings addressed to it */
	const uint8_t	*cpk, *csk;	/* 32 each: its Curve25519 pair */
} kx_sumd_keys_t;

/*
 * The per-member records of JST day `day` from the store (see
 * docs/aggregates.md for each value's source). On 0, *in is malloc'd
 * (caller frees; NULL when *n is 0); -1 on a store error or ENOMEM.
 */
int	kx_sumd_collect(kx_store_t *st, const kx_sumd_keys_t *k, int32_t day,
	    kx_sum_input_t **in, size_t *n) __attribute__((warn_unused_result));

/*
 * Publishes the summary of JST day `day` through c->publish (the cells
 * of kx_sumd_collect under the 15/15 rule, no noise). Returns the
 * number of parts published, 0 when the day has no member record, or -1.
 */
int	kx_sumd_publish_day(const kx_mktd_conf_t *c, int32_t day);

/*
 * Called from the market tick on every node; acts only when c is an
 * operator's: publishes the latest day that is due at now_ms (its end,
 * plus the settle delay, plus 5 minutes) unless it is published already
 * (its own log is read at the first call). Older days are not filled
 * in. Creates *sp on first use; kx_sumd_free releases it.
 */
void	kx_sumd_tick(kx_sumd_t **sp, const kx_mktd_conf_t *c, int64_t now_ms);
void	kx_sumd_free(kx_sumd_t **sp);

/*
 * The newest summary of day "YYYY-MM-DD" (day NULL or "": of the latest
 * day) from the store's valid `summary` messages of operator keys and
 * city members: appends a JSON array of its parts' bodies, in part order
 * ("[]" when there is none). 0, or -1 on a store error or a bad day.
 */
int	kx_sumd_find(kx_store_t *st, const char *day, size_t daylen,
	    kx_buf_t *out);

#endif
