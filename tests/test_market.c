/*
 * test_market.c - clearing and settlement (market/market.c, PROTOCOL.md
 * sections 6 and 7) and the book/readings parsers of `kaga-ctl clear` and
 * `kaga-ctl settle` (node/ctl_market.c).
 *
 * Hand-worked books first, each with its arithmetic in a comment; then
 * property tests on 500 random books (fixed seed); then the surplus of 30
 * random books against GLPK's glpsol (which must be installed: CI installs
 * glpk-utils, and a missing glpsol FAILS the test); then settlement cases
 * and the CLI's error paths; last, kx_clear and kx_clear_with (one work
 * context reused across books) against a plain reference clearing
 * written from the protocol's text (qsort of the steps, step by step
 * greedy match).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl_market.h"
#include "market.h"

/* ---- helpers ------------------------------------------------------- */

static kx_params_t
params(uint32_t f, uint32_t c, uint32_t fee)
{
	kx_params_t	 p;

	kx_params_default(&p);
	p.floor = f;
	p.ceiling = c;
	p.fee = fee;
	return p;
}

/* An order with id bytes all `idb` (and a second byte idb2), member mb. */
static kx_order_t
ord(uint8_t idb, int side, uint8_t mb, uint32_t n, const uint64_t *wh,
    const uint32_t *price)
{
	kx_order_t	 o;
	uint32_t	 k;

	memset(&o, 0, sizeof(o));
	memset(o.id, idb, sizeof(o.id));
	memset(o.member, mb, sizeof(o.member));
	o.side = side;
	o.n = n;
	for (k = 0; k < n; k++) {
		o.wh[k] = wh[k];
		o.price[k] = price[k];
	}
	return o;
}

static kx_order_t
ord1(uint8_t idb, int side, uint64_t wh, uint32_t price)
{
	return ord(idb, side, idb, 1, &wh, &price);
}

static kx_clear_t	 R;
static uint64_t		 FILLS[8192];
static bool		 INC[8192];

static void
clear_ok(const kx_order_t *o, size_t n, const kx_params_t *p)
{
	assert_int_equal(kx_clear(&R, FILLS, INC, o, n, p), KX_MKT_OK);
}

/* ---- hand-worked books --------------------------------------------- */

static void
t_floor_half(void **state)
{
	(void)state;
	assert_int_equal(kx_floor_half(3), 1);
	assert_int_equal(kx_floor_half(4), 2);
	assert_int_equal(kx_floor_half(0), 0);
	assert_int_equal(kx_floor_half(-1), -1);
	assert_int_equal(kx_floor_half(-3), -2);
	assert_int_equal(kx_floor_half(-4), -2);
	assert_true(kx_floor_half(INT64_MIN) == INT64_MIN / 2);
}

static void
t_no_trade(void **state)
{
	kx_order_t	 o[2];
	kx_params_t	 p = params(800, 3100, 500);

	(void)state;
	/* sell 3000, buy 2000 - 500 = 1500 net: no cross */
	o[0] = ord1(1, KX_SELL, 100, 3000);
	o[1] = ord1(2, KX_BUY, 100, 2000);
	clear_ok(o, 2, &p);
	assert_false(R.has_price);
	assert_int_equal(R.volume, 0);
	assert_int_equal(R.surplus, 0);
	assert_int_equal(FILLS[0], 0);
	assert_int_equal(FILLS[1], 0);
	assert_int_equal(R.n_included, 2);
	/* an empty book */
	clear_ok(o, 0, &p);
	assert_false(R.has_price);
	/* one side only */
	clear_ok(o, 1, &p);
	assert_false(R.has_price);
}

static void
t_one_trade(void **state)
{
	kx_order_t	 o[3];
	kx_params_t	 p = params(800, 3100, 500);

	(void)state;
	/*
	 * S (id 01) sells 100 @ 1000. B1 (id 02) buys 100 @ 2501, net 2001;
	 * B2 (id 03) buys 50 @ 1300, net 800.
	 * Match S-B1 100 (2001 >= 1000); then sells are exhausted. Q = 100.
	 * ps = 1000, pb = 2001; rs: none; rb = 800 (B2).
	 * lo = max(1000, 800) = 1000, hi = min(2001) = 2001,
	 * P = floor(3001 / 2) = 1500. Surplus 2001*100 - 1000*100 = 100100.
	 */
	o[0] = ord1(1, KX_SELL, 100, 1000);
	o[1] = ord1(2, KX_BUY, 100, 2501);
	o[2] = ord1(3, KX_BUY, 50, 1300);
	clear_ok(o, 3, &p);
	assert_true(R.has_price);
	assert_int_equal(R.price, 1500);
	assert_int_equal(R.volume, 100);
	assert_int_equal(R.surplus, 100100);
	assert_int_equal(FILLS[0], 100);
	assert_int_equal(FILLS[1], 100);
	assert_int_equal(FILLS[2], 0);
}

static void
t_partial_step_rs(void **state)
{
	kx_order_t	 o[4];
	kx_params_t	 p = params(800, 3100, 500);

	(void)state;
	/*
	 * S1 100 @ 1000, S2 100 @ 1500; B1 150 @ 2600 (net 2100),
	 * B2 100 @ 1700 (net 1200). S1-B1 100, S2-B1 50, then B2 1200 <
	 * 1500 stops. Q = 150; ps = 1500, pb = 2100; rs = 1500 (the rest of
	 * the partly matched S2), rb = 1200. lo = 1500, hi = 1500, P = 1500.
	 */
	o[0] = ord1(1, KX_SELL, 100, 1000);
	o[1] = ord1(2, KX_SELL, 100, 1500);
	o[2] = ord1(3, KX_BUY, 150, 2600);
	o[3] = ord1(4, KX_BUY, 100, 1700);
	clear_ok(o, 4, &p);
	assert_int_equal(R.price, 1500);
	assert_int_equal(R.volume, 150);
	assert_int_equal(FILLS[0], 100);
	assert_int_equal(FILLS[1], 50);
	assert_int_equal(FILLS[2], 150);
	assert_int_equal(FILLS[3], 0);
	/* 2100*150 - (1000*100 + 1500*50) */
	assert_int_equal(R.surplus, 315000 - 175000);
}

static void
t_pro_rata(void **state)
{
	kx_order_t	 o[4];
	kx_params_t	 p = params(800, 3100, 500);

	(void)state;
	/*
	 * Sells at 1000: A (id 01) 100, B (id 02) 50, C (id 03) 50. One buy
	 * D (id 04) 101 @ 2000 (net 1500). Q = 101, the whole sell side is
	 * the marginal level: V = 101, W = 200.
	 * A: floor(101*100/200) = 50, B: floor(5050/200) = 25, C: 25;
	 * sum 100, remainder 1 goes to A (smallest id): 51, 25, 25.
	 * ps = 1000, pb = 1500, rs = 1000 (A's rest), rb none: P = 1000.
	 */
	o[0] = ord1(3, KX_SELL, 50, 1000);	/* input order != id order */
	o[1] = ord1(1, KX_SELL, 100, 1000);
	o[2] = ord1(2, KX_SELL, 50, 1000);
	o[3] = ord1(4, KX_BUY, 101, 2000);
	clear_ok(o, 4, &p);
	assert_int_equal(R.price, 1000);
	assert_int_equal(R.volume, 101);
	assert_int_equal(FILLS[1], 51);
	assert_int_equal(FILLS[2], 25);
	assert_int_equal(FILLS[0], 25);
	assert_int_equal(FILLS[3], 101);
}

static void
t_pro_rata_id_k(void **state)
{
	kx_order_t	 o[3];
	kx_params_t	 p = params(1000, 3100, 500);
	uint64_t	 wx[2] = { 30, 30 };
	uint32_t	 px[2] = { 500, 900 };

	(void)state;
	/*
	 * Floor 1000 clamps X's two steps (500, 900) to 1000: the level at
	 * 1000 holds, in (id, k) order, Y/0 (id 02, 40 Wh), X/0 (id 05,
	 * 30), X/1 (id 05, 30); W = 100. Buy Z 53 @ 2000 (net 1500): V = 53.
	 * Y: floor(53*40/100) = 21, X/0: floor(15.9) = 15, X/1: 15; sum 51,
	 * remainder 2: one to Y, one to X/0. Y = 22, X = 16 + 15 = 31.
	 */
	o[0] = ord(5, KX_SELL, 5, 2, wx, px);
	o[1] = ord1(2, KX_SELL, 40, 1000);
	o[2] = ord1(9, KX_BUY, 53, 2000);
	clear_ok(o, 3, &p);
	assert_int_equal(R.price, 1000);
	assert_int_equal(FILLS[0], 31);
	assert_int_equal(FILLS[1], 22);
	assert_int_equal(FILLS[2], 53);
	/* surplus: 1500*53 - 1000*53 */
	assert_int_equal(R.surplus, 26500);

	/* buy side ties: two buys at one net price share 30 Wh of sell */
	o[0] = ord1(7, KX_BUY, 25, 2000);
	o[1] = ord1(6, KX_BUY, 25, 2000);
	o[2] = ord1(1, KX_SELL, 31, 1000);
	/* V = 31, W = 50: 15, 15, rest 1 to id 06 */
	clear_ok(o, 3, &p);
	assert_int_equal(FILLS[1], 16);
	assert_int_equal(FILLS[0], 15);
	/* ps = 1000, pb = 1500, rs none, rb = 1500 (id 07's rest):
	 * lo = 1500, hi = 1500 */
	assert_int_equal(R.price, 1500);
}

static void
t_fee_blocks(void **state)
{
	kx_order_t	 o[2];
	kx_params_t	 p = params(800, 3100, 500);

	(void)state;
	/* buy 1400 - fee 500 = 900 < sell 1000: no trade */
	o[0] = ord1(1, KX_SELL, 100, 1000);
	o[1] = ord1(2, KX_BUY, 100, 1400);
	clear_ok(o, 2, &p);
	assert_false(R.has_price);
	/* fee 400: net 1000 = 1000 trades, P = 1000, buyers pay 1400 */
	p.fee = 400;
	clear_ok(o, 2, &p);
	assert_true(R.has_price);
	assert_int_equal(R.price, 1000);
	assert_int_equal(R.volume, 100);
	assert_int_equal(R.surplus, 0);
}

static void
t_clamp(void **state)
{
	kx_order_t	 o[2];
	kx_params_t	 p = params(800, 3100, 500);

	(void)state;
	/*
	 * Sell @ 0 clamps to 800; buy @ 5000 clamps to 3100, net 2600.
	 * Q = 100, no rs nor rb: P = floor((800 + 2600) / 2) = 1700.
	 * Surplus (2600 - 800) * 100 = 180000.
	 */
	o[0] = ord1(1, KX_SELL, 100, 0);
	o[1] = ord1(2, KX_BUY, 100, 5000);
	clear_ok(o, 2, &p);
	assert_int_equal(R.price, 1700);
	assert_int_equal(R.surplus, 180000);
	/* the whole range at its extremes: F = C = 1000000, fee 999999 */
	p = params(KX_PRICE_MAX, KX_PRICE_MAX, KX_PRICE_MAX - 1);
	o[0] = ord1(1, KX_SELL, 100, 0);	/* -> 1000000 */
	o[1] = ord1(2, KX_BUY, 100, KX_PRICE_MAX);	/* net 1 */
	clear_ok(o, 2, &p);
	assert_false(R.has_price);
}

static void
t_many_steps(void **state)
{
	kx_order_t	 o[2];
	kx_params_t	 p = params(0, 3100, 500);
	uint64_t	 wh[16];
	uint32_t	 ps[16], pb[16];
	int		 k;

	(void)state;
	/*
	 * Sell step k: 10 Wh @ 100(k+1); buy step k: 10 Wh @ 3000 - 100k,
	 * net 2500 - 100k. Pairs k match while 2500 - 100k >= 100(k+1),
	 * i.e. k <= 12: Q = 130. ps = 1300, pb = 1300, rs = 1400,
	 * rb = 1200: lo = 1300, hi = 1300, P = 1300.
	 */
	for (k = 0; k < 16; k++) {
		wh[k] = 10;
		ps[k] = (uint32_t)(100 * (k + 1));
		pb[k] = (uint32_t)(3000 - 100 * k);
	}
	o[0] = ord(1, KX_SELL, 1, 16, wh, ps);
	o[1] = ord(2, KX_BUY, 2, 16, wh, pb);
	clear_ok(o, 2, &p);
	assert_int_equal(R.volume, 130);
	assert_int_equal(R.price, 1300);
	assert_int_equal(FILLS[0], 130);
	assert_int_equal(FILLS[1], 130);
	/* sum_k=0..12 10*((2500-100k) - 100(k+1)) = 10 * sum (2400 - 200k) */
	assert_int_equal(R.surplus, 10 * (13 * 2400 - 200 * 78));
}

static void
t_negative_net(void **state)
{
	kx_order_t	 o[3];
	kx_params_t	 p = params(0, 3100, 500);

	(void)state;
	/* buy 200 - 500 = -300 net can never meet a sell >= 0 */
	o[0] = ord1(1, KX_SELL, 100, 0);
	o[1] = ord1(2, KX_BUY, 100, 200);
	clear_ok(o, 2, &p);
	assert_false(R.has_price);
	/*
	 * B1 50 @ 1000 (net 500), B2 50 @ 100 (net -400), S 100 @ 0.
	 * Q = 50; ps = 0, pb = 500, rs = 0 (S's rest), rb = -400 (sorted
	 * after B1 because -400 < 500). lo = max(0, -400) = 0,
	 * hi = min(500, 0) = 0, P = 0.
	 */
	o[1] = ord1(2, KX_BUY, 50, 1000);
	o[2] = ord1(3, KX_BUY, 50, 100);
	clear_ok(o, 3, &p);
	assert_int_equal(R.price, 0);
	assert_int_equal(R.volume, 50);
	assert_int_equal(FILLS[2], 0);
	assert_int_equal(R.surplus, 25000);
}

static void
t_side_bound(void **state)
{
	kx_order_t	*o;
	kx_params_t	 p = params(800, 3100, 500);
	size_t		 n = 6253, i;
	uint8_t		 h[32];
	crypto_generichash_state st;
	int		 k;

	(void)state;
	/*
	 * Sell orders of 16 x 10^7 Wh = 1.6 x 10^8 each, ids ascending
	 * with i. Order 0 has one step only (10^7). After orders 0..6250
	 * the side would hold 10^7 + 6250 x 1.6x10^8 = 10^12 + 10^7 > 10^12,
	 * so order 6250 is left out (the side stays at 10^12 - 1.5x10^8).
	 * Order 6251, a one-step 10^7 order with a greater id, still fits
	 * and is included: orders enter one by one. One buy (id ff..).
	 */
	o = calloc(n + 1, sizeof(*o));
	assert_non_null(o);
	for (i = 0; i < n - 1; i++) {
		o[i].id[0] = (uint8_t)(i >> 8);
		o[i].id[1] = (uint8_t)i;
		o[i].side = KX_SELL;
		o[i].n = (i == 0 || i == n - 2) ? 1 : 16;
		for (k = 0; k < 16; k++) {
			o[i].wh[k] = KX_WH_STEP_MAX;
			o[i].price[k] = (uint32_t)(1000 + k);
		}
	}
	/* the buy, id ff.. */
	memset(o[n - 1].id, 0xff, 32);
	o[n - 1].side = KX_BUY;
	o[n - 1].n = 1;
	o[n - 1].wh[0] = 5;
	o[n - 1].price[0] = 3100;
	assert_int_equal(kx_clear(&R, FILLS, INC, o, n, &p), KX_MKT_OK);
	assert_int_equal(R.n_included, n - 1);
	assert_true(INC[6249]);
	assert_false(INC[6250]);
	assert_true(INC[6251]);	/* n - 2: the small one */
	assert_true(INC[n - 1]);
	assert_int_equal(R.volume, 5);
	/* 6250 steps share the level 1000: floor(5 x wh / W) = 0 each, the
	 * 5 Wh go one each to the five smallest ids */
	for (i = 0; i < 5; i++)
		assert_int_equal(FILLS[i], 1);
	assert_int_equal(FILLS[5], 0);
	assert_int_equal(FILLS[n - 1], 5);
	/* the set hash covers the included orders only, ascending ids */
	crypto_generichash_init(&st, NULL, 0, 32);
	for (i = 0; i < n; i++)
		if (i != 6250)
			crypto_generichash_update(&st, o[i].id, 32);
	crypto_generichash_final(&st, h, 32);
	assert_memory_equal(h, R.set, 32);
	free(o);
}

static void
t_errors(void **state)
{
	kx_order_t	 o[2];
	kx_params_t	 p = params(800, 3100, 500);
	uint64_t	 wh[2] = { 10, 10 };
	uint32_t	 pr[2] = { 100, 100 };

	(void)state;
	o[0] = ord1(1, KX_SELL, 100, 1000);
	o[1] = ord1(1, KX_BUY, 100, 2000);
	assert_int_equal(kx_clear(&R, FILLS, NULL, o, 2, &p), KX_MKT_EDUP);
	o[1] = ord(2, KX_SELL, 2, 2, wh, pr);	/* not strictly rising */
	assert_int_equal(kx_clear(&R, FILLS, NULL, o, 2, &p), KX_MKT_EINVAL);
	o[1] = ord1(2, KX_BUY, 0, 2000);	/* 0 Wh */
	assert_int_equal(kx_clear(&R, FILLS, NULL, o, 2, &p), KX_MKT_EINVAL);
	o[1] = ord1(2, KX_BUY, 10, KX_PRICE_MAX + 1);
	assert_int_equal(kx_clear(&R, FILLS, NULL, o, 2, &p), KX_MKT_EINVAL);
	o[1] = ord1(2, KX_BUY, 10, 10);
	p.fee = 3100;	/* fee < ceiling */
	assert_int_equal(kx_clear(&R, FILLS, NULL, o, 2, &p), KX_MKT_EINVAL);
	p = params(900, 800, 0);	/* floor > ceiling */
	assert_int_equal(kx_clear(&R, FILLS, NULL, o, 2, &p), KX_MKT_EINVAL);
	assert_string_equal(kx_mkt_strerror(KX_MKT_EDUP),
	    "market: duplicate id or member");
}

/* ---- random books: properties ------------------------------------- */

static uint64_t rng_s = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	/* splitmix64: fixed seed, same books on every run */
	uint64_t z = (rng_s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rnd_in(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

/* A random valid book of n orders; prices on a coarse grid for ties. */
static void
random_book(kx_order_t *o, size_t n, kx_params_t *p, uint64_t whmax,
    uint32_t pmax)
{
	size_t		 i;
	uint32_t	 k, price;
	int		 b;

	p->floor = (uint32_t)rnd_in(0, pmax / 3);
	p->ceiling = (uint32_t)rnd_in(p->floor + 1, pmax);
	p->fee = (uint32_t)rnd_in(0, (p->ceiling - 1) / 4);
	for (i = 0; i < n; i++) {
		memset(&o[i], 0, sizeof(o[i]));
		rnd_bytes:
		for (b = 0; b < 32; b += 8) {
			uint64_t v = rnd();

			memcpy(o[i].id + b, &v, 8);
		}
		if (rnd() % 4 == 0)	/* shared prefixes exercise the id sort */
			memset(o[i].id, 0, 10);
		o[i].member[0] = (uint8_t)rnd_in(1, 6);
		o[i].side = (int)(rnd() % 2);
		o[i].n = (uint32_t)rnd_in(1, 16);
		price = (uint32_t)(rnd_in(0, pmax / 50) * 50);
		for (k = 0; k < o[i].n; k++) {
			o[i].wh[k] = rnd_in(1, whmax);
			o[i].price[k] = price;
			if (o[i].side == KX_SELL)
				price += (uint32_t)rnd_in(1, 3) * 50;
			else if (price >= 50)
				price -= (uint32_t)rnd_in(1, 2) * 50;
			else if (price > 0)
				price = 0;
			else {
				o[i].n = k + 1;
				break;
			}
			if (price > KX_PRICE_MAX) {
				o[i].n = k + 1;
				break;
			}
		}
		if (i > 0 && memcmp(o[i].id, o[i - 1].id, 32) == 0)
			goto rnd_bytes;
	}
}

static int64_t
eff_price(const kx_order_t *o, uint32_t k, const kx_params_t *p)
{
	int64_t	 c = o->price[k];

	if (o->side == KX_SELL)
		return c < p->floor ? p->floor : c;
	return (c > p->ceiling ? p->ceiling : c) - (int64_t)p->fee;
}

/* Checks every invariant of section 6 on a cleared book. */
static void
check_invariants(const kx_order_t *o, size_t n, const kx_params_t *p,
    const kx_clear_t *res, const uint64_t *fills)
{
	uint64_t	 side[2] = { 0, 0 }, left, sf;
	int64_t		 surplus = 0, P = res->price, x;
	int64_t		 best_buy = INT64_MIN, best_sell = INT64_MAX;
	size_t		 i;
	uint32_t	 k;

	for (i = 0; i < n; i++) {
		left = fills[i];
		side[o[i].side] += fills[i];
		for (k = 0; k < o[i].n; k++) {
			/* an order's fill covers its best steps first */
			sf = left < o[i].wh[k] ? left : o[i].wh[k];
			left -= sf;
			x = eff_price(&o[i], k, p);
			if (sf > 0) {
				if (o[i].side == KX_BUY) {
					assert_true(x >= P);
					surplus += x * (int64_t)sf;
				} else {
					assert_true(x <= P);
					surplus -= x * (int64_t)sf;
				}
			}
			if (sf < o[i].wh[k]) {
				if (o[i].side == KX_BUY) {
					if (res->has_price)
						assert_true(x <= P);
					if (x > best_buy)
						best_buy = x;
				} else {
					if (res->has_price)
						assert_true(x >= P);
					if (x < best_sell)
						best_sell = x;
				}
			}
		}
		assert_int_equal(left, 0);	/* no fill past its steps */
	}
	assert_int_equal(side[0], res->volume);
	assert_int_equal(side[1], res->volume);
	assert_true(res->has_price == (res->volume > 0));
	assert_int_equal(surplus, res->surplus);
	/* maximal: the leftovers cannot trade with each other */
	assert_true(best_buy < best_sell);
	if (res->has_price) {
		assert_true(P >= p->floor);
		assert_true(P + p->fee <= p->ceiling);
	}
}

static void
t_random_properties(void **state)
{
	kx_order_t	*o;
	kx_params_t	 p;
	kx_line_t	*lines;
	kx_mkt_reading_t rd[6];
	kx_mkt_points_t	 pt[2];
	uint8_t		 op[32];
	size_t		 n, nl, i;
	int64_t		 sum;
	int		 t, traded = 0;

	(void)state;
	o = calloc(300, sizeof(*o));
	assert_non_null(o);
	memset(op, 0, sizeof(op));
	for (t = 0; t < 500; t++) {
		kx_params_default(&p);
		n = (size_t)rnd_in(0, t % 10 == 0 ? 300 : 40);
		random_book(o, n, &p, t % 3 == 0 ? KX_WH_STEP_MAX : 1000,
		    t % 7 == 0 ? KX_PRICE_MAX : 4000);
		assert_int_equal(kx_clear(&R, FILLS, INC, o, n, &p),
		    KX_MKT_OK);
		check_invariants(o, n, &p, &R, FILLS);
		traded += R.has_price;
		/* settlement: random readings for some members, points */
		for (i = 0; i < 6; i++) {
			memset(&rd[i], 0, sizeof(rd[i]));
			rd[i].member[0] = (uint8_t)(i + 1);
			rd[i].imp = rnd_in(0, 20000);
			rd[i].exp = rnd_in(0, 20000);
		}
		memset(pt, 0, sizeof(pt));
		pt[0].member[0] = 7;
		pt[0].points = (uint32_t)rnd_in(1, 1000);
		pt[1].member[0] = 2;
		pt[1].points = (uint32_t)rnd_in(1, 1000);
		assert_int_equal(kx_settle(&lines, &nl, o, FILLS, n, &R,
		    rd, (size_t)rnd_in(0, 6), pt, 2, p.pt_value, op),
		    KX_MKT_OK);
		for (sum = 0, i = 0; i < nl; i++) {
			sum += lines[i].money;
			if (i > 0)
				assert_true(memcmp(lines[i - 1].member,
				    lines[i].member, 32) < 0);
		}
		assert_int_equal(sum, 0);
		free(lines);
	}
	assert_true(traded > 300);	/* the books do trade */
	free(o);
}

/* ---- the surplus against an LP (glpsol) ---------------------------- */

static char *
tmp_path(const char *name)
{
	static char	 buf[256];

	snprintf(buf, sizeof(buf), "/tmp/kx_test_market_%d_%s",
	    (int)getpid(), name);
	return buf;
}

static int
glpsol_found(void)
{
	const char	*path = getenv("PATH");
	char		 f[1024], *d, *save, *dup;
	int		 ok = 0;

	if (path == NULL || (dup = strdup(path)) == NULL)
		return 0;
	for (d = strtok_r(dup, ":", &save); d != NULL && !ok;
	    d = strtok_r(NULL, ":", &save)) {
		snprintf(f, sizeof(f), "%s/glpsol", d);
		ok = access(f, X_OK) == 0;
	}
	free(dup);
	return ok;
}

/* Runs glpsol on the LP of the book; returns its optimum (an integer:
 * the LP is a transportation problem, totally unimodular). */
static int64_t
lp_surplus(const kx_order_t *o, size_t n, const kx_params_t *p)
{
	char		 lp[256], out[256], line[512], *s;
	FILE		*f;
	size_t		 i;
	uint32_t	 k;
	pid_t		 pid;
	int		 st, found = 0, devnull, any = 0;
	int64_t		 v = -1;

	snprintf(lp, sizeof(lp), "%s", tmp_path("book.lp"));
	snprintf(out, sizeof(out), "%s", tmp_path("book.out"));
	f = fopen(lp, "w");
	assert_non_null(f);
	fprintf(f, "Maximize\n obj:");
	for (i = 0; i < n; i++)
		for (k = 0; k < o[i].n; k++) {
			int64_t x = eff_price(&o[i], k, p);

			if (o[i].side == KX_SELL)
				x = -x;
			fprintf(f, " %s %" PRId64 " x%zu_%u", x < 0 ? "-" : "+",
			    x < 0 ? -x : x, i, k);
			any = 1;
		}
	if (!any)
		fprintf(f, " 0 dummy");
	fprintf(f, "\nSubject To\n bal:");
	for (i = 0; i < n; i++)
		for (k = 0; k < o[i].n; k++)
			fprintf(f, " %s x%zu_%u",
			    o[i].side == KX_SELL ? "+" : "-", i, k);
	if (!any)
		fprintf(f, " dummy");
	fprintf(f, " = 0\nBounds\n");
	for (i = 0; i < n; i++)
		for (k = 0; k < o[i].n; k++)
			fprintf(f, " 0 <= x%zu_%u <= %" PRIu64 "\n", i, k,
			    o[i].wh[k]);
	if (!any)
		fprintf(f, " 0 <= dummy <= 0\n");
	fprintf(f, "End\n");
	assert_int_equal(fclose(f), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("glpsol", "glpsol", "--lp", lp, "-o", out,
		    (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("glpsol failed (status %d) on %s", st, lp);
	f = fopen(out, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "Objective:  obj = 11000007 (MAXimum)" */
		if ((s = strstr(line, "obj = ")) == NULL)
			continue;
		s += 6;
		{
			char *end;

			v = strtoll(s, &end, 10);
			/* must be an exact integer, not "1.2e+07" */
			if (end == s || (*end != ' ' && *end != '\n'))
				fail_msg("glpsol objective not an integer: "
				    "%s", line);
		}
		found = 1;
	}
	fclose(f);
	if (!found)
		fail_msg("no objective in glpsol output %s", out);
	unlink(lp);
	unlink(out);
	return v;
}

static void
t_lp_surplus(void **state)
{
	kx_order_t	*o;
	kx_params_t	 p;
	size_t		 n;
	int		 t;
	int64_t		 lp;

	(void)state;
	if (!glpsol_found())
		fail_msg("glpsol not found in PATH: install glpk-utils "
		    "(apt-get install glpk-utils); the LP cross-check of "
		    "PROTOCOL.md section 6 cannot run");
	o = calloc(60, sizeof(*o));
	assert_non_null(o);
	for (t = 0; t < 30; t++) {
		kx_params_default(&p);
		n = (size_t)rnd_in(2, 60);
		/* small numbers keep glpsol's objective an exact integer */
		random_book(o, n, &p, 1000, 5000);
		assert_int_equal(kx_clear(&R, FILLS, NULL, o, n, &p),
		    KX_MKT_OK);
		lp = lp_surplus(o, n, &p);
		if (lp != R.surplus)
			fail_msg("book %d: LP optimum %" PRId64 " != clearing "
			    "surplus %" PRId64, t, lp, R.surplus);
	}
	free(o);
}

/* ---- settlement ---------------------------------------------------- */

static void
t_settle_cases(void **state)
{
	kx_order_t	 o[3];
	kx_params_t	 p = params(800, 3100, 500);
	kx_mkt_reading_t rd[3];
	kx_mkt_points_t	 pt[2];
	kx_line_t	*l;
	uint8_t		 op[32];
	size_t		 nl;

	(void)state;
	memset(op, 0, sizeof(op));
	memset(rd, 0, sizeof(rd));
	memset(pt, 0, sizeof(pt));
	/*
	 * S (member 01) sells 100 @ 1000, B (member 02) buys 100 @ 2501:
	 * P = floor((1000 + 2001) / 2) = 1500 (no rs, no rb), f = 500.
	 * S delivered 60 only (exp 60): 100*1500 - 40*3100 = 26000.
	 * B used 70 (imp 70): -100*2000 + 30*800 = -176000.
	 * Member 03 redeemed 5 points at pt_value 100000: 500000.
	 * Operator: -(26000 - 176000 + 500000) = -350000.
	 */
	o[0] = ord1(1, KX_SELL, 100, 1000);
	o[1] = ord1(2, KX_BUY, 100, 2501);
	clear_ok(o, 2, &p);
	assert_int_equal(R.price, 1500);
	rd[0].member[0] = 1;
	memset(rd[0].member, 1, 32);
	rd[0].exp = 60;
	memset(rd[1].member, 2, 32);
	rd[1].imp = 70;
	memset(pt[0].member, 3, 32);
	pt[0].points = 5;
	assert_int_equal(kx_settle(&l, &nl, o, FILLS, 2, &R, rd, 2, pt, 1,
	    100000, op), KX_MKT_OK);
	assert_int_equal(nl, 4);
	assert_int_equal(l[0].member[0], 0);	/* operator, sorted first */
	assert_int_equal(l[0].money, -350000);
	assert_int_equal(l[1].money, 26000);
	assert_int_equal(l[2].money, -176000);
	assert_int_equal(l[3].money, 500000);
	free(l);

	/*
	 * Missing readings: the seller counts E = 0 (pays retail on all
	 * 100: 150000 - 310000 = -160000), the buyer I = Ab (no buy-back:
	 * -200000). Delivering more than sold earns nothing extra here.
	 */
	assert_int_equal(kx_settle(&l, &nl, o, FILLS, 2, &R, NULL, 0, NULL,
	    0, 100000, op), KX_MKT_OK);
	assert_int_equal(nl, 3);
	assert_int_equal(l[1].money, -160000);
	assert_int_equal(l[2].money, -200000);
	assert_int_equal(l[0].money, 360000);
	free(l);

	/* Full delivery: exactly the market position. */
	rd[0].exp = 1000;
	rd[1].imp = 1000;
	assert_int_equal(kx_settle(&l, &nl, o, FILLS, 2, &R, rd, 2, NULL, 0,
	    100000, op), KX_MKT_OK);
	assert_int_equal(l[1].money, 150000);
	assert_int_equal(l[2].money, -200000);
	assert_int_equal(l[0].money, 50000);	/* the fee, 500 x 100 */
	free(l);

	/*
	 * Member 01 both sells (S) and buys: o[2] (id 03) 10 @ 3000, net
	 * 2500, sorts before B (net 2001). Matches: 10 with id 03, 90 with
	 * B; sells exhausted, Q = 100. ps = 1000, pb = 2001, rs none,
	 * rb = 2001 (B's rest of 10): lo = 2001, hi = 2001, P = 2001.
	 * Member 01: 100*2001 - 10*2501 + 5 points x 7 = 175125.
	 * Member 02: -90*2501 = -225090 (imp 1000 >= 90).
	 * Operator (key ee.., sorted last): the fee 100*500 - 35 = 49965.
	 */
	o[2] = ord1(3, KX_BUY, 10, 3000);
	memset(o[2].member, 1, 32);
	rd[0].imp = 1000;	/* 01 used what it bought: no buy-back */
	clear_ok(o, 3, &p);
	assert_int_equal(R.price, 2001);
	assert_int_equal(FILLS[1], 90);
	memset(op, 0xee, 32);
	pt[0].points = 2;
	memset(pt[0].member, 1, 32);
	pt[1].points = 3;
	memset(pt[1].member, 1, 32);
	assert_int_equal(kx_settle(&l, &nl, o, FILLS, 3, &R, rd, 2, pt, 2,
	    7, op), KX_MKT_OK);
	assert_int_equal(nl, 3);
	assert_int_equal(l[0].money, 175125);
	assert_int_equal(l[1].money, -225090);
	assert_int_equal(l[2].member[0], 0xee);
	assert_int_equal(l[2].money, 49965);
	free(l);

	/* errors: duplicate readings, operator with an order */
	memset(rd[1].member, 1, 32);
	assert_int_equal(kx_settle(&l, &nl, o, FILLS, 3, &R, rd, 2, NULL, 0,
	    7, op), KX_MKT_EDUP);
	memset(op, 1, 32);
	assert_int_equal(kx_settle(&l, &nl, o, FILLS, 3, &R, NULL, 0, NULL,
	    0, 7, op), KX_MKT_EINVAL);
}

/* ---- the CLI ------------------------------------------------------- */

#define ID(c)	"\"" c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
		c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
		c c c c "\""

static int
run_cli(int settle, const char *book, const char *readings, char *out,
    size_t outlen, char *err, size_t errlen)
{
	char		 bp[256], rp[256], op[256], ep[256];
	char		*argv[6];
	FILE		*f;
	int		 rc, so, se, fo, fe, argc;
	size_t		 got;

	snprintf(bp, sizeof(bp), "%s", tmp_path("b.json"));
	snprintf(rp, sizeof(rp), "%s", tmp_path("r.json"));
	snprintf(op, sizeof(op), "%s", tmp_path("out"));
	snprintf(ep, sizeof(ep), "%s", tmp_path("err"));
	f = fopen(bp, "w");
	fputs(book, f);
	fclose(f);
	if (readings != NULL) {
		f = fopen(rp, "w");
		fputs(readings, f);
		fclose(f);
	}
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fo, 1);
	dup2(fe, 2);
	argv[0] = settle ? "settle" : "clear";
	argv[1] = "--book";
	argv[2] = bp;
	argv[3] = "--readings";
	argv[4] = rp;
	argv[5] = NULL;
	argc = settle ? 5 : 3;
	rc = settle ? kx_ctl_cmd_settle(argc, argv) :
	    kx_ctl_cmd_clear(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	close(fo);
	close(fe);
	f = fopen(op, "r");
	got = fread(out, 1, outlen - 1, f);
	out[got] = '\0';
	fclose(f);
	f = fopen(ep, "r");
	got = fread(err, 1, errlen - 1, f);
	err[got] = '\0';
	fclose(f);
	unlink(bp);
	unlink(rp);
	unlink(op);
	unlink(ep);
	return rc;
}

#define PARAMS	"\"params\":{\"floor\":800,\"ceiling\":3100,\"fee\":500}"

static void
t_cli_clear(void **state)
{
	char	 out[4096], err[4096];

	(void)state;
	assert_int_equal(run_cli(0, "{" PARAMS ",\"orders\":["
	    "{\"id\":" ID("1") ",\"side\":\"sell\",\"steps\":[[100,1000]]},"
	    "{\"id\":" ID("2") ",\"side\":\"buy\",\"steps\":[[100,2501]]},"
	    "{\"id\":" ID("3") ",\"side\":\"buy\",\"steps\":[[50,1300]]}]}",
	    NULL, out, sizeof(out), err, sizeof(err)), 0);
	assert_non_null(strstr(out, "{\"price\":1500,\"volume\":100,"
	    "\"surplus\":100100,\"set\":\""));
	assert_non_null(strstr(out, "\"fills\":{" ID("1") ":100," ID("2")
	    ":100},\"left_out\":[]}\n"));
	/* no trade */
	assert_int_equal(run_cli(0, "{" PARAMS ",\"orders\":[]}", NULL, out,
	    sizeof(out), err, sizeof(err)), 0);
	assert_non_null(strstr(out, "{\"price\":null,\"volume\":0,"
	    "\"surplus\":0,"));
}

static void
t_cli_errors(void **state)
{
	static const struct {
		const char	*book;
		const char	*want;
	} c[] = {
		{ "not json", "book: json:" },
		{ "[]", "must be a JSON object" },
		{ "{\"orders\":[]}", "params: missing" },
		{ "{\"params\":{\"floor\":1,\"ceiling\":2},\"orders\":[]}",
		    "params: fee: missing" },
		{ "{\"params\":{\"floor\":1,\"ceiling\":2000001,\"fee\":0},"
		    "\"orders\":[]}", "params: ceiling: must be a price" },
		{ "{\"params\":{\"floor\":900,\"ceiling\":800,\"fee\":0},"
		    "\"orders\":[]}", "floor must not exceed ceiling" },
		{ "{\"params\":{\"floor\":0,\"ceiling\":800,\"fee\":800},"
		    "\"orders\":[]}", "fee must be below ceiling" },
		{ "{" PARAMS "}", "orders: missing" },
		{ "{" PARAMS ",\"orders\":[{\"id\":\"12\",\"side\":\"buy\","
		    "\"steps\":[[1,1]]}]}",
		    "orders[0] (id ?): id: expected 64 lowercase hex" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("A") ",\"side\":\"buy\","
		    "\"steps\":[[1,1]]}]}", "orders[0] (id ?): id:" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"buy\","
		    "\"steps\":[[1,1]]},{\"id\":" ID("1") ",\"side\":\"sell\","
		    "\"steps\":[[1,1]]}]}", "orders[1] (id 1111111111111111"
		    "111111111111111111111111111111111111111111111111): id: "
		    "duplicate of orders[0]" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"hold\","
		    "\"steps\":[[1,1]]}]}", "orders[0] (id 1111" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"buy\","
		    "\"steps\":[]}]}", "steps: must be an array of 1 to 16" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"buy\","
		    "\"steps\":[[1,17],[1,16],[1,15],[1,14],[1,13],[1,12],"
		    "[1,11],[1,10],[1,9],[1,8],[1,7],[1,6],[1,5],[1,4],[1,3],"
		    "[1,2],[1,1]]}]}", "steps: must be an array of 1 to 16" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"buy\","
		    "\"steps\":[[0,1]]}]}", "steps[0]: wh must be 1 to" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"buy\","
		    "\"steps\":[[10000001,1]]}]}", "steps[0]: wh must be" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"buy\","
		    "\"steps\":[[1,1000001]]}]}", "steps[0]: price must be" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"buy\","
		    "\"steps\":[[1,5],[1,5]]}]}",
		    "steps[1]: a buy curve's prices must strictly fall" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"sell\","
		    "\"steps\":[[1,5],[1,4]]}]}",
		    "steps[1]: a sell curve's prices must strictly rise" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"sell\","
		    "\"steps\":[[1,-5]]}]}", "steps[0]: price must be" },
		{ "{" PARAMS ",\"orders\":[{\"id\":" ID("1") ",\"side\":\"sell\","
		    "\"steps\":[[1,5.5]]}]}", "no floating point" },
	};
	char	 out[4096], err[4096];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int rc = run_cli(0, c[i].book, NULL, out, sizeof(out), err,
		    sizeof(err));

		if (rc != 2 || strstr(err, c[i].want) == NULL)
			fail_msg("case %zu: rc %d, stderr \"%s\", want \"%s\"",
			    i, rc, err, c[i].want);
		assert_string_equal(out, "");
	}
	/* usage */
	{
		char *argv[] = { "clear", "--bogus", NULL };

		assert_int_equal(kx_ctl_cmd_clear(2, argv), 2);
	}
	{
		char *argv[] = { "clear", "--book", "/nonexistent/x", NULL };

		assert_int_equal(kx_ctl_cmd_clear(3, argv), 1);
	}
}

static void
t_cli_settle(void **state)
{
	char	 out[4096], err[4096];

	(void)state;
	/* the first case of t_settle_cases, through the CLI */
	assert_int_equal(run_cli(1, "{\"params\":{\"floor\":800,\"ceiling\":"
	    "3100,\"fee\":500,\"pt_value\":100000},\"orders\":["
	    "{\"id\":" ID("1") ",\"member\":" ID("1") ",\"side\":\"sell\","
	    "\"steps\":[[100,1000]]},"
	    "{\"id\":" ID("2") ",\"member\":" ID("2") ",\"side\":\"buy\","
	    "\"steps\":[[100,2501]]}]}",
	    "{" ID("1") ":{\"imp\":0,\"exp\":60}," ID("2") ":{\"imp\":70,"
	    "\"exp\":0},\"points\":{" ID("3") ":5}}",
	    out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "{\"price\":1500,\"lines\":[[" ID("0")
	    ",-350000],[" ID("1") ",26000],[" ID("2") ",-176000],[" ID("3")
	    ",500000]]}\n");
	/* a member is required in settle's book */
	assert_int_equal(run_cli(1, "{" PARAMS ",\"orders\":[{\"id\":" ID("1")
	    ",\"side\":\"sell\",\"steps\":[[1,1]]}]}", "{}", out, sizeof(out),
	    err, sizeof(err)), 2);
	assert_non_null(strstr(err, "orders[0] (id 1111"));
	assert_non_null(strstr(err, "member: missing"));
	/* bad readings */
	assert_int_equal(run_cli(1, "{" PARAMS ",\"orders\":[]}",
	    "{" ID("1") ":{\"imp\":-1,\"exp\":0}}", out, sizeof(out), err,
	    sizeof(err)), 2);
	assert_non_null(strstr(err, "imp: must be an integer"));
	assert_int_equal(run_cli(1, "{" PARAMS ",\"orders\":[]}",
	    "{\"points\":{" ID("1") ":0}}", out, sizeof(out), err,
	    sizeof(err)), 2);
	assert_non_null(strstr(err, "points"));
	assert_int_equal(run_cli(1, "{" PARAMS ",\"orders\":[]}",
	    "{\"xyz\":{}}", out, sizeof(out), err, sizeof(err)), 2);
	/* no trade, only points: their line and the operator's */
	assert_int_equal(run_cli(1, "{" PARAMS ",\"orders\":[]}",
	    "{\"points\":{" ID("3") ":2}}", out, sizeof(out), err,
	    sizeof(err)), 0);
	assert_string_equal(out, "{\"price\":null,\"lines\":[[" ID("0")
	    ",-200000],[" ID("3") ",200000]]}\n");
}

/* ---- against a reference clearing ---------------------------------- */

/*
 * ref_clear: section 6 read literally, with nothing clever: orders in id
 * order by qsort, every step expanded and qsorted with the protocol's
 * comparator, a step by step greedy match, and the pro-rata split of the
 * marginal level in sorted order. Slow and obviously right; market.c
 * must agree with it bit for bit.
 */
typedef struct {
	const uint8_t	*id;
	uint32_t	 k;
	uint64_t	 wh;
	int64_t		 key;	/* sell: price; buy: -net (ascending) */
	size_t		 ord;
	uint64_t	 got;	/* greedy volume */
	uint64_t	 fill;
} rstep_t;

static int
cmp_rstep(const void *a, const void *b)
{
	const rstep_t	*x = a, *y = b;
	int		 c;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if ((c = memcmp(x->id, y->id, 32)) != 0)
		return c;
	return (x->k > y->k) - (x->k < y->k);
}

static int
cmp_ord_id(const void *a, const void *b, void *arg)
{
	const kx_order_t *o = arg;

	return memcmp(o[*(const size_t *)a].id, o[*(const size_t *)b].id, 32);
}

/* Step 5 on one side's sorted steps (matched volume q). */
static void
ref_fills(rstep_t *st, size_t ns, uint64_t q)
{
	size_t		 i, last = 0, a, e;
	uint64_t	 below = 0, w = 0, v, rem;

	for (i = 0; i < ns; i++)
		if (st[i].got > 0)
			last = i;
	for (a = last; a > 0 && st[a - 1].key == st[last].key; a--)
		;
	for (e = last; e < ns && st[e].key == st[last].key; e++)
		;
	for (i = a; i < e; i++)
		w += st[i].wh;
	for (i = 0; i < a; i++) {
		st[i].fill = st[i].wh;
		below += st[i].wh;
	}
	v = q - below;
	for (rem = v, i = a; i < e; i++) {
		st[i].fill = v * st[i].wh / w;
		rem -= st[i].fill;
	}
	for (i = a; i < a + rem; i++)
		st[i].fill++;
}

static int64_t
floor_half(int64_t a)
{
	return a >= 0 ? a / 2 : -((-a + 1) / 2);
}

static void
ref_clear(kx_clear_t *res, uint64_t *fills, bool *inc, const kx_order_t *o,
    size_t n, const kx_params_t *p)
{
	crypto_generichash_state st;
	rstep_t		*s[2], *x, *y;
	size_t		*idx, ns[2] = { 0, 0 }, i, j, si, bi, last_s = 0;
	size_t		 last_b = 0;
	uint64_t	 tot[2] = { 0, 0 }, sum, q = 0, m;
	int64_t		 lo, hi;
	uint32_t	 k;
	int		 side;

	memset(res, 0, sizeof(*res));
	res->floor = p->floor;
	res->ceiling = p->ceiling;
	res->fee = p->fee;
	idx = calloc(n + 1, sizeof(*idx));
	s[0] = calloc(n * KX_STEPS_MAX + 1, sizeof(rstep_t));
	s[1] = calloc(n * KX_STEPS_MAX + 1, sizeof(rstep_t));
	assert_true(idx != NULL && s[0] != NULL && s[1] != NULL);
	for (i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_ord_id, (void *)(uintptr_t)o);
	crypto_generichash_init(&st, NULL, 0, 32);
	for (i = 0; i < n; i++) {
		const kx_order_t *x0 = &o[idx[i]];

		fills[idx[i]] = 0;
		inc[idx[i]] = false;
		for (sum = 0, k = 0; k < x0->n; k++)
			sum += x0->wh[k];
		if (tot[x0->side] + sum > KX_MKT_SIDE_MAX)
			continue;
		tot[x0->side] += sum;
		inc[idx[i]] = true;
		res->n_included++;
		crypto_generichash_update(&st, x0->id, 32);
		for (k = 0; k < x0->n; k++) {
			side = x0->side;
			x = &s[side][ns[side]++];
			x->id = x0->id;
			x->k = k;
			x->wh = x0->wh[k];
			x->ord = idx[i];
			x->key = side == KX_SELL ? eff_price(x0, k, p) :
			    -eff_price(x0, k, p);
		}
	}
	crypto_generichash_final(&st, res->set, 32);
	qsort(s[KX_SELL], ns[KX_SELL], sizeof(rstep_t), cmp_rstep);
	qsort(s[KX_BUY], ns[KX_BUY], sizeof(rstep_t), cmp_rstep);
	/* step 3, one step at a time */
	x = s[KX_SELL];
	y = s[KX_BUY];
	for (si = bi = 0; si < ns[KX_SELL] && bi < ns[KX_BUY] &&
	    -y[bi].key >= x[si].key; ) {
		m = x[si].wh - x[si].got;
		if (y[bi].wh - y[bi].got < m)
			m = y[bi].wh - y[bi].got;
		x[si].got += m;
		y[bi].got += m;
		q += m;
		last_s = si;
		last_b = bi;
		if (x[si].got == x[si].wh)
			si++;
		if (y[bi].got == y[bi].wh)
			bi++;
	}
	res->volume = q;
	if (q > 0) {
		/* step 4 */
		lo = x[last_s].key;
		hi = -y[last_b].key;
		if (bi < ns[KX_BUY] && -y[bi].key > lo)
			lo = -y[bi].key;
		if (si < ns[KX_SELL] && x[si].key < hi)
			hi = x[si].key;
		assert_true(lo <= hi);
		res->has_price = true;
		res->price = (uint32_t)floor_half(lo + hi);
		/* step 5 and the surplus */
		ref_fills(x, ns[KX_SELL], q);
		ref_fills(y, ns[KX_BUY], q);
		for (j = 0; j < ns[KX_SELL]; j++) {
			fills[x[j].ord] += x[j].fill;
			res->surplus -= x[j].key * (int64_t)x[j].fill;
		}
		for (j = 0; j < ns[KX_BUY]; j++) {
			fills[y[j].ord] += y[j].fill;
			res->surplus += -y[j].key * (int64_t)y[j].fill;
		}
	}
	free(s[1]);
	free(s[0]);
	free(idx);
}

/* A random valid book for the comparison: ties of every kind (a coarse
 * price grid, tiny wh, shared id prefixes), wide or narrow price ranges,
 * any fee below the ceiling, floors and ceilings that clamp. */
static void
tie_book(kx_order_t *o, size_t n, kx_params_t *p)
{
	static const uint32_t pmax[] = { 200, 4000, 50000, KX_PRICE_MAX };
	static const uint64_t whmax[] = { 1, 3, 1000, KX_WH_STEP_MAX };
	uint32_t	 pm = pmax[rnd() % 4], grid, price, k;
	uint64_t	 wm = whmax[rnd() % 4];
	size_t		 i;
	int		 b;

	grid = rnd() % 3 == 0 ? 1 : (uint32_t)rnd_in(2, 60);
	kx_params_default(p);
	p->floor = (uint32_t)rnd_in(0, pm / 2);
	p->ceiling = rnd() % 5 == 0 ? KX_PRICE_MAX :
	    (uint32_t)rnd_in(p->floor > 0 ? p->floor : 1, pm);
	p->fee = (uint32_t)rnd_in(0, rnd() % 3 == 0 ? p->ceiling - 1 :
	    (p->ceiling - 1) / 4);
	for (i = 0; i < n; i++) {
		memset(&o[i], 0, sizeof(o[i]));
		for (b = 0; b < 32; b += 8) {
			uint64_t v = rnd();

			memcpy(o[i].id + b, &v, 8);
		}
		if (rnd() % 3 == 0)	/* shared prefixes, up to 31 bytes */
			memset(o[i].id, 0, (size_t)rnd_in(4, 31));
		o[i].id[31] = (uint8_t)i;	/* distinct if the rest ties */
		o[i].id[30] = (uint8_t)(i >> 8);
		o[i].id[29] = (uint8_t)(i >> 16);
		o[i].side = (int)(rnd() % 2);
		o[i].n = (uint32_t)rnd_in(1, 16);
		price = (uint32_t)(rnd_in(0, pm / grid) * grid);
		for (k = 0; k < o[i].n; k++) {
			o[i].wh[k] = rnd_in(1, wm);
			o[i].price[k] = price;
			if (o[i].side == KX_SELL) {
				price += (uint32_t)rnd_in(1, 3) * grid;
				if (price > KX_PRICE_MAX) {
					o[i].n = k + 1;
					break;
				}
			} else if (price == 0) {
				o[i].n = k + 1;
				break;
			} else
				price = price > grid ? price - grid : 0;
		}
	}
}

/* kx_clear and kx_clear_with(ctx) must both equal ref_clear. Returns
 * 1 if the book traded, | 2 if orders were left out by the bound. */
static int
check_ref(kx_clear_ctx_t *ctx, const kx_order_t *o, size_t n,
    const kx_params_t *p, const char *what, int t)
{
	kx_clear_t	 r0, r1, r2;
	uint64_t	*f0, *f1, *f2;
	bool		*i0, *i1, *i2;
	int		 ret;

	f0 = calloc(n + 1, sizeof(*f0));
	f1 = calloc(n + 1, sizeof(*f1));
	f2 = calloc(n + 1, sizeof(*f2));
	i0 = calloc(n + 1, sizeof(*i0));
	i1 = calloc(n + 1, sizeof(*i1));
	i2 = calloc(n + 1, sizeof(*i2));
	assert_true(f0 != NULL && f1 != NULL && f2 != NULL && i0 != NULL &&
	    i1 != NULL && i2 != NULL);
	ref_clear(&r0, f0, i0, o, n, p);
	assert_int_equal(kx_clear(&r1, f1, i1, o, n, p), KX_MKT_OK);
	assert_int_equal(kx_clear_with(ctx, &r2, f2, i2, o, n, p),
	    KX_MKT_OK);
	if (r0.has_price != r1.has_price || r0.price != r1.price ||
	    r0.volume != r1.volume || r0.surplus != r1.surplus ||
	    r0.n_included != r1.n_included ||
	    memcmp(r0.set, r1.set, 32) != 0 ||
	    memcmp(f0, f1, n * sizeof(*f0)) != 0 ||
	    memcmp(i0, i1, n * sizeof(*i0)) != 0)
		fail_msg("%s book %d (%zu orders): kx_clear differs from the "
		    "reference (P %u/%u Q %" PRIu64 "/%" PRIu64 ")", what, t,
		    n, r1.price, r0.price, r1.volume, r0.volume);
	/* the context's result, byte for byte the same as kx_clear's */
	if (memcmp(&r1, &r2, sizeof(r1)) != 0 ||
	    memcmp(f1, f2, n * sizeof(*f1)) != 0 ||
	    memcmp(i1, i2, n * sizeof(*i1)) != 0)
		fail_msg("%s book %d (%zu orders): kx_clear_with differs "
		    "from kx_clear", what, t, n);
	if (r1.n_included == n)	/* it knows nothing of left-out orders */
		check_invariants(o, n, p, &r1, f1);
	ret = (r1.has_price ? 1 : 0) | (r1.n_included < n ? 2 : 0);
	free(i2);
	free(i1);
	free(i0);
	free(f2);
	free(f1);
	free(f0);
	return ret;
}

static void
t_reference(void **state)
{
	kx_clear_ctx_t	*ctx;
	kx_order_t	*o;
	kx_params_t	 p;
	size_t		 n, i;
	uint32_t	 k;
	int		 t, traded = 0, cut = 0;

	(void)state;
	o = calloc(20000, sizeof(*o));
	assert_non_null(o);
	assert_non_null(ctx = kx_clear_ctx_new());
	/* one context for all books, growing and shrinking */
	for (t = 0; t < 1500; t++) {
		n = (size_t)(t % 100 == 99 ? rnd_in(2000, 6000) :
		    t % 10 == 0 ? rnd_in(0, 600) : rnd_in(0, 40));
		tie_book(o, n, &p);
		traded += check_ref(ctx, o, n, &p, "tie", t) & 1;
	}
	assert_true(traded > 500);	/* the books do trade */
	/* the 10^12 Wh bound on both sides: big steps, orders left out */
	for (t = 0; t < 4; t++) {
		n = (size_t)rnd_in(14000, 20000);
		tie_book(o, n, &p);
		for (i = 0; i < n; i++) {
			if (rnd() % 6 == 0)
				continue;
			o[i].side = rnd() % 5 != 0 ? KX_SELL : KX_BUY;
			o[i].n = o[i].side == KX_SELL ?
			    (uint32_t)rnd_in(8, 16) : 1;
			for (k = 0; k < o[i].n; k++) {
				o[i].wh[k] = KX_WH_STEP_MAX - rnd_in(0, 2);
				o[i].price[k] = o[i].side == KX_SELL ?
				    (uint32_t)(t * 1000 + 10 * k) :
				    (uint32_t)rnd_in(0, 8000);
			}
		}
		cut += (check_ref(ctx, o, n, &p, "bound", t) & 2) != 0;
	}
	assert_int_equal(cut, 4);	/* each left orders out */
	/* exactly 10^12 Wh of sells: 6250 orders of 16 x 10^7 fit, one more
	 * Wh (id ff..ff, the last in id order) does not; one buy */
	n = 6252;
	tie_book(o, n, &p);
	p = params(0, 30000, 0);
	for (i = 0; i < n; i++) {
		o[i].side = i == n - 1 ? KX_BUY : KX_SELL;
		o[i].n = i < n - 2 ? 16 : 1;
		for (k = 0; k < o[i].n; k++) {
			o[i].wh[k] = i < n - 2 ? KX_WH_STEP_MAX : 12345;
			o[i].price[k] = i < n - 1 ? 100 + k : 20000;
		}
	}
	memset(o[n - 2].id, 0xff, 32);
	o[n - 2].wh[0] = 1;
	assert_int_equal(check_ref(ctx, o, n, &p, "exact", 0), 1 | 2);
	assert_int_equal(kx_clear(&R, FILLS, INC, o, n, &p), KX_MKT_OK);
	assert_int_equal(R.n_included, n - 1);
	assert_false(INC[n - 2]);
	/* one price for everything, 1 or 2 Wh each: a remainder shared over
	 * more than 2^16 orders (ranks past 16 bits) */
	n = 70000;
	o = realloc(o, n * sizeof(*o));
	assert_non_null(o);
	tie_book(o, n, &p);
	p = params(0, KX_PRICE_MAX, 0);
	for (i = 0; i < n; i++) {
		o[i].n = 1;
		o[i].wh[0] = 1 + (i % 3 == 0);
		o[i].price[0] = 500;
	}
	assert_int_equal(check_ref(ctx, o, n, &p, "flat", 0), 1);
	kx_clear_ctx_free(&ctx);
	free(o);
}

static void
t_ctx(void **state)
{
	kx_clear_ctx_t	*ctx = NULL, *c2;
	kx_order_t	 o[3];
	kx_params_t	 p = params(800, 3100, 500);
	uint64_t	 wh[2] = { 10, 10 };
	uint32_t	 pr[2] = { 100, 100 };

	(void)state;
	kx_clear_ctx_free(NULL);	/* NULL and *NULL are fine */
	kx_clear_ctx_free(&ctx);
	assert_non_null(ctx = kx_clear_ctx_new());
	assert_non_null(c2 = kx_clear_ctx_new());
	/* errors through a context, which stays usable after them */
	o[0] = ord1(1, KX_SELL, 100, 1000);
	o[1] = ord1(1, KX_BUY, 100, 2000);
	assert_int_equal(kx_clear_with(ctx, &R, FILLS, INC, o, 2, &p),
	    KX_MKT_EDUP);
	o[1] = ord(2, KX_SELL, 2, 2, wh, pr);
	assert_int_equal(kx_clear_with(ctx, &R, FILLS, INC, o, 2, &p),
	    KX_MKT_EINVAL);
	p.fee = 3100;
	o[1] = ord1(2, KX_BUY, 100, 2501);
	assert_int_equal(kx_clear_with(ctx, &R, FILLS, INC, o, 2, &p),
	    KX_MKT_EINVAL);
	assert_int_equal(kx_clear_with(ctx, &R, FILLS, INC, o,
	    (size_t)KX_MKT_ORDERS_MAX + 1, &p), KX_MKT_EINVAL);
	p.fee = 500;
	assert_int_equal(kx_clear_with(ctx, &R, FILLS, INC, o,
	    (size_t)KX_MKT_ORDERS_MAX + 1, &p), KX_MKT_E2BIG);
	/* the book of t_one_trade, twice on one context, once on another */
	o[2] = ord1(3, KX_BUY, 50, 1300);
	assert_int_equal(kx_clear_with(ctx, &R, FILLS, INC, o, 3, &p),
	    KX_MKT_OK);
	assert_int_equal(kx_clear_with(ctx, &R, FILLS, INC, o, 3, &p),
	    KX_MKT_OK);
	assert_int_equal(R.price, 1500);
	assert_int_equal(R.volume, 100);
	assert_int_equal(R.surplus, 100100);
	assert_int_equal(FILLS[0], 100);
	assert_int_equal(FILLS[1], 100);
	assert_int_equal(FILLS[2], 0);
	assert_int_equal(kx_clear_with(c2, &R, FILLS, NULL, o, 3, &p),
	    KX_MKT_OK);
	assert_int_equal(R.price, 1500);
	/* an empty book, then one side only */
	assert_int_equal(kx_clear_with(ctx, &R, FILLS, INC, o, 0, &p),
	    KX_MKT_OK);
	assert_false(R.has_price);
	assert_int_equal(R.n_included, 0);
	assert_int_equal(kx_clear_with(ctx, &R, FILLS, INC, o, 1, &p),
	    KX_MKT_OK);
	assert_false(R.has_price);
	assert_int_equal(FILLS[0], 0);
	assert_true(INC[0]);
	kx_clear_ctx_free(&c2);
	assert_null(c2);
	kx_clear_ctx_free(&ctx);
	assert_null(ctx);
	kx_clear_ctx_free(&ctx);	/* idempotent */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_floor_half),
		cmocka_unit_test(t_no_trade),
		cmocka_unit_test(t_one_trade),
		cmocka_unit_test(t_partial_step_rs),
		cmocka_unit_test(t_pro_rata),
		cmocka_unit_test(t_pro_rata_id_k),
		cmocka_unit_test(t_fee_blocks),
		cmocka_unit_test(t_clamp),
		cmocka_unit_test(t_many_steps),
		cmocka_unit_test(t_negative_net),
		cmocka_unit_test(t_side_bound),
		cmocka_unit_test(t_errors),
		cmocka_unit_test(t_random_properties),
		cmocka_unit_test(t_lp_surplus),
		cmocka_unit_test(t_settle_cases),
		cmocka_unit_test(t_cli_clear),
		cmocka_unit_test(t_cli_errors),
		cmocka_unit_test(t_cli_settle),
		cmocka_unit_test(t_reference),
		cmocka_unit_test(t_ctx),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
