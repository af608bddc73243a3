/*
 * fuzz_roster.c - libFuzzer target for the roster parser of `kaga-ctl
 * admit` (kx_roster_parse in node/ctl_admin.c): any bytes, never a crash
 * or a leak; a refusal is one line "fuzz:LINE: what"; an accepted roster
 * holds only checked entries (a key of 64 hex digits, a known role, an
 * issuer with a cap, distinct keys, NUL-terminated fields).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "ctl_admin.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kx_roster_t	 r;
	char		 err[512];
	uint8_t		 pk[KX_PK_LEN];
	size_t		 i, j;

	err[0] = '\0';
	if (kx_roster_parse("fuzz", (const char *)data, size, &r, err,
	    sizeof(err)) != 0) {
		if (strncmp(err, "fuzz:", 5) != 0 ||
		    memchr(err, '\n', strlen(err)) != NULL || r.v != NULL ||
		    r.n != 0)
			abort();
		return 0;
	}
	for (i = 0; i < r.n; i++) {
		const kx_roster_entry_t	*e = &r.v[i];

		if (kx_unhex(pk, KX_PK_LEN, e->key) != 0 ||
		    kx_role_of(e->role, strlen(e->role)) == KX_ROLE_NONE ||
		    (strcmp(e->role, "issuer") == 0 && e->cap < 0) ||
		    e->until < 0 || memchr(e->name, '\0', sizeof(e->name)) ==
		    NULL || memchr(e->area, '\0', sizeof(e->area)) == NULL)
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(r.v[j].key, e->key) == 0)
				abort();
	}
	kx_roster_free(&r);
	kx_roster_free(&r);
	return 0;
}
