/*
 * config.h - the kaga-node configuration file (docs/kaga-node.conf.md).
 *
 * A line-oriented text file read once at start-up, at `kaga-node -n` and
 * on SIGHUP: one keyword and its arguments a line, # comments, "double
 * quoted" tokens. The parser is hand-written and strict; every refusal
 * names the file and line ("FILE:LINE: what is wrong"). Input is trusted
 * no further than any other file: bytes of any kind never crash it and no
 * error path leaks. Pure apart from kx_conf_load's read of the file.
 */
#ifndef KX_CONFIG_H
#define KX_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "poll.h"

#define KX_CONF_FILE_MAX	(1024 * 1024)	/* bytes in a whole file */
#define KX_CONF_LINE_MAX	4096	/* bytes in a line, without its \n */
#define KX_CONF_OPERATORS_MAX	16
#define KX_CONF_PEERS_MAX	1024	/* bootstrap peers */
#define KX_CONF_ENDPOINT_MAX	255	/* bytes in a ZeroMQ endpoint */

#define KX_CONF_NAME_MAX	31	/* bytes in a meter or profile name */
#define KX_CONF_METERS_MAX	32
#define KX_CONF_PROFILES_MAX	16

/* What a meter measures for the node (meter ... USE ...). */
typedef enum {
	KX_USE_GRID,	/* the grid connection: import/export settle */
	KX_USE_PV,	/* a PV inverter */
	KX_USE_BATTERY	/* a battery inverter */
} kx_meter_use_t;

/* A generic profile defined by `point` lines. */
typedef struct {
	char		 name[KX_CONF_NAME_MAX + 1];
	kx_point_t	 points[KX_PROFILE_POINTS_MAX];
	size_t		 npoints;
	size_t		 line;		/* its first point's line */
	kx_profile_t	 profile;	/* points -> this->points */
} kx_conf_profile_t;

/* A meter the node polls (`meter` lines). */
typedef struct {
	char		 name[KX_CONF_NAME_MAX + 1];
	kx_meter_use_t	 use;
	char		 profile[KX_CONF_NAME_MAX + 1];
	kx_dev_conf_t	 dev;
	kx_poll_dev_conf_t poll;	/* poll.name is name */
	size_t		 line;
} kx_conf_meter_t;

/* A bootstrap peer. */
typedef struct {
	uint8_t	pk[KX_PK_LEN];		/* its node key */
	char	endpoint[KX_CONF_ENDPOINT_MAX + 1];	/* tcp:// or ipc:// */
} kx_peer_conf_t;

typedef struct {
	char		 path[4096];		/* the file it was read from */
	char		 data_dir[4096];	/* absolute path */
	char		 listen[KX_CONF_ENDPOINT_MAX + 1]; /* "" if none */
	int		 role;			/* a kx_role_t (body.h) */
	uint8_t		 operators[KX_CONF_OPERATORS_MAX][KX_PK_LEN];
	size_t		 noperators;		/* >= 1 */
	kx_peer_conf_t	*peers;			/* owned; NULL if npeers 0 */
	size_t		 npeers;
	unsigned	 max_peers;		/* connections, 1..64 */
	unsigned	 gossip_interval_ms;	/* anti-entropy period */
	unsigned	 peer_rate, peer_burst;	/* per peer: msg/s, burst */
	unsigned	 author_rate, author_burst; /* per author: the same */
	int		 ban_score;		/* ban at or below this score */
	unsigned	 ban_time_s;
	size_t		 max_message;		/* ZMQ_MAXMSGSIZE, bytes */
	int		 log_level;		/* 0 debug, 1 info, 2 warn */
	unsigned	 settle_delay_s;	/* operator: settle after */
	char		 metrics_listen[KX_CONF_ENDPOINT_MAX + 1]; /* "" none */
	struct {
		int	 autobid;	/* place orders from the meters */
		uint32_t sell_min, buy_max;	/* sen/kWh */
		uint32_t steps;		/* 1..16 */
		uint32_t lead_s;	/* before the gate; 0: auto */
	} strategy;
	kx_conf_meter_t	 meters[KX_CONF_METERS_MAX];
	size_t		 nmeters;
	kx_conf_profile_t profiles[KX_CONF_PROFILES_MAX];
	size_t		 nprofiles;
} kx_conf_t;

/*
 * Parses the file at path into *conf (defaults first). conf need not be
 * initialised; whatever it held is overwritten, not freed. Returns 0, or
 * -1 with a one-line message in err ("FILE:LINE: what is wrong", or
 * "FILE: reason" for I/O, a file over KX_CONF_FILE_MAX bytes and a missing
 * required key). After -1, conf owns nothing (kx_conf_free is harmless).
 * err may be NULL or errlen 0.
 */
int	kx_conf_load(kx_conf_t *conf, const char *path, char *err,
	    size_t errlen) __attribute__((warn_unused_result));
/* The same from the len bytes at text (name is used in messages and
 * copied to conf->path); for tests and the fuzzer. */
int	kx_conf_parse(kx_conf_t *conf, const char *name, const char *text,
	    size_t len, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/* Frees the peers; accepts NULL and is idempotent. */
void	kx_conf_free(kx_conf_t *conf);

/*
 * Deep copy of src into dst (whatever dst owned is freed first, so dst
 * must be initialised or zeroed). Returns 0 or -1 (out of memory, dst
 * unchanged).
 */
int	kx_conf_copy(kx_conf_t *dst, const kx_conf_t *src)
	    __attribute__((warn_unused_result));

/* The profile a meter names: configured first, then built in; or NULL. */
const kx_profile_t	*kx_conf_profile(const kx_conf_t *conf,
			    const char *name);

const char	*kx_meter_use_name(kx_meter_use_t use);

#endif
