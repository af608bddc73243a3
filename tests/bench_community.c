/*
 * bench_community.c - the time to compute a member's section 8 balances
 * from the store (community/ledger.c) when 100,000 messages decide them,
 * next to the raw time to read those same 100,000 messages from LMDB with
 * kx_store_foreach in the same run.
 *
 * Member A's log: 25,000 health pays to B, each citing one `issue` of one
 * point (25,000 issues in the issuer's log), and 25,000 time pays to B,
 * each citing one time pay of one minute from 500 other members (50 each,
 * never citing anything). So A's log plus what it cites is 100,000
 * messages, and judging A's time pays means judging the 500 payers' pays
 * too. The store is built with kx_store_append_own (signing, no
 * verification) before any timing.
 *
 * Run by `make bench`. Single-threaded. BENCH_COMMUNITY_N=N scales the
 * 100,000 (a multiple of 4,000); BENCH_COMMUNITY_ROUNDS=R (default 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "fiscal.h"
#include "ledger.h"
#include "store.h"
#include "testutil.h"

#define NOW	1800000000000LL
#define NPAYERS	500
#define BATCH	5000

static double
secs(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, const kx_why_t *why)
{
	fprintf(stderr, "bench_community: %s: %s\n", what, why ? why->text :
	    "");
	exit(1);
}

static kx_store_t	*st;
static int64_t		 ts = NOW;
static size_t		 in_batch;

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* Appends an own message of k's; its id to id (may be NULL). */
static void
append(const tkey_t *k, const char *type, const kx_buf_t *body,
    uint8_t *id)
{
	kx_buf_t	 wire;
	kx_why_t	 why;
	kx_msg_t	 m;

	if (in_batch == 0 && kx_store_begin(st) != KX_OK)
		die("begin", NULL);
	kx_buf_init(&wire);
	ts++;
	if (kx_store_append_own(st, k->sk, type, body->data, body->len, ts,
	    &wire, &why) != KX_OK)
		die(type, &why);
	if (id != NULL) {
		if (kx_msg_decode(&m, wire.data, wire.len, NULL) != KX_OK)
			die("decode", NULL);
		memcpy(id, m.id, KX_ID_LEN);
	}
	kx_buf_free(&wire);
	if (++in_batch == BATCH) {
		if (kx_store_commit(st) != KX_OK)
			die("commit", NULL);
		in_batch = 0;
	}
}

static void
member(const tkey_t *op, const tkey_t *k, const char *role)
{
	kx_buf_t	 b;
	msgpack_packer	 pk;

	kx_buf_init(&b);
	msgpack_packer_init(&pk, &b, kx_buf_msgpack_write);
	msgpack_pack_map(&pk, strcmp(role, "issuer") == 0 ? 4 : 3);
	pack_str(&pk, "node");
	msgpack_pack_bin(&pk, KX_PK_LEN);
	msgpack_pack_bin_body(&pk, k->pk, KX_PK_LEN);
	pack_str(&pk, "role");
	pack_str(&pk, role);
	pack_str(&pk, "until");
	msgpack_pack_uint64(&pk, 0);
	if (strcmp(role, "issuer") == 0) {
		pack_str(&pk, "cap");
		msgpack_pack_uint64(&pk, 1000000000);
	}
	append(op, "member", &b, NULL);
	kx_buf_free(&b);
}

static void
pay(const tkey_t *k, const char *cur, const tkey_t *to, const uint8_t *cite,
    uint8_t *id)
{
	kx_buf_t	 b;
	msgpack_packer	 pk;

	kx_buf_init(&b);
	msgpack_packer_init(&pk, &b, kx_buf_msgpack_write);
	msgpack_pack_map(&pk, 4);
	pack_str(&pk, "cur");
	pack_str(&pk, cur);
	pack_str(&pk, "to");
	msgpack_pack_bin(&pk, KX_PK_LEN);
	msgpack_pack_bin_body(&pk, to->pk, KX_PK_LEN);
	pack_str(&pk, "amount");
	msgpack_pack_uint32(&pk, 1);
	pack_str(&pk, "in");
	msgpack_pack_array(&pk, cite != NULL);
	if (cite != NULL) {
		msgpack_pack_bin(&pk, KX_ID_LEN);
		msgpack_pack_bin_body(&pk, cite, KX_ID_LEN);
	}
	append(k, "pay", &b, id);
	kx_buf_free(&b);
}

static void
issue(const tkey_t *iss, const tkey_t *to, uint8_t *id)
{
	kx_buf_t	 b;
	msgpack_packer	 pk;

	kx_buf_init(&b);
	msgpack_packer_init(&pk, &b, kx_buf_msgpack_write);
	msgpack_pack_map(&pk, 4);
	pack_str(&pk, "to");
	msgpack_pack_bin(&pk, KX_PK_LEN);
	msgpack_pack_bin_body(&pk, to->pk, KX_PK_LEN);
	pack_str(&pk, "points");
	msgpack_pack_uint32(&pk, 1);
	pack_str(&pk, "program");
	pack_str(&pk, "walk");
	pack_str(&pk, "fy");
	msgpack_pack_int64(&pk, kx_fiscal_year(ts + 1));
	append(iss, "issue", &b, id);
	kx_buf_free(&b);
}

struct raw {
	size_t	 n, bytes;
	bool	 decode;
};

static int
raw_one(void *arg, const kx_stored_t *s)
{
	struct raw	*r = arg;
	kx_msg_t	 m;

	r->n++;
	r->bytes += s->len;
	if (r->decode && kx_msg_decode(&m, s->wire, s->len, NULL) != KX_OK)
		exit(1);
	return 0;
}

int
main(void)
{
	static tkey_t	 op, iss, a, b, payer[NPAYERS];
	uint8_t		(*issues)[KX_ID_LEN], (*tpays)[KX_ID_LEN];
	kx_balance_t	 bh, bt;
	kx_ledger_t	*l;
	kx_buf_t	 w;
	kx_head_t	 h;
	struct raw	 r;
	kx_why_t	 why;
	const char	*env = getenv("BENCH_COMMUNITY_N");
	char		*dir;
	double		 t0, t, t_raw = 1e9, t_dec = 1e9, t_bal = 1e9, t_one = 1e9,
			 t_build;
	size_t		 total = 100000, quarter, i, j, per;
	int		 round, rounds = 3, v = 0;

	if (sodium_init() < 0)
		return 1;
	if (env != NULL && atol(env) >= 4000)
		total = (size_t)atol(env) / 4000 * 4000;
	if ((env = getenv("BENCH_COMMUNITY_ROUNDS")) != NULL && atoi(env) > 0)
		rounds = atoi(env);
	quarter = total / 4;
	per = quarter / NPAYERS;
	if ((issues = calloc(quarter, KX_ID_LEN)) == NULL ||
	    (tpays = calloc(quarter, KX_ID_LEN)) == NULL)
		return 1;
	dir = tmpdir_new();
	if ((st = kx_store_open(dir, 0, &why)) == NULL)
		die("open", &why);
	tkey_new(&op);
	tkey_new(&iss);
	tkey_new(&a);
	tkey_new(&b);
	for (i = 0; i < NPAYERS; i++)
		tkey_new(&payer[i]);
	if (kx_store_add_operator(st, op.pk) != KX_OK)
		die("operator", NULL);

	/* the store, before any timing */
	t0 = secs();
	member(&op, &iss, "issuer");
	member(&op, &a, "household");
	member(&op, &b, "household");
	for (i = 0; i < NPAYERS; i++)
		member(&op, &payer[i], "household");
	for (i = 0; i < quarter; i++)
		issue(&iss, &a, issues[i]);
	for (j = 0; j < per; j++)
		for (i = 0; i < NPAYERS; i++)
			pay(&payer[i], "time", &a, NULL,
			    tpays[j * NPAYERS + i]);
	for (i = 0; i < quarter; i++) {
		pay(&a, "health", &b, issues[i], NULL);
		pay(&a, "time", &b, tpays[i], NULL);
	}
	if (in_batch > 0 && kx_store_commit(st) != KX_OK)
		die("commit", NULL);
	t_build = secs() - t0;

	for (round = 0; round < rounds; round++) {
		/* raw: the same messages, read from LMDB */
		t0 = secs();
		memset(&r, 0, sizeof(r));
		if (kx_store_foreach(st, a.pk, raw_one, &r) != KX_OK ||
		    kx_store_foreach(st, iss.pk, raw_one, &r) != KX_OK)
			die("foreach", NULL);
		for (i = 0; i < NPAYERS; i++)
			if (kx_store_foreach(st, payer[i].pk, raw_one, &r) !=
			    KX_OK)
				die("foreach", NULL);
		t = secs() - t0;
		if (r.n != total)
			die("the store does not hold what was made", NULL);
		if (t < t_raw)
			t_raw = t;
		/* raw, and each decoded (envelope checks and the id) */
		t0 = secs();
		memset(&r, 0, sizeof(r));
		r.decode = true;
		(void)kx_store_foreach(st, a.pk, raw_one, &r);
		(void)kx_store_foreach(st, iss.pk, raw_one, &r);
		for (i = 0; i < NPAYERS; i++)
			(void)kx_store_foreach(st, payer[i].pk, raw_one, &r);
		if ((t = secs() - t0) < t_dec)
			t_dec = t;
		/* the balances, from a new memo */
		t0 = secs();
		if ((l = kx_ledger_new(st)) == NULL ||
		    kx_ledger_balance(l, a.pk, KX_CUR_HEALTH, &bh) != KX_OK ||
		    kx_ledger_balance(l, a.pk, KX_CUR_TIME, &bt) != KX_OK)
			die("balance", NULL);
		kx_ledger_free(&l);
		if ((t = secs() - t0) < t_bal)
			t_bal = t;
		if (bh.paid != (int64_t)quarter || bh.balance != 0 ||
		    bt.paid != (int64_t)quarter || bt.balance != 0 ||
		    bh.n_valid_out != quarter || bt.n_valid_out != quarter) {
			fprintf(stderr, "bench_community: wrong balances: "
			    "health %lld/%lld, time %lld/%lld\n",
			    (long long)bh.balance, (long long)bh.paid,
			    (long long)bt.balance, (long long)bt.paid);
			return 1;
		}
		/* settlement's one-shot: A's last pay (its whole log) */
		if (kx_store_head(st, a.pk, &h) != 1)
			die("head", NULL);
		kx_buf_init(&w);
		if (kx_store_get(st, a.pk, h.last_seq - 1, &w, NULL) != 1)
			die("get", NULL);
		t0 = secs();
		v = kx_community_pay_valid(st, w.data, w.len);
		if ((t = secs() - t0) < t_one)
			t_one = t;
		kx_buf_free(&w);
		if (v != 1)
			die("the last health pay is not valid", NULL);
	}
	printf("community: member A with %zu messages (own log %zu pays, "
	    "cited %zu issues + %zu time pays of %d members)\n", total,
	    2 * quarter, quarter, quarter, NPAYERS);
	printf("  store built in %.1f s (not timed below)\n", t_build);
	printf("  raw kx_store_foreach of the %zu messages     %8.1f ms  "
	    "(%.2f us/msg)\n", total, t_raw * 1e3, t_raw * 1e6 /
	    (double)total);
	printf("  the same, each decoded (checks + BLAKE2b id) %8.1f ms  "
	    "(%.2f us/msg)\n", t_dec * 1e3, t_dec * 1e6 / (double)total);
	printf("  A's balances, health and time (new memo)    %8.1f ms  "
	    "(%.2f us/msg, %.1fx raw)\n", t_bal * 1e3, t_bal * 1e6 /
	    (double)total, t_bal / t_raw);
	printf("  one pay's status (settlement, whole log)    %8.1f ms\n",
	    t_one * 1e3);
	printf("  best of %d rounds\n", rounds);
	kx_store_close(&st);
	rm_rf(dir);
	free(dir);
	free(issues);
	free(tpays);
	return 0;
}
