/*
 * netscript.h - the script of a kaga-sim protocol run (`kaga-sim net`):
 * how many nodes, how long, and when nodes stop, crash, start again, join
 * or are cut off by a partition. Parsed from a small line-based text file
 * (docs/sim.md, "Protocol mode", lists every line):
 *
 *     # comment
 *     members 8          initial members m1 .. m8 (the operator `op` always)
 *     late 2             members that join later: m9, m10
 *     slots 8            market slots to run
 *     slot-s 10          slot length, s
 *     gate-s 3           gate closure before the slot starts, s
 *     degree 3           configured peers per node
 *     gossip-ms 250      gossip interval
 *     seed 1             topology and meter draws
 *     at 20 stop m2      SIGTERM (clean stop)
 *     at 25 kill m3      SIGKILL (crash)
 *     at 40 start m2 m3  start again (catch-up is measured)
 *     at 30 join m9      the operator admits m9, which starts
 *     at 50 partition m1-m4 m7   these nodes on one side, the rest on
 *                                the other; `op` may be listed
 *     at 70 heal
 *
 * Times are seconds (up to 3 decimals) from the start of the first market
 * slot. Node lists name `op` or mK, and ranges mJ-mK. Events must come in
 * time order; each must make sense at its time (stop/kill a running node,
 * start a stopped one, join a late member not yet joined, no partition
 * while one is in force, heal only one that is).
 *
 * The parser reads untrusted bytes: strict, no allocation, no I/O, every
 * error one line "FILE:LINE: what". Pure.
 */
#ifndef KX_NETSCRIPT_H
#define KX_NETSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#define KX_NET_MEMBERS_MAX	64	/* members + late */
#define KX_NET_EVENTS_MAX	256
#define KX_NET_FILE_MAX		(1u << 16)	/* bytes of a script */
#define KX_NET_ERR_MAX		256

/* Node indexes: 0 is the operator, 1..64 the members m1..m64. */
#define KX_NET_OP		0

typedef enum {
	KX_NET_STOP = 1,	/* SIGTERM */
	KX_NET_KILL,		/* SIGKILL */
	KX_NET_START,		/* start a stopped node again */
	KX_NET_JOIN,		/* admit a late member and start it */
	KX_NET_PARTITION,	/* nodes in the set on one side */
	KX_NET_HEAL
} kx_net_action_t;

typedef struct {
	uint32_t	 at_ms;		/* from the first slot's start */
	kx_net_action_t	 action;
	uint64_t	 nodes[2];	/* bit i: node index i (0 = op,
					   1..64 = m1..m64); empty for heal */
	uint32_t	 line;		/* line of the script */
} kx_net_event_t;

typedef struct {
	uint32_t	 members;	/* 1 .. 64, default 8 */
	uint32_t	 late;		/* members + late <= 64, default 0 */
	uint32_t	 slots;		/* 1 .. 10000, default 8 */
	uint32_t	 slot_s;	/* 4 .. 3600, default 10 */
	uint32_t	 gate_s;	/* 1 .. slot_s - 1, default 3 */
	uint32_t	 degree;	/* 1 .. 16, default 3 */
	uint32_t	 gossip_ms;	/* 50 .. 10000, default 250 */
	uint64_t	 seed;		/* default 1 */
	size_t		 nev;
	kx_net_event_t	 ev[KX_NET_EVENTS_MAX];
} kx_netscript_t;

/* The defaults above, no events. */
void	kx_netscript_default(kx_netscript_t *s);

/*
 * Parses text[0..len) (need not be NUL-terminated) into s, starting from
 * the defaults. 0, or -1 with "FNAME:LINE: what" in err (FNAME as given;
 * the message is one line, NUL-terminated, never longer than errlen).
 * Checks at the end too: every event time before the end of the run
 * (slots x slot_s + 30 s), lists within members + late, events that make
 * sense in order (see above).
 */
int	kx_netscript_parse(kx_netscript_t *s, const char *text, size_t len,
	    const char *fname, char *err, size_t errlen);

/*
 * Writes s back as a script that parses to the same s (every key, then
 * the events; node sets as sorted lists with ranges). Returns the length
 * it needed (like snprintf); out is NUL-terminated when outlen > 0.
 */
size_t	kx_netscript_format(const kx_netscript_t *s, char *out, size_t outlen);

/* "op" or "mK" for node index i into out (at least 8 bytes). */
void	kx_netscript_name(int i, char *out, size_t outlen);

/* Whether node i is in the set of ev. */
int	kx_netscript_has(const kx_net_event_t *ev, int i);

#endif
