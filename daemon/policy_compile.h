/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_POLICY_COMPILE_H
#define VIGIL_POLICY_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/events.h"
#include "bpf/policy.h"
#include "policy.h"
#include "util/macro.h"

/*
 * Lowering of a validated struct policy onto this kernel: tracepoint names and record layouts
 * (from tracefs format files), argument offsets, and the bpf/policy.h structures with every value
 * set. Set ids and bits inside the produced struct vigil_pol_hook are LOCAL to the compiled
 * policy (indices into its str_sets/int_sets/addr_sets/bin_sets/pid_sets); the installer
 * (daemon/policy_engine.c) maps them to global ids when it writes the maps.
 *
 * Nothing here touches BPF: it only reads tracefs, so it is unit-testable with a fixture tree.
 */

/* The environment a policy is compiled for. */
struct policy_env {
	const char *tracefs; /* "/sys/kernel/tracing" (tests: a fixture directory) */
	const char
		*syscall_prefix; /* "__x64_sys_" on x86_64: the function_name of syscall kprobes */
	bool have_kprobes;	 /* false on this host: syscall kprobes use syscalls/ tracepoints */
	bool have_lsm;		 /* BPF-LSM usable ([E]); false here */
	bool have_set_retval;	 /* bpf_set_retval() in cgroup programs (Override errno) */
	uint64_t host_ns[_POLICY_NS_MAX]; /* inode numbers of the host's namespaces ("host_ns") */
};

/* Value sets referenced by local ids from the hooks. */
struct compiled_str_set {
	uint8_t op; /* VIGIL_OP_EQUAL, VIGIL_OP_PREFIX or VIGIL_OP_POSTFIX: how values are stored */
	char **values; /* NULL-terminated; each at most VIGIL_POL_STR_MAX bytes (EQUAL: max - 1) */
	size_t n_values;
};

struct compiled_int_set {
	uint64_t *values;
	size_t n_values;
};

struct compiled_cidr {
	uint8_t addr[16]; /* IPv4 as IPv4-mapped IPv6 */
	uint8_t bits;	  /* prefix length over the 128-bit (mapped) address */
};

struct compiled_addr_set {
	struct compiled_cidr *cidrs;
	size_t n_cidrs;
};

/* What the daemon needs to render one captured argument. */
struct compiled_arg_meta {
	enum policy_arg_type type;
	char *type_name; /* as written in the policy ("uint32", "fd", ...) */
	char *label;	 /* or NULL */
	bool int_signed;
	unsigned int_width;
};

struct compiled_hook {
	struct vigil_pol_hook bpf; /* hook_id 0 and set ids/bits local: filled by the installer */
	enum policy_hook_kind kind;
	unsigned hook_index;   /* index in struct policy.hooks */
	char *enter_tp;	       /* "syscalls/sys_enter_openat", "sched/sched_process_fork" */
	char *exit_tp;	       /* "syscalls/sys_exit_openat" when VIGIL_HOOK_F_RETURN, else NULL */
	bool connect_override; /* run as cgroup connect4/connect6 programs (Override on connect) */
	char *function_name;   /* kprobes: "__x64_sys_openat"; NULL for tracepoints */
	char *subsys;	       /* tracepoints: "syscalls" */
	char *event;	       /* tracepoints: "sys_enter_openat" */
	char *message;	       /* or NULL */
	char **tags;	       /* NULL-terminated or NULL */
	struct compiled_arg_meta args[VIGIL_POL_MAX_ARGS]; /* parallel to bpf.args */
	bool has_return_arg;
	struct compiled_arg_meta return_arg;
};

struct compiled_policy {
	char *name;
	char *file;
	char *digest;
	struct compiled_hook *hooks;
	size_t n_hooks;
	struct compiled_str_set *str_sets;
	size_t n_str_sets;
	struct compiled_int_set *int_sets;
	size_t n_int_sets;
	struct compiled_addr_set *addr_sets;
	size_t n_addr_sets;
	struct vigil_pol_bin_set *bin_sets; /* str_set local */
	size_t n_bin_sets;
	struct vigil_pol_pid_set *pid_sets; /* int_set local */
	size_t n_pid_sets;
};

/*
 * Compile p for env. Every problem is logged as "file:line:col: path: message" at LOG_ERR.
 * Returns 0; -EINVAL for a policy this kernel could run but that is wrong (unknown tracepoint
 * without ignore.callNotFound, argument index beyond the tracepoint's fields, a type that does
 * not fit the field, value that does not parse for the operator, limit exceeded); -EOPNOTSUPP
 * for a feature vigil or this kernel cannot provide (kprobes on non-syscall functions without
 * kprobe support, lsmhooks without BPF-LSM, Override outside connect); -ENOMEM.
 * A hook whose call/tracepoint does not exist but sets ignore.callNotFound is skipped with a
 * warning (and the policy may end up with zero hooks, which is fine).
 */
int policy_compile(const struct policy *p, const struct policy_env *env,
		   struct compiled_policy **ret);
struct compiled_policy *compiled_policy_free(struct compiled_policy *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct compiled_policy *, compiled_policy_free)

/* Fill env from the running system: tracefs path, kernel features, host namespaces. */
int policy_env_probe(struct policy_env *ret);

/* tracefs format files (daemon/tracefs.c) */
struct tracefs_field {
	char *name; /* "filename" */
	char *type; /* "const char *", "__data_loc char[]", "char[16]", "int" */
	unsigned offset;
	unsigned size;
	bool is_signed;
};

struct tracefs_format {
	unsigned id;
	struct tracefs_field *fields; /* common_* fields excluded, in record order */
	size_t n_fields;
};

/* Read TRACEFS/events/CATEGORY/NAME/format; -ENOENT when the tracepoint does not exist. */
int tracefs_format_read(const char *tracefs, const char *category, const char *name,
			struct tracefs_format **ret);
/* Parse the text of a format file (unit tests, fuzzing). */
int tracefs_format_parse(const char *text, struct tracefs_format **ret);
struct tracefs_format *tracefs_format_free(struct tracefs_format *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct tracefs_format *, tracefs_format_free)

#endif /* VIGIL_POLICY_COMPILE_H */
