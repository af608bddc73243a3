/*
 * test_frames.c - the gossip frame codec (protocols/frames.c,
 * docs/gossip.md "Frames"): headers of the five kinds and VEC chunks.
 *
 * Round trips of every kind and flag, exact bytes for the canonical
 * encodings, and every rejection of the strict decoders, each asserted by
 * its return code and by the reason text, which must start with "frame:"
 * and name the rule. Inputs are given as hex and decoded from a heap copy
 * of exactly their length, so that a read past the end shows under ASan;
 * every prefix of a valid header or chunk must be refused.
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

#include "frames.h"
#include "testutil.h"

/* 16, 31, 32 and 33 bytes as hex */
#define X16	"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
#define X31	X16 "b0b1b2b3b4b5b6b7b8b9babbbcbdbe"
#define X32	X16 "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
#define X33	X32 "c0"
#define BIN32	"c420" X32

/* A valid header of each kind (canonical encodings). */
#define H_PUSH		"9101"
#define H_VEC_T		"9302c3" BIN32
#define H_VEC_F		"9302c2" BIN32
#define H_WANT		"9403" BIN32 "01cd1000"
#define H_MSGS_T	"9204c3"
#define H_MSGS_F	"9204c2"
#define H_FORK		"9105"

static const char *const valid_headers[] = {
	H_PUSH, H_VEC_T, H_VEC_F, H_WANT, H_MSGS_T, H_MSGS_F, H_FORK,
	/* non-canonical but valid: kind as uint16, from as uint64 */
	"91cd0001",
	"9403c50020" X32 "cf000000000000000701",
};

/*
 * Helpers
 */

/* Hex to a heap buffer of exactly the bytes (at least 1 allocated). */
static uint8_t *
hexdup(const char *hex, size_t *n)
{
	uint8_t	 tmp[16384];
	uint8_t	*p;

	*n = unhex(hex, tmp, sizeof(tmp));
	if ((p = malloc(*n ? *n : 1)) == NULL)
		abort();
	memcpy(p, tmp, *n);
	return p;
}

static int
fdec(kx_frame_t *f, const char *hex, kx_why_t *why)
{
	uint8_t	*p;
	size_t	 n;
	int	 rc;

	p = hexdup(hex, &n);
	memset(why, 0, sizeof(*why));
	rc = kx_frame_decode(f, p, n, why);
	free(p);
	return rc;
}

static int
vdec(kx_vec_entry_t *e, size_t *n, const char *hex, kx_why_t *why)
{
	uint8_t	*p;
	size_t	 len;
	int	 rc;

	p = hexdup(hex, &len);
	memset(why, 0, sizeof(*why));
	*n = 12345;
	rc = kx_vec_decode(e, n, p, len, why);
	free(p);
	return rc;
}

/* Heap room for exactly KX_VEC_CHUNK entries (ASan sees an overflow). */
static kx_vec_entry_t *
vroom(void)
{
	kx_vec_entry_t	*e;

	if ((e = calloc(KX_VEC_CHUNK, sizeof(*e))) == NULL)
		abort();
	return e;
}

/* The header in hex must be refused, with a reason naming `word`. */
#define REJECT(hex, word) do {						\
	kx_frame_t	 f_;						\
	kx_why_t	 w_;						\
									\
	assert_int_equal(fdec(&f_, (hex), &w_), KX_EDECODE);		\
	assert_memory_equal(w_.text, "frame: ", 7);			\
	if (strstr(w_.text, (word)) == NULL)				\
		fail_msg("%s: reason \"%s\" lacks \"%s\"", (hex),	\
		    w_.text, (word));					\
} while (0)

/* The chunk in hex must be refused, with a reason naming `word`. */
#define VREJECT(hex, word) do {						\
	kx_vec_entry_t	*e_ = vroom();					\
	kx_why_t	 w_;						\
	size_t		 n_;						\
									\
	assert_int_equal(vdec(e_, &n_, (hex), &w_), KX_EDECODE);	\
	assert_int_equal(n_, 0);					\
	assert_memory_equal(w_.text, "frame: ", 7);			\
	if (strstr(w_.text, (word)) == NULL)				\
		fail_msg("%s: reason \"%s\" lacks \"%s\"", (hex),	\
		    w_.text, (word));					\
	free(e_);							\
} while (0)

static void
hex_of(char *out, const kx_buf_t *b)
{
	kx_hex(out, b->data, b->len);
}

/* Encodes f, checks the bytes (when hex is not NULL), decodes them back
 * (into a struct full of junk) and checks that exactly f comes out. */
static void
roundtrip(const kx_frame_t *f, const char *hex)
{
	kx_buf_t	 b;
	kx_frame_t	 g;
	kx_why_t	 why;
	char		 got[512];
	uint8_t		 want[256];
	size_t		 n;

	kx_buf_init(&b);
	assert_int_equal(kx_frame_encode(&b, f), 0);
	if (hex != NULL) {
		n = unhex(hex, want, sizeof(want));
		hex_of(got, &b);
		if (b.len != n || memcmp(b.data, want, n) != 0)
			fail_msg("encoded %s, expected %s", got, hex);
	}
	memset(&g, 0xa5, sizeof(g));
	assert_int_equal(kx_frame_decode(&g, b.data, b.len, &why), KX_OK);
	assert_memory_equal(&g, f, sizeof(g));
	kx_buf_free(&b);
}

/* A frame of `kind` with every field zero (padding too). */
static kx_frame_t
frame(int kind)
{
	kx_frame_t	 f;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	return f;
}

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

/*
 * Headers: round trips and exact bytes
 */

static void
test_push_fork(void **state)
{
	kx_frame_t	 f;

	(void)state;
	f = frame(KX_F_PUSH);
	roundtrip(&f, "91 01");
	f = frame(KX_F_FORK);
	roundtrip(&f, "91 05");
}

static void
test_vec(void **state)
{
	kx_frame_t	 f;
	uint8_t		 x[KX_ID_LEN];

	(void)state;
	unhex(X32, x, sizeof(x));
	f = frame(KX_F_VEC);
	f.flag = true;
	memcpy(f.digest, x, KX_ID_LEN);
	roundtrip(&f, "93 02 c3 c4 20" X32);
	f.flag = false;
	roundtrip(&f, "93 02 c2 c4 20" X32);
	/* a real digest (BLAKE2b-256 of some entries) */
	crypto_generichash(f.digest, KX_ID_LEN, x, sizeof(x), NULL, 0);
	roundtrip(&f, NULL);
	f.flag = true;
	roundtrip(&f, NULL);
	/* all zero and all 0xff */
	memset(f.digest, 0, KX_ID_LEN);
	roundtrip(&f, NULL);
	memset(f.digest, 0xff, KX_ID_LEN);
	roundtrip(&f, NULL);
}

static void
test_want(void **state)
{
	kx_frame_t	 f;
	uint8_t		 x[KX_PK_LEN];

	(void)state;
	unhex(X32, x, sizeof(x));
	f = frame(KX_F_WANT);
	memcpy(f.author, x, KX_PK_LEN);
	f.from = 1;
	f.count = 1;
	roundtrip(&f, "94 03 c4 20" X32 "01 01");
	f.from = 128;
	f.count = KX_WANT_MAX;
	roundtrip(&f, "94 03 c4 20" X32 "cc 80 cd 10 00");
	f.from = (uint64_t)1 << 32;
	f.count = 256;
	roundtrip(&f, "94 03 c4 20" X32 "cf 00 00 00 01 00 00 00 00 cd 01 00");
	f.from = UINT64_MAX;
	f.count = 4095;
	randombytes_buf(f.author, KX_PK_LEN);
	roundtrip(&f, NULL);
}

static void
test_msgs(void **state)
{
	kx_frame_t	 f;

	(void)state;
	f = frame(KX_F_MSGS);
	f.flag = true;
	roundtrip(&f, "92 04 c3");
	f.flag = false;
	roundtrip(&f, "92 04 c2");
}

/* Fields a kind does not carry are not encoded and decode as zero. */
static void
test_other_fields_ignored(void **state)
{
	static const int	 kinds[] = { KX_F_PUSH, KX_F_VEC, KX_F_WANT,
				    KX_F_MSGS, KX_F_FORK };
	kx_frame_t		 junk, clean, g;
	kx_buf_t		 a, b;
	kx_why_t		 why;
	size_t			 i;

	(void)state;
	kx_buf_init(&a);
	kx_buf_init(&b);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		memset(&junk, 0x5a, sizeof(junk));
		junk.kind = kinds[i];
		junk.flag = true;
		junk.from = 7;
		junk.count = 9;
		clean = frame(kinds[i]);
		switch (kinds[i]) {
		case KX_F_VEC:
			clean.flag = true;
			memcpy(clean.digest, junk.digest, KX_ID_LEN);
			break;
		case KX_F_WANT:
			memcpy(clean.author, junk.author, KX_PK_LEN);
			clean.from = 7;
			clean.count = 9;
			break;
		case KX_F_MSGS:
			clean.flag = true;
			break;
		}
		kx_buf_reset(&a);
		kx_buf_reset(&b);
		assert_int_equal(kx_frame_encode(&a, &junk), 0);
		assert_int_equal(kx_frame_encode(&b, &clean), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		memset(&g, 0xa5, sizeof(g));
		assert_int_equal(kx_frame_decode(&g, a.data, a.len, &why),
		    KX_OK);
		assert_memory_equal(&g, &clean, sizeof(g));
	}
	kx_buf_free(&a);
	kx_buf_free(&b);
}

/* Encode refuses a kind it does not know and appends nothing. */
static void
test_encode_unknown_kind(void **state)
{
	static const int	 bad[] = { 0, 6, 255, -1 };
	kx_frame_t		 f;
	kx_buf_t		 b;
	size_t			 i;

	(void)state;
	kx_buf_init(&b);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = frame(bad[i]);
		assert_int_equal(kx_frame_encode(&b, &f), -1);
		assert_int_equal(b.len, 0);
	}
	/* it appends: two headers in a row */
	f = frame(KX_F_PUSH);
	assert_int_equal(kx_frame_encode(&b, &f), 0);
	f = frame(KX_F_FORK);
	assert_int_equal(kx_frame_encode(&b, &f), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "\x91\x01\x91\x05", 4);
	kx_buf_free(&b);
}

/* Other encodings of the same values are accepted (mp.h: an integer
 * whatever its encoding); the exact values come out. */
static void
test_decode_other_encodings(void **state)
{
	kx_frame_t	 f;
	kx_why_t	 why;
	uint8_t		 x[KX_PK_LEN];

	(void)state;
	unhex(X32, x, sizeof(x));
	assert_int_equal(fdec(&f, "91 cd 00 01", &why), KX_OK);
	assert_int_equal(f.kind, KX_F_PUSH);
	assert_int_equal(fdec(&f, "91 cf 00 00 00 00 00 00 00 05", &why),
	    KX_OK);
	assert_int_equal(f.kind, KX_F_FORK);
	assert_int_equal(fdec(&f, "91 d0 01", &why), KX_OK);	/* int8 1 */
	assert_int_equal(f.kind, KX_F_PUSH);
	assert_int_equal(fdec(&f, "dc 00 02 04 c3", &why), KX_OK);
	assert_int_equal(f.kind, KX_F_MSGS);
	assert_true(f.flag);
	assert_int_equal(fdec(&f, "dd 00 00 00 03 02 c2 c6 00 00 00 20" X32,
	    &why), KX_OK);
	assert_int_equal(f.kind, KX_F_VEC);
	assert_false(f.flag);
	assert_memory_equal(f.digest, x, KX_ID_LEN);
	assert_int_equal(fdec(&f, "94 03 c5 00 20" X32 "d3 7f ff ff ff ff ff "
	    "ff ff d1 10 00", &why), KX_OK);
	assert_int_equal(f.kind, KX_F_WANT);
	assert_memory_equal(f.author, x, KX_PK_LEN);
	assert_true(f.from == INT64_MAX);
	assert_int_equal(f.count, 4096);
	/* a NULL why is allowed, on success and on failure */
	assert_int_equal(kx_frame_decode(&f, (const uint8_t *)"\x91\x01", 2,
	    NULL), KX_OK);
	assert_int_equal(kx_frame_decode(&f, (const uint8_t *)"\x91\x06", 2,
	    NULL), KX_EDECODE);
}

/*
 * Headers: every rejection
 */

static void
test_reject_shape(void **state)
{
	(void)state;
	/* not an array */
	REJECT("", "array");
	REJECT("01", "array");
	REJECT("c0", "array");
	REJECT("c3", "array");
	REJECT("81 a1 6b 01", "array");
	REJECT("a4 50 55 53 48", "array");
	REJECT("c4 01 01", "array");
	REJECT("c1", "array");
	/* empty array, in every encoding */
	REJECT("90", "non-empty");
	REJECT("dc 00 00", "non-empty");
	REJECT("dd 00 00 00 00", "non-empty");
	/* kind not an unsigned integer */
	REJECT("91 ff", "kind");		/* -1 */
	REJECT("91 d0 80", "kind");		/* -128 */
	REJECT("91 c0", "kind");
	REJECT("91 c3", "kind");
	REJECT("91 a1 31", "kind");
	REJECT("91 c4 01 01", "kind");
	REJECT("91 ca 3f 80 00 00", "kind");	/* float 1.0 */
	REJECT("91 cb 3f f0 00 00 00 00 00 00", "kind");
	REJECT("91 91 01", "kind");
	REJECT("91 d4 01 01", "kind");		/* ext */
	REJECT("91 c1", "kind");
	REJECT("91", "kind");			/* missing */
}

static void
test_reject_unknown_kind(void **state)
{
	(void)state;
	REJECT("91 00", "unknown kind");
	REJECT("91 06", "unknown kind");
	REJECT("91 7f", "unknown kind");
	REJECT("91 cc ff", "unknown kind");
	REJECT("91 cd 01 01", "unknown kind");	/* 257: 1 in a byte */
	REJECT("91 ce 00 01 00 01", "unknown kind");
	/* 2^32 + 1 and 2^64 - 1: not truncated to an int */
	REJECT("91 cf 00 00 00 01 00 00 00 01", "unknown kind");
	REJECT("91 cf ff ff ff ff ff ff ff ff", "unknown kind");
	/* with the right length for the kind the low byte would give */
	REJECT("92 cd 01 04 c3", "unknown kind");
}

static void
test_reject_length(void **state)
{
	(void)state;
	/* one more element than the kind has (and one less, where the
	 * array stays non-empty) */
	REJECT("92 01 c0", "wrong length");
	REJECT("92 01", "wrong length");
	REJECT("92 02 c3", "wrong length");
	REJECT("94 02 c3" BIN32 "c0", "wrong length");
	REJECT("93 03" BIN32 "01", "wrong length");
	REJECT("95 03" BIN32 "01 01 c0", "wrong length");
	REJECT("91 04", "wrong length");
	REJECT("93 04 c3 c0", "wrong length");
	REJECT("92 05 c0", "wrong length");
	REJECT("92 05", "wrong length");
	/* far off, and a huge array32 count */
	REJECT("9f 01", "wrong length");
	REJECT("dd ff ff ff ff 03", "wrong length");
	REJECT("dd 00 00 00 04 04 c3", "wrong length");
}

static void
test_reject_flag(void **state)
{
	(void)state;
	REJECT("93 02 c0" BIN32, "flag");
	REJECT("93 02 01" BIN32, "flag");
	REJECT("93 02 00" BIN32, "flag");
	REJECT("93 02 a4 74 72 75 65" BIN32, "flag");
	REJECT("93 02 c4 01 01" BIN32, "flag");
	REJECT("92 04 c0", "flag");
	REJECT("92 04 01", "flag");
	REJECT("92 04 00", "flag");
	REJECT("92 04 ff", "flag");
	REJECT("92 04 90", "flag");
	REJECT("92 04 c1", "flag");
}

static void
test_reject_digest(void **state)
{
	(void)state;
	REJECT("93 02 c3 c4 1f" X31, "digest");
	REJECT("93 02 c3 c4 21" X33, "digest");
	REJECT("93 02 c3 c4 00", "digest");
	REJECT("93 02 c3 d9 20" X32, "digest");		/* str8 */
	REJECT("93 02 c3 da 00 20" X32, "digest");	/* str16 */
	REJECT("93 02 c3 c0", "digest");
	REJECT("93 02 c3 01", "digest");
	REJECT("93 02 c3 dc 00 20" X32, "digest");	/* array16 */
	REJECT("93 02 c3 d8 00" X16, "digest");		/* fixext16 */
	/* a bin(32) that claims more bytes than there are */
	REJECT("93 02 c3 c4 20" X31, "digest");
}

static void
test_reject_want(void **state)
{
	(void)state;
	/* author */
	REJECT("94 03 c4 1f" X31 "01 01", "author");
	REJECT("94 03 c4 21" X33 "01 01", "author");
	REJECT("94 03 c4 00 01 01", "author");
	REJECT("94 03 d9 20" X32 "01 01", "author");
	REJECT("94 03 c0 01 01", "author");
	REJECT("94 03 01 01 01", "author");
	/* from */
	REJECT("94 03" BIN32 "00 01", "from");
	REJECT("94 03" BIN32 "cf 00 00 00 00 00 00 00 00 01", "from");
	REJECT("94 03" BIN32 "ff 01", "from");
	REJECT("94 03" BIN32 "d3 80 00 00 00 00 00 00 00 01", "from");
	REJECT("94 03" BIN32 "c0 01", "from");
	REJECT("94 03" BIN32 "c3 01", "from");
	REJECT("94 03" BIN32 "a1 31 01", "from");
	REJECT("94 03" BIN32 "cb 3f f0 00 00 00 00 00 00 01", "from");
	/* count: 1 to 4096 */
	REJECT("94 03" BIN32 "01 00", "count");
	REJECT("94 03" BIN32 "01 cd 10 01", "count");		/* 4097 */
	REJECT("94 03" BIN32 "01 cd ff ff", "count");
	REJECT("94 03" BIN32 "01 cf 00 00 00 01 00 00 00 01", "count");
	REJECT("94 03" BIN32 "01 cf ff ff ff ff ff ff ff ff", "count");
	REJECT("94 03" BIN32 "01 ff", "count");
	REJECT("94 03" BIN32 "01 c0", "count");
	REJECT("94 03" BIN32 "01 c3", "count");
	REJECT("94 03" BIN32 "01 a1 31", "count");
}

/* The limits themselves are accepted. */
static void
test_want_limits(void **state)
{
	kx_frame_t	 f;
	kx_why_t	 why;

	(void)state;
	assert_int_equal(fdec(&f, "94 03" BIN32 "01 cd 10 00", &why), KX_OK);
	assert_int_equal(f.from, 1);
	assert_int_equal(f.count, 4096);
	assert_int_equal(fdec(&f, "94 03" BIN32 "cf ff ff ff ff ff ff ff ff 01",
	    &why), KX_OK);
	assert_true(f.from == UINT64_MAX);
	assert_int_equal(f.count, 1);
}

static void
test_reject_trailing(void **state)
{
	char	 hex[512];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(valid_headers) / sizeof(valid_headers[0]);
	    i++) {
		snprintf(hex, sizeof(hex), "%s00", valid_headers[i]);
		REJECT(hex, "trailing");
		snprintf(hex, sizeof(hex), "%sc0", valid_headers[i]);
		REJECT(hex, "trailing");
		snprintf(hex, sizeof(hex), "%s%s", valid_headers[i],
		    valid_headers[i]);
		REJECT(hex, "trailing");
	}
}

/* Every prefix of a valid header is refused (and none reads past it). */
static void
test_reject_truncated(void **state)
{
	kx_frame_t	 f;
	kx_why_t	 why;
	uint8_t		*full, *p;
	size_t		 i, n, k;

	(void)state;
	for (i = 0; i < sizeof(valid_headers) / sizeof(valid_headers[0]);
	    i++) {
		full = hexdup(valid_headers[i], &n);
		assert_int_equal(kx_frame_decode(&f, full, n, &why), KX_OK);
		for (k = 0; k < n; k++) {
			if ((p = malloc(k ? k : 1)) == NULL)
				abort();
			memcpy(p, full, k);
			memset(&why, 0, sizeof(why));
			assert_int_equal(kx_frame_decode(&f, p, k, &why),
			    KX_EDECODE);
			assert_memory_equal(why.text, "frame: ", 7);
			free(p);
		}
		free(full);
	}
}

/*
 * VEC chunks
 */

static void
fill_entries(kx_vec_entry_t *e, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		randombytes_buf(e[i].author, KX_PK_LEN);
		e[i].author[0] = (uint8_t)i;
		e[i].seq = i == 0 ? 0 : i == 1 ? UINT64_MAX :
		    ((uint64_t)1 << (i % 64)) + i;
	}
}

static void
vroundtrip(size_t n)
{
	kx_vec_entry_t	*e, *d;
	kx_buf_t	 b;
	kx_why_t	 why;
	size_t		 got = 12345;

	e = vroom();
	d = vroom();
	fill_entries(e, n);
	kx_buf_init(&b);
	assert_int_equal(kx_vec_encode(&b, e, n), 0);
	memset(d, 0xa5, KX_VEC_CHUNK * sizeof(*d));
	assert_int_equal(kx_vec_decode(d, &got, b.data, b.len, &why), KX_OK);
	assert_int_equal(got, n);
	if (n > 0)
		assert_memory_equal(d, e, n * sizeof(*e));
	kx_buf_free(&b);
	free(e);
	free(d);
}

static void
test_vec_roundtrip(void **state)
{
	(void)state;
	vroundtrip(0);
	vroundtrip(1);
	vroundtrip(2);
	vroundtrip(15);
	vroundtrip(16);
	vroundtrip(KX_VEC_CHUNK - 1);
	vroundtrip(KX_VEC_CHUNK);
}

static void
test_vec_bytes(void **state)
{
	kx_vec_entry_t	 e[2], *many;
	kx_buf_t	 b;
	char		 got[512];

	(void)state;
	kx_buf_init(&b);
	assert_int_equal(kx_vec_encode(&b, e, 0), 0);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.data[0], 0x90);

	unhex(X32, e[0].author, KX_PK_LEN);
	e[0].seq = 5;
	memset(e[1].author, 0x11, KX_PK_LEN);
	e[1].seq = 300;
	kx_buf_reset(&b);
	assert_int_equal(kx_vec_encode(&b, e, 2), 0);
	hex_of(got, &b);
	assert_string_equal(got, "92" "92c420" X32 "05"
	    "92c420" "1111111111111111111111111111111111111111111111111111111111111111"
	    "cd012c");

	/* 256 entries: an array16 header */
	kx_buf_reset(&b);
	many = vroom();
	fill_entries(many, KX_VEC_CHUNK);
	assert_int_equal(kx_vec_encode(&b, many, KX_VEC_CHUNK), 0);
	assert_memory_equal(b.data, "\xdc\x01\x00", 3);
	free(many);
	kx_buf_free(&b);
}

/* 257 entries: encode refuses (appending nothing), decode refuses. */
static void
test_vec_too_many(void **state)
{
	kx_vec_entry_t	*e, *d;
	kx_buf_t	 b;
	kx_why_t	 why;
	msgpack_packer	 pk;
	size_t		 i, got;

	(void)state;
	if ((e = calloc(KX_VEC_CHUNK + 1, sizeof(*e))) == NULL)
		abort();
	fill_entries(e, KX_VEC_CHUNK + 1);
	kx_buf_init(&b);
	assert_int_equal(kx_vec_encode(&b, e, KX_VEC_CHUNK + 1), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(kx_vec_encode(&b, e, SIZE_MAX), -1);
	assert_int_equal(b.len, 0);

	/* 257 well-formed entries, packed by hand */
	msgpack_packer_init(&pk, &b, kx_buf_msgpack_write);
	msgpack_pack_array(&pk, KX_VEC_CHUNK + 1);
	for (i = 0; i < KX_VEC_CHUNK + 1; i++) {
		msgpack_pack_array(&pk, 2);
		msgpack_pack_bin(&pk, KX_PK_LEN);
		msgpack_pack_bin_body(&pk, e[i].author, KX_PK_LEN);
		msgpack_pack_uint64(&pk, e[i].seq);
	}
	assert_false(b.oom);
	d = vroom();
	got = 12345;
	memset(&why, 0, sizeof(why));
	assert_int_equal(kx_vec_decode(d, &got, b.data, b.len, &why),
	    KX_EDECODE);
	assert_int_equal(got, 0);
	assert_memory_equal(why.text, "frame: ", 7);
	assert_non_null(strstr(why.text, "at most 256"));
	free(d);
	/* the counts alone */
	VREJECT("dc 01 01", "at most 256");
	VREJECT("dd 00 00 01 01", "at most 256");
	VREJECT("dd ff ff ff ff", "at most 256");
	kx_buf_free(&b);
	free(e);
}

static void
test_vec_reject(void **state)
{
	(void)state;
	/* not an array */
	VREJECT("", "array");
	VREJECT("c0", "array");
	VREJECT("00", "array");
	VREJECT("80", "array");
	VREJECT("c4 00", "array");
	VREJECT("c1", "array");
	/* an entry that is not [author, seq] */
	VREJECT("91 c0", "[author, seq]");
	VREJECT("91 90", "[author, seq]");
	VREJECT("91 91" BIN32, "[author, seq]");
	VREJECT("91 93" BIN32 "01 c0", "[author, seq]");
	VREJECT("91 82 00" BIN32 "01 01", "[author, seq]");
	VREJECT("92 92" BIN32 "01 01", "[author, seq]");	/* 2nd */
	VREJECT("91", "[author, seq]");			/* missing */
	/* author */
	VREJECT("91 92 c4 1f" X31 "01", "author");
	VREJECT("91 92 c4 21" X33 "01", "author");
	VREJECT("91 92 c4 00 01", "author");
	VREJECT("91 92 d9 20" X32 "01", "author");
	VREJECT("91 92 c0 01", "author");
	VREJECT("91 92 01" BIN32, "author");
	VREJECT("92 92" BIN32 "01 92 c4 1f" X31 "01", "author");
	/* seq: negative, or not an integer */
	VREJECT("91 92" BIN32 "ff", "seq");
	VREJECT("91 92" BIN32 "e0", "seq");
	VREJECT("91 92" BIN32 "d0 ff", "seq");
	VREJECT("91 92" BIN32 "d1 80 00", "seq");
	VREJECT("91 92" BIN32 "d3 80 00 00 00 00 00 00 00", "seq");
	VREJECT("91 92" BIN32 "c0", "seq");
	VREJECT("91 92" BIN32 "c3", "seq");
	VREJECT("91 92" BIN32 "a1 31", "seq");
	VREJECT("91 92" BIN32 "c4 01 01", "seq");
	VREJECT("91 92" BIN32 "cb 3f f0 00 00 00 00 00 00", "seq");
	VREJECT("91 92" BIN32 "90", "seq");
	VREJECT("91 92" BIN32, "seq");				/* missing */
	/* trailing bytes */
	VREJECT("90 00", "trailing");
	VREJECT("90 90", "trailing");
	VREJECT("91 92" BIN32 "01 c0", "trailing");
	VREJECT("91 92" BIN32 "01 91 92" BIN32 "01", "trailing");
}

/* Non-canonical encodings of the same entries decode to the same values;
 * seq 0 is a valid last_seq (an author with nothing contiguous). */
static void
test_vec_other_encodings(void **state)
{
	kx_vec_entry_t	*e = vroom();
	kx_why_t	 why;
	size_t		 n;
	uint8_t		 x[KX_PK_LEN];

	(void)state;
	unhex(X32, x, sizeof(x));
	assert_int_equal(vdec(e, &n, "dc 00 01 dc 00 02 c5 00 20" X32
	    "cf 00 00 00 00 00 00 00 07", &why), KX_OK);
	assert_int_equal(n, 1);
	assert_memory_equal(e[0].author, x, KX_PK_LEN);
	assert_int_equal(e[0].seq, 7);
	assert_int_equal(vdec(e, &n, "92 92" BIN32 "d0 05 92" BIN32 "00",
	    &why), KX_OK);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].seq, 5);
	assert_int_equal(e[1].seq, 0);
	assert_int_equal(vdec(e, &n, "dd 00 00 00 00", &why), KX_OK);
	assert_int_equal(n, 0);
	free(e);
}

/* Every prefix of a valid chunk is refused (and none reads past it). */
static void
test_vec_truncated(void **state)
{
	static const size_t	 sizes[] = { 0, 1, 3, KX_VEC_CHUNK };
	kx_vec_entry_t		*e, *d;
	kx_buf_t		 b;
	kx_why_t		 why;
	uint8_t			*p;
	size_t			 i, k, got;

	(void)state;
	e = vroom();
	d = vroom();
	kx_buf_init(&b);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill_entries(e, sizes[i]);
		kx_buf_reset(&b);
		assert_int_equal(kx_vec_encode(&b, e, sizes[i]), 0);
		for (k = 0; k < b.len; k++) {
			if ((p = malloc(k ? k : 1)) == NULL)
				abort();
			memcpy(p, b.data, k);
			got = 12345;
			memset(&why, 0, sizeof(why));
			assert_int_equal(kx_vec_decode(d, &got, p, k, &why),
			    KX_EDECODE);
			assert_int_equal(got, 0);
			assert_memory_equal(why.text, "frame: ", 7);
			free(p);
		}
	}
	kx_buf_free(&b);
	free(e);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_fork),
		cmocka_unit_test(test_vec),
		cmocka_unit_test(test_want),
		cmocka_unit_test(test_msgs),
		cmocka_unit_test(test_other_fields_ignored),
		cmocka_unit_test(test_encode_unknown_kind),
		cmocka_unit_test(test_decode_other_encodings),
		cmocka_unit_test(test_reject_shape),
		cmocka_unit_test(test_reject_unknown_kind),
		cmocka_unit_test(test_reject_length),
		cmocka_unit_test(test_reject_flag),
		cmocka_unit_test(test_reject_digest),
		cmocka_unit_test(test_reject_want),
		cmocka_unit_test(test_want_limits),
		cmocka_unit_test(test_reject_trailing),
		cmocka_unit_test(test_reject_truncated),
		cmocka_unit_test(test_vec_roundtrip),
		cmocka_unit_test(test_vec_bytes),
		cmocka_unit_test(test_vec_too_many),
		cmocka_unit_test(test_vec_reject),
		cmocka_unit_test(test_vec_other_encodings),
		cmocka_unit_test(test_vec_truncated),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
