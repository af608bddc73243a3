/*
 * bench_sim.c - kaga-sim on the default city (27,400 members) for a
 * year of half-hour slots: the wall time against the goal (under 60 s on
 * the project's 2-core machine) and agent-slots per second, next to
 * figures measured in the same run: the time spent inside kx_clear_with
 * on the run's own books (the clearing alone), inside kx_settle, in the
 * members' orders and physics, and a tight loop of kx_strat_order on
 * city-sized batches of forecasts (the raw order generation).
 *
 *   BENCH_SIM_DAYS=N     simulate N days instead of 365
 *   BENCH_SIM_THREADS=N  threads (default: min(2, CPUs))
 *   BENCH_SIM_CHUNK=N    members per kx_settle call (default 16)
 *
 * Prints figures only; exits 1 if the run fails or a settlement check
 * fails (it asserts nothing about time: the machine is shared).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../sim/engine.h"
#include "../sim/report.h"
#include "strategy.h"

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned
env_u(const char *name, unsigned def, unsigned lo, unsigned hi)
{
	const char	*s = getenv(name);
	char		*e;
	unsigned long	 v;

	if (s == NULL || *s == '\0')
		return def;
	v = strtoul(s, &e, 10);
	if (*e != '\0' || v < lo || v > hi) {
		fprintf(stderr, "bench_sim: %s: expected %u..%u\n", name, lo,
		    hi);
		exit(2);
	}
	return (unsigned)v;
}

/* CPU seconds of the process so far (all threads, user + system). */
static double
cpu_s(void)
{
	struct rusage	 ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ns per kx_strat_order over batches of n household-like forecasts. */
static double
order_ns(size_t n)
{
	kx_params_t	 mp;
	kx_strat_owner_t own;
	kx_strat_fc_t	*fc;
	kx_order_t	*o;
	uint64_t	 x = 0x9e3779b97f4a7c15ULL;
	double		 t0, best = 1e30, t;
	size_t		 i;
	int		 rep;

	kx_params_default(&mp);
	memset(&own, 0, sizeof(own));
	own.sell_min = 0;
	own.buy_max = 1000000;
	own.cap_wh = 1;
	fc = calloc(n, sizeof(*fc));
	o = calloc(n, sizeof(*o));
	if (fc == NULL || o == NULL) {
		free(fc);
		free(o);
		return 0;
	}
	for (i = 0; i < n; i++) {
		int64_t net;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		net = i % 8 == 0 ? (int64_t)(x % 2000) + 1 :
		    -(int64_t)(100 + x % 400);
		fc[i].net = net;
		fc[i].lo = net - (int64_t)(x >> 20) % 200;
		fc[i].hi = net + (int64_t)(x >> 40) % 200;
	}
	for (rep = 0; rep < 20; rep++) {
		t0 = now_s();
		for (i = 0; i < n; i++)
			if (kx_strat_order(&o[i], &fc[i], 0, &own, &mp, 4) !=
			    KX_STRAT_OK)
				abort();
		t = now_s() - t0;
		if (t < best)
			best = t;
	}
	free(fc);
	free(o);
	return best / (double)n * 1e9;
}

int
main(void)
{
	kx_scen_t	 sc;
	kx_sim_opt_t	 opt;
	kx_sim_res_t	*res = NULL;
	char		 err[256];
	double		 wall, ons, yr, cpu;
	unsigned	 days = env_u("BENCH_SIM_DAYS", 365, 1, 3660);
	int		 r;

	kx_scen_default(&sc);
	sc.days = days;
	memset(&opt, 0, sizeof(opt));
	opt.threads = env_u("BENCH_SIM_THREADS", 0, 0, 64);
	opt.settle_chunk = env_u("BENCH_SIM_CHUNK", 0, 0, 1000000);
	opt.progress = true;
	printf("kaga-sim, default city, %u days of %" PRIu64 " s slots\n",
	    days, sc.slot_s);
	cpu = cpu_s();
	if ((r = kx_sim_run(&res, &sc, &opt, err, sizeof(err))) !=
	    KX_SIM_OK) {
		fprintf(stderr, "bench_sim: %s\n", err);
		return 1;
	}
	cpu = cpu_s() - cpu;
	wall = (double)res->ns_total / 1e9;
	yr = wall * 365.0 / days;
	printf("  members %zu, market slots %zu, agent-slots %" PRIu64
	    ", threads %u\n", res->members, res->n_slots, res->agent_slots,
	    res->threads);
	printf("  wall time            %8.2f s (warm-up %.2f s)%s\n", wall,
	    (double)res->ns_warmup / 1e9,
	    days != 365 ? "" : "   goal: under 60 s");
	if (days != 365)
		printf("  a year at this pace  %8.2f s   goal: under 60 s\n", yr);
	printf("  CPU time             %8.2f s (all threads; %.2f s of wall "
	    "on two idle cores at best)\n", cpu, cpu / 2);
	printf("  agent-slots per s    %8.2f M\n",
	    (double)res->agent_slots / wall / 1e6);
	printf("  inside kx_clear_with %8.2f s (%4.1f %% of the wall time; "
	    "%.3f ms a slot, %.0f orders a slot)\n",
	    (double)res->ns_clear / 1e9,
	    100.0 * (double)res->ns_clear / (double)res->ns_total,
	    (double)res->ns_clear / 1e6 / (double)res->n_slots,
	    (double)res->agent_slots / (double)res->n_slots);
	printf("  inside kx_settle     %8.2f thread-s (%" PRIu64 " calls)\n",
	    (double)res->ns_settle / 1e9, res->settle_calls);
	printf("  orders and physics   %8.2f thread-s (%.1f ns per "
	    "agent-slot)\n", (double)res->ns_gen / 1e9,
	    (double)res->ns_gen / (double)res->agent_slots);
	ons = order_ns(res->members);
	printf("  raw kx_strat_order   %8.1f ns per order in a tight loop "
	    "(= %.2f s for the run's agent-slots on one core)\n", ons,
	    ons * (double)res->agent_slots / 1e9);
	if (res->settle_errors != 0) {
		fprintf(stderr, "bench_sim: %" PRIu64 " settlement errors\n",
		    res->settle_errors);
		kx_sim_res_free(&res);
		return 1;
	}
	kx_sim_res_free(&res);
	return 0;
}
