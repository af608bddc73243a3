/*
 * ledger.h - community balances of PROTOCOL.md section 8 (health points
 * and the time bank), as a deterministic view derived from the store.
 *
 * Whether a `pay` is valid depends only on its author's log up to it and
 * on the messages it cites (and, for a cited `pay`, on that pay's own
 * status, found the same way), never on the order in which a node
 * received them: every node holding the same messages computes the same
 * statuses and balances. A `pay` citing a message this store does not
 * hold yet is PENDING until it arrives; every later pay of the same
 * author is pending too (its balance is unknown). Only VALID pays move
 * balances. The rules and why: docs/community.md.
 *
 * A kx_ledger_t is a memo over one store for one computation: it walks
 * each author's log at most once, whatever is asked of it. Make a new one
 * after the store changed (it does not see later imports reliably).
 * Tuned for a member with 10^5 messages: reads are streamed from LMDB in
 * seq order, cited ids are looked up once each, integers only. Not
 * thread-safe: the thread that owns the store owns its ledgers.
 */
#ifndef KX_LEDGER_H
#define KX_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Error codes of this module (negative; the store's are -30s). */
#define KX_ELIMIT	-50	/* the pay would break the balance limit */
#define KX_EPENDING	-51	/* an earlier pay of the payer is pending */
#define KX_ETOOMANY	-52	/* more credits would be needed than fit */

#define KX_CITES_MAX	400	/* ids a pay made by kx_ledger_pick cites
				   (34 bytes each: 400 fit in a message) */

typedef enum {
	KX_PAY_VALID = 1,
	KX_PAY_INVALID,		/* for ever (only a late revoke re-judges) */
	KX_PAY_PENDING		/* a cited message is not stored yet */
} kx_pay_status_t;

typedef struct kx_ledger kx_ledger_t;

/* A member's position in one currency. Amounts in points or minutes. */
typedef struct {
	int64_t		 balance;	/* received - paid: what is shown */
	int64_t		 cited;		/* section 8's sum: credit cited by
					   valid pays - paid; the limit
					   applies to it */
	int64_t		 received;	/* valid credit addressed to it */
	int64_t		 uncited;	/* of which no valid pay cites yet */
	int64_t		 paid;		/* its valid pays */
	int64_t		 pending_in;	/* pending pays addressed to it */
	int64_t		 pending_out;	/* its own pending pays */
	uint64_t	 pending_seq;	/* first own pending pay, or 0 */
	uint32_t	 n_valid_out, n_invalid_out, n_pending_out;
	uint32_t	 n_in;		/* valid credits received */
} kx_balance_t;

/* One incoming credit or outgoing pay (kx_ledger_history). */
typedef struct {
	bool		 out;		/* a pay of the member's */
	int		 cur;		/* KX_CUR_* */
	kx_type_t	 type;		/* KX_T_ISSUE or KX_T_PAY */
	uint8_t		 id[KX_ID_LEN];
	uint8_t		 author[KX_PK_LEN];
	uint64_t	 seq;
	int64_t		 ts;
	uint8_t		 to[KX_PK_LEN];
	uint32_t	 amount;
	uint32_t	 n_in;		/* ids it cites (pays) */
	kx_pay_status_t	 status;	/* issues: always VALID */
	const char	*reason;	/* "" when valid */
	uint64_t	 cited_by;	/* in: seq of the member's valid pay
					   citing it, 0 if none yet */
	int64_t		 cited_after;	/* out, valid: the cited balance
					   after it */
	const uint8_t	*memo;		/* out: the memo, memo_len bytes */
	uint32_t	 memo_len;
} kx_entry_t;

typedef int	kx_entry_cb(void *arg, const kx_entry_t *e);

const char	*kx_ledger_strerror(int);
const char	*kx_pay_status_name(kx_pay_status_t);

/* A new memo over st (borrowed), or NULL when memory ran out. */
kx_ledger_t	*kx_ledger_new(kx_store_t *st);
void		 kx_ledger_free(kx_ledger_t **);

/*
 * The section 8 status of author's message seq, which must be a stored
 * `pay`: KX_OK with *status and a reason in why (may be NULL), KX_EARG
 * when there is no stored pay there, or KX_ESTORE / KX_ENOMEM.
 */
int	kx_ledger_pay_status(kx_ledger_t *, const uint8_t author[KX_PK_LEN],
	    uint64_t seq, kx_pay_status_t *status, kx_why_t *why)
	    __attribute__((warn_unused_result));

/*
 * member's balance in cur (KX_CUR_HEALTH or KX_CUR_TIME) from everything
 * stored: KX_OK, KX_ESTORE or KX_ENOMEM.
 */
int	kx_ledger_balance(kx_ledger_t *, const uint8_t member[KX_PK_LEN],
	    int cur, kx_balance_t *out) __attribute__((warn_unused_result));

/*
 * member's incoming credits and outgoing pays in cur (-1: both), oldest
 * first by (ts, author, seq); the entry is borrowed for the call. A
 * nonzero return from cb stops. KX_OK, KX_ESTORE or KX_ENOMEM.
 */
int	kx_ledger_history(kx_ledger_t *, const uint8_t member[KX_PK_LEN],
	    int cur, kx_entry_cb *cb, void *arg)
	    __attribute__((warn_unused_result));

/*
 * The lowest balance allowed after a pay in cur at ts: 0 for health,
 * -time_limit of the `market` parameters in force at ts for time.
 */
int	kx_ledger_limit(kx_ledger_t *, int cur, int64_t ts, int64_t *low)
	    __attribute__((warn_unused_result));

/*
 * The credits member should cite to pay amount in cur at ts: none when
 * its cited balance covers the pay, else its oldest valid uncited
 * credits, by (ts, author, seq), until it does. Returns KX_OK with *n ids
 * in ids (room for max), or with the reason in why: KX_EPENDING (a pay of
 * member's is pending), KX_ELIMIT (even every uncited credit would not
 * keep the balance within the limit), KX_ETOOMANY (more than max credits
 * would be needed); or KX_ESTORE / KX_ENOMEM.
 */
int	kx_ledger_pick(kx_ledger_t *, const uint8_t member[KX_PK_LEN], int cur,
	    uint32_t amount, int64_t ts, uint8_t (*ids)[KX_ID_LEN],
	    size_t max, size_t *n, kx_why_t *why)
	    __attribute__((warn_unused_result));

/*
 * One-shot for a stored `pay` given by its wire bytes: 1 when it is
 * VALID, 0 when invalid or pending (or not a pay), negative on a store
 * or memory error. What settlement uses to credit health points paid to
 * an operator (node/mktd.c).
 */
int	kx_community_pay_valid(kx_store_t *st, const uint8_t *wire,
	    size_t len);

#endif
