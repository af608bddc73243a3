/*
 * market.c - clearing (PROTOCOL.md section 6) and settlement (section 7)
 * of one slot.
 *
 * Integers only. Steps are packed into 64-bit sort keys so that one radix
 * sort per side gives the protocol's order, tie-breaks included:
 *
 *   sell:  clamped price                 << 32 | rank << 4 | k
 *   buy:   (KX_PRICE_MAX - net price)    << 32 | rank << 4 | k
 *
 * where rank is the order's position among the included orders in
 * ascending id (byte) order and k the step index: ascending keys are
 * (price asc | net price desc, id asc, k asc). Tuned for books of 10^3 to
 * 10^7 steps; small books fall back to qsort inside kx_sort_u64.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "market.h"

#define LOW_BITS	32
#define K_BITS		4

const char *
kx_mkt_strerror(int e)
{
	switch (e) {
	case KX_MKT_OK:		return "ok";
	case KX_MKT_EINVAL:	return "market: invalid argument";
	case KX_MKT_ENOMEM:	return "market: out of memory";
	case KX_MKT_EDUP:	return "market: duplicate id or member";
	case KX_MKT_ERANGE:	return "market: money sum out of range";
	case KX_MKT_E2BIG:	return "market: too many orders";
	default:		return "market: unknown error";
	}
}

int64_t
kx_floor_half(int64_t a)
{
	/* C division truncates toward zero; step down for negative odds. */
	return a / 2 - (a % 2 != 0 && a < 0);
}

int
kx_order_check(const kx_order_t *o, int *step)
{
	uint32_t	 k;

	*step = -1;
	if ((o->side != KX_BUY && o->side != KX_SELL) || o->n < 1 ||
	    o->n > KX_STEPS_MAX)
		return KX_MKT_EINVAL;
	for (k = 0; k < o->n; k++) {
		*step = (int)k;
		if (o->wh[k] < 1 || o->wh[k] > KX_WH_STEP_MAX ||
		    o->price[k] > KX_PRICE_MAX)
			return KX_MKT_EINVAL;
		if (k > 0 && o->side == KX_SELL &&
		    o->price[k] <= o->price[k - 1])
			return KX_MKT_EINVAL;
		if (k > 0 && o->side == KX_BUY &&
		    o->price[k] >= o->price[k - 1])
			return KX_MKT_EINVAL;
	}
	*step = -1;
	return KX_MKT_OK;
}

/* ---- sorting ------------------------------------------------------- */

#define RADIX_BITS	11
#define RADIX		(1u << RADIX_BITS)
#define RADIX_PASSES	6	/* 66 bits >= 64 */
/* Radix sort of keys k carrying payloads v (tk, tv: scratch). */
static void
sort_kv(uint64_t *k, uint32_t *v, uint64_t *tk, uint32_t *tv, size_t n)
{
	size_t		(*cnt)[RADIX];
	uint64_t	*src = k, *dst = tk, *t;
	uint32_t	*vs = v, *vd = tv, *tt;
	size_t		 i, sum, c, pos;
	int		 d;
	unsigned	 sh;

	if (n < 2)
		return;
	if ((cnt = calloc(RADIX_PASSES, sizeof(*cnt))) == NULL) {
		/* insertion sort fallback: correct, slow, no memory */
		for (i = 1; i < n; i++) {
			uint64_t x = k[i];
			uint32_t y = v != NULL ? v[i] : 0;

			for (c = i; c > 0 && k[c - 1] > x; c--) {
				k[c] = k[c - 1];
				if (v != NULL)
					v[c] = v[c - 1];
			}
			k[c] = x;
			if (v != NULL)
				v[c] = y;
		}
		return;
	}
	for (i = 0; i < n; i++)
		for (d = 0; d < RADIX_PASSES; d++)
			cnt[d][(src[i] >> (d * RADIX_BITS)) & (RADIX - 1)]++;
	for (d = 0; d < RADIX_PASSES; d++) {
		sh = (unsigned)d * RADIX_BITS;
		/* all keys share this digit: the pass would be a copy */
		if (cnt[d][(src[0] >> sh) & (RADIX - 1)] == n)
			continue;
		for (sum = 0, i = 0; i < RADIX; i++) {
			c = cnt[d][i];
			cnt[d][i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++) {
			pos = cnt[d][(src[i] >> sh) & (RADIX - 1)]++;
			dst[pos] = src[i];
			if (v != NULL)
				vd[pos] = vs[i];
		}
		t = src;
		src = dst;
		dst = t;
		tt = vs;
		vs = vd;
		vd = tt;
	}
	if (src != k) {
		memcpy(k, src, n * sizeof(*k));
		if (v != NULL)
			memcpy(v, vs, n * sizeof(*v));
	}
	free(cnt);
}

void
kx_sort_u64(uint64_t *k, uint64_t *tmp, size_t n)
{
	sort_kv(k, NULL, tmp, NULL, n);
}

/* Sorting order indices by id: a radix sort of (37-bit id prefix, index)
 * keys, then runs with an equal prefix are sorted by the whole id. */
#define IDX_BITS	27
static int
cmp_idx_id(const void *a, const void *b, void *ctx)
{
	const kx_order_t *o = ctx;
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int		 c;

	c = memcmp(o[x].id, o[y].id, KX_MKT_ID_LEN);
	return c != 0 ? c : (x > y) - (x < y);
}

static uint64_t
id_prefix(const uint8_t *id)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | id[i];
	return v;
}

/* idx: n entries out, order indices in ascending id order. */
static int
sort_by_id(uint32_t *idx, const kx_order_t *o, size_t n)
{
	uint64_t	*key, *tmp;
	uint64_t	 mask = ((uint64_t)1 << IDX_BITS) - 1;
	size_t		 i, j;

	if (n == 0)
		return KX_MKT_OK;
	if ((key = malloc(2 * n * sizeof(*key))) == NULL)
		return KX_MKT_ENOMEM;
	tmp = key + n;
	for (i = 0; i < n; i++)
		key[i] = (id_prefix(o[i].id) >> IDX_BITS) << IDX_BITS | i;
	kx_sort_u64(key, tmp, n);
	for (i = 0; i < n; i++)
		idx[i] = (uint32_t)(key[i] & mask);
	/* runs that share the prefix: sort by the full id */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && (key[j] >> IDX_BITS) ==
		    (key[i] >> IDX_BITS); j++)
			;
		if (j - i > 1)	/* glibc qsort_r (_GNU_SOURCE) */
			qsort_r(idx + i, j - i, sizeof(*idx), cmp_idx_id,
			    (void *)(uintptr_t)o);
	}
	free(key);
	for (i = 1; i < n; i++)
		if (memcmp(o[idx[i - 1]].id, o[idx[i]].id,
		    KX_MKT_ID_LEN) == 0)
			return KX_MKT_EDUP;
	return KX_MKT_OK;
}

/* ---- clearing ------------------------------------------------------ */

/* Step 5 for one side, found from its sorted steps: steps whose sort
 * code is below `code` are filled fully; those at `code` get
 * floor(v x wh / w), plus 1 when their low key is below `cut`. */
typedef struct {
	uint64_t	 code;	/* key >> 32 of the marginal level */
	uint64_t	 v, w;	/* volume left for the level, its total wh */
	uint64_t	 cut;	/* low keys below this get a remainder Wh */
	int64_t		 money;	/* sum of (net) price x fill on the side */
} level_t;

static int64_t
code_price(uint64_t code, int sell)
{
	return sell ? (int64_t)code : (int64_t)KX_PRICE_MAX - (int64_t)code;
}

static void
find_level(level_t *lv, const uint64_t *keys, const uint32_t *wh,
    size_t ns, size_t last, uint64_t q, int sell)
{
	uint64_t	 below = 0, sum = 0, rem;
	size_t		 a, e, i;

	lv->code = keys[last] >> LOW_BITS;
	lv->money = 0;
	lv->w = 0;
	for (a = last; a > 0 && keys[a - 1] >> LOW_BITS == lv->code; a--)
		;
	for (e = last + 1; e < ns && keys[e] >> LOW_BITS == lv->code; e++)
		;
	for (i = 0; i < a; i++) {
		below += wh[i];
		lv->money += code_price(keys[i] >> LOW_BITS, sell) *
		    (int64_t)wh[i];
	}
	for (i = a; i < e; i++)
		lv->w += wh[i];
	lv->v = q - below;	/* 0 < v <= w */
	for (i = a; i < e; i++)	/* v <= 10^12, wh <= 10^7: fits uint64 */
		sum += lv->v * wh[i] / lv->w;
	rem = lv->v - sum;	/* < e - a: one each to the first rem */
	lv->cut = a + rem < e ? (uint32_t)keys[a + rem] : UINT64_MAX;
	lv->money += code_price(lv->code, sell) * (int64_t)lv->v;
}

/* The fill of one step from its sort code and low key. */
static inline uint64_t
step_fill(const level_t *lv, uint64_t code, uint64_t low, uint64_t wh)
{
	if (code < lv->code)
		return wh;
	if (code > lv->code)
		return 0;
	return lv->v * wh / lv->w + (low < lv->cut);
}

int
kx_clear(kx_clear_t *res, uint64_t *fills, bool *included,
    const kx_order_t *o, size_t n, const kx_params_t *p)
{
	uint32_t	*idx = NULL, *inc = NULL, *swh = NULL, *bwh = NULL;
	uint32_t	*twh = NULL;
	uint64_t	*sk = NULL, *bk = NULL, *tmp = NULL;
	uint64_t	 tot[2] = { 0, 0 }, sum, rem_s, rem_b, q, low, code;
	size_t		 i, ni = 0, ns = 0, nb = 0, si, bi, last_s, last_b, mx;
	int64_t		 ps, pb, lo, hi, net, price;
	crypto_generichash_state st;
	level_t		 ls, lb;
	uint32_t	 k, c;
	int		 r, step;

	memset(res, 0, sizeof(*res));
	if (p->floor > KX_PRICE_MAX || p->ceiling > KX_PRICE_MAX ||
	    p->fee > KX_PRICE_MAX || p->floor > p->ceiling ||
	    p->fee >= p->ceiling)
		return KX_MKT_EINVAL;
	if (n > KX_MKT_ORDERS_MAX)
		return KX_MKT_E2BIG;
	for (i = 0; i < n; i++)
		if (kx_order_check(&o[i], &step) != KX_MKT_OK)
			return KX_MKT_EINVAL;
	res->floor = p->floor;
	res->ceiling = p->ceiling;
	res->fee = p->fee;
	memset(fills, 0, n * sizeof(*fills));
	if (included != NULL)
		memset(included, 0, n * sizeof(*included));

	r = KX_MKT_ENOMEM;
	if (n > 0 && ((idx = malloc(n * sizeof(*idx))) == NULL ||
	    (inc = malloc(n * sizeof(*inc))) == NULL))
		goto fail;
	if ((r = sort_by_id(idx, o, n)) != KX_MKT_OK)
		goto fail;

	/* Bounds: ascending id order, an order past 10^12 Wh is left out. */
	crypto_generichash_init(&st, NULL, 0, 32);
	for (i = 0; i < n; i++) {
		const kx_order_t *x = &o[idx[i]];

		for (sum = 0, k = 0; k < x->n; k++)
			sum += x->wh[k];
		if (tot[x->side] + sum > KX_MKT_SIDE_MAX)
			continue;
		tot[x->side] += sum;
		inc[ni++] = idx[i];
		if (x->side == KX_SELL)
			ns += x->n;
		else
			nb += x->n;
		if (included != NULL)
			included[idx[i]] = true;
		crypto_generichash_update(&st, x->id, KX_MKT_ID_LEN);
	}
	crypto_generichash_final(&st, res->set, 32);
	res->n_included = ni;

	r = KX_MKT_ENOMEM;
	mx = (ns > nb ? ns : nb) + 1;
	if ((sk = malloc((ns + 1) * sizeof(*sk))) == NULL ||
	    (bk = malloc((nb + 1) * sizeof(*bk))) == NULL ||
	    (tmp = malloc(mx * sizeof(*tmp))) == NULL ||
	    (swh = malloc((ns + 1) * sizeof(*swh))) == NULL ||
	    (bwh = malloc((nb + 1) * sizeof(*bwh))) == NULL ||
	    (twh = malloc(mx * sizeof(*twh))) == NULL)
		goto fail;

	/* Step 1: expand, clamp, net; step 2: sort (wh rides along). */
	for (ns = nb = 0, i = 0; i < ni; i++) {
		const kx_order_t *x = &o[inc[i]];

		for (k = 0; k < x->n; k++) {
			low = (uint64_t)i << K_BITS | k;
			c = x->price[k];
			if (x->side == KX_SELL) {
				if (c < p->floor)
					c = p->floor;
				swh[ns] = (uint32_t)x->wh[k];
				sk[ns++] = (uint64_t)c << LOW_BITS | low;
			} else {
				if (c > p->ceiling)
					c = p->ceiling;
				net = (int64_t)c - (int64_t)p->fee;
				bwh[nb] = (uint32_t)x->wh[k];
				bk[nb++] = (uint64_t)((int64_t)KX_PRICE_MAX -
				    net) << LOW_BITS | low;
			}
		}
	}
	sort_kv(sk, swh, tmp, twh, ns);
	sort_kv(bk, bwh, tmp, twh, nb);

	/* Step 3: greedy match. */
	q = 0;
	si = bi = 0;
	last_s = last_b = 0;
	rem_s = ns > 0 ? swh[0] : 0;
	rem_b = nb > 0 ? bwh[0] : 0;
	while (si < ns && bi < nb && code_price(bk[bi] >> LOW_BITS, 0) >=
	    code_price(sk[si] >> LOW_BITS, 1)) {
		uint64_t m = rem_s < rem_b ? rem_s : rem_b;

		q += m;
		last_s = si;
		last_b = bi;
		rem_s -= m;
		rem_b -= m;
		if (rem_s == 0 && ++si < ns)
			rem_s = swh[si];
		if (rem_b == 0 && ++bi < nb)
			rem_b = bwh[bi];
	}
	res->volume = q;
	if (q == 0) {
		r = KX_MKT_OK;
		goto done;	/* no trade: price nil, no fills */
	}

	/* Step 4: the price. si, bi are the first steps with volume left. */
	ps = code_price(sk[last_s] >> LOW_BITS, 1);
	pb = code_price(bk[last_b] >> LOW_BITS, 0);
	lo = ps;
	hi = pb;
	if (bi < nb && (net = code_price(bk[bi] >> LOW_BITS, 0)) > lo)
		lo = net;	/* rb */
	if (si < ns && (price = code_price(sk[si] >> LOW_BITS, 1)) < hi)
		hi = price;	/* rs */
	price = kx_floor_half(lo + hi);
	/* lo <= hi and F <= ps <= lo <= P <= hi <= pb <= C - f */
	if (lo > hi || price < 0 || price > (int64_t)KX_PRICE_MAX) {
		r = KX_MKT_EINVAL;	/* cannot happen; never a wrong price */
		goto fail;
	}
	res->has_price = true;
	res->price = (uint32_t)price;

	/* Step 5: fills, one pass over the orders in id order. */
	find_level(&ls, sk, swh, ns, last_s, q, 1);
	find_level(&lb, bk, bwh, nb, last_b, q, 0);
	res->surplus = lb.money - ls.money;
	for (i = 0; i < ni; i++) {
		const kx_order_t *x = &o[inc[i]];
		const level_t	*lv = x->side == KX_SELL ? &ls : &lb;

		for (sum = 0, k = 0; k < x->n; k++) {
			c = x->price[k];
			if (x->side == KX_SELL)
				code = c < p->floor ? p->floor : c;
			else
				code = (uint64_t)((int64_t)KX_PRICE_MAX -
				    ((int64_t)(c > p->ceiling ? p->ceiling :
				    c) - (int64_t)p->fee));
			sum += step_fill(lv, code, (uint64_t)i << K_BITS | k,
			    x->wh[k]);
		}
		fills[inc[i]] = sum;
	}
	r = KX_MKT_OK;
 done:
 fail:
	free(twh);
	free(bwh);
	free(swh);
	free(tmp);
	free(bk);
	free(sk);
	free(inc);
	free(idx);
	return r;
}

/* ---- settlement ---------------------------------------------------- */

typedef struct {
	uint8_t		 member[KX_MKT_ID_LEN];
	uint64_t	 as, ab;	/* sold, bought */
	uint64_t	 points;
	int		 op;		/* the operator's own entry */
} acct_t;

static int
cmp_acct(const void *a, const void *b)
{
	return memcmp(((const acct_t *)a)->member,
	    ((const acct_t *)b)->member, KX_MKT_ID_LEN);
}

static int
cmp_reading(const void *a, const void *b)
{
	return memcmp(((const kx_mkt_reading_t *)a)->member,
	    ((const kx_mkt_reading_t *)b)->member, KX_MKT_ID_LEN);
}

#define TRY_OV(x)	do { if (x) { r = KX_MKT_ERANGE; goto fail; } } while (0)

int
kx_settle(kx_line_t **lines, size_t *n_lines, const kx_order_t *o,
    const uint64_t *fills, size_t n, const kx_clear_t *res,
    const kx_mkt_reading_t *rd, size_t nr, const kx_mkt_points_t *pts,
    size_t npts, int64_t pt_value, const uint8_t op[KX_MKT_ID_LEN])
{
	acct_t		*a = NULL;
	kx_mkt_reading_t *rs = NULL, *hit;
	kx_line_t	*out = NULL;
	size_t		 na = 0, i, j, nl = 0;
	int64_t		 P, f, F, C, m, t, total = 0;
	uint64_t	 e, im;
	int		 r = KX_MKT_ENOMEM;

	*lines = NULL;
	*n_lines = 0;
	if (n > 0 && !res->has_price) {
		for (i = 0; i < n; i++)
			if (fills[i] != 0)
				return KX_MKT_EINVAL;
	}
	P = res->price;
	f = res->fee;
	F = res->floor;
	C = res->ceiling;
	if ((a = calloc(n + npts + 1, sizeof(*a))) == NULL ||
	    (rs = malloc((nr + 1) * sizeof(*rs))) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (fills[i] == 0)
			continue;
		if (o[i].side != KX_BUY && o[i].side != KX_SELL) {
			r = KX_MKT_EINVAL;
			goto fail;
		}
		memcpy(a[na].member, o[i].member, KX_MKT_ID_LEN);
		if (o[i].side == KX_SELL)
			a[na].as = fills[i];
		else
			a[na].ab = fills[i];
		na++;
	}
	for (i = 0; i < npts; i++) {
		if (pts[i].points == 0) {
			r = KX_MKT_EINVAL;
			goto fail;
		}
		memcpy(a[na].member, pts[i].member, KX_MKT_ID_LEN);
		a[na++].points = pts[i].points;
	}
	qsort(a, na, sizeof(*a), cmp_acct);
	if (nr > 0)
		memcpy(rs, rd, nr * sizeof(*rs));
	qsort(rs, nr, sizeof(*rs), cmp_reading);
	for (i = 1; i < nr; i++)
		if (memcmp(rs[i - 1].member, rs[i].member,
		    KX_MKT_ID_LEN) == 0) {
			r = KX_MKT_EDUP;
			goto fail;
		}
	/* merge accounts of one member */
	for (i = 0, j = 0; i < na; i++) {
		if (j > 0 && memcmp(a[j - 1].member, a[i].member,
		    KX_MKT_ID_LEN) == 0) {
			a[j - 1].as += a[i].as;	/* each side <= 10^12 */
			a[j - 1].ab += a[i].ab;
			a[j - 1].points += a[i].points;	/* < 2^32 x n */
		} else
			a[j++] = a[i];
	}
	na = j;
	if ((out = calloc(na + 1, sizeof(*out))) == NULL)
		goto fail;
	for (i = 0; i < na; i++) {
		if (memcmp(a[i].member, op, KX_MKT_ID_LEN) == 0) {
			r = KX_MKT_EINVAL;	/* operators place no orders */
			goto fail;
		}
		m = 0;
		if (a[i].as > 0 || a[i].ab > 0) {
			hit = bsearch(&a[i], rs, nr, sizeof(*rs), cmp_reading);
			e = hit != NULL ? hit->exp : 0;
			im = hit != NULL ? hit->imp : a[i].ab;
			/* As, Ab <= 10^12 and prices <= 10^6: no overflow */
			m = (int64_t)a[i].as * P - (int64_t)a[i].ab * (P + f);
			if (a[i].as > e)
				m -= (int64_t)(a[i].as - e) * C;
			if (a[i].ab > im)
				m += (int64_t)(a[i].ab - im) * F;
		}
		if (a[i].points > 0) {
			TRY_OV(a[i].points > INT64_MAX);
			TRY_OV(__builtin_mul_overflow((int64_t)a[i].points,
			    pt_value, &t));
			TRY_OV(__builtin_add_overflow(m, t, &m));
		}
		TRY_OV(__builtin_add_overflow(total, m, &total));
		memcpy(out[nl].member, a[i].member, KX_MKT_ID_LEN);
		out[nl++].money = m;
	}
	TRY_OV(total == INT64_MIN);
	/* the operator's line, in its sorted place */
	for (i = nl; i > 0 && memcmp(out[i - 1].member, op,
	    KX_MKT_ID_LEN) > 0; i--)
		out[i] = out[i - 1];
	memcpy(out[i].member, op, KX_MKT_ID_LEN);
	out[i].money = -total;
	nl++;
	*lines = out;
	*n_lines = nl;
	out = NULL;
	r = KX_MKT_OK;
 fail:
	free(out);
	free(rs);
	free(a);
	return r;
}
