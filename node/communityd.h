/*
 * communityd.h - the community requests of a running node's control
 * socket (docs/community.md, docs/kaga-ctl.md): balances, history and
 * listings read from the node's store through community/, and `pay`,
 * which picks the credit to cite and publishes the pay with the node's
 * key.
 *
 * A request is `community SUB ARGS`: SUB one of balance, history,
 * listings, pay; ARGS a msgpack map (possibly empty) of its arguments:
 *   balance   {of?: bin(32), cur?: "health"|"time"}
 *   history   {of?: bin(32), cur?: "health"|"time"}
 *   listings  {}
 *   pay       {cur: "health"|"time", to: bin(32), amount: uint,
 *              memo?: str}
 * The reply is JSON (docs/kaga-ctl.md), or one line of error text. Runs
 * on the node's thread, which owns the store.
 */
#ifndef KX_COMMUNITYD_H
#define KX_COMMUNITYD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mktd.h"
#include "store.h"

/*
 * Handles one request for the node whose key is pk at wall clock now_ms;
 * publish (with ctx) signs and stores a message of ours. Appends the
 * JSON reply to out and returns 0, or appends an error text and returns
 * -1.
 */
int	kx_commd_request(kx_store_t *st, const uint8_t pk[KX_PK_LEN],
	    const uint8_t *sub, size_t sublen, const uint8_t *args,
	    size_t argslen, int64_t now_ms, kx_publish_fn publish, void *ctx,
	    kx_buf_t *out);

#endif
