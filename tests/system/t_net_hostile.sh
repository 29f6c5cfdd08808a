#!/usr/bin/env bash
# Hostile connections to HQ's port while telegrams flow between two posts:
# an impostor with an unknown key claiming to be WASHINGTON (and one claiming
# a post that does not exist), 64 KiB of random garbage, a frame claiming the
# maximum length followed by junk, slow clients (one byte a second) and a
# flood of connections that never speak.  HQ
# must close each, keep running, and deliver the legitimate traffic.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netlib.sh"

PORT=17840
POSTS="WASHINGTON GENEVA"
HQ=$T/tokyo W=$T/washington G=$T/geneva

net_hq TOKYO $PORT
conf_set "$HQ" handshake_timeout 3
for p in $POSTS IMPOSTOR; do net_post "$p"; done
start TOKYO
for p in $POSTS; do start "$p"; done
person "K. SATO" WASHINGTON
person "M. MULLER" GENEVA
wait_posts 20 $POSTS && ok "HQ and two posts up" || { not_ok "posts did not come up"; exit 1; }

# closed_lines: HQ's log lines for connections closed before they were a link
closed_lines() { grep -c 'link (unknown) closed' "$T/tokyo.log"; }
# closed_since N REASON: a new unknown-connection close with REASON
closed_since() {
	[ "$(grep 'link (unknown) closed' "$T/tokyo.log" | tail -n +$(($1 + 1)) |
		grep -c -- "$2")" -ge 1 ]
}

# --- legitimate traffic, both ways, all through the attacks --------------------
# traffic FROM TO DRAFTER: a telegram every 0.2 s until $T/stop exists
traffic() {
	local from=$1 to=$2 drafter=$3 i=0 id precs=(ROUTINE PRIORITY IMMEDIATE FLASH)
	: >"$T/ids.$from"
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		mkdraft "$T/draft.$from" "$from" "$to" "" "${precs[i % 4]}" SECRET \
			"Under fire $from $i" "$drafter"
		if id=$("$KODEN" -d "$(dir "$from")" send -i "$T/$drafter.key" \
			"$T/draft.$from" 2>"$T/err.$from"); then
			echo "$id" >>"$T/ids.$from"
		else
			cat "$T/err.$from" >>"$T/senderr"
		fi
		sleep 0.2
	done
}
traffic WASHINGTON GENEVA "K. SATO" &
TW=$!
traffic GENEVA WASHINGTON "M. MULLER" &
TG=$!
sleep 1

# --- 1. an unknown key claiming to be WASHINGTON; a post that does not exist ----------
n0=$("$KODEN" -d "$HQ" alerts | wc -l)
IMP=$T/impostor
conf_set "$IMP" name WASHINGTON
conf_set "$IMP" enrolled yes
start "$IMP"
wrong_key() {
	"$KODEN" -d "$HQ" alerts --since "$n0" |
		awk '$4 == "unknown-node" && $5 == "WASHINGTON"' | grep -q "wrong key"
}
wait_until 10 wrong_key &&
	ok "HQ refuses the impostor's key for WASHINGTON: unknown-node alert, wrong key" ||
	not_ok "no unknown-node alert for the impostor"
wait_until 5 grep -q "link (unknown) closed: unknown or revoked node" "$T/tokyo.log" &&
	ok "HQ's log shows the impostor's connection closed" ||
	not_ok "HQ's log lacks the impostor's close"
"$KODEN" -d "$IMP" node | grep -q "^link to HQ: up" &&
	not_ok "the impostor believes its link is up" || ok "the impostor never gets a link"
stop "$IMP" TERM
conf_set "$IMP" name PARIS
n1=$("$KODEN" -d "$HQ" alerts | wc -l)
start "$IMP"
no_post() {
	"$KODEN" -d "$HQ" alerts --since "$n1" |
		awk '$4 == "unknown-node" && $5 == "PARIS"' | grep -q "no such post"
}
wait_until 10 no_post && ok "HQ refuses a node claiming a post that does not exist (no such post)" ||
	not_ok "no unknown-node alert for PARIS"
stop "$IMP" TERM
link_up WASHINGTON && ok "the real WASHINGTON keeps its link through the impostor's attempts" ||
	not_ok "the real WASHINGTON lost its link"

# --- 2. 64 KiB of random garbage ---------------------------------------------------
c0=$(closed_lines)
timeout 10 bash -c "head -c 65536 /dev/urandom >/dev/tcp/127.0.0.1/$PORT" 2>/dev/null
wait_until 5 closed_since "$c0" "" && ok "HQ closes a connection that sends 64 KiB of garbage" ||
	not_ok "HQ's log shows no close for the garbage"
grep 'link (unknown) closed' "$T/tokyo.log" | tail -n +$((c0 + 1)) | sed 's/^/#   /'
running TOKYO && ok "HQ survives the garbage" || not_ok "HQ died on garbage"

# --- 3. a frame claiming the maximum length, then junk ------------------------------------
c0=$(closed_lines)
timeout 10 bash -c "{ printf '\\377\\377'; head -c 65535 /dev/urandom; } >/dev/tcp/127.0.0.1/$PORT" 2>/dev/null
wait_until 5 closed_since "$c0" "handshake failed" &&
	ok "HQ closes a maximum-length frame of junk (handshake failed)" ||
	not_ok "HQ's log shows no close for the maximum-length frame"
running TOKYO && ok "HQ survives the maximum-length frame" || not_ok "HQ died on the maximum-length frame"

# the same length, but only 1 KiB of junk follows and the client waits: the
# handshake deadline must close it
c0=$(closed_lines)
(
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
	{ printf '\377\377'; head -c 1024 /dev/urandom; } >&3
	t=$(date +%s%N)
	read -r -t 10 -u 3 -N 1 _
	rc=$?
	echo "$rc $((($(date +%s%N) - t) / 1000000))" >"$T/partial"
) 2>/dev/null
read -r rc ms <"$T/partial"
[ "$rc" -le 128 ] && [ "$ms" -le 5500 ] &&
	ok "a truncated maximum-length frame is closed by the handshake deadline (${ms} ms)" ||
	not_ok "truncated maximum-length frame: read status $rc after $ms ms"
wait_until 5 closed_since "$c0" "handshake timed out" &&
	ok "HQ's log says handshake timed out" || not_ok "HQ's log lacks 'handshake timed out'"

# --- 4. slowloris: one byte a second ----------------------------------------------
# slow N: a client that writes one byte a second; "STATUS MS BYTES" in $T/slow.N
slow() {
	trap '' PIPE
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" || { echo "999 0 0" >"$T/slow.$1"; exit; }
	local t i rc=142
	t=$(date +%s%N)
	for ((i = 1; i <= 20; i++)); do
		printf 'k' >&3 || { rc=0; break; }
		read -r -t 1 -u 3 -N 1 _
		rc=$?
		[ $rc -le 128 ] && break	# EOF: HQ closed it
	done
	echo "$rc $((($(date +%s%N) - t) / 1000000)) $i" >"$T/slow.$1"
}
c0=$(closed_lines)
pids_slow=()
for k in 1 2 3 4; do
	slow $k 2>/dev/null &
	pids_slow+=($!)
done
wait "${pids_slow[@]}"
for k in 1 2 3 4; do
	read -r rc ms bytes <"$T/slow.$k"
	if [ "$rc" -le 128 ] && [ "$ms" -le 5500 ]; then
		ok "slow client $k is cut off after $ms ms ($bytes bytes sent; handshake_timeout 3 s)"
	else
		not_ok "slow client $k: status $rc after $ms ms, $bytes bytes"
	fi
done
[ "$(grep 'link (unknown) closed' "$T/tokyo.log" | tail -n +$((c0 + 1)) |
	grep -c 'handshake timed out')" -ge 4 ] &&
	ok "HQ's log shows the four slow clients closed: handshake timed out" ||
	not_ok "HQ's log shows fewer than four handshake timeouts"

# --- 5. a flood of 200 connections that never speak ---------------------------------------
c0=$(closed_lines)
fds=()
for ((k = 0; k < 200; k++)); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null && fds+=("$fd")
done
[ ${#fds[@]} -eq 200 ] && ok "HQ accepts 200 idle connections" ||
	not_ok "only ${#fds[@]} of 200 flood connections opened"
link_up WASHINGTON && link_up GENEVA && "$KODEN" -d "$HQ" node >/dev/null &&
	ok "HQ still serves its API and keeps both links during the flood" ||
	not_ok "HQ degraded during the flood"
flood_closed() {
	[ "$(grep 'link (unknown) closed' "$T/tokyo.log" | tail -n +$((c0 + 1)) |
		grep -c 'handshake timed out')" -ge ${#fds[@]} ]
}
wait_until 8 flood_closed && ok "HQ closes every flood connection at the handshake deadline" ||
	not_ok "HQ closed $(($(closed_lines) - c0)) of ${#fds[@]} flood connections"
for fd in "${fds[@]}"; do exec {fd}>&-; done
running TOKYO && ok "HQ survives the flood" || not_ok "HQ died in the flood"

# --- the legitimate traffic ---------------------------------------------------------
sleep 0.5
touch "$T/stop"
wait "$TW" "$TG"
nw=$(wc -l <"$T/ids.WASHINGTON")
ng=$(wc -l <"$T/ids.GENEVA")
[ -s "$T/senderr" ] && not_ok "some sends failed: $(head -3 "$T/senderr")" ||
	ok "all $((nw + ng)) legitimate sends during the attacks succeeded"
[ "$nw" -ge 20 ] && [ "$ng" -ge 20 ] && ok "traffic flowed during all the attacks ($nw + $ng telegrams)" ||
	not_ok "too little traffic: $nw + $ng"
all_delivered() {
	local id
	while read -r id; do all_in_state delivered "$W" "$id" || return 1; done <"$T/ids.WASHINGTON"
	while read -r id; do all_in_state delivered "$G" "$id" || return 1; done <"$T/ids.GENEVA"
}
wait_until 30 all_delivered && ok "every legitimate telegram is delivered (status delivered)" ||
	not_ok "not every legitimate telegram was delivered"
[ "$(inbox_count "$G")" = "$nw" ] && [ "$(inbox_count "$W")" = "$ng" ] &&
	ok "each inbox holds exactly the telegrams sent to it" ||
	not_ok "inboxes: GENEVA $(inbox_count "$G") of $nw, WASHINGTON $(inbox_count "$W") of $ng"
for p in $POSTS; do
	a=$("$KODEN" -d "$(dir "$p")" alerts)
	[ -z "$a" ] && ok "$p raised no alert" || { not_ok "$p raised alerts"; echo "$a" | sed 's/^/#   /'; }
done
running TOKYO && "$KODEN" -d "$HQ" node >/dev/null && ok "HQ is still running and answers" ||
	not_ok "HQ is not running"
grep -Eq "link (WASHINGTON|GENEVA) closed" "$T/tokyo.log" &&
	not_ok "a legitimate link was dropped during the attacks: $(grep -E 'link (WASHINGTON|GENEVA) closed' "$T/tokyo.log" | head -2)" ||
	ok "neither legitimate link was dropped during the attacks"
bad=$("$KODEN" -d "$HQ" alerts | awk '$4 != "unknown-node"')
[ -z "$bad" ] && ok "HQ's only alerts are the refused impostors" ||
	{ not_ok "HQ raised other alerts"; echo "$bad" | sed 's/^/#   /'; }
stop TOKYO TERM
[ "$STOP_RC" = 0 ] && ok "HQ stops cleanly afterwards" || not_ok "HQ exited $STOP_RC on SIGTERM"
exit $failed
