/*
 * device.h - one Modbus meter: a unit id on a bus (a serial port for
 * RTU, a TCP connection to HOST:PORT) plus a profile (sdm630, sdm120,
 * sunspec), read into a kx_reading_t.
 *
 * The bus (kx_meter_bus_t) owns the libmodbus context. Several devices,
 * each with its own unit id, may share one bus: several meters on one
 * RS-485 line, or several units behind one Modbus TCP gateway. Requests
 * on a bus go one at a time (the caller is single-threaded), with a quiet
 * gap between requests and a separate gap after a change of unit id
 * (some devices and gateways need 25-200 ms).
 *
 * The connection is opened lazily; a device missing at start-up is not an
 * error until it is read. After a failed request: a Modbus exception is a
 * valid answer (the link is kept); on TCP any other error closes the
 * connection, so the next request reconnects (a late answer can never be
 * taken for the next unit's); on RTU a timeout or a bad frame only
 * flushes the port (a silent unit does not mean a broken port, and the
 * other units on it must not pay for reopening it), and only an error of
 * the port itself (EIO, ENXIO, ...) closes it for reopening. SunSpec
 * devices are scanned on the first read and rescanned when no known model
 * gives a value.
 * Tuned for one reading every few seconds per device; not thread-safe (a
 * bus and its devices belong to one thread).
 */
#ifndef KX_METER_DEVICE_H
#define KX_METER_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "sunspec.h"

typedef struct kx_meter_dev kx_meter_dev_t;
typedef struct kx_meter_bus kx_meter_bus_t;

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
	int	 gap_ms;		/* quiet time before each request */
	int	 unit_gap_ms;		/* quiet time when the unit id changes */
} kx_dev_conf_t;

/*
 * Defaults: unit 1, timeout 1000 ms, gap 0, unit gap 0, 9600 8N1.
 * Before a request the bus waits, from the end of the previous request
 * on it, max(gap_ms) of the previous and this request's device, or, when
 * the unit id differs from the previous request's, the larger of that and
 * max(unit_gap_ms) of the two.
 */
void	kx_dev_conf_init(kx_dev_conf_t *c);

/*
 * Parses "HOST:PORT" (IPv6 as [ADDR]:PORT) into c. Returns 0 or -1.
 */
int	kx_dev_conf_tcp(kx_dev_conf_t *c, const char *hostport)
	    __attribute__((warn_unused_result));

/*
 * Checks a configuration: one of host and rtu, unit 0..247, timeout >= 1,
 * gaps >= 0, RTU baud > 0, parity N/E/O, stop bits 1/2. Returns
 * KX_METER_OK, or KX_METER_EARG with the reason in err (if not NULL).
 */
int	kx_dev_conf_check(const kx_dev_conf_t *c, char *err, size_t errlen);

/* ---- bus: one serial port or one TCP host:port ---- */

/* Counters of a bus (kx_meter_bus_stats). */
typedef struct {
	uint64_t opens;		/* port opened / TCP connected */
	uint64_t open_errors;	/* failed opens or connects */
	uint64_t requests;	/* requests sent */
	uint64_t errors;	/* failed requests (exceptions not counted) */
	uint64_t timeouts;	/* of those, no answer in time */
	uint64_t flushes;	/* RTU: input discarded, port kept open */
	uint64_t closes;	/* closed after an error, to be reopened */
	int	 connected;	/* open now */
	int	 devices;	/* devices on the bus */
} kx_meter_bus_stats_t;

/*
 * A bus for conf's transport (host and port, or rtu with baud, parity and
 * stop bits; the other fields are ignored). Does not connect. The caller
 * holds one reference; each device made on the bus holds another, and the
 * bus is freed with the last. NULL on a bad configuration or out of
 * memory.
 */
kx_meter_bus_t	*kx_meter_bus_new(const kx_dev_conf_t *conf);

/* Drops the caller's reference and nulls *bus_p; NULL is fine. */
void		 kx_meter_bus_destroy(kx_meter_bus_t **bus_p);

/*
 * 1 when conf addresses bus: the same RTU device (as written, or the same
 * file once symbolic links are resolved) or the same TCP host
 * (case-insensitive, as written: "localhost" and "127.0.0.1" are two
 * buses) and port; else 0.
 */
int	kx_meter_bus_same(const kx_meter_bus_t *bus, const kx_dev_conf_t *conf);

/*
 * Whether a device for conf can join bus: kx_meter_bus_same, and for RTU
 * the same baud, parity and stop bits. Returns KX_METER_OK, or
 * KX_METER_EARG with the reason in err (if not NULL), e.g. "bus
 * /dev/ttyUSB0: unit 7 wants 9600 baud, the bus runs at 19200 (unit 1)".
 */
int	kx_meter_bus_check(const kx_meter_bus_t *bus, const kx_dev_conf_t *conf,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/* "HOST:PORT" or the RTU device as configured (borrowed). */
const char	*kx_meter_bus_name(const kx_meter_bus_t *bus);

/* The bus's counters (borrowed, live). */
const kx_meter_bus_stats_t	*kx_meter_bus_stats(const kx_meter_bus_t *bus);

/* ---- device: a unit id and a profile on a bus ---- */

/*
 * A device for conf and profile (borrowed, must outlive the device) on a
 * bus of its own. Does not connect. NULL on a bad configuration or out of
 * memory.
 */
kx_meter_dev_t	*kx_meter_dev_new(const kx_dev_conf_t *conf,
		    const kx_profile_t *profile);

/*
 * A device on bus (which it references; the caller keeps its own
 * reference). NULL when kx_meter_bus_check refuses conf (see there) or
 * out of memory.
 */
kx_meter_dev_t	*kx_meter_dev_new_on(kx_meter_bus_t *bus,
		    const kx_dev_conf_t *conf, const kx_profile_t *profile);
void		 kx_meter_dev_destroy(kx_meter_dev_t **self_p);

/* The device's bus (borrowed; kept alive by the device). */
kx_meter_bus_t	*kx_meter_dev_bus(const kx_meter_dev_t *self);

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
