/*
 * test_meterd.c - the node's meter service (node/meterd.c) and the slot
 * state it persists (meters/slot.c kx_slot_save/kx_slot_restore).
 *
 * - slot state: a round trip continues exactly as the original would;
 *   every kind of damaged record is refused and leaves the accumulator
 *   unchanged.
 * - against kaga-meter-sim over real Modbus TCP on 127.0.0.1 (path from
 *   $KAGA_METER_SIM): a live and a dead meter polled from a config file
 *   (the dead one never stops the live one), and the energy of a restart:
 *   the sim is frozen (SIGSTOP) so the readings stop at known counters,
 *   the service is closed and reopened from its LMDB folder, and the slot
 *   totals stored across the restart add up exactly to the counters'
 *   increase - no Wh lost or counted twice.
 * - configuration errors: conflicting RTU settings on one bus name the
 *   file and line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "meterd.h"
#include "slot.h"
#include "simutil.h"
#include "testutil.h"

#define OP	"8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"

static int	 base_port;

static void
tmp_into(char *dir, size_t len)
{
	char	*d = tmpdir_new();

	snprintf(dir, len, "%s", d);
	free(d);
}

/* ---- slot state ------------------------------------------------------ */

static void
feed(kx_slot_acc_t *a, int64_t t0, int n, int64_t imp0)
{
	int64_t	 wh[KX_SLOT_NCH];
	int	 i;

	for (i = 0; i < n; i++) {
		wh[0] = imp0 + 7 * i;
		wh[1] = 1000;
		wh[2] = 50 + i;
		(void)kx_slot_add(a, t0 + 700 * i, KX_SLOT_CH(0) |
		    KX_SLOT_CH(1) | KX_SLOT_CH(2), wh, NULL, NULL);
	}
}

struct emitted {
	kx_slot_total_t	 t[16];
	int		 n;
};

static void
collect(void *arg, const kx_slot_total_t *t)
{
	struct emitted	*e = arg;

	if (e->n < 16)
		e->t[e->n++] = *t;
}

static void
test_state_roundtrip(void **state)
{
	kx_slot_conf_t	 c;
	kx_slot_acc_t	 a, b;
	uint8_t		 rec[KX_SLOT_STATE_LEN];
	struct emitted	 ea, eb;
	int64_t		 wh[KX_SLOT_NCH] = { 5000, 1000, 200 };
	int		 i;

	(void)state;
	kx_slot_conf_init(&c);
	c.slot_s = 2;
	assert_int_equal(kx_slot_init(&a, &c), KX_METER_OK);
	feed(&a, 1700000000000LL, 5, 4000);
	kx_slot_save(&a, rec);
	assert_memory_equal(rec, "KXS1", 4);

	assert_int_equal(kx_slot_init(&b, &c), KX_METER_OK);
	assert_int_equal(kx_slot_restore(&b, rec, sizeof(rec)), KX_METER_OK);
	assert_int_equal(b.started, 1);
	assert_int_equal(b.last_ts, a.last_ts);
	assert_memory_equal(&b.cur, &a.cur, sizeof(a.cur));
	assert_memory_equal(b.ch, a.ch, sizeof(a.ch));

	/* both continue identically over a long gap (a restart) */
	memset(&ea, 0, sizeof(ea));
	memset(&eb, 0, sizeof(eb));
	(void)kx_slot_add(&a, 1700000000000LL + 9000, 7, wh, collect, &ea);
	(void)kx_slot_add(&b, 1700000000000LL + 9000, 7, wh, collect, &eb);
	assert_int_equal(ea.n, eb.n);
	assert_true(ea.n >= 3);
	for (i = 0; i < ea.n; i++)
		assert_memory_equal(&ea.t[i], &eb.t[i], sizeof(ea.t[i]));

	/* a fresh accumulator saves and restores as not started */
	assert_int_equal(kx_slot_init(&a, &c), KX_METER_OK);
	kx_slot_save(&a, rec);
	assert_int_equal(kx_slot_restore(&b, rec, sizeof(rec)), KX_METER_OK);
	assert_int_equal(b.started, 0);
}

/* A new slot length keeps the baselines: nothing after it is lost. */
static void
test_reslot(void **state)
{
	kx_slot_conf_t	 c;
	kx_slot_acc_t	 a;
	struct emitted	 e;
	int64_t		 wh[KX_SLOT_NCH] = { 1000, 0, 0 }, t0 = 1800000000000LL;
	int64_t		 sum = 0;
	int		 i;

	(void)state;
	kx_slot_conf_init(&c);		/* 1800 s slots */
	assert_int_equal(kx_slot_init(&a, &c), KX_METER_OK);
	(void)kx_slot_add(&a, t0 + 100, KX_SLOT_CH(0), wh, NULL, NULL);
	assert_int_equal(kx_slot_reslot(&a, 0), KX_METER_EARG);
	assert_int_equal(kx_slot_reslot(&a, 10), KX_METER_OK);
	assert_int_equal(a.conf.slot_s, 10);
	assert_int_equal(a.cur.start_ms, t0);	/* holds the last reading */
	assert_int_equal(a.cur.len_ms, 10000);
	assert_int_equal(a.ch[0].val, 1000);	/* the baseline kept */
	memset(&e, 0, sizeof(e));
	for (i = 1; i <= 5; i++) {		/* 10 Wh a second for 50 s */
		wh[0] = 1000 + 10 * (i * 10);
		(void)kx_slot_add(&a, t0 + 100 + (int64_t)i * 10000,
		    KX_SLOT_CH(0), wh, collect, &e);
	}
	assert_int_equal(e.n, 5);
	assert_true(e.t[0].flags & KX_SLOT_F_REBASE);
	for (i = 0; i < e.n; i++) {
		assert_int_equal(e.t[i].len_ms, 10000);
		assert_int_equal(e.t[i].start_ms, t0 + (int64_t)i * 10000);
		sum += e.t[i].wh[0];
	}
	assert_int_equal(sum + a.cur.wh[0], 500);	/* every Wh */
	assert_int_equal(kx_slot_reslot(&a, 10), KX_METER_OK);	/* no-op */
	assert_int_equal(a.cur.start_ms, t0 + 50000);
}

/* Record field offsets (int64 index after the 4-byte magic). */
enum { F_SLOTS, F_STARTED, F_LAST, F_START, F_LEN, F_WH0, F_WH1, F_WH2,
	F_COV, F_FLAGS, F_CH0 };

static void
set_field(uint8_t *rec, int f, int64_t v)
{
	uint64_t	 u = (uint64_t)v;
	int		 i;

	for (i = 0; i < 8; i++)
		rec[4 + 8 * f + i] = (uint8_t)(u >> (8 * i));
}

static void
refused(const uint8_t *good, int f, int64_t v)
{
	kx_slot_conf_t	 c;
	kx_slot_acc_t	 b, before;
	uint8_t		 rec[KX_SLOT_STATE_LEN];

	kx_slot_conf_init(&c);
	c.slot_s = 2;
	assert_int_equal(kx_slot_init(&b, &c), KX_METER_OK);
	b.n_samples = 42;
	before = b;
	memcpy(rec, good, sizeof(rec));
	set_field(rec, f, v);
	if (kx_slot_restore(&b, rec, sizeof(rec)) != KX_METER_EARG)
		fail_msg("field %d = %lld accepted", f, (long long)v);
	assert_memory_equal(&b, &before, sizeof(b));
}

static void
test_state_damaged(void **state)
{
	kx_slot_conf_t	 c;
	kx_slot_acc_t	 a, b;
	uint8_t		 rec[KX_SLOT_STATE_LEN], bad[KX_SLOT_STATE_LEN + 1];

	(void)state;
	kx_slot_conf_init(&c);
	c.slot_s = 2;
	assert_int_equal(kx_slot_init(&a, &c), KX_METER_OK);
	feed(&a, 1700000000000LL, 5, 4000);
	kx_slot_save(&a, rec);
	assert_int_equal(kx_slot_init(&b, &c), KX_METER_OK);

	/* length and magic */
	assert_int_equal(kx_slot_restore(&b, rec, sizeof(rec) - 1),
	    KX_METER_EARG);
	memcpy(bad, rec, sizeof(rec));
	bad[sizeof(rec)] = 0;
	assert_int_equal(kx_slot_restore(&b, bad, sizeof(bad)), KX_METER_EARG);
	bad[3] = '2';
	assert_int_equal(kx_slot_restore(&b, bad, sizeof(rec)), KX_METER_EARG);
	assert_int_equal(kx_slot_restore(&b, NULL, sizeof(rec)),
	    KX_METER_EARG);
	assert_int_equal(b.started, 0);

	refused(rec, F_SLOTS, 1800);		/* another slot length */
	refused(rec, F_STARTED, 2);
	refused(rec, F_LAST, a.cur.start_ms - 1);	/* before the slot */
	refused(rec, F_LAST, a.cur.start_ms + 2000);	/* after it */
	refused(rec, F_START, a.cur.start_ms + 1);	/* not aligned */
	refused(rec, F_START, -2000);
	refused(rec, F_LEN, 1000);
	refused(rec, F_WH0, -1);
	refused(rec, F_WH2, -5);
	refused(rec, F_COV, 2001);
	refused(rec, F_COV, -1);
	refused(rec, F_FLAGS, 0x40);
	refused(rec, F_FLAGS, -1);
	refused(rec, F_CH0, 3);			/* have */
	refused(rec, F_CH0 + 1, -7);		/* val */
	refused(rec, F_CH0 + 2, a.last_ts + 1);	/* baseline after last */
	refused(rec, F_CH0 + 3, 2);		/* have_cand */
	refused(rec, F_CH0 + 4, -1);		/* cand_val */
	/* not started, yet with a slot */
	{
		uint8_t	 r2[KX_SLOT_STATE_LEN];

		memcpy(r2, rec, sizeof(r2));
		set_field(r2, F_STARTED, 0);
		set_field(r2, F_CH0, 0);
		set_field(r2, F_CH0 + 6, 0);
		set_field(r2, F_CH0 + 12, 0);
		refused(r2, F_COV, 0);
	}
	/* the good record still restores */
	assert_int_equal(kx_slot_restore(&b, rec, sizeof(rec)), KX_METER_OK);
	assert_int_equal(b.started, 1);
}

/* ---- against kaga-meter-sim ------------------------------------------ */

static pid_t
sim_start(int port)
{
	char		 listen[64];
	pid_t		 pid;
	char *const	 argv[] = { "kaga-meter-sim", "--listen", listen,
	    "--profile", "sdm630", "--hour", "7", "--speed", "120", NULL };

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	if ((pid = tsim_start_argv(argv, port)) == -1)
		fail_msg("kaga-meter-sim did not start (%s)", tsim_path());
	return pid;
}

static void
sim_kill(pid_t pid)
{
	kill(pid, SIGCONT);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void
msleep(int ms)
{
	struct timespec	 ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits up to limit_ms for meter i to be online (want 1) or offline. */
static int
wait_online(kx_meterd_t *md, size_t i, int want, uint64_t min_readings,
    int limit_ms)
{
	kx_poll_stats_t	 st;
	int		 t;

	for (t = 0; t < limit_ms; t += 50) {
		assert_int_equal(kx_meterd_snapshot(md, i, &st, NULL, NULL,
		    NULL), 0);
		if ((st.online != 0) == (want != 0) &&
		    st.readings >= min_readings)
			return 1;
		msleep(50);
	}
	return 0;
}

static void
make_conf(kx_conf_t *c, const char *dir, const char *meters)
{
	char	 text[4096], err[512];

	snprintf(text, sizeof(text), "data-dir %s\nrole household\n"
	    "operator " OP "\n%s", dir, meters);
	memset(c, 0, sizeof(*c));
	if (kx_conf_parse(c, "t.conf", text, strlen(text), err,
	    sizeof(err)) != 0)
		fail_msg("config refused: %s", err);
}

struct sum {
	int64_t	 wh[KX_SLOT_NCH];
	int	 n;
};

static void
add_slot(void *arg, const kx_slot_total_t *t)
{
	struct sum	*s = arg;
	int		 i;

	for (i = 0; i < KX_SLOT_NCH; i++)
		s->wh[i] += t->wh[i];
	s->n++;
}

static void
test_live_and_dead(void **state)
{
	char		 dir[256], meters[512];
	kx_conf_t	 c;
	kx_meterd_t	*md;
	kx_poll_stats_t	 st;
	kx_reading_t	 r;
	kx_buf_t	 b;
	pid_t		 sim;
	int		 port = base_port;

	(void)state;
	tmp_into(dir, sizeof(dir));
	sim = sim_start(port);
	/* "dead" listens nowhere: connection refused at once, every pass */
	snprintf(meters, sizeof(meters),
	    "meter grid grid sdm630 tcp://127.0.0.1:%d period-ms=200 "
	    "timeout-ms=300\n"
	    "meter dead pv sdm120 tcp://127.0.0.1:%d period-ms=200 "
	    "timeout-ms=300 backoff-max-ms=1000\n", port, port + 1);
	make_conf(&c, dir, meters);
	md = kx_meterd_new(&c, NULL, 0);
	assert_non_null(md);
	assert_int_equal(kx_meterd_count(md), 2);
	assert_true(wait_online(md, 0, 1, 5, 10000));
	assert_int_equal(kx_meterd_snapshot(md, 1, &st, NULL, NULL, NULL), 0);
	assert_false(st.online);
	assert_true(st.errors >= 1);
	assert_int_equal(st.readings, 0);
	assert_true(st.last_error[0] != '\0');
	assert_int_equal(kx_meterd_snapshot(md, 0, &st, &r, NULL, NULL), 0);
	assert_true(r.flags & KX_RD_IMPORT);
	assert_true(r.flags & KX_RD_POWER);
	assert_int_equal(st.errors, 0);
	assert_int_equal(kx_meterd_snapshot(md, 2, NULL, NULL, NULL, NULL),
	    -1);

	kx_buf_init(&b);
	kx_meterd_status(md, &b);
	assert_int_equal(kx_buf_cstr(&b), 0);
	assert_non_null(strstr((char *)b.data, "{\"name\":\"grid\",\"use\":"
	    "\"grid\",\"profile\":\"sdm630\",\"address\":\"tcp://127.0.0.1:"));
	assert_non_null(strstr((char *)b.data, "\"name\":\"dead\",\"use\":"
	    "\"pv\""));
	assert_non_null(strstr((char *)b.data, "\"online\":true"));
	assert_non_null(strstr((char *)b.data, "\"online\":false"));
	assert_non_null(strstr((char *)b.data, "\"slot\":{\"start_ms\":"));
	assert_true(b.data[0] == '[' && b.data[b.len - 1] == ']');
	kx_buf_free(&b);

	kx_meterd_destroy(&md);
	assert_null(md);
	kx_meterd_destroy(&md);		/* harmless */
	kx_conf_free(&c);
	sim_kill(sim);
	rm_rf(dir);
}

static void
test_restart_keeps_energy(void **state)
{
	char		 dir[256], meters[512];
	kx_conf_t	 c;
	kx_meterd_t	*md;
	kx_reading_t	 l1, l2;
	kx_slot_total_t	 o1, o2;
	struct sum	 s;
	pid_t		 sim;
	int		 has, port = base_port + 2, i;
	int64_t		 ch1[KX_SLOT_NCH], ch2[KX_SLOT_NCH];

	(void)state;
	tmp_into(dir, sizeof(dir));
	sim = sim_start(port);
	snprintf(meters, sizeof(meters),
	    "meter grid grid sdm630 tcp://127.0.0.1:%d period-ms=100 "
	    "timeout-ms=200 retries=0 max-power-w=100000000\n", port);
	make_conf(&c, dir, meters);
	for (i = 0; i < (int)c.nmeters; i++)
		c.meters[i].poll.slot.slot_s = 1;	/* 1 s slots */

	md = kx_meterd_new(&c, NULL, 0);
	assert_non_null(md);
	assert_true(wait_online(md, 0, 1, 10, 10000));
	msleep(1500);			/* a few slots go to the store */
	assert_int_equal(kill(sim, SIGSTOP), 0);	/* counters freeze */
	assert_true(wait_online(md, 0, 0, 0, 5000));
	assert_int_equal(kx_meterd_snapshot(md, 0, NULL, &l1, &o1, &has), 0);
	assert_true(has);
	kx_meterd_destroy(&md);

	/* down for a while; the meter's counters run on */
	assert_int_equal(kill(sim, SIGCONT), 0);
	msleep(1200);
	md = kx_meterd_new(&c, NULL, 0);
	assert_non_null(md);
	assert_true(wait_online(md, 0, 1, 10, 10000));
	msleep(1200);
	assert_int_equal(kill(sim, SIGSTOP), 0);
	assert_true(wait_online(md, 0, 0, 0, 5000));
	assert_int_equal(kx_meterd_snapshot(md, 0, NULL, &l2, &o2, &has), 0);
	assert_true(has);
	assert_true(o2.start_ms > o1.start_ms);

	memset(&s, 0, sizeof(s));
	assert_int_equal(kx_meterd_history(md, "grid", o1.start_ms,
	    o2.start_ms, add_slot, &s), 0);
	assert_true(s.n >= 2);
	ch1[0] = l1.import_wh;
	ch1[1] = l1.export_wh;
	ch2[0] = l2.import_wh;
	ch2[1] = l2.export_wh;
	for (i = 0; i < 2; i++) {
		/* every Wh between the two readings, across the restart */
		assert_int_equal(s.wh[i] + o2.wh[i], o1.wh[i] +
		    (ch2[i] - ch1[i]));
	}
	assert_true(ch2[0] - ch1[0] + ch2[1] - ch1[1] > 0);

	/* the slot sum API agrees with the history for a stored slot */
	{
		kx_slot_total_t	 sum;
		size_t		 nm, nf;

		assert_int_equal(kx_meterd_slot(md, o1.start_ms, KX_USE_GRID,
		    &sum, &nm, &nf), 0);
		assert_int_equal(nm, 1);
		assert_int_equal(nf, 1);
		assert_true(sum.wh[0] >= o1.wh[0]);
		assert_true(sum.wh[1] >= o1.wh[1]);
		assert_int_equal(kx_meterd_slot(md, o1.start_ms, KX_USE_PV,
		    &sum, &nm, &nf), 0);
		assert_int_equal(nm, 0);
		assert_int_equal(nf, 0);
		assert_int_equal(kx_meterd_slot(md, 1000, KX_USE_GRID,
		    &sum, &nm, &nf), 0);
		assert_int_equal(nf, 0);
	}
	assert_int_equal(kx_meterd_history(md, "nosuch", 0, INT64_MAX,
	    add_slot, &s), -1);

	kx_meterd_destroy(&md);
	kx_conf_free(&c);
	sim_kill(sim);
	rm_rf(dir);
}

static void
test_conf_errors(void **state)
{
	char		 dir[256], err[512];
	kx_conf_t	 c;
	kx_meterd_t	*md;

	(void)state;
	tmp_into(dir, sizeof(dir));
	make_conf(&c, dir,
	    "meter a grid sdm630 rtu:/dev/null unit=1 baud=9600\n"
	    "meter b pv sdm120 rtu:/dev/null unit=2 baud=19200\n");
	md = kx_meterd_new(&c, err, sizeof(err));
	assert_null(md);
	assert_non_null(strstr(err, "t.conf:5: meter b: "));
	assert_non_null(strstr(err, "19200"));
	kx_conf_free(&c);

	/* no meters: nothing opened, status an empty array */
	make_conf(&c, dir, "");
	md = kx_meterd_new(&c, err, sizeof(err));
	assert_non_null(md);
	assert_int_equal(kx_meterd_count(md), 0);
	{
		kx_buf_t	 b;

		kx_buf_init(&b);
		kx_meterd_status(md, &b);
		assert_int_equal(b.len, 2);
		assert_memory_equal(b.data, "[]", 2);
		kx_buf_free(&b);
	}
	kx_meterd_destroy(&md);
	kx_conf_free(&c);
	rm_rf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_roundtrip),
		cmocka_unit_test(test_state_damaged),
		cmocka_unit_test(test_reslot),
		cmocka_unit_test(test_live_and_dead),
		cmocka_unit_test(test_restart_keeps_energy),
		cmocka_unit_test(test_conf_errors),
	};

	signal(SIGPIPE, SIG_IGN);
	base_port = 14000 + (int)(getpid() % 1000) * 4;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
