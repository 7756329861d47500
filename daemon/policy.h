/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_POLICY_H_DAEMON
#define VIGIL_POLICY_H_DAEMON

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

/*
 * TracingPolicy documents (Tetragon's `cilium.io/v1alpha1` YAML) as parsed and validated by
 * daemon/policy_parse.c. Nothing here depends on the kernel: daemon/policy_compile.c lowers a
 * struct policy onto the running kernel's tracepoints and the BPF maps of bpf/policy.h.
 *
 * Every node keeps where it came from (struct policy_loc) so later stages can report
 * "file:line:column: spec.kprobes[1].selectors[0].matchArgs[2].operator: ...".
 */

struct policy_loc {
	const char *file; /* borrowed from struct policy.file */
	unsigned line;	  /* 1-based */
	unsigned column;  /* 1-based */
	char *path;	  /* "spec.kprobes[1].selectors[0].matchArgs[2]" */
};

/* The argument types of `args[].type` / `returnArg.type` (Tetragon names, plus vigil's `sock`). */
enum policy_arg_type {
	POLICY_ARG_INT = 0, /* int, int8..int64, uint8..uint64, s8..s64, u8..u64, size_t, long... */
	POLICY_ARG_STRING,
	POLICY_ARG_CHAR_BUF,
	POLICY_ARG_FD,
	POLICY_ARG_FILENAME,
	POLICY_ARG_SOCKADDR,
	POLICY_ARG_SOCK,
	_POLICY_ARG_TYPE_MAX,
	_POLICY_ARG_TYPE_INVALID = -22,
};

struct policy_arg {
	unsigned index; /* argument position (0-based) */
	enum policy_arg_type type;
	char *type_name;    /* as written ("uint32"), for the event's arg key */
	unsigned int_width; /* INT: 1, 2, 4, 8 */
	bool int_signed;    /* INT */
	int size_arg_index; /* sizeArgIndex (1-based in YAML, stored 0-based), -1 = none */
	bool max_data;	    /* maxData: capture up to 4096 bytes of a char_buf/string */
	char *label;	    /* label:, or NULL */
	struct policy_loc loc;
};

/* Operators, parsed from their Tetragon spelling (case-sensitive, did-you-mean on error). */
enum policy_op {
	POLICY_OP_EQUAL = 0,
	POLICY_OP_NOT_EQUAL,
	POLICY_OP_PREFIX,
	POLICY_OP_NOT_PREFIX,
	POLICY_OP_POSTFIX,
	POLICY_OP_NOT_POSTFIX,
	POLICY_OP_GT,
	POLICY_OP_LT,
	POLICY_OP_MASK,
	POLICY_OP_SADDR,
	POLICY_OP_DADDR,
	POLICY_OP_NOT_SADDR,
	POLICY_OP_NOT_DADDR,
	POLICY_OP_SPORT,
	POLICY_OP_DPORT,
	POLICY_OP_NOT_SPORT,
	POLICY_OP_NOT_DPORT,
	POLICY_OP_PROTOCOL,
	POLICY_OP_FAMILY,
	POLICY_OP_IN, /* matchBinaries, matchPIDs, matchNamespaces */
	POLICY_OP_NOT_IN,
	_POLICY_OP_MAX,
	_POLICY_OP_INVALID = -22,
};

struct policy_value {
	char *s; /* as written; ints, CIDRs, ports, "host_ns", paths */
	struct policy_loc loc;
};

/* matchArgs / matchReturnArgs entry. */
struct policy_match {
	unsigned index; /* argument position (matchArgs) or 0 (matchReturnArgs) */
	enum policy_op op;
	struct policy_value *values;
	size_t n_values;
	struct policy_loc loc;
};

struct policy_binaries {
	enum policy_op op; /* IN, NOT_IN, PREFIX, NOT_PREFIX, POSTFIX, NOT_POSTFIX */
	struct policy_value *values;
	size_t n_values;
	bool follow_children;
	struct policy_loc loc;
};

struct policy_pids {
	enum policy_op op; /* IN, NOT_IN */
	uint32_t *values;
	size_t n_values;
	bool is_namespace_pid;
	bool follow_forks;
	struct policy_loc loc;
};

enum policy_ns {
	POLICY_NS_UTS = 0,
	POLICY_NS_IPC,
	POLICY_NS_MNT,
	POLICY_NS_PID,
	POLICY_NS_PID_FOR_CHILDREN,
	POLICY_NS_NET,
	POLICY_NS_TIME,
	POLICY_NS_TIME_FOR_CHILDREN,
	POLICY_NS_CGROUP,
	POLICY_NS_USER,
	_POLICY_NS_MAX,
	_POLICY_NS_INVALID = -22,
};

struct policy_namespaces {
	enum policy_ns ns;
	enum policy_op op;	     /* IN, NOT_IN */
	struct policy_value *values; /* inode numbers or "host_ns" */
	size_t n_values;
	struct policy_loc loc;
};

enum policy_action_type {
	POLICY_ACTION_POST = 0,
	POLICY_ACTION_NOPOST,
	POLICY_ACTION_SIGKILL,
	POLICY_ACTION_SIGNAL,
	POLICY_ACTION_OVERRIDE,
	_POLICY_ACTION_MAX,
	_POLICY_ACTION_INVALID = -22,
};

struct policy_action {
	enum policy_action_type type;
	int arg_sig;		/* Signal: argSig (1..64) */
	int arg_error;		/* Override: argError, negative errno as in Tetragon (-1 = EPERM) */
	uint64_t rate_limit_ns; /* Post: rateLimit ("10s", "1m", "500ms"...), 0 = none */
	struct policy_loc loc;
};

struct policy_selector {
	struct policy_match *match_args;
	size_t n_match_args;
	struct policy_match *match_return_args;
	size_t n_match_return_args;
	struct policy_binaries *binaries; /* matchBinaries (at most one entry each kind) */
	size_t n_binaries;
	struct policy_pids *pids;
	size_t n_pids;
	struct policy_namespaces *namespaces;
	size_t n_namespaces;
	struct policy_action *actions;
	size_t n_actions;
	struct policy_loc loc;
};

enum policy_hook_kind {
	POLICY_HOOK_KPROBE = 0, /* spec.kprobes[] */
	POLICY_HOOK_TRACEPOINT, /* spec.tracepoints[] */
	POLICY_HOOK_LSM, /* spec.lsmhooks[]: parsed, refused by the compiler on this kernel */
	_POLICY_HOOK_KIND_MAX,
};

struct policy_hook {
	enum policy_hook_kind kind;
	unsigned index;	  /* position in its list (spec.kprobes[index]) */
	char *call;	  /* kprobes: call:, lsmhooks: hook: */
	char *subsys;	  /* tracepoints: subsystem: */
	char *event;	  /* tracepoints: event: */
	bool syscall;	  /* kprobes: syscall: */
	bool want_return; /* kprobes: return: */
	bool has_return_arg;
	struct policy_arg return_arg; /* returnArg: (index unused) */
	bool ignore_call_not_found;   /* ignore.callNotFound: */
	char *message;		      /* message: */
	char **tags;		      /* tags: (NULL-terminated, may be NULL) */
	struct policy_arg *args;
	size_t n_args;
	struct policy_selector *selectors;
	size_t n_selectors;
	struct policy_loc loc;
};

struct policy {
	char *name;    /* metadata.name */
	char *file;    /* the YAML file */
	unsigned line; /* line of the document start */
	unsigned doc;  /* 0-based document index in the file */
	char *digest;  /* 64-bit FNV-1a of the document's text (16 hex digits), for reload:
			* unchanged policies keep their BPF state */
	struct policy_hook
		*hooks; /* kprobes, then tracepoints, then lsmhooks, each in file order */
	size_t n_hooks;
};

struct policy_set {
	struct policy **policies; /* valid policies, in file (lexical) order then document order */
	size_t n_policies;
	unsigned n_errors;   /* documents rejected (each error already logged with file:line:col) */
	char **files;	     /* the files read, in order */
	char **failed_files; /* files with a rejected document or a read/syntax error (strv) */
};

/*
 * Parse one YAML file (possibly several documents). Each valid document is appended to *set;
 * each invalid one is logged ("file:line:col: path: message") and counted in set->n_errors.
 * Returns 0, or -errno for I/O failure or a YAML syntax error (that error is logged and counted;
 * documents before it are kept).
 */
int policy_parse_file(const char *path, struct policy_set *set);
/* Parse a YAML document from memory (tests, fuzzing); name is used as the file in messages. */
int policy_parse_string(const char *name, const char *yaml, size_t len, struct policy_set *set);

/*
 * Load every *.yaml (and *.yml) from the ':'-separated policy.d directories with the config's
 * drop-in rules (config_collect_files()). A duplicate metadata.name is an error for the later
 * document. Returns 0 (check ret->n_errors) or -errno.
 */
int policy_set_load(const char *dir_list, struct policy_set **ret);
struct policy_set *policy_set_new(void);
struct policy_set *policy_set_free(struct policy_set *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct policy_set *, policy_set_free)
struct policy *policy_free(struct policy *p);

/*
 * Value parsers shared by the parser (validation, with file:line:col errors) and the compiler
 * (lowering). Each returns 0 or -EINVAL and never logs.
 *   policy_parse_int: decimal, 0x hex, 0 octal, optional '-'; result as two's complement u64.
 *   policy_parse_cidr: "10.0.0.0/8", "192.168.1.1" (/32), "fd00::/8", "::1"; IPv4 is returned
 *                      IPv4-mapped (::ffff:a.b.c.d) with bits = 96 + prefix.
 *   policy_parse_port: 0..65535.
 *   policy_parse_family: "AF_INET", "AF_INET6", "AF_UNIX" or a number.
 *   policy_parse_protocol: "IPPROTO_TCP", "IPPROTO_UDP", "IPPROTO_ICMP", "IPPROTO_ICMPV6",
 *                          "IPPROTO_SCTP", "IPPROTO_RAW" or a number.
 */
int policy_parse_int(const char *s, uint64_t *ret);
int policy_parse_cidr(const char *s, uint8_t ret_addr[16], uint8_t *ret_bits);
int policy_parse_port(const char *s, uint16_t *ret);
int policy_parse_family(const char *s, uint16_t *ret);
int policy_parse_protocol(const char *s, uint16_t *ret);

/* Names for messages and records. */
const char *policy_op_to_string(enum policy_op op);
const char *policy_action_to_string(enum policy_action_type a); /* "Post", "Sigkill", ... */
const char *policy_arg_type_to_string(enum policy_arg_type t);

#endif /* VIGIL_POLICY_H_DAEMON */
