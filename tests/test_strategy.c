/*
 * test_strategy.c - bidding strategies (market/strategy.c): the math
 * kernel against libm-computed constants, the sun and the clear-sky PV
 * model at Kaga (solar noon, solstice elevations, night, physical
 * bounds, values from an independent Python implementation of the same
 * formulas), trimmed means and forecasts (constant history, outliers,
 * missing days, the clear-sky index), hand-worked order curves and
 * random ones through kx_order_check, hand-worked battery days, random
 * battery days against an exhaustive dynamic program, and every error
 * path.
 *
 * Includes strategy.c itself to reach the static math kernel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>		/* NAN only: no libm call */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../market/strategy.c"

/* Midnights JST (unix s), checked with `TZ=Asia/Tokyo date -d ... +%s`. */
#define JUN21	1718895600LL	/* 2024-06-21, June solstice */
#define DEC21	1734706800LL	/* 2024-12-21, December solstice */
#define JUN13	1718204400LL	/* equation of time about 0 */
#define FEB11	1707577200LL	/* equation of time about -14 min */
#define NOV03	1730559600LL	/* equation of time about +16 min */
#define MAY01	1714489200LL
#define FEB01	1706713200LL

#define SLOT(day, k)	((uint64_t)(day) + (uint64_t)(k) * 1800u)

static uint64_t	 rs = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

/* Uniform in [lo, hi]. */
static int64_t
rnd_in(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static void
near(double got, double want, double tol)
{
	double	 d = got - want;

	if (d < 0)
		d = -d;
	if (!(d <= tol))
		fail_msg("%.17g differs from %.17g by more than %g", got,
		    want, tol);
}

/* ---- math kernel --------------------------------------------------- */

static void
t_kernel(void **state)
{
	/* x, sin x, cos x from CPython's math (glibc libm) */
	static const double sc[][3] = {
		{ 1.0, 0.8414709848078965, 0.5403023058681398 },
		{ -2.5, -0.5984721441039565, -0.8011436155469337 },
		{ 7.0, 0.6569865987187891, 0.7539022543433046 },
		{ 0.785398, 0.7071066656470943, 0.7071068967259818 },
		{ 100.0, -0.5063656411097588, 0.8623188722876839 },
		{ 1000.0, 0.8268795405320025, 0.5623790762907029 },
		{ 6.283185307179586, -2.4492935982947064e-16, 1.0 },
		{ 0.001, 0.0009999998333333417, 0.9999995000000417 },
	};
	static const double ex[][2] = {
		{ -1.0, 0.36787944117144233 },
		{ -0.059, 0.9427067691570997 },
		{ -5.9, 0.0027394448187683684 },
		{ 0.5, 1.6487212707001282 },
		{ 10.0, 22026.465794806718 },
		{ -36.7, 1.1518409493076097e-16 },
		{ 0.0, 1.0 },
	};
	size_t	 i;
	double	 s, c;

	(void)state;
	for (i = 0; i < NELEM(sc); i++) {
		ksincos(sc[i][0], &s, &c);
		near(s, sc[i][1], 4e-16);
		near(c, sc[i][2], 4e-16);
	}
	for (i = 0; i < NELEM(ex); i++)
		near(kexp(ex[i][0]) / ex[i][1], 1.0, 4e-16);
	near(kexp(-700.0) / 9.85967654375977e-305, 1.0, 1e-14);
	assert_true(kexp(-700.5) == 0.0);
	assert_true(kexp(-1e300) == 0.0);
	/* identities over a sweep */
	for (i = 0; i < 2000; i++) {
		double x = -400.0 + 0.4007 * (double)i;

		ksincos(x, &s, &c);
		near(s * s + c * c, 1.0, 4e-16);
	}
	assert_true(kfloor(2.5) == 2.0);
	assert_true(kfloor(-2.5) == -3.0);
	assert_true(kfloor(-3.0) == -3.0);
	assert_int_equal(nearest(2.5), 3);
	assert_int_equal(nearest(-2.5), -3);
	assert_int_equal(nearest(-2.4), -2);
	near(deg_red(-30.0), 330.0, 1e-12);
	near(deg_red(725.0), 5.0, 1e-12);
}

/* ---- the sun ------------------------------------------------------- */

/* The minute of the day (JST) with the sun highest at Kaga, and how high. */
static int
noon_minute(int64_t day, double *up_max)
{
	kx_strat_sun_t	 s;
	int		 m, best = -1;

	*up_max = -2.0;
	for (m = 0; m < 1440; m++) {
		assert_int_equal(kx_strat_sun(&s, KX_STRAT_KAGA_LAT,
		    KX_STRAT_KAGA_LON, day + 60 * m), KX_STRAT_OK);
		near(s.up * s.up + s.east * s.east + s.north * s.north, 1.0,
		    1e-12);
		if (s.up > *up_max) {
			*up_max = s.up;
			best = m;
		}
	}
	return best;
}

static void
t_sun(void **state)
{
	kx_strat_sun_t	 s;
	double		 up;
	int		 m;

	(void)state;
	/*
	 * Solar noon at 136.3 E is 12:00 - 1.3 deg x 4 min/deg = 11:54.8
	 * mean time, minus the equation of time of the day.
	 */
	m = noon_minute(JUN13, &up);		/* EoT ~ +0.3 min: 11:54.5 */
	assert_in_range(m, 11 * 60 + 53, 11 * 60 + 57);
	m = noon_minute(FEB11, &up);		/* EoT ~ -14.2: 12:09.0 */
	assert_in_range(m, 12 * 60 + 7, 12 * 60 + 11);
	m = noon_minute(NOV03, &up);		/* EoT ~ +16.4: 11:38.4 */
	assert_in_range(m, 11 * 60 + 36, 11 * 60 + 40);
	/* highest sun: 90 - 36.3 +- 23.44 degrees */
	m = noon_minute(JUN21, &up);
	near(up, 0.974907, 0.0005);		/* sin 77.14 deg */
	assert_in_range(m, 11 * 60 + 55, 11 * 60 + 59);
	m = noon_minute(DEC21, &up);
	near(up, 0.503990, 0.0005);		/* sin 30.26 deg */

	/* midnight: well below the horizon; morning east, noon south */
	assert_int_equal(kx_strat_sun(&s, 36.3, 136.3, JUN21), KX_STRAT_OK);
	assert_true(s.up < -0.3);
	assert_int_equal(kx_strat_sun(&s, 36.3, 136.3, JUN21 + 8 * 3600),
	    KX_STRAT_OK);
	assert_true(s.up > 0.3 && s.east > 0.5);
	assert_int_equal(kx_strat_sun(&s, 36.3, 136.3, JUN21 + 16 * 3600),
	    KX_STRAT_OK);
	assert_true(s.up > 0.3 && s.east < -0.5);
	assert_int_equal(kx_strat_sun(&s, 36.3, 136.3, DEC21 + 12 * 3600),
	    KX_STRAT_OK);
	assert_true(s.north < -0.8);

	assert_int_equal(kx_strat_sun(NULL, 36.3, 136.3, 0), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_sun(&s, 90.5, 136.3, 0), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_sun(&s, NAN, 136.3, 0),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_sun(&s, 36.3, -181.0, 0), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_sun(&s, 36.3, 136.3, -1), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_sun(&s, 36.3, 136.3, KX_STRAT_T_MAX),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_sun(&s, -90.0, 360.0, KX_STRAT_T_MAX - 1),
	    KX_STRAT_OK);
}

/* ---- clear-sky PV -------------------------------------------------- */

static uint64_t
cs(const kx_strat_site_t *site, uint64_t slot)
{
	uint64_t	 wh = UINT64_MAX;

	assert_int_equal(kx_strat_clearsky(&wh, site, slot), KX_STRAT_OK);
	return wh;
}

/* The slot of the day with the most clear-sky PV. */
static int
best_slot(const kx_strat_site_t *site, int64_t day)
{
	uint64_t	 wh, best = 0;
	int		 k, b = -1;

	for (k = 0; k < 48; k++)
		if ((wh = cs(site, SLOT(day, k))) > best) {
			best = wh;
			b = k;
		}
	return b;
}

static void
t_clearsky(void **state)
{
	kx_strat_site_t	 kaga, flat, bad;
	uint64_t	 wh, summer, winter;
	int		 k, d;
	int64_t		 day;

	(void)state;
	kx_strat_site_kaga(&kaga, 5000);
	flat = kaga;
	flat.kwp_w = 1000;
	flat.tilt = 0.0;
	flat.pr_permille = 1000;

	/* night: nothing from 20:00 to 04:00 in June, 17:00 to 07:00 in Dec */
	for (k = 0; k < 8; k++)
		assert_int_equal(cs(&kaga, SLOT(JUN21, k)), 0);
	for (k = 40; k < 48; k++)
		assert_int_equal(cs(&kaga, SLOT(JUN21, k)), 0);
	for (k = 0; k < 14; k++)
		assert_int_equal(cs(&kaga, SLOT(DEC21, k)), 0);
	for (k = 34; k < 48; k++)
		assert_int_equal(cs(&kaga, SLOT(DEC21, k)), 0);

	/* the best slot is 11:30-12:00 (noon ~11:55), 12:00-12:30 on Feb 11 */
	assert_int_equal(best_slot(&kaga, JUN13), 23);
	assert_int_equal(best_slot(&kaga, JUN21), 23);
	assert_int_equal(best_slot(&kaga, DEC21), 23);
	assert_int_equal(best_slot(&flat, DEC21), 23);
	assert_int_equal(best_slot(&kaga, FEB11), 24);

	/* summer noon beats winter noon, tilted or flat */
	summer = cs(&kaga, SLOT(JUN21, 23));
	winter = cs(&kaga, SLOT(DEC21, 23));
	assert_true(summer > winter);
	assert_true(cs(&flat, SLOT(JUN21, 23)) > 2 * cs(&flat, SLOT(DEC21, 23)));

	/*
	 * The same model in Python with libm's sin/cos/exp (kept in
	 * docs/strategy.md): 2108.21, 500 (capped at kWp), 245.61, 1399.84,
	 * 37.89 Wh. Rounded, these must match exactly.
	 */
	assert_int_equal(summer, 2108);
	assert_int_equal(cs(&flat, SLOT(JUN21, 23)), 500);
	assert_int_equal(cs(&flat, SLOT(DEC21, 23)), 246);
	bad = kaga;
	bad.kwp_w = 4000;
	bad.tilt = 20.0;
	bad.azimuth = 135.0;
	bad.pr_permille = 900;
	assert_int_equal(cs(&bad, SLOT(JUN21, 16)), 1400);
	assert_int_equal(cs(&bad, SLOT(JUN21, 36)), 38);

	/* physical bounds over a year, every 5th day, three sites */
	for (d = 0; d < 366; d += 5) {
		day = JUN21 - 172 * 86400LL + d * 86400LL;
		for (k = 0; k < 48; k++) {
			assert_true(cs(&kaga, SLOT(day, k)) <= 5000 / 2);
			assert_true(cs(&flat, SLOT(day, k)) <= 1000 / 2);
			assert_true(cs(&bad, SLOT(day, k)) <= 4000 / 2);
		}
		/* night at 01:00 JST all year; a real day at 11:30 */
		assert_int_equal(cs(&kaga, SLOT(day, 2)), 0);
		assert_true(cs(&kaga, SLOT(day, 23)) > 1000);
	}

	/* no PV */
	bad = kaga;
	bad.kwp_w = 0;
	assert_int_equal(cs(&bad, SLOT(JUN21, 23)), 0);

	/* errors */
	assert_int_equal(kx_strat_clearsky(NULL, &kaga, JUN21),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_clearsky(&wh, NULL, JUN21), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_clearsky(&wh, &kaga, JUN21 + 60),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_clearsky(&wh, &kaga,
	    (uint64_t)KX_STRAT_T_MAX), KX_STRAT_EINVAL);
	bad = kaga;
	bad.pr_permille = 0;
	assert_int_equal(kx_strat_clearsky(&wh, &bad, JUN21), KX_STRAT_EINVAL);
	bad.pr_permille = 1001;
	assert_int_equal(kx_strat_clearsky(&wh, &bad, JUN21), KX_STRAT_EINVAL);
	bad = kaga;
	bad.tilt = -1.0;
	assert_int_equal(kx_strat_clearsky(&wh, &bad, JUN21), KX_STRAT_EINVAL);
	bad.tilt = 90.5;
	assert_int_equal(kx_strat_clearsky(&wh, &bad, JUN21), KX_STRAT_EINVAL);
	bad = kaga;
	bad.azimuth = 361.0;
	assert_int_equal(kx_strat_clearsky(&wh, &bad, JUN21), KX_STRAT_EINVAL);
	bad = kaga;
	bad.lat = NAN;
	assert_int_equal(kx_strat_clearsky(&wh, &bad, JUN21), KX_STRAT_EINVAL);
}

/* ---- trimmed mean -------------------------------------------------- */

static void
t_tmean(void **state)
{
	int64_t		 v[KX_STRAT_DAYS_MAX + 1], m, lo, hi;
	static const int64_t	 a[] = { 5, 1, 4, 2, 3 };
	static const int64_t	 b[] = { 10, 10, 1000000, 10, 10 };
	static const int64_t	 c[] = { 4, 1, 3, 2 };
	static const int64_t	 d[] = { -1, -2 };
	static const int64_t	 e[] = { 7, 0, 9, 8, 100, 7, 8, -50 };
	size_t		 i;

	(void)state;
	assert_int_equal(kx_strat_tmean(&m, &lo, &hi, a, 5, 0), KX_STRAT_OK);
	assert_int_equal(m, 3);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 5);
	/* trim 250 drops one of five at each end: the outlier goes */
	assert_int_equal(kx_strat_tmean(&m, &lo, &hi, b, 5, 250), KX_STRAT_OK);
	assert_int_equal(m, 10);
	assert_int_equal(hi, 10);
	assert_int_equal(kx_strat_tmean(&m, NULL, NULL, b, 5, 0), KX_STRAT_OK);
	assert_int_equal(m, 200008);
	/* 500 is the median: (2 + 3) / 2 = 2.5 rounds up */
	assert_int_equal(kx_strat_tmean(&m, &lo, &hi, c, 4, 500), KX_STRAT_OK);
	assert_int_equal(m, 3);
	assert_int_equal(lo, 2);
	assert_int_equal(hi, 3);
	/* -1.5 rounds half up to -1 */
	assert_int_equal(kx_strat_tmean(&m, NULL, NULL, d, 2, 0), KX_STRAT_OK);
	assert_int_equal(m, -1);
	/* sorted: -50 0 7 7 8 8 9 100; k = 8 * 250 / 1000 = 2: 7 7 8 8 */
	assert_int_equal(kx_strat_tmean(&m, &lo, &hi, e, 8, 250), KX_STRAT_OK);
	assert_int_equal(m, 8);		/* 30 / 4 = 7.5 rounds up */
	assert_int_equal(lo, 7);
	assert_int_equal(hi, 8);
	assert_int_equal(kx_strat_tmean(&m, &lo, &hi, e, 1, 500), KX_STRAT_OK);
	assert_int_equal(m, 7);

	for (i = 0; i <= KX_STRAT_DAYS_MAX; i++)
		v[i] = 1000000000000000LL;
	assert_int_equal(kx_strat_tmean(&m, NULL, NULL, v, KX_STRAT_DAYS_MAX,
	    0), KX_STRAT_OK);
	assert_int_equal(m, 1000000000000000LL);
	assert_int_equal(kx_strat_tmean(&m, NULL, NULL, v,
	    KX_STRAT_DAYS_MAX + 1, 0), KX_STRAT_EINVAL);
	v[3] = 1000000000000001LL;
	assert_int_equal(kx_strat_tmean(&m, NULL, NULL, v, 5, 0),
	    KX_STRAT_EINVAL);
	v[3] = -1000000000000001LL;
	assert_int_equal(kx_strat_tmean(&m, NULL, NULL, v, 5, 0),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_tmean(&m, NULL, NULL, a, 0, 0),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_tmean(&m, NULL, NULL, a, 5, 501),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_tmean(NULL, NULL, NULL, a, 5, 0),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_tmean(&m, NULL, NULL, NULL, 5, 0),
	    KX_STRAT_EINVAL);
}

/* ---- forecast ------------------------------------------------------ */

#define HDAYS	40
static uint64_t	 H_IMP[HDAYS * 48], H_EXP[HDAYS * 48], H_PV[HDAYS * 48];
static uint64_t	 H_LOAD[HDAYS * 48];

static void
hist_fill(uint64_t imp, uint64_t exp_, uint64_t pv, uint64_t load)
{
	size_t	 i;

	for (i = 0; i < HDAYS * 48; i++) {
		H_IMP[i] = imp;
		H_EXP[i] = exp_;
		H_PV[i] = pv;
		H_LOAD[i] = load;
	}
}

static kx_strat_hist_t
hist(size_t n_days, int64_t day0, bool pv, bool load)
{
	kx_strat_hist_t	 h;

	h.imp = H_IMP;
	h.exp = H_EXP;
	h.pv = pv ? H_PV : NULL;
	h.load = load ? H_LOAD : NULL;
	h.n_days = n_days;
	h.day0 = (uint64_t)day0;
	return h;
}

static void
t_forecast_constant(void **state)
{
	kx_strat_fc_t	 fc;
	kx_strat_hist_t	 h;
	kx_strat_site_t	 kaga;
	int64_t		 day0 = JUN21 - 14 * 86400LL;	/* 14 days of June */
	uint64_t	 target = SLOT(JUN21, 40);	/* 20:00 */

	(void)state;
	kx_strat_site_kaga(&kaga, 5000);
	/* grid meter only: imports of 300 Wh every slot */
	hist_fill(300, 0, 0, 0);
	h = hist(10, day0, false, false);
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_OK);
	assert_int_equal(fc.net, -300);
	assert_int_equal(fc.lo, -300);
	assert_int_equal(fc.hi, -300);
	assert_int_equal(fc.pv, 0);
	assert_int_equal(fc.load, 300);
	assert_int_equal(fc.days, 10);
	/* the site changes nothing without PV history */
	assert_int_equal(kx_strat_forecast(&fc, &h, &kaga, NULL, target),
	    KX_STRAT_OK);
	assert_int_equal(fc.net, -300);

	/* pv 800, load 300, exports 500 */
	hist_fill(0, 500, 800, 300);
	h = hist(14, day0, true, true);
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL,
	    SLOT(JUN21, 23)), KX_STRAT_OK);
	assert_int_equal(fc.net, 500);
	assert_int_equal(fc.lo, 500);
	assert_int_equal(fc.hi, 500);
	assert_int_equal(fc.pv, 800);
	assert_int_equal(fc.load, 300);
	/* load derived from the grid meter and pv: the same */
	h = hist(14, day0, true, false);
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL,
	    SLOT(JUN21, 23)), KX_STRAT_OK);
	assert_int_equal(fc.net, 500);
	assert_int_equal(fc.load, 300);
	/* pv derived from load and the grid meter: the same */
	h = hist(14, day0, false, true);
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL,
	    SLOT(JUN21, 23)), KX_STRAT_OK);
	assert_int_equal(fc.net, 500);
	assert_int_equal(fc.pv, 800);

	/*
	 * With the clear-sky model at noon: the clear-sky index of the
	 * history days is 800 / cs(day), the next day's clear sky is within
	 * a few Wh of theirs, so the blend stays within 1% of 800.
	 */
	h = hist(14, day0, true, true);
	assert_int_equal(kx_strat_forecast(&fc, &h, &kaga, NULL,
	    SLOT(JUN21, 23)), KX_STRAT_OK);
	assert_int_equal(fc.pv_cs, 2108);
	assert_in_range(fc.pv, 792, 808);
	assert_int_equal(fc.net, fc.pv - 300);
	assert_int_equal(fc.load, 300);
	/* at night (no sun on any day) the history alone decides */
	hist_fill(300, 0, 0, 300);
	assert_int_equal(kx_strat_forecast(&fc, &h, &kaga, NULL, target),
	    KX_STRAT_OK);
	assert_int_equal(fc.net, -300);
	assert_int_equal(fc.pv, 0);
	assert_int_equal(fc.pv_cs, 0);
}

static void
t_forecast_outliers(void **state)
{
	kx_strat_fc_t	 fc;
	kx_strat_hist_t	 h;
	kx_strat_fcopt_t opt;
	int64_t		 day0 = MAY01;
	size_t		 s = 38;		/* 19:00 */

	(void)state;
	hist_fill(400, 0, 0, 0);
	/* an EV charged one evening, a holiday left the house empty */
	H_IMP[3 * 48 + s] = 50000;
	H_IMP[9 * 48 + s] = 0;
	h = hist(14, day0, false, false);
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL,
	    SLOT(day0 + 14 * 86400LL, s)), KX_STRAT_OK);
	assert_int_equal(fc.net, -400);
	assert_int_equal(fc.lo, -400);
	assert_int_equal(fc.hi, -400);
	/* the plain mean (trim 0) is dragged far off by one day */
	kx_strat_fcopt_default(&opt);
	opt.trim_permille = 0;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, &opt,
	    SLOT(day0 + 14 * 86400LL, s)), KX_STRAT_OK);
	assert_int_equal(fc.net, -(400 * 12 + 50000 + 7) / 14);
	assert_int_equal(fc.lo, -50000);	/* the band spans all days */
	assert_int_equal(fc.hi, 0);

	/* spread: quartile band of varying days, centred on the forecast */
	{
		static const uint64_t v[8] = { 100, 200, 300, 400, 500, 600,
		    700, 800 };
		size_t	 d;

		for (d = 0; d < 8; d++)
			H_IMP[d * 48 + s] = v[d];
		h = hist(8, day0, false, false);
		/* nets -800..-100, k = 2: kept -600..-300, mean -450 */
		assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL,
		    SLOT(day0 + 8 * 86400LL, s)), KX_STRAT_OK);
		assert_int_equal(fc.net, -450);
		assert_int_equal(fc.lo, -600);
		assert_int_equal(fc.hi, -300);
	}

	/* only the last `days` days count */
	hist_fill(400, 0, 0, 0);
	for (s = 0; s < 6 * 48; s++)
		H_IMP[s] = 90000;
	h = hist(20, day0, false, false);
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL,
	    SLOT(day0 + 20 * 86400LL, 5)), KX_STRAT_OK);
	assert_int_equal(fc.net, -400);
	assert_int_equal(fc.days, 14);
	opt.days = 20;
	opt.trim_permille = 0;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, &opt,
	    SLOT(day0 + 20 * 86400LL, 5)), KX_STRAT_OK);
	assert_true(fc.net < -10000);
}

static void
t_forecast_clearsky_index(void **state)
{
	kx_strat_fc_t	 fc;
	kx_strat_hist_t	 h;
	kx_strat_site_t	 kaga;
	kx_strat_fcopt_t opt;
	int64_t		 day0 = FEB01;
	uint64_t	 cst, target;
	size_t		 d, s = 14;		/* 07:00, the sun rises earlier */

	(void)state;
	kx_strat_site_kaga(&kaga, 6000);
	hist_fill(0, 0, 0, 0);
	/* each day exactly half of its clear sky: a thin haze */
	for (d = 0; d < 30; d++) {
		H_PV[d * 48 + s] = cs(&kaga, SLOT(day0 + (int64_t)d * 86400,
		    s)) / 2;
		H_LOAD[d * 48 + s] = 100;
	}
	h = hist(30, day0, true, true);
	target = SLOT(day0 + 45 * 86400LL, s);	/* March 17 */
	cst = cs(&kaga, target);
	assert_true(cst > H_PV[29 * 48 + s] * 2 + 50);	/* days got longer */
	kx_strat_fcopt_default(&opt);
	opt.cs_permille = 1000;
	assert_int_equal(kx_strat_forecast(&fc, &h, &kaga, &opt, target),
	    KX_STRAT_OK);
	assert_int_equal(fc.pv_cs, cst);
	assert_in_range(fc.pv, (int64_t)cst / 2 - 1, (int64_t)cst / 2 + 1);
	assert_int_equal(fc.net, fc.pv - 100);
	/* history alone lags behind the season */
	opt.cs_permille = 0;
	assert_int_equal(kx_strat_forecast(&fc, &h, &kaga, &opt, target),
	    KX_STRAT_OK);
	assert_true(fc.pv + 25 < (int64_t)cst / 2);
	/* the default blends three quarters of one with a quarter of the other */
	{
		int64_t	 hist_pv = fc.pv, csi_pv;

		opt.cs_permille = 1000;
		assert_int_equal(kx_strat_forecast(&fc, &h, &kaga, &opt,
		    target), KX_STRAT_OK);
		csi_pv = fc.pv;
		assert_int_equal(kx_strat_forecast(&fc, &h, &kaga, NULL,
		    target), KX_STRAT_OK);
		assert_in_range(fc.pv, (3 * csi_pv + hist_pv) / 4 - 1,
		    (3 * csi_pv + hist_pv) / 4 + 1);
	}
	/* a clear-sky index above 1.5 is capped */
	for (d = 0; d < 30; d++)
		H_PV[d * 48 + s] = 5 * cs(&kaga, SLOT(day0 +
		    (int64_t)d * 86400, s));
	opt.cs_permille = 1000;
	assert_int_equal(kx_strat_forecast(&fc, &h, &kaga, &opt, target),
	    KX_STRAT_OK);
	assert_in_range(fc.pv, (int64_t)(cst * 3 / 2) - 1,
	    (int64_t)(cst * 3 / 2) + 1);
}

static void
t_forecast_errors(void **state)
{
	kx_strat_fc_t	 fc;
	kx_strat_hist_t	 h;
	kx_strat_site_t	 kaga;
	kx_strat_fcopt_t opt;
	int64_t		 day0 = MAY01;
	uint64_t	 target = SLOT(MAY01 + 3 * 86400LL, 20);
	size_t		 s = 20;

	(void)state;
	kx_strat_site_kaga(&kaga, 3000);
	hist_fill(100, 0, 0, 0);
	/* a day with a missing value is skipped */
	H_IMP[1 * 48 + s] = KX_STRAT_NA;
	H_IMP[2 * 48 + s] = 700;
	h = hist(3, day0, false, false);
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_OK);
	assert_int_equal(fc.days, 2);
	assert_int_equal(fc.net, -400);		/* (100 + 700) / 2 */
	H_PV[2 * 48 + s] = KX_STRAT_NA;		/* pv used: day 2 goes too */
	h = hist(3, day0, true, false);
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_OK);
	assert_int_equal(fc.days, 1);
	assert_int_equal(fc.net, -100);
	/* nothing left: no data */
	H_EXP[0 * 48 + s] = KX_STRAT_NA;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_ENODATA);
	h = hist(0, day0, false, false);
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_ENODATA);

	hist_fill(100, 0, 0, 0);
	h = hist(3, day0, false, false);
	assert_int_equal(kx_strat_forecast(NULL, &h, NULL, NULL, target),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_forecast(&fc, NULL, NULL, NULL, target),
	    KX_STRAT_EINVAL);
	h.imp = NULL;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_EINVAL);
	h = hist(3, day0, false, false);
	h.exp = NULL;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_EINVAL);
	h = hist(3, day0 + 3600, false, false);	/* not a JST midnight */
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_EINVAL);
	h = hist(3, day0, false, false);
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target + 1),
	    KX_STRAT_EINVAL);
	h.n_days = (size_t)(KX_STRAT_T_MAX / 86400);	/* past T_MAX */
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_EINVAL);
	h = hist(3, day0, false, false);
	kx_strat_fcopt_default(&opt);
	opt.days = 0;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, &opt, target),
	    KX_STRAT_EINVAL);
	opt.days = KX_STRAT_DAYS_MAX + 1;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, &opt, target),
	    KX_STRAT_EINVAL);
	kx_strat_fcopt_default(&opt);
	opt.trim_permille = 501;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, &opt, target),
	    KX_STRAT_EINVAL);
	kx_strat_fcopt_default(&opt);
	opt.cs_permille = 1001;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, &opt, target),
	    KX_STRAT_EINVAL);
	kaga.pr_permille = 0;
	assert_int_equal(kx_strat_forecast(&fc, &h, &kaga, NULL, target),
	    KX_STRAT_EINVAL);
	/* a value past KX_STRAT_WH_MAX that is not KX_STRAT_NA */
	H_IMP[2 * 48 + s] = (uint64_t)KX_STRAT_WH_MAX + 1;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_EINVAL);
	H_IMP[2 * 48 + s] = (uint64_t)KX_STRAT_WH_MAX;
	assert_int_equal(kx_strat_forecast(&fc, &h, NULL, NULL, target),
	    KX_STRAT_OK);
	assert_int_equal(kx_strat_strerror(KX_STRAT_ENODATA)[0], 's');
	assert_string_equal(kx_strat_strerror(KX_STRAT_OK), "ok");
	assert_string_equal(kx_strat_strerror(-1), "strategy: unknown error");
}

/* ---- orders -------------------------------------------------------- */

static kx_strat_fc_t
fcast(int64_t net, int64_t lo, int64_t hi)
{
	kx_strat_fc_t	 fc;

	memset(&fc, 0, sizeof(fc));
	fc.net = net;
	fc.lo = lo;
	fc.hi = hi;
	return fc;
}

static kx_strat_owner_t
owner(uint32_t sell_min, uint32_t buy_max)
{
	kx_strat_owner_t o;

	memset(&o, 0, sizeof(o));
	o.sell_min = sell_min;
	o.buy_max = buy_max;
	o.cap_wh = 10000;
	o.eff_permille = 900;
	return o;
}

static void
order_is(const kx_order_t *o, int side, uint32_t n, const uint64_t *wh,
    const uint32_t *price)
{
	uint32_t	 k;
	int		 step;

	assert_int_equal(o->side, side);
	assert_int_equal(o->n, n);
	for (k = 0; k < n; k++) {
		if (o->wh[k] != wh[k] || o->price[k] != price[k])
			fail_msg("step %u: %" PRIu64 " @ %u, want %" PRIu64
			    " @ %u", k, o->wh[k], o->price[k], wh[k],
			    price[k]);
	}
	assert_int_equal(kx_order_check(o, &step), KX_MKT_OK);
}

static void
t_order_hand(void **state)
{
	kx_order_t	 o;
	kx_params_t	 p;
	kx_strat_fc_t	 fc;
	kx_strat_owner_t own = owner(1000, 2500);

	(void)state;
	kx_params_default(&p);		/* floor 800, ceiling 3100, fee 500 */
	memset(&o, 0, sizeof(o));
	memset(o.id, 0xab, sizeof(o.id));

	/*
	 * Sell: net 1000, lo 600, hi 1400, 4 steps. lim = max(1000, 800) =
	 * 1000, far = 3100. 600 Wh certain at 1000; [600, 1400] in three
	 * chunks 600-866, 866-1133, 1133-1400 with doubled middles 1466,
	 * 1999, 2533 on the axis a = 1200, m = 2000, b = 2800:
	 *   doubt 500 * 266 / 800 = 166       -> 1000 + ceil(166 * 2.1) = 1349
	 *   doubt 500 * 799 / 800 = 499       -> 1000 + ceil(1047.9)   = 2048
	 *   doubt 500 + 500 * 533 / 800 = 833 -> 1000 + ceil(1749.3)   = 2750
	 */
	fc = fcast(1000, 600, 1400);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4), KX_STRAT_OK);
	{
		static const uint64_t	 wh[] = { 600, 266, 267, 267 };
		static const uint32_t	 pr[] = { 1000, 1349, 2048, 2750 };

		order_is(&o, KX_SELL, 4, wh, pr);
	}
	assert_int_equal(o.id[0], 0xab);	/* id untouched */

	/*
	 * Buy: net -800, lo -1200, hi -500, 3 steps. lim = min(2500, 3100),
	 * far = 800; 500 Wh certain at 2500, then 500-850 (middle 1350 on
	 * a = 1000, m = 1600, b = 2400) and 850-1200 (middle 2050):
	 *   doubt 500 * 350 / 600 = 291       -> 2500 - ceil(291 * 1.7) = 2005
	 *   doubt 500 + 500 * 450 / 800 = 781 -> 2500 - ceil(1327.7)   = 1172
	 */
	fc = fcast(-800, -1200, -500);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 3), KX_STRAT_OK);
	{
		static const uint64_t	 wh[] = { 500, 350, 350 };
		static const uint32_t	 pr[] = { 2500, 2005, 1172 };

		order_is(&o, KX_BUY, 3, wh, pr);
	}

	/* a battery charging 1500 Wh turns the surplus of 1000 into a buy:
	 * net -500, lo -900, hi -100: 100 certain, 800 more in one step
	 * (middle 1000 on a = 200, m = 1000, b = 1800: doubt 500) */
	fc = fcast(1000, 600, 1400);
	assert_int_equal(kx_strat_order(&o, &fc, 1500, &own, &p, 2),
	    KX_STRAT_OK);
	{
		static const uint64_t	 wh[] = { 100, 800 };
		static const uint32_t	 pr[] = { 2500, 1650 };

		order_is(&o, KX_BUY, 2, wh, pr);
	}
	/* charging exactly the surplus: nothing to trade */
	assert_int_equal(kx_strat_order(&o, &fc, 1000, &own, &p, 4),
	    KX_STRAT_OK);
	assert_int_equal(o.n, 0);
	/* discharging 500 adds a certain 500 */
	assert_int_equal(kx_strat_order(&o, &fc, -500, &own, &p, 1),
	    KX_STRAT_OK);
	{
		static const uint64_t	 wh[] = { 1100 };
		static const uint32_t	 pr[] = { 1000 };

		order_is(&o, KX_SELL, 1, wh, pr);
	}

	/* a certain forecast is one step at the owner's limit */
	fc = fcast(700, 700, 700);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 16),
	    KX_STRAT_OK);
	{
		static const uint64_t	 wh[] = { 700 };
		static const uint32_t	 pr[] = { 1000 };

		order_is(&o, KX_SELL, 1, wh, pr);
	}
	/* nothing certain, one step: [0, 700], middle 700 on a = -200,
	 * m = 600, b = 1400: doubt 500 + 500 * 100 / 800 = 562 ->
	 * 1000 + ceil(562 * 2.1 = 1180.2) = 2181 */
	fc = fcast(300, -100, 700);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 1),
	    KX_STRAT_OK);
	{
		static const uint64_t	 wh[] = { 700 };
		static const uint32_t	 pr[] = { 2181 };

		order_is(&o, KX_SELL, 1, wh, pr);
	}
	/*
	 * Prices that would repeat are merged: lim 3090, ceiling 3100,
	 * nothing certain, 16 chunks of 125 Wh with doubled middles
	 * 125, 375, ... on a = 0, m = 2000, b = 4000; doubt 31, 93, 156,
	 * 218, ... gives 3090 + ceil(doubt / 100): 3091, 3091, 3092, 3093,
	 * 3093, ... and the equal neighbours become one step.
	 */
	fc = fcast(1000, 0, 2000);
	own.sell_min = 3090;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 16),
	    KX_STRAT_OK);
	{
		static const uint64_t	 wh[] = { 250, 125, 250, 125, 250,
		    250, 125, 250, 125, 250 };
		static const uint32_t	 pr[] = { 3091, 3092, 3093, 3094,
		    3095, 3096, 3097, 3098, 3099, 3100 };

		order_is(&o, KX_SELL, 10, wh, pr);
	}
	/* ceiling - lim = 1: every uncertain chunk at 3100, one step */
	own.sell_min = 3099;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 16),
	    KX_STRAT_OK);
	{
		static const uint64_t	 wh[] = { 2000 };
		static const uint32_t	 pr[] = { 3100 };

		order_is(&o, KX_SELL, 1, wh, pr);
	}

	/* limits: below the floor sells at the floor, above the ceiling
	 * never clears, so no order; the same for buys */
	fc = fcast(500, 500, 500);
	own.sell_min = 100;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4), KX_STRAT_OK);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.price[0], 800);
	own.sell_min = 3101;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4), KX_STRAT_OK);
	assert_int_equal(o.n, 0);
	fc = fcast(-500, -500, -500);
	own.buy_max = 900000;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4), KX_STRAT_OK);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.price[0], 3100);
	own.buy_max = 799;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4), KX_STRAT_OK);
	assert_int_equal(o.n, 0);
	assert_int_equal(o.side, KX_BUY);	/* the side is still told */
	fc = fcast(0, -100, 100);
	own.buy_max = 2500;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4), KX_STRAT_OK);
	assert_int_equal(o.n, 0);

	/* a huge surplus: steps are capped at KX_WH_STEP_MAX */
	fc = fcast(KX_STRAT_NET_MAX, KX_STRAT_NET_MAX, KX_STRAT_NET_MAX);
	own.sell_min = 1000;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4), KX_STRAT_OK);
	{
		static const uint64_t	 wh[] = { KX_WH_STEP_MAX };
		static const uint32_t	 pr[] = { 1000 };

		order_is(&o, KX_SELL, 1, wh, pr);
	}
}

static void
t_order_random(void **state)
{
	kx_order_t	 o;
	kx_params_t	 p;
	kx_strat_fc_t	 fc;
	kx_strat_owner_t own;
	int64_t		 batt, net, lo, hi, lim, a, b, sum;
	uint32_t	 k, nsteps;
	int		 i, step, sells = 0, buys = 0;

	(void)state;
	for (i = 0; i < 20000; i++) {
		kx_params_default(&p);
		p.floor = (uint32_t)rnd_in(0, 5000);
		p.ceiling = (uint32_t)rnd_in(p.floor, 8000);
		own = owner((uint32_t)rnd_in(0, 9000),
		    (uint32_t)rnd_in(0, 9000));
		if (i % 50 == 0) {	/* the whole range */
			net = rnd_in(-KX_STRAT_NET_MAX / 2,
			    KX_STRAT_NET_MAX / 2);
			lo = net - rnd_in(0, KX_STRAT_NET_MAX / 2);
			hi = net + rnd_in(0, KX_STRAT_NET_MAX / 2);
			batt = rnd_in(-KX_STRAT_NET_MAX, KX_STRAT_NET_MAX);
		} else {
			net = rnd_in(-5000, 5000);
			lo = net - rnd_in(0, 3000);
			hi = net + rnd_in(0, 3000);
			batt = rnd() % 3 ? 0 : rnd_in(-3000, 3000);
		}
		nsteps = (uint32_t)rnd_in(1, KX_STEPS_MAX);
		fc = fcast(net, lo, hi);
		memset(&o, 0x55, sizeof(o));
		assert_int_equal(kx_strat_order(&o, &fc, batt, &own, &p,
		    nsteps), KX_STRAT_OK);
		net -= batt;
		if (o.n == 0) {
			/* only when there is nothing sensible to offer */
			assert_true(net == 0 ||
			    (net > 0 && own.sell_min > p.ceiling) ||
			    (net < 0 && own.buy_max < p.floor));
			continue;
		}
		assert_int_equal(kx_order_check(&o, &step), KX_MKT_OK);
		assert_true(o.n <= nsteps);
		sum = 0;
		for (k = 0; k < o.n; k++)
			sum += (int64_t)o.wh[k];
		if (net > 0) {
			sells++;
			assert_int_equal(o.side, KX_SELL);
			lim = own.sell_min > p.floor ? own.sell_min : p.floor;
			a = lo - batt;
			b = hi - batt;
			for (k = 0; k < o.n; k++) {
				assert_true(o.price[k] >= own.sell_min);
				assert_true(o.price[k] >= p.floor);
				assert_true(o.price[k] <= p.ceiling);
			}
		} else {
			buys++;
			assert_int_equal(o.side, KX_BUY);
			lim = own.buy_max < p.ceiling ? own.buy_max : p.ceiling;
			a = batt - hi;
			b = batt - lo;
			for (k = 0; k < o.n; k++) {
				assert_true(o.price[k] <= own.buy_max);
				assert_true(o.price[k] <= p.ceiling);
				assert_true(o.price[k] >= p.floor);
			}
		}
		/* the certain volume is offered first, at the limit */
		if (a > 0 && nsteps > 1) {
			assert_int_equal(o.price[0], lim);
			assert_true((int64_t)o.wh[0] >= (a < KX_WH_STEP_MAX ?
			    a : KX_WH_STEP_MAX));
		}
		/* all of the high estimate, unless steps were capped */
		if (b <= KX_WH_STEP_MAX && (a <= 0 || nsteps > 1))
			assert_int_equal(sum, b);
		else
			assert_true(sum <= b);
	}
	assert_true(sells > 5000 && buys > 5000);
}

static void
t_order_errors(void **state)
{
	kx_order_t	 o;
	kx_params_t	 p;
	kx_strat_fc_t	 fc = fcast(100, 50, 150);
	kx_strat_owner_t own = owner(1000, 2000);

	(void)state;
	kx_params_default(&p);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4), KX_STRAT_OK);
	assert_int_equal(kx_strat_order(NULL, &fc, 0, &own, &p, 4),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_order(&o, NULL, 0, &own, &p, 4),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_order(&o, &fc, 0, NULL, &p, 4),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, NULL, 4),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 0),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 17),
	    KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_order(&o, &fc, KX_STRAT_NET_MAX + 1, &own,
	    &p, 4), KX_STRAT_EINVAL);
	p.floor = 3200;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4),
	    KX_STRAT_EINVAL);
	kx_params_default(&p);
	p.ceiling = KX_PRICE_MAX + 1;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4),
	    KX_STRAT_EINVAL);
	kx_params_default(&p);
	own.sell_min = KX_PRICE_MAX + 1;
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4),
	    KX_STRAT_EINVAL);
	own = owner(1000, KX_PRICE_MAX + 1);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4),
	    KX_STRAT_EINVAL);
	own = owner(1000, 2000);
	fc = fcast(100, 101, 150);		/* lo > net */
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4),
	    KX_STRAT_EINVAL);
	fc = fcast(100, 50, 99);		/* hi < net */
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4),
	    KX_STRAT_EINVAL);
	fc = fcast(100, -KX_STRAT_NET_MAX - 1, 150);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4),
	    KX_STRAT_EINVAL);
	fc = fcast(100, 50, KX_STRAT_NET_MAX + 1);
	assert_int_equal(kx_strat_order(&o, &fc, 0, &own, &p, 4),
	    KX_STRAT_EINVAL);
}

/* ---- battery ------------------------------------------------------- */

static kx_strat_owner_t
battery(uint64_t cap, uint64_t reserve, uint32_t cw, uint32_t dw,
    uint32_t eff)
{
	kx_strat_owner_t o = owner(0, 0);

	o.cap_wh = cap;
	o.reserve_wh = reserve;
	o.charge_w = cw;
	o.discharge_w = dw;
	o.eff_permille = eff;
	return o;
}

static void
plan_is(const int64_t *plan, const int64_t *want, size_t n)
{
	size_t	 t;

	for (t = 0; t < n; t++)
		if (plan[t] != want[t])
			fail_msg("slot %zu: %" PRId64 " Wh, want %" PRId64, t,
			    plan[t], want[t]);
}

static void
t_battery_hand(void **state)
{
	kx_params_t	 p;
	kx_strat_owner_t own;
	int64_t		 plan[8], gain;
	uint64_t	 soc[9];

	(void)state;
	kx_params_default(&p);		/* fee 500 */
	/*
	 * Six slots: a sunny morning with 500 Wh surplus each, an evening
	 * with 300 Wh deficit each. 1000 Wh battery, 200 kept, 1000 W both
	 * ways (500 Wh a slot), 80% round trip, empty to the reserve.
	 *
	 * Charging stores 400 Wh from 500 (the most a slot can take); per
	 * stored Wh it costs 1200/0.8 = 1500 (slot 0), 1000 (slot 1), 1250
	 * (slot 2). Discharging into the deficit saves price + fee: 3100,
	 * 3500, 2000 for the first 300 Wh of slots 3, 4, 5, then sells at
	 * 2600, 3000, 1500. Room for 800 Wh: store it in the two cheapest
	 * slots (1, 2) and spend it in the three dearest uses: 300 at 3500
	 * and 200 at 3000 in slot 4 (500 Wh, its limit), 300 at 3100 in
	 * slot 3. Money: -500*800 - 500*1000 + 300*3100 + 300*3500 +
	 * 200*3000 = 1,680,000 milli-sen (16.8 yen).
	 */
	{
		static const uint32_t	 price[] = { 1200, 800, 1000, 2600,
		    3000, 1500 };
		static const int64_t	 net[] = { 500, 500, 500, -300, -300,
		    -300 };
		static const int64_t	 want[] = { 0, 500, 500, -300, -500,
		    0 };
		static const uint64_t	 want_soc[] = { 200, 200, 600, 1000,
		    700, 200, 200 };
		size_t	 t;

		own = battery(1000, 200, 1000, 1000, 800);
		assert_int_equal(kx_strat_battery(plan, soc, &gain, price, net,
		    6, 200, 0, &own, &p), KX_STRAT_OK);
		plan_is(plan, want, 6);
		for (t = 0; t <= 6; t++)
			assert_int_equal(soc[t], want_soc[t]);
		assert_int_equal(gain, 1680000);
	}

	/*
	 * Two cycles in a day: prices 1000, 5000, 2000, 10000, surplus 100
	 * in slots 0 and 2, a 100 Wh battery. Greedy pairing alone takes
	 * 0 -> 3 (9000 a kWh) and is stuck; the optimum refills after slot
	 * 1: charge 0, sell 1, charge 2, sell 3 = 12000 a kWh.
	 */
	{
		static const uint32_t	 price[] = { 1000, 5000, 2000, 10000 };
		static const int64_t	 net[] = { 100, 0, 100, 0 };
		static const int64_t	 want[] = { 100, -100, 100, -100 };

		own = battery(100, 0, 200, 200, 1000);
		assert_int_equal(kx_strat_battery(plan, soc, &gain, price, net,
		    4, 0, 0, &own, &p), KX_STRAT_OK);
		plan_is(plan, want, 4);
		assert_int_equal(gain, 1200000);
		assert_int_equal(soc[4], 0);
	}

	/*
	 * A full battery, nothing to charge from, energy worth `keep` at
	 * the end: 800 Wh above the reserve, 500 Wh a slot. keep 1500:
	 * sell 500 at 3000 (slot 0) and 300 at 2000 (slot 3);
	 * 1,500,000 + 600,000 - 800 * 1500 = 900,000. keep 2500: only
	 * slot 0; 1,500,000 - 500 * 2500 = 250,000.
	 */
	{
		static const uint32_t	 price[] = { 3000, 1000, 1000, 2000 };
		static const int64_t	 want1[] = { -500, 0, 0, -300 };
		static const int64_t	 want2[] = { -500, 0, 0, 0 };

		own = battery(1000, 200, 1000, 1000, 900);
		assert_int_equal(kx_strat_battery(plan, soc, &gain, price,
		    NULL, 4, 1000, 1500, &own, &p), KX_STRAT_OK);
		plan_is(plan, want1, 4);
		assert_int_equal(gain, 900000);
		assert_int_equal(soc[4], 200);
		assert_int_equal(kx_strat_battery(plan, NULL, &gain, price,
		    NULL, 4, 1000, 2500, &own, &p), KX_STRAT_OK);
		plan_is(plan, want2, 4);
		assert_int_equal(gain, 250000);
		/*
		 * keep 0 and grid charging allowed: the 800 Wh go to slot 0
		 * (500) and slot 3 (300); buying at 1000 + 500 in slot 1 is
		 * 1500 / 0.9 = 1667 a stored kWh, below slot 3's 2000, so
		 * slot 1 buys ceil(200 / 0.9) = 223 Wh to fill slot 3's
		 * remaining 200: 1,500,000 + 1,000,000 - 223 * 1500.
		 */
		own.grid_charge = true;
		assert_int_equal(kx_strat_battery(plan, soc, &gain, price,
		    NULL, 4, 1000, 0, &own, &p), KX_STRAT_OK);
		{
			static const int64_t want3[] = { -500, 223, 0, -500 };

			plan_is(plan, want3, 4);
		}
		assert_int_equal(soc[2], 700);
		assert_int_equal(soc[4], 200);
		assert_int_equal(gain, 2165500);
	}

	/* below the reserve at the start: never lower than the start */
	{
		static const uint32_t	 price[] = { 3000, 3000, 3000 };

		own = battery(1000, 500, 1000, 1000, 1000);
		assert_int_equal(kx_strat_battery(plan, soc, &gain, price,
		    NULL, 3, 300, 0, &own, &p), KX_STRAT_OK);
		assert_int_equal(plan[0], 0);
		assert_int_equal(plan[1], 0);
		assert_int_equal(plan[2], 0);
		assert_int_equal(gain, 0);
	}
}

/*
 * The planner's objective, in stored Wh scaled by eff (strategy.c): an
 * independent statement of the model for the dynamic program below.
 */
typedef struct {
	size_t		 n;
	int64_t		 p[24], net[24];
	int64_t		 fee, eff, keep, cap, low, soc0, smax, dmax;
	bool		 grid;
} bday_t;

static int64_t
b1_of(const bday_t *B, size_t t)
{
	int64_t	 s = B->net[t] > 0 ? B->net[t] * B->eff / 1000 : 0;

	return s < B->smax ? s : B->smax;
}

static int64_t
d1_of(const bday_t *B, size_t t)
{
	int64_t	 d = B->net[t] < 0 ? -B->net[t] : 0;

	return d < B->dmax ? d : B->dmax;
}

/* Scaled value of storing st (>= 0) or discharging dis (>= 0) in slot t. */
static int64_t
act_value(const bday_t *B, size_t t, int64_t st, int64_t dis)
{
	int64_t	 b1 = b1_of(B, t), d1 = d1_of(B, t), x;

	if (st > 0) {
		x = st < b1 ? st : b1;
		return -(B->p[t] * 1000 * x +
		    (B->p[t] + B->fee) * 1000 * (st - x));
	}
	x = dis < d1 ? dis : d1;
	return (B->p[t] + B->fee) * B->eff * x + B->p[t] * B->eff * (dis - x);
}

/* Best scaled objective over every integer plan (exhaustive DP). */
static int64_t
dp_best(const bday_t *B)
{
	int64_t	 V[2][64], v, best, c, a, top;
	size_t	 t;
	int	 cur = 0;

	for (v = B->low; v <= B->cap; v++)
		V[cur][v] = B->keep * B->eff * (v - B->soc0);
	for (t = B->n; t-- > 0;) {
		int nx = cur;

		cur ^= 1;
		top = B->grid ? B->smax : b1_of(B, t);
		for (v = B->low; v <= B->cap; v++) {
			best = INT64_MIN;
			for (a = 0; a <= top && v + a <= B->cap; a++) {
				c = act_value(B, t, a, 0) + V[nx][v + a];
				if (c > best)
					best = c;
			}
			for (a = 1; a <= B->dmax && v - a >= B->low; a++) {
				c = act_value(B, t, 0, a) + V[nx][v - a];
				if (c > best)
					best = c;
			}
			V[cur][v] = best;
		}
	}
	return V[cur][B->soc0];
}

static void
t_battery_optimal(void **state)
{
	static const uint32_t	 effs[] = { 1000, 900, 750, 500, 333, 1 };
	kx_params_t	 p;
	kx_strat_owner_t own;
	bday_t		 B;
	uint32_t	 price[24];
	int64_t		 plan[24], obj, best, gain, g2, st, dis;
	uint64_t	 soc[25], reserve, soc0;
	size_t		 t;
	int		 i, moved = 0;

	(void)state;
	for (i = 0; i < 600; i++) {
		memset(&B, 0, sizeof(B));
		kx_params_default(&p);
		p.fee = (uint32_t)rnd_in(0, 1000);
		B.n = (size_t)rnd_in(1, 24);
		B.cap = rnd_in(1, 60);
		reserve = (uint64_t)rnd_in(0, B.cap);
		soc0 = (uint64_t)rnd_in(0, B.cap);
		own = battery((uint64_t)B.cap, reserve,
		    (uint32_t)rnd_in(0, 60), (uint32_t)rnd_in(0, 60),
		    i % 3 ? effs[rnd() % NELEM(effs)] :
		    (uint32_t)rnd_in(1, 1000));
		own.grid_charge = rnd() % 2;
		B.keep = rnd() % 3 ? 0 : rnd_in(0, 5000);
		for (t = 0; t < B.n; t++) {
			price[t] = (uint32_t)rnd_in(0, 5000);
			B.p[t] = price[t];
			B.net[t] = rnd_in(-40, 40);
		}
		B.fee = p.fee;
		B.eff = own.eff_permille;
		B.soc0 = (int64_t)soc0;
		B.low = (int64_t)(soc0 < reserve ? soc0 : reserve);
		B.smax = (int64_t)(own.charge_w / 2) * B.eff / 1000;
		B.dmax = own.discharge_w / 2;
		B.grid = own.grid_charge;

		assert_int_equal(kx_strat_battery(plan, soc, &gain, price,
		    B.net, B.n, soc0, (uint32_t)B.keep, &own, &p),
		    KX_STRAT_OK);
		assert_int_equal(soc[0], soc0);
		obj = B.keep * B.eff * ((int64_t)soc[B.n] - B.soc0);
		g2 = (int64_t)B.keep * ((int64_t)soc[B.n] - B.soc0);
		for (t = 0; t < B.n; t++) {
			/* limits */
			assert_true(soc[t + 1] <= (uint64_t)B.cap);
			assert_true((int64_t)soc[t + 1] >= B.low);
			if (soc0 >= reserve)
				assert_true(soc[t + 1] >= reserve);
			assert_true(plan[t] <= (int64_t)(own.charge_w / 2));
			assert_true(-plan[t] <= (int64_t)(own.discharge_w / 2));
			/* grid Wh and stored Wh agree with the SoC */
			st = plan[t] > 0 ? plan[t] * B.eff / 1000 : 0;
			dis = plan[t] < 0 ? -plan[t] : 0;
			assert_int_equal((int64_t)soc[t + 1],
			    (int64_t)soc[t] + st - dis);
			/* no grid charging unless allowed */
			if (!B.grid && plan[t] > 0)
				assert_true(plan[t] <= B.net[t]);
			obj += act_value(&B, t, st, dis);
			/* gain in milli-sen, recomputed */
			if (plan[t] > 0) {
				int64_t u = plan[t] < B.net[t] ? plan[t] :
				    B.net[t];

				if (u < 0)
					u = 0;
				g2 -= u * B.p[t] + (plan[t] - u) *
				    (B.p[t] + B.fee);
			} else if (plan[t] < 0) {
				int64_t d = dis < -B.net[t] ? dis : -B.net[t];

				if (d < 0)
					d = 0;
				g2 += d * (B.p[t] + B.fee) + (dis - d) * B.p[t];
			}
			moved += plan[t] != 0;
		}
		assert_int_equal(gain, g2);
		best = dp_best(&B);
		if (obj != best)
			fail_msg("day %d: plan's objective %" PRId64 " < the "
			    "optimum %" PRId64, i, obj, best);
	}
	assert_true(moved > 1000);	/* the days do use the battery */
}

static void
t_battery_errors(void **state)
{
	kx_params_t	 p;
	kx_strat_owner_t own = battery(1000, 100, 1000, 1000, 900);
	uint32_t	 price[KX_STRAT_PLAN_MAX + 1];
	int64_t		 plan[KX_STRAT_PLAN_MAX + 1], net[2] = { 0, 0 };
	size_t		 t;

	(void)state;
	kx_params_default(&p);
	for (t = 0; t <= KX_STRAT_PLAN_MAX; t++)
		price[t] = 1000 + (uint32_t)(t % 7) * 300;
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL,
	    KX_STRAT_PLAN_MAX, 500, 0, &own, &p), KX_STRAT_OK);
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL,
	    KX_STRAT_PLAN_MAX + 1, 500, 0, &own, &p), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 0,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_battery(NULL, NULL, NULL, price, NULL, 2,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, NULL, NULL, 2,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    500, 0, NULL, &p), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    500, 0, &own, NULL), KX_STRAT_EINVAL);
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    1001, 0, &own, &p), KX_STRAT_EINVAL);		/* soc > cap */
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    500, KX_PRICE_MAX + 1, &own, &p), KX_STRAT_EINVAL);
	own.cap_wh = 0;						/* no battery */
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    0, 0, &own, &p), KX_STRAT_EINVAL);
	own.cap_wh = KX_STRAT_CAP_MAX + 1;
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    0, 0, &own, &p), KX_STRAT_EINVAL);
	own = battery(1000, 1001, 1000, 1000, 900);		/* reserve */
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	own = battery(1000, 100, 1000, 1000, 0);
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	own.eff_permille = 1001;
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	own.eff_permille = 900;
	price[1] = KX_PRICE_MAX + 1;
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	price[1] = 1000;
	net[1] = KX_STRAT_WH_MAX + 1;
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, net, 2,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	net[1] = -KX_STRAT_WH_MAX - 1;
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, net, 2,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	net[1] = 0;
	p.fee = p.ceiling;
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, net, 2,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	kx_params_default(&p);
	p.floor = p.ceiling + 1;
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, net, 2,
	    500, 0, &own, &p), KX_STRAT_EINVAL);
	/* no power: nothing moves */
	kx_params_default(&p);
	own = battery(1000, 0, 0, 0, 900);
	assert_int_equal(kx_strat_battery(plan, NULL, NULL, price, NULL, 2,
	    500, 0, &own, &p), KX_STRAT_OK);
	assert_int_equal(plan[0], 0);
	assert_int_equal(plan[1], 0);
}

/* ---- a whole day --------------------------------------------------- */

/*
 * A household at Kaga in June: 5 kWp, 300 Wh a half hour day and night,
 * 600 from 18:00 to 22:00, PV at 70% of clear sky. Forecast every slot,
 * plan a 10 kWh battery against an evening price peak, place an order
 * for every slot: each passes kx_order_check and the owner's limits,
 * the battery fills around noon and empties into the evening peak.
 */
static void
t_day(void **state)
{
	kx_strat_site_t	 kaga;
	kx_strat_hist_t	 h;
	kx_strat_fc_t	 fc[48];
	kx_strat_owner_t own;
	kx_params_t	 p;
	kx_order_t	 o;
	uint32_t	 price[48];
	int64_t		 net[48], plan[48], gain, day0 = JUN21 - 14 * 86400LL;
	uint64_t	 soc[49], wh, charged = 0, evening = 0;
	size_t		 d, k;
	int		 step;

	(void)state;
	kx_strat_site_kaga(&kaga, 5000);
	kx_params_default(&p);
	for (d = 0; d < 14; d++)
		for (k = 0; k < 48; k++) {
			size_t	 i = d * 48 + k;
			uint64_t load = k >= 36 && k < 44 ? 600 : 300;

			wh = cs(&kaga, SLOT(day0 + (int64_t)d * 86400, k));
			H_PV[i] = wh * 7 / 10 + (d % 3) * 10;
			H_LOAD[i] = load + (d % 4) * 20;
			H_IMP[i] = H_LOAD[i] > H_PV[i] ? H_LOAD[i] - H_PV[i] : 0;
			H_EXP[i] = H_PV[i] > H_LOAD[i] ? H_PV[i] - H_LOAD[i] : 0;
		}
	h = hist(14, day0, true, true);
	for (k = 0; k < 48; k++) {
		assert_int_equal(kx_strat_forecast(&fc[k], &h, &kaga, NULL,
		    SLOT(JUN21, k)), KX_STRAT_OK);
		net[k] = fc[k].net;
		/* recent prices: cheap at noon, a peak 18:00-21:00 */
		price[k] = k >= 36 && k < 42 ? 2800 : k >= 18 && k < 30 ?
		    900 : 1600;
	}
	assert_true(net[23] > 1000);		/* noon surplus */
	assert_true(net[2] < 0);		/* night deficit */
	own = battery(10000, 1000, 3000, 3000, 900);
	own.sell_min = 1000;
	own.buy_max = 2900;
	assert_int_equal(kx_strat_battery(plan, soc, &gain, price, net, 48,
	    1000, 0, &own, &p), KX_STRAT_OK);
	assert_true(gain > 0);
	for (k = 0; k < 48; k++) {
		if (plan[k] > 0) {
			assert_true(k >= 18 && k < 30);	/* cheap surplus */
			charged += (uint64_t)plan[k];
		}
		if (plan[k] < 0)
			assert_true(k >= 36 && k < 42);	/* the peak */
		if (k >= 36 && k < 42)
			evening += (uint64_t)(plan[k] < 0 ? -plan[k] : 0);
		assert_int_equal(kx_strat_order(&o, &fc[k], plan[k], &own, &p,
		    8), KX_STRAT_OK);
		if (o.n == 0)
			continue;
		assert_int_equal(kx_order_check(&o, &step), KX_MKT_OK);
		if (o.side == KX_SELL)
			assert_true(o.price[0] >= 1000);
		else
			assert_true(o.price[0] <= 2900);
	}
	/* 9000 Wh of room at 90%: at least 9000 stored, all spent */
	assert_true(charged >= 10000);
	assert_true(evening >= 9000);
	assert_int_equal(soc[48], 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_kernel),
		cmocka_unit_test(t_sun),
		cmocka_unit_test(t_clearsky),
		cmocka_unit_test(t_tmean),
		cmocka_unit_test(t_forecast_constant),
		cmocka_unit_test(t_forecast_outliers),
		cmocka_unit_test(t_forecast_clearsky_index),
		cmocka_unit_test(t_forecast_errors),
		cmocka_unit_test(t_order_hand),
		cmocka_unit_test(t_order_random),
		cmocka_unit_test(t_order_errors),
		cmocka_unit_test(t_battery_hand),
		cmocka_unit_test(t_battery_optimal),
		cmocka_unit_test(t_battery_errors),
		cmocka_unit_test(t_day),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
