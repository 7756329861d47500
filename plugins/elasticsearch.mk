# SPDX-License-Identifier: GPL-2.0-or-later
# The shared libcurl client of the HTTP outputs (Elasticsearch, Splunk HEC) and out_elasticsearch.
# A convenience library that includes libvigil-common.la: plugins link it INSTEAD of
# libvigil-common.la (linking both gives duplicate symbols).
noinst_LTLIBRARIES += plugins/common/libvigil-http.la
plugins_common_libvigil_http_la_SOURCES = plugins/common/http.c plugins/common/http.h
plugins_common_libvigil_http_la_CFLAGS = $(PLUGIN_CFLAGS) $(LIBCURL_CFLAGS) $(ZLIB_CFLAGS)
plugins_common_libvigil_http_la_LIBADD = $(LIBCURL_LIBS) $(ZLIB_LIBS) plugins/common/libvigil-common.la

pkglib_LTLIBRARIES += plugins/out_elasticsearch.la
plugins_out_elasticsearch_la_SOURCES = plugins/out_elasticsearch.c plugins/es_ecs.c plugins/es_ecs.h
plugins_out_elasticsearch_la_CFLAGS = $(PLUGIN_CFLAGS) $(JSONC_CFLAGS) $(XXHASH_CFLAGS)
plugins_out_elasticsearch_la_LDFLAGS = $(PLUGIN_LDFLAGS)
# libvigil-http.la already carries libvigil-common.la's objects: do not link both.
plugins_out_elasticsearch_la_LIBADD = plugins/common/libvigil-http.la $(JSONC_LIBS) $(XXHASH_LIBS)
EXTRA_DIST += conf.d/outputs.d/elasticsearch.conf.example
