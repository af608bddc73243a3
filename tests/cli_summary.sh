#!/bin/sh
# cli_summary.sh - daily aggregates from the outside (docs/aggregates.md):
# kaga-ctl aggregate on a JSON file of member records (JSON, CSV, NGSI-LD,
# noise, error paths with their exit status and the field named), then
# kaga-ctl summary against a running operator node that holds `summary`
# messages published from aggregate's own output: the node gives back
# the same body, CSV and NGSI-LD; --day picks a day; errors.
# Run by tests/run.sh with KAGA_CTL and KAGA_NODE_BIN set.
set -u
K=${KAGA_CTL:-bin/kaga-ctl}
N=${KAGA_NODE_BIN:-bin/kaga-node}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
case $N in /*) ;; *) N=$(pwd)/$N ;; esac
T=$(mktemp -d /tmp/kaga-sum-XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }

# 15 members in Kaga, 20 in Yamanaka, 3 in Yamashiro (they join Yamanaka)
members() {
	printf '['
	i=1
	while [ $i -le 38 ]; do
		area=Kaga
		[ $i -gt 15 ] && area=Yamanaka
		[ $i -gt 35 ] && area=Yamashiro
		[ $i -gt 1 ] && printf ','
		printf '{"member":"%064x","area":"%s","day":"%s","import_wh":%d,"export_wh":%d,"volunteer_minutes":30}' \
			$i $area "$1" $((1000 + i)) $((i * 3))
		i=$((i + 1))
	done
	printf ']'
}
members 2025-04-01 > in1.json
members 2025-04-02 > in2.json

# ---- aggregate
$K aggregate --input in1.json > body1.json; rc=$?
check "aggregate exits 0" test $rc -eq 0
check "aggregate prints one summary body" sh -c 'test $(wc -l < body1.json) -eq 1 && grep -q "^{\"kind\":\"kaga-area-day\",\"v\":1,\"day\":\"2025-04-01\"," body1.json'
check "Yamashiro (3) joins the previous cell" grep -q '"areas":\["Yamanaka","Yamashiro"\],"members":23,' body1.json
$K aggregate --input in1.json --csv > a.csv
check "csv: a header and two rows" test "$(wc -l < a.csv)" -eq 3
check "csv: Kaga's totals (15120 Wh in, 360 Wh out)" grep -q '^2025-04-01,Kaga,published,15,15120,360,0,0,0,0,0,0,,0,0,450,0$' a.csv
$K aggregate --input in1.json --ngsi > a.ngsi
check "ngsi: three entities per cell" test "$(grep -c '"type":"ACMeasurement"' a.ngsi)" -eq 2
check "ngsi: kWh as an exact decimal" grep -q '"totalActiveEnergyImport":{"type":"Property","value":"15.120","unitCode":"KWH"}' a.ngsi
check "ngsi: the credits type" grep -q '"type":"KagaCommunityCredits".*"volunteerMinutes":{"type":"Property","value":450,"unitCode":"MIN"}' a.ngsi
$K aggregate --input in1.json --epsilon 0.5 --csv > noisy.csv; rc=$?
check "--epsilon 0.5: exit 0, epsilon_milli 500 in each row" sh -c "test $rc -eq 0 && test \$(grep -c ',500\$' noisy.csv) -eq 2"
$K aggregate --input in1.json --epsilon 0 > b0.json
check "--epsilon 0 is no noise" cmp -s b0.json body1.json

$K aggregate --input nonexistent.json 2>err; rc=$?
check "a missing file: exit 1" sh -c "test $rc -eq 1 && grep -q 'nonexistent.json' err"
printf '[{"member":' > bad.json
$K aggregate --input bad.json 2>err; rc=$?
check "broken JSON: exit 2" sh -c "test $rc -eq 2 && grep -q 'json:' err"
printf '[{"member":"%064x","day":"2025-04-01","import_wh":-5}]' 1 > bad.json
$K aggregate --input bad.json 2>err; rc=$?
check "a negative value: exit 2 naming the field" sh -c "test $rc -eq 2 && grep -q '\[0\].import_wh: must be an unsigned integer' err"
printf '[{"member":"%064x","day":"2025-04-01","export":5}]' 1 > bad.json
$K aggregate --input bad.json 2>err; rc=$?
check "an unknown field: exit 2 naming it" sh -c "test $rc -eq 2 && grep -q '\[0\].export: unknown field' err"
printf '[{"member":"%064x","day":"2025-04-01","import_wh":1.5}]' 1 > bad.json
$K aggregate --input bad.json 2>err; rc=$?
check "a float: exit 2" sh -c "test $rc -eq 2 && grep -q 'floating point' err"
printf '[{"member":"%064x","day":"2025-04-01"},{"member":"%064x","day":"2025-04-01","import_wh":1},{"member":"%064x","day":"2025-04-01","import_wh":2}]' 1 2 2 > bad.json
$K aggregate --input bad.json 2>err; rc=$?
check "a member twice in a day: exit 2" sh -c "test $rc -eq 2 && grep -q 'record 2 .*given twice' err"
$K aggregate --input in1.json --epsilon x 2>err; rc=$?
check "a bad --epsilon: exit 2" sh -c "test $rc -eq 2 && grep -q -- '--epsilon' err"
$K aggregate --input in1.json extra 2>err; rc=$?
check "an extra argument: exit 2" test $rc -eq 2
$K aggregate 2>err; rc=$?
check "no --input: exit 2 with the usage" sh -c "test $rc -eq 2 && grep -q 'usage: kaga-ctl aggregate' err"

# ---- summary against a running operator node
PORT=$((9000 + $$ % 900))
$K keygen --out "$T/op" >/dev/null
OP=$(cat op/node.pub)
cat > op.conf <<CONF
data-dir $T/op
listen tcp://127.0.0.1:$PORT
role operator
operator $OP
gossip-interval 200
CONF
$N -d -c op.conf 2>node.log &
PID=$!
up=0
for i in $(seq 1 100); do
	if $K status --node "$T/op" --json >/dev/null 2>&1; then up=1; break; fi
	sleep 0.1
done
check "the node answers" test $up -eq 1
$K summary --node "$T/op" 2>err; rc=$?
check "no summary yet: exit 1" sh -c "test $rc -eq 1 && grep -q 'no summary in the node' err"
$K publish --node "$T/op" --type summary --body "$(cat body1.json)" >/dev/null; rc1=$?
$K aggregate --input in2.json > body2.json
$K publish --node "$T/op" --type summary --body "$(cat body2.json)" >/dev/null; rc2=$?
check "the operator publishes two summaries" test $rc1 -eq 0 -a $rc2 -eq 0
$K summary --node "$T/op" > s.json; rc=$?
check "summary: the latest day, as published" sh -c "test $rc -eq 0 && cmp -s s.json body2.json"
$K summary --node "$T/op" --day 2025-04-01 > s1.json
check "summary --day: that day" cmp -s s1.json body1.json
$K summary --node "$T/op" --day 2025-04-01 --csv > s1.csv
check "summary --csv is aggregate --csv" cmp -s s1.csv a.csv
$K summary --node "$T/op" --day 2025-04-01 --ngsi > s1.ngsi
check "summary --ngsi is aggregate --ngsi" cmp -s s1.ngsi a.ngsi
$K summary --node "$T/op" --day 2025-05-01 2>err; rc=$?
check "a day without a summary: exit 1" sh -c "test $rc -eq 1 && grep -q 'no summary for 2025-05-01' err"
$K summary --node "$T/op" --day 2025-02-30 2>err; rc=$?
check "a bad --day: exit 2" sh -c "test $rc -eq 2 && grep -q -- '--day' err"
$K summary --node "$T/op" --csv --ngsi 2>err; rc=$?
check "--csv with --ngsi: exit 2" test $rc -eq 2
$K summary --node "$T/nowhere" 2>err; rc=$?
check "no node: exit 1" test $rc -eq 1

kill -TERM $PID; wait $PID; rc=$?; PID=""
check "the node stops cleanly" test $rc -eq 0

echo "summary: $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
