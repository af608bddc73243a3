/*
 * test_net.c - real kaga-node processes on loopback (ZeroMQ with CURVE,
 * the ZAP handler, LMDB stores): networks of 3 and 20 nodes converge, a
 * message published at one node reaches all, a stopped node catches up
 * exactly, a partition heals (SIGHUP adds the bridge), a non-member key is
 * refused, a revoked member is cut off, a flooding peer is throttled while
 * others' messages flow, and kill -9 loses nothing stored.
 *
 * Timeouts here are generous upper bounds for "it happened", never
 * performance assertions; `make bench` measures speed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <zmq.h>

#include "frames.h"
#include "netutil.h"
#include "store.h"

#define NOW_MS()	((int64_t)time(NULL) * 1000)
#define CONVERGE_MS	30000

static const char *LISTING =
    "{\"kind\":\"offer\",\"cur\":\"time\",\"title\":\"help\",\"until\":0}";

typedef struct {
	char	*root;
	tnode_t	 nodes[24];
	size_t	 n;
} net_t;

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

	for (i = 0; i < net->n; i++)
		tnode_stop(&net->nodes[i], SIGKILL);
	rm_rf(net->root);
	free(net->root);
	free(net);
	return 0;
}

/*
 * Signs the operator's member messages for nodes[1..n) (with endpoints or
 * without) and imports them into every node's store before it starts,
 * so that the test does not depend on the order nodes come up in.
 */
static void
seed_members(net_t *net, bool endpoints)
{
	tnode_t		*op = &net->nodes[0];
	kx_store_t	*st;
	kx_result_t	 r;
	kx_why_t	 why;
	kx_buf_t	*msgs, w;
	uint8_t		 sk[KX_SK_LEN], prev[KX_ID_LEN];
	char		 path[400], body[512];
	size_t		 i, j;

	snprintf(path, sizeof(path), "%s/node.key", op->dir);
	assert_int_equal(kx_key_load(path, sk, &why), 0);
	msgs = calloc(net->n, sizeof(*msgs));
	assert_non_null(msgs);
	kx_buf_init(&w);
	for (i = 1; i < net->n; i++) {
		tnode_t	*t = &net->nodes[i];
		tkey_t	 k;

		snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":\"%s\","
		    "\"endpoint\":\"%s%d\",\"until\":0}", t->hex, t->role,
		    endpoints ? "tcp://127.0.0.1:" : "", endpoints ? t->port :
		    0);
		if (!endpoints)
			snprintf(body, sizeof(body), "{\"node\":\"%s\","
			    "\"role\":\"%s\",\"until\":0}", t->hex, t->role);
		memcpy(k.sk, sk, KX_SK_LEN);
		kx_buf_init(&msgs[i]);
		tmsg(&msgs[i], &k, i, i > 1 ? prev : NULL,
		    NOW_MS() - 60000 + (int64_t)i, "member", body);
		tid(prev, &msgs[i]);
	}
	for (j = 0; j < net->n; j++) {
		snprintf(path, sizeof(path), "%s/store", net->nodes[j].dir);
		assert_non_null(st = kx_store_open(path, 0, &why));
		assert_int_equal(kx_store_add_operator(st, op->pk), KX_OK);
		for (i = 1; i < net->n; i++) {
			assert_int_equal(kx_store_import(st, msgs[i].data,
			    msgs[i].len, NOW_MS(), &r, NULL, NULL), KX_OK);
			assert_int_equal(r.outcome, KX_ACCEPTED);
		}
		kx_store_close(&st);
	}
	for (i = 1; i < net->n; i++)
		kx_buf_free(&msgs[i]);
	free(msgs);
	kx_buf_free(&w);
	sodium_memzero(sk, sizeof(sk));
}

/* n nodes: node 0 the operator; every other bootstraps to node 0. */
static void
make_net(net_t *net, size_t n, const char *extra)
{
	const tnode_t	*boot[1];
	size_t		 i;

	net->n = n;
	for (i = 0; i < n; i++) {
		tnode_init(&net->nodes[i], net->root, (int)i, i == 0 ?
		    "operator" : (i % 5 == 3 ? "farm" : "household"));
		if (extra != NULL)
			snprintf(net->nodes[i].extra,
			    sizeof(net->nodes[i].extra), "%s", extra);
	}
	boot[0] = &net->nodes[0];
	for (i = 0; i < n; i++)
		tnode_conf(&net->nodes[i], &net->nodes[0], boot, i > 0 ? 1 : 0,
		    200);
}

static void
start_all(net_t *net)
{
	size_t	 i;

	for (i = 0; i < net->n; i++)
		tnode_start(&net->nodes[i]);
	for (i = 0; i < net->n; i++)
		assert_int_equal(tnode_wait_up(&net->nodes[i], 10000), 0);
}

static int
converge(net_t *net, size_t from, size_t n)
{
	tnode_t	*list[24];
	size_t	 i;

	for (i = 0; i < n; i++)
		list[i] = &net->nodes[from + i];
	return tconverge(list, n, CONVERGE_MS);
}

/* ---------------------------------------------------------------------- */

static void
test_three_nodes_admit_and_converge(void **state)
{
	net_t	*net = *state;
	size_t	 i, k;

	make_net(net, 3, NULL);
	start_all(net);
	/* admission through the running operator node */
	for (i = 1; i < 3; i++)
		assert_int_equal(tadmit(&net->nodes[0], &net->nodes[i]), 0);
	assert_true(converge(net, 0, 3) >= 0);
	for (k = 0; k < 5; k++)
		for (i = 0; i < 3; i++)
			assert_int_equal(tpublish(&net->nodes[i], "listing",
			    LISTING), 0);
	assert_true(converge(net, 0, 3) >= 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(tstat(&net->nodes[i], "messages"), 2 + 15);
	/* a message reaches everyone; nothing was rejected on the way */
	for (i = 0; i < 3; i++) {
		assert_int_equal(tstat(&net->nodes[i], "rejected_signature"),
		    0);
		assert_int_equal(tstat(&net->nodes[i], "bad_frame"), 0);
	}
}

static void
test_twenty_nodes_converge(void **state)
{
	net_t	*net = *state;
	size_t	 i;
	int	 ms;

	make_net(net, 20, "max-peers 4\n");
	seed_members(net, true);
	start_all(net);
	for (i = 0; i < 20; i++)
		assert_int_equal(tpublish(&net->nodes[i], "listing", LISTING),
		    0);
	ms = converge(net, 0, 20);
	assert_true(ms >= 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(tstat(&net->nodes[i], "messages"), 19 + 20);
	printf("20 nodes converged %d ms after the last publish\n", ms);
}

static void
test_stopped_node_catches_up(void **state)
{
	net_t	*net = *state;
	size_t	 k;

	make_net(net, 4, NULL);
	seed_members(net, true);
	start_all(net);
	assert_true(converge(net, 0, 4) >= 0);
	assert_int_equal(tnode_stop(&net->nodes[3], SIGTERM) & 0xff, 0);
	for (k = 0; k < 40; k++)
		assert_int_equal(tpublish(&net->nodes[1 + k % 2], "listing",
		    LISTING), 0);
	assert_true(converge(net, 0, 3) >= 0);
	tnode_start(&net->nodes[3]);
	assert_int_equal(tnode_wait_up(&net->nodes[3], 10000), 0);
	assert_true(converge(net, 0, 4) >= 0);
	assert_int_equal(tstat(&net->nodes[3], "messages"), 3 + 40);
}

static void
test_partition_heals(void **state)
{
	net_t		*net = *state;
	const tnode_t	*boot[2];
	size_t		 i, k;
	char		 a[1 << 14], b[1 << 14];

	/*
	 * Two halves {0,1,2} and {3,4,5}: member messages carry no
	 * endpoints, so nodes connect only to their configured peers, all
	 * within their half.
	 */
	net->n = 6;
	for (i = 0; i < 6; i++)
		tnode_init(&net->nodes[i], net->root, (int)i, i == 0 ?
		    "operator" : "household");
	for (i = 0; i < 6; i++) {
		size_t	 first = i < 3 ? 0 : 3, nb = 0;

		for (k = first; k < first + 3; k++)
			if (k != i)
				boot[nb++] = &net->nodes[k];
		tnode_conf(&net->nodes[i], &net->nodes[0], boot, nb, 200);
	}
	seed_members(net, false);
	start_all(net);
	for (k = 0; k < 5; k++) {
		assert_int_equal(tpublish(&net->nodes[1], "listing", LISTING),
		    0);
		assert_int_equal(tpublish(&net->nodes[4], "listing", LISTING),
		    0);
	}
	assert_true(converge(net, 0, 3) >= 0);
	assert_true(converge(net, 3, 3) >= 0);
	/* the halves differ */
	assert_int_equal(theads(&net->nodes[0], a, sizeof(a)), 0);
	assert_int_equal(theads(&net->nodes[3], b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(tstat(&net->nodes[0], "messages"), 5 + 5);
	assert_int_equal(tstat(&net->nodes[3], "messages"), 5 + 5);
	/* heal: node 2 gets node 3 as a peer, by SIGHUP */
	boot[0] = &net->nodes[0];
	boot[1] = &net->nodes[3];
	tnode_conf(&net->nodes[2], &net->nodes[0], boot, 2, 200);
	assert_int_equal(kill(net->nodes[2].pid, SIGHUP), 0);
	assert_true(converge(net, 0, 6) >= 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(tstat(&net->nodes[i], "messages"), 5 + 10);
}

static void
test_non_member_refused(void **state)
{
	net_t		*net = *state;
	char		 heads[1 << 14];

	make_net(net, 3, NULL);
	seed_members(net, true);
	/* node 3: a key nobody admitted, bootstrapping to the operator */
	net->n = 4;
	tnode_init(&net->nodes[3], net->root, 3, "household");
	{
		const tnode_t	*boot[1] = { &net->nodes[0] };

		tnode_conf(&net->nodes[3], &net->nodes[0], boot, 1, 200);
	}
	start_all(net);
	assert_int_equal(tpublish(&net->nodes[3], "listing", LISTING), 0);
	assert_int_equal(tpublish(&net->nodes[1], "listing", LISTING), 0);
	assert_true(converge(net, 0, 3) >= 0);
	sleep(2);
	/* the operator refused it at the CURVE handshake (ZAP) */
	assert_true(tstat(&net->nodes[0], "zap_refused") >= 1);
	/* and nothing crossed in either direction */
	assert_int_equal(tstat(&net->nodes[3], "messages"), 1);
	assert_int_equal(theads(&net->nodes[0], heads, sizeof(heads)), 0);
	assert_null(strstr(heads, net->nodes[3].hex));
}

static void
test_revoked_member_cut_off(void **state)
{
	net_t	*net = *state;
	char	 body[256];
	long long before;

	make_net(net, 3, NULL);
	seed_members(net, true);
	start_all(net);
	assert_true(converge(net, 0, 3) >= 0);
	snprintf(body, sizeof(body), "{\"node\":\"%s\",\"reason\":\"moved "
	    "away\"}", net->nodes[2].hex);
	assert_int_equal(tpublish(&net->nodes[0], "revoke", body), 0);
	assert_true(converge(net, 0, 2) >= 0);
	sleep(2);	/* "within seconds" */
	before = tstat(&net->nodes[2], "messages");
	/* new messages no longer reach the revoked node */
	assert_int_equal(tpublish(&net->nodes[0], "listing", LISTING), 0);
	assert_int_equal(tpublish(&net->nodes[1], "listing", LISTING), 0);
	assert_true(converge(net, 0, 2) >= 0);
	sleep(3);
	assert_true(tstat(&net->nodes[2], "messages") <= before);
	assert_true(tstat(&net->nodes[0], "messages") ==
	    tstat(&net->nodes[1], "messages"));
	/* it is refused when it tries to come back */
	assert_true(tstat(&net->nodes[0], "zap_refused") +
	    tstat(&net->nodes[1], "zap_refused") >= 1);
}

/* A DEALER speaking as member t (its own derived CURVE keys) to target. */
static void *
member_dealer(void *ctx, const tnode_t *t, const tnode_t *target,
    uint8_t sk[KX_SK_LEN])
{
	kx_why_t	 why;
	uint8_t		 csk[32], cpk[32], server[32];
	char		 path[400];
	void		*s;
	int		 linger = 0;

	snprintf(path, sizeof(path), "%s/node.key", t->dir);
	assert_int_equal(kx_key_load(path, sk, &why), 0);
	assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(csk, sk), 0);
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(cpk, sk + 32),
	    0);
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(server,
	    target->pk), 0);
	assert_non_null(s = zmq_socket(ctx, ZMQ_DEALER));
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 32);
	zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, cpk, 32);
	zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, csk, 32);
	snprintf(path, sizeof(path), "tcp://127.0.0.1:%d", target->port);
	assert_int_equal(zmq_connect(s, path), 0);
	sodium_memzero(csk, sizeof(csk));
	return s;
}

/*
 * The test process joins as member node 3 with its own DEALER (CURVE, the
 * member's derived keys) and floods node 1 with pushes far above node 1's
 * peer rate; node 2's messages must still reach node 1.
 */
static void
test_flood_throttled(void **state)
{
	net_t		*net = *state;
	tnode_t		*flooder;
	kx_buf_t	 w, hdr;
	kx_frame_t	 f;
	uint8_t		 sk[KX_SK_LEN];
	uint8_t		 prev[KX_ID_LEN];
	tkey_t		 k;
	void		*ctx, *s;
	int		 i;
	int64_t		 t0;
	long long	 got;

	make_net(net, 4, "peer-rate 50 100\nauthor-rate 1000 2000\n"
	    "ban-score -1000000\n");
	seed_members(net, true);
	flooder = &net->nodes[3];
	net->n = 3;	/* the flooder is this process, not a kaga-node */
	start_all(net);
	assert_true(converge(net, 0, 3) >= 0);

	assert_non_null(ctx = zmq_ctx_new());
	s = member_dealer(ctx, flooder, &net->nodes[1], sk);
	memcpy(k.sk, sk, KX_SK_LEN);

	kx_buf_init(&w);
	kx_buf_init(&hdr);
	memset(&f, 0, sizeof(f));
	f.kind = KX_F_PUSH;
	assert_int_equal(kx_frame_encode(&hdr, &f), 0);
	t0 = tnow_ms();
	for (i = 1; i <= 3000; i++) {	/* ~3000 pushes in about a second */
		tmsg(&w, &k, (uint64_t)i, i > 1 ? prev : NULL,
		    NOW_MS() + i, "listing", LISTING);
		tid(prev, &w);
		zmq_send(s, hdr.data, hdr.len, ZMQ_SNDMORE);
		zmq_send(s, w.data, w.len, 0);
		if (i == 1500)	/* others publish during the flood */
			for (int j = 0; j < 5; j++)
				assert_int_equal(tpublish(&net->nodes[2],
				    "listing", LISTING), 0);
	}
	/* node 2's five messages reached node 1 despite the flood */
	t0 = tnow_ms();
	while (tauthor_seq(&net->nodes[1], net->nodes[2].hex) < 5 &&
	    tnow_ms() - t0 < CONVERGE_MS)
		usleep(100000);
	assert_int_equal(tauthor_seq(&net->nodes[1], net->nodes[2].hex), 5);
	got = tstat(&net->nodes[1], "rate_limited_peer");
	printf("flood: %lld dropped by node 1's peer bucket; node 2's "
	    "messages arrived all the same\n", got);
	assert_true(got > 0);
	/* it did not take all of them: at most burst + rate x time */
	assert_true(tstat(&net->nodes[1], "messages") < 3 + 5 + 3000);
	zmq_close(s);
	zmq_ctx_term(ctx);
	kx_buf_free(&w);
	kx_buf_free(&hdr);
	sodium_memzero(sk, sizeof(sk));
}

/*
 * A member that sends frames that do not decode loses score and is
 * banned: its frames are ignored, its connection dropped, and ZAP
 * refuses it when it reconnects.
 */
static void
test_garbage_peer_banned(void **state)
{
	net_t		*net = *state;
	tnode_t		*bad;
	uint8_t		 sk[KX_SK_LEN], junk[] = { 0x91, 0x09 };
	kx_buf_t	 r;
	char		 pat[200];
	void		*ctx, *s;
	int		 i;
	int64_t		 t0;
	long long	 refused;

	make_net(net, 3, "ban-score -50\nban-time 60\n");
	seed_members(net, true);
	bad = &net->nodes[2];
	net->n = 2;	/* node 2 is this process */
	start_all(net);
	assert_non_null(ctx = zmq_ctx_new());
	s = member_dealer(ctx, bad, &net->nodes[1], sk);
	for (i = 0; i < 10; i++)	/* -10 each; banned at -50 */
		assert_int_equal(zmq_send(s, junk, sizeof(junk), 0), 2);
	kx_buf_init(&r);
	snprintf(pat, sizeof(pat), "\"node\":\"%s\"", bad->hex);
	t0 = tnow_ms();
	for (;;) {
		const char	*h;

		assert_int_equal(tctl(&net->nodes[1], &r, 1, "status",
		    (size_t)6), 0);
		h = strstr((char *)r.data, pat);
		if (h != NULL && strstr(h, "\"banned\":true") != NULL &&
		    strstr(h, "\"banned\":true") < strstr(h, "}"))
			break;
		assert_true(tnow_ms() - t0 < CONVERGE_MS);
		usleep(100000);
	}
	assert_true(tstat(&net->nodes[1], "bad_frame") >= 5);
	/* its reconnection is refused by ZAP */
	refused = tstat(&net->nodes[1], "zap_refused");
	zmq_close(s);
	s = member_dealer(ctx, bad, &net->nodes[1], sk);
	assert_int_equal(zmq_send(s, junk, sizeof(junk), 0), 2);
	t0 = tnow_ms();
	while (tstat(&net->nodes[1], "zap_refused") <= refused &&
	    tnow_ms() - t0 < CONVERGE_MS)
		usleep(100000);
	assert_true(tstat(&net->nodes[1], "zap_refused") > refused);
	kx_buf_free(&r);
	zmq_close(s);
	zmq_ctx_term(ctx);
	sodium_memzero(sk, sizeof(sk));
}

static void
test_kill9_loses_nothing(void **state)
{
	net_t		*net = *state;
	kx_store_t	*st;
	kx_why_t	 why;
	char		 path[400];
	long long	 before, after;
	int		 k;

	make_net(net, 2, NULL);
	seed_members(net, true);
	start_all(net);
	for (k = 0; k < 30; k++)
		assert_int_equal(tpublish(&net->nodes[1], "listing", LISTING),
		    0);
	assert_true(converge(net, 0, 2) >= 0);
	before = tstat(&net->nodes[0], "messages");
	assert_int_equal(before, 1 + 30);
	tnode_stop(&net->nodes[0], SIGKILL);
	tnode_stop(&net->nodes[1], SIGKILL);
	/* the killed stores are consistent and hold everything */
	for (k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), "%s/store", net->nodes[k].dir);
		assert_non_null(st = kx_store_open(path, 0, &why));
		assert_int_equal(kx_store_verify(st, &why), KX_OK);
		kx_store_close(&st);
	}
	start_all(net);
	after = tstat(&net->nodes[0], "messages");
	assert_int_equal(after, before);
	assert_int_equal(tstat(&net->nodes[1], "messages"), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_three_nodes_admit_and_converge),
		T(test_twenty_nodes_converge),
		T(test_stopped_node_catches_up),
		T(test_partition_heals),
		T(test_non_member_refused),
		T(test_revoked_member_cut_off),
		T(test_flood_throttled),
		T(test_garbage_peer_banned),
		T(test_kill9_loses_nothing),
#undef T
	};

	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
