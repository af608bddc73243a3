/*
 * privacy.h - the owner's consent register and the hash-chained log of
 * every disclosure of the owner's data (PROTOCOL.md section 9;
 * docs/privacy.md), in an LMDB environment of their own, DATA_DIR/privacy.
 *
 * Consent: a grant allows one category of data, for one purpose, to one
 * recipient, from its time on; a revoke ends a grant at its time. Both are
 * events with ids 1, 2, 3...; nothing is ever deleted, so the register
 * answers "was this allowed at time t" for any t.
 *
 *   categories  meter-detail slot-totals health volunteer
 *   purposes    settlement city-statistics research third-party
 *   recipients  a key (64 lowercase hex digits), "operator", "city", or a
 *               named third party (1 to 64 of A-Z a-z 0-9 space . _ -)
 *
 * Disclosures: kx_privacy_disclose appends an entry (seq, time, category,
 * purpose, recipient, consent reference, BLAKE2b-256 of the payload, the
 * previous entry's hash) whose hash covers a fixed canonical encoding
 * (docs/privacy.md "The chain"). It refuses, and writes the refusal to
 * the node log but not to the chain, unless a grant matching the
 * category, purpose and recipient is in force at that time - except
 * slot-totals to "operator" for settlement (PROTOCOL.md section 9), which
 * is recorded with the consent reference "settlement-exempt".
 *
 * Encryption at rest (datakey.h): category, purpose and recipient of
 * grants and disclosures are sealed with the data key; ids, times, the
 * consent references and the hashes stay readable so the links of the
 * chain can be checked without the key.
 *
 * One environment per data folder per process: kx_privacy_open of a
 * folder already open returns the same object with a reference more
 * (LMDB forbids opening an environment twice in one process). Not
 * thread-safe: the node's main thread uses it (control requests, market
 * duties).
 */
#ifndef KX_PRIVACY_H
#define KX_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "buf.h"

#define KX_PV_NAME_MAX		64	/* bytes in a recipient name */
#define KX_PV_EXEMPT		"settlement-exempt"
/* readable part of a chain value: time, consent, payload, prev, hash */
#define KX_PV_CHAIN_HDR		(8 + 8 + 32 + 32 + 32)

/* Errors (the -460 range). */
#define KX_PV_EREFUSED	-461	/* no grant in force: nothing disclosed */
#define KX_PV_EARG	-462	/* unknown category or purpose, bad recipient */
#define KX_PV_EDB	-463	/* LMDB failed */
#define KX_PV_ENOGRANT	-464	/* revoke: no such grant */
#define KX_PV_EREVOKED	-465	/* revoke: revoked already */
#define KX_PV_ENOMEM	-466
#define KX_PV_ECRYPT	-467	/* a record does not decrypt */

typedef struct kx_privacy kx_privacy_t;

const char	*kx_privacy_strerror(int);
bool		 kx_privacy_category_ok(const char *);
bool		 kx_privacy_purpose_ok(const char *);
bool		 kx_privacy_recipient_ok(const char *);

/*
 * Opens (creating) data_dir/privacy and loads the data key
 * (data_dir/data.key, created when missing). NULL with a message in err.
 */
kx_privacy_t	*kx_privacy_open(const char *data_dir, char *err,
		    size_t errlen);
/* Drops a reference; the last closes. NULL-safe, nulls the pointer. */
void		 kx_privacy_close(kx_privacy_t **);

/* Records a grant at now_ms; its id in *id. 0, KX_PV_EARG, KX_PV_EDB. */
int		 kx_privacy_grant(kx_privacy_t *, int64_t now_ms,
		    const char *category, const char *purpose,
		    const char *recipient, uint64_t *id)
		    __attribute__((warn_unused_result));
/*
 * Revokes grant `grant` at now_ms; the revoke event's id in *id (may be
 * NULL). 0, KX_PV_ENOGRANT, KX_PV_EREVOKED, KX_PV_EDB.
 */
int		 kx_privacy_revoke(kx_privacy_t *, int64_t now_ms,
		    uint64_t grant, uint64_t *id)
		    __attribute__((warn_unused_result));

/*
 * Records the disclosure of payload (len bytes, as it leaves the node) at
 * now_ms, or refuses. Returns 0 with the entry's seq in *seq (may be
 * NULL): the caller may disclose. KX_PV_EREFUSED (logged): no grant in
 * force, do not disclose. KX_PV_EARG, KX_PV_EDB: do not disclose either.
 */
int		 kx_privacy_disclose(kx_privacy_t *, int64_t now_ms,
		    const char *category, const char *purpose,
		    const char *recipient, const void *payload, size_t len,
		    uint64_t *seq) __attribute__((warn_unused_result));

/*
 * Appends the consent register as JSON (docs/privacy.md): the grants with
 * their state, and with events also every grant and revoke event.
 * 0 or KX_PV_EDB.
 */
int		 kx_privacy_consent_json(kx_privacy_t *, bool events,
		    kx_buf_t *b);

/*
 * Appends the disclosure log as JSON (docs/privacy.md); with verify, the
 * problems found too, their number in *nproblems. 0 or KX_PV_EDB.
 */
int		 kx_privacy_disclosures_json(kx_privacy_t *, bool verify,
		    kx_buf_t *b, size_t *nproblems);

/*
 * Recomputes the chain and checks every entry against the register:
 * missing entries, broken links, entries whose contents do not match
 * their hash, records that do not decrypt, disclosures without a grant
 * in force at their time, a head that does not match. *nproblems is their
 * number; with problems non-NULL each is appended there as a JSON object
 * (comma-separated). 0 or KX_PV_EDB.
 */
int		 kx_privacy_verify(kx_privacy_t *, size_t *nproblems,
		    kx_buf_t *problems);

/*
 * A control request of the node (node.c ctl_handle): args[0] the command.
 * Returns false when the command is not one of ours ("consent",
 * "disclosures", "disclose"); true when handled, with the reply body in b
 * and *ok false on an error (docs/privacy.md "Control requests").
 */
bool		 kx_privacy_ctl(const char *data_dir, zmq_msg_t *args,
		    int nargs, kx_buf_t *b, bool *ok);

#endif
