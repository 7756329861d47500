/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_PROC_CACHE_H
#define VIGIL_PROC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"
#include "event.h"

/*
 * Process cache keyed by (pid, start time in clock ticks): a reused pid has a different start
 * time and so is a different entry. Ticks, not ns, because processes found in /proc only have
 * ticks (stat field 22) and must match the kernel's events for the same process.
 *
 * Bounded: at max_entries the oldest *exited* entry is evicted first, else the least recently
 * used live one. Exited entries stay for grace_usec (proc_cache_expire()) so late events still
 * resolve. One allocation per entry (strings live in the entry).
 *
 * Returned pointers are valid until the next call that changes the cache (on_*, scan, expire).
 */

enum {
	PROC_F_EXECVE = 1 << 0,
	PROC_F_PROCFS = 1 << 1,
	PROC_F_CLONE = 1 << 2,
	PROC_F_TRUNC_ARGS = 1 << 3,
	PROC_F_TRUNC_BINARY = 1 << 4,
	PROC_F_TRUNC_CWD = 1 << 5,
	PROC_F_ERROR_ARGS = 1 << 6,
	PROC_F_ERROR_BINARY = 1 << 7,
	PROC_F_ERROR_CWD = 1 << 8,
	PROC_F_MISS = 1 << 9,
	PROC_F_DELETED_BINARY = 1 << 10, /* the executed file was unlinked */
	PROC_F_DELETED_CWD = 1 << 11,
	PROC_F_DETACHED_BINARY = 1 << 12, /* not reachable from "/" (memfd, …): a bare name */
	PROC_F_DETACHED_CWD = 1 << 13,
};

/* Defined by the record encoder (record.c); the cache only owns and frees it. */
struct proc_memo;

struct proc_entry {
	/* private links */
	struct proc_entry *hnext;
	struct proc_entry *prev, *next;

	uint32_t pid;
	uint32_t ppid;
	uint64_t start_ticks;	 /* the key, with pid */
	uint64_t start_boottime; /* ns; ticks * tick length when only /proc knew it */
	uint64_t parent_start_ticks;
	uint64_t exe_ino;
	uint64_t cgroup_id;
	uint32_t uid, euid, gid, egid, auid;
	uint32_t flags; /* PROC_F_* */
	uint32_t argc;
	bool argv_truncated;
	bool exited;
	uint32_t exit_code; /* wait(2) status word */
	uint64_t exit_usec; /* boot-time usec of the exit */

	struct cgroup_info cg; /* spans into cgroup */

	/* Strings: NUL-terminated, all inside data[]; "" when unknown. */
	const char *exec_id;
	const char *parent_exec_id;
	const char *binary;
	const char *cwd;
	const char *cgroup;
	const char *args; /* NUL-separated argv area, args_len bytes (argc strings) */
	uint16_t exec_id_len, parent_exec_id_len, binary_len, cwd_len, cgroup_len;
	uint32_t args_len;

	/*
	 * What the record encoder derived from this entry (its msgpack "process" object), kept so
	 * that the exec record, the exit record and every child's record reuse it instead of
	 * re-encoding. Set with proc_cache_set_memo(), freed with the entry. Entries never change
	 * after insertion except for the exit fields above, which the memo does not cover; code
	 * that changes any other field must drop it with proc_cache_set_memo(c, e, NULL, 0).
	 */
	struct proc_memo *memo;
	uint32_t memo_bytes;
	char data[];
};

struct proc_cache_options {
	size_t max_entries;    /* default 65536 */
	uint64_t grace_usec;   /* default 30 s */
	const char *node_name; /* for exec_id; default: hostname */
	const char *proc_root; /* default "/proc" */
	uint32_t args_max;     /* argv bytes kept from /proc/PID/cmdline; default 16384 */
	struct cgroup_resolver *resolver; /* borrowed, may be NULL */
	const char *boot_id; /* override (tests); default /proc/sys/kernel/random/boot_id */
};

struct proc_cache;

int proc_cache_new(const struct proc_cache_options *o, struct proc_cache **ret);
struct proc_cache *proc_cache_free(struct proc_cache *c);

/* Read every /proc/<pid> (flag procFS); returns the number of processes added. */
int proc_cache_scan(struct proc_cache *c);
/* Read one /proc/<pid> (flag procFS) unless already cached. */
const struct proc_entry *proc_cache_scan_pid(struct proc_cache *c, uint32_t pid);

const struct proc_entry *proc_cache_on_exec(struct proc_cache *c, const struct event_exec *e);
/* The child inherits the parent's image (binary, cwd, argv), flag clone. */
const struct proc_entry *proc_cache_on_clone(struct proc_cache *c,
					     const struct vigil_clone_event *e);
/* Marks the entry exited (kept for the grace period); creates a "miss" entry if unknown. */
const struct proc_entry *proc_cache_on_exit(struct proc_cache *c, const struct vigil_exit_event *e);

/* start_boottime in ns; 0 = the newest entry for pid (live preferred). */
const struct proc_entry *proc_cache_lookup(struct proc_cache *c, uint32_t pid,
					   uint64_t start_boottime);
const struct proc_entry *proc_cache_parent(struct proc_cache *c, const struct proc_entry *e);

/*
 * Call fn for every live (not exited) process, most recently used first; fn must not change the
 * cache. A non-zero return stops the walk and is returned.
 */
int proc_cache_foreach_live(struct proc_cache *c,
			    int (*fn)(struct proc_cache *c, const struct proc_entry *e,
				      void *userdata),
			    void *userdata);

/* Drop exited entries whose exit is older than now_usec - grace (CLOCK_BOOTTIME usec). */
void proc_cache_expire(struct proc_cache *c, uint64_t now_usec);

/* Replace e's memo by @memo (malloc()ed, @bytes long; NULL drops it). The cache takes ownership. */
void proc_cache_set_memo(struct proc_cache *c, const struct proc_entry *e, struct proc_memo *memo,
			 size_t bytes);

size_t proc_cache_size(struct proc_cache *c);
uint64_t proc_cache_evictions(struct proc_cache *c);
/* Bytes held by entries (allocations as requested, without malloc overhead) + table. */
size_t proc_cache_bytes(struct proc_cache *c);

/* The exec_id of docs/event-schema.md; returns its length or -errno. */
int proc_exec_id(const char *node_name, const char *boot_id8, uint64_t start_ticks, uint32_t pid,
		 uint64_t exe_ino, char *buf, size_t bufsize);

#endif /* VIGIL_PROC_CACHE_H */
