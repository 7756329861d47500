# SPDX-License-Identifier: GPL-2.0-or-later
# out_kafka.so: librdkafka producer (docs/outputs-kafka.md).
pkglib_LTLIBRARIES += plugins/out_kafka.la
plugins_out_kafka_la_SOURCES = plugins/out_kafka.c
plugins_out_kafka_la_CFLAGS = $(PLUGIN_CFLAGS) $(RDKAFKA_CFLAGS)
plugins_out_kafka_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_out_kafka_la_LIBADD = plugins/common/libvigil-common.la $(RDKAFKA_LIBS)

EXTRA_DIST += conf.d/outputs.d/kafka.conf.example
