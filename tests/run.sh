#!/bin/sh
# Runs the cmocka test binaries, the CLI tests and the fuzz corpus replays
# given on the command line (tests... -- replays...), and ends with one line
# "check: N passed, M failed".
#   B: the build folder (build/rel or build/san)
B=${B:-build/rel}
export KAGA_NODE_BIN="$B/bin/kaga-node"
export KAGA_METER_SIM="$B/bin/kaga-meter-sim"
passed=0
failed=0
failures=""
out=$(mktemp)
trap 'rm -f "$out"' EXIT

while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	t=$1; shift
	echo "== $t"
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed before cmocka could count
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures="$failures $t"
done
[ "$1" = "--" ] && shift

# Fuzz targets: replay the seed corpus and every kept crash input.
for r in "$@"; do
	name=$(basename "$r")
	echo "== replay $name"
	if "$r" "tests/fuzz/corpus/$name" tests/fuzz/crashes/"$name"-*; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); failures="$failures $r"
	fi
done

# CLI tests: the real kaga-ctl binary in temporary folders.
for s in tests/cli_*.sh; do
	[ -f "$s" ] || continue
	echo "== $s"
	KAGA_CTL="$B/bin/kaga-ctl" sh "$s" >"$out" 2>&1
	rc=$?
	cat "$out"
	# the script's own "NAME: N passed, M failed" line, if any
	p=$(sed -n 's/^[a-z]*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/^[a-z]*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$out" | tail -n 1)
	[ -n "$p" ] || p=$((rc == 0))
	[ -n "$f" ] || f=$((rc != 0))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures="$failures $s"
done

[ -n "$failures" ] && echo "failed:$failures"
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
