/*
 * metrics.h - an optional local HTTP port with Prometheus metrics
 * (text exposition format 0.0.4) for kaga-node: `metrics-listen
 * HOST:PORT` in the configuration (docs/kaga-node.conf.md).
 *
 * Deliberately tiny: one non-blocking listening socket polled by the
 * node's loop; each scrape is accepted, its request read with a short
 * deadline (KX_METRICS_READ_MS), answered and closed, so a slow or
 * hostile client costs the loop at most that deadline. Only `GET
 * /metrics` (and `GET /`) is served; anything else gets 404 or 400.
 */
#ifndef KX_METRICS_H
#define KX_METRICS_H

#include <stddef.h>

#include "buf.h"

#define KX_METRICS_READ_MS	200
#define KX_METRICS_REQ_MAX	4096

/*
 * Binds and listens on "HOST:PORT" (IPv4 address or name; [v6]:port).
 * Returns the non-blocking socket, or -1 with a message in err.
 */
int	kx_metrics_listen(const char *hostport, char *err, size_t errlen);

/*
 * Accepts one client on lfd, reads its request and, for GET /metrics,
 * answers with body (text/plain; version=0.0.4). Never blocks longer
 * than KX_METRICS_READ_MS. Returns the HTTP status sent, or -1 when no
 * client was waiting or it went away.
 */
int	kx_metrics_serve(int lfd, const kx_buf_t *body);

/*
 * The HTTP status for a complete request head req[0..len) (outside
 * bytes, any content): 200 for GET /metrics or GET /, 404 for another
 * GET, 400 for anything else.
 */
int	kx_metrics_route(const char *req, size_t len);

/*
 * Appends one sample: NAME{LABELS} VALUE\n; labels may be NULL or "";
 * label values must already be safe (hex keys, names from the config).
 */
void	kx_metrics_sample(kx_buf_t *b, const char *name, const char *labels,
	    long long value);

/* Appends "# HELP name help\n# TYPE name type\n". */
void	kx_metrics_head(kx_buf_t *b, const char *name, const char *type,
	    const char *help);

#endif
