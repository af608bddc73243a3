/*
 * ctl_community.h - the community commands of kaga-ctl against a running
 * node (docs/kaga-ctl.md, "Community"): balance, pay, history, listings
 * and list.
 */
#ifndef KX_CTL_COMMUNITY_H
#define KX_CTL_COMMUNITY_H

/*
 * argv[0] is the command's name. Print to stdout (text, or JSON with
 * --json), errors to stderr. Return the exit status: 0 success, 1 a
 * failure (no node, the node refused, e.g. a pay that would break the
 * limit), 2 a usage error.
 */
int	kx_ctl_cmd_balance(int argc, char **argv);
int	kx_ctl_cmd_pay(int argc, char **argv);
int	kx_ctl_cmd_history(int argc, char **argv);
int	kx_ctl_cmd_listings(int argc, char **argv);
int	kx_ctl_cmd_list(int argc, char **argv);

#endif
