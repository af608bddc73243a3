/*
 * ctlutil.h - what every kaga-ctl command file shares: the error line
 * "kaga-ctl CMD: ...", the default node folder ($KAGA_NODE, else
 * /var/lib/kaga), a request to a running node with its failure told on
 * stderr, and reading a whole file with a size limit.
 */
#ifndef KX_CTLUTIL_H
#define KX_CTLUTIL_H

#include <stddef.h>

#include "buf.h"

#define KX_CTL_CALL_MS	30000

/* Prints "kaga-ctl CMD: message\n" to stderr. */
void		 kx_ctl_err(const char *cmd, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* dir when not NULL, else $KAGA_NODE when set and not empty, else
 * /var/lib/kaga. */
const char	*kx_ctl_node(const char *dir);

/*
 * Sends the request to the node at dir; 0 with the reply (NUL-terminated
 * when it fits), or -1 after printing why ("kaga-ctl CMD: ... (is
 * kaga-node running?)" or "kaga-ctl CMD: the node refused: REASON").
 */
int		 kx_ctl_request(const char *cmd, const char *dir,
		    const void *const *args, const size_t *lens, size_t n,
		    kx_buf_t *reply) __attribute__((warn_unused_result));

/*
 * Strict decimal (strtol: optional sign, digits, nothing after) within
 * [lo, hi]: 0 with *out, or -1. For command-line arguments.
 */
int		 kx_parse_long(const char *s, long lo, long hi, long *out)
		    __attribute__((warn_unused_result));

/*
 * Reads the whole file at path into b (reset first), at most max bytes:
 * 0, or -1 with errno (EFBIG for a larger file, ENOMEM, EIO, or
 * fopen's).
 */
int		 kx_ctl_slurp(const char *path, size_t max, kx_buf_t *b)
		    __attribute__((warn_unused_result));

#endif
