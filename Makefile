# tickd - GNU make + pkg-config.  `make` builds build/tickd and build/tickctl.
# make check [SANITIZE=1]  unit tests, corpus run, integration tests on real servers
# make demo                a private stack, sample mail, tickets, ack, escalation

PKGS     := libcurl gmime-3.0 libpq libconfig libxml-2.0 glib-2.0
CC       ?= cc
BUILD    ?= build
WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith \
            -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS   ?= -O2 -g
ifeq ($(SANITIZE),1)
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined
LDSAN    := -fsanitize=address,undefined
HARDEN   := -fPIE
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=gnu11 $(WARN) $(HARDEN) $(CFLAGS) -Iinclude $(PKG_CFLAGS) -MMD -MP
LDFLAGS  += -pie -Wl,-z,relro,-z,now $(LDSAN)

SRC      := $(wildcard src/*.c)
OBJ      := $(SRC:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/migrations.o
MIGRATIONS := $(sort $(wildcard sql/[0-9]*_*.sql))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check unit itest corpus corpus-report demo bench fuzz lint \
        clean install format
all: $(BUILD)/tickd $(BUILD)/tickctl

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(BUILD)/obj/daemon/%.o: daemon/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(BUILD)/obj/tests/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -c -o $@ $<

# The migrations are compiled in, so tickctl migrate needs no files.
$(BUILD)/gen/migrations.c: $(MIGRATIONS) sql/embed.sh
	@mkdir -p $(@D)
	sql/embed.sh $@ $(MIGRATIONS)
$(BUILD)/obj/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libcore.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tickd: $(BUILD)/obj/daemon/tickd.o $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(BUILD)/tickctl: $(BUILD)/obj/daemon/tickctl.o $(BUILD)/libcore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/libcore.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# Installs the build and test dependencies (Debian 12 packages only).
deps:
	tests/deps.sh

unit: $(UNIT_BIN)
	@tests/unit/run.sh $(UNIT_BIN)

# Every file of ../shared/corpora through the real parse path, with an
# ASan+UBSan build so that a crash or a leak fails the run.
corpus:
	$(MAKE) BUILD=build/asan SANITIZE=1 build/asan/tickctl
	tests/corpus.sh build/asan/tickctl

corpus-report: $(BUILD)/tickctl
	$(BUILD)/tickctl corpus-report $(or $(CORPORA),../shared/corpora)

itest: all
	tests/integration/run.sh

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) corpus
	$(MAKE) itest

demo: deps all
	tests/demo.sh

# Throughput, latency and RSS on a private stack (see README "Performance").
# Not part of `check`: it takes minutes.  N=100000 is the RSS soak run.
N ?= 10000
bench: all
	nice /usr/bin/python3 tests/bench/bench.py --n $(N) $(BENCH_ARGS)

lint:
	clang-format --dry-run --Werror src/*.c include/*.h daemon/*.c
	! grep -nE '\b(sprintf|strcpy|strcat|atoi|gets|strtok|system)\(' src/*.c daemon/*.c

format:
	clang-format -i src/*.c include/*.h daemon/*.c tests/unit/*.c

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(wildcard $(BUILD)/obj/daemon/*.d) $(wildcard $(BUILD)/obj/tests/*.d)
