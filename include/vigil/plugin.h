/* SPDX-License-Identifier: MIT */
/*
 * vigil plugin ABI, version 1.
 *
 * A plugin is a shared object in the daemon's plugin directory, named out_<name>.so (an output)
 * or filter_<name>.so (a record filter), exporting exactly one symbol, vigil_plugin_entry, a
 * struct vigil_plugin. The daemon refuses a plugin whose ABI major differs from its own, whose
 * struct_size is smaller than the v1 layout, whose name does not match its file, or which lacks
 * a callback its kind requires. See docs/plugin-abi.md.
 *
 * Records are msgpack maps in the canonical schema (docs/event-schema.md). Batches are
 * borrowed: valid only until the callback that received them returns.
 *
 * Threading: all callbacks of one instance run on that instance's worker thread and never
 * concurrently; different instances run in parallel. host->ack() and host->log() may be called
 * from any thread (e.g. a librdkafka delivery-report thread); the other host functions only from
 * the callbacks.
 */
#ifndef VIGIL_PLUGIN_H
#define VIGIL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bump MAJOR for any incompatible change; bump MINOR when appending fields at the end. */
#define VIGIL_PLUGIN_ABI_MAJOR	 1
#define VIGIL_PLUGIN_ABI_MINOR	 1
#define VIGIL_PLUGIN_ABI_VERSION ((uint32_t)(VIGIL_PLUGIN_ABI_MAJOR << 16 | VIGIL_PLUGIN_ABI_MINOR))
#define VIGIL_PLUGIN_ENTRY	 "vigil_plugin_entry" /* the only exported symbol */

/**
 * enum vigil_plugin_kind - what a plugin does.
 * @VIGIL_PLUGIN_OUTPUT: delivers records to a sink; needs emit, flush and fini.
 * @VIGIL_PLUGIN_FILTER: inspects or rewrites one record at a time; needs filter and fini.
 */
enum vigil_plugin_kind {
	VIGIL_PLUGIN_OUTPUT = 0,
	VIGIL_PLUGIN_FILTER = 1,
};

/**
 * enum vigil_status - outcome of a call.
 * @VIGIL_OK: done. For emit(): results[] holds each record's fate.
 * @VIGIL_PENDING: emit() only: the plugin copied what it needs and will report the fate of
 *	every record of this batch later, exactly once, through host->ack(). The host may offer
 *	further batches meanwhile (up to the instance's in-flight limit).
 * @VIGIL_RETRY: transient failure (connect, timeout, 429/5xx, queue full); nothing of the batch
 *	was delivered. The host keeps the batch, preserves order and re-offers it after backoff.
 * @VIGIL_FATAL: permanent failure (bad credentials, sink refuses us). The host pauses the
 *	instance, reports it, keeps the records, and retries slowly (through probe() if set).
 */
enum vigil_status {
	VIGIL_OK = 0,
	VIGIL_PENDING = 1,
	VIGIL_RETRY = 2,
	VIGIL_FATAL = 3,
};

/**
 * enum vigil_result - fate of one record, written by the plugin into results[].
 * @VIGIL_DELIVERED: the sink has it (the host pre-fills every slot with this).
 * @VIGIL_REDO: transient failure of this record only; the host re-sends just these.
 * @VIGIL_DROP: the sink rejected it for good (e.g. a mapping error); counted as dropped.
 */
enum vigil_result {
	VIGIL_DELIVERED = 0,
	VIGIL_REDO = 1,
	VIGIL_DROP = 2,
};

/* Return values of filter(). */
enum vigil_filter_verdict {
	VIGIL_FILTER_PASS = 0,
	VIGIL_FILTER_REPLACE = 1,
	VIGIL_FILTER_DROP = 2,
};

/**
 * struct vigil_record - one canonical event.
 * @data: msgpack map, @size bytes.
 * @seq: sequence number, monotonic per daemon run across all event types; lets sinks
 *	de-duplicate and tests prove nothing was lost.
 * @type: event type, one of the VIGIL_RECORD_* values below.
 */
struct vigil_record {
	const uint8_t *data;
	uint32_t size;
	uint32_t type;
	uint64_t seq;
};

/* struct vigil_record.type; numbering is part of the ABI. */
#define VIGIL_RECORD_PROCESS_EXEC	1
#define VIGIL_RECORD_PROCESS_EXIT	2
#define VIGIL_RECORD_PROCESS_CLONE	3
#define VIGIL_RECORD_VIGIL_LOSS		4
#define VIGIL_RECORD_PROCESS_KPROBE	5 /* a TracingPolicy kprobe hook (incl. syscall: true) */
#define VIGIL_RECORD_PROCESS_TRACEPOINT 6 /* a TracingPolicy tracepoint hook */

/**
 * struct vigil_batch - records offered to an output in one emit() call.
 * @records: @n_records records in order.
 * @schema_major: major version of the record schema (docs/event-schema.md).
 * @id: host-chosen, unique per instance; the key for host->ack().
 */
struct vigil_batch {
	const struct vigil_record *records;
	uint32_t n_records;
	uint32_t schema_major;
	uint64_t id;
};

/**
 * struct vigil_buf - growable output buffer owned by the host, for filter().
 * @data: bytes written so far; @size: their count; @reserve: the host's allocator; returns
 *	a pointer to at least @n writable bytes at data + size, or NULL when out of memory.
 *	The plugin advances @size after writing.
 */
struct vigil_buf {
	uint8_t *data;
	size_t size;
	uint8_t *(*reserve)(struct vigil_buf *buf, size_t n);
};

/**
 * struct vigil_host - services the daemon lends to one plugin instance.
 * @struct_size: sizeof(struct vigil_host) of the daemon; read fields added later only when
 *	this covers them.
 * @instance: the output instance name (basename of outputs.d/NAME.conf).
 * @node_name: the node name stamped on records.
 * @state_dir: a directory this instance may write to (created by the host, 0700), for
 *	dead-letter files and the like.
 * @log: log through the daemon, prefixed with the instance. @level is syslog-style, @error 0 or
 *	an errno of either sign (for %m); returns -abs(@error).
 * @cfg_get: the last value of @key in @section of this instance's merged config, or NULL.
 * @cfg_get_list: all values of a list-valued @key after the last empty assignment, as a
 *	NULL-terminated array (never NULL; may be empty). Valid until fini().
 * @cfg_get_usec: parse a time span ("10s", "5min", "250ms", plain seconds); 0, -ENOENT if
 *	unset, -EINVAL if malformed.
 * @cfg_location: "file:line" of the last assignment of @key, for error messages, or NULL.
 * @ack: report the fate of a batch for which emit() returned VIGIL_PENDING; @results has one
 *	entry per record of that batch. May be called from any thread.
 * @cfg_foreach: (ABI 1.1; check @struct_size) call @cb for every key of @section whose name
 *	starts with @prefix ("" for all), once per key with its last value, in the order of
 *	their first assignment; @location is "file:line" of that last assignment. Keys whose last
 *	assignment is empty (reset) are skipped. Stops at and returns the first negative value @cb
 *	returns, else 0. For pass-through settings such as [Kafka] RdKafka.<property>=.
 */
struct vigil_host {
	uint32_t struct_size;
	const char *instance;
	const char *node_name;
	const char *state_dir;
	int (*log)(const struct vigil_host *host, int level, int error, const char *fmt, ...)
		__attribute__((format(printf, 4, 5)));
	const char *(*cfg_get)(const struct vigil_host *host, const char *section, const char *key);
	const char *const *(*cfg_get_list)(const struct vigil_host *host, const char *section,
					   const char *key);
	int (*cfg_get_usec)(const struct vigil_host *host, const char *section, const char *key,
			    uint64_t *ret);
	const char *(*cfg_location)(const struct vigil_host *host, const char *section,
				    const char *key);
	void (*ack)(const struct vigil_host *host, uint64_t batch_id, const uint8_t *results);
	/* ABI 1.1 */
	int (*cfg_foreach)(const struct vigil_host *host, const char *section, const char *prefix,
			   int (*cb)(const char *key, const char *value, const char *location,
				     void *userdata),
			   void *userdata);
};

/**
 * struct vigil_plugin - the descriptor exported as vigil_plugin_entry.
 * @abi_version: VIGIL_PLUGIN_ABI_VERSION the plugin was built against.
 * @struct_size: sizeof(struct vigil_plugin) the plugin was built against.
 * @kind: enum vigil_plugin_kind.
 * @name: "file": must equal Plugin= (or the Filters= entry) and the file name.
 * @description: one line for logs and vigilctl.
 * @section: the config section the plugin reads ("File"), or NULL if none.
 * @keys: NULL-terminated list of keys the plugin understands in @section; the host warns,
 *	with a did-you-mean, about any other key found there. An entry ending in ".*" (ABI 1.1)
 *	accepts every key starting with what precedes the "*" ("RdKafka.*").
 * @max_in_flight: how many batches may be pending (VIGIL_PENDING) at once; 0 means 1.
 * @init: parse config and create one instance. On error free everything and return -errno
 *	(after logging why through host->log); fini() is then not called.
 * @emit: output only. Deliver @batch; write each record's fate to @results (pre-filled with
 *	VIGIL_DELIVERED) and return VIGIL_OK, or see enum vigil_status.
 * @flush: output only. Push out internally buffered data, blocking at most @timeout_usec.
 * @probe: optional. After VIGIL_FATAL or repeated VIGIL_RETRY: is the sink usable again?
 *	VIGIL_OK resumes delivery.
 * @filter: filter only. Return VIGIL_FILTER_PASS to pass @in unchanged, VIGIL_FILTER_REPLACE
 *	after writing one replacement msgpack record into @out, VIGIL_FILTER_DROP to drop it
 *	(counted as filtered), or a negative errno on failure: the record is then dropped
 *	(fail closed: a redaction filter that fails must not leak what it should hide) and
 *	counted as a filter error and as lost.
 * @reopen: optional, output only. Reopen files after log rotation (the daemon received
 *	SIGUSR1); called on the worker thread between emit() calls.
 * @fini: release the instance; called exactly once after a successful init().
 * @flags: (ABI 1.1) VIGIL_PLUGIN_F_* below. The host reads it only when @struct_size covers it.
 */
struct vigil_plugin {
	uint32_t abi_version;
	uint32_t struct_size;
	uint32_t kind;
	uint32_t max_in_flight;
	const char *name;
	const char *description;
	const char *section;
	const char *const *keys;
	int (*init)(const struct vigil_host *host, void **ret_instance);
	enum vigil_status (*emit)(void *instance, const struct vigil_batch *batch,
				  uint8_t *results);
	enum vigil_status (*flush)(void *instance, uint64_t timeout_usec);
	enum vigil_status (*probe)(void *instance);
	int (*filter)(void *instance, const struct vigil_record *in, struct vigil_buf *out);
	enum vigil_status (*reopen)(void *instance);
	void (*fini)(void *instance);
	/* ABI 1.1 */
	uint32_t flags;
};

/*
 * A remote sink (Kafka, Elasticsearch, Splunk HEC): the host gives its instances a disk spool
 * unless the instance's config says Spool=no (docs/delivery.md). Local sinks leave it unset
 * (spooling a file output would only write every record twice); Spool=yes turns it on anyway.
 */
#define VIGIL_PLUGIN_F_SPOOL (1U << 0)

#define VIGIL_PLUGIN_DEFINE(...)                                                                   \
	__attribute__((visibility("default"))) const struct vigil_plugin vigil_plugin_entry = {    \
		.abi_version = VIGIL_PLUGIN_ABI_VERSION,                                           \
		.struct_size = sizeof(struct vigil_plugin),                                        \
		__VA_ARGS__}

#ifdef __cplusplus
}
#endif

#endif /* VIGIL_PLUGIN_H */
