#!/bin/sh
# Regenerate the seed corpora of fuzz/corpus/{envelope,keyfile,pubkey} with
# the built koden: sealed telegrams addressed to the fixed fuzz identity of
# fuzz/fuzz_key.h (so the fuzzer reaches unwrap and decrypt), key files and
# public keys.  The draft and tg_decode seeds are written by hand.
set -eu
cd "$(dirname "$0")/.."
KODEN=${KODEN:-build/koden}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077
# the fuzz identity, as a key file
b64=$(sed -n 's|^[[:space:]]*"\([A-Za-z0-9+/=]*\)\(\\n\)\{0,1\}"$|\1|p' fuzz/fuzz_key.h | tr -d '\n')
printf -- '-----BEGIN KODEN SECRET KEY-----\n%s\n-----END KODEN SECRET KEY-----\n' "$b64" >"$tmp/fuzz.key"
fpk=$("$KODEN" pubkey "$tmp/fuzz.key")
"$KODEN" keygen --no-passphrase --name TOKYO -o "$tmp/tokyo.key" >"$tmp/tokyo.pub" 2>/dev/null
"$KODEN" keygen --no-passphrase -o "$tmp/other.key" >"$tmp/other.pub" 2>/dev/null
mkdir -p fuzz/corpus/envelope fuzz/corpus/keyfile fuzz/corpus/pubkey
i=0
for d in fuzz/corpus/draft/*; do
	i=$((i + 1))
	"$KODEN" seal -i "$tmp/tokyo.key" -r "$fpk" -o "fuzz/corpus/envelope/seed$i" "$d" 2>/dev/null || continue
	"$KODEN" seal -i "$tmp/tokyo.key" -r "$fpk" -r "$(cat "$tmp/other.pub")" \
		-o "fuzz/corpus/envelope/seed$i-2" "$d" 2>/dev/null || true
done
cp "$tmp/tokyo.key" fuzz/corpus/keyfile/plain
rm -f fuzz/corpus/keyfile/encrypted
KODEN_PASSPHRASE=seed "$KODEN" keygen --name "K. SATO" -o fuzz/corpus/keyfile/encrypted >/dev/null
cp "$tmp/tokyo.pub" fuzz/corpus/pubkey/valid
printf '  %s  \n' "$(cat "$tmp/other.pub")" >fuzz/corpus/pubkey/blanks
chmod 644 fuzz/corpus/*/*
echo "seeds: $(ls fuzz/corpus/envelope | wc -l) envelopes, $(ls fuzz/corpus/keyfile | wc -l) key files, $(ls fuzz/corpus/pubkey | wc -l) public keys"
