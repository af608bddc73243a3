/*
 * bench_net.c - gossip figures with real kaga-node processes on loopback:
 *
 * 1. dissemination: N nodes (default 50, max-peers 8), one message
 *    published at a random node; the time until 50 %, 90 % and 100 % of
 *    the nodes hold it, over several messages (goal: 100 % within 1 s);
 * 2. catch-up: a node that missed M messages (default 100,000) joins and
 *    fetches them all; its rate next to raw Ed25519 verifications per
 *    second measured in the same run (goal: at least 0.7 of it).
 *
 * BENCH_NODES and BENCH_CATCHUP override N and M. Run by `make bench`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "netutil.h"
#include "store.h"

#define NOW_MS()	((int64_t)time(NULL) * 1000)

static const char *LISTING =
    "{\"kind\":\"offer\",\"cur\":\"time\",\"title\":\"help\",\"until\":0}";

/* A persistent control connection per node, for fast polling. */
typedef struct {
	void	*s;
} probe_t;

static void *zctx;

static int
probe_open(probe_t *p, const tnode_t *t)
{
	char	 ep[400];
	int	 linger = 0, to = 5000;

	snprintf(ep, sizeof(ep), "ipc://%.255s/control.sock", t->dir);
	if ((p->s = zmq_socket(zctx, ZMQ_REQ)) == NULL)
		return -1;
	zmq_setsockopt(p->s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(p->s, ZMQ_RCVTIMEO, &to, sizeof(to));
	return zmq_connect(p->s, ep);
}

/* The last seq of author hex at the probed node, or -1. */
static long long
probe_seq(probe_t *p, const char *hex)
{
	static char	 buf[1 << 20];
	char		 pat[128];
	const char	*h;
	int		 n, more = 1, part = 0;
	size_t		 more_sz = sizeof(more);
	long long	 v = -1;

	if (zmq_send(p->s, "status", 6, 0) == -1)
		return -1;
	while (more) {
		n = zmq_recv(p->s, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			return -1;
		if (n > (int)sizeof(buf) - 1)
			n = sizeof(buf) - 1;
		buf[n] = '\0';
		zmq_getsockopt(p->s, ZMQ_RCVMORE, &more, &more_sz);
		if (part++ == 1) {
			snprintf(pat, sizeof(pat),
			    "\"author\":\"%s\",\"seq\":", hex);
			v = (h = strstr(buf, pat)) != NULL ?
			    strtoll(h + strlen(pat), NULL, 10) : 0;
		}
	}
	return v;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long	 x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static void
seed_members(tnode_t *nodes, size_t n, const uint8_t *osk, kx_buf_t *out)
{
	uint8_t		 prev[KX_ID_LEN];
	char		 body[512];
	tkey_t		 k;
	size_t		 i;

	memcpy(k.sk, osk, KX_SK_LEN);
	for (i = 1; i < n; i++) {
		snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":"
		    "\"household\",\"endpoint\":\"tcp://127.0.0.1:%d\","
		    "\"until\":0}", nodes[i].hex, nodes[i].port);
		kx_buf_init(&out[i]);
		tmsg(&out[i], &k, i, i > 1 ? prev : NULL, NOW_MS() - 60000 +
		    (int64_t)i, "member", body);
		tid(prev, &out[i]);
	}
}

static void
import_all(const tnode_t *t, const tnode_t *op, kx_buf_t *msgs, size_t from,
    size_t to)
{
	kx_store_t	*st;
	kx_result_t	 r;
	kx_why_t	 why;
	char		 path[400];
	size_t		 i;

	snprintf(path, sizeof(path), "%s/store", t->dir);
	if ((st = kx_store_open(path, 0, &why)) == NULL ||
	    kx_store_add_operator(st, op->pk) != KX_OK)
		exit(1);
	if (kx_store_begin(st) != KX_OK)
		exit(1);
	for (i = from; i < to; i++) {
		if (kx_store_import(st, msgs[i].data, msgs[i].len, NOW_MS(),
		    &r, NULL, NULL) != KX_OK || (r.outcome != KX_ACCEPTED &&
		    r.outcome != KX_DUPLICATE)) {
			fprintf(stderr, "seed %zu: %s\n", i, r.why.text);
			exit(1);
		}
		if ((i + 1) % 4000 == 0 && (kx_store_commit(st) != KX_OK ||
		    kx_store_begin(st) != KX_OK))
			exit(1);
	}
	if (kx_store_commit(st) != KX_OK)
		exit(1);
	kx_store_close(&st);
}

int
main(void)
{
	static tnode_t	 nodes[128];
	static probe_t	 probes[128];
	const tnode_t	*boot[1];
	kx_buf_t	*members, *cmsgs;
	kx_why_t	 why;
	kx_msg_t	*dm;
	uint8_t		 osk[KX_SK_LEN], prev[KX_ID_LEN];
	char		*root, path[400];
	size_t		 n = 50, m = 100000, i, k, trials = 10;
	long long	 t50[16], t90[16], t100[16], lat[128];
	int64_t		 t0, t;
	double		 t_verify, t_catch, sweep;
	tkey_t		 ck;

	if (getenv("BENCH_NODES") != NULL)
		n = strtoul(getenv("BENCH_NODES"), NULL, 10);
	if (getenv("BENCH_CATCHUP") != NULL)
		m = strtoul(getenv("BENCH_CATCHUP"), NULL, 10);
	if (n < 3 || n > 120 || m < 1000)
		return 2;
	if (sodium_init() < 0 || (zctx = zmq_ctx_new()) == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	root = tmpdir_new();

	/* ---- dissemination -------------------------------------------- */
	for (i = 0; i < n; i++) {
		tnode_init(&nodes[i], root, (int)i, i == 0 ? "operator" :
		    "household");
		snprintf(nodes[i].extra, sizeof(nodes[i].extra),
		    "max-peers 8\n");
	}
	boot[0] = &nodes[0];
	for (i = 0; i < n; i++)
		tnode_conf(&nodes[i], &nodes[0], boot, i > 0, 1000);
	snprintf(path, sizeof(path), "%s/node.key", nodes[0].dir);
	if (kx_key_load(path, osk, &why) == -1)
		return 1;
	members = calloc(n, sizeof(*members));
	seed_members(nodes, n, osk, members);
	for (i = 0; i < n; i++)
		import_all(&nodes[i], &nodes[0], members, 1, n);
	for (i = 0; i < n; i++)
		tnode_start(&nodes[i]);
	for (i = 0; i < n; i++)
		if (tnode_wait_up(&nodes[i], 20000) == -1 ||
		    probe_open(&probes[i], &nodes[i]) == -1)
			return 1;
	sleep(3);	/* let every node pick its peers */
	/* how long one polling sweep over all nodes takes: the resolution */
	t0 = tnow_ms();
	for (k = 0; k < 5; k++)
		for (i = 0; i < n; i++)
			(void)probe_seq(&probes[i], nodes[0].hex);
	sweep = (double)(tnow_ms() - t0) / 5.0;
	for (k = 0; k < trials; k++) {
		size_t	 src = 1 + randombytes_uniform((uint32_t)(n - 1));
		size_t	 done = 0;
		long long want;

		want = probe_seq(&probes[src], nodes[src].hex) + 1;
		for (i = 0; i < n; i++)
			lat[i] = -1;
		t0 = tnow_ms();
		if (tpublish(&nodes[src], "listing", LISTING) == -1)
			return 1;
		while (done < n && tnow_ms() - t0 < 20000) {
			for (i = 0; i < n; i++) {
				if (lat[i] >= 0)
					continue;
				if (probe_seq(&probes[i], nodes[src].hex) >=
				    want) {
					lat[i] = tnow_ms() - t0;
					done++;
				}
			}
		}
		for (i = 0; i < n; i++)
			if (lat[i] < 0)
				lat[i] = 99999;
		qsort(lat, n, sizeof(lat[0]), cmp_ll);
		t50[k] = lat[(n - 1) / 2];
		t90[k] = lat[(n * 9 + 9) / 10 - 1];
		t100[k] = lat[n - 1];
	}
	qsort(t50, trials, sizeof(t50[0]), cmp_ll);
	qsort(t90, trials, sizeof(t90[0]), cmp_ll);
	qsort(t100, trials, sizeof(t100[0]), cmp_ll);
	for (i = 0; i < n; i++) {
		zmq_close(probes[i].s);
		tnode_stop(&nodes[i], SIGTERM);
	}

	/* ---- catch-up ------------------------------------------------- */
	/* node A (index 1 of a new pair) holds m messages; B starts empty */
	{
		tnode_t		 op2, a, b;
		char		 root2[300];
		kx_buf_t	 pm[3];

		snprintf(root2, sizeof(root2), "%s/catchup", root);
		mkdir(root2, 0700);
		tnode_init(&op2, root2, 0, "operator");
		tnode_init(&a, root2, 1, "household");
		tnode_init(&b, root2, 2, "household");
		snprintf(path, sizeof(path), "%s/node.key", op2.dir);
		if (kx_key_load(path, osk, &why) == -1)
			return 1;
		{
			tnode_t	 two[3] = { op2, a, b };

			seed_members(two, 3, osk, pm);
		}
		/* m messages of member a's own log, made before timing */
		snprintf(path, sizeof(path), "%s/node.key", a.dir);
		if (kx_key_load(path, ck.sk, &why) == -1)
			return 1;
		cmsgs = calloc(m + 3, sizeof(*cmsgs));
		for (i = 1; i < 3; i++)
			cmsgs[i - 1] = pm[i];
		for (i = 0; i < m; i++) {
			kx_buf_init(&cmsgs[2 + i]);
			tmsg(&cmsgs[2 + i], &ck, i + 1, i ? prev : NULL,
			    NOW_MS() - 30000, "listing", LISTING);
			tid(prev, &cmsgs[2 + i]);
		}
		import_all(&a, &op2, cmsgs, 0, m + 2);
		import_all(&b, &op2, cmsgs, 0, 2);	/* membership only */
		/* the limit: raw verifications of the same messages */
		dm = calloc(m, sizeof(*dm));
		for (i = 0; i < m; i++)
			if (kx_msg_decode(&dm[i], cmsgs[2 + i].data,
			    cmsgs[2 + i].len, NULL) != KX_OK)
				return 1;
		t0 = tnow_ms();
		for (i = 0; i < m; i++)
			if (crypto_sign_verify_detached(dm[i].sig,
			    dm[i].payload, dm[i].payload_len,
			    dm[i].author) != 0)
				return 1;
		t_verify = (double)(tnow_ms() - t0) / 1000.0;

		boot[0] = &a;
		tnode_conf(&a, &op2, NULL, 0, 1000);
		tnode_conf(&b, &op2, boot, 1, 1000);
		tnode_start(&a);
		if (tnode_wait_up(&a, 20000) == -1)
			return 1;
		t0 = tnow_ms();
		tnode_start(&b);
		while (tauthor_seq(&b, a.hex) < (long long)m &&
		    tnow_ms() - t0 < 600000)
			usleep(20000);
		t = tnow_ms() - t0;
		t_catch = (double)t / 1000.0;
		if (tauthor_seq(&b, a.hex) < (long long)m) {
			fprintf(stderr, "catch-up did not finish\n");
			return 1;
		}
		tnode_stop(&a, SIGTERM);
		tnode_stop(&b, SIGTERM);
		for (i = 0; i < m + 2; i++)
			kx_buf_free(&cmsgs[i]);
		free(cmsgs);
		free(dm);
	}

	printf("gossip, %zu kaga-node processes on loopback (max-peers 8), "
	    "%zu messages each published at a random node\n", n, trials);
	printf("  time to reach 50 %% of nodes    median %4lld ms, worst "
	    "%4lld ms\n", t50[trials / 2], t50[trials - 1]);
	printf("  time to reach 90 %% of nodes    median %4lld ms, worst "
	    "%4lld ms\n", t90[trials / 2], t90[trials - 1]);
	printf("  time to reach 100 %% of nodes   median %4lld ms, worst "
	    "%4lld ms   (goal: within 1000 ms)\n", t100[trials / 2],
	    t100[trials - 1]);
	printf("  (figures are upper bounds: polling all %zu nodes once takes "
	    "%.0f ms)\n", n, sweep);
	printf("catch-up of a node that missed %zu messages\n", m);
	printf("  raw crypto_sign_verify_detached  %8.0f /s   (the limit)\n",
	    m / t_verify);
	printf("  caught up                        %8.0f msg/s  ratio %.2f "
	    "(goal >= 0.70)   %.1f s in all, from process start\n",
	    m / t_catch, t_verify / t_catch, t_catch);
	for (i = 1; i < n; i++)
		kx_buf_free(&members[i]);
	free(members);
	sodium_memzero(osk, sizeof(osk));
	rm_rf(root);
	free(root);
	zmq_ctx_term(zctx);
	return 0;
}
