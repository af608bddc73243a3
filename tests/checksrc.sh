#!/bin/sh
# Fails when a banned call (unbounded or non-reentrant) appears in the C
# sources; see STYLE.md ("From curl").
hits=$(grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|gets|gmtime|localtime|asctime|ctime)[[:space:]]*\(' \
	$(find protocols node market community meters sim tests -name '*.[ch]') 2>/dev/null)
if [ -n "$hits" ]; then
	echo "checksrc: banned calls:" >&2
	echo "$hits" >&2
	exit 1
fi
exit 0
