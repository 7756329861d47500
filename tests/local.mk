# SPDX-License-Identifier: GPL-2.0-or-later
# TAP tests; exit 77 = SKIP (root-only tests when not root).
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
TEST_EXTENSIONS = .sh
SH_LOG_DRIVER = $(LOG_DRIVER)
LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/harness/run-test.sh
SH_LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/harness/run-test.sh
AM_TESTS_ENVIRONMENT = \
	export top_srcdir=$(abs_top_srcdir) top_builddir=$(abs_top_builddir) \
	VIGILD=$(abs_top_builddir)/vigild PLUGIN_DIR=$(abs_top_builddir)/plugins/.libs;
EXTRA_DIST += tests/harness/tap.h tests/harness/capture.h tests/harness/run-test.sh
TEST_CFLAGS = $(AM_CFLAGS) $(LIBBPF_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(MSGPACK_CFLAGS) -I$(top_srcdir)/tests/harness
include tests/bpf.mk
include tests/config.mk
include tests/event.mk
include tests/plugins.mk
include tests/host.mk
include tests/integration.mk
include tests/policy.mk
include tests/policy-compile.mk
include tests/policy-bpf.mk
include tests/policy-proc.mk
include tests/policy-record.mk
include tests/spool.mk
include tests/delivery.mk
include tests/kafka.mk
include tests/elasticsearch.mk
include tests/splunk-hec.mk
include tests/metrics.mk
include tests/control.mk
