# phasebox — top-level Makefile.  Gentoo norms: the user's CXXFLAGS/LDFLAGS are appended
# to, never replaced; no stripping, no capabilities, never setuid at install time.
VERSION     := 0.1.0
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
LIBEXECDIR  ?= $(PREFIX)/libexec/phasebox
DATADIR     ?= $(PREFIX)/share/phasebox
MANDIR      ?= $(PREFIX)/share/man
SYSCONFDIR  ?= /etc
DESTDIR     ?=

CXX         ?= g++
CXXFLAGS    ?= -O2 -g
LDFLAGS     ?=
PKG_CONFIG  ?= pkg-config
WERROR      ?=
SANITIZE    ?=

B := build
PB_CXXFLAGS := -std=c++20 -Wall -Wextra -Wformat=2 -Wshadow -Wnon-virtual-dtor \
	-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DPHASEBOX_VERSION='"$(VERSION)"' -Ihelpers \
	$(shell $(PKG_CONFIG) --cflags mount libcap)
PB_LIBS := -Wl,--as-needed $(shell $(PKG_CONFIG) --libs mount libcap)
ifeq ($(WERROR),1)
PB_CXXFLAGS += -Werror
endif
ifeq ($(SANITIZE),1)
PB_CXXFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
PB_LDFLAGS  += -fsanitize=address,undefined
endif

COMMON_SRC := $(wildcard helpers/common/*.cc)
COMMON_OBJ := $(COMMON_SRC:%.cc=$(B)/%.o)
HELPERS    := phasebox-cgroup phasebox-unshare phasebox-reap phasebox-service
HELPER_BIN := $(HELPERS:%=$(B)/%)
# The user-facing `phasebox`: its dispatcher and one file per subcommand (helpers/cmd/).
CMD_SRC    := $(wildcard helpers/cmd/*.cc)
CMD_OBJ    := $(CMD_SRC:%.cc=$(B)/%.o)
UNIT_SRC   := $(wildcard tests/unit/*.cc)
UNIT_OBJ   := $(UNIT_SRC:%.cc=$(B)/%.o)
MANPAGES   := $(wildcard man/*.[1-8])
# Each page into the directory of its section (man/foo.5 → $(MANDIR)/man5/foo.5).
MANSECTIONS := $(sort $(patsubst .%,%,$(suffix $(MANPAGES))))
# What `make dist` packs: every file of HEAD (git archive), nothing of build/.
DIST       := phasebox-$(VERSION)

all: $(HELPER_BIN) $(B)/phasebox

$(B)/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(PB_CXXFLAGS) $(CXXFLAGS) -MMD -MP -c -o $@ $<

$(B)/libphasebox-common.a: $(COMMON_OBJ)
	$(AR) rcs $@ $^

$(B)/phasebox-%: $(B)/helpers/phasebox-%.o $(B)/libphasebox-common.a
	$(CXX) $(PB_CXXFLAGS) $(CXXFLAGS) $(LDFLAGS) $(PB_LDFLAGS) -o $@ $^ $(PB_LIBS)

$(B)/phasebox: $(B)/helpers/phasebox.o $(CMD_OBJ) $(B)/libphasebox-common.a
	$(CXX) $(PB_CXXFLAGS) $(CXXFLAGS) $(LDFLAGS) $(PB_LDFLAGS) -o $@ $^ $(PB_LIBS)

# The snippet for the test suite: helpers straight from the build tree.  (The installed
# one gets its paths at install time, so a later PREFIX is never stale.)
$(B)/test/phasebox.bashrc: bashrc.d/phasebox.bashrc
	@mkdir -p $(@D)
	sed -e 's|@LIBEXECDIR@|$(abspath $(B))|g' -e 's|@DATADIR@|$(abspath $(B))/test|g' $< > $@

$(B)/unit-tests: $(UNIT_OBJ) $(B)/libphasebox-common.a
	$(CXX) $(PB_CXXFLAGS) $(CXXFLAGS) $(LDFLAGS) $(PB_LDFLAGS) -o $@ $^ $(PB_LIBS) -lgtest_main -lgtest -pthread

$(B)/phasebox-probe: tests/probe/probe.cc
	@mkdir -p $(@D)
	$(CXX) $(PB_CXXFLAGS) $(CXXFLAGS) $(LDFLAGS) $(PB_LDFLAGS) -o $@ $< $(PB_LIBS)

check: check-unit check-eclass check-bats check-e2e check-dist

check-unit: $(B)/unit-tests
	$(B)/unit-tests --gtest_brief=1

check-bats: all $(B)/phasebox-probe $(B)/test/phasebox.bashrc
	PHASEBOX_BUILD=$(abspath $(B)) bats --print-output-on-failure tests/bats

# phasebox.eclass and the bashrc snippet in a stubbed Portage environment (tests/eclass,
# in the style of ::gentoo's eclass/tests).  Needs no root: the ebuild's src_test runs it.
check-eclass: all $(B)/test/phasebox.bashrc
	PHASEBOX_BUILD=$(abspath $(B)) bats --print-output-on-failure tests/eclass

# The release tarball: HEAD as git has it (uncommitted changes are not in it).
dist: $(DIST).tar.gz
$(DIST).tar.gz: FORCE
	git archive --format=tar --prefix=$(DIST)/ HEAD | gzip -n -9 > $@.tmp && mv $@.tmp $@

# The tarball alone builds and passes the tests that need no real Portage.
check-dist: dist
	tests/dist/check $(DIST).tar.gz

# Real Portage (see tests/e2e/run for how it is found; it says SKIPPED when it is not).
# What phasebox costs per emerge, against real Portage: prints medians and ratios to the
# no-token baseline of the same run; asserts nothing (tests/e2e/bench).
bench: all
	tests/e2e/bench

check-e2e: all
	@rc=0; tests/e2e/run || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo '*** check-e2e: SKIPPED: real Portage was NOT tested (see above) ***'; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi

# Debian packages needed to build and test (a Gentoo system gets them from the ebuild).
DEBIAN_DEPS := g++ make pkg-config libcap-dev libmount-dev libcli11-dev libgtest-dev bats \
	util-linux procps psmisc iproute2 shellcheck cppcheck python3
deps:
	@if command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_DEPS); \
	else \
		echo "deps: no apt-get here; install libcap, util-linux (libmount), CLI11, GoogleTest and bats-core"; \
	fi

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DATADIR) \
		$(MANSECTIONS:%=$(DESTDIR)$(MANDIR)/man%)
	install -m 0755 $(B)/phasebox $(DESTDIR)$(BINDIR)/
	install -m 0755 $(HELPER_BIN) $(DESTDIR)$(LIBEXECDIR)/
	sed -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' bashrc.d/phasebox.bashrc \
		> $(DESTDIR)$(DATADIR)/phasebox.bashrc
	chmod 0644 $(DESTDIR)$(DATADIR)/phasebox.bashrc
	$(foreach n,$(MANSECTIONS),install -m 0644 $(filter %.$(n),$(MANPAGES)) $(DESTDIR)$(MANDIR)/man$(n)/ &&) true

# Opt-in: turn the snippet on for bashrc.d loaders (app-portage/portage-bashrc-mv, or a
# loop over /etc/portage/bashrc.d/*.sh in /etc/portage/bashrc).  "00-" sorts it first: what
# is sourced before it runs twice in an isolated phase.
install-bashrc-d:
	install -d $(DESTDIR)$(SYSCONFDIR)/portage/bashrc.d
	ln -sf $(DATADIR)/phasebox.bashrc $(DESTDIR)$(SYSCONFDIR)/portage/bashrc.d/00-phasebox.sh

format:
	clang-format -i helpers/*.cc helpers/common/*.cc helpers/common/*.hh helpers/cmd/*.cc helpers/cmd/*.hh tests/unit/*.cc tests/probe/*.cc

lint:
	shellcheck -x -P tests/e2e -s bash bashrc.d/phasebox.bashrc eclass/phasebox.eclass tests/eclass/helpers/fake-phase.sh tests/dist/check tests/e2e/run tests/e2e/bench .ci/run
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Ihelpers helpers

clean:
	rm -rf $(B) $(DIST).tar.gz

FORCE:

.PHONY: all check check-unit check-eclass check-bats check-e2e check-dist dist bench deps install install-bashrc-d format lint clean FORCE
-include $(COMMON_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(B)/helpers/phasebox.d $(HELPERS:%=$(B)/helpers/%.d)
