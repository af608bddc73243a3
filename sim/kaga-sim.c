/*
 * kaga-sim - policy simulation of a synthetic Kaga with the project's own
 * market code (docs/sim.md).
 *
 *   kaga-sim run [--scenario FILE] [--seed N] [--days D] [--out DIR]
 *       [--threads N] [--quiet]
 *   kaga-sim compare [--seed N] [--days D] [--threads N] [--quiet] A B
 *   kaga-sim scenario        # the default scenario, every key documented
 *   kaga-sim net [--script FILE] [--out DIR] [--quiet]
 *   kaga-sim net-script      # the default protocol script
 *
 * `run` simulates the scenario (the built-in default without --scenario),
 * prints a short summary and writes DIR/report.html (self-contained,
 * inline SVG), DIR/slots.csv (one row per market slot), DIR/results.txt
 * (every metric) and DIR/scenario.txt (the scenario run); DIR defaults to
 * ./kaga-sim-out. `compare` runs two scenario files and prints every
 * metric of both with the difference. Progress goes to stderr about once
 * a second on long runs.
 * `net` is the protocol mode (sim/net.h): real kaga-node processes on
 * loopback run the script (sim/netscript.h; the built-in one without
 * --script) and the run reports dissemination latency, clearing
 * agreement, catch-up and partition leaks; DIR defaults to ./kaga-sim-net.
 * Exit status: 0 ok, 1 failure (a file cannot be read or written, out of
 * memory, a node that does not start), 2 usage error or a bad scenario or
 * script file (the message names the file, line and key), 3 (net only)
 * the run went through but the nodes did not agree, a catch-up did not
 * finish or a message crossed a partition.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "net.h"
#include "netscript.h"
#include "report.h"
#include "scenario.h"

#define EXIT_USAGE	2

static const char *prog = "kaga-sim";

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: kaga-sim run [--scenario FILE] [--seed N] [--days D] "
	    "[--out DIR]\n"
	    "                    [--threads N] [--quiet]\n"
	    "       kaga-sim compare [--seed N] [--days D] [--threads N] "
	    "[--quiet] A B\n"
	    "       kaga-sim scenario\n"
	    "       kaga-sim net [--script FILE] [--out DIR] [--quiet]\n"
	    "       kaga-sim net-script\n");
}

/* Options shared by run and compare. */
typedef struct {
	const char	*scenario, *out;
	bool		 has_seed, has_days, quiet;
	uint64_t	 seed, days;
	unsigned	 threads;
} opts_t;

static bool
num(uint64_t *v, const char *s, uint64_t lo, uint64_t hi)
{
	char			*e;
	unsigned long long	 x;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	x = strtoull(s, &e, 10);
	if (errno != 0 || *e != '\0' || x < lo || x > hi)
		return false;
	*v = x;
	return true;
}

/* Parses options; returns the index of the first operand or -1. */
static int
parse_opts(opts_t *o, int argc, char **argv, bool run)
{
	static const struct option lo[] = {
		{ "scenario", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "days", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t	 v;
	int		 c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'o':
			if (!run) {
				fprintf(stderr, "%s: compare: --%s is for run\n",
				    prog, c == 's' ? "scenario" : "out");
				return -1;
			}
			if (c == 's')
				o->scenario = optarg;
			else
				o->out = optarg;
			break;
		case 'S':
			if (!num(&o->seed, optarg, 0, UINT64_MAX)) {
				fprintf(stderr, "%s: --seed: expected an integer "
				    "from 0 to 2^64-1, got '%s'\n", prog, optarg);
				return -1;
			}
			o->has_seed = true;
			break;
		case 'd':
			if (!num(&o->days, optarg, 1, 3660)) {
				fprintf(stderr, "%s: --days: expected 1..3660, "
				    "got '%s'\n", prog, optarg);
				return -1;
			}
			o->has_days = true;
			break;
		case 't':
			if (!num(&v, optarg, 1, 64)) {
				fprintf(stderr, "%s: --threads: expected 1..64, "
				    "got '%s'\n", prog, optarg);
				return -1;
			}
			o->threads = (unsigned)v;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "%s: unknown or incomplete option '%s'\n",
			    prog, argv[optind - 1]);
			return -1;
		}
	}
	return optind;
}

/*
 * Loads a scenario file (or the default for path NULL) with the
 * overrides. Returns 0, 1 (cannot read) or 2 (bad scenario).
 */
static int
load(kx_scen_t *sc, const char *path, const opts_t *o)
{
	static char	 buf[KX_SCEN_FILE_MAX + 1];
	char		 err[KX_SCEN_ERR_MAX];
	FILE		*f;
	size_t		 n;

	if (path == NULL)
		kx_scen_default(sc);
	else {
		if ((f = fopen(path, "rb")) == NULL) {
			fprintf(stderr, "%s: %s: %s\n", prog, path,
			    strerror(errno));
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		if (ferror(f)) {
			fprintf(stderr, "%s: %s: read error\n", prog, path);
			fclose(f);
			return 1;
		}
		fclose(f);
		if (kx_scen_parse(sc, buf, n, path, err, sizeof(err)) !=
		    KX_SCEN_OK) {
			fprintf(stderr, "%s: %s\n", prog, err);
			return 2;
		}
	}
	if (o->has_seed)
		sc->seed = o->seed;
	if (o->has_days)
		sc->days = o->days;
	if (kx_scen_check(sc, err, sizeof(err)) != KX_SCEN_OK) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 2;
	}
	return 0;
}

static int
simulate(kx_sim_res_t **res, const kx_scen_t *sc, const opts_t *o)
{
	kx_sim_opt_t	 opt;
	char		 err[256];
	int		 r;

	memset(&opt, 0, sizeof(opt));
	opt.threads = o->threads;
	opt.progress = !o->quiet;
	if ((r = kx_sim_run(res, sc, &opt, err, sizeof(err))) != KX_SIM_OK) {
		fprintf(stderr, "%s: %s: %s\n", prog, sc->name, err);
		return r == KX_SIM_EINVAL ? 2 : 1;
	}
	return 0;
}

/* Opens DIR/name for writing; NULL after a message. */
static FILE *
out_file(char *path, size_t size, const char *dir, const char *name)
{
	FILE	*f;

	snprintf(path, size, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
	return f;
}

static int
close_file(FILE *f, const char *path)
{
	if (ferror(f) | (fclose(f) != 0)) {
		fprintf(stderr, "%s: %s: write error\n", prog, path);
		return 1;
	}
	return 0;
}

static int
write_outputs(const kx_sim_res_t *res, const char *dir)
{
	char	 path[4096], *txt;
	size_t	 n;
	FILE	*f;
	int	 rc = 0;

	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
		return 1;
	}
	if ((f = out_file(path, sizeof(path), dir, "report.html")) == NULL)
		return 1;
	kx_sim_write_html(f, res);
	rc |= close_file(f, path);
	if ((f = out_file(path, sizeof(path), dir, "slots.csv")) == NULL)
		return 1;
	kx_sim_write_csv(f, res);
	rc |= close_file(f, path);
	if ((f = out_file(path, sizeof(path), dir, "results.txt")) == NULL)
		return 1;
	kx_sim_write_results(f, res);
	rc |= close_file(f, path);
	if ((f = out_file(path, sizeof(path), dir, "scenario.txt")) == NULL)
		return 1;
	n = kx_scen_format(NULL, 0, &res->sc);
	if ((txt = malloc(n + 1)) == NULL) {
		fclose(f);
		return 1;
	}
	kx_scen_format(txt, n + 1, &res->sc);
	fputs(txt, f);
	free(txt);
	rc |= close_file(f, path);
	return rc;
}

static int
cmd_run(int argc, char **argv)
{
	opts_t		 o;
	kx_scen_t	 sc;
	kx_sim_res_t	*res = NULL;
	const char	*dir;
	int		 i, rc;

	if ((i = parse_opts(&o, argc, argv, true)) < 0)
		return EXIT_USAGE;
	if (i != argc) {
		fprintf(stderr, "%s: run: unexpected argument '%s'\n", prog,
		    argv[i]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((rc = load(&sc, o.scenario, &o)) != 0)
		return rc;
	if ((rc = simulate(&res, &sc, &o)) != 0)
		return rc;
	dir = o.out != NULL ? o.out : "kaga-sim-out";
	kx_sim_summary(stdout, res);
	rc = write_outputs(res, dir);
	if (rc == 0)
		printf("  files: %s/report.html, %s/slots.csv, %s/results.txt\n",
		    dir, dir, dir);
	kx_sim_res_free(&res);
	return rc;
}

static int
cmd_compare(int argc, char **argv)
{
	opts_t		 o;
	kx_scen_t	 sa, sb;
	kx_sim_res_t	*ra = NULL, *rb = NULL;
	int		 i, rc;

	if ((i = parse_opts(&o, argc, argv, false)) < 0)
		return EXIT_USAGE;
	if (argc - i != 2) {
		fprintf(stderr, "%s: compare: expected two scenario files\n",
		    prog);
		usage(stderr);
		return EXIT_USAGE;
	}
	/* both files are checked before either runs */
	if ((rc = load(&sa, argv[i], &o)) != 0 ||
	    (rc = load(&sb, argv[i + 1], &o)) != 0)
		return rc;
	if ((rc = simulate(&ra, &sa, &o)) != 0)
		return rc;
	if ((rc = simulate(&rb, &sb, &o)) != 0) {
		kx_sim_res_free(&ra);
		return rc;
	}
	printf("A: %s (%s)\nB: %s (%s)\n", argv[i], sa.name, argv[i + 1],
	    sb.name);
	kx_sim_compare(stdout, ra, rb);
	kx_sim_res_free(&ra);
	kx_sim_res_free(&rb);
	return 0;
}

static int
cmd_scenario(int argc, char **argv)
{
	kx_scen_t	 sc;
	char		*txt;
	size_t		 n;

	(void)argv;
	if (argc != 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	kx_scen_default(&sc);
	n = kx_scen_format(NULL, 0, &sc);
	if ((txt = malloc(n + 1)) == NULL)
		return 1;
	kx_scen_format(txt, n + 1, &sc);
	fputs(txt, stdout);
	free(txt);
	return 0;
}

/* The default protocol script: every kind of event once. */
static const char DEFAULT_NET[] =
    "# kaga-sim net: the built-in script (kaga-sim net-script prints it)\n"
    "members 8\nlate 1\nslots 8\nslot-s 10\ngate-s 3\ndegree 3\n"
    "gossip-ms 250\nseed 1\n"
    "at 12 stop m2        # a clean stop\n"
    "at 15 kill m3        # a crash\n"
    "at 28 start m2 m3    # both come back and catch up\n"
    "at 31 join m9        # a new member is admitted and starts\n"
    "at 42 partition m5-m8   # four members cut off from the operator\n"
    "at 58 heal\n";

/* A binary next to our own (build/rel/bin, or the installed bindir). */
static void
sibling(char *out, size_t len, const char *env, const char *name)
{
	char		 self[4096];
	const char	*e = getenv(env);
	ssize_t		 n;
	char		*slash;

	if (e != NULL && *e != '\0') {
		snprintf(out, len, "%s", e);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		snprintf(out, len, "%s", name);
		return;
	}
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	snprintf(out, len, "%s/%s", self, name);
}

static int
read_file(const char *path, char **text, size_t *len)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	if ((buf = malloc(KX_NET_FILE_MAX + 1)) == NULL) {
		fclose(f);
		return 1;
	}
	n = fread(buf, 1, KX_NET_FILE_MAX + 1, f);
	if (ferror(f)) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	*text = buf;
	*len = n;
	return 0;
}

static void
net_summary(const kx_netscript_t *s, const kx_net_result_t *x,
    const char *dir)
{
	printf("kaga-sim net: %u members (+%u joining), %u slots of %u s, "
	    "gossip every %u ms\n", s->members, s->late, s->slots, s->slot_s,
	    s->gossip_ms);
	printf("  dissemination  %" PRIu64 " deliveries to live nodes: p50 %"
	    PRId64 " ms, p90 %" PRId64 " ms, p99 %" PRId64 " ms, max %" PRId64
	    " ms\n                 (resolution: one poll round, %" PRId64
	    " ms; gossip interval %u ms)\n", x->deliveries, x->lat_p50_ms,
	    x->lat_p90_ms, x->lat_p99_ms, x->lat_max_ms, x->poll_round_ms,
	    s->gossip_ms);
	printf("  clearing       %" PRIu64 " slots cleared, %" PRIu64
	    " settled by the operator; %" PRIu64 " of %" PRIu64 " members up "
	    "agree (ledger equal to the operator's, no unexplained dispute)"
	    ";\n                 %" PRIu64 " disputes on all nodes, %" PRIu64
	    " of them explained by %" PRIu64 " orders that reached the "
	    "operator after the gate\n", x->cleared, x->settled,
	    x->nodes_agreeing, x->nodes_checked, x->disputes,
	    x->disputes_explained, x->orders_late);
	printf("  catch-up       %" PRIu64 " of %" PRIu64 " done, slowest %.3f s,"
	    " %" PRIu64 " messages fetched\n", x->catchups_done, x->catchups,
	    (double)x->catchup_max_ms / 1000.0, x->catchup_msgs);
	printf("  partition      %" PRIu64 " messages crossed a cut (must be 0);"
	    " relays: %" PRIu64 " connections cut, %" PRIu64 " refused, %"
	    PRIu64 " bytes\n", x->leaks, x->relay_cut, x->relay_refused,
	    x->relay_bytes);
	printf("  verdict        %s\n", kx_net_agreed(x) ? "AGREED" :
	    "NOT AGREED (see nodes.txt and events.txt)");
	printf("  files: %s/results.txt, nodes.txt, events.txt, latency.csv, "
	    "script.txt; node logs %s/*.log\n", dir, dir);
}

static int
cmd_net(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "script", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	kx_netscript_t	*s;
	kx_net_opts_t	 o;
	kx_net_result_t	 res;
	const char	*script = NULL, *name = "(built-in)";
	char		 node_bin[4200], meter_bin[4200], err[512];
	char		*text = NULL;
	size_t		 len;
	int		 c, rc;

	memset(&o, 0, sizeof(o));
	o.out = "kaga-sim-net";
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			script = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "%s: net: unknown or incomplete option "
			    "'%s'\n", prog, argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: net: unexpected argument '%s'\n", prog,
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (script != NULL) {
		if ((rc = read_file(script, &text, &len)) != 0)
			return rc;
		name = script;
	} else
		len = strlen(DEFAULT_NET);
	if ((s = malloc(sizeof(*s))) == NULL) {
		free(text);
		return 1;
	}
	if (kx_netscript_parse(s, text != NULL ? text : DEFAULT_NET, len,
	    name, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		free(text);
		free(s);
		return EXIT_USAGE;
	}
	free(text);
	sibling(node_bin, sizeof(node_bin), "KAGA_NODE", "kaga-node");
	sibling(meter_bin, sizeof(meter_bin), "KAGA_METER_SIM",
	    "kaga-meter-sim");
	o.node_bin = node_bin;
	o.meter_bin = meter_bin;
	if (kx_net_run(s, &o, &res, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: net: %s\n", prog, err);
		free(s);
		return 1;
	}
	net_summary(s, &res, o.out);
	rc = kx_net_agreed(&res) ? 0 : 3;
	free(s);
	return rc;
}

static int
cmd_net_script(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	fputs(DEFAULT_NET, stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	int	 rc;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "run") == 0)
		rc = cmd_run(argc - 1, argv + 1);
	else if (strcmp(argv[1], "compare") == 0)
		rc = cmd_compare(argc - 1, argv + 1);
	else if (strcmp(argv[1], "scenario") == 0)
		rc = cmd_scenario(argc - 1, argv + 1);
	else if (strcmp(argv[1], "net") == 0)
		rc = cmd_net(argc - 1, argv + 1);
	else if (strcmp(argv[1], "net-script") == 0)
		rc = cmd_net_script(argc - 1, argv + 1);
	else if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		rc = 0;
	} else {
		fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
		usage(stderr);
		rc = EXIT_USAGE;
	}
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "%s: stdout: write error\n", prog);
		rc = 1;
	}
	return rc;
}
