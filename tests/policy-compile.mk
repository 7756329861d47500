# SPDX-License-Identifier: GPL-2.0-or-later
# tracefs format reader and policy compiler: unit tests on a fixture tracefs tree (no root).
check_PROGRAMS += tests/unit/test-tracefs tests/unit/test-policy-compile
TESTS += tests/unit/test-tracefs tests/unit/test-policy-compile
tests_unit_test_tracefs_SOURCES = tests/unit/test-tracefs.c
tests_unit_test_tracefs_CFLAGS = $(TEST_CFLAGS) -DTRACEFS_FIXTURES='"$(abs_top_srcdir)/tests/data/tracefs"'
tests_unit_test_tracefs_LDADD = daemon/libvigild.la
tests_unit_test_policy_compile_SOURCES = tests/unit/test-policy-compile.c
tests_unit_test_policy_compile_CFLAGS = $(TEST_CFLAGS) -DTRACEFS_FIXTURES='"$(abs_top_srcdir)/tests/data/tracefs"'
tests_unit_test_policy_compile_LDADD = daemon/libvigild.la
EXTRA_DIST += tests/data/tracefs
