/*
 * fuzz_json.c - libFuzzer target for protocols/json.c.
 *
 * The input is tried as JSON text with the bin paths kaga-ctl uses for a
 * node id and a list of inputs.  When it is accepted, the msgpack is
 * printed back to JSON and parsed again: the two msgpack encodings must be
 * identical (round trip).  A refusal must come with a one-line message.
 * The same bytes are then read as msgpack, which must never misbehave.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const	 bins[] = { "node", "in/*", NULL };
	kx_buf_t			 mp1, js, mp2, raw;
	char				 err[160];

	kx_buf_init(&mp1);
	kx_buf_init(&js);
	kx_buf_init(&mp2);
	kx_buf_init(&raw);

	if (kx_json_to_mp(&mp1, (const char *)data, size, bins, err,
	    sizeof(err)) == 0) {
		if (mp1.len == 0)
			abort();
		if (kx_mp_to_json(&js, mp1.data, mp1.len) != 0)
			abort();
		if (kx_json_to_mp(&mp2, (const char *)js.data, js.len, bins,
		    err, sizeof(err)) != 0)
			abort();
		if (mp1.len != mp2.len ||
		    memcmp(mp1.data, mp2.data, mp1.len) != 0)
			abort();
	} else {
		if (strncmp(err, "json: ", 6) != 0 ||
		    memchr(err, '\n', strlen(err)) != NULL)
			abort();
	}

	if (kx_mp_to_json(&raw, data, size) == 0 && raw.len == 0)
		abort();	/* every value prints as something */

	kx_buf_free(&mp1);
	kx_buf_free(&js);
	kx_buf_free(&mp2);
	kx_buf_free(&raw);
	return 0;
}
