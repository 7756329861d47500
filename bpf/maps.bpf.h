/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every map and load-time knob of the vigil BPF object. Each hook family (proc.bpf.c, and later
 * file/net/priv objects) includes this header; the definitions are __weak so that
 * `bpftool gen object` merges them into one map per name in the linked vigil.bpf.o.
 */
#ifndef VIGIL_MAPS_BPF_H
#define VIGIL_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "events.h"
#include "policy.h"

/*
 * Scratch space per CPU: the exec event is assembled here (it is far larger than the 512-byte
 * stack) and paths are walked here. The event area is a power of two larger than
 * VIGIL_EVENT_MAX so `len & VIGIL_SCRATCH_EVENT_MASK` is a verifier-provable length for
 * bpf_ringbuf_output(). The path area is twice VIGIL_PATH_MAX so that a masked offset plus a
 * masked length always stays inside it; only its first VIGIL_PATH_MAX bytes hold a path.
 */
#define VIGIL_SCRATCH_EVENT_SIZE 65536
#define VIGIL_SCRATCH_EVENT_MASK (VIGIL_SCRATCH_EVENT_SIZE - 1)
#define VIGIL_SCRATCH_PATH_SIZE	 (2 * VIGIL_PATH_MAX)

struct vigil_scratch {
	__u8 event[VIGIL_SCRATCH_EVENT_SIZE];
	__u8 path[VIGIL_SCRATCH_PATH_SIZE];
	struct vigil_filter_prefix_key filter_key; /* ExcludeBinaries= lookup key */
	__u32 pad;
};

/* Samples for the daemon; max_entries (bytes) is set by the loader from RingBufferSize=. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps") __weak;

/* Failed ring-buffer reserve/output, per event type (index = enum vigil_event_type). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_DROP_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} drop_stats SEC(".maps") __weak;

/*
 * Indexed by bpf_get_smp_processor_id(); the loader sets max_entries to the number of possible
 * CPUs. A plain array rather than BPF_MAP_TYPE_PERCPU_ARRAY because per-CPU values are limited
 * to 32 KiB (PCPU_MIN_UNIT_SIZE) and an exec event can reach VIGIL_EVENT_MAX. Sharing by CPU is
 * safe: these programs run on tracepoints with migration disabled and never nest.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_scratch);
} scratch SEC(".maps") __weak;

/* ---- In-kernel exec filtering ([Sensor] ExcludeBinaries=, ExcludeCgroups=) ------------- */

/* Binary path prefixes whose exec/exit/clone events are dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_filter_prefix_key);
	__type(value, __u8);
} filter_binaries SEC(".maps") __weak;

/* cgroup directory names (the task's cgroup or an ancestor) whose processes are not reported. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vigil_filter_name_key);
	__type(value, __u8);
} filter_cgroups SEC(".maps") __weak;

/* Verdict per cgroup id (1 = excluded, 2 = not), so the name walk runs once per cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u8);
} filter_cgroup_verdicts SEC(".maps") __weak;

/* Processes excluded by binary (their exit and their children's forks are dropped too). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64); /* start_boottime */
} filtered_procs SEC(".maps") __weak;

/* ---- TracingPolicy engine (bpf/policy.h explains the model) ---------------------------- */

/* Hooks by slot; the slot is the BPF cookie of every attachment of the hook. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_POL_MAX_HOOKS);
	__type(key, __u32);
	__type(value, struct vigil_pol_hook);
} pol_hooks SEC(".maps") __weak;

/* Hooks per attached tracepoint; the cookie of the attachment is the index. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_POL_MAX_HOOKS);
	__type(key, __u32);
	__type(value, struct vigil_pol_tp_group);
} pol_tp_groups SEC(".maps") __weak;

/* One inner LPM trie per string value set; created by the daemon, all with this shape. */
struct vigil_pol_str_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VIGIL_POL_STR_SET_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_pol_str_key);
	__type(value, __u8);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VIGIL_POL_MAX_STR_SETS);
	__type(key, __u32);
	__array(values, struct vigil_pol_str_trie);
} pol_str_sets SEC(".maps") __weak;

/* Integer value sets: key {set_id, value}. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_pol_int_key);
	__type(value, __u8);
} pol_int_sets SEC(".maps") __weak;

/* CIDR sets: LPM over {set_id, IPv6 or IPv4-mapped address}. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_pol_addr_key);
	__type(value, __u8);
} pol_addr_sets SEC(".maps") __weak;

/* matchBinaries sets evaluated at exec (index = bit in vigil_pol_proc.bin_bits). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_POL_MAX_BIN_SETS);
	__type(key, __u32);
	__type(value, struct vigil_pol_bin_set);
} pol_bin_sets SEC(".maps") __weak;

/* matchPIDs followForks sets evaluated at fork (index = bit in vigil_pol_proc.pid_bits). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_POL_MAX_PID_SETS);
	__type(key, __u32);
	__type(value, struct vigil_pol_pid_set);
} pol_pid_sets SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_pol_set_bounds);
} pol_set_bounds SEC(".maps") __weak;

/* Per process policy state, key = tgid; the loader sizes it like the process cache. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct vigil_pol_proc);
} pol_procs SEC(".maps") __weak;

/* Raw arguments saved at sys_enter_* for hooks evaluated at sys_exit_*, key = pid_tgid. */
struct vigil_pol_inflight {
	__u32 slot;
	__u32 hook_id;
	__u64 raw[VIGIL_POL_MAX_ARGS];
};

/*
 * LRU: an entry whose exit never comes (the thread died in the call, a hook removed while a call
 * blocked, execve from a non-leader thread changing the tid) ages out instead of filling the map
 * and blinding every return hook.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct vigil_pol_inflight);
} pol_inflight SEC(".maps") __weak;

/* Post rateLimit: last post time (boot ns) per {hook, selector, process, argument hash}. */
struct vigil_pol_rl_key {
	__u32 hook_id;
	__u32 tgid;
	__u64 args_hash;
	__u32 selector;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct vigil_pol_rl_key);
	__type(value, __u64);
} pol_ratelimit SEC(".maps") __weak;

/* Slots of the hooks run by the cgroup connect4/connect6 programs (Override on connect). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_POL_MAX_CONNECT_HOOKS);
	__type(key, __u32);
	__type(value, __u32); /* slot + 1; 0 = unused */
} pol_connect_hooks SEC(".maps") __weak;

/* Actions taken, per enum vigil_pol_action_type, plus slot 0 = rate-limited posts. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, _VIGIL_ACT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} pol_action_stats SEC(".maps") __weak;

/*
 * Scratch for the policy programs, separate from `scratch` so a policy event being assembled
 * never shares memory with an exec event. Indexed by CPU like `scratch`.
 */
#define VIGIL_POL_SCRATCH_SIZE 65536
#define VIGIL_POL_SCRATCH_MASK (VIGIL_POL_SCRATCH_SIZE - 1)
struct vigil_pol_scratch {
	__u8 event[VIGIL_POL_SCRATCH_SIZE];
	__u8 path[VIGIL_SCRATCH_PATH_SIZE]; /* path walker area */
	struct vigil_pol_str_key key;	    /* LPM lookup key */
	__u8 pad[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_pol_scratch);
} pol_scratch SEC(".maps") __weak;

/* Load-time knobs (.rodata), set by daemon/bpf_loader.c before load. */
const volatile __u32 cfg_argv_max __weak = 4096; /* bytes of argv to send, <= VIGIL_ARGS_MAX */
const volatile __u32 cfg_debug __weak = 0;	 /* bpf_printk() diagnostics */
/*
 * Wake the daemon only once this many bytes are waiting in the ring buffer (0 = on every event);
 * below it the daemon drains on its own timer. One wake-up per event costs the exec path an
 * irq_work and the daemon a full epoll round trip per event.
 */
const volatile __u32 cfg_wakeup_bytes __weak = 0;
/* VIGIL_FILTER_F_*: which exec filters are configured (skip the lookups otherwise) */
const volatile __u32 cfg_filter_flags __weak = 0;
/* vigild's own tgid: policy hooks never report (or act on) the daemon itself */
const volatile __u32 cfg_self_tgid __weak = 0;
/* bpf_set_retval() is available to cgroup programs (Linux >= 5.18): Override sets argError */
const volatile __u32 cfg_have_set_retval __weak = 0;

#endif /* VIGIL_MAPS_BPF_H */
