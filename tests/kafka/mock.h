/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * librdkafka's built-in mock cluster for the Kafka tests (a real Kafka wire-protocol peer on
 * 127.0.0.1), and a plain consumer that reads a topic back from the beginning.
 */
#ifndef VIGIL_TEST_KAFKA_MOCK_H
#define VIGIL_TEST_KAFKA_MOCK_H

#include <librdkafka/rdkafka.h>
#include <stdio.h>

struct kmock;

/* A cluster of @brokers brokers (ids 1..@brokers). NULL on failure (diagnostic printed). */
struct kmock *kmock_new(int brokers);
void kmock_free(struct kmock *m);
/* "127.0.0.1:port,…" */
const char *kmock_bootstraps(const struct kmock *m);
int kmock_topic(struct kmock *m, const char *topic, int partitions);
int kmock_topic_error(struct kmock *m, const char *topic, rd_kafka_resp_err_t err);
/* The next @cnt requests with Kafka API key @api_key (0 = Produce) fail with @err. */
void kmock_push_errors(struct kmock *m, int16_t api_key, size_t cnt, rd_kafka_resp_err_t err);
void kmock_clear_errors(struct kmock *m, int16_t api_key);
int kmock_down(struct kmock *m, int broker);
int kmock_up(struct kmock *m, int broker);

/*
 * Read @topic (every partition, from the beginning) with a fresh consumer until @n messages
 * arrived or @timeout_ms passed; @cb sees each message. Returns the number of messages read
 * (may be more than @n if they came in one poll), or -errno.
 */
int kmock_consume(const char *bootstraps, const char *topic, int n, unsigned timeout_ms,
		  void (*cb)(const rd_kafka_message_t *m, void *userdata), void *userdata);

/* One message as a JSON line {topic,partition,offset,key,headers,value} (key null when none). */
void kmock_write_json(const rd_kafka_message_t *m, FILE *f);

#endif
