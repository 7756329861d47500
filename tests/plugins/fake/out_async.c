/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test output "async": emit() copies the batch and returns VIGIL_PENDING; a thread of the
 * plugin's own acknowledges batches through host->ack(), newest first, once max_in_flight (4)
 * batches are outstanding, when flush() asks, or after 50 ms without new batches. It writes
 * "seq data" per delivered record to "delivered" and, at fini(), the largest number of batches
 * it ever had outstanding to "calls" ("max_outstanding N").
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigil/plugin.h>

#define MAX_IN_FLIGHT 4

struct job {
	struct job *next;
	uint64_t id;
	uint32_t n;
	char **data;
	uint64_t *seq;
};

struct async {
	const struct vigil_host *host;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	struct job *jobs; /* newest first */
	unsigned outstanding, max_outstanding;
	bool flush_now, stop;
	FILE *delivered;
};

static void job_free(struct job *j)
{
	for (uint32_t i = 0; i < j->n; i++)
		free(j->data[i]);
	free(j->data);
	free(j->seq);
	free(j);
}

static void *acker(void *p)
{
	struct async *a = p;

	pthread_mutex_lock(&a->lock);
	while (!a->stop) {
		struct job *l;

		if (a->outstanding < MAX_IN_FLIGHT && !a->flush_now) {
			struct timespec ts;
			unsigned before = a->outstanding;
			int r;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			r = pthread_cond_timedwait(&a->cond, &a->lock, &ts);
			if (r != ETIMEDOUT || a->outstanding == 0 || a->outstanding != before)
				continue;
		}
		a->flush_now = false;
		l = a->jobs;
		a->jobs = NULL;
		a->outstanding = 0;
		pthread_mutex_unlock(&a->lock);
		/* Newest first: the host must cope with acks out of order. */
		while (l) {
			struct job *j = l;
			uint8_t *res = calloc(j->n, 1);

			l = j->next;
			for (uint32_t i = 0; i < j->n; i++)
				fprintf(a->delivered, "%llu %s\n", (unsigned long long)j->seq[i],
					j->data[i]);
			fflush(a->delivered);
			a->host->ack(a->host, j->id, res);
			free(res);
			job_free(j);
		}
		pthread_mutex_lock(&a->lock);
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static int async_init(const struct vigil_host *host, void **ret)
{
	struct async *a = calloc(1, sizeof(*a));
	char p[4096];

	if (!a)
		return -ENOMEM;
	a->host = host;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	(void)snprintf(p, sizeof(p), "%s/delivered", host->state_dir);
	a->delivered = fopen(p, "ae");
	if (!a->delivered || pthread_create(&a->thread, NULL, acker, a) != 0) {
		if (a->delivered)
			fclose(a->delivered);
		free(a);
		return -EIO;
	}
	*ret = a;
	return 0;
}

static enum vigil_status async_emit(void *instance, const struct vigil_batch *b, uint8_t *res)
{
	struct async *a = instance;
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return VIGIL_RETRY;
	j->id = b->id;
	j->n = b->n_records;
	j->data = calloc(b->n_records, sizeof(*j->data));
	j->seq = calloc(b->n_records, sizeof(*j->seq));
	for (uint32_t i = 0; i < b->n_records; i++) {
		j->seq[i] = b->records[i].seq;
		j->data[i] = strndup((const char *)b->records[i].data, b->records[i].size);
	}
	pthread_mutex_lock(&a->lock);
	j->next = a->jobs;
	a->jobs = j;
	a->outstanding++;
	if (a->outstanding > a->max_outstanding)
		a->max_outstanding = a->outstanding;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	return VIGIL_PENDING;
}

static enum vigil_status async_flush(void *instance, uint64_t timeout_usec)
{
	struct async *a = instance;

	pthread_mutex_lock(&a->lock);
	a->flush_now = true;
	pthread_cond_broadcast(&a->cond);
	while (a->outstanding > 0 && !a->stop)
		pthread_cond_wait(&a->cond, &a->lock);
	pthread_mutex_unlock(&a->lock);
	return VIGIL_OK;
}

static void async_fini(void *instance)
{
	struct async *a = instance;
	char p[4096];
	FILE *f;

	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	while (a->jobs) {
		struct job *j = a->jobs;

		a->jobs = j->next;
		job_free(j);
	}
	(void)snprintf(p, sizeof(p), "%s/calls", a->host->state_dir);
	f = fopen(p, "ae");
	if (f) {
		fprintf(f, "max_outstanding %u\nfini\n", a->max_outstanding);
		fclose(f);
	}
	fclose(a->delivered);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cond);
	free(a);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "async", .max_in_flight = MAX_IN_FLIGHT,
		    .description = "test output acknowledging from its own thread",
		    .init = async_init, .emit = async_emit, .flush = async_flush,
		    .fini = async_fini);
