/*
 * ctl_admin.h - kaga-ctl admit, revoke and members: the operator's
 * admission of members against a running node (node/ctl_admin.c).
 * Each takes argv[0] = the command name and returns the exit status:
 * 0 done, 1 a failure (no node, the node refused), 2 a usage error or a
 * bad roster (the message names FILE:LINE).
 */
#ifndef KX_CTL_ADMIN_H
#define KX_CTL_ADMIN_H

#include <stddef.h>

#include "envelope.h"

#define KX_ROSTER_FILE_MAX	(16 * 1024 * 1024)

/* One roster line. */
typedef struct {
	char		 key[2 * KX_PK_LEN + 1];
	char		 role[16];
	char		 name[65];
	char		 area[33];
	char		 endpoint[129];
	long long	 until;		/* ms, 0 = no end */
	long long	 cap;		/* issuers; -1 when not given */
	size_t		 line;
} kx_roster_entry_t;

typedef struct {
	kx_roster_entry_t *v;		/* owned */
	size_t		 n;
} kx_roster_t;

/*
 * Parses a roster (outside bytes: any content, never a crash): one member
 * a line, KEY ROLE NAME AREA [ENDPOINT] [until=MS] [cap=N]. Returns 0, or
 * -1 with "NAME:LINE: what" in err and nothing in out.
 */
int	kx_roster_parse(const char *name, const char *text, size_t len,
	    kx_roster_t *out, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
void	kx_roster_free(kx_roster_t *r);

int	kx_ctl_cmd_admit(int argc, char **argv);
int	kx_ctl_cmd_revoke(int argc, char **argv);
int	kx_ctl_cmd_members(int argc, char **argv);
/* kaga-ctl bill --from S --to S: the member's bill (node/bill.h). */
int	kx_ctl_cmd_bill(int argc, char **argv);

#endif
