/*
 * fiscal.h - the Japanese fiscal year (April to March) of a time stamp,
 * in JST (UTC+9, no DST), integers only. Header-only: the store judges an
 * `issue`'s `fy` with it (docs/protocol-notes.md, "Community") and the
 * tools fill `fy` from it.
 */
#ifndef KX_FISCAL_H
#define KX_FISCAL_H

#include <stdint.h>

#define KX_JST_OFFSET_S	(9 * 3600)

/* Floor division for a positive divisor. */
static inline int64_t
kx_floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && a < 0);
}

/*
 * The fiscal year of ts (ms since the epoch, UTC): the calendar year in
 * JST of its April, so 2027-03-31 23:59:59 JST is fiscal 2026 and
 * 2027-04-01 00:00 JST fiscal 2027. Defined for every int64 ts.
 */
static inline int64_t
kx_fiscal_year(int64_t ts_ms)
{
	int64_t		 s = kx_floor_div(ts_ms, 1000) + KX_JST_OFFSET_S;
	int64_t		 z = kx_floor_div(s, 86400) + 719468;	/* 0000-03-01 */
	int64_t		 era = kx_floor_div(z, 146097), y;
	int64_t		 doe = z - era * 146097;		/* [0, 146096] */
	int64_t		 yoe = (doe - doe / 1460 + doe / 36524 -
			    doe / 146096) / 365;		/* [0, 399] */
	int64_t		 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		 mp = (5 * doy + 2) / 153;		/* March = 0 */

	/*
	 * Hinnant's civil_from_days counts years from March 1: mp 0 is March
	 * of calendar year y, 1-9 April to December of y, 10-11 January and
	 * February of y + 1. April to December and the next January and
	 * February are fiscal y; March is the end of fiscal y - 1.
	 */
	y = yoe + era * 400;
	return mp == 0 ? y - 1 : y;
}

#endif
