# gwkit -- plain GNU make. Output goes to $(BUILD) (default build/).
#
#   make            build the library, the programs and the unit tests
#   make test       install missing packages, build, run every test (prove)
#   make run        install missing packages, build, start the stack on loopback
#   make check-asan / check-tsan   the whole suite under sanitizers
#   make bench      performance figures next to the peers (bench/RESULTS.md)
#   make fuzz       libFuzzer targets for every parser
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
FUZZ_SRC := $(sort $(wildcard tests/fuzz/*.c))

.PHONY: all test run check-asan check-tsan bench fuzz install clean deps lint man
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

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

deps:
	@share/deps.sh test

# Each unit test runs through a tests/unit/<name>.t link to _unit.sh, so prove sees one tree.
test: deps
	@$(MAKE) --no-print-directory all
	@for s in $(UNIT_SRC); do t=$${s%.c}.t; [ -L $$t ] || { echo "missing $$t (ln -s _unit.sh $$t)"; exit 1; }; done
	GW_BUILD=$(abspath $(BUILD)) $(TEST_ENV) prove -j2 -r tests/

check-asan:
	@share/deps.sh test
	$(MAKE) BUILD=build/asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" OPT=-O1 TEST_ENV=GW_SANITIZED=1 test

check-tsan:
	@share/deps.sh test
	$(MAKE) BUILD=build/tsan SAN="-fsanitize=thread" OPT=-O1 TEST_ENV=GW_SANITIZED=1 test

run: deps all
	share/run.sh $(BUILD)

bench: all
	@share/deps.sh bench
	bench/run.sh $(BUILD)

fuzz:
	@share/deps.sh test
	tests/fuzz/run.sh

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
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	for f in $(wildcard share/systemd/*.service); do sed 's|/usr/sbin/|$(PREFIX)/sbin/|' $$f >$(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$f); done
	for f in $(wildcard completions/*.bash); do install -m 644 $$f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$(basename $$f .bash); done
	for f in $(wildcard completions/_*); do install -m 644 $$f $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/; done

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
