#!/bin/sh
# cli_sim.sh - the kaga-sim command line with tiny cities: run (summary,
# files, an offline HTML report), determinism byte for byte, --seed and
# --days, compare, the default scenario, and the error exits (2 with the
# file and line for a bad scenario, 2 for usage, 1 for unreadable or
# unwritable files).
# Run by tests/run.sh with KAGA_CTL set; kaga-sim sits beside kaga-ctl.
set -u
K=${KAGA_CTL:-bin/kaga-ctl}
S=${KAGA_SIM:-$(dirname "$K")/kaga-sim}
case $S in /*) ;; *) S=$(pwd)/$S ;; esac
T=$(mktemp -d /tmp/kaga-sim-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else no "$desc"; fi; }

cat > a.txt <<'EOS'
# a tiny Kaga
name = tiny A
households = 120
ryokan = 2
farms = 3
days = 5
forecast_days = 3
start = 2025-05-01
household_pv_permille = 300
EOS
sed -e 's/^name = .*/name = tiny B/' -e '$a fee = 100' a.txt > b.txt

$S run --scenario a.txt --out out1 --quiet > sum1.txt 2> err1.txt; rc=$?
check "run exits 0" test $rc -eq 0
check "summary names the run and its members" \
    grep -q "tiny A: 5 days from 2025-05-01, 125 members" sum1.txt
check "summary has self-sufficiency, money and bills" sh -c \
    "grep -q 'self-sufficiency' sum1.txt && grep -q 'kept in the city' sum1.txt && grep -q 'household bill' sum1.txt"
check "nothing on stderr with --quiet" test ! -s err1.txt
check "report, CSV, results and scenario written" sh -c \
    "test -s out1/report.html && test -s out1/slots.csv && test -s out1/results.txt && test -s out1/scenario.txt"
check "CSV: a header and 5 x 48 rows" test "$(wc -l < out1/slots.csv)" -eq 241
check "results: settlement errors 0" grep -qx "settle_errors = 0" out1/results.txt
check "report opens offline (no src=, href=, url(, http: outside xmlns)" sh -c \
    "! grep -q 'src=\|href=\|url(\|@import' out1/report.html && test \$(grep -o 'http[s]*://[^\"]*' out1/report.html | grep -vc '^http://www.w3.org/2000/svg\$') -eq 0"
check "report has the four charts" sh -c \
    "grep -q 'A typical day' out1/report.html && grep -q 'Local share by month' out1/report.html && grep -q 'Clearing prices' out1/report.html && grep -q 'bill per member' out1/report.html"

$S run --scenario a.txt --out out2 --quiet > sum2.txt 2>&1
check "same seed: the same files byte for byte" sh -c \
    "cmp -s out1/slots.csv out2/slots.csv && cmp -s out1/results.txt out2/results.txt && cmp -s out1/report.html out2/report.html && test \"\$(grep -v files: sum1.txt)\" = \"\$(grep -v files: sum2.txt)\""
$S run --scenario a.txt --seed 7 --out out3 --quiet > /dev/null 2>&1
check "another seed: other results" sh -c "! cmp -s out1/slots.csv out3/slots.csv"
check "--seed is recorded in scenario.txt" grep -qx "seed = 7" out3/scenario.txt
$S run --scenario out1/scenario.txt --out out4 --quiet > /dev/null 2>&1
check "scenario.txt runs again to the same results" cmp -s out1/results.txt out4/results.txt
$S run --scenario a.txt --days 2 --out out5 --quiet > /dev/null 2>&1
check "--days overrides the file" test "$(wc -l < out5/slots.csv)" -eq 97

$S compare --quiet a.txt b.txt > cmp.txt 2> cmperr.txt; rc=$?
check "compare exits 0" test $rc -eq 0
check "compare lists every metric with A, B and B - A" sh -c \
    "grep -q 'B - A' cmp.txt && test \$(grep -v '^metric ' cmp.txt | grep -c '^[a-z_]* ') -eq \$(grep -c ' = ' out1/results.txt)"
check "compare shows the fee's effect" grep -q "^network_fees_jpy" cmp.txt

$S scenario > def.txt; rc=$?
check "scenario prints the defaults" sh -c \
    "test $rc -eq 0 && grep -qx 'households = 27000' def.txt && grep -qx 'ryokan = 100' def.txt && grep -qx 'farms = 300' def.txt"
sed -e 's/^households = .*/households = 40/' -e 's/^ryokan = .*/ryokan = 1/' \
    -e 's/^farms = .*/farms = 1/' -e 's/^days = .*/days = 2/' \
    -e 's/^forecast_days = .*/forecast_days = 2/' def.txt > small.txt
$S run --scenario small.txt --out out6 --quiet > /dev/null 2>&1; rc=$?
check "the printed defaults, made small, run" test $rc -eq 0

# errors
printf 'name = bad\nfee = 100\nfee = 200\n' > dup.txt
$S run --scenario dup.txt --out bad --quiet > /dev/null 2> e.txt; rc=$?
check "repeated key: exit 2 naming file:line" sh -c \
    "test $rc -eq 2 && grep -q 'dup.txt:3: fee: set twice (first on line 2)' e.txt"
printf '\n\nhouseholds = lots\n' > val.txt
$S run --scenario val.txt --out bad > /dev/null 2> e.txt; rc=$?
check "bad value: exit 2 naming the line and key" sh -c \
    "test $rc -eq 2 && grep -q 'val.txt:3: households: expected an integer' e.txt"
printf 'floor = 900\nceiling = 850\n' > conf.txt
$S run --scenario conf.txt --out bad > /dev/null 2> e.txt; rc=$?
check "floor above ceiling: exit 2 naming the line" sh -c \
    "test $rc -eq 2 && grep -q 'conf.txt:2: floor: 900 is above ceiling' e.txt"
printf 'colour = blue\n' > unk.txt
$S compare a.txt unk.txt > /dev/null 2> e.txt; rc=$?
check "compare with a bad file: exit 2 naming it" sh -c \
    "test $rc -eq 2 && grep -q 'unk.txt:1: unknown key' e.txt"
check "nothing written for a bad scenario" test ! -e bad
$S run --scenario nosuch.txt > /dev/null 2> e.txt; rc=$?
check "missing scenario file: exit 1" sh -c "test $rc -eq 1 && grep -q nosuch.txt e.txt"
$S run --bogus > /dev/null 2>&1; rc=$?
check "unknown option: exit 2" test $rc -eq 2
$S run --days 0 > /dev/null 2>&1; rc=$?
check "--days 0: exit 2" test $rc -eq 2
$S run --seed x > /dev/null 2>&1; rc=$?
check "--seed x: exit 2" test $rc -eq 2
$S compare a.txt > /dev/null 2>&1; rc=$?
check "compare with one file: exit 2" test $rc -eq 2
$S frobnicate > /dev/null 2>&1; rc=$?
check "unknown command: exit 2" test $rc -eq 2
$S > /dev/null 2>&1; rc=$?
check "no command: exit 2" test $rc -eq 2
: > afile
$S run --scenario a.txt --out afile --quiet > /dev/null 2> e.txt; rc=$?
check "unwritable --out: exit 1" sh -c "test $rc -eq 1 && grep -q afile e.txt"

echo "sim: $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
