/*
 * ctl_privacy.h - the privacy commands of kaga-ctl (docs/privacy.md):
 *
 *   consent list|export|grant|revoke   the consent register of a node
 *   disclosures [--verify] [--json]    its disclosure chain
 *   disclose                           record a disclosure the owner makes
 *   rekey --data-dir DIR               rotate the data key (node stopped)
 *
 * Each takes argv[0] as its own name, prints to stdout and errors to
 * stderr, and returns the exit status: 0 success, 1 a failure (the node
 * cannot be asked, refused, or verify flagged a problem), 2 a usage error.
 */
#ifndef KX_CTL_PRIVACY_H
#define KX_CTL_PRIVACY_H

int	kx_ctl_cmd_consent(int argc, char **argv);
int	kx_ctl_cmd_disclosures(int argc, char **argv);
int	kx_ctl_cmd_disclose(int argc, char **argv);
int	kx_ctl_cmd_rekey(int argc, char **argv);

#endif
