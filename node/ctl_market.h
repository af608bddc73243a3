/*
 * ctl_market.h - the `kaga-ctl clear` and `kaga-ctl settle` commands and
 * their parsers of JSON books and readings (see docs/market.md).
 */
#ifndef KX_CTL_MARKET_H
#define KX_CTL_MARKET_H

#include <stddef.h>
#include <stdint.h>

#include "market.h"

/* A book file: the parameters and the orders, as read. */
typedef struct {
	kx_params_t	 params;	/* floor, ceiling, fee, pt_value */
	uint8_t		 op[KX_MKT_ID_LEN];	/* operator (default zeros) */
	kx_order_t	*orders;	/* owned */
	size_t		 n;
} kx_book_t;

/* A readings file: metered totals and points paid to the operator. */
typedef struct {
	kx_mkt_reading_t *r;		/* owned */
	size_t		 nr;
	kx_mkt_points_t	*pts;		/* owned */
	size_t		 npts;
} kx_readings_t;

/*
 * Parses a JSON book (outside bytes). need_member: every order must carry
 * "member". Returns KX_MKT_OK, KX_MKT_EINVAL with a one-line reason in
 * err naming the order (index and id) and the field, or KX_MKT_ENOMEM.
 * On success the caller kx_book_free's b; on error b holds nothing.
 */
int	kx_book_parse(kx_book_t *b, const char *json, size_t len,
	    int need_member, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
void	kx_book_free(kx_book_t *b);

/* Parses a JSON readings file; returns and owns as kx_book_parse. */
int	kx_readings_parse(kx_readings_t *rd, const char *json, size_t len,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
void	kx_readings_free(kx_readings_t *rd);

/*
 * argv[0] is "clear" (resp. "settle"). Print JSON to stdout, errors to
 * stderr. Return the exit status: 0 success, 1 a failure (out of memory,
 * a file that cannot be read), 2 a usage error or a bad book/readings.
 */
int	kx_ctl_cmd_clear(int argc, char **argv);
int	kx_ctl_cmd_settle(int argc, char **argv);

#endif
