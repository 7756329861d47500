# SPDX-License-Identifier: GPL-2.0-or-later
# TracingPolicy YAML parser (daemon/policy_parse.c).
check_PROGRAMS += tests/unit/test-policy-parse
TESTS += tests/unit/test-policy-parse
tests_unit_test_policy_parse_SOURCES = tests/unit/test-policy-parse.c
tests_unit_test_policy_parse_CFLAGS = $(TEST_CFLAGS) $(YAML_CFLAGS) -DSRCDIR=\"$(abs_top_srcdir)\"
tests_unit_test_policy_parse_LDADD = daemon/libvigild.la
EXTRA_DIST += tests/data/policy

# The fuzz corpus (tests/data/policy/ plus tests/fuzz/corpus-policy/) replayed through the fuzz
# entry point on every `make check`, without libFuzzer: crashes and sanitizer reports fail it.
check_PROGRAMS += tests/fuzz/fuzz-policy-replay
TESTS += tests/fuzz/fuzz-policy-replay
tests_fuzz_fuzz_policy_replay_SOURCES = tests/fuzz/fuzz-policy.c
tests_fuzz_fuzz_policy_replay_CFLAGS = $(TEST_CFLAGS) $(YAML_CFLAGS) -DFUZZ_REPLAY_MAIN
tests_fuzz_fuzz_policy_replay_LDADD = daemon/libvigild.la
EXTRA_DIST += tests/fuzz/corpus-policy

# libFuzzer target, built by `make fuzz` (tests/config.mk) like fuzz-config:
#   mkdir -p fuzz-corpus && cp $(top_srcdir)/tests/data/policy/* fuzz-corpus/
#   ./tests/fuzz/fuzz-policy -max_total_time=60 fuzz-corpus
FUZZ_POLICY_SRC = tests/fuzz/fuzz-policy.c daemon/policy_parse.c daemon/config.c daemon/log.c
fuzz: tests/fuzz/fuzz-policy
tests/fuzz/fuzz-policy: $(addprefix $(top_srcdir)/,$(FUZZ_POLICY_SRC))
	$(AM_V_CCLD)$(MKDIR_P) tests/fuzz && $(CLANG) $(FUZZ_CFLAGS) $(DEFS) $(AM_CPPFLAGS) \
		$(CPPFLAGS) $(LIBBPF_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(YAML_CFLAGS) -o $@ \
		$(addprefix $(top_srcdir)/,$(FUZZ_POLICY_SRC)) $(LIBBPF_LIBS) $(LIBSYSTEMD_LIBS) \
		$(YAML_LIBS)
CLEANFILES += tests/fuzz/fuzz-policy
