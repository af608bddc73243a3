/*
 * mp.h - a strict, allocation-free MessagePack reader.
 *
 * Reads untrusted bytes: every length is checked against the end of the
 * input before use. kx_mp_read() decodes one value's header (containers
 * report their element count; their elements follow in the stream);
 * kx_mp_check() walks a whole value and enforces PROTOCOL.md section 3:
 * valid formats, UTF-8 strings, no duplicate map keys, bounded nesting.
 * Tuned for messages of at most 16 KiB read once on the admission path.
 */
#ifndef KX_MP_H
#define KX_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	KX_MP_NIL = 1,
	KX_MP_BOOL,
	KX_MP_UINT,	/* an integer >= 0, whatever its encoding */
	KX_MP_NINT,	/* an integer < 0 */
	KX_MP_FLOAT,	/* float32 or float64; never interpreted */
	KX_MP_STR,
	KX_MP_BIN,
	KX_MP_ARRAY,
	KX_MP_MAP,
	KX_MP_EXT
} kx_mp_kind_t;

typedef struct {
	kx_mp_kind_t	 kind;
	uint64_t	 u;	/* UINT value; BOOL 0/1 */
	int64_t		 i;	/* NINT value */
	const uint8_t	*ptr;	/* STR, BIN, EXT data */
	uint32_t	 len;	/* STR/BIN/EXT byte length; ARRAY/MAP count */
	int8_t		 ext;	/* EXT type */
	const uint8_t	*start;	/* first byte of the encoding */
} kx_mp_val_t;

typedef struct {
	const uint8_t	*p;	/* next byte to read */
	const uint8_t	*end;	/* one past the last readable byte */
} kx_mp_cur_t;

/* Reader status codes (negative) */
#define KX_MP_OK	  0
#define KX_MP_ETRUNC	 -1	/* input ends inside a value */
#define KX_MP_EFORMAT	 -2	/* 0xc1, the never-used format byte */
#define KX_MP_EUTF8	 -3	/* a string that is not UTF-8 */
#define KX_MP_EDUPKEY	 -4	/* a map with two equal keys */
#define KX_MP_EDEPTH	 -5	/* containers nested too deep */
#define KX_MP_ENOMEM	 -6
#define KX_MP_EKEYTYPE	 -7	/* a map key that is not a string */

const char	*kx_mp_strerror(int);

void	kx_mp_cur_init(kx_mp_cur_t *c, const uint8_t *p, size_t n);
/* Bytes left to read. */
size_t	kx_mp_left(const kx_mp_cur_t *c);
/* Reads one value's header into v and advances past it (for STR/BIN/EXT
 * past the data too). Returns KX_MP_OK, KX_MP_ETRUNC or KX_MP_EFORMAT. */
int	kx_mp_read(kx_mp_cur_t *c, kx_mp_val_t *v)
	    __attribute__((warn_unused_result));
/* Skips one whole value, at most max_depth containers deep. Does not
 * check strings or keys (use kx_mp_check for untrusted input). */
int	kx_mp_skip(kx_mp_cur_t *c, int max_depth)
	    __attribute__((warn_unused_result));
/*
 * Checks one whole value and advances past it: formats, UTF-8 of every
 * string (keys too), no duplicate keys in any map, and containers nested
 * at most max_depth levels (the value itself, if a container, is level 1).
 * With str_keys, every key of the value's own map (not of maps nested
 * in it) must be a string.
 */
int	kx_mp_check(kx_mp_cur_t *c, int max_depth, bool str_keys)
	    __attribute__((warn_unused_result));
/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
bool	kx_utf8_valid(const uint8_t *p, size_t n);
/*
 * Looks a string key up in the map whose header is `map` (read from a
 * cursor positioned just after that header, passed as `elems`).
 * On success *val holds the value's header and *after a cursor positioned
 * after that header (to read a container's elements). Returns 1 if found,
 * 0 if not, or a negative KX_MP_ code. The map must have passed
 * kx_mp_check.
 */
int	kx_mp_map_get(const kx_mp_val_t *map, kx_mp_cur_t elems,
	    const char *key, kx_mp_val_t *val, kx_mp_cur_t *after);

#endif
