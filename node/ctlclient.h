/*
 * ctlclient.h - the client side of a running node's control socket
 * (DATA_DIR/control.sock, owner-only), used by kaga-ctl and the tests.
 *
 * A request is a ZeroMQ REQ message of parts: a command ("status",
 * "publish", "log") and its arguments; the reply is two parts: "ok" or
 * "error", and a body (JSON, or an error text). See docs/gossip.md.
 */
#ifndef KX_CTLCLIENT_H
#define KX_CTLCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * Sends nargs parts to the node whose data folder is dir and waits up to
 * timeout_ms for the reply. Returns 0 with *ok and the body in reply, or
 * -1 with a message in err (no node, timeout, malformed reply).
 */
int	kx_ctl_call(const char *dir, const void *const *args,
	    const size_t *lens, size_t nargs, int timeout_ms, bool *ok,
	    kx_buf_t *reply, char *err, size_t errlen);

#endif
