#!/bin/sh
# cli_demo.sh - `make demo`, shortened: the whole node on loopback like
# the demo (operator, city, 12 members with simulated meters, autobid),
# six slots from 10:00 so that there is local trade. Asserts that every
# node agrees with the operator's clearing (no disputes anywhere), that
# every settle sums to zero, that every ledger equals the operator's, and
# that the members' bills were computed.
# Run by tests/run.sh from the project folder (B set).
set -u
B=${B:-build/rel}
T=$(mktemp -d /tmp/kaga-demo-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }

KAGA_CTL=$(pwd)/$B/bin/kaga-ctl KAGA_NODE=$(pwd)/$B/bin/kaga-node \
    KAGA_METER_SIM=$(pwd)/$B/bin/kaga-meter-sim DEMO_DIR="$T/run" \
    DEMO_SLOTS=6 DEMO_HOUR=10 timeout 300 sh node/demo.sh > "$T/out" 2>&1
rc=$?
sed 's/^/    /' "$T/out" | tail -n 32
check "the demo runs to the end (exit 0)" test $rc -eq 0
check "slots cleared with local trade" grep -Eq '^[0-9]+ +[0-9:]+ +[0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{3} +[1-9]' "$T/out"
check "no clearing or settlement dispute on any node" grep -q '^clearing and settlement disputes on all nodes: 0$' "$T/out"
check "every ledger equals the operator's" grep -q "^ledgers identical to the operator's: 13 of 13$" "$T/out"
check "settled slots exist and all sum to zero" grep -Eq '^settled slots whose lines sum to zero: ([1-9][0-9]*) of \1$' "$T/out"
check "a bill line per member" test "$(grep -Ec '^(h[0-9]{2}|hanaya|tanaka) ' "$T/out")" -ge 12
left() {	# processes of the demo still running (their cwd is its folder)
	for p in $(pgrep -x kaga-node; pgrep -x kaga-meter-sim); do
		[ "$(readlink /proc/$p/cwd 2>/dev/null)" = "$T/run" ] && echo $p
	done
}
check "no node or meter left running" test -z "$(left)"
echo "demo: $((n - fails)) passed, $fails failed"
test $fails -eq 0
