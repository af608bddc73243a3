/*
 * test_poll.c - meters/slot.c and meters/poll.c: slot totals worked out
 * by hand (boundaries, stalls, meter reset, implausible jumps, jitter,
 * stale time), the back-off schedule, the poller's schedule and counters
 * over a fake device with a fake clock, and end to end against
 * kaga-meter-sim on 127.0.0.1 (path from $KAGA_METER_SIM, default
 * build/rel/bin/kaga-meter-sim): a server restarted while polled, and
 * dead devices (nobody listening, no answer, wrong unit id) next to a
 * live one, with pass times bounded by the configured timeouts.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
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
#include "slot.h"

#include "simutil.h"

/* ---- slot totals ---- */

#define MAXSLOTS	64

typedef struct {
	size_t		 n;
	kx_slot_total_t	 t[MAXSLOTS];
} sink_t;

static void
sink(void *ctx, const kx_slot_total_t *t)
{
	sink_t	*s = ctx;

	if (s->n < MAXSLOTS)
		s->t[s->n] = *t;
	s->n++;			/* counts beyond MAXSLOTS */
}

/* 10 s slots, 100 kW, 10 Wh tolerance, gaps over 30 s flagged. */
static void
acc10(kx_slot_acc_t *a)
{
	kx_slot_conf_t	 c;

	kx_slot_conf_init(&c);
	c.slot_s = 10;
	c.gap_ms = 30000;
	assert_int_equal(kx_slot_init(a, &c), KX_METER_OK);
}

static uint32_t
add_imp(kx_slot_acc_t *a, sink_t *s, int64_t ts, int64_t imp)
{
	int64_t	 wh[KX_SLOT_NCH] = { imp, 0, 0 };

	return kx_slot_add(a, ts, KX_SLOT_CH(KX_SLOT_IMPORT), wh, sink, s);
}

static void
test_share(void **state)
{
	int64_t	 d, dt, x, prev, sum;

	(void)state;
	assert_int_equal(kx_slot_share(20, 1000, 2000), 10);
	assert_int_equal(kx_slot_share(20, 500, 2500), 4);
	assert_int_equal(kx_slot_share(7, 3, 3), 7);
	assert_int_equal(kx_slot_share(7, 0, 3), 0);
	assert_int_equal(kx_slot_share(-1, 1, 3), 0);	/* refused */
	assert_int_equal(kx_slot_share(1, 4, 3), 0);
	/* huge values: exact at the end, monotone, no overflow */
	d = (int64_t)1 << 61;
	dt = (int64_t)1 << 50;
	assert_int_equal(kx_slot_share(d, dt, dt), d);
	prev = 0;
	for (x = 0; x <= dt; x += dt / 7) {
		sum = kx_slot_share(d, x, dt);
		assert_true(sum >= prev && sum <= d);
		prev = sum;
	}
}

static void
test_plausible(void **state)
{
	kx_slot_conf_t	 c;

	(void)state;
	kx_slot_conf_init(&c);		/* 100 kW, 10 Wh */
	/* 100 kW for 36 s = 1000 Wh, + 10 Wh tolerance */
	assert_true(kx_slot_plausible(&c, 0, 0, 1010, 36000));
	assert_false(kx_slot_plausible(&c, 0, 0, 1011, 36000));
	assert_true(kx_slot_plausible(&c, 100, 0, 90, 1000));	/* jitter */
	assert_false(kx_slot_plausible(&c, 100, 0, 89, 1000));
	assert_false(kx_slot_plausible(&c, 0, 5, 0, 5));	/* no time */
	assert_true(kx_slot_plausible(&c, 0, 0, INT64_MAX / 2,
	    INT64_MAX / 4));		/* no overflow */
}

static void
test_slot_boundary(void **state)
{
	kx_slot_acc_t	 a;
	sink_t		 s = { 0 };

	(void)state;
	acc10(&a);
	/* first reading: baseline only, slot [0, 10 s) open */
	assert_int_equal(add_imp(&a, &s, 7500, 1000), 0);
	assert_int_equal(add_imp(&a, &s, 9500, 1006), 0);
	assert_int_equal(s.n, 0);
	/* 9.5 s -> 12 s, +20 Wh: floor(20 x 500 / 2500) = 4 before 10 s */
	assert_int_equal(add_imp(&a, &s, 12000, 1026), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.t[0].start_ms, 0);
	assert_int_equal(s.t[0].len_ms, 10000);
	assert_int_equal(s.t[0].wh[KX_SLOT_IMPORT], 6 + 4);
	assert_int_equal(s.t[0].covered_ms, 2500);
	assert_true(s.t[0].flags & KX_SLOT_F_PARTIAL);
	assert_int_equal(a.cur.wh[KX_SLOT_IMPORT], 16);
	/* a reading exactly on the boundary closes the slot */
	assert_int_equal(add_imp(&a, &s, 20000, 1036), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.t[1].start_ms, 10000);
	assert_int_equal(s.t[1].wh[KX_SLOT_IMPORT], 26);
	assert_int_equal(s.t[1].covered_ms, 10000);
	assert_int_equal(s.t[1].flags, 0);
	assert_int_equal(a.cur.start_ms, 20000);
	assert_int_equal(a.cur.wh[KX_SLOT_IMPORT], 0);
	/* the sum over slots is the counter's increase */
	kx_slot_flush(&a, sink, &s);
	assert_int_equal(s.n, 3);
	assert_true(s.t[2].flags & KX_SLOT_F_FLUSH);
	assert_int_equal(s.t[0].wh[0] + s.t[1].wh[0] + s.t[2].wh[0], 36);
}

static void
test_slot_three_counters(void **state)
{
	kx_slot_acc_t	 a;
	sink_t		 s = { 0 };
	kx_reading_t	 r;

	(void)state;
	acc10(&a);
	memset(&r, 0, sizeof(r));
	r.flags = KX_RD_IMPORT | KX_RD_EXPORT | KX_RD_PV_WH;
	r.ts_ms = 5000;
	r.import_wh = 100;
	r.export_wh = 200;
	r.pv_wh = 300;
	assert_int_equal(kx_slot_add_reading(&a, &r, sink, &s), 0);
	r.ts_ms = 15000;
	r.import_wh = 110;	/* +10: 5 + 5 */
	r.export_wh = 201;	/* +1: floor(1 x 5/10) = 0, then 1 */
	r.pv_wh = 303;		/* +3: 1 + 2 */
	assert_int_equal(kx_slot_add_reading(&a, &r, sink, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.t[0].wh[KX_SLOT_IMPORT], 5);
	assert_int_equal(s.t[0].wh[KX_SLOT_EXPORT], 0);
	assert_int_equal(s.t[0].wh[KX_SLOT_PV], 1);
	assert_int_equal(a.cur.wh[KX_SLOT_EXPORT], 1);
	assert_int_equal(a.cur.wh[KX_SLOT_PV], 2);
}

static void
test_slot_stall(void **state)
{
	kx_slot_acc_t	 a;
	sink_t		 s = { 0 };
	size_t		 i;

	(void)state;
	acc10(&a);
	assert_int_equal(add_imp(&a, &s, 0, 5000), 0);
	assert_int_equal(add_imp(&a, &s, 5000, 5010), 0);
	/* no reading for 40 s, then +400 Wh: spread over 5 s .. 45 s */
	assert_int_equal(add_imp(&a, &s, 45000, 5410), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.t[0].wh[0], 10 + 50);
	for (i = 1; i < 4; i++) {
		assert_int_equal(s.t[i].start_ms, (int64_t)i * 10000);
		assert_int_equal(s.t[i].wh[0], 100);
		assert_true(s.t[i].flags & KX_SLOT_F_GAP);
		assert_int_equal(s.t[i].covered_ms, 10000);
	}
	assert_true(s.t[0].flags & KX_SLOT_F_GAP);
	assert_int_equal(a.cur.wh[0], 50);
	/* a stall that the counter itself shows (same value) then resumes */
	assert_int_equal(add_imp(&a, &s, 46000, 5410), 0);
	assert_int_equal(add_imp(&a, &s, 47000, 5410), 0);
	assert_int_equal(add_imp(&a, &s, 48000, 5413), 0);
	assert_int_equal(a.cur.wh[0], 53);
	/* 400 Wh in 5 s is 288 kW: refused, not counted */
	assert_int_equal(add_imp(&a, &s, 53000, 5813),
	    KX_SLOT_CH(KX_SLOT_IMPORT));
	assert_int_equal(a.n_jumps, 1);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.t[4].wh[0], 53);
}

static void
test_slot_reset(void **state)
{
	kx_slot_acc_t	 a;
	sink_t		 s = { 0 };
	uint32_t	 rc;
	size_t		 i;
	int64_t		 sum = 0;

	(void)state;
	acc10(&a);
	assert_int_equal(add_imp(&a, &s, 1000, 1000000), 0);
	assert_int_equal(add_imp(&a, &s, 2000, 1000010), 0);
	/* a single bad value (glitch) is refused; the next is measured from
	 * the last good one */
	assert_int_equal(add_imp(&a, &s, 3000, 12),
	    KX_SLOT_CH(KX_SLOT_IMPORT));
	assert_int_equal(a.n_backwards, 1);
	assert_int_equal(add_imp(&a, &s, 4000, 1000020), 0);
	assert_int_equal(a.cur.wh[0], 20);
	/* meter replaced: 5 then 7; the second confirms a new baseline */
	assert_int_equal(add_imp(&a, &s, 5000, 5), KX_SLOT_CH(KX_SLOT_IMPORT));
	rc = add_imp(&a, &s, 6000, 7);
	assert_int_equal(rc, KX_SLOT_CH(KX_SLOT_IMPORT) | KX_SLOT_R_REBASE);
	assert_int_equal(a.n_rebase, 1);
	assert_int_equal(a.n_backwards, 3);
	assert_int_equal(a.cur.wh[0], 22);	/* +2 from 5 to 7 */
	assert_true(a.cur.flags & KX_SLOT_F_REBASE);
	assert_true(a.cur.flags & KX_SLOT_F_BAD);
	assert_int_equal(add_imp(&a, &s, 7000, 9), 0);
	assert_int_equal(add_imp(&a, &s, 11000, 19), 0);
	assert_int_equal(s.n, 1);
	for (i = 0; i < s.n; i++)
		assert_true(s.t[i].wh[0] >= 0);
	sum = s.t[0].wh[0] + a.cur.wh[0];
	assert_int_equal(sum, 10 + 10 + 2 + 2 + 10);
	/* jitter within the tolerance: no negative, no double count */
	assert_int_equal(add_imp(&a, &s, 12000, 14), 0);
	assert_int_equal(a.n_jitter, 1);
	assert_int_equal(add_imp(&a, &s, 13000, 21), 0);
	/* slot [10 s, 20 s) had 3 of the 10 Wh from 7 s to 11 s */
	assert_int_equal(a.cur.wh[0], 3 + 0 + 2);
	/* time not increasing: dropped */
	assert_int_equal(add_imp(&a, &s, 13000, 22), KX_SLOT_R_STALE);
	assert_int_equal(add_imp(&a, &s, 100, 22), KX_SLOT_R_STALE);
	assert_int_equal(a.n_stale, 2);
	/* negative counter: ignored */
	assert_int_equal(add_imp(&a, &s, 14000, -1), KX_SLOT_R_BADVAL);
	/* an implausible jump upwards: refused, two in a row rebase */
	assert_int_equal(add_imp(&a, &s, 15000, 900000),
	    KX_SLOT_CH(KX_SLOT_IMPORT));
	assert_int_equal(add_imp(&a, &s, 16000, 900001),
	    KX_SLOT_CH(KX_SLOT_IMPORT) | KX_SLOT_R_REBASE);
	assert_int_equal(a.cur.wh[0], 5 + 1);
	assert_int_equal(a.n_jumps, 2);		/* both values were refused */
	assert_int_equal(a.n_rebase, 2);
}

static void
test_slot_conf(void **state)
{
	kx_slot_acc_t	 a;
	kx_slot_conf_t	 c;

	(void)state;
	assert_int_equal(kx_slot_init(&a, NULL), KX_METER_OK);
	assert_int_equal(a.conf.slot_s, 1800);
	assert_int_equal(a.conf.max_power_w, 100000);
	kx_slot_conf_init(&c);
	c.slot_s = 0;
	assert_int_equal(kx_slot_init(&a, &c), KX_METER_EARG);
	kx_slot_conf_init(&c);
	c.tol_wh = -1;
	assert_int_equal(kx_slot_init(&a, &c), KX_METER_EARG);
	/* real wall-clock times: slots start on multiples of 30 min */
	assert_int_equal(kx_slot_init(&a, NULL), KX_METER_OK);
	{
		int64_t	 wh[KX_SLOT_NCH] = { 1, 2, 3 };

		(void)kx_slot_add(&a, 1700000000123LL, 7, wh, NULL, NULL);
		assert_int_equal(a.cur.start_ms % 1800000, 0);
		assert_true(a.cur.start_ms <= 1700000000123LL);
		assert_true(a.cur.start_ms + 1800000 > 1700000000123LL);
	}
}

/* ---- back-off and the poller over a fake device ---- */

static void
test_backoff(void **state)
{
	static const int64_t want[] = { 1000, 2000, 4000, 8000, 16000,
	    32000, 64000, 128000, 256000, 300000, 300000 };
	uint32_t	 k;

	(void)state;
	for (k = 0; k < sizeof(want) / sizeof(want[0]); k++)
		assert_int_equal(kx_poll_backoff_ms(1000, k, 300000), want[k]);
	assert_int_equal(kx_poll_backoff_ms(1000, UINT32_MAX, 300000),
	    300000);
	assert_int_equal(kx_poll_backoff_ms(250, 3, 1000), 1000);
	assert_int_equal(kx_poll_backoff_ms(5000, 2, 5000), 5000);
}

typedef struct {
	int	 fail;		/* fail while > 0 (decremented per call) */
	int	 calls;
	int64_t	 ts;		/* wall clock of the fake */
	int64_t	 imp;
} fake_t;

static int
fake_read(void *ctx, kx_reading_t *r, char *err, size_t errlen)
{
	fake_t	*f = ctx;

	f->calls++;
	if (f->fail > 0) {
		f->fail--;
		snprintf(err, errlen, "fake: no answer");
		return KX_METER_EIO;
	}
	r->ts_ms = f->ts;
	r->flags = KX_RD_IMPORT;
	r->import_wh = f->imp;
	return KX_METER_OK;
}

typedef struct {
	int	 readings[4];
	uint32_t last_plaus;
	sink_t	 slots;
} cbs_t;

static void
on_reading(void *ctx, size_t dev, const kx_reading_t *r, uint32_t plaus)
{
	cbs_t	*c = ctx;

	(void)r;
	assert_true(dev < 4);
	c->readings[dev]++;
	c->last_plaus = plaus;
}

static void
on_slot(void *ctx, size_t dev, const kx_slot_total_t *t)
{
	cbs_t	*c = ctx;

	(void)dev;
	sink(&c->slots, t);
}

static void
test_poll_fake(void **state)
{
	kx_poller_t		*p;
	kx_poll_dev_conf_t	 pc;
	const kx_poll_stats_t	*st;
	fake_t			 good = { 0, 0, 1000, 100 };
	fake_t			 bad = { 1000000, 0, 0, 0 };
	cbs_t			 cb;
	int64_t			 now = 0;
	int			 i;

	(void)state;
	memset(&cb, 0, sizeof(cb));
	assert_non_null(p = kx_poll_new(on_reading, on_slot, &cb));
	assert_int_equal(kx_poll_next_deadline(p), INT64_MAX);
	assert_int_equal(kx_poll_timeout_ms(p, 0), -1);
	kx_poll_dev_conf_init(&pc);
	assert_int_equal(pc.period_ms, 1000);
	assert_int_equal(pc.retries, 1);
	assert_int_equal(pc.backoff_max_ms, 300000);
	pc.slot.slot_s = 10;
	assert_int_equal(kx_poll_add_fn(p, fake_read, &good, &pc), 0);
	assert_int_equal(kx_poll_add_fn(p, fake_read, &bad, &pc), 1);
	assert_string_equal(kx_poll_name(p, 1), "dev1");
	pc.period_ms = 0;
	assert_int_equal(kx_poll_add_fn(p, fake_read, &bad, &pc),
	    KX_METER_EARG);
	assert_int_equal(kx_poll_count(p), 2);
	assert_int_equal(kx_poll_next_deadline(p), INT64_MIN);
	assert_int_equal(kx_poll_timeout_ms(p, 0), 0);

	/* first pass: both due; the bad one (never online) tried once */
	assert_int_equal(kx_poll_run_once(p, now), 2);
	st = kx_poll_stats(p, 1);
	assert_int_equal(st->requests, 1);
	assert_int_equal(st->errors, 1);
	assert_int_equal(st->consec_fail, 1);
	assert_false(st->online);
	assert_string_equal(st->last_error, "fake: no answer");
	assert_int_equal(st->last_rc, KX_METER_EIO);
	assert_int_equal(st->next_ms, 2000);
	st = kx_poll_stats(p, 0);
	assert_true(st->online);
	assert_int_equal(st->readings, 1);
	assert_int_equal(st->last_good_ms, 1000);
	assert_int_equal(st->next_ms, 1000);
	assert_int_equal(kx_poll_next_deadline(p), 1000);
	assert_int_equal(kx_poll_timeout_ms(p, 250), 750);
	assert_int_equal(kx_poll_timeout_ms(p, INT64_MIN), INT_MAX);
	assert_null(kx_poll_stats(p, 2));

	/* the bad device's probes follow 2 s, 4 s, 8 s ... 300 s */
	for (i = 0; i < 2000; i++) {
		now = kx_poll_next_deadline(p);
		good.ts += 1000;
		good.imp += 1;
		(void)kx_poll_run_once(p, now);
		if (bad.calls == 10)
			break;
	}
	st = kx_poll_stats(p, 1);
	assert_int_equal(st->consec_fail, 10);
	/* probes at 0, 2, 6, 14, 30, 62, 126, 254, 510, 810 s */
	assert_int_equal(st->last_pass_ms, 810000);
	assert_int_equal(st->next_ms, 1110000);
	/* the good device was read every second meanwhile */
	st = kx_poll_stats(p, 0);
	assert_int_equal(st->requests, 811);
	assert_int_equal(st->errors, 0);
	assert_int_equal(cb.readings[0], 811);
	assert_int_equal(cb.readings[1], 0);
	/* 10 s slots of the good device (wall 1 s .. 811 s): 81 closed */
	assert_int_equal(cb.slots.n, 81);
	assert_int_equal(cb.slots.t[5].wh[KX_SLOT_IMPORT], 10);

	/* recovery: the device answers again at its next probe */
	bad.fail = 0;
	bad.ts = 5000;
	bad.imp = 7;
	(void)kx_poll_run_once(p, 1110000);
	st = kx_poll_stats(p, 1);
	assert_true(st->online);
	assert_int_equal(st->consec_fail, 0);
	assert_int_equal(st->readings, 1);
	assert_int_equal(st->requests, 11);
	assert_int_equal(st->errors, 10);
	assert_int_equal(st->next_ms, 1111000);
	/* online now: a failure gets one retry in the same pass */
	bad.fail = 1;
	bad.ts = 6000;
	(void)kx_poll_run_once(p, 1111000);
	assert_true(st->online);
	assert_int_equal(st->requests, 13);
	assert_int_equal(st->errors, 11);
	assert_int_equal(st->readings, 2);
	/* two failures: offline, back-off 2 s */
	bad.fail = 2;
	(void)kx_poll_run_once(p, 1112000);
	assert_false(st->online);
	assert_int_equal(st->requests, 15);
	assert_int_equal(st->errors, 13);
	assert_int_equal(st->next_ms, 1114000);
	/* a late caller: the cadence restarts from now, no burst */
	bad.fail = 0;
	bad.ts = 7000;
	(void)kx_poll_run_once(p, 1200000);
	assert_int_equal(st->next_ms, 1201000);
	/* an implausible reading is delivered flagged and counted */
	bad.ts = 8000;
	bad.imp = 1000000;
	(void)kx_poll_run_once(p, 1201000);
	assert_int_equal(st->implausible, 1);
	assert_int_equal(cb.last_plaus, KX_SLOT_CH(KX_SLOT_IMPORT));
	assert_int_equal(kx_poll_slots(p, 1)->n_jumps, 1);
	kx_poll_destroy(&p);
	assert_null(p);
	kx_poll_destroy(&p);
}

static void
test_poll_slot_sum(void **state)
{
	kx_poller_t		*p;
	kx_poll_dev_conf_t	 pc;
	fake_t			 f = { 0, 0, 0, 500 };
	cbs_t			 cb;
	int64_t			 now, sum = 0;
	size_t			 i;

	(void)state;
	memset(&cb, 0, sizeof(cb));
	assert_non_null(p = kx_poll_new(on_reading, on_slot, &cb));
	kx_poll_dev_conf_init(&pc);
	pc.slot.slot_s = 60;
	pc.period_ms = 7000;
	snprintf(pc.name, sizeof(pc.name), "house");
	assert_int_equal(kx_poll_add_fn(p, fake_read, &f, &pc), 0);
	assert_string_equal(kx_poll_name(p, 0), "house");
	for (now = 0; now <= 700000; now += 7000) {
		f.ts = 3000 + now;	/* wall clock offset from ours */
		f.imp = 500 + now / 1000;	/* 1 Wh per second */
		assert_int_equal(kx_poll_run_once(p, now), 1);
	}
	kx_poll_flush(p);
	for (i = 0; i < cb.slots.n; i++) {
		sum += cb.slots.t[i].wh[KX_SLOT_IMPORT];
		if (i > 0 && i + 1 < cb.slots.n)
			assert_int_equal(cb.slots.t[i].wh[KX_SLOT_IMPORT], 60);
	}
	assert_int_equal(sum, 700);	/* every Wh lands in exactly one slot */
	kx_poll_destroy(&p);
}

/* ---- end to end against kaga-meter-sim ---- */

static int	 base_port;

static pid_t
sim_start(int port, const char *profile, const char *fault)
{
	char		 listen[64];
	pid_t		 pid;
	int		 i, fd;
	struct timespec	 ts = { 0, 20000000 };
	char *const	 argv[] = { "kaga-meter-sim", "--listen", listen,
	    "--profile", (char *)(uintptr_t)profile, "--fault",
	    (char *)(uintptr_t)fault, "--hour", "12", NULL };

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1)
			dup2(fd, 2);
		execvp(tsim_path(), argv);
		_exit(127);
	}
	for (i = 0; i < 150; i++) {
		if (tport_open(port))
			return pid;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	fail_msg("kaga-meter-sim did not start (%s)", tsim_path());
	return -1;
}

static void
sim_stop(pid_t pid)
{
	int	 st;

	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_until(int64_t t)
{
	int64_t		 now = mono_ms(), d;
	struct timespec	 ts;

	if (t <= now)		/* also INT64_MIN: due at once */
		return;
	d = t - now;
	ts.tv_sec = d / 1000;
	ts.tv_nsec = (long)(d % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

static int
add_tcp(kx_poller_t *p, int port, int unit, int timeout_ms, int period_ms)
{
	kx_dev_conf_t		 c;
	kx_poll_dev_conf_t	 pc;
	char			 hp[64];
	int			 i;

	kx_dev_conf_init(&c);
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
	assert_int_equal(kx_dev_conf_tcp(&c, hp), 0);
	c.timeout_ms = timeout_ms;
	c.unit = unit;
	kx_poll_dev_conf_init(&pc);
	pc.period_ms = period_ms;
	pc.backoff_max_ms = 2000;
	i = kx_poll_add(p, &c, kx_profile_find("sdm630"), &pc);
	assert_true(i >= 0);
	return i;
}

/* Runs the caller's loop until mono time t_end; the longest pass, ms. */
static int64_t
loop_until(kx_poller_t *p, int64_t t_end)
{
	int64_t	 t0, d, worst = 0;

	while (mono_ms() < t_end) {
		sleep_until(kx_poll_next_deadline(p) < t_end ?
		    kx_poll_next_deadline(p) : t_end);
		t0 = mono_ms();
		(void)kx_poll_run_once(p, t0);
		if ((d = mono_ms() - t0) > worst)
			worst = d;
	}
	return worst;
}

static void
test_e2e_restart(void **state)
{
	kx_poller_t		*p;
	const kx_poll_stats_t	*st;
	cbs_t			 cb;
	int			 port = base_port;
	pid_t			 pid;
	uint64_t		 n;

	(void)state;
	memset(&cb, 0, sizeof(cb));
	pid = sim_start(port, "sdm630", "none");
	assert_non_null(p = kx_poll_new(on_reading, NULL, &cb));
	assert_int_equal(add_tcp(p, port, 1, 300, 100), 0);
	st = kx_poll_stats(p, 0);
	(void)loop_until(p, mono_ms() + 500);
	assert_true(st->online);
	assert_true(st->readings >= 3);
	assert_int_equal(st->errors, 0);
	n = st->readings;

	/* the server goes away: errors, offline, back-off */
	sim_stop(pid);
	(void)loop_until(p, mono_ms() + 700);
	assert_false(st->online);
	assert_true(st->consec_fail >= 1);
	assert_true(st->errors >= 2);		/* including the retry */
	assert_true(st->last_error[0] != '\0');
	assert_true(st->readings == n);

	/* it comes back on the same port: the same poller reads it again */
	pid = sim_start(port, "sdm630", "none");
	(void)loop_until(p, mono_ms() + 2500);	/* back-off cap 2 s */
	assert_true(st->online);
	assert_int_equal(st->consec_fail, 0);
	assert_true(st->readings > n);
	assert_int_equal(st->implausible, 0);
	assert_int_equal(cb.readings[0], (int)st->readings);
	sim_stop(pid);
	kx_poll_destroy(&p);
}

static void
test_e2e_dead_devices(void **state)
{
	kx_poller_t		*p;
	const kx_poll_stats_t	*live, *st;
	cbs_t			 cb;
	int			 lport = base_port + 1, dport = base_port + 2;
	int			 nport = base_port + 3, i;
	int64_t			 worst, t0, budget;
	pid_t			 lpid, npid;
	const int		 timeout = 300, retries = 1;

	(void)state;
	if (tport_open(dport))
		skip();			/* someone else listens there */
	memset(&cb, 0, sizeof(cb));
	lpid = sim_start(lport, "sdm630", "none");
	npid = sim_start(nport, "sdm630", "noanswer");
	assert_non_null(p = kx_poll_new(on_reading, NULL, &cb));
	assert_int_equal(add_tcp(p, lport, 1, timeout, 200), 0);
	assert_int_equal(add_tcp(p, dport, 1, timeout, 200), 1);
	assert_int_equal(add_tcp(p, nport, 1, timeout, 200), 2);
	assert_int_equal(add_tcp(p, lport, 7, timeout, 200), 3); /* no unit */

	t0 = mono_ms();
	worst = loop_until(p, t0 + 4000);
	/*
	 * Budget of a pass: every failing device at most timeout x
	 * (retries + 1), plus the live one; generous slack of 1 s.
	 */
	budget = 3 * (int64_t)timeout * (retries + 1) + 1000;
	assert_true(worst < budget);
	live = kx_poll_stats(p, 0);
	assert_true(live->online);
	assert_int_equal(live->errors, 0);
	assert_int_equal(live->consec_fail, 0);
	/* 200 ms period for 4 s: 20 at best; well above 4 in any case */
	assert_true(live->readings >= 5);
	for (i = 1; i <= 3; i++) {
		st = kx_poll_stats(p, (size_t)i);
		assert_false(st->online);
		assert_int_equal(st->readings, 0);
		assert_int_equal(st->errors, st->requests);
		/* back-off: 200 ms x 2^k capped at 2 s: at most 6 probes */
		assert_true(st->requests >= 2 && st->requests <= 8);
		assert_true(st->consec_fail == st->requests);
		assert_true(st->last_error[0] != '\0');
	}
	assert_int_equal(kx_poll_stats(p, 3)->last_rc, KX_METER_EEXC);
	assert_int_equal(kx_poll_stats(p, 2)->last_rc, KX_METER_EIO);
	assert_int_equal(kx_poll_stats(p, 1)->last_rc, KX_METER_EIO);
	assert_int_equal(cb.readings[0], (int)live->readings);

	/* the no-answer device is fixed: it is probed and back online */
	sim_stop(npid);
	npid = sim_start(nport, "sdm630", "none");
	(void)loop_until(p, mono_ms() + 2600);
	st = kx_poll_stats(p, 2);
	assert_true(st->online);
	assert_true(st->readings >= 1);
	assert_int_equal(st->consec_fail, 0);
	sim_stop(npid);
	sim_stop(lpid);
	kx_poll_destroy(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share),
		cmocka_unit_test(test_plausible),
		cmocka_unit_test(test_slot_boundary),
		cmocka_unit_test(test_slot_three_counters),
		cmocka_unit_test(test_slot_stall),
		cmocka_unit_test(test_slot_reset),
		cmocka_unit_test(test_slot_conf),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_poll_fake),
		cmocka_unit_test(test_poll_slot_sum),
		cmocka_unit_test(test_e2e_restart),
		cmocka_unit_test(test_e2e_dead_devices),
	};

	base_port = 10000 + (int)(getpid() % 1000) * 4;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
