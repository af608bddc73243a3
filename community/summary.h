/*
 * summary.h - privacy-safe daily aggregates per area (PROTOCOL.md section
 * 9): the body of an operator's `summary` message, and its CSV and
 * NGSI-LD exports (docs/aggregates.md).
 *
 * Input: one record per member and JST day (kx_sum_input_t) with the
 * member's area and its day totals: metered import and export, energy
 * bought and sold in the local market, money paid to other members
 * through the market and to the grid, health points issued to it and
 * redeemed by it, time-bank minutes it earned. kx_summary_build() groups
 * them by (day, area), applies the 15/15 rule (at least 15 members, no
 * member over 15 % of the cell's energy), merging a failing area into
 * the next area in byte order (the last into the previous cell) and
 * suppressing what merging cannot save, and optionally adds discrete
 * Laplace noise to the published totals.
 *
 * Pure: no disk, no sockets; integers only in everything published.
 * Everything but the noise is deterministic: the same records in any
 * order give the same cells. The noise comes from libsodium's
 * randombytes and is not reproducible, by design. Tuned for a city's
 * day (tens of thousands of members, hundreds of areas): one pass with
 * hash tables, the areas of a day sorted once.
 */
#ifndef KX_SUMMARY_H
#define KX_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Error codes (reserved range -400 .. -499). */
#define KX_SUM_OK	   0
#define KX_SUM_EINVAL	-401	/* an input or a parameter out of range */
#define KX_SUM_EDUP	-402	/* one member twice in one day */
#define KX_SUM_ERANGE	-403	/* a total past KX_SUM_TOTAL_MAX */
#define KX_SUM_ENOMEM	-404
#define KX_SUM_EPARSE	-405	/* a body that is not a summary body */

#define KX_SUM_AREA_MAX		32		/* bytes, as `member` area */
#define KX_SUM_VALUE_MAX	1000000000000000ULL	/* 10^15, one field
							   of one member-day */
#define KX_SUM_TOTAL_MAX	9007199254740991ULL	/* 2^53 - 1: exact
							   in any JSON reader */
#define KX_SUM_BOUND_MAX	1000000000000ULL	/* 10^12, a noise bound */
#define KX_SUM_EPS_MAX		1000000ULL	/* epsilon 1000, in milli */
#define KX_SUM_MIN_MEMBERS	15
#define KX_SUM_MAX_SHARE_PCT	15
#define KX_SUM_UNASSIGNED	"unassigned"	/* area of a member without */
#define KX_SUM_BODY_MAX		15360	/* bytes of JSON per summary part */

/* The published totals of a cell, in this order everywhere. */
enum {
	KX_SUM_IMPORT = 0,	/* import_wh: metered from the grid */
	KX_SUM_EXPORT,		/* export_wh: metered to the grid */
	KX_SUM_BOUGHT,		/* bought_local_wh: local market fills */
	KX_SUM_SOLD,		/* sold_local_wh */
	KX_SUM_LOCAL,		/* local_supply_wh: sum of min(bought, import) */
	KX_SUM_MONEY_LOCAL,	/* money_local_msen: paid to members */
	KX_SUM_MONEY_GRID,	/* money_grid_msen: paid to the grid */
	KX_SUM_PTS_ISSUED,	/* points_issued */
	KX_SUM_PTS_REDEEMED,	/* points_redeemed */
	KX_SUM_MINUTES,		/* volunteer_minutes */
	KX_SUM_NFIELDS
};

/* One member's day. Every value is at most KX_SUM_VALUE_MAX. */
typedef struct {
	uint8_t		 member[32];	/* its key */
	char		 area[KX_SUM_AREA_MAX + 1];	/* UTF-8; "" is
					   KX_SUM_UNASSIGNED */
	int32_t		 day;		/* JST day, kx_sum_day_of_ms() */
	uint64_t	 imp_wh;	/* metered import */
	uint64_t	 exp_wh;	/* metered export */
	uint64_t	 bought_wh;	/* bought in the local market */
	uint64_t	 sold_wh;	/* sold in the local market */
	uint64_t	 money_local;	/* milli-sen it paid to members
					   through the market (Ab x P) */
	uint64_t	 money_grid;	/* milli-sen it paid to the grid */
	uint64_t	 pts_issued;	/* health points issued to it */
	uint64_t	 pts_redeemed;	/* health points it paid the operator */
	uint64_t	 minutes;	/* time-bank minutes paid to it */
} kx_sum_input_t;

typedef struct {
	uint32_t	 min_members;	/* KX_SUM_MIN_MEMBERS */
	uint32_t	 max_share_pct;	/* KX_SUM_MAX_SHARE_PCT */
	uint64_t	 eps_milli;	/* epsilon x 1000; 0: no noise */
	uint64_t	 bound[KX_SUM_NFIELDS];	/* per member-day, the
					   sensitivity of each total (noise
					   only), 1..KX_SUM_BOUND_MAX */
} kx_sum_params_t;

/* A cell: one area or merged neighbours, one day. */
typedef struct {
	int32_t		 day;
	uint32_t	 first_area;	/* index into kx_summary_t areas */
	uint32_t	 n_areas;	/* >= 1, in byte order */
	bool		 published;	/* false: suppressed, nothing below */
	uint32_t	 members;	/* members with a nonzero value */
	int64_t		 total[KX_SUM_NFIELDS];	/* noised if eps_milli */
	int32_t		 self_permille;	/* local supply / import, -1: none */
	int32_t		 money_permille; /* local / (local + grid), -1 */
} kx_sum_cell_t;

typedef struct {
	kx_sum_cell_t	*cells;		/* by (day, first area) */
	size_t		 ncells;
	char		(*areas)[KX_SUM_AREA_MAX + 1];	/* cells' areas */
	size_t		 nareas;
	uint32_t	 min_members, max_share_pct;	/* the rule used */
	uint64_t	 eps_milli;	/* 0: exact totals */
	uint64_t	 bound[KX_SUM_NFIELDS];	/* when eps_milli > 0 */
	size_t		 cap_cells, cap_areas;
} kx_summary_t;

/* Text of an error code. */
const char	*kx_sum_strerror(int);
/* JSON/CSV name of total f ("import_wh", ...), NULL past the end. */
const char	*kx_sum_field_name(int f);
/* The rule, no noise, and the default bounds of docs/aggregates.md. */
void		 kx_sum_params_default(kx_sum_params_t *p);

/* ---- JST days -------------------------------------------------------- */

/* The JST day (days since 1970-01-01 JST) of a time stamp in ms. */
int32_t		 kx_sum_day_of_ms(int64_t ts_ms);
/* Unix seconds of the day's 00:00 JST. */
int64_t		 kx_sum_day_start(int32_t day);
/* "YYYY-MM-DD" (exactly 10 bytes, a real date, years 1900..9999): 0, -1. */
int		 kx_sum_day_parse(const char *s, size_t len, int32_t *day);
/* Writes "YYYY-MM-DD" and a NUL (11 bytes). */
void		 kx_sum_day_format(char out[11], int32_t day);

/* ---- building -------------------------------------------------------- */

/*
 * Builds the cells of every day in `in` (n records, any order) under p.
 * Records whose values are all 0 are ignored. On KX_SUM_OK *out is a new
 * summary (kx_summary_free); otherwise *out is NULL and, when err is not
 * NULL, err says which record and field. Errors: KX_SUM_EINVAL (a value
 * over KX_SUM_VALUE_MAX, an area over 32 bytes or not UTF-8, bad params),
 * KX_SUM_EDUP, KX_SUM_ERANGE, KX_SUM_ENOMEM.
 */
int	kx_summary_build(kx_summary_t **out, const kx_sum_input_t *in,
	    size_t n, const kx_sum_params_t *p, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/* An empty summary, to be filled by kx_summary_add_body; NULL on ENOMEM. */
kx_summary_t	*kx_summary_new(void);
void		 kx_summary_free(kx_summary_t **);

/*
 * One sample of the discrete Laplace distribution (two-sided geometric,
 * P(x) proportional to exp(-|x| den / num)), scale num/den, both >= 1
 * and num <= 10^18: exact integer arithmetic on randombytes (Canonne,
 * Kamath and Steinke 2020, algorithm 2). Not reproducible.
 */
int64_t	kx_sum_dlaplace(uint64_t num, uint64_t den);

/* ---- exports (community/summary_out.c) -------------------------------- */

/*
 * The JSON body of a `summary` message for one day: the cells whose
 * index is in [from, to), stamped part/parts (docs/aggregates.md).
 * kx_summary_json_day puts the whole day in one part. Append to out;
 * 0 or -1 (out of memory).
 */
int	kx_summary_json(kx_buf_t *out, const kx_summary_t *s, int32_t day,
	    size_t from, size_t to, unsigned part, unsigned parts);
int	kx_summary_json_day(kx_buf_t *out, const kx_summary_t *s, int32_t day);
/*
 * The `summary` bodies (msgpack) of one day, each part's JSON at most
 * max_json bytes (0: KX_SUM_BODY_MAX): cb gets each with its number;
 * a nonzero return from cb stops. Returns the number of parts (0 when
 * the day has no cell), or -1 (out of memory, a cell alone too large,
 * or cb's stop).
 */
typedef int	kx_sum_body_cb(void *arg, const uint8_t *mp, size_t len,
		    unsigned part, unsigned parts);
int	kx_summary_bodies(const kx_summary_t *s, int32_t day, size_t max_json,
	    kx_sum_body_cb *cb, void *arg);
/*
 * Appends the cells of one summary body (msgpack, as published) to s.
 * Returns KX_SUM_OK, KX_SUM_EPARSE with the first problem in err, or
 * KX_SUM_ENOMEM.
 */
int	kx_summary_add_body(kx_summary_t *s, const uint8_t *mp, size_t len,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
/* CSV with a header line (docs/aggregates.md); 0 or -1. */
int	kx_summary_csv(kx_buf_t *out, const kx_summary_t *s);
/* NGSI-LD entities, a JSON array, one entity per line; 0 or -1. */
int	kx_summary_ngsi(kx_buf_t *out, const kx_summary_t *s);

/*
 * Per-member records from JSON text (the `kaga-ctl aggregate` input): an
 * array of objects {member, area, day, import_wh, export_wh,
 * bought_local_wh, sold_local_wh, money_local_msen, money_grid_msen,
 * points_issued, points_redeemed, volunteer_minutes}; member and day
 * required, the rest 0 (area: unassigned) when absent, unknown keys an
 * error. On KX_SUM_OK *in is malloc'd (caller frees) with *n records;
 * else KX_SUM_EINVAL with a message naming the record and field in err,
 * or KX_SUM_ENOMEM.
 */
int	kx_sum_inputs_parse(kx_sum_input_t **in, size_t *n, const char *json,
	    size_t len, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

#endif
