#!/usr/bin/env bash
# bench/audit.sh: what the audit log costs (issue 5; docs/audit.md).
#
#   bench/audit.sh [--record] [--entries N] [--nodes N] [--runs N]
#                  [--sessions N] [--read-path]
#
#   (--read-path: part 4 alone, printed, never recorded)
#
#   1. events appended per second on a node (bench/audit_bench append)
#   2. events ingested per second at HQ from --nodes simulated posts, through
#      audit_ingest with every check (audit_bench ingest)
#   3. inclusion and consistency proof sizes and times in a log of --entries
#      entries, default 10 million (audit_bench proofs; builds a ~2 GB file)
#   4. the read path with and without its audit record: in-process
#      (audit_bench readpath), and end to end with hyperfine: `koden read`
#      against a running post (HQ + one post on 127.0.0.1:17940) and `koden
#      open` of a sealed file, by build/koden and kodend against the same
#      sources built with no audit log at all (bench/koden-noaudit and
#      bench/kodend-noaudit, -DKODEN_AUDIT_BENCH_OFF, never installed),
#      alternated twice
#
# It measures and prints; with --record it rewrites the results block of
# docs/benchmarks.md ("Audit (issue 5)").  Scratch files live in a temporary
# directory removed on exit.  Needs hyperfine and python3.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${B:-build}
DRV=$ROOT/$B/bench/audit_bench
NOAUDIT=$ROOT/$B/bench/koden-noaudit
KODEND_NOAUDIT=$ROOT/$B/bench/kodend-noaudit
export KODEN=${KODEN:-$ROOT/$B/koden}
DOC=$ROOT/docs/benchmarks.md
RECORD=0 ENTRIES=10000000 NODES=250 RUNS=40 SESSIONS=4 ONLY_READ=0
while [ $# -gt 0 ]; do
	case $1 in
	--record) RECORD=1 ;;
	--entries) ENTRIES=$2; shift ;;
	--nodes) NODES=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--sessions) SESSIONS=$2; shift ;;
	--read-path) ONLY_READ=1 ;;
	*) sed -n '2,24s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
	shift
done
for f in "$DRV" "$NOAUDIT" "$KODEND_NOAUDIT" "$KODEN"; do
	[ -x "$f" ] || { echo "bench/audit.sh: no $f: make B=$B bench-audit" >&2; exit 1; }
done
command -v hyperfine >/dev/null || { echo "bench/audit.sh: needs hyperfine" >&2; exit 1; }

cd "$ROOT"
. tests/system/lib.sh
. tests/system/netlib.sh
R=$T/results
: >"$R"
step() { echo "== $*" >&2; }

if [ $ONLY_READ = 0 ]; then
step "append (node)"
mkdir -p "$T/a" && "$DRV" append "$T/a" 2000 | tee -a "$R"
step "ingest at HQ from $NODES posts"
mkdir -p "$T/i" && "$DRV" ingest "$T/i" "$NODES" 4 100 | tee -a "$R"
rm -rf "$T/i"
fi
step "read path, in process"
mkdir -p "$T/r" && "$DRV" readpath "$T/r" 500 | tee -a "$R"

step "read path, end to end"
net_hq TOKYO 17940
net_post GENEVA
start TOKYO
start GENEVA
person "K. SATO" GENEVA
wait_posts 20 GENEVA >/dev/null || { echo "network did not come up" >&2; exit 1; }
mkdraft "$T/d" GENEVA GENEVA "" IMMEDIATE SECRET "Benchmark" "K. SATO"
ID=$("$KODEN" -d "$T/geneva" send -i "$T/K. SATO.key" "$T/d" 2>/dev/null)
wait_until 20 bash -c "'$KODEN' -d '$T/geneva' inbox | grep -q '^${ID:0:12}'"
# First reads, the common case (an officer reads a new telegram: kodend
# also commits its read state and a READ receipt): 2 x SESSIONS x RUNS
# telegrams, each read once, RUNS per session.
# They come from WASHINGTON, so that GENEVA receives them as an addressee.
net_post WASHINGTON
start WASHINGTON
person "J. MILLER" WASHINGTON
wait_posts 20 WASHINGTON >/dev/null || { echo "WASHINGTON did not come up" >&2; exit 1; }
mkdraft "$T/dw" WASHINGTON GENEVA "" IMMEDIATE SECRET "Benchmark" "J. MILLER"
for i in $(seq $((2 * SESSIONS * RUNS))); do
	"$KODEN" -d "$T/washington" send -i "$T/J. MILLER.key" "$T/dw" 2>/dev/null
done >"$T/fresh"
wait_until 60 bash -c "[ \$(\"$KODEN\" -d \"$T/geneva\" inbox | grep -c Benchmark) -ge $((2 * SESSIONS * RUNS)) ]" ||
	{ echo "the telegrams to read did not arrive" >&2; exit 1; }
first_reads() {	# first_reads BIN OUT: read the next RUNS fresh ids once each, timed
	python3 - "$1" "$T/geneva" "$2" "$T/fresh" "$RUNS" "$3" <<'EOF'
import json, subprocess, sys, time
koden, g, out, fresh, runs, skip = sys.argv[1:7]
ids = open(fresh).read().split()[int(skip):int(skip) + int(runs)]
times = []
for i in ids:
    t0 = time.perf_counter()
    subprocess.run([koden, "-d", g, "read", i, "-o", "/dev/null"], check=True,
                   stderr=subprocess.DEVNULL)
    times.append(time.perf_counter() - t0)
json.dump({"results": [{"times": times}]}, open(out, "w"))
EOF
}
# the sealed file that `koden open` reads
"$KODEN" -d "$T/geneva" seal -i "$T/K. SATO.key" -r "$(cat "$T/K. SATO.pub")" \
	-o "$T/sealed" "$T/d" 2>/dev/null
cp "$T/K. SATO.key" "$T/sato.key"
G=$T/geneva
# Baseline: the same network with no audit log at all (kodend-noaudit and
# koden-noaudit, built with -DKODEN_AUDIT_BENCH_OFF).  GENEVA's kodend is
# swapped between the two builds, A B A B ... (SESSIONS times each), so
# that the shared machine's drift falls on both.
swap() {	# swap BIN: restart GENEVA's kodend with BIN
	stop GENEVA
	start GENEVA "$1"
	wait_until 20 hq_link_up GENEVA >/dev/null || { echo "GENEVA did not relink" >&2; exit 1; }
}
for round in $(seq "$SESSIONS"); do
	swap "$KODEND"
	first_reads "$KODEN" "$T/first-a$round.json" $(((round - 1) * 2 * RUNS))
	hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$T/read-a$round.json" \
		-n read-audited "$KODEN -d $G read $ID -o /dev/null" >&2
	hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$T/open-a$round.json" \
		-n open-audited "$KODEN -d $G open -i $T/sato.key -o /dev/null $T/sealed" >&2
	swap "$KODEND_NOAUDIT"
	first_reads "$NOAUDIT" "$T/first-n$round.json" $(((round - 1) * 2 * RUNS + RUNS))
	hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$T/read-n$round.json" \
		-n read-noaudit "$NOAUDIT -d $G read $ID -o /dev/null" >&2
	hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$T/open-n$round.json" \
		-n open-noaudit "$NOAUDIT -d $G open -i $T/sato.key -o /dev/null $T/sealed" >&2
done
swap "$KODEND"
python3 - "$T" >>"$R" <<'EOF'
import glob, json, statistics, sys
t = sys.argv[1]
for kind in ("first", "read", "open"):
    for mode, tag in (("audited", "a"), ("noaudit", "n")):
        times = []
        files = sorted(glob.glob(f"{t}/{kind}-{tag}[0-9]*.json"))
        for f in files:
            for r in json.load(open(f))["results"]:
                times += r["times"]
        if times:
            print("%s_%s_ms %.3f ms (median of %d runs in %d sessions)" % (kind,
                  mode, statistics.median(times) * 1e3, len(times), len(files)))
EOF
grep -E "^(first|read|open)_" "$R" | tail -6 >&2
"$KODEN" -d "$G" audit verify >&2

[ $ONLY_READ = 1 ] && exit 0
step "proofs at $ENTRIES entries (building the log takes a while)"
mkdir -p "$T/p" && "$DRV" proofs "$T/p" "$ENTRIES" | tee -a "$R"
rm -rf "$T/p"

# ---- the table -----------------------------------------------------------
v() { awk -v k="$1" '$1 == k { print $2 }' "$R"; }
pct() { python3 -c "a,b=$1,$2; print('%+.1f%%' % ((a-b)/b*100))"; }
{
	echo "<!-- audit-results: bench/audit.sh $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m) -->"
	echo "| measure | result |"
	echo "| --- | --- |"
	echo "| append, CLI (open, 1 event + signed head, close) | $(v append_cli_per_s) events/s ($(v append_cli_ms) ms each) |"
	echo "| append, 1 event per transaction + signed head | $(v append_one_per_s) events/s |"
	echo "| append, batches of 100 + signed head (kodend) | $(v append_batch100_per_s) events/s |"
	echo "| ingest at HQ, $(v ingest_nodes) posts, batches of $(v ingest_batch_events), all checks, one transaction + HQ head per batch | $(v ingest_per_s) events/s |"
	echo "| ingest at HQ, the same, 25 posts' batches per transaction + HQ head (audit_ingest_many) | **$(v ingest_grouped_per_s) events/s** |"
	echo "| log built for the proofs | $(v proofs_log_entries) entries, $(v proofs_db_bytes_per_entry) bytes/entry on disk |"
	echo "| inclusion proof at that size | $(v inclusion_hashes_max) hashes = **$(v inclusion_bytes_max) bytes**; generate $(v inclusion_gen_us) µs warm ($(v inclusion_gen_cold_us) µs with the file cold), verify $(v inclusion_verify_us) µs |"
	echo "| consistency proof at that size | $(v consistency_hashes_max) hashes = **$(v consistency_bytes_max) bytes**; generate $(v consistency_gen_us) µs, verify $(v consistency_verify_us) µs |"
	echo "| proof file for a third party (audit prove) | $(v prove_file_bytes) bytes |"
	echo "| in process: open + render one telegram | $(v read_open_render_us) µs |"
	echo "| ... + koden's record in the journal (open, append, close) | $(v read_with_cli_journal_us) µs |"
	echo "| ... + kodend's record in the journal (held open) | $(v read_with_kodend_journal_us) µs |"
	echo "| off the read path: the writer moving the journal into the log, per event, 256 per transaction / one per transaction | $(v journal_apply_batched_us) µs / $(v journal_apply_single_us) µs |"
	fa=$(v first_audited_ms) fn=$(v first_noaudit_ms)
	echo "| \`koden read\` of a new telegram (first read: kodend also commits its read state and a READ receipt), recorded / no audit log at all (medians) | $fa ms / $fn ms (**$(pct "$fa" "$fn")**) |"
	ra=$(v read_audited_ms) rn=$(v read_noaudit_ms) oa=$(v open_audited_ms) on=$(v open_noaudit_ms)
	echo "| \`koden read\` of a telegram read before (no store write), recorded / no audit log at all (medians) | $ra ms / $rn ms (**$(pct "$ra" "$rn")**) |"
	echo "| \`koden open\` of a sealed file with -d, recorded / no audit log at all (medians) | $oa ms / $on ms (**$(pct "$oa" "$on")**) |"
	echo "<!-- /audit-results -->"
} >"$T/table"
cat "$T/table"
if [ $RECORD = 1 ]; then
	python3 - "$DOC" "$T/table" <<'EOF'
import re, sys
doc, table = sys.argv[1], open(sys.argv[2]).read().strip()
s = open(doc).read()
pat = re.compile(r"<!-- audit-results.*?<!-- /audit-results -->", re.S)
if pat.search(s):
    s = pat.sub(lambda m: table, s)
else:
    s = s.rstrip() + "\n\n## Audit (issue 5)\n\n" + table + "\n"
open(doc, "w").write(s)
EOF
	echo "recorded in docs/benchmarks.md" >&2
fi
exit 0
