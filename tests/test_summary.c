/*
 * test_summary.c - daily aggregates per area (community/summary.c and
 * summary_out.c, PROTOCOL.md section 9) and the operator node's side
 * (node/sumd.c): hand-worked cells; the 15/15 rule at its edges (14
 * members, 15 members, a member at 15 % and at 16 % of the energy);
 * merging into the next area, the tail into the previous cell, the
 * dominant area suppressed; the same cells whatever the input order;
 * discrete Laplace noise (mean and scale over many samples, none at
 * epsilon 0); CSV, NGSI-LD and the `summary` body, golden and round
 * trip through kx_summary_add_body and split into parts; parser errors
 * and `kaga-ctl aggregate` exit codes; and a real store holding a day of
 * members, orders, a clear, sealed readings, issues and pays, from which
 * the node gathers, publishes once and finds its summary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl_summary.h"
#include "json.h"
#include "market.h"
#include "mp.h"
#include "store.h"
#include "sumd.h"
#include "summary.h"
#include "testutil.h"

/* ---- helpers --------------------------------------------------------- */

static int32_t
day_of(const char *s)
{
	int32_t	 d;

	assert_int_equal(kx_sum_day_parse(s, strlen(s), &d), 0);
	return d;
}

/* A record: member key from a number, imp/exp, the rest zero. */
static kx_sum_input_t
rec(uint32_t k, const char *area, const char *day, uint64_t imp, uint64_t exp)
{
	kx_sum_input_t	 r;

	memset(&r, 0, sizeof(r));
	r.member[0] = (uint8_t)(k >> 24);
	r.member[1] = (uint8_t)(k >> 16);
	r.member[2] = (uint8_t)(k >> 8);
	r.member[3] = (uint8_t)k;
	r.member[31] = 0x5a;
	snprintf(r.area, sizeof(r.area), "%s", area);
	r.day = day_of(day);
	r.imp_wh = imp;
	r.exp_wh = exp;
	return r;
}

static kx_summary_t *
build(const kx_sum_input_t *in, size_t n)
{
	kx_sum_params_t	 p;
	kx_summary_t	*s = NULL;
	char		 err[256];

	kx_sum_params_default(&p);
	if (kx_summary_build(&s, in, n, &p, err, sizeof(err)) != KX_SUM_OK)
		fail_msg("build: %s", err);
	return s;
}

/* "A+B" of cell i. */
static const char *
cell_label(const kx_summary_t *s, size_t i)
{
	static char	 b[512];
	size_t		 a, o = 0;

	b[0] = '\0';
	for (a = 0; a < s->cells[i].n_areas; a++)
		o += (size_t)snprintf(b + o, sizeof(b) - o, "%s%s", a ? "+" : "",
		    s->areas[s->cells[i].first_area + a]);
	return b;
}

static char *
csv_of(const kx_summary_t *s)
{
	kx_buf_t	 b;

	kx_buf_init(&b);
	assert_int_equal(kx_summary_csv(&b, s), 0);
	assert_int_equal(kx_buf_cstr(&b), 0);
	return (char *)b.data;
}

static char *
json_of(const kx_summary_t *s, int32_t day)
{
	kx_buf_t	 b;

	kx_buf_init(&b);
	assert_int_equal(kx_summary_json_day(&b, s, day), 0);
	assert_int_equal(kx_buf_cstr(&b), 0);
	return (char *)b.data;
}

/* ---- days ------------------------------------------------------------ */

static void
t_days(void **state)
{
	char		 d[11];
	int32_t		 day;

	(void)state;
	/* 2025-04-01 00:00 JST is 2025-03-31 15:00 UTC = 1743433200 */
	day = day_of("2025-04-01");
	assert_int_equal(kx_sum_day_start(day), 1743433200);
	assert_int_equal(kx_sum_day_of_ms(1743433200000LL), day);
	assert_int_equal(kx_sum_day_of_ms(1743433199999LL), day - 1);
	assert_int_equal(kx_sum_day_of_ms(1743519599999LL), day);
	kx_sum_day_format(d, day);
	assert_string_equal(d, "2025-04-01");
	kx_sum_day_format(d, day_of("2024-02-29"));
	assert_string_equal(d, "2024-02-29");
	assert_int_equal(day_of("1970-01-01"), 0);
	assert_int_equal(kx_sum_day_of_ms(-1), 0);	/* 08:59 JST */
	assert_int_equal(kx_sum_day_of_ms(-32400000), 0);
	assert_int_equal(kx_sum_day_of_ms(-32400001), -1);	/* 12-31 */
	assert_int_equal(day_of("2000-02-29") + 1, day_of("2000-03-01"));
	assert_int_equal(kx_sum_day_parse("2025-02-29", 10, &day), -1);
	assert_int_equal(kx_sum_day_parse("1900-02-29", 10, &day), -1);
	assert_int_equal(kx_sum_day_parse("2025-13-01", 10, &day), -1);
	assert_int_equal(kx_sum_day_parse("2025-04-31", 10, &day), -1);
	assert_int_equal(kx_sum_day_parse("2025-4-01", 9, &day), -1);
	assert_int_equal(kx_sum_day_parse("2025/04/01", 10, &day), -1);
	assert_int_equal(kx_sum_day_parse("2025-04-01x", 11, &day), -1);
}

/* ---- hand-worked cells ----------------------------------------------- */

/* The golden case: 15 equal members in Daishoji, one big one in Zzz. */
static size_t
golden_in(kx_sum_input_t *in)
{
	size_t	 i;

	for (i = 0; i < 15; i++) {
		in[i] = rec((uint32_t)i + 1, "Daishoji", "2025-04-01", 1234, 7);
		in[i].bought_wh = 500;
		in[i].sold_wh = 50;
		in[i].money_local = 500 * 1200;
		in[i].money_grid = 734 * 3100 + 500 * 500;
		in[i].pts_issued = 3;
		in[i].pts_redeemed = 1;
		in[i].minutes = 20;
	}
	in[15] = rec(99, "Zzz", "2025-04-01", 100000, 0);
	return 16;
}

static void
t_hand_worked(void **state)
{
	kx_sum_input_t	 in[16];
	kx_summary_t	*s;
	const kx_sum_cell_t *c;

	(void)state;
	s = build(in, golden_in(in));
	assert_int_equal(s->ncells, 2);
	c = &s->cells[0];
	assert_true(c->published);
	assert_string_equal(cell_label(s, 0), "Daishoji");
	assert_int_equal(c->members, 15);
	assert_int_equal(c->total[KX_SUM_IMPORT], 15 * 1234);	/* 18510 */
	assert_int_equal(c->total[KX_SUM_EXPORT], 105);
	assert_int_equal(c->total[KX_SUM_BOUGHT], 7500);
	assert_int_equal(c->total[KX_SUM_SOLD], 750);
	assert_int_equal(c->total[KX_SUM_LOCAL], 7500);	/* min(500, 1234) */
	assert_int_equal(c->total[KX_SUM_MONEY_LOCAL], 9000000);
	assert_int_equal(c->total[KX_SUM_MONEY_GRID], 37881000);
	assert_int_equal(c->total[KX_SUM_PTS_ISSUED], 45);
	assert_int_equal(c->total[KX_SUM_PTS_REDEEMED], 15);
	assert_int_equal(c->total[KX_SUM_MINUTES], 300);
	/* 7500 x 1000 / 18510 = 405.18; 9000000 x 1000 / 46881000 = 191.97 */
	assert_int_equal(c->self_permille, 405);
	assert_int_equal(c->money_permille, 191);
	/* Zzz: one member, and 100000 of 118615 Wh: cannot join, suppressed */
	assert_false(s->cells[1].published);
	assert_string_equal(cell_label(s, 1), "Zzz");
	kx_summary_free(&s);
	assert_null(s);
	kx_summary_free(&s);	/* idempotent */
}

static void
t_fourteen(void **state)
{
	kx_sum_input_t	 in[40];
	kx_summary_t	*s;
	size_t		 i, n = 0;

	(void)state;
	/* 14 members alone: suppressed */
	for (i = 0; i < 14; i++)
		in[n++] = rec((uint32_t)i, "Yamanaka", "2025-04-01", 100, 0);
	s = build(in, n);
	assert_int_equal(s->ncells, 1);
	assert_false(s->cells[0].published);
	assert_string_equal(cell_label(s, 0), "Yamanaka");
	kx_summary_free(&s);
	/* the 15th makes it */
	in[n++] = rec(100, "Yamanaka", "2025-04-01", 100, 0);
	s = build(in, n);
	assert_true(s->cells[0].published);
	assert_int_equal(s->cells[0].members, 15);
	kx_summary_free(&s);
	/* 14 in Katayamazu merge into the next area, Yamanaka (15) */
	for (i = 0; i < 14; i++)
		in[n++] = rec(200 + (uint32_t)i, "Katayamazu", "2025-04-01",
		    100, 0);
	s = build(in, n);
	assert_int_equal(s->ncells, 1);
	assert_true(s->cells[0].published);
	assert_string_equal(cell_label(s, 0), "Katayamazu+Yamanaka");
	assert_int_equal(s->cells[0].members, 29);
	assert_int_equal(s->cells[0].total[KX_SUM_IMPORT], 2900);
	kx_summary_free(&s);
	/* a member whose values are all zero does not count */
	n = 0;
	for (i = 0; i < 14; i++)
		in[n++] = rec((uint32_t)i, "Yamanaka", "2025-04-01", 100, 0);
	in[n++] = rec(100, "Yamanaka", "2025-04-01", 0, 0);
	s = build(in, n);
	assert_int_equal(s->ncells, 1);
	assert_false(s->cells[0].published);
	kx_summary_free(&s);
}

static void
t_dominant(void **state)
{
	kx_sum_input_t	 in[80];
	kx_summary_t	*s;
	size_t		 i, n = 0;

	(void)state;
	/* 400 of 400 + 21 x 100 = 2500 Wh: 16 % */
	in[n++] = rec(1, "Kaga", "2025-04-01", 300, 100);
	for (i = 0; i < 21; i++)
		in[n++] = rec(10 + (uint32_t)i, "Kaga", "2025-04-01", 100, 0);
	s = build(in, n);
	assert_int_equal(s->ncells, 1);
	assert_false(s->cells[0].published);
	kx_summary_free(&s);
	/* 300 of 300 + 17 x 100 = 2000 Wh: 15 %, not over: published */
	n = 0;
	in[n++] = rec(1, "Kaga", "2025-04-01", 300, 0);
	for (i = 0; i < 17; i++)
		in[n++] = rec(10 + (uint32_t)i, "Kaga", "2025-04-01", 0, 100);
	s = build(in, n);
	assert_true(s->cells[0].published);
	assert_int_equal(s->cells[0].members, 18);
	kx_summary_free(&s);
	/* 16 % in Kaga, then Kaga+Yamashiro: 400 of 4100 Wh (9.8 %) */
	n = 0;
	in[n++] = rec(1, "Kaga", "2025-04-01", 300, 100);
	for (i = 0; i < 21; i++)
		in[n++] = rec(10 + (uint32_t)i, "Kaga", "2025-04-01", 100, 0);
	for (i = 0; i < 16; i++)
		in[n++] = rec(50 + (uint32_t)i, "Yamashiro", "2025-04-01", 100,
		    0);
	s = build(in, n);
	assert_int_equal(s->ncells, 1);
	assert_true(s->cells[0].published);
	assert_string_equal(cell_label(s, 0), "Kaga+Yamashiro");
	assert_int_equal(s->cells[0].members, 38);
	kx_summary_free(&s);
	/*
	 * A (10), B (a giant and 19 small), C (10): A, A+B, A+B+C fail;
	 * the giant's area B is suppressed; A+C (20) is published.
	 */
	n = 0;
	for (i = 0; i < 10; i++)
		in[n++] = rec(100 + (uint32_t)i, "A", "2025-04-01", 100, 0);
	in[n++] = rec(1, "B", "2025-04-01", 1000000, 0);
	for (i = 0; i < 19; i++)
		in[n++] = rec(200 + (uint32_t)i, "B", "2025-04-01", 100, 0);
	for (i = 0; i < 10; i++)
		in[n++] = rec(300 + (uint32_t)i, "C", "2025-04-01", 100, 0);
	s = build(in, n);
	assert_int_equal(s->ncells, 2);
	assert_true(s->cells[0].published);
	assert_string_equal(cell_label(s, 0), "A+C");
	assert_int_equal(s->cells[0].members, 20);
	assert_int_equal(s->cells[0].total[KX_SUM_IMPORT], 2000);
	assert_false(s->cells[1].published);
	assert_string_equal(cell_label(s, 1), "B");
	kx_summary_free(&s);
}

static void
t_tail_and_days(void **state)
{
	kx_sum_input_t	 in[80];
	kx_summary_t	*s;
	size_t		 i, n = 0;

	(void)state;
	/* A passes alone; B (5) cannot: it joins the previous cell */
	for (i = 0; i < 20; i++)
		in[n++] = rec((uint32_t)i, "A", "2025-04-01", 100, 0);
	for (i = 0; i < 5; i++)
		in[n++] = rec(100 + (uint32_t)i, "B", "2025-04-01", 100, 0);
	/* the next day is a day of its own: 14 in A, suppressed */
	for (i = 0; i < 14; i++)
		in[n++] = rec((uint32_t)i, "A", "2025-04-02", 100, 0);
	/* and an area without a name */
	for (i = 0; i < 15; i++)
		in[n++] = rec(500 + (uint32_t)i, "", "2025-04-02", 100, 0);
	s = build(in, n);
	assert_int_equal(s->ncells, 2);
	assert_string_equal(cell_label(s, 0), "A+B");
	assert_int_equal(s->cells[0].members, 25);
	assert_int_equal(s->cells[0].day, day_of("2025-04-01"));
	/* 2025-04-02: A (14) merges into "unassigned" (15) */
	assert_string_equal(cell_label(s, 1), "A+unassigned");
	assert_int_equal(s->cells[1].members, 29);
	assert_int_equal(s->cells[1].day, day_of("2025-04-02"));
	kx_summary_free(&s);
}

/* Same cells (same JSON) for any order of the records. */
static void
t_deterministic(void **state)
{
	static const char *const areas[] = { "Daishoji", "Kaga", "Katayamazu",
	    "Yamanaka", "Yamashiro", "Hashitate", "Ohshoji" };
	kx_sum_input_t	*in, t;
	kx_summary_t	*s;
	char		*ref, *got;
	size_t		 n = 300, i, j, k;

	(void)state;
	assert_non_null(in = calloc(n, sizeof(*in)));
	for (i = 0; i < n; i++) {
		in[i] = rec((uint32_t)i, areas[(i * 7 + i / 13) % 7],
		    i % 3 ? "2025-04-01" : "2025-04-02", 100 + (i * 37) % 900,
		    (i * 11) % 300);
		in[i].minutes = i % 5;
	}
	in[17].imp_wh = 40000;	/* one dominant member somewhere */
	s = build(in, n);
	ref = csv_of(s);
	kx_summary_free(&s);
	for (k = 0; k < 20; k++) {
		for (i = n - 1; i > 0; i--) {	/* Fisher-Yates */
			j = randombytes_uniform((uint32_t)i + 1);
			t = in[i];
			in[i] = in[j];
			in[j] = t;
		}
		s = build(in, n);
		got = csv_of(s);
		assert_string_equal(got, ref);
		free(got);
		kx_summary_free(&s);
	}
	free(ref);
	free(in);
}

/* ---- noise ------------------------------------------------------------ */

static void
t_dlaplace(void **state)
{
	static const uint64_t num[] = { 100, 1000, 7 };
	static const uint64_t den[] = { 1, 10, 2 };
	const int	 N = 20000;
	double		 scale, mean, mabs, p;
	int64_t		 x, zeros;
	int		 i, k;

	(void)state;
	for (k = 0; k < 3; k++) {
		scale = (double)num[k] / (double)den[k];
		mean = mabs = 0;
		zeros = 0;
		for (i = 0; i < N; i++) {
			x = kx_sum_dlaplace(num[k], den[k]);
			mean += (double)x;
			mabs += (double)(x < 0 ? -x : x);
			zeros += x == 0;
		}
		mean /= N;
		mabs /= N;
		/* E|X| = 2p / (1 - p^2), p = e^(-1/scale): about scale */
		p = 1.0;
		{
			double	 t = 1.0, term = 1.0;
			int	 j;

			for (j = 1; j < 40; j++) {	/* e^(-1/scale) */
				term *= -1.0 / scale / j;
				t += term;
			}
			p = t;
		}
		p = 2 * p / (1 - p * p);
		/* sd of X is about 1.41 scale: 10 standard errors */
		assert_true(mean > -10 * 1.5 * scale / 141.0);
		assert_true(mean < 10 * 1.5 * scale / 141.0);
		assert_true(mabs > 0.9 * p && mabs < 1.1 * p);
	}
	assert_int_equal(kx_sum_dlaplace(0, 1), 0);
	assert_int_equal(kx_sum_dlaplace(1, 0), 0);
}

static void
t_noise(void **state)
{
	kx_sum_input_t	 in[15];
	kx_sum_params_t	 p;
	kx_summary_t	*s;
	char		 err[128];
	double		 mean = 0, mabs = 0, d;
	const int	 N = 1500;
	int		 i, k, f;

	(void)state;
	for (i = 0; i < 15; i++) {
		in[i] = rec((uint32_t)i, "Kaga", "2025-04-01", 100000, 0);
		in[i].minutes = 60;
	}
	kx_sum_params_default(&p);
	/* epsilon 0: exact, twice the same */
	assert_int_equal(kx_summary_build(&s, in, 15, &p, err, sizeof(err)),
	    KX_SUM_OK);
	assert_int_equal(s->cells[0].total[KX_SUM_IMPORT], 1500000);
	assert_int_equal(s->eps_milli, 0);
	{
		char	*j = json_of(s, day_of("2025-04-01"));

		assert_non_null(strstr(j, "\"noise\":null"));
		free(j);
	}
	kx_summary_free(&s);
	/* epsilon 1, bounds 100 kWh: each total +- Laplace(100000) */
	p.eps_milli = 1000;
	for (f = 0; f < KX_SUM_NFIELDS; f++)
		p.bound[f] = 100000;
	for (k = 0; k < N; k++) {
		assert_int_equal(kx_summary_build(&s, in, 15, &p, err,
		    sizeof(err)), KX_SUM_OK);
		assert_int_equal(s->ncells, 1);
		assert_true(s->cells[0].published);	/* rule: unnoised */
		assert_int_equal(s->cells[0].members, 15);
		d = (double)s->cells[0].total[KX_SUM_IMPORT] - 1500000.0;
		mean += d;
		mabs += d < 0 ? -d : d;
		kx_summary_free(&s);
	}
	mean /= N;
	mabs /= N;
	/* sd 141421 / sqrt(1500) = 3651 per mean: 8 standard errors */
	assert_true(mean > -30000 && mean < 30000);
	assert_true(mabs > 0.85 * 100000 && mabs < 1.15 * 100000);
	/* clipping: members above the bound count as the bound */
	for (f = 0; f < KX_SUM_NFIELDS; f++)
		p.bound[f] = 1000;
	p.eps_milli = 1000000;	/* epsilon 1000: noise scale 1 */
	assert_int_equal(kx_summary_build(&s, in, 15, &p, err, sizeof(err)),
	    KX_SUM_OK);
	assert_true(s->cells[0].total[KX_SUM_IMPORT] > 15000 - 50 &&
	    s->cells[0].total[KX_SUM_IMPORT] < 15000 + 50);
	{
		char	*j = json_of(s, day_of("2025-04-01"));

		assert_non_null(strstr(j, "\"noise\":{\"mechanism\":"
		    "\"discrete-laplace\",\"epsilon_milli\":1000000,"
		    "\"bounds\":{\"import_wh\":1000,"));
		free(j);
	}
	kx_summary_free(&s);
	/* bad parameters */
	p.bound[KX_SUM_MINUTES] = 0;
	assert_int_equal(kx_summary_build(&s, in, 15, &p, err, sizeof(err)),
	    KX_SUM_EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "volunteer_minutes"));
	kx_sum_params_default(&p);
	p.eps_milli = KX_SUM_EPS_MAX + 1;
	assert_int_equal(kx_summary_build(&s, in, 15, &p, err, sizeof(err)),
	    KX_SUM_EINVAL);
}

/* ---- exports ------------------------------------------------------------ */

static const char golden_csv[] =
    "day,cell,status,members,import_wh,export_wh,bought_local_wh,"
    "sold_local_wh,local_supply_wh,self_sufficiency_permille,"
    "money_local_msen,money_grid_msen,money_local_permille,points_issued,"
    "points_redeemed,volunteer_minutes,epsilon_milli\n"
    "2025-04-01,Daishoji,published,15,18510,105,7500,750,7500,405,9000000,"
    "37881000,191,45,15,300,0\n"
    "2025-04-01,Zzz,suppressed,,,,,,,,,,,,,,\n";

static const char golden_json[] =
    "{\"kind\":\"kaga-area-day\",\"v\":1,\"day\":\"2025-04-01\","
    "\"from\":1743433200,\"to\":1743519600,\"rule\":{\"min_members\":15,"
    "\"max_share_pct\":15},\"noise\":null,\"part\":1,\"parts\":1,"
    "\"cells\":[{\"areas\":[\"Daishoji\"],\"members\":15,"
    "\"import_wh\":18510,\"export_wh\":105,\"bought_local_wh\":7500,"
    "\"sold_local_wh\":750,\"local_supply_wh\":7500,"
    "\"money_local_msen\":9000000,\"money_grid_msen\":37881000,"
    "\"points_issued\":45,\"points_redeemed\":15,"
    "\"volunteer_minutes\":300,\"self_sufficiency_permille\":405,"
    "\"money_local_permille\":191}],\"suppressed\":[\"Zzz\"]}";

#define G_HEAD(T) "{\"id\":\"urn:ngsi-ld:" T ":kaga-exchange:2025-04-01:" \
    "Daishoji\",\"type\":\"" T "\",\"name\":{\"type\":\"Property\"," \
    "\"value\":\"Daishoji\"},\"areaServed\":{\"type\":\"Property\"," \
    "\"value\":\"Daishoji\"},\"dataProvider\":{\"type\":\"Property\"," \
    "\"value\":\"kaga-exchange\"},\"dateObservedFrom\":{\"type\":" \
    "\"Property\",\"value\":{\"@type\":\"DateTime\",\"@value\":" \
    "\"2025-03-31T15:00:00Z\"}},\"dateObservedTo\":{\"type\":\"Property\"," \
    "\"value\":{\"@type\":\"DateTime\",\"@value\":\"2025-04-01T15:00:00Z\"}}"
#define G_ENERGY "\"https://raw.githubusercontent.com/smart-data-models/" \
    "dataModel.Energy/master/context.jsonld\""
#define G_CORE "\"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context." \
    "jsonld\""
#define G_CUSTOM ",\"numberOfMembers\":{\"type\":\"Property\",\"value\":15}," \
    "\"epsilonMilli\":{\"type\":\"Property\",\"value\":0}," \
    "\"refACMeasurement\":{\"type\":\"Relationship\",\"object\":" \
    "\"urn:ngsi-ld:ACMeasurement:kaga-exchange:2025-04-01:Daishoji\"}," \
    "\"@context\":[" G_ENERGY ",{\"kaga\":\"urn:kaga-exchange:ngsi-ld:\"," \
    "\"KagaLocalMarket\":\"kaga:KagaLocalMarket\"," \
    "\"KagaCommunityCredits\":\"kaga:KagaCommunityCredits\"," \
    "\"refACMeasurement\":{\"@id\":\"kaga:refACMeasurement\"," \
    "\"@type\":\"@id\"},\"numberOfMembers\":\"kaga:numberOfMembers\"," \
    "\"epsilonMilli\":\"kaga:epsilonMilli\"," \
    "\"localEnergyBought\":\"kaga:localEnergyBought\"," \
    "\"localEnergySold\":\"kaga:localEnergySold\"," \
    "\"localEnergySupplied\":\"kaga:localEnergySupplied\"," \
    "\"selfSufficiency\":\"kaga:selfSufficiency\"," \
    "\"moneyPaidToMembers\":\"kaga:moneyPaidToMembers\"," \
    "\"moneyPaidToGrid\":\"kaga:moneyPaidToGrid\"," \
    "\"moneyKeptLocalShare\":\"kaga:moneyKeptLocalShare\"," \
    "\"healthPointsIssued\":\"kaga:healthPointsIssued\"," \
    "\"healthPointsRedeemed\":\"kaga:healthPointsRedeemed\"," \
    "\"volunteerMinutes\":\"kaga:volunteerMinutes\"," \
    "\"unitText\":\"https://schema.org/unitText\"}," G_CORE "]}"
#define G_MSEN ",\"unitText\":{\"type\":\"Property\",\"value\":" \
    "\"milli-sen (1 JPY = 100000)\"}}"
#define G_POINTS ",\"unitText\":{\"type\":\"Property\",\"value\":\"points\"}}"

static const char golden_ngsi[] = "[\n"
    G_HEAD("ACMeasurement")
    ",\"totalActiveEnergyImport\":{\"type\":\"Property\",\"value\":"
    "\"18.510\",\"unitCode\":\"KWH\"},\"totalActiveEnergyExport\":{\"type\":"
    "\"Property\",\"value\":\"0.105\",\"unitCode\":\"KWH\"},\"@context\":["
    G_ENERGY "," G_CORE "]},\n"
    G_HEAD("KagaLocalMarket")
    ",\"localEnergyBought\":{\"type\":\"Property\",\"value\":\"7.500\","
    "\"unitCode\":\"KWH\"},\"localEnergySold\":{\"type\":\"Property\","
    "\"value\":\"0.750\",\"unitCode\":\"KWH\"},\"localEnergySupplied\":{"
    "\"type\":\"Property\",\"value\":\"7.500\",\"unitCode\":\"KWH\"},"
    "\"selfSufficiency\":{\"type\":\"Property\",\"value\":405,\"unitCode\":"
    "\"NX\"},\"moneyPaidToMembers\":{\"type\":\"Property\",\"value\":9000000"
    G_MSEN ",\"moneyPaidToGrid\":{\"type\":\"Property\",\"value\":37881000"
    G_MSEN ",\"moneyKeptLocalShare\":{\"type\":\"Property\",\"value\":191,"
    "\"unitCode\":\"NX\"}" G_CUSTOM ",\n"
    G_HEAD("KagaCommunityCredits")
    ",\"healthPointsIssued\":{\"type\":\"Property\",\"value\":45" G_POINTS
    ",\"healthPointsRedeemed\":{\"type\":\"Property\",\"value\":15" G_POINTS
    ",\"volunteerMinutes\":{\"type\":\"Property\",\"value\":300,"
    "\"unitCode\":\"MIN\"}" G_CUSTOM "\n]\n";

static void
t_golden(void **state)
{
	kx_sum_input_t	 in[16];
	kx_summary_t	*s;
	kx_buf_t	 b, mp;
	kx_mp_cur_t	 c;
	kx_mp_val_t	 v;
	char		*got, err[128];

	(void)state;
	s = build(in, golden_in(in));
	got = csv_of(s);
	assert_string_equal(got, golden_csv);
	free(got);
	got = json_of(s, day_of("2025-04-01"));
	assert_string_equal(got, golden_json);
	free(got);
	kx_buf_init(&b);
	kx_buf_init(&mp);
	assert_int_equal(kx_summary_ngsi(&b, s), 0);
	assert_int_equal(kx_buf_cstr(&b), 0);
	assert_string_equal((char *)b.data, golden_ngsi);
	/* integers and strings only: protocols/json.c reads it */
	assert_int_equal(kx_json_to_mp(&mp, (char *)b.data, b.len, NULL, err,
	    sizeof(err)), 0);
	kx_mp_cur_init(&c, mp.data, mp.len);
	assert_int_equal(kx_mp_read(&c, &v), KX_MP_OK);
	assert_int_equal(v.kind, KX_MP_ARRAY);
	assert_int_equal(v.len, 3);
	kx_buf_free(&b);
	kx_buf_free(&mp);
	kx_summary_free(&s);
}

/* Areas that need quoting and percent-encoding; an empty NGSI export. */
static void
t_escaping(void **state)
{
	kx_sum_input_t	 in[15];
	kx_summary_t	*s;
	kx_buf_t	 b;
	char		*got;
	size_t		 i;

	(void)state;
	for (i = 0; i < 15; i++)
		in[i] = rec((uint32_t)i, "Kaga, \"east\"", "2025-04-01", 1, 0);
	s = build(in, 15);
	got = csv_of(s);
	assert_non_null(strstr(got, "\n2025-04-01,\"Kaga, \"\"east\"\"\","
	    "published,15,15,"));
	free(got);
	kx_buf_init(&b);
	assert_int_equal(kx_summary_ngsi(&b, s), 0);
	kx_buf_cstr(&b);
	assert_non_null(strstr((char *)b.data, "2025-04-01:Kaga%2C%20%22east"
	    "%22\""));
	assert_non_null(strstr((char *)b.data, "\"value\":\"Kaga, \\\"east\\\""
	    "\"}"));
	assert_non_null(strstr((char *)b.data, "\"value\":\"0.015\""));
	kx_summary_free(&s);
	kx_buf_reset(&b);
	s = kx_summary_new();
	assert_int_equal(kx_summary_ngsi(&b, s), 0);
	assert_int_equal(b.len, 3);	/* "]\n" after "[" */
	kx_buf_free(&b);
	kx_summary_free(&s);
}

struct parts {
	kx_summary_t	*s;
	unsigned	 n, parts;
	size_t		 max;
};

static int
part_cb(void *arg, const uint8_t *mp, size_t len, unsigned part,
    unsigned parts)
{
	struct parts	*p = arg;
	char		 err[128];

	assert_int_equal(part, ++p->n);
	p->parts = parts;
	assert_true(len <= p->max);
	if (kx_summary_add_body(p->s, mp, len, err, sizeof(err)) !=
	    KX_SUM_OK)
		fail_msg("add_body: %s", err);
	return 0;
}

/* The body round trip, whole and split into parts. */
static void
t_bodies(void **state)
{
	static const char *const areas[] = { "A", "B", "C", "D", "E", "F",
	    "G", "H", "I", "J" };
	kx_sum_input_t	*in;
	kx_summary_t	*s;
	struct parts	 p;
	char		*ref, *got;
	size_t		 n = 170, i;
	int		 rc;

	(void)state;
	assert_non_null(in = calloc(n, sizeof(*in)));
	for (i = 0; i < n; i++) {
		in[i] = rec((uint32_t)i, areas[i % 10], "2025-04-01",
		    1000 + i, i);
		in[i].bought_wh = i % 7 ? 0 : 300;
		in[i].money_grid = 777 * i;
		in[i].pts_redeemed = i % 3;
	}
	in[169] = rec(9999, "Z", "2025-04-01", 1000000000, 0);	/* out */
	s = build(in, n);
	ref = csv_of(s);
	for (i = 0; i < 2; i++) {
		memset(&p, 0, sizeof(p));
		p.max = i ? 1200 : KX_SUM_BODY_MAX;
		assert_non_null(p.s = kx_summary_new());
		rc = kx_summary_bodies(s, day_of("2025-04-01"), p.max, part_cb,
		    &p);
		assert_int_equal(rc, (int)p.parts);
		assert_true(i ? rc > 2 : rc == 1);
		got = csv_of(p.s);
		assert_string_equal(got, ref);
		free(got);
		kx_summary_free(&p.s);
	}
	/* no cell for a day: no part */
	assert_int_equal(kx_summary_bodies(s, day_of("2025-04-02"), 0,
	    part_cb, &p), 0);
	/* a cell larger than the limit: an error */
	assert_int_equal(kx_summary_bodies(s, day_of("2025-04-01"), 300,
	    part_cb, &p), -1);
	free(ref);
	free(in);
	kx_summary_free(&s);
}

static void
t_body_errors(void **state)
{
	static const struct {
		const char	*json;
		const char	*why;
	} bad[] = {
		{ "[]", "not a map" },
		{ "{\"kind\":\"other\"}", "kind" },
		{ "{\"kind\":\"kaga-area-day\",\"day\":\"2025-02-30\"}", "day" },
		{ "{\"kind\":\"kaga-area-day\",\"day\":\"2025-04-01\"}", "rule" },
		{ "{\"kind\":\"kaga-area-day\",\"day\":\"2025-04-01\",\"rule\":"
		    "{\"min_members\":15,\"max_share_pct\":15},\"cells\":[{"
		    "\"areas\":[]}]}", "areas" },
		{ "{\"kind\":\"kaga-area-day\",\"day\":\"2025-04-01\",\"rule\":"
		    "{\"min_members\":15,\"max_share_pct\":15},\"cells\":[{"
		    "\"areas\":[\"A\"],\"members\":15}]}", "import_wh" },
		{ "{\"kind\":\"kaga-area-day\",\"day\":\"2025-04-01\",\"rule\":"
		    "{\"min_members\":15,\"max_share_pct\":15},\"noise\":{"
		    "\"epsilon_milli\":0},\"cells\":[]}", "epsilon_milli" },
		{ "{\"kind\":\"kaga-area-day\",\"day\":\"2025-04-01\",\"rule\":"
		    "{\"min_members\":15,\"max_share_pct\":15},\"cells\":[],"
		    "\"suppressed\":[1]}", "suppressed[0]" },
	};
	kx_summary_t	*s;
	kx_buf_t	 mp;
	char		 err[160];
	size_t		 i;

	(void)state;
	assert_non_null(s = kx_summary_new());
	kx_buf_init(&mp);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kx_buf_reset(&mp);
		assert_int_equal(kx_json_to_mp(&mp, bad[i].json,
		    strlen(bad[i].json), NULL, err, sizeof(err)), 0);
		err[0] = '\0';
		assert_int_equal(kx_summary_add_body(s, mp.data, mp.len, err,
		    sizeof(err)), KX_SUM_EPARSE);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(s->ncells, 0);
		assert_int_equal(s->nareas, 0);
	}
	assert_int_equal(kx_summary_add_body(s, (const uint8_t *)"\xc1", 1,
	    err, sizeof(err)), KX_SUM_EPARSE);
	kx_buf_free(&mp);
	kx_summary_free(&s);
}

/* ---- per-member records from JSON, and `kaga-ctl aggregate` ------------ */

#define M1 "\"member\":\"0101010101010101010101010101010101010101010101010101010101010101\""

static void
t_inputs_parse(void **state)
{
	static const struct {
		const char	*json;
		const char	*why;
	} bad[] = {
		{ "", "json:" },
		{ "{}", "must be a JSON array" },
		{ "[1]", "[0]: must be an object" },
		{ "[{\"day\":\"2025-04-01\"}]", "[0].member: missing" },
		{ "[{" M1 "}]", "[0].day: missing" },
		{ "[{\"member\":\"01\",\"day\":\"2025-04-01\"}]", "[0].member:" },
		{ "[{" M1 ",\"day\":\"2025-04-31\"}]", "[0].day: must be" },
		{ "[{" M1 ",\"day\":\"2025-04-01\",\"import_wh\":-1}]",
		    "[0].import_wh: must be an unsigned integer" },
		{ "[{" M1 ",\"day\":\"2025-04-01\",\"export_wh\":1.5}]",
		    "floating point" },
		{ "[{" M1 ",\"day\":\"2025-04-01\",\"points_issued\":\"3\"}]",
		    "[0].points_issued:" },
		{ "[{" M1 ",\"day\":\"2025-04-01\",\"volunteer_minutes\":"
		    "1000000000000001}]", "[0].volunteer_minutes:" },
		{ "[{" M1 ",\"day\":\"2025-04-01\",\"imports_wh\":1}]",
		    "[0].imports_wh: unknown field" },
		{ "[{" M1 ",\"day\":\"2025-04-01\",\"area\":"
		    "\"123456789012345678901234567890123\"}]", "[0].area:" },
		{ "[{" M1 ",\"day\":\"2025-04-01\",\"area\":[\"x\"]}]",
		    "[0].area:" },
	};
	kx_sum_input_t	*in;
	size_t		 n, i;
	char		 err[256];
	const char	*ok = "[{" M1 ",\"day\":\"2025-04-01\",\"area\":\"Kaga\","
	    "\"import_wh\":5,\"export_wh\":6,\"bought_local_wh\":7,"
	    "\"sold_local_wh\":8,\"money_local_msen\":9,\"money_grid_msen\":10,"
	    "\"points_issued\":11,\"points_redeemed\":12,"
	    "\"volunteer_minutes\":13},{\"member\":\"02020202020202020202020"
	    "20202020202020202020202020202020202020202\",\"day\":\"2025-04-02\""
	    "}]";

	(void)state;
	assert_int_equal(kx_sum_inputs_parse(&in, &n, ok, strlen(ok), err,
	    sizeof(err)), KX_SUM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(in[0].member[0], 1);
	assert_string_equal(in[0].area, "Kaga");
	assert_int_equal(in[0].day, day_of("2025-04-01"));
	assert_int_equal(in[0].imp_wh, 5);
	assert_int_equal(in[0].exp_wh, 6);
	assert_int_equal(in[0].bought_wh, 7);
	assert_int_equal(in[0].sold_wh, 8);
	assert_int_equal(in[0].money_local, 9);
	assert_int_equal(in[0].money_grid, 10);
	assert_int_equal(in[0].pts_issued, 11);
	assert_int_equal(in[0].pts_redeemed, 12);
	assert_int_equal(in[0].minutes, 13);
	assert_string_equal(in[1].area, "");
	assert_int_equal(in[1].imp_wh, 0);
	free(in);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(kx_sum_inputs_parse(&in, &n, bad[i].json,
		    strlen(bad[i].json), err, sizeof(err)), KX_SUM_EINVAL);
		assert_null(in);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("case %zu: %s", i, err);
	}
}

static char	 tmpd[64];

/* Runs kaga-ctl aggregate on `json` with extra args; stdout/err into out/err. */
static int
run_aggregate(const char *json, const char *a1, const char *a2, char *out,
    size_t outlen, char *err, size_t errlen)
{
	char	 in[128], op[128], ep[128];
	char	*argv[8];
	FILE	*f;
	int	 rc, so, se, fo, fe, argc = 0;
	size_t	 got;

	snprintf(in, sizeof(in), "%s/in.json", tmpd);
	snprintf(op, sizeof(op), "%s/out", tmpd);
	snprintf(ep, sizeof(ep), "%s/err", tmpd);
	assert_non_null(f = fopen(in, "w"));
	fputs(json, f);
	fclose(f);
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fo, 1);
	dup2(fe, 2);
	argv[argc++] = "aggregate";
	argv[argc++] = "--input";
	argv[argc++] = in;
	if (a1 != NULL)
		argv[argc++] = (char *)(uintptr_t)a1;
	if (a2 != NULL)
		argv[argc++] = (char *)(uintptr_t)a2;
	argv[argc] = NULL;
	rc = kx_ctl_cmd_aggregate(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	close(fo);
	close(fe);
	assert_non_null(f = fopen(op, "r"));
	got = fread(out, 1, outlen - 1, f);
	out[got] = '\0';
	fclose(f);
	assert_non_null(f = fopen(ep, "r"));
	got = fread(err, 1, errlen - 1, f);
	err[got] = '\0';
	fclose(f);
	return rc;
}

static void
t_cli_aggregate(void **state)
{
	static char	 out[16384], err[1024];
	kx_buf_t	 j;
	size_t		 i;

	(void)state;
	snprintf(tmpd, sizeof(tmpd), "/tmp/kaga-sum-XXXXXX");
	assert_non_null(mkdtemp(tmpd));
	kx_buf_init(&j);
	kx_buf_putc(&j, '[');
	for (i = 0; i < 15; i++)
		kx_buf_printf(&j, "%s{\"member\":\"%064zx\",\"area\":\"Kaga\","
		    "\"day\":\"2025-04-01\",\"import_wh\":1000}", i ? "," : "",
		    i + 1);
	kx_buf_puts(&j, "]");
	kx_buf_cstr(&j);
	assert_int_equal(run_aggregate((char *)j.data, "--csv", NULL, out,
	    sizeof(out), err, sizeof(err)), 0);
	assert_non_null(strstr(out, "\n2025-04-01,Kaga,published,15,15000,"));
	assert_int_equal(run_aggregate((char *)j.data, NULL, NULL, out,
	    sizeof(out), err, sizeof(err)), 0);
	assert_true(strncmp(out, "{\"kind\":\"kaga-area-day\"", 23) == 0);
	assert_int_equal(run_aggregate((char *)j.data, "--epsilon", "0.5", out,
	    sizeof(out), err, sizeof(err)), 0);
	assert_non_null(strstr(out, "\"epsilon_milli\":500,"));
	assert_int_equal(run_aggregate((char *)j.data, "--epsilon", "1.0001",
	    out, sizeof(out), err, sizeof(err)), 2);
	assert_non_null(strstr(err, "--epsilon"));
	assert_int_equal(run_aggregate((char *)j.data, "--csv", "--ngsi", out,
	    sizeof(out), err, sizeof(err)), 2);
	assert_int_equal(run_aggregate("[{\"member\":\"x\"}]", NULL, NULL, out,
	    sizeof(out), err, sizeof(err)), 2);
	assert_non_null(strstr(err, "kaga-ctl aggregate: "));
	assert_non_null(strstr(err, "[0].member: must be 64 lowercase hex"));
	assert_int_equal(run_aggregate("[{\"member\":\"" "0000000000000000000"
	    "000000000000000000000000000000000000000000001\",\"day\":"
	    "\"2025-04-01\",\"export_wh\":true}]", NULL, NULL, out,
	    sizeof(out), err, sizeof(err)), 2);
	assert_non_null(strstr(err, "[0].export_wh: must be an unsigned "
	    "integer"));
	/* one member twice in a day */
	kx_buf_reset(&j);
	for (i = 0; i < 2; i++)
		kx_buf_printf(&j, "%s{\"member\":\"%064x\",\"day\":"
		    "\"2025-04-01\",\"import_wh\":1}", i ? "," : "[", 7);
	kx_buf_puts(&j, "]");
	kx_buf_cstr(&j);
	assert_int_equal(run_aggregate((char *)j.data, NULL, NULL, out,
	    sizeof(out), err, sizeof(err)), 2);
	assert_non_null(strstr(err, "record 1 (member 0000000000000000..): "
	    "member: given twice for one day"));
	kx_buf_free(&j);
	{
		char	 p[128];

		snprintf(p, sizeof(p), "%s/in.json", tmpd);
		unlink(p);
		snprintf(p, sizeof(p), "%s/out", tmpd);
		unlink(p);
		snprintf(p, sizeof(p), "%s/err", tmpd);
		unlink(p);
		rmdir(tmpd);
	}
}

static void
t_limits(void **state)
{
	kx_sum_input_t	 in[15];
	kx_sum_params_t	 p;
	kx_summary_t	*s;
	char		 err[160];
	size_t		 i;

	(void)state;
	kx_sum_params_default(&p);
	in[0] = rec(1, "Kaga", "2025-04-01", KX_SUM_VALUE_MAX + 1, 0);
	assert_int_equal(kx_summary_build(&s, in, 1, &p, err, sizeof(err)),
	    KX_SUM_EINVAL);
	assert_non_null(strstr(err, "import_wh"));
	in[0] = rec(1, "Kaga", "2025-04-01", 1, 0);
	memset(in[0].area, 'x', sizeof(in[0].area));	/* no NUL */
	assert_int_equal(kx_summary_build(&s, in, 1, &p, err, sizeof(err)),
	    KX_SUM_EINVAL);
	assert_non_null(strstr(err, "area"));
	in[0] = rec(1, "\xff\xfe", "2025-04-01", 1, 0);
	assert_int_equal(kx_summary_build(&s, in, 1, &p, err, sizeof(err)),
	    KX_SUM_EINVAL);
	/* a total past 2^53 - 1 cannot be published exactly */
	for (i = 0; i < 15; i++)
		in[i] = rec((uint32_t)i, "Kaga", "2025-04-01",
		    KX_SUM_VALUE_MAX, KX_SUM_VALUE_MAX);
	assert_int_equal(kx_summary_build(&s, in, 15, &p, err, sizeof(err)),
	    KX_SUM_ERANGE);
	assert_non_null(strstr(err, "import_wh is over"));
	assert_null(s);
	/* nothing in, nothing out */
	assert_int_equal(kx_summary_build(&s, NULL, 0, &p, err, sizeof(err)),
	    KX_SUM_OK);
	assert_int_equal(s->ncells, 0);
	kx_summary_free(&s);
	assert_string_equal(kx_sum_strerror(KX_SUM_EDUP),
	    "a member twice in one day");
	assert_null(kx_sum_field_name(KX_SUM_NFIELDS));
}

/* ---- the node: a day in a real store ------------------------------------ */

struct who {
	tkey_t		 k;
	uint64_t	 seq;
	uint8_t		 prev[KX_ID_LEN];
};

/* Signs the author's next message and imports it: must be accepted. */
static void
post(kx_store_t *st, struct who *w, int64_t ts, const char *type,
    const char *json, uint8_t id[KX_ID_LEN])
{
	kx_buf_t	 wire;
	kx_result_t	 r;

	kx_buf_init(&wire);
	tmsg(&wire, &w->k, w->seq + 1, w->seq ? w->prev : NULL, ts, type,
	    json);
	assert_int_equal(kx_store_import(st, wire.data, wire.len,
	    (int64_t)time(NULL) * 1000, &r, NULL, NULL), KX_OK);
	if (r.outcome != KX_ACCEPTED)
		fail_msg("%s: %s %s", json, kx_outcome_name(r.outcome),
		    r.why.text);
	w->seq++;
	tid(w->prev, &wire);
	if (id != NULL)
		memcpy(id, w->prev, KX_ID_LEN);
	kx_buf_free(&wire);
}

struct nodectx {
	kx_store_t	*st;
	struct who	*op;
	int		 published;
};

static int
fake_publish(void *ctx, const char *type, const uint8_t *body, size_t len,
    char *err, size_t errlen)
{
	struct nodectx	*nc = ctx;
	kx_buf_t	 wire;
	kx_why_t	 why;
	int		 rc;

	kx_buf_init(&wire);
	rc = kx_store_append_own(nc->st, nc->op->k.sk, type, body, len,
	    (int64_t)time(NULL) * 1000, &wire, &why);
	kx_buf_free(&wire);
	if (rc != KX_OK) {
		snprintf(err, errlen, "%s", why.text);
		return -1;
	}
	nc->published++;
	return 0;
}

static void
t_node_day(void **state)
{
	struct who	 op, iss, m[16];
	struct nodectx	 nc;
	kx_store_t	*st;
	kx_why_t	 why;
	kx_sumd_keys_t	 keys;
	kx_sum_input_t	*in;
	kx_mktd_conf_t	 conf;
	kx_sumd_t	*sd = NULL;
	kx_order_t	 ord[8];
	kx_clear_t	 res;
	kx_params_t	 p;
	kx_summary_t	*s;
	kx_buf_t	 j, out, mp;
	uint8_t		 oid[8][KX_ID_LEN], iid[KX_ID_LEN], cpk[32], csk[32];
	uint64_t	 fills[8];
	char		*dir, body[2048], hex[2 * KX_ID_LEN + 1], err[160];
	int64_t		 day_s, slot, now = (int64_t)time(NULL) * 1000;
	int32_t		 day = kx_sum_day_of_ms(now) - 2;
	size_t		 n, i, k;

	(void)state;
	dir = tmpdir_new();
	assert_non_null(st = kx_store_open(dir, 0, &why));
	memset(&op, 0, sizeof(op));
	memset(&iss, 0, sizeof(iss));
	memset(m, 0, sizeof(m));
	tkey_new(&op.k);
	tkey_new(&iss.k);
	for (i = 0; i < 16; i++)
		tkey_new(&m[i].k);
	assert_int_equal(kx_store_add_operator(st, op.k.pk), KX_OK);
	day_s = kx_sum_day_start(day);
	slot = day_s + 36000;	/* 10:00 JST */
	/* admissions, the day before */
	for (i = 0; i < 16; i++) {
		snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":"
		    "\"household\",\"area\":\"Yamashiro\",\"until\":0}",
		    m[i].k.hex);
		post(st, &op, (day_s - 7200) * 1000 + (int64_t)i, "member",
		    body, NULL);
	}
	snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":\"issuer\","
	    "\"area\":\"Daishoji\",\"until\":0,\"cap\":100000}", iss.k.hex);
	post(st, &op, (day_s - 7200) * 1000 + 20, "member", body, NULL);
	/* m0..m3 sell 300 Wh at 900, m4..m7 buy 300 Wh at 2000 */
	kx_params_default(&p);
	for (i = 0; i < 8; i++) {
		snprintf(body, sizeof(body), "{\"slot\":%" PRId64 ",\"side\":"
		    "\"%s\",\"steps\":[[300,%d]]}", slot, i < 4 ? "sell" :
		    "buy", i < 4 ? 900 : 2000);
		post(st, &m[i], (slot - 600) * 1000 + (int64_t)i, "order",
		    body, oid[i]);
		memset(&ord[i], 0, sizeof(ord[i]));
		memcpy(ord[i].id, oid[i], KX_ID_LEN);
		memcpy(ord[i].member, m[i].k.pk, KX_PK_LEN);
		ord[i].side = i < 4 ? KX_SELL : KX_BUY;
		ord[i].n = 1;
		ord[i].wh[0] = 300;
		ord[i].price[0] = i < 4 ? 900 : 2000;
	}
	assert_int_equal(kx_clear(&res, fills, NULL, ord, 8, &p), KX_MKT_OK);
	assert_int_equal(res.volume, 1200);
	assert_int_equal(res.price, 1200);	/* floor((900 + 1500) / 2) */
	kx_buf_init(&j);
	kx_buf_printf(&j, "{\"slot\":%" PRId64 ",\"set\":\"", slot);
	kx_buf_hex(&j, res.set, 32);
	kx_buf_printf(&j, "\",\"price\":%u,\"volume\":%" PRIu64 ",\"fills\":[",
	    res.price, res.volume);
	{
		/* fills in id order */
		size_t	 ix[8], t;

		for (i = 0; i < 8; i++)
			ix[i] = i;
		for (i = 0; i < 8; i++)
			for (k = i + 1; k < 8; k++)
				if (memcmp(oid[ix[k]], oid[ix[i]], 32) < 0) {
					t = ix[i];
					ix[i] = ix[k];
					ix[k] = t;
				}
		for (i = 0; i < 8; i++) {
			kx_hex(hex, oid[ix[i]], KX_ID_LEN);
			kx_buf_printf(&j, "%s[\"%s\",%" PRIu64 "]", i ? "," :
			    "", hex, fills[ix[i]]);
		}
	}
	kx_buf_puts(&j, "]}");
	kx_buf_cstr(&j);
	post(st, &op, (slot - 300) * 1000 + 1, "clear", (char *)j.data, NULL);
	/* readings sealed to the operator; m7 sends none (I = Ab, E = 0) */
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(cpk, op.k.pk),
	    0);
	assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(csk, op.k.sk),
	    0);
	kx_buf_init(&mp);
	for (i = 0; i < 7; i++) {
		uint8_t	 box[128];
		char	 plain[64], bhex[257];

		snprintf(plain, sizeof(plain), "{\"imp\":%d,\"exp\":%d}",
		    i < 4 ? 0 : 300, i < 4 ? 300 : 0);
		kx_buf_reset(&mp);
		assert_int_equal(kx_json_to_mp(&mp, plain, strlen(plain), NULL,
		    err, sizeof(err)), 0);
		assert_int_equal(crypto_box_seal(box, mp.data, mp.len, cpk), 0);
		kx_hex(bhex, box, mp.len + crypto_box_SEALBYTES);
		snprintf(body, sizeof(body), "{\"slot\":%" PRId64 ",\"to\":"
		    "\"%s\",\"box\":\"%s\"}", slot, op.k.hex, bhex);
		post(st, &m[i], (slot + 1860) * 1000, "reading", body, NULL);
	}
	/* 50 points to m8, which redeems 20 at the operator */
	{
		char	 d[11];
		int	 fy;

		kx_sum_day_format(d, day);	/* April to March */
		fy = atoi(d) - (atoi(d + 5) < 4);
		snprintf(body, sizeof(body), "{\"to\":\"%s\",\"points\":50,"
		    "\"program\":\"walk\",\"fy\":%d}", m[8].k.hex, fy);
	}
	post(st, &iss, slot * 1000, "issue", body, iid);
	kx_hex(hex, iid, KX_ID_LEN);
	snprintf(body, sizeof(body), "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":20,\"in\":[\"%s\"]}", op.k.hex, hex);
	post(st, &m[8], (slot + 7200) * 1000, "pay", body, NULL);
	/* m9 pays 15 minutes to each of m10..m15 */
	for (i = 10; i < 16; i++) {
		snprintf(body, sizeof(body), "{\"cur\":\"time\",\"to\":\"%s\","
		    "\"amount\":15,\"in\":[]}", m[i].k.hex);
		post(st, &m[9], (slot + 3600) * 1000 + (int64_t)i, "pay", body,
		    NULL);
	}
	/* the next day: a time pay that must not count */
	snprintf(body, sizeof(body), "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":100,\"in\":[]}", m[10].k.hex);
	post(st, &m[9], kx_sum_day_start(day + 1) * 1000 + 5, "pay", body,
	    NULL);

	keys.pk = op.k.pk;
	keys.cpk = cpk;
	keys.csk = csk;
	assert_int_equal(kx_sumd_collect(st, &keys, day, &in, &n), 0);
	/* m0..m7 (market), m8 (points), m10..m15 (minutes); not m9 */
	assert_int_equal(n, 15);
	for (i = 0; i < n; i++) {
		const kx_sum_input_t	*r = &in[i];

		assert_string_equal(r->area, "Yamashiro");
		assert_int_equal(r->day, day);
		for (k = 0; k < 16; k++)
			if (memcmp(r->member, m[k].k.pk, 32) == 0)
				break;
		assert_true(k < 16 && k != 9);
		if (k < 4) {		/* sellers */
			assert_int_equal(r->sold_wh, 300);
			assert_int_equal(r->exp_wh, 300);
			assert_int_equal(r->imp_wh, 0);
			assert_int_equal(r->money_local, 0);
			assert_int_equal(r->money_grid, 0);
		} else if (k < 8) {	/* buyers: 300 x 1200; fee 300 x 500 */
			assert_int_equal(r->bought_wh, 300);
			assert_int_equal(r->imp_wh, 300);
			assert_int_equal(r->exp_wh, 0);
			assert_int_equal(r->money_local, 360000);
			assert_int_equal(r->money_grid, 150000);
		} else if (k == 8) {
			assert_int_equal(r->pts_issued, 50);
			assert_int_equal(r->pts_redeemed, 20);
			assert_int_equal(r->imp_wh, 0);
		} else
			assert_int_equal(r->minutes, 15);
	}
	free(in);
	/* nothing on another day */
	assert_int_equal(kx_sumd_collect(st, &keys, day - 3, &in, &n), 0);
	assert_int_equal(n, 0);
	assert_null(in);

	/* the tick: publishes day once, also across a restart */
	memset(&conf, 0, sizeof(conf));
	memset(&nc, 0, sizeof(nc));
	nc.st = st;
	nc.op = &op;
	conf.st = st;
	conf.pk = op.k.pk;
	conf.cpk = cpk;
	conf.csk = csk;
	conf.sk = op.k.sk;
	conf.is_operator = true;
	conf.settle_delay_ms = 120000;
	conf.publish = fake_publish;
	conf.ctx = &nc;
	now = kx_sum_day_start(day + 1) * 1000 + 120000 + 5 * 60000 - 1;
	kx_sumd_tick(&sd, &conf, now);		/* not yet due */
	assert_int_equal(nc.published, 0);
	kx_sumd_tick(&sd, &conf, now + 1);
	assert_int_equal(nc.published, 1);
	kx_sumd_tick(&sd, &conf, now + 1000);
	assert_int_equal(nc.published, 1);
	kx_sumd_free(&sd);
	assert_null(sd);
	kx_sumd_tick(&sd, &conf, now + 2000);	/* restarted: in its log */
	assert_int_equal(nc.published, 1);
	kx_sumd_free(&sd);
	conf.is_operator = false;		/* members never publish */
	kx_sumd_tick(&sd, &conf, now + 86400000);
	assert_null(sd);

	/* what kaga-ctl summary gets */
	kx_buf_init(&out);
	assert_int_equal(kx_sumd_find(st, NULL, 0, &out), 0);
	assert_non_null(s = kx_summary_new());
	kx_buf_reset(&mp);
	assert_int_equal(kx_json_to_mp(&mp, (char *)out.data, out.len, NULL,
	    err, sizeof(err)), 0);
	{
		kx_mp_cur_t	 c;
		kx_mp_val_t	 v;
		const uint8_t	*start;

		kx_mp_cur_init(&c, mp.data, mp.len);
		assert_int_equal(kx_mp_read(&c, &v), KX_MP_OK);
		assert_int_equal(v.len, 1);
		start = c.p;
		assert_int_equal(kx_mp_skip(&c, 16), KX_MP_OK);
		assert_int_equal(kx_summary_add_body(s, start,
		    (size_t)(c.p - start), err, sizeof(err)), KX_SUM_OK);
	}
	assert_int_equal(s->ncells, 1);
	assert_true(s->cells[0].published);
	assert_int_equal(s->cells[0].day, day);
	assert_int_equal(s->cells[0].members, 15);
	assert_int_equal(s->cells[0].total[KX_SUM_IMPORT], 1200);
	assert_int_equal(s->cells[0].total[KX_SUM_EXPORT], 1200);
	assert_int_equal(s->cells[0].total[KX_SUM_BOUGHT], 1200);
	assert_int_equal(s->cells[0].total[KX_SUM_SOLD], 1200);
	assert_int_equal(s->cells[0].total[KX_SUM_LOCAL], 1200);
	assert_int_equal(s->cells[0].self_permille, 1000);
	assert_int_equal(s->cells[0].total[KX_SUM_MONEY_LOCAL], 1440000);
	assert_int_equal(s->cells[0].total[KX_SUM_MONEY_GRID], 600000);
	assert_int_equal(s->cells[0].money_permille, 705);
	assert_int_equal(s->cells[0].total[KX_SUM_PTS_ISSUED], 50);
	assert_int_equal(s->cells[0].total[KX_SUM_PTS_REDEEMED], 20);
	assert_int_equal(s->cells[0].total[KX_SUM_MINUTES], 90);
	kx_summary_free(&s);
	{
		char	 d[11];

		kx_sum_day_format(d, day);
		kx_buf_reset(&out);
		assert_int_equal(kx_sumd_find(st, d, 10, &out), 0);
		assert_true(out.len > 2);
		kx_sum_day_format(d, day - 1);
		kx_buf_reset(&out);
		assert_int_equal(kx_sumd_find(st, d, 10, &out), 0);
		assert_int_equal(out.len, 2);	/* [] */
		kx_buf_reset(&out);
		assert_int_equal(kx_sumd_find(st, "2025-13-01", 10, &out), -1);
	}
	kx_buf_free(&out);
	kx_buf_free(&mp);
	kx_buf_free(&j);
	kx_store_close(&st);
	rm_rf(dir);
	free(dir);
}

/* An operator node with an empty store: nothing to gather or publish. */
static void
t_node_empty(void **state)
{
	struct who	 op;
	struct nodectx	 nc;
	kx_mktd_conf_t	 conf;
	kx_sumd_keys_t	 keys;
	kx_sum_input_t	*in;
	kx_store_t	*st;
	kx_sumd_t	*sd = NULL;
	kx_why_t	 why;
	kx_buf_t	 out;
	uint8_t		 cpk[32], csk[32];
	char		*dir;
	size_t		 n;
	int64_t		 now = (int64_t)time(NULL) * 1000;

	(void)state;
	dir = tmpdir_new();
	assert_non_null(st = kx_store_open(dir, 0, &why));
	memset(&op, 0, sizeof(op));
	tkey_new(&op.k);
	assert_int_equal(kx_store_add_operator(st, op.k.pk), KX_OK);
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(cpk, op.k.pk),
	    0);
	assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(csk, op.k.sk),
	    0);
	keys.pk = op.k.pk;
	keys.cpk = cpk;
	keys.csk = csk;
	assert_int_equal(kx_sumd_collect(st, &keys, kx_sum_day_of_ms(now) - 1,
	    &in, &n), 0);
	assert_int_equal(n, 0);
	memset(&conf, 0, sizeof(conf));
	memset(&nc, 0, sizeof(nc));
	nc.st = st;
	nc.op = &op;
	conf.st = st;
	conf.pk = op.k.pk;
	conf.cpk = cpk;
	conf.csk = csk;
	conf.is_operator = true;
	conf.publish = fake_publish;
	conf.ctx = &nc;
	kx_sumd_tick(&sd, &conf, now);
	kx_sumd_tick(&sd, &conf, now + 86400000);
	assert_int_equal(nc.published, 0);
	kx_sumd_free(&sd);
	kx_buf_init(&out);
	assert_int_equal(kx_sumd_find(st, NULL, 0, &out), 0);
	assert_int_equal(out.len, 2);
	kx_buf_free(&out);
	kx_store_close(&st);
	rm_rf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_days),
		cmocka_unit_test(t_hand_worked),
		cmocka_unit_test(t_fourteen),
		cmocka_unit_test(t_dominant),
		cmocka_unit_test(t_tail_and_days),
		cmocka_unit_test(t_deterministic),
		cmocka_unit_test(t_dlaplace),
		cmocka_unit_test(t_noise),
		cmocka_unit_test(t_golden),
		cmocka_unit_test(t_escaping),
		cmocka_unit_test(t_bodies),
		cmocka_unit_test(t_body_errors),
		cmocka_unit_test(t_inputs_parse),
		cmocka_unit_test(t_cli_aggregate),
		cmocka_unit_test(t_limits),
		cmocka_unit_test(t_node_day),
		cmocka_unit_test(t_node_empty),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
