/*
 * fuzz_config.c - libFuzzer target for node/config.c.
 *
 * The input is read as a configuration file. A refusal must be one line
 * starting with the name given and must leave no peers behind; an
 * acceptance must hold every invariant the daemon relies on (required
 * keys present, each value in its range, NUL-terminated strings, meters
 * naming a known profile, configured profiles sorted for block reads).
 * kx_conf_free is then called twice (idempotent); ASan sees any leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_accepted(const kx_conf_t *c)
{
	size_t	 i;

	if (c->data_dir[0] != '/' ||
	    memchr(c->data_dir, '\0', sizeof(c->data_dir)) == NULL)
		abort();
	if (memchr(c->listen, '\0', sizeof(c->listen)) == NULL ||
	    (c->listen[0] != '\0' && strncmp(c->listen, "tcp://", 6) != 0 &&
	    strncmp(c->listen, "ipc://", 6) != 0))
		abort();
	if (c->role <= KX_ROLE_NONE || c->role > KX_ROLE_CITY)
		abort();
	if (c->noperators < 1 || c->noperators > KX_CONF_OPERATORS_MAX)
		abort();
	if (c->npeers > KX_CONF_PEERS_MAX || (c->npeers > 0) !=
	    (c->peers != NULL))
		abort();
	for (i = 0; i < c->npeers; i++)
		if (memchr(c->peers[i].endpoint, '\0',
		    sizeof(c->peers[i].endpoint)) == NULL ||
		    strlen(c->peers[i].endpoint) <= 6)
			abort();
	if (c->max_peers < 1 || c->max_peers > 64 ||
	    c->gossip_interval_ms < 50 || c->gossip_interval_ms > 60000 ||
	    c->peer_rate < 1 || c->peer_burst < 1 ||
	    c->author_rate < 1 || c->author_burst < 1 ||
	    c->ban_score < -1000000 || c->ban_score > -1 ||
	    c->ban_time_s < 1 || c->ban_time_s > 86400 ||
	    c->max_message < 1024 || c->max_message > 1048576 ||
	    c->log_level < 0 || c->log_level > 2)
		abort();
	if (c->nmeters > KX_CONF_METERS_MAX ||
	    c->nprofiles > KX_CONF_PROFILES_MAX)
		abort();
	for (i = 0; i < c->nmeters; i++) {
		const kx_conf_meter_t	*m = &c->meters[i];

		if (kx_conf_profile(c, m->profile) == NULL ||
		    (m->dev.host[0] == '\0') == (m->dev.rtu[0] == '\0') ||
		    m->dev.unit < 0 || m->dev.unit > 247 ||
		    m->poll.period_ms < 100 || m->use > KX_USE_BATTERY)
			abort();
	}
	for (i = 0; i < c->nprofiles; i++) {
		const kx_profile_t	*p = &c->profiles[i].profile;
		size_t			 j;

		if (p->points != c->profiles[i].points || p->npoints == 0 ||
		    p->npoints > KX_PROFILE_POINTS_MAX)
			abort();
		for (j = 1; j < p->npoints; j++)	/* sorted for reading */
			if (p->points[j].fc < p->points[j - 1].fc ||
			    (p->points[j].fc == p->points[j - 1].fc &&
			    p->points[j].addr < p->points[j - 1].addr))
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kx_conf_t	 c;
	char		 err[256];

	if (kx_conf_parse(&c, "fuzz", (const char *)data, size, err,
	    sizeof(err)) == 0)
		check_accepted(&c);
	else if (strncmp(err, "fuzz:", 5) != 0 ||
	    memchr(err, '\n', strlen(err)) != NULL ||
	    c.peers != NULL || c.npeers != 0)
		abort();
	kx_conf_free(&c);
	kx_conf_free(&c);
	return 0;
}
