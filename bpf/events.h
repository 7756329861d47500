/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel -> daemon wire format. Shared by the BPF programs in bpf/ and by daemon/event.c.
 *
 * Every ring-buffer sample starts with struct vigil_event_hdr:
 *
 *   0        8        12       16                24     26      28       32
 *   +--------+--------+--------+-----------------+------+-------+--------+
 *   | ts_ns  | tgid   | pid    | cgroup_id       | type | vers. | size   |  then the body
 *   +--------+--------+--------+-----------------+------+-------+--------+
 *
 * ts_ns is CLOCK_BOOTTIME (bpf_ktime_get_boot_ns()), the clock task->start_boottime uses, so
 * the daemon turns both into wall time with one offset. size is the total sample length
 * including the header; the daemon checks it against the length the ring buffer reports and
 * never trusts it alone. cgroup_id is the cgroup v2 (default hierarchy) id of the task.
 *
 * Variable-length events (exec) have a fixed part followed by a data[] area holding, in this
 * order, without padding:
 *
 *   binary[binary_len] cwd[cwd_len] args[args_len]
 *
 * binary and cwd are absolute paths, not NUL-terminated (lengths say it all), except with
 * VIGIL_EXEC_F_DETACHED_* (see there), when they are relative to a detached top. args is the
 * process's argv area exactly as in its memory: NUL-separated strings; when the argv area was
 * longer than the configured limit it is cut and VIGIL_EXEC_F_TRUNC_ARGS is set.
 *
 * Rules (STYLE.md §3.5): __u* types only, no bool, no pointers, explicit padding, sizes
 * asserted below. Bump VIGIL_EVENT_VERSION for any change to a struct's layout; the daemon
 * skips (and counts) versions it does not know.
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define VIGIL_EVENT_VERSION 1

/* Upper bounds for variable parts; masks keep the verifier's offset arithmetic provable. */
#define VIGIL_PATH_MAX	4096 /* binary and cwd each */
#define VIGIL_PATH_MASK (VIGIL_PATH_MAX - 1)
#define VIGIL_ARGS_MAX	32768 /* hard ceiling for the ArgvMaxBytes= setting */
#define VIGIL_ARGS_MASK (VIGIL_ARGS_MAX - 1)
#define VIGIL_EVENT_MAX (128 + 2 * VIGIL_PATH_MAX + VIGIL_ARGS_MAX)

enum vigil_event_type {
	VIGIL_EV_EXEC = 1,
	VIGIL_EV_EXIT = 2,
	VIGIL_EV_CLONE = 3,
	VIGIL_EV_POLICY = 4, /* struct vigil_policy_event, bpf/policy.h */
	_VIGIL_EV_MAX,
};

/* struct vigil_exec_event.flags */
enum {
	VIGIL_EXEC_F_TRUNC_ARGS = 1 << 0,   /* argv longer than the limit: cut */
	VIGIL_EXEC_F_TRUNC_BINARY = 1 << 1, /* path deeper than the walk limit: prefix lost */
	VIGIL_EXEC_F_TRUNC_CWD = 1 << 2,
	VIGIL_EXEC_F_ERROR_ARGS = 1 << 3, /* reading the argv area failed */
	VIGIL_EXEC_F_ERROR_BINARY = 1 << 4,
	VIGIL_EXEC_F_ERROR_CWD = 1 << 5,
	VIGIL_EXEC_F_NO_MM = 1 << 6, /* kernel thread or no mm: no argv */
	/* unlinked while in use (d_path()'s " (deleted)"): the path names what it was */
	VIGIL_EXEC_F_DELETED_BINARY = 1 << 7,
	VIGIL_EXEC_F_DELETED_CWD = 1 << 8,
	/*
	 * no path leads there from the task's root: a pseudo-fs file (memfd_create(), anonymous
	 * inode) or a disconnected dentry. The path is then relative to that detached top and
	 * has no leading '/': "memfd:NAME" for a fileless exec.
	 */
	VIGIL_EXEC_F_DETACHED_BINARY = 1 << 9,
	VIGIL_EXEC_F_DETACHED_CWD = 1 << 10,
};

struct vigil_event_hdr {
	__u64 ts_ns;
	__u32 tgid;
	__u32 pid;
	__u64 cgroup_id;
	__u16 type;
	__u16 version;
	__u32 size;
};

/* Credentials as seen in the task's cred at the event. */
struct vigil_creds {
	__u32 uid;
	__u32 euid;
	__u32 gid;
	__u32 egid;
	__u32 auid; /* loginuid; 4294967295 when unset */
	__u32 pad;
};

struct vigil_exec_event {
	struct vigil_event_hdr hdr;
	struct vigil_creds creds;
	__u64 start_boottime; /* task->start_boottime (ns), as /proc/PID/stat's starttime */
	__u64 parent_start_boottime;
	__u64 exe_ino; /* inode number of the executed file (part of exec_id) */
	__u32 ppid;    /* tgid of the real parent */
	__u32 old_pid; /* tid that called execve (differs from tgid after de_thread) */
	__u32 flags;   /* VIGIL_EXEC_F_* */
	__u32 binary_len;
	__u32 cwd_len;
	__u32 args_len;
	char data[];
};

struct vigil_exit_event {
	struct vigil_event_hdr hdr;
	__u64 start_boottime;
	__u32 ppid;
	__u32 exit_code; /* wait(2) status word: (status << 8) | signal | 0x80 core */
};

/* One per new process (thread group); threads are not reported. hdr.tgid is the child. */
struct vigil_clone_event {
	struct vigil_event_hdr hdr;
	struct vigil_creds creds;
	__u64 start_boottime; /* child */
	__u64 parent_start_boottime;
	__u32 ppid;  /* tgid of the forking process */
	__u32 flags; /* reserved, 0 */
};

/*
 * In-kernel exec filtering ([Sensor] ExcludeBinaries=, ExcludeCgroups=): binary path prefixes
 * up to VIGIL_FILTER_PREFIX_MAX bytes (an LPM trie), cgroup directory names shorter than
 * VIGIL_FILTER_NAME_MAX matched against the task's cgroup and its ancestors up to
 * VIGIL_FILTER_CGROUP_DEPTH levels.
 */
#define VIGIL_FILTER_PREFIX_MAX	  256
#define VIGIL_FILTER_NAME_MAX	  128
#define VIGIL_FILTER_CGROUP_DEPTH 16

enum {
	VIGIL_FILTER_F_BINARIES = 1 << 0,
	VIGIL_FILTER_F_CGROUPS = 1 << 1,
};

struct vigil_filter_prefix_key {
	__u32 prefixlen;
	__u8 data[VIGIL_FILTER_PREFIX_MAX];
};

struct vigil_filter_name_key {
	char name[VIGIL_FILTER_NAME_MAX];
};

/* Index of the per-type drop counters in the drop_stats map. */
#define VIGIL_DROP_SLOTS 8

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct vigil_event_hdr) == 32, "vigil_event_hdr layout");
_Static_assert(sizeof(struct vigil_creds) == 24, "vigil_creds layout");
_Static_assert(sizeof(struct vigil_exec_event) == 104, "vigil_exec_event layout");
_Static_assert(sizeof(struct vigil_exit_event) == 48, "vigil_exit_event layout");
_Static_assert(sizeof(struct vigil_clone_event) == 80, "vigil_clone_event layout");
_Static_assert(sizeof(struct vigil_exec_event) + 2 * VIGIL_PATH_MAX + VIGIL_ARGS_MAX <=
		       VIGIL_EVENT_MAX,
	       "exec event fits VIGIL_EVENT_MAX");
_Static_assert(_VIGIL_EV_MAX <= VIGIL_DROP_SLOTS, "drop slots");
#endif

#endif /* VIGIL_EVENTS_H */
