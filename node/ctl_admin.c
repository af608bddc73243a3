/*
 * ctl_admin.c - the operator's admission commands of kaga-ctl, against a
 * running operator node (docs/kaga-ctl.md "admit, revoke"):
 *
 *   kaga-ctl admit --roster FILE [--revoke-missing] [--dry-run] [--node D]
 *   kaga-ctl admit --key HEX --role R [--name N] [--area A]
 *                  [--endpoint E] [--until MS] [--cap N] [--node D]
 *   kaga-ctl revoke --key HEX [--reason TEXT] [--node D]
 *   kaga-ctl members [--node D] [--json]
 *
 * A roster file has one member a line: KEY ROLE NAME AREA [ENDPOINT]
 * [until=MS] [cap=N]; `#` comments, "double quotes" around blanks. The
 * whole file is checked before anything is published; an error names
 * FILE:LINE and exits 2. A member already admitted with the same role,
 * until and endpoint is left alone; name and area are not kept by the
 * node's member index, so a change of only those needs --key.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "body.h"
#include "buf.h"
#include "ctl_admin.h"
#include "ctlclient.h"
#include "ctlutil.h"
#include "envelope.h"
#include "json.h"

#define EXIT_USAGE	2
#define ROSTER_MAX	100000
#define LINE_MAX_LEN	1024

typedef kx_roster_entry_t entry_t;

/* JSON string body of s (printable ASCII and UTF-8 kept, " \ escaped). */
static void
jstr(kx_buf_t *b, const char *s)
{
	kx_buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			kx_buf_putc(b, '\\');
		kx_buf_putc(b, *s);
	}
	kx_buf_putc(b, '"');
}

static int
publish(const char *dir, const char *type, const kx_buf_t *json)
{
	kx_buf_t	 body, reply;
	char		 err[256];
	const void	*args[3];
	size_t		 lens[3];
	int		 r = -1;

	kx_buf_init(&body);
	kx_buf_init(&reply);
	if (json->oom || kx_json_to_mp(&body, (const char *)json->data,
	    json->len, kx_body_bin_paths(type), err, sizeof(err)) == -1) {
		fprintf(stderr, "kaga-ctl %s: %s\n", type, json->oom ?
		    "out of memory" : err);
		goto out;
	}
	args[0] = "publish";
	lens[0] = 7;
	args[1] = type;
	lens[1] = strlen(type);
	args[2] = body.data;
	lens[2] = body.len;
	r = kx_ctl_request(type, dir, args, lens, 3, &reply);
out:
	kx_buf_free(&body);
	kx_buf_free(&reply);
	return r;
}

static void
member_json(kx_buf_t *j, const entry_t *e)
{
	kx_buf_printf(j, "{\"node\":\"%s\",\"role\":\"%s\",\"name\":", e->key,
	    e->role);
	jstr(j, e->name);
	kx_buf_puts(j, ",\"area\":");
	jstr(j, e->area);
	if (e->endpoint[0] != '\0') {
		kx_buf_puts(j, ",\"endpoint\":");
		jstr(j, e->endpoint);
	}
	kx_buf_printf(j, ",\"until\":%lld", e->until);
	if (strcmp(e->role, "issuer") == 0)
		kx_buf_printf(j, ",\"cap\":%lld", e->cap);
	kx_buf_putc(j, '}');
}

/* Checks one entry as the protocol will (section 5.1); 0 or -1 + why. */
static int
entry_check(const entry_t *e, char *why, size_t len)
{
	uint8_t	 pk[KX_PK_LEN];

	if (kx_unhex(pk, KX_PK_LEN, e->key) == -1) {
		snprintf(why, len, "key: not 64 lowercase hex digits");
		return -1;
	}
	if (kx_role_of(e->role, strlen(e->role)) == KX_ROLE_NONE) {
		snprintf(why, len, "role \"%s\": not household, ryokan, farm, "
		    "business, operator, issuer, merchant or city", e->role);
		return -1;
	}
	if (strcmp(e->role, "issuer") == 0 && e->cap < 0) {
		snprintf(why, len, "an issuer needs cap=N (points per fiscal "
		    "year)");
		return -1;
	}
	if (e->until < 0) {
		snprintf(why, len, "until: must be >= 0 (0 = no end)");
		return -1;
	}
	return 0;
}

/* Splits a roster line into at most 8 tokens; -1 on a bad quote. */
static int
split(char *s, char **tok, int max, int *n)
{
	char	*o;

	*n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == '\0' || *s == '#')
			return 0;
		if (*n == max)
			return -1;
		if (*s == '"') {
			tok[(*n)++] = o = ++s;
			while (*s != '"') {
				if (*s == '\0')
					return -1;
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				*o++ = *s++;
			}
			s++;
			*o = '\0';
			if (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r')
				return -1;
			if (*s != '\0')
				s++;
			continue;
		}
		tok[(*n)++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r')
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
}

static int
copy_field(char *dst, size_t cap, const char *src, const char *what,
    char *why, size_t len)
{
	if (strlen(src) >= cap) {
		snprintf(why, len, "%s: longer than %zu bytes", what, cap - 1);
		return -1;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int
num(const char *s, long long *v)
{
	char	*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return *end != '\0' || errno != 0 ? -1 : 0;
}

int
kx_roster_parse(const char *name, const char *text, size_t len,
    kx_roster_t *out, char *err, size_t errlen)
{
	char		 line[LINE_MAX_LEN + 1], why[256], *tok[8];
	entry_t		*v = NULL, *nv, e;
	const char	*p = text, *end = text + len, *nl;
	size_t		 cap = 0, ln = 0, i, k, n = 0;
	int		 nt, t;

	out->v = NULL;
	out->n = 0;
	while (p < end) {
		ln++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		k = (size_t)(nl - p);
		p = nl < end ? nl + 1 : end;
		if (k > LINE_MAX_LEN) {
			snprintf(why, sizeof(why), "line longer than %d bytes",
			    LINE_MAX_LEN);
			goto bad;
		}
		memcpy(line, nl - k, k);
		line[k] = '\0';
		for (i = 0; i < k; i++)
			if (((unsigned char)line[i] < 0x20 && line[i] != '\t' &&
			    line[i] != '\r') || line[i] == 0x7f) {
				snprintf(why, sizeof(why), "control character");
				goto bad;
			}
		if (split(line, tok, 8, &nt) == -1) {
			snprintf(why, sizeof(why), "bad quotes or more than 7 "
			    "fields");
			goto bad;
		}
		if (nt == 0)
			continue;
		if (nt < 4) {
			snprintf(why, sizeof(why), "want KEY ROLE NAME AREA "
			    "[ENDPOINT] [until=MS] [cap=N]");
			goto bad;
		}
		memset(&e, 0, sizeof(e));
		e.cap = -1;
		e.line = ln;
		if (copy_field(e.key, sizeof(e.key), tok[0], "key", why,
		    sizeof(why)) == -1 || copy_field(e.role, sizeof(e.role),
		    tok[1], "role", why, sizeof(why)) == -1 ||
		    copy_field(e.name, sizeof(e.name), tok[2], "name", why,
		    sizeof(why)) == -1 || copy_field(e.area, sizeof(e.area),
		    tok[3], "area", why, sizeof(why)) == -1)
			goto bad;
		for (t = 4; t < nt; t++) {
			if (strncmp(tok[t], "until=", 6) == 0) {
				if (num(tok[t] + 6, &e.until) == -1) {
					snprintf(why, sizeof(why), "until: not "
					    "a number");
					goto bad;
				}
			} else if (strncmp(tok[t], "cap=", 4) == 0) {
				if (num(tok[t] + 4, &e.cap) == -1 ||
				    e.cap > UINT32_MAX) {
					snprintf(why, sizeof(why), "cap: not a "
					    "number up to %u", UINT32_MAX);
					goto bad;
				}
			} else if (t == 4 && (strncmp(tok[t], "tcp://", 6) == 0 ||
			    strncmp(tok[t], "ipc://", 6) == 0)) {
				if (copy_field(e.endpoint, sizeof(e.endpoint),
				    tok[t], "endpoint", why, sizeof(why)) == -1)
					goto bad;
			} else {
				snprintf(why, sizeof(why), "unknown field "
				    "\"%.40s\"", tok[t]);
				goto bad;
			}
		}
		if (entry_check(&e, why, sizeof(why)) == -1)
			goto bad;
		for (i = 0; i < n; i++)
			if (strcmp(v[i].key, e.key) == 0) {
				snprintf(why, sizeof(why), "key given twice "
				    "(first on line %zu)", v[i].line);
				goto bad;
			}
		if (n == ROSTER_MAX) {
			snprintf(why, sizeof(why), "more than %d members",
			    ROSTER_MAX);
			goto bad;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				snprintf(why, sizeof(why), "out of memory");
				goto bad;
			}
			v = nv;
		}
		v[n++] = e;
	}
	out->v = v;
	out->n = n;
	return 0;
bad:
	snprintf(err, errlen, "%s:%zu: %s", name, ln, why);
	free(v);
	return -1;
}

void
kx_roster_free(kx_roster_t *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* Reads and checks the whole roster file. 0, or -1 (printed). */
static int
roster_read(const char *path, kx_roster_t *r)
{
	FILE	*f;
	char	*text, err[512];
	size_t	 len;
	int	 rc;

	r->v = NULL;
	r->n = 0;
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "kaga-ctl admit: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if ((text = malloc(KX_ROSTER_FILE_MAX + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	len = fread(text, 1, KX_ROSTER_FILE_MAX + 1, f);
	if (ferror(f) || len > KX_ROSTER_FILE_MAX) {
		fprintf(stderr, "kaga-ctl admit: %s: %s\n", path, ferror(f) ?
		    "read error" : "larger than the limit");
		fclose(f);
		free(text);
		return -1;
	}
	fclose(f);
	rc = kx_roster_parse(path, text, len, r, err, sizeof(err));
	if (rc == -1)
		fprintf(stderr, "kaga-ctl admit: %s\n", err);
	free(text);
	return rc;
}

/* Whether members JSON holds key with this role, until and endpoint. */
static bool
same_member(const char *members, const entry_t *e)
{
	char		 pat[400];

	snprintf(pat, sizeof(pat), "{\"node\":\"%s\",\"role\":\"%s\","
	    "\"until\":%lld,\"endpoint\":\"%s\"}", e->key, e->role, e->until,
	    e->endpoint);
	return strstr(members, pat) != NULL;
}

int
kx_ctl_cmd_admit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "roster", required_argument, NULL, 'r' },
		{ "key", required_argument, NULL, 'k' },
		{ "role", required_argument, NULL, 'R' },
		{ "name", required_argument, NULL, 'n' },
		{ "area", required_argument, NULL, 'a' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "until", required_argument, NULL, 'u' },
		{ "cap", required_argument, NULL, 'c' },
		{ "revoke-missing", no_argument, NULL, 'M' },
		{ "dry-run", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = NULL, *roster = NULL;
	entry_t		 one, *v = NULL;
	kx_roster_t	 rs = { NULL, 0 };
	kx_buf_t	 members, j;
	const void	*args[1] = { "members" };
	size_t		 lens[1] = { 7 }, n = 0, i;
	char		 why[256];
	bool		 missing = false, dry = false, single = false;
	int		 ch, rc = 1, admitted = 0, same = 0, revoked = 0;

	memset(&one, 0, sizeof(one));
	one.cap = -1;
	snprintf(one.name, sizeof(one.name), "member");
	snprintf(one.area, sizeof(one.area), "Kaga");
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'r': roster = optarg; break;
		case 'M': missing = true; break;
		case 'D': dry = true; break;
		case 'k': single = true;
			if (copy_field(one.key, sizeof(one.key), optarg, "key",
			    why, sizeof(why)) == -1)
				goto usage_why;
			break;
		case 'R':
			if (copy_field(one.role, sizeof(one.role), optarg,
			    "role", why, sizeof(why)) == -1)
				goto usage_why;
			break;
		case 'n':
			if (copy_field(one.name, sizeof(one.name), optarg,
			    "name", why, sizeof(why)) == -1)
				goto usage_why;
			break;
		case 'a':
			if (copy_field(one.area, sizeof(one.area), optarg,
			    "area", why, sizeof(why)) == -1)
				goto usage_why;
			break;
		case 'e':
			if (copy_field(one.endpoint, sizeof(one.endpoint),
			    optarg, "endpoint", why, sizeof(why)) == -1)
				goto usage_why;
			break;
		case 'u':
			if (num(optarg, &one.until) == -1) {
				snprintf(why, sizeof(why), "--until: not a "
				    "number");
				goto usage_why;
			}
			break;
		case 'c':
			if (num(optarg, &one.cap) == -1) {
				snprintf(why, sizeof(why), "--cap: not a "
				    "number");
				goto usage_why;
			}
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc || (roster != NULL) == single ||
	    (single && (missing || one.role[0] == '\0'))) {
		fprintf(stderr, "usage: kaga-ctl admit --roster FILE "
		    "[--revoke-missing] [--dry-run] [--node DIR]\n"
		    "       kaga-ctl admit --key HEX --role ROLE [--name N] "
		    "[--area A] [--endpoint E] [--until MS] [--cap N] "
		    "[--node DIR]\n");
		return EXIT_USAGE;
	}
	if (single) {
		if (entry_check(&one, why, sizeof(why)) == -1)
			goto usage_why;
		v = &one;
		n = 1;
	} else {
		if (roster_read(roster, &rs) == -1)
			return EXIT_USAGE;
		v = rs.v;
		n = rs.n;
	}
	dir = kx_ctl_node(dir);
	kx_buf_init(&members);
	kx_buf_init(&j);
	if (kx_ctl_request("admit", dir, args, lens, 1, &members) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if (same_member((char *)members.data, &v[i])) {
			same++;
			continue;
		}
		printf("%s %s %s\n", dry ? "would admit" : "admit", v[i].key,
		    v[i].role);
		if (dry)
			continue;
		kx_buf_reset(&j);
		member_json(&j, &v[i]);
		if (publish(dir, "member", &j) == -1)
			goto out;
		admitted++;
	}
	if (missing) {
		/* every admitted node not in the roster, except operators */
		const char	*p = (char *)members.data;
		char		 key[2 * KX_PK_LEN + 1];

		while ((p = strstr(p, "{\"node\":\"")) != NULL) {
			p += 9;
			if (strlen(p) < 2 * KX_PK_LEN)
				break;
			memcpy(key, p, 2 * KX_PK_LEN);
			key[2 * KX_PK_LEN] = '\0';
			for (i = 0; i < n; i++)
				if (strcmp(v[i].key, key) == 0)
					break;
			if (i < n || strncmp(p + 2 * KX_PK_LEN + 10,
			    "operator\"", 9) == 0)
				continue;
			printf("%s %s\n", dry ? "would revoke" : "revoke", key);
			if (dry)
				continue;
			kx_buf_reset(&j);
			kx_buf_printf(&j, "{\"node\":\"%s\",\"reason\":\"not in "
			    "the roster\"}", key);
			if (publish(dir, "revoke", &j) == -1)
				goto out;
			revoked++;
		}
	}
	printf("%d admitted, %d unchanged, %d revoked\n", admitted, same,
	    revoked);
	rc = 0;
out:
	kx_buf_free(&members);
	kx_buf_free(&j);
	kx_roster_free(&rs);
	return rc;
usage_why:
	fprintf(stderr, "kaga-ctl admit: %s\n", why);
	return EXIT_USAGE;
}

int
kx_ctl_cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "key", required_argument, NULL, 'k' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = NULL, *key = NULL, *reason = "revoked";
	uint8_t		 pk[KX_PK_LEN];
	kx_buf_t	 j;
	int		 ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'k': key = optarg; break;
		case 'r': reason = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc || key == NULL) {
		fprintf(stderr, "usage: kaga-ctl revoke --key HEX [--reason "
		    "TEXT] [--node DIR]\n");
		return EXIT_USAGE;
	}
	if (kx_unhex(pk, KX_PK_LEN, key) == -1) {
		fprintf(stderr, "kaga-ctl revoke: --key: not 64 lowercase hex "
		    "digits\n");
		return EXIT_USAGE;
	}
	kx_buf_init(&j);
	kx_buf_printf(&j, "{\"node\":\"%s\",\"reason\":", key);
	jstr(&j, reason);
	kx_buf_putc(&j, '}');
	rc = publish(kx_ctl_node(dir), "revoke", &j) == 0 ? 0 : 1;
	if (rc == 0)
		printf("revoked %s\n", key);
	kx_buf_free(&j);
	return rc;
}

int
kx_ctl_cmd_members(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = NULL, *p;
	const void	*args[1] = { "members" };
	size_t		 lens[1] = { 7 };
	kx_buf_t	 r;
	int		 ch, json = 0, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'j': json = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: kaga-ctl members [--node DIR] "
		    "[--json]\n");
		return EXIT_USAGE;
	}
	kx_buf_init(&r);
	if (kx_ctl_request("members", kx_ctl_node(dir), args, lens, 1, &r) == 0) {
		if (json)
			printf("%s\n", (char *)r.data);
		else
			for (p = (char *)r.data; (p = strstr(p,
			    "{\"node\":\"")) != NULL; p++) {
				const char	*role = strstr(p, "\"role\":\"");

				if (role == NULL)
					break;
				printf("%.64s %.*s\n", p + 9,
				    (int)strcspn(role + 8, "\""), role + 8);
			}
		rc = 0;
	}
	kx_buf_free(&r);
	return rc;
}

int
kx_ctl_cmd_bill(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dir = NULL;
	const void	*args[3];
	size_t		 lens[3] = { 4, 8, 8 };
	uint8_t		 fb[8], tb[8];
	long long	 from = 0, to = 0;
	kx_buf_t	 r;
	int		 ch, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'f':
			if (num(optarg, &from) == -1)
				goto usage;
			break;
		case 't':
			if (num(optarg, &to) == -1)
				goto usage;
			break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc || to == 0 || from >= to)
		goto usage;
	kx_be64_put(fb, (uint64_t)from);
	kx_be64_put(tb, (uint64_t)to);
	args[0] = "bill";
	args[1] = fb;
	args[2] = tb;
	kx_buf_init(&r);
	if (kx_ctl_request("bill", kx_ctl_node(dir), args, lens, 3, &r) == 0) {
		printf("%s\n", (char *)r.data);
		rc = 0;
	}
	kx_buf_free(&r);
	return rc;
usage:
	fprintf(stderr, "usage: kaga-ctl bill --from SLOT --to SLOT "
	    "[--node DIR]   (unix seconds, from < to)\n");
	return EXIT_USAGE;
}
