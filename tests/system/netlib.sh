# Helpers for the network system tests (t_net_*.sh): an HQ and posts as real
# kodend processes on 127.0.0.1, and the koden commands that drive them.
# Source after lib.sh:
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/netlib.sh"
#
# Node directories live in $T/NAME (lower case); logs in $T/NAME.log.
# Every kodend started here is killed and waited for on exit; KEEP=1 leaves
# $T (node directories, logs) behind for a post-mortem.

KODEND=${KODEND:-${KODEN%/*}/kodend}
KODEND_FAULTY=${KODEND_FAULTY:-${KODEN%/*}/kodend-faulty}
declare -A NODEPID=()
HQDIR=
HQPORT=

net_cleanup() {
	local d p i
	# background jobs first (send loops, clients), then every kodend:
	# SIGTERM, up to 3 s to stop, then SIGKILL
	for p in $(jobs -p); do
		case " ${NODEPID[*]} " in *" $p "*) continue ;; esac
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for p in "${NODEPID[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for ((i = 0; i < 30; i++)); do
		d=0
		for p in "${NODEPID[@]}"; do kill -0 "$p" 2>/dev/null && d=1; done
		[ $d = 0 ] && break
		sleep 0.1
	done
	for p in "${NODEPID[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then
		echo "# KEEP: node directories and logs left in $T"
	else
		rm -rf "$T"
	fi
}
trap net_cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$KODEND" ] || { not_ok "no kodend at $KODEND: run make tests"; exit 1; }
# Run private copies of the binaries: a concurrent `make` relinking build/
# mid-test would otherwise make some of the thousands of calls fail.
mkdir -p "$T/bin"
for i in 1 2 3 4 5; do
	cp "$KODEN" "$KODEND" "$T/bin/" 2>/dev/null &&
		{ [ ! -x "$KODEND_FAULTY" ] || cp "$KODEND_FAULTY" "$T/bin/"; } &&
		"$T/bin/${KODEN##*/}" --help >/dev/null 2>&1 &&
		"$T/bin/${KODEND##*/}" --help >/dev/null 2>&1 && break
	sleep 1
done
KODEN=$T/bin/${KODEN##*/}
KODEND=$T/bin/${KODEND##*/}
[ -x "$T/bin/${KODEND_FAULTY##*/}" ] && KODEND_FAULTY=$T/bin/${KODEND_FAULTY##*/}
for need in sqlite3 timeout; do
	command -v "$need" >/dev/null || { not_ok "$need is not installed"; exit 1; }
done

# dir NAME: the node directory of NAME (lower case, spaces as -)
dir() {
	local s=${1,,}
	echo "$T/${s// /-}"
}

# wait_until SECONDS CMD...: poll CMD (every 0.2 s) until it succeeds;
# returns 1 on timeout
wait_until() {
	local limit=$1 end
	shift
	end=$((SECONDS + limit))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.2
	done
}

# port_free PORT: nothing listens on 127.0.0.1:PORT
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# net_hq NAME PORT: create HQ's node directory
net_hq() {
	HQDIR=$(dir "$1")
	HQPORT=$2
	port_free "$2" || { not_ok "port $2 is in use: cannot run this test"; exit 1; }
	"$KODEN" network init -d "$HQDIR" --name "$1" --listen "127.0.0.1:$2" \
		>/dev/null 2>"$T/init.err" || {
		not_ok "network init $1: $(cat "$T/init.err")"
		exit 1
	}
	conf_set "$HQDIR" log_level debug
}

# conf_set NODEDIR KEY VALUE: set (append, the last one wins) a kodend.conf key
conf_set() {
	echo "$2 = $3" >>"$1/kodend.conf"
}

# net_post NAME: add-post at HQ, join at the post (token through stdin),
# lower the reconnection backoff
net_post() {
	local d
	d=$(dir "$1")
	"$KODEN" -d "$HQDIR" network add-post "$1" >"$T/$1.tok" 2>"$T/join.err" &&
		"$KODEN" network join -d "$d" <"$T/$1.tok" >/dev/null 2>>"$T/join.err" || {
		not_ok "enrol $1: $(cat "$T/join.err")"
		exit 1
	}
	conf_set "$d" retry_max 2
	conf_set "$d" log_level debug
}

# start NAME|NODEDIR [BINARY]: start kodend in the foreground (background
# job), wait until its API answers
start() {
	local d=$1 bin=${2:-$KODEND} name
	[ -d "$d" ] || d=$(dir "$1")
	name=${d##*/}
	"$bin" -d "$d" -f 2>>"$T/$name.log" &
	NODEPID[$d]=$!
	if ! wait_until 10 "$KODEN" -d "$d" node; then
		not_ok "kodend on $name did not start"
		sed 's/^/#   /' "$T/$name.log" | tail -20
		exit 1
	fi
}

# stop NAME|NODEDIR [SIGNAL]: signal kodend (TERM by default) and wait for
# it; sets STOP_RC to its exit status
stop() {
	local d=$1 sig=${2:-TERM} p
	[ -d "$d" ] || d=$(dir "$1")
	p=${NODEPID[$d]:-}
	STOP_RC=
	[ -n "$p" ] || return 0
	kill "-$sig" "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	STOP_RC=$?
	unset "NODEPID[$d]"
}

# running NAME|NODEDIR: its kodend is still alive
running() {
	local d=$1
	[ -d "$d" ] || d=$(dir "$1")
	[ -n "${NODEPID[$d]:-}" ] && kill -0 "${NODEPID[$d]}" 2>/dev/null
}

# link_up POST: HQ reports POST's link up
link_up() {
	"$KODEN" -d "$HQDIR" node 2>/dev/null | grep -q "^post $1: up"
}

# hq_link_up POST: the post reports its link to HQ up
hq_link_up() {
	"$KODEN" -d "$(dir "$1")" node 2>/dev/null | grep -q "^link to HQ: up"
}

# roster_version NODEDIR
roster_version() {
	"$KODEN" -d "$1" node 2>/dev/null | sed -n '1s/.*roster version \([0-9]*\).*/\1/p'
}

# roster_synced POST...: each post holds HQ's current roster
roster_synced() {
	local v p
	v=$(roster_version "$HQDIR")
	for p in "$@"; do
		[ "$(roster_version "$(dir "$p")")" = "$v" ] || return 1
	done
}

# wait_posts SECONDS POST...: every post linked and holding HQ's roster
wait_posts() {
	local limit=$1 p
	shift
	for p in "$@"; do
		wait_until "$limit" link_up "$p" || return 1
		wait_until "$limit" hq_link_up "$p" || return 1
	done
	wait_until "$limit" roster_synced "$@"
}

# person NAME POST: key in $T/NAME.key (see lib.sh keygen), added to the roster
person() {
	keygen "$1"
	"$KODEN" -d "$HQDIR" network add-person "$1" --post "$2" \
		--key "$(cat "$T/$1.pub")" >/dev/null 2>"$T/person.err" || {
		not_ok "add-person $1: $(cat "$T/person.err")"
		exit 1
	}
}

# mkdraft FILE FROM TO INFO PREC CLASS SUBJECT DRAFTER [extra header lines...]
# (INFO may be empty)
mkdraft() {
	local f=$1 from=$2 to=$3 info=$4 prec=$5 cls=$6 subj=$7 drafter=$8
	shift 8
	{
		echo "FROM: $from"
		echo "TO: $to"
		[ -n "$info" ] && echo "INFO: $info"
		echo "PRECEDENCE: $prec"
		echo "CLASSIFICATION: $cls"
		echo "SUBJECT: $subj"
		echo "DRAFTER: $drafter"
		local l
		for l in "$@"; do echo "$l"; done
		echo
		echo "1. $subj."
		echo
		echo "2. Nothing further."
	} >"$f"
}

# queued NODEDIR [POST]: on a post, its queue to HQ; on HQ, the queue for POST
queued() {
	if [ $# -eq 1 ]; then
		"$KODEN" -d "$1" node 2>/dev/null |
			sed -n 's/^link to HQ: [a-z]*, \([0-9]*\) queued$/\1/p'
	else
		"$KODEN" -d "$1" node 2>/dev/null |
			sed -n "s/^post $2: [a-z]*\( (revoked)\)\{0,1\}, \([0-9]*\) queued\$/\2/p"
	fi
}

# queue_is NODEDIR [POST] N
queue_is() {
	local n=${!#}
	[ "$(queued "${@:1:$#-1}")" = "$n" ]
}

# states ORIGIN-NODEDIR ID: "DEST|STATE" per addressee, from koden status
states() {
	"$KODEN" -d "$1" status "$2" 2>/dev/null | sed 1d |
		awk '{ d = substr($0, 3, 24); s = substr($0, 28, 10);
			sub(/ +$/, "", d); sub(/ +$/, "", s); print d "|" s }'
}

# all_in_state STATE ORIGIN-NODEDIR ID: every addressee is in STATE
all_in_state() {
	local out
	out=$(states "$2" "$3") || return 1
	[ -n "$out" ] || return 1
	! echo "$out" | grep -vq "|$1\$"
}

# inbox_count NODEDIR: telegrams listed by inbox
inbox_count() {
	"$KODEN" -d "$1" inbox 2>/dev/null | sed 1d | grep -vc '^(empty)$'
}

# alerts_of NODEDIR KIND: alert lines of that kind
alerts_of() {
	"$KODEN" -d "$1" alerts 2>/dev/null | awk -v k="$2" '$4 == k'
}

# has_alert NODEDIR KIND [ORIGIN]
has_alert() {
	if [ $# -ge 3 ]; then
		alerts_of "$1" "$2" | awk -v o="$3" '$5 == o' | grep -q .
	else
		alerts_of "$1" "$2" | grep -q .
	fi
}

# db NODEDIR SQL: a read-only query of the node's store
db() {
	sqlite3 -readonly -cmd ".timeout 5000" "$1/store.db" "$2"
}

# check COND-CMD NAME: ok if COND-CMD succeeds
check() {
	local name=${!#}
	if "${@:1:$#-1}"; then ok "$name"; else not_ok "$name"; fi
}
