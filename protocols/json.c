/*
 * json.c - JSON text <-> MessagePack, see json.h.
 *
 * JSON -> msgpack is a recursive-descent parser bounded by
 * KX_JSON_MAX_DEPTH.  It packs straight into the output buffer: a container
 * gets a 5-byte placeholder header which is shrunk to the smallest msgpack
 * header (memmove of its body) once the element count is known, so the work
 * is linear in the input times the depth.  Strings are decoded into one
 * scratch buffer and then packed.  Object keys are checked for duplicates
 * with a small open-addressing hash set per object whose entries point at
 * the key bytes already packed in the output (no copies); the first 8 keys
 * use a table on the stack.
 *
 * msgpack -> JSON is a bounds-checked reader that needs no allocation of
 * its own (only the output grows).  Non-string map keys are printed through
 * extra layers of string escaping (struct mpr's `esc`) instead of being
 * rendered into temporary buffers.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "json.h"

/*
 * UTF-8
 */

/*
 * Length of the well-formed UTF-8 sequence at s (1 to 4), or 0 when the
 * bytes there are not one (stray continuation byte, overlong form, UTF-16
 * surrogate, above U+10FFFF, or truncated by n).  Precondition: n > 0.
 */
static size_t
utf8_seq(const uint8_t *s, size_t n)
{
	uint8_t	 c = s[0], lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return (n >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c < 0xf0) {
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (n < 4 || s[1] < lo || s[1] > hi ||
		    (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/* Encodes code point cp (not a surrogate, <= U+10FFFF) into u; returns n. */
static size_t
utf8_put(uint8_t u[4], uint32_t cp)
{
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | (cp >> 6));
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | (cp >> 12));
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (uint8_t)(0xf0 | (cp >> 18));
	u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	u[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * JSON -> msgpack
 */

/* One step of the path from the top-level value to the current value. */
struct jseg {
	int	 is_index;	/* 1: array element, 0: object member */
	size_t	 index;		/* array index */
	size_t	 key_off;	/* object key: its bytes in out->data */
	size_t	 key_len;
};

struct jparser {
	const uint8_t		*s;		/* the JSON text */
	size_t			 len;
	size_t			 pos;		/* next byte to read */
	kx_buf_t		*out;
	msgpack_packer		 pk;		/* writes to out */
	const char *const	*bin_paths;	/* may be NULL */
	kx_buf_t		 tmp;		/* decoded string scratch */
	struct jseg		 path[KX_JSON_MAX_DEPTH];
	size_t			 depth;		/* containers open = path steps */
	char			*err;		/* may be NULL */
	size_t			 errlen;
	int			 failed;	/* an error was reported */
};

/* Key set of one object: the keys' bytes stay in out->data. */
struct jkey {
	size_t		 off;	/* key bytes in out->data */
	size_t		 len;
	uint32_t	 hash;	/* key_hash() of them */
	int		 used;	/* slot taken */
};

#define KEYSET_INLINE	16	/* on-stack slots: 8 keys at load <= 1/2 */

struct keyset {
	struct jkey	 inl[KEYSET_INLINE];
	struct jkey	*tab;		/* inl, or heap once grown */
	size_t		 cap;		/* slots, a power of two */
	size_t		 n;		/* keys */
};

static void	jerr(struct jparser *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	j_value(struct jparser *);

/* Writes "json: at byte POS: MSG" once; later errors keep the first. */
static void
jerr(struct jparser *p, size_t pos, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (p->failed)
		return;
	p->failed = 1;
	if (p->err == NULL || p->errlen == 0)
		return;
	n = snprintf(p->err, p->errlen, "json: at byte %zu: ", pos);
	if (n < 0 || (size_t)n >= p->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static void
jerr_oom(struct jparser *p)
{
	if (p->failed)
		return;
	p->failed = 1;
	if (p->err != NULL && p->errlen > 0)
		snprintf(p->err, p->errlen, "json: out of memory");
}

/*
 * Appends bytes b[0..n) to the C string dst (of size dsz, already holding
 * *dl bytes) for an error message: printable ASCII and valid UTF-8 as they
 * are, other bytes and '"' '\\' as \xNN; stops with "..." when full.
 */
static void
show_bytes(char *dst, size_t dsz, size_t *dl, const uint8_t *b, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i = 0, k, need;
	uint8_t			 c;

	while (i < n) {
		c = b[i];
		k = 1;
		if (c >= 0x80)
			k = utf8_seq(b + i, n - i);
		if (k == 0 || c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			need = 4;
		else
			need = k;
		if (*dl + need + 4 > dsz) {	/* keep room for "...\0" */
			if (*dl + 4 <= dsz) {
				memcpy(dst + *dl, "...", 4);
				*dl += 3;
			}
			return;
		}
		if (need == 4) {
			dst[(*dl)++] = '\\';
			dst[(*dl)++] = 'x';
			dst[(*dl)++] = hex[c >> 4];
			dst[(*dl)++] = hex[c & 0xf];
			i++;
		} else {
			memcpy(dst + *dl, b + i, k);
			*dl += k;
			i += k;
		}
		dst[*dl] = '\0';
	}
}

/* Writes "json: field \"a/0/b\": MSG" once. */
static void
jerr_field(struct jparser *p, const char *msg)
{
	char	 path[96], num[24];
	size_t	 i, dl = 0;

	if (p->failed)
		return;
	p->failed = 1;
	if (p->err == NULL || p->errlen == 0)
		return;
	path[0] = '\0';
	for (i = 0; i < p->depth; i++) {
		if (i > 0)
			show_bytes(path, sizeof(path), &dl,
			    (const uint8_t *)"/", 1);
		if (p->path[i].is_index) {
			snprintf(num, sizeof(num), "%zu", p->path[i].index);
			show_bytes(path, sizeof(path), &dl,
			    (const uint8_t *)num, strlen(num));
		} else
			show_bytes(path, sizeof(path), &dl,
			    p->out->data + p->path[i].key_off,
			    p->path[i].key_len);
	}
	if (p->depth == 0)
		snprintf(p->err, p->errlen, "json: top-level value: %s", msg);
	else
		snprintf(p->err, p->errlen, "json: field \"%s\": %s", path,
		    msg);
}

static void
skip_ws(struct jparser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' ||
	    p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
	    p->s[p->pos] == '\r'))
		p->pos++;
}

/* At the end of the input? Then fails, saying what was expected. */
static int
at_end(struct jparser *p, const char *expected)
{
	if (p->pos < p->len)
		return 0;
	jerr(p, p->pos, "unexpected end of input (expected %s)", expected);
	return 1;
}

/*
 * Containers: a 5-byte placeholder header, then the body, then
 * j_close() writes the real header and slides the body down.
 */
static int
j_open(struct jparser *p, size_t *hpos)
{
	static const uint8_t	 zero[5];

	*hpos = p->out->len;
	if (kx_buf_append(p->out, zero, sizeof(zero)) == -1) {
		jerr_oom(p);
		return -1;
	}
	return 0;
}

static int
j_close(struct jparser *p, size_t hpos, size_t n, int map, size_t at)
{
	uint8_t	 h[5];
	size_t	 hl, body;

	if (n < 16) {
		h[0] = (uint8_t)((map ? 0x80 : 0x90) | n);
		hl = 1;
	} else if (n <= 0xffff) {
		h[0] = map ? 0xde : 0xdc;
		h[1] = (uint8_t)(n >> 8);
		h[2] = (uint8_t)n;
		hl = 3;
	} else if (n <= 0xffffffff) {
		h[0] = map ? 0xdf : 0xdd;
		h[1] = (uint8_t)(n >> 24);
		h[2] = (uint8_t)(n >> 16);
		h[3] = (uint8_t)(n >> 8);
		h[4] = (uint8_t)n;
		hl = 5;
	} else {
		jerr(p, at, "too many elements");
		return -1;
	}
	body = p->out->len - hpos - 5;
	memcpy(p->out->data + hpos, h, hl);
	if (hl < 5) {
		memmove(p->out->data + hpos + hl, p->out->data + hpos + 5,
		    body);
		p->out->len -= 5 - hl;
	}
	return 0;
}

/* FNV-1a: keys come from the command line, flooding is not a concern. */
static uint32_t
key_hash(const uint8_t *b, size_t n)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static void
keyset_init(struct keyset *ks)
{
	memset(ks->inl, 0, sizeof(ks->inl));
	ks->tab = ks->inl;
	ks->cap = KEYSET_INLINE;
	ks->n = 0;
}

static void
keyset_free(struct keyset *ks)
{
	if (ks->tab != ks->inl)
		free(ks->tab);
	ks->tab = ks->inl;
}

static void
keyset_put(struct jkey *tab, size_t cap, const struct jkey *k)
{
	size_t	 i = k->hash & (cap - 1);

	while (tab[i].used)
		i = (i + 1) & (cap - 1);
	tab[i] = *k;
}

/*
 * Adds the key at out->data[off..off+len); returns 1 when it was there
 * already, 0 when added, -1 when out of memory.
 */
static int
keyset_add(struct keyset *ks, const kx_buf_t *out, size_t off, size_t len)
{
	struct jkey	 k, *ntab;
	size_t		 i, ncap;

	k.off = off;
	k.len = len;
	k.hash = key_hash(out->data + off, len);
	k.used = 1;
	for (i = k.hash & (ks->cap - 1); ks->tab[i].used;
	    i = (i + 1) & (ks->cap - 1)) {
		if (ks->tab[i].hash == k.hash && ks->tab[i].len == len &&
		    memcmp(out->data + ks->tab[i].off, out->data + off,
		    len) == 0)
			return 1;
	}
	if ((ks->n + 1) * 2 > ks->cap) {
		if (ks->cap > SIZE_MAX / 2 / sizeof(*ntab))
			return -1;
		ncap = ks->cap * 2;
		if ((ntab = calloc(ncap, sizeof(*ntab))) == NULL)
			return -1;
		for (i = 0; i < ks->cap; i++)
			if (ks->tab[i].used)
				keyset_put(ntab, ncap, &ks->tab[i]);
		keyset_free(ks);
		ks->tab = ntab;
		ks->cap = ncap;
	}
	keyset_put(ks->tab, ks->cap, &k);
	ks->n++;
	return 0;
}

/* Value of a hex digit of either case, or -1. */
static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Value of a lowercase hex digit, or -1. */
static int
lhexval(uint8_t c)
{
	return (c >= 'A' && c <= 'F') ? -1 : hexval(c);
}

/* Reads the 4 hex digits of a \u escape at s[at..]; -1 when they are not. */
static int32_t
read_u4(const struct jparser *p, size_t at)
{
	int32_t	 v = 0;
	int	 d;
	size_t	 i;

	if (p->len - at < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((d = hexval(p->s[at + i])) == -1)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/*
 * Decodes the string starting at the '"' at p->pos into p->tmp and moves
 * past its closing '"'.
 */
static int
j_string(struct jparser *p)
{
	const uint8_t	*s = p->s;
	uint8_t		 u[4], c;
	size_t		 run, k, esc;
	int32_t		 cp, lo;

	kx_buf_reset(&p->tmp);
	p->pos++;
	for (;;) {
		/* Copy a run of plain ASCII at once. */
		run = p->pos;
		while (run < p->len && s[run] >= 0x20 && s[run] < 0x80 &&
		    s[run] != '"' && s[run] != '\\')
			run++;
		if (kx_buf_append(&p->tmp, s + p->pos, run - p->pos) == -1)
			goto oom;
		p->pos = run;
		if (p->pos >= p->len) {
			jerr(p, p->pos, "unterminated string");
			return -1;
		}
		c = s[p->pos];
		if (c == '"') {
			p->pos++;
			return 0;
		}
		if (c < 0x20) {
			jerr(p, p->pos, "control byte 0x%02x in string "
			    "(must be escaped)", c);
			return -1;
		}
		if (c >= 0x80) {
			if ((k = utf8_seq(s + p->pos, p->len - p->pos)) == 0) {
				jerr(p, p->pos, "invalid UTF-8 in string");
				return -1;
			}
			if (kx_buf_append(&p->tmp, s + p->pos, k) == -1)
				goto oom;
			p->pos += k;
			continue;
		}
		/* c == '\\' */
		esc = p->pos;
		if (p->len - p->pos < 2) {
			jerr(p, esc, "unterminated string");
			return -1;
		}
		c = s[p->pos + 1];
		p->pos += 2;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			break;
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u':
			if ((cp = read_u4(p, p->pos)) == -1) {
				jerr(p, esc, "invalid \\u escape "
				    "(expected 4 hex digits)");
				return -1;
			}
			p->pos += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				jerr(p, esc, "unpaired low surrogate \\u%04x",
				    (unsigned)cp);
				return -1;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->len - p->pos < 6 ||
				    s[p->pos] != '\\' || s[p->pos + 1] != 'u' ||
				    (lo = read_u4(p, p->pos + 2)) == -1 ||
				    lo < 0xdc00 || lo > 0xdfff) {
					jerr(p, esc, "unpaired high surrogate "
					    "\\u%04x", (unsigned)cp);
					return -1;
				}
				p->pos += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			k = utf8_put(u, (uint32_t)cp);
			if (kx_buf_append(&p->tmp, u, k) == -1)
				goto oom;
			continue;
		default:
			jerr(p, esc, "invalid escape '\\%c'",
			    c >= 0x20 && c < 0x7f ? c : '?');
			return -1;
		}
		if (kx_buf_putc(&p->tmp, c) == -1)
			goto oom;
	}
oom:
	jerr_oom(p);
	return -1;
}

/* Does the current path match the bin path pattern pat? */
static int
path_match(const struct jparser *p, const char *pat)
{
	const struct jseg	*g;
	const char		*seg = pat, *end;
	char			 num[24];
	size_t			 i, n;

	if (p->depth == 0)
		return pat[0] == '\0';
	for (i = 0; i < p->depth; i++) {
		end = strchr(seg, '/');
		n = end != NULL ? (size_t)(end - seg) : strlen(seg);
		if ((end == NULL) != (i + 1 == p->depth))
			return 0;	/* pattern shorter or longer */
		g = &p->path[i];
		if (n == 1 && seg[0] == '*') {
			/* any key or index */
		} else if (g->is_index) {
			snprintf(num, sizeof(num), "%zu", g->index);
			if (n != strlen(num) || memcmp(seg, num, n) != 0)
				return 0;
		} else if (n != g->key_len ||
		    memcmp(seg, p->out->data + g->key_off, n) != 0)
			return 0;
		if (end != NULL)
			seg = end + 1;
	}
	return 1;
}

static int
at_bin_path(const struct jparser *p)
{
	const char *const	*bp;

	if (p->bin_paths == NULL)
		return 0;
	for (bp = p->bin_paths; *bp != NULL; bp++)
		if (path_match(p, *bp))
			return 1;
	return 0;
}

static int
j_string_value(struct jparser *p)
{
	uint8_t	*b;
	size_t	 i, n;
	int	 hi, lo;

	if (j_string(p) == -1)
		return -1;
	b = p->tmp.data;
	n = p->tmp.len;
	if (n > UINT32_MAX) {
		jerr(p, p->pos, "string too long");
		return -1;
	}
	if (!at_bin_path(p)) {
		if (msgpack_pack_str(&p->pk, n) != 0 ||
		    msgpack_pack_str_body(&p->pk, b, n) != 0)
			goto oom;
		return 0;
	}
	if (n % 2 != 0) {
		jerr_field(p, "not lowercase hex (odd number of digits)");
		return -1;
	}
	for (i = 0; i < n; i += 2) {
		if ((hi = lhexval(b[i])) == -1 ||
		    (lo = lhexval(b[i + 1])) == -1) {
			jerr_field(p, "not lowercase hex");
			return -1;
		}
		b[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	if (msgpack_pack_bin(&p->pk, n / 2) != 0 ||
	    msgpack_pack_bin_body(&p->pk, b, n / 2) != 0)
		goto oom;
	return 0;
oom:
	jerr_oom(p);
	return -1;
}

static int
j_number(struct jparser *p)
{
	const uint8_t	*s = p->s;
	size_t		 start = p->pos;
	uint64_t	 v = 0, d;
	int		 neg = 0, rc;

	if (s[p->pos] == '-') {
		neg = 1;
		p->pos++;
	}
	if (p->pos >= p->len || s[p->pos] < '0' || s[p->pos] > '9') {
		jerr(p, start, "expected a digit after '-'");
		return -1;
	}
	if (s[p->pos] == '0') {
		p->pos++;
		if (p->pos < p->len && s[p->pos] >= '0' && s[p->pos] <= '9') {
			jerr(p, start, "numbers must not have leading zeros");
			return -1;
		}
	} else {
		while (p->pos < p->len && s[p->pos] >= '0' &&
		    s[p->pos] <= '9') {
			d = (uint64_t)(s[p->pos] - '0');
			if (v > (UINT64_MAX - d) / 10)
				goto range;
			v = v * 10 + d;
			p->pos++;
		}
	}
	if (p->pos < p->len && (s[p->pos] == '.' || s[p->pos] == 'e' ||
	    s[p->pos] == 'E')) {
		jerr(p, start, "numbers must be integers "
		    "(no floating point in the protocol)");
		return -1;
	}
	if (!neg || v == 0)
		rc = msgpack_pack_uint64(&p->pk, v);
	else if (v <= (uint64_t)INT64_MAX + 1)
		rc = msgpack_pack_int64(&p->pk, -(int64_t)(v - 1) - 1);
	else
		goto range;
	if (rc != 0) {
		jerr_oom(p);
		return -1;
	}
	return 0;
range:
	jerr(p, start, "number out of range (%" PRId64 "..%" PRIu64 ")",
	    INT64_MIN, UINT64_MAX);
	return -1;
}

static int
j_literal(struct jparser *p)
{
	static const char *const	 lit[] = { "true", "false", "null" };
	size_t				 i, n;
	int				 rc;

	for (i = 0; i < 3; i++) {
		n = strlen(lit[i]);
		if (p->len - p->pos >= n &&
		    memcmp(p->s + p->pos, lit[i], n) == 0)
			break;
	}
	if (i == 3) {
		jerr(p, p->pos, "invalid literal (expected true, false or "
		    "null)");
		return -1;
	}
	p->pos += n;
	if (i == 0)
		rc = msgpack_pack_true(&p->pk);
	else if (i == 1)
		rc = msgpack_pack_false(&p->pk);
	else
		rc = msgpack_pack_nil(&p->pk);
	if (rc != 0) {
		jerr_oom(p);
		return -1;
	}
	return 0;
}

static int
j_array(struct jparser *p)
{
	struct jseg	*g;
	size_t		 hpos, n = 0, start = p->pos;

	if (p->depth >= KX_JSON_MAX_DEPTH) {
		jerr(p, start, "nesting deeper than %d levels",
		    KX_JSON_MAX_DEPTH);
		return -1;
	}
	p->pos++;
	if (j_open(p, &hpos) == -1)
		return -1;
	g = &p->path[p->depth++];
	g->is_index = 1;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']')
		p->pos++;
	else {
		for (;;) {
			g->index = n;
			if (j_value(p) == -1)
				return -1;
			n++;
			skip_ws(p);
			if (at_end(p, "',' or ']'"))
				return -1;
			if (p->s[p->pos] == ']') {
				p->pos++;
				break;
			}
			if (p->s[p->pos] != ',') {
				jerr(p, p->pos, "expected ',' or ']'");
				return -1;
			}
			p->pos++;
		}
	}
	p->depth--;
	return j_close(p, hpos, n, 0, start);
}

static int
j_object(struct jparser *p)
{
	struct keyset	 ks;
	struct jseg	*g;
	size_t		 hpos, n = 0, start = p->pos, keypos, off, dl;
	char		 shown[48];

	if (p->depth >= KX_JSON_MAX_DEPTH) {
		jerr(p, start, "nesting deeper than %d levels",
		    KX_JSON_MAX_DEPTH);
		return -1;
	}
	p->pos++;
	if (j_open(p, &hpos) == -1)
		return -1;
	keyset_init(&ks);
	g = &p->path[p->depth++];
	g->is_index = 0;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}')
		p->pos++;
	else {
		for (;;) {
			skip_ws(p);
			if (at_end(p, "a string key"))
				goto fail;
			if (p->s[p->pos] != '"') {
				jerr(p, p->pos, "expected a string key");
				goto fail;
			}
			keypos = p->pos;
			if (j_string(p) == -1)
				goto fail;
			if (p->tmp.len > UINT32_MAX) {
				jerr(p, keypos, "key too long");
				goto fail;
			}
			if (msgpack_pack_str(&p->pk, p->tmp.len) != 0)
				goto oom;
			off = p->out->len;
			if (msgpack_pack_str_body(&p->pk, p->tmp.data,
			    p->tmp.len) != 0)
				goto oom;
			switch (keyset_add(&ks, p->out, off, p->tmp.len)) {
			case 0:
				break;
			case 1:
				dl = 0;
				shown[0] = '\0';
				show_bytes(shown, sizeof(shown), &dl,
				    p->out->data + off, p->tmp.len);
				jerr(p, keypos, "duplicate key \"%s\"", shown);
				goto fail;
			default:
				goto oom;
			}
			g->key_off = off;
			g->key_len = p->tmp.len;
			skip_ws(p);
			if (at_end(p, "':'"))
				goto fail;
			if (p->s[p->pos] != ':') {
				jerr(p, p->pos, "expected ':'");
				goto fail;
			}
			p->pos++;
			if (j_value(p) == -1)
				goto fail;
			n++;
			skip_ws(p);
			if (at_end(p, "',' or '}'"))
				goto fail;
			if (p->s[p->pos] == '}') {
				p->pos++;
				break;
			}
			if (p->s[p->pos] != ',') {
				jerr(p, p->pos, "expected ',' or '}'");
				goto fail;
			}
			p->pos++;
		}
	}
	keyset_free(&ks);
	p->depth--;
	return j_close(p, hpos, n, 1, start);
oom:
	jerr_oom(p);
fail:
	keyset_free(&ks);
	return -1;
}

/* Parses one value with the whitespace before it. */
static int
j_value(struct jparser *p)
{
	uint8_t	 c;

	skip_ws(p);
	if (at_end(p, "a value"))
		return -1;
	c = p->s[p->pos];
	switch (c) {
	case '{':
		return j_object(p);
	case '[':
		return j_array(p);
	case '"':
		return j_string_value(p);
	case 't':
	case 'f':
	case 'n':
		return j_literal(p);
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return j_number(p);
		if (c >= 0x20 && c < 0x7f)
			jerr(p, p->pos, "expected a value, found '%c'", c);
		else
			jerr(p, p->pos, "expected a value, found byte 0x%02x",
			    c);
		return -1;
	}
}

int
kx_json_to_mp(kx_buf_t *out, const char *json, size_t len,
    const char *const *bin_paths, char *err, size_t errlen)
{
	struct jparser	 jp, *p = &jp;
	int		 rc = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(p, 0, sizeof(*p));
	p->s = (const uint8_t *)json;
	p->len = len;
	p->out = out;
	msgpack_packer_init(&p->pk, out, kx_buf_msgpack_write);
	p->bin_paths = bin_paths;
	kx_buf_init(&p->tmp);
	p->err = err;
	p->errlen = errlen;

	if (out->oom) {
		jerr_oom(p);
		goto done;
	}
	if (j_value(p) == -1)
		goto done;
	skip_ws(p);
	if (p->pos < p->len) {
		jerr(p, p->pos, "unexpected data after the value");
		goto done;
	}
	rc = 0;
done:
	kx_buf_free(&p->tmp);
	return rc;
}

/*
 * msgpack -> JSON
 */

struct mpr {
	const uint8_t	*p;		/* the msgpack bytes */
	size_t		 len;
	size_t		 pos;		/* next byte to read */
	kx_buf_t	*out;
	int		 esc;		/* string-escape layers to apply */
};

static int	mp_value(struct mpr *, int);

/* Appends byte c through `level` layers of JSON string escaping. */
static void
emit_byte(struct mpr *r, int level, uint8_t c)
{
	if (level == 0) {
		kx_buf_putc(r->out, c);
		return;
	}
	/*
	 * The text being escaped is JSON, which never holds raw control
	 * bytes, so a layer only has to escape '"' and '\\'.
	 */
	if (c == '"' || c == '\\')
		emit_byte(r, level - 1, '\\');
	emit_byte(r, level - 1, c);
}

/* Appends JSON text s[0..n) (escaped as the current key nesting needs). */
static void
emit(struct mpr *r, const void *s, size_t n)
{
	const uint8_t	*b = s;
	size_t		 i;

	if (r->esc == 0) {
		kx_buf_append(r->out, s, n);
		return;
	}
	for (i = 0; i < n; i++)
		emit_byte(r, r->esc, b[i]);
}

static void
emit_s(struct mpr *r, const char *s)
{
	emit(r, s, strlen(s));
}

static void
emit_hex(struct mpr *r, const uint8_t *b, size_t n)
{
	static const char	 digits[] = "0123456789abcdef";
	char			 chunk[128];
	size_t			 i, k = 0;

	if (r->esc == 0) {
		kx_buf_hex(r->out, b, n);
		return;
	}
	for (i = 0; i < n; i++) {
		chunk[k++] = digits[b[i] >> 4];
		chunk[k++] = digits[b[i] & 0xf];
		if (k == sizeof(chunk)) {
			emit(r, chunk, k);
			k = 0;
		}
	}
	emit(r, chunk, k);
}

/* Appends b[0..n) as a JSON string. */
static void
emit_string(struct mpr *r, const uint8_t *b, size_t n)
{
	static const char	 digits[] = "0123456789abcdef";
	char			 e[8];
	size_t			 i = 0, run, k;
	uint8_t			 c;

	emit(r, "\"", 1);
	while (i < n) {
		run = i;
		while (run < n && b[run] >= 0x20 && b[run] < 0x80 &&
		    b[run] != '"' && b[run] != '\\')
			run++;
		emit(r, b + i, run - i);
		if ((i = run) >= n)
			break;
		c = b[i];
		if (c >= 0x80) {
			if ((k = utf8_seq(b + i, n - i)) == 0) {
				emit(r, "\\ufffd", 6);
				i++;
			} else {
				emit(r, b + i, k);
				i += k;
			}
			continue;
		}
		e[0] = '\\';
		k = 2;
		switch (c) {
		case '"':
		case '\\':
			e[1] = (char)c;
			break;
		case '\b':
			e[1] = 'b';
			break;
		case '\f':
			e[1] = 'f';
			break;
		case '\n':
			e[1] = 'n';
			break;
		case '\r':
			e[1] = 'r';
			break;
		case '\t':
			e[1] = 't';
			break;
		default:
			memcpy(e + 1, "u00", 3);
			e[4] = digits[c >> 4];
			e[5] = digits[c & 0xf];
			k = 6;
			break;
		}
		emit(r, e, k);
		i++;
	}
	emit(r, "\"", 1);
}

static void
emit_double(struct mpr *r, double d)
{
	char	 num[40], *c;

	if (isnan(d) || isinf(d)) {
		emit_s(r, "null");
		return;
	}
	snprintf(num, sizeof(num), "%.17g", d);
	/* A program that set LC_NUMERIC may get a decimal comma. */
	if ((c = strchr(num, ',')) != NULL)
		*c = '.';
	emit_s(r, num);
}

/* Takes n bytes from the input into *b; 0, or -1 when fewer remain. */
static int
take(struct mpr *r, size_t n, const uint8_t **b)
{
	if (r->len - r->pos < n)
		return -1;
	*b = r->p + r->pos;
	r->pos += n;
	return 0;
}

/* Reads an n-byte (1, 2, 4 or 8) big-endian unsigned number. */
static int
take_be(struct mpr *r, size_t n, uint64_t *v)
{
	const uint8_t	*b;
	size_t		 i;

	if (take(r, n, &b) == -1)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return 0;
}

static void
emit_u64(struct mpr *r, uint64_t v)
{
	char	 num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	emit_s(r, num);
}

static void
emit_i64(struct mpr *r, int64_t v)
{
	char	 num[24];

	snprintf(num, sizeof(num), "%" PRId64, v);
	emit_s(r, num);
}

/* Sign-extends the low `bits` bits of v. */
static int64_t
sext(uint64_t v, int bits)
{
	uint64_t	 m = (uint64_t)1 << (bits - 1);

	if (bits == 64)
		return v <= INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
	v &= (m << 1) - 1;
	return (int64_t)(v ^ m) - (int64_t)m;
}

static int
mp_array(struct mpr *r, int depth, uint64_t n)
{
	uint64_t	 i;

	if (depth >= KX_MP_MAX_DEPTH)
		return -1;
	emit(r, "[", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			emit(r, ",", 1);
		/* Each element takes at least one byte: n is not trusted. */
		if (mp_value(r, depth + 1) == -1)
			return -1;
	}
	emit(r, "]", 1);
	return 0;
}

static int
mp_map(struct mpr *r, int depth, uint64_t n)
{
	uint64_t	 i;
	uint8_t		 c;
	int		 rc;

	if (depth >= KX_MP_MAX_DEPTH)
		return -1;
	emit(r, "{", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			emit(r, ",", 1);
		if (r->pos >= r->len)
			return -1;
		c = r->p[r->pos];
		if ((c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb) ||
		    (c >= 0xc4 && c <= 0xc6)) {
			/* str, or bin which prints as a hex string */
			if (mp_value(r, depth + 1) == -1)
				return -1;
		} else {
			if (r->esc >= KX_MP_MAX_KEY_NEST)
				return -1;
			emit(r, "\"", 1);
			r->esc++;
			rc = mp_value(r, depth + 1);
			r->esc--;
			if (rc == -1)
				return -1;
			emit(r, "\"", 1);
		}
		emit(r, ":", 1);
		if (mp_value(r, depth + 1) == -1)
			return -1;
	}
	emit(r, "}", 1);
	return 0;
}

/* Reads one value, printing it; depth counts the containers around it. */
static int
mp_value(struct mpr *r, int depth)
{
	const uint8_t	*b;
	uint64_t	 v, n;
	uint32_t	 f32;
	float		 f;
	double		 d;
	uint8_t		 c;
	int8_t		 type;

	if (take(r, 1, &b) == -1)
		return -1;
	c = b[0];
	if (c <= 0x7f) {
		emit_u64(r, c);
		return 0;
	}
	if (c >= 0xe0) {
		emit_i64(r, sext(c, 8));
		return 0;
	}
	if (c <= 0x8f)
		return mp_map(r, depth, c & 0x0f);
	if (c <= 0x9f)
		return mp_array(r, depth, c & 0x0f);
	if (c <= 0xbf) {
		n = c & 0x1f;
		goto str;
	}
	switch (c) {
	case 0xc0:
		emit_s(r, "null");
		return 0;
	case 0xc2:
		emit_s(r, "false");
		return 0;
	case 0xc3:
		emit_s(r, "true");
		return 0;
	case 0xc4:
	case 0xc5:
	case 0xc6:
		if (take_be(r, (size_t)1 << (c - 0xc4), &n) == -1 ||
		    take(r, n, &b) == -1)
			return -1;
		emit(r, "\"", 1);
		emit_hex(r, b, n);
		emit(r, "\"", 1);
		return 0;
	case 0xc7:
	case 0xc8:
	case 0xc9:
		if (take_be(r, (size_t)1 << (c - 0xc7), &n) == -1)
			return -1;
		goto ext;
	case 0xca:
		if (take_be(r, 4, &v) == -1)
			return -1;
		f32 = (uint32_t)v;
		memcpy(&f, &f32, sizeof(f));
		emit_double(r, f);
		return 0;
	case 0xcb:
		if (take_be(r, 8, &v) == -1)
			return -1;
		memcpy(&d, &v, sizeof(d));
		emit_double(r, d);
		return 0;
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		if (take_be(r, (size_t)1 << (c - 0xcc), &v) == -1)
			return -1;
		emit_u64(r, v);
		return 0;
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3:
		if (take_be(r, (size_t)1 << (c - 0xd0), &v) == -1)
			return -1;
		emit_i64(r, sext(v, 8 << (c - 0xd0)));
		return 0;
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		n = (uint64_t)1 << (c - 0xd4);
		goto ext;
	case 0xd9:
	case 0xda:
	case 0xdb:
		if (take_be(r, (size_t)1 << (c - 0xd9), &n) == -1)
			return -1;
		goto str;
	case 0xdc:
	case 0xdd:
		if (take_be(r, c == 0xdc ? 2 : 4, &n) == -1)
			return -1;
		return mp_array(r, depth, n);
	case 0xde:
	case 0xdf:
		if (take_be(r, c == 0xde ? 2 : 4, &n) == -1)
			return -1;
		return mp_map(r, depth, n);
	default:	/* 0xc1, never used */
		return -1;
	}
str:
	if (take(r, n, &b) == -1)
		return -1;
	emit_string(r, b, n);
	return 0;
ext:
	if (take(r, 1, &b) == -1)
		return -1;
	type = (int8_t)sext(b[0], 8);
	if (take(r, n, &b) == -1)
		return -1;
	emit_s(r, "{\"ext\":");
	emit_i64(r, type);
	emit_s(r, ",\"hex\":\"");
	emit_hex(r, b, n);
	emit_s(r, "\"}");
	return 0;
}

int
kx_mp_to_json(kx_buf_t *out, const uint8_t *mp, size_t len)
{
	struct mpr	 r;

	memset(&r, 0, sizeof(r));
	r.p = mp;
	r.len = len;
	r.out = out;
	if (mp_value(&r, 0) == -1 || r.pos != r.len || out->oom)
		return -1;
	return 0;
}
