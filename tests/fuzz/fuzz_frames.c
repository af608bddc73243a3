/*
 * fuzz_frames.c - libFuzzer target for protocols/frames.c.
 *
 * The input is decoded both as a gossip header and as a VEC chunk (into
 * room for exactly KX_VEC_CHUNK entries). What decodes is encoded again;
 * the re-encoding must decode to the identical value, be canonical (a
 * second round gives the same bytes) and be no longer than the input (the
 * encoder picks the shortest form of every value). A refusal must come
 * with a one-line reason starting "frame: ".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "frames.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_why(const kx_why_t *why)
{
	size_t	 n = strnlen(why->text, sizeof(why->text));

	if (n == sizeof(why->text) || strncmp(why->text, "frame: ", 7) != 0 ||
	    memchr(why->text, '\n', n) != NULL)
		abort();
}

static void
header(const uint8_t *data, size_t size)
{
	kx_frame_t	 f, g;
	kx_buf_t	 b1, b2;
	kx_why_t	 why;

	memset(&why, 0, sizeof(why));
	if (kx_frame_decode(&f, data, size, &why) != KX_OK) {
		check_why(&why);
		return;
	}
	kx_buf_init(&b1);
	kx_buf_init(&b2);
	if (kx_frame_encode(&b1, &f) != 0 || b1.len > size)
		abort();
	if (kx_frame_decode(&g, b1.data, b1.len, &why) != KX_OK ||
	    memcmp(&f, &g, sizeof(f)) != 0)
		abort();
	if (kx_frame_encode(&b2, &g) != 0 || b1.len != b2.len ||
	    memcmp(b1.data, b2.data, b1.len) != 0)
		abort();
	kx_buf_free(&b1);
	kx_buf_free(&b2);
}

static void
chunk(const uint8_t *data, size_t size)
{
	kx_vec_entry_t	 e[KX_VEC_CHUNK], d[KX_VEC_CHUNK];
	kx_buf_t	 b1, b2;
	kx_why_t	 why;
	size_t		 n, m;

	memset(&why, 0, sizeof(why));
	if (kx_vec_decode(e, &n, data, size, &why) != KX_OK) {
		if (n != 0)
			abort();
		check_why(&why);
		return;
	}
	if (n > KX_VEC_CHUNK)
		abort();
	kx_buf_init(&b1);
	kx_buf_init(&b2);
	if (kx_vec_encode(&b1, e, n) != 0 || b1.len > size)
		abort();
	if (kx_vec_decode(d, &m, b1.data, b1.len, &why) != KX_OK || m != n ||
	    memcmp(e, d, n * sizeof(*e)) != 0)
		abort();
	if (kx_vec_encode(&b2, d, m) != 0 || b1.len != b2.len ||
	    memcmp(b1.data, b2.data, b1.len) != 0)
		abort();
	kx_buf_free(&b1);
	kx_buf_free(&b2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	header(data, size);
	chunk(data, size);
	return 0;
}
