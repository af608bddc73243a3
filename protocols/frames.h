/*
 * frames.h - the gossip frames between kaga-node peers (docs/gossip.md).
 *
 * A gossip message is a ZeroMQ multipart message: its first part is a
 * header, a msgpack array whose first element is the kind; the parts after
 * it carry wire messages (PROTOCOL.md section 3, forwarded byte for byte)
 * or chunks of a head vector. Pure: encoding and strict decoding only.
 */
#ifndef KX_FRAMES_H
#define KX_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "envelope.h"

enum {
	KX_F_PUSH = 1,	/* [1]               + 1 part: a new message */
	KX_F_VEC = 2,	/* [2, reply, digest] + chunks of (author, last seq) */
	KX_F_WANT = 3,	/* [3, author, from, count]: send me these */
	KX_F_MSGS = 4,	/* [4, more]          + parts: requested messages */
	KX_F_FORK = 5	/* [5]               + 2 parts: a fork proof */
};

#define KX_F_PARTS_MAX	256	/* parts after a header */
#define KX_VEC_CHUNK	256	/* (author, seq) entries per VEC part */
#define KX_WANT_MAX	4096	/* messages one WANT may ask for */

typedef struct {
	int		 kind;
	bool		 flag;			/* VEC reply, MSGS more */
	uint8_t		 digest[KX_ID_LEN];	/* VEC */
	uint8_t		 author[KX_PK_LEN];	/* WANT */
	uint64_t	 from, count;		/* WANT */
} kx_frame_t;

typedef struct {
	uint8_t		 author[KX_PK_LEN];
	uint64_t	 seq;
} kx_vec_entry_t;

/* Appends the header of f to out. 0, or -1 out of memory. */
int	kx_frame_encode(kx_buf_t *out, const kx_frame_t *f);
/* Strict: KX_OK or KX_EDECODE with a reason. */
int	kx_frame_decode(kx_frame_t *f, const uint8_t *p, size_t n,
	    kx_why_t *why) __attribute__((warn_unused_result));
/* Appends one VEC chunk of n <= KX_VEC_CHUNK entries. 0 or -1. */
int	kx_vec_encode(kx_buf_t *out, const kx_vec_entry_t *e, size_t n);
/* Decodes a VEC chunk into e (room for KX_VEC_CHUNK); *n entries.
 * KX_OK or KX_EDECODE. */
int	kx_vec_decode(kx_vec_entry_t *e, size_t *n, const uint8_t *p,
	    size_t len, kx_why_t *why) __attribute__((warn_unused_result));

#endif
