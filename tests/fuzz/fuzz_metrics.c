/*
 * fuzz_metrics.c - libFuzzer target for the metrics port's request
 * routing (kx_metrics_route in node/metrics.c): any bytes, never a crash
 * or a read past len; the answer is 200, 404 or 400, and 200 only for
 * GET /metrics or GET /.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*req;
	int	 st;

	/* an exact-size copy, so ASan sees any read past len */
	if ((req = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(req, data, size);
	st = kx_metrics_route(req, size);
	if (st != 200 && st != 404 && st != 400)
		abort();
	if (st == 200 && !(size >= 13 && memcmp(req, "GET /metrics ", 13) ==
	    0) && !(size >= 6 && memcmp(req, "GET / ", 6) == 0))
		abort();
	if (st == 404 && (size < 4 || memcmp(req, "GET ", 4) != 0))
		abort();
	free(req);
	return 0;
}
