/*
 * engine.h - the policy simulation of kaga-sim: a synthetic Kaga whose
 * members forecast, bid, get cleared and get settled slot by slot with
 * the project's own market code (market/strategy.h for forecasts, order
 * curves and battery plans, kx_clear_with for clearing with one reused
 * context, kx_settle for settlement), and the results a policy maker
 * compares.
 *
 * Energy is in Wh and money in milli-sen (PROTOCOL.md section 1), both
 * integers; floating point is used only to draw the weather, the loads
 * and the PV output (model.c, and the clear-sky model of strategy.c),
 * which are rounded to whole Wh per member and half-hour at once.
 *
 * Tuned for the default city (27,400 members) over a year of half-hour
 * slots on two cores: one thread clears a slot while the other makes the
 * next slot's orders and settles the one before (engine.c), and
 * settlement runs in chunks of members (the same lines as one kx_settle
 * call over the whole book; tests/test_sim.c checks that). Results do
 * not depend on the number of threads.
 */
#ifndef KX_SIM_ENGINE_H
#define KX_SIM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

/* Error codes (reserved range -620 .. -639). */
#define KX_SIM_OK	 0
#define KX_SIM_EINVAL	-621	/* a scenario that does not check */
#define KX_SIM_ENOMEM	-622
#define KX_SIM_EMARKET	-623	/* the market or strategy code refused */
#define KX_SIM_ETHREAD	-624

/* Run options. */
typedef struct {
	unsigned	 threads;	/* 0: min(2, CPUs online) */
	bool		 progress;	/* a line on stderr about every second */
	size_t		 settle_chunk;	/* members per kx_settle call (0: 16) */
	bool		 plain;		/* call kx_strat_order for every member
					   (no sharing between members alike;
					   the same results, slower) */
} kx_sim_opt_t;

/* One market slot, city totals. */
typedef struct {
	int64_t		 slot;		/* unix s of its start */
	uint64_t	 load, pv;	/* Wh consumed (EVs included), produced */
	uint64_t	 imp, exp;	/* Wh through the members' grid meters */
	uint64_t	 chg, dis;	/* Wh into / out of batteries (grid side) */
	uint64_t	 ev;		/* Wh charged into EVs */
	uint32_t	 n_buy, n_sell;	/* orders */
	uint64_t	 bid, ask;	/* Wh offered to buy, to sell */
	bool		 has_price;
	uint32_t	 price;		/* sen/kWh, if has_price */
	uint64_t	 volume;	/* Wh cleared (Q) */
	uint64_t	 out_in;	/* Wh bought from outside at the ceiling */
	uint64_t	 out_out;	/* Wh sold outside at the floor */
	int64_t		 kept;		/* milli-sen paid to local sellers */
	int64_t		 outside;	/* milli-sen paid outside (retail, fees) */
	int64_t		 received;	/* milli-sen from outside (buy-back) */
} kx_sim_slot_t;

/* Results per member type. */
typedef struct {
	uint64_t	 members, with_pv, with_batt, with_ev;
	uint64_t	 load, pv, imp, exp;	/* Wh */
	uint64_t	 bought, sold;		/* Wh of fills */
	int64_t		 bill;		/* net bill with the local market */
	int64_t		 grid_bill;	/* the same meters, grid only:
					   import at ceiling, export at floor */
	int64_t		 gross;		/* payments (retail, local, fees) */
	int64_t		 points_credit;	/* redeemed health points */
	uint64_t	 worse;		/* members whose bill rose */
} kx_sim_type_res_t;

/* A run's results. Money in milli-sen, energy in Wh, whole run. */
typedef struct {
	kx_scen_t	 sc;		/* the scenario run (overrides applied) */
	size_t		 members;
	uint64_t	 days;
	size_t		 n_slots, slots_per_day;
	kx_sim_slot_t	*slots;		/* n_slots rows */
	kx_sim_type_res_t type[KX_SIM_TYPES];
	uint64_t	 load, pv, imp, exp, chg, dis, ev;	/* Wh */
	uint64_t	 local;		/* Wh traded locally (sum of Q) */
	uint64_t	 out_in;	/* Wh bought outside (retail) */
	uint64_t	 out_out;	/* Wh sold outside (buy-back) */
	int64_t		 kept;		/* paid by members to members */
	int64_t		 paid_outside;	/* retail, shortfalls, fees */
	int64_t		 received;	/* buy-back from outside */
	int64_t		 fees;		/* network fees (in paid_outside) */
	int64_t		 points_credit;	/* points x pt_value on settle lines */
	int64_t		 base_paid_outside;	/* grid only: import x ceiling */
	int64_t		 base_received;		/* grid only: export x floor */
	uint64_t	 points_issued, points_redeemed;
	uint64_t	 peak_import;	/* Wh of the slot with the most net
					   city import (sum imp - sum exp) */
	int64_t		 peak_slot;
	uint64_t	 slots_traded;
	uint64_t	 settle_calls;
	uint64_t	 settle_errors;	/* lines not summing to zero, or not
					   equal to section 7's formula */
	int64_t		 lines_total;	/* sum of every settle line (0) */
	/* timing (not part of the results' equality); ns_settle and ns_gen
	 * add up the threads' times */
	uint64_t	 ns_total, ns_clear, ns_settle, ns_gen, ns_warmup;
	uint64_t	 agent_slots;	/* members x market slots */
	unsigned	 threads;
} kx_sim_res_t;

const char	*kx_sim_strerror(int);

/*
 * Runs the scenario. *res is the caller's (kx_sim_res_free). err gets a
 * message on failure. Returns KX_SIM_OK or an error code.
 */
int	kx_sim_run(kx_sim_res_t **res, const kx_scen_t *sc,
	    const kx_sim_opt_t *opt, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/* Frees *res and sets it to NULL; res or *res may be NULL. */
void	kx_sim_res_free(kx_sim_res_t **res);

#endif
