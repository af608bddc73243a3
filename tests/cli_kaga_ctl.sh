#!/bin/sh
# cli_kaga_ctl.sh - the kaga-ctl offline contract, end to end, with the real
# binary in a temporary folder: keygen, sign, verify, import, log, fsck,
# and their error paths (exit status and messages).
# Run by tests/run.sh with KAGA_CTL set to the binary.
set -u
K=${KAGA_CTL:-bin/kaga-ctl}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
T=$(mktemp -d /tmp/kaga-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }
HEX64='^[0-9a-f]\{64\}$'

# ---- keygen
$K keygen --out op >/dev/null && $K keygen --out alice >/dev/null &&
	$K keygen --out bob >/dev/null
check "keygen writes node.key mode 0600" test "$(stat -c %a op/node.key)" = 600
check "node.pub is 64 hex digits and a newline" \
	sh -c "grep -q '$HEX64' op/node.pub && test \$(wc -c < op/node.pub) -eq 65"
cp op/node.key op.key.before
$K keygen --out op >/dev/null 2>err; rc=$?
check "keygen refuses to overwrite" test $rc -ne 0
check "keygen left the old key alone" cmp -s op/node.key op.key.before
check "keygen says why" grep -q "refusing to overwrite" err
OP=$(cat op/node.pub); AL=$(cat alice/node.pub); BO=$(cat bob/node.pub)

# ---- sign
NOW=$(($(date +%s) * 1000))
SLOT=$(( ($(date +%s) / 1800 + 4) * 1800 ))
member() {
	$K sign --key op/node.key --store sop --type member --body \
	"{\"node\":\"$1\",\"role\":\"$2\",\"name\":\"n\",\"area\":\"Yamashiro\",\"endpoint\":\"tcp://127.0.0.1:7001\",\"until\":0}"
}
member "$AL" household > m1; rc1=$?
member "$BO" farm > m2; rc2=$?
check "sign exits 0" test $rc1 -eq 0 -a $rc2 -eq 0
$K sign --key alice/node.key --store sal --type order --body \
	"{\"slot\":$SLOT,\"side\":\"sell\",\"steps\":[[1000,900],[500,1200]]}" > a1
$K sign --key alice/node.key --store sal --type listing --body \
	'{"kind":"offer","cur":"time","title":"tea ceremony lesson","until":0}' > a2
$K sign --key alice/node.key --store sal --type pay --body \
	"{\"cur\":\"time\",\"to\":\"$BO\",\"amount\":60,\"memo\":\"rice\",\"in\":[]}" > a3
check "signed files are non-empty" test -s a1 -a -s a2 -a -s a3
$K sign --key alice/node.key --store sal --type order --body \
	"{\"slot\":$SLOT,\"side\":\"sell\",\"steps\":[[1000,900],[500,900]]}" > bad 2>err; rc=$?
check "sign refuses a sell curve that does not rise (exit 2)" test $rc -eq 2
check "sign says why" grep -q "strictly rise" err
check "sign wrote nothing to stdout on refusal" test ! -s bad
$K sign --key alice/node.key --store sal --type order --body '{"slot":1.5}' 2>err >/dev/null; rc=$?
check "sign refuses floats in JSON (exit 2)" test $rc -eq 2
$K sign --key alice/node.key --store sal --type order --body '{"slot":' 2>err >/dev/null; rc=$?
check "sign refuses broken JSON (exit 2)" test $rc -eq 2
$K sign --key alice/node.key --store sal --type pay --body '{"cur":"time","to":"XYZ","amount":1}' 2>err >/dev/null; rc=$?
check "sign refuses a bin field that is not hex" sh -c "test $rc -eq 2 && grep -q hex err"
cp alice/node.key loose.key; chmod 644 loose.key
$K sign --key loose.key --store sal --type listing --body '{"kind":"offer","cur":"time","title":"x","until":0}' 2>err >/dev/null; rc=$?
check "sign refuses a key file readable by others" sh -c "test $rc -ne 0 && grep -q 'readable by others' err"
$K log --store sal > sal.log
check "refused signs appended nothing" test "$(wc -l < sal.log)" -eq 3

# ---- verify
$K verify m1 a1 a2 a3 > out; rc=$?
check "verify exits 0 when all are ok" test $rc -eq 0
check "verify prints FILE: ok ID" sh -c "grep -c '^a[123]: ok [0-9a-f]\{64\}$' out | grep -q 3"
head -c 40 a1 > trunc
# flip the low bit of the last byte (a fixed byte would be no change 1 in 256 runs)
last=$(tail -c 1 a2 | od -An -tu1 | tr -d ' ')
cp a2 tampered; printf "\\$(printf '%03o' $(( last ^ 1 )))" | dd of=tampered bs=1 seek=$(( $(wc -c < a2) - 1 )) conv=notrunc 2>/dev/null
cmp -s a2 tampered && echo "tampering failed" >&2
printf 'hello' > junk
$K verify a1 trunc tampered junk nosuchfile > out; rc=$?
check "verify exits non-zero when one is not ok" test $rc -ne 0
check "verify: truncated is invalid: decode" grep -q '^trunc: invalid: decode:' out
check "verify: tampered is invalid: signature" grep -q '^tampered: invalid: signature:' out
check "verify: junk is invalid" grep -q '^junk: invalid: ' out
check "verify: a missing file is reported" grep -q '^nosuchfile: invalid: ' out
check "verify: the good one is still ok" grep -q '^a1: ok ' out

# ---- import: order matters, held messages are released
$K import --store s1 --operator "$OP" a1 m1 a2 a1 a2 > out; rc=$?
check "import exits 0" test $rc -eq 0
line() { sed -n "$1p" out | grep -q "$2"; }
check "import: a1 before admission is rejected" line 1 '^rejected: admission: .*(a1 [0-9a-f]\{64\})$'
check "import: member accepted" line 2 '^accepted m1 '
check "import: a2 before its gap is held, then released: accepted" line 3 '^accepted a2 [0-9a-f]\{64\}$'
check "import: a1 after admission accepted" line 4 '^accepted a1 '
check "import: duplicate reported" line 5 '^duplicate a2 '
check "import: one line per file" test "$(wc -l < out)" -eq 5
$K import --store s1 --operator "$OP" a3 a1 > out
# whether bob is admitted at a3's ts is the community ledger's to judge,
# whenever bob's member arrives (docs/community.md): the store keeps a3
check "import: a3 pays bob, not yet admitted: accepted, kept" line 1 '^accepted a3 [0-9a-f]\{64\}$'
check "import: a1 again is a duplicate" line 2 '^duplicate a1 '
$K import --store s1b --operator "$OP" a3 > out
check "import: a3 alone in a new store is rejected (no admission)" line 1 '^rejected: admission:'
$K import --store s1b --operator "$OP" m1 a3 a2 > out
check "import: gap held" line 2 '^held a3 '
check "import: gap 2 held too" line 3 '^held a2 '
$K inspect --store s1b > out
check "inspect: held messages counted" line 1 'held 2'

# authentic but invalid: a household signs a member message in its own store
$K sign --key bob/node.key --store sbo --type member --body "{\"node\":\"$AL\",\"role\":\"city\",\"until\":0}" > b1
$K import --store s1 --operator "$OP" m2 b1 > out
check "import: invalid message kept with its reason" grep -q '^invalid: body: authority' out
# a fork: bob signs another seq 1 in a second store
$K sign --key bob/node.key --store sbo2 --type listing --body '{"kind":"want","cur":"time","title":"y","until":0}' > b1x
$K import --store s1 --operator "$OP" b1x > out
check "import: second message at a seq is a fork" grep -q '^fork b1x ' out
$K import --store s1 --operator "$OP" trunc junk > out; rc=$?
check "import: undecodable files are rejected: decode" sh -c "grep -c '^rejected: decode:' out | grep -q 2"
$K import --store s1 --operator "$OP" nosuchfile > out 2>err; rc=$?
check "import: unreadable file makes exit non-zero" test $rc -ne 0
$K import --store s2 a1 > out 2>err; rc=$?
check "import: no operator key is a usage error" test $rc -eq 2
$K import --store s2 --operator nothex a1 > out 2>err; rc=$?
check "import: bad operator hex is a usage error" test $rc -eq 2

# ---- log
$K log --store s1 > log
check "log: one JSON line per stored message" test "$(wc -l < log)" -eq 6
check "log: fields" grep -q "^{\"author\":\"$AL\",\"seq\":1,\"id\":\"[0-9a-f]\{64\}\",\"prev\":null,\"ts\":[0-9]*,\"type\":\"order\",\"body\":{\"slot\":$SLOT,\"side\":\"sell\",\"steps\":\[\[1000,900\],\[500,1200\]\]},\"status\":\"valid\"}$" log
check "log: bin fields as hex" grep -q "\"to\":\"$BO\"" log
check "log: invalid status and reason" grep -q '"status":"invalid","reason":"body: authority' log
$K log --store s1 --author "$AL" > log
check "log --author filters" test "$(wc -l < log)" -eq 3
$K log --store s1 --author zz > /dev/null 2>&1; rc=$?
check "log: bad --author is a usage error" test $rc -eq 2

# ---- clear and settle (PROTOCOL.md 6 and 7), a book worked by hand:
# sells 3000 Wh at 9.00 and 2000 at 14.00; buys (net of the 5.00 fee)
# 4000 at 20.00 and 1000 at 10.00 (order 2), 1500 at 15.00 (order 3).
# Matched: 5000 Wh; ps 1400, pb 1500, rb 1500 -> P = 1500.
A1=1111111111111111111111111111111111111111111111111111111111111111
A2=2222222222222222222222222222222222222222222222222222222222222222
A3=3333333333333333333333333333333333333333333333333333333333333333
cat > book.json <<BOOK
{"params":{"floor":800,"ceiling":3100,"fee":500},"orders":[
{"id":"$A1","member":"$A1","side":"sell","steps":[[3000,900],[2000,1400]]},
{"id":"$A2","member":"$A2","side":"buy","steps":[[4000,2500],[1000,1500]]},
{"id":"$A3","member":"$A3","side":"buy","steps":[[1500,2000]]}]}
BOOK
$K clear --book book.json > clear.json; rc=$?
check "clear exits 0" test $rc -eq 0
check "clear: price 1500, volume 5000, surplus 4000000" grep -q '^{"price":1500,"volume":5000,"surplus":4000000,' clear.json
check "clear: fills per order" grep -q "\"fills\":{\"$A1\":5000,\"$A2\":4000,\"$A3\":1000}" clear.json
printf '{"params":{"floor":800,"ceiling":3100,"fee":500},"orders":[{"id":"%s","side":"sell","steps":[[10,900],[10,900]]}]}' $A1 > badbook.json
$K clear --book badbook.json > /dev/null 2>err; rc=$?
check "clear: a bad book is exit 2, naming order and field" sh -c "test $rc -eq 2 && grep -q 'orders\[0\]' err && grep -q 'steps\[1\]' err"
echo "{\"$A1\":{\"imp\":0,\"exp\":4000},\"$A2\":{\"imp\":4000,\"exp\":0},\"$A3\":{\"imp\":500,\"exp\":0}}" > readings.json
$K settle --book book.json --readings readings.json > settle.json; rc=$?
check "settle exits 0" test $rc -eq 0
# A1 sold 5000, delivered 4000: 5000*1500 - 1000*3100 = 4,400,000
# A2 bought 4000, used 4000: -4000*2000 = -8,000,000
# A3 bought 1000, used 500: -1000*2000 + 500*800 = -1,600,000
check "settle: A1's line" grep -q "\"$A1\",4400000" settle.json
check "settle: A2's line" grep -q "\"$A2\",-8000000" settle.json
check "settle: A3's line" grep -q "\"$A3\",-1600000" settle.json
check "settle: the operator balances the slot" grep -q '"0000000000000000000000000000000000000000000000000000000000000000",5200000' settle.json

# ---- fsck, usage
$K fsck --store s1 > out; rc=$?
check "fsck: store consistent" sh -c "test $rc -eq 0 && grep -q 'ok: 6 messages' out"
$K frobnicate > /dev/null 2>&1; rc=$?
check "unknown command exits 2" test $rc -eq 2
$K sign --store x > /dev/null 2>&1; rc=$?
check "missing options exit 2" test $rc -eq 2

echo "cli: $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
