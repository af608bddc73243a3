/*
 * model.h - the physical side of the synthetic Kaga: weather (a clear-sky
 * index for PV and the air temperature, per half-hour, from Kaga's
 * monthly climate with seeded day-to-day and within-day variation),
 * load profiles of households, ryokan and farms by season, weekday and
 * temperature, and the hash-based random draws of each member.
 *
 * The only floating point of kaga-sim lives here (and in the clear-sky
 * model of market/strategy.c): every function returns doubles that the
 * engine rounds to whole Wh at once. No libm: the few transcendental
 * values come from this file's own polynomials, so a seed gives the same
 * numbers wherever doubles are IEEE-754 and no multiply-add is fused.
 * See docs/sim.md for the numbers and their sources.
 */
#ifndef KX_SIM_MODEL_H
#define KX_SIM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

#define KX_HH		48	/* half-hours in a day */
#define KX_HH_S		1800
#define KX_HH_VARIANTS	3	/* household rhythms: 30 min early, on
				   time, 30 min late */

/* The weather of one half-hour. */
typedef struct {
	double		 kt;	/* PV / clear-sky PV, 0.02..1.1 */
	double		 temp;	/* air, deg C */
} kx_wx_t;

/* Loads of one day for each member type's mean member, Wh per half-hour
 * (the consumption of scale 1; a member multiplies by its size). */
typedef struct {
	double		 hh[KX_HH_VARIANTS][KX_HH];	/* households */
	double		 ryokan[KX_HH];	/* the day's occupancy included */
	double		 farm[KX_HH];	/* without pumps and dryers */
	double		 pump[KX_HH];	/* an irrigation pump, if it runs */
	double		 dryer[KX_HH];	/* a grain dryer, if it runs */
	uint32_t	 pump_permille;	/* chance a farm pumps that day */
	uint32_t	 dryer_permille;	/* chance a farm dries grain */
} kx_loads_t;

/* splitmix64's finaliser: a well-mixed 64-bit hash of x. */
static inline uint64_t
kx_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A hash of (seed, a, b) for independent streams. */
static inline uint64_t
kx_mix3(uint64_t seed, uint64_t a, uint64_t b)
{
	return kx_mix(kx_mix(seed ^ 0x5851f42d4c957f2dULL) ^
	    kx_mix(a * 0xd1342543de82ef95ULL + b));
}

/* The k-th 16-bit uniform of a hash, in [0, 1). */
static inline double
kx_u16(uint64_t h, unsigned k)
{
	return (double)((h >> (16 * k)) & 0xffff) * (1.0 / 65536.0);
}

/* A triangular draw in (-1, 1) from two 16-bit parts of a hash. */
static inline double
kx_tri(uint64_t h, unsigned k)
{
	return kx_u16(h, k) + kx_u16(h, k + 1) - 1.0;
}

/*
 * The weather of n_days whole days from day0 (a JST midnight), written
 * to wx[n_days * KX_HH]. cloud_permille scales the departure from a
 * clear sky (0: kt = 1 always). The same (seed, day0) always gives the
 * same weather; day d depends on days before it only.
 */
void	kx_model_weather(kx_wx_t *wx, size_t n_days, int64_t day0,
	    uint64_t seed, uint64_t cloud_permille);

/*
 * The loads of the day starting at day_t (a JST midnight) under the
 * day's weather wx[0..KX_HH), in Wh per half-hour, scaled so that a
 * mean member of each type uses its scenario's kWh in a year of
 * climatological weather (kx_model_norm).
 */
void	kx_model_loads(kx_loads_t *ld, const kx_wx_t *wx, int64_t day_t,
	    const double norm[KX_SIM_TYPES]);

/*
 * Factors that turn the raw profiles into Wh: over 365 days of
 * climatological weather from start, the mean member of type t uses
 * sc->type[t].kwh.
 */
void	kx_model_norm(double norm[KX_SIM_TYPES], const kx_scen_t *sc,
	    int64_t start);

#endif
