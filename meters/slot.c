/*
 * slot.c - slot totals from energy counters (see slot.h for the rules).
 *
 * State: per counter the last accepted (value, time) and possibly one
 * refused value waiting for confirmation; the open slot; the time of the
 * latest reading. A reading walks the slots from the open one to the one
 * holding its time, adding each accepted counter's share and emitting
 * every slot it leaves behind.
 */
#include <stdint.h>
#include <string.h>

#include "slot.h"

#define MS_PER_H	3600000

void
kx_slot_conf_init(kx_slot_conf_t *c)
{
	memset(c, 0, sizeof(*c));
	c->slot_s = 1800;
	c->max_power_w = 100000;
	c->tol_wh = 10;
	c->gap_ms = 300000;
}

int
kx_slot_init(kx_slot_acc_t *a, const kx_slot_conf_t *conf)
{
	kx_slot_conf_t	 c;

	if (conf == NULL)
		kx_slot_conf_init(&c);
	else
		c = *conf;
	if (c.slot_s < 1 || c.max_power_w < 0 || c.tol_wh < 0 || c.gap_ms < 0)
		return KX_METER_EARG;
	memset(a, 0, sizeof(*a));
	a->conf = c;
	return KX_METER_OK;
}

int64_t
kx_slot_share(int64_t d, int64_t x, int64_t dt)
{
	int64_t	 q, r;

	if (d < 0 || x < 0 || dt <= 0 || x > dt)
		return 0;
	while (dt >= ((int64_t)1 << 31)) {
		dt >>= 1;
		x >>= 1;
	}
	q = d / dt;
	r = d % dt;
	return q * x + r * x / dt;	/* q*x <= d; r*x < 2^62 */
}

int
kx_slot_plausible(const kx_slot_conf_t *c, int64_t v0, int64_t t0,
    int64_t v1, int64_t t1)
{
	int64_t	 d = v1 - v0, el = t1 - t0, allow;

	if (el <= 0 || d < -c->tol_wh)
		return 0;
	if (c->max_power_w > 0 && el > INT64_MAX / c->max_power_w)
		return 1;			/* years: anything goes */
	allow = c->max_power_w * el / MS_PER_H;
	return d <= allow || d - allow <= c->tol_wh;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t	 q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void
open_slot(kx_slot_acc_t *a, int64_t start)
{
	memset(&a->cur, 0, sizeof(a->cur));
	a->cur.start_ms = start;
	a->cur.len_ms = (int64_t)a->conf.slot_s * 1000;
}

static int64_t
overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
	int64_t	 lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;

	return hi > lo ? hi - lo : 0;
}

/*
 * Decides counter i's new value v at ts: the delta to attribute (>= 0,
 * or -1 for none) and the time it is spread from. Updates counters.
 */
static int64_t
chan_take(kx_slot_acc_t *a, int i, int64_t v, int64_t ts, int64_t *from,
    uint32_t *res)
{
	kx_slot_chan_t	*c = &a->ch[i];
	int64_t		 d;

	if (!c->have) {			/* first value: baseline only */
		c->have = 1;
		c->val = v;
		c->ts = ts;
		return -1;
	}
	if (kx_slot_plausible(&a->conf, c->val, c->ts, v, ts)) {
		d = v - c->val;
		*from = c->ts;
		c->have_cand = 0;
		c->ts = ts;
		if (d < 0) {		/* jitter: keep the higher baseline */
			a->n_jitter++;
			return 0;
		}
		c->val = v;
		return d;
	}
	*res |= KX_SLOT_CH(i);
	if (v < c->val)
		a->n_backwards++;
	else
		a->n_jumps++;
	if (c->have_cand &&
	    kx_slot_plausible(&a->conf, c->cand_val, c->cand_ts, v, ts)) {
		/* confirmed: a new baseline at the candidate */
		a->n_rebase++;
		*res |= KX_SLOT_R_REBASE;
		d = v - c->cand_val;
		*from = c->cand_ts;
		c->have_cand = 0;
		c->ts = ts;
		if (d < 0) {
			c->val = c->cand_val;
			return 0;
		}
		c->val = v;
		return d;
	}
	c->have_cand = 1;
	c->cand_val = v;
	c->cand_ts = ts;
	return -1;
}

uint32_t
kx_slot_add(kx_slot_acc_t *a, int64_t ts, uint32_t present,
    const int64_t wh[KX_SLOT_NCH], kx_slot_emit_fn emit, void *ctx)
{
	int64_t		 delta[KX_SLOT_NCH], from[KX_SLOT_NCH];
	int64_t		 s0, s1, len = (int64_t)a->conf.slot_s * 1000, lo, hi;
	int64_t		 prev = a->last_ts, cov;
	uint32_t	 res = 0;
	int		 i;

	for (i = 0; i < KX_SLOT_NCH; i++)
		if ((present & KX_SLOT_CH(i)) && wh[i] < 0) {
			present &= ~KX_SLOT_CH(i);
			res |= KX_SLOT_R_BADVAL;
		}
	if (!a->started) {
		a->started = 1;
		a->last_ts = ts;
		a->n_samples++;
		open_slot(a, floor_div(ts, len) * len);
		for (i = 0; i < KX_SLOT_NCH; i++)
			if (present & KX_SLOT_CH(i))
				(void)chan_take(a, i, wh[i], ts, &from[i], &res);
		return res;
	}
	if (ts <= a->last_ts) {
		a->n_stale++;
		return res | KX_SLOT_R_STALE;
	}
	a->n_samples++;
	for (i = 0; i < KX_SLOT_NCH; i++) {
		delta[i] = -1;
		if (!(present & KX_SLOT_CH(i)))
			continue;
		delta[i] = chan_take(a, i, wh[i], ts, &from[i], &res);
		/* never into a slot already emitted */
		if (delta[i] >= 0 && from[i] < a->cur.start_ms)
			from[i] = a->cur.start_ms;
	}
	a->last_ts = ts;
	for (;;) {
		s0 = a->cur.start_ms;
		s1 = s0 + len;
		cov = overlap(prev, ts, s0, s1);
		a->cur.covered_ms += cov;
		if (cov > 0 && ts - prev > a->conf.gap_ms)
			a->cur.flags |= KX_SLOT_F_GAP;
		for (i = 0; i < KX_SLOT_NCH; i++) {
			if (delta[i] <= 0 || overlap(from[i], ts, s0, s1) == 0)
				continue;
			lo = (from[i] > s0 ? from[i] : s0) - from[i];
			hi = (ts < s1 ? ts : s1) - from[i];
			a->cur.wh[i] += kx_slot_share(delta[i], hi, ts - from[i]) -
			    kx_slot_share(delta[i], lo, ts - from[i]);
		}
		if (s1 > ts)
			break;
		if (a->cur.covered_ms < len)
			a->cur.flags |= KX_SLOT_F_PARTIAL;
		a->n_emitted++;
		if (emit != NULL)
			emit(ctx, &a->cur);
		open_slot(a, s1);
	}
	if (res & KX_SLOT_R_REBASE)
		a->cur.flags |= KX_SLOT_F_REBASE;
	if (res & (KX_SLOT_CH(0) | KX_SLOT_CH(1) | KX_SLOT_CH(2)))
		a->cur.flags |= KX_SLOT_F_BAD;
	return res;
}

uint32_t
kx_slot_add_reading(kx_slot_acc_t *a, const kx_reading_t *r,
    kx_slot_emit_fn emit, void *ctx)
{
	int64_t		 wh[KX_SLOT_NCH];
	uint32_t	 present = 0;

	wh[KX_SLOT_IMPORT] = r->import_wh;
	wh[KX_SLOT_EXPORT] = r->export_wh;
	wh[KX_SLOT_PV] = r->pv_wh;
	if (r->flags & KX_RD_IMPORT)
		present |= KX_SLOT_CH(KX_SLOT_IMPORT);
	if (r->flags & KX_RD_EXPORT)
		present |= KX_SLOT_CH(KX_SLOT_EXPORT);
	if (r->flags & KX_RD_PV_WH)
		present |= KX_SLOT_CH(KX_SLOT_PV);
	return kx_slot_add(a, r->ts_ms, present, wh, emit, ctx);
}

void
kx_slot_flush(const kx_slot_acc_t *a, kx_slot_emit_fn emit, void *ctx)
{
	kx_slot_total_t	 t;

	if (!a->started || emit == NULL)
		return;
	t = a->cur;
	t.flags |= KX_SLOT_F_FLUSH;
	if (t.covered_ms < t.len_ms)
		t.flags |= KX_SLOT_F_PARTIAL;
	emit(ctx, &t);
}

static void
put64(uint8_t **p, int64_t v)
{
	uint64_t	 u = (uint64_t)v;
	int		 i;

	for (i = 0; i < 8; i++)
		(*p)[i] = (uint8_t)(u >> (8 * i));
	*p += 8;
}

static int64_t
get64(const uint8_t **p)
{
	uint64_t	 u = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		u |= (uint64_t)(*p)[i] << (8 * i);
	*p += 8;
	return (int64_t)u;
}

void
kx_slot_save(const kx_slot_acc_t *a, uint8_t out[KX_SLOT_STATE_LEN])
{
	uint8_t	*p = out;
	int	 i;

	memcpy(p, "KXS1", 4);
	p += 4;
	put64(&p, a->conf.slot_s);
	put64(&p, a->started);
	put64(&p, a->last_ts);
	put64(&p, a->cur.start_ms);
	put64(&p, a->cur.len_ms);
	for (i = 0; i < KX_SLOT_NCH; i++)
		put64(&p, a->cur.wh[i]);
	put64(&p, a->cur.covered_ms);
	put64(&p, a->cur.flags);
	for (i = 0; i < KX_SLOT_NCH; i++) {
		put64(&p, a->ch[i].have);
		put64(&p, a->ch[i].val);
		put64(&p, a->ch[i].ts);
		put64(&p, a->ch[i].have_cand);
		put64(&p, a->ch[i].cand_val);
		put64(&p, a->ch[i].cand_ts);
	}
}

int
kx_slot_restore(kx_slot_acc_t *a, const uint8_t *state, size_t len)
{
	kx_slot_acc_t	 b;
	const uint8_t	*p = state;
	int64_t		 v[28], slen;
	int		 i, k = 0;

	if (a == NULL || state == NULL || len != KX_SLOT_STATE_LEN ||
	    memcmp(state, "KXS1", 4) != 0)
		return KX_METER_EARG;
	p += 4;
	for (i = 0; i < 28; i++)
		v[i] = get64(&p);
	b = *a;
	slen = (int64_t)b.conf.slot_s * 1000;
	if (v[k++] != b.conf.slot_s)
		return KX_METER_EARG;
	if (v[k] != 0 && v[k] != 1)
		return KX_METER_EARG;
	b.started = (int)v[k++];
	b.last_ts = v[k++];
	b.cur.start_ms = v[k++];
	b.cur.len_ms = v[k++];
	for (i = 0; i < KX_SLOT_NCH; i++)
		b.cur.wh[i] = v[k++];
	b.cur.covered_ms = v[k++];
	if (v[k] < 0 || v[k] > 0x1f)
		return KX_METER_EARG;
	b.cur.flags = (uint32_t)v[k++];
	for (i = 0; i < KX_SLOT_NCH; i++) {
		kx_slot_chan_t	*c = &b.ch[i];

		if ((v[k] != 0 && v[k] != 1) || (v[k + 3] != 0 && v[k + 3] != 1))
			return KX_METER_EARG;
		c->have = (int)v[k];
		c->val = v[k + 1];
		c->ts = v[k + 2];
		c->have_cand = (int)v[k + 3];
		c->cand_val = v[k + 4];
		c->cand_ts = v[k + 5];
		k += 6;
		if (c->val < 0 || c->cand_val < 0 ||
		    (c->have && (!b.started || c->ts > b.last_ts)) ||
		    (c->have_cand && (!c->have || c->cand_ts > b.last_ts)))
			return KX_METER_EARG;
	}
	if (b.started) {
		if (b.cur.start_ms < 0 || b.cur.len_ms != slen || floor_div(b.cur.start_ms, slen) *
		    slen != b.cur.start_ms || b.last_ts < b.cur.start_ms ||
		    b.last_ts - b.cur.start_ms >= slen ||
		    b.cur.covered_ms < 0 || b.cur.covered_ms > slen)
			return KX_METER_EARG;
		for (i = 0; i < KX_SLOT_NCH; i++)
			if (b.cur.wh[i] < 0)
				return KX_METER_EARG;
	} else if (b.cur.start_ms != 0 || b.cur.len_ms != 0 ||
	    b.last_ts != 0 || b.cur.covered_ms != 0 || b.cur.flags != 0 ||
	    b.cur.wh[0] != 0 || b.cur.wh[1] != 0 || b.cur.wh[2] != 0)
		return KX_METER_EARG;
	*a = b;
	return KX_METER_OK;
}

int
kx_slot_reslot(kx_slot_acc_t *a, int slot_s)
{
	int64_t	 len;

	if (a == NULL || slot_s < 1)
		return KX_METER_EARG;
	if (slot_s == a->conf.slot_s)
		return KX_METER_OK;
	a->conf.slot_s = slot_s;
	if (!a->started)
		return KX_METER_OK;
	len = (int64_t)slot_s * 1000;
	open_slot(a, floor_div(a->last_ts, len) * len);
	a->cur.flags |= KX_SLOT_F_PARTIAL | KX_SLOT_F_REBASE;
	return KX_METER_OK;
}
