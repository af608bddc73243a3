/*
 * sunspec.c - SunSpec discovery and model decoding.
 *
 * The chain walk trusts nothing the device says: every header is read
 * before it is used, addresses are computed in 32 bits and refused past
 * register 65535 (a 16-bit walker would wrap and loop: that case is
 * reported as KX_METER_ELOOP), and at most 64 models are accepted. Model
 * images are decoded only within the L the device reported.
 */
#include <string.h>

#include "sunspec.h"

#define SS_MARK0	0x5375	/* "Su" */
#define SS_MARK1	0x6E53	/* "nS" */
#define SS_END		0xFFFF
#define SS_IMAGE_MAX	256	/* registers read of one model, at most */
#define SF_LIMIT	10	/* |SF| above this is implausible */

#define P(q, off, t, s, sf, u)	{ q, 3, off, t, KX_O_ABCD, s, sf, u }
#define F(q, off, s, u)		{ q, 3, off, KX_T_FLOAT32, KX_O_ABCD, s, -1, u }

/* 101-103 integer inverter (L 50). */
static const kx_point_t inv_int[] = {
	P(KX_Q_PV_W, 14, KX_T_I16, 0, 15, "W"),
	P(KX_Q_FREQ, 16, KX_T_U16, 3, 17, "Hz"),
	P(KX_Q_PV_WH, 24, KX_T_ACC32, 0, 26, "Wh"),
};

/* 111-113 float inverter (L 60). */
static const kx_point_t inv_float[] = {
	F(KX_Q_PV_W, 22, 0, "W"),
	F(KX_Q_FREQ, 24, 3, "Hz"),
	F(KX_Q_PV_WH, 32, 0, "Wh"),
};

/* 201-204 integer meter (L 105). */
static const kx_point_t met_int[] = {
	P(KX_Q_CURR_L1, 3, KX_T_I16, 3, 6, "A"),
	P(KX_Q_CURR_L2, 4, KX_T_I16, 3, 6, "A"),
	P(KX_Q_CURR_L3, 5, KX_T_I16, 3, 6, "A"),
	P(KX_Q_VOLT_L1, 8, KX_T_I16, 3, 15, "V"),
	P(KX_Q_VOLT_L2, 9, KX_T_I16, 3, 15, "V"),
	P(KX_Q_VOLT_L3, 10, KX_T_I16, 3, 15, "V"),
	P(KX_Q_FREQ, 16, KX_T_I16, 3, 17, "Hz"),
	P(KX_Q_POWER_W, 18, KX_T_I16, 0, 22, "W"),
	P(KX_Q_POWER_L1, 19, KX_T_I16, 0, 22, "W"),
	P(KX_Q_POWER_L2, 20, KX_T_I16, 0, 22, "W"),
	P(KX_Q_POWER_L3, 21, KX_T_I16, 0, 22, "W"),
	P(KX_Q_EXPORT_WH, 38, KX_T_ACC32, 0, 54, "Wh"),
	P(KX_Q_IMPORT_WH, 46, KX_T_ACC32, 0, 54, "Wh"),
};

/* 211-214 float meter (L 124). */
static const kx_point_t met_float[] = {
	F(KX_Q_CURR_L1, 4, 3, "A"),
	F(KX_Q_CURR_L2, 6, 3, "A"),
	F(KX_Q_CURR_L3, 8, 3, "A"),
	F(KX_Q_VOLT_L1, 12, 3, "V"),
	F(KX_Q_VOLT_L2, 14, 3, "V"),
	F(KX_Q_VOLT_L3, 16, 3, "V"),
	F(KX_Q_FREQ, 26, 3, "Hz"),
	F(KX_Q_POWER_W, 28, 0, "W"),
	F(KX_Q_POWER_L1, 30, 0, "W"),
	F(KX_Q_POWER_L2, 32, 0, "W"),
	F(KX_Q_POWER_L3, 34, 0, "W"),
	F(KX_Q_EXPORT_WH, 60, 0, "Wh"),
	F(KX_Q_IMPORT_WH, 68, 0, "Wh"),
};

/* 802 battery (L 62). */
static const kx_point_t bat_802[] = {
	P(KX_Q_SOC, 11, KX_T_U16, 1, 56, "%"),
	P(KX_Q_BATT_W, 47, KX_T_I16, 0, 63, "W"),
};

/* 124 storage (L 24): state of charge only (the rest are set-points). */
static const kx_point_t sto_124[] = {
	P(KX_Q_SOC, 8, KX_T_U16, 1, 22, "%"),
};

/* Model families in order of preference. */
static const struct family {
	uint16_t		 lo, hi;	/* model IDs */
	const kx_point_t	*pts;
	size_t			 npts;
	int			 meter;		/* sets nphases */
} families[] = {
	{ 201, 204, met_int, sizeof(met_int) / sizeof(met_int[0]), 1 },
	{ 211, 214, met_float, sizeof(met_float) / sizeof(met_float[0]), 1 },
	{ 101, 103, inv_int, sizeof(inv_int) / sizeof(inv_int[0]), 0 },
	{ 111, 113, inv_float, sizeof(inv_float) / sizeof(inv_float[0]), 0 },
	{ 802, 802, bat_802, sizeof(bat_802) / sizeof(bat_802[0]), 0 },
	{ 124, 124, sto_124, sizeof(sto_124) / sizeof(sto_124[0]), 0 },
};
#define NFAMILIES	(sizeof(families) / sizeof(families[0]))

static const struct family *
family_of(uint16_t id)
{
	size_t	 i;

	for (i = 0; i < NFAMILIES; i++)
		if (id >= families[i].lo && id <= families[i].hi)
			return &families[i];
	return NULL;
}

/* Registers of a family's image that its points need (from the ID). */
static size_t
family_need(const struct family *fam)
{
	size_t	 i, need = 0, end;

	for (i = 0; i < fam->npts; i++) {
		end = fam->pts[i].addr + kx_rtype_words(fam->pts[i].type);
		if (end > need)
			need = end;
		if (fam->pts[i].sf >= 0 && (size_t)fam->pts[i].sf + 1 > need)
			need = (size_t)fam->pts[i].sf + 1;
	}
	return need;
}

int
kx_ss_decode_model(kx_reading_t *r, uint16_t id, const uint16_t *regs,
    size_t n)
{
	const struct family	*fam = family_of(id);
	const kx_point_t	*p;
	kx_val_t		 sfv;
	size_t			 i;
	int			 stored = 0, sf;

	if (fam == NULL)
		return 0;
	if (n >= 2 && (size_t)regs[1] + 2 < n)
		n = (size_t)regs[1] + 2;	/* only within L */
	for (i = 0; i < fam->npts; i++) {
		p = &fam->pts[i];
		if (p->addr + kx_rtype_words(p->type) > n)
			continue;
		sf = 0;
		if (p->sf >= 0) {
			if ((size_t)p->sf >= n || kx_reg_decode(&sfv,
			    regs + p->sf, 1, KX_T_SUNSSF, KX_O_ABCD) !=
			    KX_METER_OK)
				continue;
			if (sfv.i < -SF_LIMIT || sfv.i > SF_LIMIT)
				continue;
			sf = (int)sfv.i;
		}
		if (kx_point_apply(r, p, regs + p->addr, n - p->addr, sf) ==
		    KX_METER_OK)
			stored++;
	}
	/* x01 single phase, x02 split phase, x03 wye, x04 delta (3) */
	if (fam->meter && stored > 0 && r->nphases == 0)
		r->nphases = id - fam->lo + 1 > KX_PHASES_MAX ? KX_PHASES_MAX :
		    id - fam->lo + 1;
	return stored;
}

int
kx_ss_walk(kx_ss_map_t *map, uint16_t base, kx_read_fn rd, void *ctx)
{
	uint16_t	 hdr[2];
	uint32_t	 addr = (uint32_t)base + 2, next;
	size_t		 i;
	int		 rc;

	map->base = base;
	map->nmodels = 0;
	for (;;) {
		if (addr + 1 > 0xFFFF)
			return KX_METER_ERANGE;
		if ((rc = rd(ctx, 3, (uint16_t)addr, 2, hdr)) != KX_METER_OK)
			return rc;
		if (hdr[0] == SS_END)
			return KX_METER_OK;
		if (map->nmodels == KX_SS_MODELS_MAX)
			return KX_METER_ETOOMANY;
		next = addr + hdr[1] + 2;
		if (next > 0xFFFF) {
			/* where a 16-bit walker would go next */
			for (i = 0; i < map->nmodels; i++)
				if (map->models[i].addr == (next & 0xFFFF))
					return KX_METER_ELOOP;
			if ((next & 0xFFFF) == addr)
				return KX_METER_ELOOP;
			return KX_METER_ERANGE;
		}
		map->models[map->nmodels].id = hdr[0];
		map->models[map->nmodels].len = hdr[1];
		map->models[map->nmodels].addr = (uint16_t)addr;
		map->nmodels++;
		addr = next;
	}
}

int
kx_ss_scan(kx_ss_map_t *map, kx_read_fn rd, void *ctx)
{
	static const uint16_t	 bases[] = { 40000, 0, 50000 };
	uint16_t		 m[2];
	size_t			 i;
	int			 rc;

	memset(map, 0, sizeof(*map));
	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		rc = rd(ctx, 3, bases[i], 2, m);
		if (rc == KX_METER_EEXC)
			continue;
		if (rc != KX_METER_OK)
			return rc;
		if (m[0] == SS_MARK0 && m[1] == SS_MARK1)
			return kx_ss_walk(map, bases[i], rd, ctx);
	}
	return KX_METER_ENOSUNS;
}

const kx_ss_model_t *
kx_ss_find(const kx_ss_map_t *map, uint16_t id)
{
	size_t	 i;

	for (i = 0; i < map->nmodels; i++)
		if (map->models[i].id == id)
			return &map->models[i];
	return NULL;
}

/* Reads n registers from addr in requests of at most 125. */
static int
read_span(uint16_t *out, uint32_t addr, size_t n, kx_read_fn rd, void *ctx)
{
	size_t	 off, k;
	int	 rc;

	for (off = 0; off < n; off += k) {
		k = n - off > KX_MODBUS_READ_MAX ? KX_MODBUS_READ_MAX : n - off;
		if (addr + off + k > 0x10000)
			return KX_METER_ERANGE;
		if ((rc = rd(ctx, 3, (uint16_t)(addr + off), (uint16_t)k,
		    out + off)) != KX_METER_OK)
			return rc;
	}
	return KX_METER_OK;
}

int
kx_ss_read(kx_reading_t *r, const kx_ss_map_t *map, kx_read_fn rd,
    void *ctx)
{
	uint16_t		 img[SS_IMAGE_MAX];
	const kx_ss_model_t	*m;
	size_t			 f, i, n;
	int			 rc;

	for (f = 0; f < NFAMILIES; f++) {
		for (i = 0; i < map->nmodels; i++) {
			m = &map->models[i];
			if (m->id < families[f].lo || m->id > families[f].hi)
				continue;
			n = family_need(&families[f]);
			if ((size_t)m->len + 2 < n)
				n = (size_t)m->len + 2;
			if (n > SS_IMAGE_MAX)
				n = SS_IMAGE_MAX;
			rc = read_span(img, m->addr, n, rd, ctx);
			if (rc == KX_METER_EEXC || rc == KX_METER_ERANGE)
				continue;	/* this model only */
			if (rc != KX_METER_OK)
				return rc;
			img[1] = m->len;	/* L as found by the scan */
			(void)kx_ss_decode_model(r, m->id, img, n);
			break;			/* first of a family */
		}
	}
	if ((r->flags & (KX_RD_POWER | KX_RD_IMPORT | KX_RD_EXPORT |
	    KX_RD_PV | KX_RD_BATT | KX_RD_SOC)) == 0)
		return KX_METER_ENODATA;
	return KX_METER_OK;
}
