#!/usr/bin/env bash
# koden-vpn in network namespaces (needs root): pairs of namespaces joined by
# a veth pair, configured with wg(8) and wg-quick(8) exactly as wireguard-go
# is.  Checks, each an "ok"/"not ok" line:
#   koden <-> koden, koden <-> wireguard-go, wireguard-go <-> koden: ping both
#   ways, a 2 s iperf3 run both ways (throughput printed);
#   a rekey during traffic (KODEN_VPN_TEST_REKEY_SECONDS, test-only);
#   roaming (one side's veth address changes, traffic recovers);
#   a peer with a wrong key gets nothing through;
#   `wg show` transfer counters and latest handshake;
#   wg-quick up/down with WG_QUICK_USERSPACE_IMPLEMENTATION=koden-vpn, and
#   the daemon leaving (socket removed) when its interface is deleted;
#   a hub with 250 peers from `wg setconf`, 3 active (RSS per peer printed).
# Namespaces are kvpn-*, UDP ports 51820-51899; everything is removed on exit.
. "$(dirname "$0")/lib.sh"

VPN=${KODEN_VPN:-${KODEN%/*}/koden-vpn}
S=$$
declare -a PIDS=() NSS=()
SOCKDIR=/var/run/wireguard

vpn_cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for n in "${NSS[@]}"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$n" 2>/dev/null
	done
	rm -f "$SOCKDIR"/kv*"$S"*.sock
	if [ -n "${KEEP:-}" ]; then echo "# KEEP: logs in $T"; else rm -rf "$T"; fi
}
trap vpn_cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	ok "koden-vpn system tests # SKIP needs root and ip netns"
	exit 0
fi
for need in wg wg-quick wireguard-go iperf3 ping; do
	if ! command -v "$need" >/dev/null; then
		not_ok "$need is not installed (scripts/install-deps.sh)"
		exit 1
	fi
done
[ -x "$VPN" ] || { not_ok "no koden-vpn at $VPN: run make tests"; exit 1; }
# a private copy: a concurrent make may relink the build directory
mkdir -p "$T/bin"
cp "$VPN" "$T/bin/koden-vpn"
VPN=$T/bin/koden-vpn

# wait_until SECONDS CMD...
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# mkns NAME: a namespace with lo up
mkns() {
	ip netns add "$1" || { not_ok "ip netns add $1"; exit 1; }
	NSS+=("$1")
	ip -n "$1" link set lo up
}

# link NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two namespaces
link() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" ||
		{ not_ok "veth $2-$5"; exit 1; }
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

# start IMPL NS IF [VAR=value...]: start koden-vpn or wireguard-go in the
# foreground (so the pid is ours), wait for its UAPI socket
start() {
	local impl=$1 ns=$2 ifc=$3
	shift 3
	case $impl in
	koden) ip netns exec "$ns" env "$@" "$VPN" -f "$ifc" \
		>"$T/$ifc.log" 2>&1 & ;;
	wggo) ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 "$@" \
		wireguard-go "$ifc" >"$T/$ifc.log" 2>&1 & ;;
	esac
	PIDS+=($!)
	LASTPID=$!
	wait_until 5 test -S "$SOCKDIR/$ifc.sock" ||
		{ not_ok "$impl $ifc did not start"; sed 's/^/#   /' "$T/$ifc.log"; }
}

# stop PID: SIGTERM and wait
stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# key NAME: $T/NAME.key and $T/NAME.pub
key() {
	wg genkey >"$T/$1.key"
	wg pubkey <"$T/$1.key" >"$T/$1.pub"
}

# ifup NS IF ADDR
ifup() {
	ip -n "$1" addr add "$3" dev "$2" && ip -n "$1" link set "$2" up
}

pings() { # NS DST: a few pings; ping succeeds if one is answered
	ip netns exec "$1" ping -q -c 5 -i 0.2 -W 2 "$2" >"$T/ping.out" 2>&1
}

# iperf NS_SERVER IP NS_CLIENT [-R]: prints Mbit/s at the receiver, or fails
iperf() {
	local srv=$1 ip=$2 cli=$3 r
	shift 3
	ip netns exec "$srv" iperf3 -s -1 -B "$ip" -p 5201 >/dev/null 2>&1 &
	local sp=$!
	sleep 0.3
	r=$(ip netns exec "$cli" timeout 15 iperf3 -c "$ip" -p 5201 -t 2 -f m "$@" \
		2>/dev/null | awk '/receiver/ { print $7 }')
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	[ -n "$r" ] && echo "$r"
}

# intact NS_SRV IP NS_CLI: $T/blob sent over TCP from NS_CLI to IP in
# NS_SRV arrives byte for byte (sha256): TSO splitting and GRO joining must
# not corrupt what TCP checksums no longer re-check
intact() {
	ip netns exec "$1" timeout 20 python3 -c '
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5202))
s.listen(1)
c, _ = s.accept()
h = hashlib.sha256()
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    h.update(b)
print(h.hexdigest())' "$2" >"$T/recv.sum" 2>&1 &
	local sp=$!
	wait_until 10 eval "ip netns exec '$1' ss -Hltn 'sport = :5202' | grep -q ."
	ip netns exec "$3" timeout 20 bash -c "cat '$T/blob' >/dev/tcp/$2/5202"
	wait "$sp"
	[ "$(cat "$T/recv.sum")" = "$(sha256sum <"$T/blob" | cut -d' ' -f1)" ]
}

# transfer NS IF: "rx tx" of the single peer
transfer() {
	ip netns exec "$1" wg show "$2" transfer | awk '{ print $2, $3; exit }'
}

head -c $((16 << 20)) /dev/urandom >"$T/blob"
NA=kvpn-a$S
NB=kvpn-b$S
mkns "$NA"
mkns "$NB"
link "$NA" kva$S 192.168.241.1/24 "$NB" kvb$S 192.168.241.2/24

# pair IMPL_A IMPL_B NAME [VAR=value for A]: two VPN ends, 10.77.0.1 <-> .2
pair() {
	local ia=$1 ib=$2 name=$3
	shift 3
	IFA=kx${S}a IFB=kx${S}b
	key ka
	key kb
	start "$ia" "$NA" "$IFA" "$@"
	PA=$LASTPID
	start "$ib" "$NB" "$IFB"
	PB=$LASTPID
	ip netns exec "$NA" wg set "$IFA" private-key "$T/ka.key" \
		listen-port 51820 peer "$(cat "$T/kb.pub")" \
		endpoint 192.168.241.2:51821 allowed-ips 10.77.0.2/32,fd77::2/128
	ip netns exec "$NB" wg set "$IFB" private-key "$T/kb.key" \
		listen-port 51821 peer "$(cat "$T/ka.pub")" \
		endpoint 192.168.241.1:51820 allowed-ips 10.77.0.1/32,fd77::1/128
	ifup "$NA" "$IFA" 10.77.0.1/24
	ifup "$NB" "$IFB" 10.77.0.2/24
	ip -n "$NA" addr add fd77::1/64 dev "$IFA" nodad
	ip -n "$NB" addr add fd77::2/64 dev "$IFB" nodad
	if pings "$NA" 10.77.0.2; then ok "$name: ping A -> B"; else
		not_ok "$name: ping A -> B"; sed 's/^/#   /' "$T/ping.out"; fi
	if pings "$NB" 10.77.0.1; then ok "$name: ping B -> A"; else
		not_ok "$name: ping B -> A"; fi
	if pings "$NA" fd77::2; then ok "$name: ping6 A -> B"; else
		not_ok "$name: ping6 A -> B"; fi
	local up down
	up=$(iperf "$NB" 10.77.0.2 "$NA")
	down=$(iperf "$NB" 10.77.0.2 "$NA" -R)
	if [ -n "$up" ] && [ -n "$down" ]; then
		ok "$name: iperf3 A->B $up Mbit/s, B->A $down Mbit/s"
	else
		not_ok "$name: iperf3 (A->B '${up}', B->A '${down}')"
	fi
	if intact "$NB" 10.77.0.2 "$NA" && intact "$NA" 10.77.0.1 "$NB"; then
		ok "$name: 16 MiB cross intact both ways (sha256)"
	else
		not_ok "$name: data corrupted or lost in transit"
	fi
	local ta tb hs
	ta=$(transfer "$NA" "$IFA")
	tb=$(transfer "$NB" "$IFB")
	hs=$(ip netns exec "$NA" wg show "$IFA" latest-handshakes | awk '{print $2}')
	if [ "${ta%% *}" -gt 0 ] && [ "${ta##* }" -gt 0 ] &&
		[ "${tb%% *}" -gt 0 ] && [ "${tb##* }" -gt 0 ] &&
		[ "${hs:-0}" -gt 0 ]; then
		ok "$name: wg show transfer A ($ta) B ($tb), latest handshake set"
	else
		not_ok "$name: wg show transfer A ($ta) B ($tb) handshake '$hs'"
	fi
}

unpair() {
	stop "$PA"
	stop "$PB"
	if [ ! -e "$SOCKDIR/$IFA.sock" ]; then ok "$1: UAPI socket removed at exit"
	else not_ok "$1: $SOCKDIR/$IFA.sock left behind"; fi
}

# ---- koden <-> koden, with a replayed handshake, roaming and a wrong key ----
# capture A's first handshake initiation on B's side of the veth (the UDP
# payload: type 1, 148 bytes), to replay it once the session is up
ip netns exec "$NB" timeout 20 python3 - "kvb$S" "$T/init.bin" <<'PY' &
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((sys.argv[1], 0))
while True:
    f = s.recv(65535)
    ip = f[14:]
    if len(ip) < 20 or ip[9] != 17:
        continue
    udp = ip[(ip[0] & 15) * 4:]
    if struct.unpack("!H", udp[2:4])[0] == 51821 and len(udp) == 8 + 148 and udp[8] == 1:
        open(sys.argv[2], "wb").write(udp[8:])
        break
PY
SNIFF=$!
sleep 0.5
pair koden koden "koden-koden"
wait "$SNIFF"
if [ -s "$T/init.bin" ]; then
	hs0=$(ip netns exec "$NB" wg show "$IFB" latest-handshakes | cut -f2)
	ip netns exec "$NA" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(open(sys.argv[1], "rb").read(), ("192.168.241.2", 51821))' "$T/init.bin"
	sleep 0.5
	hs1=$(ip netns exec "$NB" wg show "$IFB" latest-handshakes | cut -f2)
	if grep -q 'replayed handshake initiation' "$T/$IFB.log" && [ "$hs0" = "$hs1" ] &&
		pings "$NA" 10.77.0.2; then
		ok "koden-koden: a replayed initiation is refused (timestamp), the session goes on"
	else
		not_ok "koden-koden: replayed initiation (handshake $hs0 -> $hs1)"
		grep -i 'replay\|reject' "$T/$IFB.log" | sed 's/^/#   /'
	fi
else
	not_ok "koden-koden: no handshake initiation captured on the veth"
fi
# privileges once set up: CAP_NET_ADMIN and CAP_NET_BIND_SERVICE only
# (bits 12 and 10), no new privileges, a seccomp filter
st=$(grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/"$PA"/status | tr -s '\t ' ' ')
if echo "$st" | grep -q 'CapEff: 0000000000001400' &&
	echo "$st" | grep -q 'CapBnd: 0000000000001400' &&
	echo "$st" | grep -q 'NoNewPrivs: 1' && echo "$st" | grep -q 'Seccomp: 2'; then
	ok "koden-vpn dropped privileges (CapEff 0x1400, no_new_privs, seccomp)"
else
	not_ok "koden-vpn privileges: $st"
fi
if grep -q 'landlock: \|seccomp filter: \|could not drop' "$T/$IFA.log"; then
	not_ok "koden-vpn sandbox: $(grep 'landlock\|seccomp\|could not' "$T/$IFA.log")"
else
	ok "koden-vpn sandbox: $(grep -o 'landlock ruleset in force.*' "$T/$IFA.log" ||
		echo 'no landlock in this kernel')"
fi
hsb=$(grep -c 'handshake completed' "$T/$IFA.log")
# roaming: A's address changes; B learns it from A's authenticated packets
ip -n "$NA" addr del 192.168.241.1/24 dev kva$S
ip -n "$NA" addr add 192.168.241.3/24 dev kva$S
if pings "$NA" 10.77.0.2 &&
	ip netns exec "$NB" wg show "$IFB" endpoints | grep -q '192.168.241.3:51820'; then
	ok "koden-koden: roaming, B follows A to 192.168.241.3"
else
	not_ok "koden-koden: roaming"
	ip netns exec "$NB" wg show "$IFB" endpoints | sed 's/^/#   /'
fi
if pings "$NB" 10.77.0.1; then ok "koden-koden: B -> A after roaming"
else not_ok "koden-koden: B -> A after roaming"; fi
# a wrong key: A takes another identity; B knows only the old one
key kwrong
ip netns exec "$NA" wg set "$IFA" private-key "$T/kwrong.key"
sleep 0.2	# whatever was in flight with the old key has arrived
rx0=$(transfer "$NB" "$IFB")
if ip netns exec "$NA" ping -q -c 3 -i 0.3 -W 1 10.77.0.2 >/dev/null 2>&1; then
	not_ok "koden-koden: a peer with a wrong key got through"
else
	rx1=$(transfer "$NB" "$IFB")
	if [ "${rx0%% *}" = "${rx1%% *}" ] &&
		grep -q 'unknown key' "$T/$IFB.log"; then
		ok "koden-koden: wrong key gets nothing through (rx stays ${rx1%% *})"
	else
		not_ok "koden-koden: wrong key: rx $rx0 -> $rx1"
	fi
fi
ip netns exec "$NA" wg set "$IFA" private-key "$T/ka.key"
if pings "$NA" 10.77.0.2; then ok "koden-koden: right key again works"
else not_ok "koden-koden: right key again"; fi
unpair "koden-koden"
ip -n "$NA" addr del 192.168.241.3/24 dev kva$S
ip -n "$NA" addr add 192.168.241.1/24 dev kva$S

# ---- koden (initiator, rekeying every 2 s) <-> wireguard-go ----
pair koden wggo "koden-wggo" KODEN_VPN_TEST_REKEY_SECONDS=2
n0=$(grep -c 'handshake completed (initiator)' "$T/$IFA.log")
ip netns exec "$NA" ping -q -c 25 -i 0.2 -W 1 10.77.0.2 >"$T/ping.out" 2>&1
n1=$(grep -c 'handshake completed (initiator)' "$T/$IFA.log")
recv=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$T/ping.out")
if [ "$n1" -gt "$n0" ] && [ "${recv:-0}" -ge 23 ]; then
	ok "koden-wggo: rekeyed $((n1 - n0)) times during 5 s of pings, $recv/25 answered"
else
	not_ok "koden-wggo: rekey during traffic ($n0 -> $n1 handshakes, $recv/25)"
fi
unpair "koden-wggo"

# ---- wireguard-go <-> koden ----
pair wggo koden "wggo-koden"
stop "$PA"
stop "$PB"

# ---- cookies: koden under load answers wireguard-go with a cookie reply;
# wireguard-go's retry carries MAC2 and is accepted ----
key kc
key kd
start wggo "$NA" kc${S}a
PC=$LASTPID
start koden "$NB" kc${S}b KODEN_VPN_TEST_UNDER_LOAD=1
PD=$LASTPID
ip netns exec "$NA" wg set kc${S}a private-key "$T/kc.key" listen-port 51822 \
	peer "$(cat "$T/kd.pub")" endpoint 192.168.241.2:51823 allowed-ips 10.76.0.2/32
ip netns exec "$NB" wg set kc${S}b private-key "$T/kd.key" listen-port 51823 \
	peer "$(cat "$T/kc.pub")" allowed-ips 10.76.0.1/32
ifup "$NA" kc${S}a 10.76.0.1/24
ifup "$NB" kc${S}b 10.76.0.2/24
# the first initiation gets a cookie reply, the retry (REKEY_TIMEOUT = 5 s
# later) carries MAC2
if ip netns exec "$NA" ping -q -c 1 -W 9 10.76.0.2 >/dev/null 2>&1 &&
	pings "$NA" 10.76.0.2 && grep -q 'cookie reply sent' "$T/kc${S}b.log"; then
	ok "cookie: wireguard-go's MAC2 retry accepted by koden-vpn under load"
else
	not_ok "cookie: wireguard-go -> koden-vpn under load"
	sed 's/^/#   /' "$T/kc${S}b.log" | tail -5
fi
stop "$PC"
stop "$PD"

# ---- wg-quick with koden-vpn ----
QIF=kvq$S
key kq
key kr
start koden "$NB" kvr$S
PR=$LASTPID
ip netns exec "$NB" wg set kvr$S private-key "$T/kr.key" listen-port 51831 \
	peer "$(cat "$T/kq.pub")" allowed-ips 10.78.0.1/32
ifup "$NB" kvr$S 10.78.0.2/24
cat >"$T/$QIF.conf" <<EOF
[Interface]
PrivateKey = $(cat "$T/kq.key")
Address = 10.78.0.1/24
ListenPort = 51830

[Peer]
PublicKey = $(cat "$T/kr.pub")
Endpoint = 192.168.241.2:51831
AllowedIPs = 10.78.0.2/32
PersistentKeepalive = 25
EOF
chmod 600 "$T/$QIF.conf"
if ip netns exec "$NA" env WG_QUICK_USERSPACE_IMPLEMENTATION="$VPN" \
	wg-quick up "$T/$QIF.conf" >"$T/wgquick.log" 2>&1 &&
	pings "$NA" 10.78.0.2; then
	ok "wg-quick up with koden-vpn, ping through it"
else
	not_ok "wg-quick up with koden-vpn"
	sed 's/^/#   /' "$T/wgquick.log"
fi
qpid=$(ip netns pids "$NA" | head -1)
ip netns exec "$NA" wg-quick down "$T/$QIF.conf" >>"$T/wgquick.log" 2>&1
if wait_until 5 test ! -e "$SOCKDIR/$QIF.sock" &&
	{ [ -z "$qpid" ] || wait_until 5 bash -c "! kill -0 $qpid"; }; then
	ok "wg-quick down: interface deleted, koden-vpn exited, socket removed"
else
	not_ok "wg-quick down: koden-vpn still there"
	[ -n "$qpid" ] && kill -KILL "$qpid" 2>/dev/null
fi
stop "$PR"

# ---- hub: 250 peers from wg setconf, 3 active ----
NH=kvpn-h$S
mkns "$NH"
HIF=kvh$S
key hub
start koden "$NH" "$HIF"
PH=$LASTPID
rss0=$(awk '/VmRSS/ { print $2 }' /proc/"$PH"/status)
{
	echo "[Interface]"
	echo "PrivateKey = $(cat "$T/hub.key")"
	echo "ListenPort = 51850"
	for i in 1 2 3; do
		key sp$i
		echo
		echo "[Peer]"
		echo "PublicKey = $(cat "$T/sp$i.pub")"
		echo "AllowedIPs = 10.80.0.$((10 + i))/32"
	done
	for i in $(seq 4 250); do
		echo
		echo "[Peer]"
		echo "PublicKey = $(head -c 32 /dev/urandom | base64)"
		echo "AllowedIPs = 10.81.$((i / 200)).$((i % 200))/32, fd81::$i/128"
		echo "Endpoint = 192.0.2.$((i % 250 + 1)):$((40000 + i))"
	done
} >"$T/hub.conf"
ip netns exec "$NH" wg setconf "$HIF" "$T/hub.conf"
ifup "$NH" "$HIF" 10.80.0.1/24
for i in 1 2 3; do
	ns=kvpn-s$i$S
	mkns "$ns"
	link "$NH" kh$i$S 192.168.$((250 + i)).1/24 "$ns" ks$i$S 192.168.$((250 + i)).2/24
	start koden "$ns" kvs$i$S
	ip netns exec "$ns" wg set kvs$i$S private-key "$T/sp$i.key" \
		listen-port $((51850 + i)) peer "$(cat "$T/hub.pub")" \
		endpoint 192.168.$((250 + i)).1:51850 allowed-ips 10.80.0.1/32
	ifup "$ns" kvs$i$S 10.80.0.$((10 + i))/24
done
good=0
for i in 1 2 3; do
	pings kvpn-s$i$S 10.80.0.1 && good=$((good + 1))
done
npeers=$(ip netns exec "$NH" wg show "$HIF" peers | wc -l)
nhs=$(ip netns exec "$NH" wg show "$HIF" latest-handshakes | awk '$2 > 0' | wc -l)
rss1=$(awk '/VmRSS/ { print $2 }' /proc/"$PH"/status)
if [ "$good" = 3 ] && [ "$npeers" = 250 ] && [ "$nhs" = 3 ]; then
	ok "hub: 250 peers configured, 3 active spokes reach it"
else
	not_ok "hub: $good/3 spokes, $npeers peers, $nhs handshakes"
fi
echo "# hub RSS: ${rss0} KiB before, ${rss1} KiB with 250 peers:" \
	"$(((rss1 - rss0) * 1024 / 250)) bytes per configured peer"
if ip netns exec "$NH" wg showconf "$HIF" | grep -c '^\[Peer\]' | grep -qx 250; then
	ok "hub: wg showconf round-trips 250 peers"
else
	not_ok "hub: wg showconf"
fi

# UAPI set semantics, as wireguard-go: addconf adds, remove removes, set
# replaces a peer's allowed IPs, setconf replaces all peers, a listen-port
# change rebinds
npeers() { ip netns exec "$NH" wg show "$HIF" peers | wc -l; }
extra=$(head -c 32 /dev/urandom | base64)
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.82.0.1/32\n' "$extra" >"$T/add.conf"
ip netns exec "$NH" wg addconf "$HIF" "$T/add.conf"
n1=$(npeers)
ip netns exec "$NH" wg set "$HIF" peer "$extra" allowed-ips 10.82.0.2/32,fd82::2/128
al=$(ip netns exec "$NH" wg show "$HIF" allowed-ips | grep -F "$extra" | cut -f2)
ip netns exec "$NH" wg set "$HIF" peer "$extra" remove
n2=$(npeers)
ip netns exec "$NH" wg set "$HIF" listen-port 51860
port=$(ip netns exec "$NH" wg show "$HIF" listen-port)
bound=$(ip netns exec "$NH" ss -Hlun | grep -c ':51860 ')
old=$(ip netns exec "$NH" ss -Hlun | grep -c ':51850 ')
head -7 "$T/hub.conf" >"$T/small.conf"	# interface + spoke 1
sed -i 's/^ListenPort = 51850/ListenPort = 51860/' "$T/small.conf"
ip netns exec "$NH" wg setconf "$HIF" "$T/small.conf"
n3=$(npeers)
if [ "$n1" = 251 ] && [ "$al" = "10.82.0.2/32 fd82::2/128" ] && [ "$n2" = 250 ] &&
	[ "$port" = 51860 ] && [ "$bound" = 1 ] && [ "$old" = 0 ] && [ "$n3" = 1 ]; then
	ok "hub: addconf, set allowed-ips, remove, listen-port rebind, setconf replace"
else
	not_ok "hub: UAPI set semantics (peers $n1/$n2/$n3, allowed '$al', port $port bound $bound old $old)"
fi
# syncconf: wg diffs the running config against the file (get=1), then
# sends only the changes (set=1 without replace_peers): back to 250 peers
ip netns exec "$NH" wg syncconf "$HIF" "$T/hub.conf"
n4=$(npeers)
port=$(ip netns exec "$NH" wg show "$HIF" listen-port)
if [ "$n4" = 250 ] && [ "$port" = 51850 ]; then
	ok "hub: syncconf back to the 250-peer configuration"
else
	not_ok "hub: syncconf (peers $n4, port $port)"
fi
exit 0
