/*
 * test_mp.c - the strict MessagePack reader (protocols/mp.c).
 *
 * kx_mp_read on every format with its exact kind, value, length and data
 * pointer (non-negative values in signed formats read as KX_MP_UINT), the
 * never-used byte 0xc1, truncation at every byte of sample values, huge
 * claimed counts in tiny inputs; kx_mp_check's UTF-8, duplicate-key (small
 * and sorted maps, keys equal by value across encodings), depth and
 * string-key rules; kx_mp_skip, kx_mp_map_get and kx_utf8_valid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"
#include "testutil.h"

/*
 * Helpers: each reports the input and the line of the caller on failure.
 */

static void
print_bytes(const char *what, const uint8_t *b, size_t n)
{
	char	 line[3 * 48 + 8];
	size_t	 i, l = 0;

	for (i = 0; i < n && i < 48; i++)
		l += (size_t)snprintf(line + l, sizeof(line) - l, "%02x ",
		    b[i]);
	if (n > 48)
		snprintf(line + l, sizeof(line) - l, "...");
	print_error("%s (%zu bytes): %s\n", what, n, line);
}

/*
 * Reads the one value `hex` with kx_mp_read: it must succeed, be of
 * `kind`, consume every byte, and start at the first byte.
 */
#define RD(hex, kind, v)	rd_ok(hex, kind, v, __FILE__, __LINE__)

static void
rd_ok(const char *hex, kx_mp_kind_t kind, kx_mp_val_t *v, const char *file,
    int line)
{
	static uint8_t	 b[512];
	kx_mp_cur_t	 c;
	size_t		 n;
	int		 r;

	n = unhex(hex, b, sizeof(b));
	kx_mp_cur_init(&c, b, n);
	r = kx_mp_read(&c, v);
	if (r != KX_MP_OK || v->kind != kind || kx_mp_left(&c) != 0 ||
	    v->start != b) {
		print_bytes("input", b, n);
		print_error("rc %d kind %d (want %d), %zu bytes left\n", r,
		    (int)v->kind, (int)kind, kx_mp_left(&c));
		_fail(file, line);
	}
}

/* kx_mp_read on `hex` must return `want`. */
#define RD_ERR(hex, want)	rd_err(hex, want, __FILE__, __LINE__)

static void
rd_err(const char *hex, int want, const char *file, int line)
{
	uint8_t		 b[64];
	kx_mp_cur_t	 c;
	kx_mp_val_t	 v;
	size_t		 n;
	int		 r;

	n = unhex(hex, b, sizeof(b));
	kx_mp_cur_init(&c, b, n);
	if ((r = kx_mp_read(&c, &v)) != want) {
		print_bytes("input", b, n);
		print_error("rc %d, want %d\n", r, want);
		_fail(file, line);
	}
}

/* kx_mp_check(hex, depth, str_keys) must return `want`. */
#define CK(hex, depth, sk, want)	ck(hex, depth, sk, want, __FILE__, __LINE__)

static void
ck_bytes(const uint8_t *b, size_t n, int depth, bool sk, int want,
    const char *file, int line)
{
	kx_mp_cur_t	 c;
	int		 r;

	kx_mp_cur_init(&c, b, n);
	r = kx_mp_check(&c, depth, sk);
	/* on success exactly the one value was consumed (inputs hold one) */
	if (r != want || (r == KX_MP_OK && kx_mp_left(&c) != 0)) {
		print_bytes("input", b, n);
		print_error("check(depth %d, str_keys %d): rc %d (%s), "
		    "want %d (%s), %zu bytes left\n", depth, sk, r,
		    kx_mp_strerror(r), want, kx_mp_strerror(want),
		    kx_mp_left(&c));
		_fail(file, line);
	}
}

static void
ck(const char *hex, int depth, bool sk, int want, const char *file, int line)
{
	static uint8_t	 b[512];

	ck_bytes(b, unhex(hex, b, sizeof(b)), depth, sk, want, file, line);
}

/* kx_utf8_valid(hex) must be `want`. */
#define U8(hex, want)	u8(hex, want, __FILE__, __LINE__)

static void
u8(const char *hex, bool want, const char *file, int line)
{
	uint8_t	 b[64];
	size_t	 n;

	n = unhex(hex, b, sizeof(b));
	if (kx_utf8_valid(b, n) != want) {
		print_bytes("input", b, n);
		print_error("kx_utf8_valid is %d, want %d\n", !want, want);
		_fail(file, line);
	}
}

/*
 * kx_mp_read: every format
 */

static void
test_read_fixint(void **state)
{
	kx_mp_val_t	 v;

	(void)state;
	RD("00", KX_MP_UINT, &v);
	assert_int_equal(v.u, 0);
	RD("01", KX_MP_UINT, &v);
	assert_int_equal(v.u, 1);
	RD("7f", KX_MP_UINT, &v);
	assert_int_equal(v.u, 127);
	RD("ff", KX_MP_NINT, &v);
	assert_int_equal(v.i, -1);
	RD("e0", KX_MP_NINT, &v);
	assert_int_equal(v.i, -32);
	RD("f0", KX_MP_NINT, &v);
	assert_int_equal(v.i, -16);
}

static void
test_read_uint(void **state)
{
	kx_mp_val_t	 v;

	(void)state;
	RD("cc 00", KX_MP_UINT, &v);
	assert_int_equal(v.u, 0);
	RD("cc ff", KX_MP_UINT, &v);
	assert_int_equal(v.u, 255);
	RD("cd 01 00", KX_MP_UINT, &v);
	assert_int_equal(v.u, 256);
	RD("cd ff ff", KX_MP_UINT, &v);
	assert_int_equal(v.u, 65535);
	RD("ce 00 01 00 00", KX_MP_UINT, &v);
	assert_int_equal(v.u, 65536);
	RD("ce ff ff ff ff", KX_MP_UINT, &v);
	assert_true(v.u == UINT32_MAX);
	RD("cf 00 00 00 01 00 00 00 00", KX_MP_UINT, &v);
	assert_true(v.u == 4294967296ULL);
	RD("cf 7f ff ff ff ff ff ff ff", KX_MP_UINT, &v);
	assert_true(v.u == (uint64_t)INT64_MAX);
	RD("cf ff ff ff ff ff ff ff ff", KX_MP_UINT, &v);
	assert_true(v.u == UINT64_MAX);
	RD("cf 01 02 03 04 05 06 07 08", KX_MP_UINT, &v);
	assert_true(v.u == 0x0102030405060708ULL);
}

static void
test_read_int_signed(void **state)
{
	kx_mp_val_t	 v;

	(void)state;
	/* non-negative values in signed formats are UINT */
	RD("d0 00", KX_MP_UINT, &v);
	assert_int_equal(v.u, 0);
	RD("d0 7f", KX_MP_UINT, &v);
	assert_int_equal(v.u, 127);
	RD("d1 00 01", KX_MP_UINT, &v);
	assert_int_equal(v.u, 1);
	RD("d1 7f ff", KX_MP_UINT, &v);
	assert_int_equal(v.u, 32767);
	RD("d2 00 00 00 00", KX_MP_UINT, &v);
	assert_int_equal(v.u, 0);
	RD("d2 7f ff ff ff", KX_MP_UINT, &v);
	assert_int_equal(v.u, INT32_MAX);
	RD("d3 00 00 00 00 00 00 00 05", KX_MP_UINT, &v);
	assert_int_equal(v.u, 5);
	RD("d3 7f ff ff ff ff ff ff ff", KX_MP_UINT, &v);
	assert_true(v.u == (uint64_t)INT64_MAX);

	/* negative ones are NINT */
	RD("d0 ff", KX_MP_NINT, &v);
	assert_int_equal(v.i, -1);
	RD("d0 80", KX_MP_NINT, &v);
	assert_int_equal(v.i, -128);
	RD("d1 ff 7f", KX_MP_NINT, &v);
	assert_int_equal(v.i, -129);
	RD("d1 80 00", KX_MP_NINT, &v);
	assert_int_equal(v.i, -32768);
	RD("d2 ff ff 7f ff", KX_MP_NINT, &v);
	assert_int_equal(v.i, -32769);
	RD("d2 80 00 00 00", KX_MP_NINT, &v);
	assert_true(v.i == INT32_MIN);
	RD("d3 ff ff ff ff 7f ff ff ff", KX_MP_NINT, &v);
	assert_true(v.i == (int64_t)INT32_MIN - 1);
	RD("d3 80 00 00 00 00 00 00 00", KX_MP_NINT, &v);
	assert_true(v.i == INT64_MIN);
	RD("d3 ff ff ff ff ff ff ff ff", KX_MP_NINT, &v);
	assert_true(v.i == -1);
}

static void
test_read_nil_bool_float(void **state)
{
	kx_mp_val_t	 v;

	(void)state;
	RD("c0", KX_MP_NIL, &v);
	RD("c2", KX_MP_BOOL, &v);
	assert_int_equal(v.u, 0);
	RD("c3", KX_MP_BOOL, &v);
	assert_int_equal(v.u, 1);
	/* floats are skipped whole, never interpreted */
	RD("ca 3f 80 00 00", KX_MP_FLOAT, &v);
	RD("cb 3f f0 00 00 00 00 00 00", KX_MP_FLOAT, &v);
	RD("cb 7f f8 00 00 00 00 00 00", KX_MP_FLOAT, &v);	/* NaN */
}

static void
test_read_str(void **state)
{
	kx_mp_val_t	 v;

	(void)state;
	RD("a0", KX_MP_STR, &v);
	assert_int_equal(v.len, 0);
	RD("a3 61 62 63", KX_MP_STR, &v);
	assert_int_equal(v.len, 3);
	assert_ptr_equal(v.ptr, v.start + 1);
	assert_memory_equal(v.ptr, "abc", 3);
	RD("bf 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61"
	    "   61 61 61 61 61 61 61 61 61 61 61 61 61 61 61", KX_MP_STR, &v);
	assert_int_equal(v.len, 31);
	RD("d9 00", KX_MP_STR, &v);
	assert_int_equal(v.len, 0);
	RD("d9 03 61 62 63", KX_MP_STR, &v);
	assert_int_equal(v.len, 3);
	assert_ptr_equal(v.ptr, v.start + 2);
	assert_memory_equal(v.ptr, "abc", 3);
	RD("da 00 03 61 62 63", KX_MP_STR, &v);
	assert_int_equal(v.len, 3);
	assert_ptr_equal(v.ptr, v.start + 3);
	assert_memory_equal(v.ptr, "abc", 3);
	RD("db 00 00 00 03 61 62 63", KX_MP_STR, &v);
	assert_int_equal(v.len, 3);
	assert_ptr_equal(v.ptr, v.start + 5);
	assert_memory_equal(v.ptr, "abc", 3);
	/* kx_mp_read does not judge UTF-8; kx_mp_check does */
	RD("a1 ff", KX_MP_STR, &v);
	assert_int_equal(v.len, 1);
}

static void
test_read_bin(void **state)
{
	kx_mp_val_t	 v;

	(void)state;
	RD("c4 00", KX_MP_BIN, &v);
	assert_int_equal(v.len, 0);
	RD("c4 02 de ad", KX_MP_BIN, &v);
	assert_int_equal(v.len, 2);
	assert_ptr_equal(v.ptr, v.start + 2);
	assert_memory_equal(v.ptr, "\xde\xad", 2);
	RD("c5 00 02 be ef", KX_MP_BIN, &v);
	assert_int_equal(v.len, 2);
	assert_ptr_equal(v.ptr, v.start + 3);
	assert_memory_equal(v.ptr, "\xbe\xef", 2);
	RD("c6 00 00 00 01 00", KX_MP_BIN, &v);
	assert_int_equal(v.len, 1);
	assert_ptr_equal(v.ptr, v.start + 5);
	assert_int_equal(v.ptr[0], 0);
}

static void
test_read_containers(void **state)
{
	kx_mp_val_t	 v;

	(void)state;
	/* a container's header only: its elements follow in the stream */
	RD("90", KX_MP_ARRAY, &v);
	assert_int_equal(v.len, 0);
	RD("9f", KX_MP_ARRAY, &v);
	assert_int_equal(v.len, 15);
	RD("dc 00 10", KX_MP_ARRAY, &v);
	assert_int_equal(v.len, 16);
	RD("dc ff ff", KX_MP_ARRAY, &v);
	assert_int_equal(v.len, 65535);
	RD("dd 00 01 00 00", KX_MP_ARRAY, &v);
	assert_int_equal(v.len, 65536);
	RD("dd ff ff ff ff", KX_MP_ARRAY, &v);
	assert_true(v.len == UINT32_MAX);
	RD("80", KX_MP_MAP, &v);
	assert_int_equal(v.len, 0);
	RD("8f", KX_MP_MAP, &v);
	assert_int_equal(v.len, 15);
	RD("de 00 10", KX_MP_MAP, &v);
	assert_int_equal(v.len, 16);
	RD("df 00 00 00 11", KX_MP_MAP, &v);
	assert_int_equal(v.len, 17);
}

static void
test_read_ext(void **state)
{
	kx_mp_val_t	 v;

	(void)state;
	RD("d4 01 aa", KX_MP_EXT, &v);
	assert_int_equal(v.ext, 1);
	assert_int_equal(v.len, 1);
	assert_ptr_equal(v.ptr, v.start + 2);
	assert_int_equal(v.ptr[0], 0xaa);
	RD("d5 ff aa bb", KX_MP_EXT, &v);
	assert_int_equal(v.ext, -1);
	assert_int_equal(v.len, 2);
	RD("d6 7f 01 02 03 04", KX_MP_EXT, &v);
	assert_int_equal(v.ext, 127);
	assert_int_equal(v.len, 4);
	assert_memory_equal(v.ptr, "\x01\x02\x03\x04", 4);
	RD("d7 80 01 02 03 04 05 06 07 08", KX_MP_EXT, &v);
	assert_int_equal(v.ext, -128);
	assert_int_equal(v.len, 8);
	RD("d8 05 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
	    KX_MP_EXT, &v);
	assert_int_equal(v.ext, 5);
	assert_int_equal(v.len, 16);
	assert_int_equal(v.ptr[15], 0x0f);
	RD("c7 00 07", KX_MP_EXT, &v);
	assert_int_equal(v.ext, 7);
	assert_int_equal(v.len, 0);
	RD("c7 03 fe 61 62 63", KX_MP_EXT, &v);
	assert_int_equal(v.ext, -2);
	assert_int_equal(v.len, 3);
	assert_ptr_equal(v.ptr, v.start + 3);
	assert_memory_equal(v.ptr, "abc", 3);
	RD("c8 00 02 09 61 62", KX_MP_EXT, &v);
	assert_int_equal(v.ext, 9);
	assert_int_equal(v.len, 2);
	assert_ptr_equal(v.ptr, v.start + 4);
	RD("c9 00 00 00 01 0a 61", KX_MP_EXT, &v);
	assert_int_equal(v.ext, 10);
	assert_int_equal(v.len, 1);
	assert_ptr_equal(v.ptr, v.start + 6);
}

static void
test_read_c1(void **state)
{
	kx_mp_cur_t	 c;
	kx_mp_val_t	 v;
	const uint8_t	 b[] = { 0xc1, 0x01 };

	(void)state;
	RD_ERR("c1", KX_MP_EFORMAT);
	kx_mp_cur_init(&c, b, sizeof(b));
	assert_int_equal(kx_mp_read(&c, &v), KX_MP_EFORMAT);
	CK("c1", 4, false, KX_MP_EFORMAT);
	CK("92 01 c1", 4, false, KX_MP_EFORMAT);
	CK("81 a1 61 c1", 4, false, KX_MP_EFORMAT);
	CK("81 c1 01", 4, false, KX_MP_EFORMAT);
	kx_mp_cur_init(&c, b, sizeof(b));
	assert_int_equal(kx_mp_skip(&c, 4), KX_MP_EFORMAT);
	assert_string_equal(kx_mp_strerror(KX_MP_EFORMAT),
	    "invalid format byte 0xc1");
}

/*
 * Truncation: every proper prefix of a value must be ETRUNC, for
 * kx_mp_read and for kx_mp_check, and the whole value must read.
 */
static void
test_read_truncated_every_byte(void **state)
{
	static const char *const samples[] = {
		"cc ff", "cd 01 00", "ce 00 01 00 00",
		"cf 01 02 03 04 05 06 07 08",
		"d0 80", "d1 80 00", "d2 80 00 00 00",
		"d3 80 00 00 00 00 00 00 00",
		"ca 3f 80 00 00", "cb 3f f0 00 00 00 00 00 00",
		"a3 61 62 63", "d9 03 61 62 63", "da 00 03 61 62 63",
		"db 00 00 00 03 61 62 63",
		"c4 02 de ad", "c5 00 02 be ef", "c6 00 00 00 02 be ef",
		"dc 00 01", "dd 00 00 00 01", "de 00 01", "df 00 00 00 01",
		"d4 01 aa", "d5 01 aa bb", "d6 01 01 02 03 04",
		"d7 01 01 02 03 04 05 06 07 08",
		"d8 01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
		"c7 02 01 61 62", "c8 00 02 01 61 62",
		"c9 00 00 00 02 01 61 62",
	};
	/* whole values (containers with their elements) for kx_mp_check */
	static const char *const whole[] = {
		"92 01 a1 61", "82 a1 61 01 a1 62 cd 01 00",
		"91 91 91 c4 01 00", "dc 00 02 c0 c3",
		"81 a2 c3 a9 d9 02 c3 a9",
	};
	uint8_t		 b[64];
	kx_mp_cur_t	 c;
	kx_mp_val_t	 v;
	size_t		 i, k, n;

	(void)state;
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		n = unhex(samples[i], b, sizeof(b));
		for (k = 0; k < n; k++) {
			kx_mp_cur_init(&c, b, k);
			if (kx_mp_read(&c, &v) != KX_MP_ETRUNC) {
				print_error("%s cut to %zu bytes\n",
				    samples[i], k);
				fail();
			}
		}
		kx_mp_cur_init(&c, b, n);
		assert_int_equal(kx_mp_read(&c, &v), KX_MP_OK);
		assert_int_equal(kx_mp_left(&c), 0);
	}
	for (i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
		n = unhex(whole[i], b, sizeof(b));
		for (k = 0; k < n; k++) {
			kx_mp_cur_init(&c, b, k);
			if (kx_mp_check(&c, 8, false) != KX_MP_ETRUNC) {
				print_error("check %s cut to %zu bytes\n",
				    whole[i], k);
				fail();
			}
			kx_mp_cur_init(&c, b, k);
			if (kx_mp_skip(&c, 8) != KX_MP_ETRUNC) {
				print_error("skip %s cut to %zu bytes\n",
				    whole[i], k);
				fail();
			}
		}
		ck_bytes(b, n, 8, false, KX_MP_OK, __FILE__, __LINE__);
	}
	RD_ERR("", KX_MP_ETRUNC);
	CK("", 8, false, KX_MP_ETRUNC);
}

/* Counts and lengths far beyond the input: ETRUNC, no huge allocation. */
static void
test_huge_counts(void **state)
{
	kx_mp_cur_t	 c;
	const uint8_t	 b[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00 };

	(void)state;
	RD_ERR("db ff ff ff ff 61", KX_MP_ETRUNC);
	RD_ERR("c6 ff ff ff ff 00", KX_MP_ETRUNC);
	RD_ERR("c9 ff ff ff ff 01 00", KX_MP_ETRUNC);
	RD_ERR("da ff ff 61", KX_MP_ETRUNC);
	CK("dd ff ff ff ff", 8, false, KX_MP_ETRUNC);
	CK("dd ff ff ff ff 00 00 00", 8, false, KX_MP_ETRUNC);
	CK("df ff ff ff ff", 8, false, KX_MP_ETRUNC);
	CK("df ff ff ff ff a1 61 01", 8, false, KX_MP_ETRUNC);
	CK("de 00 20 a1 61 01", 8, false, KX_MP_ETRUNC);
	CK("dc ff ff 01 02", 8, false, KX_MP_ETRUNC);
	CK("91 df ff ff ff ff", 8, false, KX_MP_ETRUNC);
	/* a map of n pairs needs 2n bytes: n bytes are not enough */
	CK("82 01 02 03", 8, false, KX_MP_ETRUNC);
	kx_mp_cur_init(&c, b, sizeof(b));
	assert_int_equal(kx_mp_skip(&c, 8), KX_MP_ETRUNC);
}

/*
 * kx_utf8_valid
 */

static void
test_utf8_valid(void **state)
{
	(void)state;
	assert_true(kx_utf8_valid(NULL, 0));
	U8("", true);
	U8("00", true);
	U8("61 62 7f", true);
	/* the first and last code point of every length */
	U8("c2 80", true);
	U8("df bf", true);
	U8("e0 a0 80", true);
	U8("ef bf bf", true);
	U8("f0 90 80 80", true);
	U8("f4 8f bf bf", true);		/* U+10FFFF */
	U8("c3 a9 e3 81 82 f0 9f 98 80", true);	/* e, hiragana a, emoji */
	U8("ed 9f bf", true);			/* U+D7FF */
	U8("ee 80 80", true);			/* U+E000 */

	/* overlong forms */
	U8("c0 80", false);
	U8("c1 bf", false);
	U8("e0 80 80", false);
	U8("e0 9f bf", false);
	U8("f0 80 80 80", false);
	U8("f0 8f bf bf", false);
	/* UTF-16 surrogates */
	U8("ed a0 80", false);
	U8("ed af bf", false);
	U8("ed b0 80", false);
	U8("ed bf bf", false);
	/* above U+10FFFF */
	U8("f4 90 80 80", false);
	U8("f5 80 80 80", false);
	U8("f7 bf bf bf", false);
	U8("f8 88 80 80 80", false);
	U8("fc 84 80 80 80 80", false);
	U8("fe", false);
	U8("ff", false);
	/* truncated */
	U8("c3", false);
	U8("e3 81", false);
	U8("f0 9f 98", false);
	U8("61 f0 9f", false);
	/* bad continuation bytes */
	U8("80", false);
	U8("bf", false);
	U8("61 80 62", false);
	U8("c3 41", false);
	U8("e3 41 82", false);
	U8("e3 81 c2", false);
	U8("f0 9f 41 80", false);
}

/*
 * kx_mp_check
 */

static void
test_check_utf8(void **state)
{
	(void)state;
	CK("a2 c3 a9", 1, false, KX_MP_OK);
	CK("a3 e3 81 82", 1, false, KX_MP_OK);
	CK("a4 f0 9f 98 80", 1, false, KX_MP_OK);
	CK("a4 f4 8f bf bf", 1, false, KX_MP_OK);
	CK("d9 03 e3 81 82", 1, false, KX_MP_OK);
	CK("a2 c0 80", 1, false, KX_MP_EUTF8);		/* overlong */
	CK("a3 e0 80 80", 1, false, KX_MP_EUTF8);	/* overlong */
	CK("a3 ed a0 80", 1, false, KX_MP_EUTF8);	/* surrogate */
	CK("a4 f4 90 80 80", 1, false, KX_MP_EUTF8);	/* > U+10FFFF */
	CK("a2 e3 81", 1, false, KX_MP_EUTF8);		/* truncated */
	CK("d9 01 ff", 1, false, KX_MP_EUTF8);
	CK("da 00 01 80", 1, false, KX_MP_EUTF8);
	CK("db 00 00 00 01 c3", 1, false, KX_MP_EUTF8);
	/* deep inside containers, and in keys */
	CK("92 01 91 a1 ff", 4, false, KX_MP_EUTF8);
	CK("81 a1 61 92 a0 a2 ed b0", 4, false, KX_MP_EUTF8);
	CK("81 a1 ff 01", 4, false, KX_MP_EUTF8);
	CK("81 a1 ff 01", 4, true, KX_MP_EUTF8);
	CK("81 01 81 a2 c0 af 01", 4, false, KX_MP_EUTF8);
	/* bin and ext bytes are not text */
	CK("c4 01 ff", 1, false, KX_MP_OK);
	CK("d4 01 ff", 1, false, KX_MP_OK);
	assert_string_equal(kx_mp_strerror(KX_MP_EUTF8),
	    "string is not UTF-8");
}

static void
test_check_dupkeys_small(void **state)
{
	(void)state;
	CK("82 a1 61 01 a1 62 01", 2, false, KX_MP_OK);
	CK("82 a1 61 01 a1 61 02", 2, false, KX_MP_EDUPKEY);
	CK("83 a1 61 01 a1 62 02 a1 61 03", 2, false, KX_MP_EDUPKEY);
	CK("82 a1 61 01 a2 61 61 01", 2, false, KX_MP_OK);	/* prefix */
	CK("82 a0 01 a0 02", 2, false, KX_MP_EDUPKEY);		/* "" */
	/* the same string in str8, str16, str32 and fixstr */
	CK("82 a1 61 01 d9 01 61 02", 2, false, KX_MP_EDUPKEY);
	CK("82 d9 01 61 01 da 00 01 61 02", 2, false, KX_MP_EDUPKEY);
	CK("82 db 00 00 00 01 61 01 a1 61 02", 2, true, KX_MP_EDUPKEY);
	/* the same integer in different formats */
	CK("82 01 c0 cc 01 c0", 2, false, KX_MP_EDUPKEY);
	CK("82 01 c0 d0 01 c0", 2, false, KX_MP_EDUPKEY);
	CK("82 cd 00 01 c0 cf 00 00 00 00 00 00 00 01 c0", 2, false,
	    KX_MP_EDUPKEY);
	CK("82 ff c0 d0 ff c0", 2, false, KX_MP_EDUPKEY);
	CK("82 ff c0 d3 ff ff ff ff ff ff ff ff c0", 2, false,
	    KX_MP_EDUPKEY);
	CK("82 01 c0 ff c0", 2, false, KX_MP_OK);	/* 1 and -1 */
	CK("82 01 c0 02 c0", 2, false, KX_MP_OK);
	/* a string and a bin of the same bytes differ */
	CK("82 a1 61 01 c4 01 61 01", 2, false, KX_MP_OK);
	/* other key types */
	CK("82 c0 01 c0 02", 2, false, KX_MP_EDUPKEY);
	CK("82 c3 01 c3 02", 2, false, KX_MP_EDUPKEY);
	CK("82 c2 01 c3 02", 2, false, KX_MP_OK);
	CK("82 c4 01 61 01 c5 00 01 61 02", 2, false, KX_MP_EDUPKEY);
	CK("82 d4 01 61 01 d4 01 61 02", 2, false, KX_MP_EDUPKEY);
	CK("82 d4 01 61 01 d4 02 61 02", 2, false, KX_MP_OK);
	CK("82 91 01 01 91 01 02", 2, false, KX_MP_EDUPKEY);
	CK("82 91 01 01 91 02 02", 2, false, KX_MP_OK);
	/* a duplicate in a nested map, and in a map in an array */
	CK("81 a1 6d 82 a1 78 01 a1 78 02", 3, false, KX_MP_EDUPKEY);
	CK("92 80 82 02 c0 cc 02 c0", 3, false, KX_MP_EDUPKEY);
	/* the same key in two different maps is fine */
	CK("82 a1 61 81 a1 61 01 a1 62 81 a1 61 01", 3, false, KX_MP_OK);
	assert_string_equal(kx_mp_strerror(KX_MP_EDUPKEY),
	    "duplicate map key");
}

/* Builds a map of n one-letter-ish string keys "k0".."kN" -> i. */
static size_t
big_map(uint8_t *b, size_t cap, unsigned n)
{
	size_t		 l = 0;
	unsigned	 i;

	if (cap < 3 + n * 8)
		abort();
	b[l++] = 0xde;
	b[l++] = (uint8_t)(n >> 8);
	b[l++] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		b[l++] = 0xa3;
		b[l++] = 'k';
		b[l++] = (uint8_t)('0' + i / 10);
		b[l++] = (uint8_t)('0' + i % 10);
		b[l++] = (uint8_t)(i & 0x7f);
	}
	return l;
}

static void
test_check_dupkeys_large(void **state)
{
	uint8_t		 b[1024];
	size_t		 n;

	(void)state;
	/* 16 keys: the pairwise path; 17 and more: the sorted path */
	n = big_map(b, sizeof(b), 16);
	ck_bytes(b, n, 2, true, KX_MP_OK, __FILE__, __LINE__);
	n = big_map(b, sizeof(b), 17);
	ck_bytes(b, n, 2, true, KX_MP_OK, __FILE__, __LINE__);
	n = big_map(b, sizeof(b), 100);
	ck_bytes(b, n, 2, true, KX_MP_OK, __FILE__, __LINE__);

	/* last key equals the first */
	n = big_map(b, sizeof(b), 17);
	memcpy(b + n - 5, b + 3, 4);
	ck_bytes(b, n, 2, true, KX_MP_EDUPKEY, __FILE__, __LINE__);
	/* two equal keys in the middle of 40 */
	n = big_map(b, sizeof(b), 40);
	memcpy(b + 3 + 25 * 5, b + 3 + 12 * 5, 4);
	ck_bytes(b, n, 2, true, KX_MP_EDUPKEY, __FILE__, __LINE__);

	/* 17 keys, "a" once as fixstr, once as str8 */
	CK("de 00 11 a1 61 00 a1 62 00 a1 63 00 a1 64 00 a1 65 00 a1 66 00"
	    " a1 67 00 a1 68 00 a1 69 00 a1 6a 00 a1 6b 00 a1 6c 00 a1 6d 00"
	    " a1 6e 00 a1 6f 00 a1 70 00 d9 01 61 00", 2, true,
	    KX_MP_EDUPKEY);
	/* the same with str8 "q": no duplicate */
	CK("de 00 11 a1 61 00 a1 62 00 a1 63 00 a1 64 00 a1 65 00 a1 66 00"
	    " a1 67 00 a1 68 00 a1 69 00 a1 6a 00 a1 6b 00 a1 6c 00 a1 6d 00"
	    " a1 6e 00 a1 6f 00 a1 70 00 d9 01 71 00", 2, true, KX_MP_OK);
	/* 17 integer keys 0..16, then 1 again as uint8 (18 keys) */
	CK("de 00 12 00 c0 01 c0 02 c0 03 c0 04 c0 05 c0 06 c0 07 c0 08 c0"
	    " 09 c0 0a c0 0b c0 0c c0 0d c0 0e c0 0f c0 10 c0 cc 01 c0", 2,
	    false, KX_MP_EDUPKEY);
	/* ... and as int16 */
	CK("de 00 12 00 c0 01 c0 02 c0 03 c0 04 c0 05 c0 06 c0 07 c0 08 c0"
	    " 09 c0 0a c0 0b c0 0c c0 0d c0 0e c0 0f c0 10 c0 d1 00 01 c0", 2,
	    false, KX_MP_EDUPKEY);
	/* ... 17 as uint8 is new */
	CK("de 00 12 00 c0 01 c0 02 c0 03 c0 04 c0 05 c0 06 c0 07 c0 08 c0"
	    " 09 c0 0a c0 0b c0 0c c0 0d c0 0e c0 0f c0 10 c0 cc 11 c0", 2,
	    false, KX_MP_OK);
}

static void
test_check_depth(void **state)
{
	(void)state;
	/* scalars need no level; a container is level 1 */
	CK("01", 0, false, KX_MP_OK);
	CK("a1 61", 0, false, KX_MP_OK);
	CK("90", 0, false, KX_MP_EDEPTH);
	CK("80", 0, false, KX_MP_EDEPTH);
	CK("90", 1, false, KX_MP_OK);
	CK("91 90", 1, false, KX_MP_EDEPTH);
	/* exactly at the limit and one over */
	CK("91 91 91 01", 3, false, KX_MP_OK);
	CK("91 91 91 91 01", 3, false, KX_MP_EDEPTH);
	CK("91 91 91 91 01", 4, false, KX_MP_OK);
	CK("81 a1 61 81 a1 62 81 a1 63 01", 3, false, KX_MP_OK);
	CK("81 a1 61 81 a1 62 81 a1 63 80", 3, false, KX_MP_EDEPTH);
	CK("81 a1 61 91 81 a1 63 91 01", 4, false, KX_MP_OK);
	CK("81 a1 61 91 81 a1 63 91 01", 3, false, KX_MP_EDEPTH);
	/* the deepest branch counts, not the first */
	CK("93 01 91 01 91 91 01", 3, false, KX_MP_OK);
	CK("93 01 91 01 91 91 91 01", 3, false, KX_MP_EDEPTH);
	/* a container key is one level below its map, like a value */
	CK("81 91 01 01", 2, false, KX_MP_OK);
	CK("81 91 01 01", 1, false, KX_MP_EDEPTH);
	assert_string_equal(kx_mp_strerror(KX_MP_EDEPTH), "nested too deep");
}

/* Nesting far beyond any limit: refused without deep recursion. */
static void
test_check_depth_many(void **state)
{
	uint8_t		 b[4096];
	kx_mp_cur_t	 c;
	size_t		 i;

	(void)state;
	memset(b, 0x91, sizeof(b));
	b[sizeof(b) - 1] = 0x01;
	ck_bytes(b, sizeof(b), 8, false, KX_MP_EDEPTH, __FILE__, __LINE__);
	ck_bytes(b, sizeof(b), 4095, false, KX_MP_OK, __FILE__, __LINE__);
	kx_mp_cur_init(&c, b, sizeof(b));
	assert_int_equal(kx_mp_skip(&c, 64), KX_MP_EDEPTH);
	for (i = 0; i < sizeof(b) - 1; i += 2)
		b[i] = 0x81;	/* {[{[...]: ...}]} keys nested */
	ck_bytes(b, sizeof(b), 8, false, KX_MP_EDEPTH, __FILE__, __LINE__);
}

static void
test_check_str_keys(void **state)
{
	(void)state;
	CK("81 01 02", 2, false, KX_MP_OK);
	CK("81 01 02", 2, true, KX_MP_EKEYTYPE);
	CK("82 a1 61 01 02 03", 2, true, KX_MP_EKEYTYPE);
	CK("81 c4 01 61 01", 2, true, KX_MP_EKEYTYPE);
	CK("81 c0 01", 2, true, KX_MP_EKEYTYPE);
	CK("81 91 a1 61 01", 2, true, KX_MP_EKEYTYPE);
	CK("81 d9 01 61 01", 2, true, KX_MP_OK);
	/* only the top map's keys: nested maps may have any key type */
	CK("81 a1 61 81 01 02", 3, true, KX_MP_OK);
	CK("91 81 01 02", 3, true, KX_MP_OK);
	/* a scalar or an array is not a map: nothing to judge */
	CK("01", 2, true, KX_MP_OK);
	CK("91 01", 2, true, KX_MP_OK);
	assert_string_equal(kx_mp_strerror(KX_MP_EKEYTYPE),
	    "map key is not a string");
}

/* kx_mp_check stops right after its value. */
static void
test_check_advances(void **state)
{
	const uint8_t	 b[] = { 0x92, 0x01, 0xa1, 0x61, 0x81, 0xa1, 0x62,
	    0xc0, 0x07 };
	kx_mp_cur_t	 c;
	kx_mp_val_t	 v;

	(void)state;
	kx_mp_cur_init(&c, b, sizeof(b));
	assert_int_equal(kx_mp_check(&c, 2, false), KX_MP_OK);
	assert_ptr_equal(c.p, b + 4);
	assert_int_equal(kx_mp_check(&c, 2, true), KX_MP_OK);
	assert_ptr_equal(c.p, b + 8);
	assert_int_equal(kx_mp_read(&c, &v), KX_MP_OK);
	assert_int_equal(v.kind, KX_MP_UINT);
	assert_int_equal(v.u, 7);
	assert_int_equal(kx_mp_left(&c), 0);
	assert_int_equal(kx_mp_check(&c, 2, false), KX_MP_ETRUNC);
}

static void
test_skip(void **state)
{
	uint8_t		 b[64];
	kx_mp_cur_t	 c;
	size_t		 n;

	(void)state;
	n = unhex("82 a1 61 92 01 c4 01 00 a1 62 80 2a", b, sizeof(b));
	kx_mp_cur_init(&c, b, n);
	assert_int_equal(kx_mp_skip(&c, 2), KX_MP_OK);
	assert_int_equal(kx_mp_left(&c), 1);
	assert_int_equal(*c.p, 0x2a);
	kx_mp_cur_init(&c, b, n);
	assert_int_equal(kx_mp_skip(&c, 1), KX_MP_EDEPTH);
	/* skip does not judge strings or keys */
	n = unhex("82 a1 ff 01 a1 ff 02", b, sizeof(b));
	kx_mp_cur_init(&c, b, n);
	assert_int_equal(kx_mp_skip(&c, 1), KX_MP_OK);
	assert_int_equal(kx_mp_left(&c), 0);
}

/*
 * kx_mp_map_get
 */

static int
get(const char *hex, const char *key, kx_mp_val_t *val, kx_mp_cur_t *after)
{
	static uint8_t	 b[256];
	kx_mp_cur_t	 c;
	kx_mp_val_t	 m;
	size_t		 n;

	n = unhex(hex, b, sizeof(b));
	kx_mp_cur_init(&c, b, n);
	if (kx_mp_check(&c, 8, false) != KX_MP_OK)
		abort();	/* map_get's precondition */
	kx_mp_cur_init(&c, b, n);
	if (kx_mp_read(&c, &m) != KX_MP_OK)
		abort();
	return kx_mp_map_get(&m, c, key, val, after);
}

static void
test_map_get(void **state)
{
	/* {"slot": 1800, "side": "buy", "steps": [[1, 2]], "s": nil} */
	const char	*m = "84 a4 73 6c 6f 74 cd 07 08 a4 73 69 64 65"
			     " a3 62 75 79 a5 73 74 65 70 73 91 92 01 02"
			     " a1 73 c0";
	kx_mp_val_t	 v, w;
	kx_mp_cur_t	 a;

	(void)state;
	assert_int_equal(get(m, "slot", &v, &a), 1);
	assert_int_equal(v.kind, KX_MP_UINT);
	assert_int_equal(v.u, 1800);
	assert_int_equal(get(m, "side", &v, &a), 1);
	assert_int_equal(v.kind, KX_MP_STR);
	assert_int_equal(v.len, 3);
	assert_memory_equal(v.ptr, "buy", 3);
	/* after is positioned on a container's elements */
	assert_int_equal(get(m, "steps", &v, &a), 1);
	assert_int_equal(v.kind, KX_MP_ARRAY);
	assert_int_equal(v.len, 1);
	assert_int_equal(kx_mp_read(&a, &w), KX_MP_OK);
	assert_int_equal(w.kind, KX_MP_ARRAY);
	assert_int_equal(w.len, 2);
	assert_int_equal(kx_mp_read(&a, &w), KX_MP_OK);
	assert_int_equal(w.u, 1);
	/* after the skipped container, the last key */
	assert_int_equal(get(m, "s", &v, &a), 1);
	assert_int_equal(v.kind, KX_MP_NIL);
	/* absent keys: prefixes, extensions, other case, empty */
	assert_int_equal(get(m, "sl", &v, &a), 0);
	assert_int_equal(get(m, "slots", &v, &a), 0);
	assert_int_equal(get(m, "SLOT", &v, &a), 0);
	assert_int_equal(get(m, "", &v, &a), 0);
	assert_int_equal(get("80", "a", &v, &a), 0);
	assert_int_equal(get("81 a0 05", "", &v, &a), 1);
	assert_int_equal(v.u, 5);
	/* a key in str8 encoding is found too */
	assert_int_equal(get("81 d9 01 61 07", "a", &v, &a), 1);
	assert_int_equal(v.u, 7);
	/* a bin key of the same bytes is not a string key */
	assert_int_equal(get("81 c4 01 61 07", "a", &v, &a), 0);
}

/* Non-string keys (allowed in nested maps) are skipped whole. */
static void
test_map_get_other_keys(void **state)
{
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;

	(void)state;
	/* {1: 2, "a": 4} */
	assert_int_equal(get("82 01 02 a1 61 04", "a", &v, &a), 1);
	assert_int_equal(v.u, 4);
	/* {[1, 2]: 3, "a": 4} */
	assert_int_equal(get("82 92 01 02 03 a1 61 04", "a", &v, &a), 1);
	assert_int_equal(v.u, 4);
	/* {["x", "a"]: 7, "b": 1}: "a" is inside a key, not a key */
	assert_int_equal(get("82 92 a1 78 a1 61 07 a1 62 01", "a", &v, &a),
	    0);
	/* {{"a": 1}: 2, "a": 3} */
	assert_int_equal(get("82 81 a1 61 01 02 a1 61 03", "a", &v, &a), 1);
	assert_int_equal(v.u, 3);
}

static void
test_map_get_not_map(void **state)
{
	const uint8_t	 b[] = { 0x91, 0xa1, 0x61 };
	kx_mp_cur_t	 c, a;
	kx_mp_val_t	 m, v;

	(void)state;
	kx_mp_cur_init(&c, b, sizeof(b));
	assert_int_equal(kx_mp_read(&c, &m), KX_MP_OK);
	assert_int_equal(kx_mp_map_get(&m, c, "a", &v, &a), KX_MP_EFORMAT);
}

/* Every status code has its own text. */
static void
test_strerror(void **state)
{
	static const int codes[] = { KX_MP_OK, KX_MP_ETRUNC, KX_MP_EFORMAT,
	    KX_MP_EUTF8, KX_MP_EDUPKEY, KX_MP_EDEPTH, KX_MP_ENOMEM,
	    KX_MP_EKEYTYPE };
	size_t	 i, j;

	(void)state;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_string_not_equal(kx_mp_strerror(codes[i]),
		    "unknown error");
		for (j = 0; j < i; j++)
			assert_string_not_equal(kx_mp_strerror(codes[i]),
			    kx_mp_strerror(codes[j]));
	}
	assert_string_equal(kx_mp_strerror(KX_MP_ETRUNC), "truncated");
	assert_string_equal(kx_mp_strerror(-99), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_fixint),
		cmocka_unit_test(test_read_uint),
		cmocka_unit_test(test_read_int_signed),
		cmocka_unit_test(test_read_nil_bool_float),
		cmocka_unit_test(test_read_str),
		cmocka_unit_test(test_read_bin),
		cmocka_unit_test(test_read_containers),
		cmocka_unit_test(test_read_ext),
		cmocka_unit_test(test_read_c1),
		cmocka_unit_test(test_read_truncated_every_byte),
		cmocka_unit_test(test_huge_counts),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_check_utf8),
		cmocka_unit_test(test_check_dupkeys_small),
		cmocka_unit_test(test_check_dupkeys_large),
		cmocka_unit_test(test_check_depth),
		cmocka_unit_test(test_check_depth_many),
		cmocka_unit_test(test_check_str_keys),
		cmocka_unit_test(test_check_advances),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_map_get),
		cmocka_unit_test(test_map_get_other_keys),
		cmocka_unit_test(test_map_get_not_map),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
