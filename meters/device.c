/*
 * device.c - Modbus meters over libmodbus (TCP or RTU), and the buses
 * they share.
 *
 * A bus holds the libmodbus context (created once, connected lazily),
 * whether it is open, and what the gaps need: the monotonic end of the
 * last request, its unit id and that device's gaps. A device holds its
 * configuration, its profile, a reference to its bus and, for SunSpec,
 * the model map found by the last scan. The bus is reference-counted:
 * its creator and every device on it hold one reference.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <modbus.h>

#include "device.h"

struct kx_meter_bus {
	int			 refs;		/* creator + devices */
	int			 is_rtu;
	char			 host[KX_DEV_HOST_MAX];	/* TCP */
	int			 port;
	char			 path[KX_DEV_PATH_MAX];	/* RTU, as written */
	char			 real[PATH_MAX];	/* resolved, or path */
	int			 baud;		/* RTU line settings */
	char			 parity;
	int			 stop_bits;
	int			 first_unit;	/* unit of the creating conf */
	char			 name[KX_DEV_HOST_MAX + 16];
	modbus_t		*mb;		/* libmodbus context */
	int64_t			 last_end_us;	/* monotonic, 0 = never */
	int			 last_unit;	/* of the last request, -1 */
	int			 last_gap_ms;	/* that device's gaps */
	int			 last_unit_gap_ms;
	int			 dirty;		/* RTU: flush before next */
	kx_meter_bus_stats_t	 st;
};

struct kx_meter_dev {
	kx_dev_conf_t		 conf;		/* copy of the configuration */
	const kx_profile_t	*profile;	/* borrowed */
	kx_meter_bus_t		*bus;		/* referenced */
	int			 have_map;	/* map is valid */
	kx_ss_map_t		 map;		/* SunSpec models */
	char			 err[640];	/* last failure */
};

static int64_t
mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_us(int64_t us)
{
	struct timespec	 ts;

	if (us <= 0)
		return;
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = (long)(us % 1000000) * 1000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void	seterr(char *err, size_t errlen, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
imax(int a, int b)
{
	return a > b ? a : b;
}

void
kx_dev_conf_init(kx_dev_conf_t *c)
{
	memset(c, 0, sizeof(*c));
	c->unit = 1;
	c->timeout_ms = 1000;
	c->baud = 9600;
	c->parity = 'N';
	c->stop_bits = 1;
}

int
kx_dev_conf_tcp(kx_dev_conf_t *c, const char *hostport)
{
	const char	*colon, *h = hostport;
	size_t		 hl;
	char		*end;
	long		 port;

	if (hostport == NULL)
		return -1;
	if (hostport[0] == '[') {
		h = hostport + 1;
		if ((colon = strstr(h, "]:")) == NULL)
			return -1;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strchr(hostport, ':')) == NULL ||
		    strchr(colon + 1, ':') != NULL)
			return -1;
		hl = (size_t)(colon - hostport);
	}
	if (hl == 0 || hl >= sizeof(c->host))
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 ||
	    port > 65535)
		return -1;
	memcpy(c->host, h, hl);
	c->host[hl] = '\0';
	c->port = (int)port;
	c->rtu[0] = '\0';
	return 0;
}

int
kx_dev_conf_check(const kx_dev_conf_t *c, char *err, size_t errlen)
{
	if (c == NULL) {
		seterr(err, errlen, "no device configuration");
		return KX_METER_EARG;
	}
	if (memchr(c->host, '\0', sizeof(c->host)) == NULL ||
	    memchr(c->rtu, '\0', sizeof(c->rtu)) == NULL) {
		seterr(err, errlen, "host or rtu device name too long");
		return KX_METER_EARG;
	}
	if ((c->host[0] == '\0') == (c->rtu[0] == '\0')) {
		seterr(err, errlen, "give either a TCP host or an RTU device");
		return KX_METER_EARG;
	}
	if (c->unit < 0 || c->unit > 247) {
		seterr(err, errlen, "unit %d: must be 0..247", c->unit);
		return KX_METER_EARG;
	}
	if (c->timeout_ms < 1 || c->gap_ms < 0 || c->unit_gap_ms < 0) {
		seterr(err, errlen, "timeout %d ms, gap %d ms, unit gap %d ms: "
		    "timeout must be >= 1, gaps >= 0", c->timeout_ms,
		    c->gap_ms, c->unit_gap_ms);
		return KX_METER_EARG;
	}
	if (c->host[0] != '\0') {
		if (c->port < 1 || c->port > 65535) {
			seterr(err, errlen, "port %d: must be 1..65535",
			    c->port);
			return KX_METER_EARG;
		}
		return KX_METER_OK;
	}
	if (c->baud < 1) {
		seterr(err, errlen, "baud %d: must be > 0", c->baud);
		return KX_METER_EARG;
	}
	if (c->parity != 'N' && c->parity != 'E' && c->parity != 'O') {
		seterr(err, errlen, "parity '%c': must be N, E or O",
		    c->parity >= 0x20 && c->parity < 0x7f ? c->parity : '?');
		return KX_METER_EARG;
	}
	if (c->stop_bits != 1 && c->stop_bits != 2) {
		seterr(err, errlen, "stop bits %d: must be 1 or 2",
		    c->stop_bits);
		return KX_METER_EARG;
	}
	return KX_METER_OK;
}

/* ---- bus ---- */

/* The file a device path names once links are resolved, else the path. */
static void
resolve(char *out, size_t outlen, const char *path)
{
	char	 buf[PATH_MAX];

	if (realpath(path, buf) != NULL && strlen(buf) < outlen)
		memcpy(out, buf, strlen(buf) + 1);
	else
		snprintf(out, outlen, "%s", path);
}

kx_meter_bus_t *
kx_meter_bus_new(const kx_dev_conf_t *conf)
{
	kx_meter_bus_t	*bus;
	char		 port[16];

	if (kx_dev_conf_check(conf, NULL, 0) != KX_METER_OK)
		return NULL;
	if ((bus = calloc(1, sizeof(*bus))) == NULL)
		return NULL;
	bus->refs = 1;
	bus->last_unit = -1;
	bus->first_unit = conf->unit;
	if (conf->host[0] != '\0') {
		memcpy(bus->host, conf->host, sizeof(bus->host));
		bus->port = conf->port;
		snprintf(port, sizeof(port), "%d", conf->port);
		snprintf(bus->name, sizeof(bus->name), "%s%s%s:%d",
		    strchr(conf->host, ':') != NULL ? "[" : "", conf->host,
		    strchr(conf->host, ':') != NULL ? "]" : "", conf->port);
		bus->mb = modbus_new_tcp_pi(conf->host, port);
	} else {
		bus->is_rtu = 1;
		memcpy(bus->path, conf->rtu, sizeof(bus->path));
		resolve(bus->real, sizeof(bus->real), conf->rtu);
		bus->baud = conf->baud;
		bus->parity = conf->parity;
		bus->stop_bits = conf->stop_bits;
		snprintf(bus->name, sizeof(bus->name), "%s", conf->rtu);
		bus->mb = modbus_new_rtu(conf->rtu, conf->baud, conf->parity,
		    8, conf->stop_bits);
	}
	if (bus->mb == NULL) {
		free(bus);
		return NULL;
	}
	return bus;
}

static void
bus_unref(kx_meter_bus_t *bus)
{
	if (bus == NULL || --bus->refs > 0)
		return;
	if (bus->st.connected)
		modbus_close(bus->mb);
	modbus_free(bus->mb);
	free(bus);
}

void
kx_meter_bus_destroy(kx_meter_bus_t **bus_p)
{
	if (bus_p == NULL || *bus_p == NULL)
		return;
	bus_unref(*bus_p);
	*bus_p = NULL;
}

int
kx_meter_bus_same(const kx_meter_bus_t *bus, const kx_dev_conf_t *conf)
{
	char	 real[PATH_MAX];

	if (bus == NULL || conf == NULL ||
	    memchr(conf->host, '\0', sizeof(conf->host)) == NULL ||
	    memchr(conf->rtu, '\0', sizeof(conf->rtu)) == NULL)
		return 0;
	if (conf->host[0] != '\0')
		return !bus->is_rtu && conf->port == bus->port &&
		    strcasecmp(conf->host, bus->host) == 0;
	if (!bus->is_rtu || conf->rtu[0] == '\0')
		return 0;
	if (strcmp(conf->rtu, bus->path) == 0)
		return 1;
	resolve(real, sizeof(real), conf->rtu);
	return strcmp(real, bus->real) == 0;
}

int
kx_meter_bus_check(const kx_meter_bus_t *bus, const kx_dev_conf_t *conf,
    char *err, size_t errlen)
{
	int	 rc;

	if (bus == NULL) {
		seterr(err, errlen, "no bus");
		return KX_METER_EARG;
	}
	if ((rc = kx_dev_conf_check(conf, err, errlen)) != KX_METER_OK)
		return rc;
	if (!kx_meter_bus_same(bus, conf)) {
		seterr(err, errlen, "unit %d (%s) is not on bus %s",
		    conf->unit, conf->host[0] != '\0' ? conf->host : conf->rtu,
		    bus->name);
		return KX_METER_EARG;
	}
	if (!bus->is_rtu)
		return KX_METER_OK;
	if (conf->baud != bus->baud) {
		seterr(err, errlen, "bus %s: unit %d wants %d baud, the bus "
		    "runs at %d (unit %d)", bus->name, conf->unit, conf->baud,
		    bus->baud, bus->first_unit);
		return KX_METER_EARG;
	}
	if (conf->parity != bus->parity) {
		seterr(err, errlen, "bus %s: unit %d wants parity %c, the bus "
		    "has %c (unit %d)", bus->name, conf->unit, conf->parity,
		    bus->parity, bus->first_unit);
		return KX_METER_EARG;
	}
	if (conf->stop_bits != bus->stop_bits) {
		seterr(err, errlen, "bus %s: unit %d wants %d stop bits, the "
		    "bus has %d (unit %d)", bus->name, conf->unit,
		    conf->stop_bits, bus->stop_bits, bus->first_unit);
		return KX_METER_EARG;
	}
	return KX_METER_OK;
}

const char *
kx_meter_bus_name(const kx_meter_bus_t *bus)
{
	return bus->name;
}

const kx_meter_bus_stats_t *
kx_meter_bus_stats(const kx_meter_bus_t *bus)
{
	return &bus->st;
}

static void
bus_close(kx_meter_bus_t *bus)
{
	if (bus->st.connected) {
		modbus_close(bus->mb);
		bus->st.connected = 0;
		bus->st.closes++;
	}
	bus->dirty = 0;
}

static int
bus_open(kx_meter_bus_t *bus, char *err, size_t errlen)
{
	int	 e;

	if (bus->st.connected)
		return KX_METER_OK;
	if (modbus_connect(bus->mb) == -1) {
		e = errno;
		seterr(err, errlen, "%s %s: %s", bus->is_rtu ? "open" :
		    "connect", bus->name, modbus_strerror(e));
		modbus_close(bus->mb);
		bus->st.open_errors++;
		return KX_METER_EIO;
	}
	bus->st.connected = 1;
	bus->st.opens++;
	bus->dirty = 0;
	return KX_METER_OK;
}

/*
 * RTU errors that say nothing against the port: no answer in time (a
 * dead or absent unit), or a damaged, foreign or unexpected frame.
 */
static int
rtu_line_error(int e)
{
	return e == ETIMEDOUT || e == EMBBADCRC || e == EMBBADDATA ||
	    e == EMBBADEXC || e == EMBUNKEXC || e == EMBMDATA ||
	    e == EMBBADSLAVE;
}

/*
 * One read request for the device with configuration c on bus, after the
 * gaps. Returns KX_METER_OK, KX_METER_EEXC (the link is kept) or
 * KX_METER_EIO with the reason in err.
 */
static int
bus_read(kx_meter_bus_t *bus, const kx_dev_conf_t *c, int fc,
    uint16_t addr, uint16_t n, uint16_t *out, char *err, size_t errlen)
{
	uint32_t	 s = (uint32_t)c->timeout_ms / 1000;
	uint32_t	 us = (uint32_t)(c->timeout_ms % 1000) * 1000;
	int64_t		 gap;
	int		 rc, e;

	/* the TCP connect waits up to the response timeout */
	modbus_set_response_timeout(bus->mb, s, us);
	modbus_set_byte_timeout(bus->mb, s, us);
	if ((rc = bus_open(bus, err, errlen)) != KX_METER_OK)
		return rc;
	if (bus->last_end_us != 0) {
		gap = imax(c->gap_ms, bus->last_gap_ms);
		if (c->unit != bus->last_unit)
			gap = imax((int)gap, imax(c->unit_gap_ms,
			    bus->last_unit_gap_ms));
		sleep_us(bus->last_end_us + gap * 1000 - mono_us());
	}
	if (bus->dirty) {		/* a late answer to the last request */
		modbus_flush(bus->mb);
		bus->dirty = 0;
	}
	if (modbus_set_slave(bus->mb, c->unit) == -1) {
		seterr(err, errlen, "unit %d: %s", c->unit,
		    modbus_strerror(errno));
		return KX_METER_EARG;
	}
	bus->st.requests++;
	if (fc == 3)
		rc = modbus_read_registers(bus->mb, addr, n, out);
	else
		rc = modbus_read_input_registers(bus->mb, addr, n, out);
	e = errno;
	bus->last_end_us = mono_us();
	bus->last_unit = c->unit;
	bus->last_gap_ms = c->gap_ms;
	bus->last_unit_gap_ms = c->unit_gap_ms;
	if (rc == n)
		return KX_METER_OK;
	seterr(err, errlen, "read fc %d at %u (%u): %s", fc, addr, n,
	    rc == -1 ? modbus_strerror(e) : "short answer");
	if (rc == -1 && e >= EMBXILFUN && e <= EMBXGTAR)
		return KX_METER_EEXC;	/* a valid answer: keep the link */
	bus->st.errors++;
	if (rc == -1 && e == ETIMEDOUT)
		bus->st.timeouts++;
	if (bus->is_rtu && (rc != -1 || rtu_line_error(e))) {
		/* the port is fine: drop what is left of the answer */
		modbus_flush(bus->mb);
		bus->dirty = 1;
		bus->st.flushes++;
	} else
		bus_close(bus);		/* reopened by the next request */
	return KX_METER_EIO;
}

/* ---- device ---- */

kx_meter_dev_t *
kx_meter_dev_new_on(kx_meter_bus_t *bus, const kx_dev_conf_t *conf,
    const kx_profile_t *profile)
{
	kx_meter_dev_t	*self;

	if (profile == NULL ||
	    kx_meter_bus_check(bus, conf, NULL, 0) != KX_METER_OK)
		return NULL;
	if ((self = calloc(1, sizeof(*self))) == NULL)
		return NULL;
	self->conf = *conf;
	self->profile = profile;
	self->bus = bus;
	bus->refs++;
	bus->st.devices++;
	return self;
}

kx_meter_dev_t *
kx_meter_dev_new(const kx_dev_conf_t *conf, const kx_profile_t *profile)
{
	kx_meter_bus_t	*bus;
	kx_meter_dev_t	*self;

	if (profile == NULL || (bus = kx_meter_bus_new(conf)) == NULL)
		return NULL;
	self = kx_meter_dev_new_on(bus, conf, profile);
	kx_meter_bus_destroy(&bus);
	return self;
}

void
kx_meter_dev_destroy(kx_meter_dev_t **self_p)
{
	kx_meter_dev_t	*self;

	if (self_p == NULL || (self = *self_p) == NULL)
		return;
	self->bus->st.devices--;
	bus_unref(self->bus);
	free(self);
	*self_p = NULL;
}

kx_meter_bus_t *
kx_meter_dev_bus(const kx_meter_dev_t *self)
{
	return self->bus;
}

const char *
kx_meter_dev_error(const kx_meter_dev_t *self)
{
	return self->err[0] != '\0' ? self->err : "no error";
}

int
kx_meter_dev_read_regs(void *ctx, int fc, uint16_t addr, uint16_t n,
    uint16_t *out)
{
	kx_meter_dev_t	*self = ctx;

	if (n < 1 || n > KX_MODBUS_READ_MAX || (fc != 3 && fc != 4))
		return KX_METER_EARG;
	return bus_read(self->bus, &self->conf, fc, addr, n, out, self->err,
	    sizeof(self->err));
}

int
kx_meter_dev_scan(kx_meter_dev_t *self, kx_ss_map_t *map)
{
	int	 rc;

	char	 last[sizeof(self->err)];

	self->err[0] = '\0';
	rc = kx_ss_scan(map, kx_meter_dev_read_regs, self);
	if (rc != KX_METER_OK && rc != KX_METER_EIO && rc != KX_METER_EEXC) {
		/* keep the device's last answer: it often names the cause */
		memcpy(last, self->err, sizeof(last));
		snprintf(self->err, sizeof(self->err), "sunspec: %s%s%.200s%s",
		    kx_meter_strerror(rc), last[0] != '\0' ? " (last: " : "",
		    last, last[0] != '\0' ? ")" : "");
	}
	return rc;
}

int
kx_meter_dev_read(kx_meter_dev_t *self, kx_reading_t *r)
{
	int	 rc;

	memset(r, 0, sizeof(*r));
	self->err[0] = '\0';
	if (self->profile->kind == KX_PROFILE_SUNSPEC) {
		if (!self->have_map) {
			if ((rc = kx_meter_dev_scan(self, &self->map)) !=
			    KX_METER_OK)
				return rc;
			self->have_map = 1;
		}
		rc = kx_ss_read(r, &self->map, kx_meter_dev_read_regs, self);
		if (rc == KX_METER_ENODATA)
			self->have_map = 0;	/* rescan next time */
	} else
		rc = kx_profile_read(r, self->profile, kx_meter_dev_read_regs,
		    self);
	if (rc != KX_METER_OK && self->err[0] == '\0')
		snprintf(self->err, sizeof(self->err), "%s",
		    kx_meter_strerror(rc));
	r->ts_ms = wall_ms();
	return rc;
}
