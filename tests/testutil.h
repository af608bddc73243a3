/*
 * testutil.h - small helpers shared by the cmocka tests: temporary
 * folders, keys, and signed messages built from JSON bodies.
 * Header-only (static functions) so each test binary stays one file.
 */
#ifndef KX_TESTUTIL_H
#define KX_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "body.h"
#include "buf.h"
#include "envelope.h"
#include "json.h"

typedef struct {
	uint8_t	pk[KX_PK_LEN];
	uint8_t	sk[KX_SK_LEN];
	char	hex[2 * KX_PK_LEN + 1];
} tkey_t;

static inline void
tkey_new(tkey_t *k)
{
	crypto_sign_keypair(k->pk, k->sk);
	kx_hex(k->hex, k->pk, KX_PK_LEN);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static inline void
rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new empty folder under /tmp; the caller frees and rm_rf's it. */
static inline char *
tmpdir_new(void)
{
	char	*d = strdup("/tmp/kaga-test-XXXXXX");

	if (d == NULL || mkdtemp(d) == NULL)
		abort();
	return d;
}

/*
 * Signs a message with explicit seq, prev and ts; body is JSON (bin fields
 * as hex per the type). Aborts on a bad test body.
 */
static inline void
tmsg(kx_buf_t *wire, const tkey_t *k, uint64_t seq, const uint8_t *prev,
    int64_t ts, const char *type, const char *json)
{
	kx_buf_t	 body;
	char		 err[256];

	kx_buf_init(&body);
	if (kx_json_to_mp(&body, json, strlen(json), kx_body_bin_paths(type),
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "bad test body %s: %s\n", json, err);
		abort();
	}
	kx_buf_reset(wire);
	if (kx_msg_sign(wire, k->sk, seq, prev, ts, type, body.data,
	    body.len) != KX_OK)
		abort();
	kx_buf_free(&body);
}

/* Parses "81 a1 61 01" (spaces optional) into b; returns the count. */
static inline size_t
unhex(const char *s, uint8_t *b, size_t cap)
{
	size_t		 n = 0;
	unsigned	 v;

	while (*s != '\0') {
		if (*s == ' ') {
			s++;
			continue;
		}
		if (n >= cap || sscanf(s, "%2x", &v) != 1)
			abort();
		b[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

/* The id of a wire message (which must decode). */
static inline void
tid(uint8_t id[KX_ID_LEN], const kx_buf_t *wire)
{
	kx_msg_t	 m;

	if (kx_msg_decode(&m, wire->data, wire->len, NULL) != KX_OK)
		abort();
	memcpy(id, m.id, KX_ID_LEN);
}

#endif
