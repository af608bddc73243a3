/*
 * ctl_summary.c - `kaga-ctl summary [--node DIR] [--day YYYY-MM-DD]
 * [--csv|--ngsi]` and `kaga-ctl aggregate --input FILE [--epsilon E]
 * [--csv|--ngsi]`, see ctl_summary.h and docs/aggregates.md.
 *
 * `summary` asks the node's control socket for the newest summary of a
 * day (request "summary" [day], node/sumd.c), a JSON array of the parts'
 * bodies; each part is read with kx_summary_add_body, so what is printed
 * went through the same strict reader whatever published it.
 * `aggregate` runs community/summary.c on a file: the offline twin of
 * what an operator node publishes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ctl_summary.h"
#include "ctlclient.h"
#include "ctlutil.h"
#include "json.h"
#include "mp.h"
#include "summary.h"

#define EXIT_FAIL	1
#define EXIT_USAGE	2
#define FILE_MAX	((size_t)1 << 30)

enum { OUT_JSON, OUT_CSV, OUT_NGSI };


/* Prints s in the format asked: JSON is one body per day, one a line. */
static int
print(const char *cmd, const kx_summary_t *s, int fmt)
{
	kx_buf_t	 out;
	size_t		 i;
	int		 rc = 0;

	kx_buf_init(&out);
	if (fmt == OUT_CSV)
		rc = kx_summary_csv(&out, s);
	else if (fmt == OUT_NGSI)
		rc = kx_summary_ngsi(&out, s);
	else
		for (i = 0; i < s->ncells && rc == 0; i++)
			if (i == 0 || s->cells[i].day != s->cells[i - 1].day) {
				rc = kx_summary_json_day(&out, s,
				    s->cells[i].day);
				kx_buf_putc(&out, '\n');
			}
	if (rc == -1 || out.oom) {
		kx_ctl_err(cmd, "out of memory");
		kx_buf_free(&out);
		return EXIT_FAIL;
	}
	if ((out.len > 0 && fwrite(out.data, 1, out.len, stdout) != out.len) ||
	    fflush(stdout) != 0) {
		kx_ctl_err(cmd, "stdout: %s", strerror(errno));
		rc = EXIT_FAIL;
	}
	kx_buf_free(&out);
	return rc;
}

/* --csv / --ngsi given twice or together: -1. */
static int
set_fmt(int *fmt, int f)
{
	if (*fmt != OUT_JSON && *fmt != f)
		return -1;
	*fmt = f;
	return 0;
}

/* "1", "0.5", "0.125": epsilon in thousandths, exactly. 0 or -1. */
static int
parse_eps(const char *s, uint64_t *milli)
{
	uint64_t	 v = 0;
	int		 frac = -1;

	if (*s == '\0' || *s == '.')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || frac == 3 || v > KX_SUM_EPS_MAX)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (frac >= 0)
			frac++;
	}
	if (frac == 0)
		return -1;		/* "1." */
	for (frac = frac < 0 ? 0 : frac; frac < 3; frac++)
		v *= 10;
	if (v > KX_SUM_EPS_MAX)
		return -1;
	*milli = v;
	return 0;
}

/* ---- aggregate ---------------------------------------------------------- */

int
kx_ctl_cmd_aggregate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "epsilon", required_argument, NULL, 'e' },
		{ "csv", no_argument, NULL, 'c' },
		{ "ngsi", no_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*cmd = "aggregate", *path = NULL;
	kx_sum_params_t	 p;
	kx_sum_input_t	*in = NULL;
	kx_summary_t	*s = NULL;
	kx_buf_t	 text;
	size_t		 n = 0;
	char		 err[512];
	int		 ch, fmt = OUT_JSON, bad = 0, rc;

	kx_sum_params_default(&p);
	optind = 0;	/* glibc: full reinitialisation, callable again */
	while ((ch = getopt_long(argc, argv, "i:e:", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': path = optarg; break;
		case 'e':
			if (parse_eps(optarg, &p.eps_milli) == -1) {
				kx_ctl_err(cmd, "--epsilon: a decimal number, 0 to "
				    "1000, at most 3 decimals (0: no noise)");
				return EXIT_USAGE;
			}
			break;
		case 'c': bad |= set_fmt(&fmt, OUT_CSV); break;
		case 'g': bad |= set_fmt(&fmt, OUT_NGSI); break;
		default: bad = 1; break;
		}
	}
	if (bad || path == NULL || optind != argc) {
		kx_ctl_err(cmd, "usage: kaga-ctl aggregate --input FILE "
		    "[--epsilon E] [--csv|--ngsi]");
		return EXIT_USAGE;
	}
	kx_buf_init(&text);
	if (kx_ctl_slurp(path, FILE_MAX, &text) == -1) {
		kx_ctl_err(cmd, "%s: %s", path, strerror(errno));
		kx_buf_free(&text);
		return EXIT_FAIL;
	}
	rc = kx_sum_inputs_parse(&in, &n, text.len ? (const char *)text.data :
	    "", text.len, err, sizeof(err));
	kx_buf_free(&text);
	if (rc == KX_SUM_OK)
		rc = kx_summary_build(&s, in, n, &p, err, sizeof(err));
	free(in);
	if (rc != KX_SUM_OK) {
		if (rc == KX_SUM_ENOMEM)
			snprintf(err, sizeof(err), "out of memory");
		kx_ctl_err(cmd, "%s: %s", path, err);
		return rc == KX_SUM_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
	}
	rc = print(cmd, s, fmt);
	kx_summary_free(&s);
	return rc;
}

/* ---- summary ------------------------------------------------------------ */

/* The reply, a JSON array of bodies, into s. */
static int
read_reply(const char *cmd, const kx_buf_t *reply, kx_summary_t *s)
{
	kx_buf_t	 mp;
	kx_mp_cur_t	 c;
	kx_mp_val_t	 arr;
	const uint8_t	*start;
	char		 err[256];
	uint32_t	 i;
	int		 rc = EXIT_FAIL;

	kx_buf_init(&mp);
	if (kx_json_to_mp(&mp, reply->len ? (const char *)reply->data : "",
	    reply->len, NULL, err, sizeof(err)) == -1) {
		kx_ctl_err(cmd, "the node's reply: %s", err);
		goto out;
	}
	kx_mp_cur_init(&c, mp.data, mp.len);
	if (kx_mp_read(&c, &arr) != KX_MP_OK || arr.kind != KX_MP_ARRAY) {
		kx_ctl_err(cmd, "the node's reply: not an array");
		goto out;
	}
	for (i = 0; i < arr.len; i++) {
		start = c.p;
		if (kx_mp_skip(&c, KX_MP_MAX_DEPTH) != KX_MP_OK ||
		    kx_summary_add_body(s, start, (size_t)(c.p - start), err,
		    sizeof(err)) != KX_SUM_OK) {
			kx_ctl_err(cmd, "summary part %u: %s", i + 1, err);
			goto out;
		}
	}
	rc = arr.len == 0 ? -1 : 0;
out:
	kx_buf_free(&mp);
	return rc;
}

int
kx_ctl_cmd_summary(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "day", required_argument, NULL, 'd' },
		{ "csv", no_argument, NULL, 'c' },
		{ "ngsi", no_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*cmd = "summary", *dir = kx_ctl_node(NULL), *day = NULL;
	const void	*args[2] = { "summary", NULL };
	size_t		 lens[2] = { 7, 0 };
	kx_summary_t	*s = NULL;
	kx_buf_t	 reply;
	int32_t		 d;
	char		 err[512];
	bool		 ok = false;
	int		 ch, fmt = OUT_JSON, bad = 0, rc = EXIT_FAIL;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "N:d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': dir = optarg; break;
		case 'd': day = optarg; break;
		case 'c': bad |= set_fmt(&fmt, OUT_CSV); break;
		case 'g': bad |= set_fmt(&fmt, OUT_NGSI); break;
		default: bad = 1; break;
		}
	}
	if (bad || optind != argc) {
		kx_ctl_err(cmd, "usage: kaga-ctl summary [--node DIR] "
		    "[--day YYYY-MM-DD] [--csv|--ngsi]");
		return EXIT_USAGE;
	}
	if (day != NULL && kx_sum_day_parse(day, strlen(day), &d) == -1) {
		kx_ctl_err(cmd, "--day: a date, YYYY-MM-DD");
		return EXIT_USAGE;
	}
	if (day != NULL) {
		args[1] = day;
		lens[1] = strlen(day);
	}
	kx_buf_init(&reply);
	if (kx_ctl_call(dir, args, lens, day ? 2 : 1, 30000, &ok, &reply, err,
	    sizeof(err)) == -1) {
		kx_ctl_err(cmd, "%s", err);
		goto out;
	}
	if (!ok) {
		kx_ctl_err(cmd, "the node refused: %.*s", (int)reply.len,
		    reply.data ? (const char *)reply.data : "");
		goto out;
	}
	if ((s = kx_summary_new()) == NULL) {
		kx_ctl_err(cmd, "out of memory");
		goto out;
	}
	if ((rc = read_reply(cmd, &reply, s)) == -1) {
		kx_ctl_err(cmd, "no summary%s%s in the node's store",
		    day ? " for " : "", day ? day : "");
		rc = EXIT_FAIL;
		goto out;
	}
	if (rc == 0)
		rc = print(cmd, s, fmt);
out:
	kx_summary_free(&s);
	kx_buf_free(&reply);
	return rc;
}
