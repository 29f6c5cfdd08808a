#!/usr/bin/env bash
# A koden network on loopback: HQ TOKYO and three posts as real kodend
# processes.  Telegrams of every precedence between posts (TO and INFO, HQ
# as an INFO addressee), inbox and status through delivered to read, NODIS
# for a named person, refusals (not an officer, unknown post), one kodend
# per NODEDIR, clean SIGTERM, and revoking a post.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netlib.sh"

PORT=17800
POSTS="WASHINGTON BEIJING GENEVA"
HQ=$T/tokyo
W=$T/washington B=$T/beijing G=$T/geneva

net_hq TOKYO $PORT
for p in $POSTS; do net_post "$p"; done
start TOKYO
for p in $POSTS; do start "$p"; done
person "K. SATO" WASHINGTON
person "T. YAMADA" WASHINGTON
person "L. WEI" BEIJING
person "M. MULLER" GENEVA
if wait_posts 20 $POSTS; then
	ok "three posts enrol, link up and hold HQ's roster"
else
	not_ok "posts did not come up"
	"$KODEN" -d "$HQ" node | sed 's/^/#   /'
	exit 1
fi

# --- telegrams of every precedence ------------------------------------------
# name|from|drafter|to|info|precedence|classification|subject
cat >"$T/plan" <<'EOF'
t1|WASHINGTON|K. SATO|BEIJING|GENEVA, TOKYO|FLASH|SECRET|Flash from Washington
t2|BEIJING|L. WEI|GENEVA, WASHINGTON||IMMEDIATE|CONFIDENTIAL|Immediate from Beijing
t3|GENEVA|M. MULLER|WASHINGTON|TOKYO|PRIORITY|TOP SECRET|Priority from Geneva
t4|WASHINGTON|T. YAMADA|GENEVA|BEIJING|ROUTINE|UNCLASSIFIED|Routine from Washington
t5|BEIJING|L. WEI|TOKYO|WASHINGTON, GENEVA|IMMEDIATE/PRIORITY|SECRET|To HQ from Beijing
EOF
declare -A ID FROMD ADDR TO PREC IPREC CLS SUBJ
while IFS='|' read -r t from drafter to info prec cls subj; do
	mkdraft "$T/$t" "$from" "$to" "$info" "$prec" "$cls" "$subj" "$drafter"
	id=$("$KODEN" -d "$(dir "$from")" send -i "$T/$drafter.key" "$T/$t" 2>"$T/err")
	if [[ $id =~ ^[0-9a-f]{32}$ ]]; then
		ok "$t: $from sends a $prec telegram (id $id)"
	else
		not_ok "$t: send from $from: $(cat "$T/err")"
		continue
	fi
	ID[$t]=$id FROMD[$t]=$(dir "$from") CLS[$t]=$cls SUBJ[$t]=$subj
	PREC[$t]=${prec%%/*} IPREC[$t]=${prec##*/}	# action / info precedence
	TO[$t]=" $(echo "$to" | sed 's/, */ /g') "
	ADDR[$t]="$(echo "$to${info:+, $info}" | sed 's/, */ /g')"
done <"$T/plan"

sent=$(printf '%s\n' "${!ID[@]}" | sort)
for t in $sent; do
	if wait_until 20 all_in_state delivered "${FROMD[$t]}" "${ID[$t]}"; then
		ok "$t: status is delivered for every addressee (${ADDR[$t]})"
	else
		not_ok "$t: status never reached delivered for all"
		"$KODEN" -d "${FROMD[$t]}" status "${ID[$t]}" | sed 's/^/#   /'
	fi
	n=$(states "${FROMD[$t]}" "${ID[$t]}" | wc -l)
	k=$(echo ${ADDR[$t]} | wc -w)
	[ "$n" -eq "$k" ] && ok "$t: status lists exactly the $k addressees" ||
		not_ok "$t: status lists $n addressees, wanted $k"
done

for t in $sent; do
	for a in ${ADDR[$t]}; do
		d=$(dir "$a")
		case ${TO[$t]} in *" $a "*) p=${PREC[$t]} ;; *) p=${IPREC[$t]} ;; esac
		"$KODEN" -d "$d" inbox >"$T/out" 2>"$T/err"
		lines=$(grep -c "^${ID[$t]:0:16} " "$T/out")
		line=$(grep "^${ID[$t]:0:16} " "$T/out")
		if [ "$lines" -eq 1 ] &&
			echo "$line" | grep -q "^[0-9a-f]\{16\} $p .* new  ${CLS[$t]} / ${SUBJ[$t]}\$"; then
			ok "$t: $a's inbox lists it once, new, $p ${CLS[$t]} / ${SUBJ[$t]}"
		else
			not_ok "$t: $a's inbox has $lines line(s) for it: $line"
		fi
	done
	from=$(basename "${FROMD[$t]}")
	if "$KODEN" -d "${FROMD[$t]}" inbox | grep -q "^${ID[$t]:0:16} "; then
		not_ok "$t: the origin's own inbox lists it"
	else
		ok "$t: the origin's inbox does not list it"
	fi
done

for p in TOKYO $POSTS; do
	d=$(dir "$p")
	n=$(inbox_count "$d")
	want=0
	for t in $sent; do
		case " ${ADDR[$t]} " in *" $p "*) want=$((want + 1)) ;; esac
	done
	[ "$n" -eq "$want" ] && ok "$p's inbox holds exactly its $want telegrams" ||
		not_ok "$p's inbox holds $n telegrams, wanted $want"
done

# read at every addressee; the status goes to read
for t in $sent; do
	for a in ${ADDR[$t]}; do
		"$KODEN" -d "$(dir "$a")" read "${ID[$t]:0:16}" >"$T/out" 2>"$T/err"
		rc=$?
		if [ $rc -eq 0 ] && grep -q "^1\. ${SUBJ[$t]}\.\$" "$T/out" &&
			grep -q "signatures verified" "$T/err"; then
			ok "$t: $a reads it, signatures verified"
		else
			not_ok "$t: $a read exited $rc: $(head -3 "$T/err")"
		fi
	done
	if wait_until 20 all_in_state read "${FROMD[$t]}" "${ID[$t]}"; then
		ok "$t: status is read for every addressee"
	else
		not_ok "$t: status never reached read for all"
		"$KODEN" -d "${FROMD[$t]}" status "${ID[$t]}" | sed 's/^/#   /'
	fi
done
"$KODEN" -d "$B" inbox | grep -q "^${ID[t1]:0:16} .* [A-Z]\{4,\} *  *SECRET / " &&
	! "$KODEN" -d "$B" inbox | grep "^${ID[t1]:0:16} " | grep -q " new " &&
	ok "after read, the inbox no longer marks it new" ||
	not_ok "inbox after read: $("$KODEN" -d "$B" inbox | grep "^${ID[t1]:0:16} ")"

# ids begin with their sealing time: t1 and t2, sealed a moment apart, share
# their first digits, and HQ (which holds both) says a prefix common to both
# is ambiguous rather than picking one
a=${ID[t1]} b=${ID[t2]} k=0
while [ $k -lt 32 ] && [ "${a:k:1}" = "${b:k:1}" ]; do k=$((k + 1)); done
if [ $k -ge 4 ]; then
	"$KODEN" -d "$HQ" read "${a:0:k}" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -ne 0 ] && grep -q "'${a:0:k}' matches more than one telegram: give more digits" "$T/err" &&
		[ ! -s "$T/out" ] &&
		ok "a prefix two telegrams share (${a:0:k}) is refused as ambiguous" ||
		not_ok "ambiguous prefix ${a:0:k}: exit $rc, $(head -2 "$T/err")"
else
	not_ok "t1 and t2, sealed seconds apart, share only $k leading hex digits: $a $b"
fi

# --- NODIS for a named person -------------------------------------------------
mkdraft "$T/nodis" BEIJING WASHINGTON "" IMMEDIATE SECRET "Eyes only" "L. WEI" \
	"CAPTION: NODIS" "PERSONS: T. YAMADA"
NID=$("$KODEN" -d "$B" send -i "$T/L. WEI.key" "$T/nodis" 2>"$T/err")
[[ $NID =~ ^[0-9a-f]{32}$ ]] && ok "BEIJING sends a NODIS telegram for T. YAMADA" ||
	not_ok "NODIS send: $(cat "$T/err")"
wait_until 20 all_in_state delivered "$B" "$NID" &&
	ok "NODIS: status delivered at WASHINGTON" || not_ok "NODIS: not delivered"
"$KODEN" -d "$W" inbox >"$T/out"
grep "^${NID:0:16} " "$T/out" | grep -q "(restricted: named persons only" &&
	ok "NODIS: WASHINGTON's inbox lists it as restricted" ||
	not_ok "NODIS: inbox line: $(grep "^${NID:0:16} " "$T/out")"
grep "^${NID:0:16} " "$T/out" | grep -q "Eyes only" &&
	not_ok "NODIS: the inbox shows the subject to the node" ||
	ok "NODIS: the inbox does not show the subject"
expect_exit 4 "NODIS: read without -i fails" "$KODEN" -d "$W" read "${NID:0:16}"
expect_err "named persons only" "NODIS: the refusal says it is for named persons"
[ ! -s "$T/out" ] && ok "NODIS: nothing printed without a key" || not_ok "NODIS: printed text without a key"
expect_exit 4 "NODIS: read with another person's key (K. SATO) fails" \
	"$KODEN" -d "$W" read "${NID:0:16}" -i "$T/K. SATO.key"
expect_err "not addressed to this key" "NODIS: the refusal says not addressed to this key"
all_in_state delivered "$B" "$NID" && ok "NODIS: failed reads leave the status delivered" ||
	not_ok "NODIS: status after failed reads: $(states "$B" "$NID")"
expect_exit 0 "NODIS: T. YAMADA reads it with -i" \
	"$KODEN" -d "$W" read "${NID:0:16}" -i "$T/T. YAMADA.key"
expect_out "^1\. Eyes only\.$" "NODIS: T. YAMADA sees the text"
expect_out "NODIS" "NODIS: the rendered telegram carries the caption"
wait_until 20 all_in_state read "$B" "$NID" &&
	ok "NODIS: status becomes read" ||
	not_ok "NODIS: status $(states "$B" "$NID")"

# --- refusals ---------------------------------------------------------------
mkdraft "$T/wrong" WASHINGTON BEIJING "" ROUTINE SECRET "Wrong officer" "L. WEI"
expect_exit 5 "send with a key that is not an officer of the sending post is refused" \
	"$KODEN" -d "$W" send -i "$T/L. WEI.key" "$T/wrong"
expect_err "not an officer of WASHINGTON" "the refusal says it is not an officer of WASHINGTON"
keygen "X. NOBODY"
mkdraft "$T/nobody" WASHINGTON BEIJING "" ROUTINE SECRET "Nobody" "X. NOBODY"
expect_exit 5 "send with a key outside the roster is refused" \
	"$KODEN" -d "$W" send -i "$T/X. NOBODY.key" "$T/nobody"
expect_err "not an officer of WASHINGTON" "the refusal names the post"
mkdraft "$T/paris" WASHINGTON PARIS "" ROUTINE SECRET "To Paris" "K. SATO"
expect_exit 6 "send to an unknown post is refused" \
	"$KODEN" -d "$W" send -i "$T/K. SATO.key" "$T/paris"
expect_err "PARIS is not in the roster" "the refusal says PARIS is not in the roster"
mkdraft "$T/fromb" BEIJING GENEVA "" ROUTINE SECRET "Wrong node" "K. SATO"
expect_exit 6 "send of a telegram FROM another post is refused" \
	"$KODEN" -d "$W" send -i "$T/K. SATO.key" "$T/fromb"
expect_err "FROM BEIJING, but this node is WASHINGTON" "the refusal says why"
[ "$(queued "$W")" = 0 ] && ok "refused sends queue nothing" ||
	not_ok "WASHINGTON queue after refusals: $(queued "$W")"

# --- one kodend per NODEDIR -----------------------------------------------------
timeout 10 "$KODEND" -d "$W" -f >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && ok "a second kodend on the same NODEDIR exits non-zero ($rc)" ||
	not_ok "second kodend exited $rc"
expect_err "another kodend" "it says another kodend is running"
running WASHINGTON && "$KODEN" -d "$W" node >/dev/null 2>&1 &&
	ok "the first kodend still runs and answers" || not_ok "the first kodend was disturbed"
[ "$(cat "$W/kodend.pid")" = "${NODEPID[$W]}" ] &&
	ok "kodend.pid still holds the first kodend's pid" ||
	not_ok "kodend.pid holds '$(cat "$W/kodend.pid")', not ${NODEPID[$W]}"
grep -q "pid ${NODEPID[$W]}" "$T/err" && ok "the refusal names the running kodend's pid" ||
	not_ok "the refusal does not name pid ${NODEPID[$W]}"

# --- revoking a post ------------------------------------------------------------
nalerts=$("$KODEN" -d "$HQ" alerts | wc -l)
expect_exit 0 "network revoke GENEVA" "$KODEN" -d "$HQ" network revoke GENEVA
gen_cut() { "$KODEN" -d "$HQ" node | grep -q '^post GENEVA: down (revoked)'; }
gen_refused() {
	"$KODEN" -d "$HQ" alerts --since "$nalerts" |
		awk '$4 == "unknown-node" && $5 == "GENEVA"' | grep -q revoked
}
gen_down() { ! "$KODEN" -d "$G" node | grep -q '^link to HQ: up'; }
wait_until 10 gen_cut && ok "revoke cuts GENEVA's link at HQ" ||
	not_ok "GENEVA at HQ: $("$KODEN" -d "$HQ" node | grep GENEVA)"
wait_until 15 gen_refused &&
	ok "GENEVA's reconnections are refused: unknown-node alert at HQ (revoked)" ||
	not_ok "no unknown-node alert for GENEVA at HQ"
wait_until 10 gen_down && ok "GENEVA's link to HQ stays down" ||
	not_ok "GENEVA still reports its link up"
sleep 3
link_up GENEVA && not_ok "GENEVA came back up after revocation" ||
	ok "GENEVA is still down after 3 s of reconnecting"
wait_until 10 roster_synced WASHINGTON BEIJING &&
	ok "the remaining posts receive the roster with GENEVA revoked" ||
	not_ok "roster not pushed to the remaining posts"
"$KODEN" -d "$W" network list | grep -q "GENEVA .*REVOKED" &&
	ok "WASHINGTON's roster marks GENEVA revoked" ||
	not_ok "WASHINGTON's roster: $("$KODEN" -d "$W" network list | grep GENEVA)"
mkdraft "$T/togen" WASHINGTON GENEVA "" ROUTINE SECRET "After revocation" "K. SATO"
expect_exit 6 "WASHINGTON can no longer send to GENEVA" \
	"$KODEN" -d "$W" send -i "$T/K. SATO.key" "$T/togen"
expect_err "GENEVA is revoked" "the refusal says GENEVA is revoked"
mkdraft "$T/tobei" WASHINGTON BEIJING "" FLASH SECRET "Still working" "K. SATO"
id=$("$KODEN" -d "$W" send -i "$T/K. SATO.key" "$T/tobei" 2>"$T/err")
wait_until 20 all_in_state delivered "$W" "$id" &&
	ok "WASHINGTON still reaches BEIJING after the revocation" ||
	not_ok "WASHINGTON to BEIJING after revocation: $(cat "$T/err")"

# --- SIGTERM ----------------------------------------------------------------------
for p in WASHINGTON TOKYO; do
	d=$(dir "$p")
	[ -S "$d/api.sock" ] || not_ok "$p has no api.sock while running"
	stop "$p" TERM
	[ "$STOP_RC" = 0 ] && ok "SIGTERM stops $p's kodend with exit 0" ||
		not_ok "$p's kodend exited $STOP_RC on SIGTERM"
	[ ! -e "$d/api.sock" ] && ok "$p's api.sock is removed" ||
		not_ok "$p's api.sock is left behind"
	grep -q "stopped" "$T/${d##*/}.log" && ok "$p logs that it stopped" ||
		not_ok "$p's log lacks 'stopped'"
done
expect_exit 1 "koden says so when kodend is not running" "$KODEN" -d "$W" node
expect_err "kodend|api.sock|running|connect" "the error names the cause"
exit $failed
