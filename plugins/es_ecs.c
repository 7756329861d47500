/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Canonical record → Elastic Common Schema (ECS 8.x) document. Written straight into a vbuf in
 * one pass over the record with record_view.h (no tree). Fields ECS has no place for go under
 * "vigil." (the custom-field namespace ECS recommends for a vendor's own fields).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/record_view.h"
#include "es_ecs.h"
#include "util/macro.h"

struct ecs {
	struct vbuf *b;
	int err; /* first error, sticky */
};

static void ecs_fail(struct ecs *e, int r)
{
	if (r < 0 && e->err == 0)
		e->err = r;
}

static void put(struct ecs *e, const char *s)
{
	ecs_fail(e, vbuf_append_str(e->b, s));
}

/* "key": with a comma before it unless first in its object. */
static void key(struct ecs *e, const char *k)
{
	char last;

	if (e->err)
		return;
	last = e->b->len ? e->b->data[e->b->len - 1] : '{';
	if (last != '{' && last != '[')
		ecs_fail(e, vbuf_putc(e->b, ','));
	ecs_fail(e, vbuf_putc(e->b, '"'));
	put(e, k);
	put(e, "\":");
}

/* Open "key":{ and return where it started, so obj_close() can take back an empty object. */
static size_t obj_open(struct ecs *e, const char *k)
{
	size_t pos = e->b->len;

	key(e, k);
	ecs_fail(e, vbuf_putc(e->b, '{'));
	return pos;
}

static void obj_close(struct ecs *e, size_t pos)
{
	if (e->err)
		return;
	if (e->b->data[e->b->len - 1] == '{')
		e->b->len = pos;
	else
		ecs_fail(e, vbuf_putc(e->b, '}'));
}

static void kv_strn(struct ecs *e, const char *k, const char *s, size_t n)
{
	key(e, k);
	if (!e->err)
		ecs_fail(e, json_append_string(e->b, s, n));
}

static void kv_str(struct ecs *e, const char *k, const char *s)
{
	kv_strn(e, k, s, strlen(s));
}

static void kv_uint(struct ecs *e, const char *k, uint64_t v)
{
	key(e, k);
	if (!e->err)
		ecs_fail(e, vbuf_printf(e->b, "%" PRIu64, v));
}

/* ECS ids (user.id, group.id) are keywords: numbers as strings. */
static void kv_uint_str(struct ecs *e, const char *k, uint64_t v)
{
	key(e, k);
	if (!e->err)
		ecs_fail(e, vbuf_printf(e->b, "\"%" PRIu64 "\"", v));
}

static void kv_time(struct ecs *e, const char *k, int64_t sec, uint32_t nsec)
{
	key(e, k);
	if (e->err)
		return;
	ecs_fail(e, vbuf_putc(e->b, '"'));
	ecs_fail(e, json_append_rfc3339(e->b, sec, nsec));
	ecs_fail(e, vbuf_putc(e->b, '"'));
}

/* The msgpack value @v rendered as JSON under @k. */
static void kv_raw(struct ecs *e, const char *k, struct mp_span v)
{
	key(e, k);
	if (!e->err)
		ecs_fail(e, json_render(v.data, v.size, e->b));
}

/* Copy a string field of @map to @k when present. */
static void copy_str(struct ecs *e, struct mp_span map, const char *field, const char *k)
{
	const char *s;
	size_t n;

	if (rv_get_str(map, field, &s, &n) == 0)
		kv_strn(e, k, s, n);
}

static void copy_uint(struct ecs *e, struct mp_span map, const char *field, const char *k)
{
	uint64_t u;

	if (rv_get_uint(map, field, &u) == 0)
		kv_uint(e, k, u);
}

static void copy_raw(struct ecs *e, struct mp_span map, const char *field, const char *k)
{
	struct mp_span v;

	if (rv_find(map, field, &v) == 0)
		kv_raw(e, k, v);
}

/* A process object (process or process.parent): ECS process.* fields. */
static void write_process(struct ecs *e, struct mp_span p, bool top)
{
	struct mp_span v, cred;
	struct rv_iter it;
	const char *s, *bin = NULL, *args = NULL;
	size_t n, bin_len = 0, args_len = 0;
	int64_t sec;
	uint32_t nsec, argc = 0;
	uint64_t u;
	struct vbuf cmd = {};

	copy_uint(e, p, "pid", "pid");
	copy_str(e, p, "exec_id", "entity_id");
	if (rv_get_str(p, "binary", &bin, &bin_len) == 0) {
		const char *slash = memrchr(bin, '/', bin_len);
		kv_strn(e, "executable", bin, bin_len);
		if (slash)
			kv_strn(e, "name", slash + 1, bin_len - (size_t)(slash + 1 - bin));
		else
			kv_strn(e, "name", bin, bin_len);
	}
	(void)rv_get_str(p, "arguments", &args, &args_len);

	/* args: argv as the process had it; command_line: argv joined by spaces (ECS: "the full
	 * command line ... including the absolute path to the executable"). Without argv (schema
	 * 1.0 producers), binary + Tetragon's quoted "arguments". */
	if (rv_find(p, "argv", &v) == 0 && rv_array_open(v, &it) == 0 && it.left > 0) {
		key(e, "args");
		ecs_fail(e, vbuf_putc(e->b, '['));
		while (!e->err && rv_array_next_str(&it, &s, &n) == 0) {
			if (argc > 0) {
				ecs_fail(e, vbuf_putc(e->b, ','));
				ecs_fail(e, vbuf_putc(&cmd, ' '));
			}
			ecs_fail(e, json_append_string(e->b, s, n));
			ecs_fail(e, vbuf_append(&cmd, s, n));
			argc++;
		}
		ecs_fail(e, vbuf_putc(e->b, ']'));
		kv_uint(e, "args_count", argc);
	} else if (bin) {
		ecs_fail(e, vbuf_append(&cmd, bin, bin_len));
		if (args_len > 0) {
			ecs_fail(e, vbuf_putc(&cmd, ' '));
			ecs_fail(e, vbuf_append(&cmd, args, args_len));
		}
	}
	if (cmd.len > 0)
		kv_strn(e, "command_line", cmd.data, cmd.len);
	vbuf_done(&cmd);

	copy_str(e, p, "cwd", "working_directory");
	if (rv_get_timestamp(p, "start_time", &sec, &nsec) == 0)
		kv_time(e, "start", sec, nsec);
	if (!top)
		return;
	if (rv_get_uint(p, "tid", &u) == 0) {
		size_t pos = obj_open(e, "thread");
		kv_uint(e, "id", u);
		obj_close(e, pos);
	}
	/* Effective ids are process.user/group, real ones process.real_user/real_group. */
	if (rv_find(p, "process_credentials", &cred) == 0) {
		size_t pos;
		if (rv_get_uint(cred, "euid", &u) == 0 || rv_get_uint(p, "uid", &u) == 0) {
			pos = obj_open(e, "user");
			kv_uint_str(e, "id", u);
			obj_close(e, pos);
		}
		if (rv_get_uint(cred, "egid", &u) == 0 || rv_get_uint(cred, "gid", &u) == 0) {
			pos = obj_open(e, "group");
			kv_uint_str(e, "id", u);
			obj_close(e, pos);
		}
		if (rv_get_uint(cred, "uid", &u) == 0) {
			pos = obj_open(e, "real_user");
			kv_uint_str(e, "id", u);
			obj_close(e, pos);
		}
		if (rv_get_uint(cred, "gid", &u) == 0) {
			pos = obj_open(e, "real_group");
			kv_uint_str(e, "id", u);
			obj_close(e, pos);
		}
	}
}

/* What a policy event's arguments say in ECS terms (the first of each kind wins). */
struct arg_facts {
	bool have_file, have_dst, have_sock;
	struct mp_span file_path;
	struct mp_span sockaddr; /* sockaddr_arg map */
	struct mp_span sock;	 /* sock_arg map */
};

static void scan_args(struct mp_span body, struct arg_facts *f)
{
	struct mp_span args, a, v;
	struct rv_iter it;

	if (rv_find(body, "args", &args) < 0 || rv_array_open(args, &it) < 0)
		return;
	while (rv_array_next(&it, &a) == 0) {
		if (!f->have_file && rv_find(a, "file_arg", &v) == 0 &&
		    rv_find(v, "path", &f->file_path) == 0)
			f->have_file = true;
		if (!f->have_dst && rv_find(a, "sockaddr_arg", &f->sockaddr) == 0)
			f->have_dst = true;
		if (!f->have_sock && rv_find(a, "sock_arg", &f->sock) == 0)
			f->have_sock = true;
	}
}

static bool family_is(struct mp_span m, const char *fam)
{
	const char *s;
	size_t n;

	return rv_get_str(m, "family", &s, &n) == 0 && n == strlen(fam) && memcmp(s, fam, n) == 0;
}

static const char *net_type(struct mp_span m)
{
	return family_is(m, "AF_INET") ? "ipv4" : family_is(m, "AF_INET6") ? "ipv6" : NULL;
}

static void write_network(struct ecs *e, const struct arg_facts *f)
{
	const char *type = NULL;
	size_t pos;

	if (f->have_file) {
		pos = obj_open(e, "file");
		kv_raw(e, "path", f->file_path);
		obj_close(e, pos);
	}
	if (f->have_sock && net_type(f->sock)) {
		const char *s;
		size_t n;

		type = net_type(f->sock);
		pos = obj_open(e, "source");
		copy_str(e, f->sock, "saddr", "ip");
		copy_uint(e, f->sock, "sport", "port");
		obj_close(e, pos);
		pos = obj_open(e, "destination");
		copy_str(e, f->sock, "daddr", "ip");
		copy_uint(e, f->sock, "dport", "port");
		obj_close(e, pos);
		pos = obj_open(e, "network");
		kv_str(e, "type", type);
		if (rv_get_str(f->sock, "protocol", &s, &n) == 0) {
			if (n == 11 && memcmp(s, "IPPROTO_TCP", 11) == 0)
				kv_str(e, "transport", "tcp");
			else if (n == 11 && memcmp(s, "IPPROTO_UDP", 11) == 0)
				kv_str(e, "transport", "udp");
			else if (n == 12 && memcmp(s, "IPPROTO_ICMP", 12) == 0)
				kv_str(e, "transport", "icmp");
		}
		obj_close(e, pos);
	} else if (f->have_dst && net_type(f->sockaddr)) {
		type = net_type(f->sockaddr);
		pos = obj_open(e, "destination");
		copy_str(e, f->sockaddr, "addr", "ip");
		copy_uint(e, f->sockaddr, "port", "port");
		obj_close(e, pos);
		pos = obj_open(e, "network");
		kv_str(e, "type", type);
		obj_close(e, pos);
	}
}

/* vigil.process.*: what ECS has no field for. */
static void write_vigil_process(struct ecs *e, struct mp_span p, const char *k)
{
	size_t pos = obj_open(e, k);

	copy_uint(e, p, "auid", "auid");
	copy_str(e, p, "flags", "flags");
	copy_str(e, p, "unit", "unit");
	copy_str(e, p, "user_unit", "user_unit");
	copy_str(e, p, "slice", "slice");
	copy_str(e, p, "cgroup", "cgroup");
	copy_uint(e, p, "cgroup_id", "cgroup_id");
	copy_raw(e, p, "argv_truncated", "argv_truncated");
	obj_close(e, pos);
}

enum kind { K_EXEC, K_EXIT, K_CLONE, K_KPROBE, K_TRACEPOINT, K_LOSS, K_OTHER };

int ecs_render(const uint8_t *data, size_t size, const char *event_id, struct vbuf *out)
{
	struct ecs e = {.b = out};
	struct mp_span rec = {data, size}, body, proc, parent;
	struct arg_facts facts = {};
	const char *ekey, *s;
	size_t ekey_len, start = out->len, pos, n;
	bool have_proc, have_parent;
	int64_t sec;
	uint32_t nsec;
	uint64_t u;
	enum kind kind = K_OTHER;
	const char *action;
	char keybuf[64];
	int r;

	r = rv_event(data, size, &ekey, &ekey_len, &body);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	switch (rv_event_type(ekey, ekey_len)) {
	case 1:
		kind = K_EXEC;
		break;
	case 2:
		kind = K_EXIT;
		break;
	case 3:
		kind = K_CLONE;
		break;
	case 4:
		kind = K_LOSS;
		break;
	case 5:
		kind = K_KPROBE;
		break;
	case 6:
		kind = K_TRACEPOINT;
		break;
	}
	snprintf(keybuf, sizeof(keybuf), "%.*s", (int)MIN(ekey_len, sizeof(keybuf) - 1), ekey);
	have_proc = rv_find(body, "process", &proc) == 0;
	have_parent = rv_find(body, "parent", &parent) == 0;
	if (kind == K_KPROBE || kind == K_TRACEPOINT)
		scan_args(body, &facts);

	ecs_fail(&e, vbuf_putc(out, '{'));
	if (rv_get_timestamp(rec, "time", &sec, &nsec) == 0)
		kv_time(&e, "@timestamp", sec, nsec);

	/* event.* */
	pos = obj_open(&e, "event");
	kv_str(&e, "kind", kind == K_LOSS ? "metric" : "event");
	key(&e, "category");
	switch (kind) {
	case K_EXEC:
	case K_CLONE:
		put(&e, "[\"process\"]");
		key(&e, "type");
		put(&e, "[\"start\"]");
		action = kind == K_EXEC ? "exec" : "fork";
		break;
	case K_EXIT:
		put(&e, "[\"process\"]");
		key(&e, "type");
		put(&e, "[\"end\"]");
		action = "exit";
		break;
	case K_KPROBE:
	case K_TRACEPOINT: {
		bool denied = rv_get_str(body, "action", &s, &n) == 0 && n == 22 &&
			      memcmp(s, "KPROBE_ACTION_OVERRIDE", 22) == 0;
		if (facts.have_file)
			put(&e, "[\"file\"]");
		else if (facts.have_dst || facts.have_sock)
			put(&e, "[\"network\"]");
		else
			put(&e, "[\"process\"]");
		key(&e, "type");
		if (facts.have_file)
			put(&e, denied ? "[\"access\",\"denied\"]" : "[\"access\"]");
		else if (facts.have_dst || facts.have_sock)
			put(&e, denied ? "[\"connection\",\"denied\"]" : "[\"connection\"]");
		else
			put(&e, denied ? "[\"info\",\"denied\"]" : "[\"info\"]");
		action = NULL;
		break;
	}
	default:
		put(&e, "[\"host\"]");
		key(&e, "type");
		put(&e, "[\"info\"]");
		action = kind == K_LOSS ? "loss" : keybuf;
		break;
	}
	if (action)
		kv_str(&e, "action", action);
	else if (kind == K_KPROBE)
		copy_str(&e, body, "function_name", "action");
	else if (rv_get_str(body, "event", &s, &n) == 0)
		kv_strn(&e, "action", s, n);
	kv_str(&e, "dataset", "vigil.events");
	kv_str(&e, "module", "vigil");
	if (event_id)
		kv_str(&e, "id", event_id);
	obj_close(&e, pos);

	/* host, process, user, group, container, orchestrator */
	if (rv_get_str(rec, "node_name", &s, &n) == 0) {
		pos = obj_open(&e, "host");
		kv_strn(&e, "name", s, n);
		obj_close(&e, pos);
	}
	if (have_proc) {
		struct mp_span cred, c;

		pos = obj_open(&e, "process");
		write_process(&e, proc, true);
		if (kind == K_EXIT && rv_get_uint(body, "status", &u) == 0)
			kv_uint(&e, "exit_code", u);
		if (have_parent) {
			size_t ppos = obj_open(&e, "parent");
			write_process(&e, parent, false);
			obj_close(&e, ppos);
		}
		obj_close(&e, pos);

		/* user.id/group.id: the effective ids, as process.user/group. */
		if (rv_find(proc, "process_credentials", &cred) < 0)
			cred = (struct mp_span){};
		if ((cred.size && rv_get_uint(cred, "euid", &u) == 0) ||
		    rv_get_uint(proc, "uid", &u) == 0) {
			pos = obj_open(&e, "user");
			kv_uint_str(&e, "id", u);
			obj_close(&e, pos);
		}
		if (cred.size &&
		    (rv_get_uint(cred, "egid", &u) == 0 || rv_get_uint(cred, "gid", &u) == 0)) {
			pos = obj_open(&e, "group");
			kv_uint_str(&e, "id", u);
			obj_close(&e, pos);
		}

		if (rv_find(proc, "container", &c) == 0) {
			pos = obj_open(&e, "container");
			copy_str(&e, c, "id", "id");
			copy_str(&e, c, "runtime", "runtime");
			obj_close(&e, pos);
		} else if (rv_get_str(proc, "docker", &s, &n) == 0) {
			pos = obj_open(&e, "container");
			kv_strn(&e, "id", s, n);
			obj_close(&e, pos);
		}
		/* Kubernetes only when the record says so: Tetragon's pod{} or a pod uid. */
		{
			struct mp_span pod;
			bool have_pod = rv_find(proc, "pod", &pod) == 0;
			bool have_uid = rv_find(proc, "container", &c) == 0 &&
					rv_get_str(c, "pod_uid", &s, &n) == 0;

			if (have_pod || have_uid) {
				size_t rpos;
				pos = obj_open(&e, "orchestrator");
				kv_str(&e, "type", "kubernetes");
				if (have_pod)
					copy_str(&e, pod, "namespace", "namespace");
				rpos = obj_open(&e, "resource");
				kv_str(&e, "type", "pod");
				if (have_pod)
					copy_str(&e, pod, "name", "name");
				if (have_uid)
					kv_strn(&e, "id", s, n);
				obj_close(&e, rpos);
				obj_close(&e, pos);
			}
		}
	}

	if (kind == K_KPROBE || kind == K_TRACEPOINT) {
		write_network(&e, &facts);
		copy_str(&e, body, "message", "message");
		copy_raw(&e, body, "tags", "tags");
	}

	/* vigil.*: everything else worth keeping. */
	pos = obj_open(&e, "vigil");
	kv_str(&e, "event_type", keybuf);
	if (have_proc)
		write_vigil_process(&e, proc, "process");
	if (have_parent)
		write_vigil_process(&e, parent, "parent");
	switch (kind) {
	case K_EXIT:
		copy_str(&e, body, "signal", "signal");
		copy_uint(&e, body, "code", "code");
		break;
	case K_KPROBE:
	case K_TRACEPOINT:
		copy_str(&e, body, "policy_name", "policy_name");
		copy_str(&e, body, "action", "action");
		copy_raw(&e, body, "actions", "actions");
		copy_str(&e, body, "function_name", "function_name");
		copy_str(&e, body, "subsys", "subsys");
		copy_str(&e, body, "event", "event");
		copy_raw(&e, body, "args", "args");
		copy_raw(&e, body, "return", "return");
		copy_str(&e, body, "signal", "signal");
		copy_raw(&e, body, "action_error", "action_error");
		break;
	case K_LOSS:
		kv_raw(&e, "loss", body);
		break;
	case K_OTHER:
		kv_raw(&e, "event", body);
		break;
	default:
		break;
	}
	obj_close(&e, pos);
	ecs_fail(&e, vbuf_putc(out, '}'));

	if (e.err) {
		out->len = start;
		return e.err == -ENOMEM ? -ENOMEM : -EBADMSG;
	}
	return 0;
}
