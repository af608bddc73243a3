/*
 * ctl_privacy.c - the privacy commands of kaga-ctl, see ctl_privacy.h.
 *
 * All but rekey ask the running node over its control socket (the node
 * holds the data key and the privacy environment); replies are the JSON
 * of docs/privacy.md, printed as is with --json or as aligned text.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "ctl_privacy.h"
#include "ctlclient.h"
#include "ctlutil.h"
#include "datakey.h"
#include "json.h"
#include "mp.h"
#include "privacy.h"

#define EXIT_USAGE	2
#define PAYLOAD_MAX	(1 << 20)	/* bytes of a disclosed file */
#define CALL_MS		30000


/* ---- reading the JSON replies ----------------------------------------- */

/* The value of key in the map whose header is m (elements from e). */
static bool
get(const kx_mp_val_t *m, kx_mp_cur_t e, const char *key, kx_mp_val_t *v)
{
	kx_mp_cur_t	 after;

	return m->kind == KX_MP_MAP && kx_mp_map_get(m, e, key, v, &after) == 1;
}

static void
get_str(const kx_mp_val_t *m, kx_mp_cur_t e, const char *key, char *out,
    size_t len)
{
	kx_mp_val_t	 v;

	if (get(m, e, key, &v) && v.kind == KX_MP_STR)
		snprintf(out, len, "%.*s", (int)v.len, (const char *)v.ptr);
	else if (get(m, e, key, &v) && v.kind == KX_MP_UINT)
		snprintf(out, len, "%" PRIu64, v.u);
	else
		snprintf(out, len, "-");
}

/* An integer field, or def when absent or null. */
static int64_t
get_int(const kx_mp_val_t *m, kx_mp_cur_t e, const char *key, int64_t def)
{
	kx_mp_val_t	 v;

	if (!get(m, e, key, &v))
		return def;
	if (v.kind == KX_MP_UINT)
		return (int64_t)v.u;
	if (v.kind == KX_MP_NINT)
		return v.i;
	return def;
}

static void
fmt_time(char *out, size_t len, int64_t ms)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms / 1000);

	if (ms < 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%" PRId64, ms);
}

/*
 * Calls fn for each element (a map) of the array under key in the top
 * map of the msgpack in mp. Returns the count, or -1.
 */
static long
each(const kx_buf_t *mp, const char *key,
    void (*fn)(void *, const kx_mp_val_t *, kx_mp_cur_t), void *arg)
{
	kx_mp_cur_t	 c, after, start;
	kx_mp_val_t	 top, arr, el;
	uint32_t	 i;

	kx_mp_cur_init(&c, mp->data, mp->len);
	if (kx_mp_read(&c, &top) != KX_MP_OK || top.kind != KX_MP_MAP ||
	    kx_mp_map_get(&top, c, key, &arr, &after) != 1 ||
	    arr.kind != KX_MP_ARRAY)
		return -1;
	c = after;
	for (i = 0; i < arr.len; i++) {
		start = c;
		if (kx_mp_read(&c, &el) != KX_MP_OK)
			return -1;
		if (el.kind == KX_MP_MAP && fn != NULL)
			fn(arg, &el, c);
		c = start;
		if (kx_mp_skip(&c, 8) != KX_MP_OK)
			return -1;
	}
	return (long)arr.len;
}

/* ---- consent ----------------------------------------------------------- */

static void
print_grant(void *arg, const kx_mp_val_t *m, kx_mp_cur_t e)
{
	char	 cat[80], pur[80], rcp[80], g[32], r[32];
	int64_t	 rev = get_int(m, e, "revoked_ms", -1);

	(void)arg;
	get_str(m, e, "category", cat, sizeof(cat));
	get_str(m, e, "purpose", pur, sizeof(pur));
	get_str(m, e, "recipient", rcp, sizeof(rcp));
	fmt_time(g, sizeof(g), get_int(m, e, "granted_ms", -1));
	if (rev >= 0)
		fmt_time(r, sizeof(r), rev);
	printf("%4" PRId64 "  %-7s  %-12s  %-15s  %-20s  %-20s  %s\n",
	    get_int(m, e, "id", 0), rev >= 0 ? "revoked" : "active", cat, pur,
	    g, rev >= 0 ? r : "-", rcp);
}

/* Lowercases a key given in uppercase hex (the register's spelling). */
static void
norm_recipient(char *r)
{
	size_t	 i, n = strlen(r);

	if (n != 64)
		return;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)r[i]))
			return;
	for (i = 0; i < n; i++)
		r[i] = (char)tolower((unsigned char)r[i]);
}

static int
check_names(const char *cmd, const char *cat, const char *pur,
    const char *rcp)
{
	if (cat == NULL || pur == NULL || rcp == NULL) {
		kx_ctl_err(cmd, "--category, --purpose and --recipient are "
		    "needed");
		return -1;
	}
	if (!kx_privacy_category_ok(cat)) {
		kx_ctl_err(cmd, "--category: one of meter-detail, slot-totals, "
		    "health, volunteer");
		return -1;
	}
	if (!kx_privacy_purpose_ok(pur)) {
		kx_ctl_err(cmd, "--purpose: one of settlement, city-statistics, "
		    "research, third-party");
		return -1;
	}
	if (!kx_privacy_recipient_ok(rcp)) {
		kx_ctl_err(cmd, "--recipient: a key (64 hex digits), operator, "
		    "city, or a name of 1 to 64 letters, digits, spaces, "
		    "'.', '_', '-'");
		return -1;
	}
	return 0;
}

int
kx_ctl_cmd_consent(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "category", required_argument, NULL, 'c' },
		{ "purpose", required_argument, NULL, 'p' },
		{ "recipient", required_argument, NULL, 'r' },
		{ "id", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	static const char usage[] = "usage: kaga-ctl consent list|export "
	    "[--node DIR] [--json]\n"
	    "       kaga-ctl consent grant --category C --purpose P "
	    "--recipient R [--node DIR] [--json]\n"
	    "       kaga-ctl consent revoke --id N [--node DIR] [--json]";
	const char	*dir = kx_ctl_node(NULL), *sub, *cat = NULL, *pur = NULL;
	const char	*id = NULL;
	const void	*args[5];
	size_t		 lens[5], n, i;
	char		 rcp[KX_PV_NAME_MAX + 2] = "", err[128];
	bool		 have_rcp = false;
	kx_buf_t	 reply, mp;
	int		 ch, json = 0, rc = 1;

	if (argc < 2) {
		kx_ctl_err("consent", "%s", usage);
		return EXIT_USAGE;
	}
	sub = argv[1];
	while ((ch = getopt_long(argc - 1, argv + 1, "N:jc:p:r:i:", opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'j': json = 1; break;
		case 'c': cat = optarg; break;
		case 'p': pur = optarg; break;
		case 'r':
			snprintf(rcp, sizeof(rcp), "%s", optarg);
			have_rcp = true;
			break;
		case 'i': id = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	/* `consent revoke N` works as well as --id N */
	if (strcmp(sub, "revoke") == 0 && id == NULL && optind + 1 == argc - 1)
		id = argv[1 + optind++];
	if (optind != argc - 1) {
		kx_ctl_err("consent", "%s", usage);
		return EXIT_USAGE;
	}
	args[0] = "consent";
	args[1] = sub;
	n = 2;
	if (strcmp(sub, "list") == 0 || strcmp(sub, "export") == 0) {
		if (cat || pur || have_rcp || id) {
			kx_ctl_err("consent", "%s", usage);
			return EXIT_USAGE;
		}
		json |= strcmp(sub, "export") == 0;
	} else if (strcmp(sub, "grant") == 0) {
		norm_recipient(rcp);
		if (id != NULL || check_names("consent", cat, pur,
		    have_rcp ? rcp : NULL) == -1)
			return EXIT_USAGE;
		args[2] = cat;
		args[3] = pur;
		args[4] = rcp;
		n = 5;
	} else if (strcmp(sub, "revoke") == 0) {
		if (id == NULL || id[0] < '1' || id[0] > '9' ||
		    strspn(id, "0123456789") != strlen(id) ||
		    strlen(id) > 19 || cat || pur || have_rcp) {
			kx_ctl_err("consent", "revoke: --id N, the grant's id "
			    "(kaga-ctl consent list)");
			return EXIT_USAGE;
		}
		args[2] = id;
		n = 3;
	} else {
		kx_ctl_err("consent", "unknown subcommand '%s'\n%s", sub,
		    usage);
		return EXIT_USAGE;
	}
	for (i = 0; i < n; i++)
		lens[i] = strlen(args[i]);
	kx_buf_init(&reply);
	kx_buf_init(&mp);
	if (kx_ctl_request("consent", dir, args, lens, n, &reply) == -1)
		goto done;
	rc = 0;
	if (json) {
		printf("%s\n", (const char *)reply.data);
		goto done;
	}
	if (kx_json_to_mp(&mp, (const char *)reply.data, reply.len, NULL,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "kaga-ctl consent: bad reply: %s\n", err);
		rc = 1;
		goto done;
	}
	if (strcmp(sub, "list") == 0) {
		printf("%4s  %-7s  %-12s  %-15s  %-20s  %-20s  %s\n", "ID",
		    "STATE", "CATEGORY", "PURPOSE", "GRANTED", "REVOKED",
		    "RECIPIENT");
		if (each(&mp, "grants", print_grant, NULL) < 0)
			rc = 1;
	} else {
		kx_mp_cur_t	 c;
		kx_mp_val_t	 top;

		kx_mp_cur_init(&c, mp.data, mp.len);
		if (kx_mp_read(&c, &top) != KX_MP_OK) {
			rc = 1;
			goto done;
		}
		if (strcmp(sub, "grant") == 0)
			printf("grant %" PRId64 ": %s for %s to %s\n",
			    get_int(&top, c, "id", 0), cat, pur, rcp);
		else
			printf("grant %s revoked (event %" PRId64 ")\n", id,
			    get_int(&top, c, "id", 0));
	}
done:
	kx_buf_free(&reply);
	kx_buf_free(&mp);
	return rc;
}

/* ---- disclosures ------------------------------------------------------- */

static void
print_entry(void *arg, const kx_mp_val_t *m, kx_mp_cur_t e)
{
	char	 cat[80], pur[80], rcp[80], con[40], pay[80], t[32];

	(void)arg;
	get_str(m, e, "category", cat, sizeof(cat));
	get_str(m, e, "purpose", pur, sizeof(pur));
	get_str(m, e, "recipient", rcp, sizeof(rcp));
	get_str(m, e, "consent", con, sizeof(con));
	get_str(m, e, "payload", pay, sizeof(pay));
	fmt_time(t, sizeof(t), get_int(m, e, "time_ms", -1));
	printf("%6" PRId64 "  %-20s  %-12s  %-15s  %-17s  %.16s  %s\n",
	    get_int(m, e, "seq", 0), t, cat, pur, con, pay, rcp);
}

static void
print_problem(void *arg, const kx_mp_val_t *m, kx_mp_cur_t e)
{
	char	 in[16], text[300];
	int64_t	 seq = get_int(m, e, "seq", get_int(m, e, "id", 0));

	(void)arg;
	get_str(m, e, "in", in, sizeof(in));
	get_str(m, e, "problem", text, sizeof(text));
	if (seq > 0)
		printf("problem: %s %s %" PRId64 ": %s\n", in,
		    strcmp(in, "chain") == 0 ? "entry" : "event", seq, text);
	else
		printf("problem: %s: %s\n", in, text);
}

int
kx_ctl_cmd_disclosures(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "verify", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	const void	*args[2] = { "disclosures", "verify" };
	size_t		 lens[2] = { 11, 6 };
	const char	*dir = kx_ctl_node(NULL);
	kx_buf_t	 reply, mp;
	char		 err[128];
	long		 ne, np = 0;
	int		 ch, json = 0, verify = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "N:jv", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'j': json = 1; break;
		case 'v': verify = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		kx_ctl_err("disclosures", "usage: kaga-ctl disclosures "
		    "[--node DIR] [--verify] [--json]");
		return EXIT_USAGE;
	}
	kx_buf_init(&reply);
	kx_buf_init(&mp);
	if (kx_ctl_request("disclosures", dir, args, lens, verify ? 2 : 1, &reply) ==
	    -1)
		goto done;
	if (kx_json_to_mp(&mp, (const char *)reply.data, reply.len, NULL,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "kaga-ctl disclosures: bad reply: %s\n", err);
		goto done;
	}
	if (json) {
		printf("%s\n", (const char *)reply.data);
		ne = 0;
		if (verify)
			np = each(&mp, "problems", NULL, NULL);
	} else {
		printf("%6s  %-20s  %-12s  %-15s  %-17s  %-16s  %s\n", "SEQ",
		    "TIME", "CATEGORY", "PURPOSE", "CONSENT", "PAYLOAD",
		    "RECIPIENT");
		ne = each(&mp, "entries", print_entry, NULL);
		if (verify) {
			np = each(&mp, "problems", print_problem, NULL);
			printf("disclosures: %ld entr%s, %ld problem%s\n", ne,
			    ne == 1 ? "y" : "ies", np, np == 1 ? "" : "s");
		}
	}
	rc = ne < 0 || np != 0 ? 1 : 0;
done:
	kx_buf_free(&reply);
	kx_buf_free(&mp);
	return rc;
}

/* ---- disclose ---------------------------------------------------------- */

static int
read_file(const char *path, kx_buf_t *b)
{
	FILE	*f;
	char	 chunk[8192];
	size_t	 n;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "kaga-ctl disclose: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b->len + n > PAYLOAD_MAX || kx_buf_append(b, chunk, n)) {
			fprintf(stderr, "kaga-ctl disclose: %s: larger than "
			    "%d bytes\n", path, PAYLOAD_MAX);
			fclose(f);
			return -1;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "kaga-ctl disclose: %s: read error\n", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

int
kx_ctl_cmd_disclose(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "category", required_argument, NULL, 'c' },
		{ "purpose", required_argument, NULL, 'p' },
		{ "recipient", required_argument, NULL, 'r' },
		{ "file", required_argument, NULL, 'f' },
		{ "data", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = kx_ctl_node(NULL), *cat = NULL, *pur = NULL;
	const char	*file = NULL, *data = NULL;
	const void	*args[5];
	size_t		 lens[5], i;
	char		 rcp[KX_PV_NAME_MAX + 2] = "", err[128];
	bool		 have_rcp = false;
	kx_buf_t	 payload, reply, mp;
	int		 ch, json = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "N:jc:p:r:f:d:", opts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'j': json = 1; break;
		case 'c': cat = optarg; break;
		case 'p': pur = optarg; break;
		case 'r':
			snprintf(rcp, sizeof(rcp), "%s", optarg);
			have_rcp = true;
			break;
		case 'f': file = optarg; break;
		case 'd': data = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc || (file == NULL) == (data == NULL)) {
		kx_ctl_err("disclose", "usage: kaga-ctl disclose --category C "
		    "--purpose P --recipient R --file F|--data TEXT "
		    "[--node DIR] [--json]");
		return EXIT_USAGE;
	}
	norm_recipient(rcp);
	if (check_names("disclose", cat, pur, have_rcp ? rcp : NULL) == -1)
		return EXIT_USAGE;
	kx_buf_init(&payload);
	kx_buf_init(&reply);
	kx_buf_init(&mp);
	if (file != NULL && read_file(file, &payload) == -1)
		goto done;
	if (data != NULL && kx_buf_puts(&payload, data) == -1)
		goto done;
	args[0] = "disclose";
	args[1] = cat;
	args[2] = pur;
	args[3] = rcp;
	for (i = 0; i < 4; i++)
		lens[i] = strlen(args[i]);
	args[4] = payload.data != NULL ? (const void *)payload.data : "";
	lens[4] = payload.len;
	if (kx_ctl_request("disclose", dir, args, lens, 5, &reply) == -1)
		goto done;
	rc = 0;
	if (json)
		printf("%s\n", (const char *)reply.data);
	else if (kx_json_to_mp(&mp, (const char *)reply.data, reply.len, NULL,
	    err, sizeof(err)) == 0) {
		kx_mp_cur_t	 c;
		kx_mp_val_t	 top;

		kx_mp_cur_init(&c, mp.data, mp.len);
		if (kx_mp_read(&c, &top) == KX_MP_OK)
			printf("disclosure %" PRId64 " recorded: %s for %s to "
			    "%s\n", get_int(&top, c, "seq", 0), cat, pur, rcp);
	}
done:
	kx_buf_free(&payload);
	kx_buf_free(&reply);
	kx_buf_free(&mp);
	return rc;
}

/* ---- rekey ------------------------------------------------------------- */

int
kx_ctl_cmd_rekey(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	kx_rekey_stats_t st;
	const char	*dir = NULL;
	char		 err[600];
	int		 ch;

	while ((ch = getopt_long(argc, argv, "D:", opts, NULL)) != -1) {
		switch (ch) {
		case 'D': dir = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (dir == NULL || optind != argc) {
		kx_ctl_err("rekey", "usage: kaga-ctl rekey --data-dir DIR "
		    "(with kaga-node stopped)");
		return EXIT_USAGE;
	}
	if (kx_datakey_rekey(dir, &st, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaga-ctl rekey: %s\n", err);
		return 1;
	}
	printf("rekeyed %s: data key %02x -> %02x, %" PRIu64 " values sealed "
	    "again, %" PRIu64 " already under the new key, %" PRIu64
	    " unreadable left as they were\n", dir, st.old_id, st.new_id,
	    st.resealed, st.already, st.unreadable);
	return 0;
}
