#!/usr/bin/env bash
# The audit log across the network (issue 5), real kodend processes: every
# node records the telegram's life (release, envelope, delivery, receipts,
# decrypts, reads) in its own log, posts ship their entries to HQ as they are
# written, HQ checks and keeps them, and HQ still answers who-read for a post
# whose disk was wiped after the read.  Every log verifies; kodend's stop
# signs a final head; a post whose log was cut under it cannot ship and says
# so, and HQ raises audit-silent when that post goes on exchanging telegrams.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netlib.sh"

PORT=17870
HQ=$T/tokyo
W=$T/washington B=$T/beijing

net_hq TOKYO $PORT
conf_set "$HQ" audit_silence 3
for p in WASHINGTON BEIJING; do net_post "$p"; done
start TOKYO
for p in WASHINGTON BEIJING; do start "$p"; done
person "K. SATO" WASHINGTON
person "L. WEI" BEIJING
if wait_posts 20 WASHINGTON BEIJING; then
	ok "HQ and two posts up"
else
	not_ok "posts did not come up"
	exit 1
fi

# audit_has DIR ARGS...: `koden audit ARGS --json` at DIR lists an entry
# whose fields match every KEY=VALUE given after --
audit_json() { "$KODEN" -d "$1" audit "${@:2}" --json 2>/dev/null; }
count_json() {
	local dir=$1 filter=$2
	shift 2
	audit_json "$dir" "$@" | python3 -c '
import json, sys
want = dict(kv.split("=", 1) for kv in sys.argv[1].split(",") if kv)
n = 0
for line in sys.stdin:
    if not line.strip():
        continue
    e = json.loads(line)
    if all(str(e.get(k, "")).startswith(v) for k, v in want.items()):
        n += 1
print(n)' "$filter"
}

# --- one telegram, read at BEIJING -----------------------------------------
mkdraft "$T/d1" WASHINGTON BEIJING "" IMMEDIATE SECRET "Audit trail" "K. SATO"
id=$("$KODEN" -d "$W" send -i "$T/K. SATO.key" "$T/d1" 2>"$T/err")
if [ ${#id} = 32 ]; then ok "WASHINGTON sends a telegram"; else
	not_ok "send: $(cat "$T/err")"; exit 1; fi
if wait_until 15 sh -c "\"$KODEN\" -d \"$W\" status $id | grep -q delivered"; then
	ok "it is delivered"
else
	not_ok "not delivered"
fi
"$KODEN" -d "$B" read "${id:0:16}" >"$T/out" 2>"$T/err"
grep -q "Audit trail" "$T/out" && ok "BEIJING reads it" || not_ok "read: $(cat "$T/err")"

# the read reaches HQ within a few seconds (shipped on the channel)
if wait_until 15 sh -c "[ \"\$(\"$KODEN\" -d \"$HQ\" audit who-read $id --json 2>/dev/null | grep -c BEIJING)\" -ge 1 ]"; then
	ok "HQ's who-read names BEIJING within seconds of the read"
else
	not_ok "HQ's who-read lacks BEIJING's read"
	"$KODEN" -d "$HQ" audit who-read "$id" 2>&1 | sed 's/^/#   /'
fi

n=$(count_json "$HQ" "action=search,object=audit who-read" log)
[ "$n" -ge 1 ] && ok "HQ's own who-read searches are recorded too" || not_ok "searches at HQ: $n"
audit_json "$HQ" log | grep -q '"action": *"start".*kodend.conf sha256=[0-9a-f]\{64\}' &&
	ok "kodend's start records the hash of its kodend.conf" || not_ok "no config hash at start"

# the life of the telegram, on each node's own log
n=$(count_json "$W" "action=release,object=$id" log)
[ "$n" -ge 1 ] && ok "WASHINGTON logged the release" || not_ok "no release at WASHINGTON ($n)"
n=$(count_json "$HQ" "action=envelope,object=$id,node=TOKYO" log)
[ "$n" = 1 ] && ok "HQ's global log holds the envelope hash once" || not_ok "envelope leaves at HQ: $n"
n=$(count_json "$B" "action=delivery,object=$id" log)
[ "$n" = 1 ] && ok "BEIJING logged the delivery" || not_ok "deliveries at BEIJING: $n"
n=$(count_json "$B" "action=decrypt,object=$id" log)
[ "$n" -ge 1 ] && ok "BEIJING logged kodend's decrypt for the reader" || not_ok "decrypts at BEIJING: $n"
audit_json "$HQ" log | grep -q '"action": *"envelope".*env-hash=[0-9a-f]\{64\}' &&
	ok "the envelope leaf carries the envelope's hash" || not_ok "no env-hash on the envelope leaf"
if wait_until 15 sh -c "[ \"\$(\"$KODEN\" -d \"$W\" audit log --json 2>/dev/null | grep -c '\"action\": *\"receipt\"')\" -ge 2 ]"; then
	ok "WASHINGTON logged both receipts (delivered, read)"
else
	not_ok "WASHINGTON lacks the receipts"
fi

# every log verifies, posts' copies at HQ included
for d in "$HQ" "$W" "$B"; do
	if "$KODEN" -d "$d" audit verify >"$T/v" 2>&1; then
		ok "audit verify on ${d##*/}: $(head -1 "$T/v")"
	else
		not_ok "audit verify on ${d##*/}: $(cat "$T/v")"
	fi
done

# --- HQ's audit log held by another writer: HQ relays on, ingests later ------
# (its loop waits 20 ms at most for the lock, then keeps the posts' batches
# for a later turn; its writer thread waits for the lock)
{ echo "BEGIN IMMEDIATE;"; sleep 4; echo "COMMIT;"; } | sqlite3 "$HQ/audit.db" &
LOCKER=$!
sleep 0.5
mkdraft "$T/d3" WASHINGTON BEIJING "" FLASH SECRET "While locked" "K. SATO"
t0=$(date +%s%N)
id3=$("$KODEN" -d "$W" send -i "$T/K. SATO.key" "$T/d3" 2>"$T/err")
"$KODEN" -d "$B" read "${id3:0:16}" >/dev/null 2>&1 ||
	wait_until 5 sh -c "\"$KODEN\" -d \"$B\" read ${id3:0:16} >/dev/null 2>&1"
if wait_until 10 sh -c "\"$KODEN\" -d \"$W\" status $id3 | grep -q 'read '"; then
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$ms" -lt 3000 ] &&
		ok "HQ relays a telegram and its receipts while its audit log is locked ($ms ms)" ||
		not_ok "relaying waited for HQ's audit log: $ms ms"
else
	not_ok "not relayed while HQ's audit log was locked"
fi
wait "$LOCKER"
if wait_until 15 sh -c "[ \"\$(\"$KODEN\" -d \"$HQ\" audit who-read $id3 --json 2>/dev/null | grep -c BEIJING)\" -ge 1 ]"; then
	ok "once the lock is gone, HQ takes the posts' entries that waited"
else
	not_ok "BEIJING's read of the telegram sent while HQ's log was locked never reached HQ"
fi

# --- BEIJING's disk wiped: HQ still knows who read what ----------------------
stop BEIJING
[ "$STOP_RC" = 0 ] && ok "BEIJING stops cleanly" || not_ok "BEIJING stopped with $STOP_RC"
n=$(count_json "$B" "action=stop" log)
[ "$n" = 1 ] && ok "BEIJING's kodend logged its stop" || not_ok "stop events at BEIJING: $n"
rm -rf "$B"
[ ! -e "$B" ] && ok "BEIJING's node directory is wiped"
"$KODEN" -d "$HQ" audit who-read "$id" >"$T/who" 2>&1
grep -q BEIJING "$T/who" && grep -q decrypt "$T/who" &&
	ok "HQ still answers who-read for the wiped post" ||
	not_ok "who-read after the wipe: $(cat "$T/who")"
since=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
"$KODEN" -d "$HQ" audit reads --node BEIJING --since "$since" >"$T/reads" 2>&1
grep -q "${id:0:16}" "$T/reads" && ok "audit reads --node BEIJING --since lists the read" ||
	not_ok "audit reads: $(cat "$T/reads")"

# --- a proof anyone with HQ's key can check ----------------------------------
seq=$(audit_json "$HQ" who-read "$id" | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e.get("node") == "BEIJING":
        print(e["seq"]); break')
if [ -n "$seq" ] && "$KODEN" -d "$HQ" audit prove "BEIJING:$seq" >"$T/proof" 2>"$T/err"; then
	ok "HQ proves BEIJING's entry $seq"
	hqpub=$("$KODEN" -d "$HQ" network list 2>/dev/null | awk '$1 == "hq" {print $NF; exit}')
	if "$KODEN" audit check-proof -k "$hqpub" "$T/proof" >"$T/chk" 2>&1; then
		ok "check-proof accepts it offline with HQ's public key"
	else
		not_ok "check-proof: $(cat "$T/chk") (key '$hqpub')"
	fi
	wpub=$("$KODEN" -d "$HQ" network list 2>/dev/null | awk '$2 == "WASHINGTON" {print $NF; exit}')
	if "$KODEN" audit check-proof -k "$wpub" "$T/proof" >"$T/chk" 2>&1; then
		not_ok "check-proof accepts the proof under another key"
	else
		ok "check-proof refuses it under another key"
	fi
else
	not_ok "prove: seq '$seq': $(cat "$T/err" 2>/dev/null)"
fi

# --- a post's history rewritten after HQ took it -----------------------------
stop WASHINGTON
# delete WASHINGTON's last row and forge on: the log no longer extends what
# HQ holds; restart so it ships again
sqlite3 "$W/audit.db" "DELETE FROM entry WHERE seq = (SELECT max(seq) FROM entry)"
if "$KODEN" -d "$W" audit verify >"$T/v" 2>&1; then
	not_ok "verify misses a deleted row"
else
	ok "WASHINGTON's own verify names the damage: $(grep -o 'first bad entry [0-9]*' "$T/v")"
fi
# kodend goes on from the shortened log; it cannot ship a log with a hole,
# and says so; HQ sees WASHINGTON exchange telegrams without audit entries
# and raises it
start WASHINGTON
if wait_until 15 has_alert "$W" audit; then
	ok "WASHINGTON raises that its log cannot be shipped"
else
	not_ok "no audit alert at WASHINGTON"
	"$KODEN" -d "$W" alerts 2>&1 | sed 's/^/#   /'
fi
wait_until 15 hq_link_up WASHINGTON
mkdraft "$T/d2" WASHINGTON TOKYO "" ROUTINE SECRET "After the tamper" "K. SATO"
"$KODEN" -d "$W" send -i "$T/K. SATO.key" "$T/d2" >/dev/null 2>&1
if wait_until 20 has_alert "$HQ" audit-silent WASHINGTON; then
	ok "HQ raises audit-silent for WASHINGTON: $(alerts_of "$HQ" audit-silent | head -1 | cut -c1-100)"
else
	not_ok "no audit-silent alert at HQ"
	"$KODEN" -d "$HQ" alerts 2>&1 | sed 's/^/#   /'
fi
"$KODEN" -d "$HQ" audit verify >"$T/v" 2>&1 &&
	ok "HQ's own log still verifies: $(head -1 "$T/v")" ||
	not_ok "HQ's verify after the refusal: $(cat "$T/v")"

echo "# $(date -u +%T) done"
