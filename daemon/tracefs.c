/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reader for tracefs event format files (TRACEFS/events/CATEGORY/NAME/format):
 *
 *   name: sys_enter_openat
 *   ID: 782
 *   format:
 *   	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
 *   	...
 *
 *   	field:const char * filename;	offset:24;	size:8;	signed:0;
 *   	field:char prev_comm[16];	offset:8;	size:16;	signed:0;
 *   	field:__data_loc char[] filename;	offset:8;	size:4;	signed:0;
 *
 *   print fmt: "...", ...
 *
 * The text is kernel output but is parsed as untrusted input: every number is range-checked,
 * missing or malformed parts fail with -EINVAL, and nothing is logged above debug (the caller
 * decides what a failure means).
 *
 * A field declaration "TYPE NAME[N]" is normalised to type "TYPE[N]" and name "NAME", so the
 * type alone says whether the field is an inline array ("char[16]"), a __data_loc string
 * ("__data_loc char[]"), a pointer ("const char *") or a scalar ("int").
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy_compile.h"
#include "util/macro.h"

#define TRACEFS_FORMAT_MAX (1024 * 1024) /* sched_switch's format is ~1.5 KiB; be generous */
#define TRACEFS_FIELDS_MAX 512		 /* the largest real events have a few dozen fields */
#define TRACEFS_NAME_MAX   256

struct tracefs_format *tracefs_format_free(struct tracefs_format *f)
{
	if (!f)
		return NULL;
	for (size_t i = 0; i < f->n_fields; i++) {
		free(f->fields[i].name);
		free(f->fields[i].type);
	}
	free(f->fields);
	free(f);
	return NULL;
}

/* Parse a decimal unsigned number of at most max; returns the end or NULL. */
static const char *parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return NULL;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return NULL;
	}
	*ret = v;
	return p;
}

static bool is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* "KEY:VALUE;" with optional leading blanks; returns the position after ';' or NULL. */
static const char *parse_attr(const char *s, const char *end, const char *key, unsigned long max,
			      unsigned long *ret)
{
	size_t klen = strlen(key);

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if ((size_t)(end - s) < klen + 1 || strncmp(s, key, klen) != 0 || s[klen] != ':')
		return NULL;
	s = parse_uint(s + klen + 1, max, ret);
	if (!s || s >= end || *s != ';')
		return NULL;
	return s + 1;
}

/*
 * Split "TYPE NAME" or "TYPE NAME[N]" (decl points into the line, len bytes) into a normalised
 * type and name. The name is the trailing identifier; everything before it, trimmed, is the type.
 */
static int parse_decl(const char *decl, size_t len, char **ret_type, char **ret_name)
{
	_cleanup_free_ char *type = NULL, *name = NULL;
	const char *end = decl + len, *name_end, *name_start, *array = NULL;
	size_t tlen, alen = 0;

	while (end > decl && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	name_end = end;
	if (name_end > decl && name_end[-1] == ']') {
		/* NAME[N] or NAME[] */
		const char *open = memrchr(decl, '[', (size_t)(name_end - decl));

		if (!open)
			return -EINVAL;
		for (const char *p = open + 1; p < name_end - 1; p++)
			if (!is_ident_char(*p))
				return -EINVAL;
		array = open;
		alen = (size_t)(name_end - open);
		name_end = open;
	}
	name_start = name_end;
	while (name_start > decl && is_ident_char(name_start[-1]))
		name_start--;
	if (name_start == name_end || (size_t)(name_end - name_start) >= TRACEFS_NAME_MAX)
		return -EINVAL;
	if (isdigit((unsigned char)*name_start))
		return -EINVAL;

	/* The type: what precedes the name, trimmed; a pointer type keeps its '*'. */
	while (decl < name_start && (*decl == ' ' || *decl == '\t'))
		decl++;
	tlen = (size_t)(name_start - decl);
	while (tlen > 0 && (decl[tlen - 1] == ' ' || decl[tlen - 1] == '\t'))
		tlen--;
	if (tlen == 0 || tlen >= TRACEFS_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < tlen; i++)
		if (!isprint((unsigned char)decl[i]))
			return -EINVAL;

	type = malloc(tlen + alen + 1);
	if (!type)
		return -ENOMEM;
	memcpy(type, decl, tlen);
	if (array)
		memcpy(type + tlen, array, alen);
	type[tlen + alen] = '\0';
	name = strndup(name_start, (size_t)(name_end - name_start));
	if (!name)
		return -ENOMEM;
	*ret_type = TAKE_PTR(type);
	*ret_name = TAKE_PTR(name);
	return 0;
}

/* One "field:DECL;\toffset:N;\tsize:N;\tsigned:N;" line (leading blanks already skipped). */
static int parse_field_line(const char *s, const char *end, struct tracefs_field *ret)
{
	_cleanup_free_ char *type = NULL, *name = NULL;
	const char *semi;
	unsigned long offset, size, sign = 0;
	int r;

	s += strlen("field:");
	semi = memchr(s, ';', (size_t)(end - s));
	if (!semi)
		return -EINVAL;
	r = parse_decl(s, (size_t)(semi - s), &type, &name);
	if (r < 0)
		return r;
	s = parse_attr(semi + 1, end, "offset", UINT16_MAX, &offset);
	if (!s)
		return -EINVAL;
	s = parse_attr(s, end, "size", UINT16_MAX, &size);
	if (!s)
		return -EINVAL;
	/* signed: is missing on very old kernels; treat as unsigned. */
	{
		const char *t = parse_attr(s, end, "signed", 1, &sign);

		if (!t) {
			while (s < end && (*s == ' ' || *s == '\t'))
				s++;
			if (s < end)
				return -EINVAL;
			sign = 0;
		}
	}
	if (offset + size > UINT16_MAX)
		return -EINVAL;

	*ret = (struct tracefs_field){
		.name = TAKE_PTR(name),
		.type = TAKE_PTR(type),
		.offset = (unsigned)offset,
		.size = (unsigned)size,
		.is_signed = sign != 0,
	};
	return 0;
}

int tracefs_format_parse(const char *text, struct tracefs_format **ret)
{
	_cleanup_(tracefs_format_freep) struct tracefs_format *f = NULL;
	bool have_id = false, in_format = false, have_format = false;
	const char *line, *next;
	int r;

	if (!text || !ret)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;

	for (line = text; *line; line = next) {
		const char *end = strchrnul(line, '\n'), *s = line;

		next = *end ? end + 1 : end;
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		if (s == end)
			continue;

		if (!in_format) {
			if (strncmp(s, "ID:", 3) == 0) {
				unsigned long id;
				const char *p = s + 3;

				while (p < end && *p == ' ')
					p++;
				p = parse_uint(p, UINT32_MAX, &id);
				if (!p || p != end || have_id)
					return -EINVAL;
				f->id = (unsigned)id;
				have_id = true;
			} else if ((size_t)(end - s) == strlen("format:") &&
				   strncmp(s, "format:", 7) == 0) {
				if (have_format)
					return -EINVAL;
				in_format = have_format = true;
			} else if (strncmp(s, "name:", 5) == 0) {
				/* the event name: the caller knows it already */
			} else if (strncmp(s, "print fmt:", 10) == 0) {
				break;
			} else
				return -EINVAL;
			continue;
		}

		if (strncmp(s, "print fmt:", 10) == 0)
			break;
		if (strncmp(s, "field:", 6) != 0)
			return -EINVAL;

		{
			struct tracefs_field fl;

			r = parse_field_line(s, end, &fl);
			if (r < 0)
				return r;
			if (strncmp(fl.name, "common_", 7) == 0) {
				free(fl.name);
				free(fl.type);
				continue;
			}
			if (f->n_fields >= TRACEFS_FIELDS_MAX) {
				free(fl.name);
				free(fl.type);
				return -E2BIG;
			}
			if ((f->n_fields & (f->n_fields - 1)) == 0) {
				/* grow to the next power of two */
				size_t n = f->n_fields ? f->n_fields * 2 : 8;
				struct tracefs_field *nf = reallocarray(f->fields, n, sizeof(*nf));

				if (!nf) {
					free(fl.name);
					free(fl.type);
					return -ENOMEM;
				}
				f->fields = nf;
			}
			f->fields[f->n_fields++] = fl;
		}
	}

	if (!have_id || !have_format) {
		log_debug("tracefs format without %s.", have_id ? "'format:'" : "'ID:'");
		return -EINVAL;
	}
	*ret = TAKE_PTR(f);
	return 0;
}

static bool valid_component(const char *s)
{
	if (isempty(s) || strlen(s) >= TRACEFS_NAME_MAX || streq(s, ".") || streq(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' || !isprint((unsigned char)*p))
			return false;
	return true;
}

int tracefs_format_read(const char *tracefs, const char *category, const char *name,
			struct tracefs_format **ret)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	_cleanup_close_ int fd = -1;
	size_t size = 0, alloc = 0;

	if (isempty(tracefs) || !ret)
		return -EINVAL;
	if (!valid_component(category) || !valid_component(name))
		return -EINVAL;
	if (asprintf(&path, "%s/events/%s/%s/format", tracefs, category, name) < 0)
		return -ENOMEM;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int r = -errno;

		log_debug("Cannot open '%s': %m", path);
		return r == -ENOTDIR ? -ENOENT : r;
	}
	/* tracefs reports size 0: read until EOF. */
	for (;;) {
		ssize_t n;

		if (alloc - size < 4096) {
			char *nb;

			if (alloc >= TRACEFS_FORMAT_MAX)
				return -EFBIG;
			alloc = alloc ? alloc * 2 : 8192;
			nb = realloc(buf, alloc + 1);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + size, alloc - size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		size += (size_t)n;
	}
	if (!buf)
		return -EINVAL;
	buf[size] = '\0';
	if (strlen(buf) != size)
		return -EINVAL; /* embedded NUL */
	return tracefs_format_parse(buf, ret);
}
