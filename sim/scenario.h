/*
 * scenario.h - a kaga-sim scenario: the policy (market parameters,
 * incentives), the synthetic city (members, shares of PV, batteries and
 * EVs, sizes) and the run (seed, start, days), parsed from a small
 * `key = value` text file.
 *
 * The parser reads untrusted bytes (a file a policy maker edited by
 * hand, or a fuzzer's output): it is strict, never allocates, and every
 * error names the line and the key (docs/sim.md lists every key).
 * Pure: no I/O, no global state.
 */
#ifndef KX_SCENARIO_H
#define KX_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#define KX_SCEN_NAME_MAX	64	/* bytes of `name` */
#define KX_SCEN_LINE_MAX	4096	/* bytes of one line */
#define KX_SCEN_FILE_MAX	(1u << 20)	/* bytes of a file */
#define KX_SCEN_ERR_MAX		256	/* a message, with its NUL */

/* Error codes (reserved range -600 .. -619). */
#define KX_SCEN_OK		 0
#define KX_SCEN_ESYNTAX		-601	/* a line is not `key = value` */
#define KX_SCEN_EKEY		-602	/* an unknown or repeated key */
#define KX_SCEN_EVALUE		-603	/* a value of the wrong form or range */
#define KX_SCEN_ECONFLICT	-604	/* two values that do not fit together */

/* Member types. */
#define KX_SIM_HOUSEHOLD	0
#define KX_SIM_RYOKAN		1
#define KX_SIM_FARM		2
#define KX_SIM_TYPES		3

/* Per member type: how many, and what they own. */
typedef struct {
	uint64_t	 count;		/* members of the type */
	uint64_t	 kwh;		/* mean consumption, kWh a year */
	uint64_t	 pv_permille;	/* share with PV */
	uint64_t	 pv_w;		/* mean PV peak, W */
	uint64_t	 batt_permille;	/* share of the PV owners with a battery */
	uint64_t	 batt_wh;	/* battery capacity, Wh */
	uint64_t	 batt_w;	/* battery power, W (charge and discharge) */
} kx_scen_type_t;

/* A whole scenario; every field has a default (kx_scen_default). */
typedef struct {
	char		 name[KX_SCEN_NAME_MAX + 1];	/* NUL-terminated */
	uint64_t	 seed;		/* weather and member draws */
	uint64_t	 days;		/* simulated days, 1..3660 */
	int64_t		 start;		/* unix s of the first day, a JST
					   midnight (key `start`, YYYY-MM-DD) */
	/* market (PROTOCOL.md 5.1 `market`) */
	uint64_t	 slot_s;	/* market slot, a multiple of 1800 s
					   dividing a day */
	uint64_t	 floor, ceiling, fee;	/* sen per kWh */
	uint64_t	 pt_value;	/* milli-sen per health point */
	/* incentives (health points redeemed against the energy bill) */
	uint64_t	 hp_monthly;	/* points per member per month */
	uint64_t	 hp_local_per_kwh;	/* points per local kWh traded */
	uint64_t	 hp_redeem_permille;	/* share redeemed to the operator */
	/* the city */
	kx_scen_type_t	 type[KX_SIM_TYPES];
	uint64_t	 ev_permille;	/* share of households with an EV */
	uint64_t	 ev_wh_day;	/* mean daily EV charge, Wh */
	uint64_t	 ev_w;		/* EV charger power, W */
	uint64_t	 batt_eff_permille;	/* battery round trip */
	uint64_t	 grid_charge;	/* 0/1: batteries may charge from the grid */
	uint64_t	 size_spread_permille;	/* member sizes 1 +- spread */
	uint64_t	 load_noise_permille;	/* slot-to-slot load noise */
	uint64_t	 variety;	/* 1: rhythms, PV orientations and daily
					   habits differ; 0: members of a type
					   alike apart from their sizes */
	uint64_t	 cloud_permille;	/* 1000: Kaga climate, 0: always clear */
	/* bidding (market/strategy.h) */
	uint64_t	 sell_min;	/* never sell below, sen/kWh */
	uint64_t	 buy_max;	/* never buy above, sen/kWh */
	uint64_t	 order_steps;	/* steps of an order curve, 1..16 */
	uint64_t	 forecast_days;	/* history days a forecast reads */
	uint64_t	 forecast_trim_permille;
	uint64_t	 forecast_cs_permille;
} kx_scen_t;

const char	*kx_scen_strerror(int);

/* The built-in scenario (Kaga: 27,000 households, 100 ryokan, 300 farms). */
void	kx_scen_default(kx_scen_t *sc);

/*
 * Parses buf[0..len) over the defaults: each line is empty, a comment
 * (`#` to the end of the line, also after a value) or `key = value`;
 * a key may appear once. Then checks the values against each other.
 *
 * fname: the name used in messages (e.g. the path). err: errlen bytes,
 * gets `FNAME:LINE: KEY: what is wrong` (or `FNAME: ...` for a file-wide
 * problem). On error *sc is unspecified.
 * Returns KX_SCEN_OK or one of the KX_SCEN_E* codes.
 */
int	kx_scen_parse(kx_scen_t *sc, const char *buf, size_t len,
	    const char *fname, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * Checks a scenario made in code (the checks kx_scen_parse ends with,
 * without line numbers). Returns KX_SCEN_OK or KX_SCEN_ECONFLICT /
 * KX_SCEN_EVALUE with a message in err.
 */
int	kx_scen_check(const kx_scen_t *sc, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * Writes sc as a scenario file (every key, with a comment line each) to
 * buf; returns the length it needs (excluding the NUL), like snprintf.
 */
size_t	kx_scen_format(char *buf, size_t size, const kx_scen_t *sc);

/* Unix s of a JST midnight from a civil date (proleptic Gregorian). */
int64_t	kx_scen_jst_midnight(int64_t y, unsigned m, unsigned d);

/* The civil date (JST) of unix time t; *wday 0 = Sunday (may be NULL). */
void	kx_scen_jst_date(int64_t t, int64_t *y, unsigned *m, unsigned *d,
	    unsigned *wday);

#endif
