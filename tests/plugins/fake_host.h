/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A struct vigil_host for plugin tests: an in-memory config (section, key, value, with a
 * "test.conf:N" location per assignment) and captured logs. Plugins are dlopen'ed from the build
 * tree exactly as the daemon would load them.
 */
#ifndef VIGIL_FAKE_HOST_H
#define VIGIL_FAKE_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <vigil/plugin.h>

struct fake_host {
	struct vigil_host host; /* first: plugins get &fh->host */
	struct fake_cfg *cfg;
	size_t n_cfg;
	char ***lists;
	size_t n_lists;
	char *logs;
	size_t logs_len;
	unsigned n_logs;
	char state_dir[64];
	/* host->ack() calls, any thread: under ack_lock, signalled on ack_cond. */
	pthread_mutex_t ack_lock;
	pthread_cond_t ack_cond;
	struct fake_ack *acks;
	size_t n_acks;
	pthread_mutex_t log_lock;
	struct {
		uint64_t batch_id;
		size_t n;
	} * expect;
	size_t n_expect;
};

struct fake_ack {
	uint64_t batch_id;
	uint8_t *results; /* copied; length known to the caller (the batch it emitted) */
};

struct fake_host *fake_host_new(const char *instance);
struct fake_host *fake_host_free(struct fake_host *fh);
/* Append an assignment (an empty value resets a list, as in the daemon). */
void fake_host_set(struct fake_host *fh, const char *section, const char *key, const char *value);
/* Before emit() of a batch that may be acknowledged asynchronously: its number of records. */
void fake_host_expect(struct fake_host *fh, uint64_t batch_id, size_t n);
/*
 * Wait up to @timeout_ms for host->ack() of @batch_id; copy its @n results into @results.
 * Returns 0, or -ETIMEDOUT. An ack is consumed once.
 */
int fake_host_wait_ack(struct fake_host *fh, uint64_t batch_id, uint8_t *results, size_t n,
		       unsigned timeout_ms);
/* All log lines so far, "LEVEL: message\n" each ("" when none). */
const char *fake_host_logs(const struct fake_host *fh);
void fake_host_clear_logs(struct fake_host *fh);

/* dlopen plugins/.libs/@file (or $PLUGIN_DIR/@file) and return its descriptor after checking the
 * ABI version and struct size, or NULL (with a TAP diagnostic). */
const struct vigil_plugin *fake_host_load(const char *file);

/* A struct vigil_buf backed by malloc, for filter(). */
struct vigil_buf *fake_buf_new(void);
void fake_buf_free(struct vigil_buf *b);

#endif
