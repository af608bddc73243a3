/*
 * datakey.h - encryption at rest of the owner's personal data in the
 * node's LMDB environments (docs/privacy.md "Encryption at rest").
 *
 * DATA_DIR/data.key holds 32 random bytes (mode 0600), separate from the
 * identity key node.key; it is created at the first start. A sealed value
 * is
 *
 *	0xE5 | key id (1) | nonce (24) | XChaCha20-Poly1305 ciphertext + tag
 *
 * (KX_SEAL_OVERHEAD bytes more than the plaintext), with a fresh random
 * nonce per value. The associated data binds a value to where it is
 * stored, so a value moved to another key or database does not open:
 *
 *	"kaga-data/1" 0x00 WHERE 0x00 u32be(key length) KEY
 *
 * where WHERE names the environment and database ("meters/slots") and KEY
 * is the value's LMDB key. The key id is the first byte of
 * BLAKE2b-256("kaga-data-key-id/1" || key), so values sealed under an
 * older key are recognised and reported, not mistaken for damage.
 *
 * A value that does not open (another key, damaged, moved) is treated by
 * every caller as missing, with a log line naming where it is; never a
 * crash. The text form ("kxe1:" and the sealed value in URL-safe base64)
 * is for values kept inside text fields.
 *
 * Rotation (kx_datakey_rekey, `kaga-ctl rekey --data-dir DIR`, node
 * stopped): a new key is written to data.key.new, every sealed value of
 * the schema (datakey.c) is opened and sealed again under it, and
 * data.key.new is renamed over data.key: an atomic switch. Until the
 * rename the old key stays in data.key and kx_datakey_open loads both, so
 * an interrupted rotation loses nothing; running it again finishes it.
 *
 * A kx_datakey_t holds a shared flock(2) on data.key while it is open;
 * rekey takes it exclusively, so it refuses to run beside a node.
 * Thread-safe once opened (read only).
 */
#ifndef KX_DATAKEY_H
#define KX_DATAKEY_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#define KX_DATAKEY_LEN		32
#define KX_SEAL_MAGIC		0xe5
#define KX_SEAL_NONCE		24
#define KX_SEAL_OVERHEAD	(2 + KX_SEAL_NONCE + 16)
#define KX_SEAL_TEXT_PREFIX	"kxe1:"

/* Errors (the -480 range). */
#define KX_DK_EFORMAT	-481	/* not a sealed value */
#define KX_DK_EKEY	-482	/* sealed under a key we do not hold */
#define KX_DK_EAUTH	-483	/* damaged, moved, or the wrong key */
#define KX_DK_ESPACE	-484	/* the output buffer is too small */
#define KX_DK_EIO	-485	/* the key file (message in err) */
#define KX_DK_EBUSY	-486	/* data.key is locked (a node or a rekey) */

typedef struct kx_datakey kx_datakey_t;

/*
 * Loads dir/data.key, creating it (0600, 32 random bytes) when missing,
 * and dir/data.key.new when present (an unfinished rotation). Takes a
 * shared lock on data.key. NULL with a message in err (err may be NULL
 * when errlen is 0).
 */
kx_datakey_t	*kx_datakey_open(const char *dir, char *err, size_t errlen);
/* A key ring of one key from bytes (tests, tools); no file, no lock. */
kx_datakey_t	*kx_datakey_from_bytes(const uint8_t key[KX_DATAKEY_LEN]);
/* Wipes and frees; NULL-safe, nulls the pointer. */
void		 kx_datakey_free(kx_datakey_t **);
/* The id of the key values are sealed with. */
uint8_t		 kx_datakey_id(const kx_datakey_t *);

const char	*kx_datakey_strerror(int);

/*
 * Seals plain (plen bytes) stored under LMDB key (klen bytes) in where
 * ("env/db") into out (cap >= plen + KX_SEAL_OVERHEAD). Returns 0 with
 * the length in *outlen, or KX_DK_ESPACE.
 */
int	kx_seal_value(const kx_datakey_t *dk, const char *where,
	    const void *key, size_t klen, const void *plain, size_t plen,
	    uint8_t *out, size_t cap, size_t *outlen)
	    __attribute__((warn_unused_result));

/*
 * Opens a sealed value into plain (cap bytes). Returns 0 with the length
 * in *plen, or KX_DK_EFORMAT, KX_DK_EKEY, KX_DK_EAUTH, KX_DK_ESPACE.
 * Logs nothing.
 */
int	kx_open_value(const kx_datakey_t *dk, const char *where,
	    const void *key, size_t klen, const void *sealed, size_t slen,
	    uint8_t *plain, size_t cap, size_t *plen)
	    __attribute__((warn_unused_result));

/*
 * The same for LMDB values: *sealed (resp. *plain) points into buf;
 * plain may be v itself.
 * kx_open_mdb logs a warning naming where and the key when the value does
 * not open ("treated as missing") and returns the error.
 */
int	kx_seal_mdb(const kx_datakey_t *dk, const char *where,
	    const MDB_val *k, const void *plain, size_t plen, uint8_t *buf,
	    size_t cap, MDB_val *sealed) __attribute__((warn_unused_result));
int	kx_open_mdb(const kx_datakey_t *dk, const char *where,
	    const MDB_val *k, const MDB_val *v, uint8_t *buf, size_t cap,
	    MDB_val *plain) __attribute__((warn_unused_result));

/*
 * Text form, for a value kept in a text field: out receives
 * KX_SEAL_TEXT_PREFIX and the sealed value in URL-safe base64 without
 * padding, NUL-terminated. kx_open_text gives the plaintext NUL-terminated
 * (plain must not contain NUL). Same returns as above; kx_open_text logs
 * a warning ("treated as missing") when text has the prefix but does not
 * open, and nothing for text without it (KX_DK_EFORMAT: plaintext).
 */
int	kx_seal_text(const kx_datakey_t *dk, const char *where,
	    const void *key, size_t klen, const char *plain, char *out,
	    size_t outlen) __attribute__((warn_unused_result));
int	kx_open_text(const kx_datakey_t *dk, const char *where,
	    const void *key, size_t klen, const char *text, char *plain,
	    size_t plainlen) __attribute__((warn_unused_result));

typedef struct {
	uint64_t	 resealed;	/* values now under the new key */
	uint64_t	 already;	/* under the new key before (resumed) */
	uint64_t	 unreadable;	/* left as they were (already missing) */
	uint8_t		 old_id, new_id;
} kx_rekey_stats_t;

/*
 * Rotates dir's data key (the node must be stopped): see the file
 * comment. Returns 0, or -1 with a message in err (nothing switched;
 * running it again resumes).
 */
int	kx_datakey_rekey(const char *dir, kx_rekey_stats_t *st, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

#endif
