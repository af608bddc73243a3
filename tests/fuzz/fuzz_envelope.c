/*
 * fuzz_envelope.c - libFuzzer target for the admission path of a lone
 * message: protocols/envelope.c, body.c and mp.c.
 *
 * The input is taken as wire bytes. kx_msg_decode must either refuse it
 * with a "size:" or "decode:" reason, or return a message whose fields
 * lie inside the input and agree with section 3 (seq >= 1, prev nil iff
 * seq 1, type at most 16 bytes, body ending the payload, id the BLAKE2b
 * of the payload). A decoded message then goes through the version check,
 * the signature check and the body schema with the default market
 * parameters (whatever the signature said, so that bodies are fuzzed too),
 * and the authority rule for every role; each must answer with its own
 * result code and reason word. Independently, the raw bytes are walked by
 * kx_mp_check with a fresh cursor. Nothing may crash or read out of
 * bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "body.h"
#include "envelope.h"
#include "mp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
want_prefix(const kx_why_t *why, const char *word)
{
	if (strncmp(why->text, word, strlen(word)) != 0)
		abort();
}

/* Every pointer of m lies inside the input, in the order of section 3. */
static void
check_decoded(const kx_msg_t *m, const uint8_t *data, size_t size)
{
	const uint8_t	*end = data + size;
	uint8_t		 id[KX_ID_LEN];

	if (m->wire != data || m->wire_len != size)
		abort();
	if (m->payload < data || m->payload_len > (size_t)(end - m->payload))
		abort();
	if (m->sig < m->payload + m->payload_len || m->sig + KX_SIG_LEN != end)
		abort();
	if (m->author < m->payload || m->author + KX_PK_LEN > m->body)
		abort();
	if (m->seq < 1 || (m->prev == NULL) != (m->seq == 1))
		abort();
	if (m->prev != NULL && (m->prev < m->author + KX_PK_LEN ||
	    m->prev + KX_ID_LEN > m->body))
		abort();
	if (strlen(m->type) > KX_TYPE_MAX)
		abort();
	if (m->body < m->payload || m->body_len == 0 ||
	    m->body + m->body_len != m->payload + m->payload_len)
		abort();
	kx_msg_id(id, m->payload, m->payload_len);
	if (memcmp(id, m->id, KX_ID_LEN) != 0)
		abort();
}

static void
check_body(const kx_msg_t *m)
{
	kx_params_t	 p;
	kx_body_t	*b;
	kx_why_t	 why;
	kx_mp_cur_t	 c, after;
	kx_mp_val_t	 map, v;
	int		 r, role, op;

	if ((b = malloc(sizeof(*b))) == NULL)
		abort();
	kx_params_default(&p);
	memset(&why, 0, sizeof(why));
	r = kx_body_parse(b, m, &p, &why);
	if (r == KX_EBODY)
		want_prefix(&why, "body: ");
	else if (r != KX_OK)
		abort();
	if (b->type != kx_type_of(m->type))
		abort();
	if (r == KX_OK && b->type == KX_T_ORDER &&
	    (b->u.order.n < 1 || b->u.order.n > KX_STEPS_MAX))
		abort();

	for (role = KX_ROLE_NONE; role <= KX_ROLE_CITY; role++)
		for (op = 0; op <= 1; op++) {
			memset(&why, 0, sizeof(why));
			r = kx_body_authority(b->type, op, (kx_role_t)role,
			    &why);
			if (r == KX_EBODY)
				want_prefix(&why, "body: authority: ");
			else if (r != KX_OK)
				abort();
		}
	free(b);

	/* the lookup the store makes on every order, on any checked body */
	kx_mp_cur_init(&c, m->body, m->body_len);
	if (kx_mp_read(&c, &map) != KX_MP_OK || map.kind != KX_MP_MAP)
		abort();	/* decode checked it */
	r = kx_mp_map_get(&map, c, "slot", &v, &after);
	if (r < 0 || r > 1)
		abort();
	if (r == 1 && (after.p < m->body || after.end != m->body +
	    m->body_len))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 init;
	kx_msg_t	 m;
	kx_why_t	 why;
	kx_mp_cur_t	 c;
	int		 r;

	if (!init) {
		if (sodium_init() < 0)
			abort();
		init = 1;
	}

	memset(&why, 0, sizeof(why));
	r = kx_msg_decode(&m, data, size, &why);
	switch (r) {
	case KX_OK:
		check_decoded(&m, data, size);
		memset(&why, 0, sizeof(why));
		r = kx_msg_check_version(&m, &why);
		if (r != (m.v == KX_VERSION ? KX_OK : KX_EVERSION))
			abort();
		if (r != KX_OK)
			want_prefix(&why, "version: ");
		memset(&why, 0, sizeof(why));
		r = kx_msg_verify(&m, &why);
		if (r == KX_ESIG)
			want_prefix(&why, "signature: ");
		else if (r != KX_OK)
			abort();
		check_body(&m);
		break;
	case KX_ESIZE:
		if (size <= KX_WIRE_MAX)
			abort();
		want_prefix(&why, "size: ");
		break;
	case KX_EDECODE:
		if (size > KX_WIRE_MAX)
			abort();
		want_prefix(&why, "decode: ");
		break;
	case KX_ENOMEM:
		break;
	default:
		abort();
	}

	/* the same bytes as any msgpack value, without and with str keys */
	kx_mp_cur_init(&c, data, size);
	r = kx_mp_check(&c, 64, false);
	if (r > 0 || r < KX_MP_EKEYTYPE || c.p < data || c.p > data + size)
		abort();
	kx_mp_cur_init(&c, data, size);
	r = kx_mp_check(&c, KX_BODY_DEPTH + 1, true);
	if (r > 0 || r < KX_MP_EKEYTYPE || c.p < data || c.p > data + size)
		abort();
	return 0;
}
