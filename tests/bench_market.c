/*
 * bench_market.c - clearing time (market/market.c) for random books of
 * 1k, 10k, 100k and 1M orders (1 to 16 steps each), each next to a plain
 * qsort of the same steps with the protocol's comparator (price, id bytes,
 * step index) in the same run, and the goals: 100k orders under 50 ms and
 * at most 2x the qsort. Prints figures only; asserts nothing about time
 * (it exits 1 only if the two ways of clearing disagree).
 *
 * What a node does at every gate, two ways:
 *   steady  kx_clear_with on the node's kx_clear_ctx_t, kept from one
 *           slot to the next (best of the calls after the first);
 *   cold    kx_clear, i.e. a new context for the one call: its scratch
 *           memory is allocated and faulted in inside the timed call
 *           (best of as many calls); "first" is the very first call on
 *           a new context for that size, timed once.
 * A gate comes half an hour after the last one, so every timed clear
 * starts after 64 MB of unrelated memory traffic (churn()): the book and
 * the context are not in the CPU caches.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

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

#define CHURN_WORDS	(8u << 20)	/* 64 MB */

/* Reads and writes 64 MB, evicting the book and the context from the
 * caches, as the rest of a node's work between two gates would. */
static void
churn(uint64_t *buf)
{
	size_t		 i;

	for (i = 0; i < CHURN_WORDS; i++)
		buf[i] = buf[i] * 3 + i;
}

static int
same(const kx_clear_t *a, const uint64_t *fa, const kx_clear_t *b,
    const uint64_t *fb, size_t n)
{
	return a->has_price == b->has_price && a->price == b->price &&
	    a->volume == b->volume && a->surplus == b->surplus &&
	    a->n_included == b->n_included &&
	    memcmp(a->set, b->set, sizeof(a->set)) == 0 &&
	    memcmp(fa, fb, n * sizeof(*fa)) == 0;
}

static const char *
met(int ok)
{
	return ok ? "MET" : "MISSED";
}

int
main(void)
{
	static const size_t sizes[] = { 1000, 10000, 100000, 1000000 };
	kx_clear_ctx_t	*ctx;
	kx_order_t	*o;
	kx_params_t	 p;
	kx_clear_t	 r, rc;
	uint64_t	*fills, *fc, *junk;
	step_t		*st;
	size_t		 s, i, ns, rep, reps;
	uint32_t	 k;
	double		 t0, t, first, best_w, best_c, best_q;
	double		 goal_w = 0, goal_c = 0, worst_w = 0, worst_c = 0;

	if (sodium_init() < 0)	/* as a node does: picks BLAKE2b's code */
		return 1;
	if ((junk = calloc(CHURN_WORDS, sizeof(*junk))) == NULL)
		return 1;
	kx_params_default(&p);
	printf("clearing vs qsort of the same steps; goals: 100k orders "
	    "< 50 ms, clearing <= 2x qsort\n");
	printf("steady: kx_clear_with, context reused (best of the calls "
	    "after the first)\ncold: kx_clear, new context per call "
	    "(best); first: first call on a new context (once)\n"
	    "every clear starts with cold caches (64 MB churned before)\n");
	printf("%9s %10s %10s %10s %10s %10s %7s %7s\n", "orders", "steps",
	    "steady ms", "cold ms", "first ms", "qsort ms", "steady",
	    "cold");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];

		o = malloc(n * sizeof(*o));
		fills = malloc(n * sizeof(*fills));
		fc = malloc(n * sizeof(*fc));
		st = malloc(n * KX_STEPS_MAX * sizeof(*st));
		if (o == NULL || fills == NULL || fc == NULL || st == NULL ||
		    (ctx = kx_clear_ctx_new()) == NULL)
			return 1;
		book(o, n);
		reps = n >= 1000000 ? 3 : 5;
		first = best_w = best_c = best_q = 1e30;
		for (rep = 0; rep <= reps; rep++) {
			churn(junk);
			t0 = now_ms();
			if (kx_clear_with(ctx, &r, fills, NULL, o, n, &p) !=
			    KX_MKT_OK)
				return 1;
			t = now_ms() - t0;
			if (rep == 0)
				first = t;
			else if (t < best_w)
				best_w = t;
			if (rep == 0)
				continue;	/* reps cold calls and qsorts */
			churn(junk);
			t0 = now_ms();
			if (kx_clear(&rc, fc, NULL, o, n, &p) != KX_MKT_OK)
				return 1;
			t = now_ms() - t0;
			if (t < best_c)
				best_c = t;
			if (!same(&r, fills, &rc, fc, n)) {
				fprintf(stderr, "kx_clear and kx_clear_with "
				    "differ at %zu orders\n", n);
				return 1;
			}
			for (ns = 0, i = 0; i < n; i++)
				for (k = 0; k < o[i].n; k++) {
					st[ns].price = o[i].side == KX_SELL ?
					    o[i].price[k] : -(int64_t)o[i].price[k];
					st[ns].id = o[i].id;
					st[ns++].k = k;
				}
			t0 = now_ms();
			qsort(st, ns, sizeof(*st), cmp_step);
			t = now_ms() - t0;
			if (t < best_q)
				best_q = t;
		}
		printf("%9zu %10zu %10.2f %10.2f %10.2f %10.2f %6.2fx %6.2fx\n",
		    n, ns, best_w, best_c, first, best_q, best_w / best_q,
		    best_c / best_q);
		printf("%9s volume %" PRIu64 " Wh, price %" PRIu32 "\n", "",
		    r.volume, r.price);
		if (n == 100000) {
			goal_w = best_w;
			goal_c = best_c;
		}
		if (best_w / best_q > worst_w)
			worst_w = best_w / best_q;
		if (best_c / best_q > worst_c)
			worst_c = best_c / best_q;
		kx_clear_ctx_free(&ctx);
		free(st);
		free(fc);
		free(fills);
		free(o);
	}
	free(junk);
	printf("goal 100k orders < 50 ms: steady %.2f ms %s, cold %.2f ms "
	    "%s\n", goal_w, met(goal_w < 50), goal_c, met(goal_c < 50));
	printf("goal clearing <= 2x qsort (worst size): steady %.2fx %s, "
	    "cold %.2fx %s\n", worst_w, met(worst_w <= 2), worst_c,
	    met(worst_c <= 2));
	return 0;
}
