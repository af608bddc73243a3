/*
 * communityd.c - community requests of the control socket, see
 * communityd.h.
 *
 * Arguments come from the owner's kaga-ctl over an owner-only socket, but
 * are still checked like outside bytes (kx_mp_check, sizes, ranges) before
 * a field is read. Every answer is computed from the store at the time of
 * the request by a fresh kx_ledger_t, so it is what any node holding the
 * same messages would answer.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "body.h"
#include "communityd.h"
#include "json.h"
#include "ledger.h"
#include "listings.h"
#include "mp.h"

#define MEMO_MAX	140	/* bytes, PROTOCOL.md 5.3 */

/* The parsed arguments of a request. */
struct args {
	bool		 has_of;
	uint8_t		 of[KX_PK_LEN];
	int		 cur;		/* -1: not given */
	bool		 has_to;
	uint8_t		 to[KX_PK_LEN];
	uint64_t	 amount;	/* 0: not given */
	const uint8_t	*memo;
	uint32_t	 memo_len;
};

/* A byte string as a JSON string (through the msgpack printer). */
static void
json_strn(kx_buf_t *out, const void *p, size_t n)
{
	uint8_t	 t[2 + 255];

	if (n > 255)
		n = 255;
	t[0] = 0xd9;
	t[1] = (uint8_t)n;
	memcpy(t + 2, p, n);
	if (kx_mp_to_json(out, t, n + 2) == -1)
		kx_buf_puts(out, "\"\"");
}

static void
json_hex(kx_buf_t *out, const uint8_t *p, size_t n)
{
	kx_buf_putc(out, '"');
	kx_buf_hex(out, p, n);
	kx_buf_putc(out, '"');
}

static const char *
cur_name(int cur)
{
	return cur == KX_CUR_TIME ? "time" : "health";
}

static int
fail(kx_buf_t *out, const char *text)
{
	kx_buf_reset(out);
	kx_buf_puts(out, text);
	return -1;
}

static int
parse_args(const uint8_t *p, size_t n, struct args *a, kx_buf_t *out)
{
	kx_mp_cur_t	 c, e;
	kx_mp_val_t	 map, k, v;
	uint32_t	 i;

	memset(a, 0, sizeof(*a));
	a->cur = -1;
	kx_mp_cur_init(&c, p, n);
	if (kx_mp_check(&c, 2, true) != KX_MP_OK || kx_mp_left(&c) != 0)
		return fail(out, "community: arguments are not a msgpack map");
	kx_mp_cur_init(&c, p, n);
	if (kx_mp_read(&c, &map) != KX_MP_OK || map.kind != KX_MP_MAP)
		return fail(out, "community: arguments are not a msgpack map");
	for (i = 0; i < map.len; i++) {
		if (kx_mp_read(&c, &k) != KX_MP_OK)
			return fail(out, "community: malformed arguments");
		e = c;
		if (kx_mp_read(&e, &v) != KX_MP_OK ||
		    kx_mp_skip(&c, 2) != KX_MP_OK)
			return fail(out, "community: malformed arguments");
#define KEY(s)	(k.len == strlen(s) && memcmp(k.ptr, s, k.len) == 0)
		if (KEY("of") || KEY("to")) {
			if (v.kind != KX_MP_BIN || v.len != KX_PK_LEN)
				return fail(out, "community: a key must be "
				    "bin(32)");
			memcpy(KEY("of") ? a->of : a->to, v.ptr, KX_PK_LEN);
			if (KEY("of"))
				a->has_of = true;
			else
				a->has_to = true;
		} else if (KEY("cur")) {
			if (v.kind == KX_MP_STR && v.len == 6 &&
			    memcmp(v.ptr, "health", 6) == 0)
				a->cur = KX_CUR_HEALTH;
			else if (v.kind == KX_MP_STR && v.len == 4 &&
			    memcmp(v.ptr, "time", 4) == 0)
				a->cur = KX_CUR_TIME;
			else
				return fail(out, "community: cur must be "
				    "health or time");
		} else if (KEY("amount")) {
			if (v.kind != KX_MP_UINT || v.u == 0 ||
			    v.u > UINT32_MAX)
				return fail(out, "community: amount must be 1 "
				    "to 4294967295");
			a->amount = v.u;
		} else if (KEY("memo")) {
			if (v.kind != KX_MP_STR || v.len > MEMO_MAX)
				return fail(out, "community: memo must be text "
				    "of at most 140 bytes");
			a->memo = v.ptr;
			a->memo_len = v.len;
		} else
			return fail(out, "community: unknown argument");
#undef KEY
	}
	return 0;
}

/* ---- balance ------------------------------------------------------------- */

static int
balance_one(kx_ledger_t *l, const uint8_t *who, int cur, int64_t now,
    kx_buf_t *out)
{
	kx_balance_t	 b;
	int64_t		 low, avail;

	if (kx_ledger_balance(l, who, cur, &b) != KX_OK ||
	    kx_ledger_limit(l, cur, now, &low) != KX_OK)
		return -1;
	avail = b.pending_seq != 0 || b.balance - low < 0 ? 0 :
	    b.balance - low;
	kx_buf_printf(out, "\"%s\":{\"balance\":%" PRId64 ",\"cited\":%" PRId64
	    ",\"uncited\":%" PRId64 ",\"received\":%" PRId64 ",\"paid\":%"
	    PRId64 ",\"limit\":%" PRId64 ",\"available\":%" PRId64
	    ",\"pending_in\":%" PRId64 ",\"pending_out\":%" PRId64
	    ",\"pending_seq\":%" PRIu64 ",\"credits\":%u,\"pays\":{\"valid\":%u,"
	    "\"invalid\":%u,\"pending\":%u}}", cur_name(cur), b.balance,
	    b.cited, b.uncited, b.received, b.paid, low, avail, b.pending_in,
	    b.pending_out, b.pending_seq, b.n_in, b.n_valid_out,
	    b.n_invalid_out, b.n_pending_out);
	return 0;
}

static int
do_balance(kx_store_t *st, const uint8_t *who, int cur, int64_t now,
    kx_buf_t *out)
{
	kx_ledger_t	*l;
	int		 rc = 0;

	if ((l = kx_ledger_new(st)) == NULL)
		return fail(out, "community: out of memory");
	kx_buf_puts(out, "{\"member\":");
	json_hex(out, who, KX_PK_LEN);
	if (cur != KX_CUR_TIME) {
		kx_buf_putc(out, ',');
		rc = balance_one(l, who, KX_CUR_HEALTH, now, out);
	}
	if (rc == 0 && cur != KX_CUR_HEALTH) {
		kx_buf_putc(out, ',');
		rc = balance_one(l, who, KX_CUR_TIME, now, out);
	}
	kx_buf_putc(out, '}');
	kx_ledger_free(&l);
	return rc == 0 ? 0 : fail(out, "community: store read failed");
}

/* ---- history ------------------------------------------------------------- */

struct hist {
	kx_buf_t	*out;
	bool		 first;
};

static int
hist_one(void *arg, const kx_entry_t *e)
{
	struct hist	*h = arg;
	kx_buf_t	*out = h->out;

	kx_buf_printf(out, "%s{\"dir\":\"%s\",\"cur\":\"%s\",\"type\":\"%s\","
	    "\"author\":", h->first ? "" : ",", e->out ? "out" : "in",
	    cur_name(e->cur), e->type == KX_T_ISSUE ? "issue" : "pay");
	h->first = false;
	json_hex(out, e->author, KX_PK_LEN);
	kx_buf_printf(out, ",\"seq\":%" PRIu64 ",\"id\":", e->seq);
	json_hex(out, e->id, KX_ID_LEN);
	kx_buf_printf(out, ",\"ts\":%" PRId64 ",\"to\":", e->ts);
	json_hex(out, e->to, KX_PK_LEN);
	kx_buf_printf(out, ",\"amount\":%u,\"status\":\"%s\"", e->amount,
	    kx_pay_status_name(e->status));
	if (e->reason[0] != '\0') {
		kx_buf_puts(out, ",\"reason\":");
		json_strn(out, e->reason, strlen(e->reason));
	}
	if (e->memo_len > 0) {
		kx_buf_puts(out, ",\"memo\":");
		json_strn(out, e->memo, e->memo_len);
	}
	if (e->out) {
		kx_buf_printf(out, ",\"in\":%u", e->n_in);
		if (e->status == KX_PAY_VALID)
			kx_buf_printf(out, ",\"cited_after\":%" PRId64,
			    e->cited_after);
	} else if (e->cited_by != 0)
		kx_buf_printf(out, ",\"cited_by\":%" PRIu64, e->cited_by);
	else
		kx_buf_puts(out, ",\"cited_by\":null");
	kx_buf_putc(out, '}');
	return out->oom;
}

static int
do_history(kx_store_t *st, const uint8_t *who, int cur, kx_buf_t *out)
{
	kx_ledger_t	*l;
	struct hist	 h;
	int		 rc;

	if ((l = kx_ledger_new(st)) == NULL)
		return fail(out, "community: out of memory");
	kx_buf_puts(out, "{\"member\":");
	json_hex(out, who, KX_PK_LEN);
	kx_buf_puts(out, ",\"entries\":[");
	h.out = out;
	h.first = true;
	rc = kx_ledger_history(l, who, cur, hist_one, &h);
	kx_buf_puts(out, "]}");
	kx_ledger_free(&l);
	return rc == KX_OK ? 0 : fail(out, "community: store read failed");
}

/* ---- listings ------------------------------------------------------------ */

static int
list_one(void *arg, const kx_listing_t *li)
{
	struct hist	*h = arg;
	kx_buf_t	*out = h->out;

	kx_buf_printf(out, "%s{\"author\":", h->first ? "" : ",");
	h->first = false;
	json_hex(out, li->author, KX_PK_LEN);
	kx_buf_printf(out, ",\"seq\":%" PRIu64 ",\"id\":", li->seq);
	json_hex(out, li->id, KX_ID_LEN);
	kx_buf_printf(out, ",\"ts\":%" PRId64 ",\"kind\":\"%s\",\"title\":",
	    li->ts, li->kind == KX_WANT ? "want" : "offer");
	json_strn(out, li->title, li->title_len);
	kx_buf_puts(out, ",\"area\":");
	json_strn(out, li->area, li->area_len);
	kx_buf_printf(out, ",\"until\":%" PRId64 "}", li->until);
	return out->oom;
}

static int
do_listings(kx_store_t *st, int64_t now, kx_buf_t *out)
{
	struct hist	 h;
	int		 rc;

	kx_buf_puts(out, "{\"listings\":[");
	h.out = out;
	h.first = true;
	rc = kx_listings_current(st, now, list_one, &h);
	kx_buf_puts(out, "]}");
	return rc == KX_OK ? 0 : fail(out, "community: store read failed");
}

/* ---- pay ----------------------------------------------------------------- */

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

static int
do_pay(kx_store_t *st, const uint8_t *me, const struct args *a, int64_t now,
    kx_publish_fn publish, void *ctx, kx_buf_t *out)
{
	kx_ledger_t	*l = NULL;
	kx_pay_status_t	 s;
	kx_balance_t	 b;
	kx_head_t	 h;
	kx_role_t	 role;
	kx_why_t	 why;
	kx_buf_t	 body;
	msgpack_packer	 pk;
	uint8_t		(*ids)[KX_ID_LEN] = NULL;
	char		 err[256], msg[320];
	size_t		 n = 0, i;
	int		 rc = -1, r;

	kx_buf_init(&body);
	if (a->cur == -1 || !a->has_to || a->amount == 0)
		return fail(out, "pay: cur, to and amount are required");
	if (memcmp(a->to, me, KX_PK_LEN) == 0)
		return fail(out, "pay: to is this node's own key");
	if (kx_store_role_at(st, a->to, now, &role) != KX_OK)
		return fail(out, "pay: store read failed");
	if (role == KX_ROLE_NONE && !kx_store_is_operator(st, a->to))
		return fail(out, "pay: to is not an admitted member or an "
		    "operator key");
	if ((ids = calloc(KX_CITES_MAX, sizeof(*ids))) == NULL ||
	    (l = kx_ledger_new(st)) == NULL) {
		fail(out, "pay: out of memory");
		goto done;
	}
	r = kx_ledger_pick(l, me, a->cur, (uint32_t)a->amount, now, ids,
	    KX_CITES_MAX, &n, &why);
	kx_ledger_free(&l);
	if (r != KX_OK) {
		fail(out, r == KX_ESTORE || r == KX_ENOMEM ?
		    "pay: store read failed" : why.text);
		goto done;
	}
	msgpack_packer_init(&pk, &body, kx_buf_msgpack_write);
	msgpack_pack_map(&pk, a->memo != NULL ? 5 : 4);
	pack_str(&pk, "cur");
	pack_str(&pk, cur_name(a->cur));
	pack_str(&pk, "to");
	msgpack_pack_bin(&pk, KX_PK_LEN);
	msgpack_pack_bin_body(&pk, a->to, KX_PK_LEN);
	pack_str(&pk, "amount");
	msgpack_pack_uint32(&pk, (uint32_t)a->amount);
	if (a->memo != NULL) {
		pack_str(&pk, "memo");
		msgpack_pack_str(&pk, a->memo_len);
		msgpack_pack_str_body(&pk, a->memo, a->memo_len);
	}
	pack_str(&pk, "in");
	msgpack_pack_array(&pk, n);
	for (i = 0; i < n; i++) {
		msgpack_pack_bin(&pk, KX_ID_LEN);
		msgpack_pack_bin_body(&pk, ids[i], KX_ID_LEN);
	}
	if (body.oom) {
		fail(out, "pay: out of memory");
		goto done;
	}
	if (publish(ctx, "pay", body.data, body.len, err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "pay: %s", err);
		fail(out, msg);
		goto done;
	}
	/* what it is now, as any node holding the same messages sees it */
	if (kx_store_head(st, me, &h) != 1 || (l = kx_ledger_new(st)) ==
	    NULL || kx_ledger_pay_status(l, me, h.last_seq, &s, &why) !=
	    KX_OK || kx_ledger_balance(l, me, a->cur, &b) != KX_OK) {
		fail(out, "pay: published, but the store could not be read "
		    "back");
		goto done;
	}
	kx_buf_printf(out, "{\"seq\":%" PRIu64 ",\"id\":", h.last_seq);
	json_hex(out, h.last_id, KX_ID_LEN);
	kx_buf_printf(out, ",\"cur\":\"%s\",\"to\":", cur_name(a->cur));
	json_hex(out, a->to, KX_PK_LEN);
	kx_buf_printf(out, ",\"amount\":%" PRIu64 ",\"in\":[", a->amount);
	for (i = 0; i < n; i++) {
		if (i > 0)
			kx_buf_putc(out, ',');
		json_hex(out, ids[i], KX_ID_LEN);
	}
	kx_buf_printf(out, "],\"status\":\"%s\"", kx_pay_status_name(s));
	if (why.text[0] != '\0') {
		kx_buf_puts(out, ",\"reason\":");
		json_strn(out, why.text, strlen(why.text));
	}
	kx_buf_printf(out, ",\"balance\":%" PRId64 ",\"cited\":%" PRId64 "}",
	    b.balance, b.cited);
	rc = 0;
done:
	kx_ledger_free(&l);
	kx_buf_free(&body);
	free(ids);
	return rc;
}

int
kx_commd_request(kx_store_t *st, const uint8_t pk[KX_PK_LEN],
    const uint8_t *sub, size_t sublen, const uint8_t *args, size_t argslen,
    int64_t now_ms, kx_publish_fn publish, void *ctx, kx_buf_t *out)
{
	struct args	 a;
	const uint8_t	*who;

#define SUB(s)	(sublen == strlen(s) && memcmp(sub, s, sublen) == 0)
	if (parse_args(args, argslen, &a, out) == -1)
		return -1;
	who = a.has_of ? a.of : pk;
	if (SUB("balance"))
		return do_balance(st, who, a.cur, now_ms, out);
	if (SUB("history"))
		return do_history(st, who, a.cur, out);
	if (SUB("listings"))
		return do_listings(st, now_ms, out);
	if (SUB("pay")) {
		if (a.has_of)
			return fail(out, "pay: of is not an argument of pay");
		return do_pay(st, pk, &a, now_ms, publish, ctx, out);
	}
#undef SUB
	return fail(out, "community: unknown request");
}
