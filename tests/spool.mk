# SPDX-License-Identifier: GPL-2.0-or-later
# The per-output disk spool (daemon/spool.c): unit tests in private temp directories, and a
# root-only disk-full test on a 1 MiB tmpfs driven by spool-driver.
check_PROGRAMS += tests/spool/test-spool tests/spool/spool-driver
TESTS += tests/spool/test-spool tests/spool/test-spool-enospc.sh
EXTRA_DIST += tests/spool/test-spool-enospc.sh

tests_spool_test_spool_SOURCES = tests/spool/test-spool.c
tests_spool_test_spool_CFLAGS = $(TEST_CFLAGS)
tests_spool_test_spool_LDADD = daemon/libvigild.la $(ZLIB_LIBS)

tests_spool_spool_driver_SOURCES = tests/spool/spool-driver.c
tests_spool_spool_driver_CFLAGS = $(TEST_CFLAGS)
tests_spool_spool_driver_LDADD = daemon/libvigild.la
