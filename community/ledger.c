/*
 * ledger.c - section 8 balances derived from the store, see ledger.h and
 * docs/community.md.
 *
 * One walker per author judges its pays in seq order. Judging a pay may
 * need the status of a pay it cites, authored by someone else and not
 * judged yet: the walker then waits on an explicit stack while the other
 * author's walker catches up (no recursion, so a long chain of members
 * paying each other cannot exhaust the C stack). A cited message's id is
 * inside the citing payload, and each payload holds its predecessor's id,
 * so what a pay needs was always signed before it: the waiting never
 * forms a cycle short of a BLAKE2b collision (guarded all the same).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "body.h"
#include "envelope.h"
#include "ledger.h"
#include "mp.h"

#define CHUNK_MSGS	256		/* messages read from LMDB at once */
#define CHUNK_BYTES	(256 * 1024)	/* pays' wire bytes kept at once */
#define AHEAD_MAX	(64 * 1024 * 1024)	/* read-ahead of all walkers */
#define NO_SEQ		UINT64_MAX

/* Why a pay is not valid; the text is made when asked for. */
enum {
	R_NONE = 0,
	R_STORE,	/* invalid in the store (its reason in text) */
	R_TO,		/* to is not admitted at the pay's ts */
	R_AFTER,	/* after this author's pending pay at seq arg */
	R_MISSING,	/* in[idx] is not stored (yet): pending */
	R_CINVALID,	/* in[idx] is invalid in the store */
	R_CTYPE,	/* in[idx] is neither an issue nor a pay */
	R_CCUR,		/* in[idx] is in the other currency */
	R_CTO,		/* in[idx] is addressed to another member */
	R_TWICE,	/* in[idx] was cited by the valid pay at seq arg */
	R_CPAYINV,	/* in[idx] is a pay that is itself invalid */
	R_CPAYPEND,	/* in[idx] is a pay that is itself pending */
	R_CYCLE,	/* in[idx] depends on this pay (a hash collision) */
	R_LIMIT,	/* the cited balance would be bal, below low */
	R_RANGE		/* the balance would leave the int64 range */
};

/* A judged pay of a walker's author. */
struct pay {
	uint64_t	 seq;
	int64_t		 ts;
	int64_t		 bal;		/* VALID: cited balance after it;
					   R_LIMIT: what it would have been */
	int64_t		 low;		/* R_LIMIT: the limit */
	uint64_t	 arg;		/* R_AFTER, R_TWICE: a seq */
	uint32_t	 amount;
	uint32_t	 idx;		/* the cite a reason is about */
	uint8_t		 status;	/* kx_pay_status_t */
	uint8_t		 cur;
	uint8_t		 code;		/* R_* */
	uint8_t		 idp[8];	/* first bytes of in[idx] */
	char		*text;		/* R_STORE: the store's reason */
};

/* A stored pay read ahead, waiting to be judged. */
struct rec {
	uint64_t	 seq;
	size_t		 off, len;	/* wire bytes in the walker's chunk */
	size_t		 roff;		/* its store reason, NUL-terminated */
	bool		 valid;
};

/* id -> seq of the valid pay citing it (open addressing). */
struct seen_e {
	uint8_t		 id[KX_ID_LEN];
	uint64_t	 seq;		/* 0: empty slot */
};

struct walker {
	uint8_t		 author[KX_PK_LEN];
	int64_t		 bal[2];	/* cited balance per currency */
	int64_t		 paid[2];
	uint64_t	 pending[2];	/* first pending pay per currency */
	struct pay	*pays;		/* judged, ascending seq */
	size_t		 npays, cappays;
	struct seen_e	*seen;
	size_t		 nseen, capseen;	/* capseen: 0 or a power of 2 */
	/* the part of the log read ahead */
	struct rec	*recs;
	size_t		 nrec, irec, caprec;
	kx_buf_t	 chunk;
	uint64_t	 chunk_next;	/* seq the next read starts from */
	bool		 ended;		/* nothing stored from chunk_next on */
	bool		 blocked;	/* its next pay waits on the stack */
};

/* A walker on the stack and how far it must judge. */
struct want {
	struct walker	*w;
	uint64_t	 upto;
};

struct kx_ledger {
	kx_store_t	*st;
	uint8_t		 hkey[crypto_shorthash_KEYBYTES];
	struct walker	**map;		/* by author (open addressing) */
	size_t		 nmap, capmap;
	struct want	*stack;
	size_t		 nstack, capstack;
	size_t		 ahead;		/* read-ahead bytes of all walkers */
	kx_body_t	*b, *cb;	/* the pay judged, a cited message */
	/* market parameters: time_limit for slots [plo, phi] */
	bool		 have_p;
	uint64_t	 plo, phi, time_limit;
};

/* What a cite names, read through the ids index. */
struct cited {
	bool		 found, valid, bad;
	kx_type_t	 type;
	int		 cur;
	uint32_t	 amount;
	uint8_t		 to[KX_PK_LEN];
	uint8_t		 author[KX_PK_LEN];
	uint64_t	 seq;
	int64_t		 ts;
};

const char *
kx_ledger_strerror(int e)
{
	switch (e) {
	case KX_ELIMIT:		return "the pay would break the balance limit";
	case KX_EPENDING:	return "an earlier pay is pending";
	case KX_ETOOMANY:	return "more credits would be needed than a "
				    "pay can cite";
	default:		return kx_strerror(e);
	}
}

const char *
kx_pay_status_name(kx_pay_status_t s)
{
	switch (s) {
	case KX_PAY_VALID:	return "valid";
	case KX_PAY_INVALID:	return "invalid";
	case KX_PAY_PENDING:	return "pending";
	}
	return "unknown";
}

static int
curno(int cur)
{
	return cur == KX_CUR_TIME ? 1 : 0;
}

static uint64_t
hash(const kx_ledger_t *l, const uint8_t *p)
{
	uint8_t		 h[crypto_shorthash_BYTES];
	uint64_t	 v;

	crypto_shorthash(h, p, 32, l->hkey);
	memcpy(&v, h, sizeof(v));
	return v;
}

/* ---- the memo ---------------------------------------------------------- */

kx_ledger_t *
kx_ledger_new(kx_store_t *st)
{
	kx_ledger_t	*l;

	if (sodium_init() < 0 || (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->st = st;
	randombytes_buf(l->hkey, sizeof(l->hkey));
	l->capmap = 64;
	if ((l->map = calloc(l->capmap, sizeof(*l->map))) == NULL ||
	    (l->b = malloc(sizeof(*l->b))) == NULL ||
	    (l->cb = malloc(sizeof(*l->cb))) == NULL) {
		kx_ledger_free(&l);
		return NULL;
	}
	return l;
}

static void
walker_free(struct walker *w)
{
	size_t	 i;

	for (i = 0; i < w->npays; i++)
		free(w->pays[i].text);
	free(w->pays);
	free(w->seen);
	free(w->recs);
	kx_buf_free(&w->chunk);
	free(w);
}

void
kx_ledger_free(kx_ledger_t **lp)
{
	kx_ledger_t	*l;
	size_t		 i;

	if (lp == NULL || (l = *lp) == NULL)
		return;
	if (l->map != NULL)
		for (i = 0; i < l->capmap; i++)
			if (l->map[i] != NULL)
				walker_free(l->map[i]);
	free(l->map);
	free(l->stack);
	free(l->b);
	free(l->cb);
	free(l);
	*lp = NULL;
}

/* The walker of author, made when first asked for; NULL: no memory. */
static struct walker *
walker_get(kx_ledger_t *l, const uint8_t *author)
{
	struct walker	*w, **nm;
	size_t		 i, j, cap;

	for (i = hash(l, author) & (l->capmap - 1); l->map[i] != NULL;
	    i = (i + 1) & (l->capmap - 1))
		if (memcmp(l->map[i]->author, author, KX_PK_LEN) == 0)
			return l->map[i];
	if (2 * (l->nmap + 1) > l->capmap) {
		cap = 2 * l->capmap;
		if ((nm = calloc(cap, sizeof(*nm))) == NULL)
			return NULL;
		for (j = 0; j < l->capmap; j++) {
			if (l->map[j] == NULL)
				continue;
			for (i = hash(l, l->map[j]->author) & (cap - 1);
			    nm[i] != NULL; i = (i + 1) & (cap - 1))
				;
			nm[i] = l->map[j];
		}
		free(l->map);
		l->map = nm;
		l->capmap = cap;
		for (i = hash(l, author) & (cap - 1); l->map[i] != NULL;
		    i = (i + 1) & (cap - 1))
			;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	memcpy(w->author, author, KX_PK_LEN);
	w->chunk_next = 1;
	kx_buf_init(&w->chunk);
	l->map[i] = w;
	l->nmap++;
	return w;
}

/* The seq of the valid pay of w citing id, or 0. */
static uint64_t
seen_get(const kx_ledger_t *l, const struct walker *w, const uint8_t *id)
{
	size_t	 i;

	if (w->capseen == 0)
		return 0;
	for (i = hash(l, id) & (w->capseen - 1); w->seen[i].seq != 0;
	    i = (i + 1) & (w->capseen - 1))
		if (memcmp(w->seen[i].id, id, KX_ID_LEN) == 0)
			return w->seen[i].seq;
	return 0;
}

static int
seen_put(const kx_ledger_t *l, struct walker *w, const uint8_t *id,
    uint64_t seq)
{
	struct seen_e	*ns;
	size_t		 i, j, cap;

	if (2 * (w->nseen + 1) > w->capseen) {
		cap = w->capseen ? 2 * w->capseen : 64;
		if ((ns = calloc(cap, sizeof(*ns))) == NULL)
			return KX_ENOMEM;
		for (j = 0; j < w->capseen; j++) {
			if (w->seen[j].seq == 0)
				continue;
			for (i = hash(l, w->seen[j].id) & (cap - 1);
			    ns[i].seq != 0; i = (i + 1) & (cap - 1))
				;
			ns[i] = w->seen[j];
		}
		free(w->seen);
		w->seen = ns;
		w->capseen = cap;
	}
	for (i = hash(l, id) & (w->capseen - 1); w->seen[i].seq != 0;
	    i = (i + 1) & (w->capseen - 1))
		;
	memcpy(w->seen[i].id, id, KX_ID_LEN);
	w->seen[i].seq = seq;
	w->nseen++;
	return KX_OK;
}

/* Every seq below this one is judged. */
static uint64_t
known_below(const struct walker *w)
{
	if (w->irec < w->nrec)
		return w->recs[w->irec].seq;
	return w->ended ? NO_SEQ : w->chunk_next;
}

/* The judged pay at seq, or NULL. */
static const struct pay *
pay_at(const struct walker *w, uint64_t seq)
{
	size_t	 lo = 0, hi = w->npays, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (w->pays[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < w->npays && w->pays[lo].seq == seq ? &w->pays[lo] : NULL;
}

/* ---- market parameters ------------------------------------------------- */

int
kx_ledger_limit(kx_ledger_t *l, int cur, int64_t ts, int64_t *low)
{
	kx_params_t	 p;
	uint64_t	 slot = ts < 0 ? 0 : (uint64_t)ts / 1000;

	if (cur != KX_CUR_TIME) {
		*low = 0;
		return KX_OK;
	}
	/*
	 * The parameters in force at slot s are the latest `market` with
	 * the greatest from <= s; if s gave from f, every slot in [f, s]
	 * gives the same, so that interval is remembered.
	 */
	if (!l->have_p || slot < l->plo || slot > l->phi) {
		if (kx_store_params(l->st, slot, &p) != KX_OK)
			return KX_ESTORE;
		l->have_p = true;
		l->plo = p.from <= slot ? p.from : slot;
		l->phi = slot;
		l->time_limit = p.time_limit;
	}
	*low = -(int64_t)l->time_limit;
	return KX_OK;
}

/* ---- reading a log ahead ----------------------------------------------- */

struct load {
	struct walker	*w;
	uint64_t	 last;
	bool		 full;		/* stopped for CHUNK_BYTES */
	bool		 oom;
};

/*
 * Reads a stored message's header fields and body without hashing it or
 * re-checking it: the store holds only messages that passed decoding at
 * import (every read is still bounds-checked). m->id and m->sig are not
 * set. 0 or -1.
 */
static int
stored_msg(const uint8_t *wire, size_t len, kx_msg_t *m)
{
	kx_mp_cur_t	 c, pc;
	kx_mp_val_t	 v;

	memset(m, 0, sizeof(*m));
	kx_mp_cur_init(&c, wire, len);
	if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_ARRAY ||
	    kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_BIN)
		return -1;
	m->wire = wire;
	m->wire_len = len;
	m->payload = v.ptr;
	m->payload_len = v.len;
	kx_mp_cur_init(&pc, v.ptr, v.len);
	if (kx_mp_read(&pc, &v) != KX_MP_OK || v.kind != KX_MP_ARRAY ||
	    v.len != 7 || kx_mp_read(&pc, &v) != KX_MP_OK)
		return -1;
	m->v = v.u;
	if (kx_mp_read(&pc, &v) != KX_MP_OK || v.kind != KX_MP_BIN ||
	    v.len != KX_PK_LEN)
		return -1;
	m->author = v.ptr;
	if (kx_mp_read(&pc, &v) != KX_MP_OK || v.kind != KX_MP_UINT)
		return -1;
	m->seq = v.u;
	if (kx_mp_read(&pc, &v) != KX_MP_OK)
		return -1;
	m->prev = v.kind == KX_MP_BIN ? v.ptr : NULL;
	if (kx_mp_read(&pc, &v) != KX_MP_OK ||
	    (v.kind != KX_MP_UINT && v.kind != KX_MP_NINT))
		return -1;
	m->ts = v.kind == KX_MP_UINT ? (int64_t)v.u : v.i;
	if (kx_mp_read(&pc, &v) != KX_MP_OK || v.kind != KX_MP_STR ||
	    v.len > KX_TYPE_MAX)
		return -1;
	memcpy(m->type, v.ptr, v.len);
	m->type[v.len] = '\0';
	m->body = pc.p;
	m->body_len = kx_mp_left(&pc);
	return 0;
}

static int
load_one(void *arg, const kx_stored_t *s)
{
	struct load	*ld = arg;
	struct walker	*w = ld->w;
	struct rec	*r;
	kx_msg_t	 m;
	size_t		 rlen;

	if (stored_msg(s->wire, s->len, &m) == -1)
		return 0;	/* the store only holds decodable messages */
	ld->last = m.seq;
	if (strcmp(m.type, "pay") != 0)
		return 0;
	if (w->nrec == w->caprec) {
		size_t	 cap = w->caprec ? 2 * w->caprec : 64;

		if ((r = reallocarray(w->recs, cap, sizeof(*r))) == NULL) {
			ld->oom = true;
			return 1;
		}
		w->recs = r;
		w->caprec = cap;
	}
	r = &w->recs[w->nrec];
	r->seq = m.seq;
	r->valid = s->valid;
	r->off = w->chunk.len;
	r->len = s->len;
	kx_buf_append(&w->chunk, s->wire, s->len);
	r->roff = w->chunk.len;
	rlen = s->valid || s->reason == NULL ? 0 : strlen(s->reason);
	kx_buf_append(&w->chunk, s->reason != NULL ? s->reason : "", rlen);
	kx_buf_putc(&w->chunk, '\0');
	if (w->chunk.oom) {
		ld->oom = true;
		return 1;
	}
	w->nrec++;
	if (w->chunk.len >= CHUNK_BYTES) {
		ld->full = true;
		return 1;
	}
	return 0;
}

/* Reads the next part of w's log. */
static int
load_chunk(kx_ledger_t *l, struct walker *w)
{
	struct load	 ld;
	int		 n;

	w->nrec = w->irec = 0;
	l->ahead -= w->chunk.len;
	kx_buf_reset(&w->chunk);
	memset(&ld, 0, sizeof(ld));
	ld.w = w;
	n = kx_store_range(l->st, w->author, w->chunk_next, CHUNK_MSGS,
	    load_one, &ld);
	l->ahead += w->chunk.len;
	if (ld.oom)
		return KX_ENOMEM;
	if (n < 0)
		return KX_ESTORE;
	if (n == 0) {
		w->ended = true;
		return KX_OK;
	}
	w->chunk_next = ld.last + 1;
	if (n < CHUNK_MSGS && !ld.full)
		w->ended = true;
	return KX_OK;
}

/* Lets go of a walker's read-ahead (what it did not judge is reread). */
static void
unload(kx_ledger_t *l, struct walker *w)
{
	l->ahead -= w->chunk.len;
	if (w->irec < w->nrec) {
		w->chunk_next = w->recs[w->irec].seq;
		w->ended = false;
	}
	w->nrec = w->irec = 0;
	kx_buf_free(&w->chunk);
	free(w->recs);
	w->recs = NULL;
	w->caprec = 0;
}

/* ---- judging a pay ----------------------------------------------------- */

struct lookup {
	kx_ledger_t	*l;
	struct cited	*c;
};

static int
lookup_one(void *arg, const kx_stored_t *s)
{
	struct lookup	*lk = arg;
	struct cited	*c = lk->c;
	kx_params_t	 p;
	kx_msg_t	 m;
	kx_body_t	*b = lk->l->cb;

	c->found = true;
	c->valid = s->valid;
	if (stored_msg(s->wire, s->len, &m) == -1) {
		c->valid = false;
		return 1;
	}
	memcpy(c->author, m.author, KX_PK_LEN);
	c->seq = m.seq;
	c->ts = m.ts;
	c->type = kx_type_of(m.type);
	if (c->type != KX_T_ISSUE && c->type != KX_T_PAY)
		return 1;
	kx_params_default(&p);
	if (kx_body_parse(b, &m, &p, NULL) != KX_OK) {
		c->valid = false;
		return 1;
	}
	if (c->type == KX_T_ISSUE) {
		c->cur = KX_CUR_HEALTH;
		c->amount = b->u.issue.points;
		memcpy(c->to, b->u.issue.to, KX_PK_LEN);
	} else {
		c->cur = b->u.pay.cur;
		c->amount = b->u.pay.amount;
		memcpy(c->to, b->u.pay.to, KX_PK_LEN);
	}
	return 1;
}

/* What id names; KX_OK (c->found false when it is not stored) or error. */
static int
lookup(kx_ledger_t *l, const uint8_t *id, struct cited *c)
{
	struct lookup	 lk;
	int		 rc;

	memset(c, 0, sizeof(*c));
	lk.l = l;
	lk.c = c;
	rc = kx_store_get_id(l->st, id, lookup_one, &lk);
	return rc < 0 ? KX_ESTORE : KX_OK;
}

/* A walker may be on the stack more than once (asked for by two pays). */
static int
push(kx_ledger_t *l, struct walker *w, uint64_t upto)
{
	struct want	*ns;

	if (l->nstack == l->capstack) {
		size_t	 cap = l->capstack ? 2 * l->capstack : 32;

		if ((ns = reallocarray(l->stack, cap, sizeof(*ns))) == NULL)
			return KX_ENOMEM;
		l->stack = ns;
		l->capstack = cap;
	}
	l->stack[l->nstack].w = w;
	l->stack[l->nstack].upto = upto;
	l->nstack++;
	return KX_OK;
}

static int
record(struct walker *w, const struct pay *p)
{
	struct pay	*np;

	if (w->npays == w->cappays) {
		size_t	 cap = w->cappays ? 2 * w->cappays : 16;

		if ((np = reallocarray(w->pays, cap, sizeof(*np))) == NULL)
			return KX_ENOMEM;
		w->pays = np;
		w->cappays = cap;
	}
	w->pays[w->npays++] = *p;
	return KX_OK;
}

/* A problem with cite i: the first one found decides the reason. */
static void
problem(struct pay *p, int *first, int code, uint32_t i, const uint8_t *id,
    uint64_t arg)
{
	if (*first != R_NONE)
		return;
	*first = code;
	p->code = (uint8_t)code;
	p->idx = i;
	p->arg = arg;
	memcpy(p->idp, id, sizeof(p->idp));
}

/*
 * Judges the pay r of w. Returns KX_OK when it is recorded, 1 when it
 * waits for other walkers (pushed on the stack), or an error.
 */
static int
judge(kx_ledger_t *l, struct walker *w, const struct rec *r)
{
	kx_body_t	*b = l->b;
	kx_params_t	 dflt;
	kx_msg_t	 m;
	struct pay	 p;
	struct cited	 c;
	struct walker	*o;
	const struct pay *op;
	const uint8_t	*id;
	int64_t		 sum = 0, low, nb, np;
	uint64_t	 twice;
	uint32_t	 i;
	int		 bad = R_NONE, pend = R_NONE, k, rc, waits = 0;
	kx_role_t	 role;
	bool		 ok;

	memset(&p, 0, sizeof(p));
	p.seq = r->seq;
	kx_params_default(&dflt);
	if (stored_msg(w->chunk.data + r->off, r->len, &m) == -1)
		return KX_ESTORE;	/* the store holds decodable messages */
	p.ts = m.ts;
	ok = kx_body_parse(b, &m, &dflt, NULL) == KX_OK &&
	    b->type == KX_T_PAY;
	if (ok) {
		p.cur = (uint8_t)b->u.pay.cur;
		p.amount = b->u.pay.amount;
	}
	if (!ok || !r->valid) {
		/* invalid in the store: ignored, whatever it cites */
		p.status = KX_PAY_INVALID;
		p.code = R_STORE;
		if ((p.text = strdup(r->valid ? "body: unreadable" :
		    (const char *)w->chunk.data + r->roff)) == NULL)
			return KX_ENOMEM;
		if ((rc = record(w, &p)) != KX_OK)
			free(p.text);
		return rc;
	}
	k = curno(b->u.pay.cur);
	/* section 8: to is admitted at ts or an operator key (no operator
	 * keys known: no federation state, as in the store) */
	if (kx_store_operator_count(l->st) > 0 &&
	    !kx_store_is_operator(l->st, b->u.pay.to)) {
		if (kx_store_role_at(l->st, b->u.pay.to, m.ts, &role) != KX_OK)
			return KX_ESTORE;
		if (role == KX_ROLE_NONE) {
			p.status = KX_PAY_INVALID;
			p.code = R_TO;
			return record(w, &p);
		}
	}
	if (w->pending[k] != 0) {
		p.status = KX_PAY_PENDING;
		p.code = R_AFTER;
		p.arg = w->pending[k];
		return record(w, &p);
	}
	for (i = 0; i < b->u.pay.n_in && bad == R_NONE; i++) {
		id = b->u.pay.in[i];
		if ((rc = lookup(l, id, &c)) != KX_OK)
			return rc;
		if (!c.found) {
			problem(&p, &pend, R_MISSING, i, id, 0);
			continue;
		}
		if (!c.valid)
			problem(&p, &bad, R_CINVALID, i, id, 0);
		else if (c.type != KX_T_ISSUE && c.type != KX_T_PAY)
			problem(&p, &bad, R_CTYPE, i, id, 0);
		else if (c.cur != b->u.pay.cur)
			problem(&p, &bad, R_CCUR, i, id, 0);
		else if (memcmp(c.to, w->author, KX_PK_LEN) != 0)
			problem(&p, &bad, R_CTO, i, id, 0);
		else if ((twice = seen_get(l, w, id)) != 0)
			problem(&p, &bad, R_TWICE, i, id, twice);
		else if (c.type == KX_T_ISSUE)
			sum += c.amount;
		else {
			if ((o = walker_get(l, c.author)) == NULL)
				return KX_ENOMEM;
			if (c.seq >= known_below(o)) {
				/*
				 * Not judged yet: o must catch up first,
				 * unless o is itself waiting for this pay.
				 */
				if (o->blocked) {
					problem(&p, &bad, R_CYCLE, i, id, 0);
					continue;
				}
				if ((rc = push(l, o, c.seq)) != KX_OK)
					return rc;
				waits++;
				continue;
			}
			if ((op = pay_at(o, c.seq)) == NULL ||
			    op->status == KX_PAY_INVALID)
				problem(&p, &bad, R_CPAYINV, i, id, 0);
			else if (op->status == KX_PAY_PENDING)
				problem(&p, &pend, R_CPAYPEND, i, id, 0);
			else
				sum += c.amount;
		}
	}
	if (waits > 0)
		return 1;
	if (bad != R_NONE) {
		p.status = KX_PAY_INVALID;
		return record(w, &p);
	}
	if (pend != R_NONE) {
		p.status = KX_PAY_PENDING;
		w->pending[k] = p.seq;
		return record(w, &p);
	}
	if ((rc = kx_ledger_limit(l, b->u.pay.cur, m.ts, &low)) != KX_OK)
		return rc;
	p.low = low;
	if (__builtin_add_overflow(w->bal[k], sum, &nb) ||
	    __builtin_sub_overflow(nb, (int64_t)p.amount, &nb) ||
	    __builtin_add_overflow(w->paid[k], (int64_t)p.amount, &np)) {
		p.status = KX_PAY_INVALID;
		p.code = R_RANGE;
		return record(w, &p);
	}
	p.bal = nb;
	if (nb < low) {
		p.status = KX_PAY_INVALID;
		p.code = R_LIMIT;
		return record(w, &p);
	}
	for (i = 0; i < b->u.pay.n_in; i++)
		if ((rc = seen_put(l, w, b->u.pay.in[i], p.seq)) != KX_OK)
			return rc;
	p.status = KX_PAY_VALID;
	w->bal[k] = nb;
	w->paid[k] = np;
	return record(w, &p);
}

/* Judges w's pays until every seq <= upto is judged. */
static int
run(kx_ledger_t *l, struct walker *w0, uint64_t upto)
{
	struct walker	*w;
	uint64_t	 want;
	size_t		 i;
	int		 rc = KX_OK;

	if (known_below(w0) == NO_SEQ || upto < known_below(w0))
		return KX_OK;
	if ((rc = push(l, w0, upto)) != KX_OK)
		return rc;
	while (l->nstack > 0) {
		w = l->stack[l->nstack - 1].w;
		want = l->stack[l->nstack - 1].upto;
		if (known_below(w) == NO_SEQ || want < known_below(w)) {
			l->nstack--;
			/* keep read-ahead for the next ask, within bounds */
			if (l->ahead > AHEAD_MAX)
				unload(l, w);
			continue;
		}
		if (w->irec == w->nrec) {
			if ((rc = load_chunk(l, w)) != KX_OK)
				break;
			continue;
		}
		w->blocked = false;
		if ((rc = judge(l, w, &w->recs[w->irec])) < 0)
			break;
		if (rc == KX_OK)
			w->irec++;
		else
			w->blocked = true;
		rc = KX_OK;
	}
	for (i = 0; i < l->nstack; i++)	/* after an error */
		l->stack[i].w->blocked = false;
	l->nstack = 0;
	return rc;
}

/* The reason of a judged pay, as text ("" when valid). */
static void
reason(const struct pay *p, kx_why_t *why)
{
	char	 h[17];

	if (why == NULL)
		return;
	kx_hex(h, p->idp, sizeof(p->idp));
	switch (p->status == KX_PAY_VALID ? R_NONE : p->code) {
	case R_NONE:
		kx_why_set(why, "%s", "");
		break;
	case R_STORE:
		kx_why_set(why, "%s", p->text != NULL ? p->text : "");
		break;
	case R_TO:
		kx_why_set(why, "ledger: to is not admitted at the pay's ts");
		break;
	case R_AFTER:
		kx_why_set(why, "pending: after the pending pay at seq %" PRIu64
		    " in the same currency", p->arg);
		break;
	case R_MISSING:
		kx_why_set(why, "pending: in[%u] (%s...) is not received yet",
		    p->idx, h);
		break;
	case R_CINVALID:
		kx_why_set(why, "ledger: in[%u] (%s...) is an invalid message",
		    p->idx, h);
		break;
	case R_CTYPE:
		kx_why_set(why, "ledger: in[%u] (%s...) is neither an issue nor "
		    "a pay", p->idx, h);
		break;
	case R_CCUR:
		kx_why_set(why, "ledger: in[%u] (%s...) is in the other "
		    "currency", p->idx, h);
		break;
	case R_CTO:
		kx_why_set(why, "ledger: in[%u] (%s...) is addressed to another "
		    "member", p->idx, h);
		break;
	case R_TWICE:
		kx_why_set(why, "ledger: in[%u] (%s...) was already cited by the "
		    "pay at seq %" PRIu64, p->idx, h, p->arg);
		break;
	case R_CPAYINV:
		kx_why_set(why, "ledger: in[%u] (%s...) is a pay that is itself "
		    "invalid", p->idx, h);
		break;
	case R_CPAYPEND:
		kx_why_set(why, "pending: in[%u] (%s...) is a pay that is itself "
		    "pending", p->idx, h);
		break;
	case R_CYCLE:
		kx_why_set(why, "ledger: in[%u] (%s...) depends on this pay",
		    p->idx, h);
		break;
	case R_LIMIT:
		kx_why_set(why, "ledger: the cited balance after the pay would "
		    "be %" PRId64 ", below the limit of %" PRId64, p->bal,
		    p->low);
		break;
	default:
		kx_why_set(why, "ledger: the balance would leave the integer "
		    "range");
		break;
	}
}

int
kx_ledger_pay_status(kx_ledger_t *l, const uint8_t author[KX_PK_LEN],
    uint64_t seq, kx_pay_status_t *status, kx_why_t *why)
{
	struct walker	*w;
	const struct pay *p;
	int		 rc;

	if ((w = walker_get(l, author)) == NULL)
		return KX_ENOMEM;
	if ((rc = run(l, w, seq)) != KX_OK)
		return rc;
	if ((p = pay_at(w, seq)) == NULL) {
		kx_why_set(why, "no stored pay at seq %" PRIu64, seq);
		return KX_EARG;
	}
	*status = (kx_pay_status_t)p->status;
	reason(p, why);
	return KX_OK;
}

int
kx_community_pay_valid(kx_store_t *st, const uint8_t *wire, size_t len)
{
	kx_ledger_t	*l;
	kx_pay_status_t	 s;
	kx_msg_t	 m;
	int		 rc;

	if (kx_msg_decode(&m, wire, len, NULL) != KX_OK ||
	    strcmp(m.type, "pay") != 0)
		return 0;
	if ((l = kx_ledger_new(st)) == NULL)
		return KX_ENOMEM;
	rc = kx_ledger_pay_status(l, m.author, m.seq, &s, NULL);
	kx_ledger_free(&l);
	if (rc == KX_EARG)
		return 0;
	if (rc != KX_OK)
		return rc;
	return s == KX_PAY_VALID;
}

/* ---- incoming credit ---------------------------------------------------- */

struct credit {
	uint8_t		 author[KX_PK_LEN];
	uint8_t		 id[KX_ID_LEN];
	uint64_t	 seq;
	int64_t		 ts;
	uint32_t	 amount;
	uint8_t		 type, cur;
};

struct credits {
	kx_ledger_t	*l;
	int		 cur;		/* -1: both */
	struct credit	*c;
	size_t		 n, cap;
	bool		 oom;
};

static int
credit_one(void *arg, const kx_stored_t *s)
{
	struct credits	*cs = arg;
	struct credit	*c;
	kx_params_t	 p;
	kx_msg_t	 m;
	kx_body_t	*b = cs->l->cb;
	int		 cur;

	kx_params_default(&p);
	if (!s->valid || kx_msg_decode(&m, s->wire, s->len, NULL) != KX_OK ||
	    kx_body_parse(b, &m, &p, NULL) != KX_OK ||
	    (b->type != KX_T_ISSUE && b->type != KX_T_PAY))
		return 0;
	cur = b->type == KX_T_ISSUE ? KX_CUR_HEALTH : b->u.pay.cur;
	if (cs->cur != -1 && cur != cs->cur)
		return 0;
	if (cs->n == cs->cap) {
		size_t	 cap = cs->cap ? 2 * cs->cap : 64;

		if ((c = reallocarray(cs->c, cap, sizeof(*c))) == NULL) {
			cs->oom = true;
			return 1;
		}
		cs->c = c;
		cs->cap = cap;
	}
	c = &cs->c[cs->n++];
	memcpy(c->author, m.author, KX_PK_LEN);
	memcpy(c->id, m.id, KX_ID_LEN);
	c->seq = m.seq;
	c->ts = m.ts;
	c->type = (uint8_t)b->type;
	c->cur = (uint8_t)cur;
	c->amount = b->type == KX_T_ISSUE ? b->u.issue.points :
	    b->u.pay.amount;
	return 0;
}

/*
 * member's valid credits in cur (-1 both), oldest first, into cs, and
 * the walkers of their payers judged far enough to tell their status.
 */
static int
credits_load(kx_ledger_t *l, const uint8_t *member, int cur,
    struct credits *cs)
{
	struct walker	*o;
	size_t		 i;
	int		 rc;

	memset(cs, 0, sizeof(*cs));
	cs->l = l;
	cs->cur = cur;
	if (kx_store_community(l->st, member, credit_one, cs) != KX_OK)
		return KX_ESTORE;
	if (cs->oom)
		return KX_ENOMEM;
	for (i = 0; i < cs->n; i++) {
		if (cs->c[i].type != KX_T_PAY)
			continue;
		if ((o = walker_get(l, cs->c[i].author)) == NULL)
			return KX_ENOMEM;
		if ((rc = run(l, o, cs->c[i].seq)) != KX_OK)
			return rc;
	}
	return KX_OK;
}

/* A credit's status: issues in the index are valid. */
static kx_pay_status_t
credit_status(kx_ledger_t *l, const struct credit *c, const struct pay **pp)
{
	struct walker	*o;
	const struct pay *p;

	*pp = NULL;
	if (c->type == KX_T_ISSUE)
		return KX_PAY_VALID;
	if ((o = walker_get(l, c->author)) == NULL ||
	    (p = pay_at(o, c->seq)) == NULL)
		return KX_PAY_INVALID;
	*pp = p;
	return (kx_pay_status_t)p->status;
}

int
kx_ledger_balance(kx_ledger_t *l, const uint8_t member[KX_PK_LEN], int cur,
    kx_balance_t *out)
{
	struct walker	*w;
	struct credits	 cs;
	const struct pay *p;
	kx_pay_status_t	 s;
	size_t		 i;
	int		 k = curno(cur), rc;

	memset(out, 0, sizeof(*out));
	if ((w = walker_get(l, member)) == NULL)
		return KX_ENOMEM;
	if ((rc = run(l, w, NO_SEQ)) != KX_OK)
		return rc;
	if ((rc = credits_load(l, member, cur, &cs)) != KX_OK)
		goto out;
	out->cited = w->bal[k];
	out->paid = w->paid[k];
	out->pending_seq = w->pending[k];
	for (i = 0; i < w->npays; i++) {
		p = &w->pays[i];
		if (curno(p->cur) != k)
			continue;
		if (p->status == KX_PAY_VALID)
			out->n_valid_out++;
		else if (p->status == KX_PAY_INVALID)
			out->n_invalid_out++;
		else {
			out->n_pending_out++;
			out->pending_out += p->amount;
		}
	}
	for (i = 0; i < cs.n; i++) {
		s = credit_status(l, &cs.c[i], &p);
		if (s == KX_PAY_PENDING)
			out->pending_in += cs.c[i].amount;
		if (s != KX_PAY_VALID)
			continue;
		out->received += cs.c[i].amount;
		out->n_in++;
		if (seen_get(l, w, cs.c[i].id) == 0)
			out->uncited += cs.c[i].amount;
	}
	out->balance = out->received - out->paid;
out:
	free(cs.c);
	return rc;
}

int
kx_ledger_pick(kx_ledger_t *l, const uint8_t member[KX_PK_LEN], int cur,
    uint32_t amount, int64_t ts, uint8_t (*ids)[KX_ID_LEN], size_t max,
    size_t *n, kx_why_t *why)
{
	struct walker	*w;
	struct credits	 cs;
	const struct pay *p;
	int64_t		 low, have, need, got = 0, avail = 0;
	size_t		 i;
	int		 k = curno(cur), rc;

	*n = 0;
	memset(&cs, 0, sizeof(cs));
	if ((w = walker_get(l, member)) == NULL)
		return KX_ENOMEM;
	if ((rc = run(l, w, NO_SEQ)) != KX_OK)
		return rc;
	if (w->pending[k] != 0) {
		kx_why_set(why, "pay: your pay at seq %" PRIu64 " is pending "
		    "(it cites a message this node does not hold yet); no "
		    "later pay in this currency can be judged until it is",
		    w->pending[k]);
		return KX_EPENDING;
	}
	if ((rc = kx_ledger_limit(l, cur, ts, &low)) != KX_OK)
		return rc;
	have = w->bal[k];
	need = low - (have - (int64_t)amount);	/* credit still to cite */
	if (need <= 0)
		return KX_OK;
	if ((rc = credits_load(l, member, cur, &cs)) != KX_OK)
		goto out;
	for (i = 0; i < cs.n; i++) {
		if (credit_status(l, &cs.c[i], &p) != KX_PAY_VALID ||
		    seen_get(l, w, cs.c[i].id) != 0)
			continue;
		avail += cs.c[i].amount;
		if (got < need && *n < max) {
			memcpy(ids[*n], cs.c[i].id, KX_ID_LEN);
			(*n)++;
			got += cs.c[i].amount;
		}
	}
	if (got >= need)
		goto out;
	*n = 0;
	if (avail >= need) {
		kx_why_set(why, "pay: %u %s would need more than %zu credits "
		    "cited at once; pay in smaller parts", amount, cur ==
		    KX_CUR_TIME ? "minutes" : "points", max);
		rc = KX_ETOOMANY;
	} else {
		kx_why_set(why, "pay: the balance would break the limit: %"
		    PRId64 " %s can be paid now (balance %" PRId64 ", limit %"
		    PRId64 "), %u asked", have + avail - low, cur ==
		    KX_CUR_TIME ? "minutes" : "points", have + avail, low,
		    amount);
		rc = KX_ELIMIT;
	}
out:
	free(cs.c);
	return rc;
}

/* ---- history ---------------------------------------------------------- */

/* One line of the history before it is read back: an own pay or a credit. */
struct item {
	int64_t		 ts;
	uint8_t		 author[KX_PK_LEN];
	uint64_t	 seq;
	size_t		 credit;	/* index into the credits, or SIZE_MAX */
};

static int
item_cmp(const void *a, const void *b)
{
	const struct item	*x = a, *y = b;
	int			 c;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if ((c = memcmp(x->author, y->author, KX_PK_LEN)) != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
entry_of(kx_ledger_t *l, const struct walker *w, const struct item *it,
    const struct credits *cs, kx_buf_t *wire, kx_entry_t *e, kx_why_t *why)
{
	kx_params_t	 dflt;
	kx_msg_t	 m;
	kx_body_t	*b = l->cb;
	const struct pay *p = NULL;
	const struct credit *c;
	bool		 valid;
	int		 rc;

	memset(e, 0, sizeof(*e));
	kx_buf_reset(wire);
	rc = kx_store_get(l->st, it->author, it->seq, wire, &valid);
	if (rc < 0)
		return KX_ESTORE;
	kx_params_default(&dflt);
	if (rc == 0 || kx_msg_decode(&m, wire->data, wire->len, NULL) !=
	    KX_OK || kx_body_parse(b, &m, &dflt, NULL) != KX_OK ||
	    (b->type != KX_T_PAY && b->type != KX_T_ISSUE))
		return 1;	/* skip: cannot happen in a sound store */
	e->out = it->credit == SIZE_MAX;
	e->type = b->type;
	memcpy(e->id, m.id, KX_ID_LEN);
	memcpy(e->author, m.author, KX_PK_LEN);
	e->seq = m.seq;
	e->ts = m.ts;
	if (b->type == KX_T_ISSUE) {
		e->cur = KX_CUR_HEALTH;
		memcpy(e->to, b->u.issue.to, KX_PK_LEN);
		e->amount = b->u.issue.points;
		e->status = KX_PAY_VALID;
	} else {
		kx_mp_cur_t	 cur, a;
		kx_mp_val_t	 map, v;

		e->cur = b->u.pay.cur;
		memcpy(e->to, b->u.pay.to, KX_PK_LEN);
		e->amount = b->u.pay.amount;
		e->n_in = b->u.pay.n_in;
		kx_mp_cur_init(&cur, m.body, m.body_len);
		if (kx_mp_read(&cur, &map) == KX_MP_OK &&
		    kx_mp_map_get(&map, cur, "memo", &v, &a) == 1 &&
		    v.kind == KX_MP_STR) {
			e->memo = v.ptr;
			e->memo_len = v.len;
		}
		if (e->out)
			p = pay_at(w, m.seq);
		else {
			c = &cs->c[it->credit];
			(void)credit_status(l, c, &p);
		}
		e->status = p != NULL ? (kx_pay_status_t)p->status :
		    KX_PAY_INVALID;
		if (p != NULL)
			reason(p, why);
		e->cited_after = p != NULL && p->status == KX_PAY_VALID ?
		    p->bal : 0;
	}
	e->reason = why->text;
	if (!e->out)
		e->cited_by = seen_get(l, w, m.id);
	return KX_OK;
}

int
kx_ledger_history(kx_ledger_t *l, const uint8_t member[KX_PK_LEN], int cur,
    kx_entry_cb *cb, void *arg)
{
	struct walker	*w;
	struct credits	 cs;
	struct item	*items = NULL;
	kx_entry_t	 e;
	kx_why_t	 why;
	kx_buf_t	 wire;
	size_t		 i, n = 0;
	int		 rc;

	kx_buf_init(&wire);
	memset(&cs, 0, sizeof(cs));
	if ((w = walker_get(l, member)) == NULL)
		return KX_ENOMEM;
	if ((rc = run(l, w, NO_SEQ)) != KX_OK)
		return rc;
	if ((rc = credits_load(l, member, cur, &cs)) != KX_OK)
		goto out;
	if ((items = calloc(w->npays + cs.n + 1, sizeof(*items))) == NULL) {
		rc = KX_ENOMEM;
		goto out;
	}
	for (i = 0; i < w->npays; i++) {
		if (cur != -1 && w->pays[i].cur != cur)
			continue;
		items[n].ts = w->pays[i].ts;
		items[n].seq = w->pays[i].seq;
		memcpy(items[n].author, member, KX_PK_LEN);
		items[n].credit = SIZE_MAX;
		n++;
	}
	for (i = 0; i < cs.n; i++, n++) {
		items[n].ts = cs.c[i].ts;
		memcpy(items[n].author, cs.c[i].author, KX_PK_LEN);
		items[n].seq = cs.c[i].seq;
		items[n].credit = i;
	}
	qsort(items, n, sizeof(*items), item_cmp);
	for (i = 0; i < n; i++) {
		kx_why_set(&why, "%s", "");
		if ((rc = entry_of(l, w, &items[i], &cs, &wire, &e, &why)) < 0)
			goto out;
		if (rc == 1)
			continue;
		if (cb(arg, &e) != 0)
			break;
	}
	rc = KX_OK;
out:
	kx_buf_free(&wire);
	free(items);
	free(cs.c);
	return rc;
}
