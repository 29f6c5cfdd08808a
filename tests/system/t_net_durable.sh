#!/usr/bin/env bash
# Nothing leaves HQ before it is on disk.  kodend commits without waiting
# for the disk and fsyncs the store's write-ahead log on another thread
# (docs/store.md, "Durability"); an acknowledgement, and a telegram that
# HQ forwards, must wait for that fsync.  HQ is the test double
# kodend-faulty with KODEN_FAULT=holdsync:1: while $HQ/hold-sync exists, its
# store's fsyncs wait, as on a stalled disk.
#
# A telegram sent meanwhile is committed at HQ (its envelope is in HQ's
# store), yet HQ neither acknowledges it to the origin (status stays
# "queued") nor forwards it (the addressee does not have it); and HQ still
# answers its API.  Once the disk moves again, it is acknowledged and
# delivered, with its receipt back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netlib.sh"

PORT=17880
HQ=$T/tokyo W=$T/washington G=$T/geneva

[ -x "$KODEND_FAULTY" ] || { not_ok "no $KODEND_FAULTY: run make tests"; exit 1; }

net_hq TOKYO "$PORT"
for p in WASHINGTON GENEVA; do net_post "$p"; done
KODEN_FAULT=holdsync:1 start TOKYO "$KODEND_FAULTY"
for p in WASHINGTON GENEVA; do start "$p"; done
person "K. SATO" WASHINGTON
wait_posts 20 WASHINGTON GENEVA || { not_ok "network did not come up"; exit 1; }

# send N: a ROUTINE telegram WASHINGTON -> GENEVA; prints its id
send() {
	mkdraft "$T/d$1" WASHINGTON GENEVA "" ROUTINE SECRET "Durable $1" "K. SATO"
	"$KODEN" -d "$W" send -i "$T/K. SATO.key" "$T/d$1" 2>"$T/err"
}
in_geneva() { db "$G" "SELECT count(*) FROM inbox WHERE id = x'$1'" | grep -qx 1; }
at_hq() { db "$HQ" "SELECT count(*) FROM env WHERE id = x'$1'" | grep -qx 1; }

id1=$(send 1) || not_ok "send 1: $(cat "$T/err")"
wait_until 15 all_in_state delivered "$W" "$id1" &&
	ok "with the disk moving, a telegram is delivered through the test double" ||
	not_ok "telegram 1 not delivered: $(states "$W" "$id1")"

touch "$HQ/hold-sync"
id2=$(send 2) || not_ok "send 2: $(cat "$T/err")"
wait_until 10 at_hq "$id2" &&
	ok "with HQ's fsync held, HQ still stores (commits) the new telegram" ||
	not_ok "HQ did not store telegram 2"
grep -q "FAULT: fsync of .* held" "$T/tokyo.log" &&
	ok "HQ's store is waiting for its fsync" || not_ok "HQ's log shows no held fsync"
sleep 2
all_in_state queued "$W" "$id2" &&
	ok "HQ has not acknowledged it: WASHINGTON still shows it queued" ||
	not_ok "HQ acknowledged a telegram that is not on its disk: $(states "$W" "$id2")"
in_geneva "$id2" &&
	not_ok "HQ forwarded a telegram that is not on its disk" ||
	ok "HQ has not forwarded it: GENEVA does not have it"
"$KODEN" -d "$HQ" node >/dev/null 2>&1 &&
	ok "HQ's loop goes on while the fsync waits (its API answers)" ||
	not_ok "HQ's API does not answer while its fsync waits"

rm -f "$HQ/hold-sync"
wait_until 15 in_geneva "$id2" &&
	ok "once the disk moves, GENEVA receives it" ||
	not_ok "telegram 2 did not reach GENEVA after the fsync"
wait_until 15 all_in_state delivered "$W" "$id2" &&
	ok "and WASHINGTON sees it delivered" ||
	not_ok "telegram 2 not delivered: $(states "$W" "$id2")"
[ "$(db "$G" "SELECT count(*) - count(DISTINCT id) FROM inbox")" = 0 ] &&
	ok "nothing twice in GENEVA's inbox" || not_ok "a duplicate in GENEVA's inbox"
running TOKYO && ok "HQ still runs" || not_ok "HQ died"
exit $failed
