/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Read canonical records (docs/event-schema.md) without building a tree.
 *
 * msgpack-c offers msgpack_unpack(), which materialises every object into a zone; a plugin that
 * only wants three fields out of a 700-byte record (or renders it to JSON once) would pay for an
 * allocation-backed tree per record. These helpers walk the bytes directly with a bounds-checked
 * cursor instead: every read checks the remaining length first, so a truncated or hostile record
 * yields -EBADMSG and never a read past @end.
 */
#ifndef VIGIL_RECORD_VIEW_H
#define VIGIL_RECORD_VIEW_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct vbuf;

enum mp_type {
	MP_NIL,
	MP_BOOL,
	MP_UINT,
	MP_INT, /* negative values only; non-negative ones are MP_UINT */
	MP_FLOAT32,
	MP_FLOAT64,
	MP_STR,
	MP_BIN,
	MP_ARRAY,
	MP_MAP,
	MP_EXT,
};

/* One decoded msgpack header. For str/bin/ext @ptr/@len is the payload; for array/map @len is
 * the element (pair) count and the elements follow at the cursor. */
struct mp_obj {
	enum mp_type type;
	int8_t ext_type;
	uint32_t len;
	const uint8_t *ptr;
	union {
		bool b;
		uint64_t u;
		int64_t i;
		float f;
		double d;
	};
};

struct mp_cursor {
	const uint8_t *p, *end;
};

/* A complete msgpack value: @size bytes at @data. */
struct mp_span {
	const uint8_t *data;
	size_t size;
};

static inline struct mp_cursor mp_cursor_make(const uint8_t *data, size_t size)
{
	return (struct mp_cursor){.p = data, .end = data + size};
}

static inline uint16_t mp_be16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return be16toh(v);
}

static inline uint32_t mp_be32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static inline uint64_t mp_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

/*
 * Decode one header at the cursor and advance past it (and past the payload of str/bin/ext).
 * Returns 0 or -EBADMSG (truncated input or the never-used byte 0xc1); the cursor is then
 * unchanged.
 */
static inline __attribute__((always_inline)) int mp_read(struct mp_cursor *c, struct mp_obj *o)
{
	const uint8_t *p = c->p;
	size_t avail = (size_t)(c->end - p);
	size_t hdr, plen = 0;
	uint8_t b;

	if (avail < 1)
		return -EBADMSG;
	b = p[0];
	if (b <= 0x7f) {
		o->type = MP_UINT;
		o->u = b;
		c->p = p + 1;
		return 0;
	}
	if (b >= 0xe0) {
		o->type = MP_INT;
		o->i = (int8_t)b;
		c->p = p + 1;
		return 0;
	}
	if ((b & 0xe0) == 0xa0) {
		o->type = MP_STR;
		hdr = 1;
		plen = b & 0x1f;
		goto payload;
	}
	if ((b & 0xf0) == 0x90) {
		o->type = MP_ARRAY;
		o->len = b & 0x0f;
		c->p = p + 1;
		return 0;
	}
	if ((b & 0xf0) == 0x80) {
		o->type = MP_MAP;
		o->len = b & 0x0f;
		c->p = p + 1;
		return 0;
	}

#define NEED(n)                                                                                    \
	do {                                                                                       \
		if (avail < (size_t)(n))                                                           \
			return -EBADMSG;                                                           \
	} while (0)

	switch (b) {
	case 0xc0:
		o->type = MP_NIL;
		c->p = p + 1;
		return 0;
	case 0xc2:
	case 0xc3:
		o->type = MP_BOOL;
		o->b = b == 0xc3;
		c->p = p + 1;
		return 0;
	case 0xc4: /* bin 8/16/32 */
	case 0xd9: /* str 8 */
		NEED(2);
		o->type = b == 0xc4 ? MP_BIN : MP_STR;
		hdr = 2;
		plen = p[1];
		goto payload;
	case 0xc5:
	case 0xda:
		NEED(3);
		o->type = b == 0xc5 ? MP_BIN : MP_STR;
		hdr = 3;
		plen = mp_be16(p + 1);
		goto payload;
	case 0xc6:
	case 0xdb:
		NEED(5);
		o->type = b == 0xc6 ? MP_BIN : MP_STR;
		hdr = 5;
		plen = mp_be32(p + 1);
		goto payload;
	case 0xc7: /* ext 8/16/32 */
		NEED(3);
		o->type = MP_EXT;
		o->ext_type = (int8_t)p[2];
		hdr = 3;
		plen = p[1];
		goto payload;
	case 0xc8:
		NEED(4);
		o->type = MP_EXT;
		o->ext_type = (int8_t)p[3];
		hdr = 4;
		plen = mp_be16(p + 1);
		goto payload;
	case 0xc9:
		NEED(6);
		o->type = MP_EXT;
		o->ext_type = (int8_t)p[5];
		hdr = 6;
		plen = mp_be32(p + 1);
		goto payload;
	case 0xca: {
		uint32_t v;
		NEED(5);
		v = mp_be32(p + 1);
		o->type = MP_FLOAT32;
		memcpy(&o->f, &v, sizeof(v));
		c->p = p + 5;
		return 0;
	}
	case 0xcb: {
		uint64_t v;
		NEED(9);
		v = mp_be64(p + 1);
		o->type = MP_FLOAT64;
		memcpy(&o->d, &v, sizeof(v));
		c->p = p + 9;
		return 0;
	}
	case 0xcc:
		NEED(2);
		o->type = MP_UINT;
		o->u = p[1];
		c->p = p + 2;
		return 0;
	case 0xcd:
		NEED(3);
		o->type = MP_UINT;
		o->u = mp_be16(p + 1);
		c->p = p + 3;
		return 0;
	case 0xce:
		NEED(5);
		o->type = MP_UINT;
		o->u = mp_be32(p + 1);
		c->p = p + 5;
		return 0;
	case 0xcf:
		NEED(9);
		o->type = MP_UINT;
		o->u = mp_be64(p + 1);
		c->p = p + 9;
		return 0;
	case 0xd0:
		NEED(2);
		o->i = (int8_t)p[1];
		c->p = p + 2;
		goto sint;
	case 0xd1:
		NEED(3);
		o->i = (int16_t)mp_be16(p + 1);
		c->p = p + 3;
		goto sint;
	case 0xd2:
		NEED(5);
		o->i = (int32_t)mp_be32(p + 1);
		c->p = p + 5;
		goto sint;
	case 0xd3:
		NEED(9);
		o->i = (int64_t)mp_be64(p + 1);
		c->p = p + 9;
		goto sint;
	case 0xd4: /* fixext 1/2/4/8/16 */
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		NEED(2);
		o->type = MP_EXT;
		o->ext_type = (int8_t)p[1];
		hdr = 2;
		plen = (size_t)1 << (b - 0xd4);
		goto payload;
	case 0xdc:
		NEED(3);
		o->type = MP_ARRAY;
		o->len = mp_be16(p + 1);
		c->p = p + 3;
		return 0;
	case 0xdd:
		NEED(5);
		o->type = MP_ARRAY;
		o->len = mp_be32(p + 1);
		c->p = p + 5;
		return 0;
	case 0xde:
		NEED(3);
		o->type = MP_MAP;
		o->len = mp_be16(p + 1);
		c->p = p + 3;
		return 0;
	case 0xdf:
		NEED(5);
		o->type = MP_MAP;
		o->len = mp_be32(p + 1);
		c->p = p + 5;
		return 0;
	default: /* 0xc1: never used */
		return -EBADMSG;
	}
#undef NEED

sint:
	/* Signed encodings of non-negative values are still integers >= 0. */
	if (o->i >= 0) {
		o->type = MP_UINT;
		o->u = (uint64_t)o->i;
	} else
		o->type = MP_INT;
	return 0;

payload:
	if (avail - hdr < plen)
		return -EBADMSG;
	o->ptr = p + hdr;
	o->len = (uint32_t)plen;
	c->p = p + hdr + plen;
	return 0;
}

/* Skip one complete value (including nested containers). 0 or -EBADMSG. */
int mp_skip(struct mp_cursor *c);

/* Decode a timestamp extension (type -1; 32, 64 or 96 bit). 0 or -EBADMSG (wrong type/size,
 * nanoseconds > 999999999). */
int mp_timestamp(const struct mp_obj *o, int64_t *ret_sec, uint32_t *ret_nsec);

/* Compare a str object with a NUL-terminated string. */
static inline bool mp_str_eq(const struct mp_obj *o, const char *s)
{
	size_t n = strlen(s);
	return o->type == MP_STR && o->len == n && memcmp(o->ptr, s, n) == 0;
}

/*
 * Record helpers. All return 0 on success, -ENOENT when the key is absent, -EBADMSG when the
 * bytes are malformed, -EMEDIUMTYPE when the value has another type than asked for.
 */

/* The event key of a record ("process_exec", …: the first top-level key that is not node_name or
 * time) and its value. @ret_key is not NUL-terminated: @ret_key_len bytes. */
int rv_event(const uint8_t *data, size_t size, const char **ret_key, size_t *ret_key_len,
	     struct mp_span *ret_body);
/* VIGIL_RECORD_* value for an event key, or 0 when unknown. */
uint32_t rv_event_type(const char *key, size_t len);
/* Find @key in the map @map; @ret (may be NULL) gets the value. */
int rv_find(struct mp_span map, const char *key, struct mp_span *ret);
/* Follow a path of map keys ("process_exec", "process", "pid", NULL). */
int rv_find_path(struct mp_span map, const char *const *path, struct mp_span *ret);
int rv_get_str(struct mp_span map, const char *key, const char **ret, size_t *ret_len);
int rv_get_uint(struct mp_span map, const char *key, uint64_t *ret);
int rv_get_bool(struct mp_span map, const char *key, bool *ret);
int rv_get_timestamp(struct mp_span map, const char *key, int64_t *ret_sec, uint32_t *ret_nsec);

/* Iterate an array of strings (argv): rv_array_open() then rv_array_next_str() until it returns
 * -ENOENT (end). */
struct rv_iter {
	struct mp_cursor c;
	uint32_t left;
};
int rv_array_open(struct mp_span value, struct rv_iter *ret);
int rv_array_next(struct rv_iter *it, struct mp_span *ret);
int rv_array_next_str(struct rv_iter *it, const char **ret, size_t *ret_len);

/*
 * One human line for terminals and journald's MESSAGE (no newline appended):
 *   exec  pid=1234 nginx.service /usr/bin/curl https://example.org
 *   exit  pid=1234 nginx.service /usr/bin/curl status=3      (or signal=SIGKILL)
 *   clone pid=1240 ppid=1234 nginx.service /usr/bin/bash
 *   loss  stage=queue count=12 total=40 output=kafka-main
 *   probe pid=1234 nginx.service /usr/bin/cat open /etc/shadow → 3 [SIGKILL]
 *   probe pid=1234 - /usr/bin/curl connect tcp 10.0.0.1:443 → -ECONNREFUSED
 *   probe pid=1234 - /usr/bin/bash sched/sched_process_fork bash 4242
 * (process_kprobe: a verb from function_name, then the first path, string, sockaddr or sock
 * argument and the labelled integers, or every integer when there is no such argument;
 * process_tracepoint: SUBSYS/EVENT and every argument but bytes; then the return value and the
 * enforcement action taken.)
 * The context column is the container id (12 characters), else the systemd unit, else "-".
 * Control characters, DEL, C1 controls and invalid UTF-8 are written as \n, \t, \xNN so the
 * line never carries a raw escape sequence. Returns 0 or -EBADMSG (@out unchanged) or -ENOMEM.
 */
int compact_render(const uint8_t *data, size_t size, struct vbuf *out);

#endif /* VIGIL_RECORD_VIEW_H */
