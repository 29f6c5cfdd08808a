#!/bin/sh
# Install the Debian packages koden needs, only those that are missing.
# Run as root (or with sudo available).  Idempotent and quiet when all present.
set -eu

# sqlite3 and jq: the system tests read and tamper with SQLite files and
# check --json output.  The last line is the VPN's (issue 4): wg(8) drives
# koden-vpn's UAPI socket in tests; wireguard-go and iperf3 for the tests and
# bench/vpn.sh (which installs openvpn itself, on demand); iproute2 for the
# network namespaces, ping for the tunnel tests.
PKGS="make gcc pkg-config libsodium-dev libb2-dev libcmocka-dev libjansson-dev libsqlite3-dev
clang libclang-rt-14-dev age gnupg hyperfine python3 sqlite3 jq
wireguard-tools wireguard-go iperf3 iproute2 iputils-ping"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "installing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
