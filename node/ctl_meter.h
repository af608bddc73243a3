/*
 * ctl_meter.h - the `kaga-ctl meter` command: read a Modbus meter once or
 * list a device's SunSpec models (see docs/meters.md).
 */
#ifndef KX_CTL_METER_H
#define KX_CTL_METER_H

/*
 * argv[0] is "meter", argv[1] the subcommand (read, scan). Prints to
 * stdout; errors to stderr. Returns the exit status: 0 success, 1 a device
 * failure, 2 a usage error.
 */
int	kx_ctl_cmd_meter(int argc, char **argv);

#endif
