/*
 * listings.c - current offers and wants, see listings.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "listings.h"
#include "mp.h"

struct walk {
	kx_store_t	*st;
	int64_t		 now;
	kx_listing_cb	*cb;
	void		*arg;
	kx_body_t	*b;
	int		 err;
};

/* A string field of the body map (absent: empty). */
static void
str_field(const kx_msg_t *m, const char *key, const uint8_t **p,
    uint32_t *len)
{
	kx_mp_cur_t	 c, a;
	kx_mp_val_t	 map, v;

	*p = (const uint8_t *)"";
	*len = 0;
	kx_mp_cur_init(&c, m->body, m->body_len);
	if (kx_mp_read(&c, &map) == KX_MP_OK && map.kind == KX_MP_MAP &&
	    kx_mp_map_get(&map, c, key, &v, &a) == 1 && v.kind == KX_MP_STR) {
		*p = v.ptr;
		*len = v.len;
	}
}

static int
one(void *arg, const kx_stored_t *s)
{
	struct walk	*wk = arg;
	kx_listing_t	 li;
	kx_params_t	 p;
	kx_msg_t	 m;
	kx_role_t	 role;

	kx_params_default(&p);
	if (!s->valid || kx_msg_decode(&m, s->wire, s->len, NULL) != KX_OK ||
	    kx_body_parse(wk->b, &m, &p, NULL) != KX_OK ||
	    wk->b->type != KX_T_LISTING ||
	    !kx_listing_live(wk->b->u.listing.until, wk->now))
		return 0;
	if (!kx_store_is_operator(wk->st, m.author)) {
		if (kx_store_role_at(wk->st, m.author, wk->now, &role) !=
		    KX_OK) {
			wk->err = KX_ESTORE;
			return 1;
		}
		if (role == KX_ROLE_NONE)
			return 0;
	}
	memset(&li, 0, sizeof(li));
	memcpy(li.author, m.author, KX_PK_LEN);
	li.seq = m.seq;
	memcpy(li.id, m.id, KX_ID_LEN);
	li.ts = m.ts;
	li.kind = wk->b->u.listing.kind;
	li.until = wk->b->u.listing.until;
	str_field(&m, "title", &li.title, &li.title_len);
	str_field(&m, "area", &li.area, &li.area_len);
	return wk->cb(wk->arg, &li);
}

int
kx_listings_current(kx_store_t *st, int64_t now, kx_listing_cb *cb,
    void *arg)
{
	struct walk	 wk;
	int		 rc;

	memset(&wk, 0, sizeof(wk));
	wk.st = st;
	wk.now = now;
	wk.cb = cb;
	wk.arg = arg;
	if ((wk.b = malloc(sizeof(*wk.b))) == NULL)
		return KX_ENOMEM;
	rc = kx_store_community(st, NULL, one, &wk);
	free(wk.b);
	if (rc != KX_OK)
		return KX_ESTORE;
	return wk.err;
}
