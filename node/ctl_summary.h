/*
 * ctl_summary.h - `kaga-ctl summary` (the newest `summary` in a running
 * node's store) and `kaga-ctl aggregate` (the same cells computed offline
 * from a JSON file of per-member records); docs/aggregates.md.
 */
#ifndef KX_CTL_SUMMARY_H
#define KX_CTL_SUMMARY_H

/*
 * argv[0] is the command name. Print to stdout (JSON by default, --csv
 * or --ngsi), errors to stderr. Return the exit status: 0 success, 1 a
 * failure (no node, no summary, a file that cannot be read, out of
 * memory), 2 a usage error or bad input (the message names the field).
 */
int	kx_ctl_cmd_summary(int argc, char **argv);
int	kx_ctl_cmd_aggregate(int argc, char **argv);

#endif
