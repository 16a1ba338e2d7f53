# vmspec build.  `make` builds build/vmspec; `make check` installs what is
# missing, builds, and runs every test; `make demo` boots examples/hello.yaml.
# `make ARCH=aarch64` on an x86_64 host cross-builds a static arm64 vmspec
# into build/aarch64/ (Debian's gcc-aarch64-linux-gnu and arm64 -dev
# packages; tests/install-deps installs them).

CC      ?= cc
HOST_ARCH := $(shell uname -m)
ARCH    ?= $(HOST_ARCH)
PKG_CONFIG ?= pkg-config
# liblzma decodes x86 bzImage payloads on the host (machine/x86/vmlinux.c).
PKGS_x86_64 := liblzma
# libisofs writes NoCloud seed images (machine/backend/nocloud-seed.c).
PKGS    = glib-2.0 yaml-0.1 libisofs-1 $(PKGS_$(ARCH))
# Debian 12's libfdt-dev ships no .pc file: fall back to plain -lfdt.
FDT_CFLAGS := $(shell $(PKG_CONFIG) --cflags libfdt 2>/dev/null)
FDT_LIBS   := $(shell $(PKG_CONFIG) --libs libfdt 2>/dev/null || echo -lfdt)
# What Debian's libisofs.a itself needs (its .pc file names none of it):
# libjte (jigdo templates; libjte.a needs libbz2 and zlib), libacl (ACLs,
# on glibc's xattr calls: no libattr) and zlib (zisofs, gzip filters).
JTE_LIBS   := -ljte
ISOFS_LIBS  = $(JTE_LIBS) -lacl -lbz2 -lz

ifneq ($(ARCH),$(HOST_ARCH))
# Cross build: the target's compiler and multiarch libraries, and its own
# libfdt.a (libfdt-dev is not co-installable across architectures, so its
# Debian package is unpacked under build/).  Linked fully static, so the
# binary runs wherever the kernel is aarch64 (the arm64 KVM sandbox).
DEB_ARCH_aarch64 := arm64
DEB_ARCH := $(or $(DEB_ARCH_$(ARCH)),$(ARCH))
ifeq ($(origin CC),default)
CC := $(ARCH)-linux-gnu-gcc
endif
ifeq ($(origin AR),default)
AR := $(ARCH)-linux-gnu-ar
endif
BUILD ?= build/$(ARCH)
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/$(ARCH)-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
CROSS_FDT := build/cross/$(ARCH)/libfdt.a
FDT_CFLAGS :=
FDT_LIBS   := $(CROSS_FDT)
# libjte-dev is not multi-arch either (libisofs-dev and libacl1-dev are).
CROSS_JTE  := build/cross/$(ARCH)/libjte.a
JTE_LIBS   := $(CROSS_JTE)
endif

# libslirp 4.7.0, the user-mode TCP/IP stack, built here from Debian 12's
# source tarball: Debian's libslirp-dev ships only libslirp.so, and
# build/vmspec links everything statically (static-pie).  The tarball is
# pinned by its sha256 (a mismatch fails the build); it is unpacked once in
# build/slirp/ and compiled once per ARCH with that ARCH's compiler and GLib
# into build/slirp/$(ARCH)/libslirp.a, shared by the plain and asan builds.
# The flags are meson.build's (gnu99, -DG_LOG_DOMAIN="Slirp", GLib's cflags;
# HAVE_VALGRIND is left out, as meson does where valgrind.h is missing), at
# -O2 -fPIE, without our -Werror warnings (third-party code) or sanitizers.
# Code uses it as #include <libslirp.h> (SLIRP_CFLAGS: the public headers
# only, copied beside the generated libslirp-version.h, so that slirp's
# internal util.h, debug.h, ... shadow nothing of ours).
SLIRP_VERSION := 4.7.0
SLIRP_TARBALL := build/slirp/libslirp_$(SLIRP_VERSION).orig.tar.bz2
SLIRP_URL     ?= http://deb.debian.org/debian/pool/main/libs/libslirp/$(notdir $(SLIRP_TARBALL))
SLIRP_SHA256  := 358ce8b6ea59ec9deac937cc754f0115b992839e7b0cddf30ffb8f77dc21da82
SLIRP_SRC     := build/slirp/libslirp-v$(SLIRP_VERSION)
SLIRP_INC     := build/slirp/include
SLIRP_HDRS    := $(SLIRP_INC)/libslirp.h $(SLIRP_INC)/libslirp-version.h
SLIRP_LIB     := build/slirp/$(ARCH)/libslirp.a
SLIRP_CFLAGS  := -I$(SLIRP_INC)
# meson.build's sources list.
SLIRP_NAMES   := arp_table bootp cksum dhcpv6 dnssearch if ip6_icmp ip6_input \
                 ip6_output ip_icmp ip_input ip_output mbuf misc ncsi \
                 ndp_table sbuf slirp socket state stream tcp_input \
                 tcp_output tcp_subr tcp_timer tftp udp udp6 util version \
                 vmstate
SLIRP_OBJS    := $(SLIRP_NAMES:%=build/slirp/$(ARCH)/obj/%.o)
SLIRP_BUILD_CFLAGS = -std=gnu99 -O2 -g -fPIE -w -D_FILE_OFFSET_BITS=64 \
                     '-DG_LOG_DOMAIN="Slirp"' -I$(SLIRP_SRC)/src -I$(SLIRP_INC) \
                     $(shell $(PKG_CONFIG) --cflags glib-2.0 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wmissing-prototypes \
            -Wstrict-prototypes -Wshadow -Wvla
CPPFLAGS += -I. -D_GNU_SOURCE
# CFLAGS/LDFLAGS are the user's (and the asan build's); the rest is ours.
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) -fno-strict-aliasing \
            $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(FDT_CFLAGS) \
            $(SLIRP_CFLAGS) $(VMSPEC_CFLAGS) $(CFLAGS)
# libslirp, GLib, libyaml, libfdt (and liblzma) are always linked statically (the unit tests and
# the ASan build keep only libc shared): a VMM that maps five shared
# libraries spends ~60 system calls and ~1.5 MiB of resident memory on the
# dynamic loader before it runs a guest.
STATIC_LIBS = glib-2.0 yaml-0.1 libisofs-1 $(PKGS_$(ARCH))
# libslirp.a comes first: it needs GLib.
DEP_LIBS := $(SLIRP_LIB) $(shell $(PKG_CONFIG) --static --libs $(STATIC_LIBS) 2>/dev/null | \
              sed 's/-pthread//; s/-lm//') $(ISOFS_LIBS) $(FDT_LIBS)
LDLIBS   += -Wl,-Bstatic $(DEP_LIBS) -Wl,-Bdynamic -lm -lpthread

# build/vmspec itself links libc statically too (STATIC=1, the default): with
# no dynamic loader, exec to the first KVM_RUN takes ~18 fewer system calls
# (loading libc.so: open, mmap, mprotect, ...) and ~0.8 MiB less resident
# memory; a cross-built binary runs wherever the kernel has its
# architecture.  static-pie keeps ASLR for the binary.  Nothing in vmspec
# uses dlopen, NSS or locales (no setlocale: the C locale, whose charset
# glibc's iconv has built in); GLib's gutils.o still references the passwd
# lookups, which a static glibc would serve by loading the host's libnss
# modules, so they are wrapped to report "no such user"
# (cmd/static-link.c).  Unit tests and the ASan build (`make asan`,
# STATIC=0: ASan needs the shared libc) link dynamically.
STATIC ?= 1
ifeq ($(STATIC),1)
VMSPEC_CFLAGS  := -fPIE
VMSPEC_LDFLAGS := -static-pie -Wl,--wrap=getpwnam_r -Wl,--wrap=getpwuid_r \
                  -Wl,--wrap=getpwuid -Wl,--wrap=getpwnam -Wl,--wrap=getgrnam \
                  -Wl,--wrap=getgrgid
VMSPEC_LDLIBS  := $(DEP_LIBS) -lm -lpthread
else
VMSPEC_CFLAGS  :=
VMSPEC_LDFLAGS :=
VMSPEC_LDLIBS  := $(LDLIBS)
endif

VERSION  := 0.1.0
CPPFLAGS += -DVMSPEC_VERSION='"$(VERSION)"'

BUILD    ?= build

# `make V=1` shows full command lines.
ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @printf '  %-6s %s\n'
endif

# Everything but cmd/ is the library; objects are linked directly (not through
# an archive) so that every file's type_init() constructor is kept.
# The KVM code of each architecture builds only for it; the rest (machine
# types included, so that specs check and plan anywhere) builds for all.
ARCH_ONLY_x86_64  := machine/x86/cpu.c machine/x86/boot.c \
                     machine/x86/boot-entry.c machine/x86/vmlinux.c
ARCH_ONLY_aarch64 := machine/arm64/cpu.c machine/arm64/gic.c
OTHER_ARCH_SRCS := $(filter-out $(ARCH_ONLY_$(ARCH)), \
                     $(ARCH_ONLY_x86_64) $(ARCH_ONLY_aarch64))
LIB_SRCS  := $(filter-out $(OTHER_ARCH_SRCS), \
               $(sort $(wildcard spec/*.c machine/*/*.c machine/*.c)))
CMD_SRCS  := $(sort $(wildcard cmd/*.c))
TEST_SRCS := $(sort $(wildcard tests/unit/test-*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz-*.c))

LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/%.o)
CMD_OBJS  = $(CMD_SRCS:%.c=$(BUILD)/%.o)
TEST_BINS = $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.SECONDARY:
.PHONY: all asan check unit-tests demo bench fuzz clean deps guest dev-image
all: $(BUILD)/vmspec

$(BUILD)/vmspec: $(CMD_OBJS) $(LIB_OBJS) $(CROSS_FDT) $(CROSS_JTE) $(SLIRP_LIB)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(VMSPEC_LDFLAGS) -o $@ \
	    $(CMD_OBJS) $(LIB_OBJS) $(VMSPEC_LDLIBS)

# The target's libfdt.a, from its Debian package (cross builds only).
build/cross/%/libfdt.a:
	@mkdir -p $(dir $@)/deb
	$(quiet) FETCH libfdt-dev:$(DEB_ARCH)
	$(Q)cd $(dir $@)/deb && rm -f *.deb && \
	    apt-get download -q -o APT::Sandbox::User=root \
	        libfdt-dev:$(DEB_ARCH) >/dev/null && \
	    dpkg-deb -x libfdt-dev_*.deb root
	$(Q)cp $(dir $@)/deb/root/usr/lib/$*-linux-gnu/libfdt.a $@

# The target's libjte.a, likewise (libisofs.a needs it).
build/cross/%/libjte.a:
	@mkdir -p $(dir $@)/jte-deb
	$(quiet) FETCH libjte-dev:$(DEB_ARCH)
	$(Q)cd $(dir $@)/jte-deb && rm -f *.deb && \
	    apt-get download -q -o APT::Sandbox::User=root \
	        libjte-dev:$(DEB_ARCH) >/dev/null && \
	    dpkg-deb -x libjte-dev_*.deb root
	$(Q)cp $(dir $@)/jte-deb/root/usr/lib/$*-linux-gnu/libjte.a $@

$(SLIRP_TARBALL):
	@mkdir -p $(dir $@)
	$(quiet) FETCH $(SLIRP_URL)
	$(Q)rm -f $@.tmp; \
	if command -v curl >/dev/null; then \
	    curl -fsSL --retry 3 -o $@.tmp '$(SLIRP_URL)'; \
	else \
	    wget -q -O $@.tmp '$(SLIRP_URL)'; \
	fi || { rm -f $@.tmp; echo "libslirp: cannot fetch $(SLIRP_URL)" >&2; \
	        exit 1; }; \
	sum=$$(sha256sum $@.tmp | cut -d' ' -f1); \
	if [ "$$sum" != $(SLIRP_SHA256) ]; then \
	    rm -f $@.tmp; \
	    echo "libslirp: $(SLIRP_URL) has sha256 $$sum," \
	         "expected $(SLIRP_SHA256)" >&2; \
	    exit 1; \
	fi; \
	mv $@.tmp $@

$(SLIRP_SRC)/.unpacked: $(SLIRP_TARBALL)
	$(quiet) UNPACK $<
	$(Q)rm -rf $(SLIRP_SRC) && tar -xjf $< -C $(dir $<) && touch $@

# meson.build's configure_file(): the version, split, and quoted in full.
$(SLIRP_INC)/libslirp-version.h: $(SLIRP_SRC)/.unpacked
	@mkdir -p $(dir $@)
	$(quiet) GEN $@
	$(Q)v='$(SLIRP_VERSION)'; sed -e "s/@SLIRP_MAJOR_VERSION@/$${v%%.*}/" \
	    -e "s/@SLIRP_MINOR_VERSION@/$$(echo $$v | cut -d. -f2)/" \
	    -e "s/@SLIRP_MICRO_VERSION@/$${v##*.}/" \
	    -e "s/@SLIRP_VERSION_STRING@/\"$$v\"/" \
	    $(SLIRP_SRC)/src/libslirp-version.h.in >$@.tmp && mv $@.tmp $@

$(SLIRP_INC)/libslirp.h: $(SLIRP_SRC)/.unpacked
	@mkdir -p $(dir $@)
	$(Q)cp $(SLIRP_SRC)/src/libslirp.h $@

$(SLIRP_OBJS): build/slirp/$(ARCH)/obj/%.o: $(SLIRP_SRC)/.unpacked $(SLIRP_HDRS)
	@mkdir -p $(dir $@)
	$(quiet) CC $@
	$(Q)$(CC) $(SLIRP_BUILD_CFLAGS) -c -o $@ $(SLIRP_SRC)/src/$*.c

$(SLIRP_LIB): $(SLIRP_OBJS)
	$(quiet) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB_OBJS) $(SLIRP_LIB)
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

# Any object may include <libslirp.h>: the headers come first (their
# changes are then tracked by the .d files).
$(BUILD)/%.o: %.c | $(SLIRP_HDRS)
	@mkdir -p $(dir $@)
	$(quiet) CC $@
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

unit-tests: $(TEST_BINS)

# AddressSanitizer + UBSan build of the same tree, in build/asan.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="$(ASAN_FLAGS)" \
	    LDFLAGS="-fsanitize=address,undefined" STATIC=0 \
	    build/asan/vmspec unit-tests

deps:
	@tests/install-deps

# Unit tests under ASan/UBSan, then the end-to-end tests with the plain build
# (test-x86-boot boots Linux, so tests/e2e/x86-boot.sh runs it under KVM).
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory ARCH=aarch64
	@tests/guest/build
	@tests/guest/build --arch aarch64
	@tests/run-tests $(filter-out %/test-x86-boot, \
	    $(TEST_SRCS:tests/unit/%.c=build/asan/tests/%)) \
	    $(sort $(wildcard tests/cli/*.sh tests/e2e/*.sh))

# The newcomer's path: dependencies, build, the test guest, then
# examples/hello.yaml under real KVM (inside tests/kvm-sandbox when this
# host has no usable /dev/kvm; it says so).
demo: deps
	@$(MAKE) --no-print-directory all
	@tests/guest/build
	@mkdir -p build/demo && [ -f build/demo/data.img ] || \
	    truncate -s 64M build/demo/data.img
	@tests/kvm-sandbox sh -c 'build/vmspec run examples/hello.yaml && \
	    build/vmspec run examples/devices.yaml'

# The Debian 12 image of examples/dev.yaml (build/dev-image/), cached.
dev-image: deps
	@examples/dev-image/build

# Benchmarks: ratios against peers measured in the same run.
bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/kvm-floor
	@for b in tests/bench/*.sh; do echo "== $$b"; $$b || exit 1; done

# boot.sh's reference: the least a VMM does before its first KVM_RUN,
# linked like build/vmspec (static-pie).
$(BUILD)/bench/kvm-floor: tests/bench/kvm-floor.c
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -fPIE -static-pie -o $@ $< -lpthread

clean:
	rm -rf build

-include $(shell find $(BUILD) -path $(BUILD)/dev-image -prune -o -name '*.d' -type f -print 2>/dev/null)

# ---- Fuzzing (clang + libFuzzer; needs libclang-rt-14-dev) ----------------
# `make fuzz` builds build/fuzz/fuzz-NAME from each tests/fuzz/fuzz-NAME.c,
# linked with every library object (everything but cmd/), all compiled by
# clang with the same -fsanitize=fuzzer,address,undefined flags.
# `make fuzz-smoke` runs each target for FUZZ_SECONDS from its seed corpus
# (tests/fuzz/corpus/NAME plus every .yaml under tests/ and examples/), with
# leak detection; it fails on any crash, leak, timeout or sanitizer report.
# Crash inputs land in build/fuzz/artifacts/.
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 20
FUZZ_FLAGS   := -O1 -g -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=gnu11 $(patsubst -Wshadow=local,-Wshadow,$(WARN)) \
                -fno-strict-aliasing \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
                $(FDT_CFLAGS) $(SLIRP_CFLAGS) $(FUZZ_FLAGS)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BINS    := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

.PHONY: fuzz-smoke
fuzz: $(FUZZ_BINS)

$(FUZZ_LIB_OBJS): $(FUZZ_BUILD)/%.o: %.c | $(SLIRP_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BINS:%=%.o): $(FUZZ_BUILD)/%.o: tests/fuzz/%.c | $(SLIRP_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BINS): $(FUZZ_BUILD)/%: $(FUZZ_BUILD)/%.o $(FUZZ_LIB_OBJS) $(SLIRP_LIB)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

fuzz-smoke: fuzz
	@set -e; for bin in $(FUZZ_BINS); do \
	    name=$$(basename $$bin); \
	    work=$(FUZZ_BUILD)/corpus/$$name; \
	    mkdir -p $$work $(FUZZ_BUILD)/artifacts; \
	    for f in $$(find tests examples -name '*.yaml' 2>/dev/null) \
	             $$(find tests/fuzz/corpus/$$name -type f 2>/dev/null); do \
	        cp "$$f" $$work/seed-$$(echo "$$f" | tr / _); \
	    done; \
	    dict=; [ -f tests/fuzz/yaml.dict ] && dict=-dict=tests/fuzz/yaml.dict; \
	    echo "fuzz-smoke: $$name for $(FUZZ_SECONDS)s"; \
	    ASAN_OPTIONS=detect_leaks=1 $$bin $$work $$dict \
	        -max_total_time=$(FUZZ_SECONDS) -detect_leaks=1 -timeout=10 \
	        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$name- \
	        >$(FUZZ_BUILD)/$$name.log 2>&1 || \
	        { tail -n 40 $(FUZZ_BUILD)/$$name.log; \
	          echo "fuzz-smoke: $$name FAILED"; exit 1; }; \
	    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' \
	        $(FUZZ_BUILD)/$$name.log | tail -n 2; \
	done
