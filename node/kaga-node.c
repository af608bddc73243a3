/*
 * kaga-node - the kaga-exchange daemon.
 *
 *   kaga-node [-dnv] [-c FILE]
 *
 * -c FILE  configuration (default /etc/kaga/kaga-node.conf)
 * -d       stay in the foreground and log to stderr (syslog otherwise)
 * -n       check the configuration and exit
 * -v       verbose (debug) logging
 *
 * SIGTERM or SIGINT stop it cleanly (the store is committed); SIGHUP
 * reloads peers and limits from the configuration file.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "config.h"
#include "log.h"
#include "node.h"

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		kx_reload = 1;
	else
		kx_quit = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: kaga-node [-dnv] [-c FILE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	const char	*path = "/etc/kaga/kaga-node.conf";
	kx_conf_t	 conf;
	kx_node_t	*n;
	char		 err[1024];
	int		 ch, fg = 0, check = 0, verbose = 0, rc;

	while ((ch = getopt(argc, argv, "c:dnv")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'd': fg = 1; break;
		case 'n': check = 1; break;
		case 'v': verbose++; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("kaga-node", fg || check, verbose);
	if (sodium_init() < 0)
		fatalx("libsodium failed to start");
	memset(&conf, 0, sizeof(conf));
	if (kx_conf_load(&conf, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaga-node: %s\n", err);
		return 1;
	}
	if (check) {
		fprintf(stderr, "kaga-node: %s: configuration OK\n", path);
		kx_conf_free(&conf);
		return 0;
	}
	if (verbose == 0 && conf.log_level == 0)
		log_setverbose(1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!fg && daemon(0, 0) == -1)
		fatal("daemon");
	if ((n = kx_node_new(&conf, err, sizeof(err))) == NULL) {
		kx_conf_free(&conf);
		fatalx("%s", err);
	}
	kx_conf_free(&conf);
	rc = kx_node_run(n);
	kx_node_destroy(&n);
	return rc == 0 ? 0 : 1;
}
