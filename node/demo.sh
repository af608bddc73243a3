#!/bin/sh
# demo.sh - `make demo`: a day of the Kaga exchange on one machine.
#
# An operator, a city node, ten households, a ryokan and a farm run as
# real kaga-node processes on 127.0.0.1 (CURVE-encrypted ZeroMQ, members
# only), each member with its own kaga-meter-sim SDM630 over Modbus TCP.
# Time runs fast: a half-hour slot lasts DEMO_SLOT_S seconds (6) and the
# meters' clocks run 1800 / DEMO_SLOT_S times faster, so a day of 48 slots
# passes in about five minutes. The operator admits the members from a
# roster and sets the market parameters; every member bids by itself from
# its meter (node/autobid.c), the operator clears at each gate, the
# members check it, send sealed readings, the operator settles, everyone
# posts the ledger. Each slot's price and volume are printed as they
# clear; at the end each member's bill next to its grid-only bill, the
# local share, and the city's view. Ctrl-C stops everything cleanly and
# still prints the summary. Logs and stores stay in demo-run/.
#
# DEMO_SLOTS (48) and DEMO_SLOT_S (6) shorten or slow it down; DEMO_HOUR
# (0) is the hour of the day the meters start at.
set -u
K=${KAGA_CTL:-$(pwd)/bin/kaga-ctl}
N=${KAGA_NODE:-$(pwd)/bin/kaga-node}
S=${KAGA_METER_SIM:-$(pwd)/bin/kaga-meter-sim}
D=${DEMO_DIR:-$(pwd)/demo-run}
SLOT_S=${DEMO_SLOT_S:-6}
SLOTS=${DEMO_SLOTS:-48}
HOUR=${DEMO_HOUR:-0}		# the meters' clock at the start
GATE_S=2
SPEED=$((1800 / SLOT_S))
BASE=$((24000 + ($$ % 150) * 50))
FLOOR=800; CEILING=3100; FEE=500	# sen/kWh (PROTOCOL.md defaults)

rm -rf "$D"
mkdir -p "$D"
cd "$D" || exit 1
PIDS=""
stopping=0

say() { printf '\n== %s\n' "$*"; }
yen() {	# milli-sen -> yen with 2 decimals (1 yen = 100 sen)
	awk -v m="$1" 'BEGIN { printf "%.2f", m / 100000 }'
}

stop_all() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	PIDS=""
}
trap 'stopping=1' INT TERM

# name role pv_w load_w: the city (meters have no PV below 1 W)
MEMBERS="h01:household:0:450 h02:household:4500:450 h03:household:0:600
h04:household:6000:400 h05:household:3000:500 h06:household:0:350
h07:household:5000:550 h08:household:2000:450 h09:household:0:500
h10:household:7000:400 hanaya:ryokan:12000:3000 tanaka:farm:25000:900"

say "keys: operator, city and $(echo $MEMBERS | wc -w) members"
for n in operator city $(for m in $MEMBERS; do echo "${m%%:*}"; done); do
	$K keygen --out "$n" >/dev/null || exit 1
done
OP=$(cat operator/node.pub)

i=0
conf() {	# name role port [extra lines]
	{
		echo "data-dir $D/$1"
		echo "listen tcp://127.0.0.1:$3"
		echo "role $2"
		echo "operator $OP"
		echo "gossip-interval 250"
		[ "$1" != operator ] && echo "peer $OP tcp://127.0.0.1:$BASE"
		[ $# -gt 3 ] && printf '%s\n' "$4"
	} > "$1.conf"
}
conf operator operator $BASE "settle-delay 2
metrics-listen 127.0.0.1:$((BASE + 49))"
$N -d -c operator.conf 2>operator.log &
PIDS="$PIDS $!"
for t in $(seq 1 100); do $K status --node operator >/dev/null 2>&1 && break; sleep 0.1; done

say "the operator sets the market: $SLOT_S-second slots, gate $GATE_S s before"
echo "(floor $FLOOR, ceiling $CEILING, fee $FEE sen/kWh: buy-back, retail, network)"
$K publish --node operator --type market --body "{\"from\":0,\"slot_s\":$SLOT_S,\"gate_s\":$GATE_S,\"floor\":$FLOOR,\"ceiling\":$CEILING,\"fee\":$FEE,\"time_limit\":600,\"pt_value\":100000}" >/dev/null || exit 1

say "the operator admits the members from a roster"
{
	echo "# key role name area endpoint"
	echo "$(cat city/node.pub) city \"Kaga city\" Kaga tcp://127.0.0.1:$((BASE + 1))"
	i=2
	for m in $MEMBERS; do
		n=${m%%:*}; r=$(echo "$m" | cut -d: -f2)
		echo "$(cat "$n/node.pub") $r $n Yamashiro tcp://127.0.0.1:$((BASE + i))"
		i=$((i + 1))
	done
} > roster.txt
$K admit --node operator --roster roster.txt | tail -n 1

say "meters and nodes start (each member: kaga-meter-sim + kaga-node)"
conf city city $((BASE + 1))
$N -d -c city.conf 2>city.log &
PIDS="$PIDS $!"
i=2
for m in $MEMBERS; do
	n=${m%%:*}; r=$(echo "$m" | cut -d: -f2)
	pv=$(echo "$m" | cut -d: -f3); load=$(echo "$m" | cut -d: -f4)
	mp=$((BASE + 20 + i))
	$S --listen 127.0.0.1:$mp --profile sdm630 --hour "$HOUR" --speed $SPEED \
	    --pv-w "$pv" --load-w "$load" 2>"$n-meter.log" &
	PIDS="$PIDS $!"
	conf "$n" "$r" $((BASE + i)) "meter grid grid sdm630 tcp://127.0.0.1:$mp period-ms=250 timeout-ms=500 retries=0 max-power-w=100000000
strategy auto=on steps=3 lead-s=1"
	printf '%-7s %-9s PV %5s W peak, base load %4s W, meter on port %s\n' \
	    "$n" "$r" "$pv" "$load" "$mp"
	i=$((i + 1))
done
sleep 0.5
for m in $MEMBERS; do
	n=${m%%:*}
	$N -d -c "$n.conf" 2>"$n.log" &
	PIDS="$PIDS $!"
done
for n in city $(for m in $MEMBERS; do echo "${m%%:*}"; done); do
	for t in $(seq 1 100); do $K status --node "$n" >/dev/null 2>&1 && break; sleep 0.1; done
	if ! $K status --node "$n" >/dev/null 2>&1; then
		echo "kaga-node $n did not start:"; tail -n 3 "$n.log"
		stop_all; exit 1
	fi
done

FIRST=$(( ($(date +%s) / SLOT_S + 2) * SLOT_S ))
LAST=$((FIRST + SLOTS * SLOT_S))
say "a day of $SLOTS slots (one every $SLOT_S s; Ctrl-C stops early)"
echo "(members bid from their meters' recent slots; the first slot or two"
echo " are history only)"
printf '%-6s %-8s %10s %10s %7s\n' slot time "price JPY" "local kWh" fills
seen=" "
while [ "$stopping" -eq 0 ] && [ "$(date +%s)" -lt $((LAST + 4)) ]; do
	$K log --node operator --author "$OP" --json 2>/dev/null |
	    grep '"type":"clear"' > clears.json
	while IFS= read -r line; do
		slot=$(echo "$line" | sed -n 's/.*"body":{"slot":\([0-9]*\),.*/\1/p')
		case $seen in *" $slot "*) continue ;; esac
		seen="$seen$slot "
		[ "$slot" -lt "$FIRST" ] && continue
		price=$(echo "$line" | sed -n 's/.*"price":\([0-9a-z]*\),.*/\1/p')
		vol=$(echo "$line" | sed -n 's/.*"volume":\([0-9]*\),.*/\1/p')
		nfills=$(echo "$line" | grep -o '\],\[' | wc -l)
		k=$(( (slot - FIRST) / SLOT_S ))
		hhmm=$(printf '%02d:%02d' $(((k / 2 + HOUR) % 24)) $((k % 2 * 30)))
		if [ "$price" = null ]; then p="-"; else p=$(awk -v c="$price" 'BEGIN { printf "%.2f", c / 100 }'); fi
		printf '%-6s %-8s %10s %10s %7s\n' "$k" "$hhmm" "$p" \
		    "$(awk -v w="$vol" 'BEGIN { printf "%.3f", w / 1000 }')" \
		    "$([ "$vol" -gt 0 ] && echo $((nfills + 1)) || echo 0)"
	done < clears.json
	sleep 1
done
[ "$stopping" -eq 1 ] && echo "(stopped early)"
sleep $((GATE_S + 2))

say "bills for the day: with the local market and with the grid only (JPY)"
printf '%-7s %-9s %9s %9s %9s %9s %10s %10s %8s\n' member role "imp kWh" \
    "exp kWh" "bought" "sold" "market" "grid only" saving
tb=0; ti=0; tm=0; tg=0
for m in $MEMBERS; do
	n=${m%%:*}; r=$(echo "$m" | cut -d: -f2)
	j=$($K bill --node "$n" --from "$FIRST" --to "$LAST" 2>/dev/null) || continue
	get() { echo "$j" | sed -n "s/.*\"$1\":\(-*[0-9]*\).*/\1/p"; }
	imp=$(get import_wh); exp=$(get export_wh); bo=$(get bought_local_wh)
	so=$(get sold_local_wh); bm=$(get bill_millisen); bg=$(get grid_only_millisen)
	printf '%-7s %-9s %9.3f %9.3f %9.3f %9.3f %10s %10s %8s\n' "$n" "$r" \
	    "$(awk -v w="$imp" 'BEGIN{print w/1000}')" "$(awk -v w="$exp" 'BEGIN{print w/1000}')" \
	    "$(awk -v w="$bo" 'BEGIN{print w/1000}')" "$(awk -v w="$so" 'BEGIN{print w/1000}')" \
	    "$(yen "$bm")" "$(yen "$bg")" "$(yen $((bg - bm)))"
	tb=$((tb + bo)); ti=$((ti + imp)); tm=$((tm + bm)); tg=$((tg + bg))
	[ -s agg.json ] && printf ',' >> agg.json || printf '[' > agg.json
	printf '{"member":"%s","area":"Yamashiro","day":"%s","import_wh":%s,"export_wh":%s,"bought_local_wh":%s,"sold_local_wh":%s}' \
	    "$(cat "$n/node.pub")" "$(date -u -d @$((FIRST + 32400)) +%F)" \
	    "$imp" "$exp" "$bo" "$so" >> agg.json
done
[ -s agg.json ] && printf ']\n' >> agg.json
say "the city's view"
if [ "$ti" -gt 0 ]; then
	echo "local share of imported energy: $(awk -v b=$tb -v i=$ti 'BEGIN { printf "%.1f %%", 100 * b / i }')"
fi
echo "members' bills: $(yen $tm) JPY with the market, $(yen $tg) JPY grid only"
$K ledger --node city > city-ledger.json 2>/dev/null &&
    echo "city ledger: $(grep -o '"slot":' city-ledger.json | wc -l) settled slots; grid account $(yen "$(sed -n 's/.*"grid":\(-*[0-9]*\).*/\1/p' city-ledger.json)") JPY (fees and balancing), operator $(yen "$(sed -n 's/.*"operator":\(-*[0-9]*\).*/\1/p' city-ledger.json)") JPY"
disp=0
for n in operator city $(for m in $MEMBERS; do echo "${m%%:*}"; done); do
	d=$($K status --node "$n" --json 2>/dev/null | sed -n 's/.*"disputes_total":\([0-9]*\).*/\1/p')
	disp=$((disp + ${d:-0}))
done
echo "clearing and settlement disputes on all nodes: $disp"
if [ -s agg.json ]; then
	echo "the city's summary of the day (PROTOCOL.md 9, kaga-ctl aggregate --csv):"
	$K aggregate --input agg.json --csv 2>&1 | cut -d, -f1-9 | sed 's/^/    /'
	echo "    (a cell needs at least 15 members and no member over 15 % of its"
	echo "     energy: this neighbourhood of $(echo $MEMBERS | wc -w) is suppressed, as it must be)"
fi
# the last settle may still be on its way: compare for up to 15 s
for try in $(seq 1 30); do
	$K ledger --node operator > operator-ledger.json 2>/dev/null
	same=0; differ=""
	for n in city $(for m in $MEMBERS; do echo "${m%%:*}"; done); do
		$K ledger --node "$n" > "$n-ledger.json" 2>/dev/null
		if cmp -s operator-ledger.json "$n-ledger.json"; then same=$((same + 1)); else differ="$differ $n"; fi
	done
	[ -z "$differ" ] && break
	sleep 0.5
done
echo "ledgers identical to the operator's: $same of $(( $(echo $MEMBERS | wc -w) + 1 ))${differ:+ (differ:$differ)}"
echo "settled slots whose lines sum to zero: $($K log --node operator --author "$OP" --json 2>/dev/null | grep '"type":"settle"' | awk '{
	n = split($0, a, /"lines":\[\[/); if (n < 2) next
	s = a[2]; sub(/\]\]\}.*/, "", s); k = split(s, l, /\],\[/); t = 0
	for (i = 1; i <= k; i++) { split(l[i], f, ","); t += f[2] }
	if (t == 0) z++; c++ } END { printf "%d of %d", z, c }')"
echo "Prometheus metrics of the operator: curl http://127.0.0.1:$((BASE + 49))/metrics"

say "stopping (SIGTERM: stores committed, meter state saved)"
stop_all
echo "logs, stores and ledgers are in $D"
