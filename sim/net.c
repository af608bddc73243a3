/*
 * net.c - kaga-sim's protocol mode; see net.h and docs/sim.md.
 *
 * The run: keys and configs for the operator and every member; a relay
 * link for every configured peer (node i dials node j through a port of
 * ours); the operator starts, sets the market and admits the first
 * members (their `member` messages carry no endpoint, so a node dials
 * only its configured peers and every byte between two nodes passes a
 * relay); each member starts with its own kaga-meter-sim and bids by
 * itself. The first slot starts on a slot boundary a little later; the
 * script's events are applied at their times; every node up is polled in
 * rounds through its control socket (one persistent REQ socket each) for
 * the heads of its log (status "heads": the last seq per author).
 *
 * Dissemination: the first round in which some node holds (author, seq)
 * is the message's appearance; a node that holds it in a later round is
 * a delivery, counted in the latency figures when the node was up, and
 * on the author's side of any partition, since before the appearance (a
 * node starting or a partition healing afterwards gets the message by
 * catch-up instead). Resolution: one poll round.
 *
 * Partition check: a message whose author's node did not hold it in a
 * round that began after the cut was born after the cut; any node across
 * the cut that holds it before the heal is a leak.
 *
 * Catch-up: when a node starts again or joins, and for every node when a
 * partition heals, the target is the highest seq per author that any
 * other node held in the last round; the catch-up ends in the first
 * round in which the node holds all of it.
 *
 * Agreement: at the end (after the last settlement had time to arrive)
 * every member up reports its disputes and its ledger, which must equal
 * the operator's byte for byte.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "body.h"
#include "buf.h"
#include "envelope.h"
#include "json.h"
#include "keyfile.h"
#include "net.h"
#include "relay.h"

#define NODES_MAX	(1 + KX_NET_MEMBERS_MAX)
#define PEERS_MAX	16
#define PATH_LEN	512
#define SETTLE_DELAY_S	2
#define TAIL_MS		10000	/* after the last slot: settle, checks */
#define AGREE_WAIT_MS	30000	/* then: ledgers may still be arriving */
#define UP_WAIT_MS	15000
#define CTL_TIMEOUT_MS	3000
#define ROUND_SLEEP_US	10000

enum { NS_NEW, NS_UP, NS_DOWN };

typedef struct {
	char		 name[8];
	const char	*role;
	char		 dir[PATH_LEN], conf[PATH_LEN + 8];
	char		 hex[2 * KX_PK_LEN + 1];
	uint8_t		 pk[KX_PK_LEN];
	int		 port, meter_port, pv_w, load_w;
	pid_t		 pid, meter_pid;
	int		 state;
	int64_t		 epoch_ms;	/* up and sides unchanged since */
	void		*probe;
	uint64_t	 heads[NODES_MAX];
	uint64_t	 msgs;
	bool		 polled;	/* heads valid */
	int64_t		 last_poll_ms, prev_poll_ms;
	int		 npeer, peer[PEERS_MAX], relay_port[PEERS_MAX];
} node_t;

/* What is known of the messages of one author, by seq. */
typedef struct {
	int64_t		*first;		/* round it first appeared, 0: not yet */
	int64_t		*born_lo;	/* born after this, 0: unknown */
	int64_t		*op_at;		/* the operator held it, 0: not yet */
	size_t		 cap;
} seen_t;

typedef struct {
	int		 node, kind;	/* kind: the action that opened it */
	int64_t		 t0, done_ms;
	uint64_t	 msgs0, target[NODES_MAX];
	bool		 open, aborted;
} catchup_t;

typedef struct {
	const kx_netscript_t	*s;
	const kx_net_opts_t	*o;
	kx_net_result_t		*res;
	int			 n;	/* 1 + members + late */
	node_t			 nd[NODES_MAX];
	seen_t			 seen[NODES_MAX];
	kx_relay_t		*relay;
	void			*zctx;
	uint8_t			 side[NODES_MAX];
	bool			 part_on;
	int64_t			 part_ms;
	uint64_t		*late;	/* slots with an order the operator
					   got after the gate */
	size_t			 nlate, late_cap;
	int64_t			 t0;	/* first slot's start, unix ms */
	int64_t			*lat;
	size_t			 nlat, lat_cap;
	catchup_t		*cu;
	size_t			 ncu, cu_cap;
	uint64_t		 rounds;
	int64_t			 round_ms_sum, last_round;
	FILE			*events, *latcsv;
	char			 out[PATH_LEN];	/* absolute */
	char			*err;
	size_t			 errlen;
} run_t;

static volatile sig_atomic_t	stop_req;

static void
on_signal(int sig)
{
	(void)sig;
	stop_req = 1;
}

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
fail(run_t *r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A line of the event log (DIR/events.txt), also on stderr unless quiet. */
static void
note(run_t *r, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[512];
	double	 t = (double)(now_ms() - r->t0) / 1000.0;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r->events != NULL)
		fprintf(r->events, "%9.3f %s\n", t, line);
	if (!r->o->quiet)
		fprintf(stderr, "kaga-sim net: %+8.3f s  %s\n", t, line);
}

static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Whether 127.0.0.1:port can be bound now. */
static bool
port_free(int port)
{
	struct sockaddr_in	 sin;
	int			 s, one = 1;
	bool			 ok;

	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return false;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	ok = bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(s);
	return ok;
}

/*
 * Listen ports for the nodes and meters: a block of 2 x NODES_MAX below
 * the kernel's ephemeral range (the relays take kernel-chosen ports from
 * that range, so the two never collide), where every port binds now. The
 * first block tried depends on the pid, so parallel runs differ. -1 if
 * none is free.
 */
static int
ports_block(void)
{
	int	 blocks = (32700 - 20000) / (2 * NODES_MAX), b, k, i;

	for (k = 0; k < blocks; k++) {
		b = 20000 + ((int)getpid() + k) % blocks * 2 * NODES_MAX;
		for (i = 0; i < 2 * NODES_MAX && port_free(b + i); i++)
			;
		if (i == 2 * NODES_MAX)
			return b;
	}
	return -1;
}

/* ---- processes --------------------------------------------------- */

static pid_t
spawn(const char *log, const char *const *argv)
{
	char	*av[16];
	pid_t	 pid, parent = getpid();
	int	 fd;
	size_t	 n;

	for (n = 0; n < 15 && argv[n] != NULL; n++)
		;
	memcpy(av, argv, n * sizeof(*av));	/* execv's type, not ours */
	av[n] = NULL;
	if ((pid = fork()) == 0) {
		setpgid(0, 0);	/* a Ctrl-C at the terminal is ours */
		/* and if kaga-sim dies by SIGKILL, its nodes stop too */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != parent)
			_exit(127);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(av[0], av);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Stops pid with sig (SIGTERM: given 10 s, then SIGKILL) and reaps it. */
static void
reap(pid_t *pid, int sig)
{
	int	 status, i;

	if (*pid <= 0)
		return;
	kill(*pid, sig);
	for (i = 0; i < 1000; i++) {
		if (waitpid(*pid, &status, WNOHANG) != 0)
			break;
		usleep(10000);
	}
	if (i == 1000) {
		kill(*pid, SIGKILL);
		waitpid(*pid, &status, 0);
	}
	*pid = 0;
}

static void
probe_close(node_t *t)
{
	if (t->probe != NULL)
		zmq_close(t->probe);
	t->probe = NULL;
}

/*
 * A control request on the node's persistent REQ socket (reopened after a
 * timeout). The reply's text in out; 0 when the node said ok, else -1.
 */
static int
ctl(run_t *r, node_t *t, kx_buf_t *out, size_t nargs, const void *const *a,
    const size_t *l)
{
	char		 ep[PATH_LEN + 32];
	zmq_msg_t	 part;
	int		 linger = 0, to = CTL_TIMEOUT_MS, n = 0, more = 1;
	bool		 ok = false;
	size_t		 i;

	if (t->probe == NULL) {
		snprintf(ep, sizeof(ep), "ipc://%s/control.sock", t->dir);
		if ((t->probe = zmq_socket(r->zctx, ZMQ_REQ)) == NULL)
			return -1;
		zmq_setsockopt(t->probe, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_setsockopt(t->probe, ZMQ_RCVTIMEO, &to, sizeof(to));
		zmq_setsockopt(t->probe, ZMQ_SNDTIMEO, &to, sizeof(to));
		if (zmq_connect(t->probe, ep) == -1) {
			probe_close(t);
			return -1;
		}
	}
	for (i = 0; i < nargs; i++)
		if (zmq_send(t->probe, a[i], l[i], i + 1 < nargs ?
		    ZMQ_SNDMORE : 0) == -1) {
			probe_close(t);
			return -1;
		}
	kx_buf_reset(out);
	while (more) {
		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, t->probe, 0) == -1) {
			zmq_msg_close(&part);
			probe_close(t);	/* a REQ that lost its reply is stuck */
			return -1;
		}
		more = zmq_msg_more(&part);
		if (n == 0)
			ok = zmq_msg_size(&part) == 2 &&
			    memcmp(zmq_msg_data(&part), "ok", 2) == 0;
		else if (n == 1)
			kx_buf_append(out, zmq_msg_data(&part),
			    zmq_msg_size(&part));
		n++;
		zmq_msg_close(&part);
	}
	if (kx_buf_cstr(out) == -1 || n != 2)
		return -1;
	return ok ? 0 : -1;
}

static int
ctl1(run_t *r, node_t *t, kx_buf_t *out, const char *req)
{
	const void	*a[1] = { req };
	size_t		 l[1] = { strlen(req) };

	return ctl(r, t, out, 1, a, l);
}

/* Publishes a JSON body of type at node t (the operator). */
static int
publish(run_t *r, node_t *t, const char *type, const char *json)
{
	kx_buf_t	 body, out;
	char		 e[256];
	const void	*a[3];
	size_t		 l[3];
	int		 rc = -1;

	kx_buf_init(&body);
	kx_buf_init(&out);
	if (kx_json_to_mp(&body, json, strlen(json), kx_body_bin_paths(type),
	    e, sizeof(e)) != 0) {
		snprintf(r->err, r->errlen, "publish %s: %s", type, e);
		goto done;
	}
	a[0] = "publish";
	l[0] = 7;
	a[1] = type;
	l[1] = strlen(type);
	a[2] = body.data;
	l[2] = body.len;
	if (ctl(r, t, &out, 3, a, l) == 0)
		rc = 0;
	else
		snprintf(r->err, r->errlen, "publish %s at %s: %s", type,
		    t->name, out.data != NULL ? (char *)out.data :
		    "no reply");
done:
	kx_buf_free(&body);
	kx_buf_free(&out);
	return rc;
}

static int
wait_up(run_t *r, node_t *t)
{
	kx_buf_t	 b;
	int64_t		 end = now_ms() + UP_WAIT_MS;
	int		 rc = -1, status;

	kx_buf_init(&b);
	while (now_ms() < end && !stop_req) {
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = 0;
			break;
		}
		if (ctl1(r, t, &b, "status") == 0) {
			rc = 0;
			break;
		}
		probe_close(t);
		usleep(50000);
	}
	kx_buf_free(&b);
	if (rc == -1)
		fail(r, "%s did not start (see %s.log)", t->name, t->dir);
	return rc;
}

static int
start_meter(run_t *r, node_t *t)
{
	char	 listen[64], speed[16], pv[16], load[16], log[PATH_LEN + 16];
	const char	*argv[] = { r->o->meter_bin, "--listen", listen,
		    "--profile", "sdm630", "--hour", "10", "--speed", speed,
		    "--pv-w", pv, "--load-w", load, NULL };
	int	 i;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", t->meter_port);
	snprintf(speed, sizeof(speed), "%u", 1800 / r->s->slot_s > 0 ?
	    1800 / r->s->slot_s : 1);
	snprintf(pv, sizeof(pv), "%d", t->pv_w);
	snprintf(load, sizeof(load), "%d", t->load_w);
	snprintf(log, sizeof(log), "%s-meter.log", t->dir);
	if ((t->meter_pid = spawn(log, argv)) < 0)
		return fail(r, "fork: %s", strerror(errno));
	for (i = 0; i < 300; i++) {	/* until it listens */
		struct sockaddr_in	 sin;
		int			 s = socket(AF_INET, SOCK_STREAM, 0);
		bool			 up;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)t->meter_port);
		up = s >= 0 && connect(s, (struct sockaddr *)&sin,
		    sizeof(sin)) == 0;
		if (s >= 0)
			close(s);
		if (up)
			return 0;
		usleep(20000);
	}
	return fail(r, "%s's meter did not listen on %s (see %s-meter.log)",
	    t->name, listen, t->dir);
}

static int
start_node(run_t *r, node_t *t)
{
	char	 log[PATH_LEN + 8];
	const char	*argv[] = { r->o->node_bin, "-d", "-c", t->conf,
		    NULL };

	snprintf(log, sizeof(log), "%s.log", t->dir);
	if ((t->pid = spawn(log, argv)) < 0)
		return fail(r, "fork: %s", strerror(errno));
	t->state = NS_UP;
	t->epoch_ms = now_ms();
	t->polled = false;
	return wait_up(r, t);
}

/* ---- setup ------------------------------------------------------- */

static void
roles(run_t *r)
{
	int	 i;

	for (i = 1; i < r->n; i++) {
		node_t		*t = &r->nd[i];
		uint64_t	 h = mix64(r->s->seed ^ (uint64_t)i * 7919);

		if (i % 7 == 0) {
			t->role = "ryokan";
			t->pv_w = 12000;
			t->load_w = 3000;
		} else if (i % 11 == 0) {
			t->role = "farm";
			t->pv_w = 25000;
			t->load_w = 900;
		} else {
			t->role = "household";
			t->pv_w = h % 10 < 4 ? 0 : 2000 + (int)((h >> 8) % 11) *
			    500;
			t->load_w = 300 + (int)((h >> 20) % 9) * 50;
		}
	}
}

/* Peers: the operator, the next member on a ring, then random ones. */
static void
topology(run_t *r)
{
	int		 i, k, m = r->n - 1, want;
	uint64_t	 x = r->s->seed;

	for (i = 1; i < r->n; i++) {
		node_t	*t = &r->nd[i];

		want = (int)r->s->degree < m ? (int)r->s->degree : m;
		t->peer[t->npeer++] = 0;
		if (t->npeer < want && m > 1)
			t->peer[t->npeer++] = i % m + 1;
		while (t->npeer < want) {
			int	 j, dup = 0;

			x = mix64(x + (uint64_t)i);
			j = 1 + (int)(x % (uint64_t)m);
			for (k = 0; k < t->npeer; k++)
				dup |= t->peer[k] == j;
			if (j != i && !dup)
				t->peer[t->npeer++] = j;
		}
	}
}

static int
write_conf(run_t *r, node_t *t)
{
	FILE	*f;
	int	 k;

	if ((f = fopen(t->conf, "w")) == NULL)
		return fail(r, "%s: %s", t->conf, strerror(errno));
	fprintf(f, "# written by kaga-sim net\ndata-dir %s\n"
	    "listen tcp://127.0.0.1:%d\nrole %s\noperator %s\n"
	    "gossip-interval %u\n", t->dir, t->port, t->role, r->nd[0].hex,
	    r->s->gossip_ms);
	for (k = 0; k < t->npeer; k++)
		fprintf(f, "peer %s tcp://127.0.0.1:%d\n",
		    r->nd[t->peer[k]].hex, t->relay_port[k]);
	if (t == &r->nd[0])
		fprintf(f, "settle-delay %d\n", SETTLE_DELAY_S);
	else
		fprintf(f, "meter grid grid sdm630 tcp://127.0.0.1:%d "
		    "period-ms=250 timeout-ms=500 retries=0 "
		    "max-power-w=100000000\nstrategy auto=on steps=3 "
		    "lead-s=1\n", t->meter_port);
	if (fclose(f) != 0)
		return fail(r, "%s: %s", t->conf, strerror(errno));
	return 0;
}

static int
admit(run_t *r, node_t *t)
{
	char	 json[256];

	snprintf(json, sizeof(json), "{\"node\":\"%s\",\"role\":\"%s\","
	    "\"name\":\"%s\",\"area\":\"Kaga\",\"until\":0}", t->hex, t->role,
	    t->name);
	return publish(r, &r->nd[0], "member", json);
}

static int
setup(run_t *r)
{
	kx_why_t	 why;
	char		 e[256], name[8], dir[PATH_LEN];
	int		 i, k, base;

	if ((base = ports_block()) == -1)
		return fail(r, "no block of %d free ports between 20000 and "
		    "32700 on 127.0.0.1", 2 * NODES_MAX);
	for (i = 0; i < r->n; i++) {
		node_t	*t = &r->nd[i];

		kx_netscript_name(i, name, sizeof(name));
		snprintf(dir, sizeof(dir), "%.*s/%s", PATH_LEN - 64, r->out,
		    name);
		snprintf(t->conf, sizeof(t->conf), "%s.conf", dir);
		memcpy(t->name, name, sizeof(t->name));
		memcpy(t->dir, dir, sizeof(t->dir));
		if (kx_key_generate(t->dir, t->pk, &why) == -1)
			return fail(r, "%s: %s", t->dir, why.text);
		kx_hex(t->hex, t->pk, KX_PK_LEN);
		t->port = base + 2 * i;
		t->meter_port = base + 2 * i + 1;
		t->state = NS_NEW;
	}
	r->nd[0].role = "operator";
	roles(r);
	topology(r);
	if ((r->relay = kx_relay_new(e, sizeof(e))) == NULL)
		return fail(r, "relay: %s", e);
	for (i = 0; i < r->n; i++) {
		node_t	*t = &r->nd[i];

		for (k = 0; k < t->npeer; k++)
			if (kx_relay_add(r->relay, i, t->peer[k],
			    r->nd[t->peer[k]].port, &t->relay_port[k], e,
			    sizeof(e)) == -1)
				return fail(r, "relay: %s", e);
		if (write_conf(r, t) == -1)
			return -1;
	}
	if (kx_relay_start(r->relay, e, sizeof(e)) == -1)
		return fail(r, "relay: %s", e);
	return 0;
}

/* ---- observing --------------------------------------------------- */

static int
author_of(run_t *r, const char *hex)
{
	int	 i;

	for (i = 0; i < r->n; i++)
		if (memcmp(r->nd[i].hex, hex, 2 * KX_PK_LEN) == 0)
			return i;
	return -1;
}

static int
seen_grow(seen_t *s, uint64_t seq)
{
	int64_t	**arr[3] = { &s->first, &s->born_lo, &s->op_at }, *a;
	size_t	 cap = s->cap ? s->cap : 64, k;

	while (cap <= seq)
		cap *= 2;
	if (cap == s->cap)
		return 0;
	for (k = 0; k < 3; k++) {
		if ((a = realloc(*arr[k], cap * sizeof(*a))) == NULL)
			return -1;	/* the run ends: out of memory */
		memset(a + s->cap, 0, (cap - s->cap) * sizeof(*a));
		*arr[k] = a;
	}
	s->cap = cap;
	return 0;
}

/*
 * Room for element n of the array *arrp points to (a T **), of elements
 * of size bytes, *cap of them allocated: doubles it when full. 0 or -1.
 */
static int
room(void *arrp, size_t n, size_t *cap, size_t size)
{
	void	*a, *q;
	size_t	 c;

	if (n < *cap)
		return 0;
	c = *cap ? 2 * *cap : 16;
	memcpy(&a, arrp, sizeof(a));
	if ((q = realloc(a, c * size)) == NULL)
		return -1;
	memcpy(arrp, &q, sizeof(q));
	*cap = c;
	return 0;
}

static int
lat_add(run_t *r, int64_t ms)
{
	if (room(&r->lat, r->nlat, &r->lat_cap, sizeof(*r->lat)) == -1)
		return -1;
	r->lat[r->nlat++] = ms;
	return 0;
}

/* Node n holds seqs (old, new] of author a since the round at t. */
static int
delivered(run_t *r, int n, int a, uint64_t old, uint64_t new, int64_t t)
{
	seen_t	*s = &r->seen[a];
	node_t	*nd = &r->nd[n];
	uint64_t q;

	if (seen_grow(s, new) == -1)
		return -1;
	for (q = old + 1; q <= new; q++) {
		if (n == KX_NET_OP && s->op_at[q] == 0)
			s->op_at[q] = t;
		if (s->first[q] == 0) {
			s->first[q] = t;
			/* the author did not hold it in its previous round */
			if (n == a && nd->prev_poll_ms > 0)
				s->born_lo[q] = nd->prev_poll_ms;
			continue;
		}
		if (n == a)	/* seen elsewhere first in the same round */
			continue;
		if (r->part_on && r->side[a] != r->side[n] &&
		    s->born_lo[q] >= r->part_ms) {
			r->res->leaks++;
			note(r, "LEAK: %s holds seq %" PRIu64 " of %s, born "
			    "after the cut on the other side", nd->name, q,
			    r->nd[a].name);
		}
		if (nd->epoch_ms <= s->first[q] && r->part_ms <= s->first[q] &&
		    r->side[a] == r->side[n]) {
			if (lat_add(r, t - s->first[q]) == -1)
				return -1;
			if (r->latcsv != NULL)
				fprintf(r->latcsv, "%s,%" PRIu64 ",%s,%" PRId64
				    "\n", r->nd[a].name, q, nd->name,
				    t - s->first[q]);
		}
	}
	return 0;
}

/* Reads "heads" and "messages" of a status reply into node n. */
static int
take_status(run_t *r, int n, const char *st, int64_t t)
{
	node_t		*nd = &r->nd[n];
	const char	*p, *m;
	uint64_t	 nh[NODES_MAX];
	int		 a;

	memset(nh, 0, sizeof(nh));
	if ((m = strstr(st, "\"messages\":")) != NULL)
		nd->msgs = strtoull(m + 11, NULL, 10);
	if ((p = strstr(st, "\"heads\":[")) == NULL)
		return 0;
	while ((p = strstr(p, "{\"author\":\"")) != NULL) {
		p += 11;
		if (strlen(p) < 2 * KX_PK_LEN + 8 ||
		    strncmp(p + 2 * KX_PK_LEN, "\",\"seq\":", 8) != 0)
			break;
		if ((a = author_of(r, p)) >= 0)
			nh[a] = strtoull(p + 2 * KX_PK_LEN + 8, NULL, 10);
	}
	for (a = 0; a < r->n; a++) {
		if (!nd->polled)
			nd->heads[a] = a == n ? nh[a] : nd->heads[a];
		if (nh[a] > nd->heads[a] &&
		    delivered(r, n, a, nd->heads[a], nh[a], t) == -1)
			return fail(r, "out of memory");
		nd->heads[a] = nh[a];
	}
	nd->polled = true;
	nd->prev_poll_ms = nd->last_poll_ms;
	nd->last_poll_ms = t;
	return 0;
}

static void
catchup_check(run_t *r, int64_t t)
{
	size_t	 i;
	int	 a;

	for (i = 0; i < r->ncu; i++) {
		catchup_t	*c = &r->cu[i];
		node_t		*nd = &r->nd[c->node];
		bool		 all = true;

		if (!c->open)
			continue;
		if (nd->state != NS_UP) {
			c->open = false;
			c->aborted = true;
			continue;
		}
		if (!nd->polled || nd->last_poll_ms < c->t0)
			continue;
		for (a = 0; a < r->n && all; a++)
			all = nd->heads[a] >= c->target[a];
		if (!all)
			continue;
		c->open = false;
		c->done_ms = t - c->t0;
		r->res->catchups_done++;
		r->res->catchup_msgs += nd->msgs > c->msgs0 ?
		    nd->msgs - c->msgs0 : 0;
		if (c->done_ms > r->res->catchup_max_ms)
			r->res->catchup_max_ms = c->done_ms;
		note(r, "%s caught up in %.3f s (%" PRIu64 " messages)",
		    nd->name, (double)c->done_ms / 1000.0, nd->msgs > c->msgs0 ?
		    nd->msgs - c->msgs0 : 0);
	}
}

/* One poll of every node up. */
static int
round_all(run_t *r)
{
	kx_buf_t	 b;
	int64_t		 start = now_ms(), t;
	int		 i, rc = 0;

	kx_buf_init(&b);
	for (i = 0; i < r->n && rc == 0; i++) {
		if (r->nd[i].state != NS_UP)
			continue;
		if (ctl1(r, &r->nd[i], &b, "status") == -1)
			continue;	/* busy or starting: next round */
		t = now_ms();
		rc = take_status(r, i, (char *)b.data, t);
	}
	kx_buf_free(&b);
	if (rc == 0) {
		catchup_check(r, now_ms());
		if (r->last_round > 0) {	/* start to start */
			r->rounds++;
			r->round_ms_sum += start - r->last_round;
		}
		r->last_round = start;
	}
	return rc;
}

/* ---- events ------------------------------------------------------ */

static int
catchup_open(run_t *r, int n, int kind, int64_t t)
{
	catchup_t	*c;
	int		 i, a;

	if (room(&r->cu, r->ncu, &r->cu_cap, sizeof(*r->cu)) == -1)
		return fail(r, "out of memory");
	c = &r->cu[r->ncu++];
	memset(c, 0, sizeof(*c));
	c->node = n;
	c->kind = kind;
	c->t0 = t;
	c->open = true;
	c->msgs0 = r->nd[n].polled ? r->nd[n].msgs : 0;
	for (i = 0; i < r->n; i++)
		if (i != n && r->nd[i].state == NS_UP && r->nd[i].polled)
			for (a = 0; a < r->n; a++)
				if (r->nd[i].heads[a] > c->target[a])
					c->target[a] = r->nd[i].heads[a];
	r->res->catchups++;
	return 0;
}

static int
apply(run_t *r, const kx_net_event_t *ev)
{
	static const char *const names[] = { "", "stop", "kill", "start",
	    "join", "partition", "heal" };
	char	 list[512] = "";
	int	 i;
	int64_t	 t = now_ms();

	for (i = 0; i < r->n; i++)
		if (kx_netscript_has(ev, i))
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), " %s", r->nd[i].name);
	note(r, "script line %u: %s%s", ev->line, names[ev->action], list);
	switch (ev->action) {
	case KX_NET_STOP:
	case KX_NET_KILL:
		for (i = 0; i < r->n; i++)
			if (kx_netscript_has(ev, i) &&
			    r->nd[i].state == NS_UP) {
				reap(&r->nd[i].pid, ev->action == KX_NET_STOP ?
				    SIGTERM : SIGKILL);
				probe_close(&r->nd[i]);
				r->nd[i].state = NS_DOWN;
			}
		break;
	case KX_NET_JOIN:
		for (i = 0; i < r->n; i++)
			if (kx_netscript_has(ev, i) && r->nd[i].state == NS_NEW) {
				if (r->nd[0].state != NS_UP || admit(r,
				    &r->nd[i]) == -1)
					note(r, "%s: the operator cannot admit "
					    "it now; it starts unadmitted",
					    r->nd[i].name);
				if (start_meter(r, &r->nd[i]) == -1)
					return -1;
			}
		/* FALLTHROUGH */
	case KX_NET_START:
		for (i = 0; i < r->n; i++)
			if (kx_netscript_has(ev, i) &&
			    r->nd[i].state != NS_UP) {
				if (catchup_open(r, i, ev->action, t) == -1 ||
				    start_node(r, &r->nd[i]) == -1)
					return -1;
			}
		break;
	case KX_NET_PARTITION:
		for (i = 0; i < r->n; i++)
			r->side[i] = kx_netscript_has(ev, i) ? 1 : 0;
		kx_relay_sides(r->relay, r->side, (size_t)r->n);
		r->part_on = true;
		r->part_ms = now_ms();
		for (i = 0; i < r->n; i++)
			r->nd[i].epoch_ms = r->part_ms;
		break;
	case KX_NET_HEAL:
		kx_relay_sides(r->relay, NULL, 0);
		memset(r->side, 0, sizeof(r->side));
		r->part_on = false;
		r->part_ms = now_ms();
		for (i = 0; i < r->n; i++) {
			r->nd[i].epoch_ms = r->part_ms;
			if (r->nd[i].state == NS_UP &&
			    catchup_open(r, i, ev->action, r->part_ms) == -1)
				return -1;
		}
		break;
	}
	return 0;
}

/* ---- the end ----------------------------------------------------- */

static uint64_t
num_after(const char *s, const char *key)
{
	const char	*p = s != NULL ? strstr(s, key) : NULL;

	return p != NULL ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static int
late_add(run_t *r, uint64_t slot)
{
	size_t	 i;

	for (i = 0; i < r->nlate; i++)
		if (r->late[i] == slot)
			return 0;
	if (room(&r->late, r->nlate, &r->late_cap, sizeof(*r->late)) == -1)
		return -1;
	r->late[r->nlate++] = slot;
	return 0;
}

/*
 * Finds the orders the operator got after their slot's gate: the
 * operator's log of each member (control request "log") gives every order
 * with its seq and slot; the round in which the operator first held that
 * seq is when it got it (an upper bound, by one poll round). The operator
 * cleared the slot without such an order, while a node that holds it when
 * it checks the clear gets another set hash: a dispute the run explains.
 * This happens when the author was cut off from the operator at the gate,
 * or crashed between storing its order and sending it.
 */
static int
late_orders(run_t *r)
{
	kx_buf_t	 b;
	const char	*p, *q;
	const void	*a[2];
	size_t		 l[2];
	uint64_t	 seq, slot;
	int64_t		 gate, at;
	int		 i;

	kx_buf_init(&b);
	for (i = 1; i < r->n; i++) {
		a[0] = "log";
		l[0] = 3;
		a[1] = r->nd[i].hex;
		l[1] = 2 * KX_PK_LEN;
		if (r->nd[i].state == NS_NEW ||
		    ctl(r, &r->nd[0], &b, 2, a, l) == -1)
			continue;
		for (p = (char *)b.data; p != NULL && *p != '\0'; p = q) {
			if ((q = strchr(p, '\n')) != NULL)
				q++;
			if (strstr(p, "\"type\":\"order\",\"body\":{") == NULL ||
			    (q != NULL && strstr(p, "\"type\":\"order\"") > q))
				continue;
			seq = num_after(p, "\"seq\":");
			slot = num_after(strstr(p, "\"body\":{"), "\"slot\":");
			gate = ((int64_t)slot - (int64_t)r->s->gate_s) * 1000;
			at = seq < r->seen[i].cap ? r->seen[i].op_at[seq] : 0;
			if (at != 0 && at <= gate)
				continue;
			r->res->orders_late++;
			note(r, "order %s#%" PRIu64 " for slot %" PRIu64 " reached "
			    "the operator %s%.3f s after the gate", r->nd[i].name,
			    seq, slot, at == 0 ? "(before the polls began?) " : "",
			    (double)(at - gate) / 1000.0);
			if (late_add(r, slot) == -1) {
				kx_buf_free(&b);
				return fail(r, "out of memory");
			}
		}
	}
	kx_buf_free(&b);
	return 0;
}

/*
 * Disputes in a node's market status that the run explains: a clear of a
 * slot with an order the operator got after the gate (late_orders).
 * Disputes beyond the ones listed (16 newest) count as unexplained.
 */
static uint64_t
explained(run_t *r, const char *mk)
{
	const char	*p = strstr(mk, "\"disputes\":[");
	uint64_t	 n = 0, slot;
	size_t		 i;

	while (p != NULL && (p = strstr(p, "{\"slot\":")) != NULL) {
		slot = strtoull(p + 8, NULL, 10);
		p = strstr(p, "\"what\":\"");
		if (p == NULL || strncmp(p + 8, "clear\"", 6) != 0)
			continue;
		for (i = 0; i < r->nlate; i++)
			if (r->late[i] == slot) {
				n++;
				break;
			}
	}
	return n;
}

/* DIR/NAME-ledger.json: the node's ledger as compared (best effort). */
static void
save_ledger(run_t *r, const node_t *t, const kx_buf_t *b)
{
	char	 p[PATH_LEN + 32];
	FILE	*f;

	if (b->data == NULL)
		return;
	snprintf(p, sizeof(p), "%s-ledger.json", t->dir);
	if ((f = fopen(p, "w")) != NULL) {
		fprintf(f, "%s\n", (const char *)b->data);
		fclose(f);
	} else
		note(r, "%s: %s", p, strerror(errno));
}

/*
 * One snapshot of every ledger: the operator's before and after the
 * members' (led[0]), so that a settle posted meanwhile cannot make a
 * stale reference. 1 when every member up holds the operator's ledger
 * and the operator's did not change, else 0. led[i] is reset for a node
 * that did not answer.
 */
static int
snapshot(run_t *r, kx_buf_t *led, kx_buf_t *again)
{
	int	 i, same = 0, up = 0;

	kx_buf_reset(&led[0]);
	if (ctl1(r, &r->nd[0], &led[0], "ledger") == -1)
		return 0;
	for (i = 1; i < r->n; i++) {
		kx_buf_reset(&led[i]);
		if (r->nd[i].state != NS_UP)
			continue;
		up++;
		if (ctl1(r, &r->nd[i], &led[i], "ledger") == -1) {
			kx_buf_reset(&led[i]);
			continue;
		}
		if (strcmp((char *)led[i].data, (char *)led[0].data) == 0)
			same++;
	}
	if (ctl1(r, &r->nd[0], again, "ledger") == -1 ||
	    strcmp((char *)again->data, (char *)led[0].data) != 0)
		return 0;
	return same == up;
}

static bool
led_same(const kx_buf_t *a, const kx_buf_t *b)
{
	return a->len > 0 && b->len > 0 && a->len == b->len &&
	    memcmp(a->data, b->data, a->len) == 0;
}

/*
 * Waits until every member up holds a ledger equal to the operator's
 * (or AGREE_WAIT_MS passed), then counts agreement and disputes.
 */
static int
agreement(run_t *r, FILE *nodes)
{
	kx_buf_t	 led[NODES_MAX], b, again;
	int64_t		 end = now_ms() + AGREE_WAIT_MS;
	int		 i, rc = -1;
	const char	*mk;
	uint64_t	 nd, ne;

	for (i = 0; i < NODES_MAX; i++)
		kx_buf_init(&led[i]);
	kx_buf_init(&b);
	kx_buf_init(&again);
	if (r->nd[0].state != NS_UP)
		note(r, "the operator is down at the end: no reference ledger");
	else {
		while (!snapshot(r, led, &again) && now_ms() < end &&
		    !stop_req) {
			(void)round_all(r);
			usleep(300000);
		}
		if (late_orders(r) == -1)
			goto out;
	}
	fprintf(nodes, "node role state messages clears_agreed "
	    "settles_agreed disputes ledger\n");
	for (i = 0; i < r->n; i++) {
		node_t	*t = &r->nd[i];
		bool	 eq;

		if (t->state != NS_UP) {
			fprintf(nodes, "%s %s %s - - - - -\n", t->name, t->role,
			    t->state == NS_NEW ? "never-joined" : "down");
			continue;
		}
		if (ctl1(r, t, &b, "status") == -1 || (mk = strstr((char *)
		    b.data, "\"market\":")) == NULL) {
			fprintf(nodes, "%s %s no-answer - - - - -\n", t->name,
			    t->role);
			if (i > 0)
				r->res->nodes_checked++;
			continue;
		}
		nd = num_after(mk, "\"disputes_total\":");
		ne = explained(r, mk);
		r->res->disputes += nd;
		r->res->disputes_explained += ne;
		if (i == 0) {
			r->res->cleared = num_after(mk, "\"cleared\":");
			r->res->settled = num_after(mk, "\"settled\":");
		}
		eq = i > 0 && led_same(&led[i], &led[0]);
		save_ledger(r, t, &led[i]);
		fprintf(nodes, "%s %s up %" PRIu64 " %" PRIu64 " %" PRIu64
		    " %" PRIu64 "(%" PRIu64 " explained) %s\n", t->name,
		    t->role, num_after((char *)b.data, "\"messages\":"),
		    num_after(mk, "\"clears_agreed\":"),
		    num_after(mk, "\"settles_agreed\":"), nd, ne, i == 0 ?
		    "reference" : eq ? "same" : "DIFFERS");
		if (i > 0) {
			r->res->nodes_checked++;
			if (eq && nd == ne)
				r->res->nodes_agreeing++;
		}
	}
	rc = 0;
out:
	for (i = 0; i < NODES_MAX; i++)
		kx_buf_free(&led[i]);
	kx_buf_free(&b);
	kx_buf_free(&again);
	return rc;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void
figures(run_t *r)
{
	kx_net_result_t		*res = r->res;
	kx_relay_stats_t	 rs;

	res->deliveries = r->nlat;
	if (r->nlat > 0) {
		qsort(r->lat, r->nlat, sizeof(*r->lat), cmp64);
		res->lat_p50_ms = r->lat[(r->nlat - 1) * 50 / 100];
		res->lat_p90_ms = r->lat[(r->nlat - 1) * 90 / 100];
		res->lat_p99_ms = r->lat[(r->nlat - 1) * 99 / 100];
		res->lat_max_ms = r->lat[r->nlat - 1];
	}
	if (r->rounds > 0)
		res->poll_round_ms = r->round_ms_sum / (int64_t)r->rounds;
	if (r->relay != NULL) {
		kx_relay_stats(r->relay, &rs);
		res->relay_bytes = rs.bytes;
		res->relay_cut = rs.cut;
		res->relay_refused = rs.refused;
	}
}

static void
teardown(run_t *r)
{
	int	 i;

	for (i = 0; i < r->n; i++) {	/* all at once, then wait */
		probe_close(&r->nd[i]);
		if (r->nd[i].pid > 0)
			kill(r->nd[i].pid, SIGTERM);
		if (r->nd[i].meter_pid > 0)
			kill(r->nd[i].meter_pid, SIGTERM);
	}
	for (i = 0; i < r->n; i++) {
		reap(&r->nd[i].pid, SIGTERM);
		reap(&r->nd[i].meter_pid, SIGTERM);
	}
	kx_relay_free(&r->relay);
	if (r->zctx != NULL)
		zmq_ctx_term(r->zctx);
	for (i = 0; i < NODES_MAX; i++) {
		free(r->seen[i].first);
		free(r->seen[i].born_lo);
		free(r->seen[i].op_at);
	}
	free(r->lat);
	free(r->cu);
	free(r->late);
}

/* ---- the run ----------------------------------------------------- */

static int
prepare_dir(run_t *r)
{
	char		 p[PATH_LEN + 16], abs[PATH_MAX];
	struct stat	 st;

	if (strlen(r->o->out) > PATH_LEN - 64)
		return fail(r, "--out: a path of at most %d bytes, please",
		    PATH_LEN - 64);
	if (access(r->o->node_bin, X_OK) == -1)
		return fail(r, "%s: %s (build it with make, or set "
		    "KAGA_NODE)", r->o->node_bin, strerror(errno));
	if (access(r->o->meter_bin, X_OK) == -1)
		return fail(r, "%s: %s (build it with make, or set "
		    "KAGA_METER_SIM)", r->o->meter_bin, strerror(errno));
	if (mkdir(r->o->out, 0755) == -1 && errno != EEXIST)
		return fail(r, "%s: %s", r->o->out, strerror(errno));
	snprintf(p, sizeof(p), "%s/op", r->o->out);
	if (stat(p, &st) == 0)
		return fail(r, "%s holds an earlier run (%s): remove it or "
		    "give another --out", r->o->out, p);
	if (realpath(r->o->out, abs) == NULL)
		return fail(r, "%s: %s", r->o->out, strerror(errno));
	if (strlen(abs) > PATH_LEN - 64)
		return fail(r, "%s: a path of at most %d bytes, please", abs,
		    PATH_LEN - 64);
	memcpy(r->out, abs, strlen(abs) + 1);
	return 0;
}

static int
prepare(run_t *r)
{
	char	 json[512];
	int	 i;

	if (setup(r) == -1)
		return -1;
	if (start_node(r, &r->nd[0]) == -1)
		return -1;
	snprintf(json, sizeof(json), "{\"from\":0,\"slot_s\":%u,\"gate_s\":%u,"
	    "\"floor\":800,\"ceiling\":3100,\"fee\":500,\"time_limit\":600,"
	    "\"pt_value\":100000}", r->s->slot_s, r->s->gate_s);
	if (publish(r, &r->nd[0], "market", json) == -1)
		return -1;
	for (i = 1; i <= (int)r->s->members; i++)
		if (admit(r, &r->nd[i]) == -1 ||
		    start_meter(r, &r->nd[i]) == -1)
			return -1;
	for (i = 1; i <= (int)r->s->members; i++)
		if (start_node(r, &r->nd[i]) == -1)
			return -1;
	return 0;
}

/* Rounds until every node holds the operator's admissions (or 30 s). */
static int
settle_in(run_t *r)
{
	int64_t	 end = now_ms() + 30000;
	int	 i;
	bool	 all = false;

	while (!all && now_ms() < end && !stop_req) {
		if (round_all(r) == -1)
			return -1;
		for (i = 1, all = r->nd[0].polled; i <= (int)r->s->members &&
		    all; i++)
			all = r->nd[i].polled &&
			    r->nd[i].heads[0] >= r->nd[0].heads[0];
		if (!all)
			usleep(100000);
	}
	if (!all && !stop_req)
		return fail(r, "the members did not get the operator's "
		    "messages in 30 s (see the logs in %s)", r->o->out);
	return 0;
}

static int
main_loop(run_t *r)
{
	int64_t		 end = r->t0 + (int64_t)r->s->slots * r->s->slot_s *
	    1000 + TAIL_MS;
	size_t		 next = 0;
	int64_t		 slot_ms = (int64_t)r->s->slot_s * 1000, last_slot = -1;

	while (!stop_req && now_ms() < end) {
		int64_t	 t = now_ms(), k = (t - r->t0) / slot_ms;
		int	 i, up = 0;

		while (next < r->s->nev && t >= r->t0 + r->s->ev[next].at_ms)
			if (apply(r, &r->s->ev[next++]) == -1)
				return -1;
		if (t >= r->t0 && k != last_slot && k < (int64_t)r->s->slots) {
			for (i = 0; i < r->n; i++)
				up += r->nd[i].state == NS_UP;
			note(r, "slot %" PRId64 " of %u starts: %d nodes up%s, "
			    "%zu deliveries so far", k + 1, r->s->slots, up,
			    r->part_on ? ", partitioned" : "", r->nlat);
			last_slot = k;
		}
		if (round_all(r) == -1)
			return -1;
		usleep(ROUND_SLEEP_US);
	}
	while (next < r->s->nev && !stop_req)	/* events in the tail */
		if (apply(r, &r->s->ev[next++]) == -1)
			return -1;
	return 0;
}

static FILE *
out_file(run_t *r, const char *name)
{
	char	 p[PATH_LEN + 32];
	FILE	*f;

	snprintf(p, sizeof(p), "%s/%s", r->o->out, name);
	if ((f = fopen(p, "w")) == NULL)
		fail(r, "%s: %s", p, strerror(errno));
	return f;
}

static int
write_results(run_t *r)
{
	const kx_net_result_t	*x = r->res;
	FILE			*f;
	char			*txt;
	size_t			 need;

	if ((f = out_file(r, "results.txt")) == NULL)
		return -1;
	fprintf(f, "members = %u\nlate = %u\nslots = %u\nslot_s = %u\n"
	    "gossip_ms = %u\ndegree = %u\n", r->s->members, r->s->late,
	    r->s->slots, r->s->slot_s, r->s->gossip_ms, r->s->degree);
	fprintf(f, "deliveries = %" PRIu64 "\nlatency_p50_ms = %" PRId64
	    "\nlatency_p90_ms = %" PRId64 "\nlatency_p99_ms = %" PRId64
	    "\nlatency_max_ms = %" PRId64 "\npoll_round_ms = %" PRId64
	    "\nleaks = %" PRIu64 "\ncleared = %" PRIu64 "\nsettled = %" PRIu64
	    "\nnodes_checked = %" PRIu64 "\nnodes_agreeing = %" PRIu64
	    "\ndisputes = %" PRIu64 "\ndisputes_explained = %" PRIu64
	    "\norders_late = %" PRIu64
	    "\ncatchups = %" PRIu64
	    "\ncatchups_done = %" PRIu64 "\ncatchup_max_ms = %" PRId64
	    "\ncatchup_messages = %" PRIu64 "\nrelay_bytes = %" PRIu64
	    "\nrelay_cut = %" PRIu64 "\nrelay_refused = %" PRIu64
	    "\nagreed = %s\n", x->deliveries, x->lat_p50_ms, x->lat_p90_ms,
	    x->lat_p99_ms, x->lat_max_ms, x->poll_round_ms, x->leaks,
	    x->cleared, x->settled, x->nodes_checked, x->nodes_agreeing,
	    x->disputes, x->disputes_explained, x->orders_late, x->catchups,
	    x->catchups_done, x->catchup_max_ms,
	    x->catchup_msgs, x->relay_bytes, x->relay_cut, x->relay_refused,
	    kx_net_agreed(x) ? "yes" : "no");
	if (fclose(f) != 0)
		return fail(r, "results.txt: %s", strerror(errno));
	need = kx_netscript_format(r->s, NULL, 0);
	if ((txt = malloc(need + 1)) == NULL)
		return fail(r, "out of memory");
	kx_netscript_format(r->s, txt, need + 1);
	if ((f = out_file(r, "script.txt")) == NULL) {
		free(txt);
		return -1;
	}
	fputs(txt, f);
	free(txt);
	if (fclose(f) != 0)
		return fail(r, "script.txt: %s", strerror(errno));
	return 0;
}

bool
kx_net_agreed(const kx_net_result_t *x)
{
	return x->leaks == 0 && x->disputes == x->disputes_explained &&
	    x->nodes_agreeing == x->nodes_checked && x->nodes_checked > 0 &&
	    x->catchups_done == x->catchups;
}

int
kx_net_run(const kx_netscript_t *s, const kx_net_opts_t *o,
    kx_net_result_t *res, char *err, size_t errlen)
{
	run_t			*r;
	struct sigaction	 sa, old_int, old_term;
	FILE			*nodes = NULL;
	int			 rc = -1;
	size_t			 i;

	memset(res, 0, sizeof(*res));
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->s = s;
	r->o = o;
	r->res = res;
	r->err = err;
	r->errlen = errlen;
	r->n = 1 + (int)s->members + (int)s->late;
	r->t0 = now_ms();
	stop_req = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if ((r->zctx = zmq_ctx_new()) == NULL) {
		fail(r, "zmq: %s", zmq_strerror(errno));
		goto done;
	}
	if (prepare_dir(r) == -1 || (r->events = out_file(r,
	    "events.txt")) == NULL || prepare(r) == -1 ||
	    settle_in(r) == -1 || (r->latcsv = out_file(r,
	    "latency.csv")) == NULL)
		goto done;
	fputs("author,seq,node,latency_ms\n", r->latcsv);
	r->nlat = 0;	/* the figures cover the slots, not the start */
	r->rounds = 0;
	r->round_ms_sum = 0;
	/* the first slot: on a boundary at least one slot away */
	r->t0 = (now_ms() / 1000 / s->slot_s + 2) * s->slot_s * 1000;
	note(r, "%d nodes (%u up, %u to join), %u slots of %u s from %lld",
	    r->n, 1 + s->members, s->late, s->slots, s->slot_s,
	    (long long)(r->t0 / 1000));
	for (i = 0; i < (size_t)r->n; i++)
		r->nd[i].epoch_ms = r->nd[i].state == NS_UP ? now_ms() : 0;
	if (main_loop(r) == -1)
		goto done;
	if (stop_req)
		note(r, "interrupted: the figures cover what ran");
	if ((nodes = out_file(r, "nodes.txt")) == NULL ||
	    agreement(r, nodes) == -1)
		goto done;
	figures(r);
	if (write_results(r) == -1)
		goto done;
	rc = 0;
done:
	if (nodes != NULL)
		fclose(nodes);
	if (r->events != NULL)
		fclose(r->events);
	if (r->latcsv != NULL)
		fclose(r->latcsv);
	teardown(r);
	free(r);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}
