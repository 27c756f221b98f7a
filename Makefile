# faultmesh: one non-recursive Makefile for the three programs, their tests,
# fuzzers, benchmarks and the lab demo. `make V=1` shows the commands.

BUILD ?= build
SAN ?= 0
CC ?= cc
# Only what some source uses: libmnl (prober netlink), SQLite (store),
# libcurl (HTTP clients: Alertmanager, ClickHouse), libcrypto (frame MACs),
# libmicrohttpd (HTTP servers: the collector's metrics, triangulate serve),
# libpcap (the prober's packet dump).
PKGS := libmnl sqlite3 libcurl libcrypto libmicrohttpd libpcap

WARN := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Werror
OPTFLAGS ?= -O2 -g
EXTRA_CFLAGS ?=
# Every folder holding headers is on the include path, so a file includes a
# header by its name wherever the subsystem folder keeps it.
SRC_DIRS := common store prober collector triangulate tests/fixtures
INC_DIRS := . $(sort $(dir $(shell find $(SRC_DIRS) -name '*.h')))
INCLUDES := $(addprefix -I,$(patsubst %/,%,$(INC_DIRS)))
CFLAGS := $(OPTFLAGS) $(EXTRA_CFLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -MMD -MP $(INCLUDES)
CFLAGS += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcap -lm -lpthread

ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
BINDIR ?= $(BUILD)/bin
else
BINDIR ?= bin
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

PROGS := prober collector triangulate
# common/ (shared core) and store/ (the one home of SQL) make one library.
COMMON_SRC := $(wildcard common/*.c store/*.c)
# A program's modules: every .c below its folder but its top-level main.c.
prog_src = $(filter-out $(1)/main.c,$(shell find $(1) -name '*.c'))
obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

COMMON_LIB := $(BUILD)/libcommon.a
PROG_LIBS := $(foreach p,$(PROGS),$(BUILD)/lib$(p).a)
# Test fixtures (synthetic stores): linked into tests and benchmarks only.
FIXTURE_LIB := $(BUILD)/libfixtures.a
FIXTURE_SRC := $(wildcard tests/fixtures/*.c)
ALL_LIBS := $(PROG_LIBS) $(COMMON_LIB)
BINS := $(foreach p,$(PROGS),$(BINDIR)/$(p))

# Small helper programs the lab tests and benchmarks use (one .c each).
TOOL_SRC := $(wildcard tests/lab/*.c bench/*.c)
TOOLS := $(foreach t,$(TOOL_SRC),$(BINDIR)/$(basename $(notdir $(t))))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# Helpers the unit tests share (tests/unit/unit_*.c), linked into each.
UNIT_UTIL := $(call obj,$(wildcard tests/unit/unit_*.c))
.SECONDARY: $(UNIT_UTIL)

.PHONY: all deps test check unit unit-build lab test-san san-build unit-san lab-all fuzz fuzz-build fuzz-smoke fuzz-check bench demo clean format
all: $(BINS) $(TOOLS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# Schemas embedded with .incbin: -MMD does not see them.
$(BUILD)/store/store_ch.o: schemas/clickhouse.sql schemas/clickhouse_history.sql
$(BUILD)/store/store_sqlite.o: schemas/store.sql
$(BUILD)/store/store_history_sqlite.o: schemas/history.sql

$(COMMON_LIB): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FIXTURE_LIB): $(call obj,$(FIXTURE_SRC)) $(BUILD)/.empty.o
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

define prog_rules
$(BUILD)/lib$(1).a: $(call obj,$(call prog_src,$(1))) $(BUILD)/.empty.o
	@mkdir -p $$(dir $$@)
	$(Q)rm -f $$@ && ar rcs $$@ $$^
$(BINDIR)/$(1): $(BUILD)/$(1)/main.o $(BUILD)/lib$(1).a $(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	@$(if $(Q),echo "  LD      $$@")
	$(Q)$(CC) $(LDFLAGS) -o $$@ $$^ $(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call prog_rules,$(p))))

# An empty object so a program's library exists before it has modules.
$(BUILD)/.empty.o:
	@mkdir -p $(dir $@)
	$(Q)echo 'extern int fm_empty_unit; int fm_empty_unit;' | $(CC) -x c -c -o $@ -

$(BINDIR)/%: tests/lab/%.c $(ALL_LIBS) $(FIXTURE_LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(ALL_LIBS) $(FIXTURE_LIB) -Wl,--end-group $(LDLIBS)
$(BINDIR)/%: bench/%.c $(ALL_LIBS) $(FIXTURE_LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(ALL_LIBS) $(FIXTURE_LIB) -Wl,--end-group $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_UTIL) $(ALL_LIBS) $(FIXTURE_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(UNIT_UTIL) -Wl,--start-group $(ALL_LIBS) $(FIXTURE_LIB) -Wl,--end-group $(LDLIBS) -lcriterion

# libFuzzer targets (scripts/build-fuzzers builds them with clang, BUILD=build-fuzz).
$(BUILD)/fuzz/%: tests/fuzz/%.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LDLIBS)

deps:
	scripts/install-deps

unit-build: $(UNIT_BINS) $(BINS) $(TOOLS)
# Tests that run a program (test_cli, the collector's SIGHUP test) run this
# build's (FM_BIN), sanitized ones in the sanitizer build.
unit: unit-build
	$(Q)FM_BIN=$(abspath $(BINDIR)) scripts/run-unit $(UNIT_BINS)

lab: $(BINS) $(TOOLS)
	$(Q)FM_BIN=$(abspath $(BINDIR)) scripts/run-lab-tests

# The same programs, tools and unit tests under AddressSanitizer and
# UndefinedBehaviorSanitizer, in build-san/.
san-build:
	$(Q)$(MAKE) --no-print-directory SAN=1 BUILD=build-san unit-build
unit-san:
	$(Q)$(MAKE) --no-print-directory SAN=1 BUILD=build-san unit

# Every lab test twice in one pool: against bin/ and against the sanitizer
# builds (build-san/bin, from san-build), so the two passes wait together.
lab-all: $(BINS) $(TOOLS)
	$(Q)FM_BIN=$(abspath $(BINDIR)) LAB_SAN_BIN=$(abspath build-san/bin) scripts/run-lab-tests

# Every unit and lab test again under AddressSanitizer and UndefinedBehaviorSanitizer.
test-san: unit-san
	$(Q)$(MAKE) --no-print-directory SAN=1 BUILD=build-san lab LAB_SAN=1

# The inner loop: unit tests, a short fuzz smoke, the lab tests without
# sanitizers. Each step timed; one closing verdict line with the total.
# Steps joined by "+" run at the same time (scripts/run-suite): the fuzzers
# (niced) use the CPU the lab tests leave idle while they wait for probes.
check:
	$(Q)scripts/run-suite check unit-build+fuzz-build unit lab+fuzz-check

# Everything: deps, unit, fuzz smoke of FUZZ_SMOKE_SECONDS per target, every
# lab test, then unit and every lab test again under ASan+UBSan. The three
# builds run together, the unit tests with their sanitizer run, and both lab
# passes in one pool (make lab-all) beside the fuzz smoke.
test:
	$(Q)scripts/run-suite test deps unit-build+san-build+fuzz-build unit+unit-san lab-all+fuzz-smoke

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build-fuzz/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_CHECK_SECONDS ?= 5
# "+": the script's make joins this make's -j job slots
fuzz-build:
	+$(Q)scripts/build-fuzzers $(FUZZ_SRC)
fuzz: fuzz-build
	$(Q)scripts/run-fuzzers $(FUZZ_SECONDS) $(FUZZ_SRC)
fuzz-smoke: fuzz-build
	$(Q)scripts/run-fuzzers $(FUZZ_SMOKE_SECONDS) $(FUZZ_SRC)
fuzz-check: fuzz-build
	$(Q)scripts/run-fuzzers $(FUZZ_CHECK_SECONDS) $(FUZZ_SRC)

bench: all
	$(Q)scripts/run-bench

demo:
	$(Q)scripts/install-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo

format:
	clang-format -i $(shell find $(SRC_DIRS) tests bench -name '*.[ch]')

clean:
	rm -rf build build-san build-fuzz bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
