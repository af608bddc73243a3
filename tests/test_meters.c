/*
 * test_meters.c - meters/: register decoders (every type and word order,
 * sentinels, scale factors), the SunSpec chain walk over in-memory
 * register images (good and bad chains), the SDM table profiles, and end
 * to end over Modbus TCP on 127.0.0.1 against kaga-meter-sim (path from
 * $KAGA_METER_SIM, default build/rel/bin/kaga-meter-sim), including a
 * fault (no answer) and reconnection after it is cleared.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "device.h"
#include "profile.h"
#include "sunspec.h"

#include "simutil.h"

/* ---- decoders ---- */

static void
dec_ok(const uint16_t *r, size_t n, kx_rtype_t t, kx_word_order_t o,
    kx_val_t *v)
{
	assert_int_equal(kx_reg_decode(v, r, n, t, o), KX_METER_OK);
}

static void
test_float_orders(void **state)
{
	/* 230.5 = 0x43668000 */
	static const uint16_t abcd[2] = { 0x4366, 0x8000 };
	static const uint16_t dcba[2] = { 0x0080, 0x6643 };
	static const uint16_t badc[2] = { 0x6643, 0x0080 };
	static const uint16_t cdab[2] = { 0x8000, 0x4366 };
	kx_val_t	 v;
	uint16_t	 enc[2];
	int64_t		 x;

	(void)state;
	dec_ok(abcd, 2, KX_T_FLOAT32, KX_O_ABCD, &v);
	assert_true(v.is_float);
	assert_true(v.f == 230.5);
	dec_ok(dcba, 2, KX_T_FLOAT32, KX_O_DCBA, &v);
	assert_true(v.f == 230.5);
	dec_ok(badc, 2, KX_T_FLOAT32, KX_O_BADC, &v);
	assert_true(v.f == 230.5);
	dec_ok(cdab, 2, KX_T_FLOAT32, KX_O_CDAB, &v);
	assert_true(v.f == 230.5);
	/* the wrong order gives another value */
	dec_ok(abcd, 2, KX_T_FLOAT32, KX_O_CDAB, &v);
	assert_true(v.f != 230.5);
	/* encoders are the inverse */
	kx_reg_encode_float(enc, 230.5f, KX_O_DCBA);
	assert_memory_equal(enc, dcba, sizeof(enc));
	kx_reg_encode_float(enc, 230.5f, KX_O_BADC);
	assert_memory_equal(enc, badc, sizeof(enc));
	kx_reg_encode_float(enc, 230.5f, KX_O_CDAB);
	assert_memory_equal(enc, cdab, sizeof(enc));
	/* 230.5 V to mV */
	dec_ok(abcd, 2, KX_T_FLOAT32, KX_O_ABCD, &v);
	assert_int_equal(kx_val_to_fixed(&x, &v, 3), KX_METER_OK);
	assert_int_equal(x, 230500);
	/* 1234.567 kWh (float32) to Wh rounds to the nearest */
	kx_reg_encode_float(enc, 1234.567f, KX_O_ABCD);
	dec_ok(enc, 2, KX_T_FLOAT32, KX_O_ABCD, &v);
	assert_int_equal(kx_val_to_fixed(&x, &v, 3), KX_METER_OK);
	assert_int_equal(x, 1234567);
}

static void
test_int32_orders(void **state)
{
	static const uint16_t r[4][2] = {
		{ 0x1234, 0x5678 },	/* ABCD */
		{ 0x7856, 0x3412 },	/* DCBA */
		{ 0x3412, 0x7856 },	/* BADC */
		{ 0x5678, 0x1234 },	/* CDAB */
	};
	static const kx_word_order_t o[4] = { KX_O_ABCD, KX_O_DCBA, KX_O_BADC,
	    KX_O_CDAB };
	static const uint16_t neg[2] = { 0xFFFF, 0xFFFE };
	kx_val_t	 v;
	uint16_t	 enc[2];
	int		 i;

	(void)state;
	for (i = 0; i < 4; i++) {
		dec_ok(r[i], 2, KX_T_U32, o[i], &v);
		assert_false(v.is_float);
		assert_int_equal(v.i, 0x12345678);
		dec_ok(r[i], 2, KX_T_I32, o[i], &v);
		assert_int_equal(v.i, 0x12345678);
		dec_ok(r[i], 2, KX_T_ACC32, o[i], &v);
		assert_int_equal(v.i, 0x12345678);
		kx_reg_encode32(enc, 0x12345678, o[i]);
		assert_memory_equal(enc, r[i], sizeof(enc));
	}
	dec_ok(neg, 2, KX_T_I32, KX_O_ABCD, &v);
	assert_int_equal(v.i, -2);
	dec_ok(neg, 2, KX_T_U32, KX_O_ABCD, &v);
	assert_int_equal(v.i, 0xFFFFFFFEu);
	dec_ok(neg, 2, KX_T_ACC32, KX_O_ABCD, &v);
	assert_int_equal(v.i, 0xFFFFFFFEu);
}

static void
test_int16(void **state)
{
	static const uint16_t a = 0xFFFE, b = 0x7FFF, c = 0xFFFD;
	kx_val_t	 v;

	(void)state;
	dec_ok(&a, 1, KX_T_U16, KX_O_ABCD, &v);
	assert_int_equal(v.i, 65534);
	dec_ok(&a, 1, KX_T_I16, KX_O_ABCD, &v);
	assert_int_equal(v.i, -2);
	dec_ok(&b, 1, KX_T_I16, KX_O_DCBA, &v);	/* order ignored */
	assert_int_equal(v.i, 32767);
	dec_ok(&c, 1, KX_T_SUNSSF, KX_O_ABCD, &v);
	assert_int_equal(v.i, -3);
}

static void
test_sentinels(void **state)
{
	static const uint16_t u16 = 0xFFFF, i16 = 0x8000;
	static const uint16_t u32[2] = { 0xFFFF, 0xFFFF };
	static const uint16_t i32[2] = { 0x8000, 0x0000 };
	static const uint16_t zero[2] = { 0, 0 };
	static const uint16_t qnan[2] = { 0x7FC0, 0x0000 };
	static const uint16_t snan[2] = { 0x7F80, 0x0001 };
	kx_val_t	 v;

	(void)state;
	assert_int_equal(kx_reg_decode(&v, &u16, 1, KX_T_U16, KX_O_ABCD),
	    KX_METER_ENOTIMPL);
	assert_int_equal(kx_reg_decode(&v, &i16, 1, KX_T_I16, KX_O_ABCD),
	    KX_METER_ENOTIMPL);
	assert_int_equal(kx_reg_decode(&v, &i16, 1, KX_T_SUNSSF, KX_O_ABCD),
	    KX_METER_ENOTIMPL);
	assert_int_equal(kx_reg_decode(&v, u32, 2, KX_T_U32, KX_O_ABCD),
	    KX_METER_ENOTIMPL);
	assert_int_equal(kx_reg_decode(&v, i32, 2, KX_T_I32, KX_O_ABCD),
	    KX_METER_ENOTIMPL);
	assert_int_equal(kx_reg_decode(&v, zero, 2, KX_T_ACC32, KX_O_ABCD),
	    KX_METER_ENOTIMPL);
	assert_int_equal(kx_reg_decode(&v, qnan, 2, KX_T_FLOAT32,
	    KX_O_ABCD), KX_METER_ENOTIMPL);
	assert_int_equal(kx_reg_decode(&v, snan, 2, KX_T_FLOAT32,
	    KX_O_ABCD), KX_METER_ENOTIMPL);
	/* 0xFFFF is a value for i16 (-1), 0x8000 for u16 */
	dec_ok(&u16, 1, KX_T_I16, KX_O_ABCD, &v);
	assert_int_equal(v.i, -1);
	dec_ok(&i16, 1, KX_T_U16, KX_O_ABCD, &v);
	assert_int_equal(v.i, 0x8000);
	/* 0 is a value for u32 */
	dec_ok(zero, 2, KX_T_U32, KX_O_ABCD, &v);
	assert_int_equal(v.i, 0);
	/* short input and bad type/order */
	assert_int_equal(kx_reg_decode(&v, zero, 1, KX_T_U32, KX_O_ABCD),
	    KX_METER_ESHORT);
	assert_int_equal(kx_reg_decode(&v, zero, 0, KX_T_U16, KX_O_ABCD),
	    KX_METER_ESHORT);
	assert_int_equal(kx_reg_decode(&v, zero, 2, (kx_rtype_t)99,
	    KX_O_ABCD), KX_METER_ETYPE);
	assert_int_equal(kx_reg_decode(&v, zero, 2, KX_T_U32,
	    (kx_word_order_t)9), KX_METER_ETYPE);
}

static void
test_fixed(void **state)
{
	kx_val_t	 v = { 0, 0, 0 };
	int64_t		 x;

	(void)state;
	v.i = 2305;		/* 230.5 with SF -1, to whole units */
	assert_int_equal(kx_val_to_fixed(&x, &v, -1), KX_METER_OK);
	assert_int_equal(x, 231);
	v.i = -2305;
	assert_int_equal(kx_val_to_fixed(&x, &v, -1), KX_METER_OK);
	assert_int_equal(x, -231);
	v.i = 12344;
	assert_int_equal(kx_val_to_fixed(&x, &v, -2), KX_METER_OK);
	assert_int_equal(x, 123);
	v.i = 2305;		/* SF -1 to mV: 10^(3-1) */
	assert_int_equal(kx_val_to_fixed(&x, &v, 2), KX_METER_OK);
	assert_int_equal(x, 230500);
	v.i = 7;
	assert_int_equal(kx_val_to_fixed(&x, &v, 0), KX_METER_OK);
	assert_int_equal(x, 7);
	assert_int_equal(kx_val_to_fixed(&x, &v, 19), KX_METER_EIMPLAUSIBLE);
	assert_int_equal(kx_val_to_fixed(&x, &v, -19), KX_METER_EIMPLAUSIBLE);
	v.i = 4294967295LL;
	assert_int_equal(kx_val_to_fixed(&x, &v, 10), KX_METER_EIMPLAUSIBLE);
	v.i = -4294967295LL;
	assert_int_equal(kx_val_to_fixed(&x, &v, 10), KX_METER_EIMPLAUSIBLE);
	v.is_float = 1;
	v.f = -0.0005;
	assert_int_equal(kx_val_to_fixed(&x, &v, 3), KX_METER_OK);
	assert_int_equal(x, -1);
	v.f = 1.5;
	assert_int_equal(kx_val_to_fixed(&x, &v, -1), KX_METER_OK);
	assert_int_equal(x, 0);
	v.f = 15;
	assert_int_equal(kx_val_to_fixed(&x, &v, -1), KX_METER_OK);
	assert_int_equal(x, 2);
	v.f = NAN;
	assert_int_equal(kx_val_to_fixed(&x, &v, 0), KX_METER_EIMPLAUSIBLE);
	v.f = INFINITY;
	assert_int_equal(kx_val_to_fixed(&x, &v, 0), KX_METER_EIMPLAUSIBLE);
	v.f = -INFINITY;
	assert_int_equal(kx_val_to_fixed(&x, &v, 0), KX_METER_EIMPLAUSIBLE);
	v.f = 3.4e38;
	assert_int_equal(kx_val_to_fixed(&x, &v, 3), KX_METER_EIMPLAUSIBLE);
}

/* ---- in-memory register images ---- */

typedef struct {
	uint16_t	 regs[65536];
	uint8_t		 mapped[65536];	/* else exception */
	int		 fail_io;	/* every read fails */
	int		 calls;
	int		 max_n;
	int		 bad_fc;	/* a read with an unexpected fc */
	int		 fc;		/* expected fc */
} image_t;

static int
img_read(void *ctx, int fc, uint16_t addr, uint16_t n, uint16_t *out)
{
	image_t		*im = ctx;
	uint32_t	 i;

	im->calls++;
	if (n > im->max_n)
		im->max_n = n;
	if (fc != im->fc)
		im->bad_fc = 1;
	if (im->fail_io)
		return KX_METER_EIO;
	if (n == 0 || n > 125 || (uint32_t)addr + n > 65536)
		return KX_METER_EEXC;
	for (i = addr; i < (uint32_t)addr + n; i++)
		if (!im->mapped[i])
			return KX_METER_EEXC;
	memcpy(out, im->regs + addr, n * sizeof(uint16_t));
	return KX_METER_OK;
}

static image_t *
img_new(void)
{
	image_t	*im = calloc(1, sizeof(*im));

	assert_non_null(im);
	im->fc = 3;
	return im;
}

/* Maps n registers at addr, filled with fill. */
static void
img_map(image_t *im, uint32_t addr, uint32_t n, uint16_t fill)
{
	uint32_t	 i;

	for (i = addr; i < addr + n && i < 65536; i++) {
		im->mapped[i] = 1;
		im->regs[i] = fill;
	}
}

static uint32_t
put_suns(image_t *im, uint32_t base)
{
	img_map(im, base, 2, 0);
	im->regs[base] = 0x5375;
	im->regs[base + 1] = 0x6E53;
	return base + 2;
}

/* A model header and a body of fill; returns the next model's address. */
static uint32_t
put_model(image_t *im, uint32_t at, uint16_t id, uint16_t len,
    uint16_t fill)
{
	img_map(im, at, (uint32_t)len + 2, fill);
	im->regs[at] = id;
	im->regs[at + 1] = len;
	return at + len + 2;
}

static void
put_end(image_t *im, uint32_t at)
{
	img_map(im, at, 2, 0);
	im->regs[at] = 0xFFFF;
}

/* A meter 203 with SF; returns next. */
static uint32_t
put_203(image_t *im, uint32_t at)
{
	uint16_t	*m = im->regs + at;
	uint32_t	 next = put_model(im, at, 203, 105, 0xFFFF);

	m[3] = 1234; m[4] = 1000; m[5] = 800; m[6] = (uint16_t)-2; /* A */
	m[8] = 2305; m[9] = 2312; m[10] = 2298; m[15] = (uint16_t)-1;
	m[16] = 5001; m[17] = (uint16_t)-2;
	m[18] = (uint16_t)-150; m[19] = (uint16_t)-50; m[20] = (uint16_t)-50;
	m[21] = (uint16_t)-50; m[22] = 1;	/* W x 10 */
	kx_reg_encode32(m + 38, 234567, KX_O_ABCD);
	kx_reg_encode32(m + 46, 1234567, KX_O_ABCD);
	m[54] = 0;
	return next;
}

static void
test_ss_chain(void **state)
{
	image_t		*im = img_new();
	kx_ss_map_t	 map;
	kx_reading_t	 r;
	uint32_t	 a;
	uint16_t	*m;

	(void)state;
	a = put_suns(im, 40000);
	a = put_model(im, a, 1, 66, 0);
	a = put_model(im, a, 103, 50, 0xFFFF);
	m = im->regs + a - 52;
	m[14] = 3000; m[15] = 0;
	m[16] = 0x8000;	/* Hz not implemented as u16? it is 0x8000: value */
	m[17] = 0x8000;	/* Hz_SF not implemented: Hz is skipped */
	kx_reg_encode32(m + 24, 0, KX_O_ABCD);	/* acc32 not implemented */
	m[26] = 0;
	a = put_203(im, a);
	a = put_model(im, a, 802, 62, 0xFFFF);
	m = im->regs + a - 64;
	m[11] = 553; m[56] = (uint16_t)-1;	/* 55.3 % */
	m[47] = (uint16_t)-1200; m[63] = 0;
	put_end(im, a);

	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_OK);
	assert_int_equal(map.base, 40000);
	assert_int_equal(map.nmodels, 4);
	assert_int_equal(map.models[0].id, 1);
	assert_int_equal(map.models[0].addr, 40002);
	assert_int_equal(map.models[0].len, 66);
	assert_int_equal(map.models[1].id, 103);
	assert_int_equal(map.models[1].addr, 40070);
	assert_int_equal(map.models[2].id, 203);
	assert_int_equal(map.models[3].id, 802);
	assert_non_null(kx_ss_find(&map, 802));
	assert_null(kx_ss_find(&map, 113));

	memset(&r, 0, sizeof(r));
	im->max_n = 0;
	assert_int_equal(kx_ss_read(&r, &map, img_read, im), KX_METER_OK);
	assert_true(im->max_n <= 125);
	assert_false(im->bad_fc);
	assert_int_equal(r.nphases, 3);
	assert_int_equal(r.power_w, -1500);	/* -150 x 10^1 */
	assert_int_equal(r.phase_power_w[0], -500);
	assert_int_equal(r.import_wh, 1234567);
	assert_int_equal(r.export_wh, 234567);
	assert_int_equal(r.voltage_mv[0], 230500);
	assert_int_equal(r.voltage_mv[2], 229800);
	assert_int_equal(r.current_ma[0], 12340);
	assert_int_equal(r.freq_mhz, 50010);
	assert_int_equal(r.pv_w, 3000);
	assert_false(r.flags & KX_RD_PV_WH);	/* acc32 0 */
	assert_int_equal(r.soc_permille, 553);
	assert_int_equal(r.battery_w, -1200);
	free(im);
}

static void
test_ss_bases(void **state)
{
	image_t		*im = img_new();
	kx_ss_map_t	 map;

	(void)state;
	/* nothing mapped: exceptions everywhere */
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_ENOSUNS);
	assert_int_equal(im->calls, 3);
	/* mapped but no marker */
	img_map(im, 40000, 10, 0x1234);
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_ENOSUNS);
	/* at 0 */
	put_end(im, put_model(im, put_suns(im, 0), 1, 65, 0));
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_OK);
	assert_int_equal(map.base, 0);
	assert_int_equal(map.nmodels, 1);
	assert_int_equal(map.models[0].len, 65);
	free(im);

	im = img_new();
	put_end(im, put_model(im, put_suns(im, 50000), 1, 66, 0));
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_OK);
	assert_int_equal(map.base, 50000);
	/* a transport failure stops the scan */
	im->fail_io = 1;
	im->calls = 0;
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_EIO);
	assert_int_equal(im->calls, 1);
	free(im);
}

static void
test_ss_bad_chains(void **state)
{
	image_t		*im = img_new();
	kx_ss_map_t	 map;
	uint32_t	 a;
	int		 i;

	(void)state;
	/* a loop: L wraps a 16-bit walker back to the same model */
	a = put_suns(im, 40000);
	img_map(im, a, 2, 0);
	im->regs[a] = 1;
	im->regs[a + 1] = 65534;
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_ELOOP);
	/* a loop back to an earlier model */
	a = put_model(im, 40002, 1, 66, 0);
	img_map(im, a, 2, 0);
	im->regs[a] = 103;
	im->regs[a + 1] = (uint16_t)(65536 + 40002 - a - 2);
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_ELOOP);
	free(im);

	/* past register 65535 */
	im = img_new();
	a = put_suns(im, 50000);
	img_map(im, a, 2, 0);
	im->regs[a] = 1;
	im->regs[a + 1] = 20000;
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_ERANGE);
	/* a model ending exactly at 65535 leaves no room for the end */
	im->regs[a + 1] = (uint16_t)(65536 - a - 2);
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_ERANGE);
	free(im);

	/* 64 models are accepted, 65 are not */
	im = img_new();
	a = put_suns(im, 40000);
	for (i = 0; i < 64; i++)
		a = put_model(im, a, (uint16_t)(60000 + i), 0, 0);
	put_end(im, a);
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_OK);
	assert_int_equal(map.nmodels, 64);
	a = put_model(im, a, 1, 0, 0);
	put_end(im, a);
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_ETOOMANY);
	free(im);

	/* a chain with no end marker: the next header is unmapped */
	im = img_new();
	put_model(im, put_suns(im, 40000), 1, 66, 0);
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_EEXC);
	free(im);
}

/* Float meter 213 fills what integer meter 203 does not implement. */
static void
test_ss_prefer(void **state)
{
	image_t		*im = img_new();
	kx_ss_map_t	 map;
	kx_reading_t	 r;
	uint32_t	 a, m213;
	uint16_t	*m;

	(void)state;
	a = put_suns(im, 40000);
	m213 = a;
	a = put_model(im, a, 213, 124, 0);
	m = im->regs + m213;
	for (int i = 2; i < 126; i += 2) {
		m[i] = 0x7FC0;		/* NaN */
		m[i + 1] = 0;
	}
	kx_reg_encode_float(m + 28, -999.6f, KX_O_ABCD);
	kx_reg_encode_float(m + 12, 231.0f, KX_O_ABCD);
	kx_reg_encode_float(m + 68, 5000.4f, KX_O_ABCD);
	a = put_203(im, a);
	m = im->regs + a - 107;
	m[18] = 0x8000;			/* W not implemented in 203 */
	m[22] = 0;
	put_end(im, a);
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_OK);
	assert_int_equal(map.nmodels, 2);
	memset(&r, 0, sizeof(r));
	assert_int_equal(kx_ss_read(&r, &map, img_read, im), KX_METER_OK);
	assert_int_equal(r.power_w, -1000);		/* from 213 */
	assert_int_equal(r.voltage_mv[0], 230500);	/* from 203 */
	assert_int_equal(r.import_wh, 1234567);		/* from 203 */
	assert_int_equal(r.phase_power_w[0], -50);	/* 203, W_SF 0 */
	free(im);

	/* only the float model */
	im = img_new();
	a = put_model(im, put_suns(im, 40000), 213, 124, 0);
	m = im->regs + 40002;
	kx_reg_encode_float(m + 28, 1500.0f, KX_O_ABCD);
	kx_reg_encode_float(m + 68, 5000.4f, KX_O_ABCD);
	kx_reg_encode_float(m + 60, (float)NAN, KX_O_ABCD);
	put_end(im, a);
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_OK);
	memset(&r, 0, sizeof(r));
	im->max_n = 0;
	assert_int_equal(kx_ss_read(&r, &map, img_read, im), KX_METER_OK);
	assert_true(im->max_n <= 125);
	assert_int_equal(r.power_w, 1500);
	assert_int_equal(r.import_wh, 5000);
	assert_false(r.flags & KX_RD_EXPORT);
	assert_int_equal(r.nphases, 3);
	free(im);

	/* a short L hides points beyond it */
	im = img_new();
	a = put_model(im, put_suns(im, 40000), 203, 20, 0);
	im->regs[40002 + 18] = 100;
	im->regs[40002 + 22] = 0;	/* beyond L = 20: not read */
	put_end(im, a);
	assert_int_equal(kx_ss_scan(&map, img_read, im), KX_METER_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(kx_ss_read(&r, &map, img_read, im),
	    KX_METER_ENODATA);
	free(im);
}

/* Phase counts: 201 one, 202 split (two), 203 wye and 204 delta three. */
static void
test_ss_phases(void **state)
{
	static const uint16_t	 ids[8] = { 201, 202, 203, 204, 211, 212,
	    213, 214 };
	static const int	 want[8] = { 1, 2, 3, 3, 1, 2, 3, 3 };
	uint16_t		 regs[130];
	kx_reading_t		 r;
	int			 i;

	(void)state;
	for (i = 0; i < 8; i++) {
		memset(regs, 0, sizeof(regs));
		regs[0] = ids[i];
		regs[1] = 124;
		kx_reg_encode_float(regs + 28, 10.0f, KX_O_ABCD);
		regs[18] = 10;
		memset(&r, 0, sizeof(r));
		assert_true(kx_ss_decode_model(&r, ids[i], regs, 126) > 0);
		assert_int_equal(r.nphases, want[i]);
		assert_int_equal(r.power_w, 10);
	}
	/* an unknown model stores nothing */
	memset(&r, 0, sizeof(r));
	assert_int_equal(kx_ss_decode_model(&r, 64001, regs, 126), 0);
	assert_int_equal(r.flags, 0);
}

static void
test_sdm_profile(void **state)
{
	const kx_profile_t	*p = kx_profile_find("sdm630");
	image_t			*im = img_new();
	kx_reading_t		 r;

	(void)state;
	assert_non_null(p);
	assert_non_null(kx_profile_find("sdm120"));
	assert_non_null(kx_profile_find("sunspec"));
	assert_null(kx_profile_find("janitza"));
	im->fc = 4;
	img_map(im, 0, 0x100, 0);
	kx_reg_encode_float(im->regs + 0x00, 230.5f, KX_O_ABCD);
	kx_reg_encode_float(im->regs + 0x02, 231.2f, KX_O_ABCD);
	kx_reg_encode_float(im->regs + 0x04, 229.8f, KX_O_ABCD);
	kx_reg_encode_float(im->regs + 0x06, 5.5f, KX_O_ABCD);
	kx_reg_encode_float(im->regs + 0x0C, 1267.7f, KX_O_ABCD);
	kx_reg_encode_float(im->regs + 0x0E, (float)NAN, KX_O_ABCD);
	kx_reg_encode_float(im->regs + 0x34, -4033.4f, KX_O_ABCD);
	kx_reg_encode_float(im->regs + 0x46, 50.01f, KX_O_ABCD);
	kx_reg_encode_float(im->regs + 0x48, 1234.567f, KX_O_ABCD);
	kx_reg_encode_float(im->regs + 0x4A, 234.5f, KX_O_ABCD);
	memset(&r, 0, sizeof(r));
	assert_int_equal(kx_profile_read(&r, p, img_read, im), KX_METER_OK);
	assert_false(im->bad_fc);
	assert_int_equal(im->calls, 1);		/* one block of 76 */
	assert_int_equal(im->max_n, 76);
	assert_int_equal(r.nphases, 3);
	assert_int_equal(r.voltage_mv[0], 230500);
	assert_int_equal(r.voltage_mv[1], 231200);
	assert_int_equal(r.current_ma[0], 5500);
	assert_int_equal(r.phase_power_w[0], 1268);
	assert_false(r.flags & KX_RD_PPOW(1));	/* NaN */
	assert_int_equal(r.power_w, -4033);
	assert_int_equal(r.freq_mhz, 50010);
	assert_int_equal(r.import_wh, 1234567);
	assert_int_equal(r.export_wh, 234500);

	p = kx_profile_find("sdm120");
	memset(&r, 0, sizeof(r));
	assert_int_equal(kx_profile_read(&r, p, img_read, im), KX_METER_OK);
	assert_int_equal(r.nphases, 1);
	assert_int_equal(r.power_w, 1268);
	/* device failures pass through */
	im->fail_io = 1;
	assert_int_equal(kx_profile_read(&r, p, img_read, im), KX_METER_EIO);
	free(im);
}

static void
test_conf(void **state)
{
	kx_dev_conf_t	 c;

	(void)state;
	kx_dev_conf_init(&c);
	assert_int_equal(kx_dev_conf_tcp(&c, "127.0.0.1:502"), 0);
	assert_string_equal(c.host, "127.0.0.1");
	assert_int_equal(c.port, 502);
	assert_int_equal(kx_dev_conf_tcp(&c, "[::1]:1502"), 0);
	assert_string_equal(c.host, "::1");
	assert_int_equal(c.port, 1502);
	assert_int_equal(kx_dev_conf_tcp(&c, "host"), -1);
	assert_int_equal(kx_dev_conf_tcp(&c, ":502"), -1);
	assert_int_equal(kx_dev_conf_tcp(&c, "h:0"), -1);
	assert_int_equal(kx_dev_conf_tcp(&c, "h:65536"), -1);
	assert_int_equal(kx_dev_conf_tcp(&c, "h:5x"), -1);
	assert_int_equal(kx_dev_conf_tcp(&c, "::1:502"), -1);
	assert_null(kx_meter_dev_new(NULL, kx_profile_find("sdm630")));
	c.unit = 300;
	assert_null(kx_meter_dev_new(&c, kx_profile_find("sdm630")));
	assert_string_equal(kx_meter_strerror(KX_METER_ELOOP),
	    "SunSpec model chain loops");
}

/* ---- end to end over Modbus TCP ---- */

static int	 base_port;

static pid_t
sim_start(int port, const char *profile, const char *fault)
{
	char		 listen[64];
	pid_t		 pid;
	int		 i;
	struct timespec	 ts = { 0, 20000000 };

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	{
		char *const argv[] = { "kaga-meter-sim", "--listen", listen,
		    "--profile", (char *)(uintptr_t)profile, "--fault",
		    (char *)(uintptr_t)fault, "--hour", "12", NULL };

		pid = tspawn(tsim_path(), argv);
	}
	for (i = 0; i < 150; i++) {
		if (tport_open(port))
			return pid;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	fail_msg("kaga-meter-sim did not start (%s)", tsim_path());
	return -1;
}

/* Stops a simulator; it must exit 0 on SIGTERM. */
static void
sim_stop(pid_t pid)
{
	int	 st;

	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static kx_meter_dev_t *
dev_tcp(int port, const char *profile, int timeout_ms, int unit)
{
	kx_dev_conf_t	 c;
	char		 hp[64];
	kx_meter_dev_t	*d;

	kx_dev_conf_init(&c);
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
	assert_int_equal(kx_dev_conf_tcp(&c, hp), 0);
	c.timeout_ms = timeout_ms;
	c.unit = unit;
	c.gap_ms = 5;
	d = kx_meter_dev_new(&c, kx_profile_find(profile));
	assert_non_null(d);
	return d;
}

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_e2e_sdm630(void **state)
{
	int		 port = base_port;
	pid_t		 pid = sim_start(port, "sdm630", "none");
	kx_meter_dev_t	*d = dev_tcp(port, "sdm630", 1000, 1);
	kx_reading_t	 r, r2;

	(void)state;
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_OK);
	assert_int_equal(r.nphases, 3);
	assert_int_equal(r.voltage_mv[0], 230500);
	assert_int_equal(r.freq_mhz, 50010);
	assert_true(r.import_wh >= 1234567 && r.import_wh < 1240000);
	assert_true(r.export_wh >= 234567);
	assert_true(r.ts_ms > 0);
	/* sum of phases equals the total within rounding */
	assert_true(llabs(r.phase_power_w[0] + r.phase_power_w[1] +
	    r.phase_power_w[2] - r.power_w) <= 2);
	assert_int_equal(kx_meter_dev_read(d, &r2), KX_METER_OK);
	assert_true(r2.export_wh >= r.export_wh);	/* never backwards */
	kx_meter_dev_destroy(&d);
	assert_null(d);
	kx_meter_dev_destroy(&d);
	/* a SunSpec scan of an SDM630 finds no marker */
	d = dev_tcp(port, "sunspec", 1000, 1);
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_ENOSUNS);
	kx_meter_dev_destroy(&d);
	sim_stop(pid);
}

static void
test_e2e_sunspec(void **state)
{
	static const char *const profs[2] = { "sunspec", "sunspec-float" };
	int		 port = base_port + 1, i;
	pid_t		 pid;
	kx_meter_dev_t	*d;
	kx_reading_t	 r;
	kx_ss_map_t	 map;

	(void)state;
	for (i = 0; i < 2; i++) {
		pid = sim_start(port + i, profs[i], "none");
		d = dev_tcp(port + i, "sunspec", 1000, 1);
		assert_int_equal(kx_meter_dev_scan(d, &map), KX_METER_OK);
		assert_int_equal(map.base, 40000);
		assert_int_equal(map.nmodels, 4);
		assert_int_equal(map.models[0].id, 1);
		assert_int_equal(map.models[2].id, i == 0 ? 203 : 213);
		assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_OK);
		assert_int_equal(r.nphases, 3);
		assert_int_equal(r.voltage_mv[1], 231200);
		assert_int_equal(r.pv_w, 4500);		/* noon */
		assert_true(r.flags & KX_RD_SOC);
		assert_true(r.soc_permille >= 500 && r.soc_permille <= 1000);
		assert_true(r.import_wh >= 1234567);
		assert_true((r.flags & KX_RD_BATT) != 0 || i == 1);
		/* grid = load - pv - battery: the meter sees what is left */
		assert_true(r.power_w < 0);
		kx_meter_dev_destroy(&d);
		/* the wrong unit id: the device refuses (exception 11) */
		d = dev_tcp(port + i, "sunspec", 1000, 7);
		assert_int_not_equal(kx_meter_dev_read(d, &r), KX_METER_OK);
		kx_meter_dev_destroy(&d);
		sim_stop(pid);
	}
}

static void
test_e2e_fault_reconnect(void **state)
{
	int		 port = base_port + 3;
	pid_t		 pid;
	kx_meter_dev_t	*d;
	kx_reading_t	 r;
	int64_t		 t0, el;

	(void)state;
	/* no device yet: an error, not a crash */
	d = dev_tcp(port, "sdm630", 300, 1);
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_EIO);
	pid = sim_start(port, "sdm630", "noanswer");
	t0 = mono_ms();
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_EIO);
	el = mono_ms() - t0;
	assert_true(el >= 250 && el < 1500);
	sim_stop(pid);
	/* the fault is cleared: the same object reconnects */
	pid = sim_start(port, "sdm630", "none");
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_OK);
	assert_int_equal(r.voltage_mv[0], 230500);
	sim_stop(pid);
	/* device gone again: error; back: ok */
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_EIO);
	pid = sim_start(port, "sdm630", "exception:4");
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_EEXC);
	sim_stop(pid);
	pid = sim_start(port, "sdm630", "garbage");
	t0 = mono_ms();
	assert_int_not_equal(kx_meter_dev_read(d, &r), KX_METER_OK);
	assert_true(mono_ms() - t0 < 1500);
	sim_stop(pid);
	pid = sim_start(port, "sdm630", "delay:100");
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_OK);
	sim_stop(pid);
	kx_meter_dev_destroy(&d);
}

/* RTU over a pseudo-terminal pair made by socat (skipped without it). */
static void
test_e2e_rtu(void **state)
{
	char		 a[64], b[64], la[96], lb[96];
	pid_t		 socat, sim;
	kx_dev_conf_t	 c;
	kx_meter_dev_t	*d;
	kx_reading_t	 r;
	struct timespec	 ts = { 0, 20000000 };
	int		 i, st;

	(void)state;
	if (access("/usr/bin/socat", X_OK) != 0)
		skip();
	snprintf(a, sizeof(a), "/tmp/kaga-test-pty-%d-a", (int)getpid());
	snprintf(b, sizeof(b), "/tmp/kaga-test-pty-%d-b", (int)getpid());
	snprintf(la, sizeof(la), "pty,raw,echo=0,link=%s", a);
	snprintf(lb, sizeof(lb), "pty,raw,echo=0,link=%s", b);
	{
		char *const argv[] = { "socat", la, lb, NULL };

		socat = tspawn("socat", argv);
	}
	for (i = 0; i < 150 && (access(a, F_OK) != 0 || access(b, F_OK) !=
	    0); i++)
		nanosleep(&ts, NULL);
	assert_int_equal(access(b, F_OK), 0);
	{
		char *const argv[] = { "kaga-meter-sim", "--rtu", a, "--baud",
		    "19200", "--profile", "sdm630", "--unit", "3", "--hour",
		    "12", NULL };

		sim = tspawn(tsim_path(), argv);
	}
	ts.tv_nsec = 300000000;
	nanosleep(&ts, NULL);

	kx_dev_conf_init(&c);
	snprintf(c.rtu, sizeof(c.rtu), "%s", b);
	c.baud = 19200;
	c.unit = 3;
	c.timeout_ms = 500;
	c.gap_ms = 20;
	assert_non_null(d = kx_meter_dev_new(&c, kx_profile_find("sdm630")));
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_OK);
	assert_int_equal(r.voltage_mv[0], 230500);
	assert_true(r.import_wh >= 1234567);
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_OK);
	kx_meter_dev_destroy(&d);
	/* another unit id on the bus: no answer, within the timeout */
	c.unit = 4;
	assert_non_null(d = kx_meter_dev_new(&c, kx_profile_find("sdm630")));
	assert_int_equal(kx_meter_dev_read(d, &r), KX_METER_EIO);
	kx_meter_dev_destroy(&d);

	sim_stop(sim);
	kill(socat, SIGTERM);
	waitpid(socat, &st, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_float_orders),
		cmocka_unit_test(test_int32_orders),
		cmocka_unit_test(test_int16),
		cmocka_unit_test(test_sentinels),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_ss_chain),
		cmocka_unit_test(test_ss_bases),
		cmocka_unit_test(test_ss_bad_chains),
		cmocka_unit_test(test_ss_prefer),
		cmocka_unit_test(test_ss_phases),
		cmocka_unit_test(test_sdm_profile),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_e2e_sdm630),
		cmocka_unit_test(test_e2e_sunspec),
		cmocka_unit_test(test_e2e_fault_reconnect),
		cmocka_unit_test(test_e2e_rtu),
	};

	base_port = 10000 + (int)(getpid() % 1000) * 4;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
