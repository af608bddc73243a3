/*
 * slot.h - energy per market slot from cumulative energy counters
 * (import, export, PV Wh), with plausibility checks on the counters.
 *
 * One accumulator per meter. Each reading's counters are checked against
 * the last accepted value of the same counter: a counter may not run
 * backwards by more than tol_wh (jitter, e.g. float32 rounding of kWh)
 * nor rise by more than max_power_w x elapsed time + tol_wh. A failing
 * counter is flagged, counted and kept out of the totals; two consecutive
 * failing values that are plausible relative to each other (a replaced
 * or reset meter) start a new baseline. The delta of an accepted counter
 * is spread linearly over the time since its previous accepted value,
 * split across slot boundaries in integer arithmetic (see kx_slot_share),
 * so the slot totals always add up to the counter's accepted increase.
 * Integers only, no allocation; tuned for one reading every 1-60 s and
 * slots of minutes to hours. Not thread-safe.
 */
#ifndef KX_METER_SLOT_H
#define KX_METER_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

#define KX_SLOT_NCH		3	/* counters per meter */
#define KX_SLOT_IMPORT		0	/* index in wh[]: import_wh */
#define KX_SLOT_EXPORT		1	/* export_wh */
#define KX_SLOT_PV		2	/* pv_wh */
#define KX_SLOT_CH(i)		(1u << (i))	/* "present" / "bad" bits */

/* kx_slot_add result bits (besides KX_SLOT_CH(i) for a flagged counter) */
#define KX_SLOT_R_STALE		0x0100u	/* ts not after the last one: dropped */
#define KX_SLOT_R_REBASE	0x0200u	/* a counter started a new baseline */
#define KX_SLOT_R_BADVAL	0x0400u	/* a negative counter: ignored */

/* kx_slot_total_t flags */
#define KX_SLOT_F_PARTIAL	0x01u	/* covered_ms < len_ms */
#define KX_SLOT_F_GAP		0x02u	/* spread over an interval > gap_ms */
#define KX_SLOT_F_REBASE	0x04u	/* a counter was rebased: energy lost */
#define KX_SLOT_F_BAD		0x08u	/* an implausible value was refused */
#define KX_SLOT_F_FLUSH		0x10u	/* emitted by kx_slot_flush, still open */

typedef struct {
	int	 slot_s;	/* slot length, s (default 1800) */
	int64_t	 max_power_w;	/* largest plausible power (100 000 W) */
	int64_t	 tol_wh;	/* tolerated jitter either way (10 Wh) */
	int64_t	 gap_ms;	/* longer intervals mark slots GAP (300 000) */
} kx_slot_conf_t;

/* The totals of one slot [start_ms, start_ms + len_ms). */
typedef struct {
	int64_t	 start_ms;		/* wall clock, a multiple of len_ms */
	int64_t	 len_ms;		/* slot_s x 1000 */
	int64_t	 wh[KX_SLOT_NCH];	/* import, export, PV, Wh, >= 0 */
	int64_t	 covered_ms;		/* part between two readings */
	uint32_t flags;			/* KX_SLOT_F_* */
} kx_slot_total_t;

typedef void	(*kx_slot_emit_fn)(void *ctx, const kx_slot_total_t *t);

/* One counter's state (private to slot.c). */
typedef struct {
	int	 have;		/* val/ts hold the accepted baseline */
	int64_t	 val;		/* last accepted value, Wh */
	int64_t	 ts;		/* its time (ms) */
	int	 have_cand;	/* a refused value waits for confirmation */
	int64_t	 cand_val;
	int64_t	 cand_ts;
} kx_slot_chan_t;

/* An accumulator; fields are read-only for callers. */
typedef struct {
	kx_slot_conf_t	 conf;
	int		 started;	/* a first reading was seen */
	int64_t		 last_ts;	/* time of the latest reading */
	kx_slot_total_t	 cur;		/* the open slot */
	kx_slot_chan_t	 ch[KX_SLOT_NCH];
	uint64_t	 n_samples;	/* readings taken in */
	uint64_t	 n_stale;	/* dropped: time not increasing */
	uint64_t	 n_backwards;	/* counter values refused: backwards */
	uint64_t	 n_jumps;	/* refused: above max power x time */
	uint64_t	 n_rebase;	/* new baselines (meter replaced/reset) */
	uint64_t	 n_jitter;	/* small backwards steps tolerated */
	uint64_t	 n_emitted;	/* slots emitted */
} kx_slot_acc_t;

/* Defaults: 1800 s, 100 kW, 10 Wh, 5 min. */
void	kx_slot_conf_init(kx_slot_conf_t *c);

/*
 * Starts an empty accumulator. conf NULL means defaults. Returns
 * KX_METER_OK or KX_METER_EARG (slot_s < 1, max_power_w < 0, tol_wh < 0,
 * gap_ms < 0).
 */
int	kx_slot_init(kx_slot_acc_t *a, const kx_slot_conf_t *conf)
	    __attribute__((warn_unused_result));

/*
 * Takes one reading at ts_ms (wall clock) with counters wh[i] for each
 * KX_SLOT_CH(i) set in present. Every slot that ends at or before ts_ms
 * and was open is passed to emit (which may be NULL), oldest first.
 * Returns 0 or KX_SLOT_CH(i) bits of refused counters and KX_SLOT_R_*.
 */
uint32_t	kx_slot_add(kx_slot_acc_t *a, int64_t ts_ms, uint32_t present,
		    const int64_t wh[KX_SLOT_NCH], kx_slot_emit_fn emit,
		    void *ctx);

/* The same from a reading (import_wh, export_wh, pv_wh by their flags). */
uint32_t	kx_slot_add_reading(kx_slot_acc_t *a, const kx_reading_t *r,
		    kx_slot_emit_fn emit, void *ctx);

/* Emits the open slot as it stands (KX_SLOT_F_FLUSH), e.g. at shutdown. */
void	kx_slot_flush(const kx_slot_acc_t *a, kx_slot_emit_fn emit,
	    void *ctx);

/*
 * The state that must survive a restart (the open slot, each counter's
 * baseline and candidate), as KX_SLOT_STATE_LEN bytes: "KXS1" and 28
 * little-endian int64s. Restoring it makes the next reading after a
 * restart spread its counter increase over the time the node was down,
 * so no energy is lost or counted twice. Statistics are not saved.
 */
#define KX_SLOT_STATE_LEN	(4 + 28 * 8)

void	kx_slot_save(const kx_slot_acc_t *a, uint8_t out[KX_SLOT_STATE_LEN]);

/*
 * Restores a saved state into a (initialised with kx_slot_init: its conf
 * is kept). Refuses, leaving a unchanged, a record of the wrong length or
 * magic, another slot length, or values that cannot come from kx_slot_add
 * (negative totals or counters, the open slot not holding the last
 * reading, a baseline after it, flags or booleans out of range).
 * Returns KX_METER_OK or KX_METER_EARG.
 */
int	kx_slot_restore(kx_slot_acc_t *a, const uint8_t *state, size_t len)
	    __attribute__((warn_unused_result));

/*
 * Changes the slot length to slot_s (>= 1), keeping each counter's
 * baseline: the open slot is dropped and a new one opens at the boundary
 * holding the last reading, flagged KX_SLOT_F_PARTIAL | KX_SLOT_F_REBASE
 * when it is emitted (the energy of the dropped open slot is not in any
 * slot; nothing after it is lost). Returns KX_METER_OK or KX_METER_EARG.
 */
int	kx_slot_reslot(kx_slot_acc_t *a, int slot_s)
	    __attribute__((warn_unused_result));

/*
 * floor(d x x / dt) without overflow, for 0 <= d, 0 <= x <= dt, 0 < dt;
 * x and dt are first halved together until dt < 2^31 (sub-ms precision
 * is irrelevant), so share(d, dt, dt) == d and share is non-decreasing in
 * x. Returns 0 on bad arguments.
 */
int64_t	kx_slot_share(int64_t d, int64_t x, int64_t dt);

/*
 * Whether a counter going from v0 at t0 to v1 at t1 (t1 > t0) is
 * plausible under conf: v1 - v0 >= -tol_wh and v1 - v0 <= max_power_w x
 * (t1 - t0) / 3 600 000 + tol_wh. 1 or 0.
 */
int	kx_slot_plausible(const kx_slot_conf_t *c, int64_t v0, int64_t t0,
	    int64_t v1, int64_t t1);

#endif
