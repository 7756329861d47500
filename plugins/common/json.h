/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * msgpack → JSON rendering for output plugins, and a small growable byte buffer.
 * Rendering rules are documented in docs/outputs.md ("JSON rendering").
 */
#ifndef VIGIL_JSON_H
#define VIGIL_JSON_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A growable buffer: @len bytes used of @cap at @data. Zero-initialise to start empty. */
struct vbuf {
	char *data;
	size_t len, cap;
};

/* Slow path of vbuf_reserve(). */
int vbuf_grow(struct vbuf *b, size_t n);

/* Make room for @n more bytes after @len. 0 or -ENOMEM. */
static inline int vbuf_reserve(struct vbuf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	return vbuf_grow(b, n);
}

static inline int vbuf_append(struct vbuf *b, const void *p, size_t n)
{
	int r = vbuf_reserve(b, n);
	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static inline int vbuf_append_str(struct vbuf *b, const char *s)
{
	return vbuf_append(b, s, strlen(s));
}

static inline int vbuf_putc(struct vbuf *b, char c)
{
	int r = vbuf_reserve(b, 1);
	if (r < 0)
		return r;
	b->data[b->len++] = c;
	return 0;
}

/* Append printf output. 0, -ENOMEM or -EINVAL. */
int vbuf_printf(struct vbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Release the memory and reset to empty (safe on an empty buffer). */
void vbuf_done(struct vbuf *b);

/*
 * Append one JSON value rendered from the msgpack value at @data (exactly one value is read; bytes
 * after it are ignored). No newline is added. Returns 0, -EBADMSG on malformed or truncated
 * msgpack or nesting deeper than 64 (@out is then left as it was), or -ENOMEM. Never reads
 * past @data + @size.
 */
int json_render(const uint8_t *data, size_t size, struct vbuf *out);

/*
 * json_render() remembers the rendering of large nested maps (a record's process objects) per
 * thread, so that the next record carrying the same bytes copies it (bounded: 256 entries,
 * 256 KiB, freed when the thread exits). This frees the calling thread's cache now.
 */
void json_render_cache_drop(void);

/* Append @n bytes at @s as a quoted JSON string, with the escaping and UTF-8 repair of
 * json_render(). 0 or -ENOMEM. */
int json_append_string(struct vbuf *out, const void *s, size_t n);

/* Append RFC 3339 UTC time with nine fractional digits, without quotes:
 * 2026-11-21T23:59:01.123456789Z. Years outside 0000-9999 are written with a sign and at least
 * four digits ("+10000-…", "-0001-…", ISO 8601 expanded form). 0 or -ENOMEM. */
int json_append_rfc3339(struct vbuf *out, int64_t sec, uint32_t nsec);

/* Append @n bytes as standard base64 with padding, without quotes. 0 or -ENOMEM. */
int json_append_base64(struct vbuf *out, const void *s, size_t n);

#endif /* VIGIL_JSON_H */
