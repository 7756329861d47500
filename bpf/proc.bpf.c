/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Base process sensor: exec, exit and fork, always on. Wire format: bpf/events.h.
 *
 * All three hooks are BTF-enabled raw tracepoints (tp_btf): they exist on every kernel with BTF,
 * need no kprobes, and give typed task pointers. Exec is read at sched_process_exec, where the
 * new mm is populated: argv read at syscall entry is unreliable (it may not be paged in yet).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "maps.bpf.h"
#include "helpers.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define VIGIL_DATA_OFF_MASK (2 * VIGIL_PATH_MAX - 1) /* binary_len + cwd_len < 2 * PATH_MAX */

/* Event flags for one resolved path (binary or cwd). */
struct exec_path_flags {
	__u32 trunc, err, deleted, detached;
};

/*
 * Resolve `path` into ev->data at offset `off`; returns the number of bytes written and sets
 * the matching bits of `f` in ev->flags.
 */
static __always_inline __u32 exec_put_path(struct vigil_scratch *s, struct vigil_exec_event *ev,
					   __u32 off, const struct path *path,
					   const struct path *root, const struct exec_path_flags *f)
{
	__u32 start = 0, len;
	int r;

	r = vigil_path_resolve(path, root, s->path, &start);
	if (r < 0) {
		ev->flags |= f->err;
		return 0;
	}
	if (r & VIGIL_PATH_TRUNC)
		ev->flags |= f->trunc;
	if (r & VIGIL_PATH_DELETED)
		ev->flags |= f->deleted;
	if (r & VIGIL_PATH_DETACHED)
		ev->flags |= f->detached;
	/* start is in [1, VIGIL_PATH_MAX - 1]; the masks make that provable to the verifier. */
	start &= VIGIL_PATH_MAX - 1;
	len = (VIGIL_PATH_MAX - start) & (VIGIL_PATH_MAX - 1);
	off &= VIGIL_DATA_OFF_MASK;
	barrier_var(len);
	barrier_var(off);
	if (bpf_probe_read_kernel(&ev->data[off], len, &s->path[start]) < 0) {
		ev->flags |= f->err;
		return 0;
	}
	return len;
}

static const struct exec_path_flags binary_flags = {
	.trunc = VIGIL_EXEC_F_TRUNC_BINARY,
	.err = VIGIL_EXEC_F_ERROR_BINARY,
	.deleted = VIGIL_EXEC_F_DELETED_BINARY,
	.detached = VIGIL_EXEC_F_DETACHED_BINARY,
};

static const struct exec_path_flags cwd_flags = {
	.trunc = VIGIL_EXEC_F_TRUNC_CWD,
	.err = VIGIL_EXEC_F_ERROR_CWD,
	.deleted = VIGIL_EXEC_F_DELETED_CWD,
	.detached = VIGIL_EXEC_F_DETACHED_CWD,
};

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct vigil_scratch *s = vigil_scratch_get();
	struct task_struct *parent;
	struct vigil_exec_event *ev;
	unsigned long arg_start, arg_end;
	struct fs_struct *fs;
	struct mm_struct *mm;
	struct file *exe;
	__u32 off, size, max;
	__u64 alen;

	if (!s) {
		vigil_drop(VIGIL_EV_EXEC);
		return 0;
	}
	ev = (struct vigil_exec_event *)s->event;

	vigil_hdr_fill(&ev->hdr, VIGIL_EV_EXEC, 0);
	vigil_creds_fill(&ev->creds, p);
	parent = BPF_CORE_READ(p, real_parent);
	ev->start_boottime = vigil_process_start(p);
	ev->parent_start_boottime = parent ? vigil_process_start(parent) : 0;
	ev->ppid = parent ? BPF_CORE_READ(parent, tgid) : 0;
	ev->old_pid = old_pid;
	ev->flags = 0;
	ev->exe_ino = 0;
	ev->binary_len = 0;
	ev->cwd_len = 0;
	ev->args_len = 0;

	fs = BPF_CORE_READ(p, fs);
	mm = BPF_CORE_READ(p, mm);
	exe = mm ? BPF_CORE_READ(mm, exe_file) : NULL;
	if (!exe)
		exe = BPF_CORE_READ(bprm, file);
	if (exe)
		ev->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);

	if (exe && fs)
		ev->binary_len =
			exec_put_path(s, ev, 0, __builtin_preserve_access_index(&exe->f_path),
				      __builtin_preserve_access_index(&fs->root), &binary_flags);
	else
		ev->flags |= VIGIL_EXEC_F_ERROR_BINARY;

	if (fs)
		ev->cwd_len = exec_put_path(s, ev, ev->binary_len,
					    __builtin_preserve_access_index(&fs->pwd),
					    __builtin_preserve_access_index(&fs->root), &cwd_flags);
	else
		ev->flags |= VIGIL_EXEC_F_ERROR_CWD;

	off = ev->binary_len + ev->cwd_len;
	if (mm) {
		arg_start = BPF_CORE_READ(mm, arg_start);
		arg_end = BPF_CORE_READ(mm, arg_end);
		alen = arg_end > arg_start ? arg_end - arg_start : 0;
		max = cfg_argv_max;
		if (max > VIGIL_ARGS_MAX)
			max = VIGIL_ARGS_MAX;
		if (alen > max) {
			alen = max;
			ev->flags |= VIGIL_EXEC_F_TRUNC_ARGS;
		}
		if (alen > VIGIL_ARGS_MAX)
			alen = VIGIL_ARGS_MAX;
		if (alen > 0) {
			if (bpf_probe_read_user(&ev->data[off & VIGIL_DATA_OFF_MASK], alen,
						(const void *)arg_start) < 0)
				ev->flags |= VIGIL_EXEC_F_ERROR_ARGS;
			else
				ev->args_len = alen;
		}
	} else {
		ev->flags |= VIGIL_EXEC_F_NO_MM;
	}

	size = sizeof(*ev) + off + ev->args_len;
	ev->hdr.size = size;
	if (bpf_ringbuf_output(&events, ev, size & VIGIL_SCRATCH_EVENT_MASK, vigil_rb_flags()) < 0)
		vigil_drop(VIGIL_EV_EXEC);
	return 0;
}

/*
 * One event per process: sched_process_exit fires for every exiting thread after
 * signal->live was decremented, so the thread that sees 0 is the last one of its group.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	struct signal_struct *sig = BPF_CORE_READ(p, signal);
	struct vigil_exit_event *ev;
	struct task_struct *parent;
	unsigned int sflags;

	if (!sig || BPF_CORE_READ(sig, live.counter) != 0)
		return 0;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		vigil_drop(VIGIL_EV_EXIT);
		return 0;
	}
	vigil_hdr_fill(&ev->hdr, VIGIL_EV_EXIT, sizeof(*ev));
	ev->hdr.tgid = BPF_CORE_READ(p, tgid);
	ev->hdr.pid = BPF_CORE_READ(p, pid);
	parent = BPF_CORE_READ(p, real_parent);
	ev->ppid = parent ? BPF_CORE_READ(parent, tgid) : 0;
	ev->start_boottime = vigil_process_start(p);
	sflags = BPF_CORE_READ(sig, flags);
	if (sflags & VIGIL_SIGNAL_GROUP_EXIT)
		ev->exit_code = BPF_CORE_READ(sig, group_exit_code);
	else
		ev->exit_code = BPF_CORE_READ(p, exit_code);
	bpf_ringbuf_submit(ev, vigil_rb_flags());
	return 0;
}

/* One event per new process; new threads (CLONE_THREAD) are not reported. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	struct vigil_clone_event *ev;
	__u32 pid = BPF_CORE_READ(child, pid);
	__u32 tgid = BPF_CORE_READ(child, tgid);

	if (pid != tgid)
		return 0;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		vigil_drop(VIGIL_EV_CLONE);
		return 0;
	}
	vigil_hdr_fill(&ev->hdr, VIGIL_EV_CLONE, sizeof(*ev));
	ev->hdr.tgid = tgid;
	ev->hdr.pid = pid;
	/*
	 * The child's own cgroup, not current's: clone3(CLONE_INTO_CGROUP) starts it elsewhere.
	 * cgroup_post_fork() has linked its css_set by the time this tracepoint fires.
	 */
	ev->hdr.cgroup_id = BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id);
	vigil_creds_fill(&ev->creds, child);
	ev->start_boottime = BPF_CORE_READ(child, start_boottime);
	ev->parent_start_boottime = vigil_process_start(parent);
	ev->ppid = BPF_CORE_READ(parent, tgid);
	ev->flags = 0;
	bpf_ringbuf_submit(ev, vigil_rb_flags());
	return 0;
}
