#!/bin/sh
# demo.sh - the main job until the daemon exists (`make demo`): a small
# Kaga neighbourhood, offline, with the real kaga-ctl.
#
# The operator admits three members; they sign orders, a listing and a
# time-bank payment in their own stores; a fourth node (the "city") imports
# everything in a scrambled order, as gossip would deliver it, and ends
# with exactly the same logs: held messages are released when their gap
# fills, a forged copy is rejected, an authentic but invalid order is kept
# and marked. Everything is left in demo-run/ for inspection.
set -eu
K=${KAGA_CTL:-$(pwd)/bin/kaga-ctl}
N=${KAGA_NODE:-$(pwd)/bin/kaga-node}
D=${DEMO_DIR:-$(pwd)/demo-run}
rm -rf "$D"
mkdir -p "$D"
cd "$D"

say() { printf '\n== %s\n' "$*"; }

say "keys: operator, ryokan Hanaya, farm Tanaka, household Sato"
for n in operator hanaya tanaka sato; do
	printf '%-9s %s\n' "$n" "$($K keygen --out "$n")"
done
OP=$(cat operator/node.pub)

say "the operator admits the members (signed member messages)"
i=0
for n in hanaya:ryokan tanaka:farm sato:household; do
	name=${n%%:*}; role=${n##*:}; i=$((i + 1))
	$K sign --key operator/node.key --store operator/store --type member \
	    --body "{\"node\":\"$(cat "$name/node.pub")\",\"role\":\"$role\",\"name\":\"$name\",\"area\":\"Yamashiro\",\"endpoint\":\"tcp://127.0.0.1:$((7000 + i))\",\"until\":0}" \
	    > "msg-operator-$i"
	echo "member $name ($role): $(wc -c < "msg-operator-$i") bytes"
done

SLOT=$(( ($(date +%s) / 1800 + 2) * 1800 ))
say "orders for the half-hour slot starting at unix $SLOT"
sign() {	# who n type body
	$K sign --key "$1/node.key" --store "$1/store" --type "$3" --body "$4" \
	    > "msg-$1-$2"
}
sign tanaka 1 order "{\"slot\":$SLOT,\"side\":\"sell\",\"steps\":[[3000,900],[2000,1400]]}"
echo "tanaka sells 3.0 kWh at 9.00 JPY/kWh, 2.0 more at 14.00"
sign hanaya 1 order "{\"slot\":$SLOT,\"side\":\"buy\",\"steps\":[[4000,2500],[1000,1500]]}"
echo "hanaya buys 4.0 kWh up to 25.00 JPY/kWh, 1.0 more up to 15.00"
sign sato 1 order "{\"slot\":$SLOT,\"side\":\"buy\",\"steps\":[[1500,2000]]}"
echo "sato buys 1.5 kWh up to 20.00 JPY/kWh"
sign sato 2 listing '{"kind":"offer","cur":"time","title":"snow shovelling, Sunday morning","area":"Yamashiro","until":0}'
sign sato 3 pay "{\"cur\":\"time\",\"to\":\"$(cat tanaka/node.pub)\",\"amount\":90,\"memo\":\"help at the rice harvest\",\"in\":[]}"
echo "sato offers snow shovelling and pays tanaka 90 time-bank minutes"

say "a farm signs a member message it may not sign (authentic, invalid)"
$K sign --key tanaka/node.key --store tanaka/store --type member \
    --body "{\"node\":\"$(cat tanaka/node.pub)\",\"role\":\"operator\",\"until\":0}" > msg-tanaka-2

say "a forged copy of sato's order (one byte of the signature changed)"
cp msg-sato-1 forged
printf '\377' | dd of=forged bs=1 seek=$(( $(wc -c < forged) - 1 )) conv=notrunc 2>/dev/null
$K verify msg-* forged || true

say "the city imports everything in a scrambled order, as gossip may deliver it"
echo "(messages that arrive before their predecessors are held and released"
echo " when the gap fills; each line shows a file's final outcome)"
$K import --store city --operator "$OP" msg-operator-2 msg-operator-3 \
    msg-operator-1 msg-sato-3 msg-sato-2 forged msg-tanaka-2 msg-sato-1 \
    msg-hanaya-1 msg-tanaka-1

say "importing everything again, in order: nothing changes"
$K import --store city --operator "$OP" msg-operator-1 msg-operator-2 \
    msg-operator-3 msg-tanaka-1 msg-tanaka-2 msg-hanaya-1 msg-sato-1 \
    msg-sato-2 msg-sato-3

say "the city's log (JSON lines)"
$K log --store city | cut -c1-160

say "consistency check of every store"
for s in operator/store tanaka/store hanaya/store sato/store city; do
	$K fsck --store "$s"
done
$K inspect --store city

say "live: the operator, the ryokan and the farm as running kaga-nodes"
echo "(CURVE-encrypted ZeroMQ on loopback; the ZAP handler admits members only)"
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done' EXIT INT TERM
port=$((27000 + $$ % 1000))
i=0
for n in operator hanaya tanaka; do
	i=$((i + 1))
	{
		echo "data-dir $D/live-$n"
		echo "listen tcp://127.0.0.1:$((port + i))"
		case $n in
		operator) echo "role operator" ;;
		hanaya) echo "role ryokan" ;;
		*) echo "role farm" ;;
		esac
		echo "operator $OP"
		echo "gossip-interval 200"
		if [ $n != operator ]; then
			echo "peer $OP tcp://127.0.0.1:$((port + 1))"
		fi
	} > "$n.conf"
	mkdir -p "live-$n"
	cp "$n/node.key" "$n/node.pub" "live-$n/"
	$N -d -c "$n.conf" 2>"live-$n.log" &
	PIDS="$PIDS $!"
done
sleep 1
for n in hanaya:ryokan:2 tanaka:farm:3; do
	who=${n%%:*}; rest=${n#*:}; role=${rest%%:*}; j=${rest##*:}
	$K publish --node "$D/live-operator" --type member --body \
	    "{\"node\":\"$(cat $who/node.pub)\",\"role\":\"$role\",\"endpoint\":\"tcp://127.0.0.1:$((port + j))\",\"until\":0}"
done
$K publish --node "$D/live-hanaya" --type listing --body \
    '{"kind":"want","cur":"time","title":"futon airing help, Saturday","until":0}'
$K publish --node "$D/live-tanaka" --type listing --body \
    '{"kind":"offer","cur":"time","title":"fresh Kaga rice, delivered","until":0}'
sleep 2
for n in operator hanaya tanaka; do
	echo "-- $n holds:"
	$K log --node "$D/live-$n"
done
$K status --node "$D/live-operator"
for p in $PIDS; do kill $p; done
wait 2>/dev/null
PIDS=""

echo
echo "all files are in $D"
