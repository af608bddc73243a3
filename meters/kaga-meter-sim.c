/*
 * kaga-meter-sim - a Modbus meter simulator for tests and demos.
 *
 *   kaga-meter-sim --listen 127.0.0.1:PORT | --rtu DEVICE [--baud N]
 *       [--profile sdm630|sunspec|sunspec-float] [--unit N | --units N,M...]
 *       [--speed X] [--hour H] [--pv-w W] [--load-w W]
 *       [--fault none|noanswer|delay:MS|exception:CODE|garbage]
 *
 * Serves an Eastron SDM630 (input registers, float32 ABCD) or a SunSpec
 * device at 40000: model 1 + inverter 103 + meter 203 + battery 802
 * (sunspec), or 1 + 113 + 213 + 124 (sunspec-float). Values follow a day:
 * PV a half sine from 06:00 to 18:00 (JST, or --hour at start) peaking at
 * --pv-w (4500 W; 0: no PV), a load of --load-w at night (450 W) with
 * morning and evening peaks in proportion, a 10 kWh battery that absorbs surplus
 * and covers deficit; energy counters integrate the grid power. --speed
 * runs the simulated clock faster. Every unit id served (--unit, or several
 * with --units) answers for the same installation. TCP: several clients
 * through select(); a request for another unit id gets exception 11. RTU:
 * frames are cut here (by length for function codes 1-6, 15, 16, else by
 * a silence), checked (CRC) and answered only for a served unit id; other
 * frames are ignored as a device on a shared line ignores them (libmodbus's
 * own server filter serves one unit id and would then take the next frame
 * for the other unit's answer and drop it). Exits 0 on SIGTERM/SIGINT.
 * Exit status: 0 after a signal, 1 failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "ctlutil.h"
#include "profile.h"

#define SS_BASE		40000
#define SS_NREGS	400
#define SDM_NREGS	0x100
#define CLIENTS_MAX	16
#define BATT_WH		10000.0
#define UNITS_MAX	256
#define FRAME_QUIET_MS	20	/* RTU: a silence this long ends a frame */

enum prof { P_SDM630, P_SUNSPEC, P_SUNSPEC_FLOAT };
enum fault { F_NONE, F_NOANSWER, F_DELAY, F_EXCEPTION, F_GARBAGE };

static volatile sig_atomic_t	 quit;

/* The simulated installation. */
static struct {
	double	 t0_real;	/* monotonic s at start */
	double	 t0_sim;	/* simulated s of day at start */
	double	 last_sim;	/* simulated s at the last step */
	double	 speed;
	double	 import_wh, export_wh, pv_wh;
	double	 soc;		/* % */
	double	 pv, load, batt, grid;	/* W; batt + = discharging */
	double	 pv_peak;		/* W at noon (--pv-w, 4500) */
	double	 load_base;		/* W at night (--load-w, 450) */
} st;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/*
 * Small replacements for libm (the Makefile links no -lm): good to 1e-6
 * over the ranges used here, which is plenty for a simulated meter.
 */
static double
xabs(double x)
{
	return x < 0 ? -x : x;
}

static double
xmin(double a, double b)
{
	return a < b ? a : b;
}

static double
xmax(double a, double b)
{
	return a > b ? a : b;
}

static double
xmod(double x, double y)
{
	return x - (double)(int64_t)(x / y) * y;
}

static long
xround(double x)
{
	return x >= 0 ? (long)(x + 0.5) : -(long)(-x + 0.5);
}

static double
xsin(double x)
{
	double	 t, s;
	int	 i;

	x = xmod(x, 2 * M_PI);
	if (x > M_PI)
		x -= 2 * M_PI;
	if (x < -M_PI)
		x += 2 * M_PI;
	t = s = x;
	for (i = 1; i < 12; i++) {
		t *= -x * x / ((2 * i) * (2 * i + 1));
		s += t;
	}
	return s;
}

/* e^x for x <= 0 */
static double
xexp_neg(double x)
{
	double	 y;
	int	 i;

	if (x < -60)
		return 0;
	y = 1 + x / 1048576.0;
	for (i = 0; i < 20; i++)
		y *= y;
	return y;
}

static double
mono_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Advances the model to now. */
static void
step(int with_battery)
{
	double	 now = st.t0_sim + (mono_s() - st.t0_real) * st.speed;
	double	 dt = now - st.last_sim, hod;

	st.last_sim = now;
	hod = xmod(now / 3600.0, 24.0);
	st.pv = hod > 6 && hod < 18 ? st.pv_peak * xsin(M_PI * (hod - 6) /
	    12) : 0;
	/* the peaks scale with the base load (450 W: a household) */
	st.load = st.load_base * (1 + 3.33 * xexp_neg(-(hod - 19) *
	    (hod - 19) / 4) + 0.89 * xexp_neg(-(hod - 7.5) * (hod - 7.5) / 2));
	st.batt = 0;
	if (with_battery) {
		if (st.pv > st.load && st.soc < 100)
			st.batt = -xmin(st.pv - st.load, 2500);
		else if (st.load > st.pv && st.soc > 10)
			st.batt = xmin(st.load - st.pv, 2000);
		st.soc -= st.batt * dt / 3600.0 / BATT_WH * 100.0;
		st.soc = xmax(0, xmin(100, st.soc));
	}
	st.grid = st.load - st.pv - st.batt;
	if (dt > 0) {
		st.import_wh += xmax(st.grid, 0) * dt / 3600.0;
		st.export_wh += xmax(-st.grid, 0) * dt / 3600.0;
		st.pv_wh += st.pv * dt / 3600.0;
	}
}

static const double	 share[3] = { 0.40, 0.35, 0.25 };
static const double	 volts[3] = { 230.5, 231.2, 229.8 };

static void
putf(uint16_t *r, float f)
{
	kx_reg_encode_float(r, f, KX_O_ABCD);
}

static void
put32(uint16_t *r, uint32_t v)
{
	kx_reg_encode32(r, v, KX_O_ABCD);
}

static uint16_t
s16(double v)
{
	long	 x = xround(v);

	if (x > 32767)
		x = 32767;
	if (x < -32767)
		x = -32767;
	return (uint16_t)(int16_t)x;
}

static void
fill_sdm630(uint16_t *r)
{
	int	 i;

	for (i = 0; i < 3; i++) {
		putf(r + 2 * i, (float)volts[i]);
		putf(r + 6 + 2 * i, (float)(xabs(st.grid) * share[i] /
		    volts[i]));
		putf(r + 12 + 2 * i, (float)(st.grid * share[i]));
	}
	putf(r + 0x34, (float)st.grid);
	putf(r + 0x46, 50.01f);
	putf(r + 0x48, (float)(st.import_wh / 1000.0));
	putf(r + 0x4A, (float)(st.export_wh / 1000.0));
}

static void
put_str(uint16_t *r, size_t nregs, const char *s)
{
	size_t	 i, n = strlen(s);

	for (i = 0; i < nregs; i++)
		r[i] = (uint16_t)((2 * i < n ? (uint8_t)s[2 * i] : 0) << 8 |
		    (2 * i + 1 < n ? (uint8_t)s[2 * i + 1] : 0));
}

/* Model header and not-implemented body; returns the next model. */
static uint16_t *
model(uint16_t *r, uint16_t id, uint16_t len, int is_float)
{
	uint16_t	 i;

	r[0] = id;
	r[1] = len;
	for (i = 2; i < len + 2; i++)
		r[i] = is_float ? ((i % 2) == 0 ? 0x7FC0 : 0) : 0xFFFF;
	return r + len + 2;
}

static void
fill_sunspec(uint16_t *r, int fl, int unit)
{
	uint16_t	*m = r + 2, *n;
	int		 i;

	r[0] = 0x5375;
	r[1] = 0x6E53;
	n = model(m, 1, 66, 0);
	put_str(m + 2, 16, "Kaga");
	put_str(m + 18, 16, fl ? "SimHybridF" : "SimHybrid");
	put_str(m + 34, 8, "");
	put_str(m + 42, 8, "1.0");
	put_str(m + 50, 16, "KX-SIM-0001");
	m[66] = (uint16_t)unit;
	m = n;
	if (!fl) {
		n = model(m, 103, 50, 0);
		m[2] = (uint16_t)xround(st.pv / 230.0 * 100);
		m[6] = (uint16_t)-2;
		m[10] = 2305;
		m[13] = (uint16_t)-1;
		m[14] = s16(st.pv);
		m[15] = 0;
		m[16] = 5001;
		m[17] = (uint16_t)-2;
		put32(m + 24, (uint32_t)xround(st.pv_wh) + 1);
		m[26] = 0;
		m[31] = s16(st.pv * 1.03);
		m[32] = 0;
		m[38] = st.pv > 0 ? 4 : 2;
		m = n;
		n = model(m, 203, 105, 0);
		m[2] = s16(xabs(st.grid) / 230.0 * 100);
		m[6] = (uint16_t)-2;
		for (i = 0; i < 3; i++) {
			m[3 + i] = s16(xabs(st.grid) * share[i] / volts[i] *
			    100);
			m[8 + i] = s16(volts[i] * 10);
			m[19 + i] = s16(st.grid * share[i]);
		}
		m[15] = (uint16_t)-1;
		m[16] = 5001;
		m[17] = (uint16_t)-2;
		m[18] = s16(st.grid);
		m[22] = 0;
		put32(m + 38, (uint32_t)xround(st.export_wh));
		put32(m + 46, (uint32_t)xround(st.import_wh));
		m[54] = 0;
		m = n;
		n = model(m, 802, 62, 0);
		m[11] = (uint16_t)xround(st.soc * 10);
		m[56] = (uint16_t)-1;
		m[16] = st.batt < 0 ? 4 : st.batt > 0 ? 5 : 3;
		m[34] = 5120;
		m[59] = (uint16_t)-1;
		m[44] = s16(st.batt / 512.0 * 10);
		m[61] = (uint16_t)-1;
		m[47] = s16(st.batt);
		m[63] = 0;
		m = n;
	} else {
		n = model(m, 113, 60, 1);
		putf(m + 22, (float)st.pv);
		putf(m + 24, 50.01f);
		putf(m + 32, (float)st.pv_wh + 1);
		m[48] = st.pv > 0 ? 4 : 2;
		m[49] = 0;
		m = n;
		n = model(m, 213, 124, 1);
		for (i = 0; i < 3; i++) {
			putf(m + 4 + 2 * i, (float)(xabs(st.grid) * share[i] /
			    volts[i]));
			putf(m + 12 + 2 * i, (float)volts[i]);
			putf(m + 30 + 2 * i, (float)(st.grid * share[i]));
		}
		putf(m + 26, 50.01f);
		putf(m + 28, (float)st.grid);
		putf(m + 60, (float)st.export_wh);
		putf(m + 68, (float)st.import_wh);
		m = n;
		n = model(m, 124, 24, 0);
		m[2] = 5000;
		m[18] = 0;
		m[8] = (uint16_t)xround(st.soc * 10);
		m[22] = (uint16_t)-1;
		m = n;
	}
	m[0] = 0xFFFF;
	m[1] = 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: kaga-meter-sim --listen HOST:PORT | --rtu DEVICE "
	    "[--baud N]\n"
	    "       [--profile sdm630|sunspec|sunspec-float] "
	    "[--unit N | --units N,M...]\n"
	    "       [--speed X] [--hour H] [--pv-w W] [--load-w W]\n"
	    "       [--fault none|noanswer|delay:MS|exception:CODE|garbage]\n");
}

/* "1,2,7": unit ids 0..255, each at most once, into served[]. */
static int
parse_units(const char *s, unsigned char served[UNITS_MAX], long *first)
{
	char	 buf[1024], *p, *comma;
	long	 v;
	int	 n = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	memset(served, 0, UNITS_MAX);
	for (p = buf; ; p = comma + 1) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		if (kx_parse_long(p, 0, UNITS_MAX - 1, &v) == -1 || served[v])
			return -1;
		served[v] = 1;
		if (n++ == 0)
			*first = v;
		if (comma == NULL)
			return 0;
	}
}

static int
parse_fault(const char *s, enum fault *f, long *arg)
{
	*arg = 0;
	if (strcmp(s, "none") == 0)
		*f = F_NONE;
	else if (strcmp(s, "noanswer") == 0)
		*f = F_NOANSWER;
	else if (strcmp(s, "garbage") == 0)
		*f = F_GARBAGE;
	else if (strncmp(s, "delay:", 6) == 0) {
		*f = F_DELAY;
		return kx_parse_long(s + 6, 0, 600000, arg);
	} else if (strncmp(s, "exception:", 10) == 0) {
		*f = F_EXCEPTION;
		return kx_parse_long(s + 10, 1, 255, arg);
	} else
		return -1;
	return 0;
}

/* Answers one request in q (length len) on the current socket. */
static void
answer(modbus_t *ctx, modbus_mapping_t *map, const uint8_t *q, int len,
    enum prof prof, const unsigned char *served, int is_tcp,
    enum fault fault, long farg)
{
	static const uint8_t	 junk[] = { 0xde, 0xad, 0xbe, 0xef, 0x00,
	    0x03, 0x07, 0x83, 0x99, 0x12, 0x34 };
	struct timespec		 ts;
	ssize_t			 w;
	int			 unit = q[is_tcp ? 6 : 0];

	if (is_tcp && !served[unit]) {
		modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_GATEWAY_TARGET);
		return;
	}
	switch (fault) {
	case F_NOANSWER:
		return;
	case F_EXCEPTION:
		modbus_reply_exception(ctx, q, (unsigned)farg);
		return;
	case F_GARBAGE:
		w = write(modbus_get_socket(ctx), junk, sizeof(junk));
		(void)w;
		return;
	case F_DELAY:
		ts.tv_sec = farg / 1000;
		ts.tv_nsec = (farg % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		break;
	case F_NONE:
		break;
	}
	step(prof == P_SUNSPEC || prof == P_SUNSPEC_FLOAT);
	if (prof == P_SDM630)
		fill_sdm630(map->tab_input_registers);
	else
		fill_sunspec(map->tab_registers, prof == P_SUNSPEC_FLOAT, unit);
	modbus_reply(ctx, q, len, map);
}

static int
serve_tcp(modbus_t *ctx, modbus_mapping_t *map, enum prof prof,
    const unsigned char *served, enum fault fault, long farg)
{
	uint8_t		 q[MODBUS_TCP_MAX_ADU_LENGTH];
	int		 lfd, clients[CLIENTS_MAX], nc = 0, i, maxfd, rc, fd;
	fd_set		 rfds;
	struct timeval	 tv;

	if ((lfd = modbus_tcp_listen(ctx, 8)) == -1) {
		fprintf(stderr, "kaga-meter-sim: listen: %s\n",
		    modbus_strerror(errno));
		return 1;
	}
	/* a partial request must not stall the others for ever */
	modbus_set_indication_timeout(ctx, 2, 0);
	fprintf(stderr, "kaga-meter-sim: ready\n");
	while (!quit) {
		FD_ZERO(&rfds);
		FD_SET(lfd, &rfds);
		maxfd = lfd;
		for (i = 0; i < nc; i++) {
			FD_SET(clients[i], &rfds);
			if (clients[i] > maxfd)
				maxfd = clients[i];
		}
		tv.tv_sec = 0;
		tv.tv_usec = 200000;
		rc = select(maxfd + 1, &rfds, NULL, NULL, &tv);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1) {
			perror("kaga-meter-sim: select");
			break;
		}
		if (FD_ISSET(lfd, &rfds)) {
			fd = lfd;
			if ((fd = modbus_tcp_accept(ctx, &fd)) != -1) {
				if (nc < CLIENTS_MAX)
					clients[nc++] = fd;
				else
					close(fd);
			}
		}
		for (i = 0; i < nc; i++) {
			if (!FD_ISSET(clients[i], &rfds))
				continue;
			modbus_set_socket(ctx, clients[i]);
			rc = modbus_receive(ctx, q);
			if (rc > 0)
				answer(ctx, map, q, rc, prof, served, 1, fault,
				    farg);
			else if (rc == -1) {
				close(clients[i]);
				clients[i--] = clients[--nc];
			}
		}
	}
	for (i = 0; i < nc; i++)
		close(clients[i]);
	close(lfd);
	modbus_set_socket(ctx, -1);
	return 0;
}

static uint16_t
crc16(const uint8_t *p, size_t n)
{
	uint16_t	 crc = 0xFFFF;
	size_t		 i;
	int		 b;

	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) :
			    (uint16_t)(crc >> 1);
	}
	return crc;
}

/* Waits up to ms for fd to be readable: 1, 0 on timeout, -1 on error. */
static int
wait_readable(int fd, int ms)
{
	fd_set		 rfds;
	struct timeval	 tv;
	int		 rc;

	FD_ZERO(&rfds);
	FD_SET(fd, &rfds);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	rc = select(fd + 1, &rfds, NULL, NULL, &tv);
	if (rc == -1 && errno == EINTR)
		return 0;
	return rc;
}

/* The length of the request frame in q[0..n), 0 if unknown yet, -1 never
 * known (cut it at a silence). */
static int
frame_len(const uint8_t *q, int n)
{
	if (n < 2)
		return 0;
	if (q[1] >= 1 && q[1] <= 6)
		return 8;
	if (q[1] == 15 || q[1] == 16)
		return n < 7 ? 0 : 9 + q[6];
	return -1;
}

/*
 * Reads one RTU frame into q: 0 when nothing came within 200 ms (to look
 * at the quit flag), the frame's length, or -1 when the port failed.
 */
static int
read_frame(int fd, uint8_t *q, int cap)
{
	ssize_t	 r;
	int	 n = 0, want, rc;

	if ((rc = wait_readable(fd, 200)) <= 0)
		return rc;
	for (;;) {
		r = read(fd, q + n, (size_t)(cap - n));
		if (r > 0)
			n += (int)r;
		else if (r == 0) {
			errno = EIO;	/* readable but empty: hung up */
			return -1;
		} else if (errno != EAGAIN && errno != EINTR)
			return -1;
		want = frame_len(q, n);
		if ((want > 0 && n >= want) || n == cap)
			return n;
		if ((rc = wait_readable(fd, FRAME_QUIET_MS)) == -1)
			return -1;
		if (rc == 0)
			return n;	/* silence: the frame ends here */
	}
}

static int
serve_rtu(modbus_t *ctx, modbus_mapping_t *map, enum prof prof,
    const unsigned char *served, enum fault fault, long farg)
{
	uint8_t		 q[MODBUS_RTU_MAX_ADU_LENGTH];
	int		 fd, n, rc = 0;

	if (modbus_connect(ctx) == -1) {
		fprintf(stderr, "kaga-meter-sim: open: %s\n",
		    modbus_strerror(errno));
		return 1;
	}
	fd = modbus_get_socket(ctx);
	fprintf(stderr, "kaga-meter-sim: ready\n");
	while (!quit) {
		if ((n = read_frame(fd, q, (int)sizeof(q))) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "kaga-meter-sim: read: %s\n",
			    strerror(errno));
			rc = 1;
			break;
		}
		/* too short, damaged (or two frames run together), or a
		 * broadcast: a device keeps quiet */
		if (n < 4 || crc16(q, (size_t)n - 2) !=
		    (uint16_t)(q[n - 2] | q[n - 1] << 8) || q[0] == 0 ||
		    !served[q[0]])
			continue;
		modbus_set_slave(ctx, q[0]);
		answer(ctx, map, q, n, prof, served, 0, fault, farg);
	}
	modbus_close(ctx);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "rtu", required_argument, NULL, 'r' },
		{ "baud", required_argument, NULL, 'b' },
		{ "profile", required_argument, NULL, 'p' },
		{ "unit", required_argument, NULL, 'u' },
		{ "units", required_argument, NULL, 'U' },
		{ "speed", required_argument, NULL, 's' },
		{ "hour", required_argument, NULL, 'H' },
		{ "fault", required_argument, NULL, 'f' },
		{ "pv-w", required_argument, NULL, 'P' },
		{ "load-w", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*listen = NULL, *rtu = NULL, *colon;
	char			 host[256], *end;
	enum prof		 prof = P_SDM630;
	enum fault		 fault = F_NONE;
	long			 unit = 1, port = 0, baud = 9600, farg = 0, v;
	unsigned char		 served[UNITS_MAX];
	int			 units_given = 0;
	double			 hour = -1;
	modbus_t		*ctx = NULL;
	modbus_mapping_t	*map = NULL;
	struct sigaction	 sa;
	struct timespec		 ts;
	int			 ch, rc;

	st.speed = 1.0;
	st.pv_peak = 4500.0;
	st.load_base = 450.0;
	memset(served, 0, sizeof(served));
	served[1] = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 'r':
			rtu = optarg;
			break;
		case 'b':
			if (kx_parse_long(optarg, 300, 4000000, &baud) == -1)
				goto bad;
			break;
		case 'p':
			if (strcmp(optarg, "sdm630") == 0)
				prof = P_SDM630;
			else if (strcmp(optarg, "sunspec") == 0)
				prof = P_SUNSPEC;
			else if (strcmp(optarg, "sunspec-float") == 0)
				prof = P_SUNSPEC_FLOAT;
			else
				goto bad;
			break;
		case 'u':
			if (units_given++ ||
			    kx_parse_long(optarg, 0, 255, &unit) == -1)
				goto bad;
			memset(served, 0, sizeof(served));
			served[unit] = 1;
			break;
		case 'U':
			if (units_given++ ||
			    parse_units(optarg, served, &unit) == -1)
				goto bad;
			break;
		case 's':
			errno = 0;
			st.speed = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(st.speed > 0 && st.speed <= 1e6))
				goto bad;
			break;
		case 'H':
			if (kx_parse_long(optarg, 0, 23, &v) == -1)
				goto bad;
			hour = (double)v;
			break;
		case 'f':
			if (parse_fault(optarg, &fault, &farg) == -1)
				goto bad;
			break;
		case 'P':
			if (kx_parse_long(optarg, 0, 10000000, &v) == -1)
				goto bad;
			st.pv_peak = (double)v;
			break;
		case 'L':
			if (kx_parse_long(optarg, 0, 10000000, &v) == -1)
				goto bad;
			st.load_base = (double)v;
			break;
		case 'h':
			usage();
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || (listen == NULL) == (rtu == NULL))
		goto bad;
	if (listen != NULL) {
		if ((colon = strrchr(listen, ':')) == NULL ||
		    (size_t)(colon - listen) >= sizeof(host) ||
		    colon == listen ||
		    kx_parse_long(colon + 1, 1, 65535, &port) == -1)
			goto bad;
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = '\0';
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	clock_gettime(CLOCK_REALTIME, &ts);
	st.t0_real = mono_s();
	st.t0_sim = hour >= 0 ? hour * 3600 :
	    xmod((double)ts.tv_sec + 9 * 3600, 86400);	/* JST */
	st.last_sim = st.t0_sim;
	st.import_wh = 1234567;
	st.export_wh = 234567;
	st.pv_wh = 3456789;
	st.soc = 55;
	step(prof != P_SDM630);

	if (listen != NULL)
		ctx = modbus_new_tcp(host, (int)port);
	else
		ctx = modbus_new_rtu(rtu, (int)baud, 'N', 8, 1);
	if (ctx == NULL) {
		fprintf(stderr, "kaga-meter-sim: %s\n", modbus_strerror(errno));
		return 1;
	}
	if (rtu != NULL)
		modbus_set_slave(ctx, (int)unit);
	if (prof == P_SDM630)
		map = modbus_mapping_new_start_address(0, 0, 0, 0, 0, 0, 0,
		    SDM_NREGS);
	else
		map = modbus_mapping_new_start_address(0, 0, 0, 0, SS_BASE,
		    SS_NREGS, 0, 0);
	if (map == NULL) {
		fprintf(stderr, "kaga-meter-sim: %s\n", modbus_strerror(errno));
		modbus_free(ctx);
		return 1;
	}
	if (prof == P_SDM630)
		fill_sdm630(map->tab_input_registers);
	else
		fill_sunspec(map->tab_registers, prof == P_SUNSPEC_FLOAT,
		    (int)unit);
	if (listen != NULL)
		rc = serve_tcp(ctx, map, prof, served, fault, farg);
	else
		rc = serve_rtu(ctx, map, prof, served, fault, farg);
	modbus_mapping_free(map);
	modbus_free(ctx);
	return rc;
bad:
	usage();
	return 2;
}
