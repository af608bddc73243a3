/*
 * test_envelope.c - the signed envelope (protocols/envelope.c): every
 * rejection rule of PROTOCOL.md section 3 and validation steps 1, 2 and 6.
 *
 * Messages are built two ways: with kx_msg_sign (the happy path, round
 * trips, the size limit), and by hand with msgpack-c and
 * crypto_sign_detached, field by field, so that each rule can be broken
 * alone while the signature stays valid. Every rejection is asserted by
 * its return code and by the reason text, which must start with the rule
 * word ("size:", "decode:", "version:", "signature:") and name the rule.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "testutil.h"

#define TS	1800000000000LL	/* a ts in 2027 */

static tkey_t	 key, other;

/*
 * Helpers
 */

static void
append_hex(kx_buf_t *b, const char *hex)
{
	uint8_t	 tmp[512];

	if (kx_buf_append(b, tmp, unhex(hex, tmp, sizeof(tmp))) != 0)
		abort();
}

/* Signs payload bytes with sk and wraps them: [payload, sig]. */
static void
wrap(kx_buf_t *wire, const uint8_t *payload, size_t n, const uint8_t *sk)
{
	msgpack_packer	 pk;
	uint8_t		 sig[KX_SIG_LEN];

	crypto_sign_detached(sig, NULL, payload, n, sk);
	kx_buf_reset(wire);
	msgpack_packer_init(&pk, wire, kx_buf_msgpack_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin(&pk, n);
	msgpack_pack_bin_body(&pk, payload, n);
	msgpack_pack_bin(&pk, KX_SIG_LEN);
	msgpack_pack_bin_body(&pk, sig, KX_SIG_LEN);
	if (wire->oom)
		abort();
}

/*
 * A payload built by hand, one encoded field at a time. hand_init fills
 * in a valid first message; a test replaces one field (hand_set returns a
 * packer writing that field) and calls hand_wire.
 */
enum { F_V, F_AUTHOR, F_SEQ, F_PREV, F_TS, F_TYPE, F_BODY, NF };

typedef struct {
	kx_buf_t	 f[NF];	/* each field's encoding */
	uint32_t	 n;	/* the payload array's length */
	kx_buf_t	 tail;	/* bytes after the last field, inside payload */
	kx_buf_t	 payload;
	kx_buf_t	 wire;
	msgpack_packer	 pk;
} hand_t;

static msgpack_packer *
hand_set(hand_t *h, int field)
{
	kx_buf_reset(&h->f[field]);
	msgpack_packer_init(&h->pk, &h->f[field], kx_buf_msgpack_write);
	return &h->pk;
}

static void
hand_set_hex(hand_t *h, int field, const char *hex)
{
	kx_buf_reset(&h->f[field]);
	append_hex(&h->f[field], hex);
}

static void
hand_body_json(hand_t *h, const char *json)
{
	char	 err[160];

	kx_buf_reset(&h->f[F_BODY]);
	if (kx_json_to_mp(&h->f[F_BODY], json, strlen(json), NULL, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "bad test body %s: %s\n", json, err);
		abort();
	}
}

static void
hand_init(hand_t *h)
{
	msgpack_packer	*pk;
	int		 i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < NF; i++)
		kx_buf_init(&h->f[i]);
	kx_buf_init(&h->tail);
	kx_buf_init(&h->payload);
	kx_buf_init(&h->wire);
	h->n = NF;
	msgpack_pack_uint64(hand_set(h, F_V), KX_VERSION);
	pk = hand_set(h, F_AUTHOR);
	msgpack_pack_bin(pk, KX_PK_LEN);
	msgpack_pack_bin_body(pk, key.pk, KX_PK_LEN);
	msgpack_pack_uint64(hand_set(h, F_SEQ), 1);
	msgpack_pack_nil(hand_set(h, F_PREV));
	msgpack_pack_int64(hand_set(h, F_TS), TS);
	pk = hand_set(h, F_TYPE);
	msgpack_pack_str(pk, 4);
	msgpack_pack_str_body(pk, "note", 4);
	hand_body_json(h, "{\"a\":1}");
}

/* Assembles the payload and the signed wire (into h->wire). */
static const kx_buf_t *
hand_wire(hand_t *h)
{
	msgpack_packer	 pk;
	uint32_t	 i;

	kx_buf_reset(&h->payload);
	msgpack_packer_init(&pk, &h->payload, kx_buf_msgpack_write);
	msgpack_pack_array(&pk, h->n);
	for (i = 0; i < h->n; i++) {
		if (i < NF)
			kx_buf_append(&h->payload, h->f[i].data, h->f[i].len);
		else
			msgpack_pack_nil(&pk);
	}
	kx_buf_append(&h->payload, h->tail.data, h->tail.len);
	if (h->payload.oom)
		abort();
	wrap(&h->wire, h->payload.data, h->payload.len, key.sk);
	return &h->wire;
}

static void
hand_free(hand_t *h)
{
	int	 i;

	for (i = 0; i < NF; i++)
		kx_buf_free(&h->f[i]);
	kx_buf_free(&h->tail);
	kx_buf_free(&h->payload);
	kx_buf_free(&h->wire);
}

/*
 * kx_msg_decode of (w, n) must return rc with a reason that starts with
 * `text` (which starts with the rule word).
 */
#define DEC_ERR(w, n, rc, text)	dec_err(w, n, rc, text, __FILE__, __LINE__)

static void
dec_err(const uint8_t *w, size_t n, int rc, const char *text,
    const char *file, int line)
{
	kx_msg_t	 m;
	kx_why_t	 why;
	int		 r;

	memset(&why, 0, sizeof(why));
	r = kx_msg_decode(&m, w, n, &why);
	if (r != rc || strncmp(why.text, text, strlen(text)) != 0) {
		print_error("decode: rc %d (%s), want %d (%s)\n", r,
		    kx_strerror(r), rc, kx_strerror(rc));
		print_error("reason: \"%s\"\nwant:   \"%s...\"\n", why.text,
		    text);
		_fail(file, line);
	}
	/* the same without a reason buffer */
	if (kx_msg_decode(&m, w, n, NULL) != rc)
		_fail(file, line);
}

/* The hand-built message must be refused by decode with rc and text. */
#define HAND_ERR(h, rc, text) do {					\
	const kx_buf_t *w_ = hand_wire(h);				\
	dec_err(w_->data, w_->len, rc, text, __FILE__, __LINE__);	\
} while (0)

/* kx_msg_decode must accept; returns into m. */
#define DEC_OK(m, w, n)	dec_ok(m, w, n, __FILE__, __LINE__)

static void
dec_ok(kx_msg_t *m, const uint8_t *w, size_t n, const char *file, int line)
{
	kx_why_t	 why;
	int		 r;

	memset(&why, 0, sizeof(why));
	if ((r = kx_msg_decode(m, w, n, &why)) != KX_OK) {
		print_error("decode: rc %d (%s): %s\n", r, kx_strerror(r),
		    why.text);
		_fail(file, line);
	}
}

/* The hand-built message must decode, verify and be of version 1. */
#define HAND_OK(h, m) do {						\
	const kx_buf_t *w_ = hand_wire(h);				\
	dec_ok(m, w_->data, w_->len, __FILE__, __LINE__);		\
	assert_int_equal(kx_msg_verify(m, NULL), KX_OK);		\
	assert_int_equal(kx_msg_check_version(m, NULL), KX_OK);	\
} while (0)

/* Signs a body given as JSON (bin fields per type) with key. */
static void
sign_json(kx_buf_t *wire, uint64_t seq, const uint8_t *prev, int64_t ts,
    const char *type, const char *json)
{
	tmsg(wire, &key, seq, prev, ts, type, json);
}

/* {"a": <n nested arrays around 1>} or maps {"a": {"a": ... 1}} */
static void
nest_json(char *out, size_t cap, int n, bool maps)
{
	size_t	 l = 0;
	int	 i;

	if (cap < (size_t)n * 6 + 16)
		abort();
	l += (size_t)snprintf(out + l, cap - l, "{\"a\":");
	for (i = 0; i < n; i++)
		l += (size_t)snprintf(out + l, cap - l, "%s",
		    maps ? "{\"a\":" : "[");
	l += (size_t)snprintf(out + l, cap - l, "1");
	for (i = 0; i < n; i++)
		l += (size_t)snprintf(out + l, cap - l, "%s", maps ? "}" : "]");
	snprintf(out + l, cap - l, "}");
}

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	tkey_new(&key);
	tkey_new(&other);
	return 0;
}

/*
 * Happy paths
 */

/* sign -> decode gives back every field; the id is BLAKE2b-256. */
static void
test_roundtrip(void **state)
{
	kx_buf_t	 w1, w2, body;
	kx_msg_t	 m1, m2;
	uint8_t		 id[KX_ID_LEN];
	char		 err[128];
	const char	*json = "{\"cur\":\"health\",\"to\":\"0101010101010101"
			    "010101010101010101010101010101010101010101010101"
			    "\",\"amount\":5,\"memo\":\"\xe3\x81\x82\"}";

	(void)state;
	kx_buf_init(&w1);
	kx_buf_init(&w2);
	kx_buf_init(&body);
	assert_int_equal(kx_json_to_mp(&body, json, strlen(json),
	    kx_body_bin_paths("pay"), err, sizeof(err)), 0);
	assert_int_equal(kx_msg_sign(&w1, key.sk, 1, NULL, TS, "pay",
	    body.data, body.len), KX_OK);
	DEC_OK(&m1, w1.data, w1.len);
	assert_ptr_equal(m1.wire, w1.data);
	assert_int_equal(m1.wire_len, w1.len);
	assert_true(m1.payload > w1.data && m1.payload + m1.payload_len +
	    2 + KX_SIG_LEN == w1.data + w1.len);
	assert_ptr_equal(m1.sig, w1.data + w1.len - KX_SIG_LEN);
	assert_int_equal(m1.v, 1);
	assert_memory_equal(m1.author, key.pk, KX_PK_LEN);
	assert_int_equal(m1.seq, 1);
	assert_null(m1.prev);
	assert_true(m1.ts == TS);
	assert_string_equal(m1.type, "pay");
	assert_int_equal(m1.body_len, body.len);
	assert_memory_equal(m1.body, body.data, body.len);
	assert_ptr_equal(m1.body + m1.body_len, m1.payload + m1.payload_len);
	crypto_generichash(id, sizeof(id), m1.payload, m1.payload_len,
	    NULL, 0);
	assert_memory_equal(m1.id, id, KX_ID_LEN);
	assert_int_equal(kx_msg_check_version(&m1, NULL), KX_OK);
	assert_int_equal(kx_msg_verify(&m1, NULL), KX_OK);
	assert_int_equal(crypto_sign_verify_detached(m1.sig, m1.payload,
	    m1.payload_len, key.pk), 0);

	/* the next message chains to the first */
	assert_int_equal(kx_msg_sign(&w2, key.sk, 2, m1.id, TS + 1, "pay",
	    body.data, body.len), KX_OK);
	DEC_OK(&m2, w2.data, w2.len);
	assert_int_equal(m2.seq, 2);
	assert_non_null(m2.prev);
	assert_memory_equal(m2.prev, m1.id, KX_ID_LEN);
	assert_true(m2.ts == TS + 1);
	assert_int_equal(kx_msg_verify(&m2, NULL), KX_OK);
	assert_memory_not_equal(m2.id, m1.id, KX_ID_LEN);
	kx_msg_id(id, m2.payload, m2.payload_len);
	assert_memory_equal(m2.id, id, KX_ID_LEN);
	crypto_generichash(id, sizeof(id), m2.payload, m2.payload_len,
	    NULL, 0);
	assert_memory_equal(m2.id, id, KX_ID_LEN);

	kx_buf_free(&w1);
	kx_buf_free(&w2);
	kx_buf_free(&body);
}

/* The id covers the payload only: a different sig gives the same id. */
static void
test_id_is_payload_hash(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;
	kx_buf_t	 w2;
	uint8_t		 id[KX_ID_LEN], id1[KX_ID_LEN];

	(void)state;
	kx_buf_init(&w2);
	hand_init(&h);
	HAND_OK(&h, &m);
	crypto_generichash(id, sizeof(id), h.payload.data, h.payload.len,
	    NULL, 0);
	assert_memory_equal(m.id, id, KX_ID_LEN);
	memcpy(id1, m.id, KX_ID_LEN);
	/* same payload, signed by another key: same id, bad signature */
	wrap(&w2, h.payload.data, h.payload.len, other.sk);
	DEC_OK(&m, w2.data, w2.len);
	assert_memory_equal(m.id, id1, KX_ID_LEN);
	assert_int_equal(kx_msg_verify(&m, NULL), KX_ESIG);
	kx_buf_free(&w2);
	hand_free(&h);
}

static void
test_sign_args(void **state)
{
	kx_buf_t	 w;
	uint8_t		 prev[KX_ID_LEN] = { 1 };
	const uint8_t	 body[] = { 0x80 };
	kx_msg_t	 m;

	(void)state;
	kx_buf_init(&w);
	assert_int_equal(kx_msg_sign(&w, key.sk, 0, NULL, TS, "note", body,
	    sizeof(body)), KX_EARG);
	assert_int_equal(kx_msg_sign(&w, key.sk, 1, prev, TS, "note", body,
	    sizeof(body)), KX_EARG);
	assert_int_equal(kx_msg_sign(&w, key.sk, 2, NULL, TS, "note", body,
	    sizeof(body)), KX_EARG);
	assert_int_equal(kx_msg_sign(&w, key.sk, 1, NULL, TS,
	    "seventeen_bytes_x", body, sizeof(body)), KX_EARG);
	assert_int_equal(w.len, 0);
	assert_int_equal(kx_msg_sign(&w, key.sk, 1, NULL, TS,
	    "sixteen_bytes_xx", body, sizeof(body)), KX_OK);
	DEC_OK(&m, w.data, w.len);
	assert_string_equal(m.type, "sixteen_bytes_xx");
	assert_int_equal(kx_msg_verify(&m, NULL), KX_OK);
	kx_buf_free(&w);
}

/* An unknown type with unknown keys and any value types decodes. */
static void
test_unknown_type_and_keys(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;
	kx_buf_t	 w;

	(void)state;
	kx_buf_init(&w);
	hand_init(&h);
	hand_set_hex(&h, F_TYPE, "a7 77 65 61 74 68 65 72");	/* weather */
	/* {"t": 1.5, "x": [nil, true, ext], "y": {1: bin}} */
	hand_set_hex(&h, F_BODY, "83 a1 74 cb 3f f8 00 00 00 00 00 00"
	    " a1 78 93 c0 c3 d4 01 00 a1 79 81 01 c4 01 ff");
	HAND_OK(&h, &m);
	assert_string_equal(m.type, "weather");
	assert_int_equal(m.body_len, h.f[F_BODY].len);
	/* a known type with keys nobody knows */
	sign_json(&w, 1, NULL, TS, "listing", "{\"kind\":\"offer\","
	    "\"cur\":\"time\",\"title\":\"t\",\"until\":0,\"zz\":[1,2],"
	    "\"future\":{\"k\":\"v\"}}");
	DEC_OK(&m, w.data, w.len);
	assert_string_equal(m.type, "listing");
	assert_int_equal(kx_msg_verify(&m, NULL), KX_OK);
	/* the empty type is an unknown type */
	hand_set_hex(&h, F_TYPE, "a0");
	HAND_OK(&h, &m);
	assert_string_equal(m.type, "");
	kx_buf_free(&w);
	hand_free(&h);
}

static void
test_negative_ts(void **state)
{
	kx_buf_t	 w;
	kx_msg_t	 m;
	hand_t		 h;

	(void)state;
	kx_buf_init(&w);
	sign_json(&w, 1, NULL, -1, "note", "{}");
	DEC_OK(&m, w.data, w.len);
	assert_true(m.ts == -1);
	assert_int_equal(kx_msg_verify(&m, NULL), KX_OK);
	sign_json(&w, 1, NULL, INT64_MIN, "note", "{}");
	DEC_OK(&m, w.data, w.len);
	assert_true(m.ts == INT64_MIN);
	sign_json(&w, 1, NULL, INT64_MAX, "note", "{}");
	DEC_OK(&m, w.data, w.len);
	assert_true(m.ts == INT64_MAX);
	/* ts 0 as uint, and INT64_MAX as uint64 */
	hand_init(&h);
	hand_set_hex(&h, F_TS, "00");
	HAND_OK(&h, &m);
	assert_true(m.ts == 0);
	hand_set_hex(&h, F_TS, "cf 7f ff ff ff ff ff ff ff");
	HAND_OK(&h, &m);
	assert_true(m.ts == INT64_MAX);
	hand_set_hex(&h, F_TS, "d0 80");
	HAND_OK(&h, &m);
	assert_true(m.ts == -128);
	hand_free(&h);
	kx_buf_free(&w);
}

/* Types, not formats: any integer, str or bin format is accepted. */
static void
test_other_encodings(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;
	uint8_t		 a[2 + 3 + KX_PK_LEN];

	(void)state;
	hand_init(&h);
	hand_set_hex(&h, F_V, "cf 00 00 00 00 00 00 00 01");
	hand_set_hex(&h, F_SEQ, "d0 01");
	hand_set_hex(&h, F_TYPE, "d9 04 6e 6f 74 65");
	hand_set_hex(&h, F_BODY, "de 00 01 da 00 01 61 d3 00 00 00 00 00 00"
	    " 00 01");
	/* author as bin16 */
	a[0] = 0xc5;
	a[1] = 0x00;
	a[2] = KX_PK_LEN;
	memcpy(a + 3, key.pk, KX_PK_LEN);
	kx_buf_reset(&h.f[F_AUTHOR]);
	kx_buf_append(&h.f[F_AUTHOR], a, 3 + KX_PK_LEN);
	HAND_OK(&h, &m);
	assert_int_equal(m.v, 1);
	assert_int_equal(m.seq, 1);
	assert_string_equal(m.type, "note");
	assert_memory_equal(m.author, key.pk, KX_PK_LEN);
	hand_free(&h);
}

/*
 * Step 1: size
 */

/* A signed message whose wire is exactly `want` bytes. */
static void
sized_msg(kx_buf_t *w, size_t want)
{
	char	*json;
	size_t	 pad = want - 200;
	int	 i;

	for (i = 0; i < 8; i++) {
		if ((json = malloc(pad + 16)) == NULL)
			abort();
		memcpy(json, "{\"p\":\"", 6);
		memset(json + 6, 'x', pad);
		memcpy(json + 6 + pad, "\"}", 3);
		sign_json(w, 1, NULL, TS, "note", json);
		free(json);
		if (w->len == want)
			return;
		pad = pad + want - w->len;
	}
	abort();
}

static void
test_size(void **state)
{
	kx_buf_t	 w;
	kx_msg_t	 m;
	uint8_t		*big;

	(void)state;
	kx_buf_init(&w);
	sized_msg(&w, KX_WIRE_MAX);
	assert_int_equal(w.len, 16384);
	DEC_OK(&m, w.data, w.len);
	assert_int_equal(kx_msg_verify(&m, NULL), KX_OK);

	sized_msg(&w, KX_WIRE_MAX + 1);
	assert_int_equal(w.len, 16385);
	DEC_ERR(w.data, w.len, KX_ESIZE,
	    "size: 16385 bytes is over the 16384 byte limit");

	/* the size is judged before anything is read */
	if ((big = calloc(1, 1 << 20)) == NULL)
		abort();
	DEC_ERR(big, 1 << 20, KX_ESIZE, "size: 1048576 bytes");
	DEC_ERR(big, KX_WIRE_MAX + 1, KX_ESIZE, "size: ");
	DEC_ERR(big, KX_WIRE_MAX, KX_EDECODE, "decode: wire has the wrong "
	    "type");
	free(big);
	kx_buf_free(&w);
}

/*
 * Step 1: the wire array
 */

static void
test_trailing_after_wire(void **state)
{
	kx_buf_t	 w;
	kx_msg_t	 m;
	uint8_t		*copy;

	(void)state;
	kx_buf_init(&w);
	sign_json(&w, 1, NULL, TS, "note", "{\"a\":1}");
	DEC_OK(&m, w.data, w.len);
	kx_buf_putc(&w, 0x00);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: trailing bytes after "
	    "wire");
	w.len--;
	kx_buf_putc(&w, 0xc0);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: trailing bytes after "
	    "wire");
	/* a whole second message after the first */
	w.len--;
	copy = malloc(w.len);
	assert_non_null(copy);
	memcpy(copy, w.data, w.len);
	kx_buf_append(&w, copy, w.len);
	free(copy);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: trailing bytes after "
	    "wire");
	kx_buf_free(&w);
}

/* Every proper prefix of a message is refused. */
static void
test_truncated_wire(void **state)
{
	kx_buf_t	 w;
	kx_msg_t	 m;
	kx_why_t	 why;
	size_t		 k;

	(void)state;
	kx_buf_init(&w);
	sign_json(&w, 1, NULL, TS, "order", "{\"slot\":1800000000,"
	    "\"side\":\"buy\",\"steps\":[[100,3000]]}");
	for (k = 0; k < w.len; k++) {
		if (kx_msg_decode(&m, w.data, k, &why) != KX_EDECODE ||
		    strncmp(why.text, "decode: ", 8) != 0) {
			print_error("cut to %zu of %zu bytes: %s\n", k,
			    w.len, why.text);
			fail();
		}
	}
	DEC_ERR(w.data, 0, KX_EDECODE, "decode: wire: truncated");
	DEC_ERR(w.data, 1, KX_EDECODE, "decode: payload: truncated");
	DEC_ERR(w.data, w.len - 1, KX_EDECODE, "decode: sig: truncated");
	DEC_OK(&m, w.data, w.len);
	kx_buf_free(&w);
}

static void
test_wire_shape(void **state)
{
	hand_t		 h;
	kx_buf_t	 w;
	msgpack_packer	 pk;
	uint8_t		 sig[KX_SIG_LEN + 1];

	(void)state;
	kx_buf_init(&w);
	hand_init(&h);
	hand_wire(&h);
	crypto_sign_detached(sig, NULL, h.payload.data, h.payload.len,
	    key.sk);
	sig[KX_SIG_LEN] = 0;
	msgpack_packer_init(&pk, &w, kx_buf_msgpack_write);

	/* wire array of 1 and of 3 */
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_bin(&pk, h.payload.len);
	msgpack_pack_bin_body(&pk, h.payload.data, h.payload.len);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: wire must be an array "
	    "of 2, not 1");
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_bin(&pk, h.payload.len);
	msgpack_pack_bin_body(&pk, h.payload.data, h.payload.len);
	msgpack_pack_bin(&pk, KX_SIG_LEN);
	msgpack_pack_bin_body(&pk, sig, KX_SIG_LEN);
	msgpack_pack_nil(&pk);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: wire must be an array "
	    "of 2, not 3");
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 0);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: wire must be an array "
	    "of 2, not 0");

	/* wire not an array */
	kx_buf_reset(&w);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_bin(&pk, h.payload.len);
	msgpack_pack_bin_body(&pk, h.payload.data, h.payload.len);
	msgpack_pack_bin(&pk, KX_SIG_LEN);
	msgpack_pack_bin_body(&pk, sig, KX_SIG_LEN);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: wire has the wrong type");
	kx_buf_reset(&w);
	msgpack_pack_bin(&pk, h.payload.len);
	msgpack_pack_bin_body(&pk, h.payload.data, h.payload.len);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: wire has the wrong type");
	DEC_ERR((const uint8_t *)"\xc1", 1, KX_EDECODE, "decode: wire: "
	    "invalid format byte 0xc1");

	/* payload of the wrong type: str, the payload array itself, nil */
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str(&pk, h.payload.len);
	msgpack_pack_str_body(&pk, h.payload.data, h.payload.len);
	msgpack_pack_bin(&pk, KX_SIG_LEN);
	msgpack_pack_bin_body(&pk, sig, KX_SIG_LEN);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: payload has the wrong "
	    "type");
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 2);
	kx_buf_append(&w, h.payload.data, h.payload.len);
	msgpack_pack_bin(&pk, KX_SIG_LEN);
	msgpack_pack_bin_body(&pk, sig, KX_SIG_LEN);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: payload has the wrong "
	    "type");
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_nil(&pk);
	msgpack_pack_bin(&pk, KX_SIG_LEN);
	msgpack_pack_bin_body(&pk, sig, KX_SIG_LEN);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: payload has the wrong "
	    "type");

	/* sig: bin(63), bin(65), bin(0), str(64), missing */
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin(&pk, h.payload.len);
	msgpack_pack_bin_body(&pk, h.payload.data, h.payload.len);
	msgpack_pack_bin(&pk, KX_SIG_LEN - 1);
	msgpack_pack_bin_body(&pk, sig, KX_SIG_LEN - 1);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: sig must be bin(64), "
	    "not bin(63)");
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin(&pk, h.payload.len);
	msgpack_pack_bin_body(&pk, h.payload.data, h.payload.len);
	msgpack_pack_bin(&pk, KX_SIG_LEN + 1);
	msgpack_pack_bin_body(&pk, sig, KX_SIG_LEN + 1);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: sig must be bin(64), "
	    "not bin(65)");
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin(&pk, h.payload.len);
	msgpack_pack_bin_body(&pk, h.payload.data, h.payload.len);
	msgpack_pack_bin(&pk, 0);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: sig must be bin(64), "
	    "not bin(0)");
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin(&pk, h.payload.len);
	msgpack_pack_bin_body(&pk, h.payload.data, h.payload.len);
	msgpack_pack_str(&pk, KX_SIG_LEN);
	msgpack_pack_str_body(&pk, sig, KX_SIG_LEN);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: sig has the wrong type");
	kx_buf_reset(&w);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin(&pk, h.payload.len);
	msgpack_pack_bin_body(&pk, h.payload.data, h.payload.len);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: sig: truncated");

	hand_free(&h);
	kx_buf_free(&w);
}

/*
 * Step 1: the payload array
 */

static void
test_payload_shape(void **state)
{
	hand_t		 h;
	kx_buf_t	 w;
	kx_msg_t	 m;

	(void)state;
	kx_buf_init(&w);
	hand_init(&h);
	HAND_OK(&h, &m);
	h.n = 6;
	HAND_ERR(&h, KX_EDECODE, "decode: payload must be an array of 7, "
	    "not 6");
	h.n = 8;
	HAND_ERR(&h, KX_EDECODE, "decode: payload must be an array of 7, "
	    "not 8");
	h.n = 0;
	HAND_ERR(&h, KX_EDECODE, "decode: payload must be an array of 7, "
	    "not 0");
	h.n = 7;

	/* trailing bytes inside payload, after the body */
	append_hex(&h.tail, "c0");
	HAND_ERR(&h, KX_EDECODE, "decode: trailing bytes inside payload");
	kx_buf_reset(&h.tail);
	append_hex(&h.tail, "00");
	HAND_ERR(&h, KX_EDECODE, "decode: trailing bytes inside payload");
	kx_buf_reset(&h.tail);
	append_hex(&h.tail, "81 a1 62 02");
	HAND_ERR(&h, KX_EDECODE, "decode: trailing bytes inside payload");
	kx_buf_reset(&h.tail);
	HAND_OK(&h, &m);

	/* the payload bin holds no array, or nothing */
	wrap(&w, (const uint8_t *)"\x81\xa1\x61\x01", 4, key.sk);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: payload has the wrong "
	    "type");
	wrap(&w, (const uint8_t *)"", 0, key.sk);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: payload: truncated");
	/* the payload ends inside the body */
	hand_wire(&h);
	wrap(&w, h.payload.data, h.payload.len - 1, key.sk);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: body: truncated");
	/* ... or before it */
	wrap(&w, h.payload.data, h.payload.len - h.f[F_BODY].len, key.sk);
	DEC_ERR(w.data, w.len, KX_EDECODE, "decode: body truncated");
	hand_free(&h);
	kx_buf_free(&w);
}

/*
 * Step 1: the seven fields, each of the wrong type or size
 */

static void
test_field_v(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;

	(void)state;
	hand_init(&h);
	hand_set_hex(&h, F_V, "a1 31");
	HAND_ERR(&h, KX_EDECODE, "decode: v has the wrong type");
	hand_set_hex(&h, F_V, "ff");
	HAND_ERR(&h, KX_EDECODE, "decode: v has the wrong type");
	hand_set_hex(&h, F_V, "c0");
	HAND_ERR(&h, KX_EDECODE, "decode: v has the wrong type");
	hand_set_hex(&h, F_V, "ca 3f 80 00 00");
	HAND_ERR(&h, KX_EDECODE, "decode: v has the wrong type");
	hand_set_hex(&h, F_V, "c1");
	HAND_ERR(&h, KX_EDECODE, "decode: v: invalid format byte 0xc1");
	hand_set_hex(&h, F_V, "01");
	HAND_OK(&h, &m);
	hand_free(&h);
}

static void
test_field_author(void **state)
{
	hand_t		 h;
	msgpack_packer	*pk;
	kx_msg_t	 m;

	(void)state;
	hand_init(&h);
	pk = hand_set(&h, F_AUTHOR);
	msgpack_pack_bin(pk, KX_PK_LEN - 1);
	msgpack_pack_bin_body(pk, key.pk, KX_PK_LEN - 1);
	HAND_ERR(&h, KX_EDECODE, "decode: author must be bin(32), not "
	    "bin(31)");
	pk = hand_set(&h, F_AUTHOR);
	msgpack_pack_bin(pk, KX_PK_LEN + 1);
	msgpack_pack_bin_body(pk, key.pk, KX_PK_LEN);
	msgpack_pack_nil(pk);	/* the 33rd byte, inside the bin */
	HAND_ERR(&h, KX_EDECODE, "decode: author must be bin(32), not "
	    "bin(33)");
	pk = hand_set(&h, F_AUTHOR);
	msgpack_pack_str(pk, KX_PK_LEN);
	msgpack_pack_str_body(pk, key.pk, KX_PK_LEN);
	HAND_ERR(&h, KX_EDECODE, "decode: author has the wrong type");
	hand_set_hex(&h, F_AUTHOR, "c0");
	HAND_ERR(&h, KX_EDECODE, "decode: author has the wrong type");
	pk = hand_set(&h, F_AUTHOR);
	msgpack_pack_bin(pk, KX_PK_LEN);
	msgpack_pack_bin_body(pk, key.pk, KX_PK_LEN);
	HAND_OK(&h, &m);
	hand_free(&h);
}

static void
test_field_seq(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;

	(void)state;
	hand_init(&h);
	hand_set_hex(&h, F_SEQ, "00");
	HAND_ERR(&h, KX_EDECODE, "decode: seq must be at least 1");
	hand_set_hex(&h, F_SEQ, "d3 00 00 00 00 00 00 00 00");
	HAND_ERR(&h, KX_EDECODE, "decode: seq must be at least 1");
	hand_set_hex(&h, F_SEQ, "ff");
	HAND_ERR(&h, KX_EDECODE, "decode: seq has the wrong type");
	hand_set_hex(&h, F_SEQ, "a1 31");
	HAND_ERR(&h, KX_EDECODE, "decode: seq has the wrong type");
	hand_set_hex(&h, F_SEQ, "cb 3f f0 00 00 00 00 00 00");
	HAND_ERR(&h, KX_EDECODE, "decode: seq has the wrong type");
	hand_set_hex(&h, F_SEQ, "01");
	HAND_OK(&h, &m);
	assert_int_equal(m.seq, 1);
	hand_free(&h);
}

static void
test_field_prev(void **state)
{
	hand_t		 h;
	msgpack_packer	*pk;
	kx_msg_t	 m;
	uint8_t		 id[KX_ID_LEN + 1];

	(void)state;
	memset(id, 0xab, sizeof(id));
	hand_init(&h);
	/* nil with seq 2 */
	hand_set_hex(&h, F_SEQ, "02");
	HAND_ERR(&h, KX_EDECODE, "decode: prev is nil but seq is not 1");
	/* bin(32) with seq 2: fine */
	pk = hand_set(&h, F_PREV);
	msgpack_pack_bin(pk, KX_ID_LEN);
	msgpack_pack_bin_body(pk, id, KX_ID_LEN);
	HAND_OK(&h, &m);
	assert_int_equal(m.seq, 2);
	assert_memory_equal(m.prev, id, KX_ID_LEN);
	/* bin(32) with seq 1 */
	hand_set_hex(&h, F_SEQ, "01");
	HAND_ERR(&h, KX_EDECODE, "decode: prev must be nil when seq is 1");
	hand_set_hex(&h, F_SEQ, "02");
	/* bin(31), bin(33) */
	pk = hand_set(&h, F_PREV);
	msgpack_pack_bin(pk, KX_ID_LEN - 1);
	msgpack_pack_bin_body(pk, id, KX_ID_LEN - 1);
	HAND_ERR(&h, KX_EDECODE, "decode: prev must be bin(32), not "
	    "bin(31)");
	pk = hand_set(&h, F_PREV);
	msgpack_pack_bin(pk, KX_ID_LEN + 1);
	msgpack_pack_bin_body(pk, id, KX_ID_LEN + 1);
	HAND_ERR(&h, KX_EDECODE, "decode: prev must be bin(32), not "
	    "bin(33)");
	/* wrong types */
	pk = hand_set(&h, F_PREV);
	msgpack_pack_str(pk, KX_ID_LEN);
	msgpack_pack_str_body(pk, id, KX_ID_LEN);
	HAND_ERR(&h, KX_EDECODE, "decode: prev has the wrong type");
	hand_set_hex(&h, F_PREV, "c2");
	HAND_ERR(&h, KX_EDECODE, "decode: prev has the wrong type");
	hand_set_hex(&h, F_PREV, "00");
	HAND_ERR(&h, KX_EDECODE, "decode: prev has the wrong type");
	hand_set_hex(&h, F_PREV, "c1");
	HAND_ERR(&h, KX_EDECODE, "decode: prev: invalid format byte 0xc1");
	hand_free(&h);
}

static void
test_field_ts(void **state)
{
	hand_t		 h;
	msgpack_packer	*pk;

	(void)state;
	hand_init(&h);
	msgpack_pack_double(hand_set(&h, F_TS), 1.8e12);
	HAND_ERR(&h, KX_EDECODE, "decode: ts must be an int64");
	msgpack_pack_float(hand_set(&h, F_TS), 1.0f);
	HAND_ERR(&h, KX_EDECODE, "decode: ts must be an int64");
	/* uint64 above INT64_MAX */
	msgpack_pack_uint64(hand_set(&h, F_TS), (uint64_t)INT64_MAX + 1);
	HAND_ERR(&h, KX_EDECODE, "decode: ts must be an int64");
	msgpack_pack_uint64(hand_set(&h, F_TS), UINT64_MAX);
	HAND_ERR(&h, KX_EDECODE, "decode: ts must be an int64");
	pk = hand_set(&h, F_TS);
	msgpack_pack_str(pk, 2);
	msgpack_pack_str_body(pk, "18", 2);
	HAND_ERR(&h, KX_EDECODE, "decode: ts must be an int64");
	msgpack_pack_nil(hand_set(&h, F_TS));
	HAND_ERR(&h, KX_EDECODE, "decode: ts must be an int64");
	hand_set_hex(&h, F_TS, "c1");
	HAND_ERR(&h, KX_EDECODE, "decode: ts: invalid format byte 0xc1");
	hand_free(&h);
}

static void
test_field_type(void **state)
{
	hand_t		 h;
	msgpack_packer	*pk;
	kx_msg_t	 m;

	(void)state;
	hand_init(&h);
	/* 16 bytes accepted, 17 refused (kx_msg_sign refuses to build it) */
	pk = hand_set(&h, F_TYPE);
	msgpack_pack_str(pk, 16);
	msgpack_pack_str_body(pk, "abcdefghijklmnop", 16);
	HAND_OK(&h, &m);
	assert_string_equal(m.type, "abcdefghijklmnop");
	pk = hand_set(&h, F_TYPE);
	msgpack_pack_str(pk, 17);
	msgpack_pack_str_body(pk, "abcdefghijklmnopq", 17);
	HAND_ERR(&h, KX_EDECODE, "decode: type is longer than 16 bytes");
	/* 16 bytes of multi-byte UTF-8 are fine */
	hand_set_hex(&h, F_TYPE, "b0 e3 81 82 e3 81 82 e3 81 82 e3 81 82"
	    " c3 a9 c3 a9");
	HAND_OK(&h, &m);
	assert_int_equal(strlen(m.type), 16);
	/* not UTF-8 */
	hand_set_hex(&h, F_TYPE, "a4 6e 6f 74 ff");
	HAND_ERR(&h, KX_EDECODE, "decode: type is not UTF-8");
	hand_set_hex(&h, F_TYPE, "a2 c0 80");
	HAND_ERR(&h, KX_EDECODE, "decode: type is not UTF-8");
	hand_set_hex(&h, F_TYPE, "a3 ed a0 80");
	HAND_ERR(&h, KX_EDECODE, "decode: type is not UTF-8");
	/* a NUL would hide another type name */
	hand_set_hex(&h, F_TYPE, "a4 70 61 79 00");
	HAND_ERR(&h, KX_EDECODE, "decode: type contains a NUL byte");
	/* wrong types */
	hand_set_hex(&h, F_TYPE, "c4 04 6e 6f 74 65");
	HAND_ERR(&h, KX_EDECODE, "decode: type has the wrong type");
	hand_set_hex(&h, F_TYPE, "01");
	HAND_ERR(&h, KX_EDECODE, "decode: type has the wrong type");
	hand_set_hex(&h, F_TYPE, "c0");
	HAND_ERR(&h, KX_EDECODE, "decode: type has the wrong type");
	hand_free(&h);
}

static void
test_field_body(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;

	(void)state;
	hand_init(&h);
	/* not a map */
	hand_set_hex(&h, F_BODY, "91 01");
	HAND_ERR(&h, KX_EDECODE, "decode: body must be a map");
	hand_set_hex(&h, F_BODY, "c0");
	HAND_ERR(&h, KX_EDECODE, "decode: body must be a map");
	hand_set_hex(&h, F_BODY, "a1 61");
	HAND_ERR(&h, KX_EDECODE, "decode: body must be a map");
	hand_set_hex(&h, F_BODY, "c4 01 80");
	HAND_ERR(&h, KX_EDECODE, "decode: body must be a map");
	/* a key that is not a string */
	hand_set_hex(&h, F_BODY, "81 01 01");
	HAND_ERR(&h, KX_EDECODE, "decode: body: map key is not a string");
	hand_set_hex(&h, F_BODY, "82 a1 61 01 c4 01 62 02");
	HAND_ERR(&h, KX_EDECODE, "decode: body: map key is not a string");
	hand_set_hex(&h, F_BODY, "81 c0 01");
	HAND_ERR(&h, KX_EDECODE, "decode: body: map key is not a string");
	/* ... allowed in maps nested inside */
	hand_set_hex(&h, F_BODY, "81 a1 61 81 01 01");
	HAND_OK(&h, &m);
	/* the empty map */
	hand_set_hex(&h, F_BODY, "80");
	HAND_OK(&h, &m);
	assert_int_equal(m.body_len, 1);
	hand_free(&h);
}

static void
test_body_dupkeys(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;

	(void)state;
	hand_init(&h);
	hand_set_hex(&h, F_BODY, "82 a1 61 01 a1 61 02");
	HAND_ERR(&h, KX_EDECODE, "decode: body: duplicate map key");
	/* the same key as fixstr and as str8 */
	hand_set_hex(&h, F_BODY, "82 a1 61 01 d9 01 61 01");
	HAND_ERR(&h, KX_EDECODE, "decode: body: duplicate map key");
	/* in a nested map, in a map inside an array, with integer keys */
	hand_set_hex(&h, F_BODY, "81 a1 6d 82 a1 78 01 a1 78 02");
	HAND_ERR(&h, KX_EDECODE, "decode: body: duplicate map key");
	hand_set_hex(&h, F_BODY, "81 a1 6c 92 80 82 a1 79 c0 a1 79 c0");
	HAND_ERR(&h, KX_EDECODE, "decode: body: duplicate map key");
	hand_set_hex(&h, F_BODY, "81 a1 6d 82 01 c0 cc 01 c0");
	HAND_ERR(&h, KX_EDECODE, "decode: body: duplicate map key");
	/* no duplicates: a and b; x in two different maps */
	hand_set_hex(&h, F_BODY, "82 a1 61 81 a1 78 01 a1 62 81 a1 78 01");
	HAND_OK(&h, &m);
	hand_free(&h);
}

static void
test_body_depth(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;
	char		 json[256];

	(void)state;
	hand_init(&h);
	/* the body map is level 1; 8 levels may nest inside it */
	nest_json(json, sizeof(json), 8, false);
	hand_body_json(&h, json);
	HAND_OK(&h, &m);
	nest_json(json, sizeof(json), 9, false);
	hand_body_json(&h, json);
	HAND_ERR(&h, KX_EDECODE, "decode: body nests arrays or maps more "
	    "than 8 deep");
	nest_json(json, sizeof(json), 8, true);
	hand_body_json(&h, json);
	HAND_OK(&h, &m);
	nest_json(json, sizeof(json), 9, true);
	hand_body_json(&h, json);
	HAND_ERR(&h, KX_EDECODE, "decode: body nests arrays or maps more "
	    "than 8 deep");
	/* mixed, and only the deepest branch counts */
	hand_body_json(&h, "{\"a\":[{\"b\":[{\"c\":[{\"d\":[{\"e\":1}]}]}]}],"
	    "\"z\":1}");
	HAND_OK(&h, &m);
	hand_body_json(&h, "{\"a\":[{\"b\":[{\"c\":[{\"d\":[{\"e\":[]}]}]}]}],"
	    "\"z\":1}");
	HAND_ERR(&h, KX_EDECODE, "decode: body nests arrays or maps more "
	    "than 8 deep");
	hand_body_json(&h, "{\"z\":1,\"a\":[1,[[[[[[[[2]]]]]]]]]}");
	HAND_ERR(&h, KX_EDECODE, "decode: body nests arrays or maps more "
	    "than 8 deep");
	hand_free(&h);
}

static void
test_body_utf8(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;

	(void)state;
	hand_init(&h);
	/* {"a": [[{"b": [<bad>]}]]} */
	hand_set_hex(&h, F_BODY, "81 a1 61 91 91 81 a1 62 91 a2 c0 80");
	HAND_ERR(&h, KX_EDECODE, "decode: body: string is not UTF-8");
	hand_set_hex(&h, F_BODY, "81 a1 61 91 91 81 a1 62 91 a3 ed a0 80");
	HAND_ERR(&h, KX_EDECODE, "decode: body: string is not UTF-8");
	hand_set_hex(&h, F_BODY, "81 a1 61 91 91 81 a1 62 91 a4 f4 90 80 80");
	HAND_ERR(&h, KX_EDECODE, "decode: body: string is not UTF-8");
	/* in a key, and in a key of a nested map */
	hand_set_hex(&h, F_BODY, "81 a1 ff 01");
	HAND_ERR(&h, KX_EDECODE, "decode: body: string is not UTF-8");
	hand_set_hex(&h, F_BODY, "81 a1 61 81 a2 e3 81 01");
	HAND_ERR(&h, KX_EDECODE, "decode: body: string is not UTF-8");
	/* valid multi-byte text deep inside */
	hand_set_hex(&h, F_BODY, "81 a1 61 91 91 81 a1 62 91 a4 f0 9f 98 80");
	HAND_OK(&h, &m);
	/* 0xc1 inside the body */
	hand_set_hex(&h, F_BODY, "81 a1 61 91 c1");
	HAND_ERR(&h, KX_EDECODE, "decode: body: invalid format byte 0xc1");
	hand_free(&h);
}

/*
 * Step 2: the version
 */

static void
test_version(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;
	kx_why_t	 why;

	(void)state;
	hand_init(&h);
	hand_set_hex(&h, F_V, "02");
	hand_wire(&h);
	DEC_OK(&m, h.wire.data, h.wire.len);
	assert_int_equal(m.v, 2);
	assert_int_equal(kx_msg_verify(&m, NULL), KX_OK);
	memset(&why, 0, sizeof(why));
	assert_int_equal(kx_msg_check_version(&m, &why), KX_EVERSION);
	assert_string_equal(why.text, "version: v is 2, not 1");
	assert_int_equal(kx_msg_check_version(&m, NULL), KX_EVERSION);

	hand_set_hex(&h, F_V, "00");
	hand_wire(&h);
	DEC_OK(&m, h.wire.data, h.wire.len);
	assert_int_equal(kx_msg_check_version(&m, &why), KX_EVERSION);
	assert_string_equal(why.text, "version: v is 0, not 1");

	hand_set_hex(&h, F_V, "cf ff ff ff ff ff ff ff ff");
	hand_wire(&h);
	DEC_OK(&m, h.wire.data, h.wire.len);
	assert_int_equal(kx_msg_check_version(&m, &why), KX_EVERSION);
	assert_string_equal(why.text,
	    "version: v is 18446744073709551615, not 1");

	hand_set_hex(&h, F_V, "01");
	hand_wire(&h);
	DEC_OK(&m, h.wire.data, h.wire.len);
	assert_int_equal(kx_msg_check_version(&m, &why), KX_OK);
	hand_free(&h);
}

/*
 * Step 6: the signature
 */

static void
test_verify_flipped_bytes(void **state)
{
	kx_buf_t	 w;
	kx_msg_t	 m;
	kx_why_t	 why;
	size_t		 i, off, plen, decoded = 0;

	(void)state;
	kx_buf_init(&w);
	sign_json(&w, 1, NULL, TS, "note", "{\"text\":\"hello\",\"n\":42}");
	DEC_OK(&m, w.data, w.len);
	assert_int_equal(kx_msg_verify(&m, NULL), KX_OK);
	off = (size_t)(m.payload - w.data);
	plen = m.payload_len;

	/* each payload byte: if it still decodes, it must not verify */
	for (i = 0; i < plen; i++) {
		w.data[off + i] ^= 0x01;
		if (kx_msg_decode(&m, w.data, w.len, NULL) == KX_OK) {
			decoded++;
			memset(&why, 0, sizeof(why));
			if (kx_msg_verify(&m, &why) != KX_ESIG ||
			    strcmp(why.text, "signature: does not verify")
			    != 0) {
				print_error("payload byte %zu flipped\n", i);
				fail();
			}
		}
		w.data[off + i] ^= 0x01;
	}
	assert_true(decoded > plen / 2);

	/* each sig byte */
	for (i = w.len - KX_SIG_LEN; i < w.len; i++) {
		w.data[i] ^= 0x80;
		DEC_OK(&m, w.data, w.len);
		memset(&why, 0, sizeof(why));
		assert_int_equal(kx_msg_verify(&m, &why), KX_ESIG);
		assert_string_equal(why.text, "signature: does not verify");
		w.data[i] ^= 0x80;
	}
	DEC_OK(&m, w.data, w.len);
	assert_int_equal(kx_msg_verify(&m, NULL), KX_OK);
	kx_buf_free(&w);
}

/* Signed by one key, naming another as author; an all-zero sig. */
static void
test_verify_wrong_key(void **state)
{
	hand_t		 h;
	kx_msg_t	 m;
	kx_buf_t	 w;
	kx_why_t	 why;
	msgpack_packer	 pk;
	uint8_t		 zero[KX_SIG_LEN];

	(void)state;
	kx_buf_init(&w);
	hand_init(&h);
	hand_wire(&h);
	wrap(&w, h.payload.data, h.payload.len, other.sk);
	DEC_OK(&m, w.data, w.len);
	assert_int_equal(kx_msg_verify(&m, &why), KX_ESIG);
	assert_string_equal(why.text, "signature: does not verify");

	memset(zero, 0, sizeof(zero));
	kx_buf_reset(&w);
	msgpack_packer_init(&pk, &w, kx_buf_msgpack_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin(&pk, h.payload.len);
	msgpack_pack_bin_body(&pk, h.payload.data, h.payload.len);
	msgpack_pack_bin(&pk, KX_SIG_LEN);
	msgpack_pack_bin_body(&pk, zero, KX_SIG_LEN);
	DEC_OK(&m, w.data, w.len);
	assert_int_equal(kx_msg_verify(&m, &why), KX_ESIG);
	assert_string_equal(why.text, "signature: does not verify");
	hand_free(&h);
	kx_buf_free(&w);
}

/*
 * Small helpers of the module
 */

static void
test_hex_and_strerror(void **state)
{
	const uint8_t	 b[] = { 0x00, 0x9f, 0xa0, 0xff };
	uint8_t		 out[4];
	char		 hex[9];

	(void)state;
	kx_hex(hex, b, sizeof(b));
	assert_string_equal(hex, "009fa0ff");
	assert_int_equal(kx_unhex(out, 4, "009fa0ff"), 0);
	assert_memory_equal(out, b, 4);
	assert_int_equal(kx_unhex(out, 4, "009FA0FF"), -1);
	assert_int_equal(kx_unhex(out, 4, "009fa0f"), -1);
	assert_int_equal(kx_unhex(out, 4, "009fa0ff0"), -1);
	assert_int_equal(kx_unhex(out, 4, "009fa0fg"), -1);
	assert_string_equal(kx_strerror(KX_ESIZE), "size");
	assert_string_equal(kx_strerror(KX_EDECODE), "decode");
	assert_string_equal(kx_strerror(KX_EVERSION), "version");
	assert_string_equal(kx_strerror(KX_ESIG), "signature");
	assert_string_equal(kx_strerror(KX_EBODY), "body");
	assert_string_equal(kx_strerror(12345), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_id_is_payload_hash),
		cmocka_unit_test(test_sign_args),
		cmocka_unit_test(test_unknown_type_and_keys),
		cmocka_unit_test(test_negative_ts),
		cmocka_unit_test(test_other_encodings),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_trailing_after_wire),
		cmocka_unit_test(test_truncated_wire),
		cmocka_unit_test(test_wire_shape),
		cmocka_unit_test(test_payload_shape),
		cmocka_unit_test(test_field_v),
		cmocka_unit_test(test_field_author),
		cmocka_unit_test(test_field_seq),
		cmocka_unit_test(test_field_prev),
		cmocka_unit_test(test_field_ts),
		cmocka_unit_test(test_field_type),
		cmocka_unit_test(test_field_body),
		cmocka_unit_test(test_body_dupkeys),
		cmocka_unit_test(test_body_depth),
		cmocka_unit_test(test_body_utf8),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_verify_flipped_bytes),
		cmocka_unit_test(test_verify_wrong_key),
		cmocka_unit_test(test_hex_and_strerror),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
