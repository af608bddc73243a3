/*
 * config.c - the kaga-node configuration file, see config.h.
 *
 * The text is cut into lines, each line into at most a few tokens (blanks
 * separate them, "..." quotes, # starts a comment), and the first token
 * picks a keyword from a table that says how many arguments it takes and
 * whether it may be repeated. Values are checked one by one; the keys that
 * must be present are checked after the last line. Nothing is allocated
 * but the peers array, which is freed on every failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "body.h"
#include "config.h"
#include "envelope.h"

#define TOK_MAX		16	/* tokens kept from a line; the rest counted */
#define SHOW_MAX	40	/* bytes of a bad value quoted in a message */

enum {
	K_DATA_DIR,
	K_LISTEN,
	K_ROLE,
	K_OPERATOR,
	K_PEER,
	K_MAX_PEERS,
	K_GOSSIP_INTERVAL,
	K_PEER_RATE,
	K_AUTHOR_RATE,
	K_BAN_SCORE,
	K_BAN_TIME,
	K_MAX_MESSAGE,
	K_LOG_LEVEL,
	K_POINT,
	K_METER,
	K_SETTLE_DELAY,
	K_METRICS_LISTEN,
	K_STRATEGY,
	K_COUNT
};

static const struct {
	const char	*name;
	int		 nargs;		/* at least this many */
	bool		 repeat;	/* may be given more than once */
	int		 maxargs;	/* 0: exactly nargs */
} keywords[K_COUNT] = {
	[K_DATA_DIR] =		{ "data-dir", 1, false },
	[K_LISTEN] =		{ "listen", 1, false },
	[K_ROLE] =		{ "role", 1, false },
	[K_OPERATOR] =		{ "operator", 1, true },
	[K_PEER] =		{ "peer", 2, true },
	[K_MAX_PEERS] =		{ "max-peers", 1, false },
	[K_GOSSIP_INTERVAL] =	{ "gossip-interval", 1, false },
	[K_PEER_RATE] =		{ "peer-rate", 2, false },
	[K_AUTHOR_RATE] =	{ "author-rate", 2, false },
	[K_BAN_SCORE] =		{ "ban-score", 1, false },
	[K_BAN_TIME] =		{ "ban-time", 1, false },
	[K_MAX_MESSAGE] =	{ "max-message", 1, false },
	[K_LOG_LEVEL] =		{ "log-level", 1, false },
	[K_POINT] =		{ "point", 7, true },
	[K_METER] =		{ "meter", 4, true, TOK_MAX - 1 },
	[K_SETTLE_DELAY] =	{ "settle-delay", 1, false },
	[K_METRICS_LISTEN] =	{ "metrics-listen", 1, false },
	[K_STRATEGY] =		{ "strategy", 1, false, 5 },
};

/* Ranges of the numeric values. */
#define MAX_PEERS_MIN	1
#define MAX_PEERS_MAX	64
#define GOSSIP_MIN	50
#define GOSSIP_MAX	60000
#define RATE_MIN	1		/* messages/s and burst, each */
#define RATE_MAX	1000000
#define BAN_SCORE_MIN	(-1000000)
#define BAN_SCORE_MAX	(-1)
#define BAN_TIME_MIN	1
#define BAN_TIME_MAX	86400
#define MAX_MSG_MIN	1024
#define MAX_MSG_MAX	(1024 * 1024)

static const char *const	 log_levels[] = { "debug", "info", "warn" };

typedef struct {
	kx_conf_t	*conf;
	const char	*name;
	size_t		 line;			/* 1-based, 0 after the end */
	size_t		 seen[K_COUNT];		/* line a key was first given */
	size_t		 peers_cap;
	char		*err;
	size_t		 errlen;
} pctx;

/* Writes "NAME:LINE: message" (or "NAME: message" when line is 0). */
static int
bad(pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
bad(pctx *p, const char *fmt, ...)
{
	char	 msg[256];
	va_list	 ap;

	if (p->err == NULL || p->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		snprintf(p->err, p->errlen, "%s:%zu: %s", p->name, p->line,
		    msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->name, msg);
	return -1;
}

/*
 * Copies s for a message: printable ASCII as is, any other byte as \xNN,
 * at most SHOW_MAX bytes of s then "...". out must hold 4 * SHOW_MAX + 4.
 */
static const char *
show(char *out, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;
	unsigned char		 c;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == SHOW_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	out[o] = '\0';
	return out;
}

#define SHOWBUF	(4 * SHOW_MAX + 4)

static bool
is_blank(char c)
{
	/* \r so that a file with CRLF line ends reads the same */
	return c == ' ' || c == '\t' || c == '\r';
}

/* A byte no token may hold (tab only inside quotes). */
static bool
is_control(char c)
{
	unsigned char	 u = (unsigned char)c;

	return u < 0x20 || u == 0x7f;
}

/*
 * Cuts the len bytes at s (no \n, no NUL) into tokens written to buf,
 * which must hold 2 * len + 1 bytes. The first TOK_MAX are pointed to by
 * tok; *ntok is the count of all. Returns 0 or -1 (error set).
 */
static int
tokenize(pctx *p, const char *s, size_t len, char *buf, char *tok[TOK_MAX],
    size_t *ntok)
{
	char	 sb[SHOWBUF], one[2];
	size_t	 i = 0, o = 0, n = 0, start;
	char	 c;

	for (;;) {
		while (i < len && is_blank(s[i]))
			i++;
		if (i == len || s[i] == '#')
			break;
		start = o;
		if (s[i] == '"') {
			for (i++;;) {
				if (i == len)
					return bad(p, "unterminated quote");
				c = s[i++];
				if (c == '"')
					break;
				if (c == '\\') {
					if (i == len)
						return bad(p,
						    "unterminated quote");
					c = s[i++];
					if (c != '"' && c != '\\') {
						one[0] = c;
						one[1] = '\0';
						return bad(p, "unknown escape "
						    "\"\\%s\" in quotes (only "
						    "\\\" and \\\\)",
						    show(sb, one));
					}
				} else if (c != '\t' && is_control(c))
					return bad(p, "control character in "
					    "quotes");
				buf[o++] = c;
			}
			if (i < len && !is_blank(s[i]) && s[i] != '#')
				return bad(p, "a blank must follow a closing "
				    "quote");
		} else {
			while (i < len && !is_blank(s[i]) && s[i] != '#') {
				if (s[i] == '"')
					return bad(p, "a quote may only start "
					    "a token");
				if (is_control(s[i]))
					return bad(p, "control character");
				buf[o++] = s[i++];
			}
		}
		buf[o++] = '\0';
		if (n < TOK_MAX)
			tok[n] = buf + start;
		n++;
	}
	*ntok = n;
	return 0;
}

/*
 * Strict decimal: an optional '-', then "0" or digits without a leading
 * zero. Returns 0 with the value in [min, max], or -1 (error set).
 */
static int
number(pctx *p, const char *key, const char *s, long long min, long long max,
    long long *out)
{
	char		 sb[SHOWBUF];
	const char	*d = s;
	long long	 v = 0;
	bool		 neg = false, big = false;

	if (*d == '-') {
		neg = true;
		d++;
	}
	if (*d < '0' || *d > '9' || (d[0] == '0' && d[1] != '\0'))
		return bad(p, "%s: \"%s\" is not a decimal number (digits, "
		    "no sign but '-', no leading zero)", key, show(sb, s));
	for (; *d != '\0'; d++) {
		if (*d < '0' || *d > '9')
			return bad(p, "%s: \"%s\" is not a decimal number "
			    "(digits, no sign but '-', no leading zero)", key,
			    show(sb, s));
		if (v > 1000000000000LL)
			big = true;	/* outside any range: stop */
		else
			v = v * 10 + (*d - '0');
	}
	if (neg)
		v = -v;
	if (big || v < min || v > max)
		return bad(p, "%s: %s is out of range %lld..%lld", key,
		    show(sb, s), min, max);
	*out = v;
	return 0;
}

/* Unsigned form of number() for ranges within 0..UINT_MAX. */
static int
unumber(pctx *p, const char *key, const char *s, long long min, long long max,
    unsigned *out)
{
	long long	 v;

	if (number(p, key, s, min, max, &v) == -1)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
key_hex(pctx *p, const char *key, const char *s, uint8_t pk[KX_PK_LEN])
{
	char	 sb[SHOWBUF];

	if (kx_unhex(pk, KX_PK_LEN, s) == -1)
		return bad(p, "%s: \"%s\" is not a key (64 lowercase hex "
		    "digits)", key, show(sb, s));
	return 0;
}

/* Copies a ZeroMQ endpoint (tcp:// or ipc://, not empty after it). */
static int
endpoint(pctx *p, const char *key, const char *s,
    char out[KX_CONF_ENDPOINT_MAX + 1])
{
	char	 sb[SHOWBUF];
	size_t	 n = strlen(s);

	if ((strncmp(s, "tcp://", 6) != 0 && strncmp(s, "ipc://", 6) != 0) ||
	    n == 6)
		return bad(p, "%s: endpoint \"%s\" must be tcp://... or "
		    "ipc://...", key, show(sb, s));
	if (n > KX_CONF_ENDPOINT_MAX)
		return bad(p, "%s: endpoint too long (%zu bytes, at most %d)",
		    key, n, KX_CONF_ENDPOINT_MAX);
	memcpy(out, s, n + 1);
	return 0;
}

static int
add_peer(pctx *p, char *tok[TOK_MAX])
{
	kx_conf_t	*c = p->conf;
	kx_peer_conf_t	*np, peer;
	size_t		 i, cap;

	memset(&peer, 0, sizeof(peer));
	if (key_hex(p, "peer", tok[1], peer.pk) == -1 ||
	    endpoint(p, "peer", tok[2], peer.endpoint) == -1)
		return -1;
	for (i = 0; i < c->npeers; i++)
		if (memcmp(c->peers[i].pk, peer.pk, KX_PK_LEN) == 0)
			return bad(p, "peer: duplicate key (already given "
			    "for %s)", c->peers[i].endpoint);
	if (c->npeers == KX_CONF_PEERS_MAX)
		return bad(p, "peer: more than %d peers", KX_CONF_PEERS_MAX);
	if (c->npeers == p->peers_cap) {
		cap = p->peers_cap == 0 ? 8 : 2 * p->peers_cap;
		if (cap > KX_CONF_PEERS_MAX)
			cap = KX_CONF_PEERS_MAX;
		if ((np = reallocarray(c->peers, cap, sizeof(*np))) == NULL)
			return bad(p, "peer: %s", strerror(errno));
		c->peers = np;
		p->peers_cap = cap;
	}
	c->peers[c->npeers++] = peer;
	return 0;
}

/* A meter or profile name: 1..31 of [a-z0-9_-], starting with a letter. */
static int
name_ok(pctx *p, const char *key, const char *what, const char *s)
{
	char	 sb[SHOWBUF];
	size_t	 i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (i > 0 &&
		    ((s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))))
			break;
	if (n == 0 || n > KX_CONF_NAME_MAX || i < n)
		return bad(p, "%s: %s \"%s\" must be 1 to %d of a-z, 0-9, _ "
		    "and -, starting with a letter", key, what, show(sb, s),
		    KX_CONF_NAME_MAX);
	return 0;
}

/* point PROFILE QUANTITY FC ADDR TYPE ORDER SCALE */
static int
add_point(pctx *p, char *tok[TOK_MAX])
{
	kx_conf_t		*c = p->conf;
	kx_conf_profile_t	*pr = NULL;
	kx_point_t		*pt;
	char			 sb[SHOWBUF];
	long long		 v;
	size_t			 i;
	int			 q, t, o;

	if (name_ok(p, "point", "profile name", tok[1]) == -1)
		return -1;
	if (kx_profile_find(tok[1]) != NULL)
		return bad(p, "point: \"%s\" is a built-in profile; give "
		    "yours another name", tok[1]);
	for (i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i].name, tok[1]) == 0)
			pr = &c->profiles[i];
	if (pr == NULL) {
		if (c->nprofiles == KX_CONF_PROFILES_MAX)
			return bad(p, "point: more than %d profiles",
			    KX_CONF_PROFILES_MAX);
		pr = &c->profiles[c->nprofiles++];
		memset(pr, 0, sizeof(*pr));
		memcpy(pr->name, tok[1], strlen(tok[1]) + 1);
		pr->line = p->line;
	}
	if (pr->npoints == KX_PROFILE_POINTS_MAX)
		return bad(p, "point: profile %s has more than %d points",
		    pr->name, KX_PROFILE_POINTS_MAX);
	if ((q = kx_quantity_of(tok[2])) == -1)
		return bad(p, "point: unknown quantity \"%s\" (see "
		    "docs/meters.md: power_w, import_wh, export_wh, ...)",
		    show(sb, tok[2]));
	for (i = 0; i < pr->npoints; i++)
		if (pr->points[i].q == (kx_quantity_t)q)
			return bad(p, "point: %s given twice in profile %s",
			    tok[2], pr->name);
	if (number(p, "point: function code", tok[3], 3, 4, &v) == -1)
		return -1;
	pt = &pr->points[pr->npoints];
	memset(pt, 0, sizeof(*pt));
	pt->q = (kx_quantity_t)q;
	pt->fc = (uint8_t)v;
	pt->sf = -1;
	pt->unit = "";
	if (number(p, "point: address", tok[4], 0, 65535, &v) == -1)
		return -1;
	pt->addr = (uint16_t)v;
	if ((t = kx_rtype_of(tok[5])) == -1)
		return bad(p, "point: unknown type \"%s\" (u16, i16, u32, "
		    "i32, float32 or acc32)", show(sb, tok[5]));
	pt->type = (kx_rtype_t)t;
	if (strcmp(tok[6], "-") == 0 && kx_rtype_words(pt->type) == 1)
		o = KX_O_ABCD;
	else if ((o = kx_order_of(tok[6])) == -1)
		return bad(p, "point: unknown word order \"%s\" (abcd, dcba, "
		    "badc, cdab; - for a 16-bit type)", show(sb, tok[6]));
	pt->order = (kx_word_order_t)o;
	if (pt->addr + kx_rtype_words(pt->type) > 0x10000)
		return bad(p, "point: %s at %u runs past register 65535",
		    tok[5], pt->addr);
	if (number(p, "point: scale", tok[7], -18, 18, &v) == -1)
		return -1;
	pt->scale = (int8_t)v;
	pr->npoints++;
	return 0;
}

static const char *const use_names[] = { "grid", "pv", "battery" };

const char *
kx_meter_use_name(kx_meter_use_t use)
{
	if ((unsigned)use >= sizeof(use_names) / sizeof(use_names[0]))
		return "?";
	return use_names[use];
}

/* One OPTION=VALUE of a meter line. */
static int
meter_option(pctx *p, kx_conf_meter_t *m, const char *opt)
{
	static const char *const names[] = {
		"unit", "baud", "parity", "stop-bits", "timeout-ms", "gap-ms",
		"period-ms", "retries", "backoff-max-ms", "max-power-w",
		"unit-gap-ms",
	};
	char		 sb[SHOWBUF], key[64];
	const char	*eq = strchr(opt, '='), *val;
	long long	 v;
	size_t		 i, klen;

	if (eq == NULL || eq == opt)
		return bad(p, "meter: option \"%s\" is not NAME=VALUE",
		    show(sb, opt));
	klen = (size_t)(eq - opt);
	val = eq + 1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == klen &&
		    memcmp(names[i], opt, klen) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0]))
		return bad(p, "meter: unknown option \"%s\" (unit, baud, "
		    "parity, stop-bits, timeout-ms, gap-ms, period-ms, "
		    "retries, backoff-max-ms, max-power-w, unit-gap-ms)",
		    show(sb, opt));
	snprintf(key, sizeof(key), "meter: %s", names[i]);
	if (i == 2) {
		if (strcmp(val, "N") != 0 && strcmp(val, "E") != 0 &&
		    strcmp(val, "O") != 0)
			return bad(p, "meter: parity \"%s\" must be N, E or "
			    "O", show(sb, val));
		if (m->dev.rtu[0] == '\0')
			return bad(p, "meter: parity is for rtu: meters");
		m->dev.parity = val[0];
		return 0;
	}
	switch (i) {
	case 0:
		if (number(p, key, val, 0, 247, &v) == -1)
			return -1;
		m->dev.unit = (int)v;
		return 0;
	case 1:
		if (number(p, key, val, 1200, 1000000, &v) == -1)
			return -1;
		if (m->dev.rtu[0] == '\0')
			return bad(p, "meter: baud is for rtu: meters");
		m->dev.baud = (int)v;
		return 0;
	case 3:
		if (number(p, key, val, 1, 2, &v) == -1)
			return -1;
		if (m->dev.rtu[0] == '\0')
			return bad(p, "meter: stop-bits is for rtu: meters");
		m->dev.stop_bits = (int)v;
		return 0;
	case 4:
		if (number(p, key, val, 10, 60000, &v) == -1)
			return -1;
		m->dev.timeout_ms = (int)v;
		return 0;
	case 5:
		if (number(p, key, val, 0, 10000, &v) == -1)
			return -1;
		m->dev.gap_ms = (int)v;
		return 0;
	case 6:
		if (number(p, key, val, 100, 3600000, &v) == -1)
			return -1;
		m->poll.period_ms = (int)v;
		return 0;
	case 7:
		if (number(p, key, val, 0, 10, &v) == -1)
			return -1;
		m->poll.retries = (int)v;
		return 0;
	case 8:
		if (number(p, key, val, 1000, 86400000, &v) == -1)
			return -1;
		m->poll.backoff_max_ms = (int)v;
		return 0;
	case 9:
		if (number(p, key, val, 1, 100000000, &v) == -1)
			return -1;
		m->poll.slot.max_power_w = v;
		return 0;
	default:
		if (number(p, key, val, 0, 10000, &v) == -1)
			return -1;
		m->dev.unit_gap_ms = (int)v;
		return 0;
	}
}

/* meter NAME USE PROFILE ADDRESS [OPTION=VALUE ...] */
static int
add_meter(pctx *p, char *tok[TOK_MAX], size_t ntok)
{
	kx_conf_t	*c = p->conf;
	kx_conf_meter_t	*m;
	char		 sb[SHOWBUF];
	size_t		 i, n;

	if (name_ok(p, "meter", "name", tok[1]) == -1)
		return -1;
	for (i = 0; i < c->nmeters; i++)
		if (strcmp(c->meters[i].name, tok[1]) == 0)
			return bad(p, "meter: %s: duplicate name (first given "
			    "on line %zu)", tok[1], c->meters[i].line);
	if (c->nmeters == KX_CONF_METERS_MAX)
		return bad(p, "meter: more than %d meters",
		    KX_CONF_METERS_MAX);
	m = &c->meters[c->nmeters];
	memset(m, 0, sizeof(*m));
	m->line = p->line;
	memcpy(m->name, tok[1], strlen(tok[1]) + 1);
	for (i = 0; i < sizeof(use_names) / sizeof(use_names[0]); i++)
		if (strcmp(tok[2], use_names[i]) == 0)
			break;
	if (i == sizeof(use_names) / sizeof(use_names[0]))
		return bad(p, "meter: use \"%s\" must be grid, pv or battery",
		    show(sb, tok[2]));
	m->use = (kx_meter_use_t)i;
	if (name_ok(p, "meter", "profile", tok[3]) == -1)
		return -1;
	memcpy(m->profile, tok[3], strlen(tok[3]) + 1);
	kx_dev_conf_init(&m->dev);
	kx_poll_dev_conf_init(&m->poll);
	memcpy(m->poll.name, m->name, strlen(m->name) + 1);
	if (strncmp(tok[4], "tcp://", 6) == 0) {
		if (kx_dev_conf_tcp(&m->dev, tok[4] + 6) == -1)
			return bad(p, "meter: \"%s\" is not tcp://HOST:PORT",
			    show(sb, tok[4]));
	} else if (strncmp(tok[4], "rtu:", 4) == 0 && tok[4][4] == '/') {
		n = strlen(tok[4] + 4);
		if (n >= sizeof(m->dev.rtu))
			return bad(p, "meter: serial device path too long");
		memcpy(m->dev.rtu, tok[4] + 4, n + 1);
	} else
		return bad(p, "meter: address \"%s\" must be tcp://HOST:PORT "
		    "or rtu:/dev/...", show(sb, tok[4]));
	for (i = 5; i < ntok; i++)
		if (meter_option(p, m, tok[i]) == -1)
			return -1;
	c->nmeters++;
	return 0;
}

/* One OPTION=VALUE of the strategy line. */
static int
strategy_option(pctx *p, const char *opt)
{
	kx_conf_t	*c = p->conf;
	char		 sb[SHOWBUF];
	const char	*eq = strchr(opt, '='), *val;
	long long	 v;

	if (eq == NULL)
		return bad(p, "strategy: option \"%s\" is not NAME=VALUE",
		    show(sb, opt));
	val = eq + 1;
	if (strncmp(opt, "auto=", 5) == 0) {
		if (strcmp(val, "on") == 0)
			c->strategy.autobid = 1;
		else if (strcmp(val, "off") == 0)
			c->strategy.autobid = 0;
		else
			return bad(p, "strategy: auto must be on or off");
		return 0;
	}
	if (strncmp(opt, "sell-min=", 9) == 0) {
		if (number(p, "strategy: sell-min", val, 0, KX_PRICE_MAX,
		    &v) == -1)
			return -1;
		c->strategy.sell_min = (uint32_t)v;
		return 0;
	}
	if (strncmp(opt, "buy-max=", 8) == 0) {
		if (number(p, "strategy: buy-max", val, 0, KX_PRICE_MAX,
		    &v) == -1)
			return -1;
		c->strategy.buy_max = (uint32_t)v;
		return 0;
	}
	if (strncmp(opt, "steps=", 6) == 0) {
		if (number(p, "strategy: steps", val, 1, KX_STEPS_MAX, &v) ==
		    -1)
			return -1;
		c->strategy.steps = (uint32_t)v;
		return 0;
	}
	if (strncmp(opt, "lead-s=", 7) == 0) {
		if (number(p, "strategy: lead-s", val, 0, 3600, &v) == -1)
			return -1;
		c->strategy.lead_s = (uint32_t)v;
		return 0;
	}
	return bad(p, "strategy: unknown option \"%s\" (auto, sell-min, "
	    "buy-max, steps, lead-s)", show(sb, opt));
}

/* Applies one line whose keyword is k and whose arguments were counted. */
static int
apply(pctx *p, int k, char *tok[TOK_MAX], size_t ntok)
{
	kx_conf_t	*c = p->conf;
	const char	*key = keywords[k].name;
	char		 sb[SHOWBUF];
	long long	 v;
	size_t		 i, n;
	int		 r;

	switch (k) {
	case K_DATA_DIR:
		n = strlen(tok[1]);
		if (tok[1][0] != '/')
			return bad(p, "data-dir: \"%s\" is not an absolute "
			    "path", show(sb, tok[1]));
		if (n >= sizeof(c->data_dir))	/* longer than a line */
			return bad(p, "data-dir: too long (%zu bytes)", n);
		memcpy(c->data_dir, tok[1], n + 1);
		return 0;
	case K_LISTEN:
		return endpoint(p, key, tok[1], c->listen);
	case K_ROLE:
		r = kx_role_of(tok[1], strlen(tok[1]));
		if (r == KX_ROLE_NONE)
			return bad(p, "role: unknown role \"%s\" (household, "
			    "ryokan, farm, business, operator, issuer, "
			    "merchant or city)", show(sb, tok[1]));
		c->role = r;
		return 0;
	case K_OPERATOR:
		if (c->noperators == KX_CONF_OPERATORS_MAX)
			return bad(p, "operator: more than %d operators",
			    KX_CONF_OPERATORS_MAX);
		if (key_hex(p, key, tok[1], c->operators[c->noperators]) == -1)
			return -1;
		for (i = 0; i < c->noperators; i++)
			if (memcmp(c->operators[i],
			    c->operators[c->noperators], KX_PK_LEN) == 0)
				return bad(p, "operator: duplicate key");
		c->noperators++;
		return 0;
	case K_PEER:
		return add_peer(p, tok);
	case K_MAX_PEERS:
		return unumber(p, key, tok[1], MAX_PEERS_MIN, MAX_PEERS_MAX,
		    &c->max_peers);
	case K_GOSSIP_INTERVAL:
		return unumber(p, key, tok[1], GOSSIP_MIN, GOSSIP_MAX,
		    &c->gossip_interval_ms);
	case K_PEER_RATE:
		if (unumber(p, key, tok[1], RATE_MIN, RATE_MAX,
		    &c->peer_rate) == -1)
			return -1;
		return unumber(p, key, tok[2], RATE_MIN, RATE_MAX,
		    &c->peer_burst);
	case K_AUTHOR_RATE:
		if (unumber(p, key, tok[1], RATE_MIN, RATE_MAX,
		    &c->author_rate) == -1)
			return -1;
		return unumber(p, key, tok[2], RATE_MIN, RATE_MAX,
		    &c->author_burst);
	case K_BAN_SCORE:
		if (number(p, key, tok[1], BAN_SCORE_MIN, BAN_SCORE_MAX,
		    &v) == -1)
			return -1;
		c->ban_score = (int)v;
		return 0;
	case K_BAN_TIME:
		return unumber(p, key, tok[1], BAN_TIME_MIN, BAN_TIME_MAX,
		    &c->ban_time_s);
	case K_MAX_MESSAGE:
		if (number(p, key, tok[1], MAX_MSG_MIN, MAX_MSG_MAX, &v) == -1)
			return -1;
		c->max_message = (size_t)v;
		return 0;
	case K_LOG_LEVEL:
		for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]);
		    i++)
			if (strcmp(tok[1], log_levels[i]) == 0) {
				c->log_level = (int)i;
				return 0;
			}
		return bad(p, "log-level: unknown level \"%s\" (debug, info "
		    "or warn)", show(sb, tok[1]));
	case K_POINT:
		return add_point(p, tok);
	case K_METER:
		return add_meter(p, tok, ntok);
	case K_SETTLE_DELAY:
		return unumber(p, key, tok[1], 0, 86400, &c->settle_delay_s);
	case K_STRATEGY:
		for (i = 1; i < ntok; i++)
			if (strategy_option(p, tok[i]) == -1)
				return -1;
		return 0;
	case K_METRICS_LISTEN:
		{
			const char	*colon = strrchr(tok[1], ':');
			long long	 port;

			n = strlen(tok[1]);
			if (colon == NULL || colon == tok[1] ||
			    n > KX_CONF_ENDPOINT_MAX)
				return bad(p, "metrics-listen: \"%s\" is not "
				    "HOST:PORT", show(sb, tok[1]));
			if (number(p, key, colon + 1, 1, 65535, &port) == -1)
				return -1;
			memcpy(c->metrics_listen, tok[1], n + 1);
			return 0;
		}
	}
	return bad(p, "internal error: keyword %d", k);
}

/* One line of len bytes (without its \n). */
static int
parse_line(pctx *p, const char *s, size_t len)
{
	char	 buf[2 * KX_CONF_LINE_MAX + 1], sb[SHOWBUF];
	char	*tok[TOK_MAX] = { NULL };
	size_t	 ntok = 0;
	int	 k, maxa;

	if (len > KX_CONF_LINE_MAX)
		return bad(p, "line too long (%zu bytes, at most %d)", len,
		    KX_CONF_LINE_MAX);
	if (memchr(s, '\0', len) != NULL)
		return bad(p, "NUL byte in line");
	if (tokenize(p, s, len, buf, tok, &ntok) == -1)
		return -1;
	if (ntok == 0)
		return 0;
	for (k = 0; k < K_COUNT; k++)
		if (strcmp(tok[0], keywords[k].name) == 0)
			break;
	if (k == K_COUNT)
		return bad(p, "unknown keyword \"%s\"", show(sb, tok[0]));
	maxa = keywords[k].maxargs ? keywords[k].maxargs : keywords[k].nargs;
	if (ntok < (size_t)keywords[k].nargs + 1) {
		if (maxa > keywords[k].nargs)
			return bad(p, "%s: missing argument (takes %d to %d)",
			    keywords[k].name, keywords[k].nargs, maxa);
		return bad(p, "%s: missing argument (takes %d)",
		    keywords[k].name, keywords[k].nargs);
	}
	if (ntok > (size_t)maxa + 1) {
		if (maxa + 1 >= TOK_MAX)
			return bad(p, "%s: too many arguments (at most %d)",
			    keywords[k].name, maxa);
		if (maxa > keywords[k].nargs)
			return bad(p, "%s: extra argument \"%s\" (takes %d "
			    "to %d)", keywords[k].name, show(sb, tok[maxa + 1]),
			    keywords[k].nargs, maxa);
		return bad(p, "%s: extra argument \"%s\" (takes %d)",
		    keywords[k].name, show(sb, tok[keywords[k].nargs + 1]),
		    keywords[k].nargs);
	}
	if (!keywords[k].repeat && p->seen[k] != 0)
		return bad(p, "%s: duplicate (first given on line %zu)",
		    keywords[k].name, p->seen[k]);
	if (apply(p, k, tok, ntok) == -1)
		return -1;
	if (p->seen[k] == 0)
		p->seen[k] = p->line;
	return 0;
}

static void
defaults(kx_conf_t *conf, const char *name)
{
	memset(conf, 0, sizeof(*conf));
	snprintf(conf->path, sizeof(conf->path), "%s", name);
	conf->role = KX_ROLE_NONE;
	conf->peers = NULL;
	conf->max_peers = 8;
	conf->gossip_interval_ms = 1000;
	conf->peer_rate = 500;
	conf->peer_burst = 1000;
	conf->author_rate = 100;
	conf->author_burst = 200;
	conf->ban_score = -100;
	conf->ban_time_s = 600;
	conf->max_message = 65536;
	conf->log_level = 1;
	conf->settle_delay_s = 120;
	conf->strategy.autobid = 1;
	conf->strategy.sell_min = 0;
	conf->strategy.buy_max = KX_PRICE_MAX;
	conf->strategy.steps = 4;
	conf->strategy.lead_s = 0;
}

int
kx_conf_parse(kx_conf_t *conf, const char *name, const char *text, size_t len,
    char *err, size_t errlen)
{
	pctx		 p;
	const char	*s = text, *end = text + len, *nl;
	size_t		 i;

	memset(&p, 0, sizeof(p));
	p.conf = conf;
	p.name = name;
	p.err = err;
	p.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	defaults(conf, name);

	if (len > KX_CONF_FILE_MAX) {
		bad(&p, "larger than %d bytes", KX_CONF_FILE_MAX);
		goto fail;
	}
	while (s < end) {
		p.line++;
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		if (parse_line(&p, s, (size_t)(nl - s)) == -1)
			goto fail;
		if (nl == end)
			break;
		s = nl + 1;
	}

	p.line = 0;
	if (p.seen[K_DATA_DIR] == 0) {
		bad(&p, "missing data-dir (required)");
		goto fail;
	}
	if (p.seen[K_ROLE] == 0) {
		bad(&p, "missing role (required)");
		goto fail;
	}
	if (conf->noperators == 0) {
		bad(&p, "missing operator (at least one is required)");
		goto fail;
	}
	for (i = 0; i < conf->nprofiles; i++) {
		kx_conf_profile_t	*pr = &conf->profiles[i];
		char			 why[160];

		if (kx_profile_build(&pr->profile, pr->name, pr->points,
		    pr->npoints, why, sizeof(why)) != KX_METER_OK) {
			p.line = pr->line;
			bad(&p, "profile %s: %s", pr->name, why);
			goto fail;
		}
	}
	for (i = 0; i < conf->nmeters; i++)
		if (kx_conf_profile(conf, conf->meters[i].profile) == NULL) {
			p.line = conf->meters[i].line;
			bad(&p, "meter: %s: unknown profile \"%s\" (sdm630, "
			    "sdm120, sunspec or one defined by point lines)",
			    conf->meters[i].name, conf->meters[i].profile);
			goto fail;
		}
	return 0;

fail:
	kx_conf_free(conf);
	return -1;
}

int
kx_conf_load(kx_conf_t *conf, const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	char		*text = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd = -1, r = -1;

	defaults(conf, path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto ioerr;
	if (fstat(fd, &st) == -1)
		goto ioerr;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto ioerr;
	}
	if (S_ISREG(st.st_mode) && st.st_size > KX_CONF_FILE_MAX)
		goto toobig;
	/* read to the end (not trusting st_size: fifos, growing files) */
	if ((text = malloc(KX_CONF_FILE_MAX + 1)) == NULL)
		goto ioerr;
	while (len <= KX_CONF_FILE_MAX) {
		n = read(fd, text + len, KX_CONF_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto ioerr;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > KX_CONF_FILE_MAX)
		goto toobig;
	r = kx_conf_parse(conf, path, text, len, err, errlen);
	goto done;

toobig:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: larger than %d bytes", path,
		    KX_CONF_FILE_MAX);
	goto done;
ioerr:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
done:
	free(text);
	if (fd != -1)
		close(fd);
	return r;
}

const kx_profile_t *
kx_conf_profile(const kx_conf_t *conf, const char *name)
{
	size_t	 i;

	for (i = 0; conf != NULL && i < conf->nprofiles; i++)
		if (strcmp(conf->profiles[i].name, name) == 0)
			return &conf->profiles[i].profile;
	return kx_profile_find(name);
}

int
kx_conf_copy(kx_conf_t *dst, const kx_conf_t *src)
{
	kx_peer_conf_t	*peers = NULL;
	size_t		 i;

	if (dst == src)
		return 0;
	if (src->npeers > 0) {
		if ((peers = calloc(src->npeers, sizeof(*peers))) == NULL)
			return -1;
		memcpy(peers, src->peers, src->npeers * sizeof(*peers));
	}
	kx_conf_free(dst);
	*dst = *src;
	dst->peers = peers;
	for (i = 0; i < dst->nprofiles; i++) {
		dst->profiles[i].profile.points = dst->profiles[i].points;
		dst->profiles[i].profile.name = dst->profiles[i].name;
	}
	return 0;
}

void
kx_conf_free(kx_conf_t *conf)
{
	if (conf == NULL)
		return;
	free(conf->peers);
	conf->peers = NULL;
	conf->npeers = 0;
}
