/*
 * bench_summary.c - an operator's daily summary (community/summary.c) for
 * a city-sized day: 30,000 members in random areas, 48 half-hour slots
 * each (1.44 M slot records: metered import and export, local fills),
 * summed to member-days and built into cells under the 15/15 rule, then
 * exported (CSV, NGSI-LD, `summary` bodies). Next to it, in the same run,
 * the yardstick: a plain qsort of the 30,000 member records by area
 * (strcmp), the least any grouping by area by sorting would cost.
 *
 * Areas: 150 districts of about 200 members and 20 hamlets of a handful
 * (merged into a neighbour), and one member in 500 a large consumer
 * (a ryokan at 40x), so that some cells fail the 15 % share and merge or
 * are suppressed. Fixed seed: the same day every run. Each figure is the
 * best of 7. Prints figures only; exits 1 only if a build fails.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "buf.h"
#include "summary.h"

#define MEMBERS		30000
#define SLOTS		48
#define DISTRICTS	150
#define HAMLETS		20
#define ROUNDS		7

/* One member's half hour, as the operator holds it after settlement. */
struct slotrec {
	uint32_t	 member;
	uint32_t	 imp, exp;	/* Wh metered */
	uint32_t	 bought, sold;	/* Wh filled in the local market */
	uint32_t	 price;		/* the clearing price, sen/kWh */
};

static uint64_t	 seed = 0x5eed5eed12345678ULL;

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
by_area(const void *a, const void *b)
{
	return strcmp(((const kx_sum_input_t *)a)->area,
	    ((const kx_sum_input_t *)b)->area);
}

/* What the node does per slot (node/sumd.c add_slot), summed to a day. */
static void
aggregate(kx_sum_input_t *in, const struct slotrec *s, size_t ns)
{
	const uint64_t	 C = 3100, f = 500;
	size_t		 i;
	kx_sum_input_t	*r;

	for (i = 0; i < MEMBERS; i++) {
		in[i].imp_wh = in[i].exp_wh = in[i].bought_wh = 0;
		in[i].sold_wh = in[i].money_local = in[i].money_grid = 0;
	}
	for (i = 0; i < ns; i++) {
		r = &in[s[i].member];
		r->imp_wh += s[i].imp;
		r->exp_wh += s[i].exp;
		r->bought_wh += s[i].bought;
		r->sold_wh += s[i].sold;
		r->money_local += (uint64_t)s[i].bought * s[i].price;
		r->money_grid += (uint64_t)(s[i].imp > s[i].bought ?
		    s[i].imp - s[i].bought : 0) * C + (uint64_t)s[i].bought * f +
		    (uint64_t)(s[i].sold > s[i].exp ? s[i].sold - s[i].exp : 0) *
		    C;
	}
}

static int
parts_cb(void *arg, const uint8_t *mp, size_t len, unsigned part,
    unsigned parts)
{
	size_t	*bytes = arg;

	(void)mp;
	(void)part;
	(void)parts;
	*bytes += len;
	return 0;
}

int
main(void)
{
	kx_sum_input_t	*in, *copy;
	struct slotrec	*s;
	kx_sum_params_t	 p, pn;
	kx_summary_t	*sum = NULL;
	kx_buf_t	 out;
	size_t		 i, k, ns = (size_t)MEMBERS * SLOTS, pub = 0, bytes = 0;
	size_t		 csv_len = 0, ngsi_len = 0, merged = 0;
	double		 t, best[8];
	char		 err[256];
	int		 r, parts = 0, day;
	uint32_t	 area;

	if (sodium_init() < 0)
		return 1;
	if ((in = calloc(MEMBERS, sizeof(*in))) == NULL ||
	    (copy = calloc(MEMBERS, sizeof(*copy))) == NULL ||
	    (s = calloc(ns, sizeof(*s))) == NULL)
		return 1;
	(void)kx_sum_day_parse("2025-04-01", 10, &in[0].day);
	day = in[0].day;
	for (i = 0; i < MEMBERS; i++) {
		randombytes_buf(in[i].member, 32);
		in[i].day = day;
		if (rnd() % 1000 < 3) {		/* 90 members in hamlets */
			area = (uint32_t)(rnd() % HAMLETS);
			snprintf(in[i].area, sizeof(in[i].area), "hamlet-%02u",
			    area);
		} else {
			area = (uint32_t)(rnd() % DISTRICTS);
			snprintf(in[i].area, sizeof(in[i].area), "district-%03u",
			    area);
		}
		in[i].pts_issued = rnd() % 50 == 0 ? rnd() % 100 : 0;
		in[i].pts_redeemed = rnd() % 80 == 0 ? rnd() % 50 : 0;
		in[i].minutes = rnd() % 30 == 0 ? 30 + rnd() % 120 : 0;
	}
	for (i = 0; i < ns; i++) {
		uint32_t	 m = (uint32_t)(i / SLOTS), slot = (uint32_t)(i %
				    SLOTS), big = m % 500 == 7 ? 40 : 1;
		int		 pv = m % 10 < 3 && slot >= 14 && slot < 34;

		s[i].member = m;
		s[i].imp = (uint32_t)(rnd() % 400) * big;
		s[i].exp = pv ? (uint32_t)(rnd() % 800) : 0;
		if (rnd() % 5 == 0) {	/* a fill in this slot */
			if (pv)
				s[i].sold = (uint32_t)(rnd() % 600);
			else
				s[i].bought = (uint32_t)(rnd() % 300);
			s[i].price = 900 + (uint32_t)(rnd() % 1200);
		}
	}
	kx_sum_params_default(&p);
	pn = p;
	pn.eps_milli = 1000;

	printf("daily summaries: %d members in %d districts and %d hamlets, "
	    "%d slots each (%zu slot records); best of %d\n", MEMBERS,
	    DISTRICTS, HAMLETS, SLOTS, ns, ROUNDS);
	for (i = 0; i < 8; i++)
		best[i] = 1e30;
	kx_buf_init(&out);
	for (r = 0; r < ROUNDS; r++) {
		t = now_ms();
		aggregate(in, s, ns);
		t = now_ms() - t;
		best[0] = t < best[0] ? t : best[0];

		kx_summary_free(&sum);
		t = now_ms();
		if (kx_summary_build(&sum, in, MEMBERS, &p, err, sizeof(err)) !=
		    KX_SUM_OK) {
			fprintf(stderr, "build: %s\n", err);
			return 1;
		}
		t = now_ms() - t;
		best[1] = t < best[1] ? t : best[1];

		{
			kx_summary_t	*sn = NULL;

			t = now_ms();
			if (kx_summary_build(&sn, in, MEMBERS, &pn, err,
			    sizeof(err)) != KX_SUM_OK) {
				fprintf(stderr, "build: %s\n", err);
				return 1;
			}
			t = now_ms() - t;
			best[2] = t < best[2] ? t : best[2];
			kx_summary_free(&sn);
		}

		kx_buf_reset(&out);
		t = now_ms();
		(void)kx_summary_csv(&out, sum);
		t = now_ms() - t;
		csv_len = out.len;
		best[3] = t < best[3] ? t : best[3];
		kx_buf_reset(&out);
		t = now_ms();
		(void)kx_summary_ngsi(&out, sum);
		t = now_ms() - t;
		ngsi_len = out.len;
		best[4] = t < best[4] ? t : best[4];
		bytes = 0;
		t = now_ms();
		parts = kx_summary_bodies(sum, day, 0, parts_cb, &bytes);
		t = now_ms() - t;
		best[5] = t < best[5] ? t : best[5];

		memcpy(copy, in, MEMBERS * sizeof(*in));
		t = now_ms();
		qsort(copy, MEMBERS, sizeof(*copy), by_area);
		t = now_ms() - t;
		best[6] = t < best[6] ? t : best[6];
	}
	for (k = 0; k < sum->ncells; k++) {
		pub += sum->cells[k].published;
		merged += sum->cells[k].published && sum->cells[k].n_areas > 1;
	}
	printf("  %-44s %8.2f ms\n", "slot records -> member-days (sums)",
	    best[0]);
	printf("  %-44s %8.2f ms  (%zu cells, %zu of them merged; %zu areas "
	    "suppressed)\n", "kx_summary_build, 15/15 rule, no noise", best[1],
	    pub, merged, sum->ncells - pub);
	printf("  %-44s %8.2f ms\n", "kx_summary_build, discrete Laplace eps 1",
	    best[2]);
	printf("  %-44s %8.2f ms  (%zu bytes)\n", "CSV", best[3], csv_len);
	printf("  %-44s %8.2f ms  (%zu bytes)\n", "NGSI-LD", best[4],
	    ngsi_len);
	printf("  %-44s %8.2f ms  (%d parts, %zu bytes of msgpack)\n",
	    "summary bodies (JSON -> msgpack parts)", best[5], parts, bytes);
	printf("  %-44s %8.2f ms\n", "yardstick: qsort of the 30k records by "
	    "area", best[6]);
	printf("  build / qsort: %.2fx; sums + build + bodies: %.2f ms\n",
	    best[1] / best[6], best[0] + best[1] + best[5]);
	kx_buf_free(&out);
	kx_summary_free(&sum);
	free(s);
	free(copy);
	free(in);
	return 0;
}
