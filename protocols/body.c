/*
 * body.c - body schemas of PROTOCOL.md section 5, see body.h.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "body.h"
#include "mp.h"

void
kx_params_default(kx_params_t *p)
{
	memset(p, 0, sizeof(*p));
	p->from = 0;
	p->slot_s = 1800;
	p->gate_s = 300;
	p->floor = 800;
	p->ceiling = 3100;
	p->fee = 500;
	p->time_limit = 600;
	p->pt_value = 100000;
}

static const struct {
	const char	*name;
	kx_type_t	 type;
} types[] = {
	{ "member", KX_T_MEMBER },	{ "revoke", KX_T_REVOKE },
	{ "market", KX_T_MARKET },	{ "order", KX_T_ORDER },
	{ "cancel", KX_T_CANCEL },	{ "clear", KX_T_CLEAR },
	{ "reading", KX_T_READING },	{ "settle", KX_T_SETTLE },
	{ "issue", KX_T_ISSUE },	{ "pay", KX_T_PAY },
	{ "listing", KX_T_LISTING },	{ "summary", KX_T_SUMMARY },
};

kx_type_t
kx_type_of(const char *type)
{
	size_t	 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, type) == 0)
			return types[i].type;
	return KX_T_UNKNOWN;
}

static const char *const role_names[] = {
	[KX_ROLE_NONE] = "none",	[KX_ROLE_HOUSEHOLD] = "household",
	[KX_ROLE_RYOKAN] = "ryokan",	[KX_ROLE_FARM] = "farm",
	[KX_ROLE_BUSINESS] = "business", [KX_ROLE_OPERATOR] = "operator",
	[KX_ROLE_ISSUER] = "issuer",	[KX_ROLE_MERCHANT] = "merchant",
	[KX_ROLE_CITY] = "city",
};

kx_role_t
kx_role_of(const char *s, size_t len)
{
	int	 i;

	for (i = KX_ROLE_HOUSEHOLD; i <= KX_ROLE_CITY; i++)
		if (strlen(role_names[i]) == len &&
		    memcmp(role_names[i], s, len) == 0)
			return (kx_role_t)i;
	return KX_ROLE_NONE;
}

const char *
kx_role_name(kx_role_t r)
{
	if ((int)r < 0 || r > KX_ROLE_CITY)
		return "none";
	return role_names[r];
}

int64_t
kx_gate_ms(uint64_t slot, uint64_t gate_s)
{
	__int128	 t = ((__int128)slot - (__int128)gate_s) * 1000;

	if (t > INT64_MAX)
		return INT64_MAX;
	if (t < INT64_MIN)
		return INT64_MIN;
	return (int64_t)t;
}

/* Reading a body: the map header and a cursor on its elements. */
typedef struct {
	kx_mp_val_t	 map;
	kx_mp_cur_t	 elems;
	const char	*type;
	kx_why_t	*why;
} body_ctx;

static int
bad(body_ctx *bc, const char *fmt, const char *field)
{
	char	 msg[128];

	/* fmt holds one %s for the field */
	snprintf(msg, sizeof(msg), fmt, field);
	kx_why_set(bc->why, "body: %s: %s", bc->type, msg);
	return KX_EBODY;
}

/* 1 found, 0 absent and optional, KX_EBODY absent and required. */
static int
field(body_ctx *bc, const char *key, bool required, kx_mp_val_t *v,
    kx_mp_cur_t *after)
{
	int	 r;

	r = kx_mp_map_get(&bc->map, bc->elems, key, v, after);
	if (r < 0)
		return bad(bc, "%s: unreadable", key);
	if (r == 0 && required)
		return bad(bc, "missing %s", key);
	return r;
}

static int
f_uint(body_ctx *bc, const char *key, bool required, uint64_t max,
    uint64_t *out)
{
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;
	int		 r;

	if ((r = field(bc, key, required, &v, &a)) != 1)
		return r;
	if (v.kind != KX_MP_UINT)
		return bad(bc, "%s must be an unsigned integer", key);
	if (v.u > max) {
		char	 msg[96];

		snprintf(msg, sizeof(msg), "%%s is over %llu",
		    (unsigned long long)max);
		return bad(bc, msg, key);
	}
	*out = v.u;
	return 1;
}

static int
f_int(body_ctx *bc, const char *key, bool required, int64_t *out)
{
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;
	int		 r;

	if ((r = field(bc, key, required, &v, &a)) != 1)
		return r;
	if (v.kind == KX_MP_UINT && v.u <= INT64_MAX)
		*out = (int64_t)v.u;
	else if (v.kind == KX_MP_NINT)
		*out = v.i;
	else
		return bad(bc, "%s must be an int64", key);
	return 1;
}

static int
f_bin(body_ctx *bc, const char *key, bool required, uint32_t len,
    const uint8_t **out)
{
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;
	int		 r;

	if ((r = field(bc, key, required, &v, &a)) != 1)
		return r;
	if (v.kind != KX_MP_BIN || v.len != len)
		return bad(bc, len == 32 ? "%s must be bin(32)" :
		    "%s has the wrong type", key);
	*out = v.ptr;
	return 1;
}

/* A string of at most max bytes; *out/len untouched when absent. */
static int
f_str(body_ctx *bc, const char *key, bool required, uint32_t max,
    const uint8_t **out, uint32_t *len)
{
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;
	int		 r;

	if ((r = field(bc, key, required, &v, &a)) != 1)
		return r;
	if (v.kind != KX_MP_STR)
		return bad(bc, "%s must be a string", key);
	if (v.len > max) {
		char	 msg[96];

		snprintf(msg, sizeof(msg), "%%s is longer than %u bytes", max);
		return bad(bc, msg, key);
	}
	*out = v.ptr;
	*len = v.len;
	return 1;
}

/* Maps a string field onto one of `names` (index into it). */
static int
f_enum(body_ctx *bc, const char *key, const char *const *names, int *out)
{
	const uint8_t	*s = NULL;
	uint32_t	 len = 0;
	int		 i, r;

	if ((r = f_str(bc, key, true, 64, &s, &len)) != 1)
		return r;
	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
			*out = i;
			return 1;
		}
	return bad(bc, "%s has a value that is not allowed", key);
}

/* An array field; *after is positioned on its first element. */
static int
f_array(body_ctx *bc, const char *key, bool required, uint32_t min,
    uint32_t max, kx_mp_val_t *v, kx_mp_cur_t *after)
{
	int	 r;

	if ((r = field(bc, key, required, v, after)) != 1)
		return r;
	if (v->kind != KX_MP_ARRAY)
		return bad(bc, "%s must be an array", key);
	if (v->len < min || v->len > max) {
		char	 msg[96];

		snprintf(msg, sizeof(msg), "%%s must hold %u to %u entries",
		    min, max);
		return bad(bc, msg, key);
	}
	return 1;
}

static int
slot_ok(body_ctx *bc, uint64_t slot, const kx_params_t *p)
{
	if (p->slot_s == 0 || slot % p->slot_s != 0)
		return bad(bc, "%s is not a multiple of the slot length",
		    "slot");
	return KX_OK;
}

#define TRY(x)	do { if ((r = (x)) < 0) return r; } while (0)

static int
parse_member(body_ctx *bc, kx_body_t *b)
{
	const uint8_t	*s;
	uint32_t	 len;
	uint64_t	 cap = 0;
	int		 r;

	TRY(f_bin(bc, "node", true, 32, &b->u.member.node));
	TRY(f_str(bc, "role", true, 16, &s, &len));
	if ((b->u.member.role = kx_role_of((const char *)s, len)) ==
	    KX_ROLE_NONE)
		return bad(bc, "%s is not a known role", "role");
	TRY(f_str(bc, "name", false, 64, &s, &len));
	TRY(f_str(bc, "area", false, 32, &s, &len));
	TRY(f_str(bc, "endpoint", false, 128, &b->u.member.endpoint,
	    &b->u.member.endpoint_len));
	TRY(f_int(bc, "until", true, &b->u.member.until));
	if (b->u.member.until < 0)
		return bad(bc, "%s must not be negative", "until");
	r = f_uint(bc, "cap", b->u.member.role == KX_ROLE_ISSUER, UINT64_MAX,
	    &cap);
	if (r < 0)
		return r;
	b->u.member.cap = cap;
	return KX_OK;
}

static int
parse_market(body_ctx *bc, kx_body_t *b)
{
	kx_params_t	*p = &b->u.market;
	uint64_t	 x;
	int		 r;

	TRY(f_uint(bc, "slot_s", true, UINT64_MAX, &p->slot_s));
	TRY(f_uint(bc, "gate_s", true, UINT64_MAX, &p->gate_s));
	TRY(f_uint(bc, "from", true, UINT64_MAX, &p->from));
	TRY(f_uint(bc, "floor", true, KX_PRICE_MAX, &x));
	p->floor = (uint32_t)x;
	TRY(f_uint(bc, "ceiling", true, KX_PRICE_MAX, &x));
	p->ceiling = (uint32_t)x;
	TRY(f_uint(bc, "fee", true, KX_PRICE_MAX, &x));
	p->fee = (uint32_t)x;
	TRY(f_uint(bc, "time_limit", true, UINT32_MAX, &p->time_limit));
	TRY(f_int(bc, "pt_value", true, &p->pt_value));
	if (p->floor > p->ceiling)
		return bad(bc, "%s: floor must not exceed ceiling", "prices");
	if (p->fee >= p->ceiling)
		return bad(bc, "%s: fee must be below ceiling", "prices");
	if (p->gate_s >= p->slot_s)
		return bad(bc, "%s must be below slot_s", "gate_s");
	if (p->from % p->slot_s != 0)
		return bad(bc, "%s is not a multiple of slot_s", "from");
	return KX_OK;
}

static int
parse_order(body_ctx *bc, const kx_msg_t *m, const kx_params_t *p,
    kx_body_t *b)
{
	static const char *const sides[] = { "buy", "sell", NULL };
	kx_mp_val_t	 arr, v;
	kx_mp_cur_t	 c;
	uint32_t	 i;
	char		 name[32];
	int		 r;

	TRY(f_uint(bc, "slot", true, UINT64_MAX, &b->u.order.slot));
	if ((r = slot_ok(bc, b->u.order.slot, p)) != KX_OK)
		return r;
	TRY(f_enum(bc, "side", sides, &b->u.order.side));
	TRY(f_array(bc, "steps", true, 1, KX_STEPS_MAX, &arr, &c));
	b->u.order.n = arr.len;
	for (i = 0; i < arr.len; i++) {
		snprintf(name, sizeof(name), "steps[%u]", i);
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_ARRAY ||
		    v.len != 2)
			return bad(bc, "%s must be [wh, price]", name);
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_UINT ||
		    v.u < 1 || v.u > KX_WH_STEP_MAX)
			return bad(bc, "%s: wh must be 1 to 10000000", name);
		b->u.order.wh[i] = v.u;
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_UINT ||
		    v.u > KX_PRICE_MAX)
			return bad(bc, "%s: price must be 0 to 1000000", name);
		b->u.order.price[i] = (uint32_t)v.u;
		if (i > 0 && b->u.order.side == KX_SELL &&
		    b->u.order.price[i] <= b->u.order.price[i - 1])
			return bad(bc, "%s: a sell curve's prices must "
			    "strictly rise", name);
		if (i > 0 && b->u.order.side == KX_BUY &&
		    b->u.order.price[i] >= b->u.order.price[i - 1])
			return bad(bc, "%s: a buy curve's prices must "
			    "strictly fall", name);
	}
	if (m->ts >= kx_gate_ms(b->u.order.slot, p->gate_s))
		return bad(bc, "%s is at or after the gate closure of its "
		    "slot", "ts");
	return KX_OK;
}

static int
parse_clear(body_ctx *bc, const kx_msg_t *m, kx_body_t *b)
{
	kx_mp_val_t	 arr, v;
	kx_mp_cur_t	 c, a;
	uint64_t	 x;
	uint32_t	 i;
	char		 name[32];
	int		 r;

	(void)m;
	TRY(f_uint(bc, "slot", true, UINT64_MAX, &b->u.clear.slot));
	TRY(f_bin(bc, "set", true, 32, &b->u.clear.set));
	TRY(field(bc, "price", true, &v, &a));
	if (v.kind == KX_MP_NIL)
		b->u.clear.has_price = false;
	else if (v.kind == KX_MP_UINT && v.u <= KX_PRICE_MAX) {
		b->u.clear.has_price = true;
		b->u.clear.price = (uint32_t)v.u;
	} else
		return bad(bc, "%s must be nil or 0 to 1000000", "price");
	TRY(f_uint(bc, "volume", true, UINT64_MAX, &x));
	b->u.clear.volume = x;
	if (b->u.clear.has_price != (x > 0))
		return bad(bc, "%s must be nil exactly when volume is 0",
		    "price");
	TRY(f_array(bc, "fills", true, 0, KX_LIST_MAX, &arr, &c));
	b->u.clear.n = arr.len;
	for (i = 0; i < arr.len; i++) {
		snprintf(name, sizeof(name), "fills[%u]", i);
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_ARRAY ||
		    v.len != 2)
			return bad(bc, "%s must be [order id, wh]", name);
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_BIN ||
		    v.len != 32)
			return bad(bc, "%s: order id must be bin(32)", name);
		b->u.clear.id[i] = v.ptr;
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_UINT)
			return bad(bc, "%s: wh must be an unsigned integer",
			    name);
		b->u.clear.wh[i] = v.u;
	}
	return KX_OK;
}

static int
parse_settle(body_ctx *bc, kx_body_t *b)
{
	kx_mp_val_t	 arr, v;
	kx_mp_cur_t	 c;
	__int128	 sum = 0;
	uint32_t	 i, j;
	char		 name[32];
	int		 r;

	TRY(f_uint(bc, "slot", true, UINT64_MAX, &b->u.settle.slot));
	TRY(f_array(bc, "lines", true, 0, KX_LIST_MAX, &arr, &c));
	b->u.settle.n = arr.len;
	for (i = 0; i < arr.len; i++) {
		snprintf(name, sizeof(name), "lines[%u]", i);
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_ARRAY ||
		    v.len != 2)
			return bad(bc, "%s must be [pk, money]", name);
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_BIN ||
		    v.len != 32)
			return bad(bc, "%s: pk must be bin(32)", name);
		b->u.settle.pk[i] = v.ptr;
		for (j = 0; j < i; j++)
			if (memcmp(b->u.settle.pk[j], v.ptr, 32) == 0)
				return bad(bc, "%s: a member has two lines",
				    name);
		if (kx_mp_read(&c, &v) != KX_MP_OK)
			return bad(bc, "%s: unreadable", name);
		if (v.kind == KX_MP_UINT && v.u <= INT64_MAX)
			b->u.settle.money[i] = (int64_t)v.u;
		else if (v.kind == KX_MP_NINT)
			b->u.settle.money[i] = v.i;
		else
			return bad(bc, "%s: money must be an int64", name);
		sum += b->u.settle.money[i];
	}
	if (sum != 0)
		return bad(bc, "%s do not sum to zero", "lines");
	return KX_OK;
}

static int
parse_pay(body_ctx *bc, kx_body_t *b)
{
	static const char *const curs[] = { "health", "time", NULL };
	const uint8_t	*s;
	kx_mp_val_t	 arr, v;
	kx_mp_cur_t	 c;
	uint64_t	 x;
	uint32_t	 i, j, len;
	char		 name[32];
	int		 r;

	TRY(f_enum(bc, "cur", curs, &b->u.pay.cur));
	TRY(f_bin(bc, "to", true, 32, &b->u.pay.to));
	TRY(f_uint(bc, "amount", true, UINT32_MAX, &x));
	if (x == 0)
		return bad(bc, "%s must be above 0", "amount");
	b->u.pay.amount = (uint32_t)x;
	TRY(f_str(bc, "memo", false, 140, &s, &len));
	r = f_array(bc, "in", false, 0, KX_LIST_MAX, &arr, &c);
	if (r < 0)
		return r;
	b->u.pay.n_in = r == 1 ? arr.len : 0;
	for (i = 0; i < b->u.pay.n_in; i++) {
		snprintf(name, sizeof(name), "in[%u]", i);
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_BIN ||
		    v.len != 32)
			return bad(bc, "%s must be an id, bin(32)", name);
		b->u.pay.in[i] = v.ptr;
		for (j = 0; j < i; j++)
			if (memcmp(b->u.pay.in[j], v.ptr, 32) == 0)
				return bad(bc, "%s cites an id twice", name);
	}
	return KX_OK;
}

int
kx_body_parse(kx_body_t *b, const kx_msg_t *m, const kx_params_t *p,
    kx_why_t *why)
{
	static const char *const kinds[] = { "offer", "want", NULL };
	static const char *const timecur[] = { "time", NULL };
	body_ctx	 bc;
	const uint8_t	*s;
	uint64_t	 x;
	uint32_t	 len;
	int		 r, cur;

	/*
	 * Every member of the union keeps its scalars before its arrays, and
	 * arrays are read only up to their counts: clearing the size of the
	 * largest scalar part (order's) is enough, and cheaper than the
	 * whole 8 KiB on the admission path.
	 */
	memset(b, 0, offsetof(kx_body_t, u) + sizeof(b->u.order));
	b->type = kx_type_of(m->type);
	bc.type = m->type;
	bc.why = why;
	kx_mp_cur_init(&bc.elems, m->body, m->body_len);
	if (kx_mp_read(&bc.elems, &bc.map) != KX_MP_OK ||
	    bc.map.kind != KX_MP_MAP) {
		kx_why_set(why, "body: not a map");
		return KX_EBODY;
	}
	switch (b->type) {
	case KX_T_UNKNOWN:
	case KX_T_SUMMARY:	/* aggregates: open schema (section 9) */
		return KX_OK;
	case KX_T_MEMBER:
		return parse_member(&bc, b);
	case KX_T_REVOKE:
		TRY(f_bin(&bc, "node", true, 32, &b->u.revoke.node));
		TRY(f_str(&bc, "reason", false, 256, &s, &len));
		return KX_OK;
	case KX_T_MARKET:
		return parse_market(&bc, b);
	case KX_T_ORDER:
		return parse_order(&bc, m, p, b);
	case KX_T_CANCEL:
		TRY(f_bin(&bc, "order", true, 32, &b->u.cancel.order));
		return KX_OK;
	case KX_T_CLEAR:
		return parse_clear(&bc, m, b);
	case KX_T_READING:
		TRY(f_uint(&bc, "slot", true, UINT64_MAX, &b->u.reading.slot));
		TRY(f_bin(&bc, "to", true, 32, &b->u.reading.to));
		{
			kx_mp_val_t	 v;
			kx_mp_cur_t	 a;

			TRY(field(&bc, "box", true, &v, &a));
			if (v.kind != KX_MP_BIN || v.len < KX_SEAL_MIN ||
			    v.len > KX_SEAL_MAX)
				return bad(&bc, "%s must be a sealed box, "
				    "bin(49 to 1024)", "box");
			b->u.reading.box = v.ptr;
			b->u.reading.box_len = v.len;
		}
		return KX_OK;
	case KX_T_SETTLE:
		return parse_settle(&bc, b);
	case KX_T_ISSUE:
		TRY(f_bin(&bc, "to", true, 32, &b->u.issue.to));
		TRY(f_uint(&bc, "points", true, UINT32_MAX, &x));
		b->u.issue.points = (uint32_t)x;
		TRY(f_str(&bc, "program", false, 32, &s, &len));
		TRY(f_uint(&bc, "fy", true, UINT64_MAX, &b->u.issue.fy));
		return KX_OK;
	case KX_T_PAY:
		return parse_pay(&bc, b);
	case KX_T_LISTING:
		TRY(f_enum(&bc, "kind", kinds, &b->u.listing.kind));
		TRY(f_enum(&bc, "cur", timecur, &cur));
		TRY(f_str(&bc, "title", true, 80, &s, &len));
		TRY(f_str(&bc, "area", false, 32, &s, &len));
		TRY(f_int(&bc, "until", true, &b->u.listing.until));
		return KX_OK;
	}
	return KX_OK;
}

int
kx_body_authority(kx_type_t t, bool is_operator, kx_role_t role,
    kx_why_t *why)
{
	const char	*need = NULL;

	switch (t) {
	case KX_T_MEMBER:
	case KX_T_REVOKE:
	case KX_T_MARKET:
	case KX_T_CLEAR:
	case KX_T_SETTLE:
		if (!is_operator)
			need = "an operator key";
		break;
	case KX_T_ISSUE:
		if (role != KX_ROLE_ISSUER)
			need = "an admitted issuer";
		break;
	case KX_T_ORDER:
	case KX_T_CANCEL:
		if (role != KX_ROLE_HOUSEHOLD && role != KX_ROLE_RYOKAN &&
		    role != KX_ROLE_FARM && role != KX_ROLE_BUSINESS)
			need = "a household, ryokan, farm or business";
		break;
	case KX_T_SUMMARY:
		if (!is_operator && role != KX_ROLE_CITY)
			need = "an operator key or a city member";
		break;
	default:
		break;
	}
	if (need != NULL) {
		kx_why_set(why, "body: authority: only %s may author this "
		    "type", need);
		return KX_EBODY;
	}
	return KX_OK;
}

const char *const *
kx_body_bin_paths(const char *type)
{
	static const char *const node[] = { "node", NULL };
	static const char *const cancel[] = { "order", NULL };
	static const char *const clear[] = { "set", "fills/*/0", NULL };
	static const char *const reading[] = { "to", "box", NULL };
	static const char *const settle[] = { "lines/*/0", NULL };
	static const char *const to[] = { "to", NULL };
	static const char *const pay[] = { "to", "in/*", NULL };

	switch (kx_type_of(type)) {
	case KX_T_MEMBER:
	case KX_T_REVOKE:	return node;
	case KX_T_CANCEL:	return cancel;
	case KX_T_CLEAR:	return clear;
	case KX_T_READING:	return reading;
	case KX_T_SETTLE:	return settle;
	case KX_T_ISSUE:	return to;
	case KX_T_PAY:		return pay;
	default:		return NULL;
	}
}
