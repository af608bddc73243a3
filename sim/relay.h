/*
 * relay.h - TCP relays for kaga-sim's protocol mode: every directed link
 * between two kaga-node processes (node `from` dials node `to`) goes
 * through a relay that kaga-sim owns, so that it can cut links (a network
 * partition) and count the bytes each link carries. The relay forwards
 * raw bytes: the nodes' ZeroMQ CURVE sessions pass through it untouched.
 *
 * One background thread serves every link with poll(); the other
 * functions may be called from any thread. Loopback only.
 */
#ifndef KX_RELAY_H
#define KX_RELAY_H

#include <stddef.h>
#include <stdint.h>

#define KX_RELAY_NODES_MAX	128	/* node indexes 0 .. 127 */
#define KX_RELAY_LINKS_MAX	2048

typedef struct kx_relay kx_relay_t;

typedef struct {
	uint64_t	 accepted;	/* connections forwarded */
	uint64_t	 refused;	/* closed at accept: link cut, or `to`
					   not reachable */
	uint64_t	 cut;		/* live connections closed by a cut */
	uint64_t	 bytes;		/* bytes forwarded, both directions */
} kx_relay_stats_t;

/* A relay with no links; NULL with a reason in err. */
kx_relay_t	*kx_relay_new(char *err, size_t errlen);

/*
 * Adds the link from -> to: listens on 127.0.0.1 at a port the kernel
 * picks (written to *port) and forwards each connection accepted there to
 * 127.0.0.1:to_port. May be called before or after kx_relay_start. 0, or
 * -1 with a reason in err (bad index, too many links, socket error).
 */
int		 kx_relay_add(kx_relay_t *r, int from, int to, int to_port,
		    int *port, char *err, size_t errlen);

/* Starts the serving thread. 0, or -1 with a reason in err. */
int		 kx_relay_start(kx_relay_t *r, char *err, size_t errlen);

/*
 * Sets the partition: side[i] is node i's side for i < n (nodes >= n are
 * on side 0). A link whose ends are on different sides is cut: its live
 * connections are closed (counted in `cut`) and new ones are closed at
 * once (counted in `refused`). side == NULL heals: every link open. Takes
 * effect before the call returns.
 */
void		 kx_relay_sides(kx_relay_t *r, const uint8_t *side, size_t n);

/* Totals over every link, and for one link (from, to) when asked. */
void		 kx_relay_stats(kx_relay_t *r, kx_relay_stats_t *all);
int		 kx_relay_link_stats(kx_relay_t *r, int from, int to,
		    kx_relay_stats_t *out);

/* Stops the thread, closes every socket, frees; *r = NULL. */
void		 kx_relay_free(kx_relay_t **r);

#endif
