#!/usr/bin/env bash
# bench/vpn.sh: koden-vpn side by side with wireguard-go and OpenVPN, in the
# same run, between two network namespaces joined by a veth pair (issue 4).
#
# For each VPN it measures, through the tunnel:
#   - TCP throughput, iperf3, one stream and 4 streams (-P 4), --seconds each,
#     --runs times (median);
#   - ping RTT, median of --pings pings 0.05 s apart;
#   - CPU seconds per GB: utime + stime of the VPN's processes (both ends,
#     all threads, from /proc/PID/stat) over each iperf3 test, divided by the
#     bytes iperf3 moved.
# All tunnels are up at once (one subnet and port each) and the runs
# interleave them, so each run's numbers for the three come from the same
# minute.  The bare veth is measured too, as the ceiling.
#
#   bench/vpn.sh [--runs N] [--seconds S] [--pings N] [--only koden,wggo,openvpn]
#                [--cipher AES-256-GCM|CHACHA20-POLY1305] [--record]
#
# --record also rewrites the results block of docs/benchmarks.md.
#
# koden-vpn: ${KODEN_VPN:-$B/koden-vpn} (B defaults to build), started as
# `koden-vpn -f IFNAME` and configured with wg(8) through its UAPI socket, the
# way wireguard-go is.  If it is not built, the script says so and skips it.
# wireguard-go: Debian's, `wireguard-go -f IFNAME` (foreground).  OpenVPN:
# Debian's, peer to peer over UDP with TLS (self-signed certificates pinned
# with --peer-fingerprint, no CA), DCO off (userspace, like the other two),
# data cipher AES-256-GCM or CHACHA20-POLY1305, whichever `openssl speed`
# finds faster on this CPU at the start of the run (printed; --cipher forces).
#
# Needs root, iproute2, iperf3, wireguard-tools, wireguard-go (scripts/
# install-deps.sh installs them), python3; installs the Debian package openvpn
# with apt-get when it is missing.  Everything it creates is named kbench-*
# (namespaces kbench-a-PID and kbench-b-PID, veth kbench-va/kbench-vb, tunnels
# kbench-{k,w,o}{a,b}) and is removed on exit, with every process it started
# (by pid) and its temporary directory.  Prints a markdown table on stdout,
# progress on stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
B=${B:-build}
KODEN_VPN=$(abs "${KODEN_VPN:-$B/koden-vpn}")
RUNS=3
SECS=10
PINGS=50
ONLY=koden,wggo,openvpn
CIPHER=		# OpenVPN data cipher; empty: the faster by openssl speed
RECORD=0
DOC=$ROOT/docs/benchmarks.md

usage() {
	sed -n '2,37s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-0}"
}
num() { case $2 in '' | *[!0-9]*) echo "vpn.sh: $1 needs a number" >&2; exit 2 ;; esac; }
while [ $# -gt 0 ]; do
	case $1 in
	--runs) num "$1" "${2:-}"; RUNS=$2; shift ;;
	--seconds) num "$1" "${2:-}"; SECS=$2; shift ;;
	--pings) num "$1" "${2:-}"; PINGS=$2; shift ;;
	--only) ONLY=${2:?--only needs a list}; shift ;;
	--record) RECORD=1 ;;
	--cipher)
		case ${2:-} in AES-256-GCM | CHACHA20-POLY1305) CIPHER=$2 ;;
		*) echo "vpn.sh: --cipher AES-256-GCM or CHACHA20-POLY1305" >&2; exit 2 ;; esac
		shift ;;
	-h | --help) usage 0 ;;
	*) echo "vpn.sh: unknown argument '$1'" >&2; usage 2 >&2 ;;
	esac
	shift
done
for p in ${ONLY//,/ }; do
	case $p in koden | wggo | openvpn) ;; *) echo "vpn.sh: unknown VPN '$p' (koden, wggo, openvpn)" >&2; exit 2 ;; esac
done
[ "$RUNS" -ge 1 ] && [ "$SECS" -ge 1 ] && [ "$PINGS" -ge 1 ] ||
	{ echo "vpn.sh: --runs, --seconds and --pings must be at least 1" >&2; exit 2; }
want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

say() { printf '%s\n' "$*" >&2; }
die() { say "vpn.sh: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN devices)"
[ "$RECORD" = 0 ] || grep -q '^<!-- bench/vpn.sh results: begin -->$' "$DOC" ||
	die "--record: no results block in $DOC"
[ -c /dev/net/tun ] || die "no /dev/net/tun"
for t in ip iperf3 python3 ping; do
	command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh)"
done
if want wggo || want koden; then
	command -v wg >/dev/null || die "wg not found (apt-get install wireguard-tools)"
fi
if want wggo; then
	command -v wireguard-go >/dev/null || die "wireguard-go not found (apt-get install wireguard-go)"
fi
if want openvpn && ! command -v openvpn >/dev/null; then
	say "installing OpenVPN (Debian package openvpn; its service is not started)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends openvpn; } >/dev/null 2>&1 ||
		die "apt-get install openvpn failed"
	command -v openvpn >/dev/null || die "openvpn not found after install"
fi
if want openvpn; then
	command -v openssl >/dev/null || die "openssl not found"
fi
if want koden && [ ! -x "$KODEN_VPN" ]; then
	say "koden-vpn: $KODEN_VPN is not built: skipping it (make B=$B all, or KODEN_VPN=path)"
	ONLY=$(echo ",$ONLY," | sed 's/,koden,/,/; s/^,//; s/,$//')
	KODEN_SKIPPED=1
fi
KODEN_SKIPPED=${KODEN_SKIPPED:-0}
[ -n "$ONLY" ] || die "nothing left to measure"

# --- namespaces, cleanup -------------------------------------------------------
NA=kbench-a-$$
NB=kbench-b-$$
T=$(mktemp -d "${TMPDIR:-/tmp}/koden-vpnbench.XXXXXX")
PIDS=()
SOCKS=()
cleanup() {
	local p i alive
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for ((i = 0; i < 30; i++)); do
		alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	ip netns del "$NA" 2>/dev/null || true
	ip netns del "$NB" 2>/dev/null || true
	for p in "${SOCKS[@]}"; do rm -f "$p"; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ina() { ip netns exec "$NA" "$@"; }
inb() { ip netns exec "$NB" "$@"; }

ip netns add "$NA"
ip netns add "$NB"
ina ip link set lo up
inb ip link set lo up
ip link add kbench-va netns "$NA" type veth peer name kbench-vb netns "$NB"
ina ip addr add 10.199.0.1/24 dev kbench-va
inb ip addr add 10.199.0.2/24 dev kbench-vb
ina ip link set kbench-va up
inb ip link set kbench-vb up
# not through inb: $! must be iperf3's own pid (ip netns exec execs it), or
# cleanup kills a subshell and leaves the server running
ip netns exec "$NB" iperf3 -s >"$T/iperf3-server.log" 2>&1 &
PIDS+=($!)

# wait_ping ADDR SECONDS: until ADDR answers from namespace a
wait_ping() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		ina ping -c 1 -W 1 "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
wait_ping 10.199.0.2 5 || die "the veth pair does not carry ping"

# --- bringing the tunnels up ------------------------------------------------------
# Each VPN: its tunnel subnet, its processes (pids in NAME_PIDS), its version.
declare -A ADDR_B=() PROCS=() VERSION=() LABEL=()
LABEL[veth]="veth (no VPN)"
LABEL[koden]="koden-vpn"
LABEL[wggo]="wireguard-go"
LABEL[openvpn]="OpenVPN"
ADDR_B[veth]=10.199.0.2

# wait_sock PATH: the UAPI socket appears (5 s)
wait_sock() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# up_wg NAME BINARY NET PORT: a WireGuard implementation driven through its
# UAPI socket with wg(8): interfaces kbench-Xa / kbench-Xb (X = first letter).
up_wg() {
	local name=$1 bin=$2 net=$3 port=$4 x=${1:0:1} ka kb pa pb ia ib
	ia=kbench-${x}a
	ib=kbench-${x}b
	for i in "$ia" "$ib"; do
		[ ! -S "/var/run/wireguard/$i.sock" ] || die "/var/run/wireguard/$i.sock exists: is another bench running?"
	done
	# ip netns exec and env exec: $! is the VPN process itself (for /proc)
	ip netns exec "$NA" env WG_PROCESS_FOREGROUND=1 "$bin" -f "$ia" >"$T/$ia.log" 2>&1 &
	pa=$!
	ip netns exec "$NB" env WG_PROCESS_FOREGROUND=1 "$bin" -f "$ib" >"$T/$ib.log" 2>&1 &
	pb=$!
	PIDS+=("$pa" "$pb")
	SOCKS+=("/var/run/wireguard/$ia.sock" "/var/run/wireguard/$ib.sock")
	wait_sock "/var/run/wireguard/$ia.sock" && wait_sock "/var/run/wireguard/$ib.sock" || {
		tail -5 "$T/$ia.log" "$T/$ib.log" >&2
		say "$name: no UAPI socket after 5 s"
		return 1
	}
	umask 077
	wg genkey >"$T/$name-a.key"
	wg genkey >"$T/$name-b.key"
	ka=$(wg pubkey <"$T/$name-a.key")
	kb=$(wg pubkey <"$T/$name-b.key")
	# (called as a condition, so no errexit in here: every step is checked)
	ina wg set "$ia" private-key "$T/$name-a.key" listen-port "$port" \
		peer "$kb" allowed-ips "$net.2/32" endpoint "10.199.0.2:$port" &&
		inb wg set "$ib" private-key "$T/$name-b.key" listen-port "$port" \
			peer "$ka" allowed-ips "$net.1/32" endpoint "10.199.0.1:$port" &&
		ina ip addr add "$net.1/24" dev "$ia" &&
		inb ip addr add "$net.2/24" dev "$ib" &&
		ina ip link set "$ia" up &&
		inb ip link set "$ib" up || { say "$name: configuring the tunnel failed"; return 1; }
	ADDR_B[$name]=$net.2
	PROCS[$name]="$pa $pb"
}

# OpenVPN's fastest AEAD here: AES-256-GCM or CHACHA20-POLY1305, by the best
# of 3 alternating 1-second `openssl speed` runs each (or --cipher)
pick_cipher() {
	local aes=0 cha=0 v i
	speed() {
		openssl speed -seconds 1 -bytes 1400 -evp "$1" 2>/dev/null |
			awk 'END { sub(/k$/, "", $NF); printf "%d\n", $NF }'
	}
	for ((i = 0; i < 3; i++)); do
		v=$(speed aes-256-gcm); [ "${v:-0}" -gt "$aes" ] && aes=$v
		v=$(speed chacha20-poly1305); [ "${v:-0}" -gt "$cha" ] && cha=$v
	done
	say "openssl speed, 1400-byte records, best of 3: AES-256-GCM ${aes} kB/s, ChaCha20-Poly1305 ${cha} kB/s"
	CIPHER_SPEED="AES-256-GCM $aes kB/s, ChaCha20-Poly1305 $cha kB/s (best of 3)"
	if [ -n "$CIPHER" ]; then
		OVPN_CIPHER=$CIPHER
	elif [ "$aes" -ge "$cha" ]; then
		OVPN_CIPHER=AES-256-GCM
	else
		OVPN_CIPHER=CHACHA20-POLY1305
	fi
}

up_openvpn() {
	local net=10.203.0 port=51830 pa pb fa fb s
	pick_cipher
	for s in a b; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-days 2 -subj "/CN=kbench-$s" -keyout "$T/ovpn-$s.key" \
			-out "$T/ovpn-$s.crt" >/dev/null 2>&1 || die "openssl req failed"
	done
	fa=$(openssl x509 -in "$T/ovpn-a.crt" -noout -fingerprint -sha256 | cut -d= -f2)
	fb=$(openssl x509 -in "$T/ovpn-b.crt" -noout -fingerprint -sha256 | cut -d= -f2)
	# common: p2p over UDP, TLS with pinned self-signed certificates, no DCO
	ovpn() {
		local side=$1 me=$2 them=$3 fp=$4 role=$5 lo=$6 ro=$7
		local ns=$NA
		[ "$side" = a ] || ns=$NB
		ip netns exec "$ns" openvpn --dev "kbench-o$side" --dev-type tun --proto udp \
			--local "$me" --lport "$port" --remote "$them" --rport "$port" \
			--ifconfig "$lo" "$ro" --"$role" --dh none \
			--cert "$T/ovpn-$side.crt" --key "$T/ovpn-$side.key" --peer-fingerprint "$fp" \
			--data-ciphers "$OVPN_CIPHER" --disable-dco --verb 3 \
			>"$T/openvpn-$side.log" 2>&1 &
	}
	ovpn a 10.199.0.1 10.199.0.2 "$fb" tls-server "$net.1" "$net.2"
	pa=$!
	ovpn b 10.199.0.2 10.199.0.1 "$fa" tls-client "$net.2" "$net.1"
	pb=$!
	PIDS+=("$pa" "$pb")
	ADDR_B[openvpn]=$net.2
	PROCS[openvpn]="$pa $pb"
}

NAMES=(veth)
if want koden; then
	say "starting koden-vpn ($KODEN_VPN)"
	# a private copy: a concurrent make relinking it cannot pull it away
	mkdir -p "$T/bin"
	cp "$KODEN_VPN" "$T/bin/koden-vpn"
	if up_wg koden "$T/bin/koden-vpn" 10.201.0 51810; then
		VERSION[koden]="koden-vpn: $KODEN_VPN built $(date -u -r "$KODEN_VPN" '+%Y-%m-%d %H:%M UTC'), sha256 $(sha256sum "$T/bin/koden-vpn" | cut -c1-12) (work tree $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'))"
		NAMES+=(koden)
	else
		say "koden-vpn did not come up: measuring the others without it"
		KODEN_SKIPPED=2
	fi
fi
if want wggo; then
	say "starting wireguard-go"
	up_wg wggo wireguard-go 10.202.0 51820 || die "wireguard-go did not come up"
	VERSION[wggo]="wireguard-go $(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null || echo '?')"
	NAMES+=(wggo)
fi
if want openvpn; then
	say "starting OpenVPN"
	up_openvpn
	VERSION[openvpn]="OpenVPN $(openvpn --version 2>/dev/null | awk 'NR == 1 { print $2 }') ($(dpkg-query -W -f='${Version}' openvpn 2>/dev/null)), $OVPN_CIPHER"
	NAMES+=(openvpn)
fi
UP=()
for n in "${NAMES[@]}"; do
	if [ "$n" != veth ] && ! wait_ping "${ADDR_B[$n]}" 30; then
		for f in "$T"/*.log; do say "== $f"; tail -15 "$f" >&2; done
		[ "$n" = koden ] || die "${LABEL[$n]}: no ping through the tunnel after 30 s"
		say "koden-vpn: no ping through the tunnel after 30 s: measuring the others without it"
		KODEN_SKIPPED=2
		continue
	fi
	[ "$n" = veth ] || say "${LABEL[$n]}: tunnel up (${ADDR_B[$n]} answers)"
	UP+=("$n")
done
NAMES=("${UP[@]}")

# --- measuring --------------------------------------------------------------------
TICK=$(getconf CLK_TCK)
# cpu_ticks PID...: utime + stime of the processes (all threads), in ticks
cpu_ticks() {
	local sum=0 p f
	for p in "$@"; do
		f=$(sed 's/^.*) //' "/proc/$p/stat") || die "process $p is gone"
		set -- $f
		# after "pid (comm) ": field 3 is state, so utime (14) and stime (15)
		# are the 12th and 13th words here
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}

RES=$T/results	# lines: NAME METRIC RUN VALUE
: >"$RES"

# iperf NAME STREAMS RUN
iperf() {
	local n=$1 streams=$2 run=$3 c0 c1 json
	json=$T/iperf-$n-$streams-$run.json
	c0=$( [ "$n" = veth ] && echo 0 || cpu_ticks ${PROCS[$n]})
	if ! ina iperf3 -c "${ADDR_B[$n]}" -t "$SECS" -P "$streams" -J >"$json" 2>&1; then
		say "${LABEL[$n]}: iperf3 -P $streams failed:"
		tail -5 "$json" >&2
		return 0
	fi
	c1=$( [ "$n" = veth ] && echo 0 || cpu_ticks ${PROCS[$n]})
	python3 - "$json" "$n" "$streams" "$run" "$((c1 - c0))" "$TICK" >>"$RES" <<'EOF'
import json, sys
path, n, streams, run, ticks, hz = sys.argv[1:]
d = json.load(open(path))["end"]
recv = d["sum_received"]
mbit = recv["bits_per_second"] / 1e6
gbytes = recv["bytes"] / 1e9
print(n, "tcp%s" % streams, run, "%.1f" % mbit)
if n != "veth" and gbytes > 0:
    print(n, "cpu%s" % streams, run, "%.3f" % (int(ticks) / int(hz) / gbytes))
print(n, "retr%s" % streams, run, d["sum_sent"].get("retransmits", 0))
EOF
	say "  ${LABEL[$n]} run $run, $streams stream(s): $(awk -v n="$n" -v m="tcp$streams" -v r="$run" '$1 == n && $2 == m && $3 == r { print $4 }' "$RES") Mbit/s"
}

# rtt NAME: median RTT of PINGS pings, in ms
rtt() {
	local n=$1
	ina ping -c "$PINGS" -i 0.05 -W 1 "${ADDR_B[$n]}" 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' |
		python3 -c "
import statistics, sys
v = [float(x) for x in sys.stdin if x.strip()]
if v: print('$n', 'rtt', 0, '%.3f' % statistics.median(v))
" >>"$RES"
}

START=$(date -u '+%Y-%m-%d %H:%M UTC')
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for n in "${NAMES[@]}"; do rtt "$n"; done
for ((r = 1; r <= RUNS; r++)); do
	say "run $r of $RUNS (${SECS}s per test)"
	for n in "${NAMES[@]}"; do
		iperf "$n" 1 "$r"
		iperf "$n" 4 "$r"
	done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(($(date +%s) - T0))

# --- the table --------------------------------------------------------------------
python3 - "$RES" "$KODEN_SKIPPED" "${NAMES[*]}" "$SECS" <<'EOF' >"$T/table"
import statistics, sys
res, why, names, secs = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4]
skipped = why in ("1", "2")
pend = "pending" if why == "1" else "failed"
label = {"veth": "veth (no VPN)", "koden": "koden-vpn", "wggo": "wireguard-go", "openvpn": "OpenVPN"}
vals = {}
for line in open(res):
    n, m, run, v = line.split()
    vals.setdefault((n, m), []).append(float(v))
def med(n, m):
    v = vals.get((n, m))
    return statistics.median(v) if v else None
metrics = [("tcp1", "TCP, 1 stream, Mbit/s", "%.0f"), ("tcp4", "TCP, 4 streams, Mbit/s", "%.0f"),
           ("rtt", "ping RTT median, ms", "%.3f"),
           ("cpu1", "CPU s per GB, 1 stream", "%.2f"), ("cpu4", "CPU s per GB, 4 streams", "%.2f")]
cols = ["koden"] + [n for n in ("wggo", "openvpn") if n in names]
head = ["metric", "veth (no VPN)"] + [label[c] for c in cols] + ["%s / koden-vpn" % label[c] for c in cols if c != "koden"]
print("| " + " | ".join(head) + " |")
print("|---|" + "---:|" * (len(head) - 1))
for m, title, fmt in metrics:
    row = [title]
    v = med("veth", m)
    row.append(fmt % v if v is not None else "")
    k = med("koden", m)
    for c in cols:
        v = med(c, m)
        if c == "koden" and skipped:
            row.append(pend)
        elif c == "koden" and "koden" not in names:
            row.append("not run")
        else:
            row.append(fmt % v if v is not None else "n/a")
    for c in cols:
        if c == "koden":
            continue
        v = med(c, m)
        row.append("%.2f" % (v / k) if (v is not None and k) else pend if skipped else
                   "not run" if "koden" not in names else "n/a")
    print("| " + " | ".join(row) + " |")
retr = []
for c in ["veth"] + cols:
    for s in ("1", "4"):
        v = vals.get((c, "retr" + s))
        if v:
            retr.append("%s %s: %d" % (label[c], "1 stream" if s == "1" else "4 streams", statistics.median(v)))
print()
print("TCP retransmits (median per %s-s test): " % secs + "; ".join(retr) + ".")
EOF

{
	echo "Run $START with \`bench/vpn.sh --runs $RUNS --seconds $SECS\` in ${ELAPSED} s."
	echo
	echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r); load average $LOAD0 at the start, $LOAD1 at the end"
	for n in "${NAMES[@]}"; do
		[ "$n" = veth ] && continue
		echo "- ${VERSION[$n]}"
	done
	[ "$KODEN_SKIPPED" = 1 ] && echo "- koden-vpn: not built ($KODEN_VPN), so pending"
	[ "$KODEN_SKIPPED" = 2 ] && echo "- koden-vpn: built, but its tunnel did not come up in this run"
	[ -n "${CIPHER_SPEED:-}" ] && echo "- OpenVPN cipher chosen by \`openssl speed\` (1400-byte records, this run): $CIPHER_SPEED"
	echo "- medians of $RUNS runs of ${SECS} s (iperf3 $(iperf3 --version | awk 'NR == 1 { print $2 }'), receiver side); RTT: median of $PINGS pings 0.05 s apart"
	echo
	cat "$T/table"
} | tee "$T/report"

if [ "$RECORD" = 1 ]; then
	python3 - "$DOC" "$T/report" <<'EOF'
import sys
doc, report = sys.argv[1], open(sys.argv[2]).read()
s = open(doc).read()
begin, end = "<!-- bench/vpn.sh results: begin -->\n", "<!-- bench/vpn.sh results: end -->"
i, j = s.index(begin) + len(begin), s.index(end)
open(doc, "w").write(s[:i] + report + s[j:])
EOF
	say "results written to $DOC"
fi
