/*
 * test_mktd.c - the market duties (node/mktd.c) on real LMDB stores,
 * without sockets, with the clock in the test's hands.
 *
 * Two stores: A is the operator's, B a member's. What a duty publishes is
 * appended to its own store and imported into the other, as gossip would.
 * - the member lacks an order when the operator's clear arrives: it asks
 *   for a sync (want_sync) and, once the order is there, agrees;
 * - the order never arrives: a dispute after the verify window, not
 *   before;
 * - the same orders with another price: a dispute at once;
 * - a settle whose member line is wrong: a dispute; the right one: agreed,
 *   and posted to the ledger;
 * - a restart (close and reopen on the same folder) repeats nothing;
 * - an order reaching the operator after the gate but before it settles:
 *   the settle and both ledgers follow the published clear;
 * - a member away longer than the tick's window posts what it missed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "market.h"
#include "mktd.h"
#include "store.h"
#include "testutil.h"

#define SLOT_S	10
#define GATE_S	2

typedef struct {
	char		*root;
	kx_store_t	*a, *b;		/* operator, member */
	tkey_t		 op, m1, m2;	/* operator; seller m1; buyer m2 */
	uint8_t		 op_csk[32], op_cpk[32], m1_csk[32], m1_cpk[32];
	kx_mktd_t	*ma, *mb;
	int		 syncs;
	kx_buf_t	 held;		/* an order B gets on its first sync */
	bool		 deliver;	/* want_sync delivers `held` */
	uint64_t	 slot;
	int64_t		 now;
	uint64_t	 seq[3];	/* next seq of op, m1, m2 */
	uint8_t		 prev[3][KX_ID_LEN];
} fx_t;

static int64_t
wall_ms(void)
{
	return (int64_t)time(NULL) * 1000;
}

static void
import(kx_store_t *st, const kx_buf_t *w)
{
	kx_result_t	 r;

	assert_int_equal(kx_store_import(st, w->data, w->len, wall_ms(), &r,
	    NULL, NULL), KX_OK);
	if (r.outcome != KX_ACCEPTED)
		fail_msg("import: %s %s", kx_outcome_name(r.outcome),
		    r.why.text);
}

/* Signs a message of key i (0 op, 1 m1, 2 m2) and imports it. */
static void
sign_to(fx_t *f, int i, const char *type, const char *json, bool into_a,
    bool into_b, kx_buf_t *keep)
{
	const tkey_t	*k = i == 0 ? &f->op : i == 1 ? &f->m1 : &f->m2;
	kx_buf_t	 w;

	kx_buf_init(&w);
	tmsg(&w, k, f->seq[i], f->seq[i] > 1 ? f->prev[i] : NULL, wall_ms(),
	    type, json);
	tid(f->prev[i], &w);
	f->seq[i]++;
	if (into_a)
		import(f->a, &w);
	if (into_b)
		import(f->b, &w);
	if (keep != NULL) {
		kx_buf_reset(keep);
		assert_int_equal(kx_buf_append(keep, w.data, w.len), 0);
	}
	kx_buf_free(&w);
}

/* Publication by a duty: into its own store (append_own), then the other. */
static int
pub(fx_t *f, kx_store_t *own, kx_store_t *other, const uint8_t *sk, int i,
    const char *type, const uint8_t *body, size_t len, char *err,
    size_t errlen)
{
	kx_buf_t	 w;
	kx_why_t	 why;
	kx_result_t	 r;

	kx_buf_init(&w);
	if (kx_store_append_own(own, sk, type, body, len, wall_ms(), &w,
	    &why) != KX_OK) {
		snprintf(err, errlen, "%s", why.text);
		kx_buf_free(&w);
		return -1;
	}
	tid(f->prev[i], &w);
	f->seq[i]++;
	assert_int_equal(kx_store_import(other, w.data, w.len, wall_ms(), &r,
	    NULL, NULL), KX_OK);
	assert_int_equal(r.outcome, KX_ACCEPTED);
	kx_buf_free(&w);
	return 0;
}

static int
pub_a(void *ctx, const char *type, const uint8_t *body, size_t len,
    char *err, size_t errlen)
{
	fx_t	*f = ctx;

	return pub(f, f->a, f->b, f->op.sk, 0, type, body, len, err, errlen);
}

static int
pub_b(void *ctx, const char *type, const uint8_t *body, size_t len,
    char *err, size_t errlen)
{
	fx_t	*f = ctx;

	return pub(f, f->b, f->a, f->m1.sk, 1, type, body, len, err, errlen);
}

static void
sync_b(void *ctx)
{
	fx_t	*f = ctx;

	f->syncs++;
	if (f->deliver && f->held.len > 0) {
		import(f->b, &f->held);
		kx_buf_reset(&f->held);
	}
}

static void
open_duties(fx_t *f)
{
	kx_mktd_conf_t	 c;
	char		 err[256], dir[300];

	memset(&c, 0, sizeof(c));
	snprintf(dir, sizeof(dir), "%s/a", f->root);
	c.dir = dir;
	c.st = f->a;
	c.sk = f->op.sk;
	c.pk = f->op.pk;
	c.csk = f->op_csk;
	c.cpk = f->op_cpk;
	c.op = f->op.pk;
	c.is_operator = true;
	c.settle_delay_ms = 1000;
	c.verify_wait_ms = 5000;
	c.start_ms = wall_ms() - 1000;
	c.publish = pub_a;
	c.ctx = f;
	f->ma = kx_mktd_open(&c, err, sizeof(err));
	assert_non_null(f->ma);
	snprintf(dir, sizeof(dir), "%s/b", f->root);
	c.st = f->b;
	c.sk = f->m1.sk;
	c.pk = f->m1.pk;
	c.csk = f->m1_csk;
	c.cpk = f->m1_cpk;
	c.is_operator = false;
	c.publish = pub_b;
	c.want_sync = sync_b;
	f->mb = kx_mktd_open(&c, err, sizeof(err));
	assert_non_null(f->mb);
}

static int
setup(void **state)
{
	fx_t		*f = calloc(1, sizeof(*f));
	kx_why_t	 why;
	char		 dir[300], body[512];
	int		 i;

	assert_non_null(f);
	f->root = tmpdir_new();
	tkey_new(&f->op);
	tkey_new(&f->m1);
	tkey_new(&f->m2);
	crypto_sign_ed25519_sk_to_curve25519(f->op_csk, f->op.sk);
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(f->op_cpk, f->op.pk), 0);
	crypto_sign_ed25519_sk_to_curve25519(f->m1_csk, f->m1.sk);
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(f->m1_cpk, f->m1.pk), 0);
	for (i = 0; i < 3; i++)
		f->seq[i] = 1;
	kx_buf_init(&f->held);
	snprintf(dir, sizeof(dir), "%s/a", f->root);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/a/store", f->root);
	assert_non_null(f->a = kx_store_open(dir, 0, &why));
	snprintf(dir, sizeof(dir), "%s/b", f->root);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/b/store", f->root);
	assert_non_null(f->b = kx_store_open(dir, 0, &why));
	assert_int_equal(kx_store_add_operator(f->a, f->op.pk), KX_OK);
	assert_int_equal(kx_store_add_operator(f->b, f->op.pk), KX_OK);
	for (i = 1; i <= 2; i++) {
		snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":"
		    "\"household\",\"until\":0}", i == 1 ? f->m1.hex :
		    f->m2.hex);
		sign_to(f, 0, "member", body, true, true, NULL);
	}
	snprintf(body, sizeof(body), "{\"from\":0,\"slot_s\":%d,\"gate_s\":%d,"
	    "\"floor\":800,\"ceiling\":3100,\"fee\":500,\"time_limit\":600,"
	    "\"pt_value\":100000}", SLOT_S, GATE_S);
	sign_to(f, 0, "market", body, true, true, NULL);
	/* a slot whose gate is ahead, so that orders are still valid */
	f->slot = ((uint64_t)wall_ms() / 1000 / SLOT_S + 2) * SLOT_S;
	open_duties(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx_t	*f = *state;

	kx_mktd_close(&f->ma);
	kx_mktd_close(&f->mb);
	kx_store_close(&f->a);
	kx_store_close(&f->b);
	kx_buf_free(&f->held);
	rm_rf(f->root);
	free(f->root);
	free(f);
	return 0;
}

static void
orders(fx_t *f, uint64_t slot, bool buyer_to_b)
{
	char	 o[256];

	snprintf(o, sizeof(o), "{\"slot\":%" PRIu64 ",\"side\":\"sell\","
	    "\"steps\":[[500,1000]]}", slot);
	sign_to(f, 1, "order", o, true, true, NULL);
	snprintf(o, sizeof(o), "{\"slot\":%" PRIu64 ",\"side\":\"buy\","
	    "\"steps\":[[300,2500]]}", slot);
	sign_to(f, 2, "order", o, true, buyer_to_b, &f->held);
}

static long long
stat_of(kx_mktd_t *m, const char *key)
{
	kx_buf_t	 b;
	char		 pat[64];
	const char	*h;
	long long	 v = -1;

	kx_buf_init(&b);
	kx_mktd_status(m, &b);
	assert_int_equal(kx_buf_cstr(&b), 0);
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((h = strstr((char *)b.data, pat)) != NULL)
		v = strtoll(h + strlen(pat), NULL, 10);
	kx_buf_free(&b);
	return v;
}

static bool
status_has(kx_mktd_t *m, const char *text)
{
	kx_buf_t	 b;
	bool		 r;

	kx_buf_init(&b);
	kx_mktd_status(m, &b);
	assert_int_equal(kx_buf_cstr(&b), 0);
	r = strstr((char *)b.data, text) != NULL;
	kx_buf_free(&b);
	return r;
}

/* Ticks both at t (ms) and t + 300 (ticks are at most every 250 ms). */
static void
tick(fx_t *f, int64_t t)
{
	kx_mktd_tick(f->ma, t);
	kx_mktd_tick(f->mb, t);
}

static void
test_missing_order_fetched(void **state)
{
	fx_t	*f = *state;
	int64_t	 gate = ((int64_t)f->slot - GATE_S) * 1000;

	orders(f, f->slot, false);		/* B lacks the buy order */
	f->deliver = true;
	tick(f, gate - 1000);			/* before the gate: nothing */
	assert_int_equal(stat_of(f->ma, "cleared"), 0);
	tick(f, gate + 1);
	assert_int_equal(stat_of(f->ma, "cleared"), 1);
	/* B saw another set, asked for a sync, got the order */
	assert_int_equal(f->syncs, 1);
	assert_int_equal(stat_of(f->mb, "clears_agreed"), 0);
	tick(f, gate + 400);
	assert_int_equal(stat_of(f->mb, "clears_agreed"), 1);
	assert_int_equal(stat_of(f->mb, "disputes_total"), 0);
	assert_int_equal(f->syncs, 1);

	/* the operator settles after the delay; B checks its line */
	tick(f, (int64_t)(f->slot + SLOT_S) * 1000 + 1500);
	assert_int_equal(stat_of(f->ma, "settled"), 1);
	tick(f, (int64_t)(f->slot + SLOT_S) * 1000 + 1900);
	assert_int_equal(stat_of(f->mb, "settles_agreed"), 1);
	assert_int_equal(stat_of(f->mb, "disputes_total"), 0);
	{
		kx_buf_t	 l;
		char		 pat[200];

		kx_buf_init(&l);
		assert_int_equal(kx_mktd_ledger(f->mb, NULL, &l), 0);
		assert_int_equal(kx_buf_cstr(&l), 0);
		/* m1 sold 300 Wh at 1000, no reading: shortfall at 3100 */
		snprintf(pat, sizeof(pat), "\"%s\":%lld", f->m1.hex,
		    300LL * 1000 - 300LL * 3100);
		assert_non_null(strstr((char *)l.data, pat));
		/* m2 bought 300 at 1500, no reading: I = Ab, no refund */
		snprintf(pat, sizeof(pat), "\"%s\":%lld", f->m2.hex,
		    -300LL * 1500);
		assert_non_null(strstr((char *)l.data, pat));
		kx_buf_free(&l);
	}

	/* a restart repeats nothing */
	kx_mktd_close(&f->ma);
	kx_mktd_close(&f->mb);
	open_duties(f);
	tick(f, (int64_t)(f->slot + SLOT_S) * 1000 + 2500);
	assert_int_equal(stat_of(f->ma, "cleared"), 1);
	assert_int_equal(stat_of(f->ma, "settled"), 1);
	assert_int_equal(stat_of(f->mb, "clears_agreed"), 1);
	assert_int_equal(stat_of(f->mb, "settles_agreed"), 1);
	/* the operator published 2 members, market, clear, settle: 5 */
	assert_int_equal(f->seq[0], 6);
}

static void
test_missing_order_dispute(void **state)
{
	fx_t	*f = *state;
	int64_t	 gate = ((int64_t)f->slot - GATE_S) * 1000;

	orders(f, f->slot, false);
	f->deliver = false;			/* it never comes */
	tick(f, gate + 1);
	tick(f, gate + 4000);			/* inside the window */
	assert_true(f->syncs >= 2);
	assert_int_equal(stat_of(f->mb, "disputes_total"), 0);
	tick(f, gate + 5200);			/* after it */
	assert_int_equal(stat_of(f->mb, "disputes_total"), 1);
	assert_true(status_has(f->mb, "order set differs"));
	assert_int_equal(stat_of(f->mb, "clears_agreed"), 0);
	assert_int_equal(stat_of(f->ma, "disputes_total"), 0);
}

struct ids {
	uint8_t	 id[4][KX_ID_LEN];
	int	 n;
};

static int
collect_id(void *arg, const kx_stored_t *st)
{
	struct ids	*ids = arg;
	kx_msg_t	 m;

	if (ids->n < 4 && kx_msg_decode(&m, st->wire, st->len, NULL) == KX_OK)
		memcpy(ids->id[ids->n++], m.id, KX_ID_LEN);
	return 0;
}

static void
test_other_result_dispute(void **state)
{
	fx_t				*f = *state;
	struct ids			 ids;
	crypto_generichash_state	 h;
	uint8_t				 set[32];
	char				 body[512], sethex[65];
	int64_t				 gate = ((int64_t)f->slot - GATE_S) *
					    1000;
	int				 i;

	orders(f, f->slot, true);
	memset(&ids, 0, sizeof(ids));
	assert_int_equal(kx_store_orders(f->b, f->slot, collect_id, &ids),
	    KX_OK);
	assert_int_equal(ids.n, 2);		/* in id order */
	assert_true(memcmp(ids.id[0], ids.id[1], KX_ID_LEN) < 0);
	crypto_generichash_init(&h, NULL, 0, 32);
	for (i = 0; i < ids.n; i++)
		crypto_generichash_update(&h, ids.id[i], KX_ID_LEN);
	crypto_generichash_final(&h, set, 32);
	kx_hex(sethex, set, 32);
	/* the right set, another result (the honest one: 300 Wh at 1000) */
	snprintf(body, sizeof(body), "{\"slot\":%" PRIu64 ",\"set\":\"%s\","
	    "\"price\":null,\"volume\":0,\"fills\":[]}", f->slot,
	    sethex);
	sign_to(f, 0, "clear", body, false, true, NULL);
	kx_mktd_tick(f->mb, gate + 1);		/* only the member */
	assert_int_equal(stat_of(f->mb, "disputes_total"), 1);
	assert_true(status_has(f->mb, "same orders, other result"));
	assert_int_equal(f->syncs, 0);		/* no fetching for that */

	/* a settle giving m1 a line it cannot have (no fill): a dispute */
	snprintf(body, sizeof(body), "{\"slot\":%" PRIu64 ",\"lines\":"
	    "[[\"%s\",12345],[\"%s\",-12345]]}", f->slot, f->m1.hex,
	    f->op.hex);
	sign_to(f, 0, "settle", body, false, true, NULL);
	kx_mktd_tick(f->mb, gate + 400);
	assert_int_equal(stat_of(f->mb, "disputes_total"), 2);
	assert_true(status_has(f->mb, "our settle line"));
	assert_int_equal(stat_of(f->mb, "settles_agreed"), 0);
}

/*
 * An order that reaches the operator after the gate (its author was cut
 * off) but before it settles: the settle must follow the published clear,
 * not the operator's book at settle time; the member that held the late
 * order all along disputes the clear (another set) but agrees with the
 * settle, and both post the same ledger.
 */
static void
test_late_order_settles_by_clear(void **state)
{
	fx_t		*f = *state;
	kx_buf_t	 late, la, lb;
	char		 o[256], pat[200];
	int64_t		 gate = ((int64_t)f->slot - GATE_S) * 1000;
	int64_t		 end = (int64_t)(f->slot + SLOT_S) * 1000;

	kx_buf_init(&late);
	kx_buf_init(&la);
	kx_buf_init(&lb);
	orders(f, f->slot, true);	/* m1 sells 500, m2 buys 300: both */
	snprintf(o, sizeof(o), "{\"slot\":%" PRIu64 ",\"side\":\"buy\","
	    "\"steps\":[[200,3000]]}", f->slot);
	sign_to(f, 2, "order", o, false, true, &late);	/* B only */
	f->deliver = false;
	tick(f, gate + 1);
	assert_int_equal(stat_of(f->ma, "cleared"), 1);
	/* the late order reaches the operator after its gate */
	import(f->a, &late);
	tick(f, gate + 5200);		/* B: another set, a dispute */
	assert_int_equal(stat_of(f->mb, "disputes_total"), 1);
	assert_true(status_has(f->mb, "order set differs"));
	tick(f, end + 1500);		/* the operator settles */
	assert_int_equal(stat_of(f->ma, "settled"), 1);
	tick(f, end + 1900);		/* B checks its line */
	assert_int_equal(stat_of(f->mb, "settles_agreed"), 1);
	assert_int_equal(stat_of(f->mb, "disputes_total"), 1);
	assert_int_equal(kx_mktd_ledger(f->ma, NULL, &la), 0);
	assert_int_equal(kx_mktd_ledger(f->mb, NULL, &lb), 0);
	assert_int_equal(kx_buf_cstr(&la), 0);
	assert_int_equal(kx_buf_cstr(&lb), 0);
	assert_string_equal((char *)la.data, (char *)lb.data);
	/* the published clear: 300 Wh at 1000, not 500 Wh with the late buy */
	snprintf(pat, sizeof(pat), "\"%s\":%lld", f->m1.hex,
	    300LL * 1000 - 300LL * 3100);
	assert_non_null(strstr((char *)la.data, pat));
	snprintf(pat, sizeof(pat), "\"%s\":%lld", f->m2.hex, -300LL * 1500);
	assert_non_null(strstr((char *)la.data, pat));
	kx_buf_free(&late);
	kx_buf_free(&la);
	kx_buf_free(&lb);
}

/*
 * A member away for longer than the tick's window (8 slots) checks and
 * posts the slots it missed when it comes back, oldest first.
 */
static void
test_backlog_after_long_absence(void **state)
{
	fx_t		*f = *state;
	kx_buf_t	 la, lb;
	int64_t		 gate = ((int64_t)f->slot - GATE_S) * 1000;
	int64_t		 end = (int64_t)(f->slot + SLOT_S) * 1000;

	kx_buf_init(&la);
	kx_buf_init(&lb);
	orders(f, f->slot, true);
	kx_mktd_tick(f->ma, gate + 1);			/* clear */
	kx_mktd_tick(f->ma, end + 1500);		/* settle */
	assert_int_equal(stat_of(f->ma, "settled"), 1);
	assert_int_equal(stat_of(f->mb, "settles_agreed"), 0);
	/* B's first tick: 12 slots later, outside the window */
	kx_mktd_tick(f->mb, end + 12 * SLOT_S * 1000);
	assert_int_equal(stat_of(f->mb, "clears_agreed"), 1);
	assert_int_equal(stat_of(f->mb, "settles_agreed"), 1);
	assert_int_equal(stat_of(f->mb, "disputes_total"), 0);
	assert_int_equal(kx_mktd_ledger(f->ma, NULL, &la), 0);
	assert_int_equal(kx_mktd_ledger(f->mb, NULL, &lb), 0);
	assert_int_equal(kx_buf_cstr(&la), 0);
	assert_int_equal(kx_buf_cstr(&lb), 0);
	assert_string_equal((char *)la.data, (char *)lb.data);
	assert_non_null(strstr((char *)lb.data, f->m1.hex));
	kx_buf_free(&la);
	kx_buf_free(&lb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_order_fetched,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_late_order_settles_by_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_backlog_after_long_absence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_order_dispute,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_result_dispute,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
