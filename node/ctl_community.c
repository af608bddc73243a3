/*
 * ctl_community.c - kaga-ctl balance, pay, history, listings and list
 * against a running node (docs/kaga-ctl.md, "Community").
 *
 * Each sends `community SUB ARGS` (ARGS a msgpack map, node/communityd.h)
 * over the node's control socket and prints the JSON reply (--json) or a
 * short text form; `list` publishes a `listing` through `publish`. The
 * arguments are checked here first so that a mistake is a usage error
 * (exit 2) with a message, not a round trip.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "body.h"
#include "buf.h"
#include "ctl_community.h"
#include "ctlclient.h"
#include "ctlutil.h"
#include "envelope.h"
#include "json.h"
#include "mp.h"

#define EXIT_FAIL	1
#define EXIT_USAGE	2
#define TIMEOUT_MS	30000


/* Strict decimal integer in [lo, hi]: 0 or -1. */
static int
parse_int(const char *s, long long lo, long long hi, long long *out)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse_cur(const char *cmd, const char *s, int *cur)
{
	if (strcmp(s, "health") == 0)
		*cur = KX_CUR_HEALTH;
	else if (strcmp(s, "time") == 0)
		*cur = KX_CUR_TIME;
	else {
		kx_ctl_err(cmd, "--cur: health or time");
		return -1;
	}
	return 0;
}

static int
parse_key(const char *cmd, const char *opt, const char *s, uint8_t *pk)
{
	if (strlen(s) != 2 * KX_PK_LEN || kx_unhex(pk, KX_PK_LEN, s) == -1) {
		kx_ctl_err(cmd, "%s: expected a key, 64 lowercase hex digits",
		    opt);
		return -1;
	}
	return 0;
}

static void
pack_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static int
community(const char *cmd, const char *dir, const char *sub,
    const kx_buf_t *args, kx_buf_t *reply)
{
	const void	*a[3] = { "community", sub, args->data };
	size_t		 l[3] = { 9, strlen(sub), args->len };

	return kx_ctl_request(cmd, dir, a, l, 3, reply);
}

/* ---- reading the reply ---------------------------------------------- */

/* A reply's JSON as msgpack, its top map in *top and elements in *c. */
static int
reply_mp(const kx_buf_t *json, kx_buf_t *mp, kx_mp_val_t *top,
    kx_mp_cur_t *c)
{
	char	 err[128];

	if (kx_json_to_mp(mp, (const char *)json->data, json->len, NULL, err,
	    sizeof(err)) == -1)
		return -1;
	kx_mp_cur_init(c, mp->data, mp->len);
	if (kx_mp_read(c, top) != KX_MP_OK || top->kind != KX_MP_MAP)
		return -1;
	return 0;
}

static bool
get(const kx_mp_val_t *map, kx_mp_cur_t elems, const char *key,
    kx_mp_val_t *v, kx_mp_cur_t *after)
{
	return kx_mp_map_get(map, elems, key, v, after) == 1;
}

static long long
get_int(const kx_mp_val_t *map, kx_mp_cur_t elems, const char *key)
{
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;

	if (!get(map, elems, key, &v, &a))
		return 0;
	if (v.kind == KX_MP_UINT)
		return v.u > INT64_MAX ? INT64_MAX : (long long)v.u;
	return v.kind == KX_MP_NINT ? (long long)v.i : 0;
}

/* A string field, "" when absent; at most n bytes shown. */
static void
get_str(const kx_mp_val_t *map, kx_mp_cur_t elems, const char *key,
    const char **p, int *len)
{
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;

	*p = "";
	*len = 0;
	if (get(map, elems, key, &v, &a) && v.kind == KX_MP_STR) {
		*p = (const char *)v.ptr;
		*len = (int)v.len;
	}
}

/* ms since the epoch as 2027-01-15T08:00:00Z. */
static void
iso(char *out, size_t n, long long ms)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, n, "%lld", ms);
}

/* The unit of a currency name of len bytes (not NUL-terminated). */
static const char *
unit(const char *cur, int len)
{
	return len == 4 && memcmp(cur, "time", 4) == 0 ? "minutes" : "points";
}

/* ---- balance ------------------------------------------------------------- */

static void
print_balance(const kx_buf_t *reply)
{
	static const char *const curs[] = { "health", "time" };
	kx_buf_t	 mp;
	kx_mp_val_t	 top, m;
	kx_mp_cur_t	 c, mc;
	const char	*who;
	int		 i, len;

	kx_buf_init(&mp);
	if (reply_mp(reply, &mp, &top, &c) == -1) {
		printf("%s\n", (const char *)reply->data);
		kx_buf_free(&mp);
		return;
	}
	get_str(&top, c, "member", &who, &len);
	printf("member  %.*s\n", len, who);
	for (i = 0; i < 2; i++) {
		if (!get(&top, c, curs[i], &m, &mc) || m.kind != KX_MP_MAP)
			continue;
		printf("%-6s  %lld %s (cited %lld, uncited %lld", curs[i],
		    get_int(&m, mc, "balance"), unit(curs[i],
		    (int)strlen(curs[i])),
		    get_int(&m, mc, "cited"), get_int(&m, mc, "uncited"));
		if (i == 1)
			printf(", limit %lld", get_int(&m, mc, "limit"));
		printf("; can pay %lld)", get_int(&m, mc, "available"));
		if (get_int(&m, mc, "pending_seq") != 0)
			printf(" - the pay at seq %lld is pending",
			    get_int(&m, mc, "pending_seq"));
		else if (get_int(&m, mc, "pending_in") != 0)
			printf(" - %lld incoming pending",
			    get_int(&m, mc, "pending_in"));
		printf("\n");
	}
	kx_buf_free(&mp);
}

int
kx_ctl_cmd_balance(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "cur", required_argument, NULL, 'c' },
		{ "of", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = kx_ctl_node(NULL);
	msgpack_packer	 pk;
	kx_buf_t	 args, reply;
	uint8_t		 of[KX_PK_LEN];
	int		 ch, json = 0, cur = -1, has_of = 0, rc = EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "N:c:o:j", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'c':
			if (parse_cur("balance", optarg, &cur) == -1)
				return EXIT_USAGE;
			break;
		case 'o':
			if (parse_key("balance", "--of", optarg, of) == -1)
				return EXIT_USAGE;
			has_of = 1;
			break;
		case 'j': json = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		kx_ctl_err("balance", "usage: kaga-ctl balance [--node DIR] "
		    "[--cur health|time] [--of HEX] [--json]");
		return EXIT_USAGE;
	}
	kx_buf_init(&args);
	kx_buf_init(&reply);
	msgpack_packer_init(&pk, &args, kx_buf_msgpack_write);
	msgpack_pack_map(&pk, (cur != -1) + has_of);
	if (cur != -1) {
		pack_str(&pk, "cur", 3);
		pack_str(&pk, cur == KX_CUR_TIME ? "time" : "health",
		    cur == KX_CUR_TIME ? 4 : 6);
	}
	if (has_of) {
		pack_str(&pk, "of", 2);
		msgpack_pack_bin(&pk, KX_PK_LEN);
		msgpack_pack_bin_body(&pk, of, KX_PK_LEN);
	}
	if (!args.oom && community("balance", dir, "balance", &args,
	    &reply) == 0) {
		if (json)
			printf("%s\n", (const char *)reply.data);
		else
			print_balance(&reply);
		rc = 0;
	}
	kx_buf_free(&args);
	kx_buf_free(&reply);
	return rc;
}

/* ---- pay ----------------------------------------------------------------- */

int
kx_ctl_cmd_pay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "cur", required_argument, NULL, 'c' },
		{ "to", required_argument, NULL, 't' },
		{ "amount", required_argument, NULL, 'a' },
		{ "memo", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = kx_ctl_node(NULL), *memo = NULL, *cs, *st, *tos;
	msgpack_packer	 pk;
	kx_buf_t	 args, reply, mp;
	kx_mp_val_t	 top, v;
	kx_mp_cur_t	 c, a;
	uint8_t		 to[KX_PK_LEN];
	long long	 amount = 0;
	int		 ch, json = 0, cur = -1, has_to = 0, rc = EXIT_FAIL;
	int		 cslen, stlen, tol;

	while ((ch = getopt_long(argc, argv, "N:c:t:a:m:j", opts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'c':
			if (parse_cur("pay", optarg, &cur) == -1)
				return EXIT_USAGE;
			break;
		case 't':
			if (parse_key("pay", "--to", optarg, to) == -1)
				return EXIT_USAGE;
			has_to = 1;
			break;
		case 'a':
			if (parse_int(optarg, 1, UINT32_MAX, &amount) == -1) {
				kx_ctl_err("pay", "--amount: an integer from 1 "
				    "to 4294967295 (points or minutes)");
				return EXIT_USAGE;
			}
			break;
		case 'm':
			memo = optarg;
			if (strlen(memo) > 140 || !kx_utf8_valid(
			    (const uint8_t *)memo, strlen(memo))) {
				kx_ctl_err("pay", "--memo: UTF-8 text of at most "
				    "140 bytes");
				return EXIT_USAGE;
			}
			break;
		case 'j': json = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc || cur == -1 || !has_to || amount == 0) {
		kx_ctl_err("pay", "usage: kaga-ctl pay --cur health|time --to HEX "
		    "--amount N [--memo TEXT] [--node DIR] [--json]");
		return EXIT_USAGE;
	}
	kx_buf_init(&args);
	kx_buf_init(&reply);
	kx_buf_init(&mp);
	msgpack_packer_init(&pk, &args, kx_buf_msgpack_write);
	msgpack_pack_map(&pk, memo != NULL ? 4 : 3);
	pack_str(&pk, "cur", 3);
	pack_str(&pk, cur == KX_CUR_TIME ? "time" : "health",
	    cur == KX_CUR_TIME ? 4 : 6);
	pack_str(&pk, "to", 2);
	msgpack_pack_bin(&pk, KX_PK_LEN);
	msgpack_pack_bin_body(&pk, to, KX_PK_LEN);
	pack_str(&pk, "amount", 6);
	msgpack_pack_uint32(&pk, (uint32_t)amount);
	if (memo != NULL) {
		pack_str(&pk, "memo", 4);
		pack_str(&pk, memo, strlen(memo));
	}
	if (args.oom || community("pay", dir, "pay", &args, &reply) == -1)
		goto done;
	rc = 0;
	if (json) {
		printf("%s\n", (const char *)reply.data);
		goto done;
	}
	if (reply_mp(&reply, &mp, &top, &c) == -1) {
		printf("%s\n", (const char *)reply.data);
		goto done;
	}
	get_str(&top, c, "cur", &cs, &cslen);
	get_str(&top, c, "status", &st, &stlen);
	get_str(&top, c, "to", &tos, &tol);
	printf("paid %lld %s to %.*s: seq %lld", amount, unit(cs, cslen), tol,
	    tos,
	    get_int(&top, c, "seq"));
	if (get(&top, c, "id", &v, &a) && v.kind == KX_MP_STR)
		printf(" id %.*s", (int)v.len, (const char *)v.ptr);
	if (get(&top, c, "in", &v, &a) && v.kind == KX_MP_ARRAY)
		printf(", citing %u credit%s", v.len, v.len == 1 ? "" : "s");
	printf("; %.*s; balance %lld %s\n", stlen, st,
	    get_int(&top, c, "balance"), unit(cs, cslen));
done:
	kx_buf_free(&args);
	kx_buf_free(&reply);
	kx_buf_free(&mp);
	return rc;
}

/* ---- history ------------------------------------------------------------- */

static void
print_history(const kx_buf_t *reply)
{
	kx_buf_t	 mp;
	kx_mp_val_t	 top, arr, e;
	kx_mp_cur_t	 c, ac, ec;
	char		 when[32];
	const char	*dir, *cur, *type, *st, *who, *memo, *why;
	int		 dl, cl, tl, sl, wl, ml, yl;
	uint32_t	 i;
	bool		 out;

	kx_buf_init(&mp);
	if (reply_mp(reply, &mp, &top, &c) == -1 ||
	    !get(&top, c, "entries", &arr, &ac) || arr.kind != KX_MP_ARRAY) {
		printf("%s\n", (const char *)reply->data);
		kx_buf_free(&mp);
		return;
	}
	for (i = 0; i < arr.len; i++) {
		ec = ac;
		if (kx_mp_read(&ec, &e) != KX_MP_OK || e.kind != KX_MP_MAP)
			break;
		get_str(&e, ec, "dir", &dir, &dl);
		get_str(&e, ec, "cur", &cur, &cl);
		get_str(&e, ec, "type", &type, &tl);
		get_str(&e, ec, "status", &st, &sl);
		get_str(&e, ec, "memo", &memo, &ml);
		get_str(&e, ec, "reason", &why, &yl);
		out = dl == 3;
		get_str(&e, ec, out ? "to" : "author", &who, &wl);
		iso(when, sizeof(when), get_int(&e, ec, "ts"));
		printf("%s  %-3.*s  %-6.*s  %-5.*s  %c%-6lld %-7.*s  %s %.16s",
		    when, dl, dir, cl, cur, tl, type, out ? '-' : '+',
		    get_int(&e, ec, "amount"), sl, st, out ? "to  " : "from",
		    who);
		if (!out && get_int(&e, ec, "cited_by") != 0)
			printf("  cited by seq %lld",
			    get_int(&e, ec, "cited_by"));
		if (ml > 0)
			printf("  \"%.*s\"", ml, memo);
		if (yl > 0)
			printf("  (%.*s)", yl, why);
		printf("\n");
		if (kx_mp_skip(&ac, 8) != KX_MP_OK)
			break;
	}
	kx_buf_free(&mp);
}

int
kx_ctl_cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "cur", required_argument, NULL, 'c' },
		{ "of", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = kx_ctl_node(NULL);
	msgpack_packer	 pk;
	kx_buf_t	 args, reply;
	uint8_t		 of[KX_PK_LEN];
	int		 ch, json = 0, cur = -1, has_of = 0, rc = EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "N:c:o:j", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'c':
			if (parse_cur("history", optarg, &cur) == -1)
				return EXIT_USAGE;
			break;
		case 'o':
			if (parse_key("history", "--of", optarg, of) == -1)
				return EXIT_USAGE;
			has_of = 1;
			break;
		case 'j': json = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		kx_ctl_err("history", "usage: kaga-ctl history [--node DIR] "
		    "[--cur health|time] [--of HEX] [--json]");
		return EXIT_USAGE;
	}
	kx_buf_init(&args);
	kx_buf_init(&reply);
	msgpack_packer_init(&pk, &args, kx_buf_msgpack_write);
	msgpack_pack_map(&pk, (cur != -1) + has_of);
	if (cur != -1) {
		pack_str(&pk, "cur", 3);
		pack_str(&pk, cur == KX_CUR_TIME ? "time" : "health",
		    cur == KX_CUR_TIME ? 4 : 6);
	}
	if (has_of) {
		pack_str(&pk, "of", 2);
		msgpack_pack_bin(&pk, KX_PK_LEN);
		msgpack_pack_bin_body(&pk, of, KX_PK_LEN);
	}
	if (!args.oom && community("history", dir, "history", &args,
	    &reply) == 0) {
		if (json)
			printf("%s\n", (const char *)reply.data);
		else
			print_history(&reply);
		rc = 0;
	}
	kx_buf_free(&args);
	kx_buf_free(&reply);
	return rc;
}

/* ---- listings ------------------------------------------------------------ */

static void
print_listings(const kx_buf_t *reply)
{
	kx_buf_t	 mp;
	kx_mp_val_t	 top, arr, e;
	kx_mp_cur_t	 c, ac, ec;
	char		 when[32];
	const char	*kind, *title, *area, *who;
	int		 kl, tl, al, wl;
	long long	 until;
	uint32_t	 i;

	kx_buf_init(&mp);
	if (reply_mp(reply, &mp, &top, &c) == -1 ||
	    !get(&top, c, "listings", &arr, &ac) || arr.kind != KX_MP_ARRAY) {
		printf("%s\n", (const char *)reply->data);
		kx_buf_free(&mp);
		return;
	}
	for (i = 0; i < arr.len; i++) {
		ec = ac;
		if (kx_mp_read(&ec, &e) != KX_MP_OK || e.kind != KX_MP_MAP)
			break;
		get_str(&e, ec, "kind", &kind, &kl);
		get_str(&e, ec, "title", &title, &tl);
		get_str(&e, ec, "area", &area, &al);
		get_str(&e, ec, "author", &who, &wl);
		until = get_int(&e, ec, "until");
		if (until != 0)
			iso(when, sizeof(when), until);
		else
			snprintf(when, sizeof(when), "no end");
		printf("%-5.*s  %.*s%s%.*s%s  until %s  by %.16s\n", kl, kind,
		    tl, title, al ? " [" : "", al, area, al ? "]" : "", when,
		    who);
		if (kx_mp_skip(&ac, 8) != KX_MP_OK)
			break;
	}
	kx_buf_free(&mp);
}

int
kx_ctl_cmd_listings(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = kx_ctl_node(NULL);
	kx_buf_t	 args, reply;
	int		 ch, json = 0, rc = EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "N:j", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'j': json = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		kx_ctl_err("listings", "usage: kaga-ctl listings [--node DIR] "
		    "[--json]");
		return EXIT_USAGE;
	}
	kx_buf_init(&args);
	kx_buf_init(&reply);
	kx_buf_putc(&args, 0x80);	/* {} */
	if (!args.oom && community("listings", dir, "listings", &args,
	    &reply) == 0) {
		if (json)
			printf("%s\n", (const char *)reply.data);
		else
			print_listings(&reply);
		rc = 0;
	}
	kx_buf_free(&args);
	kx_buf_free(&reply);
	return rc;
}

/* ---- list: publish a listing --------------------------------------------- */

int
kx_ctl_cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "offer", no_argument, NULL, 'O' },
		{ "want", no_argument, NULL, 'W' },
		{ "title", required_argument, NULL, 't' },
		{ "area", required_argument, NULL, 'a' },
		{ "until", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = kx_ctl_node(NULL), *title = NULL, *area = NULL;
	const char	*kind = NULL;
	const void	*a[3];
	size_t		 l[3];
	msgpack_packer	 pk;
	kx_buf_t	 body, reply, mp;
	kx_mp_val_t	 top, v;
	kx_mp_cur_t	 c, after;
	long long	 until = 0;
	int		 ch, json = 0, rc = EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "N:OWt:a:u:j", opts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'O':
		case 'W':
			if (kind != NULL) {
				kx_ctl_err("list", "one of --offer or --want");
				return EXIT_USAGE;
			}
			kind = ch == 'O' ? "offer" : "want";
			break;
		case 't':
			title = optarg;
			if (strlen(title) == 0 || strlen(title) > 80 ||
			    !kx_utf8_valid((const uint8_t *)title,
			    strlen(title))) {
				kx_ctl_err("list", "--title: UTF-8 text of 1 to "
				    "80 bytes");
				return EXIT_USAGE;
			}
			break;
		case 'a':
			area = optarg;
			if (strlen(area) > 32 || !kx_utf8_valid(
			    (const uint8_t *)area, strlen(area))) {
				kx_ctl_err("list", "--area: UTF-8 text of at most "
				    "32 bytes");
				return EXIT_USAGE;
			}
			break;
		case 'u':
			if (parse_int(optarg, 0, INT64_MAX, &until) == -1) {
				kx_ctl_err("list", "--until: ms since the epoch, "
				    "0 for no end");
				return EXIT_USAGE;
			}
			break;
		case 'j': json = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc || kind == NULL || title == NULL) {
		kx_ctl_err("list", "usage: kaga-ctl list --offer|--want --title T "
		    "[--area A] [--until MS] [--node DIR] [--json]");
		return EXIT_USAGE;
	}
	kx_buf_init(&body);
	kx_buf_init(&reply);
	kx_buf_init(&mp);
	msgpack_packer_init(&pk, &body, kx_buf_msgpack_write);
	msgpack_pack_map(&pk, area != NULL ? 5 : 4);
	pack_str(&pk, "kind", 4);
	pack_str(&pk, kind, strlen(kind));
	pack_str(&pk, "cur", 3);
	pack_str(&pk, "time", 4);
	pack_str(&pk, "title", 5);
	pack_str(&pk, title, strlen(title));
	if (area != NULL) {
		pack_str(&pk, "area", 4);
		pack_str(&pk, area, strlen(area));
	}
	pack_str(&pk, "until", 5);
	msgpack_pack_int64(&pk, until);
	a[0] = "publish";
	l[0] = 7;
	a[1] = "listing";
	l[1] = 7;
	a[2] = body.data;
	l[2] = body.len;
	if (body.oom || kx_ctl_request("list", dir, a, l, 3, &reply) == -1)
		goto done;
	rc = 0;
	if (json)
		printf("%s\n", (const char *)reply.data);
	else if (reply_mp(&reply, &mp, &top, &c) == 0) {
		printf("published %s seq %lld", kind, get_int(&top, c, "seq"));
		if (get(&top, c, "id", &v, &after) && v.kind == KX_MP_STR)
			printf(" id %.*s", (int)v.len, (const char *)v.ptr);
		printf("\n");
	}
done:
	kx_buf_free(&body);
	kx_buf_free(&reply);
	kx_buf_free(&mp);
	return rc;
}
