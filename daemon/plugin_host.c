/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The plugin host: loads output and filter plugins, checks their ABI, and runs each output
 * instance on its own worker thread behind a bounded queue. See docs/plugin-abi.md for the
 * contract seen from the plugin side; this file is the host side of it.
 *
 * Data flow per instance:
 *
 *   enqueue (main thread) → q[] (bounded ring, lock) → worker: redo[] first, then q[] →
 *   Filters= → emit() → DELIVERED/DROP counted, REDO back to the front of redo[],
 *   RETRY/FATAL: the whole batch back to the front of redo[], PENDING: kept in pending[]
 *   until host->ack() (any thread) settles it like an OK result.
 *
 * Record bytes are copied once per enqueue into a refcounted blob shared by every instance
 * that wants the record (carved from a 64 KiB chunk, see struct blob_alloc); a filter that
 * rewrites a record gives that instance its own blob. With a spool, the worker moves the queue
 * to disk in rounds of at most two batches between emit() calls and sends what it reads back.
 * Plugin code is never called with the instance lock held.
 */
#include <assert.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vigil/plugin.h>

#include "log.h"
#include "plugin_host.h"
#include "spool.h"
#include "util/macro.h"

#ifndef PLUGINDIR
#define PLUGINDIR "/usr/lib/vigil"
#endif

/* Major of the record schema (docs/event-schema.md), handed to plugins in every batch. */
#define HOST_SCHEMA_MAJOR 1

#define DEFAULT_QUEUE_SIZE     8192U
#define DEFAULT_BATCH_SIZE     512U
#define DEFAULT_RETRY_MAX_USEC (30 * USEC_PER_SEC)
#define BACKOFF_START_USEC     (100 * USEC_PER_MSEC)
#define MAX_IN_FLIGHT_CAP      1024U
#define FILTER_OUT_MAX	       (64U << 20) /* a filter may not grow one record beyond this */
#define PLUGIN_NAME_MAX	       64
#define STAGE_SIZE	       64U
#define SPOOL_DRAIN_BATCHES    2U /* records spooled per worker round: this many batches */
#define SPOOL_HELD_BATCHES     4U /* records kept in memory after spooling: this many batches */

/* The v1 descriptor ends with fini(); anything shorter cannot be a v1 plugin. */
#define PLUGIN_V1_SIZE (offsetof(struct vigil_plugin, fini) + sizeof(void (*)(void *)))

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/*
 * Blobs are carved out of 64 KiB chunks by the one thread that makes them (the main thread for
 * enqueued records, an output's worker for records read back from its spool): one malloc() per
 * ~80 records instead of one per record, and a record freed on another thread (the worker frees
 * what the main thread allocated) touches the allocating thread's malloc arena once per chunk,
 * not once per record (profiled: malloc/free and glibc arena-lock wake-ups were ~25 % of a
 * spooled Kafka output). A chunk is freed when its last blob is.
 */
#define BLOB_CHUNK_SIZE	 (64U * 1024)
#define BLOB_CHUNKED_MAX (BLOB_CHUNK_SIZE / 8) /* larger records get their own allocation */

#define BLOB_SPARES 4 /* freed chunks an allocator keeps for reuse */

struct blob_alloc;

struct blob_chunk {
	atomic_uint ref; /* live blobs carved from it, plus one while a blob_alloc carves it */
	struct blob_alloc *owner;
};

/*
 * Carves blobs out of chunks; used by a single thread. A chunk whose last blob is freed (on
 * any thread) is parked in a free spare slot and reused by the next chunk allocation instead of
 * going back to malloc (a 64 KiB malloc() also consolidates the arena's fast bins, which the
 * plugins' many small frees fill). Must outlive every blob it made (the owner of the
 * allocator frees those first).
 */
struct blob_alloc {
	struct blob_chunk *cur;
	size_t used;
	_Atomic(struct blob_chunk *) spare[BLOB_SPARES];
};

/* Parked in the spare slots by blob_alloc_done(): chunks freed later go to free(). */
static struct blob_chunk blob_spares_closed;

struct blob {
	atomic_uint ref;
	uint32_t type;
	uint32_t size;
	uint64_t seq;
	/*
	 * Delivery order within one output: the host's enqueue counter (monotonic across all
	 * outputs, so each output sees an increasing subsequence), or the spool offset for a
	 * record read back from an output's spool. Retries are merged back by it, so order is
	 * kept with several batches in flight.
	 */
	uint64_t ord;
	struct blob_chunk *chunk; /* NULL: allocated alone */
	uint8_t data[];
};

struct output;

struct held_rec {
	struct blob *b;
	uint64_t offset;
};

/* The struct vigil_host lent to one plugin instance (the output itself or one of its filters). */
struct host_ctx {
	struct vigil_host host;
	struct output *out;
	const struct vigil_plugin *plugin;
	const char *filter; /* NULL for the output itself */
	const char *file;   /* basename of the .so, for CODE_FILE= */
	/* Strings and arrays handed out by cfg_get_list()/cfg_location(), freed with the host. */
	void **allocs;
	size_t n_allocs;
};

struct filter_inst {
	char *name;
	char *path;
	const struct vigil_plugin *plugin;
	struct host_ctx ctx;
	void *instance;
	bool initialized;
};

struct hbatch {
	struct hbatch *next;
	uint64_t id;
	uint64_t min_ord;   /* ord of recs[0]: a batch's records are in ord order */
	uint64_t emit_usec; /* CLOCK_MONOTONIC when handed to emit(): send latency */
	size_t n;
	bool acked;
	struct blob **recs;
	struct vigil_record *view;
	uint8_t *results;
};

struct out_buf {
	struct vigil_buf buf;
	size_t cap;
};

struct output {
	struct plugin_host *h;
	size_t index;
	char *name;
	char *plugin_name;
	char *path;
	char *state_dir;
	struct vigil_kv *kvs;
	size_t n_kvs;

	const struct vigil_plugin *plugin;
	struct host_ctx ctx;
	void *instance;
	bool initialized;
	struct filter_inst *filters;
	size_t n_filters;

	bool all_events;
	uint64_t event_mask;
	unsigned queue_size, batch_size, max_in_flight;
	uint64_t retry_max_usec;
	enum vigil_full_policy full_policy;

	/* Disk spool (docs/delivery.md): NULL when off. Worker thread only once started. */
	struct spool *spool;
	char *spool_dir;
	bool spool_unread; /* appended records not read back yet (or unknown: after open) */
	struct blob_alloc spool_alloc; /* worker: blobs of records read back */
	/*
	 * Worker: records just appended to the spool and still in memory, oldest first, with
	 * their spool offsets, while they are exactly the unread end of the spool: sent from here
	 * (spool_read_held()) instead of being read back from the file. @held_tail: the newest
	 * held record is the newest frame of the spool (nothing appended since was left out).
	 */
	struct held_rec *held;
	size_t held_head, n_held, held_cap;
	bool held_tail;
	uint64_t spool_max_size;
	bool spool_sync;

	pthread_t thread;
	bool thread_started;
	bool lock_initialized;

	/* Main thread only: records enqueued between hold and release of wake-ups, handed to the
	 * queue in groups (one lock round per group, not per record). */
	struct blob *stage[STAGE_SIZE];
	unsigned n_stage;

	/* Protected by lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct blob **q;
	size_t q_head, q_count;
	bool waiting; /* the worker sleeps until a record arrives */
	bool reopen_requested;
	bool stopping;
	uint64_t deadline;
	struct hbatch *pending; /* handed to emit(), not settled yet, oldest first */
	unsigned n_acked;

	/* Worker thread only. */
	struct blob **redo;
	size_t n_redo, redo_cap;
	unsigned n_in_flight;
	uint64_t next_attempt, backoff;
	bool fatal;
	bool stop_flushed;
	uint64_t next_batch_id;
	unsigned seed;
	struct out_buf fbuf;

	/* Statistics, read by plugin_host_stats() from the main thread. */
	atomic_uint_fast64_t delivered, retried, dropped, queue_dropped, filtered, filter_errors;
	atomic_uint_fast64_t last_error_usec, paused_until, redo_count, lost_at_stop;
	atomic_bool fatal_flag;
	atomic_uint_fast64_t send_latency[OUTPUT_LATENCY_BUCKETS + 1], send_latency_sum_usec;
	/* Spool statistics, mirrored by the worker after each spool operation. */
	atomic_uint_fast64_t spool_bytes, spool_records, spool_lost, spool_corrupt;
	/* plugin_host_stop() gave up joining the worker (stuck in a plugin call): nothing of
	 * this output may be touched or freed any more. */
	atomic_bool abandoned;
};

struct plugin_host {
	char *plugin_dir;
	char *state_dir;
	char *node_name;
	bool check_owner;
	struct output *outputs;
	size_t n_outputs;
	atomic_bool stopping;
	uint64_t next_ord;	 /* main thread: enqueue counter, see struct blob */
	struct blob_alloc alloc; /* main thread: blobs of enqueued records */
	bool started;
	bool stopped;
	bool hold_wakeups; /* main thread only: see plugin_host_hold_wakeups() */
	bool abandoned;	   /* some worker was abandoned: see plugin_host_free() */
	struct plugin_host *abandoned_next;
};

/*
 * Hosts with an abandoned worker are kept here instead of being freed: the stuck thread still
 * uses its output (plugin instance, queue, lock, config). Leaked on purpose, since the process
 * is exiting; reachable from here so leak checkers do not report it.
 */
static struct plugin_host *abandoned_hosts;
static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const event_names[] = {
	[VIGIL_RECORD_PROCESS_EXEC] = "process_exec",
	[VIGIL_RECORD_PROCESS_EXIT] = "process_exit",
	[VIGIL_RECORD_PROCESS_CLONE] = "process_clone",
	[VIGIL_RECORD_VIGIL_LOSS] = "vigil_loss",
	[VIGIL_RECORD_PROCESS_KPROBE] = "process_kprobe",
	[VIGIL_RECORD_PROCESS_TRACEPOINT] = "process_tracepoint",
};

int plugin_host_event_type(const char *name)
{
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(event_names); i++)
		if (event_names[i] && streq(event_names[i], name))
			return (int)i;
	return -EINVAL;
}

const char *plugin_host_event_name(uint32_t type)
{
	return type < ELEMENTSOF(event_names) ? event_names[type] : NULL;
}

static uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	(void)clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static uint64_t now_usec(void)
{
	return clock_usec(CLOCK_MONOTONIC);
}

static void blob_chunk_unref(struct blob_chunk *c)
{
	if (!c || atomic_fetch_sub_explicit(&c->ref, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < BLOB_SPARES; i++) {
		struct blob_chunk *none = NULL;

		if (atomic_compare_exchange_strong(&c->owner->spare[i], &none, c))
			return;
	}
	free(c);
}

static void blob_unref(struct blob *b)
{
	if (!b || atomic_fetch_sub_explicit(&b->ref, 1, memory_order_acq_rel) != 1)
		return;
	if (b->chunk)
		blob_chunk_unref(b->chunk);
	else
		free(b);
}

static void blob_alloc_done(struct blob_alloc *a)
{
	blob_chunk_unref(a->cur);
	a->cur = NULL;
	for (size_t i = 0; i < BLOB_SPARES; i++) {
		struct blob_chunk *c = atomic_exchange(&a->spare[i], &blob_spares_closed);

		if (c != &blob_spares_closed)
			free(c);
	}
}

/* Room for a blob of @size bytes of data, from @a's chunk when small (a may be NULL). */
static struct blob *blob_alloc(struct blob_alloc *a, size_t size)
{
	size_t need = (sizeof(struct blob) + size + 7) & ~(size_t)7;
	struct blob *b;

	if (!a || size > BLOB_CHUNKED_MAX) {
		b = malloc(sizeof(*b) + size);
		if (b)
			b->chunk = NULL;
		return b;
	}
	if (!a->cur || a->used + need > BLOB_CHUNK_SIZE) {
		struct blob_chunk *c = NULL;

		for (size_t i = 0; i < BLOB_SPARES && !c; i++)
			if (atomic_load_explicit(&a->spare[i], memory_order_relaxed))
				c = atomic_exchange(&a->spare[i], NULL);
		assert(c != &blob_spares_closed); /* no allocation after blob_alloc_done() */
		if (!c)
			c = malloc(BLOB_CHUNK_SIZE);
		if (!c)
			return NULL;
		atomic_init(&c->ref, 1);
		c->owner = a;
		blob_chunk_unref(a->cur);
		a->cur = c;
		a->used = (sizeof(*c) + 7) & ~(size_t)7;
	}
	b = (struct blob *)((uint8_t *)a->cur + a->used);
	a->used += need;
	atomic_fetch_add_explicit(&a->cur->ref, 1, memory_order_relaxed);
	b->chunk = a->cur;
	return b;
}

static struct blob *blob_new(struct blob_alloc *a, uint32_t type, uint64_t seq, uint64_t ord,
			     const uint8_t *data, size_t size, unsigned ref)
{
	struct blob *b = blob_alloc(a, size);

	if (!b)
		return NULL;
	atomic_init(&b->ref, ref);
	b->type = type;
	b->size = (uint32_t)size;
	b->seq = seq;
	b->ord = ord;
	if (size > 0)
		memcpy(b->data, data, size);
	return b;
}

/* --- config helpers --- */

/* A plugin's keys[]: exact names, or "Prefix.*" for every key starting with "Prefix.". */
static bool keys_accept(const char *const *l, const char *s)
{
	for (; l && *l; l++) {
		size_t n = strlen(*l);

		if (n >= 2 && streq(*l + n - 2, ".*") ? strncmp(*l, s, n - 1) == 0 && s[n - 1]
						      : streq(*l, s))
			return true;
	}
	return false;
}

static const struct vigil_kv *kv_last(const struct output *o, const char *section, const char *key)
{
	for (size_t i = o->n_kvs; i > 0; i--) {
		const struct vigil_kv *kv = &o->kvs[i - 1];

		if (streq(kv->section, section) && streq(kv->key, key))
			return kv;
	}
	return NULL;
}

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* --- the host table --- */

static struct host_ctx *ctx_of(const struct vigil_host *host)
{
	return container_of(host, struct host_ctx, host);
}

static int ctx_keep(struct host_ctx *c, void *p)
{
	void **a;

	if (!p)
		return -ENOMEM;
	a = realloc(c->allocs, (c->n_allocs + 1) * sizeof(*a));
	if (!a) {
		free(p);
		return -ENOMEM;
	}
	a[c->n_allocs++] = p;
	c->allocs = a;
	return 0;
}

static void ctx_done(struct host_ctx *c)
{
	for (size_t i = 0; i < c->n_allocs; i++)
		free(c->allocs[i]);
	free(c->allocs);
	c->allocs = NULL;
	c->n_allocs = 0;
}

static int host_log(const struct vigil_host *host, int level, int error, const char *fmt, ...)
{
	struct host_ctx *c = ctx_of(host);
	int e = (error < 0 ? -error : error) & ~_SYNTHETIC_ERRNO_FLAG;
	char msg[2048];
	va_list ap;

	level = level < LOG_EMERG ? LOG_EMERG : level > LOG_DEBUG ? LOG_DEBUG : level;
	if (level > log_get_max_level())
		return -e;
	errno = e; /* for %m */
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->filter)
		return log_internal(level, e, c->file, 0, c->plugin->name, c->out->name,
				    "filter '%s': %s", c->filter, msg);
	return log_internal(level, e, c->file, 0, c->plugin->name, c->out->name, "%s", msg);
}

static const char *host_cfg_get(const struct vigil_host *host, const char *section, const char *key)
{
	const struct vigil_kv *kv;

	if (!section || !key)
		return NULL;
	kv = kv_last(ctx_of(host)->out, section, key);
	/* An empty assignment resets the key to its default. */
	return kv && kv->value && kv->value[0] ? kv->value : NULL;
}

static const char *const *host_cfg_get_list(const struct vigil_host *host, const char *section,
					    const char *key)
{
	static const char *const empty[] = {NULL};
	struct host_ctx *c = ctx_of(host);
	const struct output *o = c->out;
	const char **l;
	size_t start = 0, n = 0, k = 0;

	if (!section || !key)
		return empty;
	for (size_t i = 0; i < o->n_kvs; i++)
		if (streq(o->kvs[i].section, section) && streq(o->kvs[i].key, key)) {
			if (isempty(o->kvs[i].value)) {
				start = i + 1;
				n = 0;
			} else
				n++;
		}
	if (n == 0)
		return empty;
	l = calloc(n + 1, sizeof(*l));
	if (ctx_keep(c, l) < 0)
		return empty;
	for (size_t i = start; i < o->n_kvs; i++)
		if (streq(o->kvs[i].section, section) && streq(o->kvs[i].key, key))
			l[k++] = o->kvs[i].value;
	return l;
}

static int host_cfg_get_usec(const struct vigil_host *host, const char *section, const char *key,
			     uint64_t *ret)
{
	const char *v = host_cfg_get(host, section, key);

	if (!v)
		return -ENOENT;
	return config_parse_usec(v, ret) < 0 ? -EINVAL : 0;
}

static const char *host_cfg_location(const struct vigil_host *host, const char *section,
				     const char *key)
{
	struct host_ctx *c = ctx_of(host);
	const struct vigil_kv *kv;
	char *s;

	if (!section || !key)
		return NULL;
	kv = kv_last(c->out, section, key);
	if (!kv)
		return NULL;
	if (asprintf(&s, "%s:%u", strempty(kv->file), kv->line) < 0 || ctx_keep(c, s) < 0)
		return NULL;
	return s;
}

static void host_ack(const struct vigil_host *host, uint64_t batch_id, const uint8_t *results)
{
	struct host_ctx *c = ctx_of(host);
	struct output *o = c->out;
	struct hbatch *b;
	bool ok = false;

	if (c->filter || !results) {
		log_ratelimited(LOG_WARNING, "Output '%s': ack() from %s, ignoring.", o->name,
				c->filter ? "a filter" : "a plugin without results");
		return;
	}
	pthread_mutex_lock(&o->lock);
	for (b = o->pending; b; b = b->next)
		if (b->id == batch_id)
			break;
	if (b && !b->acked) {
		memcpy(b->results, results, b->n);
		b->acked = true;
		o->n_acked++;
		ok = true;
		pthread_cond_signal(&o->cond);
	}
	pthread_mutex_unlock(&o->lock);
	if (!ok)
		log_ratelimited(LOG_WARNING,
				"Output '%s': ack() for unknown or already settled batch %" PRIu64
				", ignoring.",
				o->name, batch_id);
}

static int host_cfg_foreach(const struct vigil_host *host, const char *section, const char *prefix,
			    int (*cb)(const char *key, const char *value, const char *location,
				      void *userdata),
			    void *userdata)
{
	const struct output *o = ctx_of(host)->out;
	size_t plen = prefix ? strlen(prefix) : 0;

	if (!section || !cb)
		return -EINVAL;
	for (size_t i = 0; i < o->n_kvs; i++) {
		const struct vigil_kv *kv = &o->kvs[i], *last;
		char loc[PATH_MAX + 16];
		bool seen = false;
		int r;

		if (!streq(kv->section, section) || strncmp(kv->key, strempty(prefix), plen) != 0)
			continue;
		/* Once per key, at its first assignment, with its last value. */
		for (size_t j = 0; j < i && !seen; j++)
			seen = streq(o->kvs[j].section, section) && streq(o->kvs[j].key, kv->key);
		if (seen)
			continue;
		last = kv_last(o, section, kv->key);
		if (isempty(last->value))
			continue;
		(void)snprintf(loc, sizeof(loc), "%s:%u", strempty(last->file), last->line);
		r = cb(last->key, last->value, loc, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

static void ctx_setup(struct host_ctx *c, struct output *o, const struct vigil_plugin *p,
		      const char *filter, const char *path)
{
	const char *slash = strrchr(path, '/');

	c->out = o;
	c->plugin = p;
	c->filter = filter;
	c->file = slash ? slash + 1 : path;
	c->host = (struct vigil_host){
		.struct_size = sizeof(struct vigil_host),
		.instance = o->name,
		.node_name = o->h->node_name,
		.state_dir = o->state_dir,
		.log = host_log,
		.cfg_get = host_cfg_get,
		.cfg_get_list = host_cfg_get_list,
		.cfg_get_usec = host_cfg_get_usec,
		.cfg_location = host_cfg_location,
		.ack = host_ack,
		.cfg_foreach = host_cfg_foreach,
	};
}

/* --- loading --- */

static bool plugin_name_valid(const char *name)
{
	size_t n = 0;

	if (isempty(name))
		return false;
	for (const char *s = name; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return n <= PLUGIN_NAME_MAX;
}

static const char *kind_name(uint32_t kind)
{
	return kind == VIGIL_PLUGIN_OUTPUT   ? "an output"
	       : kind == VIGIL_PLUGIN_FILTER ? "a filter"
					     : "of an unknown kind";
}

/*
 * Plugin files loaded so far, by device and inode. The dynamic loader knows a library by the
 * names it was opened with: if fd N were closed and reused for another plugin,
 * dlopen("/proc/self/fd/N") would hand back the first library, and a second dlopen() of a file
 * already loaded would add its fd path as another such name. So a file already loaded is found
 * here and not dlopen()ed again, and the descriptor of each newly loaded file stays open for the
 * life of the process (one per plugin file; libraries are never dlclose()d either).
 */
static struct loaded_plugin {
	dev_t dev;
	ino_t ino;
	void *dl;
	int fd;
} * loaded;
static size_t n_loaded;
static pthread_mutex_t loaded_lock = PTHREAD_MUTEX_INITIALIZER;

static void *loaded_find(const struct stat *st)
{
	void *dl = NULL;

	pthread_mutex_lock(&loaded_lock);
	for (size_t i = 0; i < n_loaded && !dl; i++)
		if (loaded[i].dev == st->st_dev && loaded[i].ino == st->st_ino)
			dl = loaded[i].dl;
	pthread_mutex_unlock(&loaded_lock);
	return dl;
}

static int loaded_add(const struct stat *st, void *dl, int fd)
{
	struct loaded_plugin *a;
	int r = 0;

	pthread_mutex_lock(&loaded_lock);
	a = realloc(loaded, (n_loaded + 1) * sizeof(*a));
	if (a) {
		loaded = a;
		loaded[n_loaded++] = (struct loaded_plugin){st->st_dev, st->st_ino, dl, fd};
	} else
		r = -ENOMEM;
	pthread_mutex_unlock(&loaded_lock);
	return r;
}

static int plugin_load(const struct plugin_host *h, uint32_t kind, const char *name,
		       const char *instance, const struct vigil_plugin **ret, char **ret_path)
{
	const char *prefix = kind == VIGIL_PLUGIN_FILTER ? "filter" : "out";
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int dfd = -1, fd = -1;
	const struct vigil_plugin *p;
	char fdpath[64];
	struct stat st;
	void *dl;
	int r;

	if (!plugin_name_valid(name))
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
				       "Output '%s': invalid %s name '%s' (allowed: a-z, 0-9, _).",
				       instance, kind == VIGIL_PLUGIN_FILTER ? "filter" : "plugin",
				       strempty(name));
	if (asprintf(&path, "%s/%s_%s.so", h->plugin_dir, prefix, name) < 0) {
		path = NULL;
		return log_oom();
	}

	/*
	 * Check and load the very same file: the directory and the plugin are opened once, the
	 * checks run on those descriptors, and dlopen() gets /proc/self/fd/N, so nothing can swap
	 * the file between the check and the load. O_NONBLOCK: a FIFO must not hang us.
	 */
	dfd = open(h->plugin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return log_error_errno(errno, "Plugin '%s': cannot open plugin directory %s: %m",
				       name, h->plugin_dir);
	if (fstat(dfd, &st) < 0)
		return log_error_errno(errno, "Plugin '%s': cannot access %s: %m", name,
				       h->plugin_dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return log_error_errno(SYNTHETIC_ERRNO(EPERM),
				       "%s: Plugin directory is writable by group or others (mode "
				       "%04o), refusing to load plugin '%s'.",
				       h->plugin_dir, (unsigned)(st.st_mode & 07777), name);
	if (h->check_owner && st.st_uid != 0)
		return log_error_errno(
			SYNTHETIC_ERRNO(EPERM),
			"%s: Plugin directory is owned by uid %u, not root, refusing "
			"to load plugin '%s'.",
			h->plugin_dir, (unsigned)st.st_uid, name);

	fd = openat(dfd, strrchr(path, '/') + 1,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return log_error_errno(SYNTHETIC_ERRNO(ENOENT),
					       "Plugin '%s' not found: no %s", name, path);
		if (errno == ELOOP)
			return log_error_errno(
				SYNTHETIC_ERRNO(ELOOP),
				"%s: Plugin '%s' is a symbolic link, refusing to load.", path,
				name);
		return log_error_errno(errno, "Plugin '%s': cannot access %s: %m", name, path);
	}
	if (fstat(fd, &st) < 0)
		return log_error_errno(errno, "Plugin '%s': cannot access %s: %m", name, path);
	if (!S_ISREG(st.st_mode))
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
				       "%s: Plugin '%s' is not a regular file, refusing to load.",
				       path, name);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return log_error_errno(SYNTHETIC_ERRNO(EPERM),
				       "%s: Plugin '%s' is writable by group or others (mode "
				       "%04o), refusing to load.",
				       path, name, (unsigned)(st.st_mode & 07777));
	if (h->check_owner && st.st_uid != 0)
		return log_error_errno(
			SYNTHETIC_ERRNO(EPERM),
			"%s: Plugin '%s' is owned by uid %u, not root, refusing to load.", path,
			name, (unsigned)st.st_uid);

	/* Never dlclose(): plugin libraries may own threads, and stacks stay symbolised. */
	dl = loaded_find(&st);
	if (!dl) {
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
		dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
		if (!dl)
			return log_error_errno(SYNTHETIC_ERRNO(ENOEXEC),
					       "%s: Plugin '%s' failed to load: %s", path, name,
					       dlerror());
		r = loaded_add(&st, dl, fd);
		/* Kept open on purpose even on failure: the library stays loaded under
		 * /proc/self/fd/N, so N must never be reused (see loaded_add()). */
		fd = -1;
		if (r < 0)
			return log_oom();
	}
	p = dlsym(dl, VIGIL_PLUGIN_ENTRY);
	if (!p)
		return log_error_errno(SYNTHETIC_ERRNO(ENOEXEC),
				       "%s: Plugin '%s' does not export " VIGIL_PLUGIN_ENTRY
				       ", refusing to load.",
				       path, name);

	if (p->abi_version >> 16 != VIGIL_PLUGIN_ABI_MAJOR)
		return log_error_errno(
			SYNTHETIC_ERRNO(EPROTO),
			"%s: Plugin '%s' implements ABI %u.x, this daemon %u.x, refusing to load.",
			path, name, p->abi_version >> 16, VIGIL_PLUGIN_ABI_MAJOR);
	if (p->struct_size < PLUGIN_V1_SIZE)
		return log_error_errno(SYNTHETIC_ERRNO(ENOEXEC),
				       "%s: Plugin '%s' has a %u byte descriptor, smaller than ABI "
				       "1.0's %zu, refusing to load.",
				       path, name, p->struct_size, (size_t)PLUGIN_V1_SIZE);
	if (!p->name || !streq(p->name, name))
		return log_error_errno(SYNTHETIC_ERRNO(ENOEXEC),
				       "%s: Plugin calls itself '%s' but the file name says '%s', "
				       "refusing to load.",
				       path, p->name ? p->name : "(null)", name);
	if (p->kind != kind)
		return log_error_errno(SYNTHETIC_ERRNO(ENOEXEC),
				       "%s: Plugin '%s' is %s plugin, not %s, refusing to load.",
				       path, name, kind_name(p->kind), kind_name(kind));

	{
		const char *missing = !p->init ? "init" : !p->fini ? "fini" : NULL;

		if (!missing && kind == VIGIL_PLUGIN_OUTPUT)
			missing = !p->emit ? "emit" : !p->flush ? "flush" : NULL;
		if (!missing && kind == VIGIL_PLUGIN_FILTER)
			missing = !p->filter ? "filter" : NULL;
		if (missing)
			return log_error_errno(SYNTHETIC_ERRNO(ENOEXEC),
					       "%s: Plugin '%s' lacks the required %s() callback, "
					       "refusing to load.",
					       path, name, missing);
	}

	log_debug("Output '%s': loaded %s (ABI %u.%u): %s", instance, path, p->abi_version >> 16,
		  p->abi_version & 0xffff, strempty(p->description));
	*ret = p;
	*ret_path = TAKE_PTR(path);
	return 0;
}

/*
 * Warn about keys a plugin does not know and sections nobody reads; never fatal. Returns the
 * number of warnings (vigild --validate fails on any).
 */
static unsigned output_check_sections(const struct output *o)
{
	unsigned warnings = 0;

	for (size_t i = 0; i < o->n_kvs; i++) {
		const struct vigil_kv *kv = &o->kvs[i];
		const struct vigil_plugin *owner = NULL;
		const char *s;

		if (streq(kv->section, "Output"))
			continue;
		if (o->plugin->section && streq(o->plugin->section, kv->section))
			owner = o->plugin;
		for (size_t j = 0; !owner && j < o->n_filters; j++)
			if (o->filters[j].plugin->section &&
			    streq(o->filters[j].plugin->section, kv->section))
				owner = o->filters[j].plugin;
		if (!owner) {
			log_warning("%s:%u: Unknown section [%s] for output '%s' (plugin '%s'), "
				    "ignoring.",
				    strempty(kv->file), kv->line, kv->section, o->name,
				    o->plugin_name);
			warnings++;
			continue;
		}
		if (!owner->keys || keys_accept(owner->keys, kv->key))
			continue;
		s = config_suggest(kv->key, owner->keys);
		log_warning("%s:%u: Unknown key '%s' in section [%s], ignoring.%s%s%s",
			    strempty(kv->file), kv->line, kv->key, kv->section,
			    s ? " Did you mean '" : "", strempty(s), s ? "'?" : "");
		warnings++;
	}
	return warnings;
}

static int output_copy_config(struct output *o, const struct vigil_output_config *c)
{
	o->name = strdup(c->name);
	o->plugin_name = strdup(strempty(c->plugin));
	if (!o->name || !o->plugin_name)
		return -ENOMEM;
	if (c->n_kvs > 0) {
		o->kvs = calloc(c->n_kvs, sizeof(*o->kvs));
		if (!o->kvs)
			return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_kvs; i++) {
		struct vigil_kv *d = &o->kvs[i];
		const struct vigil_kv *s = &c->kvs[i];

		o->n_kvs++;
		d->section = strdup(strempty(s->section));
		d->key = strdup(strempty(s->key));
		d->value = strdup(strempty(s->value));
		d->file = strdup(s->file ? s->file : strempty(c->path));
		d->line = s->line;
		if (!d->section || !d->key || !d->value || !d->file)
			return -ENOMEM;
	}
	return 0;
}

static int output_routing(struct output *o, const struct vigil_output_config *c)
{
	o->all_events = !c->events || !c->events[0];
	for (char **e = c->events; e && *e; e++) {
		int t = plugin_host_event_type(*e);

		if (t < 0) {
			const struct vigil_kv *kv = kv_last(o, "Output", "Events");

			return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
					       "%s:%u: Output '%s': unknown event '%s' in Events=.",
					       kv ? kv->file : strempty(c->path), kv ? kv->line : 0,
					       o->name, *e);
		}
		o->event_mask |= UINT64_C(1) << t;
	}
	return 0;
}

/*
 * Everything about one instance that can be checked without running it: copy its config, resolve
 * Events=, load (dlopen + ABI checks, never init()) the output plugin and its Filters=. Shared by
 * plugin_host_new() and plugin_host_validate(); creates nothing on disk.
 */
static int output_load(struct plugin_host *h, struct output *o, const struct vigil_output_config *c)
{
	int r;

	o->h = h;
	if (output_copy_config(o, c) < 0)
		return log_oom();
	r = output_routing(o, c);
	if (r < 0)
		return r;

	r = plugin_load(h, VIGIL_PLUGIN_OUTPUT, o->plugin_name, o->name, &o->plugin, &o->path);
	if (r < 0)
		return r;

	/* Filters are part of the instance and validated with it. */
	for (char **f = c->filters; f && *f; f++) {
		struct filter_inst *fi, *a;

		a = realloc(o->filters, (o->n_filters + 1) * sizeof(*a));
		if (!a)
			return log_oom();
		o->filters = a;
		fi = &o->filters[o->n_filters++];
		*fi = (struct filter_inst){.name = strdup(*f)};
		if (!fi->name)
			return log_oom();
		r = plugin_load(h, VIGIL_PLUGIN_FILTER, fi->name, o->name, &fi->plugin, &fi->path);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint32_t plugin_flags(const struct vigil_plugin *p)
{
	return p->struct_size >= offsetof(struct vigil_plugin, flags) + sizeof(p->flags) ? p->flags
											 : 0;
}

/* Spool=auto|yes|no: open <state>/spool/<instance>/ and recover what a previous run left. */
static int output_spool_open(struct plugin_host *h, struct output *o,
			     const struct vigil_output_config *c)
{
	const struct vigil_kv *kv = kv_last(o, "Output", "Spool");
	struct spool_stats st;
	int r;

	if (c->spool == VIGIL_SPOOL_OFF ||
	    (c->spool == VIGIL_SPOOL_AUTO && !(plugin_flags(o->plugin) & VIGIL_PLUGIN_F_SPOOL)))
		return 0;
	if (!h->state_dir) {
		if (c->spool == VIGIL_SPOOL_ON)
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
					       "%s:%u: Output '%s': Spool=yes needs a state "
					       "directory (StateDirectory= of the unit, or "
					       "$STATE_DIRECTORY).",
					       kv ? kv->file : strempty(c->path), kv ? kv->line : 0,
					       o->name);
		log_warning("Output '%s': no state directory, running without a disk spool: "
			    "records not yet delivered are lost at a restart.",
			    o->name);
		return 0;
	}
	if (asprintf(&o->spool_dir, "%s/spool/%s", h->state_dir, o->name) < 0) {
		o->spool_dir = NULL;
		return log_oom();
	}
	r = spool_open(
		&(struct spool_options){.dir = o->spool_dir,
					.max_size = c->spool_max_size,
					.sync = c->spool_sync ? SPOOL_SYNC_BATCH : SPOOL_SYNC_NONE,
					.drop_newest = c->full_policy == VIGIL_FULL_DROP_NEWEST},
		&o->spool);
	if (r < 0)
		return log_error_errno(r, "Output '%s': cannot open its spool %s: %m", o->name,
				       o->spool_dir);
	o->spool_unread = true;
	spool_stats(o->spool, &st);
	if (st.recovered > 0)
		log_notice("Output '%s': %" PRIu64
			   " records in the spool from an earlier run, delivering them first.",
			   o->name, st.recovered);
	if (st.corrupt > 0)
		log_warning("Output '%s': spool %s: skipped %" PRIu64 " damaged places (%" PRIu64
			    " bytes).",
			    o->name, o->spool_dir, st.corrupt, st.corrupt_bytes);
	/* The spool's own drop counters start at zero: nothing to carry over. */
	atomic_store(&o->spool_lost, st.dropped + st.refused);
	atomic_store(&o->spool_bytes, st.bytes);
	atomic_store(&o->spool_records, st.records);
	atomic_store(&o->spool_corrupt, st.corrupt);
	return 0;
}

static int output_setup(struct plugin_host *h, struct output *o,
			const struct vigil_output_config *c)
{
	pthread_condattr_t ca;
	int r;

	r = pthread_mutex_init(&o->lock, NULL);
	if (r != 0)
		return -r;
	(void)pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = pthread_cond_init(&o->cond, &ca);
	(void)pthread_condattr_destroy(&ca);
	if (r != 0) {
		pthread_mutex_destroy(&o->lock);
		return -r;
	}
	o->lock_initialized = true;

	r = output_load(h, o, c);
	if (r < 0)
		return r;
	o->queue_size = c->queue_size ?: DEFAULT_QUEUE_SIZE;
	o->batch_size = c->batch_size ?: DEFAULT_BATCH_SIZE;
	o->retry_max_usec = c->retry_max_usec ?: DEFAULT_RETRY_MAX_USEC;
	o->full_policy = c->full_policy;
	o->seed = (unsigned)now_usec() ^ (unsigned)(o->index * 2654435761U);
	o->q = calloc(o->queue_size, sizeof(*o->q));
	if (!o->q)
		return log_oom();
	o->max_in_flight = MIN(MAX(o->plugin->max_in_flight, 1U), MAX_IN_FLIGHT_CAP);

	if (h->state_dir) {
		if (asprintf(&o->state_dir, "%s/output/%s", h->state_dir, o->name) < 0) {
			o->state_dir = NULL;
			return log_oom();
		}
		r = mkdir_p(o->state_dir, 0700);
		if (r < 0)
			return log_error_errno(
				r, "Output '%s': failed to create state directory %s: %m", o->name,
				o->state_dir);
	}

	r = output_spool_open(h, o, c);
	if (r < 0)
		return r;
	if (o->spool) {
		o->held_cap = (size_t)o->batch_size * SPOOL_HELD_BATCHES;
		o->held = calloc(o->held_cap, sizeof(*o->held));
		if (!o->held)
			return log_oom();
	}

	ctx_setup(&o->ctx, o, o->plugin, NULL, o->path);
	for (size_t i = 0; i < o->n_filters; i++)
		ctx_setup(&o->filters[i].ctx, o, o->filters[i].plugin, o->filters[i].name,
			  o->filters[i].path);
	(void)output_check_sections(o);

	r = o->plugin->init(&o->ctx.host, &o->instance);
	if (r < 0)
		return log_error_errno(r, "%s: Output '%s' (plugin '%s') failed to initialise: %m",
				       o->path, o->name, o->plugin_name);
	o->initialized = true;
	for (size_t i = 0; i < o->n_filters; i++) {
		struct filter_inst *fi = &o->filters[i];

		r = fi->plugin->init(&fi->ctx.host, &fi->instance);
		if (r < 0)
			return log_error_errno(
				r, "%s: Output '%s': filter '%s' failed to initialise: %m",
				fi->path, o->name, fi->name);
		fi->initialized = true;
	}
	log_debug("Output '%s': plugin '%s', %zu filter(s), queue %u, batch %u, in flight %u.",
		  o->name, o->plugin_name, o->n_filters, o->queue_size, o->batch_size,
		  o->max_in_flight);
	return 0;
}

/* --- the worker --- */

static uint8_t *fbuf_reserve(struct vigil_buf *buf, size_t n)
{
	struct out_buf *ob = container_of(buf, struct out_buf, buf);
	size_t need;

	if (n > FILTER_OUT_MAX || buf->size > FILTER_OUT_MAX - n)
		return NULL;
	need = buf->size + n;
	if (need > ob->cap) {
		size_t cap = MAX(need, MAX(ob->cap * 2, (size_t)256));
		uint8_t *d = realloc(buf->data, cap);

		if (!d)
			return NULL;
		buf->data = d;
		ob->cap = cap;
	}
	return buf->data + buf->size;
}

/* Run Filters= over one record; returns the record to send (maybe a new blob) or NULL. */
static struct blob *output_filter(struct output *o, struct blob *b)
{
	for (size_t i = 0; i < o->n_filters; i++) {
		struct filter_inst *fi = &o->filters[i];
		struct vigil_record in = {b->data, b->size, b->type, b->seq};
		struct blob *nb;
		int r;

		o->fbuf.buf.size = 0;
		o->fbuf.buf.reserve = fbuf_reserve;
		r = fi->plugin->filter(fi->instance, &in, &o->fbuf.buf);
		if (r == VIGIL_FILTER_PASS)
			continue;
		if (r == VIGIL_FILTER_DROP) {
			atomic_fetch_add(&o->filtered, 1);
			blob_unref(b);
			return NULL;
		}
		if (r == VIGIL_FILTER_REPLACE && o->fbuf.buf.size <= FILTER_OUT_MAX) {
			nb = blob_new(NULL, b->type, b->seq, b->ord, o->fbuf.buf.data,
				      o->fbuf.buf.size, 1);
			if (nb) {
				blob_unref(b);
				b = nb;
				continue;
			}
			r = -ENOMEM;
		}
		/*
		 * Fail closed: a filter that errs may be the one that was to remove a secret
		 * (filter_redact), so the record must not go out as it came in. Dropped and
		 * counted, in filter_errors and in dropped.
		 */
		atomic_fetch_add(&o->filter_errors, 1);
		atomic_fetch_add(&o->dropped, 1);
		log_ratelimited(LOG_WARNING,
				"Output '%s': filter '%s' failed on record %" PRIu64
				" (%d), dropping it.",
				o->name, fi->name, b->seq, r);
		blob_unref(b);
		return NULL;
	}
	return b;
}

/*
 * Merge @l (n records in ord order) into redo[] (kept in ord order), so records come back in
 * their original order whichever of several in-flight batches failed first.
 */
static int redo_merge(struct output *o, struct blob **l, size_t n)
{
	size_t i, j, k;

	if (n == 0)
		return 0;
	if (o->n_redo + n > o->redo_cap) {
		size_t cap = MAX(o->n_redo + n, o->redo_cap * 2);
		struct blob **a = realloc(o->redo, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		o->redo = a;
		o->redo_cap = cap;
	}
	/* From the back; on equal ord the new records go after (cannot happen in practice). */
	for (i = o->n_redo, j = n, k = o->n_redo + n; j > 0; k--) {
		if (i > 0 && o->redo[i - 1]->ord > l[j - 1]->ord)
			o->redo[k - 1] = o->redo[--i];
		else
			o->redo[k - 1] = l[--j];
	}
	o->n_redo += n;
	atomic_store(&o->redo_count, o->n_redo);
	return 0;
}

static void output_backoff(struct output *o)
{
	uint64_t delay;

	if (o->backoff == 0)
		o->backoff = MIN(BACKOFF_START_USEC, o->retry_max_usec);
	else
		o->backoff = MIN(o->backoff * 2, o->retry_max_usec);
	/* "Equal jitter": between half and all of the current step. */
	delay = o->backoff / 2 + (uint64_t)rand_r(&o->seed) % (o->backoff / 2 + 1);
	o->next_attempt = now_usec() + delay;
	atomic_store(&o->paused_until, o->next_attempt);
	atomic_store(&o->last_error_usec, clock_usec(CLOCK_REALTIME));
}

/* Keep records for a later attempt; if memory runs out they are dropped, counted. */
static void output_keep(struct output *o, struct blob **l, size_t n)
{
	if (redo_merge(o, l, n) < 0) {
		atomic_fetch_add(&o->dropped, n);
		for (size_t i = 0; i < n; i++)
			blob_unref(l[i]);
		log_ratelimited(LOG_ERR, "Output '%s': out of memory, dropped %zu records.",
				o->name, n);
		return;
	}
	atomic_fetch_add(&o->retried, n);
}

const uint64_t output_latency_bounds_usec[OUTPUT_LATENCY_BUCKETS] = {
	1 * USEC_PER_MSEC,  5 * USEC_PER_MSEC,	  10 * USEC_PER_MSEC,  25 * USEC_PER_MSEC,
	50 * USEC_PER_MSEC, 100 * USEC_PER_MSEC,  250 * USEC_PER_MSEC, 500 * USEC_PER_MSEC,
	1 * USEC_PER_SEC,   2500 * USEC_PER_MSEC, 5 * USEC_PER_SEC,    10 * USEC_PER_SEC,
};

/* The sink answered batch b: count its send latency (metrics). */
static void output_observe_latency(struct output *o, const struct hbatch *b)
{
	uint64_t now = now_usec(), d = now > b->emit_usec ? now - b->emit_usec : 0;
	size_t i = 0;

	while (i < OUTPUT_LATENCY_BUCKETS && d > output_latency_bounds_usec[i])
		i++;
	atomic_fetch_add(&o->send_latency[i], 1);
	atomic_fetch_add(&o->send_latency_sum_usec, d);
}

/* Apply per-record results: count delivered/dropped, put REDO records back in front. */
static void output_settle(struct output *o, struct hbatch *b)
{
	size_t k = 0;

	output_observe_latency(o, b);
	for (size_t i = 0; i < b->n; i++) {
		switch (b->results[i]) {
		case VIGIL_DELIVERED:
			atomic_fetch_add(&o->delivered, 1);
			blob_unref(b->recs[i]);
			break;
		case VIGIL_REDO:
			b->recs[k++] = b->recs[i]; /* compact in place, order kept */
			break;
		default:
			log_ratelimited(LOG_WARNING,
					"Output '%s': invalid result %u for record %" PRIu64
					", counting it as dropped.",
					o->name, b->results[i], b->recs[i]->seq);
			/* fall through */
		case VIGIL_DROP:
			atomic_fetch_add(&o->dropped, 1);
			blob_unref(b->recs[i]);
			break;
		}
	}
	b->n = 0;
	if (k > 0) {
		output_keep(o, b->recs, k);
		output_backoff(o);
	} else if (!o->fatal) {
		o->backoff = 0;
	}
}

static void output_resume(struct output *o)
{
	if (!o->fatal)
		return;
	o->fatal = false;
	atomic_store(&o->fatal_flag, false);
	o->backoff = 0;
	log_notice("Output '%s' (plugin '%s') is delivering again.", o->name, o->plugin_name);
}

static struct hbatch *hbatch_new(size_t n)
{
	struct hbatch *b = calloc(
		1, sizeof(*b) + n * (sizeof(struct blob *) + sizeof(struct vigil_record) + 1));

	if (!b)
		return NULL;
	b->recs = (struct blob **)(b + 1);
	b->view = (struct vigil_record *)(b->recs + n);
	b->results = (uint8_t *)(b->view + n);
	return b;
}

static void hbatch_free(struct hbatch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		blob_unref(b->recs[i]);
	free(b);
}

static void pending_unlink(struct output *o, struct hbatch *b)
{
	for (struct hbatch **p = &o->pending; *p; p = &(*p)->next)
		if (*p == b) {
			*p = b->next;
			b->next = NULL;
			if (b->acked)
				o->n_acked--;
			return;
		}
}

/* --- the spool (docs/delivery.md) --- */

static void output_spool_stats(struct output *o)
{
	struct spool_stats st;
	uint64_t lost, prev;

	spool_stats(o->spool, &st);
	atomic_store(&o->spool_bytes, st.bytes);
	atomic_store(&o->spool_records, st.records);
	atomic_store(&o->spool_corrupt, st.corrupt);
	/* Unread records dropped at the cap, and appends refused (drop-newest, write errors). */
	lost = st.dropped + st.refused;
	prev = atomic_exchange(&o->spool_lost, lost);
	if (lost > prev) {
		atomic_fetch_add(&o->dropped, lost - prev);
		log_ratelimited(LOG_WARNING,
				"Output '%s': spool %s (%" PRIu64 " lost at the cap, %" PRIu64
				" appends refused, %" PRIu64 " write errors so far).",
				o->name,
				st.refused > 0 && st.write_errors > 0 ? "cannot write"
								      : "full (SpoolMaxSize=)",
				st.dropped, st.refused, st.write_errors);
	}
}

static void output_held_clear(struct output *o)
{
	for (; o->n_held > 0; o->n_held--, o->held_head++)
		blob_unref(o->held[o->held_head].b);
	o->held_head = 0;
	o->held_tail = false;
}

/* Room for one more is checked by the caller (n_held < held_cap). */
static void output_held_push(struct output *o, struct blob *b, uint64_t offset)
{
	if (o->held_head + o->n_held == o->held_cap) {
		memmove(o->held, o->held + o->held_head, o->n_held * sizeof(*o->held));
		o->held_head = 0;
	}
	o->held[o->held_head + o->n_held++] = (struct held_rec){b, offset};
}

/*
 * Move what the main thread queued into the spool, through Filters=, so it survives a sink
 * outage, a restart and kill -9. Records go out from the spool afterwards. At most about @limit
 * records (whole chunks of 256), so that under a sustained burst the worker alternates between
 * spooling and emitting instead of spooling until the burst ends while the sink idles.
 */
static void output_spool_drain(struct output *o, size_t limit)
{
	struct blob *l[256];
	size_t n, total = 0;
	int r;

	do {
		pthread_mutex_lock(&o->lock);
		n = MIN(o->q_count, ELEMENTSOF(l));
		for (size_t i = 0; i < n; i++) {
			l[i] = o->q[o->q_head];
			o->q_head = (o->q_head + 1) % o->queue_size;
		}
		o->q_count -= n;
		pthread_mutex_unlock(&o->lock);

		for (size_t i = 0; i < n; i++) {
			struct blob *b = o->n_filters > 0 ? output_filter(o, l[i]) : l[i];
			bool hold;

			if (!b)
				continue;
			/* Held only while the held records are the whole unread end of the spool.
			 */
			hold = o->n_held < o->held_cap &&
			       (o->n_held > 0 ? o->held_tail : !o->spool_unread);
			/* Failures are counted by the spool and picked up by output_spool_stats().
			 */
			if (spool_append(o->spool, b->type, b->seq, b->data, b->size, NULL) >= 0) {
				o->spool_unread = true;
				o->held_tail = hold;
				if (hold) {
					output_held_push(o, b, spool_append_offset(o->spool));
					continue;
				}
			}
			blob_unref(b);
		}
		total += n;
	} while (n == ELEMENTSOF(l) && total < limit);

	if (total == 0)
		return;
	r = spool_commit(o->spool);
	if (r < 0)
		log_ratelimited(LOG_ERR, "Output '%s': failed to write to the spool in %s: %s",
				o->name, o->spool_dir, strerror(-r));
	output_spool_stats(o);
}

/*
 * Confirm to the spool everything before the oldest record still owned by the worker: the
 * read cursor, the oldest record waiting for a retry, the oldest record in flight.
 */
static void output_spool_ack(struct output *o, bool force)
{
	uint64_t low = spool_read_offset(o->spool);

	if (o->n_redo > 0)
		low = MIN(low, o->redo[0]->ord);
	pthread_mutex_lock(&o->lock);
	for (struct hbatch *b = o->pending; b; b = b->next)
		if (b->n > 0)
			low = MIN(low, b->min_ord);
	pthread_mutex_unlock(&o->lock);
	(void)spool_ack(o->spool, low, force);
	output_spool_stats(o);
}

/* Fill @b from the spool's read cursor, after what redo[] gave. Returns the new count. */
static size_t output_spool_fill(struct output *o, struct hbatch *b, size_t n)
{
	/* Records still in memory first, if the spool agrees they are next; else read back. */
	while (n < o->batch_size && o->n_held > 0) {
		struct held_rec *x = &o->held[o->held_head];
		struct blob *nb = x->b;

		if (spool_read_held(o->spool, x->offset, nb->size) <= 0) {
			output_held_clear(o);
			break;
		}
		if (atomic_load(&nb->ref) == 1) {
			nb->ord = x->offset; /* ours alone: its order here is its spool position */
		} else {
			/* Shared with other outputs, which order it by enqueue: our own copy. */
			nb = blob_new(&o->spool_alloc, x->b->type, x->b->seq, x->offset, x->b->data,
				      x->b->size, 1);
			if (!nb) {
				(void)spool_rewind(o->spool, x->offset);
				return n;
			}
			blob_unref(x->b);
		}
		o->held_head++;
		if (--o->n_held == 0)
			o->held_head = 0;
		b->recs[n++] = nb;
	}
	while (n < o->batch_size) {
		struct spool_rec rec;
		struct blob *nb;
		int r = spool_read(o->spool, &rec);

		if (r == 0) {
			o->spool_unread = false;
			break;
		}
		if (r < 0) {
			log_ratelimited(LOG_ERR, "Output '%s': failed to read the spool in %s: %s",
					o->name, o->spool_dir, strerror(-r));
			output_backoff(o);
			break;
		}
		nb = blob_new(&o->spool_alloc, rec.type, rec.seq, rec.offset, rec.data, rec.size,
			      1);
		if (!nb) {
			(void)spool_rewind(o->spool, rec.offset);
			break;
		}
		b->recs[n++] = nb;
	}
	return n;
}

/* What the worker could emit. Lock held. */
static bool output_backlog(const struct output *o)
{
	if (o->spool)
		return o->n_redo > 0 || o->spool_unread;
	return o->q_count > 0 || o->n_redo > 0;
}

/*
 * Stopping with a spool while the sink is down (paused, or backing off past the deadline) and
 * nothing in flight: waiting for the deadline would gain nothing, the spool keeps the records
 * for the next start. Lock held.
 */
static bool output_stop_now(const struct output *o)
{
	return o->stopping && o->spool && o->n_in_flight == 0 &&
	       (o->fatal || o->next_attempt >= o->deadline);
}

/* Build one batch (redo first, then the queue, through Filters=) and emit() it. */
static void output_emit_batch(struct output *o)
{
	struct vigil_batch vb;
	struct hbatch *b;
	enum vigil_status st;
	size_t n = 0, from_redo;

	if (o->fatal && o->plugin->probe) {
		if (o->plugin->probe(o->instance) != VIGIL_OK) {
			o->next_attempt = now_usec() + o->retry_max_usec;
			atomic_store(&o->paused_until, o->next_attempt);
			return;
		}
		output_resume(o);
	}

	b = hbatch_new(o->batch_size);
	if (!b) {
		log_ratelimited(LOG_ERR, "Output '%s': out of memory building a batch.", o->name);
		output_backoff(o);
		return;
	}
	from_redo = MIN(o->n_redo, (size_t)o->batch_size);
	if (from_redo > 0) {
		memcpy(b->recs, o->redo, from_redo * sizeof(*b->recs));
		memmove(o->redo, o->redo + from_redo, (o->n_redo - from_redo) * sizeof(*o->redo));
		o->n_redo -= from_redo;
		atomic_store(&o->redo_count, o->n_redo);
	}
	n = from_redo;

	if (o->spool) {
		n = output_spool_fill(o, b, n);
	} else if (n < o->batch_size) {
		size_t take, first = n;

		pthread_mutex_lock(&o->lock);
		take = MIN(o->q_count, (size_t)o->batch_size - n);
		for (size_t i = 0; i < take; i++) {
			b->recs[n++] = o->q[o->q_head];
			o->q_head = (o->q_head + 1) % o->queue_size;
		}
		o->q_count -= take;
		pthread_mutex_unlock(&o->lock);

		/* Filters run once per record, before its first emit; redo records are done. */
		if (o->n_filters > 0) {
			size_t k = first;

			for (size_t i = first; i < n; i++) {
				struct blob *r = output_filter(o, b->recs[i]);

				if (r)
					b->recs[k++] = r;
			}
			n = k;
		}
	}
	if (n == 0) {
		free(b);
		return;
	}

	b->n = n;
	b->min_ord = b->recs[0]->ord;
	b->id = ++o->next_batch_id;
	for (size_t i = 0; i < n; i++) {
		b->view[i] = (struct vigil_record){b->recs[i]->data, b->recs[i]->size,
						   b->recs[i]->type, b->recs[i]->seq};
		b->results[i] = VIGIL_DELIVERED;
	}
	vb = (struct vigil_batch){.records = b->view,
				  .n_records = (uint32_t)n,
				  .schema_major = HOST_SCHEMA_MAJOR,
				  .id = b->id};

	/* Registered before emit(), so an ack() from inside emit() or from another thread
	 * before emit() returns finds it. */
	pthread_mutex_lock(&o->lock);
	{
		struct hbatch **p = &o->pending;

		while (*p)
			p = &(*p)->next;
		*p = b;
	}
	pthread_mutex_unlock(&o->lock);

	b->emit_usec = now_usec();
	st = o->plugin->emit(o->instance, &vb, b->results);

	/* Too late: plugin_host_stop() counted this batch as dropped and owns nothing here. */
	if (atomic_load(&o->abandoned))
		return;

	if (st == VIGIL_PENDING) {
		o->n_in_flight++;
		output_resume(o);
		return;
	}

	pthread_mutex_lock(&o->lock);
	pending_unlink(o, b);
	pthread_mutex_unlock(&o->lock);

	switch (st) {
	case VIGIL_OK:
		output_resume(o);
		output_settle(o, b);
		break;
	case VIGIL_FATAL:
		output_keep(o, b->recs, b->n);
		b->n = 0;
		if (!o->fatal) {
			o->fatal = true;
			atomic_store(&o->fatal_flag, true);
			log_error("Output '%s' (plugin '%s') reported a fatal error; pausing it, "
				  "keeping "
				  "its records, checking again every %" PRIu64 " ms.",
				  o->name, o->plugin_name,
				  (uint64_t)(o->retry_max_usec / USEC_PER_MSEC));
		}
		atomic_store(&o->last_error_usec, clock_usec(CLOCK_REALTIME));
		o->next_attempt = now_usec() + o->retry_max_usec;
		atomic_store(&o->paused_until, o->next_attempt);
		break;
	default:
		log_ratelimited(LOG_WARNING,
				"Output '%s': emit() returned invalid status %d, retrying.",
				o->name, (int)st);
		/* fall through */
	case VIGIL_RETRY:
		output_keep(o, b->recs, b->n);
		b->n = 0;
		output_backoff(o);
		log_debug("Output '%s': transient failure, retrying %zu records in up to %" PRIu64
			  " ms.",
			  o->name, n, (uint64_t)(o->backoff / USEC_PER_MSEC));
		break;
	}
	hbatch_free(b);
}

/* Settle every acknowledged batch. */
static void output_collect_acks(struct output *o)
{
	struct hbatch *acked = NULL, **tail = &acked;

	pthread_mutex_lock(&o->lock);
	if (atomic_load(&o->abandoned)) {
		/* Abandoned at stop: its pending batches were counted as dropped already. */
		pthread_mutex_unlock(&o->lock);
		return;
	}
	for (struct hbatch **p = &o->pending; *p;) {
		struct hbatch *b = *p;

		if (!b->acked) {
			p = &b->next;
			continue;
		}
		*p = b->next;
		b->next = NULL;
		*tail = b;
		tail = &b->next;
	}
	o->n_acked = 0;
	pthread_mutex_unlock(&o->lock);

	while (acked) {
		struct hbatch *b = acked;

		acked = b->next;
		output_settle(o, b);
		o->n_in_flight--;
		hbatch_free(b);
	}
}

/* Flush, count what is left as dropped, fini(). Runs on the worker (or the caller if none). */
static void output_shutdown(struct output *o, bool flush)
{
	uint64_t now = now_usec(), lost = 0;
	struct hbatch *pending;

	if (atomic_load(&o->abandoned))
		return; /* a late return from a stuck plugin call: all was counted already */

	if (o->initialized && flush) {
		enum vigil_status st =
			o->plugin->flush(o->instance, o->deadline > now ? o->deadline - now : 0);
		if (st != VIGIL_OK)
			log_warning("Output '%s': flush() did not complete (status %d).", o->name,
				    (int)st);
		/* flush() may have outlived the stop deadline: then all was counted already. */
		if (atomic_load(&o->abandoned))
			return;
		output_collect_acks(o);
	}

	if (o->spool) {
		/* Nothing is lost: the queue goes to the spool, and what waits for a retry or an
		 * acknowledgement is in the spool already, after the confirmed offset. */
		output_spool_drain(o, SIZE_MAX);
		output_spool_ack(o, true);
		output_held_clear(o); /* in the spool too */
	}

	pthread_mutex_lock(&o->lock);
	for (; o->q_count > 0; o->q_count--) {
		blob_unref(o->q[o->q_head]);
		o->q_head = (o->q_head + 1) % o->queue_size;
		lost++;
	}
	pending = o->pending;
	o->pending = NULL;
	o->n_acked = 0;
	pthread_mutex_unlock(&o->lock);

	for (size_t i = 0; i < o->n_redo; i++)
		blob_unref(o->redo[i]);
	if (!o->spool)
		lost += o->n_redo;
	o->n_redo = 0;
	atomic_store(&o->redo_count, 0);
	while (pending) {
		struct hbatch *b = pending;

		pending = b->next;
		if (!o->spool)
			lost += b->n;
		hbatch_free(b);
	}
	o->n_in_flight = 0;
	if (o->spool) {
		struct spool_stats st;

		spool_stats(o->spool, &st);
		if (st.records > 0 && o->initialized)
			log_info("Output '%s': %" PRIu64
				 " records stay in the spool for the next start (%s).",
				 o->name, st.records, o->spool_dir);
		o->spool = spool_close(o->spool);
	}

	if (lost > 0) {
		atomic_fetch_add(&o->dropped, lost);
		atomic_store(&o->lost_at_stop, lost);
		if (o->initialized)
			log_warning("Output '%s': %" PRIu64
				    " records not delivered before the stop deadline, dropped.",
				    o->name, lost);
	}

	if (o->initialized) {
		o->plugin->fini(o->instance);
		o->initialized = false;
	}
	for (size_t i = 0; i < o->n_filters; i++)
		if (o->filters[i].initialized) {
			o->filters[i].plugin->fini(o->filters[i].instance);
			o->filters[i].initialized = false;
		}
}

static void *output_worker(void *userdata)
{
	struct output *o = userdata;

	for (;;) {
		bool reopen, stopping, stop_now, have;
		uint64_t now, deadline;

		pthread_mutex_lock(&o->lock);
		for (;;) {
			bool can_emit;
			uint64_t until = UINT64_MAX;

			now = now_usec();
			have = output_backlog(o);
			can_emit = have && o->n_in_flight < o->max_in_flight;
			if (o->n_acked > 0 || o->reopen_requested)
				break;
			/* Queued records go to the spool at once, whatever the sink does. */
			if (o->spool && o->q_count > 0)
				break;
			if (output_stop_now(o))
				break;
			if (o->stopping && (now >= o->deadline || !have) &&
			    (o->n_in_flight == 0 || !o->stop_flushed || now >= o->deadline))
				break;
			if (can_emit && now >= o->next_attempt)
				break;
			if (can_emit)
				until = o->next_attempt;
			if (o->stopping)
				until = MIN(until, o->deadline);
			/* Only an idle worker wants a wake-up per enqueued record; one that spools
			 * always does (the main thread batches wake-ups per ring-buffer drain). */
			o->waiting = o->spool || (!have && o->n_in_flight < o->max_in_flight &&
						  now >= o->next_attempt);
			if (until == UINT64_MAX) {
				pthread_cond_wait(&o->cond, &o->lock);
			} else {
				struct timespec ts = {
					.tv_sec = (time_t)(until / USEC_PER_SEC),
					.tv_nsec = (long)(until % USEC_PER_SEC * NSEC_PER_USEC)};

				(void)pthread_cond_timedwait(&o->cond, &o->lock, &ts);
			}
			o->waiting = false;
		}
		reopen = o->reopen_requested;
		o->reopen_requested = false;
		stopping = o->stopping;
		stop_now = output_stop_now(o);
		deadline = o->deadline;
		pthread_mutex_unlock(&o->lock);

		output_collect_acks(o);
		if (reopen && o->plugin->reopen) {
			enum vigil_status st = o->plugin->reopen(o->instance);

			if (st != VIGIL_OK)
				log_warning("Output '%s': reopen() failed (status %d).", o->name,
					    (int)st);
		}

		if (o->spool)
			output_spool_drain(o, (size_t)o->batch_size * SPOOL_DRAIN_BATCHES);

		now = now_usec();
		pthread_mutex_lock(&o->lock);
		have = output_backlog(o);
		pthread_mutex_unlock(&o->lock);
		if (stopping) {
			if (now >= deadline || stop_now)
				break;
			if (!have) {
				if (o->n_in_flight == 0)
					break;
				if (!o->stop_flushed) {
					/* Nudge asynchronous sinks to settle what is in flight. */
					o->stop_flushed = true;
					(void)o->plugin->flush(o->instance, deadline - now);
				}
				continue;
			}
		}
		if (have && o->n_in_flight < o->max_in_flight && now >= o->next_attempt)
			output_emit_batch(o);
		if (o->spool)
			output_spool_ack(o, false);
	}
	output_shutdown(o, true);
	return NULL;
}

/* --- public API --- */

static void output_free(struct output *o)
{
	for (; o->n_stage > 0; o->n_stage--)
		blob_unref(o->stage[o->n_stage - 1]);
	if (o->lock_initialized && (o->initialized || o->n_filters > 0))
		output_shutdown(o, false);
	if (o->lock_initialized) {
		for (; o->q_count > 0; o->q_count--) {
			blob_unref(o->q[o->q_head]);
			o->q_head = (o->q_head + 1) % o->queue_size;
		}
		pthread_mutex_destroy(&o->lock);
		pthread_cond_destroy(&o->cond);
	}
	output_held_clear(o);
	free(o->held);
	o->spool = spool_close(o->spool);
	blob_alloc_done(&o->spool_alloc);
	free(o->spool_dir);
	free(o->q);
	free(o->redo);
	free(o->fbuf.buf.data);
	ctx_done(&o->ctx);
	for (size_t i = 0; i < o->n_filters; i++) {
		ctx_done(&o->filters[i].ctx);
		free(o->filters[i].name);
		free(o->filters[i].path);
	}
	free(o->filters);
	for (size_t i = 0; i < o->n_kvs; i++) {
		free(o->kvs[i].section);
		free(o->kvs[i].key);
		free(o->kvs[i].value);
		free(o->kvs[i].file);
	}
	free(o->kvs);
	free(o->name);
	free(o->plugin_name);
	free(o->path);
	free(o->state_dir);
}

struct plugin_host *plugin_host_free(struct plugin_host *h)
{
	if (!h)
		return NULL;
	if (h->started && !h->stopped)
		(void)plugin_host_stop(h, 0);
	if (h->abandoned) {
		/*
		 * A worker is stuck inside a plugin call and may still touch its output, the
		 * plugin instance and the host. The process is on its way out: leak all of it
		 * rather than free memory a live thread uses (and never call fini() under it).
		 */
		pthread_mutex_lock(&abandoned_lock);
		h->abandoned_next = abandoned_hosts;
		abandoned_hosts = h;
		pthread_mutex_unlock(&abandoned_lock);
		return NULL;
	}
	for (size_t i = 0; i < h->n_outputs; i++)
		output_free(&h->outputs[i]);
	blob_alloc_done(&h->alloc);
	free(h->outputs);
	free(h->plugin_dir);
	free(h->state_dir);
	free(h->node_name);
	free(h);
	return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct plugin_host *, plugin_host_free)

static int host_alloc(const struct plugin_host_options *opts,
		      const struct vigil_output_config *outputs, size_t n, struct plugin_host **ret)
{
	_cleanup_(plugin_host_freep) struct plugin_host *h = NULL;
	size_t n_enabled = 0;

	if (!opts || !ret || (n > 0 && !outputs))
		return -EINVAL;

	h = calloc(1, sizeof(*h));
	if (!h)
		return log_oom();
	h->check_owner = opts->check_owner;
	h->plugin_dir = strdup(opts->plugin_dir ?: PLUGINDIR);
	if (!h->plugin_dir)
		return log_oom();
	if (opts->state_dir) {
		h->state_dir = strdup(opts->state_dir);
		if (!h->state_dir)
			return log_oom();
	}
	if (opts->node_name) {
		h->node_name = strdup(opts->node_name);
	} else {
		char hn[HOST_NAME_MAX + 1] = "";

		(void)gethostname(hn, sizeof(hn) - 1);
		h->node_name = strdup(hn);
	}
	if (!h->node_name)
		return log_oom();

	for (size_t i = 0; i < n; i++)
		n_enabled += outputs[i].enabled;
	if (n_enabled > 0) {
		h->outputs = calloc(n_enabled, sizeof(*h->outputs));
		if (!h->outputs)
			return log_oom();
	}
	*ret = TAKE_PTR(h);
	return 0;
}

/*
 * Set up every enabled output. With @ret_warnings (--validate) only output_load() and the
 * unknown-key check run, and every output is checked even after a failure (the first error is
 * returned); without, each is set up completely (init() included) and the first failure stops.
 */
static int host_add_outputs(struct plugin_host *h, const struct vigil_output_config *outputs,
			    size_t n, unsigned *ret_warnings)
{
	unsigned warnings = 0;
	int r, ret = 0;

	for (size_t i = 0; i < n; i++) {
		struct output *o;

		if (!outputs[i].enabled) {
			log_debug("Output '%s' is disabled, skipping.", strempty(outputs[i].name));
			continue;
		}
		if (isempty(outputs[i].name)) {
			r = log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Output without a name.");
		} else {
			o = &h->outputs[h->n_outputs];
			o->index = h->n_outputs++;
			if (!ret_warnings) {
				r = output_setup(h, o, &outputs[i]);
			} else {
				r = output_load(h, o, &outputs[i]);
				if (r >= 0)
					warnings += output_check_sections(o);
			}
		}
		if (r < 0 && !ret_warnings)
			return r;
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (ret_warnings)
		*ret_warnings = warnings;
	return ret;
}

int plugin_host_new(const struct plugin_host_options *opts,
		    const struct vigil_output_config *outputs, size_t n, struct plugin_host **ret)
{
	_cleanup_(plugin_host_freep) struct plugin_host *h = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	r = host_alloc(opts, outputs, n, &h);
	if (r < 0)
		return r;
	r = host_add_outputs(h, outputs, n, NULL);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(h);
	return 0;
}

int plugin_host_validate(const struct plugin_host_options *opts,
			 const struct vigil_output_config *outputs, size_t n,
			 unsigned *ret_warnings)
{
	_cleanup_(plugin_host_freep) struct plugin_host *h = NULL;
	unsigned warnings = 0;
	int r;

	r = host_alloc(opts, outputs, n, &h);
	if (r < 0)
		return r;
	r = host_add_outputs(h, outputs, n, &warnings);
	if (ret_warnings)
		*ret_warnings = warnings;
	return r;
}

int plugin_host_start(struct plugin_host *h)
{
	if (!h)
		return -EINVAL;
	if (h->started || h->stopped)
		return -EALREADY;
	h->started = true;
	for (size_t i = 0; i < h->n_outputs; i++) {
		struct output *o = &h->outputs[i];
		int r = pthread_create(&o->thread, NULL, output_worker, o);

		if (r != 0)
			return log_error_errno(r, "Output '%s': failed to start worker thread: %m",
					       o->name);
		o->thread_started = true;
	}
	return 0;
}

static bool output_wants(const struct output *o, uint32_t type)
{
	return o->all_events || (type < 64 && (o->event_mask & (UINT64_C(1) << type)));
}

/*
 * Queue @n records (in order) under one lock round, applying FullPolicy= to each as if they
 * came one at a time. Wakes a waiting worker when @wake.
 */
static void output_push(struct output *o, struct blob *const *l, size_t n, bool wake)
{
	struct blob *victims[STAGE_SIZE];
	size_t n_victims = 0;

	assert(n <= STAGE_SIZE);
	pthread_mutex_lock(&o->lock);
	for (size_t i = 0; i < n; i++) {
		struct blob *b = l[i];

		if (o->q_count >= o->queue_size) {
			if (o->full_policy == VIGIL_FULL_DROP_NEWEST) {
				victims[n_victims++] = b;
				continue;
			}
			victims[n_victims++] = o->q[o->q_head];
			o->q_head = (o->q_head + 1) % o->queue_size;
			o->q_count--;
		}
		o->q[(o->q_head + o->q_count) % o->queue_size] = b;
		o->q_count++;
	}
	if (o->waiting && wake && o->q_count > 0) {
		o->waiting = false;
		pthread_cond_signal(&o->cond);
	}
	pthread_mutex_unlock(&o->lock);

	if (n_victims == 0)
		return;
	for (size_t i = 0; i < n_victims; i++)
		blob_unref(victims[i]);
	atomic_fetch_add_explicit(&o->queue_dropped, n_victims, memory_order_relaxed);
	atomic_fetch_add_explicit(&o->dropped, n_victims, memory_order_relaxed);
	log_ratelimited(LOG_WARNING, "Output '%s': queue full (%u records), dropping the %s.",
			o->name, o->queue_size,
			o->full_policy == VIGIL_FULL_DROP_NEWEST ? "newest" : "oldest");
}

/* Hand the staged records to the queue. Main thread. */
static void output_unstage(struct output *o, bool wake)
{
	if (o->n_stage == 0)
		return;
	output_push(o, o->stage, o->n_stage, wake);
	o->n_stage = 0;
}

int plugin_host_enqueue(struct plugin_host *h, uint32_t type, uint64_t seq, const uint8_t *data,
			size_t size)
{
	unsigned n = 0;
	struct blob *b;

	if (!h || (!data && size > 0))
		return -EINVAL;
	if (atomic_load_explicit(&h->stopping, memory_order_relaxed))
		return -ESHUTDOWN;
	if (size > UINT32_MAX)
		return -E2BIG;
	for (size_t i = 0; i < h->n_outputs; i++)
		n += output_wants(&h->outputs[i], type);
	if (n == 0)
		return 0;
	/*
	 * From a chunk only when every output takes the record: an output that takes a sparse
	 * subset (Events=) and holds it through a sink outage would otherwise pin whole chunks
	 * for a few records each.
	 */
	b = blob_new(n == h->n_outputs ? &h->alloc : NULL, type, seq, h->next_ord++, data, size, n);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < h->n_outputs; i++) {
		struct output *o = &h->outputs[i];

		if (!output_wants(o, type))
			continue;
		if (!h->hold_wakeups) {
			output_push(o, &b, 1, /* wake= */ true);
			continue;
		}
		o->stage[o->n_stage++] = b;
		if (o->n_stage == STAGE_SIZE)
			output_unstage(o, /* wake= */ false);
	}
	return (int)n;
}

void plugin_host_hold_wakeups(struct plugin_host *h)
{
	if (h)
		h->hold_wakeups = true;
}

void plugin_host_release_wakeups(struct plugin_host *h)
{
	if (!h || !h->hold_wakeups)
		return;
	h->hold_wakeups = false;
	for (size_t i = 0; i < h->n_outputs; i++) {
		struct output *o = &h->outputs[i];

		if (o->n_stage > 0) {
			output_unstage(o, /* wake= */ true);
			continue;
		}
		pthread_mutex_lock(&o->lock);
		if (o->waiting && o->q_count > 0) {
			o->waiting = false;
			pthread_cond_signal(&o->cond);
		}
		pthread_mutex_unlock(&o->lock);
	}
}

void plugin_host_reopen(struct plugin_host *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_outputs; i++) {
		struct output *o = &h->outputs[i];

		pthread_mutex_lock(&o->lock);
		o->reopen_requested = true;
		pthread_cond_signal(&o->cond);
		pthread_mutex_unlock(&o->lock);
	}
}

size_t plugin_host_n_outputs(struct plugin_host *h)
{
	return h ? h->n_outputs : 0;
}

void plugin_host_stats(struct plugin_host *h, size_t i, struct output_stats *ret)
{
	struct output *o;
	uint64_t queued = 0, q_count;

	*ret = (struct output_stats){};
	if (!h || i >= h->n_outputs)
		return;
	o = &h->outputs[i];
	pthread_mutex_lock(&o->lock);
	q_count = o->q_count + o->n_stage; /* staged: main thread, like this call */
	queued = q_count;
	for (struct hbatch *b = o->pending; b; b = b->next)
		queued += b->n;
	pthread_mutex_unlock(&o->lock);

	*ret = (struct output_stats){
		.name = o->name,
		.plugin = o->plugin_name,
		.delivered = atomic_load(&o->delivered),
		.retried = atomic_load(&o->retried),
		.dropped = atomic_load(&o->dropped),
		.queue_dropped = atomic_load(&o->queue_dropped),
		.filtered = atomic_load(&o->filtered),
		.filter_errors = atomic_load(&o->filter_errors),
		.stop_dropped = atomic_load(&o->lost_at_stop),
		.abandoned = atomic_load(&o->abandoned),
		/* An abandoned worker's records are already counted in dropped. */
		.in_queue = atomic_load(&o->abandoned) ? 0
			    : o->spool_dir	       ? q_count + atomic_load(&o->spool_records)
						       : queued + atomic_load(&o->redo_count),
		.spool = o->spool_dir != NULL,
		.spool_dropped = atomic_load(&o->spool_lost),
		.spool_bytes = atomic_load(&o->spool_bytes),
		.spool_records = atomic_load(&o->spool_records),
		.spool_corrupt = atomic_load(&o->spool_corrupt),
		.paused = atomic_load(&o->fatal_flag) || atomic_load(&o->paused_until) > now_usec(),
		.last_error_usec = atomic_load(&o->last_error_usec),
		.send_latency_sum_usec = atomic_load(&o->send_latency_sum_usec),
	};
	for (size_t k = 0; k <= OUTPUT_LATENCY_BUCKETS; k++)
		ret->send_latency[k] = atomic_load(&o->send_latency[k]);
}

/*
 * Join the worker, waiting at most until a second after the stop @deadline (CLOCK_MONOTONIC):
 * the worker itself gives up at the deadline unless a plugin call blocks. If it is still
 * running then, it is abandoned: what it still holds is counted as dropped and logged, and the
 * output is left alone (no fini(), no free) for the rest of the process. Returns -ETIMEDOUT then.
 */
static int output_join(struct output *o, uint64_t deadline)
{
	uint64_t now = now_usec(), wait = (deadline > now ? deadline - now : 0) + USEC_PER_SEC;
	uint64_t until = clock_usec(CLOCK_MONOTONIC) + wait, lost;
	struct timespec ts = {.tv_sec = (time_t)(until / USEC_PER_SEC),
			      .tv_nsec = (long)(until % USEC_PER_SEC * NSEC_PER_USEC)};
	int r;

	/* A monotonic deadline: a clock step during shutdown must not stretch or cut it. */
	r = pthread_clockjoin_np(o->thread, NULL, CLOCK_MONOTONIC, &ts);
	if (r == 0)
		return 0;

	pthread_mutex_lock(&o->lock);
	atomic_store(&o->abandoned, true);
	lost = o->q_count;
	/* With a spool, what is in flight or waits for a retry is on disk: replayed at the next
	 * start (the stuck worker keeps the spool; its ack file is merely older). */
	for (struct hbatch *b = o->pending; b && !o->spool; b = b->next)
		lost += b->n;
	pthread_mutex_unlock(&o->lock);
	/* The worker is blocked in a plugin call, so redo[] does not change under us. */
	if (!o->spool)
		lost += atomic_load(&o->redo_count);
	atomic_fetch_add(&o->dropped, lost);
	atomic_store(&o->lost_at_stop, lost);
	log_error("Output '%s' is stuck in a plugin call, abandoning it; %" PRIu64
		  " records not delivered, dropped.",
		  o->name, lost);
	return -ETIMEDOUT;
}

int plugin_host_stop(struct plugin_host *h, uint64_t timeout_usec)
{
	uint64_t deadline, lost = 0;

	if (!h)
		return 0;
	if (h->stopped)
		return 0;
	/* Records enqueued inside a hold that was never released go to their queues now. */
	for (size_t i = 0; i < h->n_outputs; i++)
		output_unstage(&h->outputs[i], /* wake= */ false);
	h->hold_wakeups = false;
	atomic_store(&h->stopping, true);
	deadline = now_usec() + timeout_usec;
	for (size_t i = 0; i < h->n_outputs; i++) {
		struct output *o = &h->outputs[i];

		pthread_mutex_lock(&o->lock);
		o->stopping = true;
		o->deadline = deadline;
		pthread_cond_signal(&o->cond);
		pthread_mutex_unlock(&o->lock);
	}
	for (size_t i = 0; i < h->n_outputs; i++) {
		struct output *o = &h->outputs[i];

		if (o->thread_started) {
			if (output_join(o, deadline) < 0) {
				h->abandoned = true;
				lost += atomic_load(&o->lost_at_stop);
				continue;
			}
			o->thread_started = false;
		} else {
			output_shutdown(o, true);
		}
		lost += atomic_load(&o->lost_at_stop);
	}
	h->stopped = true;
	return lost > 0 || h->abandoned ? -ETIMEDOUT : 0;
}
