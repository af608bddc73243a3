/*
 * market.h - clearing (PROTOCOL.md section 6) and settlement (section 7)
 * of one slot: pure functions over plain structs, no disk, no sockets, no
 * floating point.
 *
 * Every node and every third-party tool must get the same numbers from the
 * same book, so each rule of the protocol maps to one place in market.c
 * (see docs/market.md). Tuned for books of up to a few million steps:
 * kx_clear reduces each side to its price levels (a histogram, or a radix
 * sort for a sparse price range) and orders only the marginal levels' steps
 * by id; it is linear in the steps apart from ids sharing a 33-bit prefix
 * (sorted by memcmp). A node that clears every slot keeps a
 * kx_clear_ctx_t, so that its scratch memory is not allocated and faulted
 * in afresh at every gate.
 */
#ifndef KX_MARKET_H
#define KX_MARKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "body.h"	/* kx_params_t, KX_BUY/KX_SELL, KX_PRICE_MAX, ... */

#define KX_MKT_ID_LEN	32
#define KX_MKT_SIDE_MAX	1000000000000ULL	/* Wh on one side of a book */
#define KX_MKT_ORDERS_MAX (1u << 27)		/* orders in one book */

/* Error codes (reserved range -300 .. -399). */
#define KX_MKT_OK	   0
#define KX_MKT_EINVAL	-301	/* an argument breaks a precondition */
#define KX_MKT_ENOMEM	-302
#define KX_MKT_EDUP	-303	/* two orders with one id, two readings
				   for one member */
#define KX_MKT_ERANGE	-304	/* a money sum would overflow int64 */
#define KX_MKT_E2BIG	-305	/* more than KX_MKT_ORDERS_MAX orders */

/* One order of the slot, as section 5.2 describes it. */
typedef struct {
	uint8_t		 id[KX_MKT_ID_LEN];	/* message id */
	uint8_t		 member[KX_MKT_ID_LEN];	/* author's key */
	int		 side;			/* KX_BUY or KX_SELL */
	uint32_t	 n;			/* steps, 1..KX_STEPS_MAX */
	uint64_t	 wh[KX_STEPS_MAX];	/* 1..KX_WH_STEP_MAX each */
	uint32_t	 price[KX_STEPS_MAX];	/* 0..KX_PRICE_MAX, monotone */
} kx_order_t;

/* Scratch memory of kx_clear_with, kept between calls (opaque). */
typedef struct kx_clear_ctx kx_clear_ctx_t;

/* The result of clearing one slot. */
typedef struct {
	bool		 has_price;	/* false: no trade, price nil */
	uint32_t	 price;		/* P, sellers get it, buyers pay P+f */
	uint64_t	 volume;	/* Q, Wh */
	int64_t		 surplus;	/* sum(net x wh) - sum(sell x wh) */
	uint8_t		 set[32];	/* BLAKE2b-256 of included ids */
	size_t		 n_included;	/* orders inside the 10^12 Wh bounds */
	uint32_t	 floor, ceiling, fee;	/* the parameters used */
} kx_clear_t;

/* A member's metered totals for the slot (the `reading` plaintext). */
typedef struct {
	uint8_t		 member[KX_MKT_ID_LEN];
	uint64_t	 imp;		/* Wh imported */
	uint64_t	 exp;		/* Wh exported */
} kx_mkt_reading_t;

/* Health points a member paid to the operator inside the slot. */
typedef struct {
	uint8_t		 member[KX_MKT_ID_LEN];
	uint32_t	 points;
} kx_mkt_points_t;

/* One settlement line: money in milli-sen, positive is paid to member. */
typedef struct {
	uint8_t		 member[KX_MKT_ID_LEN];
	int64_t		 money;
} kx_line_t;

const char	*kx_mkt_strerror(int);

/*
 * Checks one order against section 5.2 (side, 1..16 steps, wh and price
 * ranges, strictly monotone curve). Returns KX_MKT_OK or KX_MKT_EINVAL;
 * on error *step is the offending step index (-1 for side/n).
 */
int	kx_order_check(const kx_order_t *o, int *step);

/*
 * Clears a slot (section 6).
 *
 * fills: n entries, written with each order's fill in Wh, in the order of
 *        `orders` (0 for an order left out by the 10^12 Wh bound); also
 *        used as scratch memory during the call.
 * included: NULL or n entries, set true for orders inside the bound.
 * orders: n valid orders (kx_order_check) with distinct ids, any order.
 * p: floor, ceiling and fee; prices in range, floor <= ceiling,
 *    fee < ceiling (the rest of p is not used).
 *
 * Returns KX_MKT_OK, KX_MKT_EINVAL (a bad order or parameter),
 * KX_MKT_EDUP (two orders with one id), KX_MKT_E2BIG or KX_MKT_ENOMEM.
 * On error *res and fills are unspecified.
 */
int	kx_clear(kx_clear_t *res, uint64_t *fills, bool *included,
	    const kx_order_t *orders, size_t n, const kx_params_t *p)
	    __attribute__((warn_unused_result));

/*
 * A work context for kx_clear_with: empty until the first call, then it
 * keeps the largest scratch buffers a clear needed (12 bytes per order,
 * and per step up to 40 bytes of which most books touch only a few
 * percent: pages never touched cost nothing). One
 * context serves one thread at a time. Returns NULL when out of memory.
 */
kx_clear_ctx_t	*kx_clear_ctx_new(void);

/* Frees *ctx and sets it to NULL; ctx or *ctx may be NULL. */
void	kx_clear_ctx_free(kx_clear_ctx_t **ctx);

/*
 * kx_clear with the scratch memory of ctx: the same results, bit for bit,
 * and the same errors. kx_clear is kx_clear_ctx_new, kx_clear_with and
 * kx_clear_ctx_free.
 */
int	kx_clear_with(kx_clear_ctx_t *ctx, kx_clear_t *res, uint64_t *fills,
	    bool *included, const kx_order_t *orders, size_t n,
	    const kx_params_t *p)
	    __attribute__((warn_unused_result));

/*
 * Settles a cleared slot (section 7).
 *
 * lines, n_lines: out; *lines is a malloc'd array the caller frees,
 *        sorted by member bytes, one line per member with a fill or
 *        points, and the operator's line (always present, minus the sum
 *        of the others).
 * orders, fills, n: the book and the fills kx_clear gave for it.
 * res: kx_clear's result (price, fee, floor, ceiling are taken from it).
 * r, nr: readings (at most one per member); members without one count
 *        as E = 0, I = Ab. Readings of members without a fill are unused.
 * pts, npts: points paid to the operator (several entries for one member
 *        add up); each is worth points x pt_value milli-sen.
 * pt_value: value of one point (section 5.1 `market`), milli-sen.
 * op: the operator's key; it may not be an order's member nor receive
 *        points.
 *
 * Returns KX_MKT_OK, KX_MKT_EINVAL, KX_MKT_EDUP (two readings for one
 * member), KX_MKT_ERANGE (a sum past int64) or KX_MKT_ENOMEM.
 */
int	kx_settle(kx_line_t **lines, size_t *n_lines,
	    const kx_order_t *orders, const uint64_t *fills, size_t n,
	    const kx_clear_t *res, const kx_mkt_reading_t *r, size_t nr,
	    const kx_mkt_points_t *pts, size_t npts, int64_t pt_value,
	    const uint8_t op[KX_MKT_ID_LEN])
	    __attribute__((warn_unused_result));

/* floor(a / 2) for any int64 a (C's `/` rounds toward zero). */
int64_t	kx_floor_half(int64_t a);

/*
 * Sorts n 64-bit keys ascending (LSD radix sort, 11-bit digits, passes
 * whose digit is the same for every key are skipped). tmp: n scratch
 * entries. Exposed for the benchmark.
 */
void	kx_sort_u64(uint64_t *k, uint64_t *tmp, size_t n);

#endif
