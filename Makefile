# kaga-exchange - one Makefile for the whole tree.
#
#   make              build bin/kaga-ctl (and later bin/kaga-node, bin/kaga-sim)
#   make check        unit tests, CLI tests, fuzz corpus replay
#   make check SANITIZE=address,undefined
#   make bench        benchmarks (figures next to their physical limits)
#   make fuzz         libFuzzer runs (clang), FUZZ_SECONDS each
#   make demo         the main job (see README.md)
#   make deps         install the Debian packages we need, when missing
#   make install / uninstall   PREFIX=/usr/local DESTDIR= (programs, man
#                              pages, the systemd unit in SYSTEMDDIR)

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
CC	?= cc
FUZZ_CC	?= clang
FUZZ_SECONDS ?= 30

# Debian packages: libraries, pkg-config, and clang + its runtime for fuzzing.
DEB_PKGS = libzmq3-dev libsodium-dev liblmdb-dev libmsgpack-dev \
	   libmodbus-dev libcmocka-dev pkg-config clang libclang-rt-14-dev \
	   lmdb-utils glpk-utils socat curl man-db groff-base procps

WARN	= -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
	  -Wpointer-arith -Wcast-qual -Wsign-compare
ifeq ($(CI),true)
WERROR	?= -Werror
endif

# pkg-config name : fallback -l flag
PKG_sodium	= libsodium:-lsodium
PKG_zmq		= libzmq:-lzmq
PKG_modbus	= libmodbus:-lmodbus
PKG_lmdb	= lmdb:-llmdb
PKG_msgpack	= msgpack:-lmsgpackc
PKG_cmocka	= cmocka:-lcmocka
pkgflags = $(shell pkg-config --$(1) $(firstword $(subst :, ,$(2))) 2>/dev/null || \
	   echo "$(if $(filter libs,$(1)),$(lastword $(subst :, ,$(2))))")
LIB_PKGS  = $(PKG_sodium) $(PKG_lmdb) $(PKG_msgpack) $(PKG_zmq) $(PKG_modbus)
DEP_CFLAGS := $(foreach p,$(LIB_PKGS),$(call pkgflags,cflags,$(p)))
DEP_LIBS   := $(foreach p,$(LIB_PKGS),$(call pkgflags,libs,$(p)))
TEST_LIBS  := $(call pkgflags,libs,$(PKG_cmocka))

comma := ,
SANITIZE ?=
KNOWN_SANITIZERS = address undefined leak
ifneq ($(SANITIZE),)
SAN_LIST := $(subst $(comma), ,$(SANITIZE))
BAD_SAN := $(filter-out $(KNOWN_SANITIZERS),$(SAN_LIST))
ifneq ($(BAD_SAN),)
$(error SANITIZE: unknown sanitizer '$(BAD_SAN)'; known: $(KNOWN_SANITIZERS))
endif
SAN_FLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
B ?= build/san
else
B ?= build/rel
endif

OPT	?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -Iprotocols -Inode -Imarket -Icommunity -Imeters
CFLAGS	+= -std=c11 -pthread $(OPT) $(WARN) $(WERROR) $(SAN_FLAGS) $(DEP_CFLAGS) -MMD -MP
LDFLAGS	+= -pthread $(SAN_FLAGS)

# The library: every .c of the module folders except programs' mains.
MAINS	= node/kaga-ctl.c node/kaga-node.c meters/kaga-meter-sim.c
LIB_SRC	= $(wildcard protocols/*.c market/*.c community/*.c) \
	  $(filter-out $(MAINS),$(wildcard node/*.c meters/*.c))
LIB_OBJ	= $(LIB_SRC:%.c=$(B)/%.o)
LIB	= $(B)/libkaga.a

# kaga-sim: sim/kaga-sim.c is its main; the other sim/*.c are linked only
# into kaga-sim and its tests (tests/test_sim*.c, tests/bench_sim.c), not
# into the library.
SIM_SRC	= $(filter-out sim/kaga-sim.c,$(wildcard sim/*.c))
SIM_OBJ	= $(SIM_SRC:%.c=$(B)/%.o)

PROGS	= kaga-ctl kaga-node $(if $(wildcard meters/kaga-meter-sim.c),kaga-meter-sim) \
	  $(if $(wildcard sim/kaga-sim.c),kaga-sim)
BINS	= $(PROGS:%=$(B)/bin/%)

TEST_SRC = $(wildcard tests/test_*.c)
TESTS	= $(TEST_SRC:tests/%.c=$(B)/tests/%)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES = $(FUZZ_SRC:tests/fuzz/%.c=%)
REPLAY	= $(FUZZ_NAMES:%=$(B)/fuzz-replay/%)
BENCH_SRC = $(wildcard tests/bench_*.c)
BENCHES	= $(BENCH_SRC:tests/%.c=$(B)/tests/%)

.SECONDARY:
.PHONY: all check run-tests bench fuzz deps install uninstall clean demo \
	checksrc

all: $(BINS) bin

bin: $(BINS)
	@mkdir -p bin
	@for p in $(PROGS); do ln -sf ../$(B)/bin/$$p bin/$$p; done

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(B)/bin/%: $(B)/node/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(B)/bin/kaga-meter-sim: $(B)/meters/kaga-meter-sim.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(B)/bin/kaga-sim: $(B)/sim/kaga-sim.o $(SIM_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

SIM_TESTS = $(filter $(B)/tests/test_sim% $(B)/tests/bench_sim%,$(TESTS) $(BENCHES))
ifneq ($(SIM_TESTS),)
$(SIM_TESTS): $(B)/tests/%: $(B)/tests/%.o $(SIM_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(TEST_LIBS)
endif

$(B)/tests/%: $(B)/tests/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(TEST_LIBS)

# Fuzz targets linked with a small main that replays files (gcc, any build).
$(B)/fuzz-replay/%: $(B)/tests/fuzz/%.o $(B)/tests/fuzz/replay_main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(B)/tests/fuzz/replay_main.o: tests/fuzz/replay_main.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

check: deps
	$(MAKE) run-tests

run-tests: $(BINS) $(TESTS) $(REPLAY) checksrc
	B=$(B) SANITIZE=$(SANITIZE) sh tests/run.sh $(TESTS) -- $(REPLAY)

checksrc:
	@sh tests/checksrc.sh

bench: deps
	$(MAKE) $(BINS) $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; \
		KAGA_NODE_BIN=$(B)/bin/kaga-node KAGA_METER_SIM=$(B)/bin/kaga-meter-sim \
		$$b || exit 1; done

# libFuzzer builds: clang, ASan + UBSan. The library is compiled once
# (build/fuzz/obj, instrumented without libFuzzer's main) and each target
# is linked against it, so `make -j2 fuzz` compiles in parallel.
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -pthread $(CPPFLAGS) $(DEP_CFLAGS)
FUZZ_LIB_FLAGS = -g -O1 -fsanitize=fuzzer-no-link,address,undefined -pthread $(CPPFLAGS) $(DEP_CFLAGS)
FUZZ_OBJ = $(LIB_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_BINS = $(FUZZ_NAMES:%=build/fuzz/bin/%)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_LIB_FLAGS) -c -o $@ $<

build/fuzz/bin/%: tests/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_OBJ) $(DEP_LIBS)

fuzz: deps
	$(MAKE) $(FUZZ_BINS)
	@for f in $(FUZZ_NAMES); do \
		mkdir -p build/fuzz/$$f.corpus; \
		echo "== fuzzing $$f for $(FUZZ_SECONDS) s"; \
		build/fuzz/bin/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=20000 \
			-artifact_prefix=tests/fuzz/crashes/$$f- \
			build/fuzz/$$f.corpus tests/fuzz/corpus/$$f || exit 1; \
	done

deps:
	@sh .ci/deps.sh $(DEB_PKGS)

MANDIR	?= $(PREFIX)/share/man
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
MANPAGES = docs/man/kaga-ctl.1 docs/man/kaga-node.conf.5 docs/man/kaga-node.8

install: $(BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSTEMDDIR)
	for p in $(PROGS); do install -m 0755 $(B)/bin/$$p $(DESTDIR)$(BINDIR)/$$p; done
	for m in $(MANPAGES); do s=$${m##*.}; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	sed 's|@BINDIR@|$(BINDIR)|g' node/kaga-node.service > $(DESTDIR)$(SYSTEMDDIR)/kaga-node.service
	chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/kaga-node.service

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(BINDIR)/$$p; done
	for m in $(MANPAGES); do s=$${m##*.}; \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	rm -f $(DESTDIR)$(SYSTEMDDIR)/kaga-node.service

demo: deps
	$(MAKE) all
	sh node/demo.sh

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
