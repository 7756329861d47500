# SPDX-License-Identifier: GPL-2.0-or-later
# out_splunk_hec against tests/servers/fake_hec.py (a loopback HEC), and through the real vigild.
check_PROGRAMS += tests/splunk-hec/test-out-splunk-hec
TESTS += tests/splunk-hec/test-out-splunk-hec tests/splunk-hec/test-daemon-hec.sh
EXTRA_DIST += tests/servers/fake_hec.py tests/splunk-hec/test-daemon-hec.sh

tests_splunk_hec_test_out_splunk_hec_SOURCES = tests/splunk-hec/test-out-splunk-hec.c
tests_splunk_hec_test_out_splunk_hec_CFLAGS = $(PLUGIN_TEST_CFLAGS) $(JSONC_CFLAGS) $(ZLIB_CFLAGS) \
	-DFAKE_HEC=\"$(abs_top_srcdir)/tests/servers/fake_hec.py\"
tests_splunk_hec_test_out_splunk_hec_LDADD = $(PLUGIN_TEST_LDADD) $(JSONC_LIBS) -lpthread
