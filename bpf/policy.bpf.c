/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The generic TracingPolicy tracepoint programs (model: bpf/policy.h; the work is done by
 * bpf/policy_eval.bpf.h). They have no attach target of their own: the daemon attaches them
 * once per tracepoint with bpf_program__attach_tracepoint_opts(), the BPF cookie being the
 * tracepoint's group in pol_tp_groups, and they run each hook of the group in turn;
 * vigil_bpf__attach() leaves them alone. vigild's own system calls are never looked at.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"
#include "helpers.bpf.h"
#include "policy_eval.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Offset of `long ret` in a syscalls/sys_exit_* record (struct syscall_trace_exit): the 8-byte
 * common header (struct trace_entry), int __syscall_nr, padding, then ret. It is the same in
 * every sys_exit_* format file ("field:long ret; offset:16; size:8; signed:1;").
 */
#define VIGIL_SYS_EXIT_RET_OFF 16

/*
 * pol_inflight key: the thread id (unique system-wide) and the hook's slot, so that several
 * return hooks on one syscall (two policies on openat) keep their own entries.
 */
static __always_inline __u64 pol_inflight_key(__u32 slot)
{
	return (__u64)slot << 32 | (__u32)bpf_get_current_pid_tgid();
}

/* bpf_loop() callback: raw value of argument i read from the tracepoint record c->tp. */
static long pol_raw_cb(__u32 i, void *ctx)
{
	struct vigil_pol_eval_ctx *c = ctx;
	struct vigil_pol_arg *a;
	__u32 w;
	__u64 v = 0;

	if (i >= VIGIL_POL_MAX_ARGS || i >= c->hook->n_args)
		return 1;
	barrier_var(i);
	i &= VIGIL_POL_MAX_ARGS - 1;
	a = &c->hook->args[i];
	w = a->width;
	if (w > 8)
		w = 8;
	if (w)
		bpf_probe_read_kernel(&v, w, c->tp + a->offset);
	c->raw[i] = v;
	return 0;
}

static __always_inline void pol_process(struct vigil_pol_eval_ctx *c, bool has_ret, long ret)
{
	int sel;

	vigil_pol_extract_all(c, has_ret, ret);
	sel = vigil_pol_eval(c);
	if (sel < 0)
		return;
	vigil_pol_act(c, sel, 0);
}

static __always_inline int pol_enter_hook(void *ctx, __u32 slot, __u32 group)
{
	struct vigil_pol_eval_ctx c = {};
	struct vigil_pol_inflight inf;
	struct vigil_pol_hook *hook;
	__u64 key;

	hook = bpf_map_lookup_elem(&pol_hooks, &slot);
	if (!hook || !(hook->flags & VIGIL_HOOK_F_ACTIVE))
		return 0;
	/* a stale slot read from a group list being changed: not a hook of this tracepoint */
	if (hook->enter_group && hook->enter_group != group + 1)
		return 0;
	c.hook = hook;
	c.tp = ctx;
	bpf_loop(VIGIL_POL_MAX_ARGS, pol_raw_cb, &c, 0);

	if (hook->flags & VIGIL_HOOK_F_RETURN) {
		/* Everything happens at sys_exit_*: keep the raw values until then. */
		key = pol_inflight_key(slot);
		inf.slot = slot;
		inf.hook_id = hook->hook_id;
		__builtin_memcpy(inf.raw, c.raw, sizeof(inf.raw));
		if (bpf_map_update_elem(&pol_inflight, &key, &inf, BPF_ANY) < 0)
			vigil_drop(VIGIL_EV_POLICY);
		return 0;
	}

	if (vigil_pol_begin(&c, hook) < 0) {
		vigil_drop(VIGIL_EV_POLICY);
		return 0;
	}
	pol_process(&c, false, 0);
	return 0;
}

static __always_inline int pol_exit_hook(void *ctx, __u32 slot, __u32 group)
{
	__u64 key = pol_inflight_key(slot);
	struct vigil_pol_eval_ctx c = {};
	struct vigil_pol_inflight *inf;
	struct vigil_pol_hook *hook;
	long ret = 0;

	inf = bpf_map_lookup_elem(&pol_inflight, &key);
	if (!inf)
		return 0;
	__builtin_memcpy(c.raw, inf->raw, sizeof(c.raw));
	hook = bpf_map_lookup_elem(&pol_hooks, &slot);
	if (inf->slot != slot || !hook || !(hook->flags & VIGIL_HOOK_F_ACTIVE) ||
	    hook->hook_id != inf->hook_id || (hook->exit_group && hook->exit_group != group + 1)) {
		/* The policy was replaced or removed between entry and exit: drop silently. */
		bpf_map_delete_elem(&pol_inflight, &key);
		return 0;
	}
	bpf_map_delete_elem(&pol_inflight, &key);
	bpf_probe_read_kernel(&ret, sizeof(ret), ctx + VIGIL_SYS_EXIT_RET_OFF);

	/* The entry record is gone: in-record strings (never on syscalls) read as errors. */
	c.tp = NULL;
	if (vigil_pol_begin(&c, hook) < 0) {
		vigil_drop(VIGIL_EV_POLICY);
		return 0;
	}
	pol_process(&c, true, ret);
	return 0;
}

struct pol_group_ctx {
	void *tp;
	__u32 group;
	struct vigil_pol_tp_group *g;
};

static long pol_enter_cb(__u32 i, void *ctx)
{
	struct pol_group_ctx *gc = ctx;

	if (i >= VIGIL_POL_GROUP_MAX)
		return 1;
	pol_enter_hook(gc->tp, gc->g->slots[i & (VIGIL_POL_GROUP_MAX - 1)], gc->group);
	return 0;
}

static long pol_exit_cb(__u32 i, void *ctx)
{
	struct pol_group_ctx *gc = ctx;

	if (i >= VIGIL_POL_GROUP_MAX)
		return 1;
	pol_exit_hook(gc->tp, gc->g->slots[i & (VIGIL_POL_GROUP_MAX - 1)], gc->group);
	return 0;
}

static __always_inline int pol_run_group(void *ctx, bool exit)
{
	__u32 group = bpf_get_attach_cookie(ctx);
	struct pol_group_ctx gc = {.tp = ctx, .group = group};
	__u32 n;

	if (cfg_self_tgid && bpf_get_current_pid_tgid() >> 32 == cfg_self_tgid)
		return 0;
	gc.g = bpf_map_lookup_elem(&pol_tp_groups, &group);
	if (!gc.g)
		return 0;
	n = gc.g->n;
	if (n > VIGIL_POL_GROUP_MAX)
		n = VIGIL_POL_GROUP_MAX;
	if (exit)
		bpf_loop(n, pol_exit_cb, &gc, 0);
	else
		bpf_loop(n, pol_enter_cb, &gc, 0);
	return 0;
}

SEC("tracepoint")
int handle_policy_enter(void *ctx)
{
	return pol_run_group(ctx, false);
}

SEC("tracepoint")
int handle_policy_exit(void *ctx)
{
	return pol_run_group(ctx, true);
}
