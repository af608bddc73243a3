/*
 * fuzz_scenario.c - libFuzzer target for the kaga-sim scenario parser
 * (sim/scenario.c, included here: the simulator's sources are not part of
 * libkaga.a).
 *
 * The input is read as a scenario file. A refusal must be one line that
 * starts with the file name given and leaves the error buffer
 * NUL-terminated. An acceptance must pass kx_scen_check, hold every value
 * in its range (name non-empty UTF-8 without control bytes, start a JST
 * midnight), and survive a round trip: kx_scen_format, parsed again,
 * gives the same scenario byte for byte. abort() on any violation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/scenario.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_accepted(const kx_scen_t *sc)
{
	char		 err[KX_SCEN_ERR_MAX], *txt;
	kx_scen_t	 again;
	size_t		 n, len, t;

	len = strnlen(sc->name, sizeof(sc->name));
	if (len == 0 || len > KX_SCEN_NAME_MAX || !name_ok(sc->name, len))
		abort();
	if (kx_scen_check(sc, err, sizeof(err)) != KX_SCEN_OK)
		abort();
	if ((sc->start + JST_S) % DAY_S != 0 || sc->slot_s % 1800 != 0 ||
	    sc->floor > sc->ceiling || sc->fee >= sc->ceiling ||
	    sc->order_steps < 1 || sc->order_steps > 16)
		abort();
	for (t = 0; t < KX_SIM_TYPES; t++)
		if (sc->type[t].pv_permille > 1000 ||
		    sc->type[t].batt_permille > 1000 || sc->type[t].kwh < 1)
			abort();
	n = kx_scen_format(NULL, 0, sc);
	if ((txt = malloc(n + 1)) == NULL)
		return;
	if (kx_scen_format(txt, n + 1, sc) != n || txt[n] != '\0')
		abort();
	if (kx_scen_parse(&again, txt, n, "again", err, sizeof(err)) !=
	    KX_SCEN_OK || memcmp(&again, sc, sizeof(again)) != 0)
		abort();
	free(txt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kx_scen_t	 sc;
	char		 err[KX_SCEN_ERR_MAX];
	int		 r;

	memset(err, 'x', sizeof(err));
	r = kx_scen_parse(&sc, (const char *)data, size, "fuzz", err,
	    sizeof(err));
	if (r == KX_SCEN_OK) {
		check_accepted(&sc);
		return 0;
	}
	if (r != KX_SCEN_ESYNTAX && r != KX_SCEN_EKEY &&
	    r != KX_SCEN_EVALUE && r != KX_SCEN_ECONFLICT)
		abort();
	if (memchr(err, '\0', sizeof(err)) == NULL ||
	    strncmp(err, "fuzz", 4) != 0 || strchr(err, '\n') != NULL)
		abort();
	return 0;
}
