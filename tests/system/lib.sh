# Helpers for system tests: real koden processes on real files.
# Each check prints "ok - NAME" or "not ok - NAME" (counted by tests/run.sh).
set -u
# Hermetic: nothing the programs under test read from the environment comes
# from the caller's.  koden reads KODEN_PASSPHRASE, kodend-faulty KODEN_FAULT,
# koden-vpn KODEN_VPN_* and LOG_LEVEL and WG_PROCESS_FOREGROUND, wg(8) and
# wireguard-go WG_*; a test sets the one it needs on the command that needs
# it (KODEN_PASSPHRASE=... "$KODEN" ...).  KODEN and KODEN_VPN, the binaries
# under test, are kept.
for v in $(compgen -v KODEN_) LOG_LEVEL $(compgen -v WG_); do
	[ "$v" = KODEN_VPN ] || unset "$v"
done
unset v
KODEN=${KODEN:-$PWD/build/koden}
T=$(mktemp -d /tmp/koden-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
umask 077
failed=0

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; failed=1; }

# expect_exit CODE NAME CMD...: CMD exits with CODE; stderr kept in $T/err
expect_exit() {
	local want=$1 name=$2 got
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		ok "$name"
	else
		not_ok "$name (exit $got, wanted $want)"
		sed 's/^/#   /' "$T/err"
	fi
}

# expect_err PATTERN NAME: the last command's stderr matches PATTERN
expect_err() {
	if grep -Eq -- "$1" "$T/err"; then
		ok "$2"
	else
		not_ok "$2 (stderr lacks /$1/)"
		sed 's/^/#   /' "$T/err"
	fi
}

# expect_out PATTERN NAME: the last command's stdout matches PATTERN
expect_out() {
	if grep -Eq -- "$1" "$T/out"; then
		ok "$2"
	else
		not_ok "$2 (stdout lacks /$1/)"
		sed 's/^/#   /' "$T/out" | head -20
	fi
}

# keygen NAME: unencrypted key in $T/NAME.key, public key in $T/NAME.pub
keygen() {
	"$KODEN" keygen --no-passphrase --name "$1" -o "$T/$1.key" \
		>"$T/$1.pub" 2>/dev/null || { not_ok "keygen $1"; exit 1; }
}

# draft FILE [TO] [extra header lines...]: a valid drafted telegram
draft() {
	local f=$1 to=${2:-WASHINGTON}
	shift 2 2>/dev/null || shift $#
	{
		echo "FROM: TOKYO"
		echo "TO: $to"
		echo "PRECEDENCE: IMMEDIATE"
		echo "CLASSIFICATION: SECRET"
		echo "SUBJECT: Consultations on regional security"
		echo "DRAFTER: K. SATO"
		for l in "$@"; do echo "$l"; done
		echo
		echo "1. Summary. The consultations went well."
		echo
		echo "2. Details follow by separate telegram."
	} >"$f"
}
