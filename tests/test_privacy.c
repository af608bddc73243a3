/*
 * test_privacy.c - the consent register and disclosure chain
 * (node/privacy.c) and encryption at rest (node/datakey.c) of the meter
 * service's values (node/meterd.c), on real LMDB files in /tmp.
 *
 * - grant -> disclose recorded; before the grant, after a revoke, or for
 *   another purpose or recipient -> refused and not recorded; the
 *   settlement exemption and its limits; the canonical entry hash.
 * - tampering found by verify: an entry changed through the LMDB API and
 *   raw in data.mdb, deleted (middle and end), reordered; forged entries
 *   with a valid chain but no grant in force, or a false exemption.
 * - the meter service's slot totals (123456789 Wh) and slot state are
 *   not in data.mdb, neither as text nor little-endian, while a
 *   plaintext control copy is found by the same search; a wrong data key
 *   makes them missing (no crash); the key file must be private.
 * - rotation: refused while the key is in use; afterwards everything
 *   reads with the new key and the old key opens nothing; an unfinished
 *   rotation still reads values under either key and resumes.
 * The meter service is built without its thread (meterd.c included) so
 * known totals can be written through its own persist().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../node/meterd.c"
#include "../node/privacy.c"
#include "testutil.h"

#define OP	"8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
#define CLINIC	"Kaga Clinic"
#define IMP	123456789LL
#define EXP	987654321LL
#define SLOT0	((int64_t)1700000000 / 1800 * 1800 * 1000)

/* ---- helpers ----------------------------------------------------------- */

static kx_privacy_t *
pv_open(const char *dir)
{
	char		 err[512];
	kx_privacy_t	*pv = kx_privacy_open(dir, err, sizeof(err));

	if (pv == NULL)
		fail_msg("kx_privacy_open: %s", err);
	return pv;
}

/* verify: the number of problems; their JSON in out. */
static size_t
verify(kx_privacy_t *pv, char *out, size_t len)
{
	kx_buf_t	 b;
	size_t		 n = 99;

	kx_buf_init(&b);
	assert_int_equal(kx_privacy_verify(pv, &n, &b), 0);
	assert_int_equal(kx_buf_cstr(&b), 0);
	snprintf(out, len, "%s", b.data ? (char *)b.data : "");
	kx_buf_free(&b);
	return n;
}

static size_t
count(const char *s, const char *pat)
{
	size_t	 n = 0;

	while ((s = strstr(s, pat)) != NULL) {
		n++;
		s += strlen(pat);
	}
	return n;
}

/* The disclosures JSON (without verify). */
static char *
disclosures(kx_privacy_t *pv)
{
	kx_buf_t	 b;
	size_t		 np;
	char		*s;

	kx_buf_init(&b);
	assert_int_equal(kx_privacy_disclosures_json(pv, false, &b, &np), 0);
	assert_int_equal(kx_buf_cstr(&b), 0);
	s = strdup((char *)b.data);
	kx_buf_free(&b);
	return s;
}

static char *
consent(kx_privacy_t *pv, bool events)
{
	kx_buf_t	 b;
	char		*s;

	kx_buf_init(&b);
	assert_int_equal(kx_privacy_consent_json(pv, events, &b), 0);
	assert_int_equal(kx_buf_cstr(&b), 0);
	s = strdup((char *)b.data);
	kx_buf_free(&b);
	return s;
}

static int
disclose(kx_privacy_t *pv, int64_t t, const char *cat, const char *pur,
    const char *rcp, const char *payload)
{
	return kx_privacy_disclose(pv, t, cat, pur, rcp, payload,
	    strlen(payload), NULL);
}

/* A grant (id 1) and three disclosures at 2000, 3000, 4000. */
static void
chain3(kx_privacy_t *pv)
{
	uint64_t	 id, seq;

	assert_int_equal(kx_privacy_grant(pv, 1000, "health", "research",
	    CLINIC, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(kx_privacy_disclose(pv, 2000, "health", "research",
	    CLINIC, "one", 3, &seq), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(disclose(pv, 3000, "health", "research", CLINIC,
	    "two"), 0);
	assert_int_equal(disclose(pv, 4000, "health", "research", CLINIC,
	    "three"), 0);
}

/* The privacy environment opened raw (the node closed). */
struct raw {
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 chain, meta, consent;
};

static void
raw_open(struct raw *r, const char *dir)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/privacy", dir);
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 4), 0);
	assert_int_equal(mdb_env_open(r->env, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "chain", 0, &r->chain), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "meta", 0, &r->meta), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "consent", 0, &r->consent), 0);
}

static void
raw_close(struct raw *r)
{
	assert_int_equal(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
}

/* A copy of chain entry seq (len in *n). */
static uint8_t *
raw_get(struct raw *r, uint64_t seq, size_t *n)
{
	uint8_t		 key[8];
	MDB_val		 k = { 8, key }, v;
	uint8_t		*p;

	kx_be64_put(key, seq);
	assert_int_equal(mdb_get(r->txn, r->chain, &k, &v), 0);
	assert_non_null(p = malloc(v.mv_size));
	memcpy(p, v.mv_data, v.mv_size);
	*n = v.mv_size;
	return p;
}

static void
raw_put(struct raw *r, uint64_t seq, const uint8_t *p, size_t n)
{
	uint8_t		 key[8];
	MDB_val		 k = { 8, key }, v = { n, (void *)(uintptr_t)p };

	kx_be64_put(key, seq);
	assert_int_equal(mdb_put(r->txn, r->chain, &k, &v, 0), 0);
}

static void
raw_del(struct raw *r, uint64_t seq)
{
	uint8_t		 key[8];
	MDB_val		 k = { 8, key };

	kx_be64_put(key, seq);
	assert_int_equal(mdb_del(r->txn, r->chain, &k, NULL), 0);
}

static uint8_t *
slurp(const char *path, size_t *n)
{
	FILE		*f;
	struct stat	 st;
	uint8_t		*p;

	assert_int_equal(stat(path, &st), 0);
	assert_non_null(p = malloc((size_t)st.st_size + 1));
	assert_non_null(f = fopen(path, "rb"));
	*n = fread(p, 1, (size_t)st.st_size, f);
	fclose(f);
	return p;
}

static void
spill(const char *path, const uint8_t *p, size_t n)
{
	FILE	*f;

	assert_non_null(f = fopen(path, "r+b"));
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static bool
file_has(const char *path, const void *pat, size_t plen)
{
	size_t	 n;
	uint8_t	*p = slurp(path, &n);
	bool	 found = memmem(p, n, pat, plen) != NULL;

	free(p);
	return found;
}

static void
le64(uint8_t *p, int64_t v)
{
	int	 i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)((uint64_t)v >> (8 * i));
}

/* Replaces dir/data.key with 32 other random bytes. */
static void
swap_key(const char *dir, uint8_t old[KX_DATAKEY_LEN])
{
	char	 path[512];
	uint8_t	 k[KX_DATAKEY_LEN];
	size_t	 n;
	uint8_t	*p;
	int	 fd;

	snprintf(path, sizeof(path), "%s/data.key", dir);
	p = slurp(path, &n);
	assert_int_equal(n, KX_DATAKEY_LEN);
	if (old != NULL)
		memcpy(old, p, KX_DATAKEY_LEN);
	free(p);
	randombytes_buf(k, sizeof(k));
	assert_true((fd = open(path, O_WRONLY | O_TRUNC)) >= 0);
	assert_int_equal(write(fd, k, sizeof(k)), (ssize_t)sizeof(k));
	close(fd);
}

/* ---- the meter service without its thread ------------------------------ */

static kx_meterd_t *
md_open(const char *dir)
{
	kx_conf_t	 c;
	kx_meterd_t	*md;
	char		 text[1024], err[512];

	snprintf(text, sizeof(text), "data-dir %s\nrole household\n"
	    "operator " OP "\nmeter grid grid sdm630 tcp://127.0.0.1:9\n",
	    dir);
	memset(&c, 0, sizeof(c));
	if (kx_conf_parse(&c, "t.conf", text, strlen(text), err,
	    sizeof(err)) != 0)
		fail_msg("config refused: %s", err);
	assert_non_null(md = calloc(1, sizeof(*md)));
	pthread_mutex_init(&md->mu, NULL);
	pthread_cond_init(&md->cv, NULL);
	assert_int_equal(kx_conf_copy(&md->conf, &c), 0);
	kx_conf_free(&c);
	if (open_env(md, err, sizeof(err)) != 0)
		fail_msg("open_env: %s", err);
	assert_non_null(md->poller = kx_poll_new(on_reading, on_slot, md));
	assert_true(kx_poll_add(md->poller, &md->conf.meters[0].dev,
	    kx_conf_profile(&md->conf, md->conf.meters[0].profile),
	    &md->conf.meters[0].poll) >= 0);
	restore(md, 0);
	return md;
}

/* The slot SLOT0 with IMP and EXP Wh. */
static void
total(kx_slot_total_t *t)
{
	memset(t, 0, sizeof(*t));
	t->start_ms = SLOT0;
	t->len_ms = 1800000;
	t->wh[KX_SLOT_IMPORT] = IMP;
	t->wh[KX_SLOT_EXPORT] = EXP;
	t->covered_ms = 1800000;
}

/* Writes total() and a state whose import baseline is IMP through the
 * service's own persist(). */
static void
md_write(kx_meterd_t *md)
{
	kx_slot_acc_t	 a;
	uint8_t		 st[KX_SLOT_STATE_LEN];
	int64_t		 wh[KX_SLOT_NCH] = { IMP, EXP, 0 };

	total(&md->pend[0].t);
	md->pend[0].dev = 0;
	md->npend = 1;
	assert_int_equal(kx_slot_init(&a, &md->conf.meters[0].poll.slot), 0);
	(void)kx_slot_add(&a, SLOT0 + 5000, KX_SLOT_CH(0) | KX_SLOT_CH(1), wh,
	    NULL, NULL);
	kx_slot_save(&a, st);
	assert_int_equal(kx_poll_restore(md->poller, 0, st, sizeof(st)), 0);
	persist(md, true);
	assert_int_equal(md->npend, 0);
}

struct hist {
	int	 n;
	int64_t	 imp, exp;
};

static void
hist_add(void *arg, const kx_slot_total_t *t)
{
	struct hist	*h = arg;

	h->n++;
	h->imp += t->wh[KX_SLOT_IMPORT];
	h->exp += t->wh[KX_SLOT_EXPORT];
}

/* ---- consent and disclosures ------------------------------------------- */

static void
test_grant_disclose(void **state)
{
	char		*dir = tmpdir_new(), *j, probs[4096];
	kx_privacy_t	*pv = pv_open(dir), *pv2;
	uint64_t	 id, seq;
	uint8_t		 ph[32];
	char		 hex[65];

	(void)state;
	/* one environment per folder: a second open shares it */
	pv2 = pv_open(dir);
	assert_ptr_equal(pv, pv2);
	kx_privacy_close(&pv2);
	assert_null(pv2);

	/* nothing granted yet: refused, nothing recorded */
	assert_int_equal(disclose(pv, 500, "health", "research", CLINIC, "x"),
	    KX_PV_EREFUSED);
	assert_int_equal(kx_privacy_grant(pv, 1000, "health", "research",
	    CLINIC, &id), 0);
	assert_int_equal(id, 1);
	/* before the grant's time: still refused */
	assert_int_equal(disclose(pv, 999, "health", "research", CLINIC, "x"),
	    KX_PV_EREFUSED);
	assert_int_equal(kx_privacy_disclose(pv, 2000, "health", "research",
	    CLINIC, "one", 3, &seq), 0);
	assert_int_equal(seq, 1);
	/* another purpose, recipient or category is not covered */
	assert_int_equal(disclose(pv, 2000, "health", "third-party", CLINIC,
	    "x"), KX_PV_EREFUSED);
	assert_int_equal(disclose(pv, 2000, "health", "research", "city",
	    "x"), KX_PV_EREFUSED);
	assert_int_equal(disclose(pv, 2000, "volunteer", "research", CLINIC,
	    "x"), KX_PV_EREFUSED);
	/* bad names are argument errors */
	assert_int_equal(disclose(pv, 2000, "diary", "research", CLINIC, "x"),
	    KX_PV_EARG);
	assert_int_equal(kx_privacy_grant(pv, 1000, "health", "marketing",
	    CLINIC, &id), KX_PV_EARG);
	assert_int_equal(kx_privacy_grant(pv, 1000, "health", "research",
	    "8A88E3DD7409F195FD52DB2D3CBA5D72CA6709BF1D94121BF3748801B40F6F5C",
	    &id), KX_PV_EARG);		/* keys in lowercase */
	assert_int_equal(kx_privacy_grant(pv, 1000, "health", "research",
	    "a\"b", &id), KX_PV_EARG);
	assert_int_equal(kx_privacy_grant(pv, 1000, "meter-detail",
	    "city-statistics", OP, &id), 0);
	assert_int_equal(id, 2);

	j = disclosures(pv);
	assert_int_equal(count(j, "\"time_ms\":"), 1);
	assert_non_null(strstr(j, "\"category\":\"health\",\"purpose\":"
	    "\"research\",\"recipient\":\"" CLINIC "\",\"consent\":1,"));
	crypto_generichash(ph, 32, (const uint8_t *)"one", 3, NULL, 0);
	kx_hex(hex, ph, 32);
	assert_non_null(strstr(j, hex));
	assert_non_null(strstr(j, "\"head\":{\"seq\":1,"));
	free(j);

	/* the entry hash is the documented canonical encoding */
	{
		crypto_generichash_state st;
		uint8_t		 h[32], b[8], zero[32] = { 0 };
		const char	*parts[] = { "health", "research", CLINIC,
		    "1" };
		size_t		 i;

		crypto_generichash_init(&st, NULL, 0, 32);
		crypto_generichash_update(&st,
		    (const uint8_t *)"kaga-disclosure/1", 17);
		kx_be64_put(b, 1);
		crypto_generichash_update(&st, b, 8);
		kx_be64_put(b, 2000);
		crypto_generichash_update(&st, b, 8);
		for (i = 0; i < 4; i++) {
			uint8_t	 l = (uint8_t)strlen(parts[i]);

			crypto_generichash_update(&st, &l, 1);
			crypto_generichash_update(&st,
			    (const uint8_t *)parts[i], l);
		}
		crypto_generichash_update(&st, ph, 32);
		crypto_generichash_update(&st, zero, 32);
		crypto_generichash_final(&st, h, 32);
		kx_hex(hex, h, 32);
		j = disclosures(pv);
		assert_non_null(strstr(j, hex));
		free(j);
	}
	j = consent(pv, false);
	assert_non_null(strstr(j, "{\"id\":1,\"category\":\"health\","
	    "\"purpose\":\"research\",\"recipient\":\"" CLINIC "\","
	    "\"granted_ms\":1000,\"revoked_ms\":null"));
	assert_non_null(strstr(j, "\"recipient\":\"" OP "\""));
	free(j);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 0);
	kx_privacy_close(&pv);
	rm_rf(dir);
	free(dir);
}

static void
test_revoke(void **state)
{
	char		*dir = tmpdir_new(), *j, probs[4096];
	kx_privacy_t	*pv = pv_open(dir);
	uint64_t	 id, rid, seq;

	(void)state;
	assert_int_equal(kx_privacy_grant(pv, 1000, "health", "research",
	    CLINIC, &id), 0);
	assert_int_equal(disclose(pv, 2000, "health", "research", CLINIC,
	    "one"), 0);
	assert_int_equal(kx_privacy_revoke(pv, 3000, id, &rid), 0);
	assert_int_equal(rid, 2);
	/* revoked: refused and not recorded */
	assert_int_equal(disclose(pv, 3000, "health", "research", CLINIC,
	    "two"), KX_PV_EREFUSED);
	assert_int_equal(disclose(pv, 4000, "health", "research", CLINIC,
	    "two"), KX_PV_EREFUSED);
	j = disclosures(pv);
	assert_int_equal(count(j, "\"time_ms\":"), 1);
	assert_non_null(strstr(j, "\"head\":{\"seq\":1,"));
	free(j);
	/* a second revoke, a revoke of nothing */
	assert_int_equal(kx_privacy_revoke(pv, 3500, id, NULL),
	    KX_PV_EREVOKED);
	assert_int_equal(kx_privacy_revoke(pv, 3500, 77, NULL),
	    KX_PV_ENOGRANT);
	assert_int_equal(kx_privacy_revoke(pv, 3500, rid, NULL),
	    KX_PV_ENOGRANT);		/* a revoke is no grant */
	/* history stays: the grant shows revoked, both events remain */
	j = consent(pv, true);
	assert_non_null(strstr(j, "\"granted_ms\":1000,\"revoked_ms\":3000,"
	    "\"revoked_by\":2}"));
	assert_non_null(strstr(j, "{\"id\":2,\"kind\":\"revoke\",\"time_ms\":"
	    "3000,\"grant\":1}"));
	free(j);
	/* granted again: allowed again, under the new grant */
	assert_int_equal(kx_privacy_grant(pv, 5000, "health", "research",
	    CLINIC, &id), 0);
	assert_int_equal(id, 3);
	assert_int_equal(kx_privacy_disclose(pv, 6000, "health", "research",
	    CLINIC, "three", 5, &seq), 0);
	assert_int_equal(seq, 2);
	j = disclosures(pv);
	assert_non_null(strstr(j, "\"consent\":3,"));
	free(j);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 0);
	kx_privacy_close(&pv);
	rm_rf(dir);
	free(dir);
}

static void
test_settlement_exempt(void **state)
{
	char		*dir = tmpdir_new(), *j, probs[4096];
	kx_privacy_t	*pv = pv_open(dir);
	uint64_t	 seq;

	(void)state;
	/* no grant at all: slot totals to the operator for settlement */
	assert_int_equal(kx_privacy_disclose(pv, 1000, "slot-totals",
	    "settlement", "operator", "box", 3, &seq), 0);
	assert_int_equal(seq, 1);
	/* ... but nothing else */
	assert_int_equal(disclose(pv, 1000, "slot-totals", "settlement",
	    "city", "x"), KX_PV_EREFUSED);
	assert_int_equal(disclose(pv, 1000, "slot-totals", "city-statistics",
	    "operator", "x"), KX_PV_EREFUSED);
	assert_int_equal(disclose(pv, 1000, "meter-detail", "settlement",
	    "operator", "x"), KX_PV_EREFUSED);
	assert_int_equal(disclose(pv, 1000, "slot-totals", "settlement", OP,
	    "x"), KX_PV_EREFUSED);
	j = disclosures(pv);
	assert_int_equal(count(j, "\"time_ms\":"), 1);
	assert_non_null(strstr(j, "\"recipient\":\"operator\",\"consent\":"
	    "\"settlement-exempt\","));
	free(j);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 0);
	kx_privacy_close(&pv);
	rm_rf(dir);
	free(dir);
}

/* ---- tampering --------------------------------------------------------- */

static void
test_tamper_api(void **state)
{
	char		*dir = tmpdir_new(), probs[4096];
	kx_privacy_t	*pv = pv_open(dir);
	struct raw	 r;
	uint8_t		*p;
	size_t		 n;

	(void)state;
	chain3(pv);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 0);
	kx_privacy_close(&pv);

	/* entry 2's time, a readable field, one ms later */
	raw_open(&r, dir);
	p = raw_get(&r, 2, &n);
	p[7] ^= 1;
	raw_put(&r, 2, p, n);
	free(p);
	raw_close(&r);
	pv = pv_open(dir);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 1);
	assert_non_null(strstr(probs, "\"seq\":2,\"problem\":\"modified"));
	kx_privacy_close(&pv);

	/* put it back, then change one byte of its sealed names */
	raw_open(&r, dir);
	p = raw_get(&r, 2, &n);
	p[7] ^= 1;
	p[n - 20] ^= 0x40;
	raw_put(&r, 2, p, n);
	free(p);
	raw_close(&r);
	pv = pv_open(dir);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 1);
	assert_non_null(strstr(probs, "\"seq\":2,\"problem\":\"does not "
	    "decrypt"));
	kx_privacy_close(&pv);
	rm_rf(dir);
	free(dir);
}

static void
test_tamper_raw_file(void **state)
{
	char		*dir = tmpdir_new(), probs[4096], path[512];
	kx_privacy_t	*pv = pv_open(dir);
	uint8_t		 ph[32], *p, *q;
	size_t		 n, hits = 0;

	(void)state;
	chain3(pv);
	kx_privacy_close(&pv);
	/* entry 2's payload hash, found in the file's bytes and changed */
	crypto_generichash(ph, 32, (const uint8_t *)"two", 3, NULL, 0);
	snprintf(path, sizeof(path), "%s/privacy/data.mdb", dir);
	p = slurp(path, &n);
	for (q = p; (q = memmem(q, n - (size_t)(q - p), ph, 32)) != NULL;
	    q += 32) {
		q[5] ^= 0x01;
		hits++;
	}
	assert_true(hits >= 1);
	spill(path, p, n);
	free(p);
	pv = pv_open(dir);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 1);
	assert_non_null(strstr(probs, "\"seq\":2,\"problem\":\"modified"));
	kx_privacy_close(&pv);
	rm_rf(dir);
	free(dir);
}

static void
test_tamper_delete(void **state)
{
	char		*dir = tmpdir_new(), probs[4096];
	kx_privacy_t	*pv = pv_open(dir);
	struct raw	 r;

	(void)state;
	chain3(pv);
	assert_int_equal(disclose(pv, 5000, "health", "research", CLINIC,
	    "four"), 0);
	kx_privacy_close(&pv);
	/* from the middle */
	raw_open(&r, dir);
	raw_del(&r, 2);
	raw_close(&r);
	pv = pv_open(dir);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 2);
	assert_non_null(strstr(probs, "\"seq\":3,\"problem\":\"entries before "
	    "it are missing"));
	assert_non_null(strstr(probs, "\"seq\":3,\"problem\":\"broken link"));
	kx_privacy_close(&pv);
	/* from the end: only the recorded head tells */
	raw_open(&r, dir);
	raw_del(&r, 4);
	raw_close(&r);
	pv = pv_open(dir);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 3);
	assert_non_null(strstr(probs, "the chain ends at 3 but its head is 4"));
	/* a later disclosure continues after the head: the gap stays */
	assert_int_equal(disclose(pv, 6000, "health", "research", CLINIC,
	    "five"), 0);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 4);
	assert_non_null(strstr(probs, "\"seq\":5,\"problem\":\"entries before "
	    "it are missing"));
	assert_non_null(strstr(probs, "\"seq\":5,\"problem\":\"broken link"));
	kx_privacy_close(&pv);
	rm_rf(dir);
	free(dir);
}

static void
test_tamper_reorder(void **state)
{
	char		*dir = tmpdir_new(), probs[4096];
	kx_privacy_t	*pv = pv_open(dir);
	struct raw	 r;
	uint8_t		*a, *b;
	size_t		 na, nb;

	(void)state;
	chain3(pv);
	kx_privacy_close(&pv);
	raw_open(&r, dir);
	a = raw_get(&r, 2, &na);
	b = raw_get(&r, 3, &nb);
	raw_put(&r, 2, b, nb);
	raw_put(&r, 3, a, na);
	free(a);
	free(b);
	raw_close(&r);
	pv = pv_open(dir);
	assert_true(verify(pv, probs, sizeof(probs)) >= 3);
	assert_non_null(strstr(probs, "\"seq\":2,\"problem\":\"broken link"));
	assert_non_null(strstr(probs, "\"seq\":3,\"problem\":\"earlier than"));
	assert_non_null(strstr(probs, "\"seq\":2,\"problem\":\"does not "
	    "decrypt"));
	kx_privacy_close(&pv);
	rm_rf(dir);
	free(dir);
}

/* Appends an entry the way disclose does, without asking the register. */
static void
forge(kx_privacy_t *pv, int64_t t, const char *cat, uint64_t consent_id)
{
	MDB_txn		*txn;
	uint64_t	 seq;

	assert_int_equal(mdb_txn_begin(pv->env, NULL, 0, &txn), 0);
	assert_int_equal(append(pv, txn, t, cat, "research", CLINIC,
	    consent_id, "forged", 6, &seq), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static void
test_forged(void **state)
{
	char		*dir = tmpdir_new(), probs[4096];
	kx_privacy_t	*pv = pv_open(dir);
	uint64_t	 id;

	(void)state;
	assert_int_equal(kx_privacy_grant(pv, 1000, "health", "research",
	    CLINIC, &id), 0);
	assert_int_equal(disclose(pv, 2000, "health", "research", CLINIC,
	    "one"), 0);
	assert_int_equal(kx_privacy_revoke(pv, 3000, id, NULL), 0);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 0);
	/* valid links and hashes, but no grant in force at their time */
	forge(pv, 4000, "health", id);		/* after the revoke */
	forge(pv, 4100, "volunteer", id);	/* not what was granted */
	forge(pv, 4200, "health", 9);		/* no such grant */
	forge(pv, 4300, "health", 0);		/* a false exemption */
	assert_int_equal(verify(pv, probs, sizeof(probs)), 4);
	assert_non_null(strstr(probs, "\"seq\":2,\"problem\":\"no matching "
	    "grant in force at its time (consent 1)"));
	assert_non_null(strstr(probs, "\"seq\":3,\"problem\":\"no matching "
	    "grant"));
	assert_non_null(strstr(probs, "\"seq\":4,\"problem\":\"no matching "
	    "grant in force at its time (consent 9)"));
	assert_non_null(strstr(probs, "\"seq\":5,\"problem\":\"claims the "
	    "settlement exemption"));
	assert_null(strstr(probs, "link"));
	assert_null(strstr(probs, "modified"));
	kx_privacy_close(&pv);
	rm_rf(dir);
	free(dir);
}

/* ---- encryption at rest ------------------------------------------------ */

static void
test_meters_sealed(void **state)
{
	char		*dir = tmpdir_new(), path[512], cpath[512];
	kx_meterd_t	*md = md_open(dir);
	kx_slot_total_t	 sum;
	struct hist	 h;
	size_t		 nm, nf;
	uint8_t		 le[8], rec[SLOT_REC_LEN];
	kx_privacy_t	*pv;
	uint64_t	 id;

	(void)state;
	md_write(md);
	assert_int_equal(kx_meterd_slot(md, SLOT0, KX_USE_GRID, &sum, &nm,
	    &nf), 0);
	assert_int_equal(nm, 1);
	assert_int_equal(nf, 1);
	assert_int_equal(sum.wh[KX_SLOT_IMPORT], IMP);
	assert_int_equal(sum.wh[KX_SLOT_EXPORT], EXP);
	memset(&h, 0, sizeof(h));
	assert_int_equal(kx_meterd_history(md, "grid", 0, INT64_MAX, hist_add,
	    &h), 0);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.imp, IMP);
	kx_meterd_destroy(&md);

	/* the totals and the state are nowhere in the file */
	snprintf(path, sizeof(path), "%s/meters/data.mdb", dir);
	assert_false(file_has(path, "123456789", 9));
	assert_false(file_has(path, "987654321", 9));
	le64(le, IMP);
	assert_false(file_has(path, le, 8));
	assert_false(file_has(path, le, 4));
	le64(le, EXP);
	assert_false(file_has(path, le, 8));
	assert_false(file_has(path, "KXS1", 4));	/* the state's magic */

	/* the same search finds a plaintext record (the control) */
	{
		MDB_env	*e;
		MDB_txn	*txn;
		MDB_dbi	 dbi;
		MDB_val	 k = { 4, (void *)(uintptr_t)"grid" }, v;

		snprintf(cpath, sizeof(cpath), "%s/control", dir);
		assert_int_equal(mkdir(cpath, 0700), 0);
		kx_slot_total_t	 t;

		total(&t);
		slot_rec(rec, &t);
		v.mv_size = sizeof(rec);
		v.mv_data = rec;
		assert_int_equal(mdb_env_create(&e), 0);
		assert_int_equal(mdb_env_open(e, cpath, 0, 0600), 0);
		assert_int_equal(mdb_txn_begin(e, NULL, 0, &txn), 0);
		assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
		assert_int_equal(mdb_txn_commit(txn), 0);
		mdb_env_close(e);
		snprintf(cpath, sizeof(cpath), "%s/control/data.mdb", dir);
		le64(le, IMP);
		assert_true(file_has(cpath, le, 8));
	}

	/* reopened: the slot and the state come back */
	md = md_open(dir);
	assert_int_equal(kx_poll_slots(md->poller, 0)->ch[0].have, 1);
	assert_int_equal(kx_poll_slots(md->poller, 0)->ch[0].val, IMP);
	assert_int_equal(kx_meterd_slot(md, SLOT0, KX_USE_GRID, &sum, &nm,
	    &nf), 0);
	assert_int_equal(nf, 1);
	assert_int_equal(sum.wh[KX_SLOT_IMPORT], IMP);
	kx_meterd_destroy(&md);

	/* consent names are not in the privacy file either */
	pv = pv_open(dir);
	assert_int_equal(kx_privacy_grant(pv, 1000, "health", "research",
	    CLINIC, &id), 0);
	assert_int_equal(disclose(pv, 2000, "health", "research", CLINIC,
	    "x"), 0);
	kx_privacy_close(&pv);
	snprintf(path, sizeof(path), "%s/privacy/data.mdb", dir);
	assert_false(file_has(path, CLINIC, strlen(CLINIC)));
	assert_false(file_has(path, "research", 8));
	assert_false(file_has(path, "health", 6));

	/* sealed text: round trip, bound to its place */
	{
		kx_datakey_t	*dk;
		char		 s[256], p[64], err[256];

		assert_non_null(dk = kx_datakey_open(dir, err, sizeof(err)));
		assert_int_equal(kx_seal_text(dk, "ledger/done", "k1", 2,
		    "123456789 0", s, sizeof(s)), 0);
		assert_null(strstr(s, "123456789"));
		assert_int_equal(strncmp(s, KX_SEAL_TEXT_PREFIX, 5), 0);
		assert_int_equal(kx_open_text(dk, "ledger/done", "k1", 2, s, p,
		    sizeof(p)), 0);
		assert_string_equal(p, "123456789 0");
		assert_int_equal(kx_open_text(dk, "ledger/done", "k2", 2, s, p,
		    sizeof(p)), KX_DK_EAUTH);	/* moved to another key */
		assert_int_equal(kx_open_text(dk, "ledger/xfers", "k1", 2, s,
		    p, sizeof(p)), KX_DK_EAUTH);
		assert_int_equal(kx_open_text(dk, "ledger/done", "k1", 2,
		    "no fill", p, sizeof(p)), KX_DK_EFORMAT);
		kx_datakey_free(&dk);
		assert_null(dk);
	}
	rm_rf(dir);
	free(dir);
}

static void
test_wrong_key(void **state)
{
	char		*dir = tmpdir_new(), *j, probs[4096], path[512];
	char		 err[512];
	kx_meterd_t	*md = md_open(dir);
	kx_privacy_t	*pv;
	kx_slot_total_t	 sum;
	struct hist	 h;
	size_t		 nm, nf;

	(void)state;
	md_write(md);
	kx_meterd_destroy(&md);
	pv = pv_open(dir);
	chain3(pv);
	kx_privacy_close(&pv);

	swap_key(dir, NULL);
	/* the meter values are missing, not an error and not a crash */
	md = md_open(dir);
	assert_int_equal(kx_poll_slots(md->poller, 0)->ch[0].have, 0);
	assert_int_equal(kx_meterd_slot(md, SLOT0, KX_USE_GRID, &sum, &nm,
	    &nf), 0);
	assert_int_equal(nm, 1);
	assert_int_equal(nf, 0);
	memset(&h, 0, sizeof(h));
	assert_int_equal(kx_meterd_history(md, "grid", 0, INT64_MAX, hist_add,
	    &h), 0);
	assert_int_equal(h.n, 0);
	kx_meterd_destroy(&md);

	/* the register reads as empty: disclosures are refused */
	pv = pv_open(dir);
	j = consent(pv, false);
	assert_non_null(strstr(j, "\"grants\":[]"));
	free(j);
	assert_int_equal(disclose(pv, 9000, "health", "research", CLINIC,
	    "x"), KX_PV_EREFUSED);
	j = disclosures(pv);
	assert_non_null(strstr(j, "\"category\":null"));
	free(j);
	assert_true(verify(pv, probs, sizeof(probs)) >= 4);
	assert_non_null(strstr(probs, "\"in\":\"consent\",\"id\":1,"
	    "\"problem\":\"does not decrypt"));
	assert_non_null(strstr(probs, "\"seq\":3,\"problem\":\"does not "
	    "decrypt"));
	kx_privacy_close(&pv);

	/* the key file must be private and whole */
	snprintf(path, sizeof(path), "%s/data.key", dir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_null(kx_privacy_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "readable by others"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(truncate(path, 31), 0);
	assert_null(kx_datakey_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "not a data key"));
	rm_rf(dir);
	free(dir);
}

/* A reading's sealed text in DATA_DIR/ledger "done", as mktd keeps it. */
static void
ledger_put(const char *dir, const kx_datakey_t *dk, const char *text)
{
	char	 path[512], sealed[256];
	uint8_t	 key[9], val[8 + 256];
	MDB_env	*e;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k = { 9, key }, v;

	snprintf(path, sizeof(path), "%s/ledger", dir);
	(void)mkdir(path, 0700);
	kx_be64_put(key, 1800);
	key[8] = 'R';
	kx_be64_put(val, 12345);
	assert_int_equal(kx_seal_text(dk, "ledger/done", key, 9, text, sealed,
	    sizeof(sealed)), 0);
	memcpy(val + 8, sealed, strlen(sealed));
	v.mv_size = 8 + strlen(sealed);
	v.mv_data = val;
	assert_int_equal(mdb_env_create(&e), 0);
	assert_int_equal(mdb_env_set_maxdbs(e, 4), 0);
	assert_int_equal(mdb_env_open(e, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(e, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "done", MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	/* a plaintext record beside it stays as it is */
	key[8] = 'C';
	memcpy(val + 8, "published", 9);
	v.mv_size = 17;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(e);
}

/* The reading text back, opened with dk; 0 or the error. */
static int
ledger_get(const char *dir, const kx_datakey_t *dk, char *out, size_t len,
    char *plain_c, size_t clen)
{
	char	 path[512], text[300];
	uint8_t	 key[9];
	MDB_env	*e;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k = { 9, key }, v;
	int	 rc;

	snprintf(path, sizeof(path), "%s/ledger", dir);
	kx_be64_put(key, 1800);
	key[8] = 'R';
	assert_int_equal(mdb_env_create(&e), 0);
	assert_int_equal(mdb_env_set_maxdbs(e, 4), 0);
	assert_int_equal(mdb_env_open(e, path, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(e, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "done", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_true(v.mv_size - 8 < sizeof(text));
	memcpy(text, (uint8_t *)v.mv_data + 8, v.mv_size - 8);
	text[v.mv_size - 8] = '\0';
	rc = kx_open_text(dk, "ledger/done", key, 9, text, out, len);
	key[8] = 'C';
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	snprintf(plain_c, clen, "%.*s", (int)v.mv_size - 8,
	    (char *)v.mv_data + 8);
	mdb_txn_abort(txn);
	mdb_env_close(e);
	return rc;
}

static void
test_rekey(void **state)
{
	char		*dir = tmpdir_new(), probs[4096], path[512], err[512];
	char		 npath[512], text[64], pc[64], *j;
	kx_meterd_t	*md = md_open(dir);
	kx_privacy_t	*pv;
	kx_datakey_t	*dk, *old;
	kx_rekey_stats_t st;
	kx_slot_total_t	 sum;
	uint8_t		 oldk[KX_DATAKEY_LEN], newk[KX_DATAKEY_LEN], *p;
	size_t		 nm, nf, n;

	(void)state;
	md_write(md);
	kx_meterd_destroy(&md);
	pv = pv_open(dir);
	chain3(pv);
	kx_privacy_close(&pv);
	assert_non_null(dk = kx_datakey_open(dir, err, sizeof(err)));
	ledger_put(dir, dk, "123456789 987654321");

	/* not while the key is in use (a node holds it) */
	assert_int_equal(kx_datakey_rekey(dir, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	kx_datakey_free(&dk);

	snprintf(path, sizeof(path), "%s/data.key", dir);
	snprintf(npath, sizeof(npath), "%s/data.key.new", dir);
	p = slurp(path, &n);
	memcpy(oldk, p, sizeof(oldk));
	free(p);
	assert_int_equal(kx_datakey_rekey(dir, &st, err, sizeof(err)), 0);
	/* slot + state, 4 consent and chain records, the ledger's text */
	assert_int_equal(st.resealed, 2 + 4 + 1);
	assert_int_equal(st.already, 0);
	assert_int_equal(st.unreadable, 0);
	assert_int_not_equal(st.old_id, st.new_id);
	assert_int_equal(access(npath, F_OK), -1);
	p = slurp(path, &n);
	assert_int_equal(n, KX_DATAKEY_LEN);
	assert_memory_not_equal(p, oldk, KX_DATAKEY_LEN);
	memcpy(newk, p, sizeof(newk));
	free(p);
	{
		struct stat	 sb;

		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}

	/* everything reads under the new key */
	md = md_open(dir);
	assert_int_equal(kx_poll_slots(md->poller, 0)->ch[0].val, IMP);
	assert_int_equal(kx_meterd_slot(md, SLOT0, KX_USE_GRID, &sum, &nm,
	    &nf), 0);
	assert_int_equal(nf, 1);
	assert_int_equal(sum.wh[KX_SLOT_EXPORT], EXP);
	kx_meterd_destroy(&md);
	pv = pv_open(dir);
	assert_int_equal(verify(pv, probs, sizeof(probs)), 0);
	j = consent(pv, false);
	assert_non_null(strstr(j, "\"recipient\":\"" CLINIC "\""));
	free(j);
	kx_privacy_close(&pv);
	assert_non_null(dk = kx_datakey_open(dir, err, sizeof(err)));
	assert_int_equal(ledger_get(dir, dk, text, sizeof(text), pc,
	    sizeof(pc)), 0);
	assert_string_equal(text, "123456789 987654321");
	assert_string_equal(pc, "published");
	kx_datakey_free(&dk);

	/* the old key opens nothing any more */
	assert_non_null(old = kx_datakey_from_bytes(oldk));
	assert_int_not_equal(ledger_get(dir, old, text, sizeof(text), pc,
	    sizeof(pc)), 0);
	{
		MDB_env	*e;
		MDB_txn	*txn;
		MDB_dbi	 dbi;
		MDB_cursor *c;
		MDB_val	 k, v;
		uint8_t	 buf[512];
		size_t	 pl;
		int	 rc, seen = 0;

		snprintf(path, sizeof(path), "%s/meters", dir);
		assert_int_equal(mdb_env_create(&e), 0);
		assert_int_equal(mdb_env_set_maxdbs(e, 4), 0);
		assert_int_equal(mdb_env_open(e, path, MDB_RDONLY, 0600), 0);
		assert_int_equal(mdb_txn_begin(e, NULL, MDB_RDONLY, &txn), 0);
		assert_int_equal(mdb_dbi_open(txn, "slots", 0, &dbi), 0);
		assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), seen++)
			assert_int_equal(kx_open_value(old, "meters/slots",
			    k.mv_data, k.mv_size, v.mv_data, v.mv_size, buf,
			    sizeof(buf), &pl), KX_DK_EKEY);
		assert_int_equal(seen, 1);
		mdb_cursor_close(c);
		mdb_txn_abort(txn);
		mdb_env_close(e);
	}
	kx_datakey_free(&old);

	/*
	 * An unfinished rotation: data.key.new exists and some values are
	 * under it. The node reads both; rekey resumes with that key.
	 */
	{
		uint8_t	 k3[KX_DATAKEY_LEN];
		int	 fd;

		randombytes_buf(k3, sizeof(k3));
		assert_true((fd = open(npath, O_WRONLY | O_CREAT | O_EXCL,
		    0600)) >= 0);
		assert_int_equal(write(fd, k3, sizeof(k3)),
		    (ssize_t)sizeof(k3));
		close(fd);
		assert_non_null(old = kx_datakey_from_bytes(k3));
		ledger_put(dir, old, "5 6");	/* already under the new */
		kx_datakey_free(&old);
		assert_non_null(dk = kx_datakey_open(dir, err, sizeof(err)));
		assert_int_equal(ledger_get(dir, dk, text, sizeof(text), pc,
		    sizeof(pc)), 0);
		assert_string_equal(text, "5 6");
		kx_datakey_free(&dk);
		md = md_open(dir);		/* under data.key */
		assert_int_equal(kx_poll_slots(md->poller, 0)->ch[0].val,
		    IMP);
		kx_meterd_destroy(&md);
		assert_int_equal(kx_datakey_rekey(dir, &st, err, sizeof(err)),
		    0);
		assert_int_equal(st.already, 1);
		assert_int_equal(st.resealed, 2 + 4 + 0);
		snprintf(path, sizeof(path), "%s/data.key", dir);
		p = slurp(path, &n);
		assert_memory_equal(p, k3, KX_DATAKEY_LEN);
		free(p);
		md = md_open(dir);
		assert_int_equal(kx_poll_slots(md->poller, 0)->ch[0].val,
		    IMP);
		kx_meterd_destroy(&md);
		pv = pv_open(dir);
		assert_int_equal(verify(pv, probs, sizeof(probs)), 0);
		kx_privacy_close(&pv);
	}
	(void)newk;
	rm_rf(dir);
	free(dir);
}

static void
test_seal_value(void **state)
{
	uint8_t		 key[KX_DATAKEY_LEN], s[128], s2[128], p[64];
	size_t		 n, n2, pl;
	kx_datakey_t	*dk;

	(void)state;
	randombytes_buf(key, sizeof(key));
	assert_non_null(dk = kx_datakey_from_bytes(key));
	assert_int_equal(kx_seal_value(dk, "meters/slots", "k", 1, "secret", 6,
	    s, sizeof(s), &n), 0);
	assert_int_equal(n, 6 + KX_SEAL_OVERHEAD);
	assert_int_equal(s[0], KX_SEAL_MAGIC);
	assert_int_equal(s[1], kx_datakey_id(dk));
	/* a fresh nonce every time */
	assert_int_equal(kx_seal_value(dk, "meters/slots", "k", 1, "secret", 6,
	    s2, sizeof(s2), &n2), 0);
	assert_memory_not_equal(s, s2, n);
	assert_int_equal(kx_open_value(dk, "meters/slots", "k", 1, s, n, p,
	    sizeof(p), &pl), 0);
	assert_int_equal(pl, 6);
	assert_memory_equal(p, "secret", 6);
	assert_int_equal(kx_open_value(dk, "meters/state", "k", 1, s, n, p,
	    sizeof(p), &pl), KX_DK_EAUTH);
	assert_int_equal(kx_open_value(dk, "meters/slots", "k", 1, s, n - 1, p,
	    sizeof(p), &pl), KX_DK_EAUTH);
	assert_int_equal(kx_open_value(dk, "meters/slots", "k", 1, s, 10, p,
	    sizeof(p), &pl), KX_DK_EFORMAT);
	assert_int_equal(kx_open_value(dk, "meters/slots", "k", 1, s, n, p, 5,
	    &pl), KX_DK_ESPACE);
	assert_int_equal(kx_seal_value(dk, "meters/slots", "k", 1, "secret", 6,
	    s, 6 + KX_SEAL_OVERHEAD - 1, &n), KX_DK_ESPACE);
	s2[0] = 0;
	assert_int_equal(kx_open_value(dk, "meters/slots", "k", 1, s2, n2, p,
	    sizeof(p), &pl), KX_DK_EFORMAT);
	s2[0] = KX_SEAL_MAGIC;
	s2[1] ^= 0xff;
	assert_int_equal(kx_open_value(dk, "meters/slots", "k", 1, s2, n2, p,
	    sizeof(p), &pl), KX_DK_EKEY);
	kx_datakey_free(&dk);
	kx_datakey_free(&dk);		/* harmless */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grant_disclose),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_settlement_exempt),
		cmocka_unit_test(test_tamper_api),
		cmocka_unit_test(test_tamper_raw_file),
		cmocka_unit_test(test_tamper_delete),
		cmocka_unit_test(test_tamper_reorder),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_meters_sealed),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_rekey),
		cmocka_unit_test(test_seal_value),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
