/*
 * test_community.c - the community ledger of PROTOCOL.md section 8
 * (community/ledger.c), listings (community/listings.c) and the store's
 * part in them (the `community` index, issuer caps per fiscal year), on
 * real LMDB stores with real signatures.
 *
 * Hand-worked cases for every rule (double spends, overdrawing, the time
 * limit exactly and one past it, the limit in force at the pay's ts, cites
 * of the wrong currency, of someone else's credit, of a non-credit, of an
 * invalid message, of a pay that is itself invalid or pending, of a
 * message not received yet and its resolution, a recipient admitted after
 * the pay arrived), credit picking, history, listing expiry, and the
 * property that matters most: the same messages imported into fresh
 * stores in many shuffled orders (pays before the credit they cite, logs
 * out of order, members before their admission) give the same statuses
 * and balances everywhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>

#include "fiscal.h"
#include "ledger.h"
#include "listings.h"
#include "store.h"
#include "testutil.h"

#define NOW	1800000000000LL		/* 2027-01-15 08:00 UTC: fiscal 2026 */
#define LATER	(NOW + 365LL * 86400 * 1000)	/* the receiver's clock */
#define FY	2026
#define H	KX_CUR_HEALTH
#define T	KX_CUR_TIME

typedef struct {
	tkey_t		 k;
	uint64_t	 seq;
	uint8_t		 last[KX_ID_LEN];	/* id of the last message */
	char		 lasthex[2 * KX_ID_LEN + 1];
	int64_t		 ts;
} tchain_t;

typedef struct {
	char		*dir;
	kx_store_t	*st;
	tchain_t	 op, iss, a, b, c;
	kx_buf_t	 w;
} fx_t;

static void
chain_init(tchain_t *c, int64_t ts)
{
	memset(c, 0, sizeof(*c));
	tkey_new(&c->k);
	c->ts = ts;
}

/* Signs the chain's next message, ts one second later, into w. */
static void
next(tchain_t *c, kx_buf_t *w, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
next(tchain_t *c, kx_buf_t *w, const char *type, const char *fmt, ...)
{
	char	 body[8192];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	c->seq++;
	c->ts += 1000;
	tmsg(w, &c->k, c->seq, c->seq > 1 ? c->last : NULL, c->ts, type, body);
	tid(c->last, w);
	kx_hex(c->lasthex, c->last, KX_ID_LEN);
}

static kx_outcome_t
imp_st(kx_store_t *st, const kx_buf_t *w, kx_result_t *r)
{
	assert_int_equal(kx_store_import(st, w->data, w->len, LATER, r, NULL,
	    NULL), KX_OK);
	return r->outcome;
}

static kx_outcome_t
imp(fx_t *f)
{
	kx_result_t	 r;

	return imp_st(f->st, &f->w, &r);
}

/* Signs and imports; asserts the store's outcome. */
#define SEND(f, ch, want, type, ...) do {				\
	next(&(f)->ch, &(f)->w, type, __VA_ARGS__);			\
	assert_int_equal(imp(f), want);					\
} while (0)

static void
admit(fx_t *f, const tkey_t *k, const char *role, const char *extra)
{
	SEND(f, op, KX_ACCEPTED, "member", "{\"node\":\"%s\",\"role\":\"%s\","
	    "\"until\":0%s}", k->hex, role, extra);
}

static int
setup(void **state)
{
	fx_t	*f = calloc(1, sizeof(*f));
	kx_why_t why;

	assert_non_null(f);
	f->dir = tmpdir_new();
	assert_non_null(f->st = kx_store_open(f->dir, 0, &why));
	chain_init(&f->op, NOW - 100000);
	chain_init(&f->iss, NOW);
	/* staggered, so that no two members' messages share a ts */
	chain_init(&f->a, NOW + 100);
	chain_init(&f->b, NOW + 200);
	chain_init(&f->c, NOW + 300);
	kx_buf_init(&f->w);
	assert_int_equal(kx_store_add_operator(f->st, f->op.k.pk), KX_OK);
	admit(f, &f->iss.k, "issuer", ",\"cap\":1000");
	admit(f, &f->a.k, "household", "");
	admit(f, &f->b.k, "ryokan", "");
	admit(f, &f->c.k, "farm", "");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx_t	*f = *state;
	kx_why_t why;

	if (f->st != NULL) {
		assert_int_equal(kx_store_verify(f->st, &why), KX_OK);
		kx_store_close(&f->st);
	}
	kx_buf_free(&f->w);
	rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* The status of c's message seq (a pay), with its reason. */
static kx_pay_status_t
status(kx_store_t *st, const tchain_t *c, uint64_t seq, kx_why_t *why)
{
	kx_ledger_t	*l;
	kx_pay_status_t	 s;
	kx_why_t	 w;

	assert_non_null(l = kx_ledger_new(st));
	assert_int_equal(kx_ledger_pay_status(l, c->k.pk, seq, &s,
	    why ? why : &w), KX_OK);
	kx_ledger_free(&l);
	return s;
}

/* The status of c's last message, which must be a pay. */
static kx_pay_status_t
last_status(fx_t *f, const tchain_t *c, const char *reason_part)
{
	kx_why_t	 why;
	kx_pay_status_t	 s = status(f->st, c, c->seq, &why);

	if (reason_part != NULL && strstr(why.text, reason_part) == NULL) {
		fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", why.text,
		    reason_part);
		fail();
	}
	return s;
}

static kx_balance_t
bal(kx_store_t *st, const tkey_t *k, int cur)
{
	kx_ledger_t	*l;
	kx_balance_t	 b;

	assert_non_null(l = kx_ledger_new(st));
	assert_int_equal(kx_ledger_balance(l, k->pk, cur, &b), KX_OK);
	kx_ledger_free(&l);
	return b;
}

static void
issue(fx_t *f, const tkey_t *to, unsigned points, kx_outcome_t want)
{
	SEND(f, iss, want, "issue", "{\"to\":\"%s\",\"points\":%u,"
	    "\"program\":\"walk\",\"fy\":%d}", to->hex, points, FY);
}

/* ---- fiscal years ------------------------------------------------------ */

static void
test_fiscal_year(void **state)
{
	(void)state;
	/* 1970-01-01 00:00 UTC is 09:00 JST on January 1: fiscal 1969 */
	assert_int_equal(kx_fiscal_year(0), 1969);
	assert_int_equal(kx_fiscal_year(-1), 1969);
	/* 2027-03-31 23:59:59.999 JST and 2027-04-01 00:00 JST */
	assert_int_equal(kx_fiscal_year(1806505199999LL), 2026);
	assert_int_equal(kx_fiscal_year(1806505200000LL), 2027);
	/* 2027-01-01 00:00 JST (2026-12-31 15:00 UTC): still fiscal 2026 */
	assert_int_equal(kx_fiscal_year(1798729200000LL), 2026);
	assert_int_equal(kx_fiscal_year(1798729199999LL), 2026);
	/* a leap day: 2028-02-29 12:00 JST */
	assert_int_equal(kx_fiscal_year(1835406000000LL), 2027);
	/* before the epoch: 1960-04-01 00:00 JST and a ms before */
	assert_int_equal(kx_fiscal_year(-307789200000LL), 1960);
	assert_int_equal(kx_fiscal_year(-307789200001LL), 1959);
	/* the ends of int64 do not overflow */
	assert_true(kx_fiscal_year(INT64_MAX) > 292000000);
	assert_true(kx_fiscal_year(INT64_MIN) < -292000000);
	assert_int_equal(kx_fiscal_year(NOW), FY);
}

static void
test_issue_fy_in_store(void **state)
{
	fx_t		*f = *state;
	kx_result_t	 r;

	/* the last ms of fiscal 2026, JST */
	f->iss.ts = 1806505199999LL - 1000;
	next(&f->iss, &f->w, "issue", "{\"to\":\"%s\",\"points\":1,"
	    "\"fy\":2027}", f->a.k.hex);
	assert_int_equal(imp_st(f->st, &f->w, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "fiscal year"));
	assert_non_null(strstr(r.why.text, "2026"));
	f->iss.ts -= 1000;	/* the same ts again (not before the last) */
	next(&f->iss, &f->w, "issue", "{\"to\":\"%s\",\"points\":1,"
	    "\"fy\":2026}", f->a.k.hex);
	assert_int_equal(imp(f), KX_ACCEPTED);
	/* the first ms of fiscal 2027 */
	f->iss.ts = 1806505200000LL - 1000;
	next(&f->iss, &f->w, "issue", "{\"to\":\"%s\",\"points\":1,"
	    "\"fy\":2026}", f->a.k.hex);
	assert_int_equal(f->iss.ts, 1806505200000LL);
	assert_int_equal(imp_st(f->st, &f->w, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "fy 2026 is not"));
	next(&f->iss, &f->w, "issue", "{\"to\":\"%s\",\"points\":1000,"
	    "\"fy\":2027}", f->a.k.hex);
	assert_int_equal(imp(f), KX_ACCEPTED);	/* a fresh cap */
	/* a year ahead or an absurd one never passes */
	next(&f->iss, &f->w, "issue", "{\"to\":\"%s\",\"points\":1,"
	    "\"fy\":18446744073709551615}", f->a.k.hex);
	assert_int_equal(imp(f), KX_INVALID);
}

/* ---- issuance and double spending ------------------------------------ */

static void
test_over_cap(void **state)
{
	fx_t		*f = *state;
	char		 first[2 * KX_ID_LEN + 1], over[2 * KX_ID_LEN + 1];
	kx_balance_t	 b;

	issue(f, &f->a.k, 600, KX_ACCEPTED);
	memcpy(first, f->iss.lasthex, sizeof(first));
	issue(f, &f->a.k, 401, KX_INVALID);	/* 1001 > 1000 */
	memcpy(over, f->iss.lasthex, sizeof(over));
	issue(f, &f->b.k, 400, KX_ACCEPTED);	/* exactly 1000 */
	/* the over-cap issue is no credit */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":1,\"in\":[\"%s\"]}", f->op.k.hex, over);
	assert_int_equal(last_status(f, &f->a, "invalid message"),
	    KX_PAY_INVALID);
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":600,\"in\":[\"%s\"]}", f->op.k.hex, first);
	assert_int_equal(last_status(f, &f->a, NULL), KX_PAY_VALID);
	b = bal(f->st, &f->a.k, H);
	assert_int_equal(b.received, 600);
	assert_int_equal(b.paid, 600);
	assert_int_equal(b.balance, 0);
	assert_int_equal(b.n_invalid_out, 1);
	b = bal(f->st, &f->b.k, H);
	assert_int_equal(b.balance, 400);
	assert_int_equal(b.uncited, 400);
	assert_int_equal(b.cited, 0);
}

static void
test_double_spend_and_overdraw(void **state)
{
	fx_t		*f = *state;
	char		 credit[2 * KX_ID_LEN + 1];
	kx_balance_t	 b;
	kx_why_t	 why;

	issue(f, &f->a.k, 50, KX_ACCEPTED);
	memcpy(credit, f->iss.lasthex, sizeof(credit));
	/* a health pay with nothing cited cannot go below 0 */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":1}", f->b.k.hex);
	assert_int_equal(last_status(f, &f->a, "below the limit of 0"),
	    KX_PAY_INVALID);
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":30,\"memo\":\"onsen\",\"in\":[\"%s\"]}", f->b.k.hex,
	    credit);
	assert_int_equal(last_status(f, &f->a, NULL), KX_PAY_VALID);
	/* the same credit again: a double spend */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":10,\"in\":[\"%s\"]}", f->c.k.hex, credit);
	assert_int_equal(last_status(f, &f->a, "already cited by the pay at "
	    "seq 2"), KX_PAY_INVALID);
	/* 20 left: 21 overdraws, 20 is exactly 0 */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":21}", f->c.k.hex);
	assert_int_equal(status(f->st, &f->a, f->a.seq, &why), KX_PAY_INVALID);
	assert_non_null(strstr(why.text, "would be -1"));
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":20}", f->c.k.hex);
	assert_int_equal(last_status(f, &f->a, NULL), KX_PAY_VALID);
	b = bal(f->st, &f->a.k, H);
	assert_int_equal(b.balance, 0);
	assert_int_equal(b.cited, 0);
	assert_int_equal(b.paid, 50);
	assert_int_equal(b.n_valid_out, 2);
	assert_int_equal(b.n_invalid_out, 3);
	b = bal(f->st, &f->b.k, H);
	assert_int_equal(b.balance, 30);
	b = bal(f->st, &f->c.k, H);
	assert_int_equal(b.balance, 20);
	assert_int_equal(b.received, 20);
	/* an invalid pay of a's is no credit for c: c cannot cite it */
	SEND(f, c, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":5,\"in\":[\"%s\"]}", f->op.k.hex, credit);
	assert_int_equal(last_status(f, &f->c, "addressed to another member"),
	    KX_PAY_INVALID);
}

/* ---- the time bank ----------------------------------------------------- */

static void
test_time_limit(void **state)
{
	fx_t		*f = *state;
	char		 apay[2 * KX_ID_LEN + 1], got[2 * KX_ID_LEN + 1];
	uint64_t	 from = (uint64_t)(NOW / 1000) + 3600;	/* a slot */
	uint8_t		 ids[4][KX_ID_LEN];
	kx_balance_t	 b;
	kx_ledger_t	*l;
	kx_why_t	 why;
	int64_t		 low;
	size_t		 n;

	/* default limit 600 minutes: exactly -600 is fine, -601 is not */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":600,\"memo\":\"harvest\"}", f->b.k.hex);
	assert_int_equal(last_status(f, &f->a, NULL), KX_PAY_VALID);
	memcpy(apay, f->a.lasthex, sizeof(apay));
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":1}", f->b.k.hex);
	assert_int_equal(last_status(f, &f->a, "below the limit of -600"),
	    KX_PAY_INVALID);
	b = bal(f->st, &f->a.k, T);
	assert_int_equal(b.balance, -600);
	assert_int_equal(b.cited, -600);
	/* the operator lowers the limit to 100 from slot `from` on */
	SEND(f, op, KX_ACCEPTED, "market", "{\"from\":%llu,\"slot_s\":1800,"
	    "\"gate_s\":300,\"floor\":800,\"ceiling\":3100,\"fee\":500,"
	    "\"time_limit\":100,\"pt_value\":100000}",
	    (unsigned long long)from);
	assert_non_null(l = kx_ledger_new(f->st));
	assert_int_equal(kx_ledger_limit(l, T, (int64_t)from * 1000 - 1,
	    &low), KX_OK);
	assert_int_equal(low, -600);
	assert_int_equal(kx_ledger_limit(l, T, (int64_t)from * 1000, &low),
	    KX_OK);
	assert_int_equal(low, -100);
	assert_int_equal(kx_ledger_limit(l, T, 0, &low), KX_OK);
	assert_int_equal(low, -600);
	assert_int_equal(kx_ledger_limit(l, H, (int64_t)from * 1000, &low),
	    KX_OK);
	assert_int_equal(low, 0);
	kx_ledger_free(&l);
	/* c, before the change: 150 without credit is fine */
	f->c.ts = NOW + 5000;
	SEND(f, c, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":150}", f->b.k.hex);
	assert_int_equal(last_status(f, &f->c, NULL), KX_PAY_VALID);
	/* from the change on, b with nothing cited stops at -100 */
	f->b.ts = (int64_t)from * 1000 - 1000;
	SEND(f, b, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":101}", f->a.k.hex);
	assert_int_equal(f->b.ts, (int64_t)from * 1000);
	assert_int_equal(last_status(f, &f->b, "below the limit of -100"),
	    KX_PAY_INVALID);
	SEND(f, b, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":100}", f->a.k.hex);
	assert_int_equal(last_status(f, &f->b, NULL), KX_PAY_VALID);
	/* b holds 750 uncited (a's 600, c's 150): 750 can be paid */
	assert_non_null(l = kx_ledger_new(f->st));
	assert_int_equal(kx_ledger_pick(l, f->b.k.pk, T, 751, f->b.ts + 1000,
	    ids, 4, &n, &why), KX_ELIMIT);
	assert_non_null(strstr(why.text, "750 minutes can be paid"));
	assert_int_equal(kx_ledger_pick(l, f->b.k.pk, T, 750, f->b.ts + 1000,
	    ids, 4, &n, &why), KX_OK);
	assert_int_equal(n, 2);
	assert_int_equal(kx_ledger_pick(l, f->b.k.pk, T, 600, f->b.ts + 1000,
	    ids, 4, &n, &why), KX_OK);
	assert_int_equal(n, 1);
	kx_hex(got, ids[0], KX_ID_LEN);
	assert_string_equal(got, apay);		/* the oldest */
	kx_ledger_free(&l);
	/* citing a's 600: -100 + 600 - 601 = -101 */
	SEND(f, b, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":601,\"in\":[\"%s\"]}", f->c.k.hex, apay);
	assert_int_equal(last_status(f, &f->b, "would be -101"),
	    KX_PAY_INVALID);
	SEND(f, b, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":600,\"in\":[\"%s\"]}", f->c.k.hex, apay);
	assert_int_equal(last_status(f, &f->b, NULL), KX_PAY_VALID);
	b = bal(f->st, &f->b.k, T);
	assert_int_equal(b.cited, -100);
	assert_int_equal(b.received, 750);
	assert_int_equal(b.uncited, 150);
	assert_int_equal(b.paid, 700);
	assert_int_equal(b.balance, 50);
	assert_int_equal(b.n_invalid_out, 2);
	/* mutual credit: the time balances sum to zero */
	assert_int_equal(bal(f->st, &f->a.k, T).balance, -500);
	assert_int_equal(bal(f->st, &f->c.k, T).balance, 450);
	assert_int_equal(bal(f->st, &f->a.k, T).balance +
	    bal(f->st, &f->b.k, T).balance + bal(f->st, &f->c.k, T).balance +
	    bal(f->st, &f->op.k, T).balance + bal(f->st, &f->iss.k,
	    T).balance, 0);
}

/* ---- what a cite may name ---------------------------------------------- */

static void
test_bad_cites(void **state)
{
	fx_t		*f = *state;
	char		 hissue[2 * KX_ID_LEN + 1], bissue[2 * KX_ID_LEN + 1],
			 tpay[2 * KX_ID_LEN + 1], list[2 * KX_ID_LEN + 1],
			 inv[2 * KX_ID_LEN + 1];

	issue(f, &f->a.k, 10, KX_ACCEPTED);
	memcpy(hissue, f->iss.lasthex, sizeof(hissue));
	issue(f, &f->b.k, 10, KX_ACCEPTED);
	memcpy(bissue, f->iss.lasthex, sizeof(bissue));
	SEND(f, b, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":30}", f->a.k.hex);
	memcpy(tpay, f->b.lasthex, sizeof(tpay));
	SEND(f, c, KX_ACCEPTED, "listing", "{\"kind\":\"offer\",\"cur\":"
	    "\"time\",\"title\":\"rice\",\"until\":0}");
	memcpy(list, f->c.lasthex, sizeof(list));
	/* an order of a ryokan's after its gate is invalid in the store */
	SEND(f, b, KX_INVALID, "order", "{\"slot\":1800000000,\"side\":"
	    "\"buy\",\"steps\":[[10,100]]}");
	memcpy(inv, f->b.lasthex, sizeof(inv));

	/* an issue (health) backing a time pay */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":5,\"in\":[\"%s\"]}", f->c.k.hex, hissue);
	assert_int_equal(last_status(f, &f->a, "in[0] (") , KX_PAY_INVALID);
	assert_int_equal(last_status(f, &f->a, "other currency"),
	    KX_PAY_INVALID);
	/* a time pay backing a health pay */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":5,\"in\":[\"%s\",\"%s\"]}", f->c.k.hex, hissue, tpay);
	assert_int_equal(last_status(f, &f->a, "in[1]"), KX_PAY_INVALID);
	assert_int_equal(last_status(f, &f->a, "other currency"),
	    KX_PAY_INVALID);
	/* someone else's credit */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":5,\"in\":[\"%s\"]}", f->c.k.hex, bissue);
	assert_int_equal(last_status(f, &f->a, "addressed to another member"),
	    KX_PAY_INVALID);
	/* not a credit at all */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":5,\"in\":[\"%s\"]}", f->c.k.hex, list);
	assert_int_equal(last_status(f, &f->a, "neither an issue nor a pay"),
	    KX_PAY_INVALID);
	/* a message invalid in the store */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":5,\"in\":[\"%s\"]}", f->c.k.hex, inv);
	assert_int_equal(last_status(f, &f->a, "invalid message"),
	    KX_PAY_INVALID);
	/* none of these spent anything: both credits are still a's */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":10,\"in\":[\"%s\"]}", f->c.k.hex, hissue);
	assert_int_equal(last_status(f, &f->a, NULL), KX_PAY_VALID);
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":630,\"in\":[\"%s\"]}", f->c.k.hex, tpay);
	assert_int_equal(last_status(f, &f->a, NULL), KX_PAY_VALID);
	/* a pay invalid in the store (to is the payer) stays invalid */
	SEND(f, a, KX_INVALID, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":1}", f->a.k.hex);
	assert_int_equal(last_status(f, &f->a, "to is the payer"),
	    KX_PAY_INVALID);
	assert_int_equal(bal(f->st, &f->a.k, T).cited, -600);
	assert_int_equal(bal(f->st, &f->a.k, H).balance, 0);
}

/* A cited pay that is itself invalid, then one that is itself pending. */
static void
test_cited_pay_status(void **state)
{
	fx_t		*f = *state;
	char		 bad[2 * KX_ID_LEN + 1], pend[2 * KX_ID_LEN + 1],
			 ghost[2 * KX_ID_LEN + 1];
	uint8_t		 g[KX_ID_LEN];

	/* b overdraws health: the pay exists but moves nothing */
	SEND(f, b, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":5}", f->a.k.hex);
	memcpy(bad, f->b.lasthex, sizeof(bad));
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":5,\"in\":[\"%s\"]}", f->c.k.hex, bad);
	assert_int_equal(last_status(f, &f->a, "itself invalid"),
	    KX_PAY_INVALID);
	/* c cites an id nobody has: c's pay to a is pending, and so is a's
	 * pay citing it */
	randombytes_buf(g, sizeof(g));
	kx_hex(ghost, g, sizeof(g));
	SEND(f, c, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":5,\"in\":[\"%s\"]}", f->a.k.hex, ghost);
	memcpy(pend, f->c.lasthex, sizeof(pend));
	assert_int_equal(last_status(f, &f->c, "not received yet"),
	    KX_PAY_PENDING);
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":5,\"in\":[\"%s\"]}", f->b.k.hex, pend);
	assert_int_equal(last_status(f, &f->a, "itself pending"),
	    KX_PAY_PENDING);
	assert_int_equal(bal(f->st, &f->a.k, T).pending_in, 5);
	assert_int_equal(bal(f->st, &f->a.k, T).pending_out, 5);
	assert_int_equal(bal(f->st, &f->a.k, T).received, 0);
	/* a definitive problem wins over a pending cite */
	SEND(f, b, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":5,\"in\":[\"%s\",\"%s\"]}", f->a.k.hex, ghost, bad);
	assert_int_equal(last_status(f, &f->b, "in[1]"), KX_PAY_INVALID);
}

/* A cite of a message not received yet, and what follows when it comes. */
static void
test_pending_resolution(void **state)
{
	fx_t		*f = *state;
	kx_buf_t	 later;
	char		 credit[2 * KX_ID_LEN + 1];
	uint64_t	 p1, p2, p3;
	kx_balance_t	 b;
	kx_ledger_t	*l;
	uint8_t		 ids[2][KX_ID_LEN];
	size_t		 n;
	kx_why_t	 why;

	kx_buf_init(&later);
	/* b's time pay to a: signed, not delivered yet */
	next(&f->b, &later, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":40}", f->a.k.hex);
	memcpy(credit, f->b.lasthex, sizeof(credit));
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":630,\"in\":[\"%s\"]}", f->c.k.hex, credit);
	p1 = f->a.seq;
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":10}", f->c.k.hex);
	p2 = f->a.seq;
	issue(f, &f->a.k, 7, KX_ACCEPTED);
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":7,\"in\":[\"%s\"]}", f->op.k.hex, f->iss.lasthex);
	p3 = f->a.seq;
	assert_int_equal(status(f->st, &f->a, p1, &why), KX_PAY_PENDING);
	assert_non_null(strstr(why.text, "not received yet"));
	assert_non_null(strstr(why.text, "in[0]"));
	assert_int_equal(status(f->st, &f->a, p2, &why), KX_PAY_PENDING);
	assert_non_null(strstr(why.text, "after the pending pay at seq 1"));
	/* the other currency is judged on its own */
	assert_int_equal(status(f->st, &f->a, p3, NULL), KX_PAY_VALID);
	b = bal(f->st, &f->a.k, T);
	assert_int_equal(b.pending_seq, p1);
	assert_int_equal(b.pending_out, 640);
	assert_int_equal(b.balance, 0);
	/* no new pay can be judged meanwhile: the tool refuses */
	assert_non_null(l = kx_ledger_new(f->st));
	assert_int_equal(kx_ledger_pick(l, f->a.k.pk, T, 1, LATER, ids, 2,
	    &n, &why), KX_EPENDING);
	assert_non_null(strstr(why.text, "seq 1 is pending"));
	kx_ledger_free(&l);
	/* it arrives: 40 - 630 = -590 is fine, then -600 exactly */
	assert_int_equal(kx_store_import(f->st, later.data, later.len, LATER,
	    &(kx_result_t){0}, NULL, NULL), KX_OK);
	assert_int_equal(status(f->st, &f->a, p1, NULL), KX_PAY_VALID);
	assert_int_equal(status(f->st, &f->a, p2, NULL), KX_PAY_VALID);
	b = bal(f->st, &f->a.k, T);
	assert_int_equal(b.cited, -600);
	assert_int_equal(b.balance, -600);
	assert_int_equal(b.pending_seq, 0);
	assert_int_equal(bal(f->st, &f->b.k, T).balance, -40);
	assert_int_equal(bal(f->st, &f->c.k, T).balance, 640);
	kx_buf_free(&later);
}

/* The recipient's admission, judged whenever its `member` arrived. */
static void
test_to_admission(void **state)
{
	fx_t		*f = *state;
	tkey_t		 late, stranger;
	kx_buf_t	 member, body, wire;
	kx_why_t	 why;
	uint64_t	 pseq;
	char		 json[256];

	tkey_new(&late);
	tkey_new(&stranger);
	kx_buf_init(&member);
	kx_buf_init(&body);
	kx_buf_init(&wire);
	/* the operator admits `late`, but that message reaches us late */
	f->op.ts = f->a.ts;
	next(&f->op, &member, "member", "{\"node\":\"%s\",\"role\":"
	    "\"household\",\"until\":0}", late.hex);
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":5}", late.hex);
	pseq = f->a.seq;
	assert_int_equal(last_status(f, &f->a, "not admitted"),
	    KX_PAY_INVALID);
	assert_int_equal(kx_store_import(f->st, member.data, member.len,
	    LATER, &(kx_result_t){0}, NULL, NULL), KX_OK);
	assert_int_equal(status(f->st, &f->a, pseq, NULL), KX_PAY_VALID);
	assert_int_equal(bal(f->st, &late, T).balance, 5);
	/* a stranger stays one; the store keeps the pay, the ledger ignores
	 * it */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":5}", stranger.hex);
	assert_int_equal(last_status(f, &f->a, "not admitted"),
	    KX_PAY_INVALID);
	assert_int_equal(bal(f->st, &stranger, T).balance, 0);
	assert_int_equal(bal(f->st, &f->a.k, T).balance, -5);
	/* our own node refuses to sign such a pay */
	snprintf(json, sizeof(json), "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":5}", stranger.hex);
	assert_int_equal(kx_json_to_mp(&body, json, strlen(json),
	    kx_body_bin_paths("pay"), NULL, 0), 0);
	assert_int_equal(kx_store_append_own(f->st, f->a.k.sk, "pay",
	    body.data, body.len, f->a.ts + 1000, &wire, &why), KX_EBODY);
	assert_non_null(strstr(why.text, "not admitted"));
	kx_buf_free(&member);
	kx_buf_free(&body);
	kx_buf_free(&wire);
}

/* ---- picking credits ---------------------------------------------------- */

static void
test_pick(void **state)
{
	fx_t		*f = *state;
	char		 i1[2 * KX_ID_LEN + 1], i2[2 * KX_ID_LEN + 1],
			 i3[2 * KX_ID_LEN + 1], got[2 * KX_ID_LEN + 1];
	uint8_t		 ids[4][KX_ID_LEN];
	kx_ledger_t	*l;
	size_t		 n;
	kx_why_t	 why;
	int		 k;

	issue(f, &f->a.k, 10, KX_ACCEPTED);
	memcpy(i1, f->iss.lasthex, sizeof(i1));
	issue(f, &f->a.k, 20, KX_ACCEPTED);
	memcpy(i2, f->iss.lasthex, sizeof(i2));
	issue(f, &f->a.k, 30, KX_ACCEPTED);
	memcpy(i3, f->iss.lasthex, sizeof(i3));
	assert_non_null(l = kx_ledger_new(f->st));
	/* 25 points: the two oldest (10 + 20) */
	assert_int_equal(kx_ledger_pick(l, f->a.k.pk, H, 25, LATER, ids, 4,
	    &n, &why), KX_OK);
	assert_int_equal(n, 2);
	kx_hex(got, ids[0], KX_ID_LEN);
	assert_string_equal(got, i1);
	kx_hex(got, ids[1], KX_ID_LEN);
	assert_string_equal(got, i2);
	/* more than there is */
	assert_int_equal(kx_ledger_pick(l, f->a.k.pk, H, 61, LATER, ids, 4,
	    &n, &why), KX_ELIMIT);
	assert_int_equal(n, 0);
	assert_non_null(strstr(why.text, "60 points can be paid"));
	/* enough, but not in 2 cites */
	assert_int_equal(kx_ledger_pick(l, f->a.k.pk, H, 60, LATER, ids, 2,
	    &n, &why), KX_ETOOMANY);
	/* time: nothing to cite while within the limit */
	assert_int_equal(kx_ledger_pick(l, f->a.k.pk, T, 600, LATER, ids, 4,
	    &n, &why), KX_OK);
	assert_int_equal(n, 0);
	assert_int_equal(kx_ledger_pick(l, f->a.k.pk, T, 601, LATER, ids, 4,
	    &n, &why), KX_ELIMIT);
	kx_ledger_free(&l);
	/* spend the 10 and the 20; the 30 is what is left to pick */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":25,\"in\":[\"%s\",\"%s\"]}", f->op.k.hex, i1, i2);
	assert_int_equal(last_status(f, &f->a, NULL), KX_PAY_VALID);
	assert_non_null(l = kx_ledger_new(f->st));
	/* 5 left cited: 5 needs nothing, 6 needs the 30 */
	assert_int_equal(kx_ledger_pick(l, f->a.k.pk, H, 5, LATER, ids, 4,
	    &n, &why), KX_OK);
	assert_int_equal(n, 0);
	k = kx_ledger_pick(l, f->a.k.pk, H, 6, LATER, ids, 4, &n, &why);
	assert_int_equal(k, KX_OK);
	assert_int_equal(n, 1);
	kx_hex(got, ids[0], KX_ID_LEN);
	assert_string_equal(got, i3);
	kx_ledger_free(&l);
	assert_string_equal(kx_ledger_strerror(KX_ELIMIT),
	    "the pay would break the balance limit");
	assert_string_equal(kx_pay_status_name(KX_PAY_PENDING), "pending");
}

/* ---- history ---------------------------------------------------------- */

struct hist {
	int		 n, out, in, cited;
	char		 line[16][160];
};

static int
hist_cb(void *arg, const kx_entry_t *e)
{
	struct hist	*h = arg;

	if (h->n < 16)
		snprintf(h->line[h->n], sizeof(h->line[0]), "%s %s %s %u %s %.*s"
		    " by%llu", e->out ? "out" : "in", e->cur == H ? "health" :
		    "time", e->type == KX_T_ISSUE ? "issue" : "pay", e->amount,
		    kx_pay_status_name(e->status), (int)e->memo_len,
		    e->memo ? (const char *)e->memo : "",
		    (unsigned long long)e->cited_by);
	h->n++;
	h->out += e->out;
	h->in += !e->out;
	h->cited += e->cited_by != 0;
	return 0;
}

static void
test_history(void **state)
{
	fx_t		*f = *state;
	struct hist	 h;
	kx_ledger_t	*l;

	issue(f, &f->a.k, 10, KX_ACCEPTED);
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":4,\"memo\":\"bath\",\"in\":[\"%s\"]}", f->b.k.hex,
	    f->iss.lasthex);
	SEND(f, b, KX_ACCEPTED, "pay", "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":60,\"memo\":\"garden\"}", f->a.k.hex);
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":40}", f->b.k.hex);
	memset(&h, 0, sizeof(h));
	assert_non_null(l = kx_ledger_new(f->st));
	assert_int_equal(kx_ledger_history(l, f->a.k.pk, -1, hist_cb, &h),
	    KX_OK);
	kx_ledger_free(&l);
	assert_int_equal(h.n, 4);
	assert_string_equal(h.line[0], "in health issue 10 valid  by1");
	assert_string_equal(h.line[1], "out health pay 4 valid bath by0");
	assert_string_equal(h.line[2], "in time pay 60 valid garden by0");
	assert_string_equal(h.line[3], "out health pay 40 invalid  by0");
	memset(&h, 0, sizeof(h));
	assert_non_null(l = kx_ledger_new(f->st));
	assert_int_equal(kx_ledger_history(l, f->a.k.pk, T, hist_cb, &h),
	    KX_OK);
	kx_ledger_free(&l);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.in, 1);
}

/* ---- listings ----------------------------------------------------------- */

struct lst {
	int		 n;
	char		 titles[256];
};

static int
list_cb(void *arg, const kx_listing_t *li)
{
	struct lst	*ls = arg;
	size_t		 len = strlen(ls->titles);

	snprintf(ls->titles + len, sizeof(ls->titles) - len, "%s%.*s/%.*s",
	    len ? "," : "", (int)li->title_len, (const char *)li->title,
	    (int)li->area_len, (const char *)li->area);
	ls->n++;
	return 0;
}

static struct lst
current(fx_t *f, int64_t now)
{
	struct lst	 ls;

	memset(&ls, 0, sizeof(ls));
	assert_int_equal(kx_listings_current(f->st, now, list_cb, &ls), KX_OK);
	return ls;
}

static void
test_listings(void **state)
{
	fx_t		*f = *state;
	int64_t		 until = NOW + 3600 * 1000;
	struct lst	 ls;

	SEND(f, a, KX_ACCEPTED, "listing", "{\"kind\":\"offer\",\"cur\":"
	    "\"time\",\"title\":\"rice harvest\",\"area\":\"Yamashiro\","
	    "\"until\":0}");
	SEND(f, b, KX_ACCEPTED, "listing", "{\"kind\":\"want\",\"cur\":"
	    "\"time\",\"title\":\"futon airing\",\"until\":%lld}",
	    (long long)until);
	SEND(f, c, KX_ACCEPTED, "listing", "{\"kind\":\"offer\",\"cur\":"
	    "\"time\",\"title\":\"gone\",\"until\":%lld}",
	    (long long)(NOW - 1));
	SEND(f, c, KX_INVALID, "listing", "{\"kind\":\"offer\",\"cur\":"
	    "\"health\",\"title\":\"bad\",\"until\":0}");
	ls = current(f, NOW + 10000);
	assert_int_equal(ls.n, 2);
	assert_non_null(strstr(ls.titles, "rice harvest/Yamashiro"));
	assert_non_null(strstr(ls.titles, "futon airing/"));
	/* the last ms before until, and until itself */
	assert_int_equal(current(f, until - 1).n, 2);
	ls = current(f, until);
	assert_int_equal(ls.n, 1);
	assert_string_equal(ls.titles, "rice harvest/Yamashiro");
	/* a revoked member's offers go with it */
	f->op.ts = f->a.ts;
	SEND(f, op, KX_ACCEPTED, "revoke", "{\"node\":\"%s\",\"reason\":"
	    "\"moved\"}", f->a.k.hex);
	assert_int_equal(current(f, f->op.ts + 1).n, 1);
	assert_int_equal(current(f, until).n, 0);
	assert_true(kx_listing_live(0, INT64_MAX));
	assert_false(kx_listing_live(5, 5));
}

/* ---- the one-shot used by settlement ------------------------------------ */

struct pays {
	fx_t		*f;
	int		 valid, total;
};

static int
pay_cb(void *arg, const kx_stored_t *s)
{
	struct pays	*p = arg;
	int		 v = kx_community_pay_valid(p->f->st, s->wire, s->len);

	assert_true(v == 0 || v == 1);
	p->valid += v;
	p->total++;
	return 0;
}

static void
test_pay_valid_oneshot(void **state)
{
	fx_t		*f = *state;
	struct pays	 p;
	uint8_t		 g[KX_ID_LEN];
	char		 ghost[2 * KX_ID_LEN + 1];

	issue(f, &f->a.k, 10, KX_ACCEPTED);
	/* valid, invalid (overdrawn), pending: only the first counts */
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":10,\"in\":[\"%s\"]}", f->op.k.hex, f->iss.lasthex);
	SEND(f, b, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":10}", f->op.k.hex);
	randombytes_buf(g, sizeof(g));
	kx_hex(ghost, g, sizeof(g));
	SEND(f, c, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":10,\"in\":[\"%s\"]}", f->op.k.hex, ghost);
	memset(&p, 0, sizeof(p));
	p.f = f;
	assert_int_equal(kx_store_slot_msgs(f->st, KX_T_PAY, 0, UINT64_MAX,
	    pay_cb, &p), KX_OK);
	assert_int_equal(p.total, 3);
	assert_int_equal(p.valid, 1);
	/* not a pay: 0 */
	assert_int_equal(kx_community_pay_valid(f->st, f->w.data, f->w.len),
	    0);
	next(&f->b, &f->w, "listing", "{\"kind\":\"want\",\"cur\":\"time\","
	    "\"title\":\"x\",\"until\":0}");
	assert_int_equal(imp(f), KX_ACCEPTED);
	assert_int_equal(kx_community_pay_valid(f->st, f->w.data, f->w.len),
	    0);
	assert_int_equal(kx_community_pay_valid(f->st, (const uint8_t *)"x",
	    1), 0);
}

/* ---- the index of an older store is rebuilt ---------------------------- */

static void
test_reindex(void **state)
{
	fx_t		*f = *state;
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi, meta;
	MDB_val		 k;
	kx_why_t	 why;

	issue(f, &f->a.k, 10, KX_ACCEPTED);
	SEND(f, a, KX_ACCEPTED, "pay", "{\"cur\":\"health\",\"to\":\"%s\","
	    "\"amount\":3,\"in\":[\"%s\"]}", f->b.k.hex, f->iss.lasthex);
	SEND(f, c, KX_ACCEPTED, "listing", "{\"kind\":\"offer\",\"cur\":"
	    "\"time\",\"title\":\"tea\",\"until\":0}");
	assert_int_equal(bal(f->st, &f->b.k, H).balance, 3);
	kx_store_close(&f->st);
	/* as a store written before the index existed */
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_set_mapsize(env, (size_t)8 << 30), 0);
	assert_int_equal(mdb_env_open(env, f->dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "community", 0, &dbi), 0);
	assert_int_equal(mdb_drop(txn, dbi, 1), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	k.mv_data = (void *)(uintptr_t)"community-index";
	k.mv_size = 15;
	assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_non_null(f->st = kx_store_open(f->dir, 0, &why));
	assert_int_equal(bal(f->st, &f->b.k, H).balance, 3);
	assert_int_equal(bal(f->st, &f->a.k, H).balance, 7);
	assert_int_equal(current(f, NOW + 100000).n, 1);
}

/* ---- the same messages in any order ------------------------------------- */

#define NH	5	/* households */
#define STEPS	220
#define ORDERS	8

typedef struct {
	uint8_t	 id[KX_ID_LEN];
	int	 cur;
	bool	 used;	/* cited by a pay made so far */
} tcredit_t;

typedef struct {
	kx_buf_t	*msgs;		/* every message, in creation order */
	size_t		 n, cap;
	tchain_t	 op, iss, h[NH];
	tcredit_t	 cred[NH + 1][STEPS];	/* per recipient (NH: op) */
	size_t		 ncred[NH + 1];
	int64_t		 ts;
} scen_t;

static void
scen_add(scen_t *s, tchain_t *c, const char *type, const char *json)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		assert_non_null(s->msgs = realloc(s->msgs, s->cap *
		    sizeof(*s->msgs)));
	}
	kx_buf_init(&s->msgs[s->n]);
	s->ts += 1000;
	c->ts = s->ts - 1000;	/* next() adds one second */
	next(c, &s->msgs[s->n], type, "%s", json);
	s->n++;
}

static void
scen_make(scen_t *s, unsigned seed)
{
	char		 body[8192], hex[2 * KX_ID_LEN + 1], ids[6000];
	size_t		 i, j, k, len;
	int		 r, p, to, cur, amount, nin, x;
	bool		 ghost_done = false;
	uint8_t		 g[KX_ID_LEN];

	memset(s, 0, sizeof(*s));
	srand(seed);
	s->ts = NOW;
	chain_init(&s->op, NOW);
	chain_init(&s->iss, NOW);
	for (i = 0; i < NH; i++)
		chain_init(&s->h[i], NOW);
	snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":\"issuer\","
	    "\"until\":0,\"cap\":100000}", s->iss.k.hex);
	scen_add(s, &s->op, "member", body);
	for (i = 0; i < NH; i++) {
		snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":"
		    "\"household\",\"until\":0}", s->h[i].k.hex);
		scen_add(s, &s->op, "member", body);
	}
	for (i = 0; i < STEPS; i++) {
		r = rand() % 20;
		if (i == STEPS / 2) {
			/* the limit changes half way, from the next slot */
			snprintf(body, sizeof(body), "{\"from\":%llu,\"slot_s\":"
			    "1800,\"gate_s\":300,\"floor\":800,\"ceiling\":3100,"
			    "\"fee\":500,\"time_limit\":150,\"pt_value\":1000}",
			    (unsigned long long)((s->ts / 1000 / 1800 + 1) *
			    1800));
			scen_add(s, &s->op, "market", body);
			s->ts += 1800 * 1000;
			continue;
		}
		if (r < 4) {
			to = rand() % NH;
			snprintf(body, sizeof(body), "{\"to\":\"%s\",\"points\":"
			    "%d,\"program\":\"walk\",\"fy\":%lld}",
			    s->h[to].k.hex, 1 + rand() % 40,
			    (long long)kx_fiscal_year(s->ts));
			scen_add(s, &s->iss, "issue", body);
			memcpy(s->cred[to][s->ncred[to]].id, s->iss.last,
			    KX_ID_LEN);
			s->cred[to][s->ncred[to]++].cur = H;
			continue;
		}
		if (r == 4) {
			p = rand() % NH;
			snprintf(body, sizeof(body), "{\"kind\":\"offer\",\"cur\":"
			    "\"time\",\"title\":\"t%zu\",\"until\":%lld}", i,
			    (long long)(rand() % 2 ? 0 : s->ts + 60000));
			scen_add(s, &s->h[p], "listing", body);
			continue;
		}
		/* a pay: mostly citing what the payer has not cited yet in
		 * the right currency, sometimes anything it got */
		p = rand() % NH;
		cur = rand() % 2 ? H : T;
		do
			to = rand() % (NH + 1);	/* NH: the operator */
		while (to == p);
		amount = 1 + rand() % 25;
		nin = rand() % 3;
		len = 0;
		ids[0] = '\0';
		for (j = 0, k = 0; j < (size_t)nin && k < s->ncred[p]; k++) {
			tcredit_t	*cr = &s->cred[p][k];

			if (rand() % 15 != 0 && (cr->used || cr->cur != cur))
				continue;
			kx_hex(hex, cr->id, KX_ID_LEN);
			if (strstr(ids, hex) != NULL)
				continue;	/* once per pay */
			len += (size_t)snprintf(ids + len, sizeof(ids) - len,
			    "%s\"%s\"", len ? "," : "", hex);
			cr->used = true;
			j++;
		}
		x = rand() % 20;
		if (x == 0 && s->ncred[(p + 1) % NH] > 0) {
			/* someone else's credit */
			kx_hex(hex, s->cred[(p + 1) % NH][0].id, KX_ID_LEN);
			if (strstr(ids, hex) == NULL)
				len += (size_t)snprintf(ids + len, sizeof(ids) -
				    len, "%s\"%s\"", len ? "," : "", hex);
		} else if (!ghost_done && i > STEPS - 30) {
			/* an id nobody has: pending for ever */
			randombytes_buf(g, sizeof(g));
			kx_hex(hex, g, KX_ID_LEN);
			len += (size_t)snprintf(ids + len, sizeof(ids) - len,
			    "%s\"%s\"", len ? "," : "", hex);
			ghost_done = true;
		}
		snprintf(body, sizeof(body), "{\"cur\":\"%s\",\"to\":\"%s\","
		    "\"amount\":%d,\"in\":[%s]}", cur == H ? "health" : "time",
		    to == NH ? s->op.k.hex : s->h[to].k.hex, amount, ids);
		scen_add(s, &s->h[p], "pay", body);
		memcpy(s->cred[to][s->ncred[to]].id, s->h[p].last, KX_ID_LEN);
		s->cred[to][s->ncred[to]++].cur = cur;
	}
}

static void
scen_free(scen_t *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		kx_buf_free(&s->msgs[i]);
	free(s->msgs);
}

/* Imports in the given order, offering the rejected ones again (as
 * anti-entropy would) until none is left. */
static kx_store_t *
scen_store(scen_t *s, const size_t *order, const char *dir)
{
	kx_store_t	*st;
	kx_result_t	 r;
	kx_why_t	 why;
	size_t		*left, nleft = s->n, i, k, pass;
	uint64_t	 msgs, held, forks;

	assert_non_null(st = kx_store_open(dir, 0, &why));
	assert_int_equal(kx_store_add_operator(st, s->op.k.pk), KX_OK);
	assert_non_null(left = malloc(s->n * sizeof(*left)));
	memcpy(left, order, s->n * sizeof(*left));
	for (pass = 0; nleft > 0; pass++) {
		assert_true(pass < s->n);
		for (i = k = 0; i < nleft; i++) {
			assert_int_equal(kx_store_import(st,
			    s->msgs[left[i]].data, s->msgs[left[i]].len,
			    LATER + 86400000LL, &r, NULL, NULL), KX_OK);
			if (r.outcome == KX_REJECTED)
				left[k++] = left[i];
		}
		nleft = k;
	}
	free(left);
	assert_int_equal(kx_store_counts(st, &msgs, &held, &forks), KX_OK);
	assert_int_equal(msgs, s->n);
	assert_int_equal(held, 0);
	return st;
}

/* Everything the ledger says about the scenario, as one string. */
static char *
scen_digest(scen_t *s, kx_store_t *st, int *nvalid, int *ninvalid,
    int *npending)
{
	kx_ledger_t	*l;
	kx_balance_t	 b;
	kx_pay_status_t	 ps;
	kx_why_t	 why;
	kx_msg_t	 m;
	kx_buf_t	 out;
	const tkey_t	*who[NH + 2];
	int64_t		 sum[2] = { 0, 0 };
	size_t		 i;
	int		 cur;

	kx_buf_init(&out);
	assert_non_null(l = kx_ledger_new(st));
	for (i = 0; i < NH; i++)
		who[i] = &s->h[i].k;
	who[NH] = &s->op.k;
	who[NH + 1] = &s->iss.k;
	for (i = 0; i < NH + 2; i++)
		for (cur = H; cur <= T; cur++) {
			assert_int_equal(kx_ledger_balance(l, who[i]->pk, cur,
			    &b), KX_OK);
			kx_buf_printf(&out, "%zu/%d: %lld %lld %lld %lld %lld "
			    "%lld %lld %llu\n", i, cur, (long long)b.balance,
			    (long long)b.cited, (long long)b.received,
			    (long long)b.uncited, (long long)b.paid,
			    (long long)b.pending_in, (long long)b.pending_out,
			    (unsigned long long)b.pending_seq);
			sum[cur] += b.balance;
			/* the limits hold on what is cited */
			assert_true(b.cited >= (cur == H ? 0 : -600));
		}
	/* time is mutual credit; health comes only from issues */
	assert_int_equal(sum[T], 0);
	assert_true(sum[H] >= 0);
	*nvalid = *ninvalid = *npending = 0;
	for (i = 0; i < s->n; i++) {
		assert_int_equal(kx_msg_decode(&m, s->msgs[i].data,
		    s->msgs[i].len, NULL), KX_OK);
		if (strcmp(m.type, "pay") != 0)
			continue;
		assert_int_equal(kx_ledger_pay_status(l, m.author, m.seq, &ps,
		    &why), KX_OK);
		kx_buf_printf(&out, "%zu %s\n", i, kx_pay_status_name(ps));
		assert_null(strstr(why.text, "depends on"));
		if (getenv("KX_DEBUG_REASONS"))
			fprintf(stderr, "%s\n", why.text);
		*nvalid += ps == KX_PAY_VALID;
		*ninvalid += ps == KX_PAY_INVALID;
		*npending += ps == KX_PAY_PENDING;
	}
	kx_ledger_free(&l);
	assert_int_equal(kx_buf_cstr(&out), 0);
	return (char *)out.data;
}

static void
test_shuffled_orders(void **state)
{
	scen_t		 s;
	size_t		*order, i, j, t;
	kx_store_t	*st;
	char		*ref, *got, *dir;
	unsigned	 seed = 20261129;
	int		 o, nv, ni, np, x, y, z;

	(void)state;
	scen_make(&s, seed);
	assert_non_null(order = malloc(s.n * sizeof(*order)));
	/* the reference: as created */
	for (i = 0; i < s.n; i++)
		order[i] = i;
	dir = tmpdir_new();
	st = scen_store(&s, order, dir);
	ref = scen_digest(&s, st, &nv, &ni, &np);
	kx_store_close(&st);
	rm_rf(dir);
	free(dir);
	printf("scenario: %zu messages, pays %d valid, %d invalid, %d "
	    "pending\n", s.n, nv, ni, np);
	assert_true(nv > 40 && ni > 20);
	for (o = 0; o <= ORDERS; o++) {
		if (o == 0) {		/* everything backwards */
			for (i = 0; i < s.n; i++)
				order[i] = s.n - 1 - i;
		} else {		/* Fisher-Yates */
			srand(seed + (unsigned)o);
			for (i = s.n - 1; i > 0; i--) {
				j = (size_t)rand() % (i + 1);
				t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		}
		dir = tmpdir_new();
		st = scen_store(&s, order, dir);
		got = scen_digest(&s, st, &x, &y, &z);
		if (strcmp(ref, got) != 0)
			fprintf(stderr, "order %d differs:\n%s\nvs\n%s\n", o,
			    ref, got);
		assert_string_equal(ref, got);
		free(got);
		kx_store_close(&st);
		rm_rf(dir);
		free(dir);
	}
	free(ref);
	free(order);
	scen_free(&s);
}

int
main(void)
{
#define TC(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fiscal_year),
		TC(test_issue_fy_in_store),
		TC(test_over_cap),
		TC(test_double_spend_and_overdraw),
		TC(test_time_limit),
		TC(test_bad_cites),
		TC(test_cited_pay_status),
		TC(test_pending_resolution),
		TC(test_to_admission),
		TC(test_pick),
		TC(test_history),
		TC(test_listings),
		TC(test_pay_valid_oneshot),
		TC(test_reindex),
		cmocka_unit_test(test_shuffled_orders),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
