/*
 * metrics.c - the Prometheus metrics port, see metrics.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/poll.h>	/* not <poll.h>: meters/poll.h is on the path */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"

int
kx_metrics_listen(const char *hostport, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 host[256];
	const char	*colon, *port, *h = hostport;
	size_t		 hl;
	int		 fd = -1, one = 1, rc;

	if (*h == '[') {
		if ((colon = strstr(h, "]:")) == NULL)
			goto bad;
		h++;
		hl = (size_t)(colon - h);
		port = colon + 2;
	} else {
		if ((colon = strrchr(h, ':')) == NULL)
			goto bad;
		hl = (size_t)(colon - h);
		port = colon + 1;
	}
	if (hl == 0 || hl >= sizeof(host) || *port == '\0')
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "metrics-listen %s: %s", hostport,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 16) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1)
		snprintf(err, errlen, "metrics-listen %s: %s", hostport,
		    strerror(errno));
	freeaddrinfo(res);
	return fd;
bad:
	snprintf(err, errlen, "metrics-listen: \"%s\" is not HOST:PORT",
	    hostport);
	return -1;
}

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	struct pollfd	 pfd;
	ssize_t		 w;

	while (n > 0 && mono_ms() < deadline) {
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno != EAGAIN && errno != EINTR)
			return;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, (int)(deadline - mono_ms()));
	}
}

static void
reply(int fd, int status, const char *reason, const char *ctype,
    const char *body, size_t len, int64_t deadline)
{
	char	 head[256];
	int	 n;

	n = snprintf(head, sizeof(head), "HTTP/1.0 %d %s\r\nContent-Type: "
	    "%s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
	    reason, ctype, len);
	send_all(fd, head, (size_t)n, deadline);
	send_all(fd, body, len, deadline);
}

int
kx_metrics_serve(int lfd, const kx_buf_t *body)
{
	char		 req[KX_METRICS_REQ_MAX + 1];
	struct pollfd	 pfd;
	size_t		 n = 0;
	ssize_t		 r;
	int64_t		 deadline = mono_ms() + KX_METRICS_READ_MS;
	int		 fd, status;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1)
		return -1;
	for (;;) {
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL ||
		    strstr(req, "\n\n") != NULL)
			break;
		if (n == KX_METRICS_REQ_MAX || mono_ms() >= deadline) {
			reply(fd, 400, "Bad Request", "text/plain", "", 0,
			    deadline + KX_METRICS_READ_MS);
			close(fd);
			return 400;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - mono_ms())) <= 0)
			continue;
		r = recv(fd, req + n, KX_METRICS_REQ_MAX - n, 0);
		if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR)) {
			close(fd);
			return -1;
		}
		if (r > 0)
			n += (size_t)r;
	}
	deadline = mono_ms() + 1000;	/* for sending */
	status = kx_metrics_route(req, n);
	if (status == 200)
		reply(fd, 200, "OK", "text/plain; version=0.0.4",
		    body->data ? (const char *)body->data : "", body->len,
		    deadline);
	else if (status == 404)
		reply(fd, 404, "Not Found", "text/plain", "not found\n", 10,
		    deadline);
	else
		reply(fd, 400, "Bad Request", "text/plain", "", 0, deadline);
	close(fd);
	return status;
}

static int
has_prefix(const char *req, size_t len, const char *p)
{
	size_t	 n = strlen(p);

	return len >= n && memcmp(req, p, n) == 0;
}

int
kx_metrics_route(const char *req, size_t len)
{
	if (req == NULL)
		return 400;
	if (has_prefix(req, len, "GET /metrics ") ||
	    has_prefix(req, len, "GET / "))
		return 200;
	if (has_prefix(req, len, "GET "))
		return 404;
	return 400;
}

void
kx_metrics_head(kx_buf_t *b, const char *name, const char *type,
    const char *help)
{
	kx_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

void
kx_metrics_sample(kx_buf_t *b, const char *name, const char *labels,
    long long value)
{
	if (labels != NULL && labels[0] != '\0')
		kx_buf_printf(b, "%s{%s} %lld\n", name, labels, value);
	else
		kx_buf_printf(b, "%s %lld\n", name, value);
}
