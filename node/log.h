/*
 * log.h - logging for the daemon and the tools (after OpenBSD's log.c).
 *
 * stderr in the foreground (-d) or for tools, syslog otherwise.
 * log_warn appends strerror(errno); log_warnx does not. fatal/fatalx are
 * for start-up failures and broken invariants only; bad input from the
 * network is log_warnx and dropped, never fatal.
 */
#ifndef KX_LOG_H
#define KX_LOG_H

#include <stdarg.h>

void	log_init(const char *progname, int foreground, int verbose);
void	log_setverbose(int);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2),
	    noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2),
	    noreturn));

#endif
