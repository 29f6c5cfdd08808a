#!/usr/bin/env bash
# Run every unit test binary ($B/tests/test_*) and every system test
# (tests/system/t_*.sh), then print one closing line: "N passed, N failed".
#
# Unit tests are cmocka programs; their "[  PASSED  ] N test(s)." and
# "[  FAILED  ] N test(s)" summaries are counted.  System tests print TAP-like
# "ok - ..." / "not ok - ..." lines.  A program that dies without a summary
# counts as one failure.
#
# Hermetic: the suite gives the same counts whatever the caller's
# environment holds.  The binaries under test all come from $B; the
# variables the programs and the tests read are cleared (the unit tests'
# KODEN_SEED, KODEN_CASE_SEED, KODEN_VECTORS, KODEN_WRITE_CORPUS;
# t_net_crash.sh's TOTAL, CRASHES, SEED; what tests/system/lib.sh clears
# too), so each test runs as written.  Run a test alone to pass it a knob.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
for v in $(compgen -v KODEN) LOG_LEVEL $(compgen -v WG_) TOTAL CRASHES SEED; do
	unset "$v"
done
unset v
export KODEN="$PWD/$B/koden" KODEND="$PWD/$B/kodend"
export KODEND_FAULTY="$PWD/$B/kodend-faulty" KODEN_VPN="$PWD/$B/koden-vpn"
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	echo "== $t"
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	if [ -z "$p$f" ] || { [ "$rc" -ne 0 ] && [ -z "$f" ]; }; then
		echo "!! $t exited with status $rc without a cmocka summary"
		fail=$((fail + 1))
	fi
done

for t in tests/system/t_*.sh; do
	[ -f "$t" ] || continue
	echo "== $t"
	bash "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "!! $t exited with status $rc"
		fail=$((fail + 1))
	fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
