/*
 * strategy.h - a member's bidding advice: a forecast of its net position
 * for a slot (meter history blended with a clear-sky PV model of Kaga),
 * an order whose price curve follows that forecast's certainty and the
 * owner's limits, and a battery plan over a day of expected prices.
 *
 * Nothing here is normative: PROTOCOL.md leaves strategies to each node,
 * and two nodes may bid differently from the same history. Still, every
 * output is an integer in the protocol's units (Wh, sen per kWh,
 * milli-sen) and equal inputs give equal outputs: floating point is used
 * only inside the solar model and the forecast, with this file's own
 * sin/cos/exp (no libm, whose last bit may differ between versions), in
 * C11 mode (GCC: no fused multiply-add contraction) on IEEE-754 doubles.
 * The order and the battery plan are integer arithmetic throughout.
 *
 * Pure functions over caller-owned memory: no allocation, no I/O, no
 * global state. Tuned for one household's day: 48 slots of 1800 s, up to
 * a year of history, a battery plan over up to four days.
 * See docs/strategy.md for the formulas.
 */
#ifndef KX_STRATEGY_H
#define KX_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "market.h"	/* kx_order_t, kx_params_t, KX_BUY/KX_SELL */

#define KX_STRAT_SLOT_S		1800	/* slot length, s */
#define KX_STRAT_DAY_SLOTS	48	/* slots in a day */
#define KX_STRAT_JST_S		32400	/* JST = UTC + 9 h, no DST */
#define KX_STRAT_DAYS_MAX	366	/* history days a forecast uses */
#define KX_STRAT_PLAN_MAX	192	/* slots in one battery plan */
#define KX_STRAT_WH_MAX	1000000000000LL	/* one history value, |net| */
#define KX_STRAT_NET_MAX	4000000000000LL	/* |net|, |lo|, |hi|, |batt| */
#define KX_STRAT_CAP_MAX	1000000000ULL	/* battery capacity, Wh */
#define KX_STRAT_T_MAX		(1LL << 35)	/* times in [0, this), s */
#define KX_STRAT_NA		UINT64_MAX	/* a history value not metered */

#define KX_STRAT_KAGA_LAT	36.3	/* degrees north */
#define KX_STRAT_KAGA_LON	136.3	/* degrees east */

/* Error codes (reserved range -350 .. -399, inside the market's). */
#define KX_STRAT_OK		 0
#define KX_STRAT_EINVAL		-351	/* an argument breaks a precondition */
#define KX_STRAT_ENODATA	-352	/* no usable history day for the slot */

/* A PV installation. */
typedef struct {
	double		 lat;		/* degrees north, -90..90 */
	double		 lon;		/* degrees east, -180..360 */
	uint32_t	 kwp_w;		/* peak power, W at 1000 W/m2 (0: none) */
	double		 tilt;		/* degrees from horizontal, 0..90 */
	double		 azimuth;	/* degrees clockwise from north, 0..360
					   (180: facing south) */
	uint32_t	 pr_permille;	/* performance ratio (inverter, wiring,
					   heat, dirt), 1..1000 */
} kx_strat_site_t;

/* Unit vector from the observer to the sun, local horizon frame. */
typedef struct {
	double		 up;		/* sin(elevation); <= 0 at night */
	double		 east;
	double		 north;
} kx_strat_sun_t;

/*
 * Per-slot meter history: arrays of n_days * KX_STRAT_DAY_SLOTS values,
 * index day * 48 + slot of the day, oldest day first. Day 0 starts at
 * day0, a JST midnight. A value of KX_STRAT_NA (or any day with one in a
 * used array) is skipped for that slot. Borrowed, never written.
 */
typedef struct {
	const uint64_t	*imp;		/* Wh imported from the grid */
	const uint64_t	*exp;		/* Wh exported */
	const uint64_t	*pv;		/* Wh produced; NULL: not metered */
	const uint64_t	*load;		/* Wh consumed; NULL: imp + pv - exp */
	size_t		 n_days;
	uint64_t	 day0;		/* unix s, (day0 + 9 h) % 86400 == 0 */
} kx_strat_hist_t;

/* How a forecast reads the history (kx_strat_fcopt_default). */
typedef struct {
	uint32_t	 days;		/* last days used, 1..KX_STRAT_DAYS_MAX */
	uint32_t	 trim_permille;	/* dropped from each end, 0..500
					   (0: mean, 250: interquartile mean,
					   500: median) */
	uint32_t	 cs_permille;	/* weight of the clear-sky-scaled PV
					   against plain PV history, 0..1000 */
} kx_strat_fcopt_t;

/* A slot's forecast; pv - load == net. */
typedef struct {
	int64_t		 net;		/* expected pv - load, Wh; > 0: surplus */
	int64_t		 lo, hi;	/* low and high estimates, lo <= net <=
					   hi (the trimmed days' spread) */
	int64_t		 pv;		/* expected PV, Wh (0: not metered) */
	int64_t		 load;		/* expected consumption, Wh */
	uint64_t	 pv_cs;		/* clear-sky PV of the slot, Wh */
	uint32_t	 days;		/* history days used */
} kx_strat_fc_t;

/* The owner's preferences. Prices in sen per kWh (PROTOCOL.md 1). */
typedef struct {
	uint32_t	 sell_min;	/* never sell below, 0..KX_PRICE_MAX */
	uint32_t	 buy_max;	/* never buy above, 0..KX_PRICE_MAX */
	uint64_t	 cap_wh;	/* battery capacity, 1..KX_STRAT_CAP_MAX */
	uint64_t	 reserve_wh;	/* lowest state of charge kept, <= cap */
	uint32_t	 charge_w;	/* most charging power (grid side), W */
	uint32_t	 discharge_w;	/* most discharging power, W */
	uint32_t	 eff_permille;	/* round trip, 1..1000 */
	bool		 grid_charge;	/* may charge from bought energy */
} kx_strat_owner_t;

const char	*kx_strat_strerror(int);

/* A site at Kaga: kwp_w peak, tilted 30 degrees facing south, PR 850. */
void	kx_strat_site_kaga(kx_strat_site_t *site, uint32_t kwp_w);

/* Defaults: 14 days, trim 250 (interquartile mean), clear-sky 750. */
void	kx_strat_fcopt_default(kx_strat_fcopt_t *opt);

/*
 * Where the sun is seen from lat, lon at unix time t (s, UTC; 0 <= t <
 * KX_STRAT_T_MAX); the Astronomical Almanac's low-precision formulas
 * (about 0.01 degree 1950..2050), no refraction.
 * Returns KX_STRAT_OK or KX_STRAT_EINVAL (lat, lon or t out of range).
 */
int	kx_strat_sun(kx_strat_sun_t *sun, double lat, double lon, int64_t t)
	    __attribute__((warn_unused_result));

/*
 * Clear-sky PV energy of site in the slot starting at `slot` (unix s, a
 * multiple of KX_STRAT_SLOT_S, < KX_STRAT_T_MAX): Haurwitz irradiance on
 * the tilted plane, times kwp_w and the performance ratio, capped at
 * kwp_w, averaged over six 5-minute samples. 0 <= *wh <= kwp_w / 2.
 * Returns KX_STRAT_OK or KX_STRAT_EINVAL (a bad site or slot).
 */
int	kx_strat_clearsky(uint64_t *wh, const kx_strat_site_t *site,
	    uint64_t slot) __attribute__((warn_unused_result));

/*
 * Trimmed mean of v[0..n): sorts a copy, drops k = min(n * trim / 1000,
 * (n - 1) / 2) values from each end and averages the rest, rounding half
 * up. lo, hi (either may be NULL) get the smallest and largest kept
 * value. 1 <= n <= KX_STRAT_DAYS_MAX, |v[i]| <= 10^15, trim <= 500.
 * Returns KX_STRAT_OK or KX_STRAT_EINVAL.
 */
int	kx_strat_tmean(int64_t *mean, int64_t *lo, int64_t *hi,
	    const int64_t *v, size_t n, uint32_t trim)
	    __attribute__((warn_unused_result));

/*
 * Forecasts the net position of the slot starting at `slot` from the
 * same slot of the day (JST) on the last opt->days days of h:
 * trimmed means of load and PV, the PV blended with the median
 * clear-sky index of those days times the slot's clear-sky PV (when
 * site is given with kwp_w > 0 and PV is metered, or derived from a
 * metered load). fc->lo and fc->hi shift the forecast by the spread of
 * the kept days' nets. See docs/strategy.md.
 *
 * site: NULL for no PV model. opt: NULL for the defaults.
 * Values of h must be <= KX_STRAT_WH_MAX or KX_STRAT_NA.
 * Returns KX_STRAT_OK, KX_STRAT_EINVAL (a bad argument or history value)
 * or KX_STRAT_ENODATA (no day with all used values metered, n_days 0).
 */
int	kx_strat_forecast(kx_strat_fc_t *fc, const kx_strat_hist_t *h,
	    const kx_strat_site_t *site, const kx_strat_fcopt_t *opt,
	    uint64_t slot) __attribute__((warn_unused_result));

/*
 * Turns a forecast into one order for its slot. batt is the battery's
 * planned Wh in the slot (> 0 charging, < 0 discharging; kx_strat_battery)
 * and shifts the forecast by -batt. A surplus becomes a sell, a deficit a
 * buy; the volume up to the low (sell) or high (buy) estimate is certain
 * and priced at the owner's limit, the rest is split into nsteps - 1
 * steps (nsteps when nothing is certain) priced further away as it gets
 * less likely (docs/strategy.md):
 *
 *   sell  lim = max(sell_min, floor), prices in [lim, ceiling], rising
 *   buy   lim = min(buy_max, ceiling), prices in [floor, lim], falling
 *
 * Steps of equal price are merged, a step holds at most KX_WH_STEP_MAX
 * (volume past that is not offered), so the order passes kx_order_check.
 * o->n == 0 when there is nothing to offer (net 0, or a limit outside
 * [floor, ceiling]); o->side is set all the same (KX_SELL for net 0).
 * o's id and member are not touched.
 *
 * fc: lo <= net <= hi, each and batt within +-KX_STRAT_NET_MAX.
 * mp: floor <= ceiling <= KX_PRICE_MAX (fee unused). nsteps 1..16.
 * Returns KX_STRAT_OK or KX_STRAT_EINVAL.
 */
int	kx_strat_order(kx_order_t *o, const kx_strat_fc_t *fc, int64_t batt,
	    const kx_strat_owner_t *own, const kx_params_t *mp,
	    uint32_t nsteps) __attribute__((warn_unused_result));

/*
 * Plans a battery over n slots to maximise the expected money: charging
 * from the member's own surplus costs the price it would have sold at
 * (price[t]), from the grid (only if own->grid_charge) price[t] + fee;
 * discharging into its own deficit is worth price[t] + fee (a purchase
 * avoided), beyond it price[t] (a sale); energy left at the end is worth
 * `keep` per kWh. Losses are taken at charging: c Wh charged store
 * floor(c * eff / 1000) Wh. The optimum of that model over integer
 * plans (augmenting paths on the state of charge, docs/strategy.md;
 * tests/test_strategy.c checks it against an exhaustive search).
 * O(n^2) per round, about 1.5 n rounds: 192 slots in under 20 ms.
 *
 * plan: n entries, out: > 0 Wh charged (grid side), < 0 Wh discharged.
 * soc: NULL or n + 1 entries, out: stored Wh at the start of each slot
 *      and at the end; never above cap_wh, never below min(reserve_wh,
 *      soc0).
 * gain: NULL or out: the plan's expected value in milli-sen (sales and
 *      avoided purchases minus the cost of charging, plus keep times the
 *      change of stored energy).
 * price: n expected clearing prices (0..KX_PRICE_MAX), e.g. recent ones.
 * net: NULL (all 0) or n forecast net positions, |net| <= KX_STRAT_WH_MAX.
 * soc0: stored Wh now, <= cap_wh. keep: 0..KX_PRICE_MAX.
 * own: cap_wh 1..KX_STRAT_CAP_MAX, reserve_wh <= cap_wh, eff 1..1000;
 *      per slot at most charge_w / 2 Wh charged, discharge_w / 2 Wh
 *      discharged, never both.
 * mp: the market parameters (fee used), checked as kx_clear does.
 * Returns KX_STRAT_OK or KX_STRAT_EINVAL (also for n 0 or > PLAN_MAX).
 */
int	kx_strat_battery(int64_t *plan, uint64_t *soc, int64_t *gain,
	    const uint32_t *price, const int64_t *net, size_t n,
	    uint64_t soc0, uint32_t keep, const kx_strat_owner_t *own,
	    const kx_params_t *mp) __attribute__((warn_unused_result));

#endif
