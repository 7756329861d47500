/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
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
