/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fixtures shared by the record encoder tests: synthetic kernel events fed into a process
 * cache, and small readers for decoded msgpack records.
 */
#ifndef VIGIL_TEST_RECORD_FIXTURES_H
#define VIGIL_TEST_RECORD_FIXTURES_H

#include <msgpack.h>
#include <string.h>

#include "record.h"
#include "util/macro.h"
#include "tap.h"

#define TICK	    (clock_tick_ns())
#define BOOT_OFFSET 1700000000000000000LL /* 2023-11-14T22:13:20Z */

struct exec_buf {
	union {
		struct vigil_exec_event ev;
		uint64_t align[(sizeof(struct vigil_exec_event) + 1024) / 8];
	};
};

static _unused_ const struct proc_entry *feed_exec(struct proc_cache *c, uint32_t pid,
						   uint64_t start, uint32_t ppid, uint64_t pstart,
						   const char *binary, const char *args,
						   size_t args_len, uint32_t flags)
{
	struct exec_buf b = {};
	struct event_decoded d;
	size_t bl = strlen(binary);

	b.ev.hdr = (struct vigil_event_hdr){
		.tgid = pid, .pid = pid, .type = VIGIL_EV_EXEC, .version = VIGIL_EVENT_VERSION};
	b.ev.creds = (struct vigil_creds){1000, 0, 100, 0, 1000, 0};
	b.ev.start_boottime = start;
	b.ev.parent_start_boottime = pstart;
	b.ev.exe_ino = 4242;
	b.ev.ppid = ppid;
	b.ev.flags = flags;
	b.ev.binary_len = bl;
	b.ev.cwd_len = 4;
	b.ev.args_len = args_len;
	memcpy(b.ev.data, binary, bl);
	memcpy(b.ev.data + bl, "/srv", 4);
	memcpy(b.ev.data + bl + 4, args, args_len);
	b.ev.hdr.size = sizeof(b.ev) + bl + 4 + args_len;
	if (event_decode(&b, b.ev.hdr.size, &d) < 0)
		TAP_FAIL("decode");
	return proc_cache_on_exec(c, &d.exec);
}

static _unused_ const struct proc_entry *feed_exit(struct proc_cache *c, uint32_t pid,
						   uint64_t start, uint32_t code)
{
	struct vigil_exit_event e = {
		.hdr = {.tgid = pid,
			.pid = pid,
			.type = VIGIL_EV_EXIT,
			.version = VIGIL_EVENT_VERSION,
			.size = sizeof(e)},
		.start_boottime = start,
		.exit_code = code,
	};

	return proc_cache_on_exit(c, &e);
}

static _unused_ struct proc_cache *new_cache(void)
{
	struct proc_cache_options o = {
		.node_name = "web-1", .proc_root = "/nonexistent", .boot_id = "0badcafe"};
	struct proc_cache *c = NULL;

	if (proc_cache_new(&o, &c) < 0)
		TAP_FAIL("proc_cache_new");
	return c;
}

static _unused_ const msgpack_object *get(const msgpack_object *map, const char *key)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
		    memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
			return &kv->val;
	}
	return NULL;
}

static _unused_ bool str_is(const msgpack_object *o, const char *s)
{
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static _unused_ uint64_t uint_of(const msgpack_object *o)
{
	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		TAP_FAIL("not a uint");
	return o->via.u64;
}

#endif /* VIGIL_TEST_RECORD_FIXTURES_H */
