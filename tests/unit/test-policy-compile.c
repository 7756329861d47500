/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy compiler on the fixture tracefs tree (tests/data/tracefs, real format files): policies are
 * built directly in C so this does not depend on the YAML parser. Errors are checked with their
 * exact logged message (stderr captured as in test-config.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/policy_compile.h"
#include "capture.h"
#include "tap.h"

#define FILE_NAME "t.yaml"
#define LOC(l, c, p)                                                                               \
	((struct policy_loc){.file = FILE_NAME, .line = (l), .column = (c), .path = (char *)(p)})
#define VAL(str) ((struct policy_value){.s = (char *)(str), .loc = LOC(20, 9, "v")})
/* pointer, count: for struct initialisers whose count member follows the pointer */
#define ARR(...)  ((void *)(__VA_ARGS__)), (sizeof(__VA_ARGS__) / sizeof((__VA_ARGS__)[0]))
#define VALS(...) ARR((struct policy_value[]){__VA_ARGS__})

static struct policy_env env = {
	.tracefs = TRACEFS_FIXTURES,
	.syscall_prefix = "__x64_sys_",
	.have_kprobes = false,
	.have_set_retval = true,
	.host_ns = {[POLICY_NS_PID] = 4026531836, [POLICY_NS_NET] = 4026531840},
};

static int compile(struct policy_hook *hooks, size_t n, struct compiled_policy **c, char **log)
{
	struct policy p = {
		.name = (char *)"test", .file = (char *)FILE_NAME, .hooks = hooks, .n_hooks = n};
	int r;

	*c = NULL;
	capture_begin();
	r = policy_compile(&p, &env, c);
	*log = capture_end();
	return r;
}

static struct policy_arg arg(unsigned index, enum policy_arg_type t, const char *tname)
{
	return (struct policy_arg){
		.index = index,
		.type = t,
		.type_name = (char *)tname,
		.int_width = t == POLICY_ARG_INT ? 4 : 0,
		.int_signed = t == POLICY_ARG_INT,
		.size_arg_index = -1,
		.loc = LOC(10, 7, "spec.kprobes[0].args[0]"),
	};
}

static struct policy_hook kprobe(const char *call)
{
	return (struct policy_hook){
		.kind = POLICY_HOOK_KPROBE,
		.call = (char *)call,
		.syscall = true,
		.loc = LOC(3, 5, "spec.kprobes[0]"),
	};
}

static struct policy_hook tracepoint(const char *subsys, const char *event)
{
	return (struct policy_hook){
		.kind = POLICY_HOOK_TRACEPOINT,
		.subsys = (char *)subsys,
		.event = (char *)event,
		.loc = LOC(4, 5, "spec.tracepoints[0]"),
	};
}

static struct policy_match match(unsigned index, enum policy_op op, struct policy_value *v,
				 size_t n)
{
	return (struct policy_match){
		.index = index,
		.op = op,
		.values = v,
		.n_values = n,
		.loc = LOC(12, 11, "spec.kprobes[0].selectors[0].matchArgs[0]")};
}

static void expect_strs(const struct compiled_policy *c, uint32_t id, uint8_t op,
			const char *const *want, size_t n)
{
	ASSERT_TRUE(id < c->n_str_sets);
	ASSERT_EQ(c->str_sets[id].op, op);
	ASSERT_EQ(c->str_sets[id].n_values, n);
	for (size_t i = 0; i < n; i++)
		ASSERT_STREQ(c->str_sets[id].values[i], want[i]);
	ASSERT_NULL(c->str_sets[id].values[n]);
}

TEST(openat_filename_selectors)
{
	struct policy_arg args[] = {arg(1, POLICY_ARG_FILENAME, "filename"),
				    arg(2, POLICY_ARG_INT, "int")};
	struct policy_match m0[] = {match(1, POLICY_OP_PREFIX, VALS(VAL("/etc/"))),
				    match(1, POLICY_OP_NOT_PREFIX, VALS(VAL("/etc/ssl/")))};
	struct policy_match m1[] = {
		match(1, POLICY_OP_EQUAL, VALS(VAL("/etc/shadow"), VAL("/etc/passwd"))),
		match(1, POLICY_OP_POSTFIX, VALS(VAL(".key"))),
		match(1, POLICY_OP_NOT_POSTFIX, VALS(VAL(".pub"))),
		match(2, POLICY_OP_MASK, VALS(VAL("0x3")))};
	struct policy_selector sels[] = {{.match_args = ARR(m0)}, {.match_args = ARR(m1)}};
	struct policy_hook h = kprobe("sys_openat");
	struct compiled_policy *c;
	const struct compiled_hook *ch;
	char *log;

	h.args = args;
	h.n_args = ELEMENTSOF(args);
	h.selectors = sels;
	h.n_selectors = ELEMENTSOF(sels);
	ASSERT_OK(compile(&h, 1, &c, &log));
	ASSERT_STREQ(log, "");
	ASSERT_EQ(c->n_hooks, 1);
	ch = &c->hooks[0];
	ASSERT_STREQ(ch->enter_tp, "syscalls/sys_enter_openat");
	ASSERT_NULL(ch->exit_tp);
	ASSERT_STREQ(ch->function_name, "__x64_sys_openat");
	ASSERT_EQ(ch->bpf.flags, VIGIL_HOOK_F_ACTIVE | VIGIL_HOOK_F_SYSCALL);
	ASSERT_FALSE(ch->connect_override);

	/* filename, flags, then the hidden dirfd (argument 0) */
	ASSERT_EQ(ch->bpf.n_args, 3);
	ASSERT_EQ(ch->bpf.args[0].type, VIGIL_ARG_FILENAME);
	ASSERT_EQ(ch->bpf.args[0].offset, 24);
	ASSERT_EQ(ch->bpf.args[0].width, 8);
	ASSERT_EQ(ch->bpf.args[0].flags, VIGIL_ARG_F_USER);
	ASSERT_EQ(ch->bpf.args[0].dirfd_arg, 2);
	ASSERT_EQ(ch->bpf.args[0].size_arg, VIGIL_POL_NO_ARG);
	ASSERT_EQ(ch->bpf.args[0].max_len, VIGIL_POL_ARG_STR_MAX);
	ASSERT_EQ(ch->bpf.args[1].type, VIGIL_ARG_INT);
	ASSERT_EQ(ch->bpf.args[1].offset, 32);
	ASSERT_EQ(ch->bpf.args[1].width, 8);
	ASSERT_EQ(ch->bpf.args[1].int_width, 4);
	ASSERT_EQ(ch->bpf.args[1].flags, VIGIL_ARG_F_SIGNED);
	ASSERT_EQ(ch->bpf.args[2].type, VIGIL_ARG_INT);
	ASSERT_EQ(ch->bpf.args[2].offset, 16);
	ASSERT_EQ(ch->bpf.args[2].flags, VIGIL_ARG_F_NO_CAPTURE);
	ASSERT_EQ(ch->args[0].type, POLICY_ARG_FILENAME);
	ASSERT_STREQ(ch->args[1].type_name, "int");

	ASSERT_EQ(ch->bpf.n_selectors, 2);
	ASSERT_EQ(ch->bpf.sel[0].n_match, 2);
	ASSERT_EQ(ch->bpf.sel[0].match[0].arg, 0);
	ASSERT_EQ(ch->bpf.sel[0].match[0].op, VIGIL_OP_PREFIX);
	expect_strs(c, ch->bpf.sel[0].match[0].set_id, VIGIL_OP_PREFIX,
		    (const char *const[]){"/etc/"}, 1);
	ASSERT_EQ(ch->bpf.sel[0].match[1].op, VIGIL_OP_NOT_PREFIX);
	expect_strs(c, ch->bpf.sel[0].match[1].set_id, VIGIL_OP_PREFIX,
		    (const char *const[]){"/etc/ssl/"}, 1);
	/* evaluated cheapest first: the flags Mask, then Equal, then the Postfix pair */
	ASSERT_EQ(ch->bpf.sel[1].n_match, 4);
	ASSERT_EQ(ch->bpf.sel[1].match[0].arg, 1);
	ASSERT_EQ(ch->bpf.sel[1].match[0].op, VIGIL_OP_MASK);
	ASSERT_EQ(ch->bpf.sel[1].match[0].value, 3);
	ASSERT_EQ(ch->bpf.sel[1].match[1].op, VIGIL_OP_EQUAL);
	expect_strs(c, ch->bpf.sel[1].match[1].set_id, VIGIL_OP_EQUAL,
		    (const char *const[]){"/etc/shadow", "/etc/passwd"}, 2);
	ASSERT_EQ(ch->bpf.sel[1].match[2].op, VIGIL_OP_POSTFIX);
	/* stored as written: the installer reverses */
	expect_strs(c, ch->bpf.sel[1].match[2].set_id, VIGIL_OP_POSTFIX,
		    (const char *const[]){".key"}, 1);
	ASSERT_EQ(ch->bpf.sel[1].match[3].op, VIGIL_OP_NOT_POSTFIX);
	ASSERT_EQ(ch->bpf.sel[1].n_actions, 0);
	ASSERT_EQ(c->n_str_sets, 5);
	compiled_policy_free(c);

	/* The arch-prefixed spelling lands on the same tracepoint. */
	h.call = (char *)"__x64_sys_openat";
	ASSERT_OK(compile(&h, 1, &c, &log));
	ASSERT_STREQ(c->hooks[0].enter_tp, "syscalls/sys_enter_openat");
	ASSERT_STREQ(c->hooks[0].function_name, "__x64_sys_openat");
	compiled_policy_free(c);
}

TEST(connect_override)
{
	struct policy_arg args[] = {arg(0, POLICY_ARG_INT, "int"),
				    arg(1, POLICY_ARG_SOCKADDR, "sockaddr")};
	struct policy_match m[] = {
		match(1, POLICY_OP_DADDR,
		      VALS(VAL("10.0.0.0/8"), VAL("fd00::/8"), VAL("192.168.1.1"))),
		match(1, POLICY_OP_DPORT, VALS(VAL("443"), VAL("8443")))};
	struct policy_action acts[] = {
		{.type = POLICY_ACTION_OVERRIDE, .arg_error = -111, .loc = LOC(14, 9, "a")},
		{.type = POLICY_ACTION_POST, .rate_limit_ns = 10000000000ULL}};
	struct policy_selector sel = {.match_args = ARR(m), .actions = ARR(acts)};
	struct policy_hook h = kprobe("sys_connect");
	struct compiled_policy *c;
	const struct compiled_hook *ch;
	const struct compiled_addr_set *as;
	static const uint8_t v4[16] = {[10] = 0xff, [11] = 0xff, [12] = 10};
	static const uint8_t v4h[16] = {[10] = 0xff, [11] = 0xff, [12] = 192, 168, 1, 1};
	static const uint8_t v6[16] = {0xfd};
	char *log;

	h.args = args;
	h.n_args = 2;
	h.selectors = &sel;
	h.n_selectors = 1;
	ASSERT_OK(compile(&h, 1, &c, &log));
	ch = &c->hooks[0];
	ASSERT_TRUE(ch->connect_override);
	ASSERT_EQ(ch->bpf.n_args, 3);
	ASSERT_EQ(ch->bpf.args[1].type, VIGIL_ARG_SOCKADDR);
	ASSERT_EQ(ch->bpf.args[1].offset, 24);
	ASSERT_EQ(ch->bpf.args[1].flags, VIGIL_ARG_F_USER);
	ASSERT_EQ(ch->bpf.args[1].size_arg, 2); /* hidden addrlen */
	ASSERT_EQ(ch->bpf.args[2].offset, 32);
	ASSERT_EQ(ch->bpf.args[2].flags, VIGIL_ARG_F_NO_CAPTURE);

	ASSERT_EQ(ch->bpf.sel[0].match[0].arg, 1);
	ASSERT_EQ(ch->bpf.sel[0].match[0].op, VIGIL_OP_DADDR);
	as = &c->addr_sets[ch->bpf.sel[0].match[0].set_id];
	ASSERT_EQ(as->n_cidrs, 3);
	ASSERT_MEMEQ(as->cidrs[0].addr, v4, 16);
	ASSERT_EQ(as->cidrs[0].bits, 104);
	ASSERT_MEMEQ(as->cidrs[1].addr, v6, 16);
	ASSERT_EQ(as->cidrs[1].bits, 8);
	ASSERT_MEMEQ(as->cidrs[2].addr, v4h, 16);
	ASSERT_EQ(as->cidrs[2].bits, 128);
	ASSERT_EQ(ch->bpf.sel[0].match[1].op, VIGIL_OP_DPORT);
	ASSERT_EQ(c->int_sets[ch->bpf.sel[0].match[1].set_id].n_values, 2);
	ASSERT_EQ(c->int_sets[ch->bpf.sel[0].match[1].set_id].values[0], 443);
	ASSERT_EQ(c->int_sets[ch->bpf.sel[0].match[1].set_id].values[1], 8443);

	ASSERT_EQ(ch->bpf.sel[0].n_actions, 2);
	ASSERT_EQ(ch->bpf.sel[0].actions[0].type, VIGIL_ACT_OVERRIDE);
	ASSERT_EQ(ch->bpf.sel[0].actions[0].arg, -111);
	ASSERT_EQ(ch->bpf.sel[0].actions[1].type, VIGIL_ACT_POST);
	ASSERT_EQ(ch->bpf.sel[0].actions[1].rate_limit_ns, 10000000000ULL);
	compiled_policy_free(c);

	/* Without bpf_set_retval() only EPERM can be returned. */
	env.have_set_retval = false;
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EOPNOTSUPP);
	env.have_set_retval = true;
	ASSERT_CONTAINS(log, "t.yaml:14:9: a: Override with argError -111 needs bpf_set_retval()");

	/* A bad CIDR names the value. */
	m[0].values[1].s = (char *)"fd00::/129";
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EINVAL);
	ASSERT_CONTAINS(log, "t.yaml:20:9: v: invalid value 'fd00::/129': expected an IPv4 or IPv6 "
			     "address or CIDR\n");
	m[0].values[1].s = (char *)"fd00::/8";

	/* Override on connect cannot use the return value. */
	h.want_return = true;
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EOPNOTSUPP);
	ASSERT_CONTAINS(log, "t.yaml:3:5: spec.kprobes[0]: Override on connect runs as a cgroup "
			     "connect4/connect6 hook, before the call");
}

TEST(setuid_int)
{
	struct policy_arg args[] = {arg(0, POLICY_ARG_INT, "uint32")};
	struct policy_match m[] = {match(0, POLICY_OP_EQUAL, VALS(VAL("0"))),
				   match(0, POLICY_OP_GT, VALS(VAL("1000"))),
				   match(0, POLICY_OP_NOT_EQUAL, VALS(VAL("-1"), VAL("0x10")))};
	struct policy_action acts[] = {{.type = POLICY_ACTION_SIGKILL}};
	struct policy_selector sel = {.match_args = ARR(m), .actions = ARR(acts)};
	struct policy_hook h = kprobe("sys_setuid");
	struct compiled_policy *c;
	const struct compiled_hook *ch;
	const struct compiled_int_set *is;
	char *log;

	args[0].int_signed = false;
	h.args = args;
	h.n_args = 1;
	h.selectors = &sel;
	h.n_selectors = 1;
	ASSERT_OK(compile(&h, 1, &c, &log));
	ch = &c->hooks[0];
	ASSERT_STREQ(ch->function_name, "__x64_sys_setuid");
	ASSERT_EQ(ch->bpf.args[0].type, VIGIL_ARG_INT);
	ASSERT_EQ(ch->bpf.args[0].offset, 16);
	ASSERT_EQ(ch->bpf.args[0].flags, 0);
	ASSERT_EQ(ch->bpf.sel[0].match[0].op, VIGIL_OP_EQUAL);
	is = &c->int_sets[ch->bpf.sel[0].match[0].set_id];
	ASSERT_EQ(is->n_values, 1);
	ASSERT_EQ(is->values[0], 0);
	ASSERT_EQ(ch->bpf.sel[0].match[1].op, VIGIL_OP_GT);
	ASSERT_EQ(ch->bpf.sel[0].match[1].value, 1000);
	ASSERT_EQ(ch->bpf.sel[0].match[2].op, VIGIL_OP_NOT_EQUAL);
	is = &c->int_sets[ch->bpf.sel[0].match[2].set_id];
	ASSERT_TRUE(is->values[0] == UINT64_MAX);
	ASSERT_EQ(is->values[1], 16);
	ASSERT_EQ(ch->bpf.sel[0].actions[0].type, VIGIL_ACT_SIGKILL);
	ASSERT_EQ(ch->bpf.sel[0].actions[0].arg, 9);
	compiled_policy_free(c);

	/* String operators do not apply to integers. */
	m[1] = match(0, POLICY_OP_PREFIX, VALS(VAL("1")));
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EINVAL);
	ASSERT_STREQ(
		log,
		"vigild: error: t.yaml:12:11: spec.kprobes[0].selectors[0].matchArgs[0]: operator "
		"'Prefix' does not apply to an argument of type 'uint32'\n");
}

TEST(write_char_buf)
{
	struct policy_arg args[] = {arg(0, POLICY_ARG_FD, "fd"),
				    arg(1, POLICY_ARG_CHAR_BUF, "char_buf")};
	struct policy_hook h = kprobe("sys_write");
	struct compiled_policy *c;
	const struct compiled_hook *ch;
	char *log;

	args[1].size_arg_index = 2;
	h.args = args;
	h.n_args = 2;
	ASSERT_OK(compile(&h, 1, &c, &log));
	ch = &c->hooks[0];
	ASSERT_EQ(ch->bpf.n_args, 3);
	ASSERT_EQ(ch->bpf.args[0].type, VIGIL_ARG_FD);
	ASSERT_EQ(ch->bpf.args[0].offset, 16);
	ASSERT_EQ(ch->bpf.args[1].type, VIGIL_ARG_CHAR_BUF);
	ASSERT_EQ(ch->bpf.args[1].offset, 24);
	ASSERT_EQ(ch->bpf.args[1].max_len, 256);
	ASSERT_EQ(ch->bpf.args[1].size_arg, 2);
	ASSERT_EQ(ch->bpf.args[1].flags, VIGIL_ARG_F_USER);
	ASSERT_EQ(ch->bpf.args[2].offset, 32);
	ASSERT_EQ(ch->bpf.args[2].flags, VIGIL_ARG_F_NO_CAPTURE);
	ASSERT_EQ(ch->bpf.n_selectors, 0);
	compiled_policy_free(c);

	/* maxData; a listed integer size argument is reused, not duplicated. */
	{
		struct policy_arg args3[] = {args[0], args[1], arg(2, POLICY_ARG_INT, "size_t")};

		args3[1].max_data = true;
		h.args = args3;
		h.n_args = 3;
		ASSERT_OK(compile(&h, 1, &c, &log));
		ASSERT_EQ(c->hooks[0].bpf.n_args, 3);
		ASSERT_EQ(c->hooks[0].bpf.args[1].max_len, 4096);
		ASSERT_EQ(c->hooks[0].bpf.args[1].size_arg, 2);
		ASSERT_EQ(c->hooks[0].bpf.args[2].flags, VIGIL_ARG_F_SIGNED);
		compiled_policy_free(c);
		h.args = args;
		h.n_args = 2;
	}

	args[1].size_arg_index = -1;
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EINVAL);
	ASSERT_STREQ(log, "vigild: error: t.yaml:10:7: spec.kprobes[0].args[0]: type 'char_buf' "
			  "needs sizeArgIndex "
			  "(the argument holding the buffer's length)\n");
}

TEST(return_arg)
{
	struct policy_arg args[] = {arg(1, POLICY_ARG_FILENAME, "filename")};
	struct policy_match r[] = {match(0, POLICY_OP_PREFIX, VALS(VAL("/etc/")))};
	struct policy_selector sel = {.match_return_args = ARR(r)};
	struct policy_hook h = kprobe("sys_openat");
	struct compiled_policy *c;
	const struct compiled_hook *ch;
	char *log;

	h.args = args;
	h.n_args = 1;
	h.want_return = true;
	h.has_return_arg = true;
	h.return_arg = arg(0, POLICY_ARG_FD, "fd");
	h.selectors = &sel;
	h.n_selectors = 1;
	ASSERT_OK(compile(&h, 1, &c, &log));
	ch = &c->hooks[0];
	ASSERT_STREQ(ch->exit_tp, "syscalls/sys_exit_openat");
	ASSERT_EQ(ch->bpf.flags, VIGIL_HOOK_F_ACTIVE | VIGIL_HOOK_F_SYSCALL | VIGIL_HOOK_F_RETURN);
	ASSERT_EQ(ch->bpf.ret_type, VIGIL_ARG_FD);
	ASSERT_TRUE(ch->has_return_arg);
	ASSERT_STREQ(ch->return_arg.type_name, "fd");
	ASSERT_EQ(ch->bpf.sel[0].n_ret, 1);
	ASSERT_EQ(ch->bpf.sel[0].ret[0].arg, VIGIL_POL_RET_ARG);
	ASSERT_EQ(ch->bpf.sel[0].ret[0].op, VIGIL_OP_PREFIX);
	expect_strs(c, ch->bpf.sel[0].ret[0].set_id, VIGIL_OP_PREFIX,
		    (const char *const[]){"/etc/"}, 1);
	compiled_policy_free(c);

	/* matchReturnArgs alone asks for the exit tracepoint; the return value is an int. */
	h.want_return = false;
	h.has_return_arg = false;
	r[0] = match(0, POLICY_OP_LT, VALS(VAL("0")));
	ASSERT_OK(compile(&h, 1, &c, &log));
	ASSERT_STREQ(c->hooks[0].exit_tp, "syscalls/sys_exit_openat");
	ASSERT_EQ(c->hooks[0].bpf.ret_type, VIGIL_ARG_INT);
	ASSERT_EQ(c->hooks[0].bpf.sel[0].ret[0].op, VIGIL_OP_LT);
	compiled_policy_free(c);

	/* sock on a returning connect is resolved at exit. */
	{
		struct policy_arg sargs[] = {arg(0, POLICY_ARG_SOCK, "sock")};
		struct policy_hook hc = kprobe("sys_connect");

		hc.args = sargs;
		hc.n_args = 1;
		hc.want_return = true;
		ASSERT_OK(compile(&hc, 1, &c, &log));
		ASSERT_EQ(c->hooks[0].bpf.args[0].type, VIGIL_ARG_SOCK);
		ASSERT_EQ(c->hooks[0].bpf.flags & VIGIL_HOOK_F_RETURN, VIGIL_HOOK_F_RETURN);
		ASSERT_STREQ(c->hooks[0].exit_tp, "syscalls/sys_exit_connect");
		compiled_policy_free(c);
	}
}

TEST(tracepoints)
{
	struct policy_arg a1[] = {arg(4, POLICY_ARG_STRING, "string"),
				  arg(5, POLICY_ARG_INT, "int"), arg(3, POLICY_ARG_INT, "int")};
	struct policy_arg a2[] = {arg(4, POLICY_ARG_STRING, "string"),
				  arg(10, POLICY_ARG_INT, "int")};
	struct policy_arg a3[] = {arg(6, POLICY_ARG_FILENAME, "filename")};
	struct policy_hook h[] = {tracepoint("sched", "sched_process_exec"),
				  tracepoint("sched", "sched_switch"),
				  tracepoint("syscalls", "sys_enter_openat")};
	struct compiled_policy *c;
	const struct compiled_hook *ch;
	char *log;

	h[0].args = a1;
	h[0].n_args = 3;
	h[1].args = a2;
	h[1].n_args = 2;
	h[2].args = a3;
	h[2].n_args = 1;
	ASSERT_OK(compile(h, 3, &c, &log));
	ASSERT_EQ(c->n_hooks, 3);

	ch = &c->hooks[0];
	ASSERT_STREQ(ch->enter_tp, "sched/sched_process_exec");
	ASSERT_STREQ(ch->subsys, "sched");
	ASSERT_STREQ(ch->event, "sched_process_exec");
	ASSERT_NULL(ch->function_name);
	ASSERT_EQ(ch->bpf.flags, VIGIL_HOOK_F_ACTIVE);
	ASSERT_EQ(ch->bpf.args[0].type, VIGIL_ARG_DATALOC);
	ASSERT_EQ(ch->bpf.args[0].offset, 8);
	ASSERT_EQ(ch->bpf.args[0].flags, 0);
	ASSERT_EQ(ch->bpf.args[1].type, VIGIL_ARG_INT);
	ASSERT_EQ(ch->bpf.args[1].offset, 12);
	ASSERT_EQ(ch->bpf.args[1].width, 4);
	/* index 3 is common_pid, as in Tetragon's numbering */
	ASSERT_EQ(ch->bpf.args[2].offset, 4);
	ASSERT_EQ(ch->bpf.args[2].width, 4);

	ch = &c->hooks[1];
	ASSERT_EQ(ch->bpf.args[0].type, VIGIL_ARG_INLINE_STR);
	ASSERT_EQ(ch->bpf.args[0].offset, 8);
	ASSERT_EQ(ch->bpf.args[0].max_len, 16);
	ASSERT_EQ(ch->bpf.args[1].offset, 60); /* next_prio */

	ch = &c->hooks[2];
	ASSERT_EQ(ch->bpf.flags, VIGIL_HOOK_F_ACTIVE | VIGIL_HOOK_F_SYSCALL);
	ASSERT_EQ(ch->bpf.args[0].type, VIGIL_ARG_FILENAME);
	ASSERT_EQ(ch->bpf.args[0].offset, 24);
	ASSERT_EQ(ch->bpf.args[0].dirfd_arg, 1);
	ASSERT_EQ(ch->bpf.args[1].offset, 16);
	compiled_policy_free(c);

	/* index beyond the fields */
	a1[1].index = 7;
	ASSERT_ERRNO(compile(h, 1, &c, &log), EINVAL);
	ASSERT_STREQ(log,
		     "vigild: error: t.yaml:10:7: spec.kprobes[0].args[0]: argument index 7 is "
		     "beyond the "
		     "fields of tracepoint 'sched/sched_process_exec' (it has 7 fields, indices "
		     "0..6, common_* fields included)\n");
	/* string on a scalar field */
	a1[1].index = 5;
	a1[1].type = POLICY_ARG_STRING;
	a1[1].type_name = (char *)"string";
	ASSERT_ERRNO(compile(h, 1, &c, &log), EINVAL);
	ASSERT_STREQ(log,
		     "vigild: error: t.yaml:10:7: spec.kprobes[0].args[0]: type 'string' does not "
		     "fit field "
		     "'pid' (tracefs type 'pid_t'): a string needs a pointer, __data_loc char[] "
		     "or char[N] field\n");
}

TEST(binaries_pids_namespaces)
{
	struct policy_binaries bins[] = {
		{.op = POLICY_OP_IN,
		 .values = VALS(VAL("/usr/bin/curl"), VAL("/usr/bin/wget")),
		 .follow_children = true}};
	struct policy_binaries nbins[] = {
		{.op = POLICY_OP_NOT_PREFIX, .values = VALS(VAL("/usr/"))}};
	uint32_t pidv[] = {1, 42};
	struct policy_pids pids[] = {{.op = POLICY_OP_NOT_IN,
				      .values = pidv,
				      .n_values = 2,
				      .is_namespace_pid = true,
				      .follow_forks = true}};
	struct policy_namespaces ns[] = {
		{.ns = POLICY_NS_PID, .op = POLICY_OP_IN, .values = VALS(VAL("host_ns"))},
		{.ns = POLICY_NS_NET, .op = POLICY_OP_NOT_IN, .values = VALS(VAL("4026532000"))}};
	struct policy_action sig[] = {{.type = POLICY_ACTION_SIGNAL, .arg_sig = 10}};
	struct policy_selector sels[] = {
		{.binaries = ARR(bins), .pids = ARR(pids)},
		{.binaries = ARR(nbins), .namespaces = ARR(ns), .actions = ARR(sig)}};
	struct policy_hook h = kprobe("sys_execve");
	struct compiled_policy *c;
	const struct vigil_pol_selector *s;
	char *log;

	h.selectors = sels;
	h.n_selectors = 2;
	ASSERT_OK(compile(&h, 1, &c, &log));
	s = &c->hooks[0].bpf.sel[0];
	ASSERT_EQ(s->flags, VIGIL_SEL_F_BIN | VIGIL_SEL_F_PID | VIGIL_SEL_F_PID_NOT |
				    VIGIL_SEL_F_PID_NS | VIGIL_SEL_F_PID_FOLLOW);
	ASSERT_EQ(s->bin_bit, 0);
	ASSERT_EQ(c->n_bin_sets, 2);
	ASSERT_EQ(c->bin_sets[0].op, VIGIL_OP_EQUAL);
	ASSERT_EQ(c->bin_sets[0].follow, 1);
	ASSERT_EQ(c->bin_sets[0].active, 1);
	expect_strs(c, c->bin_sets[0].str_set, VIGIL_OP_EQUAL,
		    (const char *const[]){"/usr/bin/curl", "/usr/bin/wget"}, 2);
	ASSERT_EQ(c->int_sets[s->pid_set].n_values, 2);
	ASSERT_EQ(c->int_sets[s->pid_set].values[1], 42);
	ASSERT_EQ(c->n_pid_sets, 1);
	ASSERT_EQ(s->pid_bit, 0);
	ASSERT_EQ(c->pid_sets[0].int_set, s->pid_set);
	ASSERT_EQ(c->pid_sets[0].ns_pid, 1);

	s = &c->hooks[0].bpf.sel[1];
	ASSERT_EQ(s->flags, VIGIL_SEL_F_BIN | VIGIL_SEL_F_BIN_NOT);
	ASSERT_EQ(s->bin_bit, 1);
	ASSERT_EQ(c->bin_sets[1].op, VIGIL_OP_PREFIX);
	ASSERT_EQ(c->bin_sets[1].follow, 0);
	ASSERT_EQ(s->n_ns, 2);
	ASSERT_EQ(s->ns[0].ns, VIGIL_NS_PID);
	ASSERT_EQ(s->ns[0].op, VIGIL_OP_EQUAL);
	ASSERT_TRUE(c->int_sets[s->ns[0].set_id].values[0] == 4026531836ULL);
	ASSERT_EQ(s->ns[1].ns, VIGIL_NS_NET);
	ASSERT_EQ(s->ns[1].op, VIGIL_OP_NOT_EQUAL);
	ASSERT_TRUE(c->int_sets[s->ns[1].set_id].values[0] == 4026532000ULL);
	ASSERT_EQ(s->actions[0].type, VIGIL_ACT_SIGNAL);
	ASSERT_EQ(s->actions[0].arg, 10);
	compiled_policy_free(c);

	/* host_ns of a kind the host does not have */
	ns[0].ns = POLICY_NS_TIME;
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EINVAL);
	ASSERT_CONTAINS(log, "t.yaml:20:9: v: 'host_ns': the host's namespace of this kind is "
			     "unknown");
}

TEST(missing_syscall)
{
	struct policy_hook h[] = {kprobe("sys_nosuch"), kprobe("sys_setuid")};
	struct compiled_policy *c;
	char *log;

	ASSERT_ERRNO(compile(h, 2, &c, &log), EINVAL);
	ASSERT_NULL(c);
	ASSERT_STREQ(log, "vigild: error: t.yaml:3:5: spec.kprobes[0]: no such syscall "
			  "'sys_nosuch' on this kernel "
			  "(no tracepoint syscalls/sys_enter_nosuch)\n");

	h[0].ignore_call_not_found = true;
	ASSERT_OK(compile(h, 2, &c, &log));
	ASSERT_STREQ(log, "vigild: warning: t.yaml:3:5: spec.kprobes[0]: no such syscall "
			  "'sys_nosuch' on this kernel "
			  "(no tracepoint syscalls/sys_enter_nosuch), ignoring the hook "
			  "(ignore.callNotFound).\n");
	ASSERT_EQ(c->n_hooks, 1);
	ASSERT_EQ(c->hooks[0].hook_index, 1);
	ASSERT_STREQ(c->hooks[0].enter_tp, "syscalls/sys_enter_setuid");
	compiled_policy_free(c);

	/* a missing tracepoint, likewise */
	h[0] = tracepoint("sched", "sched_nosuch");
	ASSERT_ERRNO(compile(h, 1, &c, &log), EINVAL);
	ASSERT_STREQ(log, "vigild: error: t.yaml:4:5: spec.tracepoints[0]: no such tracepoint "
			  "'sched/sched_nosuch' on this kernel\n");
}

/* After a successful execve the caller's memory is gone: return hooks cannot read its path. */
TEST(execve_return_refuses_pointer_args)
{
	struct policy_arg args[] = {arg(0, POLICY_ARG_FILENAME, "filename")};
	struct policy_hook h = kprobe("sys_execve");
	struct compiled_policy *c;
	char *log;

	h.args = args;
	h.n_args = 1;
	h.want_return = true;
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EINVAL);
	ASSERT_NULL(c);
	ASSERT_NOT_NULL(strstr(log, "with return: true the arguments of 'sys_execve' are read when "
				    "it returns"));
	h.want_return = false;
	ASSERT_OK(compile(&h, 1, &c, &log));
	compiled_policy_free(c);
}

TEST(unsupported_hooks)
{
	struct policy_hook h = kprobe("fd_install");
	struct compiled_policy *c;
	char *log;
	static const char kmsg[] =
		"vigild: error: t.yaml:3:5: spec.kprobes[0]: kprobes are not available on this "
		"kernel: cannot hook "
		"'fd_install'; use syscall: true or a tracepoint; kprobe/fentry/LSM support comes "
		"with the VM-tested hooks\n";

	h.syscall = false;
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EOPNOTSUPP);
	ASSERT_STREQ(log, kmsg);
	/* ignore.callNotFound does not hide a missing feature */
	h.ignore_call_not_found = true;
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EOPNOTSUPP);
	ASSERT_STREQ(log, kmsg);

	h = (struct policy_hook){.kind = POLICY_HOOK_LSM,
				 .call = (char *)"file_open",
				 .loc = LOC(5, 5, "spec.lsmhooks[0]")};
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EOPNOTSUPP);
	ASSERT_STREQ(log,
		     "vigild: error: t.yaml:5:5: spec.lsmhooks[0]: lsmhooks need BPF-LSM, not "
		     "available on "
		     "this kernel: cannot hook 'file_open'; kprobe/fentry/LSM support comes with "
		     "the VM-tested hooks\n");
}

TEST(arg_errors)
{
	struct policy_arg args[] = {arg(1, POLICY_ARG_FD, "fd")};
	struct policy_hook h = kprobe("sys_openat");
	struct compiled_policy *c;
	char *log;

	h.args = args;
	h.n_args = 1;
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EINVAL);
	ASSERT_STREQ(
		log,
		"vigild: error: t.yaml:10:7: spec.kprobes[0].args[0]: type 'fd' does not fit field "
		"'filename' (tracefs type 'const char *'): a descriptor must be an integer "
		"field\n");

	args[0] = arg(4, POLICY_ARG_INT, "int");
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EINVAL);
	ASSERT_STREQ(log, "vigild: error: t.yaml:10:7: spec.kprobes[0].args[0]: argument index 4 "
			  "is beyond the "
			  "arguments of syscall 'openat' (it has 4)\n");

	args[0] = arg(0, POLICY_ARG_SOCKADDR, "sockaddr");
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EINVAL);
	ASSERT_CONTAINS(log, "type 'sockaddr' does not fit field 'dfd' (tracefs type 'int')");
}

TEST(override_outside_connect)
{
	struct policy_action acts[] = {
		{.type = POLICY_ACTION_OVERRIDE, .arg_error = -1, .loc = LOC(14, 9, "ov")}};
	struct policy_selector sel = {.actions = ARR(acts)};
	struct policy_hook h = kprobe("sys_openat");
	struct compiled_policy *c;
	char *log;

	h.selectors = &sel;
	h.n_selectors = 1;
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EOPNOTSUPP);
	ASSERT_STREQ(
		log,
		"vigild: error: t.yaml:14:9: ov: Override needs BPF-LSM or kprobe override, not "
		"available on this kernel; on this kernel it works for connect (cgroup "
		"connect4/connect6 hooks)\n");

	/* connect as a tracepoint is not a cgroup hook either */
	h = tracepoint("syscalls", "sys_enter_connect");
	h.selectors = &sel;
	h.n_selectors = 1;
	ASSERT_ERRNO(compile(&h, 1, &c, &log), EOPNOTSUPP);
	ASSERT_CONTAINS(log, "Override needs BPF-LSM or kprobe override");

	/* Override on connect with other arguments */
	{
		struct policy_arg args[] = {arg(2, POLICY_ARG_INT, "int")};

		h = kprobe("sys_connect");
		h.selectors = &sel;
		h.n_selectors = 1;
		h.args = args;
		h.n_args = 1;
		ASSERT_ERRNO(compile(&h, 1, &c, &log), EOPNOTSUPP);
		ASSERT_CONTAINS(log, "only args index 0 (type int, the fd) and index 1 (type "
				     "sockaddr) are available");
	}
}

TEST(env_probe)
{
	struct policy_env e;

	/* tracefs may be absent in a build container: the rest is filled anyway. */
	(void)policy_env_probe(&e);
	ASSERT_NOT_NULL(e.tracefs);
#if defined(__x86_64__)
	ASSERT_STREQ(e.syscall_prefix, "__x64_sys_");
#endif
	ASSERT_FALSE(e.have_lsm);
	ASSERT_TRUE(e.host_ns[POLICY_NS_MNT] != 0);
	ASSERT_TRUE(e.host_ns[POLICY_NS_NET] != 0);
	ASSERT_TRUE(e.host_ns[POLICY_NS_MNT] != e.host_ns[POLICY_NS_NET]);
}

int main(void)
{
	log_set_journal(false);
	return tap_run();
}
