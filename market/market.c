/*
 * market.c - clearing (PROTOCOL.md section 6) and settlement (section 7)
 * of one slot.
 *
 * Integers only. Clearing needs the steps in the protocol's order only at
 * the margin: the greedy match (step 3) and the price (step 4) depend on
 * the total wh at each price level, not on how a level is split, so each
 * side is reduced to its price levels (a histogram of wh by price code,
 * or for a sparse range a radix sort of packed (code, wh) keys). Only the
 * steps of the two marginal levels are ordered by (id, k), for the
 * remainder Wh of step 5, with the 64-bit keys
 *
 *   (rank << 4 | k) << 27 | order index
 *
 * where rank is the order's position among the included orders in
 * ascending id (byte) order and k the step index. Price codes ascend in
 * the protocol's order: a sell step's code is its clamped price, a buy
 * step's KX_PRICE_MAX - net price.
 *
 * Tuned for books of 10^3 to 10^7 steps at a half-hourly gate: the orders
 * are read in their own order (three sequential passes) except for the
 * ids, which the set hash reads in id order. The scratch memory (12 bytes
 * per order, the caller's fills array, and per step only what the price
 * levels and the marginal levels need) lives in a kx_clear_ctx_t that a
 * node keeps from one slot to the next: page faults on freshly allocated
 * memory used to cost more than the clearing itself.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "market.h"


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

typedef size_t	 radix_cnt_t[RADIX];

/*
 * Stable LSD radix sort of k[0..n) by the bits lo..hi-1 of each key
 * (digits of at most RADIX_BITS; a digit that every key shares is
 * skipped). tmp: n scratch entries; cnt: RADIX_PASSES counter rows.
 * Returns k or tmp, whichever holds the sorted keys.
 */
static uint64_t *
radix(uint64_t *k, uint64_t *tmp, size_t n, unsigned lo, unsigned hi,
    radix_cnt_t *cnt)
{
	uint64_t	*src = k, *dst = tmp, *t, x, mask[RADIX_PASSES];
	unsigned	 nd, w, d, sh[RADIX_PASSES], top;
	size_t		 i, sum, c;

	if (n < 2 || hi <= lo)
		return k;
	nd = (hi - lo + RADIX_BITS - 1) / RADIX_BITS;
	w = (hi - lo + nd - 1) / nd;
	for (d = 0; d < nd; d++) {
		sh[d] = lo + d * w;
		top = sh[d] + w < hi ? sh[d] + w : hi;
		mask[d] = ((uint64_t)1 << (top - sh[d])) - 1;
	}
	memset(cnt, 0, nd * sizeof(*cnt));
	for (i = 0; i < n; i++) {
		x = k[i];
		for (d = 0; d < nd; d++)
			cnt[d][(x >> sh[d]) & mask[d]]++;
	}
	for (d = 0; d < nd; d++) {
		/* all keys share this digit: the pass would be a copy */
		if (cnt[d][(src[0] >> sh[d]) & mask[d]] == n)
			continue;
		for (sum = 0, i = 0; i <= mask[d]; i++) {
			c = cnt[d][i];
			cnt[d][i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++) {
			x = src[i];
			dst[cnt[d][(x >> sh[d]) & mask[d]]++] = x;
		}
		t = src;
		src = dst;
		dst = t;
	}
	return src;
}

void
kx_sort_u64(uint64_t *k, uint64_t *tmp, size_t n)
{
	radix_cnt_t	*cnt;
	uint64_t	*r, x;
	size_t		 i, c;

	if (n < 2)
		return;
	if ((cnt = malloc(RADIX_PASSES * sizeof(*cnt))) == NULL) {
		/* insertion sort fallback: correct, slow, no memory */
		for (i = 1; i < n; i++) {
			x = k[i];
			for (c = i; c > 0 && k[c - 1] > x; c--)
				k[c] = k[c - 1];
			k[c] = x;
		}
		return;
	}
	if ((r = radix(k, tmp, n, 0, 64, cnt)) != k)
		memcpy(k, r, n * sizeof(*k));
	free(cnt);
}

/* ---- the work context ---------------------------------------------- */

/*
 * Order ids are sorted by a radix sort of (33-bit id prefix << 31 |
 * order index) keys; runs that share the prefix are then sorted by the
 * whole id. The marginal steps are (rank << 4 | k) << 27 | order index.
 */
#define IDX_BITS	27	/* KX_MKT_ORDERS_MAX == 1 << IDX_BITS */
#define IDX_MASK	(((uint64_t)1 << IDX_BITS) - 1)
#define PFX_SHIFT	31	/* key = prefix << PFX_SHIFT | index */
#define K_BITS		4	/* KX_STEPS_MAX == 1 << K_BITS */
#define WH_BITS		24	/* KX_WH_STEP_MAX < 1 << WH_BITS */
#define NOT_IN		UINT32_MAX	/* info[]: an order left out */
#define HASH_IDS	64	/* ids hashed per crypto_generichash_update */
#define PREFETCH	16	/* orders ahead in the id-order loop */

/* One side of the book: its price levels, then its marginal level. */
typedef struct {
	uint32_t	 lo, hi;	/* smallest, largest step code */
	size_t		 steps;		/* steps of all orders on the side */
	int		 hist;		/* levels by histogram (else by sort) */
	uint64_t	*buf;		/* hist: wh by code - lo; else keys
					   (code - lo) << WH_BITS | wh */
	size_t		 cap_buf, nk;	/* its capacity; keys written */
	uint32_t	*lc;		/* level codes, ascending */
	uint64_t	*lw;		/* level wh */
	size_t		 cap_lc, cap_lw, nl;	/* capacities; levels */
	uint64_t	*mk;		/* steps of the marginal level */
	size_t		 cap_mk, nm;
	uint32_t	 mcode;		/* code of the marginal level */
	uint64_t	 v, w;		/* volume left for it, its total wh */
	uint64_t	 fsum;		/* sum of floor(v x wh / w) over it */
	int64_t		 money;		/* sum of (net) price x fill */
} side_t;

struct kx_clear_ctx {
	uint64_t	*key;		/* n: id sort keys */
	uint32_t	*info;		/* n: total wh | side << 31, then the
					   rank among included orders */
	size_t		 cap_key, cap_info;
	uint64_t	*tmp;		/* radix scratch: steps of a side */
	size_t		 cap_tmp;
	radix_cnt_t	*cnt;		/* RADIX_PASSES counter rows */
	side_t		 sd[2];		/* [KX_BUY], [KX_SELL] */
};

kx_clear_ctx_t *
kx_clear_ctx_new(void)
{
	kx_clear_ctx_t	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->cnt = malloc(RADIX_PASSES * sizeof(*c->cnt))) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
kx_clear_ctx_free(kx_clear_ctx_t **cp)
{
	kx_clear_ctx_t	*c;
	int		 s;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	for (s = 0; s < 2; s++) {
		free(c->sd[s].buf);
		free(c->sd[s].lc);
		free(c->sd[s].lw);
		free(c->sd[s].mk);
	}
	free(c->cnt);
	free(c->tmp);
	free(c->info);
	free(c->key);
	free(c);
	*cp = NULL;
}

/*
 * Returns old if it holds at least n entries of sz bytes (*cap of them),
 * else frees it and returns a new block (contents not kept), or NULL if
 * out of memory (then *cap is 0). The capacity grows by an eighth more
 * than asked, so that books that grow slowly from slot to slot do not
 * reallocate every time; untouched pages cost nothing. Never returns
 * NULL on success, even for n == 0.
 */
static void *
grow(void *old, size_t *cap, size_t n, size_t sz)
{
	void	*p;
	size_t	 want;

	if (old != NULL && n <= *cap)
		return old;
	free(old);
	*cap = 0;
	want = n + n / 8 + 16;
	if (want < n || want > SIZE_MAX / sz || (p = malloc(want * sz)) == NULL)
		return NULL;
	*cap = want;
	return p;
}

/* p = grow(p, ...) for a buffer p of the context; false if out of memory */
#define GROW(p, cap, n)	(((p) = grow((p), &(cap), (n), sizeof(*(p)))) != NULL)

/* ---- clearing ------------------------------------------------------ */

static int64_t
code_price(uint64_t code, int sell)
{
	return sell ? (int64_t)code : (int64_t)KX_PRICE_MAX - (int64_t)code;
}

/* Step 1: a sell step's code is max(price, F); a buy step's is
 * KX_PRICE_MAX - (min(price, C) - f), in 0 .. 2 x KX_PRICE_MAX. */
static inline uint32_t
sell_code(uint32_t c, const kx_params_t *p)
{
	return c < p->floor ? p->floor : c;
}

static inline uint32_t
buy_code(uint32_t c, const kx_params_t *p)
{
	return KX_PRICE_MAX + p->fee - (c > p->ceiling ? p->ceiling : c);
}

static inline uint32_t
step_code(const kx_order_t *x, uint32_t k, const kx_params_t *p)
{
	return x->side == KX_SELL ? sell_code(x->price[k], p) :
	    buy_code(x->price[k], p);
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

static int
cmp_key_id(const void *a, const void *b, void *arg)
{
	const kx_order_t *o = arg;
	uint64_t	 x = *(const uint64_t *)a & IDX_MASK;
	uint64_t	 y = *(const uint64_t *)b & IDX_MASK;
	int		 c;

	c = memcmp(o[x].id, o[y].id, KX_MKT_ID_LEN);
	return c != 0 ? c : (x > y) - (x < y);
}

/* The parameter and order checks of kx_clear, in their order. */
static int
check_args(const kx_order_t *o, size_t n, const kx_params_t *p)
{
	size_t	 i;
	int	 step;

	if (p->floor > KX_PRICE_MAX || p->ceiling > KX_PRICE_MAX ||
	    p->fee > KX_PRICE_MAX || p->floor > p->ceiling ||
	    p->fee >= p->ceiling)
		return KX_MKT_EINVAL;
	if (n > KX_MKT_ORDERS_MAX)
		return KX_MKT_E2BIG;
	for (i = 0; i < n; i++)
		if (kx_order_check(&o[i], &step) != KX_MKT_OK)
			return KX_MKT_EINVAL;
	return KX_MKT_OK;
}

/* kx_order_check's rules, and *sum the order's total wh. */
static inline int
order_ok(const kx_order_t *x, uint64_t *sum)
{
	uint64_t	 s = 0;
	uint32_t	 k;

	if ((x->side != KX_BUY && x->side != KX_SELL) || x->n < 1 ||
	    x->n > KX_STEPS_MAX)
		return 0;
	for (k = 0; k < x->n; k++) {
		if (x->wh[k] < 1 || x->wh[k] > KX_WH_STEP_MAX ||
		    x->price[k] > KX_PRICE_MAX)
			return 0;
		if (k > 0 && (x->side == KX_SELL ?
		    x->price[k] <= x->price[k - 1] :
		    x->price[k] >= x->price[k - 1]))
			return 0;
		s += x->wh[k];
	}
	*sum = s;
	return 1;
}

/*
 * Sorts the order ids (ctx->key, n entries written by the first pass;
 * tmp: n scratch entries); returns the sorted keys in *ks (ctx->key or
 * tmp), or KX_MKT_EDUP.
 */
static int
sort_ids(kx_clear_ctx_t *ctx, uint64_t *tmp, uint64_t **ks,
    const kx_order_t *o, size_t n)
{
	uint64_t	*k;
	size_t		 a, e, j;

	k = radix(ctx->key, tmp, n, PFX_SHIFT, 64, ctx->cnt);
	/* runs that share the prefix: sort by the full id; only those can
	 * hold two equal ids */
	for (a = 0; a < n; a = e) {
		for (e = a + 1; e < n && k[e] >> PFX_SHIFT ==
		    k[a] >> PFX_SHIFT; e++)
			;
		if (e - a < 2)
			continue;
		qsort_r(k + a, e - a, sizeof(*k), cmp_key_id,	/* glibc */
		    (void *)(uintptr_t)o);
		for (j = a + 1; j < e; j++)
			if (memcmp(o[k[j - 1] & IDX_MASK].id,
			    o[k[j] & IDX_MASK].id, KX_MKT_ID_LEN) == 0)
				return KX_MKT_EDUP;
	}
	*ks = k;
	return KX_MKT_OK;
}

/* Makes room for one side's levels: a histogram over its code range when
 * that range is not much wider than its steps, else packed keys. */
static int
side_prepare(side_t *s)
{
	uint64_t	 range;

	s->nk = s->nl = s->nm = 0;
	s->fsum = 0;
	if (s->steps == 0)
		return 0;
	range = (uint64_t)s->hi - s->lo + 1;
	s->hist = range <= 2 * (uint64_t)s->steps + 4096;
	if (!GROW(s->buf, s->cap_buf, s->hist ? (size_t)range : s->steps) ||
	    !GROW(s->lc, s->cap_lc, s->steps) ||
	    !GROW(s->lw, s->cap_lw, s->steps) ||
	    !GROW(s->mk, s->cap_mk, s->steps))
		return -1;
	if (s->hist)
		memset(s->buf, 0, (size_t)range * sizeof(*s->buf));
	return 0;
}

/* The price levels of one side, ascending codes, from its histogram or
 * its keys (tmp, cnt: radix scratch). */
static void
side_levels(side_t *s, uint64_t *tmp, radix_cnt_t *cnt)
{
	uint64_t	*k, range, c;
	size_t		 i, nl = 0;
	unsigned	 bits;

	if (s->steps == 0)
		return;
	range = (uint64_t)s->hi - s->lo + 1;
	if (s->hist) {
		for (c = 0; c < range; c++)
			if (s->buf[c] != 0) {
				s->lc[nl] = (uint32_t)c + s->lo;
				s->lw[nl++] = s->buf[c];
			}
	} else {
		bits = range > 1 ? 64 - (unsigned)__builtin_clzll(range - 1) :
		    0;
		k = radix(s->buf, tmp, s->nk, WH_BITS, WH_BITS + bits, cnt);
		for (i = 0; i < s->nk; i++) {
			c = k[i] >> WH_BITS;
			if (nl > 0 && s->lc[nl - 1] == (uint32_t)c + s->lo)
				s->lw[nl - 1] += k[i] & ((1u << WH_BITS) - 1);
			else {
				s->lc[nl] = (uint32_t)c + s->lo;
				s->lw[nl++] = k[i] & ((1u << WH_BITS) - 1);
			}
		}
	}
	s->nl = nl;
}

/* Step 5 for one side: its marginal level is level `last`; levels below
 * it are filled fully and what is left of q goes to it. */
static void
side_margin(side_t *s, size_t last, uint64_t q, int sell)
{
	uint64_t	 below = 0;
	size_t		 j;

	s->money = 0;
	for (j = 0; j < last; j++) {
		below += s->lw[j];
		s->money += code_price(s->lc[j], sell) * (int64_t)s->lw[j];
	}
	s->mcode = s->lc[last];
	s->w = s->lw[last];
	s->v = q - below;	/* 0 < v <= w */
	s->money += code_price(s->mcode, sell) * (int64_t)s->v;
}

/* The remainder v - sum(floor(v x wh / w)) of a marginal level: one Wh
 * each to its first steps in (id, k) order. Returns 0, or -1 if the
 * remainder is not below the level's step count (cannot happen). */
static int
side_remainder(side_t *s, uint64_t *fills, size_t ni, uint64_t *tmp,
    radix_cnt_t *cnt)
{
	uint64_t	*k, rem = s->v - s->fsum;
	size_t		 j;
	unsigned	 bits;

	if (rem == 0)
		return 0;
	if (rem >= s->nm)
		return -1;
	/* (rank << K_BITS | k) < ni << K_BITS */
	bits = 64 - (unsigned)__builtin_clzll((uint64_t)ni << K_BITS);
	k = radix(s->mk, tmp, s->nm, IDX_BITS, IDX_BITS + bits, cnt);
	for (j = 0; j < rem; j++)
		fills[k[j] & IDX_MASK]++;
	return 0;
}

int
kx_clear_with(kx_clear_ctx_t *ctx, kx_clear_t *res, uint64_t *fills,
    bool *included, const kx_order_t *o, size_t n, const kx_params_t *p)
{
	crypto_generichash_state st;
	uint8_t		 hb[HASH_IDS * KX_MKT_ID_LEN];
	uint64_t	*ks, tot[2] = { 0, 0 }, sum, q, rem_s, rem_b, f, wh;
	uint32_t	*info, inf, c, lo, hi, k, rank;
	size_t		 i, j, nh, ni, si, bi, last_s, last_b, mx;
	int64_t		 ps, pb, lo_p, hi_p, net, price;
	side_t		*s, *ss = &ctx->sd[KX_SELL], *sb = &ctx->sd[KX_BUY];
	const kx_order_t *x;
	int		 r;

	memset(res, 0, sizeof(*res));
	if (p->floor > KX_PRICE_MAX || p->ceiling > KX_PRICE_MAX ||
	    p->fee > KX_PRICE_MAX || p->floor > p->ceiling ||
	    p->fee >= p->ceiling)
		return KX_MKT_EINVAL;
	if (n > KX_MKT_ORDERS_MAX)
		return KX_MKT_E2BIG;
	if (!GROW(ctx->key, ctx->cap_key, n) ||
	    !GROW(ctx->info, ctx->cap_info, n))
		return (r = check_args(o, n, p)) != KX_MKT_OK ? r :
		    KX_MKT_ENOMEM;
	info = ctx->info;

	/* Pass 1, orders as given: checks, id keys, totals, code ranges. */
	for (j = 0; j < 2; j++) {
		ctx->sd[j].lo = UINT32_MAX;
		ctx->sd[j].hi = 0;
		ctx->sd[j].steps = 0;
	}
	for (i = 0; i < n; i++) {
		x = &o[i];
		if (!order_ok(x, &sum))
			return KX_MKT_EINVAL;
		ctx->key[i] = id_prefix(x->id) >> PFX_SHIFT << PFX_SHIFT | i;
		/* sum <= 16 x 10^7 < 2^31 */
		info[i] = (uint32_t)sum | (uint32_t)x->side << 31;
		s = &ctx->sd[x->side];
		s->steps += x->n;
		/* codes never fall along an order's steps */
		lo = step_code(x, 0, p);
		hi = step_code(x, x->n - 1, p);
		if (lo < s->lo)
			s->lo = lo;
		if (hi > s->hi)
			s->hi = hi;
	}
	res->floor = p->floor;
	res->ceiling = p->ceiling;
	res->fee = p->fee;
	if (included != NULL)
		memset(included, 0, n * sizeof(*included));

	/* Bounds and `set`: orders in ascending id order; one past 10^12 Wh
	 * on its side is left out. info[i] becomes the rank or NOT_IN. The
	 * id sort borrows fills as its scratch (written last, in pass 3). */
	if ((r = sort_ids(ctx, fills, &ks, o, n)) != KX_MKT_OK)
		return r;
	crypto_generichash_init(&st, NULL, 0, 32);
	for (ni = nh = j = 0; j < n; j++) {
		if (j + PREFETCH < n) {
			__builtin_prefetch(o[ks[j + PREFETCH] & IDX_MASK].id);
			__builtin_prefetch(&info[ks[j + PREFETCH] & IDX_MASK]);
		}
		i = (size_t)(ks[j] & IDX_MASK);
		inf = info[i];
		sum = inf & 0x7fffffffu;
		if (tot[inf >> 31] + sum > KX_MKT_SIDE_MAX) {
			info[i] = NOT_IN;
			continue;
		}
		tot[inf >> 31] += sum;
		info[i] = (uint32_t)ni++;
		if (included != NULL)
			included[i] = true;
		memcpy(hb + nh * KX_MKT_ID_LEN, o[i].id, KX_MKT_ID_LEN);
		if (++nh == HASH_IDS) {
			crypto_generichash_update(&st, hb, sizeof(hb));
			nh = 0;
		}
	}
	crypto_generichash_update(&st, hb, nh * KX_MKT_ID_LEN);
	crypto_generichash_final(&st, res->set, 32);
	res->n_included = ni;

	mx = ss->steps > sb->steps ? ss->steps : sb->steps;
	if (!GROW(ctx->tmp, ctx->cap_tmp, mx) || side_prepare(ss) != 0 ||
	    side_prepare(sb) != 0)
		return KX_MKT_ENOMEM;

	/* Pass 2, steps 1 and 2: every included step, clamped, into its
	 * side's histogram or keys; then each side's price levels. */
	for (i = 0; i < n; i++) {
		if (info[i] == NOT_IN)
			continue;
		x = &o[i];
		s = &ctx->sd[x->side];
		if (s->hist) {
			for (k = 0; k < x->n; k++)
				s->buf[step_code(x, k, p) - s->lo] += x->wh[k];
		} else {
			for (k = 0; k < x->n; k++)
				s->buf[s->nk++] = (uint64_t)(step_code(x, k,
				    p) - s->lo) << WH_BITS | x->wh[k];
		}
	}
	side_levels(ss, ctx->tmp, ctx->cnt);
	side_levels(sb, ctx->tmp, ctx->cnt);

	/* Step 3: greedy match, level by level (steps of one level are
	 * consecutive in the protocol's order and share its price). */
	q = 0;
	si = bi = 0;
	last_s = last_b = 0;
	rem_s = ss->nl > 0 ? ss->lw[0] : 0;
	rem_b = sb->nl > 0 ? sb->lw[0] : 0;
	while (si < ss->nl && bi < sb->nl && code_price(sb->lc[bi], 0) >=
	    code_price(ss->lc[si], 1)) {
		uint64_t m = rem_s < rem_b ? rem_s : rem_b;

		q += m;
		last_s = si;
		last_b = bi;
		rem_s -= m;
		rem_b -= m;
		if (rem_s == 0 && ++si < ss->nl)
			rem_s = ss->lw[si];
		if (rem_b == 0 && ++bi < sb->nl)
			rem_b = sb->lw[bi];
	}
	res->volume = q;
	if (q == 0) {
		memset(fills, 0, n * sizeof(*fills));
		return KX_MKT_OK;	/* no trade: price nil, no fills */
	}

	/* Step 4: the price. si, bi are the first levels with volume left
	 * (a partly matched level: the rest of its steps counts). */
	ps = code_price(ss->lc[last_s], 1);
	pb = code_price(sb->lc[last_b], 0);
	lo_p = ps;
	hi_p = pb;
	if (bi < sb->nl && (net = code_price(sb->lc[bi], 0)) > lo_p)
		lo_p = net;	/* rb */
	if (si < ss->nl && (price = code_price(ss->lc[si], 1)) < hi_p)
		hi_p = price;	/* rs */
	price = kx_floor_half(lo_p + hi_p);
	/* lo <= hi and F <= ps <= lo <= P <= hi <= pb <= C - f */
	if (lo_p > hi_p || price < 0 || price > (int64_t)KX_PRICE_MAX)
		return KX_MKT_EINVAL;	/* cannot happen; never a wrong price */
	res->has_price = true;
	res->price = (uint32_t)price;

	/* Step 5: fills. Pass 3, orders as given: steps below the marginal
	 * code are full, steps at it get floor(v x wh / w) and are kept for
	 * the remainder, steps above it (and all later ones) get nothing. */
	side_margin(ss, last_s, q, 1);
	side_margin(sb, last_b, q, 0);
	res->surplus = sb->money - ss->money;
	for (i = 0; i < n; i++) {
		if ((rank = info[i]) == NOT_IN) {
			fills[i] = 0;
			continue;
		}
		x = &o[i];
		s = &ctx->sd[x->side];
		for (sum = 0, k = 0; k < x->n; k++) {
			c = step_code(x, k, p);
			wh = x->wh[k];
			if (c < s->mcode)
				sum += wh;
			else if (c > s->mcode)
				break;
			else {	/* v <= 10^12, wh <= 10^7: fits uint64 */
				f = s->v * wh / s->w;
				sum += f;
				s->fsum += f;
				s->mk[s->nm++] = ((uint64_t)rank << K_BITS |
				    k) << IDX_BITS | i;
			}
		}
		fills[i] = sum;
	}
	if (side_remainder(ss, fills, ni, ctx->tmp, ctx->cnt) != 0 ||
	    side_remainder(sb, fills, ni, ctx->tmp, ctx->cnt) != 0)
		return KX_MKT_EINVAL;	/* cannot happen */
	return KX_MKT_OK;
}

int
kx_clear(kx_clear_t *res, uint64_t *fills, bool *included,
    const kx_order_t *o, size_t n, const kx_params_t *p)
{
	kx_clear_ctx_t	*ctx;
	int		 r;

	if ((ctx = kx_clear_ctx_new()) == NULL) {
		memset(res, 0, sizeof(*res));
		return (r = check_args(o, n, p)) != KX_MKT_OK ? r :
		    KX_MKT_ENOMEM;
	}
	r = kx_clear_with(ctx, res, fills, included, o, n, p);
	kx_clear_ctx_free(&ctx);
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
