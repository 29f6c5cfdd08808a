# koden — one plain Makefile (STYLE.md 12).
#   make            build koden and libkoden into $(B)/
#   make test       install missing Debian packages, build, run every test
#   make check      the same tests under AddressSanitizer + UBSan
#   make fuzz       build one libFuzzer target per parser (clang)
#   make bench      benchmarks side by side with their peers (bench/)
#   make demo       the main job on the embedded default
#   V=1             show the commands

B ?= build
CC ?= cc
PKGS = libsodium libb2 sqlite3
TEST_PKGS = cmocka jansson

ifeq ($(V),1)
Q =
else
Q = @
endif

OPT ?= -O2 -g
CFLAGS_ALL = -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
	-Wall -Wextra -Werror=implicit -Wshadow -Wstrict-prototypes \
	-Wformat=2 -Wvla -fstack-protector-strong -MMD -MP -Isrc \
	$(OPT) $(SAN) $(shell pkg-config --cflags $(PKGS)) $(CFLAGS)
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS)) -pthread $(LDLIBS)
TEST_LIBS = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

NODE_MAIN = src/node/kodend.c
VPN_MAIN = src/vpn/kodenvpn.c
LIB_SRC = $(filter-out $(NODE_MAIN) $(VPN_MAIN),$(sort $(wildcard src/lib/*.c src/crypto/*.c \
	src/telegram/*.c src/store/*.c src/node/*.c src/vpn/*.c src/audit/*.c)))
CLI_SRC = $(sort $(wildcard src/cli/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_HELP = $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
FUZZ_SRC = $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ = $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(B)/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
UNIT_HELP_OBJ = $(UNIT_HELP:%.c=$(B)/%.o)

.PHONY: all deps test check depcheck fuzz fuzz-run bench bench-audit demo demo-seal clean
all: $(B)/koden $(B)/kodend $(B)/koden-vpn $(B)/libkoden.a

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(B)/libkoden.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/koden: $(CLI_OBJ) $(B)/libkoden.a
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(B)/kodend: $(B)/src/node/kodend.o $(B)/libkoden.a
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# The WireGuard-protocol VPN daemon (issue 4, docs/vpn.md).
$(B)/koden-vpn: $(B)/src/vpn/kodenvpn.o $(B)/libkoden.a
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -pthread -o $@ $^ $(LDLIBS_ALL)

# HQ with one injected forwarding fault, for tests/system only.
$(B)/kodend-faulty: $(B)/tests/system/kodend_faulty.o $(B)/libkoden.a
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# bench/relay.sh's client (issue 3): seals and pushes telegrams; SMTP for Postfix.
$(B)/bench/relay_client: bench/relay_client.c bench/relay_common.c $(B)/libkoden.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -pthread -o $@ $^ $(LDLIBS_ALL)

# bench/relay.sh's part hq: simulated posts around a real HQ kodend.
$(B)/bench/relay_sim: bench/relay_sim.c bench/relay_common.c $(B)/libkoden.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -pthread -o $@ $^ $(LDLIBS_ALL)

# bench/audit.sh's driver (issue 5): append, ingest, proofs, read path.
$(B)/bench/audit_bench: bench/audit_bench.c $(B)/libkoden.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# The same koden and kodend without audit records, for bench/audit.sh's
# read-path baseline only (never installed; -DKODEN_AUDIT_BENCH_OFF).
$(B)/bench/koden-noaudit: $(CLI_SRC) $(B)/libkoden.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -DKODEN_AUDIT_BENCH_OFF -o $@ $^ $(LDLIBS_ALL)
$(B)/bench/kodend-noaudit: $(sort $(wildcard src/node/*.c)) $(B)/libkoden.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -DKODEN_AUDIT_BENCH_OFF -o $@ $^ $(LDLIBS_ALL)

$(B)/tests/%: $(B)/tests/unit/%.o $(UNIT_HELP_OBJ) $(B)/libkoden.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(TEST_LIBS) $(LDLIBS_ALL)

# Debian packages the project needs, installed when missing.
deps:
	$(Q)scripts/install-deps.sh

tests: $(B)/koden $(B)/kodend $(B)/koden-vpn $(B)/kodend-faulty $(UNIT_BIN)

test: deps
	$(Q)$(MAKE) --no-print-directory tests
	$(Q)B=$(B) tests/run.sh

check: deps
	$(Q)$(MAKE) --no-print-directory B=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" tests
	$(Q)python3 scripts/depcheck.py --src src --obj build-asan/src
	$(Q)B=build-asan ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run.sh

# The dependency direction: lib <- crypto <- telegram <- store <- audit <-
# node <- cli, vpn on lib and crypto, no circles between files
# (docs/architecture.md).  Read from the includes and the objects' symbols.
depcheck: all
	$(Q)python3 scripts/depcheck.py --src src --obj $(B)/src

# libFuzzer targets: clang only.  Library built again with coverage.
FUZZ_CFLAGS = -fsanitize=fuzzer-no-link,address,undefined
fuzz: deps
	$(Q)$(MAKE) --no-print-directory B=build-fuzz CC=clang OPT="-O1 -g" \
		SAN="$(FUZZ_CFLAGS)" $(FUZZ_SRC:fuzz/%.c=build-fuzz/fuzz/%)

$(B)/fuzz/%: fuzz/%.c $(B)/libkoden.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ $@")
	$(Q)$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $(filter %.c %.a,$^) $(LDLIBS_ALL)

# Run each fuzz target for FUZZ_SECONDS on its seed corpus.
FUZZ_SECONDS ?= 60
fuzz-run: fuzz
	$(Q)scripts/fuzz-run.sh $(FUZZ_SECONDS)

# The audit log's benchmarks (bench/audit.sh; docs/benchmarks.md).
bench-audit: all $(B)/bench/audit_bench $(B)/bench/koden-noaudit \
		$(B)/bench/kodend-noaudit
	$(Q)B=$(B) bench/audit.sh

bench: deps all
	$(Q)bench/seal.sh

# The VPN beside wireguard-go and OpenVPN (issue 4; needs root).
.PHONY: bench-vpn
bench-vpn: deps all
	$(Q)B=$(B) bench/vpn.sh

demo: deps all $(B)/kodend-faulty
	$(Q)B=$(B) scripts/demo.sh

demo-seal: deps all
	$(Q)scripts/demo-seal.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(B) -type f -name '*.d' 2>/dev/null)
