#!/bin/sh
# cli_install.sh - `make install` and `make uninstall` into a DESTDIR:
# programs, man pages (rendered by man(1) without warnings), the systemd
# unit (checked by systemd-analyze when it is there), and a clean removal.
# Run by tests/run.sh from the project folder with B set.
set -u
B=${B:-build/rel}
T=$(mktemp -d /tmp/kaga-install-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }

# the same build as the tests (SANITIZE picks build/san): nothing rebuilt
make -s install SANITIZE="${SANITIZE:-}" B="$B" DESTDIR="$T" PREFIX=/usr >"$T.log" 2>&1; rc=$?
check "make install exits 0" test $rc -eq 0
for p in kaga-node kaga-ctl kaga-meter-sim; do
	check "installs $p executable" test -x "$T/usr/bin/$p"
done
check "installs kaga-ctl(1)" test -f "$T/usr/share/man/man1/kaga-ctl.1"
check "installs kaga-node.conf(5)" test -f "$T/usr/share/man/man5/kaga-node.conf.5"
check "installs kaga-node(8)" test -f "$T/usr/share/man/man8/kaga-node.8"
for m in "$T"/usr/share/man/man*/*; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
	check "man renders $(basename "$m") without warnings" test -z "$w"
done
U="$T/usr/lib/systemd/system/kaga-node.service"
check "installs the systemd unit" test -f "$U"
check "the unit runs the installed binary" grep -q '^ExecStart=/usr/bin/kaga-node -d -c /etc/kaga/kaga-node.conf$' "$U"
check "no placeholder left in the unit" sh -c "! grep -q @BINDIR@ '$U'"
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify needs the binaries at their paths: point them into DESTDIR
	sed "s|/usr/bin/|$T/usr/bin/|g" "$U" > "$T/kaga-node.service"
	out=$(systemd-analyze verify "$T/kaga-node.service" 2>&1 | grep -v -e 'Failed to create' -e 'Failed to setup' -e 'Cannot add dependency' -e 'network-online' -e 'Command .* is not executable' -e '^$' -e 'multi-user.target' -e "Command 'man " || true)
	check "systemd-analyze verify finds nothing in the unit" test -z "$out"
	[ -n "$out" ] && echo "$out" | sed 's/^/    /'
fi
check "kaga-node -n from the install checks a config" sh -c "printf 'data-dir $T/d\nrole farm\noperator 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c\n' > '$T/k.conf' && '$T/usr/bin/kaga-node' -n -c '$T/k.conf' 2>/dev/null"
make -s uninstall SANITIZE="${SANITIZE:-}" B="$B" DESTDIR="$T" PREFIX=/usr >>"$T.log" 2>&1; rc=$?
check "make uninstall exits 0" test $rc -eq 0
left=$(find "$T/usr" -type f | wc -l)
check "uninstall removes every installed file" test "$left" -eq 0
rm -f "$T.log"
echo "install: $((n - fails)) passed, $fails failed"
test $fails -eq 0
