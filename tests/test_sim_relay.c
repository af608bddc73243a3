/*
 * test_sim_relay.c - kaga-sim's TCP relays (sim/relay.c) with real
 * sockets on 127.0.0.1: bytes echo through a link (several connections
 * at once, links added before and after the start), a transfer of many
 * MB checked byte by byte while the client stops reading (the relay must
 * push back, not buffer without end), byte counts, a partition that
 * closes the live connections of cut links and refuses new ones while a
 * link inside one side keeps working, healing, a target that does not
 * listen (refused, then fine once it does), and the argument errors.
 *
 * Every wait is a poll with a generous deadline (WAIT_MS); nothing is
 * timed for speed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/poll.h>	/* not <poll.h>: meters/poll.h is on the path */
#include <sys/resource.h>
#include <sys/socket.h>
#include <dirent.h>
#include <unistd.h>

#include "../sim/relay.h"

#define WAIT_MS		10000	/* any single step, on a loaded machine */
#define STALL_MS	500	/* no room to send for this long: stalled */
#define ECHO_CONNS	32
#define BIG_MIN		(8u << 20)	/* bytes of the large transfer */
#define BIG_CAP		(256u << 20)	/* a relay without backpressure */

/* ---- sockets ------------------------------------------------------- */

/* Open descriptors of this process: a relay freed leaves none behind. */
static int
nfds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	int		 n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void
loopback(struct sockaddr_in *sin, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* A TCP socket bound to 127.0.0.1 at a kernel-chosen port, not listening:
 * connections to it are refused, and nobody else can take the port. */
static int
bound(int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	loopback(&sin, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A connected client (a relay's listening port always accepts). */
static int
dial(int port)
{
	struct sockaddr_in	 sin;
	int			 fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	loopback(&sin, port);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	return fd;
}

/* Waits for ev on fd; its revents, 0 after ms. */
static short
wait_fd(int fd, short ev, int ms)
{
	struct pollfd	 p = { .fd = fd, .events = ev };
	int		 rc;

	while ((rc = poll(&p, 1, ms)) == -1 && errno == EINTR)
		;
	assert_true(rc != -1);
	return rc == 0 ? 0 : p.revents;
}

static void
send_all(int fd, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		assert_true(wait_fd(fd, POLLOUT, WAIT_MS) != 0);
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void
recv_exact(int fd, void *buf, size_t len)
{
	uint8_t		*p = buf;
	ssize_t		 n;

	while (len > 0) {
		assert_true(wait_fd(fd, POLLIN, WAIT_MS) != 0);
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* A message out and the same back. */
static void
ping(int fd, int i)
{
	char	 out[64], in[64];
	int	 n;

	n = snprintf(out, sizeof(out), "ping %d from fd %d", i, fd);
	send_all(fd, out, (size_t)n);
	recv_exact(fd, in, (size_t)n);
	assert_memory_equal(in, out, (size_t)n);
}

/* 1 when the peer closes fd (EOF or reset) within WAIT_MS, with no byte
 * before; 0 otherwise. */
static int
closed(int fd)
{
	char	 c;
	ssize_t	 n;

	for (;;) {
		if (wait_fd(fd, POLLIN, WAIT_MS) == 0)
			return 0;
		n = recv(fd, &c, 1, MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return 1;
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		return 0;
	}
}

/* ---- an echo server: a thread per connection ----------------------- */

typedef struct {
	int		 lfd, port;
	int		 stop[2];
	pthread_t	 acceptor;
	pthread_mutex_t	 mu;
	int		 fd[ECHO_CONNS];
	pthread_t	 th[ECHO_CONNS];
	size_t		 n;
} echo_t;

static void *
echo_conn(void *arg)
{
	int	 fd = (int)(intptr_t)arg;
	uint8_t	 buf[16384];
	ssize_t	 n, k, off;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		for (off = 0; off < n; off += k)
			if ((k = send(fd, buf + off, (size_t)(n - off),
			    MSG_NOSIGNAL)) <= 0)
				return NULL;
	if (n == 0)
		shutdown(fd, SHUT_WR);	/* EOF passed back; closed at stop */
	return NULL;
}

static void *
echo_accept(void *arg)
{
	echo_t		*e = arg;
	struct pollfd	 p[2] = {
		{ .fd = e->lfd, .events = POLLIN },
		{ .fd = e->stop[0], .events = POLLIN },
	};
	int		 fd;

	for (;;) {
		if (poll(p, 2, -1) == -1 && errno != EINTR)
			return NULL;
		if (p[1].revents != 0)
			return NULL;
		if (p[0].revents == 0 ||
		    (fd = accept4(e->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		pthread_mutex_lock(&e->mu);
		if (e->n < ECHO_CONNS && pthread_create(&e->th[e->n], NULL,
		    echo_conn, (void *)(intptr_t)fd) == 0)
			e->fd[e->n++] = fd;
		else
			close(fd);
		pthread_mutex_unlock(&e->mu);
	}
}

/* Serves on lfd (bound; -1 for a new one). */
static void
echo_start(echo_t *e, int lfd)
{
	memset(e, 0, sizeof(*e));
	e->lfd = lfd != -1 ? lfd : bound(&e->port);
	if (lfd != -1) {
		struct sockaddr_in	 sin;
		socklen_t		 len = sizeof(sin);

		assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin,
		    &len), 0);
		e->port = ntohs(sin.sin_port);
	}
	assert_int_equal(listen(e->lfd, 64), 0);
	assert_int_equal(pipe(e->stop), 0);
	pthread_mutex_init(&e->mu, NULL);
	assert_int_equal(pthread_create(&e->acceptor, NULL, echo_accept, e),
	    0);
}

static void
echo_stop(echo_t *e)
{
	size_t	 i;

	assert_int_equal(write(e->stop[1], "x", 1), 1);
	pthread_join(e->acceptor, NULL);
	for (i = 0; i < e->n; i++)	/* unblocks the workers */
		shutdown(e->fd[i], SHUT_RDWR);
	for (i = 0; i < e->n; i++) {
		pthread_join(e->th[i], NULL);
		close(e->fd[i]);
	}
	pthread_mutex_destroy(&e->mu);
	close(e->stop[0]);
	close(e->stop[1]);
	close(e->lfd);
}

/* ---- relay helpers ------------------------------------------------- */

static kx_relay_t *
relay(void)
{
	kx_relay_t	*r;
	char		 err[256] = "";

	r = kx_relay_new(err, sizeof(err));
	if (r == NULL)
		fprintf(stderr, "kx_relay_new: %s\n", err);
	assert_non_null(r);
	return r;
}

static int
add(kx_relay_t *r, int from, int to, int to_port)
{
	char	 err[256] = "";
	int	 port = 0;

	if (kx_relay_add(r, from, to, to_port, &port, err, sizeof(err)) != 0)
		fprintf(stderr, "kx_relay_add: %s\n", err);
	assert_true(port > 0 && port < 65536);
	return port;
}

static void
start(kx_relay_t *r)
{
	char	 err[256] = "";

	if (kx_relay_start(r, err, sizeof(err)) != 0)
		fprintf(stderr, "kx_relay_start: %s\n", err);
	assert_string_equal(err, "");
}

static kx_relay_stats_t
link_stats(kx_relay_t *r, int from, int to)
{
	kx_relay_stats_t	 st;

	assert_int_equal(kx_relay_link_stats(r, from, to, &st), 0);
	return st;
}

/* Fixed small socket buffers (no autotuning): the bytes in flight
 * outside the relay stay small. */
static void
small_bufs(int fd)
{
	int	 len = 65536;

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &len,
	    sizeof(len)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &len,
	    sizeof(len)), 0);
}

/* The test pattern: byte i of a stream. */
static uint8_t
pat(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 24 ^ i >> 20);
}

/* ---- tests --------------------------------------------------------- */

/* Echo through two links, one added after the start, with several
 * connections open at once; half-close travels both ways. */
static void
t_echo(void **state)
{
	kx_relay_t		*r;
	kx_relay_stats_t	 st, all;
	echo_t			 e;
	int			 p1, p2, fd[8], i, fds = nfds();
	char			 c;

	(void)state;
	r = relay();
	echo_start(&e, -1);
	p1 = add(r, 1, 2, e.port);
	start(r);
	p2 = add(r, 3, 2, e.port);
	for (i = 0; i < 8; i++)
		fd[i] = dial(i % 2 ? p2 : p1);
	for (i = 0; i < 8; i++)
		ping(fd[i], i);
	for (i = 7; i >= 0; i--)
		ping(fd[i], 100 + i);
	for (i = 0; i < 8; i++) {
		/* our EOF reaches the server, whose EOF comes back */
		assert_int_equal(shutdown(fd[i], SHUT_WR), 0);
		assert_true(wait_fd(fd[i], POLLIN, WAIT_MS) != 0);
		assert_int_equal(recv(fd[i], &c, 1, 0), 0);
		close(fd[i]);
	}
	st = link_stats(r, 1, 2);
	assert_int_equal(st.accepted, 4);
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.cut, 0);
	kx_relay_stats(r, &all);
	assert_int_equal(all.accepted, 8);
	/* "ping N from fd F": both ways, summed over every connection */
	assert_true(all.bytes > st.bytes && st.bytes > 0);
	assert_int_equal(kx_relay_link_stats(r, 2, 1, &st), -1);
	kx_relay_free(&r);
	assert_null(r);
	kx_relay_free(&r);
	kx_relay_free(NULL);
	echo_stop(&e);
	assert_int_equal(nfds(), fds);
}

/*
 * Many MB through one link, every byte checked. The client first sends
 * without reading: the relay's buffers are bounded, so sending must stall
 * long before BIG_CAP (the kernel's autotuned buffers of the relay's four
 * sockets hold a few MB, at most 2 * (32 + 4) MB with Linux's defaults). Then it reads and sends until BIG_MIN have gone
 * both ways, and the link counted exactly twice what was sent.
 */
static void
t_large(void **state)
{
	kx_relay_t		*r = relay();
	kx_relay_stats_t	 st;
	echo_t			 e;
	uint8_t			*out, in[65536];
	uint64_t		 sent = 0, got = 0, total, stalled_at, i;
	ssize_t			 n;
	short			 ev;
	struct sockaddr_in	 sin;
	int			 fd, b, port, stalled = 0, shut = 0, eof = 0;

	(void)state;
	out = malloc(65536);
	assert_non_null(out);
	b = bound(&port);
	small_bufs(b);		/* inherited by the accepted sockets */
	echo_start(&e, b);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	small_bufs(fd);
	loopback(&sin, add(r, 0, 1, port));
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	start(r);
	/* phase 1: send only */
	while (sent < BIG_CAP) {
		if (wait_fd(fd, POLLOUT, STALL_MS) == 0) {
			stalled = 1;
			break;
		}
		for (i = 0; i < sizeof(in); i++)
			out[i] = pat(sent + i);
		n = send(fd, out, sizeof(in), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		assert_true(n > 0);
		sent += (uint64_t)n;
	}
	assert_true(stalled);
	stalled_at = sent;
	total = sent > BIG_MIN ? sent : BIG_MIN;
	/* phase 2: both ways until everything came back, then EOF */
	while (!eof) {
		if (sent == total && !shut) {
			assert_int_equal(shutdown(fd, SHUT_WR), 0);
			shut = 1;
		}
		ev = POLLIN;
		if (sent < total)
			ev |= POLLOUT;
		ev = wait_fd(fd, ev, WAIT_MS);
		assert_true(ev != 0);
		if ((ev & POLLOUT) && sent < total) {
			size_t	 len = total - sent < sizeof(in) ?
			    (size_t)(total - sent) : sizeof(in);

			for (i = 0; i < len; i++)
				out[i] = pat(sent + i);
			n = send(fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT);
			assert_true(n > 0 || errno == EAGAIN);
			if (n > 0)
				sent += (uint64_t)n;
		}
		if (ev & (POLLIN | POLLHUP)) {
			n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
			assert_true(n >= 0 || errno == EAGAIN);
			if (n == 0)
				eof = 1;
			for (i = 0; n > 0 && i < (uint64_t)n; i++)
				if (in[i] != pat(got + i))
					fail_msg("byte %llu: %u, not %u",
					    (unsigned long long)(got + i),
					    in[i], pat(got + i));
			if (n > 0)
				got += (uint64_t)n;
		}
	}
	assert_true(got == total && sent == total);
	fprintf(stderr, "t_large: stalled after %llu bytes, %llu in all\n",
	    (unsigned long long)stalled_at, (unsigned long long)total);
	close(fd);
	st = link_stats(r, 0, 1);
	assert_int_equal(st.accepted, 1);
	assert_int_equal(st.bytes, 2 * total);
	kx_relay_free(&r);
	echo_stop(&e);
	free(out);
}

/*
 * Nodes 0, 1, 2; links 0->1, 1->0 cross the partition {0 | 1} (node 2 is
 * on side 0 with node 0), 2->0 does not. The cut is in force when
 * kx_relay_sides returns; healing opens the links again.
 */
static void
t_partition(void **state)
{
	static const uint8_t	 side[2] = { 0, 1 };
	kx_relay_t		*r;
	kx_relay_stats_t	 st;
	echo_t			 e0, e1;
	int			 p01, p10, p20, c01, c10, c20, c, fds = nfds();

	(void)state;
	r = relay();
	echo_start(&e0, -1);
	echo_start(&e1, -1);
	p01 = add(r, 0, 1, e1.port);
	p10 = add(r, 1, 0, e0.port);
	p20 = add(r, 2, 0, e0.port);
	start(r);
	c01 = dial(p01);
	c10 = dial(p10);
	c20 = dial(p20);
	ping(c01, 1);
	ping(c10, 2);
	ping(c20, 3);

	kx_relay_sides(r, side, 2);
	st = link_stats(r, 0, 1);	/* counted before the return */
	assert_int_equal(st.cut, 1);
	assert_int_equal(link_stats(r, 1, 0).cut, 1);
	assert_int_equal(link_stats(r, 2, 0).cut, 0);
	assert_true(closed(c01));
	assert_true(closed(c10));
	ping(c20, 4);
	/* new connections on a cut link: accepted and closed at once */
	c = dial(p01);
	assert_true(closed(c));
	close(c);
	assert_int_equal(link_stats(r, 0, 1).refused, 1);
	assert_int_equal(link_stats(r, 0, 1).accepted, 1);
	c = dial(p20);
	ping(c, 5);
	close(c);
	/* the same partition again changes nothing */
	kx_relay_sides(r, side, 2);
	ping(c20, 6);

	kx_relay_sides(r, NULL, 0);
	close(c01);
	c01 = dial(p01);
	ping(c01, 7);
	ping(c20, 8);
	st = link_stats(r, 0, 1);
	assert_int_equal(st.accepted, 2);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.cut, 1);
	st = link_stats(r, 2, 0);
	assert_int_equal(st.accepted, 2);
	assert_int_equal(st.cut + st.refused, 0);
	kx_relay_free(&r);	/* with live connections */
	assert_true(closed(c01));
	assert_true(closed(c20));
	close(c01);
	close(c10);
	close(c20);
	echo_stop(&e0);
	echo_stop(&e1);
	assert_int_equal(nfds(), fds);
}

/* A target that does not listen (a node down): the client is closed and
 * the relay counts a refusal; once it listens, the link works. Also a
 * link added while a partition cuts it. */
static void
t_refused(void **state)
{
	static const uint8_t	 side[6] = { 0, 0, 0, 0, 0, 1 };
	kx_relay_t		*r = relay();
	kx_relay_stats_t	 st;
	echo_t			 e;
	int			 b, bport, p, p5, c;

	(void)state;
	b = bound(&bport);
	kx_relay_sides(r, side, sizeof(side));	/* before the start */
	p = add(r, 3, 4, bport);
	start(r);
	p5 = add(r, 4, 5, bport);		/* cut from birth */
	c = dial(p);
	assert_true(closed(c));
	close(c);
	st = link_stats(r, 3, 4);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.accepted, 0);
	assert_int_equal(st.bytes, 0);

	echo_start(&e, b);			/* the node comes up */
	c = dial(p);
	ping(c, 1);
	close(c);
	c = dial(p5);
	assert_true(closed(c));
	close(c);
	assert_int_equal(link_stats(r, 4, 5).refused, 1);
	kx_relay_sides(r, NULL, 0);
	c = dial(p5);
	ping(c, 2);
	close(c);
	st = link_stats(r, 3, 4);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.accepted, 1);
	assert_int_equal(link_stats(r, 4, 5).accepted, 1);
	kx_relay_free(&r);
	echo_stop(&e);
}

/* Bad indexes and ports, duplicates, a second start, too many links. */
static void
t_errors(void **state)
{
	kx_relay_t		*r = relay();
	kx_relay_stats_t	 st;
	struct rlimit		 rl;
	char			 err[256];
	int			 port, i, n;

	(void)state;
	err[0] = '\0';
	assert_int_equal(kx_relay_add(r, -1, 0, 9, &port, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "index"));
	err[0] = '\0';
	assert_int_equal(kx_relay_add(r, 0, KX_RELAY_NODES_MAX, 9, &port,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "index"));
	assert_int_equal(kx_relay_add(r, KX_RELAY_NODES_MAX, 0, 9, &port,
	    err, sizeof(err)), -1);
	err[0] = '\0';
	assert_int_equal(kx_relay_add(r, 0, 1, 0, &port, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "port"));
	assert_int_equal(kx_relay_add(r, 0, 1, 65536, &port, err,
	    sizeof(err)), -1);
	add(r, 0, KX_RELAY_NODES_MAX - 1, 9);
	err[0] = '\0';
	assert_int_equal(kx_relay_add(r, 0, KX_RELAY_NODES_MAX - 1, 9, &port,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(kx_relay_link_stats(r, 1, 0, &st), -1);
	assert_int_equal(kx_relay_link_stats(r, -1, 0, &st), -1);
	assert_int_equal(kx_relay_link_stats(r, 0, 999, &st), -1);
	start(r);
	err[0] = '\0';
	assert_int_equal(kx_relay_start(r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "started"));
	kx_relay_free(&r);

	/* KX_RELAY_LINKS_MAX listening sockets need as many descriptors */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < KX_RELAY_LINKS_MAX + 256 &&
	    rl.rlim_max >= KX_RELAY_LINKS_MAX + 256) {
		rl.rlim_cur = KX_RELAY_LINKS_MAX + 256;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	if (rl.rlim_cur < KX_RELAY_LINKS_MAX + 256) {
		fprintf(stderr, "t_errors: RLIMIT_NOFILE %llu, too low for "
		    "the link limit\n", (unsigned long long)rl.rlim_cur);
		skip();
	}
	r = relay();
	start(r);
	for (n = 0, i = 0; i < KX_RELAY_LINKS_MAX; i++)
		n += kx_relay_add(r, i % KX_RELAY_NODES_MAX,
		    i / KX_RELAY_NODES_MAX, 9, &port, err, sizeof(err)) == 0;
	assert_int_equal(n, KX_RELAY_LINKS_MAX);
	err[0] = '\0';
	assert_int_equal(kx_relay_add(r, 100, 101, 9, &port, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "links"));
	kx_relay_stats(r, &st);
	assert_int_equal(st.accepted + st.refused + st.cut + st.bytes, 0);
	kx_relay_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_echo),
		cmocka_unit_test(t_large),
		cmocka_unit_test(t_partition),
		cmocka_unit_test(t_refused),
		cmocka_unit_test(t_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
