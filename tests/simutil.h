/*
 * simutil.h - kaga-meter-sim for the tests and benches: where the binary
 * is ($KAGA_METER_SIM, set by tests/run.sh and make bench), whether a
 * loopback TCP port answers, and starting a simulator, waiting until it
 * listens. Header-only (static inline), like testutil.h.
 */
#ifndef KX_SIMUTIL_H
#define KX_SIMUTIL_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline const char *
tsim_path(void)
{
	const char	*p = getenv("KAGA_METER_SIM");

	return p != NULL ? p : "build/rel/bin/kaga-meter-sim";
}

/* 1 when something accepts TCP connections on 127.0.0.1:port. */
static inline int
tport_open(int port)
{
	struct sockaddr_in	 sin;
	int			 s, rc;

	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(s, (struct sockaddr *)&sin, sizeof(sin));
	close(s);
	return rc == 0;
}

/* fork + exec of argv (stdout and stderr to /dev/null); -1 on failure. */
static inline pid_t
tspawn(const char *path, char *const argv[])
{
	pid_t	 pid;
	int	 fd;

	if ((pid = fork()) == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(path, argv);
		_exit(127);
	}
	return pid;
}

/*
 * Starts kaga-meter-sim with argv (argv[0] any name) and waits up to 3 s
 * until port answers. The pid, or -1 (the child is killed and reaped).
 */
static inline pid_t
tsim_start_argv(char *const argv[], int port)
{
	struct timespec	 ts = { 0, 20000000 };
	pid_t		 pid;
	int		 i;

	if ((pid = tspawn(tsim_path(), argv)) == -1)
		return -1;
	for (i = 0; i < 150; i++) {
		if (tport_open(port))
			return pid;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

#endif
