/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * filter_redact: mask the parts of argv entries that match configured POSIX extended regexes,
 * each entry matched on its own, and rebuild `arguments` from the redacted argv. With a capture
 * group only group 1 is replaced (--password=(.*) → --password=***), else the whole match. The
 * record is re-encoded byte for byte except for the rewritten strings, so key order and everything
 * else stay as they were.
 */
#include <regex.h>
#include <stdio.h>
#include <syslog.h>
#include <vigil/plugin.h>

#include "common/json.h"
#include "common/record_view.h"
#include "util/macro.h"

struct redact {
	const struct vigil_host *host;
	regex_t *re;
	size_t n_re;
	char *replacement;
	/* One rewrite: the str object at [off, off+len) becomes @text. */
	struct edit {
		size_t off, len, text_off, text_len;
	} * edits;
	size_t n_edits, cap_edits;
	struct vbuf texts; /* replacement strings back to back */
	struct vbuf scratch;
	struct vbuf args; /* `arguments` rebuilt from the redacted argv */
};

static const char *const redact_keys[] = {"Pattern", "Replacement", NULL};

static void redact_free(struct redact *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_re; i++)
		regfree(&f->re[i]);
	free(f->re);
	free(f->replacement);
	free(f->edits);
	vbuf_done(&f->texts);
	vbuf_done(&f->scratch);
	vbuf_done(&f->args);
	free(f);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct redact *, redact_free)

static int redact_init(const struct vigil_host *host, void **ret)
{
	_cleanup_(redact_freep) struct redact *f = NULL;
	const char *const *pats;
	const char *v;
	size_t n = 0;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->host = host;
	v = host->cfg_get(host, "Redact", "Replacement");
	f->replacement = strdup(v ?: "***");
	if (!f->replacement)
		return -ENOMEM;

	pats = host->cfg_get_list(host, "Redact", "Pattern");
	while (pats && pats[n])
		n++;
	if (n == 0)
		return host->log(host, LOG_ERR, EINVAL, "[Redact] needs at least one Pattern=");
	f->re = calloc(n, sizeof(regex_t));
	if (!f->re)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int e = regcomp(&f->re[i], pats[i], REG_EXTENDED);
		if (e != 0) {
			char msg[256];

			regerror(e, &f->re[i], msg, sizeof(msg));
			/* cfg_location names the last assignment; name the pattern too. */
			return host->log(
				host, LOG_ERR, EINVAL,
				"%s: [Redact] Pattern='%s' is not a valid extended regex: %s",
				strempty(host->cfg_location(host, "Redact", "Pattern")), pats[i],
				msg);
		}
		f->n_re++;
	}
	*ret = TAKE_PTR(f);
	return 0;
}

/* Apply every pattern to @s; when something matched, record an edit for the str object at
 * @obj_off (@obj_len bytes). */
static int redact_string(struct redact *f, const char *s, size_t n, size_t obj_off, size_t obj_len)
{
	bool changed = false;
	int r;

	f->scratch.len = 0;
	r = vbuf_append(&f->scratch, s, n);
	r = r ?: vbuf_putc(&f->scratch, '\0');
	if (r < 0)
		return r;
	if (memchr(s, '\0', n))
		return 0; /* argv entries never hold NUL; leave anything odd alone */

	for (size_t p = 0; p < f->n_re; p++) {
		struct vbuf out = {};
		size_t pos = 0, len = f->scratch.len - 1;
		const char *cur = f->scratch.data;
		bool matched = false;

		while (pos <= len) {
			regmatch_t m[2];
			size_t ms, me, so, eo;

			if (regexec(&f->re[p], cur + pos, 2, m, pos > 0 ? REG_NOTBOL : 0) != 0)
				break;
			matched = true;
			ms = pos + (size_t)m[0].rm_so;
			me = pos + (size_t)m[0].rm_eo;
			if (f->re[p].re_nsub >= 1 && m[1].rm_so >= 0) {
				so = pos + (size_t)m[1].rm_so;
				eo = pos + (size_t)m[1].rm_eo;
			} else {
				so = ms;
				eo = me;
			}
			r = vbuf_append(&out, cur + pos, so - pos);
			/* An empty span hides nothing: no replacement text for it. */
			if (r == 0 && eo > so) {
				r = vbuf_append_str(&out, f->replacement);
				changed = true;
			}
			r = r ?: vbuf_append(&out, cur + eo, me - eo);
			if (r == 0 && me == ms) {
				/* Empty match: copy one byte and move on. */
				if (me < len)
					r = vbuf_putc(&out, cur[me]);
				pos = me + 1;
			} else
				pos = me;
			if (r < 0) {
				vbuf_done(&out);
				return r;
			}
		}
		if (matched) {
			if (pos < len)
				r = vbuf_append(&out, cur + pos, len - pos);
			r = r ?: vbuf_putc(&out, '\0');
			if (r < 0) {
				vbuf_done(&out);
				return r;
			}
			vbuf_done(&f->scratch);
			f->scratch = out;
		}
	}
	if (!changed)
		return 0;

	if (f->n_edits == f->cap_edits) {
		size_t cap = f->cap_edits ? f->cap_edits * 2 : 16;
		struct edit *e = realloc(f->edits, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		f->edits = e;
		f->cap_edits = cap;
	}
	f->edits[f->n_edits++] = (struct edit){.off = obj_off,
					       .len = obj_len,
					       .text_off = f->texts.len,
					       .text_len = f->scratch.len - 1};
	return vbuf_append(&f->texts, f->scratch.data, f->scratch.len - 1);
}

/*
 * Append one argument to @b as record_format_arguments() (daemon/record.c) writes it into
 * `arguments` (docs/event-schema.md): an argument that is empty or holds a space, tab, newline,
 * `"`, `'` or `\` is wrapped in double quotes, with `"` and `\` escaped by a backslash.
 */
static int args_append(struct vbuf *b, const char *a, size_t n, bool first)
{
	bool quote = n == 0;
	int r = first ? 0 : vbuf_putc(b, ' ');

	for (size_t i = 0; i < n && !quote; i++)
		quote = strchr(" \t\n\"'\\", a[i]) && a[i] != '\0';
	if (r < 0 || !quote)
		return r ?: vbuf_append(b, a, n);
	r = vbuf_putc(b, '"');
	for (size_t i = 0; i < n && r == 0; i++) {
		if (a[i] == '"' || a[i] == '\\')
			r = vbuf_putc(b, '\\');
		r = r ?: vbuf_putc(b, a[i]);
	}
	return r ?: vbuf_putc(b, '"');
}

/*
 * Walk a process map. Each argv entry is matched on its own, so a pattern never runs from one
 * argument into the next. When one changed, `arguments` is rebuilt from the redacted argv (not
 * matched separately: the flattened string cannot tell "a b" from "a" "b").
 */
static int redact_process(struct redact *f, const uint8_t *base, struct mp_span proc)
{
	struct mp_span v;
	struct mp_cursor c;
	struct mp_obj o;
	size_t first_edit = f->n_edits, idx = 0;
	int r;

	f->args.len = 0;
	if (rv_find(proc, "argv", &v) >= 0) {
		struct rv_iter it;
		struct mp_span el;

		if (rv_array_open(v, &it) >= 0)
			while (rv_array_next(&it, &el) >= 0) {
				size_t before = f->n_edits;
				const char *text;
				size_t len;

				c = mp_cursor_make(el.data, el.size);
				if (mp_read(&c, &o) < 0 || o.type != MP_STR)
					return -EBADMSG; /* fail closed: the host drops it */
				r = redact_string(f, (const char *)o.ptr, o.len,
						  (size_t)(el.data - base), el.size);
				if (r < 0)
					return r;
				text = (const char *)o.ptr;
				len = o.len;
				if (f->n_edits > before) {
					text = f->texts.data + f->edits[before].text_off;
					len = f->edits[before].text_len;
				}
				if (idx++ > 0) {
					r = args_append(&f->args, text, len, idx == 2);
					if (r < 0)
						return r;
				}
			}
	}
	if (f->n_edits == first_edit)
		return 0;
	if (rv_find(proc, "arguments", &v) >= 0) {
		c = mp_cursor_make(v.data, v.size);
		if (mp_read(&c, &o) < 0 || o.type != MP_STR)
			return -EBADMSG;
		if (f->n_edits == f->cap_edits) {
			size_t cap = f->cap_edits * 2;
			struct edit *e = realloc(f->edits, cap * sizeof(*e));

			if (!e)
				return -ENOMEM;
			f->edits = e;
			f->cap_edits = cap;
		}
		f->edits[f->n_edits++] = (struct edit){.off = (size_t)(v.data - base),
						       .len = v.size,
						       .text_off = f->texts.len,
						       .text_len = f->args.len};
		r = vbuf_append(&f->texts, f->args.data, f->args.len);
		if (r < 0)
			return r;
	}
	return 0;
}

static int edit_cmp(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int put(struct vigil_buf *out, const void *p, size_t n)
{
	uint8_t *w = out->reserve(out, n);

	if (!w)
		return -ENOMEM;
	memcpy(w, p, n);
	out->size += n;
	return 0;
}

static int put_str_header(struct vigil_buf *out, size_t n)
{
	uint8_t h[5];
	size_t hl;

	if (n < 32) {
		h[0] = (uint8_t)(0xa0 | n);
		hl = 1;
	} else if (n < 256) {
		h[0] = 0xd9;
		h[1] = (uint8_t)n;
		hl = 2;
	} else if (n < 65536) {
		h[0] = 0xda;
		h[1] = (uint8_t)(n >> 8);
		h[2] = (uint8_t)n;
		hl = 3;
	} else if (n <= UINT32_MAX) {
		h[0] = 0xdb;
		h[1] = (uint8_t)(n >> 24);
		h[2] = (uint8_t)(n >> 16);
		h[3] = (uint8_t)(n >> 8);
		h[4] = (uint8_t)n;
		hl = 5;
	} else
		return -E2BIG;
	return put(out, h, hl);
}

static int redact_filter(void *instance, const struct vigil_record *in, struct vigil_buf *out)
{
	struct redact *f = instance;
	struct mp_span rec = {in->data, in->size}, body, v;
	const char *key;
	size_t klen, pos = 0;
	uint32_t type;
	int r;

	f->n_edits = 0;
	f->texts.len = 0;

	r = rv_event(in->data, in->size, &key, &klen, &body);
	if (r < 0)
		return r;
	type = rv_event_type(key, klen);
	if (type != VIGIL_RECORD_PROCESS_EXEC && type != VIGIL_RECORD_PROCESS_EXIT &&
	    type != VIGIL_RECORD_PROCESS_CLONE)
		return VIGIL_FILTER_PASS;

	static const char *const procs[] = {"process", "parent"};
	for (size_t i = 0; i < ELEMENTSOF(procs); i++)
		if (rv_find(body, procs[i], &v) >= 0) {
			r = redact_process(f, in->data, v);
			if (r < 0)
				return r;
		}
	if (rv_find(body, "ancestors", &v) >= 0) {
		struct rv_iter it;
		struct mp_span el;

		if (rv_array_open(v, &it) >= 0)
			while (rv_array_next(&it, &el) >= 0) {
				r = redact_process(f, in->data, el);
				if (r < 0)
					return r;
			}
	}
	if (f->n_edits == 0)
		return VIGIL_FILTER_PASS;

	/* Edits were found in walk order, which is not always byte order (argv vs arguments). */
	qsort(f->edits, f->n_edits, sizeof(*f->edits), edit_cmp);
	(void)rec;
	for (size_t i = 0; i < f->n_edits; i++) {
		const struct edit *e = &f->edits[i];

		r = put(out, in->data + pos, e->off - pos);
		r = r ?: put_str_header(out, e->text_len);
		r = r ?: put(out, f->texts.data + e->text_off, e->text_len);
		if (r < 0)
			return r;
		pos = e->off + e->len;
	}
	r = put(out, in->data + pos, in->size - pos);
	if (r < 0)
		return r;
	return VIGIL_FILTER_REPLACE;
}

static void redact_fini(void *instance)
{
	redact_free(instance);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_FILTER, .name = "redact",
		    .description = "Mask argv values matching regexes", .section = "Redact",
		    .keys = redact_keys, .init = redact_init, .filter = redact_filter,
		    .fini = redact_fini);
