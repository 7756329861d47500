/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The TracingPolicy engine's kernel <-> daemon contract: the map values the daemon's policy
 * compiler (daemon/policy_compile.c) writes and bpf/policy.bpf.c reads, and the policy event the
 * programs send (type VIGIL_EV_POLICY in bpf/events.h).
 *
 * Model. One generic tracepoint program serves every hook: the daemon attaches it once per
 * tracepoint (such as syscalls/sys_enter_openat) with a BPF cookie = that tracepoint's group in
 * pol_tp_groups, which lists the pol_hooks slots of every hook on it. A hook that needs the return
 * value is also in the group of the matching sys_exit_* tracepoint, served by the exit program;
 * the entry side then only saves the raw arguments in pol_inflight and everything (extraction,
 * selectors, actions, event) happens at exit.
 *
 * Per invocation: read the hook's arguments (struct vigil_pol_arg: where in the tracepoint record,
 * which type) into the per-CPU event buffer; evaluate the selectors in order, the first one whose
 * every condition holds decides the actions; no selector at all means "match, Post". Value sets
 * too big to inline live in maps keyed by a match id the compiler hands out:
 *   - strings (Equal/Prefix/Postfix, matchBinaries): pol_str_sets[match_id] is an LPM trie whose
 *     key is struct vigil_pol_str_key. Prefix stores the value with prefixlen = 8 * len; Equal
 *     stores value + '\0' (so only the exact string matches); Postfix stores the reversed value
 *     and is looked up with the reversed string. Values are at most VIGIL_POL_STR_MAX bytes
 *     (VIGIL_POL_STR_MAX - 1 for Equal).
 *   - integers (Equal/NotEqual on ints, ports, protocol, family, pids, namespaces):
 *     pol_int_sets, key {match_id, value}.
 *   - addresses (SAddr/DAddr/NotDAddr CIDRs): pol_addr_sets, an LPM trie keyed by {match_id,
 *     16-byte address}; IPv4 is stored and looked up as IPv4-mapped IPv6 (::ffff:a.b.c.d).
 *
 * matchBinaries and matchPIDs followForks/followChildren are per process state kept in pol_procs
 * (bit i = binary selector set i matched at this process's exec or was inherited).
 *
 * Rules as in events.h: __u* only, explicit padding, sizes asserted.
 */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "events.h"

/* Limits (Tetragon: 5 selectors, 5 args, 5 matchArgs, 3 actions, 256-byte prefixes). */
#define VIGIL_POL_MAX_HOOKS	    512	 /* attached hooks over all policies */
#define VIGIL_POL_MAX_ARGS	    8	 /* captured arguments per hook */
#define VIGIL_POL_MAX_SELECTORS	    8	 /* per hook */
#define VIGIL_POL_MAX_MATCHARGS	    8	 /* matchArgs per selector */
#define VIGIL_POL_MAX_RETARGS	    4	 /* matchReturnArgs per selector */
#define VIGIL_POL_MAX_NS	    4	 /* matchNamespaces per selector */
#define VIGIL_POL_MAX_ACTIONS	    4	 /* matchActions per selector */
#define VIGIL_POL_MAX_STR_SETS	    1024 /* string value sets (match ids) over all policies */
#define VIGIL_POL_MAX_BIN_SETS	    64	 /* matchBinaries sets over all policies (pol_procs bits) */
#define VIGIL_POL_MAX_PID_SETS	    64	 /* matchPIDs followForks sets over all policies */
#define VIGIL_POL_STR_MAX	    256	 /* bytes of a string value compared in the kernel */
#define VIGIL_POL_MAX_CONNECT_HOOKS 16	 /* hooks run by the cgroup connect programs */
#define VIGIL_POL_STR_SET_ENTRIES   4096 /* values per string set (inner LPM trie size) */
#define VIGIL_POL_ARG_STR_MAX	    4096 /* bytes of a string/path argument captured in the event */
#define VIGIL_POL_ARG_STR_MASK	    (VIGIL_POL_ARG_STR_MAX - 1)
#define VIGIL_POL_CHARBUF_MAX	    4096 /* bytes of a char_buf argument captured */
#define VIGIL_POL_NO_ARG	    0xff /* vigil_pol_arg.size_arg / dirfd_arg: none */
#define VIGIL_POL_RET_ARG	    0xfe /* vigil_pol_match.arg: the return value */

/* enum vigil_pol_arg_type: how an argument is read and encoded in the event. */
enum vigil_pol_arg_type {
	VIGIL_ARG_NONE = 0,
	VIGIL_ARG_INT = 1,	  /* integer of width vigil_pol_arg.width, signed or not */
	VIGIL_ARG_STRING = 2,	  /* NUL-terminated string at a pointer (user or kernel) */
	VIGIL_ARG_CHAR_BUF = 3,	  /* bytes at a pointer, length from args[size_arg] */
	VIGIL_ARG_FD = 4,	  /* file descriptor, resolved to the file's path */
	VIGIL_ARG_FILENAME = 5,	  /* user path string, made absolute against cwd or dirfd_arg */
	VIGIL_ARG_SOCKADDR = 6,	  /* user struct sockaddr *, length from args[size_arg] if set */
	VIGIL_ARG_SOCK = 7,	  /* socket file descriptor, resolved to its 5-tuple */
	VIGIL_ARG_DATALOC = 8,	  /* tracepoint __data_loc char[]: string inside the record */
	VIGIL_ARG_INLINE_STR = 9, /* tracepoint char name[N]: string inside the record */
	_VIGIL_ARG_TYPE_MAX,
};

/* vigil_pol_arg.flags */
enum {
	VIGIL_ARG_F_SIGNED = 1 << 0,	 /* VIGIL_ARG_INT: sign-extend from width */
	VIGIL_ARG_F_USER = 1 << 1,	 /* pointer is a user-space address (syscall arguments) */
	VIGIL_ARG_F_NO_CAPTURE = 1 << 3, /* only used by selectors/size: not put in the event */
};

/* One argument: where it is in the tracepoint record and how to read it. */
struct vigil_pol_arg {
	__u16 offset;	/* byte offset of the field in the tracepoint record (ctx) */
	__u8 width;	/* field width in the record: 1, 2, 4 or 8 bytes */
	__u8 type;	/* enum vigil_pol_arg_type */
	__u8 flags;	/* VIGIL_ARG_F_* */
	__u8 size_arg;	/* CHAR_BUF/SOCKADDR: index in args[] of the length, or NO_ARG */
	__u8 dirfd_arg; /* FILENAME: index in args[] of the dirfd, or NO_ARG (= cwd) */
	__u8 int_width; /* INT: width of the value (1, 2, 4, 8) for truncation/sign extension */
	__u16 max_len;	/* STRING/CHAR_BUF/INLINE_STR: bytes to capture at most (<= 4096) */
	__u16 pad0;
	__u32 pad1;
};

/* enum vigil_pol_op: matchArgs / matchReturnArgs / matchBinaries / matchPIDs operators. */
enum vigil_pol_op {
	VIGIL_OP_NONE = 0,
	VIGIL_OP_EQUAL = 1,	/* strings: pol_str_sets; ints: pol_int_sets (also "In") */
	VIGIL_OP_NOT_EQUAL = 2, /* (also "NotIn") */
	VIGIL_OP_PREFIX = 3,
	VIGIL_OP_NOT_PREFIX = 4,
	VIGIL_OP_POSTFIX = 5,
	VIGIL_OP_NOT_POSTFIX = 6,
	VIGIL_OP_GT = 7,     /* value > vigil_pol_match.value (signed if the arg is signed) */
	VIGIL_OP_LT = 8,     /* value < vigil_pol_match.value */
	VIGIL_OP_MASK = 9,   /* value & vigil_pol_match.value != 0 */
	VIGIL_OP_SADDR = 10, /* sockaddr/sock address in the CIDR set pol_addr_sets */
	VIGIL_OP_DADDR = 11,
	VIGIL_OP_NOT_SADDR = 12,
	VIGIL_OP_NOT_DADDR = 13,
	VIGIL_OP_SPORT = 14, /* port in pol_int_sets */
	VIGIL_OP_DPORT = 15,
	VIGIL_OP_NOT_SPORT = 16,
	VIGIL_OP_NOT_DPORT = 17,
	VIGIL_OP_PROTOCOL = 18, /* sock: IPPROTO_* in pol_int_sets */
	VIGIL_OP_FAMILY = 19,	/* sockaddr/sock: AF_* in pol_int_sets */
	_VIGIL_OP_MAX,
};

/* One condition of a selector. */
struct vigil_pol_match {
	__u8 arg; /* index into the hook's args[], or VIGIL_POL_RET_ARG */
	__u8 op;  /* enum vigil_pol_op */
	__u8 pad0[2];
	__u32 set_id; /* pol_str_sets index, or match id in pol_int_sets / pol_addr_sets */
	__u64 value;  /* GT/LT/MASK operand */
};

/* enum vigil_pol_ns: matchNamespaces namespace kinds. */
enum vigil_pol_ns {
	VIGIL_NS_UTS = 0,
	VIGIL_NS_IPC = 1,
	VIGIL_NS_MNT = 2,
	VIGIL_NS_PID = 3,
	VIGIL_NS_PID_FOR_CHILDREN = 4,
	VIGIL_NS_NET = 5,
	VIGIL_NS_TIME = 6,
	VIGIL_NS_TIME_FOR_CHILDREN = 7,
	VIGIL_NS_CGROUP = 8,
	VIGIL_NS_USER = 9,
	_VIGIL_NS_MAX,
};

struct vigil_pol_ns_match {
	__u8 ns; /* enum vigil_pol_ns */
	__u8 op; /* VIGIL_OP_EQUAL (In) or VIGIL_OP_NOT_EQUAL (NotIn) */
	__u8 pad0[2];
	__u32 set_id; /* inode numbers in pol_int_sets ("host_ns" resolved by the daemon) */
};

/* enum vigil_pol_action_type */
enum vigil_pol_action_type {
	VIGIL_ACT_NONE = 0,
	VIGIL_ACT_POST = 1,
	VIGIL_ACT_NOPOST = 2,
	VIGIL_ACT_SIGKILL = 3,
	VIGIL_ACT_SIGNAL = 4,
	VIGIL_ACT_OVERRIDE = 5, /* only in cgroup connect hooks on this kernel (net.bpf.c) */
	_VIGIL_ACT_MAX,
};

struct vigil_pol_action {
	__u8 type; /* enum vigil_pol_action_type */
	__u8 pad0[3];
	__s32 arg; /* SIGNAL: signal number; OVERRIDE: errno as a negative value (-1 = -EPERM) */
	__u64 rate_limit_ns; /* POST: identical events (same hook, selector, process, args) at
			      * most once per this interval; 0 = no limit */
};

/* vigil_pol_selector.flags */
enum {
	VIGIL_SEL_F_BIN = 1 << 0, /* matchBinaries: bin_set must (or with NOT, must not) match */
	VIGIL_SEL_F_BIN_NOT = 1 << 1,	 /* NotIn / NotPrefix */
	VIGIL_SEL_F_PID = 1 << 2,	 /* matchPIDs */
	VIGIL_SEL_F_PID_NOT = 1 << 3,	 /* NotIn */
	VIGIL_SEL_F_PID_NS = 1 << 4,	 /* isNamespacePID: compare the pid in the task's pid ns */
	VIGIL_SEL_F_PID_FOLLOW = 1 << 5, /* followForks: descendants of a matching pid match */
};

struct vigil_pol_selector {
	__u8 n_match;	/* matchArgs used */
	__u8 n_ret;	/* matchReturnArgs used */
	__u8 n_ns;	/* matchNamespaces used */
	__u8 n_actions; /* 0 = Post */
	__u8 flags;	/* VIGIL_SEL_F_* */
	__u8 bin_bit;	/* matchBinaries: bit in pol_procs.bin_bits */
	__u8 pid_bit;	/* matchPIDs followForks: bit in pol_procs.pid_bits */
	__u8 pad0;
	__u32 pid_set; /* matchPIDs values in pol_int_sets */
	__u32 pad1;
	struct vigil_pol_match match[VIGIL_POL_MAX_MATCHARGS];
	struct vigil_pol_match ret[VIGIL_POL_MAX_RETARGS];
	struct vigil_pol_ns_match ns[VIGIL_POL_MAX_NS];
	struct vigil_pol_action actions[VIGIL_POL_MAX_ACTIONS];
};

/* vigil_pol_hook.flags */
enum {
	VIGIL_HOOK_F_ACTIVE = 1 << 0,  /* slot in use; an inactive slot's invocations are ignored */
	VIGIL_HOOK_F_RETURN = 1 << 1,  /* evaluate at the sys_exit_* tracepoint (ret available) */
	VIGIL_HOOK_F_SYSCALL = 1 << 2, /* syscalls/sys_enter_*: args are user-space */
};

/* pol_hooks[slot]: one attached hook. */
struct vigil_pol_hook {
	__u32 hook_id; /* daemon-wide unique id (never reused), echoed in events */
	__u32 flags;   /* VIGIL_HOOK_F_* */
	__u8 n_args;
	__u8 n_selectors; /* 0 = every invocation matches and posts */
	__u8 ret_type;	  /* RETURN: enum vigil_pol_arg_type of the return value (INT, FD, SOCK) */
	__u8 pad0;
	__u16 enter_group; /* pol_tp_groups index + 1 this hook runs from at entry; 0 = any */
	__u16 exit_group;  /* the same at exit */
	struct vigil_pol_arg args[VIGIL_POL_MAX_ARGS];
	struct vigil_pol_selector sel[VIGIL_POL_MAX_SELECTORS];
};

/*
 * pol_tp_groups[cookie]: the hooks attached to one tracepoint. The kernel refuses to attach one
 * program twice to a tracepoint, so the program is attached once per tracepoint (per direction)
 * and runs every hook of its group in turn.
 */
#define VIGIL_POL_GROUP_MAX 16
struct vigil_pol_tp_group {
	__u32 n;			  /* slots used */
	__u32 slots[VIGIL_POL_GROUP_MAX]; /* pol_hooks slots */
};

/*
 * pol_set_bounds[0]: one past the highest bit in use in pol_bin_sets / pol_pid_sets, so exec and
 * fork look at no set at all when no policy uses matchBinaries or followForks.
 */
struct vigil_pol_set_bounds {
	__u32 bin_hi;
	__u32 pid_hi;
};

/* Key of the LPM tries in pol_str_sets (map-in-map) */
struct vigil_pol_str_key {
	__u32 prefixlen; /* bits */
	__u8 data[VIGIL_POL_STR_MAX];
};

/* Key of pol_int_sets. */
struct vigil_pol_int_key {
	__u32 set_id;
	__u32 pad0;
	__u64 value;
};

/* Key of the pol_addr_sets LPM trie: prefixlen counts set_id's 32 bits plus the address bits. */
struct vigil_pol_addr_key {
	__u32 prefixlen;
	__u32 set_id;
	__u8 addr[16];
};

/* pol_procs[tgid]: per process policy state, maintained at exec/fork/exit. */
struct vigil_pol_proc {
	__u64 start_boottime; /* guards against pid reuse */
	__u64 bin_bits;	      /* bit i: the process's binary matched binary set i */
	__u64 pid_bits;	      /* bit i: an ancestor (or itself) matched followForks pid set i */
};

/*
 * pol_bin_sets[bit]: the matchBinaries sets evaluated at every exec (bit < VIGIL_POL_MAX_BIN_SETS).
 * follow: the bit is inherited by children (and kept across their execs) when set in the parent.
 */
struct vigil_pol_bin_set {
	__u8 op;     /* EQUAL (In), PREFIX, POSTFIX; the selector carries the negation */
	__u8 follow; /* followChildren */
	__u8 active;
	__u8 pad0;
	__u32 str_set; /* pol_str_sets index */
};

/* pol_pid_sets[bit]: followForks pid sets, evaluated at every fork for the parent. */
struct vigil_pol_pid_set {
	__u32 int_set; /* pid values in pol_int_sets */
	__u8 active;
	__u8 ns_pid; /* isNamespacePID */
	__u8 pad0[2];
};

/* Typed argument encodings in the event's data area. */
struct vigil_pol_sockaddr {
	__u16 family; /* AF_INET, AF_INET6, AF_UNIX (sun_path follows in the arg data) */
	__u16 port;   /* host byte order */
	__u32 pad0;
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
};

struct vigil_pol_sock {
	__u16 family;
	__u16 type;	/* SOCK_STREAM, ... */
	__u16 protocol; /* IPPROTO_* */
	__u16 state;	/* TCP_* */
	__u16 sport;	/* host byte order */
	__u16 dport;
	__u32 pad0;
	__u8 saddr[16];
	__u8 daddr[16];
	__u64 cookie; /* socket cookie (bpf_get_socket_cookie semantics) or 0 */
};

/* Per captured argument in the event. */
enum {
	VIGIL_PARG_F_TRUNC = 1 << 0,	/* string/path/buffer longer than captured */
	VIGIL_PARG_F_ERROR = 1 << 1,	/* could not be read (bad pointer, closed fd) */
	VIGIL_PARG_F_DELETED = 1 << 2,	/* path: unlinked file */
	VIGIL_PARG_F_DETACHED = 1 << 3, /* path: no path from the root (memfd, pipe, socket...) */
	VIGIL_PARG_F_RELATIVE = 1 << 4, /* filename: could not be made absolute */
};

struct vigil_pol_arg_desc {
	__u8 type;  /* enum vigil_pol_arg_type, as in the hook (NONE = not captured) */
	__u8 flags; /* VIGIL_PARG_F_* */
	__u16 len;  /* bytes in data[] */
	__u16 off;  /* offset of the bytes in vigil_policy_event.data[] */
	__u16 pad0;
};

/* vigil_policy_event.flags */
enum {
	VIGIL_POLEV_F_RETURN = 1 << 0, /* ret and ret_arg are set */
};

/*
 * Event VIGIL_EV_POLICY: an invocation of a policy hook that matched a selector whose actions
 * include Post (or no actions), or an enforcement. Data area: the bytes of each argument at its
 * desc.off (ints: 8 bytes, sockaddr: struct vigil_pol_sockaddr [+ path], sock: struct
 * vigil_pol_sock), then the return argument (ret_arg).
 */
struct vigil_policy_event {
	struct vigil_event_hdr hdr;
	struct vigil_creds creds;
	__u64 start_boottime; /* of the process, for exec_id */
	__u32 hook_id;	      /* vigil_pol_hook.hook_id */
	__u8 selector;	      /* index of the matching selector, 0xff = none (no selectors) */
	__u8 n_args;
	__u8 actions;	  /* bit (1 << enum vigil_pol_action_type) for every action taken */
	__u8 flags;	  /* VIGIL_POLEV_F_* */
	__s64 ret;	  /* return value (sys_exit ret) when VIGIL_POLEV_F_RETURN */
	__s32 signal;	  /* SIGKILL/SIGNAL: the signal sent; 0 otherwise */
	__s32 action_err; /* bpf_send_signal() result, 0 = delivered */
	__u32 data_len;
	__u32 pad0;
	struct vigil_pol_arg_desc args[VIGIL_POL_MAX_ARGS];
	struct vigil_pol_arg_desc ret_arg;
	char data[];
};

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct vigil_pol_arg) == 16, "vigil_pol_arg layout");
_Static_assert(sizeof(struct vigil_pol_match) == 16, "vigil_pol_match layout");
_Static_assert(sizeof(struct vigil_pol_ns_match) == 8, "vigil_pol_ns_match layout");
_Static_assert(sizeof(struct vigil_pol_action) == 16, "vigil_pol_action layout");
_Static_assert(sizeof(struct vigil_pol_selector) ==
		       16 + 16 * (VIGIL_POL_MAX_MATCHARGS + VIGIL_POL_MAX_RETARGS) +
			       8 * VIGIL_POL_MAX_NS + 16 * VIGIL_POL_MAX_ACTIONS,
	       "vigil_pol_selector layout");
_Static_assert(sizeof(struct vigil_pol_str_key) == 4 + VIGIL_POL_STR_MAX, "str key");
_Static_assert(sizeof(struct vigil_pol_tp_group) == 4 + 4 * VIGIL_POL_GROUP_MAX, "group layout");
_Static_assert(sizeof(struct vigil_pol_int_key) == 16, "int key");
_Static_assert(sizeof(struct vigil_pol_addr_key) == 24, "addr key");
_Static_assert(sizeof(struct vigil_pol_proc) == 24, "pol_proc layout");
_Static_assert(sizeof(struct vigil_pol_sockaddr) == 24, "sockaddr layout");
_Static_assert(sizeof(struct vigil_pol_sock) == 56, "sock layout");
_Static_assert(sizeof(struct vigil_pol_arg_desc) == 8, "arg desc layout");
_Static_assert(sizeof(struct vigil_policy_event) == 168, "vigil_policy_event layout");
#endif

#endif /* VIGIL_POLICY_H */
