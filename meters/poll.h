/*
 * poll.h - polling of several meters from the caller's event loop.
 *
 * No threads and no clock inside: the caller waits until
 * kx_poll_next_deadline() and calls kx_poll_run_once(now) with its own
 * monotonic milliseconds. A pass reads every device that is due, each at
 * most retries + 1 times (a device that is offline is probed with one
 * attempt), so a dead device costs the others at most its own budget
 * timeout_ms x (retries + 1) per pass (plus the configured gaps before
 * its requests), and only when it is due. A device whose pass failed k
 * times in a row is next tried after min(period x 2^k, backoff_max); a
 * good reading puts it back on its period.
 *
 * Modbus devices with the same RTU device or the same TCP host:port share
 * one bus (device.h): one serial port or connection, requests one at a
 * time with the gaps of kx_dev_conf_t. The bound above holds on a shared
 * bus too: a dead unit's timeouts only flush an RTU port (it is not
 * reopened, the live units on it do not notice), while a TCP connection
 * is closed after any error other than an exception and reconnected by
 * the next request, so a restarted server is picked up by the next probe.
 *
 * Each good reading goes through the device's slot accumulator (slot.h:
 * plausibility of the energy counters, slot totals) and then to the
 * reading callback; each completed slot goes to the slot callback.
 * Tuned for tens of devices read every 1-60 s; not thread-safe.
 */
#ifndef KX_METER_POLL_H
#define KX_METER_POLL_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "profile.h"
#include "slot.h"

typedef struct kx_poller kx_poller_t;

#define KX_POLL_NAME_MAX	32
#define KX_POLL_ERR_MAX		256

/* Per-device polling settings. */
typedef struct {
	char	 name[KX_POLL_NAME_MAX];	/* for logs; "" = "devN" */
	int	 period_ms;	/* between readings (1000) */
	int	 retries;	/* extra attempts in a pass while online (1) */
	int	 backoff_max_ms;	/* cap of the back-off (300 000) */
	kx_slot_conf_t	 slot;	/* plausibility and slots (slot.h) */
} kx_poll_dev_conf_t;

/* Per-device counters (kx_poll_stats). */
typedef struct {
	uint64_t requests;	/* read attempts */
	uint64_t errors;	/* failed attempts */
	uint64_t readings;	/* good readings delivered */
	uint64_t implausible;	/* readings with a refused counter */
	uint32_t consec_fail;	/* failed passes in a row */
	int	 online;	/* the last pass gave a reading */
	int64_t	 last_good_ms;	/* ts_ms (wall) of the last reading, 0 */
	int64_t	 next_ms;	/* next attempt, caller's clock */
	int64_t	 last_pass_ms;	/* caller's clock at the last attempt */
	int	 last_rc;	/* KX_METER_* of the last attempt */
	char	 last_error[KX_POLL_ERR_MAX];	/* text of the last failure */
} kx_poll_stats_t;

/*
 * A reading source other than a Modbus device (tests, other protocols):
 * fills r (including ts_ms) and returns KX_METER_OK, or a KX_METER_E*
 * code with a description in err.
 */
typedef int	(*kx_poll_read_fn)(void *ctx, kx_reading_t *r, char *err,
		    size_t errlen);

/* Called with each good reading and the kx_slot_add result bits. */
typedef void	(*kx_poll_reading_fn)(void *ctx, size_t dev,
		    const kx_reading_t *r, uint32_t plaus);

/* Called with each completed slot of a device. */
typedef void	(*kx_poll_slot_fn)(void *ctx, size_t dev,
		    const kx_slot_total_t *t);

/* Defaults: 1 s, 1 retry, 5 min cap, kx_slot_conf_init. */
void	kx_poll_dev_conf_init(kx_poll_dev_conf_t *c);

/* A poller; callbacks may be NULL. NULL when out of memory. */
kx_poller_t	*kx_poll_new(kx_poll_reading_fn on_reading,
		    kx_poll_slot_fn on_slot, void *ctx);
void		 kx_poll_destroy(kx_poller_t **self_p);

/*
 * Adds a Modbus device for dconf and profile (borrowed; must outlive the
 * poller); pconf NULL = defaults. The poller owns the device; it is first
 * due at once. A device whose RTU device or TCP host:port is already
 * polled joins that bus (kx_meter_bus_same); on RTU its baud, parity and
 * stop bits must then be the bus's, else it is refused. Returns the
 * device index (>= 0) or KX_METER_EARG / KX_METER_ENOMEM, with the reason
 * in kx_poll_add_error.
 */
int	kx_poll_add(kx_poller_t *self, const kx_dev_conf_t *dconf,
	    const kx_profile_t *profile, const kx_poll_dev_conf_t *pconf)
	    __attribute__((warn_unused_result));

/* Adds a reading function with its context (borrowed). Same returns. */
int	kx_poll_add_fn(kx_poller_t *self, kx_poll_read_fn fn, void *fn_ctx,
	    const kx_poll_dev_conf_t *pconf)
	    __attribute__((warn_unused_result));

/*
 * Why the last kx_poll_add or kx_poll_add_fn failed, e.g. "bus
 * /dev/ttyUSB0: unit 7 wants 9600 baud, the bus runs at 19200 (unit 1)";
 * kx_meter_strerror(rc) when there is no better text (borrowed, valid
 * until the next add).
 */
const char	*kx_poll_add_error(const kx_poller_t *self, int rc);

/*
 * One pass at now_ms (the caller's monotonic clock): reads every device
 * with next_ms <= now_ms, in index order. Returns the number of devices
 * attempted.
 */
int	kx_poll_run_once(kx_poller_t *self, int64_t now_ms);

/*
 * The earliest next_ms over all devices; INT64_MAX when there are none,
 * INT64_MIN while a device added has not been tried yet (due at once).
 * Compare it with the clock, do not subtract; or use kx_poll_timeout_ms.
 */
int64_t	kx_poll_next_deadline(const kx_poller_t *self);

/*
 * Milliseconds from now_ms to the next deadline, clamped to 0..INT_MAX,
 * or -1 when there are no devices (poll(2)'s timeout argument).
 */
int	kx_poll_timeout_ms(const kx_poller_t *self, int64_t now_ms);

size_t	kx_poll_count(const kx_poller_t *self);

/* Counters of device i (borrowed), or NULL when i is out of range. */
const kx_poll_stats_t	*kx_poll_stats(const kx_poller_t *self, size_t i);

/* The slot accumulator of device i (borrowed), or NULL. */
const kx_slot_acc_t	*kx_poll_slots(const kx_poller_t *self, size_t i);

/* The name of device i ("devN" when none was given), or NULL. */
const char	*kx_poll_name(const kx_poller_t *self, size_t i);

/*
 * The bus of device i (borrowed; device.h kx_meter_bus_name and
 * kx_meter_bus_stats), or NULL for a reading function or i out of range.
 * Devices sharing a bus return the same pointer.
 */
const kx_meter_bus_t	*kx_poll_bus(const kx_poller_t *self, size_t i);

/*
 * Restores device i's slot accumulator from a kx_slot_save record (slot.h
 * kx_slot_restore), before its first reading. Returns KX_METER_OK, or
 * KX_METER_EARG (i out of range, record refused; nothing changed).
 */
int	kx_poll_restore(kx_poller_t *self, size_t i, const uint8_t *state,
	    size_t len) __attribute__((warn_unused_result));

/* kx_slot_reslot on every device (a new market slot length). */
int	kx_poll_reslot(kx_poller_t *self, int slot_s)
	    __attribute__((warn_unused_result));

/*
 * The wait after k >= 1 failed passes: min(period_ms x 2^k, cap_ms);
 * period_ms for k == 0. Never overflows.
 */
int64_t	kx_poll_backoff_ms(int period_ms, uint32_t k, int cap_ms);

/* Emits each device's open slot as it stands (slot.h kx_slot_flush). */
void	kx_poll_flush(kx_poller_t *self);

#endif
