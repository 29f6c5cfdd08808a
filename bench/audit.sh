#!/usr/bin/env bash
# bench/audit.sh: what the audit log costs (issue 5; docs/audit.md).
#
#   bench/audit.sh [--record] [--entries N] [--nodes N] [--runs N] [--read-path]
#
#   (--read-path: part 4 alone, printed, never recorded)
#
#   1. events appended per second on a node (bench/audit_bench append)
#   2. events ingested per second at HQ from --nodes simulated posts, through
#      audit_ingest with every check (audit_bench ingest)
#   3. inclusion and consistency proof sizes and times in a log of --entries
#      entries, default 10 million (audit_bench proofs; builds a ~2 GB file)
#   4. the read path with and without its audit record: in-process
#      (audit_bench readpath), and end to end: `koden read` (a new telegram,
#      then one read before) and `koden -d open` of a sealed file, --runs
#      times each, against two posts of one network on 127.0.0.1:17940:
#      GENEVA with build/koden and build/kodend, BERN with the same sources
#      built with no audit log at all (bench/koden-noaudit and
#      bench/kodend-noaudit, -DKODEN_AUDIT_BENCH_OFF, never installed),
#      each iteration timing both, in alternating order
#
# It measures and prints; with --record it rewrites the results block of
# docs/benchmarks.md ("Audit (issue 5)").  Scratch files live in a temporary
# directory removed on exit.  Needs python3.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${B:-build}
DRV=$ROOT/$B/bench/audit_bench
NOAUDIT=$ROOT/$B/bench/koden-noaudit
KODEND_NOAUDIT=$ROOT/$B/bench/kodend-noaudit
export KODEN=${KODEN:-$ROOT/$B/koden}
DOC=$ROOT/docs/benchmarks.md
RECORD=0 ENTRIES=10000000 NODES=250 RUNS=150 ONLY_READ=0
while [ $# -gt 0 ]; do
	case $1 in
	--record) RECORD=1 ;;
	--entries) ENTRIES=$2; shift ;;
	--nodes) NODES=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--read-path) ONLY_READ=1 ;;
	*) sed -n '2,24s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
	shift
done
for f in "$DRV" "$NOAUDIT" "$KODEND_NOAUDIT" "$KODEN"; do
	[ -x "$f" ] || { echo "bench/audit.sh: no $f: make B=$B bench-audit" >&2; exit 1; }
done

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
# Two posts side by side, both addressees of the same telegrams: GENEVA
# runs build/kodend (audited), BERN the same sources with no audit log at
# all (kodend-noaudit; koden-noaudit reads there).  Each iteration times one
# command on each, in alternating order, 5 ms apart so that what one left
# running in the background (kodend's writer moving the journal into the
# log) does not fall on the other: the shared machine's drift falls on both.
net_hq TOKYO 17940
net_post GENEVA
net_post BERN
net_post WASHINGTON
start TOKYO
start GENEVA "$KODEND"
start BERN "$KODEND_NOAUDIT"
start WASHINGTON
person "K. SATO" WASHINGTON
wait_posts 20 GENEVA BERN WASHINGTON >/dev/null ||
	{ echo "network did not come up" >&2; exit 1; }
mkdraft "$T/d" WASHINGTON GENEVA BERN IMMEDIATE SECRET "Benchmark" "K. SATO"
# RUNS + 10 telegrams (the first read again and again, the others once
# each: a first read, where kodend also commits its read state and a READ
# receipt), from WASHINGTON so that both posts receive them as addressees.
for i in $(seq $((RUNS + 10))); do
	"$KODEN" -d "$T/washington" send -i "$T/K. SATO.key" "$T/d" 2>/dev/null
done >"$T/ids"
LAST=$(tail -1 "$T/ids")
for p in geneva bern; do
	wait_until $((60 + RUNS / 4)) bash -c "'$KODEN' -d '$T/$p' inbox | grep -q '^${LAST:0:16}'" ||
		{ echo "the telegrams did not reach $p" >&2; exit 1; }
done
# the sealed file that `koden open` opens with -d
"$KODEN" seal -i "$T/K. SATO.key" -r "$(cat "$T/K. SATO.pub")" -o "$T/sealed" "$T/d" 2>/dev/null
python3 - "$KODEN" "$NOAUDIT" "$T" "$RUNS" >>"$R" <<'EOF'
import statistics, subprocess, sys, time
koden, noaudit, t, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ids = open(t + "/ids").read().split()
again, fresh = ids[0], ids[10:]
sides = {"audited": (koden, t + "/geneva"), "noaudit": (noaudit, t + "/bern")}
def cmd(kind, side, i):
    b, d = sides[side]
    if kind == "open":
        return [b, "-d", d, "open", "-i", t + "/K. SATO.key", "-o", "/dev/null",
                t + "/sealed"]
    return [b, "-d", d, "read", fresh[i] if kind == "first" else again, "-o",
            "/dev/null"]
def run(c):
    t0 = time.perf_counter()
    subprocess.run(c, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    time.sleep(0.005)
    return dt
for kind in ("read", "open"):          # warm up
    for i in range(5):
        for side in sides:
            run(cmd(kind, side, 0))
times = {(k, s): [] for k in ("first", "read", "open") for s in sides}
for i in range(runs):
    order = ("audited", "noaudit") if i % 2 == 0 else ("noaudit", "audited")
    for kind in ("first", "read", "open"):
        for side in order:
            times[(kind, side)].append(run(cmd(kind, side, i)))
for (kind, side), v in times.items():
    print("%s_%s_ms %.3f ms (median of %d, interleaved)" % (kind, side,
          statistics.median(v) * 1e3, len(v)))
EOF
grep -E "^(first|read|open)_" "$R" | tail -6 >&2
"$KODEN" -d "$T/geneva" audit verify >&2

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
