#!/bin/sh
# cli_admin.sh - the operator's admission commands against a running
# operator node: kaga-ctl admit (a roster file, --dry-run,
# --revoke-missing, a single --key), revoke, members; roster errors name
# FILE:LINE and publish nothing.
# Run by tests/run.sh with KAGA_CTL and KAGA_NODE_BIN set.
set -u
K=${KAGA_CTL:-bin/kaga-ctl}
N=${KAGA_NODE_BIN:-bin/kaga-node}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
case $N in /*) ;; *) N=$(pwd)/$N ;; esac
T=$(mktemp -d /tmp/kaga-admin-XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }

$K keygen --out "$T/op" >/dev/null
OP=$(cat op/node.pub)
for m in a b c d; do $K keygen --out "$T/$m" >/dev/null; done
A=$(cat a/node.pub); B=$(cat b/node.pub); C=$(cat c/node.pub); D=$(cat d/node.pub)
cat > op.conf <<CONF
data-dir $T/op
role operator
operator $OP
CONF
$N -d -c op.conf 2>node.log &
PID=$!
for i in $(seq 1 100); do $K status --node op >/dev/null 2>&1 && break; sleep 0.1; done

cat > roster.txt <<R
# key role name area [endpoint] [until=MS] [cap=N]
$A household "Yamada house" Daishoji tcp://127.0.0.1:7701
$B ryokan "Kagari ryokan" Yamanaka
$C issuer "Kaga clinic" Daishoji cap=50000
R
$K admit --node op --roster roster.txt --dry-run > out; rc=$?
check "admit --dry-run exits 0" test $rc -eq 0
check "admit --dry-run lists three and publishes nothing" sh -c "test \$(grep -c '^would admit' out) -eq 3 && test \$($K members --node op | wc -l) -eq 0"
$K admit --node op --roster roster.txt > out; rc=$?
check "admit --roster admits three" sh -c "test $rc -eq 0 && grep -qx '3 admitted, 0 unchanged, 0 revoked' out"
$K members --node op > mem.txt
check "members lists them with roles" sh -c "grep -qx '$A household' mem.txt && grep -qx '$B ryokan' mem.txt && grep -qx '$C issuer' mem.txt"
$K members --node op --json > mem.json
check "members --json has the endpoint" grep -q "\"node\":\"$A\",\"role\":\"household\",\"until\":0,\"endpoint\":\"tcp://127.0.0.1:7701\"" mem.json
$K admit --node op --roster roster.txt > out
check "admitting the same roster again changes nothing" grep -qx '0 admitted, 3 unchanged, 0 revoked' out

# B becomes a farm, C leaves, D joins
cat > roster.txt <<R
$A household "Yamada house" Daishoji tcp://127.0.0.1:7701
$B farm "Kagari farm" Yamanaka
$D household "Tanaka" Katayamazu
R
$K admit --node op --roster roster.txt --revoke-missing > out; rc=$?
check "a changed roster: two admitted, one revoked" sh -c "test $rc -eq 0 && grep -qx '2 admitted, 1 unchanged, 1 revoked' out && grep -qx 'revoke $C' out"
$K members --node op > mem.txt
check "members after the change" sh -c "grep -qx '$B farm' mem.txt && grep -qx '$D household' mem.txt && ! grep -q '$C' mem.txt"
check "the operator itself is never revoked" sh -c "! grep -q '$OP' out"

$K revoke --node op --key "$D" --reason "moved away" > out; rc=$?
check "revoke --key" sh -c "test $rc -eq 0 && grep -qx 'revoked $D' out && ! $K members --node op | grep -q '$D'"
$K admit --node op --key "$D" --role household --name "Tanaka" --area Katayamazu > out; rc=$?
check "admit --key re-admits one" sh -c "test $rc -eq 0 && $K members --node op | grep -qx '$D household'"

# errors: nothing published, FILE:LINE named, exit 2
before=$($K log --node op --author "$OP" | wc -l)
printf '%s household "x" y\n%s household x\n' "$A" "$B" > bad1.txt
$K admit --node op --roster bad1.txt 2>err; rc=$?
check "a short line is FILE:LINE, exit 2" sh -c "test $rc -eq 2 && grep -q 'bad1.txt:2: want KEY ROLE NAME AREA' err"
printf '%s landlord x y\n' "$A" > bad2.txt
$K admit --node op --roster bad2.txt 2>err; rc=$?
check "an unknown role is refused" sh -c "test $rc -eq 2 && grep -q 'bad2.txt:1: role \"landlord\"' err"
printf '%s issuer x y\n' "$C" > bad3.txt
$K admit --node op --roster bad3.txt 2>err; rc=$?
check "an issuer without cap is refused" sh -c "test $rc -eq 2 && grep -q 'needs cap' err"
printf '%s household x y\n%s farm x y\n' "$A" "$A" > bad4.txt
$K admit --node op --roster bad4.txt 2>err; rc=$?
check "a key given twice is refused" sh -c "test $rc -eq 2 && grep -q 'bad4.txt:2: key given twice (first on line 1)' err"
printf 'xyz household x y\n' > bad5.txt
$K admit --node op --roster bad5.txt 2>err; rc=$?
check "a bad key is refused" sh -c "test $rc -eq 2 && grep -q 'bad5.txt:1: key' err"
printf '%s household "x y\n' "$A" > bad6.txt
$K admit --node op --roster bad6.txt 2>err; rc=$?
check "an open quote is refused" sh -c "test $rc -eq 2 && grep -q 'bad6.txt:1: bad quotes' err"
$K admit --node op --roster nosuch.txt 2>err; rc=$?
check "a missing roster file is an error" sh -c "test $rc -eq 2 && grep -q 'nosuch.txt' err"
after=$($K log --node op --author "$OP" | wc -l)
check "refused rosters published nothing" test "$before" -eq "$after"
$K admit --node op 2>err; rc=$?
check "admit without --roster or --key is a usage error" test $rc -eq 2
$K revoke --node op --key nothex 2>err; rc=$?
check "revoke with a bad key is a usage error" test $rc -eq 2

kill $PID; wait $PID; PID=""
echo "admin: $((n - fails)) passed, $fails failed"
test $fails -eq 0
