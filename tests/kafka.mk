# SPDX-License-Identifier: GPL-2.0-or-later
# out_kafka against librdkafka's mock cluster (tests/kafka/mock.c): the plugin through the fake
# host, an independent consumer (kafkajs), and the real vigild (root).
KAFKA_TEST_CFLAGS = $(PLUGIN_TEST_CFLAGS) $(RDKAFKA_CFLAGS) $(JSONC_CFLAGS) -I$(top_srcdir)/tests/kafka

check_LTLIBRARIES += tests/kafka/libkmock.la
tests_kafka_libkmock_la_SOURCES = tests/kafka/mock.c tests/kafka/mock.h
tests_kafka_libkmock_la_CFLAGS = $(KAFKA_TEST_CFLAGS)
tests_kafka_libkmock_la_LIBADD = $(RDKAFKA_LIBS) $(JSONC_LIBS)

check_PROGRAMS += tests/kafka/test-out-kafka tests/kafka/kafka-mock tests/kafka/kafka-produce
TESTS += tests/kafka/test-out-kafka tests/kafka/test-kafkajs.sh tests/kafka/test-daemon-kafka.sh
EXTRA_DIST += tests/kafka/test-kafkajs.sh tests/kafka/test-daemon-kafka.sh \
	tests/kafka/consume.js tests/kafka/package.json tests/kafka/package-lock.json

tests_kafka_test_out_kafka_SOURCES = tests/kafka/test-out-kafka.c
tests_kafka_test_out_kafka_CFLAGS = $(KAFKA_TEST_CFLAGS)
tests_kafka_test_out_kafka_LDADD = tests/kafka/libkmock.la $(PLUGIN_TEST_LDADD) $(RDKAFKA_LIBS)

# kafka-mock BROKERS PARTITIONS BOOTSTRAP-FILE [TOPIC...]: the mock cluster for shell tests.
tests_kafka_kafka_mock_SOURCES = tests/kafka/kafka-mock.c
tests_kafka_kafka_mock_CFLAGS = $(KAFKA_TEST_CFLAGS)
tests_kafka_kafka_mock_LDADD = tests/kafka/libkmock.la $(RDKAFKA_LIBS)

# kafka-produce: out_kafka.so through the fake host, for the kafkajs interoperability test.
tests_kafka_kafka_produce_SOURCES = tests/kafka/kafka-produce.c
tests_kafka_kafka_produce_CFLAGS = $(KAFKA_TEST_CFLAGS)
tests_kafka_kafka_produce_LDADD = $(PLUGIN_TEST_LDADD) $(JSONC_LIBS)

# kafkajs is installed on first use (npm ci) into the build tree, not the source tree.
clean-local: clean-kafka-node
clean-kafka-node:
	rm -rf tests/kafka/node_modules-cache
.PHONY: clean-kafka-node
