/*
 * parsenum.h - the strict decimal reader shared by kaga-sim's two file
 * parsers (scenario.c, netscript.c): digits only, no sign, no spaces,
 * overflow refused. Header-only, so that the fuzz targets, which include
 * one parser's .c, still build from a single file.
 */
#ifndef KX_PARSENUM_H
#define KX_PARSENUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* s[0..n) as a uint64_t into *out: true, or false with *out untouched. */
static inline bool
kx_sim_parse_u64(uint64_t *out, const char *s, size_t n)
{
	uint64_t	 v = 0;
	size_t		 i;

	if (n == 0 || n > 20)
		return false;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

#endif
