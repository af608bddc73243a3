/*
 * fuzz_summary.c - libFuzzer target for the two readers of daily
 * aggregates (community/summary_out.c): the first byte picks one.
 *   'j'  the rest is `kaga-ctl aggregate` input (kx_sum_inputs_parse);
 *        records that parse are built (no noise), exported to CSV and
 *        NGSI-LD, and their bodies read back must give the same CSV;
 *   'b'  the rest is a `summary` body in JSON, converted to msgpack;
 *   else the rest is a `summary` body as raw msgpack
 *        (kx_summary_add_body): a body that reads is exported too.
 * Never a crash or a leak; a refusal names its reason on one line; the
 * NGSI-LD export is JSON that protocols/json.c reads (integers only).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "summary.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
one_line(const char *err)
{
	if (err[0] == '\0' || strchr(err, '\n') != NULL)
		abort();	/* a refusal must say why, on one line */
}

static void
exports(const kx_summary_t *s)
{
	kx_buf_t	 b, mp;
	char		 err[256];

	kx_buf_init(&b);
	kx_buf_init(&mp);
	if (kx_summary_csv(&b, s) == -1)
		abort();
	kx_buf_reset(&b);
	if (kx_summary_ngsi(&b, s) == -1 ||
	    kx_json_to_mp(&mp, (const char *)b.data, b.len, NULL, err,
	    sizeof(err)) == -1)
		abort();
	kx_buf_free(&b);
	kx_buf_free(&mp);
}

struct back {
	kx_summary_t	*s;
	int		 bad;
};

static int
back_cb(void *arg, const uint8_t *mp, size_t len, unsigned part,
    unsigned parts)
{
	struct back	*bk = arg;
	char		 err[256];

	(void)part;
	(void)parts;
	if (kx_summary_add_body(bk->s, mp, len, err, sizeof(err)) !=
	    KX_SUM_OK)
		bk->bad = 1;
	return 0;
}

static void
records(const uint8_t *data, size_t size)
{
	kx_sum_input_t	*in = NULL;
	kx_sum_params_t	 p;
	kx_summary_t	*s = NULL;
	struct back	 bk;
	kx_buf_t	 a, b;
	size_t		 n = 0, i;
	char		 err[256];
	int		 rc;

	err[0] = '\0';
	rc = kx_sum_inputs_parse(&in, &n, (const char *)data, size, err,
	    sizeof(err));
	if (rc != KX_SUM_OK) {
		if (rc != KX_SUM_ENOMEM)
			one_line(err);
		return;
	}
	kx_sum_params_default(&p);
	err[0] = '\0';
	rc = kx_summary_build(&s, in, n, &p, err, sizeof(err));
	free(in);
	if (rc != KX_SUM_OK) {
		one_line(err);
		return;
	}
	exports(s);
	/* every day's bodies read back give the same cells */
	memset(&bk, 0, sizeof(bk));
	if ((bk.s = kx_summary_new()) == NULL)
		abort();
	for (i = 0; i < s->ncells; i++)
		if ((i == 0 || s->cells[i].day != s->cells[i - 1].day) &&
		    kx_summary_bodies(s, s->cells[i].day, 0, back_cb, &bk) < 0)
			bk.bad = 2;	/* a cell too large for a message */
	if (bk.bad == 1)
		abort();
	if (bk.bad == 0) {
		kx_buf_init(&a);
		kx_buf_init(&b);
		if (kx_summary_csv(&a, s) == -1 || kx_summary_csv(&b, bk.s) ==
		    -1 || a.len != b.len || (a.len > 0 && memcmp(a.data,
		    b.data, a.len) != 0))
			abort();
		kx_buf_free(&a);
		kx_buf_free(&b);
	}
	kx_summary_free(&bk.s);
	kx_summary_free(&s);
	kx_summary_free(&s);	/* idempotent */
}

static void
body(const uint8_t *mp, size_t len)
{
	kx_summary_t	*s;
	char		 err[256];
	int		 rc;

	if ((s = kx_summary_new()) == NULL)
		abort();
	err[0] = '\0';
	rc = kx_summary_add_body(s, mp, len, err, sizeof(err));
	if (rc == KX_SUM_EPARSE)
		one_line(err);
	else if (rc == KX_SUM_OK)
		exports(s);
	kx_summary_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kx_buf_t	 mp;
	char		 err[256];

	if (size == 0)
		return 0;
	if (data[0] == 'j')
		records(data + 1, size - 1);
	else if (data[0] == 'b') {
		kx_buf_init(&mp);
		if (kx_json_to_mp(&mp, (const char *)data + 1, size - 1, NULL,
		    err, sizeof(err)) == 0)
			body(mp.data, mp.len);
		kx_buf_free(&mp);
	} else
		body(data + 1, size - 1);
	return 0;
}
