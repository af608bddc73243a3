/*
 * autobid.h - a member node places its own orders: before each gate it
 * forecasts its net position for the slot from its grid meters' stored
 * slot totals (node/meterd.h) and turns it into a buy or sell order with
 * market/strategy.h, within the owner's limits from the `strategy` line
 * of the configuration (docs/kaga-node.conf.md).
 *
 * - With 1800 s slots and at least KX_AUTOBID_MIN_DAYS days of history,
 *   the forecast is kx_strat_forecast (the same slot of the last 14 JST
 *   days); otherwise the trimmed mean of the last KX_AUTOBID_RECENT
 *   slots, with their spread as the uncertainty.
 * - A node never offers energy it cannot measure: no sell order while a
 *   grid meter is offline or has no reading within three periods.
 * - At most one order per slot: the node's own log is checked, so a
 *   restart does not bid twice.
 * Runs in the node's main thread (the store is not thread-safe).
 */
#ifndef KX_AUTOBID_H
#define KX_AUTOBID_H

#include <stdint.h>

#include "config.h"
#include "meterd.h"
#include "mktd.h"
#include "store.h"

#define KX_AUTOBID_RECENT	8
#define KX_AUTOBID_MIN_DAYS	3

typedef struct kx_autobid kx_autobid_t;

/* NULL when the node does not bid (strategy off, no grid meter, an
 * operator or city role) or out of memory; that is not an error. */
kx_autobid_t	*kx_autobid_new(const kx_conf_t *conf, kx_store_t *st,
		    kx_meterd_t *md, const uint8_t pk[32],
		    kx_publish_fn publish, void *ctx);
void		 kx_autobid_free(kx_autobid_t **);

/* Places the next slot's order when its time has come (wall ms). */
void		 kx_autobid_tick(kx_autobid_t *, int64_t now_ms);

/* Orders placed and slots skipped since start, for status. */
void		 kx_autobid_counts(const kx_autobid_t *, uint64_t *placed,
		    uint64_t *skipped_sell);

#endif
