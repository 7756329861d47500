# SPDX-License-Identifier: GPL-2.0-or-later
# Policy events: decode of VIGIL_EV_POLICY, process_kprobe/process_tracepoint records, their
# JSON, compact and journald renderings.
check_PROGRAMS += tests/unit/test-policy-record tests/plugins/journald-policy-driver
TESTS += tests/unit/test-policy-record

tests_unit_test_policy_record_SOURCES = tests/unit/test-policy-record.c \
	tests/unit/record-fixtures.h tests/unit/policy-record-fixtures.h
tests_unit_test_policy_record_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_policy_record_LDADD = daemon/libvigild.la plugins/common/libvigil-common.la \
	$(MSGPACK_LIBS)

# Helper of tests/plugins/test-journald.sh: real policy records through out_journald.so.
tests_plugins_journald_policy_driver_SOURCES = tests/plugins/journald-policy-driver.c \
	tests/unit/record-fixtures.h tests/unit/policy-record-fixtures.h
tests_plugins_journald_policy_driver_CFLAGS = $(PLUGIN_TEST_CFLAGS) -I$(top_srcdir)/tests/unit
tests_plugins_journald_policy_driver_LDADD = daemon/libvigild.la tests/plugins/libtestrec.la \
	plugins/common/libvigil-common.la $(MSGPACK_LIBS)
