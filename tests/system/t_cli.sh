#!/usr/bin/env bash
# The koden CLI end to end: keygen, pubkey, seal, open, inspect, with real
# files and processes, and every error a person can run into.
. "$(dirname "$0")/lib.sh"

# flip BIT-OFFSET FILE: flip one bit in place
flip() {
	local byte=$(($1 / 8)) bit=$(($1 % 8)) v
	v=$(od -An -tu1 -j "$byte" -N1 "$2" | tr -d ' ')
	printf "\\$(printf '%03o' $((v ^ (1 << bit))))" |
		dd of="$2" bs=1 seek="$byte" conv=notrunc status=none
}

# --- keys ---------------------------------------------------------------
keygen TOKYO
keygen WASHINGTON
keygen BEIJING
keygen GENEVA
mode=$(stat -c %a "$T/TOKYO.key")
[ "$mode" = 600 ] && ok "keygen writes the key file with mode 0600" ||
	not_ok "keygen key file mode is $mode"
grep -Eq '^kodenpub1[A-Za-z0-9_-]{91}$' "$T/TOKYO.pub" &&
	ok "keygen prints a kodenpub1 public key" || not_ok "keygen output: $(cat "$T/TOKYO.pub")"
expect_exit 1 "keygen refuses to overwrite a key file" \
	"$KODEN" keygen --no-passphrase -o "$T/TOKYO.key"
expect_err "already exists" "overwrite refusal says why"
expect_exit 0 "pubkey prints the key again" "$KODEN" pubkey "$T/TOKYO.key"
cmp -s "$T/out" "$T/TOKYO.pub" && ok "pubkey matches keygen's output" ||
	not_ok "pubkey differs from keygen's output"
cp "$T/TOKYO.key" "$T/loose.key" && chmod 644 "$T/loose.key"
expect_exit 3 "a group/world-readable key file is refused" "$KODEN" pubkey "$T/loose.key"
expect_err "chmod 600" "the refusal says how to fix it"

KODEN_PASSPHRASE='correct horse battery staple' \
	"$KODEN" keygen --name "K. SATO" -o "$T/sato.key" >"$T/sato.pub" 2>/dev/null
grep -q "BEGIN KODEN SECRET KEY" "$T/sato.key" && ! grep -q "K. SATO" <(base64 -d <(sed -n '/BEGIN/,/END/p' "$T/sato.key" | sed '1d;$d') 2>/dev/null) &&
	ok "passphrase-protected key file hides the secret" || not_ok "key file content"
KODEN_PASSPHRASE='correct horse battery staple' expect_exit 0 \
	"pubkey unlocks with the right passphrase" "$KODEN" pubkey "$T/sato.key"
cmp -s "$T/out" "$T/sato.pub" && ok "unlocked key matches" || not_ok "unlocked key differs"
KODEN_PASSPHRASE='wrong' expect_exit 3 "a wrong passphrase is refused" \
	"$KODEN" pubkey "$T/sato.key"
expect_err "wrong passphrase" "the refusal says the passphrase is wrong"
echo 'correct horse battery staple' >"$T/pass" && chmod 600 "$T/pass"
expect_exit 0 "--passphrase-file works" "$KODEN" pubkey --passphrase-file "$T/pass" "$T/sato.key"
chmod 644 "$T/pass"
expect_exit 3 "a readable passphrase file is refused" \
	"$KODEN" pubkey --passphrase-file "$T/pass" "$T/sato.key"
expect_exit 3 "no passphrase source and no terminal is a clear error" \
	setsid "$KODEN" pubkey "$T/sato.key" </dev/null
expect_err "KODEN_PASSPHRASE" "the error names the ways to give a passphrase"

# --- seal, open ---------------------------------------------------------
draft "$T/d1" WASHINGTON "INFO: BEIJING, GENEVA" "TAGS: PREL, JA, US"
W=$(cat "$T/WASHINGTON.pub"); B=$(cat "$T/BEIJING.pub"); G=$(cat "$T/GENEVA.pub")
expect_exit 0 "seal to three posts" "$KODEN" seal -i "$T/sato.key" \
	--passphrase-file <(echo 'correct horse battery staple') --origin-key "$T/TOKYO.key" \
	-r "$W" -r "$B" -r "$G" -o "$T/s1" "$T/d1"
expect_err "sealed telegram [0-9a-f]{32}" "seal reports the telegram id"
for p in WASHINGTON BEIJING GENEVA; do
	expect_exit 0 "$p opens the telegram" "$KODEN" open -i "$T/$p.key" "$T/s1"
	expect_out "^1\. Summary\. The consultations went well\.$" "$p sees paragraph 1"
done
expect_out "^FM TOKYO$" "rendered telegram has FM line"
expect_out "^TO WASHINGTON$" "rendered telegram has TO line"
expect_out "^INFO BEIJING, GENEVA$" "rendered telegram has INFO line"
expect_out "S E C R E T" "rendered telegram has the classification line"
expect_err "drafted by K. SATO, key $(cat "$T/sato.pub")" "open names the drafter and their key"
expect_err "origin post key $(cat "$T/TOKYO.pub")" "open names the origin post key"
expect_exit 4 "a non-recipient cannot open" "$KODEN" open -i "$T/TOKYO.key" "$T/s1"
expect_err "not addressed to this key" "non-recipient error says so"
expect_exit 0 "open -o writes the plaintext" "$KODEN" open -i "$T/GENEVA.key" -o "$T/plain" "$T/s1"
[ "$(stat -c %a "$T/plain")" = 600 ] && ok "opened plaintext file is mode 0600" ||
	not_ok "plaintext mode $(stat -c %a "$T/plain")"
expect_exit 0 "open from stdin" sh -c "'$KODEN' open -i '$T/WASHINGTON.key' - <'$T/s1'"
expect_exit 0 "open accepts a trusted signer" \
	"$KODEN" open -i "$T/WASHINGTON.key" -s "$(cat "$T/sato.pub")" "$T/s1"
expect_exit 5 "open refuses a drafter outside the trusted signers" \
	"$KODEN" open -i "$T/WASHINGTON.key" -s "$W" "$T/s1"
expect_err "not among the trusted signers" "untrusted signer error says so"

# --- inspect ------------------------------------------------------------
expect_exit 0 "inspect needs no key" "$KODEN" inspect "$T/s1"
expect_out "^from +TOKYO$" "inspect shows the origin"
expect_out "^to +WASHINGTON$" "inspect shows action addressees"
expect_out "^info +BEIJING, GENEVA$" "inspect shows info addressees"
expect_out "^recipients +3 key wraps$" "inspect shows the recipient count"
expect_out "^origin sig +good$" "inspect verifies the origin signature"
expect_out "^precedence +IMMEDIATE$" "inspect shows the precedence"
if grep -q "consultations" "$T/out" || grep -aq "consultations" "$T/s1"; then
	not_ok "plaintext visible without a key"
else
	ok "no plaintext in the sealed telegram or inspect output"
fi

# --- hostile input --------------------------------------------------------
cp "$T/s1" "$T/s2" && flip 4000 "$T/s2"
expect_exit 5 "a flipped bit in the ciphertext is rejected" "$KODEN" open -i "$T/GENEVA.key" "$T/s2"
expect_err "altered|tampered" "tamper error says so"
expect_exit 5 "inspect flags the tampered telegram" "$KODEN" inspect "$T/s2"
expect_out "^origin sig +BAD$" "inspect shows BAD"
head -c 700 "$T/s1" >"$T/s3"
expect_exit 6 "a truncated telegram is rejected" "$KODEN" open -i "$T/GENEVA.key" "$T/s3"
expect_err "truncated" "truncation error says so"
head -c 3000 /dev/urandom >"$T/s4"
expect_exit 6 "garbage is rejected" "$KODEN" open -i "$T/GENEVA.key" "$T/s4"
expect_err "not a sealed koden telegram" "garbage error says so"
cp "$T/s1" "$T/s5" && printf '\x07' | dd of="$T/s5" bs=1 seek=4 conv=notrunc status=none
expect_exit 6 "an unknown format version is rejected" "$KODEN" open -i "$T/GENEVA.key" "$T/s5"
expect_err "version 7 is not supported" "version error names the version"
: >"$T/empty"
expect_exit 6 "an empty file is rejected" "$KODEN" open -i "$T/GENEVA.key" "$T/empty"

# --- drafts and recipients ---------------------------------------------------
draft "$T/d2" WASHINGTON "PRECEDENCE: URGENT"
expect_exit 6 "a draft with a duplicate field is refused" "$KODEN" seal -i "$T/TOKYO.key" -r "$W" -o "$T/x" "$T/d2"
expect_err "line 7: duplicate field PRECEDENCE \\(first on line 3\\)" "the draft error names the line and field"
printf 'FROM: TOKYO\nTO: WASHINGTON\nPRECEDENCE: URGENT\nCLASSIFICATION: SECRET\nSUBJECT: x\nDRAFTER: K. SATO\n\n1. x\n' >"$T/d3"
expect_exit 6 "an unknown precedence is refused" "$KODEN" seal -i "$T/TOKYO.key" -r "$W" -o "$T/x" "$T/d3"
expect_err "line 3.*PRECEDENCE" "the error names line and field"
[ ! -e "$T/x" ] && ok "nothing is written for a refused draft" || not_ok "output written for a refused draft"
# change the 30th character (inside the key, so only the checksum can catch it)
c=${W:29:1}; [ "$c" = A ] && r=B || r=A
bad="${W:0:29}$r${W:30}"
expect_exit 6 "a mistyped public key is rejected" "$KODEN" seal -i "$T/TOKYO.key" -r "$bad" -o "$T/x" "$T/d1"
expect_err "checksum" "the error says the checksum does not match"
expect_exit 2 "seal without recipients is a usage error" "$KODEN" seal -i "$T/TOKYO.key" -o "$T/x" "$T/d1"
printf '# posts\n%s WASHINGTON\n\n%s BEIJING\n%s WASHINGTON again\n' "$W" "$B" "$W" >"$T/rcpts"
expect_exit 0 "seal with a recipients file" "$KODEN" seal -i "$T/TOKYO.key" -R "$T/rcpts" -o "$T/s6" "$T/d1"
"$KODEN" inspect "$T/s6" >"$T/out" 2>&1
expect_out "^recipients +2 key wraps$" "duplicate recipients are wrapped once"
printf '%s\nnot-a-key\n' "$W" >"$T/badrcpts"
expect_exit 6 "a bad line in a recipients file is rejected" "$KODEN" seal -i "$T/TOKYO.key" -R "$T/badrcpts" -o "$T/x" "$T/d1"
expect_err "badrcpts:2" "the error names file and line"

# 250 recipients: every post of the ministry
: >"$T/all"
for i in $(seq 1 250); do
	"$KODEN" keygen --no-passphrase -o "$T/p$i.key" >>"$T/all" 2>/dev/null
done
expect_exit 0 "seal to 250 recipients" "$KODEN" seal -i "$T/TOKYO.key" -R "$T/all" -o "$T/s250" "$T/d1"
for i in 1 125 250; do
	expect_exit 0 "recipient $i of 250 opens" "$KODEN" open -i "$T/p$i.key" "$T/s250"
done

# --- help and usage -------------------------------------------------------
for v in keygen pubkey seal open inspect; do
	expect_exit 0 "koden $v --help" "$KODEN" $v --help
	expect_out "usage: koden $v" "koden $v --help shows usage"
done
expect_exit 2 "an unknown command is a usage error" "$KODEN" frobnicate
exit $failed
