/*
 * test_store.c - the LMDB store and the validation order of PROTOCOL.md
 * section 4: admission, chain (duplicates, gaps, forks, freezing), clock,
 * signature, body with federation state (roles, caps, market parameters,
 * cancels), authentic-but-invalid messages, revocation, batches, restart.
 * Real LMDB files in a temporary folder; real Ed25519 signatures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>
#include <msgpack.h>

#include "store.h"
#include "testutil.h"

#define NOW	1800000000000LL		/* ms; 2027-01-15 */
#define SLOT	1800003600ULL		/* a slot an hour after NOW */

typedef struct {
	tkey_t		 k;
	uint64_t	 seq;
	uint8_t		 last[KX_ID_LEN];
	int64_t		 ts;
} tchain_t;

typedef struct {
	char		*dir;
	kx_store_t	*st;
	tchain_t	 op;		/* the operator */
	tchain_t	 alice;		/* a household */
	kx_buf_t	 w;
	int		 released;	/* release callback count */
} fx_t;

static void
chain_init(tchain_t *c, int64_t ts)
{
	memset(c, 0, sizeof(*c));
	tkey_new(&c->k);
	c->ts = ts;
}

/* The chain's next message, ts one second after the previous. */
static void
next(tchain_t *c, kx_buf_t *w, const char *type, const char *json)
{
	c->seq++;
	c->ts += 1000;
	tmsg(w, &c->k, c->seq, c->seq > 1 ? c->last : NULL, c->ts, type, json);
	tid(c->last, w);
}

static void
on_release(void *arg, const kx_result_t *r)
{
	fx_t	*f = arg;

	if (r->outcome == KX_ACCEPTED || r->outcome == KX_INVALID)
		f->released++;
}

static kx_outcome_t
imp_at(fx_t *f, const kx_buf_t *w, int64_t now, kx_result_t *r)
{
	assert_int_equal(kx_store_import(f->st, w->data, w->len, now, r,
	    on_release, f), KX_OK);
	return r->outcome;
}

static kx_outcome_t
imp(fx_t *f, const kx_buf_t *w)
{
	kx_result_t	 r;

	return imp_at(f, w, NOW + 3600 * 1000, &r);
}

static void
admit_member(fx_t *f, const tkey_t *k, const char *role, const char *extra)
{
	char	 body[512];

	snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":\"%s\","
	    "\"name\":\"n\",\"area\":\"a\",\"endpoint\":\"\",\"until\":0%s}",
	    k->hex, role, extra);
	next(&f->op, &f->w, "member", body);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
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
	chain_init(&f->alice, NOW);
	kx_buf_init(&f->w);
	assert_int_equal(kx_store_add_operator(f->st, f->op.k.pk), KX_OK);
	admit_member(f, &f->alice.k, "household", "");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx_t	*f = *state;
	kx_why_t why;

	if (f->st != NULL) {
		/* every test leaves a consistent store behind */
		assert_int_equal(kx_store_verify(f->st, &why), KX_OK);
		kx_store_close(&f->st);
	}
	kx_store_close(&f->st);	/* idempotent on NULL */
	rm_rf(f->dir);
	free(f->dir);
	kx_buf_free(&f->w);
	free(f);
	return 0;
}

static void
reopen(fx_t *f)
{
	kx_why_t why;

	kx_store_close(&f->st);
	assert_null(f->st);
	assert_non_null(f->st = kx_store_open(f->dir, 0, &why));
}

static const char *LISTING =
    "{\"kind\":\"offer\",\"cur\":\"time\",\"title\":\"t\",\"until\":0}";

/* ---- chain ----------------------------------------------------------- */

static void
test_accept_and_duplicate(void **state)
{
	fx_t		*f = *state;
	kx_head_t	 h;
	kx_result_t	 r;
	uint64_t	 msgs, held, forks;

	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_DUPLICATE);
	assert_memory_equal(r.id, f->alice.last, KX_ID_LEN);
	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	assert_int_equal(kx_store_head(f->st, f->alice.k.pk, &h), 1);
	assert_int_equal(h.last_seq, 2);
	assert_memory_equal(h.last_id, f->alice.last, KX_ID_LEN);
	assert_int_equal(h.last_ts, f->alice.ts);
	assert_int_equal(kx_store_counts(f->st, &msgs, &held, &forks), KX_OK);
	assert_int_equal(msgs, 3);	/* member + 2 */
	assert_int_equal(held, 0);
	assert_int_equal(forks, 0);
}

static void
test_gap_held_and_released(void **state)
{
	fx_t		*f = *state;
	kx_buf_t	 m1, m2, m3;
	kx_head_t	 h;
	kx_result_t	 r;

	kx_buf_init(&m1); kx_buf_init(&m2); kx_buf_init(&m3);
	next(&f->alice, &m1, "listing", LISTING);
	next(&f->alice, &m2, "listing", LISTING);
	next(&f->alice, &m3, "listing", LISTING);
	assert_int_equal(imp(f, &m3), KX_HELD);
	assert_int_equal(imp(f, &m3), KX_DUPLICATE);	/* held twice */
	assert_int_equal(imp(f, &m2), KX_HELD);
	assert_int_equal(kx_store_head(f->st, f->alice.k.pk, &h), 1);
	assert_int_equal(h.last_seq, 0);
	assert_int_equal(h.nheld, 2);
	assert_int_equal(f->released, 0);
	assert_int_equal(imp_at(f, &m1, NOW + 3600000, &r), KX_ACCEPTED);
	assert_int_equal(f->released, 2);
	assert_int_equal(kx_store_head(f->st, f->alice.k.pk, &h), 1);
	assert_int_equal(h.last_seq, 3);
	assert_int_equal(h.nheld, 0);
	assert_memory_equal(h.last_id, f->alice.last, KX_ID_LEN);
	kx_buf_free(&m1); kx_buf_free(&m2); kx_buf_free(&m3);
}

static void
test_held_survives_restart(void **state)
{
	fx_t		*f = *state;
	kx_buf_t	 m1, m2;
	kx_head_t	 h;
	uint64_t	 msgs, held, forks;

	kx_buf_init(&m1); kx_buf_init(&m2);
	next(&f->alice, &m1, "listing", LISTING);
	next(&f->alice, &m2, "listing", LISTING);
	assert_int_equal(imp(f, &m2), KX_HELD);
	reopen(f);
	assert_int_equal(kx_store_counts(f->st, &msgs, &held, &forks), KX_OK);
	assert_int_equal(held, 1);
	assert_int_equal(imp(f, &m1), KX_ACCEPTED);
	assert_int_equal(f->released, 1);
	assert_int_equal(kx_store_head(f->st, f->alice.k.pk, &h), 1);
	assert_int_equal(h.last_seq, 2);
	assert_int_equal(kx_store_counts(f->st, &msgs, &held, &forks), KX_OK);
	assert_int_equal(held, 0);
	kx_buf_free(&m1); kx_buf_free(&m2);
}

static void
test_held_needs_signature(void **state)
{
	fx_t		*f = *state;
	kx_result_t	 r;

	next(&f->alice, &f->w, "listing", LISTING);
	next(&f->alice, &f->w, "listing", LISTING);
	f->w.data[f->w.len - 1] ^= 1;	/* the last signature byte */
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_REJECTED);
	assert_string_equal(r.why.text, "signature: does not verify");
}

static void
test_held_limit(void **state)
{
	fx_t		*f = *state;
	kx_result_t	 r;
	int		 i;

	next(&f->alice, &f->w, "listing", LISTING);	/* seq 1 withheld */
	for (i = 0; i < KX_HELD_MAX; i++) {
		next(&f->alice, &f->w, "listing", LISTING);
		assert_int_equal(imp(f, &f->w), KX_HELD);
	}
	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_REJECTED);
	assert_non_null(strstr(r.why.text, "too many messages held"));
}

static void
test_prev_mismatch(void **state)
{
	fx_t		*f = *state;
	kx_result_t	 r;
	uint8_t		 bogus[KX_ID_LEN];

	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	memset(bogus, 7, sizeof(bogus));
	tmsg(&f->w, &f->alice.k, 2, bogus, f->alice.ts + 1, "listing",
	    LISTING);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_REJECTED);
	assert_non_null(strstr(r.why.text, "chain: prev"));
}

static void
test_fork_freezes_author(void **state)
{
	fx_t		*f = *state;
	kx_buf_t	 a, b;
	kx_result_t	 r;
	kx_head_t	 h;
	uint64_t	 msgs, held, forks;
	tchain_t	 saved;

	kx_buf_init(&a); kx_buf_init(&b);
	saved = f->alice;
	next(&f->alice, &a, "listing", LISTING);
	f->alice = saved;
	f->alice.ts += 7;	/* same seq, other bytes */
	next(&f->alice, &b, "listing", LISTING);
	assert_int_equal(imp(f, &a), KX_ACCEPTED);
	/* a forged second message with a bad signature is not a fork */
	b.data[b.len - 1] ^= 1;
	assert_int_equal(imp_at(f, &b, NOW + 3600000, &r), KX_REJECTED);
	assert_string_equal(r.why.text, "signature: does not verify");
	b.data[b.len - 1] ^= 1;
	assert_int_equal(imp_at(f, &b, NOW + 3600000, &r), KX_FORK);
	assert_int_equal(kx_store_counts(f->st, &msgs, &held, &forks), KX_OK);
	assert_int_equal(forks, 1);
	assert_int_equal(kx_store_head(f->st, f->alice.k.pk, &h), 1);
	assert_int_equal(h.frozen_seq, 1);
	/* nothing after the fork point is accepted */
	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_REJECTED);
	assert_non_null(strstr(r.why.text, "frozen"));
	/* the stored one is still a duplicate, the fork proof is kept once */
	assert_int_equal(imp(f, &a), KX_DUPLICATE);
	assert_int_equal(imp(f, &b), KX_FORK);
	assert_int_equal(kx_store_counts(f->st, &msgs, &held, &forks), KX_OK);
	assert_int_equal(forks, 1);
	kx_buf_free(&a); kx_buf_free(&b);
}

static void
test_fork_among_held(void **state)
{
	fx_t		*f = *state;
	kx_buf_t	 m1, m2, m3a, m3b;
	kx_result_t	 r;
	kx_head_t	 h;
	tchain_t	 saved;

	kx_buf_init(&m1); kx_buf_init(&m2); kx_buf_init(&m3a);
	kx_buf_init(&m3b);
	next(&f->alice, &m1, "listing", LISTING);
	next(&f->alice, &m2, "listing", LISTING);
	saved = f->alice;
	next(&f->alice, &m3a, "listing", LISTING);
	f->alice = saved;
	f->alice.ts += 3;
	next(&f->alice, &m3b, "listing", LISTING);
	assert_int_equal(imp(f, &m3a), KX_HELD);
	assert_int_equal(imp(f, &m3b), KX_FORK);
	assert_int_equal(kx_store_head(f->st, f->alice.k.pk, &h), 1);
	assert_int_equal(h.frozen_seq, 3);
	assert_int_equal(h.nheld, 0);	/* held from the fork on dropped */
	/* before the fork point the log still fills */
	assert_int_equal(imp(f, &m1), KX_ACCEPTED);
	assert_int_equal(imp(f, &m2), KX_ACCEPTED);
	assert_int_equal(imp_at(f, &m3a, NOW + 3600000, &r), KX_REJECTED);
	assert_non_null(strstr(r.why.text, "frozen"));
	kx_buf_free(&m1); kx_buf_free(&m2); kx_buf_free(&m3a);
	kx_buf_free(&m3b);
}

/* ---- steps 1, 2, 3, 5 ------------------------------------------------ */

static void
test_garbage_and_version(void **state)
{
	fx_t		*f = *state;
	kx_result_t	 r;
	uint8_t		 junk[] = { 0x92, 0xc4, 0x01 };
	kx_buf_t	 body;
	msgpack_packer	 pk;

	assert_int_equal(kx_store_import(f->st, junk, sizeof(junk), NOW, &r,
	    NULL, NULL), KX_OK);
	assert_int_equal(r.outcome, KX_REJECTED);
	assert_false(r.has_id);
	assert_non_null(strstr(r.why.text, "decode:"));

	/* v = 2: decodes, fails step 2 */
	kx_buf_init(&body);
	msgpack_packer_init(&pk, &body, kx_buf_msgpack_write);
	msgpack_pack_array(&pk, 7);
	msgpack_pack_uint8(&pk, 2);
	msgpack_pack_bin(&pk, 32);
	msgpack_pack_bin_body(&pk, f->alice.k.pk, 32);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_nil(&pk);
	msgpack_pack_int64(&pk, NOW);
	msgpack_pack_str(&pk, 7);
	msgpack_pack_str_body(&pk, "listing", 7);
	msgpack_pack_map(&pk, 0);
	{
		uint8_t		 sig[KX_SIG_LEN];

		crypto_sign_detached(sig, NULL, body.data, body.len,
		    f->alice.k.sk);
		kx_buf_reset(&f->w);
		msgpack_packer_init(&pk, &f->w, kx_buf_msgpack_write);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_bin(&pk, body.len);
		msgpack_pack_bin_body(&pk, body.data, body.len);
		msgpack_pack_bin(&pk, KX_SIG_LEN);
		msgpack_pack_bin_body(&pk, sig, KX_SIG_LEN);
	}
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_REJECTED);
	assert_true(r.has_id);
	assert_non_null(strstr(r.why.text, "version:"));
	kx_buf_free(&body);
}

static void
test_admission_at_ts(void **state)
{
	fx_t		*f = *state;
	tchain_t	 bob;
	kx_result_t	 r;

	/* bob is admitted from the member message's ts until an end */
	chain_init(&bob, 0);
	bob.ts = f->op.ts;		/* before his admission */
	next(&bob, &f->w, "listing", LISTING);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_REJECTED);
	assert_non_null(strstr(r.why.text, "admission:"));
	/* admit bob until op.ts + 10 s (member ts = op.ts + 1 s) */
	{
		char	 body[512];

		snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":"
		    "\"farm\",\"until\":%lld}", bob.k.hex,
		    (long long)(f->op.ts + 10000));
		next(&f->op, &f->w, "member", body);
		assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	}
	/* bob's seq 1 again, now inside his admission */
	bob.seq = 0;
	bob.ts = f->op.ts + 2000;	/* inside the admission */
	next(&bob, &f->w, "listing", LISTING);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	bob.ts = f->op.ts + 10000 - 1000;	/* next() adds 1 s: at until */
	next(&bob, &f->w, "listing", LISTING);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_REJECTED);
	assert_non_null(strstr(r.why.text, "admission:"));
}

static void
test_clock(void **state)
{
	fx_t		*f = *state;
	kx_result_t	 r;
	tchain_t	 saved;

	/* exactly 5 minutes ahead passes, one ms more does not */
	saved = f->alice;
	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp_at(f, &f->w, f->alice.ts - KX_CLOCK_SKEW_MS - 1,
	    &r), KX_REJECTED);
	assert_non_null(strstr(r.why.text, "clock:"));
	assert_int_equal(imp_at(f, &f->w, f->alice.ts - KX_CLOCK_SKEW_MS, &r),
	    KX_ACCEPTED);
	/* ts before the author's previous ts */
	saved = f->alice;
	f->alice.ts -= 5000;
	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_REJECTED);
	assert_non_null(strstr(r.why.text, "before the author's previous"));
	/* equal ts is fine */
	f->alice = saved;
	f->alice.ts -= 1000;
	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
}

/* ---- step 7 with federation state ---------------------------------- */

static void
test_invalid_kept_and_chain_continues(void **state)
{
	fx_t		*f = *state;
	kx_result_t	 r;
	char		 body[256];

	/* a household may not admit members: authentic but invalid */
	snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":\"city\","
	    "\"until\":0}", f->op.k.hex);
	next(&f->alice, &f->w, "member", body);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "authority"));
	/* a sell curve that does not rise */
	snprintf(body, sizeof(body), "{\"slot\":%llu,\"side\":\"sell\","
	    "\"steps\":[[100,900],[100,900]]}", (unsigned long long)SLOT);
	next(&f->alice, &f->w, "order", body);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "strictly rise"));
	/* the chain goes on past invalid messages */
	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
}

struct count_ctx {
	int	valid, invalid;
	char	reason[256];
};

static int
count_cb(void *arg, const kx_stored_t *s)
{
	struct count_ctx	*c = arg;

	if (s->valid)
		c->valid++;
	else {
		c->invalid++;
		snprintf(c->reason, sizeof(c->reason), "%s", s->reason);
	}
	return 0;
}

static void
test_revoke_applies_from_its_ts(void **state)
{
	fx_t		*f = *state;
	struct count_ctx c;
	kx_result_t	 r;
	char		 body[256];
	int64_t		 revoke_ts;

	next(&f->alice, &f->w, "listing", LISTING);	/* ts NOW+1s */
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	next(&f->alice, &f->w, "listing", LISTING);	/* ts NOW+2s */
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	/* the operator revokes alice at NOW + 1.5 s */
	revoke_ts = NOW + 1500;
	f->op.ts = revoke_ts - 1000;
	snprintf(body, sizeof(body), "{\"node\":\"%s\",\"reason\":\"moved\"}",
	    f->alice.k.hex);
	next(&f->op, &f->w, "revoke", body);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	/* the message after the revoke's ts is kept but marked invalid */
	memset(&c, 0, sizeof(c));
	assert_int_equal(kx_store_foreach(f->st, f->alice.k.pk, count_cb, &c),
	    KX_OK);
	assert_int_equal(c.valid, 1);
	assert_int_equal(c.invalid, 1);
	assert_non_null(strstr(c.reason, "revoked"));
	/* and nothing new is admitted */
	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_REJECTED);
	assert_non_null(strstr(r.why.text, "admission:"));
}

static void
test_roles_and_issuer_cap(void **state)
{
	fx_t		*f = *state;
	tchain_t	 city, iss;
	kx_result_t	 r;
	char		 body[256];

	chain_init(&city, NOW);
	chain_init(&iss, NOW);
	admit_member(f, &city.k, "city", "");
	admit_member(f, &iss.k, "issuer", ",\"cap\":100");
	/* a city node may not place orders, a household may */
	snprintf(body, sizeof(body), "{\"slot\":%llu,\"side\":\"buy\","
	    "\"steps\":[[100,900]]}", (unsigned long long)SLOT);
	next(&city, &f->w, "order", body);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "authority"));
	next(&f->alice, &f->w, "order", body);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	/* a city node may publish summaries, a household may not */
	next(&city, &f->w, "summary", "{\"day\":1}");
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	next(&f->alice, &f->w, "summary", "{\"day\":1}");
	assert_int_equal(imp(f, &f->w), KX_INVALID);
	/* an issuer within its cap per fiscal year */
	snprintf(body, sizeof(body), "{\"to\":\"%s\",\"points\":60,"
	    "\"program\":\"walk\",\"fy\":2026}", f->alice.k.hex);
	next(&iss, &f->w, "issue", body);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	next(&iss, &f->w, "issue", body);	/* 120 > 100 */
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "cap"));
	snprintf(body, sizeof(body), "{\"to\":\"%s\",\"points\":40,"
	    "\"program\":\"walk\",\"fy\":2026}", f->alice.k.hex);
	next(&iss, &f->w, "issue", body);	/* exactly 100 */
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	snprintf(body, sizeof(body), "{\"to\":\"%s\",\"points\":100,"
	    "\"program\":\"walk\",\"fy\":2027}", f->alice.k.hex);
	iss.ts = 1806505200000LL - 1000;	/* 2027-04-01 00:00 JST next */
	next(&iss, &f->w, "issue", body);	/* another year */
	assert_int_equal(imp_at(f, &f->w, iss.ts, &r), KX_ACCEPTED);
	/* a household cannot issue */
	next(&f->alice, &f->w, "issue", body);
	assert_int_equal(imp(f, &f->w), KX_INVALID);
}

static void
test_market_params_and_cancel(void **state)
{
	fx_t		*f = *state;
	tchain_t	 bob;
	kx_result_t	 r;
	char		 body[512], cbody[256], hex[2 * KX_ID_LEN + 1];
	uint8_t		 order_id[KX_ID_LEN];
	kx_params_t	 p;
	int64_t		 gate300 = ((int64_t)SLOT - 300) * 1000;
	int64_t		 gate900 = ((int64_t)SLOT - 900) * 1000;

	/* from the slot on, the gate closes 900 s before */
	snprintf(body, sizeof(body), "{\"from\":%llu,\"slot_s\":1800,"
	    "\"gate_s\":900,\"floor\":800,\"ceiling\":3100,\"fee\":500,"
	    "\"time_limit\":600,\"pt_value\":100000}",
	    (unsigned long long)SLOT);
	next(&f->op, &f->w, "market", body);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	assert_int_equal(kx_store_params(f->st, SLOT - 1800, &p), KX_OK);
	assert_int_equal(p.gate_s, 300);
	assert_int_equal(kx_store_params(f->st, SLOT, &p), KX_OK);
	assert_int_equal(p.gate_s, 900);
	assert_int_equal(kx_store_params(f->st, SLOT + 86400, &p), KX_OK);
	assert_int_equal(p.gate_s, 900);

	/* an order between the two gates is now too late */
	snprintf(body, sizeof(body), "{\"slot\":%llu,\"side\":\"sell\","
	    "\"steps\":[[100,900],[50,1000]]}", (unsigned long long)SLOT);
	f->alice.ts = gate900 - 1000;	/* next() adds 1 s: at the gate */
	next(&f->alice, &f->w, "order", body);
	assert_int_equal(imp_at(f, &f->w, gate300, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "gate"));

	/* bob orders in time, then cancels; a second cancel is invalid */
	chain_init(&bob, gate900 - 10000);
	admit_member(f, &bob.k, "ryokan", "");
	next(&bob, &f->w, "order", body);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	memcpy(order_id, bob.last, KX_ID_LEN);
	kx_hex(hex, order_id, KX_ID_LEN);
	snprintf(cbody, sizeof(cbody), "{\"order\":\"%s\"}", hex);
	next(&bob, &f->w, "cancel", cbody);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	next(&bob, &f->w, "cancel", cbody);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "already cancelled"));
	/* alice cannot cancel bob's order */
	next(&f->alice, &f->w, "cancel", cbody);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "same author"));
	/* a cancel after the gate is invalid */
	next(&bob, &f->w, "order", body);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	kx_hex(hex, bob.last, KX_ID_LEN);
	snprintf(cbody, sizeof(cbody), "{\"order\":\"%s\"}", hex);
	bob.ts = gate900;
	next(&bob, &f->w, "cancel", cbody);
	assert_int_equal(imp_at(f, &f->w, gate900 + 5000, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "gate"));
	/* a cancel naming no order */
	memset(order_id, 9, sizeof(order_id));
	kx_hex(hex, order_id, KX_ID_LEN);
	snprintf(cbody, sizeof(cbody), "{\"order\":\"%s\"}", hex);
	next(&bob, &f->w, "cancel", cbody);
	assert_int_equal(imp_at(f, &f->w, gate900 + 5000, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "no such order"));
}

static void
test_pay_recipient(void **state)
{
	fx_t		*f = *state;
	tkey_t		 stranger;
	kx_result_t	 r;
	char		 body[256];

	tkey_new(&stranger);
	snprintf(body, sizeof(body), "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":30,\"in\":[]}", stranger.hex);
	next(&f->alice, &f->w, "pay", body);
	/* a received pay's `to` is judged by the ledger (tests/test_community.c) */
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_ACCEPTED);
	snprintf(body, sizeof(body), "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":30}", f->alice.k.hex);
	next(&f->alice, &f->w, "pay", body);
	assert_int_equal(imp_at(f, &f->w, NOW + 3600000, &r), KX_INVALID);
	assert_non_null(strstr(r.why.text, "payer"));
	snprintf(body, sizeof(body), "{\"cur\":\"time\",\"to\":\"%s\","
	    "\"amount\":30,\"memo\":\"tea\"}", f->op.k.hex);
	next(&f->alice, &f->w, "pay", body);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
}

/* ---- own messages, batches -------------------------------------------- */

static void
test_append_own(void **state)
{
	fx_t		*f = *state;
	kx_head_t	 h;
	kx_msg_t	 m;
	kx_why_t	 why;
	kx_buf_t	 body;
	char		 err[128];
	const char	*bad = "{\"slot\":1,\"side\":\"sell\",\"steps\":[]}";

	kx_buf_init(&body);
	assert_int_equal(kx_json_to_mp(&body, LISTING, strlen(LISTING), NULL,
	    err, sizeof(err)), 0);
	assert_int_equal(kx_store_append_own(f->st, f->alice.k.sk, "listing",
	    body.data, body.len, NOW + 5, &f->w, &why), KX_OK);
	assert_int_equal(kx_msg_decode(&m, f->w.data, f->w.len, NULL), KX_OK);
	assert_int_equal(m.seq, 1);
	assert_null(m.prev);
	assert_int_equal(kx_store_append_own(f->st, f->alice.k.sk, "listing",
	    body.data, body.len, NOW + 6, &f->w, &why), KX_OK);
	assert_int_equal(kx_msg_decode(&m, f->w.data, f->w.len, NULL), KX_OK);
	assert_int_equal(m.seq, 2);
	assert_non_null(m.prev);
	/* refused: ts going back, invalid body; nothing appended */
	assert_int_equal(kx_store_append_own(f->st, f->alice.k.sk, "listing",
	    body.data, body.len, NOW, &f->w, &why), KX_ECLOCK);
	kx_buf_reset(&body);
	assert_int_equal(kx_json_to_mp(&body, bad, strlen(bad), NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(kx_store_append_own(f->st, f->alice.k.sk, "order",
	    body.data, body.len, NOW + 7, &f->w, &why), KX_EBODY);
	assert_non_null(strstr(why.text, "body:"));
	assert_int_equal(kx_store_head(f->st, f->alice.k.pk, &h), 1);
	assert_int_equal(h.last_seq, 2);
	kx_buf_free(&body);
}

static void
test_batch_abort_and_commit(void **state)
{
	fx_t		*f = *state;
	kx_buf_t	 m1, m2;
	kx_head_t	 h;
	kx_result_t	 r;

	kx_buf_init(&m1); kx_buf_init(&m2);
	next(&f->alice, &m1, "listing", LISTING);
	next(&f->alice, &m2, "listing", LISTING);
	assert_int_equal(kx_store_begin(f->st), KX_OK);
	assert_int_equal(kx_store_begin(f->st), KX_EBUSY);
	assert_int_equal(imp(f, &m1), KX_ACCEPTED);
	assert_int_equal(imp(f, &m2), KX_ACCEPTED);
	/* reads inside the batch see its writes */
	assert_int_equal(kx_store_head(f->st, f->alice.k.pk, &h), 1);
	assert_int_equal(h.last_seq, 2);
	kx_store_abort(f->st);
	assert_int_equal(kx_store_head(f->st, f->alice.k.pk, &h), 0);
	assert_int_equal(kx_store_commit(f->st), KX_EBUSY);
	assert_int_equal(kx_store_begin(f->st), KX_OK);
	assert_int_equal(imp_at(f, &m1, NOW + 3600000, &r), KX_ACCEPTED);
	assert_int_equal(imp_at(f, &m2, NOW + 3600000, &r), KX_ACCEPTED);
	assert_int_equal(kx_store_commit(f->st), KX_OK);
	reopen(f);
	assert_int_equal(kx_store_head(f->st, f->alice.k.pk, &h), 1);
	assert_int_equal(h.last_seq, 2);
	kx_buf_free(&m1); kx_buf_free(&m2);
}

static void
test_operators_persist_and_open_errors(void **state)
{
	fx_t		*f = *state;
	kx_why_t	 why;
	char		 path[512];
	FILE		*fp;

	assert_true(kx_store_is_operator(f->st, f->op.k.pk));
	assert_false(kx_store_is_operator(f->st, f->alice.k.pk));
	reopen(f);
	assert_true(kx_store_is_operator(f->st, f->op.k.pk));
	assert_int_equal(kx_store_operator_count(f->st), 1);
	/* a file where the folder should be */
	snprintf(path, sizeof(path), "%s/not-a-dir", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_null(kx_store_open(path, 0, &why));
	assert_non_null(strstr(why.text, "store:"));
}

struct mem_ctx {
	int		 n;
	unsigned	 roles;		/* 1 << role of each */
	char		 endpoint[KX_ENDPOINT_MAX + 1];	/* the farm's */
};

static int
mem_cb(void *arg, const kx_member_t *m)
{
	struct mem_ctx	*mc = arg;

	mc->n++;
	mc->roles |= 1u << m->role;
	if (m->role == KX_ROLE_FARM)
		snprintf(mc->endpoint, sizeof(mc->endpoint), "%s",
		    m->endpoint);
	return 0;
}

static int
head_count(void *arg, const uint8_t *author, const kx_head_t *h)
{
	(void)author;
	*(uint64_t *)arg += h->last_seq;
	return 0;
}

static void
test_members_heads_get(void **state)
{
	fx_t		*f = *state;
	struct mem_ctx	 mc;
	kx_buf_t	 out;
	uint64_t	 total = 0;
	bool		 valid = false;
	char		 body[256];
	tkey_t		 bob;

	/* alice (no endpoint given) is a member; bob joins with one */
	tkey_new(&bob);
	snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":\"farm\","
	    "\"endpoint\":\"tcp://127.0.0.1:7002\",\"until\":%lld}", bob.hex,
	    (long long)(f->op.ts + 60000));
	next(&f->op, &f->w, "member", body);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	memset(&mc, 0, sizeof(mc));
	assert_int_equal(kx_store_members(f->st, f->op.ts, mem_cb, &mc), KX_OK);
	assert_int_equal(mc.n, 2);
	assert_int_equal(mc.roles, 1u << KX_ROLE_FARM | 1u << KX_ROLE_HOUSEHOLD);
	assert_string_equal(mc.endpoint, "tcp://127.0.0.1:7002");
	memset(&mc, 0, sizeof(mc));
	/* before bob's admission only alice; after his until only alice */
	assert_int_equal(kx_store_members(f->st, f->op.ts - 1, mem_cb, &mc),
	    KX_OK);
	assert_int_equal(mc.n, 1);
	assert_int_equal(mc.roles, 1u << KX_ROLE_HOUSEHOLD);
	memset(&mc, 0, sizeof(mc));
	assert_int_equal(kx_store_members(f->st, f->op.ts + 60000, mem_cb,
	    &mc), KX_OK);
	assert_int_equal(mc.n, 1);
	assert_int_equal(mc.roles, 1u << KX_ROLE_HOUSEHOLD);
	/* heads: the operator has 2 messages */
	assert_int_equal(kx_store_heads(f->st, head_count, &total), KX_OK);
	assert_int_equal(total, 2);
	/* get */
	kx_buf_init(&out);
	assert_int_equal(kx_store_get(f->st, f->op.k.pk, 2, &out, &valid), 1);
	assert_true(valid);
	assert_int_equal(out.len, f->w.len);
	assert_memory_equal(out.data, f->w.data, out.len);
	assert_int_equal(kx_store_get(f->st, f->op.k.pk, 3, &out, NULL), 0);
	kx_buf_free(&out);
}

/* Deletes one id index entry behind the store's back. */
static void
damage_ids(const char *dir, const uint8_t *id)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "ids", 0, &dbi), 0);
	k.mv_data = (void *)(uintptr_t)id;
	k.mv_size = KX_ID_LEN;
	assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void
test_verify_detects_damage(void **state)
{
	fx_t		*f = *state;
	kx_why_t	 why;

	next(&f->alice, &f->w, "listing", LISTING);
	assert_int_equal(imp(f, &f->w), KX_ACCEPTED);
	assert_int_equal(kx_store_verify(f->st, &why), KX_OK);
	assert_non_null(strstr(why.text, "2 messages"));
	kx_store_close(&f->st);
	damage_ids(f->dir, f->alice.last);
	reopen(f);
	assert_int_equal(kx_store_verify(f->st, &why), KX_ESTORE);
	assert_non_null(strstr(why.text, "id index misses"));
	kx_store_close(&f->st);	/* teardown would find it damaged */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_accept_and_duplicate),
		T(test_gap_held_and_released),
		T(test_held_survives_restart),
		T(test_held_needs_signature),
		T(test_held_limit),
		T(test_prev_mismatch),
		T(test_fork_freezes_author),
		T(test_fork_among_held),
		T(test_garbage_and_version),
		T(test_admission_at_ts),
		T(test_clock),
		T(test_invalid_kept_and_chain_continues),
		T(test_revoke_applies_from_its_ts),
		T(test_roles_and_issuer_cap),
		T(test_market_params_and_cancel),
		T(test_pay_recipient),
		T(test_append_own),
		T(test_batch_abort_and_commit),
		T(test_operators_persist_and_open_errors),
		T(test_verify_detects_damage),
		T(test_members_heads_get),
#undef T
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
