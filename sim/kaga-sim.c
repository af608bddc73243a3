/*
 * kaga-sim - policy simulation of a synthetic Kaga with the project's own
 * market code (docs/sim.md).
 *
 *   kaga-sim run [--scenario FILE] [--seed N] [--days D] [--out DIR]
 *       [--threads N] [--quiet]
 *   kaga-sim compare [--seed N] [--days D] [--threads N] [--quiet] A B
 *   kaga-sim scenario        # the default scenario, every key documented
 *
 * `run` simulates the scenario (the built-in default without --scenario),
 * prints a short summary and writes DIR/report.html (self-contained,
 * inline SVG), DIR/slots.csv (one row per market slot), DIR/results.txt
 * (every metric) and DIR/scenario.txt (the scenario run); DIR defaults to
 * ./kaga-sim-out. `compare` runs two scenario files and prints every
 * metric of both with the difference. Progress goes to stderr about once
 * a second on long runs.
 * Exit status: 0 ok, 1 failure (a file cannot be read or written, out of
 * memory), 2 usage error or a bad scenario file (the message names the
 * file, line and key).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
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
	    "       kaga-sim scenario\n");
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
