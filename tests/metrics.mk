# SPDX-License-Identifier: GPL-2.0-or-later
# Prometheus metrics (daemon/metrics.c): rendering and the HTTP server without root, and the
# real vigild scraped with curl and checked with promtool (root).
check_PROGRAMS += tests/metrics/test-metrics tests/metrics/bpf-stats-hold
TESTS += tests/metrics/test-metrics tests/metrics/test-daemon-metrics.sh
EXTRA_DIST += tests/metrics/test-daemon-metrics.sh

tests_metrics_test_metrics_SOURCES = tests/metrics/test-metrics.c tests/harness/tap.h
tests_metrics_test_metrics_CFLAGS = $(TEST_CFLAGS) $(LIBCURL_CFLAGS)
tests_metrics_test_metrics_LDADD = daemon/libvigild.la $(LIBCURL_LIBS)

tests_metrics_bpf_stats_hold_SOURCES = tests/metrics/bpf-stats-hold.c
tests_metrics_bpf_stats_hold_CFLAGS = $(TEST_CFLAGS)
tests_metrics_bpf_stats_hold_LDADD = $(LIBBPF_LIBS)
