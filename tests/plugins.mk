# SPDX-License-Identifier: GPL-2.0-or-later
# Output/filter plugins and their shared renderers (plugins/common).
PLUGIN_TEST_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/plugins -I$(top_srcdir)/tests/plugins \
	-DTEST_PLUGIN_DIR=\"$(abs_top_builddir)/plugins/.libs\"
PLUGIN_TEST_LDADD = tests/plugins/libtestrec.la plugins/common/libvigil-common.la $(MSGPACK_LIBS)

check_LTLIBRARIES += tests/plugins/libtestrec.la
tests_plugins_libtestrec_la_SOURCES = tests/plugins/testrec.c tests/plugins/testrec.h \
	tests/plugins/fake_host.c tests/plugins/fake_host.h
tests_plugins_libtestrec_la_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_libtestrec_la_LIBADD = $(MSGPACK_LIBS) -ldl

check_PROGRAMS += tests/plugins/test-cfg tests/plugins/test-json tests/plugins/test-compact tests/plugins/test-out-file \
	tests/plugins/test-out-stdout tests/plugins/test-filter-redact tests/plugins/journald-driver \
	tests/plugins/bench-json
TESTS += tests/plugins/test-cfg tests/plugins/test-json tests/plugins/test-compact tests/plugins/test-out-file \
	tests/plugins/test-out-stdout tests/plugins/test-filter-redact tests/plugins/test-journald.sh
EXTRA_DIST += tests/plugins/test-journald.sh

tests_plugins_test_cfg_SOURCES = tests/plugins/test-cfg.c
tests_plugins_test_cfg_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_test_cfg_LDADD = $(PLUGIN_TEST_LDADD)

tests_plugins_test_json_SOURCES = tests/plugins/test-json.c
tests_plugins_test_json_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_test_json_LDADD = $(PLUGIN_TEST_LDADD)

tests_plugins_test_compact_SOURCES = tests/plugins/test-compact.c
tests_plugins_test_compact_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_test_compact_LDADD = $(PLUGIN_TEST_LDADD)

tests_plugins_test_out_file_SOURCES = tests/plugins/test-out-file.c
tests_plugins_test_out_file_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_test_out_file_LDADD = $(PLUGIN_TEST_LDADD)

tests_plugins_test_out_stdout_SOURCES = tests/plugins/test-out-stdout.c
tests_plugins_test_out_stdout_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_test_out_stdout_LDADD = $(PLUGIN_TEST_LDADD)

tests_plugins_test_filter_redact_SOURCES = tests/plugins/test-filter-redact.c
tests_plugins_test_filter_redact_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_test_filter_redact_LDADD = $(PLUGIN_TEST_LDADD)

tests_plugins_journald_driver_SOURCES = tests/plugins/journald-driver.c
tests_plugins_journald_driver_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_plugins_journald_driver_LDADD = $(PLUGIN_TEST_LDADD)

# Not a test: `tests/plugins/bench-json` prints records/s of json_render() and compact_render().
tests_plugins_bench_json_SOURCES = tests/plugins/bench-json.c
tests_plugins_bench_json_CFLAGS = $(PLUGIN_TEST_CFLAGS) -O2
tests_plugins_bench_json_LDADD = $(PLUGIN_TEST_LDADD)
