/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The TracingPolicy engine's in-kernel core: argument extraction, selector evaluation and
 * actions (model: bpf/policy.h). Used by the generic tracepoint programs (bpf/policy.bpf.c) and by
 * the cgroup connect4/connect6 programs (bpf/net.bpf.c).
 *
 * Contract for a program family that builds the arguments itself (connect programs):
 *
 *	struct vigil_pol_eval_ctx c = {};
 *	if (vigil_pol_begin(&c, hook) < 0)	   scratch event set up: header, creds, hook_id
 *		return ...;
 *	vigil_pol_put_sockaddr(&c, 0, family, port, addr);   or, per argument i < hook->n_args:
 *		  fill c.ev->args[i] {type, flags, len, off} and the bytes at c.ev->data[off], with
 *		  off = c.ev->data_len aligned to 8, and data_len = off + len afterwards
 *		  (the running offset lives in the map value: a stack copy would be a precise
 *		  scalar that makes the verifier re-walk every loop iteration); set n_args.
 *	sel = vigil_pol_eval(&c);		   -1: no selector matched (do nothing more)
 *	err = vigil_pol_act(&c, sel, VIGIL_POL_ACT_F_CONNECT);
 *						   actions, event; returns the Override errno
 *						   (negative) or 0
 *
 * vigil_pol_begin() needs bpf_get_current_task() and bpf_probe_read_kernel() (creds, pid ns):
 * cgroup programs get them with CAP_PERFMON. VIGIL_POL_ACT_F_CONNECT (a compile-time constant)
 * compiles bpf_send_signal() out, since cgroup programs may not call it; Sigkill/Signal then are
 * ignored there (the compiler only allows Override/Post/NoPost on connect hooks).
 *
 * Argument encodings in ev->data (each argument starts 8-byte aligned):
 *   INT: 8 bytes, the value sign- (VIGIL_ARG_F_SIGNED) or zero-extended from int_width;
 *   STRING, DATALOC, INLINE_STR, CHAR_BUF, FD, FILENAME: the bytes, no NUL;
 *   SOCKADDR: struct vigil_pol_sockaddr (+ sun_path bytes for AF_UNIX); SOCK: vigil_pol_sock.
 * An argument that cannot be read has VIGIL_PARG_F_ERROR and counts as "" / 0 for selectors.
 *
 * Value encodings the daemon writes into the sets (must match vigil_pol_cond()):
 *   pol_int_sets: the argument exactly as encoded above (a negative int -100 is
 *   (__u64)(__s64)-100), ports/family/protocol in host order, pids, namespace inode numbers;
 *   pol_addr_sets: prefixlen = 32 + CIDR bits over the 128-bit (IPv4-mapped) address;
 *   pol_str_sets: see bpf/policy.h (EQUAL kind: value + '\0').
 *
 * Stack: struct vigil_pol_eval_ctx (~140 bytes) lives in the program's frame; every loop runs
 * in bpf_loop() so the verifier checks each body once.
 */
#ifndef VIGIL_POLICY_EVAL_BPF_H
#define VIGIL_POLICY_EVAL_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"
#include "helpers.bpf.h"

#define VIGIL_POL_SEL_NONE 0xff /* vigil_pol_eval(): the hook has no selectors (match, Post) */

/* Data offsets at which an argument may start; each argument takes at most 4104 bytes. */
#define VIGIL_POL_DATA_LIMIT 49152
#define VIGIL_POL_HASH_WORDS ((VIGIL_POL_DATA_LIMIT + 8192) / 8)

#define VIGIL_AT_FDCWD		   -100
#define VIGIL_AF_UNIX		   1
#define VIGIL_AF_INET		   2
#define VIGIL_AF_INET6		   10
#define VIGIL_S_IFMT		   00170000
#define VIGIL_S_IFSOCK		   0140000
#define VIGIL_SUN_PATH		   108 /* sizeof(sockaddr_un.sun_path) */
#define VIGIL_SOCKADDR_DEFAULT_LEN 28  /* sizeof(struct sockaddr_in6) */

/* vigil_pol_act() flags */
enum {
	VIGIL_POL_ACT_F_CONNECT = 1 << 0, /* cgroup connect program: Override, no signals */
};

struct vigil_pol_eval_ctx {
	struct vigil_pol_scratch *s;
	struct vigil_policy_event *ev; /* s->event */
	struct vigil_pol_hook *hook;
	struct task_struct *task;
	void *tp;			/* tracepoint record (DATALOC/INLINE_STR), or NULL */
	struct vigil_pol_selector *sel; /* selector being evaluated */
	__u64 bin_bits, pid_bits;	/* pol_procs state of the current process */
	__u64 raw[VIGIL_POL_MAX_ARGS];
	__u64 hash;
	__s64 ret; /* return value, when has_ret */
	__u32 has_ret;
	__u32 tgid;
	__u32 rev;   /* POSTFIX: offset in ev->data of the last byte to reverse */
	int result;  /* selector loop: winning index or -1 */
	int ok;	     /* condition loops: all held so far */
	__u32 phase; /* 0 = matchArgs, 1 = matchReturnArgs */
};

/*
 * v = min(v, max) on the very register that is used afterwards: the compiler may otherwise
 * test a copy and leave the verifier without a bound.
 */
#define vigil_clamp(v, max) asm volatile("if %0 <= %1 goto +1; %0 = %1" : "+r"(v) : "i"(max))

static __always_inline __u32 vigil_pol_align(__u32 off)
{
	return (off + 7) & ~7U;
}

/* ---- process state and event set-up ---------------------------------------------------- */

static __always_inline int vigil_pol_begin(struct vigil_pol_eval_ctx *c,
					   struct vigil_pol_hook *hook)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct vigil_policy_event *ev;
	struct vigil_pol_proc *proc;
	__u64 start;

	c->s = bpf_map_lookup_elem(&pol_scratch, &cpu);
	if (!c->s)
		return -1;
	ev = (struct vigil_policy_event *)c->s->event;
	c->ev = ev;
	c->hook = hook;
	c->task = (struct task_struct *)bpf_get_current_task();
	c->tgid = bpf_get_current_pid_tgid() >> 32;
	c->result = -1;

	start = vigil_process_start(c->task);
	c->bin_bits = 0;
	c->pid_bits = 0;
	proc = bpf_map_lookup_elem(&pol_procs, &c->tgid);
	if (proc && proc->start_boottime == start) {
		c->bin_bits = proc->bin_bits;
		c->pid_bits = proc->pid_bits;
	}

	/* The header and the creds are filled in vigil_pol_act(), for an event that is sent. */
	ev->start_boottime = start;
	ev->hook_id = hook->hook_id;
	ev->selector = VIGIL_POL_SEL_NONE;
	ev->n_args = 0;
	ev->actions = 0;
	ev->flags = 0;
	ev->ret = 0;
	ev->signal = 0;
	ev->action_err = 0;
	ev->data_len = 0;
	ev->pad0 = 0;
	__builtin_memset(ev->args, 0, sizeof(ev->args));
	__builtin_memset(&ev->ret_arg, 0, sizeof(ev->ret_arg));
	return 0;
}

/* Start an argument of `len` bytes at the next aligned offset; NULL when out of room. */
static __always_inline __u8 *vigil_pol_reserve(struct vigil_pol_eval_ctx *c,
					       struct vigil_pol_arg_desc *d, __u8 type)
{
	__u32 off = vigil_pol_align(c->ev->data_len);

	d->type = type;
	d->flags = 0;
	d->len = 0;
	if (off > VIGIL_POL_DATA_LIMIT) {
		d->flags = VIGIL_PARG_F_ERROR;
		d->off = 0;
		return NULL;
	}
	d->off = off;
	vigil_clamp(off, VIGIL_POL_DATA_LIMIT);
	return (__u8 *)&c->ev->data[off];
}

static __always_inline void vigil_pol_commit(struct vigil_pol_eval_ctx *c,
					     struct vigil_pol_arg_desc *d, __u32 len)
{
	d->len = len;
	c->ev->data_len = d->off + len;
}

/* For callers that build arguments themselves (connect programs). */
static __always_inline void vigil_pol_put_sockaddr(struct vigil_pol_eval_ctx *c, __u32 i,
						   __u16 family, __u16 port, const __u8 *addr16)
{
	struct vigil_pol_arg_desc *d;
	struct vigil_pol_sockaddr *sa;

	if (i >= VIGIL_POL_MAX_ARGS)
		return;
	d = &c->ev->args[i];
	sa = (struct vigil_pol_sockaddr *)vigil_pol_reserve(c, d, VIGIL_ARG_SOCKADDR);
	if (!sa)
		return;
	sa->family = family;
	sa->port = port;
	sa->pad0 = 0;
	__builtin_memcpy(sa->addr, addr16, 16);
	vigil_pol_commit(c, d, sizeof(*sa));
	if (c->ev->n_args <= i)
		c->ev->n_args = i + 1;
}

/* ---- argument extraction ---------------------------------------------------------------- */

static __always_inline struct file *vigil_pol_fd_file(struct task_struct *task, __s64 fd)
{
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct file **fds, *f = NULL;
	struct fdtable *fdt;

	if (!files || fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(files, fdt);
	if (!fdt || (__u64)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (!fds || bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) < 0)
		return NULL;
	return f;
}

/*
 * Resolve path into s->path (first VIGIL_PATH_MAX bytes); *ret_start / *ret_len locate it.
 * Returns VIGIL_PARG_F_* flags (ERROR on failure).
 */
static __always_inline __u8 vigil_pol_path(struct vigil_pol_eval_ctx *c, const struct path *path,
					   __u32 *ret_start, __u32 *ret_len)
{
	struct task_struct *task = c->task;
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__u32 start = 0;
	__u8 flags = 0;
	int r;

	if (!fs)
		return VIGIL_PARG_F_ERROR;
	r = vigil_path_resolve(path, __builtin_preserve_access_index(&fs->root), c->s->path,
			       &start);
	if (r < 0)
		return VIGIL_PARG_F_ERROR;
	if (r & VIGIL_PATH_TRUNC)
		flags |= VIGIL_PARG_F_TRUNC;
	if (r & VIGIL_PATH_DELETED)
		flags |= VIGIL_PARG_F_DELETED;
	if (r & VIGIL_PATH_DETACHED)
		flags |= VIGIL_PARG_F_DETACHED;
	start &= VIGIL_PATH_MAX - 1;
	*ret_start = start;
	*ret_len = (VIGIL_PATH_MAX - start) & (VIGIL_PATH_MAX - 1);
	return flags;
}

/* Copy len bytes (< VIGIL_PATH_MAX) of the path area from `start` to dst. */
static __always_inline int vigil_pol_copy_path(struct vigil_pol_eval_ctx *c, __u8 *dst, __u32 start,
					       __u32 len)
{
	start &= VIGIL_PATH_MAX - 1;
	len &= VIGIL_PATH_MAX - 1;
	barrier_var(start);
	barrier_var(len);
	return bpf_probe_read_kernel(dst, len, &c->s->path[start]);
}

#define VIGIL_NSFS_MAGIC   0x6e736673
#define VIGIL_SOCKFS_MAGIC 0x534f434b
#define VIGIL_PIPEFS_MAGIC 0x50495045

/*
 * A file with no path from the root (a namespace, socket, pipe or anonymous inode) is named the
 * way /proc/PID/fd shows it: "uts:[4026531838]", "socket:[123]", "pipe:[45]",
 * "anon_inode:[eventfd]". Returns the length written to dst (at most 64 bytes), 0 if unknown.
 */
static __always_inline __u32 vigil_pol_pseudo_name(struct file *f, __u8 *dst)
{
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	unsigned long magic = BPF_CORE_READ(ino, i_sb, s_magic);
	__u64 data[2] = {0, BPF_CORE_READ(ino, i_ino)};
	static const char sock[] = "socket", pipe[] = "pipe";
	long n;

	if (magic == VIGIL_NSFS_MAGIC) {
		struct ns_common *ns = BPF_CORE_READ(ino, i_private);

		data[0] = (__u64)BPF_CORE_READ(ns, ops, name);
	} else if (magic == VIGIL_SOCKFS_MAGIC) {
		data[0] = (__u64)sock;
	} else if (magic == VIGIL_PIPEFS_MAGIC) {
		data[0] = (__u64)pipe;
	} else {
		data[0] = (__u64)BPF_CORE_READ(f, f_path.dentry, d_name.name);
		n = bpf_snprintf((char *)dst, 64, "anon_inode:%s", data, sizeof(data[0]));
		return n > 1 ? (__u32)(n - 1) & 63 : 0;
	}
	if (!data[0])
		return 0;
	n = bpf_snprintf((char *)dst, 64, "%s:[%llu]", data, sizeof(data));
	return n > 1 ? (__u32)(n - 1) & 63 : 0;
}

static __always_inline void vigil_pol_get_fd(struct vigil_pol_eval_ctx *c,
					     struct vigil_pol_arg_desc *d, __u8 *dst, __s64 fd)
{
	struct file *f = vigil_pol_fd_file(c->task, fd);
	__u32 start = 0, len = 0;

	if (!f) {
		d->flags |= VIGIL_PARG_F_ERROR;
		return;
	}
	d->flags |= vigil_pol_path(c, __builtin_preserve_access_index(&f->f_path), &start, &len);
	if (d->flags & VIGIL_PARG_F_ERROR)
		return;
	if ((d->flags & VIGIL_PARG_F_DETACHED) && len <= 1) {
		len = vigil_pol_pseudo_name(f, dst);
		if (len > 0) {
			vigil_pol_commit(c, d, len);
			return;
		}
	}
	if (vigil_pol_copy_path(c, dst, start, len) < 0) {
		d->flags |= VIGIL_PARG_F_ERROR;
		return;
	}
	vigil_pol_commit(c, d, len);
}

/*
 * Read a NUL-terminated string of at most max bytes to dst. Returns its length (no NUL) and sets
 * TRUNC when it is longer, ERROR when unreadable.
 */
static __always_inline __u32 vigil_pol_read_str(struct vigil_pol_arg_desc *d, __u8 *dst, __u32 max,
						const void *src, bool user)
{
	long n;
	char b = 0;

	if (max > VIGIL_POL_ARG_STR_MAX)
		max = VIGIL_POL_ARG_STR_MAX;
	/* One byte more than captured for the NUL. */
	max += 1;
	vigil_clamp(max, VIGIL_POL_ARG_STR_MAX + 1);
	n = user ? bpf_probe_read_user_str(dst, max, src)
		 : bpf_probe_read_kernel_str(dst, max, src);
	if (n <= 0) {
		d->flags |= VIGIL_PARG_F_ERROR;
		return 0;
	}
	n--;
	if (n == max - 1 && max > 1) {
		/* Filled: longer only if the next byte is not the NUL. */
		if (user)
			bpf_probe_read_user(&b, 1, src + n);
		else
			bpf_probe_read_kernel(&b, 1, src + n);
		if (b)
			d->flags |= VIGIL_PARG_F_TRUNC;
	}
	return n & (2 * VIGIL_POL_ARG_STR_MAX - 1);
}

static __always_inline void vigil_pol_get_filename(struct vigil_pol_eval_ctx *c,
						   const struct vigil_pol_arg *a,
						   struct vigil_pol_arg_desc *d, __u8 *dst,
						   const void *uptr)
{
	__u8 *rel = &c->s->path[VIGIL_PATH_MAX]; /* second half: the walker never writes there */
	struct task_struct *task = c->task;
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__u32 n, start = 0, blen = 0, total, m, skip;
	const struct path *base = NULL;
	__s64 dirfd = VIGIL_AT_FDCWD;
	struct file *f;
	__u8 bflags;
	long r;

	r = bpf_probe_read_user_str(rel, VIGIL_PATH_MAX, uptr);
	if (r <= 0) {
		d->flags |= VIGIL_PARG_F_ERROR;
		return;
	}
	n = (r - 1) & (VIGIL_PATH_MAX - 1);
	if (n == VIGIL_PATH_MAX - 1)
		d->flags |= VIGIL_PARG_F_TRUNC;
	if (n > 0 && rel[0] == '/') {
		if (bpf_probe_read_kernel(dst, n, rel) < 0)
			d->flags |= VIGIL_PARG_F_ERROR;
		else
			vigil_pol_commit(c, d, n);
		return;
	}

	if (a->dirfd_arg < VIGIL_POL_MAX_ARGS)
		dirfd = (int)c->raw[a->dirfd_arg & (VIGIL_POL_MAX_ARGS - 1)];
	if (dirfd == VIGIL_AT_FDCWD) {
		if (fs)
			base = __builtin_preserve_access_index(&fs->pwd);
	} else {
		f = vigil_pol_fd_file(c->task, dirfd);
		if (f)
			base = __builtin_preserve_access_index(&f->f_path);
	}
	bflags = base ? vigil_pol_path(c, base, &start, &blen) : VIGIL_PARG_F_ERROR;
	total = 0;
	if (!(bflags & VIGIL_PARG_F_ERROR) && !(bflags & VIGIL_PARG_F_DETACHED)) {
		d->flags |= bflags;
		if (vigil_pol_copy_path(c, dst, start, blen) < 0) {
			d->flags |= VIGIL_PARG_F_ERROR;
			return;
		}
		total = blen & (VIGIL_PATH_MAX - 1);
		/* "/" + "x" is "/x", not "//x". */
		if (!(total == 1 && dst[0] == '/')) {
			dst[total] = '/';
			total++;
		}
	} else {
		d->flags |= VIGIL_PARG_F_RELATIVE;
	}
	/* "./x" is "x": leading "./" components say nothing (".." is kept: no canonicalisation). */
	skip = 0;
	for (int k = 0; k < 8; k++) {
		__u32 o = skip & (VIGIL_PATH_MAX - 1);

		if (o + 2 > n || rel[o] != '.' || rel[(o + 1) & (VIGIL_PATH_MAX - 1)] != '/')
			break;
		skip += 2;
	}
	skip &= VIGIL_PATH_MAX - 1;
	m = n > skip ? n - skip : 0;
	if (total + m > VIGIL_POL_ARG_STR_MAX) {
		m = VIGIL_POL_ARG_STR_MAX - total;
		d->flags |= VIGIL_PARG_F_TRUNC;
	}
	vigil_clamp(total, VIGIL_PATH_MAX);
	vigil_clamp(m, VIGIL_PATH_MAX - 1);
	if (bpf_probe_read_kernel(&dst[total], m, rel + skip) < 0) {
		d->flags |= VIGIL_PARG_F_ERROR;
		return;
	}
	vigil_pol_commit(c, d, total + m);
}

static __always_inline void vigil_pol_get_sockaddr(struct vigil_pol_eval_ctx *c,
						   const struct vigil_pol_arg *a,
						   struct vigil_pol_arg_desc *d, __u8 *dst,
						   const void *uptr)
{
	__u8 *tmp = &c->s->path[VIGIL_PATH_MAX];
	struct vigil_pol_sockaddr *sa = (struct vigil_pol_sockaddr *)dst;
	__u64 len = VIGIL_SOCKADDR_DEFAULT_LEN;
	__u32 plen = 0;
	long r;

	__builtin_memset(sa, 0, sizeof(*sa));
	if (a->size_arg < VIGIL_POL_MAX_ARGS)
		len = c->raw[a->size_arg & (VIGIL_POL_MAX_ARGS - 1)] & 0xffffffff;
	vigil_clamp(len, 2 + VIGIL_SUN_PATH);
	if (len < 2 || bpf_probe_read_user(tmp, len, uptr) < 0) {
		d->flags |= VIGIL_PARG_F_ERROR;
		vigil_pol_commit(c, d, sizeof(*sa));
		return;
	}
	sa->family = *(__u16 *)tmp;
	if (sa->family == VIGIL_AF_INET && len >= 8) {
		sa->port = bpf_ntohs(*(__u16 *)&tmp[2]);
		__builtin_memcpy(sa->addr, &tmp[4], 4);
	} else if (sa->family == VIGIL_AF_INET6 && len >= 24) {
		sa->port = bpf_ntohs(*(__u16 *)&tmp[2]);
		__builtin_memcpy(sa->addr, &tmp[8], 16);
	} else if (sa->family == VIGIL_AF_UNIX && len > 2) {
		plen = (len - 2) & 0x7f;
		if (tmp[2] != 0) {
			/* a path: up to its NUL */
			r = bpf_probe_read_kernel_str(&dst[sizeof(*sa)], plen + 1, &tmp[2]);
			plen = r > 0 ? (r - 1) & 0x7f : 0;
		} else if (bpf_probe_read_kernel(&dst[sizeof(*sa)], plen, &tmp[2]) < 0) {
			/* abstract: every byte counts, NULs included */
			plen = 0;
		}
	}
	vigil_pol_commit(c, d, sizeof(*sa) + plen);
}

static __always_inline void vigil_pol_get_sock(struct vigil_pol_eval_ctx *c,
					       struct vigil_pol_arg_desc *d, __u8 *dst, __s64 fd)
{
	struct vigil_pol_sock *so = (struct vigil_pol_sock *)dst;
	struct file *f = vigil_pol_fd_file(c->task, fd);
	struct socket *sock;
	struct sock *sk;
	umode_t mode;

	__builtin_memset(so, 0, sizeof(*so));
	vigil_pol_commit(c, d, sizeof(*so));
	if (!f) {
		d->flags |= VIGIL_PARG_F_ERROR;
		return;
	}
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & VIGIL_S_IFMT) != VIGIL_S_IFSOCK) {
		d->flags |= VIGIL_PARG_F_ERROR;
		return;
	}
	sock = BPF_CORE_READ(f, private_data);
	sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk) {
		d->flags |= VIGIL_PARG_F_ERROR;
		return;
	}
	so->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	so->type = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type);
	so->protocol = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	so->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	so->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	so->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (so->family == VIGIL_AF_INET) {
		bpf_core_read(so->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(so->daddr, 4, &sk->__sk_common.skc_daddr);
	} else if (so->family == VIGIL_AF_INET6) {
		bpf_core_read(so->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(so->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	if (bpf_core_field_exists(sk->__sk_common.skc_cookie))
		so->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

static __always_inline __u64 vigil_pol_int(__u64 v, __u8 width, bool is_signed)
{
	switch (width) {
	case 1:
		return is_signed ? (__u64)(__s64)(__s8)v : (__u8)v;
	case 2:
		return is_signed ? (__u64)(__s64)(__s16)v : (__u16)v;
	case 4:
		return is_signed ? (__u64)(__s64)(__s32)v : (__u32)v;
	default:
		return v;
	}
}

/* Extract one argument (or the return value) of type `type` from `raw` into the event. */
static __always_inline void vigil_pol_extract(struct vigil_pol_eval_ctx *c,
					      const struct vigil_pol_arg *a,
					      struct vigil_pol_arg_desc *d, __u8 type, __u64 raw)
{
	bool user = a->flags & VIGIL_ARG_F_USER;
	__u8 *dst = vigil_pol_reserve(c, d, type);
	__u32 n, max, loc;
	__u64 len;

	if (!dst)
		return;
	switch (type) {
	case VIGIL_ARG_INT:
		*(__u64 *)dst = vigil_pol_int(raw, a->int_width, a->flags & VIGIL_ARG_F_SIGNED);
		vigil_pol_commit(c, d, 8);
		break;
	case VIGIL_ARG_STRING:
		n = vigil_pol_read_str(d, dst, a->max_len, (const void *)raw, user);
		vigil_pol_commit(c, d, n);
		break;
	case VIGIL_ARG_DATALOC:
	case VIGIL_ARG_INLINE_STR:
		if (!c->tp) {
			d->flags |= VIGIL_PARG_F_ERROR;
			break;
		}
		if (type == VIGIL_ARG_DATALOC) {
			loc = raw & 0xffff;
			max = (raw >> 16) & 0xffff;
		} else {
			loc = a->offset;
			max = a->max_len;
		}
		if (max > a->max_len)
			max = a->max_len;
		n = vigil_pol_read_str(d, dst, max, c->tp + (loc & 0xffff), false);
		vigil_pol_commit(c, d, n);
		break;
	case VIGIL_ARG_CHAR_BUF:
		len = 0;
		if (a->size_arg < VIGIL_POL_MAX_ARGS)
			len = c->raw[a->size_arg & (VIGIL_POL_MAX_ARGS - 1)];
		if ((__s64)len < 0)
			len = 0;
		max = a->max_len;
		if (max > VIGIL_POL_CHARBUF_MAX)
			max = VIGIL_POL_CHARBUF_MAX;
		if (len > max) {
			len = max;
			d->flags |= VIGIL_PARG_F_TRUNC;
		}
		vigil_clamp(len, VIGIL_POL_CHARBUF_MAX);
		if ((user ? bpf_probe_read_user(dst, len, (const void *)raw)
			  : bpf_probe_read_kernel(dst, len, (const void *)raw)) < 0) {
			d->flags |= VIGIL_PARG_F_ERROR;
			break;
		}
		vigil_pol_commit(c, d, len);
		break;
	case VIGIL_ARG_FD:
		vigil_pol_get_fd(c, d, dst, (int)raw);
		break;
	case VIGIL_ARG_FILENAME:
		vigil_pol_get_filename(c, a, d, dst, (const void *)raw);
		break;
	case VIGIL_ARG_SOCKADDR:
		vigil_pol_get_sockaddr(c, a, d, dst, (const void *)raw);
		break;
	case VIGIL_ARG_SOCK:
		vigil_pol_get_sock(c, d, dst, (int)raw);
		break;
	default:
		d->type = VIGIL_ARG_NONE;
		break;
	}
}

/*
 * bpf_loop() callback: argument i of the hook; after the last one, the return value when
 * c->has_ret (one copy of the extraction code keeps verification short).
 */
static long vigil_pol_arg_cb(__u32 i, void *ctx)
{
	struct vigil_pol_arg ra = {.int_width = 8, .flags = VIGIL_ARG_F_SIGNED};
	struct vigil_pol_eval_ctx *c = ctx;
	struct vigil_pol_arg *a;

	if (i >= VIGIL_POL_MAX_ARGS || i >= c->hook->n_args) {
		if (c->has_ret && c->hook->ret_type != VIGIL_ARG_NONE)
			vigil_pol_extract(c, &ra, &c->ev->ret_arg, c->hook->ret_type, c->ret);
		return 1;
	}
	barrier_var(i);
	i &= VIGIL_POL_MAX_ARGS - 1;
	a = &c->hook->args[i];
	vigil_pol_extract(c, a, &c->ev->args[i], a->type, c->raw[i]);
	return 0;
}

/*
 * Extract every argument from c->raw (and c->tp for in-record strings) and, when `has_ret`, the
 * return value `ret` as the hook's ret_type.
 */
static __always_inline void vigil_pol_extract_all(struct vigil_pol_eval_ctx *c, bool has_ret,
						  long ret)
{
	struct vigil_policy_event *ev = c->ev;
	__u8 n = c->hook->n_args;

	ev->n_args = n > VIGIL_POL_MAX_ARGS ? VIGIL_POL_MAX_ARGS : n;
	c->has_ret = has_ret;
	c->ret = ret;
	if (has_ret) {
		ev->flags |= VIGIL_POLEV_F_RETURN;
		ev->ret = ret;
	}
	bpf_loop(VIGIL_POL_MAX_ARGS + 1, vigil_pol_arg_cb, c, 0);
}

/* ---- selectors ---------------------------------------------------------------------------- */

static long vigil_pol_rev_cb(__u32 i, void *ctx)
{
	struct vigil_pol_eval_ctx *c = ctx;
	__u32 src = c->rev - i;

	if (i >= VIGIL_POL_STR_MAX || src > VIGIL_POL_DATA_LIMIT + VIGIL_POL_ARG_STR_MAX)
		return 1;
	barrier_var(i);
	c->s->key.data[i & (VIGIL_POL_STR_MAX - 1)] = c->ev->data[src];
	return 0;
}

/* Is the string argument in string set set_id, looked up as `kind` (EQUAL, PREFIX, POSTFIX)? */
static __always_inline bool vigil_pol_str_in(struct vigil_pol_eval_ctx *c,
					     const struct vigil_pol_arg_desc *d, __u32 set_id,
					     int kind)
{
	__u32 off = d->off, len = d->len, n;
	void *inner;

	if (d->flags & VIGIL_PARG_F_ERROR)
		len = 0;
	inner = bpf_map_lookup_elem(&pol_str_sets, &set_id);
	if (!inner)
		return false;
	n = len > VIGIL_POL_STR_MAX ? VIGIL_POL_STR_MAX : len;
	if (off > VIGIL_POL_DATA_LIMIT || len > VIGIL_POL_ARG_STR_MAX)
		return false;
	if (kind == VIGIL_OP_POSTFIX) {
		if (n) {
			c->rev = off + len - 1;
			bpf_loop(n, vigil_pol_rev_cb, c, 0);
		}
	} else {
		vigil_clamp(off, VIGIL_POL_DATA_LIMIT);
		vigil_clamp(n, VIGIL_POL_STR_MAX);
		if (bpf_probe_read_kernel(c->s->key.data, n, &c->ev->data[off]) < 0)
			return false;
		if (kind == VIGIL_OP_EQUAL && n < VIGIL_POL_STR_MAX) {
			c->s->key.data[n & (VIGIL_POL_STR_MAX - 1)] = 0;
			n++;
		}
	}
	c->s->key.prefixlen = 8 * n;
	return bpf_map_lookup_elem(inner, &c->s->key) != NULL;
}

static __always_inline bool vigil_pol_int_in(__u32 set_id, __u64 value)
{
	struct vigil_pol_int_key k = {.set_id = set_id, .value = value};

	return bpf_map_lookup_elem(&pol_int_sets, &k) != NULL;
}

static __always_inline bool vigil_pol_is_str(__u8 type)
{
	return type == VIGIL_ARG_STRING || type == VIGIL_ARG_CHAR_BUF || type == VIGIL_ARG_FD ||
	       type == VIGIL_ARG_FILENAME || type == VIGIL_ARG_DATALOC ||
	       type == VIGIL_ARG_INLINE_STR;
}

/* Evaluate one matchArgs / matchReturnArgs condition. */
static __always_inline bool vigil_pol_cond(struct vigil_pol_eval_ctx *c,
					   const struct vigil_pol_match *m)
{
	struct vigil_pol_addr_key ak = {.prefixlen = 32 + 128};
	struct vigil_pol_arg_desc *d;
	bool is_signed, is_int, neg = false, r = false, src;
	__u16 family = 0, port = 0, proto = 0;
	__u8 op = m->op, *addr = NULL;
	__u32 off;
	__u64 v = 0;
	__u8 *p;

	if (m->arg == VIGIL_POL_RET_ARG) {
		d = &c->ev->ret_arg;
		is_signed = true;
	} else {
		if (m->arg >= VIGIL_POL_MAX_ARGS || m->arg >= c->ev->n_args)
			return false;
		d = &c->ev->args[m->arg & (VIGIL_POL_MAX_ARGS - 1)];
		is_signed =
			c->hook->args[m->arg & (VIGIL_POL_MAX_ARGS - 1)].flags & VIGIL_ARG_F_SIGNED;
	}
	off = d->off;
	if (off > VIGIL_POL_DATA_LIMIT)
		return false;
	vigil_clamp(off, VIGIL_POL_DATA_LIMIT);
	p = (__u8 *)&c->ev->data[off];
	/* Integer operators on the return value compare the value itself, whatever its type. */
	is_int = d->type == VIGIL_ARG_INT || m->arg == VIGIL_POL_RET_ARG;
	if (m->arg == VIGIL_POL_RET_ARG)
		v = c->ev->ret;
	else if (d->type == VIGIL_ARG_INT)
		v = *(__u64 *)p;

	switch (op) {
	case VIGIL_OP_EQUAL:
	case VIGIL_OP_NOT_EQUAL:
	case VIGIL_OP_PREFIX:
	case VIGIL_OP_NOT_PREFIX:
	case VIGIL_OP_POSTFIX:
	case VIGIL_OP_NOT_POSTFIX:
		neg = op == VIGIL_OP_NOT_EQUAL || op == VIGIL_OP_NOT_PREFIX ||
		      op == VIGIL_OP_NOT_POSTFIX;
		if (vigil_pol_is_str(d->type)) {
			r = vigil_pol_str_in(c, d, m->set_id,
					     op <= VIGIL_OP_NOT_EQUAL	 ? VIGIL_OP_EQUAL
					     : op <= VIGIL_OP_NOT_PREFIX ? VIGIL_OP_PREFIX
									 : VIGIL_OP_POSTFIX);
		} else if (is_int && op <= VIGIL_OP_NOT_EQUAL) {
			r = vigil_pol_int_in(m->set_id, v);
		}
		return r != neg;
	case VIGIL_OP_GT:
	case VIGIL_OP_LT:
	case VIGIL_OP_MASK:
		if (!is_int)
			return false;
		if (op == VIGIL_OP_MASK)
			return (v & m->value) != 0;
		if (is_signed)
			return op == VIGIL_OP_GT ? (__s64)v > (__s64)m->value
						 : (__s64)v < (__s64)m->value;
		return op == VIGIL_OP_GT ? v > m->value : v < m->value;
	default:
		break;
	}

	/* Socket operators. For a sockaddr, S* and D* both apply to its one address. */
	src = op == VIGIL_OP_SADDR || op == VIGIL_OP_NOT_SADDR || op == VIGIL_OP_SPORT ||
	      op == VIGIL_OP_NOT_SPORT;
	if (d->type == VIGIL_ARG_SOCKADDR) {
		struct vigil_pol_sockaddr *sa = (void *)p;

		family = sa->family;
		port = sa->port;
		addr = sa->addr;
	} else if (d->type == VIGIL_ARG_SOCK) {
		struct vigil_pol_sock *so = (void *)p;

		family = so->family;
		proto = so->protocol;
		port = src ? so->sport : so->dport;
		addr = src ? so->saddr : so->daddr;
	} else {
		return false;
	}
	neg = op == VIGIL_OP_NOT_SADDR || op == VIGIL_OP_NOT_DADDR || op == VIGIL_OP_NOT_SPORT ||
	      op == VIGIL_OP_NOT_DPORT;
	switch (op) {
	case VIGIL_OP_SADDR:
	case VIGIL_OP_DADDR:
	case VIGIL_OP_NOT_SADDR:
	case VIGIL_OP_NOT_DADDR:
		ak.set_id = m->set_id;
		if (family == VIGIL_AF_INET) {
			ak.addr[10] = 0xff;
			ak.addr[11] = 0xff;
			__builtin_memcpy(&ak.addr[12], addr, 4);
		} else if (family == VIGIL_AF_INET6) {
			__builtin_memcpy(ak.addr, addr, 16);
		} else {
			return neg;
		}
		r = bpf_map_lookup_elem(&pol_addr_sets, &ak) != NULL;
		return r != neg;
	case VIGIL_OP_SPORT:
	case VIGIL_OP_DPORT:
	case VIGIL_OP_NOT_SPORT:
	case VIGIL_OP_NOT_DPORT:
		return vigil_pol_int_in(m->set_id, port) != neg;
	case VIGIL_OP_FAMILY:
		return vigil_pol_int_in(m->set_id, family);
	case VIGIL_OP_PROTOCOL:
		return d->type == VIGIL_ARG_SOCK && vigil_pol_int_in(m->set_id, proto);
	default:
		return false;
	}
}

/* bpf_loop() callback over c->sel's matchArgs (phase 0) or matchReturnArgs (phase 1). */
static long vigil_pol_cond_cb(__u32 i, void *ctx)
{
	struct vigil_pol_eval_ctx *c = ctx;
	struct vigil_pol_selector *sel = c->sel;
	struct vigil_pol_match *m;

	if (!sel)
		return 1;
	if (c->phase == 0) {
		if (i >= VIGIL_POL_MAX_MATCHARGS || i >= sel->n_match)
			return 1;
		barrier_var(i);
		m = &sel->match[i & (VIGIL_POL_MAX_MATCHARGS - 1)];
	} else {
		if (i >= VIGIL_POL_MAX_RETARGS || i >= sel->n_ret)
			return 1;
		barrier_var(i);
		m = &sel->ret[i & (VIGIL_POL_MAX_RETARGS - 1)];
	}
	if (!vigil_pol_cond(c, m)) {
		c->ok = 0;
		return 1;
	}
	return 0;
}

/* Inode number of the current task's namespace of kind ns; 0 if unknown. */
static __always_inline __u64 vigil_pol_ns_inum(struct task_struct *task, __u8 ns)
{
	struct nsproxy *nsp = BPF_CORE_READ(task, nsproxy);
	struct pid *pid;
	struct upid up = {};
	unsigned int level;

	switch (ns) {
	case VIGIL_NS_UTS:
		return BPF_CORE_READ(nsp, uts_ns, ns.inum);
	case VIGIL_NS_IPC:
		return BPF_CORE_READ(nsp, ipc_ns, ns.inum);
	case VIGIL_NS_MNT:
		return BPF_CORE_READ(nsp, mnt_ns, ns.inum);
	case VIGIL_NS_PID:
		pid = BPF_CORE_READ(task, thread_pid);
		if (!pid)
			return 0;
		level = BPF_CORE_READ(pid, level);
		bpf_core_read(&up, sizeof(up), &pid->numbers[level & 31]);
		return up.ns ? BPF_CORE_READ(up.ns, ns.inum) : 0;
	case VIGIL_NS_PID_FOR_CHILDREN:
		return BPF_CORE_READ(nsp, pid_ns_for_children, ns.inum);
	case VIGIL_NS_NET:
		return BPF_CORE_READ(nsp, net_ns, ns.inum);
	case VIGIL_NS_TIME:
		if (bpf_core_field_exists(nsp->time_ns))
			return BPF_CORE_READ(nsp, time_ns, ns.inum);
		return 0;
	case VIGIL_NS_TIME_FOR_CHILDREN:
		if (bpf_core_field_exists(nsp->time_ns_for_children))
			return BPF_CORE_READ(nsp, time_ns_for_children, ns.inum);
		return 0;
	case VIGIL_NS_CGROUP:
		return BPF_CORE_READ(nsp, cgroup_ns, ns.inum);
	case VIGIL_NS_USER:
		return BPF_CORE_READ(task, cred, user_ns, ns.inum);
	default:
		return 0;
	}
}

static long vigil_pol_ns_cb(__u32 i, void *ctx)
{
	struct vigil_pol_eval_ctx *c = ctx;
	struct vigil_pol_selector *sel = c->sel;
	struct vigil_pol_ns_match *m;
	bool in;

	if (!sel || i >= VIGIL_POL_MAX_NS || i >= sel->n_ns)
		return 1;
	barrier_var(i);
	m = &sel->ns[i & (VIGIL_POL_MAX_NS - 1)];
	in = vigil_pol_int_in(m->set_id, vigil_pol_ns_inum(c->task, m->ns));
	if (in != (m->op == VIGIL_OP_EQUAL)) {
		c->ok = 0;
		return 1;
	}
	return 0;
}

/* The process's pid (tgid) as seen in its own pid namespace. */
static __always_inline __u32 vigil_pol_ns_tgid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	struct upid up = {};
	unsigned int level;

	if (!pid)
		return 0;
	level = BPF_CORE_READ(pid, level);
	bpf_core_read(&up, sizeof(up), &pid->numbers[level & 31]);
	return up.nr;
}

/* bpf_loop() callback: selector i; stops at the first one whose every condition holds. */
static long vigil_pol_sel_cb(__u32 i, void *ctx)
{
	struct vigil_pol_eval_ctx *c = ctx;
	struct vigil_pol_selector *sel;
	__u32 pid;
	bool m;

	if (i >= VIGIL_POL_MAX_SELECTORS || i >= c->hook->n_selectors)
		return 1;
	barrier_var(i);
	sel = &c->hook->sel[i & (VIGIL_POL_MAX_SELECTORS - 1)];
	if (sel->flags & VIGIL_SEL_F_BIN) {
		m = (c->bin_bits >> (sel->bin_bit & 63)) & 1;
		if (m == !!(sel->flags & VIGIL_SEL_F_BIN_NOT))
			return 0;
	}
	if (sel->flags & VIGIL_SEL_F_PID) {
		pid = sel->flags & VIGIL_SEL_F_PID_NS ? vigil_pol_ns_tgid(c->task) : c->tgid;
		m = vigil_pol_int_in(sel->pid_set, pid);
		if (!m && (sel->flags & VIGIL_SEL_F_PID_FOLLOW))
			m = (c->pid_bits >> (sel->pid_bit & 63)) & 1;
		if (m == !!(sel->flags & VIGIL_SEL_F_PID_NOT))
			return 0;
	}
	c->sel = sel;
	c->ok = 1;
	if (sel->n_ns)
		bpf_loop(VIGIL_POL_MAX_NS, vigil_pol_ns_cb, c, 0);
	if (c->ok && sel->n_match) {
		c->phase = 0;
		bpf_loop(VIGIL_POL_MAX_MATCHARGS, vigil_pol_cond_cb, c, 0);
	}
	if (c->ok && sel->n_ret) {
		c->phase = 1;
		bpf_loop(VIGIL_POL_MAX_RETARGS, vigil_pol_cond_cb, c, 0);
	}
	c->sel = NULL;
	if (!c->ok)
		return 0;
	c->result = i;
	return 1;
}

/*
 * Evaluate the hook's selectors against the event's arguments. Returns the index of the first
 * selector that matches, VIGIL_POL_SEL_NONE when the hook has no selectors, or -1.
 */
static __always_inline int vigil_pol_eval(struct vigil_pol_eval_ctx *c)
{
	if (!c->hook->n_selectors)
		return VIGIL_POL_SEL_NONE;
	c->result = -1;
	bpf_loop(VIGIL_POL_MAX_SELECTORS, vigil_pol_sel_cb, c, 0);
	return c->result;
}

/* ---- actions ------------------------------------------------------------------------------ */

static __always_inline void vigil_pol_count(__u32 idx)
{
	__u64 *cnt = bpf_map_lookup_elem(&pol_action_stats, &idx);

	if (cnt)
		*cnt += 1;
}

static long vigil_pol_hash_cb(__u32 i, void *ctx)
{
	struct vigil_pol_eval_ctx *c = ctx;
	__u32 off = i * 8;

	if (off >= c->ev->data_len)
		return 1;
	vigil_clamp(off, VIGIL_POL_DATA_LIMIT + 8192);
	c->hash = (c->hash ^ *(__u64 *)&c->ev->data[off]) * 0x100000001b3ULL;
	return 0;
}

/* Hash of the event's arguments: descriptors, data bytes (zero padded to 8) and ret. */
static __always_inline __u64 vigil_pol_hash(struct vigil_pol_eval_ctx *c)
{
	struct vigil_policy_event *ev = c->ev;
	__u32 end = vigil_pol_align(ev->data_len), pad = end - ev->data_len, w, i;

	if (pad) {
		/* zero the bytes between the data's end and the next 8-byte boundary */
		w = end - 8;
		vigil_clamp(w, VIGIL_POL_DATA_LIMIT + 8192);
		*(__u64 *)&ev->data[w] &= ~0ULL >> (8 * (pad & 7));
	}
	ev->data_len = end;
	c->hash = 0xcbf29ce484222325ULL ^ (__u64)ev->ret;
	for (i = 0; i < VIGIL_POL_MAX_ARGS; i++)
		c->hash = (c->hash ^ *(__u64 *)&ev->args[i]) * 0x100000001b3ULL;
	c->hash = (c->hash ^ *(__u64 *)&ev->ret_arg) * 0x100000001b3ULL;
	bpf_loop(VIGIL_POL_HASH_WORDS, vigil_pol_hash_cb, c, 0);
	return c->hash;
}

/* Post rateLimit: true when an identical event was posted less than interval ns ago. */
static __always_inline bool vigil_pol_rate_limited(struct vigil_pol_eval_ctx *c, int sel,
						   __u64 interval)
{
	struct vigil_pol_rl_key k = {
		.hook_id = c->hook->hook_id,
		.tgid = c->tgid,
		.selector = sel,
	};
	__u64 now = bpf_ktime_get_boot_ns(), *last;

	k.args_hash = vigil_pol_hash(c);
	last = bpf_map_lookup_elem(&pol_ratelimit, &k);
	if (last && now - *last < interval)
		return true;
	bpf_map_update_elem(&pol_ratelimit, &k, &now, BPF_ANY);
	return false;
}

/*
 * Take the actions of selector `sel` (a vigil_pol_eval() result >= 0) and send the event when
 * they post: Post (unless rate limited), no actions, or any enforcement (every enforcement is an
 * event, even with NoPost). Returns the Override errno (negative; connect programs only) or 0.
 */
static __always_inline int vigil_pol_act(struct vigil_pol_eval_ctx *c, int sel, __u32 flags)
{
	struct vigil_policy_event *ev = c->ev;
	struct vigil_pol_selector *s = NULL;
	struct vigil_pol_action *a;
	bool post = false, enforced = false;
	int override = 0, i;
	__u32 n = 0, size;
	long err;

	if (sel < 0)
		return 0;
	ev->selector = sel;
	if (sel != VIGIL_POL_SEL_NONE && sel < VIGIL_POL_MAX_SELECTORS) {
		barrier_var(sel);
		s = &c->hook->sel[sel & (VIGIL_POL_MAX_SELECTORS - 1)];
		n = s->n_actions;
	}
	if (!s || !n) {
		post = true;
		ev->actions |= 1 << VIGIL_ACT_POST;
		vigil_pol_count(VIGIL_ACT_POST);
	}
	for (i = 0; i < VIGIL_POL_MAX_ACTIONS; i++) {
		if (!s || i >= n)
			break;
		a = &s->actions[i];
		switch (a->type) {
		case VIGIL_ACT_POST:
			if (a->rate_limit_ns && vigil_pol_rate_limited(c, sel, a->rate_limit_ns)) {
				vigil_pol_count(0);
				continue;
			}
			post = true;
			break;
		case VIGIL_ACT_NOPOST:
			break;
		case VIGIL_ACT_SIGKILL:
		case VIGIL_ACT_SIGNAL:
			if (flags & VIGIL_POL_ACT_F_CONNECT)
				continue;
			ev->signal = a->type == VIGIL_ACT_SIGKILL ? 9 : a->arg;
			err = bpf_send_signal(ev->signal);
			ev->action_err = err;
			enforced = true;
			break;
		case VIGIL_ACT_OVERRIDE:
			if (!(flags & VIGIL_POL_ACT_F_CONNECT))
				continue;
			override = a->arg;
			enforced = true;
			break;
		default:
			continue;
		}
		ev->actions |= 1 << (a->type & 7);
		vigil_pol_count(a->type & 7);
	}
	if (!post && !enforced)
		return override;

	vigil_hdr_fill(&ev->hdr, VIGIL_EV_POLICY, 0);
	vigil_creds_fill(&ev->creds, c->task);
	size = sizeof(*ev) + ev->data_len;
	ev->hdr.size = size;
	if (bpf_ringbuf_output(&events, ev, size & VIGIL_POL_SCRATCH_MASK, vigil_rb_flags()) < 0)
		vigil_drop(VIGIL_EV_POLICY);
	return override;
}

#endif /* VIGIL_POLICY_EVAL_BPF_H */
