/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_POLICY_ENGINE_H
#define VIGIL_POLICY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "policy_compile.h"
#include "util/macro.h"

/*
 * The running set of TracingPolicies: compiles each policy of a struct policy_set, writes its
 * hooks and value sets into the BPF maps (bpf/policy.h) under global ids, attaches the programs,
 * and on a later apply keeps unchanged policies untouched, installs new and changed ones before
 * removing what they replace (no gap in coverage), and leaves a policy that fails to compile in
 * its old version. Policies are isolated: one that fails never affects the others.
 */
struct policy_engine;
struct vigil_bpf;
struct proc_cache;

/* cgroup_root: the cgroup v2 mount, where connect (Override) programs are attached. */
int policy_engine_new(struct vigil_bpf *skel, const struct policy_env *env, const char *cgroup_root,
		      struct policy_engine **ret);
struct policy_engine *policy_engine_free(struct policy_engine *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct policy_engine *, policy_engine_free)

/*
 * Make set the running policies. procs (may be NULL) seeds per-process state (matchBinaries,
 * followForks) for processes that already run. Returns the number of policies that failed (each
 * logged with file:line:col), or -errno when nothing could be applied.
 */
int policy_engine_apply(struct policy_engine *e, const struct policy_set *set,
			struct proc_cache *procs);

/* Detach every policy (shutdown); their hooks stay known for the events still queued. */
void policy_engine_detach(struct policy_engine *e);

/* The hook an event came from, with its policy name; NULL if unknown (a long-retired hook). */
const struct compiled_hook *policy_engine_hook(struct policy_engine *e, uint32_t hook_id,
					       const char **ret_policy_name);

struct policy_engine_status {
	size_t n_policies;		  /* running */
	size_t n_hooks;			  /* attached */
	size_t n_failed;		  /* policies rejected at the last apply */
	uint64_t actions[_VIGIL_ACT_MAX]; /* [0] = posts suppressed by rateLimit */
};
void policy_engine_status(struct policy_engine *e, struct policy_engine_status *ret);

/*
 * Compile every policy of set for env without touching BPF (vigild --validate). Returns the
 * number of policies that failed.
 */
unsigned policy_validate_set(const struct policy_set *set, const struct policy_env *env);

#endif /* VIGIL_POLICY_ENGINE_H */
