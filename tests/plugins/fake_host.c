/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "fake_host.h"

#ifndef TEST_PLUGIN_DIR
#define TEST_PLUGIN_DIR "plugins/.libs"
#endif

struct fake_cfg {
	char *section, *key, *value, *location;
};

static int fake_log(const struct vigil_host *host, int level, int error, const char *fmt, ...)
{
	struct fake_host *fh = (struct fake_host *)host;
	static const char *const names[] = {"EMERG",   "ALERT",	 "CRIT", "ERR",
					    "WARNING", "NOTICE", "INFO", "DEBUG"};
	char msg[4096];
	size_t n;
	va_list ap;
	int e = error < 0 ? -error : error;

	errno = e;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(names[level & 7]) + strlen(msg) + 3;
	pthread_mutex_lock(&fh->log_lock);
	fh->logs = realloc(fh->logs, fh->logs_len + n + 1);
	fh->logs_len += (size_t)sprintf(fh->logs + fh->logs_len, "%s: %s\n", names[level & 7], msg);
	fh->n_logs++;
	pthread_mutex_unlock(&fh->log_lock);
	fprintf(stderr, "[%s] %s: %s\n", host->instance, names[level & 7], msg);
	return -e;
}

static const struct fake_cfg *last(const struct fake_host *fh, const char *section, const char *key)
{
	for (size_t i = fh->n_cfg; i > 0; i--) {
		const struct fake_cfg *c = &fh->cfg[i - 1];
		if (strcmp(c->section, section) == 0 && strcmp(c->key, key) == 0)
			return c;
	}
	return NULL;
}

static const char *fake_cfg_get(const struct vigil_host *host, const char *section, const char *key)
{
	const struct fake_cfg *c = last((const struct fake_host *)host, section, key);
	return c ? c->value : NULL;
}

static const char *fake_cfg_location(const struct vigil_host *host, const char *section,
				     const char *key)
{
	const struct fake_cfg *c = last((const struct fake_host *)host, section, key);
	return c ? c->location : NULL;
}

static const char *const *fake_cfg_get_list(const struct vigil_host *host, const char *section,
					    const char *key)
{
	struct fake_host *fh = (struct fake_host *)host;
	char **l = calloc(fh->n_cfg + 1, sizeof(char *));
	size_t n = 0;

	for (size_t i = 0; i < fh->n_cfg; i++) {
		const struct fake_cfg *c = &fh->cfg[i];
		if (strcmp(c->section, section) != 0 || strcmp(c->key, key) != 0)
			continue;
		if (!*c->value)
			n = 0;
		else
			l[n++] = c->value;
	}
	l[n] = NULL;
	fh->lists = realloc(fh->lists, (fh->n_lists + 1) * sizeof(char **));
	fh->lists[fh->n_lists++] = l;
	return (const char *const *)l;
}

static int fake_cfg_get_usec(const struct vigil_host *host, const char *section, const char *key,
			     uint64_t *ret)
{
	const char *v = fake_cfg_get(host, section, key);
	char *end;
	unsigned long long n;

	if (!v)
		return -ENOENT;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v)
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		*ret = n * 1000ULL;
	else if (strcmp(end, "s") == 0 || *end == 0)
		*ret = n * 1000000ULL;
	else
		return -EINVAL;
	return 0;
}

static void fake_ack(const struct vigil_host *host, uint64_t batch_id, const uint8_t *results)
{
	struct fake_host *fh = (struct fake_host *)host;
	uint8_t *copy = NULL;

	/* ack() does not say how many results: the test declared it with fake_host_expect(). */
	pthread_mutex_lock(&fh->ack_lock);
	for (size_t i = 0; i < fh->n_expect; i++)
		if (fh->expect[i].batch_id == batch_id) {
			copy = malloc(fh->expect[i].n ? fh->expect[i].n : 1);
			memcpy(copy, results, fh->expect[i].n);
			fh->expect[i] = fh->expect[--fh->n_expect];
			break;
		}
	if (!copy)
		fprintf(stderr, "# fake_host: ack() for undeclared batch %llu\n",
			(unsigned long long)batch_id);
	fh->acks = realloc(fh->acks, (fh->n_acks + 1) * sizeof(*fh->acks));
	fh->acks[fh->n_acks++] = (struct fake_ack){batch_id, copy};
	pthread_cond_broadcast(&fh->ack_cond);
	pthread_mutex_unlock(&fh->ack_lock);
}

void fake_host_expect(struct fake_host *fh, uint64_t batch_id, size_t n)
{
	pthread_mutex_lock(&fh->ack_lock);
	fh->expect = realloc(fh->expect, (fh->n_expect + 1) * sizeof(*fh->expect));
	fh->expect[fh->n_expect].batch_id = batch_id;
	fh->expect[fh->n_expect++].n = n;
	pthread_mutex_unlock(&fh->ack_lock);
}

int fake_host_wait_ack(struct fake_host *fh, uint64_t batch_id, uint8_t *results, size_t n,
		       unsigned timeout_ms)
{
	struct timespec ts;
	int r = -ETIMEDOUT;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fh->ack_lock);
	for (;;) {
		for (size_t i = 0; i < fh->n_acks; i++)
			if (fh->acks[i].batch_id == batch_id) {
				if (fh->acks[i].results)
					memcpy(results, fh->acks[i].results, n);
				free(fh->acks[i].results);
				fh->acks[i] = fh->acks[--fh->n_acks];
				r = 0;
				goto out;
			}
		if (pthread_cond_timedwait(&fh->ack_cond, &fh->ack_lock, &ts) != 0)
			break;
	}
out:
	pthread_mutex_unlock(&fh->ack_lock);
	return r;
}

static int fake_cfg_foreach(const struct vigil_host *host, const char *section, const char *prefix,
			    int (*cb)(const char *key, const char *value, const char *location,
				      void *userdata),
			    void *userdata)
{
	struct fake_host *fh = (struct fake_host *)host;
	size_t plen = prefix ? strlen(prefix) : 0;

	for (size_t i = 0; i < fh->n_cfg; i++) {
		const struct fake_cfg *c = &fh->cfg[i], *l;
		int seen = 0, r;

		if (strcmp(c->section, section) != 0 || strncmp(c->key, prefix ? prefix : "", plen))
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(fh->cfg[j].section, section) &&
			       !strcmp(fh->cfg[j].key, c->key);
		if (seen)
			continue;
		l = last(fh, section, c->key);
		if (!*l->value)
			continue;
		r = cb(l->key, l->value, l->location, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

struct fake_host *fake_host_new(const char *instance)
{
	struct fake_host *fh = calloc(1, sizeof(*fh));

	fh->host = (struct vigil_host){
		.struct_size = sizeof(struct vigil_host),
		.instance = instance,
		.node_name = "web-1",
		.log = fake_log,
		.cfg_get = fake_cfg_get,
		.cfg_get_list = fake_cfg_get_list,
		.cfg_get_usec = fake_cfg_get_usec,
		.cfg_location = fake_cfg_location,
		.ack = fake_ack,
		.cfg_foreach = fake_cfg_foreach,
	};
	pthread_mutex_init(&fh->ack_lock, NULL);
	pthread_cond_init(&fh->ack_cond, NULL);
	pthread_mutex_init(&fh->log_lock, NULL);
	snprintf(fh->state_dir, sizeof(fh->state_dir), "/tmp");
	fh->host.state_dir = fh->state_dir;
	fh->logs = calloc(1, 1);
	return fh;
}

struct fake_host *fake_host_free(struct fake_host *fh)
{
	if (!fh)
		return NULL;
	for (size_t i = 0; i < fh->n_cfg; i++) {
		free(fh->cfg[i].section);
		free(fh->cfg[i].key);
		free(fh->cfg[i].value);
		free(fh->cfg[i].location);
	}
	for (size_t i = 0; i < fh->n_lists; i++)
		free(fh->lists[i]);
	free(fh->lists);
	free(fh->cfg);
	free(fh->logs);
	for (size_t i = 0; i < fh->n_acks; i++)
		free(fh->acks[i].results);
	free(fh->acks);
	free(fh->expect);
	pthread_mutex_destroy(&fh->ack_lock);
	pthread_cond_destroy(&fh->ack_cond);
	pthread_mutex_destroy(&fh->log_lock);
	free(fh);
	return NULL;
}

void fake_host_set(struct fake_host *fh, const char *section, const char *key, const char *value)
{
	struct fake_cfg *c;

	fh->cfg = realloc(fh->cfg, (fh->n_cfg + 1) * sizeof(*fh->cfg));
	c = &fh->cfg[fh->n_cfg++];
	c->section = strdup(section);
	c->key = strdup(key);
	c->value = strdup(value);
	if (asprintf(&c->location, "test.conf:%zu", fh->n_cfg) < 0)
		abort();
}

const char *fake_host_logs(const struct fake_host *fh)
{
	return fh->logs;
}

void fake_host_clear_logs(struct fake_host *fh)
{
	fh->logs_len = 0;
	fh->logs[0] = 0;
	fh->n_logs = 0;
}

const struct vigil_plugin *fake_host_load(const char *file)
{
	const char *dir = getenv("PLUGIN_DIR") ?: TEST_PLUGIN_DIR;
	const struct vigil_plugin *p;
	char path[4096];
	void *dl;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		printf("# dlopen %s: %s\n", path, dlerror());
		return NULL;
	}
	p = dlsym(dl, VIGIL_PLUGIN_ENTRY);
	if (!p || p->abi_version >> 16 != VIGIL_PLUGIN_ABI_MAJOR ||
	    p->struct_size < sizeof(struct vigil_plugin)) {
		printf("# %s: missing or incompatible %s\n", path, VIGIL_PLUGIN_ENTRY);
		return NULL;
	}
	return p;
}

static uint8_t *fake_reserve(struct vigil_buf *b, size_t n)
{
	uint8_t *p = realloc(b->data, b->size + n);
	if (!p)
		return NULL;
	b->data = p;
	return p + b->size;
}

struct vigil_buf *fake_buf_new(void)
{
	struct vigil_buf *b = calloc(1, sizeof(*b));
	b->reserve = fake_reserve;
	return b;
}

void fake_buf_free(struct vigil_buf *b)
{
	if (!b)
		return;
	free(b->data);
	free(b);
}
