/*
 * summary.c - daily aggregates per area under the 15/15 rule, with
 * optional discrete Laplace noise; see summary.h and docs/aggregates.md.
 *
 * kx_summary_build makes one pass over the records: a hash set finds a
 * member given twice for a day, a hash table sums the records into
 * (day, area) groups. The groups (a few hundred a day) are sorted by
 * (day, area bytes), and each day's groups are merged greedily from the
 * first area on: a group that fails the rule takes in the next area,
 * and the next, until the cell passes; a failing tail goes into the
 * day's previous cell when that cell still passes with it, and is
 * suppressed otherwise. Sums are 128-bit, so nothing wraps before the
 * final check against KX_SUM_TOTAL_MAX.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "mp.h"
#include "summary.h"

typedef unsigned __int128 u128;

/* Defaults for the noise bounds (docs/aggregates.md). */
#define BOUND_WH	30000ULL		/* 30 kWh a member-day */
#define BOUND_MSEN	(30000ULL * 3100)	/* 30 kWh at the ceiling */
#define BOUND_POINTS	1000ULL
#define BOUND_MINUTES	480ULL			/* 8 hours */

static const char *const field_names[KX_SUM_NFIELDS] = {
	[KX_SUM_IMPORT] = "import_wh",
	[KX_SUM_EXPORT] = "export_wh",
	[KX_SUM_BOUGHT] = "bought_local_wh",
	[KX_SUM_SOLD] = "sold_local_wh",
	[KX_SUM_LOCAL] = "local_supply_wh",
	[KX_SUM_MONEY_LOCAL] = "money_local_msen",
	[KX_SUM_MONEY_GRID] = "money_grid_msen",
	[KX_SUM_PTS_ISSUED] = "points_issued",
	[KX_SUM_PTS_REDEEMED] = "points_redeemed",
	[KX_SUM_MINUTES] = "volunteer_minutes",
};

const char *
kx_sum_field_name(int f)
{
	if (f < 0 || f >= KX_SUM_NFIELDS)
		return NULL;
	return field_names[f];
}

const char *
kx_sum_strerror(int e)
{
	switch (e) {
	case KX_SUM_OK:		return "ok";
	case KX_SUM_EINVAL:	return "input out of range";
	case KX_SUM_EDUP:	return "a member twice in one day";
	case KX_SUM_ERANGE:	return "a total too large to publish";
	case KX_SUM_ENOMEM:	return "out of memory";
	case KX_SUM_EPARSE:	return "not a summary body";
	default:		return "unknown error";
	}
}

void
kx_sum_params_default(kx_sum_params_t *p)
{
	int	 f;

	memset(p, 0, sizeof(*p));
	p->min_members = KX_SUM_MIN_MEMBERS;
	p->max_share_pct = KX_SUM_MAX_SHARE_PCT;
	p->eps_milli = 0;
	for (f = 0; f < KX_SUM_NFIELDS; f++)
		p->bound[f] = BOUND_WH;
	p->bound[KX_SUM_MONEY_LOCAL] = BOUND_MSEN;
	p->bound[KX_SUM_MONEY_GRID] = BOUND_MSEN;
	p->bound[KX_SUM_PTS_ISSUED] = BOUND_POINTS;
	p->bound[KX_SUM_PTS_REDEEMED] = BOUND_POINTS;
	p->bound[KX_SUM_MINUTES] = BOUND_MINUTES;
}

/* ---- JST days ---------------------------------------------------------- */

#define JST_S	(9 * 3600)
#define DAY_S	86400

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		 era;
	unsigned	 yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t		 era;
	unsigned	 doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int32_t
kx_sum_day_of_ms(int64_t ts_ms)
{
	int64_t	 s = floor_div(ts_ms, 1000) + JST_S;

	return (int32_t)floor_div(s, DAY_S);
}

int64_t
kx_sum_day_start(int32_t day)
{
	return (int64_t)day * DAY_S - JST_S;
}

int
kx_sum_day_parse(const char *s, size_t len, int32_t *day)
{
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };
	unsigned	 y = 0, m, d, dim;
	size_t		 i;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	for (i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(s[i] - '0');
	m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
	d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
	if (y < 1900 || m < 1 || m > 12 || d < 1)
		return -1;
	dim = mdays[m - 1];
	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		dim = 29;
	if (d > dim)
		return -1;
	*day = (int32_t)days_from_civil(y, m, d);
	return 0;
}

void
kx_sum_day_format(char out[11], int32_t day)
{
	int64_t		 y;
	unsigned	 m, d;

	civil_from_days(day, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = 0;
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
}

/* ---- discrete Laplace --------------------------------------------------- */

/*
 * Random bits from randombytes, 256 bytes at a time (one getrandom per
 * few samples rather than per draw); wiped after each sample, since
 * whoever learns the noise can take it off.
 */
struct pool {
	uint64_t	 v[32];
	unsigned	 i;
};

static uint64_t
draw(struct pool *p)
{
	if (p->i == sizeof(p->v) / sizeof(p->v[0])) {
		randombytes_buf(p->v, sizeof(p->v));
		p->i = 0;
	}
	return p->v[p->i++];
}

/* Uniform in [0, n), n >= 1, without modulo bias. */
static uint64_t
uniform(struct pool *p, uint64_t n)
{
	uint64_t	 r, lim;

	lim = (0 - n) % n;	/* 2^64 mod n: [lim, 2^64) is n-divisible */
	do
		r = draw(p);
	while (r < lim);
	return r % n;
}

/* Bernoulli(num / den), num <= den. */
static bool
bern(struct pool *p, uint64_t num, uint64_t den)
{
	return uniform(p, den) < num;
}

/*
 * Bernoulli(exp(-num/den)) for num <= den (CKS algorithm 1): draw
 * Bernoulli(gamma / k) for k = 1, 2, ... until one fails; odd k wins.
 * Bernoulli(gamma / k) is Bernoulli(gamma) and Bernoulli(1 / k).
 */
static bool
bern_exp(struct pool *p, uint64_t num, uint64_t den)
{
	uint64_t	 k = 1;

	while (bern(p, num, den) && bern(p, 1, k))
		k++;
	return k % 2 == 1;
}

int64_t
kx_sum_dlaplace(uint64_t num, uint64_t den)
{
	struct pool	 p;
	uint64_t	 u, v;
	u128		 x, y;
	bool		 neg;
	int64_t		 r;

	if (num == 0 || den == 0)
		return 0;
	p.i = sizeof(p.v) / sizeof(p.v[0]);
	for (;;) {
		u = uniform(&p, num);
		if (!bern_exp(&p, u, num))
			continue;
		for (v = 0; bern_exp(&p, 1, 1); v++)
			;
		x = (u128)u + (u128)num * v;	/* Geometric(1 - e^(-1/num)) */
		y = x / den;		/* Geometric(1 - e^(-den/num)) */
		neg = (draw(&p) & 1) == 1;
		if (neg && y == 0)
			continue;
		if (y > INT64_MAX)
			y = INT64_MAX;
		r = neg ? -(int64_t)y : (int64_t)y;
		sodium_memzero(&p, sizeof(p));
		return r;
	}
}

/* ---- building ----------------------------------------------------------- */

/* One (day, area): the sums of its members' records. */
struct grp {
	int32_t		 day;
	uint32_t	 members;
	char		 area[KX_SUM_AREA_MAX + 1];
	uint64_t	 e_max;		/* largest import + export of a member */
	u128		 e_total;	/* energy handled: import + export */
	u128		 sum[KX_SUM_NFIELDS];
	u128		 clip[KX_SUM_NFIELDS];	/* values clipped to bounds */
};

/* A cell being formed from consecutive groups. */
struct acc {
	uint32_t	 members;
	uint64_t	 e_max;
	u128		 e_total;
	u128		 sum[KX_SUM_NFIELDS];
	u128		 clip[KX_SUM_NFIELDS];
};

struct build {
	const kx_sum_params_t	*p;
	struct grp		*g;		/* (day, area) groups */
	size_t			 ng;
	uint32_t		*gtab;		/* group index + 1 */
	uint32_t		*mtab;		/* record index + 1 */
	size_t			 mask;
	const kx_sum_input_t	*in;		/* the records */
	size_t			*pend;		/* merge_day: groups left */
	int			*cellno;	/* per group: its cell */
	struct acc		*accs;		/* merge_day: per cell */
	kx_summary_t		*s;
	char			*err;
	size_t			 errlen;
};

#define SUPPRESSED	-1	/* cellno: not in a published cell */
#define EMITTED		-2	/* cellno: already in s->cells */

static int
fail(struct build *b, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct build *b, int rc, const char *fmt, ...)
{
	va_list	 ap;

	if (b->err != NULL && b->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(b->err, b->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t	*c = p;
	size_t		 i;

	for (i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV0	0xcbf29ce484222325ULL

static void
values(const kx_sum_input_t *in, uint64_t v[KX_SUM_NFIELDS])
{
	v[KX_SUM_IMPORT] = in->imp_wh;
	v[KX_SUM_EXPORT] = in->exp_wh;
	v[KX_SUM_BOUGHT] = in->bought_wh;
	v[KX_SUM_SOLD] = in->sold_wh;
	v[KX_SUM_LOCAL] = in->bought_wh < in->imp_wh ? in->bought_wh :
	    in->imp_wh;
	v[KX_SUM_MONEY_LOCAL] = in->money_local;
	v[KX_SUM_MONEY_GRID] = in->money_grid;
	v[KX_SUM_PTS_ISSUED] = in->pts_issued;
	v[KX_SUM_PTS_REDEEMED] = in->pts_redeemed;
	v[KX_SUM_MINUTES] = in->minutes;
}

/* 1 when the record was seen before for its day, 0 when new. */
static int
seen(struct build *b, const kx_sum_input_t *in, size_t idx)
{
	size_t		 h;
	uint32_t	 e;

	h = (size_t)fnv(fnv(FNV0, in->member, 32), &in->day, sizeof(in->day));
	for (h &= b->mask; (e = b->mtab[h]) != 0; h = (h + 1) & b->mask) {
		const kx_sum_input_t	*o = &b->in[e - 1];

		if (o->day == in->day && memcmp(o->member, in->member, 32) == 0)
			return 1;
	}
	b->mtab[h] = (uint32_t)idx + 1;
	return 0;
}

static struct grp *
group(struct build *b, int32_t day, const char *area)
{
	size_t		 h, alen = strlen(area);
	uint32_t	 e;
	struct grp	*g;

	h = (size_t)fnv(fnv(FNV0, area, alen), &day, sizeof(day));
	for (h &= b->mask; (e = b->gtab[h]) != 0; h = (h + 1) & b->mask) {
		g = &b->g[e - 1];
		if (g->day == day && strcmp(g->area, area) == 0)
			return g;
	}
	g = &b->g[b->ng];	/* sized for one group a record */
	memset(g, 0, sizeof(*g));
	g->day = day;
	memcpy(g->area, area, alen + 1);
	b->gtab[h] = (uint32_t)++b->ng;
	return g;
}

static int
grp_cmp(const void *a, const void *b)
{
	const struct grp	*x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return strcmp(x->area, y->area);
}

static void
acc_add(struct acc *a, const struct grp *g)
{
	int	 f;

	a->members += g->members;
	a->e_total += g->e_total;
	if (g->e_max > a->e_max)
		a->e_max = g->e_max;
	for (f = 0; f < KX_SUM_NFIELDS; f++) {
		a->sum[f] += g->sum[f];
		a->clip[f] += g->clip[f];
	}
}

static void
acc_join(struct acc *a, const struct acc *o)
{
	int	 f;

	a->members += o->members;
	a->e_total += o->e_total;
	if (o->e_max > a->e_max)
		a->e_max = o->e_max;
	for (f = 0; f < KX_SUM_NFIELDS; f++) {
		a->sum[f] += o->sum[f];
		a->clip[f] += o->clip[f];
	}
}

/* The 15/15 rule on unnoised, unclipped sums. */
static bool
acc_ok(const struct acc *a, const kx_sum_params_t *p)
{
	return a->members >= p->min_members &&
	    (u128)a->e_max * 100 <= (u128)p->max_share_pct * a->e_total;
}

/* Appends the cell of group lo: with every group of cell c in [lo, hi)
 * when published, alone when suppressed. */
static int
cell_push(struct build *b, size_t lo, size_t hi, int c, bool pub)
{
	kx_summary_t	*s = b->s;
	kx_sum_cell_t	*cell;
	size_t		 i;

	if (s->ncells == s->cap_cells) {
		size_t	 cap = s->cap_cells ? 2 * s->cap_cells : 16;

		if ((cell = reallocarray(s->cells, cap, sizeof(*cell))) == NULL)
			return KX_SUM_ENOMEM;
		s->cells = cell;
		s->cap_cells = cap;
	}
	cell = &s->cells[s->ncells++];
	memset(cell, 0, sizeof(*cell));
	cell->day = b->g[lo].day;
	cell->first_area = (uint32_t)s->nareas;
	cell->published = pub;
	cell->self_permille = -1;
	cell->money_permille = -1;
	for (i = lo; i < (pub ? hi : lo + 1); i++)
		if (b->cellno[i] == c) {
			memcpy(s->areas[s->nareas++], b->g[i].area,
			    sizeof(b->g[i].area));
			cell->n_areas++;
			b->cellno[i] = EMITTED;
		}
	return KX_SUM_OK;
}

/* Fills a published cell's totals (noised when asked) and ratios. */
static int
cell_totals(struct build *b, kx_sum_cell_t *c, const struct acc *a)
{
	const kx_sum_params_t	*p = b->p;
	char			 d[11];
	u128			 num;
	int64_t			 x;
	int			 f;

	c->members = a->members;
	for (f = 0; f < KX_SUM_NFIELDS; f++) {
		if (a->sum[f] > KX_SUM_TOTAL_MAX) {
			kx_sum_day_format(d, c->day);
			return fail(b, KX_SUM_ERANGE, "%s: %s: %s is over "
			    "2^53 - 1", d, b->s->areas[c->first_area],
			    field_names[f]);
		}
		if (p->eps_milli == 0) {
			c->total[f] = (int64_t)a->sum[f];
			continue;
		}
		x = (int64_t)a->clip[f] + kx_sum_dlaplace(p->bound[f] * 1000,
		    p->eps_milli);
		if (x < 0)
			x = 0;
		if ((uint64_t)x > KX_SUM_TOTAL_MAX)
			x = (int64_t)KX_SUM_TOTAL_MAX;
		c->total[f] = x;
	}
	if (c->total[KX_SUM_IMPORT] > 0) {
		num = (u128)(c->total[KX_SUM_LOCAL] < c->total[KX_SUM_IMPORT] ?
		    c->total[KX_SUM_LOCAL] : c->total[KX_SUM_IMPORT]) * 1000;
		c->self_permille = (int32_t)(num /
		    (u128)c->total[KX_SUM_IMPORT]);
	}
	num = (u128)c->total[KX_SUM_MONEY_LOCAL] +
	    (u128)c->total[KX_SUM_MONEY_GRID];
	if (num > 0)
		c->money_permille = (int32_t)((u128)c->total[
		    KX_SUM_MONEY_LOCAL] * 1000 / num);
	return KX_SUM_OK;
}

/*
 * Forms the cells of one day's groups [lo, hi), in area order. pend
 * holds the groups not yet in a cell; from its front, groups join one by
 * one until the cell passes. A tail that cannot pass goes into the
 * previous cell if that still passes; otherwise, when the tail has the
 * members but one of them dominates, the area of the most dominant
 * member is suppressed and the tail tried again without it; when it has
 * too few members, all of it is suppressed.
 */
static int
merge_day(struct build *b, size_t lo, size_t hi)
{
	struct acc	 cur, both;
	size_t		 np = hi - lo, k, m, t, d, i;
	int		 nc = 0, c, rc;

	for (k = 0; k < np; k++) {
		b->pend[k] = lo + k;
		b->cellno[lo + k] = SUPPRESSED;
	}
	k = 0;
	while (k < np) {
		memset(&cur, 0, sizeof(cur));
		for (m = k; m < np; ) {
			acc_add(&cur, &b->g[b->pend[m++]]);
			if (acc_ok(&cur, b->p))
				break;
		}
		if (acc_ok(&cur, b->p)) {
			for (t = k; t < m; t++)
				b->cellno[b->pend[t]] = nc;
			b->accs[nc++] = cur;
			k = m;
			continue;
		}
		if (nc > 0) {
			both = b->accs[nc - 1];
			acc_join(&both, &cur);
			if (acc_ok(&both, b->p)) {
				for (t = k; t < np; t++)
					b->cellno[b->pend[t]] = nc - 1;
				b->accs[nc - 1] = both;
				break;
			}
		}
		if (cur.members < b->p->min_members)
			break;		/* too few: the rest stays suppressed */
		for (d = t = k; t < np; t++)
			if (b->g[b->pend[t]].e_max > b->g[b->pend[d]].e_max)
				d = t;
		memmove(&b->pend[d], &b->pend[d + 1],
		    (np - d - 1) * sizeof(*b->pend));
		np--;
	}
	for (i = lo; i < hi; i++) {
		if ((c = b->cellno[i]) == EMITTED)
			continue;
		if ((rc = cell_push(b, i, hi, c, c != SUPPRESSED)) !=
		    KX_SUM_OK)
			return rc;
		if (c != SUPPRESSED && (rc = cell_totals(b,
		    &b->s->cells[b->s->ncells - 1], &b->accs[c])) != KX_SUM_OK)
			return rc;
	}
	return KX_SUM_OK;
}

kx_summary_t *
kx_summary_new(void)
{
	return calloc(1, sizeof(kx_summary_t));
}

void
kx_summary_free(kx_summary_t **sp)
{
	kx_summary_t	*s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	free(s->cells);
	free(s->areas);
	free(s);
	*sp = NULL;
}

static int
check_params(struct build *b)
{
	const kx_sum_params_t	*p = b->p;
	int			 f;

	if (p->min_members < 1 || p->max_share_pct < 1 ||
	    p->max_share_pct > 100)
		return fail(b, KX_SUM_EINVAL, "rule: min_members must be "
		    "at least 1 and max_share_pct 1 to 100");
	if (p->eps_milli > KX_SUM_EPS_MAX)
		return fail(b, KX_SUM_EINVAL, "epsilon: at most 1000");
	for (f = 0; p->eps_milli > 0 && f < KX_SUM_NFIELDS; f++)
		if (p->bound[f] < 1 || p->bound[f] > KX_SUM_BOUND_MAX)
			return fail(b, KX_SUM_EINVAL, "bounds: %s must be 1 "
			    "to 10^12", field_names[f]);
	return KX_SUM_OK;
}

/* Sums record `in` (number idx) into its group. */
static int
add_record(struct build *b, const kx_sum_input_t *in, size_t idx)
{
	uint64_t	 v[KX_SUM_NFIELDS], any = 0;
	const char	*area;
	char		 hex[17];
	struct grp	*g;
	size_t		 alen;
	int		 f;

	kx_hex(hex, in->member, 8);
	values(in, v);
	for (f = 0; f < KX_SUM_NFIELDS; f++) {
		if (v[f] > KX_SUM_VALUE_MAX)
			return fail(b, KX_SUM_EINVAL, "record %zu (member "
			    "%s..): %s: over 10^15", idx, hex, field_names[f]);
		any |= v[f];
	}
	alen = strnlen(in->area, sizeof(in->area));
	if (alen > KX_SUM_AREA_MAX || !kx_utf8_valid((const uint8_t *)in->area,
	    alen))
		return fail(b, KX_SUM_EINVAL, "record %zu (member %s..): "
		    "area: not UTF-8 of at most 32 bytes", idx, hex);
	if (any == 0)
		return KX_SUM_OK;	/* contributes nothing, counts nowhere */
	if (seen(b, in, idx))
		return fail(b, KX_SUM_EDUP, "record %zu (member %s..): "
		    "member: given twice for one day", idx, hex);
	area = alen == 0 ? KX_SUM_UNASSIGNED : in->area;
	g = group(b, in->day, area);
	g->members++;
	g->e_total += (u128)in->imp_wh + in->exp_wh;
	if (in->imp_wh + in->exp_wh > g->e_max)
		g->e_max = in->imp_wh + in->exp_wh;
	for (f = 0; f < KX_SUM_NFIELDS; f++) {
		g->sum[f] += v[f];
		if (b->p->eps_milli > 0)
			g->clip[f] += v[f] < b->p->bound[f] ? v[f] :
			    b->p->bound[f];
	}
	return KX_SUM_OK;
}

int
kx_summary_build(kx_summary_t **out, const kx_sum_input_t *in, size_t n,
    const kx_sum_params_t *p, char *err, size_t errlen)
{
	struct build	 b;
	size_t		 i, j, tab = 16;
	int		 rc;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	b.p = p;
	b.in = in;
	b.err = err;
	b.errlen = errlen;
	if ((rc = check_params(&b)) != KX_SUM_OK)
		return rc;
	if (n >= UINT32_MAX / 4)
		return fail(&b, KX_SUM_EINVAL, "too many records");
	while (tab < 2 * n)
		tab *= 2;
	b.mask = tab - 1;
	rc = KX_SUM_ENOMEM;
	if ((b.s = kx_summary_new()) == NULL ||
	    (b.g = calloc(n ? n : 1, sizeof(*b.g))) == NULL ||
	    (b.gtab = calloc(tab, sizeof(*b.gtab))) == NULL ||
	    (b.mtab = calloc(tab, sizeof(*b.mtab))) == NULL)
		goto fail;
	b.s->min_members = p->min_members;
	b.s->max_share_pct = p->max_share_pct;
	b.s->eps_milli = p->eps_milli;
	if (p->eps_milli > 0)
		memcpy(b.s->bound, p->bound, sizeof(b.s->bound));
	for (i = 0; i < n; i++)
		if ((rc = add_record(&b, &in[i], i)) != KX_SUM_OK)
			goto fail;
	free(b.gtab);
	free(b.mtab);
	b.gtab = b.mtab = NULL;
	qsort(b.g, b.ng, sizeof(*b.g), grp_cmp);
	rc = KX_SUM_ENOMEM;
	if ((b.s->areas = calloc(b.ng ? b.ng : 1, sizeof(*b.s->areas))) ==
	    NULL || (b.pend = calloc(b.ng ? b.ng : 1, sizeof(*b.pend))) ==
	    NULL || (b.cellno = calloc(b.ng ? b.ng : 1, sizeof(*b.cellno))) ==
	    NULL || (b.accs = calloc(b.ng ? b.ng : 1, sizeof(*b.accs))) ==
	    NULL)
		goto fail;
	b.s->cap_areas = b.ng ? b.ng : 1;
	for (i = 0; i < b.ng; i = j) {
		for (j = i + 1; j < b.ng && b.g[j].day == b.g[i].day; j++)
			;
		if ((rc = merge_day(&b, i, j)) != KX_SUM_OK)
			goto fail;
	}
	free(b.accs);
	free(b.cellno);
	free(b.pend);
	free(b.g);
	*out = b.s;
	return KX_SUM_OK;
fail:
	if (rc == KX_SUM_ENOMEM)
		(void)fail(&b, rc, "out of memory");
	free(b.accs);
	free(b.cellno);
	free(b.pend);
	free(b.mtab);
	free(b.gtab);
	free(b.g);
	kx_summary_free(&b.s);
	return rc;
}
