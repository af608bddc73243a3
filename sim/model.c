/*
 * model.c - weather and load profiles of the synthetic Kaga (model.h).
 *
 * Climate: monthly means for Kanazawa/Kaga (JMA normals, rounded): the
 * air temperature, and a mean clear-sky index (PV energy over clear-sky
 * PV energy) derived from the sunshine hours, low in the snowy Hokuriku
 * winter and in the June-July rainy season. Days follow an AR(1) process
 * around the month (cloudy spells last), half-hours another one around
 * the day. Loads are piecewise profiles in W for a unit member, with
 * heating and cooling proportional to degree-hours; docs/sim.md has the
 * tables.
 */
#include <string.h>

#include "model.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define DAY_S	86400
#define PI	3.14159265358979323846

/* Monthly climate, January first. */
static const double TEMP_M[12] = {	/* mean air temperature, deg C */
	3.8, 4.1, 7.3, 12.8, 17.6, 21.6, 25.7, 27.2, 23.2, 17.6, 12.0, 6.8
};
static const double KT_M[12] = {	/* mean clear-sky index */
	0.36, 0.44, 0.55, 0.63, 0.68, 0.58, 0.58, 0.68, 0.58, 0.60, 0.48, 0.37
};
static const double OCC_M[12] = {	/* ryokan occupancy by month */
	0.85, 0.85, 0.90, 0.85, 1.00, 0.75, 0.90, 1.20, 0.90, 1.05, 1.15, 1.00
};
static const double OCC_WD[7] = {	/* by weekday, Sunday first */
	0.85, 0.80, 0.80, 0.80, 0.85, 1.15, 1.35
};

#define KT_DAY_SD	0.27	/* spread of a day's index around the month */
#define KT_DAY_RHO	0.55	/* day-to-day persistence */
#define KT_HH_RHO	0.70	/* half-hour to half-hour persistence */
#define T_DAY_SD	2.2	/* day temperature anomaly, deg C */
#define T_DAY_RHO	0.70

/* cos x for |x| <= 2 pi (Taylor on [-pi/4, pi/4] after reduction). */
static double
kcos(double x)
{
	double	 r, z, s, c;
	int	 q;

	if (x < 0)
		x = -x;
	q = (int)(x / (PI / 2) + 0.5);
	r = x - q * (PI / 2);
	z = r * r;
	c = 1 - z / 2 * (1 - z / 12 * (1 - z / 30 * (1 - z / 56 *
	    (1 - z / 90))));
	s = r * (1 - z / 6 * (1 - z / 20 * (1 - z / 42 * (1 - z / 72 *
	    (1 - z / 110)))));
	switch (q % 4) {
	case 0:  return c;
	case 1:  return -s;
	case 2:  return -c;
	default: return s;
	}
}

/* A standard normal-ish draw (Irwin-Hall of four 16-bit uniforms). */
static double
normal4(uint64_t h)
{
	return (kx_u16(h, 0) + kx_u16(h, 1) + kx_u16(h, 2) + kx_u16(h, 3) -
	    2.0) * 1.7320508075688772;
}

static double
clampd(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* A monthly value at (m, d), linear between mid-months. */
static double
clim(const double v[12], unsigned m, unsigned d)
{
	unsigned i = m - 1;
	double	 t;

	if (d >= 15) {
		t = (double)(d - 15) / 30.0;
		return v[i] + t * (v[(i + 1) % 12] - v[i]);
	}
	t = (double)(15 - d) / 30.0;
	return v[i] + t * (v[(i + 11) % 12] - v[i]);
}

/* The diurnal temperature swing at half-hour s: warmest about 14:30. */
static double
diurnal(unsigned s)
{
	double	 h = (double)s / 2.0 + 0.25;

	return kcos(2.0 * PI * (h - 14.5) / 24.0);
}

void
kx_model_weather(kx_wx_t *wx, size_t n_days, int64_t day0, uint64_t seed,
    uint64_t cloud_permille)
{
	double		 z = 0.0, a = 0.0, w = 0.0, cl, ktm, ktd, amp, tm, sw;
	int64_t		 y;
	unsigned	 m, d, s;
	size_t		 i;
	uint64_t	 h;

	cl = (double)cloud_permille / 1000.0;
	for (i = 0; i < n_days; i++) {
		int64_t t = day0 + (int64_t)i * DAY_S;

		kx_scen_jst_date(t, &y, &m, &d, NULL);
		h = kx_mix3(seed, 0x77656174686572ULL, (uint64_t)t);
		z = KT_DAY_RHO * z + 0.835 * normal4(h);
		a = T_DAY_RHO * a + 0.714 * normal4(kx_mix(h));
		ktm = clim(KT_M, m, d);
		ktd = 1.0 - (1.0 - clampd(ktm + KT_DAY_SD * z, 0.04, 1.0)) * cl;
		amp = 0.6 * ktd * (1.0 - ktd);
		tm = clim(TEMP_M, m, d) + T_DAY_SD * a;
		sw = 2.5 + 3.0 * ktd;	/* clear days swing more */
		for (s = 0; s < KX_HH; s++) {
			h = kx_mix3(seed, 0x636c6f756473ULL,
			    (uint64_t)t + s * KX_HH_S);
			w = KT_HH_RHO * w + 0.714 * normal4(h);
			wx[i * KX_HH + s].kt = clampd(ktd + amp * w, 0.02, 1.1);
			wx[i * KX_HH + s].temp = tm + sw * diurnal(s);
		}
	}
}

/* ---- loads --------------------------------------------------------- */

/* Is hour h (0..24) in [a, b)? */
#define IN(h, a, b)	((h) >= (a) && (h) < (b))

/* Household appliances, W, at hour h (a weekday). */
static double
hh_base(double h, int weekend)
{
	double	 w;

	if (IN(h, 0, 5))
		w = 300;
	else if (IN(h, 5, 6))
		w = 350;
	else if (IN(h, 6, 8.5))
		w = 800;
	else if (IN(h, 8.5, 11))
		w = 450;
	else if (IN(h, 11, 13))
		w = 500;
	else if (IN(h, 13, 17))
		w = 420;
	else if (IN(h, 17, 19))
		w = 800;
	else if (IN(h, 19, 22))
		w = 1000;
	else
		w = 550;
	if (weekend && IN(h, 9, 17))
		w += 200;
	return w;
}

/* Household heating and cooling, W, at hour h and temperature t. */
static double
hh_climate(double h, int weekend, double t)
{
	double	 heat = t < 16.0 ? 16.0 - t : 0.0;
	double	 cool = t > 25.0 ? t - 25.0 : 0.0;
	double	 wh, wc;

	if (IN(h, 6, 9) || IN(h, 17, 24)) {
		wh = 1.0;
		wc = IN(h, 17, 24) ? 1.0 : 0.4;
	} else if (IN(h, 0, 6)) {
		wh = 0.6;
		wc = 0.6;
	} else {
		wh = weekend ? 0.9 : 0.5;
		wc = weekend ? 0.9 : 0.5;
	}
	if (IN(h, 13, 17))
		wc = weekend ? 1.0 : 0.7;
	return 70.0 * heat * wh + 90.0 * cool * wc;
}

/* Ryokan, W, at hour h, temperature t and occupancy occ. */
static double
ryokan_w(double h, double t, double occ)
{
	double	 guests, w;

	w = 20000.0;				/* pumps, lights, kitchens */
	w += 8000.0 + 800.0 * (t < 18.0 ? 18.0 - t : 0.0);	/* hot spring */
	if (IN(h, 6, 10))
		guests = 25000.0;		/* baths, breakfast */
	else if (IN(h, 15, 23))
		guests = 35000.0;		/* check-in, dinner, baths */
	else if (IN(h, 10, 15))
		guests = 6000.0;
	else
		guests = 8000.0;
	w += occ * guests;
	if (t > 24.0)
		w += 1500.0 * (t - 24.0) * (IN(h, 0, 7) ? 0.5 : 1.0);
	return w;
}

/* Farm buildings (sheds, cold stores, tools), W. */
static double
farm_w(double h, double t)
{
	return (IN(h, 6, 19) ? 900.0 : 400.0) +
	    30.0 * (t < 8.0 ? 8.0 - t : 0.0);
}

#define PUMP_W		3700.0	/* a 5 hp irrigation pump */
#define DRYER_W		7500.0	/* a grain dryer */
#define PUMP_P		600	/* permille of the days in season */
#define DRYER_P		350

/* Irrigation season: May to August; rice drying: September to mid
 * October. */
static int
pump_season(unsigned m)
{
	return m >= 5 && m <= 8;
}

static int
dryer_season(unsigned m, unsigned d)
{
	return m == 9 || (m == 10 && d <= 15);
}

/* Raw (unnormalised) W of one day into ld; temps per half-hour. */
static void
loads_raw(kx_loads_t *ld, const double *temp, int64_t day_t)
{
	int64_t		 y;
	unsigned	 m, d, wd, s, v;
	int		 weekend;
	double		 h, occ;

	kx_scen_jst_date(day_t, &y, &m, &d, &wd);
	weekend = wd == 0 || wd == 6;
	occ = clim(OCC_M, m, d) * OCC_WD[wd];
	for (s = 0; s < KX_HH; s++) {
		for (v = 0; v < KX_HH_VARIANTS; v++) {
			/* variant 0 lives 30 min earlier, 2 later */
			unsigned sv = (s + KX_HH + 1 - v) % KX_HH;

			h = (double)sv / 2.0 + 0.25;
			ld->hh[v][s] = hh_base(h, weekend) +
			    hh_climate(h, weekend, temp[s]);
		}
		h = (double)s / 2.0 + 0.25;
		ld->ryokan[s] = ryokan_w(h, temp[s], occ);
		ld->farm[s] = farm_w(h, temp[s]);
		ld->pump[s] = pump_season(m) && IN(h, 5, 17) ? PUMP_W : 0.0;
		ld->dryer[s] = dryer_season(m, d) && IN(h, 8, 22) ? DRYER_W :
		    0.0;
	}
	ld->pump_permille = pump_season(m) ? PUMP_P : 0;
	ld->dryer_permille = dryer_season(m, d) ? DRYER_P : 0;
}

void
kx_model_loads(kx_loads_t *ld, const kx_wx_t *wx, int64_t day_t,
    const double norm[KX_SIM_TYPES])
{
	double		 temp[KX_HH];
	unsigned	 s, v;

	for (s = 0; s < KX_HH; s++)
		temp[s] = wx[s].temp;
	loads_raw(ld, temp, day_t);
	/* W over half an hour is W / 2 Wh */
	for (s = 0; s < KX_HH; s++) {
		for (v = 0; v < KX_HH_VARIANTS; v++)
			ld->hh[v][s] *= norm[KX_SIM_HOUSEHOLD] / 2.0;
		ld->ryokan[s] *= norm[KX_SIM_RYOKAN] / 2.0;
		ld->farm[s] *= norm[KX_SIM_FARM] / 2.0;
		ld->pump[s] *= norm[KX_SIM_FARM] / 2.0;
		ld->dryer[s] *= norm[KX_SIM_FARM] / 2.0;
	}
}

void
kx_model_norm(double norm[KX_SIM_TYPES], const kx_scen_t *sc, int64_t start)
{
	kx_loads_t	 ld;
	double		 temp[KX_HH], sum[KX_SIM_TYPES], tm, hh;
	int64_t		 y, t;
	unsigned	 m, d, s, v, i, k;

	memset(sum, 0, sizeof(sum));
	for (i = 0; i < 365; i++) {
		t = start + (int64_t)i * DAY_S;
		kx_scen_jst_date(t, &y, &m, &d, NULL);
		tm = clim(TEMP_M, m, d);
		for (s = 0; s < KX_HH; s++)
			temp[s] = tm + (2.5 + 3.0 * clim(KT_M, m, d)) *
			    diurnal(s);
		loads_raw(&ld, temp, t);
		for (s = 0; s < KX_HH; s++) {
			for (hh = 0, v = 0; v < KX_HH_VARIANTS; v++)
				hh += ld.hh[v][s];
			sum[KX_SIM_HOUSEHOLD] += hh / KX_HH_VARIANTS / 2.0;
			sum[KX_SIM_RYOKAN] += ld.ryokan[s] / 2.0;
			sum[KX_SIM_FARM] += (ld.farm[s] +
			    ld.pump[s] * ld.pump_permille / 1000.0 +
			    ld.dryer[s] * ld.dryer_permille / 1000.0) / 2.0;
		}
	}
	for (k = 0; k < KX_SIM_TYPES; k++)
		norm[k] = (double)sc->type[k].kwh * 1000.0 / sum[k];
}
