/*
 * store.c - LMDB store of per-author logs, see store.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <sodium.h>

#include "fiscal.h"
#include "mp.h"
#include "store.h"

#define SCHEMA_VERSION	1
#define AKEY_LEN	(KX_PK_LEN + 8)
#define MAX_OPERATORS	16
#define ST_VALID	1
#define ST_INVALID	2
#define EV_MEMBER	1
#define EV_REVOKE	2

struct kx_store {
	MDB_env		*env;
	MDB_txn		*txn;		/* the open batch, or NULL */
	MDB_dbi		 msgs, heads, ids, held, forks, members, market,
			 orders, cancels, caps, meta, slots, community;
	uint8_t		 ops[MAX_OPERATORS][KX_PK_LEN];
	size_t		 nops;
};

/* A membership event, the value of `members`. */
struct ev {
	uint8_t		 kind;		/* EV_MEMBER or EV_REVOKE */
	uint8_t		 role;
	int64_t		 until;
	uint64_t	 cap;
	char		 endpoint[KX_ENDPOINT_MAX + 1];	/* NUL-terminated */
};

const char *
kx_outcome_name(kx_outcome_t o)
{
	switch (o) {
	case KX_ACCEPTED:	return "accepted";
	case KX_INVALID:	return "invalid";
	case KX_DUPLICATE:	return "duplicate";
	case KX_HELD:		return "held";
	case KX_FORK:		return "fork";
	case KX_REJECTED:	return "rejected";
	}
	return "unknown";
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Signed ts as big-endian bytes that sort like the numbers. */
static void
put_ts(uint8_t *p, int64_t ts)
{
	put_be64(p, (uint64_t)ts ^ (1ULL << 63));
}

static void
akey(uint8_t k[AKEY_LEN], const uint8_t *author, uint64_t seq)
{
	memcpy(k, author, KX_PK_LEN);
	put_be64(k + KX_PK_LEN, seq);
}

static MDB_val
val(const void *p, size_t n)
{
	MDB_val	 v;

	v.mv_data = (void *)(uintptr_t)p;
	v.mv_size = n;
	return v;
}

static int
lmdb_fail(int rc, kx_why_t *why, const char *what)
{
	kx_why_set(why, "store: %s: %s", what, mdb_strerror(rc));
	return KX_ESTORE;
}

/* ---- opening ------------------------------------------------------- */

static int	slots_reindex(kx_store_t *, MDB_txn *);
static int	comm_reindex(kx_store_t *, MDB_txn *);

static int
load_operators(kx_store_t *st, MDB_txn *txn)
{
	MDB_val	 k = val("operators", 9), v;
	int	 rc;

	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		st->nops = 0;
		return 0;
	}
	if (rc != 0 || v.mv_size % KX_PK_LEN != 0 ||
	    v.mv_size / KX_PK_LEN > MAX_OPERATORS)
		return rc ? rc : MDB_CORRUPTED;
	st->nops = v.mv_size / KX_PK_LEN;
	memcpy(st->ops, v.mv_data, v.mv_size);
	return 0;
}

kx_store_t *
kx_store_open(const char *dir, size_t map_size, kx_why_t *why)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} dbs[] = {
		{ "msgs", offsetof(kx_store_t, msgs) },
		{ "heads", offsetof(kx_store_t, heads) },
		{ "ids", offsetof(kx_store_t, ids) },
		{ "held", offsetof(kx_store_t, held) },
		{ "forks", offsetof(kx_store_t, forks) },
		{ "members", offsetof(kx_store_t, members) },
		{ "market", offsetof(kx_store_t, market) },
		{ "orders", offsetof(kx_store_t, orders) },
		{ "cancels", offsetof(kx_store_t, cancels) },
		{ "caps", offsetof(kx_store_t, caps) },
		{ "meta", offsetof(kx_store_t, meta) },
		{ "slots", offsetof(kx_store_t, slots) },
		{ "community", offsetof(kx_store_t, community) },
	};
	kx_store_t	*st;
	MDB_txn		*txn = NULL;
	MDB_val		 k, v;
	uint8_t		 ver[8];
	size_t		 i;
	int		 rc;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		kx_why_set(why, "store: %s: %s", dir, strerror(errno));
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		kx_why_set(why, "store: out of memory");
		return NULL;
	}
	if ((rc = mdb_env_create(&st->env)) != 0)
		goto fail;
	if ((rc = mdb_env_set_maxdbs(st->env, 16)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, map_size ? map_size :
	    ((size_t)8 << 30))) != 0)
		goto fail;
	if ((rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		goto fail;
	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE,
		    (MDB_dbi *)(void *)((char *)st + dbs[i].off));
		if (rc != 0)
			goto fail;
	}
	k = val("version", 7);
	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		put_be64(ver, SCHEMA_VERSION);
		v = val(ver, 8);
		if ((rc = mdb_put(txn, st->meta, &k, &v, 0)) != 0)
			goto fail;
	} else if (rc != 0)
		goto fail;
	else if (v.mv_size != 8 || get_be64(v.mv_data) != SCHEMA_VERSION) {
		kx_why_set(why, "store: %s: schema version is not %d", dir,
		    SCHEMA_VERSION);
		mdb_txn_abort(txn);
		mdb_env_close(st->env);
		free(st);
		return NULL;
	}
	if ((rc = load_operators(st, txn)) != 0)
		goto fail;
	if ((rc = slots_reindex(st, txn)) != 0 ||
	    (rc = comm_reindex(st, txn)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0) {
		txn = NULL;
		goto fail;
	}
	return st;
fail:
	kx_why_set(why, "store: %s: %s", dir, mdb_strerror(rc));
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st);
	return NULL;
}

void
kx_store_close(kx_store_t **stp)
{
	kx_store_t	*st;

	if (stp == NULL || (st = *stp) == NULL)
		return;
	if (st->txn != NULL)
		mdb_txn_abort(st->txn);
	mdb_env_close(st->env);
	free(st);
	*stp = NULL;
}

bool
kx_store_is_operator(kx_store_t *st, const uint8_t pk[KX_PK_LEN])
{
	size_t	 i;

	for (i = 0; i < st->nops; i++)
		if (memcmp(st->ops[i], pk, KX_PK_LEN) == 0)
			return true;
	return false;
}

size_t
kx_store_operator_count(kx_store_t *st)
{
	return st->nops;
}

/* ---- transactions -------------------------------------------------- */

int
kx_store_begin(kx_store_t *st)
{
	if (st->txn != NULL)
		return KX_EBUSY;
	if (mdb_txn_begin(st->env, NULL, 0, &st->txn) != 0) {
		st->txn = NULL;
		return KX_ESTORE;
	}
	return KX_OK;
}

int
kx_store_commit(kx_store_t *st)
{
	int	 rc;

	if (st->txn == NULL)
		return KX_EBUSY;
	rc = mdb_txn_commit(st->txn);
	st->txn = NULL;
	return rc == 0 ? KX_OK : KX_ESTORE;
}

void
kx_store_abort(kx_store_t *st)
{
	if (st->txn != NULL)
		mdb_txn_abort(st->txn);
	st->txn = NULL;
	/* the operator list may have changed in the aborted batch */
	MDB_txn	*txn;
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) == 0) {
		(void)load_operators(st, txn);
		mdb_txn_abort(txn);
	}
}

/* A transaction for a read: the open batch, or a new read-only one. */
static int
rtxn(kx_store_t *st, MDB_txn **txn)
{
	if (st->txn != NULL) {
		*txn = st->txn;
		return 0;
	}
	return mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
}

static void
rtxn_end(kx_store_t *st, MDB_txn *txn)
{
	if (txn != st->txn)
		mdb_txn_abort(txn);
}

int
kx_store_add_operator(kx_store_t *st, const uint8_t pk[KX_PK_LEN])
{
	MDB_txn	*txn;
	MDB_val	 k = val("operators", 9), v;
	int	 rc;

	if (kx_store_is_operator(st, pk))
		return KX_OK;
	if (st->nops >= MAX_OPERATORS)
		return KX_EARG;
	if (st->txn != NULL)
		return KX_EBUSY;
	memcpy(st->ops[st->nops], pk, KX_PK_LEN);
	v = val(st->ops, (st->nops + 1) * KX_PK_LEN);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		return KX_ESTORE;
	if ((rc = mdb_put(txn, st->meta, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return KX_ESTORE;
	}
	if (mdb_txn_commit(txn) != 0)
		return KX_ESTORE;
	st->nops++;
	return KX_OK;
}

/* ---- heads ----------------------------------------------------------- */

/* On-disk head: host byte order (the file is local to this machine). */
static int
head_get(kx_store_t *st, MDB_txn *txn, const uint8_t *author, kx_head_t *h)
{
	MDB_val	 k = val(author, KX_PK_LEN), v;
	int	 rc;

	memset(h, 0, sizeof(*h));
	rc = mdb_get(txn, st->heads, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (v.mv_size != sizeof(*h))
		return MDB_CORRUPTED;
	memcpy(h, v.mv_data, sizeof(*h));
	return 0;
}

static int
head_put(kx_store_t *st, MDB_txn *txn, const uint8_t *author,
    const kx_head_t *h)
{
	MDB_val	 k = val(author, KX_PK_LEN), v = val(h, sizeof(*h));

	return mdb_put(txn, st->heads, &k, &v, 0);
}

int
kx_store_head(kx_store_t *st, const uint8_t author[KX_PK_LEN], kx_head_t *h)
{
	MDB_txn	*txn;
	MDB_val	 k = val(author, KX_PK_LEN), v;
	int	 rc, found = 0;

	memset(h, 0, sizeof(*h));
	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	rc = mdb_get(txn, st->heads, &k, &v);
	if (rc == 0 && v.mv_size == sizeof(*h)) {
		memcpy(h, v.mv_data, sizeof(*h));
		found = 1;
	} else if (rc == 0)
		rc = MDB_CORRUPTED;
	rtxn_end(st, txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return KX_ESTORE;
	return found;
}

/* ---- federation state ---------------------------------------------- */

/*
 * Positions cur on the last record whose key sorts before *k (LMDB has
 * no "last key <= x" operation: range to the first key >= x, step back).
 */
static int
seek_before(MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
	int	 rc;

	rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	if (rc == 0)
		return mdb_cursor_get(cur, k, v, MDB_PREV);
	if (rc == MDB_NOTFOUND)
		return mdb_cursor_get(cur, k, v, MDB_LAST);
	return rc;
}

static int
role_at(kx_store_t *st, MDB_txn *txn, const uint8_t *node, int64_t ts,
    kx_role_t *role, uint64_t *cap)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint8_t		 key[KX_PK_LEN + 8];
	struct ev	 e;
	int		 rc;

	*role = KX_ROLE_NONE;
	if (cap != NULL)
		*cap = 0;
	if (ts == INT64_MAX)
		ts--;
	memcpy(key, node, KX_PK_LEN);
	put_ts(key + KX_PK_LEN, ts + 1);	/* first key after ts */
	if ((rc = mdb_cursor_open(txn, st->members, &cur)) != 0)
		return rc;
	k = val(key, sizeof(key));
	rc = seek_before(cur, &k, &v);
	if (rc == 0 && k.mv_size >= KX_PK_LEN &&
	    memcmp(k.mv_data, node, KX_PK_LEN) == 0 &&
	    v.mv_size == sizeof(e)) {
		memcpy(&e, v.mv_data, sizeof(e));
		if (e.kind == EV_MEMBER && (e.until == 0 || ts < e.until)) {
			*role = (kx_role_t)e.role;
			if (cap != NULL)
				*cap = e.cap;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
kx_store_role_at(kx_store_t *st, const uint8_t node[KX_PK_LEN], int64_t ts,
    kx_role_t *role)
{
	MDB_txn	*txn;
	int	 rc;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	rc = role_at(st, txn, node, ts, role, NULL);
	rtxn_end(st, txn);
	return rc == 0 ? KX_OK : KX_ESTORE;
}

static int
params_for(kx_store_t *st, MDB_txn *txn, uint64_t slot, kx_params_t *p)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint8_t		 key[8];
	int		 rc;

	kx_params_default(p);
	if (slot == UINT64_MAX)
		slot--;
	put_be64(key, slot + 1);
	if ((rc = mdb_cursor_open(txn, st->market, &cur)) != 0)
		return rc;
	k = val(key, sizeof(key));
	rc = seek_before(cur, &k, &v);
	if (rc == 0 && v.mv_size == sizeof(*p))
		memcpy(p, v.mv_data, sizeof(*p));
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
kx_store_params(kx_store_t *st, uint64_t slot, kx_params_t *p)
{
	MDB_txn	*txn;
	int	 rc;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	rc = params_for(st, txn, slot, p);
	rtxn_end(st, txn);
	return rc == 0 ? KX_OK : KX_ESTORE;
}

/* ---- validation ------------------------------------------------------ */

/* State for one message being validated inside a write transaction. */
typedef struct {
	kx_store_t	*st;
	MDB_txn		*txn;
	int64_t		 now_ms;
	bool		 own;		/* our own new message: skip step 3 */
	bool		 have_role;	/* step 3 looked the author up */
	kx_role_t	 role;		/* its role at the message's ts */
	uint64_t	 cap;		/* and its issuer cap */
	bool		 maybe_held;	/* the author has held messages */
	kx_release_cb	*cb;
	void		*arg;
} vctx;

static int
get_msg(vctx *c, const uint8_t *author, uint64_t seq, MDB_val *v)
{
	uint8_t	 k[AKEY_LEN];
	MDB_val	 kv;

	akey(k, author, seq);
	kv = val(k, sizeof(k));
	return mdb_get(c->txn, c->st->msgs, &kv, v);
}

/* Splits a msgs value into its parts. */
static int
split_msg(const MDB_val *v, kx_stored_t *s, char *reason, size_t rlen)
{
	const uint8_t	*p = v->mv_data;
	size_t		 n;

	if (v->mv_size < 2)
		return MDB_CORRUPTED;
	n = p[1];
	if (v->mv_size < 2 + n)
		return MDB_CORRUPTED;
	s->valid = p[0] == ST_VALID;
	if (reason != NULL) {
		n = n < rlen - 1 ? n : rlen - 1;
		memcpy(reason, p + 2, n);
		reason[n] = '\0';
		s->reason = reason;
	}
	s->wire = p + 2 + p[1];
	s->len = v->mv_size - 2 - p[1];
	return 0;
}

static int
put_msg(vctx *c, const kx_msg_t *m, bool valid, const char *reason)
{
	uint8_t	 k[AKEY_LEN], hdr[2 + 255];
	size_t	 rlen = valid ? 0 : strlen(reason);
	MDB_val	 kv, v;
	int	 rc;

	if (rlen > 255)
		rlen = 255;
	hdr[0] = valid ? ST_VALID : ST_INVALID;
	hdr[1] = (uint8_t)rlen;
	memcpy(hdr + 2, reason, rlen);
	akey(k, m->author, m->seq);
	kv = val(k, sizeof(k));
	v.mv_size = 2 + rlen + m->wire_len;
	v.mv_data = NULL;
	if ((rc = mdb_put(c->txn, c->st->msgs, &kv, &v, MDB_RESERVE)) != 0)
		return rc;
	memcpy(v.mv_data, hdr, 2 + rlen);
	memcpy((uint8_t *)v.mv_data + 2 + rlen, m->wire, m->wire_len);
	kv = val(m->id, KX_ID_LEN);
	v = val(k, sizeof(k));
	return mdb_put(c->txn, c->st->ids, &kv, &v, 0);
}

/* Cancels and issuer caps need the message behind an id. */
static int
lookup_id(vctx *c, const uint8_t *id, MDB_val *msgval)
{
	MDB_val	 k = val(id, KX_ID_LEN), v;
	int	 rc;

	if ((rc = mdb_get(c->txn, c->st->ids, &k, &v)) != 0)
		return rc;
	if (v.mv_size != AKEY_LEN)
		return MDB_CORRUPTED;
	return get_msg(c, v.mv_data, get_be64((uint8_t *)v.mv_data +
	    KX_PK_LEN), msgval);
}

static int
caps_get(vctx *c, const uint8_t *issuer, uint64_t fy, uint64_t *total)
{
	uint8_t	 key[KX_PK_LEN + 8];
	MDB_val	 k, v;
	int	 rc;

	memcpy(key, issuer, KX_PK_LEN);
	put_be64(key + KX_PK_LEN, fy);
	k = val(key, sizeof(key));
	*total = 0;
	rc = mdb_get(c->txn, c->st->caps, &k, &v);
	if (rc == 0 && v.mv_size == 8)
		*total = get_be64(v.mv_data);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
caps_put(vctx *c, const uint8_t *issuer, uint64_t fy, uint64_t total)
{
	uint8_t	 key[KX_PK_LEN + 8], t[8];
	MDB_val	 k, v;

	memcpy(key, issuer, KX_PK_LEN);
	put_be64(key + KX_PK_LEN, fy);
	put_be64(t, total);
	k = val(key, sizeof(key));
	v = val(t, 8);
	return mdb_put(c->txn, c->st->caps, &k, &v, 0);
}

/*
 * Parses m's body with the market parameters in force for its slot (an
 * order's gate depends on them). Returns 0 with *ok set (the reason in
 * why when not ok), or an LMDB error.
 */
static int
parse_in_force(vctx *c, const kx_msg_t *m, kx_body_t *b, bool *ok,
    kx_why_t *why)
{
	kx_params_t	 p;
	kx_mp_cur_t	 cur, a;
	kx_mp_val_t	 mv, sv;
	int		 rc;

	kx_params_default(&p);
	if (kx_type_of(m->type) == KX_T_ORDER) {
		kx_mp_cur_init(&cur, m->body, m->body_len);
		if (kx_mp_read(&cur, &mv) == KX_MP_OK &&
		    kx_mp_map_get(&mv, cur, "slot", &sv, &a) == 1 &&
		    sv.kind == KX_MP_UINT &&
		    (rc = params_for(c->st, c->txn, sv.u, &p)) != 0)
			return rc;
	}
	*ok = kx_body_parse(b, m, &p, why) == KX_OK;
	return 0;
}

/*
 * Step 7 with federation state. Returns 0 with *valid set, or an LMDB
 * error. Fills b for indexing.
 */
static int
check_body(vctx *c, const kx_msg_t *m, kx_body_t *b, bool *valid,
    kx_why_t *why)
{
	kx_params_t	 p;
	kx_role_t	 role = KX_ROLE_NONE, torole;
	kx_msg_t	 om;
	kx_body_t	*ob = NULL;
	kx_stored_t	 s;
	MDB_val		 v;
	uint64_t	 cap = 0, total;
	bool		 fed = c->st->nops > 0, isop, ok;
	int		 rc = 0;

	*valid = false;
	if ((rc = parse_in_force(c, m, b, &ok, why)) != 0 || !ok)
		return rc;
	if (!fed) {
		*valid = true;	/* no federation state known: lone checks */
		return 0;
	}
	isop = kx_store_is_operator(c->st, m->author);
	if (c->have_role) {
		role = c->role;
		cap = c->cap;
	} else if ((rc = role_at(c->st, c->txn, m->author, m->ts, &role,
	    &cap)) != 0)
		return rc;
	if (kx_body_authority(b->type, isop, role, why) != KX_OK)
		return 0;
	switch (b->type) {
	case KX_T_CANCEL:
		rc = lookup_id(c, b->u.cancel.order, &v);
		if (rc == MDB_NOTFOUND) {
			kx_why_set(why, "body: cancel: no such order");
			return 0;
		}
		if (rc != 0)
			return rc;
		if ((rc = split_msg(&v, &s, NULL, 0)) != 0)
			return rc;
		if ((ob = malloc(sizeof(*ob))) == NULL)
			return ENOMEM;
		if (kx_msg_decode(&om, s.wire, s.len, NULL) != KX_OK ||
		    memcmp(om.author, m->author, KX_PK_LEN) != 0 ||
		    kx_type_of(om.type) != KX_T_ORDER || !s.valid) {
			kx_why_set(why, "body: cancel: not a valid order of "
			    "the same author");
			goto out;
		}
		if ((rc = parse_in_force(c, &om, ob, &ok, NULL)) != 0)
			goto out;
		if (!ok) {
			kx_why_set(why, "body: cancel: order unreadable");
			goto out;
		}
		if ((rc = params_for(c->st, c->txn, ob->u.order.slot, &p)) != 0)
			goto out;
		if (m->ts >= kx_gate_ms(ob->u.order.slot, p.gate_s)) {
			kx_why_set(why, "body: cancel: after the order's gate");
			goto out;
		}
		{
			MDB_val	 k = val(b->u.cancel.order, KX_ID_LEN), cv;

			rc = mdb_get(c->txn, c->st->cancels, &k, &cv);
			if (rc == 0) {
				kx_why_set(why, "body: cancel: order already "
				    "cancelled");
				goto out;
			}
			if (rc != MDB_NOTFOUND)
				goto out;
			rc = 0;
		}
		break;
	case KX_T_ISSUE:
		/* the cap is per fiscal year: fy must be the issue's own */
		if (b->u.issue.fy > INT64_MAX ||
		    (int64_t)b->u.issue.fy != kx_fiscal_year(m->ts)) {
			kx_why_set(why, "body: issue: fy %llu is not the fiscal "
			    "year of ts (%lld, April to March, JST)",
			    (unsigned long long)b->u.issue.fy,
			    (long long)kx_fiscal_year(m->ts));
			return 0;
		}
		if ((rc = caps_get(c, m->author, b->u.issue.fy, &total)) != 0)
			return rc;
		if (total + b->u.issue.points < total ||
		    total + b->u.issue.points > cap) {
			kx_why_set(why, "body: issue: over the issuer's cap of "
			    "%llu points for fy %llu", (unsigned long long)cap,
			    (unsigned long long)b->u.issue.fy);
			return 0;
		}
		break;
	case KX_T_PAY:
		if (memcmp(b->u.pay.to, m->author, KX_PK_LEN) == 0) {
			kx_why_set(why, "body: pay: to is the payer");
			return 0;
		}
		/*
		 * Whether `to` is admitted at the pay's ts is judged by the
		 * community ledger when asked (community/ledger.c): judged
		 * here, on arrival, it would depend on whether the recipient's
		 * `member` had arrived yet. Only our own pays are refused.
		 */
		if (!c->own)
			break;
		if ((rc = role_at(c->st, c->txn, b->u.pay.to, m->ts, &torole,
		    NULL)) != 0)
			return rc;
		if (torole == KX_ROLE_NONE &&
		    !kx_store_is_operator(c->st, b->u.pay.to)) {
			kx_why_set(why, "body: pay: to is not admitted");
			return 0;
		}
		break;
	case KX_T_READING:
		if (!kx_store_is_operator(c->st, b->u.reading.to)) {
			kx_why_set(why, "body: reading: to is not an operator "
			    "key");
			return 0;
		}
		break;
	default:
		break;
	}
	*valid = true;
	rc = 0;
out:
	free(ob);
	return rc;
}

static int	mark_revoked(vctx *, const uint8_t *, int64_t);

#define SKEY_LEN	(8 + 1 + AKEY_LEN)

/*
 * The `slots` index key of a valid clear, reading or settle (by slot) or
 * a health pay to an operator key (by ts, for section 7's points); 0 when
 * the message is not indexed there.
 */
static size_t
slot_ikey(kx_store_t *st, uint8_t k[SKEY_LEN], const kx_msg_t *m,
    const kx_body_t *b)
{
	uint64_t	 at;

	switch (b->type) {
	case KX_T_CLEAR:	at = b->u.clear.slot; break;
	case KX_T_READING:	at = b->u.reading.slot; break;
	case KX_T_SETTLE:	at = b->u.settle.slot; break;
	case KX_T_PAY:
		if (b->u.pay.cur != KX_CUR_HEALTH || m->ts < 0 ||
		    !kx_store_is_operator(st, b->u.pay.to))
			return 0;
		at = (uint64_t)m->ts;
		break;
	default:
		return 0;
	}
	put_be64(k, at);
	k[8] = (uint8_t)b->type;
	akey(k + 9, m->author, m->seq);
	return SKEY_LEN;
}

#define CKEY_LEN	(1 + KX_PK_LEN + 8 + AKEY_LEN)

/*
 * The `community` index key of a valid issue or pay ('c', recipient, ts,
 * author, seq) or listing ('l', author, seq); 0 when not indexed there.
 * Every key ends with the message's author|seq.
 */
static size_t
comm_ikey(uint8_t k[CKEY_LEN], const kx_msg_t *m, const kx_body_t *b)
{
	const uint8_t	*to;

	switch (b->type) {
	case KX_T_ISSUE:	to = b->u.issue.to; break;
	case KX_T_PAY:		to = b->u.pay.to; break;
	case KX_T_LISTING:
		k[0] = 'l';
		akey(k + 1, m->author, m->seq);
		return 1 + AKEY_LEN;
	default:
		return 0;
	}
	k[0] = 'c';
	memcpy(k + 1, to, KX_PK_LEN);
	put_ts(k + 1 + KX_PK_LEN, m->ts);
	akey(k + 1 + KX_PK_LEN + 8, m->author, m->seq);
	return CKEY_LEN;
}

/* Adds (add) or removes m's `community` index entry, if it has one. */
static int
comm_index(kx_store_t *st, MDB_txn *txn, const kx_msg_t *m,
    const kx_body_t *b, bool add)
{
	uint8_t	 key[CKEY_LEN];
	size_t	 n;
	MDB_val	 k, v = val("", 0);
	int	 rc;

	if ((n = comm_ikey(key, m, b)) == 0)
		return 0;
	k = val(key, n);
	if (add)
		return mdb_put(txn, st->community, &k, &v, 0);
	rc = mdb_del(txn, st->community, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Indexes a valid message in the same transaction as its append. */
static int
index_msg(vctx *c, const kx_msg_t *m, const kx_body_t *b)
{
	uint8_t		 key[2 * KX_PK_LEN + 16], ak[AKEY_LEN];
	struct ev	 e;
	MDB_val		 k, v;
	uint64_t	 total;
	int		 rc;

	akey(ak, m->author, m->seq);
	memset(&e, 0, sizeof(e));
	if ((rc = comm_index(c->st, c->txn, m, b, true)) != 0)
		return rc;
	if (slot_ikey(c->st, key, m, b) != 0) {
		k = val(key, SKEY_LEN);
		v = val("", 0);
		return mdb_put(c->txn, c->st->slots, &k, &v, 0);
	}
	switch (b->type) {
	case KX_T_MEMBER:
	case KX_T_REVOKE:
		memcpy(key, b->type == KX_T_MEMBER ? b->u.member.node :
		    b->u.revoke.node, KX_PK_LEN);
		put_ts(key + KX_PK_LEN, m->ts);
		memcpy(key + KX_PK_LEN + 8, m->author, KX_PK_LEN);
		put_be64(key + 2 * KX_PK_LEN + 8, m->seq);
		e.kind = b->type == KX_T_MEMBER ? EV_MEMBER : EV_REVOKE;
		if (b->type == KX_T_MEMBER) {
			e.role = (uint8_t)b->u.member.role;
			e.until = b->u.member.until;
			e.cap = b->u.member.cap;
			if (b->u.member.endpoint != NULL &&
			    memchr(b->u.member.endpoint, '\0',
			    b->u.member.endpoint_len) == NULL)
				memcpy(e.endpoint, b->u.member.endpoint,
				    b->u.member.endpoint_len);
		}
		k = val(key, 2 * KX_PK_LEN + 16);
		v = val(&e, sizeof(e));
		if ((rc = mdb_put(c->txn, c->st->members, &k, &v, 0)) != 0)
			return rc;
		if (b->type == KX_T_REVOKE)
			return mark_revoked(c, b->u.revoke.node, m->ts);
		return 0;
	case KX_T_MARKET:
		put_be64(key, b->u.market.from);
		put_ts(key + 8, m->ts);
		memcpy(key + 16, m->author, KX_PK_LEN);
		put_be64(key + 16 + KX_PK_LEN, m->seq);
		k = val(key, 24 + KX_PK_LEN);
		v = val(&b->u.market, sizeof(b->u.market));
		return mdb_put(c->txn, c->st->market, &k, &v, 0);
	case KX_T_ORDER:
		{
			uint8_t	 ok[8 + KX_ID_LEN];

			put_be64(ok, b->u.order.slot);
			memcpy(ok + 8, m->id, KX_ID_LEN);
			k = val(ok, sizeof(ok));
			v = val(ak, sizeof(ak));
			return mdb_put(c->txn, c->st->orders, &k, &v, 0);
		}
	case KX_T_CANCEL:
		k = val(b->u.cancel.order, KX_ID_LEN);
		v = val(ak, sizeof(ak));
		return mdb_put(c->txn, c->st->cancels, &k, &v, 0);
	case KX_T_ISSUE:
		if ((rc = caps_get(c, m->author, b->u.issue.fy, &total)) != 0)
			return rc;
		return caps_put(c, m->author, b->u.issue.fy,
		    total + b->u.issue.points);
	default:
		return 0;
	}
}

/* Undoes index_msg for a message that turned out not admitted. */
static int
unindex_msg(vctx *c, const kx_msg_t *m, const kx_body_t *b)
{
	MDB_val		 k;
	uint64_t	 total;
	uint8_t		 sk[SKEY_LEN];
	int		 rc;

	if ((rc = comm_index(c->st, c->txn, m, b, false)) != 0)
		return rc;
	if (slot_ikey(c->st, sk, m, b) != 0) {
		k = val(sk, SKEY_LEN);
		rc = mdb_del(c->txn, c->st->slots, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	switch (b->type) {
	case KX_T_ORDER:
		{
			uint8_t	 ok[8 + KX_ID_LEN];

			put_be64(ok, b->u.order.slot);
			memcpy(ok + 8, m->id, KX_ID_LEN);
			k = val(ok, sizeof(ok));
			rc = mdb_del(c->txn, c->st->orders, &k, NULL);
			return rc == MDB_NOTFOUND ? 0 : rc;
		}
	case KX_T_CANCEL:
		k = val(b->u.cancel.order, KX_ID_LEN);
		rc = mdb_del(c->txn, c->st->cancels, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	case KX_T_ISSUE:
		if ((rc = caps_get(c, m->author, b->u.issue.fy, &total)) != 0)
			return rc;
		return caps_put(c, m->author, b->u.issue.fy,
		    total >= b->u.issue.points ? total - b->u.issue.points : 0);
	default:
		return 0;
	}
}

/*
 * A revoke ends admission at its ts: messages of node already stored with
 * a later ts were judged before the revoke arrived; they stay in the log
 * (the chain needs them) but are marked invalid, as a node that had the
 * revoke first would have refused them.
 */
static int
mark_revoked(vctx *c, const uint8_t *node, int64_t ts)
{
	kx_head_t	 h;
	kx_msg_t	 m;
	kx_body_t	*b;
	kx_stored_t	 s;
	kx_buf_t	 copy;
	MDB_val		 v;
	uint64_t	 seq;
	bool		 ok;
	int		 rc;

	if (kx_store_is_operator(c->st, node))
		return 0;
	if ((rc = head_get(c->st, c->txn, node, &h)) != 0)
		return rc;
	if ((b = malloc(sizeof(*b))) == NULL)
		return ENOMEM;
	kx_buf_init(&copy);
	for (seq = h.last_seq; seq >= 1; seq--) {
		if ((rc = get_msg(c, node, seq, &v)) != 0)
			break;
		if ((rc = split_msg(&v, &s, NULL, 0)) != 0)
			break;
		kx_buf_reset(&copy);
		if (kx_buf_append(&copy, s.wire, s.len) == -1) {
			rc = ENOMEM;
			break;
		}
		if (kx_msg_decode(&m, copy.data, copy.len, NULL) != KX_OK) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (m.ts < ts)
			break;	/* ts never decreases along a log */
		if (!s.valid)
			continue;
		if ((rc = parse_in_force(c, &m, b, &ok, NULL)) != 0)
			break;
		if (ok && (rc = unindex_msg(c, &m, b)) != 0)
			break;
		if ((rc = put_msg(c, &m, false,
		    "admission: revoked before this message's ts")) != 0)
			break;
	}
	kx_buf_free(&copy);
	free(b);
	return rc;
}

static int
drop_held_from(vctx *c, const uint8_t *author, uint64_t from, kx_head_t *h)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint8_t		 key[AKEY_LEN];
	int		 rc;

	akey(key, author, from);
	if ((rc = mdb_cursor_open(c->txn, c->st->held, &cur)) != 0)
		return rc;
	k = val(key, sizeof(key));
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == AKEY_LEN &&
	    memcmp(k.mv_data, author, KX_PK_LEN) == 0) {
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		if (h->nheld > 0)
			h->nheld--;
		rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
		if (rc == MDB_NOTFOUND || rc == EINVAL)
			break;
		if (rc == 0)
			continue;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == EINVAL ? 0 : rc;
}

static int
put_fork(vctx *c, const kx_msg_t *m, const uint8_t *other, size_t olen,
    kx_head_t *h)
{
	uint8_t		 key[AKEY_LEN];
	kx_buf_t	 proof;
	MDB_val		 k, v;
	int		 rc;

	/* other points into the database: copy before writing */
	kx_buf_init(&proof);
	kx_buf_putc(&proof, (int)(olen >> 24));
	kx_buf_putc(&proof, (int)(olen >> 16));
	kx_buf_putc(&proof, (int)(olen >> 8));
	kx_buf_putc(&proof, (int)olen);
	kx_buf_append(&proof, other, olen);
	kx_buf_append(&proof, m->wire, m->wire_len);
	if (proof.oom) {
		kx_buf_free(&proof);
		return ENOMEM;
	}
	akey(key, m->author, m->seq);
	k = val(key, sizeof(key));
	v = val(proof.data, proof.len);
	rc = mdb_put(c->txn, c->st->forks, &k, &v, MDB_NOOVERWRITE);
	kx_buf_free(&proof);
	if (rc == MDB_KEYEXIST)
		rc = 0;		/* the first proof at a seq is enough */
	if (rc != 0)
		return rc;
	if (h->frozen_seq == 0 || m->seq < h->frozen_seq)
		h->frozen_seq = m->seq;
	if ((rc = drop_held_from(c, m->author, h->frozen_seq, h)) != 0)
		return rc;
	return head_put(c->st, c->txn, m->author, h);
}

static void
result_init(kx_result_t *r, const kx_msg_t *m)
{
	memset(r, 0, sizeof(*r));
	r->has_id = true;
	memcpy(r->id, m->id, KX_ID_LEN);
	memcpy(r->author, m->author, KX_PK_LEN);
	r->seq = m->seq;
}

static int
reject(kx_result_t *r, int code)
{
	(void)code;
	r->outcome = KX_REJECTED;
	return 0;
}

/*
 * Steps 3 to 7 for a decoded message of the right version. sig_checked
 * when step 6 was done already (a released held message). Appends,
 * indexes and updates the head; returns 0 or an LMDB error.
 */
static int
admit(vctx *c, const kx_msg_t *m, bool sig_checked, kx_result_t *r)
{
	kx_store_t	*st = c->st;
	kx_head_t	 h;
	kx_role_t	 role;
	kx_body_t	*b;
	kx_msg_t	 om;
	kx_stored_t	 s;
	MDB_val		 k, v;
	uint8_t		 key[AKEY_LEN];
	bool		 valid;
	int		 rc;

	result_init(r, m);
	c->have_role = false;
	c->maybe_held = false;
	/* 3. admission at the message's ts */
	if (!c->own && !kx_store_is_operator(st, m->author)) {
		if ((rc = role_at(st, c->txn, m->author, m->ts, &role,
		    &c->cap)) != 0)
			return rc;
		c->role = role;
		c->have_role = true;
		if (role == KX_ROLE_NONE) {
			kx_why_set(&r->why, "admission: author is not admitted "
			    "at the message's ts");
			return reject(r, KX_EADMIT);
		}
	}
	/* 4. chain */
	if ((rc = head_get(st, c->txn, m->author, &h)) != 0)
		return rc;
	if (m->seq <= h.last_seq) {
		k = val(m->id, KX_ID_LEN);
		rc = mdb_get(c->txn, st->ids, &k, &v);
		if (rc == 0) {
			r->outcome = KX_DUPLICATE;
			return 0;
		}
		if (rc != MDB_NOTFOUND)
			return rc;
		if (!sig_checked && kx_msg_verify(m, &r->why) != KX_OK)
			return reject(r, KX_ESIG);
		if ((rc = get_msg(c, m->author, m->seq, &v)) != 0)
			return rc;
		if ((rc = split_msg(&v, &s, NULL, 0)) != 0)
			return rc;
		kx_why_set(&r->why, "chain: fork at seq %llu",
		    (unsigned long long)m->seq);
		r->outcome = KX_FORK;
		return put_fork(c, m, s.wire, s.len, &h);
	}
	if (h.frozen_seq != 0 && m->seq >= h.frozen_seq) {
		kx_why_set(&r->why, "chain: author frozen by a fork at seq %llu",
		    (unsigned long long)h.frozen_seq);
		return reject(r, KX_ECHAIN);
	}
	if (m->seq > h.last_seq + 1) {
		if (!sig_checked && kx_msg_verify(m, &r->why) != KX_OK)
			return reject(r, KX_ESIG);
		akey(key, m->author, m->seq);
		k = val(key, sizeof(key));
		rc = mdb_get(c->txn, st->held, &k, &v);
		if (rc == 0) {
			if (v.mv_size == m->wire_len &&
			    memcmp(v.mv_data, m->wire, m->wire_len) == 0) {
				r->outcome = KX_DUPLICATE;
				return 0;
			}
			if (kx_msg_decode(&om, v.mv_data, v.mv_size, NULL) ==
			    KX_OK && memcmp(om.id, m->id, KX_ID_LEN) == 0) {
				r->outcome = KX_DUPLICATE;
				return 0;
			}
			kx_why_set(&r->why, "chain: fork at seq %llu (held)",
			    (unsigned long long)m->seq);
			r->outcome = KX_FORK;
			return put_fork(c, m, v.mv_data, v.mv_size, &h);
		}
		if (rc != MDB_NOTFOUND)
			return rc;
		if (h.nheld >= KX_HELD_MAX) {
			kx_why_set(&r->why, "chain: too many messages held "
			    "back for this author");
			return reject(r, KX_ECHAIN);
		}
		v = val(m->wire, m->wire_len);
		if ((rc = mdb_put(c->txn, st->held, &k, &v, 0)) != 0)
			return rc;
		h.nheld++;
		r->outcome = KX_HELD;
		return head_put(st, c->txn, m->author, &h);
	}
	/* seq == last_seq + 1 */
	if (m->seq > 1 && memcmp(m->prev, h.last_id, KX_ID_LEN) != 0) {
		kx_why_set(&r->why, "chain: prev is not the id of seq %llu",
		    (unsigned long long)h.last_seq);
		return reject(r, KX_ECHAIN);
	}
	/* 5. clock */
	if (m->ts > c->now_ms + KX_CLOCK_SKEW_MS) {
		kx_why_set(&r->why, "clock: ts is more than 5 minutes ahead");
		return reject(r, KX_ECLOCK);
	}
	if (m->seq > 1 && m->ts < h.last_ts) {
		kx_why_set(&r->why, "clock: ts is before the author's "
		    "previous ts");
		return reject(r, KX_ECLOCK);
	}
	/* 6. signature */
	if (!sig_checked && kx_msg_verify(m, &r->why) != KX_OK)
		return reject(r, KX_ESIG);
	/* 7. body */
	if ((b = malloc(sizeof(*b))) == NULL)
		return ENOMEM;
	if ((rc = check_body(c, m, b, &valid, &r->why)) != 0)
		goto out;
	if ((rc = put_msg(c, m, valid, r->why.text)) != 0)
		goto out;
	h.last_seq = m->seq;
	memcpy(h.last_id, m->id, KX_ID_LEN);
	h.last_ts = m->ts;
	if ((rc = head_put(st, c->txn, m->author, &h)) != 0)
		goto out;
	if (valid && (rc = index_msg(c, m, b)) != 0)
		goto out;
	r->outcome = valid ? KX_ACCEPTED : KX_INVALID;
	c->maybe_held = h.nheld > 0;
out:
	free(b);
	return rc;
}

/* After seq of author was appended, releases held seq+1, seq+2, ... */
static int
release_held(vctx *c, const uint8_t *author, uint64_t seq)
{
	kx_head_t	 h;
	kx_result_t	 r;
	kx_msg_t	 m;
	kx_buf_t	 copy;
	MDB_val		 k, v;
	uint8_t		 key[AKEY_LEN];
	int		 rc = 0;

	kx_buf_init(&copy);
	for (;;) {
		if ((rc = head_get(c->st, c->txn, author, &h)) != 0)
			break;
		if (h.nheld == 0 || h.last_seq != seq)
			break;
		akey(key, author, seq + 1);
		k = val(key, sizeof(key));
		rc = mdb_get(c->txn, c->st->held, &k, &v);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc != 0)
			break;
		kx_buf_reset(&copy);
		if (kx_buf_append(&copy, v.mv_data, v.mv_size) == -1) {
			rc = ENOMEM;
			break;
		}
		if ((rc = mdb_del(c->txn, c->st->held, &k, NULL)) != 0)
			break;
		h.nheld--;
		if ((rc = head_put(c->st, c->txn, author, &h)) != 0)
			break;
		if (kx_msg_decode(&m, copy.data, copy.len, NULL) != KX_OK) {
			rc = MDB_CORRUPTED;
			break;
		}
		if ((rc = admit(c, &m, true, &r)) != 0)
			break;
		if (c->cb != NULL)
			c->cb(c->arg, &r);
		if (r.outcome != KX_ACCEPTED && r.outcome != KX_INVALID)
			break;
		seq++;
	}
	kx_buf_free(&copy);
	return rc;
}

static int
run(kx_store_t *st, vctx *c, const kx_msg_t *m, kx_result_t *res)
{
	bool	 own_txn = st->txn == NULL;
	int	 rc;

	if (own_txn && mdb_txn_begin(st->env, NULL, 0, &st->txn) != 0) {
		st->txn = NULL;
		return KX_ESTORE;
	}
	c->txn = st->txn;
	rc = admit(c, m, false, res);
	if (rc == 0 && c->maybe_held)
		rc = release_held(c, m->author, m->seq);
	if (own_txn) {
		if (rc == 0) {
			rc = mdb_txn_commit(st->txn);
			st->txn = NULL;
		} else
			kx_store_abort(st);
	}
	if (rc == ENOMEM)
		return KX_ENOMEM;
	return rc == 0 ? KX_OK : KX_ESTORE;
}

int
kx_store_import(kx_store_t *st, const uint8_t *wire, size_t len,
    int64_t now_ms, kx_result_t *res, kx_release_cb *cb, void *arg)
{
	kx_msg_t	 m;
	vctx		 c;
	int		 r;

	memset(res, 0, sizeof(*res));
	if ((r = kx_msg_decode(&m, wire, len, &res->why)) != KX_OK) {
		if (r == KX_ENOMEM)
			return r;
		res->outcome = KX_REJECTED;
		return KX_OK;
	}
	if (kx_msg_check_version(&m, &res->why) != KX_OK) {
		result_init(res, &m);
		kx_msg_check_version(&m, &res->why);
		res->outcome = KX_REJECTED;
		return KX_OK;
	}
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.now_ms = now_ms;
	c.cb = cb;
	c.arg = arg;
	return run(st, &c, &m, res);
}

int
kx_store_append_own(kx_store_t *st, const uint8_t sk[KX_SK_LEN],
    const char *type, const uint8_t *body, size_t body_len, int64_t ts,
    kx_buf_t *wire, kx_why_t *why)
{
	kx_head_t	 h;
	kx_result_t	 res;
	kx_msg_t	 m;
	vctx		 c;
	bool		 own_txn = st->txn == NULL;
	int		 rc;

	if ((rc = kx_store_head(st, sk + 32, &h)) < 0)
		return rc;
	if (h.frozen_seq != 0) {
		kx_why_set(why, "chain: this key is frozen by a fork");
		return KX_ECHAIN;
	}
	if (h.last_seq > 0 && ts < h.last_ts) {
		kx_why_set(why, "clock: ts is before this key's previous ts");
		return KX_ECLOCK;
	}
	kx_buf_reset(wire);
	rc = kx_msg_sign(wire, sk, h.last_seq + 1,
	    h.last_seq ? h.last_id : NULL, ts, type, body, body_len);
	if (rc != KX_OK) {
		kx_why_set(why, "sign: %s", kx_strerror(rc));
		return rc;
	}
	if ((rc = kx_msg_decode(&m, wire->data, wire->len, why)) != KX_OK)
		return rc;
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.now_ms = ts;
	c.own = true;
	if (own_txn && kx_store_begin(st) != KX_OK)
		return KX_ESTORE;
	c.txn = st->txn;
	rc = admit(&c, &m, true, &res);
	if (rc != 0) {
		if (own_txn)
			kx_store_abort(st);
		return rc == ENOMEM ? KX_ENOMEM : KX_ESTORE;
	}
	if (res.outcome != KX_ACCEPTED) {
		*why = res.why;
		if (own_txn)
			kx_store_abort(st);
		return res.outcome == KX_INVALID ? KX_EBODY : KX_ECHAIN;
	}
	if (own_txn)
		return kx_store_commit(st);
	return KX_OK;
}

/* ---- reading --------------------------------------------------------- */

int
kx_store_foreach(kx_store_t *st, const uint8_t *author, kx_foreach_cb *cb,
    void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	kx_stored_t	 s;
	char		 reason[256];
	uint8_t		 key[AKEY_LEN];
	int		 rc;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	if ((rc = mdb_cursor_open(txn, st->msgs, &cur)) != 0) {
		rtxn_end(st, txn);
		return KX_ESTORE;
	}
	if (author != NULL) {
		akey(key, author, 0);
		k = val(key, sizeof(key));
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	} else
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (author != NULL && (k.mv_size != AKEY_LEN ||
		    memcmp(k.mv_data, author, KX_PK_LEN) != 0))
			break;
		if ((rc = split_msg(&v, &s, reason, sizeof(reason))) != 0)
			break;
		if (cb(arg, &s) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	rtxn_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? KX_OK : KX_ESTORE;
}

int
kx_store_heads(kx_store_t *st, kx_head_cb *cb, void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	kx_head_t	 h;
	int		 rc;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	if ((rc = mdb_cursor_open(txn, st->heads, &cur)) != 0) {
		rtxn_end(st, txn);
		return KX_ESTORE;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != KX_PK_LEN || v.mv_size != sizeof(h)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(&h, v.mv_data, sizeof(h));
		if (cb(arg, k.mv_data, &h) != 0)
			break;
	}
	mdb_cursor_close(cur);
	rtxn_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? KX_OK : KX_ESTORE;
}

int
kx_store_get(kx_store_t *st, const uint8_t author[KX_PK_LEN], uint64_t seq,
    kx_buf_t *out, bool *valid)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	kx_stored_t	 s;
	uint8_t		 key[AKEY_LEN];
	int		 rc, ret = KX_ESTORE;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	akey(key, author, seq);
	k = val(key, sizeof(key));
	rc = mdb_get(txn, st->msgs, &k, &v);
	if (rc == MDB_NOTFOUND)
		ret = 0;
	else if (rc == 0 && split_msg(&v, &s, NULL, 0) == 0 &&
	    kx_buf_append(out, s.wire, s.len) == 0) {
		if (valid != NULL)
			*valid = s.valid;
		ret = 1;
	}
	rtxn_end(st, txn);
	return ret;
}

int
kx_store_range(kx_store_t *st, const uint8_t author[KX_PK_LEN], uint64_t from,
    size_t max, kx_foreach_cb *cb, void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	kx_stored_t	 s;
	char		 reason[256];
	uint8_t		 key[AKEY_LEN];
	size_t		 n = 0;
	int		 rc;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	if ((rc = mdb_cursor_open(txn, st->msgs, &cur)) != 0) {
		rtxn_end(st, txn);
		return KX_ESTORE;
	}
	akey(key, author, from);
	k = val(key, sizeof(key));
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == 0 && n < max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != AKEY_LEN ||
		    memcmp(k.mv_data, author, KX_PK_LEN) != 0)
			break;
		if ((rc = split_msg(&v, &s, reason, sizeof(reason))) != 0)
			break;
		n++;
		if (cb(arg, &s) != 0)
			break;
	}
	mdb_cursor_close(cur);
	rtxn_end(st, txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return KX_ESTORE;
	return (int)n;
}

int
kx_store_fork(kx_store_t *st, const uint8_t author[KX_PK_LEN], uint64_t seq,
    kx_buf_t *a, kx_buf_t *b)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	const uint8_t	*p;
	uint8_t		 key[AKEY_LEN];
	size_t		 alen;
	int		 rc, ret = KX_ESTORE;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	akey(key, author, seq);
	k = val(key, sizeof(key));
	rc = mdb_get(txn, st->forks, &k, &v);
	if (rc == MDB_NOTFOUND)
		ret = 0;
	else if (rc == 0 && v.mv_size >= 4) {
		p = v.mv_data;
		alen = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
		    (size_t)p[2] << 8 | p[3];
		if (alen <= v.mv_size - 4 &&
		    kx_buf_append(a, p + 4, alen) == 0 &&
		    kx_buf_append(b, p + 4 + alen, v.mv_size - 4 - alen) == 0)
			ret = 1;
	}
	rtxn_end(st, txn);
	return ret;
}

int
kx_store_members(kx_store_t *st, int64_t now, kx_member_cb *cb, void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct ev	 e, last;
	kx_member_t	 m;
	uint8_t		 node[KX_PK_LEN], tsb[8];
	bool		 have = false, stop = false;
	int		 rc;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	if ((rc = mdb_cursor_open(txn, st->members, &cur)) != 0) {
		rtxn_end(st, txn);
		return KX_ESTORE;
	}
	put_ts(tsb, now);
	memset(&last, 0, sizeof(last));
	/* keys are node|ts|...: the last event at or before now per node */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !stop; rc =
	    mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		bool	 end = rc != 0;

		if (!end && (k.mv_size < KX_PK_LEN + 8 ||
		    v.mv_size != sizeof(e))) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (have && (end || memcmp(k.mv_data, node, KX_PK_LEN) != 0)) {
			if (last.kind == EV_MEMBER && (last.until == 0 ||
			    now < last.until)) {
				memcpy(m.node, node, KX_PK_LEN);
				m.role = (kx_role_t)last.role;
				m.until = last.until;
				last.endpoint[KX_ENDPOINT_MAX] = '\0';
				m.endpoint = last.endpoint;
				if (cb(arg, &m) != 0)
					stop = true;
			}
			have = false;
		}
		if (end)
			break;
		if (memcmp((uint8_t *)k.mv_data + KX_PK_LEN, tsb, 8) > 0)
			continue;	/* after now */
		memcpy(node, k.mv_data, KX_PK_LEN);
		memcpy(&e, v.mv_data, sizeof(e));
		last = e;
		have = true;
	}
	mdb_cursor_close(cur);
	rtxn_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? KX_OK : KX_ESTORE;
}

int
kx_store_counts(kx_store_t *st, uint64_t *msgs, uint64_t *held,
    uint64_t *forks)
{
	MDB_txn	*txn;
	MDB_stat s;
	int	 rc = 0;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	if ((rc = mdb_stat(txn, st->msgs, &s)) == 0) {
		*msgs = s.ms_entries;
		if ((rc = mdb_stat(txn, st->held, &s)) == 0) {
			*held = s.ms_entries;
			if ((rc = mdb_stat(txn, st->forks, &s)) == 0)
				*forks = s.ms_entries;
		}
	}
	rtxn_end(st, txn);
	return rc == 0 ? KX_OK : KX_ESTORE;
}

int
kx_store_verify(kx_store_t *st, kx_why_t *why)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v, iv;
	MDB_stat	 ids_stat;
	kx_stored_t	 s;
	kx_msg_t	 m;
	kx_head_t	 h;
	uint8_t		 author[KX_PK_LEN], last_id[KX_ID_LEN];
	uint64_t	 seq = 0, count = 0;
	int64_t		 last_ts = 0;
	bool		 have = false;
	char		 hex[2 * KX_PK_LEN + 1];
	int		 rc, ret = KX_ESTORE;

	if (rtxn(st, &txn) != 0)
		return lmdb_fail(EIO, why, "begin");
	if ((rc = mdb_cursor_open(txn, st->msgs, &cur)) != 0) {
		rtxn_end(st, txn);
		return lmdb_fail(rc, why, "cursor");
	}
	kx_why_set(why, "ok");
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (;; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		bool	 end = rc == MDB_NOTFOUND;

		if (rc != 0 && !end) {
			lmdb_fail(rc, why, "read");
			goto done;
		}
		/* the previous author's log ended: compare with its head */
		if (have && (end || memcmp(k.mv_data, author, KX_PK_LEN))) {
			if (head_get(st, txn, author, &h) != 0 ||
			    h.last_seq != seq ||
			    memcmp(h.last_id, last_id, KX_ID_LEN) != 0 ||
			    h.last_ts != last_ts) {
				kx_hex(hex, author, KX_PK_LEN);
				kx_why_set(why, "head of %s does not match its "
				    "log (seq %llu)", hex,
				    (unsigned long long)seq);
				goto done;
			}
			have = false;
		}
		if (end)
			break;
		if (k.mv_size != AKEY_LEN || split_msg(&v, &s, NULL, 0) != 0 ||
		    kx_msg_decode(&m, s.wire, s.len, NULL) != KX_OK) {
			kx_why_set(why, "undecodable record");
			goto done;
		}
		if (!have) {
			memcpy(author, k.mv_data, KX_PK_LEN);
			seq = 0;
			have = true;
		}
		kx_hex(hex, author, KX_PK_LEN);
		if (memcmp(m.author, author, KX_PK_LEN) != 0 ||
		    m.seq != get_be64((uint8_t *)k.mv_data + KX_PK_LEN) ||
		    m.seq != seq + 1 ||
		    (seq > 0 && memcmp(m.prev, last_id, KX_ID_LEN) != 0) ||
		    kx_msg_verify(&m, NULL) != KX_OK) {
			kx_why_set(why, "log of %s broken at seq %llu", hex,
			    (unsigned long long)seq + 1);
			goto done;
		}
		iv = val(m.id, KX_ID_LEN);
		if (mdb_get(txn, st->ids, &iv, &iv) != 0 ||
		    iv.mv_size != AKEY_LEN ||
		    memcmp(iv.mv_data, k.mv_data, AKEY_LEN) != 0) {
			kx_why_set(why, "id index misses %s seq %llu", hex,
			    (unsigned long long)m.seq);
			goto done;
		}
		seq = m.seq;
		memcpy(last_id, m.id, KX_ID_LEN);
		last_ts = m.ts;
		count++;
	}
	if ((rc = mdb_stat(txn, st->ids, &ids_stat)) != 0 ||
	    ids_stat.ms_entries != count) {
		kx_why_set(why, "id index holds %llu entries for %llu messages",
		    (unsigned long long)ids_stat.ms_entries,
		    (unsigned long long)count);
		goto done;
	}
	kx_why_set(why, "ok: %llu messages", (unsigned long long)count);
	ret = KX_OK;
done:
	mdb_cursor_close(cur);
	rtxn_end(st, txn);
	return ret;
}

/* ---- the slots index ------------------------------------------------- */

/*
 * Builds the `slots` index from the logs once, for a store written before
 * the index existed (meta "slots-index" marks it done).
 */
static int
slots_reindex(kx_store_t *st, MDB_txn *txn)
{
	MDB_cursor	*cur;
	MDB_val		 k = val("slots-index", 11), v, mk, mv;
	kx_stored_t	 s;
	kx_msg_t	 m;
	kx_body_t	*b;
	kx_params_t	 p;
	uint8_t		 sk[SKEY_LEN];
	int		 rc;

	if ((rc = mdb_get(txn, st->meta, &k, &v)) != MDB_NOTFOUND)
		return rc;
	if ((b = malloc(sizeof(*b))) == NULL)
		return ENOMEM;
	kx_params_default(&p);
	if ((rc = mdb_cursor_open(txn, st->msgs, &cur)) != 0) {
		free(b);
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &mk, &mv, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT)) {
		if ((rc = split_msg(&mv, &s, NULL, 0)) != 0)
			break;
		if (!s.valid || kx_msg_decode(&m, s.wire, s.len, NULL) !=
		    KX_OK || kx_body_parse(b, &m, &p, NULL) != KX_OK ||
		    slot_ikey(st, sk, &m, b) == 0)
			continue;
		v = val(sk, SKEY_LEN);
		mv = val("", 0);
		if ((rc = mdb_put(txn, st->slots, &v, &mv, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	free(b);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	v = val("1", 1);
	return mdb_put(txn, st->meta, &k, &v, 0);
}

/* Gives cb the stored message at the author|seq key ak; 1 to stop. */
static int
give(MDB_txn *txn, kx_store_t *st, const uint8_t *ak, kx_foreach_cb *cb,
    void *arg, int *err)
{
	MDB_val		 k = val(ak, AKEY_LEN), v;
	kx_stored_t	 s;
	char		 reason[256];
	int		 rc;

	if ((rc = mdb_get(txn, st->msgs, &k, &v)) != 0 ||
	    (rc = split_msg(&v, &s, reason, sizeof(reason))) != 0) {
		*err = rc;
		return 1;
	}
	return cb(arg, &s) != 0;
}

int
kx_store_orders(kx_store_t *st, uint64_t slot, kx_foreach_cb *cb, void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v, ck;
	uint8_t		 key[8 + KX_ID_LEN];
	int		 rc, err = 0;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	if ((rc = mdb_cursor_open(txn, st->orders, &cur)) != 0) {
		rtxn_end(st, txn);
		return KX_ESTORE;
	}
	memset(key, 0, sizeof(key));
	put_be64(key, slot);
	k = val(key, sizeof(key));
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != sizeof(key) || get_be64(k.mv_data) != slot)
			break;
		ck = val((const uint8_t *)k.mv_data + 8, KX_ID_LEN);
		if ((rc = mdb_get(txn, st->cancels, &ck, &ck)) == 0)
			continue;	/* cancelled */
		if (rc != MDB_NOTFOUND || v.mv_size != AKEY_LEN) {
			err = rc ? rc : MDB_CORRUPTED;
			break;
		}
		if (give(txn, st, v.mv_data, cb, arg, &err))
			break;
	}
	mdb_cursor_close(cur);
	rtxn_end(st, txn);
	return err == 0 && (rc == 0 || rc == MDB_NOTFOUND) ? KX_OK :
	    KX_ESTORE;
}

int
kx_store_slot_msgs(kx_store_t *st, kx_type_t type, uint64_t from,
    uint64_t to, kx_foreach_cb *cb, void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint8_t		 key[SKEY_LEN];
	const uint8_t	*kp;
	int		 rc, err = 0;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	if ((rc = mdb_cursor_open(txn, st->slots, &cur)) != 0) {
		rtxn_end(st, txn);
		return KX_ESTORE;
	}
	memset(key, 0, sizeof(key));
	put_be64(key, from);
	k = val(key, sizeof(key));
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		kp = k.mv_data;
		if (k.mv_size != SKEY_LEN || get_be64(kp) >= to)
			break;
		if (kp[8] != (uint8_t)type)
			continue;
		if (give(txn, st, kp + 9, cb, arg, &err))
			break;
	}
	mdb_cursor_close(cur);
	rtxn_end(st, txn);
	return err == 0 && (rc == 0 || rc == MDB_NOTFOUND) ? KX_OK :
	    KX_ESTORE;
}

/* ---- the community index --------------------------------------------- */

/*
 * Builds the `community` index from the logs once, for a store written
 * before the index existed (meta "community-index" marks it done).
 */
static int
comm_reindex(kx_store_t *st, MDB_txn *txn)
{
	MDB_cursor	*cur;
	MDB_val		 k = val("community-index", 15), v, mk, mv;
	kx_stored_t	 s;
	kx_msg_t	 m;
	kx_body_t	*b;
	kx_params_t	 p;
	int		 rc;

	if ((rc = mdb_get(txn, st->meta, &k, &v)) != MDB_NOTFOUND)
		return rc;
	if ((b = malloc(sizeof(*b))) == NULL)
		return ENOMEM;
	kx_params_default(&p);
	if ((rc = mdb_cursor_open(txn, st->msgs, &cur)) != 0) {
		free(b);
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &mk, &mv, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT)) {
		if ((rc = split_msg(&mv, &s, NULL, 0)) != 0)
			break;
		if (!s.valid || kx_msg_decode(&m, s.wire, s.len, NULL) !=
		    KX_OK || kx_body_parse(b, &m, &p, NULL) != KX_OK)
			continue;
		if ((rc = comm_index(st, txn, &m, b, true)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	free(b);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	v = val("1", 1);
	return mdb_put(txn, st->meta, &k, &v, 0);
}

int
kx_store_get_id(kx_store_t *st, const uint8_t id[KX_ID_LEN],
    kx_foreach_cb *cb, void *arg)
{
	MDB_txn	*txn;
	MDB_val	 k = val(id, KX_ID_LEN), v;
	int	 rc, err = 0, ret;

	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	rc = mdb_get(txn, st->ids, &k, &v);
	if (rc == MDB_NOTFOUND)
		ret = 0;
	else if (rc != 0 || v.mv_size != AKEY_LEN)
		ret = KX_ESTORE;
	else {
		(void)give(txn, st, v.mv_data, cb, arg, &err);
		ret = err == 0 ? 1 : KX_ESTORE;
	}
	rtxn_end(st, txn);
	return ret;
}

int
kx_store_community(kx_store_t *st, const uint8_t *to, kx_foreach_cb *cb,
    void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint8_t		 key[1 + KX_PK_LEN];
	size_t		 plen = to != NULL ? 1 + KX_PK_LEN : 1;
	int		 rc, err = 0;

	key[0] = to != NULL ? 'c' : 'l';
	if (to != NULL)
		memcpy(key + 1, to, KX_PK_LEN);
	if (rtxn(st, &txn) != 0)
		return KX_ESTORE;
	if ((rc = mdb_cursor_open(txn, st->community, &cur)) != 0) {
		rtxn_end(st, txn);
		return KX_ESTORE;
	}
	k = val(key, plen);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen + AKEY_LEN ||
		    memcmp(k.mv_data, key, plen) != 0)
			break;
		if (give(txn, st, (const uint8_t *)k.mv_data + k.mv_size -
		    AKEY_LEN, cb, arg, &err))
			break;
	}
	mdb_cursor_close(cur);
	rtxn_end(st, txn);
	return err == 0 && (rc == 0 || rc == MDB_NOTFOUND) ? KX_OK :
	    KX_ESTORE;
}
