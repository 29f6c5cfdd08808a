#!/usr/bin/env bash
# The audit log through the real koden CLI (issue 5, docs/audit.md): a
# network on loopback; reads, failed reads and administration recorded in
# each node's audit.db; `audit verify` passes, then names the first bad
# entry for each kind of tampering done with the sqlite3 CLI (edit, delete,
# insert, reorder, truncate, truncate with its heads); who-read and reads
# as a table and as JSON lines; an HQ inclusion proof checked offline with
# HQ's public key only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netlib.sh"

command -v jq >/dev/null || { not_ok "jq is not installed"; exit 1; }
PORT=17900
HQ=$T/tokyo
W=$T/washington G=$T/geneva

net_hq TOKYO $PORT
net_post WASHINGTON
net_post GENEVA
start TOKYO
start WASHINGTON
start GENEVA
person "K. SATO" WASHINGTON
person "T. YAMADA" GENEVA
person "R. MEIER" GENEVA
wait_posts 20 WASHINGTON GENEVA || { not_ok "posts did not come up"; exit 1; }

# --- events are recorded --------------------------------------------------
mkdraft "$T/d1" WASHINGTON GENEVA "" IMMEDIATE SECRET "Audit test" "K. SATO"
ID=$("$KODEN" -d "$W" send -i "$T/K. SATO.key" "$T/d1" 2>"$T/err")
[[ $ID =~ ^[0-9a-f]{32}$ ]] && ok "WASHINGTON sends a telegram" ||
	{ not_ok "send: $(cat "$T/err")"; exit 1; }
mkdraft "$T/d2" WASHINGTON GENEVA "" IMMEDIATE SECRET "For Yamada" "K. SATO" \
	"CAPTION: NODIS" "PERSONS: T. YAMADA"
NID=$("$KODEN" -d "$W" send -i "$T/K. SATO.key" "$T/d2" 2>"$T/err")
[[ $NID =~ ^[0-9a-f]{32}$ ]] && ok "WASHINGTON sends a NODIS telegram" ||
	not_ok "NODIS send: $(cat "$T/err")"
wait_until 20 bash -c "[ \$('$KODEN' -d '$G' inbox 2>/dev/null | grep -c '^${ID:0:16}\|^${NID:0:16}') -eq 2 ]" ||
	not_ok "GENEVA did not receive both"

expect_exit 0 "GENEVA reads the telegram" "$KODEN" -d "$G" read "$ID"
expect_exit 0 "GENEVA exports it to a file" "$KODEN" -d "$G" read "$ID" -o "$T/copy.txt"
expect_exit 4 "a NODIS read without a key fails" "$KODEN" -d "$G" read "$NID"
expect_exit 4 "a NODIS read with another person's key fails" \
	"$KODEN" -d "$G" read "$NID" -i "$T/R. MEIER.key"
expect_exit 0 "T. YAMADA reads the NODIS telegram" \
	"$KODEN" -d "$G" read "$NID" -i "$T/T. YAMADA.key"

expect_exit 0 "audit verify passes on GENEVA" "$KODEN" -d "$G" audit verify
expect_out "verified" "verify says verified"
expect_exit 0 "audit verify passes on WASHINGTON" "$KODEN" -d "$W" audit verify
expect_exit 0 "audit verify passes on HQ" "$KODEN" -d "$HQ" audit verify

expect_exit 0 "who-read at GENEVA" "$KODEN" -d "$G" audit who-read "$ID"
expect_out "^TIME .* ACTOR .* OUTCOME" "who-read prints a table"
"$KODEN" -d "$G" audit who-read "$ID" --json >"$T/out"
# kodend opens these for koden read and records each, screen or file, with
# the client's pid and uid, before it answers
jq -e -s 'map(select(.action == "decrypt" and (.detail | contains("koden read"))
	and (.source | startswith("api pid")))) | length == 2 and
	(map(.detail) | any(endswith("screen"))) and (map(.detail) | any(endswith("file")))' \
	"$T/out" >/dev/null &&
	ok "who-read lists both reads (to screen, to file)" ||
	{ not_ok "who-read output"; sed 's/^/#   /' "$T/out"; }
expect_exit 0 "who-read of the NODIS telegram" "$KODEN" -d "$G" audit who-read "$NID" --json
if jq -e -s 'map(select(.action == "read")) |
	length == 3 and ([.[] | select(.outcome == "ok")] | length) == 1
	and ([.[] | select(.outcome | startswith("fail"))] | length) == 2
	and ([.[] | select(.outcome == "ok")][0].actor | startswith("T. YAMADA"))' \
	"$T/out" >/dev/null; then
	ok "who-read --json: two failed attempts and T. YAMADA's read, as JSON lines"
else
	not_ok "who-read --json"; sed 's/^/#   /' "$T/out"
fi
expect_exit 0 "reads --person" "$KODEN" -d "$G" audit reads --person "T. YAMADA" --json
[ "$(jq -s 'map(select(.outcome == "ok")) | length' "$T/out")" -eq 1 ] &&
	ok "reads --person T. YAMADA: one read" ||
	not_ok "reads --person: $(cat "$T/out")"
expect_exit 0 "reads --since tomorrow is empty" "$KODEN" -d "$G" audit reads \
	--since "$(date -u -d tomorrow +%Y-%m-%d)"
expect_out "no matching entries" "and says so"
expect_exit 2 "a bad --since is a usage error" "$KODEN" -d "$G" audit reads --since yesterday
expect_exit 0 "audit log --json at WASHINGTON" "$KODEN" -d "$W" audit log --json
jq -e -s 'all(.[]; has("seq") and has("time") and has("node") and has("actor")
	and has("source") and has("action") and has("object") and has("outcome"))
	and ([.[] | select(.action == "release" and (.actor | startswith("K. SATO")))] | length) == 2' "$T/out" >/dev/null &&
	ok "every JSON line has the AU-3 fields; both sends are there (kodend's release, the officer named)" ||
	{ not_ok "audit log --json"; head -5 "$T/out" | sed 's/^/#   /'; }
expect_exit 0 "audit log at HQ" "$KODEN" -d "$HQ" audit log --json
jq -e -s '[.[] | select(.action == "dir-change")] | length >= 5' "$T/out" >/dev/null &&
	ok "HQ recorded the directory changes (add-post, add-person)" ||
	not_ok "HQ directory changes: $(jq -c .action "$T/out" | sort | uniq -c)"

# --- HQ's copy: a post's read, proven through HQ's log -------------------------
hq_has_read() {
	"$KODEN" -d "$HQ" audit who-read "$NID" --json 2>/dev/null |
		jq -e -s 'map(select(.node == "GENEVA" and .outcome == "ok" and
		.action == "read")) | length == 1' >/dev/null
}
if wait_until 20 hq_has_read; then
	ok "HQ holds GENEVA's read of the NODIS telegram"
	SEQ=$("$KODEN" -d "$HQ" audit who-read "$NID" --json | jq -s -r 'map(select(
		.node == "GENEVA" and .outcome == "ok" and .action == "read"))[0].seq')
	expect_exit 0 "HQ proves GENEVA's entry $SEQ" "$KODEN" -d "$HQ" audit prove "GENEVA:$SEQ" -o "$T/proof2"
	"$KODEN" pubkey "$HQ/node.key" >"$T/hq.pub" 2>/dev/null
	expect_exit 0 "the two-level proof checks offline with HQ's key" \
		"$KODEN" audit check-proof -k "$T/hq.pub" --json "$T/proof2"
	jq -e ".node == \"GENEVA\" and .seq == $SEQ and (.actor | startswith(\"T. YAMADA\"))" \
		"$T/out" >/dev/null && ok "the proven entry is T. YAMADA's read at GENEVA" ||
		not_ok "proven entry: $(cat "$T/out")"
	sz=$(stat -c %s "$T/proof2")
	[ "$sz" -lt 2048 ] && ok "the two-level proof is $sz bytes" || not_ok "two-level proof is $sz bytes"
else
	not_ok "GENEVA's read never reached HQ"
fi

# --- the journal: a record outlives the process that showed the text ----------
decrypts() {
	"$KODEN" -d "$G" audit who-read "$ID" --json 2>/dev/null |
		jq -s 'map(select(.action == "decrypt")) | length'
}
# audit.db held locked by another writer: kodend's writer cannot move the
# record into the log, yet the read is answered (the record is in the
# journal) and the record outlives kill -9 of kodend
N0=$(decrypts)
{ echo "BEGIN IMMEDIATE;"; sleep 3; echo "COMMIT;"; } | sqlite3 "$G/audit.db" &
LOCKER=$!
sleep 0.5
t0=$(date +%s%N)
if "$KODEN" -d "$G" read "$ID" >/dev/null 2>"$T/err"; then
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	# the lock holds for 2.5 s more: a read that waited for it took longer
	[ "$ms" -lt 1500 ] && ok "a read is answered at once while the audit log is locked ($ms ms)" ||
		not_ok "a read waited $ms ms for the locked audit log"
else
	not_ok "read while locked: $(cat "$T/err")"
fi
stop GENEVA KILL
wait "$LOCKER"
[ "$(decrypts)" -eq $((N0 + 1)) ] &&
	ok "its decrypt record, only in the journal, survives kill -9 of kodend" ||
	not_ok "after kill -9: $(decrypts) decrypt records, want $((N0 + 1))"
start GENEVA
expect_exit 0 "a read with kodend back" "$KODEN" -d "$G" read "$ID"
[ "$(decrypts)" -eq $((N0 + 2)) ] && ok "and it is recorded" ||
	not_ok "$(decrypts) decrypt records, want $((N0 + 2))"
# a damaged journal is set aside and named in the log; nothing after it is lost
stop GENEVA
printf '\0\0\0\x20garbage that is no frame at all' >>"$G/audit.journal"
expect_exit 0 "audit log after the journal was damaged" "$KODEN" -d "$G" audit log --json
jq -e -s 'map(select(.action == "journal-damaged" and (.detail | contains("audit.journal.damaged-")))) | length == 1' \
	"$T/out" >/dev/null && ok "the damage is an entry of the log, naming the file set aside" ||
	not_ok "no journal-damaged entry: $(jq -c .action "$T/out" | sort | uniq -c)"
ls "$G"/audit.journal.damaged-* >/dev/null 2>&1 && ok "the damaged journal is kept" ||
	not_ok "the damaged journal is gone"
expect_exit 0 "audit verify still passes" "$KODEN" -d "$G" audit verify
start GENEVA
expect_exit 0 "a read after the damage" "$KODEN" -d "$G" read "$ID"
[ "$(decrypts)" -eq $((N0 + 3)) ] && ok "and it is recorded" ||
	not_ok "$(decrypts) decrypt records, want $((N0 + 3))"

# --- tampering with the sqlite3 CLI -------------------------------------------
# GENEVA's kodend records too (arrivals, receipts...): stop it, so that the
# log and its witness hold still while copies are tampered with
stop GENEVA
N=$(sqlite3 "$G/audit.db" "SELECT count(*) FROM entry")
[ "$N" -ge 7 ] && ok "GENEVA's log holds $N entries" || not_ok "only $N entries"

# tamper NAME WANT SQL: a copy of GENEVA's node files, SQL applied; verify
# must exit 5 naming entry WANT
tamper() {
	local name=$1 want=$2 q=$3 d=$T/tamper
	rm -rf "$d" && mkdir -p "$d"
	cp "$G/kodend.conf" "$G/node.key" "$d/"
	[ -f "$G/audit.head" ] && cp "$G/audit.head" "$d/"
	# a consistent copy while kodend writes (its WAL included)
	sqlite3 "$G/audit.db" ".timeout 5000" ".backup '$d/audit.db'"
	sqlite3 "$d/audit.db" "$q" || { not_ok "$name: sqlite3 failed"; return; }
	"$KODEN" -d "$d" audit verify >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 5 ] && grep -q "first bad entry $want:" "$T/err"; then
		ok "$name: verify exits 5 and names entry $want"
	else
		not_ok "$name: exit $rc, wanted 5 naming entry $want"
		sed 's/^/#   /' "$T/err"
	fi
	"$KODEN" -d "$d" audit verify --json >"$T/out" 2>/dev/null
	jq -e ".ok == false and .bad_entry == $want" "$T/out" >/dev/null ||
		not_ok "$name: verify --json: $(cat "$T/out")"
}
tamper "edit a row" 3 "UPDATE entry SET actor = 'NOBODY' WHERE seq = 3"
tamper "edit a row and its leaf hash" 4 \
	"UPDATE entry SET outcome = 'ok', leaf = zeroblob(32) WHERE seq = 4"
tamper "delete a row" 5 "DELETE FROM entry WHERE seq = 5"
tamper "insert a row" 2 "UPDATE entry SET seq = -seq - 1 WHERE seq >= 2;
	UPDATE entry SET seq = -seq WHERE seq < 0;
	INSERT INTO entry SELECT 2, time, node, 'MALLORY', source, action, object,
	outcome, detail, leaf FROM entry WHERE seq = 1;"
tamper "reorder two rows" 1 "UPDATE entry SET seq = 1000 WHERE seq = 1;
	UPDATE entry SET seq = 1 WHERE seq = 6; UPDATE entry SET seq = 6 WHERE seq = 1000;"
tamper "truncate the tail" $((N - 2)) "DELETE FROM entry WHERE seq >= $((N - 2))"
tamper "truncate the tail and its heads" $((N - 3)) \
	"DELETE FROM entry WHERE seq >= $((N - 3)); DELETE FROM head WHERE size > $((N - 3));"

# --- inclusion proofs, checked offline ---------------------------------------
"$KODEN" pubkey "$HQ/node.key" >"$T/hq.pub" 2>/dev/null
"$KODEN" pubkey "$W/node.key" >"$T/w.pub" 2>/dev/null
expect_exit 0 "HQ proves entry 2 of its log" "$KODEN" -d "$HQ" audit prove 2 -o "$T/proof"
sz=$(stat -c %s "$T/proof")
[ "$sz" -lt 1024 ] && ok "the proof is $sz bytes (< 1 KiB)" || not_ok "proof is $sz bytes"
expect_exit 0 "check-proof with HQ's key, no node directory" \
	"$KODEN" audit check-proof -k "$(cat "$T/hq.pub")" "$T/proof"
expect_err "proof verified" "check-proof says verified"
expect_out "dir-change" "and shows the entry"
expect_exit 0 "check-proof takes a key file too, --json" \
	"$KODEN" audit check-proof -k "$T/hq.pub" --json "$T/proof"
jq -e '.seq == 2 and .node == "TOKYO"' "$T/out" >/dev/null && ok "the proven entry as JSON" ||
	not_ok "check-proof --json: $(cat "$T/out")"
expect_exit 5 "check-proof with another key fails" \
	"$KODEN" audit check-proof -k "$(cat "$T/w.pub")" "$T/proof"
cp "$T/proof" "$T/bad"
printf 'X' | dd of="$T/bad" bs=1 seek=$((sz - 40)) conv=notrunc status=none
expect_exit 5 "a proof with one byte changed fails" \
	"$KODEN" audit check-proof -k "$(cat "$T/hq.pub")" "$T/bad"
head -c 50 "$T/proof" >"$T/short"
expect_exit 6 "a truncated proof is malformed input" \
	"$KODEN" audit check-proof -k "$(cat "$T/hq.pub")" "$T/short"
expect_exit 6 "HQ cannot prove an entry it does not have" \
	"$KODEN" -d "$HQ" audit prove 100000
expect_exit 2 "audit without -d is a usage error" "$KODEN" audit verify
expect_exit 0 "audit head signs and prints a head" "$KODEN" -d "$G" audit head
expect_out "^GENEVA size [0-9]+ " "the head names node and size"
exit $failed
