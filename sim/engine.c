/*
 * engine.c - the slot loop of kaga-sim (engine.h).
 *
 * A day:
 *   day_begin  the day's loads (model.c) and clear-sky PV (strategy.h);
 *              per archetype (a member type with or without PV, battery,
 *              EV) one forecast per half-hour from the archetype's mean
 *              member's history (kx_strat_forecast, with the clear-sky
 *              model of Kaga for PV), one battery plan for the day
 *              (kx_strat_battery against the prices seen yesterday);
 *   per slot   every member turns the forecast, scaled to its own size,
 *              into an order (kx_strat_order) and lives through the slot
 *              (loads, PV, EV, battery: metered import and export); the
 *              operator clears the book (kx_clear_with, one context for
 *              the whole run) and settles it (kx_settle, in chunks of
 *              members); the bills of every member are kept with the
 *              market and without it (grid only);
 *   day_end    the day's meter totals join the archetypes' history.
 * Before the first day, forecast_days days of warm-up (no market) fill
 * the history.
 *
 * Threads: phase j of a day makes slot j's orders, clears slot j - 1 and
 * settles slot j - 2, three independent jobs (work()). Slot s's book is
 * made, cleared and mostly settled by thread s % nth, so that a 7 MB
 * book does not move between cores (on the project's VM the two vCPUs do
 * not share a last-level cache: moving books cost a quarter more CPU
 * time). Books, meter totals, fills and clearing results of a slot live
 * in buffer s % NBUF. Every sum is an integer, so the results do not
 * depend on the number of threads or on who did which task.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "model.h"
#include "strategy.h"

#define DAY_S		86400
#define CHUNK_DEF	16	/* members per kx_settle call */
#define SETTLE_TASK	512	/* members per settlement task */
#define THREAD_MIN	512	/* members per thread, at least */
#define N_SITES		4	/* PV orientations */
#define ARCH_MAX	(KX_SIM_TYPES * 8)
#define EV_LEFT_MAX	60000	/* Wh an EV can still take */
#define EV_LEAVE	14	/* the car leaves at 07:00 */
#define POINTS_MAX	1000000000u	/* points redeemed at once */
#define PV_NOISE	0.05	/* local PV variation (cloud edges) */
#define NBUF		4	/* buffers: a multiple of 2 keeps a buffer on one
				   thread (slot s on thread s % 2) */
#define MEMO_BITS	10	/* orders remembered per thread: 2^this */
#define SIZE_STEP	10	/* sizes known to 1 % (permille steps) */

enum { F_PV = 1, F_BATT = 2, F_EV = 4 };

/* One member (the fields its slot needs; sums live elsewhere). */
typedef struct {
	double		 scale;		/* consumption, mean 1 */
	double		 kwp;		/* PV peak, W (0: none) */
	uint64_t	 soc;		/* Wh stored */
	uint32_t	 ev_left;	/* Wh its EV still needs */
	uint16_t	 ls, ks;	/* consumption, PV vs. the archetype's
					   mean member, permille */
	uint8_t		 type, arch, flags, var, site, ev_arrive;
} member_t;

/* Members alike in type and equipment, and their mean member. */
typedef struct {
	bool		 used;
	uint8_t		 type, flags;
	uint32_t	 n;
	uint64_t	 kwp;		/* the mean member's PV peak, W */
	uint64_t	*h_pv, *h_load, *h_imp, *h_exp;	/* history, Wh per
					   half-hour of the mean member */
	kx_strat_fc_t	 fc[KX_HH];	/* today's forecasts */
	int64_t		 plan[KX_HH];	/* today's battery plan, Wh */
	int64_t		 m_pv[KX_HH], m_load[KX_HH];	/* per market slot */
	int64_t		 m_dlo[KX_HH], m_dhi[KX_HH], m_batt[KX_HH];
} arch_t;

/* A thread's sums of the generation of one slot. */
typedef struct {
	uint64_t	 load, pv, imp, exp, chg, dis, ev, bid, ask, holes;
	uint32_t	 n_buy, n_sell;
	uint64_t	 ns;
} gacc_t;

/* A thread's sums of one day (history) and the run (types). */
typedef struct {
	uint64_t	 pv[ARCH_MAX][KX_HH], load[ARCH_MAX][KX_HH];
	uint64_t	 imp[ARCH_MAX][KX_HH], exp[ARCH_MAX][KX_HH];
	uint64_t	 t_load[KX_SIM_TYPES], t_pv[KX_SIM_TYPES];
	uint64_t	 t_imp[KX_SIM_TYPES], t_exp[KX_SIM_TYPES];
} dacc_t;

/* A thread's sums of the settlement of one slot. */
typedef struct {
	uint64_t	 out_in, out_out, errors, calls, redeemed;
	int64_t		 kept, outside, received, points, lines;
	int64_t		 bill[KX_SIM_TYPES], grid[KX_SIM_TYPES];
	int64_t		 gross[KX_SIM_TYPES], pts[KX_SIM_TYPES];
	uint64_t	 bought[KX_SIM_TYPES], sold[KX_SIM_TYPES];
	uint64_t	 ns;
} sacc_t;

typedef struct kx_sim kx_sim_t;

/* An order remembered for members alike (make_order). */
typedef struct {
	uint64_t	 stamp;		/* the slot it was made for (0: none) */
	uint64_t	 key;		/* archetype and sizes */
	int		 side;
	uint32_t	 n;
	uint64_t	 wh[KX_STEPS_MAX];
	uint32_t	 price[KX_STEPS_MAX];
} memo_t;

/* A thread and its sums. */
typedef struct {
	kx_sim_t	*S;
	unsigned	 id;
	pthread_t	 th;
	gacc_t		 g;
	sacc_t		 s;
	dacc_t		*d;
	kx_mkt_reading_t *rd;	/* chunk scratch */
	kx_mkt_points_t	*pts;
	memo_t		*memo;	/* 2^MEMO_BITS entries */
	char		 pad[64];
} worker_t;

/* What the threads do in the current phase. */
typedef struct {
	bool		 clear;		/* clear slot jc */
	size_t		 jc;
	size_t		 jg;		/* the slot generated */
	bool		 whole_day;	/* warm-up: every slot, no orders */
	bool		 gen;		/* orders and physics of slot jg */
	uint64_t	 stamp;		/* a number for each generated slot */
	size_t		 js;		/* settlement of slot js */
	size_t		 nsc;		/* its tasks (0: none) */
	size_t		 ntask;		/* settlement tasks in the list */
	_Atomic uint64_t range;		/* tasks not taken: [lo, hi), hi << 32 */
} phase_t;

struct kx_sim {
	const kx_scen_t	*sc;
	kx_params_t	 mp;
	kx_strat_owner_t own[KX_SIM_TYPES];
	kx_strat_fcopt_t fco;
	kx_strat_site_t	 sites[N_SITES];
	size_t		 n;
	member_t	*mb;
	uint8_t		(*key)[KX_MKT_ID_LEN];	/* member keys, ascending */
	uint8_t		(*oid)[KX_MKT_ID_LEN];	/* order ids before the slot */
	int64_t		*bill, *grid;		/* per member, whole run */
	uint64_t	*local_month;		/* Wh traded this month */
	uint32_t	*points_due;		/* to redeem in the next slot */
	/* per buffer (slot j of the day: j % NBUF) */
	kx_order_t	*book[NBUF];
	uint64_t	*imp[NBUF], *exp[NBUF];	/* metered in the slot */
	uint64_t	 holes[NBUF];		/* members without an order */
	uint8_t		*side[NBUF];		/* per member: 0 none, 1 + side */
	uint64_t	*fills[NBUF];
	size_t		*chunk_pos[NBUF];	/* first book position of a chunk */
	size_t		 npos[NBUF];
	kx_clear_t	 cres[NBUF];
	size_t		 chunk, nchunks;
	kx_clear_ctx_t	*ctx;
	uint64_t	 hseed;			/* the members' noise stream */
	uint64_t	 id_hash[KX_HH];	/* today's order id changes */
	arch_t		 arch[ARCH_MAX];
	uint8_t		 op[KX_MKT_ID_LEN];
	/* time */
	int64_t		 day0;		/* first warm-up day */
	size_t		 warm, ndays;	/* warm-up days, all days */
	size_t		 k, J;		/* half-hours per slot, slots a day */
	kx_wx_t		*wx;
	double		 norm[KX_SIM_TYPES];
	size_t		 day;		/* today, from day0 */
	int64_t		 day_t;
	bool		 market, redeem;
	kx_loads_t	 ld;
	double		 cs[N_SITES][KX_HH];	/* clear-sky Wh per W peak */
	uint32_t	 last_price[KX_HH];
	bool		 last_has[KX_HH];
	int64_t		 noise_band;	/* permille of a member's load */
	size_t		 row0;		/* today's first row */
	/* threads */
	unsigned	 nth;
	worker_t	*w;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv_go, cv_done;
	unsigned long	 gen;
	unsigned	 busy;
	bool		 quit;
	bool		 threads_up;
	bool		 plain;		/* no memo of orders */
	uint64_t	 stamps;
	atomic_int	 err;		/* first error of a phase */
	char		 errmsg[200];
	phase_t		 ph;
	kx_sim_res_t	*res;
};

const char *
kx_sim_strerror(int e)
{
	switch (e) {
	case KX_SIM_OK:		return "ok";
	case KX_SIM_EINVAL:	return "sim: invalid scenario";
	case KX_SIM_ENOMEM:	return "sim: out of memory";
	case KX_SIM_EMARKET:	return "sim: the market code refused an input";
	case KX_SIM_ETHREAD:	return "sim: cannot start a thread";
	default:		return "sim: unknown error";
	}
}

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
fail(kx_sim_t *S, int e, const char *what, int code)
{
	pthread_mutex_lock(&S->mu);
	if (S->err == KX_SIM_OK) {
		snprintf(S->errmsg, sizeof(S->errmsg), "%s: %d", what, code);
		S->err = e;
	}
	pthread_mutex_unlock(&S->mu);
}

static size_t
member_of(const uint8_t *key)
{
	return (size_t)key[1] << 24 | (size_t)key[2] << 16 |
	    (size_t)key[3] << 8 | key[4];
}

/* ---- setting up the city ------------------------------------------- */

static const struct {
	double	 tilt, az;
} SITE_DIR[N_SITES] = {
	{ 30.0, 180.0 },	/* the common case: south, 30 degrees */
	{ 20.0, 135.0 },	/* south-east */
	{ 20.0, 225.0 },	/* south-west */
	{ 10.0, 180.0 },	/* a flat roof */
};

static double
spread(uint64_t h, unsigned k, uint64_t permille)
{
	/* uniform in [1 - s, 1 + s] */
	return 1.0 + (double)permille / 1000.0 * (2.0 * kx_u16(h, k) - 1.0);
}

static int
make_city(kx_sim_t *S)
{
	const kx_scen_t	*sc = S->sc;
	double		 ssum[ARCH_MAX], ksum[ARCH_MAX];
	uint64_t	 h;
	size_t		 m, d, t, c, i, next[3] = { 0, 0, 0 };
	uint8_t		*fl;
	member_t	*x;
	arch_t		*a;
	int		 b, pass;

	memset(ssum, 0, sizeof(ssum));
	memset(ksum, 0, sizeof(ksum));
	if ((fl = calloc(S->n, 1)) == NULL)
		return KX_SIM_ENOMEM;
	/*
	 * Draw d (types in order) decides what member d owns; members get
	 * their index by class: without PV, with PV, with PV and a battery
	 * (the members that may have no order in a slot, when the forecast
	 * nets to zero, come last: the clearing's compaction then moves
	 * few orders).
	 */
	for (pass = 0; pass < 2; pass++) {
		d = 0;
		for (t = 0; t < KX_SIM_TYPES; t++)
			for (c = 0; c < sc->type[t].count; c++, d++) {
				const kx_scen_type_t *ty = &sc->type[t];

				h = kx_mix3(sc->seed, 0x6d656d626572ULL, d);
				fl[d] = 0;
				if (kx_u16(h, 0) * 1000.0 <
				    (double)ty->pv_permille)
					fl[d] |= F_PV;
				if ((fl[d] & F_PV) && kx_u16(h, 1) * 1000.0 <
				    (double)ty->batt_permille)
					fl[d] |= F_BATT;
				if (t == KX_SIM_HOUSEHOLD && kx_u16(h, 2) *
				    1000.0 < (double)sc->ev_permille)
					fl[d] |= F_EV;
				if (pass == 0)
					next[!(fl[d] & F_PV) ? 0 :
					    !(fl[d] & F_BATT) ? 1 : 2]++;
			}
		if (pass == 0) {	/* counts -> first index of a class */
			next[2] = next[0] + next[1];
			next[1] = next[0];
			next[0] = 0;
		}
	}
	d = 0;
	for (t = 0; t < KX_SIM_TYPES; t++) {
		const kx_scen_type_t *ty = &sc->type[t];

		for (c = 0; c < ty->count; c++, d++) {
			m = next[!(fl[d] & F_PV) ? 0 : !(fl[d] & F_BATT) ?
			    1 : 2]++;
			x = &S->mb[m];
			h = kx_mix(kx_mix3(sc->seed, 0x6d656d626572ULL, d));
			x->type = (uint8_t)t;
			x->flags = fl[d];
			x->scale = spread(h, 0, sc->size_spread_permille);
			if (x->flags & F_PV)
				x->kwp = (double)ty->pv_w *
				    spread(h, 1, sc->size_spread_permille);
			if (sc->variety) {
				x->var = (uint8_t)((h >> 32) % KX_HH_VARIANTS);
				x->site = (uint8_t)((h >> 40) % N_SITES);
				x->ev_arrive = (uint8_t)(35 + (h >> 48) % 6);
			} else {
				x->var = 1;
				x->site = 0;
				x->ev_arrive = 37;	/* 18:30 */
			}
			x->arch = (uint8_t)(t * 8 + x->flags);
			if (x->flags & F_BATT)
				x->soc = ty->batt_wh / 2;
			a = &S->arch[x->arch];
			a->used = true;
			a->type = (uint8_t)t;
			a->flags = x->flags;
			a->n++;
			ssum[x->arch] += x->scale;
			ksum[x->arch] += x->kwp;
			/* the key: ascending with m; the order id: distinct */
			S->key[m][0] = 0x4b;
			S->oid[m][0] = 0x6f;
			for (b = 0; b < 4; b++) {
				S->key[m][1 + b] = (uint8_t)(m >> (24 - 8 * b));
				S->oid[m][8 + b] = (uint8_t)(m >> (24 - 8 * b));
			}
			for (i = 5; i < KX_MKT_ID_LEN; i++)
				S->key[m][i] = (uint8_t)(kx_mix(h + i) >> 8);
			for (i = 1; i < 8; i++)
				S->oid[m][i] = (uint8_t)(kx_mix(h ^ i) >> 16);
			for (i = 12; i < KX_MKT_ID_LEN; i++)
				S->oid[m][i] = (uint8_t)(kx_mix(h ^ i) >> 24);
		}
	}
	free(fl);
	/* sizes relative to the archetype's mean member */
	for (i = 0; i < ARCH_MAX; i++) {
		a = &S->arch[i];
		if (!a->used)
			continue;
		a->kwp = (uint64_t)(ksum[i] / a->n + 0.5);
		ssum[i] /= a->n;
		ksum[i] /= a->n;
	}
	for (m = 0; m < S->n; m++) {
		x = &S->mb[m];
		x->ls = (uint16_t)(SIZE_STEP * (uint64_t)(1000.0 / SIZE_STEP *
		    x->scale / ssum[x->arch] + 0.5));
		x->ks = x->flags & F_PV ? (uint16_t)(SIZE_STEP *
		    (uint64_t)(1000.0 / SIZE_STEP * x->kwp / ksum[x->arch] +
		    0.5)) : 0;
	}
	for (i = 0; i < ARCH_MAX; i++) {
		a = &S->arch[i];
		if (!a->used)
			continue;
		if ((a->h_pv = calloc(S->ndays * KX_HH, 8)) == NULL ||
		    (a->h_load = calloc(S->ndays * KX_HH, 8)) == NULL ||
		    (a->h_imp = calloc(S->ndays * KX_HH, 8)) == NULL ||
		    (a->h_exp = calloc(S->ndays * KX_HH, 8)) == NULL)
			return KX_SIM_ENOMEM;
	}
	return KX_SIM_OK;
}

/* ---- a member's slot ----------------------------------------------- */

/* The member's order for slot j of today into o (o->n == 0: none). */
static int
make_order(kx_sim_t *S, kx_order_t *o, uint8_t *side, size_t m, size_t j,
    gacc_t *g, memo_t *memo, uint64_t stamp)
{
	const member_t	*x = &S->mb[m];
	const arch_t	*a = &S->arch[x->arch];
	kx_strat_fc_t	 fc;
	memo_t		*me;
	int64_t		 pv, l, bs, nb, batt;
	uint64_t	 sh, v = 0, key;
	uint32_t	 k;
	int		 r;

	pv = x->flags & F_PV ? a->m_pv[j] * x->ks / 1000 : 0;
	l = a->m_load[j] * x->ls / 1000;
	bs = x->flags & F_PV ? ((int64_t)x->ls + x->ks) / 2 : x->ls;
	nb = l * S->noise_band / 1000;
	fc.pv_cs = 0;
	fc.days = 0;
	fc.pv = pv;
	fc.load = l;
	fc.net = pv - l;
	fc.lo = fc.net - a->m_dlo[j] * bs / 1000 - nb;
	fc.hi = fc.net + a->m_dhi[j] * bs / 1000 + nb;
	batt = x->flags & F_BATT ? a->m_batt[j] : 0;
	/*
	 * kx_strat_order is a pure function of (forecast, battery, owner,
	 * market, steps), and within a slot those depend only on the
	 * archetype and the member's two sizes: members alike in those get
	 * the same order, computed once per slot and thread (S->plain: for
	 * every member, as the test of this shortcut does).
	 */
	key = (uint64_t)x->arch | (uint64_t)x->ls << 8 | (uint64_t)x->ks << 24;
	me = &memo[(key * 0x9e3779b97f4a7c15ULL) >> (64 - MEMO_BITS)];
	if (!S->plain && me->stamp == stamp && me->key == key) {
		o->side = me->side;
		o->n = me->n;
		for (k = 0; k < me->n; k++) {	/* n <= 16: no memcpy call */
			o->wh[k] = me->wh[k];
			o->price[k] = me->price[k];
		}
		r = KX_STRAT_OK;
	} else {
		r = kx_strat_order(o, &fc, batt, &S->own[x->type], &S->mp,
		    (uint32_t)S->sc->order_steps);
		if (r == KX_STRAT_OK && !S->plain) {
			me->stamp = stamp;
			me->key = key;
			me->side = o->side;
			me->n = o->n;
			for (k = 0; k < o->n; k++) {
				me->wh[k] = o->wh[k];
				me->price[k] = o->price[k];
			}
		}
	}
	if (r != KX_STRAT_OK) {
		fail(S, KX_SIM_EMARKET, "kx_strat_order", r);
		o->n = 0;
		*side = 0;
		return -1;
	}
	if (o->n == 0) {
		g->holes++;
		*side = 0;
		return 0;
	}
	*side = (uint8_t)(1 + o->side);
	/* the order id changes with the slot (a message id would) */
	memcpy(o->id, S->oid[m], KX_MKT_ID_LEN);
	sh = S->id_hash[j];
	for (k = 0; k < 8; k++)
		o->id[k] ^= (uint8_t)(sh >> (8 * k));
	memcpy(o->member, S->key[m], KX_MKT_ID_LEN);
	for (k = 0; k < o->n; k++)
		v += o->wh[k];
	if (o->side == KX_BUY) {
		g->n_buy++;
		g->bid += v;
	} else {
		g->n_sell++;
		g->ask += v;
	}
	return 0;
}

/* Rounds a non-negative double to whole Wh. */
static uint64_t
wh_of(double x)
{
	return x > 0.0 ? (uint64_t)(x + 0.5) : 0;
}

/*
 * The physics of member m in the half-hours [s0, s1) of today: loads,
 * PV, the EV, the battery (following the archetype's plan within its
 * own limits), and the metered import and export.
 */
static void
live(kx_sim_t *S, size_t m, unsigned s0, unsigned s1, uint64_t *imp,
    uint64_t *exp, worker_t *w, bool count)
{
	const kx_scen_t	*sc = S->sc;
	member_t	*restrict x = &S->mb[m];
	const arch_t	*a = &S->arch[x->arch];
	const kx_scen_type_t *ty = &sc->type[x->type];
	const kx_wx_t	*wx = &S->wx[S->day * KX_HH];
	gacc_t		*restrict g = &w->g;
	dacc_t		*restrict d = w->d;
	double		 noise = (double)sc->load_noise_permille / 1000.0;
	double		 L, P, dayf = 1.0;
	uint64_t	 hs, hd = 0, li, pi, c, dd, room, I = 0, E = 0, low;
	int64_t		 net, b;
	bool		 pump = false, dry = false;
	unsigned	 s;

	if (x->type != KX_SIM_HOUSEHOLD || (x->flags & F_EV)) {
		hd = kx_mix3(sc->seed ^ 0x646179ULL, sc->variety ? m : 0,
		    (uint64_t)S->day_t);
		if (x->type == KX_SIM_RYOKAN && sc->variety)
			dayf = 1.0 + 0.15 * kx_tri(hd, 0);
		pump = (hd >> 32) % 1000 < S->ld.pump_permille;
		dry = (hd >> 48) % 1000 < S->ld.dryer_permille;
	}
	for (s = s0; s < s1; s++) {
		hs = kx_mix(S->hseed ^ ((uint64_t)m * 0x9e3779b97f4a7c15ULL +
		    (S->day * KX_HH + s) * 0xd1b54a32d192ed03ULL));
		switch (x->type) {
		case KX_SIM_HOUSEHOLD:
			L = S->ld.hh[x->var][s];
			break;
		case KX_SIM_RYOKAN:
			L = S->ld.ryokan[s] * dayf;
			break;
		default:
			L = S->ld.farm[s] + (pump ? S->ld.pump[s] : 0.0) +
			    (dry ? S->ld.dryer[s] : 0.0);
			break;
		}
		li = wh_of(x->scale * L * (1.0 + noise * kx_tri(hs, 0)));
		pi = 0;
		if (x->flags & F_PV) {
			P = x->kwp * S->cs[x->site][s] * wx[s].kt;
			if (sc->variety)
				P *= 1.0 + PV_NOISE * kx_tri(hs, 2);
			pi = wh_of(P);
			if (pi > (uint64_t)(x->kwp / 2.0))
				pi = (uint64_t)(x->kwp / 2.0);
		}
		if (x->flags & F_EV) {
			if (s == x->ev_arrive) {
				double need = (double)sc->ev_wh_day *
				    (0.4 + 1.2 * kx_u16(hd, 2));

				x->ev_left += (uint32_t)wh_of(need);
				if (x->ev_left > EV_LEFT_MAX)
					x->ev_left = EV_LEFT_MAX;
			}
			if ((s >= x->ev_arrive || s < EV_LEAVE) &&
			    x->ev_left > 0) {
				c = x->ev_left < sc->ev_w / 2 ? x->ev_left :
				    sc->ev_w / 2;
				x->ev_left -= (uint32_t)c;
				li += c;
				g->ev += c;
			}
		}
		net = (int64_t)pi - (int64_t)li;
		c = dd = 0;
		if ((x->flags & F_BATT) && S->market &&
		    (b = a->plan[s]) != 0) {
			if (b > 0) {
				c = (uint64_t)b;
				if (!sc->grid_charge)
					c = net > 0 ? ((uint64_t)net < c ?
					    (uint64_t)net : c) : 0;
				room = ty->batt_wh - x->soc;
				room = (room * 1000 + sc->batt_eff_permille -
				    1) / sc->batt_eff_permille;
				if (c > room)
					c = room;
				x->soc += c * sc->batt_eff_permille / 1000;
			} else {
				low = ty->batt_wh / 10;
				dd = (uint64_t)-b;
				low = x->soc < low ? x->soc : low;
				if (dd > x->soc - low)
					dd = x->soc - low;
				x->soc -= dd;
			}
			net += (int64_t)dd - (int64_t)c;
		}
		g->load += li;
		g->pv += pi;
		g->chg += c;
		g->dis += dd;
		d->pv[x->arch][s] += pi;
		d->load[x->arch][s] += li;
		if (net < 0) {
			I += (uint64_t)-net;
			d->imp[x->arch][s] += (uint64_t)-net;
		} else {
			E += (uint64_t)net;
			d->exp[x->arch][s] += (uint64_t)net;
		}
		if (count) {
			d->t_load[x->type] += li;
			d->t_pv[x->type] += pi;
		}
	}
	if (count) {
		d->t_imp[x->type] += I;
		d->t_exp[x->type] += E;
	}
	g->imp += I;
	g->exp += E;
	*imp = I;
	*exp = E;
}

/* Every member's order for slot jg. */
static void
task_orders(kx_sim_t *S, worker_t *w)
{
	size_t		 m, b = S->ph.jg % NBUF;
	uint64_t	 t0 = now_ns();

	for (m = 0; m < S->n; m++)
		if (make_order(S, &S->book[b][m], &S->side[b][m], m, S->ph.jg,
		    &w->g, w->memo, S->ph.stamp) != 0)
			break;
	w->g.ns += now_ns() - t0;
}

/* The physics of members [m0, m1) in slot jg (or the whole day). */
static void
task_physics(kx_sim_t *S, worker_t *w, size_t m0, size_t m1)
{
	size_t		 m, j, b = S->ph.jg % NBUF;
	uint64_t	 I, E, t0 = now_ns();

	for (m = m0; m < m1; m++) {
		if (S->ph.whole_day) {
			for (j = 0; j < S->J; j++)
				live(S, m, (unsigned)(j * S->k),
				    (unsigned)((j + 1) * S->k), &I, &E, w,
				    false);
			continue;
		}
		live(S, m, (unsigned)(S->ph.jg * S->k),
		    (unsigned)((S->ph.jg + 1) * S->k), &S->imp[b][m],
		    &S->exp[b][m], w, true);
	}
	w->g.ns += now_ns() - t0;
}

/* First book position of chunk c. */
static size_t
chunk_pos(const kx_sim_t *S, size_t b, size_t c)
{
	if (S->holes[b] > 0)
		return S->chunk_pos[b][c];
	return c * S->chunk < S->n ? c * S->chunk : S->n;
}

/* Clears slot jc: drops empty orders, then kx_clear_with. */
static void
task_clear(kx_sim_t *S, worker_t *w)
{
	size_t		 b = S->ph.jc % NBUF, m, p = 0;
	kx_order_t	*bk = S->book[b];
	size_t		*cp = S->chunk_pos[b];
	uint64_t	 t0;
	int		 r;

	(void)w;
	if (S->holes[b] > 0) {
		for (m = 0; m < S->n; m++) {
			if (m % S->chunk == 0)
				cp[m / S->chunk] = p;
			if (bk[m].n == 0)
				continue;
			if (p != m)
				bk[p] = bk[m];
			p++;
		}
		cp[S->nchunks] = p;
		S->npos[b] = p;
	} else
		S->npos[b] = S->n;
	t0 = now_ns();
	r = kx_clear_with(S->ctx, &S->cres[b], S->fills[b], NULL, bk,
	    S->npos[b], &S->mp);
	S->res->ns_clear += now_ns() - t0;
	if (r != KX_MKT_OK)
		fail(S, KX_SIM_EMARKET, "kx_clear_with", r);
}

static uint64_t
sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/*
 * Settles chunk c of slot js: kx_settle over the chunk's orders (the
 * lines of its members are those of one call over the whole book), then
 * each member's bills with the market and grid only, and the city's
 * money flows. Returns -1 after an error.
 */
static int
settle_chunk(kx_sim_t *S, worker_t *w, size_t c)
{
	const kx_scen_t	*sc = S->sc;
	size_t		 b = S->ph.js % NBUF, m0, m1, p0, p1, p, m, l, nl = 0;
	size_t		 npts = 0, nrd = 0;
	const kx_order_t *bk = S->book[b];
	const kx_clear_t *cr = &S->cres[b];
	const uint64_t	*fills = S->fills[b];
	const uint64_t	*imp = S->imp[b], *exp = S->exp[b];
	const uint8_t	*side = S->side[b];
	bool		 first = S->redeem && S->ph.js == 0;
	kx_line_t	*lines = NULL;
	sacc_t		*a = &w->s;
	int64_t		 P, f = sc->fee, C = sc->ceiling, F = sc->floor;
	int64_t		 line, want, opsum = 0, sum = 0;
	uint64_t	 I, E, As, Ab, rin, rout, sh, un, fill, t0, pts;
	int		 r, t;

	P = cr->has_price ? cr->price : 0;
	m0 = c * S->chunk;
	m1 = m0 + S->chunk < S->n ? m0 + S->chunk : S->n;
	p0 = chunk_pos(S, b, c);
	p1 = chunk_pos(S, b, c + 1);
	/* orders sit in member order; members without one have side 0 */
	for (m = m0, p = p0; m < m1; m++) {
		if (side[m] == 0)
			continue;
		if (fills[p++] == 0)
			continue;
		memcpy(w->rd[nrd].member, S->key[m], KX_MKT_ID_LEN);
		w->rd[nrd].imp = imp[m];
		w->rd[nrd].exp = exp[m];
		nrd++;
	}
	if (first)
		for (m = m0; m < m1; m++)
			if (S->points_due[m] > 0) {
				memcpy(w->pts[npts].member, S->key[m],
				    KX_MKT_ID_LEN);
				w->pts[npts++].points = S->points_due[m];
			}
	/* A chunk without fills or points would get only the operator's
	 * line, 0: no call needed. */
	if (nrd > 0 || npts > 0) {
		t0 = now_ns();
		r = kx_settle(&lines, &nl, bk + p0, fills + p0, p1 - p0, cr,
		    w->rd, nrd, w->pts, npts, sc->pt_value, S->op);
		a->ns += now_ns() - t0;
		a->calls++;
		if (r != KX_MKT_OK) {
			fail(S, KX_SIM_EMARKET, "kx_settle", r);
			return -1;
		}
	}
	l = 0;
	/* the operator's key (all zeros) sorts first */
	if (nl > 0 && memcmp(lines[0].member, S->op, KX_MKT_ID_LEN) == 0) {
		opsum = lines[0].money;
		l = 1;
	}
	for (m = m0, p = p0; m < m1; m++) {
		t = S->mb[m].type;
		I = imp[m];
		E = exp[m];
		As = Ab = 0;
		if (side[m] != 0) {
			fill = fills[p++];
			if (side[m] == 1 + KX_SELL)
				As = fill;
			else
				Ab = fill;
		}
		line = 0;
		/* lines are sorted by key, and a key holds its member's index */
		if (l < nl && member_of(lines[l].member) == m)
			line = lines[l++].money;
		sum += line;
		pts = 0;
		if (first && S->points_due[m] > 0) {
			pts = S->points_due[m];
			S->points_due[m] = 0;
		}
		rin = sub0(I, Ab);	/* retail import */
		rout = sub0(E, As);	/* buy-back export */
		sh = sub0(As, E);	/* sold, not delivered */
		un = sub0(Ab, I);	/* bought, not used */
		/* section 7, as a check of the wiring (kx_settle is the model) */
		want = (int64_t)As * P - (int64_t)Ab * (P + f) -
		    (int64_t)sh * C + (int64_t)un * F +
		    (int64_t)pts * sc->pt_value;
		if (line != want)
			a->errors++;
		S->bill[m] += (int64_t)rin * C - (int64_t)rout * F - line;
		S->grid[m] += (int64_t)I * C - (int64_t)E * F;
		S->local_month[m] += As + Ab;
		a->out_in += rin + sh;
		a->out_out += rout + un;
		a->kept += (int64_t)Ab * P;
		a->outside += (int64_t)(rin + sh) * C + (int64_t)Ab * f;
		a->received += (int64_t)(rout + un) * F;
		a->points += (int64_t)pts * sc->pt_value;
		a->redeemed += pts;
		a->bill[t] += (int64_t)rin * C - (int64_t)rout * F - line;
		a->grid[t] += (int64_t)I * C - (int64_t)E * F;
		a->gross[t] += (int64_t)(rin + sh) * C + (int64_t)Ab * (P + f);
		a->pts[t] += (int64_t)pts * sc->pt_value;
		a->bought[t] += Ab;
		a->sold[t] += As;
	}
	if (l != nl || p != p1 || sum + opsum != 0)
		a->errors++;
	a->lines += sum + opsum;
	free(lines);
	return 0;
}

/* A settlement task: SETTLE_TASK members, chunk by chunk. */
static void
task_settle(kx_sim_t *S, worker_t *w, size_t task)
{
	size_t	 per = S->chunk < SETTLE_TASK ? SETTLE_TASK / S->chunk : 1;
	size_t	 c, c1 = (task + 1) * per;

	if (c1 > S->nchunks)
		c1 = S->nchunks;
	for (c = task * per; c < c1; c++)
		if (settle_chunk(S, w, c) != 0)
			return;
}

/* ---- phases and threads -------------------------------------------- */

/*
 * Takes the next settlement task (members in order) from the front of
 * the phase's list or from its back. Returns false when none is left.
 */
static bool
take(phase_t *ph, bool back, size_t *t)
{
	uint64_t	 r = atomic_load(&ph->range), lo, hi, nr;

	do {
		lo = r & 0xffffffffu;
		hi = r >> 32;
		if (lo >= hi)
			return false;
		nr = back ? (hi - 1) << 32 | lo : hi << 32 | (lo + 1);
	} while (!atomic_compare_exchange_weak(&ph->range, &r, nr));
	*t = (size_t)(back ? hi - 1 : lo);
	return true;
}

/*
 * A thread's share of a phase. Slot s's orders are made, cleared and
 * (mostly) settled by thread s % nth, so that its book, 7 MB for the
 * default city, stays in one core's caches: in phase j that thread makes
 * slot j's orders, lives through slot j (the physics) and settles slot
 * j - 2 while the previous one clears slot j - 1, which takes about as
 * long. Settlement tasks come from a shared list: the slot's own thread
 * takes them from the front, the others from the back when they are
 * done. Phases without a clearing (warm-up, a day's first slot) share
 * the physics by fixed member ranges.
 */
static void
work(kx_sim_t *S, worker_t *w)
{
	phase_t	*ph = &S->ph;
	size_t	 t, q = w->id, T = S->nth;

	if (ph->clear && q == ph->jc % T)
		task_clear(S, w);
	if (ph->gen && !ph->whole_day && q == ph->jg % T)
		task_orders(S, w);
	if (ph->gen && (ph->whole_day || !ph->clear))
		task_physics(S, w, S->n * q / T, S->n * (q + 1) / T);
	else if (ph->gen && q == ph->jg % T)
		task_physics(S, w, 0, S->n);
	while (S->err == KX_SIM_OK && take(ph, q != ph->js % T, &t))
		task_settle(S, w, t);
}

static void *
worker_main(void *arg)
{
	worker_t	*w = arg;
	kx_sim_t	*S = w->S;
	unsigned long	 seen = 0;

	for (;;) {
		pthread_mutex_lock(&S->mu);
		while (S->gen == seen && !S->quit)
			pthread_cond_wait(&S->cv_go, &S->mu);
		seen = S->gen;
		if (S->quit) {
			pthread_mutex_unlock(&S->mu);
			return NULL;
		}
		pthread_mutex_unlock(&S->mu);
		work(S, w);
		pthread_mutex_lock(&S->mu);
		if (--S->busy == 0)
			pthread_cond_signal(&S->cv_done);
		pthread_mutex_unlock(&S->mu);
	}
}

/* Runs the phase in S->ph on every thread; returns S->err. */
static int
run_phase(kx_sim_t *S)
{
	phase_t	*ph = &S->ph;

	ph->ntask = ph->nsc;
	atomic_store(&ph->range, (uint64_t)ph->ntask << 32);
	if (S->nth > 1) {
		pthread_mutex_lock(&S->mu);
		S->gen++;
		S->busy = S->nth - 1;
		pthread_cond_broadcast(&S->cv_go);
		pthread_mutex_unlock(&S->mu);
	}
	work(S, &S->w[0]);
	if (S->nth > 1) {
		pthread_mutex_lock(&S->mu);
		while (S->busy > 0)
			pthread_cond_wait(&S->cv_done, &S->mu);
		pthread_mutex_unlock(&S->mu);
	}
	return S->err;
}

/* ---- days ---------------------------------------------------------- */

static int
day_begin(kx_sim_t *S)
{
	const kx_scen_t	*sc = S->sc;
	kx_strat_hist_t	 h;
	kx_strat_site_t	 site;
	uint32_t	 price[KX_HH];
	int64_t		 net[KX_HH], y;
	uint64_t	 w, soc[ARCH_MAX], pts;
	size_t		 i, s, j, m, from;
	unsigned	 mo, dd;
	arch_t		*a;
	int		 r;

	S->day_t = S->day0 + (int64_t)S->day * DAY_S;
	S->market = S->day >= S->warm;
	kx_model_loads(&S->ld, &S->wx[S->day * KX_HH], S->day_t, S->norm);
	for (i = 0; i < N_SITES; i++)
		for (s = 0; s < KX_HH; s++) {
			if ((r = kx_strat_clearsky(&w, &S->sites[i],
			    (uint64_t)(S->day_t + (int64_t)s * KX_HH_S))) !=
			    KX_STRAT_OK) {
				fail(S, KX_SIM_EMARKET, "kx_strat_clearsky", r);
				return S->err;
			}
			S->cs[i][s] = (double)w / 1e6;
		}
	if (!S->market)
		return KX_SIM_OK;
	for (j = 0; j < S->J; j++)
		S->id_hash[j] = kx_mix3(sc->seed, 0x6f72646572ULL,
		    (uint64_t)S->day_t + j);

	/* forecasts from the mean members' history */
	from = S->day > sc->forecast_days ? S->day - sc->forecast_days : 0;
	memset(soc, 0, sizeof(soc));
	for (m = 0; m < S->n; m++)
		soc[S->mb[m].arch] += S->mb[m].soc;
	for (i = 0; i < ARCH_MAX; i++) {
		a = &S->arch[i];
		if (!a->used)
			continue;
		h.imp = a->h_imp + from * KX_HH;
		h.exp = a->h_exp + from * KX_HH;
		h.pv = a->h_pv + from * KX_HH;
		h.load = a->h_load + from * KX_HH;
		h.n_days = S->day - from;
		h.day0 = (uint64_t)(S->day0 + (int64_t)from * DAY_S);
		kx_strat_site_kaga(&site, (uint32_t)a->kwp);
		for (s = 0; s < KX_HH; s++) {
			r = kx_strat_forecast(&a->fc[s], &h,
			    a->flags & F_PV ? &site : NULL, &S->fco,
			    (uint64_t)(S->day_t + (int64_t)s * KX_HH_S));
			if (r != KX_STRAT_OK) {
				fail(S, KX_SIM_EMARKET, "kx_strat_forecast", r);
				return S->err;
			}
			net[s] = a->fc[s].net;
		}
		memset(a->plan, 0, sizeof(a->plan));
		if (a->flags & F_BATT) {
			for (s = 0; s < KX_HH; s++) {
				j = s / S->k;
				price[s] = S->last_has[j] ? S->last_price[j] :
				    (uint32_t)(sc->ceiling - sc->fee);
			}
			r = kx_strat_battery(a->plan, NULL, NULL, price, net,
			    KX_HH, soc[i] / a->n, price[0], &S->own[a->type],
			    &S->mp);
			if (r != KX_STRAT_OK) {
				fail(S, KX_SIM_EMARKET, "kx_strat_battery", r);
				return S->err;
			}
		}
		for (j = 0; j < S->J; j++) {
			a->m_pv[j] = a->m_load[j] = a->m_dlo[j] = 0;
			a->m_dhi[j] = a->m_batt[j] = 0;
			for (s = j * S->k; s < (j + 1) * S->k; s++) {
				a->m_pv[j] += a->fc[s].pv;
				a->m_load[j] += a->fc[s].load;
				a->m_dlo[j] += a->fc[s].net - a->fc[s].lo;
				a->m_dhi[j] += a->fc[s].hi - a->fc[s].net;
				a->m_batt[j] += a->plan[s];
			}
		}
	}

	/* health points: issued at the start of a month, redeemed in its
	 * first slot */
	kx_scen_jst_date(S->day_t, &y, &mo, &dd, NULL);
	S->redeem = false;
	if (dd == 1 && S->day > S->warm) {
		for (m = 0; m < S->n; m++) {
			pts = sc->hp_monthly + S->local_month[m] *
			    sc->hp_local_per_kwh / 1000;
			S->local_month[m] = 0;
			S->res->points_issued += pts;
			pts = pts * sc->hp_redeem_permille / 1000;
			if (pts > POINTS_MAX)
				pts = POINTS_MAX;
			S->points_due[m] = (uint32_t)pts;
			if (pts > 0)
				S->redeem = true;
		}
	}
	return KX_SIM_OK;
}

static void
day_end(kx_sim_t *S)
{
	size_t		 i, s, t, row = S->day * KX_HH;
	unsigned	 q;
	uint64_t	 sum[4];
	arch_t		*a;
	kx_sim_res_t	*res = S->res;

	for (i = 0; i < ARCH_MAX; i++) {
		a = &S->arch[i];
		if (!a->used)
			continue;
		for (s = 0; s < KX_HH; s++) {
			memset(sum, 0, sizeof(sum));
			for (q = 0; q < S->nth; q++) {
				sum[0] += S->w[q].d->pv[i][s];
				sum[1] += S->w[q].d->load[i][s];
				sum[2] += S->w[q].d->imp[i][s];
				sum[3] += S->w[q].d->exp[i][s];
			}
			a->h_pv[row + s] = (sum[0] + a->n / 2) / a->n;
			a->h_load[row + s] = (sum[1] + a->n / 2) / a->n;
			a->h_imp[row + s] = (sum[2] + a->n / 2) / a->n;
			a->h_exp[row + s] = (sum[3] + a->n / 2) / a->n;
		}
	}
	for (q = 0; q < S->nth; q++) {
		dacc_t *d = S->w[q].d;

		for (t = 0; t < KX_SIM_TYPES; t++) {
			res->type[t].load += d->t_load[t];
			res->type[t].pv += d->t_pv[t];
			res->type[t].imp += d->t_imp[t];
			res->type[t].exp += d->t_exp[t];
		}
		memset(d, 0, sizeof(*d));
	}
	if (S->market)
		for (i = 0; i < S->J; i++) {
			const kx_sim_slot_t *r = &res->slots[S->row0 + i];

			S->last_has[i] = r->has_price;
			S->last_price[i] = r->price;
		}
}

/* Moves the threads' generation sums into row r. */
static void
merge_gen(kx_sim_t *S, kx_sim_slot_t *r, size_t b)
{
	unsigned	 q;
	gacc_t		*g;

	S->holes[b] = 0;
	for (q = 0; q < S->nth; q++) {
		g = &S->w[q].g;
		r->load += g->load;
		r->pv += g->pv;
		r->imp += g->imp;
		r->exp += g->exp;
		r->chg += g->chg;
		r->dis += g->dis;
		r->ev += g->ev;
		r->bid += g->bid;
		r->ask += g->ask;
		r->n_buy += g->n_buy;
		r->n_sell += g->n_sell;
		S->holes[b] += g->holes;
		S->res->ns_gen += g->ns;
		memset(g, 0, sizeof(*g));
	}
}

/* Moves the threads' settlement sums into row r and the results. */
static void
merge_settle(kx_sim_t *S, kx_sim_slot_t *r, size_t b)
{
	kx_sim_res_t	*res = S->res;
	const kx_clear_t *cr = &S->cres[b];
	unsigned	 q;
	size_t		 t;
	sacc_t		*a;

	r->has_price = cr->has_price;
	r->price = cr->has_price ? cr->price : 0;
	r->volume = cr->volume;
	for (q = 0; q < S->nth; q++) {
		a = &S->w[q].s;
		r->out_in += a->out_in;
		r->out_out += a->out_out;
		r->kept += a->kept;
		r->outside += a->outside;
		r->received += a->received;
		res->points_credit += a->points;
		res->points_redeemed += a->redeemed;
		res->settle_errors += a->errors;
		res->settle_calls += a->calls;
		res->lines_total += a->lines;
		res->ns_settle += a->ns;
		for (t = 0; t < KX_SIM_TYPES; t++) {
			res->type[t].bill += a->bill[t];
			res->type[t].grid_bill += a->grid[t];
			res->type[t].gross += a->gross[t];
			res->type[t].points_credit += a->pts[t];
			res->type[t].bought += a->bought[t];
			res->type[t].sold += a->sold[t];
		}
		memset(a, 0, sizeof(*a));
	}
	res->load += r->load;
	res->pv += r->pv;
	res->imp += r->imp;
	res->exp += r->exp;
	res->chg += r->chg;
	res->dis += r->dis;
	res->ev += r->ev;
	res->local += r->volume;
	res->out_in += r->out_in;
	res->out_out += r->out_out;
	res->kept += r->kept;
	res->paid_outside += r->outside;
	res->received += r->received;
	res->fees += (int64_t)r->volume * S->sc->fee;
	res->base_paid_outside += (int64_t)r->imp * S->sc->ceiling;
	res->base_received += (int64_t)r->exp * S->sc->floor;
	if (r->volume > 0)
		res->slots_traded++;
	if (r->imp > r->exp && r->imp - r->exp > res->peak_import) {
		res->peak_import = r->imp - r->exp;
		res->peak_slot = r->slot;
	}
}

static void
progress(kx_sim_t *S, uint64_t t0, uint64_t *last)
{
	uint64_t	 t = now_ns();
	size_t		 d;

	if (t - *last < 1000000000u)
		return;
	*last = t;
	d = S->day - S->warm + 1;
	fprintf(stderr, "kaga-sim: %s: day %zu of %llu (%llu%%), %.1f s\n",
	    S->sc->name, d, (unsigned long long)S->sc->days,
	    (unsigned long long)(d * 100 / S->sc->days),
	    (double)(t - t0) / 1e9);
}

/* ---- set-up and the run -------------------------------------------- */

static void
sim_free(kx_sim_t *S)
{
	size_t		 i;
	unsigned	 q;

	if (S == NULL)
		return;
	if (S->threads_up) {
		pthread_mutex_lock(&S->mu);
		S->quit = true;
		pthread_cond_broadcast(&S->cv_go);
		pthread_mutex_unlock(&S->mu);
		for (q = 1; q < S->nth; q++)
			pthread_join(S->w[q].th, NULL);
	}
	pthread_cond_destroy(&S->cv_done);
	pthread_cond_destroy(&S->cv_go);
	pthread_mutex_destroy(&S->mu);
	if (S->w != NULL)
		for (q = 0; q < S->nth; q++) {
			free(S->w[q].d);
			free(S->w[q].rd);
			free(S->w[q].pts);
			free(S->w[q].memo);
		}
	free(S->w);
	for (i = 0; i < ARCH_MAX; i++) {
		free(S->arch[i].h_pv);
		free(S->arch[i].h_load);
		free(S->arch[i].h_imp);
		free(S->arch[i].h_exp);
	}
	kx_clear_ctx_free(&S->ctx);
	for (i = 0; i < NBUF; i++) {
		free(S->chunk_pos[i]);
		free(S->side[i]);
		free(S->fills[i]);
		free(S->book[i]);
		free(S->imp[i]);
		free(S->exp[i]);
	}
	free(S->points_due);
	free(S->local_month);
	free(S->grid);
	free(S->bill);
	free(S->oid);
	free(S->key);
	free(S->mb);
	free(S->wx);
	free(S);
}

void
kx_sim_res_free(kx_sim_res_t **rp)
{
	if (rp == NULL || *rp == NULL)
		return;
	free((*rp)->slots);
	free(*rp);
	*rp = NULL;
}

static unsigned
cpus(void)
{
	long	 c = sysconf(_SC_NPROCESSORS_ONLN);

	return c < 1 ? 1 : c > 2 ? 2 : (unsigned)c;
}

static int
sim_new(kx_sim_t **sp, const kx_scen_t *sc, const kx_sim_opt_t *opt,
    kx_sim_res_t *res)
{
	kx_sim_t	*S;
	size_t		 n = 0, t, i;
	unsigned	 q;

	if ((S = calloc(1, sizeof(*S))) == NULL)
		return KX_SIM_ENOMEM;
	*sp = S;
	pthread_mutex_init(&S->mu, NULL);
	pthread_cond_init(&S->cv_go, NULL);
	pthread_cond_init(&S->cv_done, NULL);
	S->sc = sc;
	S->res = res;
	for (t = 0; t < KX_SIM_TYPES; t++)
		n += sc->type[t].count;
	S->n = n;
	S->chunk = opt != NULL && opt->settle_chunk > 0 ? opt->settle_chunk :
	    CHUNK_DEF;
	S->plain = opt != NULL && opt->plain;
	if (S->chunk > n)
		S->chunk = n;
	S->nchunks = (n + S->chunk - 1) / S->chunk;
	S->k = sc->slot_s / KX_HH_S;
	S->J = KX_HH / S->k;
	S->warm = sc->forecast_days;
	S->ndays = S->warm + sc->days;
	S->day0 = sc->start - (int64_t)S->warm * DAY_S;
	S->noise_band = (int64_t)sc->load_noise_permille * 3 / 10;

	kx_params_default(&S->mp);
	S->mp.slot_s = sc->slot_s;
	S->mp.floor = (uint32_t)sc->floor;
	S->mp.ceiling = (uint32_t)sc->ceiling;
	S->mp.fee = (uint32_t)sc->fee;
	S->mp.pt_value = (int64_t)sc->pt_value;
	S->fco.days = (uint32_t)sc->forecast_days;
	S->fco.trim_permille = (uint32_t)sc->forecast_trim_permille;
	S->fco.cs_permille = (uint32_t)sc->forecast_cs_permille;
	for (t = 0; t < KX_SIM_TYPES; t++) {
		kx_strat_owner_t *o = &S->own[t];

		o->sell_min = (uint32_t)sc->sell_min;
		o->buy_max = (uint32_t)sc->buy_max;
		o->cap_wh = sc->type[t].batt_wh;
		o->reserve_wh = sc->type[t].batt_wh / 10;
		o->charge_w = (uint32_t)sc->type[t].batt_w;
		o->discharge_w = (uint32_t)sc->type[t].batt_w;
		o->eff_permille = (uint32_t)sc->batt_eff_permille;
		o->grid_charge = sc->grid_charge != 0;
	}
	for (i = 0; i < N_SITES; i++) {
		kx_strat_site_kaga(&S->sites[i], 1000000);	/* 1 MWp */
		S->sites[i].tilt = SITE_DIR[i].tilt;
		S->sites[i].azimuth = SITE_DIR[i].az;
	}

	if ((S->wx = calloc(S->ndays * KX_HH, sizeof(*S->wx))) == NULL ||
	    (S->mb = calloc(n, sizeof(*S->mb))) == NULL ||
	    (S->key = calloc(n, sizeof(*S->key))) == NULL ||
	    (S->oid = calloc(n, sizeof(*S->oid))) == NULL ||
	    (S->bill = calloc(n, sizeof(*S->bill))) == NULL ||
	    (S->grid = calloc(n, sizeof(*S->grid))) == NULL ||
	    (S->local_month = calloc(n, sizeof(*S->local_month))) == NULL ||
	    (S->points_due = calloc(n, sizeof(*S->points_due))) == NULL ||
	    (S->ctx = kx_clear_ctx_new()) == NULL)
		return KX_SIM_ENOMEM;
	for (i = 0; i < NBUF; i++)
		if ((S->book[i] = calloc(n, sizeof(*S->book[i]))) == NULL ||
		    (S->imp[i] = calloc(n, sizeof(*S->imp[i]))) == NULL ||
		    (S->exp[i] = calloc(n, sizeof(*S->exp[i]))) == NULL ||
		    (S->fills[i] = calloc(n, sizeof(*S->fills[i]))) == NULL ||
		    (S->side[i] = calloc(n, sizeof(*S->side[i]))) == NULL ||
		    (S->chunk_pos[i] = calloc(S->nchunks + 1,
		    sizeof(*S->chunk_pos[i]))) == NULL)
			return KX_SIM_ENOMEM;
	S->hseed = kx_mix(sc->seed ^ 0x6e6f697365ULL);
	kx_model_weather(S->wx, S->ndays, S->day0, sc->seed,
	    sc->cloud_permille);
	kx_model_norm(S->norm, sc, sc->start);
	if (make_city(S) != KX_SIM_OK)
		return KX_SIM_ENOMEM;

	S->nth = opt != NULL && opt->threads > 0 ? opt->threads : cpus();
	if (S->nth > 64)
		S->nth = 64;
	if (S->nth > 1 && n < 2 * THREAD_MIN)
		S->nth = 1;	/* a tiny city: not worth a thread */
	if ((S->w = calloc(S->nth, sizeof(*S->w))) == NULL)
		return KX_SIM_ENOMEM;
	for (q = 0; q < S->nth; q++) {
		S->w[q].S = S;
		S->w[q].id = q;
		if ((S->w[q].d = calloc(1, sizeof(dacc_t))) == NULL ||
		    (S->w[q].rd = calloc(S->chunk,
		    sizeof(kx_mkt_reading_t))) == NULL ||
		    (S->w[q].pts = calloc(S->chunk,
		    sizeof(kx_mkt_points_t))) == NULL ||
		    (S->w[q].memo = calloc((size_t)1 << MEMO_BITS,
		    sizeof(memo_t))) == NULL)
			return KX_SIM_ENOMEM;
	}
	for (q = 1; q < S->nth; q++) {
		if (pthread_create(&S->w[q].th, NULL, worker_main,
		    &S->w[q]) != 0) {
			/* run with the threads that started */
			S->nth = q;
			break;
		}
		S->threads_up = true;
	}
	return KX_SIM_OK;
}

int
kx_sim_run(kx_sim_res_t **resp, const kx_scen_t *sc, const kx_sim_opt_t *opt,
    char *err, size_t errlen)
{
	kx_sim_t	*S = NULL;
	kx_sim_res_t	*res;
	size_t		 j, i, t, nst, per;
	uint64_t	 t0 = now_ns(), last = t0, tw;
	int		 r;

	*resp = NULL;
	if (kx_scen_check(sc, err, errlen) != KX_SCEN_OK)
		return KX_SIM_EINVAL;
	if ((res = calloc(1, sizeof(*res))) == NULL)
		return KX_SIM_ENOMEM;
	res->sc = *sc;
	res->days = sc->days;
	res->slots_per_day = KX_HH / (sc->slot_s / KX_HH_S);
	res->n_slots = (size_t)sc->days * res->slots_per_day;
	if ((res->slots = calloc(res->n_slots, sizeof(*res->slots))) == NULL) {
		free(res);
		return KX_SIM_ENOMEM;
	}
	if ((r = sim_new(&S, sc, opt, res)) != KX_SIM_OK)
		goto fail;
	res->members = S->n;
	res->threads = S->nth;
	per = S->chunk < SETTLE_TASK ? SETTLE_TASK / S->chunk : 1;
	nst = (S->nchunks + per - 1) / per;
	for (i = 0; i < S->n; i++) {
		t = S->mb[i].type;
		res->type[t].members++;
		res->type[t].with_pv += (S->mb[i].flags & F_PV) != 0;
		res->type[t].with_batt += (S->mb[i].flags & F_BATT) != 0;
		res->type[t].with_ev += (S->mb[i].flags & F_EV) != 0;
	}

	/* warm-up: the history of the first forecasts */
	tw = now_ns();
	for (S->day = 0; S->day < S->warm; S->day++) {
		if ((r = day_begin(S)) != KX_SIM_OK)
			goto fail;
		memset(&S->ph, 0, sizeof(S->ph));
		S->ph.whole_day = true;
		S->ph.gen = true;
		if ((r = run_phase(S)) != KX_SIM_OK)
			goto fail;
		for (i = 0; i < S->nth; i++)
			memset(&S->w[i].g, 0, sizeof(S->w[i].g));
		day_end(S);
	}
	res->ns_warmup = now_ns() - tw;

	for (; S->day < S->ndays; S->day++) {
		if ((r = day_begin(S)) != KX_SIM_OK)
			goto fail;
		S->row0 = (S->day - S->warm) * S->J;
		for (j = 0; j < S->J; j++)
			res->slots[S->row0 + j].slot = S->day_t +
			    (int64_t)(j * sc->slot_s);
		/* phase j: generate j, clear j - 1, settle j - 2 */
		for (j = 0; j <= S->J; j++) {
			memset(&S->ph, 0, sizeof(S->ph));
			S->ph.stamp = ++S->stamps;
			if (j == 0) {
				S->ph.jg = 0;	/* the first orders, alone */
				S->ph.gen = true;
			} else {
				S->ph.clear = j - 1 < S->J;
				S->ph.jc = j - 1;
			}
			if (j >= 1 && j < S->J) {
				S->ph.jg = j;
				S->ph.gen = true;
			}
			if (j >= 2) {
				S->ph.js = j - 2;
				S->ph.nsc = nst;
			}
			if ((r = run_phase(S)) != KX_SIM_OK)
				goto fail;
			if (S->ph.gen)
				merge_gen(S, &res->slots[S->row0 + S->ph.jg],
				    S->ph.jg % NBUF);
			if (S->ph.nsc > 0) {
				merge_settle(S, &res->slots[S->row0 + S->ph.js],
				    S->ph.js % NBUF);
				res->agent_slots += S->n;
			}
			if (opt != NULL && opt->progress)
				progress(S, t0, &last);
		}
		/* the last slot's settlement */
		memset(&S->ph, 0, sizeof(S->ph));
		S->ph.js = S->J - 1;
		S->ph.nsc = nst;
		if ((r = run_phase(S)) != KX_SIM_OK)
			goto fail;
		merge_settle(S, &res->slots[S->row0 + S->ph.js],
		    S->ph.js % NBUF);
		res->agent_slots += S->n;
		day_end(S);
	}
	for (i = 0; i < S->n; i++)
		if (S->bill[i] > S->grid[i])
			res->type[S->mb[i].type].worse++;
	res->ns_total = now_ns() - t0;
	sim_free(S);
	*resp = res;
	return KX_SIM_OK;

 fail:
	if (S != NULL && S->err != KX_SIM_OK && err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", S->errmsg);
	else if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", kx_sim_strerror(r));
	sim_free(S);
	kx_sim_res_free(&res);
	return r;
}
