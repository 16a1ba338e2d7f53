# vmspec build.  `make` builds build/vmspec; `make check` installs what is
# missing, builds, and runs every test; `make demo` boots examples/hello.yaml.

CC      ?= cc
PKGS    := glib-2.0 yaml-0.1
# Debian 12's libfdt-dev ships no .pc file: fall back to plain -lfdt.
FDT_CFLAGS := $(shell pkg-config --cflags libfdt 2>/dev/null)
FDT_LIBS   := $(shell pkg-config --libs libfdt 2>/dev/null || echo -lfdt)

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wmissing-prototypes \
            -Wstrict-prototypes -Wshadow -Wvla
CPPFLAGS += -I. -D_GNU_SOURCE
# CFLAGS/LDFLAGS are the user's (and the asan build's); the rest is ours.
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) -fno-strict-aliasing \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(FDT_CFLAGS) \
            $(CFLAGS)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(FDT_LIBS) -lpthread

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
LIB_SRCS  := $(sort $(wildcard spec/*.c machine/*/*.c machine/*.c))
CMD_SRCS  := $(sort $(wildcard cmd/*.c))
TEST_SRCS := $(sort $(wildcard tests/unit/test-*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz-*.c))

LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/%.o)
CMD_OBJS  = $(CMD_SRCS:%.c=$(BUILD)/%.o)
TEST_BINS = $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.SECONDARY:
.PHONY: all asan check unit-tests demo bench fuzz clean deps guest
all: $(BUILD)/vmspec

$(BUILD)/vmspec: $(CMD_OBJS) $(LIB_OBJS)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(quiet) CC $@
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

unit-tests: $(TEST_BINS)

# AddressSanitizer + UBSan build of the same tree, in build/asan.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="$(ASAN_FLAGS)" \
	    LDFLAGS="-fsanitize=address,undefined" build/asan/vmspec unit-tests

deps:
	@tests/install-deps

# Unit tests under ASan/UBSan, then the end-to-end tests with the plain build.
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory asan
	@tests/run-tests $(TEST_SRCS:tests/unit/%.c=build/asan/tests/%) \
	    $(sort $(wildcard tests/cli/*.sh tests/e2e/*.sh))

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
