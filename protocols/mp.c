/*
 * mp.c - strict MessagePack reader, see mp.h.
 */
#include <stdlib.h>
#include <string.h>

#include "mp.h"

const char *
kx_mp_strerror(int e)
{
	switch (e) {
	case KX_MP_OK:		return "ok";
	case KX_MP_ETRUNC:	return "truncated";
	case KX_MP_EFORMAT:	return "invalid format byte 0xc1";
	case KX_MP_EUTF8:	return "string is not UTF-8";
	case KX_MP_EDUPKEY:	return "duplicate map key";
	case KX_MP_EDEPTH:	return "nested too deep";
	case KX_MP_ENOMEM:	return "out of memory";
	case KX_MP_EKEYTYPE:	return "map key is not a string";
	}
	return "unknown error";
}

void
kx_mp_cur_init(kx_mp_cur_t *c, const uint8_t *p, size_t n)
{
	c->p = p;
	c->end = p + n;
}

size_t
kx_mp_left(const kx_mp_cur_t *c)
{
	return (size_t)(c->end - c->p);
}

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Takes n bytes from the cursor, or returns NULL when fewer are left. */
static const uint8_t *
take(kx_mp_cur_t *c, size_t n)
{
	const uint8_t	*p = c->p;

	if (kx_mp_left(c) < n)
		return NULL;
	c->p += n;
	return p;
}

static int
read_uint(kx_mp_cur_t *c, int n, uint64_t *out)
{
	const uint8_t	*p;

	if ((p = take(c, (size_t)n)) == NULL)
		return KX_MP_ETRUNC;
	*out = be(p, n);
	return KX_MP_OK;
}

static void
set_signed(kx_mp_val_t *v, int64_t x)
{
	if (x >= 0) {
		v->kind = KX_MP_UINT;
		v->u = (uint64_t)x;
	} else {
		v->kind = KX_MP_NINT;
		v->i = x;
	}
}

static int
read_data(kx_mp_cur_t *c, kx_mp_val_t *v, kx_mp_kind_t kind, int lenbytes)
{
	uint64_t	 n;

	if (read_uint(c, lenbytes, &n) != KX_MP_OK)
		return KX_MP_ETRUNC;
	v->kind = kind;
	v->len = (uint32_t)n;
	if ((v->ptr = take(c, (size_t)n)) == NULL)
		return KX_MP_ETRUNC;
	return KX_MP_OK;
}

static int
read_ext(kx_mp_cur_t *c, kx_mp_val_t *v, int fixlen, int lenbytes)
{
	const uint8_t	*t;
	uint64_t	 n;

	if (fixlen > 0)
		n = (uint64_t)fixlen;
	else if (read_uint(c, lenbytes, &n) != KX_MP_OK)
		return KX_MP_ETRUNC;
	if ((t = take(c, 1)) == NULL)
		return KX_MP_ETRUNC;
	v->kind = KX_MP_EXT;
	v->ext = (int8_t)*t;
	v->len = (uint32_t)n;
	if ((v->ptr = take(c, (size_t)n)) == NULL)
		return KX_MP_ETRUNC;
	return KX_MP_OK;
}

int
kx_mp_read(kx_mp_cur_t *c, kx_mp_val_t *v)
{
	const uint8_t	*p;
	uint64_t	 x;
	uint8_t		 b;
	int		 r;

	memset(v, 0, sizeof(*v));
	v->start = c->p;
	if ((p = take(c, 1)) == NULL)
		return KX_MP_ETRUNC;
	b = *p;
	if (b <= 0x7f) {
		v->kind = KX_MP_UINT;
		v->u = b;
		return KX_MP_OK;
	}
	if (b >= 0xe0) {
		v->kind = KX_MP_NINT;
		v->i = (int8_t)b;
		return KX_MP_OK;
	}
	if ((b & 0xf0) == 0x80) {
		v->kind = KX_MP_MAP;
		v->len = b & 0x0f;
		return KX_MP_OK;
	}
	if ((b & 0xf0) == 0x90) {
		v->kind = KX_MP_ARRAY;
		v->len = b & 0x0f;
		return KX_MP_OK;
	}
	if ((b & 0xe0) == 0xa0) {
		v->kind = KX_MP_STR;
		v->len = b & 0x1f;
		if ((v->ptr = take(c, v->len)) == NULL)
			return KX_MP_ETRUNC;
		return KX_MP_OK;
	}
	switch (b) {
	case 0xc0:
		v->kind = KX_MP_NIL;
		return KX_MP_OK;
	case 0xc2:
	case 0xc3:
		v->kind = KX_MP_BOOL;
		v->u = b == 0xc3;
		return KX_MP_OK;
	case 0xc4: return read_data(c, v, KX_MP_BIN, 1);
	case 0xc5: return read_data(c, v, KX_MP_BIN, 2);
	case 0xc6: return read_data(c, v, KX_MP_BIN, 4);
	case 0xc7: return read_ext(c, v, 0, 1);
	case 0xc8: return read_ext(c, v, 0, 2);
	case 0xc9: return read_ext(c, v, 0, 4);
	case 0xca:
	case 0xcb:
		v->kind = KX_MP_FLOAT;
		if (take(c, b == 0xca ? 4 : 8) == NULL)
			return KX_MP_ETRUNC;
		return KX_MP_OK;
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		if ((r = read_uint(c, 1 << (b - 0xcc), &x)) != KX_MP_OK)
			return r;
		v->kind = KX_MP_UINT;
		v->u = x;
		return KX_MP_OK;
	case 0xd0:
		if ((r = read_uint(c, 1, &x)) != KX_MP_OK)
			return r;
		set_signed(v, (int8_t)x);
		return KX_MP_OK;
	case 0xd1:
		if ((r = read_uint(c, 2, &x)) != KX_MP_OK)
			return r;
		set_signed(v, (int16_t)x);
		return KX_MP_OK;
	case 0xd2:
		if ((r = read_uint(c, 4, &x)) != KX_MP_OK)
			return r;
		set_signed(v, (int32_t)x);
		return KX_MP_OK;
	case 0xd3:
		if ((r = read_uint(c, 8, &x)) != KX_MP_OK)
			return r;
		set_signed(v, (int64_t)x);
		return KX_MP_OK;
	case 0xd4: return read_ext(c, v, 1, 0);
	case 0xd5: return read_ext(c, v, 2, 0);
	case 0xd6: return read_ext(c, v, 4, 0);
	case 0xd7: return read_ext(c, v, 8, 0);
	case 0xd8: return read_ext(c, v, 16, 0);
	case 0xd9: return read_data(c, v, KX_MP_STR, 1);
	case 0xda: return read_data(c, v, KX_MP_STR, 2);
	case 0xdb: return read_data(c, v, KX_MP_STR, 4);
	case 0xdc:
	case 0xdd:
		if ((r = read_uint(c, b == 0xdc ? 2 : 4, &x)) != KX_MP_OK)
			return r;
		v->kind = KX_MP_ARRAY;
		v->len = (uint32_t)x;
		return KX_MP_OK;
	case 0xde:
	case 0xdf:
		if ((r = read_uint(c, b == 0xde ? 2 : 4, &x)) != KX_MP_OK)
			return r;
		v->kind = KX_MP_MAP;
		v->len = (uint32_t)x;
		return KX_MP_OK;
	}
	return KX_MP_EFORMAT;	/* 0xc1 */
}

int
kx_mp_skip(kx_mp_cur_t *c, int max_depth)
{
	kx_mp_val_t	 v;
	uint64_t	 i, n;
	int		 r;

	if ((r = kx_mp_read(c, &v)) != KX_MP_OK)
		return r;
	if (v.kind != KX_MP_ARRAY && v.kind != KX_MP_MAP)
		return KX_MP_OK;
	if (max_depth <= 0)
		return KX_MP_EDEPTH;
	n = v.kind == KX_MP_MAP ? 2 * (uint64_t)v.len : v.len;
	if (n > kx_mp_left(c))	/* every element takes at least one byte */
		return KX_MP_ETRUNC;
	for (i = 0; i < n; i++)
		if ((r = kx_mp_skip(c, max_depth - 1)) != KX_MP_OK)
			return r;
	return KX_MP_OK;
}

bool
kx_utf8_valid(const uint8_t *p, size_t n)
{
	size_t		 i = 0, k, need;
	uint32_t	 cp, min;

	while (i < n) {
		uint8_t b = p[i];

		if (b < 0x80) {
			i++;
			continue;
		}
		if ((b & 0xe0) == 0xc0) {
			need = 1; cp = b & 0x1f; min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			need = 2; cp = b & 0x0f; min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			need = 3; cp = b & 0x07; min = 0x10000;
		} else
			return false;
		if (n - i - 1 < need)
			return false;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/* A map key reduced to what makes two keys equal. */
struct key {
	kx_mp_kind_t	 kind;
	uint64_t	 num;	/* UINT, NINT (as bits), BOOL, EXT type */
	const uint8_t	*p;	/* STR/BIN/EXT data; whole encoding otherwise */
	size_t		 len;
};

static int
key_cmp(const void *a, const void *b)
{
	const struct key	*x = a, *y = b;
	int			 r;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->len == 0)
		return 0;
	r = memcmp(x->p, y->p, x->len);
	return r;
}

static int	check_value(kx_mp_cur_t *, int, bool);

static int
check_map(kx_mp_cur_t *c, uint32_t n, int depth, bool str_keys)
{
	struct key	 small[16], *keys = small;
	kx_mp_val_t	 k;
	kx_mp_cur_t	 kc;
	uint32_t	 i, j;
	int		 r = KX_MP_OK;

	if (2 * (uint64_t)n > kx_mp_left(c))
		return KX_MP_ETRUNC;
	if (n > 16 && (keys = calloc(n, sizeof(*keys))) == NULL)
		return KX_MP_ENOMEM;
	for (i = 0; i < n; i++) {
		kc = *c;
		if ((r = check_value(c, depth, false)) != KX_MP_OK)
			goto done;
		if ((r = kx_mp_read(&kc, &k)) != KX_MP_OK)
			goto done;
		if (str_keys && k.kind != KX_MP_STR) {
			r = KX_MP_EKEYTYPE;
			goto done;
		}
		memset(&keys[i], 0, sizeof(keys[i]));
		keys[i].kind = k.kind;
		switch (k.kind) {
		case KX_MP_STR:
		case KX_MP_BIN:
			keys[i].p = k.ptr;
			keys[i].len = k.len;
			break;
		case KX_MP_EXT:
			keys[i].num = (uint8_t)k.ext;
			keys[i].p = k.ptr;
			keys[i].len = k.len;
			break;
		case KX_MP_UINT:
		case KX_MP_BOOL:
			keys[i].num = k.u;
			break;
		case KX_MP_NINT:
			keys[i].num = (uint64_t)k.i;
			break;
		default:	/* nil, float, containers: by their encoding */
			keys[i].p = k.start;
			keys[i].len = (size_t)(c->p - k.start);
			break;
		}
		if ((r = check_value(c, depth, false)) != KX_MP_OK)
			goto done;
	}
	if (n <= 16) {
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
				if (key_cmp(&keys[i], &keys[j]) == 0) {
					r = KX_MP_EDUPKEY;
					goto done;
				}
	} else {
		qsort(keys, n, sizeof(*keys), key_cmp);
		for (i = 1; i < n; i++)
			if (key_cmp(&keys[i - 1], &keys[i]) == 0) {
				r = KX_MP_EDUPKEY;
				goto done;
			}
	}
done:
	if (keys != small)
		free(keys);
	return r;
}

/* depth: how many more container levels may be opened. */
static int
check_value(kx_mp_cur_t *c, int depth, bool str_keys)
{
	kx_mp_val_t	 v;
	uint32_t	 i;
	int		 r;

	if ((r = kx_mp_read(c, &v)) != KX_MP_OK)
		return r;
	switch (v.kind) {
	case KX_MP_STR:
		return kx_utf8_valid(v.ptr, v.len) ? KX_MP_OK : KX_MP_EUTF8;
	case KX_MP_ARRAY:
		if (depth <= 0)
			return KX_MP_EDEPTH;
		if (v.len > kx_mp_left(c))
			return KX_MP_ETRUNC;
		for (i = 0; i < v.len; i++)
			if ((r = check_value(c, depth - 1, false)) != KX_MP_OK)
				return r;
		return KX_MP_OK;
	case KX_MP_MAP:
		if (depth <= 0)
			return KX_MP_EDEPTH;
		return check_map(c, v.len, depth - 1, str_keys);
	default:
		return KX_MP_OK;
	}
}

int
kx_mp_check(kx_mp_cur_t *c, int max_depth, bool str_keys)
{
	return check_value(c, max_depth, str_keys);
}

int
kx_mp_map_get(const kx_mp_val_t *map, kx_mp_cur_t elems, const char *key,
    kx_mp_val_t *val, kx_mp_cur_t *after)
{
	kx_mp_val_t	 k;
	kx_mp_cur_t	 kc;
	size_t		 klen = strlen(key);
	uint32_t	 i;
	int		 r;

	if (map->kind != KX_MP_MAP)
		return KX_MP_EFORMAT;
	for (i = 0; i < map->len; i++) {
		kc = elems;
		if ((r = kx_mp_read(&elems, &k)) != KX_MP_OK)
			return r;
		if (k.kind == KX_MP_STR && k.len == klen &&
		    memcmp(k.ptr, key, klen) == 0) {
			*after = elems;
			if ((r = kx_mp_read(after, val)) != KX_MP_OK)
				return r;
			return 1;
		}
		/* skip the whole key (it may be a container), then its value */
		elems = kc;
		if ((r = kx_mp_skip(&elems, 64)) != KX_MP_OK ||
		    (r = kx_mp_skip(&elems, 64)) != KX_MP_OK)
			return r;
	}
	return 0;
}
