/*
 * device.h - one Modbus meter: a transport (TCP or RTU via libmodbus)
 * plus a profile (sdm630, sdm120, sunspec), read into a kx_reading_t.
 *
 * The connection is opened lazily and closed after any error other than a
 * Modbus exception, so the next read reconnects; a device missing at
 * start-up is not an error until it is read. A configurable gap is kept
 * between requests (some devices and gateways need 25-200 ms). SunSpec
 * devices are scanned on the first read and rescanned when no known model
 * gives a value.
 * Tuned for one reading every few seconds; not thread-safe.
 */
#ifndef KX_METER_DEVICE_H
#define KX_METER_DEVICE_H

#include <stdint.h>

#include "profile.h"
#include "sunspec.h"

typedef struct kx_meter_dev kx_meter_dev_t;

#define KX_DEV_HOST_MAX	256
#define KX_DEV_PATH_MAX	256

typedef struct {
	char	 host[KX_DEV_HOST_MAX];	/* TCP host; "" for RTU */
	int	 port;			/* TCP port */
	char	 rtu[KX_DEV_PATH_MAX];	/* RTU serial device; "" for TCP */
	int	 baud;			/* RTU: 9600 by default */
	char	 parity;		/* RTU: 'N', 'E' or 'O' */
	int	 stop_bits;		/* RTU: 1 or 2 */
	int	 unit;			/* Modbus unit id 0..247 */
	int	 timeout_ms;		/* response timeout per request */
	int	 gap_ms;		/* quiet time between requests */
} kx_dev_conf_t;

/* Defaults: unit 1, timeout 1000 ms, gap 0, 9600 8N1. */
void	kx_dev_conf_init(kx_dev_conf_t *c);

/*
 * Parses "HOST:PORT" (IPv6 as [ADDR]:PORT) into c. Returns 0 or -1.
 */
int	kx_dev_conf_tcp(kx_dev_conf_t *c, const char *hostport)
	    __attribute__((warn_unused_result));

/*
 * A device for conf and profile (borrowed, must outlive the device).
 * Does not connect. NULL on a bad configuration or out of memory.
 */
kx_meter_dev_t	*kx_meter_dev_new(const kx_dev_conf_t *conf,
		    const kx_profile_t *profile);
void		 kx_meter_dev_destroy(kx_meter_dev_t **self_p);

/*
 * Reads once into r (ts_ms set to the wall clock). Returns KX_METER_OK or
 * a KX_METER_E* code; kx_meter_dev_error then describes the failure.
 */
int	kx_meter_dev_read(kx_meter_dev_t *self, kx_reading_t *r)
	    __attribute__((warn_unused_result));

/* SunSpec scan (any profile): fills map. Same returns. */
int	kx_meter_dev_scan(kx_meter_dev_t *self, kx_ss_map_t *map)
	    __attribute__((warn_unused_result));

/* The last failure as text (borrowed, valid until the next call). */
const char	*kx_meter_dev_error(const kx_meter_dev_t *self);

/* The transport as a kx_read_fn, with ctx the device (for tests). */
int	kx_meter_dev_read_regs(void *self, int fc, uint16_t addr, uint16_t n,
	    uint16_t *out);

#endif
