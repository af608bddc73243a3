/*
 * fuzz_readings.c - libFuzzer target for the readings parser of
 * `kaga-ctl settle` (kx_readings_parse in node/ctl_market.c): any bytes,
 * never a crash or a leak; a refusal is one line starting "readings" or
 * naming the field; a parsed file frees cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_market.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kx_readings_t	 rd;
	char		 err[256];

	memset(&rd, 0, sizeof(rd));
	err[0] = '\0';
	if (kx_readings_parse(&rd, (const char *)data, size, err,
	    sizeof(err)) != 0) {
		if (err[0] == '\0' || memchr(err, '\n', strlen(err)) != NULL)
			abort();	/* a refusal must say why, on one line */
	}
	kx_readings_free(&rd);
	kx_readings_free(&rd);	/* idempotent */
	return 0;
}
