# SPDX-License-Identifier: GPL-2.0-or-later
# Output benchmarks (issue 4 §6): bench/outputs.sh [BUILDDIR]. Built on demand, never by
# `make check` or CI: `make bench-outputs` builds and runs them (needs syslog-ng for the
# comparison, node for the HTTP stubs).
EXTRA_PROGRAMS += bench/bench-outputs bench/stubs/kafka-sink
bench_bench_outputs_SOURCES = bench/bench-outputs.c
bench_bench_outputs_CFLAGS = $(TEST_CFLAGS) -O2
bench_bench_outputs_LDADD = daemon/libvigild.la plugins/common/libvigil-common.la

# librdkafka's mock cluster (tests/kafka/mock.c) that also counts what it stored.
bench_stubs_kafka_sink_SOURCES = bench/stubs/kafka-sink.c
bench_stubs_kafka_sink_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS) -I$(top_srcdir)/tests/kafka
bench_stubs_kafka_sink_LDADD = tests/kafka/libkmock.la $(RDKAFKA_LIBS)

EXTRA_DIST += bench/outputs.sh bench/stubs/es-stub.js bench/stubs/hec-stub.js

bench-outputs: all bench/bench-outputs bench/stubs/kafka-sink tests/kafka/kafka-mock
	$(top_srcdir)/bench/outputs.sh $(abs_top_builddir)
.PHONY: bench-outputs
