/*
 * envelope.c - PROTOCOL.md section 3: decode, verify, sign, id.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "envelope.h"
#include "mp.h"

void
kx_why_set(kx_why_t *w, const char *fmt, ...)
{
	va_list	 ap;

	if (w == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(w->text, sizeof(w->text), fmt, ap);
	va_end(ap);
}

const char *
kx_strerror(int e)
{
	switch (e) {
	case KX_OK:		return "ok";
	case KX_ESIZE:		return "size";
	case KX_EDECODE:	return "decode";
	case KX_EVERSION:	return "version";
	case KX_EADMIT:		return "admission";
	case KX_ECHAIN:		return "chain";
	case KX_ECLOCK:		return "clock";
	case KX_ESIG:		return "signature";
	case KX_EBODY:		return "body";
	case KX_ENOMEM:		return "out of memory";
	case KX_EARG:		return "bad argument";
	}
	return "unknown error";
}

void
kx_hex(char *out, const uint8_t *p, size_t n)
{
	static const char	 d[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
kx_unhex(uint8_t *out, size_t n, const char *hex)
{
	size_t	 i;
	int	 hi, lo;

	if (strlen(hex) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		if ((hi = hexval(hex[2 * i])) < 0 ||
		    (lo = hexval(hex[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
kx_msg_id(uint8_t id[KX_ID_LEN], const uint8_t *payload, size_t len)
{
	crypto_generichash(id, KX_ID_LEN, payload, len, NULL, 0);
}

/* Reads a value that must be of `kind`; names `field` when it is not. */
static int
expect(kx_mp_cur_t *c, kx_mp_val_t *v, kx_mp_kind_t kind, const char *field,
    kx_why_t *why)
{
	int	 r;

	if ((r = kx_mp_read(c, v)) != KX_MP_OK) {
		kx_why_set(why, "decode: %s: %s", field, kx_mp_strerror(r));
		return KX_EDECODE;
	}
	if (v->kind != kind) {
		kx_why_set(why, "decode: %s has the wrong type", field);
		return KX_EDECODE;
	}
	return KX_OK;
}

static int
expect_bin(kx_mp_cur_t *c, kx_mp_val_t *v, size_t size, const char *field,
    kx_why_t *why)
{
	int	 r;

	if ((r = expect(c, v, KX_MP_BIN, field, why)) != KX_OK)
		return r;
	if (v->len != size) {
		kx_why_set(why, "decode: %s must be bin(%zu), not bin(%u)",
		    field, size, v->len);
		return KX_EDECODE;
	}
	return KX_OK;
}

static int
decode_payload(kx_msg_t *m, kx_why_t *why)
{
	kx_mp_cur_t	 c, bc;
	kx_mp_val_t	 v;
	int		 r;

	kx_mp_cur_init(&c, m->payload, m->payload_len);
	if ((r = expect(&c, &v, KX_MP_ARRAY, "payload", why)) != KX_OK)
		return r;
	if (v.len != 7) {
		kx_why_set(why, "decode: payload must be an array of 7, "
		    "not %u", v.len);
		return KX_EDECODE;
	}
	if ((r = expect(&c, &v, KX_MP_UINT, "v", why)) != KX_OK)
		return r;
	m->v = v.u;
	if ((r = expect_bin(&c, &v, KX_PK_LEN, "author", why)) != KX_OK)
		return r;
	m->author = v.ptr;
	if ((r = expect(&c, &v, KX_MP_UINT, "seq", why)) != KX_OK)
		return r;
	if (v.u < 1) {
		kx_why_set(why, "decode: seq must be at least 1");
		return KX_EDECODE;
	}
	m->seq = v.u;
	if ((r = kx_mp_read(&c, &v)) != KX_MP_OK) {
		kx_why_set(why, "decode: prev: %s", kx_mp_strerror(r));
		return KX_EDECODE;
	}
	if (v.kind == KX_MP_NIL) {
		if (m->seq != 1) {
			kx_why_set(why, "decode: prev is nil but seq is not 1");
			return KX_EDECODE;
		}
		m->prev = NULL;
	} else if (v.kind == KX_MP_BIN) {
		if (v.len != KX_ID_LEN) {
			kx_why_set(why, "decode: prev must be bin(32), "
			    "not bin(%u)", v.len);
			return KX_EDECODE;
		}
		if (m->seq == 1) {
			kx_why_set(why, "decode: prev must be nil when seq is 1");
			return KX_EDECODE;
		}
		m->prev = v.ptr;
	} else {
		kx_why_set(why, "decode: prev has the wrong type");
		return KX_EDECODE;
	}
	if ((r = kx_mp_read(&c, &v)) != KX_MP_OK) {
		kx_why_set(why, "decode: ts: %s", kx_mp_strerror(r));
		return KX_EDECODE;
	}
	if (v.kind == KX_MP_UINT && v.u <= INT64_MAX)
		m->ts = (int64_t)v.u;
	else if (v.kind == KX_MP_NINT)
		m->ts = v.i;
	else {
		kx_why_set(why, "decode: ts must be an int64");
		return KX_EDECODE;
	}
	if ((r = expect(&c, &v, KX_MP_STR, "type", why)) != KX_OK)
		return r;
	if (v.len > KX_TYPE_MAX) {
		kx_why_set(why, "decode: type is longer than %d bytes",
		    KX_TYPE_MAX);
		return KX_EDECODE;
	}
	if (!kx_utf8_valid(v.ptr, v.len)) {
		kx_why_set(why, "decode: type is not UTF-8");
		return KX_EDECODE;
	}
	if (memchr(v.ptr, '\0', v.len) != NULL) {
		kx_why_set(why, "decode: type contains a NUL byte");
		return KX_EDECODE;
	}
	memcpy(m->type, v.ptr, v.len);
	m->type[v.len] = '\0';
	m->body = c.p;
	bc = c;
	if ((r = kx_mp_read(&bc, &v)) != KX_MP_OK || v.kind != KX_MP_MAP) {
		kx_why_set(why, "decode: body %s", r != KX_MP_OK ?
		    kx_mp_strerror(r) : "must be a map");
		return KX_EDECODE;
	}
	/* the body map is level 1; KX_BODY_DEPTH levels may nest inside */
	if ((r = kx_mp_check(&c, KX_BODY_DEPTH + 1, true)) != KX_MP_OK) {
		if (r == KX_MP_EDEPTH)
			kx_why_set(why, "decode: body nests arrays or maps "
			    "more than %d deep", KX_BODY_DEPTH);
		else
			kx_why_set(why, "decode: body: %s", kx_mp_strerror(r));
		return r == KX_MP_ENOMEM ? KX_ENOMEM : KX_EDECODE;
	}
	m->body_len = (size_t)(c.p - m->body);
	if (kx_mp_left(&c) != 0) {
		kx_why_set(why, "decode: trailing bytes inside payload");
		return KX_EDECODE;
	}
	return KX_OK;
}

int
kx_msg_decode(kx_msg_t *m, const uint8_t *wire, size_t len, kx_why_t *why)
{
	kx_mp_cur_t	 c;
	kx_mp_val_t	 v;
	int		 r;

	memset(m, 0, sizeof(*m));
	if (len > KX_WIRE_MAX) {
		kx_why_set(why, "size: %zu bytes is over the %d byte limit",
		    len, KX_WIRE_MAX);
		return KX_ESIZE;
	}
	m->wire = wire;
	m->wire_len = len;
	kx_mp_cur_init(&c, wire, len);
	if ((r = expect(&c, &v, KX_MP_ARRAY, "wire", why)) != KX_OK)
		return r;
	if (v.len != 2) {
		kx_why_set(why, "decode: wire must be an array of 2, not %u",
		    v.len);
		return KX_EDECODE;
	}
	if ((r = expect(&c, &v, KX_MP_BIN, "payload", why)) != KX_OK)
		return r;
	m->payload = v.ptr;
	m->payload_len = v.len;
	if ((r = expect_bin(&c, &v, KX_SIG_LEN, "sig", why)) != KX_OK)
		return r;
	m->sig = v.ptr;
	if (kx_mp_left(&c) != 0) {
		kx_why_set(why, "decode: trailing bytes after wire");
		return KX_EDECODE;
	}
	if ((r = decode_payload(m, why)) != KX_OK)
		return r;
	kx_msg_id(m->id, m->payload, m->payload_len);
	return KX_OK;
}

int
kx_msg_check_version(const kx_msg_t *m, kx_why_t *why)
{
	if (m->v != KX_VERSION) {
		kx_why_set(why, "version: v is %llu, not %d",
		    (unsigned long long)m->v, KX_VERSION);
		return KX_EVERSION;
	}
	return KX_OK;
}

int
kx_msg_verify(const kx_msg_t *m, kx_why_t *why)
{
	if (crypto_sign_verify_detached(m->sig, m->payload, m->payload_len,
	    m->author) != 0) {
		kx_why_set(why, "signature: does not verify");
		return KX_ESIG;
	}
	return KX_OK;
}

int
kx_msg_sign(kx_buf_t *wire, const uint8_t sk[KX_SK_LEN], uint64_t seq,
    const uint8_t *prev, int64_t ts, const char *type, const uint8_t *body,
    size_t body_len)
{
	msgpack_packer	 pk;
	kx_buf_t	 payload;
	uint8_t		 sig[KX_SIG_LEN];
	size_t		 tlen = strlen(type);
	int		 r = KX_ENOMEM;

	if (seq < 1 || (seq == 1) != (prev == NULL) || tlen > KX_TYPE_MAX)
		return KX_EARG;
	kx_buf_init(&payload);
	msgpack_packer_init(&pk, &payload, kx_buf_msgpack_write);
	msgpack_pack_array(&pk, 7);
	msgpack_pack_uint64(&pk, KX_VERSION);
	msgpack_pack_bin(&pk, KX_PK_LEN);
	msgpack_pack_bin_body(&pk, sk + 32, KX_PK_LEN);	/* seed || pk */
	msgpack_pack_uint64(&pk, seq);
	if (prev == NULL)
		msgpack_pack_nil(&pk);
	else {
		msgpack_pack_bin(&pk, KX_ID_LEN);
		msgpack_pack_bin_body(&pk, prev, KX_ID_LEN);
	}
	msgpack_pack_int64(&pk, ts);
	msgpack_pack_str(&pk, tlen);
	msgpack_pack_str_body(&pk, type, tlen);
	kx_buf_append(&payload, body, body_len);
	if (payload.oom)
		goto fail;
	crypto_sign_detached(sig, NULL, payload.data, payload.len, sk);
	msgpack_packer_init(&pk, wire, kx_buf_msgpack_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin(&pk, payload.len);
	msgpack_pack_bin_body(&pk, payload.data, payload.len);
	msgpack_pack_bin(&pk, KX_SIG_LEN);
	msgpack_pack_bin_body(&pk, sig, KX_SIG_LEN);
	if (!wire->oom)
		r = KX_OK;
fail:
	kx_buf_free(&payload);
	return r;
}
