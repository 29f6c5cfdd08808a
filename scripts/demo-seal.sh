#!/usr/bin/env bash
# make demo: the main job on the embedded default.  Keys for HQ (TOKYO), three
# posts and two officers; telegrams of every precedence, one NODIS; sealing,
# what the relay sees, opening at each post; and what happens to a tampered
# telegram, a telegram opened by the wrong person, and a malformed draft.
set -euo pipefail
cd "$(dirname "$0")/.."
KODEN=${KODEN:-$PWD/build/koden}
D=$(mktemp -d /tmp/koden-demo.XXXXXX)
trap 'rm -rf "$D"' EXIT
umask 077
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$KODEN|koden|g; s|$D/||g"; "$@"; }

step "Keys: HQ (TOKYO), three posts, and two officers"
for n in TOKYO WASHINGTON BEIJING GENEVA; do
	printf '%-12s ' "$n"
	"$KODEN" keygen --no-passphrase --name "$n" -o "$D/$n.key" 2>/dev/null | tee "$D/$n.pub"
done
# officers' keys are passphrase-protected; scripts give it by environment
export KODEN_PASSPHRASE="demo passphrase, not for production"
printf '%-12s ' "K. SATO"
"$KODEN" keygen --name "K. SATO" -o "$D/sato.key" | tee "$D/sato.pub"
printf '%-12s ' "T. YAMADA"
"$KODEN" keygen --name "T. YAMADA" -o "$D/yamada.key" | tee "$D/yamada.pub"
ls -l "$D"/*.key | awk '{print $1, $NF}' | sed "s|$D/||"
# the roster a reader trusts (issue 3 makes this HQ's signed directory)
for n in TOKYO WASHINGTON BEIJING GENEVA; do echo "$(cat "$D/$n.pub") $n"; done >"$D/roster"
echo "$(cat "$D/sato.pub") K. SATO" >>"$D/roster"
echo "$(cat "$D/yamada.pub") T. YAMADA" >>"$D/roster"

cat >"$D/flash.txt" <<'T'
FROM: TOKYO
TO: WASHINGTON, BEIJING
INFO: GENEVA
PRECEDENCE: FLASH/IMMEDIATE
CLASSIFICATION: SECRET
TAGS: PREL, PINR, KN
SUBJECT: Missile launch over the Sea of Japan
DRAFTER: K. SATO
CLEARED: M. TANAKA
RELEASED: H. ITO
SERIAL: 4812

1. At 0642 local time a ballistic missile was launched eastward.
Impact outside the exclusive economic zone is assessed.

2. Posts are to seek an immediate meeting at the highest available
level and report reactions by IMMEDIATE telegram.
T
step "A FLASH telegram from HQ, drafted by K. SATO"
cat "$D/flash.txt"
{ cat "$D/WASHINGTON.pub"; cat "$D/BEIJING.pub"; cat "$D/GENEVA.pub"; } >"$D/posts"
run "$KODEN" seal -i "$D/sato.key" --origin-key "$D/TOKYO.key" -R "$D/posts" -o "$D/flash.sealed" "$D/flash.txt"

step "What the network and the relay see: routing header only"
run "$KODEN" inspect "$D/flash.sealed"
if grep -aq "missile" "$D/flash.sealed"; then echo "PLAINTEXT LEAKED"; exit 1; fi
echo "(no word of the text appears in the sealed file)"

step "WASHINGTON opens it"
run "$KODEN" open -i "$D/WASHINGTON.key" -S "$D/roster" "$D/flash.sealed"

cat >"$D/routine.txt" <<'T'
FROM: GENEVA
TO: TOKYO
PRECEDENCE: ROUTINE
CLASSIFICATION: UNCLASSIFIED
TAGS: AORC, UNHRC
SUBJECT: Human Rights Council, 61st session: schedule
REF: TOKYO 004790
DRAFTER: R. KIMURA
SERIAL: 233

1. The session opens on 2 March; the draft programme of work is attached
to the Council's website.
T
step "A ROUTINE telegram from GENEVA to HQ, signed by the post's own key"
run "$KODEN" seal -i "$D/GENEVA.key" -r "$(cat "$D/TOKYO.pub")" -o "$D/routine.sealed" "$D/routine.txt"
run "$KODEN" open -i "$D/TOKYO.key" -S "$D/roster" "$D/routine.sealed"

cat >"$D/nodis.txt" <<'T'
FROM: TOKYO
TO: WASHINGTON
PRECEDENCE: IMMEDIATE
CLASSIFICATION: TOP SECRET
CAPTION: NODIS
PERSONS: T. YAMADA
TAGS: PREL, US
SUBJECT: Prime Minister's message for the President
DRAFTER: K. SATO
RELEASED: H. ITO

1. For the Ambassador only. Please deliver the following message in person.
T
step "A NODIS telegram for Ambassador T. YAMADA only, sealed to his key alone"
run "$KODEN" seal -i "$D/sato.key" --origin-key "$D/TOKYO.key" -r "$(cat "$D/yamada.pub")" -o "$D/nodis.sealed" "$D/nodis.txt"
run "$KODEN" inspect "$D/nodis.sealed" | grep -E '^(precedence|to|recipients)'
echo "-- the post's own key cannot open it:"
run "$KODEN" open -i "$D/WASHINGTON.key" "$D/nodis.sealed" || echo "(exit $?)"
echo "-- the Ambassador can:"
run "$KODEN" open -i "$D/yamada.key" -S "$D/roster" "$D/nodis.sealed"

step "Tampering in transit is detected"
cp "$D/flash.sealed" "$D/tampered.sealed"
printf 'X' | dd of="$D/tampered.sealed" bs=1 seek=900 conv=notrunc status=none
run "$KODEN" open -i "$D/WASHINGTON.key" "$D/tampered.sealed" || echo "(exit $?)"

step "HQ accepts only telegrams drafted by K. SATO: GENEVA's is refused"
run "$KODEN" open -i "$D/TOKYO.key" -s "$(cat "$D/sato.pub")" "$D/routine.sealed" || echo "(exit $?)"

step "A malformed draft is refused with line and field"
sed 's/PRECEDENCE: ROUTINE/PRECEDENCE: URGENT/' "$D/routine.txt" >"$D/bad.txt"
run "$KODEN" seal -i "$D/GENEVA.key" -r "$(cat "$D/TOKYO.pub")" -o "$D/bad.sealed" "$D/bad.txt" || echo "(exit $?)"

step "Done: all keys and telegrams were in $D, now removed"
