#!/usr/bin/env bash
# --help and -h on every verb and sub-verb (docs/cli.md): exit 0, the verb's
# own usage line first on stdout, and nothing done.  Each form runs without
# -d, with -d naming no directory, and with -d naming a real HQ node
# directory; afterwards that directory is byte for byte as it was (no audit
# record, no roster change, no token), the directory that did not exist
# still does not, and no file appeared where koden ran.
. "$(dirname "$0")/lib.sh"

HQ=$T/hq
NONE=$T/none
"$KODEN" network init -d "$HQ" --name TOKYO --listen 127.0.0.1:17990 \
	>/dev/null 2>"$T/err" || { not_ok "network init: $(cat "$T/err")"; exit 1; }
keygen "R. KIMURA"
PUB=$(cat "$T/R. KIMURA.pub")

# snapshot DIR: every path under DIR with its size and contents' hash
snapshot() {
	(cd "$1" && find . -print0 | sort -z | while IFS= read -r -d '' f; do
		if [ -f "$f" ]; then
			echo "$f $(stat -c %s "$f") $(sha256sum <"$f" | cut -c1-64)"
		else
			echo "$f"
		fi
	done)
}
snapshot "$HQ" >"$T/before"
mkdir "$T/cwd"

# Every verb of main.c's table and every sub-verb of network and audit, the
# words before the help flag; the usage line names the same words.  A few
# carry the arguments that would make them act (init a node, print a token,
# revoke HQ) to show that --help wins.
FORMS=(
	"keygen" "pubkey" "seal" "open" "inspect" "network" "send" "status"
	"inbox" "read" "alerts" "node" "audit"
	"network init" "network add-post" "network join" "network add-person"
	"network revoke" "network list"
	"audit verify" "audit log" "audit reads" "audit who-read" "audit prove"
	"audit check-proof" "audit head"
)
# check_help FORM [ARG...]: FORM's help, ARGs before the flag, with every -d
# and both flags
check_help() {
	local form=$1 d h got want name
	local -a words
	shift
	read -ra words <<<"$form"
	want="^usage: koden( -d [A-Z]+)? $form( |\$)"
	for d in "" "$NONE" "$HQ"; do
		for h in --help -h; do
			name="koden ${d:+-d ${d##*/} }$form${1:+ ...} $h"
			(cd "$T/cwd" && "$KODEN" ${d:+-d "$d"} "${words[@]}" "$@" \
				"$h" >"$T/out" 2>"$T/err")
			got=$?
			if [ "$got" -ne 0 ]; then
				not_ok "$name exits 0, not $got"
				sed 's/^/#   /' "$T/err"
			elif ! head -1 "$T/out" | grep -Eq -- "$want"; then
				not_ok "$name: its own usage on stdout"
				sed 's/^/#   /' "$T/out" | head -3
			else
				ok "$name: exit 0, its own usage"
			fi
		done
	done
}

for f in "${FORMS[@]}"; do
	check_help "$f"
done
check_help "network init" -d "$T/new" --name GENEVA --listen 127.0.0.1:17991
check_help "network join" -d "$T/new"
check_help "network add-post" GENEVA
check_help "network add-person" "R. KIMURA" --post TOKYO --key "$PUB"
check_help "network revoke" TOKYO
check_help "status" 0123
check_help "alerts" --since 1
check_help "keygen" -o "$T/new.key"
check_help "audit who-read" 0123
check_help "audit prove" 1

snapshot "$HQ" >"$T/after"
if cmp -s "$T/before" "$T/after"; then
	ok "help changes nothing in HQ's node directory (no record, no token)"
else
	not_ok "help changed HQ's node directory"
	diff "$T/before" "$T/after" | sed 's/^/#   /'
fi
[ ! -e "$NONE" ] && [ ! -e "$T/new" ] && [ ! -e "$T/new.key" ] &&
	ok "help creates no node directory and no key" ||
	not_ok "help created $(ls -d "$NONE" "$T/new" "$T/new.key" 2>/dev/null)"
[ -z "$(ls -A "$T/cwd")" ] && ok "help writes no file where it runs" ||
	not_ok "help wrote $(ls -A "$T/cwd")"
exit $failed
