/*
 * datakey.c - the data key and sealed values, see datakey.h.
 *
 * Tuned for small values (slot totals, states, consent records: tens to a
 * few hundred bytes) sealed one at a time on the node's threads; the key
 * ring is read-only once opened, so the meter thread and the main thread
 * share nothing mutable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "datakey.h"
#include "log.h"
#include "privacy.h"

#define KEY_FILE	"data.key"
#define NEW_FILE	"data.key.new"
#define AD_MAX		(16 + 64 + 4 + 512)
#define TEXT_PLAIN_MAX	1024

struct kx_datakey {
	uint8_t	 key[2][KX_DATAKEY_LEN];	/* [0] seals, both open */
	uint8_t	 id[2];
	int	 n;			/* keys held: 1 or 2 */
	int	 fd;			/* data.key, locked; -1 for none */
};

/*
 * Where sealed values live: every (environment, database) with sealed
 * values, the offset of the sealed part in a value and its form. A value
 * whose part at that offset is not in the form is plaintext and left
 * alone (the ledger's `done` records other than readings). A module that
 * seals values somewhere else must add the place here, or a rotation
 * leaves them under the old key (and so unreadable).
 */
static const struct place {
	const char	*env, *db;
	size_t		 off;
	int		 text;
} schema[] = {
	{ "meters", "state", 0, 0 },	/* node/meterd.c: slot state */
	{ "meters", "slots", 0, 0 },	/* node/meterd.c: slot totals */
	{ "ledger", "done", 8, 1 },	/* node/mktd.c: reading sent */
	{ "privacy", "consent", 0, 0 },	/* node/privacy.c */
	{ "privacy", "chain", KX_PV_CHAIN_HDR, 0 },
};

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint8_t
key_id(const uint8_t key[KX_DATAKEY_LEN])
{
	static const char	 tag[] = "kaga-data-key-id/1";
	crypto_generichash_state st;
	uint8_t			 h[32];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag) - 1);
	crypto_generichash_update(&st, key, KX_DATAKEY_LEN);
	crypto_generichash_final(&st, h, sizeof(h));
	return h[0];
}

const char *
kx_datakey_strerror(int e)
{
	switch (e) {
	case 0:			return "ok";
	case KX_DK_EFORMAT:	return "not a sealed value";
	case KX_DK_EKEY:	return "sealed under another data key";
	case KX_DK_EAUTH:	return "does not authenticate (damaged, moved "
				    "or wrong key)";
	case KX_DK_ESPACE:	return "buffer too small";
	case KX_DK_EIO:		return "key file error";
	case KX_DK_EBUSY:	return "data key is locked";
	default:		return "unknown error";
	}
}

/* ---- key files ----------------------------------------------------- */

static int
fsync_dir(const char *dir)
{
	int	 fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * Reads a key file: mode must deny group and others, exactly 32 bytes.
 * With lock (LOCK_SH or LOCK_EX), keeps the file open and locked in *fdp.
 * 0, -1 (message in err; errno ENOENT when missing) or KX_DK_EBUSY.
 */
static int
read_key(const char *path, uint8_t key[KX_DATAKEY_LEN], int lock, int *fdp,
    char *err, size_t errlen)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		saved = errno;
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		set_err(err, errlen, "%s: data key is readable by others "
		    "(mode %03o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	if (st.st_size != KX_DATAKEY_LEN) {
		set_err(err, errlen, "%s: not a data key (%d bytes expected, "
		    "%lld found)", path, KX_DATAKEY_LEN,
		    (long long)st.st_size);
		goto fail;
	}
	while (off < KX_DATAKEY_LEN) {
		n = read(fd, key + off, KX_DATAKEY_LEN - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			set_err(err, errlen, "%s: %s", path, n < 0 ?
			    strerror(errno) : "short read");
			goto fail;
		}
		off += (size_t)n;
	}
	if (lock != 0 && flock(fd, lock | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			set_err(err, errlen, "%s: in use (%s)", path,
			    lock == LOCK_EX ? "is kaga-node running? stop it "
			    "first" : "a key rotation is running; wait for "
			    "kaga-ctl rekey to finish");
			sodium_memzero(key, KX_DATAKEY_LEN);
			close(fd);
			return KX_DK_EBUSY;
		}
		set_err(err, errlen, "%s: lock: %s", path, strerror(errno));
		goto fail;
	}
	if (fdp != NULL)
		*fdp = fd;
	else
		close(fd);
	return 0;
fail:
	sodium_memzero(key, KX_DATAKEY_LEN);
	close(fd);
	errno = 0;
	return -1;
}

/*
 * Writes key to dir/name without ever replacing an existing file: a
 * private temporary file, fsync, link(2). 0 written, 1 the file existed
 * (someone else was first), -1 error.
 */
static int
write_key(const char *dir, const char *name, const uint8_t *key, char *err,
    size_t errlen)
{
	char	 tmp[4300], path[4300];
	size_t	 off = 0;
	ssize_t	 w;
	int	 fd, rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%08x", dir, name,
	    (long)getpid(), randombytes_random());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	while (off < KX_DATAKEY_LEN) {
		if ((w = write(fd, key + off, KX_DATAKEY_LEN - off)) == -1) {
			if (errno == EINTR)
				continue;
			set_err(err, errlen, "%s: %s", tmp, strerror(errno));
			close(fd);
			goto done;
		}
		off += (size_t)w;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	if (link(tmp, path) == -1) {
		if (errno == EEXIST)
			rc = 1;
		else
			set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	(void)fsync_dir(dir);
	rc = 0;
done:
	unlink(tmp);
	return rc;
}

kx_datakey_t *
kx_datakey_open(const char *dir, char *err, size_t errlen)
{
	kx_datakey_t	*dk;
	char		 path[4300];
	uint8_t		 k[KX_DATAKEY_LEN];
	int		 tries, rc;

	if (sodium_init() < 0) {
		set_err(err, errlen, "libsodium failed to start");
		return NULL;
	}
	if ((dk = calloc(1, sizeof(*dk))) == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	dk->fd = -1;
	snprintf(path, sizeof(path), "%s/%s", dir, KEY_FILE);
	for (tries = 0; ; tries++) {
		rc = read_key(path, dk->key[0], LOCK_SH, &dk->fd, err, errlen);
		if (rc == 0)
			break;
		if (rc != -1 || errno != ENOENT || tries > 0)
			goto fail;
		randombytes_buf(k, sizeof(k));
		rc = write_key(dir, KEY_FILE, k, err, errlen);
		sodium_memzero(k, sizeof(k));
		if (rc == -1)
			goto fail;
		if (rc == 0)
			log_info("created the data key %s (keep a copy: "
			    "without it the encrypted data is lost)", path);
	}
	dk->id[0] = key_id(dk->key[0]);
	dk->n = 1;
	snprintf(path, sizeof(path), "%s/%s", dir, NEW_FILE);
	if (read_key(path, dk->key[1], 0, NULL, NULL, 0) == 0) {
		dk->id[1] = key_id(dk->key[1]);
		dk->n = 2;
		log_warnx("%s: an unfinished key rotation; run kaga-ctl rekey "
		    "again with the node stopped", path);
	}
	return dk;
fail:
	kx_datakey_free(&dk);
	return NULL;
}

kx_datakey_t *
kx_datakey_from_bytes(const uint8_t key[KX_DATAKEY_LEN])
{
	kx_datakey_t	*dk;

	if (sodium_init() < 0 || (dk = calloc(1, sizeof(*dk))) == NULL)
		return NULL;
	memcpy(dk->key[0], key, KX_DATAKEY_LEN);
	dk->id[0] = key_id(key);
	dk->n = 1;
	dk->fd = -1;
	return dk;
}

void
kx_datakey_free(kx_datakey_t **p)
{
	kx_datakey_t	*dk;

	if (p == NULL || (dk = *p) == NULL)
		return;
	if (dk->fd != -1)
		close(dk->fd);		/* releases the lock */
	sodium_memzero(dk, sizeof(*dk));
	free(dk);
	*p = NULL;
}

uint8_t
kx_datakey_id(const kx_datakey_t *dk)
{
	return dk->id[0];
}

/* ---- sealing ------------------------------------------------------- */

static size_t
make_ad(uint8_t *ad, const char *where, const void *key, size_t klen)
{
	static const char	 tag[] = "kaga-data/1";
	size_t			 wl = strnlen(where, 64), n = 0;

	if (klen > 512)
		klen = 512;
	memcpy(ad, tag, sizeof(tag));		/* with its NUL */
	n = sizeof(tag);
	memcpy(ad + n, where, wl);
	n += wl;
	ad[n++] = 0;
	ad[n++] = (uint8_t)(klen >> 24);
	ad[n++] = (uint8_t)(klen >> 16);
	ad[n++] = (uint8_t)(klen >> 8);
	ad[n++] = (uint8_t)klen;
	if (klen > 0)
		memcpy(ad + n, key, klen);
	return n + klen;
}

/* Seals with key slot i of dk. */
static int
seal_with(const kx_datakey_t *dk, int i, const char *where, const void *key,
    size_t klen, const void *plain, size_t plen, uint8_t *out, size_t cap,
    size_t *outlen)
{
	uint8_t			 ad[AD_MAX];
	size_t			 adlen;
	unsigned long long	 clen;

	if (cap < KX_SEAL_OVERHEAD || plen > cap - KX_SEAL_OVERHEAD)
		return KX_DK_ESPACE;
	adlen = make_ad(ad, where, key, klen);
	out[0] = KX_SEAL_MAGIC;
	out[1] = dk->id[i];
	randombytes_buf(out + 2, KX_SEAL_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 2 + KX_SEAL_NONCE,
	    &clen, plain, plen, ad, adlen, NULL, out + 2, dk->key[i]);
	*outlen = 2 + KX_SEAL_NONCE + (size_t)clen;
	return 0;
}

int
kx_seal_value(const kx_datakey_t *dk, const char *where, const void *key,
    size_t klen, const void *plain, size_t plen, uint8_t *out, size_t cap,
    size_t *outlen)
{
	return seal_with(dk, 0, where, key, klen, plain, plen, out, cap,
	    outlen);
}

int
kx_open_value(const kx_datakey_t *dk, const char *where, const void *key,
    size_t klen, const void *sealed, size_t slen, uint8_t *plain,
    size_t cap, size_t *plen)
{
	const uint8_t		*s = sealed;
	uint8_t			 ad[AD_MAX];
	size_t			 adlen;
	unsigned long long	 mlen;
	int			 i, tried = 0;

	if (slen < KX_SEAL_OVERHEAD || s[0] != KX_SEAL_MAGIC)
		return KX_DK_EFORMAT;
	if (slen - KX_SEAL_OVERHEAD > cap)
		return KX_DK_ESPACE;
	adlen = make_ad(ad, where, key, klen);
	for (i = 0; i < dk->n; i++) {
		if (dk->id[i] != s[1])
			continue;
		tried = 1;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen,
		    NULL, s + 2 + KX_SEAL_NONCE, slen - 2 - KX_SEAL_NONCE, ad,
		    adlen, s + 2, dk->key[i]) == 0) {
			*plen = (size_t)mlen;
			return 0;
		}
	}
	return tried ? KX_DK_EAUTH : KX_DK_EKEY;
}

int
kx_seal_mdb(const kx_datakey_t *dk, const char *where, const MDB_val *k,
    const void *plain, size_t plen, uint8_t *buf, size_t cap,
    MDB_val *sealed)
{
	size_t	 n;
	int	 rc;

	if ((rc = kx_seal_value(dk, where, k->mv_data, k->mv_size, plain,
	    plen, buf, cap, &n)) != 0)
		return rc;
	sealed->mv_data = buf;
	sealed->mv_size = n;
	return 0;
}

int
kx_open_mdb(const kx_datakey_t *dk, const char *where, const MDB_val *k,
    const MDB_val *v, uint8_t *buf, size_t cap, MDB_val *plain)
{
	char	 hex[2 * 24 + 1];
	size_t	 n;
	int	 rc;

	rc = kx_open_value(dk, where, k->mv_data, k->mv_size, v->mv_data,
	    v->mv_size, buf, cap, &n);
	if (rc != 0) {
		sodium_bin2hex(hex, sizeof(hex), k->mv_data,
		    k->mv_size < 24 ? k->mv_size : 24);
		log_warnx("%s: the value under key %s%s cannot be decrypted "
		    "(%s); treated as missing", where, hex,
		    k->mv_size > 24 ? "..." : "", kx_datakey_strerror(rc));
		return rc;
	}
	plain->mv_data = buf;
	plain->mv_size = n;
	return 0;
}

static int
seal_text_with(const kx_datakey_t *dk, int i, const char *where,
    const void *key, size_t klen, const char *plain, char *out,
    size_t outlen)
{
	uint8_t	 bin[TEXT_PLAIN_MAX + KX_SEAL_OVERHEAD];
	size_t	 plen = strnlen(plain, TEXT_PLAIN_MAX + 1), n, pre;
	int	 rc;

	pre = strlen(KX_SEAL_TEXT_PREFIX);
	if (plen > TEXT_PLAIN_MAX)
		return KX_DK_ESPACE;
	if ((rc = seal_with(dk, i, where, key, klen, plain, plen, bin,
	    sizeof(bin), &n)) != 0)
		return rc;
	if (outlen < pre + sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return KX_DK_ESPACE;
	memcpy(out, KX_SEAL_TEXT_PREFIX, pre);
	sodium_bin2base64(out + pre, outlen - pre, bin, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

int
kx_seal_text(const kx_datakey_t *dk, const char *where, const void *key,
    size_t klen, const char *plain, char *out, size_t outlen)
{
	return seal_text_with(dk, 0, where, key, klen, plain, out, outlen);
}

int
kx_open_text(const kx_datakey_t *dk, const char *where, const void *key,
    size_t klen, const char *text, char *plain, size_t plainlen)
{
	uint8_t	 bin[TEXT_PLAIN_MAX + KX_SEAL_OVERHEAD];
	size_t	 pre = strlen(KX_SEAL_TEXT_PREFIX), n, m = 0;
	int	 rc;

	if (strncmp(text, KX_SEAL_TEXT_PREFIX, pre) != 0)
		return KX_DK_EFORMAT;		/* plaintext: not ours */
	if (plainlen == 0)
		return KX_DK_ESPACE;
	if (sodium_base642bin(bin, sizeof(bin), text + pre, strlen(text + pre),
	    NULL, &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		rc = KX_DK_EFORMAT;
	else if ((rc = kx_open_value(dk, where, key, klen, bin, n,
	    (uint8_t *)plain, plainlen - 1, &m)) == 0 &&
	    memchr(plain, '\0', m) != NULL)
		rc = KX_DK_EFORMAT;
	if (rc != 0) {
		sodium_memzero(plain, plainlen);
		log_warnx("%s: a sealed text cannot be decrypted (%s); "
		    "treated as missing", where, kx_datakey_strerror(rc));
		return rc;
	}
	plain[m] = '\0';
	return 0;
}

/* ---- rotation ------------------------------------------------------ */

/* Reseals the value of one record, if sealed; counts in st. */
static int
rekey_one(const kx_datakey_t *ring, const kx_datakey_t *nk,
    const struct place *pl, const char *where, MDB_cursor *cur,
    const MDB_val *k, const MDB_val *v, kx_rekey_stats_t *st)
{
	const uint8_t	*p = v->mv_data;
	uint8_t		*nv = NULL, plain[TEXT_PLAIN_MAX + 512];
	size_t		 n, plen, sl = v->mv_size - pl->off;
	MDB_val		 out;
	int		 rc = 0;

	if (v->mv_size <= pl->off)
		return 0;
	if ((nv = malloc(v->mv_size + 2 * KX_SEAL_OVERHEAD + 64)) == NULL)
		return ENOMEM;
	memcpy(nv, p, pl->off);
	if (!pl->text) {
		if (sl < KX_SEAL_OVERHEAD || p[pl->off] != KX_SEAL_MAGIC)
			goto done;		/* plaintext */
		if (p[pl->off + 1] == nk->id[0]) {
			st->already++;
			goto done;
		}
		if (kx_open_value(ring, where, k->mv_data, k->mv_size,
		    p + pl->off, sl, plain, sizeof(plain), &plen) != 0) {
			st->unreadable++;
			goto done;
		}
		if (kx_seal_value(nk, where, k->mv_data, k->mv_size, plain,
		    plen, nv + pl->off, v->mv_size + 2 * KX_SEAL_OVERHEAD + 64 -
		    pl->off, &n) != 0) {
			rc = EINVAL;
			goto done;
		}
	} else {
		char	 text[TEXT_PLAIN_MAX * 2];
		char	 ptext[TEXT_PLAIN_MAX + 1];
		size_t	 pre = strlen(KX_SEAL_TEXT_PREFIX);
		uint8_t	 bin[TEXT_PLAIN_MAX + KX_SEAL_OVERHEAD];
		size_t	 bn;

		if (sl < pre || memcmp(p + pl->off, KX_SEAL_TEXT_PREFIX, pre)
		    != 0 || sl >= sizeof(text))
			goto done;		/* plaintext */
		memcpy(text, p + pl->off, sl);
		text[sl] = '\0';
		if (sodium_base642bin(bin, sizeof(bin), text + pre, sl - pre,
		    NULL, &bn, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING)
		    == 0 && bn >= 2 && bin[1] == nk->id[0]) {
			st->already++;
			goto done;
		}
		if (kx_open_text(ring, where, k->mv_data, k->mv_size, text,
		    ptext, sizeof(ptext)) != 0) {
			st->unreadable++;
			goto done;
		}
		if (kx_seal_text(nk, where, k->mv_data, k->mv_size, ptext,
		    text, sizeof(text)) != 0) {
			sodium_memzero(ptext, sizeof(ptext));
			rc = EINVAL;
			goto done;
		}
		sodium_memzero(ptext, sizeof(ptext));
		n = strlen(text);
		if (pl->off + n > v->mv_size + 2 * KX_SEAL_OVERHEAD + 64) {
			rc = EINVAL;
			goto done;
		}
		memcpy(nv + pl->off, text, n);
	}
	out.mv_data = nv;
	out.mv_size = pl->off + n;
	if ((rc = mdb_cursor_put(cur, (MDB_val *)(uintptr_t)k, &out,
	    MDB_CURRENT)) == 0)
		st->resealed++;
done:
	sodium_memzero(plain, sizeof(plain));
	free(nv);
	return rc;
}

/* Reseals every sealed value of environment env (if it exists). */
static int
rekey_env(const char *dir, const char *env, const kx_datakey_t *ring,
    const kx_datakey_t *nk, kx_rekey_stats_t *st, char *err, size_t errlen)
{
	char		 path[4300], where[64];
	struct stat	 sb;
	MDB_env		*e = NULL;
	MDB_txn		*txn = NULL;
	MDB_dbi		 dbi;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 i;
	int		 rc;

	snprintf(path, sizeof(path), "%s/%s/data.mdb", dir, env);
	if (stat(path, &sb) == -1)
		return 0;		/* nothing stored there */
	snprintf(path, sizeof(path), "%s/%s", dir, env);
	if ((rc = mdb_env_create(&e)) != 0 ||
	    (rc = mdb_env_set_maxdbs(e, 8)) != 0 ||
	    (rc = mdb_env_set_mapsize(e, (size_t)1 << 30)) != 0 ||
	    (rc = mdb_env_open(e, path, MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_txn_begin(e, NULL, 0, &txn)) != 0)
		goto fail;
	for (i = 0; i < sizeof(schema) / sizeof(schema[0]); i++) {
		if (strcmp(schema[i].env, env) != 0)
			continue;
		snprintf(where, sizeof(where), "%s/%s", env, schema[i].db);
		rc = mdb_dbi_open(txn, schema[i].db, 0, &dbi);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0 || (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
			goto fail;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
			if ((rc = rekey_one(ring, nk, &schema[i], where, cur,
			    &k, &v, st)) != 0)
				break;
		mdb_cursor_close(cur);
		if (rc != MDB_NOTFOUND)
			goto fail;
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	mdb_env_close(e);
	return 0;
fail:
	set_err(err, errlen, "%s: %s", path, mdb_strerror(rc));
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (e != NULL)
		mdb_env_close(e);
	return -1;
}

int
kx_datakey_rekey(const char *dir, kx_rekey_stats_t *st, char *err,
    size_t errlen)
{
	static const char *const envs[] = { "meters", "ledger", "privacy" };
	kx_datakey_t	 ring, nk;
	char		 path[4300], npath[4300];
	size_t		 i;
	int		 fd = -1, rc = -1, w;

	memset(st, 0, sizeof(*st));
	memset(&ring, 0, sizeof(ring));
	memset(&nk, 0, sizeof(nk));
	ring.fd = nk.fd = -1;
	if (sodium_init() < 0) {
		set_err(err, errlen, "libsodium failed to start");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, KEY_FILE);
	snprintf(npath, sizeof(npath), "%s/%s", dir, NEW_FILE);
	if (read_key(path, ring.key[0], LOCK_EX, &fd, err, errlen) != 0)
		return -1;
	ring.id[0] = key_id(ring.key[0]);
	if (read_key(npath, nk.key[0], 0, NULL, NULL, 0) == 0) {
		nk.id[0] = key_id(nk.key[0]);
		if (nk.id[0] == ring.id[0]) {
			set_err(err, errlen, "%s: has the id of data.key; "
			    "remove it and run rekey again", npath);
			goto done;
		}
	} else {
		do {
			randombytes_buf(nk.key[0], KX_DATAKEY_LEN);
			nk.id[0] = key_id(nk.key[0]);
		} while (nk.id[0] == ring.id[0]);
		if ((w = write_key(dir, NEW_FILE, nk.key[0], err, errlen)) !=
		    0) {
			if (w == 1)
				set_err(err, errlen, "%s: appeared meanwhile; "
				    "run rekey again", npath);
			goto done;
		}
	}
	nk.n = 1;
	memcpy(ring.key[1], nk.key[0], KX_DATAKEY_LEN);
	ring.id[1] = nk.id[0];
	ring.n = 2;
	st->old_id = ring.id[0];
	st->new_id = nk.id[0];
	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++)
		if (rekey_env(dir, envs[i], &ring, &nk, st, err, errlen) == -1)
			goto done;
	/* every value is under the new key: the switch */
	if (rename(npath, path) == -1) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	(void)fsync_dir(dir);
	rc = 0;
done:
	sodium_memzero(&ring, sizeof(ring));
	sodium_memzero(&nk, sizeof(nk));
	if (fd != -1)
		close(fd);
	return rc;
}
