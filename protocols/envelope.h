/*
 * envelope.h - the signed message envelope of PROTOCOL.md section 3.
 *
 *   wire    = [ payload : bin, sig : bin(64) ]
 *   payload = [ v, author, seq, prev, ts, type, body ]
 *
 * Decoding is strict (every rejection rule of section 3) and borrows: a
 * decoded kx_msg_t points into the caller's wire bytes, which must outlive
 * it. Nothing here touches a socket or the disk. Tuned for the admission
 * path: decode and id cost far less than the Ed25519 verification.
 */
#ifndef KX_ENVELOPE_H
#define KX_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define KX_WIRE_MAX	16384	/* bytes in a whole wire message */
#define KX_PK_LEN	32	/* Ed25519 public key */
#define KX_SK_LEN	64	/* libsodium Ed25519 secret key (seed || pk) */
#define KX_SIG_LEN	64
#define KX_ID_LEN	32	/* BLAKE2b-256 of the payload */
#define KX_TYPE_MAX	16	/* bytes in a type string */
#define KX_BODY_DEPTH	8	/* containers nested inside a body */
#define KX_VERSION	1

/* Result codes (negative; KX_OK is 0). Each names the validation step. */
#define KX_OK		  0
#define KX_ESIZE	-10	/* step 1: larger than KX_WIRE_MAX */
#define KX_EDECODE	-11	/* step 1: malformed */
#define KX_EVERSION	-12	/* step 2 */
#define KX_EADMIT	-13	/* step 3 */
#define KX_ECHAIN	-14	/* step 4 */
#define KX_ECLOCK	-15	/* step 5 */
#define KX_ESIG		-16	/* step 6 */
#define KX_EBODY	-17	/* step 7 */
#define KX_ENOMEM	-18
#define KX_EARG		-19	/* caller's arguments are wrong */

/* A human reason naming the rule that was broken. */
typedef struct {
	char	text[192];
} kx_why_t;

void	kx_why_set(kx_why_t *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
const char *kx_strerror(int);

typedef struct {
	const uint8_t	*wire;		/* the whole message */
	size_t		 wire_len;
	const uint8_t	*payload;	/* signed bytes */
	size_t		 payload_len;
	const uint8_t	*sig;		/* KX_SIG_LEN bytes */
	uint64_t	 v;
	const uint8_t	*author;	/* KX_PK_LEN bytes */
	uint64_t	 seq;		/* >= 1 */
	const uint8_t	*prev;		/* KX_ID_LEN bytes, NULL iff seq == 1 */
	int64_t		 ts;		/* ms since the epoch */
	char		 type[KX_TYPE_MAX + 1];	/* NUL-terminated */
	const uint8_t	*body;		/* the encoded body map */
	size_t		 body_len;
	uint8_t		 id[KX_ID_LEN];	/* BLAKE2b-256 of payload */
} kx_msg_t;

/*
 * Decodes wire bytes (step 1 only: size and structure) and computes the
 * id. Returns KX_OK, KX_ESIZE or KX_EDECODE (reason in why, may be NULL).
 * The version is not judged here: see kx_msg_check_version.
 */
int	kx_msg_decode(kx_msg_t *m, const uint8_t *wire, size_t len,
	    kx_why_t *why) __attribute__((warn_unused_result));
/* Step 2: KX_OK or KX_EVERSION. */
int	kx_msg_check_version(const kx_msg_t *m, kx_why_t *why);
/* Step 6: KX_OK or KX_ESIG. */
int	kx_msg_verify(const kx_msg_t *m, kx_why_t *why)
	    __attribute__((warn_unused_result));
/*
 * Builds and signs a message: appends the wire bytes to `wire`. body is an
 * encoded msgpack map (not checked here), prev is NULL iff seq == 1.
 * Returns KX_OK, KX_EARG (bad seq/prev/type/size) or KX_ENOMEM.
 */
int	kx_msg_sign(kx_buf_t *wire, const uint8_t sk[KX_SK_LEN],
	    uint64_t seq, const uint8_t *prev, int64_t ts, const char *type,
	    const uint8_t *body, size_t body_len)
	    __attribute__((warn_unused_result));
/* Writes the id of the given payload bytes. */
void	kx_msg_id(uint8_t id[KX_ID_LEN], const uint8_t *payload, size_t len);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void	kx_hex(char *out, const uint8_t *p, size_t n);
/* Parses exactly 2n lowercase hex digits; returns 0 or -1. */
int	kx_unhex(uint8_t *out, size_t n, const char *hex);

#endif
