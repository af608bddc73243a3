/*
 * bill.c - a member's bill over a range of slots, with the local market
 * and as it would have been with the grid only (kaga-ctl bill, the demo).
 *
 * Per slot with a grid meter total (I imported, E exported, Wh):
 *   grid only   I x C - E x F
 *   market      -line + max(0, I - Ab) x C - max(0, E - As) x F
 * where line is the member's settle line (0 when it has none), As and Ab
 * its sold and bought fills from the operator's clear, C the ceiling
 * (retail) and F the floor (buy-back) in force for the slot: section 7
 * settles the market position, the rest stays with the ordinary retail
 * and buy-back contract. Positive = the member pays; milli-sen.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bill.h"
#include "body.h"
#include "envelope.h"

struct newest {
	kx_buf_t	 wire;
	int64_t		 ts;
	bool		 found;
};

static int
newest_cb(void *arg, const kx_stored_t *s)
{
	struct newest	*nw = arg;
	kx_msg_t	 m;

	if (kx_msg_decode(&m, s->wire, s->len, NULL) != KX_OK ||
	    (nw->found && m.ts < nw->ts))
		return 0;
	kx_buf_reset(&nw->wire);
	if (kx_buf_append(&nw->wire, s->wire, s->len) == -1)
		return 1;
	nw->ts = m.ts;
	nw->found = true;
	return 0;
}

/* The newest valid message of type for slot into b; 1, 0 none, -1. */
static int
newest(kx_store_t *st, kx_type_t type, uint64_t slot, kx_buf_t *w,
    kx_body_t *b)
{
	struct newest	 nw;
	kx_msg_t	 m;
	kx_params_t	 p;
	int		 r = 0;

	kx_buf_init(&nw.wire);
	nw.found = false;
	if (kx_store_slot_msgs(st, type, slot, slot + 1, newest_cb, &nw) !=
	    KX_OK)
		r = -1;
	else if (nw.found) {
		kx_buf_reset(w);
		if (kx_buf_append(w, nw.wire.data, nw.wire.len) == -1)
			r = -1;
		else {
			kx_params_default(&p);
			r = kx_msg_decode(&m, w->data, w->len, NULL) == KX_OK &&
			    kx_body_parse(b, &m, &p, NULL) == KX_OK ? 1 : -1;
		}
	}
	kx_buf_free(&nw.wire);
	return r;
}

struct ours {
	const uint8_t	*pk;
	kx_params_t	 p;		/* the slot's, for the order's gate */
	uint8_t		 id[64][KX_ID_LEN];
	int		 side[64];
	int		 n;
};

static int
ours_cb(void *arg, const kx_stored_t *s)
{
	struct ours	*o = arg;
	kx_msg_t	 m;
	kx_body_t	*b;

	if (o->n == 64 || kx_msg_decode(&m, s->wire, s->len, NULL) != KX_OK ||
	    memcmp(m.author, o->pk, KX_PK_LEN) != 0)
		return 0;
	if ((b = malloc(sizeof(*b))) == NULL)
		return 1;
	if (kx_body_parse(b, &m, &o->p, NULL) == KX_OK &&
	    b->type == KX_T_ORDER) {
		memcpy(o->id[o->n], m.id, KX_ID_LEN);
		o->side[o->n] = b->u.order.side;
		o->n++;
	}
	free(b);
	return 0;
}

int
kx_bill(kx_store_t *st, kx_meterd_t *md, const uint8_t pk[KX_PK_LEN],
    uint64_t from, uint64_t to, kx_bill_t *out)
{
	kx_params_t	 p;
	kx_slot_total_t	 t;
	kx_body_t	*b;
	kx_buf_t	 w;
	struct ours	 o;
	uint64_t	 slot, as, ab;
	size_t		 nm, nf;
	int64_t		 line, imp, exp;
	uint32_t	 k;
	int		 i, r = 0;

	memset(out, 0, sizeof(*out));
	if ((b = malloc(sizeof(*b))) == NULL)
		return -1;
	kx_buf_init(&w);
	for (slot = from; slot < to; ) {
		if (kx_store_params(st, slot, &p) != KX_OK || p.slot_s == 0) {
			r = -1;
			break;
		}
		if (slot % p.slot_s != 0) {
			slot = (slot / p.slot_s + 1) * p.slot_s;
			continue;
		}
		if (kx_meterd_slot(md, (int64_t)slot * 1000, KX_USE_GRID, &t,
		    &nm, &nf) != 0) {
			r = -1;
			break;
		}
		if (nf == 0 || nf < nm) {
			slot += p.slot_s;
			continue;
		}
		imp = t.wh[KX_SLOT_IMPORT];
		exp = t.wh[KX_SLOT_EXPORT];
		as = ab = 0;
		line = 0;
		if (newest(st, KX_T_CLEAR, slot, &w, b) == 1 &&
		    b->u.clear.has_price) {
			memset(&o, 0, sizeof(o));
			o.pk = pk;
			o.p = p;
			if (kx_store_orders(st, slot, ours_cb, &o) != KX_OK) {
				r = -1;
				break;
			}
			for (k = 0; k < b->u.clear.n; k++)
				for (i = 0; i < o.n; i++)
					if (memcmp(o.id[i], b->u.clear.id[k],
					    KX_ID_LEN) == 0) {
						if (o.side[i] == KX_SELL)
							as += b->u.clear.wh[k];
						else
							ab += b->u.clear.wh[k];
					}
		}
		if (newest(st, KX_T_SETTLE, slot, &w, b) == 1) {
			for (k = 0; k < b->u.settle.n; k++)
				if (memcmp(b->u.settle.pk[k], pk, KX_PK_LEN) ==
				    0)
					line = b->u.settle.money[k];
			out->settled_slots++;
		}
		out->slots++;
		out->imp_wh += (uint64_t)imp;
		out->exp_wh += (uint64_t)exp;
		out->bought_wh += ab;
		out->sold_wh += as;
		out->grid_only += imp * (int64_t)p.ceiling -
		    exp * (int64_t)p.floor;
		out->market += -line + ((uint64_t)imp > ab ? (imp -
		    (int64_t)ab) * (int64_t)p.ceiling : 0) -
		    ((uint64_t)exp > as ? (exp - (int64_t)as) *
		    (int64_t)p.floor : 0);
		slot += p.slot_s;
	}
	free(b);
	kx_buf_free(&w);
	return r;
}

void
kx_bill_json(const kx_bill_t *bl, kx_buf_t *b)
{
	kx_buf_printf(b, "{\"slots\":%" PRIu64 ",\"settled_slots\":%" PRIu64
	    ",\"import_wh\":%" PRIu64 ",\"export_wh\":%" PRIu64
	    ",\"bought_local_wh\":%" PRIu64 ",\"sold_local_wh\":%" PRIu64
	    ",\"bill_millisen\":%" PRId64 ",\"grid_only_millisen\":%" PRId64
	    "}", bl->slots, bl->settled_slots, bl->imp_wh, bl->exp_wh,
	    bl->bought_wh, bl->sold_wh, bl->market, bl->grid_only);
}
