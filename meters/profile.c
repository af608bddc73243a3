/*
 * profile.c - register decoders, fixed-point conversion and the built-in
 * table profiles (Eastron SDM630, SDM120).
 *
 * Everything here is pure except kx_profile_read, which goes through the
 * caller's transport function; the decoders never read past the count
 * they are given. See profile.h for the units.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define FIXED_LIMIT	((int64_t)1 << 62)	/* |value| bound, any unit */

const char *
kx_meter_strerror(int err)
{
	switch (err) {
	case KX_METER_OK:		return "ok";
	case KX_METER_ENOTIMPL:		return "value not implemented";
	case KX_METER_EIMPLAUSIBLE:	return "implausible value";
	case KX_METER_ETYPE:		return "unknown register type";
	case KX_METER_ESHORT:		return "too few registers";
	case KX_METER_EIO:		return "no answer from the device";
	case KX_METER_EEXC:		return "device answered with an "
					    "exception";
	case KX_METER_ENOSUNS:		return "no SunSpec marker at 40000, "
					    "0 or 50000";
	case KX_METER_ELOOP:		return "SunSpec model chain loops";
	case KX_METER_ETOOMANY:		return "more than 64 SunSpec models";
	case KX_METER_ERANGE:		return "SunSpec chain runs past "
					    "register 65535";
	case KX_METER_ENODATA:		return "no usable value read";
	case KX_METER_EARG:		return "bad argument";
	case KX_METER_ENOMEM:		return "out of memory";
	default:			return "unknown error";
	}
}

size_t
kx_rtype_words(kx_rtype_t type)
{
	switch (type) {
	case KX_T_U16:
	case KX_T_I16:
	case KX_T_SUNSSF:
		return 1;
	case KX_T_U32:
	case KX_T_I32:
	case KX_T_FLOAT32:
	case KX_T_ACC32:
		return 2;
	}
	return 0;
}

/* Assembles A..D (A most significant) from two registers. -1: bad order. */
static int
get32(uint32_t *v, const uint16_t *r, kx_word_order_t order)
{
	uint32_t	 b0 = r[0] >> 8, b1 = r[0] & 0xff;
	uint32_t	 b2 = r[1] >> 8, b3 = r[1] & 0xff;

	switch (order) {
	case KX_O_ABCD:
		*v = b0 << 24 | b1 << 16 | b2 << 8 | b3;
		return 0;
	case KX_O_DCBA:
		*v = b3 << 24 | b2 << 16 | b1 << 8 | b0;
		return 0;
	case KX_O_BADC:
		*v = b1 << 24 | b0 << 16 | b3 << 8 | b2;
		return 0;
	case KX_O_CDAB:
		*v = b2 << 24 | b3 << 16 | b0 << 8 | b1;
		return 0;
	}
	return -1;
}

void
kx_reg_encode32(uint16_t out[2], uint32_t v, kx_word_order_t order)
{
	uint16_t	 a = v >> 24, b = (v >> 16) & 0xff;
	uint16_t	 c = (v >> 8) & 0xff, d = v & 0xff;

	switch (order) {
	case KX_O_ABCD:
		out[0] = a << 8 | b;
		out[1] = c << 8 | d;
		break;
	case KX_O_DCBA:
		out[0] = d << 8 | c;
		out[1] = b << 8 | a;
		break;
	case KX_O_BADC:
		out[0] = b << 8 | a;
		out[1] = d << 8 | c;
		break;
	case KX_O_CDAB:
		out[0] = c << 8 | d;
		out[1] = a << 8 | b;
		break;
	}
}

void
kx_reg_encode_float(uint16_t out[2], float f, kx_word_order_t order)
{
	uint32_t	 v;

	memcpy(&v, &f, sizeof(v));
	kx_reg_encode32(out, v, order);
}

int
kx_reg_decode(kx_val_t *out, const uint16_t *regs, size_t n,
    kx_rtype_t type, kx_word_order_t order)
{
	size_t		 words = kx_rtype_words(type);
	uint32_t	 v = 0;
	float		 f;

	memset(out, 0, sizeof(*out));
	if (words == 0)
		return KX_METER_ETYPE;
	if (n < words)
		return KX_METER_ESHORT;
	if (words == 2 && get32(&v, regs, order) == -1)
		return KX_METER_ETYPE;
	switch (type) {
	case KX_T_U16:
		if (regs[0] == 0xFFFF)
			return KX_METER_ENOTIMPL;
		out->i = regs[0];
		break;
	case KX_T_I16:
	case KX_T_SUNSSF:
		if (regs[0] == 0x8000)
			return KX_METER_ENOTIMPL;
		out->i = (int16_t)regs[0];
		break;
	case KX_T_U32:
		if (v == 0xFFFFFFFFu)
			return KX_METER_ENOTIMPL;
		out->i = v;
		break;
	case KX_T_I32:
		if (v == 0x80000000u)
			return KX_METER_ENOTIMPL;
		out->i = (int32_t)v;
		break;
	case KX_T_ACC32:
		if (v == 0)
			return KX_METER_ENOTIMPL;
		out->i = v;
		break;
	case KX_T_FLOAT32:
		memcpy(&f, &v, sizeof(f));
		if (isnan(f))
			return KX_METER_ENOTIMPL;
		out->is_float = 1;
		out->f = f;
		break;
	}
	return KX_METER_OK;
}

int
kx_val_to_fixed(int64_t *out, const kx_val_t *v, int exp10)
{
	int64_t	 p = 1, q, rem;
	double	 x, pd = 1.0;
	int	 i, e = exp10 < 0 ? -exp10 : exp10;

	*out = 0;
	if (e > 18)
		return KX_METER_EIMPLAUSIBLE;
	for (i = 0; i < e; i++) {
		p *= 10;
		pd *= 10.0;
	}
	if (v->is_float) {
		if (!isfinite(v->f))
			return KX_METER_EIMPLAUSIBLE;
		x = exp10 >= 0 ? v->f * pd : v->f / pd;
		if (!(x < (double)FIXED_LIMIT && x > -(double)FIXED_LIMIT))
			return KX_METER_EIMPLAUSIBLE;
		/* round half away from zero (no libm in the link) */
		*out = x >= 0 ? (int64_t)(x + 0.5) : -(int64_t)(-x + 0.5);
		return KX_METER_OK;
	}
	if (v->i <= -FIXED_LIMIT || v->i >= FIXED_LIMIT)
		return KX_METER_EIMPLAUSIBLE;
	if (exp10 >= 0) {
		if (v->i != 0 && (v->i > FIXED_LIMIT / p ||
		    v->i < -FIXED_LIMIT / p))
			return KX_METER_EIMPLAUSIBLE;
		*out = v->i * p;
		if (*out >= FIXED_LIMIT || *out <= -FIXED_LIMIT) {
			*out = 0;
			return KX_METER_EIMPLAUSIBLE;
		}
		return KX_METER_OK;
	}
	q = v->i / p;
	rem = v->i % p;
	if (rem < 0)
		rem = -rem;
	if (2 * rem >= p)
		q += v->i < 0 ? -1 : 1;
	*out = q;
	return KX_METER_OK;
}

/* The field and flag of a quantity; NULL for KX_Q_NONE. */
static int64_t *
field(kx_reading_t *r, kx_quantity_t q, uint32_t *flag)
{
	switch (q) {
	case KX_Q_NONE:
		break;
	case KX_Q_POWER_W:	*flag = KX_RD_POWER; return &r->power_w;
	case KX_Q_IMPORT_WH:	*flag = KX_RD_IMPORT; return &r->import_wh;
	case KX_Q_EXPORT_WH:	*flag = KX_RD_EXPORT; return &r->export_wh;
	case KX_Q_VOLT_L1:
	case KX_Q_VOLT_L2:
	case KX_Q_VOLT_L3:
		*flag = KX_RD_VOLT(q - KX_Q_VOLT_L1);
		return &r->voltage_mv[q - KX_Q_VOLT_L1];
	case KX_Q_CURR_L1:
	case KX_Q_CURR_L2:
	case KX_Q_CURR_L3:
		*flag = KX_RD_CURR(q - KX_Q_CURR_L1);
		return &r->current_ma[q - KX_Q_CURR_L1];
	case KX_Q_POWER_L1:
	case KX_Q_POWER_L2:
	case KX_Q_POWER_L3:
		*flag = KX_RD_PPOW(q - KX_Q_POWER_L1);
		return &r->phase_power_w[q - KX_Q_POWER_L1];
	case KX_Q_FREQ:		*flag = KX_RD_FREQ; return &r->freq_mhz;
	case KX_Q_PV_W:		*flag = KX_RD_PV; return &r->pv_w;
	case KX_Q_PV_WH:	*flag = KX_RD_PV_WH; return &r->pv_wh;
	case KX_Q_BATT_W:	*flag = KX_RD_BATT; return &r->battery_w;
	case KX_Q_SOC:		*flag = KX_RD_SOC; return &r->soc_permille;
	}
	*flag = 0;
	return NULL;
}

void
kx_reading_set(kx_reading_t *r, kx_quantity_t q, int64_t value)
{
	uint32_t	 flag;
	int64_t		*f = field(r, q, &flag);

	if (f == NULL || (r->flags & flag) != 0)
		return;
	*f = value;
	r->flags |= flag;
}

int
kx_reading_has(const kx_reading_t *r, kx_quantity_t q)
{
	uint32_t	 flag;

	(void)field((kx_reading_t *)(uintptr_t)r, q, &flag);
	return flag != 0 && (r->flags & flag) != 0;
}

int
kx_point_apply(kx_reading_t *r, const kx_point_t *p, const uint16_t *regs,
    size_t n, int sf)
{
	kx_val_t	 v;
	int64_t		 x;
	int		 rc;

	if ((rc = kx_reg_decode(&v, regs, n, p->type, p->order)) != KX_METER_OK)
		return rc;
	if ((rc = kx_val_to_fixed(&x, &v, p->scale + sf)) != KX_METER_OK)
		return rc;
	kx_reading_set(r, p->q, x);
	return KX_METER_OK;
}

#define SDM(q, a, s, u)	{ q, 4, a, KX_T_FLOAT32, KX_O_ABCD, s, -1, u }

static const kx_point_t sdm630_points[] = {
	SDM(KX_Q_VOLT_L1, 0x0000, 3, "V"),
	SDM(KX_Q_VOLT_L2, 0x0002, 3, "V"),
	SDM(KX_Q_VOLT_L3, 0x0004, 3, "V"),
	SDM(KX_Q_CURR_L1, 0x0006, 3, "A"),
	SDM(KX_Q_CURR_L2, 0x0008, 3, "A"),
	SDM(KX_Q_CURR_L3, 0x000A, 3, "A"),
	SDM(KX_Q_POWER_L1, 0x000C, 0, "W"),
	SDM(KX_Q_POWER_L2, 0x000E, 0, "W"),
	SDM(KX_Q_POWER_L3, 0x0010, 0, "W"),
	SDM(KX_Q_POWER_W, 0x0034, 0, "W"),
	SDM(KX_Q_FREQ, 0x0046, 3, "Hz"),
	SDM(KX_Q_IMPORT_WH, 0x0048, 3, "kWh"),
	SDM(KX_Q_EXPORT_WH, 0x004A, 3, "kWh"),
};

static const kx_point_t sdm120_points[] = {
	SDM(KX_Q_VOLT_L1, 0x0000, 3, "V"),
	SDM(KX_Q_CURR_L1, 0x0006, 3, "A"),
	SDM(KX_Q_POWER_L1, 0x000C, 0, "W"),
	SDM(KX_Q_POWER_W, 0x000C, 0, "W"),
	SDM(KX_Q_FREQ, 0x0046, 3, "Hz"),
	SDM(KX_Q_IMPORT_WH, 0x0048, 3, "kWh"),
	SDM(KX_Q_EXPORT_WH, 0x004A, 3, "kWh"),
};

static const kx_profile_t profiles[] = {
	{ "sdm630", KX_PROFILE_TABLE, sdm630_points,
	    sizeof(sdm630_points) / sizeof(sdm630_points[0]), 3 },
	{ "sdm120", KX_PROFILE_TABLE, sdm120_points,
	    sizeof(sdm120_points) / sizeof(sdm120_points[0]), 1 },
	{ "sunspec", KX_PROFILE_SUNSPEC, NULL, 0, 0 },
};

static const char *const quantity_names[] = {
	[KX_Q_NONE] = NULL,
	[KX_Q_POWER_W] = "power_w",
	[KX_Q_IMPORT_WH] = "import_wh",
	[KX_Q_EXPORT_WH] = "export_wh",
	[KX_Q_VOLT_L1] = "voltage_l1_mv",
	[KX_Q_VOLT_L2] = "voltage_l2_mv",
	[KX_Q_VOLT_L3] = "voltage_l3_mv",
	[KX_Q_CURR_L1] = "current_l1_ma",
	[KX_Q_CURR_L2] = "current_l2_ma",
	[KX_Q_CURR_L3] = "current_l3_ma",
	[KX_Q_POWER_L1] = "power_l1_w",
	[KX_Q_POWER_L2] = "power_l2_w",
	[KX_Q_POWER_L3] = "power_l3_w",
	[KX_Q_FREQ] = "frequency_mhz",
	[KX_Q_PV_W] = "pv_w",
	[KX_Q_PV_WH] = "pv_wh",
	[KX_Q_BATT_W] = "battery_w",
	[KX_Q_SOC] = "soc_permille",
};

#define NQUANT	(sizeof(quantity_names) / sizeof(quantity_names[0]))

int
kx_quantity_of(const char *name)
{
	size_t	 i;

	for (i = 1; name != NULL && i < NQUANT; i++)
		if (strcmp(quantity_names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *
kx_quantity_name(kx_quantity_t q)
{
	if ((size_t)q >= NQUANT || quantity_names[q] == NULL)
		return "?";
	return quantity_names[q];
}

int
kx_rtype_of(const char *name)
{
	static const struct { const char *s; kx_rtype_t t; } tab[] = {
		{ "u16", KX_T_U16 }, { "i16", KX_T_I16 },
		{ "u32", KX_T_U32 }, { "i32", KX_T_I32 },
		{ "float32", KX_T_FLOAT32 }, { "acc32", KX_T_ACC32 },
	};
	size_t	 i;

	for (i = 0; name != NULL && i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].s, name) == 0)
			return (int)tab[i].t;
	return -1;
}

int
kx_order_of(const char *name)
{
	static const struct { const char *s; kx_word_order_t o; } tab[] = {
		{ "abcd", KX_O_ABCD }, { "dcba", KX_O_DCBA },
		{ "badc", KX_O_BADC }, { "cdab", KX_O_CDAB },
	};
	size_t	 i;

	for (i = 0; name != NULL && i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].s, name) == 0)
			return (int)tab[i].o;
	return -1;
}

static int
point_cmp(const void *a, const void *b)
{
	const kx_point_t	*x = a, *y = b;

	if (x->fc != y->fc)
		return x->fc < y->fc ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return (x->q > y->q) - (x->q < y->q);
}

/* The phase (1..3) a per-phase quantity names, or 0. */
static int
phase_of(kx_quantity_t q)
{
	if (q >= KX_Q_VOLT_L1 && q <= KX_Q_VOLT_L3)
		return (int)(q - KX_Q_VOLT_L1) + 1;
	if (q >= KX_Q_CURR_L1 && q <= KX_Q_CURR_L3)
		return (int)(q - KX_Q_CURR_L1) + 1;
	if (q >= KX_Q_POWER_L1 && q <= KX_Q_POWER_L3)
		return (int)(q - KX_Q_POWER_L1) + 1;
	return 0;
}

int
kx_profile_build(kx_profile_t *p, const char *name, kx_point_t *points,
    size_t npoints, char *err, size_t errlen)
{
	char		 dummy[1];
	size_t		 i, j, w;
	int		 ph = 0;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (p == NULL || name == NULL || points == NULL || npoints == 0) {
		snprintf(err, errlen, "a profile needs at least one point");
		return KX_METER_EARG;
	}
	if (npoints > KX_PROFILE_POINTS_MAX) {
		snprintf(err, errlen, "more than %d points",
		    KX_PROFILE_POINTS_MAX);
		return KX_METER_EARG;
	}
	for (i = 0; i < npoints; i++) {
		const kx_point_t	*pt = &points[i];

		if ((size_t)pt->q >= NQUANT || pt->q == KX_Q_NONE) {
			snprintf(err, errlen, "point %zu: unknown quantity",
			    i + 1);
			return KX_METER_EARG;
		}
		if (pt->fc != 3 && pt->fc != 4) {
			snprintf(err, errlen, "%s: function code %u (3 "
			    "holding or 4 input registers)",
			    quantity_names[pt->q], pt->fc);
			return KX_METER_EARG;
		}
		if (pt->type == KX_T_SUNSSF ||
		    (w = kx_rtype_words(pt->type)) == 0) {
			snprintf(err, errlen, "%s: unknown register type",
			    quantity_names[pt->q]);
			return KX_METER_EARG;
		}
		if ((uint32_t)pt->addr + w > 0x10000) {
			snprintf(err, errlen, "%s: register %u runs past "
			    "65535", quantity_names[pt->q], pt->addr);
			return KX_METER_EARG;
		}
		if ((unsigned)pt->order > KX_O_CDAB) {
			snprintf(err, errlen, "%s: unknown word order",
			    quantity_names[pt->q]);
			return KX_METER_EARG;
		}
		if (pt->scale < -18 || pt->scale > 18 || pt->sf != -1) {
			snprintf(err, errlen, "%s: scale %d out of range "
			    "-18..18", quantity_names[pt->q], pt->scale);
			return KX_METER_EARG;
		}
		for (j = 0; j < i; j++)
			if (points[j].q == pt->q) {
				snprintf(err, errlen, "%s: given twice",
				    quantity_names[pt->q]);
				return KX_METER_EARG;
			}
		if (phase_of(pt->q) > ph)
			ph = phase_of(pt->q);
	}
	qsort(points, npoints, sizeof(*points), point_cmp);
	p->name = name;
	p->kind = KX_PROFILE_TABLE;
	p->points = points;
	p->npoints = npoints;
	p->nphases = ph;
	return KX_METER_OK;
}

const kx_profile_t *
kx_profile_find(const char *name)
{
	size_t	 i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

int
kx_profile_read(kx_reading_t *r, const kx_profile_t *p, kx_read_fn rd,
    void *ctx)
{
	uint16_t	 regs[KX_MODBUS_READ_MAX];
	size_t		 i, j, k, w;
	uint32_t	 start, end;
	int		 rc;

	if (p == NULL || p->kind != KX_PROFILE_TABLE)
		return KX_METER_EARG;
	for (i = 0; i < p->npoints; i = j) {
		start = p->points[i].addr;
		end = start + kx_rtype_words(p->points[i].type);
		for (j = i + 1; j < p->npoints; j++) {
			w = kx_rtype_words(p->points[j].type);
			if (p->points[j].fc != p->points[i].fc ||
			    p->points[j].addr < start ||
			    p->points[j].addr + w - start > KX_MODBUS_READ_MAX)
				break;
			if (p->points[j].addr + w > end)
				end = p->points[j].addr + w;
		}
		if (end - start > KX_MODBUS_READ_MAX || end > 0x10000)
			return KX_METER_EARG;
		if ((rc = rd(ctx, p->points[i].fc, (uint16_t)start,
		    (uint16_t)(end - start), regs)) != KX_METER_OK)
			return rc;
		for (k = i; k < j; k++)
			(void)kx_point_apply(r, &p->points[k],
			    regs + (p->points[k].addr - start),
			    end - p->points[k].addr, 0);
	}
	r->nphases = p->nphases;
	if (r->flags == 0)
		return KX_METER_ENODATA;
	return KX_METER_OK;
}
