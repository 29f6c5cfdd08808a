#!/bin/sh
# Run every libFuzzer target in build-fuzz/fuzz for SECONDS each, starting
# from its seed corpus in fuzz/corpus/NAME (copied: seeds stay unchanged).
# Every saved crash in tests/regress/NAME-* is replayed first.
# Exits non-zero if any target finds a crash; the crashing input is left in
# build-fuzz/crashes/ to become a regression test.
set -eu
secs=${1:-60}
cd "$(dirname "$0")/.."
mkdir -p build-fuzz/crashes
status=0
for bin in build-fuzz/fuzz/fuzz_*; do
	case $bin in *.d) continue ;; esac
	name=${bin##*/fuzz_}
	work=build-fuzz/corpus/$name
	mkdir -p "$work"
	[ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/"
	for crash in tests/regress/"$name"-*; do
		[ -f "$crash" ] || continue
		if ! "$bin" "$crash" >build-fuzz/"$name".log 2>&1; then
			tail -20 build-fuzz/"$name".log
			echo "!! fuzz $name: regression $crash crashes again"
			status=1
		fi
	done
	echo "== fuzz $name for ${secs}s"
	if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix=build-fuzz/crashes/"$name"- \
		"$work" >build-fuzz/"$name".log 2>&1; then
		tail -40 build-fuzz/"$name".log
		echo "!! fuzz $name found a crash (see build-fuzz/crashes)"
		status=1
	else
		grep -E 'stat::number_of_executed_units|cov:' build-fuzz/"$name".log | tail -2
	fi
done
exit $status
