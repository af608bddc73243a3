#!/bin/sh
# cli_meter.sh - `kaga-ctl meter read|scan` against the meter simulator
# over real Modbus TCP on 127.0.0.1, and its error paths.
# Run by tests/run.sh with KAGA_CTL and KAGA_METER_SIM set.
set -u
K=${KAGA_CTL:-bin/kaga-ctl}
S=${KAGA_METER_SIM:-bin/kaga-meter-sim}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
case $S in /*) ;; *) S=$(pwd)/$S ;; esac
T=$(mktemp -d /tmp/kaga-meter-XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }
P1=$((18000 + $$ % 1000 * 2))
P2=$((P1 + 1))

$S --listen 127.0.0.1:$P1 --profile sdm630 --unit 1 2>sim1.log &
PIDS="$PIDS $!"
$S --listen 127.0.0.1:$P2 --profile sunspec --unit 1 2>sim2.log &
PIDS="$PIDS $!"
sleep 0.5

$K meter read --tcp 127.0.0.1:$P1 --unit 1 --profile sdm630 --json > r.json; rc=$?
check "read sdm630 exits 0" test $rc -eq 0
check "read --json has power_w, import_wh, export_wh" sh -c "grep -q '\"power_w\":' r.json && grep -q '\"import_wh\":' r.json && grep -q '\"export_wh\":' r.json"
check "three phases of voltage_v, current_a" sh -c "grep -q '\"voltage_v\":\[[0-9.]*,[0-9.]*,[0-9.]*\]' r.json && grep -q '\"current_a\":\[' r.json"
$K meter read --tcp 127.0.0.1:$P1 --unit 1 --profile sdm630 > r.txt; rc=$?
check "read without --json prints text" sh -c "test $rc -eq 0 && test -s r.txt"
$K meter scan --tcp 127.0.0.1:$P2 --unit 1 --json > s.json; rc=$?
check "scan finds SunSpec at 40000" sh -c "test $rc -eq 0 && grep -q '\"base\":40000' s.json"
check "scan lists the models with lengths" sh -c "grep -q '\"id\":1,' s.json && grep -q '\"id\":103,' s.json && grep -q '\"len\":' s.json"
$K meter read --tcp 127.0.0.1:$P2 --unit 1 --profile sunspec --json > ss.json; rc=$?
check "read sunspec exits 0 with power and energy" sh -c "test $rc -eq 0 && grep -q '\"import_wh\":[0-9]' ss.json"
$K meter read --tcp 127.0.0.1:1 --profile sdm630 > /dev/null 2>err; rc=$?
check "no device: exit 1 with a message" sh -c "test $rc -eq 1 && test -s err"
$K meter read --tcp 127.0.0.1:$P1 --profile nosuch > /dev/null 2>err; rc=$?
check "unknown profile: usage error" test $rc -eq 2
$K meter read --tcp nohostport --profile sdm630 > /dev/null 2>err; rc=$?
check "bad HOST:PORT: usage error" test $rc -eq 2
$K meter frob > /dev/null 2>&1; rc=$?
check "unknown meter subcommand: usage error" test $rc -eq 2

echo "meter: $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
