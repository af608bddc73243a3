/*
 * meterd.h - the node's meter service: polls the meters of the
 * configuration (meter and point lines, docs/kaga-node.conf.md) on a
 * thread of its own, so a slow or dead Modbus device never delays gossip,
 * and keeps each meter's slot totals and slot-accounting state in an LMDB
 * environment of its own (DATA_DIR/meters).
 *
 * Persistence: every completed slot is written together with the state of
 * its meter's accumulator in one transaction, and the states of all
 * meters are saved every KX_METERD_SAVE_MS and at shutdown. After a
 * restart (or a crash) the accumulators continue from the saved state: the
 * counters' increase while the node was down is spread over that time, so
 * no energy is lost or counted twice (docs/meters.md "In the node").
 *
 * The main thread reads status and slot totals through the functions
 * below; they take a mutex or an LMDB read transaction and never wait for
 * a Modbus request.
 */
#ifndef KX_METERD_H
#define KX_METERD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "slot.h"

#define KX_METERD_SAVE_MS	60000

typedef struct kx_meterd kx_meterd_t;

/*
 * Opens DATA_DIR/meters, restores saved state, adds conf's meters and
 * starts polling. With no meters it opens nothing and starts no thread.
 * NULL with a message in err.
 */
kx_meterd_t	*kx_meterd_new(const kx_conf_t *conf, char *err,
		    size_t errlen);
/* Stops the thread, saves the states, closes. NULL-safe. */
void		 kx_meterd_destroy(kx_meterd_t **);

size_t		 kx_meterd_count(const kx_meterd_t *);

/*
 * Asks the thread to use slots of slot_s seconds from its next pass (the
 * market's slot length changed; kx_slot_reslot keeps the baselines).
 * Cheap when nothing changes.
 */
void		 kx_meterd_set_slot_s(kx_meterd_t *, int slot_s);

/*
 * Appends a JSON array to b: per meter its name, use, profile, address,
 * counters (requests, errors, readings, implausible, online,
 * last_good_ms, last_error), the latest reading (power_w, import_wh,
 * export_wh, pv_w, battery_w, soc_permille; null when absent) and the
 * open slot (start_ms, import_wh, export_wh, pv_wh, flags).
 */
void		 kx_meterd_status(kx_meterd_t *, kx_buf_t *b);

/*
 * Meter i's counters, latest reading (flags 0 before the first) and open
 * slot (*has_open 0 before the first reading) as of the last pass; any
 * out pointer may be NULL. Returns 0, or -1 when i is out of range.
 */
int		 kx_meterd_snapshot(kx_meterd_t *, size_t i,
		    kx_poll_stats_t *st, kx_reading_t *last,
		    kx_slot_total_t *open, int *has_open);

/*
 * The stored totals of the slot starting at start_ms (wall clock ms)
 * summed over the meters with the given use: wh[] and the OR of their
 * flags in *sum, the number of meters of that use in *nmeters and of
 * those with a stored slot in *nfound. Returns 0, or -1 on a read error.
 */
int		 kx_meterd_slot(kx_meterd_t *, int64_t start_ms,
		    kx_meter_use_t use, kx_slot_total_t *sum, size_t *nmeters,
		    size_t *nfound) __attribute__((warn_unused_result));

/*
 * Calls fn for every stored slot of meter `name` with start_ms in
 * [from_ms, to_ms), oldest first. Returns 0, or -1 (unknown meter, read
 * error).
 */
int		 kx_meterd_history(kx_meterd_t *, const char *name,
		    int64_t from_ms, int64_t to_ms,
		    void (*fn)(void *, const kx_slot_total_t *), void *arg)
		    __attribute__((warn_unused_result));

#endif
