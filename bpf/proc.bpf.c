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
#include "filter.bpf.h"

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

/* ---- Per process policy state (pol_procs): matchBinaries and matchPIDs follow bits ----- */

/*
 * The LPM keys of an exec's binary are built in the upper half of the exec scratch path area:
 * the path walker only writes below VIGIL_PATH_MAX, and this memory is not shared with the
 * policy programs (pol_scratch), so an exec never races a policy hook for its key.
 */
#define POL_KEY_EQUAL	0
#define POL_KEY_PREFIX	1
#define POL_KEY_POSTFIX 2
#define POL_KEY_KINDS	3

struct pol_exec_ctx {
	struct vigil_exec_event *ev;	/* ev->data[0..binary_len) is the binary */
	struct vigil_pol_str_key *keys; /* POL_KEY_KINDS keys, built on first use */
	__u64 matched;			/* bin sets the binary is in */
	__u64 follow;			/* active sets with followChildren */
	__u32 len;			/* binary_len, < VIGIL_PATH_MAX */
	__u32 built;			/* bit per POL_KEY_* */
};

/*
 * Build the key for one kind, with the engine's rules (bpf/policy.h): EQUAL is the string and a
 * '\0' (a string of VIGIL_POL_STR_MAX bytes or more cannot equal any stored value, so its first
 * VIGIL_POL_STR_MAX bytes are used without one and match nothing); PREFIX the first
 * VIGIL_POL_STR_MAX bytes; POSTFIX the last VIGIL_POL_STR_MAX bytes reversed.
 */
static __always_inline void pol_exec_key_build(struct pol_exec_ctx *c, __u32 kind)
{
	struct vigil_pol_str_key *key;
	__u32 len = c->len, n;

	if (kind >= POL_KEY_KINDS)
		return;
	key = &c->keys[kind];
	if (len >= VIGIL_PATH_MAX)
		len = VIGIL_PATH_MAX - 1;
	n = len < VIGIL_POL_STR_MAX ? len : VIGIL_POL_STR_MAX;
	if (kind == POL_KEY_POSTFIX) {
		for (__u32 i = 0; i < VIGIL_POL_STR_MAX; i++) {
			if (i >= n)
				break;
			key->data[i] = c->ev->data[(len - 1 - i) & VIGIL_PATH_MASK];
		}
		key->prefixlen = 8 * n;
		return;
	}
	n &= 2 * VIGIL_POL_STR_MAX - 1;
	if (n > VIGIL_POL_STR_MAX)
		n = VIGIL_POL_STR_MAX;
	if (bpf_probe_read_kernel(key->data, n, c->ev->data) < 0)
		n = 0;
	key->prefixlen = 8 * n;
	if (kind == POL_KEY_EQUAL && n < VIGIL_POL_STR_MAX && n == len) {
		key->data[n & (VIGIL_POL_STR_MAX - 1)] = '\0';
		key->prefixlen = 8 * (n + 1);
	}
}

/* bpf_loop() callback: is the binary in bin set i? */
static long pol_exec_bin_set(__u32 i, void *ctx)
{
	struct pol_exec_ctx *c = ctx;
	struct vigil_pol_bin_set *set;
	__u32 kind, idx;
	void *trie;

	set = bpf_map_lookup_elem(&pol_bin_sets, &i);
	if (!set || !set->active)
		return 0;
	if (set->follow)
		c->follow |= 1ULL << (i & 63);
	switch (set->op) {
	case VIGIL_OP_EQUAL:
		kind = POL_KEY_EQUAL;
		break;
	case VIGIL_OP_PREFIX:
		kind = POL_KEY_PREFIX;
		break;
	case VIGIL_OP_POSTFIX:
		kind = POL_KEY_POSTFIX;
		break;
	default:
		return 0;
	}
	if (!(c->built & (1U << kind))) {
		pol_exec_key_build(c, kind);
		c->built |= 1U << kind;
	}
	idx = set->str_set;
	trie = bpf_map_lookup_elem(&pol_str_sets, &idx);
	if (trie && bpf_map_lookup_elem(trie, &c->keys[kind]))
		c->matched |= 1ULL << (i & 63);
	return 0;
}

/*
 * After exec: bin_bits = (old bits of followChildren sets) | sets the new binary is in. pid_bits
 * are kept: exec changes the image, not the ancestry. An entry is only created when a bit is set.
 */
static __always_inline void pol_exec_update(struct vigil_scratch *s, struct vigil_exec_event *ev,
					    __u32 tgid)
{
	struct pol_exec_ctx c = {
		.ev = ev,
		.keys = (struct vigil_pol_str_key *)&s->path[VIGIL_PATH_MAX],
		.len = ev->binary_len,
	};
	struct vigil_pol_proc *old, new = {.start_boottime = ev->start_boottime};
	struct vigil_pol_set_bounds *b;
	__u32 zero = 0, n;

	b = bpf_map_lookup_elem(&pol_set_bounds, &zero);
	n = b ? b->bin_hi : VIGIL_POL_MAX_BIN_SETS;
	if (n > VIGIL_POL_MAX_BIN_SETS)
		n = VIGIL_POL_MAX_BIN_SETS;
	if (n && bpf_loop(n, pol_exec_bin_set, &c, 0) < 0)
		return;
	old = bpf_map_lookup_elem(&pol_procs, &tgid);
	if (old && old->start_boottime == ev->start_boottime) {
		new.bin_bits = c.follow & old->bin_bits;
		new.pid_bits = old->pid_bits;
	} else {
		old = NULL;
	}
	new.bin_bits |= c.matched;
	if (!old && !new.bin_bits && !new.pid_bits)
		return;
	bpf_map_update_elem(&pol_procs, &tgid, &new, BPF_ANY);
}

struct pol_fork_ctx {
	__u64 bits;    /* pid sets the parent is in */
	__u32 tgid;    /* the parent's tgid, in the initial pid namespace */
	__u32 ns_tgid; /* the parent's tgid in its own pid namespace */
};

/* bpf_loop() callback: is the parent in followForks pid set i? */
static long pol_fork_pid_set(__u32 i, void *ctx)
{
	struct pol_fork_ctx *c = ctx;
	struct vigil_pol_pid_set *set;
	struct vigil_pol_int_key key = {};

	set = bpf_map_lookup_elem(&pol_pid_sets, &i);
	if (!set || !set->active)
		return 0;
	key.set_id = set->int_set;
	key.value = set->ns_pid ? c->ns_tgid : c->tgid;
	if (bpf_map_lookup_elem(&pol_int_sets, &key))
		c->bits |= 1ULL << (i & 63);
	return 0;
}

/* The task's process id as seen in the pid namespace it lives in (task_tgid_vnr()). */
static __always_inline __u32 pol_task_ns_tgid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	unsigned int level;
	struct upid up = {};

	if (!pid)
		return 0;
	level = BPF_CORE_READ(pid, level);
	if (bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level & 31]) < 0)
		return 0;
	return up.nr;
}

/*
 * A new process inherits its parent's binary bits (same image until it execs) and pid bits,
 * plus the followForks pid sets its parent is in. Entries are only created when needed.
 */
static __always_inline void pol_fork_update(struct task_struct *parent, struct task_struct *child,
					    __u32 child_tgid)
{
	struct pol_fork_ctx c = {.tgid = BPF_CORE_READ(parent, tgid)};
	struct vigil_pol_proc *pp, new = {};
	struct vigil_pol_set_bounds *b;
	__u32 zero = 0, n;

	b = bpf_map_lookup_elem(&pol_set_bounds, &zero);
	n = b ? b->pid_hi : VIGIL_POL_MAX_PID_SETS;
	if (n > VIGIL_POL_MAX_PID_SETS)
		n = VIGIL_POL_MAX_PID_SETS;
	if (n) {
		c.ns_tgid = pol_task_ns_tgid(parent);
		if (bpf_loop(n, pol_fork_pid_set, &c, 0) < 0)
			return;
	}
	pp = bpf_map_lookup_elem(&pol_procs, &c.tgid);
	if (pp && pp->start_boottime != vigil_process_start(parent))
		pp = NULL;
	if (!pp && !c.bits)
		return;
	new.start_boottime = BPF_CORE_READ(child, start_boottime);
	if (pp) {
		new.bin_bits = pp->bin_bits;
		new.pid_bits = pp->pid_bits;
	}
	new.pid_bits |= c.bits;
	bpf_map_update_elem(&pol_procs, &child_tgid, &new, BPF_ANY);
}

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

	/* [Sensor] ExcludeBinaries=/ExcludeCgroups=: nothing of this process reaches user space. */
	if (vigil_filter_binary_excluded((const __u8 *)ev->data, ev->binary_len & VIGIL_PATH_MASK,
					 &s->filter_key)) {
		vigil_filter_mark(BPF_CORE_READ(p, tgid), ev->start_boottime);
		pol_exec_update(s, ev, BPF_CORE_READ(p, tgid));
		return 0;
	}
	vigil_filter_unmark(BPF_CORE_READ(p, tgid));
	if (vigil_filter_cgroup_excluded(p, ev->hdr.cgroup_id)) {
		pol_exec_update(s, ev, BPF_CORE_READ(p, tgid));
		return 0;
	}

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
	/* After the output: the event is sent whatever the policy state update does. */
	pol_exec_update(s, ev, BPF_CORE_READ(p, tgid));
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
	__u32 tgid;

	if (!sig || BPF_CORE_READ(sig, live.counter) != 0)
		return 0;

	/* The last thread of the process: its policy state goes with it. */
	tgid = BPF_CORE_READ(p, tgid);
	bpf_map_delete_elem(&pol_procs, &tgid);
	if (vigil_filter_is_marked(tgid)) {
		vigil_filter_unmark(tgid);
		return 0;
	}
	if (vigil_filter_cgroup_excluded(p, BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, id)))
		return 0;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		vigil_drop(VIGIL_EV_EXIT);
		return 0;
	}
	vigil_hdr_fill(&ev->hdr, VIGIL_EV_EXIT, sizeof(*ev));
	ev->hdr.tgid = tgid;
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

	pol_fork_update(parent, child, tgid);
	/* A fork of an excluded process runs the same image: excluded too, until it execs. */
	if (vigil_filter_is_marked(BPF_CORE_READ(parent, tgid))) {
		vigil_filter_mark(tgid, BPF_CORE_READ(child, start_boottime));
		return 0;
	}
	if (vigil_filter_cgroup_excluded(child, BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id)))
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
