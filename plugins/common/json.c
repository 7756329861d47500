/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * msgpack → JSON.
 *
 * Why a hand-written cursor instead of msgpack-c: msgpack-c's only reader, msgpack_unpack*(),
 * builds a msgpack_object tree in a zone (one allocation-backed node per value) before we can
 * look at anything, and its zone cannot be rewound per record without msgpack_zone_clear()
 * bookkeeping. For the output hot path (≥ 2M records/s on one core for ~700-byte exec records,
 * see tests/plugins/bench-json.c) we render straight from the bytes: one pass, no allocation
 * besides growing the output buffer, every read bounds-checked by mp_read() in record_view.h.
 * msgpack-c is still what builds records (daemon) and what the tests use to produce input.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "json.h"
#include "record_view.h"

#define JSON_MAX_DEPTH 64
#define ONES 0x0101010101010101ULL

int vbuf_grow(struct vbuf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (n > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	want = b->len + n;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int vbuf_printf(struct vbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = vbuf_reserve(b, (size_t)n + 1);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void vbuf_done(struct vbuf *b)
{
	free(b->data);
	*b = (struct vbuf){};
}

/*
 * Byte classes for strings: 0 = copy as is, 1 = ASCII that needs an escape (control characters,
 * '"', '\\', DEL), 2 = first byte of a multi-byte sequence or a stray byte >= 0x80.
 */
static const uint8_t json_class[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1, [0x80 ... 0xff] = 2,
};

static const char hexdigits[] = "0123456789abcdef";

/* Length of the well-formed UTF-8 sequence at @s (Unicode table 3-7), or 0 when ill-formed:
 * overlongs, surrogates, code points above U+10FFFF and truncated sequences. */
static inline size_t utf8_len(const uint8_t *s, const uint8_t *e)
{
	size_t avail = (size_t)(e - s);
	uint8_t b = s[0];

	if (b >= 0xc2 && b <= 0xdf)
		return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (b >= 0xe0 && b <= 0xef) {
		uint8_t lo = 0x80, hi = 0xbf;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
		if (avail < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (b >= 0xf0 && b <= 0xf4) {
		uint8_t lo = 0x80, hi = 0xbf;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
		if (avail < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

static inline char *put_u00(char *w, unsigned c)
{
	w[0] = '\\';
	w[1] = 'u';
	w[2] = '0';
	w[3] = '0';
	w[4] = hexdigits[(c >> 4) & 0xf];
	w[5] = hexdigits[c & 0xf];
	return w + 6;
}

/* Caller reserved 6 * n + 2 bytes at @w. */
static char *put_string(char *w, const uint8_t *s, size_t n)
{
	const uint8_t *e = s + n;

	*w++ = '"';
	while (s < e) {
		const uint8_t *run = s;
		uint8_t c;
		size_t k;

		/* Eight bytes at a time while none needs attention (SWAR: a byte < 0x20, '"', '\\',
		 * 0x7f or >= 0x80 sets its high bit in t). */
		while (e - s >= 8) {
			uint64_t x, t;

			memcpy(&x, s, 8);
			t = ((x - ONES * 0x20) & ~x) | (((x ^ ONES * '"') - ONES) & ~(x ^ ONES * '"')) |
			    (((x ^ ONES * '\\') - ONES) & ~(x ^ ONES * '\\')) |
			    (((x ^ ONES * 0x7f) - ONES) & ~(x ^ ONES * 0x7f)) | x;
			if (t & (ONES * 0x80))
				break;
			s += 8;
		}
		while (s < e && !json_class[*s])
			s++;
		memcpy(w, run, (size_t)(s - run));
		w += s - run;
		if (s >= e)
			break;
		c = *s;
		if (c < 0x80) {
			*w++ = '\\';
			switch (c) {
			case '"':
				*w++ = '"';
				break;
			case '\\':
				*w++ = '\\';
				break;
			case '\n':
				*w++ = 'n';
				break;
			case '\t':
				*w++ = 't';
				break;
			case '\r':
				*w++ = 'r';
				break;
			case '\b':
				*w++ = 'b';
				break;
			case '\f':
				*w++ = 'f';
				break;
			default:
				w = put_u00(w - 1, c);
			}
			s++;
			continue;
		}
		k = utf8_len(s, e);
		if (k == 0) {
			/* One U+FFFD per offending byte: deterministic, and resynchronises on the
			 * next byte. */
			memcpy(w, "\\ufffd", 6);
			w += 6;
			s++;
		} else if (c == 0xc2 && s[1] < 0xa0) {
			/* C1 control characters (U+0080..U+009F) act on terminals: escape them. */
			w = put_u00(w, s[1]);
			s += 2;
		} else {
			memcpy(w, s, k);
			w += k;
			s += k;
		}
	}
	*w++ = '"';
	return w;
}

int json_append_string(struct vbuf *out, const void *s, size_t n)
{
	int r;

	if (n > (SIZE_MAX - 2) / 6)
		return -ENOMEM;
	r = vbuf_reserve(out, 6 * n + 2);
	if (r < 0)
		return r;
	out->len = (size_t)(put_string(out->data + out->len, s, n) - out->data);
	return 0;
}

static inline char *put_u64(char *w, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*w++ = tmp[--n];
	return w;
}

static inline char *put_2d(char *w, unsigned v)
{
	w[0] = (char)('0' + v / 10);
	w[1] = (char)('0' + v % 10);
	return w + 2;
}

int json_append_rfc3339(struct vbuf *out, int64_t sec, uint32_t nsec)
{
	int64_t days, sod, z, era, doe, yoe, y, doy, mp, d, m;
	char *w;
	int r;

	r = vbuf_reserve(out, 64);
	if (r < 0)
		return r;
	w = out->data + out->len;

	days = sec / 86400;
	sod = sec % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	/* Proleptic Gregorian civil date from days since 1970-01-01 (400-year eras). */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;

	if (y >= 0 && y <= 9999) {
		w = put_2d(w, (unsigned)(y / 100));
		w = put_2d(w, (unsigned)(y % 100));
	} else
		w += snprintf(w, 24, "%+05" PRId64, y);
	*w++ = '-';
	w = put_2d(w, (unsigned)m);
	*w++ = '-';
	w = put_2d(w, (unsigned)d);
	*w++ = 'T';
	w = put_2d(w, (unsigned)(sod / 3600));
	*w++ = ':';
	w = put_2d(w, (unsigned)(sod / 60 % 60));
	*w++ = ':';
	w = put_2d(w, (unsigned)(sod % 60));
	*w++ = '.';
	for (int i = 8; i >= 0; i--) {
		w[i] = (char)('0' + nsec % 10);
		nsec /= 10;
	}
	w += 9;
	*w++ = 'Z';
	out->len = (size_t)(w - out->data);
	return 0;
}

int json_append_base64(struct vbuf *out, const void *src, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *s = src;
	size_t i = 0;
	char *w;
	int r;

	if (n > SIZE_MAX / 2)
		return -ENOMEM;
	r = vbuf_reserve(out, (n + 2) / 3 * 4);
	if (r < 0)
		return r;
	w = out->data + out->len;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*w++ = tbl[v >> 18];
		*w++ = tbl[(v >> 12) & 63];
		*w++ = tbl[(v >> 6) & 63];
		*w++ = tbl[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		*w++ = tbl[v >> 18];
		*w++ = tbl[(v >> 12) & 63];
		*w++ = '=';
		*w++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*w++ = tbl[v >> 18];
		*w++ = tbl[(v >> 12) & 63];
		*w++ = tbl[(v >> 6) & 63];
		*w++ = '=';
	}
	out->len = (size_t)(w - out->data);
	return 0;
}

/* Shortest of %.15g/%.17g that reads back to the same double; NaN and infinities are null. */
static int put_double(struct vbuf *out, double d, bool single)
{
	char tmp[40];

	if (!isfinite(d))
		return vbuf_append(out, "null", 4);
	if (single) {
		snprintf(tmp, sizeof(tmp), "%.6g", d);
		if (strtof(tmp, NULL) != (float)d)
			snprintf(tmp, sizeof(tmp), "%.9g", d);
	} else {
		snprintf(tmp, sizeof(tmp), "%.15g", d);
		if (strtod(tmp, NULL) != d)
			snprintf(tmp, sizeof(tmp), "%.17g", d);
	}
	return vbuf_append_str(out, tmp);
}

static int render_value(struct mp_cursor *c, struct vbuf *out, int depth);

/* A map key that is not a string: render it, then use that JSON text as a string (a key that
 * renders as a JSON string already, like bin or a timestamp, is used as is). */
static int render_key(struct mp_cursor *c, struct vbuf *out, int depth)
{
	size_t start = out->len, n;
	char *copy;
	int r;

	r = render_value(c, out, depth);
	if (r < 0)
		return r;
	if (out->data[start] == '"')
		return 0;
	n = out->len - start;
	copy = malloc(n);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, out->data + start, n);
	out->len = start;
	r = json_append_string(out, copy, n);
	free(copy);
	return r;
}

static int render_value(struct mp_cursor *c, struct vbuf *out, int depth)
{
	struct mp_obj o = { .type = MP_NIL };
	int r;

	/* Fast paths for the two most common encodings in records: fixstr and positive fixint. */
	if (c->p < c->end) {
		uint8_t b = *c->p;

		if ((b & 0xe0) == 0xa0) {
			size_t n = b & 0x1f;

			if ((size_t)(c->end - c->p) - 1 < n)
				return -EBADMSG;
			r = json_append_string(out, c->p + 1, n);
			c->p += 1 + n;
			return r;
		}
		if (b <= 0x7f) {
			r = vbuf_reserve(out, 3);
			if (r < 0)
				return r;
			out->len = (size_t)(put_u64(out->data + out->len, b) - out->data);
			c->p++;
			return 0;
		}
	}

	r = mp_read(c, &o);
	if (r < 0)
		return r;

	switch (o.type) {
	case MP_NIL:
		return vbuf_append(out, "null", 4);
	case MP_BOOL:
		return o.b ? vbuf_append(out, "true", 4) : vbuf_append(out, "false", 5);
	case MP_UINT:
		r = vbuf_reserve(out, 20);
		if (r < 0)
			return r;
		out->len = (size_t)(put_u64(out->data + out->len, o.u) - out->data);
		return 0;
	case MP_INT: {
		char *w;
		r = vbuf_reserve(out, 21);
		if (r < 0)
			return r;
		w = out->data + out->len;
		*w++ = '-';
		out->len = (size_t)(put_u64(w, -(uint64_t)o.i) - out->data);
		return 0;
	}
	case MP_FLOAT32:
		return put_double(out, o.f, true);
	case MP_FLOAT64:
		return put_double(out, o.d, false);
	case MP_STR:
		return json_append_string(out, o.ptr, o.len);
	case MP_BIN:
		r = vbuf_putc(out, '"');
		if (r >= 0)
			r = json_append_base64(out, o.ptr, o.len);
		if (r >= 0)
			r = vbuf_putc(out, '"');
		return r;
	case MP_EXT:
		if (o.ext_type == -1) {
			int64_t sec;
			uint32_t nsec;

			r = mp_timestamp(&o, &sec, &nsec);
			if (r < 0)
				return r;
			r = vbuf_putc(out, '"');
			if (r >= 0)
				r = json_append_rfc3339(out, sec, nsec);
			if (r >= 0)
				r = vbuf_putc(out, '"');
			return r;
		}
		/* Other extension types carry no meaning in the schema: keep their bytes. */
		r = vbuf_putc(out, '"');
		if (r >= 0)
			r = json_append_base64(out, o.ptr, o.len);
		if (r >= 0)
			r = vbuf_putc(out, '"');
		return r;
	case MP_ARRAY:
		if (depth >= JSON_MAX_DEPTH)
			return -EBADMSG;
		r = vbuf_putc(out, '[');
		for (uint32_t i = 0; r >= 0 && i < o.len; i++) {
			if (i > 0)
				r = vbuf_putc(out, ',');
			if (r >= 0)
				r = render_value(c, out, depth + 1);
		}
		if (r >= 0)
			r = vbuf_putc(out, ']');
		return r;
	case MP_MAP:
		if (depth >= JSON_MAX_DEPTH)
			return -EBADMSG;
		r = vbuf_putc(out, '{');
		for (uint32_t i = 0; r >= 0 && i < o.len; i++) {
			if (i > 0)
				r = vbuf_putc(out, ',');
			if (r < 0)
				break;
			/* Fast path: string keys. */
			if (c->p < c->end && (*c->p & 0xe0) == 0xa0)
				r = render_value(c, out, depth + 1);
			else
				r = render_key(c, out, depth + 1);
			if (r >= 0)
				r = vbuf_putc(out, ':');
			if (r >= 0)
				r = render_value(c, out, depth + 1);
		}
		if (r >= 0)
			r = vbuf_putc(out, '}');
		return r;
	}
	return -EBADMSG;
}

int json_render(const uint8_t *data, size_t size, struct vbuf *out)
{
	struct mp_cursor c = mp_cursor_make(data, size);
	size_t start = out->len;
	int r;

	r = render_value(&c, out, 0);
	if (r < 0)
		out->len = start;
	return r;
}
