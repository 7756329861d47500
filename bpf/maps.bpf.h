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

/* Load-time knobs (.rodata), set by daemon/bpf_loader.c before load. */
const volatile __u32 cfg_argv_max __weak = 4096; /* bytes of argv to send, <= VIGIL_ARGS_MAX */
const volatile __u32 cfg_debug __weak = 0;	 /* bpf_printk() diagnostics */
/*
 * Wake the daemon only once this many bytes are waiting in the ring buffer (0 = on every event);
 * below it the daemon drains on its own timer. One wake-up per event costs the exec path an
 * irq_work and the daemon a full epoll round trip per event.
 */
const volatile __u32 cfg_wakeup_bytes __weak = 0;

#endif /* VIGIL_MAPS_BPF_H */
