/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "testrec.h"

static const char *const curl_argv[] = {"curl", "-s", "https://example.org", NULL};
static const char *const bash_argv[] = {"/bin/bash", NULL};

const struct testproc testrec_curl = {
	.exec_id = "d2ViLTE6OGIzZjE3ZDA6MTIzNDU2OjEyMzQ6NjU1NDM",
	.pid = 1234,
	.tid = 1234,
	.uid = 33,
	.auid = 4294967295u,
	.cwd = "/var/www",
	.binary = "/usr/bin/curl",
	.arguments = "-s https://example.org",
	.flags = "execve",
	.parent_exec_id = "d2ViLTE6OGIzZjE3ZDA6MTIwMDAwOjEyMDA6MTMxMDc",
	.argv = curl_argv,
	.unit = "nginx.service",
	.cgroup = "/system.slice/nginx.service",
};

const struct testproc testrec_bash = {
	.exec_id = "d2ViLTE6OGIzZjE3ZDA6MTIwMDAwOjEyMDA6MTMxMDc",
	.pid = 1200,
	.tid = 1200,
	.uid = 0,
	.auid = 1000,
	.cwd = "/root",
	.binary = "/bin/bash",
	.arguments = "",
	.flags = "procFS",
	.argv = bash_argv,
	.unit = "session-3.scope",
	.cgroup = "/user.slice/user-1000.slice/session-3.scope",
};

void testrec_pack_strn(msgpack_packer *pk, const void *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void testrec_pack_str(msgpack_packer *pk, const char *s)
{
	testrec_pack_strn(pk, s, strlen(s));
}

void testrec_pack_time(msgpack_packer *pk, int form, int64_t sec, uint32_t nsec)
{
	unsigned char b[12];

	if (form == 4) {
		uint32_t v = (uint32_t)sec;
		for (int i = 0; i < 4; i++)
			b[i] = (unsigned char)(v >> (24 - 8 * i));
	} else if (form == 8) {
		uint64_t v = (uint64_t)nsec << 34 | ((uint64_t)sec & 0x3ffffffffULL);
		for (int i = 0; i < 8; i++)
			b[i] = (unsigned char)(v >> (56 - 8 * i));
	} else {
		for (int i = 0; i < 4; i++)
			b[i] = (unsigned char)(nsec >> (24 - 8 * i));
		for (int i = 0; i < 8; i++)
			b[4 + i] = (unsigned char)((uint64_t)sec >> (56 - 8 * i));
	}
	msgpack_pack_ext(pk, (size_t)form, -1);
	msgpack_pack_ext_body(pk, b, (size_t)form);
}

#define KV_STR(k, v)                                                                               \
	do {                                                                                       \
		testrec_pack_str(pk, k);                                                           \
		testrec_pack_str(pk, v);                                                           \
	} while (0)
#define KV_UINT(k, v)                                                                              \
	do {                                                                                       \
		testrec_pack_str(pk, k);                                                           \
		msgpack_pack_uint64(pk, v);                                                        \
	} while (0)

void testrec_pack_process(msgpack_packer *pk, const struct testproc *p)
{
	size_t n = 12, argc = 0;

	if (p->argv)
		while (p->argv[argc])
			argc++;
	n += !!p->argv + !!p->unit + !!p->cgroup + !!p->container_id + !!p->parent_exec_id;
	msgpack_pack_map(pk, n);
	KV_STR("exec_id", p->exec_id);
	KV_UINT("pid", p->pid);
	KV_UINT("tid", p->tid);
	KV_UINT("uid", p->uid);
	KV_STR("cwd", p->cwd);
	KV_STR("binary", p->binary);
	KV_STR("arguments", p->arguments);
	KV_STR("flags", p->flags);
	testrec_pack_str(pk, "start_time");
	testrec_pack_time(pk, 12, 1795132000, 5);
	KV_UINT("auid", p->auid);
	if (p->parent_exec_id)
		KV_STR("parent_exec_id", p->parent_exec_id);
	testrec_pack_str(pk, "process_credentials");
	msgpack_pack_map(pk, 2);
	KV_UINT("uid", p->uid);
	KV_UINT("gid", p->uid);
	if (p->argv) {
		testrec_pack_str(pk, "argv");
		msgpack_pack_array(pk, argc);
		for (size_t i = 0; i < argc; i++)
			testrec_pack_str(pk, p->argv[i]);
	}
	testrec_pack_str(pk, "argv_truncated");
	msgpack_pack_false(pk);
	if (p->unit)
		KV_STR("unit", p->unit);
	if (p->cgroup)
		KV_STR("cgroup", p->cgroup);
	if (p->container_id) {
		testrec_pack_str(pk, "container");
		msgpack_pack_map(pk, 2);
		KV_STR("id", p->container_id);
		KV_STR("runtime", p->container_runtime ? p->container_runtime : "docker");
	}
}

static void trailer(msgpack_packer *pk)
{
	KV_STR("node_name", "web-1");
	testrec_pack_str(pk, "time");
	testrec_pack_time(pk, 12, 1795305541, 123456789);
}

static void process_event(msgpack_sbuffer *sb, const char *key, const struct testproc *proc,
			  const struct testproc *parent, int exit_status, const char *signal)
{
	msgpack_packer pk_, *pk = &pk_;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(pk, 3);
	testrec_pack_str(pk, key);
	msgpack_pack_map(pk, 1 + !!parent + (exit_status >= 0 ? 3 : 0));
	testrec_pack_str(pk, "process");
	testrec_pack_process(pk, proc);
	if (parent) {
		testrec_pack_str(pk, "parent");
		testrec_pack_process(pk, parent);
	}
	if (exit_status >= 0) {
		KV_UINT("status", (uint64_t)exit_status);
		KV_STR("signal", signal ? signal : "");
		KV_UINT("code", signal && *signal ? 9u : (uint64_t)exit_status << 8);
	}
	trailer(pk);
}

void testrec_exec(msgpack_sbuffer *sb, const struct testproc *proc, const struct testproc *parent)
{
	process_event(sb, "process_exec", proc, parent, -1, NULL);
}

void testrec_exit(msgpack_sbuffer *sb, const struct testproc *proc, const struct testproc *parent,
		  unsigned status, const char *signal)
{
	process_event(sb, "process_exit", proc, parent, (int)status, signal);
}

void testrec_clone(msgpack_sbuffer *sb, const struct testproc *proc, const struct testproc *parent)
{
	process_event(sb, "process_clone", proc, parent, -1, NULL);
}

void testrec_loss(msgpack_sbuffer *sb, const char *stage, uint64_t count, uint64_t total,
		  const char *output)
{
	msgpack_packer pk_, *pk = &pk_;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(pk, 3);
	testrec_pack_str(pk, "vigil_loss");
	msgpack_pack_map(pk, 4 + !!output);
	KV_STR("stage", stage);
	KV_UINT("count", count);
	KV_UINT("total", total);
	KV_STR("reason", "queue full");
	if (output)
		KV_STR("output", output);
	trailer(pk);
}
