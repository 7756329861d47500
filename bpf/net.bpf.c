/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Override on connect: TracingPolicy hooks on connect(2) whose selectors may deny the call run
 * here, in cgroup connect4/connect6 programs, because this kernel has neither kprobe override
 * nor BPF-LSM. The daemon attaches both programs to the cgroup v2 root
 * (bpf_program__attach_cgroup()); vigil_bpf__attach() leaves them alone. The hooks to run are the
 * used entries of pol_connect_hooks (value = pol_hooks slot + 1).
 *
 * Per hook: the connect arguments are rebuilt from the bpf_sock_addr context (the program runs
 * inside connect(), before the socket is connected): a SOCKADDR argument gets the destination
 * (family, port in host order, address; IPv4 in the first 4 bytes), a SOCK argument the socket's
 * family/type/protocol, its bound source (usually none yet) and the destination, and an INT
 * argument is unknown here (the fd; the address length when it is the SOCKADDR's size_arg is
 * known from the family). Selectors are the engine's (bpf/policy_eval.bpf.h). When the winning
 * selector has an Override action the event is posted, connect() fails with its errno
 * (bpf_set_retval(), Linux >= 5.18; EPERM without it) and no further hook runs. Loopback
 * addresses are not special. vigild's own connects are never looked at, like its system calls
 * in policy.bpf.c: a policy must not be able to cut the collector off its sinks.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"
#include "helpers.bpf.h"
#include "policy_eval.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NET_EPERM 1

/* What the bpf_sock_addr context says about this connect, read once per program run. */
struct net_connect {
	__u8 daddr[16]; /* IPv4 in the first 4 bytes */
	__u8 saddr[16];
	__u64 cookie;
	__u16 family;
	__u16 dport; /* host order */
	__u16 sport;
	__u16 type;
	__u16 protocol;
	__u16 pad0;
	__u32 pad1;
};

struct net_hook_ctx {
	struct net_connect *conn;
	struct vigil_pol_eval_ctx *c;
	int deny; /* errno (negative) of the Override that denied, or 0 */
};

static __always_inline void net_put_int(struct vigil_pol_eval_ctx *c, __u32 i, __s64 v, bool err)
{
	struct vigil_pol_arg_desc *d;
	__u8 *p;

	if (i >= VIGIL_POL_MAX_ARGS)
		return;
	d = &c->ev->args[i];
	p = vigil_pol_reserve(c, d, VIGIL_ARG_INT);
	if (!p)
		return;
	*(__s64 *)p = v;
	vigil_pol_commit(c, d, sizeof(__s64));
	if (err)
		d->flags |= VIGIL_PARG_F_ERROR;
}

static __always_inline void net_put_sock(struct vigil_pol_eval_ctx *c, __u32 i,
					 const struct net_connect *conn)
{
	struct vigil_pol_arg_desc *d;
	struct vigil_pol_sock *sk;

	if (i >= VIGIL_POL_MAX_ARGS)
		return;
	d = &c->ev->args[i];
	sk = (struct vigil_pol_sock *)vigil_pol_reserve(c, d, VIGIL_ARG_SOCK);
	if (!sk)
		return;
	sk->family = conn->family;
	sk->type = conn->type;
	sk->protocol = conn->protocol;
	sk->state = 0;
	sk->sport = conn->sport;
	sk->dport = conn->dport;
	sk->pad0 = 0;
	__builtin_memcpy(sk->saddr, conn->saddr, 16);
	__builtin_memcpy(sk->daddr, conn->daddr, 16);
	sk->cookie = conn->cookie;
	vigil_pol_commit(c, d, sizeof(*sk));
}

/* bpf_loop() callback: argument i of the hook, from what the context tells. */
static long net_arg_cb(__u32 i, void *ctx)
{
	struct net_hook_ctx *h = ctx;
	struct vigil_pol_eval_ctx *c = h->c;
	struct net_connect *conn = h->conn;
	struct vigil_pol_arg *a;
	__u32 j;

	if (i >= VIGIL_POL_MAX_ARGS || i >= c->hook->n_args)
		return 1;
	barrier_var(i);
	i &= VIGIL_POL_MAX_ARGS - 1;
	a = &c->hook->args[i];
	switch (a->type) {
	case VIGIL_ARG_SOCKADDR:
		vigil_pol_put_sockaddr(c, i, conn->family, conn->dport, conn->daddr);
		break;
	case VIGIL_ARG_SOCK:
		net_put_sock(c, i, conn);
		break;
	case VIGIL_ARG_INT:
		/* connect(fd, addr, addrlen): addrlen is known from the family, the fd is not. */
		for (j = 0; j < VIGIL_POL_MAX_ARGS; j++) {
			if (j >= c->hook->n_args)
				break;
			if (c->hook->args[j].type == VIGIL_ARG_SOCKADDR &&
			    c->hook->args[j].size_arg == i)
				break;
		}
		if (j < VIGIL_POL_MAX_ARGS && j < c->hook->n_args)
			net_put_int(c, i, conn->family == VIGIL_AF_INET6 ? 28 : 16, false);
		else
			net_put_int(c, i, -1, true);
		break;
	default:
		/* Nothing else of connect(2) can be known here: an empty argument, marked. */
		if (vigil_pol_reserve(c, &c->ev->args[i], a->type))
			vigil_pol_commit(c, &c->ev->args[i], 0);
		c->ev->args[i].flags |= VIGIL_PARG_F_ERROR;
		break;
	}
	return 0;
}

/* bpf_loop() callback: connect hook i. Stops at the first hook that denies. */
static long net_hook_cb(__u32 i, void *ctx)
{
	struct net_hook_ctx *h = ctx;
	struct vigil_pol_eval_ctx *c = h->c;
	struct vigil_pol_hook *hook;
	__u32 *slot, s;
	int sel, err;

	slot = bpf_map_lookup_elem(&pol_connect_hooks, &i);
	if (!slot || !*slot)
		return 0;
	s = *slot - 1;
	hook = bpf_map_lookup_elem(&pol_hooks, &s);
	if (!hook || !(hook->flags & VIGIL_HOOK_F_ACTIVE))
		return 0;
	if (vigil_pol_begin(c, hook) < 0)
		return 1;
	bpf_loop(VIGIL_POL_MAX_ARGS, net_arg_cb, h, 0);
	c->ev->n_args = hook->n_args;
	sel = vigil_pol_eval(c);
	if (sel < 0)
		return 0;
	err = vigil_pol_act(c, sel, VIGIL_POL_ACT_F_CONNECT);
	if (!(c->ev->actions & (1 << VIGIL_ACT_OVERRIDE)))
		return 0;
	h->deny = err < 0 ? err : -NET_EPERM;
	return 1;
}

/*
 * The connect's facts live in the policy scratch's path area, which connect hooks never use
 * (no path arguments): the combined stack of the program and its nested bpf_loop() callbacks
 * must stay within 512 bytes, and struct vigil_pol_eval_ctx takes most of it.
 */
static __always_inline struct net_connect *net_connect_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct vigil_pol_scratch *s = bpf_map_lookup_elem(&pol_scratch, &cpu);

	if (!s)
		return NULL;
	__builtin_memset(s->path, 0, sizeof(struct net_connect));
	return (struct net_connect *)s->path;
}

/* 1 = allow; 0 = deny, with errno set to the Override's where the kernel lets us. */
static __always_inline int net_connect(struct bpf_sock_addr *ctx, struct net_connect *conn)
{
	struct vigil_pol_eval_ctx c = {};
	struct net_hook_ctx h = {.conn = conn, .c = &c};
	struct bpf_sock *sk;

	conn->type = ctx->type;
	conn->protocol = ctx->protocol;
	conn->dport = bpf_ntohs((__u16)ctx->user_port);
	conn->cookie = bpf_get_socket_cookie(ctx);
	sk = ctx->sk;
	if (sk) {
		conn->sport = (__u16)sk->src_port;
		if (conn->family == VIGIL_AF_INET) {
			*(__u32 *)&conn->saddr[0] = sk->src_ip4;
		} else {
			*(__u32 *)&conn->saddr[0] = sk->src_ip6[0];
			*(__u32 *)&conn->saddr[4] = sk->src_ip6[1];
			*(__u32 *)&conn->saddr[8] = sk->src_ip6[2];
			*(__u32 *)&conn->saddr[12] = sk->src_ip6[3];
		}
	}
	bpf_loop(VIGIL_POL_MAX_CONNECT_HOOKS, net_hook_cb, &h, 0);
	if (!h.deny)
		return 1;
	if (cfg_have_set_retval)
		bpf_set_retval(h.deny);
	return 0;
}

static __always_inline bool net_is_self(void)
{
	return cfg_self_tgid && bpf_get_current_pid_tgid() >> 32 == cfg_self_tgid;
}

SEC("cgroup/connect4")
int handle_connect4(struct bpf_sock_addr *ctx)
{
	struct net_connect *conn;

	if (net_is_self())
		return 1;
	conn = net_connect_get();
	if (!conn)
		return 1;
	conn->family = VIGIL_AF_INET;
	*(__u32 *)&conn->daddr[0] = ctx->user_ip4;
	return net_connect(ctx, conn);
}

SEC("cgroup/connect6")
int handle_connect6(struct bpf_sock_addr *ctx)
{
	struct net_connect *conn;

	if (net_is_self())
		return 1;
	conn = net_connect_get();
	if (!conn)
		return 1;
	conn->family = VIGIL_AF_INET6;
	*(__u32 *)&conn->daddr[0] = ctx->user_ip6[0];
	*(__u32 *)&conn->daddr[4] = ctx->user_ip6[1];
	*(__u32 *)&conn->daddr[8] = ctx->user_ip6[2];
	*(__u32 *)&conn->daddr[12] = ctx->user_ip6[3];
	return net_connect(ctx, conn);
}
