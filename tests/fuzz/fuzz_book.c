/*
 * fuzz_book.c - libFuzzer target for the book parser of `kaga-ctl clear`
 * (kx_book_parse in node/ctl_market.c). A book that parses is cleared and
 * settled, and the invariants of PROTOCOL.md sections 6 and 7 are checked:
 * abort() on any violation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_market.h"
#include "market.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int64_t
eff(const kx_order_t *o, uint32_t k, const kx_params_t *p)
{
	int64_t	 c = o->price[k];

	if (o->side == KX_SELL)
		return c < p->floor ? p->floor : c;
	return (c > p->ceiling ? p->ceiling : c) - (int64_t)p->fee;
}

static void
check(const kx_book_t *b, const kx_clear_t *r, const uint64_t *fills,
    const bool *inc)
{
	uint64_t	 side[2] = { 0, 0 }, left, sf;
	int64_t		 surplus = 0, P = r->price, x;
	int64_t		 best_buy = INT64_MIN, best_sell = INT64_MAX;
	size_t		 i;
	uint32_t	 k;

	for (i = 0; i < b->n; i++) {
		const kx_order_t *o = &b->orders[i];

		if (!inc[i]) {
			if (fills[i] != 0)
				abort();
			continue;
		}
		left = fills[i];
		side[o->side] += fills[i];
		for (k = 0; k < o->n; k++) {
			sf = left < o->wh[k] ? left : o->wh[k];
			left -= sf;
			x = eff(o, k, &b->params);
			if (sf > 0) {
				if (o->side == KX_BUY ? x < P : x > P)
					abort();
				surplus += o->side == KX_BUY ?
				    x * (int64_t)sf : -x * (int64_t)sf;
			}
			if (sf < o->wh[k]) {
				if (o->side == KX_BUY) {
					if (r->has_price && x > P)
						abort();
					if (x > best_buy)
						best_buy = x;
				} else {
					if (r->has_price && x < P)
						abort();
					if (x < best_sell)
						best_sell = x;
				}
			}
		}
		if (left != 0)
			abort();
	}
	if (side[0] != r->volume || side[1] != r->volume ||
	    r->has_price != (r->volume > 0) || surplus != r->surplus ||
	    best_buy >= best_sell)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kx_book_t	 b;
	kx_clear_t	 r;
	kx_line_t	*lines;
	uint64_t	*fills;
	bool		*inc;
	size_t		 nl, i;
	int64_t		 sum = 0;
	char		 err[512];
	int		 rc;

	if (kx_book_parse(&b, (const char *)data, size, 0, err,
	    sizeof(err)) != KX_MKT_OK)
		return 0;
	fills = calloc(b.n + 1, sizeof(*fills));
	inc = calloc(b.n + 1, sizeof(*inc));
	if (fills == NULL || inc == NULL)
		abort();
	if ((rc = kx_clear(&r, fills, inc, b.orders, b.n, &b.params)) !=
	    KX_MKT_OK)
		abort();	/* a parsed book always clears */
	check(&b, &r, fills, inc);
	/* settle without readings; the zero member may be the operator */
	memset(b.op, 0xff, sizeof(b.op));
	for (i = 0; i < b.n; i++)
		b.orders[i].member[0] = (uint8_t)(i % 7);
	rc = kx_settle(&lines, &nl, b.orders, fills, b.n, &r, NULL, 0, NULL,
	    0, b.params.pt_value, b.op);
	if (rc == KX_MKT_OK) {
		for (i = 0; i < nl; i++)
			sum += lines[i].money;
		if (sum != 0)
			abort();
		free(lines);
	} else if (rc != KX_MKT_ENOMEM)
		abort();
	free(inc);
	free(fills);
	kx_book_free(&b);
	return 0;
}
