/*
 * frames.c - gossip frame codec, see frames.h.
 */
#include <string.h>

#include <msgpack.h>

#include "frames.h"
#include "mp.h"

int
kx_frame_encode(kx_buf_t *out, const kx_frame_t *f)
{
	msgpack_packer	 pk;

	msgpack_packer_init(&pk, out, kx_buf_msgpack_write);
	switch (f->kind) {
	case KX_F_PUSH:
	case KX_F_FORK:
		msgpack_pack_array(&pk, 1);
		msgpack_pack_uint8(&pk, (uint8_t)f->kind);
		break;
	case KX_F_VEC:
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint8(&pk, KX_F_VEC);
		if (f->flag)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
		msgpack_pack_bin(&pk, KX_ID_LEN);
		msgpack_pack_bin_body(&pk, f->digest, KX_ID_LEN);
		break;
	case KX_F_WANT:
		msgpack_pack_array(&pk, 4);
		msgpack_pack_uint8(&pk, KX_F_WANT);
		msgpack_pack_bin(&pk, KX_PK_LEN);
		msgpack_pack_bin_body(&pk, f->author, KX_PK_LEN);
		msgpack_pack_uint64(&pk, f->from);
		msgpack_pack_uint64(&pk, f->count);
		break;
	case KX_F_MSGS:
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, KX_F_MSGS);
		if (f->flag)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
		break;
	default:
		return -1;
	}
	return out->oom ? -1 : 0;
}

static int
fail(kx_why_t *why, const char *what)
{
	kx_why_set(why, "frame: %s", what);
	return KX_EDECODE;
}

int
kx_frame_decode(kx_frame_t *f, const uint8_t *p, size_t n, kx_why_t *why)
{
	kx_mp_cur_t	 c;
	kx_mp_val_t	 v, a;
	uint32_t	 want;

	memset(f, 0, sizeof(*f));
	kx_mp_cur_init(&c, p, n);
	if (kx_mp_read(&c, &a) != KX_MP_OK || a.kind != KX_MP_ARRAY ||
	    a.len < 1)
		return fail(why, "header is not a non-empty array");
	if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_UINT)
		return fail(why, "kind is not an unsigned integer");
	switch (v.u) {
	case KX_F_PUSH:
	case KX_F_FORK:
		want = 1;
		break;
	case KX_F_VEC:
		want = 3;
		break;
	case KX_F_WANT:
		want = 4;
		break;
	case KX_F_MSGS:
		want = 2;
		break;
	default:
		return fail(why, "unknown kind");
	}
	f->kind = (int)v.u;
	if (a.len != want)
		return fail(why, "header has the wrong length for its kind");
	if (f->kind == KX_F_VEC || f->kind == KX_F_MSGS) {
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_BOOL)
			return fail(why, "flag is not a bool");
		f->flag = v.u != 0;
	}
	if (f->kind == KX_F_VEC) {
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_BIN ||
		    v.len != KX_ID_LEN)
			return fail(why, "digest is not bin(32)");
		memcpy(f->digest, v.ptr, KX_ID_LEN);
	}
	if (f->kind == KX_F_WANT) {
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_BIN ||
		    v.len != KX_PK_LEN)
			return fail(why, "author is not bin(32)");
		memcpy(f->author, v.ptr, KX_PK_LEN);
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_UINT ||
		    v.u < 1)
			return fail(why, "from is not a seq");
		f->from = v.u;
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_UINT ||
		    v.u < 1 || v.u > KX_WANT_MAX)
			return fail(why, "count is not 1 to 4096");
		f->count = v.u;
	}
	if (kx_mp_left(&c) != 0)
		return fail(why, "trailing bytes after the header");
	return KX_OK;
}

int
kx_vec_encode(kx_buf_t *out, const kx_vec_entry_t *e, size_t n)
{
	msgpack_packer	 pk;
	size_t		 i;

	if (n > KX_VEC_CHUNK)
		return -1;
	msgpack_packer_init(&pk, out, kx_buf_msgpack_write);
	msgpack_pack_array(&pk, n);
	for (i = 0; i < n; i++) {
		msgpack_pack_array(&pk, 2);
		msgpack_pack_bin(&pk, KX_PK_LEN);
		msgpack_pack_bin_body(&pk, e[i].author, KX_PK_LEN);
		msgpack_pack_uint64(&pk, e[i].seq);
	}
	return out->oom ? -1 : 0;
}

int
kx_vec_decode(kx_vec_entry_t *e, size_t *n, const uint8_t *p, size_t len,
    kx_why_t *why)
{
	kx_mp_cur_t	 c;
	kx_mp_val_t	 v, a;
	uint32_t	 i;

	*n = 0;
	kx_mp_cur_init(&c, p, len);
	if (kx_mp_read(&c, &a) != KX_MP_OK || a.kind != KX_MP_ARRAY ||
	    a.len > KX_VEC_CHUNK)
		return fail(why, "vector chunk is not an array of at most 256");
	for (i = 0; i < a.len; i++) {
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_ARRAY ||
		    v.len != 2)
			return fail(why, "vector entry is not [author, seq]");
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_BIN ||
		    v.len != KX_PK_LEN)
			return fail(why, "vector author is not bin(32)");
		memcpy(e[i].author, v.ptr, KX_PK_LEN);
		if (kx_mp_read(&c, &v) != KX_MP_OK || v.kind != KX_MP_UINT)
			return fail(why, "vector seq is not an unsigned integer");
		e[i].seq = v.u;
	}
	if (kx_mp_left(&c) != 0)
		return fail(why, "trailing bytes after the vector chunk");
	*n = a.len;
	return KX_OK;
}
