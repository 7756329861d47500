/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_RECORD_H
#define VIGIL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc_cache.h"

/* The canonical msgpack record, docs/event-schema.md. */
#define SCHEMA_VERSION_MAJOR 1
#define SCHEMA_VERSION_MINOR 1

enum record_type {
	RECORD_PROCESS_EXEC = 1,
	RECORD_PROCESS_EXIT = 2,
	RECORD_PROCESS_CLONE = 3,
	RECORD_VIGIL_LOSS = 4,
	RECORD_PROCESS_KPROBE = 5,
	RECORD_PROCESS_TRACEPOINT = 6,
};

struct record_encoder;
struct compiled_hook;
struct event_policy;

/* ancestors: add process_*.ancestors (up to RECORD_ANCESTORS_MAX levels above the parent). */
#define RECORD_ANCESTORS_MAX 32
int record_encoder_new(const char *node_name, bool ancestors, struct record_encoder **ret);
struct record_encoder *record_encoder_free(struct record_encoder *r);
/* Wall clock = boot time + offset; set at creation from clock_boot_offset(). Tests pin it. */
void record_encoder_set_boot_offset(struct record_encoder *r, int64_t offset_ns);

/*
 * Each returns 0 and sets *ret_data and *ret_size to a buffer owned by the encoder, valid until the
 * next call. time_ns is wall-clock ns since the epoch. tid is the thread that emitted the event.
 */
int record_encode_exec(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
		       struct proc_cache *c, const struct proc_entry *p, const uint8_t **ret_data,
		       size_t *ret_size);
/* exit_code is the wait(2) status word (struct vigil_exit_event.exit_code). */
int record_encode_exit(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
		       struct proc_cache *c, const struct proc_entry *p, uint32_t exit_code,
		       const uint8_t **ret_data, size_t *ret_size);
int record_encode_clone(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
			struct proc_cache *c, const struct proc_entry *p, const uint8_t **ret_data,
			size_t *ret_size);
/*
 * A policy event (VIGIL_EV_POLICY) of hook @h: process_kprobe for kprobe hooks, process_tracepoint
 * for tracepoint hooks (docs/event-schema.md). @ev is the decoded event (event_decode()); its
 * arguments are rendered with the types, labels and integer widths of @h->args (and
 * @h->return_arg). @policy_name is the TracingPolicy's metadata.name.
 */
int record_encode_policy(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
			 struct proc_cache *c, const struct proc_entry *p,
			 const struct compiled_hook *h, const char *policy_name,
			 const struct event_policy *ev, const uint8_t **ret_data, size_t *ret_size);
/* stage: "kernel", "decode", "queue" (then output names the instance), ... */
int record_encode_loss(struct record_encoder *r, uint64_t time_ns, const char *stage,
		       const char *output, uint64_t count, uint64_t total, const uint8_t **ret_data,
		       size_t *ret_size);

/* Helpers shared with renderers. */
/* The "arguments" string (argv[1..], quoted as documented) into buf; returns its length. */
size_t record_format_arguments(const char *args, size_t args_len, char *buf, size_t bufsize);
/* "execve procFS ..." for PROC_F_* into buf; returns its length. */
size_t record_format_flags(uint32_t flags, char *buf, size_t bufsize);

#endif /* VIGIL_RECORD_H */
