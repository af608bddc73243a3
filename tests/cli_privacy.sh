#!/bin/sh
# cli_privacy.sh - consent and disclosures against a real kaga-node:
# kaga-ctl consent grant/list/revoke/export, disclose (granted, refused,
# settlement-exempt), disclosures [--verify] [--json] and its exit codes,
# the data key file, rekey refused while the node runs and done offline,
# and a disclosure entry changed in data.mdb found by --verify (exit 1).
# Run by tests/run.sh with KAGA_CTL and KAGA_NODE_BIN set.
set -u
K=${KAGA_CTL:-bin/kaga-ctl}
N=${KAGA_NODE_BIN:-bin/kaga-node}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
case $N in /*) ;; *) N=$(pwd)/$N ;; esac
T=$(mktemp -d /tmp/kaga-privacy-XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }
# 18000-19999: no other test uses it
PORT=$((18000 + ($$ % 1000) * 2))
D=$T/me

start() {
	$N -d -c node.conf 2>>node.log &
	PID=$!
	up=0
	for i in $(seq 1 100); do
		kill -0 $PID 2>/dev/null || break	# it died: do not wait
		if [ -S "$D/control.sock" ] &&
		    $K status --node "$D" >/dev/null 2>&1; then up=1; break; fi
		sleep 0.1
	done
	[ $up -eq 1 ]
}
stop() { kill -TERM $PID 2>/dev/null; wait $PID; PID=""; }
# a node that does not come up ends the script (every call would time out)
must_start() {
	if start; then ok "$1"; return; fi
	no "$1"; tail -5 node.log
	echo "privacy: $((n - fails)) passed, $fails failed"
	exit 1
}

$K keygen --out "$D" >/dev/null
OP=$(cat "$D/node.pub")
printf 'data-dir %s\nlisten tcp://127.0.0.1:%d\nrole household\noperator %s\n' \
    "$D" "$PORT" "$OP" > node.conf
must_start "the node starts"
check "data.key: 32 bytes, mode 600" sh -c "test \$(stat -c %s $D/data.key) -eq 32 && test \$(stat -c %a $D/data.key) = 600"
check "data.key is not node.key" sh -c "! cmp -s $D/data.key $D/node.key"

$K consent list --node "$D" > list.txt; rc=$?
check "consent list of a new node: only the header" sh -c "test $rc -eq 0 && test \$(wc -l < list.txt) -eq 1"
$K consent grant --node "$D" --category health --purpose research --recipient "Kaga Clinic" > g.txt; rc=$?
check "consent grant prints the grant" sh -c "test $rc -eq 0 && grep -qx 'grant 1: health for research to Kaga Clinic' g.txt"
$K consent grant --node "$D" --category volunteer --purpose city-statistics --recipient city --json > g.json
check "consent grant --json" grep -q '^{"id":2,"time_ms":[0-9]*}$' g.json
$K consent grant --node "$D" --category diary --purpose research --recipient city 2>err; rc=$?
check "an unknown category is a usage error" sh -c "test $rc -eq 2 && grep -q 'category' err"
$K consent grant --node "$D" --category health --purpose research 2>err; rc=$?
check "a grant without a recipient is a usage error" test $rc -eq 2
$K consent list --node "$D" > list.txt
check "consent list shows both grants active" sh -c "grep -q '^   1  active   health' list.txt && grep -q '^   2  active   volunteer.*city$' list.txt"

echo hello > payload
$K disclose --node "$D" --category health --purpose research --recipient "Kaga Clinic" --file payload > d.txt; rc=$?
check "a granted disclosure is recorded" sh -c "test $rc -eq 0 && grep -q '^disclosure 1 recorded' d.txt"
$K disclose --node "$D" --category health --purpose city-statistics --recipient city --data x 2>err; rc=$?
check "an ungranted disclosure is refused (exit 1)" sh -c "test $rc -eq 1 && grep -q 'refused: no grant in force' err"
check "the refusal is in the node log" grep -q 'refused to disclose health for city-statistics to city' node.log
$K disclose --node "$D" --category slot-totals --purpose settlement --recipient operator --data box > d.txt; rc=$?
check "slot totals to the operator for settlement need no grant" test $rc -eq 0
$K disclosures --node "$D" --json > dis.json
check "disclosures --json: the exemption is named" grep -q '"consent":"settlement-exempt"' dis.json
check "disclosures --json: the grant is named" grep -q '"recipient":"Kaga Clinic","consent":1,' dis.json
H=$(b2sum -l 256 payload | cut -c1-64)
check "disclosures --json: the payload's BLAKE2b-256" grep -q "\"payload\":\"$H\"" dis.json

$K consent revoke --node "$D" 1 > r.txt; rc=$?
check "consent revoke" sh -c "test $rc -eq 0 && grep -q '^grant 1 revoked (event 3)' r.txt"
$K consent revoke --node "$D" --id 1 2>err; rc=$?
check "a second revoke fails" sh -c "test $rc -eq 1 && grep -q 'revoked already' err"
$K consent revoke --node "$D" --id 99 2>err; rc=$?
check "a revoke of no grant fails" sh -c "test $rc -eq 1 && grep -q 'no such grant' err"
$K consent revoke --node "$D" 2>err; rc=$?
check "a revoke without an id is a usage error" test $rc -eq 2
$K disclose --node "$D" --category health --purpose research --recipient "Kaga Clinic" --file payload 2>err; rc=$?
check "after the revoke the disclosure is refused" test $rc -eq 1
$K disclosures --node "$D" > dis.txt
check "and not recorded: still 2 entries" test "$(grep -c '^ *[0-9]' dis.txt)" -eq 2
$K consent list --node "$D" > list.txt
check "consent list shows the revoke" grep -q '^   1  revoked  health' list.txt
$K consent export --node "$D" > export.json
check "consent export: the JSON format with events" sh -c "grep -q '^{\"format\":\"kaga-consent/1\",\"grants\":\[' export.json && grep -q '{\"id\":3,\"kind\":\"revoke\",\"time_ms\":[0-9]*,\"grant\":1}' export.json"

$K disclosures --node "$D" --verify > v.txt; rc=$?
check "disclosures --verify: exit 0, no problems" sh -c "test $rc -eq 0 && grep -qx 'disclosures: 2 entries, 0 problems' v.txt"
$K disclosures --node "$D" --verify --json > v.json; rc=$?
check "disclosures --verify --json" sh -c "test $rc -eq 0 && grep -q '\"verified\":true,\"problems\":\[\]}$' v.json"
$K rekey --data-dir "$D" 2>err; rc=$?
check "rekey refuses while the node runs" sh -c "test $rc -eq 1 && grep -q 'in use' err"
stop

check "no grant name in the privacy file" sh -c "! grep -q 'Kaga Clinic' $D/privacy/data.mdb"
cp "$D/data.key" old.key
$K rekey --data-dir "$D" > rk.txt; rc=$?
check "rekey offline" sh -c "test $rc -eq 0 && grep -q 'values sealed again, 0 already under the new key, 0 unreadable' rk.txt"
check "rekey wrote a new key" sh -c "! cmp -s old.key $D/data.key && test \$(stat -c %a $D/data.key) = 600 && test ! -e $D/data.key.new"
must_start "the node starts after the rekey"
$K disclosures --node "$D" --verify > v.txt; rc=$?
check "after the rekey everything verifies" sh -c "test $rc -eq 0 && grep -qx 'disclosures: 2 entries, 0 problems' v.txt"
$K consent list --node "$D" > list.txt
check "after the rekey the register reads" grep -q '^   1  revoked  health.*Kaga Clinic$' list.txt
stop

# change entry 1's payload hash in the file's bytes: --verify must flag it
PAT=$(echo "$H" | sed 's/../\\x&/g')
offs=$(LC_ALL=C grep -obUaP "$PAT" "$D/privacy/data.mdb" | cut -d: -f1)
check "the payload hash is in data.mdb (readable for verification)" test -n "$offs"
for o in $offs; do
	b=$(od -An -tu1 -j $((o + 3)) -N 1 "$D/privacy/data.mdb" | tr -d ' ')
	printf "\\$(printf %03o $(((b + 1) % 256)))" |
	    dd of="$D/privacy/data.mdb" bs=1 seek=$((o + 3)) conv=notrunc 2>/dev/null
done
must_start "the node starts after the tampering"
$K disclosures --node "$D" --verify > v.txt; rc=$?
check "disclosures --verify flags the changed entry (exit 1)" sh -c "test $rc -eq 1 && grep -q '^problem: chain entry 1: modified' v.txt && grep -qx 'disclosures: 2 entries, 1 problem' v.txt"
$K disclosures --node "$D" --verify --json > v.json; rc=$?
check "disclosures --verify --json exits 1 too" sh -c "test $rc -eq 1 && grep -q '\"verified\":false' v.json"
$K disclosures --node "$D" > /dev/null; rc=$?
check "disclosures without --verify still exits 0" test $rc -eq 0
stop

echo "privacy: $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
