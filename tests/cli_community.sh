#!/bin/sh
# cli_community.sh - section 8 through kaga-ctl against three live
# kaga-node processes on 127.0.0.1 (an operator, an issuer, a household):
# the issuer issues health points to the household, which pays the
# operator with `kaga-ctl pay` (the node picks the credit to cite);
# `kaga-ctl balance` agrees on every node; a pay past the limit is refused
# with the reason; the time bank down to its limit; history; listings
# with expiry published by `kaga-ctl list`; and the usage errors (exit 2
# with a message).
# Run by tests/run.sh with KAGA_CTL and KAGA_NODE_BIN set.
set -u
K=${KAGA_CTL:-bin/kaga-ctl}
N=${KAGA_NODE_BIN:-bin/kaga-node}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
case $N in /*) ;; *) N=$(pwd)/$N ;; esac
T=$(mktemp -d /tmp/kaga-comm-XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }
# ports: below the ephemeral range, apart from the other tests' (+33)
BASE=$((20000 + ($$ % 120) * 100 + 33))

# waits up to 15 s until the command succeeds
wait_for() {
	i=0
	while [ $i -lt 150 ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

for who in op iss hh; do $K keygen --out "$T/$who" >/dev/null; done
OP=$(cat op/node.pub); ISS=$(cat iss/node.pub); HH=$(cat hh/node.pub)
i=0
for who in op iss hh; do
	role=operator; [ $who = iss ] && role=issuer; [ $who = hh ] && role=household
	{
		echo "data-dir $T/$who"
		echo "listen tcp://127.0.0.1:$((BASE + i))"
		echo "role $role"
		echo "operator $OP"
		echo "gossip-interval 200"
		[ $who != op ] && echo "peer $OP tcp://127.0.0.1:$BASE"
	} > $who.conf
	i=$((i + 1))
done

$N -d -c op.conf 2>op.log &
PIDS="$PIDS $!"
check "the operator node answers" wait_for $K status --node "$T/op"
$K publish --node "$T/op" --type member --body "{\"node\":\"$ISS\",\"role\":\"issuer\",\"cap\":1000,\"endpoint\":\"tcp://127.0.0.1:$((BASE + 1))\",\"until\":0}" >/dev/null
$K publish --node "$T/op" --type member --body "{\"node\":\"$HH\",\"role\":\"household\",\"endpoint\":\"tcp://127.0.0.1:$((BASE + 2))\",\"until\":0}" >/dev/null
for who in iss hh; do
	$N -d -c $who.conf 2>$who.log &
	PIDS="$PIDS $!"
done
check "the issuer node answers" wait_for $K status --node "$T/iss"
check "the household node answers" wait_for $K status --node "$T/hh"
has_members() { $K status --node "$T/$1" --json | grep -q "\"author\":\"$OP\",\"seq\":2,"; }
check "the issuer node learns the members" wait_for has_members iss
check "the household node learns the members" wait_for has_members hh

# ---- health points: issue, pay the operator
JST=$(( $(date +%s) + 32400 ))
FY=$(date -u -d "@$JST" '+%Y %m' | awk '{ print ($2 >= 4) ? $1 : $1 - 1 }')
$K publish --node "$T/iss" --type issue --body "{\"to\":\"$HH\",\"points\":100,\"program\":\"walk\",\"fy\":$FY}" >/dev/null 2>err
check "the issuer issues 100 points for fiscal $FY" test $? -eq 0
$K publish --node "$T/iss" --type issue --body "{\"to\":\"$HH\",\"points\":1,\"fy\":$((FY + 1))}" >/dev/null 2>err; rc=$?
check "an issue for another fiscal year is refused" sh -c "test $rc -ne 0 && grep -q 'not the fiscal year' err"
bal_is() { $K balance --node "$T/$1" --of "$HH" --cur health --json | grep -q "\"balance\":$2,"; }
check "the household sees 100 points" wait_for bal_is hh 100
$K balance --node "$T/hh" > bal.txt
check "balance prints both currencies" sh -c "grep -q '^member  $HH' bal.txt && grep -q '^health  100 points (cited 0, uncited 100; can pay 100)' bal.txt && grep -q '^time    0 minutes' bal.txt"
$K pay --node "$T/hh" --cur health --to "$OP" --amount 30 --memo "onsen" > pay.txt 2>err; rc=$?
check "pay to the operator" sh -c "test $rc -eq 0 && grep -q '^paid 30 points to $OP: seq 1 id [0-9a-f]\{64\}, citing 1 credit; valid; balance 70 points$' pay.txt"
for who in op iss hh; do
	check "balance on the $who node: 70" wait_for bal_is $who 70
done
for who in op iss hh; do $K balance --node "$T/$who" --of "$HH" --json > b.$who; done
check "the three nodes give the same balance JSON" sh -c "cmp -s b.op b.iss && cmp -s b.op b.hh"
check "the cited credit is spent, the rest is cited balance" grep -q '"health":{"balance":70,"cited":70,"uncited":0,"received":100,"paid":30,' b.hh
op_has() { $K balance --node "$T/$1" --of "$OP" --cur health --json | grep -q '"balance":30,'; }
check "the operator holds the 30 points" wait_for op_has op
$K pay --node "$T/hh" --cur health --to "$OP" --amount 71 2>err; rc=$?
check "a pay past the limit is refused (exit 1)" test $rc -eq 1
check "... saying why" grep -q 'the balance would break the limit: 70 points can be paid now' err
$K pay --node "$T/hh" --cur health --to "$OP" --amount 70 --json > pay.json
check "exactly the balance can be paid" grep -q '"status":"valid","balance":0,"cited":0}' pay.json
check "... citing nothing new" grep -q '"in":\[\]' pay.json

# ---- the time bank
$K pay --node "$T/hh" --cur time --to "$ISS" --amount 600 --memo "harvest" >/dev/null 2>err
check "time: down to the limit of -600" test $? -eq 0
$K pay --node "$T/hh" --cur time --to "$ISS" --amount 1 2>err; rc=$?
check "time: one minute more is refused" sh -c "test $rc -eq 1 && grep -q '0 minutes can be paid now' err"
tbal_is() { $K balance --node "$T/$1" --of "$ISS" --cur time --json | grep -q '"balance":600,'; }
check "the issuer's node sees its 600 minutes" wait_for tbal_is iss
$K pay --node "$T/iss" --cur time --to "$HH" --amount 900 > pay2.txt 2>err; rc=$?
check "the issuer pays 900 minutes back, citing what it got" sh -c "test $rc -eq 0 && grep -q 'citing 1 credit; valid; balance -300 minutes$' pay2.txt"
hh_time() { $K balance --node "$T/hh" --cur time --json | grep -q '"time":{"balance":300,"cited":-600,'; }
check "the household sees the 900 minutes, uncited" wait_for hh_time
$K pay --node "$T/hh" --cur time --to "$OP" --amount 5 >/dev/null 2>err; rc=$?
check "a pay to an operator key, citing the 900" test $rc -eq 0
$K pay --node "$T/hh" --cur time --to "$HH" --amount 5 2>err; rc=$?
check "a pay to oneself is refused" sh -c "test $rc -eq 1 && grep -q 'own key' err"
$K pay --node "$T/hh" --cur time --to "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" --amount 5 2>err; rc=$?
check "a pay to a stranger is refused" sh -c "test $rc -eq 1 && grep -q 'not an admitted member' err"

# ---- history
$K history --node "$T/hh" > hist.txt
check "history: the issue, in" grep -q '  in   health  issue  +100 .*valid .*from '"$(echo $ISS | cut -c1-16)"'  cited by seq 1' hist.txt
check "history: the pays, out" sh -c "grep -q '  out  health  pay    -30 .*valid .*\"onsen\"' hist.txt && grep -q '  out  time    pay    -600 ' hist.txt"
$K history --node "$T/hh" --cur time --json > hist.json
check "history --json --cur time" sh -c "grep -q '\"entries\":\[' hist.json && ! grep -q '\"cur\":\"health\"' hist.json"

# ---- listings
$K list --node "$T/hh" --offer --title "rice harvest" --area Yamashiro > list.txt
check "list --offer publishes a listing" grep -q '^published offer seq [0-9]* id [0-9a-f]\{64\}$' list.txt
$K list --node "$T/hh" --want --title "gone" --until 1 >/dev/null
$K list --node "$T/hh" --want --title "futon airing" --until $(( ($(date +%s) + 3600) * 1000 )) >/dev/null
has_listings() { $K listings --node "$T/$1" --json | grep -q 'futon airing'; }
check "the listings reach the operator" wait_for has_listings op
$K listings --node "$T/op" > listings.txt
check "listings: the current offer and want" sh -c "grep -q '^offer  rice harvest \[Yamashiro\]  until no end  by ' listings.txt && grep -q '^want   futon airing  until 20' listings.txt"
check "listings: not the expired one" sh -c "! grep -q gone listings.txt"

# ---- usage errors: exit 2 with a message
usage() { desc=$1; want=$2; shift 2; "$@" >/dev/null 2>err; rc=$?
	check "$desc" sh -c "test $rc -eq 2 && grep -q -- '$want' err"; }
usage "pay without --amount" "usage: kaga-ctl pay" $K pay --node "$T/hh" --cur health --to "$OP"
usage "pay --amount 0" "--amount: an integer from 1" $K pay --node "$T/hh" --cur health --to "$OP" --amount 0
usage "pay --amount abc" "--amount: an integer" $K pay --node "$T/hh" --cur health --to "$OP" --amount abc
usage "pay --amount too big" "--amount: an integer" $K pay --node "$T/hh" --cur health --to "$OP" --amount 4294967296
usage "pay --cur gold" "--cur: health or time" $K pay --node "$T/hh" --cur gold --to "$OP" --amount 1
usage "pay --to not a key" "--to: expected a key" $K pay --node "$T/hh" --cur time --to xyz --amount 1
usage "pay --memo too long" "--memo: UTF-8 text" $K pay --node "$T/hh" --cur time --to "$OP" --amount 1 --memo "$(printf '%0141d' 0)"
usage "balance --of not a key" "--of: expected a key" $K balance --node "$T/hh" --of 12
usage "balance with an extra argument" "usage: kaga-ctl balance" $K balance --node "$T/hh" extra
usage "history --cur x" "--cur: health or time" $K history --node "$T/hh" --cur x
usage "listings with an extra argument" "usage: kaga-ctl listings" $K listings --node "$T/hh" x
usage "list --offer --want" "one of --offer or --want" $K list --node "$T/hh" --offer --want --title t
usage "list without --title" "usage: kaga-ctl list" $K list --node "$T/hh" --offer
usage "list --title too long" "--title: UTF-8 text of 1 to 80" $K list --node "$T/hh" --offer --title "$(printf '%081d' 0)"
usage "list --until -5" "--until: ms" $K list --node "$T/hh" --offer --title t --until -5
$K balance --node "$T/nowhere" 2>err; rc=$?
check "balance without a node: exit 1 with a hint" sh -c "test $rc -eq 1 && grep -q 'is kaga-node running' err"

echo "community: $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
