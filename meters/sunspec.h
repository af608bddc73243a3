/*
 * sunspec.h - SunSpec discovery (SunS marker, model chain) and reading of
 * the inverter, meter and storage models into a kx_reading_t.
 *
 * All device access goes through a kx_read_fn (holding registers, fc 3),
 * so the chain walk runs the same over Modbus or an in-memory image. Tuned
 * for one scan at start-up and one read of a few models every few seconds;
 * no allocation.
 */
#ifndef KX_METER_SUNSPEC_H
#define KX_METER_SUNSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

#define KX_SS_MODELS_MAX	64

typedef struct {
	uint16_t	 id;	/* model ID */
	uint16_t	 len;	/* L, registers after the 2-register header */
	uint16_t	 addr;	/* register of the ID */
} kx_ss_model_t;

typedef struct {
	uint16_t	 base;		/* register of "SunS" */
	size_t		 nmodels;
	kx_ss_model_t	 models[KX_SS_MODELS_MAX];
} kx_ss_map_t;

/*
 * Looks for "SunS" at 40000, 0, then 50000 (an exception at one base
 * moves on to the next; a transport error stops) and walks the chain to
 * the 0xFFFF end. Returns KX_METER_OK, KX_METER_ENOSUNS, KX_METER_ELOOP,
 * KX_METER_ETOOMANY, KX_METER_ERANGE or a transport error.
 */
int	kx_ss_scan(kx_ss_map_t *map, kx_read_fn rd, void *ctx)
	    __attribute__((warn_unused_result));

/* Walks the chain from base (where "SunS" was found). Same returns. */
int	kx_ss_walk(kx_ss_map_t *map, uint16_t base, kx_read_fn rd, void *ctx)
	    __attribute__((warn_unused_result));

/* The first model with this ID in the map, or NULL. */
const kx_ss_model_t	*kx_ss_find(const kx_ss_map_t *map, uint16_t id);

/*
 * Reads the known models of map (integer meter 201-204 before float
 * 211-214, inverter 101-103 before 111-113, battery 802 before storage
 * 124; a point missing or not implemented in one is taken from the
 * other). Fills r (not ts). Returns KX_METER_OK, a transport error, or
 * KX_METER_ENODATA when no known model gave a value.
 */
int	kx_ss_read(kx_reading_t *r, const kx_ss_map_t *map, kx_read_fn rd,
	    void *ctx) __attribute__((warn_unused_result));

/*
 * Decodes one model from its register image (regs[0] is the ID register,
 * n registers available) into r. Pure; used by kx_ss_read and the fuzzer.
 * Returns the number of points stored.
 */
int	kx_ss_decode_model(kx_reading_t *r, uint16_t id, const uint16_t *regs,
	    size_t n);

#endif
