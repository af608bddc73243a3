/*
 * test_sim.c - kaga-sim (sim/): the scenario parser (defaults, round
 * trip, every error naming its line), and runs of tiny cities: no PV
 * means no trade and no self-sufficiency, identical members never trade,
 * the same seed gives the same results byte for byte and another seed
 * does not, a higher network fee never raises the local volume, money
 * and energy totals agree with each other and with every settlement
 * line (which sum to zero), the shortcuts of the engine (threads, orders
 * shared by members alike, settlement in chunks) change nothing, longer
 * market slots and health points work, and the report's outputs.
 *
 * Cities here are a few hundred members for a few days, so that the
 * sanitizer build stays quick.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/engine.h"
#include "../sim/report.h"
#include "../sim/scenario.h"

/* ---- helpers ------------------------------------------------------- */

/* A small city: 150 households, 2 ryokan, 4 farms, 6 days in May. */
static void
tiny(kx_scen_t *sc)
{
	kx_scen_default(sc);
	snprintf(sc->name, sizeof(sc->name), "tiny");
	sc->type[KX_SIM_HOUSEHOLD].count = 150;
	sc->type[KX_SIM_RYOKAN].count = 2;
	sc->type[KX_SIM_FARM].count = 4;
	sc->type[KX_SIM_HOUSEHOLD].pv_permille = 300;
	sc->type[KX_SIM_HOUSEHOLD].batt_permille = 400;
	sc->days = 6;
	sc->forecast_days = 4;
	sc->start = kx_scen_jst_midnight(2025, 5, 10);
}

static kx_sim_res_t *
run(const kx_scen_t *sc, const kx_sim_opt_t *opt)
{
	kx_sim_res_t	*r = NULL;
	char		 err[256] = "";
	int		 rc;

	rc = kx_sim_run(&r, sc, opt, err, sizeof(err));
	if (rc != KX_SIM_OK)
		fprintf(stderr, "kx_sim_run: %d %s\n", rc, err);
	assert_int_equal(rc, KX_SIM_OK);
	assert_non_null(r);
	return r;
}

/* The result fields that must be equal between equivalent runs. */
static void
assert_same(const kx_sim_res_t *a, const kx_sim_res_t *b)
{
	assert_int_equal(a->n_slots, b->n_slots);
	assert_memory_equal(a->slots, b->slots,
	    a->n_slots * sizeof(*a->slots));
	assert_memory_equal(a->type, b->type, sizeof(a->type));
	assert_int_equal(a->local, b->local);
	assert_int_equal(a->kept, b->kept);
	assert_int_equal(a->paid_outside, b->paid_outside);
	assert_int_equal(a->received, b->received);
	assert_int_equal(a->points_credit, b->points_credit);
	assert_int_equal(a->peak_import, b->peak_import);
	assert_int_equal(a->settle_errors, b->settle_errors);
}

/* Every output of a run in one buffer: results, CSV and HTML. */
static char *
outputs(const kx_sim_res_t *r, size_t *len)
{
	char	*buf = NULL;
	FILE	*f = open_memstream(&buf, len);

	assert_non_null(f);
	kx_sim_write_results(f, r);
	kx_sim_write_csv(f, r);
	kx_sim_write_html(f, r);
	fclose(f);
	return buf;
}

/* The totals' identities (docs/sim.md, "Results"). */
static void
assert_consistent(const kx_sim_res_t *r)
{
	int64_t		 gross = 0, bill = 0, grid = 0, kept = 0, out = 0;
	uint64_t	 load = 0, vol = 0, tload = 0, bought = 0, sold = 0;
	size_t		 i, t;

	assert_int_equal(r->settle_errors, 0);
	assert_int_equal(r->lines_total, 0);
	for (t = 0; t < KX_SIM_TYPES; t++) {
		gross += r->type[t].gross;
		bill += r->type[t].bill;
		grid += r->type[t].grid_bill;
		tload += r->type[t].load;
		bought += r->type[t].bought;
		sold += r->type[t].sold;
	}
	/* money kept in the city + paid outside = what members paid */
	assert_int_equal(r->kept + r->paid_outside, gross);
	/* members' net bills, summed from their settlement lines, equal
	 * what left the city minus what came in and the points credit */
	assert_int_equal(bill, r->paid_outside - r->received -
	    r->points_credit);
	assert_int_equal(grid, r->base_paid_outside - r->base_received);
	for (i = 0; i < r->n_slots; i++) {
		const kx_sim_slot_t *s = &r->slots[i];

		load += s->load;
		vol += s->volume;
		kept += s->kept;
		out += s->outside;
		assert_true(s->has_price || s->volume == 0);
		if (s->has_price) {
			assert_true(s->price >= r->sc.floor);
			assert_true(s->price <= r->sc.ceiling - r->sc.fee);
		}
	}
	assert_int_equal(load, r->load);
	assert_int_equal(tload, r->load);
	assert_int_equal(vol, r->local);
	assert_int_equal(bought, r->local);
	assert_int_equal(sold, r->local);
	assert_int_equal(kept, r->kept);
	assert_int_equal(out, r->paid_outside);
	assert_int_equal(r->fees, (int64_t)r->local * (int64_t)r->sc.fee);
	/* energy: what came from outside covers what the city lacked */
	assert_true(r->out_in >= r->imp - r->local);
}

/* ---- the scenario file --------------------------------------------- */

static int
parse(kx_scen_t *sc, const char *text, char *err, size_t errlen)
{
	return kx_scen_parse(sc, text, strlen(text), "s.txt", err, errlen);
}

static void
t_scenario_defaults(void **state)
{
	kx_scen_t	 a, b, c;
	char		 err[KX_SCEN_ERR_MAX], *txt;
	size_t		 n;

	(void)state;
	kx_scen_default(&a);
	assert_int_equal(parse(&b, "", err, sizeof(err)), KX_SCEN_OK);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(a.type[KX_SIM_HOUSEHOLD].count, 27000);
	assert_int_equal(a.type[KX_SIM_RYOKAN].count, 100);
	assert_int_equal(a.type[KX_SIM_FARM].count, 300);
	assert_int_equal(a.floor, 800);
	assert_int_equal(a.ceiling, 3100);
	assert_int_equal(a.fee, 500);
	assert_int_equal(a.slot_s, 1800);
	assert_int_equal(a.pt_value, 100000);
	assert_int_equal(kx_scen_check(&a, err, sizeof(err)), KX_SCEN_OK);

	/* kx_scen_format writes a file that parses back to the same */
	tiny(&a);
	a.hp_monthly = 7;
	snprintf(a.name, sizeof(a.name), "round trip \xe5\x8a\xa0\xe8\xb3\x80");
	n = kx_scen_format(NULL, 0, &a);
	txt = malloc(n + 1);
	assert_non_null(txt);
	assert_int_equal(kx_scen_format(txt, n + 1, &a), n);
	assert_int_equal(kx_scen_parse(&c, txt, n, "rt", err, sizeof(err)),
	    KX_SCEN_OK);
	assert_memory_equal(&a, &c, sizeof(a));
	free(txt);
}

static void
t_scenario_good(void **state)
{
	kx_scen_t	 sc;
	char		 err[KX_SCEN_ERR_MAX];
	const char	*text =
	    "\xef\xbb\xbf# a scenario\r\n"
	    "name = fee test # a comment after a value\r\n"
	    "\n"
	    "   fee=250\t\n"
	    "slot_s = 3600\n"
	    "start = 2024-02-29\n"
	    "households = 10 # \xe4\xb8\x96\xe5\xb8\xaf (UTF-8 in a comment)\n"
	    "seed = 18446744073709551615\n"
	    "ryokan = 0";

	(void)state;
	assert_int_equal(parse(&sc, text, err, sizeof(err)), KX_SCEN_OK);
	assert_string_equal(sc.name, "fee test");
	assert_int_equal(sc.fee, 250);
	assert_int_equal(sc.slot_s, 3600);
	assert_int_equal(sc.start, kx_scen_jst_midnight(2024, 2, 29));
	assert_int_equal(sc.start, 1709132400);	/* 2024-02-29 00:00 JST */
	assert_int_equal(sc.type[KX_SIM_HOUSEHOLD].count, 10);
	assert_int_equal(sc.type[KX_SIM_RYOKAN].count, 0);
	assert_true(sc.seed == UINT64_MAX);
}

static void
t_scenario_errors(void **state)
{
	static const struct {
		const char	*text;
		int		 rc;
		const char	*msg;	/* a part of the message */
	} c[] = {
		{ "fee = 100\nfoo = 1\n", KX_SCEN_EKEY,
		    "s.txt:2: unknown key 'foo'" },
		{ "fee = 100\n\nfee = 200\n", KX_SCEN_EKEY,
		    "s.txt:3: fee: set twice (first on line 1)" },
		{ "# x\nfee = 12a\n", KX_SCEN_EVALUE,
		    "s.txt:2: fee: expected an integer from 0 to 1000000, "
		    "got '12a'" },
		{ "fee = -1\n", KX_SCEN_EVALUE, "s.txt:1: fee: expected" },
		{ "fee = +1\n", KX_SCEN_EVALUE, "s.txt:1: fee:" },
		{ "fee = 1 000\n", KX_SCEN_EVALUE, "got '1 000'" },
		{ "fee = 0x10\n", KX_SCEN_EVALUE, "s.txt:1: fee:" },
		{ "fee = 1000001\n", KX_SCEN_EVALUE, "s.txt:1: fee:" },
		{ "seed = 18446744073709551616\n", KX_SCEN_EVALUE,
		    "s.txt:1: seed:" },
		{ "days = 0\n", KX_SCEN_EVALUE, "s.txt:1: days:" },
		{ "fee =\n", KX_SCEN_EVALUE, "s.txt:1: fee: no value" },
		{ "\n\nfee\n", KX_SCEN_ESYNTAX,
		    "s.txt:3: expected 'key = value'" },
		{ "= 5\n", KX_SCEN_ESYNTAX, "s.txt:1: expected 'key = value'" },
		{ "Fee = 5\n", KX_SCEN_ESYNTAX, "s.txt:1: expected" },
		{ "fee: 5\n", KX_SCEN_ESYNTAX, "s.txt:1: expected" },
		{ "start = 2025-02-29\n", KX_SCEN_EVALUE,
		    "s.txt:1: start: expected a date" },
		{ "start = 2025-4-1\n", KX_SCEN_EVALUE, "s.txt:1: start:" },
		{ "start = 1999-12-31\n", KX_SCEN_EVALUE, "s.txt:1: start:" },
		{ "name = \n", KX_SCEN_EVALUE, "s.txt:1: name: no value" },
		{ "name = \xff\xfe\n", KX_SCEN_EVALUE, "s.txt:1: name:" },
		{ "name = \xc0\xaf\n", KX_SCEN_EVALUE, "s.txt:1: name:" },
		{ "name = 0123456789012345678901234567890123456789"
		    "01234567890123456789012345\n", KX_SCEN_EVALUE,
		    "s.txt:1: name:" },
		{ "fee = 1\x01\n", KX_SCEN_ESYNTAX,
		    "s.txt:1: control character 0x01 in column 8" },
		{ "floor = 900\nceiling = 800\n", KX_SCEN_ECONFLICT,
		    "s.txt:2: floor: 900 is above ceiling (800, line 2)" },
		{ "floor = 3200\n", KX_SCEN_ECONFLICT,
		    "s.txt:1: floor: 3200 is above ceiling (3100, default)" },
		{ "fee = 3100\n", KX_SCEN_ECONFLICT,
		    "s.txt:1: fee: 3100 must be below ceiling" },
		{ "\nslot_s = 2700\n", KX_SCEN_EVALUE,
		    "s.txt:2: slot_s: 2700 is not a multiple of 1800" },
		{ "slot_s = 1000\n", KX_SCEN_EVALUE, "s.txt:1: slot_s:" },
		{ "households = 0\nryokan = 0\nfarms = 0\n", KX_SCEN_ECONFLICT,
		    "s.txt:3: households + ryokan + farms: 0" },
		{ "households = 200000\nfarms = 20000\nryokan = 5000\n",
		    KX_SCEN_ECONFLICT, "s.txt:3: households + ryokan + farms: "
		    "225000, must be 1..200000" },
		{ "ryokan = 5000\nryokan_kwh = 100000000\nceiling = 1000000\n",
		    KX_SCEN_ECONFLICT, "s.txt: the city's energy times" },
		{ "pt_value = 10000001\n", KX_SCEN_EVALUE, "s.txt:1: pt_value:" },
	};
	kx_scen_t	 sc;
	char		 err[KX_SCEN_ERR_MAX], big[KX_SCEN_LINE_MAX + 20];
	size_t		 i;
	int		 rc;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		err[0] = '\0';
		rc = parse(&sc, c[i].text, err, sizeof(err));
		if (rc != c[i].rc || strstr(err, c[i].msg) == NULL)
			fprintf(stderr, "case %zu: rc %d, '%s'\n", i, rc, err);
		assert_int_equal(rc, c[i].rc);
		assert_non_null(strstr(err, c[i].msg));
	}
	/* a line too long; a NUL byte */
	memset(big, 'a', sizeof(big));
	assert_int_equal(kx_scen_parse(&sc, big, sizeof(big), "s.txt", err,
	    sizeof(err)), KX_SCEN_ESYNTAX);
	assert_non_null(strstr(err, "s.txt:1: line longer than"));
	assert_int_equal(kx_scen_parse(&sc, "fee = 1\n\0", 9, "s.txt", err,
	    sizeof(err)), KX_SCEN_ESYNTAX);
	assert_non_null(strstr(err, "s.txt:2: control character 0x00"));
	/* a small error buffer is still a terminated string */
	assert_int_equal(parse(&sc, "foo = 1", err, 8), KX_SCEN_EKEY);
	assert_int_equal(strlen(err), 7);
}

/* ---- runs ---------------------------------------------------------- */

static void
t_no_pv(void **state)
{
	kx_scen_t	 sc;
	kx_sim_res_t	*r;
	kx_metric_t	 m[KX_METRICS_MAX];
	size_t		 n, i;

	(void)state;
	tiny(&sc);
	for (i = 0; i < KX_SIM_TYPES; i++)
		sc.type[i].pv_permille = 0;
	r = run(&sc, NULL);
	assert_int_equal(r->pv, 0);
	assert_int_equal(r->local, 0);
	assert_int_equal(r->slots_traded, 0);
	assert_int_equal(r->out_in, r->load);	/* all bought outside */
	assert_int_equal(r->kept, 0);
	n = kx_sim_metrics(m, r);
	for (i = 0; i < n; i++)
		if (strcmp(m[i].name, "self_sufficiency_pct") == 0 ||
		    strcmp(m[i].name, "local_traded_mwh") == 0 ||
		    strcmp(m[i].name, "self_consumption_pct") == 0)
			assert_int_equal(m[i].value, 0);
	/* without a market nothing changes: every bill is the grid bill */
	for (i = 0; i < KX_SIM_TYPES; i++)
		assert_int_equal(r->type[i].bill, r->type[i].grid_bill);
	assert_consistent(r);
	kx_sim_res_free(&r);
}

static void
t_identical(void **state)
{
	kx_scen_t	 sc;
	kx_sim_res_t	*r;
	size_t		 i, buys = 0, sells = 0;

	(void)state;
	tiny(&sc);
	sc.type[KX_SIM_RYOKAN].count = 0;
	sc.type[KX_SIM_FARM].count = 0;
	sc.type[KX_SIM_HOUSEHOLD].pv_permille = 1000;
	sc.type[KX_SIM_HOUSEHOLD].batt_permille = 0;
	sc.ev_permille = 0;
	sc.size_spread_permille = 0;
	sc.load_noise_permille = 0;
	sc.variety = 0;
	r = run(&sc, NULL);
	assert_true(r->pv > 0);
	assert_int_equal(r->local, 0);
	for (i = 0; i < r->n_slots; i++) {
		/* in every slot all members are on the same side */
		assert_true(r->slots[i].n_buy == 0 || r->slots[i].n_sell == 0);
		buys += r->slots[i].n_buy > 0;
		sells += r->slots[i].n_sell > 0;
	}
	assert_true(buys > 0 && sells > 0);	/* both sides occur */
	assert_consistent(r);
	kx_sim_res_free(&r);
}

static void
t_determinism(void **state)
{
	kx_scen_t	 sc;
	kx_sim_res_t	*a, *b, *c;
	char		*oa, *ob, *oc;
	size_t		 la, lb, lc;

	(void)state;
	tiny(&sc);
	a = run(&sc, NULL);
	b = run(&sc, NULL);
	assert_same(a, b);
	oa = outputs(a, &la);
	ob = outputs(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(oa, ob, la);	/* byte for byte */
	sc.seed = 2;
	c = run(&sc, NULL);
	oc = outputs(c, &lc);
	assert_true(la != lc || memcmp(oa, oc, la) != 0);
	assert_true(memcmp(a->slots, c->slots,
	    a->n_slots * sizeof(*a->slots)) != 0);
	assert_true(a->load != c->load && a->pv != c->pv);
	free(oa);
	free(ob);
	free(oc);
	kx_sim_res_free(&a);
	kx_sim_res_free(&b);
	kx_sim_res_free(&c);
}

/* Threads, the order memo and settlement chunks do not change results. */
static void
t_shortcuts(void **state)
{
	kx_scen_t	 sc;
	kx_sim_opt_t	 o1, o2, o3;
	kx_sim_res_t	*a, *b, *c;

	(void)state;
	tiny(&sc);
	sc.type[KX_SIM_HOUSEHOLD].count = 1100;	/* enough for 2 threads */
	sc.days = 3;
	sc.forecast_days = 2;
	memset(&o1, 0, sizeof(o1));
	o1.threads = 1;
	o1.plain = true;		/* kx_strat_order for every member */
	o1.settle_chunk = 100000;	/* one kx_settle over the whole book */
	memset(&o2, 0, sizeof(o2));
	o2.threads = 2;
	memset(&o3, 0, sizeof(o3));
	o3.threads = 3;
	o3.settle_chunk = 7;
	a = run(&sc, &o1);
	b = run(&sc, &o2);
	c = run(&sc, &o3);
	assert_int_equal(a->threads, 1);
	assert_int_equal(b->threads, 2);
	assert_true(a->local > 0);
	assert_true(a->settle_calls < b->settle_calls);
	assert_same(a, b);
	assert_same(a, c);
	assert_consistent(a);
	kx_sim_res_free(&a);
	kx_sim_res_free(&b);
	kx_sim_res_free(&c);
}

static void
t_fee_monotone(void **state)
{
	static const uint64_t fees[] = { 0, 100, 300, 500, 900, 1500, 2500,
	    3000 };
	kx_scen_t	 sc;
	kx_sim_res_t	*r;
	uint64_t	 last = UINT64_MAX;
	size_t		 i, j;

	(void)state;
	tiny(&sc);
	sc.days = 3;
	for (j = 0; j < KX_SIM_TYPES; j++)
		sc.type[j].batt_permille = 0;	/* plans would follow fees */
	for (i = 0; i < sizeof(fees) / sizeof(fees[0]); i++) {
		sc.fee = fees[i];
		r = run(&sc, NULL);
		if (i == 0)
			assert_true(r->local > 0);
		assert_true(r->local <= last);
		last = r->local;
		assert_consistent(r);
		kx_sim_res_free(&r);
	}
	assert_true(last < UINT64_MAX);
}

static void
t_totals(void **state)
{
	kx_scen_t	 sc;
	kx_sim_res_t	*r;

	(void)state;
	tiny(&sc);
	sc.type[KX_SIM_RYOKAN].pv_permille = 1000;
	sc.type[KX_SIM_FARM].pv_permille = 1000;
	sc.type[KX_SIM_FARM].batt_permille = 1000;
	sc.ev_permille = 300;
	r = run(&sc, NULL);
	assert_true(r->local > 0 && r->chg > 0 && r->dis > 0 && r->ev > 0);
	assert_true(r->type[KX_SIM_HOUSEHOLD].with_ev > 0);
	assert_int_equal(r->agent_slots, r->members * r->n_slots);
	assert_consistent(r);
	kx_sim_res_free(&r);
}

static void
t_slots_and_points(void **state)
{
	kx_scen_t	 sc;
	kx_sim_res_t	*r;
	uint64_t	 n;

	(void)state;
	tiny(&sc);
	sc.slot_s = 7200;
	sc.start = kx_scen_jst_midnight(2025, 6, 28);	/* over July 1 */
	sc.days = 5;
	sc.hp_monthly = 30;
	sc.hp_local_per_kwh = 5;
	sc.hp_redeem_permille = 500;
	r = run(&sc, NULL);
	assert_int_equal(r->slots_per_day, 12);
	assert_int_equal(r->n_slots, 60);
	assert_int_equal(r->slots[1].slot - r->slots[0].slot, 7200);
	assert_true(r->local > 0);
	n = r->members;
	assert_true(r->points_issued >= 30 * n);
	assert_true(r->points_redeemed >= 15 * n);
	assert_true(r->points_redeemed <= r->points_issued);
	assert_int_equal(r->points_credit,
	    (int64_t)r->points_redeemed * (int64_t)sc.pt_value);
	assert_consistent(r);
	kx_sim_res_free(&r);
}

static void
t_report(void **state)
{
	kx_scen_t	 sc;
	kx_sim_res_t	*a, *b;
	kx_metric_t	 m[KX_METRICS_MAX];
	char		 buf[64], *out, *cmp;
	size_t		 n, i, j, len, lines = 0;
	FILE		*f;

	(void)state;
	assert_string_equal(kx_sim_fmt(buf, sizeof(buf), 0, 0), "0");
	assert_string_equal(kx_sim_fmt(buf, sizeof(buf), 1234567, 0),
	    "1,234,567");
	assert_string_equal(kx_sim_fmt(buf, sizeof(buf), -1234567, 2),
	    "-12,345.67");
	assert_string_equal(kx_sim_fmt(buf, sizeof(buf), 5, 2), "0.05");
	assert_string_equal(kx_sim_fmt(buf, sizeof(buf), INT64_MIN, 0),
	    "-9,223,372,036,854,775,808");

	tiny(&sc);
	snprintf(sc.name, sizeof(sc.name), "<b>&\"x\"</b>");
	a = run(&sc, NULL);
	n = kx_sim_metrics(m, a);
	assert_true(n > 30 && n <= KX_METRICS_MAX);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			assert_string_not_equal(m[i].name, m[j].name);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	kx_sim_write_csv(f, a);
	kx_sim_write_html(f, a);
	fclose(f);
	/* CSV: a header and one row per slot */
	f = fmemopen(out, len, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "2025-05-", 8) == 0)
			lines++;
	fclose(f);
	assert_int_equal(lines, a->n_slots);
	/* HTML: self-contained, the name escaped */
	assert_non_null(strstr(out, "<!DOCTYPE html>"));
	assert_non_null(strstr(out, "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"));
	assert_null(strstr(out, "<b>&"));
	assert_null(strstr(out, "src="));
	assert_null(strstr(out, "href="));
	assert_null(strstr(out, "@import"));
	assert_null(strstr(out, "url("));
	for (i = 0, j = 0; (cmp = strstr(out + i, "<svg")) != NULL; j++)
		i = (size_t)(cmp - out) + 4;
	assert_int_equal(j, 6);	/* day, months, prices, 3 bill panels */
	free(out);

	/* compare: every metric, with its difference */
	sc.fee = 200;
	b = run(&sc, NULL);
	f = open_memstream(&cmp, &len);
	kx_sim_compare(f, a, b);
	fclose(f);
	for (i = 0; i < n; i++)
		assert_non_null(strstr(cmp, m[i].name));
	assert_non_null(strstr(cmp, "network_fees_jpy"));
	free(cmp);
	kx_sim_res_free(&a);
	kx_sim_res_free(&b);
}

static void
t_errors(void **state)
{
	kx_scen_t	 sc;
	kx_sim_res_t	*r = NULL;
	char		 err[256];

	(void)state;
	tiny(&sc);
	sc.fee = sc.ceiling;
	assert_int_equal(kx_sim_run(&r, &sc, NULL, err, sizeof(err)),
	    KX_SIM_EINVAL);
	assert_null(r);
	assert_non_null(strstr(err, "fee"));
	kx_sim_res_free(&r);
	kx_sim_res_free(NULL);
	/* a member that never sells below the ceiling: no sell orders */
	tiny(&sc);
	sc.sell_min = sc.ceiling + 1;
	r = run(&sc, NULL);
	assert_int_equal(r->local, 0);
	assert_consistent(r);
	kx_sim_res_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_scenario_defaults),
		cmocka_unit_test(t_scenario_good),
		cmocka_unit_test(t_scenario_errors),
		cmocka_unit_test(t_no_pv),
		cmocka_unit_test(t_identical),
		cmocka_unit_test(t_determinism),
		cmocka_unit_test(t_shortcuts),
		cmocka_unit_test(t_fee_monotone),
		cmocka_unit_test(t_totals),
		cmocka_unit_test(t_slots_and_points),
		cmocka_unit_test(t_report),
		cmocka_unit_test(t_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
