#!/usr/bin/env bash
# scripts/depcheck.py: the dependency direction of src/ (docs/architecture.md).
# The real tree obeys it; a back-arrow, an include of a higher folder, a
# circle between files and an internal header used outside its folder are
# each caught and named, in a small planted tree and in a copy of the real one.
. "$(dirname "$0")/lib.sh"
B=${B:-build}
DEPCHECK="python3 $PWD/scripts/depcheck.py"
CC=${CC:-cc}

if ! ls "$B"/src/node/*.o >/dev/null 2>&1; then
	not_ok "no objects in $B/src: build first (make tests)"
	exit 1
fi

expect_exit 0 "the real tree obeys the dependency direction" \
	$DEPCHECK --src src --obj "$B/src"
expect_out "obeys" "depcheck says so"

# plant FILE TEXT: a source file of the planted tree $T/p/src
plant() {
	mkdir -p "$(dirname "$T/p/src/$1")"
	printf '%s\n' "$2" >"$T/p/src/$1"
}
# build: compile every .c of the planted tree into $T/p/obj
build() {
	local f o
	rm -rf "$T/p/obj"
	for f in $(cd "$T/p/src" && find . -name '*.c'); do
		o="$T/p/obj/${f%.c}.o"
		mkdir -p "$(dirname "$o")"
		"$CC" -c -I"$T/p/src" -o "$o" "$T/p/src/$f" || return 1
	done
}
planted() {
	$DEPCHECK --src "$T/p/src" --obj "$T/p/obj"
}

# a clean two-floor tree first: node calls lib
plant lib/buf.c 'int lib_put(int x) { return x + 1; }'
plant lib/buf.h 'int lib_put(int x);'
plant node/loop.c '#include "lib/buf.h"
int node_turn(int x) { return lib_put(x); }'
build || not_ok "the planted tree compiles"
expect_exit 0 "a tree where node calls lib passes" planted

# a call down the wrong way: lib calls node
plant lib/bad.c 'int node_turn(int x);
int lib_bad(int x) { return node_turn(x); }'
build
expect_exit 1 "lib calling node fails" planted
expect_err "back-arrow lib -> node: src/lib/bad.c uses node_turn of src/node/loop.c" \
	"the back-arrow is named with both files and the symbol"
rm "$T/p/src/lib/bad.c"

# an include of a higher floor, without any call
plant store/kv.c '#include "node/loop.h"
int store_x;'
plant node/loop.h '/* nothing */'
build
expect_exit 1 "store including a node header fails" planted
expect_err "src/store/kv.c:1: back-arrow store -> node \(includes node/loop.h\)" \
	"the include is named with its file and line"
rm "$T/p/src/store/kv.c"

# vpn may use lib and crypto only
plant telegram/tg.c 'int tg_parse(int x) { return x; }'
plant vpn/wg.c 'int tg_parse(int x);
int wg_x(int x) { return tg_parse(x); }'
build
expect_exit 1 "vpn calling telegram fails" planted
expect_err "back-arrow vpn -> telegram: src/vpn/wg.c uses tg_parse" \
	"vpn's arrow to telegram is named"
rm -r "$T/p/src/vpn" "$T/p/src/telegram"

# a circle between two files of one folder
plant node/a.c 'int node_b(int x);
int node_a(int x) { return x ? node_b(x - 1) : 0; }'
plant node/b.c 'int node_a(int x);
int node_b(int x) { return x ? node_a(x - 1) : 1; }'
build
expect_exit 1 "two files that call each other fail" planted
expect_err "cycle src/node/a.c -> src/node/b.c -> src/node/a.c" \
	"the circle is named, file by file"

# a longer circle: a -> b -> c -> a, with b no longer calling a
plant node/b.c 'int node_c(int x);
int node_b(int x) { return node_c(x); }'
plant node/c.c 'int node_a(int x);
int node_c(int x) { return x ? node_a(x - 1) : 2; }'
build
expect_exit 1 "a circle through three files fails" planted
expect_err "cycle src/node/a.c -> src/node/b.c -> src/node/c.c -> src/node/a.c" \
	"the three-file circle is named"

# a registered callback is no edge: c hands a static function down to a
plant node/a.c 'int node_a(int (*up)(int), int x) { return x ? up(x - 1) : 0; }'
plant node/b.c 'int node_b(int x) { return x; }'
plant node/c.c 'int node_a(int (*up)(int), int x);
static int up(int x) { return node_a(up, x); }
int node_c(int x) { return up(x); }'
build
expect_exit 0 "a static callback handed down is not a circle" planted

# an internal header outside its folder
plant node/node_int.h '/* node only */'
plant cli/main.c '#include "node/node_int.h"
int main(void) { return 0; }'
build
expect_exit 1 "cli including node's internal header fails" planted
expect_err "src/cli/main.c:1: includes node/node_int.h, internal to node/" \
	"the internal header is named"

# the real tree with one planted back-arrow: the audit log loading kodend's
# configuration to learn the node's name, as auditlog.c once did
mkdir -p "$T/real"
cp -r src "$T/real/src"
cp -r "$B/src" "$T/real/obj"
printf '%s\n' '#include "node/config.h"' \
	'int audit_planted(struct config *c) { return config_load(c, ".", 0); }' \
	>"$T/real/src/audit/planted.c"
"$CC" -c -std=c11 -Isrc $(pkg-config --cflags libsodium 2>/dev/null) \
	-o "$T/real/obj/audit/planted.o" "$T/real/src/audit/planted.c" ||
	not_ok "the planted file compiles"
expect_exit 1 "the real tree with audit calling node fails" \
	$DEPCHECK --src "$T/real/src" --obj "$T/real/obj"
expect_err "src/audit/planted.c:1: back-arrow audit -> node \(includes node/config.h\)" \
	"its include is named"
expect_err "back-arrow audit -> node: src/audit/planted.c uses config_load of src/node/config.c" \
	"its call is named"
exit $failed
