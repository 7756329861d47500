# SPDX-License-Identifier: GPL-2.0-or-later
# out_splunk_hec: Splunk HTTP Event Collector over the shared libcurl client.
pkglib_LTLIBRARIES += plugins/out_splunk_hec.la
plugins_out_splunk_hec_la_SOURCES = plugins/out_splunk_hec.c
plugins_out_splunk_hec_la_CFLAGS = $(PLUGIN_CFLAGS) $(JSONC_CFLAGS)
plugins_out_splunk_hec_la_LDFLAGS = $(PLUGIN_LDFLAGS)
# libvigil-http.la already carries libvigil-common.la (json.c, record_view.c).
plugins_out_splunk_hec_la_LIBADD = plugins/common/libvigil-http.la $(JSONC_LIBS)
EXTRA_DIST += conf.d/outputs.d/splunk-hec.conf.example
