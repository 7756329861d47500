/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_BPF_LOADER_H
#define VIGIL_BPF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/events.h"
#include "util/macro.h"

/*
 * Loads the vigil BPF object (bpf/vigil.skel.h), attaches the base process sensor and hands
 * every ring-buffer sample (raw struct from bpf/events.h, untrusted) to a callback.
 */
struct bpf_loader;

struct bpf_loader_options {
	uint32_t ringbuf_size;	 /* bytes, power of two, >= page size */
	uint32_t argv_max;	 /* bytes, <= VIGIL_ARGS_MAX */
	bool debug;		 /* enable bpf_printk() diagnostics in the programs */
	uint32_t wakeup_bytes;	 /* wake the reader only past this backlog; 0 = every event */
	char **exclude_binaries; /* binary path prefixes whose process events are dropped */
	char **exclude_cgroups;	 /* cgroup names whose processes' events are dropped */
};

/*
 * Called for every ring-buffer sample, on the thread that calls bpf_loader_consume(). The data
 * is only valid during the call. A negative return stops the current consume call and is
 * returned by it.
 */
typedef int (*bpf_sample_fn)(void *userdata, const void *data, size_t size);

/*
 * Probe, open, load and attach. Returns 0; -EINVAL for bad options (a configuration error);
 * -EPERM without CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN); -EOPNOTSUPP when the kernel lacks a
 * required feature (BTF, ring buffer, bpf_loop: Linux >= 5.17); -ENOEXEC when the kernel refused
 * to load or attach the programs (the real error is logged); other -errno for I/O or memory.
 */
int bpf_loader_new(const struct bpf_loader_options *o, bpf_sample_fn fn, void *userdata,
		   struct bpf_loader **ret);
/* An epoll fd that becomes readable when samples are available (ring_buffer__epoll_fd()). */
int bpf_loader_fd(struct bpf_loader *l);
/* Drain the available samples; returns how many were consumed, or -errno. */
int bpf_loader_consume(struct bpf_loader *l);
/* Ring-buffer reserve/output failures per event type, summed over CPUs. */
int bpf_loader_drops(struct bpf_loader *l, uint64_t ret_drops[VIGIL_DROP_SLOTS]);
/* The loaded skeleton (bpf/vigil.skel.h), for the policy engine's maps and programs. */
struct vigil_bpf;
struct vigil_bpf *bpf_loader_skel(struct bpf_loader *l);
/* Detach the programs; the ring buffer stays readable so it can be drained. */
void bpf_loader_detach(struct bpf_loader *l);
struct bpf_loader *bpf_loader_free(struct bpf_loader *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct bpf_loader *, bpf_loader_free)

/*
 * Mount tracefs on /sys/kernel/tracing and bpffs on /sys/fs/bpf when they are missing (as on
 * Talos or in minimal containers). Returns 1 when something was mounted, 0 when both were
 * already there; failures are logged as warnings and return -errno (callers may continue: the
 * tp_btf sensors need neither, but tracepoint-based policies and pinning do).
 */
int bpf_ensure_fs_mounts(void);

#endif /* VIGIL_BPF_LOADER_H */
