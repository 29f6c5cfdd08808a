#!/usr/bin/env bash
# bench/seal.sh: seal and open one 4 KiB telegram to 1, 10 and 250 recipients
# with koden, age and gpg side by side in the same run (issue 2).
#
# It measures and prints; it writes nothing into the repository unless given
# --record, which rewrites the results block of docs/benchmarks.md.  All keys,
# inputs and outputs live in a temporary directory removed on exit.
#
#   bench/seal.sh [--record] [--counts "1 10 250"] [--min-runs N] [--warmup N]
#                 [--open-as last|first] [-v]
#
# Environment: KODEN (default build/koden).  Needs age, age-keygen, gpg,
# gpgconf, hyperfine and python3 (for the JSON and the table).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KODEN=${KODEN:-$ROOT/build/koden}
case $KODEN in /*) ;; *) KODEN=$PWD/$KODEN ;; esac
DOC=$ROOT/docs/benchmarks.md

RECORD=0
COUNTS="1 10 250"
MIN_RUNS=20
WARMUP=3
OPEN_AS=last
VERBOSE=0

usage() {
	sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--record) RECORD=1 ;;
	--counts) COUNTS=${2:?--counts needs a list}; shift ;;
	--min-runs) MIN_RUNS=${2:?--min-runs needs a number}; shift ;;
	--warmup) WARMUP=${2:?--warmup needs a number}; shift ;;
	--open-as) OPEN_AS=${2:?--open-as needs last or first}; shift ;;
	-v | --verbose) VERBOSE=1 ;;
	-h | --help) usage 0 ;;
	*) echo "seal.sh: unknown argument '$1'" >&2; usage 2 >&2 ;;
	esac
	shift
done
case $OPEN_AS in last | first) ;; *) echo "seal.sh: --open-as last|first" >&2; exit 2 ;; esac
for n in $COUNTS; do
	case $n in '' | *[!0-9]* | 0) echo "seal.sh: bad recipient count '$n'" >&2; exit 2 ;; esac
done

say() { printf '%s\n' "$*" >&2; }
die() { say "seal.sh: $*"; exit 1; }

for t in age age-keygen gpg gpgconf hyperfine python3; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install age gnupg hyperfine python3)"
done

TOOLS="age gpg"
if [ -x "$KODEN" ]; then
	TOOLS="koden age gpg"
else
	say "koden not built ($KODEN): skipping koden (run 'make' first)"
	[ "$RECORD" = 0 ] || die "--record needs koden: not recording a partial run"
fi
[ "$RECORD" = 0 ] || grep -q '<!-- bench/seal.sh results: begin -->' "$DOC" 2>/dev/null ||
	die "--record: no results block in $DOC"

MAXN=0
for n in $COUNTS; do [ "$n" -gt "$MAXN" ] && MAXN=$n; done

# Everything below lives in $T.  gpg-agents started for our throwaway homes
# are stopped by their home directory, nothing else.
T=$(mktemp -d "${TMPDIR:-/tmp}/koden-bench.XXXXXX")
GPG_HOMES=()
cleanup() {
	local h
	for h in "${GPG_HOMES[@]}"; do
		gpgconf --homedir "$h" --kill gpg-agent >/dev/null 2>&1 || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$T/age" "$T/koden" "$T/out" "$T/json"

# --- the input: one drafting-text telegram of exactly 4096 bytes -----------
DRAFT=$T/draft.txt
python3 - "$DRAFT" <<'EOF'
import random, sys, textwrap
head = ("FROM: TOKYO\nTO: WASHINGTON\nPRECEDENCE: ROUTINE\n"
        "CLASSIFICATION: SECRET\nSUBJECT: Benchmark telegram\n"
        "DRAFTER: K. SATO\n\n")
# Seeded word salad: the same bytes on every run, and about as compressible
# as real prose (gpg compresses before it encrypts; age and koden do not).
words = ("the minister met ambassador this morning and discussed trade talks "
         "fisheries quotas visa rules summit agenda for next month in detail "
         "without reaching final agreement on all points embassy counsellor "
         "reported that government officials expect parliament to vote early "
         "spring while opposition leaders demand further consultations regarding "
         "energy prices security cooperation regional stability export controls "
         "delegation will arrive tuesday please advise instructions urgently").upper().split()
rng = random.Random(2)
target = 4096
text = []
while True:
    w = rng.choice(words)
    body = "1. " + " ".join(text + [w])
    para = textwrap.fill(body, width=72, subsequent_indent="   ") + "\n"
    if len((head + para).encode()) > target - 8:
        break
    text.append(w)
body = "1. " + " ".join(text)
para = textwrap.fill(body, width=72, subsequent_indent="   ")
short = target - len((head + para + "\n").encode())
para += " " + "X" * (short - 1) if short > 1 else ""
out = head + para + "\n"
assert all(len(l) < 100 for l in out.splitlines())
open(sys.argv[1], "w").write(out)
EOF
DRAFT_BYTES=$(wc -c <"$DRAFT")

# --- keys ------------------------------------------------------------------
progress() {	# tool i max: every 25th key and the last
	if [ -t 2 ] && { [ $(($2 % 25)) -eq 0 ] || [ "$2" -eq "$3" ]; }; then
		printf '\r  %s keys: %d/%d' "$1" "$2" "$3" >&2
	elif [ "$2" -eq "$3" ]; then
		printf '  %s keys: %d/%d' "$1" "$2" "$3" >&2
	fi
}

say "generating $MAXN recipient keys per tool"
# age
for i in $(seq 1 "$MAXN"); do
	age-keygen -o "$T/age/r$i.key" 2>/dev/null
	age-keygen -y "$T/age/r$i.key" >"$T/age/r$i.pub"
	progress age "$i" "$MAXN"
done
say ""

# gpg: one home with every key (the sender's keyring); the recipient who
# opens gets a home of its own holding only its own secret key, so gpg has
# to find it among the N key ids as a real recipient would.
G=$T/gpg
mkdir -m 700 "$G"
GPG_HOMES+=("$G")
gpgq() { gpg --homedir "$G" --batch --quiet "$@"; }
for i in $(seq 1 "$MAXN"); do
	gpgq --passphrase '' --quick-gen-key "r$i <r$i@bench.invalid>" \
		future-default default never 2>/dev/null ||
		die "gpg --quick-gen-key failed for r$i"
	progress gpg "$i" "$MAXN"
done
say ""
gpgq --with-colons --list-keys 2>/dev/null | awk -F: '
	$1 == "pub" { want = 1; fpr = ""; next }
	$1 == "fpr" && want { fpr = $10; want = 0; next }
	$1 == "uid" && fpr != "" { split($10, a, " "); print a[1], fpr; fpr = "" }
' >"$T/gpg.fpr"
[ "$(wc -l <"$T/gpg.fpr")" -eq "$MAXN" ] || die "expected $MAXN gpg keys"
gpg_fpr() { awk -v u="r$1" '$1 == u { print $2 }' "$T/gpg.fpr"; }

# koden
if [[ $TOOLS == *koden* ]]; then
	"$KODEN" keygen -o "$T/koden/drafter.key" --name drafter --no-passphrase \
		>"$T/koden/drafter.pub" 2>"$T/koden/keygen.err" ||
		{ cat "$T/koden/keygen.err" >&2; die "koden keygen failed"; }
	for i in $(seq 1 "$MAXN"); do
		"$KODEN" keygen -o "$T/koden/r$i.key" --name "r$i" --no-passphrase \
			>"$T/koden/r$i.pub" 2>"$T/koden/keygen.err" ||
			{ cat "$T/koden/keygen.err" >&2; die "koden keygen failed for r$i"; }
		grep -q '^kodenpub1' "$T/koden/r$i.pub" ||
			die "koden keygen printed no kodenpub1 key for r$i"
		progress koden "$i" "$MAXN"
	done
	say ""
fi

# --- per N: recipient lists, the opener, one checked seal/open per tool -----
declare -A SEAL OPEN PREP_SEAL PREP_OPEN SIZE
for n in $COUNTS; do
	if [ "$OPEN_AS" = last ]; then o=$n; else o=1; fi
	{
		echo "# $n recipients"
		for i in $(seq 1 "$n"); do cat "$T/age/r$i.pub"; done
	} >"$T/age/rcpt$n.txt"
	gpg_r=()
	for i in $(seq 1 "$n"); do gpg_r+=(-r "$(gpg_fpr "$i")"); done
	D=$T/gpg-open$n
	mkdir -m 700 "$D"
	GPG_HOMES+=("$D")
	gpgq --pinentry-mode loopback --passphrase '' \
		--export-secret-keys "$(gpg_fpr "$o")" 2>/dev/null |
		gpg --homedir "$D" --batch --quiet --import 2>/dev/null ||
		die "gpg: could not give r$o its own home"

	SEAL[age,$n]="age -e -R $T/age/rcpt$n.txt -o $T/out/age$n.age $DRAFT"
	OPEN[age,$n]="age -d -i $T/age/r$o.key -o $T/out/age$n.open $T/out/age$n.age"
	SEAL[gpg,$n]="gpg --homedir $G --batch --quiet --yes --trust-model always -e ${gpg_r[*]} -o $T/out/gpg$n.gpg $DRAFT"
	OPEN[gpg,$n]="gpg --homedir $D --batch --quiet --yes -d -o $T/out/gpg$n.open $T/out/gpg$n.gpg"
	if [[ $TOOLS == *koden* ]]; then
		{
			echo "# $n recipients"
			for i in $(seq 1 "$n"); do cat "$T/koden/r$i.pub"; done
		} >"$T/koden/rcpt$n.txt"
		SEAL[koden,$n]="$KODEN seal -i $T/koden/drafter.key -R $T/koden/rcpt$n.txt -o $T/out/koden$n.kdn $DRAFT"
		OPEN[koden,$n]="$KODEN open -i $T/koden/r$o.key -o $T/out/koden$n.open $T/out/koden$n.kdn"
	fi

	# Seal and open once outside the timer; the output of this seal is what
	# the open benchmark reads.  age and gpg must give back the draft byte
	# for byte; koden gives back the rendered telegram, which must carry the
	# subject (upper-cased) and the last word of the body.
	for tool in $TOOLS; do
		case $tool in age) ext=age ;; gpg) ext=gpg ;; koden) ext=kdn ;; esac
		sealed=$T/out/$tool$n.$ext opened=$T/out/$tool$n.open
		rm -f "$sealed" "$opened"
		# shellcheck disable=SC2086  # the commands are word lists by design
		${SEAL[$tool,$n]} 2>"$T/err" || { cat "$T/err" >&2; die "$tool: seal to $n failed"; }
		# shellcheck disable=SC2086
		${OPEN[$tool,$n]} 2>"$T/err" || { cat "$T/err" >&2; die "$tool: open (r$o of $n) failed"; }
		if [ "$tool" = koden ]; then
			grep -qiF 'Benchmark telegram' "$opened" ||
				die "koden: opened telegram lacks its subject"
			grep -qF "$(awk 'END { print $NF }' "$DRAFT")" "$opened" ||
				die "koden: opened telegram lacks the end of its body"
		else
			cmp -s "$DRAFT" "$opened" || die "$tool: open of $n did not give back the draft"
		fi
		SIZE[$tool,$n]=$(wc -c <"$sealed")
		PREP_SEAL[$tool,$n]="rm -f $sealed.bench"
		PREP_OPEN[$tool,$n]="rm -f $opened"
		# Timed seals write beside the checked envelope, never over it.
		SEAL[$tool,$n]=${SEAL[$tool,$n]/ -o $sealed / -o $sealed.bench }
	done
done

# --- timing ------------------------------------------------------------------
# One hyperfine call per (N, operation) with every tool in it, so the ratios
# come from one stretch of time on this shared machine.  Commands run without
# a shell (-N); the prepare step (not timed) removes the previous output.
bench() {	# op n
	local op=$1 n=$2 tool args=()
	for tool in $TOOLS; do
		if [ "$op" = seal ]; then
			args+=(-n "$tool" -p "${PREP_SEAL[$tool,$n]}" "${SEAL[$tool,$n]}")
		else
			args+=(-n "$tool" -p "${PREP_OPEN[$tool,$n]}" "${OPEN[$tool,$n]}")
		fi
	done
	local style=none
	[ "$VERBOSE" = 1 ] && style=basic
	say "  $op to $n recipient(s): $TOOLS"
	if ! hyperfine -N --style "$style" --warmup "$WARMUP" --min-runs "$MIN_RUNS" \
		--export-json "$T/json/$op-$n.json" "${args[@]}" >"$T/hyperfine.log" 2>&1; then
		cat "$T/hyperfine.log" >&2
		die "hyperfine failed for $op $n"
	fi
	[ "$VERBOSE" = 1 ] && cat "$T/hyperfine.log" >&2
	return 0
}

say "timing (median of >= $MIN_RUNS runs after $WARMUP warm-up runs each)"
START=$(date +%s)
for n in $COUNTS; do
	bench seal "$n"
	bench open "$n"
done
say "timing took $(($(date +%s) - START)) s"

# --- machine facts and the table --------------------------------------------
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
AGE_V=$(age --version 2>/dev/null | head -1)
GPG_V=$(gpg --version | head -1 | sed 's/^gpg (GnuPG) //')
GCRYPT_V=$(gpg --version | awk '/^libgcrypt/ { print $2; exit }')
HF_V=$(hyperfine --version | awk '{ print $2 }')
if git -C "$ROOT" rev-parse -q --verify HEAD >/dev/null 2>&1; then
	KODEN_C=$(git -C "$ROOT" rev-parse --short HEAD)
	[ -n "$(git -C "$ROOT" status --porcelain -- src Makefile 2>/dev/null)" ] && KODEN_C="$KODEN_C (+ uncommitted changes)"
else
	KODEN_C="no commit yet (working tree)"
fi
[[ $TOOLS == *koden* ]] || KODEN_C="not built"

export T COUNTS TOOLS OPEN_AS DRAFT_BYTES CPU AGE_V GPG_V GCRYPT_V HF_V KODEN_C MIN_RUNS WARMUP
for n in $COUNTS; do
	for tool in $TOOLS; do echo "$tool $n ${SIZE[$tool,$n]}"; done
done >"$T/sizes"

python3 - >"$T/result.md" <<'EOF'
import json, os, statistics, subprocess, datetime
T = os.environ["T"]
counts = [int(x) for x in os.environ["COUNTS"].split()]
tools = os.environ["TOOLS"].split()
sizes = {}
for line in open(f"{T}/sizes"):
    tool, n, b = line.split()
    sizes[tool, int(n)] = int(b)

med, spread, runs = {}, {}, {}
for op in ("seal", "open"):
    for n in counts:
        for r in json.load(open(f"{T}/json/{op}-{n}.json"))["results"]:
            t = r["times"]
            q = statistics.quantiles(t, n=4) if len(t) >= 4 else [min(t), 0, max(t)]
            med[r["command"], op, n] = r["median"] * 1e3
            spread[r["command"], op, n] = (q[2] - q[0]) / r["median"]
            runs[r["command"], op, n] = len(t)

def ms(v):
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"

def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "n/a"

def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()

e = os.environ
out = []
out.append(f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
           f"with `bench/seal.sh` (hyperfine {e['HF_V']}, median of at least "
           f"{e['MIN_RUNS']} runs after {e['WARMUP']} warm-up runs, one hyperfine "
           f"call per row so each row's tools ran back to back).")
out.append("")
out.append(f"- machine: {sh('nproc')} CPUs, {e['CPU'] or 'unknown CPU'}, "
           f"Linux {sh('uname -r')}")
out.append(f"- koden: {e['KODEN_C']}; age {e['AGE_V']}; gpg {e['GPG_V']} "
           f"(libgcrypt {e['GCRYPT_V']}), ed25519/cv25519 keys")
out.append(f"- input: one {e['DRAFT_BYTES']}-byte drafting-text telegram; "
           f"open is done by the {e['OPEN_AS']} recipient of N")
out.append("")
hdr = "| N | op | " + " | ".join(f"{t} ms" for t in tools)
if "koden" in tools:
    hdr += " | koden/age | koden/gpg"
out.append(hdr + " |")
out.append("|" + "---:|" + "---|" + "---:|" * len(tools) +
           ("---:|---:|" if "koden" in tools else ""))
worst = 0.0
for n in counts:
    for op in ("seal", "open"):
        row = f"| {n} | {op} | " + " | ".join(ms(med[t, op, n]) for t in tools)
        if "koden" in tools:
            k = med["koden", op, n]
            row += f" | {ratio(k, med['age', op, n])} | {ratio(k, med['gpg', op, n])}"
        out.append(row + " |")
        worst = max([worst] + [spread[t, op, n] for t in tools])
out.append("")
out.append("Sealed size in bytes (same input):")
out.append("")
out.append("| N | " + " | ".join(tools) + " |")
out.append("|---:|" + "---:|" * len(tools))
for n in counts:
    out.append(f"| {n} | " + " | ".join(str(sizes[t, n]) for t in tools) + " |")
out.append("")
out.append(f"Noise: the widest interquartile range of any cell was "
           f"{worst * 100:.0f}% of its median.")
if "koden" in tools and 250 in counts:
    ka = med["koden", "seal", 250] / med["age", "seal", 250]
    kg = med["koden", "seal", 250] / med["gpg", "seal", 250]
    met = ka <= 1.0 and kg <= 0.5
    out.append("")
    out.append(f"Target (seal to 250 recipients no slower than age and at most "
               f"half of gpg): **{'met' if met else 'not met'}** "
               f"(koden/age {ka:.2f}, koden/gpg {kg:.2f}).")
print("\n".join(out))
EOF

cat "$T/result.md"

if [ "$RECORD" = 1 ]; then
	python3 - "$DOC" "$T/result.md" <<'EOF'
import sys
doc, res = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
begin, end = "<!-- bench/seal.sh results: begin -->", "<!-- bench/seal.sh results: end -->"
text = open(doc).read()
if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
    sys.exit(f"seal.sh: --record: {doc} needs one '{begin}' ... '{end}' pair")
a = text.index(begin) + len(begin)
b = text.index(end)
open(doc, "w").write(text[:a] + "\n" + res + "\n" + text[b:])
EOF
	say "recorded in ${DOC#"$ROOT"/}"
fi
