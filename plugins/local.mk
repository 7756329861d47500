# SPDX-License-Identifier: GPL-2.0-or-later
# Plugins export only vigil_plugin_entry and never link against daemon symbols.
PLUGIN_LDFLAGS = -module -avoid-version -shared -export-symbols-regex '^vigil_plugin_entry$$' $(AM_LDFLAGS)
PLUGIN_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden $(MSGPACK_CFLAGS)

noinst_LTLIBRARIES += plugins/common/libvigil-common.la
plugins_common_libvigil_common_la_SOURCES = \
	plugins/common/json.c plugins/common/json.h \
	plugins/common/record_view.c plugins/common/record_view.h \
	plugins/common/cfg.c plugins/common/cfg.h
plugins_common_libvigil_common_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_common_libvigil_common_la_LIBADD = $(MSGPACK_LIBS)

pkglib_LTLIBRARIES += plugins/out_file.la plugins/out_stdout.la plugins/out_journald.la \
	plugins/filter_redact.la

plugins_out_file_la_SOURCES = plugins/out_file.c
plugins_out_file_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_out_file_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_out_file_la_LIBADD = plugins/common/libvigil-common.la

plugins_out_stdout_la_SOURCES = plugins/out_stdout.c
plugins_out_stdout_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_out_stdout_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_out_stdout_la_LIBADD = plugins/common/libvigil-common.la

plugins_out_journald_la_SOURCES = plugins/out_journald.c
plugins_out_journald_la_CFLAGS = $(PLUGIN_CFLAGS) $(LIBSYSTEMD_CFLAGS)
plugins_out_journald_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_out_journald_la_LIBADD = plugins/common/libvigil-common.la $(LIBSYSTEMD_LIBS)

plugins_filter_redact_la_SOURCES = plugins/filter_redact.c
plugins_filter_redact_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_filter_redact_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_filter_redact_la_LIBADD = plugins/common/libvigil-common.la

# Plugins are dlopen()ed by file name; libtool's .la files are of no use once installed.
install-exec-hook: remove-plugin-la
remove-plugin-la:
	rm -f $(addprefix $(DESTDIR)$(pkglibdir)/,$(notdir $(pkglib_LTLIBRARIES)))
.PHONY: remove-plugin-la
# ...so libtool cannot uninstall the .so files by itself.
uninstall-hook: remove-plugin-so
remove-plugin-so:
	rm -f $(addprefix $(DESTDIR)$(pkglibdir)/,$(patsubst %.la,%.so,$(notdir $(pkglib_LTLIBRARIES))))
.PHONY: remove-plugin-so

include plugins/kafka.mk
include plugins/elasticsearch.mk
include plugins/splunk_hec.mk
