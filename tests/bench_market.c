/*
 * bench_market.c - clearing time (market/market.c) for random books of
 * 1k, 10k, 100k and 1M orders (1 to 16 steps each), each next to a plain
 * qsort of the same steps with the protocol's comparator (price, id bytes,
 * step index) in the same run, and the goals: 100k orders under 50 ms and
 * at most 2x the qsort. Prints figures only; asserts nothing about time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "market.h"

typedef struct {
	int64_t		 price;
	const uint8_t	*id;
	uint32_t	 k;
} step_t;

static uint64_t	 seed = 0x1234567887654321ULL;

static uint64_t
rnd(void)
{
	uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_step(const void *a, const void *b)
{
	const step_t	*x = a, *y = b;
	int		 c;

	if (x->price != y->price)
		return x->price < y->price ? -1 : 1;
	if ((c = memcmp(x->id, y->id, 32)) != 0)
		return c;
	return (x->k > y->k) - (x->k < y->k);
}

static void
book(kx_order_t *o, size_t n)
{
	size_t		 i;
	uint32_t	 k, price;
	int		 b;

	for (i = 0; i < n; i++) {
		for (b = 0; b < 32; b += 8) {
			uint64_t v = rnd();

			memcpy(o[i].id + b, &v, 8);
		}
		o[i].side = (int)(rnd() % 2);
		o[i].n = 1 + (uint32_t)(rnd() % 16);
		price = o[i].side == KX_SELL ? (uint32_t)(rnd() % 2000) :
		    2000 + (uint32_t)(rnd() % 2000);
		for (k = 0; k < o[i].n; k++) {
			o[i].wh[k] = 1 + rnd() % 100000;
			o[i].price[k] = price;
			price = o[i].side == KX_SELL ? price + 1 +
			    (uint32_t)(rnd() % 100) : price - 1 -
			    (uint32_t)(rnd() % 100);
		}
	}
}

int
main(void)
{
	static const size_t sizes[] = { 1000, 10000, 100000, 1000000 };
	kx_order_t	*o;
	kx_params_t	 p;
	kx_clear_t	 r;
	uint64_t	*fills;
	step_t		*st;
	size_t		 s, i, ns, rep, reps;
	uint32_t	 k;
	double		 t0, tc, tq, best_c, best_q;

	kx_params_default(&p);
	printf("clearing (kx_clear) vs qsort of the same steps; goals: "
	    "100k orders < 50 ms, clearing <= 2x qsort\n");
	printf("%9s %10s %12s %12s %8s\n", "orders", "steps", "clear ms",
	    "qsort ms", "ratio");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];

		o = malloc(n * sizeof(*o));
		fills = malloc(n * sizeof(*fills));
		st = malloc(n * KX_STEPS_MAX * sizeof(*st));
		if (o == NULL || fills == NULL || st == NULL)
			return 1;
		book(o, n);
		reps = n >= 1000000 ? 3 : 5;
		best_c = best_q = 1e30;
		for (rep = 0; rep < reps; rep++) {
			t0 = now_ms();
			if (kx_clear(&r, fills, NULL, o, n, &p) != KX_MKT_OK)
				return 1;
			tc = now_ms() - t0;
			for (ns = 0, i = 0; i < n; i++)
				for (k = 0; k < o[i].n; k++) {
					st[ns].price = o[i].side == KX_SELL ?
					    o[i].price[k] : -(int64_t)o[i].price[k];
					st[ns].id = o[i].id;
					st[ns++].k = k;
				}
			t0 = now_ms();
			qsort(st, ns, sizeof(*st), cmp_step);
			tq = now_ms() - t0;
			if (tc < best_c)
				best_c = tc;
			if (tq < best_q)
				best_q = tq;
		}
		printf("%9zu %10zu %12.2f %12.2f %7.2fx%s\n", n, ns, best_c,
		    best_q, best_c / best_q,
		    n == 100000 ? (best_c < 50 ? "  (goal < 50 ms: met)" :
		    "  (goal < 50 ms: MISSED)") : "");
		printf("%9s volume %" PRIu64 " Wh, price %" PRIu32 "\n", "",
		    r.volume, r.price);
		free(st);
		free(fills);
		free(o);
	}
	return 0;
}
