/*
 * privacy.c - the consent register and the disclosure chain, see
 * privacy.h. Tuned for a household's volume: tens of grants, a disclosure
 * per market slot at most (17,520 a year at 30-minute slots), so the
 * register is read whole for each check and the chain walked whole to
 * verify it.
 *
 * DATA_DIR/privacy (LMDB) holds
 *   consent  u64be id -> sealed(kind 'G'|'R', i64be time_ms, u64be ref,
 *            and for a grant category NUL purpose NUL recipient NUL);
 *            ref is the grant's own id, resp. the grant revoked
 *   chain    u64be seq -> i64be time_ms, u64be consent (0: settlement-
 *            exempt), payload hash (32), prev (32), hash (32),
 *            sealed(category NUL purpose NUL recipient NUL)
 *   meta     "head" -> u64be seq, hash (32); "consent" -> u64be events
 * Sealed parts are bound to their database and key (datakey.h), so a
 * value moved to another id does not open.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "bytes.h"
#include "mdbval.h"
#include "datakey.h"
#include "log.h"
#include "privacy.h"

#define W_CONSENT	"privacy/consent"
#define W_CHAIN		"privacy/chain"
#define HASH_TAG	"kaga-disclosure/1"
#define EV_HDR		17		/* kind, time, ref */
#define NAMES_MAX	(3 * (KX_PV_NAME_MAX + 1))
#define PLAIN_MAX	(EV_HDR + NAMES_MAX)

struct kx_privacy {
	char		 dir[PATH_MAX];	/* the data folder, resolved */
	int		 refs;
	MDB_env		*env;
	MDB_dbi		 consent, chain, meta;
	kx_datakey_t	*dk;
	struct kx_privacy *next;	/* the open ones */
};

/* A consent event as read. */
struct ev {
	uint64_t	 id;
	char		 kind;		/* 'G', 'R'; 0: does not decrypt */
	int64_t		 time_ms;
	uint64_t	 ref;		/* grant: itself; revoke: the grant */
	char		 cat[KX_PV_NAME_MAX + 1];
	char		 pur[KX_PV_NAME_MAX + 1];
	char		 rcp[KX_PV_NAME_MAX + 1];
	int64_t		 revoked_ms;	/* grants: 0 while in force */
	uint64_t	 revoked_by;
};

/* A chain entry as read. */
struct entry {
	uint64_t	 seq;
	int64_t		 time_ms;
	uint64_t	 consent;	/* 0: settlement-exempt */
	uint8_t		 payload[32], prev[32], hash[32];
	bool		 readable;	/* the sealed names opened */
	char		 cat[KX_PV_NAME_MAX + 1];
	char		 pur[KX_PV_NAME_MAX + 1];
	char		 rcp[KX_PV_NAME_MAX + 1];
};

static pthread_mutex_t	 reg_mu = PTHREAD_MUTEX_INITIALIZER;
static kx_privacy_t	*reg;

static const char *const categories[] = {
	"meter-detail", "slot-totals", "health", "volunteer",
};
static const char *const purposes[] = {
	"settlement", "city-statistics", "research", "third-party",
};

/* ---- names ------------------------------------------------------------- */

static bool
in_list(const char *s, const char *const *l, size_t n)
{
	size_t	 i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, l[i]) == 0)
			return true;
	return false;
}

bool
kx_privacy_category_ok(const char *s)
{
	return in_list(s, categories, sizeof(categories) /
	    sizeof(categories[0]));
}

bool
kx_privacy_purpose_ok(const char *s)
{
	return in_list(s, purposes, sizeof(purposes) / sizeof(purposes[0]));
}

bool
kx_privacy_recipient_ok(const char *s)
{
	size_t	 n, i, hex = 0, lower = 0;

	if (s == NULL || (n = strnlen(s, KX_PV_NAME_MAX + 1)) == 0 ||
	    n > KX_PV_NAME_MAX || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (i = 0; i < n; i++) {
		char	 c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == ' ' || c == '.' ||
		    c == '_' || c == '-'))
			return false;
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
			hex++, lower++;
		else if (c >= 'A' && c <= 'F')
			hex++;
	}
	/* a key is written in lowercase, so that it matches one way only */
	return !(n == 64 && hex == 64 && lower != 64);
}

const char *
kx_privacy_strerror(int e)
{
	switch (e) {
	case 0:			return "ok";
	case KX_PV_EREFUSED:	return "refused: no grant in force";
	case KX_PV_EARG:	return "unknown category or purpose, or a bad "
				    "recipient";
	case KX_PV_EDB:		return "privacy database error";
	case KX_PV_ENOGRANT:	return "no such grant";
	case KX_PV_EREVOKED:	return "the grant is revoked already";
	case KX_PV_ENOMEM:	return "out of memory";
	case KX_PV_ECRYPT:	return "a record does not decrypt";
	default:		return "unknown error";
	}
}

/* ---- encoding ---------------------------------------------------------- */

/* Appends "a\0b\0c\0"; returns the bytes written. */
static size_t
put_names(uint8_t *p, const char *a, const char *b, const char *c)
{
	size_t	 n = 0, l;

	l = strlen(a) + 1;
	memcpy(p + n, a, l);
	n += l;
	l = strlen(b) + 1;
	memcpy(p + n, b, l);
	n += l;
	l = strlen(c) + 1;
	memcpy(p + n, c, l);
	return n + l;
}

/* Reads three NUL-terminated names, all of p; -1 unless valid. */
static int
get_names(const uint8_t *p, size_t n, char *a, char *b, char *c)
{
	char	*out[3] = { a, b, c };
	size_t	 off = 0, l;
	int	 i;

	for (i = 0; i < 3; i++) {
		const uint8_t	*z = memchr(p + off, 0, n - off);

		if (z == NULL || (l = (size_t)(z - (p + off))) >
		    KX_PV_NAME_MAX)
			return -1;
		memcpy(out[i], p + off, l);
		out[i][l] = '\0';
		off += l + 1;
	}
	if (off != n || !kx_privacy_category_ok(a) ||
	    !kx_privacy_purpose_ok(b) || !kx_privacy_recipient_ok(c))
		return -1;
	return 0;
}

static void
consent_ref(char *out, size_t len, uint64_t consent)
{
	if (consent == 0)
		snprintf(out, len, "%s", KX_PV_EXEMPT);
	else
		snprintf(out, len, "%" PRIu64, consent);
}

static void
hash_str(crypto_generichash_state *st, const char *s)
{
	uint8_t	 l = (uint8_t)strlen(s);

	crypto_generichash_update(st, &l, 1);
	crypto_generichash_update(st, (const uint8_t *)s, l);
}

/*
 * The entry hash: BLAKE2b-256 over "kaga-disclosure/1", seq and time
 * (8 bytes big-endian each), category, purpose, recipient and the consent
 * reference (each a length byte and its bytes), the payload hash and the
 * previous entry's hash (32 bytes each; zeros before the first entry).
 */
static void
entry_hash(uint8_t out[32], const struct entry *e)
{
	crypto_generichash_state st;
	uint8_t			 b[8];
	char			 ref[32];

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)HASH_TAG,
	    strlen(HASH_TAG));
	kx_be64_put(b, e->seq);
	crypto_generichash_update(&st, b, 8);
	kx_be64_put(b, (uint64_t)e->time_ms);
	crypto_generichash_update(&st, b, 8);
	hash_str(&st, e->cat);
	hash_str(&st, e->pur);
	hash_str(&st, e->rcp);
	consent_ref(ref, sizeof(ref), e->consent);
	hash_str(&st, ref);
	crypto_generichash_update(&st, e->payload, 32);
	crypto_generichash_update(&st, e->prev, 32);
	crypto_generichash_final(&st, out, 32);
}

/* ---- problems ---------------------------------------------------------- */

static void
problem(kx_buf_t *b, size_t *n, const char *what, uint64_t seq,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
problem(kx_buf_t *b, size_t *n, const char *what, uint64_t seq,
    const char *fmt, ...)
{
	char	 text[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (b != NULL) {
		kx_buf_printf(b, "%s{\"in\":\"%s\",", *n ? "," : "", what);
		if (seq != 0)
			kx_buf_printf(b, "\"%s\":%" PRIu64 ",",
			    strcmp(what, "chain") == 0 ? "seq" : "id", seq);
		kx_buf_printf(b, "\"problem\":\"%s\"}", text);
	}
	(*n)++;
}

/* ---- reading records --------------------------------------------------- */

/*
 * Loads every consent event in id order and links revokes to grants.
 * Problems (if nprob) are counted and described in pb. 0 or KX_PV_EDB,
 * KX_PV_ENOMEM.
 */
static int
load_events(kx_privacy_t *pv, MDB_txn *txn, struct ev **out, size_t *nout,
    kx_buf_t *pb, size_t *nprob)
{
	MDB_cursor	*c;
	MDB_val		 k, v, p;
	struct ev	*evs = NULL, *e, *tmp;
	uint8_t		 buf[PLAIN_MAX];
	size_t		 n = 0, cap = 0, i, j;
	uint64_t	 expect = 1;
	int		 rc;

	*out = NULL;
	*nout = 0;
	if (mdb_cursor_open(txn, pv->consent, &c) != 0)
		return KX_PV_EDB;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if ((tmp = reallocarray(evs, cap, sizeof(*evs))) ==
			    NULL) {
				mdb_cursor_close(c);
				free(evs);
				return KX_PV_ENOMEM;
			}
			evs = tmp;
		}
		e = &evs[n];
		memset(e, 0, sizeof(*e));
		if (k.mv_size != 8) {
			if (nprob != NULL)
				problem(pb, nprob, "consent", 0, "a record "
				    "with a malformed key");
			continue;
		}
		e->id = kx_be64_get(k.mv_data);
		if (nprob != NULL && e->id != expect)
			problem(pb, nprob, "consent", e->id, "events %" PRIu64
			    " to %" PRIu64 " are missing", expect, e->id - 1);
		expect = e->id + 1;
		n++;
		if (kx_open_mdb(pv->dk, W_CONSENT, &k, &v, buf, sizeof(buf),
		    &p) != 0 || p.mv_size < EV_HDR) {
			if (nprob != NULL)
				problem(pb, nprob, "consent", e->id, "does not "
				    "decrypt (wrong data key or damaged)");
			continue;
		}
		e->time_ms = (int64_t)kx_be64_get(buf + 1);
		e->ref = kx_be64_get(buf + 9);
		if (buf[0] == 'G' && e->ref == e->id &&
		    get_names(buf + EV_HDR, p.mv_size - EV_HDR, e->cat, e->pur,
		    e->rcp) == 0)
			e->kind = 'G';
		else if (buf[0] == 'R' && p.mv_size == EV_HDR)
			e->kind = 'R';
		else if (nprob != NULL)
			problem(pb, nprob, "consent", e->id, "malformed "
			    "event");
		sodium_memzero(buf, sizeof(buf));
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) {
		free(evs);
		return KX_PV_EDB;
	}
	for (i = 0; i < n; i++) {
		if (evs[i].kind != 'R')
			continue;
		for (j = 0; j < n; j++)
			if (evs[j].id == evs[i].ref && evs[j].kind == 'G')
				break;
		if (j == n) {
			if (nprob != NULL)
				problem(pb, nprob, "consent", evs[i].id,
				    "revokes %" PRIu64 ", which is no grant",
				    evs[i].ref);
			continue;
		}
		if (evs[j].revoked_ms == 0 && evs[j].revoked_by == 0) {
			evs[j].revoked_ms = evs[i].time_ms;
			evs[j].revoked_by = evs[i].id;
		} else if (nprob != NULL)
			problem(pb, nprob, "consent", evs[i].id, "revokes "
			    "grant %" PRIu64 " a second time", evs[i].ref);
	}
	*out = evs;
	*nout = n;
	return 0;
}

static bool
covers(const struct ev *g, const char *cat, const char *pur,
    const char *rcp, int64_t t)
{
	return g->kind == 'G' && strcmp(g->cat, cat) == 0 &&
	    strcmp(g->pur, pur) == 0 && strcmp(g->rcp, rcp) == 0 &&
	    g->time_ms <= t && (g->revoked_by == 0 || g->revoked_ms > t);
}

static bool
is_exempt(const char *cat, const char *pur, const char *rcp)
{
	return strcmp(cat, "slot-totals") == 0 &&
	    strcmp(pur, "settlement") == 0 && strcmp(rcp, "operator") == 0;
}

/* Decodes a chain record; -1 malformed, KX_PV_ECRYPT names unreadable. */
static int
read_entry(kx_privacy_t *pv, const MDB_val *k, const MDB_val *v,
    struct entry *e)
{
	const uint8_t	*p = v->mv_data;
	uint8_t		 buf[NAMES_MAX];
	MDB_val		 sk, pl;

	memset(e, 0, sizeof(*e));
	if (k->mv_size != 8 || v->mv_size < KX_PV_CHAIN_HDR)
		return -1;
	e->seq = kx_be64_get(k->mv_data);
	e->time_ms = (int64_t)kx_be64_get(p);
	e->consent = kx_be64_get(p + 8);
	memcpy(e->payload, p + 16, 32);
	memcpy(e->prev, p + 48, 32);
	memcpy(e->hash, p + 80, 32);
	sk = kx_mdb_val(p + KX_PV_CHAIN_HDR, v->mv_size - KX_PV_CHAIN_HDR);
	if (kx_open_mdb(pv->dk, W_CHAIN, k, &sk, buf, sizeof(buf), &pl) !=
	    0 || get_names(buf, pl.mv_size, e->cat, e->pur, e->rcp) != 0) {
		e->cat[0] = e->pur[0] = e->rcp[0] = '\0';
		return KX_PV_ECRYPT;
	}
	e->readable = true;
	return 0;
}

/* ---- open and close ---------------------------------------------------- */

kx_privacy_t *
kx_privacy_open(const char *data_dir, char *err, size_t errlen)
{
	kx_privacy_t	*pv;
	MDB_txn		*txn;
	char		 dir[PATH_MAX + 16], real[PATH_MAX];
	int		 rc;

	if (realpath(data_dir, real) == NULL)
		snprintf(real, sizeof(real), "%s", data_dir);
	pthread_mutex_lock(&reg_mu);
	for (pv = reg; pv != NULL; pv = pv->next)
		if (strcmp(pv->dir, real) == 0) {
			pv->refs++;
			pthread_mutex_unlock(&reg_mu);
			return pv;
		}
	if ((pv = calloc(1, sizeof(*pv))) == NULL) {
		pthread_mutex_unlock(&reg_mu);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(pv->dir, sizeof(pv->dir), "%s", real);
	pv->refs = 1;
	if ((pv->dk = kx_datakey_open(data_dir, err, errlen)) == NULL)
		goto fail_noenv;
	snprintf(dir, sizeof(dir), "%s/privacy", data_dir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail_noenv;
	}
	if ((rc = mdb_env_create(&pv->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(pv->env, 4)) != 0 ||
	    (rc = mdb_env_set_mapsize(pv->env, (size_t)1 << 30)) != 0 ||
	    (rc = mdb_env_open(pv->env, dir, MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_txn_begin(pv->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "consent", MDB_CREATE, &pv->consent)) !=
	    0 || (rc = mdb_dbi_open(txn, "chain", MDB_CREATE, &pv->chain)) !=
	    0 || (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &pv->meta)) !=
	    0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	pv->next = reg;
	reg = pv;
	pthread_mutex_unlock(&reg_mu);
	return pv;
fail:
	snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
fail_noenv:
	if (pv->env != NULL)
		mdb_env_close(pv->env);
	kx_datakey_free(&pv->dk);
	free(pv);
	pthread_mutex_unlock(&reg_mu);
	return NULL;
}

void
kx_privacy_close(kx_privacy_t **p)
{
	kx_privacy_t	*pv, **pp;

	if (p == NULL || (pv = *p) == NULL)
		return;
	*p = NULL;
	pthread_mutex_lock(&reg_mu);
	if (--pv->refs > 0) {
		pthread_mutex_unlock(&reg_mu);
		return;
	}
	for (pp = &reg; *pp != NULL; pp = &(*pp)->next)
		if (*pp == pv) {
			*pp = pv->next;
			break;
		}
	pthread_mutex_unlock(&reg_mu);
	mdb_env_close(pv->env);
	kx_datakey_free(&pv->dk);
	free(pv);
}

/* ---- consent ----------------------------------------------------------- */

/* The next consent id: after the last record and the recorded count. */
static int
next_event(kx_privacy_t *pv, MDB_txn *txn, uint64_t *id)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint64_t	 last = 0, count = 0;
	int		 rc;

	if (mdb_cursor_open(txn, pv->consent, &c) != 0)
		return KX_PV_EDB;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == 8)
		last = kx_be64_get(k.mv_data);
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return KX_PV_EDB;
	k = kx_mdb_val("consent", 7);
	rc = mdb_get(txn, pv->meta, &k, &v);
	if (rc == 0 && v.mv_size == 8)
		count = kx_be64_get(v.mv_data);
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return KX_PV_EDB;
	*id = (last > count ? last : count) + 1;
	return 0;
}

/* Seals and stores event plain (len bytes) under id; updates the count. */
static int
put_event(kx_privacy_t *pv, MDB_txn *txn, uint64_t id, const uint8_t *plain,
    size_t len)
{
	uint8_t		 key[8], cnt[8], sealed[PLAIN_MAX + KX_SEAL_OVERHEAD];
	MDB_val		 k, v, mk;

	kx_be64_put(key, id);
	k = kx_mdb_val(key, 8);
	if (kx_seal_mdb(pv->dk, W_CONSENT, &k, plain, len, sealed,
	    sizeof(sealed), &v) != 0)
		return KX_PV_EARG;
	kx_be64_put(cnt, id);
	mk = kx_mdb_val("consent", 7);
	if (mdb_put(txn, pv->consent, &k, &v, MDB_NOOVERWRITE) != 0)
		return KX_PV_EDB;
	v = kx_mdb_val(cnt, 8);
	if (mdb_put(txn, pv->meta, &mk, &v, 0) != 0)
		return KX_PV_EDB;
	return 0;
}

int
kx_privacy_grant(kx_privacy_t *pv, int64_t now, const char *cat,
    const char *pur, const char *rcp, uint64_t *id)
{
	MDB_txn		*txn;
	uint8_t		 plain[PLAIN_MAX];
	size_t		 n;
	int		 rc;

	if (!kx_privacy_category_ok(cat) || !kx_privacy_purpose_ok(pur) ||
	    !kx_privacy_recipient_ok(rcp))
		return KX_PV_EARG;
	if (mdb_txn_begin(pv->env, NULL, 0, &txn) != 0)
		return KX_PV_EDB;
	if ((rc = next_event(pv, txn, id)) != 0)
		goto fail;
	plain[0] = 'G';
	kx_be64_put(plain + 1, (uint64_t)now);
	kx_be64_put(plain + 9, *id);
	n = EV_HDR + put_names(plain + EV_HDR, cat, pur, rcp);
	rc = put_event(pv, txn, *id, plain, n);
	sodium_memzero(plain, sizeof(plain));
	if (rc != 0)
		goto fail;
	if (mdb_txn_commit(txn) != 0)
		return KX_PV_EDB;
	log_info("privacy: grant %" PRIu64 ": %s for %s to %s", *id, cat, pur,
	    rcp);
	return 0;
fail:
	mdb_txn_abort(txn);
	return rc;
}

int
kx_privacy_revoke(kx_privacy_t *pv, int64_t now, uint64_t grant,
    uint64_t *idp)
{
	MDB_txn		*txn;
	struct ev	*evs = NULL;
	uint8_t		 plain[EV_HDR];
	size_t		 n, i;
	uint64_t	 id;
	int		 rc;

	if (mdb_txn_begin(pv->env, NULL, 0, &txn) != 0)
		return KX_PV_EDB;
	if ((rc = load_events(pv, txn, &evs, &n, NULL, NULL)) != 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (evs[i].id == grant && evs[i].kind == 'G')
			break;
	if (i == n) {
		rc = KX_PV_ENOGRANT;
		goto fail;
	}
	if (evs[i].revoked_by != 0) {
		rc = KX_PV_EREVOKED;
		goto fail;
	}
	if ((rc = next_event(pv, txn, &id)) != 0)
		goto fail;
	plain[0] = 'R';
	kx_be64_put(plain + 1, (uint64_t)now);
	kx_be64_put(plain + 9, grant);
	if ((rc = put_event(pv, txn, id, plain, sizeof(plain))) != 0)
		goto fail;
	free(evs);
	if (mdb_txn_commit(txn) != 0)
		return KX_PV_EDB;
	if (idp != NULL)
		*idp = id;
	log_info("privacy: grant %" PRIu64 " revoked (event %" PRIu64 ")",
	    grant, id);
	return 0;
fail:
	free(evs);
	mdb_txn_abort(txn);
	return rc;
}

/* ---- disclosures ------------------------------------------------------- */

/* The head: from meta, or the last entry when it is further on. */
static int
chain_head(kx_privacy_t *pv, MDB_txn *txn, uint64_t *seq, uint8_t hash[32],
    bool *has_meta, uint64_t *meta_seq)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc;

	*seq = 0;
	memset(hash, 0, 32);
	*has_meta = false;
	*meta_seq = 0;
	k = kx_mdb_val("head", 4);
	rc = mdb_get(txn, pv->meta, &k, &v);
	if (rc == 0 && v.mv_size == 40) {
		*seq = *meta_seq = kx_be64_get(v.mv_data);
		memcpy(hash, (const uint8_t *)v.mv_data + 8, 32);
		*has_meta = true;
	} else if (rc != 0 && rc != MDB_NOTFOUND)
		return KX_PV_EDB;
	if (mdb_cursor_open(txn, pv->chain, &c) != 0)
		return KX_PV_EDB;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == 8 && v.mv_size >= KX_PV_CHAIN_HDR &&
	    kx_be64_get(k.mv_data) > *seq) {
		*seq = kx_be64_get(k.mv_data);
		memcpy(hash, (const uint8_t *)v.mv_data + 80, 32);
	}
	mdb_cursor_close(c);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : KX_PV_EDB;
}

/*
 * Appends an entry at the head of the chain in txn: consent 0 for the
 * settlement exemption, else the grant's id. No check of the consent:
 * the caller's. 0 with the seq in *seqp, or KX_PV_EDB, KX_PV_EARG.
 */
static int
append(kx_privacy_t *pv, MDB_txn *txn, int64_t now, const char *cat,
    const char *pur, const char *rcp, uint64_t consent, const void *payload,
    size_t len, uint64_t *seqp)
{
	MDB_val		 k, v;
	struct entry	 e;
	uint8_t		 key[8], val[KX_PV_CHAIN_HDR + NAMES_MAX +
			    KX_SEAL_OVERHEAD], names[NAMES_MAX], head[40];
	size_t		 nn, sl;
	uint64_t	 meta_seq;
	bool		 has_meta;
	int		 rc;

	memset(&e, 0, sizeof(e));
	if ((rc = chain_head(pv, txn, &e.seq, e.prev, &has_meta,
	    &meta_seq)) != 0)
		return rc;
	e.seq++;
	e.time_ms = now;
	e.consent = consent;
	snprintf(e.cat, sizeof(e.cat), "%s", cat);
	snprintf(e.pur, sizeof(e.pur), "%s", pur);
	snprintf(e.rcp, sizeof(e.rcp), "%s", rcp);
	crypto_generichash(e.payload, 32, payload, len, NULL, 0);
	entry_hash(e.hash, &e);
	kx_be64_put(val, (uint64_t)e.time_ms);
	kx_be64_put(val + 8, e.consent);
	memcpy(val + 16, e.payload, 32);
	memcpy(val + 48, e.prev, 32);
	memcpy(val + 80, e.hash, 32);
	nn = put_names(names, cat, pur, rcp);
	kx_be64_put(key, e.seq);
	if (kx_seal_value(pv->dk, W_CHAIN, key, 8, names, nn,
	    val + KX_PV_CHAIN_HDR, sizeof(val) - KX_PV_CHAIN_HDR, &sl) != 0)
		return KX_PV_EARG;
	k = kx_mdb_val(key, 8);
	v = kx_mdb_val(val, KX_PV_CHAIN_HDR + sl);
	if (mdb_put(txn, pv->chain, &k, &v, MDB_NOOVERWRITE) != 0)
		return KX_PV_EDB;
	kx_be64_put(head, e.seq);
	memcpy(head + 8, e.hash, 32);
	k = kx_mdb_val("head", 4);
	v = kx_mdb_val(head, sizeof(head));
	if (mdb_put(txn, pv->meta, &k, &v, 0) != 0)
		return KX_PV_EDB;
	*seqp = e.seq;
	return 0;
}

int
kx_privacy_disclose(kx_privacy_t *pv, int64_t now, const char *cat,
    const char *pur, const char *rcp, const void *payload, size_t len,
    uint64_t *seqp)
{
	MDB_txn		*txn;
	struct ev	*evs = NULL;
	size_t		 n, i;
	uint64_t	 consent = 0, seq;
	int		 rc;

	if (!kx_privacy_category_ok(cat) || !kx_privacy_purpose_ok(pur) ||
	    !kx_privacy_recipient_ok(rcp) || (payload == NULL && len > 0))
		return KX_PV_EARG;
	if (mdb_txn_begin(pv->env, NULL, 0, &txn) != 0)
		return KX_PV_EDB;
	if (!is_exempt(cat, pur, rcp)) {
		if ((rc = load_events(pv, txn, &evs, &n, NULL, NULL)) != 0)
			goto fail;
		/* the latest grant in force */
		for (i = n; i > 0; i--)
			if (covers(&evs[i - 1], cat, pur, rcp, now))
				break;
		if (i == 0) {
			log_warnx("privacy: refused to disclose %s for %s to "
			    "%s: no grant in force", cat, pur, rcp);
			rc = KX_PV_EREFUSED;
			goto fail;
		}
		consent = evs[i - 1].id;
		free(evs);
		evs = NULL;
	}
	if ((rc = append(pv, txn, now, cat, pur, rcp, consent, payload, len,
	    &seq)) != 0)
		goto fail;
	if (mdb_txn_commit(txn) != 0)
		return KX_PV_EDB;
	if (seqp != NULL)
		*seqp = seq;
	if (consent == 0)
		log_debug("privacy: disclosure %" PRIu64 ": %s for %s to %s "
		    "(%s)", seq, cat, pur, rcp, KX_PV_EXEMPT);
	else
		log_info("privacy: disclosure %" PRIu64 ": %s for %s to %s "
		    "(grant %" PRIu64 ")", seq, cat, pur, rcp, consent);
	return 0;
fail:
	free(evs);
	mdb_txn_abort(txn);
	return rc;
}

/* ---- JSON -------------------------------------------------------------- */

static void
json_name(kx_buf_t *b, const char *s, bool ok)
{
	if (!ok || s[0] == '\0')
		kx_buf_puts(b, "null");
	else
		kx_buf_printf(b, "\"%s\"", s);	/* names are checked */
}

int
kx_privacy_consent_json(kx_privacy_t *pv, bool events, kx_buf_t *b)
{
	MDB_txn		*txn;
	struct ev	*evs = NULL;
	size_t		 n, i, shown = 0;

	if (mdb_txn_begin(pv->env, NULL, MDB_RDONLY, &txn) != 0)
		return KX_PV_EDB;
	if (load_events(pv, txn, &evs, &n, NULL, NULL) != 0) {
		mdb_txn_abort(txn);
		return KX_PV_EDB;
	}
	mdb_txn_abort(txn);
	kx_buf_puts(b, "{\"format\":\"kaga-consent/1\",\"grants\":[");
	for (i = 0; i < n; i++) {
		const struct ev	*e = &evs[i];

		if (e->kind != 'G')
			continue;
		kx_buf_printf(b, "%s{\"id\":%" PRIu64 ",\"category\":\"%s\","
		    "\"purpose\":\"%s\",\"recipient\":\"%s\",\"granted_ms\":%"
		    PRId64 ",\"revoked_ms\":", shown++ ? "," : "", e->id,
		    e->cat, e->pur, e->rcp, e->time_ms);
		if (e->revoked_by != 0)
			kx_buf_printf(b, "%" PRId64 ",\"revoked_by\":%" PRIu64
			    "}", e->revoked_ms, e->revoked_by);
		else
			kx_buf_puts(b, "null,\"revoked_by\":null}");
	}
	kx_buf_putc(b, ']');
	if (events) {
		kx_buf_puts(b, ",\"events\":[");
		for (i = 0; i < n; i++) {
			const struct ev	*e = &evs[i];

			kx_buf_printf(b, "%s{\"id\":%" PRIu64 ",", i ? "," :
			    "", e->id);
			if (e->kind == 'G')
				kx_buf_printf(b, "\"kind\":\"grant\",\"time_ms\":%"
				    PRId64 ",\"category\":\"%s\",\"purpose\":"
				    "\"%s\",\"recipient\":\"%s\"}", e->time_ms,
				    e->cat, e->pur, e->rcp);
			else if (e->kind == 'R')
				kx_buf_printf(b, "\"kind\":\"revoke\",\"time_ms\":%"
				    PRId64 ",\"grant\":%" PRIu64 "}",
				    e->time_ms, e->ref);
			else
				kx_buf_puts(b, "\"kind\":null}");
		}
		kx_buf_putc(b, ']');
	}
	kx_buf_putc(b, '}');
	free(evs);
	return b->oom ? KX_PV_ENOMEM : 0;
}

int
kx_privacy_verify(kx_privacy_t *pv, size_t *np, kx_buf_t *pb)
{
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_val		 k, v;
	struct ev	*evs = NULL;
	struct entry	 e;
	uint8_t		 prev[32], h[32];
	size_t		 n, i;
	uint64_t	 expect = 1, meta_seq, head_seq;
	int64_t		 last_t = INT64_MIN;
	bool		 has_meta, any = false;
	int		 rc, r;

	*np = 0;
	if (mdb_txn_begin(pv->env, NULL, MDB_RDONLY, &txn) != 0)
		return KX_PV_EDB;
	if (load_events(pv, txn, &evs, &n, pb, np) != 0)
		goto fail;
	k = kx_mdb_val("consent", 7);
	if (mdb_get(txn, pv->meta, &k, &v) == 0 && v.mv_size == 8 &&
	    (n == 0 || evs[n - 1].id < kx_be64_get(v.mv_data)))
		problem(pb, np, "consent", 0, "events after %" PRIu64 " are "
		    "missing (the register counts %" PRIu64 ")", n ?
		    evs[n - 1].id : 0, kx_be64_get(v.mv_data));
	memset(prev, 0, sizeof(prev));
	if (mdb_cursor_open(txn, pv->chain, &c) != 0)
		goto fail;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		r = read_entry(pv, &k, &v, &e);
		if (r == -1) {
			problem(pb, np, "chain", k.mv_size == 8 ?
			    kx_be64_get(k.mv_data) : 0, "malformed entry");
			continue;
		}
		any = true;
		if (e.seq != expect)
			problem(pb, np, "chain", e.seq, expect < e.seq ?
			    "entries before it are missing (deleted?)" :
			    "out of sequence");
		expect = e.seq + 1;
		if (sodium_memcmp(e.prev, prev, 32) != 0)
			problem(pb, np, "chain", e.seq, "broken link: its prev "
			    "is not the hash of the entry before it");
		memcpy(prev, e.hash, 32);
		if (e.time_ms < last_t)
			problem(pb, np, "chain", e.seq, "earlier than the "
			    "entry before it (reordered?)");
		last_t = e.time_ms;
		if (r == KX_PV_ECRYPT) {
			problem(pb, np, "chain", e.seq, "does not decrypt "
			    "(wrong data key, damaged or moved)");
			continue;
		}
		entry_hash(h, &e);
		if (sodium_memcmp(h, e.hash, 32) != 0)
			problem(pb, np, "chain", e.seq, "modified: the hash "
			    "does not match the contents");
		if (e.consent == 0) {
			if (!is_exempt(e.cat, e.pur, e.rcp))
				problem(pb, np, "chain", e.seq, "claims the "
				    "settlement exemption for %s for %s to "
				    "%s", e.cat, e.pur, e.rcp);
			continue;
		}
		for (i = 0; i < n; i++)
			if (evs[i].id == e.consent)
				break;
		if (i == n || !covers(&evs[i], e.cat, e.pur, e.rcp,
		    e.time_ms))
			problem(pb, np, "chain", e.seq, "no matching grant in "
			    "force at its time (consent %" PRIu64 ")",
			    e.consent);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		goto fail;
	if (chain_head(pv, txn, &head_seq, h, &has_meta, &meta_seq) != 0)
		goto fail;
	if (has_meta && (meta_seq != expect - 1 || !any))
		problem(pb, np, "chain", 0, "the chain ends at %" PRIu64 " but "
		    "its head is %" PRIu64 " (entries removed from the end?)",
		    expect - 1, meta_seq);
	else if (has_meta && sodium_memcmp(h, prev, 32) != 0)
		problem(pb, np, "chain", meta_seq, "the last entry's hash is "
		    "not the recorded head");
	else if (!has_meta && any)
		problem(pb, np, "chain", 0, "the recorded head is missing");
	free(evs);
	mdb_txn_abort(txn);
	return pb != NULL && pb->oom ? KX_PV_ENOMEM : 0;
fail:
	free(evs);
	mdb_txn_abort(txn);
	return KX_PV_EDB;
}

int
kx_privacy_disclosures_json(kx_privacy_t *pv, bool verify, kx_buf_t *b,
    size_t *np)
{
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_val		 k, v;
	struct entry	 e;
	kx_buf_t	 pb;
	uint64_t	 head_seq, meta_seq;
	uint8_t		 head[32];
	bool		 has_meta;
	size_t		 shown = 0;
	char		 ref[32];
	int		 rc, r;

	*np = 0;
	if (mdb_txn_begin(pv->env, NULL, MDB_RDONLY, &txn) != 0)
		return KX_PV_EDB;
	if (mdb_cursor_open(txn, pv->chain, &c) != 0) {
		mdb_txn_abort(txn);
		return KX_PV_EDB;
	}
	kx_buf_puts(b, "{\"format\":\"kaga-disclosures/1\",\"entries\":[");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((r = read_entry(pv, &k, &v, &e)) == -1)
			continue;
		kx_buf_printf(b, "%s{\"seq\":%" PRIu64 ",\"time_ms\":%" PRId64
		    ",\"category\":", shown++ ? "," : "", e.seq, e.time_ms);
		json_name(b, e.cat, e.readable);
		kx_buf_puts(b, ",\"purpose\":");
		json_name(b, e.pur, e.readable);
		kx_buf_puts(b, ",\"recipient\":");
		json_name(b, e.rcp, e.readable);
		consent_ref(ref, sizeof(ref), e.consent);
		kx_buf_printf(b, e.consent ? ",\"consent\":%s" :
		    ",\"consent\":\"%s\"", ref);
		kx_buf_puts(b, ",\"payload\":\"");
		kx_buf_hex(b, e.payload, 32);
		kx_buf_puts(b, "\",\"prev\":\"");
		kx_buf_hex(b, e.prev, 32);
		kx_buf_puts(b, "\",\"hash\":\"");
		kx_buf_hex(b, e.hash, 32);
		kx_buf_puts(b, "\"}");
	}
	mdb_cursor_close(c);
	r = chain_head(pv, txn, &head_seq, head, &has_meta, &meta_seq);
	mdb_txn_abort(txn);
	if ((rc != MDB_NOTFOUND) || r != 0)
		return KX_PV_EDB;
	kx_buf_puts(b, "],\"head\":");
	if (has_meta) {
		kx_buf_printf(b, "{\"seq\":%" PRIu64 ",\"hash\":\"", head_seq);
		kx_buf_hex(b, head, 32);
		kx_buf_puts(b, "\"}");
	} else
		kx_buf_puts(b, "null");
	if (verify) {
		kx_buf_init(&pb);
		if (kx_privacy_verify(pv, np, &pb) != 0) {
			kx_buf_free(&pb);
			return KX_PV_EDB;
		}
		kx_buf_printf(b, ",\"verified\":%s,\"problems\":[",
		    *np ? "false" : "true");
		if (pb.len > 0)
			kx_buf_append(b, pb.data, pb.len);
		kx_buf_putc(b, ']');
		kx_buf_free(&pb);
	}
	kx_buf_putc(b, '}');
	return b->oom ? KX_PV_ENOMEM : 0;
}

/* ---- control requests -------------------------------------------------- */

static bool
arg_is(zmq_msg_t *m, const char *s)
{
	return zmq_msg_size(m) == strlen(s) &&
	    memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* Copies a part as a C string; -1 when too long or with a NUL. */
static int
arg_str(zmq_msg_t *m, char *out, size_t cap)
{
	size_t	 n = zmq_msg_size(m);

	if (n >= cap || memchr(zmq_msg_data(m), 0, n) != NULL)
		return -1;
	memcpy(out, zmq_msg_data(m), n);
	out[n] = '\0';
	return 0;
}

static int64_t
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
kx_privacy_ctl(const char *data_dir, zmq_msg_t *args, int nargs,
    kx_buf_t *b, bool *ok)
{
	kx_privacy_t	*pv;
	char		 cat[KX_PV_NAME_MAX + 1], pur[KX_PV_NAME_MAX + 1];
	char		 rcp[KX_PV_NAME_MAX + 1], num[24], err[512], *end;
	uint64_t	 id, gid;
	size_t		 np;
	int64_t		 now = wall_ms();
	int		 rc = 0;

	if (nargs < 1 || !(arg_is(&args[0], "consent") ||
	    arg_is(&args[0], "disclosures") || arg_is(&args[0], "disclose")))
		return false;
	if ((pv = kx_privacy_open(data_dir, err, sizeof(err))) == NULL) {
		*ok = false;
		kx_buf_puts(b, err);
		return true;
	}
	*ok = true;
	if (arg_is(&args[0], "consent") && nargs == 2 &&
	    (arg_is(&args[1], "list") || arg_is(&args[1], "export")))
		rc = kx_privacy_consent_json(pv, arg_is(&args[1], "export"), b);
	else if (arg_is(&args[0], "consent") && nargs == 5 &&
	    arg_is(&args[1], "grant") &&
	    arg_str(&args[2], cat, sizeof(cat)) == 0 &&
	    arg_str(&args[3], pur, sizeof(pur)) == 0 &&
	    arg_str(&args[4], rcp, sizeof(rcp)) == 0) {
		if ((rc = kx_privacy_grant(pv, now, cat, pur, rcp, &id)) == 0)
			kx_buf_printf(b, "{\"id\":%" PRIu64 ",\"time_ms\":%"
			    PRId64 "}", id, now);
	} else if (arg_is(&args[0], "consent") && nargs == 3 &&
	    arg_is(&args[1], "revoke") &&
	    arg_str(&args[2], num, sizeof(num)) == 0) {
		errno = 0;
		gid = strtoull(num, &end, 10);
		if (num[0] < '0' || num[0] > '9' || *end != '\0' ||
		    errno != 0 || gid == 0)
			rc = KX_PV_ENOGRANT;
		else if ((rc = kx_privacy_revoke(pv, now, gid, &id)) == 0)
			kx_buf_printf(b, "{\"id\":%" PRIu64 ",\"grant\":%" PRIu64
			    ",\"time_ms\":%" PRId64 "}", id, gid, now);
	} else if (arg_is(&args[0], "disclosures") && (nargs == 1 ||
	    (nargs == 2 && arg_is(&args[1], "verify"))))
		rc = kx_privacy_disclosures_json(pv, nargs == 2, b, &np);
	else if (arg_is(&args[0], "disclose") && nargs == 5 &&
	    arg_str(&args[1], cat, sizeof(cat)) == 0 &&
	    arg_str(&args[2], pur, sizeof(pur)) == 0 &&
	    arg_str(&args[3], rcp, sizeof(rcp)) == 0) {
		if ((rc = kx_privacy_disclose(pv, now, cat, pur, rcp,
		    zmq_msg_data(&args[4]), zmq_msg_size(&args[4]), &id)) ==
		    0)
			kx_buf_printf(b, "{\"seq\":%" PRIu64 ",\"time_ms\":%"
			    PRId64 "}", id, now);
	} else {
		*ok = false;
		kx_buf_puts(b, "bad privacy request");
	}
	if (rc != 0) {
		*ok = false;
		kx_buf_reset(b);
		if (rc == KX_PV_EREFUSED)
			kx_buf_printf(b, "refused: no grant in force for %s "
			    "for %s to %s", cat, pur, rcp);
		else
			kx_buf_puts(b, kx_privacy_strerror(rc));
	}
	kx_privacy_close(&pv);
	return true;
}
