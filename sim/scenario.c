/*
 * scenario.c - the kaga-sim scenario file (scenario.h).
 *
 * One table lists every key with its field, range, default and a line of
 * documentation; the parser, the checks and kx_scen_format all read it,
 * so a new key is one line here (and one in docs/sim.md). Strict: a
 * value is exactly one token of its form (digits only for integers), a
 * key appears once, unknown keys are errors, and every message names the
 * file, the line and the key.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "scenario.h"
#include "parsenum.h"

#define DAY_S		86400
#define JST_S		32400
#define START_MIN_Y	2001	/* a year of warm-up stays after 2000 */
#define START_MAX_Y	2099
#define MEMBERS_MAX	200000	/* all types together */

enum kind { K_INT, K_NAME, K_DATE };

typedef struct {
	const char	*key;
	enum kind	 kind;
	size_t		 off;		/* of a uint64_t (K_INT) in kx_scen_t */
	uint64_t	 min, max, def;
	const char	*doc;
} skey_t;

#define F(field)	offsetof(kx_scen_t, field)
#define T(t, field)	offsetof(kx_scen_t, type[t].field)
#define H		KX_SIM_HOUSEHOLD
#define R		KX_SIM_RYOKAN
#define A		KX_SIM_FARM

static const skey_t keys[] = {
	{ "name", K_NAME, 0, 0, 0, 0,
	    "a label for reports, 1..64 bytes of UTF-8" },
	{ "seed", K_INT, F(seed), 0, UINT64_MAX, 1,
	    "weather and member draws (--seed overrides)" },
	{ "days", K_INT, F(days), 1, 3660, 365,
	    "simulated days (--days overrides)" },
	{ "start", K_DATE, 0, 0, 0, 0,
	    "first day, YYYY-MM-DD (JST)" },
	{ "slot_s", K_INT, F(slot_s), 1800, 86400, 1800,
	    "market slot, s: a multiple of 1800 that divides a day" },
	{ "floor", K_INT, F(floor), 0, 1000000, 800,
	    "buy-back price of the grid, sen/kWh" },
	{ "ceiling", K_INT, F(ceiling), 0, 1000000, 3100,
	    "retail price of the grid, sen/kWh" },
	{ "fee", K_INT, F(fee), 0, 1000000, 500,
	    "network fee on a local trade, sen/kWh (below ceiling)" },
	{ "pt_value", K_INT, F(pt_value), 0, 10000000, 100000,
	    "value of a health point redeemed to the operator, milli-sen" },
	{ "hp_monthly", K_INT, F(hp_monthly), 0, 10000, 0,
	    "health points each member earns a month (health program)" },
	{ "hp_local_per_kwh", K_INT, F(hp_local_per_kwh), 0, 100, 0,
	    "health points per kWh a member bought or sold locally" },
	{ "hp_redeem_permille", K_INT, F(hp_redeem_permille), 0, 1000, 1000,
	    "share of its points a member redeems against its energy bill" },
	{ "households", K_INT, T(H, count), 0, MEMBERS_MAX, 27000,
	    "households" },
	{ "household_kwh", K_INT, T(H, kwh), 1, 100000000, 4800,
	    "mean household consumption, kWh a year (EV apart)" },
	{ "household_pv_permille", K_INT, T(H, pv_permille), 0, 1000, 120,
	    "share of households with PV" },
	{ "household_pv_w", K_INT, T(H, pv_w), 1, 10000000, 4500,
	    "mean household PV peak, W" },
	{ "household_battery_permille", K_INT, T(H, batt_permille), 0, 1000,
	    300, "share of PV households with a battery" },
	{ "household_battery_wh", K_INT, T(H, batt_wh), 1, 1000000000, 7000,
	    "household battery capacity, Wh" },
	{ "household_battery_w", K_INT, T(H, batt_w), 1, 100000000, 3000,
	    "household battery power, W" },
	{ "ryokan", K_INT, T(R, count), 0, 5000, 100,
	    "ryokan (hot-spring inns)" },
	{ "ryokan_kwh", K_INT, T(R, kwh), 1, 100000000, 400000,
	    "mean ryokan consumption, kWh a year" },
	{ "ryokan_pv_permille", K_INT, T(R, pv_permille), 0, 1000, 300,
	    "share of ryokan with PV" },
	{ "ryokan_pv_w", K_INT, T(R, pv_w), 1, 10000000, 40000,
	    "mean ryokan PV peak, W" },
	{ "ryokan_battery_permille", K_INT, T(R, batt_permille), 0, 1000, 300,
	    "share of PV ryokan with a battery" },
	{ "ryokan_battery_wh", K_INT, T(R, batt_wh), 1, 1000000000, 60000,
	    "ryokan battery capacity, Wh" },
	{ "ryokan_battery_w", K_INT, T(R, batt_w), 1, 100000000, 25000,
	    "ryokan battery power, W" },
	{ "farms", K_INT, T(A, count), 0, 20000, 300,
	    "farms" },
	{ "farm_kwh", K_INT, T(A, kwh), 1, 100000000, 15000,
	    "mean farm consumption, kWh a year" },
	{ "farm_pv_permille", K_INT, T(A, pv_permille), 0, 1000, 400,
	    "share of farms with PV" },
	{ "farm_pv_w", K_INT, T(A, pv_w), 1, 10000000, 30000,
	    "mean farm PV peak, W" },
	{ "farm_battery_permille", K_INT, T(A, batt_permille), 0, 1000, 100,
	    "share of PV farms with a battery" },
	{ "farm_battery_wh", K_INT, T(A, batt_wh), 1, 1000000000, 20000,
	    "farm battery capacity, Wh" },
	{ "farm_battery_w", K_INT, T(A, batt_w), 1, 100000000, 10000,
	    "farm battery power, W" },
	{ "ev_permille", K_INT, F(ev_permille), 0, 1000, 50,
	    "share of households with an electric car" },
	{ "ev_wh_day", K_INT, F(ev_wh_day), 0, 200000, 6000,
	    "mean daily EV charge, Wh" },
	{ "ev_w", K_INT, F(ev_w), 1, 100000, 3000,
	    "EV charger power, W" },
	{ "battery_eff_permille", K_INT, F(batt_eff_permille), 1, 1000, 900,
	    "battery round-trip efficiency" },
	{ "grid_charge", K_INT, F(grid_charge), 0, 1, 0,
	    "1: batteries may also charge from bought energy" },
	{ "size_spread_permille", K_INT, F(size_spread_permille), 0, 900, 400,
	    "member sizes (consumption, PV) spread +- this around the mean" },
	{ "load_noise_permille", K_INT, F(load_noise_permille), 0, 900, 250,
	    "slot-to-slot load noise of a member, +- this" },
	{ "variety", K_INT, F(variety), 0, 1, 1,
	    "1: members differ in rhythm, PV orientation, habits; 0: alike" },
	{ "cloud_permille", K_INT, F(cloud_permille), 0, 1000, 1000,
	    "cloudiness: 1000 Kaga's climate, 0 a clear sky every day" },
	{ "sell_min", K_INT, F(sell_min), 0, 1000000, 0,
	    "members never sell below, sen/kWh (floor applies anyway)" },
	{ "buy_max", K_INT, F(buy_max), 0, 1000000, 1000000,
	    "members never buy above, sen/kWh (ceiling applies anyway)" },
	{ "order_steps", K_INT, F(order_steps), 1, 16, 4,
	    "steps of each order curve" },
	{ "forecast_days", K_INT, F(forecast_days), 1, 366, 14,
	    "history days a forecast reads" },
	{ "forecast_trim_permille", K_INT, F(forecast_trim_permille), 0, 500,
	    250, "trimmed from each end of the history (250: interquartile)" },
	{ "forecast_cs_permille", K_INT, F(forecast_cs_permille), 0, 1000, 750,
	    "weight of the clear-sky PV model against plain PV history" },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

/* Indexes of the keys the cross checks name. */
static size_t
key_index(const char *k)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].key, k) == 0)
			return i;
	return 0;	/* not reached: callers pass table keys */
}

const char *
kx_scen_strerror(int e)
{
	switch (e) {
	case KX_SCEN_OK:	return "ok";
	case KX_SCEN_ESYNTAX:	return "scenario: syntax error";
	case KX_SCEN_EKEY:	return "scenario: unknown or repeated key";
	case KX_SCEN_EVALUE:	return "scenario: bad value";
	case KX_SCEN_ECONFLICT:	return "scenario: values do not fit together";
	default:		return "scenario: unknown error";
	}
}

/* ---- dates (Howard Hinnant's days_from_civil and civil_from_days) --- */

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		 era;
	unsigned	 yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int64_t
kx_scen_jst_midnight(int64_t y, unsigned m, unsigned d)
{
	return days_from_civil(y, m, d) * DAY_S - JST_S;
}

void
kx_scen_jst_date(int64_t t, int64_t *y, unsigned *m, unsigned *d,
    unsigned *wday)
{
	int64_t		 z, era, days, yy;
	unsigned	 doe, yoe, doy, mp;

	t += JST_S;
	days = t / DAY_S - (t % DAY_S < 0);
	if (wday != NULL)	/* 1970-01-01 was a Thursday */
		*wday = (unsigned)(((days % 7) + 11) % 7);
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

static bool
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
month_days(int64_t y, unsigned m)
{
	static const unsigned md[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && leap(y) ? 29 : md[m - 1];
}

/* ---- defaults ------------------------------------------------------ */

void
kx_scen_default(kx_scen_t *sc)
{
	size_t	 i;

	memset(sc, 0, sizeof(*sc));
	snprintf(sc->name, sizeof(sc->name), "%s", "default");
	sc->start = kx_scen_jst_midnight(2025, 4, 1);
	for (i = 0; i < NKEYS; i++)
		if (keys[i].kind == K_INT)
			*(uint64_t *)(void *)((char *)sc + keys[i].off) =
			    keys[i].def;
}

/* ---- messages ------------------------------------------------------ */

/* Appends at most max bytes of s to a message, '?' for what is not
 * printable ASCII. */
static void
quote(char *out, size_t size, const char *s, size_t n, size_t max)
{
	size_t	 i, o = 0;

	if (size == 0)
		return;
	for (i = 0; i < n && i < max && o + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (i < n && o + 4 < size) {
		out[o++] = '.';
		out[o++] = '.';
		out[o++] = '.';
	}
	out[o] = '\0';
}

#define ERR(rc, ...)	do {						\
		if (err != NULL && errlen > 0)				\
			snprintf(err, errlen, __VA_ARGS__);		\
		return (rc);						\
	} while (0)

/* ---- values -------------------------------------------------------- */

/* Valid UTF-8 without control characters (C0, DEL). */
static bool
name_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t		 i = 0, k, len;
	uint32_t	 cp;

	if (n == 0 || n > KX_SCEN_NAME_MAX)
		return false;
	while (i < n) {
		if (p[i] < 0x80) {
			if (p[i] < 0x20 || p[i] == 0x7f)
				return false;
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf) {
			len = 2;
			cp = p[i] & 0x1f;
		} else if (p[i] >= 0xe0 && p[i] <= 0xef) {
			len = 3;
			cp = p[i] & 0x0f;
		} else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
			len = 4;
			cp = p[i] & 0x07;
		} else
			return false;
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;	/* overlong, too big, surrogate */
		i += len;
	}
	return true;
}

/* YYYY-MM-DD, a real date from START_MIN_Y to START_MAX_Y. */
static bool
parse_date(int64_t *t, const char *s, size_t n)
{
	uint64_t	 y, m, d;

	if (n != 10 || s[4] != '-' || s[7] != '-' ||
	    !kx_sim_parse_u64(&y, s, 4) || !kx_sim_parse_u64(&m, s + 5, 2) ||
	    !kx_sim_parse_u64(&d, s + 8, 2))
		return false;
	if (y < START_MIN_Y || y > START_MAX_Y || m < 1 || m > 12 || d < 1 ||
	    d > month_days((int64_t)y, (unsigned)m))
		return false;
	*t = kx_scen_jst_midnight((int64_t)y, (unsigned)m, (unsigned)d);
	return true;
}

/* ---- checks between values ----------------------------------------- */

/* "line N" or "default" for a key's origin. */
static const char *
origin(char *buf, size_t size, const unsigned *lines, const char *key)
{
	unsigned l = lines != NULL ? lines[key_index(key)] : 0;

	if (l == 0)
		snprintf(buf, size, "%s", lines != NULL ? "default" : "set");
	else
		snprintf(buf, size, "line %u", l);
	return buf;
}

/* The later of two keys' lines (0: both defaults). */
static unsigned
later(const unsigned *lines, const char *a, const char *b)
{
	unsigned la, lb;

	if (lines == NULL)
		return 0;
	la = lines[key_index(a)];
	lb = lines[key_index(b)];
	return la > lb ? la : lb;
}

/* "FNAME:LINE: " or "FNAME: " */
static void
where(char *buf, size_t size, const char *fname, unsigned line)
{
	if (line > 0)
		snprintf(buf, size, "%s:%u: ", fname, line);
	else
		snprintf(buf, size, "%s: ", fname);
}

/*
 * Whether money sums could pass 2^61 milli-sen (a quarter of int64's
 * range): a generous bound of each member's Wh a year (4 x its mean
 * consumption, 2 x its PV peak x 4380 h, an EV at 1.6 x its mean), times
 * the dearer price, plus the health points' value, times the years.
 */
static bool
too_big(const kx_scen_t *sc)
{
	unsigned __int128 wh = 0, money, pts = 0, years;
	size_t		 t;

	for (t = 0; t < KX_SIM_TYPES; t++) {
		const kx_scen_type_t *y = &sc->type[t];

		wh += (unsigned __int128)y->count * (4 * y->kwh * 1000 +
		    2 * y->pv_w * 4380);
		pts += (unsigned __int128)y->count * 12 * sc->hp_monthly;
	}
	wh += (unsigned __int128)sc->type[KX_SIM_HOUSEHOLD].count *
	    sc->ev_wh_day * 2 * 366;
	pts += wh / 1000 * sc->hp_local_per_kwh;
	money = wh * (sc->ceiling > sc->floor ? sc->ceiling : sc->floor) +
	    pts * sc->pt_value;
	years = sc->days / 365 + 1;
	return money * years >= (unsigned __int128)1 << 61;
}

static int
check(const kx_scen_t *sc, const unsigned *lines, const char *fname,
    char *err, size_t errlen)
{
	char		 w[300], o[32];
	uint64_t	 total = 0;
	size_t		 t;

	if (sc->floor > sc->ceiling) {
		where(w, sizeof(w), fname, later(lines, "floor", "ceiling"));
		ERR(KX_SCEN_ECONFLICT, "%sfloor: %llu is above ceiling "
		    "(%llu, %s)", w, (unsigned long long)sc->floor,
		    (unsigned long long)sc->ceiling,
		    origin(o, sizeof(o), lines, "ceiling"));
	}
	if (sc->fee >= sc->ceiling) {
		where(w, sizeof(w), fname, later(lines, "fee", "ceiling"));
		ERR(KX_SCEN_ECONFLICT, "%sfee: %llu must be below ceiling "
		    "(%llu, %s)", w, (unsigned long long)sc->fee,
		    (unsigned long long)sc->ceiling,
		    origin(o, sizeof(o), lines, "ceiling"));
	}
	if (sc->slot_s < 1800 || sc->slot_s % 1800 != 0 ||
	    DAY_S % sc->slot_s != 0) {
		where(w, sizeof(w), fname,
		    lines != NULL ? lines[key_index("slot_s")] : 0);
		ERR(KX_SCEN_EVALUE, "%sslot_s: %llu is not a multiple of 1800 "
		    "that divides 86400 (1800, 3600, 5400, 7200, 10800, "
		    "14400, 21600, 28800, 43200, 86400)", w,
		    (unsigned long long)sc->slot_s);
	}
	for (t = 0; t < KX_SIM_TYPES; t++)
		total += sc->type[t].count;
	if (total < 1 || total > MEMBERS_MAX) {
		unsigned l = later(lines, "households", "farms");

		if (lines != NULL && lines[key_index("ryokan")] > l)
			l = lines[key_index("ryokan")];
		where(w, sizeof(w), fname, l);
		ERR(KX_SCEN_ECONFLICT, "%shouseholds + ryokan + farms: %llu, "
		    "must be 1..%u", w, (unsigned long long)total,
		    MEMBERS_MAX);
	}
	if (sc->days < 1 || sc->days > 3660) {
		where(w, sizeof(w), fname,
		    lines != NULL ? lines[key_index("days")] : 0);
		ERR(KX_SCEN_EVALUE, "%sdays: %llu, must be 1..3660", w,
		    (unsigned long long)sc->days);
	}
	if (sc->order_steps < 1 || sc->order_steps > 16 ||
	    sc->forecast_days < 1 || sc->forecast_days > 366 ||
	    sc->batt_eff_permille < 1 || sc->batt_eff_permille > 1000 ||
	    sc->ceiling > 1000000 || sc->pt_value > 10000000 ||
	    sc->start < kx_scen_jst_midnight(START_MIN_Y, 1, 1) ||
	    sc->start > kx_scen_jst_midnight(START_MAX_Y, 12, 31) ||
	    (sc->start + JST_S) % DAY_S != 0) {
		where(w, sizeof(w), fname, 0);
		ERR(KX_SCEN_EVALUE, "%sa value is out of its range", w);
	}
	for (t = 0; t < KX_SIM_TYPES; t++)
		if (sc->type[t].batt_wh < 1 || sc->type[t].batt_w < 1 ||
		    sc->type[t].kwh < 1) {
			where(w, sizeof(w), fname, 0);
			ERR(KX_SCEN_EVALUE, "%sa battery or consumption is 0",
			    w);
		}
	if (too_big(sc)) {
		where(w, sizeof(w), fname, 0);
		ERR(KX_SCEN_ECONFLICT, "%sthe city's energy times the ceiling "
		    "over %llu days could pass 64-bit money sums: fewer or "
		    "smaller members, fewer days or lower prices", w,
		    (unsigned long long)sc->days);
	}
	return KX_SCEN_OK;
}

int
kx_scen_check(const kx_scen_t *sc, char *err, size_t errlen)
{
	return check(sc, NULL, "scenario", err, errlen);
}

/* ---- the parser ---------------------------------------------------- */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

int
kx_scen_parse(kx_scen_t *sc, const char *buf, size_t len,
    const char *fname, char *err, size_t errlen)
{
	unsigned	 lines[NKEYS], lineno = 0;
	char		 q[80];
	size_t		 pos = 0, eol, a, b, k, ke, v, i;
	uint64_t	 x;
	const skey_t	*kt;

	if (fname == NULL)
		fname = "scenario";
	kx_scen_default(sc);
	memset(lines, 0, sizeof(lines));
	if (buf == NULL && len > 0)
		ERR(KX_SCEN_ESYNTAX, "%s: no data", fname);
	if (len > KX_SCEN_FILE_MAX)
		ERR(KX_SCEN_ESYNTAX, "%s: larger than %u bytes", fname,
		    KX_SCEN_FILE_MAX);
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;	/* a UTF-8 byte order mark */
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);

		lineno++;
		eol = nl != NULL ? (size_t)(nl - buf) : len;
		a = pos;
		b = eol;
		pos = nl != NULL ? eol + 1 : len;
		if (b - a > KX_SCEN_LINE_MAX)
			ERR(KX_SCEN_ESYNTAX, "%s:%u: line longer than %u bytes",
			    fname, lineno, KX_SCEN_LINE_MAX);
		if (b > a && buf[b - 1] == '\r')
			b--;	/* CRLF */
		for (i = a; i < b; i++) {
			unsigned char c = (unsigned char)buf[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				ERR(KX_SCEN_ESYNTAX, "%s:%u: control character "
				    "0x%02x in column %zu", fname, lineno, c,
				    i - a + 1);
			if (c == '#') {
				b = i;	/* a comment to the end of the line */
				break;
			}
		}
		while (a < b && is_space(buf[a]))
			a++;
		while (b > a && is_space(buf[b - 1]))
			b--;
		if (a == b)
			continue;
		/* key */
		for (k = a; k < b && is_key_char(buf[k]); k++)
			;
		ke = k;
		while (k < b && is_space(buf[k]))
			k++;
		if (ke == a || buf[a] < 'a' || buf[a] > 'z' || k == b ||
		    buf[k] != '=') {
			quote(q, sizeof(q), buf + a, b - a, 40);
			ERR(KX_SCEN_ESYNTAX, "%s:%u: expected 'key = value' "
			    "(a key of a-z, 0-9, _), got '%s'", fname, lineno,
			    q);
		}
		v = k + 1;
		while (v < b && is_space(buf[v]))
			v++;
		kt = NULL;
		for (i = 0; i < NKEYS; i++)
			if (strlen(keys[i].key) == ke - a &&
			    memcmp(keys[i].key, buf + a, ke - a) == 0) {
				kt = &keys[i];
				break;
			}
		quote(q, sizeof(q), buf + a, ke - a, 40);
		if (kt == NULL)
			ERR(KX_SCEN_EKEY, "%s:%u: unknown key '%s' (see "
			    "`kaga-sim scenario` for the keys)", fname, lineno,
			    q);
		if (lines[i] != 0)
			ERR(KX_SCEN_EKEY, "%s:%u: %s: set twice (first on line "
			    "%u)", fname, lineno, kt->key, lines[i]);
		lines[i] = lineno;
		if (v == b)
			ERR(KX_SCEN_EVALUE, "%s:%u: %s: no value", fname,
			    lineno, kt->key);
		switch (kt->kind) {
		case K_NAME:
			if (!name_ok(buf + v, b - v))
				ERR(KX_SCEN_EVALUE, "%s:%u: name: expected 1..%d "
				    "bytes of UTF-8 text", fname, lineno,
				    KX_SCEN_NAME_MAX);
			memcpy(sc->name, buf + v, b - v);
			sc->name[b - v] = '\0';
			break;
		case K_DATE:
			if (!parse_date(&sc->start, buf + v, b - v)) {
				quote(q, sizeof(q), buf + v, b - v, 32);
				ERR(KX_SCEN_EVALUE, "%s:%u: start: expected a "
				    "date YYYY-MM-DD from %d to %d, got '%s'",
				    fname, lineno, START_MIN_Y, START_MAX_Y, q);
			}
			break;
		case K_INT:
			if (!kx_sim_parse_u64(&x, buf + v, b - v) ||
			    x < kt->min || x > kt->max) {
				quote(q, sizeof(q), buf + v, b - v, 32);
				ERR(KX_SCEN_EVALUE, "%s:%u: %s: expected an "
				    "integer from %llu to %llu, got '%s'", fname,
				    lineno, kt->key,
				    (unsigned long long)kt->min,
				    (unsigned long long)kt->max, q);
			}
			*(uint64_t *)(void *)((char *)sc + kt->off) = x;
			break;
		}
	}
	return check(sc, lines, fname, err, errlen);
}

/* ---- writing a scenario -------------------------------------------- */

size_t
kx_scen_format(char *buf, size_t size, const kx_scen_t *sc)
{
	size_t		 i, n = 0;
	int		 w;
	int64_t		 y;
	unsigned	 m, d;
	char		 dummy[1];

	if (buf == NULL || size == 0) {
		buf = dummy;
		size = 1;
	}
#define OUT(...)	do {						\
		w = snprintf(buf + (n < size ? n : size - 1),		\
		    n < size ? size - n : 1, __VA_ARGS__);		\
		if (w > 0)						\
			n += (size_t)w;					\
	} while (0)
	OUT("# kaga-sim scenario (docs/sim.md); key = value, # comments\n");
	for (i = 0; i < NKEYS; i++) {
		OUT("\n# %s\n", keys[i].doc);
		switch (keys[i].kind) {
		case K_NAME:
			OUT("%s = %s\n", keys[i].key, sc->name);
			break;
		case K_DATE:
			kx_scen_jst_date(sc->start, &y, &m, &d, NULL);
			OUT("%s = %04lld-%02u-%02u\n", keys[i].key,
			    (long long)y, m, d);
			break;
		case K_INT:
			OUT("%s = %llu\n", keys[i].key, (unsigned long long)
			    *(const uint64_t *)(const void *)
			    ((const char *)sc + keys[i].off));
			break;
		}
	}
#undef OUT
	return n;
}
