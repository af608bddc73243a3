/*
 * test_bus.c - several Modbus units on one shared bus (meters/device.c
 * buses, meters/poll.c): which devices share a bus and which settings are
 * refused; over a real pseudo-terminal pair made by socat with
 * kaga-meter-sim answering on one end (path from $KAGA_METER_SIM,
 * default build/rel/bin/kaga-meter-sim), a live unit next to a dead one
 * on the same RTU port (the live unit keeps its period within the dead
 * unit's timeout budget, the dead one backs off, the port is never
 * reopened), the gaps between requests and after a change of unit id;
 * and over Modbus TCP several units on one shared connection, which a
 * server restart closes and the next request reconnects.
 * The RTU tests are skipped without /usr/bin/socat.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "device.h"
#include "poll.h"
#include "profile.h"

#include "simutil.h"

static int	 base_port;

/* Children still running: a failed test's are stopped by its teardown. */
#define KIDS_MAX	8
static pid_t	 kids[KIDS_MAX];

/* ---- helpers: clock, processes ---- */

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
nap_ms(int64_t ms)
{
	struct timespec	 ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static pid_t
spawn(const char *path, char *const argv[])
{
	pid_t	 pid;
	int	 fd, i;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(path, argv);
		_exit(127);
	}
	for (i = 0; i < KIDS_MAX; i++)
		if (kids[i] == 0) {
			kids[i] = pid;
			break;
		}
	return pid;
}

static void
forget(pid_t pid)
{
	int	 i;

	for (i = 0; i < KIDS_MAX; i++)
		if (kids[i] == pid)
			kids[i] = 0;
}

static int
teardown(void **state)
{
	int	 i;

	(void)state;
	for (i = 0; i < KIDS_MAX; i++)
		if (kids[i] != 0) {
			kill(kids[i], SIGTERM);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	return 0;
}

static void
stop(pid_t pid, int want_status)
{
	int	 st;

	forget(pid);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (want_status >= 0) {
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), want_status);
	}
}

/* ---- the pty pair: the simulator on end a, the poller on end b ---- */

typedef struct {
	char	 a[64], b[64];
	pid_t	 socat;
} pty_t;

static int
pty_open(pty_t *t, const char *tag)
{
	char		 la[96], lb[96];
	int		 i;

	if (access("/usr/bin/socat", X_OK) != 0)
		return -1;
	snprintf(t->a, sizeof(t->a), "/tmp/kaga-bus-%d-%s-a", (int)getpid(),
	    tag);
	snprintf(t->b, sizeof(t->b), "/tmp/kaga-bus-%d-%s-b", (int)getpid(),
	    tag);
	snprintf(la, sizeof(la), "pty,raw,echo=0,link=%s", t->a);
	snprintf(lb, sizeof(lb), "pty,raw,echo=0,link=%s", t->b);
	{
		char *const argv[] = { "socat", la, lb, NULL };

		t->socat = spawn("socat", argv);
	}
	for (i = 0; i < 250 && (access(t->a, F_OK) != 0 ||
	    access(t->b, F_OK) != 0); i++)
		nap_ms(20);
	assert_int_equal(access(t->a, F_OK), 0);
	assert_int_equal(access(t->b, F_OK), 0);
	return 0;
}

static void
pty_close(pty_t *t)
{
	stop(t->socat, -1);
}

static void
rtu_conf(kx_dev_conf_t *c, const char *path, int unit, int timeout_ms)
{
	kx_dev_conf_init(c);
	snprintf(c->rtu, sizeof(c->rtu), "%s", path);
	c->baud = 19200;
	c->unit = unit;
	c->timeout_ms = timeout_ms;
}

/*
 * Starts kaga-meter-sim on the pty's end a serving units (a list "1,7")
 * and waits until unit `probe` answers on end b through a device of its
 * own (not the poller's), up to 5 s.
 */
static pid_t
sim_rtu(const pty_t *t, const char *units, int probe)
{
	char *const	 argv[] = { "kaga-meter-sim", "--rtu", (char *)
	    (uintptr_t)t->a, "--baud", "19200", "--profile", "sdm630",
	    "--units", (char *)(uintptr_t)units, "--hour", "12", NULL };
	kx_dev_conf_t	 c;
	kx_meter_dev_t	*d;
	kx_reading_t	 r;
	pid_t		 pid;
	int		 i, rc = KX_METER_EIO;

	pid = spawn(tsim_path(), argv);
	rtu_conf(&c, t->b, probe, 200);
	assert_non_null(d = kx_meter_dev_new(&c, kx_profile_find("sdm630")));
	for (i = 0; i < 25 && rc != KX_METER_OK; i++)
		if ((rc = kx_meter_dev_read(d, &r)) != KX_METER_OK)
			nap_ms(100);
	kx_meter_dev_destroy(&d);
	if (rc != KX_METER_OK) {
		forget(pid);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		fail_msg("kaga-meter-sim --rtu did not answer (%s)",
		    tsim_path());
	}
	return pid;
}

/* ---- the poller's callbacks: when each device's readings came ---- */

#define MAXT	512

typedef struct {
	int	 n[4];
	int64_t	 t[4][MAXT];	/* mono ms of each reading */
	int64_t	 from;		/* count gaps from here on */
	int64_t	 worst_gap[4];	/* longest gap between readings */
} times_t;

static void
on_reading(void *ctx, size_t dev, const kx_reading_t *r, uint32_t plaus)
{
	times_t	*tm = ctx;
	int64_t	 now = mono_ms();
	int	 k;

	(void)plaus;
	assert_true(dev < 4);
	assert_true(r->flags & KX_RD_IMPORT);
	k = tm->n[dev];
	if (k > 0 && tm->t[dev][(k - 1) % MAXT] >= tm->from &&
	    now - tm->t[dev][(k - 1) % MAXT] > tm->worst_gap[dev])
		tm->worst_gap[dev] = now - tm->t[dev][(k - 1) % MAXT];
	tm->t[dev][k % MAXT] = now;
	tm->n[dev]++;
}

/* The caller's loop until mono time t_end. */
static void
loop_until(kx_poller_t *p, int64_t t_end)
{
	int64_t	 next, now;

	while ((now = mono_ms()) < t_end) {
		next = kx_poll_next_deadline(p);	/* INT64_MIN: due */
		if (next > now)
			nap_ms((next < t_end ? next : t_end) - now);
		(void)kx_poll_run_once(p, mono_ms());
	}
}

/* ---- which devices share a bus; conflicting settings ---- */

static void
test_bus_conf(void **state)
{
	kx_poller_t		*p;
	kx_dev_conf_t		 c;
	kx_poll_dev_conf_t	 pc;
	const kx_profile_t	*sdm = kx_profile_find("sdm630");
	char			 file[64], link[64], err[256];
	kx_meter_bus_t		*bus;
	kx_meter_dev_t		*d1, *d2;
	int			 fd, rc;

	(void)state;
	kx_dev_conf_init(&c);
	assert_int_equal(c.unit_gap_ms, 0);
	assert_int_equal(c.gap_ms, 0);
	assert_int_equal(kx_dev_conf_check(&c, err, sizeof(err)),
	    KX_METER_EARG);		/* neither host nor rtu */
	assert_int_equal(kx_dev_conf_tcp(&c, "127.0.0.1:502"), 0);
	assert_int_equal(kx_dev_conf_check(&c, err, sizeof(err)),
	    KX_METER_OK);
	c.unit_gap_ms = -1;
	assert_int_equal(kx_dev_conf_check(&c, err, sizeof(err)),
	    KX_METER_EARG);
	assert_non_null(strstr(err, "unit gap -1"));
	assert_null(kx_meter_dev_new(&c, sdm));
	c.unit_gap_ms = 0;
	snprintf(c.rtu, sizeof(c.rtu), "/dev/null");
	assert_int_equal(kx_dev_conf_check(&c, NULL, 0), KX_METER_EARG);

	/* a regular file and a link to it stand in for a serial device:
	 * nothing is opened before the first read */
	snprintf(file, sizeof(file), "/tmp/kaga-bus-%d-file", (int)getpid());
	snprintf(link, sizeof(link), "/tmp/kaga-bus-%d-link", (int)getpid());
	assert_true((fd = open(file, O_CREAT | O_WRONLY, 0600)) != -1);
	close(fd);
	(void)unlink(link);
	assert_int_equal(symlink(file, link), 0);

	assert_non_null(p = kx_poll_new(NULL, NULL, NULL));
	kx_poll_dev_conf_init(&pc);
	rtu_conf(&c, file, 1, 300);
	assert_int_equal(kx_poll_add(p, &c, sdm, &pc), 0);
	rtu_conf(&c, link, 2, 500);	/* the same file through a link */
	c.unit_gap_ms = 50;		/* gaps and timeouts may differ */
	assert_int_equal(kx_poll_add(p, &c, sdm, &pc), 1);
	assert_non_null(kx_poll_bus(p, 0));
	assert_ptr_equal(kx_poll_bus(p, 0), kx_poll_bus(p, 1));
	assert_string_equal(kx_meter_bus_name(kx_poll_bus(p, 0)), file);
	assert_int_equal(kx_meter_bus_stats(kx_poll_bus(p, 0))->devices, 2);
	assert_int_equal(kx_meter_bus_stats(kx_poll_bus(p, 0))->opens, 0);

	/* conflicting line settings on the same port are refused */
	rtu_conf(&c, link, 3, 300);
	c.baud = 9600;
	rc = kx_poll_add(p, &c, sdm, &pc);
	assert_int_equal(rc, KX_METER_EARG);
	snprintf(err, sizeof(err), "bus %s: unit 3 wants 9600 baud, the bus "
	    "runs at 19200 (unit 1)", file);
	assert_string_equal(kx_poll_add_error(p, rc), err);
	rtu_conf(&c, file, 3, 300);
	c.parity = 'E';
	rc = kx_poll_add(p, &c, sdm, &pc);
	assert_int_equal(rc, KX_METER_EARG);
	assert_non_null(strstr(kx_poll_add_error(p, rc), "parity E"));
	rtu_conf(&c, file, 3, 300);
	c.stop_bits = 2;
	rc = kx_poll_add(p, &c, sdm, &pc);
	assert_int_equal(rc, KX_METER_EARG);
	assert_non_null(strstr(kx_poll_add_error(p, rc), "2 stop bits"));
	/* a bad device configuration is named too */
	rtu_conf(&c, file, 248, 300);
	rc = kx_poll_add(p, &c, sdm, &pc);
	assert_int_equal(rc, KX_METER_EARG);
	assert_non_null(strstr(kx_poll_add_error(p, rc), "unit 248"));
	assert_int_equal(kx_poll_count(p), 2);
	assert_int_equal(kx_meter_bus_stats(kx_poll_bus(p, 0))->devices, 2);

	/* TCP: one bus per host:port, host names compared without case */
	kx_dev_conf_init(&c);
	assert_int_equal(kx_dev_conf_tcp(&c, "localhost:1502"), 0);
	assert_int_equal(kx_poll_add(p, &c, sdm, &pc), 2);
	assert_int_equal(kx_dev_conf_tcp(&c, "LocalHost:1502"), 0);
	c.unit = 2;
	c.baud = 1200;			/* not a TCP setting: no conflict */
	assert_int_equal(kx_poll_add(p, &c, sdm, &pc), 3);
	assert_int_equal(kx_dev_conf_tcp(&c, "localhost:1503"), 0);
	assert_int_equal(kx_poll_add(p, &c, sdm, &pc), 4);
	assert_int_equal(kx_dev_conf_tcp(&c, "[::1]:1502"), 0);
	assert_int_equal(kx_poll_add(p, &c, sdm, &pc), 5);
	assert_ptr_equal(kx_poll_bus(p, 2), kx_poll_bus(p, 3));
	assert_ptr_not_equal(kx_poll_bus(p, 2), kx_poll_bus(p, 4));
	assert_ptr_not_equal(kx_poll_bus(p, 0), kx_poll_bus(p, 2));
	assert_string_equal(kx_meter_bus_name(kx_poll_bus(p, 2)),
	    "localhost:1502");
	assert_string_equal(kx_meter_bus_name(kx_poll_bus(p, 5)),
	    "[::1]:1502");
	assert_null(kx_poll_bus(p, 6));
	kx_poll_destroy(&p);

	/* the bus API directly: the bus lives while a device holds it */
	rtu_conf(&c, file, 1, 300);
	assert_non_null(bus = kx_meter_bus_new(&c));
	assert_int_equal(kx_meter_bus_same(bus, &c), 1);
	assert_non_null(d1 = kx_meter_dev_new_on(bus, &c, sdm));
	c.unit = 2;
	assert_non_null(d2 = kx_meter_dev_new_on(bus, &c, sdm));
	c.baud = 38400;
	assert_null(kx_meter_dev_new_on(bus, &c, sdm));
	assert_int_equal(kx_meter_bus_check(bus, &c, err, sizeof(err)),
	    KX_METER_EARG);
	assert_non_null(strstr(err, "38400 baud"));
	assert_int_equal(kx_dev_conf_tcp(&c, "127.0.0.1:502"), 0);
	assert_int_equal(kx_meter_bus_same(bus, &c), 0);
	assert_int_equal(kx_meter_bus_check(bus, &c, err, sizeof(err)),
	    KX_METER_EARG);
	assert_non_null(strstr(err, "is not on bus"));
	kx_meter_bus_destroy(&bus);
	assert_null(bus);
	kx_meter_bus_destroy(&bus);
	assert_ptr_equal(kx_meter_dev_bus(d1), kx_meter_dev_bus(d2));
	assert_int_equal(kx_meter_bus_stats(kx_meter_dev_bus(d2))->devices, 2);
	kx_meter_dev_destroy(&d1);
	assert_int_equal(kx_meter_bus_stats(kx_meter_dev_bus(d2))->devices, 1);
	kx_meter_dev_destroy(&d2);
	assert_null(d2);
	unlink(link);
	unlink(file);
}

/* ---- RTU: a live unit and a dead unit on one port ---- */

static void
test_rtu_dead_unit(void **state)
{
	kx_poller_t		*p;
	kx_dev_conf_t		 c;
	kx_poll_dev_conf_t	 pc;
	const kx_poll_stats_t	*live, *dead;
	const kx_meter_bus_stats_t *bs;
	times_t			 tm;
	pty_t			 t;
	pid_t			 sim;
	uint64_t		 dead_reads, live_reads, before;
	int64_t			 t0, budget;
	const int		 period = 200, timeout = 300, retries = 1;
	const int		 live_timeout = 1000, unit_gap = 20;

	(void)state;
	if (pty_open(&t, "dead") != 0)
		skip();
	memset(&tm, 0, sizeof(tm));
	/* at first unit 7 answers too */
	sim = sim_rtu(&t, "1,7", 1);
	assert_non_null(p = kx_poll_new(on_reading, NULL, &tm));
	kx_poll_dev_conf_init(&pc);
	pc.period_ms = period;
	pc.retries = retries;
	pc.backoff_max_ms = 2000;
	/* the live unit's timeout only matters if it fails: generous */
	rtu_conf(&c, t.b, 1, live_timeout);
	c.unit_gap_ms = unit_gap;
	assert_int_equal(kx_poll_add(p, &c, kx_profile_find("sdm630"), &pc),
	    0);
	c.unit = 7;
	c.timeout_ms = timeout;
	assert_int_equal(kx_poll_add(p, &c, kx_profile_find("sdm630"), &pc),
	    1);
	assert_ptr_equal(kx_poll_bus(p, 0), kx_poll_bus(p, 1));
	live = kx_poll_stats(p, 0);
	dead = kx_poll_stats(p, 1);
	bs = kx_meter_bus_stats(kx_poll_bus(p, 0));

	loop_until(p, mono_ms() + 1000);
	assert_true(live->online);
	assert_true(dead->online);
	assert_int_equal(live->errors, 0);
	assert_true(dead->readings >= 2);
	dead_reads = dead->readings;

	/*
	 * Unit 7 dies: the simulator is restarted serving unit 1 only, while
	 * the caller's loop waits (the port stays open: socat holds the pty
	 * pair).
	 */
	stop(sim, 0);
	sim = sim_rtu(&t, "1", 1);
	before = dead->requests;
	live_reads = live->readings;
	tm.from = mono_ms();
	t0 = mono_ms();
	loop_until(p, t0 + 4000);

	/* the dead unit: its first pass was online (retries + 1 attempts),
	 * then offline probes with back-off: 200 ms x 2^k, capped at 2 s */
	assert_false(dead->online);
	assert_int_equal(dead->readings, dead_reads);
	assert_int_equal(dead->errors, dead->requests - dead->readings);
	assert_true(dead->requests - before >= (uint64_t)retries + 2);
	assert_true(dead->requests - before <= (uint64_t)retries + 8);
	assert_true(dead->consec_fail >= 2);
	assert_true(dead->next_ms - dead->last_pass_ms >= 2 * period);
	assert_int_equal(dead->last_rc, KX_METER_EIO);
	assert_non_null(strstr(dead->last_error, "timed out"));

	/*
	 * The live unit kept its period: no errors, and no gap between two
	 * readings longer than its period + the dead unit's budget timeout x
	 * (retries + 1) + the unit gaps of the pass + 1 s of slack.
	 */
	budget = period + (int64_t)timeout * (retries + 1) + 2 * unit_gap +
	    1000;
	assert_true(live->online);
	assert_int_equal(live->errors, 0);
	assert_int_equal(live->consec_fail, 0);
	assert_true(tm.worst_gap[0] > 0);
	assert_true(tm.worst_gap[0] <= budget);
	/* 200 ms period for 4 s: 20 at best; well above 6 in any case */
	assert_true(live->readings - live_reads >= 6);
	assert_int_equal(tm.n[0], (int)live->readings);

	/* the port was opened once: timeouts only flushed it */
	assert_int_equal(bs->opens, 1);
	assert_int_equal(bs->closes, 0);
	assert_true(bs->connected);
	assert_int_equal(bs->timeouts, dead->errors);
	assert_int_equal(bs->flushes, dead->errors);
	assert_int_equal(bs->errors, dead->errors);
	assert_int_equal(bs->requests, live->requests + dead->requests);

	kx_poll_destroy(&p);
	stop(sim, 0);
	pty_close(&t);
}

/* ---- RTU: the gap after a change of unit id, and between requests ---- */

static void
test_rtu_gaps(void **state)
{
	kx_poller_t		*p;
	kx_dev_conf_t		 c;
	kx_poll_dev_conf_t	 pc;
	times_t			 tm;
	pty_t			 t;
	pid_t			 sim;
	int64_t			 t0, d, now = 0;
	int			 i;
	const int		 unit_gap = 250, gap = 150;

	(void)state;
	if (pty_open(&t, "gap") != 0)
		skip();
	memset(&tm, 0, sizeof(tm));
	sim = sim_rtu(&t, "1,2", 2);
	assert_non_null(p = kx_poll_new(on_reading, NULL, &tm));
	kx_poll_dev_conf_init(&pc);
	rtu_conf(&c, t.b, 1, 500);
	c.unit_gap_ms = unit_gap;
	assert_int_equal(kx_poll_add(p, &c, kx_profile_find("sdm630"), &pc),
	    0);
	c.unit = 2;
	assert_int_equal(kx_poll_add(p, &c, kx_profile_find("sdm630"), &pc),
	    1);
	/* the poller's clock advances a period per pass: both always due */
	for (i = 0; i < 3; i++, now += pc.period_ms) {
		t0 = mono_ms();
		assert_int_equal(kx_poll_run_once(p, now), 2);
		d = mono_ms() - t0;
		/* unit 1 then unit 2: one unit change; from the second pass
		 * on, back to unit 1 first: two */
		assert_true(d >= (i == 0 ? 1 : 2) * (int64_t)unit_gap - 10);
	}
	assert_int_equal(tm.n[0], 3);
	assert_int_equal(tm.n[1], 3);
	assert_int_equal(kx_poll_stats(p, 0)->errors, 0);
	assert_int_equal(kx_poll_stats(p, 1)->errors, 0);
	kx_poll_destroy(&p);

	/* one unit: gap_ms between its requests, no unit gap */
	memset(&tm, 0, sizeof(tm));
	assert_non_null(p = kx_poll_new(on_reading, NULL, &tm));
	rtu_conf(&c, t.b, 1, 500);
	c.gap_ms = gap;
	c.unit_gap_ms = 2000;
	assert_int_equal(kx_poll_add(p, &c, kx_profile_find("sdm630"), &pc),
	    0);
	assert_int_equal(kx_poll_run_once(p, 0), 1);
	for (i = 1; i < 3; i++) {
		t0 = mono_ms();
		assert_int_equal(kx_poll_run_once(p, (int64_t)i * 1000), 1);
		d = mono_ms() - t0;
		assert_true(d >= gap - 10);
		assert_true(d < 2000);	/* the unit did not change */
	}
	assert_int_equal(tm.n[0], 3);
	kx_poll_destroy(&p);
	stop(sim, 0);
	pty_close(&t);
}

/* ---- TCP: several units on one connection ---- */

static pid_t
sim_tcp(int port, const char *units)
{
	char		 listen[64];
	pid_t		 pid;
	int		 i;
	char *const	 argv[] = { "kaga-meter-sim", "--listen", listen,
	    "--profile", "sdm630", "--units", (char *)(uintptr_t)units,
	    "--hour", "12", NULL };

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	pid = spawn(tsim_path(), argv);
	for (i = 0; i < 150; i++) {
		if (tport_open(port))
			return pid;
		nap_ms(20);
	}
	forget(pid);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	fail_msg("kaga-meter-sim did not start (%s)", tsim_path());
	return -1;
}

static void
test_tcp_shared(void **state)
{
	kx_poller_t		*p;
	kx_dev_conf_t		 c;
	kx_poll_dev_conf_t	 pc;
	const kx_meter_bus_t	*bus;
	const kx_meter_bus_stats_t *bs;
	times_t			 tm;
	char			 hp[64];
	int			 port = base_port, i;
	pid_t			 sim;
	uint64_t		 n0, n1;

	(void)state;
	if (tport_open(port))
		skip();			/* someone else listens there */
	memset(&tm, 0, sizeof(tm));
	sim = sim_tcp(port, "1,2");
	assert_non_null(p = kx_poll_new(on_reading, NULL, &tm));
	kx_poll_dev_conf_init(&pc);
	pc.period_ms = 100;
	pc.backoff_max_ms = 1000;
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
	for (i = 0; i < 3; i++) {
		kx_dev_conf_init(&c);
		assert_int_equal(kx_dev_conf_tcp(&c, hp), 0);
		c.unit = i == 2 ? 9 : i + 1;	/* 9: not served */
		c.timeout_ms = 1000;
		c.unit_gap_ms = 5;
		assert_int_equal(kx_poll_add(p, &c, kx_profile_find("sdm630"),
		    &pc), i);
	}
	bus = kx_poll_bus(p, 0);
	assert_ptr_equal(bus, kx_poll_bus(p, 1));
	assert_ptr_equal(bus, kx_poll_bus(p, 2));
	bs = kx_meter_bus_stats(bus);
	assert_int_equal(bs->devices, 3);

	loop_until(p, mono_ms() + 1000);
	assert_true(kx_poll_stats(p, 0)->online);
	assert_true(kx_poll_stats(p, 1)->online);
	assert_int_equal(kx_poll_stats(p, 0)->errors, 0);
	assert_int_equal(kx_poll_stats(p, 1)->errors, 0);
	/* an exception is a valid answer: the connection is kept */
	assert_false(kx_poll_stats(p, 2)->online);
	assert_int_equal(kx_poll_stats(p, 2)->last_rc, KX_METER_EEXC);
	assert_true(kx_poll_stats(p, 2)->errors >= 1);
	assert_int_equal(bs->opens, 1);		/* one connection for all */
	assert_int_equal(bs->closes, 0);
	assert_int_equal(bs->errors, 0);

	/* the server goes away: an I/O error closes the shared connection */
	stop(sim, 0);
	loop_until(p, mono_ms() + 500);
	assert_false(kx_poll_stats(p, 0)->online);
	assert_false(kx_poll_stats(p, 1)->online);
	assert_true(bs->closes >= 1);
	assert_false(bs->connected);
	assert_true(bs->open_errors >= 1);
	n0 = kx_poll_stats(p, 0)->readings;
	n1 = kx_poll_stats(p, 1)->readings;

	/* it comes back: the next probe reconnects the same bus */
	sim = sim_tcp(port, "1,2");
	loop_until(p, mono_ms() + 2200);	/* back-off cap 1 s */
	assert_true(kx_poll_stats(p, 0)->online);
	assert_true(kx_poll_stats(p, 1)->online);
	assert_true(kx_poll_stats(p, 0)->readings > n0);
	assert_true(kx_poll_stats(p, 1)->readings > n1);
	assert_ptr_equal(kx_poll_bus(p, 1), bus);
	assert_true(bs->connected);
	assert_int_equal(bs->opens, 2);
	kx_poll_destroy(&p);
	stop(sim, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bus_conf),
		cmocka_unit_test_teardown(test_rtu_dead_unit, teardown),
		cmocka_unit_test_teardown(test_rtu_gaps, teardown),
		cmocka_unit_test_teardown(test_tcp_shared, teardown),
	};

	base_port = 20000 + (int)(getpid() % 1000) * 4;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
