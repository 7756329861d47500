/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock.h"

struct kmock {
	rd_kafka_t *rk; /* owns the cluster's threads */
	rd_kafka_mock_cluster_t *mc;
};

struct kmock *kmock_new(int brokers)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	struct kmock *m = calloc(1, sizeof(*m));
	char err[512];

	/* Quiet: the mock's own handle never connects anywhere. */
	rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!m->rk) {
		printf("# rd_kafka_new: %s\n", err);
		free(m);
		return NULL;
	}
	m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
	if (!m->mc) {
		printf("# rd_kafka_mock_cluster_new failed\n");
		rd_kafka_destroy(m->rk);
		free(m);
		return NULL;
	}
	return m;
}

void kmock_free(struct kmock *m)
{
	if (!m)
		return;
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
	free(m);
}

const char *kmock_bootstraps(const struct kmock *m)
{
	return rd_kafka_mock_cluster_bootstraps(m->mc);
}

int kmock_topic(struct kmock *m, const char *topic, int partitions)
{
	return rd_kafka_mock_topic_create(m->mc, topic, partitions, 1) ? -EINVAL : 0;
}

int kmock_topic_error(struct kmock *m, const char *topic, rd_kafka_resp_err_t err)
{
	rd_kafka_mock_topic_set_error(m->mc, topic, err);
	return 0;
}

void kmock_push_errors(struct kmock *m, int16_t api_key, size_t cnt, rd_kafka_resp_err_t err)
{
	for (size_t i = 0; i < cnt; i++)
		rd_kafka_mock_push_request_errors(m->mc, api_key, 1, err);
}

void kmock_clear_errors(struct kmock *m, int16_t api_key)
{
	rd_kafka_mock_clear_request_errors(m->mc, api_key);
}

int kmock_down(struct kmock *m, int broker)
{
	return rd_kafka_mock_broker_set_down(m->mc, broker) ? -EINVAL : 0;
}

int kmock_up(struct kmock *m, int broker)
{
	return rd_kafka_mock_broker_set_up(m->mc, broker) ? -EINVAL : 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kmock_consume(const char *bootstraps, const char *topic, int n, unsigned timeout_ms,
		  void (*cb)(const rd_kafka_message_t *m, void *userdata), void *userdata)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *parts;
	long long deadline = now_ms() + timeout_ms;
	rd_kafka_topic_t *rkt;
	rd_kafka_t *rk;
	char err[512];
	int got = 0, np = 0;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "group.id", "vigil-test-reader", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err))) {
		printf("# consumer conf: %s\n", err);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rk) {
		printf("# consumer: %s\n", err);
		return -EINVAL;
	}
	/* The partition count, from the cluster (retried: a broker may just be coming up). */
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	while (now_ms() < deadline) {
		if (rd_kafka_metadata(rk, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (md->topic_cnt == 1 && !md->topics[0].err)
				np = md->topics[0].partition_cnt;
			rd_kafka_metadata_destroy(md);
			if (np > 0)
				break;
		}
	}
	rd_kafka_topic_destroy(rkt);
	if (np <= 0) {
		printf("# consumer: no metadata for topic '%s'\n", topic);
		rd_kafka_destroy(rk);
		return -ETIMEDOUT;
	}
	parts = rd_kafka_topic_partition_list_new(np);
	for (int p = 0; p < np; p++)
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);

	while (got < n && now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

		if (!m)
			continue;
		if (!m->err) {
			cb(m, userdata);
			got++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_assign(rk, NULL);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return got;
}

void kmock_write_json(const rd_kafka_message_t *m, FILE *f)
{
	json_object *o = json_object_new_object(), *h = json_object_new_object();
	rd_kafka_headers_t *hdrs = NULL;

	json_object_object_add(o, "topic", json_object_new_string(rd_kafka_topic_name(m->rkt)));
	json_object_object_add(o, "partition", json_object_new_int(m->partition));
	json_object_object_add(o, "offset", json_object_new_int64(m->offset));
	json_object_object_add(o, "key",
			       m->key ? json_object_new_string_len(m->key, (int)m->key_len) : NULL);
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		const char *name;
		const void *val;
		size_t size;

		for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); i++)
			json_object_object_add(
				h, name, val ? json_object_new_string_len(val, (int)size) : NULL);
	}
	json_object_object_add(o, "headers", h);
	json_object_object_add(o, "value", json_object_new_string_len(m->payload, (int)m->len));
	fprintf(f, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}
