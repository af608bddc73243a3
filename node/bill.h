/*
 * bill.h - a member's bill over a range of slots with the local market,
 * next to the grid-only bill (node/bill.c has the formulas; `kaga-ctl
 * bill`, the demo). Reads the store and the meter service; pure
 * otherwise.
 */
#ifndef KX_BILL_H
#define KX_BILL_H

#include <stdint.h>

#include "buf.h"
#include "meterd.h"
#include "store.h"

typedef struct {
	uint64_t	 slots;		/* slots with a grid meter total */
	uint64_t	 settled_slots;	/* of those, with a settle */
	uint64_t	 imp_wh, exp_wh;	/* metered */
	uint64_t	 bought_wh, sold_wh;	/* local fills */
	int64_t		 market;	/* milli-sen paid, with the market */
	int64_t		 grid_only;	/* milli-sen paid, grid only */
} kx_bill_t;

/* Slots starting in [from, to) (unix s). 0, or -1 on a read error. */
int	kx_bill(kx_store_t *st, kx_meterd_t *md, const uint8_t pk[KX_PK_LEN],
	    uint64_t from, uint64_t to, kx_bill_t *out)
	    __attribute__((warn_unused_result));

/* {"slots":..,"import_wh":..,...,"bill_millisen":..,"grid_only_millisen":..} */
void	kx_bill_json(const kx_bill_t *bl, kx_buf_t *b);

#endif
