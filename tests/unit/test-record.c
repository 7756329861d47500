/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>

#include "record-fixtures.h"

#define CID "3f2a5c0e9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29"

static const char *key_at(const msgpack_object *map, uint32_t i, char *buf)
{
	const msgpack_object *k = &map->via.map.ptr[i].key;

	memcpy(buf, k->via.str.ptr, k->via.str.size);
	buf[k->via.str.size] = 0;
	return buf;
}

static void check_time(const msgpack_object *o, int64_t ns)
{
	msgpack_timestamp ts;

	if (!o || o->type != MSGPACK_OBJECT_EXT || o->via.ext.type != -1 || o->via.ext.size != 12)
		TAP_FAIL("not a 96-bit timestamp");
	if (!msgpack_object_to_timestamp(o, &ts))
		TAP_FAIL("bad timestamp");
	if (ts.tv_sec != ns / 1000000000LL || ts.tv_nsec != (uint32_t)(ns % 1000000000LL))
		TAP_FAIL("timestamp %lld.%09u != %lld", (long long)ts.tv_sec, ts.tv_nsec,
			 (long long)ns);
}

TEST(arguments_quoting)
{
	static const char a[] = "prog\0plain\0with space\0q\"uote\0back\\slash\0\0end";
	char buf[256];

	record_format_arguments(a, sizeof(a), buf, sizeof(buf));
	ASSERT_STREQ(buf, "plain \"with space\" \"q\\\"uote\" \"back\\\\slash\" \"\" end");
	record_format_arguments("only\0", 5, buf, sizeof(buf));
	ASSERT_STREQ(buf, "");
	/* truncated area without a final NUL */
	record_format_arguments("a\0b\0cu", 6, buf, sizeof(buf));
	ASSERT_STREQ(buf, "b cu");
}

TEST(flags_words)
{
	char buf[160];

	record_format_flags(PROC_F_EXECVE | PROC_F_TRUNC_ARGS | PROC_F_MISS, buf, sizeof(buf));
	ASSERT_STREQ(buf, "execve truncArgs miss");
	record_format_flags(PROC_F_PROCFS, buf, sizeof(buf));
	ASSERT_STREQ(buf, "procFS");
	record_format_flags(0, buf, sizeof(buf));
	ASSERT_STREQ(buf, "");
}

/* Decode the record back and check every field against the schema. */
TEST(exec_record_fields)
{
	struct proc_cache *c = new_cache();
	struct record_encoder *r = NULL;
	const struct proc_entry *parent, *p;
	static const char pargs[] = "bash";
	static const char args[] = "curl\0-H\0X: y\0https://example.org";
	const uint8_t *data;
	size_t size, off = 0;
	msgpack_unpacked u;
	const msgpack_object *root, *ev, *proc, *par, *o;
	char kb[64];
	static const char *const order[] = {
		"exec_id",
		"pid",
		"tid",
		"uid",
		"cwd",
		"binary",
		"arguments",
		"flags",
		"start_time",
		"auid",
		"parent_exec_id",
		"process_credentials",
		"argv",
		"argv_truncated",
	};

	parent = feed_exec(c, 10, 5 * TICK, 0, 0, "/usr/bin/bash", pargs, sizeof(pargs), 0);
	ASSERT_NOT_NULL(parent);
	p = feed_exec(c, 11, 7 * TICK + 3, 10, 5 * TICK, "/usr/bin/curl", args, sizeof(args),
		      VIGIL_EXEC_F_TRUNC_ARGS);
	ASSERT_NOT_NULL(p);

	ASSERT_OK(record_encoder_new("web-1", false, &r));
	record_encoder_set_boot_offset(r, BOOT_OFFSET);
	ASSERT_OK(
		record_encode_exec(r, BOOT_OFFSET + 9 * NSEC_PER_SEC + 5, 12, c, p, &data, &size));

	msgpack_unpacked_init(&u);
	ASSERT_EQ(msgpack_unpack_next(&u, (const char *)data, size, &off), MSGPACK_UNPACK_SUCCESS);
	ASSERT_EQ(off, size);
	root = &u.data;
	ASSERT_EQ(root->type, MSGPACK_OBJECT_MAP);
	ASSERT_EQ(root->via.map.size, 3);
	ASSERT_STREQ(key_at(root, 0, kb), "process_exec");
	ASSERT_STREQ(key_at(root, 1, kb), "node_name");
	ASSERT_STREQ(key_at(root, 2, kb), "time");
	ASSERT_TRUE(str_is(get(root, "node_name"), "web-1"));
	check_time(get(root, "time"), BOOT_OFFSET + 9 * NSEC_PER_SEC + 5);

	ev = get(root, "process_exec");
	ASSERT_NOT_NULL(ev);
	ASSERT_EQ(ev->via.map.size, 2);
	proc = get(ev, "process");
	par = get(ev, "parent");
	ASSERT_NOT_NULL(proc);
	ASSERT_NOT_NULL(par);
	ASSERT_NULL(get(ev, "ancestors"));

	ASSERT_EQ(proc->via.map.size, ELEMENTSOF(order)); /* no cgroup, container, unit */
	for (uint32_t i = 0; i < ELEMENTSOF(order); i++)
		ASSERT_STREQ(key_at(proc, i, kb), order[i]);
	ASSERT_TRUE(str_is(get(proc, "exec_id"), p->exec_id));
	ASSERT_EQ(uint_of(get(proc, "pid")), 11);
	ASSERT_EQ(uint_of(get(proc, "tid")), 12);
	ASSERT_EQ(uint_of(get(proc, "uid")), 0); /* the effective uid */
	ASSERT_TRUE(str_is(get(proc, "cwd"), "/srv"));
	ASSERT_TRUE(str_is(get(proc, "binary"), "/usr/bin/curl"));
	ASSERT_TRUE(str_is(get(proc, "arguments"), "-H \"X: y\" https://example.org"));
	ASSERT_TRUE(str_is(get(proc, "flags"), "execve truncArgs"));
	check_time(get(proc, "start_time"), BOOT_OFFSET + (int64_t)(7 * TICK + 3));
	ASSERT_EQ(uint_of(get(proc, "auid")), 1000);
	ASSERT_TRUE(str_is(get(proc, "parent_exec_id"), parent->exec_id));
	o = get(proc, "process_credentials");
	ASSERT_EQ(uint_of(get(o, "uid")), 1000);
	ASSERT_EQ(uint_of(get(o, "gid")), 100);
	ASSERT_EQ(uint_of(get(o, "euid")), 0);
	ASSERT_EQ(uint_of(get(o, "egid")), 0);
	o = get(proc, "argv");
	ASSERT_EQ(o->type, MSGPACK_OBJECT_ARRAY);
	ASSERT_EQ(o->via.array.size, 4);
	ASSERT_TRUE(str_is(&o->via.array.ptr[2], "X: y"));
	ASSERT_TRUE(str_is(&o->via.array.ptr[3], "https://example.org"));
	o = get(proc, "argv_truncated");
	ASSERT_TRUE(o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean);

	ASSERT_TRUE(str_is(get(par, "exec_id"), parent->exec_id));
	ASSERT_EQ(uint_of(get(par, "pid")), 10);
	ASSERT_EQ(uint_of(get(par, "tid")), 10);
	ASSERT_NULL(get(par, "arguments")); /* argv[0] only */
	ASSERT_NULL(get(par, "parent_exec_id"));

	msgpack_unpacked_destroy(&u);
	record_encoder_free(r);
	proc_cache_free(c);
}

TEST(container_unit_and_ancestors)
{
	char root[] = "/tmp/vigil-rec-XXXXXX", dir[512];
	struct cgroup_resolver *res = NULL;
	struct proc_cache_options o = {
		.node_name = "n", .proc_root = "/nonexistent", .boot_id = "0badcafe"};
	struct proc_cache *c = NULL;
	struct record_encoder *r = NULL;
	const struct proc_entry *p = NULL;
	const char *cg = "/system.slice/docker-" CID ".scope";
	uint64_t id;
	const uint8_t *data;
	size_t size, off = 0;
	msgpack_unpacked u;
	const msgpack_object *proc, *ev, *ctr, *anc;

	/* a directory tree stands in for cgroupfs (inode numbers as ids) */
	ASSERT_NOT_NULL(mkdtemp(root));
	snprintf(dir, sizeof(dir), "mkdir -p '%s%s'", root, cg);
	ASSERT_EQ(system(dir), 0);
	ASSERT_OK(cgroup_resolver_new_at(root, "/nonexistent", &res));
	ASSERT_OK(cgroup_resolver_path_to_id(res, cg, &id));
	o.resolver = res;
	ASSERT_OK(proc_cache_new(&o, &c));

	/* a chain 1 <- 2 <- 3 <- 4 */
	for (uint32_t pid = 1; pid <= 4; pid++) {
		struct exec_buf b = {};
		struct event_decoded d;

		b.ev.hdr = (struct vigil_event_hdr){.tgid = pid,
						    .pid = pid,
						    .cgroup_id = id,
						    .type = VIGIL_EV_EXEC,
						    .version = VIGIL_EVENT_VERSION};
		b.ev.creds.auid = UINT32_MAX;
		b.ev.start_boottime = pid * TICK;
		b.ev.parent_start_boottime = (pid - 1) * TICK;
		b.ev.ppid = pid - 1;
		b.ev.binary_len = 5;
		memcpy(b.ev.data, "/init", 5);
		b.ev.hdr.size = sizeof(b.ev) + 5;
		ASSERT_OK(event_decode(&b, b.ev.hdr.size, &d));
		p = proc_cache_on_exec(c, &d.exec);
		ASSERT_NOT_NULL(p);
	}

	ASSERT_OK(record_encoder_new("n", true, &r));
	ASSERT_OK(record_encode_exec(r, 1, 4, c, p, &data, &size));
	msgpack_unpacked_init(&u);
	ASSERT_EQ(msgpack_unpack_next(&u, (const char *)data, size, &off), MSGPACK_UNPACK_SUCCESS);
	ev = get(&u.data, "process_exec");
	proc = get(ev, "process");
	ASSERT_TRUE(str_is(get(proc, "docker"), "3f2a5c0e9d8b7a6f5e4d3c2b1a0f9e8"));
	ASSERT_TRUE(str_is(get(proc, "unit"), "docker-" CID ".scope"));
	ASSERT_TRUE(str_is(get(proc, "slice"), "system.slice"));
	ASSERT_TRUE(str_is(get(proc, "cgroup"), cg));
	ASSERT_EQ(uint_of(get(proc, "cgroup_id")), id);
	ASSERT_EQ(uint_of(get(proc, "auid")), 4294967295u);
	ASSERT_NULL(get(proc, "cwd"));
	ASSERT_EQ(get(proc, "argv")->via.array.size, 0);
	ctr = get(proc, "container");
	ASSERT_TRUE(str_is(get(ctr, "id"), CID));
	ASSERT_TRUE(str_is(get(ctr, "runtime"), "docker"));
	ASSERT_NULL(get(ctr, "pod_uid"));
	ASSERT_EQ(uint_of(get(get(ev, "parent"), "pid")), 3);
	anc = get(ev, "ancestors");
	ASSERT_NOT_NULL(anc);
	ASSERT_EQ(anc->via.array.size, 2); /* beyond the parent: 2, then 1 */
	ASSERT_EQ(uint_of(get(&anc->via.array.ptr[0], "pid")), 2);
	ASSERT_EQ(uint_of(get(&anc->via.array.ptr[1], "pid")), 1);
	msgpack_unpacked_destroy(&u);

	record_encoder_free(r);
	proc_cache_free(c);
	cgroup_resolver_free(res);
	snprintf(dir, sizeof(dir), "rm -rf '%s'", root);
	ASSERT_EQ(system(dir), 0);
}

static void exit_status(uint32_t code, uint64_t want_status, const char *want_signal)
{
	struct proc_cache *c = new_cache();
	struct record_encoder *r = NULL;
	const struct proc_entry *p;
	const uint8_t *data;
	size_t size, off = 0;
	msgpack_unpacked u;
	const msgpack_object *ev;
	char kb[32];

	p = feed_exec(c, 20, 3 * TICK, 0, 0, "/bin/x", "x", 2, 0);
	if (record_encoder_new("n", false, &r) < 0 ||
	    record_encode_exit(r, 1, 20, c, p, code, &data, &size) < 0)
		TAP_FAIL("encode exit");
	msgpack_unpacked_init(&u);
	ASSERT_EQ(msgpack_unpack_next(&u, (const char *)data, size, &off), MSGPACK_UNPACK_SUCCESS);
	ASSERT_STREQ(key_at(&u.data, 0, kb), "process_exit");
	ev = get(&u.data, "process_exit");
	ASSERT_EQ(uint_of(get(ev, "status")), want_status);
	ASSERT_TRUE(str_is(get(ev, "signal"), want_signal));
	ASSERT_EQ(uint_of(get(ev, "code")), code);
	msgpack_unpacked_destroy(&u);
	record_encoder_free(r);
	proc_cache_free(c);
}

TEST(exit_status_and_signal_always_present)
{
	exit_status(0, 0, "");
	exit_status(3 << 8, 3, "");
	exit_status(9, 0, "SIGKILL");
	exit_status(11 | 0x80, 0, "SIGSEGV"); /* core dumped */
}

/* Golden bytes: the loss record against one built by hand with msgpack-c. */
TEST(loss_golden_bytes)
{
	struct record_encoder *r = NULL;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const uint8_t *data;
	size_t size;
	/* 2023-11-14T22:13:20.000000123Z: u32 nsec = 123, s64 sec = 1700000000 */
	static const char ts[12] = {0, 0, 0, 123, 0, 0, 0, 0, 0x65, 0x53, (char)0xf1, 0};

	ASSERT_OK(record_encoder_new("web-1", false, &r));
	ASSERT_OK(record_encode_loss(r, 1700000000000000123ULL, "queue", "kafka-main", 5, 42, &data,
				     &size));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "vigil_loss", 10);
	msgpack_pack_map(&pk, 5);
	msgpack_pack_str_with_body(&pk, "stage", 5);
	msgpack_pack_str_with_body(&pk, "queue", 5);
	msgpack_pack_str_with_body(&pk, "count", 5);
	msgpack_pack_uint64(&pk, 5);
	msgpack_pack_str_with_body(&pk, "total", 5);
	msgpack_pack_uint64(&pk, 42);
	msgpack_pack_str_with_body(&pk, "reason", 6);
	msgpack_pack_str_with_body(&pk, "output queue full", 17);
	msgpack_pack_str_with_body(&pk, "output", 6);
	msgpack_pack_str_with_body(&pk, "kafka-main", 10);
	msgpack_pack_str_with_body(&pk, "node_name", 9);
	msgpack_pack_str_with_body(&pk, "web-1", 5);
	msgpack_pack_str_with_body(&pk, "time", 4);
	msgpack_pack_ext_with_body(&pk, ts, 12, -1);
	ASSERT_EQ(size, sb.size);
	ASSERT_MEMEQ(data, sb.data, size);
	/* the timestamp is the 96-bit form: ext8 0xc7, len 12, type 0xff */
	ASSERT_EQ(data[size - 15], 0xc7);
	ASSERT_EQ(data[size - 14], 12);
	ASSERT_EQ(data[size - 13], 0xff);
	msgpack_sbuffer_destroy(&sb);
	record_encoder_free(r);
}

int main(void)
{
	return tap_run();
}
