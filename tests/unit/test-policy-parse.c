/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TracingPolicy parser (daemon/policy_parse.c): values, enums, every error class with its exact
 * "file:line:col: path: message", multi-document isolation, duplicate names, limits and loading
 * policy.d directories with drop-in precedence and masking. Log output (stderr) is captured as
 * in test-config.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf/events.h"
#include "bpf/policy.h"
#include "daemon/log.h"
#include "daemon/policy.h"
#include "capture.h"
#include "tap.h"

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Parse yaml as "t.yaml" into a fresh set; the log is returned in *log. */
static struct policy_set *parse(const char *yaml, char **log)
{
	struct policy_set *set = policy_set_new();

	if (!set)
		abort();
	capture_begin();
	(void)policy_parse_string("t.yaml", yaml, strlen(yaml), set);
	*log = capture_end();
	return set;
}

/* The document must be rejected with exactly this one error line. */
#define ASSERT_ONE_ERROR(yaml, expected)                                                           \
	do {                                                                                       \
		char *_log;                                                                        \
		struct policy_set *_s = parse(yaml, &_log);                                        \
		ASSERT_EQ(_s->n_policies, 0);                                                      \
		ASSERT_EQ(_s->n_errors, 1);                                                        \
		ASSERT_CONTAINS(_log, "error: " expected "\n");                                    \
		ASSERT_EQ(count_lines(_log), 1);                                                   \
		policy_set_free(_s);                                                               \
	} while (0)

/* Lines 1-5. */
#define HDR                                                                                        \
	"apiVersion: cilium.io/v1alpha1\n"                                                         \
	"kind: TracingPolicy\n"                                                                    \
	"metadata:\n"                                                                              \
	"  name: t\n"                                                                              \
	"spec:\n"

/* Lines 6-11: one syscall kprobe with a string arg 1 and an int arg 2. */
#define KP                                                                                         \
	HDR "  kprobes:\n"                                                                         \
	    "  - call: sys_openat\n"                                                               \
	    "    syscall: true\n"                                                                  \
	    "    args:\n"                                                                          \
	    "    - {index: 1, type: string}\n"                                                     \
	    "    - {index: 2, type: uint16}\n"

/* Lines 12-13, then a matchArgs entry starts at line 14. */
#define SEL KP "    selectors:\n    - matchArgs:\n"

/* ---- value parsers ------------------------------------------------------------------------ */

TEST(parse_int)
{
	uint64_t v;

	ASSERT_OK(policy_parse_int("0", &v));
	ASSERT_EQ(v, 0);
	ASSERT_OK(policy_parse_int("42", &v));
	ASSERT_EQ(v, 42);
	ASSERT_OK(policy_parse_int("0x1F", &v));
	ASSERT_EQ(v, 31);
	ASSERT_OK(policy_parse_int("0755", &v));
	ASSERT_EQ(v, 0755);
	ASSERT_OK(policy_parse_int("-1", &v));
	ASSERT_TRUE(v == UINT64_MAX);
	ASSERT_OK(policy_parse_int("-9223372036854775808", &v));
	ASSERT_TRUE(v == (uint64_t)INT64_MIN);
	ASSERT_OK(policy_parse_int("18446744073709551615", &v));
	ASSERT_TRUE(v == UINT64_MAX);
	ASSERT_ERRNO(policy_parse_int("18446744073709551616", &v), EINVAL);
	ASSERT_ERRNO(policy_parse_int("-9223372036854775809", &v), EINVAL);
	ASSERT_ERRNO(policy_parse_int("", &v), EINVAL);
	ASSERT_ERRNO(policy_parse_int(" 1", &v), EINVAL);
	ASSERT_ERRNO(policy_parse_int("+1", &v), EINVAL);
	ASSERT_ERRNO(policy_parse_int("0x", &v), EINVAL);
	ASSERT_ERRNO(policy_parse_int("08", &v), EINVAL);
	ASSERT_ERRNO(policy_parse_int("12a", &v), EINVAL);
	ASSERT_ERRNO(policy_parse_int(NULL, &v), EINVAL);
}

TEST(parse_cidr)
{
	static const uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
	static const uint8_t v6[16] = {0xfd};
	static const uint8_t lo6[16] = {[15] = 1};
	uint8_t a[16], bits;

	ASSERT_OK(policy_parse_cidr("10.1.2.3/8", a, &bits));
	ASSERT_MEMEQ(a, v4, 16);
	ASSERT_EQ(bits, 104);
	ASSERT_OK(policy_parse_cidr("10.1.2.3", a, &bits));
	ASSERT_EQ(bits, 128);
	ASSERT_OK(policy_parse_cidr("0.0.0.0/0", a, &bits));
	ASSERT_EQ(bits, 96);
	ASSERT_OK(policy_parse_cidr("fd00::/8", a, &bits));
	ASSERT_MEMEQ(a, v6, 16);
	ASSERT_EQ(bits, 8);
	ASSERT_OK(policy_parse_cidr("::1", a, &bits));
	ASSERT_MEMEQ(a, lo6, 16);
	ASSERT_EQ(bits, 128);
	ASSERT_ERRNO(policy_parse_cidr("10.0.0.0/33", a, &bits), EINVAL);
	ASSERT_ERRNO(policy_parse_cidr("fd00::/129", a, &bits), EINVAL);
	ASSERT_ERRNO(policy_parse_cidr("10.0.0.0/", a, &bits), EINVAL);
	ASSERT_ERRNO(policy_parse_cidr("10.0.0.0/-1", a, &bits), EINVAL);
	ASSERT_ERRNO(policy_parse_cidr("10.0.0/8", a, &bits), EINVAL);
	ASSERT_ERRNO(policy_parse_cidr("/8", a, &bits), EINVAL);
	ASSERT_ERRNO(policy_parse_cidr("example.com", a, &bits), EINVAL);
}

TEST(parse_port_family_protocol)
{
	uint16_t v;

	ASSERT_OK(policy_parse_port("443", &v));
	ASSERT_EQ(v, 443);
	ASSERT_OK(policy_parse_port("65535", &v));
	ASSERT_EQ(v, 65535);
	ASSERT_ERRNO(policy_parse_port("65536", &v), EINVAL);
	ASSERT_ERRNO(policy_parse_port("-1", &v), EINVAL);
	ASSERT_ERRNO(policy_parse_port("http", &v), EINVAL);

	ASSERT_OK(policy_parse_family("AF_INET", &v));
	ASSERT_EQ(v, 2);
	ASSERT_OK(policy_parse_family("AF_INET6", &v));
	ASSERT_EQ(v, 10);
	ASSERT_OK(policy_parse_family("AF_UNIX", &v));
	ASSERT_EQ(v, 1);
	ASSERT_OK(policy_parse_family("17", &v));
	ASSERT_EQ(v, 17);
	ASSERT_ERRNO(policy_parse_family("AF_INET7", &v), EINVAL);

	ASSERT_OK(policy_parse_protocol("IPPROTO_TCP", &v));
	ASSERT_EQ(v, 6);
	ASSERT_OK(policy_parse_protocol("IPPROTO_UDP", &v));
	ASSERT_EQ(v, 17);
	ASSERT_OK(policy_parse_protocol("IPPROTO_ICMP", &v));
	ASSERT_EQ(v, 1);
	ASSERT_OK(policy_parse_protocol("IPPROTO_ICMPV6", &v));
	ASSERT_EQ(v, 58);
	ASSERT_OK(policy_parse_protocol("IPPROTO_SCTP", &v));
	ASSERT_EQ(v, 132);
	ASSERT_OK(policy_parse_protocol("IPPROTO_RAW", &v));
	ASSERT_EQ(v, 255);
	ASSERT_OK(policy_parse_protocol("6", &v));
	ASSERT_EQ(v, 6);
	ASSERT_ERRNO(policy_parse_protocol("tcp", &v), EINVAL);
}

TEST(names)
{
	static const char *const ops[] = {
		"Equal", "NotEqual", "Prefix",	 "NotPrefix", "Postfix",  "NotPostfix", "GT",
		"LT",	 "Mask",     "SAddr",	 "DAddr",     "NotSAddr", "NotDAddr",	"SPort",
		"DPort", "NotSPort", "NotDPort", "Protocol",  "Family",	  "In",		"NotIn",
	};
	static const char *const actions[] = {"Post", "NoPost", "Sigkill", "Signal", "Override"};
	static const char *const types[] = {"int",	"string",   "char_buf", "fd",
					    "filename", "sockaddr", "sock"};

	ASSERT_EQ(ELEMENTSOF(ops), _POLICY_OP_MAX);
	for (int i = 0; i < _POLICY_OP_MAX; i++)
		ASSERT_STREQ(policy_op_to_string(i), ops[i]);
	ASSERT_NULL(policy_op_to_string(_POLICY_OP_MAX));
	ASSERT_NULL(policy_op_to_string(_POLICY_OP_INVALID));
	for (int i = 0; i < _POLICY_ACTION_MAX; i++)
		ASSERT_STREQ(policy_action_to_string(i), actions[i]);
	ASSERT_NULL(policy_action_to_string(_POLICY_ACTION_MAX));
	for (int i = 0; i < _POLICY_ARG_TYPE_MAX; i++)
		ASSERT_STREQ(policy_arg_type_to_string(i), types[i]);
	ASSERT_NULL(policy_arg_type_to_string(_POLICY_ARG_TYPE_INVALID));
}

/* ---- a full policy -------------------------------------------------------------------------- */

static char fixture_path[PATH_MAX];

static const char *fixture(const char *name)
{
	const char *top = getenv("top_srcdir");

	snprintf(fixture_path, sizeof(fixture_path), "%s/tests/data/policy/%s", top ?: SRCDIR,
		 name);
	return fixture_path;
}

static void assert_values(const struct policy_value *v, size_t n, const char *const *expected)
{
	size_t i;

	for (i = 0; expected[i]; i++) {
		ASSERT_TRUE(i < n);
		ASSERT_STREQ(v[i].s, expected[i]);
	}
	ASSERT_EQ(n, i);
}

#define VALUES(...) ((const char *const[]){__VA_ARGS__, NULL})

TEST(all_operators)
{
	struct policy_set *set = policy_set_new();
	const struct policy *p;
	const struct policy_hook *h;
	const struct policy_selector *s;
	static const enum policy_op open_ops[] = {
		POLICY_OP_EQUAL,   POLICY_OP_NOT_EQUAL,	  POLICY_OP_PREFIX, POLICY_OP_NOT_PREFIX,
		POLICY_OP_POSTFIX, POLICY_OP_NOT_POSTFIX, POLICY_OP_MASK,   POLICY_OP_GT,
	};
	static const enum policy_op net_ops[] = {
		POLICY_OP_DADDR, POLICY_OP_NOT_DADDR, POLICY_OP_SADDR, POLICY_OP_NOT_SADDR,
		POLICY_OP_DPORT, POLICY_OP_NOT_DPORT, POLICY_OP_SPORT, POLICY_OP_NOT_SPORT,
	};
	char *log;

	capture_begin();
	ASSERT_OK(policy_parse_file(fixture("all-operators.yaml"), set));
	log = capture_end();
	ASSERT_STREQ(log, "");
	ASSERT_EQ(set->n_errors, 0);
	ASSERT_EQ(set->n_policies, 1);
	ASSERT_NOT_NULL(set->files);
	ASSERT_STREQ(set->files[0], fixture("all-operators.yaml"));
	ASSERT_NULL(set->files[1]);
	p = set->policies[0];
	ASSERT_STREQ(p->name, "all-operators");
	ASSERT_EQ(p->line, 3); /* the first content line after the comments */
	ASSERT_EQ(p->doc, 0);
	ASSERT_EQ(strlen(p->digest), 16);
	/* kprobes first, then tracepoints, then lsmhooks */
	ASSERT_EQ(p->n_hooks, 4);
	ASSERT_EQ(p->hooks[0].kind, POLICY_HOOK_KPROBE);
	ASSERT_EQ(p->hooks[1].kind, POLICY_HOOK_KPROBE);
	ASSERT_EQ(p->hooks[1].index, 1);
	ASSERT_EQ(p->hooks[2].kind, POLICY_HOOK_TRACEPOINT);
	ASSERT_EQ(p->hooks[2].index, 0);
	ASSERT_EQ(p->hooks[3].kind, POLICY_HOOK_LSM);

	/* sys_openat */
	h = &p->hooks[0];
	ASSERT_STREQ(h->call, "sys_openat");
	ASSERT_TRUE(h->syscall && h->want_return && h->has_return_arg && h->ignore_call_not_found);
	ASSERT_EQ(h->return_arg.type, POLICY_ARG_INT);
	ASSERT_STREQ(h->message, "file opened");
	ASSERT_STREQ(h->tags[0], "file");
	ASSERT_STREQ(h->tags[1], "observability.filesystem");
	ASSERT_NULL(h->tags[2]);
	ASSERT_EQ(h->loc.line, 9);
	ASSERT_EQ(h->loc.column, 5);
	ASSERT_STREQ(h->loc.path, "spec.kprobes[0]");
	ASSERT_EQ(h->n_args, 3);
	ASSERT_EQ(h->args[0].type, POLICY_ARG_INT);
	ASSERT_EQ(h->args[0].int_width, 4);
	ASSERT_TRUE(h->args[0].int_signed);
	ASSERT_EQ(h->args[1].index, 1);
	ASSERT_EQ(h->args[1].type, POLICY_ARG_FILENAME);
	ASSERT_STREQ(h->args[1].label, "path");
	ASSERT_EQ(h->args[1].size_arg_index, -1);
	ASSERT_EQ(h->args[2].type, POLICY_ARG_INT);
	ASSERT_STREQ(h->args[2].type_name, "uint32");
	ASSERT_EQ(h->args[2].int_width, 4);
	ASSERT_FALSE(h->args[2].int_signed);
	ASSERT_STREQ(h->args[2].loc.path, "spec.kprobes[0].args[2]");

	ASSERT_EQ(h->n_selectors, 2);
	s = &h->selectors[0];
	ASSERT_EQ(s->n_match_args, ELEMENTSOF(open_ops));
	for (size_t i = 0; i < ELEMENTSOF(open_ops); i++)
		ASSERT_EQ(s->match_args[i].op, open_ops[i]);
	assert_values(s->match_args[0].values, s->match_args[0].n_values,
		      VALUES("/etc/shadow", "/etc/passwd"));
	ASSERT_EQ(s->match_args[0].index, 1);
	ASSERT_EQ(s->match_args[6].index, 2);
	assert_values(s->match_args[6].values, s->match_args[6].n_values, VALUES("0x3"));
	assert_values(s->match_args[7].values, s->match_args[7].n_values, VALUES("-100"));
	ASSERT_STREQ(s->match_args[2].loc.path, "spec.kprobes[0].selectors[0].matchArgs[2]");
	ASSERT_STREQ(s->match_args[0].values[1].loc.path,
		     "spec.kprobes[0].selectors[0].matchArgs[0].values[1]");
	ASSERT_EQ(s->match_args[0].values[1].loc.line, 31);
	ASSERT_EQ(s->match_args[0].values[1].loc.column, 34);
	ASSERT_EQ(s->n_match_return_args, 1);
	ASSERT_EQ(s->match_return_args[0].op, POLICY_OP_LT);
	ASSERT_EQ(s->n_binaries, 1);
	ASSERT_EQ(s->binaries[0].op, POLICY_OP_IN);
	ASSERT_TRUE(s->binaries[0].follow_children);
	assert_values(s->binaries[0].values, s->binaries[0].n_values, VALUES("/usr/bin/cat"));
	ASSERT_EQ(s->n_pids, 1);
	ASSERT_EQ(s->pids[0].op, POLICY_OP_NOT_IN);
	ASSERT_EQ(s->pids[0].n_values, 2);
	ASSERT_EQ(s->pids[0].values[0], 1);
	ASSERT_EQ(s->pids[0].values[1], 16);
	ASSERT_TRUE(s->pids[0].is_namespace_pid && s->pids[0].follow_forks);
	ASSERT_EQ(s->n_namespaces, 2);
	ASSERT_EQ(s->namespaces[0].ns, POLICY_NS_MNT);
	ASSERT_EQ(s->namespaces[0].op, POLICY_OP_IN);
	assert_values(s->namespaces[0].values, s->namespaces[0].n_values,
		      VALUES("host_ns", "4026531841"));
	ASSERT_EQ(s->namespaces[1].ns, POLICY_NS_PID_FOR_CHILDREN);
	ASSERT_EQ(s->namespaces[1].op, POLICY_OP_NOT_IN);
	ASSERT_EQ(s->n_actions, 2);
	ASSERT_EQ(s->actions[0].type, POLICY_ACTION_POST);
	ASSERT_TRUE(s->actions[0].rate_limit_ns == 60 * NSEC_PER_SEC);
	ASSERT_EQ(s->actions[1].type, POLICY_ACTION_SIGKILL);
	s = &h->selectors[1];
	ASSERT_EQ(s->binaries[0].op, POLICY_OP_NOT_POSTFIX);
	ASSERT_FALSE(s->binaries[0].follow_children);
	ASSERT_EQ(s->actions[0].type, POLICY_ACTION_SIGNAL);
	ASSERT_EQ(s->actions[0].arg_sig, 10);
	ASSERT_EQ(s->actions[1].type, POLICY_ACTION_NOPOST);

	/* sys_connect */
	h = &p->hooks[1];
	ASSERT_EQ(h->args[0].type, POLICY_ARG_SOCK);
	ASSERT_EQ(h->args[1].type, POLICY_ARG_SOCKADDR);
	ASSERT_EQ(h->args[1].size_arg_index, 2);
	s = &h->selectors[0];
	ASSERT_EQ(s->n_match_args, ELEMENTSOF(net_ops));
	for (size_t i = 0; i < ELEMENTSOF(net_ops); i++)
		ASSERT_EQ(s->match_args[i].op, net_ops[i]);
	assert_values(s->match_args[0].values, s->match_args[0].n_values,
		      VALUES("10.0.0.0/8", "fd00::/8", "127.0.0.1"));
	assert_values(s->match_args[4].values, s->match_args[4].n_values, VALUES("443", "80"));
	s = &h->selectors[1];
	ASSERT_EQ(s->match_args[0].op, POLICY_OP_PROTOCOL);
	assert_values(s->match_args[0].values, s->match_args[0].n_values,
		      VALUES("IPPROTO_TCP", "17"));
	ASSERT_EQ(s->match_args[1].op, POLICY_OP_FAMILY);
	ASSERT_EQ(s->actions[0].type, POLICY_ACTION_OVERRIDE);
	ASSERT_EQ(s->actions[0].arg_error, -13);

	/* tracepoint: char_buf with a 1-based sizeArgIndex stored 0-based, size_t = u64 */
	h = &p->hooks[2];
	ASSERT_STREQ(h->subsys, "syscalls");
	ASSERT_STREQ(h->event, "sys_enter_write");
	ASSERT_EQ(h->args[0].index, 5);
	ASSERT_EQ(h->args[0].type, POLICY_ARG_CHAR_BUF);
	ASSERT_EQ(h->args[0].size_arg_index, 6);
	ASSERT_TRUE(h->args[0].max_data);
	ASSERT_EQ(h->args[1].type, POLICY_ARG_INT);
	ASSERT_EQ(h->args[1].int_width, 8);
	ASSERT_FALSE(h->args[1].int_signed);
	ASSERT_EQ(h->n_selectors, 0);

	h = &p->hooks[3];
	ASSERT_STREQ(h->call, "file_open");
	ASSERT_EQ(h->args[0].type, POLICY_ARG_FD);
	policy_set_free(set);
}

TEST(int_types)
{
	static const struct {
		const char *name;
		unsigned width;
		bool is_signed;
	} t[] = {
		{"int", 4, true},
		{"int8", 1, true},
		{"sint8", 1, true},
		{"s8", 1, true},
		{"int16", 2, true},
		{"sint16", 2, true},
		{"s16", 2, true},
		{"int32", 4, true},
		{"sint32", 4, true},
		{"s32", 4, true},
		{"int64", 8, true},
		{"sint64", 8, true},
		{"s64", 8, true},
		{"long", 8, true},
		{"uint8", 1, false},
		{"u8", 1, false},
		{"uint16", 2, false},
		{"u16", 2, false},
		{"uint32", 4, false},
		{"u32", 4, false},
		{"uint64", 8, false},
		{"u64", 8, false},
		{"ulong", 8, false},
		{"size_t", 8, false},
		{"unsigned long", 8, false},
	};

	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		char yaml[512];
		char *log;
		struct policy_set *s;

		snprintf(yaml, sizeof(yaml), KP "    - {index: 0, type: \"%s\"}\n", t[i].name);
		s = parse(yaml, &log);
		ASSERT_EQ(s->n_policies, 1);
		ASSERT_EQ(s->policies[0]->hooks[0].args[2].type, POLICY_ARG_INT);
		ASSERT_EQ(s->policies[0]->hooks[0].args[2].int_width, t[i].width);
		ASSERT_EQ(s->policies[0]->hooks[0].args[2].int_signed, t[i].is_signed);
		ASSERT_STREQ(s->policies[0]->hooks[0].args[2].type_name, t[i].name);
		policy_set_free(s);
	}
}

/* ---- errors: exact location, path and message ------------------------------------------------ */

TEST(error_unknown_operator)
{
	ASSERT_ONE_ERROR(SEL "      - index: 1\n"
			     "        operator: Prefx\n"
			     "        values: [\"/etc\"]\n",
			 "t.yaml:15:19: spec.kprobes[0].selectors[0].matchArgs[0].operator: "
			 "unknown operator 'Prefx' (did you mean 'Prefix'?)");
	/* nothing close: no suggestion */
	ASSERT_ONE_ERROR(SEL "      - index: 1\n"
			     "        operator: Contains\n"
			     "        values: [\"/etc\"]\n",
			 "t.yaml:15:19: spec.kprobes[0].selectors[0].matchArgs[0].operator: "
			 "unknown operator 'Contains'");
}

TEST(error_example_from_issue)
{
	/* spec.kprobes[1].selectors[0].matchArgs[2].operator, as in the issue */
	ASSERT_ONE_ERROR(KP "  - call: sys_write\n"		 /* 12 */
			    "    syscall: true\n"		 /* 13 */
			    "    args: [{index: 0, type: fd}]\n" /* 14 */
			    "    selectors:\n"			 /* 15 */
			    "    - matchArgs:\n"		 /* 16 */
			    "      - {index: 0, operator: Prefix, values: [/etc]}\n"
			    "      - {index: 0, operator: Postfix, values: [.so]}\n"
			    "      - index: 0\n"	    /* 19 */
			    "        operator: \"Prefx\"\n" /* 20 */
			    "        values: [x]\n",
			 "t.yaml:20:19: spec.kprobes[1].selectors[0].matchArgs[2].operator: "
			 "unknown operator 'Prefx' (did you mean 'Prefix'?)");
}

TEST(error_unknown_key_did_you_mean)
{
	ASSERT_ONE_ERROR(SEL "      - index: 1\n"
			     "        operater: Prefix\n"
			     "        operator: Prefix\n"
			     "        values: [\"/etc\"]\n",
			 "t.yaml:15:9: spec.kprobes[0].selectors[0].matchArgs[0].operater: "
			 "unknown key 'operater' (did you mean 'operator'?)");
	ASSERT_ONE_ERROR(HDR "  kprobs: []\n",
			 "t.yaml:6:3: spec.kprobs: unknown key 'kprobs' (did you mean 'kprobes'?)");
	ASSERT_ONE_ERROR(KP "    selector: []\n",
			 "t.yaml:12:5: spec.kprobes[0].selector: unknown key 'selector' (did you "
			 "mean 'selectors'?)");
}

TEST(error_unsupported_features)
{
	ASSERT_ONE_ERROR(KP "  uprobes: []\n",
			 "t.yaml:12:3: spec.uprobes: 'uprobes' is not supported by vigil");
	ASSERT_ONE_ERROR(KP "  options: []\n",
			 "t.yaml:12:3: spec.options: 'options' is not supported by vigil");
	ASSERT_ONE_ERROR(KP "  enforcers: []\n",
			 "t.yaml:12:3: spec.enforcers: 'enforcers' is not supported by vigil");
	ASSERT_ONE_ERROR(KP "  lists: []\n",
			 "t.yaml:12:3: spec.lists: 'lists' is not supported by vigil");
	ASSERT_ONE_ERROR(KP "  podSelector: {}\n",
			 "t.yaml:12:3: spec.podSelector: 'podSelector' is not supported until "
			 "Kubernetes support lands");
	ASSERT_ONE_ERROR(KP "  containerSelector: {}\n",
			 "t.yaml:12:3: spec.containerSelector: 'containerSelector' is not "
			 "supported until Kubernetes support lands");
	ASSERT_ONE_ERROR(SEL "      - index: 1\n"
			     "        operator: Prefix\n"
			     "        values: [\"/etc\"]\n"
			     "      matchCapabilities: []\n",
			 "t.yaml:17:7: spec.kprobes[0].selectors[0].matchCapabilities: "
			 "'matchCapabilities' is not supported by vigil");
	ASSERT_ONE_ERROR(KP "    selectors:\n"
			    "    - matchNamespaceChanges: []\n",
			 "t.yaml:13:7: spec.kprobes[0].selectors[0].matchNamespaceChanges: "
			 "'matchNamespaceChanges' is not supported by vigil");
	ASSERT_ONE_ERROR(KP "    selectors:\n"
			    "    - matchCapabilityChanges: []\n",
			 "t.yaml:13:7: spec.kprobes[0].selectors[0].matchCapabilityChanges: "
			 "'matchCapabilityChanges' is not supported by vigil");
	ASSERT_ONE_ERROR(
		KP "    selectors:\n"
		   "    - matchActions:\n"
		   "      - action: FollowFD\n",
		"t.yaml:14:17: spec.kprobes[0].selectors[0].matchActions[0].action: action "
		"'FollowFD' is not supported by vigil");
	ASSERT_ONE_ERROR(KP "    - {index: 3, type: char_buf, sizeArgIndex: 1, returnCopy: true}\n",
			 "t.yaml:12:63: spec.kprobes[0].args[2].returnCopy: 'returnCopy' is not "
			 "supported by vigil");
}

TEST(error_kind_api_metadata)
{
	ASSERT_ONE_ERROR("apiVersion: cilium.io/v1alpha1\n"
			 "kind: TracingPolicy\n"
			 "metadata: {name: t, namespace: default}\n"
			 "spec: {kprobes: [{call: sys_openat, syscall: true}]}\n",
			 "t.yaml:3:21: metadata.namespace: 'namespace' is not supported until "
			 "Kubernetes support lands");
	{
		char *log;
		struct policy_set *s = parse("apiVersion: cilium.io/v1alpha1\n"
					     "kind: TracingPolicyNamespaced\n"
					     "metadata: {name: t}\n"
					     "spec: {kprobes: [{call: sys_openat}]}\n",
					     &log);

		ASSERT_EQ(s->n_errors, 1);
		ASSERT_EQ(s->n_policies, 0);
		ASSERT_CONTAINS(log, "error: t.yaml:2:7: kind: kind 'TracingPolicyNamespaced' is "
				     "not supported until Kubernetes support lands\n");
		policy_set_free(s);
	}
	ASSERT_ONE_ERROR("apiVersion: cilium.io/v1alpha1\n"
			 "kind: TracingPolicyy\n"
			 "metadata: {name: t}\n"
			 "spec: {kprobes: [{call: sys_openat}]}\n",
			 "t.yaml:2:7: kind: unknown kind 'TracingPolicyy' (did you mean "
			 "'TracingPolicy'?)");
	ASSERT_ONE_ERROR("apiVersion: cilium.io/v1\n"
			 "kind: TracingPolicy\n"
			 "metadata: {name: t}\n"
			 "spec: {kprobes: [{call: sys_openat}]}\n",
			 "t.yaml:1:13: apiVersion: unsupported apiVersion 'cilium.io/v1', expected "
			 "'cilium.io/v1alpha1'");
	ASSERT_ONE_ERROR("apiVersion: cilium.io/v1alpha1\n"
			 "kind: TracingPolicy\n"
			 "metadata:\n"
			 "  labels: {a: b}\n"
			 "spec: {kprobes: [{call: sys_openat}]}\n",
			 "t.yaml:4:3: metadata: required key 'name' is missing");
	ASSERT_ONE_ERROR(
		"apiVersion: cilium.io/v1alpha1\n"
		"kind: TracingPolicy\n"
		"metadata: {name: Bad_Name}\n"
		"spec: {kprobes: [{call: sys_openat}]}\n",
		"t.yaml:3:18: metadata.name: invalid policy name 'Bad_Name': use lowercase "
		"letters, digits, '-' and '.', starting and ending with a letter or digit, at "
		"most 253 characters");
	ASSERT_ONE_ERROR("apiVersion: cilium.io/v1alpha1\n"
			 "kind: TracingPolicy\n"
			 "metadata: {name: t}\n",
			 "t.yaml:1:1: required key 'spec' is missing");
	ASSERT_ONE_ERROR(
		HDR "  kprobes: []\n",
		"t.yaml:6:3: spec: the policy defines no kprobes, tracepoints or lsmhooks");
	ASSERT_ONE_ERROR("- a\n- b\n",
			 "t.yaml:1:1: expected a TracingPolicy mapping (apiVersion, kind, "
			 "metadata, spec)");
}

TEST(name_length)
{
	char yaml[1024], name[300];
	char *log;
	struct policy_set *s;

	memset(name, 'a', 253);
	name[253] = '\0';
	snprintf(yaml, sizeof(yaml),
		 "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\n"
		 "metadata: {name: %s}\nspec: {kprobes: [{call: x}]}\n",
		 name);
	s = parse(yaml, &log);
	ASSERT_EQ(s->n_policies, 1);
	policy_set_free(s);
	strcat(name, "a");
	snprintf(yaml, sizeof(yaml),
		 "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\n"
		 "metadata: {name: %s}\nspec: {kprobes: [{call: x}]}\n",
		 name);
	s = parse(yaml, &log);
	ASSERT_EQ(s->n_policies, 0);
	ASSERT_CONTAINS(log, "invalid policy name");
	policy_set_free(s);
}

TEST(error_arg_types)
{
	ASSERT_ONE_ERROR(KP "    - {index: 3, type: file}\n",
			 "t.yaml:12:24: spec.kprobes[0].args[2].type: argument type 'file' needs "
			 "kprobe/LSM hooks, not available (see vigil-policy(5))");
	ASSERT_ONE_ERROR(KP "    - {index: 3, type: linux_binprm}\n",
			 "t.yaml:12:24: spec.kprobes[0].args[2].type: argument type 'linux_binprm' "
			 "needs kprobe/LSM hooks, not available (see vigil-policy(5))");
	ASSERT_ONE_ERROR(
		KP "    - {index: 3, type: strng}\n",
		"t.yaml:12:24: spec.kprobes[0].args[2].type: unknown argument type 'strng' "
		"(did you mean 'string'?)");
	ASSERT_ONE_ERROR(KP "    - {index: 3, type: char_buf}\n",
			 "t.yaml:12:7: spec.kprobes[0].args[2]: type char_buf needs sizeArgIndex "
			 "(the 1-based index of the length argument)");
	ASSERT_ONE_ERROR(KP "    - {index: 3, type: string, sizeArgIndex: 2}\n",
			 "t.yaml:12:46: spec.kprobes[0].args[2].sizeArgIndex: sizeArgIndex applies "
			 "only to char_buf and sockaddr");
	ASSERT_ONE_ERROR(KP "    - {index: 1, type: int}\n",
			 "t.yaml:12:7: spec.kprobes[0].args[2]: argument index 1 is declared twice "
			 "(args[0])");
	ASSERT_ONE_ERROR(KP "    - {type: int}\n",
			 "t.yaml:12:7: spec.kprobes[0].args[2]: required key 'index' is missing");
	ASSERT_ONE_ERROR(KP "    - {index: 3, type: int, maxData: maybe}\n",
			 "t.yaml:12:38: spec.kprobes[0].args[2].maxData: invalid boolean 'maybe', "
			 "expected true or false");
}

TEST(error_match_validation)
{
	ASSERT_ONE_ERROR(SEL "      - {index: 4, operator: Equal, values: [a]}\n",
			 "t.yaml:14:17: spec.kprobes[0].selectors[0].matchArgs[0].index: index 4 "
			 "does not name an argument declared in args");
	ASSERT_ONE_ERROR(
		SEL "      - {index: 1, operator: GT, values: [\"1\"]}\n",
		"t.yaml:14:30: spec.kprobes[0].selectors[0].matchArgs[0].operator: "
		"operator 'GT' does not apply to this argument of type 'string' (use one of "
		"Equal, NotEqual, Prefix, NotPrefix, Postfix, NotPostfix)");
	ASSERT_ONE_ERROR(
		SEL "      - {index: 2, operator: Prefix, values: [\"1\"]}\n",
		"t.yaml:14:30: spec.kprobes[0].selectors[0].matchArgs[0].operator: "
		"operator 'Prefix' does not apply to this argument of type 'uint16' (use one "
		"of Equal, NotEqual, GT, LT, Mask)");
	ASSERT_ONE_ERROR(SEL "      - {index: 2, operator: GT, values: [\"1\", \"2\"]}\n",
			 "t.yaml:14:42: spec.kprobes[0].selectors[0].matchArgs[0].values: operator "
			 "'GT' takes exactly one value, not 2");
	ASSERT_ONE_ERROR(SEL "      - {index: 2, operator: Equal, values: [\"65536\"]}\n",
			 "t.yaml:14:46: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: value "
			 "65536 does not fit argument type 'uint16'");
	ASSERT_ONE_ERROR(
		SEL "      - {index: 2, operator: Mask, values: [\"x1\"]}\n",
		"t.yaml:14:45: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: invalid "
		"integer 'x1'");
	ASSERT_ONE_ERROR(SEL "      - {index: 1, operator: Equal, values: []}\n",
			 "t.yaml:14:45: spec.kprobes[0].selectors[0].matchArgs[0].values: at least "
			 "one value is needed");
	ASSERT_ONE_ERROR(SEL "      - {index: 1, operator: Equal}\n",
			 "t.yaml:14:9: spec.kprobes[0].selectors[0].matchArgs[0]: required key "
			 "'values' is missing");
	ASSERT_ONE_ERROR(
		SEL "      - {index: 1, operator: In, values: [a]}\n",
		"t.yaml:14:30: spec.kprobes[0].selectors[0].matchArgs[0].operator: "
		"operator 'In' does not apply to this argument of type 'string' (use one of "
		"Equal, NotEqual, Prefix, NotPrefix, Postfix, NotPostfix)");
	/* matchReturnArgs without return: true */
	ASSERT_ONE_ERROR(KP "    selectors:\n"
			    "    - matchReturnArgs:\n"
			    "      - {index: 0, operator: Equal, values: [\"0\"]}\n",
			 "t.yaml:14:9: spec.kprobes[0].selectors[0].matchReturnArgs[0]: "
			 "matchReturnArgs needs 'return: true' on the hook");
}

/* Sockaddr/sock: the operator set and value syntax. */
TEST(error_network_values)
{
#define NET                                                                                        \
	HDR "  kprobes:\n"                                                                         \
	    "  - call: sys_connect\n"                                                              \
	    "    syscall: true\n"                                                                  \
	    "    args: [{index: 0, type: sock}, {index: 1, type: sockaddr}]\n"                     \
	    "    selectors:\n"                                                                     \
	    "    - matchArgs:\n"
	/* line 12 */
	ASSERT_ONE_ERROR(
		NET "      - {index: 1, operator: DAddr, values: [10.0.0.0/33]}\n",
		"t.yaml:12:46: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: invalid "
		"address or CIDR '10.0.0.0/33' (e.g. 10.0.0.0/8 or fd00::/8)");
	ASSERT_ONE_ERROR(
		NET "      - {index: 1, operator: DPort, values: [\"70000\"]}\n",
		"t.yaml:12:46: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: invalid "
		"port '70000', expected 0 to 65535");
	ASSERT_ONE_ERROR(
		NET "      - {index: 1, operator: Family, values: [AF_INETT]}\n",
		"t.yaml:12:47: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: invalid "
		"address family 'AF_INETT' (AF_INET, AF_INET6, AF_UNIX or a number)");
	ASSERT_ONE_ERROR(
		NET "      - {index: 0, operator: Protocol, values: [tcp]}\n",
		"t.yaml:12:49: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: invalid "
		"protocol 'tcp' (IPPROTO_TCP, IPPROTO_UDP, ... or a number)");
	/* Protocol only for sock */
	ASSERT_ONE_ERROR(
		NET "      - {index: 1, operator: Protocol, values: [IPPROTO_TCP]}\n",
		"t.yaml:12:30: spec.kprobes[0].selectors[0].matchArgs[0].operator: "
		"operator 'Protocol' does not apply to this argument of type 'sockaddr' (use "
		"one of SAddr, DAddr, NotSAddr, NotDAddr, SPort, DPort, NotSPort, NotDPort, "
		"Family)");
	ASSERT_ONE_ERROR(
		NET "      - {index: 0, operator: Equal, values: [x]}\n",
		"t.yaml:12:30: spec.kprobes[0].selectors[0].matchArgs[0].operator: "
		"operator 'Equal' does not apply to this argument of type 'sock' (use one of "
		"SAddr, DAddr, NotSAddr, NotDAddr, SPort, DPort, NotSPort, NotDPort, "
		"Protocol, Family)");
#undef NET
}

TEST(string_value_lengths)
{
	char yaml[2048], v[300];
	char *log;
	struct policy_set *s;

	/* Equal: 255 bytes fit, 256 do not (the kernel stores a terminating NUL) */
	memset(v, 'a', 255);
	v[255] = '\0';
	snprintf(yaml, sizeof(yaml), SEL "      - {index: 1, operator: Equal, values: [\"%s\"]}\n",
		 v);
	s = parse(yaml, &log);
	ASSERT_EQ(s->n_policies, 1);
	policy_set_free(s);
	strcat(v, "a");
	snprintf(yaml, sizeof(yaml), SEL "      - {index: 1, operator: Equal, values: [\"%s\"]}\n",
		 v);
	s = parse(yaml, &log);
	ASSERT_EQ(s->n_policies, 0);
	ASSERT_CONTAINS(log, "t.yaml:14:46: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "
			     "value is 256 bytes long, at most 255 are supported for Equal\n");
	policy_set_free(s);
	/* Prefix: 256 fit, 257 do not */
	snprintf(yaml, sizeof(yaml), SEL "      - {index: 1, operator: Prefix, values: [\"%s\"]}\n",
		 v);
	s = parse(yaml, &log);
	ASSERT_EQ(s->n_policies, 1);
	policy_set_free(s);
	strcat(v, "a");
	snprintf(yaml, sizeof(yaml), SEL "      - {index: 1, operator: Prefix, values: [\"%s\"]}\n",
		 v);
	s = parse(yaml, &log);
	ASSERT_EQ(s->n_policies, 0);
	ASSERT_CONTAINS(log, "value is 257 bytes long, at most 256 are supported for Prefix\n");
	policy_set_free(s);
}

TEST(error_actions)
{
#define ACT KP "    selectors:\n    - matchActions:\n" /* entries from line 14 */
	ASSERT_ONE_ERROR(ACT "      - action: Signal\n",
			 "t.yaml:14:9: spec.kprobes[0].selectors[0].matchActions[0]: action Signal "
			 "needs argSig (a signal number from 1 to 64)");
	ASSERT_ONE_ERROR(ACT "      - {action: Signal, argSig: 65}\n",
			 "t.yaml:14:34: spec.kprobes[0].selectors[0].matchActions[0].argSig: 65 is "
			 "out of range, expected 1 to 64");
	ASSERT_ONE_ERROR(
		ACT "      - action: Override\n",
		"t.yaml:14:9: spec.kprobes[0].selectors[0].matchActions[0]: action Override "
		"needs argError (a negative errno, e.g. -1 for EPERM)");
	ASSERT_ONE_ERROR(
		ACT "      - {action: Override, argError: 13}\n",
		"t.yaml:14:38: spec.kprobes[0].selectors[0].matchActions[0].argError: 13 is "
		"out of range, expected -4095 to -1");
	ASSERT_ONE_ERROR(
		ACT "      - {action: Sigkill, argSig: 9}\n",
		"t.yaml:14:35: spec.kprobes[0].selectors[0].matchActions[0].argSig: argSig "
		"applies only to the Signal action");
	ASSERT_ONE_ERROR(ACT "      - {action: Post, rateLimit: soon}\n",
			 "t.yaml:14:35: spec.kprobes[0].selectors[0].matchActions[0].rateLimit: "
			 "invalid rateLimit 'soon' (e.g. 500ms, 5s, 1m, 1h)");
	ASSERT_ONE_ERROR(
		ACT "      - action: Sigkil\n",
		"t.yaml:14:17: spec.kprobes[0].selectors[0].matchActions[0].action: unknown "
		"action 'Sigkil' (did you mean 'Sigkill'?)");
	{
		char *log;
		struct policy_set *s = parse(ACT "      - {action: Post, rateLimit: 500ms}\n"
						 "      - {action: Post, rateLimit: \"5s\"}\n",
					     &log);

		ASSERT_EQ(s->n_policies, 1);
		ASSERT_TRUE(s->policies[0]->hooks[0].selectors[0].actions[0].rate_limit_ns ==
			    500 * 1000 * 1000ULL);
		ASSERT_TRUE(s->policies[0]->hooks[0].selectors[0].actions[1].rate_limit_ns ==
			    5 * NSEC_PER_SEC);
		policy_set_free(s);
	}
#undef ACT
}

TEST(error_binaries_pids_namespaces)
{
#define S KP "    selectors:\n    - " /* the selector's first key on line 13, column 7 */
	ASSERT_ONE_ERROR(S "matchBinaries: [{operator: Equal, values: [/bin/sh]}]\n",
			 "t.yaml:13:34: spec.kprobes[0].selectors[0].matchBinaries[0].operator: "
			 "operator 'Equal' is not allowed here (use one of In, NotIn, Prefix, "
			 "NotPrefix, Postfix, NotPostfix)");
	ASSERT_ONE_ERROR(
		S "matchPIDs: [{operator: In, values: [1, -2]}]\n",
		"t.yaml:13:46: spec.kprobes[0].selectors[0].matchPIDs[0].values[1]: invalid "
		"number '-2', expected an integer from 0 to 4294967295");
	ASSERT_ONE_ERROR(
		S "matchPIDs: [{operator: Prefix, values: [1]}]\n",
		"t.yaml:13:30: spec.kprobes[0].selectors[0].matchPIDs[0].operator: operator "
		"'Prefix' is not allowed here (use one of In, NotIn)");
	ASSERT_ONE_ERROR(S "matchNamespaces: [{namespace: Mount, operator: In, values: [1]}]\n",
			 "t.yaml:13:37: spec.kprobes[0].selectors[0].matchNamespaces[0].namespace: "
			 "unknown namespace 'Mount'");
	ASSERT_ONE_ERROR(S "matchNamespaces: [{namespace: Utc, operator: In, values: [1]}]\n",
			 "t.yaml:13:37: spec.kprobes[0].selectors[0].matchNamespaces[0].namespace: "
			 "unknown namespace 'Utc' (did you mean 'Uts'?)");
	ASSERT_ONE_ERROR(S "matchNamespaces: [{namespace: Net, operator: In, values: [host]}]\n",
			 "t.yaml:13:65: spec.kprobes[0].selectors[0].matchNamespaces[0].values[0]: "
			 "invalid namespace 'host', expected an inode number or host_ns");
#undef S
}

static char *repeat(const char *item, unsigned n)
{
	size_t l = strlen(item);
	char *s = malloc(l * n + 1);

	for (unsigned i = 0; i < n; i++)
		memcpy(s + i * l, item, l);
	s[l * n] = '\0';
	return s;
}

static void assert_limit(const char *prefix, const char *item, unsigned limit, const char *expected)
{
	char *log, *items, *yaml;
	struct policy_set *s;

	/* at the limit: fine */
	items = repeat(item, limit);
	if (asprintf(&yaml, "%s%s", prefix, items) < 0)
		abort();
	s = parse(yaml, &log);
	free(items);
	free(yaml);
	ASSERT_EQ(s->n_errors, 0);
	ASSERT_EQ(s->n_policies, 1);
	policy_set_free(s);
	/* one more: the error names the limit */
	items = repeat(item, limit + 1);
	if (asprintf(&yaml, "%s%s", prefix, items) < 0)
		abort();
	s = parse(yaml, &log);
	free(items);
	free(yaml);
	ASSERT_EQ(s->n_policies, 0);
	ASSERT_EQ(s->n_errors, 1);
	ASSERT_CONTAINS(log, expected);
	policy_set_free(s);
}

TEST(limits)
{
	/* args need distinct indexes: built by hand */
	{
		char yaml[2048] = HDR "  kprobes:\n  - call: sys_openat\n    args:\n";
		char *log;
		struct policy_set *s;

		for (int i = 0; i <= VIGIL_POL_MAX_ARGS; i++)
			snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
				 "    - {index: %d, type: int}\n", i);
		s = parse(yaml, &log);
		ASSERT_EQ(s->n_policies, 0);
		ASSERT_CONTAINS(log, "t.yaml:9:5: spec.kprobes[0].args: too many args (9), at most "
				     "8 per hook are supported\n");
		policy_set_free(s);
	}
	assert_limit(KP "    selectors:\n", "    - matchActions: [{action: Post}]\n",
		     VIGIL_POL_MAX_SELECTORS,
		     "t.yaml:13:5: spec.kprobes[0].selectors: too many selectors (9), at most 8 "
		     "per hook are supported\n");
	assert_limit(SEL, "      - {index: 1, operator: Prefix, values: [/]}\n",
		     VIGIL_POL_MAX_MATCHARGS,
		     "t.yaml:14:7: spec.kprobes[0].selectors[0].matchArgs: too many matchArgs (9), "
		     "at most 8 per selector are supported\n");
	assert_limit(KP "    return: true\n    selectors:\n    - matchReturnArgs:\n",
		     "      - {index: 0, operator: LT, values: [0]}\n", VIGIL_POL_MAX_RETARGS,
		     "t.yaml:15:7: spec.kprobes[0].selectors[0].matchReturnArgs: too many "
		     "matchReturnArgs (5), at most 4 per selector are supported\n");
	assert_limit(KP "    selectors:\n    - matchNamespaces:\n",
		     "      - {namespace: Net, operator: In, values: [host_ns]}\n",
		     VIGIL_POL_MAX_NS,
		     "t.yaml:14:7: spec.kprobes[0].selectors[0].matchNamespaces: too many "
		     "matchNamespaces (5), at most 4 per selector are supported\n");
	assert_limit(KP "    selectors:\n    - matchActions:\n", "      - action: Post\n",
		     VIGIL_POL_MAX_ACTIONS,
		     "t.yaml:14:7: spec.kprobes[0].selectors[0].matchActions: too many "
		     "matchActions (5), at most 4 per selector are supported\n");
	assert_limit(KP "    selectors:\n    - matchBinaries:\n",
		     "      - {operator: In, values: [/bin/sh]}\n", 1,
		     "t.yaml:14:7: spec.kprobes[0].selectors[0].matchBinaries: too many "
		     "matchBinaries (2), at most 1 per selector is supported\n");
	assert_limit(KP "    selectors:\n    - matchPIDs:\n",
		     "      - {operator: In, values: [1]}\n", 1,
		     "t.yaml:14:7: spec.kprobes[0].selectors[0].matchPIDs: too many matchPIDs "
		     "(2), at most 1 per selector is supported\n");
}

TEST(yaml_structure)
{
	ASSERT_ONE_ERROR(KP "    syscall: false\n",
			 "t.yaml:12:5: spec.kprobes[0].syscall: duplicate key 'syscall' (first at "
			 "line 8)");
	ASSERT_ONE_ERROR(HDR "  kprobes:\n"
			     "  - &hook {call: sys_openat}\n"
			     "  - *hook\n",
			 "t.yaml:8:5: YAML aliases (*name) are not supported in policies");
	ASSERT_ONE_ERROR(HDR "  kprobes: {call: x}\n",
			 "t.yaml:6:12: spec.kprobes: expected a list");
	ASSERT_ONE_ERROR(HDR "  kprobes:\n  - call: [a]\n",
			 "t.yaml:7:11: spec.kprobes[0].call: expected a single value, not a list");
	ASSERT_ONE_ERROR(HDR "  kprobes:\n  - call:\n",
			 "t.yaml:7:10: spec.kprobes[0].call: missing value");
	/* a syntax error: earlier documents are kept, the error is counted */
	{
		char *log;
		struct policy_set *s = policy_set_new();
		const char *yaml =
			HDR "  kprobes: [{call: a}]\n---\n" HDR "  kprobes: [{call: b}\n";
		int r;

		capture_begin();
		r = policy_parse_string("t.yaml", yaml, strlen(yaml), s);
		log = capture_end();
		ASSERT_ERRNO(r, EINVAL);
		ASSERT_EQ(s->n_policies, 1);
		ASSERT_EQ(s->n_errors, 1);
		ASSERT_CONTAINS(log, "error: t.yaml:14:1: YAML syntax error: did not find expected "
				     "',' or ']' (while parsing a flow sequence)\n");
		policy_set_free(s);
	}
}

TEST(multi_document_isolation)
{
	struct policy_set *set = policy_set_new();
	char *log;

	capture_begin();
	ASSERT_OK(policy_parse_file(fixture("multi-doc.yaml"), set));
	log = capture_end();
	ASSERT_EQ(set->n_errors, 1);
	ASSERT_EQ(set->n_policies, 2);
	ASSERT_STREQ(set->policies[0]->name, "first");
	ASSERT_EQ(set->policies[0]->doc, 0);
	ASSERT_STREQ(set->policies[1]->name, "third");
	ASSERT_EQ(set->policies[1]->doc, 3); /* the empty third document still counts */
	ASSERT_EQ(set->policies[1]->line, 32);
	ASSERT_STREQ(set->policies[1]->hooks[0].selectors[0].match_args[0].values[1].s, "0x4206");
	ASSERT_CONTAINS(log, "multi-doc.yaml:29:19: spec.kprobes[0].selectors[0].matchArgs[0]."
			     "operator: unknown operator 'Prefx' (did you mean 'Prefix'?)\n");
	ASSERT_EQ(count_lines(log), 1);
	policy_set_free(set);
}

TEST(empty_documents)
{
	char *log;
	struct policy_set *s;

	s = parse("", &log);
	ASSERT_EQ(s->n_policies + s->n_errors, 0);
	policy_set_free(s);
	s = parse("# only a comment\n---\n---\n...\n", &log);
	ASSERT_EQ(s->n_policies + s->n_errors, 0);
	ASSERT_STREQ(log, "");
	policy_set_free(s);
}

TEST(duplicate_names)
{
	struct policy_set *s = policy_set_new();
	const char *a = HDR "  kprobes: [{call: a}]\n";
	const char *b = "# other\n" HDR "  kprobes: [{call: b}]\n";
	char *log;

	capture_begin();
	ASSERT_OK(policy_parse_string("a.yaml", a, strlen(a), s));
	ASSERT_OK(policy_parse_string("b.yaml", b, strlen(b), s));
	ASSERT_OK(policy_parse_string("a.yaml", a, strlen(a), s));
	log = capture_end();
	ASSERT_EQ(s->n_policies, 1);
	ASSERT_STREQ(s->policies[0]->file, "a.yaml");
	ASSERT_STREQ(s->policies[0]->hooks[0].call, "a");
	ASSERT_EQ(s->n_errors, 2);
	ASSERT_CONTAINS(log, "error: b.yaml:5:9: metadata.name: duplicate policy name 't', first "
			     "defined at a.yaml:1\n");
	ASSERT_CONTAINS(log, "error: a.yaml:4:9: metadata.name: duplicate policy name 't', first "
			     "defined at a.yaml:1\n");
	policy_set_free(s);
}

TEST(digest)
{
	const char *y1 = HDR "  kprobes: [{call: a}]\n";
	const char *y2 = HDR "  kprobes: [{call: b}]\n";
	const char *yu =
		"apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: u}\n"
		"spec: {kprobes: [{call: b}]}\n";
	char *log, d1[32], d2[32], both[1024];
	struct policy_set *s;

	s = parse(y1, &log);
	ASSERT_EQ(s->n_policies, 1);
	ASSERT_EQ(strlen(s->policies[0]->digest), 16);
	snprintf(d1, sizeof(d1), "%s", s->policies[0]->digest);
	for (const char *c = d1; *c; c++)
		ASSERT_TRUE((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));
	policy_set_free(s);
	s = parse(y1, &log);
	ASSERT_STREQ(s->policies[0]->digest, d1);
	policy_set_free(s);
	s = parse(y2, &log);
	ASSERT_TRUE(strcmp(s->policies[0]->digest, d1) != 0);
	policy_set_free(s);

	/* The digest covers the document's own text: the same document is the same digest
	 * whether it is alone in its file or follows another one. */
	snprintf(both, sizeof(both), "---\n%s", y1);
	s = parse(both, &log);
	snprintf(d2, sizeof(d2), "%s", s->policies[0]->digest);
	policy_set_free(s);
	snprintf(both, sizeof(both), "---\n%s---\n%s", yu, y1);
	s = parse(both, &log);
	ASSERT_EQ(s->n_policies, 2);
	ASSERT_STREQ(s->policies[1]->digest, d2);
	ASSERT_TRUE(strcmp(s->policies[0]->digest, d2) != 0);
	policy_set_free(s);
}

TEST(booleans)
{
	static const char *const t[] = {"true", "True", "yes", "on"};
	static const char *const f[] = {"false", "FALSE", "no", "off"};

	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		char yaml[512], *log;
		struct policy_set *s;

		snprintf(yaml, sizeof(yaml),
			 HDR "  kprobes: [{call: a, syscall: %s, return: %s}]\n", t[i], f[i]);
		s = parse(yaml, &log);
		ASSERT_EQ(s->n_policies, 1);
		ASSERT_TRUE(s->policies[0]->hooks[0].syscall);
		ASSERT_FALSE(s->policies[0]->hooks[0].want_return);
		policy_set_free(s);
	}
}

TEST(lsm_and_tracepoint_required_keys)
{
	{
		/* both problems of the document are reported, the document counts once */
		char *log;
		struct policy_set *s = parse(HDR "  lsmhooks: [{call: file_open}]\n", &log);

		ASSERT_EQ(s->n_policies, 0);
		ASSERT_EQ(s->n_errors, 1);
		ASSERT_CONTAINS(log,
				"error: t.yaml:6:15: spec.lsmhooks[0].call: unknown key 'call'\n");
		ASSERT_CONTAINS(log, "error: t.yaml:6:14: spec.lsmhooks[0]: required key 'hook' is "
				     "missing\n");
		ASSERT_EQ(count_lines(log), 2);
		policy_set_free(s);
	}
	ASSERT_ONE_ERROR(HDR "  tracepoints: [{subsystem: syscalls}]\n",
			 "t.yaml:6:17: spec.tracepoints[0]: required key 'event' is missing");
	ASSERT_ONE_ERROR(
		HDR "  tracepoints: [{subsystem: a, event: b, raw: true}]\n",
		"t.yaml:6:47: spec.tracepoints[0].raw: raw tracepoints ('raw: true') are not "
		"supported by vigil");
	ASSERT_ONE_ERROR(HDR "  kprobes: [{call: a, returnArg: {type: int}}]\n",
			 "t.yaml:6:34: spec.kprobes[0].returnArg: returnArg needs 'return: true'");
}

/* ---- policy.d directories ------------------------------------------------------------------ */

static char tmpdir[PATH_MAX];

static void write_file(const char *rel, const char *text)
{
	char p[PATH_MAX * 2];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	f = fopen(p, "we");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(p);
		exit(EXIT_FAILURE);
	}
}

static const char *policy_yaml(const char *name, const char *call)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
		 "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: %s}\n"
		 "spec: {kprobes: [{call: %s, syscall: true}]}\n",
		 name, call);
	return buf;
}

TEST(load_directories)
{
	char etc[PATH_MAX + 8], usr[PATH_MAX + 8], list[2 * PATH_MAX + 32], p[PATH_MAX * 2];
	struct policy_set *set = NULL;
	char *log;

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-policy-parse.XXXXXX", getenv("TMPDIR") ?: "/tmp");
	ASSERT_NOT_NULL(mkdtemp(tmpdir));
	snprintf(etc, sizeof(etc), "%s/etc", tmpdir);
	snprintf(usr, sizeof(usr), "%s/usr", tmpdir);
	ASSERT_OK(mkdir(etc, 0755));
	ASSERT_OK(mkdir(usr, 0755));

	/* vendor files */
	write_file("usr/10-files.yaml", policy_yaml("files", "sys_openat"));
	write_file("usr/20-net.yaml", policy_yaml("net-vendor", "sys_connect"));
	write_file("usr/30-masked.yaml", policy_yaml("masked", "sys_bpf"));
	write_file("usr/README", "not a policy");
	/* admin overrides 20-net.yaml, masks 30-masked.yaml, adds a .yml between them */
	write_file("etc/20-net.yaml", policy_yaml("net-admin", "sys_accept"));
	write_file("etc/25-priv.yml", policy_yaml("priv", "sys_setuid"));
	snprintf(p, sizeof(p), "%s/30-masked.yaml", etc);
	ASSERT_OK(symlink("/dev/null", p));
	/* a broken file does not stop the others */
	write_file("etc/40-broken.yaml", "apiVersion: [\n");
	write_file("etc/50-last.yaml", policy_yaml("last", "sys_ptrace"));

	snprintf(list, sizeof(list), "%s:%s", etc, usr);
	capture_begin();
	ASSERT_OK(policy_set_load(list, &set));
	log = capture_end();
	ASSERT_NOT_NULL(set);
	ASSERT_EQ(set->n_errors, 1);
	ASSERT_CONTAINS(log, "40-broken.yaml:2:1: YAML syntax error");
	ASSERT_EQ(set->n_policies, 4);
	ASSERT_STREQ(set->policies[0]->name, "files");
	ASSERT_STREQ(set->policies[1]->name, "net-admin");
	ASSERT_STREQ(set->policies[2]->name, "priv");
	ASSERT_STREQ(set->policies[3]->name, "last");
	snprintf(p, sizeof(p), "%s/25-priv.yml", etc);
	ASSERT_STREQ(set->policies[2]->file, p);
	ASSERT_STREQ(set->files[0], set->policies[0]->file);
	ASSERT_NOT_NULL(set->files[4]);
	ASSERT_NULL(set->files[5]);
	policy_set_free(set);

	/* no directory at all: an empty set */
	snprintf(list, sizeof(list), "%s/missing", tmpdir);
	ASSERT_OK(policy_set_load(list, &set));
	ASSERT_EQ(set->n_policies + set->n_errors, 0);
	policy_set_free(set);

	snprintf(p, sizeof(p), "rm -rf '%s'", tmpdir);
	ASSERT_EQ(system(p), 0);
}

TEST(shipped_fixtures_parse)
{
	struct policy_set *set = policy_set_new();
	char *log;

	capture_begin();
	ASSERT_OK(policy_parse_file(fixture("privilege.yml"), set));
	log = capture_end();
	ASSERT_STREQ(log, "");
	ASSERT_EQ(set->n_policies, 1);
	ASSERT_EQ(set->policies[0]->n_hooks, 3);
	ASSERT_EQ(set->policies[0]->hooks[1].n_args, 0);
	capture_begin();
	ASSERT_ERRNO(policy_parse_file(fixture("does-not-exist.yaml"), set), ENOENT);
	log = capture_end();
	ASSERT_CONTAINS(log, "does-not-exist.yaml: Failed to read policy file: No such file or "
			     "directory\n");
	ASSERT_EQ(set->n_errors, 1);
	ASSERT_EQ(set->n_policies, 1);
	policy_set_free(set);
}

int main(void)
{
	log_set_journal(false);
	return tap_run();
}
