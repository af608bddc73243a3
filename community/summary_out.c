/*
 * summary_out.c - the `summary` body, CSV and NGSI-LD exports of daily
 * aggregates, the body reader, and the JSON reader of per-member
 * records; see summary.h and docs/aggregates.md.
 *
 * Everything written is integers or exact decimal strings made from
 * integers: energy in kWh is "Wh / 1000" printed with three decimals by
 * integer division, never through a double. Readers take outside bytes:
 * JSON through kx_json_to_mp (strict), msgpack checked with kx_mp_check
 * and walked with the bounds-checked reader of mp.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "json.h"
#include "mp.h"
#include "summary.h"

#define KIND		"kaga-area-day"
#define MP_DEPTH	(KX_JSON_MAX_DEPTH + 1)

/* Derived columns (not totals): where they go among the totals. */
#define SELF_NAME	"self_sufficiency_permille"
#define MONEY_NAME	"money_local_permille"

/* ---- small writers ------------------------------------------------------ */

/* A JSON string: '"', '\\' and control bytes escaped, UTF-8 as is. */
static void
json_str(kx_buf_t *b, const char *s)
{
	const unsigned char	*c;

	kx_buf_putc(b, '"');
	for (c = (const unsigned char *)s; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			kx_buf_printf(b, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			kx_buf_printf(b, "\\u%04x", *c);
		else
			kx_buf_putc(b, *c);
	}
	kx_buf_putc(b, '"');
}

/* Exact kWh from Wh: "12.345". */
static void
kwh(kx_buf_t *b, int64_t wh)
{
	kx_buf_printf(b, "\"%" PRId64 ".%03" PRId64 "\"", wh / 1000,
	    wh % 1000);
}

/* The cells of `day`: [*a, *b). */
static void
day_range(const kx_summary_t *s, int32_t day, size_t *a, size_t *b)
{
	size_t	 i;

	for (i = 0; i < s->ncells && s->cells[i].day != day; i++)
		;
	*a = i;
	for (; i < s->ncells && s->cells[i].day == day; i++)
		;
	*b = i;
}

/* ---- the summary body --------------------------------------------------- */

static void
cell_json(kx_buf_t *b, const kx_summary_t *s, const kx_sum_cell_t *c)
{
	uint32_t	 a;
	int		 f;

	kx_buf_puts(b, "{\"areas\":[");
	for (a = 0; a < c->n_areas; a++) {
		if (a > 0)
			kx_buf_putc(b, ',');
		json_str(b, s->areas[c->first_area + a]);
	}
	kx_buf_printf(b, "],\"members\":%u", c->members);
	for (f = 0; f < KX_SUM_NFIELDS; f++)
		kx_buf_printf(b, ",\"%s\":%" PRId64, kx_sum_field_name(f),
		    c->total[f]);
	if (c->self_permille >= 0)
		kx_buf_printf(b, ",\"" SELF_NAME "\":%d", c->self_permille);
	else
		kx_buf_puts(b, ",\"" SELF_NAME "\":null");
	if (c->money_permille >= 0)
		kx_buf_printf(b, ",\"" MONEY_NAME "\":%d", c->money_permille);
	else
		kx_buf_puts(b, ",\"" MONEY_NAME "\":null");
	kx_buf_putc(b, '}');
}

int
kx_summary_json(kx_buf_t *out, const kx_summary_t *s, int32_t day,
    size_t from, size_t to, unsigned part, unsigned parts)
{
	char	 d[11];
	size_t	 i, n;
	int	 f;

	kx_sum_day_format(d, day);
	kx_buf_printf(out, "{\"kind\":\"" KIND "\",\"v\":1,\"day\":\"%s\","
	    "\"from\":%" PRId64 ",\"to\":%" PRId64 ",\"rule\":{"
	    "\"min_members\":%u,\"max_share_pct\":%u},\"noise\":", d,
	    kx_sum_day_start(day), kx_sum_day_start(day) + 86400,
	    s->min_members, s->max_share_pct);
	if (s->eps_milli == 0)
		kx_buf_puts(out, "null");
	else {
		kx_buf_printf(out, "{\"mechanism\":\"discrete-laplace\","
		    "\"epsilon_milli\":%" PRIu64 ",\"bounds\":{", s->eps_milli);
		for (f = 0; f < KX_SUM_NFIELDS; f++)
			kx_buf_printf(out, "%s\"%s\":%" PRIu64, f ? "," : "",
			    kx_sum_field_name(f), s->bound[f]);
		kx_buf_puts(out, "}}");
	}
	kx_buf_printf(out, ",\"part\":%u,\"parts\":%u,\"cells\":[", part,
	    parts);
	for (n = 0, i = from; i < to; i++)
		if (s->cells[i].published) {
			if (n++ > 0)
				kx_buf_putc(out, ',');
			cell_json(out, s, &s->cells[i]);
		}
	kx_buf_puts(out, "],\"suppressed\":[");
	for (n = 0, i = from; i < to; i++)
		if (!s->cells[i].published) {
			uint32_t	 a;

			for (a = 0; a < s->cells[i].n_areas; a++) {
				if (n++ > 0)
					kx_buf_putc(out, ',');
				json_str(out, s->areas[s->cells[i].first_area +
				    a]);
			}
		}
	kx_buf_puts(out, "]}");
	return out->oom ? -1 : 0;
}

int
kx_summary_json_day(kx_buf_t *out, const kx_summary_t *s, int32_t day)
{
	size_t	 a, b;

	day_range(s, day, &a, &b);
	return kx_summary_json(out, s, day, a, b, 1, 1);
}

/* Bytes of one cell's JSON in a part (with its comma). */
static size_t
cell_size(const kx_summary_t *s, const kx_sum_cell_t *c, kx_buf_t *tmp)
{
	uint32_t	 a;

	kx_buf_reset(tmp);
	if (c->published)
		cell_json(tmp, s, c);
	else
		for (a = 0; a < c->n_areas; a++)
			json_str(tmp, s->areas[c->first_area + a]);
	return tmp->len + 1;
}

int
kx_summary_bodies(const kx_summary_t *s, int32_t day, size_t max_json,
    kx_sum_body_cb *cb, void *arg)
{
	kx_buf_t	 tmp, mp;
	size_t		 a, b, i, hdr, used, *cut = NULL, ncut = 0, sz;
	char		 err[160];
	unsigned	 p;
	int		 rc = -1;

	if (max_json == 0)
		max_json = KX_SUM_BODY_MAX;
	day_range(s, day, &a, &b);
	if (a == b)
		return 0;
	kx_buf_init(&tmp);
	kx_buf_init(&mp);
	/* the header of an empty part, with the widest part numbers */
	if (kx_summary_json(&tmp, s, day, a, a, 99999, 99999) == -1 ||
	    (cut = calloc(b - a + 1, sizeof(*cut))) == NULL)
		goto out;
	hdr = tmp.len;
	cut[ncut++] = a;
	for (used = hdr, i = a; i < b; i++) {
		sz = cell_size(s, &s->cells[i], &tmp);
		if (tmp.oom || hdr + sz > max_json)
			goto out;	/* one cell does not fit a message */
		if (used + sz > max_json) {
			cut[ncut++] = i;
			used = hdr;
		}
		used += sz;
	}
	cut[ncut] = b;
	for (p = 0; p < ncut; p++) {
		kx_buf_reset(&tmp);
		kx_buf_reset(&mp);
		if (kx_summary_json(&tmp, s, day, cut[p], cut[p + 1], p + 1,
		    (unsigned)ncut) == -1 || kx_json_to_mp(&mp,
		    (const char *)tmp.data, tmp.len, NULL, err,
		    sizeof(err)) == -1)
			goto out;
		if (cb(arg, mp.data, mp.len, p + 1, (unsigned)ncut) != 0)
			goto out;
	}
	rc = (int)ncut;
out:
	free(cut);
	kx_buf_free(&tmp);
	kx_buf_free(&mp);
	return rc;
}

/* ---- reading a body ----------------------------------------------------- */

static int
perr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
perr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;
	char	*c;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		for (c = err; *c != '\0'; c++)	/* one printable line */
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
	}
	return KX_SUM_EPARSE;
}

static int
grow(kx_summary_t *s, size_t cells, size_t areas)
{
	if (s->ncells + cells > s->cap_cells) {
		size_t		 cap = s->cap_cells ? s->cap_cells : 16;
		kx_sum_cell_t	*c;

		while (cap < s->ncells + cells)
			cap *= 2;
		if ((c = reallocarray(s->cells, cap, sizeof(*c))) == NULL)
			return KX_SUM_ENOMEM;
		s->cells = c;
		s->cap_cells = cap;
	}
	if (s->nareas + areas > s->cap_areas) {
		size_t	 cap = s->cap_areas ? s->cap_areas : 16;
		char	(*a)[KX_SUM_AREA_MAX + 1];

		while (cap < s->nareas + areas)
			cap *= 2;
		if ((a = reallocarray(s->areas, cap, sizeof(*a))) == NULL)
			return KX_SUM_ENOMEM;
		s->areas = a;
		s->cap_areas = cap;
	}
	return KX_SUM_OK;
}

/* An area name from a str value into the next slot of s->areas. */
static int
take_area(kx_summary_t *s, const kx_mp_val_t *v)
{
	if (v->kind != KX_MP_STR || v->len == 0 || v->len > KX_SUM_AREA_MAX ||
	    memchr(v->ptr, 0, v->len) != NULL)
		return -1;
	memcpy(s->areas[s->nareas], v->ptr, v->len);
	s->areas[s->nareas][v->len] = '\0';
	s->nareas++;
	return 0;
}

static int
uint_at(const kx_mp_val_t *map, kx_mp_cur_t c, const char *key, uint64_t max,
    uint64_t *out)
{
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;

	if (kx_mp_map_get(map, c, key, &v, &a) != 1 || v.kind != KX_MP_UINT ||
	    v.u > max)
		return -1;
	*out = v.u;
	return 0;
}

/* A permille that may be nil: -1 for nil. */
static int
ratio_at(const kx_mp_val_t *map, kx_mp_cur_t c, const char *key,
    int32_t *out)
{
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;

	if (kx_mp_map_get(map, c, key, &v, &a) != 1)
		return -1;
	if (v.kind == KX_MP_NIL)
		*out = -1;
	else if (v.kind == KX_MP_UINT && v.u <= 1000)
		*out = (int32_t)v.u;
	else
		return -1;
	return 0;
}

static int
read_cell(kx_summary_t *s, int32_t day, kx_mp_cur_t *c, uint32_t idx,
    char *err, size_t errlen)
{
	kx_mp_val_t	 map, v, a;
	kx_mp_cur_t	 elems, after;
	kx_sum_cell_t	*cell;
	kx_mp_cur_t	 start = *c;
	uint64_t	 u;
	uint32_t	 i;
	int		 f, rc;

	if (kx_mp_skip(c, MP_DEPTH) != KX_MP_OK)	/* c: the next cell */
		return perr(err, errlen, "cells[%u]: unreadable", idx);
	if (kx_mp_read(&start, &map) != KX_MP_OK || map.kind != KX_MP_MAP)
		return perr(err, errlen, "cells[%u]: not an object", idx);
	elems = start;
	if (kx_mp_map_get(&map, elems, "areas", &v, &after) != 1 ||
	    v.kind != KX_MP_ARRAY || v.len == 0 || v.len > 65536)
		return perr(err, errlen, "cells[%u]: areas: must be a "
		    "non-empty array", idx);
	if ((rc = grow(s, 1, v.len)) != KX_SUM_OK)
		return rc;
	cell = &s->cells[s->ncells];
	memset(cell, 0, sizeof(*cell));
	cell->day = day;
	cell->published = true;
	cell->first_area = (uint32_t)s->nareas;
	for (i = 0; i < v.len; i++)
		if (kx_mp_read(&after, &a) != KX_MP_OK ||
		    take_area(s, &a) == -1) {
			s->nareas = cell->first_area;
			return perr(err, errlen, "cells[%u]: areas[%u]: must "
			    "be a name of 1 to 32 bytes", idx, i);
		}
	cell->n_areas = v.len;
	if (uint_at(&map, elems, "members", UINT32_MAX, &u) == -1)
		goto bad_members;
	cell->members = (uint32_t)u;
	for (f = 0; f < KX_SUM_NFIELDS; f++) {
		if (uint_at(&map, elems, kx_sum_field_name(f),
		    KX_SUM_TOTAL_MAX, &u) == -1) {
			s->nareas = cell->first_area;
			return perr(err, errlen, "cells[%u]: %s: must be an "
			    "unsigned integer below 2^53", idx,
			    kx_sum_field_name(f));
		}
		cell->total[f] = (int64_t)u;
	}
	if (ratio_at(&map, elems, SELF_NAME, &cell->self_permille) == -1 ||
	    ratio_at(&map, elems, MONEY_NAME, &cell->money_permille) == -1) {
		s->nareas = cell->first_area;
		return perr(err, errlen, "cells[%u]: a permille must be 0 to "
		    "1000 or null", idx);
	}
	s->ncells++;
	return KX_SUM_OK;
bad_members:
	s->nareas = cell->first_area;
	return perr(err, errlen, "cells[%u]: members: must be an unsigned "
	    "integer", idx);
}

static int
read_noise(kx_summary_t *s, const kx_mp_val_t *top, kx_mp_cur_t elems,
    char *err, size_t errlen)
{
	kx_mp_val_t	 v, bm;
	kx_mp_cur_t	 a, bc;
	uint64_t	 u;
	int		 f;

	if (kx_mp_map_get(top, elems, "noise", &v, &a) != 1 ||
	    v.kind == KX_MP_NIL) {
		s->eps_milli = 0;
		return KX_SUM_OK;
	}
	if (v.kind != KX_MP_MAP || uint_at(&v, a, "epsilon_milli",
	    KX_SUM_EPS_MAX, &u) == -1 || u == 0)
		return perr(err, errlen, "noise: epsilon_milli: must be 1 to "
		    "1000000");
	s->eps_milli = u;
	if (kx_mp_map_get(&v, a, "bounds", &bm, &bc) != 1 ||
	    bm.kind != KX_MP_MAP)
		return perr(err, errlen, "noise: bounds: missing");
	for (f = 0; f < KX_SUM_NFIELDS; f++) {
		if (uint_at(&bm, bc, kx_sum_field_name(f), KX_SUM_BOUND_MAX,
		    &u) == -1)
			return perr(err, errlen, "noise: bounds: %s: must be "
			    "an unsigned integer", kx_sum_field_name(f));
		s->bound[f] = u;
	}
	return KX_SUM_OK;
}

/* Cells by (day, first area): each area is in one cell of its day. */
static int
cell_cmp(const void *a, const void *b, void *arg)
{
	const kx_sum_cell_t	*x = a, *y = b;
	const kx_summary_t	*s = arg;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return strcmp(s->areas[x->first_area], s->areas[y->first_area]);
}

int
kx_summary_add_body(kx_summary_t *s, const uint8_t *mp, size_t len,
    char *err, size_t errlen)
{
	kx_mp_cur_t	 c, elems, a;
	kx_mp_val_t	 top, v, x;
	int32_t		 day;
	uint64_t	 u;
	uint32_t	 i;
	size_t		 ncells0 = s->ncells, nareas0 = s->nareas;
	int		 rc;

	kx_mp_cur_init(&c, mp, len);
	if (kx_mp_check(&c, MP_DEPTH, true) != KX_MP_OK ||
	    kx_mp_left(&c) != 0)
		return perr(err, errlen, "body: malformed msgpack");
	kx_mp_cur_init(&c, mp, len);
	if (kx_mp_read(&c, &top) != KX_MP_OK || top.kind != KX_MP_MAP)
		return perr(err, errlen, "body: not a map");
	elems = c;
	if (kx_mp_map_get(&top, elems, "kind", &v, &a) != 1 ||
	    v.kind != KX_MP_STR || v.len != strlen(KIND) ||
	    memcmp(v.ptr, KIND, v.len) != 0)
		return perr(err, errlen, "kind: must be \"" KIND "\"");
	if (kx_mp_map_get(&top, elems, "day", &v, &a) != 1 ||
	    v.kind != KX_MP_STR || kx_sum_day_parse((const char *)v.ptr,
	    v.len, &day) == -1)
		return perr(err, errlen, "day: must be YYYY-MM-DD");
	if (kx_mp_map_get(&top, elems, "rule", &v, &a) != 1 ||
	    v.kind != KX_MP_MAP ||
	    uint_at(&v, a, "min_members", UINT32_MAX, &u) == -1)
		return perr(err, errlen, "rule: min_members: missing");
	s->min_members = (uint32_t)u;
	if (uint_at(&v, a, "max_share_pct", 100, &u) == -1)
		return perr(err, errlen, "rule: max_share_pct: missing");
	s->max_share_pct = (uint32_t)u;
	if ((rc = read_noise(s, &top, elems, err, errlen)) != KX_SUM_OK)
		return rc;
	if (kx_mp_map_get(&top, elems, "cells", &v, &a) != 1 ||
	    v.kind != KX_MP_ARRAY)
		return perr(err, errlen, "cells: must be an array");
	for (i = 0; i < v.len; i++)
		if ((rc = read_cell(s, day, &a, i, err, errlen)) != KX_SUM_OK)
			goto fail;
	if (kx_mp_map_get(&top, elems, "suppressed", &v, &a) == 1) {
		if (v.kind != KX_MP_ARRAY) {
			rc = perr(err, errlen, "suppressed: must be an array");
			goto fail;
		}
		if ((rc = grow(s, v.len, v.len)) != KX_SUM_OK)
			goto fail;
		for (i = 0; i < v.len; i++) {
			kx_sum_cell_t	*cell = &s->cells[s->ncells];

			memset(cell, 0, sizeof(*cell));
			cell->day = day;
			cell->first_area = (uint32_t)s->nareas;
			cell->n_areas = 1;
			cell->self_permille = cell->money_permille = -1;
			if (kx_mp_read(&a, &x) != KX_MP_OK ||
			    take_area(s, &x) == -1) {
				rc = perr(err, errlen, "suppressed[%u]: must "
				    "be a name of 1 to 32 bytes", i);
				goto fail;
			}
			s->ncells++;
		}
	}
	/* parts list published cells before suppressed ones: area order */
	if (s->ncells > 1)
		qsort_r(s->cells, s->ncells, sizeof(*s->cells), cell_cmp, s);
	return KX_SUM_OK;
fail:
	s->ncells = ncells0;
	s->nareas = nareas0;
	return rc;
}

/* ---- CSV ---------------------------------------------------------------- */

/* A cell's label: its areas joined with '+'. */
static void
label(kx_buf_t *b, const kx_summary_t *s, const kx_sum_cell_t *c)
{
	uint32_t	 a;

	for (a = 0; a < c->n_areas; a++) {
		if (a > 0)
			kx_buf_putc(b, '+');
		kx_buf_puts(b, s->areas[c->first_area + a]);
	}
}

/* RFC 4180: quoted when it holds a comma, a quote or a line break. */
static void
csv_field(kx_buf_t *b, const uint8_t *p, size_t n)
{
	size_t	 i;

	if (memchr(p, ',', n) == NULL && memchr(p, '"', n) == NULL &&
	    memchr(p, '\n', n) == NULL && memchr(p, '\r', n) == NULL) {
		kx_buf_append(b, p, n);
		return;
	}
	kx_buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		if (p[i] == '"')
			kx_buf_putc(b, '"');
		kx_buf_putc(b, p[i]);
	}
	kx_buf_putc(b, '"');
}

int
kx_summary_csv(kx_buf_t *out, const kx_summary_t *s)
{
	const kx_sum_cell_t	*c;
	kx_buf_t		 l;
	char			 d[11];
	size_t			 i;
	int			 f;

	kx_buf_init(&l);
	kx_buf_puts(out, "day,cell,status,members");
	for (f = 0; f < KX_SUM_NFIELDS; f++) {
		kx_buf_printf(out, ",%s", kx_sum_field_name(f));
		if (f == KX_SUM_LOCAL)
			kx_buf_puts(out, "," SELF_NAME);
		if (f == KX_SUM_MONEY_GRID)
			kx_buf_puts(out, "," MONEY_NAME);
	}
	kx_buf_puts(out, ",epsilon_milli\n");
	for (i = 0; i < s->ncells; i++) {
		c = &s->cells[i];
		kx_sum_day_format(d, c->day);
		kx_buf_printf(out, "%s,", d);
		kx_buf_reset(&l);
		label(&l, s, c);
		csv_field(out, l.data, l.len);
		if (!c->published) {
			/* status, then members, 12 numbers and epsilon empty */
			kx_buf_puts(out, ",suppressed,,,,,,,,,,,,,,\n");
			continue;
		}
		kx_buf_printf(out, ",published,%u", c->members);
		for (f = 0; f < KX_SUM_NFIELDS; f++) {
			kx_buf_printf(out, ",%" PRId64, c->total[f]);
			if (f == KX_SUM_LOCAL) {
				kx_buf_putc(out, ',');
				if (c->self_permille >= 0)
					kx_buf_printf(out, "%d",
					    c->self_permille);
			}
			if (f == KX_SUM_MONEY_GRID) {
				kx_buf_putc(out, ',');
				if (c->money_permille >= 0)
					kx_buf_printf(out, "%d",
					    c->money_permille);
			}
		}
		kx_buf_printf(out, ",%" PRIu64 "\n", s->eps_milli);
	}
	kx_buf_free(&l);
	return out->oom || l.oom ? -1 : 0;
}

/* ---- NGSI-LD ------------------------------------------------------------ */

#define CTX_ENERGY	"https://raw.githubusercontent.com/smart-data-models/" \
			"dataModel.Energy/master/context.jsonld"
#define CTX_CORE	"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context." \
			"jsonld"
/* Our own terms, inline: no document to host, no network to fetch. */
#define CTX_KAGA	"{\"kaga\":\"urn:kaga-exchange:ngsi-ld:\"," \
	"\"KagaLocalMarket\":\"kaga:KagaLocalMarket\"," \
	"\"KagaCommunityCredits\":\"kaga:KagaCommunityCredits\"," \
	"\"refACMeasurement\":{\"@id\":\"kaga:refACMeasurement\"," \
	"\"@type\":\"@id\"}," \
	"\"numberOfMembers\":\"kaga:numberOfMembers\"," \
	"\"epsilonMilli\":\"kaga:epsilonMilli\"," \
	"\"localEnergyBought\":\"kaga:localEnergyBought\"," \
	"\"localEnergySold\":\"kaga:localEnergySold\"," \
	"\"localEnergySupplied\":\"kaga:localEnergySupplied\"," \
	"\"selfSufficiency\":\"kaga:selfSufficiency\"," \
	"\"moneyPaidToMembers\":\"kaga:moneyPaidToMembers\"," \
	"\"moneyPaidToGrid\":\"kaga:moneyPaidToGrid\"," \
	"\"moneyKeptLocalShare\":\"kaga:moneyKeptLocalShare\"," \
	"\"healthPointsIssued\":\"kaga:healthPointsIssued\"," \
	"\"healthPointsRedeemed\":\"kaga:healthPointsRedeemed\"," \
	"\"volunteerMinutes\":\"kaga:volunteerMinutes\"," \
	"\"unitText\":\"https://schema.org/unitText\"}"

/* The entity id: urn:ngsi-ld:TYPE:kaga-exchange:DAY:AREA+AREA, each
 * area percent-encoded outside A-Z a-z 0-9 - . _ ~ */
static void
entity_id(kx_buf_t *b, const char *type, const kx_summary_t *s,
    const kx_sum_cell_t *c)
{
	const unsigned char	*p;
	char			 d[11];
	uint32_t		 a;

	kx_sum_day_format(d, c->day);
	kx_buf_printf(b, "\"urn:ngsi-ld:%s:kaga-exchange:%s:", type, d);
	for (a = 0; a < c->n_areas; a++) {
		if (a > 0)
			kx_buf_putc(b, '+');
		for (p = (const unsigned char *)s->areas[c->first_area + a];
		    *p != '\0'; p++)
			if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' &&
			    *p <= 'z') || (*p >= '0' && *p <= '9') ||
			    *p == '-' || *p == '.' || *p == '_' || *p == '~')
				kx_buf_putc(b, *p);
			else
				kx_buf_printf(b, "%%%02X", *p);
	}
	kx_buf_putc(b, '"');
}

/* id, type, name, areaServed, the observation period; an open object. */
static void
entity_head(kx_buf_t *b, const char *type, const kx_summary_t *s,
    const kx_sum_cell_t *c, kx_buf_t *lab)
{
	char	 from[11], to[11];

	kx_sum_day_format(from, c->day - 1);	/* 00:00 JST = 15:00 UTC */
	kx_sum_day_format(to, c->day);
	kx_buf_puts(b, "{\"id\":");
	entity_id(b, type, s, c);
	kx_buf_printf(b, ",\"type\":\"%s\",\"name\":{\"type\":\"Property\","
	    "\"value\":", type);
	kx_buf_append(b, lab->data, lab->len);
	kx_buf_puts(b, "},\"areaServed\":{\"type\":\"Property\",\"value\":");
	kx_buf_append(b, lab->data, lab->len);
	kx_buf_printf(b, "},\"dataProvider\":{\"type\":\"Property\",\"value\":"
	    "\"kaga-exchange\"},\"dateObservedFrom\":{\"type\":\"Property\","
	    "\"value\":{\"@type\":\"DateTime\",\"@value\":\"%sT15:00:00Z\"}},"
	    "\"dateObservedTo\":{\"type\":\"Property\",\"value\":{\"@type\":"
	    "\"DateTime\",\"@value\":\"%sT15:00:00Z\"}}", from, to);
}

static void
prop_kwh(kx_buf_t *b, const char *name, int64_t wh)
{
	kx_buf_printf(b, ",\"%s\":{\"type\":\"Property\",\"value\":", name);
	kwh(b, wh);
	kx_buf_puts(b, ",\"unitCode\":\"KWH\"}");
}

static void
prop_int(kx_buf_t *b, const char *name, int64_t v, const char *unit_code,
    const char *unit_text)
{
	kx_buf_printf(b, ",\"%s\":{\"type\":\"Property\",\"value\":%" PRId64,
	    name, v);
	if (unit_code != NULL)
		kx_buf_printf(b, ",\"unitCode\":\"%s\"", unit_code);
	if (unit_text != NULL)
		kx_buf_printf(b, ",\"unitText\":{\"type\":\"Property\","
		    "\"value\":\"%s\"}", unit_text);
	kx_buf_putc(b, '}');
}

static void
entity_tail(kx_buf_t *b, const kx_summary_t *s, const kx_sum_cell_t *c,
    bool custom)
{
	if (custom) {
		prop_int(b, "numberOfMembers", c->members, NULL, NULL);
		prop_int(b, "epsilonMilli", (int64_t)s->eps_milli, NULL,
		    NULL);
		kx_buf_puts(b, ",\"refACMeasurement\":{\"type\":"
		    "\"Relationship\",\"object\":");
		entity_id(b, "ACMeasurement", s, c);
		kx_buf_putc(b, '}');
	}
	kx_buf_puts(b, ",\"@context\":[\"" CTX_ENERGY "\"");
	if (custom)
		kx_buf_puts(b, "," CTX_KAGA);
	kx_buf_puts(b, ",\"" CTX_CORE "\"]}");
}

int
kx_summary_ngsi(kx_buf_t *out, const kx_summary_t *s)
{
	const kx_sum_cell_t	*c;
	kx_buf_t		 lab, name;
	size_t			 i, n = 0;

	kx_buf_init(&lab);
	kx_buf_init(&name);
	kx_buf_puts(out, "[");
	for (i = 0; i < s->ncells; i++) {
		c = &s->cells[i];
		if (!c->published)
			continue;
		kx_buf_reset(&name);
		label(&name, s, c);
		kx_buf_cstr(&name);
		kx_buf_reset(&lab);
		json_str(&lab, name.data ? (const char *)name.data : "");

		kx_buf_puts(out, n++ ? ",\n" : "\n");
		entity_head(out, "ACMeasurement", s, c, &lab);
		prop_kwh(out, "totalActiveEnergyImport",
		    c->total[KX_SUM_IMPORT]);
		prop_kwh(out, "totalActiveEnergyExport",
		    c->total[KX_SUM_EXPORT]);
		entity_tail(out, s, c, false);

		kx_buf_puts(out, ",\n");
		entity_head(out, "KagaLocalMarket", s, c, &lab);
		prop_kwh(out, "localEnergyBought", c->total[KX_SUM_BOUGHT]);
		prop_kwh(out, "localEnergySold", c->total[KX_SUM_SOLD]);
		prop_kwh(out, "localEnergySupplied", c->total[KX_SUM_LOCAL]);
		if (c->self_permille >= 0)
			prop_int(out, "selfSufficiency", c->self_permille,
			    "NX", NULL);
		prop_int(out, "moneyPaidToMembers",
		    c->total[KX_SUM_MONEY_LOCAL], NULL,
		    "milli-sen (1 JPY = 100000)");
		prop_int(out, "moneyPaidToGrid", c->total[KX_SUM_MONEY_GRID],
		    NULL, "milli-sen (1 JPY = 100000)");
		if (c->money_permille >= 0)
			prop_int(out, "moneyKeptLocalShare", c->money_permille,
			    "NX", NULL);
		entity_tail(out, s, c, true);

		kx_buf_puts(out, ",\n");
		entity_head(out, "KagaCommunityCredits", s, c, &lab);
		prop_int(out, "healthPointsIssued",
		    c->total[KX_SUM_PTS_ISSUED], NULL, "points");
		prop_int(out, "healthPointsRedeemed",
		    c->total[KX_SUM_PTS_REDEEMED], NULL, "points");
		prop_int(out, "volunteerMinutes", c->total[KX_SUM_MINUTES],
		    "MIN", NULL);
		entity_tail(out, s, c, true);
	}
	kx_buf_puts(out, n ? "\n]\n" : "]\n");
	kx_buf_free(&lab);
	kx_buf_free(&name);
	return out->oom || lab.oom || name.oom ? -1 : 0;
}

/* ---- per-member records from JSON --------------------------------------- */

static int
ierr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
ierr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;
	char	*c;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		for (c = err; *c != '\0'; c++)	/* one printable line */
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
	}
	return KX_SUM_EINVAL;
}

/* The numeric fields of a record, in the names of the exports. */
static uint64_t *
num_field(kx_sum_input_t *r, const uint8_t *k, size_t len)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} f[] = {
		{ "import_wh", offsetof(kx_sum_input_t, imp_wh) },
		{ "export_wh", offsetof(kx_sum_input_t, exp_wh) },
		{ "bought_local_wh", offsetof(kx_sum_input_t, bought_wh) },
		{ "sold_local_wh", offsetof(kx_sum_input_t, sold_wh) },
		{ "money_local_msen", offsetof(kx_sum_input_t, money_local) },
		{ "money_grid_msen", offsetof(kx_sum_input_t, money_grid) },
		{ "points_issued", offsetof(kx_sum_input_t, pts_issued) },
		{ "points_redeemed", offsetof(kx_sum_input_t, pts_redeemed) },
		{ "volunteer_minutes", offsetof(kx_sum_input_t, minutes) },
	};
	size_t	 i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strlen(f[i].name) == len && memcmp(f[i].name, k, len) == 0)
			return (uint64_t *)(void *)((char *)r + f[i].off);
	return NULL;
}

static bool
key_is(const kx_mp_val_t *k, const char *s)
{
	return k->len == strlen(s) && memcmp(k->ptr, s, k->len) == 0;
}

static int
parse_record(kx_sum_input_t *r, kx_mp_cur_t *c, size_t idx, char *err,
    size_t errlen)
{
	kx_mp_val_t	 map, k, v;
	uint64_t	*num;
	uint32_t	 i;
	bool		 has_member = false, has_day = false;

	memset(r, 0, sizeof(*r));
	if (kx_mp_read(c, &map) != KX_MP_OK || map.kind != KX_MP_MAP)
		return ierr(err, errlen, "[%zu]: must be an object", idx);
	for (i = 0; i < map.len; i++) {
		if (kx_mp_read(c, &k) != KX_MP_OK || k.kind != KX_MP_STR ||
		    kx_mp_read(c, &v) != KX_MP_OK)
			return ierr(err, errlen, "[%zu]: unreadable", idx);
		if ((num = num_field(r, k.ptr, k.len)) != NULL) {
			if (v.kind != KX_MP_UINT || v.u > KX_SUM_VALUE_MAX)
				return ierr(err, errlen, "[%zu].%.*s: must be "
				    "an unsigned integer at most 10^15", idx,
				    (int)k.len, (const char *)k.ptr);
			*num = v.u;
		} else if (key_is(&k, "member")) {
			char	 hex[65];

			if (v.kind == KX_MP_STR && v.len == 64) {
				memcpy(hex, v.ptr, 64);
				hex[64] = '\0';
			}
			if (v.kind != KX_MP_STR || v.len != 64 ||
			    kx_unhex(r->member, 32, hex) == -1)
				return ierr(err, errlen, "[%zu].member: must "
				    "be 64 lowercase hex digits", idx);
			has_member = true;
		} else if (key_is(&k, "area")) {
			if (v.kind != KX_MP_STR || v.len > KX_SUM_AREA_MAX ||
			    memchr(v.ptr, 0, v.len) != NULL)
				return ierr(err, errlen, "[%zu].area: must be "
				    "a string of at most 32 bytes", idx);
			memcpy(r->area, v.ptr, v.len);
			r->area[v.len] = '\0';
		} else if (key_is(&k, "day")) {
			if (v.kind != KX_MP_STR || kx_sum_day_parse(
			    (const char *)v.ptr, v.len, &r->day) == -1)
				return ierr(err, errlen, "[%zu].day: must be "
				    "a date, YYYY-MM-DD", idx);
			has_day = true;
		} else
			return ierr(err, errlen, "[%zu].%.*s: unknown field",
			    idx, (int)(k.len > 40 ? 40 : k.len),
			    (const char *)k.ptr);
	}
	if (!has_member)
		return ierr(err, errlen, "[%zu].member: missing", idx);
	if (!has_day)
		return ierr(err, errlen, "[%zu].day: missing", idx);
	return KX_SUM_OK;
}

int
kx_sum_inputs_parse(kx_sum_input_t **in, size_t *n, const char *json,
    size_t len, char *err, size_t errlen)
{
	kx_buf_t	 mp;
	kx_mp_cur_t	 c;
	kx_mp_val_t	 top;
	kx_sum_input_t	*r = NULL;
	char		 e[256];
	uint32_t	 i;
	int		 rc;

	*in = NULL;
	*n = 0;
	kx_buf_init(&mp);
	if (kx_json_to_mp(&mp, json, len, NULL, e, sizeof(e)) == -1) {
		rc = mp.oom ? KX_SUM_ENOMEM : ierr(err, errlen, "%s", e);
		goto out;
	}
	kx_mp_cur_init(&c, mp.data, mp.len);
	if (kx_mp_check(&c, MP_DEPTH, false) != KX_MP_OK) {
		rc = ierr(err, errlen, "malformed");
		goto out;
	}
	kx_mp_cur_init(&c, mp.data, mp.len);
	if (kx_mp_read(&c, &top) != KX_MP_OK || top.kind != KX_MP_ARRAY) {
		rc = ierr(err, errlen, "must be a JSON array of member "
		    "records");
		goto out;
	}
	if ((r = calloc(top.len ? top.len : 1, sizeof(*r))) == NULL) {
		rc = KX_SUM_ENOMEM;
		goto out;
	}
	for (i = 0; i < top.len; i++)
		if ((rc = parse_record(&r[i], &c, i, err, errlen)) !=
		    KX_SUM_OK)
			goto out;
	*in = r;
	*n = top.len;
	r = NULL;
	rc = KX_SUM_OK;
out:
	free(r);
	kx_buf_free(&mp);
	return rc;
}
