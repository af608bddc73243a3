/*
 * fuzz_store.c - libFuzzer target for the store's validation of bodies
 * against federation state (node/store.c check_body, index_msg, revoke).
 *
 * Mutated wire bytes would fail the signature check before any body rule
 * runs, so this target signs what it is given: the first input byte picks
 * the type, the second the author (the operator or one of two admitted
 * members), the third the ts step, and the rest is the body, which goes
 * through the full import (decode, steps 3-7, indexes, held release) in a
 * store that lives for the whole fuzzing process. The store must stay
 * consistent: kx_store_verify runs every 256 inputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store.h"
#include "../testutil.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const types[] = {
	"member", "revoke", "market", "order", "cancel", "clear", "reading",
	"settle", "issue", "pay", "listing", "summary", "other",
};
#define NTYPES	(sizeof(types) / sizeof(types[0]))
#define NOW	1800000000000LL

static kx_store_t	*st;
static char		*dir;
static tkey_t		 keys[3];	/* operator, household, issuer */
static int64_t		 clock_ms = NOW;
static unsigned long	 runs;

static void
cleanup(void)
{
	kx_store_close(&st);
	if (dir != NULL)
		rm_rf(dir);
	free(dir);
}

static void
sign_and_import(const tkey_t *k, const char *type, const uint8_t *body,
    size_t len)
{
	kx_head_t	 h;
	kx_result_t	 r;
	kx_buf_t	 w;

	if (kx_store_head(st, k->pk, &h) < 0)
		abort();
	if (h.frozen_seq != 0)
		return;
	if (clock_ms < h.last_ts)
		clock_ms = h.last_ts;
	kx_buf_init(&w);
	if (kx_msg_sign(&w, k->sk, h.last_seq + 1, h.last_seq ? h.last_id :
	    NULL, clock_ms, type, body, len) == KX_OK &&
	    kx_store_import(st, w.data, w.len, clock_ms, &r, NULL, NULL) !=
	    KX_OK)
		abort();	/* a store error, not a validation outcome */
	kx_buf_free(&w);
}

static void
init(void)
{
	kx_why_t	 why;
	kx_buf_t	 b;
	char		 json[256], err[128];
	int		 i;

	if (sodium_init() < 0)
		abort();
	dir = tmpdir_new();
	if ((st = kx_store_open(dir, (size_t)1 << 30, &why)) == NULL)
		abort();
	atexit(cleanup);
	for (i = 0; i < 3; i++) {
		/* fixed keys, so that corpus bodies can name them */
		uint8_t	 seed[32];

		memset(seed, i + 1, sizeof(seed));
		crypto_sign_seed_keypair(keys[i].pk, keys[i].sk, seed);
		kx_hex(keys[i].hex, keys[i].pk, KX_PK_LEN);
	}
	if (kx_store_add_operator(st, keys[0].pk) != KX_OK)
		abort();
	kx_buf_init(&b);
	for (i = 1; i < 3; i++) {
		snprintf(json, sizeof(json), "{\"node\":\"%s\",\"role\":\"%s\","
		    "\"until\":0,\"cap\":1000}", keys[i].hex,
		    i == 1 ? "household" : "issuer");
		kx_buf_reset(&b);
		if (kx_json_to_mp(&b, json, strlen(json), kx_body_bin_paths(
		    "member"), err, sizeof(err)) != 0)
			abort();
		sign_and_import(&keys[0], "member", b.data, b.len);
	}
	kx_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kx_why_t	 why;

	if (st == NULL)
		init();
	if (size < 3 || size > KX_WIRE_MAX)
		return 0;
	clock_ms += data[2] * 1000;
	sign_and_import(&keys[data[1] % 3], types[data[0] % NTYPES], data + 3,
	    size - 3);
	if (++runs % 256 == 0 && kx_store_verify(st, &why) != KX_OK) {
		fprintf(stderr, "store inconsistent: %s\n", why.text);
		abort();
	}
	return 0;
}
