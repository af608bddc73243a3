/*
 * node.h - the kaga-node daemon: one identity, one LMDB store, a ZeroMQ
 * ROUTER for inbound peers, DEALERs to a bounded set of outbound peers
 * (CURVE with keys derived from the identity, a ZAP handler admitting only
 * members and operator keys), eager push, anti-entropy and a local
 * control socket. One thread, one zmq_poll loop (docs/gossip.md).
 */
#ifndef KX_NODE_H
#define KX_NODE_H

#include <signal.h>

#include "config.h"

typedef struct kx_node kx_node_t;

/* Set by signal handlers; the loop acts on them. */
extern volatile sig_atomic_t	kx_quit, kx_reload;

/* Opens the store and key (creating the key if missing), binds the ZAP
 * handler, the control socket and the listener. NULL with a message. */
kx_node_t	*kx_node_new(const kx_conf_t *conf, char *err, size_t errlen);
/* Runs until kx_quit; returns 0 on a clean stop, -1 on a fatal error. */
int		 kx_node_run(kx_node_t *);
/* Applies a reloaded config: peers, limits, intervals. */
void		 kx_node_reload(kx_node_t *, const kx_conf_t *conf);
void		 kx_node_destroy(kx_node_t **);

#endif
