/*
 * autobid.c - a member node places its own orders, see autobid.h.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "autobid.h"
#include "body.h"
#include "envelope.h"
#include "json.h"
#include "log.h"
#include "strategy.h"

#define HIST_DAYS	14

struct kx_autobid {
	kx_store_t	*st;
	kx_meterd_t	*md;
	uint8_t		 pk[32];
	kx_publish_fn	 publish;
	void		*ctx;
	const kx_conf_t	*conf;		/* &own: meters as meterd polls them */
	kx_conf_t	 own;
	uint64_t	 last_slot;	/* last slot decided */
	uint64_t	 placed, skipped_sell;
	int64_t		 next_tick;
	uint64_t	*hist;		/* 2 x HIST_DAYS x 48: imp, exp */
};

kx_autobid_t *
kx_autobid_new(const kx_conf_t *conf, kx_store_t *st, kx_meterd_t *md,
    const uint8_t pk[32], kx_publish_fn publish, void *ctx)
{
	kx_autobid_t	*ab;
	size_t		 i, grid = 0;

	if (!conf->strategy.autobid || conf->role == KX_ROLE_OPERATOR ||
	    conf->role == KX_ROLE_CITY || conf->role == KX_ROLE_ISSUER)
		return NULL;
	for (i = 0; i < conf->nmeters; i++)
		grid += conf->meters[i].use == KX_USE_GRID;
	if (grid == 0)
		return NULL;
	if ((ab = calloc(1, sizeof(*ab))) == NULL)
		return NULL;
	if ((ab->hist = calloc(2 * HIST_DAYS * KX_STRAT_DAY_SLOTS,
	    sizeof(*ab->hist))) == NULL) {
		free(ab);
		return NULL;
	}
	ab->st = st;
	ab->md = md;
	memcpy(ab->pk, pk, 32);
	ab->publish = publish;
	ab->ctx = ctx;
	if (kx_conf_copy(&ab->own, conf) == -1) {
		free(ab->hist);
		free(ab);
		return NULL;
	}
	ab->conf = &ab->own;
	return ab;
}

void
kx_autobid_free(kx_autobid_t **p)
{
	if (p == NULL || *p == NULL)
		return;
	free((*p)->hist);
	kx_conf_free(&(*p)->own);
	free(*p);
	*p = NULL;
}

void
kx_autobid_counts(const kx_autobid_t *ab, uint64_t *placed,
    uint64_t *skipped_sell)
{
	*placed = ab ? ab->placed : 0;
	*skipped_sell = ab ? ab->skipped_sell : 0;
}

/* Whether every grid meter is online with a reading in 3 periods. */
static bool
measurable(kx_autobid_t *ab, int64_t now)
{
	kx_poll_stats_t	 ps;
	size_t		 i;

	for (i = 0; i < ab->conf->nmeters; i++) {
		const kx_conf_meter_t	*m = &ab->conf->meters[i];

		if (m->use != KX_USE_GRID)
			continue;
		if (kx_meterd_snapshot(ab->md, i, &ps, NULL, NULL, NULL) != 0 ||
		    !ps.online || now - ps.last_good_ms >
		    3 * (int64_t)m->poll.period_ms + 1000)
			return false;
	}
	return true;
}

struct mine {
	const uint8_t	*pk;
	bool		 found;
};

static int
mine_cb(void *arg, const kx_stored_t *s)
{
	struct mine	*mi = arg;
	kx_msg_t	 m;

	if (kx_msg_decode(&m, s->wire, s->len, NULL) == KX_OK &&
	    memcmp(m.author, mi->pk, 32) == 0) {
		mi->found = true;
		return 1;
	}
	return 0;
}

/* The trimmed mean of the last KX_AUTOBID_RECENT stored slots' net. */
static int
recent_forecast(kx_autobid_t *ab, uint64_t slot, uint64_t slot_s,
    kx_strat_fc_t *fc)
{
	int64_t		 v[KX_AUTOBID_RECENT], mean, lo, hi;
	kx_slot_total_t	 t;
	size_t		 n = 0, nm, nf;
	uint64_t	 s;
	int		 k;

	for (k = 1; k <= KX_AUTOBID_RECENT + 2 && n < KX_AUTOBID_RECENT;
	    k++) {
		if (slot < (uint64_t)k * slot_s)
			break;
		s = slot - (uint64_t)k * slot_s;
		if (kx_meterd_slot(ab->md, (int64_t)s * 1000, KX_USE_GRID, &t,
		    &nm, &nf) != 0 || nf == 0 || nf < nm)
			continue;	/* the open one, or not all meters */
		v[n++] = t.wh[KX_SLOT_EXPORT] - t.wh[KX_SLOT_IMPORT];
	}
	if (n == 0 || kx_strat_tmean(&mean, &lo, &hi, v, n, 250) !=
	    KX_STRAT_OK)
		return -1;
	memset(fc, 0, sizeof(*fc));
	fc->net = mean;
	fc->lo = lo < mean ? lo : mean;
	fc->hi = hi > mean ? hi : mean;
	fc->days = (uint32_t)n;
	return 0;
}

struct hist_fill {
	uint64_t	*imp, *exp;
	uint64_t	 day0;
};

static void
hist_cb(void *arg, const kx_slot_total_t *t)
{
	struct hist_fill	*hf = arg;
	uint64_t		 s = (uint64_t)t->start_ms / 1000, i;

	if (s < hf->day0 || t->len_ms != KX_STRAT_SLOT_S * 1000)
		return;
	i = (s - hf->day0) / KX_STRAT_SLOT_S;
	if (i >= HIST_DAYS * KX_STRAT_DAY_SLOTS)
		return;
	/* several grid meters add up; NA until the first */
	if (hf->imp[i] == KX_STRAT_NA)
		hf->imp[i] = hf->exp[i] = 0;
	hf->imp[i] += (uint64_t)t->wh[KX_SLOT_IMPORT];
	hf->exp[i] += (uint64_t)t->wh[KX_SLOT_EXPORT];
}

/* kx_strat_forecast over the last 14 JST days of 1800 s slots. */
static int
day_forecast(kx_autobid_t *ab, uint64_t slot, kx_strat_fc_t *fc)
{
	struct hist_fill	 hf;
	kx_strat_hist_t		 h;
	kx_strat_fcopt_t	 opt;
	uint64_t		 today = (slot + KX_STRAT_JST_S) / 86400 * 86400 -
				    KX_STRAT_JST_S;
	size_t			 i, n = HIST_DAYS * KX_STRAT_DAY_SLOTS;

	if (today < HIST_DAYS * 86400)
		return -1;
	hf.imp = ab->hist;
	hf.exp = ab->hist + n;
	hf.day0 = today - HIST_DAYS * 86400;
	for (i = 0; i < 2 * n; i++)
		ab->hist[i] = KX_STRAT_NA;
	for (i = 0; i < ab->conf->nmeters; i++)
		if (ab->conf->meters[i].use == KX_USE_GRID &&
		    kx_meterd_history(ab->md, ab->conf->meters[i].name,
		    (int64_t)hf.day0 * 1000, (int64_t)today * 1000, hist_cb,
		    &hf) != 0)
			return -1;
	for (i = 0; i < n; i++)		/* exp without imp: not metered */
		if ((hf.imp[i] == KX_STRAT_NA) != (hf.exp[i] == KX_STRAT_NA))
			hf.imp[i] = hf.exp[i] = KX_STRAT_NA;
	memset(&h, 0, sizeof(h));
	h.imp = hf.imp;
	h.exp = hf.exp;
	h.n_days = HIST_DAYS;
	h.day0 = hf.day0;
	kx_strat_fcopt_default(&opt);
	if (kx_strat_forecast(fc, &h, NULL, &opt, slot) != KX_STRAT_OK ||
	    fc->days < KX_AUTOBID_MIN_DAYS)
		return -1;
	return 0;
}

static void
place(kx_autobid_t *ab, uint64_t slot, const kx_params_t *p, int64_t now)
{
	kx_strat_fc_t	 fc;
	kx_strat_owner_t own;
	kx_order_t	 o;
	kx_buf_t	 j, body;
	char		 err[256];
	uint32_t	 k;

	if (!(p->slot_s == KX_STRAT_SLOT_S && day_forecast(ab, slot, &fc) ==
	    0) && recent_forecast(ab, slot, p->slot_s, &fc) != 0) {
		log_debug("autobid: slot %" PRIu64 ": no history yet", slot);
		return;
	}
	memset(&own, 0, sizeof(own));
	own.sell_min = ab->conf->strategy.sell_min;
	own.buy_max = ab->conf->strategy.buy_max;
	own.cap_wh = 1;
	own.eff_permille = 1000;
	memset(&o, 0, sizeof(o));
	if (kx_strat_order(&o, &fc, 0, &own, p, ab->conf->strategy.steps) !=
	    KX_STRAT_OK || o.n == 0)
		return;
	if (o.side == KX_SELL && !measurable(ab, now)) {
		ab->skipped_sell++;
		log_warnx("autobid: slot %" PRIu64 ": a grid meter is not "
		    "read; not offering energy it cannot measure", slot);
		return;
	}
	kx_buf_init(&j);
	kx_buf_init(&body);
	kx_buf_printf(&j, "{\"slot\":%" PRIu64 ",\"side\":\"%s\",\"steps\":[",
	    slot, o.side == KX_SELL ? "sell" : "buy");
	for (k = 0; k < o.n; k++)
		kx_buf_printf(&j, "%s[%" PRIu64 ",%u]", k ? "," : "", o.wh[k],
		    o.price[k]);
	kx_buf_puts(&j, "]}");
	if (j.oom || kx_json_to_mp(&body, (const char *)j.data, j.len, NULL,
	    err, sizeof(err)) == -1)
		log_warnx("autobid: order body: %s", j.oom ? "out of memory" :
		    err);
	else if (ab->publish(ab->ctx, "order", body.data, body.len, err,
	    sizeof(err)) == -1)
		log_warnx("autobid: slot %" PRIu64 ": %s", slot, err);
	else {
		ab->placed++;
		log_info("autobid: slot %" PRIu64 ": %s %u steps, first %"
		    PRIu64 " Wh at %u (forecast net %" PRId64 " Wh)", slot,
		    o.side == KX_SELL ? "sell" : "buy", o.n, o.wh[0],
		    o.price[0], fc.net);
	}
	kx_buf_free(&j);
	kx_buf_free(&body);
}

void
kx_autobid_tick(kx_autobid_t *ab, int64_t now)
{
	kx_params_t	 p;
	uint64_t	 slot, lead_ms;
	int64_t		 gate;
	struct mine	 mi;

	if (ab == NULL || now < ab->next_tick || now < 0)
		return;
	ab->next_tick = now + 200;
	if (kx_store_params(ab->st, (uint64_t)now / 1000, &p) != KX_OK ||
	    p.slot_s == 0)
		return;
	/* the first slot whose gate is still ahead */
	slot = ((uint64_t)now / 1000 / p.slot_s + 1) * p.slot_s;
	while (kx_gate_ms(slot, p.gate_s) <= now)
		slot += p.slot_s;
	if (slot <= ab->last_slot)
		return;
	lead_ms = ab->conf->strategy.lead_s ? (uint64_t)
	    ab->conf->strategy.lead_s * 1000 : p.slot_s * 1000 / 4;
	if (lead_ms > 60000 && ab->conf->strategy.lead_s == 0)
		lead_ms = 60000;
	gate = kx_gate_ms(slot, p.gate_s);
	if (now < gate - (int64_t)lead_ms)
		return;
	ab->last_slot = slot;
	mi.pk = ab->pk;
	mi.found = false;
	if (kx_store_orders(ab->st, slot, mine_cb, &mi) != KX_OK || mi.found)
		return;		/* already bid (before a restart) */
	if (kx_store_params(ab->st, slot, &p) != KX_OK)
		return;
	place(ab, slot, &p, now);
}
