#!/usr/bin/env bash
# make demo: the ministry's daily job on the embedded default (SQLite,
# loopback, nothing to set up).  HQ (TOKYO) and three posts run as real kodend
# processes in a temporary directory; officers send telegrams of every
# precedence, one NODIS; inboxes, receipts and telegraphic accounting are
# shown, including a gap detected when a faulty relay drops a telegram; then
# everything stops cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
KODEN=$PWD/$B/koden
KODEND=$PWD/$B/kodend
FAULTY=$PWD/$B/kodend-faulty
D=$(mktemp -d /tmp/koden-demo.XXXXXX)
PORT=$((20000 + $$ % 20000))
umask 077
pids=()
stop_all() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap 'stop_all; rm -rf "$D"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$KODEN|koden|g; s|$D/||g" >&2; "$@"; }
start() {	# start NAME [binary]: kodend for NODEDIR $D/NAME
	"${2:-$KODEND}" -d "$D/$1" -f 2>>"$D/$1.log" &
	pids+=($!)
}
wait_for() {	# wait_for SECONDS CMD...: poll until CMD succeeds
	local t=$1
	shift
	for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "timed out waiting for: $*" >&2
	return 1
}

step "HQ TOKYO: a node directory with its node key, directory key and store"
run "$KODEN" network init -d "$D/hq" --name TOKYO --listen "127.0.0.1:$PORT"
start hq
wait_for 5 test -S "$D/hq/api.sock"

step "Enrol three posts with one-time tokens carried out of band"
for p in WASHINGTON BEIJING GENEVA; do
	"$KODEN" -d "$D/hq" network add-post "$p" >"$D/$p.token" 2>/dev/null
	"$KODEN" network join -d "$D/$p" <"$D/$p.token" | head -1
	echo "retry_max = 2" >>"$D/$p/kodend.conf"
	start "$p"
done
wait_for 10 sh -c "'$KODEN' -d '$D/hq' node | grep -c ': up' | grep -qx 3"
run "$KODEN" -d "$D/hq" node

step "Officers make their own keys; HQ puts them in the signed roster"
officer() {	# officer NAME POST FILE
	KODEN_PASSPHRASE="demo passphrase" "$KODEN" keygen --name "$1" -o "$D/$3.key" >"$D/$3.pub"
	"$KODEN" -d "$D/hq" network add-person "$1" --post "$2" --key "$(cat "$D/$3.pub")" 2>/dev/null
}
officer "K. SATO" TOKYO sato
officer "J. MILLER" WASHINGTON miller
officer "T. YAMADA" WASHINGTON yamada
officer "L. WEI" BEIJING wei
officer "R. KIMURA" GENEVA kimura
sleep 1
run "$KODEN" -d "$D/WASHINGTON" network list
export KODEN_PASSPHRASE="demo passphrase"

draft() {	# draft FILE FROM TO PREC CLASS SUBJECT DRAFTER [extra header lines...]
	local f=$1 from=$2 to=$3 prec=$4 cls=$5 subj=$6 dr=$7
	shift 7
	{ echo "FROM: $from"; echo "TO: $to"; echo "PRECEDENCE: $prec"
	  echo "CLASSIFICATION: $cls"; echo "SUBJECT: $subj"; echo "DRAFTER: $dr"
	  for l in "$@"; do echo "$l"; done
	  echo; echo "1. $subj: text of the telegram."; } >"$D/$f"
}

step "Telegrams of every precedence"
draft t1 TOKYO "WASHINGTON, BEIJING" FLASH SECRET "Missile launch over the Sea of Japan" "K. SATO" "INFO: GENEVA" "TAGS: PREL, KN"
draft t2 WASHINGTON TOKYO IMMEDIATE CONFIDENTIAL "Congressional delegation schedule" "J. MILLER"
draft t3 BEIJING "TOKYO, GENEVA" PRIORITY SECRET "Trade talks: second round" "L. WEI"
draft t4 GENEVA TOKYO ROUTINE UNCLASSIFIED "Human Rights Council programme" "R. KIMURA" "INFO: WASHINGTON"
draft t5 TOKYO WASHINGTON IMMEDIATE "TOP SECRET" "Message from the Prime Minister" "K. SATO" "CAPTION: NODIS" "PERSONS: T. YAMADA"
T1=$(run "$KODEN" -d "$D/hq" send -i "$D/sato.key" "$D/t1")
T2=$(run "$KODEN" -d "$D/WASHINGTON" send -i "$D/miller.key" "$D/t2")
T3=$(run "$KODEN" -d "$D/BEIJING" send -i "$D/wei.key" "$D/t3")
T4=$(run "$KODEN" -d "$D/GENEVA" send -i "$D/kimura.key" "$D/t4")
T5=$(run "$KODEN" -d "$D/hq" send -i "$D/sato.key" "$D/t5")
wait_for 10 sh -c "'$KODEN' -d '$D/hq' status $T1 | grep -c delivered | grep -qx 3"

step "Inboxes: subject and classification appear only after decryption at the post"
for p in WASHINGTON GENEVA hq; do
	run "$KODEN" -d "$D/$p" inbox
done

step "BEIJING reads the FLASH; the NODIS opens only with Ambassador YAMADA's key"
run "$KODEN" -d "$D/BEIJING" read "${T1:0:16}"
run "$KODEN" -d "$D/WASHINGTON" read "${T5:0:16}" || echo "(exit $?: the post's own key cannot open it)"
run "$KODEN" -d "$D/WASHINGTON" read "${T5:0:16}" -i "$D/yamada.key"
sleep 1

step "Signed receipts back at the origin: delivered, then read"
run "$KODEN" -d "$D/hq" status "${T1:0:16}"
run "$KODEN" -d "$D/hq" status "${T5:0:16}"
run "$KODEN" -d "$D/GENEVA" status "${T4:0:16}"

step "The audit log: HQ knows who read the FLASH and the NODIS, from the posts' shipped logs"
wait_for 10 sh -c "'$KODEN' -d '$D/hq' audit who-read $T5 | grep -q 'T. YAMADA'"
run "$KODEN" -d "$D/hq" audit who-read "$T1"
run "$KODEN" -d "$D/hq" audit who-read "$T5"
run "$KODEN" -d "$D/BEIJING" audit verify

step "A relay that drops a telegram: GENEVA's accounting detects the gap"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
echo "(HQ restarted as build/kodend-faulty, the test double that drops the 2nd telegram it relays)"
KODEN_FAULT=drop:2 "$FAULTY" -d "$D/hq" -f 2>>"$D/hq.log" &
pids[0]=$!
wait_for 10 sh -c "'$KODEN' -d '$D/hq' node | grep -c ': up' | grep -qx 3"
for i in 1 2 3; do
	draft "g$i" WASHINGTON GENEVA ROUTINE UNCLASSIFIED "Routine report $i" "J. MILLER"
	"$KODEN" -d "$D/WASHINGTON" send -i "$D/miller.key" "$D/g$i" >/dev/null 2>&1
	sleep 0.5
done
wait_for 10 sh -c "'$KODEN' -d '$D/GENEVA' alerts | grep -q gap"
run "$KODEN" -d "$D/GENEVA" alerts

step "Stopping HQ and the posts (SIGTERM: commit, close links, exit)"
stop_all
grep -h "stopped" "$D"/*.log | sed 's/^[^ ]* //' | sort | uniq -c
echo "all telegrams, keys and stores were in $D, now removed"
