#!/bin/sh
# Install the Debian packages koden needs, only those that are missing.
# Run as root (or with sudo available).  Idempotent and quiet when all present.
set -eu

PKGS="make gcc pkg-config libsodium-dev libb2-dev libcmocka-dev libjansson-dev libsqlite3-dev
clang libclang-rt-14-dev age gnupg hyperfine"

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
