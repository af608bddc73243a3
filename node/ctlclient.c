/*
 * ctlclient.c - see ctlclient.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <zmq.h>

#include "ctlclient.h"

int
kx_ctl_call(const char *dir, const void *const *args, const size_t *lens,
    size_t nargs, int timeout_ms, bool *ok, kx_buf_t *reply, char *err,
    size_t errlen)
{
	char		 ep[4200];
	struct stat	 st;
	zmq_msg_t	 part;
	void		*ctx = NULL, *s = NULL;
	int		 linger = 0, rc = -1, n = 0, more = 1;
	size_t		 i;

	snprintf(ep, sizeof(ep), "%s/control.sock", dir);
	if (stat(ep, &st) == -1) {
		snprintf(err, errlen, "%s: %s (is kaga-node running?)", ep,
		    strerror(errno));
		return -1;
	}
	snprintf(ep, sizeof(ep), "ipc://%s/control.sock", dir);
	if ((ctx = zmq_ctx_new()) == NULL ||
	    (s = zmq_socket(ctx, ZMQ_REQ)) == NULL ||
	    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) == -1 ||
	    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms,
	    sizeof(timeout_ms)) == -1 ||
	    zmq_connect(s, ep) == -1) {
		snprintf(err, errlen, "%s: %s", ep, zmq_strerror(errno));
		goto done;
	}
	for (i = 0; i < nargs; i++)
		if (zmq_send(s, args[i], lens[i], i + 1 < nargs ?
		    ZMQ_SNDMORE : 0) == -1) {
			snprintf(err, errlen, "send: %s", zmq_strerror(errno));
			goto done;
		}
	kx_buf_reset(reply);
	while (more) {
		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, s, 0) == -1) {
			snprintf(err, errlen, "%s: %s", ep, errno == EAGAIN ?
			    "no reply from the node" : zmq_strerror(errno));
			zmq_msg_close(&part);
			goto done;
		}
		more = zmq_msg_more(&part);
		if (n == 0)
			*ok = zmq_msg_size(&part) == 2 &&
			    memcmp(zmq_msg_data(&part), "ok", 2) == 0;
		else if (n == 1)
			kx_buf_append(reply, zmq_msg_data(&part),
			    zmq_msg_size(&part));
		n++;
		zmq_msg_close(&part);
	}
	if (n != 2 || kx_buf_cstr(reply) == -1) {
		snprintf(err, errlen, "malformed reply from the node");
		goto done;
	}
	rc = 0;
done:
	if (s != NULL)
		zmq_close(s);
	if (ctx != NULL)
		zmq_ctx_term(ctx);
	return rc;
}
