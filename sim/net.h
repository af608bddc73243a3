/*
 * net.h - kaga-sim's protocol mode (`kaga-sim net`): an operator and
 * members as real kaga-node processes on 127.0.0.1, each member with its
 * own kaga-meter-sim over Modbus TCP and bidding by itself, every link
 * between two nodes through a relay of ours (sim/relay.h) so that a
 * script (sim/netscript.h) can stop, crash, restart and admit nodes and
 * cut the network in two. While it runs, every node's control socket is
 * polled; the run reports how fast messages reach the live nodes
 * (dissemination latency), whether every node agrees with the operator's
 * clearing and settlement (disputes, ledgers), how long a node that was
 * away takes to catch up, and whether anything crossed a partition.
 */
#ifndef KX_NET_H
#define KX_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netscript.h"

typedef struct {
	const char	*out;		/* run folder: must not hold a run */
	const char	*node_bin;	/* kaga-node */
	const char	*meter_bin;	/* kaga-meter-sim */
	bool		 quiet;		/* no progress on stderr */
} kx_net_opts_t;

typedef struct {
	/* dissemination to nodes up and connected when the message appeared */
	uint64_t	 deliveries;
	int64_t		 lat_p50_ms, lat_p90_ms, lat_p99_ms, lat_max_ms;
	int64_t		 poll_round_ms;	/* mean: the resolution */
	/* deliveries of a message born after a cut, across it (must be 0) */
	uint64_t	 leaks;
	/* clearing and settlement */
	uint64_t	 cleared, settled;	/* by the operator */
	uint64_t	 nodes_checked;	/* members up at the end */
	uint64_t	 nodes_agreeing;	/* of those: no dispute, ledger
					   equal to the operator's */
	uint64_t	 disputes;	/* on every node up at the end */
	uint64_t	 disputes_explained;	/* of those: a clear of a slot
					   with an order the operator got
					   after the gate */
	uint64_t	 orders_late;	/* such orders */
	/* catch-up after start, join and heal */
	uint64_t	 catchups, catchups_done;
	int64_t		 catchup_max_ms;
	uint64_t	 catchup_msgs;	/* messages fetched by them */
	/* the relays */
	uint64_t	 relay_bytes, relay_cut, relay_refused;
} kx_net_result_t;

/*
 * Runs the script. 0 when the run went through (the result says whether
 * the nodes agreed: kx_net_agreed), -1 on a failure (a binary missing, a
 * folder not writable, a node that does not start) with a reason in err.
 * Everything started is stopped before it returns, also on SIGINT/SIGTERM
 * (the run then ends early and reports what it saw).
 */
int	kx_net_run(const kx_netscript_t *s, const kx_net_opts_t *o,
	    kx_net_result_t *res, char *err, size_t errlen);

/*
 * No leak, no dispute the script does not explain, every checked node
 * agreeing, every catch-up done.
 */
bool	kx_net_agreed(const kx_net_result_t *r);

#endif
