/*
 * test_market_node.c - the market in running nodes (node/mktd.c): three
 * kaga-node processes on 127.0.0.1 (an operator, a seller and a buyer,
 * each member with a kaga-meter-sim SDM630 over Modbus TCP), 10-second
 * slots set by an operator `market` message.
 *
 * One slot end to end: both members publish orders before the gate; the
 * operator clears at the gate and publishes `clear`; both members
 * recompute it and agree; after the slot each sends its sealed reading
 * from its meter's slot totals; the operator opens them and publishes
 * `settle`; both members check their own line and agree; every node
 * posts the same double-entry ledger, whose balances sum to zero.
 * Then a dispute: a `clear` whose order set no node can reproduce is
 * recorded as a dispute by both members after the verify window.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "netutil.h"
#include "simutil.h"
#include "store.h"

#define NOW_MS()	((int64_t)time(NULL) * 1000)
#define SLOT_S		10
#define GATE_S		2

typedef struct {
	char	*root;
	tnode_t	 nodes[3];
	pid_t	 sims[3];
} net_t;

static pid_t
sim_start(int port, const char *hour)
{
	char		 listen[64];
	pid_t		 pid;
	char *const	 argv[] = { "kaga-meter-sim", "--listen", listen,
	    "--profile", "sdm630", "--hour", (char *)(uintptr_t)hour,
	    "--speed", "60", NULL };

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	if ((pid = tsim_start_argv(argv, port)) == -1)
		fail_msg("kaga-meter-sim did not start (%s)", tsim_path());
	return pid;
}

static int
setup(void **state)
{
	net_t	*net = calloc(1, sizeof(*net));

	assert_non_null(net);
	net->root = tmpdir_new();
	*state = net;
	return 0;
}

static int
teardown(void **state)
{
	net_t	*net = *state;
	size_t	 i;

	for (i = 0; i < 3; i++) {
		tnode_stop(&net->nodes[i], SIGKILL);
		if (net->sims[i] > 0) {
			kill(net->sims[i], SIGTERM);
			waitpid(net->sims[i], NULL, 0);
		}
	}
	rm_rf(net->root);
	free(net->root);
	free(net);
	return 0;
}

/*
 * The operator's member messages for nodes 1 and 2 and a market message
 * with 10 s slots, imported into every store before the nodes start.
 */
static void
seed(net_t *net)
{
	tnode_t		*op = &net->nodes[0];
	kx_store_t	*st;
	kx_result_t	 r;
	kx_why_t	 why;
	kx_buf_t	 msgs[3];
	tkey_t		 k;
	uint8_t		 prev[KX_ID_LEN];
	char		 path[400], body[512];
	size_t		 i, j;

	snprintf(path, sizeof(path), "%s/node.key", op->dir);
	assert_int_equal(kx_key_load(path, k.sk, &why), 0);
	for (i = 0; i < 3; i++) {
		kx_buf_init(&msgs[i]);
		if (i < 2) {
			tnode_t	*t = &net->nodes[i + 1];

			snprintf(body, sizeof(body), "{\"node\":\"%s\","
			    "\"role\":\"household\",\"endpoint\":"
			    "\"tcp://127.0.0.1:%d\",\"until\":0}", t->hex,
			    t->port);
			tmsg(&msgs[i], &k, i + 1, i ? prev : NULL,
			    NOW_MS() - 60000 + (int64_t)i, "member", body);
		} else {
			snprintf(body, sizeof(body), "{\"from\":0,\"slot_s\":%d,"
			    "\"gate_s\":%d,\"floor\":800,\"ceiling\":3100,"
			    "\"fee\":500,\"time_limit\":600,\"pt_value\":"
			    "100000}", SLOT_S, GATE_S);
			tmsg(&msgs[i], &k, i + 1, prev, NOW_MS() - 60000 + 2,
			    "market", body);
		}
		tid(prev, &msgs[i]);
	}
	for (j = 0; j < 3; j++) {
		snprintf(path, sizeof(path), "%s/store", net->nodes[j].dir);
		assert_non_null(st = kx_store_open(path, 0, &why));
		assert_int_equal(kx_store_add_operator(st, op->pk), KX_OK);
		for (i = 0; i < 3; i++) {
			assert_int_equal(kx_store_import(st, msgs[i].data,
			    msgs[i].len, NOW_MS(), &r, NULL, NULL), KX_OK);
			assert_int_equal(r.outcome, KX_ACCEPTED);
		}
		kx_store_close(&st);
	}
	for (i = 0; i < 3; i++)
		kx_buf_free(&msgs[i]);
	sodium_memzero(k.sk, sizeof(k.sk));
}

/* A number from one part ("market", "autobid") of the node's status. */
static long long
part_stat(const tnode_t *t, const char *part, const char *key)
{
	kx_buf_t	 r;
	char		 pat[64], ppat[64];
	const char	*h, *mk;
	long long	 v = -1;

	kx_buf_init(&r);
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	snprintf(ppat, sizeof(ppat), "\"%s\":", part);
	if (tctl(t, &r, 1, "status", (size_t)6) == 0 &&
	    kx_buf_cstr(&r) == 0 &&
	    (mk = strstr((char *)r.data, ppat)) != NULL &&
	    (h = strstr(mk, pat)) != NULL)
		v = strtoll(h + strlen(pat), NULL, 10);
	kx_buf_free(&r);
	return v;
}

#define mstat(t, key)	part_stat((t), "market", (key))
#define astat(t, key)	part_stat((t), "autobid", (key))

static int
wait_mstat(const tnode_t *t, const char *key, long long want, int ms)
{
	int64_t	 end = tnow_ms() + ms;

	while (tnow_ms() < end) {
		if (mstat(t, key) >= want)
			return 0;
		usleep(100000);
	}
	return -1;
}

/* The node's ledger JSON (NUL-terminated in r). */
static void
ledger(const tnode_t *t, kx_buf_t *r)
{
	kx_buf_reset(r);
	assert_int_equal(tctl(t, r, 1, "ledger", (size_t)6), 0);
	assert_int_equal(kx_buf_cstr(r), 0);
}

/* Sum of the "balances" numbers; *n their count. */
static long long
balance_sum(const char *j, int *n, const char *who, long long *whose)
{
	const char	*p = strstr(j, "\"balances\":{");
	long long	 sum = 0;
	char		 pat[80];

	*n = 0;
	assert_non_null(p);
	snprintf(pat, sizeof(pat), "\"%s\":", who);
	if (strstr(p, pat) != NULL)
		*whose = strtoll(strstr(p, pat) + strlen(pat), NULL, 10);
	for (p = strchr(p, '{'); (p = strchr(p, ':')) != NULL; p++) {
		sum += strtoll(p + 1, NULL, 10);
		(*n)++;
	}
	return sum;
}

/*
 * Starts the operator and two households with their meters (the seller's
 * house at noon exports, the buyer's at 20h); strategy is the members'
 * strategy line. The operator settles 3 s after a slot.
 */
static void
start_market(net_t *net, const char *strategy)
{
	const tnode_t	*boot[1];
	int		 i;

	for (i = 0; i < 3; i++)
		tnode_init(&net->nodes[i], net->root, i, i ? "household" :
		    "operator");
	boot[0] = &net->nodes[0];
	for (i = 1; i < 3; i++) {
		int	 port = net->nodes[i].port + 50;

		net->sims[i] = sim_start(port, i == 1 ? "12" : "20");
		snprintf(net->nodes[i].extra, sizeof(net->nodes[i].extra),
		    "meter grid grid sdm630 tcp://127.0.0.1:%d period-ms=200 "
		    "timeout-ms=300 retries=0 max-power-w=100000000\n%s\n",
		    port, strategy);
	}
	snprintf(net->nodes[0].extra, sizeof(net->nodes[0].extra),
	    "settle-delay 3\n");
	for (i = 0; i < 3; i++)
		tnode_conf(&net->nodes[i], &net->nodes[0], boot, i ? 1 : 0,
		    200);
	seed(net);
	for (i = 0; i < 3; i++)
		tnode_start(&net->nodes[i]);
	for (i = 0; i < 3; i++)
		assert_int_equal(tnode_wait_up(&net->nodes[i], 10000), 0);
}

static void
test_slot_end_to_end(void **state)
{
	net_t		*net = *state;
	char		 order[256];
	kx_buf_t	 l0, l1, l2;
	uint64_t	 slot;
	int64_t		 now;
	int		 i, nb;
	long long	 sum, seller = 0, buyer = 0;

	start_market(net, "strategy auto=off");

	/* a slot whose gate is at least 3 s away */
	now = NOW_MS() / 1000;
	slot = ((uint64_t)now / SLOT_S + 1) * SLOT_S;
	if ((int64_t)slot - GATE_S - now < 3)
		slot += SLOT_S;
	snprintf(order, sizeof(order), "{\"slot\":%llu,\"side\":\"sell\","
	    "\"steps\":[[500,1000]]}", (unsigned long long)slot);
	assert_int_equal(tpublish(&net->nodes[1], "order", order), 0);
	snprintf(order, sizeof(order), "{\"slot\":%llu,\"side\":\"buy\","
	    "\"steps\":[[300,2500]]}", (unsigned long long)slot);
	assert_int_equal(tpublish(&net->nodes[2], "order", order), 0);

	/* clear at the gate, agreed by both members */
	assert_int_equal(wait_mstat(&net->nodes[0], "cleared", 1, 20000), 0);
	for (i = 1; i < 3; i++)
		assert_int_equal(wait_mstat(&net->nodes[i], "clears_agreed",
		    1, 10000), 0);
	/* readings after the slot, then the settle, checked by both */
	for (i = 1; i < 3; i++)
		assert_int_equal(wait_mstat(&net->nodes[i], "readings_sent", 1,
		    25000), 0);
	/* each reading is in its sender's disclosure chain (node/privacy.c) */
	for (i = 1; i < 3; i++) {
		kx_buf_t	 d;

		kx_buf_init(&d);
		assert_int_equal(tctl(&net->nodes[i], &d, 2, "disclosures",
		    (size_t)11, "verify", (size_t)6), 0);
		assert_int_equal(kx_buf_cstr(&d), 0);
		assert_non_null(strstr((char *)d.data, "\"category\":"
		    "\"slot-totals\",\"purpose\":\"settlement\",\"recipient\":"
		    "\"operator\",\"consent\":\"settlement-exempt\""));
		assert_non_null(strstr((char *)d.data, "\"verified\":true"));
		kx_buf_free(&d);
	}
	assert_int_equal(wait_mstat(&net->nodes[0], "settled", 1, 20000), 0);
	for (i = 1; i < 3; i++) {
		assert_int_equal(wait_mstat(&net->nodes[i], "settles_agreed",
		    1, 10000), 0);
		assert_int_equal(mstat(&net->nodes[i], "disputes_total"), 0);
	}
	assert_int_equal(mstat(&net->nodes[0], "disputes_total"), 0);

	/* one ledger everywhere; balances sum to zero */
	kx_buf_init(&l0);
	kx_buf_init(&l1);
	kx_buf_init(&l2);
	for (i = 0; i < 50; i++) {	/* the operator posts on receipt */
		ledger(&net->nodes[0], &l0);
		ledger(&net->nodes[1], &l1);
		ledger(&net->nodes[2], &l2);
		if (strcmp((char *)l0.data, (char *)l1.data) == 0 &&
		    strcmp((char *)l0.data, (char *)l2.data) == 0)
			break;
		usleep(100000);
	}
	assert_string_equal((char *)l0.data, (char *)l1.data);
	assert_string_equal((char *)l0.data, (char *)l2.data);
	assert_non_null(strstr((char *)l0.data, "\"kind\":\"trade\""));
	assert_non_null(strstr((char *)l0.data, "\"kind\":\"fee\""));
	sum = balance_sum((char *)l0.data, &nb, net->nodes[1].hex, &seller);
	assert_int_equal(sum, 0);
	assert_true(nb >= 4);		/* 2 members, operator, grid */
	(void)balance_sum((char *)l0.data, &nb, net->nodes[2].hex, &buyer);
	/* the buyer paid 300 Wh x (P + fee) = 300 x 1500 at most */
	assert_true(buyer <= -300LL * 1000 && buyer >= -300LL * 1500);
	/* the seller got at most 300 Wh x P */
	assert_true(seller <= 300LL * 1000);
	/* the fee went to the grid: 300 Wh x 500 */
	assert_non_null(strstr((char *)l0.data, "\"from\":\"operator\","
	    "\"to\":\"grid\",\"amount\":150000,\"kind\":\"fee\""));
	/* an account filter shows only that account */
	kx_buf_reset(&l1);
	assert_int_equal(tctl(&net->nodes[1], &l1, 2, "ledger", (size_t)6,
	    "grid", (size_t)4), 0);
	assert_int_equal(kx_buf_cstr(&l1), 0);
	assert_null(strstr((char *)l1.data, "\"kind\":\"trade\""));
	assert_non_null(strstr((char *)l1.data, "\"balances\":{\"grid\":"));

	/* the bills of the slot: fills, and the formula of node/bill.c */
	for (i = 1; i < 3; i++) {
		kx_buf_t	 r;
		uint8_t		 fb[8], tb[8];
		uint64_t	 f = slot, t = slot + SLOT_S;
		long long	 imp, exp, bought, sold, bill, grid, line;
		int		 k;

		for (k = 7; k >= 0; k--, f >>= 8, t >>= 8) {
			fb[k] = (uint8_t)f;
			tb[k] = (uint8_t)t;
		}
		kx_buf_init(&r);
		assert_int_equal(tctl(&net->nodes[i], &r, 3, "bill",
		    (size_t)4, fb, (size_t)8, tb, (size_t)8), 0);
		assert_int_equal(kx_buf_cstr(&r), 0);
		assert_int_equal(sscanf((char *)r.data, "{\"slots\":1,"
		    "\"settled_slots\":1,\"import_wh\":%lld,\"export_wh\":%lld,"
		    "\"bought_local_wh\":%lld,\"sold_local_wh\":%lld,"
		    "\"bill_millisen\":%lld,\"grid_only_millisen\":%lld}",
		    &imp, &exp, &bought, &sold, &bill, &grid), 6);
		assert_int_equal(bought, i == 2 ? 300 : 0);
		assert_int_equal(sold, i == 1 ? 300 : 0);
		assert_int_equal(grid, imp * 3100 - exp * 800);
		line = i == 1 ? seller : buyer;	/* one slot: balance = line */
		assert_int_equal(bill, -line + (imp > bought ? (imp - bought) *
		    3100 : 0) - (exp > sold ? (exp - sold) * 800 : 0));
		kx_buf_free(&r);
	}

	/* a clear nobody can reproduce: a dispute at both members */
	snprintf(order, sizeof(order), "{\"slot\":%llu,\"set\":\"%s\","
	    "\"price\":null,\"volume\":0,\"fills\":[]}",
	    (unsigned long long)(slot - SLOT_S), "1111111111111111111111111"
	    "111111111111111111111111111111111111111");
	assert_int_equal(tpublish(&net->nodes[0], "clear", order), 0);
	for (i = 1; i < 3; i++)
		assert_int_equal(wait_mstat(&net->nodes[i], "disputes_total",
		    1, 20000), 0);
	kx_buf_reset(&l1);
	assert_int_equal(tctl(&net->nodes[1], &l1, 1, "status", (size_t)6),
	    0);
	assert_int_equal(kx_buf_cstr(&l1), 0);
	assert_non_null(strstr((char *)l1.data, "order set differs"));
	kx_buf_free(&l0);
	kx_buf_free(&l1);
	kx_buf_free(&l2);
}

/*
 * The members bid by themselves from their meters' recent slots: the
 * exporting house sells, the importing one buys, the operator clears
 * with volume. Then the seller's meter freezes (SIGSTOP): it stops
 * offering energy it cannot measure.
 */
static void
test_autobid(void **state)
{
	net_t		*net = *state;
	int		 i;
	long long	 placed1, placed2;

	start_market(net, "strategy auto=on steps=3 lead-s=4");
	/* history of one or two slots, then orders and a trade */
	assert_int_equal(wait_mstat(&net->nodes[0], "cleared", 1, 45000), 0);
	for (i = 1; i < 3; i++)
		assert_true(astat(&net->nodes[i], "placed") >= 1);
	assert_int_equal(wait_mstat(&net->nodes[1], "clears_agreed", 1,
	    10000), 0);
	assert_int_equal(mstat(&net->nodes[1], "disputes_total"), 0);
	assert_int_equal(mstat(&net->nodes[2], "disputes_total"), 0);

	/* the seller's meter stops answering: no more sells */
	assert_int_equal(kill(net->sims[1], SIGSTOP), 0);
	sleep(2);
	placed1 = astat(&net->nodes[1], "placed");
	placed2 = astat(&net->nodes[2], "placed");
	{
		int64_t	 end = tnow_ms() + 25000;

		while (tnow_ms() < end && astat(&net->nodes[1],
		    "sells_skipped_unmeasured") < 1)
			usleep(200000);
	}
	assert_true(astat(&net->nodes[1], "sells_skipped_unmeasured") >= 1);
	assert_int_equal(astat(&net->nodes[1], "placed"), placed1);
	/* the buyer keeps bidding */
	{
		int64_t	 end = tnow_ms() + 25000;

		while (tnow_ms() < end && astat(&net->nodes[2], "placed") <=
		    placed2)
			usleep(200000);
	}
	assert_true(astat(&net->nodes[2], "placed") > placed2);
	kill(net->sims[1], SIGCONT);
}

/*
 * A household killed with SIGKILL mid-day and restarted: it catches up
 * (same heads as the operator), its ledger equals the operator's again,
 * and the market goes on without a dispute.
 */
static void
test_kill_restart(void **state)
{
	net_t		*net = *state;
	tnode_t		*list[3];
	kx_buf_t	 l0, l1;
	int		 i;
	long long	 cleared;

	start_market(net, "strategy auto=on steps=3 lead-s=4");
	assert_int_equal(wait_mstat(&net->nodes[0], "settled", 1, 60000), 0);

	/* kill -9 the seller, let the market run on, restart it */
	assert_int_equal(tnode_stop(&net->nodes[1], SIGKILL) & 0x7f, SIGKILL);
	cleared = mstat(&net->nodes[0], "cleared");
	sleep(12);			/* a slot or more without it */
	tnode_start(&net->nodes[1]);
	assert_int_equal(tnode_wait_up(&net->nodes[1], 10000), 0);
	for (i = 0; i < 3; i++)
		list[i] = &net->nodes[i];
	/* it catches up with every log, and the market goes on */
	assert_true(tconverge(list, 3, 30000) >= 0);
	assert_int_equal(wait_mstat(&net->nodes[0], "cleared", cleared + 2,
	    40000), 0);
	assert_int_equal(wait_mstat(&net->nodes[0], "settled", 2, 40000), 0);
	/* the same ledger as the operator's, once both posted the same */
	kx_buf_init(&l0);
	kx_buf_init(&l1);
	for (i = 0; i < 100; i++) {
		ledger(&net->nodes[0], &l0);
		ledger(&net->nodes[1], &l1);
		if (strcmp((char *)l0.data, (char *)l1.data) == 0 &&
		    strstr((char *)l0.data, "\"slot\":") != NULL)
			break;
		usleep(200000);
	}
	assert_string_equal((char *)l0.data, (char *)l1.data);
	for (i = 0; i < 3; i++)
		if (mstat(&net->nodes[i], "disputes_total") != 0) {
			kx_buf_reset(&l1);
			(void)tctl(&net->nodes[i], &l1, 1, "status",
			    (size_t)6);
			(void)kx_buf_cstr(&l1);
			fail_msg("node %d: %s", i, strstr((char *)l1.data,
			    "\"market\""));
		}
	kx_buf_free(&l0);
	kx_buf_free(&l1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slot_end_to_end, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_autobid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_restart, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
