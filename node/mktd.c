/*
 * mktd.c - the market duties of a running node, see mktd.h.
 *
 * Each tick looks at a window of slots around now (LOOKBACK slots back,
 * one ahead) under the parameters in force now, oldest first, and does
 * for each what is due and not yet done. Older slots with a clear or a
 * settle not yet checked here (a node that was away longer than the
 * window, or joined later) are taken BACKLOG at a time per tick, oldest
 * first, so that every node ends up posting every settle. What is done is kept in the
 * ledger environment, so a restart neither repeats a publication nor
 * posts a settle twice:
 *   done      slot|kind -> int64 wall ms, then text (kinds below; our
 *             reading's text sealed with the data key, datakey.h)
 *   xfers     slot|n    -> from(33) to(33) amount(8, LE) kind(1)
 *   disputes  slot|kind -> text
 * An account is 33 bytes: a tag (member, operator, grid) and a key
 * (zeros for the grid).
 */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "bytes.h"
#include "mdbval.h"
#include "body.h"
#include "datakey.h"
#include "envelope.h"
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "market.h"
#include "mktd.h"
#include "mp.h"
#include "privacy.h"
#include "sumd.h"

#define LOOKBACK	8		/* slots looked back at */
#define BACKLOG		16		/* older slots checked per tick */
#define TICK_MS		250		/* at most this often */
#define DISPUTES_SHOWN	16

/* kinds of `done` */
#define D_CLEARED	'C'	/* we (operator) published the clear */
#define D_SETTLED	'S'	/* we (operator) published the settle */
#define D_READING	'R'	/* we sent our reading: "imp exp", sealed */
#define D_VERIFIED	'V'	/* we checked the operator's clear */
#define D_CHECKED	'K'	/* we checked our settle line */
#define D_POSTED	'L'	/* the settle is in the ledger */

#define ACC_LEN		33
enum { ACC_MEMBER = 0, ACC_OPERATOR = 1, ACC_GRID = 2 };
enum { X_TRADE = 't', X_FEE = 'f', X_BALANCE = 'b', X_POINTS = 'p' };
#define XFER_LEN	(2 * ACC_LEN + 8 + 1)

struct pending_verify {
	uint64_t	 slot;
	int64_t		 first_ms;
};

struct kx_mktd {
	kx_mktd_conf_t	 c;
	MDB_env		*env;
	MDB_dbi		 done, xfers, disputes;
	kx_datakey_t	*dk;		/* seals our reading's text */
	kx_privacy_t	*privacy;	/* records the readings we disclose */
	int64_t		 next_tick;
	struct pending_verify pv[LOOKBACK + 2];
	kx_clear_ctx_t	*cctx;		/* clearing scratch, kept between slots */
	kx_sumd_t	*sumd;		/* daily summaries (node/sumd.c) */
	uint64_t	 n_disputes_session;
	uint64_t	 backlog_from;	/* older slots all checked below it */
};

/* A book loaded from the store for one slot. */
struct book {
	kx_params_t	 p;
	kx_order_t	*o;
	size_t		 n, cap;
	uint64_t	*fills;
	kx_clear_t	 res;
	int		 err;
};

/* ---- small helpers ----------------------------------------------------- */

static bool
done_get(kx_mktd_t *m, uint64_t slot, char kind, char *text, size_t tlen)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	uint8_t	 key[9];
	bool	 found = false;

	kx_be64_put(key, slot);
	key[8] = (uint8_t)kind;
	k = kx_mdb_val(key, 9);
	if (mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn) != 0)
		return true;	/* unreadable: do nothing rather than twice */
	if (mdb_get(txn, m->done, &k, &v) == 0) {
		found = true;
		if (text != NULL && tlen > 0) {
			size_t	 n = v.mv_size > 8 ? v.mv_size - 8 : 0;

			if (n >= tlen)
				n = tlen - 1;
			memcpy(text, (const uint8_t *)v.mv_data + 8, n);
			text[n] = '\0';
		}
	}
	mdb_txn_abort(txn);
	return found;
}

static int
done_put(kx_mktd_t *m, uint64_t slot, char kind, int64_t now,
    const char *text)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	uint8_t	 key[9], val[8 + 256];
	size_t	 n = text ? strlen(text) : 0;
	int	 rc;

	if (n > 256)
		n = 256;
	kx_be64_put(key, slot);
	key[8] = (uint8_t)kind;
	kx_be64_put(val, (uint64_t)now);
	if (n > 0)
		memcpy(val + 8, text, n);
	k = kx_mdb_val(key, 9);
	v = kx_mdb_val(val, 8 + n);
	if ((rc = mdb_txn_begin(m->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_put(txn, m->done, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return 0;
fail:
	log_warnx("ledger: %s", mdb_strerror(rc));
	return -1;
}

static void
dispute(kx_mktd_t *m, uint64_t slot, char kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
dispute(kx_mktd_t *m, uint64_t slot, char kind, const char *fmt, ...)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	uint8_t	 key[9];
	char	 text[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_warnx("market: slot %" PRIu64 ": dispute: %s", slot, text);
	m->n_disputes_session++;
	kx_be64_put(key, slot);
	key[8] = (uint8_t)kind;
	k = kx_mdb_val(key, 9);
	v = kx_mdb_val(text, strlen(text));
	if (mdb_txn_begin(m->env, NULL, 0, &txn) != 0)
		return;
	if (mdb_put(txn, m->disputes, &k, &v, 0) != 0 ||
	    mdb_txn_commit(txn) != 0)
		log_warnx("ledger: cannot record the dispute");
}

/* ---- reading the store ------------------------------------------------- */

static int
book_add(void *arg, const kx_stored_t *s)
{
	struct book	*bk = arg;
	kx_msg_t	 msg;
	kx_body_t	*b;
	kx_order_t	*o;

	if ((b = malloc(sizeof(*b))) == NULL) {
		bk->err = -1;
		return 1;
	}
	if (kx_msg_decode(&msg, s->wire, s->len, NULL) != KX_OK ||
	    kx_body_parse(b, &msg, &bk->p, NULL) != KX_OK ||
	    b->type != KX_T_ORDER) {
		free(b);
		return 0;	/* the index promised a valid order: skip */
	}
	if (bk->n == bk->cap) {
		size_t	 cap = bk->cap ? 2 * bk->cap : 64;

		if ((o = reallocarray(bk->o, cap, sizeof(*o))) == NULL) {
			free(b);
			bk->err = -1;
			return 1;
		}
		bk->o = o;
		bk->cap = cap;
	}
	o = &bk->o[bk->n++];
	memset(o, 0, sizeof(*o));
	memcpy(o->id, msg.id, KX_MKT_ID_LEN);
	memcpy(o->member, msg.author, KX_MKT_ID_LEN);
	o->side = b->u.order.side;
	o->n = b->u.order.n;
	memcpy(o->wh, b->u.order.wh, sizeof(o->wh));
	memcpy(o->price, b->u.order.price, sizeof(o->price));
	free(b);
	return 0;
}

static void
book_free(struct book *bk)
{
	free(bk->o);
	free(bk->fills);
	memset(bk, 0, sizeof(*bk));
}

/* Loads slot's orders and clears them. 0, or -1 (logged). */
static int
book_clear(kx_mktd_t *m, uint64_t slot, struct book *bk)
{
	int	 rc;

	memset(bk, 0, sizeof(*bk));
	if (kx_store_params(m->c.st, slot, &bk->p) != KX_OK ||
	    kx_store_orders(m->c.st, slot, book_add, bk) != KX_OK ||
	    bk->err != 0) {
		log_warnx("market: slot %" PRIu64 ": cannot read the orders",
		    slot);
		return -1;
	}
	if ((bk->fills = calloc(bk->n ? bk->n : 1, sizeof(*bk->fills))) ==
	    NULL)
		return -1;
	if ((rc = kx_clear_with(m->cctx, &bk->res, bk->fills, NULL, bk->o,
	    bk->n, &bk->p)) != KX_MKT_OK) {
		log_warnx("market: slot %" PRIu64 ": clearing failed: %s",
		    slot, kx_mkt_strerror(rc));
		return -1;
	}
	return 0;
}

/* The newest valid message of a type for a slot, copied. */
struct newest {
	kx_buf_t	 wire;
	int64_t		 ts;
	bool		 found;
};

static int
newest_cb(void *arg, const kx_stored_t *s)
{
	struct newest	*nw = arg;
	kx_msg_t	 msg;

	if (kx_msg_decode(&msg, s->wire, s->len, NULL) != KX_OK)
		return 0;
	if (nw->found && msg.ts < nw->ts)
		return 0;
	kx_buf_reset(&nw->wire);
	if (kx_buf_append(&nw->wire, s->wire, s->len) == -1)
		return 1;
	nw->ts = msg.ts;
	nw->found = true;
	return 0;
}

/* 1 with the message decoded into msg/b (b malloc'd by the caller), 0. */
static int
newest(kx_mktd_t *m, kx_type_t type, uint64_t slot, struct newest *nw,
    kx_msg_t *msg, kx_body_t *b)
{
	kx_params_t	 p;

	kx_buf_reset(&nw->wire);
	nw->found = false;
	if (kx_store_slot_msgs(m->c.st, type, slot, slot + 1, newest_cb,
	    nw) != KX_OK || !nw->found)
		return 0;
	kx_params_default(&p);
	if (kx_msg_decode(msg, nw->wire.data, nw->wire.len, NULL) != KX_OK ||
	    kx_body_parse(b, msg, &p, NULL) != KX_OK)
		return 0;
	return 1;
}

/*
 * The slot's book as the operator's newest clear has it: only the orders
 * it filled (looked up by id among the slot's orders we hold), with its
 * fills and price, and the parameters of the slot. Settlement (section
 * 7) reads nothing else, so the operator's settle and every member's
 * check and ledger follow the published clear, also when an order reached
 * a node after the gate (it is in that node's recomputed book, not in the
 * clear; verify_clear judges that). No clear: an empty book (the operator
 * found no orders). 0; 1 when a filled order is not held here yet; -1
 * (logged) when the store cannot be read; -2 (logged) when the clear does
 * not add up (a fill above its order, sold != bought != volume).
 */
static int
book_published(kx_mktd_t *m, uint64_t slot, struct book *bk, size_t *miss)
{
	struct book	 all;
	struct newest	 nw;
	kx_msg_t	 msg;
	kx_body_t	*b = NULL;
	uint64_t	 sold = 0, bought = 0, cap;
	size_t		 i, k, w;
	int		 rc = -1;

	memset(bk, 0, sizeof(*bk));
	memset(&all, 0, sizeof(all));
	kx_buf_init(&nw.wire);
	if (kx_store_params(m->c.st, slot, &bk->p) != KX_OK ||
	    (all.p = bk->p, kx_store_orders(m->c.st, slot, book_add, &all)) !=
	    KX_OK || all.err != 0 || (b = malloc(sizeof(*b))) == NULL) {
		log_warnx("market: slot %" PRIu64 ": cannot read the orders",
		    slot);
		goto out;
	}
	bk->res.floor = bk->p.floor;
	bk->res.ceiling = bk->p.ceiling;
	bk->res.fee = bk->p.fee;
	if (!newest(m, KX_T_CLEAR, slot, &nw, &msg, b)) {
		bk->fills = calloc(1, sizeof(*bk->fills));
		rc = bk->fills != NULL ? 0 : -1;
		goto out;
	}
	bk->res.has_price = b->u.clear.has_price;
	bk->res.price = b->u.clear.price;
	bk->res.volume = b->u.clear.volume;
	memcpy(bk->res.set, b->u.clear.set, 32);
	if ((bk->o = calloc(b->u.clear.n + 1, sizeof(*bk->o))) == NULL ||
	    (bk->fills = calloc(b->u.clear.n + 1, sizeof(*bk->fills))) ==
	    NULL)
		goto out;
	for (i = 0; i < b->u.clear.n; i++) {
		for (k = 0; k < all.n; k++)
			if (memcmp(all.o[k].id, b->u.clear.id[i],
			    KX_MKT_ID_LEN) == 0)
				break;
		if (k == all.n) {
			if (miss != NULL)
				*miss = i;
			rc = 1;
			goto out;
		}
		for (w = 0, cap = 0; w < all.o[k].n; w++)
			cap += all.o[k].wh[w];
		if (b->u.clear.wh[i] > cap) {
			log_warnx("market: slot %" PRIu64 ": the clear fills "
			    "%" PRIu64 " Wh of an order of %" PRIu64, slot,
			    b->u.clear.wh[i], cap);
			rc = -2;
			goto out;
		}
		bk->o[bk->n] = all.o[k];
		bk->fills[bk->n++] = b->u.clear.wh[i];
		if (all.o[k].side == KX_SELL)
			sold += b->u.clear.wh[i];
		else
			bought += b->u.clear.wh[i];
	}
	if (sold != bought || sold != bk->res.volume ||
	    (sold > 0 && !bk->res.has_price)) {
		log_warnx("market: slot %" PRIu64 ": the clear does not add "
		    "up (sold %" PRIu64 ", bought %" PRIu64 ", volume %" PRIu64
		    ")", slot, sold, bought, bk->res.volume);
		rc = -2;
		goto out;
	}
	bk->cap = bk->n;
	rc = 0;
out:
	if (rc != 0)
		book_free(bk);
	book_free(&all);
	free(b);
	kx_buf_free(&nw.wire);
	return rc;
}

/* ---- building bodies --------------------------------------------------- */

static int
publish_json(kx_mktd_t *m, const char *type, kx_buf_t *json)
{
	kx_buf_t	 body;
	char		 err[256];
	int		 r = -1;

	kx_buf_init(&body);
	if (json->oom || kx_json_to_mp(&body, (const char *)json->data,
	    json->len, kx_body_bin_paths(type), err, sizeof(err)) == -1) {
		log_warnx("market: %s body: %s", type, json->oom ?
		    "out of memory" : err);
		goto out;
	}
	if (m->c.publish(m->c.ctx, type, body.data, body.len, err,
	    sizeof(err)) == -1) {
		log_warnx("market: publishing %s: %s", type, err);
		goto out;
	}
	r = 0;
out:
	kx_buf_free(&body);
	return r;
}

static int
id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, KX_MKT_ID_LEN);
}

/* Our fills as (id, wh) pairs in id order; returns the count. */
struct fill {
	uint8_t		 id[KX_MKT_ID_LEN];
	uint64_t	 wh;
};

static size_t
fills_sorted(const struct book *bk, struct fill *out)
{
	size_t	 i, k = 0;

	for (i = 0; i < bk->n; i++)
		if (bk->fills[i] > 0) {
			memcpy(out[k].id, bk->o[i].id, KX_MKT_ID_LEN);
			out[k].wh = bk->fills[i];
			k++;
		}
	qsort(out, k, sizeof(*out), id_cmp);
	return k;
}

/* ---- operator: clear at the gate ------------------------------------- */

static void
op_clear(kx_mktd_t *m, uint64_t slot, int64_t now)
{
	struct book	 bk;
	struct fill	*f = NULL;
	kx_buf_t	 j;
	size_t		 nf, i;

	if (book_clear(m, slot, &bk) == -1)
		goto out;
	if (bk.n == 0) {		/* nothing to clear: no message */
		(void)done_put(m, slot, D_CLEARED, now, "no orders");
		goto out;
	}
	if ((f = calloc(bk.n, sizeof(*f))) == NULL)
		goto out;
	nf = fills_sorted(&bk, f);
	if (nf > KX_LIST_MAX) {
		log_warnx("market: slot %" PRIu64 ": %zu fills do not fit one "
		    "clear message (at most %d); not published", slot, nf,
		    KX_LIST_MAX);
		(void)done_put(m, slot, D_CLEARED, now, "too many fills");
		goto out;
	}
	kx_buf_init(&j);
	kx_buf_printf(&j, "{\"slot\":%" PRIu64 ",\"set\":\"", slot);
	kx_buf_hex(&j, bk.res.set, 32);
	if (bk.res.has_price)
		kx_buf_printf(&j, "\",\"price\":%u", bk.res.price);
	else
		kx_buf_puts(&j, "\",\"price\":null");
	kx_buf_printf(&j, ",\"volume\":%" PRIu64 ",\"fills\":[",
	    bk.res.volume);
	for (i = 0; i < nf; i++) {
		kx_buf_printf(&j, "%s[\"", i ? "," : "");
		kx_buf_hex(&j, f[i].id, KX_MKT_ID_LEN);
		kx_buf_printf(&j, "\",%" PRIu64 "]", f[i].wh);
	}
	kx_buf_puts(&j, "]}");
	if (publish_json(m, "clear", &j) == 0) {
		log_info("market: slot %" PRIu64 " cleared: %zu orders, "
		    "volume %" PRIu64 " Wh, price %s%u", slot, bk.n,
		    bk.res.volume, bk.res.has_price ? "" : "nil ",
		    bk.res.has_price ? bk.res.price : 0);
		(void)done_put(m, slot, D_CLEARED, now, "published");
	}
	kx_buf_free(&j);
out:
	free(f);
	book_free(&bk);
}

/* ---- settlement inputs ------------------------------------------------- */

struct inputs {
	kx_mktd_t		*m;
	uint64_t		 slot;
	kx_mkt_reading_t	*r;
	size_t			 nr, rcap;
	kx_mkt_points_t		*pts;
	size_t			 npts, pcap;
	bool			 oom;
};

/* Opens a reading sealed to us; 0 with imp/exp, or -1. */
static int
open_reading(kx_mktd_t *m, const kx_body_t *b, uint64_t *imp, uint64_t *exp)
{
	uint8_t		 plain[256];
	kx_mp_cur_t	 c, after;
	kx_mp_val_t	 map, v;
	size_t		 n;

	if (memcmp(b->u.reading.to, m->c.pk, KX_PK_LEN) != 0 ||
	    b->u.reading.box_len < crypto_box_SEALBYTES ||
	    b->u.reading.box_len - crypto_box_SEALBYTES > sizeof(plain))
		return -1;
	n = b->u.reading.box_len - crypto_box_SEALBYTES;
	if (crypto_box_seal_open(plain, b->u.reading.box,
	    b->u.reading.box_len, m->c.cpk, m->c.csk) != 0)
		return -1;
	kx_mp_cur_init(&c, plain, n);
	if (kx_mp_check(&c, 2, true) != KX_MP_OK || kx_mp_left(&c) != 0)
		return -1;
	kx_mp_cur_init(&c, plain, n);
	if (kx_mp_read(&c, &map) != KX_MP_OK || map.kind != KX_MP_MAP)
		return -1;
	if (kx_mp_map_get(&map, c, "imp", &v, &after) != 1 ||
	    v.kind != KX_MP_UINT || v.u > KX_MKT_SIDE_MAX)
		return -1;
	*imp = v.u;
	if (kx_mp_map_get(&map, c, "exp", &v, &after) != 1 ||
	    v.kind != KX_MP_UINT || v.u > KX_MKT_SIDE_MAX)
		return -1;
	*exp = v.u;
	return 0;
}

static int
reading_cb(void *arg, const kx_stored_t *s)
{
	struct inputs	*in = arg;
	kx_msg_t	 msg;
	kx_body_t	*b;
	kx_params_t	 p;
	uint64_t	 imp, exp;
	size_t		 i;

	if ((b = malloc(sizeof(*b))) == NULL) {
		in->oom = true;
		return 1;
	}
	kx_params_default(&p);
	if (kx_msg_decode(&msg, s->wire, s->len, NULL) != KX_OK ||
	    kx_body_parse(b, &msg, &p, NULL) != KX_OK ||
	    open_reading(in->m, b, &imp, &exp) == -1) {
		free(b);
		return 0;	/* not for us, or unreadable: missing */
	}
	free(b);
	for (i = 0; i < in->nr; i++)	/* a later reading replaces */
		if (memcmp(in->r[i].member, msg.author, KX_PK_LEN) == 0)
			break;
	if (i == in->nr) {
		if (in->nr == in->rcap) {
			size_t			 cap = in->rcap ? 2 * in->rcap : 16;
			kx_mkt_reading_t	*nr;

			if ((nr = reallocarray(in->r, cap, sizeof(*nr))) ==
			    NULL) {
				in->oom = true;
				return 1;
			}
			in->r = nr;
			in->rcap = cap;
		}
		in->nr++;
	}
	memcpy(in->r[i].member, msg.author, KX_PK_LEN);
	in->r[i].imp = imp;
	in->r[i].exp = exp;
	return 0;
}

static int
points_cb(void *arg, const kx_stored_t *s)
{
	struct inputs	*in = arg;
	kx_msg_t	 msg;
	kx_body_t	*b;
	kx_params_t	 p;
	int		 v = 0;

	if ((b = malloc(sizeof(*b))) == NULL) {
		in->oom = true;
		return 1;
	}
	kx_params_default(&p);
	/* only pays valid under section 8 count (community/ledger.c) */
	if (kx_msg_decode(&msg, s->wire, s->len, NULL) == KX_OK &&
	    kx_body_parse(b, &msg, &p, NULL) == KX_OK &&
	    b->type == KX_T_PAY && b->u.pay.cur == KX_CUR_HEALTH &&
	    kx_store_is_operator(in->m->c.st, b->u.pay.to) &&
	    !kx_store_is_operator(in->m->c.st, msg.author) &&
	    (v = kx_community_pay_valid(in->m->c.st, s->wire, s->len)) != 0) {
		if (v < 0) {
			free(b);
			in->oom = true;	/* a store error: not settled now */
			return 1;
		}
		if (in->npts == in->pcap) {
			size_t		 cap = in->pcap ? 2 * in->pcap : 16;
			kx_mkt_points_t	*np;

			if ((np = reallocarray(in->pts, cap, sizeof(*np))) ==
			    NULL) {
				free(b);
				in->oom = true;
				return 1;
			}
			in->pts = np;
			in->pcap = cap;
		}
		memcpy(in->pts[in->npts].member, msg.author, KX_PK_LEN);
		in->pts[in->npts].points = b->u.pay.amount;
		in->npts++;
	}
	free(b);
	return 0;
}

/* Points paid to the operator with ts inside the slot (section 7). */
static int
load_points(kx_mktd_t *m, uint64_t slot, const kx_params_t *p,
    struct inputs *in)
{
	uint64_t	 from = slot * 1000, to = (slot + p->slot_s) * 1000;

	if (kx_store_slot_msgs(m->c.st, KX_T_PAY, from, to, points_cb, in) !=
	    KX_OK || in->oom)
		return -1;
	return 0;
}

/* ---- operator: settle after the slot ---------------------------------- */

static void
op_settle(kx_mktd_t *m, uint64_t slot, int64_t now)
{
	struct book	 bk;
	struct inputs	 in;
	kx_line_t	*lines = NULL;
	size_t		 nl = 0, i;
	kx_buf_t	 j;
	int		 rc;

	memset(&in, 0, sizeof(in));
	in.m = m;
	in.slot = slot;
	if (book_published(m, slot, &bk, NULL) != 0)
		goto out;	/* cannot be 1: we filled from our store */
	if (kx_store_slot_msgs(m->c.st, KX_T_READING, slot, slot + 1,
	    reading_cb, &in) != KX_OK || in.oom ||
	    load_points(m, slot, &bk.p, &in) == -1)
		goto out;
	if (bk.res.volume == 0 && in.npts == 0) {
		(void)done_put(m, slot, D_SETTLED, now, "nothing to settle");
		goto out;
	}
	if ((rc = kx_settle(&lines, &nl, bk.o, bk.fills, bk.n, &bk.res, in.r,
	    in.nr, in.pts, in.npts, bk.p.pt_value, m->c.pk)) != KX_MKT_OK) {
		log_warnx("market: slot %" PRIu64 ": settlement failed: %s",
		    slot, kx_mkt_strerror(rc));
		goto out;
	}
	if (nl > KX_LIST_MAX) {
		log_warnx("market: slot %" PRIu64 ": %zu settle lines do not "
		    "fit one message; not published", slot, nl);
		(void)done_put(m, slot, D_SETTLED, now, "too many lines");
		goto out;
	}
	kx_buf_init(&j);
	kx_buf_printf(&j, "{\"slot\":%" PRIu64 ",\"lines\":[", slot);
	for (i = 0; i < nl; i++) {
		kx_buf_printf(&j, "%s[\"", i ? "," : "");
		kx_buf_hex(&j, lines[i].member, KX_PK_LEN);
		kx_buf_printf(&j, "\",%" PRId64 "]", lines[i].money);
	}
	kx_buf_puts(&j, "]}");
	if (publish_json(m, "settle", &j) == 0) {
		log_info("market: slot %" PRIu64 " settled: %zu lines, %zu "
		    "readings", slot, nl, in.nr);
		(void)done_put(m, slot, D_SETTLED, now, "published");
	}
	kx_buf_free(&j);
out:
	free(lines);
	free(in.r);
	free(in.pts);
	book_free(&bk);
}

/* ---- member: send the reading ------------------------------------------ */

static bool	has_msg(kx_mktd_t *, kx_type_t, uint64_t);

static void
member_reading(kx_mktd_t *m, uint64_t slot, const kx_params_t *p, int64_t now)
{
	struct newest	 nw;
	kx_msg_t	 msg;
	kx_body_t	*b;
	kx_slot_total_t	 t;
	kx_buf_t	 plain, j;
	uint8_t		*box = NULL;
	uint8_t		 ocpk[32];
	size_t		 nm, nf, i;
	uint32_t	 k;
	bool		 ours = false;
	char		 text[64], err[128];
	int64_t		 end = (int64_t)(slot + p->slot_s) * 1000;

	if ((b = malloc(sizeof(*b))) == NULL)
		return;
	kx_buf_init(&nw.wire);
	kx_buf_init(&plain);
	kx_buf_init(&j);
	if (!newest(m, KX_T_CLEAR, slot, &nw, &msg, b))
		goto out;	/* no clear yet: nothing to settle for us */
	if (has_msg(m, KX_T_SETTLE, slot)) {
		/* settled without it (we were down): sending it now would
		 * only disclose it; our line is then checked as "missing" */
		(void)done_put(m, slot, D_READING, now, "late: settled");
		goto out;
	}
	{
		struct book	 bk;

		if (book_clear(m, slot, &bk) == -1)
			goto out;
		for (k = 0; k < b->u.clear.n && !ours; k++)
			for (i = 0; i < bk.n; i++)
				if (memcmp(bk.o[i].id, b->u.clear.id[k],
				    KX_MKT_ID_LEN) == 0 && memcmp(bk.o[i].member,
				    m->c.pk, KX_PK_LEN) == 0 &&
				    b->u.clear.wh[k] > 0)
					ours = true;
		book_free(&bk);
	}
	if (!ours) {
		(void)done_put(m, slot, D_READING, now, "no fill");
		goto out;
	}
	if (kx_meterd_slot(m->c.md, (int64_t)slot * 1000, KX_USE_GRID, &t,
	    &nm, &nf) == -1)
		goto out;
	if (nm == 0) {
		(void)done_put(m, slot, D_READING, now, "no grid meter");
		goto out;
	}
	/* wait for every grid meter's slot, up to half the settle delay */
	if (nf < nm && now < end + m->c.settle_delay_ms / 2)
		goto out;
	if (nf == 0) {
		log_warnx("market: slot %" PRIu64 ": no metered totals; no "
		    "reading sent (counts as no export, import = bought)",
		    slot);
		(void)done_put(m, slot, D_READING, now, "no totals");
		goto out;
	}
	kx_buf_printf(&plain, "{\"imp\":%" PRId64 ",\"exp\":%" PRId64 "}",
	    t.wh[KX_SLOT_IMPORT], t.wh[KX_SLOT_EXPORT]);
	{
		kx_buf_t	 mp;

		kx_buf_init(&mp);
		if (kx_json_to_mp(&mp, (const char *)plain.data, plain.len,
		    NULL, err, sizeof(err)) == -1 ||
		    crypto_sign_ed25519_pk_to_curve25519(ocpk, m->c.op) != 0 ||
		    (box = malloc(mp.len + crypto_box_SEALBYTES)) == NULL ||
		    crypto_box_seal(box, mp.data, mp.len, ocpk) != 0) {
			kx_buf_free(&mp);
			log_warnx("market: slot %" PRIu64 ": cannot seal the "
			    "reading", slot);
			goto out;
		}
		kx_buf_printf(&j, "{\"slot\":%" PRIu64 ",\"to\":\"", slot);
		kx_buf_hex(&j, m->c.op, KX_PK_LEN);
		kx_buf_puts(&j, "\",\"box\":\"");
		kx_buf_hex(&j, box, mp.len + crypto_box_SEALBYTES);
		kx_buf_puts(&j, "\"}");
		/* section 9: the disclosure is recorded before it is made */
		if (kx_privacy_disclose(m->privacy, now, "slot-totals",
		    "settlement", "operator", box, mp.len +
		    crypto_box_SEALBYTES, NULL) != 0) {
			kx_buf_free(&mp);
			log_warnx("market: slot %" PRIu64 ": the disclosure "
			    "cannot be recorded; reading not sent", slot);
			goto out;
		}
		kx_buf_free(&mp);
	}
	if (publish_json(m, "reading", &j) == 0) {
		uint8_t	 key[9];
		char	 sealed[256];

		snprintf(text, sizeof(text), "%" PRId64 " %" PRId64,
		    t.wh[KX_SLOT_IMPORT], t.wh[KX_SLOT_EXPORT]);
		kx_be64_put(key, slot);
		key[8] = D_READING;
		(void)done_put(m, slot, D_READING, now, kx_seal_text(m->dk,
		    "ledger/done", key, 9, text, sealed, sizeof(sealed)) == 0 ?
		    sealed : "sent");
		log_debug("market: slot %" PRIu64 ": reading sent (%s Wh "
		    "import/export)", slot, text);
	}
out:
	free(box);
	free(b);
	kx_buf_free(&nw.wire);
	kx_buf_free(&plain);
	kx_buf_free(&j);
}

/* ---- everyone: verify the clear --------------------------------------- */

static struct pending_verify *
pv_get(kx_mktd_t *m, uint64_t slot, int64_t now)
{
	size_t	 i, oldest = 0;

	for (i = 0; i < sizeof(m->pv) / sizeof(m->pv[0]); i++)
		if (m->pv[i].slot == slot && m->pv[i].first_ms != 0)
			return &m->pv[i];
	for (i = 0; i < sizeof(m->pv) / sizeof(m->pv[0]); i++)
		if (m->pv[i].first_ms < m->pv[oldest].first_ms)
			oldest = i;
	m->pv[oldest].slot = slot;
	m->pv[oldest].first_ms = now;
	return &m->pv[oldest];
}

static void
verify_clear(kx_mktd_t *m, uint64_t slot, int64_t now)
{
	struct newest		 nw;
	struct pending_verify	*pv;
	kx_msg_t		 msg;
	kx_body_t		*b;
	struct book		 bk;
	struct fill		*ours = NULL, *theirs = NULL;
	size_t			 no = 0, i;
	bool			 same = true;

	memset(&bk, 0, sizeof(bk));
	if ((b = malloc(sizeof(*b))) == NULL)
		return;
	kx_buf_init(&nw.wire);
	if (!newest(m, KX_T_CLEAR, slot, &nw, &msg, b))
		goto out;
	if (book_clear(m, slot, &bk) == -1)
		goto out;
	if (memcmp(bk.res.set, b->u.clear.set, 32) != 0) {
		pv = pv_get(m, slot, now);
		if (now - pv->first_ms < m->c.verify_wait_ms) {
			if (m->c.want_sync != NULL)
				m->c.want_sync(m->c.ctx);
			goto out;	/* fetch what we lack, try again */
		}
		dispute(m, slot, D_VERIFIED, "order set differs: we hold %zu "
		    "orders and still get another set hash after %" PRId64
		    " ms", bk.n, now - pv->first_ms);
		(void)done_put(m, slot, D_VERIFIED, now, "dispute: set");
		goto out;
	}
	if ((ours = calloc(bk.n + 1, sizeof(*ours))) == NULL ||
	    (theirs = calloc(b->u.clear.n + 1, sizeof(*theirs))) == NULL)
		goto out;
	no = fills_sorted(&bk, ours);
	for (i = 0; i < b->u.clear.n; i++) {
		memcpy(theirs[i].id, b->u.clear.id[i], KX_MKT_ID_LEN);
		theirs[i].wh = b->u.clear.wh[i];
	}
	qsort(theirs, b->u.clear.n, sizeof(*theirs), id_cmp);
	if (bk.res.has_price != b->u.clear.has_price ||
	    (bk.res.has_price && bk.res.price != b->u.clear.price) ||
	    bk.res.volume != b->u.clear.volume || no != b->u.clear.n)
		same = false;
	for (i = 0; same && i < no; i++)
		if (memcmp(ours[i].id, theirs[i].id, KX_MKT_ID_LEN) != 0 ||
		    ours[i].wh != theirs[i].wh)
			same = false;
	if (same) {
		(void)done_put(m, slot, D_VERIFIED, now, "agreed");
		log_debug("market: slot %" PRIu64 ": clear agreed", slot);
	} else {
		dispute(m, slot, D_VERIFIED, "same orders, other result: we "
		    "get price %s%u volume %" PRIu64 " with %zu fills, the "
		    "operator %s%u volume %" PRIu64 " with %u fills",
		    bk.res.has_price ? "" : "nil ",
		    bk.res.has_price ? bk.res.price : 0, bk.res.volume, no,
		    b->u.clear.has_price ? "" : "nil ",
		    b->u.clear.has_price ? b->u.clear.price : 0,
		    b->u.clear.volume, b->u.clear.n);
		(void)done_put(m, slot, D_VERIFIED, now, "dispute: result");
	}
out:
	free(ours);
	free(theirs);
	free(b);
	book_free(&bk);
	kx_buf_free(&nw.wire);
}

/* ---- everyone: check our line, post the ledger ------------------------ */

static void
acc(uint8_t a[ACC_LEN], int tag, const uint8_t *pk)
{
	a[0] = (uint8_t)tag;
	if (pk != NULL)
		memcpy(a + 1, pk, KX_PK_LEN);
	else
		memset(a + 1, 0, KX_PK_LEN);
}

struct xfers {
	uint8_t		*rec;	/* XFER_LEN each */
	size_t		 n, cap;
	bool		 oom;
};

static void
xfer(struct xfers *x, const uint8_t from[ACC_LEN], const uint8_t to[ACC_LEN],
    int64_t amount, int kind)
{
	uint8_t	*r;
	int	 i;

	if (amount == 0 || x->oom)
		return;
	if (amount < 0) {		/* keep amounts positive */
		const uint8_t	*t = from;

		from = to;
		to = t;
		amount = -amount;
	}
	if (x->n == x->cap) {
		size_t	 cap = x->cap ? 2 * x->cap : 32;

		if ((r = reallocarray(x->rec, cap, XFER_LEN)) == NULL) {
			x->oom = true;
			return;
		}
		x->rec = r;
		x->cap = cap;
	}
	r = x->rec + x->n++ * XFER_LEN;
	memcpy(r, from, ACC_LEN);
	memcpy(r + ACC_LEN, to, ACC_LEN);
	for (i = 0; i < 8; i++)
		r[2 * ACC_LEN + i] = (uint8_t)((uint64_t)amount >> (8 * i));
	r[2 * ACC_LEN + 8] = (uint8_t)kind;
}

/*
 * The slot's transfers from public facts: each member's trade with the
 * operator (As*P in, Ab*(P+f) out), the fee Q*f from the operator to the
 * grid, points from the operator, and the rest of its line (shortfall at
 * retail, unused purchase at buy-back) with the grid. The operator's own
 * line is then operator + grid, so everything sums to zero.
 */
static int
post(kx_mktd_t *m, uint64_t slot, const kx_body_t *st, const struct book *bk,
    const struct inputs *in)
{
	struct xfers	 x;
	uint8_t		 opa[ACC_LEN], grid[ACC_LEN], mem[ACC_LEN];
	uint8_t		 key[12];
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint32_t	 i, q;
	size_t		 o;
	int64_t		 trade, pts;
	uint64_t	 fee_q = 0;
	int		 rc;

	memset(&x, 0, sizeof(x));
	acc(opa, ACC_OPERATOR, NULL);
	acc(grid, ACC_GRID, NULL);
	for (o = 0; o < bk->n; o++)
		if (bk->o[o].side == KX_BUY)
			fee_q += bk->fills[o];
	for (i = 0; i < st->u.settle.n; i++) {
		const uint8_t	*pk = st->u.settle.pk[i];

		if (kx_store_is_operator(m->c.st, pk))
			continue;	/* the operator's line: the rest */
		acc(mem, ACC_MEMBER, pk);
		trade = 0;
		for (o = 0; o < bk->n; o++) {
			if (memcmp(bk->o[o].member, pk, KX_PK_LEN) != 0)
				continue;
			if (bk->o[o].side == KX_SELL)
				trade += (int64_t)bk->fills[o] *
				    (int64_t)bk->res.price;
			else
				trade -= (int64_t)bk->fills[o] *
				    ((int64_t)bk->res.price + bk->res.fee);
		}
		pts = 0;
		for (q = 0; q < in->npts; q++)
			if (memcmp(in->pts[q].member, pk, KX_PK_LEN) == 0)
				pts += (int64_t)in->pts[q].points *
				    bk->p.pt_value;
		xfer(&x, opa, mem, trade, X_TRADE);
		xfer(&x, opa, mem, pts, X_POINTS);
		xfer(&x, grid, mem, st->u.settle.money[i] - trade - pts,
		    X_BALANCE);
	}
	xfer(&x, opa, grid, (int64_t)fee_q * bk->res.fee, X_FEE);
	if (x.oom)
		return -1;
	if ((rc = mdb_txn_begin(m->env, NULL, 0, &txn)) != 0)
		return -1;
	for (o = 0; o < x.n; o++) {
		kx_be64_put(key, slot);
		key[8] = (uint8_t)(o >> 24);
		key[9] = (uint8_t)(o >> 16);
		key[10] = (uint8_t)(o >> 8);
		key[11] = (uint8_t)o;
		k = kx_mdb_val(key, sizeof(key));
		v = kx_mdb_val(x.rec + o * XFER_LEN, XFER_LEN);
		if ((rc = mdb_put(txn, m->xfers, &k, &v, 0)) != 0)
			break;
	}
	if (rc == 0) {
		uint8_t	 dk[9], dv[8 + 6];

		kx_be64_put(dk, slot);
		dk[8] = D_POSTED;
		kx_be64_put(dv, 0);
		memcpy(dv + 8, "posted", 6);
		k = kx_mdb_val(dk, 9);
		v = kx_mdb_val(dv, sizeof(dv));
		rc = mdb_put(txn, m->done, &k, &v, 0);
	}
	free(x.rec);
	if (rc != 0 || mdb_txn_commit(txn) != 0) {
		if (rc != 0)
			mdb_txn_abort(txn);
		log_warnx("ledger: cannot post slot %" PRIu64, slot);
		return -1;
	}
	return 0;
}

/* Our own settle line from the book, nr of our readings (0 or 1). */
static int
own_line(kx_mktd_t *m, const struct book *bk, const struct inputs *in,
    size_t nr, const uint8_t *op, int64_t *money, bool *has)
{
	kx_line_t	*lines = NULL;
	size_t		 nl = 0, i;

	*money = 0;
	*has = false;
	if (kx_settle(&lines, &nl, bk->o, bk->fills, bk->n, &bk->res, in->r,
	    nr, in->pts, in->npts, bk->p.pt_value, op) != KX_MKT_OK)
		return -1;
	for (i = 0; i < nl; i++)
		if (memcmp(lines[i].member, m->c.pk, KX_PK_LEN) == 0) {
			*money = lines[i].money;
			*has = true;
		}
	free(lines);
	return 0;
}

static void
check_settle(kx_mktd_t *m, uint64_t slot, int64_t now)
{
	struct newest	 nw;
	kx_msg_t	 msg;
	kx_body_t	*b;
	struct book	 bk;
	struct inputs	 in;
	size_t		 i;
	char		 text[256], plain[64];
	uint8_t		 key[9];
	int64_t		 mine = 0, theirs = 0, sum = 0;
	bool		 in_ours = false, in_theirs = false;
	unsigned long long imp, exp;
	struct pending_verify *pv;
	size_t		 absent = 0;
	int		 rc;

	memset(&bk, 0, sizeof(bk));
	memset(&in, 0, sizeof(in));
	in.m = m;
	if ((b = malloc(sizeof(*b))) == NULL)
		return;
	kx_buf_init(&nw.wire);
	if (!newest(m, KX_T_SETTLE, slot, &nw, &msg, b))
		goto out;
	if ((rc = book_published(m, slot, &bk, &absent)) == 1) {
		/* a filled order not here yet: fetch, and wait a window */
		pv = pv_get(m, slot, now);
		if (now - pv->first_ms < m->c.verify_wait_ms) {
			if (m->c.want_sync != NULL)
				m->c.want_sync(m->c.ctx);
			goto out;
		}
		dispute(m, slot, D_CHECKED, "the clear fills an order we "
		    "still do not hold after %" PRId64 " ms (fill %zu)",
		    now - pv->first_ms, absent);
		(void)done_put(m, slot, D_CHECKED, now, "dispute: order");
		goto out;
	}
	if (rc == -1)
		goto out;	/* the store: try again next tick */
	if (rc == -2) {
		dispute(m, slot, D_CHECKED, "the clear does not add up (see "
		    "the log)");
		(void)done_put(m, slot, D_CHECKED, now, "dispute: clear");
		goto out;
	}
	if (load_points(m, slot, &bk.p, &in) == -1)
		goto out;
	for (i = 0; i < b->u.settle.n; i++)
		sum += b->u.settle.money[i];
	if (sum != 0) {
		dispute(m, slot, D_CHECKED, "settle lines sum to %" PRId64
		    ", not zero", sum);
		(void)done_put(m, slot, D_CHECKED, now, "dispute: sum");
		goto out;
	}
	/* our reading as we sent it (none: E = 0, I = Ab) */
	kx_be64_put(key, slot);
	key[8] = D_READING;
	if (done_get(m, slot, D_READING, text, sizeof(text)) &&
	    kx_open_text(m->dk, "ledger/done", key, 9, text, plain,
	    sizeof(plain)) == 0 &&
	    sscanf(plain, "%llu %llu", &imp, &exp) == 2) {
		if ((in.r = calloc(1, sizeof(*in.r))) == NULL)
			goto out;
		memcpy(in.r[0].member, m->c.pk, KX_PK_LEN);
		in.r[0].imp = imp;
		in.r[0].exp = exp;
		in.nr = 1;
	}
	if (!kx_store_is_operator(m->c.st, m->c.pk)) {
		if (own_line(m, &bk, &in, in.nr, msg.author, &mine,
		    &in_ours) == -1)
			goto out;
		for (i = 0; i < b->u.settle.n; i++)
			if (memcmp(b->u.settle.pk[i], m->c.pk, KX_PK_LEN) ==
			    0) {
				theirs = b->u.settle.money[i];
				in_theirs = true;
			}
		if ((in_ours != in_theirs || mine != theirs) && in.nr > 0) {
			int64_t	 miss;
			bool	 in_miss;

			/*
			 * Our reading may not have reached the operator before
			 * it settled (we were down, or the network was):
			 * section 7 then counts it missing, which is the
			 * rule, not a dispute.
			 */
			if (own_line(m, &bk, &in, 0, msg.author, &miss,
			    &in_miss) == 0 && in_miss == in_theirs &&
			    miss == theirs) {
				log_warnx("market: slot %" PRIu64 ": settled "
				    "without our reading (it came too late)",
				    slot);
				(void)done_put(m, slot, D_CHECKED, now,
				    "agreed: without our reading");
				goto posted;
			}
		}
		if (in_ours != in_theirs || mine != theirs) {
			dispute(m, slot, D_CHECKED, "our settle line: we "
			    "expect %s%" PRId64 " milli-sen, the operator "
			    "says %s%" PRId64, in_ours ? "" : "no line ", mine,
			    in_theirs ? "" : "no line ", theirs);
			(void)done_put(m, slot, D_CHECKED, now,
			    "dispute: line");
		} else
			(void)done_put(m, slot, D_CHECKED, now, "agreed");
	} else
		(void)done_put(m, slot, D_CHECKED, now, "operator");
posted:
	if (!done_get(m, slot, D_POSTED, NULL, 0))
		(void)post(m, slot, b, &bk, &in);
out:
	free(in.r);
	free(in.pts);
	free(b);
	book_free(&bk);
	kx_buf_free(&nw.wire);
}

/* ---- the tick ---------------------------------------------------------- */

static bool
has_msg(kx_mktd_t *m, kx_type_t type, uint64_t slot)
{
	struct newest	 nw;

	kx_buf_init(&nw.wire);
	nw.found = false;
	if (kx_store_slot_msgs(m->c.st, type, slot, slot + 1, newest_cb,
	    &nw) != KX_OK)
		nw.found = false;
	kx_buf_free(&nw.wire);
	return nw.found;
}

/* ---- the backlog: slots older than the window -------------------------- */

struct backlog {
	uint64_t	 slot[BACKLOG];
	size_t		 n;
};

/* Adds the slot of a clear or settle, keeping the BACKLOG smallest. */
static int
backlog_cb(void *arg, const kx_stored_t *st)
{
	struct backlog	*bl = arg;
	kx_params_t	 p;
	kx_msg_t	 msg;
	kx_body_t	*b;
	uint64_t	 slot;
	size_t		 i;

	if ((b = malloc(sizeof(*b))) == NULL)
		return 1;
	kx_params_default(&p);
	if (kx_msg_decode(&msg, st->wire, st->len, NULL) != KX_OK ||
	    kx_body_parse(b, &msg, &p, NULL) != KX_OK ||
	    (b->type != KX_T_CLEAR && b->type != KX_T_SETTLE)) {
		free(b);
		return 0;
	}
	slot = b->type == KX_T_CLEAR ? b->u.clear.slot : b->u.settle.slot;
	free(b);
	for (i = 0; i < bl->n; i++)
		if (bl->slot[i] == slot)
			return 0;
	if (bl->n == BACKLOG) {
		if (slot > bl->slot[BACKLOG - 1])
			return 1;	/* in slot order: nothing smaller */
		bl->n--;
	}
	for (i = bl->n; i > 0 && bl->slot[i - 1] > slot; i--)
		bl->slot[i] = bl->slot[i - 1];
	bl->slot[i] = slot;
	bl->n++;
	return 0;
}

/*
 * Verifies the slot's clear and checks its settle when they are stored
 * and not done yet. True when nothing is left to do for either.
 */
static bool
check_slot(kx_mktd_t *m, uint64_t slot, int64_t now)
{
	bool	 v = done_get(m, slot, D_VERIFIED, NULL, 0);
	bool	 c = done_get(m, slot, D_CHECKED, NULL, 0);

	if (!v && has_msg(m, KX_T_CLEAR, slot)) {
		verify_clear(m, slot, now);
		v = done_get(m, slot, D_VERIFIED, NULL, 0);
	} else
		v = true;
	if (!c && has_msg(m, KX_T_SETTLE, slot)) {
		check_settle(m, slot, now);
		c = done_get(m, slot, D_CHECKED, NULL, 0);
	} else
		c = true;
	return v && c;
}

/*
 * Verifies the clears and checks the settles of slots in [backlog_from,
 * first) not done yet, BACKLOG slots a tick, and moves backlog_from past
 * the slots that are done.
 */
static void
backlog_tick(kx_mktd_t *m, uint64_t first, int64_t now)
{
	struct backlog	 bl;
	size_t		 i;
	bool		 all = true;

	if (m->backlog_from >= first)
		return;
	memset(&bl, 0, sizeof(bl));
	if (kx_store_slot_msgs(m->c.st, KX_T_SETTLE, m->backlog_from, first,
	    backlog_cb, &bl) != KX_OK ||
	    kx_store_slot_msgs(m->c.st, KX_T_CLEAR, m->backlog_from, first,
	    backlog_cb, &bl) != KX_OK)
		return;
	for (i = 0; i < bl.n; i++) {
		if (!check_slot(m, bl.slot[i], now))
			all = false;
		if (all)
			m->backlog_from = bl.slot[i] + 1;
	}
	if (all && bl.n < BACKLOG)
		m->backlog_from = first;
}

void
kx_mktd_tick(kx_mktd_t *m, int64_t now)
{
	kx_params_t	 p;
	uint64_t	 cur, slot, first;
	int64_t		 end;

	if (m == NULL || now < m->next_tick || now < 0)
		return;
	m->next_tick = now + TICK_MS;
	if (kx_store_params(m->c.st, (uint64_t)now / 1000, &p) != KX_OK ||
	    p.slot_s == 0)
		return;
	cur = (uint64_t)now / 1000 / p.slot_s * p.slot_s;
	first = cur >= LOOKBACK * p.slot_s ? cur - LOOKBACK * p.slot_s : 0;
	for (slot = first; slot <= cur + p.slot_s; slot += p.slot_s) {
		kx_params_t	 sp;

		if (kx_store_params(m->c.st, slot, &sp) != KX_OK ||
		    sp.slot_s == 0 || slot % sp.slot_s != 0)
			continue;
		end = (int64_t)(slot + sp.slot_s) * 1000;
		if (m->c.is_operator && now >= kx_gate_ms(slot, sp.gate_s) &&
		    kx_gate_ms(slot, sp.gate_s) >= m->c.start_ms -
		    (int64_t)sp.slot_s * 1000 &&
		    !done_get(m, slot, D_CLEARED, NULL, 0))
			op_clear(m, slot, now);
		if (m->c.is_operator && now >= end + m->c.settle_delay_ms &&
		    done_get(m, slot, D_CLEARED, NULL, 0) &&
		    !done_get(m, slot, D_SETTLED, NULL, 0))
			op_settle(m, slot, now);
		if (!m->c.is_operator && now >= end &&
		    !done_get(m, slot, D_READING, NULL, 0))
			member_reading(m, slot, &sp, now);
		(void)check_slot(m, slot, now);
	}
	backlog_tick(m, first, now);
	kx_sumd_tick(&m->sumd, &m->c, now);	/* operator: after each day */
}

/* ---- status and the ledger -------------------------------------------- */

static void
count_kind(kx_mktd_t *m, MDB_txn *txn, char kind, const char *prefix,
    uint64_t *n)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc;

	*n = 0;
	if (mdb_cursor_open(txn, m->done, &c) != 0)
		return;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (k.mv_size == 9 && ((const uint8_t *)k.mv_data)[8] ==
		    (uint8_t)kind && (prefix == NULL || (v.mv_size >= 8 +
		    strlen(prefix) && memcmp((const uint8_t *)v.mv_data + 8,
		    prefix, strlen(prefix)) == 0)))
			(*n)++;
	mdb_cursor_close(c);
}

static void
json_text(kx_buf_t *b, const uint8_t *s, size_t n)
{
	size_t	 i;

	kx_buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			kx_buf_printf(b, "\\%c", s[i]);
		else if (s[i] < 0x20 || s[i] >= 0x7f)
			kx_buf_printf(b, "\\u%04x", s[i]);
		else
			kx_buf_putc(b, s[i]);
	}
	kx_buf_putc(b, '"');
}

void
kx_mktd_status(kx_mktd_t *m, kx_buf_t *b)
{
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint64_t	 cl, st, rd, ag, ck, nd = 0;
	int		 rc, shown = 0;

	if (m == NULL || mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn) != 0) {
		kx_buf_puts(b, "null");
		return;
	}
	count_kind(m, txn, D_CLEARED, "published", &cl);
	count_kind(m, txn, D_SETTLED, "published", &st);
	count_kind(m, txn, D_READING, NULL, &rd);
	{
		uint64_t	 nofill, nometer, nototal, late;

		count_kind(m, txn, D_READING, "no fill", &nofill);
		count_kind(m, txn, D_READING, "no grid", &nometer);
		count_kind(m, txn, D_READING, "no totals", &nototal);
		count_kind(m, txn, D_READING, "late", &late);
		rd -= nofill + nometer + nototal + late;
	}
	count_kind(m, txn, D_VERIFIED, "agreed", &ag);
	count_kind(m, txn, D_CHECKED, "agreed", &ck);
	kx_buf_printf(b, "{\"operator\":%s,\"cleared\":%" PRIu64 ",\"settled\":%"
	    PRIu64 ",\"readings_sent\":%" PRIu64 ",\"clears_agreed\":%" PRIu64
	    ",\"settles_agreed\":%" PRIu64 ",\"disputes\":[",
	    m->c.is_operator ? "true" : "false", cl, st, rd, ag, ck);
	if (mdb_cursor_open(txn, m->disputes, &c) == 0) {
		for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0;
		    rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
			nd++;
			if (k.mv_size != 9 || shown == DISPUTES_SHOWN)
				continue;
			kx_buf_printf(b, "%s{\"slot\":%" PRIu64 ",\"what\":\"%s\","
			    "\"text\":", shown ? "," : "", kx_be64_get(k.mv_data),
			    ((const uint8_t *)k.mv_data)[8] == D_VERIFIED ?
			    "clear" : "settle");
			json_text(b, v.mv_data, v.mv_size);
			kx_buf_putc(b, '}');
			shown++;
		}
		mdb_cursor_close(c);
	}
	kx_buf_printf(b, "],\"disputes_total\":%" PRIu64 "}", nd);
	mdb_txn_abort(txn);
}

static void
acc_name(char *out, size_t len, const uint8_t *a)
{
	if (a[0] == ACC_OPERATOR)
		snprintf(out, len, "operator");
	else if (a[0] == ACC_GRID)
		snprintf(out, len, "grid");
	else
		kx_hex(out, a + 1, KX_PK_LEN);
}

struct bal {
	char	 name[2 * KX_PK_LEN + 1];
	int64_t	 money;
};

static void
bal_add(struct bal **tab, size_t *n, size_t *cap, const char *name, int64_t d)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		if (strcmp((*tab)[i].name, name) == 0) {
			(*tab)[i].money += d;
			return;
		}
	if (*n == *cap) {
		size_t		 c = *cap ? 2 * *cap : 16;
		struct bal	*t = reallocarray(*tab, c, sizeof(**tab));

		if (t == NULL)
			return;
		*tab = t;
		*cap = c;
	}
	snprintf((*tab)[*n].name, sizeof((*tab)[*n].name), "%s", name);
	(*tab)[*n].money = d;
	(*n)++;
}

int
kx_mktd_ledger(kx_mktd_t *m, const char *account, kx_buf_t *b)
{
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_val		 k, v;
	struct bal	*tab = NULL;
	size_t		 nb = 0, cb = 0, i;
	uint64_t	 slot, last = UINT64_MAX;
	char		 from[2 * KX_PK_LEN + 1], to[2 * KX_PK_LEN + 1];
	int64_t		 amount;
	const uint8_t	*r;
	int		 rc, j, first_slot = 1, first_x = 1;

	if (m == NULL || mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, m->xfers, &c) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	kx_buf_puts(b, "{\"slots\":[");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 12 || v.mv_size != XFER_LEN)
			continue;
		slot = kx_be64_get(k.mv_data);
		r = v.mv_data;
		acc_name(from, sizeof(from), r);
		acc_name(to, sizeof(to), r + ACC_LEN);
		amount = 0;
		for (j = 7; j >= 0; j--)
			amount = (int64_t)((uint64_t)amount << 8 |
			    r[2 * ACC_LEN + j]);
		if (account != NULL && strcmp(account, from) != 0 &&
		    strcmp(account, to) != 0)
			continue;
		if (slot != last) {
			if (last != UINT64_MAX)
				kx_buf_puts(b, "]}");
			kx_buf_printf(b, "%s{\"slot\":%" PRIu64
			    ",\"transfers\":[", first_slot ? "" : ",", slot);
			first_slot = 0;
			first_x = 1;
			last = slot;
		}
		kx_buf_printf(b, "%s{\"from\":\"%s\",\"to\":\"%s\",\"amount\":%"
		    PRId64 ",\"kind\":\"%s\"}", first_x ? "" : ",", from, to,
		    amount, r[2 * ACC_LEN + 8] == X_TRADE ? "trade" :
		    r[2 * ACC_LEN + 8] == X_FEE ? "fee" :
		    r[2 * ACC_LEN + 8] == X_POINTS ? "points" : "balancing");
		first_x = 0;
		bal_add(&tab, &nb, &cb, from, -amount);
		bal_add(&tab, &nb, &cb, to, amount);
	}
	if (last != UINT64_MAX)
		kx_buf_puts(b, "]}");
	kx_buf_puts(b, "],\"balances\":{");
	for (i = 0; i < nb; i++)
		if (account == NULL || strcmp(account, tab[i].name) == 0)
			kx_buf_printf(b, "%s\"%s\":%" PRId64,
			    b->data[b->len - 1] == '{' ? "" : ",",
			    tab[i].name, tab[i].money);
	kx_buf_puts(b, "}}");
	free(tab);
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return 0;
}

/* ---- open and close ---------------------------------------------------- */

kx_mktd_t *
kx_mktd_open(const kx_mktd_conf_t *conf, char *err, size_t errlen)
{
	kx_mktd_t	*m;
	MDB_txn		*txn;
	char		 dir[4200];
	int		 rc;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->c = *conf;
	if ((m->cctx = kx_clear_ctx_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(m);
		return NULL;
	}
	snprintf(dir, sizeof(dir), "%s/ledger", conf->dir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		kx_mktd_close(&m);
		return NULL;
	}
	if ((rc = mdb_env_create(&m->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(m->env, 4)) != 0 ||
	    (rc = mdb_env_set_mapsize(m->env, (size_t)1 << 30)) != 0 ||
	    (rc = mdb_env_open(m->env, dir, MDB_NOTLS, 0600)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(m->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "done", MDB_CREATE, &m->done)) != 0 ||
	    (rc = mdb_dbi_open(txn, "xfers", MDB_CREATE, &m->xfers)) != 0 ||
	    (rc = mdb_dbi_open(txn, "disputes", MDB_CREATE,
	    &m->disputes)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	if ((m->dk = kx_datakey_open(conf->dir, err, errlen)) == NULL ||
	    (m->privacy = kx_privacy_open(conf->dir, err, errlen)) == NULL) {
		kx_mktd_close(&m);
		return NULL;
	}
	return m;
fail:
	snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
	kx_mktd_close(&m);
	return NULL;
}

void
kx_mktd_close(kx_mktd_t **p)
{
	kx_mktd_t	*m;

	if (p == NULL || (m = *p) == NULL)
		return;
	if (m->env != NULL)
		mdb_env_close(m->env);
	kx_privacy_close(&m->privacy);
	kx_datakey_free(&m->dk);
	kx_clear_ctx_free(&m->cctx);
	kx_sumd_free(&m->sumd);
	free(m);
	*p = NULL;
}

int
kx_mktd_counts(kx_mktd_t *m, kx_mktd_counts_t *c)
{
	MDB_txn		*txn;
	MDB_stat	 st;
	uint64_t	 a, b, d;

	memset(c, 0, sizeof(*c));
	if (m == NULL || mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	count_kind(m, txn, D_CLEARED, "published", &c->cleared);
	count_kind(m, txn, D_SETTLED, "published", &c->settled);
	count_kind(m, txn, D_READING, NULL, &c->readings_sent);
	count_kind(m, txn, D_READING, "no fill", &a);
	count_kind(m, txn, D_READING, "no grid", &b);
	count_kind(m, txn, D_READING, "no totals", &d);
	c->readings_sent -= a + b + d;
	count_kind(m, txn, D_READING, "late", &d);
	c->readings_sent -= d;
	count_kind(m, txn, D_VERIFIED, "agreed", &c->clears_agreed);
	count_kind(m, txn, D_CHECKED, "agreed", &c->settles_agreed);
	if (mdb_stat(txn, m->disputes, &st) == 0)
		c->disputes = st.ms_entries;
	mdb_txn_abort(txn);
	return 0;
}
