/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy events (VIGIL_EV_POLICY): the bounds-checked decode, and the process_kprobe /
 * process_tracepoint records rendered to JSON by the plugins' renderer (golden text) and to the
 * compact line.
 */
#include <arpa/inet.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <vigil/plugin.h>

#include "plugins/common/json.h"
#include "plugins/common/record_view.h"
#include "policy_compile.h"
#include "policy-record-fixtures.h"

/* ---- decode ---- */

TEST(decode_every_kind)
{
	struct vigil_pol_sockaddr sa = inet_sa(AF_INET, "10.0.0.1", 443);
	struct vigil_pol_sock sk = {.family = AF_INET};
	struct event_decoded d;
	int64_t ret = -13;

	ev_init(0, VIGIL_POLEV_F_RETURN);
	arg_int(5);
	arg_add(VIGIL_ARG_FILENAME, VIGIL_PARG_F_TRUNC, "/etc/shadow", 12);
	arg_add(VIGIL_ARG_SOCKADDR, 0, &sa, sizeof(sa));
	arg_add(VIGIL_ARG_SOCK, 0, &sk, sizeof(sk));
	arg_add(VIGIL_ARG_NONE, 0, "", 0);
	desc_add(&pb.ev.ret_arg, VIGIL_ARG_INT, 0, &ret, sizeof(ret));
	ASSERT_OK(event_decode(&pb, pb.ev.hdr.size, &d));
	ASSERT_EQ(d.type, VIGIL_EV_POLICY);
	ASSERT_TRUE(d.policy.ev == &pb.ev);
	ASSERT_EQ(d.policy.args[0].type, VIGIL_ARG_INT);
	ASSERT_EQ(d.policy.args[0].len, 8);
	ASSERT_EQ(d.policy.args[1].flags, VIGIL_PARG_F_TRUNC);
	ASSERT_MEMEQ(d.policy.args[1].data, "/etc/shadow", 12);
	ASSERT_EQ(d.policy.args[2].len, sizeof(sa));
	ASSERT_EQ(d.policy.args[3].type, VIGIL_ARG_SOCK);
	ASSERT_EQ(d.policy.args[4].type, VIGIL_ARG_NONE);
	ASSERT_EQ(d.policy.ret_arg.type, VIGIL_ARG_INT);
	ASSERT_MEMEQ(d.policy.ret_arg.data, &ret, 8);
	/* a larger sample than hdr.size is fine (ring buffer rounding) */
	ASSERT_OK(event_decode(&pb, pb.ev.hdr.size + 8, &d));
	/* without F_RETURN the return descriptor is not looked at, even when garbage */
	pb.ev.flags = 0;
	pb.ev.ret_arg.type = 0xee;
	ASSERT_OK(event_decode(&pb, pb.ev.hdr.size, &d));
	ASSERT_EQ(d.policy.ret_arg.type, VIGIL_ARG_NONE);
}

/* Each check on its own: every rejection fails with -EBADMSG, the event before it decodes. */
TEST(decode_rejections)
{
	struct vigil_pol_sockaddr sa = inet_sa(AF_INET, "10.0.0.1", 443);
	struct vigil_pol_sock sk = {};
	struct event_decoded d;
	size_t size;

#define BASE()                                                                                     \
	do {                                                                                       \
		ev_init(0, 0);                                                                     \
		arg_int(1);                                                                        \
		arg_add(VIGIL_ARG_STRING, 0, "abc", 4);                                            \
		ASSERT_OK(event_decode(&pb, pb.ev.hdr.size, &d));                                  \
		size = pb.ev.hdr.size;                                                             \
	} while (0)

	/* shorter than the fixed part */
	BASE();
	pb.ev.hdr.size = sizeof(pb.ev) - 8;
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	/* sample shorter than hdr.size */
	BASE();
	ASSERT_ERRNO(event_decode(&pb, size - 1, &d), EBADMSG);
	/* data_len beyond the sample */
	BASE();
	pb.ev.data_len++;
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	BASE();
	pb.ev.data_len = UINT32_MAX;
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	/* too many arguments */
	BASE();
	pb.ev.n_args = VIGIL_POL_MAX_ARGS + 1;
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	/* an argument past data_len: by offset, by length */
	BASE();
	pb.ev.args[1].off = (uint16_t)(pb.ev.data_len - 3);
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	BASE();
	pb.ev.args[1].len = (uint16_t)(pb.ev.data_len - 8 + 1);
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	BASE();
	pb.ev.args[1].off = 0xffff;
	pb.ev.args[1].len = 0xffff;
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	/* unknown type */
	BASE();
	pb.ev.args[1].type = _VIGIL_ARG_TYPE_MAX;
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	/* INT not 8 bytes */
	BASE();
	pb.ev.args[0].len = 4;
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	/* NONE with bytes */
	BASE();
	pb.ev.args[1].type = VIGIL_ARG_NONE;
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	/* SOCKADDR shorter than its struct */
	ev_init(0, 0);
	arg_add(VIGIL_ARG_SOCKADDR, 0, &sa, sizeof(sa));
	ASSERT_OK(event_decode(&pb, pb.ev.hdr.size, &d));
	pb.ev.args[0].len = sizeof(sa) - 1;
	ASSERT_ERRNO(event_decode(&pb, pb.ev.hdr.size, &d), EBADMSG);
	/* SOCK of another size */
	ev_init(0, 0);
	arg_add(VIGIL_ARG_SOCK, 0, &sk, sizeof(sk));
	ASSERT_OK(event_decode(&pb, pb.ev.hdr.size, &d));
	pb.ev.args[0].len = sizeof(sk) - 8;
	ASSERT_ERRNO(event_decode(&pb, pb.ev.hdr.size, &d), EBADMSG);
	/* a bad return descriptor with F_RETURN */
	BASE();
	pb.ev.flags = VIGIL_POLEV_F_RETURN;
	pb.ev.ret_arg = (struct vigil_pol_arg_desc){.type = VIGIL_ARG_INT, .len = 8, .off = 5};
	ASSERT_ERRNO(event_decode(&pb, size, &d), EBADMSG);
	pb.ev.ret_arg = (struct vigil_pol_arg_desc){.type = VIGIL_ARG_INT, .len = 8, .off = 0};
	ASSERT_OK(event_decode(&pb, size, &d));
#undef BASE
}

/* ---- records ---- */

/* The record rendered by the plugins' JSON renderer, and the part after process and parent. */
struct rendered {
	struct vbuf json, line;
	const char *tail;
};

static void render(struct rendered *out, const uint8_t *data, size_t size, const char *after)
{
	out->json.len = out->line.len = 0;
	if (json_render(data, size, &out->json) < 0 || vbuf_putc(&out->json, 0) < 0)
		TAP_FAIL("json_render");
	if (compact_render(data, size, &out->line) < 0 || vbuf_putc(&out->line, 0) < 0)
		TAP_FAIL("compact_render");
	out->tail = strstr(out->json.data, after);
	if (!out->tail)
		TAP_FAIL("no %s in %s", after, out->json.data);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

struct fixture {
	struct proc_cache *c;
	struct record_encoder *r;
	const struct proc_entry *p;
	struct compiled_hook h;
	struct rendered out;
};

static void fixture_init(struct fixture *f, enum policy_hook_kind kind)
{
	static const char pargs[] = "bash";
	static const char args[] = "cat\0/etc/shadow";

	memset(f, 0, sizeof(*f));
	f->c = new_cache();
	if (!feed_exec(f->c, 10, 5 * TICK, 0, 0, "/usr/bin/bash", pargs, sizeof(pargs), 0))
		TAP_FAIL("feed parent");
	f->p = feed_exec(f->c, 11, 7 * TICK, 10, 5 * TICK, "/usr/bin/cat", args, sizeof(args), 0);
	if (!f->p || record_encoder_new("web-1", false, &f->r) < 0)
		TAP_FAIL("fixture");
	record_encoder_set_boot_offset(f->r, BOOT_OFFSET);
	f->h.kind = kind;
}

static void fixture_done(struct fixture *f)
{
	vbuf_done(&f->out.json);
	vbuf_done(&f->out.line);
	record_encoder_free(f->r);
	proc_cache_free(f->c);
}

static void encode(struct fixture *f, const char *policy, const char *after)
{
	const uint8_t *data;
	size_t size, off = 0;
	msgpack_unpacked u;

	if (record_encode_policy(f->r, BOOT_OFFSET + 9 * NSEC_PER_SEC + 5, 12, f->c, f->p, &f->h,
				 policy, decode(), &data, &size) < 0)
		TAP_FAIL("record_encode_policy");
	/* one well-formed msgpack value (map sizes right), whatever the renderer accepts */
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)data, size, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != size)
		TAP_FAIL("record is not one msgpack value");
	msgpack_unpacked_destroy(&u);
	render(&f->out, data, size, after);
}

#define TIME_JSON "\"node_name\":\"web-1\",\"time\":\"2023-11-14T22:13:29.000000005Z\"}"

TEST(kprobe_every_arg_kind_golden)
{
	struct fixture f;
	struct vigil_pol_sockaddr sa = inet_sa(AF_INET, "10.0.0.1", 443);
	struct vigil_pol_sock sk = {.family = AF_INET6,
				    .type = SOCK_STREAM,
				    .protocol = IPPROTO_TCP,
				    .state = 2,
				    .sport = 40000,
				    .dport = 8443,
				    .cookie = 77};
	static char *tags[] = {"file", "sensitive", NULL};
	int64_t ret = -13;

	fixture_init(&f, POLICY_HOOK_KPROBE);
	inet_pton(AF_INET6, "fd00::2", sk.saddr);
	inet_pton(AF_INET6, "fd00::1", sk.daddr);
	f.h.function_name = "__x64_sys_openat";
	f.h.message = "sensitive file opened";
	f.h.tags = tags;
	meta_int(&f.h.args[0], "int", true, 4, "dirfd");
	meta_of(&f.h.args[1], POLICY_ARG_FILENAME, "filename");
	meta_int(&f.h.args[2], "uint32", false, 4, "flags");
	meta_of(&f.h.args[3], POLICY_ARG_FD, "fd");
	meta_of(&f.h.args[4], POLICY_ARG_CHAR_BUF, "char_buf");
	meta_of(&f.h.args[5], POLICY_ARG_SOCKADDR, "sockaddr");
	meta_of(&f.h.args[6], POLICY_ARG_SOCK, "sock");
	meta_int(&f.h.args[7], "int64", true, 8, NULL);
	f.h.has_return_arg = true;
	meta_int(&f.h.return_arg, "int", true, 4, NULL);

	ev_init(1 << VIGIL_ACT_POST | 1 << VIGIL_ACT_SIGKILL, VIGIL_POLEV_F_RETURN);
	pb.ev.signal = SIGKILL;
	pb.ev.ret = ret;
	arg_int((uint64_t)-100);
	arg_add(VIGIL_ARG_FILENAME, VIGIL_PARG_F_TRUNC, "/etc/shadow\0", 12);
	arg_int(0x80000 | 0xffffffff00000000ULL); /* truncated to 32 bits */
	arg_add(VIGIL_ARG_FD, VIGIL_PARG_F_DELETED, "/var/log/x", 10);
	arg_add(VIGIL_ARG_CHAR_BUF, 0, "hi\0\xff", 4);
	arg_add(VIGIL_ARG_SOCKADDR, 0, &sa, sizeof(sa));
	arg_add(VIGIL_ARG_SOCK, 0, &sk, sizeof(sk));
	arg_int((uint64_t)-5000000000LL);
	encode(&f, "sensitive-files", "\"function_name\"");

	ASSERT_TRUE(
		starts_with(f.out.json.data, "{\"process_kprobe\":{\"process\":{\"exec_id\":\""));
	ASSERT_CONTAINS(f.out.json.data, "\"parent\":{\"exec_id\":\"");
	ASSERT_STREQ(
		f.out.tail,
		"\"function_name\":\"__x64_sys_openat\",\"args\":["
		"{\"int_arg\":-100,\"label\":\"dirfd\"},"
		"{\"string_arg\":\"/etc/shadow\",\"truncated\":true},"
		"{\"uint_arg\":524288,\"label\":\"flags\"},"
		"{\"file_arg\":{\"path\":\"/var/log/x\"},\"deleted\":true},"
		"{\"bytes_arg\":\"aGkA/w==\"},"
		"{\"sockaddr_arg\":{\"family\":\"AF_INET\",\"addr\":\"10.0.0.1\",\"port\":443}},"
		"{\"sock_arg\":{\"family\":\"AF_INET6\",\"type\":\"SOCK_STREAM\",\"protocol\":"
		"\"IPPROTO_TCP\",\"saddr\":\"fd00::2\",\"daddr\":\"fd00::1\",\"sport\":40000,"
		"\"dport\":8443,\"cookie\":77,\"state\":\"TCP_SYN_SENT\"}},"
		"{\"long_arg\":-5000000000}],"
		"\"return\":{\"int_arg\":-13},"
		"\"action\":\"KPROBE_ACTION_SIGKILL\",\"policy_name\":\"sensitive-files\","
		"\"message\":\"sensitive file opened\",\"tags\":[\"file\",\"sensitive\"],"
		"\"actions\":[\"KPROBE_ACTION_POST\",\"KPROBE_ACTION_SIGKILL\"],"
		"\"signal\":\"SIGKILL\"}," TIME_JSON);
	/* the first path-like argument and the labelled integers, the return and the action */
	ASSERT_STREQ(f.out.line.data, "probe pid=11 - /usr/bin/cat open /etc/shadow dirfd=-100 "
				      "flags=524288 \u2192 -EACCES [SIGKILL]");
	fixture_done(&f);
}

TEST(kprobe_more_kinds_golden)
{
	struct fixture f;
	struct vigil_pol_sockaddr sa6 = inet_sa(AF_INET6, "2001:db8::1", 53);
	struct {
		struct vigil_pol_sockaddr sa;
		char path[16];
	} un = {.sa.family = AF_UNIX, .path = "/run/x.sock"}, abs = {.sa.family = AF_UNIX};
	uint64_t ret = 3;

	fixture_init(&f, POLICY_HOOK_KPROBE);
	memcpy(abs.path, "\0vigil", 6);
	f.h.function_name = "__x64_sys_connect";
	meta_of(&f.h.args[0], POLICY_ARG_STRING, "string");
	meta_int(&f.h.args[1], "uint64", false, 8, NULL);
	meta_of(&f.h.args[3], POLICY_ARG_SOCKADDR, "sockaddr");
	meta_of(&f.h.args[4], POLICY_ARG_SOCKADDR, "sockaddr");
	meta_of(&f.h.args[5], POLICY_ARG_SOCKADDR, "sockaddr");
	meta_int(&f.h.args[6], "int8", true, 1, NULL);
	meta_of(&f.h.return_arg, POLICY_ARG_FD, "fd");
	f.h.has_return_arg = true;

	ev_init(1 << VIGIL_ACT_OVERRIDE, VIGIL_POLEV_F_RETURN);
	pb.ev.ret = 3;
	arg_add(VIGIL_ARG_STRING, VIGIL_PARG_F_ERROR, "", 0);
	arg_int(UINT64_MAX);
	arg_add(VIGIL_ARG_NONE, 0, "", 0); /* not captured: left out */
	arg_add(VIGIL_ARG_SOCKADDR, 0, &sa6, sizeof(sa6));
	arg_add(VIGIL_ARG_SOCKADDR, 0, &un, sizeof(un.sa) + 12);
	arg_add(VIGIL_ARG_SOCKADDR, 0, &abs, sizeof(abs.sa) + 6);
	arg_int(0xff); /* int8 -1 */
	desc_add(&pb.ev.ret_arg, VIGIL_ARG_FD, VIGIL_PARG_F_DETACHED, "pipe:[42]", 9);
	(void)ret;
	encode(&f, "egress", "\"function_name\"");
	ASSERT_STREQ(
		f.out.tail,
		"\"function_name\":\"__x64_sys_connect\",\"args\":["
		"{\"string_arg\":\"\",\"error\":true},"
		"{\"size_arg\":18446744073709551615},"
		"{\"sockaddr_arg\":{\"family\":\"AF_INET6\",\"addr\":\"2001:db8::1\",\"port\":53}},"
		"{\"sockaddr_arg\":{\"family\":\"AF_UNIX\",\"addr\":\"/run/x.sock\",\"port\":0}},"
		"{\"sockaddr_arg\":{\"family\":\"AF_UNIX\",\"addr\":\"@vigil\",\"port\":0}},"
		"{\"int_arg\":-1}],"
		"\"return\":{\"file_arg\":{\"path\":\"pipe:[42]\"},\"detached\":true},"
		"\"action\":\"KPROBE_ACTION_OVERRIDE\",\"policy_name\":\"egress\","
		"\"actions\":[\"KPROBE_ACTION_OVERRIDE\"]}," TIME_JSON);
	ASSERT_STREQ(
		f.out.line.data,
		"probe pid=11 - /usr/bin/cat connect [2001:db8::1]:53 \u2192 pipe:[42] [OVERRIDE]");
	fixture_done(&f);
}

TEST(kprobe_return_without_typed_arg_and_signal)
{
	struct fixture f;
	struct vigil_pol_sockaddr sa = inet_sa(AF_INET, "10.0.0.1", 443);
	struct vigil_pol_sock sk = {
		.family = AF_INET, .type = SOCK_STREAM, .protocol = 6, .dport = 443};

	fixture_init(&f, POLICY_HOOK_KPROBE);
	inet_pton(AF_INET, "10.0.0.1", sk.daddr);
	f.h.function_name = "__x64_sys_connect";
	meta_of(&f.h.args[0], POLICY_ARG_SOCK, "sock");
	meta_of(&f.h.args[1], POLICY_ARG_SOCKADDR, "sockaddr");
	meta_int(&f.h.args[2], "int", true, 4, NULL);

	/* Signal that could not be delivered; return value without returnArg: long_arg */
	ev_init(1 << VIGIL_ACT_SIGNAL, VIGIL_POLEV_F_RETURN);
	pb.ev.signal = SIGUSR1;
	pb.ev.action_err = -3;
	pb.ev.ret = -111;
	arg_add(VIGIL_ARG_SOCK, 0, &sk, sizeof(sk));
	arg_add(VIGIL_ARG_SOCKADDR, 0, &sa, sizeof(sa));
	arg_int(16);
	encode(&f, "net", "\"return\"");
	ASSERT_STREQ(f.out.tail,
		     "\"return\":{\"long_arg\":-111},\"action\":\"KPROBE_ACTION_SIGNAL\","
		     "\"policy_name\":\"net\",\"actions\":[\"KPROBE_ACTION_SIGNAL\"],"
		     "\"signal\":\"SIGUSR1\",\"action_error\":-3}," TIME_JSON);
	/* the sock (protocol and peer) is the object; unlabelled ints are then left out */
	ASSERT_STREQ(f.out.line.data, "probe pid=11 - /usr/bin/cat connect tcp 10.0.0.1:443 "
				      "\u2192 -ECONNREFUSED [SIGNAL SIGUSR1]");

	/* only ints: all shown; setuid, no return, Post by default */
	f.h.function_name = "__x64_sys_setuid";
	meta_int(&f.h.args[0], "int", true, 4, NULL);
	ev_init(0, 0);
	arg_int(0);
	encode(&f, "priv", "\"function_name\"");
	ASSERT_STREQ(f.out.tail,
		     "\"function_name\":\"__x64_sys_setuid\",\"args\":[{\"int_arg\":0}],"
		     "\"action\":\"KPROBE_ACTION_POST\",\"policy_name\":\"priv\","
		     "\"actions\":[\"KPROBE_ACTION_POST\"]}," TIME_JSON);
	ASSERT_STREQ(f.out.line.data, "probe pid=11 - /usr/bin/cat setuid 0");

	/* accept4 -> accept; sys_ prefix */
	f.h.function_name = "sys_accept4";
	ev_init(0, 0);
	arg_int(3);
	encode(&f, "priv", "\"function_name\"");
	ASSERT_STREQ(f.out.line.data, "probe pid=11 - /usr/bin/cat accept 3");
	fixture_done(&f);
}

TEST(tracepoint_golden)
{
	struct fixture f;
	static char *tags[] = {"sched", NULL};

	fixture_init(&f, POLICY_HOOK_TRACEPOINT);
	f.h.subsys = "sched";
	f.h.event = "sched_process_fork";
	f.h.tags = tags;
	meta_of(&f.h.args[0], POLICY_ARG_STRING, "string");
	meta_int(&f.h.args[1], "int", true, 4, NULL);
	meta_of(&f.h.args[2], POLICY_ARG_STRING, "string");

	/* F_RETURN is ignored for tracepoints: process_tracepoint has no "return" */
	ev_init(1 << VIGIL_ACT_POST, VIGIL_POLEV_F_RETURN);
	arg_add(VIGIL_ARG_INLINE_STR, 0, "bash\0\0\0\0", 8);
	arg_int(4242);
	arg_add(VIGIL_ARG_DATALOC, VIGIL_PARG_F_TRUNC, "a very long na", 14);
	encode(&f, "forks", "\"subsys\"");
	ASSERT_TRUE(starts_with(f.out.json.data, "{\"process_tracepoint\":{\"process\":{"));
	ASSERT_STREQ(f.out.tail,
		     "\"subsys\":\"sched\",\"event\":\"sched_process_fork\",\"args\":["
		     "{\"string_arg\":\"bash\"},{\"int_arg\":4242},"
		     "{\"string_arg\":\"a very long na\",\"truncated\":true}],"
		     "\"action\":\"KPROBE_ACTION_POST\",\"policy_name\":\"forks\","
		     "\"tags\":[\"sched\"],\"actions\":[\"KPROBE_ACTION_POST\"]}," TIME_JSON);
	ASSERT_STREQ(f.out.line.data,
		     "probe pid=11 - /usr/bin/cat sched/sched_process_fork bash 4242 "
		     "\"a very long na\"");
	fixture_done(&f);
}

/* Hostile bytes in arguments never reach the line raw; truncated records fail cleanly. */
TEST(hostile_and_truncated)
{
	struct fixture f;
	const uint8_t *data;
	size_t size;
	struct vbuf out = {};

	fixture_init(&f, POLICY_HOOK_KPROBE);
	f.h.function_name = "__x64_sys_openat";
	meta_of(&f.h.args[0], POLICY_ARG_FILENAME, "filename");
	ev_init(1 << VIGIL_ACT_SIGKILL, 0);
	arg_add(VIGIL_ARG_FILENAME, 0, "/tmp/\x1b[31mred\nx", 15);
	encode(&f, "p", "\"function_name\"");
	ASSERT_STREQ(f.out.line.data, "probe pid=11 - /usr/bin/cat open \"/tmp/\\x1b[31mred\\nx\" "
				      "[SIGKILL]");
	ASSERT_OK(record_encode_policy(f.r, 1, 12, f.c, f.p, &f.h, "p", decode(), &data, &size));
	for (size_t n = 0; n < size; n++) {
		int r;

		out.len = 0;
		r = compact_render(data, n, &out);
		if (r < 0)
			ASSERT_EQ(r, -EBADMSG);
		out.len = 0;
		ASSERT_ERRNO(json_render(data, n, &out), EBADMSG);
	}
	vbuf_done(&out);
	fixture_done(&f);
}

TEST(record_types_for_filters)
{
	ASSERT_EQ(rv_event_type("process_kprobe", 14), VIGIL_RECORD_PROCESS_KPROBE);
	ASSERT_EQ(rv_event_type("process_tracepoint", 18), VIGIL_RECORD_PROCESS_TRACEPOINT);
	ASSERT_EQ(VIGIL_RECORD_PROCESS_KPROBE, RECORD_PROCESS_KPROBE);
	ASSERT_EQ(VIGIL_RECORD_PROCESS_TRACEPOINT, RECORD_PROCESS_TRACEPOINT);
}

TEST(encode_refuses_bad_input)
{
	struct fixture f;
	const uint8_t *data;
	size_t size;
	struct event_policy e = {};

	fixture_init(&f, POLICY_HOOK_KPROBE);
	ASSERT_ERRNO(record_encode_policy(f.r, 1, 1, f.c, f.p, &f.h, "x", &e, &data, &size),
		     EINVAL);
	ev_init(0, 0);
	ASSERT_ERRNO(record_encode_policy(f.r, 1, 1, f.c, f.p, NULL, "x", decode(), &data, &size),
		     EINVAL);
	ASSERT_ERRNO(record_encode_policy(f.r, 1, 1, f.c, f.p, &f.h, NULL, decode(), &data, &size),
		     EINVAL);
	fixture_done(&f);
}

int main(void)
{
	return tap_run();
}
