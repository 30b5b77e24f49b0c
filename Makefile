# tickd - GNU make + pkg-config.  `make` builds build/tickd and build/tickctl.
# make check [SANITIZE=1]  unit tests (also under ASan+UBSan), corpus run, integration
#                          tests on real servers; make fuzz: every parser
# make demo                a private stack, sample mail, tickets, ack, escalation

PKGS     := libcurl gmime-3.0 libpq libconfig libxml-2.0 glib-2.0 uchardet
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

.PHONY: all deps check unit unit-asan itest corpus corpus-report demo bench fuzz lint \
        clean install format FORCE
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
# migrations.list holds their names and changes only when the set does: a
# migration gone (a checkout of an older commit) rebuilds too, where the
# files' times alone would keep embedding it.
$(BUILD)/gen/migrations.list: FORCE
	@mkdir -p $(@D)
	@echo '$(MIGRATIONS)' | cmp -s - $@ || echo '$(MIGRATIONS)' >$@
$(BUILD)/gen/migrations.c: $(MIGRATIONS) $(BUILD)/gen/migrations.list sql/embed.sh
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
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/obj/tests/testutil.o \
                 $(BUILD)/libcore.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# Installs the build and test dependencies (Debian 12 packages only).
deps:
	tests/deps.sh

unit: $(UNIT_BIN)
	@tests/unit/run.sh $(UNIT_BIN)

# The unit tests again with ASan+UBSan: a leak, an overflow or undefined
# behaviour fails them (make check runs both).
unit-asan:
	$(MAKE) BUILD=build/asan SANITIZE=1 unit

# Every file of ../shared/corpora through the real parse path, with an
# ASan+UBSan build so that a crash or a leak fails the run.
corpus:
	$(MAKE) BUILD=build/asan SANITIZE=1 build/asan/tickctl
	tests/corpus.sh build/asan/tickctl

# One line per corpus, then the agreement with Stalwart's expected parses.
corpus-report: $(BUILD)/tickctl
	$(BUILD)/tickctl corpus-report $(or $(CORPORA),../shared/corpora) \
	  --json $(BUILD)/corpus-report.json
	/usr/bin/python3 tests/corpus_compare.py $(BUILD)/corpus-report.json \
	  $(or $(CORPORA),../shared/corpora)

# libFuzzer, with ASan and UBSan, on every parser of untrusted bytes: MIME
# (mime.c, html.c, quote.c), IMAP responses (imap_parse.c),
# Authentication-Results (authres.c), agents' commands (command.c),
# templates (template.c) and forwarded mail (forward.c).  One binary per
# target, built from tests/fuzz/fuzz_<target>.c and FUZZ_SRC_<target>.  `make fuzz` runs each
# for FUZZ_SECONDS: first it replays the earlier finds kept as unit
# fixtures under tests/unit/fixtures/fuzz/<target>/, then it fuzzes from
# tests/fuzz/seeds/<target>/ with tests/fuzz/<target>.dict (MIME also from
# every file of the corpora, mbox files split, built under
# build/fuzz/seed/mime).  New inputs go to
# build/fuzz/corpus/<target>, crashes to build/fuzz/artifacts/<target>.
# `make fuzz-imap` runs one; FUZZ_SECONDS=1800 FUZZ_JOBS=1 for a long run.
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_MAX_LEN ?= 131072
FUZZ_CC      ?= clang
FUZZ_TARGETS := mime imap authres command template searchdoc forward
FUZZ_SRC_mime     := src/mime.c src/html.c src/quote.c
FUZZ_SRC_imap     := src/imap_parse.c src/log.c
FUZZ_SRC_authres  := src/authres.c
FUZZ_SRC_command  := src/command.c
FUZZ_SRC_template := src/template.c
FUZZ_SRC_searchdoc := src/searchdoc.c
FUZZ_SRC_forward  := src/forward.c src/mime.c src/html.c src/quote.c
FUZZ_PREP_mime     = tests/fuzz/seed.sh $(BUILD)/fuzz/seed/mime \
                     $(or $(CORPORA),../shared/corpora)
.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRC_$$*) $(wildcard include/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=gnu11 -O1 -g -fno-omit-frame-pointer \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -Iinclude $(PKG_CFLAGS) -o $@ $< $(FUZZ_SRC_$*) $(PKG_LIBS) -lm
fuzz: $(FUZZ_TARGETS:%=fuzz-%)
fuzz-%: $(BUILD)/fuzz/fuzz_%
	$(if $(wildcard tests/unit/fixtures/fuzz/$*/*),$< tests/unit/fixtures/fuzz/$*/*)
	$(FUZZ_PREP_$*)
	@mkdir -p $(BUILD)/fuzz/corpus/$* $(BUILD)/fuzz/artifacts/$* \
	  $(BUILD)/fuzz/seed/$*
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	$< -max_total_time=$(FUZZ_SECONDS) \
	  $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) \
	  -max_len=$(FUZZ_MAX_LEN) \
	  -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
	  -artifact_prefix=$(BUILD)/fuzz/artifacts/$*/ \
	  $(if $(wildcard tests/fuzz/$*.dict),-dict=tests/fuzz/$*.dict) \
	  $(BUILD)/fuzz/corpus/$* tests/fuzz/seeds/$* $(BUILD)/fuzz/seed/$*

itest: all
	tests/integration/run.sh

check: deps
	$(MAKE) all
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) corpus
	$(MAKE) itest

demo: deps all
	tests/demo.sh

# Throughput, latency and RSS on a private stack (see README "Performance").
# Not part of `check`: it takes minutes.  N=100000 is the RSS soak run.
N ?= 10000
# N_EXISTING=1000000: also the held run into a database of that many tickets
N_EXISTING ?= 0
bench: all
	nice /usr/bin/python3 tests/bench/bench.py --n $(N) --existing $(N_EXISTING) $(BENCH_ARGS)

LINT_SRC := src/*.c src/*.h include/*.h daemon/*.c tests/unit/*.c \
            tests/unit/*.h tests/fuzz/*.c
lint:
	clang-format --dry-run --Werror $(LINT_SRC)
	! grep -nE '\b(sprintf|strcpy|strcat|atoi|gets|strtok|system)\(' src/*.c daemon/*.c

format:
	clang-format -i $(LINT_SRC)

clean:
	rm -rf build

# make install [PREFIX=/usr/local] [DESTDIR=]: binaries, the unit (paths
# rewritten to PREFIX), sysusers.d, tmpfiles.d, the example config as
# /etc/tickd/tickd.conf (never over an existing one), the migrations and
# the man pages.  systemd searches $(PREFIX)/lib/systemd/system for
# PREFIX=/usr/local too.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR     := $(PREFIX)/bin
UNITDIR    := $(PREFIX)/lib/systemd/system
SYSUSERSDIR := $(PREFIX)/lib/sysusers.d
TMPFILESDIR := $(PREFIX)/lib/tmpfiles.d
DATADIR    := $(PREFIX)/share/tickd
MANDIR     := $(PREFIX)/share/man
MANPAGES   := daemon/tickd.8 daemon/tickctl.1 conf/tickd.conf.5
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(DATADIR)/sql $(DESTDIR)$(SYSCONFDIR)/tickd \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/tickd $(BUILD)/tickctl $(DESTDIR)$(BINDIR)/
	sed -e 's|/usr/bin/tickd|$(BINDIR)/tickd|g' \
	    -e 's|/etc/tickd/|$(SYSCONFDIR)/tickd/|g' systemd/tickd.service \
		> $(DESTDIR)$(UNITDIR)/tickd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tickd.service
	install -m 0644 systemd/tickd.sysusers $(DESTDIR)$(SYSUSERSDIR)/tickd.conf
	install -m 0644 systemd/tickd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/tickd.conf
	install -m 0644 $(MIGRATIONS) $(DESTDIR)$(DATADIR)/sql/
	install -m 0644 conf/tickd.conf.example $(DESTDIR)$(DATADIR)/
	test -e $(DESTDIR)$(SYSCONFDIR)/tickd/tickd.conf || \
		install -m 0640 conf/tickd.conf.example \
			$(DESTDIR)$(SYSCONFDIR)/tickd/tickd.conf
	install -m 0644 daemon/tickctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 conf/tickd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 daemon/tickd.8 $(DESTDIR)$(MANDIR)/man8/
	# mail templates: a pristine copy, and the admin's copy
	# once, never over an edited one
	rm -rf $(DESTDIR)$(DATADIR)/templates
	cp -R conf/templates $(DESTDIR)$(DATADIR)/templates
	test -e $(DESTDIR)$(SYSCONFDIR)/tickd/templates || \
		cp -R conf/templates $(DESTDIR)$(SYSCONFDIR)/tickd/templates

-include $(OBJ:.o=.d) $(wildcard $(BUILD)/obj/daemon/*.d) $(wildcard $(BUILD)/obj/tests/*.d)
