/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inline helpers shared by the vigil BPF programs: event header, credentials, drop accounting,
 * and an in-kernel path resolver (bpf_d_path() is not allowed in tracepoint programs).
 */
#ifndef VIGIL_HELPERS_BPF_H
#define VIGIL_HELPERS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"

/* Most steps (components + mount crossings) a path walk takes; deeper paths get the TRUNC flag. */
#define VIGIL_PATH_DEPTH 64

/* include/linux/sched/signal.h; #defines are not in BTF. */
#define VIGIL_SIGNAL_GROUP_EXIT 0x00000004

#define vigil_debug(fmt, ...)                                                                      \
	({                                                                                         \
		if (cfg_debug)                                                                     \
			bpf_printk(fmt, ##__VA_ARGS__);                                            \
	})

static __always_inline struct vigil_scratch *vigil_scratch_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&scratch, &cpu);
}

/* Count a lost event of the given type; the daemon reports these as vigil_loss. */
static __always_inline void vigil_drop(__u32 type)
{
	__u64 *cnt;

	if (type >= VIGIL_DROP_SLOTS)
		type = 0;
	cnt = bpf_map_lookup_elem(&drop_stats, &type);
	if (cnt)
		*cnt += 1;
	vigil_debug("vigil: dropped event type %u", type);
}

/* Ring-buffer submit flags: batch wake-ups (see cfg_wakeup_bytes). */
static __always_inline __u64 vigil_rb_flags(void)
{
	if (!cfg_wakeup_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

/* pid/tgid and cgroup of the current task; callers overwrite them when reporting another task. */
static __always_inline void vigil_hdr_fill(struct vigil_event_hdr *hdr, __u16 type, __u32 size)
{
	__u64 id = bpf_get_current_pid_tgid();

	hdr->ts_ns = bpf_ktime_get_boot_ns();
	hdr->tgid = id >> 32;
	hdr->pid = (__u32)id;
	hdr->cgroup_id = bpf_get_current_cgroup_id();
	hdr->type = type;
	hdr->version = VIGIL_EVENT_VERSION;
	hdr->size = size;
}

static __always_inline void vigil_creds_fill(struct vigil_creds *c, struct task_struct *task)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);

	c->uid = BPF_CORE_READ(cred, uid.val);
	c->euid = BPF_CORE_READ(cred, euid.val);
	c->gid = BPF_CORE_READ(cred, gid.val);
	c->egid = BPF_CORE_READ(cred, egid.val);
	/* loginuid only exists with CONFIG_AUDIT. */
	if (bpf_core_field_exists(task->loginuid))
		c->auid = BPF_CORE_READ(task, loginuid.val);
	else
		c->auid = (__u32)-1;
	c->pad = 0;
}

/* Start time of the task's process (thread-group leader), as /proc/PID/stat reports it. */
static __always_inline __u64 vigil_process_start(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_boottime);
}

struct vigil_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u8 *buf;
	__u32 off;
	int state; /* VIGIL_WALK_* or a negative error */
};

enum {
	VIGIL_WALK_RUNNING = 0,
	VIGIL_WALK_DONE = 1,
	VIGIL_WALK_TRUNC = 2,	 /* out of room: leading components lost */
	VIGIL_WALK_DETACHED = 3, /* ended on a root dentry that is no mount's root */
};

/* vigil_path_resolve() result bits. */
enum {
	VIGIL_PATH_TRUNC = 1 << 0,
	VIGIL_PATH_DETACHED = 1 << 1,
	VIGIL_PATH_DELETED = 1 << 2,
};

/*
 * Prepend dentry's name, with a '/' before it when `slash`. Returns 0, or 1 when the walk must
 * stop (w->state says why).
 */
static __always_inline int vigil_walk_put_name(struct vigil_walk *w, struct dentry *dentry,
					       bool slash)
{
	const unsigned char *name;
	__u32 off = w->off, len;

	len = BPF_CORE_READ(dentry, d_name.len);
	name = BPF_CORE_READ(dentry, d_name.name);
	/* Keep one byte for the leading '/' and never let off reach 0. */
	if (len + 1 >= off) {
		w->state = VIGIL_WALK_TRUNC;
		return 1;
	}
	off -= len;
	off &= VIGIL_PATH_MAX - 1;
	len &= VIGIL_PATH_MAX - 1;
	barrier_var(off);
	barrier_var(len);
	if (bpf_probe_read_kernel(&w->buf[off], len, name) < 0) {
		w->state = -1;
		return 1;
	}
	if (slash) {
		off = (off - 1) & (VIGIL_PATH_MAX - 1);
		w->buf[off] = '/';
	}
	w->off = off;
	return 0;
}

/* One step up the tree: one path component, or one mount crossing. bpf_loop() callback. */
static long vigil_walk_step(__u32 i, void *ctx)
{
	/* Copy the kernel pointers out first: CO-RE must not relocate our own struct. */
	struct vigil_walk *w = ctx;
	struct dentry *dentry = w->dentry, *parent;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt, *mnt_parent;

	if (dentry == w->root_dentry && vfsmnt == w->root_mnt) {
		w->state = VIGIL_WALK_DONE;
		return 1;
	}
	if (dentry == BPF_CORE_READ(vfsmnt, mnt_root)) {
		/* Top of this mount: continue from its mount point in the parent mount. */
		mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
		if (!mnt_parent || mnt_parent == mnt) {
			/*
			 * Top of the mount tree without meeting the task's root. The root mount
			 * of a mount namespace: the path is absolute from there (the task is
			 * chrooted below it). Any other mount was detached (umount -l): no path
			 * leads there, so what was collected is relative to that mount.
			 */
			w->state = BPF_CORE_READ(mnt, mnt_ns, root) == mnt ? VIGIL_WALK_DONE
									   : VIGIL_WALK_DETACHED;
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = (void *)mnt_parent + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	parent = BPF_CORE_READ(dentry, d_parent);
	if (!parent) {
		w->state = VIGIL_WALK_DONE;
		return 1;
	}
	if (parent == dentry) {
		/*
		 * IS_ROOT() but not the root of its mount: a pseudo file (memfd_create(),
		 * alloc_file_pseudo(): d_path() asks the file system for "/memfd:x (deleted)")
		 * or a disconnected dentry. Nothing above it leads to the task's root, so report
		 * its name without a leading '/' instead of an empty path that would read "/".
		 */
		if (!vigil_walk_put_name(w, dentry, false))
			w->state = VIGIL_WALK_DETACHED;
		return 1;
	}
	if (vigil_walk_put_name(w, dentry, true))
		return 1;
	w->dentry = parent;
	return 0;
}

/*
 * Resolve `path` to an absolute path as seen from `root` (the task's fs->root), like the
 * kernel's d_path(): walk dentry->d_parent up to the root of each mount, then jump to the
 * mount point in the parent mount (struct mount's mnt_parent/mnt_mountpoint), until root or
 * the top of the mount tree is reached. Components are written backwards ending at
 * buf[VIGIL_PATH_MAX] (buf must have 2 * VIGIL_PATH_MAX bytes); *ret_off is where the string
 * starts, and it is VIGIL_PATH_MAX - *ret_off bytes long (one byte at least). Returns a
 * negative error when a kernel read failed, else VIGIL_PATH_* bits: TRUNC when the path was cut
 * (deeper than VIGIL_PATH_DEPTH steps or longer than VIGIL_PATH_MAX - 1: leading components
 * lost); DETACHED when the walk ended on a root dentry that is not a mount's root (the string is
 * then relative: "memfd:x"); DELETED when the dentry was unlinked, by d_unlinked()'s rule:
 * unhashed and not IS_ROOT().
 *
 * The walk runs in bpf_loop() (Linux >= 5.17): the verifier checks the step once instead of
 * exploring every mix of component and mount-crossing steps, which an open-coded loop of 64
 * steps cannot get through.
 */
static __always_inline int vigil_path_resolve(const struct path *path, const struct path *root,
					      __u8 *buf, __u32 *ret_off)
{
	struct vigil_walk w = {.buf = buf, .off = VIGIL_PATH_MAX};
	struct dentry *dentry;
	int ret = 0;
	long r;

	if (bpf_probe_read_kernel(&w.dentry, sizeof(w.dentry), &path->dentry) < 0 ||
	    bpf_probe_read_kernel(&w.vfsmnt, sizeof(w.vfsmnt), &path->mnt) < 0 ||
	    bpf_probe_read_kernel(&w.root_dentry, sizeof(w.root_dentry), &root->dentry) < 0 ||
	    bpf_probe_read_kernel(&w.root_mnt, sizeof(w.root_mnt), &root->mnt) < 0)
		return -1;
	if (!w.dentry || !w.vfsmnt)
		return -1;
	w.mnt = (void *)w.vfsmnt - bpf_core_field_offset(struct mount, mnt);
	dentry = w.dentry;
	if (!BPF_CORE_READ(dentry, d_hash.pprev) && BPF_CORE_READ(dentry, d_parent) != dentry)
		ret |= VIGIL_PATH_DELETED;

	r = bpf_loop(VIGIL_PATH_DEPTH, vigil_walk_step, &w, 0);
	if (r < 0)
		return r;
	if (w.state < 0)
		return w.state;
	if (w.off >= VIGIL_PATH_MAX) {
		w.off = VIGIL_PATH_MAX - 1;
		buf[w.off] = '/';
	}
	if (w.state == VIGIL_WALK_DETACHED) {
		/* Relative to a detached top: no leading '/' (see VIGIL_EXEC_F_DETACHED_*). */
		if (w.off < VIGIL_PATH_MAX - 1 && buf[w.off & (VIGIL_PATH_MAX - 1)] == '/')
			w.off++;
		ret |= VIGIL_PATH_DETACHED;
	}
	*ret_off = w.off;
	if (w.state != VIGIL_WALK_DETACHED && w.state != VIGIL_WALK_DONE)
		ret |= VIGIL_PATH_TRUNC;
	return ret;
}

#endif /* VIGIL_HELPERS_BPF_H */
