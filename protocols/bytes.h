/*
 * bytes.h - fixed-width integers to and from bytes: big-endian (keys that
 * sort like the numbers) and little-endian (records). Header-only.
 */
#ifndef KX_BYTES_H
#define KX_BYTES_H

#include <stdint.h>

static inline void
kx_be64_put(uint8_t *p, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t
kx_be64_get(const uint8_t *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void
kx_le64_put(uint8_t *p, int64_t v)
{
	uint64_t	 u = (uint64_t)v;
	int		 i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(u >> (8 * i));
}

static inline int64_t
kx_le64_get(const uint8_t *p)
{
	uint64_t	 u = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		u |= (uint64_t)p[i] << (8 * i);
	return (int64_t)u;
}

#endif
