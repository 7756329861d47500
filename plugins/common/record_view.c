/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <string.h>
#include <vigil/plugin.h>

#include "json.h"
#include "record_view.h"

int mp_skip(struct mp_cursor *c)
{
	struct mp_cursor save = *c;
	uint64_t pending = 1;

	/* Iterative, so hostile nesting cannot exhaust the stack; every element takes at least
	 * one byte, so the loop is bounded by the input size. */
	while (pending > 0) {
		struct mp_obj o;

		if (mp_read(c, &o) < 0) {
			*c = save;
			return -EBADMSG;
		}
		pending--;
		if (o.type == MP_ARRAY)
			pending += o.len;
		else if (o.type == MP_MAP)
			pending += 2 * (uint64_t)o.len;
	}
	return 0;
}

int mp_timestamp(const struct mp_obj *o, int64_t *ret_sec, uint32_t *ret_nsec)
{
	int64_t sec;
	uint32_t nsec;

	if (o->type != MP_EXT || o->ext_type != -1)
		return -EBADMSG;
	switch (o->len) {
	case 4:
		sec = mp_be32(o->ptr);
		nsec = 0;
		break;
	case 8: {
		uint64_t v = mp_be64(o->ptr);
		nsec = (uint32_t)(v >> 34);
		sec = (int64_t)(v & 0x3ffffffffULL);
		break;
	}
	case 12:
		nsec = mp_be32(o->ptr);
		sec = (int64_t)mp_be64(o->ptr + 4);
		break;
	default:
		return -EBADMSG;
	}
	if (nsec > 999999999)
		return -EBADMSG;
	*ret_sec = sec;
	*ret_nsec = nsec;
	return 0;
}

static int span_next(struct mp_cursor *c, struct mp_span *ret)
{
	const uint8_t *start = c->p;
	int r = mp_skip(c);
	if (r < 0)
		return r;
	if (ret)
		*ret = (struct mp_span){.data = start, .size = (size_t)(c->p - start)};
	return 0;
}

int rv_event(const uint8_t *data, size_t size, const char **ret_key, size_t *ret_key_len,
	     struct mp_span *ret_body)
{
	struct mp_cursor c = mp_cursor_make(data, size);
	struct mp_obj o;
	int r;

	r = mp_read(&c, &o);
	if (r < 0)
		return r;
	if (o.type != MP_MAP)
		return -EBADMSG;
	for (uint32_t i = 0; i < o.len; i++) {
		struct mp_obj k;

		r = mp_read(&c, &k);
		if (r < 0)
			return r;
		if (k.type == MP_STR && !mp_str_eq(&k, "node_name") && !mp_str_eq(&k, "time")) {
			if (ret_key)
				*ret_key = (const char *)k.ptr;
			if (ret_key_len)
				*ret_key_len = k.len;
			return span_next(&c, ret_body);
		}
		r = mp_skip(&c);
		if (r < 0)
			return r;
	}
	return -ENOENT;
}

uint32_t rv_event_type(const char *key, size_t len)
{
	static const struct {
		const char *name;
		uint32_t type;
	} table[] = {
		{"process_exec", VIGIL_RECORD_PROCESS_EXEC},
		{"process_exit", VIGIL_RECORD_PROCESS_EXIT},
		{"process_clone", VIGIL_RECORD_PROCESS_CLONE},
		{"vigil_loss", VIGIL_RECORD_VIGIL_LOSS},
		{"process_kprobe", VIGIL_RECORD_PROCESS_KPROBE},
		{"process_tracepoint", VIGIL_RECORD_PROCESS_TRACEPOINT},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strlen(table[i].name) == len && memcmp(table[i].name, key, len) == 0)
			return table[i].type;
	return 0;
}

int rv_find(struct mp_span map, const char *key, struct mp_span *ret)
{
	struct mp_cursor c = mp_cursor_make(map.data, map.size);
	struct mp_obj o;
	int r;

	r = mp_read(&c, &o);
	if (r < 0)
		return r;
	if (o.type != MP_MAP)
		return -EMEDIUMTYPE;
	for (uint32_t i = 0; i < o.len; i++) {
		struct mp_cursor save = c;
		struct mp_obj k;

		r = mp_read(&c, &k);
		if (r < 0)
			return r;
		if (k.type == MP_ARRAY || k.type == MP_MAP) {
			/* A container key never matches: skip all of it. */
			c = save;
			r = mp_skip(&c);
			if (r < 0)
				return r;
		} else if (mp_str_eq(&k, key))
			return span_next(&c, ret);
		r = mp_skip(&c);
		if (r < 0)
			return r;
	}
	return -ENOENT;
}

int rv_find_path(struct mp_span map, const char *const *path, struct mp_span *ret)
{
	struct mp_span cur = map;

	for (; *path; path++) {
		int r = rv_find(cur, *path, &cur);
		if (r < 0)
			return r;
	}
	if (ret)
		*ret = cur;
	return 0;
}

static int get_obj(struct mp_span map, const char *key, struct mp_obj *o)
{
	struct mp_span v;
	struct mp_cursor c;
	int r;

	r = rv_find(map, key, &v);
	if (r < 0)
		return r;
	c = mp_cursor_make(v.data, v.size);
	return mp_read(&c, o);
}

int rv_get_str(struct mp_span map, const char *key, const char **ret, size_t *ret_len)
{
	struct mp_obj o;
	int r = get_obj(map, key, &o);

	if (r < 0)
		return r;
	if (o.type != MP_STR)
		return -EMEDIUMTYPE;
	*ret = (const char *)o.ptr;
	*ret_len = o.len;
	return 0;
}

int rv_get_uint(struct mp_span map, const char *key, uint64_t *ret)
{
	struct mp_obj o;
	int r = get_obj(map, key, &o);

	if (r < 0)
		return r;
	if (o.type != MP_UINT)
		return -EMEDIUMTYPE;
	*ret = o.u;
	return 0;
}

int rv_get_bool(struct mp_span map, const char *key, bool *ret)
{
	struct mp_obj o;
	int r = get_obj(map, key, &o);

	if (r < 0)
		return r;
	if (o.type != MP_BOOL)
		return -EMEDIUMTYPE;
	*ret = o.b;
	return 0;
}

int rv_get_timestamp(struct mp_span map, const char *key, int64_t *ret_sec, uint32_t *ret_nsec)
{
	struct mp_obj o;
	int r = get_obj(map, key, &o);

	if (r < 0)
		return r;
	if (o.type != MP_EXT || o.ext_type != -1)
		return -EMEDIUMTYPE;
	return mp_timestamp(&o, ret_sec, ret_nsec);
}

int rv_array_open(struct mp_span value, struct rv_iter *ret)
{
	struct mp_cursor c = mp_cursor_make(value.data, value.size);
	struct mp_obj o;
	int r;

	r = mp_read(&c, &o);
	if (r < 0)
		return r;
	if (o.type != MP_ARRAY)
		return -EMEDIUMTYPE;
	*ret = (struct rv_iter){.c = c, .left = o.len};
	return 0;
}

int rv_array_next(struct rv_iter *it, struct mp_span *ret)
{
	int r;

	if (it->left == 0)
		return -ENOENT;
	r = span_next(&it->c, ret);
	if (r < 0)
		return r;
	it->left--;
	return 0;
}

int rv_array_next_str(struct rv_iter *it, const char **ret, size_t *ret_len)
{
	struct mp_obj o;
	struct mp_cursor save = it->c;
	int r;

	if (it->left == 0)
		return -ENOENT;
	r = mp_read(&it->c, &o);
	if (r < 0)
		return r;
	if (o.type != MP_STR) {
		it->c = save;
		return -EMEDIUMTYPE;
	}
	it->left--;
	*ret = (const char *)o.ptr;
	*ret_len = o.len;
	return 0;
}

/*
 * Compact rendering.
 */

static size_t utf8_ok(const uint8_t *s, const uint8_t *e)
{
	size_t avail = (size_t)(e - s);
	uint8_t b = s[0];

	if (b >= 0xc2 && b <= 0xdf)
		/* U+0080..U+009F (C1 controls) count as unsafe. */
		return avail >= 2 && (s[1] & 0xc0) == 0x80 && !(b == 0xc2 && s[1] < 0xa0) ? 2 : 0;
	if (b >= 0xe0 && b <= 0xef) {
		uint8_t lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
		return avail >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (b >= 0xf0 && b <= 0xf4) {
		uint8_t lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
		return avail >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
				       (s[3] & 0xc0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
}

static bool term_plain(const uint8_t *s, size_t n)
{
	const uint8_t *e = s + n;

	if (n == 0)
		return false;
	while (s < e) {
		size_t k;

		if (*s > 0x20 && *s < 0x7f && *s != '"' && *s != '\\') {
			s++;
			continue;
		}
		if (*s < 0x80)
			return false;
		k = utf8_ok(s, e);
		if (!k)
			return false;
		s += k;
	}
	return true;
}

/* No control characters, DEL, C1 controls or invalid UTF-8 (spaces and quotes are fine). */
static bool line_safe(const uint8_t *s, size_t n)
{
	const uint8_t *e = s + n;

	while (s < e) {
		size_t k;

		if (*s >= 0x20 && *s < 0x7f) {
			s++;
			continue;
		}
		if (*s < 0x80)
			return false;
		k = utf8_ok(s, e);
		if (!k)
			return false;
		s += k;
	}
	return true;
}

/* Write @s for a terminal: as is when it holds only printable characters; otherwise in double
 * quotes with \" \\ \n \t \r and \xNN escapes. */
static int put_term(struct vbuf *out, const void *str, size_t n)
{
	const uint8_t *s = str, *e = s + n;
	char *w;
	int r;

	if (term_plain(s, n))
		return vbuf_append(out, s, n);
	r = vbuf_reserve(out, 4 * n + 2);
	if (r < 0)
		return r;
	w = out->data + out->len;
	*w++ = '"';
	while (s < e) {
		uint8_t c = *s;
		size_t k;

		if (c >= 0x20 && c < 0x7f) {
			if (c == '"' || c == '\\')
				*w++ = '\\';
			*w++ = (char)c;
			s++;
			continue;
		}
		if (c == '\n' || c == '\t' || c == '\r') {
			*w++ = '\\';
			*w++ = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			s++;
			continue;
		}
		k = c >= 0x80 ? utf8_ok(s, e) : 0;
		if (k) {
			memcpy(w, s, k);
			w += k;
			s += k;
			continue;
		}
		*w++ = '\\';
		*w++ = 'x';
		*w++ = "0123456789abcdef"[c >> 4];
		*w++ = "0123456789abcdef"[c & 0xf];
		s++;
	}
	*w++ = '"';
	out->len = (size_t)(w - out->data);
	return 0;
}

static int put_kv_uint(struct vbuf *out, struct mp_span map, const char *key, const char *label)
{
	uint64_t v;

	if (rv_get_uint(map, key, &v) < 0)
		return 0;
	return vbuf_printf(out, " %s=%" PRIu64, label, v);
}

static int put_kv_str(struct vbuf *out, struct mp_span map, const char *key, const char *label)
{
	const char *s;
	size_t n;
	int r;

	if (rv_get_str(map, key, &s, &n) < 0)
		return 0;
	r = vbuf_printf(out, " %s=", label);
	if (r >= 0)
		r = put_term(out, s, n);
	return r;
}

static int put_context(struct vbuf *out, struct mp_span proc)
{
	const char *s;
	size_t n;
	struct mp_span container;

	if ((rv_find(proc, "container", &container) >= 0 &&
	     rv_get_str(container, "id", &s, &n) >= 0 && n > 0) ||
	    (rv_get_str(proc, "docker", &s, &n) >= 0 && n > 0))
		return put_term(out, s, n > 12 ? 12 : n);
	if (rv_get_str(proc, "unit", &s, &n) >= 0 && n > 0)
		return put_term(out, s, n);
	return vbuf_putc(out, '-');
}

static int put_process(struct vbuf *out, struct mp_span proc, bool args)
{
	struct mp_span argv;
	const char *s;
	size_t n;
	int r;

	r = vbuf_putc(out, ' ');
	if (r >= 0)
		r = put_context(out, proc);
	if (r >= 0 && rv_get_str(proc, "binary", &s, &n) >= 0) {
		r = vbuf_putc(out, ' ');
		if (r >= 0)
			r = put_term(out, s, n);
	}
	if (r < 0 || !args)
		return r;

	if (rv_find(proc, "argv", &argv) >= 0) {
		struct rv_iter it;

		if (rv_array_open(argv, &it) < 0)
			return 0;
		for (unsigned i = 0; rv_array_next_str(&it, &s, &n) >= 0; i++) {
			if (i == 0)
				continue; /* argv[0]: the binary is already shown */
			r = vbuf_putc(out, ' ');
			if (r >= 0)
				r = put_term(out, s, n);
			if (r < 0)
				return r;
		}
	} else if (rv_get_str(proc, "arguments", &s, &n) >= 0 && n > 0) {
		/* Already quoted by the daemon; only make it terminal-safe. */
		r = vbuf_putc(out, ' ');
		if (r >= 0)
			r = line_safe((const uint8_t *)s, n) ? vbuf_append(out, s, n)
							     : put_term(out, s, n);
	}
	return r;
}

/* ---- process_kprobe / process_tracepoint ---- */

/* One element of "args": its typed key ("string_arg", ...) and value, and its label. */
struct rv_arg {
	const char *key;
	size_t key_len;
	struct mp_span value;
	const char *label;
	size_t label_len;
	bool error;
};

static bool key_is(const struct rv_arg *a, const char *k)
{
	return a->key_len == strlen(k) && memcmp(a->key, k, a->key_len) == 0;
}

static int arg_read(struct mp_span map, struct rv_arg *ret)
{
	struct mp_cursor c = mp_cursor_make(map.data, map.size);
	struct rv_arg a = {};
	struct mp_obj o;
	int r;

	r = mp_read(&c, &o);
	if (r < 0)
		return r;
	if (o.type != MP_MAP)
		return -EMEDIUMTYPE;
	for (uint32_t i = 0; i < o.len; i++) {
		struct mp_obj k, v;
		struct mp_cursor vc;

		r = mp_read(&c, &k);
		if (r < 0)
			return r;
		vc = c;
		r = span_next(&c, NULL);
		if (r < 0)
			return r;
		if (k.type != MP_STR)
			continue;
		if (mp_str_eq(&k, "label")) {
			if (mp_read(&vc, &v) >= 0 && v.type == MP_STR) {
				a.label = (const char *)v.ptr;
				a.label_len = v.len;
			}
		} else if (mp_str_eq(&k, "error")) {
			a.error = true;
		} else if (!a.key && k.len > 4 && memcmp(k.ptr + k.len - 4, "_arg", 4) == 0) {
			a.key = (const char *)k.ptr;
			a.key_len = k.len;
			a.value = (struct mp_span){.data = vc.p, .size = (size_t)(c.p - vc.p)};
		}
	}
	if (!a.key)
		return -ENOENT;
	*ret = a;
	return 0;
}

static int value_obj(struct mp_span v, struct mp_obj *o)
{
	struct mp_cursor c = mp_cursor_make(v.data, v.size);

	return mp_read(&c, o);
}

/* An integer argument (int_arg, uint_arg, long_arg, size_arg) as decimal. */
static int put_int_value(struct vbuf *out, struct mp_span v)
{
	struct mp_obj o;

	if (value_obj(v, &o) < 0)
		return 0;
	if (o.type == MP_UINT)
		return vbuf_printf(out, "%" PRIu64, o.u);
	if (o.type == MP_INT)
		return vbuf_printf(out, "%" PRId64, o.i);
	return 0;
}

static bool is_int_arg(const struct rv_arg *a)
{
	return key_is(a, "int_arg") || key_is(a, "uint_arg") || key_is(a, "long_arg") ||
	       key_is(a, "size_arg");
}

/* addr:port, [addr6]:port */
static int put_endpoint(struct vbuf *out, const char *addr, size_t n, bool v6, uint64_t port)
{
	int r = v6 ? vbuf_putc(out, '[') : 0;

	r = r ?: put_term(out, addr, n);
	if (r >= 0 && v6)
		r = vbuf_putc(out, ']');
	if (r >= 0)
		r = vbuf_printf(out, ":%" PRIu64, port);
	return r;
}

static int put_sockaddr(struct vbuf *out, struct mp_span v)
{
	const char *fam = "", *addr = "";
	size_t fn = 0, an = 0;
	uint64_t port = 0;

	(void)rv_get_str(v, "family", &fam, &fn);
	(void)rv_get_str(v, "addr", &addr, &an);
	(void)rv_get_uint(v, "port", &port);
	if (fn == 7 && memcmp(fam, "AF_UNIX", 7) == 0)
		return put_term(out, addr, an);
	if ((fn == 7 && memcmp(fam, "AF_INET", 7) == 0) ||
	    (fn == 8 && memcmp(fam, "AF_INET6", 8) == 0))
		return put_endpoint(out, addr, an, fn == 8, port);
	return put_term(out, fam, fn);
}

/* "tcp 10.0.0.1:443": the protocol and the peer. */
static int put_sock(struct vbuf *out, struct mp_span v)
{
	const char *fam = "", *proto = "", *addr = "";
	size_t fn = 0, pn = 0, an = 0;
	uint64_t port = 0;
	int r = 0;

	(void)rv_get_str(v, "family", &fam, &fn);
	(void)rv_get_str(v, "protocol", &proto, &pn);
	(void)rv_get_str(v, "daddr", &addr, &an);
	(void)rv_get_uint(v, "dport", &port);
	if (pn > 8 && pn < 40 && memcmp(proto, "IPPROTO_", 8) == 0) {
		char lower[32];

		for (size_t i = 8; i < pn; i++)
			lower[i - 8] =
				(char)(proto[i] >= 'A' && proto[i] <= 'Z' ? proto[i] - 'A' + 'a'
									  : proto[i]);
		r = put_term(out, lower, pn - 8);
	} else if (pn > 0)
		r = put_term(out, proto, pn);
	if (r >= 0)
		r = vbuf_putc(out, ' ');
	if (r >= 0)
		r = put_endpoint(out, addr, an, fn == 8 && memcmp(fam, "AF_INET6", 8) == 0, port);
	return r;
}

/* A path, string, sockaddr or sock argument ("object"); 1 when written, 0 when @a is none. */
static int put_object(struct vbuf *out, const struct rv_arg *a)
{
	struct mp_span path;
	struct mp_obj o;
	int r;

	if (a->error)
		return 0;
	if (key_is(a, "string_arg") || key_is(a, "file_arg")) {
		if (key_is(a, "file_arg")) {
			if (rv_find(a->value, "path", &path) < 0)
				return 0;
		} else
			path = a->value;
		if (value_obj(path, &o) < 0 || o.type != MP_STR || o.len == 0)
			return 0;
		r = vbuf_putc(out, ' ');
		r = r ?: put_term(out, o.ptr, o.len);
		return r < 0 ? r : 1;
	}
	if (key_is(a, "sockaddr_arg")) {
		r = vbuf_putc(out, ' ');
		r = r ?: put_sockaddr(out, a->value);
		return r < 0 ? r : 1;
	}
	if (key_is(a, "sock_arg")) {
		r = vbuf_putc(out, ' ');
		r = r ?: put_sock(out, a->value);
		return r < 0 ? r : 1;
	}
	return 0;
}

static int put_int_arg(struct vbuf *out, const struct rv_arg *a)
{
	int r = vbuf_putc(out, ' ');

	if (r >= 0 && a->label) {
		r = put_term(out, a->label, a->label_len);
		r = r ?: vbuf_putc(out, '=');
	}
	return r < 0 ? r : put_int_value(out, a->value);
}

/* The syscall name of a kprobe's function, as a verb: "__x64_sys_openat" -> "open". */
static void verb_of(const char *fn, size_t n, const char **ret, size_t *ret_len)
{
	static const char *const prefixes[] = {"__x64_sys_",   "__ia32_sys_",  "__arm64_sys_",
					       "__s390x_sys_", "__riscv_sys_", "__se_sys_",
					       "ksys_",	       "sys_"};
	static const struct {
		const char *name, *verb;
	} alias[] = {
		{"openat", "open"},	{"openat2", "open"},	 {"creat", "open"},
		{"accept4", "accept"},	{"execveat", "execve"},	 {"setresuid", "setuid"},
		{"setreuid", "setuid"}, {"setresgid", "setgid"}, {"setregid", "setgid"},
		{"renameat", "rename"}, {"renameat2", "rename"}, {"unlinkat", "unlink"},
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t k = strlen(prefixes[i]);

		if (n > k && memcmp(fn, prefixes[i], k) == 0) {
			fn += k;
			n -= k;
			break;
		}
	}
	for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (strlen(alias[i].name) == n && memcmp(alias[i].name, fn, n) == 0) {
			*ret = alias[i].verb;
			*ret_len = strlen(alias[i].verb);
			return;
		}
	*ret = fn;
	*ret_len = n;
}

static int put_return(struct vbuf *out, struct mp_span body)
{
	struct mp_span ret;
	struct rv_arg a;
	struct mp_obj o;
	int r;

	if (rv_find(body, "return", &ret) < 0 || arg_read(ret, &a) < 0)
		return 0;
	r = vbuf_append_str(out, " \u2192");
	if (r < 0)
		return r;
	if (is_int_arg(&a) && value_obj(a.value, &o) >= 0 && o.type == MP_INT && o.i < 0 &&
	    o.i > -4096) {
		const char *name = strerrorname_np((int)-o.i);

		if (name)
			return vbuf_printf(out, " -%s", name);
	}
	if (is_int_arg(&a)) {
		r = vbuf_putc(out, ' ');
		return r ?: put_int_value(out, a.value);
	}
	r = put_object(out, &a);
	return r < 0 ? r : 0;
}

static int put_action(struct vbuf *out, struct mp_span body)
{
	const char *s, *sig = "";
	size_t n, sn = 0;
	int r;

	if (rv_get_str(body, "action", &s, &n) < 0 || n <= 14 || memcmp(s, "KPROBE_ACTION_", 14))
		return 0;
	s += 14;
	n -= 14;
	if ((n == 4 && memcmp(s, "POST", 4) == 0) || (n == 6 && memcmp(s, "NOPOST", 6) == 0))
		return 0;
	r = vbuf_append_str(out, " [");
	r = r ?: put_term(out, s, n);
	if (r == 0 && n == 6 && memcmp(s, "SIGNAL", 6) == 0 &&
	    rv_get_str(body, "signal", &sig, &sn) >= 0 && sn > 0) {
		r = vbuf_putc(out, ' ');
		r = r ?: put_term(out, sig, sn);
	}
	return r ?: vbuf_putc(out, ']');
}

static int render_policy(struct vbuf *out, struct mp_span body, bool kprobe)
{
	struct mp_span proc, args;
	const char *s, *s2;
	size_t n, n2;
	uint64_t pid = 0;
	struct rv_iter it;
	struct mp_span el;
	int r;

	if (rv_find(body, "process", &proc) < 0)
		return -EBADMSG;
	(void)rv_get_uint(proc, "pid", &pid);
	r = vbuf_printf(out, "probe pid=%" PRIu64, pid);
	r = r ?: put_process(out, proc, false);
	if (r < 0)
		return r;
	if (kprobe) {
		if (rv_get_str(body, "function_name", &s, &n) < 0)
			return -EBADMSG;
		verb_of(s, n, &s, &n);
		r = vbuf_putc(out, ' ');
		r = r ?: put_term(out, s, n);
	} else {
		if (rv_get_str(body, "subsys", &s, &n) < 0 ||
		    rv_get_str(body, "event", &s2, &n2) < 0)
			return -EBADMSG;
		r = vbuf_putc(out, ' ');
		r = r ?: put_term(out, s, n);
		r = r ?: vbuf_putc(out, '/');
		r = r ?: put_term(out, s2, n2);
	}
	if (r < 0)
		return r;

	if (rv_find(body, "args", &args) >= 0 && rv_array_open(args, &it) >= 0) {
		struct rv_iter first = it;
		bool object = false;

		if (kprobe) {
			/* the first object, then the integers (only labelled ones after an object)
			 */
			while (!object && rv_array_next(&it, &el) >= 0) {
				struct rv_arg a;

				if (arg_read(el, &a) < 0)
					continue;
				r = put_object(out, &a);
				if (r < 0)
					return r;
				object = r == 1;
			}
			it = first;
		}
		while (rv_array_next(&it, &el) >= 0) {
			struct rv_arg a;

			if (arg_read(el, &a) < 0)
				continue;
			if (is_int_arg(&a)) {
				if (kprobe && object && !a.label)
					continue;
				r = put_int_arg(out, &a);
			} else if (!kprobe)
				r = put_object(out, &a);
			if (r < 0)
				return r;
		}
	}
	r = put_return(out, body);
	return r ?: put_action(out, body);
}

int compact_render(const uint8_t *data, size_t size, struct vbuf *out)
{
	struct mp_span body, proc, parent;
	size_t start = out->len, klen;
	const char *key;
	uint32_t type;
	int r;

	r = rv_event(data, size, &key, &klen, &body);
	if (r < 0)
		return r == -ENOENT ? -EBADMSG : r;
	type = rv_event_type(key, klen);

	switch (type) {
	case VIGIL_RECORD_PROCESS_EXEC:
	case VIGIL_RECORD_PROCESS_EXIT:
	case VIGIL_RECORD_PROCESS_CLONE:
		if (rv_find(body, "process", &proc) < 0) {
			r = -EBADMSG;
			break;
		}
		r = vbuf_append_str(out, type == VIGIL_RECORD_PROCESS_EXEC   ? "exec  pid="
					 : type == VIGIL_RECORD_PROCESS_EXIT ? "exit  pid="
									     : "clone pid=");
		if (r >= 0) {
			uint64_t pid = 0;
			(void)rv_get_uint(proc, "pid", &pid);
			r = vbuf_printf(out, "%" PRIu64, pid);
		}
		if (r >= 0 && type == VIGIL_RECORD_PROCESS_CLONE &&
		    rv_find(body, "parent", &parent) >= 0)
			r = put_kv_uint(out, parent, "pid", "ppid");
		if (r >= 0)
			r = put_process(out, proc, type == VIGIL_RECORD_PROCESS_EXEC);
		if (r >= 0 && type == VIGIL_RECORD_PROCESS_EXIT) {
			const char *sig;
			size_t n;

			if (rv_get_str(body, "signal", &sig, &n) >= 0 && n > 0)
				r = put_kv_str(out, body, "signal", "signal");
			else
				r = put_kv_uint(out, body, "status", "status");
		}
		break;
	case VIGIL_RECORD_PROCESS_KPROBE:
	case VIGIL_RECORD_PROCESS_TRACEPOINT:
		r = render_policy(out, body, type == VIGIL_RECORD_PROCESS_KPROBE);
		break;
	case VIGIL_RECORD_VIGIL_LOSS:
		r = vbuf_append_str(out, "loss ");
		if (r >= 0)
			r = put_kv_str(out, body, "stage", "stage");
		if (r >= 0)
			r = put_kv_uint(out, body, "count", "count");
		if (r >= 0)
			r = put_kv_uint(out, body, "total", "total");
		if (r >= 0)
			r = put_kv_str(out, body, "output", "output");
		if (r >= 0)
			r = put_kv_str(out, body, "reason", "reason");
		break;
	default:
		/* An event this renderer does not know (newer schema minor): show its key. */
		r = put_term(out, key, klen);
	}
	if (r < 0)
		out->len = start;
	return r;
}
