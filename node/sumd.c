/*
 * sumd.c - the operator's daily summaries in a running node, see sumd.h
 * and docs/aggregates.md ("In the node").
 *
 * A day's records are gathered in three passes over the store, once a
 * day: the operators' logs for every member's area (its newest `member`
 * message before the day's end); the `slots` index for the day's clears
 * and, per cleared slot, its orders (who filled what) and the readings
 * sealed to us; and one pass over all stored messages for the day's
 * `issue`s and `pay`s. Members are then looked up by key (a sorted
 * array), so the cost is linear in the store plus n log n in members.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "body.h"
#include "envelope.h"
#include "json.h"
#include "log.h"
#include "market.h"
#include "mp.h"
#include "sumd.h"

#define KIND		"kaga-area-day"
#define GRACE_MS	(5 * 60 * 1000)	/* after the last settle is due */
#define RETRY_MS	(10 * 60 * 1000)	/* after a failure */

typedef unsigned __int128 u128;

/* A member and its record for the day. */
struct mem {
	int64_t		 ts;	/* of the member message read */
	uint64_t	 order;	/* its place in the scan: later wins ties */
	kx_sum_input_t	 r;	/* r.member is the key */
};

struct coll {
	kx_store_t		*st;
	const kx_sumd_keys_t	*k;
	int32_t			 day;
	int64_t			 from_ms, to_ms;
	struct mem		*m;
	size_t			 nm, cap;
	kx_body_t		*b;	/* scratch for one body */
	bool			 oom;
};

/* ---- members and their areas ------------------------------------------ */

static int
mem_cmp(const void *a, const void *b)
{
	const struct mem	*x = a, *y = b;
	int			 c = memcmp(x->r.member, y->r.member, 32);

	if (c != 0)
		return c;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
key_cmp(const void *key, const void *elem)
{
	return memcmp(key, ((const struct mem *)elem)->r.member, 32);
}

static kx_sum_input_t *
lookup(struct coll *c, const uint8_t *pk)
{
	struct mem	*m;

	if (c->nm == 0)
		return NULL;
	m = bsearch(pk, c->m, c->nm, sizeof(*c->m), key_cmp);
	return m != NULL ? &m->r : NULL;
}

/* A valid message of one type, decoded and its body parsed into c->b. */
static bool
take(struct coll *c, const kx_stored_t *s, const char *type, kx_msg_t *msg)
{
	kx_params_t	 p;

	if (!s->valid || kx_msg_decode(msg, s->wire, s->len, NULL) != KX_OK ||
	    strcmp(msg->type, type) != 0)
		return false;
	kx_params_default(&p);
	return kx_body_parse(c->b, msg, &p, NULL) == KX_OK;
}

static int
member_cb(void *arg, const kx_stored_t *s)
{
	struct coll	*c = arg;
	kx_msg_t	 msg;
	kx_mp_cur_t	 cur, after;
	kx_mp_val_t	 map, v;
	struct mem	*m;

	if (!take(c, s, "member", &msg) || msg.ts >= c->to_ms ||
	    kx_store_is_operator(c->st, c->b->u.member.node))
		return 0;
	if (c->nm == c->cap) {
		size_t	 cap = c->cap ? 2 * c->cap : 64;

		if ((m = reallocarray(c->m, cap, sizeof(*m))) == NULL) {
			c->oom = true;
			return 1;
		}
		c->m = m;
		c->cap = cap;
	}
	m = &c->m[c->nm];
	memset(m, 0, sizeof(*m));
	m->ts = msg.ts;
	m->order = c->nm++;
	memcpy(m->r.member, c->b->u.member.node, 32);
	kx_mp_cur_init(&cur, msg.body, msg.body_len);
	if (kx_mp_read(&cur, &map) == KX_MP_OK &&
	    kx_mp_map_get(&map, cur, "area", &v, &after) == 1 &&
	    v.kind == KX_MP_STR && v.len <= KX_SUM_AREA_MAX &&
	    memchr(v.ptr, 0, v.len) == NULL)
		memcpy(m->r.area, v.ptr, v.len);
	return 0;
}

struct authors {
	uint8_t		(*pk)[KX_PK_LEN];
	size_t		 n, cap;
	kx_store_t	*st;
	int64_t		 now;	/* 0: operators only; else city at now too */
	bool		 oom;
};

static int
author_cb(void *arg, const uint8_t author[KX_PK_LEN], const kx_head_t *h)
{
	struct authors	*a = arg;

	(void)h;
	if (!kx_store_is_operator(a->st, author)) {
		kx_role_t	 role = KX_ROLE_NONE;

		if (a->now == 0 || kx_store_role_at(a->st, author, a->now,
		    &role) != KX_OK || role != KX_ROLE_CITY)
			return 0;
	}
	if (a->n == a->cap) {
		size_t	 cap = a->cap ? 2 * a->cap : 8;
		uint8_t	(*p)[KX_PK_LEN] = reallocarray(a->pk, cap,
		    sizeof(*p));

		if (p == NULL) {
			a->oom = true;
			return 1;
		}
		a->pk = p;
		a->cap = cap;
	}
	memcpy(a->pk[a->n++], author, KX_PK_LEN);
	return 0;
}

/* The authors of summaries (now != 0) or of member messages. */
static int
authors(kx_store_t *st, int64_t now, struct authors *a)
{
	memset(a, 0, sizeof(*a));
	a->st = st;
	a->now = now;
	if (kx_store_heads(st, author_cb, a) != KX_OK || a->oom) {
		free(a->pk);
		a->pk = NULL;
		return -1;
	}
	return 0;
}

static int
load_members(struct coll *c)
{
	struct authors	 a;
	size_t		 i, j;

	if (authors(c->st, 0, &a) == -1)
		return -1;
	for (i = 0; i < a.n; i++)
		if (kx_store_foreach(c->st, a.pk[i], member_cb, c) != KX_OK ||
		    c->oom) {
			free(a.pk);
			return -1;
		}
	free(a.pk);
	/* newest member message per node: the last of each run */
	if (c->nm > 1)
		qsort(c->m, c->nm, sizeof(*c->m), mem_cmp);
	for (i = j = 0; i < c->nm; i++) {
		if (i + 1 < c->nm && memcmp(c->m[i].r.member,
		    c->m[i + 1].r.member, 32) == 0)
			continue;
		c->m[j++] = c->m[i];
	}
	c->nm = j;
	for (i = 0; i < c->nm; i++)
		c->m[i].r.day = c->day;
	return 0;
}

/* ---- the market: clears, orders, readings ----------------------------- */

static void
sat_add(uint64_t *x, u128 v)
{
	u128	 s = (u128)*x + v;

	*x = s > KX_SUM_VALUE_MAX ? KX_SUM_VALUE_MAX : (uint64_t)s;
}

/* The newest clear of each slot, copied. */
struct clears {
	struct clear1 {
		uint64_t	 slot;
		int64_t		 ts;
		kx_buf_t	 wire;
	}		*v;
	size_t		 n, cap;
	bool		 oom;
};

static int
clear_cb(void *arg, const kx_stored_t *s)
{
	struct clears	*cl = arg;
	struct clear1	*c;
	kx_msg_t	 msg;
	kx_mp_cur_t	 cur, after;
	kx_mp_val_t	 map, v;

	if (kx_msg_decode(&msg, s->wire, s->len, NULL) != KX_OK)
		return 0;
	kx_mp_cur_init(&cur, msg.body, msg.body_len);
	if (kx_mp_read(&cur, &map) != KX_MP_OK || kx_mp_map_get(&map, cur,
	    "slot", &v, &after) != 1 || v.kind != KX_MP_UINT)
		return 0;
	if (cl->n > 0 && cl->v[cl->n - 1].slot == v.u) {
		c = &cl->v[cl->n - 1];
		if (msg.ts < c->ts)
			return 0;
		kx_buf_reset(&c->wire);
	} else {
		if (cl->n == cl->cap) {
			size_t	 cap = cl->cap ? 2 * cl->cap : 64;

			if ((c = reallocarray(cl->v, cap, sizeof(*c))) ==
			    NULL) {
				cl->oom = true;
				return 1;
			}
			cl->v = c;
			cl->cap = cap;
		}
		c = &cl->v[cl->n++];
		kx_buf_init(&c->wire);
		c->slot = v.u;
	}
	c->ts = msg.ts;
	if (kx_buf_append(&c->wire, s->wire, s->len) == -1) {
		cl->oom = true;
		return 1;
	}
	return 0;
}

/* The slot's orders: id, author, side. */
struct ord {
	uint8_t		 id[KX_ID_LEN];
	uint8_t		 author[KX_PK_LEN];
	int		 side;
};

struct orders {
	struct coll	*c;
	kx_params_t	 p;
	struct ord	*v;
	size_t		 n, cap;
	bool		 oom;
};

static int
order_cb(void *arg, const kx_stored_t *s)
{
	struct orders	*o = arg;
	kx_msg_t	 msg;
	struct ord	*e;

	if (kx_msg_decode(&msg, s->wire, s->len, NULL) != KX_OK ||
	    kx_body_parse(o->c->b, &msg, &o->p, NULL) != KX_OK ||
	    o->c->b->type != KX_T_ORDER)
		return 0;
	if (o->n == o->cap) {
		size_t	 cap = o->cap ? 2 * o->cap : 64;

		if ((e = reallocarray(o->v, cap, sizeof(*e))) == NULL) {
			o->oom = true;
			return 1;
		}
		o->v = e;
		o->cap = cap;
	}
	e = &o->v[o->n++];
	memcpy(e->id, msg.id, KX_ID_LEN);
	memcpy(e->author, msg.author, KX_PK_LEN);
	e->side = o->c->b->u.order.side;
	return 0;
}

static int
ord_cmp(const void *a, const void *b)
{
	return memcmp(a, b, KX_ID_LEN);	/* id is the first field */
}

/* A member's position in one slot. */
struct pos {
	uint8_t		 pk[KX_PK_LEN];
	uint64_t	 sold, bought;
	bool		 has_reading;
	uint64_t	 imp, exp;
};

struct slotpos {
	struct coll	*c;
	struct pos	*v;
	size_t		 n, cap;
	bool		 oom;
};

static struct pos *
pos_get(struct slotpos *sp, const uint8_t *pk, bool add)
{
	struct pos	*p;
	size_t		 i;

	for (i = 0; i < sp->n; i++)
		if (memcmp(sp->v[i].pk, pk, KX_PK_LEN) == 0)
			return &sp->v[i];
	if (!add)
		return NULL;
	if (sp->n == sp->cap) {
		size_t	 cap = sp->cap ? 2 * sp->cap : 32;

		if ((p = reallocarray(sp->v, cap, sizeof(*p))) == NULL) {
			sp->oom = true;
			return NULL;
		}
		sp->v = p;
		sp->cap = cap;
	}
	p = &sp->v[sp->n++];
	memset(p, 0, sizeof(*p));
	memcpy(p->pk, pk, KX_PK_LEN);
	return p;
}

/* Opens a reading sealed to us: 0 with imp/exp, or -1. */
static int
open_reading(const kx_sumd_keys_t *k, const kx_body_t *b, uint64_t *imp,
    uint64_t *exp)
{
	uint8_t		 plain[256];
	kx_mp_cur_t	 c, after;
	kx_mp_val_t	 map, v;
	size_t		 n;

	if (memcmp(b->u.reading.to, k->pk, KX_PK_LEN) != 0 ||
	    b->u.reading.box_len < crypto_box_SEALBYTES ||
	    b->u.reading.box_len - crypto_box_SEALBYTES > sizeof(plain))
		return -1;
	n = b->u.reading.box_len - crypto_box_SEALBYTES;
	if (crypto_box_seal_open(plain, b->u.reading.box,
	    b->u.reading.box_len, k->cpk, k->csk) != 0)
		return -1;
	kx_mp_cur_init(&c, plain, n);
	if (kx_mp_check(&c, 2, true) != KX_MP_OK || kx_mp_left(&c) != 0)
		goto bad;
	kx_mp_cur_init(&c, plain, n);
	if (kx_mp_read(&c, &map) != KX_MP_OK || map.kind != KX_MP_MAP ||
	    kx_mp_map_get(&map, c, "imp", &v, &after) != 1 ||
	    v.kind != KX_MP_UINT || v.u > KX_MKT_SIDE_MAX)
		goto bad;
	*imp = v.u;
	if (kx_mp_map_get(&map, c, "exp", &v, &after) != 1 ||
	    v.kind != KX_MP_UINT || v.u > KX_MKT_SIDE_MAX)
		goto bad;
	*exp = v.u;
	sodium_memzero(plain, sizeof(plain));
	return 0;
bad:
	sodium_memzero(plain, sizeof(plain));
	return -1;
}

static int
reading_cb(void *arg, const kx_stored_t *s)
{
	struct slotpos	*sp = arg;
	kx_msg_t	 msg;
	struct pos	*p;
	uint64_t	 imp, exp;

	if (!take(sp->c, s, "reading", &msg) ||
	    open_reading(sp->c->k, sp->c->b, &imp, &exp) == -1)
		return 0;	/* not for us, or unreadable: missing */
	if ((p = pos_get(sp, msg.author, false)) == NULL)
		return 0;	/* no fill: not used (section 9) */
	p->has_reading = true;	/* a later reading replaces */
	p->imp = imp;
	p->exp = exp;
	return 0;
}

/* Adds one cleared slot to the members' records. */
static int
add_slot(struct coll *c, const struct clear1 *cl, kx_body_t *cb)
{
	struct orders	 o;
	struct slotpos	 sp;
	struct ord	*e;
	struct pos	*p;
	kx_sum_input_t	*r;
	kx_msg_t	 msg;
	uint64_t	 in, ex, price;
	uint32_t	 i;
	int		 rc = -1;

	memset(&o, 0, sizeof(o));
	memset(&sp, 0, sizeof(sp));
	o.c = sp.c = c;
	if (kx_msg_decode(&msg, cl->wire.data, cl->wire.len, NULL) != KX_OK ||
	    kx_store_params(c->st, cl->slot, &o.p) != KX_OK)
		return -1;
	if (kx_body_parse(cb, &msg, &o.p, NULL) != KX_OK ||
	    cb->type != KX_T_CLEAR || !cb->u.clear.has_price)
		return 0;	/* no trade */
	price = cb->u.clear.price;
	if (kx_store_orders(c->st, cl->slot, order_cb, &o) != KX_OK || o.oom)
		goto out;
	if (o.n == 0)
		goto done;	/* orders we lack: their members are out */
	qsort(o.v, o.n, sizeof(*o.v), ord_cmp);
	for (i = 0; i < cb->u.clear.n; i++) {
		e = bsearch(cb->u.clear.id[i], o.v, o.n, sizeof(*o.v),
		    ord_cmp);
		if (e == NULL || cb->u.clear.wh[i] == 0)
			continue;	/* an order we lack: its member is out */
		if ((p = pos_get(&sp, e->author, true)) == NULL)
			goto out;
		if (e->side == KX_SELL)
			p->sold += cb->u.clear.wh[i];
		else
			p->bought += cb->u.clear.wh[i];
	}
	if (kx_store_slot_msgs(c->st, KX_T_READING, cl->slot, cl->slot + 1,
	    reading_cb, &sp) != KX_OK || sp.oom)
		goto out;
	for (i = 0; i < sp.n; i++) {
		p = &sp.v[i];
		if ((r = lookup(c, p->pk)) == NULL)
			continue;
		/* section 7: no reading counts as E = 0, I = Ab */
		in = p->has_reading ? p->imp : p->bought;
		ex = p->has_reading ? p->exp : 0;
		sat_add(&r->imp_wh, in);
		sat_add(&r->exp_wh, ex);
		sat_add(&r->sold_wh, p->sold);
		sat_add(&r->bought_wh, p->bought);
		sat_add(&r->money_local, (u128)p->bought * price);
		sat_add(&r->money_grid, (u128)(in > p->bought ? in - p->bought :
		    0) * o.p.ceiling + (u128)p->bought * o.p.fee +
		    (u128)(p->sold > ex ? p->sold - ex : 0) * o.p.ceiling);
	}
done:
	rc = 0;
out:
	free(o.v);
	free(sp.v);
	return rc;
}

static int
load_market(struct coll *c)
{
	struct clears	 cl;
	kx_body_t	*cb;
	size_t		 i;
	int		 rc = -1;

	memset(&cl, 0, sizeof(cl));
	if ((cb = malloc(sizeof(*cb))) == NULL)
		return -1;
	if (kx_store_slot_msgs(c->st, KX_T_CLEAR, (uint64_t)(c->from_ms /
	    1000), (uint64_t)(c->to_ms / 1000), clear_cb, &cl) != KX_OK ||
	    cl.oom)
		goto out;
	for (i = 0; i < cl.n; i++)
		if (add_slot(c, &cl.v[i], cb) == -1)
			goto out;
	rc = 0;
out:
	for (i = 0; i < cl.n; i++)
		kx_buf_free(&cl.v[i].wire);
	free(cl.v);
	free(cb);
	return rc;
}

/* ---- community: issues and pays of the day ---------------------------- */

static int
community_cb(void *arg, const kx_stored_t *s)
{
	struct coll	*c = arg;
	kx_msg_t	 msg;
	kx_sum_input_t	*r;
	kx_params_t	 p;

	if (!s->valid || kx_msg_decode(&msg, s->wire, s->len, NULL) != KX_OK ||
	    msg.ts < c->from_ms || msg.ts >= c->to_ms ||
	    (strcmp(msg.type, "issue") != 0 && strcmp(msg.type, "pay") != 0))
		return 0;
	kx_params_default(&p);
	if (kx_body_parse(c->b, &msg, &p, NULL) != KX_OK)
		return 0;
	if (c->b->type == KX_T_ISSUE) {
		if ((r = lookup(c, c->b->u.issue.to)) != NULL)
			sat_add(&r->pts_issued, c->b->u.issue.points);
	} else if (c->b->u.pay.cur == KX_CUR_HEALTH) {
		/* redeemed: paid to an operator key (sections 7 and 8) */
		if (kx_store_is_operator(c->st, c->b->u.pay.to) &&
		    (r = lookup(c, msg.author)) != NULL)
			sat_add(&r->pts_redeemed, c->b->u.pay.amount);
	} else if ((r = lookup(c, c->b->u.pay.to)) != NULL)
		sat_add(&r->minutes, c->b->u.pay.amount);	/* earned */
	return 0;
}

int
kx_sumd_collect(kx_store_t *st, const kx_sumd_keys_t *k, int32_t day,
    kx_sum_input_t **in, size_t *n)
{
	struct coll	 c;
	size_t		 i, j;
	int		 rc = -1;

	*in = NULL;
	*n = 0;
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.k = k;
	c.day = day;
	c.from_ms = kx_sum_day_start(day) * 1000;
	c.to_ms = c.from_ms + 86400 * 1000;
	if (c.from_ms < 0)
		return -1;
	if ((c.b = malloc(sizeof(*c.b))) == NULL)
		return -1;
	if (load_members(&c) == -1 || load_market(&c) == -1 ||
	    kx_store_foreach(st, NULL, community_cb, &c) != KX_OK)
		goto out;
	for (i = j = 0; i < c.nm; i++) {
		const kx_sum_input_t	*r = &c.m[i].r;

		if ((r->imp_wh | r->exp_wh | r->bought_wh | r->sold_wh |
		    r->money_local | r->money_grid | r->pts_issued |
		    r->pts_redeemed | r->minutes) != 0)
			c.m[j++].r = *r;
	}
	if (j > 0) {
		if ((*in = calloc(j, sizeof(**in))) == NULL)
			goto out;
		for (i = 0; i < j; i++)
			(*in)[i] = c.m[i].r;
	}
	*n = j;
	rc = 0;
out:
	free(c.m);
	free(c.b);
	return rc;
}

/* ---- publishing -------------------------------------------------------- */

struct pubctx {
	const kx_mktd_conf_t	*c;
	char			 day[11];
};

static int
publish_part(void *arg, const uint8_t *mp, size_t len, unsigned part,
    unsigned parts)
{
	struct pubctx	*pc = arg;
	char		 err[256];

	if (pc->c->publish(pc->c->ctx, "summary", mp, len, err,
	    sizeof(err)) == -1) {
		log_warnx("summary: %s part %u of %u: %s", pc->day, part,
		    parts, err);
		return -1;
	}
	return 0;
}

int
kx_sumd_publish_day(const kx_mktd_conf_t *c, int32_t day)
{
	kx_sumd_keys_t	 k;
	kx_sum_input_t	*in = NULL;
	kx_sum_params_t	 p;
	kx_summary_t	*s = NULL;
	struct pubctx	 pc;
	size_t		 n = 0, i, pub = 0;
	char		 err[256];
	int		 parts = -1, rc;

	pc.c = c;
	kx_sum_day_format(pc.day, day);
	k.pk = c->pk;
	k.cpk = c->cpk;
	k.csk = c->csk;
	if (kx_sumd_collect(c->st, &k, day, &in, &n) == -1) {
		log_warnx("summary: %s: cannot read the store", pc.day);
		return -1;
	}
	if (n == 0) {
		free(in);
		return 0;
	}
	kx_sum_params_default(&p);
	if ((rc = kx_summary_build(&s, in, n, &p, err, sizeof(err))) !=
	    KX_SUM_OK) {
		log_warnx("summary: %s: %s", pc.day, err);
		goto out;
	}
	for (i = 0; i < s->ncells; i++)
		pub += s->cells[i].published;
	if ((parts = kx_summary_bodies(s, day, 0, publish_part, &pc)) >= 0)
		log_info("summary: %s published: %zu records, %zu cells, %zu "
		    "suppressed, in %d part%s", pc.day, n, pub,
		    s->ncells - pub, parts, parts == 1 ? "" : "s");
out:
	kx_summary_free(&s);
	free(in);
	return parts;
}

/* ---- the tick ----------------------------------------------------------- */

struct kx_sumd {
	int32_t		 done;		/* newest day we published */
	int32_t		 empty;		/* newest day with nothing to publish */
	int64_t		 retry_ms;	/* no attempt before (after a failure) */
};

/* Reads kind, day and part numbers of a summary body; 0 or -1. */
static int
peek(const kx_msg_t *m, int32_t *day, uint64_t *part, uint64_t *parts)
{
	kx_mp_cur_t	 c, a;
	kx_mp_val_t	 map, v;

	kx_mp_cur_init(&c, m->body, m->body_len);
	if (kx_mp_read(&c, &map) != KX_MP_OK || map.kind != KX_MP_MAP ||
	    kx_mp_map_get(&map, c, "kind", &v, &a) != 1 ||
	    v.kind != KX_MP_STR || v.len != strlen(KIND) ||
	    memcmp(v.ptr, KIND, v.len) != 0 ||
	    kx_mp_map_get(&map, c, "day", &v, &a) != 1 ||
	    v.kind != KX_MP_STR ||
	    kx_sum_day_parse((const char *)v.ptr, v.len, day) == -1)
		return -1;
	*part = *parts = 1;
	if (kx_mp_map_get(&map, c, "part", &v, &a) == 1 &&
	    v.kind == KX_MP_UINT && v.u >= 1)
		*part = v.u;
	if (kx_mp_map_get(&map, c, "parts", &v, &a) == 1 &&
	    v.kind == KX_MP_UINT && v.u >= *part)
		*parts = v.u;
	return 0;
}

static int
own_cb(void *arg, const kx_stored_t *s)
{
	kx_sumd_t	*sd = arg;
	kx_msg_t	 msg;
	int32_t		 day;
	uint64_t	 part, parts;

	if (s->valid && kx_msg_decode(&msg, s->wire, s->len, NULL) == KX_OK &&
	    strcmp(msg.type, "summary") == 0 &&
	    peek(&msg, &day, &part, &parts) == 0 && day > sd->done)
		sd->done = day;
	return 0;
}

void
kx_sumd_tick(kx_sumd_t **sp, const kx_mktd_conf_t *c, int64_t now)
{
	kx_sumd_t	*sd;
	int32_t		 day;
	int		 rc;

	if (c == NULL || !c->is_operator || now < 0)
		return;
	if ((sd = *sp) == NULL) {
		if ((sd = calloc(1, sizeof(*sd))) == NULL)
			return;
		sd->done = sd->empty = INT32_MIN;
		if (kx_store_foreach(c->st, c->pk, own_cb, sd) != KX_OK) {
			free(sd);
			return;
		}
		*sp = sd;
	}
	/* the latest day whose last settle (and our grace) is due */
	day = kx_sum_day_of_ms(now - c->settle_delay_ms - GRACE_MS) - 1;
	if (day <= sd->done || day <= sd->empty || now < sd->retry_ms)
		return;
	if ((rc = kx_sumd_publish_day(c, day)) == -1)
		sd->retry_ms = now + RETRY_MS;
	else if (rc == 0)
		sd->empty = day;
	else
		sd->done = day;
}

void
kx_sumd_free(kx_sumd_t **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	free(*sp);
	*sp = NULL;
}

/* ---- the newest summary of a day -------------------------------------- */

struct found {
	struct part1 {
		uint8_t		 author[KX_PK_LEN];
		int64_t		 ts;
		uint64_t	 seq, part, parts;
		kx_buf_t	 body;
	}		*v;
	size_t		 n, cap;
	int32_t		 day;		/* wanted, or the newest seen */
	bool		 fixed;		/* day was given */
	bool		 oom;
};

static void
found_clear(struct found *f)
{
	size_t	 i;

	for (i = 0; i < f->n; i++)
		kx_buf_free(&f->v[i].body);
	f->n = 0;
}

static int
summary_cb(void *arg, const kx_stored_t *s)
{
	struct found	*f = arg;
	struct part1	*p;
	kx_msg_t	 msg;
	int32_t		 day;
	uint64_t	 part, parts;

	if (!s->valid || kx_msg_decode(&msg, s->wire, s->len, NULL) != KX_OK ||
	    strcmp(msg.type, "summary") != 0 ||
	    peek(&msg, &day, &part, &parts) == -1)
		return 0;
	if (f->fixed ? day != f->day : (f->n > 0 && day < f->day))
		return 0;
	if (!f->fixed && (f->n == 0 || day > f->day)) {
		found_clear(f);
		f->day = day;
	}
	if (f->n == f->cap) {
		size_t	 cap = f->cap ? 2 * f->cap : 8;

		if ((p = reallocarray(f->v, cap, sizeof(*p))) == NULL) {
			f->oom = true;
			return 1;
		}
		f->v = p;
		f->cap = cap;
	}
	p = &f->v[f->n++];
	memcpy(p->author, msg.author, KX_PK_LEN);
	p->ts = msg.ts;
	p->seq = msg.seq;
	p->part = part;
	p->parts = parts;
	kx_buf_init(&p->body);
	if (kx_buf_append(&p->body, msg.body, msg.body_len) == -1) {
		f->oom = true;
		return 1;
	}
	return 0;
}

static bool
newer(const struct part1 *a, const struct part1 *b)
{
	return a->ts > b->ts || (a->ts == b->ts && a->seq > b->seq);
}

int
kx_sumd_find(kx_store_t *st, const char *day, size_t daylen, kx_buf_t *out)
{
	struct authors	 a;
	struct found	 f;
	struct timespec	 now;
	const struct part1 *top = NULL, *best;
	size_t		 i, j;
	uint64_t	 p;
	int		 rc = -1, first = 1;

	memset(&f, 0, sizeof(f));
	if (day != NULL && daylen > 0) {
		if (kx_sum_day_parse(day, daylen, &f.day) == -1)
			return -1;
		f.fixed = true;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (authors(st, (int64_t)now.tv_sec * 1000 + 1, &a) == -1)
		return -1;
	for (i = 0; i < a.n; i++)
		if (kx_store_foreach(st, a.pk[i], summary_cb, &f) != KX_OK ||
		    f.oom)
			goto out;
	for (i = 0; i < f.n; i++)	/* the newest publication */
		if (top == NULL || newer(&f.v[i], top))
			top = &f.v[i];
	kx_buf_putc(out, '[');
	for (p = 1; top != NULL && p <= top->parts; p++) {
		for (best = NULL, j = 0; j < f.n; j++)
			if (memcmp(f.v[j].author, top->author, KX_PK_LEN) ==
			    0 && f.v[j].part == p && f.v[j].parts ==
			    top->parts && (best == NULL || newer(&f.v[j], best)))
				best = &f.v[j];
		if (best == NULL)
			continue;	/* a part not (yet) here */
		if (!first)
			kx_buf_putc(out, ',');
		first = 0;
		if (kx_mp_to_json(out, best->body.data, best->body.len) == -1)
			goto out;
	}
	kx_buf_putc(out, ']');
	rc = out->oom ? -1 : 0;
out:
	found_clear(&f);
	free(f.v);
	free(a.pk);
	return rc;
}
