/*
 * device.c - a Modbus meter over libmodbus (TCP or RTU).
 *
 * State: the libmodbus context (created once, connected lazily), whether
 * it is connected, the monotonic time of the last request (for the gap)
 * and, for SunSpec, the model map found by the last scan.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <modbus.h>

#include "device.h"

struct kx_meter_dev {
	kx_dev_conf_t		 conf;		/* copy of the configuration */
	const kx_profile_t	*profile;	/* borrowed */
	modbus_t		*mb;		/* libmodbus context */
	int			 connected;	/* mb is connected */
	int64_t			 last_req_ms;	/* monotonic, 0 = never */
	int			 have_map;	/* map is valid */
	kx_ss_map_t		 map;		/* SunSpec models */
	char			 err[640];	/* last failure */
};

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec	 ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
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

kx_meter_dev_t *
kx_meter_dev_new(const kx_dev_conf_t *conf, const kx_profile_t *profile)
{
	kx_meter_dev_t	*self;
	char		 port[16];

	if (conf == NULL || profile == NULL || conf->unit < 0 ||
	    conf->unit > 247 || conf->timeout_ms < 1 || conf->gap_ms < 0 ||
	    (conf->host[0] == '\0') == (conf->rtu[0] == '\0') ||
	    memchr(conf->host, '\0', sizeof(conf->host)) == NULL ||
	    memchr(conf->rtu, '\0', sizeof(conf->rtu)) == NULL)
		return NULL;
	if ((self = calloc(1, sizeof(*self))) == NULL)
		return NULL;
	self->conf = *conf;
	self->profile = profile;
	if (conf->host[0] != '\0') {
		snprintf(port, sizeof(port), "%d", conf->port);
		self->mb = modbus_new_tcp_pi(conf->host, port);
	} else {
		if (conf->parity != 'N' && conf->parity != 'E' &&
		    conf->parity != 'O')
			goto fail;
		if (conf->stop_bits != 1 && conf->stop_bits != 2)
			goto fail;
		self->mb = modbus_new_rtu(conf->rtu, conf->baud, conf->parity,
		    8, conf->stop_bits);
	}
	if (self->mb == NULL)
		goto fail;
	if (modbus_set_slave(self->mb, conf->unit) == -1)
		goto fail;
	modbus_set_response_timeout(self->mb, (uint32_t)conf->timeout_ms / 1000,
	    (uint32_t)(conf->timeout_ms % 1000) * 1000);
	modbus_set_byte_timeout(self->mb, (uint32_t)conf->timeout_ms / 1000,
	    (uint32_t)(conf->timeout_ms % 1000) * 1000);
	return self;
fail:
	if (self->mb != NULL)
		modbus_free(self->mb);
	free(self);
	return NULL;
}

void
kx_meter_dev_destroy(kx_meter_dev_t **self_p)
{
	kx_meter_dev_t	*self;

	if (self_p == NULL || (self = *self_p) == NULL)
		return;
	if (self->connected)
		modbus_close(self->mb);
	modbus_free(self->mb);
	free(self);
	*self_p = NULL;
}

const char *
kx_meter_dev_error(const kx_meter_dev_t *self)
{
	return self->err[0] != '\0' ? self->err : "no error";
}

static void
drop(kx_meter_dev_t *self)
{
	if (self->connected) {
		modbus_close(self->mb);
		self->connected = 0;
	}
}

static int
ensure_connected(kx_meter_dev_t *self)
{
	if (self->connected)
		return KX_METER_OK;
	if (modbus_connect(self->mb) == -1) {
		snprintf(self->err, sizeof(self->err), "connect %s%s%d: %s",
		    self->conf.host[0] != '\0' ? self->conf.host :
		    self->conf.rtu, self->conf.host[0] != '\0' ? ":" : " unit ",
		    self->conf.host[0] != '\0' ? self->conf.port :
		    self->conf.unit, modbus_strerror(errno));
		modbus_close(self->mb);
		return KX_METER_EIO;
	}
	self->connected = 1;
	return KX_METER_OK;
}

int
kx_meter_dev_read_regs(void *ctx, int fc, uint16_t addr, uint16_t n,
    uint16_t *out)
{
	kx_meter_dev_t	*self = ctx;
	int64_t		 wait;
	int		 rc, e;

	if (n < 1 || n > KX_MODBUS_READ_MAX || (fc != 3 && fc != 4))
		return KX_METER_EARG;
	if ((rc = ensure_connected(self)) != KX_METER_OK)
		return rc;
	if (self->conf.gap_ms > 0 && self->last_req_ms != 0) {
		wait = self->last_req_ms + self->conf.gap_ms - mono_ms();
		sleep_ms(wait);
	}
	if (fc == 3)
		rc = modbus_read_registers(self->mb, addr, n, out);
	else
		rc = modbus_read_input_registers(self->mb, addr, n, out);
	e = errno;
	self->last_req_ms = mono_ms();
	if (rc == n)
		return KX_METER_OK;
	snprintf(self->err, sizeof(self->err), "read fc %d at %u (%u): %s",
	    fc, addr, n, rc == -1 ? modbus_strerror(e) : "short answer");
	if (rc == -1 && e >= EMBXILFUN && e <= EMBXGTAR)
		return KX_METER_EEXC;	/* a valid answer: keep the link */
	drop(self);
	return KX_METER_EIO;
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
