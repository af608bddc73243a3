/*
 * ctl_meter.c - `kaga-ctl meter read|scan`.
 *
 *   kaga-ctl meter read (--tcp HOST:PORT | --rtu DEV [--baud N]
 *       [--parity N|E|O] [--stop 1|2]) [--unit N]
 *       --profile sdm630|sdm120|sunspec [--timeout MS] [--json]
 *   kaga-ctl meter scan (--tcp HOST:PORT | --rtu DEV ...) [--unit N]
 *       [--timeout MS] [--json]
 *
 * Values are kept as integers (W, Wh, mV, mA, mHz, permille) and printed
 * as decimals only for display (volts, amperes, hertz). Keys of absent
 * values are printed as null. Exit: 0 ok, 1 device failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlutil.h"
#include "buf.h"
#include "ctl_meter.h"
#include "device.h"
#include "profile.h"
#include "sunspec.h"

#define EXIT_USAGE	2

static void
meter_usage(void)
{
	fprintf(stderr,
	    "usage: kaga-ctl meter read (--tcp HOST:PORT | --rtu DEV "
	    "[--baud N] [--parity N|E|O] [--stop 1|2])\n"
	    "           [--unit N] --profile sdm630|sdm120|sunspec "
	    "[--timeout MS] [--json]\n"
	    "       kaga-ctl meter scan (--tcp HOST:PORT | --rtu DEV ...) "
	    "[--unit N] [--timeout MS] [--json]\n");
}

/* Prints v (in 1/1000 of the unit) as a decimal with three places. */
static void
milli(kx_buf_t *b, int64_t v)
{
	uint64_t	 a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	kx_buf_printf(b, "%s%" PRIu64 ".%03" PRIu64, v < 0 ? "-" : "",
	    a / 1000, a % 1000);
}

static void
key_int(kx_buf_t *b, int json, const char *key, int have, int64_t v)
{
	if (json) {
		kx_buf_printf(b, ",\"%s\":", key);
		if (have)
			kx_buf_printf(b, "%" PRId64, v);
		else
			kx_buf_puts(b, "null");
	} else if (have)
		kx_buf_printf(b, "%-14s %" PRId64 "\n", key, v);
}

static void
key_milli(kx_buf_t *b, int json, const char *key, int have, int64_t v)
{
	if (json) {
		kx_buf_printf(b, ",\"%s\":", key);
		if (have)
			milli(b, v);
		else
			kx_buf_puts(b, "null");
	} else if (have) {
		kx_buf_printf(b, "%-14s ", key);
		milli(b, v);
		kx_buf_putc(b, '\n');
	}
}

/* One per-phase array; scale 1000 prints milli-units as decimals. */
static void
key_phases(kx_buf_t *b, int json, const char *key, const kx_reading_t *r,
    const int64_t *v, uint32_t (*flag)(int), int is_milli)
{
	int	 i, any = 0;

	for (i = 0; i < r->nphases && i < KX_PHASES_MAX; i++)
		any |= (r->flags & flag(i)) != 0;
	if (!any) {
		if (json)
			kx_buf_printf(b, ",\"%s\":null", key);
		return;
	}
	kx_buf_printf(b, json ? ",\"%s\":[" : "%-14s ", key);
	for (i = 0; i < r->nphases && i < KX_PHASES_MAX; i++) {
		if (i > 0)
			kx_buf_putc(b, json ? ',' : ' ');
		if ((r->flags & flag(i)) == 0)
			kx_buf_puts(b, json ? "null" : "-");
		else if (is_milli)
			milli(b, v[i]);
		else
			kx_buf_printf(b, "%" PRId64, v[i]);
	}
	kx_buf_puts(b, json ? "]" : "\n");
}

static uint32_t fl_volt(int i) { return KX_RD_VOLT(i); }
static uint32_t fl_curr(int i) { return KX_RD_CURR(i); }
static uint32_t fl_ppow(int i) { return KX_RD_PPOW(i); }

static void
print_reading(kx_buf_t *b, const char *profile, const kx_reading_t *r,
    int json)
{
	uint32_t	 f = r->flags;

	if (json)
		kx_buf_printf(b, "{\"profile\":\"%s\",\"ts_ms\":%" PRId64
		    ",\"phases\":%d", profile, r->ts_ms, r->nphases);
	else
		kx_buf_printf(b, "%-14s %s\n%-14s %" PRId64 "\n%-14s %d\n",
		    "profile", profile, "ts_ms", r->ts_ms, "phases",
		    r->nphases);
	key_int(b, json, "power_w", f & KX_RD_POWER, r->power_w);
	key_int(b, json, "import_wh", f & KX_RD_IMPORT, r->import_wh);
	key_int(b, json, "export_wh", f & KX_RD_EXPORT, r->export_wh);
	key_milli(b, json, "frequency_hz", f & KX_RD_FREQ, r->freq_mhz);
	key_phases(b, json, "voltage_v", r, r->voltage_mv, fl_volt, 1);
	key_phases(b, json, "current_a", r, r->current_ma, fl_curr, 1);
	key_phases(b, json, "phase_power_w", r, r->phase_power_w, fl_ppow,
	    0);
	key_int(b, json, "pv_w", f & KX_RD_PV, r->pv_w);
	key_int(b, json, "pv_wh", f & KX_RD_PV_WH, r->pv_wh);
	key_int(b, json, "battery_w", f & KX_RD_BATT, r->battery_w);
	key_int(b, json, "soc_permille", f & KX_RD_SOC, r->soc_permille);
	if (json)
		kx_buf_puts(b, "}\n");
}

static void
print_map(kx_buf_t *b, const kx_ss_map_t *m, int json)
{
	size_t	 i;

	if (json)
		kx_buf_printf(b, "{\"base\":%u,\"models\":[", m->base);
	else
		kx_buf_printf(b, "SunS at %u, %zu models\n", m->base,
		    m->nmodels);
	for (i = 0; i < m->nmodels; i++) {
		if (json)
			kx_buf_printf(b, "%s{\"id\":%u,\"addr\":%u,\"len\":%u}",
			    i > 0 ? "," : "", m->models[i].id,
			    m->models[i].addr, m->models[i].len);
		else
			kx_buf_printf(b, "model %-5u addr %-5u len %u\n",
			    m->models[i].id, m->models[i].addr,
			    m->models[i].len);
	}
	if (json)
		kx_buf_puts(b, "]}\n");
}

int
kx_ctl_cmd_meter(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tcp", required_argument, NULL, 't' },
		{ "rtu", required_argument, NULL, 'r' },
		{ "baud", required_argument, NULL, 'b' },
		{ "parity", required_argument, NULL, 'P' },
		{ "stop", required_argument, NULL, 'S' },
		{ "unit", required_argument, NULL, 'u' },
		{ "profile", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const kx_profile_t	*prof = NULL;
	const char		*sub, *pname = NULL;
	kx_dev_conf_t		 conf;
	kx_meter_dev_t		*dev = NULL;
	kx_reading_t		 r;
	kx_ss_map_t		*map = NULL;
	kx_buf_t		 out;
	long			 v;
	int			 ch, json = 0, is_scan, rc, status = 1;
	int			 have_tcp = 0, li = -1;

	if (argc < 2) {
		meter_usage();
		return EXIT_USAGE;
	}
	sub = argv[1];
	if (strcmp(sub, "read") == 0)
		is_scan = 0;
	else if (strcmp(sub, "scan") == 0)
		is_scan = 1;
	else {
		fprintf(stderr, "kaga-ctl meter: unknown subcommand '%s'\n",
		    sub);
		meter_usage();
		return EXIT_USAGE;
	}
	kx_dev_conf_init(&conf);
	optind = 1;
	while ((ch = getopt_long(argc - 1, argv + 1, "", opts, &li)) != -1) {
		switch (ch) {
		case 't':
			if (kx_dev_conf_tcp(&conf, optarg) == -1) {
				fprintf(stderr, "kaga-ctl meter: --tcp: "
				    "expected HOST:PORT\n");
				return EXIT_USAGE;
			}
			have_tcp = 1;
			break;
		case 'r':
			if (strlen(optarg) >= sizeof(conf.rtu)) {
				fprintf(stderr, "kaga-ctl meter: --rtu: too "
				    "long\n");
				return EXIT_USAGE;
			}
			snprintf(conf.rtu, sizeof(conf.rtu), "%s", optarg);
			break;
		case 'b':
			if (kx_parse_long(optarg, 300, 4000000, &v) == -1)
				goto bad_value;
			conf.baud = (int)v;
			break;
		case 'P':
			if (strlen(optarg) != 1 || strchr("NEO", optarg[0]) ==
			    NULL)
				goto bad_value;
			conf.parity = optarg[0];
			break;
		case 'S':
			if (kx_parse_long(optarg, 1, 2, &v) == -1)
				goto bad_value;
			conf.stop_bits = (int)v;
			break;
		case 'u':
			if (kx_parse_long(optarg, 0, 247, &v) == -1)
				goto bad_value;
			conf.unit = (int)v;
			break;
		case 'T':
			if (kx_parse_long(optarg, 1, 600000, &v) == -1)
				goto bad_value;
			conf.timeout_ms = (int)v;
			break;
		case 'p':
			pname = optarg;
			if ((prof = kx_profile_find(optarg)) == NULL) {
				fprintf(stderr, "kaga-ctl meter: --profile: "
				    "one of sdm630, sdm120, sunspec\n");
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json = 1;
			break;
		default:
			goto bad;
		}
	}
	if (optind != argc - 1 || have_tcp == (conf.rtu[0] != '\0'))
		goto bad;
	if (!have_tcp)
		conf.host[0] = '\0';
	if (is_scan)
		prof = kx_profile_find("sunspec");
	else if (prof == NULL) {
		fprintf(stderr, "kaga-ctl meter read: --profile is required\n");
		return EXIT_USAGE;
	}
	if ((dev = kx_meter_dev_new(&conf, prof)) == NULL) {
		fprintf(stderr, "kaga-ctl meter: cannot set up the device\n");
		return 1;
	}
	kx_buf_init(&out);
	if (is_scan) {
		if ((map = malloc(sizeof(*map))) == NULL)
			goto fail;
		if ((rc = kx_meter_dev_scan(dev, map)) != KX_METER_OK) {
			fprintf(stderr, "kaga-ctl meter scan: %s\n",
			    kx_meter_dev_error(dev));
			goto fail;
		}
		print_map(&out, map, json);
	} else {
		if ((rc = kx_meter_dev_read(dev, &r)) != KX_METER_OK) {
			fprintf(stderr, "kaga-ctl meter read: %s\n",
			    kx_meter_dev_error(dev));
			goto fail;
		}
		print_reading(&out, pname, &r, json);
	}
	if (out.oom || fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "kaga-ctl meter: stdout: %s\n",
		    strerror(errno));
		goto fail;
	}
	status = 0;
fail:
	kx_buf_free(&out);
	free(map);
	kx_meter_dev_destroy(&dev);
	return status;
bad_value:
	fprintf(stderr, "kaga-ctl meter: --%s: bad value '%s'\n",
	    li >= 0 ? opts[li].name : "?", optarg);
	return EXIT_USAGE;
bad:
	meter_usage();
	return EXIT_USAGE;
}
