#!/bin/sh
# cli_kaga_node.sh - the daemon from the outside: -n checks a config and
# names file:line on errors, the control socket is owner-only, kaga-ctl
# status/publish/log (and --json) against a running node, SIGHUP reloads,
# a bad reload keeps the running config, SIGTERM stops cleanly (exit 0),
# a restarted node has everything it had.
# Run by tests/run.sh with KAGA_CTL and KAGA_NODE_BIN set.
set -u
K=${KAGA_CTL:-bin/kaga-ctl}
N=${KAGA_NODE_BIN:-bin/kaga-node}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
case $N in /*) ;; *) N=$(pwd)/$N ;; esac
T=$(mktemp -d /tmp/kaga-node-XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }
PORT=$((8000 + $$ % 1000))

$K keygen --out "$T/op" >/dev/null
OP=$(cat op/node.pub)
cat > good.conf <<CONF
# an operator node
data-dir $T/op
listen tcp://127.0.0.1:$PORT
role operator
operator $OP
gossip-interval 200
metrics-listen 127.0.0.1:$((PORT + 1000))
CONF
$N -n -c good.conf 2>err; rc=$?
check "-n accepts a good config" sh -c "test $rc -eq 0 && grep -q 'configuration OK' err"
printf 'data-dir %s/op\nrole operator\noperator %s\nmax-peers 0\n' "$T" "$OP" > bad.conf
$N -n -c bad.conf 2>err; rc=$?
check "-n refuses a bad config" test $rc -ne 0
check "the error names file:line" grep -q 'bad.conf:4:' err
$N -n -c nonexistent.conf 2>err; rc=$?
check "-n on a missing file fails" test $rc -ne 0
$N -x 2>/dev/null; rc=$?
check "an unknown flag is a usage error" test $rc -eq 2

$N -d -c good.conf 2>node.log &
PID=$!
up=0
for i in $(seq 1 100); do
	if $K status --node "$T/op" --json >status.json 2>/dev/null; then up=1; break; fi
	sleep 0.1
done
check "the node answers on its control socket" test $up -eq 1
check "control socket is owner-only (0600)" test "$(stat -c %a op/control.sock)" = 600
check "status --json names the node" grep -q "\"node\":\"$OP\"" status.json
check "status --json has counters and heads" sh -c "grep -q '\"counters\":{' status.json && grep -q '\"heads\":\[' status.json"
$K status --node "$T/op" > status.txt
check "status prints a summary" sh -c "grep -q '^node *$OP' status.txt && grep -q '^role *operator' status.txt"
$K publish --node "$T/op" --type listing --body '{"kind":"offer","cur":"time","title":"x","until":0}' > pub.txt
check "publish prints seq and id" grep -q '^published seq 1 id [0-9a-f]\{64\}$' pub.txt
$K publish --node "$T/op" --type listing --body '{"kind":"offer","cur":"time","title":"y","until":0}' --json > pub.json
check "publish --json" grep -q '^{"seq":2,"id":"[0-9a-f]\{64\}"}$' pub.json
$K publish --node "$T/op" --type order --body '{"slot":1,"side":"sell","steps":[]}' 2>err; rc=$?
check "publish of an invalid body is refused with the reason" sh -c "test $rc -ne 0 && grep -q 'body:' err"
$K publish --node "$T/op" --type listing --body '{"kind":' 2>err; rc=$?
check "publish of broken JSON is a usage error" test $rc -eq 2
$K log --node "$T/op" --json > log.json
check "log --json: one line per message" test "$(wc -l < log.json)" -eq 2
check "log --json: the kaga-ctl log format" grep -q "^{\"author\":\"$OP\",\"seq\":2," log.json
$K log --node "$T/op" --author "$OP" > log.txt
check "log prints a short form" test "$(wc -l < log.txt)" -eq 2
check "status --json has the market and meters parts" sh -c "grep -q '\"market\":{\"operator\":true,\"cleared\":0' status.json && grep -q '\"meters\":\[\]' status.json"
$K ledger --node "$T/op" > ledger.json
check "ledger of a fresh node is empty" grep -qx '{"slots":\[\],"balances":{}}' ledger.json
$K ledger --node "$T/op" --account grid > ledger.json
check "ledger --account grid" grep -qx '{"slots":\[\],"balances":{}}' ledger.json
$K ledger --node "$T/op" --account nobody 2>err; rc=$?
check "ledger --account with a bad key is a usage error" sh -c "test $rc -eq 2 && grep -q 'not a key' err"
$K ledger --node "$T/op" extra 2>err; rc=$?
check "ledger with an extra argument is a usage error" test $rc -eq 2
MP=$((PORT + 1000))
curl -s -o metrics.txt -w '%{http_code} %{content_type}\n' "http://127.0.0.1:$MP/metrics" > http.txt
check "metrics: GET /metrics is 200 text/plain 0.0.4" grep -q '^200 text/plain; version=0.0.4$' http.txt
check "metrics: admitted and rejected messages by reason" sh -c "grep -q '^kaga_node_events_total{event=\"accepted\"} ' metrics.txt && grep -q '^kaga_node_events_total{event=\"rejected_signature\"} 0$' metrics.txt"
check "metrics: published count matches the two publishes" grep -q '^kaga_node_events_total{event="published"} 2$' metrics.txt
check "metrics: peers, market disputes, ledger totals" sh -c "grep -q '^kaga_peers{state=\"outbound\"} ' metrics.txt && grep -q '^kaga_market_disputes_total 0$' metrics.txt && grep -q '^kaga_ledger_balance_millisen{account=\"grid\"} 0$' metrics.txt"
check "metrics: HELP and TYPE lines" grep -q '^# TYPE kaga_store_messages gauge$' metrics.txt
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MP/nothing")
check "metrics: another path is 404" test "$code" = 404
code=$(printf 'garbage\r\n\r\n' | curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @- "http://127.0.0.1:$MP/metrics")
check "metrics: a POST is refused (400)" test "$code" = 400
# a client that connects and says nothing costs at most the read deadline
(sleep 2 | socat - TCP:127.0.0.1:$MP >/dev/null 2>&1) &
SIL=$!
sleep 0.3
check "metrics: the node answers while a client sits silent" sh -c "$K status --node $T/op >/dev/null"
kill $SIL 2>/dev/null; wait $SIL 2>/dev/null
$K status --node "$T/nowhere" 2>err; rc=$?
check "status without a node fails with a hint" sh -c "test $rc -ne 0 && grep -q 'is kaga-node running' err"

# SIGHUP: a good reload, then a broken one that must be ignored
printf 'max-peers 4\n' >> good.conf
kill -HUP $PID; sleep 0.5
check "SIGHUP reloads" grep -q 'configuration reloaded' node.log
cp good.conf good.conf.bak
printf 'bogus-key 1\n' >> good.conf
kill -HUP $PID; sleep 0.5
check "a broken reload is refused, the node keeps running" sh -c "grep -q 'keeping the running configuration' node.log && $K status --node $T/op >/dev/null"
cp good.conf.bak good.conf

kill -TERM $PID; wait $PID; rc=$?; PID=""
check "SIGTERM stops it with status 0" test $rc -eq 0
check "it says the store was committed" grep -q 'store committed' node.log
check "the control socket is removed" test ! -e op/control.sock
$K fsck --store "$T/op/store" > fsck.txt
check "the store is consistent after the stop" grep -q 'ok: 2 messages' fsck.txt

echo "node: $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
