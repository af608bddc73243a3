/*
 * fuzz_registers.c - libFuzzer target for meters/profile.c and
 * meters/sunspec.c.
 *
 * Input: byte 0 picks where the image sits (40000, 0, 50000 or near the
 * top of the address space), byte 1 a scale exponent; the rest are
 * big-endian registers. Every type and word order is decoded at every
 * offset and converted to fixed point; the image is then served through
 * an in-memory transport (exception outside it) to the SunSpec scan and
 * read, and to the SDM profiles. The map must hold its invariants: at most
 * 64 models, increasing addresses, every model inside 0..65535.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "sunspec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint16_t	 image[65536];
static uint32_t	 img_lo, img_hi;	/* mapped [lo, hi) */
static int	 img_reads;

static int
img_read(void *ctx, int fc, uint16_t addr, uint16_t n, uint16_t *out)
{
	(void)ctx;
	(void)fc;
	if (n == 0 || n > KX_MODBUS_READ_MAX)
		abort();		/* callers must respect the limit */
	if (++img_reads > 4096)
		abort();		/* the walk must end */
	if (addr < img_lo || (uint32_t)addr + n > img_hi)
		return KX_METER_EEXC;
	memcpy(out, image + addr, n * sizeof(uint16_t));
	return KX_METER_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t	 bases[4] = { 40000, 0, 50000, 65400 };
	const kx_profile_t	*p;
	kx_ss_map_t		 map;
	kx_reading_t		 r;
	kx_val_t		 v;
	int64_t			 x;
	uint16_t		*regs;
	size_t			 n, i, t, o;
	int			 exp10, rc;

	if (size < 2)
		return 0;
	img_lo = bases[data[0] & 3];
	exp10 = (int8_t)data[1] % 24;
	n = (size - 2) / 2;
	if (n > 65536 - img_lo)
		n = 65536 - img_lo;
	img_hi = img_lo + (uint32_t)n;
	regs = image + img_lo;
	for (i = 0; i < n; i++)
		regs[i] = (uint16_t)(data[2 + 2 * i] << 8 | data[3 + 2 * i]);

	for (i = 0; i < n && i < 64; i++)
		for (t = KX_T_U16; t <= KX_T_SUNSSF; t++)
			for (o = KX_O_ABCD; o <= KX_O_CDAB; o++)
				if (kx_reg_decode(&v, regs + i, n - i,
				    (kx_rtype_t)t, (kx_word_order_t)o) ==
				    KX_METER_OK && kx_val_to_fixed(&x, &v,
				    exp10) == KX_METER_OK && (x >= (1LL << 62) ||
				    x <= -(1LL << 62)))
					abort();

	memset(&r, 0, sizeof(r));
	if (n >= 1)
		(void)kx_ss_decode_model(&r, regs[0], regs, n);

	img_reads = 0;
	rc = kx_ss_scan(&map, img_read, NULL);
	if (rc == KX_METER_OK) {
		if (map.nmodels > KX_SS_MODELS_MAX)
			abort();
		for (i = 0; i < map.nmodels; i++) {
			if ((uint32_t)map.models[i].addr + map.models[i].len +
			    2 > 65536)
				abort();
			if (i > 0 && map.models[i].addr <=
			    map.models[i - 1].addr)
				abort();
		}
		memset(&r, 0, sizeof(r));
		rc = kx_ss_read(&r, &map, img_read, NULL);
		if (rc == KX_METER_OK && r.flags == 0)
			abort();	/* success means a value */
		if (r.nphases < 0 || r.nphases > KX_PHASES_MAX)
			abort();
	}
	p = kx_profile_find((data[0] & 4) ? "sdm120" : "sdm630");
	memset(&r, 0, sizeof(r));
	img_reads = 0;
	rc = kx_profile_read(&r, p, img_read, NULL);
	if (rc == KX_METER_OK && r.nphases != p->nphases)
		abort();
	memset(image + img_lo, 0, n * sizeof(uint16_t));
	return 0;
}
