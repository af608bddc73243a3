/*
 * mktd.h - the market duties of a running node (PROTOCOL.md sections 5.2,
 * 6 and 7; docs/market.md "In the node").
 *
 * Driven from the node's loop by kx_mktd_tick with the wall clock:
 * - an operator node clears each slot at its gate from the orders its
 *   store holds and publishes `clear`; after the slot and the settle delay
 *   it opens the sealed `reading`s addressed to it and publishes `settle`;
 * - a member node with a fill in a published clear seals its metered
 *   slot totals (grid meters, node/meterd.h) to the operator as `reading`;
 * - every node recomputes every `clear` from its own copy of the orders;
 *   when the set differs it asks its peers for what it lacks (anti-entropy
 *   at once) and retries until the verify window ends; a result that
 *   still differs is recorded as a dispute (kaga-ctl status). Every node
 *   checks its own settle line the same way;
 * - every settle is posted to a double-entry ledger (LMDB,
 *   DATA_DIR/ledger): accounts per member, the operator and the grid; each
 *   slot's transfers sum to zero and each member's net equals its line.
 * Not thread-safe: the node's main thread owns it (the store too).
 */
#ifndef KX_MKTD_H
#define KX_MKTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "meterd.h"
#include "store.h"

typedef struct kx_mktd kx_mktd_t;

/* Publishes one own message; 0, or -1 with a reason in err. */
typedef int	(*kx_publish_fn)(void *ctx, const char *type,
		    const uint8_t *body, size_t len, char *err, size_t errlen);

typedef struct {
	const char	*dir;		/* DATA_DIR/ledger is created */
	kx_store_t	*st;
	kx_meterd_t	*md;		/* may have no meters */
	const uint8_t	*sk;		/* 64 bytes: Ed25519 secret key */
	const uint8_t	*pk;		/* 32: our key */
	const uint8_t	*csk, *cpk;	/* 32 each: its Curve25519 pair */
	const uint8_t	*op;		/* 32: the operator readings go to */
	bool		 is_operator;	/* our key is an operator key */
	int64_t		 settle_delay_ms;	/* after a slot's end */
	int64_t		 verify_wait_ms;	/* fetching missing orders */
	int64_t		 start_ms;	/* no clearing of gates before this */
	kx_publish_fn	 publish;
	void		(*want_sync)(void *ctx);	/* anti-entropy now */
	void		*ctx;
} kx_mktd_conf_t;

kx_mktd_t	*kx_mktd_open(const kx_mktd_conf_t *conf, char *err,
		    size_t errlen);
void		 kx_mktd_close(kx_mktd_t **);

/* Does what is due at now_ms (wall clock); cheap when nothing is. */
void		 kx_mktd_tick(kx_mktd_t *, int64_t now_ms);

/*
 * Appends a JSON object: counts (cleared, settled, readings_sent,
 * clears_agreed, settles_checked, disputes) and the latest disputes.
 */
void		 kx_mktd_status(kx_mktd_t *, kx_buf_t *b);

/* The counts kx_mktd_status shows, for metrics. */
typedef struct {
	uint64_t	 cleared, settled, readings_sent, clears_agreed,
			 settles_agreed, disputes;
} kx_mktd_counts_t;

int		 kx_mktd_counts(kx_mktd_t *, kx_mktd_counts_t *c);

/*
 * Appends the ledger as JSON: balances per account and the transfers of
 * each slot (docs/market.md). account NULL for all, else only transfers
 * touching it. Returns 0 or -1 (read error).
 */
int		 kx_mktd_ledger(kx_mktd_t *, const char *account, kx_buf_t *b);

#endif
