/*
 * report.h - what kaga-sim makes of a run's results: the named metrics
 * (one list for the summary, results.txt, the HTML report and
 * `kaga-sim compare`), the per-slot CSV and a self-contained HTML report
 * with inline SVG charts. Integer arithmetic only: ratios in hundredths
 * of a percent, money in whole JPY (milli-sen / 100,000, rounded half
 * away from zero), energy in tenths of a MWh.
 */
#ifndef KX_SIM_REPORT_H
#define KX_SIM_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

#define KX_METRICS_MAX	64

/* One result, a fixed-point number: value / 10^dec in unit. */
typedef struct {
	char		 name[40];	/* e.g. "self_sufficiency_pct" */
	const char	*unit;		/* e.g. "%", "JPY/yr", "MWh/yr" */
	int64_t		 value;
	int		 dec;		/* decimals */
	const char	*what;		/* one line for the report */
} kx_metric_t;

/* Fills out[0..KX_METRICS_MAX) with r's metrics; returns how many.
 * Yearly figures are the run's totals scaled by 365 / days. */
size_t	kx_sim_metrics(kx_metric_t *out, const kx_sim_res_t *r);

/* "1,234.5": value / 10^dec with thousands separators, into buf. */
const char *kx_sim_fmt(char *buf, size_t size, int64_t value, int dec);

/* The short summary of a run (stdout). */
void	kx_sim_summary(FILE *f, const kx_sim_res_t *r);

/* `name = value` lines, one per metric (results.txt). */
void	kx_sim_write_results(FILE *f, const kx_sim_res_t *r);

/* One row per market slot, with a header line (slots.csv). */
void	kx_sim_write_csv(FILE *f, const kx_sim_res_t *r);

/* The HTML report: tables and four SVG charts, no external resources. */
void	kx_sim_write_html(FILE *f, const kx_sim_res_t *r);

/* Every metric of a and b side by side with their difference. */
void	kx_sim_compare(FILE *f, const kx_sim_res_t *a, const kx_sim_res_t *b);

#endif
