# SPDX-License-Identifier: GPL-2.0-or-later
# out_elasticsearch against tests/servers/fake_es.py (a loopback model of the _bulk API).
check_PROGRAMS += tests/elasticsearch/test-out-elasticsearch
TESTS += tests/elasticsearch/test-out-elasticsearch tests/elasticsearch/test-daemon-es.sh
EXTRA_DIST += tests/servers/fake_es.py tests/elasticsearch/test-daemon-es.sh

tests_elasticsearch_test_out_elasticsearch_SOURCES = tests/elasticsearch/test-out-elasticsearch.c
tests_elasticsearch_test_out_elasticsearch_CFLAGS = $(PLUGIN_TEST_CFLAGS) $(LIBCURL_CFLAGS) \
	$(JSONC_CFLAGS) $(XXHASH_CFLAGS) -DFAKE_ES=\"$(abs_top_srcdir)/tests/servers/fake_es.py\"
tests_elasticsearch_test_out_elasticsearch_LDADD = $(PLUGIN_TEST_LDADD) $(LIBCURL_LIBS) \
	$(JSONC_LIBS) $(XXHASH_LIBS)
