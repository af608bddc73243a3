/*
 * store.h - the node's LMDB store: per-author hash-chained logs with the
 * validation order of PROTOCOL.md section 4, and the federation state
 * that validation needs (membership, market parameters, issuer caps).
 *
 * One LMDB environment per node (a folder). Every accepted message commits
 * in one transaction with its indexes, so a crash at any moment leaves each
 * message either wholly stored or absent. Imports may be batched: between
 * kx_store_begin() and kx_store_commit() many messages share one durable
 * commit (the fsync is the cost batching saves). Not thread-safe: one
 * thread owns a kx_store_t.
 *
 * Named databases (keys big-endian so that they sort):
 *   msgs     author|seq  -> status, reason, wire     the logs
 *   heads    author      -> last seq, id, ts, frozen, held count
 *   ids      id          -> author|seq
 *   held     author|seq  -> wire                     waiting for a gap
 *   forks    author|seq  -> len|wire a|wire b        fork proofs
 *   members  node|ts|op|seq -> member/revoke event   operator's admissions
 *   market   from|ts|op|seq -> parameters
 *   orders   slot|id     -> author|seq               valid orders
 *   cancels  order id    -> author|seq of the cancel
 *   caps     issuer|fy   -> points issued
 *   slots    at|type|author|seq -> ""             clear, reading, settle
 *            by slot; health pays to an operator by ts
 *   community 'c'|to|ts|author|seq -> ""        valid issues and pays by
 *            recipient; 'l'|author|seq -> ""     valid listings
 *   meta     "version", "operators"
 */
#ifndef KX_STORE_H
#define KX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "body.h"
#include "buf.h"
#include "envelope.h"

#define KX_ESTORE	-30	/* LMDB failed (disk full, corrupt, I/O) */
#define KX_EBUSY	-31	/* a batch is already open / none is open */

#define KX_HELD_MAX	256	/* messages held back per author */
#define KX_ENDPOINT_MAX	128	/* bytes in a member's endpoint */
#define KX_CLOCK_SKEW_MS (5 * 60 * 1000)

typedef struct kx_store kx_store_t;

typedef enum {
	KX_ACCEPTED = 1,	/* appended; valid */
	KX_INVALID,		/* appended; authentic but invalid (step 7) */
	KX_DUPLICATE,		/* already stored or held */
	KX_HELD,		/* waiting for a gap to be filled */
	KX_FORK,		/* a second message at a seq: proof kept */
	KX_REJECTED		/* failed steps 1-6: not stored */
} kx_outcome_t;

typedef struct {
	kx_outcome_t	 outcome;
	bool		 has_id;	/* false when it did not decode */
	uint8_t		 id[KX_ID_LEN];
	uint8_t		 author[KX_PK_LEN];
	uint64_t	 seq;
	kx_why_t	 why;		/* reason for INVALID and REJECTED */
} kx_result_t;

typedef struct {
	uint64_t	 last_seq;	/* 0: nothing stored yet */
	uint8_t		 last_id[KX_ID_LEN];
	int64_t		 last_ts;
	uint64_t	 frozen_seq;	/* 0, or the seq of a fork */
	uint32_t	 nheld;
} kx_head_t;

/* A stored message, borrowed from LMDB for the duration of a callback. */
typedef struct {
	const uint8_t	*wire;
	size_t		 len;
	bool		 valid;
	const char	*reason;	/* "" when valid */
} kx_stored_t;

/* Called for each held message released by an import. */
typedef void	kx_release_cb(void *arg, const kx_result_t *r);
/* Called per stored message by kx_store_foreach; nonzero stops. */
typedef int	kx_foreach_cb(void *arg, const kx_stored_t *s);

const char	*kx_outcome_name(kx_outcome_t);

/* Opens (creating) the store in folder dir. NULL on failure, with a
 * message in why. map_size 0 picks the default (8 GiB of address space). */
kx_store_t	*kx_store_open(const char *dir, size_t map_size, kx_why_t *why);
void		 kx_store_close(kx_store_t **stp);
/* Adds a configured operator key (persisted). */
int	kx_store_add_operator(kx_store_t *, const uint8_t pk[KX_PK_LEN])
	    __attribute__((warn_unused_result));
bool	kx_store_is_operator(kx_store_t *, const uint8_t pk[KX_PK_LEN]);
size_t	kx_store_operator_count(kx_store_t *);

/* Batching: imports between begin and commit share one commit. */
int	kx_store_begin(kx_store_t *) __attribute__((warn_unused_result));
int	kx_store_commit(kx_store_t *) __attribute__((warn_unused_result));
void	kx_store_abort(kx_store_t *);

/*
 * Validates one wire message (section 4, steps 1-7) at receiver time
 * now_ms and stores it when it passes 1-6. Held messages released by it
 * are reported through cb (may be NULL). Returns KX_OK (the outcome is in
 * res) or KX_ESTORE / KX_ENOMEM; on an error inside a batch the caller
 * must kx_store_abort().
 */
int	kx_store_import(kx_store_t *, const uint8_t *wire, size_t len,
	    int64_t now_ms, kx_result_t *res, kx_release_cb *cb, void *arg)
	    __attribute__((warn_unused_result));
/*
 * Signs the key's next message (seq, prev from its head) with ts, and
 * appends it to its own log. Refuses (KX_EBODY, KX_ECLOCK, KX_ECHAIN with
 * a reason) what would not be valid. The wire bytes go to wire.
 */
int	kx_store_append_own(kx_store_t *, const uint8_t sk[KX_SK_LEN],
	    const char *type, const uint8_t *body, size_t body_len,
	    int64_t ts, kx_buf_t *wire, kx_why_t *why)
	    __attribute__((warn_unused_result));

/* 1 and *h filled when the author has a head, 0 when not, or error. */
int	kx_store_head(kx_store_t *, const uint8_t author[KX_PK_LEN],
	    kx_head_t *h);
/* Role of node at ts from the operators' member/revoke messages. */
int	kx_store_role_at(kx_store_t *, const uint8_t node[KX_PK_LEN],
	    int64_t ts, kx_role_t *role);
/* Market parameters in force for slot. */
int	kx_store_params(kx_store_t *, uint64_t slot, kx_params_t *p);
/* Stored messages in (author, seq) order; author NULL for all. */
int	kx_store_foreach(kx_store_t *, const uint8_t *author,
	    kx_foreach_cb *cb, void *arg);
/* Per author with a head, in author order; nonzero from cb stops. */
typedef int	kx_head_cb(void *arg, const uint8_t author[KX_PK_LEN],
		    const kx_head_t *h);
int	kx_store_heads(kx_store_t *, kx_head_cb *cb, void *arg);
/* The stored message author/seq: 1 with its wire appended to out (and
 * *valid set when not NULL), 0 when absent, or an error. */
int	kx_store_get(kx_store_t *, const uint8_t author[KX_PK_LEN],
	    uint64_t seq, kx_buf_t *out, bool *valid);
/* Stored messages of author from seq `from` on, at most max of them, in
 * seq order; cb gets each (nonzero stops). Returns how many were given
 * to cb, or a negative error. */
int	kx_store_range(kx_store_t *, const uint8_t author[KX_PK_LEN],
	    uint64_t from, size_t max, kx_foreach_cb *cb, void *arg);
/* The fork proof at author/seq: 1 with both wires appended, 0, or error. */
int	kx_store_fork(kx_store_t *, const uint8_t author[KX_PK_LEN],
	    uint64_t seq, kx_buf_t *a, kx_buf_t *b);

/* A node admitted at some time, from the operators' member messages. */
typedef struct {
	uint8_t		 node[KX_PK_LEN];
	kx_role_t	 role;
	int64_t		 until;		/* ms, 0 = no end */
	const char	*endpoint;	/* "" when none was given */
} kx_member_t;
typedef int	kx_member_cb(void *arg, const kx_member_t *m);
/* Every node admitted at time now (ms). */
int	kx_store_members(kx_store_t *, int64_t now, kx_member_cb *cb,
	    void *arg);

/*
 * The valid, uncancelled orders of slot, in id order (section 6's set O
 * as this store knows it); cb gets each stored message (nonzero stops).
 */
int	kx_store_orders(kx_store_t *, uint64_t slot, kx_foreach_cb *cb,
	    void *arg) __attribute__((warn_unused_result));
/*
 * Valid messages of one type from the `slots` index, with their key in
 * [from, to): KX_T_CLEAR, KX_T_READING and KX_T_SETTLE by slot; KX_T_PAY
 * only health pays to an operator key, by ts (ms). In (key, author, seq)
 * order; nonzero from cb stops.
 */
int	kx_store_slot_msgs(kx_store_t *, kx_type_t type, uint64_t from,
	    uint64_t to, kx_foreach_cb *cb, void *arg)
	    __attribute__((warn_unused_result));

/*
 * The stored message whose id is id: 1 after cb got it, 0 when no stored
 * message has that id (held ones are not stored yet), or KX_ESTORE.
 */
int	kx_store_get_id(kx_store_t *, const uint8_t id[KX_ID_LEN],
	    kx_foreach_cb *cb, void *arg) __attribute__((warn_unused_result));
/*
 * Valid community messages from the `community` index: with to, the
 * `issue`s and `pay`s addressed to it in (ts, author, seq) order; with to
 * NULL, every `listing` in (author, seq) order. Nonzero from cb stops.
 */
int	kx_store_community(kx_store_t *, const uint8_t *to, kx_foreach_cb *cb,
	    void *arg) __attribute__((warn_unused_result));

/* Counts of stored, held and fork records. */
int	kx_store_counts(kx_store_t *, uint64_t *msgs, uint64_t *held,
	    uint64_t *forks);
/*
 * Checks the store's invariants: every log contiguous from seq 1 with
 * matching prev links, every message decodes and matches its key, ids
 * and heads agree with the logs. Returns KX_OK, or KX_ESTORE with the
 * first inconsistency in why.
 */
int	kx_store_verify(kx_store_t *, kx_why_t *why);

#endif
