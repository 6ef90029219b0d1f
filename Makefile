# gwkit -- plain GNU make. Output goes to $(BUILD) (default build/).
#
#   make            build the library, the programs and the unit tests
#   make test       install missing packages, build, run every test (prove)
#   make run        install missing packages, build, start the stack on loopback
#   make check-asan / check-tsan   the whole suite under sanitizers
#   make bench      performance figures next to the peers (bench/RESULTS.md)
#   make fuzz       libFuzzer targets for every parser (FUZZ_SECONDS each)
#   make fuzz-targets   build them only (make test builds them and runs the seed corpora)
#   make install    PREFIX=/usr/local DESTDIR=

VERSION  := 0.1.0
BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
SAN      ?=
OPT      ?= -O2
TEST_ENV ?=

PKGS     := libmicrohttpd libcurl sqlite3 jansson inih libcrypto zlib libzstd hiredis liburing libzmq
WARN     := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(SAN) -pthread -MMD -MP \
             -Ilib -Icmd -DGW_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
ALL_LDFLAGS = $(LDFLAGS) $(SAN) -pthread

LIB_SRC  := $(sort $(wildcard lib/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBA     := $(BUILD)/lib/libgwkit.a

PROGS    := $(notdir $(patsubst %/,%,$(sort $(dir $(wildcard cmd/*/main.c)))))
BINS     := $(PROGS:%=$(BUILD)/bin/%)
EXAMPLES := $(patsubst share/examples/%.c,$(BUILD)/bin/%,$(wildcard share/examples/*.c))

# gwctl validates every program's config, so it links each program's schema table.
gwctl_EXTRA := $(wildcard cmd/*/schema.c)

UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
UNIT_BIN := $(UNIT_SRC:%.c=$(BUILD)/%)

# libFuzzer targets: every tests/fuzz/<name>.c becomes $(FUZZ_BUILD)/bin/<name>. lib/*.c is
# compiled once with coverage and sanitizers into one archive; a target that includes
# "<prog>/..." also links that program's objects (all but main.c) from a per-program archive.
# Their seeds live in tests/fuzz/corpus/<name>/; tests/integration/03-fuzz-seeds.t runs them.
FUZZ_CC     ?= clang
FUZZ_BUILD  ?= build/fuzz
FUZZ_SAN    := address,undefined
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -pthread -MMD -MP \
               -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -fno-sanitize-recover=undefined \
               -Ilib -Icmd -DGW_VERSION='"fuzz"' $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_SRC    := $(sort $(wildcard tests/fuzz/*.c))
FUZZ_NAMES  := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_BINS   := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/bin/%)
FUZZ_LIBA   := $(FUZZ_BUILD)/libgwkit-fuzz.a
HAVE_FUZZ_CC := $(shell command -v $(FUZZ_CC) 2>/dev/null)

.PHONY: all test run check-asan check-tsan bench fuzz fuzz-targets install clean deps lint man
all: $(LIBA) $(BINS) $(EXAMPLES) $(UNIT_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

define prog_rule
$(1)_OBJ := $$(patsubst %.c,$$(BUILD)/%.o,$$(wildcard cmd/$(1)/*.c) $$($(1)_EXTRA))
$$(BUILD)/bin/$(1): $$($(1)_OBJ) $$(LIBA)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$($(1)_OBJ) $$(LIBA) $$(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

$(BUILD)/bin/%: $(BUILD)/share/examples/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# Kept, so an interrupted make (Ctrl-C in `make run`) does not delete them and relink later.
.SECONDARY: $(UNIT_BIN:%=%.o)
$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_LIBA): $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
	rm -f $@
	$(AR) rcs $@ $^

define fuzz_prog_rule
$$(FUZZ_BUILD)/lib$(1)-prog.a: $$(patsubst %.c,$$(FUZZ_BUILD)/%.o,$$(filter-out %/main.c,$$(wildcard cmd/$(1)/*.c)))
	rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach p,$(PROGS),$(eval $(call fuzz_prog_rule,$(p))))

# The programs a target includes a header of, as in #include "hbd/hbd.h".
fuzz_progs = $(filter $(PROGS),$(shell sed -n 's|^\#include "\([a-z0-9_]*\)/.*|\1|p' $(1)))

define fuzz_rule
$$(FUZZ_BUILD)/bin/$(1): $$(FUZZ_BUILD)/tests/fuzz/$(1).o $$(foreach p,$$(call fuzz_progs,tests/fuzz/$(1).c),$$(FUZZ_BUILD)/lib$$(p)-prog.a) $$(FUZZ_LIBA)
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) -fsanitize=fuzzer,$$(FUZZ_SAN) -pthread -o $$@ $$< -Wl,--start-group $$(filter %.a,$$^) -Wl,--end-group $$(LDLIBS)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call fuzz_rule,$(n))))

fuzz-targets: $(FUZZ_BINS)

deps:
	@share/deps.sh test

# Each unit test runs through a tests/unit/<name>.t link to _unit.sh, so prove sees one tree.
test: deps
	@$(MAKE) --no-print-directory all
	@$(if $(HAVE_FUZZ_CC),$(MAKE) --no-print-directory fuzz-targets,echo "no $(FUZZ_CC): fuzz targets not built")
	@for s in $(UNIT_SRC); do t=$${s%.c}.t; [ -L $$t ] || { echo "missing $$t (ln -s _unit.sh $$t)"; exit 1; }; done
	GW_BUILD=$(abspath $(BUILD)) GW_FUZZ_BUILD=$(abspath $(FUZZ_BUILD)) $(TEST_ENV) prove -j2 -r tests/

check-asan:
	@share/deps.sh test
	$(MAKE) BUILD=build/asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" OPT=-O1 TEST_ENV=GW_SANITIZED=1 test

check-tsan:
	@share/deps.sh test
	$(MAKE) BUILD=build/tsan SAN="-fsanitize=thread" OPT=-O1 \
	    TEST_ENV="GW_SANITIZED=1 TSAN_OPTIONS=suppressions=$(abspath tests/tsan.supp)" test

run: deps all
	share/run.sh $(BUILD)

bench: all
	@share/deps.sh bench
	bench/run.sh $(BUILD)

fuzz:
	@share/deps.sh test
	@$(MAKE) --no-print-directory fuzz-targets
	FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh

lint:
	mandoc -Tlint man/*

# The key list of gwkit.conf(5) comes from the schema tables.
man: all
	share/gen-man-keys.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/gwkit $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	    $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions
	for p in $(filter-out gwbench,$(PROGS)); do install -m 755 $(BUILD)/bin/$$p $(DESTDIR)$(PREFIX)/sbin/; done
	for p in $(filter gwbench,$(PROGS)) $(notdir $(EXAMPLES)); do install -m 755 $(BUILD)/bin/$$p $(DESTDIR)$(PREFIX)/bin/; done
	for m in $(wildcard man/*.8); do install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man8/; done
	for m in $(wildcard man/*.1); do install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done
	for m in $(wildcard man/*.5); do install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man5/; done
	for f in $(wildcard share/*.conf share/*.sql); do install -m 644 $$f $(DESTDIR)$(PREFIX)/share/gwkit/; done
	for f in $(wildcard share/prometheus/*.yml share/grafana/*.json); do install -m 644 $$f $(DESTDIR)$(PREFIX)/share/gwkit/; done
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d
	install -m 644 share/systemd/gwkit.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/gwkit.conf
	for f in $(wildcard share/systemd/*.service); do sed 's|/usr/sbin/|$(PREFIX)/sbin/|' $$f >$(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$f); done
	for f in $(wildcard completions/*.bash); do install -m 644 $$f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$(basename $$f .bash); done
	for f in $(wildcard completions/_*); do install -m 644 $$f $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/; done

clean:
	rm -rf build

-include $(shell find $(BUILD) $(FUZZ_BUILD) -path '*/bench' -prune -o -name '*.d' -type f -print 2>/dev/null | sort -u)
