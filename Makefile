# SPDX-License-Identifier: Apache-2.0
# Herald - one non-recursive Makefile.
#
#   make deps      install Debian packages (apt-get, idempotent)
#   make           build everything into build/
#   make test      deps + build + tests/run + a short fuzz run
#   make asan test the same under AddressSanitizer + UBSan (build-asan/)
#   make bench     wire benchmark next to redis-server
#   make fuzz      longer libFuzzer run
#   make tidy      clang-tidy over the sources
#   make run       deps + build + demo engine in the foreground

SHELL := /bin/bash
CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

BUILD ?= build
OPT ?= -O2
CFLAGS_BASE := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-D_GNU_SOURCE -I. -pthread -fPIC
LDLIBS_CLIENT := -lcrypto
LDLIBS_SERVER := -luring -lssl -lcrypto -llz4 -ljansson -lhttp_parser -lpthread
JEMALLOC := 1

ifneq ($(filter asan,$(MAKECMDGOALS)),)
BUILD := build-asan
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
JEMALLOC := 0
endif

ifeq ($(JEMALLOC),1)
CFLAGS_BASE += -DHRL_JEMALLOC=1
LDLIBS_SERVER += -ljemalloc
endif

CFLAGS := $(CFLAGS_BASE) $(EXTRA_CFLAGS)

BASE_SRC   := $(wildcard base/*.c)
WIRE_SRC   := net/wire.c
CLIENT_SRC := $(wildcard client/*.c)
ENGINE_SRC := $(filter-out net/wire.c,$(wildcard io/*.c net/*.c store/*.c fanout/*.c))
TEST_SRC   := $(wildcard tests/*.c)
BENCH_SRC  := $(wildcard bench/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBHERALD_A  := $(BUILD)/libherald.a
LIBHERALD_SO := $(BUILD)/libherald.so
LIBENGINE_A  := $(BUILD)/libheraldengine.a
HERALDD      := $(BUILD)/heraldd
HERALD       := $(BUILD)/herald
TEST_BINS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCH_BINS   := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all test asan bench fuzz fuzz-build tidy deps run clean check-deps check-crash
.DEFAULT_GOAL := all
.SECONDARY:

all: $(HERALDD) $(HERALD) $(LIBHERALD_A) $(LIBHERALD_SO) $(TEST_BINS) $(BENCH_BINS)

asan: all
	@true

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

$(LIBHERALD_A): $(call obj,$(BASE_SRC) $(WIRE_SRC) $(CLIENT_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBHERALD_SO): $(call obj,$(BASE_SRC) $(WIRE_SRC) $(CLIENT_SRC))
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS_CLIENT)

$(LIBENGINE_A): $(call obj,$(ENGINE_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(HERALDD): $(call obj,daemon/heraldd.c) $(LIBENGINE_A) $(LIBHERALD_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_SERVER)

$(HERALD): $(call obj,cli/herald.c) $(LIBHERALD_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_CLIENT)

$(BUILD)/tests/%: $(call obj,tests/%.c) $(LIBENGINE_A) $(LIBHERALD_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_SERVER)

# the store benchmark links the peers it is compared with
BENCH_PEER_LIBS := -lrocksdb -llmdb -lsqlite3
$(BUILD)/bench/store_peers: $(call obj,bench/store_peers.c) $(LIBENGINE_A) $(LIBHERALD_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_SERVER) $(BENCH_PEER_LIBS) -lm

$(BUILD)/bench/%: $(call obj,bench/%.c) $(LIBENGINE_A) $(LIBHERALD_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_SERVER) -lm

# ---- dependencies ---------------------------------------------------------
DEB_PACKAGES := build-essential pkg-config liburing-dev libjemalloc-dev libssl-dev liblz4-dev \
	librocksdb-dev liblmdb-dev libsqlite3-dev libjansson-dev libhttp-parser-dev \
	clang libclang-rt-14-dev redis-server redis-tools valgrind python3 iproute2 procps \
	clang-tidy util-linux

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all present"; fi

# ---- tests ----------------------------------------------------------------
FUZZ_BIN := $(BUILD)/fuzz/fuzz_wire
FUZZ_SECONDS ?= 20
FUZZ_LONG_SECONDS ?= 600

test: deps
	$(MAKE) --no-print-directory BUILD=$(BUILD) JEMALLOC=$(JEMALLOC) EXTRA_CFLAGS="$(EXTRA_CFLAGS)" \
		CFLAGS_BASE="$(CFLAGS_BASE)" LDFLAGS="$(LDFLAGS)" all
	BUILD=$(BUILD) tests/run
	$(MAKE) --no-print-directory BUILD=$(BUILD) fuzz-build
	@mkdir -p $(BUILD)/fuzz/corpus
	@# a crash must fail the target: keep the fuzzer's status, show its last lines
	@$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus fuzz/seeds \
		> $(BUILD)/fuzz/last.log 2>&1; rc=$$?; tail -3 $(BUILD)/fuzz/last.log; exit $$rc

FUZZ_FANOUT := fanout/campaign.c fanout/tagexpr.c fanout/template.c
$(FUZZ_BIN): fuzz/fuzz_wire.c $(BASE_SRC) $(WIRE_SRC) net/req.c $(FUZZ_FANOUT)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined \
		-o $@ fuzz/fuzz_wire.c $(BASE_SRC) $(WIRE_SRC) net/req.c $(FUZZ_FANOUT)

fuzz-build: $(FUZZ_BIN)

# hundreds of kill -9 cycles while clients write (make test runs a few)
CRASH_CYCLES ?= 300
check-crash: deps all
	HERALD_CRASH_CYCLES=$(CRASH_CYCLES) TEST_TIMEOUT=3600 VERBOSE=1 BUILD=$(BUILD) tests/run store_crash_loop receipts_crash_loop

fuzz: deps $(FUZZ_BIN)
	@mkdir -p $(BUILD)/fuzz/corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_LONG_SECONDS) $(BUILD)/fuzz/corpus fuzz/seeds

# ---- benchmarks -------------------------------------------------------------
bench: deps all
	BUILD=$(BUILD) bench/run_wire.sh

# ---- lint ------------------------------------------------------------------
tidy:
	clang-tidy --quiet $(BASE_SRC) $(WIRE_SRC) $(CLIENT_SRC) $(ENGINE_SRC) daemon/heraldd.c cli/herald.c \
		-- -std=gnu11 -D_GNU_SOURCE -I.

# ---- demo ------------------------------------------------------------------
run: deps
	$(MAKE) --no-print-directory all
	BUILD=$(BUILD) ./scripts/demo.sh

clean:
	rm -rf build build-asan
