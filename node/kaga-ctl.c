/*
 * kaga-ctl - the command-line tool of kaga-exchange.
 *
 * Offline commands (no running node needed):
 *   keygen  --out DIR
 *   sign    --key FILE --store DIR --type T --body JSON [--ts MS]
 *   verify  FILE...
 *   import  --store DIR --operator HEX [--now MS] FILE...
 *   log     --store DIR [--author HEX]
 *   inspect --store DIR         heads, held messages, forks
 *   fsck    --store DIR         check the store's invariants
 *
 * Exit status: 0 success, 1 a failure (I/O, store, invalid message for
 * verify), 2 a usage error or bad input.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "body.h"
#include "buf.h"
#include "ctlclient.h"
#include "ctlutil.h"
#include "ctl_admin.h"
#include "ctl_community.h"
#include "ctl_market.h"
#include "ctl_meter.h"
#include "ctl_privacy.h"
#include "ctl_summary.h"
#include "mp.h"
#include "envelope.h"
#include "json.h"
#include "keyfile.h"
#include "msgjson.h"
#include "store.h"

#define EXIT_USAGE	2
#define FILE_MAX	(1 << 20)	/* bytes read from an input file */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: kaga-ctl keygen --out DIR\n"
	    "       kaga-ctl sign --key FILE --store DIR --type T --body JSON "
	    "[--ts MS]\n"
	    "       kaga-ctl verify FILE...\n"
	    "       kaga-ctl import --store DIR --operator HEX [--now MS] "
	    "FILE...\n"
	    "       kaga-ctl log --store DIR [--author HEX]\n"
	    "       kaga-ctl inspect --store DIR\n"
	    "       kaga-ctl fsck --store DIR\n"
	    "against a running node (--node DIR, default $KAGA_NODE or "
	    "/var/lib/kaga):\n"
	    "       kaga-ctl status [--node DIR] [--json]\n"
	    "       kaga-ctl ledger [--node DIR] [--account HEX|operator|grid]\n"
	    "       kaga-ctl members [--node DIR] [--json]\n"
	    "       kaga-ctl admit --roster FILE [--revoke-missing] [--dry-run] [--node DIR]\n"
	    "       kaga-ctl admit --key HEX --role R [--name N] [--area A] [--endpoint E]\n"
	    "                [--until MS] [--cap N] [--node DIR]\n"
	    "       kaga-ctl revoke --key HEX [--reason TEXT] [--node DIR]\n"
	    "       kaga-ctl bill --from SLOT --to SLOT [--node DIR]\n"
	    "       kaga-ctl publish --type T --body JSON [--node DIR] "
	    "[--json]\n"
	    "       kaga-ctl log [--node DIR] [--author HEX] [--json]\n"
	    "community (PROTOCOL.md section 8, against a running node):\n"
	    "       kaga-ctl balance [--node DIR] [--cur health|time] "
	    "[--of HEX] [--json]\n"
	    "       kaga-ctl pay --cur health|time --to HEX --amount N "
	    "[--memo TEXT] [--node DIR] [--json]\n"
	    "       kaga-ctl history [--node DIR] [--cur health|time] "
	    "[--of HEX] [--json]\n"
	    "       kaga-ctl listings [--node DIR] [--json]\n"
	    "       kaga-ctl list --offer|--want --title T [--area A] "
	    "[--until MS] [--node DIR] [--json]\n"
	    "privacy (docs/privacy.md):\n"
	    "       kaga-ctl consent list|export|grant|revoke [--node DIR] ...\n"
	    "       kaga-ctl disclosures [--node DIR] [--verify] [--json]\n"
	    "       kaga-ctl rekey --data-dir DIR   (kaga-node stopped)\n"
	    "market (PROTOCOL.md sections 6 and 7, offline):\n"
	    "       kaga-ctl clear --book FILE\n"
	    "       kaga-ctl settle --book FILE --readings FILE\n"
	    "aggregates (PROTOCOL.md section 9, docs/aggregates.md):\n"
	    "       kaga-ctl summary [--node DIR] [--day YYYY-MM-DD] "
	    "[--csv|--ngsi]\n"
	    "       kaga-ctl aggregate --input FILE [--epsilon E] "
	    "[--csv|--ngsi]\n"
	    "meters (Modbus TCP or RTU):\n"
	    "       kaga-ctl meter read --tcp HOST:PORT | --rtu DEVICE --baud N "
	    "[--unit N]\n"
	    "                --profile sdm630|sdm120|sunspec [--json]\n"
	    "       kaga-ctl meter scan --tcp HOST:PORT | --rtu DEVICE --baud N "
	    "[--unit N] [--json]\n");
}


static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Strict decimal int64: 0 or -1. */
static int
parse_i64(const char *s, int64_t *out)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Reads at most max bytes (+1 to tell a larger file). 0 or -1 (errno). */
static int
read_file(const char *path, size_t max, kx_buf_t *b)
{
	FILE	*f;
	uint8_t	 chunk[4096];
	size_t	 n;

	kx_buf_reset(b);
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (kx_buf_append(b, chunk, n) == -1) {
			fclose(f);
			errno = ENOMEM;
			return -1;
		}
		if (b->len > max)
			break;
	}
	if (ferror(f)) {
		fclose(f);
		errno = EIO;
		return -1;
	}
	fclose(f);
	return 0;
}

static int
parse_pk(const char *cmd, const char *opt, const char *hex, uint8_t *pk)
{
	if (kx_unhex(pk, KX_PK_LEN, hex) == -1) {
		kx_ctl_err(cmd, "%s: expected 64 lowercase hex digits", opt);
		return -1;
	}
	return 0;
}

static kx_store_t *
open_store(const char *cmd, const char *dir)
{
	kx_store_t	*st;
	kx_why_t	 why;

	if ((st = kx_store_open(dir, 0, &why)) == NULL)
		fprintf(stderr, "kaga-ctl %s: %s\n", cmd, why.text);
	return st;
}

/* ---- keygen ---------------------------------------------------------- */

static int
cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*out = NULL;
	uint8_t		 pk[KX_PK_LEN];
	char		 hex[2 * KX_PK_LEN + 1];
	kx_why_t	 why;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (ch != 'o')
			return EXIT_USAGE;
		out = optarg;
	}
	if (out == NULL || optind != argc) {
		kx_ctl_err("keygen", "usage: kaga-ctl keygen --out DIR");
		return EXIT_USAGE;
	}
	if (kx_key_generate(out, pk, &why) == -1) {
		fprintf(stderr, "kaga-ctl keygen: %s\n", why.text);
		return 1;
	}
	kx_hex(hex, pk, KX_PK_LEN);
	printf("%s\n", hex);
	return 0;
}

/* ---- sign ------------------------------------------------------------ */

static int
cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "store", required_argument, NULL, 's' },
		{ "type", required_argument, NULL, 't' },
		{ "body", required_argument, NULL, 'b' },
		{ "ts", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*key = NULL, *dir = NULL, *type = NULL, *json = NULL;
	kx_store_t	*st = NULL;
	kx_buf_t	 body, wire;
	kx_why_t	 why;
	uint8_t		 sk[KX_SK_LEN];
	int64_t		 ts = now_ms();
	char		 err[256];
	int		 ch, rc = 1;

	while ((ch = getopt_long(argc, argv, "k:s:t:b:T:", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': key = optarg; break;
		case 's': dir = optarg; break;
		case 't': type = optarg; break;
		case 'b': json = optarg; break;
		case 'T':
			if (parse_i64(optarg, &ts) == -1) {
				kx_ctl_err("sign", "--ts: not an integer (ms)");
				return EXIT_USAGE;
			}
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (key == NULL || dir == NULL || type == NULL || json == NULL ||
	    optind != argc) {
		kx_ctl_err("sign", "usage: kaga-ctl sign --key FILE --store DIR "
		    "--type T --body JSON [--ts MS]");
		return EXIT_USAGE;
	}
	if (strlen(type) > KX_TYPE_MAX || type[0] == '\0') {
		kx_ctl_err("sign", "--type: 1 to %d bytes", KX_TYPE_MAX);
		return EXIT_USAGE;
	}
	kx_buf_init(&body);
	kx_buf_init(&wire);
	if (kx_json_to_mp(&body, json, strlen(json), kx_body_bin_paths(type),
	    err, sizeof(err)) == -1) {
		kx_ctl_err("sign", "--body: %s", err);
		rc = EXIT_USAGE;
		goto done;
	}
	if (body.len == 0 || !((body.data[0] & 0xf0) == 0x80 ||
	    body.data[0] == 0xde || body.data[0] == 0xdf)) {
		kx_ctl_err("sign", "--body: must be a JSON object");
		rc = EXIT_USAGE;
		goto done;
	}
	if (kx_key_load(key, sk, &why) == -1) {
		fprintf(stderr, "kaga-ctl sign: %s\n", why.text);
		goto done;
	}
	if ((st = open_store("sign", dir)) == NULL)
		goto done;
	rc = kx_store_append_own(st, sk, type, body.data, body.len, ts, &wire,
	    &why);
	sodium_memzero(sk, sizeof(sk));
	if (rc != KX_OK) {
		fprintf(stderr, "kaga-ctl sign: refused: %s\n", why.text);
		rc = rc == KX_ESTORE || rc == KX_ENOMEM ? 1 : EXIT_USAGE;
		goto done;
	}
	if (fwrite(wire.data, 1, wire.len, stdout) != wire.len ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "kaga-ctl sign: stdout: %s\n", strerror(errno));
		rc = 1;
		goto done;
	}
	rc = 0;
done:
	kx_store_close(&st);
	kx_buf_free(&body);
	kx_buf_free(&wire);
	return rc;
}

/* ---- verify ---------------------------------------------------------- */

/* Steps 1, 2, 6 and 7 of a lone message (default market parameters). */
static int
verify_lone(const uint8_t *wire, size_t len, kx_msg_t *m, kx_why_t *why)
{
	kx_body_t	*b;
	kx_params_t	 p;
	int		 rc;

	if ((rc = kx_msg_decode(m, wire, len, why)) != KX_OK)
		return rc;
	if ((rc = kx_msg_check_version(m, why)) != KX_OK)
		return rc;
	if ((rc = kx_msg_verify(m, why)) != KX_OK)
		return rc;
	if ((b = malloc(sizeof(*b))) == NULL) {
		kx_why_set(why, "out of memory");
		return KX_ENOMEM;
	}
	kx_params_default(&p);
	rc = kx_body_parse(b, m, &p, why);
	free(b);
	return rc;
}

static int
cmd_verify(int argc, char **argv)
{
	kx_buf_t	 in;
	kx_msg_t	 m;
	kx_why_t	 why;
	char		 hex[2 * KX_ID_LEN + 1];
	int		 i, bad = 0;

	if (argc < 2) {
		kx_ctl_err("verify", "usage: kaga-ctl verify FILE...");
		return EXIT_USAGE;
	}
	kx_buf_init(&in);
	for (i = 1; i < argc; i++) {
		if (read_file(argv[i], KX_WIRE_MAX, &in) == -1) {
			printf("%s: invalid: cannot read: %s\n", argv[i],
			    strerror(errno));
			bad = 1;
			continue;
		}
		if (verify_lone(in.data, in.len, &m, &why) != KX_OK) {
			printf("%s: invalid: %s\n", argv[i], why.text);
			bad = 1;
			continue;
		}
		kx_hex(hex, m.id, KX_ID_LEN);
		printf("%s: ok %s\n", argv[i], hex);
	}
	kx_buf_free(&in);
	return bad;
}

/* ---- import ---------------------------------------------------------- */

struct imported {
	const char	*file;
	kx_result_t	 res;
	int		 unreadable;
};

struct release_ctx {
	struct imported	*files;
	int		 n;
};

/* A held message was released: find its file and update its line. */
static void
on_release(void *arg, const kx_result_t *r)
{
	struct release_ctx	*rc = arg;
	int			 i;

	for (i = 0; i < rc->n; i++)
		if (rc->files[i].res.outcome == KX_HELD &&
		    memcmp(rc->files[i].res.id, r->id, KX_ID_LEN) == 0)
			rc->files[i].res = *r;
}

static void
print_result(const struct imported *f)
{
	char	 hex[2 * KX_ID_LEN + 1];

	if (f->unreadable)
		return;
	if (f->res.has_id)
		kx_hex(hex, f->res.id, KX_ID_LEN);
	switch (f->res.outcome) {
	case KX_REJECTED:
	case KX_INVALID:
		printf("%s: %s (%s%s%s)\n", kx_outcome_name(f->res.outcome),
		    f->res.why.text, f->file, f->res.has_id ? " " : "",
		    f->res.has_id ? hex : "");
		break;
	default:
		printf("%s %s %s\n", kx_outcome_name(f->res.outcome), f->file,
		    hex);
		break;
	}
}

static int
cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "operator", required_argument, NULL, 'o' },
		{ "now", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	uint8_t			 ops[16][KX_PK_LEN];
	struct imported		*files = NULL;
	struct release_ctx	 rctx;
	const char		*dir = NULL;
	kx_store_t		*st = NULL;
	kx_buf_t		 in;
	int64_t			 now = now_ms();
	int			 ch, i, n, nops = 0, rc = 1, failed = 0;

	while ((ch = getopt_long(argc, argv, "s:o:n:", opts, NULL)) != -1) {
		switch (ch) {
		case 's': dir = optarg; break;
		case 'o':
			if (nops == 16) {
				kx_ctl_err("import", "at most 16 --operator");
				return EXIT_USAGE;
			}
			if (parse_pk("import", "--operator", optarg,
			    ops[nops]) == -1)
				return EXIT_USAGE;
			nops++;
			break;
		case 'n':
			if (parse_i64(optarg, &now) == -1) {
				kx_ctl_err("import", "--now: not an integer (ms)");
				return EXIT_USAGE;
			}
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (dir == NULL || optind >= argc) {
		kx_ctl_err("import", "usage: kaga-ctl import --store DIR "
		    "--operator HEX [--now MS] FILE...");
		return EXIT_USAGE;
	}
	if ((st = open_store("import", dir)) == NULL)
		return 1;
	for (i = 0; i < nops; i++)
		if (kx_store_add_operator(st, ops[i]) != KX_OK) {
			fprintf(stderr, "kaga-ctl import: cannot record "
			    "operator key\n");
			goto done;
		}
	if (kx_store_operator_count(st) == 0) {
		kx_ctl_err("import", "no operator key: give --operator HEX");
		rc = EXIT_USAGE;
		goto done;
	}
	n = argc - optind;
	if ((files = calloc((size_t)n, sizeof(*files))) == NULL)
		goto done;
	rctx.files = files;
	rctx.n = n;
	kx_buf_init(&in);
	if (kx_store_begin(st) != KX_OK) {
		fprintf(stderr, "kaga-ctl import: store: cannot begin\n");
		goto done;
	}
	for (i = 0; i < n; i++) {
		files[i].file = argv[optind + i];
		if (read_file(files[i].file, KX_WIRE_MAX, &in) == -1) {
			fprintf(stderr, "kaga-ctl import: %s: %s\n",
			    files[i].file, strerror(errno));
			files[i].unreadable = 1;
			failed = 1;
			continue;
		}
		if (kx_store_import(st, in.data, in.len, now, &files[i].res,
		    on_release, &rctx) != KX_OK) {
			kx_store_abort(st);
			fprintf(stderr, "kaga-ctl import: store failed at %s; "
			    "nothing of this run was stored\n", files[i].file);
			kx_buf_free(&in);
			goto done;
		}
	}
	kx_buf_free(&in);
	if (kx_store_commit(st) != KX_OK) {
		fprintf(stderr, "kaga-ctl import: store: commit failed; "
		    "nothing of this run was stored\n");
		goto done;
	}
	for (i = 0; i < n; i++)
		print_result(&files[i]);
	rc = failed;
done:
	free(files);
	kx_store_close(&st);
	return rc;
}

/* ---- log ------------------------------------------------------------- */

static int
print_stored(void *arg, const kx_stored_t *s)
{
	kx_buf_t	*out = arg;

	kx_buf_reset(out);
	if (kx_stored_json(out, s) == -1) {
		fprintf(stderr, "kaga-ctl log: undecodable record skipped\n");
		return 0;
	}
	kx_buf_putc(out, '\n');
	if (out->oom)
		return 1;
	return fwrite(out->data, 1, out->len, stdout) == out->len ? 0 : 1;
}

static int
store_cmd_args(const char *cmd, int argc, char **argv, const char **dir,
    const char **author)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "author", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, "s:a:", opts, NULL)) != -1) {
		switch (ch) {
		case 's': *dir = optarg; break;
		case 'a':
			if (author == NULL)
				return -1;
			*author = optarg;
			break;
		default:
			return -1;
		}
	}
	if (*dir == NULL || optind != argc) {
		kx_ctl_err(cmd, "usage: kaga-ctl %s --store DIR%s", cmd,
		    author ? " [--author HEX]" : "");
		return -1;
	}
	return 0;
}

static int	log_online(const char *, const char *, int);

static int
cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "node", required_argument, NULL, 'N' },
		{ "author", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = NULL, *node = NULL, *ahex = NULL;
	uint8_t		 author[KX_PK_LEN];
	kx_store_t	*st;
	kx_buf_t	 out;
	int		 ch, rc, json = 0;

	while ((ch = getopt_long(argc, argv, "s:N:a:j", opts, NULL)) != -1) {
		switch (ch) {
		case 's': dir = optarg; break;
		case 'N': node = optarg; break;
		case 'a': ahex = optarg; break;
		case 'j': json = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc || (dir != NULL && node != NULL)) {
		kx_ctl_err("log", "usage: kaga-ctl log --store DIR "
		    "[--author HEX] | log [--node DIR] [--author HEX] "
		    "[--json]");
		return EXIT_USAGE;
	}
	if (ahex != NULL && parse_pk("log", "--author", ahex, author) == -1)
		return EXIT_USAGE;
	if (dir == NULL)
		return log_online(node ? node : kx_ctl_node(NULL), ahex, json);
	if ((st = open_store("log", dir)) == NULL)
		return 1;
	kx_buf_init(&out);
	rc = kx_store_foreach(st, ahex ? author : NULL, print_stored, &out);
	kx_buf_free(&out);
	kx_store_close(&st);
	if (rc != KX_OK || fflush(stdout) != 0) {
		fprintf(stderr, "kaga-ctl log: store read failed\n");
		return 1;
	}
	return 0;
}

/* ---- inspect and fsck ------------------------------------------------ */

struct inspect_ctx {
	kx_store_t	*st;
	uint8_t		 last[KX_PK_LEN];
	int		 have;
};

static int
inspect_one(void *arg, const kx_stored_t *s)
{
	struct inspect_ctx	*ic = arg;
	kx_msg_t		 m;
	kx_head_t		 h;
	char			 hex[2 * KX_PK_LEN + 1];

	if (kx_msg_decode(&m, s->wire, s->len, NULL) != KX_OK)
		return 0;
	if (ic->have && memcmp(ic->last, m.author, KX_PK_LEN) == 0)
		return 0;
	memcpy(ic->last, m.author, KX_PK_LEN);
	ic->have = 1;
	kx_hex(hex, m.author, KX_PK_LEN);
	if (kx_store_head(ic->st, m.author, &h) == 1)
		printf("author %s last_seq %" PRIu64 " held %u%s\n", hex,
		    h.last_seq, h.nheld, h.frozen_seq ? " frozen" : "");
	return 0;
}

static int
cmd_inspect(int argc, char **argv)
{
	struct inspect_ctx	 ic;
	const char		*dir = NULL;
	uint64_t		 msgs, held, forks;

	if (store_cmd_args("inspect", argc, argv, &dir, NULL) == -1)
		return EXIT_USAGE;
	memset(&ic, 0, sizeof(ic));
	if ((ic.st = open_store("inspect", dir)) == NULL)
		return 1;
	if (kx_store_counts(ic.st, &msgs, &held, &forks) != KX_OK) {
		kx_store_close(&ic.st);
		return 1;
	}
	printf("messages %" PRIu64 " held %" PRIu64 " forks %" PRIu64
	    " operators %zu\n", msgs, held, forks,
	    kx_store_operator_count(ic.st));
	if (kx_store_foreach(ic.st, NULL, inspect_one, &ic) != KX_OK) {
		kx_store_close(&ic.st);
		return 1;
	}
	kx_store_close(&ic.st);
	return 0;
}

static int
cmd_fsck(int argc, char **argv)
{
	const char	*dir = NULL;
	kx_store_t	*st;
	kx_why_t	 why;
	int		 rc;

	if (store_cmd_args("fsck", argc, argv, &dir, NULL) == -1)
		return EXIT_USAGE;
	if ((st = open_store("fsck", dir)) == NULL)
		return 1;
	rc = kx_store_verify(st, &why);
	kx_store_close(&st);
	printf("%s: %s\n", dir, why.text);
	return rc == KX_OK ? 0 : 1;
}

/* ---- against a running node ----------------------------------------- */

/* Reads key from a JSON object converted to msgpack. */
static bool
mp_field(const kx_buf_t *mp, const char *key, kx_mp_val_t *v,
    kx_mp_cur_t *after)
{
	kx_mp_cur_t	 c;
	kx_mp_val_t	 map;

	kx_mp_cur_init(&c, mp->data, mp->len);
	return kx_mp_read(&c, &map) == KX_MP_OK &&
	    kx_mp_map_get(&map, c, key, v, after) == 1;
}

static void
print_status(const kx_buf_t *json)
{
	kx_buf_t	 mp;
	kx_mp_val_t	 v, e, k;
	kx_mp_cur_t	 a, c;
	char		 err[128];
	uint32_t	 i, j;

	kx_buf_init(&mp);
	if (kx_json_to_mp(&mp, (const char *)json->data, json->len, NULL, err,
	    sizeof(err)) == -1) {
		printf("%s\n", (const char *)json->data);
		kx_buf_free(&mp);
		return;
	}
	if (mp_field(&mp, "node", &v, &a) && v.kind == KX_MP_STR)
		printf("node      %.*s\n", (int)v.len, (const char *)v.ptr);
	if (mp_field(&mp, "role", &v, &a) && v.kind == KX_MP_STR)
		printf("role      %.*s\n", (int)v.len, (const char *)v.ptr);
	if (mp_field(&mp, "messages", &v, &a) && v.kind == KX_MP_UINT)
		printf("messages  %llu\n", (unsigned long long)v.u);
	if (mp_field(&mp, "peers", &v, &a) && v.kind == KX_MP_ARRAY) {
		printf("peers     %u\n", v.len);
		c = a;
		for (i = 0; i < v.len; i++) {
			kx_mp_val_t	 pm;
			kx_mp_cur_t	 pc;
			kx_mp_val_t	 f;
			kx_mp_cur_t	 fa;

			pc = c;
			if (kx_mp_read(&pc, &pm) != KX_MP_OK)
				break;
			printf("  ");
			if (kx_mp_map_get(&pm, pc, "node", &f, &fa) == 1)
				printf("%.16s ", (const char *)f.ptr);
			if (kx_mp_map_get(&pm, pc, "endpoint", &f, &fa) == 1)
				printf("%-24.*s ", (int)f.len,
				    (const char *)f.ptr);
			if (kx_mp_map_get(&pm, pc, "outbound", &f, &fa) == 1)
				printf("%s", f.u ? "out " : "");
			if (kx_mp_map_get(&pm, pc, "inbound", &f, &fa) == 1)
				printf("%s", f.u ? "in " : "");
			if (kx_mp_map_get(&pm, pc, "score", &f, &fa) == 1)
				printf("score %lld ", f.kind == KX_MP_NINT ?
				    (long long)f.i : (long long)f.u);
			if (kx_mp_map_get(&pm, pc, "banned", &f, &fa) == 1 &&
			    f.u)
				printf("BANNED");
			printf("\n");
			if (kx_mp_skip(&c, 8) != KX_MP_OK)
				break;
		}
	}
	if (mp_field(&mp, "counters", &v, &a) && v.kind == KX_MP_MAP) {
		printf("counters ");
		c = a;
		for (j = 0; j < v.len; j++) {
			if (kx_mp_read(&c, &k) != KX_MP_OK ||
			    kx_mp_read(&c, &e) != KX_MP_OK)
				break;
			if (e.u > 0)
				printf(" %.*s=%llu", (int)k.len,
				    (const char *)k.ptr,
				    (unsigned long long)e.u);
		}
		printf("\n");
	}
	if (mp_field(&mp, "heads", &v, &a) && v.kind == KX_MP_ARRAY)
		printf("authors   %u\n", v.len);
	kx_buf_free(&mp);
}

static int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const void	*args[1] = { "status" };
	size_t		 lens[1] = { 6 };
	const char	*dir = kx_ctl_node(NULL);
	kx_buf_t	 reply;
	int		 ch, json = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "N:j", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'j': json = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		kx_ctl_err("status", "usage: kaga-ctl status [--node DIR] "
		    "[--json]");
		return EXIT_USAGE;
	}
	kx_buf_init(&reply);
	if (kx_ctl_request("status", dir, args, lens, 1, &reply) == 0) {
		if (json)
			printf("%s\n", (const char *)reply.data);
		else
			print_status(&reply);
		rc = 0;
	}
	kx_buf_free(&reply);
	return rc;
}

static int
cmd_ledger(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "account", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	const void	*args[2] = { "ledger", NULL };
	size_t		 lens[2] = { 6, 0 };
	const char	*dir = kx_ctl_node(NULL), *acct = NULL;
	kx_buf_t	 reply;
	uint8_t		 pk[KX_PK_LEN];
	int		 ch, rc = 1;

	while ((ch = getopt_long(argc, argv, "N:a:", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'a': acct = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		kx_ctl_err("ledger", "usage: kaga-ctl ledger [--node DIR] "
		    "[--account HEX|operator|grid]");
		return EXIT_USAGE;
	}
	if (acct != NULL && strcmp(acct, "operator") != 0 &&
	    strcmp(acct, "grid") != 0 && kx_unhex(pk, KX_PK_LEN, acct) == -1) {
		kx_ctl_err("ledger", "--account: not a key (64 lowercase hex "
		    "digits), operator or grid");
		return EXIT_USAGE;
	}
	if (acct != NULL) {
		args[1] = acct;
		lens[1] = strlen(acct);
	}
	kx_buf_init(&reply);
	if (kx_ctl_request("ledger", dir, args, lens, acct ? 2 : 1, &reply) == 0) {
		printf("%s\n", (const char *)reply.data);
		rc = 0;
	}
	kx_buf_free(&reply);
	return rc;
}

static int
cmd_publish(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "type", required_argument, NULL, 't' },
		{ "body", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = kx_ctl_node(NULL), *type = NULL, *json = NULL;
	const void	*args[3];
	size_t		 lens[3];
	kx_buf_t	 body, reply, mp;
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;
	char		 err[256];
	int		 ch, jout = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "N:t:b:j", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 't': type = optarg; break;
		case 'b': json = optarg; break;
		case 'j': jout = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (type == NULL || json == NULL || optind != argc ||
	    strlen(type) > KX_TYPE_MAX || type[0] == '\0') {
		kx_ctl_err("publish", "usage: kaga-ctl publish --type T "
		    "--body JSON [--node DIR] [--json]");
		return EXIT_USAGE;
	}
	kx_buf_init(&body);
	kx_buf_init(&reply);
	kx_buf_init(&mp);
	if (kx_json_to_mp(&body, json, strlen(json), kx_body_bin_paths(type),
	    err, sizeof(err)) == -1 || body.len == 0 ||
	    !((body.data[0] & 0xf0) == 0x80 || body.data[0] == 0xde ||
	    body.data[0] == 0xdf)) {
		kx_ctl_err("publish", "--body: %s", body.len ? err :
		    "must be a JSON object");
		rc = EXIT_USAGE;
		goto done;
	}
	args[0] = "publish";
	lens[0] = 7;
	args[1] = type;
	lens[1] = strlen(type);
	args[2] = body.data;
	lens[2] = body.len;
	if (kx_ctl_request("publish", dir, args, lens, 3, &reply) == 0) {
		if (jout)
			printf("%s\n", (const char *)reply.data);
		else if (kx_json_to_mp(&mp, (const char *)reply.data,
		    reply.len, NULL, err, sizeof(err)) == 0 &&
		    mp_field(&mp, "seq", &v, &a)) {
			uint64_t	 seq = v.u;

			if (mp_field(&mp, "id", &v, &a))
				printf("published seq %llu id %.*s\n",
				    (unsigned long long)seq, (int)v.len,
				    (const char *)v.ptr);
		}
		rc = 0;
	}
done:
	kx_buf_free(&body);
	kx_buf_free(&reply);
	kx_buf_free(&mp);
	return rc;
}

/* `log` against a running node; JSON lines, or a short form. */
static int
log_online(const char *dir, const char *ahex, int json)
{
	const void	*args[2] = { "log", ahex };
	size_t		 lens[2] = { 3, ahex ? strlen(ahex) : 0 };
	kx_buf_t	 reply, mp;
	kx_mp_val_t	 v;
	kx_mp_cur_t	 a;
	char		*line, *save = NULL, err[64];
	int		 rc = 1;

	kx_buf_init(&reply);
	kx_buf_init(&mp);
	if (kx_ctl_request("log", dir, args, lens, ahex ? 2 : 1, &reply) == 0) {
		rc = 0;
		if (json)
			fwrite(reply.data, 1, reply.len, stdout);
		else
			for (line = strtok_r((char *)reply.data, "\n", &save);
			    line != NULL; line = strtok_r(NULL, "\n", &save)) {
				kx_buf_reset(&mp);
				if (kx_json_to_mp(&mp, line, strlen(line), NULL,
				    err, sizeof(err)) == -1)
					continue;
				if (mp_field(&mp, "author", &v, &a))
					printf("%.16s ", (const char *)v.ptr);
				if (mp_field(&mp, "seq", &v, &a))
					printf("%6llu ",
					    (unsigned long long)v.u);
				if (mp_field(&mp, "type", &v, &a))
					printf("%-8.*s ", (int)v.len,
					    (const char *)v.ptr);
				if (mp_field(&mp, "status", &v, &a))
					printf("%.*s", (int)v.len,
					    (const char *)v.ptr);
				printf("\n");
			}
	}
	kx_buf_free(&reply);
	kx_buf_free(&mp);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char	*name;
		int		(*fn)(int, char **);
	} cmds[] = {
		{ "keygen", cmd_keygen },	{ "sign", cmd_sign },
		{ "verify", cmd_verify },	{ "import", cmd_import },
		{ "log", cmd_log },		{ "inspect", cmd_inspect },
		{ "fsck", cmd_fsck },		{ "status", cmd_status },
		{ "publish", cmd_publish },	{ "meter", kx_ctl_cmd_meter },
		{ "clear", kx_ctl_cmd_clear },	{ "settle", kx_ctl_cmd_settle },
		{ "ledger", cmd_ledger },
		{ "balance", kx_ctl_cmd_balance },	{ "pay", kx_ctl_cmd_pay },
		{ "history", kx_ctl_cmd_history },
		{ "listings", kx_ctl_cmd_listings },	{ "list", kx_ctl_cmd_list },
		{ "admit", kx_ctl_cmd_admit },	{ "revoke", kx_ctl_cmd_revoke },
		{ "members", kx_ctl_cmd_members },
		{ "bill", kx_ctl_cmd_bill },
		{ "consent", kx_ctl_cmd_consent },
		{ "disclosures", kx_ctl_cmd_disclosures },
		{ "disclose", kx_ctl_cmd_disclose },	{ "rekey", kx_ctl_cmd_rekey },
		{ "summary", kx_ctl_cmd_summary },
		{ "aggregate", kx_ctl_cmd_aggregate },
	};
	size_t	 i;

	if (sodium_init() < 0) {
		fprintf(stderr, "kaga-ctl: libsodium failed to start\n");
		return 1;
	}
	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage();
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "kaga-ctl: unknown command '%s'\n", argv[1]);
	usage();
	return EXIT_USAGE;
}
