/*
 * msgjson.c - see msgjson.h.
 */
#include <inttypes.h>
#include <string.h>

#include "envelope.h"
#include "json.h"
#include "msgjson.h"

/* A C string as a JSON string, through the msgpack printer. */
static int
json_str(kx_buf_t *out, const char *s)
{
	uint8_t	 t[3 + 255];
	size_t	 n = strlen(s);

	if (n > 255)
		n = 255;
	t[0] = 0xd9;
	t[1] = (uint8_t)n;
	memcpy(t + 2, s, n);
	return kx_mp_to_json(out, t, n + 2);
}

int
kx_stored_json(kx_buf_t *out, const kx_stored_t *s)
{
	kx_msg_t	 m;

	if (kx_msg_decode(&m, s->wire, s->len, NULL) != KX_OK)
		return -1;
	kx_buf_puts(out, "{\"author\":\"");
	kx_buf_hex(out, m.author, KX_PK_LEN);
	kx_buf_printf(out, "\",\"seq\":%" PRIu64 ",\"id\":\"", m.seq);
	kx_buf_hex(out, m.id, KX_ID_LEN);
	kx_buf_puts(out, "\",\"prev\":");
	if (m.prev != NULL) {
		kx_buf_putc(out, '"');
		kx_buf_hex(out, m.prev, KX_ID_LEN);
		kx_buf_putc(out, '"');
	} else
		kx_buf_puts(out, "null");
	kx_buf_printf(out, ",\"ts\":%" PRId64 ",\"type\":", m.ts);
	if (json_str(out, m.type) == -1)
		return -1;
	kx_buf_puts(out, ",\"body\":");
	if (kx_mp_to_json(out, m.body, m.body_len) == -1)
		return -1;
	kx_buf_printf(out, ",\"status\":\"%s\"", s->valid ? "valid" :
	    "invalid");
	if (!s->valid) {
		kx_buf_puts(out, ",\"reason\":");
		if (json_str(out, s->reason != NULL ? s->reason : "") == -1)
			return -1;
	}
	kx_buf_putc(out, '}');
	return out->oom ? -1 : 0;
}
