/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "event.h"
#include "policy_compile.h"
#include "record.h"
#include "util/macro.h"

/* Worst case of "arguments": every byte escaped plus quotes and separators. */
#define ARGS_SCRATCH (4 * VIGIL_ARGS_MAX + 64)

/*
 * msgpack is written by hand into a growable buffer rather than through msgpack-c's packer:
 * the packer calls its write callback once per header and once per body (dozens of small
 * msgpack_sbuffer_write() calls per record), while a record is mostly constant keys and
 * strings copied from the process cache. The encodings are the smallest ones, exactly as
 * msgpack-c chooses them (tests decode records with msgpack-c and compare golden bytes).
 */
struct mpw {
	uint8_t *data;
	size_t len, cap;
	bool failed; /* an allocation failed; later writes are dropped */
};

/* The msgpack "process" object of one entry, without its tid value (the only field that depends
 * on the event): data[0, tid_off) precedes it, data[tid_off, size) follows it. */
struct proc_memo {
	int64_t boot_offset_ns; /* start_time depends on it */
	uint32_t tid_off, size;
	uint8_t data[];
};

struct record_encoder {
	struct mpw out;
	struct mpw tmp; /* a process object being built */
	char *node_name;
	size_t node_name_len;
	bool ancestors;
	int64_t boot_offset_ns;
	char *scratch; /* arguments */
	/* record_format_flags() of the last process encoded: most share their flags */
	uint32_t last_flags;
	uint8_t last_flags_len;
	bool last_flags_valid;
	char last_flags_text[160];
};

static void mpw_done(struct mpw *b)
{
	free(b->data);
	*b = (struct mpw){};
}

static __attribute__((noinline)) uint8_t *mpw_grow(struct mpw *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 1024;
	uint8_t *p;

	if (b->failed || n > SIZE_MAX / 4 - b->len)
		goto fail;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		goto fail;
	b->data = p;
	b->cap = cap;
	return b->data + b->len;
fail:
	b->failed = true;
	return NULL;
}

/* Room for n bytes at the end, or NULL after an allocation failure. */
static inline uint8_t *mpw_room(struct mpw *b, size_t n)
{
	if (_likely_(b->cap - b->len >= n))
		return b->data + b->len;
	return mpw_grow(b, n);
}

static inline void mpw_raw(struct mpw *b, const void *p, size_t n)
{
	uint8_t *w = mpw_room(b, n);

	if (!w)
		return;
	if (n)
		memcpy(w, p, n);
	b->len += n;
}

static inline uint8_t *put_be16(uint8_t *w, uint16_t v)
{
	w[0] = (uint8_t)(v >> 8);
	w[1] = (uint8_t)v;
	return w + 2;
}

static inline uint8_t *put_be32(uint8_t *w, uint32_t v)
{
	w[0] = (uint8_t)(v >> 24);
	w[1] = (uint8_t)(v >> 16);
	w[2] = (uint8_t)(v >> 8);
	w[3] = (uint8_t)v;
	return w + 4;
}

static inline uint8_t *put_be64(uint8_t *w, uint64_t v)
{
	w = put_be32(w, (uint32_t)(v >> 32));
	return put_be32(w, (uint32_t)v);
}

static inline void mpw_str(struct mpw *b, const char *s, size_t n)
{
	uint8_t *w = mpw_room(b, n + 5), *w0 = w;

	if (!w)
		return;
	if (n < 32)
		*w++ = (uint8_t)(0xa0 | n);
	else if (n < 256) {
		*w++ = 0xd9;
		*w++ = (uint8_t)n;
	} else if (n < 65536) {
		*w++ = 0xda;
		w = put_be16(w, (uint16_t)n);
	} else {
		*w++ = 0xdb;
		w = put_be32(w, (uint32_t)n);
	}
	if (n)
		memcpy(w, s, n);
	b->len += (size_t)(w - w0) + n;
}

/* A constant key: the compiler turns the header and the copy into a few stores. */
#define mpw_lit(b, lit) mpw_str((b), (lit), sizeof(lit) - 1)

static inline void mpw_cstr(struct mpw *b, const char *s)
{
	mpw_str(b, s, strlen(s));
}

static inline void mpw_uint(struct mpw *b, uint64_t v)
{
	uint8_t *w = mpw_room(b, 9), *w0 = w;

	if (!w)
		return;
	if (v < 128)
		*w++ = (uint8_t)v;
	else if (v < 256) {
		*w++ = 0xcc;
		*w++ = (uint8_t)v;
	} else if (v < 65536) {
		*w++ = 0xcd;
		w = put_be16(w, (uint16_t)v);
	} else if (v <= UINT32_MAX) {
		*w++ = 0xce;
		w = put_be32(w, (uint32_t)v);
	} else {
		*w++ = 0xcf;
		w = put_be64(w, v);
	}
	b->len += (size_t)(w - w0);
}

/* Array (fix 0x90, 16 0xdc, 32 0xdd) or map (fix 0x80, 16 0xde, 32 0xdf) header. */
static inline void mpw_container(struct mpw *b, uint32_t n, uint8_t fix, uint8_t b16)
{
	uint8_t *w = mpw_room(b, 5), *w0 = w;

	if (!w)
		return;
	if (n < 16)
		*w++ = (uint8_t)(fix | n);
	else if (n < 65536) {
		*w++ = b16;
		w = put_be16(w, (uint16_t)n);
	} else {
		*w++ = (uint8_t)(b16 + 1);
		w = put_be32(w, n);
	}
	b->len += (size_t)(w - w0);
}

#define mpw_map(b, n)	mpw_container((b), (n), 0x80, 0xde)
#define mpw_array(b, n) mpw_container((b), (n), 0x90, 0xdc)

static inline void mpw_bool(struct mpw *b, bool v)
{
	uint8_t c = v ? 0xc3 : 0xc2;

	mpw_raw(b, &c, 1);
}

/* msgpack timestamp extension (-1), always the 96-bit form: u32 nsec, s64 sec, big endian. */
static inline void mpw_time(struct mpw *b, int64_t ns)
{
	int64_t sec = ns / (int64_t)NSEC_PER_SEC;
	int64_t rem = ns % (int64_t)NSEC_PER_SEC;
	uint8_t *w = mpw_room(b, 15);

	if (!w)
		return;
	if (rem < 0) {
		rem += NSEC_PER_SEC;
		sec--;
	}
	w[0] = 0xc7; /* ext 8 */
	w[1] = 12;
	w[2] = 0xff;
	put_be32(w + 3, (uint32_t)rem);
	put_be64(w + 7, (uint64_t)sec);
	b->len += 15;
}

int record_encoder_new(const char *node_name, bool ancestors, struct record_encoder **ret)
{
	struct record_encoder *r;
	int k;

	if (!node_name || !ret)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->node_name = strdup(node_name);
	r->node_name_len = strlen(node_name);
	r->ancestors = ancestors;
	r->scratch = malloc(ARGS_SCRATCH);
	if (!r->node_name || !r->scratch) {
		record_encoder_free(r);
		return -ENOMEM;
	}
	k = clock_boot_offset(&r->boot_offset_ns);
	if (k < 0) {
		record_encoder_free(r);
		return k;
	}
	*ret = r;
	return 0;
}

struct record_encoder *record_encoder_free(struct record_encoder *r)
{
	if (!r)
		return NULL;
	mpw_done(&r->out);
	mpw_done(&r->tmp);
	free(r->node_name);
	free(r->scratch);
	free(r);
	return NULL;
}

void record_encoder_set_boot_offset(struct record_encoder *r, int64_t offset_ns)
{
	r->boot_offset_ns = offset_ns;
}

/* ---- formatting helpers ---- */

/* Bytes that make an argument need quotes. */
static const bool arg_special[256] = {
	[' '] = true, ['"'] = true, ['\''] = true, ['\t'] = true, ['\n'] = true, ['\\'] = true,
};

static bool arg_needs_quotes(const char *a, size_t n)
{
	if (n == 0)
		return true; /* keep empty arguments visible */
	for (size_t i = 0; i < n; i++)
		if (arg_special[(uint8_t)a[i]])
			return true;
	return false;
}

#ifdef __SSE2__
/*
 * The common case of record_format_arguments(): no argument is empty or needs quotes, so the
 * result is argv[1..] with the NULs between them turned into spaces. Returns false (nothing
 * written) when that does not hold. Sixteen bytes per step instead of a table lookup per byte.
 */
static bool format_arguments_plain(const char *args, size_t args_len, char *buf, size_t bufsize,
				   size_t *ret)
{
	const char *first = memchr(args, 0, args_len);
	size_t start, end, o = 0;

	if (!first || bufsize == 0)
		return false;
	start = (size_t)(first - args) + 1;
	end = args_len;
	if (end > start && args[end - 1] == 0)
		end--; /* the terminating NUL of the last argument */
	if (start == end) {
		if (args_len > start)
			return false; /* one empty argument */
		buf[0] = 0;
		*ret = 0;
		return true;
	}
	if (args[start] == 0 || args[end - 1] == 0)
		return false; /* an empty first or last argument */

	for (size_t i = start; i < end; i += 16) {
		size_t k = MIN((size_t)16, end - i);
		char tmp[16] = {};
		__m128i v, nul, sp;
		unsigned valid = k == 16 ? 0xffff : (1u << k) - 1, mn, ms;

		if (k == 16)
			v = _mm_loadu_si128((const __m128i *)(args + i));
		else {
			memcpy(tmp, args + i, k);
			v = _mm_loadu_si128((const __m128i *)tmp);
		}
		nul = _mm_cmpeq_epi8(v, _mm_setzero_si128());
		sp = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
				  _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
		sp = _mm_or_si128(sp, _mm_cmpeq_epi8(v, _mm_set1_epi8('\'')));
		sp = _mm_or_si128(sp, _mm_cmpeq_epi8(v, _mm_set1_epi8('\t')));
		sp = _mm_or_si128(sp, _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
		sp = _mm_or_si128(sp, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
		ms = (unsigned)_mm_movemask_epi8(sp) & valid;
		mn = (unsigned)_mm_movemask_epi8(nul) & valid;
		/* two NULs in a row are an empty argument, also across the block boundary */
		if (ms || (mn & (mn >> 1)) || ((mn & 1) && args[i - 1] == 0))
			return false;
		v = _mm_or_si128(v, _mm_and_si128(nul, _mm_set1_epi8(' ')));
		if (k == 16 && o + 16 < bufsize)
			_mm_storeu_si128((__m128i *)(buf + o), v);
		else {
			_mm_storeu_si128((__m128i *)tmp, v);
			memcpy(buf + o, tmp, MIN(k, bufsize - 1 - o));
		}
		o += MIN(k, bufsize - 1 - o);
	}
	buf[o] = 0;
	*ret = o;
	return true;
}
#endif

size_t record_format_arguments(const char *args, size_t args_len, char *buf, size_t bufsize)
{
	size_t o = 0, i = 0, idx = 0;

#ifdef __SSE2__
	if (format_arguments_plain(args, args_len, buf, bufsize, &o))
		return o;
#endif

#define OUT(ch)                                                                                    \
	do {                                                                                       \
		if (o + 1 < bufsize)                                                               \
			buf[o++] = (ch);                                                           \
	} while (0)

	while (i < args_len) {
		const char *a = args + i;
		const char *nul = memchr(a, 0, args_len - i);
		size_t n = nul ? (size_t)(nul - a) : args_len - i;

		if (idx > 0) {
			if (idx > 1)
				OUT(' ');
			if (arg_needs_quotes(a, n)) {
				OUT('"');
				for (size_t j = 0; j < n; j++) {
					if (a[j] == '"' || a[j] == '\\')
						OUT('\\');
					OUT(a[j]);
				}
				OUT('"');
			} else if (o + 1 < bufsize) {
				/* What OUT() would write byte by byte, in one copy. */
				size_t k = MIN(n, bufsize - 1 - o);

				memcpy(buf + o, a, k);
				o += k;
			}
		}
		idx++;
		i += n + 1;
	}
#undef OUT
	if (bufsize)
		buf[o] = 0;
	return o;
}

static const struct {
	uint32_t flag;
	const char *word;
} flag_words[] = {
	{PROC_F_EXECVE, "execve"},
	{PROC_F_PROCFS, "procFS"},
	{PROC_F_CLONE, "clone"},
	{PROC_F_TRUNC_ARGS, "truncArgs"},
	{PROC_F_TRUNC_BINARY, "truncBinary"},
	{PROC_F_TRUNC_CWD, "truncCwd"},
	{PROC_F_ERROR_ARGS, "errorArgs"},
	{PROC_F_ERROR_BINARY, "errorBinary"},
	{PROC_F_ERROR_CWD, "errorCwd"},
	{PROC_F_MISS, "miss"},
	{PROC_F_DELETED_BINARY, "deletedBinary"},
	{PROC_F_DELETED_CWD, "deletedCwd"},
	{PROC_F_DETACHED_BINARY, "detachedBinary"},
	{PROC_F_DETACHED_CWD, "detachedCwd"},
};

size_t record_format_flags(uint32_t flags, char *buf, size_t bufsize)
{
	size_t o = 0;

	if (bufsize == 0)
		return 0;
	buf[0] = 0;
	for (size_t i = 0; i < ELEMENTSOF(flag_words); i++) {
		size_t n;

		if (!(flags & flag_words[i].flag))
			continue;
		n = strlen(flag_words[i].word);
		if (o + (o ? 1 : 0) + n + 1 > bufsize)
			break;
		if (o)
			buf[o++] = ' ';
		memcpy(buf + o, flag_words[i].word, n + 1);
		o += n;
	}
	return o;
}

/* ---- packing ---- */

/*
 * Build p's process object (without the tid value, see struct proc_memo) in r->tmp; returns the
 * offset where tid goes, or -ENOMEM.
 */
static int encode_process(struct record_encoder *r, const struct proc_entry *p)
{
	struct mpw *b = &r->tmp;
	size_t args_len, tid_off;
	bool in_container = p->cg.runtime != CONTAINER_RUNTIME_NONE && p->cg.container_id.len;
	uint32_t n = 10; /* exec_id pid tid uid flags start_time auid creds argv argv_truncated */

	b->len = 0;
	b->failed = false;
	args_len = p->argc > 1
			   ? record_format_arguments(p->args, p->args_len, r->scratch, ARGS_SCRATCH)
			   : 0;
	if (!r->last_flags_valid || r->last_flags != p->flags) {
		r->last_flags_len = (uint8_t)record_format_flags(p->flags, r->last_flags_text,
								 sizeof(r->last_flags_text));
		r->last_flags = p->flags;
		r->last_flags_valid = true;
	}
	n += p->cwd_len > 0;
	n += p->binary_len > 0;
	n += args_len > 0;
	n += in_container * 2; /* docker, container */
	n += p->parent_exec_id_len > 0;
	n += p->cg.unit.len > 0;
	n += p->cg.user_unit.len > 0;
	n += p->cg.slice.len > 0;
	n += p->cgroup_len > 0;
	n += p->cgroup_id != 0;

	mpw_map(b, n);
	mpw_lit(b, "exec_id");
	mpw_str(b, p->exec_id, p->exec_id_len);
	mpw_lit(b, "pid");
	mpw_uint(b, p->pid);
	mpw_lit(b, "tid");
	tid_off = b->len;
	mpw_lit(b, "uid");
	mpw_uint(b, p->euid);
	if (p->cwd_len) {
		mpw_lit(b, "cwd");
		mpw_str(b, p->cwd, p->cwd_len);
	}
	if (p->binary_len) {
		mpw_lit(b, "binary");
		mpw_str(b, p->binary, p->binary_len);
	}
	if (args_len) {
		mpw_lit(b, "arguments");
		mpw_str(b, r->scratch, args_len);
	}
	mpw_lit(b, "flags");
	mpw_str(b, r->last_flags_text, r->last_flags_len);
	mpw_lit(b, "start_time");
	mpw_time(b, (int64_t)p->start_boottime + r->boot_offset_ns);
	mpw_lit(b, "auid");
	mpw_uint(b, p->auid);
	if (in_container) {
		mpw_lit(b, "docker");
		mpw_str(b, p->cgroup + p->cg.container_id.off, MIN(p->cg.container_id.len, 31));
	}
	if (p->parent_exec_id_len) {
		mpw_lit(b, "parent_exec_id");
		mpw_str(b, p->parent_exec_id, p->parent_exec_id_len);
	}
	mpw_lit(b, "process_credentials");
	mpw_map(b, 4);
	mpw_lit(b, "uid");
	mpw_uint(b, p->uid);
	mpw_lit(b, "gid");
	mpw_uint(b, p->gid);
	mpw_lit(b, "euid");
	mpw_uint(b, p->euid);
	mpw_lit(b, "egid");
	mpw_uint(b, p->egid);

	mpw_lit(b, "argv");
	mpw_array(b, p->argc);
	for (size_t i = 0, k = 0; i < p->args_len && k < p->argc; k++) {
		const char *a = p->args + i;
		const char *nul = memchr(a, 0, p->args_len - i);
		size_t l = nul ? (size_t)(nul - a) : p->args_len - i;

		mpw_str(b, a, l);
		i += l + 1;
	}
	mpw_lit(b, "argv_truncated");
	mpw_bool(b, p->argv_truncated);

	if (p->cg.unit.len) {
		mpw_lit(b, "unit");
		mpw_str(b, p->cgroup + p->cg.unit.off, p->cg.unit.len);
	}
	if (p->cg.user_unit.len) {
		mpw_lit(b, "user_unit");
		mpw_str(b, p->cgroup + p->cg.user_unit.off, p->cg.user_unit.len);
	}
	if (p->cg.slice.len) {
		mpw_lit(b, "slice");
		mpw_str(b, p->cgroup + p->cg.slice.off, p->cg.slice.len);
	}
	if (p->cgroup_len) {
		mpw_lit(b, "cgroup");
		mpw_str(b, p->cgroup, p->cgroup_len);
	}
	if (p->cgroup_id) {
		mpw_lit(b, "cgroup_id");
		mpw_uint(b, p->cgroup_id);
	}
	if (in_container) {
		bool pod = p->cg.pod_uid[0] != 0;

		mpw_lit(b, "container");
		mpw_map(b, 2 + pod);
		mpw_lit(b, "id");
		mpw_str(b, p->cgroup + p->cg.container_id.off, p->cg.container_id.len);
		mpw_lit(b, "runtime");
		mpw_cstr(b, container_runtime_to_string(p->cg.runtime));
		if (pod) {
			mpw_lit(b, "pod_uid");
			mpw_cstr(b, p->cg.pod_uid);
		}
	}
	return b->failed ? -ENOMEM : (int)tid_off;
}

/*
 * Append p's process object with @tid to the record. The encoding is taken from p's memo when
 * it is current, else built and (with a cache) memoised on p for the next record about it.
 */
static void pack_process(struct record_encoder *r, struct proc_cache *c, const struct proc_entry *p,
			 uint32_t tid)
{
	const struct proc_memo *m = p->memo;
	const uint8_t *data;
	size_t tid_off, size;
	int k;

	if (m && m->boot_offset_ns == r->boot_offset_ns) {
		data = m->data;
		tid_off = m->tid_off;
		size = m->size;
	} else {
		k = encode_process(r, p);
		if (k < 0) {
			r->out.failed = true;
			return;
		}
		data = r->tmp.data;
		tid_off = (size_t)k;
		size = r->tmp.len;
		if (c) {
			struct proc_memo *nm = malloc(sizeof(*nm) + size);

			/* Without memory for the memo the record is still right, only slower. */
			if (nm) {
				nm->boot_offset_ns = r->boot_offset_ns;
				nm->tid_off = (uint32_t)tid_off;
				nm->size = (uint32_t)size;
				memcpy(nm->data, data, size);
				proc_cache_set_memo(c, p, nm, sizeof(*nm) + size);
			}
		}
	}
	mpw_raw(&r->out, data, tid_off);
	mpw_uint(&r->out, tid);
	mpw_raw(&r->out, data + tid_off, size - tid_off);
}

/*
 * Opens the top-level map and the event map and writes process, parent and ancestors; the
 * caller appends `extra` more keys to the event map, then calls finish().
 */
static void begin_process_event(struct record_encoder *r, const char *key, size_t key_len,
				uint32_t tid, struct proc_cache *c, const struct proc_entry *p,
				uint32_t extra)
{
	const struct proc_entry *anc[RECORD_ANCESTORS_MAX];
	const struct proc_entry *parent = c ? proc_cache_parent(c, p) : NULL;
	struct mpw *b = &r->out;
	size_t n_anc = 0;

	if (r->ancestors && parent) {
		const struct proc_entry *a = parent;

		while (n_anc < RECORD_ANCESTORS_MAX) {
			a = proc_cache_parent(c, a);
			if (!a || a == p)
				break;
			anc[n_anc++] = a;
		}
	}

	b->len = 0;
	b->failed = false;
	mpw_map(b, 3);
	mpw_str(b, key, key_len);
	mpw_map(b, 1 + (parent != NULL) + (n_anc > 0) + extra);
	mpw_lit(b, "process");
	pack_process(r, c, p, tid);
	if (parent) {
		mpw_lit(b, "parent");
		pack_process(r, c, parent, parent->pid);
	}
	if (n_anc > 0) {
		mpw_lit(b, "ancestors");
		mpw_array(b, (uint32_t)n_anc);
		for (size_t i = 0; i < n_anc; i++)
			pack_process(r, c, anc[i], anc[i]->pid);
	}
}

static int finish(struct record_encoder *r, uint64_t time_ns, const uint8_t **ret_data,
		  size_t *ret_size)
{
	struct mpw *b = &r->out;

	mpw_lit(b, "node_name");
	mpw_str(b, r->node_name, r->node_name_len);
	mpw_lit(b, "time");
	mpw_time(b, (int64_t)time_ns);
	if (b->failed)
		return -ENOMEM;
	*ret_data = b->data;
	*ret_size = b->len;
	return 0;
}

int record_encode_exec(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
		       struct proc_cache *c, const struct proc_entry *p, const uint8_t **ret_data,
		       size_t *ret_size)
{
	if (!r || !p)
		return -EINVAL;
	begin_process_event(r, "process_exec", strlen("process_exec"), tid, c, p, 0);
	return finish(r, time_ns, ret_data, ret_size);
}

int record_encode_clone(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
			struct proc_cache *c, const struct proc_entry *p, const uint8_t **ret_data,
			size_t *ret_size)
{
	if (!r || !p)
		return -EINVAL;
	begin_process_event(r, "process_clone", strlen("process_clone"), tid, c, p, 0);
	return finish(r, time_ns, ret_data, ret_size);
}

int record_encode_exit(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
		       struct proc_cache *c, const struct proc_entry *p, uint32_t exit_code,
		       const uint8_t **ret_data, size_t *ret_size)
{
	uint32_t sig = exit_code & 0x7f, status = 0;
	char signame[32] = "";
	size_t signame_len = 0;

	if (!r || !p)
		return -EINVAL;
	if (sig == 0)
		status = (exit_code >> 8) & 0xff;
	else {
		const char *abbrev = sigabbrev_np((int)sig);
		int k;

		if (abbrev)
			k = snprintf(signame, sizeof(signame), "SIG%s", abbrev);
		else
			k = snprintf(signame, sizeof(signame), "SIG%u", sig);
		signame_len = k > 0 ? MIN((size_t)k, sizeof(signame) - 1) : 0;
	}

	begin_process_event(r, "process_exit", strlen("process_exit"), tid, c, p, 3);
	mpw_lit(&r->out, "status");
	mpw_uint(&r->out, status);
	mpw_lit(&r->out, "signal");
	mpw_str(&r->out, signame, signame_len);
	mpw_lit(&r->out, "code");
	mpw_uint(&r->out, exit_code);
	return finish(r, time_ns, ret_data, ret_size);
}

static const char *loss_reason(const char *stage)
{
	if (streq(stage, "kernel"))
		return "ring buffer full";
	if (streq(stage, "decode"))
		return "malformed event";
	if (streq(stage, "queue"))
		return "output queue full";
	if (streq(stage, "spool"))
		return "spool full or not writable";
	if (streq(stage, "output"))
		return "rejected by the sink or not delivered";
	return "";
}

int record_encode_loss(struct record_encoder *r, uint64_t time_ns, const char *stage,
		       const char *output, uint64_t count, uint64_t total, const uint8_t **ret_data,
		       size_t *ret_size)
{
	struct mpw *b;

	if (!r || !stage)
		return -EINVAL;
	b = &r->out;
	b->len = 0;
	b->failed = false;
	mpw_map(b, 3);
	mpw_lit(b, "vigil_loss");
	mpw_map(b, 4 + (output != NULL));
	mpw_lit(b, "stage");
	mpw_cstr(b, stage);
	mpw_lit(b, "count");
	mpw_uint(b, count);
	mpw_lit(b, "total");
	mpw_uint(b, total);
	mpw_lit(b, "reason");
	mpw_cstr(b, loss_reason(stage));
	if (output) {
		mpw_lit(b, "output");
		mpw_cstr(b, output);
	}
	return finish(r, time_ns, ret_data, ret_size);
}

/* ---- policy events ---- */

static inline void mpw_int(struct mpw *b, int64_t v)
{
	uint8_t *w;

	if (v >= 0) {
		mpw_uint(b, (uint64_t)v);
		return;
	}
	/* The smallest signed encoding, as msgpack-c's msgpack_pack_int64(). */
	w = mpw_room(b, 9);
	if (!w)
		return;
	if (v >= -32) {
		w[0] = (uint8_t)(int8_t)v;
		b->len += 1;
	} else if (v >= INT8_MIN) {
		w[0] = 0xd0;
		w[1] = (uint8_t)(int8_t)v;
		b->len += 2;
	} else if (v >= INT16_MIN) {
		w[0] = 0xd1;
		put_be16(w + 1, (uint16_t)(int16_t)v);
		b->len += 3;
	} else if (v >= INT32_MIN) {
		w[0] = 0xd2;
		put_be32(w + 1, (uint32_t)(int32_t)v);
		b->len += 5;
	} else {
		w[0] = 0xd3;
		put_be64(w + 1, (uint64_t)v);
		b->len += 9;
	}
}

static inline void mpw_bin(struct mpw *b, const void *p, size_t n)
{
	uint8_t *w = mpw_room(b, n + 5), *w0 = w;

	if (!w)
		return;
	if (n < 256) {
		*w++ = 0xc4;
		*w++ = (uint8_t)n;
	} else if (n < 65536) {
		*w++ = 0xc5;
		w = put_be16(w, (uint16_t)n);
	} else {
		*w++ = 0xc6;
		w = put_be32(w, (uint32_t)n);
	}
	if (n)
		memcpy(w, p, n);
	b->len += (size_t)(w - w0) + n;
}

/* Names of Tetragon's KprobeAction values for enum vigil_pol_action_type. */
static const char *const action_names[_VIGIL_ACT_MAX] = {
	[VIGIL_ACT_POST] = "KPROBE_ACTION_POST",
	[VIGIL_ACT_NOPOST] = "KPROBE_ACTION_NOPOST",
	[VIGIL_ACT_SIGKILL] = "KPROBE_ACTION_SIGKILL",
	[VIGIL_ACT_SIGNAL] = "KPROBE_ACTION_SIGNAL",
	[VIGIL_ACT_OVERRIDE] = "KPROBE_ACTION_OVERRIDE",
};

/* The event's "action": the strongest one taken. No action bit at all means Post. */
static enum vigil_pol_action_type strongest_action(uint8_t bits)
{
	static const enum vigil_pol_action_type order[] = {VIGIL_ACT_OVERRIDE, VIGIL_ACT_SIGKILL,
							   VIGIL_ACT_SIGNAL, VIGIL_ACT_POST,
							   VIGIL_ACT_NOPOST};

	for (size_t i = 0; i < ELEMENTSOF(order); i++)
		if (bits & (1u << order[i]))
			return order[i];
	return VIGIL_ACT_POST;
}

static uint8_t action_bits(uint8_t bits)
{
	bits &= (uint8_t)(((1u << _VIGIL_ACT_MAX) - 1) & ~1u);
	return bits ? bits : (uint8_t)(1u << VIGIL_ACT_POST);
}

static void format_signal(int sig, char *buf, size_t size)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(buf, size, "SIG%s", abbrev);
	else
		snprintf(buf, size, "SIG%d", sig);
}

static const char *family_name(uint16_t f, char *buf, size_t size)
{
	switch (f) {
	case AF_UNSPEC:
		return "AF_UNSPEC";
	case AF_UNIX:
		return "AF_UNIX";
	case AF_INET:
		return "AF_INET";
	case AF_INET6:
		return "AF_INET6";
	case AF_NETLINK:
		return "AF_NETLINK";
	case AF_PACKET:
		return "AF_PACKET";
	case AF_VSOCK:
		return "AF_VSOCK";
	}
	snprintf(buf, size, "%u", f);
	return buf;
}

static const char *socktype_name(uint16_t t, char *buf, size_t size)
{
	switch (t) {
	case SOCK_STREAM:
		return "SOCK_STREAM";
	case SOCK_DGRAM:
		return "SOCK_DGRAM";
	case SOCK_RAW:
		return "SOCK_RAW";
	case SOCK_RDM:
		return "SOCK_RDM";
	case SOCK_SEQPACKET:
		return "SOCK_SEQPACKET";
	}
	snprintf(buf, size, "%u", t);
	return buf;
}

static const char *protocol_name(uint16_t p, char *buf, size_t size)
{
	switch (p) {
	case IPPROTO_IP:
		return "IPPROTO_IP";
	case IPPROTO_ICMP:
		return "IPPROTO_ICMP";
	case IPPROTO_TCP:
		return "IPPROTO_TCP";
	case IPPROTO_UDP:
		return "IPPROTO_UDP";
	case IPPROTO_ICMPV6:
		return "IPPROTO_ICMPV6";
	case IPPROTO_SCTP:
		return "IPPROTO_SCTP";
	case IPPROTO_UDPLITE:
		return "IPPROTO_UDPLITE";
	case IPPROTO_RAW:
		return "IPPROTO_RAW";
	case IPPROTO_MPTCP:
		return "IPPROTO_MPTCP";
	}
	snprintf(buf, size, "%u", p);
	return buf;
}

/* include/net/tcp_states.h; the kernel's names, as Tetragon reports them. */
static const char *const tcp_states[] = {
	[1] = "TCP_ESTABLISHED",     [2] = "TCP_SYN_SENT",   [3] = "TCP_SYN_RECV",
	[4] = "TCP_FIN_WAIT1",	     [5] = "TCP_FIN_WAIT2",  [6] = "TCP_TIME_WAIT",
	[7] = "TCP_CLOSE",	     [8] = "TCP_CLOSE_WAIT", [9] = "TCP_LAST_ACK",
	[10] = "TCP_LISTEN",	     [11] = "TCP_CLOSING",   [12] = "TCP_NEW_SYN_RECV",
	[13] = "TCP_BOUND_INACTIVE",
};

static const char *tcp_state_name(uint16_t s, char *buf, size_t size)
{
	if (s < ELEMENTSOF(tcp_states) && tcp_states[s])
		return tcp_states[s];
	snprintf(buf, size, "%u", s);
	return buf;
}

/* An address of a sockaddr/sock: IPv4 in the first 4 bytes, IPv6 in all 16. */
static void pack_addr(struct mpw *b, uint16_t family, const uint8_t addr[16])
{
	char text[INET6_ADDRSTRLEN];

	if ((family == AF_INET || family == AF_INET6) &&
	    inet_ntop(family, addr, text, sizeof(text)))
		mpw_cstr(b, text);
	else
		mpw_lit(b, "");
}

static size_t str_len(const uint8_t *p, size_t n)
{
	const uint8_t *nul = memchr(p, 0, n);

	return nul ? (size_t)(nul - p) : n;
}

/* The value of an integer argument: 8 bytes in host order, truncated to @width bytes and sign
 * extended when @is_signed. */
static uint64_t int_value(const uint8_t *data, unsigned width, bool is_signed)
{
	uint64_t v;

	memcpy(&v, data, sizeof(v));
	if (width > 0 && width < 8) {
		unsigned bits = width * 8;

		v &= (1ULL << bits) - 1;
		if (is_signed && (v >> (bits - 1)) & 1)
			v |= ~((1ULL << bits) - 1);
	}
	return v;
}

/* Tetragon: int8..int32 int_arg, uint8..uint32 uint_arg, long/int64 long_arg, ulong/uint64/
 * size_t size_arg. */
static void pack_int(struct mpw *b, uint64_t v, unsigned width, bool is_signed)
{
	if (width == 0 || width > 8)
		width = 8;
	if (is_signed) {
		if (width <= 4)
			mpw_lit(b, "int_arg");
		else
			mpw_lit(b, "long_arg");
		mpw_int(b, (int64_t)v);
	} else {
		if (width <= 4)
			mpw_lit(b, "uint_arg");
		else
			mpw_lit(b, "size_arg");
		mpw_uint(b, v);
	}
}

static void pack_sockaddr(struct mpw *b, const struct event_policy_arg *a)
{
	struct vigil_pol_sockaddr sa;
	char fb[16];

	memcpy(&sa, a->data, sizeof(sa));
	mpw_lit(b, "sockaddr_arg");
	mpw_map(b, 3);
	mpw_lit(b, "family");
	mpw_cstr(b, family_name(sa.family, fb, sizeof(fb)));
	mpw_lit(b, "addr");
	if (sa.family == AF_UNIX) {
		/* sun_path follows; an abstract name (leading NUL) is written with '@' as ss does.
		 */
		const uint8_t *path = a->data + sizeof(sa);
		size_t n = a->len - sizeof(sa);

		if (n > 0 && path[0] == 0) {
			char name[128];
			size_t k = MIN(n - 1, sizeof(name) - 1); /* sun_path is 108 bytes */

			name[0] = '@';
			memcpy(name + 1, path + 1, k);
			mpw_str(b, name, 1 + str_len((const uint8_t *)name + 1, k));
		} else
			mpw_str(b, (const char *)path, str_len(path, n));
	} else
		pack_addr(b, sa.family, sa.addr);
	mpw_lit(b, "port");
	mpw_uint(b, sa.port);
}

static void pack_sock(struct mpw *b, const struct event_policy_arg *a)
{
	struct vigil_pol_sock sk;
	char nb[16];

	memcpy(&sk, a->data, sizeof(sk));
	mpw_lit(b, "sock_arg");
	mpw_map(b, 9);
	mpw_lit(b, "family");
	mpw_cstr(b, family_name(sk.family, nb, sizeof(nb)));
	mpw_lit(b, "type");
	mpw_cstr(b, socktype_name(sk.type, nb, sizeof(nb)));
	mpw_lit(b, "protocol");
	mpw_cstr(b, protocol_name(sk.protocol, nb, sizeof(nb)));
	mpw_lit(b, "saddr");
	pack_addr(b, sk.family, sk.saddr);
	mpw_lit(b, "daddr");
	pack_addr(b, sk.family, sk.daddr);
	mpw_lit(b, "sport");
	mpw_uint(b, sk.sport);
	mpw_lit(b, "dport");
	mpw_uint(b, sk.dport);
	mpw_lit(b, "cookie");
	mpw_uint(b, sk.cookie);
	mpw_lit(b, "state");
	mpw_cstr(b, tcp_state_name(sk.state, nb, sizeof(nb)));
}

/*
 * One argument object: its typed key, then "label" and vigil's flags. @meta may be NULL (an
 * argument the hook description does not cover: integers are then shown as unsigned 64 bit).
 */
static void pack_arg(struct mpw *b, const struct event_policy_arg *a,
		     const struct compiled_arg_meta *meta)
{
	bool trunc = a->flags & VIGIL_PARG_F_TRUNC, err = a->flags & VIGIL_PARG_F_ERROR;
	bool del = a->flags & VIGIL_PARG_F_DELETED, det = a->flags & VIGIL_PARG_F_DETACHED;
	bool rel = a->flags & VIGIL_PARG_F_RELATIVE;
	bool label = meta && meta->label;

	mpw_map(b, 1 + label + trunc + err + del + det + rel);
	switch (a->type) {
	case VIGIL_ARG_INT: {
		bool sgn = meta && meta->type == POLICY_ARG_INT ? meta->int_signed : false;
		unsigned width = meta && meta->type == POLICY_ARG_INT ? meta->int_width : 8;

		pack_int(b, int_value(a->data, width, sgn), width, sgn);
		break;
	}
	case VIGIL_ARG_CHAR_BUF:
		mpw_lit(b, "bytes_arg");
		mpw_bin(b, a->data, a->len);
		break;
	case VIGIL_ARG_FD:
		mpw_lit(b, "file_arg");
		mpw_map(b, 1);
		mpw_lit(b, "path");
		mpw_str(b, (const char *)a->data, str_len(a->data, a->len));
		break;
	case VIGIL_ARG_SOCKADDR:
		pack_sockaddr(b, a);
		break;
	case VIGIL_ARG_SOCK:
		pack_sock(b, a);
		break;
	default: /* STRING, FILENAME, DATALOC, INLINE_STR */
		mpw_lit(b, "string_arg");
		mpw_str(b, (const char *)a->data, str_len(a->data, a->len));
		break;
	}
	if (label) {
		mpw_lit(b, "label");
		mpw_cstr(b, meta->label);
	}
	if (trunc) {
		mpw_lit(b, "truncated");
		mpw_bool(b, true);
	}
	if (err) {
		mpw_lit(b, "error");
		mpw_bool(b, true);
	}
	if (del) {
		mpw_lit(b, "deleted");
		mpw_bool(b, true);
	}
	if (det) {
		mpw_lit(b, "detached");
		mpw_bool(b, true);
	}
	if (rel) {
		mpw_lit(b, "relative");
		mpw_bool(b, true);
	}
}

/* "return": the typed return argument, else the raw return value as an integer of the
 * returnArg's type (a signed 64-bit long_arg without one). */
static void pack_return(struct mpw *b, const struct compiled_hook *h, const struct event_policy *e)
{
	/* Without returnArg the return value is a signed long, as the syscall returns it. */
	static const struct compiled_arg_meta long_ret = {
		.type = POLICY_ARG_INT,
		.int_signed = true,
		.int_width = 8,
	};
	const struct compiled_arg_meta *meta = h->has_return_arg ? &h->return_arg : &long_ret;
	bool sgn = true;
	unsigned width = 8;
	bool label = meta && meta->label;

	if (e->ret_arg.type != VIGIL_ARG_NONE) {
		pack_arg(b, &e->ret_arg, meta);
		return;
	}
	if (meta && meta->type == POLICY_ARG_INT) {
		sgn = meta->int_signed;
		width = meta->int_width;
	}
	mpw_map(b, 1 + label);
	pack_int(b, int_value((const uint8_t *)&e->ev->ret, width, sgn), width, sgn);
	if (label) {
		mpw_lit(b, "label");
		mpw_cstr(b, meta->label);
	}
}

/*
 * Arguments the compiler added for the kernel's own use (a length or a dirfd the policy did not
 * list, VIGIL_ARG_F_NO_CAPTURE) are not part of the record: Tetragon's args are the policy's.
 */
static bool arg_is_shown(const struct compiled_hook *h, const struct event_policy *e, unsigned i)
{
	return e->args[i].type != VIGIL_ARG_NONE &&
	       !(h->bpf.args[i].flags & VIGIL_ARG_F_NO_CAPTURE);
}

int record_encode_policy(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
			 struct proc_cache *c, const struct proc_entry *p,
			 const struct compiled_hook *h, const char *policy_name,
			 const struct event_policy *e, const uint8_t **ret_data, size_t *ret_size)
{
	const struct vigil_policy_event *ev;
	bool kprobe, ret, message, tags, sig, act_err;
	uint8_t bits;
	uint32_t n_args = 0, n_tags = 0, extra;
	struct mpw *b;
	char signame[32];

	if (!r || !p || !h || !e || !e->ev || !policy_name)
		return -EINVAL;
	ev = e->ev;
	if (ev->n_args > VIGIL_POL_MAX_ARGS)
		return -EINVAL;
	kprobe = h->kind != POLICY_HOOK_TRACEPOINT;
	ret = kprobe && (ev->flags & VIGIL_POLEV_F_RETURN);
	message = h->message && h->message[0];
	tags = h->tags && h->tags[0];
	sig = ev->signal != 0;
	act_err = ev->action_err != 0;
	bits = action_bits(ev->actions);
	for (unsigned i = 0; i < ev->n_args; i++)
		n_args += arg_is_shown(h, e, i);
	if (tags)
		while (h->tags[n_tags])
			n_tags++;

	/* function_name | subsys event; args, [return], action, policy_name, [message], [tags],
	 * actions, [signal], [action_error] */
	extra = (kprobe ? 1 : 2) + 1 + ret + 1 + 1 + message + tags + 1 + sig + act_err;
	if (kprobe)
		begin_process_event(r, "process_kprobe", strlen("process_kprobe"), tid, c, p,
				    extra);
	else
		begin_process_event(r, "process_tracepoint", strlen("process_tracepoint"), tid, c,
				    p, extra);
	b = &r->out;
	if (kprobe) {
		mpw_lit(b, "function_name");
		mpw_cstr(b, strempty(h->function_name));
	} else {
		mpw_lit(b, "subsys");
		mpw_cstr(b, strempty(h->subsys));
		mpw_lit(b, "event");
		mpw_cstr(b, strempty(h->event));
	}
	mpw_lit(b, "args");
	mpw_array(b, n_args);
	for (unsigned i = 0; i < ev->n_args; i++)
		if (arg_is_shown(h, e, i))
			pack_arg(b, &e->args[i], &h->args[i]);
	if (ret) {
		mpw_lit(b, "return");
		pack_return(b, h, e);
	}
	mpw_lit(b, "action");
	mpw_cstr(b, action_names[strongest_action(bits)]);
	mpw_lit(b, "policy_name");
	mpw_cstr(b, policy_name);
	if (message) {
		mpw_lit(b, "message");
		mpw_cstr(b, h->message);
	}
	if (tags) {
		mpw_lit(b, "tags");
		mpw_array(b, n_tags);
		for (uint32_t i = 0; i < n_tags; i++)
			mpw_cstr(b, h->tags[i]);
	}
	mpw_lit(b, "actions");
	mpw_array(b, (uint32_t)__builtin_popcount(bits));
	for (unsigned a = VIGIL_ACT_POST; a < _VIGIL_ACT_MAX; a++)
		if (bits & (1u << a))
			mpw_cstr(b, action_names[a]);
	if (sig) {
		format_signal(ev->signal, signame, sizeof(signame));
		mpw_lit(b, "signal");
		mpw_cstr(b, signame);
	}
	if (act_err) {
		mpw_lit(b, "action_error");
		mpw_int(b, ev->action_err);
	}
	return finish(r, time_ns, ret_data, ret_size);
}
