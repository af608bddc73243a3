/*
 * meterd.c - the node's meter service, see meterd.h.
 *
 * One thread runs the poller (meters/poll.h) on its own monotonic clock.
 * Completed slots are queued by the slot callback and written after the
 * pass with the meter's accumulator state in one LMDB transaction; a
 * snapshot of counters and latest readings is copied under the mutex after
 * every pass for kaga-ctl status. The LMDB environment (MDB_NOTLS) is
 * shared with the main thread, which only reads.
 *
 * Keys: "state" db: meter name -> KX_SLOT_STATE_LEN bytes (slot.h);
 * "slots" db: 8-byte big-endian start_ms, then the meter name ->
 * 6 little-endian int64: len_ms, import, export, pv Wh, covered_ms, flags.
 * Both kinds of value are stored sealed with the data key (datakey.h,
 * docs/privacy.md); one that does not open counts as missing.
 */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bytes.h"
#include "datakey.h"
#include "log.h"
#include "meterd.h"
#include "poll.h"

#define SLOT_REC_LEN	48
#define PENDING_MAX	256	/* slots queued in one pass */
#define WAIT_MAX_MS	1000	/* longest sleep between stop checks */

struct snap {
	kx_poll_stats_t	 st;
	kx_reading_t	 last;		/* flags 0 until the first reading */
	kx_slot_total_t	 open;		/* the open slot */
	bool		 have_open;
};

struct pending {
	size_t		 dev;
	kx_slot_total_t	 t;
};

struct kx_meterd {
	kx_conf_t	 conf;		/* a copy: profiles must outlive us */
	kx_poller_t	*poller;
	MDB_env		*env;
	MDB_dbi		 state, slots;
	kx_datakey_t	*dk;		/* seals the values (datakey.h) */
	pthread_t	 thread;
	bool		 running;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	bool		 stop;
	int		 slot_s, want_slot_s;	/* under mu */
	struct snap	*snap;		/* nmeters, under mu */
	kx_reading_t	*latest;	/* thread only */
	struct pending	 pend[PENDING_MAX];
	size_t		 npend;
	uint64_t	 dropped_slots;
	int64_t		 next_save;
};

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "slots" key: big-endian start (sorts by time for start >= 0), name. */
static size_t
slot_key(uint8_t *k, int64_t start_ms, const char *name)
{
	uint64_t	 u = (uint64_t)start_ms;
	size_t		 n = strlen(name);
	int		 i;

	for (i = 0; i < 8; i++)
		k[i] = (uint8_t)(u >> (8 * (7 - i)));
	memcpy(k + 8, name, n);
	return 8 + n;
}

static void
slot_rec(uint8_t *v, const kx_slot_total_t *t)
{
	kx_le64_put(v, t->len_ms);
	kx_le64_put(v + 8, t->wh[KX_SLOT_IMPORT]);
	kx_le64_put(v + 16, t->wh[KX_SLOT_EXPORT]);
	kx_le64_put(v + 24, t->wh[KX_SLOT_PV]);
	kx_le64_put(v + 32, t->covered_ms);
	kx_le64_put(v + 40, t->flags);
}

/* Decodes a record; -1 when it cannot be ours (a damaged file). */
static int
slot_unrec(kx_slot_total_t *t, int64_t start_ms, const MDB_val *v)
{
	const uint8_t	*p = v->mv_data;
	int		 i;

	if (v->mv_size != SLOT_REC_LEN)
		return -1;
	memset(t, 0, sizeof(*t));
	t->start_ms = start_ms;
	t->len_ms = kx_le64_get(p);
	for (i = 0; i < KX_SLOT_NCH; i++)
		t->wh[i] = kx_le64_get(p + 8 + 8 * i);
	t->covered_ms = kx_le64_get(p + 32);
	if (t->len_ms <= 0 || t->covered_ms < 0 || t->wh[0] < 0 ||
	    t->wh[1] < 0 || t->wh[2] < 0 || kx_le64_get(p + 40) < 0 ||
	    kx_le64_get(p + 40) > 0xff)
		return -1;
	t->flags = (uint32_t)kx_le64_get(p + 40);
	return 0;
}

static void
on_reading(void *arg, size_t dev, const kx_reading_t *r, uint32_t plaus)
{
	kx_meterd_t	*md = arg;

	(void)plaus;
	md->latest[dev] = *r;
}

static void
on_slot(void *arg, size_t dev, const kx_slot_total_t *t)
{
	kx_meterd_t	*md = arg;

	if (t->flags & KX_SLOT_F_FLUSH)
		return;		/* still open: the saved state carries it */
	if (md->npend == PENDING_MAX) {
		md->dropped_slots++;
		return;
	}
	md->pend[md->npend].dev = dev;
	md->pend[md->npend].t = *t;
	md->npend++;
}

/* Writes the queued slots and the states (all, or those of queued
 * slots' meters) in one transaction. */
static void
persist(kx_meterd_t *md, bool all)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		 kb[8 + KX_CONF_NAME_MAX], vb[SLOT_REC_LEN];
	uint8_t		 sb[KX_SLOT_STATE_LEN];
	uint8_t		 cb[KX_SLOT_STATE_LEN + KX_SEAL_OVERHEAD];
	bool		 touched[KX_CONF_METERS_MAX] = { false };
	size_t		 i, n = kx_poll_count(md->poller);
	int		 rc;

	if (md->npend == 0 && !all)
		return;
	if ((rc = mdb_txn_begin(md->env, NULL, 0, &txn)) != 0) {
		log_warnx("meters: cannot write slots: %s", mdb_strerror(rc));
		return;
	}
	for (i = 0; i < md->npend; i++) {
		const struct pending	*pd = &md->pend[i];

		k.mv_size = slot_key(kb, pd->t.start_ms,
		    md->conf.meters[pd->dev].name);
		k.mv_data = kb;
		slot_rec(vb, &pd->t);
		if ((rc = kx_seal_mdb(md->dk, "meters/slots", &k, vb,
		    sizeof(vb), cb, sizeof(cb), &v)) != 0 ||
		    (rc = mdb_put(txn, md->slots, &k, &v, 0)) != 0)
			goto fail;
		touched[pd->dev] = true;
	}
	for (i = 0; i < n; i++) {
		if (!all && !touched[i])
			continue;
		kx_slot_save(kx_poll_slots(md->poller, i), sb);
		k.mv_size = strlen(md->conf.meters[i].name);
		k.mv_data = md->conf.meters[i].name;
		if ((rc = kx_seal_mdb(md->dk, "meters/state", &k, sb,
		    sizeof(sb), cb, sizeof(cb), &v)) != 0 ||
		    (rc = mdb_put(txn, md->state, &k, &v, 0)) != 0)
			goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		log_warnx("meters: commit: %s", mdb_strerror(rc));
		return;
	}
	md->npend = 0;
	return;
fail:
	mdb_txn_abort(txn);
	log_warnx("meters: cannot write slots: %s", mdb_strerror(rc));
}

static void
snapshot(kx_meterd_t *md)
{
	size_t			 i, n = kx_poll_count(md->poller);
	const kx_slot_acc_t	*a;

	pthread_mutex_lock(&md->mu);
	for (i = 0; i < n; i++) {
		md->snap[i].st = *kx_poll_stats(md->poller, i);
		md->snap[i].last = md->latest[i];
		a = kx_poll_slots(md->poller, i);
		md->snap[i].have_open = a->started != 0;
		md->snap[i].open = a->cur;
	}
	pthread_mutex_unlock(&md->mu);
}

static void *
run(void *arg)
{
	kx_meterd_t	*md = arg;
	struct timespec	 ts;
	int64_t		 now;
	int		 wait;

	for (;;) {
		int	 want;

		pthread_mutex_lock(&md->mu);
		want = md->want_slot_s;
		pthread_mutex_unlock(&md->mu);
		if (want > 0 && want != md->slot_s) {
			if (kx_poll_reslot(md->poller, want) == KX_METER_OK) {
				log_info("meters: slots of %d s now (the market's "
				    "slot length)", want);
				md->slot_s = want;
				persist(md, true);
			}
		}
		now = mono_ms();
		(void)kx_poll_run_once(md->poller, now);
		persist(md, false);
		if (now >= md->next_save) {
			persist(md, true);
			md->next_save = now + KX_METERD_SAVE_MS;
		}
		snapshot(md);
		wait = kx_poll_timeout_ms(md->poller, mono_ms());
		if (wait < 0 || wait > WAIT_MAX_MS)
			wait = WAIT_MAX_MS;
		pthread_mutex_lock(&md->mu);
		if (!md->stop && wait > 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			(void)pthread_cond_timedwait(&md->cv, &md->mu, &ts);
		}
		if (md->stop) {
			pthread_mutex_unlock(&md->mu);
			break;
		}
		pthread_mutex_unlock(&md->mu);
	}
	persist(md, true);
	return NULL;
}

static int
open_env(kx_meterd_t *md, char *err, size_t errlen)
{
	char	 dir[4200];
	MDB_txn	*txn;
	int	 rc;

	snprintf(dir, sizeof(dir), "%s/meters", md->conf.data_dir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((md->dk = kx_datakey_open(md->conf.data_dir, err, errlen)) == NULL)
		return -1;
	if ((rc = mdb_env_create(&md->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(md->env, 4)) != 0 ||
	    (rc = mdb_env_set_mapsize(md->env, (size_t)1 << 30)) != 0 ||
	    (rc = mdb_env_open(md->env, dir, MDB_NOTLS, 0600)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(md->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "state", MDB_CREATE, &md->state)) != 0 ||
	    (rc = mdb_dbi_open(txn, "slots", MDB_CREATE, &md->slots)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
	return -1;
}

/* Restores meter i's accumulator from its saved state, if any. */
static void
restore(kx_meterd_t *md, size_t i)
{
	MDB_txn		*txn;
	MDB_val		 k, v, p;
	uint8_t		 pb[KX_SLOT_STATE_LEN];
	int		 rc;

	if (mdb_txn_begin(md->env, NULL, MDB_RDONLY, &txn) != 0)
		return;
	k.mv_size = strlen(md->conf.meters[i].name);
	k.mv_data = md->conf.meters[i].name;
	rc = mdb_get(txn, md->state, &k, &v);
	if (rc == 0 && kx_open_mdb(md->dk, "meters/state", &k, &v, pb,
	    sizeof(pb), &p) == 0) {
		if (kx_poll_restore(md->poller, i, p.mv_data, p.mv_size) !=
		    KX_METER_OK)
			log_warnx("meter %s: saved slot state unusable (slot "
			    "length changed or damaged); starting a new "
			    "baseline", md->conf.meters[i].name);
		else
			log_debug("meter %s: slot state restored",
			    md->conf.meters[i].name);
	}
	mdb_txn_abort(txn);
}

kx_meterd_t *
kx_meterd_new(const kx_conf_t *conf, char *err, size_t errlen)
{
	kx_meterd_t	*md;
	size_t		 i;
	int		 rc;

	if ((md = calloc(1, sizeof(*md))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&md->mu, NULL);
	{
		pthread_condattr_t	 ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&md->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (kx_conf_copy(&md->conf, conf) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (md->conf.nmeters == 0)
		return md;
	if (open_env(md, err, errlen) == -1)
		goto fail;
	if ((md->poller = kx_poll_new(on_reading, on_slot, md)) == NULL ||
	    (md->snap = calloc(md->conf.nmeters, sizeof(*md->snap))) == NULL ||
	    (md->latest = calloc(md->conf.nmeters, sizeof(*md->latest))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < md->conf.nmeters; i++) {
		const kx_conf_meter_t	*m = &md->conf.meters[i];

		rc = kx_poll_add(md->poller, &m->dev,
		    kx_conf_profile(&md->conf, m->profile), &m->poll);
		if (rc < 0) {
			snprintf(err, errlen, "%s:%zu: meter %s: %s",
			    md->conf.path, m->line, m->name,
			    kx_poll_add_error(md->poller, rc));
			goto fail;
		}
		restore(md, i);
	}
	md->next_save = mono_ms() + KX_METERD_SAVE_MS;
	md->slot_s = md->conf.meters[0].poll.slot.slot_s;
	if (pthread_create(&md->thread, NULL, run, md) != 0) {
		snprintf(err, errlen, "meters: cannot start the thread");
		goto fail;
	}
	md->running = true;
	log_info("meters: polling %zu meter%s", md->conf.nmeters,
	    md->conf.nmeters == 1 ? "" : "s");
	return md;
fail:
	kx_meterd_destroy(&md);
	return NULL;
}

void
kx_meterd_destroy(kx_meterd_t **p)
{
	kx_meterd_t	*md;

	if (p == NULL || (md = *p) == NULL)
		return;
	if (md->running) {
		pthread_mutex_lock(&md->mu);
		md->stop = true;
		pthread_cond_signal(&md->cv);
		pthread_mutex_unlock(&md->mu);
		pthread_join(md->thread, NULL);
	}
	kx_poll_destroy(&md->poller);
	if (md->env != NULL)
		mdb_env_close(md->env);
	kx_datakey_free(&md->dk);
	pthread_cond_destroy(&md->cv);
	pthread_mutex_destroy(&md->mu);
	kx_conf_free(&md->conf);
	free(md->snap);
	free(md->latest);
	free(md);
	*p = NULL;
}

void
kx_meterd_set_slot_s(kx_meterd_t *md, int slot_s)
{
	if (md == NULL || md->poller == NULL || slot_s < 1)
		return;
	pthread_mutex_lock(&md->mu);
	md->want_slot_s = slot_s;
	pthread_cond_signal(&md->cv);
	pthread_mutex_unlock(&md->mu);
}

size_t
kx_meterd_count(const kx_meterd_t *md)
{
	return md == NULL ? 0 : md->conf.nmeters;
}

int
kx_meterd_snapshot(kx_meterd_t *md, size_t i, kx_poll_stats_t *st,
    kx_reading_t *last, kx_slot_total_t *open, int *has_open)
{
	if (md == NULL || i >= md->conf.nmeters)
		return -1;
	pthread_mutex_lock(&md->mu);
	if (st != NULL)
		*st = md->snap[i].st;
	if (last != NULL)
		*last = md->snap[i].last;
	if (open != NULL)
		*open = md->snap[i].open;
	if (has_open != NULL)
		*has_open = md->snap[i].have_open;
	pthread_mutex_unlock(&md->mu);
	return 0;
}

static void
json_opt(kx_buf_t *b, const char *key, const kx_reading_t *r, uint32_t flag,
    int64_t v)
{
	if (r->flags & flag)
		kx_buf_printf(b, ",\"%s\":%" PRId64, key, v);
	else
		kx_buf_printf(b, ",\"%s\":null", key);
}

/* A JSON string of printable ASCII (device paths, errors). */
static void
json_str(kx_buf_t *b, const char *s)
{
	kx_buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		unsigned char	 c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			kx_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			kx_buf_printf(b, "\\u%04x", c);
		else
			kx_buf_putc(b, c);
	}
	kx_buf_putc(b, '"');
}

void
kx_meterd_status(kx_meterd_t *md, kx_buf_t *b)
{
	size_t			 i;
	char			 addr[600];

	kx_buf_putc(b, '[');
	if (md == NULL || md->conf.nmeters == 0) {
		kx_buf_putc(b, ']');
		return;
	}
	pthread_mutex_lock(&md->mu);
	for (i = 0; i < md->conf.nmeters; i++) {
		const kx_conf_meter_t	*m = &md->conf.meters[i];
		const struct snap	*s = &md->snap[i];

		if (m->dev.rtu[0] != '\0')
			snprintf(addr, sizeof(addr), "rtu:%s", m->dev.rtu);
		else
			snprintf(addr, sizeof(addr), "tcp://%s:%d",
			    m->dev.host, m->dev.port);
		kx_buf_printf(b, "%s{\"name\":\"%s\",\"use\":\"%s\","
		    "\"profile\":\"%s\",\"address\":", i ? "," : "", m->name,
		    kx_meter_use_name(m->use), m->profile);
		json_str(b, addr);
		kx_buf_printf(b, ",\"unit\":%d,\"online\":%s,\"requests\":%"
		    PRIu64 ",\"errors\":%" PRIu64 ",\"readings\":%" PRIu64
		    ",\"implausible\":%" PRIu64 ",\"last_good_ms\":%" PRId64
		    ",\"last_error\":", m->dev.unit,
		    s->st.online ? "true" : "false", s->st.requests,
		    s->st.errors, s->st.readings, s->st.implausible,
		    s->st.last_good_ms);
		json_str(b, s->st.last_error);
		json_opt(b, "power_w", &s->last, KX_RD_POWER,
		    s->last.power_w);
		json_opt(b, "import_wh", &s->last, KX_RD_IMPORT,
		    s->last.import_wh);
		json_opt(b, "export_wh", &s->last, KX_RD_EXPORT,
		    s->last.export_wh);
		json_opt(b, "pv_w", &s->last, KX_RD_PV, s->last.pv_w);
		json_opt(b, "battery_w", &s->last, KX_RD_BATT,
		    s->last.battery_w);
		json_opt(b, "soc_permille", &s->last, KX_RD_SOC,
		    s->last.soc_permille);
		if (s->have_open)
			kx_buf_printf(b, ",\"slot\":{\"start_ms\":%" PRId64
			    ",\"import_wh\":%" PRId64 ",\"export_wh\":%"
			    PRId64 ",\"pv_wh\":%" PRId64 ",\"flags\":%u}}",
			    s->open.start_ms, s->open.wh[KX_SLOT_IMPORT],
			    s->open.wh[KX_SLOT_EXPORT], s->open.wh[KX_SLOT_PV],
			    s->open.flags);
		else
			kx_buf_puts(b, ",\"slot\":null}");
	}
	pthread_mutex_unlock(&md->mu);
	kx_buf_putc(b, ']');
}

int
kx_meterd_slot(kx_meterd_t *md, int64_t start_ms, kx_meter_use_t use,
    kx_slot_total_t *sum, size_t *nmeters, size_t *nfound)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	kx_slot_total_t	 t;
	uint8_t		 kb[8 + KX_CONF_NAME_MAX], pb[SLOT_REC_LEN];
	size_t		 i;
	int		 rc, i2;

	memset(sum, 0, sizeof(*sum));
	sum->start_ms = start_ms;
	*nmeters = *nfound = 0;
	if (md == NULL || md->env == NULL)
		return 0;
	if (mdb_txn_begin(md->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	for (i = 0; i < md->conf.nmeters; i++) {
		if (md->conf.meters[i].use != use)
			continue;
		(*nmeters)++;
		k.mv_size = slot_key(kb, start_ms, md->conf.meters[i].name);
		k.mv_data = kb;
		rc = mdb_get(txn, md->slots, &k, &v);
		if (rc == MDB_NOTFOUND || (rc == 0 && kx_open_mdb(md->dk,
		    "meters/slots", &k, &v, pb, sizeof(pb), &v) != 0))
			continue;	/* (does not decrypt: logged) */
		if (rc != 0 || slot_unrec(&t, start_ms, &v) == -1) {
			mdb_txn_abort(txn);
			return -1;
		}
		(*nfound)++;
		sum->len_ms = t.len_ms;
		for (i2 = 0; i2 < KX_SLOT_NCH; i2++)
			sum->wh[i2] += t.wh[i2];
		if (sum->covered_ms == 0 || t.covered_ms < sum->covered_ms)
			sum->covered_ms = t.covered_ms;
		sum->flags |= t.flags;
	}
	mdb_txn_abort(txn);
	return 0;
}

int
kx_meterd_history(kx_meterd_t *md, const char *name, int64_t from_ms,
    int64_t to_ms, void (*fn)(void *, const kx_slot_total_t *), void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	kx_slot_total_t	 t;
	uint8_t		 kb[8 + KX_CONF_NAME_MAX], pb[SLOT_REC_LEN];
	size_t		 i, nlen = strlen(name);
	int64_t		 start;
	int		 rc, r = 0, j;

	if (md == NULL || md->env == NULL || from_ms < 0)
		return -1;
	for (i = 0; i < md->conf.nmeters; i++)
		if (strcmp(md->conf.meters[i].name, name) == 0)
			break;
	if (i == md->conf.nmeters)
		return -1;
	if (mdb_txn_begin(md->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, md->slots, &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	k.mv_size = slot_key(kb, from_ms, "");
	k.mv_data = kb;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t	*kp = k.mv_data;
		uint64_t	 u = 0;

		if (k.mv_size < 8)
			continue;
		for (j = 0; j < 8; j++)
			u = u << 8 | kp[j];
		start = (int64_t)u;
		if (start >= to_ms)
			break;
		if (k.mv_size - 8 != nlen || memcmp(kp + 8, name, nlen) != 0)
			continue;
		if (kx_open_mdb(md->dk, "meters/slots", &k, &v, pb,
		    sizeof(pb), &v) != 0)
			continue;	/* missing (logged) */
		if (slot_unrec(&t, start, &v) == -1) {
			r = -1;
			break;
		}
		fn(arg, &t);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		r = -1;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return r;
}
