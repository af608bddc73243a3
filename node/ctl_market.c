/*
 * ctl_market.c - `kaga-ctl clear --book FILE` and
 * `kaga-ctl settle --book FILE --readings FILE` (docs/market.md).
 *
 * Books and readings are outside bytes: the JSON text is converted with
 * kx_json_to_mp (strict: integers only, UTF-8, no duplicate keys), the
 * result checked with kx_mp_check and walked with the bounds-checked
 * reader of mp.h. Every order is held to the rules of an `order` body
 * (section 5.2) and errors name the order's index, its id and the field.
 * Exit: 0 ok, 1 failure (memory, unreadable file), 2 usage or bad input.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ctl_market.h"
#include "ctlutil.h"
#include "json.h"
#include "mp.h"

#define EXIT_FAIL	1
#define EXIT_USAGE	2
#define FILE_MAX	((size_t)1 << 30)	/* bytes in a book file */
#define MP_DEPTH	(KX_JSON_MAX_DEPTH + 1)

static int
fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;
	char	*c;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		/* messages quote input: keep them one printable line */
		for (c = err; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
	}
	return KX_MKT_EINVAL;
}

/* Lowercase hex of exactly 2n digits into out. 0 or -1. */
static int
hex_in(uint8_t *out, size_t n, const uint8_t *s, size_t len)
{
	size_t	 i;
	int	 d[2], j;

	if (len != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < 2; j++) {
			uint8_t c = s[2 * i + (size_t)j];

			if (c >= '0' && c <= '9')
				d[j] = c - '0';
			else if (c >= 'a' && c <= 'f')
				d[j] = c - 'a' + 10;
			else
				return -1;
		}
		out[i] = (uint8_t)(d[0] << 4 | d[1]);
	}
	return 0;
}

/* JSON -> checked msgpack in mp; the top value must be a map. */
static int
load(kx_buf_t *mp, const char *what, const char *json, size_t len,
    kx_mp_val_t *top, kx_mp_cur_t *c, char *err, size_t errlen)
{
	char		 e[256];
	kx_mp_cur_t	 chk;

	if (kx_json_to_mp(mp, json, len, NULL, e, sizeof(e)) == -1)
		return mp->oom ? KX_MKT_ENOMEM :
		    fail(err, errlen, "%s: %s", what, e);
	kx_mp_cur_init(&chk, mp->data, mp->len);
	if (kx_mp_check(&chk, MP_DEPTH, true) != KX_MP_OK ||
	    kx_mp_left(&chk) != 0)
		return fail(err, errlen, "%s: malformed", what);
	kx_mp_cur_init(c, mp->data, mp->len);
	if (kx_mp_read(c, top) != KX_MP_OK || top->kind != KX_MP_MAP)
		return fail(err, errlen, "%s: must be a JSON object", what);
	return KX_MKT_OK;
}

/* An unsigned integer field of a map, at most max. 1 found, 0 absent,
 * -1 wrong (type or range). */
static int
get_uint(const kx_mp_val_t *map, kx_mp_cur_t elems, const char *key,
    uint64_t max, uint64_t *out)
{
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;
	int		 r;

	if ((r = kx_mp_map_get(map, elems, key, &v, &a)) != 1)
		return r == 0 ? 0 : -1;
	if (v.kind != KX_MP_UINT || v.u > max)
		return -1;
	*out = v.u;
	return 1;
}

static int
parse_params(kx_book_t *b, const kx_mp_val_t *top, kx_mp_cur_t c,
    char *err, size_t errlen)
{
	static const char *const keys[] = { "floor", "ceiling", "fee" };
	uint32_t	*dst[3];
	kx_mp_val_t	 pm, v;
	kx_mp_cur_t	 pc, a;
	uint64_t	 u;
	int		 i, r;

	if (kx_mp_map_get(top, c, "params", &pm, &pc) != 1)
		return fail(err, errlen, "book: params: missing");
	if (pm.kind != KX_MP_MAP)
		return fail(err, errlen, "book: params: must be an object");
	dst[0] = &b->params.floor;
	dst[1] = &b->params.ceiling;
	dst[2] = &b->params.fee;
	for (i = 0; i < 3; i++) {
		r = get_uint(&pm, pc, keys[i], KX_PRICE_MAX, &u);
		if (r == 0)
			return fail(err, errlen, "book: params: %s: missing",
			    keys[i]);
		if (r < 0)
			return fail(err, errlen, "book: params: %s: must be "
			    "a price, 0 to 1000000", keys[i]);
		*dst[i] = (uint32_t)u;
	}
	if (b->params.floor > b->params.ceiling)
		return fail(err, errlen, "book: params: floor must not "
		    "exceed ceiling");
	if (b->params.fee >= b->params.ceiling)
		return fail(err, errlen, "book: params: fee must be below "
		    "ceiling");
	if ((r = kx_mp_map_get(&pm, pc, "pt_value", &v, &a)) == 1) {
		if (v.kind == KX_MP_UINT && v.u <= INT64_MAX)
			b->params.pt_value = (int64_t)v.u;
		else if (v.kind == KX_MP_NINT)
			b->params.pt_value = v.i;
		else
			return fail(err, errlen, "book: params: pt_value: "
			    "must be an integer (milli-sen)");
	} else if (r < 0)
		return fail(err, errlen, "book: params: malformed");
	if ((r = kx_mp_map_get(&pm, pc, "operator", &v, &a)) == 1) {
		if (v.kind != KX_MP_STR || hex_in(b->op, KX_MKT_ID_LEN,
		    v.ptr, v.len) == -1)
			return fail(err, errlen, "book: params: operator: "
			    "expected 64 lowercase hex digits");
	} else if (r < 0)
		return fail(err, errlen, "book: params: malformed");
	return KX_MKT_OK;
}

/* One order: the map whose header is om, elements from oc. */
static int
parse_order(kx_order_t *o, size_t i, const kx_mp_val_t *om, kx_mp_cur_t oc,
    int need_member, char *err, size_t errlen)
{
	kx_mp_val_t	 v, s;
	kx_mp_cur_t	 a;
	char		 id[2 * KX_MKT_ID_LEN + 1] = "?";
	uint32_t	 k;
	int		 r;

#define OFAIL(...) do {							\
	char m_[160];							\
	snprintf(m_, sizeof(m_), __VA_ARGS__);				\
	return fail(err, errlen, "book: orders[%zu] (id %s): %s", i, id, m_); \
} while (0)

	if (om->kind != KX_MP_MAP)
		OFAIL("must be an object");
	if ((r = kx_mp_map_get(om, oc, "id", &v, &a)) != 1)
		OFAIL("id: missing");
	if (v.kind != KX_MP_STR || hex_in(o->id, KX_MKT_ID_LEN, v.ptr,
	    v.len) == -1)
		OFAIL("id: expected 64 lowercase hex digits");
	kx_hex(id, o->id, KX_MKT_ID_LEN);
	if ((r = kx_mp_map_get(om, oc, "side", &v, &a)) != 1)
		OFAIL("side: missing");
	if (v.kind == KX_MP_STR && v.len == 3 && memcmp(v.ptr, "buy", 3) == 0)
		o->side = KX_BUY;
	else if (v.kind == KX_MP_STR && v.len == 4 &&
	    memcmp(v.ptr, "sell", 4) == 0)
		o->side = KX_SELL;
	else
		OFAIL("side: must be \"buy\" or \"sell\"");
	if ((r = kx_mp_map_get(om, oc, "member", &v, &a)) == 1) {
		if (v.kind != KX_MP_STR || hex_in(o->member, KX_MKT_ID_LEN,
		    v.ptr, v.len) == -1)
			OFAIL("member: expected 64 lowercase hex digits");
	} else if (need_member)
		OFAIL("member: missing");
	if ((r = kx_mp_map_get(om, oc, "steps", &v, &a)) != 1)
		OFAIL("steps: missing");
	if (v.kind != KX_MP_ARRAY || v.len < 1 || v.len > KX_STEPS_MAX)
		OFAIL("steps: must be an array of 1 to %d steps",
		    KX_STEPS_MAX);
	o->n = v.len;
	for (k = 0; k < o->n; k++) {
		if (kx_mp_read(&a, &s) != KX_MP_OK || s.kind != KX_MP_ARRAY ||
		    s.len != 2)
			OFAIL("steps[%u] must be [wh, price]", k);
		if (kx_mp_read(&a, &v) != KX_MP_OK || v.kind != KX_MP_UINT ||
		    v.u < 1 || v.u > KX_WH_STEP_MAX)
			OFAIL("steps[%u]: wh must be 1 to 10000000", k);
		o->wh[k] = v.u;
		if (kx_mp_read(&a, &v) != KX_MP_OK || v.kind != KX_MP_UINT ||
		    v.u > KX_PRICE_MAX)
			OFAIL("steps[%u]: price must be 0 to 1000000", k);
		o->price[k] = (uint32_t)v.u;
		if (k > 0 && o->side == KX_SELL &&
		    o->price[k] <= o->price[k - 1])
			OFAIL("steps[%u]: a sell curve's prices must strictly "
			    "rise", k);
		if (k > 0 && o->side == KX_BUY &&
		    o->price[k] >= o->price[k - 1])
			OFAIL("steps[%u]: a buy curve's prices must strictly "
			    "fall", k);
	}
	return KX_MKT_OK;
#undef OFAIL
}

static int
cmp_id_idx(const void *a, const void *b, void *ctx)
{
	const kx_order_t *o = ctx;
	size_t		 x = *(const size_t *)a, y = *(const size_t *)b;
	int		 c = memcmp(o[x].id, o[y].id, KX_MKT_ID_LEN);

	return c != 0 ? c : (x > y) - (x < y);
}

/* Names the first duplicate id (by the later index). */
static int
check_dups(const kx_book_t *b, char *err, size_t errlen)
{
	size_t		*ix, i;
	char		 id[2 * KX_MKT_ID_LEN + 1];
	int		 r = KX_MKT_OK;

	if (b->n < 2)
		return KX_MKT_OK;
	if ((ix = malloc(b->n * sizeof(*ix))) == NULL)
		return KX_MKT_ENOMEM;
	for (i = 0; i < b->n; i++)
		ix[i] = i;
	qsort_r(ix, b->n, sizeof(*ix), cmp_id_idx,
	    (void *)(uintptr_t)b->orders);
	for (i = 1; i < b->n; i++)
		if (memcmp(b->orders[ix[i - 1]].id, b->orders[ix[i]].id,
		    KX_MKT_ID_LEN) == 0) {
			kx_hex(id, b->orders[ix[i]].id, KX_MKT_ID_LEN);
			r = fail(err, errlen, "book: orders[%zu] (id %s): id: "
			    "duplicate of orders[%zu]", ix[i], id, ix[i - 1]);
			break;
		}
	free(ix);
	return r;
}

int
kx_book_parse(kx_book_t *b, const char *json, size_t len, int need_member,
    char *err, size_t errlen)
{
	kx_buf_t	 mp;
	kx_mp_val_t	 top, arr, om;
	kx_mp_cur_t	 c, ac, start;
	size_t		 i;
	int		 r;

	memset(b, 0, sizeof(*b));
	kx_params_default(&b->params);
	kx_buf_init(&mp);
	if ((r = load(&mp, "book", json, len, &top, &c, err, errlen)) !=
	    KX_MKT_OK)
		goto fail;
	if ((r = parse_params(b, &top, c, err, errlen)) != KX_MKT_OK)
		goto fail;
	if (kx_mp_map_get(&top, c, "orders", &arr, &ac) != 1) {
		r = fail(err, errlen, "book: orders: missing");
		goto fail;
	}
	if (arr.kind != KX_MP_ARRAY) {
		r = fail(err, errlen, "book: orders: must be an array");
		goto fail;
	}
	if (arr.len > KX_MKT_ORDERS_MAX) {
		r = fail(err, errlen, "book: orders: more than %u",
		    KX_MKT_ORDERS_MAX);
		goto fail;
	}
	/* arr.len <= bytes of checked input: a safe allocation size */
	if (arr.len > 0 && (b->orders = calloc(arr.len,
	    sizeof(*b->orders))) == NULL) {
		r = KX_MKT_ENOMEM;
		goto fail;
	}
	for (i = 0; i < arr.len; i++) {
		start = ac;
		if (kx_mp_read(&ac, &om) != KX_MP_OK) {
			r = fail(err, errlen, "book: malformed");
			goto fail;
		}
		if ((r = parse_order(&b->orders[i], i, &om, ac, need_member,
		    err, errlen)) != KX_MKT_OK)
			goto fail;
		ac = start;
		if (kx_mp_skip(&ac, MP_DEPTH) != KX_MP_OK) {
			r = fail(err, errlen, "book: malformed");
			goto fail;
		}
		b->n = i + 1;
	}
	if ((r = check_dups(b, err, errlen)) != KX_MKT_OK)
		goto fail;
	kx_buf_free(&mp);
	return KX_MKT_OK;
 fail:
	if (r == KX_MKT_ENOMEM)
		fail(err, errlen, "book: out of memory");
	kx_buf_free(&mp);
	kx_book_free(b);
	return r;
}

void
kx_book_free(kx_book_t *b)
{
	if (b == NULL)
		return;
	free(b->orders);
	b->orders = NULL;
	b->n = 0;
}

int
kx_readings_parse(kx_readings_t *rd, const char *json, size_t len,
    char *err, size_t errlen)
{
	kx_buf_t	 mp;
	kx_mp_val_t	 top, k, v, pv;
	kx_mp_cur_t	 c, vc;
	uint64_t	 u;
	uint32_t	 i, j;
	int		 r, g;
	char		 key[80];

	memset(rd, 0, sizeof(*rd));
	kx_buf_init(&mp);
	if ((r = load(&mp, "readings", json, len, &top, &c, err, errlen)) !=
	    KX_MKT_OK)
		goto fail;
	r = KX_MKT_ENOMEM;
	if ((rd->r = calloc(top.len + 1, sizeof(*rd->r))) == NULL)
		goto fail;
	for (i = 0; i < top.len; i++) {
		if (kx_mp_read(&c, &k) != KX_MP_OK || k.kind != KX_MP_STR) {
			r = fail(err, errlen, "readings: malformed");
			goto fail;
		}
		snprintf(key, sizeof(key), "%.*s",
		    (int)(k.len < 70 ? k.len : 70), (const char *)k.ptr);
		vc = c;
		if (kx_mp_read(&vc, &v) != KX_MP_OK || v.kind != KX_MP_MAP) {
			r = fail(err, errlen, "readings: \"%s\": must be an "
			    "object", key);
			goto fail;
		}
		if (k.len == 6 && memcmp(k.ptr, "points", 6) == 0) {
			free(rd->pts);
			rd->npts = 0;
			if ((rd->pts = calloc(v.len + 1,
			    sizeof(*rd->pts))) == NULL) {
				r = KX_MKT_ENOMEM;
				goto fail;
			}
			for (j = 0; j < v.len; j++) {
				if (kx_mp_read(&vc, &k) != KX_MP_OK ||
				    k.kind != KX_MP_STR ||
				    hex_in(rd->pts[j].member, KX_MKT_ID_LEN,
				    k.ptr, k.len) == -1) {
					r = fail(err, errlen, "readings: "
					    "points: keys must be 64 lowercase "
					    "hex digits");
					goto fail;
				}
				kx_hex(key, rd->pts[j].member, KX_MKT_ID_LEN);
				if (kx_mp_read(&vc, &pv) != KX_MP_OK ||
				    pv.kind != KX_MP_UINT || pv.u < 1 ||
				    pv.u > UINT32_MAX) {
					r = fail(err, errlen, "readings: points:"
					    " %s: must be 1 to 4294967295",
					    key);
					goto fail;
				}
				rd->pts[j].points = (uint32_t)pv.u;
				rd->npts = j + 1;
			}
		} else {
			if (hex_in(rd->r[rd->nr].member, KX_MKT_ID_LEN,
			    k.ptr, k.len) == -1) {
				r = fail(err, errlen, "readings: \"%s\": keys "
				    "must be 64 lowercase hex digits (or "
				    "\"points\")", key);
				goto fail;
			}
			g = get_uint(&v, vc, "imp", UINT64_MAX, &u);
			if (g != 1) {
				r = fail(err, errlen, "readings: %s: imp: %s",
				    key, g == 0 ? "missing" :
				    "must be an integer >= 0 (Wh)");
				goto fail;
			}
			rd->r[rd->nr].imp = u;
			g = get_uint(&v, vc, "exp", UINT64_MAX, &u);
			if (g != 1) {
				r = fail(err, errlen, "readings: %s: exp: %s",
				    key, g == 0 ? "missing" :
				    "must be an integer >= 0 (Wh)");
				goto fail;
			}
			rd->r[rd->nr++].exp = u;
		}
		if (kx_mp_skip(&c, MP_DEPTH) != KX_MP_OK) {
			r = fail(err, errlen, "readings: malformed");
			goto fail;
		}
	}
	kx_buf_free(&mp);
	return KX_MKT_OK;
 fail:
	if (r == KX_MKT_ENOMEM)
		fail(err, errlen, "readings: out of memory");
	kx_buf_free(&mp);
	kx_readings_free(rd);
	return r;
}

void
kx_readings_free(kx_readings_t *rd)
{
	if (rd == NULL)
		return;
	free(rd->r);
	free(rd->pts);
	memset(rd, 0, sizeof(*rd));
}

/* ---- commands ------------------------------------------------------ */


/* Reads and parses a book; returns an exit status (0 ok). */
static int
load_book(const char *cmd, const char *path, int need_member, kx_book_t *b)
{
	kx_buf_t	 in;
	char		 err[512];
	int		 r;

	kx_buf_init(&in);
	if (kx_ctl_slurp(path, FILE_MAX, &in) == -1) {
		kx_ctl_err(cmd, "%s: %s", path, strerror(errno));
		kx_buf_free(&in);
		return EXIT_FAIL;
	}
	r = kx_book_parse(b, in.len ? (const char *)in.data : "", in.len,
	    need_member, err, sizeof(err));
	kx_buf_free(&in);
	if (r != KX_MKT_OK) {
		kx_ctl_err(cmd, "%s: %s", path, err);
		return r == KX_MKT_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
	}
	return 0;
}

static int
run_clear(const char *cmd, const kx_book_t *b, kx_clear_t *res,
    uint64_t **fills, bool **inc)
{
	int	 r;

	*fills = calloc(b->n + 1, sizeof(**fills));
	*inc = calloc(b->n + 1, sizeof(**inc));
	if (*fills == NULL || *inc == NULL) {
		kx_ctl_err(cmd, "out of memory");
		return EXIT_FAIL;
	}
	r = kx_clear(res, *fills, *inc, b->orders, b->n, &b->params);
	if (r != KX_MKT_OK) {
		kx_ctl_err(cmd, "%s", kx_mkt_strerror(r));
		return r == KX_MKT_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
	}
	return 0;
}

static int
cmp_order_id(const void *a, const void *b, void *ctx)
{
	const kx_order_t *o = ctx;

	return memcmp(o[*(const size_t *)a].id, o[*(const size_t *)b].id,
	    KX_MKT_ID_LEN);
}

static int
flush(const char *cmd, kx_buf_t *out)
{
	if (out->oom) {
		kx_ctl_err(cmd, "out of memory");
		return EXIT_FAIL;
	}
	if (fwrite(out->data, 1, out->len, stdout) != out->len ||
	    fflush(stdout) != 0) {
		kx_ctl_err(cmd, "stdout: %s", strerror(errno));
		return EXIT_FAIL;
	}
	return 0;
}

static void
put_price(kx_buf_t *out, const kx_clear_t *res)
{
	if (res->has_price)
		kx_buf_printf(out, "{\"price\":%" PRIu32, res->price);
	else
		kx_buf_puts(out, "{\"price\":null");
}

int
kx_ctl_cmd_clear(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "book", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*cmd = "clear", *path = NULL;
	kx_book_t	 b;
	kx_clear_t	 res;
	kx_buf_t	 out;
	uint64_t	*fills = NULL;
	bool		*inc = NULL;
	size_t		*ix = NULL, i, nf = 0, nx = 0;
	char		 hex[2 * KX_MKT_ID_LEN + 1];
	int		 ch, rc, bad = 0;

	memset(&b, 0, sizeof(b));
	kx_buf_init(&out);
	optind = 0;	/* glibc: full reinitialisation, callable again */
	while ((ch = getopt_long(argc, argv, "b:", opts, NULL)) != -1) {
		if (ch == 'b')
			path = optarg;
		else
			bad = 1;
	}
	if (bad || path == NULL || optind != argc) {
		kx_ctl_err(cmd, "usage: kaga-ctl clear --book FILE");
		return EXIT_USAGE;
	}
	if ((rc = load_book(cmd, path, 0, &b)) != 0)
		return rc;
	if ((rc = run_clear(cmd, &b, &res, &fills, &inc)) != 0)
		goto done;
	if ((ix = malloc((b.n + 1) * sizeof(*ix))) == NULL) {
		kx_ctl_err(cmd, "out of memory");
		rc = EXIT_FAIL;
		goto done;
	}
	for (i = 0; i < b.n; i++)
		ix[i] = i;
	qsort_r(ix, b.n, sizeof(*ix), cmp_order_id, (void *)(uintptr_t)b.orders);
	put_price(&out, &res);
	kx_buf_printf(&out, ",\"volume\":%" PRIu64 ",\"surplus\":%" PRId64
	    ",\"set\":\"", res.volume, res.surplus);
	kx_buf_hex(&out, res.set, sizeof(res.set));
	kx_buf_puts(&out, "\",\"fills\":{");
	for (i = 0; i < b.n; i++) {
		if (fills[ix[i]] == 0)
			continue;
		kx_hex(hex, b.orders[ix[i]].id, KX_MKT_ID_LEN);
		kx_buf_printf(&out, "%s\"%s\":%" PRIu64, nf++ ? "," : "", hex,
		    fills[ix[i]]);
	}
	kx_buf_puts(&out, "},\"left_out\":[");
	for (i = 0; i < b.n; i++) {
		if (inc[ix[i]])
			continue;
		kx_hex(hex, b.orders[ix[i]].id, KX_MKT_ID_LEN);
		kx_buf_printf(&out, "%s\"%s\"", nx++ ? "," : "", hex);
	}
	kx_buf_puts(&out, "]}\n");
	rc = flush(cmd, &out);
 done:
	free(ix);
	free(inc);
	free(fills);
	kx_buf_free(&out);
	kx_book_free(&b);
	return rc;
}

int
kx_ctl_cmd_settle(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "book", required_argument, NULL, 'b' },
		{ "readings", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*cmd = "settle", *path = NULL, *rpath = NULL;
	kx_book_t	 b;
	kx_readings_t	 rd;
	kx_clear_t	 res;
	kx_buf_t	 out, in;
	kx_line_t	*lines = NULL;
	uint64_t	*fills = NULL;
	bool		*inc = NULL;
	size_t		 i, nl = 0;
	char		 hex[2 * KX_MKT_ID_LEN + 1], err[512];
	int		 ch, rc, r, bad = 0;

	memset(&b, 0, sizeof(b));
	memset(&rd, 0, sizeof(rd));
	kx_buf_init(&out);
	kx_buf_init(&in);
	optind = 0;
	while ((ch = getopt_long(argc, argv, "b:r:", opts, NULL)) != -1) {
		if (ch == 'b')
			path = optarg;
		else if (ch == 'r')
			rpath = optarg;
		else
			bad = 1;
	}
	if (bad || path == NULL || rpath == NULL || optind != argc) {
		kx_ctl_err(cmd, "usage: kaga-ctl settle --book FILE "
		    "--readings FILE");
		return EXIT_USAGE;
	}
	if ((rc = load_book(cmd, path, 1, &b)) != 0)
		return rc;
	if (kx_ctl_slurp(rpath, FILE_MAX, &in) == -1) {
		kx_ctl_err(cmd, "%s: %s", rpath, strerror(errno));
		rc = EXIT_FAIL;
		goto done;
	}
	r = kx_readings_parse(&rd, in.len ? (const char *)in.data : "",
	    in.len, err, sizeof(err));
	if (r != KX_MKT_OK) {
		kx_ctl_err(cmd, "%s: %s", rpath, err);
		rc = r == KX_MKT_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
		goto done;
	}
	if ((rc = run_clear(cmd, &b, &res, &fills, &inc)) != 0)
		goto done;
	r = kx_settle(&lines, &nl, b.orders, fills, b.n, &res, rd.r, rd.nr,
	    rd.pts, rd.npts, b.params.pt_value, b.op);
	if (r != KX_MKT_OK) {
		if (r == KX_MKT_EINVAL)
			kx_ctl_err(cmd, "the operator key places an order or "
			    "receives points");
		else if (r == KX_MKT_EDUP)
			kx_ctl_err(cmd, "%s: two readings for one member", rpath);
		else
			kx_ctl_err(cmd, "%s", kx_mkt_strerror(r));
		rc = r == KX_MKT_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
		goto done;
	}
	put_price(&out, &res);
	kx_buf_puts(&out, ",\"lines\":[");
	for (i = 0; i < nl; i++) {
		kx_hex(hex, lines[i].member, KX_MKT_ID_LEN);
		kx_buf_printf(&out, "%s[\"%s\",%" PRId64 "]", i ? "," : "",
		    hex, lines[i].money);
	}
	kx_buf_puts(&out, "]}\n");
	rc = flush(cmd, &out);
 done:
	free(lines);
	free(inc);
	free(fills);
	kx_readings_free(&rd);
	kx_buf_free(&in);
	kx_buf_free(&out);
	kx_book_free(&b);
	return rc;
}
