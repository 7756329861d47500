# SPDX-License-Identifier: GPL-2.0-or-later
# The plugin host test and the deliberately good and broken fake plugins it dlopen()s.
# The fake plugins are never installed (-rpath /nowhere only makes libtool build a .so).
FAKE_PLUGIN_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
FAKE_PLUGIN_LDFLAGS = -module -avoid-version -shared -rpath /nowhere \
	-export-symbols-regex '^vigil_plugin_entry$$' $(AM_LDFLAGS)

FAKE_PLUGINS = \
	tests/plugins/fake/out_record.la \
	tests/plugins/fake/out_async.la \
	tests/plugins/fake/out_badmajor.la \
	tests/plugins/fake/out_short.la \
	tests/plugins/fake/out_misname.la \
	tests/plugins/fake/out_noemit.la \
	tests/plugins/fake/out_wrongkind.la \
	tests/plugins/fake/filter_fake.la \
	tests/plugins/fake/filter_suffix.la
check_LTLIBRARIES += $(FAKE_PLUGINS)
EXTRA_DIST += tests/plugins/fake/broken.h

tests_plugins_fake_out_record_la_SOURCES = tests/plugins/fake/out_record.c
tests_plugins_fake_out_record_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_plugins_fake_out_record_la_LDFLAGS = $(FAKE_PLUGIN_LDFLAGS)

tests_plugins_fake_out_async_la_SOURCES = tests/plugins/fake/out_async.c
tests_plugins_fake_out_async_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_plugins_fake_out_async_la_LDFLAGS = $(FAKE_PLUGIN_LDFLAGS)

tests_plugins_fake_out_badmajor_la_SOURCES = tests/plugins/fake/out_badmajor.c
tests_plugins_fake_out_badmajor_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_plugins_fake_out_badmajor_la_LDFLAGS = $(FAKE_PLUGIN_LDFLAGS)

tests_plugins_fake_out_short_la_SOURCES = tests/plugins/fake/out_short.c
tests_plugins_fake_out_short_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_plugins_fake_out_short_la_LDFLAGS = $(FAKE_PLUGIN_LDFLAGS)

tests_plugins_fake_out_misname_la_SOURCES = tests/plugins/fake/out_misname.c
tests_plugins_fake_out_misname_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_plugins_fake_out_misname_la_LDFLAGS = $(FAKE_PLUGIN_LDFLAGS)

tests_plugins_fake_out_noemit_la_SOURCES = tests/plugins/fake/out_noemit.c
tests_plugins_fake_out_noemit_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_plugins_fake_out_noemit_la_LDFLAGS = $(FAKE_PLUGIN_LDFLAGS)

tests_plugins_fake_out_wrongkind_la_SOURCES = tests/plugins/fake/out_wrongkind.c
tests_plugins_fake_out_wrongkind_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_plugins_fake_out_wrongkind_la_LDFLAGS = $(FAKE_PLUGIN_LDFLAGS)

tests_plugins_fake_filter_fake_la_SOURCES = tests/plugins/fake/filter_fake.c
tests_plugins_fake_filter_fake_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_plugins_fake_filter_fake_la_LDFLAGS = $(FAKE_PLUGIN_LDFLAGS)

tests_plugins_fake_filter_suffix_la_SOURCES = tests/plugins/fake/filter_suffix.c
tests_plugins_fake_filter_suffix_la_CFLAGS = $(FAKE_PLUGIN_CFLAGS)
tests_plugins_fake_filter_suffix_la_LDFLAGS = $(FAKE_PLUGIN_LDFLAGS)

check_PROGRAMS += tests/unit/test-plugin-host
TESTS += tests/unit/test-plugin-host
tests_unit_test_plugin_host_SOURCES = tests/unit/test-plugin-host.c tests/harness/tap.h
tests_unit_test_plugin_host_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFAKE_PLUGIN_DIR=\"$(abs_top_builddir)/tests/plugins/fake/.libs\"
tests_unit_test_plugin_host_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_plugin_host_LDADD = daemon/libvigild.la
EXTRA_tests_unit_test_plugin_host_DEPENDENCIES = $(FAKE_PLUGINS)
