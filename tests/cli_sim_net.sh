#!/bin/sh
# cli_sim_net.sh - kaga-sim's protocol mode with real kaga-node processes:
# a short script with every kind of event (stop, crash, start, join,
# partition, heal) must end with every member up agreeing with the
# operator, every catch-up done, the partition really cut (the cut-off
# members fetch messages after the heal; nothing crossed it) and nothing
# left running; Ctrl-C stops a run cleanly; and the error exits (2 with
# FILE:LINE for a bad script, 2 for usage, 1 for a missing binary, an
# unreadable script or a folder that holds a run); a kaga-sim killed
# with SIGKILL leaves no node behind.
# Run by tests/run.sh with KAGA_CTL set; kaga-sim sits beside kaga-ctl.
set -u
K=${KAGA_CTL:-bin/kaga-ctl}
S=${KAGA_SIM:-$(dirname "$K")/kaga-sim}
case $S in /*) ;; *) S=$(pwd)/$S ;; esac
# kaga-sim takes the kaga-node and kaga-meter-sim beside it (run.sh's
# relative KAGA_METER_SIM would not hold after the cd below)
unset KAGA_NODE KAGA_METER_SIM
T=$(mktemp -d /tmp/kaga-net-XXXXXX)
cleanup() {
	pkill -f "$T/" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }
val() { sed -n "s/^$1 = //p" "$2"; }
# nothing whose command line names the run's folder (this shell's does not)
found_running() { pgrep -f "$T/$1" >/dev/null 2>&1; }
none_running() { ! found_running "$1"; }

# ---- error exits (fast) -------------------------------------------------
printf 'members 4\nslots 3\nat 2 start m1\n' > bad.txt
$S net --script bad.txt --out e1 > out.txt 2> err.txt; rc=$?
check "bad script: exit 2" test $rc -eq 2
check "bad script: message names file and line" grep -q "bad.txt:3:" err.txt
check "bad script: nothing started, no folder" test ! -e e1
$S net --script missing.txt > out.txt 2> err.txt; rc=$?
check "unreadable script: exit 1 naming it" sh -c \
    "test $rc -eq 1 && grep -q 'missing.txt' err.txt"
$S net --bogus > out.txt 2> err.txt; rc=$?
check "unknown option: exit 2" test $rc -eq 2
$S net extra > out.txt 2> err.txt; rc=$?
check "stray argument: exit 2" test $rc -eq 2
KAGA_NODE=/nonexistent/kaga-node $S net --out e2 > out.txt 2> err.txt; rc=$?
check "missing kaga-node: exit 1 naming it" sh -c \
    "test $rc -eq 1 && grep -q '/nonexistent/kaga-node' err.txt"
mkdir -p used/op
$S net --out used > out.txt 2> err.txt; rc=$?
check "folder holding a run: exit 1, refused" sh -c \
    "test $rc -eq 1 && grep -q 'holds an earlier run' err.txt"
$S net-script > default.txt; rc=$?
check "net-script prints the built-in script" sh -c \
    "test $rc -eq 0 && grep -q '^members ' default.txt && grep -q 'partition' default.txt"
printf 'slots 2\n' >> default.txt
$S net --script default.txt --out e3 > out.txt 2> err.txt; rc=$?
check "the printed script is checked like any other (slots twice)" sh -c \
    "test $rc -eq 2 && grep -q 'default.txt:' err.txt"

# ---- a run with every kind of event --------------------------------------
cat > run.txt <<'EOS'
# four members, a fifth joins; 8-second slots
members 4
late 1
slots 4
slot-s 8
gate-s 3
degree 2
gossip-ms 200
seed 7
at 3 stop m2
at 5 kill m3
at 11 start m2 m3
at 12 join m5
at 16 partition m3 m4
at 25 heal
EOS
$S net --script run.txt --out r1 > sum.txt 2> progress.txt; rc=$?
cat sum.txt
R=r1/results.txt
if [ $rc -ne 0 ]; then	# what went wrong, before the folder goes
	cat r1/nodes.txt r1/events.txt
	for f in r1/m*-ledger.json; do
		cmp -s "$f" r1/op-ledger.json || { echo "== $f"; cat "$f"; echo "== op"; cat r1/op-ledger.json; }
	done
	grep -h "dispute\|warn" r1/*.log | tail -20
fi
check "run: exit 0 (agreed)" test $rc -eq 0
check "run: results say agreed" grep -qx "agreed = yes" $R
check "run: 0 leaks, every dispute explained by the partition" sh -c \
    "test '$(val leaks $R)' = 0 && test '$(val disputes $R)' = '$(val disputes_explained $R)'"
check "run: the cut-off members' orders reached the operator late, named" \
    sh -c "test '$(val orders_late $R)' -ge 1 && grep -q 'order m[34]#[0-9]* for slot [0-9]* reached the operator' r1/events.txt"
check "run: all 5 members up agree with the operator" sh -c \
    "test '$(val nodes_checked $R)' = 5 && test '$(val nodes_agreeing $R)' = 5"
check "run: every slot cleared, some settled" sh -c \
    "test '$(val cleared $R)' -ge 4 && test '$(val settled $R)' -ge 1"
check "run: 9 catch-ups (2 restarts, 1 join, 6 nodes at the heal), all done" \
    sh -c "test '$(val catchups $R)' = 9 && test '$(val catchups_done $R)' = 9"
check "run: deliveries measured, latency ordered" sh -c \
    "test '$(val deliveries $R)' -gt 20 && test '$(val latency_p50_ms $R)' -le '$(val latency_p99_ms $R)' && test '$(val latency_p99_ms $R)' -le '$(val latency_max_ms $R)'"
check "run: latency.csv has a row per delivery" test \
    "$(($(wc -l < r1/latency.csv) - 1))" -eq "$(val deliveries $R)"
check "run: the partition cut live connections" test "$(val relay_cut $R)" -gt 0
check "run: cut-off m3 fetched messages after the heal" sh -c \
    "sed -n '/heal/,\$p' r1/events.txt | grep -q 'm3 caught up in [0-9.]* s ([1-9][0-9]* messages)'"
check "run: the crashed m3 and the new m5 caught up" sh -c \
    "grep -q 'm5 caught up' r1/events.txt && grep -c 'm3 caught up' r1/events.txt | grep -qx 2"
check "run: nodes.txt has every node" test "$(grep -c ' up \| down ' r1/nodes.txt)" -eq 6
check "run: every node's ledger saved, the members' equal to the operator's" \
    sh -c "test \$(ls r1/*-ledger.json | wc -l) -eq 6 && for f in r1/m*-ledger.json; do cmp -s \$f r1/op-ledger.json || exit 1; done"
check "run: script.txt runs the same script" sh -c \
    "grep -qx 'members 4' r1/script.txt && grep -qx 'at 16 partition m3 m4' r1/script.txt"
check "run: progress shown on stderr" grep -q "slot 1 of 4 starts" progress.txt
check "run: summary printed" sh -c \
    "grep -q 'dissemination' sum.txt && grep -q 'AGREED' sum.txt"
check "run: no node or meter left running" none_running r1/

# ---- Ctrl-C ----------------------------------------------------------------
printf 'members 2\nslots 50\nslot-s 8\ngossip-ms 200\n' > long.txt
$S net --script long.txt --out r2 > sum2.txt 2> progress2.txt &
pid=$!
for i in $(seq 1 300); do
	grep -q "slot 1 of 50 starts" progress2.txt 2>/dev/null && break
	sleep 0.1
done
check "while a run goes on its nodes are found (none_running can fail)" \
    found_running r2/op.conf
kill -INT $pid
wait $pid; rc=$?
check "SIGINT: the run ends with a report" sh -c \
    "test $rc -eq 0 -o $rc -eq 3 && grep -q 'interrupted' r2/events.txt && test -s r2/results.txt"
check "SIGINT: no node or meter left running" none_running r2/

# ---- kaga-sim killed outright: its nodes and meters do not outlive it ------
$S net --script long.txt --out r3 > /dev/null 2> progress3.txt &
pid=$!
for i in $(seq 1 300); do
	grep -q "slot 1 of 50 starts" progress3.txt 2>/dev/null && break
	sleep 0.1
done
check "SIGKILL: the run had started" found_running r3/op.conf
kill -KILL $pid
wait $pid 2>/dev/null
for i in $(seq 1 100); do none_running r3/ && break; sleep 0.1; done
check "SIGKILL: no node or meter left running" none_running r3/

echo "cli_sim_net: $n checks, $fails failed"
[ $fails -eq 0 ]
