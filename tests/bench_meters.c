/*
 * bench_meters.c - readings per second through the poller (meters/poll.c
 * + device.c, sdm630 profile: one request of 76 input registers, plus the
 * slot accounting) from kaga-meter-sim over loopback TCP, for 1 and 32
 * devices (one simulator process per port), each next to raw libmodbus
 * round trips (modbus_read_input_registers of 2 registers in a tight loop
 * over the same number of connections) measured in the same run.
 * Simulator: $KAGA_METER_SIM, default build/rel/bin/kaga-meter-sim.
 * Prints figures only; no assertion on time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "device.h"
#include "poll.h"
#include "profile.h"

#include "simutil.h"

#define NDEV_MAX	32
#define RUN_MS		2000

static pid_t	 pids[NDEV_MAX];
static int	 npids;

static int64_t
mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
sim_start(const char *path, int port)
{
	char		 listen[64];
	pid_t		 pid;
	int		 i, fd;
	struct timespec	 ts = { 0, 20000000 };
	char *const	 argv[] = { "kaga-meter-sim", "--listen", listen,
	    "--profile", "sdm630", "--hour", "12", NULL };

	if (tport_open(port)) {
		fprintf(stderr, "bench_meters: port %d in use\n", port);
		return -1;
	}
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1)
			dup2(fd, 2);
		execvp(path, argv);
		_exit(127);
	}
	pids[npids++] = pid;
	for (i = 0; i < 150; i++) {
		if (tport_open(port))
			return 0;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "bench_meters: %s did not start\n", path);
	return -1;
}

static void
sims_stop(void)
{
	int	 i;

	for (i = 0; i < npids; i++)
		kill(pids[i], SIGTERM);
	for (i = 0; i < npids; i++)
		waitpid(pids[i], NULL, 0);
	npids = 0;
}

/* Raw round trips per second over n connections, round robin. */
static double
raw_rate(int base, int n)
{
	modbus_t	*mb[NDEV_MAX];
	uint16_t	 regs[2];
	char		 port[16];
	int64_t		 t0, t1, count = 0, errs = 0;
	int		 i;

	for (i = 0; i < n; i++) {
		snprintf(port, sizeof(port), "%d", base + i);
		if ((mb[i] = modbus_new_tcp_pi("127.0.0.1", port)) == NULL ||
		    modbus_connect(mb[i]) == -1) {
			fprintf(stderr, "bench_meters: connect: %s\n",
			    modbus_strerror(errno));
			exit(1);
		}
		modbus_set_slave(mb[i], 1);
	}
	t0 = mono_us();
	do {
		for (i = 0; i < n; i++) {
			if (modbus_read_input_registers(mb[i], 0x48, 2, regs)
			    == 2)
				count++;
			else
				errs++;
		}
		t1 = mono_us();
	} while (t1 - t0 < RUN_MS * 1000);
	for (i = 0; i < n; i++) {
		modbus_close(mb[i]);
		modbus_free(mb[i]);
	}
	if (errs != 0)
		printf("  (raw: %lld errors)\n", (long long)errs);
	return (double)count * 1e6 / (double)(t1 - t0);
}

static void
on_reading(void *ctx, size_t dev, const kx_reading_t *r, uint32_t plaus)
{
	(void)dev;
	(void)r;
	(void)plaus;
	(*(int64_t *)ctx)++;
}

/*
 * Poller readings per second over n devices; the poller's clock is made
 * to advance one period per pass so that every device is due each pass.
 */
static double
poll_rate(int base, int n, uint64_t *errors)
{
	kx_poller_t		*p;
	kx_dev_conf_t		 c;
	kx_poll_dev_conf_t	 pc;
	char			 hp[64];
	int64_t			 t0, t1, now = 0, count = 0;
	int			 i;

	if ((p = kx_poll_new(on_reading, NULL, &count)) == NULL)
		exit(1);
	kx_poll_dev_conf_init(&pc);
	for (i = 0; i < n; i++) {
		kx_dev_conf_init(&c);
		snprintf(hp, sizeof(hp), "127.0.0.1:%d", base + i);
		if (kx_dev_conf_tcp(&c, hp) != 0 ||
		    kx_poll_add(p, &c, kx_profile_find("sdm630"), &pc) < 0)
			exit(1);
	}
	t0 = mono_us();
	do {
		(void)kx_poll_run_once(p, now);
		now += pc.period_ms;
		t1 = mono_us();
	} while (t1 - t0 < RUN_MS * 1000);
	*errors = 0;
	for (i = 0; i < n; i++)
		*errors += kx_poll_stats(p, (size_t)i)->errors;
	kx_poll_destroy(&p);
	return (double)count * 1e6 / (double)(t1 - t0);
}

int
main(void)
{
	const char	*path = getenv("KAGA_METER_SIM");
	static const int counts[] = { 1, NDEV_MAX };
	int		 base = 0, k, i, try;
	double		 raw, rd;
	uint64_t	 errs;

	if (path == NULL)
		path = "build/rel/bin/kaga-meter-sim";
	signal(SIGPIPE, SIG_IGN);
	/*
	 * 30000..39999, away from the tests' 40000 + 4 x (pid % 5000); a
	 * block where a port is taken is left for the next one.
	 */
	for (try = 0; try < 10; try++) {
		base = 30000 + (int)((getpid() + try * 37) % 250) * 40;
		for (i = 0; i < NDEV_MAX; i++)
			if (sim_start(path, base + i) != 0)
				break;
		if (i == NDEV_MAX)
			break;
		sims_stop();
	}
	if (try == 10) {
		fprintf(stderr, "bench_meters: no free block of ports\n");
		return 1;
	}
	printf("meters over loopback TCP, %d s per figure, sdm630 simulators"
	    " on 127.0.0.1:%d..%d\n", RUN_MS / 1000, base,
	    base + NDEV_MAX - 1);
	for (k = 0; k < 2; k++) {
		raw = raw_rate(base, counts[k]);
		rd = poll_rate(base, counts[k], &errs);
		printf("%2d device(s): poller %8.0f readings/s (76 registers "
		    "each, %llu errors)  vs raw libmodbus %8.0f round trips/s "
		    "(2 registers) = %.0f %%\n", counts[k], rd,
		    (unsigned long long)errs, raw, 100.0 * rd / raw);
	}
	sims_stop();
	return 0;
}
