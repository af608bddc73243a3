/*
 * ctlutil.c - shared parts of the kaga-ctl command files, see ctlutil.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctlclient.h"
#include "ctlutil.h"

void
kx_ctl_err(const char *cmd, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "kaga-ctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *
kx_ctl_node(const char *dir)
{
	const char	*d = getenv("KAGA_NODE");

	if (dir != NULL)
		return dir;
	return d != NULL && d[0] != '\0' ? d : "/var/lib/kaga";
}

int
kx_ctl_request(const char *cmd, const char *dir, const void *const *args,
    const size_t *lens, size_t n, kx_buf_t *reply)
{
	char	 err[512];
	bool	 ok = false;

	if (kx_ctl_call(dir, args, lens, n, KX_CTL_CALL_MS, &ok, reply, err,
	    sizeof(err)) == -1) {
		kx_ctl_err(cmd, "%s", err);
		return -1;
	}
	(void)kx_buf_cstr(reply);
	if (!ok) {
		kx_ctl_err(cmd, "the node refused: %s", reply->data ?
		    (char *)reply->data : "");
		return -1;
	}
	return 0;
}

int
kx_parse_long(const char *s, long lo, long hi, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
kx_ctl_slurp(const char *path, size_t max, kx_buf_t *b)
{
	FILE	*f;
	uint8_t	 chunk[65536];
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
		if (b->len > max) {
			fclose(f);
			errno = EFBIG;
			return -1;
		}
	}
	if (ferror(f)) {
		fclose(f);
		errno = EIO;
		return -1;
	}
	fclose(f);
	return 0;
}
