/*
 * poll.c - the poller: an array of devices, each with its settings,
 * schedule, counters and slot accumulator (see poll.h). Modbus devices
 * on the same serial port or TCP host:port share one bus (device.h);
 * the buses are found through the devices, which hold them.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poll.h"

typedef struct {
	kx_poller_t		*owner;		/* for the slot trampoline */
	size_t			 idx;		/* index in owner->devs */
	kx_poll_dev_conf_t	 conf;
	kx_meter_dev_t		*dev;		/* owned; NULL for fn */
	kx_poll_read_fn		 fn;		/* NULL for dev */
	void			*fn_ctx;
	kx_slot_acc_t		 slots;
	kx_poll_stats_t		 st;
} pdev_t;

struct kx_poller {
	pdev_t			**devs;
	size_t			 ndevs;
	size_t			 cap;
	kx_poll_reading_fn	 on_reading;
	kx_poll_slot_fn		 on_slot;
	void			*ctx;
	char			 err[KX_POLL_ERR_MAX];	/* last add failure */
};

void
kx_poll_dev_conf_init(kx_poll_dev_conf_t *c)
{
	memset(c, 0, sizeof(*c));
	c->period_ms = 1000;
	c->retries = 1;
	c->backoff_max_ms = 300000;
	kx_slot_conf_init(&c->slot);
}

kx_poller_t *
kx_poll_new(kx_poll_reading_fn on_reading, kx_poll_slot_fn on_slot,
    void *ctx)
{
	kx_poller_t	*self;

	if ((self = calloc(1, sizeof(*self))) == NULL)
		return NULL;
	self->on_reading = on_reading;
	self->on_slot = on_slot;
	self->ctx = ctx;
	return self;
}

void
kx_poll_destroy(kx_poller_t **self_p)
{
	kx_poller_t	*self;
	size_t		 i;

	if (self_p == NULL || (self = *self_p) == NULL)
		return;
	for (i = 0; i < self->ndevs; i++) {
		kx_meter_dev_destroy(&self->devs[i]->dev);
		free(self->devs[i]);
	}
	free(self->devs);
	free(self);
	*self_p = NULL;
}

static int
add(kx_poller_t *self, pdev_t *d, const kx_poll_dev_conf_t *pconf)
{
	pdev_t		**nd;
	size_t		 ncap;

	if (pconf != NULL)
		d->conf = *pconf;
	else
		kx_poll_dev_conf_init(&d->conf);
	if (d->conf.period_ms < 1 || d->conf.retries < 0 ||
	    d->conf.backoff_max_ms < d->conf.period_ms) {
		snprintf(self->err, sizeof(self->err), "period %d ms, retries "
		    "%d, back-off cap %d ms: need period >= 1, retries >= 0, "
		    "cap >= period", d->conf.period_ms, d->conf.retries,
		    d->conf.backoff_max_ms);
		return KX_METER_EARG;
	}
	if (memchr(d->conf.name, '\0', sizeof(d->conf.name)) == NULL) {
		snprintf(self->err, sizeof(self->err), "name too long");
		return KX_METER_EARG;
	}
	if (kx_slot_init(&d->slots, &d->conf.slot) != KX_METER_OK) {
		snprintf(self->err, sizeof(self->err), "bad slot settings "
		    "(slot_s >= 1, max_power_w, tol_wh, gap_ms >= 0)");
		return KX_METER_EARG;
	}
	if (self->ndevs == self->cap) {
		ncap = self->cap == 0 ? 8 : self->cap * 2;
		if ((nd = realloc(self->devs, ncap * sizeof(*nd))) == NULL) {
			snprintf(self->err, sizeof(self->err),
			    "out of memory");
			return KX_METER_ENOMEM;
		}
		self->devs = nd;
		self->cap = ncap;
	}
	if (d->conf.name[0] == '\0')
		snprintf(d->conf.name, sizeof(d->conf.name), "dev%zu",
		    self->ndevs);
	d->owner = self;
	d->idx = self->ndevs;
	d->st.next_ms = INT64_MIN;		/* due at once */
	d->st.last_rc = KX_METER_OK;
	self->devs[self->ndevs] = d;
	return (int)self->ndevs++;
}

/* The bus of an earlier device that dconf addresses, or NULL. */
static kx_meter_bus_t *
find_bus(const kx_poller_t *self, const kx_dev_conf_t *dconf)
{
	kx_meter_bus_t	*bus;
	size_t		 i;

	for (i = 0; i < self->ndevs; i++) {
		if (self->devs[i]->dev == NULL)
			continue;
		bus = kx_meter_dev_bus(self->devs[i]->dev);
		if (kx_meter_bus_same(bus, dconf))
			return bus;
	}
	return NULL;
}

int
kx_poll_add(kx_poller_t *self, const kx_dev_conf_t *dconf,
    const kx_profile_t *profile, const kx_poll_dev_conf_t *pconf)
{
	kx_meter_bus_t	*bus;
	pdev_t		*d;
	int		 rc;

	if (self == NULL)
		return KX_METER_EARG;
	self->err[0] = '\0';
	if (profile == NULL || self->ndevs >= INT32_MAX) {
		snprintf(self->err, sizeof(self->err), "%s", profile == NULL ?
		    "no profile" : "too many devices");
		return KX_METER_EARG;
	}
	if ((rc = kx_dev_conf_check(dconf, self->err, sizeof(self->err))) !=
	    KX_METER_OK)
		return rc;
	/* a unit on a port or host:port already polled shares its bus */
	if ((bus = find_bus(self, dconf)) != NULL &&
	    (rc = kx_meter_bus_check(bus, dconf, self->err,
	    sizeof(self->err))) != KX_METER_OK)
		return rc;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(self->err, sizeof(self->err), "out of memory");
		return KX_METER_ENOMEM;
	}
	d->dev = bus != NULL ? kx_meter_dev_new_on(bus, dconf, profile) :
	    kx_meter_dev_new(dconf, profile);
	if (d->dev == NULL) {
		free(d);
		snprintf(self->err, sizeof(self->err), "out of memory");
		return KX_METER_ENOMEM;
	}
	if ((rc = add(self, d, pconf)) < 0) {
		kx_meter_dev_destroy(&d->dev);
		free(d);
	}
	return rc;
}

int
kx_poll_add_fn(kx_poller_t *self, kx_poll_read_fn fn, void *fn_ctx,
    const kx_poll_dev_conf_t *pconf)
{
	pdev_t	*d;
	int	 rc;

	if (self == NULL)
		return KX_METER_EARG;
	self->err[0] = '\0';
	if (fn == NULL || self->ndevs >= INT32_MAX) {
		snprintf(self->err, sizeof(self->err), "%s", fn == NULL ?
		    "no reading function" : "too many devices");
		return KX_METER_EARG;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(self->err, sizeof(self->err), "out of memory");
		return KX_METER_ENOMEM;
	}
	d->fn = fn;
	d->fn_ctx = fn_ctx;
	if ((rc = add(self, d, pconf)) < 0)
		free(d);
	return rc;
}

int64_t
kx_poll_backoff_ms(int period_ms, uint32_t k, int cap_ms)
{
	int64_t	 w = period_ms;

	if (period_ms < 1)
		w = 1;
	while (k-- > 0 && w < cap_ms)
		w *= 2;
	return w < cap_ms ? w : (cap_ms > period_ms ? cap_ms : w);
}

static void
slot_tramp(void *ctx, const kx_slot_total_t *t)
{
	pdev_t	*d = ctx;

	if (d->owner->on_slot != NULL)
		d->owner->on_slot(d->owner->ctx, d->idx, t);
}

static int
read_one(pdev_t *d, kx_reading_t *r)
{
	int	 rc;

	if (d->dev != NULL) {
		rc = kx_meter_dev_read(d->dev, r);
		if (rc != KX_METER_OK)
			snprintf(d->st.last_error, sizeof(d->st.last_error),
			    "%s", kx_meter_dev_error(d->dev));
		return rc;
	}
	memset(r, 0, sizeof(*r));
	d->st.last_error[0] = '\0';
	rc = d->fn(d->fn_ctx, r, d->st.last_error, sizeof(d->st.last_error));
	if (rc != KX_METER_OK && d->st.last_error[0] == '\0')
		snprintf(d->st.last_error, sizeof(d->st.last_error), "%s",
		    kx_meter_strerror(rc));
	return rc;
}

static void
pass(kx_poller_t *self, pdev_t *d, int64_t now)
{
	kx_reading_t	 r;
	uint32_t	 plaus;
	int		 attempts, a, rc = KX_METER_EIO;
	int64_t		 next;

	attempts = d->st.online ? d->conf.retries + 1 : 1;
	d->st.last_pass_ms = now;
	for (a = 0; a < attempts; a++) {
		d->st.requests++;
		if ((rc = read_one(d, &r)) == KX_METER_OK)
			break;
		d->st.errors++;
	}
	d->st.last_rc = rc;
	if (rc != KX_METER_OK) {
		if (d->st.consec_fail < UINT32_MAX)
			d->st.consec_fail++;
		d->st.online = 0;
		d->st.next_ms = now + kx_poll_backoff_ms(d->conf.period_ms,
		    d->st.consec_fail, d->conf.backoff_max_ms);
		return;
	}
	d->st.consec_fail = 0;
	d->st.online = 1;
	d->st.readings++;
	d->st.last_good_ms = r.ts_ms;
	plaus = kx_slot_add_reading(&d->slots, &r, slot_tramp, d);
	if (plaus & (KX_SLOT_CH(0) | KX_SLOT_CH(1) | KX_SLOT_CH(2) |
	    KX_SLOT_R_BADVAL))
		d->st.implausible++;
	if (self->on_reading != NULL)
		self->on_reading(self->ctx, d->idx, &r, plaus);
	/* keep the cadence; if we fell behind, restart it from now */
	next = d->st.next_ms == INT64_MIN ? now + d->conf.period_ms :
	    d->st.next_ms + d->conf.period_ms;
	if (next <= now)
		next = now + d->conf.period_ms;
	d->st.next_ms = next;
}

int
kx_poll_run_once(kx_poller_t *self, int64_t now_ms)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < self->ndevs; i++) {
		if (self->devs[i]->st.next_ms > now_ms)
			continue;
		pass(self, self->devs[i], now_ms);
		n++;
	}
	return n;
}

int64_t
kx_poll_next_deadline(const kx_poller_t *self)
{
	int64_t	 t = INT64_MAX;
	size_t	 i;

	for (i = 0; i < self->ndevs; i++)
		if (self->devs[i]->st.next_ms < t)
			t = self->devs[i]->st.next_ms;
	return t;
}

int
kx_poll_timeout_ms(const kx_poller_t *self, int64_t now_ms)
{
	int64_t	 t = kx_poll_next_deadline(self);

	if (t == INT64_MAX)
		return -1;
	if (t <= now_ms)
		return 0;
	if (now_ms < 0 && t > INT64_MAX + now_ms)
		return INT_MAX;
	return t - now_ms > INT_MAX ? INT_MAX : (int)(t - now_ms);
}

size_t
kx_poll_count(const kx_poller_t *self)
{
	return self->ndevs;
}

const kx_poll_stats_t *
kx_poll_stats(const kx_poller_t *self, size_t i)
{
	return i < self->ndevs ? &self->devs[i]->st : NULL;
}

const kx_slot_acc_t *
kx_poll_slots(const kx_poller_t *self, size_t i)
{
	return i < self->ndevs ? &self->devs[i]->slots : NULL;
}

const char *
kx_poll_name(const kx_poller_t *self, size_t i)
{
	return i < self->ndevs ? self->devs[i]->conf.name : NULL;
}

const char *
kx_poll_add_error(const kx_poller_t *self, int rc)
{
	if (self != NULL && self->err[0] != '\0')
		return self->err;
	return kx_meter_strerror(rc);
}

const kx_meter_bus_t *
kx_poll_bus(const kx_poller_t *self, size_t i)
{
	if (i >= self->ndevs || self->devs[i]->dev == NULL)
		return NULL;
	return kx_meter_dev_bus(self->devs[i]->dev);
}

int
kx_poll_restore(kx_poller_t *self, size_t i, const uint8_t *state,
    size_t len)
{
	if (i >= self->ndevs || state == NULL)
		return KX_METER_EARG;
	return kx_slot_restore(&self->devs[i]->slots, state, len);
}

int
kx_poll_reslot(kx_poller_t *self, int slot_s)
{
	size_t	 i;

	for (i = 0; i < self->ndevs; i++)
		if (kx_slot_reslot(&self->devs[i]->slots, slot_s) !=
		    KX_METER_OK)
			return KX_METER_EARG;
	return KX_METER_OK;
}

void
kx_poll_flush(kx_poller_t *self)
{
	size_t	 i;

	for (i = 0; i < self->ndevs; i++)
		kx_slot_flush(&self->devs[i]->slots, slot_tramp,
		    self->devs[i]);
}
