/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_PLUGIN_HOST_H
#define VIGIL_PLUGIN_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * The plugin host (STYLE.md §3.9, docs/plugin-abi.md): loads out_<name>.so and filter_<name>.so
 * from the plugin directory, checks their ABI, and runs every enabled output instance on its own
 * worker thread behind a bounded queue, with batching, filters, retry/backoff, asynchronous
 * acknowledgement and per-instance counters. The main thread only enqueues.
 */

struct plugin_host;

struct plugin_host_options {
	const char *plugin_dir; /* NULL = the compiled-in PLUGINDIR */
	const char *state_dir;	/* instances get <state_dir>/output/<instance>; NULL = none */
	const char *node_name;	/* NULL = gethostname() */
	/* Refuse plugin files not owned by root. Files writable by group or others are refused
	 * whatever this says. Tests running as non-root turn it off. */
	bool check_owner;
};

/* Upper bounds (usec) of the send latency histogram of struct output_stats. */
#define OUTPUT_LATENCY_BUCKETS 12
extern const uint64_t output_latency_bounds_usec[OUTPUT_LATENCY_BUCKETS];

/*
 * Per-instance counters, all monotonic except in_queue and paused. Every record handed to an
 * instance (plugin_host_enqueue() returned it for this instance) ends up in exactly one of
 * delivered, filtered and dropped, or is still in in_queue.
 */
struct output_stats {
	const char *name; /* instance; valid while the host lives */
	const char *plugin;
	uint64_t delivered; /* records the sink confirmed */
	uint64_t retried;   /* re-offers (RETRY, REDO, FATAL); a record may count several times */
	/*
	 * Every record lost after enqueue, whatever the reason: queue overflow, a DROP (or
	 * invalid) per-record result, out of memory while keeping records for a retry, a filter
	 * error (fail closed), and what was left at the stop deadline or held by a worker
	 * abandoned in a stuck plugin call. This is the number to report as loss.
	 */
	uint64_t dropped;
	uint64_t queue_dropped;	  /* of dropped: queue overflow (QueueFullPolicy=) */
	uint64_t filter_errors;	  /* of dropped: filter() failures (the record is dropped) */
	uint64_t stop_dropped;	  /* of dropped: left at the stop deadline or abandoned */
	uint64_t filtered;	  /* records a filter chose to drop (not a loss, not in dropped) */
	uint64_t in_queue;	  /* queued + waiting for retry + in flight (+ in the spool) */
	bool spool;		  /* the instance has a disk spool */
	uint64_t spool_dropped;	  /* of dropped: lost at the spool (cap, refused, write errors) */
	uint64_t spool_bytes;	  /* size of the spool's files */
	uint64_t spool_records;	  /* records in the spool not yet confirmed by the sink */
	uint64_t spool_corrupt;	  /* damaged places skipped in the spool */
	bool paused;		  /* FATAL or backing off */
	bool abandoned;		  /* its worker was stuck at stop and left running */
	uint64_t last_error_usec; /* CLOCK_REALTIME of the last RETRY/FATAL/REDO, 0 = never */
	/*
	 * Send latency of the batches the sink answered (emit() returned OK, or ack() settled
	 * them): time from emit() to that answer. send_latency[i] counts the batches within
	 * output_latency_bounds_usec[i] and above the previous bound (not cumulative); the last
	 * slot counts those above every bound.
	 */
	uint64_t send_latency[OUTPUT_LATENCY_BUCKETS + 1];
	uint64_t send_latency_sum_usec;
};

/*
 * Load and init() every enabled output of outputs[0..n) and its Filters=. Any failure is logged
 * with the plugin, file and reason; everything is freed and -errno returned.
 */
int plugin_host_new(const struct plugin_host_options *o, const struct vigil_output_config *outputs,
		    size_t n, struct plugin_host **ret);
/*
 * vigild --validate: for every enabled output of outputs[0..n), do what plugin_host_new() does
 * short of running anything: resolve Events=, load the output plugin and its Filters= (file,
 * owner/mode and ABI checks, but no init()), and warn (file:line, did-you-mean) about unknown
 * sections and keys. Checks every output even after a failure. Creates no files or threads.
 * Returns 0 or the first error (-errno, logged); *ret_warnings (may be NULL) gets the number of
 * warnings.
 */
int plugin_host_validate(const struct plugin_host_options *o,
			 const struct vigil_output_config *outputs, size_t n,
			 unsigned *ret_warnings);
/* Start one worker thread per instance. */
int plugin_host_start(struct plugin_host *h);
/*
 * Main thread, hot path: copy the record once, share it between all instances whose Events=
 * match @type; never blocks. Returns the number of instances the record went to (0 when none
 * wants it), -ESHUTDOWN after plugin_host_stop(), -E2BIG, -ENOMEM.
 */
int plugin_host_enqueue(struct plugin_host *h, uint32_t type, uint64_t seq, const uint8_t *data,
			size_t size);
/* Ask every instance to call reopen() (SIGUSR1, log rotation). */
/*
 * Main thread: between hold and release, enqueued records do not wake idle workers; release
 * wakes each worker that has records once. Used around a ring-buffer drain so a burst of events
 * becomes one batch per output instead of one wake-up and one emit() per record. Inside a hold
 * the records are also handed to each output's queue in groups of up to 64 (one lock round per
 * group); release (or plugin_host_stop()) hands over the rest. QueueFullPolicy= applies to each
 * record as if it came alone.
 */
void plugin_host_hold_wakeups(struct plugin_host *h);
void plugin_host_release_wakeups(struct plugin_host *h);
void plugin_host_reopen(struct plugin_host *h);
size_t plugin_host_n_outputs(struct plugin_host *h);
void plugin_host_stats(struct plugin_host *h, size_t i, struct output_stats *ret);
/*
 * Stop accepting, drain every queue (retrying within the deadline), flush() with the remaining
 * time, fini() and join. Records left at the deadline are counted as dropped and logged. A
 * worker still inside a plugin call one second after the deadline is abandoned: its records are
 * counted as dropped, "Output 'X' is stuck in emit(), abandoning it" is logged, and that output
 * (its plugin instance included: no fini()) is leaked on purpose by plugin_host_free(), the
 * process being about to exit. Returns 0, or -ETIMEDOUT if some instance lost records at the
 * deadline or was abandoned.
 */
int plugin_host_stop(struct plugin_host *h, uint64_t timeout_usec);
struct plugin_host *plugin_host_free(struct plugin_host *h);

/* "process_exec" → VIGIL_RECORD_PROCESS_EXEC, ...; -EINVAL if unknown. */
int plugin_host_event_type(const char *name);
/* The reverse; NULL if unknown. */
const char *plugin_host_event_name(uint32_t type);

#endif /* VIGIL_PLUGIN_HOST_H */
