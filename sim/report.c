/*
 * report.c - metrics, summary, CSV and the HTML report of a run
 * (report.h). Every number is computed in integers from the run's
 * totals; the SVG charts use integer pixel coordinates.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

static const char *const TYPE_NAME[KX_SIM_TYPES] = {
	"household", "ryokan", "farm"
};

/* ---- integer helpers ----------------------------------------------- */

/* a / b rounded half away from zero, b > 0. */
static int64_t
rdiv(int64_t a, int64_t b)
{
	return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

/* round(a * m / d) without overflow in between, d > 0. */
static int64_t
muldiv(int64_t a, int64_t m, int64_t d)
{
	__int128	 p = (__int128)a * m;
	__int128	 q = p >= 0 ? (p + d / 2) / d : -((-p + d / 2) / d);

	return q > INT64_MAX ? INT64_MAX : q < INT64_MIN ? INT64_MIN :
	    (int64_t)q;
}

static int64_t
per_year(const kx_sim_res_t *r, int64_t v)
{
	return muldiv(v, 365, (int64_t)r->days);
}

/* milli-sen over the run -> JPY a year */
static int64_t
jpy_yr(const kx_sim_res_t *r, int64_t msen)
{
	return rdiv(per_year(r, msen), 100000);
}

/* Wh over the run -> tenths of a MWh a year */
static int64_t
mwh10_yr(const kx_sim_res_t *r, uint64_t wh)
{
	return rdiv(per_year(r, (int64_t)wh), 100000);
}

/* num / den in hundredths of a percent (0 when den is 0) */
static int64_t
pct100(int64_t num, int64_t den)
{
	return den > 0 ? muldiv(num, 10000, den) : 0;
}

const char *
kx_sim_fmt(char *buf, size_t size, int64_t v, int dec)
{
	char		 dig[32];
	uint64_t	 a, p = 1;
	size_t		 n, i, o = 0, ip;
	int		 k;

	for (k = 0; k < dec; k++)
		p *= 10;
	a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	n = (size_t)snprintf(dig, sizeof(dig), "%" PRIu64, a / p);
	if (size == 0)
		return buf;
	if (v < 0 && o + 1 < size)
		buf[o++] = '-';
	for (i = 0; i < n && o + 1 < size; i++) {
		ip = n - i;	/* digits left, this one included */
		buf[o++] = dig[i];
		if (ip > 1 && (ip - 1) % 3 == 0 && o + 1 < size)
			buf[o++] = ',';
	}
	if (dec > 0 && o + 1 < size) {
		buf[o++] = '.';
		for (p /= 10; p > 0 && o + 1 < size; p /= 10)
			buf[o++] = (char)('0' + a / p % 10);
	}
	buf[o] = '\0';
	return buf;
}

/* ---- metrics ------------------------------------------------------- */

static void
add(kx_metric_t *out, size_t *n, const char *name, const char *unit,
    int64_t value, int dec, const char *what)
{
	kx_metric_t	*m;

	if (*n >= KX_METRICS_MAX)
		return;
	m = &out[(*n)++];
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->unit = unit;
	m->value = value;
	m->dec = dec;
	m->what = what;
}

/* The volume-weighted mean clearing price, sen/kWh. */
static int64_t
mean_price(const kx_sim_res_t *r)
{
	__int128	 num = 0;
	uint64_t	 vol = 0;
	size_t		 i;

	for (i = 0; i < r->n_slots; i++)
		if (r->slots[i].has_price) {
			num += (__int128)r->slots[i].price * r->slots[i].volume;
			vol += r->slots[i].volume;
		}
	return vol > 0 ? (int64_t)((num + vol / 2) / vol) : 0;
}

size_t
kx_sim_metrics(kx_metric_t *out, const kx_sim_res_t *r)
{
	size_t		 n = 0, t;
	int64_t		 load = (int64_t)r->load, pv = (int64_t)r->pv, net, base;
	char		 nm[40];

	add(out, &n, "members", "", (int64_t)r->members, 0,
	    "members of the synthetic city");
	add(out, &n, "with_pv", "", (int64_t)(r->type[0].with_pv +
	    r->type[1].with_pv + r->type[2].with_pv), 0, "members with PV");
	add(out, &n, "with_battery", "", (int64_t)(r->type[0].with_batt +
	    r->type[1].with_batt + r->type[2].with_batt), 0,
	    "members with a battery");
	add(out, &n, "with_ev", "", (int64_t)r->type[0].with_ev, 0,
	    "households with an EV");
	add(out, &n, "consumption_mwh", "MWh/yr", mwh10_yr(r, r->load), 1,
	    "consumption, EVs included");
	add(out, &n, "pv_mwh", "MWh/yr", mwh10_yr(r, r->pv), 1,
	    "PV production");
	add(out, &n, "local_traded_mwh", "MWh/yr", mwh10_yr(r, r->local), 1,
	    "energy cleared on the local market");
	add(out, &n, "bought_outside_mwh", "MWh/yr", mwh10_yr(r, r->out_in),
	    1, "energy bought from the grid at the ceiling");
	add(out, &n, "sold_outside_mwh", "MWh/yr", mwh10_yr(r, r->out_out),
	    1, "energy sold to the grid at the floor");
	add(out, &n, "local_share_pct", "%", pct100((int64_t)r->local, load),
	    2, "local trade / consumption");
	add(out, &n, "self_sufficiency_pct", "%",
	    load > 0 ? 10000 - pct100((int64_t)r->out_in, load) : 0, 2,
	    "1 - bought outside / consumption");
	add(out, &n, "self_sufficiency_grid_only_pct", "%",
	    load > 0 ? 10000 - pct100((int64_t)r->imp, load) : 0, 2,
	    "1 - metered import / consumption (no local market)");
	add(out, &n, "self_consumption_pct", "%",
	    pv > 0 ? 10000 - pct100((int64_t)r->out_out, pv) : 0, 2,
	    "1 - sold outside / PV");
	add(out, &n, "self_consumption_grid_only_pct", "%",
	    pv > 0 ? 10000 - pct100((int64_t)r->exp, pv) : 0, 2,
	    "1 - metered export / PV (no local market)");
	add(out, &n, "slots_traded_pct", "%",
	    pct100((int64_t)r->slots_traded, (int64_t)r->n_slots), 2,
	    "slots with a local trade");
	add(out, &n, "mean_price", "sen/kWh", mean_price(r), 0,
	    "clearing price, weighted by volume");
	add(out, &n, "peak_import_kw", "kW",
	    rdiv((int64_t)r->peak_import * 3600,
	    (int64_t)r->sc.slot_s * 1000), 0,
	    "highest city import (sum import - sum export) in a slot");
	add(out, &n, "kept_in_city_jpy", "JPY/yr", jpy_yr(r, r->kept), 0,
	    "paid by members to local sellers");
	add(out, &n, "paid_outside_jpy", "JPY/yr",
	    jpy_yr(r, r->paid_outside), 0,
	    "paid outside: retail energy, shortfalls, network fees");
	add(out, &n, "received_outside_jpy", "JPY/yr",
	    jpy_yr(r, r->received), 0, "buy-back paid by the grid");
	net = r->paid_outside - r->received;
	base = r->base_paid_outside - r->base_received;
	add(out, &n, "net_outflow_jpy", "JPY/yr", jpy_yr(r, net), 0,
	    "paid outside - received from outside");
	add(out, &n, "grid_only_net_outflow_jpy", "JPY/yr", jpy_yr(r, base),
	    0, "the same without a local market");
	add(out, &n, "outflow_saved_jpy", "JPY/yr", jpy_yr(r, base - net), 0,
	    "money that stays in the city thanks to the market");
	add(out, &n, "total_bills_jpy", "JPY/yr",
	    jpy_yr(r, r->kept + r->paid_outside), 0,
	    "members' payments = kept in city + paid outside");
	add(out, &n, "network_fees_jpy", "JPY/yr", jpy_yr(r, r->fees), 0,
	    "fees on local trades (part of paid outside)");
	add(out, &n, "points_credit_jpy", "JPY/yr",
	    jpy_yr(r, r->points_credit), 0,
	    "health points redeemed on settlement lines");
	for (t = 0; t < KX_SIM_TYPES; t++) {
		const kx_sim_type_res_t *y = &r->type[t];
		int64_t	 nm1 = y->members > 0 ? (int64_t)y->members : 1;
		int64_t	 b = jpy_yr(r, y->bill / nm1);
		int64_t	 g = jpy_yr(r, y->grid_bill / nm1);

		snprintf(nm, sizeof(nm), "%s_members", TYPE_NAME[t]);
		add(out, &n, nm, "", (int64_t)y->members, 0, "members");
		snprintf(nm, sizeof(nm), "%s_bill_jpy", TYPE_NAME[t]);
		add(out, &n, nm, "JPY/yr", b, 0,
		    "mean bill per member with the local market");
		snprintf(nm, sizeof(nm), "%s_grid_only_bill_jpy", TYPE_NAME[t]);
		add(out, &n, nm, "JPY/yr", g, 0,
		    "the same meters: import at ceiling, export at floor");
		snprintf(nm, sizeof(nm), "%s_bill_change_jpy", TYPE_NAME[t]);
		add(out, &n, nm, "JPY/yr", b - g, 0,
		    "with the market - grid only, per member");
		snprintf(nm, sizeof(nm), "%s_bill_change_pct", TYPE_NAME[t]);
		add(out, &n, nm, "%", y->grid_bill > 0 ?
		    pct100(y->bill - y->grid_bill, y->grid_bill) : 0, 2,
		    "change against grid only");
		snprintf(nm, sizeof(nm), "%s_worse_pct", TYPE_NAME[t]);
		add(out, &n, nm, "%", pct100((int64_t)y->worse,
		    (int64_t)y->members), 2, "members whose bill rose");
	}
	add(out, &n, "settle_errors", "", (int64_t)r->settle_errors, 0,
	    "settlement checks failed (must be 0)");
	return n;
}

/* ---- text outputs -------------------------------------------------- */

static const kx_metric_t *
find(const kx_metric_t *m, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(m[i].name, name) == 0)
			return &m[i];
	return NULL;
}

/* The formatted value of metric name. */
static const char *
val(char *buf, size_t size, const kx_metric_t *m, size_t n,
    const char *name)
{
	const kx_metric_t *x = find(m, n, name);

	if (x == NULL) {
		snprintf(buf, size, "?");
		return buf;
	}
	return kx_sim_fmt(buf, size, x->value, x->dec);
}

/* "2025-04-01 18:30" (JST) */
static void
jst_time(char *buf, size_t size, int64_t t)
{
	int64_t		 y;
	unsigned	 mo, d, s;

	kx_scen_jst_date(t, &y, &mo, &d, NULL);
	s = (unsigned)(((t + 32400) % 86400 + 86400) % 86400);
	snprintf(buf, size, "%04" PRId64 "-%02u-%02u %02u:%02u", y, mo, d,
	    s / 3600, s / 60 % 60);
}

void
kx_sim_summary(FILE *f, const kx_sim_res_t *r)
{
	kx_metric_t	 m[KX_METRICS_MAX];
	size_t		 n = kx_sim_metrics(m, r), t;
	char		 a[40], b[40], c[40], d[40], when[40];
	int64_t		 y;
	unsigned	 mo, dd;

	kx_scen_jst_date(r->sc.start, &y, &mo, &dd, NULL);
	fprintf(f, "kaga-sim: %s: %" PRIu64 " days from %04" PRId64
	    "-%02u-%02u, %zu members (%" PRIu64 " households, %" PRIu64
	    " ryokan, %" PRIu64 " farms), seed %" PRIu64 "%s\n", r->sc.name,
	    r->days, y, mo, dd, r->members, r->type[0].members,
	    r->type[1].members, r->type[2].members, r->sc.seed,
	    r->days != 365 ? " (yearly figures scaled by 365/days)" : "");
	fprintf(f, "  consumption %s MWh/yr, PV %s MWh/yr, traded locally "
	    "%s MWh/yr (%s %% of consumption)\n",
	    val(a, sizeof(a), m, n, "consumption_mwh"),
	    val(b, sizeof(b), m, n, "pv_mwh"),
	    val(c, sizeof(c), m, n, "local_traded_mwh"),
	    val(d, sizeof(d), m, n, "local_share_pct"));
	fprintf(f, "  self-sufficiency %s %% (grid only %s %%), "
	    "self-consumption %s %% (grid only %s %%)\n",
	    val(a, sizeof(a), m, n, "self_sufficiency_pct"),
	    val(b, sizeof(b), m, n, "self_sufficiency_grid_only_pct"),
	    val(c, sizeof(c), m, n, "self_consumption_pct"),
	    val(d, sizeof(d), m, n, "self_consumption_grid_only_pct"));
	fprintf(f, "  money: kept in the city %s JPY/yr, net paid outside %s "
	    "JPY/yr (grid only %s), saved %s JPY/yr\n",
	    val(a, sizeof(a), m, n, "kept_in_city_jpy"),
	    val(b, sizeof(b), m, n, "net_outflow_jpy"),
	    val(c, sizeof(c), m, n, "grid_only_net_outflow_jpy"),
	    val(d, sizeof(d), m, n, "outflow_saved_jpy"));
	for (t = 0; t < KX_SIM_TYPES; t++) {
		char k1[48], k2[48], k3[48];

		if (r->type[t].members == 0)
			continue;
		snprintf(k1, sizeof(k1), "%s_bill_jpy", TYPE_NAME[t]);
		snprintf(k2, sizeof(k2), "%s_bill_change_jpy", TYPE_NAME[t]);
		snprintf(k3, sizeof(k3), "%s_bill_change_pct", TYPE_NAME[t]);
		fprintf(f, "  %s bill %s JPY/yr per member (%s JPY, %s %% "
		    "against grid only)\n", TYPE_NAME[t],
		    val(a, sizeof(a), m, n, k1), val(b, sizeof(b), m, n, k2),
		    val(c, sizeof(c), m, n, k3));
	}
	if (r->peak_import > 0)
		jst_time(when, sizeof(when), r->peak_slot);
	else
		snprintf(when, sizeof(when), "-");
	fprintf(f, "  peak import %s kW (%s), mean local price %s sen/kWh, "
	    "settlement errors %s\n",
	    val(a, sizeof(a), m, n, "peak_import_kw"), when,
	    val(b, sizeof(b), m, n, "mean_price"),
	    val(c, sizeof(c), m, n, "settle_errors"));
}

void
kx_sim_write_results(FILE *f, const kx_sim_res_t *r)
{
	kx_metric_t	 m[KX_METRICS_MAX];
	size_t		 n = kx_sim_metrics(m, r), i;
	char		 a[40];

	fprintf(f, "# kaga-sim results: %s (docs/sim.md); value  # unit\n",
	    r->sc.name);
	for (i = 0; i < n; i++) {
		/* plain digits: a machine reads this file */
		kx_sim_fmt(a, sizeof(a), m[i].value, m[i].dec);
		{
			char	 p[40];
			size_t	 j, o = 0;

			for (j = 0; a[j] != '\0' && o + 1 < sizeof(p); j++)
				if (a[j] != ',')
					p[o++] = a[j];
			p[o] = '\0';
			fprintf(f, "%s = %s%s%s\n", m[i].name, p,
			    m[i].unit[0] != '\0' ? "  # " : "", m[i].unit);
		}
	}
}

void
kx_sim_write_csv(FILE *f, const kx_sim_res_t *r)
{
	size_t		 i;
	char		 t[40];
	const kx_sim_slot_t *s;

	fprintf(f, "slot_jst,unix,load_wh,pv_wh,import_wh,export_wh,"
	    "battery_charge_wh,battery_discharge_wh,ev_wh,buy_orders,"
	    "sell_orders,bid_wh,ask_wh,volume_wh,price_sen_kwh,"
	    "bought_outside_wh,sold_outside_wh,kept_msen,outside_msen,"
	    "received_msen\n");
	for (i = 0; i < r->n_slots; i++) {
		s = &r->slots[i];
		jst_time(t, sizeof(t), s->slot);
		fprintf(f, "%s,%" PRId64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		    ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu32
		    ",%" PRIu32 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",", t,
		    s->slot, s->load, s->pv, s->imp, s->exp, s->chg, s->dis,
		    s->ev, s->n_buy, s->n_sell, s->bid, s->ask, s->volume);
		if (s->has_price)
			fprintf(f, "%" PRIu32, s->price);
		fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%" PRId64 ",%" PRId64
		    ",%" PRId64 "\n", s->out_in, s->out_out, s->kept,
		    s->outside, s->received);
	}
}

/* ---- compare ------------------------------------------------------- */

void
kx_sim_compare(FILE *f, const kx_sim_res_t *a, const kx_sim_res_t *b)
{
	kx_metric_t	 ma[KX_METRICS_MAX], mb[KX_METRICS_MAX];
	size_t		 na = kx_sim_metrics(ma, a), nb = kx_sim_metrics(mb, b);
	size_t		 i;
	char		 x[40], y[40], d[40], p[40];
	const kx_metric_t *o;
	int64_t		 diff;

	fprintf(f, "%-32s %18s %18s %18s %10s  %s\n", "metric", "A", "B",
	    "B - A", "change", "unit");
	for (i = 0; i < na; i++) {
		if ((o = find(mb, nb, ma[i].name)) == NULL)
			continue;
		diff = o->value - ma[i].value;
		kx_sim_fmt(x, sizeof(x), ma[i].value, ma[i].dec);
		kx_sim_fmt(y, sizeof(y), o->value, o->dec);
		kx_sim_fmt(d + 1, sizeof(d) - 1, diff, ma[i].dec);
		d[0] = diff > 0 ? '+' : ' ';
		if (ma[i].value != 0 && diff != 0) {
			kx_sim_fmt(p + 1, sizeof(p) - 3,
			    muldiv(diff, 1000, ma[i].value < 0 ?
			    -ma[i].value : ma[i].value), 1);
			p[0] = diff > 0 ? '+' : ' ';
			strncat(p, " %", sizeof(p) - strlen(p) - 1);
		} else
			snprintf(p, sizeof(p), "%s", diff == 0 ? "=" : "new");
		fprintf(f, "%-32s %18s %18s %18s %10s  %s\n", ma[i].name, x, y,
		    diff == 0 ? "0" : d[0] == ' ' ? d + 1 : d, p, ma[i].unit);
	}
}

/* ---- HTML and SVG -------------------------------------------------- */

static void
html_text(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '&':  fputs("&amp;", f);  break;
		case '<':  fputs("&lt;", f);   break;
		case '>':  fputs("&gt;", f);   break;
		case '"':  fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f);  break;
		default:   fputc(*s, f);       break;
		}
}

typedef struct {
	const char	*name;
	const char	*color;
	const int64_t	*v;
} series_t;

/* A y axis from lo to hi (fixed point): nice step, lo and hi rounded
 * out to it. */
static int64_t
nice_axis(int64_t *lo, int64_t *hi)
{
	int64_t	 span, step = 1, m;

	if (*hi <= *lo)
		*hi = *lo + 1;
	span = *hi - *lo;
	while (step <= INT64_MAX / 10 && span / step > 5) {
		m = step;
		if (span / (2 * m) <= 5) {
			step = 2 * m;
			break;
		}
		if (span / (5 * m) <= 5) {
			step = 5 * m;
			break;
		}
		step = 10 * m;
	}
	*lo = (*lo >= 0 ? *lo / step : -((-*lo + step - 1) / step)) * step;
	*hi = (*hi + step - 1) / step * step;
	return step;
}

#define SVG_H		280
#define M_LEFT		78
#define M_RIGHT		16
#define M_TOP		34
#define M_BOTTOM	46

/*
 * A chart of n points per series: lines (bars == 0) or grouped bars.
 * labels[i] for the x axis every lstep points. Values are fixed point
 * with dec decimals.
 */
static void
svg_chart(FILE *f, int width, const char *title, const char *yunit,
    int dec, const char *const *labels, size_t n, size_t lstep,
    const series_t *s, size_t ns, int bars)
{
	int64_t		 lo = 0, hi = 1, step, v, ph, pw, x, y, y0, bw, gw, lx;
	size_t		 i, k;
	char		 buf[48];
	bool		 values = bars && n * ns <= 6;

	for (k = 0; k < ns; k++)
		for (i = 0; i < n; i++) {
			if (s[k].v[i] > hi)
				hi = s[k].v[i];
			if (s[k].v[i] < lo)
				lo = s[k].v[i];
		}
	step = nice_axis(&lo, &hi);
	pw = width - M_LEFT - M_RIGHT;
	ph = SVG_H - M_TOP - M_BOTTOM;
#define YPX(val)	(M_TOP + ph - muldiv((val) - lo, ph, hi - lo))
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	    "font-family=\"sans-serif\">\n<rect width=\"%d\" height=\"%d\" "
	    "fill=\"#fafafa\"/>\n", width, SVG_H, width, SVG_H, width,
	    SVG_H);
	fprintf(f, "<text x=\"%d\" y=\"18\" font-size=\"13\" "
	    "font-weight=\"bold\">", M_LEFT);
	html_text(f, title);
	fputs("</text>\n", f);
	for (v = lo; v <= hi; v += step) {
		y = YPX(v);
		fprintf(f, "<line x1=\"%d\" y1=\"%" PRId64 "\" x2=\"%" PRId64
		    "\" y2=\"%" PRId64 "\" stroke=\"%s\"/>", M_LEFT, y,
		    M_LEFT + pw, y, v == 0 ? "#888888" : "#e2e2e2");
		fprintf(f, "<text x=\"%d\" y=\"%" PRId64 "\" font-size=\"11\" "
		    "text-anchor=\"end\">%s</text>\n", M_LEFT - 6, y + 4,
		    kx_sim_fmt(buf, sizeof(buf), v, dec));
	}
	fprintf(f, "<text x=\"14\" y=\"%" PRId64 "\" font-size=\"11\" "
	    "text-anchor=\"middle\" transform=\"rotate(-90 14 %" PRId64
	    ")\">", M_TOP + ph / 2, M_TOP + ph / 2);
	html_text(f, yunit);
	fputs("</text>\n", f);
	gw = n > 0 ? pw / (int64_t)n : pw;
	for (i = 0; i < n; i += lstep > 0 ? lstep : 1) {
		x = bars ? M_LEFT + (int64_t)i * gw + gw / 2 :
		    M_LEFT + (n > 1 ? (int64_t)i * pw / (int64_t)(n - 1) : 0);
		fprintf(f, "<text x=\"%" PRId64 "\" y=\"%d\" font-size=\"11\" "
		    "text-anchor=\"middle\">", x, SVG_H - M_BOTTOM + 16);
		html_text(f, labels[i]);
		fputs("</text>\n", f);
	}
	y0 = YPX(lo > 0 ? lo : hi < 0 ? hi : 0);
	bw = ns > 0 ? (gw - 4) / (int64_t)ns : gw;
	if (bw > 48)
		bw = 48;
	if (bw < 1)
		bw = 1;
	lx = M_LEFT + 8;
	for (k = 0; k < ns; k++) {
		if (bars) {
			for (i = 0; i < n; i++) {
				/* the group's bars centred in its slot */
				x = M_LEFT + (int64_t)i * gw + gw / 2 -
				    bw * (int64_t)ns / 2 + (int64_t)k * bw;
				y = YPX(s[k].v[i]);
				fprintf(f, "<rect x=\"%" PRId64 "\" y=\"%" PRId64
				    "\" width=\"%" PRId64 "\" height=\"%" PRId64
				    "\" fill=\"%s\"><title>", x, y < y0 ? y : y0,
				    bw, y < y0 ? y0 - y : y - y0, s[k].color);
				html_text(f, labels[i]);
				fprintf(f, ": %s</title></rect>\n",
				    kx_sim_fmt(buf, sizeof(buf), s[k].v[i],
				    dec));
				if (values)
					fprintf(f, "<text x=\"%" PRId64 "\" "
					    "y=\"%" PRId64 "\" font-size=\"11\" "
					    "text-anchor=\"middle\">%s</text>\n",
					    x + bw / 2, (y < y0 ? y : y0) - 4,
					    buf);
			}
		} else {
			fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
			    "stroke-width=\"2\" points=\"", s[k].color);
			for (i = 0; i < n; i++)
				fprintf(f, "%" PRId64 ",%" PRId64 " ", M_LEFT +
				    (n > 1 ? (int64_t)i * pw /
				    (int64_t)(n - 1) : 0), YPX(s[k].v[i]));
			fputs("\"/>\n", f);
		}
		/* legend: about 6.5 px a character at 11 px */
		fprintf(f, "<rect x=\"%" PRId64 "\" y=\"%d\" width=\"10\" "
		    "height=\"10\" fill=\"%s\"/><text x=\"%" PRId64 "\" "
		    "y=\"%d\" font-size=\"11\">", lx, SVG_H - 18, s[k].color,
		    lx + 14, SVG_H - 9);
		html_text(f, s[k].name);
		fputs("</text>\n", f);
		lx += 14 + (int64_t)strlen(s[k].name) * 13 / 2 + 18;
	}
	fputs("</svg>\n", f);
#undef YPX
}

#define C_LOAD	"#555555"
#define C_PV	"#e0a000"
#define C_LOCAL	"#1f9e89"
#define C_IMP	"#c0392b"
#define C_GRID	"#8e9aaf"
#define C_MKT	"#1f9e89"

static void
chart_day(FILE *f, const kx_sim_res_t *r)
{
	char		 lab[48][16];
	const char	*labels[48];
	int64_t		 load[48], pv[48], loc[48], imp[48], den;
	uint64_t	 sum[4][48];
	size_t		 J = r->slots_per_day, i, j;
	series_t	 s[4];

	memset(sum, 0, sizeof(sum));
	for (i = 0; i < r->n_slots; i++) {
		const kx_sim_slot_t *x = &r->slots[i];

		j = i % J;
		sum[0][j] += x->load;
		sum[1][j] += x->pv;
		sum[2][j] += x->volume;
		sum[3][j] += x->imp > x->exp ? x->imp - x->exp : 0;
	}
	/* mean kW in tenths: Wh x 3600 / slot_s / 1000 x 10 / days */
	den = (int64_t)r->sc.slot_s * (int64_t)r->days;
	for (j = 0; j < J; j++) {
		unsigned m = (unsigned)(j * r->sc.slot_s / 60);

		load[j] = muldiv((int64_t)sum[0][j], 36, den);
		pv[j] = muldiv((int64_t)sum[1][j], 36, den);
		loc[j] = muldiv((int64_t)sum[2][j], 36, den);
		imp[j] = muldiv((int64_t)sum[3][j], 36, den);
		snprintf(lab[j], sizeof(lab[j]), "%02u:%02u", m / 60 % 24,
		    m % 60);
		labels[j] = lab[j];
	}
	s[0] = (series_t){ "consumption", C_LOAD, load };
	s[1] = (series_t){ "PV", C_PV, pv };
	s[2] = (series_t){ "traded locally", C_LOCAL, loc };
	s[3] = (series_t){ "city import", C_IMP, imp };
	svg_chart(f, 720, "A typical day: the mean of every day of the run",
	    "kW", 1, labels, J, J >= 12 ? J / 8 : 1, s, 4, 0);
}

#define MONTHS_MAX	128

static void
chart_months(FILE *f, const kx_sim_res_t *r)
{
	char		 lab[MONTHS_MAX][16];
	const char	*labels[MONTHS_MAX];
	uint64_t	 load[MONTHS_MAX], loc[MONTHS_MAX], oin[MONTHS_MAX];
	int64_t		 share[MONTHS_MAX], suff[MONTHS_MAX], y, key0 = -1, key;
	unsigned	 mo, d;
	size_t		 i, nm = 0, k;
	series_t	 s[2];

	memset(load, 0, sizeof(load));
	memset(loc, 0, sizeof(loc));
	memset(oin, 0, sizeof(oin));
	for (i = 0; i < r->n_slots; i++) {
		kx_scen_jst_date(r->slots[i].slot, &y, &mo, &d, NULL);
		key = y * 12 + mo - 1;
		if (key0 < 0)
			key0 = key;
		k = (size_t)(key - key0);
		if (k >= MONTHS_MAX)
			break;
		if (k + 1 > nm) {
			nm = k + 1;
			snprintf(lab[k], sizeof(lab[k]), "%02u/%02u", mo,
			    (unsigned)(y % 100));
			labels[k] = lab[k];
		}
		load[k] += r->slots[i].load;
		loc[k] += r->slots[i].volume;
		oin[k] += r->slots[i].out_in;
	}
	for (k = 0; k < nm; k++) {
		share[k] = pct100((int64_t)loc[k], (int64_t)load[k]);
		suff[k] = load[k] > 0 ?
		    10000 - pct100((int64_t)oin[k], (int64_t)load[k]) : 0;
	}
	s[0] = (series_t){ "traded locally / consumption", C_LOCAL, share };
	s[1] = (series_t){ "self-sufficiency", C_PV, suff };
	svg_chart(f, 720, "Local share by month", "%", 2, labels, nm,
	    nm > 24 ? nm / 12 : 1, s, 2, 1);
}

#define PBINS	20

static void
chart_prices(FILE *f, const kx_sim_res_t *r)
{
	char		 lab[PBINS][24];
	const char	*labels[PBINS];
	uint64_t	 vol[PBINS];
	int64_t		 mwh[PBINS], F = (int64_t)r->sc.floor;
	int64_t		 span = (int64_t)r->sc.ceiling - F + 1, b;
	size_t		 i;
	series_t	 s[1];

	memset(vol, 0, sizeof(vol));
	for (i = 0; i < r->n_slots; i++) {
		const kx_sim_slot_t *x = &r->slots[i];

		if (!x->has_price)
			continue;
		b = ((int64_t)x->price - F) * PBINS / span;
		if (b < 0)
			b = 0;
		if (b >= PBINS)
			b = PBINS - 1;
		vol[b] += x->volume;
	}
	for (i = 0; i < PBINS; i++) {
		mwh[i] = rdiv((int64_t)vol[i], 100000);	/* tenths of MWh */
		kx_sim_fmt(lab[i], sizeof(lab[i]), F + (int64_t)i * span / PBINS,
		    2);
		labels[i] = lab[i];
	}
	s[0] = (series_t){ "traded at a price from (JPY/kWh)", C_LOCAL, mwh };
	svg_chart(f, 720, "Clearing prices: energy traded per price band",
	    "MWh", 1, labels, PBINS, 4, s, 1, 1);
}

static void
chart_bills(FILE *f, const kx_sim_res_t *r)
{
	const char	*labels[1] = { "" };
	int64_t		 g[1], b[1], nm;
	size_t		 t;
	series_t	 s[2];
	char		 title[64];

	fputs("<div class=\"row\">\n", f);
	for (t = 0; t < KX_SIM_TYPES; t++) {
		if (r->type[t].members == 0)
			continue;
		nm = (int64_t)r->type[t].members;
		g[0] = rdiv(jpy_yr(r, r->type[t].grid_bill / nm), 1000);
		b[0] = rdiv(jpy_yr(r, r->type[t].bill / nm), 1000);
		s[0] = (series_t){ "grid only", C_GRID, g };
		s[1] = (series_t){ "with market", C_MKT, b };
		snprintf(title, sizeof(title), "%s bill per member",
		    TYPE_NAME[t]);
		svg_chart(f, 330, title, "thousand JPY a year", 0, labels, 1, 1,
		    s, 2, 1);
	}
	fputs("</div>\n", f);
}

void
kx_sim_write_html(FILE *f, const kx_sim_res_t *r)
{
	kx_metric_t	 m[KX_METRICS_MAX];
	size_t		 n = kx_sim_metrics(m, r), i, t;
	char		 a[40], b[40], c[40], when[40];
	int64_t		 y;
	unsigned	 mo, d;
	const kx_scen_t	*sc = &r->sc;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8"
	    "\">\n<title>kaga-sim: ", f);
	html_text(f, sc->name);
	fputs("</title>\n<style>\n"
	    "body{font-family:sans-serif;margin:24px;color:#222;max-width:"
	    "1040px}\n"
	    "h1{font-size:22px}h2{font-size:17px;margin-top:28px}\n"
	    "table{border-collapse:collapse;font-size:13px}\n"
	    "td,th{border-bottom:1px solid #ddd;padding:3px 10px;text-align:"
	    "left}\ntd.n{text-align:right;font-variant-numeric:tabular-nums}"
	    "\n.row{display:flex;flex-wrap:wrap;gap:8px}\n"
	    "svg{border:1px solid #e4e4e4;margin:6px 0}\n"
	    "p.note{font-size:12px;color:#555}\n</style></head><body>\n", f);
	fputs("<h1>kaga-sim: ", f);
	html_text(f, sc->name);
	kx_scen_jst_date(sc->start, &y, &mo, &d, NULL);
	fprintf(f, "</h1>\n<p>%" PRIu64 " days from %04" PRId64 "-%02u-%02u, "
	    "%zu members, seed %" PRIu64 ". A synthetic Kaga: the members "
	    "forecast, bid, are cleared and settled every slot by the "
	    "project's own market code.%s</p>\n", r->days, y, mo, d,
	    r->members, sc->seed, r->days != 365 ?
	    " Yearly figures are the run's totals scaled by 365 / days." : "");

	fputs("<h2>Policy</h2>\n<table>\n", f);
	fprintf(f, "<tr><td>floor (buy-back)</td><td class=\"n\">%s</td>"
	    "<td>JPY/kWh</td></tr>\n",
	    kx_sim_fmt(a, sizeof(a), (int64_t)sc->floor, 2));
	fprintf(f, "<tr><td>ceiling (retail)</td><td class=\"n\">%s</td>"
	    "<td>JPY/kWh</td></tr>\n",
	    kx_sim_fmt(a, sizeof(a), (int64_t)sc->ceiling, 2));
	fprintf(f, "<tr><td>network fee</td><td class=\"n\">%s</td>"
	    "<td>JPY/kWh</td></tr>\n",
	    kx_sim_fmt(a, sizeof(a), (int64_t)sc->fee, 2));
	fprintf(f, "<tr><td>slot</td><td class=\"n\">%" PRIu64 "</td>"
	    "<td>s</td></tr>\n", sc->slot_s);
	fprintf(f, "<tr><td>health point value</td><td class=\"n\">%s</td>"
	    "<td>JPY</td></tr>\n",
	    kx_sim_fmt(a, sizeof(a), (int64_t)sc->pt_value, 5));
	fprintf(f, "<tr><td>points a month / per local kWh / redeemed</td>"
	    "<td class=\"n\">%" PRIu64 " / %" PRIu64 " / %" PRIu64 "&#8240;"
	    "</td><td>points</td></tr>\n</table>\n", sc->hp_monthly,
	    sc->hp_local_per_kwh, sc->hp_redeem_permille);

	fputs("<h2>Results</h2>\n<table>\n<tr><th>metric</th><th>value</th>"
	    "<th>unit</th><th>what</th></tr>\n", f);
	for (i = 0; i < n; i++) {
		fprintf(f, "<tr><td>%s</td><td class=\"n\">%s</td><td>",
		    m[i].name, kx_sim_fmt(a, sizeof(a), m[i].value, m[i].dec));
		html_text(f, m[i].unit);
		fputs("</td><td>", f);
		html_text(f, m[i].what);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
	if (r->peak_import > 0) {
		jst_time(when, sizeof(when), r->peak_slot);
		fprintf(f, "<p class=\"note\">Peak import in the slot starting "
		    "%s JST.</p>\n", when);
	}

	fputs("<h2>Bills by member type (per member and year)</h2>\n<table>\n"
	    "<tr><th>type</th><th>members</th><th>grid only (JPY)</th>"
	    "<th>with market (JPY)</th><th>change</th><th>bill rose for"
	    "</th></tr>\n", f);
	for (t = 0; t < KX_SIM_TYPES; t++) {
		const kx_sim_type_res_t *x = &r->type[t];
		int64_t nm = x->members > 0 ? (int64_t)x->members : 1;

		if (x->members == 0)
			continue;
		fprintf(f, "<tr><td>%s</td><td class=\"n\">%" PRIu64 "</td>"
		    "<td class=\"n\">%s</td><td class=\"n\">%s</td>"
		    "<td class=\"n\">%s %%</td><td class=\"n\">%s %%</td>"
		    "</tr>\n", TYPE_NAME[t], x->members,
		    kx_sim_fmt(a, sizeof(a), jpy_yr(r, x->grid_bill / nm), 0),
		    kx_sim_fmt(b, sizeof(b), jpy_yr(r, x->bill / nm), 0),
		    kx_sim_fmt(c, sizeof(c), x->grid_bill > 0 ?
		    pct100(x->bill - x->grid_bill, x->grid_bill) : 0, 2),
		    kx_sim_fmt(when, sizeof(when), pct100((int64_t)x->worse,
		    (int64_t)x->members), 2));
	}
	fputs("</table>\n", f);

	fputs("<h2>Charts</h2>\n", f);
	chart_day(f, r);
	chart_months(f, r);
	chart_prices(f, r);
	chart_bills(f, r);
	fputs("<p class=\"note\">Definitions: self-sufficiency = 1 - energy "
	    "bought from the grid at the ceiling / consumption; "
	    "self-consumption = 1 - energy sold to the grid at the floor / "
	    "PV; grid only = the same meter readings settled without a local "
	    "market. Money kept in the city = local sellers' income; paid "
	    "outside = retail energy, sellers' shortfalls and network fees. "
	    "Model, formulas and limits: docs/sim.md in kaga-exchange.</p>\n"
	    "</body></html>\n", f);
}
