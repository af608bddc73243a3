/*
 * netutil.h - run real kaga-node processes on loopback for the network
 * tests and benchmarks: keys, config files, start/stop/kill, the control
 * socket, and waiting for convergence. Header-only (static functions).
 */
#ifndef KX_NETUTIL_H
#define KX_NETUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctlclient.h"
#include "keyfile.h"
#include "testutil.h"

/* The daemon under test: $KAGA_NODE_BIN (set by tests/run.sh). */
static inline const char *
tnode_bin(void)
{
	const char	*b = getenv("KAGA_NODE_BIN");

	return b != NULL ? b : "build/rel/bin/kaga-node";
}

typedef struct {
	char	 dir[256];	/* data folder (node.key, store, control) */
	char	 conf[300];
	char	 hex[2 * KX_PK_LEN + 1];
	uint8_t	 pk[KX_PK_LEN];
	int	 port;
	pid_t	 pid;
	char	 extra[1024];	/* more config lines */
	char	 role[16];
} tnode_t;

static inline int64_t
tnow_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A free-looking port: base from the pid so parallel runs differ. */
static inline int
tport(int i)
{
	return 20000 + (getpid() % 120) * 100 + i;	/* below the ephemeral range */
}

/* Makes the node's folder and key; role "household" etc. */
static inline void
tnode_init(tnode_t *t, const char *root, int i, const char *role)
{
	kx_why_t	 why;

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "%s/n%d", root, i);
	snprintf(t->conf, sizeof(t->conf), "%s/n%d.conf", root, i);
	snprintf(t->role, sizeof(t->role), "%s", role);
	t->port = tport(i);
	if (kx_key_generate(t->dir, t->pk, &why) == -1) {
		fprintf(stderr, "keygen: %s\n", why.text);
		abort();
	}
	kx_hex(t->hex, t->pk, KX_PK_LEN);
}

/* Writes the config: operator key op, bootstrap peers boot[0..nboot). */
static inline void
tnode_conf(const tnode_t *t, const tnode_t *op, const tnode_t *const *boot,
    size_t nboot, int interval_ms)
{
	FILE	*f;
	size_t	 i;

	if ((f = fopen(t->conf, "w")) == NULL)
		abort();
	fprintf(f, "data-dir %s\nlisten tcp://127.0.0.1:%d\nrole %s\n"
	    "operator %s\ngossip-interval %d\n", t->dir, t->port, t->role,
	    op->hex, interval_ms);
	for (i = 0; i < nboot; i++)
		fprintf(f, "peer %s tcp://127.0.0.1:%d\n", boot[i]->hex,
		    boot[i]->port);
	fputs(t->extra, f);
	fclose(f);
}

static inline void
tnode_start(tnode_t *t)
{
	char	 logp[400];
	int	 fd;

	snprintf(logp, sizeof(logp), "%.*s.log", (int)sizeof(t->dir) - 1,
	    t->dir);
	if ((t->pid = fork()) == 0) {
		fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(tnode_bin(), "kaga-node", "-d", "-c", t->conf,
		    (char *)NULL);
		_exit(127);
	}
	if (t->pid < 0)
		abort();
}

/* Stops with sig (SIGTERM: clean; SIGKILL: crash) and reaps it. */
static inline int
tnode_stop(tnode_t *t, int sig)
{
	int	 status = 0;

	if (t->pid <= 0)
		return 0;
	kill(t->pid, sig);
	waitpid(t->pid, &status, 0);
	t->pid = 0;
	return status;
}

/* The node's reply to a control request, or -1. */
static inline int
tctl(const tnode_t *t, kx_buf_t *reply, size_t nargs, ...)
{
	const void	*args[4];
	size_t		 lens[4], i;
	va_list		 ap;
	char		 err[256];
	bool		 ok = false;

	va_start(ap, nargs);
	for (i = 0; i < nargs && i < 4; i++) {
		args[i] = va_arg(ap, const void *);
		lens[i] = va_arg(ap, size_t);
	}
	va_end(ap);
	if (kx_ctl_call(t->dir, args, lens, nargs, 5000, &ok, reply, err,
	    sizeof(err)) == -1 || !ok)
		return -1;
	return 0;
}

/* Waits until the node answers on its control socket. */
static inline int
tnode_wait_up(const tnode_t *t, int ms)
{
	kx_buf_t	 r;
	int64_t		 end = tnow_ms() + ms;
	int		 rc = -1;

	kx_buf_init(&r);
	while (tnow_ms() < end) {
		if (tctl(t, &r, 1, "status", (size_t)6) == 0) {
			rc = 0;
			break;
		}
		usleep(50000);
	}
	kx_buf_free(&r);
	return rc;
}

/* Publishes a JSON body of type at node t; returns 0 or -1. */
static inline int
tpublish(const tnode_t *t, const char *type, const char *json)
{
	kx_buf_t	 body, r;
	char		 err[256];
	int		 rc;

	kx_buf_init(&body);
	kx_buf_init(&r);
	if (kx_json_to_mp(&body, json, strlen(json), kx_body_bin_paths(type),
	    err, sizeof(err)) != 0)
		abort();
	rc = tctl(t, &r, 3, "publish", (size_t)7, type, strlen(type),
	    body.data, body.len);
	if (rc != 0)
		fprintf(stderr, "publish at %s: %s\n", t->dir,
		    r.data ? (char *)r.data : "(no reply)");
	kx_buf_free(&body);
	kx_buf_free(&r);
	return rc;
}

/* The operator admits t (with its endpoint). */
static inline int
tadmit(const tnode_t *op, const tnode_t *t)
{
	char	 body[512];

	snprintf(body, sizeof(body), "{\"node\":\"%s\",\"role\":\"%s\","
	    "\"name\":\"n\",\"area\":\"Kaga\",\"endpoint\":"
	    "\"tcp://127.0.0.1:%d\",\"until\":0}", t->hex, t->role, t->port);
	return tpublish(op, "member", body);
}

/* The "heads" part of the node's status (identical logs <=> equal). */
static inline int
theads(const tnode_t *t, char *out, size_t outlen)
{
	kx_buf_t	 r;
	const char	*h;
	int		 rc = -1;

	kx_buf_init(&r);
	if (tctl(t, &r, 1, "status", (size_t)6) == 0 && r.data != NULL &&
	    (h = strstr((char *)r.data, "\"heads\":")) != NULL) {
		snprintf(out, outlen, "%s", h);
		rc = 0;
	}
	kx_buf_free(&r);
	return rc;
}

/* A number from the node's status JSON ("messages", "zap_refused"...). */
static inline long long
tstat(const tnode_t *t, const char *key)
{
	kx_buf_t	 r;
	char		 pat[64];
	const char	*h;
	long long	 v = -1;

	kx_buf_init(&r);
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if (tctl(t, &r, 1, "status", (size_t)6) == 0 && r.data != NULL &&
	    (h = strstr((char *)r.data, pat)) != NULL)
		v = strtoll(h + strlen(pat), NULL, 10);
	kx_buf_free(&r);
	return v;
}

/* The last seq of author hex at node t (0 when it has none; -1 error). */
static inline long long
tauthor_seq(const tnode_t *t, const char *hex)
{
	kx_buf_t	 r;
	char		 pat[128];
	const char	*h;
	long long	 v = -1;

	kx_buf_init(&r);
	snprintf(pat, sizeof(pat), "\"author\":\"%s\",\"seq\":", hex);
	if (tctl(t, &r, 1, "status", (size_t)6) == 0 && r.data != NULL)
		v = (h = strstr((char *)r.data, pat)) != NULL ?
		    strtoll(h + strlen(pat), NULL, 10) : 0;
	kx_buf_free(&r);
	return v;
}

/* Waits until all nodes report the same heads; ms taken, or -1. */
static inline int
tconverge(tnode_t *const *nodes, size_t n, int timeout_ms)
{
	static char	 first[1 << 20], other[1 << 20];
	int64_t		 start = tnow_ms();
	size_t		 i;

	while (tnow_ms() - start < timeout_ms) {
		bool	 same = theads(nodes[0], first, sizeof(first)) == 0;

		for (i = 1; same && i < n; i++)
			same = theads(nodes[i], other, sizeof(other)) == 0 &&
			    strcmp(first, other) == 0;
		if (same)
			return (int)(tnow_ms() - start);
		usleep(100000);
	}
	return -1;
}

#endif
