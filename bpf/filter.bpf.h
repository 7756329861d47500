/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * In-kernel exec filtering ([Sensor] ExcludeBinaries=, ExcludeCgroups=): the base sensor drops
 * exec, exit and clone events of excluded processes before they reach the ring buffer.
 *
 *  - by binary: at exec, the binary path is looked up in the filter_binaries LPM trie (prefixes).
 *    An excluded process is remembered in filtered_procs, so its exit and the forks it makes
 *    (running the same image) are dropped too; an exec of a binary that is not excluded makes the
 *    process visible again.
 *  - by cgroup: the names of the task's cgroup v2 directory and its ancestors are looked up in
 *    filter_cgroups; the verdict is cached per cgroup id (ids are never reused).
 */
#ifndef VIGIL_FILTER_BPF_H
#define VIGIL_FILTER_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"

/* Before Linux 6.15 the parent link was named `parent`. */
struct kernfs_node___pre615 {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *vigil_kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___pre615, parent))
		return BPF_CORE_READ((struct kernfs_node___pre615 *)kn, parent);
	return BPF_CORE_READ(kn, __parent);
}

static __always_inline bool vigil_filter_cgroup_excluded(struct task_struct *task, __u64 cgid)
{
	struct vigil_filter_name_key key;
	struct kernfs_node *kn;
	__u8 verdict = 2, *v;

	if (!(cfg_filter_flags & VIGIL_FILTER_F_CGROUPS))
		return false;
	v = bpf_map_lookup_elem(&filter_cgroup_verdicts, &cgid);
	if (v)
		return *v == 1;

	kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	for (int i = 0; i < VIGIL_FILTER_CGROUP_DEPTH && kn; i++) {
		const char *name = BPF_CORE_READ(kn, name);

		__builtin_memset(&key, 0, sizeof(key));
		if (bpf_probe_read_kernel_str(key.name, sizeof(key.name), name) > 0 &&
		    bpf_map_lookup_elem(&filter_cgroups, &key)) {
			verdict = 1;
			break;
		}
		kn = vigil_kn_parent(kn);
	}
	(void)bpf_map_update_elem(&filter_cgroup_verdicts, &cgid, &verdict, BPF_ANY);
	return verdict == 1;
}

/*
 * Is the binary path (len bytes at path, inside a map value) excluded? The LPM key is built in
 * key, a map-value buffer of struct vigil_filter_prefix_key (the key is too big for the stack
 * next to the callers' locals).
 */
static __always_inline bool vigil_filter_binary_excluded(const __u8 *path, __u32 len,
							 struct vigil_filter_prefix_key *key)
{
	if (!(cfg_filter_flags & VIGIL_FILTER_F_BINARIES))
		return false;
	len = len > VIGIL_FILTER_PREFIX_MAX ? VIGIL_FILTER_PREFIX_MAX : len;
	key->prefixlen = 8 * len;
	if (bpf_probe_read_kernel(key->data, len, path) < 0)
		return false;
	return bpf_map_lookup_elem(&filter_binaries, key) != NULL;
}

/* The process (tgid, started at start) was excluded by binary: remember it. */
static __always_inline void vigil_filter_mark(__u32 tgid, __u64 start)
{
	(void)bpf_map_update_elem(&filtered_procs, &tgid, &start, BPF_ANY);
}

static __always_inline bool vigil_filter_is_marked(__u32 tgid)
{
	if (!(cfg_filter_flags & VIGIL_FILTER_F_BINARIES))
		return false;
	return bpf_map_lookup_elem(&filtered_procs, &tgid) != NULL;
}

static __always_inline void vigil_filter_unmark(__u32 tgid)
{
	if (cfg_filter_flags & VIGIL_FILTER_F_BINARIES)
		(void)bpf_map_delete_elem(&filtered_procs, &tgid);
}

#endif /* VIGIL_FILTER_BPF_H */
