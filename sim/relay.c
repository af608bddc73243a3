/*
 * relay.c - TCP relays between kaga-sim's nodes (relay.h).
 *
 * Each link owns a listening socket on 127.0.0.1 (kernel-chosen port). A
 * connection accepted there is paired with a non-blocking connect to
 * 127.0.0.1:to_port. If that fails (`to` is down) the client is closed
 * and counted in `refused`; once it completes (`accepted`), bytes are
 * copied both ways through two fixed buffers of BUF_LEN bytes, one per
 * direction. A full buffer stops the reads from its source (backpressure
 * reaches the sender through TCP), so bytes are never dropped or
 * reordered. When one side sends EOF its buffer is flushed and the other
 * side gets shutdown(SHUT_WR); the pair is closed when both directions
 * are done, or at once on any error (reset, ...). Both sockets get
 * TCP_NODELAY, as ZeroMQ's own do, so the relay adds no Nagle delay.
 *
 * One thread serves everything with poll(). Shared state (links, sides,
 * counters, the generation of the partition) is under `mu`; the thread
 * holds it while it handles the events of one poll and drops it only
 * around poll itself. Connections belong to the thread alone. Callers
 * wake it through a self-pipe. kx_relay_sides sets each link's `cut`
 * flag, bumps `want_gen` and waits on `cv` until the thread has closed
 * the live connections of cut links and published `done_gen`; accepts on
 * a cut link are closed at once. Sockets are written with send(...,
 * MSG_NOSIGNAL), so a peer gone away never raises SIGPIPE.
 *
 * Tuned for a few hundred long-lived ZeroMQ sessions with modest
 * traffic; CONNS_MAX caps the live connections (128 KiB of buffers
 * each), the excess is accepted and closed at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/poll.h>	/* not <poll.h>: meters/poll.h is on the path */
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"

#define BUF_LEN		(64 * 1024)	/* per direction of a connection */
#define CONNS_MAX	4096		/* live connections, every link */
#define ACCEPT_BURST	16		/* accepts per link per poll */
#define PFD_MAX		(1 + KX_RELAY_LINKS_MAX + 2 * CONNS_MAX)

struct link {
	int			 from, to, to_port;
	int			 lfd;		/* listening socket */
	bool			 cut;		/* ends on different sides */
	kx_relay_stats_t	 st;
};

/* One direction of a connection: fd[k] -> fd[!k] through buf[k]. */
struct dir {
	size_t		 off, len;	/* pending: buf[k][off .. off+len) */
	bool		 eof;		/* the source sent EOF */
	bool		 shut;		/* EOF passed on: SHUT_WR done */
};

struct conn {
	int		 fd[2];		/* 0 accepted client, 1 the target */
	size_t		 link;
	bool		 connecting;	/* fd[1] not connected yet */
	bool		 dead;		/* closed; swept after the pass */
	long		 pi;		/* index of fd[0] in pfd; -1: none */
	struct dir	 d[2];		/* 0: client->target, 1: back */
	uint8_t		 buf[2][BUF_LEN];
};

struct kx_relay {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* done_gen moved or thread ended */
	pthread_t	 thread;
	bool		 started;	/* thread created: join it */
	bool		 running;	/* thread started and not ended */
	bool		 stop;
	int		 wake[2];	/* self-pipe: callers -> thread */
	int		 spare;		/* freed to accept-and-close at EMFILE */
	struct link	*links;		/* KX_RELAY_LINKS_MAX, append only */
	size_t		 nlinks;
	uint8_t		 side[KX_RELAY_NODES_MAX];
	uint64_t	 want_gen, done_gen;	/* partition generations */
	struct conn	**conns;	/* CONNS_MAX; thread only */
	size_t		 nconns;
	struct pollfd	*pfd;		/* PFD_MAX; thread only */
};

static void
wake(kx_relay_t *r)
{
	char	 c = 0;

	/* EAGAIN: the pipe is full, the thread is awake anyway */
	(void)!write(r->wake[1], &c, 1);
}

static void
nodelay(int fd)
{
	int	 one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
loopback(struct sockaddr_in *sin, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* Closes a connection's sockets; the struct is freed by sweep(). */
static void
kill_conn(struct conn *c)
{
	if (c->dead)
		return;
	close(c->fd[0]);
	close(c->fd[1]);
	c->dead = true;
}

/* Under mu, thread only: closes the connections of cut links. */
static void
apply_sides(kx_relay_t *r)
{
	size_t		 i;

	if (r->done_gen == r->want_gen)
		return;
	for (i = 0; i < r->nconns; i++) {
		struct conn	*c = r->conns[i];
		struct link	*l = &r->links[c->link];

		if (c->dead || !l->cut)
			continue;
		if (c->connecting)
			l->st.refused++;	/* never forwarded */
		else
			l->st.cut++;
		kill_conn(c);
	}
	r->done_gen = r->want_gen;
	pthread_cond_broadcast(&r->cv);
}

/* Frees the dead connections. */
static void
sweep(kx_relay_t *r)
{
	size_t	 i = 0;

	while (i < r->nconns) {
		if (r->conns[i]->dead) {
			free(r->conns[i]);
			r->conns[i] = r->conns[--r->nconns];
		} else
			i++;
	}
}

/* Under mu: accepts up to ACCEPT_BURST connections on link li. */
static void
accept_some(kx_relay_t *r, size_t li)
{
	struct link		*l = &r->links[li];
	struct conn		*c;
	struct sockaddr_in	 sin;
	int			 fd, tfd, n;

	for (n = 0; n < ACCEPT_BURST; n++) {
		fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1 && (errno == EMFILE || errno == ENFILE) &&
		    r->spare != -1) {
			/* out of fds: free the spare to take one off the
			 * backlog and close it, or poll would spin */
			close(r->spare);
			if ((fd = accept(l->lfd, NULL, NULL)) != -1) {
				l->st.refused++;
				close(fd);
			}
			r->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
			return;
		}
		if (fd == -1)
			return;		/* EAGAIN, or retried next poll */
		if (l->cut || r->nconns >= CONNS_MAX ||
		    (c = malloc(sizeof(*c))) == NULL) {
			l->st.refused++;
			close(fd);
			continue;
		}
		tfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		loopback(&sin, l->to_port);
		if (tfd == -1 || (connect(tfd, (struct sockaddr *)&sin,
		    sizeof(sin)) == -1 && errno != EINPROGRESS)) {
			l->st.refused++;	/* `to` not reachable */
			if (tfd != -1)
				close(tfd);
			close(fd);
			free(c);
			continue;
		}
		nodelay(fd);
		nodelay(tfd);
		memset(c, 0, offsetof(struct conn, buf));
		c->fd[0] = fd;
		c->fd[1] = tfd;
		c->link = li;
		c->connecting = true;	/* even if done: SO_ERROR decides */
		c->pi = -1;
		r->conns[r->nconns++] = c;
	}
}

/* Events wanted on fd[i] of c. */
static short
events(const struct conn *c, int i)
{
	short	 ev = 0;

	if (c->connecting)
		return i == 1 ? POLLOUT : 0;
	if (!c->d[i].eof && c->d[i].len < BUF_LEN)
		ev |= POLLIN;		/* room to read from fd[i] */
	if (c->d[!i].len > 0)
		ev |= POLLOUT;		/* bytes for fd[i] */
	return ev;
}

/* Under mu: fills pfd, returns its count. */
static nfds_t
build(kx_relay_t *r, size_t *nlinks)
{
	nfds_t	 n = 0;
	size_t	 i;
	int	 k;

	r->pfd[n].fd = r->wake[0];
	r->pfd[n++].events = POLLIN;
	for (i = 0; i < r->nlinks; i++) {
		r->pfd[n].fd = r->links[i].lfd;
		r->pfd[n++].events = POLLIN;
	}
	*nlinks = r->nlinks;
	for (i = 0; i < r->nconns; i++) {
		struct conn	*c = r->conns[i];

		c->pi = (long)n;
		for (k = 0; k < 2; k++) {
			r->pfd[n].events = events(c, k);
			/* nothing wanted: not polled at all, so a POLLHUP
			 * we cannot act on yet does not spin the loop */
			r->pfd[n].fd = r->pfd[n].events ? c->fd[k] : -1;
			r->pfd[n++].revents = 0;
		}
	}
	return n;
}

/* Moves bytes of direction k of c; -1 when the pair must close. */
static int
pump(kx_relay_t *r, struct conn *c, int k, const short *rev)
{
	struct dir	*d = &c->d[k];
	uint8_t		*buf = c->buf[k];
	int		 src = c->fd[k], dst = c->fd[!k];
	ssize_t		 n;

	if (!d->eof && d->len < BUF_LEN &&
	    (rev[k] & (POLLIN | POLLHUP | POLLERR))) {
		if (d->off + d->len == BUF_LEN) {
			memmove(buf, buf + d->off, d->len);
			d->off = 0;
		}
		n = recv(src, buf + d->off + d->len,
		    BUF_LEN - d->off - d->len, 0);
		if (n > 0)
			d->len += (size_t)n;
		else if (n == 0)
			d->eof = true;
		else if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return -1;
	}
	if (d->len > 0) {	/* try even without POLLOUT: saves a poll */
		n = send(dst, buf + d->off, d->len, MSG_NOSIGNAL);
		if (n > 0) {
			d->off += (size_t)n;
			d->len -= (size_t)n;
			if (d->len == 0)
				d->off = 0;
			r->links[c->link].st.bytes += (uint64_t)n;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return -1;
	}
	if (d->eof && d->len == 0 && !d->shut) {
		(void)shutdown(dst, SHUT_WR);	/* errors show on next I/O */
		d->shut = true;
	}
	return 0;
}

/* Under mu: handles the events of one connection. */
static void
serve(kx_relay_t *r, struct conn *c)
{
	struct link	*l = &r->links[c->link];
	short		 rev[2];
	int		 e = 0;
	socklen_t	 elen = sizeof(e);

	if (c->dead || c->pi < 0)
		return;		/* accepted after this poll */
	rev[0] = r->pfd[c->pi].revents;
	rev[1] = r->pfd[c->pi + 1].revents;
	if (c->connecting) {
		if (rev[1] == 0)
			return;
		if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &e,
		    &elen) == -1 || e != 0) {
			l->st.refused++;	/* `to` is down */
			kill_conn(c);
			return;
		}
		c->connecting = false;
		l->st.accepted++;
		return;		/* polled for both ways from now on */
	}
	if (pump(r, c, 0, rev) == -1 || pump(r, c, 1, rev) == -1 ||
	    (c->d[0].shut && c->d[1].shut))
		kill_conn(c);
}

static void *
run(void *arg)
{
	kx_relay_t	*r = arg;
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	char		 junk[64];
	size_t		 i, nl;
	nfds_t		 n;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		apply_sides(r);
		n = build(r, &nl);
		pthread_mutex_unlock(&r->mu);
		if (poll(r->pfd, n, -1) == -1) {
			if (errno != EINTR)	/* ENOMEM: try again soon */
				nanosleep(&ts, NULL);
			pthread_mutex_lock(&r->mu);
			continue;
		}
		pthread_mutex_lock(&r->mu);
		if (r->pfd[0].revents != 0)
			while (read(r->wake[0], junk, sizeof(junk)) > 0)
				;
		apply_sides(r);		/* before any byte moves */
		for (i = 0; i < r->nconns; i++)
			serve(r, r->conns[i]);
		for (i = 0; i < nl; i++)
			if (r->pfd[1 + i].revents != 0)
				accept_some(r, i);
		sweep(r);
	}
	r->running = false;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

kx_relay_t *
kx_relay_new(char *err, size_t errlen)
{
	kx_relay_t	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->wake[0] = r->wake[1] = r->spare = -1;
	r->links = calloc(KX_RELAY_LINKS_MAX, sizeof(*r->links));
	r->conns = calloc(CONNS_MAX, sizeof(*r->conns));
	r->pfd = calloc(PFD_MAX, sizeof(*r->pfd));
	if (r->links == NULL || r->conns == NULL || r->pfd == NULL) {
		snprintf(err, errlen, "out of memory");
		kx_relay_free(&r);
	} else if (pipe2(r->wake, O_NONBLOCK | O_CLOEXEC) == -1 ||
	    (r->spare = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		kx_relay_free(&r);
	}
	return r;
}

int
kx_relay_add(kx_relay_t *r, int from, int to, int to_port, int *port,
    char *err, size_t errlen)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	struct link		*l;
	size_t			 i;
	int			 fd = -1;

	if (from < 0 || from >= KX_RELAY_NODES_MAX || to < 0 ||
	    to >= KX_RELAY_NODES_MAX) {
		snprintf(err, errlen, "link %d->%d: node index not in "
		    "0..%d", from, to, KX_RELAY_NODES_MAX - 1);
		return -1;
	}
	if (to_port < 1 || to_port > 65535) {
		snprintf(err, errlen, "link %d->%d: bad port %d",
		    from, to, to_port);
		return -1;
	}
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->nlinks; i++)
		if (r->links[i].from == from && r->links[i].to == to) {
			snprintf(err, errlen, "link %d->%d added twice",
			    from, to);
			goto fail;
		}
	if (r->nlinks >= KX_RELAY_LINKS_MAX) {
		snprintf(err, errlen, "more than %d links",
		    KX_RELAY_LINKS_MAX);
		goto fail;
	}
	loopback(&sin, 0);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 128) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) == -1) {
		snprintf(err, errlen, "link %d->%d: %s", from, to,
		    strerror(errno));
		goto fail;
	}
	l = &r->links[r->nlinks++];
	memset(l, 0, sizeof(*l));
	l->from = from;
	l->to = to;
	l->to_port = to_port;
	l->lfd = fd;
	l->cut = r->side[from] != r->side[to];
	*port = ntohs(sin.sin_port);
	if (r->running)
		wake(r);
	pthread_mutex_unlock(&r->mu);
	return 0;
fail:
	if (fd != -1)
		close(fd);
	pthread_mutex_unlock(&r->mu);
	return -1;
}

int
kx_relay_start(kx_relay_t *r, char *err, size_t errlen)
{
	int	 rc = 0, e;

	pthread_mutex_lock(&r->mu);
	if (r->started) {
		snprintf(err, errlen, "already started");
		rc = -1;
	} else if ((e = pthread_create(&r->thread, NULL, run, r)) != 0) {
		snprintf(err, errlen, "thread: %s", strerror(e));
		rc = -1;
	} else
		r->started = r->running = true;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void
kx_relay_sides(kx_relay_t *r, const uint8_t *side, size_t n)
{
	uint64_t	 gen;
	size_t		 i;

	pthread_mutex_lock(&r->mu);
	memset(r->side, 0, sizeof(r->side));
	for (i = 0; side != NULL && i < n && i < KX_RELAY_NODES_MAX; i++)
		r->side[i] = side[i];
	for (i = 0; i < r->nlinks; i++)
		r->links[i].cut = r->side[r->links[i].from] !=
		    r->side[r->links[i].to];
	gen = ++r->want_gen;
	if (r->running) {
		wake(r);
		while (r->running && r->done_gen < gen)
			pthread_cond_wait(&r->cv, &r->mu);
	} else
		r->done_gen = gen;	/* no thread, no live connection */
	pthread_mutex_unlock(&r->mu);
}

static void
add_stats(kx_relay_stats_t *to, const kx_relay_stats_t *s)
{
	to->accepted += s->accepted;
	to->refused += s->refused;
	to->cut += s->cut;
	to->bytes += s->bytes;
}

void
kx_relay_stats(kx_relay_t *r, kx_relay_stats_t *all)
{
	size_t	 i;

	memset(all, 0, sizeof(*all));
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->nlinks; i++)
		add_stats(all, &r->links[i].st);
	pthread_mutex_unlock(&r->mu);
}

int
kx_relay_link_stats(kx_relay_t *r, int from, int to, kx_relay_stats_t *out)
{
	size_t	 i;
	int	 rc = -1;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->nlinks; i++)
		if (r->links[i].from == from && r->links[i].to == to) {
			*out = r->links[i].st;
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void
kx_relay_free(kx_relay_t **rp)
{
	kx_relay_t	*r;
	size_t		 i;

	if (rp == NULL || (r = *rp) == NULL)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		wake(r);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	for (i = 0; i < r->nconns; i++)
		kill_conn(r->conns[i]);
	sweep(r);
	for (i = 0; i < r->nlinks; i++)
		close(r->links[i].lfd);
	if (r->wake[0] != -1) {
		close(r->wake[0]);
		close(r->wake[1]);
	}
	if (r->spare != -1)
		close(r->spare);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r->pfd);
	free(r->conns);
	free(r->links);
	free(r);
	*rp = NULL;
}
