# SPDX-License-Identifier: GPL-2.0-or-later
check_PROGRAMS += tests/unit/test-config
TESTS += tests/unit/test-config
tests_unit_test_config_SOURCES = tests/unit/test-config.c
tests_unit_test_config_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_config_LDADD = daemon/libvigild.la

# libFuzzer target, never part of `make check`. Build with `make fuzz` (needs clang), then run:
#   mkdir -p fuzz-corpus && cp $(top_srcdir)/conf.d/vigild.conf fuzz-corpus/
#   ./tests/fuzz/fuzz-config -max_total_time=60 fuzz-corpus
# A crash input can be replayed with ./tests/fuzz/fuzz-config crash-<hash>.
EXTRA_DIST += tests/fuzz/fuzz-config.c
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
FUZZ_CONFIG_SRC = tests/fuzz/fuzz-config.c daemon/config.c daemon/log.c
.PHONY: fuzz
fuzz: tests/fuzz/fuzz-config
tests/fuzz/fuzz-config: $(addprefix $(top_srcdir)/,$(FUZZ_CONFIG_SRC))
	$(AM_V_CCLD)$(MKDIR_P) tests/fuzz && $(CLANG) $(FUZZ_CFLAGS) $(DEFS) $(AM_CPPFLAGS) \
		$(CPPFLAGS) $(LIBBPF_CFLAGS) $(LIBSYSTEMD_CFLAGS) -o $@ \
		$(addprefix $(top_srcdir)/,$(FUZZ_CONFIG_SRC)) $(LIBBPF_LIBS) $(LIBSYSTEMD_LIBS)
CLEANFILES += tests/fuzz/fuzz-config
